//! Every error answer of the server, and the one place that turns it into
//! an HTTP response with the contract's error body
//! (`{"error", "status_code", "error_code", "details"}`).
//!
//! Internal failures are logged where they happen and answered with a
//! generic 500 that carries no internals. No variant holds a secret.
//!
//! [`ServerError`], the error of starting a server, is here too, so that
//! the modules that start one ([`super::state`], [`super::serve`]) need not
//! import the server's root module, which imports them.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::config::ConfigError;
use super::rejection::{Rejection, RejectionKind};
use super::store::StoreError;
use crate::contract::records::ErrorBody;

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// The import body or one of its records was refused (400/403/404/409).
    Rejected(Rejection),
    /// A malformed request outside the body's records (bad query, bad form).
    BadRequest {
        /// Stable error code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A well-formed body the operation cannot process (422): the status
    /// the platform's spec declares for, say, a verification without an
    /// identifier.
    Unprocessable {
        /// Stable error code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No token, or an invalid or expired one (401).
    InvalidToken(&'static str),
    /// Wrong client credentials at the token endpoint (401).
    InvalidClient,
    /// The token is for another tenant (403).
    WrongTenant,
    /// The token lacks the scope the route needs (403).
    InsufficientScope(&'static str),
    /// The tenant in the URL does not exist (404).
    UnknownTenant,
    /// The pool in the path or the export's query does not exist (404).
    UnknownPool,
    /// The user in the path, or the user a key names, does not exist in the
    /// pool (404).
    UnknownUser,
    /// The group in the path does not exist in the pool (404).
    UnknownGroup,
    /// The user in the path is not a member of the group in the path (404).
    NotMember,
    /// The schema in the path does not exist in the tenant (404).
    UnknownSchema,
    /// The request conflicts with what is stored (409): a schema that a
    /// pool still names cannot be deleted.
    Conflict {
        /// Stable error code.
        code: &'static str,
        /// What is in the way.
        message: String,
    },
    /// No route for this path (404).
    NoRoute,
    /// The route exists but not for this method (405).
    MethodNotAllowed,
    /// A method of the contract that `ferry serve` does not serve, on
    /// purpose (405 with `Allow`).
    NotServed {
        /// The methods the route answers, for the `Allow` header.
        allow: &'static str,
        /// Why, for people.
        reason: &'static str,
    },
    /// The body is larger than `--max-body` (413).
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The token request is not a form (415); the contract's JSON bodies
    /// answer a wrong content type with 400 instead ([`super::routes`]).
    UnsupportedMediaType {
        /// The content type the route wants.
        expected: &'static str,
    },
    /// Too many requests: injected throttling or `--max-in-flight` (429).
    Throttled {
        /// Why, for people.
        reason: &'static str,
        /// Sent as `Retry-After`, in whole seconds.
        retry_after: Duration,
    },
    /// Injected failure or shutdown (503).
    Unavailable(&'static str),
    /// Something failed inside the server; already logged (500).
    Internal,
}

impl ApiError {
    /// The status code of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Rejected(r) => match r.kind {
                RejectionKind::Invalid => StatusCode::BAD_REQUEST,
                RejectionKind::WrongTenant => StatusCode::FORBIDDEN,
                RejectionKind::UnknownPool => StatusCode::NOT_FOUND,
                RejectionKind::Exists | RejectionKind::IdentifierTaken => StatusCode::CONFLICT,
            },
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InvalidToken(_) | ApiError::InvalidClient => StatusCode::UNAUTHORIZED,
            ApiError::WrongTenant | ApiError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ApiError::UnknownTenant
            | ApiError::UnknownPool
            | ApiError::UnknownUser
            | ApiError::UnknownGroup
            | ApiError::NotMember
            | ApiError::UnknownSchema
            | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed | ApiError::NotServed { .. } => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `error_code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Rejected(r) => r.kind.code(),
            ApiError::BadRequest { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::InvalidClient => "invalid_client",
            ApiError::WrongTenant => "wrong_tenant",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::UnknownTenant => "unknown_tenant",
            ApiError::UnknownPool => "unknown_pool",
            ApiError::UnknownUser => "unknown_user",
            ApiError::UnknownGroup => "unknown_group",
            ApiError::NotMember => "not_a_member",
            ApiError::UnknownSchema => "unknown_schema",
            ApiError::NoRoute => "not_found",
            ApiError::MethodNotAllowed | ApiError::NotServed { .. } => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::Throttled { .. } => "throttled",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal => "internal_error",
        }
    }

    /// The sentence of the error body.
    pub fn message(&self) -> String {
        match self {
            ApiError::Rejected(r) => r.to_string(),
            ApiError::BadRequest { message, .. }
            | ApiError::Unprocessable { message, .. }
            | ApiError::Conflict { message, .. } => message.clone(),
            ApiError::InvalidToken(why) => format!("the bearer token {why}"),
            ApiError::InvalidClient => "the client id or secret is wrong".into(),
            ApiError::WrongTenant => "the token was issued for another tenant".into(),
            ApiError::InsufficientScope(scope) => format!("the token lacks the scope '{scope}'"),
            ApiError::UnknownTenant => "the tenant does not exist".into(),
            ApiError::UnknownPool => "the pool does not exist in the tenant".into(),
            ApiError::UnknownUser => "no such user in the pool".into(),
            ApiError::UnknownGroup => "no such group in the pool".into(),
            ApiError::NotMember => "the user is not a member of the group".into(),
            ApiError::UnknownSchema => "no such schema in the tenant".into(),
            ApiError::NoRoute => "no such resource".into(),
            ApiError::MethodNotAllowed => "this method is not allowed on this resource".into(),
            ApiError::NotServed { reason, .. } => (*reason).into(),
            ApiError::PayloadTooLarge { limit } => {
                format!("the request body is larger than {limit} bytes")
            }
            ApiError::UnsupportedMediaType { expected } => {
                format!("the request body must be {expected}")
            }
            ApiError::Throttled { reason, .. } => (*reason).into(),
            ApiError::Unavailable(reason) => (*reason).into(),
            ApiError::Internal => "the server failed; the request was not applied".into(),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            ApiError::Rejected(r) => Some(r.details()),
            ApiError::InsufficientScope(scope) => Some(json!({ "scope": scope })),
            ApiError::PayloadTooLarge { limit } => Some(json!({ "limit": limit })),
            _ => None,
        }
    }

    /// The contract's error body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.message(),
            status_code: self.status().as_u16(),
            error_code: self.code().to_owned(),
            details: self.details(),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        ApiError::Rejected(rejection)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Throttled { retry_after, .. } => {
                let seconds = retry_after.as_secs().max(1);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            ApiError::InvalidToken(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::InvalidClient => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"ferry\""),
                );
            }
            ApiError::NotServed { allow, .. } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        response
    }
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or prepared.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// A socket or thread operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::rejection::RecordRef;

    #[test]
    fn statuses_follow_the_contract() {
        let rejected = |kind| {
            ApiError::Rejected(Rejection::record(
                kind,
                RecordRef::new("users", 0, "x"),
                "r",
            ))
            .status()
            .as_u16()
        };
        assert_eq!(rejected(RejectionKind::Invalid), 400);
        assert_eq!(rejected(RejectionKind::WrongTenant), 403);
        assert_eq!(rejected(RejectionKind::UnknownPool), 404);
        assert_eq!(rejected(RejectionKind::Exists), 409);
        assert_eq!(rejected(RejectionKind::IdentifierTaken), 409);
        assert_eq!(
            ApiError::PayloadTooLarge { limit: 1 }.status().as_u16(),
            413
        );
        assert_eq!(ApiError::InvalidClient.body().status_code, 401);
    }
}
