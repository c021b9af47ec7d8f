//! The platform's delete endpoints, as the 2025 description defines them:
//! how an importer undoes what it wrote (a rollback deletes the records it
//! created, and may find some already gone).
//!
//! | request | answer |
//! |---|---|
//! | `DELETE …/system/pools/{ipID}/users/{userID}` | 204, 404 unknown pool or user (`systemDeleteUser`) |
//! | `DELETE …/system/pools/{ipID}/groups/{groupID}/users/{userID}` | 204, 404 unknown pool, group or user, or no such membership (`removeUserFromGroup`) |
//! | `DELETE …/system/pools/{ipID}/groups/{groupID}` | 204, 404 unknown pool or group (`deleteGroup`) |
//! | `DELETE …/system/pools/{ipID}` `?with_idp=true\|false` | 204, 400 malformed `with_idp`, 404 unknown pool (`systemDeletePool`) |
//! | `DELETE …/system/schemas/{schID}` | 204, 400 `system` schema, 404 unknown schema, 409 a pool names it (`systemDeleteSchema`) |
//!
//! Every one needs a token of the tenant with scope `identity` (401
//! without a valid token, 403 without the scope or for another tenant),
//! like the other system endpoints ([`super::system`]), and answers 204
//! without a body, the description's answer to each. A second delete of the
//! same record is a 404: a client that rolls back takes it as "already
//! gone". What each one removes is in [`super::store::delete`]; a deletion
//! is committed before it is answered.
//!
//! Where the description is silent (the decisions):
//! - `systemDeleteUser` removes the user with its credentials, identifiers,
//!   addresses and group memberships: its identifiers are free to be
//!   imported again, by it or by another user.
//! - `deleteGroup` ("Delete a group.") removes the group's memberships with
//!   it; its members stay. Other groups are kept, whatever their `path`.
//! - `systemDeletePool` with users or groups in it deletes them all with it:
//!   the operation declares no 400 or 409 to refuse with, only 204 and 404,
//!   so deleting is the answer the description allows. The server's own
//!   pool (`--pool`) may be deleted too; it is created again, empty, when
//!   the server next starts. `with_idp` must be `true` or `false` when
//!   given (a 400 otherwise, which the operation does not declare either);
//!   ferry serve has no identity providers, so it changes nothing.
//! - `systemDeleteSchema` refuses a schema marked `system` with a 400 ("aren't
//!   available for deletion", the description says, without a status), and
//!   a schema that a pool of the tenant names as its `payload_schema_id`,
//!   `metadata_schema_id` or `business_metadata_schema_id` with a 409, both
//!   statuses the operation declares. Users' own schema ids are not checked
//!   (that would read every user of the tenant).
//! - `removeUserFromGroup` answers 404 `not_a_member` for a user of the pool
//!   that is not in the group, like an unknown user or group.
//! - `If-Match` (declared on the user, pool and schema deletes) is not
//!   checked: ferry serve keeps no ETags.
//! - A user id that is not a UUID names no user: 404, as for `systemGetUser`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;
use super::state::AppState;
use super::store::{Deleted, Deletion, StoreError};
use super::system::{authorize, invalid_query};
use super::tenant::Target;

/// `DELETE` of [`Endpoint::User`](crate::contract::api::Endpoint): `systemDeleteUser`.
pub async fn delete_user(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let deletion = Deletion::User {
        pool: target.pool()?.to_owned(),
        user: Uuid::parse_str(target.user()?).ok(),
    };
    delete(&state, &target.tenant, deletion).await
}

/// `DELETE` of [`Endpoint::GroupMember`](crate::contract::api::Endpoint):
/// `removeUserFromGroup`.
pub async fn remove_member(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let deletion = Deletion::Member {
        pool: target.pool()?.to_owned(),
        group: target.group()?.to_owned(),
        user: Uuid::parse_str(target.user()?).ok(),
    };
    delete(&state, &target.tenant, deletion).await
}

/// `DELETE` of [`Endpoint::Group`](crate::contract::api::Endpoint): `deleteGroup`.
pub async fn delete_group(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let deletion = Deletion::Group {
        pool: target.pool()?.to_owned(),
        group: target.group()?.to_owned(),
    };
    delete(&state, &target.tenant, deletion).await
}

/// The query of `systemDeletePool`.
#[derive(Debug, Deserialize)]
pub struct PoolDeleteQuery {
    with_idp: Option<String>,
}

/// `DELETE` of [`Endpoint::Pool`](crate::contract::api::Endpoint): `systemDeletePool`.
pub async fn delete_pool(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
    query: Result<Query<PoolDeleteQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let Query(query) = query.map_err(|_| invalid_query("the query string cannot be parsed"))?;
    if !matches!(
        query.with_idp.as_deref(),
        None | Some("true") | Some("false")
    ) {
        return Err(invalid_query("with_idp must be true or false"));
    }
    let deletion = Deletion::Pool {
        pool: target.pool()?.to_owned(),
    };
    delete(&state, &target.tenant, deletion).await
}

/// `DELETE` of [`Endpoint::Schema`](crate::contract::api::Endpoint): `systemDeleteSchema`.
pub async fn delete_schema(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &target, &headers)?;
    let deletion = Deletion::Schema {
        schema: target.schema()?.to_owned(),
    };
    delete(&state, &target.tenant, deletion).await
}

/// Applies `deletion` through the store's writer and answers it.
async fn delete(state: &AppState, tenant: &str, deletion: Deletion) -> Result<Response, ApiError> {
    let deleted = state
        .store()
        .delete(tenant, deletion.clone())
        .await
        .map_err(|err| delete_failed(tenant, err))?;
    match deleted {
        Deleted::Removed(counts) => {
            tracing::info!(
                tenant,
                ?deletion,
                pools = counts.pools,
                users = counts.users,
                groups = counts.groups,
                group_members = counts.group_members,
                schemas = counts.schemas,
                "Records deleted."
            );
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Deleted::UnknownPool => Err(ApiError::UnknownPool),
        Deleted::UnknownGroup => Err(ApiError::UnknownGroup),
        Deleted::UnknownUser => Err(ApiError::UnknownUser),
        Deleted::NotMember => Err(ApiError::NotMember),
        Deleted::UnknownSchema => Err(ApiError::UnknownSchema),
        Deleted::SystemSchema => Err(ApiError::BadRequest {
            code: "system_schema",
            message: "a schema marked system cannot be deleted".to_owned(),
        }),
        Deleted::SchemaInUse { pool } => Err(ApiError::Conflict {
            code: "schema_in_use",
            message: format!("pool '{pool}' names the schema; change the pool first"),
        }),
    }
}

/// Logs a failed deletion (the client sees a plain 500, or a 503 while the
/// server shuts down); it was rolled back.
fn delete_failed(tenant: &str, err: StoreError) -> ApiError {
    match err {
        StoreError::Closed => {
            ApiError::Unavailable("the server is shutting down; nothing was deleted")
        }
        err => {
            tracing::error!(tenant, error = %err, "A deletion failed in the database; it was rolled back.");
            ApiError::Internal
        }
    }
}
