//! Reading one stored user's [`Entry`], to compare it with the entry a
//! request brings for it (the `ferry-users-changed` answer header).

use rusqlite::{params, Connection};

use super::export::{address_from_row, credential_from_row, identifier_from_row, user_from_row};
use super::export::{ADDRESSES_SQL, CREDENTIALS_SQL, IDENTIFIERS_SQL, USERS_SQL};
use crate::contract::entry::Entry;

/// The stored entry of the user at `pk` (of `tenant`, in `pool`).
pub(super) fn stored_entry(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    pk: i64,
) -> rusqlite::Result<Option<Entry>> {
    // The export's queries, over the range of rows that is this one user.
    let range = params![tenant, pool, pk - 1, pk];
    let mut users = conn.prepare_cached(USERS_SQL)?;
    let Some(user) = users.query_map(range, user_from_row)?.next().transpose()? else {
        return Ok(None);
    };
    let credentials = conn
        .prepare_cached(CREDENTIALS_SQL)?
        .query_map(range, credential_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let identifiers = conn
        .prepare_cached(IDENTIFIERS_SQL)?
        .query_map(range, identifier_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let addresses = conn
        .prepare_cached(ADDRESSES_SQL)?
        .query_map(range, address_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(Entry::new(user, credentials, identifiers, addresses)))
}
