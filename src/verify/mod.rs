//! `ferry verify`: proof that the target holds every user of the source as
//! the source has them.
//!
//! The source is mapped exactly as `ferry import` maps it (the same
//! preset, mapping file and settings, so the same record ids), and every
//! user it yields is written to an index on disk ([`SourceIndex`], SQLite
//! in a private temporary directory: the entries hold password hashes).
//! The target's users of the pool are then read in id order, a page at a
//! time, with the export's reader ([`crate::export::read::Pager`]: the dump,
//! with credentials), and merged with the index, which hands out the same
//! id range in the same order. Each user is then:
//!
//! - **matching**: at the target with the same content (times aside, see
//!   [`Entry::differences`]);
//! - **different**: at the target with other content; the fields are named;
//! - **missing**: not at the target;
//! - **extra**: at the target in that pool, not in the source (reported,
//!   never touched: a pool may hold users of its own).
//!
//! With `--sign-in FILE`, canary users are then signed in through the
//! platform's password check ([`sign_in`]); one that does not sign in is a
//! disagreement too.
//!
//! Rows the mapping rejects or excludes are counted as the import's rejects
//! file has them: they were never meant to reach the target. Memory holds a
//! page of the target and the matching range of the index, whatever the
//! size of the pool.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use serde::Serialize;
use uuid::Uuid;

use crate::contract::entry::Entry;
use crate::contract::line::ExportLine;
use crate::error::Error;
use crate::export::read::{Pager, Requests};
use crate::outcome::Outcome;
use crate::pipeline::BodySettings;
use crate::send::backoff::Backoff;
use crate::send::client::TargetClient;
use crate::send::gate::ThrottleGate;

/// Users per page read from the target.
const PAGE: u32 = 1000;
/// Users listed in the summary for each finding, at most.
const LISTED: usize = 10;

/// What a verification found for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Not at the target.
    Missing,
    /// At the target with other content.
    Different,
    /// At the target, not in the source.
    Extra,
}

/// One line of the `--diff` file: a user that is not at the target as the
/// source has it. Names fields, never values (the file may be shared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// What was found.
    pub finding: Finding,
    /// The user's id.
    pub id: Uuid,
    /// The source row it comes from (not for `extra`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The user's key in the source (not for `extra`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For `different`: the fields that differ ([`Entry::differences`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// What a verification found, in all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Source rows read.
    pub read: u64,
    /// Users of the source at the target as the source has them.
    pub matching: u64,
    /// Users of the source not at the target.
    pub missing: u64,
    /// Users of the source at the target with other content.
    pub different: u64,
    /// Users at the target, in the pool, that the source does not have.
    pub extra: u64,
    /// Source rows the mapping rejects (the import's rejects file).
    pub rejected: u64,
    /// Source rows the mapping leaves out on purpose.
    pub excluded: u64,
    /// How often each field differs, over the different users (record ids
    /// left out: `identifiers.identifier`).
    pub fields: BTreeMap<String, u64>,
    /// The first few users of each finding, for the summary.
    #[serde(skip)]
    pub examples: Vec<DiffLine>,
    /// The missing and different users: what a repair sends.
    #[serde(skip)]
    pub resend: Vec<Uuid>,
    /// With `--sample N`: the users compared, read by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled: Option<u64>,
    /// How the canaries signed in (`--sign-in`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<sign_in::SignInReport>,
    /// Requests resent.
    pub retries: usize,
    /// How long it took.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl VerifyReport {
    /// Whether the target holds every user of the source as the source has it.
    pub fn agrees(&self) -> bool {
        self.missing == 0
            && self.different == 0
            && self.sign_in.as_ref().is_none_or(|s| s.all_signed_in())
    }

    /// Exit 0 when source and target agree, 4 when they do not.
    pub fn outcome(&self) -> Outcome {
        if self.agrees() {
            Outcome::Done
        } else {
            Outcome::Differs
        }
    }

    /// The summary, a line of counts and then the first users that differ.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "verified {} rows in {:.1}s: {} users matching, {} missing, {} different, {} extra at the target (not in the source, left alone), {} rejected and {} excluded by the mapping; {}",
            self.read,
            self.elapsed.as_secs_f64(),
            self.matching,
            self.missing,
            self.different,
            self.extra,
            self.rejected,
            self.excluded,
            if self.agrees() {
                "the target agrees with the source"
            } else {
                "the target does NOT agree with the source (--repair sends the missing and different users)"
            }
        );
        if let Some(n) = self.sampled {
            text.push_str(&format!(
                "\n(a sample of {n} users, each read by id; credentials not compared: the user endpoint blurs them; extra users not looked for)"
            ));
        }
        if !self.fields.is_empty() {
            let fields: Vec<String> = self
                .fields
                .iter()
                .map(|(field, n)| format!("{field} ({n})"))
                .collect();
            text.push_str(&format!("\ndifferent fields: {}", fields.join(", ")));
        }
        if let Some(sign_in) = &self.sign_in {
            text.push('\n');
            text.push_str(&sign_in.summary());
        }
        for line in &self.examples {
            let key = line.key.as_deref().unwrap_or("-");
            let what = match line.finding {
                Finding::Missing => "missing".to_string(),
                Finding::Different => format!("different: {}", line.fields.join(", ")),
                Finding::Extra => "extra".to_string(),
            };
            text.push_str(&format!("\n  {} (key {key}): {what}", line.id));
        }
        text
    }

    /// Counts `line`, and keeps it as an example while there are few.
    fn count(&mut self, line: &DiffLine) {
        if line.finding != Finding::Extra {
            self.resend.push(line.id);
        }
        match line.finding {
            Finding::Missing => self.missing += 1,
            Finding::Extra => self.extra += 1,
            Finding::Different => {
                self.different += 1;
                for field in &line.fields {
                    *self.fields.entry(field_name(field)).or_default() += 1;
                }
            }
        }
        let shown = self
            .examples
            .iter()
            .filter(|e| e.finding == line.finding)
            .count();
        if shown < LISTED {
            self.examples.push(line.clone());
        }
    }
}

/// A field path without its record ids: `identifiers[<id>].identifier` →
/// `identifiers.identifier`, `addresses[<id>]: not at the target` →
/// `addresses: not at the target`.
fn field_name(path: &str) -> String {
    let mut name = String::with_capacity(path.len());
    let mut inside = false;
    for c in path.chars() {
        match c {
            '[' => inside = true,
            ']' => inside = false,
            c if !inside => name.push(c),
            _ => {}
        }
    }
    name
}

/// The source's users on disk, by id (see the module).
pub struct SourceIndex {
    /// The index.
    db: Connection,
    /// Its private directory, removed with it.
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for SourceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceIndex").finish_non_exhaustive()
    }
}

/// A user of the source, as the index hands it out.
#[derive(Debug, Clone)]
pub struct SourceUser {
    /// The user's id.
    pub id: Uuid,
    /// Its source row.
    pub row: u64,
    /// Its key.
    pub key: String,
    /// What the import sends for it.
    pub entry: Entry,
}

fn index_error(e: impl std::fmt::Display) -> Error {
    Error::Usage(format!("the verification's source index: {e}"))
}

impl SourceIndex {
    /// Maps the source of `settings` as an import would and indexes its
    /// users; returns the index and the report's source counts.
    pub fn build(
        settings: &BodySettings,
        methods: &mut sign_in::Methods,
    ) -> Result<(SourceIndex, VerifyReport), Error> {
        let dir = crate::private::private_temp_dir("ferry-verify").map_err(index_error)?;
        let db = Connection::open(dir.path().join("source.db")).map_err(index_error)?;
        db.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;
             CREATE TABLE users (id BLOB PRIMARY KEY, row INTEGER NOT NULL, key TEXT NOT NULL,
                                 line BLOB NOT NULL) WITHOUT ROWID;",
        )
        .map_err(index_error)?;
        let mut report = VerifyReport::default();
        let batches = settings.batches(settings.import_time().for_run(None), None)?;
        let mut line = Vec::new();
        for batch in batches {
            let batch = batch?;
            report.read += batch.rows();
            let excluded = crate::batch::excluded_rows(&batch.rejected);
            report.excluded += excluded;
            report.rejected += batch.rejected.len() as u64 - excluded;
            let tx = db.unchecked_transaction().map_err(index_error)?;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO users (id, row, key, line) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(index_error)?;
                for user in batch.users {
                    methods.note(&user.records);
                    line.clear();
                    let id = user.records.user.id;
                    ExportLine::new(user.records)
                        .write_to(&mut line)
                        .map_err(index_error)?;
                    insert
                        .execute(params![id.as_bytes().as_slice(), user.row, user.key, line])
                        .map_err(index_error)?;
                }
            }
            tx.commit().map_err(index_error)?;
        }
        Ok((SourceIndex { db, _dir: dir }, report))
    }

    /// Users indexed.
    pub fn len(&self) -> Result<u64, Error> {
        self.db
            .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
            .map_err(index_error)
    }

    /// Whether no user is indexed.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// About `n` users spread evenly over the id space: every
    /// (users ÷ `n`)-th in id order.
    pub fn sample(&self, n: u64) -> Result<Vec<SourceUser>, Error> {
        let every = (self.len()? / n.max(1)).max(1);
        let mut select = self
            .db
            .prepare(
                "SELECT id, row, key, line FROM (SELECT id, row, key, line,
                 row_number() OVER (ORDER BY id) AS n FROM users) WHERE n % ?1 = 0 LIMIT ?2",
            )
            .map_err(index_error)?;
        let rows = select
            .query_map(params![every, n], read_user)
            .map_err(index_error)?;
        rows.map(|found| found.map_err(index_error)?).collect()
    }

    /// The users with ids after `after` (all when `None`) up to `through`
    /// (to the end when `None`), in id order.
    pub fn range(
        &self,
        after: Option<Uuid>,
        through: Option<Uuid>,
    ) -> Result<Vec<SourceUser>, Error> {
        let low = after.map_or_else(Vec::new, |id| id.as_bytes().to_vec());
        let high = through.map_or_else(|| vec![0xff; 17], |id| id.as_bytes().to_vec());
        let mut select = self
            .db
            .prepare_cached(
                "SELECT id, row, key, line FROM users WHERE id > ?1 AND id <= ?2 ORDER BY id",
            )
            .map_err(index_error)?;
        let rows = select
            .query_map(params![low, high], read_user)
            .map_err(index_error)?;
        rows.map(|found| found.map_err(index_error)?).collect()
    }
}

/// A row of the index (`id, row, key, line`) as a user; the inner `Err`
/// for a line that does not read back.
fn read_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<SourceUser, Error>> {
    let (id, number, key, line) = (
        row.get::<_, Vec<u8>>(0)?,
        row.get::<_, u64>(1)?,
        row.get::<_, String>(2)?,
        row.get::<_, Vec<u8>>(3)?,
    );
    Ok((|| {
        let id = Uuid::from_slice(&id).map_err(index_error)?;
        let line: ExportLine = serde_json::from_slice(&line).map_err(index_error)?;
        Ok(SourceUser {
            id,
            row: number,
            key,
            entry: line.into_entry(),
        })
    })())
}

/// Merges the source users `ours` with the target's `theirs` (both in id
/// order, the same id range) into findings, handed to `found`; returns how
/// many matched.
pub fn merge(
    ours: Vec<SourceUser>,
    theirs: Vec<ExportLine>,
    mut found: impl FnMut(DiffLine),
) -> u64 {
    let mut matching = 0;
    let mut ours = ours.into_iter().peekable();
    let mut theirs = theirs.into_iter().peekable();
    loop {
        let order = match (ours.peek(), theirs.peek()) {
            (None, None) => return matching,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(a), Some(b)) => a.id.cmp(&b.user.id),
        };
        match order {
            std::cmp::Ordering::Less => {
                if let Some(user) = ours.next() {
                    found(DiffLine {
                        finding: Finding::Missing,
                        id: user.id,
                        row: Some(user.row),
                        key: Some(user.key),
                        fields: Vec::new(),
                    });
                }
            }
            std::cmp::Ordering::Greater => {
                if let Some(line) = theirs.next() {
                    found(DiffLine {
                        finding: Finding::Extra,
                        id: line.user.id,
                        row: None,
                        key: None,
                        fields: Vec::new(),
                    });
                }
            }
            std::cmp::Ordering::Equal => {
                if let (Some(user), Some(line)) = (ours.next(), theirs.next()) {
                    let theirs = line.into_entry();
                    // The cheap comparison first; fields are named only
                    // for users that differ.
                    let fields = match user.entry.same_content(&theirs) {
                        true => Vec::new(),
                        false => user.entry.differences(&theirs),
                    };
                    if fields.is_empty() {
                        matching += 1;
                    } else {
                        found(DiffLine {
                            finding: Finding::Different,
                            id: user.id,
                            row: Some(user.row),
                            key: Some(user.key),
                            fields,
                        });
                    }
                }
            }
        }
    }
}

/// The `--diff` file: one JSON line per user that is not at the target as
/// the source has it. Created 0600: it names users.
struct DiffFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl DiffFile {
    fn create(path: &Path) -> Result<DiffFile, Error> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let file = crate::private::private_file(&mut options, path).map_err(Error::output(path))?;
        Ok(DiffFile {
            path: path.to_path_buf(),
            out: std::io::BufWriter::new(file),
        })
    }

    fn write(&mut self, line: &DiffLine) -> Result<(), Error> {
        let mut text = serde_json::to_vec(line).map_err(|e| Error::output(&self.path)(e.into()))?;
        text.push(b'\n');
        self.out.write_all(&text).map_err(Error::output(&self.path))
    }

    fn finish(mut self) -> Result<(), Error> {
        self.out.flush().map_err(Error::output(&self.path))
    }
}

/// Verifies the source of `settings` against the pool at `client`: see the
/// module. `diff` receives one line per user that differs.
pub async fn run(
    settings: &BodySettings,
    client: Arc<TargetClient>,
    (backoff, seed): (Backoff, Option<u64>),
    (diff, sign_in): (Option<&Path>, Option<&Path>),
    sample: Option<u64>,
) -> Result<VerifyReport, Error> {
    let started = Instant::now();
    let canaries = sign_in.map(sign_in::read).transpose()?;
    let mut methods = sign_in::Methods::wanted(canaries.as_deref().unwrap_or_default());
    let for_index = settings.clone();
    let (index, mut report, methods) = tokio::task::spawn_blocking(move || {
        SourceIndex::build(&for_index, &mut methods).map(|(index, report)| (index, report, methods))
    })
    .await
    .map_err(|e| Error::Usage(format!("the verification stopped: {e}")))??;
    let mut diff = diff.map(DiffFile::create).transpose()?;
    let requests = Requests {
        client,
        gate: Arc::new(ThrottleGate::new(backoff)),
        backoff,
        seed,
    };
    let retries = match sample {
        Some(n) => {
            let found = sampled(&index, n, &requests, settings.pool()).await?;
            report.sampled = Some(found.matching + found.lines.len() as u64);
            report.matching += found.matching;
            record(&mut report, &mut diff, &found.lines)?;
            found.retries
        }
        None => merged(index, &requests, settings.pool(), &mut report, &mut diff).await?,
    };
    if let Some(diff) = diff {
        diff.finish()?;
    }
    if let Some(canaries) = &canaries {
        report.sign_in =
            Some(sign_in::check(&requests, settings.pool(), canaries, &methods).await?);
    }
    report.retries = retries;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Counts each finding of `lines` and writes it to the diff file.
fn record(
    report: &mut VerifyReport,
    diff: &mut Option<DiffFile>,
    lines: &[DiffLine],
) -> Result<(), Error> {
    for line in lines {
        report.count(line);
        if let Some(diff) = diff.as_mut() {
            diff.write(line)?;
        }
    }
    Ok(())
}

/// The whole pool, read in id order and merged with `index`; returns the
/// requests resent.
async fn merged(
    mut index: SourceIndex,
    requests: &Requests,
    pool: &str,
    report: &mut VerifyReport,
    diff: &mut Option<DiffFile>,
) -> Result<usize, Error> {
    let mut pager = Pager::new(requests.clone(), pool, (PAGE, 1), true, None);
    let mut after: Option<Uuid> = None;
    loop {
        let page = pager
            .next_page()
            .await
            .map_err(|e| Error::Usage(format!("cannot read the target's users: {e}")))?;
        let last = page.as_ref().and_then(|p| p.last().map(|l| l.user.id));
        let done = page.is_none();
        let theirs = page.unwrap_or_default();
        let (back, ours) = tokio::task::spawn_blocking(move || {
            let ours = index.range(after, if done { None } else { last });
            (index, ours)
        })
        .await
        .map_err(|e| Error::Usage(format!("the verification stopped: {e}")))?;
        index = back;
        let mut lines = Vec::new();
        report.matching += merge(ours?, theirs, |line| lines.push(line));
        record(report, diff, &lines)?;
        if done {
            return Ok(pager.retries());
        }
        after = last.or(after);
    }
}

/// What a sample found.
struct Sampled {
    matching: u64,
    lines: Vec<DiffLine>,
    retries: usize,
}

/// About `n` users of `index`, each read by id from the platform's user
/// endpoint (`GET …/users/{userID}`), which blurs credentials: they are
/// left out of the comparison on both sides. No user is extra in a sample.
async fn sampled(
    index: &SourceIndex,
    n: u64,
    requests: &Requests,
    pool: &str,
) -> Result<Sampled, Error> {
    let mut found = Sampled {
        matching: 0,
        lines: Vec::new(),
        retries: 0,
    };
    let mut sender = requests.sender(0);
    for mut user in index.sample(n)? {
        let url = requests
            .client
            .url(
                crate::contract::api::Endpoint::User,
                pool,
                &user.id.to_string(),
            )
            .map_err(|e| Error::Usage(e.to_string()))?;
        let mut effort = crate::send::deliver::Effort::default();
        let got = sender
            .fetch(&url, true, &mut effort)
            .await
            .map_err(|e| Error::Usage(format!("cannot read the target's user: {e}")))?;
        found.retries += effort.retries.len();
        let theirs = got
            .map(|got| crate::export::read::user_line(&got.body))
            .transpose()
            .map_err(|e| Error::Usage(e.to_string()))?;
        user.entry.credentials.clear();
        let matching = merge(vec![user], theirs.into_iter().collect(), |line| {
            found.lines.push(line)
        });
        found.matching += matching;
    }
    Ok(found)
}

pub mod sign_in;

#[cfg(test)]
mod tests;
