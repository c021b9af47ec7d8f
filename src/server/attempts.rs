//! Attempt limits of the password verification endpoint ([`super::verify`]):
//! two GCRA limiters, one keyed by (tenant, pool, identifier) and one by
//! (tenant, client).
//!
//! The per-identifier limit makes guessing one user's password slow however
//! many connections try, while other users sign in undisturbed. It does not
//! stop one caller from trying one password against every identifier (a
//! spray), nor from keeping the server's cores busy with checks; the
//! per-client limit does, with a budget wide enough for an application that
//! signs many users in. A refused attempt of either kind runs no password
//! check.
//!
//! The clock is a type parameter so that tests drive it
//! ([`governor::clock::FakeRelativeClock`]) instead of sleeping.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Attempts an identifier may make at once.
pub const BURST: u32 = 10;
/// One more attempt becomes available to an identifier this often.
pub const REPLENISH: Duration = Duration::from_secs(6);
/// Attempts a client may make at once, over all identifiers: enough for an
/// application signing in a burst of its users.
pub const CLIENT_BURST: u32 = 1000;
/// One more attempt becomes available to a client this often (ten a second,
/// 36,000 an hour).
pub const CLIENT_REPLENISH: Duration = Duration::from_millis(100);
/// Limiter entries kept before idle ones are swept.
const SWEEP_AT: usize = 100_000;

/// A GCRA limiter with one state per key, on clock `C`.
type Keyed<C> =
    RateLimiter<String, DefaultKeyedStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The client used up its attempts, over all identifiers.
    Client,
    /// The identifier used up its attempts, from all clients.
    Identifier,
}

impl Throttle {
    /// Why, for people (the answer's message).
    pub fn reason(self) -> &'static str {
        match self {
            Throttle::Client => "too many sign-in attempts from this client; wait and try again",
            Throttle::Identifier => {
                "too many sign-in attempts for this identifier; wait and try again"
            }
        }
    }

    /// When one more attempt becomes available.
    pub fn retry_after(self) -> Duration {
        match self {
            Throttle::Client => CLIENT_REPLENISH,
            Throttle::Identifier => REPLENISH,
        }
    }
}

/// Per-client and per-identifier attempt limits.
#[derive(Debug)]
pub struct VerifyLimiter<C: Clock = DefaultClock> {
    /// GCRA state per "tenant\0client_id".
    clients: Keyed<C>,
    /// GCRA state per "tenant\0pool\0identifier_lc".
    identifiers: Keyed<C>,
}

impl Default for VerifyLimiter {
    fn default() -> VerifyLimiter {
        VerifyLimiter::with_clock(DefaultClock::default())
    }
}

impl<C: Clock + Clone> VerifyLimiter<C> {
    /// Limits on `clock`.
    pub fn with_clock(clock: C) -> VerifyLimiter<C> {
        VerifyLimiter {
            clients: keyed(CLIENT_BURST, CLIENT_REPLENISH, clock.clone()),
            identifiers: keyed(BURST, REPLENISH, clock),
        }
    }

    /// Takes one attempt from `client` (its budget over all identifiers)
    /// and then from `identifier`. A client out of attempts takes none from
    /// the identifier, so a throttled caller does not hold its victim's
    /// attempts down any longer.
    pub(super) fn attempt(&self, client: String, identifier: String) -> Result<(), Throttle> {
        take(&self.clients, client).map_err(|()| Throttle::Client)?;
        take(&self.identifiers, identifier).map_err(|()| Throttle::Identifier)
    }
}

/// A limiter allowing `burst` at once, then one every `replenish`.
fn keyed<C: Clock>(burst: u32, replenish: Duration, clock: C) -> Keyed<C> {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(replenish)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst);
    RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock)
}

/// Takes one attempt for `key`; `Err` when it has none left.
fn take<C: Clock>(limiter: &Keyed<C>, key: String) -> Result<(), ()> {
    if limiter.len() >= SWEEP_AT {
        limiter.retain_recent();
    }
    limiter.check_key(&key).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    const A: &str = "t\0p\0a@example.com";
    const B: &str = "t\0p\0b@example.com";
    const CLIENT: &str = "t\0ferry";

    fn limiter() -> (VerifyLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (VerifyLimiter::with_clock(clock.clone()), clock)
    }

    #[test]
    fn the_limiter_counts_per_identifier() {
        let (limiter, clock) = limiter();
        for _ in 0..BURST {
            assert_eq!(limiter.attempt(CLIENT.into(), A.into()), Ok(()));
        }
        assert_eq!(
            limiter.attempt(CLIENT.into(), A.into()),
            Err(Throttle::Identifier)
        );
        assert_eq!(limiter.attempt(CLIENT.into(), B.into()), Ok(()));
        clock.advance(REPLENISH - Duration::from_millis(1));
        assert_eq!(
            limiter.attempt(CLIENT.into(), A.into()),
            Err(Throttle::Identifier)
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(limiter.attempt(CLIENT.into(), A.into()), Ok(()));
    }

    #[test]
    fn the_limiter_counts_per_client_over_all_identifiers() {
        let (limiter, clock) = limiter();
        let identifier = |i: u32| format!("t\0p\0user{i}@example.com");
        for i in 0..CLIENT_BURST {
            assert_eq!(limiter.attempt(CLIENT.into(), identifier(i)), Ok(()));
        }
        let fresh = identifier(CLIENT_BURST);
        assert_eq!(
            limiter.attempt(CLIENT.into(), fresh.clone()),
            Err(Throttle::Client),
            "a spray over fresh identifiers stops at the client's budget"
        );
        assert_eq!(
            limiter.attempt("t\0other".into(), fresh.clone()),
            Ok(()),
            "another client is not affected"
        );
        clock.advance(CLIENT_REPLENISH);
        assert_eq!(limiter.attempt(CLIENT.into(), identifier(0)), Ok(()));
        assert_eq!(
            limiter.attempt(CLIENT.into(), identifier(1)),
            Err(Throttle::Client),
            "one attempt per CLIENT_REPLENISH"
        );
    }

    #[test]
    fn a_throttled_client_takes_nothing_from_the_identifier() {
        let (limiter, _clock) = limiter();
        let identifier = |i: u32| format!("t\0p\0user{i}@example.com");
        for i in 0..CLIENT_BURST {
            assert_eq!(limiter.attempt(CLIENT.into(), identifier(i)), Ok(()));
        }
        for _ in 0..BURST {
            assert_eq!(
                limiter.attempt(CLIENT.into(), A.into()),
                Err(Throttle::Client)
            );
        }
        for _ in 0..BURST {
            assert_eq!(limiter.attempt("t\0other".into(), A.into()), Ok(()));
        }
    }
}
