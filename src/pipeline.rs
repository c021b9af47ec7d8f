//! The front half of the pipeline, shared by the dry run and the import:
//! open the source, resolve the mapping against it, and batch mapped rows.
//!
//! Everything that can make a source unusable (unknown format, no header, a
//! mapped column missing) is checked here, before anything is written.
//!
//! With a [`Preflight`] (`--preflight`), every mapped user is checked
//! against the destination pool's schemas as it is batched, and one they
//! refuse is a rejection ([`Stage::Preflight`](crate::reject::Stage)).
//! Under `--strict` a refused user stops the run instead, before anything
//! is sent: the source is mapped once through first (a pass that sends
//! and writes nothing, as the check of unmapped columns of a source without
//! a header does), and the first violations are the error.

use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::batch::{Batcher, FIRST_BATCH, MAX_BATCH_SIZE};
use crate::checkpoint::RunSettings;
use crate::contract::ImportMode;
use crate::error::Error;
use crate::mapping::{Mapped, Mapper, Mapping, MappingConfig, MappingError, Target};
use crate::preflight::Preflight;
use crate::source::{Format, Input, Position, RowBody, SourceReader};

/// When an import takes place: the time written into every timestamp the
/// source lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportTime {
    /// Given by the user: every run, resumed or not, uses it.
    Pinned(OffsetDateTime),
    /// Now, when the run started: a resumed run uses the time its checkpoint
    /// recorded instead, so that it sends the same bytes as the run it resumes.
    Now(OffsetDateTime),
}

impl ImportTime {
    /// Now, in UTC, to the second (so it prints and round-trips as plain RFC 3339).
    pub fn now() -> ImportTime {
        let now = OffsetDateTime::now_utc();
        ImportTime::Now(now.replace_nanosecond(0).unwrap_or(now))
    }

    /// The time a run uses, given the one of the run it resumes, if any.
    pub fn for_run(self, resumed: Option<OffsetDateTime>) -> OffsetDateTime {
        match (self, resumed) {
            (ImportTime::Pinned(time), _) => time,
            (ImportTime::Now(_), Some(time)) => time,
            (ImportTime::Now(time), None) => time,
        }
    }
}

/// Everything that shapes the request bodies of a run, validated. Two runs
/// with equal settings over the same source produce the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct BodySettings {
    /// Where rows come from.
    input: Input,
    /// Its format.
    format: Format,
    /// Column renames, constants, defaults and key.
    mapping: MappingConfig,
    /// The tenant imported into.
    tenant: String,
    /// The pool imported into.
    pool: String,
    /// Every timestamp the source lacks.
    import_time: ImportTime,
    /// Users per request body.
    batch_size: usize,
    /// A source column the mapping neither reads nor ignores is an error
    /// before anything is sent, instead of a line in the report.
    strict: bool,
    /// A file joined into the source's records by the mapping's `[join]`.
    join: Option<PathBuf>,
    /// Only these users are sent, when set (`ferry verify --repair`).
    only: Option<std::sync::Arc<crate::batch::UserSet>>,
    /// The destination pool's schemas every user is checked against
    /// before it is batched (`--preflight`), when the run checks.
    preflight: Option<std::sync::Arc<Preflight>>,
}

impl BodySettings {
    /// Checks and builds the settings: the format from `format` or the file
    /// extension, tenant and pool not empty, a batch size in range.
    pub fn new(
        input: Input,
        format: Option<Format>,
        mapping: MappingConfig,
        (tenant, pool): (&str, &str),
        import_time: ImportTime,
        batch_size: usize,
    ) -> Result<BodySettings, Error> {
        let mut format = Format::resolve(&input, format)?;
        if !mapping.source.csv_columns.is_empty() && format == Format::CSV {
            // The mapping names the columns: the file has no header row.
            format = Format::CSV_NO_HEADER;
        }
        if tenant.is_empty() || pool.is_empty() {
            return Err(Error::Usage("tenant and pool must not be empty".into()));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(Error::Usage(format!(
                "the batch size must be between 1 and {MAX_BATCH_SIZE}, not {batch_size}"
            )));
        }
        Ok(BodySettings {
            input,
            format,
            mapping,
            tenant: tenant.to_string(),
            pool: pool.to_string(),
            import_time,
            batch_size,
            strict: false,
            join: None,
            only: None,
            preflight: None,
        })
    }

    /// The mapping's note on what the source cannot carry, if it has one.
    pub fn mapping_note(&self) -> Option<String> {
        self.mapping.note.clone()
    }

    /// How the target reads a hash's salt, as the bodies write it.
    pub fn target_salt(&self) -> crate::contract::choices::SaltConvention {
        self.mapping.passwords.target_salt
    }

    /// The same settings, with `path` joined into the source (`--join`).
    pub fn join(mut self, path: Option<PathBuf>) -> BodySettings {
        self.join = path;
        self
    }

    /// The same settings, sending only the users of `only` (the others are
    /// counted as skipped: the target holds them as they are).
    pub fn only(mut self, only: crate::batch::UserSet) -> BodySettings {
        self.only = Some(std::sync::Arc::new(only));
        self
    }

    /// The same settings, checking every user against `preflight` before
    /// it is batched (`--preflight`).
    pub fn preflight(mut self, preflight: Preflight) -> BodySettings {
        self.preflight = Some(std::sync::Arc::new(preflight));
        self
    }

    /// The same settings, with unmapped source columns an error (`--strict`).
    pub fn strict(mut self, strict: bool) -> BodySettings {
        self.strict = strict;
        self
    }

    /// Where rows come from.
    pub fn input(&self) -> &Input {
        &self.input
    }

    /// The source path, if it is a file.
    pub fn source_path(&self) -> Option<&PathBuf> {
        match &self.input {
            Input::File(path) => Some(path),
            Input::Stdin => None,
        }
    }

    /// The size source positions count up to, for progress; `None` for
    /// standard input and gzip (see [`Input::size`]).
    pub fn source_size(&self) -> Option<u64> {
        self.input.size()
    }

    /// The tenant imported into.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The pool imported into.
    pub fn pool(&self) -> &str {
        &self.pool
    }

    /// When the run takes place.
    pub fn import_time(&self) -> ImportTime {
        self.import_time
    }

    /// What a checkpoint records of these settings, for a run at `import_time`
    /// in `mode`.
    pub fn run_settings(&self, mode: ImportMode, import_time: OffsetDateTime) -> RunSettings {
        RunSettings {
            format: self.format.name().to_string(),
            tenant: self.tenant.clone(),
            pool: self.pool.clone(),
            batch_size: self.batch_size,
            mapping: self.mapping.clone(),
            mode,
            import_time,
            id_derivation: crate::mapping::ids::ID_DERIVATION,
            match_existing: None,
            preflight: false,
        }
    }

    /// Opens the source and returns its batches, mapped at `import_time`,
    /// starting at `resume` (its position and batch number) or at the
    /// beginning.
    ///
    /// A resumed run first maps the rows before the resume point again,
    /// without keeping them, so that its mapper knows every key, email and
    /// phone the interrupted run had seen: duplicates are then decided exactly
    /// as in an uninterrupted run. Reading is cheap next to sending.
    pub fn batches(
        &self,
        import_time: OffsetDateTime,
        resume: Option<(Position, u64)>,
    ) -> Result<Batcher<SourceReader>, Error> {
        let reader = SourceReader::open(&self.input, self.format, resume.map(|(point, _)| point))?;
        let mapping = self.mapping.resolve(reader.headers())?;
        if self.strict {
            self.check_every_column_is_mapped(&mapping, reader.headers())?;
        }
        let target = Target {
            tenant: self.tenant.clone(),
            pool: self.pool.clone(),
            import_time,
        };
        let join = match (&self.join, mapping.join()) {
            (Some(path), Some(rule)) => Some(Arc::new(
                crate::mapping::join::JoinIndex::build(path, rule)
                    .map_err(|e| Error::Usage(e.to_string()))?,
            )),
            (Some(_), None) => {
                return Err(Error::Usage(
                    crate::mapping::join::JoinError::NoRule.to_string(),
                ))
            }
            (None, _) => None,
        };
        let new_mapper = || match &join {
            Some(index) => Mapper::new(target.clone(), mapping.clone()).with_join(index.clone()),
            None => Mapper::new(target.clone(), mapping.clone()),
        };
        if self.strict {
            if let Some(preflight) = &self.preflight {
                self.check_every_user_passes(preflight, new_mapper())?;
            }
        }
        let mut mapper = new_mapper();
        let (from, number) = match resume {
            Some((point, number)) => {
                let before = SourceReader::open(&self.input, self.format, None)?;
                for row in before {
                    let row = row?;
                    if row.offset >= point.offset {
                        break;
                    }
                    mapper.map_row(mapper.shape(row));
                }
                (point, number)
            }
            None => (
                Position {
                    offset: reader.bytes_read(),
                    row: 1,
                },
                FIRST_BATCH,
            ),
        };
        Ok(Batcher::new(reader, mapper, self.batch_size, from, number)
            .only(self.only.clone())
            .preflight(self.preflight.clone()))
    }
}

/// How many refused users an error of `--strict --preflight` lists.
const VIOLATIONS_SHOWN: usize = 5;

impl BodySettings {
    /// Under `--strict` with `--preflight`: every user of the source passes
    /// the destination's schemas. The whole source is mapped through with
    /// `mapper` (a fresh one: it remembers keys) before anything is sent;
    /// rows the mapping itself rejects are left to the run.
    fn check_every_user_passes(
        &self,
        preflight: &Preflight,
        mut mapper: Mapper,
    ) -> Result<(), Error> {
        if preflight.is_empty() {
            return Ok(());
        }
        if self.input == Input::Stdin {
            return Err(Error::Usage(
                "--strict with --preflight reads the source through before sending anything; \
                 standard input cannot be read twice: give a file"
                    .into(),
            ));
        }
        let (mut refused, mut shown) = (0u64, Vec::new());
        for row in SourceReader::open(&self.input, self.format, None)? {
            let row = mapper.shape(row?);
            let Mapped::User(user) = mapper.map_row(row) else {
                continue;
            };
            let violations = preflight.check(&user.records.user);
            if violations.is_empty() {
                continue;
            }
            refused += 1;
            if shown.len() < VIOLATIONS_SHOWN {
                let fields: Vec<String> = violations.iter().map(ToString::to_string).collect();
                shown.push(format!("row {}: {}", user.row, fields.join("; ")));
            }
        }
        if refused == 0 {
            return Ok(());
        }
        Err(Error::PreflightRefused {
            pool: preflight.pool().to_owned(),
            users: refused,
            first: shown,
        })
    }

    /// Under `--strict`: every column of the source is read or ignored by
    /// `mapping`. A header says it at once; a source without one (JSON
    /// Lines) is read through first, so the error still comes before
    /// anything is sent.
    fn check_every_column_is_mapped(
        &self,
        mapping: &Mapping,
        header: Option<&[String]>,
    ) -> Result<(), Error> {
        let columns =
            match header {
                Some(header) => mapping.unmapped_in(header),
                None if self.input == Input::Stdin => return Err(Error::Usage(
                    "--strict reads a source without a header through before sending anything; \
                     standard input cannot be read twice: give a file"
                        .into(),
                )),
                None => {
                    let mut unmapped = std::collections::BTreeSet::new();
                    for row in SourceReader::open(&self.input, self.format, None)? {
                        if let RowBody::Fields(fields) = &mapping.shape().apply(row?).body {
                            fields.for_each_with_value(|column| {
                                if !mapping.reads(column) && !unmapped.contains(column) {
                                    unmapped.insert(column.to_string());
                                }
                            });
                        }
                    }
                    unmapped.into_iter().collect()
                }
            };
        if columns.is_empty() {
            return Ok(());
        }
        Err(MappingError::Unmapped {
            count: columns.len(),
            columns,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::Stage;

    fn settings(dir: &std::path::Path, csv: &str) -> BodySettings {
        let path = dir.join("users.csv");
        std::fs::write(&path, csv).unwrap();
        let time = ImportTime::Pinned(time::macros::datetime!(2026-01-01 00:00:00 UTC));
        BodySettings::new(
            Input::File(path),
            None,
            MappingConfig::default(),
            ("t", "p"),
            time,
            2,
        )
        .unwrap()
    }

    #[test]
    fn a_resumed_run_remembers_what_came_before_the_resume_point() {
        let dir = tempfile::tempdir().unwrap();
        let csv =
            "id,email\n1,a@x.io\n2,b@x.io\n3,c@x.io\n4,d@x.io\n1,dup@x.io\n5,B@X.IO\n6,f@x.io\n";
        let settings = settings(dir.path(), csv);
        let time = settings.import_time().for_run(None);
        let full: Vec<_> = settings
            .batches(time, None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(full.len(), 3);
        let resumed: Vec<_> = settings
            .batches(time, Some((full[1].start, 2)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(resumed.len(), 2);
        for (a, b) in full[1..].iter().zip(&resumed) {
            assert_eq!(
                (a.number, a.start, a.end, &a.body),
                (b.number, b.start, b.end, &b.body)
            );
            let reasons = |batch: &crate::batch::Batch| {
                batch
                    .rejected
                    .iter()
                    .map(|r| (r.row, r.stage, r.reason.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(reasons(a), reasons(b));
        }
        // Rows 5 (key 1) and 6 (email b@x.io) repeat rows before the resume point.
        let rejected: Vec<u64> = resumed
            .iter()
            .flat_map(|b| b.rejected.iter().map(|r| r.row))
            .collect();
        assert_eq!(rejected, [5, 6]);
        assert!(resumed
            .iter()
            .flat_map(|b| &b.rejected)
            .all(|r| r.stage == Stage::Mapping));
    }
}
