//! Writing one import request's records, inside the transaction the writer
//! thread opened for it ([`super`] commits it only if every record is
//! accepted, and rolls it back otherwise).
//!
//! Per record, by `id` (ids are global: a record never moves to another
//! tenant, and a sub-record never moves to another user):
//!
//! | mode     | new id   | id stored (user: same tenant; sub-record: same user) | id stored elsewhere |
//! |----------|----------|-------------------------------------------------------|---------------------|
//! | `ignore` | inserted | kept as stored                                        | 409                 |
//! | `fail`   | inserted | 409                                                   | 409                 |
//! | `update` | inserted | overwritten                                           | 409                 |
//!
//! A user is one entry with its sub-records ("full entries", as the
//! platform's spec says of its import):
//! - under `update` a user that already existed comes with all its
//!   sub-records: its stored credentials, identifiers and addresses are
//!   deleted before the request's are written, so the request's entries are
//!   the user's full set afterwards;
//! - under `ignore` a user that already existed is kept as stored *with* its
//!   sub-records: the request's sub-records of that user are ignored too, so
//!   a changed email never arrives beside the stored one.
//!
//! For each user that already existed, the stored entry is compared with the
//! request's ([`Entry::same_content`]) before anything is written: the answer
//! says how many users existed and how many of those differed.
//!
//! An identifier whose `(pool, type, identifier_lc)` is already used by
//! another record is a 409 in every mode (the unique index says so). A
//! sub-record's `user_id` must name a user of the request or a stored user
//! of the tenant, in the sub-record's pool.
//!
//! The tenant's other collections follow the same table by their key:
//! pools and schemas by `(tenant, id)`, groups by `(tenant, pool, id)`
//! ([`Document`]), group memberships by `(user, group)`. A membership is not
//! part of its user's entry: it is written by its own key in every mode
//! (under `ignore`, also for a user kept as stored), and names a group of its
//! pool (of the request or stored) and a user of the tenant in that pool.
//!
//! Statements are prepared once per request from the connection's statement
//! cache and reused for every record. Sub-records are linked to their user's
//! `pk`, known from the users phase (`last_insert_rowid`) or looked up once;
//! whether a sub-record id is stored is answered by [`SubRecordIds`] first,
//! so a new record costs one append and no index probe.

use std::collections::HashMap;

use rusqlite::{params, CachedStatement, Connection, OptionalExtension};
use uuid::Uuid;

use super::columns::{
    address_status, contact_method, credential_state, credential_type, json, opt_json, opt_time,
    time,
};
use super::entry::stored_entry;
use super::error::ApplyError;
use super::ids::SubRecordIds;
use crate::contract::entry::Entry;
use crate::contract::records::{
    Group, GroupMember, ImportBody, ImportMode, Pool, Schema, User, UserCredential, UserIdentifier,
    UserVerifiableAddress,
};
use crate::server::rejection::{RecordRef, Rejection, RejectionKind};
use crate::server::validate::{
    pool_id, ValidBatch, ADDRESSES, CREDENTIALS, GROUPS, GROUP_MEMBERS, IDENTIFIERS, POOLS,
    SCHEMAS, USERS,
};

/// Rows written per kind by one import (inserted or overwritten).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// Pools.
    pub pools: usize,
    /// Users.
    pub users: usize,
    /// Credentials.
    pub credentials: usize,
    /// Identifiers.
    pub identifiers: usize,
    /// Verifiable addresses.
    pub addresses: usize,
    /// Identity schemas.
    pub schemas: usize,
    /// Groups.
    pub groups: usize,
    /// Group memberships.
    pub group_members: usize,
}

/// What an applied import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Users of the request that were already stored (kept under `ignore`,
    /// overwritten under `update`).
    pub users_existing: usize,
    /// Of those, the users whose stored entry differed from the request's
    /// (timestamps aside).
    pub users_changed: usize,
    /// Rows written per kind.
    pub written: RecordCounts,
}

/// Writes a validated batch for `tenant` inside the transaction (or
/// savepoint) the caller opened on `conn`. On error the caller rolls back:
/// the batch may be partly written.
pub fn apply(
    conn: &Connection,
    ids: &mut SubRecordIds,
    tenant: &str,
    batch: &ValidBatch,
    mode: ImportMode,
) -> Result<ImportOutcome, ApplyError> {
    let mut writer = Writer {
        tx: conn,
        ids,
        tenant,
        body: &batch.body,
        mode,
        users: HashMap::with_capacity(batch.body.users.len()),
        outcome: ImportOutcome::default(),
    };
    let body = &batch.body;
    writer.documents(&body.pools)?;
    writer.documents(&body.schemas)?;
    writer.check_pools_exist(&batch.pools_used)?;
    writer.users(&body.users)?;
    writer.sub_records(&body.user_credentials)?;
    writer.sub_records(&body.user_identifiers)?;
    writer.sub_records(&body.user_verifiable_addresses)?;
    writer.documents(&body.groups)?;
    writer.group_members(&body.group_members)?;
    Ok(writer.outcome)
}

/// The state of one request's transaction.
struct Writer<'t> {
    /// The connection, inside the request's transaction or savepoint.
    tx: &'t Connection,
    /// Stored sub-record ids; changes are journaled for a rollback.
    ids: &'t mut SubRecordIds,
    /// The URL's tenant; every record was checked to name it.
    tenant: &'t str,
    /// The request's records, to compare a stored user's entry with.
    body: &'t ImportBody,
    /// What to do with records that exist.
    mode: ImportMode,
    /// Every user known in this request, as stored: saves a lookup per sub-record.
    users: HashMap<Uuid, StoredUser>,
    /// What was written, for the answer and the metrics.
    outcome: ImportOutcome,
}

const POOL_EXISTS: &str = "SELECT 1 FROM pools WHERE tenant_id = ?1 AND id = ?2";
const GROUP_EXISTS: &str =
    "SELECT 1 FROM user_groups WHERE tenant_id = ?1 AND user_pool_id = ?2 AND id = ?3";
const MEMBER_INSERT: &str = "INSERT INTO user_group_members (user_pk, group_id, tenant_id,
    user_pool_id, user_id) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_pk, group_id) DO NOTHING";

const USER_LOOKUP: &str = "SELECT pk, tenant_id, user_pool_id FROM users WHERE id = ?1";
const USER_INSERT: &str = "INSERT INTO users (id, tenant_id, user_pool_id, status, payload,
    payload_schema_id, metadata, metadata_schema_id, business_metadata, created_at, updated_at,
    status_updated_at, business_metadata_schema_id, user_type)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
    ON CONFLICT (id) DO NOTHING";
const USER_UPDATE: &str = "UPDATE users SET user_pool_id = ?3, status = ?4, payload = ?5,
    payload_schema_id = ?6, metadata = ?7, metadata_schema_id = ?8, business_metadata = ?9,
    created_at = ?10, updated_at = ?11, status_updated_at = ?12,
    business_metadata_schema_id = ?13, user_type = ?14
    WHERE id = ?1 AND tenant_id = ?2";
const DELETE_SUB_RECORDS: [&str; 3] = [
    "DELETE FROM user_credentials WHERE user_pk = ?1 RETURNING id",
    "DELETE FROM user_identifiers WHERE user_pk = ?1 RETURNING id",
    "DELETE FROM user_verifiable_addresses WHERE user_pk = ?1 RETURNING id",
];

impl Writer<'_> {
    /// Writes pools, schemas or groups by their key, as the mode says.
    fn documents<D: Document>(&mut self, records: &[D]) -> Result<(), ApplyError> {
        if records.is_empty() {
            return Ok(());
        }
        let sql = if self.mode == ImportMode::Update {
            D::UPSERT
        } else {
            D::INSERT
        };
        let mut write = self.tx.prepare_cached(sql)?;
        for (i, record) in records.iter().enumerate() {
            let changed = record.write(&mut write, self.tenant)?;
            if changed == 0 && self.mode == ImportMode::Fail {
                return Err(exists(RecordRef::new(D::ARRAY, i, record.key())).into());
            }
            *D::count(&mut self.outcome.written) += changed;
        }
        Ok(())
    }

    /// Writes memberships by `(user, group)`; see the module.
    fn group_members(&mut self, members: &[GroupMember]) -> Result<(), ApplyError> {
        if members.is_empty() {
            return Ok(());
        }
        let mut lookup = self.tx.prepare_cached(USER_LOOKUP)?;
        let mut group = self.tx.prepare_cached(GROUP_EXISTS)?;
        let mut insert = self.tx.prepare_cached(MEMBER_INSERT)?;
        for (i, member) in members.iter().enumerate() {
            let at = || RecordRef::new(GROUP_MEMBERS, i, member.user_id);
            let user = match self.users.get(&member.user_id) {
                Some(user) => Some((user.pk, user.pool.clone())),
                None => lookup_user(&mut lookup, member.user_id)?
                    .filter(|(_, tenant, _)| tenant == self.tenant)
                    .map(|(pk, _, pool)| (pk, pool)),
            };
            let Some((user_pk, pool)) = user else {
                return Err(invalid_link(
                    at(),
                    "user_id",
                    "names no user of this request or of the tenant",
                )
                .into());
            };
            if pool != member.user_pool_id {
                return Err(invalid_link(
                    at(),
                    "user_pool_id",
                    "differs from the pool its user is stored in",
                )
                .into());
            }
            if !group.exists(params![self.tenant, member.user_pool_id, member.group_id])? {
                return Err(invalid_link(
                    at(),
                    "group_id",
                    "names no group of the pool in this request or stored",
                )
                .into());
            }
            let changed = insert.execute(params![
                user_pk,
                member.group_id,
                self.tenant,
                member.user_pool_id,
                &member.user_id.as_bytes()[..],
            ])?;
            if changed == 0 && self.mode == ImportMode::Fail {
                return Err(exists(at()).into());
            }
            self.outcome.written.group_members += changed;
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
                    if stmts.insert.execute(values.as_params())? == 1 {
                        self.inserted(user)
                    } else if self.mode == ImportMode::Fail {
                        return Err(exists(at()).into());
                    } else {
                        let mut stored = self.stored_user(&mut stmts.lookup, user.id, at)?;
                        self.existed(&stored, user)?;
                        stored.kept = true;
                        stored
                    }
                }
            };
            self.users.insert(user.id, stored);
        }
        Ok(())
    }

    /// The user just inserted.
    fn inserted(&mut self, user: &User) -> StoredUser {
        self.outcome.written.users += 1;
        StoredUser {
            pk: self.tx.last_insert_rowid(),
            pool: user.user_pool_id.clone(),
            kept: false,
        }
    }

    /// Counts `user`, found stored as `stored`, as existing, and as changed
    /// when its stored entry differs from the request's. Call it before
    /// anything of the user is overwritten.
    fn existed(&mut self, stored: &StoredUser, user: &User) -> Result<(), ApplyError> {
        self.outcome.users_existing += 1;
        let same = stored_entry(self.tx, self.tenant, &stored.pool, stored.pk)?
            .is_some_and(|was| was.same_content(&Entry::in_body(self.body, user)));
        if !same {
            self.outcome.users_changed += 1;
        }
        Ok(())
    }

    /// Under `update`: inserts a new user, or overwrites a stored one and
    /// drops its sub-records.
    fn update_user(
        &mut self,
        stmts: &mut UserStatements<'_>,
        user: &User,
        values: &UserParams<'_>,
        at: impl Fn() -> RecordRef,
    ) -> Result<StoredUser, ApplyError> {
        match lookup_user(&mut stmts.lookup, user.id)? {
            None => {
                stmts.insert.execute(values.as_params())?;
                Ok(self.inserted(user))
            }
            Some((_, tenant, _)) if tenant != self.tenant => Err(other_tenant(at()).into()),
            Some((pk, _, pool)) => {
                self.existed(&StoredUser::new(pk, pool), user)?;
                self.tx
                    .prepare_cached(USER_UPDATE)?
                    .execute(values.as_params())?;
                self.delete_sub_records(pk)?;
                self.outcome.written.users += 1;
                Ok(StoredUser::new(pk, user.user_pool_id.clone()))
            }
        }
    }

    /// Under `ignore`, for a user whose insert did nothing: the stored user,
    /// or a 409 when the id belongs to another tenant.
    fn stored_user(
        &self,
        lookup: &mut CachedStatement<'_>,
        id: Uuid,
        at: impl Fn() -> RecordRef,
    ) -> Result<StoredUser, ApplyError> {
        match lookup_user(lookup, id)? {
            Some((pk, tenant, pool)) if tenant == self.tenant => Ok(StoredUser::new(pk, pool)),
            _ => Err(other_tenant(at()).into()),
        }
    }

    /// Deletes a user's sub-records (its full set comes with the request).
    fn delete_sub_records(&mut self, user_pk: i64) -> rusqlite::Result<()> {
        for sql in DELETE_SUB_RECORDS {
            let mut delete = self.tx.prepare_cached(sql)?;
            let mut rows = delete.query(params![user_pk])?;
            while let Some(row) = rows.next()? {
                self.ids.remove_id(row.get_ref(0)?.as_blob()?);
            }
        }
        Ok(())
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
        let mut write = self.tx.prepare_cached(sql)?;
        let mut lookup = self.tx.prepare_cached(USER_LOOKUP)?;
        let mut stored_here = self.tx.prepare_cached(R::EXISTS)?;
        for (i, record) in records.iter().enumerate() {
            let at = || RecordRef::new(R::ARRAY, i, record.id());
            let Some(user_pk) = self.check_link(&mut lookup, record, at)? else {
                continue;
            };
            let fingerprint = self.ids.fingerprint(record.id());
            if self.ids.contains(fingerprint) {
                // Stored already: under this user, or another user's or tenant's id.
                let id = record.id();
                if !stored_here.exists(params![user_pk, &id.as_bytes()[..]])? {
                    return Err(other_record(at()).into());
                }
                match self.mode {
                    ImportMode::Ignore => continue,
                    ImportMode::Fail => return Err(exists(at()).into()),
                    ImportMode::Update => {}
                }
            }
            match record.insert(&mut write, user_pk) {
                Ok(_) => {}
                Err(err) if is_unique_violation(&err) => {
                    return Err(record.taken(self.tx, at())?.into())
                }
                Err(err) => return Err(err.into()),
            }
            self.ids.insert(fingerprint);
            R::count(&mut self.outcome);
        }
        Ok(())
    }

    /// `user_id` names a user of the request or of the tenant, in the
    /// record's pool. Returns the user's `pk`, or `None` when the record is
    /// ignored with its user (kept as stored under `ignore`).
    fn check_link<R: SubRecord>(
        &mut self,
        lookup: &mut CachedStatement<'_>,
        record: &R,
        at: impl Fn() -> RecordRef,
    ) -> Result<Option<i64>, ApplyError> {
        let user_id = record.user_id();
        if !self.users.contains_key(&user_id) {
            match lookup_user(lookup, user_id)? {
                Some((pk, tenant, pool)) if tenant == self.tenant => {
                    self.users.insert(user_id, StoredUser::new(pk, pool));
                }
                _ => {
                    return Err(invalid_link(
                        at(),
                        "user_id",
                        "names no user of this request or of the tenant",
                    )
                    .into())
                }
            }
        }
        match self.users.get(&user_id) {
            Some(user) if user.kept => Ok(None),
            Some(user) if user.pool == record.pool() => Ok(Some(user.pk)),
            _ => Err(invalid_link(
                at(),
                "user_pool_id",
                "differs from the pool its user is stored in",
            )
            .into()),
        }
    }
}

/// A user as stored: its row key, for sub-records, and its pool.
struct StoredUser {
    pk: i64,
    pool: String,
    /// It existed before this request and is kept as stored (`ignore`):
    /// the request's sub-records of it are ignored.
    kept: bool,
}

impl StoredUser {
    fn new(pk: i64, pool: String) -> StoredUser {
        StoredUser {
            pk,
            pool,
            kept: false,
        }
    }
}

/// A stored user's `pk`, tenant and pool.
fn lookup_user(
    lookup: &mut CachedStatement<'_>,
    id: Uuid,
) -> rusqlite::Result<Option<(i64, String, String)>> {
    lookup
        .query_row(params![&id.as_bytes()[..]], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()
}

fn invalid_link(at: RecordRef, field: &str, reason: &str) -> Rejection {
    Rejection::field(RejectionKind::Invalid, at, field, reason)
}

fn exists(at: RecordRef) -> Rejection {
    Rejection::record(
        RejectionKind::Exists,
        at,
        "already exists and the mode is 'fail'",
    )
}

fn other_record(at: RecordRef) -> Rejection {
    Rejection::field(
        RejectionKind::Exists,
        at,
        "id",
        "is already used by another user's or another tenant's record",
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
    user_type: Option<String>,
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
        user_type: user.user_type.as_ref().map(json).transpose()?,
    })
}

impl UserParams<'_> {
    fn as_params(&self) -> [&dyn rusqlite::ToSql; 14] {
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
            &u.business_metadata_schema_id,
            &self.user_type,
        ]
    }
}

/// A record stored as one JSON document under its key: a pool, a schema or
/// a group.
trait Document {
    /// Its array in the import body.
    const ARRAY: &'static str;
    /// Insert of a new record, nothing when the key is stored.
    const INSERT: &'static str;
    /// Insert that overwrites the record stored under the key.
    const UPSERT: &'static str;

    /// The key in its table (with the tenant).
    fn key(&self) -> String;
    /// Runs `INSERT` or `UPSERT` for this record of `tenant`.
    fn write(&self, stmt: &mut CachedStatement<'_>, tenant: &str) -> rusqlite::Result<usize>;
    /// The outcome's count of this kind.
    fn count(written: &mut RecordCounts) -> &mut usize;
}

impl Document for Pool {
    const ARRAY: &'static str = POOLS;
    const INSERT: &'static str = "INSERT INTO pools (tenant_id, id, name, doc)
        VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant_id, id) DO NOTHING";
    const UPSERT: &'static str = "INSERT INTO pools (tenant_id, id, name, doc)
        VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, doc = excluded.doc";

    fn key(&self) -> String {
        pool_id(self).to_owned()
    }
    /// Stores the pool with its `id` set: the name it was stored under.
    fn write(&self, stmt: &mut CachedStatement<'_>, tenant: &str) -> rusqlite::Result<usize> {
        let id = pool_id(self);
        let mut stored = self.clone();
        stored.id = Some(id.to_owned());
        stmt.execute(params![tenant, id, self.name, json(&stored)?])
    }
    fn count(written: &mut RecordCounts) -> &mut usize {
        &mut written.pools
    }
}

impl Document for Schema {
    const ARRAY: &'static str = SCHEMAS;
    const INSERT: &'static str = "INSERT INTO identity_schemas (tenant_id, id, doc)
        VALUES (?1, ?2, ?3) ON CONFLICT (tenant_id, id) DO NOTHING";
    const UPSERT: &'static str = "INSERT INTO identity_schemas (tenant_id, id, doc)
        VALUES (?1, ?2, ?3) ON CONFLICT (tenant_id, id) DO UPDATE SET doc = excluded.doc";

    fn key(&self) -> String {
        self.id.clone()
    }
    fn write(&self, stmt: &mut CachedStatement<'_>, tenant: &str) -> rusqlite::Result<usize> {
        stmt.execute(params![tenant, self.id, json(self)?])
    }
    fn count(written: &mut RecordCounts) -> &mut usize {
        &mut written.schemas
    }
}

impl Document for Group {
    const ARRAY: &'static str = GROUPS;
    const INSERT: &'static str = "INSERT INTO user_groups (tenant_id, user_pool_id, id, doc)
        VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant_id, user_pool_id, id) DO NOTHING";
    const UPSERT: &'static str = "INSERT INTO user_groups (tenant_id, user_pool_id, id, doc)
        VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (tenant_id, user_pool_id, id) DO UPDATE SET doc = excluded.doc";

    fn key(&self) -> String {
        self.id.clone()
    }
    fn write(&self, stmt: &mut CachedStatement<'_>, tenant: &str) -> rusqlite::Result<usize> {
        stmt.execute(params![tenant, self.user_pool_id, self.id, json(self)?])
    }
    fn count(written: &mut RecordCounts) -> &mut usize {
        &mut written.groups
    }
}

/// A record that belongs to a user: credential, identifier or address.
trait SubRecord {
    /// Its array in the import body.
    const ARRAY: &'static str;
    /// Insert of a new record.
    const INSERT: &'static str;
    /// Insert that overwrites the record if its user already has it.
    const UPSERT: &'static str;
    /// Whether a user (`?1`, its `pk`) has the record `?2`.
    const EXISTS: &'static str;

    fn id(&self) -> Uuid;
    fn user_id(&self) -> Uuid;
    fn pool(&self) -> &str;
    /// Runs `INSERT` or `UPSERT` with this record's values, for the user at `user_pk`.
    fn insert(&self, stmt: &mut CachedStatement<'_>, user_pk: i64) -> rusqlite::Result<usize>;
    /// Adds one to the outcome's count of this kind.
    fn count(outcome: &mut ImportOutcome);
    /// The rejection for a unique-index violation (only identifiers have one).
    fn taken(&self, _tx: &Connection, at: RecordRef) -> rusqlite::Result<Rejection> {
        Ok(exists(at))
    }
}

impl SubRecord for UserCredential {
    const ARRAY: &'static str = CREDENTIALS;
    const INSERT: &'static str = "INSERT INTO user_credentials (id, user_pk, tenant_id,
        user_pool_id, user_id, type, payload, state, expires_at, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    const UPSERT: &'static str = "INSERT INTO user_credentials (id, user_pk, tenant_id,
        user_pool_id, user_id, type, payload, state, expires_at, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (user_pk, id) DO UPDATE SET
        user_pool_id = excluded.user_pool_id, type = excluded.type,
        payload = excluded.payload, state = excluded.state, expires_at = excluded.expires_at,
        created_at = excluded.created_at, updated_at = excluded.updated_at";
    const EXISTS: &'static str = "SELECT 1 FROM user_credentials WHERE user_pk = ?1 AND id = ?2";

    fn id(&self) -> Uuid {
        self.id
    }
    fn user_id(&self) -> Uuid {
        self.user_id
    }
    fn pool(&self) -> &str {
        &self.user_pool_id
    }
    fn insert(&self, stmt: &mut CachedStatement<'_>, user_pk: i64) -> rusqlite::Result<usize> {
        stmt.execute(params![
            &self.id.as_bytes()[..],
            user_pk,
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
    const INSERT: &'static str = "INSERT INTO user_identifiers (id, user_pk, tenant_id,
        user_pool_id, user_id, type, identifier, identifier_lc, metadata, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    const UPSERT: &'static str = "INSERT INTO user_identifiers (id, user_pk, tenant_id,
        user_pool_id, user_id, type, identifier, identifier_lc, metadata, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (user_pk, id) DO UPDATE SET
        user_pool_id = excluded.user_pool_id, type = excluded.type,
        identifier = excluded.identifier, identifier_lc = excluded.identifier_lc,
        metadata = excluded.metadata, created_at = excluded.created_at,
        updated_at = excluded.updated_at";
    const EXISTS: &'static str = "SELECT 1 FROM user_identifiers WHERE user_pk = ?1 AND id = ?2";

    fn id(&self) -> Uuid {
        self.id
    }
    fn user_id(&self) -> Uuid {
        self.user_id
    }
    fn pool(&self) -> &str {
        &self.user_pool_id
    }
    fn insert(&self, stmt: &mut CachedStatement<'_>, user_pk: i64) -> rusqlite::Result<usize> {
        stmt.execute(params![
            &self.id.as_bytes()[..],
            user_pk,
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
    const INSERT: &'static str = "INSERT INTO user_verifiable_addresses (id, user_pk,
        tenant_id, user_pool_id, user_id, type, address, address_lc, status, verified,
        verified_at, preferred_contact_method, created_at, updated_at, metadata)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
    const UPSERT: &'static str = "INSERT INTO user_verifiable_addresses (id, user_pk,
        tenant_id, user_pool_id, user_id, type, address, address_lc, status, verified,
        verified_at, preferred_contact_method, created_at, updated_at, metadata)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
        ON CONFLICT (user_pk, id) DO UPDATE SET
        user_pool_id = excluded.user_pool_id, type = excluded.type,
        address = excluded.address, address_lc = excluded.address_lc, status = excluded.status,
        verified = excluded.verified, verified_at = excluded.verified_at,
        preferred_contact_method = excluded.preferred_contact_method,
        created_at = excluded.created_at, updated_at = excluded.updated_at,
        metadata = excluded.metadata";
    const EXISTS: &'static str =
        "SELECT 1 FROM user_verifiable_addresses WHERE user_pk = ?1 AND id = ?2";

    fn id(&self) -> Uuid {
        self.id
    }
    fn user_id(&self) -> Uuid {
        self.user_id
    }
    fn pool(&self) -> &str {
        &self.user_pool_id
    }
    fn insert(&self, stmt: &mut CachedStatement<'_>, user_pk: i64) -> rusqlite::Result<usize> {
        stmt.execute(params![
            &self.id.as_bytes()[..],
            user_pk,
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
            opt_json(&self.metadata)?,
        ])
    }
    fn count(outcome: &mut ImportOutcome) {
        outcome.written.addresses += 1;
    }
}
