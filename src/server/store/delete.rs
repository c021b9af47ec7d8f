//! Deleting records, for the platform's delete endpoints (`systemDeleteUser`,
//! `removeUserFromGroup`, `deleteGroup`, `systemDeletePool`,
//! `systemDeleteSchema`): how an importer undoes what it wrote.
//!
//! A deletion runs on the writer thread, in a transaction of its own (never
//! grouped with imports: see [`super`]), so it is ordered with the imports
//! around it and answered once committed. What each one removes:
//!
//! | deletion | removes | refused (nothing removed) |
//! |---|---|---|
//! | [`Deletion::User`] | the user, its credentials, identifiers, addresses and memberships | — |
//! | [`Deletion::Member`] | the one membership | — |
//! | [`Deletion::Group`] | the group and its memberships | — |
//! | [`Deletion::Pool`] | the pool, its users with all of the above, its groups | — |
//! | [`Deletion::Schema`] | the schema | a `system` schema; one a pool of the tenant names |
//!
//! The sub-record ids removed leave the writer's id set ([`SubRecordIds`])
//! in the same transaction, journaled like an import's, so an id deleted is
//! free to be imported again (by the same user or another), and a rollback
//! puts it back. Sub-records are deleted by statements of their own, not by
//! the `ON DELETE CASCADE` of their user, because only those return the ids.
//!
//! What is looked up first decides which 404 a request gets: the pool, then
//! the group, then the user, then the membership (a request naming an
//! unknown pool is told so even when its user id is not a UUID).
//!
//! Costs: a user, a membership, a group's row and a schema are key lookups.
//! A group's memberships and a pool's are found by a scan of the membership
//! table, whose key leads with the member (`(user_pk, group_id)`), which
//! keeps an import's writes append-only; an index by group would cost every
//! import a random page per membership, for the rare rollback. A pool's
//! users and their sub-records are deleted by the pool's index
//! (`users_by_pool`) and their key, in one transaction that holds the writer
//! for as long as it takes.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::columns::get_json;
use super::error::StoreError;
use super::ids::SubRecordIds;
use super::write::RecordCounts;
use crate::contract::records::{Pool, Schema};

/// What to delete, in the tenant of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// User `user` of pool `pool`, with everything that belongs to it.
    /// `None`: the path's id is not a UUID, so it names no user (but the
    /// pool is still checked first).
    User {
        /// The pool.
        pool: String,
        /// The user.
        user: Option<Uuid>,
    },
    /// User `user`'s membership of group `group` of pool `pool`.
    Member {
        /// The pool.
        pool: String,
        /// The group.
        group: String,
        /// The member (`None`: not a UUID, see [`Deletion::User`]).
        user: Option<Uuid>,
    },
    /// Group `group` of pool `pool`, with its memberships.
    Group {
        /// The pool.
        pool: String,
        /// The group.
        group: String,
    },
    /// Pool `pool` with its users, their sub-records, its groups and their
    /// memberships.
    Pool {
        /// The pool.
        pool: String,
    },
    /// Identity schema `schema`.
    Schema {
        /// The schema.
        schema: String,
    },
}

/// What became of a deletion. Everything but [`Deleted::Removed`] left the
/// database as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// Deleted, with how many rows of each kind went.
    Removed(RecordCounts),
    /// The pool does not exist in the tenant.
    UnknownPool,
    /// The pool has no such group.
    UnknownGroup,
    /// The pool has no such user.
    UnknownUser,
    /// The user is not a member of the group.
    NotMember,
    /// The tenant has no such schema.
    UnknownSchema,
    /// The schema is marked `system`: the platform never deletes those.
    SystemSchema,
    /// The schema is named by this pool of the tenant (as its payload,
    /// metadata or business metadata schema).
    SchemaInUse {
        /// The first pool, in id order, that names it.
        pool: String,
    },
}

const POOL_EXISTS: &str = "SELECT 1 FROM pools WHERE tenant_id = ?1 AND id = ?2";
const GROUP_EXISTS: &str =
    "SELECT 1 FROM user_groups WHERE tenant_id = ?1 AND user_pool_id = ?2 AND id = ?3";
const USER_PK: &str = "SELECT pk FROM users WHERE id = ?1 AND tenant_id = ?2 AND user_pool_id = ?3";

/// A user's sub-records, by its `pk`, returning their ids.
const USER_SUB_RECORDS: [&str; 3] = [
    "DELETE FROM user_credentials WHERE user_pk = ?1 RETURNING id",
    "DELETE FROM user_identifiers WHERE user_pk = ?1 RETURNING id",
    "DELETE FROM user_verifiable_addresses WHERE user_pk = ?1 RETURNING id",
];
/// The sub-records of a pool's users, returning their ids.
const POOL_SUB_RECORDS: [&str; 3] = [
    "DELETE FROM user_credentials WHERE user_pk IN
        (SELECT pk FROM users WHERE tenant_id = ?1 AND user_pool_id = ?2) RETURNING id",
    "DELETE FROM user_identifiers WHERE user_pk IN
        (SELECT pk FROM users WHERE tenant_id = ?1 AND user_pool_id = ?2) RETURNING id",
    "DELETE FROM user_verifiable_addresses WHERE user_pk IN
        (SELECT pk FROM users WHERE tenant_id = ?1 AND user_pool_id = ?2) RETURNING id",
];

/// Applies `deletion` for `tenant` inside the transaction the caller opened
/// on `conn`, noting removed sub-record ids in `ids`. The caller commits,
/// or rolls back (and undoes `ids`) on error.
pub fn apply(
    conn: &Connection,
    ids: &mut SubRecordIds,
    tenant: &str,
    deletion: &Deletion,
) -> Result<Deleted, StoreError> {
    match deletion {
        Deletion::User { pool, user } => delete_user(conn, ids, tenant, pool, *user),
        Deletion::Member { pool, group, user } => delete_member(conn, tenant, pool, group, *user),
        Deletion::Group { pool, group } => delete_group(conn, tenant, pool, group),
        Deletion::Pool { pool } => delete_pool(conn, ids, tenant, pool),
        Deletion::Schema { schema } => delete_schema(conn, tenant, schema),
    }
}

fn pool_exists(conn: &Connection, tenant: &str, pool: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(POOL_EXISTS)?
        .exists(params![tenant, pool])
}

fn group_exists(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    group: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(GROUP_EXISTS)?
        .exists(params![tenant, pool, group])
}

/// The `pk` of user `user` of pool `pool` of `tenant`, if stored.
fn user_pk(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    user: Option<Uuid>,
) -> rusqlite::Result<Option<i64>> {
    let Some(user) = user else {
        return Ok(None);
    };
    conn.prepare_cached(USER_PK)?
        .query_row(params![&user.as_bytes()[..], tenant, pool], |row| {
            row.get(0)
        })
        .optional()
}

/// Runs a `DELETE … RETURNING id` of sub-records, removing each id from
/// `ids`; returns how many rows went.
fn delete_sub_records(
    conn: &Connection,
    ids: &mut SubRecordIds,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    let mut delete = conn.prepare_cached(sql)?;
    let mut rows = delete.query(params)?;
    let mut removed = 0;
    while let Some(row) = rows.next()? {
        ids.remove_id(row.get_ref(0)?.as_blob()?);
        removed += 1;
    }
    Ok(removed)
}

fn delete_user(
    conn: &Connection,
    ids: &mut SubRecordIds,
    tenant: &str,
    pool: &str,
    user: Option<Uuid>,
) -> Result<Deleted, StoreError> {
    if !pool_exists(conn, tenant, pool)? {
        return Ok(Deleted::UnknownPool);
    }
    let Some(pk) = user_pk(conn, tenant, pool, user)? else {
        return Ok(Deleted::UnknownUser);
    };
    let [credentials, identifiers, addresses] = USER_SUB_RECORDS;
    let counts = RecordCounts {
        credentials: delete_sub_records(conn, ids, credentials, params![pk])?,
        identifiers: delete_sub_records(conn, ids, identifiers, params![pk])?,
        addresses: delete_sub_records(conn, ids, addresses, params![pk])?,
        group_members: conn
            .prepare_cached("DELETE FROM user_group_members WHERE user_pk = ?1")?
            .execute(params![pk])?,
        users: conn
            .prepare_cached("DELETE FROM users WHERE pk = ?1")?
            .execute(params![pk])?,
        ..RecordCounts::default()
    };
    Ok(Deleted::Removed(counts))
}

fn delete_member(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    group: &str,
    user: Option<Uuid>,
) -> Result<Deleted, StoreError> {
    if !pool_exists(conn, tenant, pool)? {
        return Ok(Deleted::UnknownPool);
    }
    if !group_exists(conn, tenant, pool, group)? {
        return Ok(Deleted::UnknownGroup);
    }
    let Some(pk) = user_pk(conn, tenant, pool, user)? else {
        return Ok(Deleted::UnknownUser);
    };
    let removed = conn
        .prepare_cached(
            "DELETE FROM user_group_members WHERE user_pk = ?1 AND group_id = ?2
             AND tenant_id = ?3 AND user_pool_id = ?4",
        )?
        .execute(params![pk, group, tenant, pool])?;
    if removed == 0 {
        return Ok(Deleted::NotMember);
    }
    Ok(Deleted::Removed(RecordCounts {
        group_members: removed,
        ..RecordCounts::default()
    }))
}

fn delete_group(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    group: &str,
) -> Result<Deleted, StoreError> {
    if !pool_exists(conn, tenant, pool)? {
        return Ok(Deleted::UnknownPool);
    }
    if !group_exists(conn, tenant, pool, group)? {
        return Ok(Deleted::UnknownGroup);
    }
    let counts = RecordCounts {
        // A scan: see the module.
        group_members: conn
            .prepare_cached(
                "DELETE FROM user_group_members
                 WHERE tenant_id = ?1 AND user_pool_id = ?2 AND group_id = ?3",
            )?
            .execute(params![tenant, pool, group])?,
        groups: conn
            .prepare_cached(
                "DELETE FROM user_groups WHERE tenant_id = ?1 AND user_pool_id = ?2 AND id = ?3",
            )?
            .execute(params![tenant, pool, group])?,
        ..RecordCounts::default()
    };
    Ok(Deleted::Removed(counts))
}

fn delete_pool(
    conn: &Connection,
    ids: &mut SubRecordIds,
    tenant: &str,
    pool: &str,
) -> Result<Deleted, StoreError> {
    if !pool_exists(conn, tenant, pool)? {
        return Ok(Deleted::UnknownPool);
    }
    let [credentials, identifiers, addresses] = POOL_SUB_RECORDS;
    let mut counts = RecordCounts {
        credentials: delete_sub_records(conn, ids, credentials, params![tenant, pool])?,
        identifiers: delete_sub_records(conn, ids, identifiers, params![tenant, pool])?,
        addresses: delete_sub_records(conn, ids, addresses, params![tenant, pool])?,
        ..RecordCounts::default()
    };
    // The memberships of the pool's groups and of its users (a scan: see the module).
    counts.group_members = conn
        .prepare_cached(
            "DELETE FROM user_group_members WHERE (tenant_id = ?1 AND user_pool_id = ?2)
             OR user_pk IN (SELECT pk FROM users WHERE tenant_id = ?1 AND user_pool_id = ?2)",
        )?
        .execute(params![tenant, pool])?;
    counts.groups = conn
        .prepare_cached("DELETE FROM user_groups WHERE tenant_id = ?1 AND user_pool_id = ?2")?
        .execute(params![tenant, pool])?;
    counts.users = conn
        .prepare_cached("DELETE FROM users WHERE tenant_id = ?1 AND user_pool_id = ?2")?
        .execute(params![tenant, pool])?;
    counts.pools = conn
        .prepare_cached("DELETE FROM pools WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant, pool])?;
    Ok(Deleted::Removed(counts))
}

fn delete_schema(conn: &Connection, tenant: &str, schema: &str) -> Result<Deleted, StoreError> {
    let stored = conn
        .prepare_cached("SELECT doc FROM identity_schemas WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant, schema], |row| get_json::<Schema>(row, 0))
        .optional()?;
    let Some(stored) = stored else {
        return Ok(Deleted::UnknownSchema);
    };
    if stored.system == Some(true) {
        return Ok(Deleted::SystemSchema);
    }
    if let Some(pool) = pool_naming(conn, tenant, schema)? {
        return Ok(Deleted::SchemaInUse { pool });
    }
    let removed = conn
        .prepare_cached("DELETE FROM identity_schemas WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant, schema])?;
    Ok(Deleted::Removed(RecordCounts {
        schemas: removed,
        ..RecordCounts::default()
    }))
}

/// The first pool of `tenant`, in id order, whose settings name `schema`.
/// Pools are few and their settings are JSON: they are read, not indexed.
fn pool_naming(
    conn: &Connection,
    tenant: &str,
    schema: &str,
) -> Result<Option<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, doc FROM pools WHERE tenant_id = ?1 ORDER BY id")?;
    let mut rows = stmt.query(params![tenant])?;
    while let Some(row) = rows.next()? {
        let pool: Pool = get_json(row, 1)?;
        let names = [
            &pool.payload_schema_id,
            &pool.metadata_schema_id,
            &pool.business_metadata_schema_id,
        ];
        if names.iter().any(|id| id.as_deref() == Some(schema)) {
            return Ok(Some(row.get(0)?));
        }
    }
    Ok(None)
}
