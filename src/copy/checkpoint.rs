//! The checkpoint of a copy (`--checkpoint FILE`, default
//! `ferry-copy.checkpoint`): the plan itself, kept on disk with how far its
//! writes got, so that a copy interrupted while writing is resumed by
//! running the same command again, without reading either tenant or
//! planning again.
//!
//! The file is the plan's SQLite database, mode 0600: it holds the records
//! to write (users with their password hashes) and the destination records
//! they replace. Besides the writes it keeps:
//! - `meta`: the settings that shaped the plan (a resume with other flags
//!   is refused, and told which), the plan's report and the backup journal
//!   the writes go to. They are written once the plan is complete
//!   ([`Plan::seal`]), which then syncs the file and renames it into place:
//!   until then the plan is `FILE.planning` ([`planning`]), never taken
//!   for a checkpoint, and a run cut short while reading or planning (when
//!   nothing was written) leaves one the next run replaces;
//! - `progress`: per collection, the last write acknowledged, the records
//!   written and refused and the requests sent, with the length of the
//!   faulty file; committed and synced after each round of requests
//!   ([`Plan::advance`]), once the round's refused records are in the
//!   faulty file.
//!
//! A resumed copy sends the writes after the last acknowledged one. A round
//! cut short is sent again, which is harmless: creates go under
//! `mode=ignore` and updates carry the same record, and the journal lists
//! those records twice, which a rollback undoes once (the second time it
//! finds them gone, or restores the same state again). The faulty file is
//! cut back to its length at the last acknowledged round and appended to;
//! the journal is appended to, a torn last line cut off first.
//!
//! A finished copy removes its checkpoint: the next run reads both sides
//! and plans again (a copy makes the destination hold what the source
//! holds now; run again, it finds its own writes `unchanged`). Like an
//! import's checkpoint, it trusts the destination not to be changed by
//! anyone else between the runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::plan::{Kind, Plan};
use super::{CopyConfig, CopyReport};
use crate::target::TargetSpec;

/// The checkpoint's format, in `meta`: another file is not taken for one.
const FORMAT: &str = "ferry-copy-checkpoint 1";

/// What shapes a copy's plan, by name: a resume with any of them changed
/// would carry out a plan its flags do not describe.
pub type Settings = BTreeMap<&'static str, String>;

/// The settings of `config`.
pub fn settings(config: &CopyConfig) -> Settings {
    let place = |spec: &TargetSpec| match spec {
        TargetSpec::Remote { url, .. } => url.to_string(),
        TargetSpec::Embedded { db, .. } => format!("embedded:{}", db.display()),
    };
    let side = |s: &super::Side| format!("{} {:?} {}", place(&s.target), s.layout, s.tenant);
    Settings::from([
        ("source", side(&config.from)),
        ("destination", side(&config.to)),
        ("mode", format!("{:?}", config.mode)),
        ("rules", format!("{:?}", config.rules)),
        ("selection", format!("{:?}", config.selection)),
        ("protect", format!("{:?}", config.protect)),
        ("match_existing", format!("{:?}", config.match_existing)),
        (
            "preflight",
            format!("{} {}", config.preflight, config.strict),
        ),
        ("backup", format!("{:?}", config.backup)),
        ("faulty", config.faulty_file.display().to_string()),
        ("ferry", env!("CARGO_PKG_VERSION").to_string()),
    ])
}

/// How far the writes of a collection got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The last write acknowledged (its `seq`; 0: none).
    pub after: i64,
    /// Records written.
    pub written: u64,
    /// Records refused.
    pub refused: u64,
    /// Requests sent, retries included.
    pub requests: u64,
}

/// A checkpoint to resume from.
#[derive(Debug)]
pub struct Resume {
    /// The plan, its writes and its counts.
    pub plan: Plan,
    /// The plan's report, as it was when the writes began.
    pub report: CopyReport,
    /// How far each collection's writes got.
    pub progress: BTreeMap<Kind, Progress>,
    /// The faulty file's length at the last acknowledged round.
    pub faulty_len: u64,
}

/// Removes the checkpoint at `path` (and SQLite's log beside it), if any.
pub fn remove(path: &Path) -> std::io::Result<()> {
    crate::outputs::remove_database(path)
}

/// Where a plan destined for `path` is made: it becomes the checkpoint
/// only once sealed, so a plan cut short is never taken for one.
pub fn planning(path: &Path) -> PathBuf {
    crate::outputs::with_suffix(path, ".planning")
}

/// Opens the plan database at `path` for this process alone, each commit
/// synced.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.execute_batch(
        "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
    )?;
    Ok(db)
}

/// The checkpoint at `path` for a copy with `settings`: `Ok(None)` when
/// there is none; an error naming what changed when it was made with other
/// settings, or when it is not a copy's checkpoint.
pub fn load(path: &Path, settings: &Settings) -> Result<Option<Resume>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let not_one = |e: rusqlite::Error| {
        format!(
            "{} is not a ferry copy checkpoint ({e}); remove it, or give another --checkpoint",
            path.display()
        )
    };
    let db = open(path).map_err(not_one)?;
    let meta: BTreeMap<String, String> = db
        .prepare("SELECT key, value FROM meta")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .map_err(not_one)?;
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(format!(
            "{} is not a checkpoint of this ferry's copy; remove it, or give another --checkpoint",
            path.display()
        ));
    }
    let saved: BTreeMap<String, String> = meta
        .get("settings")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let changed: Vec<&str> = settings
        .iter()
        .filter(|(name, value)| saved.get(**name) != Some(*value))
        .map(|(name, _)| *name)
        .collect();
    if !changed.is_empty() {
        return Err(format!(
            "the unfinished copy in {} was started with other settings ({} changed): run it with the same flags to finish it, or give --restart to plan again",
            path.display(),
            changed.join(", ")
        ));
    }
    let damaged = |e: String| format!("the checkpoint {} is damaged: {e}", path.display());
    let report: CopyReport = meta
        .get("report")
        .ok_or_else(|| "no report".to_string())
        .and_then(|r| serde_json::from_str(r).map_err(|e| e.to_string()))
        .map_err(damaged)?;
    let faulty_len = meta
        .get("faulty_len")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let progress = read_progress(&db).map_err(|e| damaged(e.to_string()))?;
    let mut plan = Plan::opened(db, path.to_path_buf(), None, true);
    plan.tallies = report.collections.clone();
    plan.changes = report.changes.clone();
    plan.faulty = report.faulty;
    plan.passwords = report.passwords;
    Ok(Some(Resume {
        plan,
        report,
        progress,
        faulty_len,
    }))
}

fn read_progress(db: &Connection) -> rusqlite::Result<BTreeMap<Kind, Progress>> {
    let mut s = db.prepare("SELECT kind, after, written, refused, requests FROM progress")?;
    let rows = s.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Progress {
                after: r.get(1)?,
                written: r.get(2)?,
                refused: r.get(3)?,
                requests: r.get(4)?,
            },
        ))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (code, progress) = row?;
        if let Some(kind) = Kind::ALL.into_iter().find(|k| k.code() == code) {
            out.insert(kind, progress);
        }
    }
    Ok(out)
}

impl Plan {
    /// Makes the plan the checkpoint at `path`: its settings and report
    /// (the journal's path in it) written, the file synced and renamed from
    /// [`planning`] to `path`, the directory synced. From here on each
    /// commit is synced.
    /// `faulty_len` is the faulty file's length (the plan's skips).
    pub fn seal(
        &mut self,
        path: &Path,
        settings: &Settings,
        report: &CopyReport,
        faulty_len: u64,
    ) -> Result<(), String> {
        let failed = |e: String| format!("cannot save the checkpoint {}: {e}", path.display());
        let settings = serde_json::to_string(settings).map_err(|e| failed(e.to_string()))?;
        let report = serde_json::to_string(report).map_err(|e| failed(e.to_string()))?;
        let faulty_len = faulty_len.to_string();
        self.db
            .execute_batch(
                "CREATE TABLE progress (kind INTEGER PRIMARY KEY, after INTEGER NOT NULL,
                                        written INTEGER NOT NULL, refused INTEGER NOT NULL,
                                        requests INTEGER NOT NULL);
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
            )
            .and_then(|()| {
                let mut s = self
                    .db
                    .prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
                for (key, value) in [
                    ("format", FORMAT),
                    ("settings", &settings),
                    ("report", &report),
                    ("faulty_len", &faulty_len),
                ] {
                    s.execute(params![key, value])?;
                }
                Ok(())
            })
            .map_err(|e| failed(e.to_string()))?;
        // Closed, so that every page is in the file before it is synced.
        let placeholder = Connection::open_in_memory().map_err(|e| failed(e.to_string()))?;
        drop(std::mem::replace(&mut self.db, placeholder));
        crate::checkpoint::rename_synced(&self.path, path).map_err(|e| failed(e.to_string()))?;
        self.path = path.to_path_buf();
        self.sealed = true;
        self.db = open(path).map_err(|e| failed(e.to_string()))?;
        Ok(())
    }

    /// Records, synced, that the writes of `kind` are acknowledged through
    /// `progress.after`, and that the faulty file is `faulty_len` bytes long.
    pub fn advance(&self, kind: Kind, progress: Progress, faulty_len: u64) -> Result<(), String> {
        let failed =
            |e: rusqlite::Error| format!("cannot save the checkpoint {}: {e}", self.path.display());
        let db = &self.db;
        db.execute_batch("BEGIN").map_err(failed)?;
        let kind = kind.code();
        let done = db
            .execute(
                "INSERT OR REPLACE INTO progress (kind, after, written, refused, requests)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    kind,
                    progress.after,
                    progress.written,
                    progress.refused,
                    progress.requests
                ],
            )
            .and_then(|_| {
                db.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'faulty_len'",
                    params![faulty_len.to_string()],
                )
            })
            .and_then(|_| db.execute_batch("COMMIT"));
        if let Err(e) = done {
            let _ = db.execute_batch("ROLLBACK");
            return Err(failed(e));
        }
        Ok(())
    }

    /// Removes the checkpoint of a finished copy (nothing for a plan in a
    /// temporary directory, which goes with it).
    pub fn finish(self) -> Result<(), String> {
        let path = self.path.clone();
        let temporary = self.dir.is_some();
        drop(self);
        if temporary {
            return Ok(());
        }
        remove(&path).map_err(|e| {
            format!(
                "the copy is done, but its checkpoint {} could not be removed: {e}",
                path.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::from([("mode", "Ignore".to_string()), ("rules", "r".to_string())])
    }

    #[test]
    fn a_sealed_plan_comes_back_with_its_progress_for_the_same_settings_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.checkpoint");
        let mut plan = Plan::new(Some(&path)).unwrap();
        // Made beside the checkpoint: a plan cut short is never one.
        assert!(planning(&path).exists() && !path.exists());
        assert!(load(&path, &settings()).unwrap().is_none());
        let report = CopyReport {
            faulty: 1,
            ..CopyReport::default()
        };
        plan.seal(&path, &settings(), &report, 17).unwrap();
        assert!(path.exists() && !planning(&path).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let users = Progress {
            after: 42,
            written: 40,
            refused: 2,
            requests: 3,
        };
        plan.advance(Kind::Users, users, 99).unwrap();
        drop(plan);

        let resume = load(&path, &settings()).unwrap().unwrap();
        assert_eq!(resume.progress, BTreeMap::from([(Kind::Users, users)]));
        assert_eq!(resume.faulty_len, 99);
        assert_eq!(resume.report.faulty, 1);
        assert_eq!(resume.plan.faulty, 1);
        drop(resume);

        let mut other = settings();
        other.insert("mode", "Update".to_string());
        let refused = load(&path, &other).unwrap_err();
        assert!(
            refused.contains("(mode changed)") && refused.contains("--restart"),
            "{refused}"
        );

        // A finished copy removes it.
        let resume = load(&path, &settings()).unwrap().unwrap();
        resume.plan.finish().unwrap();
        assert!(!path.exists());
        assert!(load(&path, &settings()).unwrap().is_none());

        // A plan dropped before it is sealed takes its file with it.
        drop(Plan::new(Some(&path)).unwrap());
        assert!(!planning(&path).exists());

        // Anything else at the path is refused, not replaced.
        std::fs::write(&path, b"my notes").unwrap();
        let refused = load(&path, &settings()).unwrap_err();
        assert!(
            refused.contains("is not a ferry copy checkpoint"),
            "{refused}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"my notes");
    }
}
