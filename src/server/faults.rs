//! Fault injection for the import route, reproducible with a seed.
//!
//! Every import request draws the same number of values from one seeded
//! generator, in the same order, whatever it ends up doing, so a given
//! sequence of requests meets the same faults on every run with the same
//! `--seed`. (Concurrent requests draw in arrival order, which the network
//! decides; run sequentially to replay a sequence exactly.)
//!
//! Per request, in order: the added latency; a 503 with `fail_rate`; else a
//! 429 with `throttle_rate`; else, with `drop_rate`, the connection is closed
//! without an answer — before the database is touched or, in half of those
//! cases, right after the commit. `--max-in-flight` is separate: a semaphore
//! of import slots, and a request that finds none free is answered 429.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::FaultConfig;

/// What the injector decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Sleep this long before processing.
    pub latency: Duration,
    /// Then do this.
    pub action: Action,
}

/// The fault of a request, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Process normally.
    Proceed,
    /// Answer 503 before the database is touched.
    Fail,
    /// Answer 429 with `Retry-After`.
    Throttle,
    /// Close the connection without answering, before the database is touched.
    DropBeforeCommit,
    /// Apply the request, then close the connection without answering.
    DropAfterCommit,
}

impl Action {
    /// A short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Action::Proceed => "none",
            Action::Fail => "fail",
            Action::Throttle => "throttle",
            Action::DropBeforeCommit => "drop_before_commit",
            Action::DropAfterCommit => "drop_after_commit",
        }
    }
}

/// Draws a plan from `rng`; pure apart from the generator, so tests can
/// replay it. Always draws five values.
pub fn draw(config: &FaultConfig, rng: &mut impl Rng) -> Plan {
    let latency_u: f64 = rng.random();
    let fail_u: f64 = rng.random();
    let throttle_u: f64 = rng.random();
    let drop_u: f64 = rng.random();
    let commit_u: f64 = rng.random();
    let latency = config
        .latency
        .map(|range| range.min + (range.max - range.min).mul_f64(latency_u))
        .unwrap_or_default();
    let action = if fail_u < config.fail_rate {
        Action::Fail
    } else if throttle_u < config.throttle_rate {
        Action::Throttle
    } else if drop_u < config.drop_rate {
        if commit_u < 0.5 {
            Action::DropAfterCommit
        } else {
            Action::DropBeforeCommit
        }
    } else {
        Action::Proceed
    };
    Plan { latency, action }
}

/// The injector shared by all requests.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    /// The seeded generator; requests take turns.
    rng: Mutex<StdRng>,
    /// Import slots for `--max-in-flight`.
    slots: Option<Arc<Semaphore>>,
}

impl Faults {
    /// An injector for `config`; seeded from the OS when `config.seed` is unset.
    pub fn new(config: FaultConfig) -> Faults {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let slots = config.max_in_flight.map(|n| Arc::new(Semaphore::new(n)));
        Faults {
            config,
            rng: Mutex::new(rng),
            slots,
        }
    }

    /// The plan for the next import request.
    pub fn next_plan(&self) -> Plan {
        if !self.config.any() {
            return Plan {
                latency: Duration::ZERO,
                action: Action::Proceed,
            };
        }
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        draw(&self.config, &mut *rng)
    }

    /// Takes an import slot: `Ok(None)` without a limit, `Err(())` when all
    /// slots are taken. The slot is freed when the permit is dropped.
    pub fn take_slot(&self) -> Result<Option<OwnedSemaphorePermit>, NoSlot> {
        match &self.slots {
            None => Ok(None),
            Some(slots) => slots
                .clone()
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| NoSlot),
        }
    }
}

/// Every import slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSlot;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::LatencyRange;

    fn config(fail: f64, throttle: f64, drop: f64) -> FaultConfig {
        FaultConfig {
            fail_rate: fail,
            throttle_rate: throttle,
            drop_rate: drop,
            latency: Some(LatencyRange {
                min: Duration::from_millis(10),
                max: Duration::from_millis(20),
            }),
            max_in_flight: None,
            seed: Some(7),
        }
    }

    fn plans(config: &FaultConfig, n: usize) -> Vec<Plan> {
        let mut rng = StdRng::seed_from_u64(config.seed.unwrap_or_default());
        (0..n).map(|_| draw(config, &mut rng)).collect()
    }

    #[test]
    fn same_seed_same_faults() {
        let c = config(0.2, 0.2, 0.2);
        assert_eq!(plans(&c, 200), plans(&c, 200));
    }

    #[test]
    fn rates_of_zero_and_one() {
        assert!(plans(&config(0.0, 0.0, 0.0), 100)
            .iter()
            .all(|p| p.action == Action::Proceed));
        assert!(plans(&config(1.0, 1.0, 1.0), 100)
            .iter()
            .all(|p| p.action == Action::Fail));
        let drops = plans(&config(0.0, 0.0, 1.0), 400);
        let after = drops
            .iter()
            .filter(|p| p.action == Action::DropAfterCommit)
            .count();
        assert!(drops
            .iter()
            .all(|p| matches!(p.action, Action::DropAfterCommit | Action::DropBeforeCommit)));
        // About half commit first; 400 draws make 100..300 a certainty in practice.
        assert!((100..300).contains(&after), "{after}");
    }

    #[test]
    fn latency_stays_in_range() {
        for plan in plans(&config(0.0, 0.0, 0.0), 100) {
            assert!(plan.latency >= Duration::from_millis(10));
            assert!(plan.latency <= Duration::from_millis(20));
        }
    }

    #[test]
    fn slots_run_out_and_come_back() {
        let faults = Faults::new(FaultConfig {
            max_in_flight: Some(1),
            ..FaultConfig::default()
        });
        let first = faults.take_slot();
        assert!(matches!(first, Ok(Some(_))));
        assert_eq!(faults.take_slot().err(), Some(NoSlot));
        drop(first);
        assert!(matches!(faults.take_slot(), Ok(Some(_))));
    }
}
