//! Per-identifier attempt limits of the password verification endpoint
//! ([`super::verify`]): a GCRA limiter keyed by (tenant, pool, identifier),
//! so that guessing one user's password is slow however many connections
//! try, while other users sign in undisturbed.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Attempts an identifier may make at once.
pub const BURST: u32 = 10;
/// One more attempt becomes available this often.
pub const REPLENISH: Duration = Duration::from_secs(6);
/// Limiter entries kept before idle ones are swept.
const SWEEP_AT: usize = 100_000;

/// Per-identifier attempt limits.
#[derive(Debug)]
pub struct VerifyLimiter {
    /// GCRA state per "tenant\0pool\0identifier_lc".
    limiter: DefaultKeyedRateLimiter<String>,
}

impl Default for VerifyLimiter {
    fn default() -> VerifyLimiter {
        let burst = NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(REPLENISH)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        VerifyLimiter {
            limiter: RateLimiter::keyed(quota),
        }
    }
}

impl VerifyLimiter {
    /// Takes one attempt for `key`; `false` when it has none left.
    pub(super) fn attempt(&self, key: String) -> bool {
        if self.limiter.len() >= SWEEP_AT {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&key).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_per_identifier() {
        let limiter = VerifyLimiter::default();
        for _ in 0..BURST {
            assert!(limiter.attempt("t\0p\0a@example.com".into()));
        }
        assert!(!limiter.attempt("t\0p\0a@example.com".into()));
        assert!(limiter.attempt("t\0p\0b@example.com".into()));
    }
}
