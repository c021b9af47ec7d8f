//! The attempt loop of one request: the send stage of the chain, tying the
//! rate limit, the throttle gate, the client, the retry decision, the
//! backoff and token renewal together.
//!
//! [`Sender::deliver`] sends one body until the target stores it, or until
//! the answer needs the caller (split the batch, check a conflict), or until
//! the run must stop. It never drops a body: when the attempts run out it
//! says so ([`StopReason::GaveUp`]) and the caller stops the run with its
//! checkpoint saved.
//!
//! Per attempt: take `users` cells of the rate limit (every attempt loads the
//! target), pass the throttle gate, send, decide. A 401 renews the token once
//! per delivery and resends at once; a second 401 stops the run. A throttled
//! attempt (429, 503) also closes the gate for every sender.
//!
//! Reads ([`Sender::fetch`], [`Sender::lookup`]) and deletes
//! ([`Sender::delete`], a rollback's) go through the same loop under their
//! own policies.
//!
//! The future is cancel-safe in the sense that matters here: dropping it at
//! any point (shutdown, grace period over) acknowledges nothing, so the batch
//! is sent again by the resumed run. Log lines carry no batch number: run
//! `deliver` inside a span that has it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;

use super::backoff::Backoff;
use url::Url;

use super::client::{Existing, GetResponse, PutResponse, SendError, TargetClient};
use super::gate::{Pass, ThrottleGate};
use super::rate::UserRate;
use super::retry::{
    decide, decide_delete, decide_read, Decision, FatalReason, Outcome, RetryCause,
};
use super::token::{TokenError, TokenGeneration};
use crate::contract::ImportMode;

/// What became of one body, with what it took.
#[derive(Debug)]
pub struct Delivery {
    /// The end of the attempt loop.
    pub verdict: Verdict,
    /// The requests it took.
    pub effort: Effort,
}

/// The requests one body took, for the report.
#[derive(Debug, Default)]
pub struct Effort {
    /// Requests sent (token requests excluded).
    pub attempts: u32,
    /// Why each retry happened, in order: the report's "retries by status".
    pub retries: Vec<RetryCause>,
    /// Duration of each answered request, for latency percentiles.
    pub latencies: Vec<Duration>,
}

/// How the attempt loop ended.
#[derive(Debug)]
pub enum Verdict {
    /// The target stored the body.
    Stored {
        /// What the target said of the users it already had, if anything.
        existing: Option<Existing>,
    },
    /// 400, 413 or 422: bisect the batch (the answer says why).
    Split(PutResponse),
    /// 409: a record conflicts (the answer says which).
    Conflict(PutResponse),
    /// The run must stop.
    Stop(StopReason),
}

/// What a delete ([`Sender::delete`]) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The target deleted the record (204).
    Removed,
    /// The target does not hold the record (404): already gone, deleted by
    /// an earlier attempt whose answer was lost or by an earlier rollback.
    /// Also what an unknown pool answers, so a rollback that deletes a pool's
    /// users after the pool (or a wrong pool id) sees every user absent.
    Absent,
}

/// Why a run must stop. The batch is not acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StopReason {
    /// The target refused a freshly renewed token.
    #[error("the target refused the access token even after renewing it (HTTP 401); check the client's permissions for this tenant")]
    Unauthorized,
    /// The target's answer can never turn into a success.
    #[error("{reason} (HTTP {status}{})", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Fatal {
        /// The HTTP status.
        status: u16,
        /// What it means.
        reason: FatalReason,
        /// The target's reason, if it gave one.
        detail: Option<String>,
    },
    /// No token could be obtained.
    #[error(transparent)]
    Token(TokenError),
    /// The target throttled one batch for longer than the throttle deadline.
    #[error("the target kept throttling (HTTP 429) one batch for {}s, past the deadline of {}s; run again when it has capacity, or give a longer deadline", waited.as_secs(), deadline.as_secs())]
    Throttled {
        /// How long the batch had been throttled.
        waited: Duration,
        /// The deadline.
        deadline: Duration,
    },
    /// The target kept failing through every attempt.
    #[error("the target kept failing: {attempts} attempts, the last one failed with {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure's label (`503`, `timeout`, ...).
        last: String,
    },
}

/// One sender: its own jitter generator, sharing the client, the gate and
/// the rate limit with the run's other senders.
#[derive(Debug)]
pub struct Sender {
    /// The run's client (one connection pool).
    client: Arc<TargetClient>,
    /// The run's throttle gate.
    gate: Arc<ThrottleGate>,
    /// The run's users-per-second limit, if any.
    rate: Option<Arc<UserRate>>,
    /// Per-body backoff and attempt limit.
    backoff: Backoff,
    /// Jitter source; seed it for reproducible runs.
    rng: SmallRng,
}

/// What one body's attempt loop has been through, for its limits.
#[derive(Debug, Default)]
struct Tally {
    /// Failed attempts (errors, not throttling): bounded by the attempt limit.
    errors: u32,
    /// 429 answers: they use no attempt.
    throttles: u32,
    /// When the first 429 came: the body's throttled time is bounded by the deadline.
    throttled_since: Option<tokio::time::Instant>,
}

/// How the attempt loop of one request ended, before the caller says
/// what it means for its request.
enum Ended<T> {
    /// The policy's success, with what the attempt read.
    Success(PutResponse, T),
    /// 400, 413 or 422 under the import's policy.
    Split(PutResponse),
    /// 409 under the import's policy.
    Conflict(PutResponse),
    /// The run must stop.
    Stop(StopReason),
}

/// How a read is made.
#[derive(Clone)]
enum Read {
    /// A `GET`; `spool`: a whole dump goes to a temporary file.
    Get { spool: bool },
    /// A `POST` of this JSON body.
    Post(Bytes),
}

/// The result of one attempt.
enum Attempt<T> {
    /// The target answered (any status), with what the attempt read.
    Answered(PutResponse, T),
    /// No answer, or no token for now: retry.
    Failed {
        /// Why.
        cause: RetryCause,
        /// The token endpoint's `Retry-After`, if any.
        after: Option<Duration>,
    },
}

impl Sender {
    /// A sender over shared parts.
    pub fn new(
        client: Arc<TargetClient>,
        gate: Arc<ThrottleGate>,
        rate: Option<Arc<UserRate>>,
        backoff: Backoff,
        rng: SmallRng,
    ) -> Self {
        Sender {
            client,
            gate,
            rate,
            backoff,
            rng,
        }
    }

    /// Sends `body` (holding `users` users) until it is stored, needs the
    /// caller, or the run must stop.
    pub async fn deliver(&mut self, body: Bytes, users: u32, mode: ImportMode) -> Delivery {
        let mut effort = Effort::default();
        let verdict = self.attempts(body, users, mode, &mut effort).await;
        Delivery { verdict, effort }
    }

    /// The attempt loop of [`Sender::deliver`], counting into `delivery`.
    async fn attempts(
        &mut self,
        body: Bytes,
        users: u32,
        mode: ImportMode,
        delivery: &mut Effort,
    ) -> Verdict {
        let send = |client: Arc<TargetClient>| {
            let body = body.clone();
            async move { client.put_batch(body, mode).await.map(|r| (r, ())) }
        };
        match self.attempt_loop(users, decide, send, delivery).await {
            Ended::Success(response, ()) => Verdict::Stored {
                existing: response.existing,
            },
            Ended::Split(response) => Verdict::Split(response),
            Ended::Conflict(response) => Verdict::Conflict(response),
            Ended::Stop(stop) => Verdict::Stop(stop),
        }
    }

    /// Reads `url` (a `GET`) until the target answers 200, with the same
    /// gate, backoff, attempt limit and token renewal as an import's
    /// [`Sender::deliver`], under the read policy ([`decide_read`]).
    /// `Ok(None)` for a 404 when `missing_ok` (a user gone since it was
    /// listed); `Err` when the run must stop.
    pub async fn fetch(
        &mut self,
        url: &Url,
        missing_ok: bool,
        effort: &mut Effort,
    ) -> Result<Option<GetResponse>, StopReason> {
        self.read(url, Read::Get { spool: false }, missing_ok, effort)
            .await
    }

    /// [`Sender::fetch`] of a read made with a `POST` of the JSON `body`
    /// (`systemGetUserByKey`): `Ok(None)` for a 404 (no such user).
    pub async fn lookup(
        &mut self,
        url: &Url,
        body: Bytes,
        effort: &mut Effort,
    ) -> Result<Option<GetResponse>, StopReason> {
        self.read(url, Read::Post(body), true, effort).await
    }

    /// [`Sender::fetch`] of the dump: an answer that is not a page of
    /// ferry's paged export (perhaps the whole tenant) is spooled to a
    /// temporary file ([`GetResponse::spooled`]) instead of memory.
    pub async fn fetch_dump(
        &mut self,
        url: &Url,
        effort: &mut Effort,
    ) -> Result<GetResponse, StopReason> {
        let got = self
            .read(url, Read::Get { spool: true }, false, effort)
            .await?;
        got.ok_or(StopReason::GaveUp {
            attempts: effort.attempts,
            last: "404".to_string(),
        })
    }

    /// Deletes what `url` names (a `DELETE` of a user, group, membership,
    /// pool or schema) until the target answers 204, with the same gate,
    /// backoff, attempt limit and token renewal as [`Sender::fetch`], under
    /// the delete policy ([`decide_delete`]). A 404 is [`Deleted::Absent`],
    /// so a rollback can be run again; `Err` when the run must stop (a 409
    /// or 400 refusal among them, with the target's reason).
    pub async fn delete(&mut self, url: &Url, effort: &mut Effort) -> Result<Deleted, StopReason> {
        let send = |client: Arc<TargetClient>| {
            let url = url.clone();
            async move { client.delete(url).await.map(|answer| (answer, ())) }
        };
        match self.attempt_loop(0, decide_delete, send, effort).await {
            Ended::Success(..) => Ok(Deleted::Removed),
            Ended::Stop(StopReason::Fatal { status: 404, .. }) => Ok(Deleted::Absent),
            Ended::Stop(stop) => Err(stop),
            Ended::Split(answer) | Ended::Conflict(answer) => Err(StopReason::Fatal {
                status: answer.status,
                reason: FatalReason::ClientError,
                detail: Some(answer.reason()),
            }),
        }
    }

    /// The attempt loop of a read (see [`Sender::fetch`]).
    async fn read(
        &mut self,
        url: &Url,
        how: Read,
        missing_ok: bool,
        effort: &mut Effort,
    ) -> Result<Option<GetResponse>, StopReason> {
        let send = |client: Arc<TargetClient>| {
            let (url, how) = (url.clone(), how.clone());
            async move {
                let got = match how {
                    Read::Get { spool } => client.get(url, spool).await,
                    Read::Post(body) => client.post_read(url, body).await,
                };
                got.map(|got| {
                    let GetResponse {
                        answer,
                        body,
                        spooled,
                        next_after,
                    } = got;
                    (answer, (body, spooled, next_after))
                })
            }
        };
        match self.attempt_loop(0, decide_read, send, effort).await {
            Ended::Success(answer, (body, spooled, next_after)) => Ok(Some(GetResponse {
                answer,
                body,
                spooled,
                next_after,
            })),
            Ended::Stop(StopReason::Fatal { status: 404, .. }) if missing_ok => Ok(None),
            Ended::Stop(stop) => Err(stop),
            Ended::Split(answer) | Ended::Conflict(answer) => Err(StopReason::Fatal {
                status: answer.status,
                reason: FatalReason::ClientError,
                detail: Some(answer.reason()),
            }),
        }
    }

    /// The attempt loop of one request: `send` makes an attempt with the
    /// run's client, `policy` decides what its answer means. `users` cells
    /// of the rate limit are taken per attempt (none for a read).
    async fn attempt_loop<T, F, Fut>(
        &mut self,
        users: u32,
        policy: fn(&Outcome) -> Decision,
        send: F,
        delivery: &mut Effort,
    ) -> Ended<T>
    where
        F: Fn(Arc<TargetClient>) -> Fut,
        Fut: std::future::Future<Output = Result<(PutResponse, T), SendError>>,
    {
        let mut failures = Tally::default();
        // The token this sender fetched on a 401 and has not seen accepted yet.
        let mut renewed_to: Option<TokenGeneration> = None;
        loop {
            if let Some(rate) = self.rate.as_ref().filter(|_| users > 0) {
                rate.acquire(users).await;
            }
            let pass = self.gate.pass().await;
            delivery.attempts += 1;
            let (response, value) = match self.attempt(&send, policy).await {
                Ok(Attempt::Answered(response, value)) => (response, value),
                Ok(Attempt::Failed { cause, after }) => {
                    if let Err(stop) = self
                        .retry(pass, cause, after, delivery, &mut failures)
                        .await
                    {
                        return Ended::Stop(stop);
                    }
                    continue;
                }
                Err(stop) => return Ended::Stop(stop),
            };
            delivery.latencies.push(response.elapsed);
            let decision = policy(&response.outcome());
            if decision != Decision::Renew && renewed_to == Some(response.token) {
                renewed_to = None; // the fresh token was accepted
            }
            match decision {
                Decision::Success => {
                    self.gate.succeeded();
                    return Ended::Success(response, value);
                }
                Decision::Split => return Ended::Split(response),
                Decision::Conflict => return Ended::Conflict(response),
                // A token fetched because of a refusal, refused at once: the client lacks access.
                Decision::Renew if renewed_to == Some(response.token) => {
                    return Ended::Stop(StopReason::Unauthorized)
                }
                Decision::Renew => {
                    tracing::info!("Target refused the access token; renewing it.");
                    match self.renew(response.token, delivery, &mut failures).await {
                        Ok(fresh) => renewed_to = fresh.or(renewed_to),
                        Err(stop) => return Ended::Stop(stop),
                    }
                }
                Decision::Fatal { status, reason } => {
                    let stop = StopReason::Fatal {
                        status,
                        reason,
                        detail: Some(response.reason()),
                    };
                    return Ended::Stop(stop);
                }
                Decision::Retry { cause, after } => {
                    if let Err(stop) = self
                        .retry(pass, cause, after, delivery, &mut failures)
                        .await
                    {
                        return Ended::Stop(stop);
                    }
                }
            }
        }
    }

    /// Sends once. `Err` when the failure is not one to retry (no token).
    async fn attempt<T, F, Fut>(
        &self,
        send: &F,
        policy: fn(&Outcome) -> Decision,
    ) -> Result<Attempt<T>, StopReason>
    where
        F: Fn(Arc<TargetClient>) -> Fut,
        Fut: std::future::Future<Output = Result<(PutResponse, T), SendError>>,
    {
        let err = match send(self.client.clone()).await {
            Ok((response, value)) => return Ok(Attempt::Answered(response, value)),
            Err(err) => err,
        };
        match err.outcome().map(|outcome| policy(&outcome)) {
            Some(Decision::Retry { cause, after }) => Ok(Attempt::Failed { cause, after }),
            _ => Err(stop_for(err)),
        }
    }

    /// Records a retry, closes the gate on a throttle, waits the backoff.
    async fn retry(
        &mut self,
        pass: Pass,
        cause: RetryCause,
        after: Option<Duration>,
        delivery: &mut Effort,
        failures: &mut Tally,
    ) -> Result<(), StopReason> {
        delivery.retries.push(cause);
        if cause.is_throttle() {
            self.gate.throttled(pass, after, &mut self.rng);
        }
        let wait = if cause.is_rate_limit() {
            self.throttle_wait(after, failures)?
        } else {
            failures.errors += 1;
            let Some(wait) = self.backoff.delay(failures.errors, after, &mut self.rng) else {
                tracing::error!(attempts = delivery.attempts, cause = %cause.label(), "Target kept failing; giving up on this batch.");
                return Err(StopReason::GaveUp {
                    attempts: delivery.attempts,
                    last: cause.label(),
                });
            };
            wait
        };
        tracing::warn!(
            cause = %cause.label(),
            attempt = delivery.attempts,
            wait_ms = wait.as_millis() as u64,
            "Target did not take the request; retrying."
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// The wait after a 429: it uses no attempt, but the time the body has
    /// been throttled is bounded by the backoff's throttle deadline.
    fn throttle_wait(
        &mut self,
        after: Option<Duration>,
        tally: &mut Tally,
    ) -> Result<Duration, StopReason> {
        tally.throttles += 1;
        let since = *tally
            .throttled_since
            .get_or_insert_with(tokio::time::Instant::now);
        let wait = self
            .backoff
            .throttle_wait(tally.throttles, after, &mut self.rng);
        let deadline = self.backoff.throttle_deadline();
        if since.elapsed() + wait > deadline {
            tracing::error!(
                throttled_s = since.elapsed().as_secs(),
                "Target kept throttling past the deadline; stopping."
            );
            return Err(StopReason::Throttled {
                waited: since.elapsed(),
                deadline,
            });
        }
        Ok(wait)
    }

    /// Renews the token generation `refused`, returning the new token's
    /// generation; a retryable failure of the token endpoint counts as a
    /// failed attempt and is waited out (no new token then: `None`).
    async fn renew(
        &mut self,
        refused: TokenGeneration,
        delivery: &mut Effort,
        failures: &mut Tally,
    ) -> Result<Option<TokenGeneration>, StopReason> {
        let err = match self.client.tokens().renew(refused).await {
            Ok(token) => return Ok(Some(token.generation())),
            Err(err) => err,
        };
        let err = SendError::Token(err);
        let Some(Outcome::Failed(kind)) = err.outcome() else {
            return Err(stop_for(err));
        };
        let pass = self.gate.pass().await;
        self.retry(pass, RetryCause::Transport(kind), None, delivery, failures)
            .await
            .map(|()| None)
    }
}

/// The stop reason for an error the policy does not retry (a refused or
/// unusable token; transport errors are always retried).
fn stop_for(err: SendError) -> StopReason {
    match err {
        SendError::Token(err) => StopReason::Token(err),
        SendError::Transport(err) => StopReason::GaveUp {
            attempts: 0,
            last: err.kind().label().to_string(),
        },
        SendError::Spool(kind) => StopReason::GaveUp {
            attempts: 0,
            last: format!("spool: {kind}"),
        },
    }
}

/// The attempt loop against a scripted target on loopback. Real time, with
/// millisecond backoffs: a paused clock would auto-advance while an answer
/// is in flight on the socket and fire the request's time limit. The waits
/// themselves are tested on a paused clock where no socket is involved
/// (`backoff.rs`, `gate.rs`).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::backoff::seeded_rng;
    use crate::send::client::ClientConfig;
    use crate::send::testing::{Reply, Script, ScriptedTarget};
    use crate::send::token::ClientSecret;

    /// Backoff in milliseconds, Retry-After clamped to 10 ms: the loop's
    /// logic is under test, not its patience.
    fn quick(max_attempts: u32) -> Backoff {
        Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(4),
            max_attempts,
        )
        .unwrap()
        .with_retry_after_limit(Duration::from_millis(10))
    }

    fn sender_for(target: &ScriptedTarget, max_attempts: u32, secret: &str) -> Sender {
        let config = ClientConfig::new(target.base(), "acme", "ferry", ClientSecret::new(secret));
        let client = Arc::new(TargetClient::new(config).unwrap());
        let gate = Arc::new(ThrottleGate::new(quick(max_attempts)));
        Sender::new(client, gate, None, quick(max_attempts), seeded_rng(Some(9)))
    }

    fn body() -> Bytes {
        Bytes::from_static(b"{\"users\":[]}")
    }

    #[tokio::test]
    async fn a_read_is_retried_and_renewed_like_an_import() {
        let script = Script {
            export: Some(b"{}".to_vec()),
            export_statuses: [503, 500, 401, 429].into(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let mut sender = sender_for(&target, 10, "secret");
        let url = sender
            .client
            .url(crate::contract::api::Endpoint::Configuration, "", "")
            .unwrap();
        let mut effort = Effort::default();
        let got = sender.fetch(&url, false, &mut effort).await.unwrap();
        assert_eq!(got.map(|g| g.body), Some(Bytes::from_static(b"{}")));
        let causes: Vec<String> = effort.retries.iter().map(|c| c.label()).collect();
        assert_eq!(causes, ["503", "500", "429"]);
        assert_eq!(effort.attempts, 5);
        assert_eq!(target.token_requests(), 2, "the 401 renewed the token");
    }

    #[tokio::test]
    async fn a_read_gives_up_and_a_missing_one_is_told() {
        let script = Script {
            export: None,
            export_statuses: [500, 500, 500].into(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let mut sender = sender_for(&target, 2, "secret");
        let url = sender
            .client
            .url(crate::contract::api::Endpoint::Configuration, "", "")
            .unwrap();
        let mut effort = Effort::default();
        let stop = sender.fetch(&url, false, &mut effort).await.unwrap_err();
        assert!(
            matches!(stop, StopReason::GaveUp { attempts: 2, .. }),
            "{stop:?}"
        );
        // One 500 left, then the export's 404.
        let mut effort = Effort::default();
        assert!(sender
            .fetch(&url, true, &mut effort)
            .await
            .unwrap()
            .is_none());
        let stop = sender.fetch(&url, false, &mut effort).await.unwrap_err();
        assert!(
            matches!(stop, StopReason::Fatal { status: 404, .. }),
            "{stop:?}"
        );
    }

    #[tokio::test]
    async fn a_delete_is_retried_and_renewed_and_a_404_is_already_gone() {
        let script = Script {
            deletes: [
                Reply::status(503),
                Reply::Drop,
                Reply::status(401),
                Reply::status(429).retry_after("0"),
                Reply::status(500),
                Reply::status(204),
            ]
            .into(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let mut sender = sender_for(&target, 10, "secret");
        let user = uuid::Uuid::from_u128(7).to_string();
        let url = sender
            .client
            .url(crate::contract::api::Endpoint::User, "p", &user)
            .unwrap();
        let mut effort = Effort::default();
        assert_eq!(
            sender.delete(&url, &mut effort).await.unwrap(),
            Deleted::Removed
        );
        let causes: Vec<String> = effort.retries.iter().map(|c| c.label()).collect();
        assert_eq!(causes, ["503", "connection-closed", "429", "500"]);
        assert_eq!(effort.attempts, 6);
        assert_eq!(target.token_requests(), 2, "the 401 renewed the token");
        let path = crate::contract::api::USER.path(["acme", "p", &user]);
        assert_eq!(target.deletes(), vec![path.clone(); 6]);

        // The script has run out: the target answers 404, the user is gone.
        let mut effort = Effort::default();
        assert_eq!(
            sender.delete(&url, &mut effort).await.unwrap(),
            Deleted::Absent
        );
        assert_eq!(effort.attempts, 1);
    }

    #[tokio::test]
    async fn a_delete_refused_or_answered_off_contract_stops() {
        let script = Script {
            deletes: [
                Reply::error(409, "schema_in_use", "pool 'p' names the schema"),
                Reply::json(200, serde_json::json!({"deleted": true})),
                Reply::status(403),
                Reply::status(502),
                Reply::status(502),
            ]
            .into(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let mut sender = sender_for(&target, 2, "secret");
        let url = sender
            .client
            .url(crate::contract::api::Endpoint::User, "p", "u")
            .unwrap();
        let mut effort = Effort::default();
        let stop = sender.delete(&url, &mut effort).await.unwrap_err();
        assert!(
            matches!(stop, StopReason::Fatal { status: 409, .. }),
            "{stop:?}"
        );
        assert!(stop.to_string().contains("schema_in_use"), "{stop}");
        let stop = sender.delete(&url, &mut effort).await.unwrap_err();
        assert!(
            matches!(
                stop,
                StopReason::Fatal {
                    status: 200,
                    reason: FatalReason::NotTheContract,
                    ..
                }
            ),
            "{stop:?}"
        );
        let stop = sender.delete(&url, &mut effort).await.unwrap_err();
        assert!(
            matches!(stop, StopReason::Fatal { status: 403, .. }),
            "{stop:?}"
        );
        let mut effort = Effort::default();
        let stop = sender.delete(&url, &mut effort).await.unwrap_err();
        assert!(
            matches!(stop, StopReason::GaveUp { attempts: 2, .. }),
            "{stop:?}"
        );
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_stored() {
        let target = ScriptedTarget::start(Script::replies([
            Reply::status(429).retry_after("1"),
            Reply::status(503),
            Reply::Drop,
            Reply::status(500),
            Reply::ok_existing(2),
        ]))
        .await;
        let mut sender = sender_for(&target, 10, "secret");
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        assert!(
            matches!(
                delivery.verdict,
                Verdict::Stored {
                    existing: Some(Existing {
                        users: 2,
                        changed: 0
                    })
                }
            ),
            "{:?}",
            delivery.verdict
        );
        assert_eq!(delivery.effort.attempts, 5);
        let labels: Vec<_> = delivery.effort.retries.iter().map(|c| c.label()).collect();
        assert_eq!(labels, ["429", "503", "connection-closed", "500"]);
        assert_eq!(delivery.effort.latencies.len(), 4);
        assert_eq!(target.puts().len(), 5);
    }

    #[tokio::test]
    async fn a_body_that_keeps_failing_stops_the_run_after_the_limit() {
        let target = ScriptedTarget::start(Script::replies(vec![Reply::status(502); 10])).await;
        let mut sender = sender_for(&target, 3, "secret");
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        match delivery.verdict {
            Verdict::Stop(StopReason::GaveUp { attempts, ref last }) => {
                assert_eq!(attempts, 3);
                assert_eq!(last, "502");
            }
            ref other => panic!("{other:?}"),
        }
        assert_eq!(target.puts().len(), 3);
    }

    #[tokio::test]
    async fn a_401_renews_the_token_once() {
        let target =
            ScriptedTarget::start(Script::replies([Reply::status(401), Reply::ok()])).await;
        let mut sender = sender_for(&target, 10, "secret");
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        assert!(
            matches!(delivery.verdict, Verdict::Stored { .. }),
            "{:?}",
            delivery.verdict
        );
        assert_eq!(target.token_requests(), 2);
        assert!(delivery.effort.retries.is_empty());

        let target =
            ScriptedTarget::start(Script::replies([Reply::status(401), Reply::status(401)])).await;
        let mut sender = sender_for(&target, 10, "secret");
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        assert!(
            matches!(delivery.verdict, Verdict::Stop(StopReason::Unauthorized)),
            "{:?}",
            delivery.verdict
        );
        assert_eq!(target.puts().len(), 2);
    }

    #[tokio::test]
    async fn answers_for_the_caller_come_back_with_the_target_reason() {
        let target = ScriptedTarget::start(Script::replies([
            Reply::error(422, "invalid_record", "users[3] has no status"),
            Reply::error(409, "conflict", "identifier taken"),
            Reply::status(413),
        ]))
        .await;
        let mut sender = sender_for(&target, 10, "secret");
        let split = sender.deliver(body(), 5, ImportMode::Ignore).await;
        assert!(
            matches!(&split.verdict, Verdict::Split(r) if r.reason() == "users[3] has no status (invalid_record)")
        );
        let conflict = sender.deliver(body(), 5, ImportMode::Fail).await;
        assert!(matches!(&conflict.verdict, Verdict::Conflict(r) if r.status == 409));
        let too_large = sender.deliver(body(), 5, ImportMode::Ignore).await;
        assert!(matches!(&too_large.verdict, Verdict::Split(r) if r.status == 413));
    }

    #[tokio::test]
    async fn fatal_answers_and_refused_credentials_stop_at_once() {
        let target = ScriptedTarget::start(Script::replies([Reply::error(
            404,
            "not_found",
            "no pool 'x'",
        )]))
        .await;
        let mut sender = sender_for(&target, 10, "secret");
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        let Verdict::Stop(stop) = delivery.verdict else {
            panic!("{:?}", delivery.verdict)
        };
        assert!(matches!(
            stop,
            StopReason::Fatal {
                status: 404,
                reason: FatalReason::NotFound,
                ..
            }
        ));
        assert!(
            stop.to_string().contains("no pool 'x' (not_found)"),
            "{stop}"
        );
        assert_eq!(delivery.effort.attempts, 1);

        let target = ScriptedTarget::start(Script::default()).await;
        let mut sender = sender_for(&target, 10, "wrong");
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        assert!(matches!(
            delivery.verdict,
            Verdict::Stop(StopReason::Token(TokenError::Refused { .. }))
        ));
        assert!(target.puts().is_empty());
    }

    #[tokio::test]
    async fn throttling_uses_none_of_the_attempts_meant_for_errors() {
        let mut replies = vec![Reply::status(429).retry_after("0"); 12];
        replies.push(Reply::status(503));
        replies.push(Reply::ok());
        let target = ScriptedTarget::start(Script::replies(replies)).await;
        let mut sender = sender_for(&target, 3, "secret");
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        assert!(
            matches!(delivery.verdict, Verdict::Stored { .. }),
            "{:?}",
            delivery.verdict
        );
        assert_eq!(delivery.effort.attempts, 14);
        assert_eq!(target.puts().len(), 14);
    }

    #[tokio::test]
    async fn a_batch_throttled_past_its_deadline_stops_the_run() {
        let target = ScriptedTarget::start(Script::replies(vec![
            Reply::status(429)
                .retry_after("1");
            500
        ]))
        .await;
        let config = ClientConfig::new(target.base(), "acme", "ferry", ClientSecret::new("secret"));
        let client = Arc::new(TargetClient::new(config).unwrap());
        // Waits of 10 ms (the clamped Retry-After), a deadline of 50 ms.
        let backoff = quick(3).with_throttle_deadline(Duration::from_millis(50));
        let gate = Arc::new(ThrottleGate::new(backoff));
        let mut sender = Sender::new(client, gate, None, backoff, seeded_rng(Some(9)));
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        let Verdict::Stop(stop @ StopReason::Throttled { deadline, .. }) = &delivery.verdict else {
            panic!("{:?}", delivery.verdict)
        };
        assert_eq!(*deadline, Duration::from_millis(50));
        assert!(stop.to_string().contains("429"), "{stop}");
        assert!(
            target.puts().len() < 500,
            "stopped by the deadline, not the script"
        );
        assert!(target.puts().len() > 3, "not by the attempt limit");
    }

    #[tokio::test]
    async fn a_renewed_token_once_accepted_is_renewed_again_when_refused_later() {
        // The renewed token works (a 503 is not a refusal), then expires mid-delivery.
        let target = ScriptedTarget::start(Script::replies([
            Reply::status(401),
            Reply::status(503),
            Reply::status(401),
            Reply::ok(),
        ]))
        .await;
        let mut sender = sender_for(&target, 10, "secret");
        let delivery = sender.deliver(body(), 5, ImportMode::Ignore).await;
        assert!(
            matches!(delivery.verdict, Verdict::Stored { .. }),
            "{:?}",
            delivery.verdict
        );
        assert_eq!(target.token_requests(), 3);
        assert_eq!(target.puts().len(), 4);
    }
}
