//! The database schema and how connections are opened.
//!
//! Records keep their contract fields as columns (ids as 16-byte blobs,
//! timestamps as RFC 3339 text with their offset, free-form objects as JSON
//! text), so the data can be inspected with any SQLite client. Keys:
//!
//! - `tenants(id)` → `pools(tenant_id, id)` → `users(tenant_id, user_pool_id)`;
//! - users have a unique `id` (the contract's identity) and an integer `pk`
//!   (their row, in import order);
//! - `user_credentials`, `user_identifiers`, `user_verifiable_addresses` are
//!   clustered by their user: `PRIMARY KEY (user_pk, id)`, `user_pk` →
//!   `users(pk)`, deleted with their user. Their ids are unique across the
//!   database; the writer enforces it with an in-memory set ([`super::ids`]);
//! - `identifiers_unique` on `(tenant_id, user_pool_id, type, identifier_lc)`:
//!   an identifier belongs to at most one user of a pool.
//!
//! Why `pk`: record ids are random UUIDs, so every index on them takes each
//! insert to a random page, and each page an import dirties is written to
//! the WAL and checkpointed back. Clustering sub-records by their user's
//! ascending `pk`, and listing a pool's users by `pk`, keeps those writes
//! append-only for new users; only `users.id` and `identifiers_unique` stay
//! random (two random pages per user instead of ten). On the 2-core
//! benchmark box that tripled the import rate.
//!
//! `PRAGMA user_version` carries the schema version; a database of another
//! version is refused rather than guessed at.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::StoreError;
use crate::private;
use crate::server::config::Durability;

/// Version of the schema below, kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pools (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- The whole pool record as JSON: pools are few and carry free-form settings.
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE IF NOT EXISTS users (
    pk                  INTEGER PRIMARY KEY,
    id                  BLOB NOT NULL UNIQUE,
    tenant_id           TEXT NOT NULL,
    user_pool_id        TEXT NOT NULL,
    status              TEXT NOT NULL,
    payload             TEXT,
    payload_schema_id   TEXT,
    metadata            TEXT,
    metadata_schema_id  TEXT,
    business_metadata   TEXT,
    created_at          TEXT,
    updated_at          TEXT,
    status_updated_at   TEXT,
    FOREIGN KEY (tenant_id, user_pool_id) REFERENCES pools(tenant_id, id)
);
CREATE INDEX IF NOT EXISTS users_by_pool ON users(tenant_id, user_pool_id, pk);
CREATE TABLE IF NOT EXISTS user_credentials (
    user_pk       INTEGER NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
    id            BLOB NOT NULL,
    tenant_id     TEXT NOT NULL,
    user_pool_id  TEXT NOT NULL,
    user_id       BLOB NOT NULL,
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT,
    expires_at    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (user_pk, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS user_identifiers (
    user_pk        INTEGER NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
    id             BLOB NOT NULL,
    tenant_id      TEXT NOT NULL,
    user_pool_id   TEXT NOT NULL,
    user_id        BLOB NOT NULL,
    type           TEXT NOT NULL,
    identifier     TEXT NOT NULL,
    identifier_lc  TEXT NOT NULL,
    metadata       TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (user_pk, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS identifiers_unique
    ON user_identifiers(tenant_id, user_pool_id, type, identifier_lc);
CREATE TABLE IF NOT EXISTS user_verifiable_addresses (
    user_pk                   INTEGER NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
    id                        BLOB NOT NULL,
    tenant_id                 TEXT NOT NULL,
    user_pool_id              TEXT NOT NULL,
    user_id                   BLOB NOT NULL,
    type                      TEXT NOT NULL,
    address                   TEXT NOT NULL,
    address_lc                TEXT NOT NULL,
    status                    TEXT NOT NULL,
    verified                  INTEGER NOT NULL,
    verified_at               TEXT,
    preferred_contact_method  TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    PRIMARY KEY (user_pk, id)
) WITHOUT ROWID;
";

/// How long a connection waits for another one's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the writer connection: creates the file and the schema when
/// missing, checks the schema version, and sets WAL, the durability's
/// `synchronous`, and foreign keys.
pub fn open_writer(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    guard_file(path)?;
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::PowerLoss => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Checkpoints run in the background (see `checkpoint`); when the WAL
    // restarts, its file is cut back to 64 MiB.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    // 64 MiB of page cache: indexes of a few million users stay in memory.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&conn)?;
    Ok(conn)
}

/// Creates the database file with mode 0600 when it does not exist, before
/// SQLite does (with the umask's mode): it holds every user's password hash,
/// and SQLite gives its `-wal` and `-shm` files the database's mode. An
/// existing database open to other users is the owner's to fix (it may be
/// shared on purpose), so it is reported, not changed.
fn guard_file(path: &Path) -> Result<(), StoreError> {
    let created =
        private::create_private_if_missing(path).map_err(|source| StoreError::Create {
            path: path.to_owned(),
            source,
        })?;
    if let Some(mode) = private::open_to_others(path).filter(|_| !created) {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            "The database is readable by other users and holds password hashes; chmod 600 it."
        );
    }
    Ok(())
}

/// Opens the background checkpointer's connection.
pub fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Opens a read-only connection for an export.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    match version {
        0 => Ok(conn.execute_batch(&format!(
            "BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))?),
        SCHEMA_VERSION => Ok(()),
        found => Err(StoreError::SchemaVersion {
            found,
            expected: SCHEMA_VERSION,
        }),
    }
}
