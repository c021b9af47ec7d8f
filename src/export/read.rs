//! Reading a pool's users from the target, a page at a time.
//!
//! **With credentials** the only source of password hashes is the dump
//! (`GET …/configuration`, `read_configuration`): the user endpoints blur
//! them ([`crate::contract::system::UserWithData::blur`]). The pool's pages
//! are asked for with ferry serve's paging extension
//! (`?pool_id=P&limit=N&after=ID`): while an answer carries
//! `Ferry-Next-After`, the next page starts there. An answer without it is
//! the last page, or a target that ignores the extension (a real tenant,
//! whose dump is the whole tenant): its users of the pool are taken in the
//! dump's order, those up to the `after` user skipped when it is among
//! them (a resumed export), and handed out in pages of `N` all the same,
//! so that the file's blocks do not depend on how the target paged. A
//! target that refuses the query with a 400 is asked for the plain dump.
//! Users come in the dump's order: for `ferry serve`, the order they were
//! imported in.
//!
//! **Without credentials** (`--without-credentials`), the platform's user
//! endpoints (`identity`): a page of ids from `systemListUsers`
//! (`after_user_id`, `limit` at most 100, in id order), then each user with
//! its identifiers and addresses from `systemGetUser`, `concurrency` at a
//! time, in the page's order. A user deleted between the two is left out.
//!
//! Every request goes through [`Sender::fetch`]: the import's retry
//! policy, backoff, throttle gate and token renewal.

use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;
use uuid::Uuid;

use super::ExportError;
use crate::contract::api::Endpoint;
use crate::contract::entry::Entry;
use crate::contract::line::{lines_of, ExportLine};
use crate::contract::{ImportBody, User, UserIdentifier, UserVerifiableAddress};
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
    fn sender(&self, n: u64) -> Sender {
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
    /// The rest of a dump the target answered whole.
    Whole(std::vec::IntoIter<ExportLine>),
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
        }
    }

    /// Requests resent so far.
    pub fn retries(&self) -> usize {
        self.effort.retries.len()
    }

    /// The next page, in the target's order; `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ExportLine>>, ExportError> {
        let lines = match &mut self.state {
            State::Done => return Ok(None),
            State::Whole(rest) => rest.by_ref().take(self.page as usize).collect(),
            State::Asking if self.credentials => self.dump_page().await?,
            State::Asking => self.users_page().await?,
        };
        let Some(last) = lines.last() else {
            self.state = State::Done;
            return Ok(None);
        };
        self.cursor = Some(last.user.id);
        Ok(Some(lines))
    }

    /// A page of the dump (see the module).
    async fn dump_page(&mut self) -> Result<Vec<ExportLine>, ExportError> {
        let base = self.url(Endpoint::Configuration, "")?;
        let mut paged = base.clone();
        paged
            .query_pairs_mut()
            .append_pair("pool_id", &self.pool)
            .append_pair("limit", &self.page.to_string());
        if let Some(after) = self.cursor {
            paged
                .query_pairs_mut()
                .append_pair("after", &after.to_string());
        }
        let mut sender = self.requests.sender(0);
        let got = match sender.fetch(&paged, false, &mut self.effort).await {
            Err(StopReason::Fatal { status: 400, .. }) => {
                tracing::info!("The target refused the paged export; reading its whole dump.");
                sender.fetch(&base, false, &mut self.effort).await
            }
            other => other,
        }
        .map_err(ExportError::Stopped)?
        .ok_or_else(|| ExportError::Answer("the target answered no export".into()))?;
        let body: ImportBody = serde_json::from_slice(&got.body).map_err(|e| {
            ExportError::Answer(format!(
                "the target's export is not a TenantDump (at line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let lines = lines_of(body, &self.pool);
        let next = got.next_after.as_deref().map(Uuid::parse_str);
        match next {
            Some(Ok(_)) => Ok(lines),
            Some(Err(_)) => Err(ExportError::Answer(
                "the target's Ferry-Next-After is not a user id".into(),
            )),
            None => {
                // The last page, or the whole dump: handed out a page at a time.
                let mut rest = lines.into_iter();
                if let Some(after) = self.cursor {
                    let mut ahead = rest.clone();
                    if ahead.any(|line| line.user.id == after) {
                        rest = ahead;
                    }
                }
                let page: Vec<ExportLine> = rest.by_ref().take(self.page as usize).collect();
                self.state = State::Whole(rest);
                Ok(page)
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
fn user_line(body: &[u8]) -> Result<ExportLine, ExportError> {
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
    /// tenant, two pools, in one answer (as a real tenant answers).
    async fn whole_dump_target() -> (ScriptedTarget, Vec<Uuid>) {
        let mut body = synthetic::users("acme", "main", 0..7);
        let other = synthetic::users("acme", "other", 7..9);
        body.users.extend(other.users);
        body.user_credentials.extend(other.user_credentials);
        body.user_identifiers.extend(other.user_identifiers);
        let ids = body.users[..7].iter().map(|u| u.id).collect();
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
    async fn a_whole_dump_is_filtered_to_the_pool_paged_and_resumed() {
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
