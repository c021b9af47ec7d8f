//! Reading a tenant back out, streamed.
//!
//! An export runs on a blocking thread with its own read-only connection,
//! inside one read transaction, so the five arrays are one consistent
//! snapshot while imports go on (WAL lets readers and the writer proceed
//! together). Records are serialised into chunks of about
//! [`CHUNK_BYTES`] that travel through a bounded channel to the response
//! body: memory stays at a few chunks whatever the size of the tenant, and a
//! slow client slows the reader down instead of filling memory.
//!
//! Users are read pool by pool in import order (`users.pk`); sub-records
//! and group memberships follow the order of their users, read by joining
//! through `users`, so a page of users and its sub-records come from the
//! same range of rows.
//!
//! The tenant's schemas are in the export of the whole tenant (they belong
//! to no pool); a pool's groups are in every export of the pool that is not
//! a page or one user (a page carries the memberships of its users, not the
//! pool's groups again).

use std::io;

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::columns::{
    get_enum, get_json, get_opt_enum, get_opt_json, get_opt_time, get_time, get_uuid,
};
use super::error::StoreError;
use crate::contract::records::{
    CredentialPayload, Group, GroupMember, Pool, Schema, User, UserCredential, UserIdentifier,
    UserVerifiableAddress,
};

/// Size at which a chunk is handed to the response body.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Which part of a tenant to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportScope {
    /// Only this pool (required for paging).
    pub pool: Option<String>,
    /// Only this user, with its sub-records (a ferry extension; needs `pool`).
    pub user: Option<Uuid>,
    /// Only users imported after this one (exclusive), with their sub-records.
    pub after: Option<Uuid>,
    /// At most this many users, with their sub-records.
    pub limit: Option<u32>,
}

/// What is known before the first byte is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportStart {
    /// The export follows. `next_after` is the last user id of a full page,
    /// to pass as `after` for the next page; `None` when this is the last page
    /// (or the export is not paged).
    Ready {
        /// Cursor of the next page, when there may be one.
        next_after: Option<Uuid>,
    },
    /// The scope's pool does not exist in the tenant.
    UnknownPool,
    /// `after` names no user of the scope's pool.
    UnknownCursor,
}

/// Where the reader sends chunks; a failed send means the client went away.
pub type ChunkSender = mpsc::Sender<Result<Bytes, io::Error>>;

/// Runs an export on the current (blocking) thread: answers `start` once the
/// scope is checked, then streams the body into `chunks`.
pub fn run(
    conn: &mut Connection,
    tenant: &str,
    scope: &ExportScope,
    start: oneshot::Sender<ExportStart>,
    chunks: ChunkSender,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let pools = pools_in_scope(&tx, tenant, scope.pool.as_deref())?;
    if scope.pool.is_some() && pools.is_empty() {
        // The handler may be gone; nothing else to do either way.
        let _ = start.send(ExportStart::UnknownPool);
        return Ok(());
    }
    let Some(bounds) = page_bounds(&tx, tenant, scope)? else {
        let _ = start.send(ExportStart::UnknownCursor);
        return Ok(());
    };
    if start
        .send(ExportStart::Ready {
            next_after: bounds.next_after,
        })
        .is_err()
    {
        return Ok(());
    }
    let mut out = ChunkWriter::new(chunks);
    let result = write_body(&tx, tenant, scope.pool.is_none(), &pools, &bounds, &mut out);
    match result {
        Ok(()) => out.flush(),
        Err(StoreError::ClientGone) => Ok(()),
        Err(err) => {
            out.fail(io::Error::other(
                "the export failed while reading the database",
            ));
            Err(err)
        }
    }
}

/// The range of users a scope covers in each pool, as `users.pk` (import order).
#[derive(Debug)]
struct Bounds {
    /// Exclusive lower bound.
    after: i64,
    /// Inclusive upper bound.
    last: i64,
    /// Cursor for the next page.
    next_after: Option<Uuid>,
    /// The scope is whole pools (not a page, not one user): their groups go
    /// with them.
    whole_pools: bool,
}

/// Where a scope starts and ends; `None` when `after` names no user of the pool.
fn page_bounds(
    conn: &Connection,
    tenant: &str,
    scope: &ExportScope,
) -> Result<Option<Bounds>, StoreError> {
    let mut bounds = Bounds {
        after: 0,
        last: i64::MAX,
        next_after: None,
        whole_pools: scope.user.is_none() && scope.after.is_none() && scope.limit.is_none(),
    };
    let Some(pool) = &scope.pool else {
        return Ok(Some(bounds));
    };
    if let Some(user) = scope.user {
        let pk: Option<i64> = conn
            .prepare_cached(
                "SELECT pk FROM users WHERE id = ?1 AND tenant_id = ?2 AND user_pool_id = ?3",
            )?
            .query_row(params![&user.as_bytes()[..], tenant, pool], |row| {
                row.get(0)
            })
            .optional()?;
        // An unknown user is an empty range (`pk` starts at 1), not an error.
        let pk = pk.unwrap_or(0);
        bounds.after = pk - 1;
        bounds.last = pk;
        return Ok(Some(bounds));
    }
    if let Some(after) = scope.after {
        let pk = conn
            .prepare_cached(
                "SELECT pk FROM users WHERE id = ?1 AND tenant_id = ?2 AND user_pool_id = ?3",
            )?
            .query_row(params![&after.as_bytes()[..], tenant, pool], |row| {
                row.get(0)
            })
            .optional()?;
        match pk {
            Some(pk) => bounds.after = pk,
            None => return Ok(None),
        }
    }
    if let Some(limit) = scope.limit {
        let offset = i64::from(limit.max(1)) - 1;
        let last = conn
            .prepare_cached(
                "SELECT pk, id FROM users WHERE tenant_id = ?1 AND user_pool_id = ?2 AND pk > ?3
                 ORDER BY pk LIMIT 1 OFFSET ?4",
            )?
            .query_row(params![tenant, pool, bounds.after, offset], |row| {
                Ok((row.get::<_, i64>(0)?, get_uuid(row, 1)?))
            })
            .optional()?;
        if let Some((pk, id)) = last {
            bounds.last = pk;
            bounds.next_after = Some(id);
        }
    }
    Ok(Some(bounds))
}

fn pools_in_scope(
    conn: &Connection,
    tenant: &str,
    pool: Option<&str>,
) -> Result<Vec<Pool>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc FROM pools WHERE tenant_id = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![tenant, pool], |row| get_json::<Pool>(row, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn write_body(
    conn: &Connection,
    tenant: &str,
    whole_tenant: bool,
    pools: &[Pool],
    bounds: &Bounds,
    out: &mut ChunkWriter,
) -> Result<(), StoreError> {
    out.raw(b"{\"pools\":[")?;
    for (i, pool) in pools.iter().enumerate() {
        out.record(i, pool)?;
    }
    let pool_ids: Vec<&str> = pools.iter().filter_map(|p| p.id.as_deref()).collect();
    out.raw(b"],\"schemas\":[")?;
    if whole_tenant {
        let mut stmt = conn.prepare_cached(SCHEMAS_SQL)?;
        let mut rows = stmt.query(params![tenant])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            out.record(count, &get_json::<Schema>(row, 0)?)?;
            count += 1;
        }
    }
    out.raw(b"],\"groups\":[")?;
    if bounds.whole_pools {
        let mut stmt = conn.prepare_cached(GROUPS_SQL)?;
        let mut count = 0;
        for pool in &pool_ids {
            let mut rows = stmt.query(params![tenant, pool])?;
            while let Some(row) = rows.next()? {
                out.record(count, &get_json::<Group>(row, 0)?)?;
                count += 1;
            }
        }
    }
    out.raw(b"],\"group_members\":[")?;
    array(
        conn,
        MEMBERS_SQL,
        tenant,
        &pool_ids,
        bounds,
        out,
        member_from_row,
    )?;
    out.raw(b"],\"users\":[")?;
    array(
        conn,
        USERS_SQL,
        tenant,
        &pool_ids,
        bounds,
        out,
        user_from_row,
    )?;
    out.raw(b"],\"user_credentials\":[")?;
    array(
        conn,
        CREDENTIALS_SQL,
        tenant,
        &pool_ids,
        bounds,
        out,
        credential_from_row,
    )?;
    out.raw(b"],\"user_identifiers\":[")?;
    array(
        conn,
        IDENTIFIERS_SQL,
        tenant,
        &pool_ids,
        bounds,
        out,
        identifier_from_row,
    )?;
    out.raw(b"],\"user_verifiable_addresses\":[")?;
    array(
        conn,
        ADDRESSES_SQL,
        tenant,
        &pool_ids,
        bounds,
        out,
        address_from_row,
    )?;
    out.raw(b"]}")
}

/// Streams one array: for each pool, the rows of `sql` between the bounds.
fn array<T: Serialize>(
    conn: &Connection,
    sql: &str,
    tenant: &str,
    pools: &[&str],
    bounds: &Bounds,
    out: &mut ChunkWriter,
    from_row: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut count = 0;
    for pool in pools {
        let mut rows = stmt.query(params![tenant, pool, bounds.after, bounds.last])?;
        while let Some(row) = rows.next()? {
            out.record(count, &from_row(row)?)?;
            count += 1;
        }
    }
    Ok(())
}

const SCHEMAS_SQL: &str = "SELECT doc FROM identity_schemas WHERE tenant_id = ?1 ORDER BY id";

const GROUPS_SQL: &str =
    "SELECT doc FROM user_groups WHERE tenant_id = ?1 AND user_pool_id = ?2 ORDER BY id";

const MEMBERS_SQL: &str = "SELECT m.group_id, m.tenant_id, m.user_id, m.user_pool_id
    FROM users u JOIN user_group_members m ON m.user_pk = u.pk
    WHERE u.tenant_id = ?1 AND u.user_pool_id = ?2 AND u.pk > ?3 AND u.pk <= ?4
    ORDER BY u.pk, m.group_id";

fn member_from_row(row: &Row<'_>) -> rusqlite::Result<GroupMember> {
    Ok(GroupMember {
        group_id: row.get(0)?,
        tenant_id: row.get(1)?,
        user_id: get_uuid(row, 2)?,
        user_pool_id: row.get(3)?,
    })
}

/// The columns of a user, in the order [`user_from_row`] reads them (`u`
/// is the users table): a macro, so that queries are `concat!`ed constants.
macro_rules! user_columns {
    () => {
        "u.id, u.tenant_id, u.user_pool_id, u.status, u.payload, u.payload_schema_id,
        u.metadata, u.metadata_schema_id, u.business_metadata, u.created_at, u.updated_at,
        u.status_updated_at, u.business_metadata_schema_id, u.user_type"
    };
}
pub(super) use user_columns;

pub(super) const USERS_SQL: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users u WHERE u.tenant_id = ?1 AND u.user_pool_id = ?2 AND u.pk > ?3 AND u.pk <= ?4
    ORDER BY u.pk"
);

pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: get_uuid(row, 0)?,
        tenant_id: row.get(1)?,
        user_pool_id: row.get(2)?,
        status: get_enum(row, 3)?,
        payload: get_opt_json(row, 4)?,
        payload_schema_id: row.get(5)?,
        metadata: get_opt_json(row, 6)?,
        metadata_schema_id: row.get(7)?,
        business_metadata: get_opt_json(row, 8)?,
        created_at: get_opt_time(row, 9)?,
        updated_at: get_opt_time(row, 10)?,
        status_updated_at: get_opt_time(row, 11)?,
        business_metadata_schema_id: row.get(12)?,
        user_type: get_opt_json(row, 13)?,
    })
}

pub(super) const CREDENTIALS_SQL: &str =
    "SELECT c.id, c.tenant_id, c.user_pool_id, c.user_id, c.type,
    c.payload, c.state, c.expires_at, c.created_at, c.updated_at
    FROM users u JOIN user_credentials c ON c.user_pk = u.pk
    WHERE u.tenant_id = ?1 AND u.user_pool_id = ?2 AND u.pk > ?3 AND u.pk <= ?4
    ORDER BY u.pk, c.id";

pub(super) fn credential_from_row(row: &Row<'_>) -> rusqlite::Result<UserCredential> {
    Ok(UserCredential {
        id: get_uuid(row, 0)?,
        tenant_id: row.get(1)?,
        user_pool_id: row.get(2)?,
        user_id: get_uuid(row, 3)?,
        kind: get_enum(row, 4)?,
        payload: get_json::<CredentialPayload>(row, 5)?,
        state: get_opt_enum(row, 6)?,
        expires_at: get_opt_time(row, 7)?,
        created_at: get_time(row, 8)?,
        updated_at: get_time(row, 9)?,
    })
}

pub(super) const IDENTIFIERS_SQL: &str =
    "SELECT i.id, i.tenant_id, i.user_pool_id, i.user_id, i.type,
    i.identifier, i.identifier_lc, i.metadata, i.created_at, i.updated_at
    FROM users u JOIN user_identifiers i ON i.user_pk = u.pk
    WHERE u.tenant_id = ?1 AND u.user_pool_id = ?2 AND u.pk > ?3 AND u.pk <= ?4
    ORDER BY u.pk, i.id";

pub(super) fn identifier_from_row(row: &Row<'_>) -> rusqlite::Result<UserIdentifier> {
    Ok(UserIdentifier {
        id: get_uuid(row, 0)?,
        tenant_id: row.get(1)?,
        user_pool_id: row.get(2)?,
        user_id: get_uuid(row, 3)?,
        kind: get_enum(row, 4)?,
        identifier: row.get(5)?,
        identifier_lc: row.get(6)?,
        metadata: get_opt_json(row, 7)?,
        created_at: get_time(row, 8)?,
        updated_at: get_time(row, 9)?,
    })
}

pub(super) const ADDRESSES_SQL: &str =
    "SELECT a.id, a.tenant_id, a.user_pool_id, a.user_id, a.type,
    a.address, a.address_lc, a.status, a.verified, a.verified_at, a.preferred_contact_method,
    a.created_at, a.updated_at, a.metadata
    FROM users u JOIN user_verifiable_addresses a ON a.user_pk = u.pk
    WHERE u.tenant_id = ?1 AND u.user_pool_id = ?2 AND u.pk > ?3 AND u.pk <= ?4
    ORDER BY u.pk, a.id";

pub(super) fn address_from_row(row: &Row<'_>) -> rusqlite::Result<UserVerifiableAddress> {
    Ok(UserVerifiableAddress {
        id: get_uuid(row, 0)?,
        tenant_id: row.get(1)?,
        user_pool_id: row.get(2)?,
        user_id: get_uuid(row, 3)?,
        kind: get_enum(row, 4)?,
        address: row.get(5)?,
        address_lc: row.get(6)?,
        status: get_enum(row, 7)?,
        verified: row.get(8)?,
        verified_at: get_opt_time(row, 9)?,
        preferred_contact_method: get_opt_enum(row, 10)?,
        created_at: get_time(row, 11)?,
        updated_at: get_time(row, 12)?,
        metadata: get_opt_json(row, 13)?,
    })
}

/// Serialises into a buffer and hands it to the channel when it is full.
struct ChunkWriter {
    buffer: Vec<u8>,
    chunks: ChunkSender,
}

impl ChunkWriter {
    fn new(chunks: ChunkSender) -> ChunkWriter {
        ChunkWriter {
            buffer: Vec::with_capacity(CHUNK_BYTES + 4096),
            chunks,
        }
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.buffer.extend_from_slice(bytes);
        self.maybe_send()
    }

    /// Writes the `index`-th element of the current array.
    fn record<T: Serialize>(&mut self, index: usize, value: &T) -> Result<(), StoreError> {
        if index > 0 {
            self.buffer.push(b',');
        }
        serde_json::to_writer(&mut self.buffer, value).map_err(io::Error::other)?;
        self.maybe_send()
    }

    fn maybe_send(&mut self) -> Result<(), StoreError> {
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()
        } else {
            Ok(())
        }
    }

    fn send(&mut self) -> Result<(), StoreError> {
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES + 4096),
        ));
        self.chunks
            .blocking_send(Ok(chunk))
            .map_err(|_| StoreError::ClientGone)
    }

    fn flush(mut self) -> Result<(), StoreError> {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            match self.send() {
                Err(StoreError::ClientGone) => Ok(()),
                other => other,
            }
        }
    }

    /// Ends the body with an error, so the client sees a broken transfer
    /// rather than a JSON document that looks complete.
    fn fail(self, err: io::Error) {
        let _ = self.chunks.blocking_send(Err(err));
    }
}
