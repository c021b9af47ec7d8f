//! The plan of a copy: for every source record, in dependency order
//! (schemas → pools → groups → users → group members), what the copy does
//! with it at the destination, decided from both sides before anything is
//! written:
//!
//! | the destination has it | action |
//! |---|---|
//! | no | `create` |
//! | the same, byte for byte (after the rewrites) | `unchanged` |
//! | different, `--mode update` | `update` (its current state goes to the backup first) |
//! | different, `--mode ignore` | `skip`: kept as it is there |
//! | different, `--mode fail` | `skip`, and the copy refuses to start |
//!
//! A record is also skipped, with its reason, when it is not selected
//! (`excluded`), when it is a protected user or would take an identifier
//! of one (`protected`), when another user of the destination owns one of
//! its identifiers, when its pool, group or user does not arrive, and when
//! the destination's schema refuses its payload (preflight). Skips other
//! than `excluded` and `kept` are faulty records: the copy lists them.
//!
//! The records to write are kept in the plan's own index on disk (in
//! order, with their state at the destination for the backup), so memory
//! holds a page whatever the size of the tenant; the plan's lines are
//! handed to the caller one at a time (the `--plan` file, the faulty file).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::index::{group_key, member_key, TenantIndex};
use super::rules::{Changes, Rules};
use crate::contract::entry::{Entry, SubRecord};
use crate::contract::line::ExportLine;
use crate::contract::{CredentialType, IdentifierType, ImportMode};
use crate::mapping::ids::{IdScope, RecordKind};
use crate::preflight::Preflight;

/// The collections a copy writes, in the order it writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Schemas,
    Pools,
    Groups,
    Users,
    GroupMembers,
}

impl Kind {
    /// Every collection, in copy order.
    pub const ALL: [Kind; 5] = [
        Kind::Schemas,
        Kind::Pools,
        Kind::Groups,
        Kind::Users,
        Kind::GroupMembers,
    ];

    /// The collection's name (`--include`, the report, the journal).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Schemas => "schemas",
            Kind::Pools => "pools",
            Kind::Groups => "groups",
            Kind::Users => "users",
            Kind::GroupMembers => "group_members",
        }
    }

    /// The collection called `name`.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub(super) fn code(self) -> i64 {
        self as i64
    }
}

/// What the copy does with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Skip,
}

/// Why a record is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Not selected (`--include`, `--exclude`, `--pool`, `--ids`, `--names`).
    Excluded,
    /// At the destination and different, kept there (`--mode ignore`).
    Kept,
    /// At the destination and different, under `--mode fail`.
    Exists,
    /// A protected user, or one that would take a protected user's identifier.
    Protected(String),
    /// Another user of the destination owns one of its identifiers.
    Owned(String),
    /// `--match-existing` found more than one destination user.
    Ambiguous,
    /// What it belongs to (its pool, group or user) does not arrive.
    Missing(&'static str),
    /// The destination's schema refuses it.
    Preflight(String),
}

impl Skip {
    /// The reason's short label, for the summary.
    pub fn label(&self) -> &'static str {
        match self {
            Skip::Excluded => "excluded",
            Skip::Kept => "exists and differs, kept (--mode ignore)",
            Skip::Exists => "exists and differs (--mode fail)",
            Skip::Protected(_) => "protected",
            Skip::Owned(_) => "identifier owned by another user",
            Skip::Ambiguous => "more than one existing user matches",
            Skip::Missing(_) => "what it belongs to does not arrive",
            Skip::Preflight(_) => "refused by the destination's schema",
        }
    }

    /// The reason in full (names fields and identifier types, never values).
    pub fn reason(&self) -> String {
        match self {
            Skip::Protected(why) | Skip::Owned(why) => format!("{}: {why}", self.label()),
            Skip::Missing(what) => format!("its {what} does not arrive at the destination"),
            Skip::Preflight(why) => format!("{}: {why}", self.label()),
            _ => self.label().to_string(),
        }
    }

    /// Whether the record could not be copied (a faulty record), rather
    /// than left out on purpose.
    pub fn faulty(&self) -> bool {
        !matches!(self, Skip::Excluded | Skip::Kept)
    }
}

/// One line of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanLine {
    /// The collection.
    pub collection: Kind,
    /// The record's key at the source (a user's id, `pool/group` ...).
    pub id: String,
    /// Its key at the destination, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// What the copy does.
    pub action: Action,
    /// Why, for a skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Counts of one collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
    /// Skipped, per reason label.
    pub skipped: BTreeMap<String, u64>,
}

impl Tally {
    /// Records of the source this collection accounts for.
    pub fn total(&self) -> u64 {
        self.create + self.update + self.unchanged + self.skipped.values().sum::<u64>()
    }
}

/// What the copy is asked to do besides the rules.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The collections copied.
    pub collections: BTreeSet<Kind>,
    /// Source pools copied (all when empty).
    pub pools: BTreeSet<String>,
    /// Ids of schemas, pools and groups copied (all when both this and
    /// `names` are `None`).
    pub ids: Option<BTreeSet<String>>,
    /// Names of schemas, pools and groups copied.
    pub names: Option<BTreeSet<String>>,
    /// Only these records (`--retry-faulty`), by collection and source key.
    pub only: Option<BTreeSet<(Kind, String)>>,
}

impl Selection {
    fn wants(&self, kind: Kind, key: &str) -> bool {
        self.collections.contains(&kind)
            && self
                .only
                .as_ref()
                .is_none_or(|only| only.contains(&(kind, key.to_string())))
    }

    /// Whether the record with `id` and `name` passes `--ids` / `--names`.
    fn named(&self, id: &str, name: Option<&str>) -> bool {
        match (&self.ids, &self.names) {
            (None, None) => true,
            (ids, names) => {
                ids.as_ref().is_some_and(|ids| ids.contains(id))
                    || names
                        .as_ref()
                        .zip(name)
                        .is_some_and(|(names, name)| names.contains(name))
            }
        }
    }

    fn pool(&self, pool: &str) -> bool {
        self.pools.is_empty() || self.pools.contains(pool)
    }
}

/// What the plan needs besides the two sides.
pub struct Inputs<'a> {
    pub rules: &'a Rules,
    pub selection: &'a Selection,
    pub mode: ImportMode,
    /// Destination users that are never written, by id.
    pub protected: &'a BTreeSet<Uuid>,
    /// `--match-existing`: the identifier type a source user is matched on.
    pub match_existing: Option<IdentifierType>,
    /// Check users against the destination pools' schemas.
    pub preflight: bool,
    /// Where the plan is kept (the checkpoint); `None`: a temporary
    /// directory.
    pub at: Option<&'a std::path::Path>,
}

/// The plan: its counts, and the records to write, on disk.
pub struct Plan {
    /// Counts per collection.
    pub tallies: BTreeMap<Kind, Tally>,
    /// URL replacements and stripped credentials.
    pub changes: Changes,
    /// Faulty records (skips that are not on purpose).
    pub faulty: u64,
    /// Password credentials among the users to write.
    pub passwords: u64,
    /// Where the plan is kept: the copy's checkpoint, or a private
    /// temporary directory ([`Plan::new`]).
    pub(super) path: std::path::PathBuf,
    /// The plan's database: the writes, then (sealed) the checkpoint's.
    pub(super) db: Connection,
    /// The temporary directory of a plan that is no checkpoint.
    pub(super) dir: Option<tempfile::TempDir>,
    /// Whether the plan is a checkpoint ([`Plan::seal`]): until then, a
    /// plan dropped takes its file with it.
    pub(super) sealed: bool,
}

impl Drop for Plan {
    fn drop(&mut self) {
        if !self.sealed && self.dir.is_none() {
            let _ = super::checkpoint::remove(&self.path);
        }
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("tallies", &self.tallies)
            .finish_non_exhaustive()
    }
}

/// A record to write: where it goes and what the destination holds now.
#[derive(Debug, Clone)]
pub struct Write {
    pub kind: Kind,
    pub action: Action,
    /// Its source key (for the faulty file).
    pub id: String,
    /// The record at the destination (a user: its canonical export line).
    pub doc: String,
    /// The destination's current record, for an update.
    pub before: Option<String>,
}

impl Plan {
    /// A new, empty plan to become the checkpoint `at` (made beside it,
    /// [`super::checkpoint::planning`]), or in a private temporary
    /// directory (a dry run).
    /// Planning writes without a journal or a sync: a plan cut short is
    /// made again, and [`Plan::seal`] syncs it before any write is sent.
    pub(super) fn new(at: Option<&std::path::Path>) -> Result<Plan, String> {
        let cannot = |e: std::io::Error| format!("cannot create the copy's plan: {e}");
        let (path, dir) = match at {
            Some(path) => {
                let planning = super::checkpoint::planning(path);
                super::checkpoint::remove(&planning).map_err(cannot)?;
                (planning, None)
            }
            None => {
                let dir = crate::private::private_temp_dir("ferry-plan-").map_err(cannot)?;
                (dir.path().join("plan.sqlite"), Some(dir))
            }
        };
        crate::private::create_private_if_missing(&path)
            .map_err(|e| format!("cannot create the copy's plan {}: {e}", path.display()))?;
        let db = Connection::open(&path).map_err(|e| e.to_string())?;
        db.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             PRAGMA locking_mode = EXCLUSIVE;
             CREATE TABLE writes (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL,
                                  action INTEGER NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,
                                  before TEXT);
             CREATE TABLE users (source TEXT PRIMARY KEY, dest TEXT) WITHOUT ROWID;",
        )
        .map_err(|e| e.to_string())?;
        Ok(Plan::opened(db, path, dir, false))
    }

    /// A plan over the open database `db` at `path` (a checkpoint if
    /// `sealed`), its counts empty.
    pub(super) fn opened(
        db: Connection,
        path: std::path::PathBuf,
        dir: Option<tempfile::TempDir>,
        sealed: bool,
    ) -> Plan {
        Plan {
            db,
            tallies: BTreeMap::new(),
            changes: Changes::default(),
            faulty: 0,
            passwords: 0,
            sealed,
            path,
            dir,
        }
    }

    /// Counts of `kind`.
    pub fn tally(&self, kind: Kind) -> Tally {
        self.tallies.get(&kind).cloned().unwrap_or_default()
    }

    /// Records of `kind` to write, in order, after the write `after` (`0`
    /// for the first), at most `limit`; with the seq of the last.
    pub fn writes(&self, kind: Kind, after: i64, limit: u32) -> Result<Vec<(i64, Write)>, String> {
        let mut s = self
            .db
            .prepare_cached(
                "SELECT seq, action, id, doc, before FROM writes WHERE kind = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )
            .map_err(|e| e.to_string())?;
        let rows = s
            .query_map(params![kind.code(), after, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .map(|(seq, action, id, doc, before)| {
                let action = if action == 1 {
                    Action::Update
                } else {
                    Action::Create
                };
                (
                    seq,
                    Write {
                        kind,
                        action,
                        id,
                        doc,
                        before,
                    },
                )
            })
            .collect())
    }

    /// Records the plan's decision for one record, and hands its line out.
    fn decide(
        &mut self,
        line: PlanLine,
        skip: Option<Skip>,
        docs: Option<(String, Option<String>)>,
        out: &mut impl FnMut(&PlanLine, bool) -> Result<(), String>,
    ) -> Result<(), String> {
        let tally = self.tallies.entry(line.collection).or_default();
        let mut faulty = false;
        match (&line.action, &skip) {
            (Action::Create, _) => tally.create += 1,
            (Action::Update, _) => tally.update += 1,
            (Action::Unchanged, _) => tally.unchanged += 1,
            (Action::Skip, Some(skip)) => {
                *tally.skipped.entry(skip.label().to_string()).or_default() += 1;
                faulty = skip.faulty();
            }
            (Action::Skip, None) => {}
        }
        if faulty {
            self.faulty += 1;
        }
        if let (Some((doc, before)), Action::Create | Action::Update) = (docs, line.action) {
            let action = i64::from(line.action == Action::Update);
            self.db
                .prepare_cached(
                    "INSERT INTO writes (kind, action, id, doc, before) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![line.collection.code(), action, line.id, doc, before])
                })
                .map_err(|e| e.to_string())?;
        }
        out(&line, faulty)
    }

    /// Remembers where the source user `source` goes (`None`: nowhere).
    fn user_goes(&self, source: Uuid, dest: Option<Uuid>) -> Result<(), String> {
        self.db
            .prepare_cached("INSERT OR REPLACE INTO users (source, dest) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![source.to_string(), dest.map(|d| d.to_string())]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Where the source user `source` goes: `Some(Some(id))` arrives as
    /// `id`, `Some(None)` does not arrive, `None` was not planned.
    fn user_went(&self, source: Uuid) -> Result<Option<Option<Uuid>>, String> {
        let got: Option<Option<String>> = self
            .db
            .prepare_cached("SELECT dest FROM users WHERE source = ?1")
            .and_then(|mut s| {
                s.query_row(params![source.to_string()], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| e.to_string())?;
        Ok(got.map(|dest| dest.and_then(|d| Uuid::parse_str(&d).ok())))
    }
}

/// The decision on a record that exists at the destination as `theirs`.
fn against<T: PartialEq>(ours: &T, theirs: Option<&T>, mode: ImportMode) -> (Action, Option<Skip>) {
    match theirs {
        None => (Action::Create, None),
        Some(theirs) if theirs == ours => (Action::Unchanged, None),
        Some(_) => match mode {
            ImportMode::Update => (Action::Update, None),
            ImportMode::Ignore => (Action::Skip, Some(Skip::Kept)),
            ImportMode::Fail => (Action::Skip, Some(Skip::Exists)),
        },
    }
}

fn json<T: Serialize>(record: &T) -> Result<String, String> {
    serde_json::to_string(record).map_err(|e| e.to_string())
}

/// Plans the copy of `source` onto `dest`; `out` gets every line (and
/// whether it is a faulty record) as it is decided.
pub fn plan(
    source: &TenantIndex,
    dest: &TenantIndex,
    inputs: &Inputs<'_>,
    mut out: impl FnMut(&PlanLine, bool) -> Result<(), String>,
) -> Result<Plan, String> {
    let mut plan = Plan::new(inputs.at)?;
    let (rules, selection, mode) = (inputs.rules, inputs.selection, inputs.mode);
    let mut changes = Changes::default();
    let line = |kind, id: &str, to: &str, action, skip: &Option<Skip>| PlanLine {
        collection: kind,
        id: id.to_string(),
        to: (to != id).then(|| to.to_string()),
        action,
        reason: skip.as_ref().map(Skip::reason),
    };

    // Schemas: the tenant's, as the destination will hold them.
    let mut schemas = dest.schemas.clone();
    for (id, schema) in &source.schemas {
        if !selection.wants(Kind::Schemas, id) {
            continue;
        }
        let ours = rules.schema(schema, &mut changes)?;
        let (action, skip) = if selection.named(id, Some(&schema.name)) {
            against(&ours, dest.schemas.get(id), mode)
        } else {
            (Action::Skip, Some(Skip::Excluded))
        };
        if matches!(action, Action::Create | Action::Update) {
            schemas.insert(id.clone(), ours.clone());
        }
        let before = dest.schemas.get(id).map(json).transpose()?;
        let l = line(Kind::Schemas, id, id, action, &skip);
        plan.decide(l, skip, Some((json(&ours)?, before)), &mut out)?;
    }

    // Pools: each source pool at its destination id.
    let mut pools = dest.pools.clone();
    for (key, pool) in &source.pools {
        if !selection.wants(Kind::Pools, key) {
            continue;
        }
        let to = rules.pool_id(key);
        let theirs = dest.pools.get(&to);
        let ours = rules.pool(pool, theirs, &mut changes)?;
        let (action, skip) = if selection.pool(key) && selection.named(key, Some(&pool.name)) {
            against(&ours, theirs, mode)
        } else {
            (Action::Skip, Some(Skip::Excluded))
        };
        if matches!(action, Action::Create | Action::Update) {
            pools.insert(to.clone(), ours.clone());
        }
        let before = theirs.map(json).transpose()?;
        let l = line(Kind::Pools, key, &to, action, &skip);
        plan.decide(l, skip, Some((json(&ours)?, before)), &mut out)?;
    }

    // Groups, in pools that arrive.
    let mut groups: BTreeSet<String> = dest.groups.keys().cloned().collect();
    for (key, group) in &source.groups {
        if !selection.wants(Kind::Groups, key) {
            continue;
        }
        let ours = rules.group(group);
        let to = group_key(&ours);
        let theirs = dest.groups.get(&to);
        let (action, skip) = if !selection.pool(&group.user_pool_id)
            || !selection.named(&group.id, group.name.as_deref())
        {
            (Action::Skip, Some(Skip::Excluded))
        } else if !pools.contains_key(&ours.user_pool_id) {
            (Action::Skip, Some(Skip::Missing("pool")))
        } else {
            against(&ours, theirs, mode)
        };
        if action != Action::Skip {
            groups.insert(to.clone());
        }
        let before = theirs.map(json).transpose()?;
        let l = line(Kind::Groups, key, &to, action, &skip);
        plan.decide(l, skip, Some((json(&ours)?, before)), &mut out)?;
    }

    // Users, a page at a time.
    let checks = if inputs.preflight {
        let mut checks = BTreeMap::new();
        for (key, pool) in &pools {
            // A pool naming a schema neither side has is its own problem:
            // its users are refused with that reason, not the whole copy.
            let check = Preflight::new(pool, &schemas).map_err(|e| e.to_string());
            checks.insert(key.clone(), check);
        }
        Some(checks)
    } else {
        None
    };
    let mut after = None;
    loop {
        let page = source.users_page(after, 1000)?;
        let Some(last) = page.last() else { break };
        after = Some(last.user.id);
        for entry in page {
            let id = entry.user.id.to_string();
            if !selection.wants(Kind::Users, &id) {
                continue;
            }
            let source_id = entry.user.id;
            let in_pool = selection.pool(&entry.user.user_pool_id);
            let ours = rules.entry(entry, &mut changes)?;
            let (ours, action, skip, before) = if !in_pool {
                (ours, Action::Skip, Some(Skip::Excluded), None)
            } else {
                user(ours, dest, inputs, (&pools, checks.as_ref()))?
            };
            let arrives = action != Action::Skip || skip == Some(Skip::Kept);
            plan.user_goes(source_id, arrives.then_some(ours.user.id))?;
            let to = ours.user.id.to_string();
            if matches!(action, Action::Create | Action::Update) {
                plan.passwords += ours
                    .credentials
                    .iter()
                    .filter(|c| c.kind == CredentialType::Password)
                    .count() as u64;
            }
            let doc = (action != Action::Skip)
                .then(|| json(&ExportLine::new(ours)))
                .transpose()?;
            let l = line(Kind::Users, &id, &to, action, &skip);
            plan.decide(l, skip, doc.map(|d| (d, before)), &mut out)?;
        }
    }

    // Memberships of users and groups that arrive.
    let mut after = String::new();
    loop {
        let page = source.members_page(&after, 1000)?;
        let Some(last) = page.last() else { break };
        after = member_key(last);
        for member in page {
            let key = member_key(&member);
            if !selection.wants(Kind::GroupMembers, &key) {
                continue;
            }
            let arrives = match plan.user_went(member.user_id)? {
                Some(dest_id) => dest_id,
                // Users not copied now: the destination may have them.
                None => {
                    let id = rules.user_id(&rules.pool_id(&member.user_pool_id), member.user_id);
                    let there = dest.entry(id)?.is_some() && !inputs.protected.contains(&id);
                    there.then_some(id)
                }
            };
            let ours = rules.member(&member, arrives);
            let to = member_key(&ours);
            let group = format!("{}/{}", ours.user_pool_id, ours.group_id);
            let (action, skip) = if !selection.pool(&member.user_pool_id) {
                (Action::Skip, Some(Skip::Excluded))
            } else if arrives.is_none() {
                (Action::Skip, Some(Skip::Missing("user")))
            } else if !groups.contains(&group) {
                (Action::Skip, Some(Skip::Missing("group")))
            } else if dest.has_member(&to)? {
                (Action::Unchanged, None)
            } else {
                (Action::Create, None)
            };
            let l = line(Kind::GroupMembers, &key, &to, action, &skip);
            plan.decide(l, skip, Some((json(&ours)?, None)), &mut out)?;
        }
    }
    plan.changes = changes;
    Ok(plan)
}

/// The preflight of each destination pool (or why it cannot be made).
type Checks = BTreeMap<String, Result<Preflight, String>>;

/// A user as it goes to the destination, what the copy does with it, why
/// if it skips it, and the destination's state for an update.
type Decided = (Entry, Action, Option<Skip>, Option<String>);

/// The decision on one user, already rewritten for the destination:
/// matched, checked against protected users and identifiers owned by
/// others, preflighted, and compared.
fn user(
    mut ours: Entry,
    dest: &TenantIndex,
    inputs: &Inputs<'_>,
    (pools, checks): (&BTreeMap<String, crate::contract::Pool>, Option<&Checks>),
) -> Result<Decided, String> {
    let skip = |ours, why| Ok((ours, Action::Skip, Some(why), None));
    let pool = ours.user.user_pool_id.clone();
    let Some(settings) = pools.get(&pool) else {
        return skip(ours, Skip::Missing("pool"));
    };
    let ci = settings.identifier_case_insensitive.unwrap_or(false);
    let owners = |i: &crate::contract::UserIdentifier| {
        dest.owners(&pool, i.kind.as_str(), &i.identifier, ci)
    };
    if let Some(kind) = inputs.match_existing {
        let mut found = BTreeSet::new();
        for i in ours.identifiers.iter().filter(|i| i.kind == kind) {
            found.extend(owners(i)?.into_iter().filter(|o| *o != ours.user.id));
        }
        if found.len() > 1 {
            return skip(ours, Skip::Ambiguous);
        }
        if let Some(existing) = found.pop_first() {
            let ids = IdScope::new(&inputs.rules.tenant, &pool);
            ours.relink(existing, |k, id| {
                let k = match k {
                    SubRecord::Credential => RecordKind::MatchedCredential,
                    SubRecord::Identifier => RecordKind::MatchedIdentifier,
                    SubRecord::Address => RecordKind::MatchedAddress,
                };
                ids.matched(k, existing, id)
            });
        }
    }
    if inputs.protected.contains(&ours.user.id) {
        return skip(
            ours,
            Skip::Protected("the destination's user with this id is protected".into()),
        );
    }
    for i in &ours.identifiers {
        for owner in owners(i)? {
            if owner == ours.user.id {
                continue;
            }
            let what = format!("its {} identifier", i.kind.as_str());
            return if inputs.protected.contains(&owner) {
                skip(
                    ours,
                    Skip::Protected(format!("{what} is a protected user's")),
                )
            } else {
                skip(ours, Skip::Owned(format!("{what} belongs to user {owner}")))
            };
        }
    }
    match checks.and_then(|c| c.get(&pool)) {
        Some(Ok(check)) => {
            let violations = check.check(&ours.user);
            if !violations.is_empty() {
                let said: Vec<String> = violations.iter().map(ToString::to_string).collect();
                return skip(ours, Skip::Preflight(said.join("; ")));
            }
        }
        Some(Err(why)) => return skip(ours, Skip::Preflight(why.clone())),
        None => {}
    }
    let theirs = dest.entry(ours.user.id)?;
    let (a, b) = (
        ExportLine::new(ours.clone()),
        theirs.clone().map(ExportLine::new),
    );
    let (action, why) = against(&a, b.as_ref(), inputs.mode);
    let before = match (action, b) {
        (Action::Update, Some(b)) => Some(json(&b)?),
        _ => None,
    };
    Ok((ours, action, why, before))
}
