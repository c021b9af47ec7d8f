//! Carrying a plan out: its writes, collection by collection in
//! dependency order, as import requests (`PUT …/configuration`) of at most
//! [`BATCH`] records: creates under `mode=ignore` (a resent request is
//! harmless), updates under `mode=update`. Users go [`IN_FLIGHT`] requests
//! at a time; the other collections one request at a time, each collection
//! complete before the next starts (a group needs its pool, a membership
//! its group and user).
//!
//! Every request goes through the import's [`Sender`]: retries, backoff,
//! throttling and token renewal. Before it is sent, its records are in the
//! backup journal. A request the destination refuses (400, 409, 413, 422)
//! is sent again one record at a time, so one bad record does not hold the
//! others back; a record refused on its own is a faulty record, with the
//! destination's reason.
//!
//! [`Sender`]: crate::send::deliver::Sender

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::journal::Journal;
use super::plan::{Action, Kind, Plan, Write};
use crate::contract::line::ExportLine;
use crate::contract::{ImportBody, ImportMode};
use crate::export::read::Requests;
use crate::send::deliver::{StopReason, Verdict};

/// Records per request.
pub const BATCH: u32 = 100;
/// User requests at once.
pub const IN_FLIGHT: usize = 8;

/// A record the destination refused.
#[derive(Debug, Clone)]
pub struct Refused {
    /// Its write.
    pub write: Write,
    /// The destination's reason.
    pub reason: String,
}

/// What one batch came to.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Records written.
    pub written: u64,
    /// Records refused.
    pub refused: Vec<Refused>,
    /// Requests sent.
    pub attempts: u32,
}

/// A round of requests, every one of them answered.
#[derive(Debug)]
pub struct Round {
    /// The collection.
    pub kind: Kind,
    /// The plan's last write in the round (its `seq`).
    pub last: i64,
    /// Records written.
    pub written: u64,
    /// Records refused.
    pub refused: Vec<Refused>,
    /// Requests sent, retries included.
    pub requests: u64,
}

/// Sends the plan's writes after those `from` acknowledges (per
/// collection, the `seq` of the last one), a round of up to
/// [`IN_FLIGHT`] requests at a time; `round` gets each round once all its
/// requests are answered. Stops at the first request the run cannot get
/// past.
pub async fn write(
    plan: &Plan,
    requests: &Requests,
    journal: &mut Option<Journal>,
    (from, progress): (&BTreeMap<Kind, i64>, &std::sync::atomic::AtomicU64),
    mut round: impl FnMut(Round) -> Result<(), WriteError>,
) -> Result<(), WriteError> {
    for kind in Kind::ALL {
        let in_flight = if kind == Kind::Users { IN_FLIGHT } else { 1 };
        let mut after = from.get(&kind).copied().unwrap_or(0);
        loop {
            let rows = plan
                .writes(kind, after, BATCH * in_flight as u32)
                .map_err(WriteError::Plan)?;
            let Some((last, _)) = rows.last() else { break };
            after = *last;
            let writes: Vec<Write> = rows.into_iter().map(|(_, w)| w).collect();
            // Same action together: one mode per request.
            let mut batches: Vec<Vec<Write>> = Vec::new();
            for w in writes {
                match batches.last_mut() {
                    Some(b) if b.len() < BATCH as usize && b[0].action == w.action => b.push(w),
                    _ => batches.push(vec![w]),
                }
            }
            // One append and one sync for the whole round, before any of it is sent.
            if let Some(journal) = journal {
                let round: Vec<Write> = batches.iter().flatten().cloned().collect();
                journal.record(&round).map_err(WriteError::Journal)?;
            }
            let results: Vec<Result<Sent, WriteError>> =
                stream::iter(batches.into_iter().enumerate())
                    .map(|(n, batch)| send(requests, n as u64 + after as u64, batch))
                    .buffer_unordered(in_flight)
                    .collect()
                    .await;
            let mut done = Round {
                kind,
                last: after,
                written: 0,
                refused: Vec::new(),
                requests: 0,
            };
            for result in results {
                let sent = result?;
                done.written += sent.written;
                done.requests += u64::from(sent.attempts);
                done.refused.extend(sent.refused);
            }
            let seen = done.written + done.refused.len() as u64;
            progress.fetch_add(seen, std::sync::atomic::Ordering::Relaxed);
            round(done)?;
        }
    }
    Ok(())
}

/// A copy's writes could not go on.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the destination stopped the copy: {0}")]
    Stopped(StopReason),
    #[error("cannot write the backup journal: {0}")]
    Journal(std::io::Error),
    #[error("{0}")]
    Plan(String),
    #[error("cannot save the copy's progress: {0}")]
    Save(String),
}

/// Sends one batch; on a refusal, each record alone. Returns the records
/// written, the refused ones, and the requests sent.
pub(crate) async fn send(
    requests: &Requests,
    n: u64,
    batch: Vec<Write>,
) -> Result<Sent, WriteError> {
    let mut sender = requests.sender(n);
    let mut attempts = 0;
    let mut deliver = |writes: Vec<Write>| {
        let body = body(&writes);
        let mode = match writes.first().map(|w| w.action) {
            Some(Action::Update) => ImportMode::Update,
            _ => ImportMode::Ignore,
        };
        let mut sender = std::mem::replace(&mut sender, requests.sender(n));
        async move {
            let body = body?;
            let delivery = sender.deliver(body, writes.len() as u32, mode).await;
            Ok::<_, WriteError>((delivery.verdict, delivery.effort, writes))
        }
    };
    let (verdict, effort, writes) = deliver(batch).await?;
    attempts += effort.attempts;
    let refusal = match verdict {
        Verdict::Stored { .. } => {
            return Ok(Sent {
                written: writes.len() as u64,
                refused: Vec::new(),
                attempts,
            })
        }
        Verdict::Stop(stop) => return Err(WriteError::Stopped(stop)),
        Verdict::Split(answer) | Verdict::Conflict(answer) => reason(&answer),
    };
    if writes.len() == 1 {
        let refused = writes
            .into_iter()
            .map(|write| Refused {
                write,
                reason: refusal.clone(),
            })
            .collect();
        return Ok(Sent {
            written: 0,
            refused,
            attempts,
        });
    }
    let mut written = 0;
    let mut refused = Vec::new();
    for write in writes {
        let (verdict, effort, mut one) = deliver(vec![write]).await?;
        attempts += effort.attempts;
        match verdict {
            Verdict::Stored { .. } => written += 1,
            Verdict::Stop(stop) => return Err(WriteError::Stopped(stop)),
            Verdict::Split(answer) | Verdict::Conflict(answer) => {
                if let Some(write) = one.pop() {
                    refused.push(Refused {
                        write,
                        reason: reason(&answer),
                    });
                }
            }
        }
    }
    Ok(Sent {
        written,
        refused,
        attempts,
    })
}

/// The destination's reason for a refusal.
fn reason(answer: &crate::send::client::PutResponse) -> String {
    match &answer.error {
        Some(body) => format!("HTTP {}: {}", answer.status, body.error),
        None => format!("HTTP {}", answer.status),
    }
}

/// The import body of `writes` (all of one collection).
fn body(writes: &[Write]) -> Result<Bytes, WriteError> {
    let bad = |e: serde_json::Error| WriteError::Plan(format!("the copy's plan is damaged: {e}"));
    let mut body = ImportBody::default();
    for w in writes {
        match w.kind {
            Kind::Schemas => body
                .schemas
                .push(serde_json::from_str(&w.doc).map_err(bad)?),
            Kind::Pools => body.pools.push(serde_json::from_str(&w.doc).map_err(bad)?),
            Kind::Groups => body.groups.push(serde_json::from_str(&w.doc).map_err(bad)?),
            Kind::GroupMembers => body
                .group_members
                .push(serde_json::from_str(&w.doc).map_err(bad)?),
            Kind::Users => {
                let line: ExportLine = serde_json::from_str(&w.doc).map_err(bad)?;
                let entry = line.into_entry();
                body.users.push(entry.user);
                body.user_credentials.extend(entry.credentials);
                body.user_identifiers.extend(entry.identifiers);
                body.user_verifiable_addresses.extend(entry.addresses);
            }
        }
    }
    serde_json::to_vec(&body).map(Bytes::from).map_err(bad)
}

/// `doc` (a record of `kind` as the plan holds it) with its secrets taken
/// out: every credential's payload, for the faulty file.
pub fn redacted(kind: Kind, doc: &str) -> Value {
    let mut value: Value = serde_json::from_str(doc).unwrap_or(Value::Null);
    if kind == Kind::Users {
        if let Some(credentials) = value.get_mut("credentials").and_then(Value::as_array_mut) {
            for c in credentials {
                if let Some(payload) = c.get_mut("payload") {
                    *payload = Value::String(crate::mapping::REDACTED.to_string());
                }
            }
        }
    }
    value
}
