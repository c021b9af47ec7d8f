//! Applying one import request: one `BEGIN IMMEDIATE` transaction, committed
//! only if every record is accepted.
//!
//! Per record, by `id` (ids are global: a record never moves to another tenant):
//!
//! | mode     | new id   | id of this tenant                    | id of another tenant |
//! |----------|----------|--------------------------------------|----------------------|
//! | `ignore` | inserted | kept as stored                       | 409                  |
//! | `fail`   | inserted | 409                                  | 409                  |
//! | `update` | inserted | overwritten                          | 409                  |
//!
//! Under `update` a user that already existed comes with all its
//! sub-records: its stored credentials, identifiers and addresses are deleted
//! before the request's are written, so the request's entries are the user's
//! full set afterwards.
//!
//! An identifier whose `(pool, type, identifier_lc)` is already used by
//! another record is a 409 in every mode (the unique index says so). A
//! sub-record's `user_id` must name a user of the request or a stored user
//! of the tenant, in the sub-record's pool.
//!
//! Several queued requests may share one transaction, each in its own
//! savepoint ([`apply_group`]).
//!
//! Statements are prepared once per request from the connection's statement
//! cache and reused for every record.

use std::collections::HashMap;

use rusqlite::{
    params, CachedStatement, Connection, OptionalExtension, Transaction, TransactionBehavior,
};
use uuid::Uuid;

use super::columns::{
    address_status, contact_method, credential_state, credential_type, json, opt_json, opt_time,
    time,
};
use super::{ApplyError, ImportOutcome};
use crate::contract::records::{
    ImportMode, Pool, User, UserCredential, UserIdentifier, UserVerifiableAddress,
};
use crate::server::rejection::{RecordRef, Rejection, RejectionKind};
use crate::server::validate::{
    pool_id, ValidBatch, ADDRESSES, CREDENTIALS, IDENTIFIERS, POOLS, USERS,
};

/// Applies a validated batch for `tenant` in one transaction.
pub fn apply(
    conn: &mut rusqlite::Connection,
    tenant: &str,
    batch: &ValidBatch,
    mode: ImportMode,
) -> Result<ImportOutcome, ApplyError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcome = write_batch(&tx, tenant, batch, mode)?;
    tx.commit()?;
    Ok(outcome)
}

/// Applies several batches in one transaction, each in its own savepoint:
/// a batch that is refused (or fails) is rolled back alone, the others are
/// committed together. Returns one result per batch, in order; if the
/// commit itself fails, every batch fails.
///
/// This is the group commit of the writer: the requests that queued up while
/// the previous transaction ran share one commit, so the pages they dirty
/// (random ids spread every insert over the whole index) are written to the
/// WAL once per group instead of once per request.
pub fn apply_group(
    conn: &mut rusqlite::Connection,
    jobs: &[(&str, &ValidBatch, ImportMode)],
) -> Vec<Result<ImportOutcome, ApplyError>> {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => return jobs.iter().map(|_| Err(commit_failed(&err))).collect(),
    };
    let mut results = Vec::with_capacity(jobs.len());
    for (tenant, batch, mode) in jobs {
        results.push(in_savepoint(&mut tx, tenant, batch, *mode));
    }
    if let Err(err) = tx.commit() {
        return jobs.iter().map(|_| Err(commit_failed(&err))).collect();
    }
    results
}

/// One batch of a group, in a savepoint released on success and rolled back otherwise.
fn in_savepoint(
    tx: &mut Transaction<'_>,
    tenant: &str,
    batch: &ValidBatch,
    mode: ImportMode,
) -> Result<ImportOutcome, ApplyError> {
    let savepoint = tx.savepoint()?;
    // Dropping the savepoint on the error path rolls it back.
    let outcome = write_batch(&savepoint, tenant, batch, mode)?;
    savepoint.commit()?;
    Ok(outcome)
}

/// The failure every batch of a group gets when the group cannot commit.
fn commit_failed(err: &rusqlite::Error) -> ApplyError {
    ApplyError::Store(super::StoreError::Io(std::io::Error::other(format!(
        "the transaction could not commit: {err}"
    ))))
}

/// Writes one batch inside an open transaction (or savepoint) on `conn`.
fn write_batch(
    conn: &Connection,
    tenant: &str,
    batch: &ValidBatch,
    mode: ImportMode,
) -> Result<ImportOutcome, ApplyError> {
    let mut writer = Writer {
        tx: conn,
        tenant,
        mode,
        user_pools: HashMap::with_capacity(batch.body.users.len()),
        outcome: ImportOutcome::default(),
    };
    let body = &batch.body;
    writer.pools(&body.pools)?;
    writer.check_pools_exist(&batch.pools_used)?;
    writer.users(&body.users)?;
    writer.sub_records(&body.user_credentials)?;
    writer.sub_records(&body.user_identifiers)?;
    writer.sub_records(&body.user_verifiable_addresses)?;
    Ok(writer.outcome)
}

/// The state of one request's transaction.
struct Writer<'t> {
    /// The open transaction; statements borrow it.
    tx: &'t Connection,
    /// The URL's tenant; every record was checked to name it.
    tenant: &'t str,
    /// What to do with records that exist.
    mode: ImportMode,
    /// Pool of every user known in this request, as stored: saves a lookup
    /// per sub-record.
    user_pools: HashMap<Uuid, String>,
    /// What was written, for the answer and the metrics.
    outcome: ImportOutcome,
}

const POOL_EXISTS: &str = "SELECT 1 FROM pools WHERE tenant_id = ?1 AND id = ?2";
const POOL_INSERT: &str = "INSERT INTO pools (tenant_id, id, name, doc) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (tenant_id, id) DO NOTHING";
const POOL_UPSERT: &str = "INSERT INTO pools (tenant_id, id, name, doc) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, doc = excluded.doc";

const USER_LOOKUP: &str = "SELECT tenant_id, user_pool_id FROM users WHERE id = ?1";
const USER_INSERT: &str = "INSERT INTO users (id, tenant_id, user_pool_id, status, payload,
    payload_schema_id, metadata, metadata_schema_id, business_metadata, created_at, updated_at,
    status_updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
    ON CONFLICT (id) DO NOTHING";
const USER_UPDATE: &str = "UPDATE users SET user_pool_id = ?3, status = ?4, payload = ?5,
    payload_schema_id = ?6, metadata = ?7, metadata_schema_id = ?8, business_metadata = ?9,
    created_at = ?10, updated_at = ?11, status_updated_at = ?12
    WHERE id = ?1 AND tenant_id = ?2";
const DELETE_SUB_RECORDS: [&str; 3] = [
    "DELETE FROM user_credentials WHERE user_id = ?1",
    "DELETE FROM user_identifiers WHERE user_id = ?1",
    "DELETE FROM user_verifiable_addresses WHERE user_id = ?1",
];

impl Writer<'_> {
    fn pools(&mut self, pools: &[Pool]) -> Result<(), ApplyError> {
        if pools.is_empty() {
            return Ok(());
        }
        let sql = if self.mode == ImportMode::Update {
            POOL_UPSERT
        } else {
            POOL_INSERT
        };
        let mut insert = self.tx.prepare_cached(sql)?;
        for (i, pool) in pools.iter().enumerate() {
            let id = pool_id(pool);
            let mut stored = pool.clone();
            stored.id = Some(id.to_owned());
            let doc = json(&stored)?;
            let changed = insert.execute(params![self.tenant, id, pool.name, doc])?;
            if changed == 0 && self.mode == ImportMode::Fail {
                return Err(exists(RecordRef::new(POOLS, i, id)).into());
            }
            self.outcome.written.pools += changed;
        }
        Ok(())
    }

    fn check_pools_exist(&mut self, used: &[(String, RecordRef)]) -> Result<(), ApplyError> {
        let mut exists = self.tx.prepare_cached(POOL_EXISTS)?;
        for (pool, first_use) in used {
            if !exists.exists(params![self.tenant, pool])? {
                return Err(Rejection::field(
                    RejectionKind::UnknownPool,
                    first_use.clone(),
                    "user_pool_id",
                    "names a pool that does not exist in the tenant",
                )
                .into());
            }
        }
        Ok(())
    }

    fn users(&mut self, users: &[User]) -> Result<(), ApplyError> {
        let mut stmts = UserStatements {
            insert: self.tx.prepare_cached(USER_INSERT)?,
            lookup: self.tx.prepare_cached(USER_LOOKUP)?,
        };
        for (i, user) in users.iter().enumerate() {
            let at = || RecordRef::new(USERS, i, user.id);
            let values = user_params(user)?;
            let stored = match self.mode {
                ImportMode::Update => self.update_user(&mut stmts, user, &values, at)?,
                ImportMode::Ignore | ImportMode::Fail => {
                    let changed = stmts.insert.execute(values.as_params())?;
                    if changed == 1 {
                        None
                    } else if self.mode == ImportMode::Fail {
                        return Err(exists(at()).into());
                    } else {
                        Some(self.stored_user(&mut stmts.lookup, user.id, at)?)
                    }
                }
            };
            let pool = match stored {
                Some(pool) => {
                    self.outcome.users_existing += 1;
                    pool
                }
                None => {
                    self.outcome.written.users += 1;
                    user.user_pool_id.clone()
                }
            };
            self.user_pools.insert(user.id, pool);
        }
        Ok(())
    }

    /// Under `update`: inserts a new user, or overwrites a stored one and
    /// drops its sub-records. Returns the new pool when the user existed.
    fn update_user(
        &mut self,
        stmts: &mut UserStatements<'_>,
        user: &User,
        values: &UserParams<'_>,
        at: impl Fn() -> RecordRef,
    ) -> Result<Option<String>, ApplyError> {
        match lookup_user(&mut stmts.lookup, user.id)? {
            None => {
                stmts.insert.execute(values.as_params())?;
                Ok(None)
            }
            Some((tenant, _)) if tenant != self.tenant => Err(other_tenant(at()).into()),
            Some(_) => {
                self.tx
                    .prepare_cached(USER_UPDATE)?
                    .execute(values.as_params())?;
                for sql in DELETE_SUB_RECORDS {
                    self.tx
                        .prepare_cached(sql)?
                        .execute(params![&user.id.as_bytes()[..]])?;
                }
                self.outcome.written.users += 1;
                Ok(Some(user.user_pool_id.clone()))
            }
        }
    }

    /// Under `ignore`, for a user whose insert did nothing: the stored pool,
    /// or a 409 when the id belongs to another tenant.
    fn stored_user(
        &self,
        lookup: &mut CachedStatement<'_>,
        id: Uuid,
        at: impl Fn() -> RecordRef,
    ) -> Result<String, ApplyError> {
        match lookup_user(lookup, id)? {
            Some((tenant, pool)) if tenant == self.tenant => Ok(pool),
            _ => Err(other_tenant(at()).into()),
        }
    }

    fn sub_records<R: SubRecord>(&mut self, records: &[R]) -> Result<(), ApplyError> {
        if records.is_empty() {
            return Ok(());
        }
        let sql = if self.mode == ImportMode::Update {
            R::UPSERT
        } else {
            R::INSERT
        };
        let mut insert = self.tx.prepare_cached(sql)?;
        let mut lookup = self.tx.prepare_cached(USER_LOOKUP)?;
        let mut tenant_of = self.tx.prepare_cached(R::TENANT_OF)?;
        for (i, record) in records.iter().enumerate() {
            let at = || RecordRef::new(R::ARRAY, i, record.id());
            self.check_link(&mut lookup, record, at)?;
            let changed = match record.insert(&mut insert) {
                Ok(changed) => changed,
                Err(err) if is_unique_violation(&err) => {
                    return Err(record.taken(self.tx, at())?.into())
                }
                Err(err) => return Err(err.into()),
            };
            if changed == 0 {
                self.existing_sub_record(&mut tenant_of, record.id(), at)?;
            } else {
                R::count(&mut self.outcome);
            }
        }
        Ok(())
    }

    /// An insert that did nothing (or an upsert whose tenant guard refused):
    /// fine under `ignore`, a 409 under `fail` or for another tenant's id.
    fn existing_sub_record(
        &self,
        tenant_of: &mut CachedStatement<'_>,
        id: Uuid,
        at: impl Fn() -> RecordRef,
    ) -> Result<(), ApplyError> {
        if self.mode == ImportMode::Fail {
            return Err(exists(at()).into());
        }
        let tenant: Option<String> = tenant_of
            .query_row(params![&id.as_bytes()[..]], |row| row.get(0))
            .optional()?;
        match tenant {
            Some(tenant) if tenant == self.tenant && self.mode == ImportMode::Ignore => Ok(()),
            _ => Err(other_tenant(at()).into()),
        }
    }

    /// `user_id` names a user of the request or of the tenant, in the record's pool.
    fn check_link<R: SubRecord>(
        &mut self,
        lookup: &mut CachedStatement<'_>,
        record: &R,
        at: impl Fn() -> RecordRef,
    ) -> Result<(), ApplyError> {
        let user_id = record.user_id();
        if !self.user_pools.contains_key(&user_id) {
            match lookup_user(lookup, user_id)? {
                Some((tenant, pool)) if tenant == self.tenant => {
                    self.user_pools.insert(user_id, pool);
                }
                _ => {
                    return Err(Rejection::field(
                        RejectionKind::Invalid,
                        at(),
                        "user_id",
                        "names no user of this request or of the tenant",
                    )
                    .into())
                }
            }
        }
        match self.user_pools.get(&user_id) {
            Some(pool) if pool == record.pool() => Ok(()),
            _ => Err(Rejection::field(
                RejectionKind::Invalid,
                at(),
                "user_pool_id",
                "differs from the pool its user is stored in",
            )
            .into()),
        }
    }
}

fn lookup_user(
    lookup: &mut CachedStatement<'_>,
    id: Uuid,
) -> rusqlite::Result<Option<(String, String)>> {
    lookup
        .query_row(params![&id.as_bytes()[..]], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
}

fn exists(at: RecordRef) -> Rejection {
    Rejection::record(
        RejectionKind::Exists,
        at,
        "already exists and the mode is 'fail'",
    )
}

fn other_tenant(at: RecordRef) -> Rejection {
    Rejection::field(
        RejectionKind::Exists,
        at,
        "id",
        "is already used by a record of another tenant",
    )
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// The statements of the users phase, prepared once per request.
struct UserStatements<'t> {
    insert: CachedStatement<'t>,
    lookup: CachedStatement<'t>,
}

/// A user's column values, in the order of `USER_INSERT` and `USER_UPDATE`.
struct UserParams<'a> {
    user: &'a User,
    id: &'a [u8],
    status: &'static str,
    payload: Option<String>,
    metadata: Option<String>,
    business_metadata: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    status_updated_at: Option<String>,
}

fn user_params(user: &User) -> rusqlite::Result<UserParams<'_>> {
    Ok(UserParams {
        user,
        id: &user.id.as_bytes()[..],
        status: user.status.as_str(),
        payload: opt_json(&user.payload)?,
        metadata: opt_json(&user.metadata)?,
        business_metadata: opt_json(&user.business_metadata)?,
        created_at: opt_time(&user.created_at)?,
        updated_at: opt_time(&user.updated_at)?,
        status_updated_at: opt_time(&user.status_updated_at)?,
    })
}

impl UserParams<'_> {
    fn as_params(&self) -> [&dyn rusqlite::ToSql; 12] {
        let u = self.user;
        [
            &self.id,
            &u.tenant_id,
            &u.user_pool_id,
            &self.status,
            &self.payload,
            &u.payload_schema_id,
            &self.metadata,
            &u.metadata_schema_id,
            &self.business_metadata,
            &self.created_at,
            &self.updated_at,
            &self.status_updated_at,
        ]
    }
}

/// A record that belongs to a user: credential, identifier or address.
trait SubRecord {
    /// Its array in the import body.
    const ARRAY: &'static str;
    /// Insert that does nothing when the id exists.
    const INSERT: &'static str;
    /// Insert that overwrites an existing id of the same tenant.
    const UPSERT: &'static str;
    /// The tenant a stored id belongs to.
    const TENANT_OF: &'static str;

    fn id(&self) -> Uuid;
    fn user_id(&self) -> Uuid;
    fn pool(&self) -> &str;
    /// Runs `INSERT` or `UPSERT` with this record's values.
    fn insert(&self, stmt: &mut CachedStatement<'_>) -> rusqlite::Result<usize>;
    /// Adds one to the outcome's count of this kind.
    fn count(outcome: &mut ImportOutcome);
    /// The rejection for a unique-index violation (only identifiers have one).
    fn taken(&self, _tx: &Connection, at: RecordRef) -> rusqlite::Result<Rejection> {
        Ok(exists(at))
    }
}

impl SubRecord for UserCredential {
    const ARRAY: &'static str = CREDENTIALS;
    const INSERT: &'static str = "INSERT INTO user_credentials (id, tenant_id, user_pool_id,
        user_id, type, payload, state, expires_at, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO NOTHING";
    const UPSERT: &'static str = "INSERT INTO user_credentials (id, tenant_id, user_pool_id,
        user_id, type, payload, state, expires_at, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO UPDATE SET
        user_pool_id = excluded.user_pool_id, user_id = excluded.user_id, type = excluded.type,
        payload = excluded.payload, state = excluded.state, expires_at = excluded.expires_at,
        created_at = excluded.created_at, updated_at = excluded.updated_at
        WHERE user_credentials.tenant_id = excluded.tenant_id";
    const TENANT_OF: &'static str = "SELECT tenant_id FROM user_credentials WHERE id = ?1";

    fn id(&self) -> Uuid {
        self.id
    }
    fn user_id(&self) -> Uuid {
        self.user_id
    }
    fn pool(&self) -> &str {
        &self.user_pool_id
    }
    fn insert(&self, stmt: &mut CachedStatement<'_>) -> rusqlite::Result<usize> {
        stmt.execute(params![
            &self.id.as_bytes()[..],
            self.tenant_id,
            self.user_pool_id,
            &self.user_id.as_bytes()[..],
            credential_type(self.kind),
            json(&self.payload)?,
            self.state.map(credential_state),
            opt_time(&self.expires_at)?,
            time(&self.created_at)?,
            time(&self.updated_at)?,
        ])
    }
    fn count(outcome: &mut ImportOutcome) {
        outcome.written.credentials += 1;
    }
}

impl SubRecord for UserIdentifier {
    const ARRAY: &'static str = IDENTIFIERS;
    const INSERT: &'static str = "INSERT INTO user_identifiers (id, tenant_id, user_pool_id,
        user_id, type, identifier, identifier_lc, metadata, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO NOTHING";
    const UPSERT: &'static str = "INSERT INTO user_identifiers (id, tenant_id, user_pool_id,
        user_id, type, identifier, identifier_lc, metadata, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO UPDATE SET
        user_pool_id = excluded.user_pool_id, user_id = excluded.user_id, type = excluded.type,
        identifier = excluded.identifier, identifier_lc = excluded.identifier_lc,
        metadata = excluded.metadata, created_at = excluded.created_at,
        updated_at = excluded.updated_at
        WHERE user_identifiers.tenant_id = excluded.tenant_id";
    const TENANT_OF: &'static str = "SELECT tenant_id FROM user_identifiers WHERE id = ?1";

    fn id(&self) -> Uuid {
        self.id
    }
    fn user_id(&self) -> Uuid {
        self.user_id
    }
    fn pool(&self) -> &str {
        &self.user_pool_id
    }
    fn insert(&self, stmt: &mut CachedStatement<'_>) -> rusqlite::Result<usize> {
        stmt.execute(params![
            &self.id.as_bytes()[..],
            self.tenant_id,
            self.user_pool_id,
            &self.user_id.as_bytes()[..],
            self.kind.as_str(),
            self.identifier,
            self.identifier_lc,
            opt_json(&self.metadata)?,
            time(&self.created_at)?,
            time(&self.updated_at)?,
        ])
    }
    fn count(outcome: &mut ImportOutcome) {
        outcome.written.identifiers += 1;
    }

    /// Names the user that holds the identifier, never the identifier itself.
    fn taken(&self, tx: &Connection, at: RecordRef) -> rusqlite::Result<Rejection> {
        let owner: Option<Vec<u8>> = tx
            .prepare_cached(
                "SELECT user_id FROM user_identifiers
                 WHERE tenant_id = ?1 AND user_pool_id = ?2 AND type = ?3 AND identifier_lc = ?4",
            )?
            .query_row(
                params![
                    self.tenant_id,
                    self.user_pool_id,
                    self.kind.as_str(),
                    self.identifier_lc
                ],
                |row| row.get(0),
            )
            .optional()?;
        let owner = owner.and_then(|bytes| Uuid::from_slice(&bytes).ok());
        let reason = match owner {
            Some(owner) if owner == self.user_id => format!(
                "this {} identifier is already stored for the same user under another id",
                self.kind.as_str()
            ),
            Some(owner) => format!(
                "this {} identifier already belongs to user {owner} in the pool",
                self.kind.as_str()
            ),
            None => format!(
                "this {} identifier already belongs to another user in the pool",
                self.kind.as_str()
            ),
        };
        Ok(Rejection::field(
            RejectionKind::IdentifierTaken,
            at,
            "identifier_lc",
            reason,
        ))
    }
}

impl SubRecord for UserVerifiableAddress {
    const ARRAY: &'static str = ADDRESSES;
    const INSERT: &'static str = "INSERT INTO user_verifiable_addresses (id, tenant_id,
        user_pool_id, user_id, type, address, address_lc, status, verified, verified_at,
        preferred_contact_method, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
        ON CONFLICT (id) DO NOTHING";
    const UPSERT: &'static str = "INSERT INTO user_verifiable_addresses (id, tenant_id,
        user_pool_id, user_id, type, address, address_lc, status, verified, verified_at,
        preferred_contact_method, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
        ON CONFLICT (id) DO UPDATE SET
        user_pool_id = excluded.user_pool_id, user_id = excluded.user_id, type = excluded.type,
        address = excluded.address, address_lc = excluded.address_lc, status = excluded.status,
        verified = excluded.verified, verified_at = excluded.verified_at,
        preferred_contact_method = excluded.preferred_contact_method,
        created_at = excluded.created_at, updated_at = excluded.updated_at
        WHERE user_verifiable_addresses.tenant_id = excluded.tenant_id";
    const TENANT_OF: &'static str = "SELECT tenant_id FROM user_verifiable_addresses WHERE id = ?1";

    fn id(&self) -> Uuid {
        self.id
    }
    fn user_id(&self) -> Uuid {
        self.user_id
    }
    fn pool(&self) -> &str {
        &self.user_pool_id
    }
    fn insert(&self, stmt: &mut CachedStatement<'_>) -> rusqlite::Result<usize> {
        stmt.execute(params![
            &self.id.as_bytes()[..],
            self.tenant_id,
            self.user_pool_id,
            &self.user_id.as_bytes()[..],
            self.kind.as_str(),
            self.address,
            self.address_lc,
            address_status(self.status),
            self.verified,
            opt_time(&self.verified_at)?,
            self.preferred_contact_method.map(contact_method),
            time(&self.created_at)?,
            time(&self.updated_at)?,
        ])
    }
    fn count(outcome: &mut ImportOutcome) {
        outcome.written.addresses += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Durability;
    use crate::server::validate::{parse, validate};
    use serde_json::json;

    /// A request of one user with an email identifier.
    fn request(user: &str, identifier: &str, email: &str) -> ValidBatch {
        let at = "2024-01-01T00:00:00Z";
        let body = json!({
            "users": [{"id": user, "tenant_id": "t", "user_pool_id": "default", "status": "active"}],
            "user_identifiers": [{"id": identifier, "tenant_id": "t", "user_pool_id": "default",
                "user_id": user, "type": "email", "identifier": email, "identifier_lc": email,
                "created_at": at, "updated_at": at}],
        });
        let body = parse(body.to_string().as_bytes()).expect("parses");
        validate("t", body).expect("valid")
    }

    #[test]
    fn a_refused_request_in_a_group_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn =
            super::super::schema::open_writer(&dir.path().join("t.db"), Durability::Process)
                .unwrap();
        super::super::ensure_tenant(&mut conn, "t", "default").unwrap();
        let first = request(
            "10000000-0000-4000-8000-000000000001",
            "20000000-0000-4000-8000-000000000001",
            "a@example.com",
        );
        // Another user claiming the identifier the first one just took: 409.
        let clash = request(
            "10000000-0000-4000-8000-000000000002",
            "20000000-0000-4000-8000-000000000002",
            "a@example.com",
        );
        let third = request(
            "10000000-0000-4000-8000-000000000003",
            "20000000-0000-4000-8000-000000000003",
            "c@example.com",
        );
        let mode = ImportMode::Ignore;
        let results = apply_group(
            &mut conn,
            &[
                ("t", &first, mode),
                ("t", &clash, mode),
                ("t", &third, mode),
            ],
        );
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].as_ref().unwrap().written.users, 1);
        match &results[1] {
            Err(ApplyError::Rejected(r)) => assert_eq!(r.kind, RejectionKind::IdentifierTaken),
            other => panic!("expected a 409, got {other:?}"),
        }
        assert_eq!(results[2].as_ref().unwrap().written.identifiers, 1);
        let count = |table: &str| -> i64 {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        // The refused user's row (inserted before its identifier clashed) is gone too.
        assert_eq!(count("users"), 2);
        assert_eq!(count("user_identifiers"), 2);
    }
}
