//! The checkpoint: what a run has durably delivered, so that running the same
//! command again resumes where it stopped, without losing or duplicating
//! anyone, however the run was interrupted.
//!
//! ## What it holds
//! - a [`SourceFingerprint`] (size, modification time, SHA-256 of the first
//!   MiB) and the [`RunSettings`] that shape request bodies (tenant, pool,
//!   batch size, mapping, mode, import time, id derivation): a resume with a changed source or
//!   changed settings would send different bodies, so [`Checkpoint::compare`]
//!   refuses it and says what changed;
//! - the progress ([`AckTracker`]): the [`Watermark`] — every batch below
//!   `next_batch` is acknowledged, the next batch starts at `next_start` in
//!   the source, the running [`Counts`] of those batches and the length of
//!   the rejects file they wrote — plus the batches acknowledged above the
//!   watermark (senders finish out of order);
//! - the highest batch this migration may have sent, over all its runs
//!   ([`AckTracker::sent_through`]), saved before such a batch is sent: a
//!   resumed run counts the users it finds stored exactly as sent in those
//!   batches as its own (imported), not as already there (skipped);
//! - whether the run is `complete`.
//!
//! ## Invariants
//! - The watermark only moves forward, over a contiguous run of acknowledged
//!   batches (vector's in-order acknowledgement). Resuming seeks the source
//!   to `next_start`, truncates the rejects file to `rejects_len`, re-reads
//!   batches from `next_batch` on and skips those already acknowledged above
//!   the watermark. Re-sending a batch is harmless (deterministic ids), so
//!   the only cost of a crash is the work since the last save.
//! - A batch's rejected rows are written to the rejects file when the
//!   watermark passes the batch, in batch order; until then they travel in
//!   the checkpoint with the batch's acknowledgement. So the rejects file
//!   holds exactly the rejects of the batches below the watermark, and a
//!   resume can truncate it to `rejects_len` without losing a line.
//! - The counts of every acknowledged batch add up: `read = imported +
//!   skipped + rejected`. Totals therefore add up across resumed runs.
//!
//! ## On disk
//! Two lines of JSON: a header `{"format":"ferry-checkpoint","version":3,
//! "sha256":"…"}` and the body, whose SHA-256 the header carries. Reading
//! checks the version before anything else, then completeness (both lines
//! end with a newline), then the checksum, then the body's own consistency:
//! a truncated, corrupted or future file is a typed [`CheckpointError`],
//! never a panic and never silently accepted. Saving is atomic: a temporary
//! file in the same directory, written and fsynced, renamed over the
//! checkpoint, then the directory fsynced, so that a crash at any moment
//! leaves either the old or the new checkpoint. [`CheckpointWriter`] saves at
//! most about once a second, plus [`CheckpointWriter::flush`] on exit paths.
//! The file has mode 0600 ([`crate::private`]): it keeps the source of the
//! rejected rows of batches in flight, password hashes included.
//!
//! File I/O here is blocking (fsync); call it from `spawn_blocking` or a
//! dedicated task when on the async runtime.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod settings;

pub use self::settings::RunSettings;
pub use crate::report::Counts;
pub use crate::source::Position;

use crate::private::private_file;

/// The `format` of the header line.
pub const FORMAT: &str = "ferry-checkpoint";
/// The version of the layout this ferry writes and reads. Versions 1 and 2
/// were written by runs that derived identifier and address ids from their
/// values (id derivation 1, see [`crate::mapping::ids`]): they are refused
/// ([`CheckpointError::OtherIds`]), since resuming one would send the rest
/// of its users with ids it did not begin with.
pub const VERSION: u32 = 3;
/// How much of the source's start is hashed into its fingerprint.
pub const HEAD_BYTES: u64 = 1 << 20;
/// Default shortest interval between two saves of [`CheckpointWriter`].
pub const SAVE_INTERVAL: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// Errors

/// A checkpoint could not be read, written or trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file exists but could not be read.
    #[error("cannot read the checkpoint {}", path.display())]
    Read {
        /// The checkpoint's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The checkpoint could not be saved.
    #[error("cannot save the checkpoint {}", path.display())]
    Write {
        /// The checkpoint's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file ends early (copied partly, or written by something else).
    #[error("the checkpoint {} is truncated; remove it or start over with --restart", path.display())]
    Truncated {
        /// The checkpoint's path.
        path: PathBuf,
    },
    /// The file is not a checkpoint, or its content was altered.
    #[error("the checkpoint {} is corrupted ({reason}); remove it or start over with --restart", path.display())]
    Corrupt {
        /// The checkpoint's path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file was written by a ferry with another checkpoint layout.
    #[error(
        "the checkpoint {} has format version {found}, this ferry reads version {VERSION}; \
         finish the run with the ferry that started it, or start over with --restart",
        path.display()
    )]
    UnsupportedVersion {
        /// The checkpoint's path.
        path: PathBuf,
        /// The version found.
        found: u64,
    },
    /// The file was written by a ferry that derived record ids otherwise.
    #[error(
        "the checkpoint {} (format version {found}) belongs to a run that derived identifier and address ids \
         from their values; this ferry derives them from the user, the type and an ordinal, so resuming it would \
         send the rest of the run with other ids. Finish the run with the ferry that started it, or start over \
         with --restart: users already stored are kept under --mode ignore, and replaced with their new records \
         under --mode update",
        path.display()
    )]
    OtherIds {
        /// The checkpoint's path.
        path: PathBuf,
        /// The version found.
        found: u64,
    },
    /// The source could not be fingerprinted.
    #[error("cannot fingerprint the source {}", path.display())]
    Source {
        /// The source's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// An acknowledgement that breaks the tracker's invariants: a bug in the
/// caller, reported rather than recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The batch was acknowledged before.
    #[error("batch {batch} was already acknowledged")]
    AlreadyAcknowledged {
        /// The batch number.
        batch: u64,
    },
    /// `read` is not `imported + skipped + rejected`.
    #[error("the counts of batch {batch} do not add up: {counts:?}")]
    CountsDontAddUp {
        /// The batch number.
        batch: u64,
        /// The counts given.
        counts: Counts,
    },
}

/// The checkpoint belongs to another run: what changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the checkpoint was written for a different run: {}", .changes.join("; "))]
pub struct Mismatch {
    /// One sentence per difference.
    pub changes: Vec<String>,
}

// ---------------------------------------------------------------------------
// Fingerprints

/// What identifies the source file's content, cheaply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFingerprint {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, when the file system reports one.
    pub modified: Option<FileTime>,
    /// SHA-256 (hex) of the first [`HEAD_BYTES`] bytes: catches a rewritten
    /// file of the same size and time.
    pub head_sha256: String,
}

/// A modification time, as seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTime {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl FileTime {
    /// Converts a system time.
    pub fn from_system_time(time: SystemTime) -> Self {
        let (secs, nanos) = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => (after.as_secs() as i64, after.subsec_nanos()),
            Err(before) => {
                let before = before.duration();
                let nanos = before.subsec_nanos();
                let secs = -(before.as_secs() as i64);
                if nanos == 0 {
                    (secs, 0)
                } else {
                    (secs - 1, 1_000_000_000 - nanos)
                }
            }
        };
        FileTime { secs, nanos }
    }

    /// RFC 3339, for messages.
    fn describe(self) -> String {
        let nanos = i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos);
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| format!("{}s", self.secs))
    }
}

impl SourceFingerprint {
    /// Fingerprints the file at `path`; a directory source by its source
    /// files (see [`SourceFingerprint::of_directory`]).
    pub fn of_file(path: &Path) -> Result<Self, CheckpointError> {
        let fail = |source| CheckpointError::Source {
            path: path.to_path_buf(),
            source,
        };
        if path.is_dir() {
            return Self::of_directory(path).map_err(fail);
        }
        let mut file = File::open(path).map_err(fail)?;
        let metadata = file.metadata().map_err(fail)?;
        let head_sha256 = sha256_of_head(&mut file).map_err(fail)?;
        Ok(SourceFingerprint {
            size: metadata.len(),
            modified: metadata.modified().ok().map(FileTime::from_system_time),
            head_sha256,
        })
    }

    /// Fingerprints a directory source by the files it reads, in order: their
    /// total size, the latest modification time, and the SHA-256 of each
    /// one's name, size and head. A file added, removed, renamed or changed
    /// changes it; files that are not sources (a checkpoint) do not.
    fn of_directory(dir: &Path) -> io::Result<Self> {
        let mut hasher = Sha256::new();
        let (mut size, mut modified) = (0u64, None);
        for path in crate::source::directory_files(dir)? {
            let mut file = File::open(&path)?;
            let metadata = file.metadata()?;
            size += metadata.len();
            let time = metadata.modified().ok().map(FileTime::from_system_time);
            let key = |t: Option<FileTime>| t.map(|t| (t.secs, t.nanos));
            if key(time) > key(modified) {
                modified = time;
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            hasher.update(name.as_bytes());
            hasher.update(metadata.len().to_le_bytes());
            hasher.update(sha256_of_head(&mut file)?.as_bytes());
        }
        Ok(SourceFingerprint {
            size,
            modified,
            head_sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Sentences describing how `now` differs from `self`.
    fn changes(&self, now: &SourceFingerprint) -> Vec<String> {
        let mut changes = Vec::new();
        if self.size != now.size {
            changes.push(format!(
                "the source's size changed from {} to {} bytes",
                self.size, now.size
            ));
        }
        if self.modified != now.modified {
            let show = |t: Option<FileTime>| t.map_or("unknown".to_string(), FileTime::describe);
            changes.push(format!(
                "the source's modification time changed from {} to {}",
                show(self.modified),
                show(now.modified)
            ));
        }
        if self.head_sha256 != now.head_sha256 {
            changes.push(
                "the source's content changed (its first MiB hashes differently)".to_string(),
            );
        }
        changes
    }
}

/// SHA-256 (hex) of the first [`HEAD_BYTES`] bytes of `reader`.
fn sha256_of_head(reader: &mut impl Read) -> io::Result<String> {
    let mut head = Vec::new();
    reader.take(HEAD_BYTES).read_to_end(&mut head)?;
    Ok(hex::encode(Sha256::digest(&head)))
}

// ---------------------------------------------------------------------------
// Progress

/// One batch finished: all its rows are imported, skipped or rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAck {
    /// The batch number (0-based, in source order).
    pub batch: u64,
    /// Where the next batch starts in the source.
    pub end: Position,
    /// How its rows ended.
    pub counts: Counts,
    /// The exact text to append to the rejects file for this batch (complete
    /// lines; usually empty). Written when the watermark passes the batch.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rejects: String,
    /// Source columns of its rows that the mapping does not account for,
    /// with how many rows held a value in each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped: BTreeMap<String, u64>,
}

/// Every batch below `next_batch` is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// The first batch not known to be acknowledged.
    pub next_batch: u64,
    /// Where batch `next_batch` starts in the source.
    pub next_start: Position,
    /// The counts of the batches below `next_batch`.
    pub counts: Counts,
    /// The rejects file's length once the rejects of the batches below
    /// `next_batch` are written (plus its length when the run started).
    pub rejects_len: u64,
    /// The unmapped columns of the batches below `next_batch`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped: BTreeMap<String, u64>,
}

/// Counts of everything acknowledged, above the watermark included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Row counts.
    pub counts: Counts,
    /// Acknowledged batches.
    pub batches: u64,
    /// Unmapped source columns, with how many rows held a value in each.
    pub unmapped: BTreeMap<String, u64>,
}

/// Takes batch acknowledgements in any order and advances the watermark over
/// the contiguous prefix. See the module documentation for the invariants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProgressRepr", into = "ProgressRepr")]
pub struct AckTracker {
    /// The number of the run's first batch, to count the batches below the watermark.
    first: u64,
    /// Everything below is acknowledged.
    watermark: Watermark,
    /// Acknowledged batches above the watermark, by number (all `> next_batch`).
    above: BTreeMap<u64, BatchAck>,
    /// Every batch this migration may have sent has a number up to this one
    /// (0: none), over all its runs; saved before such a batch is sent.
    sent_through: u64,
}

impl AckTracker {
    /// A tracker at the start of a run: the first batch is number `first`
    /// (ferry numbers batches from 1) and starts at `start`, and the rejects
    /// file is `rejects_len` bytes long (0 for a new file).
    pub fn new(first: u64, start: Position, rejects_len: u64) -> Self {
        AckTracker {
            first,
            watermark: Watermark {
                next_batch: first,
                next_start: start,
                counts: Counts::default(),
                rejects_len,
                unmapped: BTreeMap::new(),
            },
            above: BTreeMap::new(),
            sent_through: 0,
        }
    }

    /// The highest batch number this migration may have sent (0: none).
    /// A batch up to it that a resumed run sends again may already be
    /// stored by this migration: its users are not "already there".
    pub fn sent_through(&self) -> u64 {
        self.sent_through
    }

    /// Records that batches up to `batch` may be sent; save the checkpoint
    /// before sending them.
    pub fn reserve_through(&mut self, batch: u64) {
        self.sent_through = self.sent_through.max(batch);
    }

    /// Records that `ack.batch` is finished. Returns the batches the
    /// watermark passed, in order: the caller appends their `rejects` to the
    /// rejects file (and syncs it) before the next checkpoint save, since the
    /// watermark's `rejects_len` already counts them.
    pub fn acknowledge(&mut self, ack: BatchAck) -> Result<Vec<BatchAck>, AckError> {
        if self.is_acknowledged(ack.batch) {
            return Err(AckError::AlreadyAcknowledged { batch: ack.batch });
        }
        if !ack.counts.adds_up() {
            return Err(AckError::CountsDontAddUp {
                batch: ack.batch,
                counts: ack.counts,
            });
        }
        self.above.insert(ack.batch, ack);
        Ok(self.advance())
    }

    /// Moves the watermark over the contiguous acknowledged batches.
    fn advance(&mut self) -> Vec<BatchAck> {
        let mut released = Vec::new();
        while let Some(ack) = self.above.remove(&self.watermark.next_batch) {
            let mark = &mut self.watermark;
            mark.next_batch += 1;
            mark.next_start = ack.end;
            mark.counts.add(&ack.counts);
            mark.rejects_len += ack.rejects.len() as u64;
            crate::report::add_unmapped(&mut mark.unmapped, &ack.unmapped);
            released.push(ack);
        }
        released
    }

    /// Whether `batch` is acknowledged (below the watermark or above it): a
    /// resuming run skips it.
    pub fn is_acknowledged(&self, batch: u64) -> bool {
        batch < self.watermark.next_batch || self.above.contains_key(&batch)
    }

    /// The watermark.
    pub fn watermark(&self) -> &Watermark {
        &self.watermark
    }

    /// The batches acknowledged above the watermark, in order.
    pub fn pending(&self) -> impl Iterator<Item = &BatchAck> {
        self.above.values()
    }

    /// Counts of everything acknowledged.
    pub fn totals(&self) -> Totals {
        let mut counts = self.watermark.counts;
        let mut unmapped = self.watermark.unmapped.clone();
        for ack in self.above.values() {
            counts.add(&ack.counts);
            crate::report::add_unmapped(&mut unmapped, &ack.unmapped);
        }
        Totals {
            counts,
            batches: self.watermark.next_batch - self.first + self.above.len() as u64,
            unmapped,
        }
    }
}

/// The serialised form of [`AckTracker`], checked when read back.
#[derive(Serialize, Deserialize)]
struct ProgressRepr {
    /// The number of the run's first batch; absent (0) in version 1.
    #[serde(default)]
    first_batch: u64,
    /// The watermark.
    watermark: Watermark,
    /// Acknowledged batches above it, ascending.
    acknowledged: Vec<BatchAck>,
    /// See [`AckTracker::sent_through`].
    #[serde(default)]
    sent_through: u64,
}

impl From<AckTracker> for ProgressRepr {
    fn from(tracker: AckTracker) -> Self {
        ProgressRepr {
            first_batch: tracker.first,
            watermark: tracker.watermark,
            acknowledged: tracker.above.into_values().collect(),
            sent_through: tracker.sent_through,
        }
    }
}

impl TryFrom<ProgressRepr> for AckTracker {
    type Error = String;

    fn try_from(repr: ProgressRepr) -> Result<Self, String> {
        if !repr.watermark.counts.adds_up() {
            return Err("the watermark's counts do not add up".to_string());
        }
        if repr.watermark.next_batch < repr.first_batch {
            return Err("the watermark is below the first batch".to_string());
        }
        let mut above = BTreeMap::new();
        for ack in repr.acknowledged {
            if ack.batch <= repr.watermark.next_batch {
                return Err(format!(
                    "batch {} is listed above the watermark {}",
                    ack.batch, repr.watermark.next_batch
                ));
            }
            if !ack.counts.adds_up() {
                return Err(format!("the counts of batch {} do not add up", ack.batch));
            }
            if above.insert(ack.batch, ack).is_some() {
                return Err("a batch is listed twice".to_string());
            }
        }
        Ok(AckTracker {
            first: repr.first_batch,
            watermark: repr.watermark,
            above,
            sent_through: repr.sent_through,
        })
    }
}

// ---------------------------------------------------------------------------
// The checkpoint

/// A run's durable state. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The source this run reads.
    pub source: SourceFingerprint,
    /// The settings that shape its request bodies.
    pub settings: RunSettings,
    /// What is acknowledged.
    pub progress: AckTracker,
    /// The run finished: every batch is acknowledged. Running again sends
    /// nothing.
    pub complete: bool,
    /// The ferry version that wrote it, for people reading the file.
    #[serde(default)]
    pub written_by: String,
}

/// The first line of the file.
#[derive(Serialize, Deserialize)]
struct Header {
    /// Always [`FORMAT`].
    format: String,
    /// The layout version; read as `u64` so that any number is reported.
    version: u64,
    /// SHA-256 (hex) of the body line, newline excluded.
    sha256: String,
}

impl Checkpoint {
    /// A checkpoint at the start of a run whose first batch is number
    /// `first` and starts at `start`.
    pub fn new(
        source: SourceFingerprint,
        settings: RunSettings,
        first: u64,
        start: Position,
        rejects_len: u64,
    ) -> Self {
        Checkpoint {
            source,
            settings,
            progress: AckTracker::new(first, start, rejects_len),
            complete: false,
            written_by: concat!("ferry ", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }

    /// Checks that this checkpoint belongs to a run over `source` with
    /// `settings`; the error says what changed.
    pub fn compare(
        &self,
        source: &SourceFingerprint,
        settings: &RunSettings,
    ) -> Result<(), Mismatch> {
        let mut changes = self.source.changes(source);
        changes.extend(self.settings.changes(settings));
        if changes.is_empty() {
            Ok(())
        } else {
            Err(Mismatch { changes })
        }
    }

    /// Reads the checkpoint at `path`; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        match fs::read(path) {
            Ok(bytes) => Checkpoint::from_bytes(&bytes, path).map(Some),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CheckpointError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Saves atomically to `path` (temporary file, fsync, rename, fsync of
    /// the directory).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let write_error = |source| CheckpointError::Write {
            path: path.to_path_buf(),
            source,
        };
        let bytes = self.to_bytes().map_err(write_error)?;
        write_atomically(path, &bytes).map_err(write_error)
    }

    /// The file's content (version [`VERSION`]): header line and body line.
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let body = serde_json::to_string(self)?;
        let header = Header {
            format: FORMAT.to_string(),
            version: u64::from(VERSION),
            sha256: hex::encode(Sha256::digest(body.as_bytes())),
        };
        let header = serde_json::to_string(&header)?;
        Ok(format!("{header}\n{body}\n").into_bytes())
    }

    /// Parses a file's content; `path` is for error messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint, CheckpointError> {
        let truncated = || CheckpointError::Truncated {
            path: path.to_path_buf(),
        };
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let (header_line, rest) = match bytes.iter().position(|b| *b == b'\n') {
            Some(at) => (&bytes[..at], Some(&bytes[at + 1..])),
            None => (bytes, None),
        };
        let header: Header = serde_json::from_slice(header_line).map_err(|err| {
            if err.is_eof() {
                truncated()
            } else {
                corrupt(format!("not a ferry checkpoint: {err}"))
            }
        })?;
        if header.format != FORMAT {
            return Err(corrupt(format!(
                "its format is '{}', not '{FORMAT}'",
                header.format
            )));
        }
        if header.version == 1 || header.version == 2 {
            return Err(CheckpointError::OtherIds {
                path: path.to_path_buf(),
                found: header.version,
            });
        }
        if header.version != u64::from(VERSION) {
            return Err(CheckpointError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: header.version,
            });
        }
        let rest = rest.ok_or_else(truncated)?;
        let at = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(truncated)?;
        let (body, after) = (&rest[..at], &rest[at + 1..]);
        if !after.is_empty() {
            return Err(corrupt("it has content after its two lines".to_string()));
        }
        if hex::encode(Sha256::digest(body)) != header.sha256 {
            return Err(corrupt(
                "its content does not match its checksum".to_string(),
            ));
        }
        serde_json::from_slice(body).map_err(|err| corrupt(err.to_string()))
    }

    /// Takes the settings of the run that resumes this checkpoint (after
    /// [`Checkpoint::compare`] found no change): a mapping field added since
    /// the checkpoint was written is saved with its value.
    pub fn adopt(&mut self, settings: RunSettings) {
        self.settings = settings;
    }
}

/// Writes `bytes` to `path` so that `path` holds either its old content or
/// all of `bytes`, whatever happens.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the checkpoint path has no file name",
        )
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    let written = write_and_sync(&temp, bytes).and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    sync_dir(dir)
}

/// Syncs the file `from` to disk and renames it to `to`, then syncs the
/// directory: `to` is either absent or all of `from`, whatever happens.
pub(crate) fn rename_synced(from: &Path, to: &Path) -> io::Result<()> {
    File::open(from)?.sync_all()?;
    fs::rename(from, to)?;
    match to.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Creates (or replaces) `path` with `bytes` and syncs it to disk. Mode
/// 0600: the checkpoint keeps the source of rejected rows, hashes included.
fn write_and_sync(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = private_file(
        OpenOptions::new().write(true).create(true).truncate(true),
        path,
    )?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing on this platform; the rename is
/// as durable as the platform makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

// ---------------------------------------------------------------------------
// The writer

/// Saves a run's checkpoint at most about once per interval, and on demand.
#[derive(Debug)]
pub struct CheckpointWriter {
    /// Where the checkpoint lives.
    path: PathBuf,
    /// Shortest time between two saves of [`CheckpointWriter::save_if_due`].
    interval: Duration,
    /// When the last save happened.
    last_saved: Option<Instant>,
    /// What the last save wrote, to skip writing the same bytes again.
    last_bytes: Vec<u8>,
}

impl CheckpointWriter {
    /// A writer saving to `path` at most once per [`SAVE_INTERVAL`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CheckpointWriter::with_interval(path, SAVE_INTERVAL)
    }

    /// A writer saving at most once per `interval`.
    pub fn with_interval(path: impl Into<PathBuf>, interval: Duration) -> Self {
        CheckpointWriter {
            path: path.into(),
            interval,
            last_saved: None,
            last_bytes: Vec::new(),
        }
    }

    /// Where the checkpoint lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a save at `now` would be written (the interval has passed).
    pub fn due(&self, now: Instant) -> bool {
        self.last_saved
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval)
    }

    /// Saves when the interval has passed since the last save and the
    /// checkpoint changed. Returns whether it wrote. Call it after each
    /// acknowledgement and on a timer (so a quiet run still gets saved).
    pub fn save_if_due(
        &mut self,
        checkpoint: &Checkpoint,
        now: Instant,
    ) -> Result<bool, CheckpointError> {
        if !self.due(now) {
            return Ok(false);
        }
        self.write(checkpoint, now)
    }

    /// Saves now unless the file already holds exactly this checkpoint: for
    /// exit paths (end of run, interruption, fatal error).
    pub fn flush(
        &mut self,
        checkpoint: &Checkpoint,
        now: Instant,
    ) -> Result<bool, CheckpointError> {
        self.write(checkpoint, now)
    }

    /// Writes unless unchanged.
    fn write(&mut self, checkpoint: &Checkpoint, now: Instant) -> Result<bool, CheckpointError> {
        let bytes = checkpoint
            .to_bytes()
            .map_err(|source| CheckpointError::Write {
                path: self.path.clone(),
                source,
            })?;
        if bytes == self.last_bytes {
            return Ok(false);
        }
        write_atomically(&self.path, &bytes).map_err(|source| CheckpointError::Write {
            path: self.path.clone(),
            source,
        })?;
        tracing::debug!(
            path = %self.path.display(),
            next_batch = checkpoint.progress.watermark().next_batch,
            complete = checkpoint.complete,
            "Saved the checkpoint."
        );
        self.last_saved = Some(now);
        self.last_bytes = bytes;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pos(row: u64) -> Position {
        Position {
            offset: row * 100,
            row,
        }
    }

    #[test]
    fn counts_of_a_checkpoint_written_before_unverifiable_hash_load() {
        let counts: Counts =
            serde_json::from_str(r#"{"read":3,"imported":2,"skipped":0,"rejected":1}"#).unwrap();
        assert_eq!(counts.unverifiable_hash, 0);
        assert!(counts.adds_up());
    }

    /// Batch `batch` of `size` rows, `bad` of them rejected, starting at row `batch * size`.
    fn ack(batch: u64, size: u64, bad: u64) -> BatchAck {
        BatchAck {
            batch,
            end: pos((batch + 1) * size),
            counts: Counts {
                read: size,
                imported: size - bad,
                rejected: bad,
                ..Counts::default()
            },
            rejects: (0..bad)
                .map(|i| format!("row {}: bad\n", batch * size + i))
                .collect(),
            unmapped: BTreeMap::from([("locale".to_string(), size)]),
        }
    }

    fn settings() -> RunSettings {
        RunSettings {
            format: "csv".into(),
            tenant: "acme".into(),
            pool: "default".into(),
            batch_size: 100,
            mapping: crate::mapping::MappingConfig::default(),
            mode: crate::contract::ImportMode::Ignore,
            import_time: time::macros::datetime!(2025-01-01 00:00:00 UTC),
            id_derivation: crate::mapping::ids::ID_DERIVATION,
            match_existing: None,
            preflight: false,
        }
    }

    fn fingerprint() -> SourceFingerprint {
        SourceFingerprint {
            size: 1234,
            modified: Some(FileTime {
                secs: 1_700_000_000,
                nanos: 5,
            }),
            head_sha256: "ab".repeat(32),
        }
    }

    /// A checkpoint with progress: batches 0, 1 and 3 acknowledged.
    fn sample() -> Checkpoint {
        let mut checkpoint = Checkpoint::new(fingerprint(), settings(), 0, pos(0), 0);
        for batch in [1, 0, 3] {
            checkpoint
                .progress
                .acknowledge(ack(batch, 10, batch % 2))
                .unwrap();
        }
        checkpoint
    }

    #[test]
    fn the_watermark_waits_for_the_missing_batch() {
        let mut tracker = AckTracker::new(0, pos(0), 0);
        assert!(tracker.acknowledge(ack(1, 10, 0)).unwrap().is_empty());
        assert!(tracker.acknowledge(ack(2, 10, 1)).unwrap().is_empty());
        assert_eq!(tracker.watermark().next_batch, 0);
        assert_eq!(tracker.watermark().next_start, pos(0));
        assert!(tracker.is_acknowledged(2));
        assert!(!tracker.is_acknowledged(0));
        assert_eq!(tracker.totals().batches, 2);

        let released = tracker.acknowledge(ack(0, 10, 0)).unwrap();
        assert_eq!(
            released.iter().map(|a| a.batch).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        let mark = tracker.watermark();
        assert_eq!(mark.next_batch, 3);
        assert_eq!(mark.next_start, pos(30));
        assert_eq!(mark.counts.read, 30);
        assert_eq!(mark.counts.rejected, 1);
        assert_eq!(mark.rejects_len, "row 20: bad\n".len() as u64);
        assert_eq!(tracker.pending().count(), 0);
    }

    #[test]
    fn duplicate_and_inconsistent_acknowledgements_are_refused() {
        let mut tracker = AckTracker::new(0, pos(0), 0);
        tracker.acknowledge(ack(0, 10, 0)).unwrap();
        tracker.acknowledge(ack(2, 10, 0)).unwrap();
        assert_eq!(
            tracker.acknowledge(ack(0, 10, 0)),
            Err(AckError::AlreadyAcknowledged { batch: 0 })
        );
        assert_eq!(
            tracker.acknowledge(ack(2, 10, 0)),
            Err(AckError::AlreadyAcknowledged { batch: 2 })
        );
        let mut bad = ack(1, 10, 0);
        bad.counts.imported = 9;
        assert!(matches!(
            tracker.acknowledge(bad),
            Err(AckError::CountsDontAddUp { batch: 1, .. })
        ));
        // Refused acknowledgements changed nothing.
        assert_eq!(tracker.watermark().next_batch, 1);
        assert_eq!(tracker.totals().counts.read, 20);
    }

    #[test]
    fn a_checkpoint_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv.ferry-checkpoint");
        let checkpoint = sample();
        checkpoint.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(checkpoint.clone()));
        // Only the checkpoint is left in the directory: no temporary file.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["users.csv.ferry-checkpoint"]);
        // Saving again replaces it.
        let mut done = checkpoint;
        done.complete = true;
        done.save(&path).unwrap();
        assert!(Checkpoint::load(&path).unwrap().unwrap().complete);
    }

    #[test]
    fn a_missing_checkpoint_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Checkpoint::load(&dir.path().join("none")).unwrap(), None);
    }

    #[test]
    fn a_relative_path_is_saved_in_the_current_directory_form() {
        // `parent()` of a bare file name is empty: the directory is ".".
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("sub");
        fs::create_dir(&nested).unwrap();
        let path = nested.join("cp");
        sample().save(&path).unwrap();
        assert!(Checkpoint::load(&path).unwrap().is_some());
        assert!(matches!(
            sample().save(Path::new("/")),
            Err(CheckpointError::Write { .. })
        ));
    }

    #[test]
    fn every_truncation_is_reported_as_truncated() {
        let bytes = sample().to_bytes().unwrap();
        for len in 0..bytes.len() {
            let err = Checkpoint::from_bytes(&bytes[..len], Path::new("cp")).unwrap_err();
            assert!(
                matches!(err, CheckpointError::Truncated { .. }),
                "length {len}: {err:?}"
            );
        }
    }

    #[test]
    fn corrupted_files_are_reported_as_corrupt() {
        let good = sample().to_bytes().unwrap();
        let text = String::from_utf8(good.clone()).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("garbage", b"hello world\n".to_vec()),
            (
                "json but not a checkpoint",
                b"{\"users\":[]}\n{}\n".to_vec(),
            ),
            (
                "another format",
                header
                    .replace(FORMAT, "other-thing")
                    .into_bytes()
                    .into_iter()
                    .chain(format!("\n{body}").into_bytes())
                    .collect(),
            ),
            (
                "body altered",
                text.replace("\"tenant\":\"acme\"", "\"tenant\":\"acmf\"")
                    .into_bytes(),
            ),
            ("trailing garbage", [good.as_slice(), b"more"].concat()),
            ("binary", vec![0xff, 0x00, 0x12, b'\n']),
        ];
        for (what, bytes) in cases {
            let err = Checkpoint::from_bytes(&bytes, Path::new("cp")).unwrap_err();
            assert!(
                matches!(err, CheckpointError::Corrupt { .. }),
                "{what}: {err:?}"
            );
            assert!(err.to_string().contains("--restart"), "{what}: {err}");
        }
    }

    #[test]
    fn a_consistent_checksum_does_not_excuse_an_inconsistent_body() {
        // Batch 0 listed above a watermark of 2: written by a bug or by hand.
        let mut value: serde_json::Value = serde_json::to_value(sample()).unwrap();
        value["progress"]["acknowledged"][0]["batch"] = 0.into();
        let body = value.to_string();
        let header = format!(
            r#"{{"format":"{FORMAT}","version":{VERSION},"sha256":"{}"}}"#,
            hex::encode(Sha256::digest(body.as_bytes()))
        );
        let err = Checkpoint::from_bytes(format!("{header}\n{body}\n").as_bytes(), Path::new("cp"))
            .unwrap_err();
        assert!(
            matches!(&err, CheckpointError::Corrupt { reason, .. } if reason.contains("above the watermark")),
            "{err:?}"
        );
    }

    #[test]
    fn another_version_is_reported_as_such() {
        for version in ["4", "0", "4294967296"] {
            let bytes =
                format!(r#"{{"format":"{FORMAT}","version":{version},"sha256":"x"}}"#) + "\n{}\n";
            let err = Checkpoint::from_bytes(bytes.as_bytes(), Path::new("cp")).unwrap_err();
            assert!(
                matches!(err, CheckpointError::UnsupportedVersion { .. }),
                "{version}: {err:?}"
            );
            assert!(
                err.to_string().contains(&format!("version {version}")),
                "{err}"
            );
        }
        // A future layout may be anything after its header: still reported as a version.
        let bytes =
            format!(r#"{{"format":"{FORMAT}","version":9,"sha256":"x","new":true}}"#) + "\nbinary?";
        assert!(matches!(
            Checkpoint::from_bytes(bytes.as_bytes(), Path::new("cp")),
            Err(CheckpointError::UnsupportedVersion { found: 9, .. })
        ));
    }

    #[test]
    fn a_checkpoint_of_the_old_id_derivation_is_refused_with_what_to_do() {
        for version in [1, 2] {
            let bytes =
                format!(r#"{{"format":"{FORMAT}","version":{version},"sha256":"x"}}"#) + "\n{}\n";
            let err = Checkpoint::from_bytes(bytes.as_bytes(), Path::new("cp")).unwrap_err();
            assert!(
                matches!(err, CheckpointError::OtherIds { found, .. } if found == version),
                "{version}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains("derived identifier and address ids from their values")
                    && text.contains("--restart"),
                "{text}"
            );
        }
    }

    #[test]
    fn unmapped_columns_add_up_over_acknowledged_batches_in_any_order() {
        let mut tracker = AckTracker::new(0, pos(0), 0);
        for batch in [2, 0, 1, 4] {
            tracker.acknowledge(ack(batch, 10, 0)).unwrap();
        }
        assert_eq!(tracker.watermark().unmapped["locale"], 30, "batches 0 to 2");
        assert_eq!(
            tracker.totals().unmapped["locale"],
            40,
            "and 4 above the watermark"
        );
    }

    #[test]
    fn what_may_have_been_sent_survives_a_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        let mut checkpoint = sample();
        assert_eq!(checkpoint.progress.sent_through(), 0);
        checkpoint.progress.reserve_through(40);
        checkpoint.progress.reserve_through(7);
        assert_eq!(
            checkpoint.progress.sent_through(),
            40,
            "it never moves back"
        );
        checkpoint.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap().unwrap();
        assert_eq!(back.progress.sent_through(), 40);
    }

    #[test]
    fn an_unreadable_checkpoint_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in its place.
        assert!(matches!(
            Checkpoint::load(dir.path()),
            Err(CheckpointError::Read { .. })
        ));
    }

    #[test]
    fn compare_says_what_changed() {
        let checkpoint = sample();
        assert_eq!(checkpoint.compare(&fingerprint(), &settings()), Ok(()));

        let mut source = fingerprint();
        source.size = 2000;
        source.head_sha256 = "cd".repeat(32);
        let mut changed = settings();
        changed.batch_size = 50;
        changed.mapping.key = Some("v2".into());
        changed.mode = crate::contract::ImportMode::Update;
        let err = checkpoint.compare(&source, &changed).unwrap_err();
        assert_eq!(
            err.changes,
            [
                "the source's size changed from 1234 to 2000 bytes",
                "the source's content changed (its first MiB hashes differently)",
                "batch_size changed from '100' to '50'",
                "mode changed from 'ignore' to 'update'",
                "mapping.key changed from 'null' to '\"v2\"'",
            ]
        );
        assert!(err
            .to_string()
            .starts_with("the checkpoint was written for a different run: the source's size"));

        let mut touched = fingerprint();
        touched.modified = Some(FileTime {
            secs: 1_700_000_060,
            nanos: 0,
        });
        let err = checkpoint.compare(&touched, &settings()).unwrap_err();
        assert_eq!(
            err.changes,
            ["the source's modification time changed from 2023-11-14T22:13:20.000000005Z to 2023-11-14T22:14:20Z"]
        );
    }

    #[test]
    fn the_source_fingerprint_sees_size_time_and_head() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        fs::write(&path, "id,email\n1,a@example.com\n").unwrap();
        let first = SourceFingerprint::of_file(&path).unwrap();
        assert_eq!(first.size, 25);
        assert_eq!(first, SourceFingerprint::of_file(&path).unwrap());
        assert_eq!(
            first.head_sha256,
            hex::encode(Sha256::digest(b"id,email\n1,a@example.com\n"))
        );
        assert!(first.modified.is_some());

        // Same size, same time, different content.
        let file = File::options().write(true).open(&path).unwrap();
        let mtime = file.metadata().unwrap().modified().unwrap();
        fs::write(&path, "id,email\n2,a@example.com\n").unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let second = SourceFingerprint::of_file(&path).unwrap();
        assert_eq!(second.size, first.size);
        assert_eq!(second.modified, first.modified);
        assert_ne!(second.head_sha256, first.head_sha256);

        // Only the first MiB is hashed.
        let big = dir.path().join("big.csv");
        let mut content = vec![b'x'; HEAD_BYTES as usize + 10];
        fs::write(&big, &content).unwrap();
        let before = SourceFingerprint::of_file(&big).unwrap();
        *content.last_mut().unwrap() = b'y';
        fs::write(&big, &content).unwrap();
        assert_eq!(
            SourceFingerprint::of_file(&big).unwrap().head_sha256,
            before.head_sha256
        );

        assert!(matches!(
            SourceFingerprint::of_file(&dir.path().join("absent")),
            Err(CheckpointError::Source { .. })
        ));
    }

    #[test]
    fn file_times_before_the_epoch_keep_positive_nanos() {
        let time = UNIX_EPOCH - Duration::new(1, 250_000_000);
        assert_eq!(
            FileTime::from_system_time(time),
            FileTime {
                secs: -2,
                nanos: 750_000_000
            }
        );
        assert_eq!(
            FileTime::from_system_time(UNIX_EPOCH - Duration::from_secs(3)),
            FileTime { secs: -3, nanos: 0 }
        );
    }

    /// The watermark of the checkpoint saved at `path`.
    fn saved_next_batch(path: &Path) -> u64 {
        let saved = Checkpoint::load(path).unwrap().unwrap();
        saved.progress.watermark().next_batch
    }

    #[test]
    fn the_writer_saves_at_most_once_per_interval_and_flushes_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        let mut writer = CheckpointWriter::with_interval(&path, Duration::from_secs(1));
        let mut checkpoint = Checkpoint::new(fingerprint(), settings(), 0, pos(0), 0);
        let t0 = Instant::now();
        assert!(writer.due(t0));
        assert!(writer.save_if_due(&checkpoint, t0).unwrap());

        checkpoint.progress.acknowledge(ack(0, 10, 0)).unwrap();
        let soon = t0 + Duration::from_millis(400);
        assert!(!writer.due(soon));
        assert!(!writer.save_if_due(&checkpoint, soon).unwrap());
        assert_eq!(saved_next_batch(&path), 0);

        let later = t0 + Duration::from_secs(1);
        assert!(writer.save_if_due(&checkpoint, later).unwrap());
        assert_eq!(saved_next_batch(&path), 1);
        // Nothing changed: nothing written, even when due.
        assert!(!writer
            .save_if_due(&checkpoint, later + Duration::from_secs(5))
            .unwrap());

        checkpoint.progress.acknowledge(ack(1, 10, 0)).unwrap();
        let exit = later + Duration::from_millis(10);
        assert!(writer.flush(&checkpoint, exit).unwrap());
        assert_eq!(saved_next_batch(&path), 2);
        assert!(!writer.flush(&checkpoint, exit).unwrap());
        assert_eq!(writer.path(), path);
    }

    /// `n` batch numbers in a random order.
    fn permutation() -> impl Strategy<Value = Vec<u64>> {
        (1u64..80).prop_flat_map(|n| Just((0..n).collect::<Vec<_>>()).prop_shuffle())
    }

    proptest! {
        #[test]
        fn the_watermark_is_the_contiguous_acknowledged_prefix(order in permutation(), bad in 0u64..4) {
            let n = order.len() as u64;
            let mut tracker = AckTracker::new(0, pos(0), 7);
            let mut acked = std::collections::BTreeSet::new();
            let mut released = Vec::new();
            let mut previous = 0;
            for &batch in &order {
                let out = tracker.acknowledge(ack(batch, 10, batch % (bad + 1))).unwrap();
                released.extend(out.into_iter().map(|a| a.batch));
                acked.insert(batch);
                let prefix = (0..).take_while(|b| acked.contains(b)).count() as u64;
                let mark = tracker.watermark();
                prop_assert_eq!(mark.next_batch, prefix);
                prop_assert!(mark.next_batch >= previous);
                previous = mark.next_batch;
                prop_assert_eq!(mark.next_start, pos(prefix * 10));
                let below: Vec<_> = (0..prefix).map(|b| ack(b, 10, b % (bad + 1))).collect();
                prop_assert_eq!(mark.counts.read, prefix * 10);
                prop_assert_eq!(mark.counts.rejected, below.iter().map(|a| a.counts.rejected).sum::<u64>());
                prop_assert_eq!(mark.rejects_len, 7 + below.iter().map(|a| a.rejects.len() as u64).sum::<u64>());
                prop_assert!(mark.counts.adds_up());
                prop_assert_eq!(tracker.totals().batches, acked.len() as u64);
                prop_assert_eq!(tracker.totals().counts.read, acked.len() as u64 * 10);
                // Released batches come out exactly once, in order.
                prop_assert_eq!(&released, &(0..prefix).collect::<Vec<_>>());
            }
            prop_assert_eq!(tracker.watermark().next_batch, n);
            prop_assert_eq!(tracker.pending().count(), 0);
        }

        #[test]
        fn a_resumed_tracker_ends_where_an_uninterrupted_one_does(order in permutation(), cut in 0usize..80) {
            let cut = cut.min(order.len());
            let mut straight = AckTracker::new(0, pos(0), 0);
            for &batch in &order {
                straight.acknowledge(ack(batch, 10, batch % 3)).unwrap();
            }
            let mut checkpoint = Checkpoint::new(fingerprint(), settings(), 0, pos(0), 0);
            for &batch in &order[..cut] {
                checkpoint.progress.acknowledge(ack(batch, 10, batch % 3)).unwrap();
            }
            let mut resumed = Checkpoint::from_bytes(&checkpoint.to_bytes().unwrap(), Path::new("cp")).unwrap();
            prop_assert_eq!(&resumed, &checkpoint);
            for &batch in &order[cut..] {
                prop_assert!(!resumed.progress.is_acknowledged(batch));
                resumed.progress.acknowledge(ack(batch, 10, batch % 3)).unwrap();
            }
            prop_assert_eq!(resumed.progress, straight);
        }

        #[test]
        fn any_single_byte_change_is_refused_without_panic(at in any::<prop::sample::Index>(), byte: u8) {
            let mut bytes = sample().to_bytes().unwrap();
            let at = at.index(bytes.len());
            prop_assume!(bytes[at] != byte);
            bytes[at] = byte;
            prop_assert!(Checkpoint::from_bytes(&bytes, Path::new("cp")).is_err());
        }
    }
}
