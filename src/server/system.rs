//! The platform's system pool and user endpoints, as the 2025 description
//! defines them: how a migration is checked user by user, and how a large
//! pool is read without the whole-tenant export.
//!
//! | request | answer |
//! |---|---|
//! | `GET …/system/pools` `?search_phrase=&after_pool_id=&before_pool_id=&sort=id\|name&order=asc\|desc&limit=` | 200 `Pools` (`systemListPools`) |
//! | `GET …/system/pools/{ipID}` | 200 `PoolResponse`, 404 (`systemGetPool`) |
//! | `GET …/system/pools/{ipID}/users` `?after_user_id=&before_user_id=&order=asc\|desc&limit=` | 200 `Users`, 404 unknown pool (`systemListUsers`) |
//! | `GET …/system/pools/{ipID}/users/{userID}` | 200 `UserWithData`, 404 (`systemGetUser`) |
//! | `POST …/system/pools/{ipID}/users/by_key` `{"identifier"}` or `{"address"}` | 200 `UserWithData`, 404 (`systemGetUserByKey`) |
//! | `GET …/system/schemas` | 200 `Schemas` (`systemListSchemas`) |
//! | `GET …/system/schemas/{schID}` | 200 `Schema`, 404 (`systemGetSchema`) |
//!
//! Every one needs a token of the tenant with scope `identity` (401
//! without a valid token, 403 without the scope or for another tenant).
//! `limit` is 1 to 100, 20 when absent; users are listed in id order, the
//! only order the platform offers (`sort` may only be `id`), and
//! `after_user_id` / `before_user_id` are exclusive bounds on the id (a UUID:
//! any id, stored or not). Pools come in `sort` order (`id` by default,
//! `order` `asc`; the description's `acs` is taken as `asc`).
//! `number_of_users` is the count of stored users; the description's
//! `number_of_standard_users` and `number_of_jit_users` are left out (ferry
//! serve has no just-in-time users).
//!
//! A lookup by key compares identifiers (and verified addresses) as the
//! pool's `identifier_case_insensitive` says: lower-cased when it is true,
//! exactly otherwise. Credentials in a `UserWithData` are blurred
//! ([`UserWithData::blur`]): the hash method is told, the hash never.
//!
//! Not served, and answered 400 `not_served`: `systemListUsers`' `query`
//! filter (`user_key`, `payload`, `metadata`), which would read the whole
//! pool; a `sort` other than `id`.
//!
//! Where the description is silent or at odds with itself (the decisions):
//! - `systemListPools` declares `minimum: 1, maximum: 100` for `limit` but
//!   no 400; an out-of-range or malformed `limit` is a 400 all the same, as
//!   `systemListUsers` (which declares 400) answers it.
//! - `systemListSchemas` has no paging parameters: it answers every schema
//!   of the tenant, in id order. Its `if-match` header, and the `etag` the
//!   description gives the answers of both schema reads, are not served:
//!   `ferry serve` keeps no versions of a schema (`if-match` is ignored).
//! - `systemGetUserByKey` declares no 400 or 422; a body that is not a
//!   `GetUserByKey` with exactly one of `identifier` and `address` is a 422,
//!   the status the same description gives `verifyPasswordV2` for its body.

use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

use super::auth::Need;
use super::body::{BodyRejection, StrictJson};
use super::error::ApiError;
use super::state::AppState;
use super::store::directory::{
    self, InPool, Order, PoolPage, PoolQuery, PoolSort, UserKey, UserQuery, MAX_PAGE,
};
use super::store::StoreError;
use super::tenant::Target;
use crate::contract::api::SCHEMA_PARAM;
use crate::contract::system::{GetUserByKey, Pools, Schemas, Users};

/// Page size when `limit` is absent (the description's default).
pub const DEFAULT_LIMIT: u32 = 20;

/// Checks the token (scope `identity`) and that the tenant exists.
pub(super) fn authorize(
    state: &AppState,
    target: &Target,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    state
        .tokens()
        .authorize(headers, &target.tenant, Need::Identity, Instant::now())?;
    if !state.store().has_tenant(&target.tenant) {
        return Err(ApiError::UnknownTenant);
    }
    Ok(())
}

/// Logs a failed read (the client sees a plain 500).
fn read_failed(tenant: &str) -> impl FnOnce(StoreError) -> ApiError + '_ {
    move |err| {
        tracing::error!(tenant, error = %err, "A system endpoint could not read the database.");
        ApiError::Internal
    }
}

/// A 400 `invalid_query`.
pub(super) fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        message: message.into(),
    }
}

/// `limit`: 1 to [`MAX_PAGE`], [`DEFAULT_LIMIT`] when absent.
fn limit(text: Option<&str>) -> Result<u32, ApiError> {
    match text {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(invalid_query(format!(
                "limit must be a whole number from 1 to {MAX_PAGE}"
            ))),
        },
    }
}

/// `order`: `asc` (the description also spells it `acs`) or `desc`.
fn order(text: Option<&str>) -> Result<Order, ApiError> {
    match text {
        None | Some("") | Some("asc") | Some("acs") => Ok(Order::Ascending),
        Some("desc") => Ok(Order::Descending),
        Some(_) => Err(invalid_query("order must be asc or desc")),
    }
}

/// The query of `systemListPools`.
#[derive(Debug, Deserialize)]
pub struct PoolsQuery {
    search_phrase: Option<String>,
    after_pool_id: Option<String>,
    before_pool_id: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    limit: Option<String>,
}

/// `GET` of [`Endpoint::Pools`](crate::contract::api::Endpoint): `systemListPools`.
pub async fn list_pools(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
    query: Result<Query<PoolsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let Query(query) = query.map_err(|_| invalid_query("the query string cannot be parsed"))?;
    let sort = match query.sort.as_deref() {
        None | Some("") | Some("id") => PoolSort::Id,
        Some("name") => PoolSort::Name,
        Some(_) => return Err(invalid_query("sort must be id or name")),
    };
    let pools = PoolQuery {
        search: query.search_phrase.filter(|s| !s.is_empty()),
        after: query.after_pool_id.filter(|s| !s.is_empty()),
        before: query.before_pool_id.filter(|s| !s.is_empty()),
        sort,
        order: order(query.order.as_deref())?,
        limit: limit(query.limit.as_deref())?,
    };
    let tenant = target.tenant.clone();
    let page = state
        .store()
        .read(move |conn| directory::pools(conn, &tenant, &pools))
        .await
        .map_err(read_failed(&target.tenant))?;
    match page {
        PoolPage::Page(pools) => Ok(Json(Pools { pools }).into_response()),
        PoolPage::UnknownCursor => Err(invalid_query(
            "after_pool_id or before_pool_id names no pool of the tenant",
        )),
    }
}

/// `GET` of [`Endpoint::Pool`](crate::contract::api::Endpoint): `systemGetPool`.
pub async fn get_pool(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let (tenant, pool) = (target.tenant.clone(), target.pool()?.to_owned());
    let found = state
        .store()
        .read(move |conn| directory::pool(conn, &tenant, &pool))
        .await
        .map_err(read_failed(&target.tenant))?;
    match found {
        Some(pool) => Ok(Json(pool).into_response()),
        None => Err(ApiError::UnknownPool),
    }
}

/// The query of `systemListUsers`.
#[derive(Debug, Deserialize)]
pub struct UsersQuery {
    after_user_id: Option<String>,
    before_user_id: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    limit: Option<String>,
    query: Option<String>,
}

/// A user id bound of the list: a UUID (any id, stored or not).
fn user_bound(name: &str, text: Option<String>) -> Result<Option<Uuid>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            Uuid::parse_str(&t)
                .map_err(|_| invalid_query(format!("{name} must be a user id (a UUID)")))
        })
        .transpose()
}

/// `GET` of [`Endpoint::Users`](crate::contract::api::Endpoint): `systemListUsers`.
pub async fn list_users(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
    query: Result<Query<UsersQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let Query(query) = query.map_err(|_| invalid_query("the query string cannot be parsed"))?;
    if query.query.as_deref().is_some_and(|q| !q.is_empty()) {
        return Err(not_served(
            "the query filter of systemListUsers is not served by ferry serve",
        ));
    }
    if !matches!(query.sort.as_deref(), None | Some("") | Some("id")) {
        return Err(not_served("users are sorted by id only"));
    }
    let users = UserQuery {
        after: user_bound("after_user_id", query.after_user_id)?,
        before: user_bound("before_user_id", query.before_user_id)?,
        order: order(query.order.as_deref())?,
        limit: limit(query.limit.as_deref())?,
    };
    let (tenant, pool) = (target.tenant.clone(), target.pool()?.to_owned());
    let page = state
        .store()
        .read(move |conn| directory::users(conn, &tenant, &pool, &users))
        .await
        .map_err(read_failed(&target.tenant))?;
    match page {
        Some(users) => Ok(Json(Users { users }).into_response()),
        None => Err(ApiError::UnknownPool),
    }
}

fn not_served(message: &str) -> ApiError {
    ApiError::BadRequest {
        code: "not_served",
        message: message.to_owned(),
    }
}

/// The answer to a lookup of one user.
fn one_user(found: InPool<crate::contract::system::UserWithData>) -> Result<Response, ApiError> {
    match found {
        InPool::UnknownPool => Err(ApiError::UnknownPool),
        InPool::Found(None) => Err(ApiError::UnknownUser),
        InPool::Found(Some(user)) => Ok(Json(user).into_response()),
    }
}

/// `GET` of [`Endpoint::User`](crate::contract::api::Endpoint): `systemGetUser`.
/// An id that is not a UUID names no user: 404.
pub async fn get_user(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let (tenant, pool) = (target.tenant.clone(), target.pool()?.to_owned());
    let user = Uuid::parse_str(target.user()?).ok();
    let found = state
        .store()
        .read(move |conn| match user {
            Some(user) => directory::user(conn, &tenant, &pool, user),
            // Still a 404 for the pool first, when it is the pool that is unknown.
            None => directory::user(conn, &tenant, &pool, Uuid::nil()),
        })
        .await
        .map_err(read_failed(&target.tenant))?;
    one_user(found)
}

/// `POST` of [`Endpoint::UserByKey`](crate::contract::api::Endpoint):
/// `systemGetUserByKey`.
pub async fn get_user_by_key(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
    body: Result<StrictJson<GetUserByKey>, BodyRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let key = user_key(body)?;
    let (tenant, pool) = (target.tenant.clone(), target.pool()?.to_owned());
    let found = state
        .store()
        .read(move |conn| directory::user_by_key(conn, &tenant, &pool, &key))
        .await
        .map_err(read_failed(&target.tenant))?;
    one_user(found)
}

/// `GET` of [`Endpoint::Schemas`](crate::contract::api::Endpoint):
/// `systemListSchemas`.
pub async fn list_schemas(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let tenant = target.tenant.clone();
    let schemas = state
        .store()
        .read(move |conn| directory::schemas(conn, &tenant))
        .await
        .map_err(read_failed(&target.tenant))?;
    Ok(Json(Schemas { schemas }).into_response())
}

/// `GET` of [`Endpoint::Schema`](crate::contract::api::Endpoint):
/// `systemGetSchema`.
pub async fn get_schema(
    State(state): State<AppState>,
    target: Target,
    Path(mut params): Path<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let id = params.remove(SCHEMA_PARAM).ok_or(ApiError::NoRoute)?;
    let tenant = target.tenant.clone();
    let found = state
        .store()
        .read(move |conn| directory::schema(conn, &tenant, &id))
        .await
        .map_err(read_failed(&target.tenant))?;
    match found {
        Some(schema) => Ok(Json(schema).into_response()),
        None => Err(ApiError::UnknownSchema),
    }
}

/// The key of a `GetUserByKey` body, or the 422 (see the module).
fn user_key(body: Result<StrictJson<GetUserByKey>, BodyRejection>) -> Result<UserKey, ApiError> {
    let unprocessable = |message: &str| ApiError::Unprocessable {
        code: "invalid_request",
        message: message.to_owned(),
    };
    let StrictJson(body) = body.map_err(|_| {
        unprocessable("the body must be JSON {\"identifier\": \"...\"} or {\"address\": \"...\"}")
    })?;
    let present = |v: Option<String>| v.filter(|v| !v.is_empty());
    match (present(body.identifier), present(body.address)) {
        (Some(identifier), None) => Ok(UserKey::Identifier(identifier)),
        (None, Some(address)) => Ok(UserKey::Address(address)),
        (Some(_), Some(_)) => Err(unprocessable(
            "give one of identifier and address, not both",
        )),
        (None, None) => Err(unprocessable("identifier or address is required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_description() {
        assert_eq!(limit(None).ok(), Some(20));
        assert_eq!(limit(Some("1")).ok(), Some(1));
        assert_eq!(limit(Some("100")).ok(), Some(100));
        for bad in ["0", "101", "-1", "", "ten", "1.5", "99999999999"] {
            assert!(limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_take_the_descriptions_spelling_too() {
        assert_eq!(order(Some("acs")).ok(), Some(Order::Ascending));
        assert_eq!(order(Some("asc")).ok(), Some(Order::Ascending));
        assert_eq!(order(Some("desc")).ok(), Some(Order::Descending));
        assert!(order(Some("DESC")).is_err());
    }
}
