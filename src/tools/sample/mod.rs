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
//!
//! The people are made in [`people`], their password columns in [`hashes`],
//! the bad rows' rules in [`bad`]; this module writes the rows.

mod bad;
mod hashes;
mod people;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::mapping::Field;
use crate::private::private_file;
use crate::source::Format;

pub use bad::BadKind;
pub use hashes::SampleHash;
use people::{Person, TRUE_WORDS};

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

/// Writes a sample to `path`, created with mode 0600 (it holds password hashes).
pub fn write_file(spec: &SampleSpec, path: &Path) -> std::io::Result<SampleReport> {
    write_file_with_passwords(spec, &[SampleHash::Sha256], path, None)
}

/// Writes a sample to `path` with passwords hashed in `hashes` (in turn),
/// and, with `plaintext_out`, each user's identifier and plaintext password
/// as JSON Lines (`{"identifier": email, "password": ...}`) to a file; both
/// files are created with mode 0600.
pub fn write_file_with_passwords(
    spec: &SampleSpec,
    hashes: &[SampleHash],
    path: &Path,
    plaintext_out: Option<&Path>,
) -> std::io::Result<SampleReport> {
    let file = create_private(path)?;
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

/// Creates (truncating) a file only its owner may read: a sample holds
/// password hashes, its plaintexts file the passwords themselves.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    private_file(&mut options, path)
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

/// Writes rows in the sample's format.
enum Sink<'w, W: Write> {
    Csv(Box<csv::Writer<&'w mut W>>),
    Jsonl(&'w mut W),
}

impl<'w, W: Write> Sink<'w, W> {
    fn new(format: Format, out: &'w mut W) -> std::io::Result<Sink<'w, W>> {
        if format == Format::CSV {
            let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(out);
            writer
                .write_record(Field::ALL.map(Field::name))
                .map_err(csv_io_error)?;
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
                .map_err(csv_io_error),
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
                .map_err(csv_io_error),
            (Sink::Csv(writer), BadKind::InvalidUtf8) => {
                let mut record: Vec<Vec<u8>> =
                    fields.iter().map(|(_, v)| v.as_bytes().to_vec()).collect();
                // Latin-1 "Müller": what an export from a legacy system often looks like.
                record[6] = b"M\xfcller".to_vec();
                writer
                    .write_byte_record(&csv::ByteRecord::from(record))
                    .map_err(csv_io_error)
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

/// The CSV writer's error as an I/O error of the same kind (`csv` makes
/// every one `Other`), so that a caller tells a pipe whose reader went away
/// (`BrokenPipe`) from a full disk.
fn csv_io_error(err: csv::Error) -> std::io::Error {
    let kind = match err.kind() {
        csv::ErrorKind::Io(io) => io.kind(),
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, err)
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
}
