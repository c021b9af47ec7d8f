//! A running test server and a client for it.

use std::time::Duration;

use ferry::contract::api;
use ferry::contract::records::{ErrorBody, ImportBody, TokenResponse};

pub use crate::common::sorted;
use ferry::server::{self, ClientSecret, ServerConfig, ServerHandle};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use tempfile::TempDir;
use tokio::net::TcpListener;

pub const TENANT: &str = "demo";
pub const OTHER_TENANT: &str = "other";
pub const POOL: &str = "default";
pub const CLIENT_ID: &str = "ferry";
pub const SECRET: &str = "test-secret-not-for-production";

/// A server on 127.0.0.1:0 with its own database directory.
pub struct TestServer {
    pub handle: ServerHandle,
    pub dir: TempDir,
    pub client: reqwest::Client,
    pub config: ServerConfig,
}

/// The test configuration: tenants `demo` and `other`, pool `default`.
pub fn config(dir: &TempDir) -> ServerConfig {
    let mut config = ServerConfig::new(dir.path().join("target.db"), ClientSecret::new(SECRET));
    config.client_id = CLIENT_ID.into();
    config.extra_tenants = vec![OTHER_TENANT.into()];
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts with the test configuration changed by `change`.
    pub async fn start_with(change: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = config(&dir);
        change(&mut config);
        TestServer::start_in(dir, config).await
    }

    async fn start_in(dir: TempDir, config: ServerConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let handle = server::spawn(config.clone(), listener)
            .await
            .expect("server starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestServer {
            handle,
            dir,
            client,
            config,
        }
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(self) -> TestServer {
        let TestServer {
            handle,
            dir,
            config,
            ..
        } = self;
        handle.shutdown().await;
        TestServer::start_in(dir, config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    pub fn config_url(&self, tenant: &str) -> String {
        self.url(&api::CONFIGURATION.path([tenant]))
    }

    /// Asks for a token with Basic auth and the given form.
    pub async fn token_request(&self, tenant: &str, secret: &str, form: &str) -> Response {
        self.client
            .post(self.url(&api::TOKEN.path([tenant])))
            .basic_auth(CLIENT_ID, Some(secret))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .expect("token request")
    }

    /// A token with both scopes for `tenant`.
    pub async fn token(&self, tenant: &str) -> String {
        let response = self
            .token_request(tenant, SECRET, "grant_type=client_credentials")
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: TokenResponse = json(response).await;
        answer.access_token
    }

    /// A token for `tenant` with every scope, `identity` (the system pool
    /// and user endpoints) among them.
    pub async fn identity_token(&self, tenant: &str) -> String {
        let response = self
            .token_request(
                tenant,
                SECRET,
                "grant_type=client_credentials&scope=identity+manage_configuration+read_configuration",
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: TokenResponse = json(response).await;
        answer.access_token
    }

    /// `GET` of `path` (with its query) with `token`.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("get")
    }

    /// `POST` of the JSON `body` to `path` with `token`.
    pub async fn post_json(&self, path: &str, token: &str, body: &serde_json::Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("post")
    }

    /// `PUT` of `body` (any serialisable value) with `mode` (none: the default).
    pub async fn put(
        &self,
        tenant: &str,
        token: &str,
        mode: Option<&str>,
        body: &impl serde::Serialize,
    ) -> Response {
        self.put_raw(
            tenant,
            token,
            mode,
            "application/json",
            serde_json::to_vec(body).expect("body"),
        )
        .await
    }

    pub async fn put_raw(
        &self,
        tenant: &str,
        token: &str,
        mode: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        let mut url = self.config_url(tenant);
        if let Some(mode) = mode {
            url.push_str(&format!("?mode={mode}"));
        }
        self.client
            .put(url)
            .bearer_auth(token)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("put")
    }

    /// The export of `tenant` with `query` (e.g. `?pool_id=default`), parsed.
    pub async fn export(&self, tenant: &str, token: &str, query: &str) -> ImportBody {
        let response = self.export_response(tenant, token, query).await;
        assert_eq!(response.status(), StatusCode::OK);
        json(response).await
    }

    pub async fn export_response(&self, tenant: &str, token: &str, query: &str) -> Response {
        self.client
            .get(format!("{}{query}", self.config_url(tenant)))
            .bearer_auth(token)
            .send()
            .await
            .expect("export")
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }
}

pub async fn json<T: serde::de::DeserializeOwned>(response: Response) -> T {
    let bytes = response.bytes().await.expect("body");
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&bytes)))
}

/// Checks an error answer: status, contract error body with `error_code`.
/// Returns the body for further checks.
pub async fn expect_error(response: Response, status: u16, code: &str) -> ErrorBody {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: ErrorBody = json(response).await;
    assert_eq!(body.status_code, status, "{body:?}");
    assert_eq!(body.error_code, code, "{body:?}");
    assert!(!body.error.is_empty());
    body
}

/// The `details` field `key` of an error body.
pub fn detail<'a>(body: &'a ErrorBody, key: &str) -> &'a serde_json::Value {
    body.details
        .as_ref()
        .and_then(|d| d.get(key))
        .unwrap_or(&serde_json::Value::Null)
}

/// The `Ferry-Users-Existing` header of a 204.
pub fn users_existing(response: &Response) -> u64 {
    response
        .headers()
        .get(api::USERS_EXISTING_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Ferry-Users-Existing header")
}
