//! The transport: one HTTP client for the whole run, sending import bodies to
//! the target and reporting what happened, without deciding anything.
//!
//! [`TargetClient::put_batch`] sends one already-serialised body with a `PUT`
//! to the configuration path ([`Endpoint::Configuration`] at the layout of
//! [`ClientConfig::layout`]) with `?mode=...` and
//! the current bearer token, and returns a [`PutResponse`]: the status, the
//! headers the retry policy needs (`Retry-After`), the reference server's
//! `Ferry-Users-Existing` count, and the contract's [`ErrorBody`] when there
//! is one. Whether to retry, split or stop is [`super::retry::decide`]'s call.
//!
//! ## Choices
//! - One `reqwest::Client` (rustls, certificate verification on) and so one
//!   connection pool, sized for the run's concurrency, shared with the token
//!   client.
//! - Redirects are not followed: a `PUT` must reach the URL given, and a 3xx
//!   is reported as fatal by the policy.
//! - Request bodies are never logged or copied into errors: they hold
//!   password hashes. Error answers are read up to a limit, so a broken
//!   target cannot make ferry buffer an endless body.
//! - Bodies are [`Bytes`], so resending one after a failure costs no copy.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::redirect;
use tokio::time::Instant;
use url::Url;

use super::retry::{decide, parse_retry_after, Decision, Outcome, TransportKind};
use super::token::{
    ClientSecret, TokenClient, TokenError, TokenGeneration, DEFAULT_SCOPE, DEFAULT_TOKEN_DEADLINE,
};
use super::transport::{endpoint, read_capped, ClientError, TransportError};
use crate::contract::api::{
    Endpoint, Layout, Params, NEXT_AFTER_HEADER, USERS_CHANGED_HEADER, USERS_EXISTING_HEADER,
};
use crate::contract::{ErrorBody, ImportBody, ImportMode};

/// Default limit on establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on a whole request, answer included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest error answer read, in bytes; the rest is discarded.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// How much of a non-contract error answer is kept for messages, in characters.
const ERROR_TEXT_KEEP: usize = 300;

/// The contract's answer to an import that stored the batch: `204 No Content`.
const CONTRACT_SUCCESS: u16 = 204;

/// Everything needed to talk to one tenant of a target.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The target's base URL (`http://127.0.0.1:8080`, or with a path prefix).
    pub base: Url,
    /// The tenant id (`{tid}` in the paths; at the `vanity` layout the
    /// base URL's host names it instead).
    pub tenant: String,
    /// Where the target serves each endpoint ([`Layout`]).
    pub layout: Layout,
    /// The OAuth2 client id.
    pub client_id: String,
    /// The OAuth2 client secret.
    pub secret: ClientSecret,
    /// Limit on establishing a connection.
    pub connect_timeout: Duration,
    /// Limit on a whole request, answer included.
    pub request_timeout: Duration,
    /// Idle connections kept per host: the run's concurrency, so that every
    /// sender finds a warm connection.
    pub pool_size: usize,
    /// The scopes the token asks for, space-separated: an import's
    /// `manage_configuration read_configuration` by default.
    pub scope: String,
}

impl ClientConfig {
    /// A configuration with the default layout, default timeouts and a pool
    /// for 8 senders.
    pub fn new(
        base: Url,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        secret: ClientSecret,
    ) -> Self {
        ClientConfig {
            base,
            tenant: tenant.into(),
            layout: Layout::default(),
            client_id: client_id.into(),
            secret,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            pool_size: 8,
            scope: DEFAULT_SCOPE.to_string(),
        }
    }
}

/// A request of the import could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No answer from the target.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// No token to send with.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The answer could not be written to a temporary file.
    #[error("cannot write the answer to a temporary file ({0})")]
    Spool(std::io::ErrorKind),
}

impl SendError {
    /// The outcome for the retry policy, when the error is one it knows: a
    /// transport failure (of the import or of the token request) or a
    /// throttled token endpoint. `None` for a refused token (fatal).
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            SendError::Transport(err) => Some(Outcome::Failed(err.kind())),
            SendError::Token(err) => err.outcome(),
            SendError::Spool(_) => Some(Outcome::Failed(TransportKind::Other)),
        }
    }
}

/// The export could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// No answer or no token.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The target refused the export.
    #[error("the target refused the export (HTTP {status}{})", error.as_ref().map(|e| format!(": {}", e.error)).unwrap_or_default())]
    Status {
        /// The HTTP status.
        status: u16,
        /// The contract's error body, if the answer had one.
        error: Option<ErrorBody>,
    },
    /// The answer is not an import body.
    #[error("the target's export is not a valid import body")]
    Decode(#[source] serde_json::Error),
}

/// What the target answered to one `PUT` of an import body.
#[derive(Debug, Clone)]
pub struct PutResponse {
    /// The HTTP status.
    pub status: u16,
    /// `Retry-After`, converted to a delay (see [`parse_retry_after`]).
    pub retry_after: Option<Duration>,
    /// `Ferry-Users-Existing` and `Ferry-Users-Changed` on a success: how
    /// many users of the request the target already had, and how many of
    /// those differed. `None` when the target does not say (real tenants
    /// don't).
    pub existing: Option<Existing>,
    /// The contract's error body of an error answer.
    pub error: Option<ErrorBody>,
    /// The start of an error answer that is not the contract's error body
    /// (a proxy's HTML page, say), for messages.
    pub error_text: Option<String>,
    /// `Content-Type` of the answer, to say what answered when it is not the contract.
    pub content_type: Option<String>,
    /// The token generation the request carried: what to renew on a 401.
    pub token: TokenGeneration,
    /// From sending the request to reading the answer, for latency stats.
    pub elapsed: Duration,
}

impl PutResponse {
    /// The outcome for the retry policy.
    pub fn outcome(&self) -> Outcome {
        Outcome::Answered {
            status: self.status,
            retry_after: self.retry_after,
        }
    }

    /// What the retry policy says to do.
    pub fn decision(&self) -> Decision {
        decide(&self.outcome())
    }

    /// The target's reason for an error, for the rejects file and messages:
    /// the error body's sentence and code, or the start of the raw answer.
    pub fn reason(&self) -> String {
        if (200..300).contains(&self.status) && self.status != CONTRACT_SUCCESS {
            // What answered in the target's place: status, content type, first bytes.
            let content_type = self.content_type.as_deref().unwrap_or("no content type");
            let text = self.error_text.as_deref().unwrap_or("an empty body");
            return format!("HTTP {} ({content_type}): {text}", self.status);
        }
        match (&self.error, &self.error_text) {
            (Some(body), _) => format!("{} ({})", body.error, body.error_code),
            (None, Some(text)) => format!("HTTP {}: {text}", self.status),
            (None, None) => format!("HTTP {}", self.status),
        }
    }
}

/// What a read ([`TargetClient::get`]) got: the answer as the retry policy
/// sees it, and on a 200 the body and ferry's paging header.
#[derive(Debug)]
pub struct GetResponse {
    /// Status, `Retry-After`, error body and token generation, as for an import.
    pub answer: PutResponse,
    /// The body of a 200 (empty otherwise, or when spooled).
    pub body: Bytes,
    /// The body of a 200 without `Ferry-Next-After`, when asked to spool
    /// it: an unnamed temporary file (0600, gone when closed), rewound.
    pub spooled: Option<std::fs::File>,
    /// `Ferry-Next-After` of a 200: the cursor of the next page of a paged
    /// export, when the target pages it (`ferry serve`).
    pub next_after: Option<String>,
}

/// The client of one tenant of a target: imports and exports over one
/// connection pool, with the token handled.
#[derive(Debug)]
pub struct TargetClient {
    /// The HTTP client (shared with `tokens`).
    http: reqwest::Client,
    /// The target's base URL, which every endpoint's path is appended to.
    base: Url,
    /// Where the target serves each endpoint.
    layout: Layout,
    /// The tenant (`{tid}`).
    tenant: String,
    /// The configuration path ([`Endpoint::Configuration`]) under the base URL,
    /// without query.
    configuration_url: Url,
    /// Fetches, caches and renews the bearer token.
    tokens: TokenClient,
}

impl TargetClient {
    /// Builds the HTTP client and the token client. Fetches nothing yet.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(config.pool_size.max(1))
            .tcp_nodelay(true)
            .redirect(redirect::Policy::none())
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Http)?;
        let configuration_url = endpoint(
            &config.base,
            &config
                .layout
                .segments(Endpoint::Configuration, Params::tenant(&config.tenant)),
        )?;
        let tokens = TokenClient::new(
            http.clone(),
            &config.base,
            (config.layout, &config.tenant),
            config.client_id,
            config.secret,
        )?
        .with_deadline(config.request_timeout.min(DEFAULT_TOKEN_DEADLINE))
        .with_scope(config.scope);
        Ok(TargetClient {
            http,
            base: config.base,
            layout: config.layout,
            tenant: config.tenant,
            configuration_url,
            tokens,
        })
    }

    /// The URL of `endpoint` of pool `pool` (and user `user`, for
    /// [`Endpoint::User`]) of this client's tenant, at its layout.
    pub fn url(&self, which: Endpoint, pool: &str, user: &str) -> Result<Url, ClientError> {
        let params = Params::user(&self.tenant, pool, user);
        endpoint(&self.base, &self.layout.segments(which, params))
    }

    /// The URL of schema `schema` ([`Endpoint::Schema`]) of this client's
    /// tenant, at its layout.
    pub fn schema_url(&self, schema: &str) -> Result<Url, ClientError> {
        let params = Params::schema(&self.tenant, schema);
        endpoint(&self.base, &self.layout.segments(Endpoint::Schema, params))
    }

    /// `GET` of `url` with the current token: one attempt of a read. Any
    /// HTTP status is an `Ok`; `Err` means no answer (or no token). The body
    /// of a 200 is read whole (callers ask for pages), or with `spool`, when
    /// the answer is not a page of ferry's paged export (no
    /// `Ferry-Next-After`: perhaps a whole dump), streamed to a temporary
    /// file.
    pub async fn get(&self, url: Url, spool: bool) -> Result<GetResponse, SendError> {
        self.read(self.http.get(url), spool).await
    }

    /// `POST` of the JSON `body` to `url` with the current token, for an
    /// endpoint that answers a read (`systemGetUserByKey`): one attempt,
    /// answered like [`TargetClient::get`]. The body is never logged.
    pub async fn post_read(&self, url: Url, body: Bytes) -> Result<GetResponse, SendError> {
        let request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        self.read(request, false).await
    }

    /// One attempt of a read: `request` sent with the current token.
    async fn read(
        &self,
        request: reqwest::RequestBuilder,
        spool: bool,
    ) -> Result<GetResponse, SendError> {
        let token = self.tokens.token().await?;
        let started = Instant::now();
        let response = request
            .bearer_auth(token.expose())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(TransportError::new)?;
        let (status, headers, content_type) = head(&response);
        let next_after = headers
            .get(NEXT_AFTER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (mut body, mut spooled, mut error, mut error_text) = (Bytes::new(), None, None, None);
        if status != 200 {
            (error, error_text) = error_answer(response).await;
        } else if spool && next_after.is_none() {
            spooled = Some(spool_body(response).await?);
        } else {
            body = response.bytes().await.map_err(TransportError::new)?;
        }
        let elapsed = started.elapsed();
        tracing::debug!(
            status,
            bytes = body.len(),
            elapsed_ms = elapsed.as_millis() as u64,
            "Target answered a read."
        );
        Ok(GetResponse {
            answer: PutResponse {
                status,
                retry_after: retry_after(&headers),
                existing: None,
                error,
                error_text,
                content_type,
                token: token.generation(),
                elapsed,
            },
            body,
            spooled,
            next_after,
        })
    }

    /// The token client, for renewing after a 401 ([`TokenClient::renew`]
    /// with [`PutResponse::token`]) and for fetching the first token early.
    pub fn tokens(&self) -> &TokenClient {
        &self.tokens
    }

    /// The import URL for `mode`.
    pub fn import_url(&self, mode: ImportMode) -> Url {
        let mut url = self.configuration_url.clone();
        url.query_pairs_mut().append_pair("mode", mode.as_str());
        url
    }

    /// Sends one import body (already serialised JSON) and reports the
    /// answer. Any HTTP status is an `Ok`; `Err` means no answer (or no token).
    pub async fn put_batch(&self, body: Bytes, mode: ImportMode) -> Result<PutResponse, SendError> {
        let token = self.tokens.token().await?;
        let size = body.len();
        let started = Instant::now();
        let response = self
            .http
            .put(self.import_url(mode))
            .bearer_auth(token.expose())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(TransportError::new)?;
        let (status, headers, content_type) = head(&response);
        let (error, error_text) = if status == CONTRACT_SUCCESS {
            // Read (and drop) any body so that the connection is reused.
            read_capped(response, ERROR_BODY_LIMIT)
                .await
                .map_err(TransportError::new)?;
            (None, None)
        } else {
            // An error, or a success that is not the contract's: kept for the message.
            error_answer(response).await
        };
        let elapsed = started.elapsed();
        tracing::debug!(
            status,
            bytes = size,
            elapsed_ms = elapsed.as_millis() as u64,
            "Target answered an import request."
        );
        Ok(PutResponse {
            status,
            retry_after: retry_after(&headers),
            existing: existing(&headers),
            error,
            error_text,
            content_type,
            token: token.generation(),
            elapsed,
        })
    }

    /// Fetches the tenant's whole dump (`GET` of the configuration), renewing
    /// the token once on a 401. Meant for tests and checks, not production
    /// tenants: the answer is read whole.
    pub async fn export(&self) -> Result<ImportBody, ExportError> {
        self.export_query(&[]).await
    }

    /// Fetches one user with its sub-records through ferry's extension of
    /// the export (`?pool_id=&user_id=`): `None` when the target does not
    /// hold it.
    pub async fn export_user(
        &self,
        pool: &str,
        id: uuid::Uuid,
    ) -> Result<Option<ImportBody>, ExportError> {
        let body = self
            .export_query(&[("pool_id", pool), ("user_id", &id.to_string())])
            .await?;
        Ok(body.users.iter().any(|u| u.id == id).then_some(body))
    }

    /// `GET` of the configuration with `query`, renewing the token once on a 401.
    async fn export_query(&self, query: &[(&str, &str)]) -> Result<ImportBody, ExportError> {
        let mut url = self.configuration_url.clone();
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut token = self.tokens.token().await.map_err(SendError::from)?;
        let mut renewed = false;
        loop {
            let response = self
                .http
                .get(url.clone())
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| SendError::from(TransportError::new(e)))?;
            let status = response.status().as_u16();
            if status == 401 && !renewed {
                renewed = true;
                token = self
                    .tokens
                    .renew(token.generation())
                    .await
                    .map_err(SendError::from)?;
                continue;
            }
            if !response.status().is_success() {
                let (error, _) = error_answer(response).await;
                return Err(ExportError::Status { status, error });
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| SendError::from(TransportError::new(e)))?;
            return serde_json::from_slice(&body).map_err(ExportError::Decode);
        }
    }
}

/// The contract error body of an error answer, or else the start of its text.
/// A body that cannot be read is treated as absent: the status decides.
async fn error_answer(response: reqwest::Response) -> (Option<ErrorBody>, Option<String>) {
    let body = read_capped(response, ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<ErrorBody>(&body) {
        return (Some(error), None);
    }
    let text: String = String::from_utf8_lossy(&body)
        .chars()
        .filter(|c| !c.is_control())
        .take(ERROR_TEXT_KEEP)
        .collect();
    let text = text.trim();
    (None, (!text.is_empty()).then(|| text.to_string()))
}

/// Streams `response`'s body into an unnamed temporary file, rewound. A
/// failure to write the file is reported as a transport failure of the
/// request (it is retried, and bounded by the attempt limit).
async fn spool_body(mut response: reqwest::Response) -> Result<std::fs::File, SendError> {
    use std::io::{Seek, Write};
    let local = |e: std::io::Error| {
        tracing::warn!(error = %e, "Cannot spool the export to a temporary file.");
        SendError::Spool(e.kind())
    };
    let mut file = tempfile::tempfile().map_err(local)?;
    while let Some(chunk) = response.chunk().await.map_err(TransportError::new)? {
        file.write_all(&chunk).map_err(local)?;
    }
    file.rewind().map_err(local)?;
    Ok(file)
}

/// An answer's status, headers and content type.
fn head(response: &reqwest::Response) -> (u16, HeaderMap, Option<String>) {
    let headers = response.headers().clone();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status().as_u16(), headers, content_type)
}

/// `Retry-After` as a delay from now.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// What a target said of the users of a request it stored (a ferry
/// extension, see [`crate::contract::api::USERS_EXISTING_HEADER`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Existing {
    /// Users of the request it already had.
    pub users: u32,
    /// Of those, users whose stored entry differed from the request's.
    pub changed: u32,
}

/// The existing-users headers; `None` when `Ferry-Users-Existing` is absent
/// or unreadable. A changed count that is absent, unreadable or larger than
/// the existing count reads as 0: nothing is claimed changed that the target
/// did not say.
fn existing(headers: &HeaderMap) -> Option<Existing> {
    let count =
        |name: &str| -> Option<u32> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    let users = count(USERS_EXISTING_HEADER)?;
    let changed = count(USERS_CHANGED_HEADER)
        .filter(|c| *c <= users)
        .unwrap_or(0);
    Some(Existing { users, changed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::retry::{FatalReason, RetryCause, TransportKind};
    use crate::send::testing::{Reply, Script, ScriptedTarget};

    /// Whether the retry policy retries after `err`.
    fn retried(err: &SendError) -> bool {
        matches!(
            err.outcome().map(|o| decide(&o)),
            Some(Decision::Retry { .. })
        )
    }

    fn client(target: &ScriptedTarget) -> TargetClient {
        let mut config =
            ClientConfig::new(target.base(), "acme", "ferry", ClientSecret::new("secret"));
        config.request_timeout = Duration::from_secs(5);
        config.connect_timeout = Duration::from_secs(5);
        TargetClient::new(config).unwrap()
    }

    fn body() -> Bytes {
        Bytes::from_static(br#"{"users":[],"user_credentials":[],"user_identifiers":[],"user_verifiable_addresses":[]}"#)
    }

    #[test]
    fn users_existing_is_read_when_present_and_sane() {
        let mut headers = HeaderMap::new();
        assert_eq!(existing(&headers), None);
        headers.insert(USERS_CHANGED_HEADER, "2".parse().unwrap());
        assert_eq!(existing(&headers), None, "changed alone says nothing");
        headers.insert(USERS_EXISTING_HEADER, "17".parse().unwrap());
        let seen = |users, changed| Some(Existing { users, changed });
        assert_eq!(existing(&headers), seen(17, 2));
        headers.insert(USERS_CHANGED_HEADER, "18".parse().unwrap());
        assert_eq!(
            existing(&headers),
            seen(17, 0),
            "more changed than existing"
        );
        headers.insert(USERS_CHANGED_HEADER, "x".parse().unwrap());
        assert_eq!(existing(&headers), seen(17, 0));
        headers.insert(USERS_EXISTING_HEADER, "-3".parse().unwrap());
        assert_eq!(existing(&headers), None);
        headers.insert(USERS_EXISTING_HEADER, "many".parse().unwrap());
        assert_eq!(existing(&headers), None);
    }

    #[tokio::test]
    async fn a_successful_put_carries_mode_type_token_and_existing_count() {
        let target = ScriptedTarget::start(Script::replies([Reply::ok_existing(3)])).await;
        let client = client(&target);
        let answer = client.put_batch(body(), ImportMode::Fail).await.unwrap();
        assert_eq!(answer.status, 204);
        assert_eq!(answer.decision(), Decision::Success);
        assert_eq!(answer.existing.map(|e| e.users), Some(3));
        assert_eq!(answer.error, None);
        let seen = target.puts();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].path,
            crate::contract::api::CONFIGURATION.path(["acme"])
        );
        assert_eq!(seen[0].query.as_deref(), Some("mode=fail"));
        assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
        assert!(seen[0]
            .bearer
            .as_deref()
            .is_some_and(|t| t.starts_with("token-")));
        assert_eq!(seen[0].body_len, body().len());
    }

    #[tokio::test]
    async fn error_answers_come_back_with_their_error_body_and_decision() {
        let target = ScriptedTarget::start(Script::replies([
            Reply::status(429).retry_after("3"),
            Reply::status(503),
            Reply::error(422, "invalid_record", "users[4].status is not a status"),
            Reply::error(409, "conflict", "user exists"),
            Reply::error(403, "forbidden", "wrong tenant"),
            Reply::status(502).text("<html><body>Bad gateway</body></html>"),
        ]))
        .await;
        let client = client(&target);
        let mut answers = Vec::new();
        for _ in 0..6 {
            answers.push(client.put_batch(body(), ImportMode::Ignore).await.unwrap());
        }
        assert_eq!(
            answers[0].decision(),
            Decision::Retry {
                cause: RetryCause::Throttled(429),
                after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            answers[1].decision(),
            Decision::Retry {
                cause: RetryCause::Throttled(503),
                after: None
            }
        );
        assert_eq!(answers[2].decision(), Decision::Split);
        let error = answers[2].error.as_ref().unwrap();
        assert_eq!(error.error_code, "invalid_record");
        assert_eq!(
            answers[2].reason(),
            "users[4].status is not a status (invalid_record)"
        );
        assert_eq!(answers[3].decision(), Decision::Conflict);
        assert_eq!(
            answers[4].decision(),
            Decision::Fatal {
                status: 403,
                reason: FatalReason::Forbidden
            }
        );
        assert_eq!(answers[5].error, None);
        assert_eq!(
            answers[5].reason(),
            "HTTP 502: <html><body>Bad gateway</body></html>"
        );
        // One token served all six requests.
        assert_eq!(target.token_requests(), 1);
    }

    #[tokio::test]
    async fn a_401_is_reported_with_the_generation_to_renew() {
        let target =
            ScriptedTarget::start(Script::replies([Reply::status(401), Reply::ok()])).await;
        let client = client(&target);
        let refused = client.put_batch(body(), ImportMode::Ignore).await.unwrap();
        assert_eq!(refused.decision(), Decision::Renew);
        let renewed = client.tokens().renew(refused.token).await.unwrap();
        assert!(renewed.generation() > refused.token);
        let answer = client.put_batch(body(), ImportMode::Ignore).await.unwrap();
        assert_eq!(answer.status, 204);
        assert_eq!(answer.token, renewed.generation());
        let seen = target.puts();
        assert_ne!(seen[0].bearer, seen[1].bearer);
        assert_eq!(target.token_requests(), 2);
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let target =
            ScriptedTarget::start(Script::replies([Reply::status(308).location("/elsewhere")]))
                .await;
        let client = client(&target);
        let answer = client.put_batch(body(), ImportMode::Ignore).await.unwrap();
        assert!(matches!(
            answer.decision(),
            Decision::Fatal {
                reason: FatalReason::Redirected,
                ..
            }
        ));
        assert_eq!(target.puts().len(), 1);
    }

    #[tokio::test]
    async fn a_closed_connection_is_a_retryable_transport_error() {
        let target = ScriptedTarget::start(Script::replies([Reply::Drop, Reply::ok()])).await;
        let client = client(&target);
        let err = client
            .put_batch(body(), ImportMode::Ignore)
            .await
            .unwrap_err();
        assert!(retried(&err), "{err:?}");
        assert!(
            matches!(err.outcome(), Some(Outcome::Failed(TransportKind::Closed))),
            "{err:?}"
        );
        let answer = client.put_batch(body(), ImportMode::Ignore).await.unwrap();
        assert_eq!(answer.status, 204);
    }

    #[tokio::test]
    async fn a_slow_answer_is_a_timeout() {
        let target = ScriptedTarget::start(Script::replies([Reply::Hang])).await;
        let mut config =
            ClientConfig::new(target.base(), "acme", "ferry", ClientSecret::new("secret"));
        config.request_timeout = Duration::from_millis(200);
        let client = TargetClient::new(config).unwrap();
        let err = client
            .put_batch(body(), ImportMode::Ignore)
            .await
            .unwrap_err();
        assert_eq!(
            err.outcome(),
            Some(Outcome::Failed(TransportKind::Timeout)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_target_is_a_connect_error() {
        let base = ScriptedTarget::unused_base().await;
        let client = TargetClient::new(ClientConfig::new(
            base,
            "acme",
            "ferry",
            ClientSecret::new("secret"),
        ))
        .unwrap();
        let err = client
            .put_batch(body(), ImportMode::Ignore)
            .await
            .unwrap_err();
        assert!(retried(&err));
        assert_eq!(
            err.outcome(),
            Some(Outcome::Failed(TransportKind::Connect)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_client_is_not_retryable() {
        let target = ScriptedTarget::start(Script::default()).await;
        let config = ClientConfig::new(target.base(), "acme", "ferry", ClientSecret::new("not-it"));
        let client = TargetClient::new(config).unwrap();
        let err = client
            .put_batch(body(), ImportMode::Ignore)
            .await
            .unwrap_err();
        assert!(!retried(&err));
        assert_eq!(err.outcome(), None);
        assert!(target.puts().is_empty());
    }

    #[tokio::test]
    async fn export_returns_the_stored_body_and_renews_once() {
        let stored = ImportBody::default();
        let script = Script {
            export: Some(serde_json::to_vec(&stored).unwrap()),
            export_401_first: true,
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let client = client(&target);
        assert_eq!(client.export().await.unwrap(), stored);
        assert_eq!(target.token_requests(), 2);
    }

    #[tokio::test]
    async fn export_refusals_are_typed() {
        let target = ScriptedTarget::start(Script::default()).await;
        let client = client(&target);
        let err = client.export().await.unwrap_err();
        assert!(
            matches!(err, ExportError::Status { status: 404, .. }),
            "{err:?}"
        );
    }
}
