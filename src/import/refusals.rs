//! A target that refuses every user must not empty the source into the
//! rejects file: when whole batches are refused for one same reason, batch
//! after batch, the cause is common to every user (a pool whose schema they
//! do not match, a missing permission), and the run stops with that reason
//! and its checkpoint not complete, so that once the cause is fixed the
//! same command sends those users again.
//!
//! Wholly refused batches are held back, not acknowledged, while the streak
//! is shorter than the limit; a batch the target stored users of releases
//! them (they were ordinary refusals after all), and so does the end of the
//! source. A run that stops on the streak acknowledges none of them.

use crate::send::bisect::Delivered;

/// Default number of wholly refused batches in a row that stops a run.
pub const DEFAULT_LIMIT: usize = 3;

/// What to do with a delivered batch.
#[derive(Debug)]
pub(super) enum Admit {
    /// Acknowledge these batches (held ones first, in arrival order).
    Release(Vec<Delivered>),
    /// Held back: part of a streak still under the limit.
    Hold,
    /// The streak reached the limit: stop the run.
    Stop {
        /// Batches in the streak.
        batches: usize,
        /// The reason the target gave for every user of them.
        reason: String,
    },
}

/// The current streak of wholly refused batches.
#[derive(Debug)]
pub(super) struct Streak {
    /// Batches in a row that stop the run; 0 never stops.
    limit: usize,
    /// The wholly refused batches held back, in arrival order.
    held: Vec<Delivered>,
}

impl Streak {
    /// A streak that stops a run at `limit` batches (0: never).
    pub(super) fn new(limit: usize) -> Streak {
        Streak {
            limit,
            held: Vec::new(),
        }
    }

    /// Takes one delivered batch.
    pub(super) fn admit(&mut self, delivered: Delivered) -> Admit {
        let Some(reason) = delivered.wholly_refused.clone().filter(|_| self.limit > 0) else {
            let mut release = std::mem::take(&mut self.held);
            release.push(delivered);
            return Admit::Release(release);
        };
        let same = self
            .held
            .first()
            .and_then(|h| h.wholly_refused.as_ref())
            .is_none_or(|first| *first == reason);
        if !same {
            // Another reason: the earlier streak was not one cause; start over from this batch.
            let release = std::mem::replace(&mut self.held, vec![delivered]);
            return Admit::Release(release);
        }
        self.held.push(delivered);
        if self.held.len() >= self.limit {
            return Admit::Stop {
                batches: self.held.len(),
                reason,
            };
        }
        Admit::Hold
    }

    /// The batches still held at the end of the source: ordinary refusals.
    pub(super) fn drain(&mut self) -> Vec<Delivered> {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Counts;
    use crate::source::Position;

    fn delivered(number: u64, refused: Option<&str>) -> Delivered {
        Delivered {
            number,
            end: Position::default(),
            counts: Counts::default(),
            rejects: Vec::new(),
            efforts: Vec::new(),
            wholly_refused: refused.map(str::to_owned),
            unmapped: Default::default(),
        }
    }

    fn numbers(admit: &Admit) -> Vec<u64> {
        match admit {
            Admit::Release(batches) => batches.iter().map(|d| d.number).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_streak_of_one_reason_stops_at_the_limit_and_anything_else_releases_it() {
        let mut streak = Streak::new(3);
        assert_eq!(numbers(&streak.admit(delivered(1, None))), [1]);
        assert!(matches!(
            streak.admit(delivered(2, Some("schema"))),
            Admit::Hold
        ));
        assert!(matches!(
            streak.admit(delivered(3, Some("schema"))),
            Admit::Hold
        ));
        // A batch with stored users: the two were ordinary refusals.
        assert_eq!(numbers(&streak.admit(delivered(4, None))), [2, 3, 4]);
        // Another reason restarts the streak from the new batch.
        assert!(matches!(streak.admit(delivered(5, Some("a"))), Admit::Hold));
        assert_eq!(numbers(&streak.admit(delivered(6, Some("b")))), [5]);
        assert!(matches!(streak.admit(delivered(7, Some("b"))), Admit::Hold));
        match streak.admit(delivered(8, Some("b"))) {
            Admit::Stop { batches, reason } => {
                assert_eq!((batches, reason.as_str()), (3, "b"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_end_of_the_source_releases_what_is_held_and_a_limit_of_0_never_stops() {
        let mut streak = Streak::new(3);
        assert!(matches!(streak.admit(delivered(1, Some("x"))), Admit::Hold));
        assert_eq!(streak.drain().len(), 1);
        let mut never = Streak::new(0);
        for n in 1..10 {
            assert_eq!(numbers(&never.admit(delivered(n, Some("x")))), [n]);
        }
    }
}
