//! Bodies of the platform's system pool, user and schema endpoints
//! (`…/system/pools`, `…/system/pools/{ipID}/users`, `…/users/{userID}`,
//! `…/users/by_key`, `…/system/schemas`), as the 2025 description defines
//! them.
//!
//! The answers are built from the dump's records ([`Pool`], [`User`] and
//! its sub-records), which they carry whole (`flatten`) with the fields the
//! answer adds, so a field added to a record reaches every answer. They are
//! written, not read, by ferry: only the request body [`GetUserByKey`]
//! and the list of schemas [`Schemas`] (read by `ferry import --preflight`)
//! deserialise.

use serde::{Deserialize, Serialize};

use super::records::{
    IdentifierType, Pool, Schema, User, UserCredential, UserIdentifier, UserVerifiableAddress,
};

/// The answer of `systemListSchemas` (`Schemas`): every identity schema of
/// the tenant (the description pages it not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schemas {
    /// The schemas, in id order.
    pub schemas: Vec<Schema>,
}

/// A pool as `systemGetPool` and `systemListPools` answer it (`PoolResponse`):
/// its record and how many users it has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolResponse {
    /// The pool as stored.
    #[serde(flatten)]
    pub pool: Pool,
    /// Users stored in the pool.
    pub number_of_users: i64,
}

/// The answer of `systemListPools` (`Pools`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pools {
    /// One page of the tenant's pools.
    pub pools: Vec<PoolResponse>,
}

/// A verifiable address in a list of users (`Address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    /// The address as given.
    pub address: String,
    /// Whether its owner proved control of it.
    pub verified: bool,
}

/// An identifier with its kind in a list of users (`IdentifierDetails`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentifierDetails {
    /// Email, mobile, ...
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    /// The identifier as the user types it.
    pub value: String,
}

/// A user in a list of users (`ExtendedUser`): its record and a summary of
/// its identifiers and addresses, without credentials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtendedUser {
    /// The user as stored.
    #[serde(flatten)]
    pub user: User,
    /// Every identifier's value.
    pub identifiers: Vec<String>,
    /// Every identifier with its kind.
    pub identifiers_with_details: Vec<IdentifierDetails>,
    /// Every verifiable address with whether it is verified.
    pub addresses: Vec<Address>,
    /// The verified addresses' values. The description spells the field
    /// with a space, and so does the answer.
    #[serde(rename = "verified addresses")]
    pub verified_addresses: Vec<String>,
}

/// The answer of `systemListUsers` (`Users`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Users {
    /// One page of the pool's users, in id order.
    pub users: Vec<ExtendedUser>,
}

/// A user with its sub-records, as `systemGetUser` and `systemGetUserByKey`
/// answer it (`UserWithData`). Credentials are blurred: see
/// [`UserWithData::blur`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserWithData {
    /// The user as stored.
    #[serde(flatten)]
    pub user: User,
    /// Its credentials, blurred.
    pub credentials: Vec<UserCredential>,
    /// Its identifiers.
    pub identifiers: Vec<UserIdentifier>,
    /// Its verifiable addresses.
    pub verifiable_addresses: Vec<UserVerifiableAddress>,
}

impl UserWithData {
    /// Blurs credentials the way the description promises ("blurred
    /// credentials") without saying how: a password keeps its hash method
    /// (what a rehearsal wants to see arrived) and loses its value, salt and
    /// parameters; any other payload is emptied. Nothing of a secret is
    /// answered.
    pub fn blur(credentials: &mut [UserCredential]) {
        for credential in credentials {
            credential.payload.other.clear();
            if let Some(hash) = credential.payload.hashed_password.as_mut() {
                hash.config = super::records::HashConfig::only(hash.config.method);
                hash.value.clear();
            }
        }
    }
}

/// The body of `systemGetUserByKey` (`GetUserByKey`): one of an identifier
/// or a verified address.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetUserByKey {
    /// A verified address of the user.
    #[serde(default)]
    pub address: Option<String>,
    /// An identifier of the user.
    #[serde(default)]
    pub identifier: Option<String>,
}
