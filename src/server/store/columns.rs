//! How contract values become column values and back.
//!
//! Enums are stored under their wire names (the serde names of the contract
//! types), timestamps as RFC 3339 text with the offset they came with (so a
//! record reads back as it was written), free-form objects as JSON text.
//! Reading back goes through the same serde definitions as the import, so
//! the two directions cannot disagree.

use rusqlite::types::{FromSqlError, ValueRef};
use rusqlite::Row;
use serde::de::{DeserializeOwned, IntoDeserializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::contract::records::{
    AddressStatus, CredentialState, CredentialType, Object, PreferredContactMethod,
};

/// A timestamp column value.
pub fn time(t: &OffsetDateTime) -> rusqlite::Result<String> {
    t.format(&Rfc3339)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

/// An optional timestamp column value.
pub fn opt_time(t: &Option<OffsetDateTime>) -> rusqlite::Result<Option<String>> {
    t.as_ref().map(time).transpose()
}

/// An optional JSON object column value.
pub fn opt_json(object: &Option<Object>) -> rusqlite::Result<Option<String>> {
    object.as_ref().map(json).transpose()
}

/// A JSON column value.
pub fn json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

/// Wire name of a credential type.
pub fn credential_type(kind: CredentialType) -> &'static str {
    match kind {
        CredentialType::Password => "password",
        CredentialType::Webauthn => "webauthn",
        CredentialType::Totp => "totp",
    }
}

/// Wire name of a credential state.
pub fn credential_state(state: CredentialState) -> &'static str {
    match state {
        CredentialState::Valid => "valid",
        CredentialState::MustBeReset => "must_be_reset",
        CredentialState::MustBeChanged => "must_be_changed",
    }
}

/// Wire name of an address status.
pub fn address_status(status: AddressStatus) -> &'static str {
    match status {
        AddressStatus::Active => "active",
        AddressStatus::Inactive => "inactive",
    }
}

/// Wire name of a preferred contact method.
pub fn contact_method(method: PreferredContactMethod) -> &'static str {
    match method {
        PreferredContactMethod::Sms => "sms",
        PreferredContactMethod::Voice => "voice",
    }
}

/// Reads column `idx` as a UUID stored as a 16-byte blob.
pub fn get_uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    match row.get_ref(idx)? {
        ValueRef::Blob(bytes) => Uuid::from_slice(bytes).map_err(|err| conversion(idx, err)),
        _ => Err(conversion(idx, FromSqlError::InvalidType)),
    }
}

/// Reads column `idx` as an RFC 3339 timestamp.
pub fn get_time(row: &Row<'_>, idx: usize) -> rusqlite::Result<OffsetDateTime> {
    let text: String = row.get(idx)?;
    OffsetDateTime::parse(&text, &Rfc3339).map_err(|err| conversion(idx, err))
}

/// Reads column `idx` as an optional RFC 3339 timestamp.
pub fn get_opt_time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<OffsetDateTime>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| OffsetDateTime::parse(&t, &Rfc3339).map_err(|err| conversion(idx, err)))
        .transpose()
}

/// Reads column `idx` as JSON text.
pub fn get_json<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|err| conversion(idx, err))
}

/// Reads column `idx` as optional JSON text.
pub fn get_opt_json<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| serde_json::from_str(&t).map_err(|err| conversion(idx, err)))
        .transpose()
}

/// Reads column `idx` as an enum stored under its wire name.
pub fn get_enum<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse_enum(&text).map_err(|err| conversion(idx, err))
}

/// Reads column `idx` as an optional enum stored under its wire name.
pub fn get_opt_enum<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| parse_enum(&t).map_err(|err| conversion(idx, err)))
        .transpose()
}

/// Parses a unit enum variant from its serde name.
fn parse_enum<T: DeserializeOwned>(text: &str) -> Result<T, serde::de::value::Error> {
    T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(text))
}

fn conversion<E>(idx: usize, err: E) -> rusqlite::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::records::{IdentifierType, UserStatus};

    #[test]
    fn enum_names_round_trip() {
        for kind in [
            CredentialType::Password,
            CredentialType::Webauthn,
            CredentialType::Totp,
        ] {
            assert_eq!(
                parse_enum::<CredentialType>(credential_type(kind)).unwrap(),
                kind
            );
        }
        for state in [
            CredentialState::Valid,
            CredentialState::MustBeReset,
            CredentialState::MustBeChanged,
        ] {
            assert_eq!(
                parse_enum::<CredentialState>(credential_state(state)).unwrap(),
                state
            );
        }
        for status in [AddressStatus::Active, AddressStatus::Inactive] {
            assert_eq!(
                parse_enum::<AddressStatus>(address_status(status)).unwrap(),
                status
            );
        }
        for method in [PreferredContactMethod::Sms, PreferredContactMethod::Voice] {
            assert_eq!(
                parse_enum::<PreferredContactMethod>(contact_method(method)).unwrap(),
                method
            );
        }
        assert_eq!(parse_enum::<UserStatus>("new").unwrap(), UserStatus::New);
        assert_eq!(
            parse_enum::<IdentifierType>(IdentifierType::Federated.as_str()).unwrap(),
            IdentifierType::Federated
        );
        assert!(parse_enum::<UserStatus>("bogus").is_err());
    }

    #[test]
    fn time_keeps_its_offset() {
        let t = OffsetDateTime::parse("2024-02-29T23:59:59.123+02:00", &Rfc3339).unwrap();
        assert_eq!(time(&t).unwrap(), "2024-02-29T23:59:59.123+02:00");
    }
}
