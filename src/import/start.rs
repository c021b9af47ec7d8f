//! Where a run starts: a new checkpoint, or the one on disk if it belongs to
//! this run (same source, same settings), and then the import time, the
//! batch and the source position to go on from.

use std::path::PathBuf;

use time::OffsetDateTime;

use super::error::ImportError;
use crate::batch::FIRST_BATCH;
use crate::checkpoint::{Checkpoint, SourceFingerprint};
use crate::config::ImportConfig;
use crate::source::Position;

/// The beginning of a run, decided from its configuration and checkpoint.
#[derive(Debug)]
pub(super) struct Start {
    /// The checkpoint the run goes on with (new, or loaded and checked).
    pub(super) checkpoint: Checkpoint,
    /// Whether the run resumes an earlier one.
    pub(super) resumed: bool,
    /// The import time of this run: the pinned one, the resumed run's, or now.
    pub(super) import_time: OffsetDateTime,
}

impl Start {
    /// Loads the checkpoint (or starts a new one) and checks it fits this run.
    pub(super) fn open(config: &ImportConfig) -> Result<Start, ImportError> {
        let fingerprint = match config.body.source_path() {
            Some(path) => SourceFingerprint::of_file(path)?,
            None => SourceFingerprint {
                size: 0,
                modified: None,
                head_sha256: String::new(),
            },
        };
        let existing = match &config.checkpoint {
            Some(path) if !config.restart => Checkpoint::load(path)?.map(|c| (c, path)),
            _ => None,
        };
        let Some((mut found, path)) = existing else {
            let import_time = config.body.import_time().for_run(None);
            let settings = config.run_settings(import_time);
            let checkpoint =
                Checkpoint::new(fingerprint, settings, FIRST_BATCH, Position::default(), 0);
            return Ok(Start {
                checkpoint,
                resumed: false,
                import_time,
            });
        };
        let import_time = config
            .body
            .import_time()
            .for_run(Some(found.settings.import_time));
        let settings = config.run_settings(import_time);
        found
            .compare(&fingerprint, &settings)
            .map_err(|mismatch| ImportError::Mismatch {
                path: PathBuf::from(path),
                mismatch,
            })?;
        found.adopt(settings);
        tracing::info!(path = %path.display(), next_batch = found.progress.watermark().next_batch, "Resuming from the checkpoint.");
        Ok(Start {
            checkpoint: found,
            resumed: true,
            import_time,
        })
    }

    /// The length of the rejects file the run goes on with: what the
    /// checkpoint vouches for when it resumes, nothing for a new run.
    pub(super) fn rejects_len(&self) -> u64 {
        if self.resumed {
            self.checkpoint.progress.watermark().rejects_len
        } else {
            0
        }
    }

    /// Where reading goes on: the watermark's position and batch, unless
    /// nothing was acknowledged yet (then from the start).
    pub(super) fn resume_point(&self) -> Option<(Position, u64)> {
        let mark = self.checkpoint.progress.watermark();
        (mark.next_batch > FIRST_BATCH).then_some((mark.next_start, mark.next_batch))
    }
}
