//! The salt convention of `ferry serve --salt`, checked with the salt of
//! the platform's migration guide, and the verify endpoint's two ways of
//! naming a user (`identifier`, `userID`).
//!
//! The guide's sample credential has `"salt": "lJgayFHwYelZGmrBnYqt",
//! "salt_length": 20`: twenty characters of text (as base64 they would be
//! 15 bytes). Its body is in the 2022 shape, without `identifier_lc`.

use base64::Engine;
use ferry::contract::api::{Endpoint, Layout, Params};
use ferry::server::SaltConvention;
use serde_json::{json, Value};

use super::support::{expect_error, json, TestServer, POOL, TENANT};

const GUIDE_SALT: &str = "lJgayFHwYelZGmrBnYqt";
const PASSWORD: &str = "P@ssw0rd from the old system";
const T0: &str = "2022-06-01T12:00:00Z";
const USER: &str = "0f4a5c1e-8b2d-4f3a-9c6e-1d2b3a4c5e6f";

/// A user with a pbkdf2 credential salted with the guide's salt as text,
/// as the guide prints its sample (no `*_lc` fields).
fn guide_body() -> Value {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(PASSWORD.as_bytes(), GUIDE_SALT.as_bytes(), 1000, &mut key);
    let value = base64::engine::general_purpose::STANDARD.encode(key);
    let at = |id: &str| {
        json!({"id": id, "tenant_id": TENANT, "user_pool_id": POOL, "user_id": USER,
            "created_at": T0, "updated_at": T0})
    };
    let mut credential = at("1f4a5c1e-8b2d-4f3a-9c6e-1d2b3a4c5e6f");
    credential.as_object_mut().unwrap().extend(
        json!({"type": "password", "payload": {"hashed_password": {"value": value, "config": {
            "method": "pbkdf2",
            "pbkdf2": {"function": "SHA-256", "number_of_iterations": 1000, "key_length": 32,
                "salt": GUIDE_SALT, "salt_length": 20}}}}})
        .as_object()
        .unwrap()
        .clone(),
    );
    let mut identifier = at("2f4a5c1e-8b2d-4f3a-9c6e-1d2b3a4c5e6f");
    identifier.as_object_mut().unwrap().extend(
        json!({"type": "email", "identifier": "Guide.User@Example.com"})
            .as_object()
            .unwrap()
            .clone(),
    );
    json!({
        "users": [{"id": USER, "tenant_id": TENANT, "user_pool_id": POOL, "status": "active",
            "created_at": T0, "updated_at": T0}],
        "user_credentials": [credential],
        "user_identifiers": [identifier],
    })
}

/// The v2 verify answer for `body`.
async fn verify(server: &TestServer, token: &str, body: Value) -> (u16, Value) {
    let path = Layout::default().path(Endpoint::PasswordVerify, Params::pool(TENANT, POOL));
    let response = server.post_json(&path, token, &body).await;
    let status = response.status().as_u16();
    (status, json(response).await)
}

#[tokio::test]
async fn the_guides_text_salt_imports_and_signs_in_at_salt_text() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    let answer = server.put(TENANT, &token, None, &guide_body()).await;
    assert_eq!(answer.status(), 204);
    let by_identifier = json!({"identifier": "guide.user@example.com", "password": PASSWORD});
    let (status, body) = verify(&server, &token, by_identifier).await;
    assert_eq!(
        (status, &body["result"]),
        (200, &json!("password_correct")),
        "{body}"
    );
    assert_eq!(body["id"], USER);
    let wrong = json!({"identifier": "guide.user@example.com", "password": "guess"});
    assert_eq!(
        verify(&server, &token, wrong).await.1["result"],
        "password_incorrect"
    );
}

#[tokio::test]
async fn at_salt_base64_the_guides_salt_is_refused_naming_it() {
    let server = TestServer::start_with(|c| c.salt = SaltConvention::Base64).await;
    let token = server.identity_token(TENANT).await;
    let answer = server.put(TENANT, &token, None, &guide_body()).await;
    let error = expect_error(answer, 400, "invalid_record").await;
    let text = format!("{} {:?}", error.error, error.details);
    assert!(text.contains("config.pbkdf2.salt"), "{text}");
    assert!(text.contains("salt_length"), "{text}");
    assert!(!text.contains(GUIDE_SALT), "the salt is not echoed: {text}");
}

#[tokio::test]
async fn a_user_is_verified_by_user_id_and_attempts_count_against_the_user() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    assert_eq!(
        server
            .put(TENANT, &token, None, &guide_body())
            .await
            .status(),
        204
    );
    for id_field in ["userID", "id"] {
        let (status, body) = verify(
            &server,
            &token,
            json!({id_field: USER, "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            (status, &body["result"]),
            (200, &json!("password_correct")),
            "{id_field}: {body}"
        );
        assert_eq!(body["id"], USER);
    }
    let (_, body) = verify(
        &server,
        &token,
        json!({"userID": USER, "password": "guess"}),
    )
    .await;
    assert_eq!(body["result"], "password_incorrect");
    for unknown in [
        "9f4a5c1e-8b2d-4f3a-9c6e-1d2b3a4c5e6f",
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let (status, body) = verify(
            &server,
            &token,
            json!({"userID": unknown, "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            (status, body),
            (
                200,
                json!({"id": "", "state": "valid", "result": "user_not_found"})
            ),
            "{unknown}"
        );
    }
    let (status, _) = verify(&server, &token, json!({"password": PASSWORD})).await;
    assert_eq!(status, 422, "neither an identifier nor a userID");
    // Wrong guesses by identifier use up the attempts by id as well.
    let burst = ferry::server::verify::BURST as usize;
    for _ in 0..burst {
        verify(
            &server,
            &token,
            json!({"identifier": "guide.user@example.com", "password": "guess"}),
        )
        .await;
    }
    let (status, _) = verify(
        &server,
        &token,
        json!({"userID": USER, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 429, "the same user, named by its id, waits too");
}
