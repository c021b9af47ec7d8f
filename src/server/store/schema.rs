//! The database schema and how connections are opened.
//!
//! Records keep their contract fields as columns (ids as 16-byte blobs,
//! timestamps as RFC 3339 text in UTC, free-form objects as JSON text), so
//! the data can be inspected with any SQLite client. Keys:
//!
//! - `tenants(id)` → `pools(tenant_id, id)` → `users(tenant_id, user_pool_id)`;
//! - `user_credentials`, `user_identifiers`, `user_verifiable_addresses` →
//!   `users(id)`, deleted with their user;
//! - `identifiers_unique` on `(tenant_id, user_pool_id, type, identifier_lc)`:
//!   an identifier belongs to at most one user of a pool.
//!
//! `PRAGMA user_version` carries the schema version; a database of another
//! version is refused rather than guessed at.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;
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
    id                  BLOB PRIMARY KEY,
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
CREATE INDEX IF NOT EXISTS users_by_pool ON users(tenant_id, user_pool_id, id);
CREATE TABLE IF NOT EXISTS user_credentials (
    id            BLOB PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    user_pool_id  TEXT NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT,
    expires_at    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_by_user ON user_credentials(user_id, id);
CREATE TABLE IF NOT EXISTS user_identifiers (
    id             BLOB PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    user_pool_id   TEXT NOT NULL,
    user_id        BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type           TEXT NOT NULL,
    identifier     TEXT NOT NULL,
    identifier_lc  TEXT NOT NULL,
    metadata       TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS identifiers_unique
    ON user_identifiers(tenant_id, user_pool_id, type, identifier_lc);
CREATE INDEX IF NOT EXISTS identifiers_by_user ON user_identifiers(user_id, id);
CREATE TABLE IF NOT EXISTS user_verifiable_addresses (
    id                        BLOB PRIMARY KEY,
    tenant_id                 TEXT NOT NULL,
    user_pool_id              TEXT NOT NULL,
    user_id                   BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type                      TEXT NOT NULL,
    address                   TEXT NOT NULL,
    address_lc                TEXT NOT NULL,
    status                    TEXT NOT NULL,
    verified                  INTEGER NOT NULL,
    verified_at               TEXT,
    preferred_contact_method  TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS addresses_by_user ON user_verifiable_addresses(user_id, id);
";

/// How long a connection waits for another one's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the writer connection: creates the file and the schema when
/// missing, checks the schema version, and sets WAL, the durability's
/// `synchronous`, and foreign keys.
pub fn open_writer(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Small pages, set before the first write (an existing database keeps
    // its own): ids are random, so each insert dirties one leaf page of each
    // index and a commit writes every dirty page to the WAL whole. With 1 KiB
    // pages a commit writes a quarter of what it does with the default 4 KiB,
    // and that write volume is what bounds the server's ingest.
    conn.pragma_update(None, "page_size", 1024)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::PowerLoss => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 256 MiB of page cache: ids are random, so every insert lands on a
    // random page of each index; the indexes of a few million users stay in
    // memory instead of being read back from the OS for every request.
    conn.pragma_update(None, "cache_size", -262_144)?;
    // No checkpoints on the writer: the checkpointer thread runs them on its
    // own connection (see `super::checkpointer`), so that copying the WAL
    // into the database never holds up a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // Statement and savepoint journals (the original of every page a request
    // changes, kept to roll that request back alone) in memory, not in
    // temporary files: they never need to survive a crash, and writing them
    // was a third of the writer's time.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&conn)?;
    Ok(conn)
}

/// Opens the checkpointer's connection (read-write, no schema work).
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
