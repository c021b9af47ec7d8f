//! The rules a bad row of a sample breaks, one rule per row, and how a
//! generated person is made to break one.

use super::people::Person;
use crate::source::Format;

/// The rule a bad row breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadKind {
    MissingKey,
    InvalidEmail,
    InvalidPhone,
    OversizeName,
    DuplicateKey,
    DuplicateEmail,
    UnsupportedAlgorithm,
    InvalidStatus,
    InvalidCreatedAt,
    /// CSV only.
    WrongColumnCount,
    /// CSV only.
    InvalidUtf8,
    /// JSON Lines only.
    InvalidJson,
}

impl BadKind {
    /// How the rule reads in a summary.
    pub fn describe(self) -> &'static str {
        match self {
            BadKind::MissingKey => "missing id",
            BadKind::InvalidEmail => "invalid email",
            BadKind::InvalidPhone => "phone not E.164",
            BadKind::OversizeName => "name over 1 KiB",
            BadKind::DuplicateKey => "duplicate id",
            BadKind::DuplicateEmail => "duplicate email",
            BadKind::UnsupportedAlgorithm => "unsupported password algorithm",
            BadKind::InvalidStatus => "invalid status",
            BadKind::InvalidCreatedAt => "invalid created_at",
            BadKind::WrongColumnCount => "wrong column count",
            BadKind::InvalidUtf8 => "invalid UTF-8",
            BadKind::InvalidJson => "invalid JSON",
        }
    }

    /// Every rule, in the order samples draw from (the order fixes a seed's bytes).
    const ALL: [BadKind; 12] = [
        BadKind::MissingKey,
        BadKind::InvalidEmail,
        BadKind::InvalidPhone,
        BadKind::OversizeName,
        BadKind::DuplicateKey,
        BadKind::DuplicateEmail,
        BadKind::UnsupportedAlgorithm,
        BadKind::InvalidStatus,
        BadKind::InvalidCreatedAt,
        BadKind::WrongColumnCount,
        BadKind::InvalidUtf8,
        BadKind::InvalidJson,
    ];

    /// The rules a row of `format` can break.
    pub(super) fn for_format(format: Format) -> Vec<BadKind> {
        let applies = |kind: &BadKind| match kind {
            BadKind::WrongColumnCount | BadKind::InvalidUtf8 => format == Format::CSV,
            BadKind::InvalidJson => format == Format::JSON_LINES,
            _ => true,
        };
        BadKind::ALL.into_iter().filter(applies).collect()
    }
}

impl Person {
    /// Breaks exactly one rule; `earlier` is a valid earlier row's (id, email).
    pub(super) fn break_rule(&mut self, kind: BadKind, earlier: &(String, String)) {
        match kind {
            BadKind::MissingKey => self.id.clear(),
            BadKind::InvalidEmail => self.email = self.email.replace('@', " at "),
            BadKind::InvalidPhone => self.phone = "(555) 010-4477".to_string(),
            BadKind::OversizeName => self.given_name = "Maximilian".repeat(120),
            BadKind::DuplicateKey => self.id = earlier.0.clone(),
            BadKind::DuplicateEmail => self.email = earlier.1.to_uppercase(),
            BadKind::UnsupportedAlgorithm => {
                // A Firebase-style scrypt export: the target cannot verify it.
                self.password_hash = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==".to_string();
                self.password_salt = "42xEC+ixf3L2lw==".to_string();
                self.password_algorithm = "firebase_scrypt".to_string();
            }
            BadKind::InvalidStatus => self.status = "suspended?".to_string(),
            BadKind::InvalidCreatedAt => self.created_at = "31/12/2019".to_string(),
            // Written specially by the sink.
            BadKind::WrongColumnCount | BadKind::InvalidUtf8 | BadKind::InvalidJson => {}
        }
    }
}
