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
}

impl ImportError {
    /// Whether the user's input or flags are at fault (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            ImportError::Setup(e) => e.is_usage(),
            ImportError::Mismatch { .. } => true,
            _ => false,
        }
    }
}
