//! A scripted stand-in for the target, for the transport's unit tests.
//!
//! It serves the token endpoint, the configuration path, `users/by_key` and
//! the `DELETE` of a user ([`crate::contract::api`], default layout) on
//! `127.0.0.1:0`, answers `PUT`s (and by-key reads and deletes) from a script (status, headers, body,
//! dropped connection, hang), records what it saw, and stops when dropped.
//! It is deliberately not `ferry serve`: these tests need failures on demand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use axum::Router;
use base64::Engine as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

use crate::contract::api::{self, SCOPE_MANAGE, SCOPE_READ, USERS_EXISTING_HEADER};

/// One scripted answer to a `PUT`.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with a status, headers and an optional body.
    Answer {
        /// The status.
        status: u16,
        /// Extra headers.
        headers: Vec<(&'static str, String)>,
        /// Content type and body.
        body: Option<(&'static str, String)>,
    },
    /// Close the connection without answering.
    Drop,
    /// Never answer (until the test ends).
    Hang,
}

impl Reply {
    /// 204.
    pub fn ok() -> Reply {
        Reply::status(204)
    }

    /// 204 with `Ferry-Users-Existing: n`.
    pub fn ok_existing(n: u32) -> Reply {
        Reply::status(204).header(USERS_EXISTING_HEADER, n.to_string())
    }

    /// A bare status.
    pub fn status(status: u16) -> Reply {
        Reply::Answer {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A status with the contract's error body.
    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        let body = serde_json::json!({
            "error": message, "status_code": status, "error_code": code,
        });
        Reply::Answer {
            status,
            headers: Vec::new(),
            body: Some(("application/json", body.to_string())),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: String) -> Reply {
        if let Reply::Answer { headers, .. } = &mut self {
            headers.push((name, value));
        }
        self
    }

    /// Adds `Retry-After`.
    pub fn retry_after(self, value: &str) -> Reply {
        self.header("retry-after", value.to_string())
    }

    /// Adds `Location`.
    pub fn location(self, value: &str) -> Reply {
        self.header("location", value.to_string())
    }

    /// A status with a JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::Answer {
            status,
            headers: Vec::new(),
            body: Some(("application/json", body.to_string())),
        }
    }

    /// Sets a plain-text body.
    pub fn text(mut self, text: &str) -> Reply {
        if let Reply::Answer { body, .. } = &mut self {
            *body = Some(("text/html", text.to_string()));
        }
        self
    }
}

/// What the scripted target does.
#[derive(Debug, Clone)]
pub struct Script {
    /// The client secret the token endpoint accepts.
    pub secret: String,
    /// `expires_in` of issued tokens.
    pub token_expires_in: u64,
    /// Answers to successive `PUT`s; 204 once they run out.
    pub replies: VecDeque<Reply>,
    /// The export's body; the export answers 404 when `None`.
    pub export: Option<Vec<u8>>,
    /// Whether the first export answers 401.
    pub export_401_first: bool,
    /// Statuses the export answers, one per request, before its body.
    pub export_statuses: VecDeque<u16>,
    /// Whether the token endpoint never answers (a hung identity provider).
    pub token_hangs: bool,
    /// Answers to successive `POST`s of `users/by_key`; 404 once they run out.
    pub by_key: VecDeque<Reply>,
    /// Answers to successive `DELETE`s of a user; 404 once they run out.
    pub deletes: VecDeque<Reply>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            secret: "secret".to_string(),
            token_expires_in: 3600,
            replies: VecDeque::new(),
            export: None,
            export_401_first: false,
            export_statuses: VecDeque::new(),
            token_hangs: false,
            by_key: VecDeque::new(),
            deletes: VecDeque::new(),
        }
    }
}

impl Script {
    /// The default script with these `PUT` answers.
    pub fn replies(replies: impl IntoIterator<Item = Reply>) -> Script {
        Script {
            replies: replies.into_iter().collect(),
            ..Script::default()
        }
    }
}

/// A token request as the endpoint saw it.
#[derive(Debug, Clone, Default)]
pub struct TokenSeen {
    /// The Basic user part, as sent (still form-encoded).
    pub basic_user: Option<String>,
    /// The Basic password part, as sent (still form-encoded).
    pub basic_password: Option<String>,
    /// The form fields.
    pub form: HashMap<String, String>,
}

/// A `PUT` as the target saw it.
#[derive(Debug, Clone)]
pub struct PutSeen {
    /// The path.
    pub path: String,
    /// The raw query.
    pub query: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The bearer token.
    pub bearer: Option<String>,
    /// Size of the body.
    pub body_len: usize,
}

/// Shared state of the scripted target.
#[derive(Debug, Default)]
struct Seen {
    /// The script, consumed as requests arrive.
    script: Option<Script>,
    /// Tokens issued so far.
    tokens_issued: usize,
    /// Token requests, in order.
    token_requests: Vec<TokenSeen>,
    /// `PUT`s, in order.
    puts: Vec<PutSeen>,
    /// Whether the export already answered 401 once.
    export_refused: bool,
    /// Paths of the `DELETE`s, in order.
    deletes: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Seen> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running scripted target; stops when dropped.
pub struct ScriptedTarget {
    /// Where it listens.
    base: Url,
    /// What it saw.
    seen: Shared,
    /// The server task.
    task: JoinHandle<()>,
}

impl Drop for ScriptedTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedTarget {
    /// Starts serving `script` on an ephemeral loopback port.
    pub async fn start(script: Script) -> ScriptedTarget {
        let seen: Shared = Arc::new(Mutex::new(Seen {
            script: Some(script),
            ..Seen::default()
        }));
        let app = Router::new()
            .route(&api::TOKEN.route(), post(token))
            .route(&api::CONFIGURATION.route(), put(import).get(export))
            .route(&api::USER_BY_KEY.route(), post(by_key))
            .route(&api::USER.route(), delete(delete_user))
            .with_state(Arc::clone(&seen));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ScriptedTarget {
            base: Url::parse(&format!("http://{addr}/")).unwrap(),
            seen,
            task,
        }
    }

    /// A loopback URL nothing listens on (connections are refused).
    pub async fn unused_base() -> Url {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        Url::parse(&format!("http://{addr}/")).unwrap()
    }

    /// The base URL.
    pub fn base(&self) -> Url {
        self.base.clone()
    }

    /// How many token requests arrived.
    pub fn token_requests(&self) -> usize {
        lock(&self.seen).token_requests.len()
    }

    /// The latest token request.
    pub fn last_token_request(&self) -> Option<TokenSeen> {
        lock(&self.seen).token_requests.last().cloned()
    }

    /// The `PUT`s so far.
    pub fn puts(&self) -> Vec<PutSeen> {
        lock(&self.seen).puts.clone()
    }

    /// The paths of the `DELETE`s so far.
    pub fn deletes(&self) -> Vec<String> {
        lock(&self.seen).deletes.clone()
    }
}

/// Splits `Basic base64(user:password)`.
fn basic_parts(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Form-decodes one value.
fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn token(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let parts = basic_parts(&headers);
    let form = url::form_urlencoded::parse(&body).into_owned().collect();
    let hangs = {
        let mut seen = lock(&seen);
        seen.token_requests.push(TokenSeen {
            basic_user: parts.as_ref().map(|p| p.0.clone()),
            basic_password: parts.as_ref().map(|p| p.1.clone()),
            form,
        });
        seen.script.as_ref().is_some_and(|s| s.token_hangs)
    };
    if hangs {
        std::future::pending::<()>().await;
    }
    let mut seen = lock(&seen);
    let script = seen.script.clone().unwrap_or_default();
    let accepted = parts.is_some_and(|(_, password)| form_decode(&password) == script.secret);
    if !accepted {
        let body = serde_json::json!({
            "error": "client authentication failed", "status_code": 401, "error_code": "invalid_client",
        });
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    seen.tokens_issued += 1;
    let body = serde_json::json!({
        "access_token": format!("token-{}", seen.tokens_issued),
        "token_type": "bearer",
        "expires_in": script.token_expires_in,
        "scope": format!("{SCOPE_MANAGE} {SCOPE_READ}"),
    });
    axum::Json(body).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_string)
}

async fn import(
    State(seen): State<Shared>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut seen = lock(&seen);
        seen.puts.push(PutSeen {
            path: uri.path().to_owned(),
            query,
            content_type: headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            bearer: bearer(&headers),
            body_len: body.len(),
        });
        seen.script
            .as_mut()
            .and_then(|s| s.replies.pop_front())
            .unwrap_or_else(Reply::ok)
    };
    play(reply).await
}

/// `POST …/users/by_key`: the next scripted answer, 404 when none is left.
async fn by_key(State(seen): State<Shared>) -> Response {
    let reply = lock(&seen)
        .script
        .as_mut()
        .and_then(|s| s.by_key.pop_front());
    play(reply.unwrap_or_else(|| Reply::error(404, "not_found", "no such user"))).await
}

/// `DELETE …/users/{userID}`: the next scripted answer, 404 when none is left.
async fn delete_user(State(seen): State<Shared>, uri: Uri) -> Response {
    let reply = {
        let mut seen = lock(&seen);
        seen.deletes.push(uri.path().to_owned());
        seen.script.as_mut().and_then(|s| s.deletes.pop_front())
    };
    play(reply.unwrap_or_else(|| Reply::error(404, "unknown_user", "no such user in the pool")))
        .await
}

/// Answers as `reply` says.
async fn play(reply: Reply) -> Response {
    match reply {
        Reply::Answer {
            status,
            headers,
            body,
        } => answer(status, headers, body),
        Reply::Drop => std::panic::resume_unwind(Box::new("scripted dropped connection")),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

fn answer(
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Option<(&'static str, String)>,
) -> Response {
    let mut response = match body {
        Some((content_type, text)) => {
            ([(header::CONTENT_TYPE, content_type)], text).into_response()
        }
        None => ().into_response(),
    };
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

async fn export(State(seen): State<Shared>) -> Response {
    let mut seen = lock(&seen);
    let status = seen
        .script
        .as_mut()
        .and_then(|s| s.export_statuses.pop_front());
    if let Some(status) = status {
        return StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    let script = seen.script.clone().unwrap_or_default();
    if script.export_401_first && !seen.export_refused {
        seen.export_refused = true;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match script.export {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => answer(
            404,
            Vec::new(),
            Some((
                "application/json",
                r#"{"error":"no such tenant","status_code":404,"error_code":"not_found"}"#
                    .to_string(),
            )),
        ),
    }
}
