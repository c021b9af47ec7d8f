//! `ferry verify --sign-in FILE`: canary users signed in through the
//! platform's own password check (`POST …/user/password/v2/verify`), with
//! the passwords they had at the source.
//!
//! The file holds lines of `{"identifier": "...", "password": "..."}` (what
//! `ferry sample --plaintext-out` writes, or the canaries a team keeps). It
//! is read, never copied, and no password reaches a log, the summary or a
//! report: a canary is named by its identifier only. The source tells each
//! canary's hash method (the first password credential its user is sent
//! with), so the report says how many of each method sign in.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::contract::api::Endpoint;
use crate::contract::entry::Entry;
use crate::error::Error;
use crate::export::read::Requests;
use crate::send::deliver::Effort;

/// One canary of the file. Its `Debug` never shows the password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// An identifier of the user.
    pub identifier: String,
    /// The password the user had at the source.
    password: String,
}

impl std::fmt::Debug for Canary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canary")
            .field("identifier", &self.identifier)
            .finish_non_exhaustive()
    }
}

/// The canaries of `path`, in file order. A line that is not a canary is
/// a usage error naming its line number, never its text.
pub fn read(path: &Path) -> Result<Vec<Canary>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read the canaries {}: {e}", path.display())))?;
    let mut canaries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let canary: Canary = serde_json::from_str(line).map_err(|_| {
            Error::Usage(format!(
                "{} line {}: not {{\"identifier\": \"...\", \"password\": \"...\"}}",
                path.display(),
                n + 1
            ))
        })?;
        canaries.push(canary);
    }
    Ok(canaries)
}

/// Each canary's hash method, by lower-cased identifier, as the source
/// sends it: filled while the source is mapped.
#[derive(Debug, Default)]
pub struct Methods(HashMap<String, Option<String>>);

impl Methods {
    /// Methods to find for `canaries`.
    pub fn wanted(canaries: &[Canary]) -> Methods {
        Methods(
            canaries
                .iter()
                .map(|c| (c.identifier.trim().to_lowercase(), None))
                .collect(),
        )
    }

    /// Notes the method of `entry` for each canary identifier it has.
    pub fn note(&mut self, entry: &Entry) {
        if self.0.is_empty() {
            return;
        }
        for identifier in &entry.identifiers {
            if let Some(slot) = self.0.get_mut(&identifier.identifier_lc) {
                let method = entry
                    .credentials
                    .iter()
                    .find_map(|c| c.payload.hashed_password.as_ref())
                    .map_or("no password".to_string(), |h| {
                        serde_json::to_value(h.config.method)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    });
                *slot = Some(method);
            }
        }
    }

    fn of(&self, identifier: &str) -> String {
        self.0
            .get(&identifier.trim().to_lowercase())
            .cloned()
            .flatten()
            .unwrap_or_else(|| "not in the source".to_string())
    }
}

/// How the canaries signed in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SignInReport {
    /// Canaries checked.
    pub checked: u64,
    /// Of them, those whose password the target found correct.
    pub signed_in: u64,
    /// Per hash method: (checked, signed in).
    pub by_method: BTreeMap<String, (u64, u64)>,
    /// The canaries that did not sign in: identifier, method, the
    /// endpoint's `result` (or the HTTP status).
    pub failed: Vec<(String, String, String)>,
}

impl SignInReport {
    /// Every canary signed in.
    pub fn all_signed_in(&self) -> bool {
        self.signed_in == self.checked
    }

    /// The summary lines.
    pub fn summary(&self) -> String {
        let methods: Vec<String> = self
            .by_method
            .iter()
            .map(|(method, (checked, ok))| format!("{method} {ok}/{checked}"))
            .collect();
        let mut text = format!(
            "sign-in: {} of {} canaries signed in with their old password ({})",
            self.signed_in,
            self.checked,
            methods.join(", ")
        );
        for (identifier, method, result) in &self.failed {
            text.push_str(&format!("\n  {identifier} ({method}): {result}"));
        }
        text
    }
}

/// Signs each canary in at the pool of `requests`, naming each one's
/// method from `methods`.
pub async fn check(
    requests: &Requests,
    pool: &str,
    canaries: &[Canary],
    methods: &Methods,
) -> Result<SignInReport, Error> {
    let url = requests
        .client
        .url(Endpoint::PasswordVerify, pool, "")
        .map_err(|e| Error::Usage(e.to_string()))?;
    let mut sender = requests.sender(0);
    let mut report = SignInReport::default();
    for canary in canaries {
        let body =
            serde_json::json!({"identifier": canary.identifier, "password": canary.password});
        let mut effort = Effort::default();
        let answer = sender
            .lookup(&url, Bytes::from(body.to_string()), &mut effort)
            .await
            .map_err(|e| Error::Usage(format!("the target's password check: {e}")))?;
        let result = match answer {
            None => "404 (unknown pool)".to_string(),
            Some(got) => serde_json::from_slice::<serde_json::Value>(&got.body)
                .ok()
                .and_then(|v| v["result"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "an answer without a result".to_string()),
        };
        let method = methods.of(&canary.identifier);
        let counts = report.by_method.entry(method.clone()).or_default();
        counts.0 += 1;
        report.checked += 1;
        if result == "password_correct" {
            counts.1 += 1;
            report.signed_in += 1;
        } else {
            report
                .failed
                .push((canary.identifier.clone(), method, result));
        }
    }
    Ok(report)
}
