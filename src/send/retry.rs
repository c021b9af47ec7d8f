//! Whether and how to retry a request: a pure function from what happened to
//! one attempt to what the sender does next.
//!
//! The transport ([`super::client`]) turns an attempt into an [`Outcome`]
//! (an HTTP status with its `Retry-After`, or the class of a transport
//! failure); [`decide`] turns the outcome into a [`Decision`]. Keeping the
//! policy out of the transport (as vector's `RetryLogic` does) means the whole
//! policy is one `match`, readable in one screen and tested from a table.
//!
//! ## The policy
//! | outcome | decision | why |
//! |---|---|---|
//! | 204 | [`Decision::Success`] | the batch is stored: the contract's only success answer |
//! | another 2xx | [`Decision::Fatal`] | not the contract's answer: a proxy or another service answers for the target, and counting it as stored would lose users |
//! | 429, 503 | [`Decision::Retry`], throttled | the target asks us to slow down; honour `Retry-After` |
//! | 408, other 5xx | [`Decision::Retry`] | transient (the contract: "5xx (transient)") |
//! | timeout, connect, connection closed, other transport error | [`Decision::Retry`] | the request may or may not have arrived; resending is safe because ids are deterministic |
//! | 400, 422 | [`Decision::Split`] | some record is invalid: bisect to isolate it |
//! | 413 | [`Decision::Split`] | a smaller body may pass; a single user still too large is rejected with this reason |
//! | 409 | [`Decision::Conflict`] | an existing record under `mode=fail`, or an identifier owned by another user |
//! | 401 | [`Decision::Renew`] | renew the token once; a second 401 is fatal (the sender's rule) |
//! | 403, 404, 415, 501, 505, 3xx, other 4xx, 1xx | [`Decision::Fatal`] | no retry or split can fix it |
//!
//! A read (`GET` of the export or of the user endpoints, [`decide_read`])
//! follows the same policy, but for its success and its client errors: 200
//! is its success, any other 2xx is not the contract's answer, and a 400,
//! 409, 413 or 422 is fatal (a read has nothing to split).
//!
//! A delete (a rollback's `DELETE` of a user, group, membership, pool or
//! schema, [`decide_delete`]) follows the read's policy with 204, the
//! description's answer to every delete, as its success: another 2xx is not
//! the contract's answer (a proxy's page would make a rollback look done),
//! and a 404 is fatal to the policy, which the caller reads as "already
//! gone".
//!
//! Unknown transport errors are retried: on an idempotent request a resend is
//! harmless and the per-batch attempt limit bounds the cost, while giving up
//! on the first odd error would stop a long migration for a network hiccup.
//! 501 and 505 are the two server errors no resend can fix. Redirects are not
//! followed by the client (a `PUT` must not silently turn into something
//! else), so a 3xx means the target URL is wrong.

use std::fmt;
use std::time::{Duration, SystemTime};

/// What one attempt of a request ended with, as far as the retry policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The target answered with an HTTP status.
    Answered {
        /// The HTTP status code.
        status: u16,
        /// The delay the `Retry-After` header asked for, already converted to
        /// a duration by [`parse_retry_after`] (an HTTP-date in the past is
        /// zero). `None` when the header is absent or unreadable.
        retry_after: Option<Duration>,
    },
    /// No answer: the transport failed.
    Failed(TransportKind),
}

impl Outcome {
    /// The HTTP status, when the target answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Answered { status, .. } => Some(*status),
            Outcome::Failed(_) => None,
        }
    }
}

/// Class of a transport failure (no HTTP status was received).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportKind {
    /// The request (or the connect) exceeded its time limit.
    Timeout,
    /// No connection could be established (refused, DNS, TLS handshake).
    Connect,
    /// The connection was closed or reset before a complete answer arrived.
    Closed,
    /// Any other failure while sending or receiving.
    Other,
}

impl TransportKind {
    /// A short stable label, used in logs and in the report's retry counts.
    pub fn label(self) -> &'static str {
        match self {
            TransportKind::Timeout => "timeout",
            TransportKind::Connect => "connect",
            TransportKind::Closed => "connection-closed",
            TransportKind::Other => "transport",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the sender does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The target stored the batch.
    Success,
    /// Send the same body again after a backoff.
    Retry {
        /// Why, for logs, the throttle gate and the report.
        cause: RetryCause,
        /// Lower bound on the wait the target asked for (`Retry-After`).
        after: Option<Duration>,
    },
    /// Some record of the body is invalid (or the body too large): bisect the
    /// batch until the offending users are isolated, then reject those.
    Split,
    /// A record conflicts (409). Under `mode=fail` the sender checks whether
    /// the existing records are this migration's own before rejecting.
    Conflict,
    /// The token was refused (401): renew it once and resend.
    Renew,
    /// Nothing the sender can do fixes this; stop the run with a clear message.
    Fatal {
        /// The HTTP status the target answered with.
        status: u16,
        /// What it means for the person running ferry.
        reason: FatalReason,
    },
}

/// Why a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RetryCause {
    /// 429 or 503: the target is shedding load. All senders should slow down
    /// together (see [`super::gate`]).
    Throttled(u16),
    /// 408 or another transient 5xx.
    ServerError(u16),
    /// No answer was received.
    Transport(TransportKind),
}

impl RetryCause {
    /// True when the target asked to slow down (429, 503).
    pub fn is_throttle(self) -> bool {
        matches!(self, RetryCause::Throttled(_))
    }

    /// True for a 429: the target limits the rate, it does not fail. Such a
    /// retry uses no attempt (bounded by the throttle deadline instead); a
    /// 503 slows every sender too but counts as a failure, since a target
    /// that is down answers it forever.
    pub fn is_rate_limit(self) -> bool {
        matches!(self, RetryCause::Throttled(429))
    }

    /// True when the request this retry resends may have been stored
    /// although no success came back: its answer was lost (a timeout, a
    /// closed connection) or was an error a proxy may give after the target
    /// committed (5xx but 503). A 429 or a 503 sheds the request before it
    /// is processed, and a failed connect never sent it.
    pub fn may_have_stored(self) -> bool {
        match self {
            RetryCause::Throttled(_) => false,
            RetryCause::ServerError(_) => true,
            RetryCause::Transport(kind) => kind != TransportKind::Connect,
        }
    }

    /// A short stable label: the status code (`"429"`) or the transport class
    /// (`"timeout"`), the key of the report's "retries by status".
    pub fn label(self) -> String {
        match self {
            RetryCause::Throttled(status) | RetryCause::ServerError(status) => status.to_string(),
            RetryCause::Transport(kind) => kind.label().to_string(),
        }
    }
}

/// Why a request can never succeed as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FatalReason {
    /// 403: wrong tenant, or the client lacks scope `manage_configuration`.
    Forbidden,
    /// 404: unknown tenant or pool (or a wrong base URL).
    NotFound,
    /// 415: the target does not take `application/json` here.
    UnsupportedMediaType,
    /// 3xx: the target URL points somewhere that redirects.
    Redirected,
    /// 501, 505: the target does not implement this request.
    NotImplemented,
    /// Another 4xx the contract does not describe.
    ClientError,
    /// A 2xx other than the contract's `204 No Content`: something else (a
    /// proxy's sign-in page, a gateway) answers for the target. Counting it
    /// as stored would mark users imported that the target never saw.
    NotTheContract,
    /// A 1xx or another status outside the contract.
    Unexpected,
}

impl FatalReason {
    /// A sentence for the person running ferry.
    pub fn explain(self) -> &'static str {
        match self {
            FatalReason::Forbidden => {
                "the target refused access: wrong tenant, or the client lacks scope manage_configuration"
            }
            FatalReason::NotFound => "the target does not know this tenant or pool (or the target URL is wrong)",
            FatalReason::UnsupportedMediaType => "the target does not accept JSON import bodies at this URL",
            FatalReason::Redirected => "the target URL redirects; give the final URL as the target",
            FatalReason::NotImplemented => "the target does not implement the bulk import request",
            FatalReason::ClientError => "the target refused the request with a status the contract does not describe",
            FatalReason::NotTheContract => {
                "the target answered a success that is not the contract's 204 No Content \
                 (a proxy or another service may be answering for it); nothing of the batch \
                 is counted as stored"
            }
            FatalReason::Unexpected => "the target answered with a status the contract does not describe",
        }
    }
}

impl fmt::Display for FatalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}

/// The retry policy: see the module documentation for the table.
pub fn decide(outcome: &Outcome) -> Decision {
    match *outcome {
        Outcome::Failed(kind) => Decision::Retry {
            cause: RetryCause::Transport(kind),
            after: None,
        },
        Outcome::Answered {
            status,
            retry_after,
        } => decide_status(status, retry_after),
    }
}

/// The retry policy of a read (`GET`): [`decide`], with 200 its success and
/// nothing to split or to check for a conflict (see the module).
pub fn decide_read(outcome: &Outcome) -> Decision {
    match *outcome {
        Outcome::Answered { status: 200, .. } => Decision::Success,
        Outcome::Answered { status: 204, .. } => Decision::Fatal {
            status: 204,
            reason: FatalReason::NotTheContract,
        },
        _ => match decide(outcome) {
            Decision::Split | Decision::Conflict => Decision::Fatal {
                status: outcome.status().unwrap_or_default(),
                reason: FatalReason::ClientError,
            },
            decision => decision,
        },
    }
}

/// The retry policy of a delete: [`decide_read`], with 204 its success (see
/// the module).
pub fn decide_delete(outcome: &Outcome) -> Decision {
    match *outcome {
        Outcome::Answered { status: 204, .. } => Decision::Success,
        Outcome::Answered {
            status: status @ 200..=299,
            ..
        } => Decision::Fatal {
            status,
            reason: FatalReason::NotTheContract,
        },
        _ => decide_read(outcome),
    }
}

/// The policy for an answered request.
fn decide_status(status: u16, retry_after: Option<Duration>) -> Decision {
    let fatal = |reason| Decision::Fatal { status, reason };
    match status {
        204 => Decision::Success,
        200..=299 => fatal(FatalReason::NotTheContract),
        429 | 503 => Decision::Retry {
            cause: RetryCause::Throttled(status),
            after: retry_after,
        },
        501 | 505 => fatal(FatalReason::NotImplemented),
        408 | 500..=599 => Decision::Retry {
            cause: RetryCause::ServerError(status),
            after: retry_after,
        },
        400 | 413 | 422 => Decision::Split,
        409 => Decision::Conflict,
        401 => Decision::Renew,
        403 => fatal(FatalReason::Forbidden),
        404 => fatal(FatalReason::NotFound),
        415 => fatal(FatalReason::UnsupportedMediaType),
        300..=399 => fatal(FatalReason::Redirected),
        402..=499 => fatal(FatalReason::ClientError),
        _ => fatal(FatalReason::Unexpected),
    }
}

/// Reads a `Retry-After` value: either delay-seconds (`"120"`) or an
/// HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`), relative to `now`.
/// A date in the past gives zero; anything unreadable gives `None` (the
/// sender then relies on its own backoff alone).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16) -> Outcome {
        Outcome::Answered {
            status,
            retry_after: None,
        }
    }

    fn retry(cause: RetryCause) -> Decision {
        Decision::Retry { cause, after: None }
    }

    fn fatal(status: u16, reason: FatalReason) -> Decision {
        Decision::Fatal { status, reason }
    }

    #[test]
    fn statuses_map_to_the_documented_decisions() {
        use RetryCause::*;
        let table: &[(u16, Decision)] = &[
            (204, Decision::Success),
            (200, fatal(200, FatalReason::NotTheContract)),
            (201, fatal(201, FatalReason::NotTheContract)),
            (202, fatal(202, FatalReason::NotTheContract)),
            (299, fatal(299, FatalReason::NotTheContract)),
            (429, retry(Throttled(429))),
            (503, retry(Throttled(503))),
            (500, retry(ServerError(500))),
            (502, retry(ServerError(502))),
            (504, retry(ServerError(504))),
            (408, retry(ServerError(408))),
            (507, retry(ServerError(507))),
            (522, retry(ServerError(522))),
            (400, Decision::Split),
            (413, Decision::Split),
            (422, Decision::Split),
            (409, Decision::Conflict),
            (401, Decision::Renew),
            (403, fatal(403, FatalReason::Forbidden)),
            (404, fatal(404, FatalReason::NotFound)),
            (415, fatal(415, FatalReason::UnsupportedMediaType)),
            (405, fatal(405, FatalReason::ClientError)),
            (410, fatal(410, FatalReason::ClientError)),
            (451, fatal(451, FatalReason::ClientError)),
            (501, fatal(501, FatalReason::NotImplemented)),
            (505, fatal(505, FatalReason::NotImplemented)),
            (301, fatal(301, FatalReason::Redirected)),
            (307, fatal(307, FatalReason::Redirected)),
            (308, fatal(308, FatalReason::Redirected)),
            (100, fatal(100, FatalReason::Unexpected)),
            (600, fatal(600, FatalReason::Unexpected)),
            (0, fatal(0, FatalReason::Unexpected)),
        ];
        for (status, expected) in table {
            assert_eq!(decide(&answered(*status)), *expected, "status {status}");
        }
    }

    #[test]
    fn reads_succeed_on_200_and_split_nothing() {
        let fatal = |status, reason| Decision::Fatal { status, reason };
        let table: &[(u16, Decision)] = &[
            (200, Decision::Success),
            (204, fatal(204, FatalReason::NotTheContract)),
            (203, fatal(203, FatalReason::NotTheContract)),
            (400, fatal(400, FatalReason::ClientError)),
            (409, fatal(409, FatalReason::ClientError)),
            (413, fatal(413, FatalReason::ClientError)),
            (422, fatal(422, FatalReason::ClientError)),
            (401, Decision::Renew),
            (404, fatal(404, FatalReason::NotFound)),
            (429, retry(RetryCause::Throttled(429))),
            (503, retry(RetryCause::Throttled(503))),
            (500, retry(RetryCause::ServerError(500))),
        ];
        for (status, expected) in table {
            assert_eq!(
                decide_read(&answered(*status)),
                *expected,
                "status {status}"
            );
        }
        let failed = Outcome::Failed(TransportKind::Timeout);
        assert_eq!(decide_read(&failed), decide(&failed));
    }

    #[test]
    fn deletes_succeed_on_204_only_and_split_nothing() {
        let fatal = |status, reason| Decision::Fatal { status, reason };
        let table: &[(u16, Decision)] = &[
            (204, Decision::Success),
            (200, fatal(200, FatalReason::NotTheContract)),
            (202, fatal(202, FatalReason::NotTheContract)),
            (400, fatal(400, FatalReason::ClientError)),
            (409, fatal(409, FatalReason::ClientError)),
            (422, fatal(422, FatalReason::ClientError)),
            (401, Decision::Renew),
            (403, fatal(403, FatalReason::Forbidden)),
            (404, fatal(404, FatalReason::NotFound)),
            (429, retry(RetryCause::Throttled(429))),
            (503, retry(RetryCause::Throttled(503))),
            (500, retry(RetryCause::ServerError(500))),
            (308, fatal(308, FatalReason::Redirected)),
        ];
        for (status, expected) in table {
            assert_eq!(
                decide_delete(&answered(*status)),
                *expected,
                "status {status}"
            );
        }
        let failed = Outcome::Failed(TransportKind::Closed);
        assert_eq!(decide_delete(&failed), decide(&failed));
    }

    #[test]
    fn transport_failures_are_all_retried() {
        for kind in [
            TransportKind::Timeout,
            TransportKind::Connect,
            TransportKind::Closed,
            TransportKind::Other,
        ] {
            assert_eq!(
                decide(&Outcome::Failed(kind)),
                retry(RetryCause::Transport(kind)),
                "{kind}"
            );
        }
    }

    #[test]
    fn retry_after_is_carried_on_retries_only() {
        let after = Some(Duration::from_secs(7));
        for status in [429, 503, 500, 502, 504] {
            let decision = decide(&Outcome::Answered {
                status,
                retry_after: after,
            });
            assert!(
                matches!(decision, Decision::Retry { after: a, .. } if a == after),
                "status {status}: {decision:?}"
            );
        }
        // A Retry-After on a status that is not retried changes nothing.
        let decision = decide(&Outcome::Answered {
            status: 400,
            retry_after: after,
        });
        assert_eq!(decision, Decision::Split);
    }

    #[test]
    fn only_429_and_503_are_throttles() {
        assert!(RetryCause::Throttled(429).is_throttle());
        assert!(!RetryCause::ServerError(500).is_throttle());
        assert!(!RetryCause::Transport(TransportKind::Timeout).is_throttle());
    }

    #[test]
    fn labels_are_status_codes_or_transport_classes() {
        assert_eq!(RetryCause::Throttled(429).label(), "429");
        assert_eq!(RetryCause::ServerError(502).label(), "502");
        assert_eq!(
            RetryCause::Transport(TransportKind::Closed).label(),
            "connection-closed"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let table: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("120", Some(Duration::from_secs(120))),
            (" 5 ", Some(Duration::from_secs(5))),
            (
                "Wed, 21 Oct 2015 07:28:30 GMT",
                Some(Duration::from_secs(30)),
            ),
            // In the past: no wait.
            ("Wed, 21 Oct 2015 07:00:00 GMT", Some(Duration::ZERO)),
            // The two obsolete HTTP-date formats are accepted too.
            (
                "Wednesday, 21-Oct-15 07:28:10 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("Wed Oct 21 07:28:20 2015", Some(Duration::from_secs(20))),
            ("-1", None),
            ("1.5", None),
            ("soon", None),
            ("", None),
            ("99999999999999999999999", None),
        ];
        for (value, expected) in table {
            assert_eq!(parse_retry_after(value, now), *expected, "{value:?}");
        }
    }
}
