//! How a command ended: what the binary turns into an exit code (in one
//! place, `src/cli/mod.rs`).

/// How a command ended, when it did not fail with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything is done: every row imported or skipped, a server shut
    /// down, a sample written, a benchmark with nothing lost.
    Done,
    /// Finished, with rows rejected (in the rejects file).
    Rejected,
    /// Interrupted by a signal; the checkpoint is saved.
    Interrupted,
    /// Stopped by the target or a fatal error; the checkpoint is saved.
    Stopped,
    /// A verification found the target does not hold the source as it is.
    Differs,
}

impl Outcome {
    /// A finished run with `rejected` rows rejected.
    pub fn finished(rejected: u64) -> Outcome {
        if rejected > 0 {
            Outcome::Rejected
        } else {
            Outcome::Done
        }
    }
}
