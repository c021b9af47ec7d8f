//! The access token: fetched from the contract's token endpoint, reused,
//! renewed shortly before it expires, and renewed once when the target
//! answers 401.
//!
//! `POST` to the token path ([`Endpoint::Token`]) with `grant_type=client_credentials`
//! and scope `manage_configuration read_configuration`, the client
//! authenticated with HTTP Basic (`client_secret_basic`). As RFC 6749 §2.3.1
//! asks, the client id and secret are form-urlencoded before they are joined
//! and base64-encoded, which changes nothing for ids and secrets made of
//! letters, digits and `-._~`.
//!
//! ## Sharing one token between concurrent senders
//! [`TokenClient`] holds the current token behind an async mutex that is also
//! held while a new token is fetched, so concurrent callers never fetch twice
//! (single flight). Each token carries a generation number; a sender that got
//! a 401 asks to [`TokenClient::renew`] *the generation it used*, and when
//! another sender already renewed it the newer token is returned without a
//! fetch. Eight senders hit by the same expiry cause one request to the token
//! endpoint, not eight.
//!
//! ## Keeping secrets secret
//! The client secret ([`ClientSecret`]) and the token ([`AccessToken`]) print
//! as `[redacted]` through `Debug` and `Display`; errors carry statuses and
//! the endpoint's error code, never a secret, a token or a request body. The
//! secret is read from the environment or a file, never from argv.

use std::fmt;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::retry::{parse_retry_after, Outcome};
use super::transport::{endpoint, read_capped, ClientError, TransportError};
use crate::contract::api::{Endpoint, Layout, Params};
use crate::contract::TokenResponse;
pub use crate::secret::{ClientSecret, SecretError, SECRET_ENV};

/// The scopes an import's token asks for.
pub const DEFAULT_SCOPE: &str = "manage_configuration read_configuration";

/// Environment variable holding the client id.
pub const CLIENT_ID_ENV: &str = "FERRY_CLIENT_ID";
/// Default time limit of one token request.
pub const DEFAULT_TOKEN_DEADLINE: Duration = Duration::from_secs(30);
/// A token is renewed this long before it expires, at most...
const RENEW_MARGIN_MAX: Duration = Duration::from_secs(60);
/// ...and at most this fraction of its lifetime (`1/RENEW_MARGIN_DIVISOR`).
const RENEW_MARGIN_DIVISOR: u32 = 10;
/// Longest lifetime believed, in seconds: a larger `expires_in` is clamped
/// (a day is far beyond any real token, and keeps instant arithmetic safe).
const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 60 * 60;
/// Largest error answer of the token endpoint read, in bytes.
const ERROR_BODY_LIMIT: usize = 16 * 1024;
/// Largest token answer read, in bytes.
const TOKEN_BODY_LIMIT: usize = 64 * 1024;

/// A bearer token and the generation it belongs to. Prints as `[redacted]`.
#[derive(Clone)]
pub struct AccessToken {
    /// The token; shared, since every request of a run uses the same one.
    value: Arc<str>,
    /// Which fetch it came from; see [`TokenClient::renew`].
    generation: TokenGeneration,
}

/// Which fetch a token came from: the first token is generation 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenGeneration(pub u64);

impl AccessToken {
    /// The fetch this token came from.
    pub fn generation(&self) -> TokenGeneration {
        self.generation
    }

    /// The token itself, for the Authorization header only.
    pub(crate) fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AccessToken([redacted], generation {})",
            self.generation.0
        )
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why no token could be obtained. Never holds the secret or a token.
/// Cloned to hand one failed fetch to every caller that waited for it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The endpoint refused the client (wrong id or secret, unknown tenant,
    /// scope not granted): retrying will not help.
    #[error(
        "the token endpoint refused the client (HTTP {status}{}): check {CLIENT_ID_ENV}, the client secret and the tenant",
        describe_refusal(.code.as_deref(), .message.as_deref())
    )]
    Refused {
        /// The HTTP status (400, 401, 403, 404, ...).
        status: u16,
        /// The endpoint's machine-readable code (`error_code`, or OAuth's `error`).
        code: Option<String>,
        /// The endpoint's sentence (`error`, or OAuth's `error_description`).
        message: Option<String>,
    },
    /// The endpoint is throttled or failing (429, 5xx): retry later.
    #[error("the token endpoint is unavailable (HTTP {status})")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The endpoint's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The endpoint answered 2xx with something that is not a bearer token.
    #[error("the token endpoint's answer is not a usable bearer token: {reason}")]
    InvalidAnswer {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The endpoint could not be reached.
    #[error("cannot reach the token endpoint")]
    Transport(#[source] TransportError),
}

impl TokenError {
    /// The outcome for the retry policy, when the error is one it knows: a
    /// transport failure or a throttled or failing endpoint. `None` for a
    /// refused client or an unusable answer (fatal).
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            TokenError::Transport(err) => Some(Outcome::Failed(err.kind())),
            TokenError::Unavailable {
                status,
                retry_after,
            } => Some(Outcome::Answered {
                status: *status,
                retry_after: *retry_after,
            }),
            TokenError::Refused { .. } | TokenError::InvalidAnswer { .. } => None,
        }
    }
}

/// `": invalid_client: bad secret"`-style suffix of a refusal.
fn describe_refusal(code: Option<&str>, message: Option<&str>) -> String {
    [code, message]
        .into_iter()
        .flatten()
        .fold(String::new(), |mut out, part| {
            out.push_str(": ");
            out.push_str(part);
            out
        })
}

/// The fields of an error answer of the token endpoint, in either the
/// contract's shape (`error`, `error_code`) or OAuth's (`error`,
/// `error_description`).
#[derive(Debug, Deserialize)]
struct TokenErrorAnswer {
    /// The contract's sentence, or OAuth's code.
    error: Option<String>,
    /// The contract's code.
    error_code: Option<String>,
    /// OAuth's sentence.
    error_description: Option<String>,
}

/// The cached token and when to renew it.
#[derive(Debug, Clone)]
struct Cached {
    /// The token.
    token: AccessToken,
    /// From this instant on the token is renewed before use.
    renew_at: Instant,
}

impl Cached {
    /// Caches `token`, valid for `expires_in` from `obtained`.
    fn new(token: AccessToken, obtained: Instant, expires_in: Duration) -> Self {
        Cached {
            token,
            renew_at: obtained + renew_after(expires_in),
        }
    }

    /// True while the token may be used without renewing it.
    fn is_fresh(&self, now: Instant) -> bool {
        now < self.renew_at
    }
}

/// How long after it was obtained a token valid for `expires_in` is renewed:
/// a margin of a tenth of its life, at most a minute, before it expires.
fn renew_after(expires_in: Duration) -> Duration {
    let margin = (expires_in / RENEW_MARGIN_DIVISOR).min(RENEW_MARGIN_MAX);
    expires_in - margin
}

/// Fetches, caches and renews the token of one tenant.
#[derive(Debug)]
pub struct TokenClient {
    /// The shared HTTP client (one connection pool for the whole run).
    http: reqwest::Client,
    /// The token path ([`Endpoint::Token`] at the layout) under the base URL.
    url: Url,
    /// The OAuth2 client id (not a secret).
    client_id: String,
    /// The OAuth2 client secret.
    secret: ClientSecret,
    /// The scope asked for.
    scope: String,
    /// The current token, if any, and the last fetch's failure. Held
    /// across a fetch: single flight.
    cached: Mutex<Slot>,
    /// Fetches finished so far; a caller reads it before waiting for the
    /// lock, to tell whether a fetch ended while it waited.
    fetches: AtomicU64,
    /// Time limit of one token request.
    deadline: Duration,
}

/// What the token lock guards.
#[derive(Debug, Default)]
struct Slot {
    /// The current token.
    token: Option<Cached>,
    /// The last fetch's failure and that fetch's number, handed to the
    /// callers that waited for it.
    failed: Option<(u64, TokenError)>,
}

impl TokenClient {
    /// A client for the token endpoint of `tenant` under `base` at
    /// `layout`, asking for scope `manage_configuration read_configuration`.
    /// Fetches nothing yet.
    pub fn new(
        http: reqwest::Client,
        base: &Url,
        (layout, tenant): (Layout, &str),
        client_id: impl Into<String>,
        secret: ClientSecret,
    ) -> Result<Self, ClientError> {
        Ok(TokenClient {
            http,
            url: endpoint(
                base,
                &layout.segments(Endpoint::Token, Params::tenant(tenant)),
            )?,
            client_id: client_id.into(),
            secret,
            scope: DEFAULT_SCOPE.to_string(),
            cached: Mutex::new(Slot::default()),
            fetches: AtomicU64::new(0),
            deadline: DEFAULT_TOKEN_DEADLINE,
        })
    }

    /// The same client with another time limit per token request.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The same client asking for `scope` (space-separated scopes).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The token endpoint's URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The current token, fetching a new one when there is none or it is
    /// about to expire.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let seen = self.fetches.load(Ordering::Acquire);
        let mut slot = self.cached.lock().await;
        if let Some(current) = slot.token.as_ref().filter(|c| c.is_fresh(Instant::now())) {
            return Ok(current.token.clone());
        }
        self.fetch_unless_failed_since(seen, &mut slot).await
    }

    /// Renews the token after the target refused generation `stale` (401).
    /// When the current token is already newer than `stale` it is returned
    /// as it is: another sender renewed it meanwhile.
    pub async fn renew(&self, stale: TokenGeneration) -> Result<AccessToken, TokenError> {
        let seen = self.fetches.load(Ordering::Acquire);
        let mut slot = self.cached.lock().await;
        if let Some(current) = slot
            .token
            .as_ref()
            .filter(|c| c.token.generation > stale && c.is_fresh(Instant::now()))
        {
            return Ok(current.token.clone());
        }
        self.fetch_unless_failed_since(seen, &mut slot).await
    }

    /// Fetches a token into `slot` (whose lock the caller holds), unless a
    /// fetch failed since the caller read `seen` fetches: then that fetch's
    /// error is the answer, so that callers queued behind a hung or
    /// refusing endpoint do not each try it in turn.
    async fn fetch_unless_failed_since(
        &self,
        seen: u64,
        slot: &mut Slot,
    ) -> Result<AccessToken, TokenError> {
        if let Some((number, err)) = &slot.failed {
            if *number > seen {
                return Err(err.clone());
            }
        }
        let result = self.fetch_into(&mut slot.token).await;
        let number = self.fetches.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(token) => {
                slot.failed = None;
                Ok(token)
            }
            Err(err) => {
                slot.failed = Some((number, err.clone()));
                Err(err)
            }
        }
    }

    /// Fetches a token and caches it in `slot` (whose lock the caller holds).
    async fn fetch_into(&self, slot: &mut Option<Cached>) -> Result<AccessToken, TokenError> {
        let generation = TokenGeneration(slot.as_ref().map_or(1, |c| c.token.generation.0 + 1));
        let obtained = Instant::now();
        let answer = self.fetch().await?;
        let expires_in = Duration::from_secs(answer.expires_in.min(MAX_TOKEN_LIFETIME_SECS));
        let token = AccessToken {
            value: Arc::from(answer.access_token),
            generation,
        };
        tracing::debug!(
            generation = generation.0,
            expires_in = answer.expires_in,
            "Obtained an access token."
        );
        *slot = Some(Cached::new(token.clone(), obtained, expires_in));
        Ok(token)
    }

    /// One request to the token endpoint.
    async fn fetch(&self) -> Result<TokenResponse, TokenError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", &self.scope)
            .finish();
        let response = self
            .http
            .post(self.url.clone())
            .basic_auth(
                form_encode(&self.client_id),
                Some(form_encode(self.secret.expose())),
            )
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .timeout(self.deadline)
            .body(body)
            .send()
            .await
            .map_err(|e| TokenError::Transport(TransportError::new(e)))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        if !response.status().is_success() {
            let body = read_capped(response, ERROR_BODY_LIMIT)
                .await
                .unwrap_or_default();
            return Err(refusal(status, retry_after, &body));
        }
        let body = read_capped(response, TOKEN_BODY_LIMIT)
            .await
            .map_err(|e| TokenError::Transport(TransportError::new(e)))?;
        parse_token_answer(&body)
    }
}

/// RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The error for a non-2xx answer of the token endpoint.
fn refusal(status: u16, retry_after: Option<Duration>, body: &[u8]) -> TokenError {
    if status == 429 || status >= 500 {
        return TokenError::Unavailable {
            status,
            retry_after,
        };
    }
    let answer: Option<TokenErrorAnswer> = serde_json::from_slice(body).ok();
    let (code, message) = match answer {
        Some(TokenErrorAnswer {
            error,
            error_code: Some(code),
            ..
        }) => (Some(code), error),
        Some(TokenErrorAnswer {
            error,
            error_description,
            ..
        }) => (error, error_description),
        None => (None, None),
    };
    TokenError::Refused {
        status,
        code,
        message,
    }
}

/// Checks a 2xx answer: a non-empty bearer token.
fn parse_token_answer(body: &[u8]) -> Result<TokenResponse, TokenError> {
    let answer: TokenResponse =
        serde_json::from_slice(body).map_err(|_| TokenError::InvalidAnswer {
            reason: "not a JSON token answer",
        })?;
    if !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::InvalidAnswer {
            reason: "token_type is not bearer",
        });
    }
    if answer.access_token.is_empty() {
        return Err(TokenError::InvalidAnswer {
            reason: "access_token is empty",
        });
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_asks_for_the_configuration_scopes() {
        use crate::contract::api::{SCOPE_MANAGE, SCOPE_READ};
        assert_eq!(DEFAULT_SCOPE, format!("{SCOPE_MANAGE} {SCOPE_READ}"));
    }
    use crate::send::retry::{decide, Decision};
    use crate::send::testing::{Script, ScriptedTarget};

    /// Whether the retry policy retries after `err`.
    fn retried(err: &TokenError) -> bool {
        matches!(
            err.outcome().map(|o| decide(&o)),
            Some(Decision::Retry { .. })
        )
    }

    fn token(generation: u64) -> AccessToken {
        AccessToken {
            value: Arc::from("tok"),
            generation: TokenGeneration(generation),
        }
    }

    #[test]
    fn secrets_and_tokens_never_print() {
        let secret = ClientSecret::new("hunter2");
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
        let token = AccessToken {
            value: Arc::from("eyJsecret"),
            generation: TokenGeneration(3),
        };
        let shown = format!("{token:?} {token}");
        assert!(!shown.contains("eyJ"), "{shown}");
        assert!(shown.contains("generation 3"));
    }

    #[test]
    fn tokens_are_renewed_a_tenth_of_their_life_early_at_most_a_minute() {
        assert_eq!(
            renew_after(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        assert_eq!(
            renew_after(Duration::from_secs(300)),
            Duration::from_secs(270)
        );
        assert_eq!(renew_after(Duration::from_secs(10)), Duration::from_secs(9));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn a_cached_token_is_fresh_until_its_renewal_time() {
        let now = Instant::now();
        let cached = Cached::new(token(1), now, Duration::from_secs(100));
        assert!(cached.is_fresh(now));
        assert!(cached.is_fresh(now + Duration::from_secs(89)));
        assert!(!cached.is_fresh(now + Duration::from_secs(90)));
        assert!(!cached.is_fresh(now + Duration::from_secs(101)));
        // A token that expires at once is never fresh.
        assert!(!Cached::new(token(1), now, Duration::ZERO).is_fresh(now));
    }

    #[test]
    fn refusals_keep_the_endpoint_code_and_no_body_else() {
        let err = refusal(
            401,
            None,
            br#"{"error":"client authentication failed","status_code":401,"error_code":"invalid_client"}"#,
        );
        let text = err.to_string();
        assert!(
            text.contains("HTTP 401: invalid_client: client authentication failed"),
            "{text}"
        );
        assert!(!retried(&err));
        let oauth = refusal(
            400,
            None,
            br#"{"error":"invalid_scope","error_description":"no"}"#,
        );
        assert!(
            oauth.to_string().contains("HTTP 400: invalid_scope: no"),
            "{oauth}"
        );
        let html = refusal(403, None, b"<html>secret-ish page</html>");
        assert!(!html.to_string().contains("html"));
        let busy = refusal(503, Some(Duration::from_secs(2)), b"");
        assert!(retried(&busy));
        assert!(matches!(
            busy,
            TokenError::Unavailable {
                status: 503,
                retry_after: Some(_)
            }
        ));
    }

    #[test]
    fn token_answers_must_be_non_empty_bearer_tokens() {
        let ok = br#"{"access_token":"t","token_type":"Bearer","expires_in":60}"#;
        assert_eq!(parse_token_answer(ok).unwrap().expires_in, 60);
        for bad in [
            &br#"{"access_token":"t","token_type":"mac","expires_in":60}"#[..],
            br#"{"access_token":"","token_type":"bearer","expires_in":60}"#,
            br#"{"token_type":"bearer","expires_in":60}"#,
            br#"{"access_token":"t","token_type":"bearer","expires_in":-1}"#,
            b"not json",
            b"",
        ] {
            assert!(
                matches!(
                    parse_token_answer(bad),
                    Err(TokenError::InvalidAnswer { .. })
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn client_for(target: &ScriptedTarget, secret: &str) -> TokenClient {
        // The scripted endpoint accepts "secret" unless told otherwise.
        TokenClient::new(
            reqwest::Client::new(),
            &target.base(),
            (Layout::default(), "acme"),
            "ferry client",
            ClientSecret::new(secret),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn fetches_once_and_reuses_the_token() {
        let script = Script {
            secret: "s3cr:t+%".to_string(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let tokens = client_for(&target, "s3cr:t+%");
        assert_eq!(
            tokens.url().path(),
            crate::contract::api::TOKEN.path(["acme"])
        );
        let first = tokens.token().await.unwrap();
        let again = tokens.token().await.unwrap();
        assert_eq!(first.generation(), TokenGeneration(1));
        assert_eq!(again.generation(), TokenGeneration(1));
        assert_eq!(target.token_requests(), 1);
        // The endpoint saw client_secret_basic with form-encoded parts, the
        // grant and the scope.
        let seen = target.last_token_request().unwrap();
        assert_eq!(seen.basic_user.as_deref(), Some("ferry+client"));
        assert_eq!(seen.basic_password.as_deref(), Some("s3cr%3At%2B%25"));
        assert_eq!(
            seen.form.get("grant_type").map(String::as_str),
            Some("client_credentials")
        );
        assert_eq!(
            seen.form.get("scope").map(String::as_str),
            Some("manage_configuration read_configuration")
        );
    }

    #[tokio::test]
    async fn concurrent_renewals_of_one_generation_fetch_once() {
        let target = ScriptedTarget::start(Script::default()).await;
        let tokens = Arc::new(client_for(&target, "secret"));
        let stale = tokens.token().await.unwrap().generation();
        let renewals: Vec<_> = (0..8)
            .map(|_| {
                let tokens = Arc::clone(&tokens);
                tokio::spawn(async move { tokens.renew(stale).await.unwrap().generation() })
            })
            .collect();
        for renewal in renewals {
            assert_eq!(renewal.await.unwrap(), TokenGeneration(2));
        }
        assert_eq!(target.token_requests(), 2);
        // Renewing an older generation returns the current token.
        assert_eq!(
            tokens.renew(stale).await.unwrap().generation(),
            TokenGeneration(2)
        );
        assert_eq!(target.token_requests(), 2);
        // Renewing the current generation forces a fetch.
        assert_eq!(
            tokens.renew(TokenGeneration(2)).await.unwrap().generation(),
            TokenGeneration(3)
        );
        assert_eq!(target.token_requests(), 3);
    }

    #[tokio::test]
    async fn a_short_lived_token_is_renewed_before_use() {
        let script = Script {
            token_expires_in: 0,
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let tokens = client_for(&target, "secret");
        tokens.token().await.unwrap();
        tokens.token().await.unwrap();
        assert_eq!(target.token_requests(), 2);
    }

    #[tokio::test]
    async fn an_absurd_lifetime_is_clamped_not_trusted() {
        let script = Script {
            token_expires_in: u64::MAX,
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let tokens = client_for(&target, "secret");
        tokens.token().await.unwrap();
        let renew_at = tokens.cached.lock().await.token.as_ref().unwrap().renew_at;
        assert!(renew_at <= Instant::now() + Duration::from_secs(MAX_TOKEN_LIFETIME_SECS));
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_without_echoing_it() {
        let target = ScriptedTarget::start(Script::default()).await;
        let tokens = client_for(&target, "wrong-secret");
        let err = tokens.token().await.unwrap_err();
        assert!(
            matches!(err, TokenError::Refused { status: 401, .. }),
            "{err:?}"
        );
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("wrong-secret"), "{shown}");
    }

    #[tokio::test]
    async fn one_hung_fetch_answers_every_caller_that_waited_for_it() {
        let target = ScriptedTarget::start(Script {
            token_hangs: true,
            ..Script::default()
        })
        .await;
        let tokens =
            Arc::new(client_for(&target, "secret").with_deadline(Duration::from_millis(200)));
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.token().await })
            })
            .collect();
        for caller in callers {
            let err = caller.await.unwrap().unwrap_err();
            assert!(retried(&err), "{err:?}");
        }
        assert_eq!(target.token_requests(), 1, "one fetch for the eight");
        // A later call (after the failure) tries again.
        assert!(tokens.token().await.is_err());
        assert_eq!(target.token_requests(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_a_retryable_transport_error() {
        let base = ScriptedTarget::unused_base().await;
        let tokens = TokenClient::new(
            reqwest::Client::new(),
            &base,
            (Layout::default(), "acme"),
            "id",
            ClientSecret::new("secret"),
        )
        .unwrap();
        let err = tokens.token().await.unwrap_err();
        assert!(retried(&err), "{err:?}");
    }
}
