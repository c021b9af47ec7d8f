//! The connection loop: accepts TCP connections and serves each with hyper.
//!
//! ferry runs its own loop instead of `axum::serve` for one reason: an
//! injected drop must close the connection without an answer. Each
//! connection gets a [`ConnectionKill`] in its requests' extensions; a
//! handler that fires it makes the connection task drop the connection
//! future, which closes the socket with nothing written.
//!
//! Shutdown is graceful: the listener closes, every connection finishes the
//! request it is serving (idle keep-alive connections close at once; a
//! request still running after 30 s is cut off), then the database writer
//! finishes the imports already queued and closes.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use super::config::ServerConfig;
use super::error::ServerError;
use super::routes::app;
use super::state::{AppState, ConnectionKill};

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a shutdown waits for running requests (a stalled export
/// download, say) before it closes their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `config` on `listener` until `shutdown` completes, then shuts down
/// gracefully (see the module docs) and returns.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let state = AppState::open(config).await?;
    serve(listener, app(state.clone()), shutdown).await;
    state.close().await;
    Ok(())
}

/// A server running in the background, started by [`spawn`].
///
/// Dropping the handle also stops the server, without waiting for it;
/// call [`ServerHandle::shutdown`] to wait until the database is closed.
#[derive(Debug)]
pub struct ServerHandle {
    /// The address the listener is bound to.
    addr: SocketAddr,
    /// Completing it starts the graceful shutdown.
    stop: oneshot::Sender<()>,
    /// The server task; ends once the database is closed.
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The bound address (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, with a wildcard address replaced by the loopback one
    /// so that clients can connect to it.
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }

    /// Stops accepting connections, lets running requests finish, closes the
    /// database, and returns when all of that is done.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "The server task panicked.");
        }
    }
}

/// Opens the database and serves `config` on `listener` in a background
/// task. Returns once the server is ready to answer.
pub async fn spawn(
    config: ServerConfig,
    listener: TcpListener,
) -> Result<ServerHandle, ServerError> {
    let addr = listener.local_addr()?;
    let state = AppState::open(config).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            // A dropped handle stops the server too.
            let _ = stopped.await;
        };
        serve(listener, app(state.clone()), shutdown).await;
        state.close().await;
    });
    Ok(ServerHandle { addr, stop, task })
}

/// The accept loop; returns when `shutdown` has completed and every
/// connection has ended.
async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()> + Send) {
    tokio::pin!(shutdown);
    // `phase` tells connections to finish, then to stop; `alive` counts them.
    let (phase_tx, phase) = watch::channel(Phase::Serving);
    let (alive_tx, alive) = watch::channel(());
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = serve_connection(stream, peer, router.clone(), phase.clone());
                    let alive = alive.clone();
                    tokio::spawn(async move {
                        connection.await;
                        drop(alive);
                    });
                }
                Err(err) => {
                    tracing::warn!(error = %err, "Accepting a connection failed.");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("Shutting down: finishing running requests.");
    let _ = phase_tx.send(Phase::Finishing);
    drop(alive);
    if tokio::time::timeout(SHUTDOWN_GRACE, alive_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = alive_tx.receiver_count(),
            "Requests still running after the grace period; closing their connections."
        );
        let _ = phase_tx.send(Phase::Stopping);
        alive_tx.closed().await;
    }
}

/// Where a shutdown is, as seen by connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Normal operation.
    Serving,
    /// Finish the current request, then close.
    Finishing,
    /// Close now.
    Stopping,
}

/// Serves one connection until it closes, its kill switch fires, or the
/// server stops (then gracefully).
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut phase: watch::Receiver<Phase>,
) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %err, "Could not set TCP_NODELAY.");
    }
    let kill = ConnectionKill::new();
    let service = {
        let kill = kill.clone();
        router.map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(kill.clone());
            request.map(Body::new)
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(connection);
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%peer, error = %err, "Connection ended with an error.");
                }
                return;
            }
            () = kill.fired() => {
                tracing::debug!(%peer, "Connection closed without an answer.");
                return;
            }
            changed = phase.changed() => {
                let now = if changed.is_ok() { *phase.borrow_and_update() } else { Phase::Stopping };
                match now {
                    Phase::Serving => {}
                    Phase::Finishing => connection.as_mut().graceful_shutdown(),
                    Phase::Stopping => return,
                }
            }
        }
    }
}
