//! What prevents an import from starting or going on (a row-level problem
//! is a rejection, and a target that stops the run is an [`super::End`]).

use std::path::PathBuf;

use crate::checkpoint::{AckError, CheckpointError, Mismatch};
use crate::error::Error;
use crate::reject::RejectsError;

/// What prevents an import from starting or going on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(transparent)]
    Setup(#[from] Error),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the checkpoint {path} was written for a different run: {mismatch}; run with --restart to start over, or restore the original source and flags")]
    Mismatch { path: PathBuf, mismatch: Mismatch },
    #[error("batch acknowledgement: {0}")]
    Ack(#[from] AckError),
    #[error(transparent)]
    Rejects(#[from] RejectsError),
    #[error("the checkpoint could not be saved: {0}")]
    Save(String),
    /// Another run holds this run's checkpoint or rejects file.
    #[error("another ferry run{} is using {}: wait for it to end (or stop it), then run again", holder.map(|pid| format!(" (process {pid})")).unwrap_or_default(), path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The process id written in it, if readable.
        holder: Option<u32>,
    },
    /// The lock file could not be opened or written.
    #[error("cannot lock {}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ImportError {
    /// Whether the user's input or flags are at fault (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            ImportError::Setup(e) => e.is_usage(),
            ImportError::Mismatch { .. }
            | ImportError::Locked { .. }
            | ImportError::Checkpoint(CheckpointError::OtherIds { .. }) => true,
            _ => false,
        }
    }
}
