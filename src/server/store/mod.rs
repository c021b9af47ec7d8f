//! The server's storage: one SQLite database in WAL mode.
//!
//! All writes go through one dedicated writer thread that owns the only
//! write connection: import requests reach it through a channel, and the
//! answer goes back once their transaction has committed, so a 204 is only
//! ever sent for data in the WAL. One writer means no lock contention and
//! lets the connection keep its prepared statements warm; SQLite allows one
//! writer at a time anyway.
//!
//! **Group commit.** The requests waiting in the queue when the writer turns
//! to it (up to `MAX_GROUP`) are applied one after the other in one
//! `BEGIN IMMEDIATE` transaction, and answered after its commit. A commit's
//! fixed costs (the WAL frames of the pages that every request touches:
//! tables' last pages, index interior pages; the bookkeeping of ending a
//! transaction) are paid once per group instead of once per request; when
//! requests come one at a time, a group is one request and nothing waits.
//! Refusals are rare, so the group runs optimistically, without a savepoint
//! per request (SQLite would copy every page a savepoint touches to a
//! statement journal first, which costs more than the group saves): if any
//! request of the group is refused or fails, the whole transaction rolls
//! back and each request is applied again in a transaction of its own, so a
//! refusal only ever undoes its own request.
//!
//! **Deletions** ([`delete`]) go through the writer too, each in a
//! transaction of its own: the group before one is committed first, so
//! requests are applied in the order they reached the writer.
//!
//! Parsing and validation happen before, on other threads, in parallel. The
//! writer also owns the set of stored sub-record ids ([`ids`]), and leaves
//! WAL checkpoints to a background thread ([`checkpoint`]), so its time goes
//! to appending records.
//!
//! Exports run on blocking threads with read-only connections of their own
//! ([`export`]); WAL lets them read a consistent snapshot while the writer
//! goes on. So do the lookups of the platform's system endpoints
//! ([`directory`]) and of password verification ([`accounts`]).
//!
//! Durability is chosen by [`Durability`]: with WAL and `synchronous=NORMAL`
//! (the default) a commit survives a `kill -9` of the server but not power
//! loss; `synchronous=FULL` survives both at the price of an fsync per commit.

pub mod accounts;
mod checkpoint;
mod columns;
pub mod delete;
pub mod directory;
mod entry;
mod error;
pub mod export;
mod ids;
mod schema;
mod write;

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

use bytes::Bytes;
use futures::Stream;
use rusqlite::{params, Connection, TransactionBehavior};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use checkpoint::Checkpointer;
pub use delete::{Deleted, Deletion};
pub use error::{ApplyError, StoreError};
pub use export::{ExportScope, ExportStart};
use ids::SubRecordIds;
pub use write::{ImportOutcome, RecordCounts};

use super::config::Durability;
use super::validate::ValidBatch;
use crate::contract::records::ImportMode;

/// Import requests waiting for the writer; senders wait when it is full.
const WRITER_QUEUE: usize = 64;
/// Most import requests committed in one transaction.
const MAX_GROUP: usize = 16;
/// Chunks an export may have in flight to its client.
const EXPORT_QUEUE: usize = 4;

/// Work for the writer thread.
enum Job {
    Import(ImportJob),
    Delete(DeleteJob),
    Close { reply: oneshot::Sender<()> },
}

/// One deletion waiting for the writer.
struct DeleteJob {
    tenant: String,
    deletion: Deletion,
    reply: oneshot::Sender<Result<Deleted, StoreError>>,
}

/// One import request waiting for the writer.
struct ImportJob {
    tenant: String,
    batch: Box<ValidBatch>,
    mode: ImportMode,
    reply: oneshot::Sender<Result<ImportOutcome, ApplyError>>,
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
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Import(job) => write!(f, "Import({}, {})", job.tenant, job.mode),
            Job::Delete(job) => write!(f, "Delete({}, {:?})", job.tenant, job.deletion),
            Job::Close { .. } => f.write_str("Close"),
        }
    }
}

impl Store {
    /// Opens (creating if needed, with mode 0600; an existing one open to
    /// other users is warned about) the database at `path`, makes sure every
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
        let ids = SubRecordIds::load(&conn)?;
        tracing::info!(
            path = %path.display(),
            tenants = known.len(),
            sub_records = ids.len(),
            "Database open."
        );
        let checkpointer = Checkpointer::start(&conn, path)?;
        let (jobs, queue) = mpsc::channel(WRITER_QUEUE);
        let writer = std::thread::Builder::new()
            .name("ferry-db-writer".into())
            .spawn(move || {
                writer_loop(
                    Writer {
                        conn,
                        ids,
                        checkpointer,
                    },
                    queue,
                )
            })?;
        Ok(Store {
            jobs,
            path: path.to_owned(),
            tenants: known,
            writer: Mutex::new(Some(writer)),
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
        let job = Job::Import(ImportJob {
            tenant: tenant.to_owned(),
            batch: Box::new(batch),
            mode,
            reply,
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Applies `deletion` in `tenant` in a transaction of its own, after the
    /// imports queued before it; returns once committed (see [`delete`]).
    pub async fn delete(&self, tenant: &str, deletion: Deletion) -> Result<Deleted, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Delete(DeleteJob {
            tenant: tenant.to_owned(),
            deletion,
            reply,
        });
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

    /// Finds the user an identifier or id names in a pool, with its password
    /// credentials, on a read-only connection of its own (see [`accounts`]).
    pub async fn account(
        &self,
        tenant: &str,
        pool: &str,
        key: accounts::AccountKey,
    ) -> Result<accounts::AccountLookup, StoreError> {
        let (tenant, pool) = (tenant.to_owned(), pool.to_owned());
        self.read(move |conn| accounts::find(conn, &tenant, &pool, &key))
            .await
    }

    /// Runs `read` on a read-only connection of its own, on a blocking
    /// thread: the lookups of [`directory`] and [`accounts`].
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = schema::open_reader(&path)?;
            read(&conn)
        })
        .await
        .map_err(|_| StoreError::Closed)?
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
    }
}

/// How many rows each record table of the database at `path` holds, read
/// on a read-only connection of its own; the server need not be running
/// (`ferry bench` counts a stopped server's database).
pub fn count_records(path: &Path) -> Result<RecordCounts, StoreError> {
    let conn = schema::open_reader(path)?;
    let rows = |table: &str| -> Result<usize, StoreError> {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    };
    Ok(RecordCounts {
        pools: rows("pools")?,
        users: rows("users")?,
        credentials: rows("user_credentials")?,
        identifiers: rows("user_identifiers")?,
        addresses: rows("user_verifiable_addresses")?,
        schemas: rows("identity_schemas")?,
        groups: rows("user_groups")?,
        group_members: rows("user_group_members")?,
    })
}

/// What the writer thread owns.
struct Writer {
    /// The only write connection.
    conn: Connection,
    /// Stored sub-record ids (see [`ids`]).
    ids: SubRecordIds,
    /// Background WAL checkpoints.
    checkpointer: Checkpointer,
}

/// Takes the queue's jobs in groups until `Close` or the queue ends, then
/// closes the database (and answers `Close` once it is closed). A deletion
/// ends the group it arrives in: the group is committed, then the deletion.
fn writer_loop(mut writer: Writer, mut queue: mpsc::Receiver<Job>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut close = None;
    while let Some(job) = queue.blocking_recv() {
        let mut next = Some(job);
        let mut deletion = None;
        while let Some(job) = next.take() {
            match job {
                Job::Import(job) => group.push(job),
                Job::Delete(job) => deletion = Some(job),
                Job::Close { reply } => close = Some(reply),
            }
            if close.is_none() && deletion.is_none() && group.len() < MAX_GROUP {
                next = queue.try_recv().ok();
            }
        }
        if !group.is_empty() {
            commit_group(&mut writer, &mut group);
            writer.checkpointer.after_commit(&writer.conn);
        }
        if let Some(job) = deletion {
            let result = delete_in_transaction(&mut writer, &job.tenant, &job.deletion);
            writer.checkpointer.after_commit(&writer.conn);
            // The handler may have gone (client disconnected): the commit stands.
            let _ = job.reply.send(result);
        }
        if close.is_some() {
            break;
        }
    }
    writer.checkpointer.stop();
    close_connection(writer.conn);
    if let Some(reply) = close {
        let _ = reply.send(());
    }
}

/// Applies a group of imports and answers each request (emptying `group`):
/// all in one transaction, or, if any of them is refused or fails, each in a
/// transaction of its own (see the module documentation).
fn commit_group(writer: &mut Writer, group: &mut Vec<ImportJob>) {
    if group.len() > 1 {
        match in_one_transaction(writer, group) {
            Ok(outcomes) => {
                for (job, outcome) in group.drain(..).zip(outcomes) {
                    // The handler may have gone (client disconnected): the commit stands.
                    let _ = job.reply.send(Ok(outcome));
                }
                return;
            }
            Err(err) => tracing::debug!(
                error = %err,
                requests = group.len(),
                "A group of imports rolled back; applying them one by one."
            ),
        }
    }
    for job in group.drain(..) {
        let result = in_one_transaction(writer, std::slice::from_ref(&job))
            .map(|outcomes| outcomes.first().copied().unwrap_or_default());
        let _ = job.reply.send(result);
    }
}

/// Applies `jobs` in order in one `BEGIN IMMEDIATE` transaction and commits
/// it, returning one outcome per job; on any error, rolls everything back
/// (dropping the transaction does) and returns that error. The id set is
/// kept in step with what was committed.
fn in_one_transaction(
    writer: &mut Writer,
    jobs: &[ImportJob],
) -> Result<Vec<ImportOutcome>, ApplyError> {
    let result = (|| {
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            outcomes.push(write::apply(
                &tx,
                &mut writer.ids,
                &job.tenant,
                &job.batch,
                job.mode,
            )?);
        }
        tx.commit()?;
        Ok(outcomes)
    })();
    match &result {
        Ok(_) => writer.ids.keep(),
        Err(_) => writer.ids.undo(),
    }
    result
}

/// Applies one deletion in a `BEGIN IMMEDIATE` transaction and commits it;
/// on error rolls it back. The id set is kept in step, as for an import.
fn delete_in_transaction(
    writer: &mut Writer,
    tenant: &str,
    deletion: &Deletion,
) -> Result<Deleted, StoreError> {
    let result = (|| {
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let deleted = delete::apply(&tx, &mut writer.ids, tenant, deletion)?;
        tx.commit()?;
        Ok(deleted)
    })();
    match &result {
        Ok(_) => writer.ids.keep(),
        Err(_) => writer.ids.undo(),
    }
    result
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::server::rejection::RejectionKind;
    use crate::server::validate;
    use crate::tools::synthetic;

    const TENANT: &str = "t";
    const POOL: &str = "default";

    fn writer(dir: &tempfile::TempDir) -> Writer {
        let path = dir.path().join("group.db");
        let mut conn = schema::open_writer(&path, Durability::Process).unwrap();
        ensure_tenant(&mut conn, TENANT, POOL).unwrap();
        let ids = SubRecordIds::load(&conn).unwrap();
        let checkpointer = Checkpointer::start(&conn, &path).unwrap();
        Writer {
            conn,
            ids,
            checkpointer,
        }
    }

    type Answer = oneshot::Receiver<Result<ImportOutcome, ApplyError>>;

    fn job(body: crate::contract::records::ImportBody, mode: ImportMode) -> (ImportJob, Answer) {
        let (reply, answer) = oneshot::channel();
        let batch = Box::new(
            validate::validate(TENANT, body, crate::contract::choices::SaltConvention::Text)
                .unwrap(),
        );
        let job = ImportJob {
            tenant: TENANT.into(),
            batch,
            mode,
            reply,
        };
        (job, answer)
    }

    /// Counts the writer connection's commits from now on.
    fn count_commits(writer: &Writer) -> Arc<AtomicUsize> {
        let commits = Arc::new(AtomicUsize::new(0));
        let counter = commits.clone();
        writer.conn.commit_hook(Some(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            false
        }));
        commits
    }

    fn count(writer: &Writer, table: &str) -> i64 {
        writer
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_group_applies_its_requests_in_order_in_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer(&dir);
        let (first, first_answer) = job(synthetic::users(TENANT, POOL, 0..10), ImportMode::Ignore);
        // The same users again: the second request sees the first's.
        let (again, again_answer) = job(synthetic::users(TENANT, POOL, 0..10), ImportMode::Ignore);
        let (other, other_answer) = job(synthetic::users(TENANT, POOL, 10..15), ImportMode::Ignore);
        let commits = count_commits(&writer);
        commit_group(&mut writer, &mut vec![first, again, other]);
        assert_eq!(commits.load(Ordering::SeqCst), 1);

        let first = first_answer.blocking_recv().unwrap().unwrap();
        assert_eq!((first.written.users, first.users_existing), (10, 0));
        assert_eq!(first.written.addresses, 20);
        let again = again_answer.blocking_recv().unwrap().unwrap();
        assert_eq!((again.written.users, again.users_existing), (0, 10));
        assert_eq!(again.written.credentials, 0);
        let other = other_answer.blocking_recv().unwrap().unwrap();
        assert_eq!((other.written.users, other.users_existing), (5, 0));
        assert_eq!(count(&writer, "users"), 15);
        assert_eq!(count(&writer, "user_verifiable_addresses"), 30);
        assert_eq!(writer.ids.len(), 15 * 4);
    }

    /// Runs one request through the writer and returns its outcome.
    fn apply_one(
        writer: &mut Writer,
        body: crate::contract::records::ImportBody,
        mode: ImportMode,
    ) -> ImportOutcome {
        let (request, answer) = job(body, mode);
        commit_group(writer, &mut vec![request]);
        answer.blocking_recv().unwrap().unwrap()
    }

    #[test]
    fn a_user_is_one_entry_kept_whole_under_ignore_and_replaced_whole_under_update() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer(&dir);
        let first = apply_one(
            &mut writer,
            synthetic::users(TENANT, POOL, 0..3),
            ImportMode::Ignore,
        );
        assert_eq!((first.users_existing, first.users_changed), (0, 0));

        // The same users, later: their times differ, nothing else does.
        let mut later = synthetic::users(TENANT, POOL, 0..3);
        for user in &mut later.users {
            user.updated_at = Some(time::OffsetDateTime::now_utc());
        }
        let same = apply_one(&mut writer, later, ImportMode::Ignore);
        assert_eq!((same.users_existing, same.users_changed), (3, 0));

        // User 1's email changes at the source (same ids: which email, not what).
        let changed = || {
            let mut body = synthetic::users(TENANT, POOL, 0..3);
            let user = body.users[1].id;
            for i in body
                .user_identifiers
                .iter_mut()
                .filter(|i| i.user_id == user)
            {
                i.identifier = "new@example.com".into();
                i.identifier_lc = "new@example.com".into();
            }
            // And it gains a record the stored entry does not have.
            let mut extra = body.user_identifiers[0].clone();
            extra.id = uuid::Uuid::from_u128(7);
            extra.user_id = user;
            extra.kind = crate::contract::records::IdentifierType::Uid;
            extra.identifier = "user-one".into();
            extra.identifier_lc = "user-one".into();
            body.user_identifiers.push(extra);
            body
        };
        let stored_emails = |writer: &Writer| -> Vec<String> {
            let mut stmt = writer
                .conn
                .prepare("SELECT identifier_lc FROM user_identifiers ORDER BY identifier_lc")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let before = stored_emails(&writer);
        let kept = apply_one(&mut writer, changed(), ImportMode::Ignore);
        assert_eq!((kept.users_existing, kept.users_changed), (3, 1));
        assert_eq!(
            kept.written.identifiers, 0,
            "nothing of a kept user is written"
        );
        assert_eq!(
            stored_emails(&writer),
            before,
            "kept as stored, sub-records included"
        );

        let updated = apply_one(&mut writer, changed(), ImportMode::Update);
        assert_eq!((updated.users_existing, updated.users_changed), (3, 1));
        let after = stored_emails(&writer);
        assert_eq!(after.len(), 4, "{after:?}");
        assert!(after.contains(&"new@example.com".to_string()), "{after:?}");
        assert!(after.contains(&"user-one".to_string()), "{after:?}");
        let old = "user.1@example.com".to_string();
        assert!(before.contains(&old), "{before:?}");
        assert!(!after.contains(&old), "the old email is gone: {after:?}");
        let again = apply_one(&mut writer, changed(), ImportMode::Update);
        assert_eq!((again.users_existing, again.users_changed), (3, 0));
    }

    #[test]
    fn a_deletion_takes_its_sub_record_ids_out_of_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer(&dir);
        let body = synthetic::users(TENANT, POOL, 0..10);
        let user = body.users[3].id;
        apply_one(&mut writer, body, ImportMode::Ignore);
        assert_eq!(writer.ids.len(), 10 * 4);
        let deletion = Deletion::User {
            pool: POOL.into(),
            user: Some(user),
        };
        let deleted = delete_in_transaction(&mut writer, TENANT, &deletion).unwrap();
        let expected = RecordCounts {
            users: 1,
            credentials: 1,
            identifiers: 1,
            addresses: 2,
            ..RecordCounts::default()
        };
        assert_eq!(deleted, Deleted::Removed(expected));
        assert_eq!(writer.ids.len(), 9 * 4);
        assert_eq!(
            delete_in_transaction(&mut writer, TENANT, &deletion).unwrap(),
            Deleted::UnknownUser
        );
        // Under `fail`, the user and its sub-records are new again.
        let again = apply_one(
            &mut writer,
            synthetic::users(TENANT, POOL, 3..4),
            ImportMode::Fail,
        );
        assert_eq!(again.written.users, 1);
        let pool = Deletion::Pool { pool: POOL.into() };
        let deleted = delete_in_transaction(&mut writer, TENANT, &pool).unwrap();
        assert!(
            matches!(deleted, Deleted::Removed(c) if c.users == 10 && c.pools == 1),
            "{deleted:?}"
        );
        assert_eq!(writer.ids.len(), 0);
        assert_eq!(count(&writer, "user_verifiable_addresses"), 0);
    }

    #[test]
    fn count_records_counts_every_record_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer(&dir);
        let (first, answer) = job(synthetic::users(TENANT, POOL, 0..10), ImportMode::Ignore);
        commit_group(&mut writer, &mut vec![first]);
        answer.blocking_recv().unwrap().unwrap();
        let counts = count_records(&dir.path().join("group.db")).unwrap();
        let expected = RecordCounts {
            pools: 1,
            users: 10,
            credentials: 10,
            identifiers: 10,
            addresses: 20,
            ..RecordCounts::default()
        };
        assert_eq!(counts, expected);
    }

    #[test]
    fn a_refused_request_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer(&dir);
        let (first, first_answer) = job(synthetic::users(TENANT, POOL, 0..10), ImportMode::Ignore);
        // User 10 claims user 0's email: refused when written, after the first request.
        let mut taken = synthetic::users(TENANT, POOL, 10..20);
        taken.user_identifiers[0].identifier = "User.0@Example.com".into();
        taken.user_identifiers[0].identifier_lc = "user.0@example.com".into();
        let (refused, refused_answer) = job(taken, ImportMode::Ignore);
        let (last, last_answer) = job(synthetic::users(TENANT, POOL, 20..25), ImportMode::Ignore);
        let commits = count_commits(&writer);
        commit_group(&mut writer, &mut vec![first, refused, last]);
        // The group rolled back; then each request alone: two of three committed.
        assert_eq!(commits.load(Ordering::SeqCst), 2);

        assert_eq!(
            first_answer.blocking_recv().unwrap().unwrap().written.users,
            10
        );
        match refused_answer.blocking_recv().unwrap() {
            Err(ApplyError::Rejected(rejection)) => {
                assert_eq!(rejection.kind, RejectionKind::IdentifierTaken)
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(
            last_answer.blocking_recv().unwrap().unwrap().written.users,
            5
        );
        assert_eq!(count(&writer, "users"), 15);
        assert_eq!(count(&writer, "user_identifiers"), 15);
        // The id set holds what is stored, and nothing of the refused request.
        assert_eq!(writer.ids.len(), 15 * 4);
        let (retry, retry_answer) = job(synthetic::users(TENANT, POOL, 10..20), ImportMode::Fail);
        commit_group(&mut writer, &mut vec![retry]);
        assert_eq!(
            retry_answer.blocking_recv().unwrap().unwrap().written.users,
            10
        );
    }

    /// SQLite creates the `-wal` and `-shm` files with the database's mode,
    /// so a database created private keeps the users' hashes private in all
    /// three, whatever the umask.
    #[cfg(unix)]
    #[test]
    fn a_new_database_and_its_wal_are_private_under_umask_022() {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: umask only swaps the process's file-mode creation mask;
        // nextest runs this test in a process of its own.
        unsafe {
            libc::umask(0o022);
        }
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir);
        for name in ["group.db", "group.db-wal", "group.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(format!("{:o}", mode & 0o777), "600", "{name}");
        }
        drop(writer);
    }
}
