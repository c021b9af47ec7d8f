//! Which tenant and pool a request is for, whatever the URL layout
//! ([`crate::contract::api::Layout`]).
//!
//! At the `guide` and `client` layouts the path names the tenant (`{tid}`).
//! At the `vanity` layout it does not: on the platform the host names it (a
//! tenant's own domain); `ferry serve` has one host, so a vanity request is
//! for its default tenant, [`ServerConfig::tenant_id`](super::ServerConfig)
//! (`--tenant`). Its other tenants are reached at the other layouts.

use std::collections::HashMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::AppState;
use crate::contract::api::{GROUP_PARAM, POOL_PARAM, SCHEMA_PARAM, TENANT_PARAM, USER_PARAM};

/// The tenant of a request, and the pool, user, group or schema its path
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The path's `{tid}`, or the server's default tenant.
    pub tenant: String,
    /// The path's `{ipID}`, if the route has one.
    pub pool: Option<String>,
    /// The path's `{userID}`, if the route has one.
    pub user: Option<String>,
    /// The path's `{groupID}`, if the route has one.
    pub group: Option<String>,
    /// The path's `{schID}`, if the route has one.
    pub schema: Option<String>,
}

impl Target {
    /// The pool, or a 404 for a route without one (a bug: such a handler
    /// is registered only on routes with `{ipID}`).
    pub fn pool(&self) -> Result<&str, ApiError> {
        self.pool.as_deref().ok_or(ApiError::NoRoute)
    }

    /// The user, or a 404 for a route without one (a bug, as for the pool).
    pub fn user(&self) -> Result<&str, ApiError> {
        self.user.as_deref().ok_or(ApiError::NoRoute)
    }

    /// The group, or a 404 for a route without one (a bug, as for the pool).
    pub fn group(&self) -> Result<&str, ApiError> {
        self.group.as_deref().ok_or(ApiError::NoRoute)
    }

    /// The schema, or a 404 for a route without one (a bug, as for the pool).
    pub fn schema(&self) -> Result<&str, ApiError> {
        self.schema.as_deref().ok_or(ApiError::NoRoute)
    }
}

impl FromRequestParts<AppState> for Target {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut params =
            match Path::<HashMap<String, String>>::from_request_parts(parts, state).await {
                Ok(Path(params)) => params,
                // A vanity route: no parameter at all.
                Err(PathRejection::MissingPathParams(_)) => HashMap::new(),
                // Never the default tenant for a `{tid}` that cannot be read.
                Err(_) => {
                    return Err(ApiError::BadRequest {
                        code: "invalid_path",
                        message: "the path's parameters cannot be decoded".into(),
                    })
                }
            };
        let tenant = params
            .remove(TENANT_PARAM)
            .unwrap_or_else(|| state.config().tenant_id.clone());
        Ok(Target {
            tenant,
            pool: params.remove(POOL_PARAM),
            user: params.remove(USER_PARAM),
            group: params.remove(GROUP_PARAM),
            schema: params.remove(SCHEMA_PARAM),
        })
    }
}
