//! `ferry copy` and `ferry rollback`: flags → [`CopyConfig`] → the library.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry::contract::{CredentialType, IdentifierType};
use ferry::copy::plan::{Kind, Selection};
use ferry::copy::rules::Rules;
use ferry::copy::{CopyConfig, CopyError, Side};
use ferry::outcome::Outcome;
use ferry::progress::ProgressMode;
use ferry::secret::ClientSecret;
use ferry::target::TargetSpec;
use url::Url;

use super::import::{MatchArg, ModeArg};
use super::say;
use super::target::{parse_url, LayoutArg, RetryArgs};

/// Copy a whole tenant (schemas, pools, groups, users with their
/// credentials, identifiers and addresses, group memberships) to another
/// tenant, on the same platform or another. Plans against both sides
/// first (`--dry-run` stops there), backs up what it replaces, never
/// overwrites the destination's own pool settings or its protected users.
/// See the README's "Copy a tenant".
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// Base URL of the source platform.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    pub from: Url,
    /// The source tenant.
    #[arg(long, value_name = "ID")]
    pub from_tenant: String,
    /// Where the source serves its API (as `import --layout`).
    #[arg(long, value_enum, default_value_t = LayoutArg::Guide)]
    pub from_layout: LayoutArg,
    /// OAuth client id at the source (else FERRY_FROM_CLIENT_ID, FERRY_CLIENT_ID, `ferry`).
    #[arg(long, value_name = "ID")]
    pub from_client_id: Option<String>,
    /// File holding the source's client secret (else FERRY_FROM_CLIENT_SECRET, then FERRY_CLIENT_SECRET).
    #[arg(long, value_name = "FILE")]
    pub from_secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub dest: DestinationArgs,
    /// Accept plain http:// sides that are not this machine.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Records the destination already has and that differ: ignore (keep
    /// theirs), update (replace, after backing theirs up), fail (refuse to
    /// start).
    #[arg(long, value_enum, default_value_t = ModeArg::Ignore)]
    pub mode: ModeArg,
    /// Copy the source pool OLD as the destination pool NEW (repeatable;
    /// pools keep their ids otherwise).
    #[arg(long = "pool-map", value_name = "OLD=NEW", value_parser = parse_pair)]
    pub pool_map: Vec<(String, String)>,
    /// Replace OLD by NEW in URL-valued strings of pools, schemas and user
    /// metadata (repeatable); the report counts replacements per field.
    #[arg(long, value_name = "OLD=NEW", value_parser = parse_pair)]
    pub rewrite: Vec<(String, String)>,
    /// Re-derive user and sub-record ids for the destination
    /// (deterministically: copying the same source twice is idempotent).
    #[arg(long)]
    pub new_ids: bool,
    /// Leave these credential types out (comma-separated: password, totp,
    /// webauthn); those users must reset or re-enrol.
    #[arg(long, value_delimiter = ',', value_parser = parse_credential)]
    pub strip: Vec<CredentialType>,
    /// Also overwrite a destination pool's own settings (authentication
    /// mechanisms, password settings and policy, ...).
    #[arg(long)]
    pub overwrite_pool_settings: bool,
    /// A destination user never written or taken over: TYPE:VALUE, e.g.
    /// email:admin@corp.example (repeatable). The copy stops before writing
    /// anything if one cannot be found.
    #[arg(long, value_name = "TYPE:VALUE", value_parser = parse_protect)]
    pub protect: Vec<(IdentifierType, String)>,
    /// Only these collections (comma-separated: schemas, pools, groups,
    /// users, group_members).
    #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
    pub include: Vec<Kind>,
    /// Not these collections.
    #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
    pub exclude: Vec<Kind>,
    /// Only this source pool and what is in it (repeatable).
    #[arg(long = "pool", value_name = "POOL")]
    pub pools: Vec<String>,
    /// Only the schemas, pools and groups whose id is a line of FILE.
    #[arg(long, value_name = "FILE")]
    pub ids: Option<PathBuf>,
    /// Only the schemas, pools and groups whose name is a line of FILE.
    #[arg(long, value_name = "FILE")]
    pub names: Option<PathBuf>,
    /// A source user whose identifier of this type a destination user
    /// already has is copied onto that user (updated, not duplicated).
    #[arg(long, value_enum, value_name = "email|mobile|uid")]
    pub match_existing: Option<MatchArg>,
    /// Check every user's payload and metadata against the destination
    /// pool's schemas before sending; a user they refuse is skipped.
    #[arg(long)]
    pub preflight: bool,
    /// With --preflight: stop before any write if a user is refused.
    #[arg(long)]
    pub strict: bool,
    /// Plan only: read both sides and say what would be created, updated,
    /// left unchanged or skipped; no write request is sent.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the plan as JSON Lines to FILE (one line per record).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Where faulty records go (one JSON line each, secrets redacted).
    #[arg(long, value_name = "FILE", default_value = "ferry-copy-faulty.jsonl")]
    pub faulty: PathBuf,
    /// Copy only the records a faulty file lists.
    #[arg(long, value_name = "FILE")]
    pub retry_faulty: Option<PathBuf>,
    /// Backup directory: the journal of every record replaced or created
    /// (mode 0700, one file per run named by its start time).
    #[arg(long, value_name = "DIR", default_value = "ferry-copy-backup")]
    pub backup: PathBuf,
    /// Take no backup (the copy cannot be rolled back).
    #[arg(long)]
    pub no_backup: bool,
    /// The checkpoint: the plan and how far its writes got (SQLite, mode
    /// 0600: it holds the users to write, hashes included). An interrupted
    /// copy run again with the same flags goes on from it; a finished copy
    /// removes it.
    #[arg(long, value_name = "FILE", default_value = "ferry-copy.checkpoint")]
    pub checkpoint: PathBuf,
    /// Ignore an unfinished copy's checkpoint: read both sides and plan again.
    #[arg(long)]
    pub restart: bool,
    /// Write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub retry: RetryArgs,
}

/// Undo a copy: delete what it created and restore what it replaced, from
/// its backup journal, then check the destination is back as it was.
/// Idempotent: run it again to resume an interrupted rollback.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The backup directory (every journal in it, newest first) or one journal file.
    pub backup: PathBuf,
    /// The destination the copy wrote to.
    #[command(flatten)]
    pub dest: DestinationArgs,
    /// Accept a plain http:// destination that is not this machine.
    #[arg(long)]
    pub allow_insecure_http: bool,
    #[command(flatten)]
    pub retry: RetryArgs,
}

/// The destination's flags, which `copy` and `rollback` share.
#[derive(Debug, clap::Args)]
pub struct DestinationArgs {
    /// Base URL of the destination platform.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    pub to: Url,
    /// The destination tenant.
    #[arg(long, value_name = "ID")]
    pub to_tenant: String,
    /// Where the destination serves its API.
    #[arg(long, value_enum, default_value_t = LayoutArg::Guide)]
    pub to_layout: LayoutArg,
    /// OAuth client id at the destination (else FERRY_TO_CLIENT_ID, FERRY_CLIENT_ID, `ferry`).
    #[arg(long, value_name = "ID")]
    pub to_client_id: Option<String>,
    /// File holding the destination's client secret (else FERRY_TO_CLIENT_SECRET, then FERRY_CLIENT_SECRET).
    #[arg(long, value_name = "FILE")]
    pub to_secret_file: Option<PathBuf>,
}

impl DestinationArgs {
    /// The destination these flags name.
    fn side(&self, allow_insecure_http: bool) -> anyhow::Result<Side> {
        side(
            (&self.to, &self.to_tenant, self.to_layout),
            (&self.to_client_id, &self.to_secret_file),
            "TO",
            allow_insecure_http,
        )
    }
}

/// A side from its flags; the client id and secret from the flags, then
/// `FERRY_<SIDE>_…`, then `FERRY_…`.
fn side(
    (url, tenant, layout): (&Url, &str, LayoutArg),
    (client_id, secret_file): (&Option<String>, &Option<PathBuf>),
    name: &str,
    allow_insecure_http: bool,
) -> anyhow::Result<Side> {
    let id_vars = [
        format!("FERRY_{name}_CLIENT_ID"),
        "FERRY_CLIENT_ID".to_string(),
    ];
    let client_id = client_id
        .clone()
        .or_else(|| id_vars.iter().find_map(|v| std::env::var(v).ok()))
        .unwrap_or_else(|| "ferry".to_string());
    let secret_vars = [
        format!("FERRY_{name}_CLIENT_SECRET"),
        "FERRY_CLIENT_SECRET".to_string(),
    ];
    let names: Vec<&str> = secret_vars.iter().map(String::as_str).collect();
    let secret = ClientSecret::from_envs_or_file(&names, secret_file.as_deref())
        .map_err(ferry::error::Error::from)?;
    Ok(Side {
        target: TargetSpec::remote(url.clone(), allow_insecure_http, client_id, secret)?,
        layout: layout.into(),
        tenant: tenant.to_string(),
    })
}

/// The lines of FILE, as a set.
fn lines(path: &Path) -> anyhow::Result<BTreeSet<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CopyError::Usage(format!("cannot read {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

impl CopyArgs {
    fn config(&self) -> anyhow::Result<CopyConfig> {
        let usage = |text: String| anyhow::Error::new(CopyError::Usage(text));
        if self.strict && !self.preflight {
            return Err(usage("--strict needs --preflight".into()));
        }
        let from = side(
            (&self.from, &self.from_tenant, self.from_layout),
            (&self.from_client_id, &self.from_secret_file),
            "FROM",
            self.allow_insecure_http,
        )?;
        let to = self.dest.side(self.allow_insecure_http)?;
        if self.from == self.dest.to && self.from_tenant == self.dest.to_tenant {
            return Err(usage(
                "the source and the destination are the same tenant".into(),
            ));
        }
        if self.from == self.dest.to && !self.new_ids {
            return Err(usage(
                "record ids are unique across a platform's tenants: a copy between two tenants of one platform needs --new-ids".into(),
            ));
        }
        let mut collections: BTreeSet<Kind> = if self.include.is_empty() {
            Kind::ALL.into_iter().collect()
        } else {
            self.include.iter().copied().collect()
        };
        for kind in &self.exclude {
            collections.remove(kind);
        }
        let only = match &self.retry_faulty {
            Some(path) => Some(ferry::copy::faulty_records(path).map_err(usage)?),
            None => None,
        };
        if let Some(retry) = &self.retry_faulty {
            if ferry::outputs::same_file(retry, &self.faulty) {
                return Err(usage(format!(
                    "--retry-faulty {} is also the faulty file this run writes: give --faulty another FILE",
                    retry.display()
                )));
            }
        }
        let selection = Selection {
            collections,
            pools: self.pools.iter().cloned().collect(),
            ids: self.ids.as_deref().map(lines).transpose()?,
            names: self.names.as_deref().map(lines).transpose()?,
            only,
        };
        let rules = Rules {
            tenant: self.dest.to_tenant.clone(),
            pool_map: self.pool_map.iter().cloned().collect::<BTreeMap<_, _>>(),
            rewrites: self.rewrite.clone(),
            new_ids: self.new_ids,
            strip: self.strip.iter().copied().collect(),
            overwrite_pool_settings: self.overwrite_pool_settings,
        };
        Ok(CopyConfig {
            from,
            to,
            mode: self.mode.into(),
            rules,
            selection,
            protect: self.protect.clone(),
            match_existing: self.match_existing.map(Into::into),
            preflight: self.preflight,
            strict: self.strict,
            dry_run: self.dry_run,
            plan_file: self.plan.clone(),
            faulty_file: self.faulty.clone(),
            backup: (!self.no_backup).then(|| self.backup.clone()),
            checkpoint: self.checkpoint.clone(),
            restart: self.restart,
            backoff: self.retry.backoff()?,
            seed: self.retry.seed,
            request_timeout: Duration::from_secs(self.retry.request_timeout_s),
            progress: ProgressMode::detect(self.quiet),
        })
    }
}

pub async fn run(args: CopyArgs) -> anyhow::Result<Outcome> {
    let config = args.config()?;
    let report = match ferry::copy::run(&config).await {
        Ok(report) => report,
        Err(e) => {
            if !config.dry_run && !e.is_usage() && config.checkpoint.exists() {
                eprintln!(
                    "ferry: the copy's checkpoint {} is saved: run the same command again to resume",
                    config.checkpoint.display()
                );
            }
            return Err(e.into());
        }
    };
    if let Some(path) = &args.report {
        ferry::private::write_private(path, &serde_json::to_vec_pretty(&report)?)?;
    }
    say(&report.summary());
    Ok(report.outcome())
}

pub async fn rollback(args: RollbackArgs) -> anyhow::Result<Outcome> {
    let to = args.dest.side(args.allow_insecure_http)?;
    let retry = (
        args.retry.backoff()?,
        args.retry.seed,
        Duration::from_secs(args.retry.request_timeout_s),
    );
    let report = ferry::copy::rollback::run(&args.backup, &to, retry).await?;
    say(&report.summary());
    Ok(report.outcome())
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((old, new)) if !old.is_empty() => Ok((old.to_string(), new.to_string())),
        _ => Err(format!("expected OLD=NEW, not '{text}'")),
    }
}

fn parse_credential(text: &str) -> Result<CredentialType, String> {
    match text.trim() {
        "password" => Ok(CredentialType::Password),
        "totp" => Ok(CredentialType::Totp),
        "webauthn" => Ok(CredentialType::Webauthn),
        other => Err(format!(
            "unknown credential type '{other}' (password, totp, webauthn)"
        )),
    }
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    Kind::named(text.trim()).ok_or_else(|| {
        format!("unknown collection '{text}' (schemas, pools, groups, users, group_members)")
    })
}

fn identifier_type(text: &str) -> Result<IdentifierType, String> {
    match text {
        "email" => Ok(IdentifierType::Email),
        "mobile" => Ok(IdentifierType::Mobile),
        "uid" => Ok(IdentifierType::Uid),
        "external" => Ok(IdentifierType::External),
        "federated" => Ok(IdentifierType::Federated),
        other => Err(format!(
            "unknown identifier type '{other}' (email, mobile, uid, external, federated)"
        )),
    }
}

fn parse_protect(text: &str) -> Result<(IdentifierType, String), String> {
    let (kind, value) = text.split_once(':').ok_or_else(|| {
        format!("expected TYPE:VALUE, e.g. email:admin@corp.example, not '{text}'")
    })?;
    if value.is_empty() {
        return Err("the protected identifier is empty".into());
    }
    Ok((identifier_type(kind)?, value.to_string()))
}
