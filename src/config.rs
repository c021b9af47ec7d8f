//! The configuration of an import, validated once.
//!
//! The binary fills [`ImportOptions`] with values as the flags give them (and
//! ferry's defaults for the rest); [`ImportOptions::validate`] checks them,
//! loads the mapping file and the client secret, and builds the immutable
//! [`ImportConfig`] the run receives (ripgrep's low-level arguments turned
//! into high-level ones). Nothing rewrites it afterwards: what a resumed run
//! takes from its checkpoint (the import time) is decided when the run
//! starts, beside the configuration, not in it.

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;
use url::Url;

use crate::batch::DEFAULT_BATCH_SIZE;
use crate::contract::api::Layout;
use crate::contract::choices::SaltConvention;
use crate::contract::records::IdentifierType;
use crate::contract::ImportMode;
use crate::error::Error;
use crate::mapping::passwords::{PasswordPolicy, UnsupportedPolicy};
use crate::mapping::MappingConfig;
use crate::pipeline::{BodySettings, ImportTime};
use crate::progress::ProgressMode;
use crate::secret::ClientSecret;
use crate::send::backoff::Backoff;
use crate::source::{Format, Input};
use crate::target::{Connected, TargetError, TargetSpec};

/// An import as asked for, before validation: every value ferry accepts, with
/// its defaults ([`ImportOptions::new`]).
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Where rows come from.
    pub source: Input,
    /// Its format; by default from the file extension.
    pub format: Option<Format>,
    /// A mapping file (TOML); by default the column names are ferry's fields.
    pub mapping: Option<PathBuf>,
    /// A preset: a mapping shipped inside ferry (`--from auth0`).
    pub from: Option<String>,
    /// A file joined into the source by the mapping's `[join]` (`--join`).
    pub join: Option<PathBuf>,
    /// The tenant imported into.
    pub tenant: String,
    /// The pool imported into.
    pub pool: String,
    /// Users per request body.
    pub batch_size: usize,
    /// A pinned import time; by default now (and a resumed run's own).
    pub import_time: Option<OffsetDateTime>,
    /// Overrides the mapping file's password policy.
    pub passwords: Option<PasswordPolicy>,
    /// Overrides the mapping file's treatment of unverifiable hashes.
    pub unsupported_hash: Option<UnsupportedPolicy>,
    /// Overrides the mapping file's salt convention of the target.
    pub target_salt: Option<SaltConvention>,
    /// The target's base URL; `None` starts the reference server in-process over `db`.
    pub target: Option<Url>,
    /// Where the target serves each endpoint under its base URL.
    pub layout: Layout,
    /// The embedded target's database.
    pub db: PathBuf,
    /// The OAuth client id.
    pub client_id: String,
    /// A file holding the client secret (else `FERRY_CLIENT_SECRET`); remote targets only.
    pub client_secret_file: Option<PathBuf>,
    /// Accept a plain `http://` target that is not this machine (the secret
    /// and every hash then cross the network in clear text).
    pub allow_insecure_http: bool,
    /// How existing records are treated.
    pub mode: ImportMode,
    /// Requests in flight.
    pub concurrency: usize,
    /// Users per second, if limited.
    pub rate: Option<NonZeroU32>,
    /// The first retry's longest wait.
    pub retry_base: Duration,
    /// The longest wait between two attempts.
    pub retry_cap: Duration,
    /// Attempts per request before the run stops (429s use none).
    pub max_attempts: u32,
    /// Longest time one batch may be throttled (429) before the run stops.
    pub throttle_deadline: Duration,
    /// Time limit of one request.
    pub request_timeout: Duration,
    /// The checkpoint file; by default `SOURCE.ferry-checkpoint` (none for standard input).
    pub checkpoint: Option<PathBuf>,
    /// Ignore (and replace) an existing checkpoint.
    pub restart: bool,
    /// The rejects file; by default `SOURCE.rejects.jsonl`.
    pub rejects: Option<PathBuf>,
    /// Where the final report goes as JSON, if anywhere.
    pub report: Option<PathBuf>,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// How long requests in flight may finish after a stop signal.
    pub grace: Duration,
    /// Seed of the retry jitter, for reproducible runs.
    pub seed: Option<u64>,
    /// Whole batches in a row the target refuses for one reason before the
    /// run stops (0: never).
    pub refused_batches_limit: usize,
    /// A source column the mapping neither reads nor ignores is an error.
    pub strict: bool,
    /// ferry's own export (`--from ferry`): re-derive every record id in
    /// the destination instead of keeping the export's.
    pub new_ids: bool,
    /// Match source users with users the target already has by this
    /// identifier type (email, mobile or uid), and send them under the
    /// existing users' ids (`--match-existing`).
    pub match_existing: Option<IdentifierType>,
    /// Check every user against the destination pool's schemas before it
    /// is sent (`--preflight`): read from the target, a refused user is
    /// rejected, or under `strict` stops the run before anything is sent.
    pub preflight: bool,
}

impl ImportOptions {
    /// An import of `source` with ferry's defaults: tenant `demo`, pool
    /// `default`, batches of 100, 8 in flight, into the embedded target over
    /// `ferry-target.db`.
    pub fn new(source: Input) -> ImportOptions {
        let backoff = Backoff::default();
        ImportOptions {
            source,
            format: None,
            mapping: None,
            from: None,
            join: None,
            tenant: "demo".into(),
            pool: "default".into(),
            batch_size: DEFAULT_BATCH_SIZE,
            import_time: None,
            passwords: None,
            unsupported_hash: None,
            target_salt: None,
            target: None,
            layout: Layout::default(),
            db: PathBuf::from("ferry-target.db"),
            client_id: "ferry".into(),
            client_secret_file: None,
            allow_insecure_http: false,
            mode: ImportMode::Ignore,
            concurrency: 8,
            rate: None,
            retry_base: backoff.base(),
            retry_cap: backoff.cap(),
            max_attempts: backoff.max_attempts(),
            throttle_deadline: backoff.throttle_deadline(),
            request_timeout: Duration::from_secs(60),
            checkpoint: None,
            restart: false,
            rejects: None,
            report: None,
            progress: ProgressMode::Quiet,
            grace: Duration::from_secs(10),
            seed: None,
            refused_batches_limit: crate::import::DEFAULT_REFUSED_BATCHES_LIMIT,
            strict: false,
            new_ids: false,
            match_existing: None,
            preflight: false,
        }
    }

    /// The settings that shape the request bodies, checked (all a dry run needs).
    pub fn body(&self) -> Result<BodySettings, Error> {
        let mut mapping = match (&self.mapping, &self.from) {
            (Some(_), Some(_)) => {
                return Err(Error::Usage(
                    "give --from PRESET or --mapping FILE, not both (`ferry presets show NAME` prints a preset to start a mapping from)".into(),
                ))
            }
            (Some(path), None) => MappingConfig::load(path)?,
            (None, Some(name)) => {
                let preset = crate::presets::find(name).map_err(|e| Error::Usage(e.to_string()))?;
                preset.mapping().map_err(Error::Usage)?
            }
            (None, None) => MappingConfig::default(),
        };
        if let Some(policy) = self.passwords {
            mapping.passwords.policy = policy;
        }
        if let Some(policy) = self.unsupported_hash {
            mapping.passwords.unsupported = policy;
        }
        if let Some(convention) = self.target_salt {
            mapping.passwords.target_salt = convention;
        }
        mapping.source.new_ids |= self.new_ids;
        let import_time = self.import_time.map_or_else(ImportTime::now, |t| {
            ImportTime::Pinned(t.to_offset(time::UtcOffset::UTC))
        });
        BodySettings::new(
            self.source.clone(),
            self.format,
            mapping,
            (&self.tenant, &self.pool),
            import_time,
            self.batch_size,
        )
        .map(|body| body.strict(self.strict).join(self.join.clone()))
    }

    /// The settings of a dry run: [`ImportOptions::body`], refused with
    /// `--match-existing`, which needs the target's answers.
    ///
    /// With `preflight`, a dry run needs the destination's schemas: it
    /// reads them from the target given with `--target` (reads only, scope
    /// `identity`; see [`ImportOptions::dry_run_preflight`]). Without a
    /// `--target` it is refused: a dry run never starts the embedded
    /// target, which would create its database.
    pub fn dry_run_body(&self) -> Result<BodySettings, Error> {
        if self.preflight && self.target.is_none() {
            return Err(Error::Usage(
                "--dry-run with --preflight reads the pool's schemas from the target: give --target URL (a dry run does not start the embedded target)".into(),
            ));
        }
        if self.match_existing.is_some() {
            return Err(Error::Usage(
                "--match-existing looks users up at the target, which a dry run does not reach: drop one of --dry-run and --match-existing".into(),
            ));
        }
        self.body()
    }

    /// The preflight of a dry run with `preflight`: the pool and its
    /// schemas read from `--target` (which [`ImportOptions::dry_run_body`]
    /// requires), with the run's retry settings. `None` without
    /// `preflight`.
    pub async fn dry_run_preflight(&self) -> Result<Option<crate::preflight::Preflight>, Error> {
        if !self.preflight {
            return Ok(None);
        }
        let body = self.dry_run_body()?;
        let spec = TargetSpec::new(
            self.target.clone(),
            self.allow_insecure_http,
            self.client_id.clone(),
            self.client_secret_file.as_deref(),
            self.db.clone(),
            body.target_salt(),
        )?;
        let backoff = Backoff::new(self.retry_base, self.retry_cap, self.max_attempts)?
            .with_throttle_deadline(self.throttle_deadline);
        let connected = Connected::connect(
            &spec,
            self.layout,
            (&self.tenant, &self.pool),
            self.request_timeout.max(Duration::from_secs(1)),
            (1, crate::contract::api::SCOPE_IDENTITY),
        )
        .await
        .map_err(|e| Error::Usage(format!("cannot reach the target: {e}")))?;
        let preflight =
            crate::preflight::from_target(connected.client(), &self.pool, backoff, self.seed).await;
        connected.shutdown().await;
        Ok(Some(preflight?))
    }

    /// Checks everything and builds the configuration of the run.
    pub fn validate(self) -> Result<ImportConfig, Error> {
        let body = self.body()?;
        if let Some(kind) = self.match_existing {
            if !MATCHABLE.contains(&kind) {
                return Err(Error::Usage(format!(
                    "--match-existing matches on email, mobile or uid, not {}",
                    kind.as_str()
                )));
            }
        }
        let backoff = Backoff::new(self.retry_base, self.retry_cap, self.max_attempts)?
            .with_throttle_deadline(self.throttle_deadline);
        let concurrency = NonZeroUsize::new(self.concurrency)
            .ok_or_else(|| Error::Usage("at least one request must be in flight".into()))?;
        let target = TargetSpec::new(
            self.target,
            self.allow_insecure_http,
            self.client_id,
            self.client_secret_file.as_deref(),
            self.db,
            body.target_salt(),
        )?;
        let (default_checkpoint, default_rejects) = default_paths(body.input());
        let checkpoint = self.checkpoint.or(default_checkpoint);
        let rejects = self.rejects.unwrap_or(default_rejects);
        let mut outputs = vec![("rejects file", rejects.as_path())];
        outputs.extend(checkpoint.as_deref().map(|p| ("checkpoint", p)));
        outputs.extend(self.report.as_deref().map(|p| ("report", p)));
        crate::outputs::check(body.input(), &outputs)?;
        Ok(ImportConfig {
            checkpoint,
            rejects,
            report: self.report,
            body,
            mode: self.mode,
            target,
            layout: self.layout,
            concurrency,
            rate: self.rate,
            backoff,
            // A request needs some time: under a second is read as one second.
            request_timeout: self.request_timeout.max(Duration::from_secs(1)),
            restart: self.restart,
            progress: self.progress,
            grace: self.grace,
            seed: self.seed,
            refused_batches_limit: self.refused_batches_limit,
            match_existing: self.match_existing,
            preflight: self.preflight,
        })
    }
}

/// The identifier types `--match-existing` matches on.
pub const MATCHABLE: [IdentifierType; 3] = [
    IdentifierType::Email,
    IdentifierType::Mobile,
    IdentifierType::Uid,
];

/// Everything an import needs, validated ([`ImportOptions::validate`]); immutable.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// What shapes the request bodies (source, mapping, tenant, pool, import time, batch size).
    pub(crate) body: BodySettings,
    /// `ignore`, `fail` or `update`.
    pub(crate) mode: ImportMode,
    /// Where the users go, and with which credentials.
    pub(crate) target: TargetSpec,
    /// Where the target serves each endpoint (the embedded target serves
    /// every layout).
    pub(crate) layout: Layout,
    /// Requests in flight.
    pub(crate) concurrency: NonZeroUsize,
    /// Users per second, if limited.
    pub(crate) rate: Option<NonZeroU32>,
    /// Backoff and attempt limit per request.
    pub(crate) backoff: Backoff,
    /// Time limit of one request.
    pub(crate) request_timeout: Duration,
    /// Checkpoint file; `None` for standard input, which cannot be resumed.
    pub(crate) checkpoint: Option<PathBuf>,
    /// Rejects file.
    pub(crate) rejects: PathBuf,
    /// Where the final report goes, if anywhere (written by the caller).
    pub(crate) report: Option<PathBuf>,
    /// Start again from the beginning, ignoring (and replacing) the checkpoint.
    pub(crate) restart: bool,
    /// How progress is shown.
    pub(crate) progress: ProgressMode,
    /// How long in-flight requests may finish after a stop signal.
    pub(crate) grace: Duration,
    /// Seed of the backoff jitter, for reproducible runs.
    pub(crate) seed: Option<u64>,
    /// Whole batches in a row refused for one reason that stop the run (0: never).
    pub(crate) refused_batches_limit: usize,
    /// The identifier type users are matched on with the target's users
    /// before each batch is sent (`--match-existing`), if any.
    pub(crate) match_existing: Option<IdentifierType>,
    /// Whether users are checked against the destination pool's schemas,
    /// read from the target when the run starts (`--preflight`).
    pub(crate) preflight: bool,
}

impl ImportConfig {
    /// What shapes the request bodies.
    pub fn body(&self) -> &BodySettings {
        &self.body
    }

    /// Where the users go.
    pub fn target(&self) -> &TargetSpec {
        &self.target
    }

    /// Where the final report goes, if anywhere.
    pub fn report(&self) -> Option<&std::path::Path> {
        self.report.as_deref()
    }

    /// What a checkpoint records of this run's settings, at `import_time`.
    pub fn run_settings(&self, import_time: OffsetDateTime) -> crate::checkpoint::RunSettings {
        crate::checkpoint::RunSettings {
            match_existing: self.match_existing,
            preflight: self.preflight,
            ..self.body.run_settings(self.mode, import_time)
        }
    }

    /// The scopes the run's token asks for: the configuration scopes, and
    /// `identity` for the lookups of `--match-existing` and the reads of
    /// `--preflight`.
    fn scope(&self) -> String {
        match self.match_existing.is_some() || self.preflight {
            true => format!(
                "{} {}",
                crate::send::token::DEFAULT_SCOPE,
                crate::contract::api::SCOPE_IDENTITY
            ),
            false => crate::send::token::DEFAULT_SCOPE.to_string(),
        }
    }

    /// Whether users are checked against the destination pool's schemas
    /// (`--preflight`).
    pub fn preflight(&self) -> bool {
        self.preflight
    }
}

impl TargetSpec {
    /// The target of a run: the platform at `url` (checked by
    /// [`check_transport`], with the secret from `FERRY_CLIENT_SECRET` or
    /// `secret_file`), or without one the reference server over `db`,
    /// reading salts as `salt` says.
    pub fn new(
        url: Option<Url>,
        allow_insecure_http: bool,
        client_id: String,
        secret_file: Option<&std::path::Path>,
        db: PathBuf,
        salt: SaltConvention,
    ) -> Result<TargetSpec, Error> {
        Ok(match url {
            Some(url) => {
                check_transport(&url, allow_insecure_http)?;
                TargetSpec::Remote {
                    url,
                    client_id,
                    secret: ClientSecret::from_env_or_file(secret_file)?,
                }
            }
            None => TargetSpec::Embedded {
                db,
                client_id,
                salt,
            },
        })
    }
}

impl TargetSpec {
    /// The platform at `url` with `client_id` and `secret`, checked as
    /// [`TargetSpec::new`] checks it.
    pub fn remote(
        url: Url,
        allow_insecure_http: bool,
        client_id: String,
        secret: ClientSecret,
    ) -> Result<TargetSpec, Error> {
        check_transport(&url, allow_insecure_http)?;
        Ok(TargetSpec::Remote {
            url,
            client_id,
            secret,
        })
    }
}

/// Refuses a plain-HTTP target that is not this machine, unless `allowed`:
/// the client secret and every password hash would cross the network in
/// clear text. Loopback (`localhost`, 127.0.0.0/8, `::1`) is this machine.
fn check_transport(url: &Url, allowed: bool) -> Result<(), Error> {
    if url.scheme() != "http" || is_loopback(url) {
        return Ok(());
    }
    if allowed {
        tracing::warn!(target = %url, "The target is plain HTTP: the client secret and the password hashes cross the network in clear text.");
        return Ok(());
    }
    Err(Error::InsecureTarget {
        url: url.to_string(),
    })
}

/// Whether `url` names this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `SOURCE.ferry-checkpoint` and `SOURCE.rejects.jsonl` next to a file source;
/// for standard input no checkpoint and `ferry-stdin.rejects.jsonl` here.
pub fn default_paths(input: &Input) -> (Option<PathBuf>, PathBuf) {
    match input {
        Input::File(path) => {
            // `export/` names the directory `export`: the files go beside it.
            let path = path.components().as_path();
            let with = |suffix| crate::outputs::with_suffix(path, suffix);
            (Some(with(".ferry-checkpoint")), with(".rejects.jsonl"))
        }
        Input::Stdin => (None, PathBuf::from("ferry-stdin.rejects.jsonl")),
    }
}

impl ImportConfig {
    /// Reaches the target (starting the embedded one if that is the target)
    /// with this run's request time limit and a connection per sender.
    pub async fn connect(&self) -> Result<Connected, TargetError> {
        self.connect_for(&self.scope()).await
    }

    /// The same, with a token for `scope` (space-separated scopes): what a
    /// verification reads (the dump, the password check) instead of writes.
    pub async fn connect_for(&self, scope: &str) -> Result<Connected, TargetError> {
        Connected::connect(
            &self.target,
            self.layout,
            (self.body.tenant(), self.body.pool()),
            self.request_timeout,
            (self.concurrency.get(), scope),
        )
        .await
    }

    /// The import that repairs what a verification found: the same source,
    /// mapping and target, sending only `users` under `update`, from the
    /// start, with its own checkpoint and rejects file (the import's, with
    /// `.repair` added), so that the import's own stay as they are.
    pub fn repair(&self, users: crate::batch::UserSet) -> Result<ImportConfig, Error> {
        let with_repair = |path: &std::path::Path| crate::outputs::with_suffix(path, ".repair");
        let mut repair = self.clone();
        repair.body = repair.body.only(users);
        repair.mode = ImportMode::Update;
        repair.restart = true;
        repair.checkpoint = self.checkpoint.as_deref().map(with_repair);
        repair.rejects = with_repair(&self.rejects);
        let mut outputs = vec![("repair's rejects file", repair.rejects.as_path())];
        outputs.extend(
            repair
                .checkpoint
                .as_deref()
                .map(|p| ("repair's checkpoint", p)),
        );
        crate::outputs::check(repair.body.input(), &outputs)?;
        Ok(repair)
    }

    /// Backoff and attempt limit per request, and the jitter's seed.
    pub fn retry(&self) -> (Backoff, Option<u64>) {
        (self.backoff, self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_target(url: &str, allow: bool) -> Result<ImportConfig, Error> {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("users.csv");
        std::fs::write(&source, "id,email\n").unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret").unwrap();
        let mut options = ImportOptions::new(Input::File(source));
        options.target = Some(Url::parse(url).unwrap());
        options.client_secret_file = Some(secret);
        options.allow_insecure_http = allow;
        options.validate()
    }

    #[test]
    fn plain_http_is_refused_unless_it_stays_on_this_machine_or_is_allowed() {
        for url in [
            "http://idp.example.com",
            "http://10.0.0.7:8080/base",
            "http://[2001:db8::1]",
        ] {
            let err = with_target(url, false).unwrap_err();
            assert!(matches!(err, Error::InsecureTarget { .. }), "{url}: {err}");
            assert!(err.to_string().contains("clear text"), "{err}");
            assert!(err.is_usage());
            assert!(with_target(url, true).is_ok(), "{url} allowed");
        }
        for url in [
            "https://idp.example.com",
            "http://127.0.0.1:8085",
            "http://127.9.9.9",
            "http://localhost:1",
            "http://LOCALHOST",
            "http://[::1]:8085",
        ] {
            assert!(with_target(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn the_default_files_of_a_directory_source_go_beside_it() {
        let paths = |p: &str| default_paths(&Input::File(PathBuf::from(p)));
        assert_eq!(
            paths("export/"),
            (
                Some(PathBuf::from("export.ferry-checkpoint")),
                PathBuf::from("export.rejects.jsonl")
            )
        );
        assert_eq!(paths("./u.csv").1, PathBuf::from("./u.csv.rejects.jsonl"));
        assert_eq!(paths("/a/u.csv").1, PathBuf::from("/a/u.csv.rejects.jsonl"));
    }
}
