//! Password verification, a ferry extension to the contract: proof that a
//! migrated user signs in with the password they always had.
//!
//! `POST` of [`crate::contract::api::PASSWORD_VERIFY`] with
//! `{"identifier": "...", "password": "..."}` and a bearer token of the
//! tenant (either scope), answers:
//!
//! | answer | when | the platform's v2 `result` |
//! |---|---|---|
//! | `200 {"user_id": "…"}` | the password matches a valid, unexpired credential of an `active` user | `password_correct` |
//! | `401 invalid_credentials` | no such identifier, no password credential, or a wrong password, whatever the user's state | `user_not_found`, `no_password`, `password_incorrect` |
//! | `401 credential_expired` | the password matches, but only credentials that expired or must be reset, of an `active` user | `password_expired` |
//! | `401 user_inactive` | the password matches but the user is not `active` | — |
//! | `429 throttled` | too many attempts for this identifier, or from this client | — |
//!
//! The password is checked first ([`decide`]): the user's state is told
//! only to who knows the password, so a caller without it learns nothing
//! about the identifier. A user whose only credential is an unusable
//! placeholder (`--unsupported-hash expire`) therefore gets
//! `invalid_credentials`: no password can be shown to be theirs.
//!
//! The five methods are verified exactly as the contract's encoding choices
//! define them ([`crate::contract::choices`]); digests are compared in
//! constant time. An unknown identifier, or a user without a password, is
//! checked against a dummy bcrypt hash of cost 12, so that its answer takes
//! about as long as a real user's and the time taken does not tell which
//! identifiers exist.
//!
//! Attempts are rate-limited per (tenant, pool, identifier) with a GCRA
//! limiter: a burst of [`BURST`], then one every [`REPLENISH`]; and per
//! (tenant, client the token was issued to): a burst of [`CLIENT_BURST`],
//! then one every [`CLIENT_REPLENISH`], so that one caller can neither spray
//! a password over every identifier nor keep the server's cores busy with
//! checks (the limiter is `src/server/attempts.rs`). Neither the password
//! nor the hash is ever logged or answered.

use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sha2::Digest;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

pub use super::attempts::{BURST, CLIENT_BURST, CLIENT_REPLENISH, REPLENISH};
use super::auth::Need;
use super::error::ApiError;
use super::state::AppState;
use super::store::accounts::{Account, AccountLookup, StoredPassword};
use crate::contract::choices::{decode_bytes, split_embedded_salt, NEVER_EXPIRES};
use crate::contract::records::{
    BcryptConfig, CredentialState, DigestFunction, ErrorBody, HashConfig, HashMethod,
    HashedPassword, UserStatus,
};
use crate::contract::rules::check_work_factor;

/// Longest accepted password, in bytes.
const MAX_PASSWORD: usize = 4096;

/// The body of a verification.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// An email, phone or other identifier of the user.
    identifier: String,
    /// The password to check.
    password: String,
}

/// Why a verification failed (all answered 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    InvalidCredentials,
    CredentialExpired,
    UserInactive,
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Refusal::InvalidCredentials => "invalid_credentials",
            Refusal::CredentialExpired => "credential_expired",
            Refusal::UserInactive => "user_inactive",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::InvalidCredentials => "the identifier or password is wrong",
            Refusal::CredentialExpired => "the password has expired and must be reset",
            Refusal::UserInactive => "the user is not active",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message().to_owned(),
            status_code: StatusCode::UNAUTHORIZED.as_u16(),
            error_code: self.code().to_owned(),
            details: None,
        };
        (StatusCode::UNAUTHORIZED, Json(body)).into_response()
    }
}

/// `POST` of [`crate::contract::api::PASSWORD_VERIFY`].
pub async fn verify(
    State(state): State<AppState>,
    Path((tid, pool)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<VerifyRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = state
        .tokens()
        .authorize(&headers, &tid, Need::Read, Instant::now())?;
    if !state.store().has_tenant(&tid) {
        return Err(ApiError::UnknownTenant);
    }
    let Json(request) = body.map_err(|_| ApiError::BadRequest {
        code: "invalid_request",
        message: "the body must be JSON {\"identifier\": \"...\", \"password\": \"...\"}".into(),
    })?;
    if request.password.len() > MAX_PASSWORD || request.identifier.len() > MAX_PASSWORD {
        return Ok(Refusal::InvalidCredentials.into_response());
    }
    let identifier_lc = request.identifier.trim().to_lowercase();
    let attempt = state.verify_limiter().attempt(
        format!("{tid}\0{}", caller.client_id),
        format!("{tid}\0{pool}\0{identifier_lc}"),
    );
    if let Err(throttle) = attempt {
        tracing::warn!(tenant = %tid, pool, client_id = %caller.client_id, limit = ?throttle, "Too many password attempts.");
        return Err(ApiError::Throttled {
            reason: throttle.reason(),
            retry_after: throttle.retry_after(),
        });
    }
    let lookup = state
        .store()
        .account(&tid, &pool, &identifier_lc)
        .await
        .map_err(|err| {
            tracing::error!(tenant = %tid, error = %err, "A password verification could not read the database.");
            ApiError::Internal
        })?;
    let account = match lookup {
        AccountLookup::UnknownPool => return Err(ApiError::UnknownPool),
        AccountLookup::NoUser => None,
        AccountLookup::Found(account) => Some(account),
    };
    let password = request.password;
    let now = OffsetDateTime::now_utc();
    let decision = tokio::task::spawn_blocking(move || {
        decide(account.as_ref(), &password, now, password_matches)
    })
    .await
    .map_err(|err| {
        tracing::error!(error = %err, "A password verification task failed.");
        ApiError::Internal
    })?;
    tracing::debug!(tenant = %tid, pool, ok = decision.is_ok(), "Password verified.");
    Ok(match decision {
        Ok(user_id) => Json(serde_json::json!({ "user_id": user_id })).into_response(),
        Err(refusal) => refusal.into_response(),
    })
}

/// A bcrypt hash, at cost 12, of a random password nobody kept: what an
/// unknown identifier, or a user without a password, is checked against.
/// Answering those at once would tell a caller, by the time taken, which
/// identifiers are users (a bcrypt-12 check takes a few hundred milliseconds,
/// a lookup a few). Cost 12 is the most common production cost; a dummy
/// check's result is never used.
const DUMMY_BCRYPT: &str = "$2b$12$OS2Z0GZ5YuJq9b611.Cp3eu4YnDoUdrdP2llxdYl0CV7OKcdGOcHW";

/// [`DUMMY_BCRYPT`] as a contract hash.
fn dummy_hash() -> HashedPassword {
    HashedPassword {
        config: HashConfig {
            bcrypt: Some(BcryptConfig { cost: 12 }),
            ..HashConfig::only(HashMethod::Bcrypt)
        },
        value: DUMMY_BCRYPT.to_owned(),
    }
}

/// What checking a password found, in the words of the platform's v2 answer
/// (`VerifyPasswordResponseDataV2.result`). ferry's endpoint answers the
/// first three alike ([`Refusal::InvalidCredentials`]): telling them apart
/// would tell a caller which identifiers are users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// No user has the identifier (the dummy hash was checked).
    UserNotFound,
    /// The user has no password credential (the dummy hash was checked).
    NoPassword,
    /// The password matches none of the user's credentials.
    PasswordIncorrect,
    /// The password matches only credentials that expired or must be reset.
    PasswordExpired,
    /// The password matches a valid, unexpired credential.
    PasswordCorrect,
}

/// The answer for `account` (`None`: no user has the identifier) and
/// `password` at `now`: the user id or why not. `matches` checks a password
/// against a hash ([`password_matches`]; tests pass one that records its
/// calls).
///
/// The password is checked before anything else, so a wrong one gets
/// [`Refusal::InvalidCredentials`] whatever the user's state; the state
/// (inactive, expired) is told only to who knows the password. An inactive
/// user is told so even when the password also expired: a reset would not
/// let them in.
pub fn decide(
    account: Option<&Account>,
    password: &str,
    now: OffsetDateTime,
    matches: impl FnMut(&HashedPassword, &str) -> bool,
) -> Result<uuid::Uuid, Refusal> {
    let finding = check_password(account, password, now, matches);
    match (finding, account) {
        (Finding::PasswordCorrect | Finding::PasswordExpired, Some(account)) => {
            if account.status != UserStatus::Active {
                Err(Refusal::UserInactive)
            } else if finding == Finding::PasswordExpired {
                Err(Refusal::CredentialExpired)
            } else {
                Ok(account.user_id)
            }
        }
        _ => Err(Refusal::InvalidCredentials),
    }
}

/// Checks `password` against every credential of `account`, usable or not,
/// so that the time taken says neither which one matched nor whether any is
/// usable; without a credential to check, against [`DUMMY_BCRYPT`], so that
/// it does not say whether the identifier exists.
fn check_password(
    account: Option<&Account>,
    password: &str,
    now: OffsetDateTime,
    mut matches: impl FnMut(&HashedPassword, &str) -> bool,
) -> Finding {
    let hashes: Vec<(&StoredPassword, &HashedPassword)> = account
        .map(|a| a.passwords.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.payload.hashed_password.as_ref().map(|h| (c, h)))
        .collect();
    if hashes.is_empty() {
        // The result is never used: no password can sign this identifier in.
        let _ = matches(&dummy_hash(), password);
        return match account {
            None => Finding::UserNotFound,
            Some(_) => Finding::NoPassword,
        };
    }
    let (mut usable_match, mut unusable_match) = (false, false);
    for (credential, hash) in hashes {
        let matched = matches(hash, password);
        if usable(credential, now) {
            usable_match |= matched;
        } else {
            unusable_match |= matched;
        }
    }
    match (usable_match, unusable_match) {
        (true, _) => Finding::PasswordCorrect,
        (false, true) => Finding::PasswordExpired,
        (false, false) => Finding::PasswordIncorrect,
    }
}

/// A credential may be used: valid (or stateless) and not expired.
fn usable(credential: &StoredPassword, now: OffsetDateTime) -> bool {
    let state_ok = matches!(credential.state, None | Some(CredentialState::Valid));
    let unexpired = match credential.expires_at {
        None => true,
        Some(t) if t == NEVER_EXPIRES => true,
        Some(t) => t > now,
    };
    state_ok && unexpired
}

/// Whether `password` matches `hash` under the contract's encoding choices.
/// A hash that cannot be decoded matches nothing, and so does one whose work
/// factor is above the contract's bounds (stored before they were enforced):
/// checking it would cost the server seconds to minutes per attempt.
pub fn password_matches(hash: &HashedPassword, password: &str) -> bool {
    if check_work_factor(hash).is_err() {
        return false;
    }
    let config = &hash.config;
    let password = password.as_bytes();
    match config.method {
        HashMethod::Bcrypt => bcrypt::verify(password, &hash.value).unwrap_or(false),
        HashMethod::Pbkdf2 => config.pbkdf2.as_ref().is_some_and(|c| {
            salted(&hash.value, c.salt.as_deref(), c.salt_length, false).is_some_and(
                |(salt, expected)| {
                    let mut out = vec![0u8; expected.len()];
                    let rounds = c.number_of_iterations;
                    let done = match c.function {
                        DigestFunction::Sha1 => {
                            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, &salt, rounds, &mut out);
                            true
                        }
                        DigestFunction::Sha256 => {
                            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, rounds, &mut out);
                            true
                        }
                        DigestFunction::Sha512 => {
                            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, &salt, rounds, &mut out);
                            true
                        }
                        DigestFunction::Sha384 => false,
                    };
                    done && bool::from(out.ct_eq(&expected))
                },
            )
        }),
        HashMethod::Argon2 => config.argon2.as_ref().is_some_and(|c| {
            salted(&hash.value, c.salt.as_deref(), c.salt_length, false).is_some_and(
                |(salt, expected)| {
                    let Ok(params) = Params::new(
                        c.memory_in_kb,
                        c.iterations,
                        c.parallelism,
                        Some(expected.len()),
                    ) else {
                        return false;
                    };
                    let mut out = vec![0u8; expected.len()];
                    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                        .hash_password_into(password, &salt, &mut out)
                        .is_ok()
                        && bool::from(out.ct_eq(&expected))
                },
            )
        }),
        HashMethod::Sha => config.sha.as_ref().is_some_and(|c| {
            salted(
                &hash.value,
                c.salt.as_deref(),
                c.salt_length,
                c.salt_after_digest_in_hash,
            )
            .is_some_and(|(salt, expected)| {
                let actual = match c.function {
                    DigestFunction::Sha1 => digest::<sha1::Sha1>(password, &salt),
                    DigestFunction::Sha256 => digest::<sha2::Sha256>(password, &salt),
                    DigestFunction::Sha384 => digest::<sha2::Sha384>(password, &salt),
                    DigestFunction::Sha512 => digest::<sha2::Sha512>(password, &salt),
                };
                bool::from(actual.ct_eq(&expected))
            })
        }),
        HashMethod::Md5 => {
            let (salt, salt_length, after) = match &config.md5 {
                Some(c) => (
                    c.salt.as_deref(),
                    c.salt_length,
                    c.salt_after_digest_in_hash,
                ),
                None => (None, 0, false),
            };
            salted(&hash.value, salt, salt_length, after).is_some_and(|(salt, expected)| {
                bool::from(digest::<md5::Md5>(password, &salt).ct_eq(&expected))
            })
        }
    }
}

/// H(password ‖ salt).
fn digest<D: Digest>(password: &[u8], salt: &[u8]) -> Vec<u8> {
    D::new()
        .chain_update(password)
        .chain_update(salt)
        .finalize()
        .to_vec()
}

/// (salt, digest) of a hash value: the separate `salt` field, or the salt
/// embedded in the value when `salt` is absent.
fn salted(
    value: &str,
    salt: Option<&str>,
    salt_length: u32,
    salt_after_digest: bool,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let decoded = decode_bytes(value).ok()?;
    match salt {
        Some(salt) => Some((decode_bytes(salt).ok()?, decoded)),
        None => {
            let (salt, digest) =
                split_embedded_salt(&decoded, salt_length as usize, salt_after_digest)?;
            Some((salt.to_vec(), digest.to_vec()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::records::{CredentialPayload, HashConfig, ShaConfig};
    use proptest::strategy::Strategy;

    /// `{SSHA}gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0` (SHA-1 of "secret" with salt
    /// "salt", made with Python's hashlib) as the contract carries it: the
    /// 4-byte salt after the digest in `value`.
    fn ssha_of_secret() -> HashedPassword {
        HashedPassword {
            config: HashConfig {
                sha: Some(ShaConfig {
                    function: DigestFunction::Sha1,
                    salt: None,
                    salt_length: 4,
                    salt_after_digest_in_hash: true,
                }),
                ..HashConfig::only(HashMethod::Sha)
            },
            value: "gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0".into(),
        }
    }

    fn account(status: UserStatus, expires_at: Option<OffsetDateTime>) -> Account {
        let hash = ssha_of_secret();
        Account {
            user_id: uuid::Uuid::from_u128(7),
            status,
            passwords: vec![StoredPassword {
                payload: CredentialPayload {
                    hashed_password: Some(hash),
                    other: Default::default(),
                },
                state: None,
                expires_at,
            }],
        }
    }

    #[test]
    fn answers_follow_the_documented_order() {
        let now = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let active = account(UserStatus::Active, None);
        assert_eq!(
            decide(Some(&active), "secret", now, password_matches),
            Ok(uuid::Uuid::from_u128(7))
        );
        assert_eq!(
            decide(Some(&active), "Secret", now, password_matches),
            Err(Refusal::InvalidCredentials)
        );
        let never = account(UserStatus::Active, Some(NEVER_EXPIRES));
        assert!(
            decide(Some(&never), "secret", now, password_matches).is_ok(),
            "1900-01-01 never expires"
        );
        let future = account(UserStatus::Active, Some(now + time::Duration::days(1)));
        assert!(decide(Some(&future), "secret", now, password_matches).is_ok());
        let past = account(UserStatus::Active, Some(now - time::Duration::days(1)));
        assert_eq!(
            decide(Some(&past), "secret", now, password_matches),
            Err(Refusal::CredentialExpired)
        );
        let inactive = account(UserStatus::Inactive, None);
        assert_eq!(
            decide(Some(&inactive), "secret", now, password_matches),
            Err(Refusal::UserInactive)
        );
        assert_eq!(
            decide(Some(&inactive), "wrong", now, password_matches),
            Err(Refusal::InvalidCredentials),
            "the status is only told to who knows the password"
        );
        let mut reset = account(UserStatus::Active, None);
        reset.passwords[0].state = Some(CredentialState::MustBeReset);
        assert_eq!(
            decide(Some(&reset), "secret", now, password_matches),
            Err(Refusal::CredentialExpired)
        );
        let mut none = account(UserStatus::Active, None);
        none.passwords.clear();
        assert_eq!(
            decide(Some(&none), "secret", now, password_matches),
            Err(Refusal::InvalidCredentials)
        );
    }

    /// The users of the decision table: `None` is an unknown identifier.
    fn table_user(state: &str, now: OffsetDateTime) -> Option<Account> {
        let past = Some(now - time::Duration::days(1));
        match state {
            "unknown" => None,
            "active" => Some(account(UserStatus::Active, None)),
            "inactive" => Some(account(UserStatus::Inactive, None)),
            "expired" => Some(account(UserStatus::Active, past)),
            "inactive+expired" => Some(account(UserStatus::Inactive, past)),
            _ => panic!("no such user state: {state}"),
        }
    }

    #[test]
    fn the_password_is_checked_before_the_users_state_is_told() {
        use Refusal::{CredentialExpired, InvalidCredentials, UserInactive};
        let now = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let ok = Ok(uuid::Uuid::from_u128(7));
        let table = [
            ("unknown", "secret", Err(InvalidCredentials)),
            ("unknown", "wrong", Err(InvalidCredentials)),
            ("active", "secret", ok),
            ("active", "wrong", Err(InvalidCredentials)),
            ("inactive", "secret", Err(UserInactive)),
            ("inactive", "wrong", Err(InvalidCredentials)),
            ("expired", "secret", Err(CredentialExpired)),
            ("expired", "wrong", Err(InvalidCredentials)),
            ("inactive+expired", "secret", Err(UserInactive)),
            ("inactive+expired", "wrong", Err(InvalidCredentials)),
        ];
        for (state, password, expected) in table {
            let user = table_user(state, now);
            let mut checks = 0;
            let answer = decide(user.as_ref(), password, now, |hash, password| {
                checks += 1;
                password_matches(hash, password)
            });
            assert_eq!(answer, expected, "{state} user, password {password:?}");
            assert_eq!(checks, 1, "{state} user, password {password:?}: one check");
        }
    }

    proptest::proptest! {
        /// Whatever the user's status, credential state and expiry, a wrong
        /// password gets the answer an unknown identifier gets.
        #[test]
        fn a_wrong_password_tells_nothing_about_the_user(
            status in proptest::sample::select(vec![
                UserStatus::Active, UserStatus::Inactive, UserStatus::Deleted, UserStatus::New,
            ]),
            state in proptest::option::of(proptest::sample::select(vec![
                CredentialState::Valid, CredentialState::MustBeReset, CredentialState::MustBeChanged,
            ])),
            expires_in_days in proptest::option::of(-1000i64..1000),
            wrong in "[a-zA-Z0-9]{0,12}".prop_filter("not the password", |p| p != "secret"),
        ) {
            let now = time::macros::datetime!(2026-11-23 12:00:00 UTC);
            let mut user = account(status, expires_in_days.map(|d| now + time::Duration::days(d)));
            user.passwords[0].state = state;
            // What an unknown identifier gets (the table above): computed
            // once there, as each dummy check costs a bcrypt-12.
            let unknown = Err(Refusal::InvalidCredentials);
            proptest::prop_assert_eq!(decide(Some(&user), &wrong, now, password_matches), unknown);
        }
    }

    #[test]
    fn unknown_identifiers_and_users_without_a_password_check_the_dummy() {
        let now = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let mut without = account(UserStatus::Active, None);
        without.passwords.clear();
        for account in [None, Some(&without)] {
            let mut checked = Vec::new();
            let answer = decide(account, "secret", now, |hash, _| {
                checked.push(hash.value.clone());
                true
            });
            assert_eq!(
                answer,
                Err(Refusal::InvalidCredentials),
                "a dummy match signs nobody in"
            );
            assert_eq!(checked, [DUMMY_BCRYPT]);
        }
    }

    #[test]
    fn the_dummy_is_a_real_bcrypt_12_check() {
        let dummy = dummy_hash();
        assert_eq!(super::super::hashcheck::check(&dummy), Ok(()));
        assert_eq!(dummy.config.bcrypt.map(|b| b.cost), Some(12));
        // bcrypt parses it, so the check spends the cost instead of failing fast.
        assert_eq!(bcrypt::verify("", DUMMY_BCRYPT).ok(), Some(false));
    }

    #[test]
    fn hashes_above_the_work_bounds_match_nothing() {
        // PBKDF2-SHA1 of "secret" with salt "salt" at 2^32−1 iterations would
        // take minutes; the bound refuses it before a single HMAC.
        let mut config = HashConfig::only(HashMethod::Pbkdf2);
        config.pbkdf2 = Some(crate::contract::records::Pbkdf2Config {
            function: DigestFunction::Sha1,
            number_of_iterations: u32::MAX,
            key_length: 20,
            salt: Some(crate::contract::choices::encode_bytes(b"salt")),
            salt_length: 4,
        });
        let hash = HashedPassword {
            config,
            value: crate::contract::choices::encode_bytes(&[0u8; 20]),
        };
        assert!(!password_matches(&hash, "secret"));
    }

    #[test]
    fn undecodable_hashes_match_nothing() {
        let mut hash = ssha_of_secret();
        hash.value = "not base64!".into();
        assert!(!password_matches(&hash, "secret"));
    }
}
