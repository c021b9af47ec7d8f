//! The HTTP routes and their handlers.
//!
//! | route | handler |
//! |---|---|
//! | `POST` [`Endpoint::Token`] | [`token`] |
//! | `PUT` [`Endpoint::Configuration`] `?mode=` | [`import`] |
//! | `GET` [`Endpoint::Configuration`] `?pool_id=&after=&limit=` | [`export`] |
//! | `PATCH` [`Endpoint::Configuration`] | 405 with `Allow: GET, PUT` ([`patch`]) |
//! | `POST` [`Endpoint::PasswordVerify`] | [`super::verify`] (`verifyPasswordV2`) |
//! | `GET` [`Endpoint::Pools`], [`Endpoint::Pool`] | [`super::system`] (`systemListPools`, `systemGetPool`) |
//! | `GET` [`Endpoint::Users`], [`Endpoint::User`] | [`super::system`] (`systemListUsers`, `systemGetUser`) |
//! | `POST` [`Endpoint::UserByKey`] | [`super::system`] (`systemGetUserByKey`) |
//! | `DELETE` [`Endpoint::User`], [`Endpoint::Pool`] | [`super::deletes`] (`systemDeleteUser`, `systemDeletePool`) |
//! | `DELETE` [`Endpoint::Group`], [`Endpoint::GroupMember`] | [`super::deletes`] (`deleteGroup`, `removeUserFromGroup`) |
//! | `GET` [`Endpoint::Schemas`], [`Endpoint::Schema`] | [`super::system`] (`systemListSchemas`, `systemGetSchema`) |
//! | `DELETE` [`Endpoint::Schema`] | [`super::deletes`] (`systemDeleteSchema`) |
//! | `GET /healthz` | liveness |
//! | `GET /metrics` | Prometheus text |
//!
//! The contract's paths are defined in [`crate::contract::api`]; each
//! endpoint is registered at every layout ([`api::routes`]), a vanity path
//! being for the server's default tenant ([`super::tenant`]).
//!
//! An import is checked in this order, cheapest and least revealing first:
//! import slot (429), injected faults (latency, 503, 429), token (401/403),
//! tenant (404), `mode` (400), content type (400), body size (413), body and
//! records (400/403), then the transaction (404 unknown pool, 409 conflicts,
//! 400 dangling `user_id`), and 204 once committed.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Form, Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::auth::{basic_credentials, credentials_match, Need, Scopes};
use super::deletes;
use super::error::ApiError;
use super::faults::Action;
use super::state::{AppState, ConnectionKill};
use super::store::{ApplyError, ExportScope, ExportStart, ImportOutcome, StoreError};
use super::system;
use super::tenant::Target;
use super::validate;
use crate::contract::api::{
    self, Endpoint, NEXT_AFTER_HEADER, USERS_CHANGED_HEADER, USERS_EXISTING_HEADER,
};
use crate::contract::records::{ImportMode, TokenResponse};

/// Default page size of a paged export.
pub const DEFAULT_PAGE: u32 = 1000;
/// Largest page size of a paged export.
pub const MAX_PAGE: u32 = 10_000;

/// How long a throttled client is told to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The router of the whole API, without a listener: tests may drive it with
/// `tower::ServiceExt::oneshot`. (Injected connection drops need the
/// server's own connection loop; through `oneshot` they answer 503.)
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for endpoint in Endpoint::ALL {
        let handler = match endpoint {
            Endpoint::Token => post(token),
            Endpoint::Configuration => get(export).put(import).patch(patch),
            Endpoint::PasswordVerify => post(super::verify::verify),
            Endpoint::Pools => get(system::list_pools),
            Endpoint::Pool => get(system::get_pool).delete(deletes::delete_pool),
            Endpoint::Users => get(system::list_users),
            Endpoint::User => get(system::get_user).delete(deletes::delete_user),
            Endpoint::UserByKey => post(system::get_user_by_key),
            Endpoint::Group => delete(deletes::delete_group),
            Endpoint::GroupMember => delete(deletes::remove_member),
            Endpoint::Schemas => get(system::list_schemas),
            Endpoint::Schema => get(system::get_schema).delete(deletes::delete_schema),
        };
        for route in api::routes(endpoint) {
            router = router.route(&route, handler.clone());
        }
    }
    router
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.config().max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Logs every answered request and counts it in the metrics.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics()
        .request(&route, method.as_str(), status, elapsed);
    let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if response.status().is_server_error() {
        tracing::warn!(%method, path, status, elapsed_us, "Request failed.");
    } else {
        tracing::info!(%method, path, status, elapsed_us, "Request answered.");
    }
    response
}

/// The form of a token request (`client_secret_post` puts the credentials here).
#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST` of [`Endpoint::Token`]: client credentials grant.
async fn token(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let tid = target.tenant;
    let config = state.config();
    let Form(form) = form.map_err(|r| form_rejection(r, config.max_body))?;
    let (id, secret) =
        match (
            basic_credentials(&headers),
            form.client_id,
            form.client_secret,
        ) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => return Err(bad_request(
                "invalid_request",
                "present the client credentials either with Basic auth or in the form, not both",
            )),
            (Some(basic), None, None) => basic,
            (None, Some(id), Some(secret)) => (id, secret),
            _ => return Err(ApiError::InvalidClient),
        };
    if !credentials_match(&config.client_id, &config.client_secret, &id, &secret) {
        tracing::warn!(tenant = %tid, client_id = %id, "Token request with wrong client credentials.");
        return Err(ApiError::InvalidClient);
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return Err(bad_request(
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        ));
    }
    let scopes = match form.scope.as_deref() {
        None => Scopes::ALL,
        Some(text) => match Scopes::parse(text) {
            Some(s) if s == Scopes::default() => Scopes::ALL,
            Some(s) => s,
            None => {
                return Err(bad_request(
                    "invalid_scope",
                    "scope may hold manage_configuration, read_configuration and identity only",
                ))
            }
        },
    };
    if !state.store().has_tenant(&tid) {
        return Err(ApiError::UnknownTenant);
    }
    let (access_token, ttl) = state.tokens().issue(&tid, &id, scopes, Instant::now());
    let answer = TokenResponse {
        access_token,
        token_type: "bearer".to_owned(),
        expires_in: ttl.as_secs(),
        scope: scopes.to_scope_string(),
    };
    let mut response = Json(answer).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn form_rejection(rejection: FormRejection, limit: usize) -> ApiError {
    match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType {
            expected: "application/x-www-form-urlencoded",
        },
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit },
        _ => bad_request("invalid_request", "the form body cannot be parsed"),
    }
}

/// Query of the import.
#[derive(Debug, Deserialize)]
struct ImportQuery {
    mode: Option<String>,
}

/// `PUT` of [`Endpoint::Configuration`]: the import.
async fn import(
    State(state): State<AppState>,
    target: Target,
    query: Result<Query<ImportQuery>, QueryRejection>,
    kill: Option<Extension<ConnectionKill>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tid = target.tenant;
    let _slot = state.faults().take_slot().map_err(|_| {
        state.metrics().fault("max_in_flight");
        ApiError::Throttled {
            reason: "too many imports are running at once",
            retry_after: RETRY_AFTER,
        }
    })?;
    let _in_flight = state.metrics().import_started();
    let plan = state.faults().next_plan();
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    match plan.action {
        Action::Fail => {
            state.metrics().fault(plan.action.name());
            return Err(ApiError::Unavailable(
                "the service is unavailable (injected failure)",
            ));
        }
        Action::Throttle => {
            state.metrics().fault(plan.action.name());
            return Err(ApiError::Throttled {
                reason: "too many requests (injected throttling)",
                retry_after: RETRY_AFTER,
            });
        }
        Action::Proceed | Action::DropBeforeCommit | Action::DropAfterCommit => {}
    }
    state
        .tokens()
        .authorize(&headers, &tid, Need::Manage, Instant::now())?;
    if !state.store().has_tenant(&tid) {
        return Err(ApiError::UnknownTenant);
    }
    let mode = import_mode(query)?;
    require_json(&headers)?;
    let bytes = read_body(body, &headers, state.config().max_body).await?;
    let tenant = tid.clone();
    let salt = state.config().salt;
    let batch = tokio::task::spawn_blocking(move || {
        validate::parse(&bytes).and_then(|body| validate::validate(&tenant, body, salt))
    })
    .await
    .map_err(|err| {
        tracing::error!(error = %err, "The validation task failed.");
        ApiError::Internal
    })??;
    let kill = kill.map(|Extension(kill)| kill);
    if plan.action == Action::DropBeforeCommit {
        return drop_connection(&state, plan.action, kill).await;
    }
    let outcome = state
        .store()
        .import(&tid, batch, mode)
        .await
        .map_err(|err| apply_error(&tid, err))?;
    state.metrics().stored(&outcome);
    tracing::debug!(
        tenant = %tid,
        mode = %mode,
        users = outcome.written.users,
        users_existing = outcome.users_existing,
        users_changed = outcome.users_changed,
        "Import committed."
    );
    if plan.action == Action::DropAfterCommit {
        return drop_connection(&state, plan.action, kill).await;
    }
    Ok(imported(&outcome))
}

fn imported(outcome: &ImportOutcome) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        USERS_EXISTING_HEADER,
        HeaderValue::from(outcome.users_existing),
    );
    headers.insert(
        USERS_CHANGED_HEADER,
        HeaderValue::from(outcome.users_changed),
    );
    response
}

fn import_mode(query: Result<Query<ImportQuery>, QueryRejection>) -> Result<ImportMode, ApiError> {
    let Query(query) =
        query.map_err(|_| bad_request("invalid_query", "the query string cannot be parsed"))?;
    match query.mode.as_deref() {
        None | Some("") => Ok(ImportMode::default()),
        Some(mode) => mode
            .parse()
            .map_err(|message: String| bad_request("invalid_mode", message)),
    }
}

/// 400 unless the content type is JSON (`application/json`, optionally with
/// parameters, or a `+json` type). Not 415: the answers the contract lists
/// for an import (400 malformed, 401, 403, 404, 409, 413, 422, 429) have no
/// 415, and a client written from it handles what it lists; a body that says
/// it is not JSON is malformed.
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false);
    if is_json {
        Ok(())
    } else {
        Err(bad_request(
            "unsupported_media_type",
            "the body must be application/json (Content-Type)",
        ))
    }
}

/// Reads the body up to `limit` bytes; 413 beyond, without reading a
/// declared oversized body at all.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        if is_length_limit(&err) {
            ApiError::PayloadTooLarge { limit }
        } else {
            bad_request("incomplete_body", "the request body could not be read")
        }
    })
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn apply_error(tenant: &str, err: ApplyError) -> ApiError {
    match err {
        ApplyError::Rejected(rejection) => ApiError::Rejected(rejection),
        ApplyError::Store(StoreError::Closed) => {
            ApiError::Unavailable("the server is shutting down; the request was not applied")
        }
        ApplyError::Store(err) => {
            tracing::error!(tenant, error = %err, "An import failed in the database; it was rolled back.");
            ApiError::Internal
        }
    }
}

/// Closes the connection without an answer (an injected fault).
async fn drop_connection(
    state: &AppState,
    action: Action,
    kill: Option<ConnectionKill>,
) -> Result<Response, ApiError> {
    state.metrics().fault(action.name());
    match kill {
        Some(kill) => {
            tracing::warn!(
                fault = action.name(),
                "Closing the connection without an answer (injected)."
            );
            kill.fire();
            // The connection task drops this handler with the connection.
            std::future::pending().await
        }
        None => Err(ApiError::Unavailable(
            "the connection would have been dropped (injected fault)",
        )),
    }
}

/// `PATCH` of [`Endpoint::Configuration`]: 405 with `Allow: GET, PUT`. The
/// platform takes RFC 6902 operations on the configuration there
/// (`patchTenantConfiguration`); `ferry serve` does not serve them: a JSON
/// Pointer into a dump of millions of users cannot be applied without
/// building that dump, and an importer sends whole records with `PUT`.
async fn patch() -> ApiError {
    ApiError::NotServed {
        allow: "GET, PUT",
        reason: "PATCH of the configuration (RFC 6902 operations) is not served by ferry serve; \
                 PUT the records instead",
    }
}

/// Query of the export (a ferry extension for paging).
#[derive(Debug, Deserialize)]
struct ExportQuery {
    pool_id: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    user_id: Option<String>,
}

/// `GET` of [`Endpoint::Configuration`]: the streamed export.
///
/// Without a query, the tenant's whole dump. As a ferry extension,
/// `pool_id=P` restricts it to pool `P`, and `after=UUID` and/or `limit=N`
/// (with `pool_id`) page through the pool's users in import order, each page
/// carrying those users' sub-records; the `Ferry-Next-After` header of a full
/// page gives the `after` of the next. `user_id=UUID` (with `pool_id`)
/// exports that one user with its sub-records (empty arrays when it is not
/// stored): how an importer checks what it stored before an interruption.
async fn export(
    State(state): State<AppState>,
    target: Target,
    query: Result<Query<ExportQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tid = target.tenant;
    state
        .tokens()
        .authorize(&headers, &tid, Need::Read, Instant::now())?;
    if !state.store().has_tenant(&tid) {
        return Err(ApiError::UnknownTenant);
    }
    let scope = export_scope(query)?;
    let (start, stream) = state.store().export(&tid, scope).await.map_err(|err| {
        tracing::error!(tenant = %tid, error = %err, "An export could not start.");
        ApiError::Internal
    })?;
    let next_after = match start {
        ExportStart::UnknownPool => return Err(ApiError::UnknownPool),
        ExportStart::UnknownCursor => {
            return Err(bad_request(
                "invalid_query",
                "after names no user of the pool",
            ))
        }
        ExportStart::Ready { next_after } => next_after,
    };
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(next) = next_after {
        if let Ok(value) = HeaderValue::from_str(&next.to_string()) {
            headers.insert(NEXT_AFTER_HEADER, value);
        }
    }
    Ok(response)
}

fn export_scope(
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<ExportScope, ApiError> {
    let Query(query) =
        query.map_err(|_| bad_request("invalid_query", "the query string cannot be parsed"))?;
    let after = query
        .after
        .as_deref()
        .map(|a| {
            Uuid::parse_str(a).map_err(|_| bad_request("invalid_query", "after must be a UUID"))
        })
        .transpose()?;
    let limit = query
        .limit
        .as_deref()
        .map(|l| match l.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(bad_request(
                "invalid_query",
                format!("limit must be a whole number from 1 to {MAX_PAGE}"),
            )),
        })
        .transpose()?;
    let user = query
        .user_id
        .as_deref()
        .map(|u| {
            Uuid::parse_str(u).map_err(|_| bad_request("invalid_query", "user_id must be a UUID"))
        })
        .transpose()?;
    let paged = after.is_some() || limit.is_some();
    if (paged || user.is_some()) && query.pool_id.is_none() {
        return Err(bad_request(
            "invalid_query",
            "paging with after or limit, and user_id, need pool_id",
        ));
    }
    if paged && user.is_some() {
        return Err(bad_request(
            "invalid_query",
            "user_id cannot be combined with after or limit",
        ));
    }
    Ok(ExportScope {
        pool: query.pool_id,
        user,
        after,
        limit: if paged {
            Some(limit.unwrap_or(DEFAULT_PAGE))
        } else {
            None
        },
    })
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.metrics().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code,
        message: message.into(),
    }
}
