//! JSON request bodies of the platform's endpoints, read strictly: a JSON
//! content type, and records as objects only ([`crate::contract::strict`]),
//! so that `["a", "b"]` is never taken for `{"identifier": "a", "password": "b"}`.
//! The import body is read by [`super::validate`] the same way, with the
//! location of the first problem.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::routes::require_json;
use crate::contract::strict;

/// A body parsed strictly as `T`.
#[derive(Debug)]
pub struct StrictJson<T>(pub T);

/// Why a body is not a `T`: not JSON, not readable, or not the type; the
/// handler answers it with the status its operation declares.
#[derive(Debug)]
pub struct BodyRejection(pub String);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for StrictJson<T> {
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(request.headers())
            .map_err(|_| BodyRejection("the body must be application/json".to_owned()))?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| BodyRejection("the body cannot be read".to_owned()))?;
        strict::from_slice(&bytes)
            .map(StrictJson)
            .map_err(|err| BodyRejection(err.to_string()))
    }
}

/// Handlers take `Result<StrictJson<T>, BodyRejection>` and answer with
/// their operation's status; unhandled, a rejection is a 422.
impl axum::response::IntoResponse for BodyRejection {
    fn into_response(self) -> axum::response::Response {
        super::error::ApiError::Unprocessable {
            code: "invalid_request",
            message: self.0,
        }
        .into_response()
    }
}
