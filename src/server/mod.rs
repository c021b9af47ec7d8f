//! The reference target server (`ferry serve`): the Identity Pools bulk
//! import API of `shared/spec/identity-pool-import-api.md` on an embedded
//! SQLite database.
//!
//! It is what ferry loads into when no target is given, what the tests and
//! benchmarks run against, and a way to rehearse a migration on a laptop.
//! Start it in-process with [`spawn`] (the tests bind `127.0.0.1:0`) or with
//! [`run`] and a shutdown future; [`app`] gives the bare router for
//! socket-less handler tests.
//!
//! ```text
//! request → serve (connection loop, kill switch for injected drops)
//!         → routes (observe: logs + metrics) → faults → auth
//!         → validate (parse, record rules; blocking pool, in parallel)
//!         → store (one writer thread, one transaction per request) → 204
//! ```
//!
//! # The platform's endpoints
//!
//! As the 2025 description (`spec/platform/identitysystem-2025-04.yaml`)
//! has them, at every layout:
//!
//! | request | answer | scope |
//! |---|---|---|
//! | `POST …/{tid}/system/oauth2/token` | 200 token | client credentials |
//! | `PUT …/configuration?mode=` `TenantDump` | 204; 400, 401, 403, 404, 409, 413, 429 | `manage_configuration` |
//! | `GET …/configuration` | 200 `TenantDump` | `read_configuration` |
//! | `PATCH …/configuration` | 405 `Allow: GET, PUT` (RFC 6902 is not served) | — |
//! | `GET …/system/pools`, `…/system/pools/{ipID}` | 200 `Pools`, `PoolResponse` ([`system`]) | `identity` |
//! | `GET …/system/pools/{ipID}/users?after_user_id=&limit=` | 200 `Users`, in id order ([`system`]) | `identity` |
//! | `GET …/system/pools/{ipID}/users/{userID}` | 200 `UserWithData`, credentials blurred ([`system`]) | `identity` |
//! | `POST …/system/pools/{ipID}/users/by_key` | 200 `UserWithData` ([`system`]) | `identity` |
//! | `POST …/system/pools/{ipID}/user/password/v2/verify` | 200 `VerifyPasswordResponseDataV2` ([`verify`]) | `identity` |
//! | `DELETE …/system/pools/{ipID}/users/{userID}`, `…/groups/{groupID}/users/{userID}`, `…/groups/{groupID}`, `…/system/pools/{ipID}`, `…/system/schemas/{schID}` | 204; 404 when already gone ([`deletes`]) | `identity` |
//!
//! **No silent drop**: every collection of the description's `TenantDump`
//! is stored and exported (`pools` with every setting, `schemas`, `groups`,
//! `group_members`, users and their sub-records), except `codes`, which is
//! refused with a 400 naming it (one-time codes are secrets of the old
//! tenant); a field the description does not define, at the top of the body
//! or in any record, is a 400 naming it (`validate.rs`). `mode` applies to
//! every collection by its key (`store/write.rs`). This is stricter than a
//! generated server, which would ignore an unknown field: in a rehearsal, an
//! ignored field is data that would vanish at the real tenant. A CI step
//! fuzzes these endpoints from the description with schemathesis
//! (`.ci/schemathesis/`).
//!
//! # Ferry extensions to the contract
//!
//! Their paths and headers are defined with the contract's, in
//! [`crate::contract::api`].
//!
//! - **`Ferry-Users-Existing: N`** and **`Ferry-Users-Changed: M`** on the
//!   `204` of an import: how many users of the request were already stored
//!   before it (kept as they were under `ignore`, overwritten under
//!   `update`), and how many of those had a stored entry that differed from
//!   the request's, timestamps aside. A client tells its counts from them
//!   (imported, updated, kept, skipped: see [`crate::report::Counts`]).
//! - **Export paging** (the platform's way to read a large pool is
//!   `systemListUsers`, above; this pages the dump's own shape, with
//!   credentials, which the importer's read-back needs):
//!   `GET …/configuration?pool_id=P&after=UUID&limit=N`
//!   returns the users of pool `P` imported after the user `after` (exports
//!   list users in import order), at most `N` (default 1000, at most 10000),
//!   with their credentials, identifiers and addresses, in the import body's
//!   shape. When the page is full, the `Ferry-Next-After` header gives the
//!   `after` of the next page (the page's last user). `pool_id` alone exports
//!   one pool whole, with its groups. An `after` that names no user of the
//!   pool is a 400. A page carries its users' group memberships; schemas are
//!   in the whole tenant's export only.
//! - **One user**: `GET …/configuration?pool_id=P&user_id=UUID` exports that
//!   user with its sub-records (empty arrays when it is not stored); the
//!   importer uses it to tell its own earlier write from a conflict.
//! - **Pools without an id** in an import are stored under their `name`;
//!   schemas and groups need an `id` (the description leaves it optional),
//!   and memberships all four of their fields: records are matched by key.
//! - **Password verification** is not an extension any more: `ferry serve`
//!   answers the platform's `POST …/system/pools/{ipID}/user/password/v2/verify`
//!   ([`Endpoint::PasswordVerify`](crate::contract::api::Endpoint), scope
//!   `identity`) with its `VerifyPasswordResponseDataV2`; see [`verify`] for
//!   what each answer tells, the dummy bcrypt check and the rate limits
//!   (429, ferry's stand-in for the platform's brute-force protection).
//! - **Every layout**: each endpoint is served at the `guide`, `client` and
//!   `vanity` layouts ([`crate::contract::api::Layout`]); a `vanity` path,
//!   which names no tenant, is for the server's default tenant
//!   ([`ServerConfig::tenant_id`], `--tenant`).
//! - **A user is one entry**: under `update` a re-imported user's stored
//!   credentials, identifiers and addresses are replaced by the request's;
//!   under `ignore` a stored user is kept with its sub-records, and the
//!   request's sub-records of that user are ignored with it.
//! - **Records never move**: an id stored for another tenant, or a
//!   sub-record id stored for another user, is a 409 in every mode.
//! - **Fault injection** (`--fail-rate`, `--throttle-rate`, `--drop-rate`,
//!   `--latency-ms`, `--max-in-flight`) applies to imports only, so the token
//!   endpoint and the export always tell the truth.
//!
//! # Durability
//!
//! WAL with `synchronous=NORMAL` by default: a 204 is sent after the commit
//! reached the WAL file through the OS, so an acknowledged import survives a
//! `kill -9` of the server; [`Durability::PowerLoss`] adds an fsync per commit
//! to survive power loss too.

mod attempts;
mod auth;
mod body;
mod config;
pub mod credentials;
pub mod deletes;
mod error;
mod faults;
pub(crate) mod hashcheck;
mod metrics;
mod rejection;
mod routes;
mod serve;
mod state;
mod store;
pub mod system;
mod tenant;
pub(crate) mod validate;
pub mod verify;

pub use config::{
    ClientSecret, ConfigError, Durability, FaultConfig, LatencyRange, SaltConvention, ServerConfig,
    DEFAULT_CLIENT_ID, DEFAULT_MAX_BODY, DEFAULT_POOL, DEFAULT_TENANT, DEFAULT_TOKEN_TTL,
};
pub use error::{ApiError, ServerError};
pub use rejection::{RecordRef, Rejection, RejectionKind};
pub use routes::app;
pub use serve::{run, spawn, ServerHandle};
pub use state::{AppState, ConnectionKill};
pub use store::{count_records, ExportScope, RecordCounts, StoreError};
