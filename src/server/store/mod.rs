//! The server's storage: one SQLite database in WAL mode.
//!
//! All writes go through one dedicated writer thread that owns the only
//! write connection: import requests reach it through a channel, each is
//! applied in a `BEGIN IMMEDIATE` transaction ([`write`]), and the answer
//! goes back once the transaction has committed, so a 204 is only ever sent
//! for data in the WAL. Requests that queue up while a transaction runs are
//! applied together in the next one, each in its own savepoint (group
//! commit): a refused request is rolled back alone, and the commit, which
//! writes every page the group dirtied to the WAL, is paid once per group. One writer means no lock contention and lets the
//! connection keep its prepared statements warm; SQLite allows one writer at
//! a time anyway. Parsing and validation happen before, on the async workers,
//! in parallel.
//!
//! Exports run on blocking threads with read-only connections of their own
//! ([`export`]); WAL lets them read a consistent snapshot while the writer
//! goes on.
//!
//! Checkpoints (copying the WAL into the database file) run on a thread and
//! connection of their own, every half second, so a commit only ever appends
//! to the WAL; the WAL is emptied whenever it passes 32 MiB.
//!
//! Durability is chosen by [`Durability`]: with WAL and `synchronous=NORMAL`
//! (the default) a commit survives a `kill -9` of the server but not power
//! loss; `synchronous=FULL` survives both at the price of an fsync per request.

mod columns;
pub mod export;
mod schema;
mod write;

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use futures::Stream;
use rusqlite::{params, Connection};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

pub use export::{ExportScope, ExportStart};

use super::config::Durability;
use super::rejection::Rejection;
use super::validate::ValidBatch;
use crate::contract::records::ImportMode;

/// Import requests waiting for the writer; senders wait when it is full.
const WRITER_QUEUE: usize = 64;
/// Chunks an export may have in flight to its client.
const EXPORT_QUEUE: usize = 4;

/// A storage failure (not a refusal of the request: see [`Rejection`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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

/// Rows written per kind by one import (inserted or overwritten).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// Pools.
    pub pools: usize,
    /// Users.
    pub users: usize,
    /// Credentials.
    pub credentials: usize,
    /// Identifiers.
    pub identifiers: usize,
    /// Verifiable addresses.
    pub addresses: usize,
}

/// What an applied import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Users of the request that were already stored (kept under `ignore`,
    /// overwritten under `update`).
    pub users_existing: usize,
    /// Rows written per kind.
    pub written: RecordCounts,
}

/// Work for the writer thread.
enum Job {
    Import {
        tenant: String,
        batch: Box<ValidBatch>,
        mode: ImportMode,
        reply: oneshot::Sender<Result<ImportOutcome, ApplyError>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// Handle to the database: the writer thread's queue and the file path for readers.
#[derive(Debug)]
pub struct Store {
    /// Queue of the writer thread.
    jobs: mpsc::Sender<Job>,
    /// The database file, for export connections.
    path: PathBuf,
    /// Tenants that exist; fixed once the store is open (tenants are only
    /// created at start).
    tenants: HashSet<String>,
    /// The writer thread, joined by [`Store::close`].
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The checkpointer thread and the sender that stops it (dropping it does too).
    checkpointer: Mutex<Option<(std::sync::mpsc::Sender<()>, JoinHandle<()>)>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Import { tenant, mode, .. } => write!(f, "Import({tenant}, {mode})"),
            Job::Close { .. } => f.write_str("Close"),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, makes sure every
    /// tenant of `tenants` exists with pool `pool`, and starts the writer
    /// thread. Blocking: call it from a blocking context.
    pub fn open<'a>(
        path: &Path,
        durability: Durability,
        tenants: impl IntoIterator<Item = &'a str>,
        pool: &str,
    ) -> Result<Store, StoreError> {
        let mut conn = schema::open_writer(path, durability)?;
        for tenant in tenants {
            ensure_tenant(&mut conn, tenant, pool)?;
        }
        let known = load_tenants(&conn)?;
        let (jobs, queue) = mpsc::channel(WRITER_QUEUE);
        let reset_wanted = Arc::new(AtomicBool::new(false));
        let writer = std::thread::Builder::new()
            .name("ferry-db-writer".into())
            .spawn({
                let reset = reset_wanted.clone();
                move || writer_loop(conn, queue, reset)
            })?;
        let checkpoints = schema::open_checkpointer(path)?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let reset = reset_wanted;
        let (stop_checkpoints, stopped) = std::sync::mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("ferry-db-checkpointer".into())
            .spawn(move || checkpointer_loop(checkpoints, wal, reset, stopped))?;
        Ok(Store {
            jobs,
            path: path.to_owned(),
            tenants: known,
            writer: Mutex::new(Some(writer)),
            checkpointer: Mutex::new(Some((stop_checkpoints, checkpointer))),
        })
    }

    /// Whether `tenant` exists.
    pub fn has_tenant(&self, tenant: &str) -> bool {
        self.tenants.contains(tenant)
    }

    /// Applies a validated batch in one transaction; returns once committed.
    pub async fn import(
        &self,
        tenant: &str,
        batch: ValidBatch,
        mode: ImportMode,
    ) -> Result<ImportOutcome, ApplyError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Import {
            tenant: tenant.to_owned(),
            batch: Box::new(batch),
            mode,
            reply,
        };
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Starts an export of `tenant` on a blocking thread. Returns what is
    /// known before the body (whether the pool exists, the next page's
    /// cursor) and the body as a stream of chunks.
    pub async fn export(
        &self,
        tenant: &str,
        scope: ExportScope,
    ) -> Result<
        (
            ExportStart,
            impl Stream<Item = Result<Bytes, io::Error>> + use<>,
        ),
        StoreError,
    > {
        let (start_tx, start_rx) = oneshot::channel();
        let (chunk_tx, chunk_rx) = mpsc::channel(EXPORT_QUEUE);
        let path = self.path.clone();
        let tenant = tenant.to_owned();
        let reader = tokio::task::spawn_blocking(move || {
            let mut conn = schema::open_reader(&path)?;
            export::run(&mut conn, &tenant, &scope, start_tx, chunk_tx)
        });
        match start_rx.await {
            Ok(start) => {
                tokio::spawn(log_export_failure(reader));
                Ok((start, chunk_stream(chunk_rx)))
            }
            // The reader ended before saying anything: it failed.
            Err(_) => match reader.await {
                Ok(Err(err)) => Err(err),
                _ => Err(StoreError::Closed),
            },
        }
    }

    /// Stops the writer thread after the jobs already queued, and waits
    /// until it has closed the database.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Close { reply }).await.is_ok() {
            let _ = done.await;
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        if let Some((stop, thread)) = checkpointer {
            drop(stop);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Most queued imports applied in one group transaction.
const MAX_GROUP: usize = 32;

/// One queued import waiting for the group's commit.
type Pending = (
    String,
    Box<ValidBatch>,
    ImportMode,
    oneshot::Sender<Result<ImportOutcome, ApplyError>>,
);

fn writer_loop(mut conn: Connection, mut queue: mpsc::Receiver<Job>, reset: Arc<AtomicBool>) {
    while let Some(job) = queue.blocking_recv() {
        // Take whatever else is queued already: one commit for all of it.
        let mut group: Vec<Pending> = Vec::new();
        let mut close = None;
        let mut next = Some(job);
        while let Some(job) = next.take() {
            match job {
                Job::Import {
                    tenant,
                    batch,
                    mode,
                    reply,
                } => group.push((tenant, batch, mode, reply)),
                Job::Close { reply } => {
                    close = Some(reply);
                    break;
                }
            }
            if group.len() < MAX_GROUP {
                next = queue.try_recv().ok();
            }
        }
        apply_pending(&mut conn, group);
        if reset.swap(false, Ordering::Relaxed) {
            // See `checkpointer_loop`: the WAL is long; empty it between two transactions.
            if let Err(err) = checkpoint(&conn, "TRUNCATE") {
                tracing::warn!(error = %err, "Emptying the WAL failed; it is tried again later.");
            }
        }
        if let Some(reply) = close {
            close_connection(conn);
            let _ = reply.send(());
            return;
        }
    }
    close_connection(conn);
}

/// Applies queued imports (alone, or as one group) and answers each.
fn apply_pending(conn: &mut Connection, group: Vec<Pending>) {
    if let [(tenant, batch, mode, _)] = group.as_slice() {
        let result = write::apply(conn, tenant, batch, *mode);
        if let Some((_, _, _, reply)) = group.into_iter().next() {
            // The handler may have gone (client disconnected): the commit stands.
            let _ = reply.send(result);
        }
        return;
    }
    if group.is_empty() {
        return;
    }
    let jobs: Vec<(&str, &ValidBatch, ImportMode)> = group
        .iter()
        .map(|(tenant, batch, mode, _)| (tenant.as_str(), &**batch, *mode))
        .collect();
    let results = write::apply_group(conn, &jobs);
    drop(jobs);
    for ((_, _, _, reply), result) in group.into_iter().zip(results) {
        let _ = reply.send(result);
    }
}

/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// WAL size past which the checkpointer also resets the WAL.
const WAL_RESET_BYTES: u64 = 32 << 20;

/// Copies committed WAL frames into the database every [`CHECKPOINT_EVERY`],
/// on its own connection and thread, so the writer's commits only append to
/// the WAL. A passive checkpoint copies the bulk without blocking the writer;
/// but while the writer keeps appending, a passive checkpoint never catches
/// up with the end of the WAL, and the WAL is only reused from its start
/// once one has. So when the WAL file is over [`WAL_RESET_BYTES`], the
/// checkpointer raises `reset`, and the writer runs a `TRUNCATE` checkpoint
/// itself between two transactions: it copies the few frames the passive
/// one left and empties the file. (Run here, it would have to wait for the
/// writer's lock, which the busy writer may never leave free.) Stops, after
/// a last checkpoint, when `stop` is dropped.
fn checkpointer_loop(
    conn: Connection,
    wal: PathBuf,
    reset: Arc<AtomicBool>,
    stop: std::sync::mpsc::Receiver<()>,
) {
    loop {
        let stopping = !matches!(
            stop.recv_timeout(CHECKPOINT_EVERY),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        if let Err(err) = checkpoint(&conn, "PASSIVE") {
            tracing::warn!(error = %err, "A WAL checkpoint failed; the next one retries.");
        }
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_RESET_BYTES) {
            reset.store(true, Ordering::Relaxed);
        }
        if stopping {
            close_connection(conn);
            return;
        }
    }
}

fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<()> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
}

fn close_connection(conn: Connection) {
    if let Err((_, err)) = conn.close() {
        tracing::error!(error = %err, "Closing the database failed.");
    }
}

async fn log_export_failure(reader: tokio::task::JoinHandle<Result<(), StoreError>>) {
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "An export failed while streaming."),
        Err(err) => tracing::error!(error = %err, "An export thread panicked."),
    }
}

fn chunk_stream(
    chunks: mpsc::Receiver<Result<Bytes, io::Error>>,
) -> impl Stream<Item = Result<Bytes, io::Error>> {
    futures::stream::unfold(chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    })
}

/// Creates `tenant` and its pool `pool` unless they exist.
fn ensure_tenant(conn: &mut Connection, tenant: &str, pool: &str) -> Result<(), StoreError> {
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .map_err(io::Error::other)?;
    let doc = serde_json::json!({"id": pool, "tenant_id": tenant, "name": pool}).to_string();
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO tenants (id, created_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        params![tenant, now],
    )?;
    tx.execute(
        "INSERT INTO pools (tenant_id, id, name, doc) VALUES (?1, ?2, ?2, ?3)
         ON CONFLICT (tenant_id, id) DO NOTHING",
        params![tenant, pool, doc],
    )?;
    tx.commit()?;
    Ok(())
}

fn load_tenants(conn: &Connection) -> Result<HashSet<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT id FROM tenants")?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
