use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use time::macros::datetime;
use uuid::Version;

use super::*;

fn target() -> Target {
    Target {
        tenant: "acme".into(),
        pool: "default".into(),
        import_time: datetime!(2026-01-02 03:04:05 UTC),
    }
}

fn default_mapper() -> Mapper {
    let header: Vec<String> = Field::ALL.iter().map(|f| f.name().to_string()).collect();
    Mapper::new(target(), Mapping::default_for(Some(&header)).unwrap())
}

fn sha256_hex(password: &str, salt: &[u8]) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(password)
            .chain_update(salt)
            .finalize(),
    )
}

fn row<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<&'a str, &'a str> {
    pairs.iter().copied().collect()
}

fn full_row(hash: &str) -> BTreeMap<&str, &str> {
    row(&[
        ("id", "u-1"),
        ("email", "Zoe.Mueller@Example.COM"),
        ("email_verified", "true"),
        ("phone", "+49 (30) 1234-5678"),
        ("phone_verified", "no"),
        ("given_name", "Zoë"),
        ("family_name", "Müller"),
        ("password_hash", hash),
        ("password_salt", "a1b2"),
        ("password_algorithm", "sha256"),
        ("status", "Active"),
        ("created_at", "2019-05-06 07:08:09"),
        ("groups", "admins; staff;;admins"),
    ])
}

fn reject(mapper: &mut Mapper, fields: &BTreeMap<&str, &str>) -> String {
    match mapper.map_fields(fields) {
        Ok(_) => panic!("row was accepted: {fields:?}"),
        Err((_, reason)) => reason,
    }
}

#[test]
fn a_full_row_becomes_four_record_sets() {
    let hash = sha256_hex("pw", &[0xa1, 0xb2]);
    let (key, r) = default_mapper().map_fields(&full_row(&hash)).unwrap();
    assert_eq!(key, "u-1");
    let ids = IdScope::new("acme", "default");
    assert_eq!(r.user.id, ids.user("u-1"));
    assert_eq!(r.user.status, UserStatus::Active);
    let payload = r.user.payload.as_ref().unwrap();
    assert_eq!(
        payload["name"], "Zoë Müller",
        "name is composed from the parts"
    );
    assert_eq!(
        r.user.metadata.as_ref().unwrap()["groups"],
        serde_json::json!(["admins", "staff"])
    );
    assert_eq!(r.user.created_at, Some(datetime!(2019-05-06 07:08:09 UTC)));
    assert_eq!(r.user.updated_at, Some(target().import_time));

    assert_eq!(r.identifiers.len(), 2);
    let email = &r.identifiers[0];
    assert_eq!(
        (
            email.kind,
            email.identifier.as_str(),
            email.identifier_lc.as_str()
        ),
        (
            IdentifierType::Email,
            "Zoe.Mueller@Example.COM",
            "zoe.mueller@example.com"
        )
    );
    let phone = &r.identifiers[1];
    assert_eq!(
        (phone.kind, phone.identifier.as_str()),
        (IdentifierType::Mobile, "+493012345678")
    );

    assert_eq!(r.addresses.len(), 2);
    assert!(r.addresses[0].verified && !r.addresses[1].verified);
    assert!(r
        .addresses
        .iter()
        .all(|a| a.status == AddressStatus::Active));

    assert_eq!(r.credentials.len(), 1);
    let hashed = r.credentials[0].payload.hashed_password.as_ref().unwrap();
    assert_eq!(hashed.config.method, crate::contract::HashMethod::Sha);

    let mut all = vec![r.user.id, r.credentials[0].id];
    all.extend(r.identifiers.iter().map(|i| i.id));
    all.extend(r.addresses.iter().map(|a| a.id));
    assert!(all
        .iter()
        .all(|id| id.get_version() == Some(Version::Random)));
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no two records share an id");
    assert!(r.credentials.iter().all(|c| c.user_id == r.user.id));
    assert!(r.identifiers.iter().all(|c| c.user_id == r.user.id));
    assert!(r.addresses.iter().all(|c| c.user_id == r.user.id));
}

#[test]
fn mapping_is_deterministic() {
    let hash = sha256_hex("pw", &[0xa1, 0xb2]);
    let a = default_mapper().map_fields(&full_row(&hash)).unwrap();
    let b = default_mapper().map_fields(&full_row(&hash)).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a.1.user).unwrap(),
        serde_json::to_string(&b.1.user).unwrap()
    );
}

#[test]
fn a_minimal_row_gets_defaults() {
    let (_, r) = default_mapper()
        .map_fields(&row(&[("id", "7"), ("email", "a@b.co")]))
        .unwrap();
    assert_eq!(r.user.status, UserStatus::Active);
    assert_eq!(r.user.created_at, Some(target().import_time));
    assert!(r.user.metadata.is_none());
    assert!(r.credentials.is_empty());
    assert_eq!(r.identifiers.len(), 1);
    assert_eq!(r.user.payload, Some(Map::new()));
}

#[test]
fn every_rejection_reason() {
    let hash = sha256_hex("pw", b"");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("email", "a@b.co")],
            "user key (column 'id') is missing",
        ),
        (
            vec![("id", "  "), ("email", "a@b.co")],
            "user key (column 'id') is missing",
        ),
        (
            vec![("id", "1"), ("email", "not-an-email")],
            "email 'not-an-email' is invalid: has no '@'",
        ),
        (
            vec![("id", "1"), ("phone", "555 0134")],
            "phone '555 0134' is not an E.164 number",
        ),
        (
            vec![("id", "1"), ("status", "zombie")],
            "status 'zombie' is not one of",
        ),
        (
            vec![
                ("id", "1"),
                ("email", "a@b.co"),
                ("email_verified", "maybe"),
            ],
            "email_verified 'maybe' is not a boolean",
        ),
        (
            vec![("id", "1"), ("created_at", "yesterday")],
            "created_at 'yesterday' is not a time",
        ),
        (
            vec![
                ("id", "1"),
                ("password_hash", "$2b$10$abc"),
                ("password_algorithm", "bcrypt"),
            ],
            "password_hash is not a well-formed bcrypt string",
        ),
        (
            vec![
                ("id", "1"),
                ("password_hash", "abcd"),
                ("password_algorithm", "sha256"),
            ],
            "password_hash is not a hex or base64 SHA-256 digest",
        ),
        (
            vec![
                ("id", "1"),
                ("password_hash", &hash),
                ("password_salt", "xyz"),
            ],
            "password_salt is not hex",
        ),
    ];
    for (fields, expected) in cases {
        let reason = reject(&mut default_mapper(), &row(&fields));
        assert!(
            reason.starts_with(expected),
            "{fields:?}: got '{reason}', expected '{expected}'"
        );
    }
}

#[test]
fn oversize_fields_are_rejected_without_echoing_them() {
    let long_name = "x".repeat(MAX_NAME_BYTES + 1);
    let reason = reject(
        &mut default_mapper(),
        &row(&[("id", "1"), ("given_name", &long_name)]),
    );
    assert_eq!(reason, "given_name is 1025 bytes, over the 1024-byte limit");
    let long_email = format!("{}@example.com", "a".repeat(320));
    let reason = reject(
        &mut default_mapper(),
        &row(&[("id", "1"), ("email", &long_email)]),
    );
    assert!(
        reason.starts_with("email is 332 bytes, over the 320-byte limit"),
        "{reason}"
    );
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    let reason = reject(&mut default_mapper(), &row(&[("id", &long_key)]));
    assert!(reason.starts_with("user key is 257 bytes"), "{reason}");
    let many_groups = (0..300)
        .map(|i| format!("g{i}"))
        .collect::<Vec<_>>()
        .join(";");
    let reason = reject(
        &mut default_mapper(),
        &row(&[("id", "1"), ("groups", &many_groups)]),
    );
    assert!(reason.starts_with("groups has 300 entries"), "{reason}");
}

#[test]
fn duplicates_lose_to_the_first_row() {
    let mut m = default_mapper();
    assert!(m
        .map_fields(&row(&[
            ("id", "1"),
            ("email", "A@b.co"),
            ("phone", "+14155550100")
        ]))
        .is_ok());
    let reason = reject(&mut m, &row(&[("id", "1"), ("email", "other@b.co")]));
    assert_eq!(reason, "user key '1' was already used by an earlier row");
    let reason = reject(&mut m, &row(&[("id", "2"), ("email", "a@B.CO")]));
    assert_eq!(reason, "email 'a@b.co' was already used by an earlier row");
    let reason = reject(&mut m, &row(&[("id", "3"), ("phone", "+1 415 555 0100")]));
    assert_eq!(
        reason,
        "phone '+14155550100' was already used by an earlier row"
    );
    // A rejected row claims nothing: its email is still free.
    reject(
        &mut m,
        &row(&[("id", "4"), ("email", "free@b.co"), ("status", "bogus")]),
    );
    assert!(m
        .map_fields(&row(&[("id", "5"), ("email", "free@b.co")]))
        .is_ok());
}

#[test]
fn keys_on_lowercased_email_without_id_column() {
    let header = vec!["email".to_string(), "name".to_string()];
    let mut m = Mapper::new(target(), Mapping::default_for(Some(&header)).unwrap());
    let (key, r) = m
        .map_fields(&row(&[("email", "Jane@Example.com")]))
        .unwrap();
    assert_eq!(key, "jane@example.com");
    assert_eq!(
        r.user.id,
        IdScope::new("acme", "default").user("jane@example.com")
    );
    let reason = reject(&mut m, &row(&[("name", "No Mail")]));
    assert_eq!(
        reason,
        "user key is missing: the row has no email to key on"
    );
}

#[test]
fn mapping_file_renames_and_sets_constants() {
    let config = MappingConfig::parse(
        "key = \"cust\"\n[columns]\nemail = \"mail\"\ngiven_name = \"first\"\n[constants]\nstatus = \"inactive\"\n",
    )
    .unwrap();
    let header: Vec<String> = ["cust", "mail", "first"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut m = Mapper::new(target(), config.resolve(Some(&header)).unwrap());
    let (key, r) = m
        .map_fields(&row(&[
            ("cust", "C-9"),
            ("mail", "x@y.org"),
            ("first", "Ana"),
            ("status", "deleted"),
        ]))
        .unwrap();
    assert_eq!(key, "C-9");
    assert_eq!(
        r.user.status,
        UserStatus::Inactive,
        "a constant wins over the column"
    );
    assert_eq!(r.user.payload.unwrap()["given_name"], "Ana");
    assert_eq!(r.identifiers[0].identifier, "x@y.org");
}

#[test]
fn source_times() {
    assert_eq!(
        parse_time("2020-01-02T03:04:05+02:00"),
        Some(datetime!(2020-01-02 01:04:05 UTC))
    );
    assert_eq!(
        parse_time("2020-01-02 03:04:05"),
        Some(datetime!(2020-01-02 03:04:05 UTC))
    );
    assert_eq!(
        parse_time("2020-01-02"),
        Some(datetime!(2020-01-02 00:00:00 UTC))
    );
    assert_eq!(
        parse_time("1577934245"),
        Some(datetime!(2020-01-02 03:04:05 UTC))
    );
    assert_eq!(parse_time("02/01/2020"), None);
    assert_eq!(parse_time(""), None);
}

#[test]
fn plaintext_passwords_are_hashed_and_never_reach_the_rejects() {
    let config = MappingConfig::parse(
        r#"
        [passwords]
        plaintext_column = "pw"
        [passwords.argon2]
        memory_kb = 64
        iterations = 1
        parallelism = 1
        "#,
    )
    .unwrap();
    let header: Vec<String> = ["id", "email", "pw"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mapping = config.resolve(Some(&header)).unwrap();
    let mut mapper = Mapper::new(target(), mapping);
    let secret = "Sup3r-secret-plaintext";
    let make = |n: u64, email: &str| crate::source::Row {
        row: n,
        offset: 0,
        end: 0,
        body: crate::source::RowBody::Fields(Fields::from_pairs([
            ("id", n.to_string().as_str()),
            ("email", email),
            ("pw", secret),
        ])),
    };
    match mapper.map_row(make(1, "a@example.com")) {
        crate::mapping::Mapped::User(user) => {
            let hashed = user.records.credentials[0]
                .payload
                .hashed_password
                .as_ref()
                .unwrap();
            assert_eq!(hashed.config.method, crate::contract::HashMethod::Argon2);
            assert!(crate::server::verify::password_matches(
                hashed,
                secret,
                crate::contract::choices::SaltConvention::Text
            ));
            let kept = user.source.to_json().to_string();
            assert!(!kept.contains(secret), "{kept}");
            assert!(!format!("{:?}", user.records).contains(secret));
        }
        other => panic!("{other:?}"),
    }
    match mapper.map_row(make(2, "not an email")) {
        crate::mapping::Mapped::Rejected(r) => {
            let line = serde_json::to_string(&r).unwrap();
            assert!(!line.contains(secret), "{line}");
            assert!(line.contains(crate::mapping::REDACTED), "{line}");
        }
        other => panic!("{other:?}"),
    }
    let config = MappingConfig::parse("[passwords]\nplaintext_column = \"nope\"").unwrap();
    assert!(
        config.resolve(Some(&header)).is_err(),
        "a declared column must exist"
    );
}

/// The rows of a CSV text, as a source reads them.
fn csv_rows(csv: &str) -> Vec<Row> {
    crate::source::SourceReader::from_reader(
        "memory",
        std::io::Cursor::new(csv.to_owned()),
        crate::source::Format::CSV,
    )
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn unmapped_columns_are_found_per_header_and_per_json_record() {
    let mut mapper = Mapper::new(target(), Mapping::default_for(None).unwrap());
    let unmapped = |mapper: &mut Mapper, row: &Row| {
        let mut out = Vec::new();
        mapper.unmapped_of(row, &mut out);
        let mut names: Vec<String> = out
            .iter()
            .map(|n| mapper.unmapped_name(*n).to_string())
            .collect();
        names.sort();
        names
    };
    // Two headers one after the other (the files of a directory): each its own plan.
    let first = csv_rows("id,email,locale\nu1,a@x.io,fr\nu2,b@x.io,\n");
    let second = csv_rows("id,tier,email\nu3,gold,c@x.io\n");
    assert_eq!(unmapped(&mut mapper, &first[0]), ["locale"]);
    assert_eq!(
        unmapped(&mut mapper, &first[1]),
        Vec::<String>::new(),
        "an empty cell holds nothing"
    );
    assert_eq!(unmapped(&mut mapper, &second[0]), ["tier"]);
    assert_eq!(
        unmapped(&mut mapper, &first[0]),
        ["locale"],
        "back to the first header"
    );
    let json = Row {
        offset: 0,
        end: 0,
        row: 1,
        body: RowBody::Fields(Fields::from_json_object(
            serde_json::json!({"id": "u4", "nick": "N", "gone": null, "tags": []})
                .as_object()
                .cloned()
                .unwrap(),
        )),
    };
    assert_eq!(unmapped(&mut mapper, &json), ["nick"]);
}

fn json_fields(value: serde_json::Value) -> Fields {
    let serde_json::Value::Object(object) = value else {
        unreachable!("tests pass objects")
    };
    Fields::from_json_object(object)
}

fn mapper_of(toml: &str) -> Mapper {
    let config = MappingConfig::parse(toml).unwrap();
    Mapper::new(target(), config.resolve(None).unwrap())
}

#[test]
fn values_that_cannot_be_represented_are_rejections_not_coercions() {
    let mut m = mapper_of("key = \"id\"");
    let cases = [
        (
            serde_json::json!({"id": 12345, "email": "a@b.co"}),
            "number, not text",
        ),
        (
            serde_json::json!({"id": "u1", "given_name": {"first": "A"}}),
            "object or array, not a name",
        ),
        (
            serde_json::json!({"id": "u2", "name": "A\u{0}B"}),
            "control character",
        ),
        (serde_json::json!({"id": "u\u{7}3"}), "control character"),
        (
            serde_json::json!({"id": "u4", "created_at": "5138-11-16T09:46:40Z"}),
            "the year 5138",
        ),
        (
            serde_json::json!({"id": "u5", "created_at": "0000-01-01"}),
            "the year 0",
        ),
    ];
    for (record, why) in cases {
        let reason = match m.map_fields(&json_fields(record.clone())) {
            Ok(_) => panic!("accepted: {record}"),
            Err((_, reason)) => reason,
        };
        assert!(reason.contains(why), "{record}: {reason}");
    }
}

#[test]
fn rules_read_paths_transform_and_route_typed_attributes() {
    let mut m = mapper_of(
        r#"
        key = "user_id"
        inactive_if = ["blocked"]
        [columns]
        email = "emails[0].value"
        created_at = { path = "createdAt", as = ["epoch_ms"] }
        status = { path = "state", map = { ON = "active", OFF = "inactive" } }
        [payload]
        prefs = "user_metadata.prefs"
        "*" = { path = "*", prefix = "custom:" }
        [metadata]
        claims = { path = "claims", as = ["json"] }
        [[identifiers]]
        type = "uid"
        path = "username"
        [[identifiers]]
        type = "federated"
        path = "identities[*]"
        value = "{provider}|{user_id}"
        unless = { provider = ["auth0"] }
        "#,
    );
    let (_, records) = m
        .map_fields(&json_fields(serde_json::json!({
            "user_id": "auth0|1",
            "emails": [{"value": "A@b.co"}],
            "createdAt": "1614556800000",
            "state": "ON",
            "blocked": true,
            "user_metadata": {"prefs": {"n": 3, "dark": true}},
            "custom:tier": "gold",
            "claims": "{\"roles\":[\"admin\"]}",
            "username": "ann",
            "identities": [{"provider": "auth0", "user_id": "1"}, {"provider": "github", "user_id": 42}],
        })))
        .unwrap();
    let user = &records.user;
    assert_eq!(
        user.status,
        UserStatus::Inactive,
        "blocked wins over the mapped status"
    );
    assert_eq!(user.created_at, Some(datetime!(2021-03-01 00:00:00 UTC)));
    let payload = user.payload.as_ref().unwrap();
    assert_eq!(payload["prefs"], serde_json::json!({"n": 3, "dark": true}));
    assert_eq!(payload["custom:tier"], "gold");
    assert_eq!(
        user.metadata.as_ref().unwrap()["claims"],
        serde_json::json!({"roles": ["admin"]})
    );
    let ids: Vec<(&str, &str)> = records
        .identifiers
        .iter()
        .map(|i| (i.kind.as_str(), i.identifier.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("email", "A@b.co"),
            ("uid", "ann"),
            ("federated", "github|42")
        ]
    );
    // A value the map does not list is a rejection, not a guess.
    let reason = reject_json(
        &mut m,
        serde_json::json!({"user_id": "x", "state": "MAYBE"}),
    );
    assert!(reason.contains("none of the values"), "{reason}");
    // A uid with a space cannot be a uid.
    let reason = reject_json(
        &mut m,
        serde_json::json!({"user_id": "y", "username": "a b"}),
    );
    assert!(reason.contains("printable ASCII"), "{reason}");
}

fn reject_json(m: &mut Mapper, record: serde_json::Value) -> String {
    match m.map_fields(&json_fields(record.clone())) {
        Ok(_) => panic!("accepted: {record}"),
        Err((_, reason)) => reason,
    }
}

#[test]
fn skip_if_excludes_a_row_with_its_reason() {
    let mut m = mapper_of(
        "key = \"id\"\nskip_if = [{ path = \"serviceAccountClientId\", reason = \"a service account\" }]",
    );
    let row = |record: serde_json::Value| Row {
        row: 1,
        offset: 0,
        end: 1,
        body: RowBody::Fields(json_fields(record)),
    };
    match m.map_row(row(
        serde_json::json!({"id": "s", "serviceAccountClientId": "app"}),
    )) {
        Mapped::Rejected(r) => {
            assert_eq!(r.stage, Stage::Excluded);
            assert_eq!(r.reason, "a service account");
        }
        Mapped::User(_) => panic!("a service account was imported"),
    }
    assert!(matches!(
        m.map_row(row(serde_json::json!({"id": "u"}))),
        Mapped::User(_)
    ));
}

#[test]
fn a_time_read_directly_is_the_time_read_through_its_text() {
    // `as = ["time"]` alone reads the time directly; `["time", "trim"]`
    // writes it out as text and reads that again, as every other rule does.
    let mapping = |transforms: &str| {
        mapper_of(&format!(
            "key = \"id\"\n[columns]\ncreated_at = {{ path = \"t\", as = {transforms} }}\n"
        ))
    };
    let (mut direct, mut through_text) = (mapping(r#"["time"]"#), mapping(r#"["time", "trim"]"#));
    let times = [
        serde_json::json!("2021-03-05T16:35:16.123456789+02:00"),
        serde_json::json!("2021-03-05 16:35:16"),
        serde_json::json!(1614961716775u64),
        serde_json::json!("1614961716"),
        serde_json::json!(1614961716.5),
        serde_json::json!({"$date": "2021-03-05T16:31:00.658Z"}),
        serde_json::json!("1899-12-31T23:59:59Z"),
        serde_json::json!(-70_000_000_000i64),
        serde_json::json!("yesterday"),
        serde_json::json!(["2021-03-05", "2021-03-06"]),
        serde_json::json!(null),
        serde_json::json!(""),
    ];
    for (i, t) in times.into_iter().enumerate() {
        let record = serde_json::json!({"id": format!("u{i}"), "t": t});
        let outcome = |m: &mut Mapper| match m.map_fields(&json_fields(record.clone())) {
            Ok((_, records)) => Ok(records.user.created_at),
            Err((_, reason)) => Err(reason),
        };
        let (a, b) = (outcome(&mut direct), outcome(&mut through_text));
        assert_eq!(a, b, "{record}");
        if i < 6 {
            assert!(matches!(a, Ok(Some(_))), "{record}: {a:?}");
        }
    }
}
