//! Run reports: the counts that account for every source row, printed as a
//! summary and written as JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The report of a dry run (`DIR/report.json`).
///
/// `read == mapped + rejected`, always.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRunReport {
    /// Source rows read.
    pub read: u64,
    /// Rows that became users in a batch.
    pub mapped: u64,
    /// Rows written to the rejects file.
    pub rejected: u64,
    /// Batch files written.
    pub batches: u64,
    /// Wall time of the run, in seconds.
    pub elapsed_s: f64,
    /// Rows read per second.
    pub rows_per_s: f64,
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
            batches,
            elapsed_s: round3(elapsed_s),
            rows_per_s: round3(per_second(read, elapsed_s)),
        }
    }

    /// The summary printed at the end of a dry run.
    pub fn summary(&self) -> String {
        format!(
            "read {} rows: {} mapped, {} rejected, {} batches in {:.2} s ({:.0} rows/s)",
            self.read, self.mapped, self.rejected, self.batches, self.elapsed_s, self.rows_per_s
        )
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
