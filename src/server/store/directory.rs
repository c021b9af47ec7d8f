//! Reading pools, users and schemas for the platform's system endpoints
//! (`systemListPools`, `systemGetPool`, `systemListUsers`, `systemGetUser`,
//! `systemGetUserByKey`, `systemListSchemas`, `systemGetSchema`), each on a
//! read-only connection of its own, like an export.
//!
//! Memory is bounded by the page, never by the pool: a page of users is one
//! range of the `users.id` index (users are listed in id order, as the
//! platform lists them), at most [`MAX_PAGE`] rows, with the identifiers and
//! addresses of those users read by their `user_pk`. The range is walked on
//! the id index alone (the pool's own index is in import order), so a page
//! costs its rows when the pool holds most of the database, the rehearsal's
//! case, and also every row of other pools it passes otherwise.
//!
//! A lookup by identifier uses the unique index of identifiers; a lookup by
//! address reads the tenant's addresses, which have no index by value (an
//! import would pay for one on every address).

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::columns::{get_enum, get_json};
use super::entry::stored_entry;
use super::error::StoreError;
use super::export::{user_columns, user_from_row};
use crate::contract::records::{IdentifierType, Pool, Schema};
use crate::contract::system::{
    Address, ExtendedUser, IdentifierDetails, PoolResponse, UserWithData,
};

/// Most rows of one page, pools or users (the description's `maximum`).
pub const MAX_PAGE: u32 = 100;

/// Which way a list runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Ascending (the default).
    #[default]
    Ascending,
    /// Descending.
    Descending,
}

/// What pools are sorted by (`systemListPools`' `sort`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PoolSort {
    /// By id (the default).
    #[default]
    Id,
    /// By name, then id.
    Name,
}

/// A page of a tenant's pools to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolQuery {
    /// Only pools whose id or name holds this text (ASCII case aside).
    pub search: Option<String>,
    /// Only pools after this one, in the list's order.
    pub after: Option<String>,
    /// Only pools before this one, in the list's order.
    pub before: Option<String>,
    /// The sort key.
    pub sort: PoolSort,
    /// The direction.
    pub order: Order,
    /// At most this many pools, 1 to [`MAX_PAGE`].
    pub limit: u32,
}

/// A page of pools, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolPage {
    /// The page, in the list's order.
    Page(Vec<PoolResponse>),
    /// `after` or `before` names no pool of the tenant (needed when the
    /// list is sorted by name).
    UnknownCursor,
}

/// A page of a pool's users to read (in id order, as the platform lists
/// them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Only users whose id comes after this one in the list (exclusive).
    pub after: Option<Uuid>,
    /// Only users whose id comes before this one in the list (exclusive).
    pub before: Option<Uuid>,
    /// The direction.
    pub order: Order,
    /// At most this many users, 1 to [`MAX_PAGE`].
    pub limit: u32,
}

/// What a key of `systemGetUserByKey` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    /// One of the user's identifiers.
    Identifier(String),
    /// One of the user's verified addresses.
    Address(String),
}

/// What a lookup of one user of a pool found.
#[derive(Debug, Clone, PartialEq)]
pub enum InPool<T> {
    /// The pool does not exist in the tenant.
    UnknownPool,
    /// The pool exists; `None` when no user of it matched.
    Found(Option<T>),
}

/// The pool `id` of `tenant`, as stored.
fn stored_pool(conn: &Connection, tenant: &str, id: &str) -> Result<Option<Pool>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT doc FROM pools WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant, id], |row| get_json::<Pool>(row, 0))
        .optional()?)
}

/// Every identity schema of `tenant`, in id order (a tenant has a handful:
/// the description lists them without paging).
pub fn schemas(conn: &Connection, tenant: &str) -> Result<Vec<Schema>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT doc FROM identity_schemas WHERE tenant_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![tenant], |row| get_json::<Schema>(row, 0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The identity schema `id` of `tenant`, as stored.
pub fn schema(conn: &Connection, tenant: &str, id: &str) -> Result<Option<Schema>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT doc FROM identity_schemas WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant, id], |row| get_json::<Schema>(row, 0))
        .optional()?)
}

/// A pool with its count of users.
fn with_counts(conn: &Connection, tenant: &str, pool: Pool) -> Result<PoolResponse, StoreError> {
    let id = pool.id.as_deref().unwrap_or(&pool.name);
    let number_of_users = conn
        .prepare_cached("SELECT count(*) FROM users WHERE tenant_id = ?1 AND user_pool_id = ?2")?
        .query_row(params![tenant, id], |row| row.get(0))?;
    Ok(PoolResponse {
        pool,
        number_of_users,
    })
}

/// One pool of `tenant` with its count of users.
pub fn pool(conn: &Connection, tenant: &str, id: &str) -> Result<Option<PoolResponse>, StoreError> {
    stored_pool(conn, tenant, id)?
        .map(|pool| with_counts(conn, tenant, pool))
        .transpose()
}

/// A page of the pools of `tenant`.
pub fn pools(conn: &Connection, tenant: &str, query: &PoolQuery) -> Result<PoolPage, StoreError> {
    // The sort key of a cursor pool: its id, or its (name, id).
    let key_of = |id: &Option<String>| -> Result<Option<Option<(String, String)>>, StoreError> {
        let Some(id) = id else {
            return Ok(Some(None));
        };
        match query.sort {
            PoolSort::Id => Ok(Some(Some((String::new(), id.clone())))),
            PoolSort::Name => {
                Ok(stored_pool(conn, tenant, id)?.map(|p| Some((p.name, id.clone()))))
            }
        }
    };
    let (Some(after), Some(before)) = (key_of(&query.after)?, key_of(&query.before)?) else {
        return Ok(PoolPage::UnknownCursor);
    };
    // In the list's order, `after` is the low bound and `before` the high
    // one; a page given only `before` is read from the high end backwards.
    let backwards = before.is_some() && after.is_none();
    let ascending = (query.order == Order::Ascending) != backwards;
    let (above, below) = if query.order == Order::Ascending {
        (after, before)
    } else {
        (before, after)
    };
    // Row values compare the key; ORDER BY takes the same columns one by one.
    let (key, direction) = match (query.sort, ascending) {
        (PoolSort::Id, true) => ("('', id)", "id ASC"),
        (PoolSort::Id, false) => ("('', id)", "id DESC"),
        (PoolSort::Name, true) => ("(name, id)", "name ASC, id ASC"),
        (PoolSort::Name, false) => ("(name, id)", "name DESC, id DESC"),
    };
    let sql = format!(
        "SELECT doc FROM pools WHERE tenant_id = ?1
         AND (?2 IS NULL OR instr(lower(id), lower(?2)) > 0 OR instr(lower(name), lower(?2)) > 0)
         AND (?4 IS NULL OR {key} > (?3, ?4)) AND (?6 IS NULL OR {key} < (?5, ?6))
         ORDER BY {direction} LIMIT ?7"
    );
    let (above_name, above_id) = above.unzip();
    let (below_name, below_id) = below.unzip();
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            tenant,
            query.search,
            above_name,
            above_id,
            below_name,
            below_id,
            query.limit
        ],
        |row| get_json::<Pool>(row, 0),
    )?;
    let mut page = rows
        .map(|pool| with_counts(conn, tenant, pool?))
        .collect::<Result<Vec<_>, _>>()?;
    if backwards {
        page.reverse();
    }
    Ok(PoolPage::Page(page))
}

/// The users of a page, in id order, with their `pk` last (column
/// [`PK_COLUMN`]); `+` keeps the tenant and pool terms off the indexes, so
/// that SQLite walks `users.id` (see the module).
const USERS_PAGE_ASC: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", u.pk FROM users u WHERE u.id > ?1 AND u.id < ?2 AND +u.tenant_id = ?3
    AND +u.user_pool_id = ?4 ORDER BY u.id ASC LIMIT ?5"
);
const USERS_PAGE_DESC: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", u.pk FROM users u WHERE u.id > ?1 AND u.id < ?2 AND +u.tenant_id = ?3
    AND +u.user_pool_id = ?4 ORDER BY u.id DESC LIMIT ?5"
);
/// Where a page's rows hold `users.pk`: after the user's columns.
const PK_COLUMN: usize = 14;

/// A page of the users of `pool`; `None` when the pool does not exist.
pub fn users(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    query: &UserQuery,
) -> Result<Option<Vec<ExtendedUser>>, StoreError> {
    if stored_pool(conn, tenant, pool)?.is_none() {
        return Ok(None);
    }
    // Ids are 16-byte blobs: the empty blob is below all, 17 0xff bytes above.
    let bound = |id: Option<Uuid>| id.map(|id| id.as_bytes().to_vec());
    let (low, high) = match query.order {
        Order::Ascending => (bound(query.after), bound(query.before)),
        Order::Descending => (bound(query.before), bound(query.after)),
    };
    let backwards = query.before.is_some() && query.after.is_none();
    let ascending = (query.order == Order::Ascending) != backwards;
    let sql = if ascending {
        USERS_PAGE_ASC
    } else {
        USERS_PAGE_DESC
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(
            params![
                low.unwrap_or_default(),
                high.unwrap_or_else(|| vec![0xff; 17]),
                tenant,
                pool,
                query.limit
            ],
            |row| Ok((row.get::<_, i64>(PK_COLUMN)?, user_from_row(row)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut page = Vec::with_capacity(rows.len());
    for (pk, user) in rows {
        page.push(extended(conn, pk, user)?);
    }
    if backwards {
        page.reverse();
    }
    Ok(Some(page))
}

/// `user` (stored at `pk`) with the summary of its identifiers and addresses.
fn extended(
    conn: &Connection,
    pk: i64,
    user: crate::contract::records::User,
) -> Result<ExtendedUser, StoreError> {
    let mut identifiers = conn.prepare_cached(
        "SELECT type, identifier FROM user_identifiers WHERE user_pk = ?1 ORDER BY id",
    )?;
    let identifiers_with_details = identifiers
        .query_map(params![pk], |row| {
            Ok(IdentifierDetails {
                kind: get_enum::<IdentifierType>(row, 0)?,
                value: row.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut addresses = conn.prepare_cached(
        "SELECT address, verified FROM user_verifiable_addresses WHERE user_pk = ?1 ORDER BY id",
    )?;
    let addresses = addresses
        .query_map(params![pk], |row| {
            Ok(Address {
                address: row.get(0)?,
                verified: row.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ExtendedUser {
        user,
        identifiers: identifiers_with_details
            .iter()
            .map(|i| i.value.clone())
            .collect(),
        identifiers_with_details,
        verified_addresses: addresses
            .iter()
            .filter(|a| a.verified)
            .map(|a| a.address.clone())
            .collect(),
        addresses,
    })
}

/// The user `id` of `pool`, with its sub-records, credentials blurred.
pub fn user(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    id: Uuid,
) -> Result<InPool<UserWithData>, StoreError> {
    if stored_pool(conn, tenant, pool)?.is_none() {
        return Ok(InPool::UnknownPool);
    }
    let pk: Option<i64> = conn
        .prepare_cached(
            "SELECT pk FROM users WHERE id = ?1 AND tenant_id = ?2 AND user_pool_id = ?3",
        )?
        .query_row(params![&id.as_bytes()[..], tenant, pool], |row| row.get(0))
        .optional()?;
    with_data(conn, tenant, pool, pk)
}

/// The user of `pool` that `key` names (see the module for the cost of an
/// address), with its sub-records, credentials blurred. Identifiers and
/// addresses are compared as the pool's `identifier_case_insensitive` says:
/// on their lower-cased form when it is true, exactly otherwise (the
/// description's default for a boolean is false).
pub fn user_by_key(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    key: &UserKey,
) -> Result<InPool<UserWithData>, StoreError> {
    let Some(stored) = stored_pool(conn, tenant, pool)? else {
        return Ok(InPool::UnknownPool);
    };
    let insensitive = stored.identifier_case_insensitive.unwrap_or(false);
    // Stored values have `*_lc` equal to the value lower-cased (checked at
    // import), so an exact match is also a match of the lower-cased forms:
    // the indexed `*_lc` narrows, the exact value decides.
    let (sql, value) = match key {
        UserKey::Identifier(value) => (
            "SELECT user_pk FROM user_identifiers WHERE tenant_id = ?1 AND user_pool_id = ?2
             AND type IN ('email', 'mobile', 'uid', 'external', 'federated')
             AND identifier_lc = ?3 AND (?4 OR identifier = ?5) ORDER BY type LIMIT 1",
            value,
        ),
        UserKey::Address(value) => (
            "SELECT user_pk FROM user_verifiable_addresses WHERE tenant_id = ?1
             AND user_pool_id = ?2 AND address_lc = ?3 AND (?4 OR address = ?5)
             AND verified = 1 ORDER BY type LIMIT 1",
            value,
        ),
    };
    let pk: Option<i64> = conn
        .prepare_cached(sql)?
        .query_row(
            params![tenant, pool, value.to_lowercase(), insensitive, value],
            |row| row.get(0),
        )
        .optional()?;
    with_data(conn, tenant, pool, pk)
}

/// The user stored at `pk` with its sub-records, credentials blurred.
fn with_data(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    pk: Option<i64>,
) -> Result<InPool<UserWithData>, StoreError> {
    let Some(pk) = pk else {
        return Ok(InPool::Found(None));
    };
    let Some(entry) = stored_entry(conn, tenant, pool, pk)? else {
        return Ok(InPool::Found(None));
    };
    let mut credentials = entry.credentials;
    UserWithData::blur(&mut credentials);
    Ok(InPool::Found(Some(UserWithData {
        user: entry.user,
        credentials,
        identifiers: entry.identifiers,
        verifiable_addresses: entry.addresses,
    })))
}
