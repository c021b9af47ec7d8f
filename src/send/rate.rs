//! `--rate USERS_PER_S`: pacing the import in users, not requests.
//!
//! The contract counts its limits in users (at most 100 per request), and a
//! batch may hold fewer users than the batch size (rejected rows, the last
//! batch, bisected halves), so a limit on requests would be a poor proxy. A
//! batch of `n` users takes `n` cells of a [`governor`] GCRA limiter whose
//! quota is `users_per_s` per second with a burst of one second's worth.
//!
//! Governor refuses a request for more cells than the burst
//! (`InsufficientCapacity`): a batch larger than one second's worth (100
//! users at `--rate 10`) is therefore taken in chunks of at most the burst,
//! which keeps the long-run rate exact and lets the batch go once its last
//! chunk is granted.
//!
//! The limiter is shared (`Arc`) by all senders; waiting is async and fair
//! enough for eight senders. Governor keeps its own monotonic clock, so tests
//! that need exact time use [`quota`] with governor's fake clock.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A users-per-second limit shared by all senders of a run.
#[derive(Debug)]
pub struct UserRate {
    /// The GCRA state: one cell per user.
    limiter: DefaultDirectRateLimiter,
    /// Most cells one call to governor may ask for (one second's worth).
    burst: NonZeroU32,
}

impl UserRate {
    /// A limit of `users_per_s` users per second, with a burst of one second.
    pub fn per_second(users_per_s: NonZeroU32) -> Self {
        UserRate {
            limiter: RateLimiter::direct(quota(users_per_s)),
            burst: users_per_s,
        }
    }

    /// The configured rate.
    pub fn users_per_second(&self) -> NonZeroU32 {
        self.burst
    }

    /// Waits until `users` more users may be sent. Zero returns at once.
    pub async fn acquire(&self, users: u32) {
        for chunk in chunks(users, self.burst) {
            if self.limiter.until_n_ready(chunk).await.is_err() {
                // Unreachable: a chunk never exceeds the burst. Should governor
                // ever disagree, take the cells one at a time rather than
                // skip the limit.
                for _ in 0..chunk.get() {
                    self.limiter.until_ready().await;
                }
            }
        }
    }
}

/// `users_per_s` cells per second, burst of `users_per_s`.
pub fn quota(users_per_s: NonZeroU32) -> Quota {
    Quota::per_second(users_per_s)
}

/// Splits `n` cells into chunks of at most `burst`, in order.
fn chunks(n: u32, burst: NonZeroU32) -> impl Iterator<Item = NonZeroU32> {
    let burst = burst.get();
    let full = n / burst;
    let rest = NonZeroU32::new(n % burst);
    (0..full)
        .filter_map(move |_| NonZeroU32::new(burst))
        .chain(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn batches_larger_than_the_burst_are_taken_in_chunks() {
        let collect = |n, burst| {
            chunks(n, nz(burst))
                .map(NonZeroU32::get)
                .collect::<Vec<_>>()
        };
        assert_eq!(collect(0, 10), Vec::<u32>::new());
        assert_eq!(collect(7, 10), vec![7]);
        assert_eq!(collect(10, 10), vec![10]);
        assert_eq!(collect(100, 10), vec![10; 10]);
        assert_eq!(
            collect(105, 10),
            vec![10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 5]
        );
        assert_eq!(collect(3, 1), vec![1, 1, 1]);
    }

    #[test]
    fn the_quota_lets_one_second_of_users_through_then_paces() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(nz(50)), clock.clone());
        // A whole second's worth passes at once...
        assert!(limiter.check_n(nz(50)).unwrap().is_ok());
        // ...then nothing until time passes,
        assert!(limiter.check_n(nz(1)).unwrap().is_err());
        // and 20 ms bring one more user at 50 users/s.
        clock.advance(Duration::from_millis(20));
        assert!(limiter.check_n(nz(1)).unwrap().is_ok());
        assert!(limiter.check_n(nz(1)).unwrap().is_err());
        // More than the burst is refused outright: hence the chunks.
        assert!(limiter.check_n(nz(51)).is_err());
    }

    #[tokio::test]
    async fn acquiring_more_than_the_burst_completes() {
        // 1.2 seconds' worth at a high rate: the first second passes at once,
        // the remainder after about 0.2 s. The test asserts completion only.
        let rate = UserRate::per_second(nz(5_000));
        rate.acquire(6_000).await;
        rate.acquire(0).await;
        assert_eq!(rate.users_per_second(), nz(5_000));
    }
}
