//! Reading one account for the password verification endpoint: the user
//! that owns an identifier in a pool, or has an id, with its password
//! credentials. Runs on a read-only connection of its own, like an export.

use rusqlite::{params, Connection, OptionalExtension};
use time::OffsetDateTime;
use uuid::Uuid;

use super::columns::{get_enum, get_json, get_opt_enum, get_opt_time, get_uuid};
use super::error::StoreError;
use crate::contract::records::{CredentialPayload, CredentialState, UserStatus};

/// A password credential as stored.
#[derive(Debug, Clone)]
pub struct StoredPassword {
    /// The payload, holding `hashed_password`.
    pub payload: CredentialPayload,
    /// `valid`, `must_be_reset`, `must_be_changed` or unset.
    pub state: Option<CredentialState>,
    /// When it expires; unset or 1900-01-01 means never.
    pub expires_at: Option<OffsetDateTime>,
}

/// The user that owns an identifier.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user's id, the answer of a successful verification.
    pub user_id: Uuid,
    /// Only `active` users may sign in.
    pub status: UserStatus,
    /// The user's password credentials.
    pub passwords: Vec<StoredPassword>,
}

/// What a lookup found.
#[derive(Debug, Clone)]
pub enum AccountLookup {
    /// The pool does not exist in the tenant.
    UnknownPool,
    /// No user of the pool has this identifier.
    NoUser,
    /// The owner of the identifier.
    Found(Account),
}

/// How a verification names its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountKey {
    /// An identifier, lower-cased (the way identifiers are unique).
    Identifier(String),
    /// The user's id (`userID`).
    UserId(Uuid),
}

/// Finds the user of `pool` that `key` names.
pub fn find(
    conn: &Connection,
    tenant: &str,
    pool: &str,
    key: &AccountKey,
) -> Result<AccountLookup, StoreError> {
    let pool_exists = conn
        .prepare_cached("SELECT 1 FROM pools WHERE tenant_id = ?1 AND id = ?2")?
        .exists(params![tenant, pool])?;
    if !pool_exists {
        return Ok(AccountLookup::UnknownPool);
    }
    let columns =
        |row: &rusqlite::Row<'_>| Ok((get_uuid(row, 0)?, get_enum::<UserStatus>(row, 1)?));
    let user = match key {
        AccountKey::Identifier(identifier_lc) => conn
            .prepare_cached(
                "SELECT u.id, u.status FROM user_identifiers i JOIN users u ON u.id = i.user_id
                 WHERE i.tenant_id = ?1 AND i.user_pool_id = ?2 AND i.identifier_lc = ?3
                 ORDER BY i.type LIMIT 1",
            )?
            .query_row(params![tenant, pool, identifier_lc], columns),
        AccountKey::UserId(id) => conn
            .prepare_cached(
                "SELECT id, status FROM users
                 WHERE id = ?1 AND tenant_id = ?2 AND user_pool_id = ?3",
            )?
            .query_row(params![id.as_bytes().as_slice(), tenant, pool], columns),
    }
    .optional()?;
    let Some((user_id, status)) = user else {
        return Ok(AccountLookup::NoUser);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT payload, state, expires_at FROM user_credentials
         WHERE user_id = ?1 AND type = 'password' ORDER BY id",
    )?;
    let passwords = stmt
        .query_map(params![user_id.as_bytes().as_slice()], |row| {
            Ok(StoredPassword {
                payload: get_json(row, 0)?,
                state: get_opt_enum(row, 1)?,
                expires_at: get_opt_time(row, 2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AccountLookup::Found(Account {
        user_id,
        status,
        passwords,
    }))
}
