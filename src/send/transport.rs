//! What the import and token requests share below the HTTP status: turning
//! a base URL and path segments into a request URL, reading an answer's
//! body up to a limit, and classifying a request that got no answer.
//!
//! Both [`super::client`] and [`super::token`] build on these; neither
//! decides anything (that is [`super::retry`]'s job).

use std::error::Error as _;
use std::io;

use url::Url;

use super::retry::TransportKind;

/// The client could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is not an `http` or `https` URL that paths can be added to.
    #[error("the target URL {url} must be an http:// or https:// URL")]
    BadBase {
        /// The URL given.
        url: String,
    },
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot set up the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// A request got no HTTP answer. Holds the URL, never the body. Cloned to
/// hand one failed token fetch to every caller that waited for it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind} error while talking to the target")]
pub struct TransportError {
    /// The class the retry policy works on.
    kind: TransportKind,
    /// What reqwest reported.
    #[source]
    source: std::sync::Arc<reqwest::Error>,
}

impl TransportError {
    /// Classifies a reqwest error.
    pub(crate) fn new(source: reqwest::Error) -> Self {
        TransportError {
            kind: classify(&source),
            source: std::sync::Arc::new(source),
        }
    }

    /// The class of the failure.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }
}

/// Sorts a reqwest error into the classes of the retry policy.
fn classify(err: &reqwest::Error) -> TransportKind {
    if err.is_timeout() {
        return TransportKind::Timeout;
    }
    if err.is_connect() {
        return TransportKind::Connect;
    }
    let mut cause = err.source();
    while let Some(current) = cause {
        if let Some(hyper_err) = current.downcast_ref::<hyper::Error>() {
            if hyper_err.is_incomplete_message() || hyper_err.is_canceled() {
                return TransportKind::Closed;
            }
        }
        if let Some(io_err) = current.downcast_ref::<io::Error>() {
            if is_closed(io_err.kind()) {
                return TransportKind::Closed;
            }
        }
        cause = current.source();
    }
    TransportKind::Other
}

/// I/O error kinds that mean the peer closed the connection.
fn is_closed(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// `base` with `segments` appended as path segments (each escaped), so that
/// a base with a path prefix and odd tenant ids both work.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Result<Url, ClientError> {
    let bad = || ClientError::BadBase {
        url: base.to_string(),
    };
    if !matches!(base.scheme(), "http" | "https") {
        return Err(bad());
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| bad())?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Reads at most `limit` bytes of an answer's body, dropping the rest.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_append_escaped_segments_to_the_base() {
        let url = |base: &str, tenant| {
            endpoint(
                &Url::parse(base).unwrap(),
                &["api", tenant, "configuration"],
            )
            .map(|u| u.to_string())
        };
        let table = [
            ("http://h:1", "t", "http://h:1/api/t/configuration"),
            ("http://h:1/", "t", "http://h:1/api/t/configuration"),
            (
                "https://h/prefix/",
                "t",
                "https://h/prefix/api/t/configuration",
            ),
            (
                "https://h/prefix?x=1#f",
                "t",
                "https://h/prefix/api/t/configuration",
            ),
            ("http://h/", "a/b c", "http://h/api/a%2Fb%20c/configuration"),
        ];
        for (base, tenant, expected) in table {
            assert_eq!(url(base, tenant).unwrap(), expected, "{base} {tenant}");
        }
        assert!(matches!(
            url("ftp://h/", "t"),
            Err(ClientError::BadBase { .. })
        ));
        assert!(matches!(
            url("mailto:x@y", "t"),
            Err(ClientError::BadBase { .. })
        ));
    }

    /// For every endpoint at every layout, the URL the client builds from its segments
    /// reaches the route the server registers for it, which reads back the
    /// same parameters; so does the path of [`ContractPath::path`].
    #[tokio::test]
    async fn client_urls_reach_the_server_routes_with_their_parameters() {
        use std::collections::HashMap;

        use axum::body::Body;
        use axum::extract::Path;
        use axum::http::Request;
        use axum::routing::any;
        use axum::Router;
        use tower::ServiceExt as _;

        use crate::contract::api;

        let base = Url::parse("http://h/").unwrap();
        for tid in ["acme", "a/b c", "t+ü:@%"] {
            let (pool, user, schema) = ("p 1", "u/1", "s:1");
            let mut cases = Vec::new();
            for layout in api::Layout::ALL {
                for endpoint in api::Endpoint::ALL {
                    let params = api::Params {
                        schema,
                        ..api::Params::user(tid, pool, user)
                    };
                    let route = layout.route(endpoint);
                    let expected: Vec<(&str, &str)> = [
                        ("tid", tid),
                        ("ipID", pool),
                        ("userID", user),
                        ("schID", schema),
                    ]
                    .into_iter()
                    .filter(|(name, _)| route.contains(&format!("{{{name}}}")))
                    .collect();
                    cases.push((
                        route,
                        layout.segments(endpoint, params),
                        layout.path(endpoint, params),
                        expected,
                    ));
                }
            }
            for (route, segments, path, params) in cases {
                let expected: HashMap<String, String> = params
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                let router = Router::new().route(
                    &route,
                    any(|p: Option<Path<HashMap<String, String>>>| async move {
                        serde_json::to_string(&p.map(|Path(p)| p).unwrap_or_default()).unwrap()
                    }),
                );
                let url = endpoint(&base, &segments).unwrap();
                for target in [url.path().to_owned(), path] {
                    let request = Request::get(&target).body(Body::empty()).unwrap();
                    let response = router.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200, "{route} {target}");
                    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                        .await
                        .unwrap();
                    let seen: HashMap<String, String> = serde_json::from_slice(&body).unwrap();
                    assert_eq!(seen, expected, "{route} {target}");
                }
            }
        }
    }
}
