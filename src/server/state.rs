//! What the handlers share: the server's state ([`AppState`], one per
//! server) and, per connection, the switch that closes it without an answer
//! ([`ConnectionKill`]).
//!
//! The routes ([`super::routes`], [`super::verify`]) read them and the
//! connection loop ([`super::serve`]) creates them; keeping them here means
//! none of those modules needs another's internals.

use std::sync::Arc;

use tokio::sync::Notify;

use super::attempts::VerifyLimiter;
use super::auth::TokenStore;
use super::config::ServerConfig;
use super::error::ServerError;
use super::faults::Faults;
use super::metrics::Metrics;
use super::store::Store;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The one copy every handler and connection points to.
    inner: Arc<Shared>,
}

/// What [`AppState`] points to.
#[derive(Debug)]
struct Shared {
    /// The validated configuration.
    config: ServerConfig,
    /// The database.
    store: Store,
    /// Issued tokens.
    tokens: TokenStore,
    /// Fault injection for imports.
    faults: Faults,
    /// Counters for `/metrics`.
    metrics: Metrics,
    /// Per-identifier limits of the password verification endpoint.
    verify_limiter: VerifyLimiter,
}

impl AppState {
    /// Validates `config`, opens the database (creating it and the
    /// configured tenants and pool when missing) and starts its writer.
    pub async fn open(config: ServerConfig) -> Result<AppState, ServerError> {
        config.validate()?;
        let store_config = config.clone();
        let store = tokio::task::spawn_blocking(move || {
            Store::open(
                &store_config.db_path,
                store_config.durability,
                store_config.tenants(),
                &store_config.pool_id,
            )
        })
        .await
        .map_err(|err| ServerError::Io(std::io::Error::other(err)))??;
        Ok(AppState {
            inner: Arc::new(Shared {
                tokens: TokenStore::new(config.token_ttl),
                faults: Faults::new(config.faults.clone()),
                metrics: Metrics::default(),
                verify_limiter: VerifyLimiter::default(),
                store,
                config,
            }),
        })
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Issued tokens.
    pub(super) fn tokens(&self) -> &TokenStore {
        &self.inner.tokens
    }

    /// The database.
    pub(super) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Fault injection for imports.
    pub(super) fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Counters for `/metrics`.
    pub(super) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Limits of the password verification endpoint.
    pub(super) fn verify_limiter(&self) -> &VerifyLimiter {
        &self.inner.verify_limiter
    }

    /// Stops the database writer once queued imports are done.
    pub async fn close(&self) {
        self.inner.store.close().await;
    }
}

/// Lets a handler close its connection without answering. Present in the
/// extensions of every request served by [`super::run`] or [`super::spawn`].
#[derive(Debug, Clone)]
pub struct ConnectionKill(Arc<Notify>);

impl ConnectionKill {
    /// A kill switch for a new connection.
    pub(super) fn new() -> ConnectionKill {
        ConnectionKill(Arc::new(Notify::new()))
    }

    /// Completes once a handler has fired the switch.
    pub(super) async fn fired(&self) {
        self.0.notified().await;
    }

    /// Closes the connection; the handler that calls this is dropped with it.
    pub fn fire(&self) {
        self.0.notify_one();
    }
}
