//! The server's configuration: one immutable value, validated once by
//! [`ServerConfig::validate`] before anything is opened or bound.
//!
//! The CLI (`ferry serve`), the importer's embedded target and the tests all
//! build a [`ServerConfig`]; [`ServerConfig::new`] gives the defaults of the
//! command line for a given database path, so a test only states what it
//! changes.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::contract::choices::SaltConvention;
pub use crate::secret::ClientSecret;

/// Default `--token-ttl`: one hour, as the platform's tokens.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Default `--max-body`: 10 MiB.
pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
/// Default `--tenant`.
pub const DEFAULT_TENANT: &str = "demo";
/// Default `--pool`.
pub const DEFAULT_POOL: &str = "default";
/// Default client id when `FERRY_CLIENT_ID` is unset.
pub const DEFAULT_CLIENT_ID: &str = "ferry";

/// Everything the server needs to run. Build it with [`ServerConfig::new`]
/// and change fields as needed; [`crate::server::spawn`] validates it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The SQLite database file; created with its schema when missing. The
    /// export opens its own read connections on it, so it must be a file,
    /// not `:memory:`.
    pub db_path: PathBuf,
    /// The tenant made sure to exist at start (`--tenant`).
    pub tenant_id: String,
    /// The pool made sure to exist in every configured tenant (`--pool`).
    pub pool_id: String,
    /// More tenants to create at start, each with `pool_id`: lets one server
    /// play several tenants, e.g. to check that a token of one is refused on another.
    pub extra_tenants: Vec<String>,
    /// The OAuth client id every token request must present.
    pub client_id: String,
    /// The OAuth client secret; its `Debug` never shows it.
    pub client_secret: ClientSecret,
    /// Lifetime of an issued token (`--token-ttl`). Zero issues tokens that
    /// are already expired, which is how tests exercise the 401 for an expired token.
    pub token_ttl: Duration,
    /// Largest accepted request body in bytes (`--max-body`); larger bodies get 413.
    pub max_body: usize,
    /// When a commit is forced to stable storage, see [`Durability`].
    pub durability: Durability,
    /// How a hash's `salt` is read (`--salt`): as text, the default, or as
    /// base64 of the raw bytes ([`SaltConvention`]).
    pub salt: SaltConvention,
    /// Injected failures, all off by default.
    pub faults: FaultConfig,
}

impl ServerConfig {
    /// The command line's defaults (tenant `demo`, pool `default`, client id
    /// `ferry`, one-hour tokens, 10 MiB bodies, no faults) on `db_path`, with
    /// the given client secret.
    pub fn new(db_path: impl Into<PathBuf>, client_secret: ClientSecret) -> ServerConfig {
        ServerConfig {
            db_path: db_path.into(),
            tenant_id: DEFAULT_TENANT.to_owned(),
            pool_id: DEFAULT_POOL.to_owned(),
            extra_tenants: Vec::new(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret,
            token_ttl: DEFAULT_TOKEN_TTL,
            max_body: DEFAULT_MAX_BODY,
            durability: Durability::default(),
            salt: SaltConvention::default(),
            faults: FaultConfig::default(),
        }
    }

    /// All tenants to create at start: `tenant_id` first, then `extra_tenants`.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.tenant_id.as_str())
            .chain(self.extra_tenants.iter().map(String::as_str))
    }

    /// Checks every value once, so the rest of the server can trust them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for tenant in self.tenants() {
            check_name("tenant id", tenant)?;
        }
        check_name("pool id", &self.pool_id)?;
        if self.client_id.is_empty() {
            return Err(ConfigError::Invalid("the client id is empty".into()));
        }
        if self.client_secret.expose().is_empty() {
            return Err(ConfigError::Invalid("the client secret is empty".into()));
        }
        if self.max_body == 0 {
            return Err(ConfigError::Invalid("--max-body must be above 0".into()));
        }
        self.faults.validate()
    }
}

/// Tenant and pool ids appear in URL paths: keep them to a safe alphabet.
fn check_name(what: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "{what} '{name}' must be 1 to 128 characters of letters, digits, '-', '_' and '.'"
        )))
    }
}

/// A configuration value that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// What is wrong, in a sentence naming the flag or field.
    #[error("invalid server configuration: {0}")]
    Invalid(String),
}

/// When SQLite forces a commit to stable storage.
///
/// The database always runs in WAL mode. A commit appends to the WAL with a
/// `write()` before the server answers 204, so with either choice an
/// acknowledged import survives a `kill -9` of the server process (the data is
/// in the operating system's page cache). They differ on power loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: the WAL is fsynced at checkpoints only. Survives
    /// a process crash; the last commits may be lost on power loss or an OS
    /// crash. The default: one fsync per request would cap a laptop's import
    /// rate at its disk's flush rate.
    #[default]
    Process,
    /// `synchronous=FULL`: the WAL is fsynced at every commit, so an
    /// acknowledged import also survives power loss.
    PowerLoss,
}

/// Injected failures for reliability tests and rehearsals. All off by default;
/// with `seed` set, a sequence of requests sees the same faults on every run.
///
/// Faults apply to the import (`PUT`) only: the token endpoint, the export and
/// the operations routes always answer faithfully, so a test can read back the
/// ground truth after a faulty run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Share of imports answered 503 before the database is touched.
    pub fail_rate: f64,
    /// Share of imports answered 429 with `Retry-After`.
    pub throttle_rate: f64,
    /// Share of imports whose connection is closed without an answer; in half
    /// of those the request is committed first (a write that happened but was
    /// never acknowledged).
    pub drop_rate: f64,
    /// Added latency before an import is processed.
    pub latency: Option<LatencyRange>,
    /// Imports allowed to run at once; one more is answered 429.
    pub max_in_flight: Option<usize>,
    /// Seed of the fault generator; without it the faults differ every run.
    pub seed: Option<u64>,
}

impl FaultConfig {
    /// Whether any fault may be injected (the import path skips the generator otherwise).
    pub fn any(&self) -> bool {
        self.fail_rate > 0.0
            || self.throttle_rate > 0.0
            || self.drop_rate > 0.0
            || self.latency.is_some()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (flag, rate) in [
            ("--fail-rate", self.fail_rate),
            ("--throttle-rate", self.throttle_rate),
            ("--drop-rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::Invalid(format!(
                    "{flag} must be between 0 and 1, not {rate}"
                )));
            }
        }
        if self.max_in_flight == Some(0) {
            return Err(ConfigError::Invalid(
                "--max-in-flight must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// An added latency, drawn uniformly from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyRange {
    /// Shortest added latency.
    pub min: Duration,
    /// Longest added latency; equal to `min` for a fixed latency.
    pub max: Duration,
}

impl std::str::FromStr for LatencyRange {
    type Err = String;

    /// Parses `MIN` or `MIN..MAX`, in milliseconds.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("'{part}' is not a whole number of milliseconds"))
        };
        let (min, max) = match s.split_once("..") {
            Some((min, max)) => (parse(min)?, parse(max)?),
            None => {
                let fixed = parse(s)?;
                (fixed, fixed)
            }
        };
        if min > max {
            return Err(format!(
                "latency range '{s}' has its minimum above its maximum"
            ));
        }
        Ok(LatencyRange { min, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_ranges() {
        let fixed: LatencyRange = "25".parse().unwrap();
        assert_eq!(fixed.min, Duration::from_millis(25));
        assert_eq!(fixed.max, Duration::from_millis(25));
        let range: LatencyRange = "5..50".parse().unwrap();
        assert_eq!(range.min, Duration::from_millis(5));
        assert_eq!(range.max, Duration::from_millis(50));
        for bad in ["", "x", "50..5", "1..", "-3", "1.5"] {
            assert!(bad.parse::<LatencyRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_is_redacted_in_debug() {
        let config = ServerConfig::new("x.db", ClientSecret::new("hunter2-very-secret"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn validation_rejects_bad_values() {
        let base = ServerConfig::new("x.db", ClientSecret::new("s"));
        assert!(base.validate().is_ok());
        let mut bad = base.clone();
        bad.tenant_id = "a/b".into();
        assert!(bad.validate().is_err());
        let mut bad = base.clone();
        bad.faults.drop_rate = 1.5;
        assert!(bad.validate().is_err());
        let mut bad = base.clone();
        bad.faults.max_in_flight = Some(0);
        assert!(bad.validate().is_err());
        let mut bad = base;
        bad.client_secret = ClientSecret::new("");
        assert!(bad.validate().is_err());
    }
}
