//! The library's top-level error: what stops a run before or while it works.
//! Row-level problems are never errors; they are [`crate::reject::Rejection`]s.

use std::path::PathBuf;

use crate::mapping::MappingError;
use crate::preflight::PreflightError;
use crate::secret::SecretError;
use crate::send::backoff::BackoffError;
use crate::source::SourceError;

/// A run-stopping error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source cannot be read as a source at all.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The mapping file is unusable or does not fit the source.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The client secret cannot be had.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The retry settings are inconsistent.
    #[error("retry settings: {0}")]
    Backoff(#[from] BackoffError),
    /// A plain-HTTP target that is not this machine, not explicitly allowed.
    #[error("the target {url} is plain HTTP to another machine: the client secret and every password hash would cross the network in clear text")]
    InsecureTarget {
        /// The target's URL.
        url: String,
    },
    /// An output path is the source itself: writing it would destroy the export.
    #[error("the {what} {} is the source itself: writing it would destroy the export", path.display())]
    OutputIsSource {
        /// Which output ("rejects file", "checkpoint", ...).
        what: &'static str,
        /// The path given.
        path: PathBuf,
    },
    /// An output path is inside a directory source: a later run would read
    /// it as one of the source's files.
    #[error("the {what} {} is inside the source directory: a later run would read it as part of the export", path.display())]
    OutputInSource {
        /// Which output ("rejects file", "checkpoint", ...).
        what: &'static str,
        /// The path given.
        path: PathBuf,
    },
    /// Two outputs are the same file: one would overwrite the other.
    #[error("the {what} and the {other} are the same file {}", path.display())]
    OutputsCollide {
        /// One output.
        what: &'static str,
        /// The other.
        other: &'static str,
        /// The path they share.
        path: PathBuf,
    },
    /// The destination pool's schemas cannot be had or used (`--preflight`).
    #[error("preflight: {0}")]
    Preflight(#[from] PreflightError),
    /// Under `--strict`, the destination pool's schemas refuse users of the
    /// source (`--preflight`): nothing was sent.
    #[error("pool {pool}'s schemas refuse {users} user(s) of the source, so nothing was sent (--strict): {}{}; fix the source or the mapping, or drop --strict to import the others and reject these", first.join(" | "), if *users > first.len() as u64 { " | ..." } else { "" })]
    PreflightRefused {
        /// The destination pool.
        pool: String,
        /// Users refused.
        users: u64,
        /// The first of them: row and violations (fields, never values).
        first: Vec<String>,
    },
    /// A settings value is out of range or inconsistent.
    #[error("{0}")]
    Usage(String),
    /// An output file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the error is the user's input or flags (exit code 2) rather than
    /// a failure while working (exit code 1).
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Source(e) => e.is_usage(),
            Error::Mapping(_)
            | Error::Usage(_)
            | Error::Secret(_)
            | Error::Backoff(_)
            | Error::InsecureTarget { .. }
            | Error::OutputIsSource { .. }
            | Error::OutputInSource { .. }
            | Error::OutputsCollide { .. }
            | Error::PreflightRefused { .. } => true,
            Error::Preflight(e) => e.is_usage(),
            Error::Output { .. } => false,
        }
    }

    /// Wraps an I/O error on an output path.
    pub fn output(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Output { path, source }
    }
}
