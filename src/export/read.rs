//! Reading a pool's users from the target, a page at a time, in id order.
//!
//! **With credentials** the only source of password hashes is the dump
//! (`GET …/configuration`, `read_configuration`): the user endpoints blur
//! them ([`crate::contract::system::UserWithData::blur`]). The dump lists
//! users in the order the target stored them, which concurrent imports
//! make any order; so the pool is first read whole into an index on disk
//! ([`super::spool`]), then handed out in id order. It is read with ferry
//! serve's paging extension (`?pool_id=P&limit=N&after=…`) while answers
//! carry `Ferry-Next-After`; an answer without it is the last page, or the
//! whole dump of a target that does not page it (a real tenant), streamed
//! to disk on its way. A target that refuses the query with a 400 is asked
//! for the plain dump. A resumed export reads the pool again and goes on
//! after the last user id written.
//!
//! **Without credentials** (`--without-credentials`), the platform's user
//! endpoints (`identity`): a page of ids from `systemListUsers`
//! (`after_user_id`, `limit` at most 100, in id order), then each user with
//! its identifiers and addresses from `systemGetUser`, `concurrency` at a
//! time, in the page's order. A user deleted between the two is left out.
//!
//! Either way the users come in id order, the pages of the file are of `N`
//! users, and memory holds one page whatever the size of the pool.
//!
//! Every request goes through [`Sender::fetch`]: the import's retry
//! policy, backoff, throttle gate and token renewal.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;
use uuid::Uuid;

use super::spool::DumpIndex;
use super::ExportError;
use crate::contract::api::Endpoint;
use crate::contract::entry::Entry;
use crate::contract::line::ExportLine;
use crate::contract::{User, UserIdentifier, UserVerifiableAddress};
use crate::progress::Counters;
use crate::send::backoff::{seeded_rng, Backoff};
use crate::send::client::TargetClient;
use crate::send::deliver::{Effort, Sender, StopReason};
use crate::send::gate::ThrottleGate;

/// The largest page `systemListUsers` answers.
pub const MAX_USERS_PAGE: u32 = 100;

/// How requests are made: the run's client and its retry settings.
#[derive(Debug, Clone)]
pub struct Requests {
    /// The run's client.
    pub client: Arc<TargetClient>,
    /// The run's throttle gate, shared by every request.
    pub gate: Arc<ThrottleGate>,
    /// Backoff and attempt limit per request.
    pub backoff: Backoff,
    /// Seed of the jitter, for reproducible runs.
    pub seed: Option<u64>,
}

impl Requests {
    /// A sender for the `n`-th concurrent request.
    pub fn sender(&self, n: u64) -> Sender {
        let rng = seeded_rng(self.seed.map(|s| s.wrapping_add(n)));
        Sender::new(
            self.client.clone(),
            self.gate.clone(),
            None,
            self.backoff,
            rng,
        )
    }
}

/// Where the next page comes from.
#[derive(Debug)]
enum State {
    /// Ask the target for the page after the cursor.
    Asking,
    /// The pool's users from the dump, indexed on disk, handed out after
    /// the cursor.
    Indexed(Box<DumpIndex>),
    /// Nothing left.
    Done,
}

/// Pages of a pool's users, as export lines.
#[derive(Debug)]
pub struct Pager {
    /// Client and retry settings.
    requests: Requests,
    /// The pool read.
    pool: String,
    /// Users per page.
    page: u32,
    /// Users with their hashes from the dump, or without from the user endpoints.
    credentials: bool,
    /// Requests at once for the users of a page (without credentials).
    concurrency: usize,
    /// The last user handed out (or the checkpoint's): where the next page starts.
    cursor: Option<Uuid>,
    /// Where the next page comes from.
    state: State,
    /// What the requests took so far, for the summary.
    effort: Effort,
    /// Users read from the target so far, for the progress display.
    read: Arc<AtomicU64>,
}

impl Pager {
    /// Pages of `pool` after the user `after` (all of them when `None`).
    pub fn new(
        requests: Requests,
        pool: &str,
        (page, concurrency): (u32, usize),
        credentials: bool,
        after: Option<Uuid>,
    ) -> Pager {
        let page = match credentials {
            true => page,
            false => page.min(MAX_USERS_PAGE),
        };
        Pager {
            requests,
            pool: pool.to_string(),
            page: page.max(1),
            credentials,
            concurrency: concurrency.max(1),
            cursor: after,
            state: State::Asking,
            effort: Effort::default(),
            read: Arc::default(),
        }
    }

    /// Users read from the target so far (they are written once the whole
    /// pool is read, with credentials).
    pub fn read_counter(&self) -> Arc<AtomicU64> {
        self.read.clone()
    }

    /// Requests resent so far.
    pub fn retries(&self) -> usize {
        self.effort.retries.len()
    }

    /// The next page, in the target's order; `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ExportLine>>, ExportError> {
        if matches!(self.state, State::Asking) && self.credentials {
            let index = self.gather().await?;
            self.state = State::Indexed(Box::new(index));
        }
        let lines = match &mut self.state {
            State::Done => return Ok(None),
            State::Indexed(index) => index
                .page(self.cursor, self.page)
                .map_err(ExportError::Answer)?,
            State::Asking => self.users_page().await?,
        };
        let Some(last) = lines.last() else {
            self.state = State::Done;
            return Ok(None);
        };
        self.cursor = Some(last.user.id);
        Ok(Some(lines))
    }

    /// Reads the pool's users from the dump into an index on disk (see the
    /// module): ferry serve's pages while they carry `Ferry-Next-After`,
    /// then the last answer, spooled to disk on its way (the whole dump of a
    /// target that does not page it).
    async fn gather(&mut self) -> Result<DumpIndex, ExportError> {
        let mut index = DumpIndex::new(&self.pool).map_err(ExportError::Answer)?;
        let base = self.url(Endpoint::Configuration, "")?;
        let mut sender = self.requests.sender(0);
        let mut after: Option<String> = None;
        loop {
            let mut paged = base.clone();
            paged
                .query_pairs_mut()
                .append_pair("pool_id", &self.pool)
                .append_pair("limit", &self.page.to_string());
            if let Some(after) = &after {
                paged.query_pairs_mut().append_pair("after", after);
            }
            let got = match sender.fetch_dump(&paged, &mut self.effort).await {
                Err(StopReason::Fatal { status: 400, .. }) if after.is_none() => {
                    tracing::info!("The target refused the paged export; reading its whole dump.");
                    sender.fetch_dump(&base, &mut self.effort).await
                }
                other => other,
            }
            .map_err(ExportError::Stopped)?;
            let next = got.next_after.clone();
            index = match got.spooled {
                Some(file) => indexed(index, file).await?,
                None => indexed(index, std::io::Cursor::new(got.body)).await?,
            };
            Counters::set(&self.read, index.len());
            match next {
                Some(next) if Some(&next) != after.as_ref() => after = Some(next),
                Some(_) => {
                    return Err(ExportError::Answer(
                        "the target's Ferry-Next-After does not move on".into(),
                    ))
                }
                None => return Ok(index),
            }
        }
    }

    /// A page of the user endpoints (see the module).
    async fn users_page(&mut self) -> Result<Vec<ExportLine>, ExportError> {
        let mut list = self.url(Endpoint::Users, "")?;
        list.query_pairs_mut()
            .append_pair("limit", &self.page.to_string());
        if let Some(after) = self.cursor {
            list.query_pairs_mut()
                .append_pair("after_user_id", &after.to_string());
        }
        let got = self
            .requests
            .sender(0)
            .fetch(&list, false, &mut self.effort)
            .await
            .map_err(ExportError::Stopped)?
            .ok_or_else(|| ExportError::Answer("the target answered no list of users".into()))?;
        let listed: Listed = serde_json::from_slice(&got.body)
            .map_err(|_| ExportError::Answer("the target's list of users is not a Users".into()))?;
        if listed.users.len() < self.page as usize {
            self.state = State::Done;
        }
        let mut urls = Vec::with_capacity(listed.users.len());
        for listed in &listed.users {
            urls.push(self.url(Endpoint::User, &listed.id.to_string())?);
        }
        let requests = self.requests.clone();
        let fetched: Vec<(Option<ExportLine>, Effort)> = stream::iter(urls.into_iter().enumerate())
            .map(|(n, url)| {
                let mut sender = requests.sender(n as u64);
                async move {
                    let mut effort = Effort::default();
                    let got = sender
                        .fetch(&url, true, &mut effort)
                        .await
                        .map_err(ExportError::Stopped)?;
                    let line = got.map(|got| user_line(&got.body)).transpose()?;
                    Ok::<_, ExportError>((line, effort))
                }
            })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        let mut lines = Vec::with_capacity(fetched.len());
        for (line, effort) in fetched {
            self.effort.retries.extend(effort.retries);
            lines.extend(line);
        }
        Counters::add(&self.read, lines.len() as u64);
        if lines.is_empty() && !listed.users.is_empty() {
            // Every user of the page went away meanwhile: go on after it.
            self.cursor = listed.users.last().map(|u| u.id);
            return Box::pin(self.users_page()).await;
        }
        Ok(lines)
    }

    /// The URL of `endpoint` for this pool (and `user`).
    fn url(&self, endpoint: Endpoint, user: &str) -> Result<Url, ExportError> {
        self.requests
            .client
            .url(endpoint, &self.pool, user)
            .map_err(|e| ExportError::Usage(e.to_string()))
    }
}

/// `index` with the records `reader` holds added, off the async threads.
async fn indexed(
    index: DumpIndex,
    reader: impl std::io::Read + Send + 'static,
) -> Result<DumpIndex, ExportError> {
    tokio::task::spawn_blocking(move || {
        let mut index = index;
        index.add(reader).map(|()| index)
    })
    .await
    .map_err(|e| ExportError::Answer(format!("the export's index failed: {e}")))?
    .map_err(ExportError::Answer)
}

/// The ids of a page of `systemListUsers`.
#[derive(Debug, Deserialize)]
struct Listed {
    users: Vec<ListedUser>,
}

/// A user of the list: only its id is read.
#[derive(Debug, Deserialize)]
struct ListedUser {
    id: Uuid,
}

/// The line of a `systemGetUser` answer (`UserWithData`): the user record
/// with its identifiers and addresses; its blurred credentials are left out.
pub(crate) fn user_line(body: &[u8]) -> Result<ExportLine, ExportError> {
    let bad = |what: &str| {
        ExportError::Answer(format!("the target's user is not a UserWithData: {what}"))
    };
    let mut object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| bad("not a JSON object"))?;
    let mut take = |member: &str| object.remove(member).unwrap_or(Value::Array(Vec::new()));
    let identifiers: Vec<UserIdentifier> =
        serde_json::from_value(take("identifiers")).map_err(|_| bad("identifiers"))?;
    let addresses: Vec<UserVerifiableAddress> =
        serde_json::from_value(take("verifiable_addresses"))
            .map_err(|_| bad("verifiable_addresses"))?;
    take("credentials");
    let user: User = serde_json::from_value(Value::Object(object)).map_err(|_| bad("the user"))?;
    Ok(ExportLine::new(Entry::new(
        user,
        Vec::new(),
        identifiers,
        addresses,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::client::ClientConfig;
    use crate::send::testing::{Script, ScriptedTarget};
    use crate::send::token::ClientSecret;
    use crate::tools::synthetic;
    use std::time::Duration;

    /// A target that ignores the paging extension: its dump is the whole
    /// tenant, two pools, in one answer (as a real tenant answers), its
    /// users in no particular order.
    async fn whole_dump_target() -> (ScriptedTarget, Vec<Uuid>) {
        let mut body = synthetic::users("acme", "main", 0..7);
        let other = synthetic::users("acme", "other", 7..9);
        let mut ids: Vec<Uuid> = body.users.iter().map(|u| u.id).collect();
        ids.sort();
        body.users.extend(other.users);
        body.user_credentials.extend(other.user_credentials);
        body.user_identifiers.extend(other.user_identifiers);
        body.users.reverse();
        let script = Script {
            export: Some(serde_json::to_vec(&body).unwrap()),
            ..Script::default()
        };
        (ScriptedTarget::start(script).await, ids)
    }

    fn requests(target: &ScriptedTarget) -> Requests {
        let config = ClientConfig::new(target.base(), "acme", "ferry", ClientSecret::new("secret"));
        let backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(2), 3).unwrap();
        Requests {
            client: Arc::new(TargetClient::new(config).unwrap()),
            gate: Arc::new(ThrottleGate::new(backoff)),
            backoff,
            seed: Some(1),
        }
    }

    async fn pages(mut pager: Pager) -> Vec<Vec<Uuid>> {
        let mut pages = Vec::new();
        while let Some(lines) = pager.next_page().await.unwrap() {
            assert!(lines.iter().all(|l| !l.credentials.is_empty()));
            pages.push(lines.iter().map(|l| l.user.id).collect());
        }
        pages
    }

    #[tokio::test]
    async fn a_whole_dump_is_filtered_to_the_pool_paged_in_id_order_and_resumed() {
        let (target, ids) = whole_dump_target().await;
        let pager = Pager::new(requests(&target), "main", (3, 1), true, None);
        let all = pages(pager).await;
        assert_eq!(
            all,
            [ids[..3].to_vec(), ids[3..6].to_vec(), ids[6..].to_vec()]
        );
        // Resumed after the first page: the same pages as an uninterrupted run.
        let pager = Pager::new(requests(&target), "main", (3, 1), true, Some(ids[2]));
        assert_eq!(pages(pager).await, all[1..]);
    }
}
