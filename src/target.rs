//! The target of an import: a tenant of a remote platform, or ferry's
//! reference server started in-process on a loopback port (the default, to
//! rehearse a migration). Either way the import talks to it over HTTP with
//! the same [`TargetClient`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::contract::api::Layout;
use crate::contract::choices::SaltConvention;
use crate::secret::ClientSecret;
use crate::send::client::{ClientConfig, TargetClient};
use crate::send::transport::ClientError;
use crate::server::{self, ServerConfig, ServerError, ServerHandle};

/// Where an import sends its users.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// A platform at `url`, with client credentials.
    Remote {
        /// The base URL.
        url: Url,
        /// The OAuth client id.
        client_id: String,
        /// The OAuth client secret.
        secret: ClientSecret,
    },
    /// The reference server, started in-process over the database `db`,
    /// with a fresh secret for this run.
    Embedded {
        /// Its SQLite database.
        db: PathBuf,
        /// The OAuth client id it accepts.
        client_id: String,
        /// How it reads a hash's salt: as the import writes it.
        salt: SaltConvention,
    },
}

/// What an embedded target is, for the line printed after the run.
#[derive(Debug)]
struct Embedded {
    /// The running server.
    handle: ServerHandle,
    /// Its database.
    db: PathBuf,
    /// Its tenant and pool.
    tenant: String,
    pool: String,
}

/// A target ready for an import: its client, and the embedded server if one was started.
#[derive(Debug)]
pub struct Connected {
    /// The client every sender shares (one connection pool).
    client: Arc<TargetClient>,
    /// The in-process server, stopped by [`Connected::shutdown`].
    embedded: Option<Embedded>,
}

/// The target could not be reached or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The embedded server could not start.
    #[error("cannot start the embedded target: {0}")]
    Server(#[from] ServerError),
    /// No loopback port could be bound for the embedded server.
    #[error("cannot listen on a loopback port for the embedded target: {0}")]
    Listen(#[from] std::io::Error),
    /// The embedded server's address is not a URL (a bug).
    #[error("the embedded target's address is not a URL: {0}")]
    Address(#[from] url::ParseError),
}

impl Connected {
    /// Builds the client for `tenant` of `spec` at `layout` (starting the
    /// embedded server with `tenant` and `pool` first: it serves every
    /// layout, `tenant` being its default for `vanity`), with
    /// `request_timeout` per request, a connection pool for `senders` and a
    /// token asking for `scope`.
    pub async fn connect(
        spec: &TargetSpec,
        layout: Layout,
        (tenant, pool): (&str, &str),
        request_timeout: Duration,
        (senders, scope): (usize, &str),
    ) -> Result<Connected, TargetError> {
        let (base, client_id, secret, embedded) = match spec {
            TargetSpec::Remote {
                url,
                client_id,
                secret,
            } => (url.clone(), client_id.clone(), secret.clone(), None),
            TargetSpec::Embedded {
                db,
                client_id,
                salt,
            } => {
                let secret = ClientSecret::generate();
                let mut config = ServerConfig::new(db, secret.clone());
                config.tenant_id = tenant.to_string();
                config.pool_id = pool.to_string();
                config.client_id = client_id.clone();
                config.salt = *salt;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let handle = server::spawn(config, listener).await?;
                let base = Url::parse(&handle.base_url())?;
                let embedded = Embedded {
                    handle,
                    db: db.clone(),
                    tenant: tenant.to_string(),
                    pool: pool.to_string(),
                };
                (base, client_id.clone(), secret, Some(embedded))
            }
        };
        let mut config = ClientConfig::new(base, tenant, client_id, secret);
        config.layout = layout;
        config.request_timeout = request_timeout;
        config.pool_size = senders;
        config.scope = scope.to_string();
        Ok(Connected {
            client: Arc::new(TargetClient::new(config)?),
            embedded,
        })
    }

    /// The client.
    pub fn client(&self) -> Arc<TargetClient> {
        self.client.clone()
    }

    /// Stops the embedded server, if one was started; returns the line that
    /// tells where its data is.
    pub async fn shutdown(self) -> Option<String> {
        let embedded = self.embedded?;
        embedded.handle.shutdown().await;
        Some(format!(
            "embedded target: {} (tenant {}, pool {}); browse it with: ferry serve --db {}",
            embedded.db.display(),
            embedded.tenant,
            embedded.pool,
            embedded.db.display()
        ))
    }
}
