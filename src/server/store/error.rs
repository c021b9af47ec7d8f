//! The store's errors: a storage failure ([`StoreError`]), and why an import
//! was not applied ([`ApplyError`]: refused, or a storage failure). Every
//! part of the store returns them, so they live apart from the parts.

use std::io;
use std::path::PathBuf;

use crate::server::rejection::Rejection;

/// A storage failure (not a refusal of the request: see [`Rejection`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file could not be created before SQLite opened it.
    #[error("cannot create the database {}", path.display())]
    Create {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The database was written by a ferry with another schema.
    #[error("the database is at schema version {found}; this ferry knows version {expected}")]
    SchemaVersion {
        /// What `PRAGMA user_version` says.
        found: i64,
        /// What this build writes.
        expected: i64,
    },
    /// Serialising an export failed.
    #[error("export I/O error: {0}")]
    Io(#[from] io::Error),
    /// The writer thread is gone (the server is shutting down).
    #[error("the database writer has stopped")]
    Closed,
    /// The export's client went away; not a failure of the store.
    #[error("the client went away")]
    ClientGone,
}

/// Why an import was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The request was refused; the transaction was rolled back.
    #[error("{0}")]
    Rejected(Rejection),
    /// Storage failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Rejection> for ApplyError {
    fn from(rejection: Rejection) -> ApplyError {
        ApplyError::Rejected(rejection)
    }
}

impl From<rusqlite::Error> for ApplyError {
    fn from(err: rusqlite::Error) -> ApplyError {
        ApplyError::Store(StoreError::Sqlite(err))
    }
}
