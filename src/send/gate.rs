//! The throttle gate: when the target sheds load (429, 503), all senders
//! pause together instead of each backing off on its own.
//!
//! Per-batch backoff ([`super::backoff`]) alone lets the other senders keep
//! hammering a struggling target while one of them waits. The gate is shared
//! by every sender of a run: before each attempt a sender calls
//! [`ThrottleGate::pass`], which waits while the gate is closed; when an
//! attempt is throttled the sender calls [`ThrottleGate::throttled`], which
//! closes the gate for everyone.
//!
//! ## How long the gate stays closed
//! - A `Retry-After` closes it until then (clamped like the per-batch
//!   backoff): the target said when it will have capacity, for every request.
//! - The gate also keeps a *level*, the number of consecutive throttling
//!   rounds, and closes for a full-jitter wait drawn from the backoff window
//!   of that level; a success resets the level.
//! - Only a throttle of a request sent *after* the gate last closed raises the
//!   level. Eight senders throttled by the same overload are one round, not
//!   eight: each [`Pass`] remembers the gate's epoch when it was issued, and a
//!   throttle reported with a stale pass only extends the pause with its own
//!   `Retry-After`.
//!
//! The gate never shortens a pause. It holds a plain mutex for a few
//! instructions and never across an `.await`. It uses [`tokio::time`], so
//! tests drive it with a paused clock.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::Rng;
use tokio::time::{sleep_until, Instant};

use super::backoff::Backoff;

/// The gate every sender of a run shares (wrap it in an `Arc`).
#[derive(Debug)]
pub struct ThrottleGate {
    /// Window and `Retry-After` clamp of the gate's own pauses.
    backoff: Backoff,
    /// When senders may go again, and how throttled the run currently is.
    state: Mutex<GateState>,
}

/// The gate's mutable state.
#[derive(Debug, Default)]
struct GateState {
    /// No attempt starts before this instant; `None` while never closed.
    resume_at: Option<Instant>,
    /// Incremented each time the level rises, so that a throttle of a request
    /// sent before the latest rise can be told apart.
    epoch: u64,
    /// Consecutive throttling rounds; 0 after a success.
    level: u32,
}

/// Proof that a sender passed the gate, to give back when the attempt it
/// started is throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// The gate's epoch when the pass was issued.
    epoch: u64,
}

impl ThrottleGate {
    /// An open gate whose pauses follow `backoff`'s window and clamp.
    pub fn new(backoff: Backoff) -> Self {
        ThrottleGate {
            backoff,
            state: Mutex::new(GateState::default()),
        }
    }

    /// Waits while the gate is closed, then lets the caller start an attempt.
    /// A pause extended while waiting is waited for too.
    pub async fn pass(&self) -> Pass {
        loop {
            let (resume_at, epoch) = {
                let state = self.lock();
                (state.resume_at, state.epoch)
            };
            match resume_at {
                Some(at) if at > Instant::now() => sleep_until(at).await,
                _ => return Pass { epoch },
            }
        }
    }

    /// Reports that the attempt started with `pass` was throttled; closes the
    /// gate for every sender and returns when it reopens.
    pub fn throttled<R: Rng + ?Sized>(
        &self,
        pass: Pass,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Instant {
        let now = Instant::now();
        let mut state = self.lock();
        let mut pause = self.backoff.clamp_retry_after(retry_after);
        if pass.epoch == state.epoch {
            state.epoch += 1;
            state.level = state.level.saturating_add(1);
            pause = pause.max(self.backoff.jittered(state.level, rng));
            tracing::debug!(
                level = state.level,
                ?pause,
                "Throttle gate closed for all senders."
            );
        }
        let until = now + pause;
        let resume_at = state.resume_at.map_or(until, |at| at.max(until));
        state.resume_at = Some(resume_at);
        resume_at
    }

    /// Reports a successful attempt: the next throttle starts from level 1.
    pub fn succeeded(&self) {
        self.lock().level = 0;
    }

    /// Consecutive throttling rounds (0 after a success), for progress output.
    pub fn level(&self) -> u32 {
        self.lock().level
    }

    /// When the gate reopens, if it is closed now.
    pub fn closed_until(&self) -> Option<Instant> {
        self.lock().resume_at.filter(|at| *at > Instant::now())
    }

    /// The state; a panic elsewhere while holding the lock cannot leave it
    /// inconsistent (every update is a single assignment), so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::backoff::seeded_rng;
    use std::sync::Arc;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A gate whose jitter window is tiny, so that pauses come from Retry-After.
    fn gate() -> ThrottleGate {
        ThrottleGate::new(
            Backoff::new(Duration::from_millis(1), Duration::from_millis(1), 10).unwrap(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_gate_lets_senders_through_at_once() {
        let gate = gate();
        let start = Instant::now();
        gate.pass().await;
        gate.pass().await;
        assert_eq!(Instant::now(), start);
        assert_eq!(gate.closed_until(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_every_sender() {
        let gate = Arc::new(gate());
        let mut rng = seeded_rng(Some(1));
        let start = Instant::now();
        let pass = gate.pass().await;
        let reopen = gate.throttled(pass, Some(secs(5)), &mut rng);
        assert_eq!(reopen, start + secs(5));

        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let gate = Arc::clone(&gate);
                tokio::spawn(async move {
                    gate.pass().await;
                    Instant::now()
                })
            })
            .collect();
        for waiter in waiters {
            assert!(waiter.await.unwrap() >= start + secs(5));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_extended_while_waiting_is_waited_for() {
        let gate = Arc::new(gate());
        let mut rng = seeded_rng(Some(2));
        let start = Instant::now();
        let pass = gate.pass().await;
        gate.throttled(pass, Some(secs(2)), &mut rng);
        let waiter = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                gate.pass().await;
                Instant::now()
            })
        };
        tokio::time::sleep(secs(1)).await;
        // Another sender, passed before the gate closed, is throttled later
        // with a longer Retry-After.
        gate.throttled(pass, Some(secs(10)), &mut rng);
        assert!(waiter.await.unwrap() >= start + secs(11));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_is_never_shortened() {
        let gate = gate();
        let mut rng = seeded_rng(Some(3));
        let start = Instant::now();
        let pass = gate.pass().await;
        gate.throttled(pass, Some(secs(30)), &mut rng);
        let reopen = gate.throttled(pass, Some(secs(1)), &mut rng);
        assert_eq!(reopen, start + secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_throttles_of_one_round_raise_the_level_once() {
        let gate = gate();
        let mut rng = seeded_rng(Some(4));
        let passes = [gate.pass().await, gate.pass().await, gate.pass().await];
        for pass in passes {
            gate.throttled(pass, None, &mut rng);
        }
        assert_eq!(gate.level(), 1);

        // A request sent after the gate reopened and throttled again is a new round.
        let pass = gate.pass().await;
        gate.throttled(pass, None, &mut rng);
        assert_eq!(gate.level(), 2);

        gate.succeeded();
        assert_eq!(gate.level(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn without_retry_after_the_pause_grows_with_the_level() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(64), 10).unwrap();
        let gate = ThrottleGate::new(backoff);
        let mut rng = seeded_rng(Some(5));
        for level in 1..=6u32 {
            let pass = gate.pass().await;
            let now = Instant::now();
            let reopen = gate.throttled(pass, None, &mut rng);
            assert_eq!(gate.level(), level);
            assert!(reopen - now <= backoff.ceiling(level), "level {level}");
        }
    }
}
