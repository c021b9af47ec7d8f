//! OAuth 2 client credentials: the token endpoint and bearer-token checks.
//!
//! Tokens are 32 random bytes, hex encoded, and live in memory only (a
//! restart invalidates them; clients fetch a new one on 401). The map is
//! keyed by the SHA-256 of the token, so the tokens themselves are not kept,
//! and each grant is bound to one tenant, a set of scopes and an expiry.
//! Client secrets are compared in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::config::ClientSecret;
use super::error::ApiError;
use crate::contract::api::{SCOPE_IDENTITY, SCOPE_MANAGE, SCOPE_READ};

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    /// `manage_configuration`: import (`PUT`), and export.
    pub manage: bool,
    /// `read_configuration`: export (`GET`).
    pub read: bool,
    /// `identity`: the platform's user endpoints, password verification
    /// among them. Given only when asked for: an importer does not need it,
    /// and a token that can check passwords should be one asked for on
    /// purpose.
    pub identity: bool,
}

impl Scopes {
    /// What a token request without `scope` gets: both configuration
    /// scopes (not `identity`, which is given only when asked for).
    pub const ALL: Scopes = Scopes {
        manage: true,
        read: true,
        identity: false,
    };

    /// Parses a space-separated `scope` parameter; `None` for an unknown scope.
    pub fn parse(text: &str) -> Option<Scopes> {
        let mut scopes = Scopes::default();
        for word in text.split_ascii_whitespace() {
            match word {
                SCOPE_MANAGE => scopes.manage = true,
                SCOPE_READ => scopes.read = true,
                SCOPE_IDENTITY => scopes.identity = true,
                _ => return None,
            }
        }
        Some(scopes)
    }

    /// The `scope` field of the token answer.
    pub fn to_scope_string(self) -> String {
        let mut words = Vec::new();
        if self.manage {
            words.push(SCOPE_MANAGE);
        }
        if self.read {
            words.push(SCOPE_READ);
        }
        if self.identity {
            words.push(SCOPE_IDENTITY);
        }
        words.join(" ")
    }
}

/// What a route needs from a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Import: `manage_configuration`.
    Manage,
    /// Export: `read_configuration` or `manage_configuration` (older revisions).
    Read,
    /// The platform's user endpoints (password verification): `identity`.
    Identity,
}

/// One issued token's rights.
#[derive(Debug, Clone)]
struct Grant {
    tenant: String,
    /// The client the token was issued to: whom its requests are counted
    /// against (password verification limits attempts per client).
    client_id: String,
    scopes: Scopes,
    expires: Instant,
}

/// Who a request with a valid token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The client the token was issued to.
    pub client_id: String,
}

/// The issued tokens.
#[derive(Debug)]
pub struct TokenStore {
    /// Lifetime of a new token.
    ttl: Duration,
    /// Grants by SHA-256 of the token.
    grants: Mutex<HashMap<[u8; 32], Grant>>,
}

/// Expired grants are swept when the map reaches this size.
const SWEEP_AT: usize = 1024;

impl TokenStore {
    /// An empty store issuing tokens valid for `ttl`.
    pub fn new(ttl: Duration) -> TokenStore {
        TokenStore {
            ttl,
            grants: Mutex::new(HashMap::new()),
        }
    }

    /// Issues a token for `tenant` to `client_id` with `scopes`; returns it
    /// and its lifetime.
    pub fn issue(
        &self,
        tenant: &str,
        client_id: &str,
        scopes: Scopes,
        now: Instant,
    ) -> (String, Duration) {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let grant = Grant {
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            scopes,
            expires: now + self.ttl,
        };
        let mut grants = self.lock();
        if grants.len() >= SWEEP_AT {
            grants.retain(|_, g| g.expires > now);
        }
        grants.insert(digest(&token), grant);
        (token, self.ttl)
    }

    /// Checks the bearer token of `headers` for `tenant` and `need`; returns
    /// who the token was issued to.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        tenant: &str,
        need: Need,
        now: Instant,
    ) -> Result<Caller, ApiError> {
        let token = bearer(headers).ok_or(ApiError::InvalidToken("is missing"))?;
        let grant = self
            .lock()
            .get(&digest(token))
            .cloned()
            .ok_or(ApiError::InvalidToken("is not valid"))?;
        if now >= grant.expires {
            return Err(ApiError::InvalidToken("has expired"));
        }
        if grant.tenant != tenant {
            return Err(ApiError::WrongTenant);
        }
        let allowed = match need {
            Need::Manage => grant.scopes.manage,
            Need::Read => grant.scopes.read || grant.scopes.manage,
            Need::Identity => grant.scopes.identity,
        };
        if !allowed {
            let scope = match need {
                Need::Manage => SCOPE_MANAGE,
                Need::Read => SCOPE_READ,
                Need::Identity => SCOPE_IDENTITY,
            };
            return Err(ApiError::InsufficientScope(scope));
        }
        Ok(Caller {
            client_id: grant.client_id,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Grant>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.grants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Client credentials presented with HTTP Basic (`client_secret_basic`).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Whether the presented credentials are the configured ones; the secret is
/// compared in constant time.
pub fn credentials_match(
    expected_id: &str,
    expected_secret: &ClientSecret,
    id: &str,
    secret: &str,
) -> bool {
    let id_ok = id == expected_id;
    let secret_ok = constant_time_eq(&digest(expected_secret.expose()), &digest(secret));
    id_ok & secret_ok
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers_with(auth: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        headers
    }

    #[test]
    fn token_is_bound_to_tenant_scope_and_time() {
        let store = TokenStore::new(Duration::from_secs(60));
        let now = Instant::now();
        let read_only = Scopes {
            read: true,
            ..Scopes::default()
        };
        let (token, ttl) = store.issue("a", "ferry", read_only, now);
        assert_eq!(ttl, Duration::from_secs(60));
        let headers = headers_with(&format!("Bearer {token}"));
        assert_eq!(
            store.authorize(&headers, "a", Need::Read, now).ok(),
            Some(Caller {
                client_id: "ferry".into()
            })
        );
        assert!(matches!(
            store.authorize(&headers, "a", Need::Manage, now),
            Err(ApiError::InsufficientScope(SCOPE_MANAGE))
        ));
        assert!(matches!(
            store.authorize(&headers, "a", Need::Identity, now),
            Err(ApiError::InsufficientScope(SCOPE_IDENTITY))
        ));
        let identity = Scopes {
            identity: true,
            ..Scopes::default()
        };
        let (other, _) = store.issue("a", "ferry", identity, now);
        let other = headers_with(&format!("Bearer {other}"));
        assert!(store.authorize(&other, "a", Need::Identity, now).is_ok());
        assert!(matches!(
            store.authorize(&other, "a", Need::Read, now),
            Err(ApiError::InsufficientScope(SCOPE_READ))
        ));
        assert!(matches!(
            store.authorize(&headers, "b", Need::Read, now),
            Err(ApiError::WrongTenant)
        ));
        assert!(matches!(
            store.authorize(&headers, "a", Need::Read, now + Duration::from_secs(60)),
            Err(ApiError::InvalidToken("has expired"))
        ));
        assert!(matches!(
            store.authorize(&headers_with("Bearer nope"), "a", Need::Read, now),
            Err(ApiError::InvalidToken("is not valid"))
        ));
        assert!(matches!(
            store.authorize(&HeaderMap::new(), "a", Need::Read, now),
            Err(ApiError::InvalidToken("is missing"))
        ));
    }

    #[test]
    fn scopes_parse_and_print() {
        assert_eq!(Scopes::parse(""), Some(Scopes::default()));
        assert_eq!(
            Scopes::parse("read_configuration manage_configuration"),
            Some(Scopes::ALL)
        );
        assert_eq!(Scopes::parse("admin"), None);
        let all_three = Scopes::parse("identity manage_configuration read_configuration");
        assert_eq!(
            all_three.map(Scopes::to_scope_string).as_deref(),
            Some("manage_configuration read_configuration identity")
        );
        assert_eq!(
            Scopes::ALL.to_scope_string(),
            "manage_configuration read_configuration"
        );
    }

    #[test]
    fn basic_auth_and_secret_comparison() {
        let encoded = STANDARD.encode("ferry:s3cret");
        let headers = headers_with(&format!("Basic {encoded}"));
        let (id, secret) = basic_credentials(&headers).unwrap();
        let expected = ClientSecret::new("s3cret");
        assert!(credentials_match("ferry", &expected, &id, &secret));
        assert!(!credentials_match("ferry", &expected, &id, "s3cret "));
        assert!(!credentials_match("other", &expected, &id, &secret));
        assert_eq!(basic_credentials(&headers_with("Basic !!")), None);
    }
}
