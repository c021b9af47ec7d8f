//! How long to wait before resending a batch: exponential backoff with full
//! jitter, bounded by a per-batch attempt limit.
//!
//! After the `n`-th failed attempt of a batch (`n` = 1 for the first send) the
//! sender waits
//!
//! ```text
//! ceiling(n) = min(cap, base · 2^(n-1))
//! delay(n)   = max( uniform(0 ..= ceiling(n)), min(Retry-After, retry_after_limit) )
//! ```
//!
//! Full jitter (the AWS architecture blog's name) spreads the resends of
//! concurrent senders over the whole window, so that eight senders throttled
//! at the same moment do not come back at the same moment. `Retry-After` is a
//! lower bound because the target knows best when it will have capacity
//! again; it is clamped to `retry_after_limit` so that a broken or hostile
//! header cannot park a migration for days. After `max_attempts` failed
//! attempts the batch is not dropped: the caller stops the run with its
//! checkpoint saved.
//!
//! The random source is a parameter (any [`rand::Rng`]), so tests and
//! reproducible runs pass a seeded generator ([`seeded_rng`]).
//!
//! This is a small function rather than the `backon` crate: backon's jitter
//! adds `uniform(0, delay)` on top of the delay instead of drawing the whole
//! delay (not full jitter), its generator is `fastrand` rather than an
//! injectable `rand::Rng`, and ferry's retry loop needs the decision
//! ([`super::retry`]), the throttle gate and token renewal between attempts,
//! which a retry combinator would hide.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Default base delay: the ceiling of the first wait.
pub const DEFAULT_BASE: Duration = Duration::from_millis(200);
/// Default cap: no single wait is longer (before `Retry-After`).
pub const DEFAULT_CAP: Duration = Duration::from_secs(30);
/// Default number of attempts of one batch (the first send included).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Default clamp on a `Retry-After` the target asks for.
pub const DEFAULT_RETRY_AFTER_LIMIT: Duration = Duration::from_secs(300);
/// Default longest time one batch may be throttled (429) before the run stops.
pub const DEFAULT_THROTTLE_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The backoff parameters, validated once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first wait; doubles with each further failure.
    base: Duration,
    /// Largest ceiling; waits stop growing here.
    cap: Duration,
    /// Attempts of one batch, the first send included, before the run stops.
    max_attempts: u32,
    /// Largest `Retry-After` honoured; longer ones are clamped to it.
    retry_after_limit: Duration,
    /// Longest time one batch may be throttled (429s use no attempt).
    throttle_deadline: Duration,
}

/// A backoff parameter that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackoffError {
    /// A zero base would retry in a busy loop.
    #[error("the backoff base must be longer than zero")]
    ZeroBase,
    /// The cap must leave room for the base.
    #[error("the backoff cap ({cap:?}) must not be shorter than the base ({base:?})")]
    CapBelowBase {
        /// The base given.
        base: Duration,
        /// The cap given.
        cap: Duration,
    },
    /// At least the first send must be allowed.
    #[error("the attempt limit must be at least 1")]
    NoAttempts,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: DEFAULT_BASE,
            cap: DEFAULT_CAP,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_after_limit: DEFAULT_RETRY_AFTER_LIMIT,
            throttle_deadline: DEFAULT_THROTTLE_DEADLINE,
        }
    }
}

impl Backoff {
    /// Backoff with the given base, cap and attempt limit (and the default
    /// `Retry-After` clamp).
    pub fn new(base: Duration, cap: Duration, max_attempts: u32) -> Result<Self, BackoffError> {
        if base.is_zero() {
            return Err(BackoffError::ZeroBase);
        }
        if cap < base {
            return Err(BackoffError::CapBelowBase { base, cap });
        }
        if max_attempts == 0 {
            return Err(BackoffError::NoAttempts);
        }
        Ok(Backoff {
            base,
            cap,
            max_attempts,
            retry_after_limit: DEFAULT_RETRY_AFTER_LIMIT,
            throttle_deadline: DEFAULT_THROTTLE_DEADLINE,
        })
    }

    /// The same backoff with another clamp on `Retry-After`.
    pub fn with_retry_after_limit(mut self, limit: Duration) -> Self {
        self.retry_after_limit = limit;
        self
    }

    /// The same backoff with another throttle deadline.
    pub fn with_throttle_deadline(mut self, deadline: Duration) -> Self {
        self.throttle_deadline = deadline;
        self
    }

    /// Longest time one batch may be throttled before the run stops.
    pub fn throttle_deadline(&self) -> Duration {
        self.throttle_deadline
    }

    /// The wait after the `throttles`-th 429 of a batch: full jitter over
    /// the window of that many rounds, at least the (clamped) `Retry-After`.
    /// Unlike [`Backoff::delay`] it is never refused: throttling uses no attempt.
    pub fn throttle_wait<R: Rng + ?Sized>(
        &self,
        throttles: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        self.jittered(throttles, rng)
            .max(self.clamp_retry_after(retry_after))
    }

    /// Ceiling of the first wait.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// Largest ceiling.
    pub fn cap(&self) -> Duration {
        self.cap
    }

    /// Attempts of one batch, the first send included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// `min(cap, base · 2^(failures-1))`: the window the jittered wait after
    /// the `failures`-th failed attempt is drawn from. `failures` = 0 is
    /// treated as 1.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1);
        1u32.checked_shl(doublings)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.cap, |ceiling| ceiling.min(self.cap))
    }

    /// A uniformly drawn wait in `0 ..= ceiling(failures)` (full jitter).
    pub fn jittered<R: Rng + ?Sized>(&self, failures: u32, rng: &mut R) -> Duration {
        uniform_up_to(self.ceiling(failures), rng)
    }

    /// The wait after the `failures`-th failed attempt of a batch, or `None`
    /// when the batch has used all its attempts (the run must stop, with its
    /// checkpoint saved). `retry_after` is the target's `Retry-After`, a
    /// lower bound on the wait (clamped to the `Retry-After` limit).
    pub fn delay<R: Rng + ?Sized>(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Option<Duration> {
        if self.exhausted(failures) {
            return None;
        }
        let floor = self.clamp_retry_after(retry_after);
        Some(self.jittered(failures, rng).max(floor))
    }

    /// True when `failures` failed attempts leave none for this batch.
    pub fn exhausted(&self, failures: u32) -> bool {
        failures >= self.max_attempts
    }

    /// `Retry-After` clamped to the limit; zero when absent.
    pub fn clamp_retry_after(&self, retry_after: Option<Duration>) -> Duration {
        retry_after.map_or(Duration::ZERO, |after| after.min(self.retry_after_limit))
    }
}

/// A uniformly drawn duration in `0 ..= ceiling`, at nanosecond resolution.
fn uniform_up_to<R: Rng + ?Sized>(ceiling: Duration, rng: &mut R) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// A fast generator for jitter: seeded for reproducible runs and tests, or
/// from the operating system when `seed` is `None`. Give each sender its own
/// (for example `seed + sender index`) so they do not share a lock.
pub fn seeded_rng(seed: Option<u64>) -> SmallRng {
    match seed {
        Some(seed) => SmallRng::seed_from_u64(seed),
        None => SmallRng::from_os_rng(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ceiling_doubles_from_base_then_stops_at_cap() {
        let backoff = Backoff::default();
        let table = [
            (0, ms(200)),
            (1, ms(200)),
            (2, ms(400)),
            (3, ms(800)),
            (4, ms(1600)),
            (8, ms(25_600)),
            (9, ms(30_000)),
            (10, ms(30_000)),
            (32, ms(30_000)),
            (33, ms(30_000)),
            (u32::MAX, ms(30_000)),
        ];
        for (failures, expected) in table {
            assert_eq!(backoff.ceiling(failures), expected, "failures {failures}");
        }
    }

    #[test]
    fn attempts_run_out_at_the_limit() {
        let backoff = Backoff::new(ms(10), ms(100), 3).unwrap();
        let mut rng = seeded_rng(Some(1));
        assert!(backoff.delay(1, None, &mut rng).is_some());
        assert!(backoff.delay(2, None, &mut rng).is_some());
        assert_eq!(backoff.delay(3, None, &mut rng), None);
        assert_eq!(backoff.delay(4, Some(ms(5)), &mut rng), None);
        assert_eq!(Backoff::default().max_attempts(), 10);
    }

    #[test]
    fn retry_after_is_a_clamped_lower_bound() {
        let backoff = Backoff::default().with_retry_after_limit(Duration::from_secs(60));
        let mut rng = seeded_rng(Some(7));
        for _ in 0..100 {
            let wait = backoff.delay(1, Some(Duration::from_secs(5)), &mut rng);
            assert_eq!(wait, Some(Duration::from_secs(5)));
        }
        let wait = backoff.delay(1, Some(Duration::from_secs(3600)), &mut rng);
        assert_eq!(wait, Some(Duration::from_secs(60)));
        // A zero Retry-After leaves the jitter as it is.
        let wait = backoff.delay(3, Some(Duration::ZERO), &mut rng).unwrap();
        assert!(wait <= ms(800));
    }

    #[test]
    fn the_same_seed_gives_the_same_waits() {
        let backoff = Backoff::default();
        let draw = |seed| {
            let mut rng = seeded_rng(Some(seed));
            (1..10)
                .map(|n| backoff.delay(n, None, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }

    #[test]
    fn jitter_spreads_over_the_whole_window() {
        // Full jitter: draws land in both halves of the window, not only above
        // the exponential delay as with additive jitter.
        let backoff = Backoff::default();
        let mut rng = seeded_rng(Some(3));
        let ceiling = backoff.ceiling(5);
        let draws: Vec<_> = (0..200).map(|_| backoff.jittered(5, &mut rng)).collect();
        assert!(draws.iter().any(|d| *d < ceiling / 4));
        assert!(draws.iter().any(|d| *d > ceiling * 3 / 4));
    }

    #[test]
    fn nonsense_parameters_are_refused() {
        assert_eq!(
            Backoff::new(Duration::ZERO, ms(10), 3),
            Err(BackoffError::ZeroBase)
        );
        assert_eq!(
            Backoff::new(ms(10), ms(5), 3),
            Err(BackoffError::CapBelowBase {
                base: ms(10),
                cap: ms(5)
            })
        );
        assert_eq!(
            Backoff::new(ms(10), ms(10), 0),
            Err(BackoffError::NoAttempts)
        );
        assert!(Backoff::new(ms(10), ms(10), 1).is_ok());
    }

    proptest! {
        #[test]
        fn waits_stay_within_jitter_window_and_retry_after(
            base_ms in 1u64..5_000,
            extra_ms in 0u64..120_000,
            failures in 1u32..64,
            retry_after_ms in proptest::option::of(0u64..1_000_000),
            seed: u64,
        ) {
            let backoff = Backoff::new(ms(base_ms), ms(base_ms + extra_ms), u32::MAX).unwrap();
            let mut rng = seeded_rng(Some(seed));
            let retry_after = retry_after_ms.map(ms);
            let wait = backoff.delay(failures, retry_after, &mut rng).unwrap();
            let floor = backoff.clamp_retry_after(retry_after);
            prop_assert!(wait >= floor);
            prop_assert!(wait <= backoff.ceiling(failures).max(floor));
            prop_assert!(backoff.ceiling(failures) <= backoff.cap());
            prop_assert!(backoff.ceiling(failures + 1) >= backoff.ceiling(failures));
        }
    }
}
