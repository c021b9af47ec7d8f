use super::*;
use crate::tools::synthetic;

/// The entries of `n` synthetic users, in id order.
fn entries(n: u64) -> Vec<Entry> {
    let body = synthetic::users("demo", "default", 0..n);
    let mut entries: Vec<Entry> = body
        .users
        .iter()
        .map(|u| Entry::in_body(&body, u))
        .collect();
    entries.sort_by_key(|e| e.user.id);
    entries
}

fn source(entries: &[Entry]) -> Vec<SourceUser> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| SourceUser {
            id: e.user.id,
            row: i as u64 + 1,
            key: format!("k{i}"),
            entry: e.clone(),
        })
        .collect()
}

fn target(entries: &[Entry]) -> Vec<ExportLine> {
    entries.iter().cloned().map(ExportLine::new).collect()
}

#[test]
fn a_merge_finds_missing_different_and_extra_users_and_counts_the_rest() {
    let all = entries(6);
    // The target lacks user 1, has user 3 changed, and holds user 5 only.
    let mut changed = all[3].clone();
    changed.user.status = crate::contract::UserStatus::Inactive;
    let theirs = target(&[
        all[0].clone(),
        all[2].clone(),
        changed,
        all[4].clone(),
        all[5].clone(),
    ]);
    let ours = source(&all[..5]);
    let mut found = Vec::new();
    let matching = merge(ours, theirs, |line| found.push(line));
    assert_eq!(matching, 3);
    let findings: Vec<(Finding, Uuid, Vec<String>)> = found
        .into_iter()
        .map(|l| (l.finding, l.id, l.fields))
        .collect();
    assert_eq!(
        findings,
        [
            (Finding::Missing, all[1].user.id, vec![]),
            (
                Finding::Different,
                all[3].user.id,
                vec!["user.status".to_string()]
            ),
            (Finding::Extra, all[5].user.id, vec![]),
        ]
    );
}

#[test]
fn times_alone_are_no_difference() {
    let all = entries(2);
    let mut later = all.clone();
    later[0].user.updated_at = Some(time::OffsetDateTime::now_utc());
    let mut found = Vec::new();
    assert_eq!(merge(source(&all), target(&later), |l| found.push(l)), 2);
    assert!(found.is_empty());
}

#[test]
fn field_names_leave_record_ids_out() {
    assert_eq!(
        field_name("identifiers[0f4a5c1e-8b2d-4f3a-9c6e-1d2b3a4c5e6f].identifier"),
        "identifiers.identifier"
    );
    assert_eq!(
        field_name("addresses[0f4a5c1e-8b2d-4f3a-9c6e-1d2b3a4c5e6f]: not at the target"),
        "addresses: not at the target"
    );
    assert_eq!(field_name("user.status"), "user.status");
}
