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
//!   an identifier belongs to at most one user of a pool;
//! - `identity_schemas(tenant_id, id)`: a tenant's schemas, each a JSON
//!   document like pools (few, and free-form);
//! - `user_groups(tenant_id, user_pool_id, id)`: a pool's groups, as JSON;
//! - `user_group_members`: clustered by their user like sub-records,
//!   `PRIMARY KEY (user_pk, group_id)`, the group →
//!   `user_groups(tenant_id, user_pool_id, id)`.
//!
//! Why `pk`: record ids are random UUIDs, so every index on them takes each
//! insert to a random page, and each page an import dirties is written to
//! the WAL and checkpointed back. Clustering sub-records by their user's
//! ascending `pk`, and listing a pool's users by `pk`, keeps those writes
//! append-only for new users; only `users.id` and `identifiers_unique` stay
//! random (two random pages per user instead of ten). On the 2-core
//! benchmark box that tripled the import rate.
//!
//! `PRAGMA user_version` carries the schema version. A database of an older
//! version is brought up to date at open, one migration after the other
//! ([`MIGRATIONS`]), in one transaction; a new database takes the same path
//! from version 0, so both end with the same tables. One of a newer version
//! is refused rather than guessed at.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::StoreError;
use crate::private;
use crate::server::config::Durability;

/// Version of the schema, kept in `PRAGMA user_version`: the number of
/// [`MIGRATIONS`].
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The migrations: the one at index `i` takes a database of version `i` to
/// version `i + 1`. Only ever append.
const MIGRATIONS: [&str; 2] = [VERSION_1, VERSION_2];

/// Version 1: tenants, pools, users and their sub-records.
const VERSION_1: &str = "
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

/// Version 2: the rest of the platform's dump (the 2025 description's
/// fields of users and addresses, schemas, groups, memberships).
const VERSION_2: &str = "
ALTER TABLE users ADD COLUMN business_metadata_schema_id TEXT;
-- JSON: the description gives user_type no type.
ALTER TABLE users ADD COLUMN user_type TEXT;
ALTER TABLE user_verifiable_addresses ADD COLUMN metadata TEXT;
CREATE TABLE identity_schemas (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    id         TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE user_groups (
    tenant_id     TEXT NOT NULL,
    user_pool_id  TEXT NOT NULL,
    id            TEXT NOT NULL,
    doc           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_pool_id, id),
    FOREIGN KEY (tenant_id, user_pool_id) REFERENCES pools(tenant_id, id)
);
CREATE TABLE user_group_members (
    user_pk       INTEGER NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
    group_id      TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    user_pool_id  TEXT NOT NULL,
    user_id       BLOB NOT NULL,
    PRIMARY KEY (user_pk, group_id),
    FOREIGN KEY (tenant_id, user_pool_id, group_id)
        REFERENCES user_groups(tenant_id, user_pool_id, id)
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
    let pending = usize::try_from(version)
        .ok()
        .and_then(|done| MIGRATIONS.get(done..))
        .ok_or(StoreError::SchemaVersion {
            found: version,
            expected: SCHEMA_VERSION,
        })?;
    if pending.is_empty() {
        return Ok(());
    }
    tracing::info!(
        from = version,
        to = SCHEMA_VERSION,
        "Bringing the database schema up to date."
    );
    let steps = pending.concat();
    Ok(conn.execute_batch(&format!(
        "BEGIN; {steps} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(conn: &Connection, table: &str) -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_version_1_database_is_migrated_to_the_tables_of_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("v1.db");
        {
            let conn = Connection::open(&old).unwrap();
            conn.execute_batch(&format!("{VERSION_1} PRAGMA user_version = 1;"))
                .unwrap();
            conn.execute("INSERT INTO tenants VALUES ('t', 'now')", [])
                .unwrap();
        }
        let migrated = open_writer(&old, Durability::Process).unwrap();
        let new = open_writer(&dir.path().join("new.db"), Durability::Process).unwrap();
        for conn in [&migrated, &new] {
            let version: i64 = conn
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .unwrap();
            assert_eq!(version, SCHEMA_VERSION);
        }
        for table in ["users", "user_verifiable_addresses", "user_groups"] {
            assert_eq!(columns(&migrated, table), columns(&new, table), "{table}");
        }
        assert!(columns(&new, "users").contains(&"user_type".to_owned()));
        let kept: i64 = migrated
            .query_row("SELECT count(*) FROM tenants", [], |row| row.get(0))
            .unwrap();
        assert_eq!(kept, 1, "the data of version 1 is kept");
    }

    #[test]
    fn a_database_of_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            open_writer(&path, Durability::Process),
            Err(StoreError::SchemaVersion { .. })
        ));
    }
}
