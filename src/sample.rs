//! `ferry sample`: realistic synthetic user exports.
//!
//! A sample has `users` valid users plus about `bad_rows` rows spread through
//! the file that each break exactly one validation rule, so a test knows how
//! many rows must be rejected and why. Everything comes from a ChaCha RNG
//! seeded with `seed`: the same seed and sizes give the same bytes on every
//! machine.
//!
//! The data looks like a real export: names from many scripts and locales,
//! mixed-case emails, phones in several local notations (always with their
//! country code), verified flags in several spellings, groups, creation times
//! in two formats, and passwords hashed as SHA-256(password ‖ salt) in hex with
//! their 8-byte salts in hex.
//!
//! [`write_with_passwords`] hashes the passwords in the formats of a
//! [`SampleHash`] list instead (users take them in turn), and can write each
//! user's plaintext password to a second file, so that tests and rehearsals
//! can sign in as the sample users. To keep generation fast the work factors
//! are deliberately cheap, and each hash string states its own: bcrypt cost 4
//! (`$2b$04$`), argon2id `m=64,t=1,p=1`, pbkdf2 1000 rounds. Never use such
//! parameters for real passwords.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::mapping::Field;
use crate::source::Format;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSpec {
    /// Valid users.
    pub users: u64,
    /// Bad rows, added on top of the users and spread through the file.
    pub bad_rows: u64,
    /// RNG seed.
    pub seed: u64,
    /// CSV or JSON Lines.
    pub format: Format,
}

/// The rule a bad row breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadKind {
    MissingKey,
    InvalidEmail,
    InvalidPhone,
    OversizeName,
    DuplicateKey,
    DuplicateEmail,
    UnsupportedAlgorithm,
    InvalidStatus,
    InvalidCreatedAt,
    /// CSV only.
    WrongColumnCount,
    /// CSV only.
    InvalidUtf8,
    /// JSON Lines only.
    InvalidJson,
}

impl BadKind {
    /// How the rule reads in a summary.
    pub fn describe(self) -> &'static str {
        match self {
            BadKind::MissingKey => "missing id",
            BadKind::InvalidEmail => "invalid email",
            BadKind::InvalidPhone => "phone not E.164",
            BadKind::OversizeName => "name over 1 KiB",
            BadKind::DuplicateKey => "duplicate id",
            BadKind::DuplicateEmail => "duplicate email",
            BadKind::UnsupportedAlgorithm => "unsupported password algorithm",
            BadKind::InvalidStatus => "invalid status",
            BadKind::InvalidCreatedAt => "invalid created_at",
            BadKind::WrongColumnCount => "wrong column count",
            BadKind::InvalidUtf8 => "invalid UTF-8",
            BadKind::InvalidJson => "invalid JSON",
        }
    }

    /// Every rule, in the order samples draw from (the order fixes a seed's bytes).
    const ALL: [BadKind; 12] = [
        BadKind::MissingKey,
        BadKind::InvalidEmail,
        BadKind::InvalidPhone,
        BadKind::OversizeName,
        BadKind::DuplicateKey,
        BadKind::DuplicateEmail,
        BadKind::UnsupportedAlgorithm,
        BadKind::InvalidStatus,
        BadKind::InvalidCreatedAt,
        BadKind::WrongColumnCount,
        BadKind::InvalidUtf8,
        BadKind::InvalidJson,
    ];

    /// The rules a row of `format` can break.
    fn for_format(format: Format) -> Vec<BadKind> {
        let applies = |kind: &BadKind| match kind {
            BadKind::WrongColumnCount | BadKind::InvalidUtf8 => format == Format::CSV,
            BadKind::InvalidJson => format == Format::JSON_LINES,
            _ => true,
        };
        BadKind::ALL.into_iter().filter(applies).collect()
    }
}

/// What was generated: which rows are bad and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleReport {
    /// Data rows written.
    pub rows: u64,
    /// Valid users among them.
    pub users: u64,
    /// (1-based row, rule broken) for every bad row.
    pub bad: Vec<(u64, BadKind)>,
}

impl SampleReport {
    /// A summary for people: counts per rule with their rows.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} rows: {} valid users, {} bad rows",
            self.rows,
            self.users,
            self.bad.len()
        );
        let mut kinds: Vec<BadKind> = self.bad.iter().map(|(_, k)| *k).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            let rows: Vec<String> = self
                .bad
                .iter()
                .filter(|(_, k)| *k == kind)
                .map(|(r, _)| r.to_string())
                .collect();
            out.push_str(&format!(
                "\n  {}: {} (rows {})",
                kind.describe(),
                rows.len(),
                rows.join(", ")
            ));
        }
        out
    }
}

/// Writes a sample to `path`.
pub fn write_file(spec: &SampleSpec, path: &Path) -> std::io::Result<SampleReport> {
    write_file_with_passwords(spec, &[SampleHash::Sha256], path, None)
}

/// Writes a sample to `path` with passwords hashed in `hashes` (in turn),
/// and, with `plaintext_out`, each user's identifier and plaintext password
/// as JSON Lines (`{"identifier": email, "password": ...}`) to a file
/// created with mode 0600.
pub fn write_file_with_passwords(
    spec: &SampleSpec,
    hashes: &[SampleHash],
    path: &Path,
    plaintext_out: Option<&Path>,
) -> std::io::Result<SampleReport> {
    let file = File::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut plain = match plaintext_out {
        Some(path) => Some(BufWriter::new(create_private(path)?)),
        None => None,
    };
    let report = write_with_passwords(
        spec,
        hashes,
        &mut out,
        plain.as_mut().map(|w| w as &mut dyn Write),
    )?;
    out.flush()?;
    if let Some(mut plain) = plain {
        plain.flush()?;
    }
    Ok(report)
}

/// Creates (truncating) a file only its owner may read.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Writes a sample to `out`.
pub fn write(spec: &SampleSpec, out: &mut impl Write) -> std::io::Result<SampleReport> {
    write_with_passwords(spec, &[SampleHash::Sha256], out, None)
}

/// Writes a sample to `out` with passwords hashed in `hashes`, taken in turn
/// by the users that have a password, and the plaintexts to `plaintext`.
/// With `[SampleHash::Sha256]` the bytes are those of [`write`].
pub fn write_with_passwords(
    spec: &SampleSpec,
    hashes: &[SampleHash],
    out: &mut impl Write,
    mut plaintext: Option<&mut dyn Write>,
) -> std::io::Result<SampleReport> {
    let hashes = if hashes.is_empty() {
        &[SampleHash::Sha256][..]
    } else {
        hashes
    };
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    // Bad rows need a valid row before them (duplicates copy one).
    let bad_rows = if spec.users == 0 { 0 } else { spec.bad_rows };
    let bad_kinds = BadKind::for_format(spec.format);
    let mut bad_after = spread(&mut rng, spec.users, bad_rows)
        .into_iter()
        .peekable();
    let mut sink = Sink::new(spec.format, out)?;
    let mut report = SampleReport {
        rows: 0,
        users: spec.users,
        bad: Vec::new(),
    };
    let mut first: Option<(String, String)> = None;
    for n in 1..=spec.users {
        let hash = hashes[(n as usize - 1) % hashes.len()];
        let person = Person::generate(&mut rng, n, hash);
        sink.write(&person.fields())?;
        if let (Some(plain), Some(password)) = (plaintext.as_mut(), &person.password) {
            let line = serde_json::json!({ "identifier": person.email, "password": password });
            serde_json::to_writer(&mut **plain, &line)?;
            plain.write_all(b"\n")?;
        }
        report.rows += 1;
        let earlier = first
            .get_or_insert_with(|| (person.id.clone(), person.email.clone()))
            .clone();
        while bad_after.next_if_eq(&n).is_some() {
            let kind = *bad_kinds.choose(&mut rng).unwrap_or(&BadKind::MissingKey);
            let mut person =
                Person::generate(&mut rng, BAD_ROW_NUMBERS + report.rows, SampleHash::Sha256);
            person.break_rule(kind, &earlier);
            sink.write_bad(&person, kind)?;
            report.rows += 1;
            report.bad.push((report.rows, kind));
        }
    }
    Ok(report)
}

/// Bad rows number their people from here, so that they never share an id,
/// email or phone with a valid row by accident.
const BAD_ROW_NUMBERS: u64 = 90_000_000;

/// For `count` bad rows among `users` valid ones: after which valid user (1-based)
/// each comes, evenly spread with jitter, in order.
fn spread(rng: &mut ChaCha8Rng, users: u64, count: u64) -> Vec<u64> {
    let step = users as f64 / count.max(1) as f64;
    (0..count)
        .map(|i| {
            let jitter: f64 = rng.random_range(0.0..1.0);
            (((i as f64 + jitter) * step).floor() as u64 + 1).clamp(1, users)
        })
        .collect()
}

const GIVEN: &[&str] = &[
    "Zoë",
    "Loïc",
    "Hélène",
    "José",
    "Sofía",
    "Jürgen",
    "Åsa",
    "Bjørn",
    "Łukasz",
    "Çağla",
    "Ngọc",
    "Σοφία",
    "Дмитрий",
    "陽翔",
    "伟",
    "محمد",
    "Aarav",
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Mia",
    "Lucas",
    "Chloé",
    "Siobhán",
    "Mateo",
    "Ana",
    "Yuki",
    "Fatima",
    "Oluwaseun",
];
const FAMILY: &[&str] = &[
    "Müller",
    "Dubois",
    "García",
    "Núñez",
    "Ødegård",
    "Wójcik",
    "Şahin",
    "Nguyễn",
    "Παπαδόπουλος",
    "Иванова",
    "佐藤",
    "王",
    "الهاشمي",
    "Sharma",
    "Smith",
    "O'Brien",
    "Johnson",
    "Kowalski",
    "Rossi",
    "Silva",
    "Kim",
    "Andersson",
    "van der Berg",
    "De la Cruz",
    "Okafor",
    "Tanaka",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "Example.org",
    "mail.example.net",
    "EXAMPLE.DE",
    "inbox.example.co.uk",
];
const GROUPS: &[&str] = &[
    "customers",
    "newsletter",
    "beta",
    "vip",
    "staff",
    "support",
    "partners",
    "eu",
];
const TRUE_WORDS: &[&str] = &["true", "TRUE", "1", "yes"];
const FALSE_WORDS: &[&str] = &["false", "FALSE", "0", "no"];
/// Phone layouts: country code, then the local number split and joined as that country writes it.
const PHONE_STYLES: &[(&str, &[usize], &str)] = &[
    ("+1", &[3, 3, 4], "us"),
    ("+44", &[2, 4, 4], " "),
    ("+49", &[2, 4, 4], "."),
    ("+33", &[1, 2, 2, 2, 2], "-"),
    ("+81", &[1, 4, 4], " "),
    ("+61", &[1, 4, 4], " "),
];

/// One generated person, as text fields.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    email: String,
    email_verified: String,
    phone: String,
    phone_verified: String,
    given_name: String,
    family_name: String,
    name: String,
    password_hash: String,
    password_salt: String,
    password_algorithm: String,
    /// The plaintext the hash was made from (never written to the sample itself).
    password: Option<String>,
    status: String,
    created_at: String,
    groups: String,
}

impl Person {
    fn generate(rng: &mut ChaCha8Rng, n: u64, hash: SampleHash) -> Person {
        let given = *GIVEN.choose(rng).unwrap_or(&"Ana");
        let family = *FAMILY.choose(rng).unwrap_or(&"Silva");
        let local = format!("{}.{}{}", ascii_fold(given), ascii_fold(family), n);
        let local = match rng.random_range(0..3) {
            0 => local.to_lowercase(),
            1 => capitalise(&local),
            _ => local.to_uppercase(),
        };
        let email = format!("{local}@{}", DOMAINS.choose(rng).unwrap_or(&"example.com"));
        let phone = if rng.random_bool(0.7) {
            phone(rng, n)
        } else {
            String::new()
        };
        let verified = |rng: &mut ChaCha8Rng| {
            let words = if rng.random_bool(0.6) {
                TRUE_WORDS
            } else {
                FALSE_WORDS
            };
            words.choose(rng).unwrap_or(&"false").to_string()
        };
        let email_verified = verified(rng);
        let phone_verified = if phone.is_empty() {
            String::new()
        } else {
            verified(rng)
        };
        let name = match rng.random_range(0..10) {
            0 => format!("{family}, {given}"),
            1 => format!("Dr. {given} {family}"),
            _ => String::new(),
        };
        let (password, (password_hash, password_salt, password_algorithm)) =
            if rng.random_bool(0.95) {
                let password: String = (0..12)
                    .map(|_| rng.random_range(b'!'..=b'~') as char)
                    .collect();
                let columns = hash.columns(rng, &password);
                (Some(password), columns)
            } else {
                (None, (String::new(), String::new(), String::new()))
            };
        let status = match rng.random_range(0..20) {
            0 | 1 => "inactive",
            2 => "new",
            3 => "Active",
            _ => "active",
        };
        let created = rng.random_range(1_325_376_000i64..1_767_225_600); // 2012 .. 2026
        let created_at = time::OffsetDateTime::from_unix_timestamp(created).map(|t| {
            if rng.random_bool(0.7) {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            } else {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second]"
                ))
                .unwrap_or_default()
            }
        });
        let group_count = rng.random_range(0..4);
        let groups: Vec<&str> = GROUPS.choose_multiple(rng, group_count).copied().collect();
        Person {
            id: (10_000_000 + n).to_string(),
            email,
            email_verified,
            phone,
            phone_verified,
            given_name: given.to_string(),
            family_name: family.to_string(),
            name,
            password_hash,
            password_salt,
            password_algorithm,
            password,
            status: status.to_string(),
            created_at: created_at.unwrap_or_default(),
            groups: groups.join(";"),
        }
    }

    /// Breaks exactly one rule; `earlier` is a valid earlier row's (id, email).
    fn break_rule(&mut self, kind: BadKind, earlier: &(String, String)) {
        match kind {
            BadKind::MissingKey => self.id.clear(),
            BadKind::InvalidEmail => self.email = self.email.replace('@', " at "),
            BadKind::InvalidPhone => self.phone = "(555) 010-4477".to_string(),
            BadKind::OversizeName => self.given_name = "Maximilian".repeat(120),
            BadKind::DuplicateKey => self.id = earlier.0.clone(),
            BadKind::DuplicateEmail => self.email = earlier.1.to_uppercase(),
            BadKind::UnsupportedAlgorithm => {
                // A Firebase-style scrypt export: the target cannot verify it.
                self.password_hash = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==".to_string();
                self.password_salt = "42xEC+ixf3L2lw==".to_string();
                self.password_algorithm = "firebase_scrypt".to_string();
            }
            BadKind::InvalidStatus => self.status = "suspended?".to_string(),
            BadKind::InvalidCreatedAt => self.created_at = "31/12/2019".to_string(),
            // Written specially by the sink.
            BadKind::WrongColumnCount | BadKind::InvalidUtf8 | BadKind::InvalidJson => {}
        }
    }

    fn fields(&self) -> [(&'static str, &str); 14] {
        let value = |field: Field| match field {
            Field::Id => self.id.as_str(),
            Field::Email => &self.email,
            Field::EmailVerified => &self.email_verified,
            Field::Phone => &self.phone,
            Field::PhoneVerified => &self.phone_verified,
            Field::GivenName => &self.given_name,
            Field::FamilyName => &self.family_name,
            Field::Name => &self.name,
            Field::PasswordHash => &self.password_hash,
            Field::PasswordSalt => &self.password_salt,
            Field::PasswordAlgorithm => &self.password_algorithm,
            Field::Status => &self.status,
            Field::CreatedAt => &self.created_at,
            Field::Groups => &self.groups,
        };
        Field::ALL.map(|f| (f.name(), value(f)))
    }
}

fn phone(rng: &mut ChaCha8Rng, n: u64) -> String {
    let (code, groups, sep) = PHONE_STYLES
        .choose(rng)
        .copied()
        .unwrap_or(("+1", &[3, 3, 4], "us"));
    let digits_needed: usize = groups.iter().sum();
    // Unique per user: the user number, scrambled by a multiplication that is
    // a bijection modulo a power of ten, fills the low digits; a random
    // non-zero digit leads.
    let modulus = 10u64.pow(digits_needed as u32 - 1);
    let low = (n % modulus).wrapping_mul(48_271) % modulus;
    let lead = rng.random_range(2..=9u64);
    let digits = format!("{lead}{low:0width$}", width = digits_needed - 1);
    let mut parts = Vec::new();
    let mut at = 0;
    for g in groups {
        parts.push(&digits[at..at + g]);
        at += g;
    }
    if sep == "us" {
        format!("{code} ({}) {}-{}", parts[0], parts[1], parts[2])
    } else {
        format!("{code} {}", parts.join(sep))
    }
}

fn ascii_fold(name: &str) -> String {
    let folded: String = name
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | 'A'..='Z' => Some(c),
            'à' | 'á' | 'â' | 'ä' | 'å' | 'ã' => Some('a'),
            'Å' => Some('A'),
            'ç' => Some('c'),
            'Ç' => Some('C'),
            'è' | 'é' | 'ê' | 'ë' | 'ễ' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' => Some('i'),
            'ñ' => Some('n'),
            'ò' | 'ó' | 'ô' | 'ö' | 'ø' | 'ọ' => Some('o'),
            'Ø' => Some('O'),
            'ù' | 'ú' | 'û' | 'ü' => Some('u'),
            'ł' => Some('l'),
            'Ł' => Some('L'),
            'ğ' => Some('g'),
            'ş' => Some('s'),
            'Ş' => Some('S'),
            _ => None,
        })
        .collect();
    if folded.is_empty() {
        "user".to_string()
    } else {
        folded
    }
}

fn capitalise(s: &str) -> String {
    s.split('.')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A password format of the sample (`ferry sample --password-formats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleHash {
    /// SHA-256(password ‖ salt), hex digest, 8-byte hex salt; `password_algorithm` sha256.
    Sha256,
    /// SHA-1(password ‖ salt), hex, hex salt.
    Sha1,
    /// SHA-512(password ‖ salt), hex, hex salt.
    Sha512,
    /// MD5(password ‖ salt), hex, hex salt.
    Md5,
    /// bcrypt `$2b$04$…` (cost 4).
    Bcrypt,
    /// argon2id PHC string, `m=64,t=1,p=1`.
    Argon2id,
    /// passlib's `$pbkdf2-sha256$1000$…` (adapted base64).
    Pbkdf2Sha256,
    /// Django's `pbkdf2_sha256$1000$salt$hash`.
    DjangoPbkdf2Sha256,
    /// LDAP `{SSHA}` (SHA-1, salt after the digest).
    Ssha,
    /// LDAP `{SSHA512}`.
    Ssha512,
}

impl SampleHash {
    /// Every format, in the order of [`SampleHash::name`].
    pub const ALL: [SampleHash; 10] = [
        SampleHash::Sha256,
        SampleHash::Sha1,
        SampleHash::Sha512,
        SampleHash::Md5,
        SampleHash::Bcrypt,
        SampleHash::Argon2id,
        SampleHash::Pbkdf2Sha256,
        SampleHash::DjangoPbkdf2Sha256,
        SampleHash::Ssha,
        SampleHash::Ssha512,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SampleHash::Sha256 => "sha256",
            SampleHash::Sha1 => "sha1",
            SampleHash::Sha512 => "sha512",
            SampleHash::Md5 => "md5",
            SampleHash::Bcrypt => "bcrypt",
            SampleHash::Argon2id => "argon2id",
            SampleHash::Pbkdf2Sha256 => "pbkdf2-sha256",
            SampleHash::DjangoPbkdf2Sha256 => "django-pbkdf2-sha256",
            SampleHash::Ssha => "ssha",
            SampleHash::Ssha512 => "ssha512",
        }
    }

    /// Parses a comma-separated list of names (`all` for every format).
    pub fn parse_list(text: &str) -> Result<Vec<SampleHash>, String> {
        let mut list = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                list.extend(SampleHash::ALL);
                continue;
            }
            let format = SampleHash::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown password format '{name}' (known: all, {})",
                        SampleHash::ALL.map(SampleHash::name).join(", ")
                    )
                })?;
            list.push(format);
        }
        Ok(list)
    }

    /// The (password_hash, password_salt, password_algorithm) columns for `password`.
    fn columns(self, rng: &mut ChaCha8Rng, password: &str) -> (String, String, String) {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        use base64::Engine;
        let pw = password.as_bytes();
        // Hex digest of password ‖ 8-byte salt, the salt in hex, and the algorithm's name.
        fn salted<D: Digest>(
            rng: &mut ChaCha8Rng,
            pw: &[u8],
            name: &str,
        ) -> (String, String, String) {
            let salt: [u8; 8] = rng.random();
            let digest = D::new().chain_update(pw).chain_update(salt).finalize();
            (hex::encode(digest), hex::encode(salt), name.to_string())
        }
        match self {
            SampleHash::Sha256 => {
                // The draw order (salt, then the name's spelling) keeps earlier samples' bytes.
                let (hash, salt, _) = salted::<Sha256>(rng, pw, "");
                let algorithm = if rng.random_bool(0.8) {
                    "sha256"
                } else {
                    "SHA-256"
                };
                (hash, salt, algorithm.to_string())
            }
            SampleHash::Sha1 => salted::<sha1::Sha1>(rng, pw, "sha1"),
            SampleHash::Sha512 => salted::<sha2::Sha512>(rng, pw, "sha512"),
            SampleHash::Md5 => salted::<md5::Md5>(rng, pw, "md5"),
            SampleHash::Bcrypt => {
                let salt: [u8; 16] = rng.random();
                let hash = bcrypt::hash_with_salt(pw, 4, salt)
                    .map(|h| h.format_for_version(bcrypt::Version::TwoB))
                    .unwrap_or_default();
                (hash, String::new(), String::new())
            }
            SampleHash::Argon2id => {
                let salt: [u8; 16] = rng.random();
                let mut key = [0u8; 32];
                let params = argon2::Params::new(64, 1, 1, Some(32));
                let ok = params.is_ok_and(|params| {
                    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                        .hash_password_into(pw, &salt, &mut key)
                        .is_ok()
                });
                let hash = format!(
                    "$argon2id$v=19$m=64,t=1,p=1${}${}",
                    STANDARD_NO_PAD.encode(salt),
                    STANDARD_NO_PAD.encode(key)
                );
                (
                    if ok { hash } else { String::new() },
                    String::new(),
                    String::new(),
                )
            }
            SampleHash::Pbkdf2Sha256 => {
                let salt: [u8; 16] = rng.random();
                let mut key = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(pw, &salt, 1000, &mut key);
                let ab64 = |b: &[u8]| STANDARD_NO_PAD.encode(b).replace('+', ".");
                let hash = format!("$pbkdf2-sha256$1000${}${}", ab64(&salt), ab64(&key));
                (hash, String::new(), String::new())
            }
            SampleHash::DjangoPbkdf2Sha256 => {
                let salt: String = (0..12)
                    .map(|_| {
                        *b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            .choose(rng)
                            .unwrap_or(&b'a') as char
                    })
                    .collect();
                let mut key = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(pw, salt.as_bytes(), 1000, &mut key);
                let hash = format!("pbkdf2_sha256$1000${salt}${}", STANDARD.encode(key));
                (hash, String::new(), String::new())
            }
            SampleHash::Ssha | SampleHash::Ssha512 => {
                let salt: [u8; 8] = rng.random();
                let (scheme, mut raw) = match self {
                    SampleHash::Ssha => (
                        "SSHA",
                        sha1::Sha1::new()
                            .chain_update(pw)
                            .chain_update(salt)
                            .finalize()
                            .to_vec(),
                    ),
                    _ => (
                        "SSHA512",
                        sha2::Sha512::new()
                            .chain_update(pw)
                            .chain_update(salt)
                            .finalize()
                            .to_vec(),
                    ),
                };
                raw.extend_from_slice(&salt);
                (
                    format!("{{{scheme}}}{}", STANDARD.encode(raw)),
                    String::new(),
                    String::new(),
                )
            }
        }
    }
}

/// Writes rows in the sample's format.
enum Sink<'w, W: Write> {
    Csv(Box<csv::Writer<&'w mut W>>),
    Jsonl(&'w mut W),
}

impl<'w, W: Write> Sink<'w, W> {
    fn new(format: Format, out: &'w mut W) -> std::io::Result<Sink<'w, W>> {
        if format == Format::CSV {
            let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(out);
            writer.write_record(Field::ALL.map(Field::name))?;
            Ok(Sink::Csv(Box::new(writer)))
        } else if format == Format::JSON_LINES {
            Ok(Sink::Jsonl(out))
        } else {
            Err(std::io::Error::other(format!(
                "ferry sample writes csv or jsonl, not {format}"
            )))
        }
    }

    fn write(&mut self, fields: &[(&str, &str); 14]) -> std::io::Result<()> {
        match self {
            Sink::Csv(writer) => writer
                .write_record(fields.iter().map(|(_, v)| *v))
                .map_err(std::io::Error::other),
            Sink::Jsonl(out) => {
                let object: Map<String, Value> = fields
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| {
                        let value = match *k {
                            "email_verified" | "phone_verified" => {
                                Value::Bool(TRUE_WORDS.contains(v))
                            }
                            "groups" => Value::Array(
                                v.split(';').map(|g| Value::String(g.to_string())).collect(),
                            ),
                            _ => Value::String(v.to_string()),
                        };
                        (k.to_string(), value)
                    })
                    .collect();
                serde_json::to_writer(&mut **out, &object)?;
                out.write_all(b"\n")
            }
        }
    }

    fn write_bad(&mut self, person: &Person, kind: BadKind) -> std::io::Result<()> {
        let fields = person.fields();
        match (self, kind) {
            (Sink::Csv(writer), BadKind::WrongColumnCount) => writer
                .write_record(fields.iter().take(5).map(|(_, v)| *v))
                .map_err(std::io::Error::other),
            (Sink::Csv(writer), BadKind::InvalidUtf8) => {
                let mut record: Vec<Vec<u8>> =
                    fields.iter().map(|(_, v)| v.as_bytes().to_vec()).collect();
                // Latin-1 "Müller": what an export from a legacy system often looks like.
                record[6] = b"M\xfcller".to_vec();
                writer
                    .write_byte_record(&csv::ByteRecord::from(record))
                    .map_err(std::io::Error::other)
            }
            (Sink::Jsonl(out), BadKind::InvalidJson) => {
                writeln!(
                    out,
                    "{{\"id\": \"{}\", \"email\": \"{}\", \"given_name\": ",
                    person.id, person.email
                )
            }
            (sink, _) => sink.write(&fields),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(format: Format, users: u64, bad: u64, seed: u64) -> (Vec<u8>, SampleReport) {
        let mut out = Vec::new();
        let report = write(
            &SampleSpec {
                users,
                bad_rows: bad,
                seed,
                format,
            },
            &mut out,
        )
        .unwrap();
        (out, report)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        for format in [Format::CSV, Format::JSON_LINES] {
            let (a, ra) = sample(format, 200, 10, 7);
            let (b, rb) = sample(format, 200, 10, 7);
            assert_eq!(a, b);
            assert_eq!(ra, rb);
            assert_ne!(a, sample(format, 200, 10, 8).0);
        }
    }

    #[test]
    fn counts_add_up() {
        let (out, report) = sample(Format::JSON_LINES, 500, 25, 1);
        assert_eq!(report.users, 500);
        assert_eq!(report.rows, report.users + report.bad.len() as u64);
        assert!(
            report.bad.len() >= 20,
            "about K bad rows: {}",
            report.bad.len()
        );
        assert_eq!(
            out.iter().filter(|b| **b == b'\n').count() as u64,
            report.rows
        );
    }

    #[test]
    fn phones_normalise_to_unique_e164() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = std::collections::HashSet::new();
        for n in 1..2000 {
            let p = phone(&mut rng, n);
            let e164 = crate::contract::rules::normalize_phone(&p).unwrap_or_else(|| panic!("{p}"));
            assert!(seen.insert(e164), "{p} repeated");
        }
    }
}
