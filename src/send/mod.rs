//! Delivery: getting batches into the target, fast, without losing or
//! duplicating anyone.
//!
//! The sink is one chain, each stage in its own module (the shape of
//! vector's HTTP sink):
//!
//! ```text
//! batch (a serialised body, from the batching stage)
//!   → match (matching.rs): with --match-existing, users found at the target
//!       by identifier rewritten under the existing ids
//!   → bisect (bisect.rs): a batch's users; a refused body split in halves,
//!       a 409 under `fail` read back; every row counted
//!   → deliver (deliver.rs): the attempt loop of one body
//!       → rate     wait for the users-per-second budget          (rate.rs)
//!       → gate     wait while the target throttles the whole run (gate.rs)
//!       → request  PUT the body with the bearer token            (client.rs, token.rs,
//!                  over the HTTP helpers of transport.rs)
//!       → decide   success / retry / split / conflict / renew / fatal (retry.rs)
//!       → backoff  full-jitter wait before a resend               (backoff.rs)
//!   → verdict: stored / split / conflict / stop, back to bisect
//!   → delivered or stopped, to the acknowledging end   (crate::import, crate::checkpoint)
//! ```
//!
//! Invariants the stages keep between them:
//! - A body is resent unchanged (same bytes, same deterministic ids), so a
//!   retry after a lost answer never creates a duplicate.
//! - A batch is never dropped: after its last attempt the run stops with its
//!   checkpoint saved, and a resume sends it again.
//! - Acknowledgements may complete in any order, but the checkpoint only
//!   moves over the contiguous prefix of acknowledged batches
//!   ([`crate::checkpoint::AckTracker`]).
//! - No request body, client secret or token reaches a log or an error.

pub mod backoff;
pub mod bisect;
pub mod client;
pub mod deliver;
pub mod gate;
pub mod matching;
pub mod rate;
pub mod retry;
pub mod token;
pub mod transport;

#[cfg(test)]
pub(crate) mod testing;
