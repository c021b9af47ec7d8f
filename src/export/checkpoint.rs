//! The checkpoint of an export (`--checkpoint FILE`): how far the file is
//! written, so that a run after a crash, a `kill -9` or Ctrl-C appends
//! from there.
//!
//! It records the end of the last block written and synced (`offset`),
//! the last user in it (`after`, where the target is read from again), the
//! users written, whether the export is complete, and the settings that
//! shape the file: an export resumed with other settings would not be the
//! file an uninterrupted run writes, so it is refused (unless `--restart`).
//! It holds ids and counts, no secret; it is saved atomically (a temporary
//! file, synced, renamed), and carries its format's name and version.

use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ExportError;

/// The format's name, so that another file is not taken for a checkpoint.
const FORMAT: &str = "ferry-export-checkpoint";
/// The format's version.
const VERSION: u32 = 1;

/// Everything that shapes the export file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSettings {
    /// The target's URL, or `embedded:` and the database of the embedded one.
    pub target: String,
    /// The tenant read.
    pub tenant: String,
    /// The pool read.
    pub pool: String,
    /// Whether password hashes are in the file (not `--without-credentials`).
    pub credentials: bool,
    /// Users per page: the blocks of the file.
    pub page_size: u32,
    /// Whether the file is gzipped (a member per block).
    pub gzip: bool,
}

/// How far an export got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportCheckpoint {
    /// Always [`FORMAT`].
    format: String,
    /// Always [`VERSION`] when written by this ferry.
    version: u32,
    /// What shapes the file.
    pub settings: ExportSettings,
    /// Bytes of the file written and synced: the end of the last block.
    pub offset: u64,
    /// The last user written, where the target is read from again.
    pub after: Option<Uuid>,
    /// Users written.
    pub users: u64,
    /// The last page was written.
    pub complete: bool,
}

impl ExportCheckpoint {
    /// The checkpoint of an export with `settings` that wrote `users` users,
    /// the last `after`, up to `offset`.
    pub fn new(settings: ExportSettings, offset: u64, after: Option<Uuid>, users: u64) -> Self {
        ExportCheckpoint {
            format: FORMAT.to_string(),
            version: VERSION,
            settings,
            offset,
            after,
            users,
            complete: false,
        }
    }

    /// Reads the checkpoint at `path` for an export with `settings`: `None`
    /// when there is none (or with `restart`); an error when it is not an
    /// export checkpoint of this version, or was made with other settings.
    pub fn load(
        path: &Path,
        settings: &ExportSettings,
        restart: bool,
    ) -> Result<Option<ExportCheckpoint>, ExportError> {
        if restart {
            return Ok(None);
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ExportError::Output {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let unusable = |why: String| {
            ExportError::Usage(format!(
                "the checkpoint {} {why}; pass --restart to export from the start",
                path.display()
            ))
        };
        let found: ExportCheckpoint = serde_json::from_slice(&bytes)
            .map_err(|_| unusable("is not an export checkpoint (or it is damaged)".into()))?;
        if found.format != FORMAT || found.version != VERSION {
            return Err(unusable(format!(
                "is of format {} version {}, not {FORMAT} version {VERSION}",
                found.format, found.version
            )));
        }
        if let Some(what) = found.settings.differs(settings) {
            return Err(unusable(format!(
                "belongs to an export with another {what}"
            )));
        }
        Ok(Some(found))
    }

    /// Saves the checkpoint at `path`, atomically.
    pub fn save(&self, path: &Path) -> Result<(), ExportError> {
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| ExportError::Usage(e.to_string()))?;
        crate::checkpoint::write_atomically(path, &bytes).map_err(|source| ExportError::Output {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl ExportSettings {
    /// The first setting in which `self` and `other` differ, by name.
    fn differs(&self, other: &ExportSettings) -> Option<&'static str> {
        [
            (self.target != other.target, "target"),
            (self.tenant != other.tenant, "tenant"),
            (self.pool != other.pool, "pool"),
            (
                self.credentials != other.credentials,
                "--without-credentials",
            ),
            (self.page_size != other.page_size, "page size"),
            (self.gzip != other.gzip, "compression"),
        ]
        .into_iter()
        .find_map(|(differs, name)| differs.then_some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ExportSettings {
        ExportSettings {
            target: "http://127.0.0.1:1".into(),
            tenant: "t".into(),
            pool: "p".into(),
            credentials: true,
            page_size: 10,
            gzip: false,
        }
    }

    #[test]
    fn a_checkpoint_comes_back_for_the_same_settings_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.checkpoint");
        assert_eq!(
            ExportCheckpoint::load(&path, &settings(), false).unwrap(),
            None
        );
        let saved = ExportCheckpoint::new(settings(), 42, Some(Uuid::from_u128(3)), 7);
        saved.save(&path).unwrap();
        let loaded = ExportCheckpoint::load(&path, &settings(), false).unwrap();
        assert_eq!(loaded, Some(saved));
        assert_eq!(
            ExportCheckpoint::load(&path, &settings(), true).unwrap(),
            None
        );
        let mut other = settings();
        other.credentials = false;
        let err = ExportCheckpoint::load(&path, &other, false).unwrap_err();
        assert!(err.to_string().contains("--without-credentials"), "{err}");
        assert!(err.is_usage());
        std::fs::write(&path, b"{\"offset\": 3").unwrap();
        let err = ExportCheckpoint::load(&path, &settings(), false).unwrap_err();
        assert!(
            err.to_string().contains("not an export checkpoint"),
            "{err}"
        );
    }
}
