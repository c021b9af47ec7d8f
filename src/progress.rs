//! Progress while an import (or an export, [`Progress::show`]) runs: users read, imported (updated, kept), skipped, rejected,
//! retries, users/s and an ETA from bytes read over the source size.
//!
//! The pipeline's stages only bump atomic counters in [`Counters`]; a
//! separate task renders them, so showing progress never slows the pipeline.
//! With a terminal on standard error, an indicatif bar; without one (CI,
//! pipes) a log line every few seconds; with `--quiet`, nothing.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Live counts, shared by the pipeline's stages.
#[derive(Debug, Default)]
pub struct Counters {
    /// Source rows read (and mapped or rejected).
    pub read: AtomicU64,
    /// Source bytes consumed.
    pub bytes: AtomicU64,
    /// Users the target stored.
    pub imported: AtomicU64,
    /// Users the target had with other content and overwrote.
    pub updated: AtomicU64,
    /// Users the target had with other content and kept.
    pub kept: AtomicU64,
    /// Users the target already had, unchanged.
    pub skipped: AtomicU64,
    /// Rows rejected (by ferry or by the target).
    pub rejected: AtomicU64,
    /// Requests resent.
    pub retries: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds the counts of finished rows.
    pub fn add_counts(&self, counts: &crate::report::Counts) {
        Self::add(&self.read, counts.read);
        Self::add(&self.imported, counts.imported);
        Self::add(&self.updated, counts.updated);
        Self::add(&self.kept, counts.kept);
        Self::add(&self.skipped, counts.skipped);
        Self::add(&self.rejected, counts.rejected);
    }

    /// Rows finished, whatever their outcome.
    pub fn done(&self) -> u64 {
        [
            &self.imported,
            &self.updated,
            &self.kept,
            &self.skipped,
            &self.rejected,
        ]
        .into_iter()
        .map(Self::get)
        .sum()
    }

    /// Sets a counter (for values that are positions, like bytes read).
    pub fn set(counter: &AtomicU64, n: u64) {
        counter.store(n, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// One line: counts, rate and ETA.
    pub fn line(&self, elapsed: Duration, base: u64, total_bytes: Option<u64>) -> String {
        let done = self.done();
        let rate = crate::report::per_second(done.saturating_sub(base), elapsed.as_secs_f64());
        let eta = eta(Self::get(&self.bytes), total_bytes, elapsed)
            .map(|d| format!(", ETA {}", humanize(d)))
            .unwrap_or_default();
        let mut changed = String::new();
        for (counter, name) in [(&self.updated, "updated"), (&self.kept, "kept")] {
            let n = Self::get(counter);
            if n > 0 {
                changed.push_str(&format!(" · {name} {n}"));
            }
        }
        format!(
            "read {} · imported {}{changed} · skipped {} · rejected {} · retries {} · {:.0} users/s{}",
            Self::get(&self.read),
            Self::get(&self.imported),
            Self::get(&self.skipped),
            Self::get(&self.rejected),
            Self::get(&self.retries),
            rate,
            eta
        )
    }
}

/// Time left, extrapolated from bytes read so far.
fn eta(bytes: u64, total: Option<u64>, elapsed: Duration) -> Option<Duration> {
    let total = total?;
    if bytes == 0 || total == 0 || bytes > total {
        return None;
    }
    let fraction = bytes as f64 / total as f64;
    Some(Duration::from_secs_f64(
        elapsed.as_secs_f64() * (1.0 - fraction) / fraction,
    ))
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// An indicatif bar on standard error.
    Bar,
    /// A log line every few seconds.
    Log,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// The bar with a terminal, log lines without one, nothing when quiet.
    pub fn detect(quiet: bool) -> ProgressMode {
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Log
        }
    }
}

/// A running progress display; stops when dropped or [`Progress::finish`]ed.
pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

/// How often a log line is written without a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// Starts showing `counters`; `base` is what earlier runs already did (for the rate).
    pub fn start(
        mode: ProgressMode,
        counters: Arc<Counters>,
        total_bytes: Option<u64>,
        base: u64,
    ) -> Progress {
        let position = counters.clone();
        Progress::show(
            mode,
            total_bytes,
            move || Counters::get(&position.bytes),
            move |elapsed| counters.line(elapsed, base, total_bytes),
        )
    }

    /// Starts showing a run: a bar of `position()` over `length` (a spinner
    /// when unknown) under the line `message(elapsed)`, or that line every
    /// few seconds without a terminal.
    pub fn show<P, M>(mode: ProgressMode, length: Option<u64>, position: P, message: M) -> Progress
    where
        P: Fn() -> u64 + Send + 'static,
        M: Fn(Duration) -> String + Send + 'static,
    {
        let started = Instant::now();
        match mode {
            ProgressMode::Quiet => Progress {
                task: None,
                bar: None,
            },
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}%\n{msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                let shown = bar.clone();
                let task = tokio::spawn(async move {
                    loop {
                        shown.set_position(position());
                        shown.set_message(message(started.elapsed()));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                });
                Progress {
                    task: Some(task),
                    bar: Some(bar),
                }
            }
            ProgressMode::Log => {
                let task = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(LOG_EVERY).await;
                        eprintln!("ferry: {}", message(started.elapsed()));
                    }
                });
                Progress {
                    task: Some(task),
                    bar: None,
                }
            }
        }
    }

    /// Stops the display.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_extrapolates_from_bytes() {
        assert_eq!(
            eta(25, Some(100), Duration::from_secs(10)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(eta(0, Some(100), Duration::from_secs(10)), None);
        assert_eq!(eta(10, None, Duration::from_secs(10)), None);
    }

    #[test]
    fn line_shows_counts_and_rate() {
        let c = Counters::default();
        Counters::add(&c.read, 120);
        Counters::add(&c.imported, 90);
        Counters::add(&c.skipped, 5);
        Counters::add(&c.rejected, 5);
        Counters::set(&c.bytes, 50);
        let line = c.line(Duration::from_secs(2), 0, Some(100));
        assert_eq!(
            line,
            "read 120 · imported 90 · skipped 5 · rejected 5 · retries 0 · 50 users/s, ETA 2s"
        );
    }
}
