//! The dry run: every batch body written to a directory instead of sent.
//!
//! `DIR/batch-000001.json`, ... hold the exact bytes an import would `PUT`;
//! `DIR/rejects.jsonl` the rejected rows; `DIR/report.json` the counts. The
//! bodies and the rejects hold password hashes, so every file is created
//! with mode 0600 and `DIR`, when the run creates it, with mode 0700
//! ([`crate::private`]). Two dry runs of the same source with the same settings (import
//! time included) write the same bytes, but for the timings in the report.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::Error;
use crate::pipeline::BodySettings;
use crate::private::{private_dir, write_private};
use crate::reject::RejectsWriter;
use crate::report::DryRunReport;
use crate::source::Input;

/// Name of the rejects file in an output directory.
pub const REJECTS_FILE: &str = "rejects.jsonl";
/// Name of the report file in a dry-run directory.
pub const REPORT_FILE: &str = "report.json";

/// The file name of batch `number`.
pub fn batch_file_name(number: u64) -> String {
    format!("batch-{number:06}.json")
}

/// Runs a dry run into `dir`, returning its report.
pub fn run(settings: &BodySettings, dir: &Path) -> Result<DryRunReport, Error> {
    let started = Instant::now();
    // Open (and so check) the source and mapping before writing anything.
    let batches = settings.batches(settings.import_time().for_run(None), None)?;
    let join = batches.join();
    check_source_outside(settings.input(), dir)?;
    prepare_dir(dir)?;
    let rejects_path = dir.join(REJECTS_FILE);
    let mut rejects = RejectsWriter::create(&rejects_path).map_err(Error::output(&rejects_path))?;
    let (mut read, mut mapped, mut rejected, mut files) = (0, 0, 0, 0);
    let (mut unverifiable_hash, mut inactive, mut excluded) = (0, 0, 0);
    let mut unmapped = std::collections::BTreeMap::new();
    for batch in batches {
        let batch = batch?;
        crate::report::add_unmapped(&mut unmapped, &batch.unmapped);
        read += batch.rows();
        mapped += batch.users.len() as u64;
        unverifiable_hash += batch.users.iter().filter(|u| u.unverifiable_hash).count() as u64;
        inactive += crate::batch::inactive_users(&batch.users);
        let left_out = crate::batch::excluded_rows(&batch.rejected);
        excluded += left_out;
        rejected += batch.rejected.len() as u64 - left_out;
        for rejection in &batch.rejected {
            if rejection.stage == crate::reject::Stage::Excluded {
                tracing::info!(row = rejection.row, reason = %rejection.reason_for_log(), "Row excluded by the mapping.");
            } else {
                tracing::warn!(row = rejection.row, stage = ?rejection.stage, reason = %rejection.reason_for_log(), "Row rejected.");
            }
            rejects
                .write(rejection)
                .map_err(Error::output(&rejects_path))?;
        }
        if !batch.users.is_empty() {
            let path = dir.join(batch_file_name(batch.number));
            write_private(&path, &batch.body).map_err(Error::output(&path))?;
            files += 1;
        }
    }
    rejects.sync().map_err(Error::output(&rejects_path))?;
    let mut report = DryRunReport::new(read, mapped, rejected, files, started.elapsed());
    report.unverifiable_hash = unverifiable_hash;
    report.inactive = inactive;
    report.join = join.map(|index| index.report());
    report.note = settings.mapping_note();
    report.excluded = excluded;
    report.unmapped = unmapped;
    report.rejects = Some(rejects_path);
    let report_path = dir.join(REPORT_FILE);
    let json =
        serde_json::to_vec_pretty(&report).map_err(|e| Error::output(&report_path)(e.into()))?;
    write_private(&report_path, &json).map_err(Error::output(&report_path))?;
    Ok(report)
}

/// Refuses a dry run whose directory is the source, or would overwrite or
/// remove it (a source named like one of the dry run's files in that directory).
fn check_source_outside(input: &Input, dir: &Path) -> Result<(), Error> {
    let mut outputs = vec![("dry-run directory", dir.to_path_buf())];
    if let Input::File(source) = input {
        let name = source.file_name().and_then(|n| n.to_str());
        if let Some(name) = name.filter(|n| is_ours(n)) {
            outputs.push(("dry run's output", dir.join(name)));
        }
    }
    let outputs: Vec<(&'static str, &Path)> = outputs
        .iter()
        .map(|(what, p)| (*what, p.as_path()))
        .collect();
    crate::outputs::check(input, &outputs)
}

/// Whether `name` is a file a dry run writes (and so removes first).
fn is_ours(name: &str) -> bool {
    name == REJECTS_FILE
        || name == REPORT_FILE
        || (name.starts_with("batch-") && name.ends_with(".json"))
}

/// Creates the directory (mode 0700), and removes the files an earlier dry run left there
/// so that the directory holds exactly this run's output.
fn prepare_dir(dir: &Path) -> Result<(), Error> {
    private_dir(dir).map_err(Error::output(dir))?;
    let entries = fs::read_dir(dir).map_err(Error::output(dir))?;
    for entry in entries {
        let path: PathBuf = entry.map_err(Error::output(dir))?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_ours)
        {
            fs::remove_file(&path).map_err(Error::output(&path))?;
        }
    }
    Ok(())
}
