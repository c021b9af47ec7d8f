//! The mapping file (`--mapping FILE`, TOML; presets are written in it too):
//! where each ferry field, identifier and custom attribute comes from.
//!
//! With no mapping file, every ferry field is read from the column of the same
//! name (see [`Field::ALL`]) and the user key is the `id` column; a source
//! whose header has no `id` column is keyed on the lower-cased email. The key
//! is decided by the mapping and the header, never by a record: a source
//! without a header (JSON Lines) is keyed on `id` unless the mapping says
//! otherwise, and a record without one is rejected.
//!
//! Every source column is read by the mapping, ignored on purpose
//! (`ignore`), or reported as unmapped ([`Mapping::reads`]). Columns are
//! top-level: a rule that reads part of an object accounts for the object.
//!
//! ```toml
//! key = "customer_no"            # source path holding the user key
//! # key_email = true             # or: key users on their lower-cased email
//! ignore = ["last_ip", "logins"] # source columns left out on purpose
//! inactive_if = ["blocked"]      # conditions that make a user inactive
//! skip_if = [{ path = "serviceAccountClientId", reason = "a service account" }]
//!
//! [columns]                      # ferry field = source path, or a rule
//! id = "customer_no"
//! email = "emails[0].value"
//! created_at = { path = "createdAt", as = ["epoch_ms"] }
//!
//! [constants]                    # ferry field = value used for every row
//! status = "active"
//!
//! [defaults]                     # ferry field = value used when the row's is empty
//! password_algorithm = "sha256"
//!
//! [payload]                      # custom attributes ([metadata], [business_metadata])
//! locale = "user_metadata.locale"
//!
//! [[identifiers]]                # uid, external, federated, more emails and phones
//! type = "uid"
//! path = "username"
//!
//! [passwords]                    # see mapping::passwords::options
//! salt_encoding = "base64"       # hex (default) | base64 | plain
//! plaintext_column = "pw"        # plaintext passwords, hashed with argon2id
//! ```
//!
//! Paths are [`super::path`]'s, transforms [`super::transform`]'s; `[source]`
//! is [`super::shape`] and `[join]` [`super::join`]. A [`MappingConfig`] is
//! checked against the source's columns once, before any row is read, and
//! becomes an immutable [`Mapping`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::canonical::Records;
use super::passwords::PasswordOptions;
use super::path::{SourcePath, Template};
use super::shape::Shape;
use super::transform::Transform;
use crate::contract::IdentifierType;

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
    PasswordParams,
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
            Field::PasswordParams => "password_params",
            Field::Status => "status",
            Field::CreatedAt => "created_at",
            Field::Groups => "groups",
        }
    }

    /// Fields read only when a mapping names their column: no default
    /// column is read for them (`password_params`, a vendor's hash
    /// parameters beside the hash, such as Keycloak's `credentialData`).
    pub const NAMED_ONLY: [Field; 1] = [Field::PasswordParams];

    /// Parses a field name as written in a mapping file.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .chain(Field::NAMED_ONLY)
            .find(|f| f.name() == name)
    }
}

/// A mapping file as written (TOML).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Source path holding the user key. Default: the column mapped to `id`
    /// if the source has it, else the lower-cased email.
    #[serde(default)]
    pub key: Option<String>,
    /// Key users on their lower-cased email instead of a key column.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_email: bool,
    /// A column named in the mapping may be absent from a CSV header
    /// (presets: an export holds the fields it was asked for).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub columns_optional: bool,
    /// Source columns (or paths) the mapping leaves out on purpose: not
    /// reported as unmapped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// ferry field → source path, or a rule (`{ path, as, map }`).
    #[serde(default)]
    pub columns: BTreeMap<String, RuleConfig>,
    /// ferry field → value for every row (wins over any column).
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    /// ferry field → value when the row's own value is empty.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// Identifiers besides the `email` and `phone` fields: usernames,
    /// federated accounts, further emails and phones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<IdentifierConfig>,
    /// Custom attributes carried into the user's `payload`: name → rule;
    /// the name `*` merges the members of an object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub payload: BTreeMap<String, RuleConfig>,
    /// Likewise into `metadata` (beside `groups`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, RuleConfig>,
    /// Likewise into `business_metadata`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub business_metadata: BTreeMap<String, RuleConfig>,
    /// Conditions that make a user `inactive` whatever its status says
    /// (blocked, disabled, banned, locked out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inactive_if: Vec<ConditionConfig>,
    /// Conditions that leave a row out, with a reason (service accounts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_if: Vec<ConditionConfig>,
    /// Column names of a CSV source without a header, by row width.
    #[serde(default, skip_serializing_if = "SourceConfig::is_empty")]
    pub source: SourceConfig,
    /// How a second file (`--join FILE`) is merged into the source's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinConfig>,
    /// A sentence the summary ends with: what the source cannot carry
    /// (a preset's "Cognito exports no password hashes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How passwords are carried: policy, unsupported hashes, salt encoding,
    /// plaintext column and its argon2id parameters.
    #[serde(default)]
    pub passwords: PasswordOptions,
}

/// Where a value comes from: a path, or a path with transforms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleConfig {
    /// A source path, read as it is.
    Path(String),
    /// A path with transforms and a value map.
    Rule(RuleTable),
}

impl From<&str> for RuleConfig {
    fn from(path: &str) -> RuleConfig {
        RuleConfig::Path(path.to_string())
    }
}

/// A rule written as a table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTable {
    /// The source path.
    pub path: String,
    /// Transforms, in order (see `mapping::transform`).
    #[serde(default, rename = "as", skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<String>,
    /// Value → value after the transforms; `*` for any other value. A value
    /// the map does not list, without `*`, rejects the row.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
    /// For a `*` attribute rule: only members whose name starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// An identifier rule (`[[identifiers]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierConfig {
    /// `email`, `mobile`, `uid`, `external` or `federated`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the values are; each value found is one identifier.
    pub path: String,
    /// Transforms applied to each value.
    #[serde(default, rename = "as", skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<String>,
    /// The identifier's text made from each value (an object):
    /// `{provider}|{user_id}`. Without it, the value's own text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Values left out: member → texts (`{ provider = ["auth0"] }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unless: BTreeMap<String, Vec<String>>,
    /// Values left out when their text starts with one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unless_prefix: Vec<String>,
    /// For emails and phones: whether the address is verified, for every
    /// value (`true`), or a path in the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
}

/// Whether the addresses of an identifier rule are verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Verified {
    Always(bool),
    Path(String),
}

/// A condition (`inactive_if`, `skip_if`): a path, or a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConditionConfig {
    /// Holds when the path's value is true (present, not false, 0 or empty).
    Path(String),
    /// A path with transforms, texts it must equal, and a reason.
    Table(ConditionTable),
}

/// A condition written as a table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionTable {
    pub path: String,
    /// Transforms, in order.
    #[serde(default, rename = "as", skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<String>,
    /// Holds when the value's text is one of these (instead of when it is true).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equals: Vec<String>,
    /// Why, in the report (and the rejects file, for `skip_if`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Column names for a CSV source without a header row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Layouts: a row with as many fields as a layout has names takes those
    /// names. Empty: the CSV's first row is its header.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub csv_columns: Vec<Vec<String>>,
    /// How CSV cells are typed and nested: `auth0` (see `mapping::shape`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv_values: Option<String>,
    /// A member holding `[{name, value}]` pairs whose members become the
    /// record's own (Cognito's `Attributes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<PairsConfig>,
    /// Column renames, old name → new name, so that two layouts of one
    /// vendor read alike (Cognito's CSV `cognito:username` is `Username`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rename: BTreeMap<String, String>,
    /// A CSV cell holding exactly this text is empty (`NULL`, as SQL Server
    /// Management Studio writes a null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_text: Option<String>,
    /// Records that need no mapping: `ferry` (ferry's own export, see
    /// `mapping::canonical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
    /// With `records`: re-derive every record id in the destination
    /// instead of keeping the export's (`--new-ids`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_ids: bool,
}

/// `[source] pairs`: which member, and the keys of each element.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairsConfig {
    pub path: String,
    pub name: String,
    pub value: String,
}

impl SourceConfig {
    fn is_empty(&self) -> bool {
        self.csv_columns.is_empty()
            && self.csv_values.is_none()
            && self.pairs.is_none()
            && self.rename.is_empty()
            && self.null_text.is_none()
            && self.records.is_none()
            && !self.new_ids
    }
}

/// How a join file's records meet the source's (`--join FILE`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinConfig {
    /// The key of a join record, as templates tried in order (the first
    /// that fills wins): `auth0|{alt_id}`, `auth0|{_id.$oid}`.
    pub on: Vec<String>,
    /// The source path it is compared with. Default: the user key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The member the joined record appears under, for the mapping's paths.
    #[serde(rename = "as")]
    pub member: String,
    /// What the join file is, for the report ("password hashes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub describes: Option<String>,
    /// Several join records may share a key (a user's roles): the member
    /// holds an array of them all. Otherwise a second record with a key is
    /// reported and left out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub many: bool,
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
    #[error("mapping: {0}")]
    Rule(String),
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
        // Shaping makes records of other columns than the header's: the rules
        // meet those, so the header says nothing about them.
        let header = header.filter(|_| self.source.is_empty());
        let mut columns: BTreeMap<Field, Rule> = Field::ALL
            .iter()
            .map(|f| Ok((*f, Rule::column(f.name())?)))
            .collect::<Result<_, MappingError>>()?;
        for (name, rule) in &self.columns {
            columns.insert(parse_field("columns", name)?, Rule::resolve(rule)?);
        }
        let constants = parse_values("constants", &self.constants)?;
        let defaults = parse_values("defaults", &self.defaults)?;
        let has_column = |column: &str| header.is_none_or(|h| h.iter().any(|c| c == column));
        let has = |rule: &Rule| has_column(rule.path.text()) || has_column(rule.path.column());
        if header.is_some() && !self.columns_optional {
            // A column named explicitly must exist; default columns are optional.
            for (name, rule) in &self.columns {
                let rule = Rule::resolve(rule)?;
                if !has(&rule) {
                    return Err(MappingError::MissingColumn {
                        field: name.clone(),
                        column: rule.path.text().to_string(),
                    });
                }
            }
        }
        let key = match &self.key {
            Some(_) if self.key_email => return Err(MappingError::TwoKeys),
            Some(column) => {
                let rule = Rule::column(column)?;
                if !has(&rule) {
                    return Err(MappingError::MissingColumn {
                        field: "key".into(),
                        column: column.clone(),
                    });
                }
                KeyPolicy::Column(column.clone())
            }
            None if self.key_email => KeyPolicy::Email,
            None if has(&columns[&Field::Id]) || constants.contains_key(&Field::Id) => {
                KeyPolicy::Column(columns[&Field::Id].path.text().to_string())
            }
            None if has(&columns[&Field::Email]) => KeyPolicy::Email,
            None => {
                return Err(MappingError::NoKey {
                    column: columns[&Field::Id].path.text().to_string(),
                })
            }
        };
        if let Some(column) = &self.passwords.plaintext_column {
            if !has_column(column) {
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
        // Default columns the header lacks are left out; a column the
        // mapping names is kept (with a header it was checked above, unless
        // `columns_optional`, where shaping or a join may still bring it).
        let named: BTreeSet<Field> = self
            .columns
            .keys()
            .filter_map(|name| Field::parse(name))
            .collect();
        let columns: BTreeMap<Field, Rule> = columns
            .into_iter()
            .filter(|(field, rule)| named.contains(field) || has(rule))
            .collect();
        let key_rule = match &key {
            KeyPolicy::Column(path) => Some(Rule::column(path)?),
            KeyPolicy::Email => None,
        };
        let identifiers = self
            .identifiers
            .iter()
            .map(IdentifierRule::resolve)
            .collect::<Result<Vec<_>, _>>()?;
        let mut attributes = Vec::new();
        for (into, rules) in [
            (AttributeSet::Payload, &self.payload),
            (AttributeSet::Metadata, &self.metadata),
            (AttributeSet::BusinessMetadata, &self.business_metadata),
        ] {
            for (name, rule) in rules {
                attributes.push(Attribute {
                    into,
                    name: name.clone(),
                    rule: Rule::resolve(rule)?,
                });
            }
        }
        let inactive_if = conditions(&self.inactive_if)?;
        let skip_if = conditions(&self.skip_if)?;
        let join = self.join.as_ref().map(JoinRule::resolve).transpose()?;
        let shape = Shape::resolve(&self.source).map_err(MappingError::Rule)?;
        let records = Records::resolve(&self.source).map_err(MappingError::Rule)?;
        // The columns the mapping accounts for. The id field is the key's
        // column, read only when the key is.
        let mut reads: BTreeSet<String> = BTreeSet::new();
        let mut read = |path: &SourcePath| {
            reads.insert(path.text().to_string());
            reads.insert(path.column().to_string());
        };
        for (field, rule) in &columns {
            if *field != Field::Id {
                read(&rule.path);
            }
        }
        if let Some(rule) = &key_rule {
            read(&rule.path);
        }
        for rule in &identifiers {
            read(&rule.path);
            if let VerifiedRule::Path(path) = &rule.verified {
                read(path);
            }
        }
        let mut read_prefixes = Vec::new();
        for attribute in &attributes {
            if attribute.rule.path.text() == super::ALL_COLUMNS {
                let prefix = attribute.rule.prefix.clone().unwrap_or_default();
                if prefix.is_empty() {
                    return Err(MappingError::Rule(format!(
                        "attribute '{}': path \"*\" needs a 'prefix' (such as \"custom:\")",
                        attribute.name
                    )));
                }
                read_prefixes.push(prefix);
            } else {
                read(&attribute.rule.path);
            }
        }
        for condition in inactive_if.iter().chain(&skip_if) {
            read(&condition.path);
        }
        if let Some(join) = &join {
            if let Some(path) = &join.key {
                read(path);
            }
        }
        reads.extend(self.passwords.plaintext_column.iter().cloned());
        for ignored in &self.ignore {
            reads.insert(ignored.clone());
            if let Ok(path) = SourcePath::parse(ignored) {
                if path.is_column() {
                    reads.insert(path.column().to_string());
                }
            }
        }
        Ok(Mapping {
            columns,
            constants,
            defaults,
            key,
            key_rule,
            identifiers,
            attributes,
            inactive_if,
            skip_if,
            join,
            shape,
            records,
            passwords: self.passwords.clone(),
            reads,
            read_prefixes,
        })
    }
}

fn parse_field(section: &'static str, name: &str) -> Result<Field, MappingError> {
    Field::parse(name).ok_or_else(|| MappingError::UnknownField {
        section,
        name: name.to_string(),
        known: Field::ALL
            .into_iter()
            .chain(Field::NAMED_ONLY)
            .map(Field::name)
            .collect::<Vec<_>>()
            .join(", "),
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

fn conditions(configs: &[ConditionConfig]) -> Result<Vec<Condition>, MappingError> {
    configs.iter().map(Condition::resolve).collect()
}

fn transforms(names: &[String]) -> Result<Vec<Transform>, MappingError> {
    names
        .iter()
        .map(|n| Transform::parse(n).map_err(MappingError::Rule))
        .collect()
}

fn path(text: &str) -> Result<SourcePath, MappingError> {
    SourcePath::parse(text).map_err(MappingError::Rule)
}

/// How a row's user key is found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyPolicy {
    /// The trimmed value at this source path.
    Column(String),
    /// The trimmed, lower-cased email.
    Email,
}

/// A resolved rule: a path, transforms and a value map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Where the value is.
    pub path: SourcePath,
    /// Applied in order.
    pub transforms: Vec<Transform>,
    /// Value → value after the transforms; `*` for any other.
    pub map: BTreeMap<String, String>,
    /// For a `*` attribute rule: the member-name prefix it keeps.
    pub prefix: Option<String>,
}

impl Rule {
    /// A plain column, read as it is.
    fn column(text: &str) -> Result<Rule, MappingError> {
        Ok(Rule {
            path: path(text)?,
            transforms: Vec::new(),
            map: BTreeMap::new(),
            prefix: None,
        })
    }

    fn resolve(config: &RuleConfig) -> Result<Rule, MappingError> {
        match config {
            RuleConfig::Path(text) => Rule::column(text),
            RuleConfig::Rule(table) => Ok(Rule {
                path: path(&table.path)?,
                transforms: transforms(&table.transforms)?,
                map: table.map.clone(),
                prefix: table.prefix.clone(),
            }),
        }
    }

    /// Whether the rule reads one column's text as it is (the fast path).
    pub fn is_plain(&self) -> bool {
        self.path.is_column() && self.transforms.is_empty() && self.map.is_empty()
    }
}

/// Where a custom attribute goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeSet {
    Payload,
    Metadata,
    BusinessMetadata,
}

/// A custom attribute rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    pub into: AttributeSet,
    /// The member name in the set; `*` merges an object's members.
    pub name: String,
    pub rule: Rule,
}

/// A resolved identifier rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdentifierRule {
    pub kind: IdentifierType,
    pub path: SourcePath,
    pub transforms: Vec<Transform>,
    pub template: Option<Template>,
    /// Member → texts that leave a value out.
    pub unless: Vec<(SourcePath, Vec<String>)>,
    /// Text prefixes that leave a value out.
    pub unless_prefix: Vec<String>,
    pub verified: VerifiedRule,
}

/// Whether an identifier rule's addresses are verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VerifiedRule {
    Always(bool),
    Path(SourcePath),
}

impl IdentifierRule {
    fn resolve(config: &IdentifierConfig) -> Result<IdentifierRule, MappingError> {
        let kind = match config.kind.as_str() {
            "email" => IdentifierType::Email,
            "mobile" | "phone" => IdentifierType::Mobile,
            "uid" | "username" => IdentifierType::Uid,
            "external" => IdentifierType::External,
            "federated" => IdentifierType::Federated,
            other => {
                return Err(MappingError::Rule(format!(
                "identifier type '{other}' is not one of email, mobile, uid, external, federated"
            )))
            }
        };
        let unless = config
            .unless
            .iter()
            .map(|(member, texts)| Ok((path(member)?, texts.clone())))
            .collect::<Result<_, MappingError>>()?;
        Ok(IdentifierRule {
            kind,
            path: path(&config.path)?,
            transforms: transforms(&config.transforms)?,
            template: config
                .value
                .as_deref()
                .map(Template::parse)
                .transpose()
                .map_err(MappingError::Rule)?,
            unless,
            unless_prefix: config.unless_prefix.clone(),
            verified: match &config.verified {
                None => VerifiedRule::Always(false),
                Some(Verified::Always(b)) => VerifiedRule::Always(*b),
                Some(Verified::Path(p)) => VerifiedRule::Path(path(p)?),
            },
        })
    }
}

/// A resolved condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    pub path: SourcePath,
    pub transforms: Vec<Transform>,
    pub equals: Vec<String>,
    pub reason: String,
}

impl Condition {
    fn resolve(config: &ConditionConfig) -> Result<Condition, MappingError> {
        let table = match config {
            ConditionConfig::Path(p) => ConditionTable {
                path: p.clone(),
                ..ConditionTable::default()
            },
            ConditionConfig::Table(t) => t.clone(),
        };
        let reason = table.reason.clone().unwrap_or_else(|| {
            if table.equals.is_empty() {
                format!("'{}' is set", table.path)
            } else {
                format!("'{}' is {}", table.path, table.equals.join(" or "))
            }
        });
        Ok(Condition {
            path: path(&table.path)?,
            transforms: transforms(&table.transforms)?,
            equals: table.equals,
            reason,
        })
    }
}

/// A resolved join.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JoinRule {
    pub on: Vec<Template>,
    pub key: Option<SourcePath>,
    pub member: String,
    pub describes: String,
    pub many: bool,
}

impl JoinRule {
    fn resolve(config: &JoinConfig) -> Result<JoinRule, MappingError> {
        if config.on.is_empty() {
            return Err(MappingError::Rule(
                "[join] needs 'on', the key of a join record".into(),
            ));
        }
        Ok(JoinRule {
            on: config
                .on
                .iter()
                .map(|t| Template::parse(t).map_err(MappingError::Rule))
                .collect::<Result<_, _>>()?,
            key: config.key.as_deref().map(path).transpose()?,
            member: config.member.clone(),
            describes: config.describes.clone().unwrap_or_else(|| "join".into()),
            many: config.many,
        })
    }
}

/// A resolved, immutable mapping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// ferry field → rule, only for columns the source can have.
    columns: BTreeMap<Field, Rule>,
    /// ferry field → constant value.
    constants: BTreeMap<Field, String>,
    /// ferry field → value when the row's is empty.
    defaults: BTreeMap<Field, String>,
    /// Where the user key comes from.
    key: KeyPolicy,
    /// The key's path, when the key is not the email.
    key_rule: Option<Rule>,
    /// Identifiers besides `email` and `phone`.
    identifiers: Vec<IdentifierRule>,
    /// Custom attributes.
    attributes: Vec<Attribute>,
    /// Conditions that make a user inactive.
    inactive_if: Vec<Condition>,
    /// Conditions that leave a row out.
    skip_if: Vec<Condition>,
    /// How a join file meets the source.
    join: Option<JoinRule>,
    /// What is done to a row before the rules read it.
    shape: Shape,
    /// Records that need no mapping (ferry's own export): the rules are
    /// not used.
    records: Option<Records>,
    /// How passwords are carried.
    passwords: PasswordOptions,
    /// The source columns the mapping accounts for: read for a field, the
    /// key or the plaintext password, or ignored on purpose.
    reads: BTreeSet<String>,
    /// Column-name prefixes the mapping reads every column of (`custom:`).
    read_prefixes: Vec<String>,
}

impl Mapping {
    /// The default mapping for a source with this header.
    pub fn default_for(header: Option<&[String]>) -> Result<Mapping, MappingError> {
        MappingConfig::default().resolve(header)
    }

    /// The rule of `field`, if the source can have it.
    pub fn rule(&self, field: Field) -> Option<&Rule> {
        self.columns.get(&field)
    }

    /// Source column of `field`, if the source can have it.
    pub fn column(&self, field: Field) -> Option<&str> {
        self.columns.get(&field).map(|r| r.path.text())
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

    /// The key's rule, when the key is not the email.
    pub fn key_rule(&self) -> Option<&Rule> {
        self.key_rule.as_ref()
    }

    /// Identifier rules besides `email` and `phone`.
    pub fn identifiers(&self) -> &[IdentifierRule] {
        &self.identifiers
    }

    /// Custom attribute rules.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// Conditions that make a user inactive.
    pub fn inactive_if(&self) -> &[Condition] {
        &self.inactive_if
    }

    /// Conditions that leave a row out.
    pub fn skip_if(&self) -> &[Condition] {
        &self.skip_if
    }

    /// What is done to a row before the rules read it.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Records that need no mapping, if the source holds them.
    pub fn records(&self) -> Option<Records> {
        self.records
    }

    /// How a join file meets the source, if the mapping says.
    pub fn join(&self) -> Option<&JoinRule> {
        self.join.as_ref()
    }

    /// Whether the mapping accounts for the source column `column` (reads
    /// it, or ignores it on purpose); a column it does not is reported as
    /// unmapped.
    pub fn reads(&self, column: &str) -> bool {
        // A decoder reads the whole record (and refuses what it does not know).
        self.records.is_some()
            || self.reads.contains(column)
            || self
                .read_prefixes
                .iter()
                .any(|p| column.starts_with(p.as_str()))
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
