//! Why an import request is refused, as a value.
//!
//! Validation (pure, before the database) and the store (inside the
//! transaction) both refuse a request by returning a [`Rejection`]: what kind
//! of problem it is, which record, which field, and a reason for people. The
//! HTTP layer maps the kind to a status code in one place
//! ([`crate::server::error`]). A reason never contains a password hash, a
//! salt, or an identifier or address value: naming the record is enough for
//! the client to find it, and error bodies end up in logs.

use std::fmt;

use serde_json::{json, Value};

/// What kind of problem a rejection is; decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// Malformed JSON or an invalid record (400).
    Invalid,
    /// A record names another tenant than the URL (403).
    WrongTenant,
    /// A record's pool does not exist in the tenant (404).
    UnknownPool,
    /// A record already exists and the mode is `fail`, or its id belongs to
    /// another tenant (409).
    Exists,
    /// An identifier is already used by another record of its pool (409).
    IdentifierTaken,
}

impl RejectionKind {
    /// The stable `error_code` of the error body.
    pub fn code(self) -> &'static str {
        match self {
            RejectionKind::Invalid => "invalid_record",
            RejectionKind::WrongTenant => "wrong_tenant",
            RejectionKind::UnknownPool => "unknown_pool",
            RejectionKind::Exists => "record_exists",
            RejectionKind::IdentifierTaken => "identifier_taken",
        }
    }
}

/// Which record of the request a rejection is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    /// The array of the import body: `users`, `user_credentials`, ...
    pub array: String,
    /// Position in that array, from 0.
    pub index: usize,
    /// The record's id, when it could be read.
    pub id: Option<String>,
}

impl RecordRef {
    /// A reference to `array[index]` with the record's id.
    pub fn new(array: &str, index: usize, id: impl fmt::Display) -> RecordRef {
        RecordRef {
            array: array.to_owned(),
            index,
            id: Some(id.to_string()),
        }
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.array, self.index)?;
        if let Some(id) = &self.id {
            write!(f, " (id {id})")?;
        }
        Ok(())
    }
}

/// A refused import request: the first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What kind of problem; decides the status code.
    pub kind: RejectionKind,
    /// The record, when the problem is in one.
    pub record: Option<RecordRef>,
    /// The field path inside the record (`status`, `payload.hashed_password.value`).
    pub field: Option<String>,
    /// What is wrong, for people; never a secret or an identifier value.
    pub reason: String,
}

impl Rejection {
    /// A rejection about a field of a record.
    pub fn field(
        kind: RejectionKind,
        record: RecordRef,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Rejection {
        Rejection {
            kind,
            record: Some(record),
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    /// A rejection about a whole record.
    pub fn record(kind: RejectionKind, record: RecordRef, reason: impl Into<String>) -> Rejection {
        Rejection {
            kind,
            record: Some(record),
            field: None,
            reason: reason.into(),
        }
    }

    /// The `details` object of the error body: `array`, `index`, `id`, `field`.
    pub fn details(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(record) = &self.record {
            details.insert("array".into(), json!(record.array));
            details.insert("index".into(), json!(record.index));
            if let Some(id) = &record.id {
                details.insert("id".into(), json!(id));
            }
        }
        if let Some(field) = &self.field {
            details.insert("field".into(), json!(field));
        }
        Value::Object(details)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.record, &self.field) {
            (Some(record), Some(field)) => write!(f, "{record}, field '{field}': {}", self.reason),
            (Some(record), None) => write!(f, "{record}: {}", self.reason),
            (None, Some(field)) => write!(f, "field '{field}': {}", self.reason),
            (None, None) => f.write_str(&self.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_details_name_array_index_field() {
        let rejection = Rejection::field(
            RejectionKind::Invalid,
            RecordRef::new("users", 3, "abc"),
            "status",
            "is not one of active, inactive, deleted, new",
        );
        assert_eq!(
            rejection.to_string(),
            "users[3] (id abc), field 'status': is not one of active, inactive, deleted, new"
        );
        assert_eq!(
            rejection.details(),
            json!({"array": "users", "index": 3, "id": "abc", "field": "status"})
        );
    }
}
