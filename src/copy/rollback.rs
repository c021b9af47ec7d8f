//! `ferry rollback DIR`: undoes the copies a backup directory records,
//! newest journal first. For each journal:
//! 1. the memberships and users the copy created are deleted (`DELETE` on
//!    the platform's endpoints, a user with its sub-records and
//!    memberships; a record already gone answers 404 and counts as gone),
//!    so no created user holds an identifier a replaced one takes back;
//! 2. what it replaced is put back as it was, in dependency order, with the
//!    import under `mode=update` (a user with its full set of sub-records),
//!    so no replaced pool still names a created schema;
//! 3. the groups, pools and schemas it created are deleted.
//!
//! Every step is idempotent, so an interrupted rollback is resumed by
//! running it again. Journals are read as streams, a chunk of records at a
//! time, so a rollback of a million users holds a chunk, not the journal.
//! Then the destination's dump is read and digested as the oldest
//! journal's first line digested it before the copy: the rollback says,
//! per collection, whether the destination is back as it was (exit 0) or
//! not (exit 4, the collections named).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::journal::{self, Line, Reader};
use super::plan::{Action, Kind, Write};
use super::{connect, read_side, write, CopyError, Side};
use crate::contract::api::{Endpoint, SCOPE_IDENTITY, SCOPE_MANAGE, SCOPE_READ};
use crate::export::read::Requests;
use crate::outcome::Outcome;
use crate::send::backoff::Backoff;
use crate::send::deliver::{Deleted, Effort};

/// What a rollback did.
#[derive(Debug, Clone, Default)]
pub struct RollbackReport {
    /// Journals undone.
    pub journals: usize,
    /// Records deleted per collection.
    pub deleted: BTreeMap<Kind, u64>,
    /// Records already gone per collection.
    pub absent: BTreeMap<Kind, u64>,
    /// Records restored per collection.
    pub restored: BTreeMap<Kind, u64>,
    /// Restores the destination refused, with its reason.
    pub refused: Vec<String>,
    /// Collections that are not as they were before the oldest copy.
    pub differing: Vec<String>,
    /// How long it took.
    pub seconds: f64,
}

impl RollbackReport {
    /// The summary.
    pub fn summary(&self) -> String {
        let list = |m: &BTreeMap<Kind, u64>| {
            let parts: Vec<String> = m.iter().map(|(k, n)| format!("{n} {}", k.name())).collect();
            if parts.is_empty() {
                "nothing".to_string()
            } else {
                parts.join(", ")
            }
        };
        let mut out = format!(
            "rolled back {} copies: deleted {}; already gone {}; restored {}\n",
            self.journals,
            list(&self.deleted),
            list(&self.absent),
            list(&self.restored)
        );
        for refused in &self.refused {
            out.push_str(&format!("could not restore: {refused}\n"));
        }
        if self.differing.is_empty() {
            out.push_str("the destination is back as it was before the copy (every collection's digest matches)");
        } else {
            out.push_str(&format!(
                "the destination is NOT as it was before the copy: {} differ (something else wrote to it since?)",
                self.differing.join(", ")
            ));
        }
        out.push_str(&format!(" · {:.1}s", self.seconds));
        out
    }

    /// Done when the destination is back as it was, `Differs` otherwise.
    pub fn outcome(&self) -> Outcome {
        if self.differing.is_empty() && self.refused.is_empty() {
            Outcome::Done
        } else {
            Outcome::Differs
        }
    }
}

/// Records read from a journal at a time.
const CHUNK: usize = write::BATCH as usize * write::IN_FLIGHT;

/// Undoes the copies the journals at `path` record, against `to`.
pub async fn run(
    path: &Path,
    to: &Side,
    retry: (Backoff, Option<u64>, Duration),
) -> Result<RollbackReport, CopyError> {
    let started = Instant::now();
    let paths = journal::journals(path)
        .map_err(|e| CopyError::Usage(format!("cannot read {}: {e}", path.display())))?;
    // Every journal read through once before anything is undone: a damaged
    // one stops the rollback before its first request.
    let mut before = None;
    for p in &paths {
        let (start, reader) = Reader::open(p).map_err(CopyError::Usage)?;
        tokio::task::block_in_place(|| reader.check()).map_err(CopyError::Usage)?;
        if let (
            None,
            Line::Start {
                before: was,
                tenant,
                ..
            },
        ) = (&before, start)
        {
            before = Some((was, tenant));
        }
    }
    let Some((before, tenant)) = before else {
        return Err(CopyError::Usage(format!(
            "{} holds no ferry copy journal",
            path.display()
        )));
    };
    if tenant != to.tenant {
        return Err(CopyError::Usage(format!(
            "the journals are of tenant {tenant}, not {}",
            to.tenant
        )));
    }
    let scope = format!("{SCOPE_MANAGE} {SCOPE_READ} {SCOPE_IDENTITY}");
    let side = connect(to, &scope, retry).await?;
    let result = undo_all(&paths, &side.requests, before).await;
    side.connected.shutdown().await;
    let mut report = result?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn undo_all(
    paths: &[PathBuf],
    requests: &Requests,
    before: BTreeMap<String, (u64, String)>,
) -> Result<RollbackReport, CopyError> {
    let mut report = RollbackReport {
        journals: paths.len(),
        ..RollbackReport::default()
    };
    for path in paths.iter().rev() {
        undo(path, requests, &mut report).await?;
    }
    let now = read_side(requests, "the destination").await?;
    let digests = tokio::task::block_in_place(|| now.digests()).map_err(CopyError::Failed)?;
    for (collection, was) in &before {
        if digests.get(collection) != Some(was) {
            report.differing.push(collection.clone());
        }
    }
    Ok(report)
}

/// Undoes one journal, reading it once per step (it may hold millions of
/// lines: a step holds [`CHUNK`] records at a time).
///
/// Users and memberships the copy created go first (a replaced user may
/// take back an identifier a created one holds), then the replaced records
/// come back in dependency order (a replaced pool may name a created
/// schema no longer), then the created groups, pools and schemas go.
async fn undo(
    path: &Path,
    requests: &Requests,
    report: &mut RollbackReport,
) -> Result<(), CopyError> {
    for kind in [Kind::GroupMembers, Kind::Users] {
        each_chunk(path, ("created", kind), async |records| {
            delete(requests, kind, records, report).await
        })
        .await?;
    }
    for kind in Kind::ALL {
        each_chunk(path, ("replaced", kind), async |records| {
            restore(requests, kind, records, report).await
        })
        .await?;
    }
    for kind in [Kind::Groups, Kind::Pools, Kind::Schemas] {
        each_chunk(path, ("created", kind), async |records| {
            delete(requests, kind, records, report).await
        })
        .await?;
    }
    Ok(())
}

/// Hands `step` the records of the `op` lines of `kind` in the journal
/// `path`, [`CHUNK`] at a time.
async fn each_chunk(
    path: &Path,
    (op, kind): (&str, Kind),
    mut step: impl AsyncFnMut(Vec<Value>) -> Result<(), CopyError>,
) -> Result<(), CopyError> {
    let (_, mut reader) = Reader::open(path).map_err(CopyError::Usage)?;
    loop {
        let records = tokio::task::block_in_place(|| reader.records(op, kind, CHUNK))
            .map_err(CopyError::Usage)?;
        if records.is_empty() {
            return Ok(());
        }
        step(records).await?;
    }
}

/// Puts the replaced `records` of `kind` back as they were, under
/// `mode=update`, [`write::IN_FLIGHT`] requests at a time.
async fn restore(
    requests: &Requests,
    kind: Kind,
    records: Vec<Value>,
    report: &mut RollbackReport,
) -> Result<(), CopyError> {
    let writes: Vec<Write> = records
        .into_iter()
        .map(|record| Write {
            kind,
            action: Action::Update,
            id: String::new(),
            doc: record.to_string(),
            before: None,
        })
        .collect();
    let results: Vec<Result<write::Sent, write::WriteError>> = stream::iter(
        writes
            .chunks(write::BATCH as usize)
            .map(<[Write]>::to_vec)
            .enumerate(),
    )
    .map(|(n, batch)| write::send(requests, n as u64, batch))
    .buffer_unordered(write::IN_FLIGHT)
    .collect()
    .await;
    for result in results {
        let sent = result?;
        *report.restored.entry(kind).or_default() += sent.written;
        report.refused.extend(
            sent.refused
                .into_iter()
                .map(|r| format!("a record of {}: {}", kind.name(), r.reason)),
        );
    }
    Ok(())
}

/// Deletes the created `records` of `kind`, [`write::IN_FLIGHT`] at a time.
async fn delete(
    requests: &Requests,
    kind: Kind,
    records: Vec<Value>,
    report: &mut RollbackReport,
) -> Result<(), CopyError> {
    let mut urls = Vec::with_capacity(records.len());
    for record in &records {
        urls.push(delete_url(requests, kind, record)?);
    }
    let results: Vec<Result<Deleted, CopyError>> = stream::iter(urls.into_iter().enumerate())
        .map(|(n, url)| async move {
            requests
                .sender(n as u64)
                .delete(&url, &mut Effort::default())
                .await
                .map_err(|stop| CopyError::Stopped {
                    side: "the destination",
                    stop,
                })
        })
        .buffer_unordered(write::IN_FLIGHT)
        .collect()
        .await;
    for result in results {
        let counter = match result? {
            Deleted::Removed => &mut report.deleted,
            Deleted::Absent => &mut report.absent,
        };
        *counter.entry(kind).or_default() += 1;
    }
    Ok(())
}

/// The `DELETE` URL of a created record of `kind`.
fn delete_url(requests: &Requests, kind: Kind, record: &Value) -> Result<url::Url, CopyError> {
    let text = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default();
    let client = &requests.client;
    let url = match kind {
        Kind::Schemas => client.schema_url(text("id")),
        Kind::Pools => {
            let id = record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_else(|| text("name"));
            client.url(Endpoint::Pool, id, "")
        }
        Kind::Groups => client.group_url(text("user_pool_id"), text("id")),
        Kind::Users => client.url(Endpoint::User, text("user_pool_id"), text("id")),
        Kind::GroupMembers => {
            client.group_member_url(text("user_pool_id"), text("group_id"), text("user_id"))
        }
    };
    url.map_err(|e| CopyError::Usage(e.to_string()))
}
