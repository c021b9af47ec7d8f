//! `ferry copy`: a whole tenant (schemas, pools, groups, users with their
//! credentials, identifiers and addresses, group memberships) from one
//! platform tenant to another, through the same API a real tenant serves.
//!
//! The chain:
//! 1. both sides' dumps (`GET …/configuration`) are read as streams into
//!    indexes on disk ([`index`]); one-time codes are counted and dropped;
//! 2. protected users (`--protect type:value`) are looked up at the
//!    destination (`users/by_key`, in each of its pools): one that cannot be
//!    found stops the copy before anything is written;
//! 3. every source record is rewritten for the destination ([`rules`]) and
//!    planned against what the destination holds ([`plan`]): create,
//!    update, unchanged or skip, with the reason; the plan's lines go to
//!    `--plan FILE`, the faulty records to the faulty file;
//! 4. `--dry-run` stops there: no write request is sent;
//! 5. otherwise the destination's state is digested into the first line of
//!    the backup journal ([`journal`]), and the writes are sent in
//!    dependency order ([`write`]), each request's records journaled first.
//!
//! **Resuming**: the plan is the copy's checkpoint ([`checkpoint`]), with
//! how far its writes got. A copy interrupted while writing is resumed by
//! running the same command again: it reads neither side again, does not
//! plan again, and sends the writes not yet acknowledged, appending to the
//! same journal and faulty file. A finished copy removes its checkpoint.
//!
//! Nothing secret reaches the plan, the faulty file (credential payloads
//! are redacted), the report or a log line. The journal holds the replaced
//! users' hashes and is private (0600 in a 0700 directory).

pub mod checkpoint;
pub mod index;
pub mod journal;
pub mod plan;
pub mod rollback;
pub mod rules;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use uuid::Uuid;

use crate::contract::api::{Endpoint, Layout, SCOPE_IDENTITY, SCOPE_MANAGE, SCOPE_READ};
use crate::contract::{IdentifierType, ImportMode};
use crate::export::read::Requests;
use crate::progress::{Counters, Progress, ProgressMode};
use crate::send::backoff::Backoff;
use crate::send::deliver::{Effort, StopReason};
use crate::send::gate::ThrottleGate;
use crate::send::matching::Found;
use crate::target::{Connected, TargetError, TargetSpec};
use index::TenantIndex;
use journal::Journal;
use plan::{Inputs, Kind, Plan, PlanLine, Selection, Skip};
use rules::{Changes, Rules};

/// One side of a copy.
#[derive(Debug, Clone)]
pub struct Side {
    /// The platform (or a `ferry serve`) and the client's credentials.
    pub target: TargetSpec,
    /// Where it serves each endpoint.
    pub layout: Layout,
    /// The tenant.
    pub tenant: String,
}

/// A copy's settings.
#[derive(Debug, Clone)]
pub struct CopyConfig {
    /// Where records come from.
    pub from: Side,
    /// Where they go.
    pub to: Side,
    /// What happens to records the destination already has.
    pub mode: ImportMode,
    /// How records are rewritten (its `tenant` is the destination's).
    pub rules: Rules,
    /// What is copied.
    pub selection: Selection,
    /// Destination users never written: identifier type and value.
    pub protect: Vec<(IdentifierType, String)>,
    /// `--match-existing`.
    pub match_existing: Option<IdentifierType>,
    /// Check users against the destination's schemas first.
    pub preflight: bool,
    /// Stop before any write when the preflight refuses a user.
    pub strict: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Where the plan's lines go.
    pub plan_file: Option<PathBuf>,
    /// Where faulty records go.
    pub faulty_file: PathBuf,
    /// Where the backup journal goes (`None`: no backup).
    pub backup: Option<PathBuf>,
    /// The checkpoint: the plan and how far its writes got.
    pub checkpoint: PathBuf,
    /// Plan again, whatever checkpoint there is.
    pub restart: bool,
    /// Backoff and attempt limit per request.
    pub backoff: Backoff,
    /// Seed of the jitter.
    pub seed: Option<u64>,
    /// Time limit of one request.
    pub request_timeout: Duration,
    /// How progress is shown.
    pub progress: ProgressMode,
}

/// A copy could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// Flags or files that do not fit together, or a refusal before any
    /// write (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A side could not be reached.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A side stopped the copy.
    #[error("{side} stopped the copy: {stop}")]
    Stopped {
        /// `the source` or `the destination`.
        side: &'static str,
        /// Why.
        stop: StopReason,
    },
    /// A file could not be written, a dump read, an index kept.
    #[error("{0}")]
    Failed(String),
    /// The writes could not go on (the journal covers what was sent).
    #[error(transparent)]
    Write(#[from] write::WriteError),
}

impl CopyError {
    /// Whether nothing was written because of the user's flags or data.
    pub fn is_usage(&self) -> bool {
        matches!(self, CopyError::Usage(_))
    }
}

/// What a copy did, or would do.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct CopyReport {
    /// Planned only.
    pub dry_run: bool,
    /// This run carried out the plan of an interrupted one (its checkpoint).
    #[serde(default)]
    pub resumed: Option<PathBuf>,
    /// Per collection: created, updated, unchanged, skipped by reason.
    pub collections: BTreeMap<Kind, plan::Tally>,
    /// Records written per collection (by this run and those it resumes).
    pub written: BTreeMap<Kind, u64>,
    /// Records the destination refused.
    pub refused: u64,
    /// Faulty records in all (skips that are not on purpose, and refusals).
    pub faulty: u64,
    /// URL replacements per field; credentials stripped per type.
    pub changes: Changes,
    /// One-time codes at the source, none copied.
    pub codes_dropped: u64,
    /// Password credentials among the users written (or to write).
    pub passwords: u64,
    /// Destination users protected.
    pub protected: u64,
    /// The backup journal.
    pub journal: Option<PathBuf>,
    /// The faulty file, if anything is in it.
    pub faulty_file: Option<PathBuf>,
    /// Requests sent to the destination (writes, retries included; by
    /// this run and those it resumes).
    pub requests: u64,
    /// How long it took.
    pub seconds: f64,
    /// Of which reading both sides, planning, writing.
    pub phases: Phases,
}

/// Where a copy's time went, in seconds.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Phases {
    /// Reading both sides' dumps into their indexes.
    pub read: f64,
    /// Planning (and the destination's digests for the journal).
    pub plan: f64,
    /// Sending the writes.
    pub write: f64,
}

impl CopyReport {
    /// The summary, one line per collection then the notes.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        if let Some(checkpoint) = &self.resumed {
            out.push_str(&format!(
                "resumed the interrupted copy planned in {} (neither side read again)\n",
                checkpoint.display()
            ));
        }
        let verb = |done: &str| match self.dry_run {
            true => format!("would be {done}"),
            false => done.to_string(),
        };
        for (kind, t) in &self.collections {
            let skipped: Vec<String> = t
                .skipped
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect();
            let skipped = match skipped.is_empty() {
                true => "0 skipped".to_string(),
                false => format!("skipped: {}", skipped.join(", ")),
            };
            out.push_str(&format!(
                "{}: {} {}, {} {}, {} unchanged, {skipped}\n",
                kind.name(),
                t.create,
                verb("created"),
                t.update,
                verb("updated"),
                t.unchanged
            ));
        }
        if !self.changes.rewritten.is_empty() {
            let fields: Vec<String> = self
                .changes
                .rewritten
                .iter()
                .map(|(f, n)| format!("{f} {n}"))
                .collect();
            out.push_str(&format!("URLs rewritten: {}\n", fields.join(", ")));
        }
        if self.codes_dropped > 0 {
            out.push_str(&format!(
                "{} one-time codes at the source were not copied (they never are)\n",
                self.codes_dropped
            ));
        }
        for (kind, n) in &self.changes.stripped {
            out.push_str(&format!(
                "{n} {kind} credentials stripped (--strip): those users must re-enrol or reset\n"
            ));
        }
        if self.passwords > 0 {
            out.push_str(&format!(
                "password hashes copied: {} credentials (--strip password leaves them out)\n",
                self.passwords
            ));
        }
        if self.protected > 0 {
            out.push_str(&format!(
                "{} protected destination users were not written\n",
                self.protected
            ));
        }
        if self.faulty > 0 {
            out.push_str(&format!(
                "{} faulty records ({} refused by the destination) listed in {}\n",
                self.faulty,
                self.refused,
                self.faulty_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        match (&self.journal, self.dry_run) {
            (_, true) => out.push_str("dry run: no write request was sent\n"),
            (Some(j), false) => out.push_str(&format!(
                "backup journal: {} (undo with: ferry rollback {})\n",
                j.display(),
                j.parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )),
            (None, false) => out.push_str("no backup was taken (--no-backup)\n"),
        }
        out.push_str(&format!(
            "took {:.1}s (reading both sides {:.1}s, planning {:.1}s, writing {:.1}s)",
            self.seconds, self.phases.read, self.phases.plan, self.phases.write
        ));
        out
    }

    /// The exit status: done, or done with faulty records.
    pub fn outcome(&self) -> crate::outcome::Outcome {
        if self.faulty > 0 {
            crate::outcome::Outcome::Rejected
        } else {
            crate::outcome::Outcome::Done
        }
    }
}

/// A side, connected, with its request settings.
pub(crate) struct Connection {
    pub connected: Connected,
    pub requests: Requests,
}

/// Connects `side` with a token for `scope`.
pub(crate) async fn connect(
    side: &Side,
    scope: &str,
    (backoff, seed, timeout): (Backoff, Option<u64>, Duration),
) -> Result<Connection, CopyError> {
    let connected = Connected::connect(
        &side.target,
        side.layout,
        (&side.tenant, crate::server::DEFAULT_POOL),
        timeout.max(Duration::from_secs(1)),
        (write::IN_FLIGHT, scope),
    )
    .await?;
    let requests = Requests {
        client: connected.client(),
        gate: Arc::new(ThrottleGate::new(backoff)),
        backoff,
        seed,
    };
    Ok(Connection {
        connected,
        requests,
    })
}

/// Reads a side's whole dump into an index.
pub(crate) async fn read_side(
    requests: &Requests,
    side: &'static str,
) -> Result<TenantIndex, CopyError> {
    let url = requests
        .client
        .url(Endpoint::Configuration, "", "")
        .map_err(|e| CopyError::Usage(e.to_string()))?;
    let mut effort = Effort::default();
    let got = requests
        .sender(0)
        .fetch_dump(&url, &mut effort)
        .await
        .map_err(|stop| CopyError::Stopped { side, stop })?;
    tokio::task::spawn_blocking(move || {
        let mut index = TenantIndex::new()?;
        match got.spooled {
            Some(file) => index.add(file)?,
            None => index.add(std::io::Cursor::new(got.body))?,
        }
        Ok::<_, String>(index)
    })
    .await
    .map_err(|e| CopyError::Failed(format!("reading {side}'s export failed: {e}")))?
    .map_err(|e| CopyError::Failed(format!("{side}: {e}")))
}

/// Runs a copy. The plan is made on the calling thread
/// (`block_in_place`): call it from a multi-threaded runtime.
pub async fn run(config: &CopyConfig) -> Result<CopyReport, CopyError> {
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc();
    let retry = (config.backoff, config.seed, config.request_timeout);
    let from = connect(&config.from, SCOPE_READ, retry).await?;
    let scope = format!("{SCOPE_MANAGE} {SCOPE_READ} {SCOPE_IDENTITY}");
    let to = connect(&config.to, &scope, retry).await?;
    let result = copy(config, &from, &to, (started, started_at)).await;
    for side in [from, to] {
        side.connected.shutdown().await;
    }
    result
}

async fn copy(
    config: &CopyConfig,
    from: &Connection,
    to: &Connection,
    (started, started_at): (Instant, time::OffsetDateTime),
) -> Result<CopyReport, CopyError> {
    let settings = checkpoint::settings(config);
    // One run at a time on a checkpoint and a faulty file.
    let _lock = match config.dry_run {
        true => None,
        false => Some(
            crate::import::lock::RunLock::acquire([
                config.checkpoint.as_path(),
                config.faulty_file.as_path(),
            ])
            .map_err(|e| CopyError::Usage(e.to_string()))?,
        ),
    };
    if !config.dry_run && !config.restart {
        if let Some(resume) =
            checkpoint::load(&config.checkpoint, &settings).map_err(CopyError::Usage)?
        {
            return resume_copy(config, to, resume, started).await;
        }
    }
    let (source, dest) = tokio::try_join!(
        read_side(&from.requests, "the source"),
        read_side(&to.requests, "the destination")
    )?;
    let read = started.elapsed();
    let protected = protect(config, &to.requests, &dest).await?;

    let mut plan_out = match &config.plan_file {
        Some(path) => Some(open_private(path)?),
        None => None,
    };
    let mut faulty_out = FaultyFile::new(config.faulty_file.clone());
    let inputs = Inputs {
        rules: &config.rules,
        selection: &config.selection,
        mode: config.mode,
        protected: &protected,
        match_existing: config.match_existing,
        preflight: config.preflight,
        at: (!config.dry_run).then_some(config.checkpoint.as_path()),
    };
    let mut plan = tokio::task::block_in_place(|| {
        plan::plan(&source, &dest, &inputs, |line: &PlanLine, faulty| {
            if let Some(out) = &mut plan_out {
                write_line(out, line)?;
            }
            if faulty {
                faulty_out.skip(line)?;
            }
            Ok(())
        })
    })
    .map_err(CopyError::Failed)?;
    if let Some(out) = &mut plan_out {
        out.flush().map_err(|e| CopyError::Failed(e.to_string()))?;
    }
    refuse_before_writing(config, &plan)?;

    let mut report = CopyReport {
        dry_run: config.dry_run,
        resumed: None,
        collections: plan.tallies.clone(),
        written: BTreeMap::new(),
        refused: 0,
        faulty: plan.faulty,
        changes: plan.changes.clone(),
        codes_dropped: source.codes,
        passwords: plan.passwords,
        protected: protected.len() as u64,
        journal: None,
        faulty_file: None,
        requests: 0,
        seconds: 0.0,
        phases: Phases::default(),
    };
    report.phases.read = read.as_secs_f64();
    if config.dry_run {
        report.faulty_file = faulty_out.finish()?;
        plan.finish().map_err(CopyError::Failed)?;
        return Ok(finished(report, started));
    }
    let journal = match &config.backup {
        Some(dir) => {
            let before =
                tokio::task::block_in_place(|| dest.digests()).map_err(CopyError::Failed)?;
            Some(
                Journal::create(dir, started_at, &config.to.tenant, before).map_err(|e| {
                    CopyError::Failed(format!(
                        "cannot write the backup journal in {}: {e}",
                        dir.display()
                    ))
                })?,
            )
        }
        None => None,
    };
    report.journal = journal.as_ref().map(|j| j.path().to_path_buf());
    let faulty_len = faulty_out.sync().map_err(CopyError::Failed)?;
    tokio::task::block_in_place(|| plan.seal(&config.checkpoint, &settings, &report, faulty_len))
        .map_err(CopyError::Failed)?;
    let writes = Writes {
        plan,
        journal,
        faulty_out,
        progress: BTreeMap::new(),
    };
    carry_out(config, to, writes, report, started).await
}

/// Carries out the plan of an interrupted copy from its checkpoint.
async fn resume_copy(
    config: &CopyConfig,
    to: &Connection,
    resume: checkpoint::Resume,
    started: Instant,
) -> Result<CopyReport, CopyError> {
    let mut report = resume.report;
    report.resumed = Some(config.checkpoint.clone());
    report.phases = Phases::default();
    let journal = match &report.journal {
        Some(path) => Some(Journal::reopen(path).map_err(|e| {
            CopyError::Failed(format!(
                "cannot append to the backup journal {} of the interrupted copy: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let faulty_out = FaultyFile::resume(config.faulty_file.clone(), resume.faulty_len)?;
    let writes = Writes {
        plan: resume.plan,
        journal,
        faulty_out,
        progress: resume.progress,
    };
    carry_out(config, to, writes, report, started).await
}

/// A sealed plan and where its writes stand.
struct Writes {
    plan: Plan,
    journal: Option<Journal>,
    faulty_out: FaultyFile,
    progress: BTreeMap<Kind, checkpoint::Progress>,
}

/// Sends the plan's writes not yet acknowledged, saving the progress after
/// each round; removes the checkpoint once they are all done.
async fn carry_out(
    config: &CopyConfig,
    to: &Connection,
    writes: Writes,
    mut report: CopyReport,
    started: Instant,
) -> Result<CopyReport, CopyError> {
    let Writes {
        plan,
        mut journal,
        mut faulty_out,
        mut progress,
    } = writes;
    let writing = Instant::now();
    let total: u64 = plan.tallies.values().map(|t| t.create + t.update).sum();
    let already: u64 = progress.values().map(|p| p.written + p.refused).sum();
    let done = Arc::new(AtomicU64::new(already));
    let shown = done.clone();
    let bar = Progress::show(
        config.progress,
        Some(total),
        move || Counters::get(&shown),
        |_| "copying".to_string(),
    );
    let from: BTreeMap<Kind, i64> = progress.iter().map(|(k, p)| (*k, p.after)).collect();
    let written = write::write(
        &plan,
        &to.requests,
        &mut journal,
        (&from, &done),
        |round: write::Round| {
            for refused in &round.refused {
                faulty_out
                    .refused(refused)
                    .map_err(write::WriteError::Save)?;
            }
            let faulty_len = faulty_out.sync().map_err(write::WriteError::Save)?;
            let p = progress.entry(round.kind).or_default();
            p.after = round.last;
            p.written += round.written;
            p.refused += round.refused.len() as u64;
            p.requests += round.requests;
            tokio::task::block_in_place(|| plan.advance(round.kind, *p, faulty_len))
                .map_err(write::WriteError::Save)
        },
    )
    .await;
    bar.finish();
    written?;
    for (kind, p) in &progress {
        report.written.insert(*kind, p.written);
        report.refused += p.refused;
        report.requests += p.requests;
    }
    report.faulty += report.refused;
    report.phases.write = writing.elapsed().as_secs_f64();
    report.faulty_file = faulty_out.finish()?;
    plan.finish().map_err(CopyError::Failed)?;
    Ok(finished(report, started))
}

/// `report` with its time taken.
fn finished(mut report: CopyReport, started: Instant) -> CopyReport {
    report.seconds = started.elapsed().as_secs_f64();
    report.phases.plan = (report.seconds - report.phases.read - report.phases.write).max(0.0);
    report
}

/// The checks that stop a copy before anything is written.
fn refuse_before_writing(config: &CopyConfig, plan: &Plan) -> Result<(), CopyError> {
    let count = |label: &str| -> u64 {
        plan.tallies
            .values()
            .filter_map(|t| t.skipped.get(label))
            .sum()
    };
    if config.dry_run {
        return Ok(());
    }
    let exists = count(Skip::Exists.label());
    if config.mode == ImportMode::Fail && exists > 0 {
        return Err(CopyError::Usage(format!(
            "--mode fail: {exists} records exist at the destination and differ (see the plan with --dry-run --plan FILE); nothing was written"
        )));
    }
    let refused = count(Skip::Preflight(String::new()).label());
    if config.strict && refused > 0 {
        return Err(CopyError::Usage(format!(
            "--strict: the destination's schemas refuse {refused} users (listed in {}); nothing was written",
            config.faulty_file.display()
        )));
    }
    Ok(())
}

/// The destination users `--protect` names, looked up by key in each of
/// the destination's pools. One that cannot be found stops the copy.
async fn protect(
    config: &CopyConfig,
    requests: &Requests,
    dest: &TenantIndex,
) -> Result<BTreeSet<Uuid>, CopyError> {
    let mut protected = BTreeSet::new();
    for (kind, value) in &config.protect {
        let mut found = false;
        for pool in dest.pools.keys() {
            let url = requests
                .client
                .url(Endpoint::UserByKey, pool, "")
                .map_err(|e| CopyError::Usage(e.to_string()))?;
            let body = serde_json::to_vec(&serde_json::json!({ "identifier": value }))
                .map_err(|e| CopyError::Failed(e.to_string()))?;
            let got = requests
                .sender(0)
                .lookup(&url, Bytes::from(body), &mut Effort::default())
                .await
                .map_err(|stop| CopyError::Stopped {
                    side: "the destination",
                    stop,
                })?;
            let Some(got) = got else { continue };
            let user: Found = serde_json::from_slice(&got.body).map_err(|_| {
                CopyError::Failed(
                    "the destination's users/by_key answer is not a UserWithData".into(),
                )
            })?;
            let holds = user
                .identifiers
                .iter()
                .any(|i| i.kind == kind.as_str() && i.identifier.eq_ignore_ascii_case(value));
            if holds {
                protected.insert(user.id);
                found = true;
            }
        }
        if !found {
            return Err(CopyError::Usage(format!(
                "cannot find the protected user {}:{value} at the destination; stopping so it cannot be overwritten (nothing was written)",
                kind.as_str()
            )));
        }
    }
    Ok(protected)
}

/// A new private file for lines.
fn open_private(path: &std::path::Path) -> Result<std::io::BufWriter<std::fs::File>, CopyError> {
    crate::private::private_file(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
        path,
    )
    .map(std::io::BufWriter::new)
    .map_err(|e| CopyError::Failed(format!("cannot write {}: {e}", path.display())))
}

fn write_line(out: &mut impl std::io::Write, line: &impl Serialize) -> Result<(), String> {
    serde_json::to_writer(&mut *out, line).map_err(|e| e.to_string())?;
    out.write_all(b"\n").map_err(|e| e.to_string())
}

/// The faulty file: created with its first line, so a clean copy leaves none.
struct FaultyFile {
    path: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    /// Bytes in the file.
    len: u64,
}

/// One line of the faulty file.
#[derive(Debug, Serialize)]
struct FaultyLine<'a> {
    collection: Kind,
    id: &'a str,
    action: &'static str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<serde_json::Value>,
}

impl FaultyFile {
    fn new(path: PathBuf) -> FaultyFile {
        FaultyFile {
            path,
            out: None,
            len: 0,
        }
    }

    /// The faulty file of an interrupted copy, cut back to the `len` bytes
    /// its checkpoint counts, to append to.
    fn resume(path: PathBuf, len: u64) -> Result<FaultyFile, CopyError> {
        if len == 0 {
            return Ok(FaultyFile::new(path));
        }
        let file = crate::private::private_file(
            std::fs::OpenOptions::new().read(true).append(true),
            &path,
        )
        .and_then(|file| {
            if file.metadata()?.len() < len {
                return Err(std::io::Error::other(
                    "it is shorter than the checkpoint says",
                ));
            }
            file.set_len(len)?;
            Ok(file)
        })
        .map_err(|e| {
            CopyError::Failed(format!(
                "cannot go on with the faulty file {} of the interrupted copy: {e}",
                path.display()
            ))
        })?;
        Ok(FaultyFile {
            path,
            out: Some(std::io::BufWriter::new(file)),
            len,
        })
    }

    fn line(&mut self, line: &FaultyLine<'_>) -> Result<(), String> {
        if self.out.is_none() {
            self.out = Some(open_private(&self.path).map_err(|e| e.to_string())?);
        }
        let mut bytes = serde_json::to_vec(line).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        if let Some(out) = &mut self.out {
            out.write_all(&bytes).map_err(|e| e.to_string())?;
            self.len += bytes.len() as u64;
        }
        Ok(())
    }

    fn skip(&mut self, line: &PlanLine) -> Result<(), String> {
        self.line(&FaultyLine {
            collection: line.collection,
            id: &line.id,
            action: "skip",
            reason: line.reason.as_deref().unwrap_or_default(),
            record: None,
        })
    }

    fn refused(&mut self, refused: &write::Refused) -> Result<(), String> {
        let w = &refused.write;
        self.line(&FaultyLine {
            collection: w.kind,
            id: &w.id,
            action: match w.action {
                plan::Action::Update => "update",
                _ => "create",
            },
            reason: &refused.reason,
            record: Some(write::redacted(w.kind, &w.doc)),
        })
    }

    /// Flushes and syncs what is written; its length.
    fn sync(&mut self) -> Result<u64, String> {
        if let Some(out) = &mut self.out {
            out.flush()
                .and_then(|()| out.get_ref().sync_data())
                .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        }
        Ok(self.len)
    }

    /// Flushes the file; without a faulty record, removes the file an
    /// earlier run left there, so the file always lists this copy's.
    fn finish(mut self) -> Result<Option<PathBuf>, CopyError> {
        match self.out.take() {
            Some(mut out) => {
                out.flush().map_err(|e| CopyError::Failed(e.to_string()))?;
                Ok(Some(self.path))
            }
            None => {
                match std::fs::remove_file(&self.path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(CopyError::Failed(format!(
                            "cannot remove the earlier faulty file {}: {e}",
                            self.path.display()
                        )))
                    }
                    _ => {}
                }
                Ok(None)
            }
        }
    }
}

/// The records a faulty file lists, for `--retry-faulty`.
pub fn faulty_records(path: &std::path::Path) -> Result<BTreeSet<(Kind, String)>, String> {
    #[derive(serde::Deserialize)]
    struct Listed {
        collection: Kind,
        id: String,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = BTreeSet::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let listed: Listed = serde_json::from_str(line)
            .map_err(|_| format!("{} line {} is not a faulty record", path.display(), n + 1))?;
        out.insert((listed.collection, listed.id));
    }
    Ok(out)
}
