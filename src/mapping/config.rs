//! The mapping file (`--mapping FILE`, TOML): which source column feeds which
//! ferry field, constants, defaults and the user key.
//!
//! With no mapping file, every ferry field is read from the column of the same
//! name (see [`Field::ALL`]) and the user key is the `id` column; a source
//! whose header has no `id` column is keyed on the lower-cased email. The key
//! is decided by the mapping and the header, never by a record: a source
//! without a header (JSON Lines) is keyed on `id` unless the mapping says
//! otherwise, and a record without one is rejected.
//!
//! Every source column is read by the mapping, ignored on purpose
//! (`ignore`), or reported as unmapped ([`Mapping::reads`]).
//!
//! ```toml
//! key = "customer_no"            # source column holding the user key
//! # key_email = true             # or: key users on their lower-cased email
//! ignore = ["last_ip", "logins"] # source columns left out on purpose
//!
//! [columns]                      # ferry field = source column
//! id = "customer_no"
//! email = "mail"
//! given_name = "first"
//!
//! [constants]                    # ferry field = value used for every row
//! status = "active"
//!
//! [defaults]                     # ferry field = value used when the row's is empty
//! password_algorithm = "sha256"
//!
//! [passwords]                    # see mapping::passwords::options
//! salt_encoding = "base64"       # hex (default) | base64 | plain
//! plaintext_column = "pw"        # plaintext passwords, hashed with argon2id
//! ```
//!
//! A [`MappingConfig`] is checked against the source's columns once, before
//! any row is read, and becomes an immutable [`Mapping`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::passwords::PasswordOptions;

/// The fields ferry reads from a source user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Id,
    Email,
    EmailVerified,
    Phone,
    PhoneVerified,
    GivenName,
    FamilyName,
    Name,
    PasswordHash,
    PasswordSalt,
    PasswordAlgorithm,
    Status,
    CreatedAt,
    Groups,
}

impl Field {
    /// Every field, in the order of the default column set.
    pub const ALL: [Field; 14] = [
        Field::Id,
        Field::Email,
        Field::EmailVerified,
        Field::Phone,
        Field::PhoneVerified,
        Field::GivenName,
        Field::FamilyName,
        Field::Name,
        Field::PasswordHash,
        Field::PasswordSalt,
        Field::PasswordAlgorithm,
        Field::Status,
        Field::CreatedAt,
        Field::Groups,
    ];

    /// The field's name, which is also its default column name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Email => "email",
            Field::EmailVerified => "email_verified",
            Field::Phone => "phone",
            Field::PhoneVerified => "phone_verified",
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::Name => "name",
            Field::PasswordHash => "password_hash",
            Field::PasswordSalt => "password_salt",
            Field::PasswordAlgorithm => "password_algorithm",
            Field::Status => "status",
            Field::CreatedAt => "created_at",
            Field::Groups => "groups",
        }
    }

    /// Parses a field name as written in a mapping file.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A mapping file as written (TOML).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Source column holding the user key. Default: the column mapped to `id`
    /// if the source has it, else the lower-cased email.
    #[serde(default)]
    pub key: Option<String>,
    /// Key users on their lower-cased email instead of a key column.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_email: bool,
    /// Source columns the mapping leaves out on purpose: not reported as
    /// unmapped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// ferry field → source column.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// ferry field → value for every row (wins over any column).
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    /// ferry field → value when the row's own value is empty.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// How passwords are carried: policy, unsupported hashes, salt encoding,
    /// plaintext column and its argon2id parameters.
    #[serde(default)]
    pub passwords: PasswordOptions,
}

/// A mapping file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    #[error("cannot read mapping file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("mapping file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("mapping: unknown field '{name}' in [{section}] (known fields: {known})")]
    UnknownField {
        section: &'static str,
        name: String,
        known: String,
    },
    #[error("mapping: column '{column}' (for field '{field}') is not in the source header")]
    MissingColumn { field: String, column: String },
    #[error("the source has neither a key column '{column}' nor an email column to key users on")]
    NoKey { column: String },
    #[error("mapping: 'key' and 'key_email' both say where the user key is; keep one")]
    TwoKeys,
    #[error("mapping: {count} source column(s) are neither mapped nor ignored: {}; map them, list them in 'ignore', or drop --strict", columns.join(", "))]
    Unmapped { count: usize, columns: Vec<String> },
    #[error("mapping: {0}")]
    Passwords(String),
}

impl MappingConfig {
    /// Reads and parses a mapping file.
    pub fn load(path: &Path) -> Result<MappingConfig, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        MappingConfig::parse(&text).map_err(|message| MappingError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses the TOML text of a mapping file.
    pub fn parse(text: &str) -> Result<MappingConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks field names and resolves the mapping against the source's
    /// columns (`None` for sources without a header, such as JSON Lines).
    pub fn resolve(&self, header: Option<&[String]>) -> Result<Mapping, MappingError> {
        let mut columns: BTreeMap<Field, String> = Field::ALL
            .iter()
            .map(|f| (*f, f.name().to_string()))
            .collect();
        for (name, column) in &self.columns {
            columns.insert(parse_field("columns", name)?, column.clone());
        }
        let constants = parse_values("constants", &self.constants)?;
        let defaults = parse_values("defaults", &self.defaults)?;
        let has = |column: &str| header.is_none_or(|h| h.iter().any(|c| c == column));
        if header.is_some() {
            // A column named explicitly must exist; default columns are optional.
            for (name, column) in &self.columns {
                if !has(column) {
                    return Err(MappingError::MissingColumn {
                        field: name.clone(),
                        column: column.clone(),
                    });
                }
            }
        }
        let key = match &self.key {
            Some(_) if self.key_email => return Err(MappingError::TwoKeys),
            Some(column) if has(column) => KeyPolicy::Column(column.clone()),
            Some(column) => {
                return Err(MappingError::MissingColumn {
                    field: "key".into(),
                    column: column.clone(),
                });
            }
            None if self.key_email => KeyPolicy::Email,
            None if has(&columns[&Field::Id]) || constants.contains_key(&Field::Id) => {
                KeyPolicy::Column(columns[&Field::Id].clone())
            }
            None if has(&columns[&Field::Email]) => KeyPolicy::Email,
            None => {
                return Err(MappingError::NoKey {
                    column: columns[&Field::Id].clone(),
                })
            }
        };
        if let Some(column) = &self.passwords.plaintext_column {
            if !has(column) {
                return Err(MappingError::MissingColumn {
                    field: "passwords.plaintext_column".into(),
                    column: column.clone(),
                });
            }
            self.passwords
                .argon2
                .check()
                .map_err(MappingError::Passwords)?;
        }
        let columns: BTreeMap<Field, String> =
            columns.into_iter().filter(|(_, c)| has(c)).collect();
        // The id field is the key's column, read only when the key is.
        let mut reads: BTreeSet<String> = columns
            .iter()
            .filter(|(field, _)| **field != Field::Id)
            .map(|(_, column)| column.clone())
            .collect();
        if let KeyPolicy::Column(column) = &key {
            reads.insert(column.clone());
        }
        reads.extend(self.passwords.plaintext_column.iter().cloned());
        reads.extend(self.ignore.iter().cloned());
        Ok(Mapping {
            columns,
            constants,
            defaults,
            key,
            passwords: self.passwords.clone(),
            reads,
        })
    }
}

fn parse_field(section: &'static str, name: &str) -> Result<Field, MappingError> {
    Field::parse(name).ok_or_else(|| MappingError::UnknownField {
        section,
        name: name.to_string(),
        known: Field::ALL.map(Field::name).join(", "),
    })
}

fn parse_values(
    section: &'static str,
    values: &BTreeMap<String, String>,
) -> Result<BTreeMap<Field, String>, MappingError> {
    values
        .iter()
        .map(|(name, value)| Ok((parse_field(section, name)?, value.clone())))
        .collect()
}

/// How a row's user key is found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyPolicy {
    /// The trimmed value of this source column.
    Column(String),
    /// The trimmed, lower-cased email.
    Email,
}

/// A resolved, immutable mapping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// ferry field → source column, only for columns the source can have.
    columns: BTreeMap<Field, String>,
    /// ferry field → constant value.
    constants: BTreeMap<Field, String>,
    /// ferry field → value when the row's is empty.
    defaults: BTreeMap<Field, String>,
    /// Where the user key comes from.
    key: KeyPolicy,
    /// How passwords are carried.
    passwords: PasswordOptions,
    /// The source columns the mapping accounts for: read for a field, the
    /// key or the plaintext password, or ignored on purpose.
    reads: BTreeSet<String>,
}

impl Mapping {
    /// The default mapping for a source with this header.
    pub fn default_for(header: Option<&[String]>) -> Result<Mapping, MappingError> {
        MappingConfig::default().resolve(header)
    }

    /// Source column of `field`, if the source can have it.
    pub fn column(&self, field: Field) -> Option<&str> {
        self.columns.get(&field).map(String::as_str)
    }

    /// Constant value of `field`, if set.
    pub fn constant(&self, field: Field) -> Option<&str> {
        self.constants.get(&field).map(String::as_str)
    }

    /// Default value of `field`, if set.
    pub fn default_value(&self, field: Field) -> Option<&str> {
        self.defaults.get(&field).map(String::as_str)
    }

    /// How passwords are carried.
    pub fn passwords(&self) -> &PasswordOptions {
        &self.passwords
    }

    /// How the user key is found.
    pub fn key(&self) -> &KeyPolicy {
        &self.key
    }

    /// Whether the mapping accounts for the source column `column` (reads
    /// it, or ignores it on purpose); a column it does not is reported as
    /// unmapped.
    pub fn reads(&self, column: &str) -> bool {
        self.reads.contains(column)
    }

    /// The columns of `header` the mapping does not account for, in header
    /// order: an error under `--strict`.
    pub fn unmapped_in(&self, header: &[String]) -> Vec<String> {
        header.iter().filter(|c| !self.reads(c)).cloned().collect()
    }

    /// A canonical text of everything in the mapping, for the checkpoint's settings fingerprint.
    pub fn canonical(&self) -> String {
        format!("{:?}", self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn default_keys_on_id_then_email() {
        let m = Mapping::default_for(Some(&header(&["id", "email"]))).unwrap();
        assert_eq!(m.key(), &KeyPolicy::Column("id".into()));
        let m = Mapping::default_for(Some(&header(&["email", "name"]))).unwrap();
        assert_eq!(m.key(), &KeyPolicy::Email);
        assert!(matches!(
            Mapping::default_for(Some(&header(&["name"]))),
            Err(MappingError::NoKey { .. })
        ));
    }

    #[test]
    fn renames_constants_and_defaults() {
        let config = MappingConfig::parse(
            r#"
            key = "cust"
            [columns]
            id = "cust"
            email = "mail"
            [constants]
            status = "inactive"
            [defaults]
            password_algorithm = "sha256"
            "#,
        )
        .unwrap();
        let m = config
            .resolve(Some(&header(&["cust", "mail", "given_name"])))
            .unwrap();
        assert_eq!(m.column(Field::Email), Some("mail"));
        assert_eq!(m.column(Field::GivenName), Some("given_name"));
        assert_eq!(
            m.column(Field::Phone),
            None,
            "absent default column is skipped"
        );
        assert_eq!(m.constant(Field::Status), Some("inactive"));
        assert_eq!(m.default_value(Field::PasswordAlgorithm), Some("sha256"));
        assert_eq!(m.key(), &KeyPolicy::Column("cust".into()));
    }

    #[test]
    fn bad_mapping_files_are_errors() {
        assert!(
            MappingConfig::parse("colums = {}").is_err(),
            "unknown section"
        );
        let config = MappingConfig::parse("[columns]\nmail = \"x\"").unwrap();
        assert!(matches!(
            config.resolve(None),
            Err(MappingError::UnknownField { .. })
        ));
        let config = MappingConfig::parse("[columns]\nemail = \"mail\"").unwrap();
        let err = config.resolve(Some(&header(&["id", "email"]))).unwrap_err();
        assert!(matches!(err, MappingError::MissingColumn { .. }), "{err}");
        let config = MappingConfig::parse("key = \"nope\"").unwrap();
        assert!(config.resolve(Some(&header(&["id"]))).is_err());
    }

    #[test]
    fn a_source_without_a_header_is_keyed_as_the_mapping_says_never_by_a_record() {
        let m = Mapping::default_for(None).unwrap();
        assert_eq!(m.key(), &KeyPolicy::Column("id".into()));
        let config = MappingConfig::parse("key_email = true").unwrap();
        assert_eq!(config.resolve(None).unwrap().key(), &KeyPolicy::Email);
        let config = MappingConfig::parse("key_email = true\nkey = \"id\"").unwrap();
        assert!(matches!(config.resolve(None), Err(MappingError::TwoKeys)));
    }

    #[test]
    fn a_column_is_read_ignored_or_unmapped() {
        let config = MappingConfig::parse(
            "key = \"cust\"\nignore = [\"last_ip\"]\n[columns]\nemail = \"mail\"\n[passwords]\nplaintext_column = \"pw\"",
        )
        .unwrap();
        let header = header(&[
            "cust",
            "mail",
            "given_name",
            "pw",
            "last_ip",
            "locale",
            "tier",
        ]);
        let m = config.resolve(Some(&header)).unwrap();
        for read in ["cust", "mail", "given_name", "pw", "last_ip"] {
            assert!(m.reads(read), "{read}");
        }
        assert_eq!(m.unmapped_in(&header), ["locale", "tier"]);
        assert!(
            !m.reads("email"),
            "email is read from 'mail', not from 'email'"
        );
    }
}
