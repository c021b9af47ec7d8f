//! Run reports: the counts that account for every source row, printed as a
//! summary and written as JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The report of a dry run (`DIR/report.json`).
///
/// `read == mapped + rejected + excluded`, always.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRunReport {
    /// Source rows read.
    pub read: u64,
    /// Rows that became users in a batch.
    pub mapped: u64,
    /// Rows written to the rejects file for a reason to fix.
    pub rejected: u64,
    /// Rows the mapping leaves out on purpose (in the rejects file too).
    #[serde(default)]
    pub excluded: u64,
    /// Of the mapped users, those that would be imported `inactive`.
    #[serde(default)]
    pub inactive: u64,
    /// Of the mapped users, those whose password hash the target cannot
    /// verify (`--unsupported-hash expire|drop`): they would be imported
    /// without a usable password.
    #[serde(default)]
    pub unverifiable_hash: u64,
    /// Batch files written.
    pub batches: u64,
    /// Wall time of the run, in seconds.
    pub elapsed_s: f64,
    /// Rows read per second.
    pub rows_per_s: f64,
    /// Source columns the mapping neither reads nor ignores, with how many
    /// rows held a value in each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped: BTreeMap<String, u64>,
    /// How the `--join` file met the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<crate::mapping::join::JoinReport>,
    /// The mapping's note on what the source cannot carry, for the summary.
    #[serde(skip)]
    pub note: Option<String>,
    /// The rejects file, for the summary. Not in `report.json`: the file is
    /// `rejects.jsonl` beside it, and two runs into different directories
    /// write the same bytes.
    #[serde(skip)]
    pub rejects: Option<PathBuf>,
}

impl DryRunReport {
    /// A report from counts and the elapsed time.
    pub fn new(
        read: u64,
        mapped: u64,
        rejected: u64,
        batches: u64,
        elapsed: Duration,
    ) -> DryRunReport {
        let elapsed_s = elapsed.as_secs_f64();
        DryRunReport {
            read,
            mapped,
            rejected,
            excluded: 0,
            inactive: 0,
            unverifiable_hash: 0,
            batches,
            elapsed_s: round3(elapsed_s),
            rows_per_s: round3(per_second(read, elapsed_s)),
            unmapped: BTreeMap::new(),
            join: None,
            note: None,
            rejects: None,
        }
    }

    /// How the dry run ended, for the exit code.
    pub fn outcome(&self) -> crate::outcome::Outcome {
        crate::outcome::Outcome::finished(self.rejected)
    }

    /// The summary printed at the end of a dry run.
    pub fn summary(&self) -> String {
        format!(
            "read {} rows: {} mapped, {} rejected{}, {} batches in {:.2} s ({:.0} rows/s){}{}{}{}{}",
            self.read,
            self.mapped,
            self.rejected,
            match self.excluded {
                0 => String::new(),
                n => format!(", {n} excluded by the mapping"),
            },
            self.batches,
            self.elapsed_s,
            self.rows_per_s,
            imported_inactive(self.inactive),
            without_password(self.unverifiable_hash),
            not_mapped(&self.unmapped),
            rejected_rows_in(self.rejected, self.rejects.as_deref()),
            join_and_note(self.join.as_ref(), self.note.as_deref()),
        )
    }
}

/// Adds `more` unmapped-column counts to `into`.
pub fn add_unmapped(into: &mut BTreeMap<String, u64>, more: &BTreeMap<String, u64>) {
    for (column, rows) in more {
        *into.entry(column.clone()).or_default() += rows;
    }
}

/// The sentence of a summary that lists the source columns nothing maps.
fn not_mapped(unmapped: &BTreeMap<String, u64>) -> String {
    if unmapped.is_empty() {
        return String::new();
    }
    let columns: Vec<String> = unmapped
        .iter()
        .map(|(column, rows)| format!("{} ({rows} rows)", crate::reject::EscapedControls(column)))
        .collect();
    format!(
        "; {} source field(s) not carried, neither mapped nor ignored: {} (map them, or list them in the mapping's 'ignore')",
        unmapped.len(),
        columns.join(", ")
    )
}

/// The sentence of a summary that counts the users imported inactive.
fn imported_inactive(inactive: u64) -> String {
    match inactive {
        0 => String::new(),
        n => format!(
            "; {n} of the users are inactive (blocked, disabled or locked at the source) and cannot sign in"
        ),
    }
}

/// The sentence that ends a summary when some users have no usable password.
fn without_password(unverifiable_hash: u64) -> String {
    match unverifiable_hash {
        0 => String::new(),
        n => format!(
            "; {n} of the users have no usable password (a hash format the target cannot verify) and must reset it"
        ),
    }
}

/// The sentence that ends a summary when rows were rejected: where they are,
/// so that the reader of the summary can fix them.
fn rejected_rows_in(rejected: u64, rejects: Option<&Path>) -> String {
    match rejects {
        Some(path) if rejected > 0 => {
            format!("; the rejected rows and why are in {}", path.display())
        }
        _ => String::new(),
    }
}

/// Rate per second, 0 when no time passed.
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// How the rows of some batches ended. Every row read ends as exactly one
/// of `imported`, `updated`, `kept`, `skipped` and `rejected`.
///
/// Which of the first four a stored user is comes from the target's answer:
/// ferry's reference target says how many users of a request it already had
/// and how many of those differed from the request (an extension header, see
/// [`crate::contract::api`]). A target that does not say has every user it
/// stored counted as `imported`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Source rows read.
    pub read: u64,
    /// Users this migration stored at the target: new there, or already
    /// there exactly as this migration had sent them before (a batch resent
    /// after a crash or a lost answer).
    pub imported: u64,
    /// Users that were at the target with other content and were
    /// overwritten with the source's (`--mode update`).
    #[serde(default)]
    pub updated: u64,
    /// Users that were at the target with other content and were kept as
    /// stored (`--mode ignore`): changed at the source since they were
    /// stored; `--mode update` replaces them.
    #[serde(default)]
    pub kept: u64,
    /// Users that were at the target before this migration, unchanged.
    pub skipped: u64,
    /// Rows in the rejects file for a reason to fix.
    pub rejected: u64,
    /// Rows the mapping leaves out on purpose (`skip_if`: service
    /// accounts, say), written to the rejects file with their reason.
    #[serde(default)]
    pub excluded: u64,
    /// Of the users stored, those imported `inactive` (blocked, disabled,
    /// banned or locked out at the source, or given that status). Not an
    /// outcome of its own.
    #[serde(default)]
    pub inactive: u64,
    /// Of the users stored (any of the four above), those whose source
    /// password hash the target cannot verify, sent with an expired
    /// placeholder or without a credential (`--unsupported-hash
    /// expire|drop`): they must reset their password. Not an outcome of its
    /// own: they are counted in one of the four too.
    #[serde(default)]
    pub unverifiable_hash: u64,
    /// Of the users stored (any of the four above), those sent under the
    /// id of a user the target already had, found by identifier
    /// (`--match-existing`). Not an outcome of its own.
    #[serde(default)]
    pub matched: u64,
}

impl Counts {
    /// True when every row read ended as exactly one of the outcomes.
    pub fn adds_up(&self) -> bool {
        [
            self.imported,
            self.updated,
            self.kept,
            self.skipped,
            self.rejected,
            self.excluded,
        ]
        .into_iter()
        .try_fold(0u64, u64::checked_add)
            == Some(self.read)
    }

    /// Field-wise sum.
    pub fn add(&mut self, other: &Counts) {
        self.read += other.read;
        self.imported += other.imported;
        self.updated += other.updated;
        self.kept += other.kept;
        self.skipped += other.skipped;
        self.rejected += other.rejected;
        self.excluded += other.excluded;
        self.inactive += other.inactive;
        self.unverifiable_hash += other.unverifiable_hash;
        self.matched += other.matched;
    }

    /// The outcomes, as the summary says them: `18 imported, 1 updated, 1
    /// skipped, 0 rejected`, with `updated` and `kept` only when not zero.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} imported", self.imported)];
        if self.updated > 0 {
            parts.push(format!("{} updated", self.updated));
        }
        if self.kept > 0 {
            parts.push(format!(
                "{} changed at source, kept as stored (use --mode update)",
                self.kept
            ));
        }
        parts.push(format!("{} skipped", self.skipped));
        parts.push(format!("{} rejected", self.rejected));
        if self.excluded > 0 {
            parts.push(format!("{} excluded by the mapping", self.excluded));
        }
        let mut text = parts.join(", ");
        if self.matched > 0 {
            text.push_str(&format!(
                "; {} of the users stored matched an existing user by identifier and were sent under its id",
                self.matched
            ));
        }
        text.push_str(&imported_inactive(self.inactive));
        text
    }
}

/// The report of an import (`--report FILE`), cumulative over resumed runs.
///
/// `read == imported + updated + kept + skipped + rejected` once the run is complete; while it
/// is not, `read` may exceed the sum by the rows of batches still in flight
/// when it stopped, which a resumed run reads again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// How the rows ended: `read`, `imported`, `updated`, `kept`,
    /// `skipped`, `rejected`, `unverifiable_hash` (at the top level of the JSON).
    #[serde(flatten)]
    pub counts: Counts,
    /// Batches acknowledged.
    pub batches: u64,
    /// Requests sent, first attempts and retries, split ones included.
    pub attempts: u64,
    /// Resent requests by cause: an HTTP status (`"429"`, `"503"`) or `timeout`, `connect`, `closed`.
    pub retries: std::collections::BTreeMap<String, u64>,
    /// Wall time of this run, in seconds.
    pub elapsed_s: f64,
    /// Rows finished (every outcome) per second in this run.
    pub users_per_s: f64,
    /// Median request latency in this run, in milliseconds.
    pub latency_p50_ms: f64,
    /// 99th percentile request latency in this run, in milliseconds.
    pub latency_p99_ms: f64,
    /// Whether this run resumed from a checkpoint.
    pub resumed: bool,
    /// Whether every row is accounted for.
    pub complete: bool,
    /// The run's rejects file. Absent from reports written before it
    /// existed, and from runs that opened none (an import already complete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects: Option<PathBuf>,
    /// Source columns the mapping neither reads nor ignores, with how many
    /// rows held a value in each (of the rows accounted for).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped: BTreeMap<String, u64>,
    /// How the `--join` file met the source (this run's rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<crate::mapping::join::JoinReport>,
    /// The mapping's note on what the source cannot carry, for the summary.
    #[serde(skip)]
    pub note: Option<String>,
}

impl ImportReport {
    /// Writes the report as pretty JSON to `path`.
    pub fn write(&self, path: &std::path::Path) -> Result<(), crate::error::Error> {
        let output = crate::error::Error::output(path);
        let json = serde_json::to_vec_pretty(self).map_err(|e| output(e.into()))?;
        std::fs::write(path, json).map_err(crate::error::Error::output(path))
    }

    /// The summary printed at the end of an import.
    pub fn summary(&self) -> String {
        let retries: u64 = self.retries.values().sum();
        format!(
            "{}read {} rows: {}; {} batches, {} requests ({} retries) in {:.2} s ({:.0} users/s, p50 {:.0} ms, p99 {:.0} ms){}{}{}{}",
            if self.complete { "" } else { "INCOMPLETE: " },
            self.counts.read,
            self.counts.describe(),
            self.batches,
            self.attempts,
            retries,
            self.elapsed_s,
            self.users_per_s,
            self.latency_p50_ms,
            self.latency_p99_ms,
            without_password(self.counts.unverifiable_hash),
            not_mapped(&self.unmapped),
            rejected_rows_in(self.counts.rejected, self.rejects.as_deref()),
            join_and_note(self.join.as_ref(), self.note.as_deref()),
        )
    }
}

/// The sentences on the join file and the mapping's note, if any.
fn join_and_note(join: Option<&crate::mapping::join::JoinReport>, note: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(join) = join {
        text.push_str("; ");
        text.push_str(&join.summary());
    }
    if let Some(note) = note {
        text.push_str("\nnote: ");
        text.push_str(note);
    }
    text
}

/// Request latencies, in a histogram of bounded size.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: hdrhistogram::Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

impl Latencies {
    /// An empty histogram from 1 µs to 10 minutes, 3 significant digits.
    pub fn new() -> Latencies {
        let histogram =
            hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| {
                hdrhistogram::Histogram::new(3)
                    .unwrap_or_else(|_| unreachable!("3 digits is valid"))
            });
        Latencies { histogram }
    }

    /// Records one request's latency.
    pub fn record(&mut self, latency: Duration) {
        self.histogram
            .saturating_record(latency.as_micros().max(1) as u64);
    }

    /// The latency at `quantile` (0..=1), in milliseconds; 0 when nothing was recorded.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        if self.histogram.is_empty() {
            return 0.0;
        }
        round3(self.histogram.value_at_quantile(quantile) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles() {
        let mut l = Latencies::new();
        assert_eq!(l.quantile_ms(0.5), 0.0);
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        assert!(
            (l.quantile_ms(0.5) - 50.0).abs() < 0.1,
            "{}",
            l.quantile_ms(0.5)
        );
        assert!(
            (l.quantile_ms(0.99) - 99.0).abs() < 0.1,
            "{}",
            l.quantile_ms(0.99)
        );
    }

    #[test]
    fn dry_run_report_rates() {
        let mut r = DryRunReport::new(1000, 990, 10, 10, Duration::from_millis(500));
        assert_eq!((r.rows_per_s, r.elapsed_s), (2000.0, 0.5));
        assert_eq!(
            r.summary(),
            "read 1000 rows: 990 mapped, 10 rejected, 10 batches in 0.50 s (2000 rows/s)"
        );
        r.unverifiable_hash = 3;
        assert_eq!(
            r.summary(),
            "read 1000 rows: 990 mapped, 10 rejected, 10 batches in 0.50 s (2000 rows/s); 3 of \
             the users have no usable password (a hash format the target cannot verify) and \
             must reset it"
        );
        r.rejects = Some(PathBuf::from("out/rejects.jsonl"));
        assert!(
            r.summary()
                .ends_with("must reset it; the rejected rows and why are in out/rejects.jsonl"),
            "{}",
            r.summary()
        );
        r.rejected = 0;
        assert!(!r.summary().contains("rejects.jsonl"), "{}", r.summary());
    }

    #[test]
    fn the_import_summary_names_the_rejects_file_when_rows_were_rejected() {
        let mut r = ImportReport {
            rejects: Some(PathBuf::from("users.csv.rejects.jsonl")),
            complete: true,
            ..ImportReport::default()
        };
        assert!(!r.summary().contains("rejects"), "{}", r.summary());
        r.counts.rejected = 2;
        assert!(
            r.summary()
                .ends_with("; the rejected rows and why are in users.csv.rejects.jsonl"),
            "{}",
            r.summary()
        );
    }

    #[test]
    fn the_rejects_path_joins_the_json_of_an_import_report_without_breaking_old_readers() {
        let old = ImportReport::default();
        let json = serde_json::to_value(&old).unwrap();
        assert!(json.get("rejects").is_none(), "{json}");
        let back: ImportReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, old);
        let new = ImportReport {
            rejects: Some(PathBuf::from("r.jsonl")),
            ..ImportReport::default()
        };
        let json = serde_json::to_value(&new).unwrap();
        assert_eq!(json["rejects"], "r.jsonl");
        assert_eq!(serde_json::from_value::<ImportReport>(json).unwrap(), new);
    }
}
