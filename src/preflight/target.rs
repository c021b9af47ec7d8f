//! The preflight of a pool at a target: its pool (`systemGetPool`) and the
//! schemas it names (`systemGetSchema`), read with the run's retry policy
//! and compiled by [`Preflight::new`]. The one part of the preflight that
//! talks to the network; a caller that holds the pool and its schemas
//! already (a copy between tenants) calls [`Preflight::new`] itself.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Part, Preflight, PreflightError};
use crate::contract::api::Endpoint;
use crate::contract::records::{Pool, Schema};
use crate::send::backoff::{seeded_rng, Backoff};
use crate::send::client::TargetClient;
use crate::send::deliver::{Effort, Sender};
use crate::send::gate::ThrottleGate;

/// Reads pool `pool` of `client`'s tenant and the schemas it names, and
/// compiles them: a request for the pool, one per schema id. The token
/// needs scope `identity`. `backoff` and `seed` retry the reads as an
/// import's requests are retried.
pub async fn from_target(
    client: Arc<TargetClient>,
    pool: &str,
    backoff: Backoff,
    seed: Option<u64>,
) -> Result<Preflight, PreflightError> {
    let gate = Arc::new(ThrottleGate::new(backoff));
    let mut sender = Sender::new(client.clone(), gate, None, backoff, seeded_rng(seed));
    let what = format!("pool {pool}");
    let url = client
        .url(Endpoint::Pool, pool, "")
        .map_err(unreadable(&what))?;
    let mut effort = Effort::default();
    let found = sender
        .fetch(&url, true, &mut effort)
        .await
        .map_err(unreadable(&what))?
        .ok_or_else(|| PreflightError::UnknownPool {
            pool: pool.to_owned(),
        })?;
    let answer: Value = serde_json::from_slice(&found.body).map_err(unreadable(&what))?;
    let pool = pool_of(pool, &answer).map_err(unreadable(&what))?;
    let mut schemas: Vec<Schema> = Vec::new();
    let pool_id = pool.id.clone().unwrap_or_default();
    for part in Part::ALL {
        let Some(id) = part.schema_id(&pool).filter(|id| !id.is_empty()) else {
            continue;
        };
        if schemas.iter().any(|s| s.id == id) {
            continue;
        }
        let what = format!("schema {id}");
        let url = client.schema_url(id).map_err(unreadable(&what))?;
        let got = sender
            .fetch(&url, true, &mut effort)
            .await
            .map_err(unreadable(&what))?;
        let Some(got) = got else {
            return Err(PreflightError::MissingSchema {
                pool: pool_id,
                part,
                id: id.to_owned(),
            });
        };
        let schema: Schema = serde_json::from_slice(&got.body).map_err(unreadable(&what))?;
        schemas.push(schema);
    }
    Preflight::new(&pool, &schemas)
}

/// The error of a read of `what` that failed.
fn unreadable<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> PreflightError + '_ {
    move |reason| PreflightError::Unreadable {
        what: what.to_owned(),
        reason: reason.to_string(),
    }
}

/// The pool of a `PoolResponse`: its id and the three schema ids, all the
/// preflight needs (the answer's other fields vary between platforms).
fn pool_of(id: &str, answer: &Value) -> Result<Pool, String> {
    let text = |name: &str| answer.get(name).and_then(Value::as_str);
    let pool = json!({
        "id": text("id").unwrap_or(id),
        "tenant_id": text("tenant_id").unwrap_or_default(),
        "name": text("name").unwrap_or(id),
        "payload_schema_id": text("payload_schema_id"),
        "metadata_schema_id": text("metadata_schema_id"),
        "business_metadata_schema_id": text("business_metadata_schema_id"),
    });
    serde_json::from_value(pool).map_err(|e| e.to_string())
}
