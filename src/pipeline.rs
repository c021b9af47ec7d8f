//! The front half of the pipeline, shared by the dry run and the import:
//! open the source, resolve the mapping against it, and batch mapped rows.
//!
//! Everything that can make a source unusable (unknown format, no header, a
//! mapped column missing) is checked here, before anything is written.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::batch::{Batcher, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE};
use crate::error::Error;
use crate::mapping::{Mapper, MappingConfig, Target};
use crate::source::{Format, Input, Position, SourceReader};

/// Everything that shapes the request bodies of a run. Two runs with equal
/// settings over the same source produce the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct BodySettings {
    /// Where rows come from.
    pub input: Input,
    /// Its format.
    pub format: Format,
    /// Column renames, constants, defaults and key.
    pub mapping: MappingConfig,
    /// Tenant, pool and import time.
    pub target: Target,
    /// Users per request body.
    pub batch_size: usize,
}

impl BodySettings {
    /// Settings with the defaults: format from the file extension, default mapping, batches of 100.
    pub fn new(
        input: Input,
        format: Option<Format>,
        tenant: &str,
        pool: &str,
        import_time: OffsetDateTime,
    ) -> Result<BodySettings, Error> {
        let format = Format::resolve(&input, format)?;
        if tenant.is_empty() || pool.is_empty() {
            return Err(Error::Usage("tenant and pool must not be empty".into()));
        }
        Ok(BodySettings {
            input,
            format,
            mapping: MappingConfig::default(),
            target: Target {
                tenant: tenant.to_string(),
                pool: pool.to_string(),
                import_time,
            },
            batch_size: DEFAULT_BATCH_SIZE,
        })
    }

    /// Sets the batch size, checking its range.
    pub fn with_batch_size(mut self, size: usize) -> Result<BodySettings, Error> {
        if !(1..=MAX_BATCH_SIZE).contains(&size) {
            return Err(Error::Usage(format!(
                "--batch-size must be between 1 and {MAX_BATCH_SIZE}, not {size}"
            )));
        }
        self.batch_size = size;
        Ok(self)
    }

    /// Uses a mapping file.
    pub fn with_mapping(mut self, mapping: MappingConfig) -> BodySettings {
        self.mapping = mapping;
        self
    }

    /// The source path, if it is a file.
    pub fn source_path(&self) -> Option<&PathBuf> {
        match &self.input {
            Input::File(path) => Some(path),
            Input::Stdin => None,
        }
    }

    /// Opens the source and returns its batches, starting at `resume` (batch
    /// `first_batch`) or at the beginning.
    ///
    /// A resumed run first maps the rows before the resume point again,
    /// without keeping them, so that its mapper knows every key, email and
    /// phone the interrupted run had seen: duplicates are then decided exactly
    /// as in an uninterrupted run (and so is the key policy of a JSON Lines
    /// source, decided by its first record). Reading is cheap next to sending.
    pub fn batches(&self, resume: Option<(Position, u64)>) -> Result<Batcher<SourceReader>, Error> {
        let reader = SourceReader::open(&self.input, self.format, resume.map(|(point, _)| point))?;
        let mapping = self.mapping.resolve(reader.headers())?;
        let mut mapper = Mapper::new(self.target.clone(), mapping);
        let (from, number) = match resume {
            Some((point, number)) => {
                let before = SourceReader::open(&self.input, self.format, None)?;
                for row in before {
                    let row = row?;
                    if row.offset >= point.offset {
                        break;
                    }
                    mapper.map_row(row);
                }
                (point, number)
            }
            None => (
                Position {
                    offset: reader.bytes_read(),
                    row: 1,
                },
                1,
            ),
        };
        Ok(Batcher::new(reader, mapper, self.batch_size, from, number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::Stage;

    fn settings(dir: &std::path::Path, csv: &str) -> BodySettings {
        let path = dir.join("users.csv");
        std::fs::write(&path, csv).unwrap();
        let time = time::macros::datetime!(2026-01-01 00:00:00 UTC);
        BodySettings::new(Input::File(path), None, "t", "p", time)
            .unwrap()
            .with_batch_size(2)
            .unwrap()
    }

    #[test]
    fn a_resumed_run_remembers_what_came_before_the_resume_point() {
        let dir = tempfile::tempdir().unwrap();
        let csv =
            "id,email\n1,a@x.io\n2,b@x.io\n3,c@x.io\n4,d@x.io\n1,dup@x.io\n5,B@X.IO\n6,f@x.io\n";
        let settings = settings(dir.path(), csv);
        let full: Vec<_> = settings
            .batches(None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(full.len(), 3);
        let resumed: Vec<_> = settings
            .batches(Some((full[1].start, 2)))
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
