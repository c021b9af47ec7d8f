//! `ferry copy` and `ferry rollback` between `ferry serve` instances (and
//! between two tenants of one).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use ferry::contract::{ImportBody, ImportMode};
use ferry::send::client::{ClientConfig, TargetClient};
use ferry::server::FaultConfig;
use serde_json::{json, Value};

use crate::common::{describe, ferry, full_dump, sorted};
use crate::import::{Target, SECRET};

/// The source tenant and the destination tenant.
const FROM: &str = "staging";
const TO: &str = "prod";
/// The destination's protected administrator.
const ADMIN: &str = "admin@corp.example";

fn client(target: &Target, tenant: &str) -> TargetClient {
    let base = url::Url::parse(&target.url()).unwrap();
    let secret = ferry::send::token::ClientSecret::new(SECRET);
    TargetClient::new(ClientConfig::new(
        base,
        tenant.to_string(),
        "ferry".to_string(),
        secret,
    ))
    .unwrap()
}

/// Imports `body` into `tenant` of `target` under `mode`.
fn put(target: &Target, tenant: &str, body: &ImportBody, mode: ImportMode) {
    let client = client(target, tenant);
    let bytes = bytes::Bytes::from(serde_json::to_vec(body).unwrap());
    let answer = target.block_on(client.put_batch(bytes, mode)).unwrap();
    assert_eq!(answer.status, 204, "{:?}", answer.error);
}

/// Everything `tenant` of `target` holds, each array sorted.
fn dump(target: &Target, tenant: &str) -> ImportBody {
    let mut body = target.block_on(client(target, tenant).export()).unwrap();
    let pools = std::mem::take(&mut body.pools);
    let mut body = sorted(body);
    body.pools = pools;
    body.pools.sort_by(|a, b| a.id.cmp(&b.id));
    body.schemas.sort_by(|a, b| a.id.cmp(&b.id));
    body.groups
        .sort_by(|a, b| (&a.user_pool_id, &a.id).cmp(&(&b.user_pool_id, &b.id)));
    body.group_members.sort_by(|a, b| {
        (&a.user_pool_id, &a.group_id, a.user_id).cmp(&(&b.user_pool_id, &b.group_id, b.user_id))
    });
    body
}

/// A target serving `tenants` (the first its default), whose pool is `pool`.
fn serve(dir: &Path, name: &str, tenants: &[&str], pool: &str) -> Target {
    let (first, rest) = tenants.split_first().unwrap();
    let rest: Vec<String> = rest.iter().map(|t| t.to_string()).collect();
    let (first, pool) = (first.to_string(), pool.to_string());
    Target::start_with(dir.join(name), move |config| {
        config.tenant_id = first;
        config.pool_id = pool;
        config.extra_tenants = rest;
        config.faults = FaultConfig::default();
    })
}

/// The source tenant: the full dump's records (every field the description
/// defines, in pool `full`), a second pool, three groups, `users` synthetic
/// users over two pools, memberships, and a user with the destination
/// administrator's email.
fn seed_source(target: &Target, tenant: &str, users: u64) -> ImportBody {
    let full: ImportBody = serde_json::from_value(full_dump::dump(tenant)).unwrap();
    put(target, tenant, &full, ImportMode::Ignore);
    let mut setup: ImportBody = serde_json::from_value(json!({
        "pools": [{"id": "partners", "tenant_id": tenant, "name": "Partners",
                   "metadata": {"portal": "https://partners.staging.example.com/login",
                                "callbacks": ["https://staging.example.com/cb", "not a url"]},
                   "authentication_mechanisms": ["password"]},
                  {"id": "default", "tenant_id": tenant, "name": "Customers",
                   "description": "from staging", "payload_schema_id": "user_v0",
                   "authentication_mechanisms": ["password", "otp"]}],
        "groups": [{"id": "admins", "tenant_id": tenant, "user_pool_id": "default", "name": "Admins"},
                   {"id": "staff", "tenant_id": tenant, "user_pool_id": "default", "name": "Staff"},
                   {"id": "resellers", "tenant_id": tenant, "user_pool_id": "partners", "name": "Resellers"}]
    }))
    .unwrap();
    put(target, tenant, &setup, ImportMode::Update);
    let split = users * 3 / 5;
    for (pool, range) in [("default", 0..split), ("partners", split..users)] {
        let mut start = range.start;
        while start < range.end {
            let end = (start + 100).min(range.end);
            let body = ferry::tools::synthetic::users(tenant, pool, start..end);
            put(target, tenant, &body, ImportMode::Ignore);
            start = end;
        }
    }
    // Memberships: the first 30 users of each pool.
    let mut members = ImportBody::default();
    let of = |pool, range| ferry::tools::synthetic::users(tenant, pool, range).users;
    for (n, user) in of("default", 0..split.min(30)).into_iter().enumerate() {
        let group = if n < 5 { "admins" } else { "staff" };
        members
            .group_members
            .push(member(tenant, "default", group, &user.id.to_string()));
    }
    for user in of("partners", split..(split + 30).min(users)) {
        members.group_members.push(member(
            tenant,
            "partners",
            "resellers",
            &user.id.to_string(),
        ));
    }
    put(target, tenant, &members, ImportMode::Ignore);
    // A source user with the destination administrator's email.
    let mut impostor = ferry::tools::synthetic::users(tenant, "default", users + 1..users + 2);
    impostor.user_identifiers[0].identifier = ADMIN.to_string();
    impostor.user_identifiers[0].identifier_lc = ADMIN.to_string();
    put(target, tenant, &impostor, ImportMode::Ignore);
    setup.groups.clear();
    dump(target, tenant)
}

fn member(tenant: &str, pool: &str, group: &str, user: &str) -> ferry::contract::GroupMember {
    serde_json::from_value(json!({"group_id": group, "tenant_id": tenant,
                                  "user_id": user, "user_pool_id": pool}))
    .unwrap()
}

/// The destination: its own pool `main` (with its own settings) holding
/// the administrator.
fn seed_destination(target: &Target, tenant: &str) -> ImportBody {
    let mut admin = ferry::tools::synthetic::users(tenant, "main", 900_000..900_001);
    admin.user_identifiers[0].identifier = ADMIN.to_string();
    admin.user_identifiers[0].identifier_lc = ADMIN.to_string();
    admin.pools = vec![serde_json::from_value(json!({
        "id": "main", "tenant_id": tenant, "name": "Production",
        "authentication_mechanisms": ["webauthn"], "identifier_case_insensitive": true,
        "password_settings": {"hashing_method": "argon2"}
    }))
    .unwrap()];
    put(target, tenant, &admin, ImportMode::Update);
    dump(target, tenant)
}

/// Runs `ferry copy` from `from` to `to` with `extra` flags, in `dir`.
fn copy(dir: &Path, from: (&Target, &str), to: (&Target, &str), extra: &[&str]) -> Output {
    let (from_url, to_url) = (from.0.url(), to.0.url());
    let mut args = vec![
        "copy",
        "--from",
        &from_url,
        "--from-tenant",
        from.1,
        "--to",
        &to_url,
        "--to-tenant",
        to.1,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(args)
        .output()
        .unwrap()
}

fn rollback(dir: &Path, to: (&Target, &str), backup: &str) -> Output {
    let url = to.0.url();
    ferry()
        .current_dir(dir)
        .env("FERRY_TO_CLIENT_SECRET", SECRET)
        .args(["rollback", backup, "--to", &url, "--to-tenant", to.1])
        .output()
        .unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn lines(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `(collection, id)` of the plan's lines with `action`.
fn planned(plan: &[Value], action: &str) -> BTreeSet<(String, String)> {
    plan.iter()
        .filter(|l| l["action"] == action)
        .map(|l| {
            (
                l["collection"].as_str().unwrap().to_string(),
                l["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn tally(report: &Value, collection: &str) -> (u64, u64, u64) {
    let t = &report["collections"][collection];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    (n("create"), n("update"), n("unchanged"))
}

const COPY: [&str; 8] = [
    "--pool-map",
    "default=main",
    "--rewrite",
    "staging.example.com=example.com",
    "--protect",
    "email:admin@corp.example",
    "--mode",
    "update",
];

#[test]
fn a_tenant_arrives_whole_rewritten_protected_and_rolls_back_byte_identical() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let source = serve(dir, "a.db", &[FROM], "default");
    let dest = serve(dir, "b.db", &[TO], "main");
    let users = 10_000;
    let before_source = seed_source(&source, FROM, users);
    let before = seed_destination(&dest, TO);
    let admin_before: Vec<_> = before.users.clone();

    // The preview.
    let mut flags = COPY.to_vec();
    flags.extend(["--dry-run", "--plan", "dry.jsonl", "--report", "dry.json"]);
    let t = std::time::Instant::now();
    let preview = copy(dir, (&source, FROM), (&dest, TO), &flags);
    eprintln!("TIMING dry {:?}", t.elapsed());
    assert_eq!(preview.status.code(), Some(3), "{}", describe(&preview));
    assert_eq!(dump(&dest, TO), before, "a dry run writes nothing");
    let dry = read_json(&dir.join("dry.json"));
    // Every source user but the impostor, the full dump's user included.
    assert_eq!(tally(&dry, "users"), (users + 1, 0, 0), "{dry}");
    assert_eq!(
        dry["collections"]["users"]["skipped"]["protected"], 1,
        "{dry}"
    );
    assert_eq!(tally(&dry, "schemas"), (1, 0, 0));
    // `default` goes onto the destination's `main`, updated; `partners`, `full` created.
    assert_eq!(tally(&dry, "pools"), (2, 1, 0), "{dry}");
    assert_eq!(tally(&dry, "groups"), (4, 0, 0));
    assert_eq!(tally(&dry, "group_members"), (61, 0, 0));
    let faulty = lines(&dir.join("ferry-copy-faulty.jsonl"));
    assert_eq!(faulty.len(), 1, "{faulty:?}");
    assert_eq!(faulty[0]["action"], "skip");
    assert!(
        faulty[0]["reason"].as_str().unwrap().contains("protected"),
        "{faulty:?}"
    );
    let summary = String::from_utf8_lossy(&preview.stdout);
    assert!(summary.contains("no write request was sent"), "{summary}");

    // The copy makes exactly the writes the preview predicted.
    let mut flags = COPY.to_vec();
    flags.extend([
        "--plan",
        "run.jsonl",
        "--report",
        "run.json",
        "--backup",
        "backup",
    ]);
    let t = std::time::Instant::now();
    let run = copy(dir, (&source, FROM), (&dest, TO), &flags);
    eprintln!("TIMING run {:?}", t.elapsed());
    assert_eq!(run.status.code(), Some(3), "{}", describe(&run));
    let (dry_plan, run_plan) = (lines(&dir.join("dry.jsonl")), lines(&dir.join("run.jsonl")));
    assert_eq!(dry_plan, run_plan);
    let journal: Vec<Value> = std::fs::read_dir(dir.join("backup"))
        .unwrap()
        .flat_map(|e| lines(&e.unwrap().path()))
        .collect();
    let journaled = |op: &str| journal.iter().filter(|l| l["op"] == op).count();
    assert_eq!(journaled("created"), planned(&dry_plan, "create").len());
    assert_eq!(journaled("replaced"), planned(&dry_plan, "update").len());
    assert_eq!(crate::common::mode_of(&dir.join("backup")), 0o700);
    let report = read_json(&dir.join("run.json"));
    let written: u64 = report["written"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        written as usize,
        planned(&dry_plan, "create").len() + planned(&dry_plan, "update").len()
    );
    assert_eq!(
        report["changes"]["rewritten"]["pools.metadata.portal"], 1,
        "{report}"
    );
    assert_eq!(
        report["changes"]["rewritten"]["pools.metadata.callbacks[]"], 1,
        "{report}"
    );

    // Arrived: every record in the destination tenant, pools mapped, URLs rewritten.
    let after = dump(&dest, TO);
    let text = serde_json::to_string(&after).unwrap();
    assert!(
        !text.contains(&format!("\"{FROM}\"")),
        "the source tenant id is left somewhere"
    );
    assert!(!text.contains("staging.example.com"));
    let pools: BTreeSet<&str> = after
        .users
        .iter()
        .map(|u| u.user_pool_id.as_str())
        .chain(
            after
                .user_identifiers
                .iter()
                .map(|i| i.user_pool_id.as_str()),
        )
        .chain(after.group_members.iter().map(|m| m.user_pool_id.as_str()))
        .chain(after.groups.iter().map(|g| g.user_pool_id.as_str()))
        .collect();
    assert_eq!(
        pools,
        BTreeSet::from(["full", "main", "partners"]),
        "the pool id default is left somewhere"
    );
    assert_eq!(after.users.len(), before_source.users.len() - 1 + 1);
    for user in &before_source.users {
        let Some(arrived) = after.users.iter().find(|u| u.id == user.id) else {
            assert!(after.user_identifiers.iter().all(|i| i.user_id != user.id));
            continue;
        };
        assert_eq!(arrived.payload, user.payload);
        assert_eq!(arrived.created_at, user.created_at);
        let mapped = if user.user_pool_id == "default" {
            "main"
        } else {
            &user.user_pool_id
        };
        assert_eq!(arrived.user_pool_id, mapped);
    }
    let count = |b: &ImportBody| {
        (
            b.user_credentials.len(),
            b.user_identifiers.len(),
            b.user_verifiable_addresses.len(),
        )
    };
    let (c, i, a) = count(&before_source);
    assert_eq!(count(&after), (c - 1 + 1, i - 1 + 1, a - 2 + 2));
    assert_eq!(after.group_members.len(), 61);
    let full = after
        .users
        .iter()
        .find(|u| u.id.to_string() == full_dump::USER)
        .unwrap();
    assert_eq!(
        full.business_metadata,
        Some(serde_json::from_value(json!({"cost_centre": 7})).unwrap())
    );
    // The destination's own pool settings are kept, its name comes from the source.
    let main = after
        .pools
        .iter()
        .find(|p| p.id.as_deref() == Some("main"))
        .unwrap_or_else(|| panic!("{:?}", after.pools));
    let main_before = before
        .pools
        .iter()
        .find(|p| p.id.as_deref() == Some("main"))
        .unwrap();
    assert_eq!(main.name, "Customers");
    // Its schema ids come from the source: a schema this copy created,
    // which the rollback must not delete while the pool still names it.
    assert_eq!(main.payload_schema_id.as_deref(), Some("user_v0"));
    assert_eq!(
        main.authentication_mechanisms,
        main_before.authentication_mechanisms
    );
    assert_eq!(main.password_settings, main_before.password_settings);
    // The protected administrator is untouched under --mode update.
    for admin in &admin_before {
        assert_eq!(after.users.iter().find(|u| u.id == admin.id), Some(admin));
    }
    let admin_ids: Vec<_> = after
        .user_identifiers
        .iter()
        .filter(|i| i.identifier == ADMIN)
        .collect();
    assert_eq!(admin_ids.len(), 1);
    assert_eq!(admin_ids[0].user_id, admin_before[0].id);

    // A second copy changes nothing.
    let again = copy(
        dir,
        (&source, FROM),
        (&dest, TO),
        &[&COPY[..], &["--report", "again.json", "--backup", "backup"]].concat(),
    );
    assert_eq!(again.status.code(), Some(3), "{}", describe(&again));
    let again = read_json(&dir.join("again.json"));
    assert_eq!(again["written"], json!({}), "{again}");
    assert_eq!(tally(&again, "users"), (0, 0, users + 1));
    assert_eq!(dump(&dest, TO), after);

    // The rollback: the destination is back as it was, byte for byte.
    let t = std::time::Instant::now();
    let back = rollback(dir, (&dest, TO), "backup");
    eprintln!("TIMING rollback {:?}", t.elapsed());
    assert_eq!(back.status.code(), Some(0), "{}", describe(&back));
    let restored = dump(&dest, TO);
    assert_eq!(
        serde_json::to_vec(&restored).unwrap(),
        serde_json::to_vec(&before).unwrap()
    );
    // Rolling back again changes nothing and still says so.
    let twice = rollback(dir, (&dest, TO), "backup");
    assert_eq!(twice.status.code(), Some(0), "{}", describe(&twice));
    assert_eq!(dump(&dest, TO), before);
}

#[test]
fn an_interrupted_copy_resumes_from_its_checkpoint_without_reading_either_side_again() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let source = serve(dir, "a.db", &[FROM], "default");
    // Every import request the destination answers takes 150 ms, so the
    // kill below lands while the users are written.
    let dest = Target::start_with(dir.join("b.db"), |config| {
        config.tenant_id = TO.to_string();
        config.pool_id = "main".to_string();
        let slow = std::time::Duration::from_millis(150);
        config.faults.latency = Some(ferry::server::LatencyRange {
            min: slow,
            max: slow,
        });
    });
    let users = 3_000;
    seed_source(&source, FROM, users);
    let before = seed_destination(&dest, TO);
    let mut flags = COPY.to_vec();
    flags.extend(["--backup", "backup", "--report", "run.json"]);

    // SIGKILL once the second round of users is in the journal: the first
    // is acknowledged, the second in flight.
    // The journal as text: it may end in a line being appended.
    let journal = || -> String {
        std::fs::read_dir(dir.join("backup"))
            .map(|entries| {
                entries
                    .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    let users_journaled = |journal: &str| {
        journal
            .matches(r#"{"op":"created","collection":"users""#)
            .count()
    };
    let (from_url, to_url) = (source.url(), dest.url());
    let mut child = ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(["copy", "--from", &from_url, "--from-tenant", FROM])
        .args(["--to", &to_url, "--to-tenant", TO, "--quiet"])
        .args(&flags)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while users_journaled(&journal()) <= 800 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the copy ended before it could be interrupted"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let checkpoint = dir.join("ferry-copy.checkpoint");
    assert_eq!(crate::common::mode_of(&checkpoint), 0o600);
    let cut = dump(&dest, TO);
    assert!(cut.users.len() > before.users.len() && cut.users.len() < before.users.len() + 3_000);

    // Other flags would carry out a plan they do not describe: refused.
    let other = [&flags[..], &["--strip", "totp"]].concat();
    let refused = copy(dir, (&source, FROM), (&dest, TO), &other);
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("rules changed") && said.contains("--restart"),
        "{said}"
    );
    assert_eq!(dump(&dest, TO), cut, "a refused resume writes nothing");

    // A user added to the source now is not in the plan: the resumed copy
    // reads neither side again.
    let late = ferry::tools::synthetic::users(FROM, "default", users + 7..users + 8);
    put(&source, FROM, &late, ImportMode::Ignore);
    let resumed = copy(dir, (&source, FROM), (&dest, TO), &flags);
    assert_eq!(resumed.status.code(), Some(3), "{}", describe(&resumed));
    let report = read_json(&dir.join("run.json"));
    assert!(report["resumed"].is_string(), "{report}");
    assert_eq!(report["phases"]["read"], 0.0, "{report}");
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("resumed the interrupted copy"));
    assert!(
        !checkpoint.exists(),
        "a finished copy removes its checkpoint"
    );
    // One journal, each created user in it at least once, a round at most twice.
    let journal = journal();
    assert_eq!(std::fs::read_dir(dir.join("backup")).unwrap().count(), 1);
    let planned_users = users as usize + 1;
    let journaled = users_journaled(&journal);
    assert!(
        (planned_users..=planned_users + 800).contains(&journaled),
        "{journaled} users journaled for {planned_users}"
    );
    // The faulty file still lists the plan's skip (the impostor), once.
    let faulty = lines(&dir.join("ferry-copy-faulty.jsonl"));
    assert_eq!(faulty.len(), 1, "{faulty:?}");

    // Nothing lost: planned again, only the late user is left to create.
    let again = [&COPY[..], &["--dry-run", "--report", "again.json"]].concat();
    let preview = copy(dir, (&source, FROM), (&dest, TO), &again);
    assert_eq!(preview.status.code(), Some(3), "{}", describe(&preview));
    let again = read_json(&dir.join("again.json"));
    for collection in ["schemas", "pools", "groups", "group_members"] {
        assert_eq!(tally(&again, collection).0, 0, "{collection}: {again}");
        assert_eq!(tally(&again, collection).1, 0, "{collection}: {again}");
    }
    assert_eq!(tally(&again, "users").0, 1, "{again}");
    assert_eq!(tally(&again, "users").1, 0, "{again}");

    // The one journal undoes both runs' writes.
    let back = rollback(dir, (&dest, TO), "backup");
    assert_eq!(back.status.code(), Some(0), "{}", describe(&back));
    assert_eq!(dump(&dest, TO), before);
}

#[test]
fn a_missing_protected_user_stops_the_copy_before_any_write() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let source = serve(dir, "a.db", &[FROM], "default");
    let dest = serve(dir, "b.db", &[TO], "main");
    seed_source(&source, FROM, 20);
    let before = seed_destination(&dest, TO);
    let out = copy(
        dir,
        (&source, FROM),
        (&dest, TO),
        &[
            "--protect",
            "email:nobody@corp.example",
            "--backup",
            "backup",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("cannot find the protected user email:nobody@corp.example"),
        "{said}"
    );
    assert_eq!(dump(&dest, TO), before);
    assert!(!dir.join("backup").exists());
}

#[test]
fn two_tenants_of_one_server_copy_with_new_ids_idempotently_and_fail_mode_refuses() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let server = serve(dir, "one.db", &[FROM, TO], "default");
    let source = seed_source(&server, FROM, 200);
    let same_ids = copy(dir, (&server, FROM), (&server, TO), &[]);
    assert_eq!(same_ids.status.code(), Some(2), "{}", describe(&same_ids));
    assert!(String::from_utf8_lossy(&same_ids.stderr).contains("needs --new-ids"));
    let flags = ["--new-ids", "--report", "r.json", "--strip", "password"];
    let first = copy(dir, (&server, FROM), (&server, TO), &flags);
    assert_eq!(first.status.code(), Some(0), "{}", describe(&first));
    let r = read_json(&dir.join("r.json"));
    assert_eq!(tally(&r, "users").0, 202, "{r}");
    let arrived = dump(&server, TO);
    assert_eq!(arrived.users.len(), 202);
    assert!(arrived.user_credentials.is_empty(), "--strip password");
    let ids: BTreeSet<_> = source.users.iter().map(|u| u.id).collect();
    assert!(
        arrived.users.iter().all(|u| !ids.contains(&u.id)),
        "--new-ids"
    );
    assert_eq!(r["changes"]["stripped"]["password"], 202);
    // The same source gives the same ids: nothing to write the second time.
    let second = copy(dir, (&server, FROM), (&server, TO), &flags);
    assert_eq!(second.status.code(), Some(0), "{}", describe(&second));
    assert_eq!(read_json(&dir.join("r.json"))["written"], json!({}));
    assert_eq!(dump(&server, TO), arrived);
    // The source tenant is as it was.
    assert_eq!(dump(&server, FROM), source);

    // --mode fail with a record that differs: refused, nothing written.
    let changed = dir.join("changed");
    let mut one = ferry::tools::synthetic::users(FROM, "default", 0..1);
    one.users[0].payload = Some(serde_json::from_value(json!({"name": "Changed"})).unwrap());
    put(&server, FROM, &one, ImportMode::Update);
    let refused = copy(
        dir,
        (&server, FROM),
        (&server, TO),
        &[
            "--new-ids",
            "--mode",
            "fail",
            "--backup",
            changed.to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("records exist at the destination and differ"),
        "{said}"
    );
    assert_eq!(dump(&server, TO), arrived);
}

#[test]
fn an_identifier_owned_at_the_destination_is_faulty_and_retried_with_match_existing() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let server = serve(dir, "one.db", &[FROM, TO], "default");
    seed_source(&server, FROM, 50);
    // The destination has its own user with the email of source user 3.
    let mut theirs = ferry::tools::synthetic::users(TO, "default", 3..4);
    let source_id = ferry::tools::synthetic::users(FROM, "default", 3..4).users[0].id;
    // With --new-ids the source user would arrive as this id.
    let new_id = ferry::mapping::ids::IdScope::new(TO, "default").user(&source_id.to_string());
    let theirs_id = theirs.users[0].id;
    assert_ne!(theirs_id, source_id);
    theirs.users[0].payload = Some(serde_json::from_value(json!({"name": "Theirs"})).unwrap());
    put(&server, TO, &theirs, ImportMode::Ignore);

    let first = copy(
        dir,
        (&server, FROM),
        (&server, TO),
        &[
            "--new-ids",
            "--faulty",
            "f.jsonl",
            "--exclude",
            "group_members",
        ],
    );
    assert_eq!(first.status.code(), Some(3), "{}", describe(&first));
    let faulty = lines(&dir.join("f.jsonl"));
    assert_eq!(faulty.len(), 1, "{faulty:?}");
    assert_eq!(faulty[0]["id"], source_id.to_string());
    assert!(faulty[0]["reason"]
        .as_str()
        .unwrap()
        .contains("identifier owned by another user"));
    assert!(
        !faulty.iter().any(|l| l.to_string().contains("$2")),
        "no hash in the faulty file"
    );

    // A faulty file an earlier run left is not mistaken for this run's.
    std::fs::write(dir.join("f2.jsonl"), "stale\n").unwrap();
    let retried = copy(
        dir,
        (&server, FROM),
        (&server, TO),
        &[
            "--new-ids",
            "--retry-faulty",
            "f.jsonl",
            "--faulty",
            "f2.jsonl",
            "--match-existing",
            "email",
            "--mode",
            "update",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(retried.status.code(), Some(0), "{}", describe(&retried));
    let r = read_json(&dir.join("r.json"));
    assert_eq!(tally(&r, "users"), (0, 1, 0), "{r}");
    assert!(
        !dir.join("f2.jsonl").exists(),
        "no faulty record: no faulty file"
    );
    let after = dump(&server, TO);
    let matched = after.users.iter().find(|u| u.id == theirs_id).unwrap();
    assert_eq!(matched.payload.as_ref().unwrap()["name"], "User 3");
    assert!(
        after.users.iter().all(|u| u.id != new_id),
        "updated, not duplicated"
    );
}

#[test]
fn the_preflight_catches_a_payload_field_the_destination_schema_lacks() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let server = serve(dir, "one.db", &[FROM, TO], "default");
    seed_source(&server, FROM, 20);
    let mut odd = ferry::tools::synthetic::users(FROM, "default", 4..5);
    let odd_id = odd.users[0].id;
    if let Some(payload) = odd.users[0].payload.as_mut() {
        payload.insert("loyalty_tier".into(), json!("gold"));
    }
    put(&server, FROM, &odd, ImportMode::Update);
    let strict_schema: ImportBody = serde_json::from_value(json!({
        "schemas": [{"id": "people", "tenant_id": TO, "name": "People", "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "given_name": {"type": "string"},
                           "family_name": {"type": "string"}}}}],
        "pools": [{"id": "default", "tenant_id": TO, "name": "Production", "payload_schema_id": "people"}]
    }))
    .unwrap();
    put(&server, TO, &strict_schema, ImportMode::Update);
    let before = dump(&server, TO);
    let flags = [
        "--new-ids",
        "--pool",
        "default",
        "--preflight",
        "--faulty",
        "f.jsonl",
        "--report",
        "r.json",
    ];

    let strict = copy(
        dir,
        (&server, FROM),
        (&server, TO),
        &[&flags[..], &["--strict"]].concat(),
    );
    assert_eq!(strict.status.code(), Some(2), "{}", describe(&strict));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("--strict"));
    assert_eq!(
        dump(&server, TO),
        before,
        "nothing is written under --strict"
    );

    let out = copy(dir, (&server, FROM), (&server, TO), &flags);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let faulty = lines(&dir.join("f.jsonl"));
    // The user, and its membership (its user does not arrive).
    assert_eq!(faulty.len(), 2, "{faulty:?}");
    assert_eq!(faulty[0]["id"], odd_id.to_string());
    assert_eq!(faulty[1]["collection"], "group_members");
    assert!(faulty[1]["id"]
        .as_str()
        .unwrap()
        .ends_with(&odd_id.to_string()));
    let reason = faulty[0]["reason"].as_str().unwrap();
    assert!(reason.contains("payload.loyalty_tier"), "{reason}");
    assert!(
        !reason.contains("gold"),
        "values are never written: {reason}"
    );
    let r = read_json(&dir.join("r.json"));
    assert_eq!(tally(&r, "users").0, 12, "{r}");
    // The destination pool's own schema stays (its settings are kept under ignore).
    let after = dump(&server, TO);
    assert_eq!(after.users.len(), 12);
    let pool = after
        .pools
        .iter()
        .find(|p| p.id.as_deref() == Some("default"))
        .unwrap();
    assert_eq!(pool.payload_schema_id.as_deref(), Some("people"));
}
