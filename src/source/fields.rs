//! The fields of one record, looked up by column name.
//!
//! Both shapes own their data (a row moves to another thread) in two
//! allocations, and decode lazily:
//! - a CSV record is one string holding all its fields back to back, the end
//!   of each field, and a shared ([`Arc`]) header that maps a column name to
//!   its position; a lookup is one hash probe and a slice;
//! - a JSON record is the object's text, validated when the line was read
//!   ([`super::members`]), and where each member's key and raw value lie in it. A
//!   lookup scans the (few) keys; a string value without escapes is a slice
//!   of the text, anything else is decoded when asked for. Building a
//!   `serde_json::Map` instead costs two allocations per member and was the
//!   bulk of the reading time.
//!
//! Values are text, whatever the source: mapping reads `email_verified` the
//! same way from a CSV cell `"true"` and a JSON `true`. An empty CSV cell is
//! `Some("")`, not `None`: the reader reports what the file holds, and mapping
//! decides that an empty value means "absent".

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::members::{index_object, key_tag, raw_str, same_text, Key, Member};

/// The column names of a CSV source and their positions, shared by its records.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Header {
    /// The names in file order, trimmed.
    names: Vec<String>,
    /// Name → position in `names`; the names are unique. Used for wide
    /// headers only: a lookup hashes the name, which costs more than
    /// scanning a few [`key_tag`]s (mapping looks up about 15 columns a row).
    index: HashMap<String, usize>,
    /// [`key_tag`] of each name, in file order.
    tags: Vec<u32>,
}

/// Up to this many columns, a lookup scans the tags instead of hashing.
const SCAN_COLUMNS: usize = 48;

impl Header {
    /// A header of unique `names` (the CSV reader checks uniqueness first).
    pub(super) fn new(names: Vec<String>) -> Header {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let tags = names.iter().map(|name| key_tag(name)).collect();
        Header { names, index, tags }
    }

    /// The position of `column`.
    fn position(&self, column: &str) -> Option<usize> {
        if self.names.len() > SCAN_COLUMNS {
            return self.index.get(column).copied();
        }
        let tag = key_tag(column);
        (0..self.names.len()).find(|&i| self.tags[i] == tag && self.names[i] == column)
    }

    /// The names in file order.
    pub(super) fn names(&self) -> &[String] {
        &self.names
    }
}

/// A CSV source's header, held: see [`Fields::shared_header`].
#[derive(Debug, Clone)]
pub struct SharedHeader(Arc<Header>);

impl SharedHeader {
    /// The column names, in file order.
    pub fn names(&self) -> &[String] {
        &self.0.names
    }
}

/// The fields of one record.
#[derive(Clone, PartialEq)]
pub struct Fields {
    /// The record in the shape its format gives it.
    repr: Repr,
}

/// A CSV record or a JSON object.
#[derive(Clone, PartialEq)]
enum Repr {
    Csv(CsvFields),
    Json(JsonFields),
}

/// A JSON object: its text and where each member lies in it.
#[derive(Clone, PartialEq)]
struct JsonFields {
    /// The object as written in the source line (a line is at most 64 KiB,
    /// so `u32` offsets into it are plenty).
    text: Box<str>,
    /// The members in source order; a repeated key keeps every occurrence and
    /// lookups take the last one, as `serde_json` does.
    members: Box<[Member]>,
    /// A bit per member's [`tag_bit`]: most lookups are of columns a record
    /// does not have (a preset's rules cover every layout of its vendor),
    /// and this tells them no without a scan.
    present: u64,
}

/// The bit of `present` that a key with this tag sets.
fn tag_bit(tag: u32) -> u64 {
    1 << (tag.wrapping_mul(0x9E37_79B1) >> 26)
}

impl JsonFields {
    fn key<'a>(&'a self, member: &'a Member) -> &'a str {
        match &member.key {
            Key::Span(start, end) => &self.text[*start as usize..*end as usize],
            Key::Decoded(key) => key,
        }
    }

    fn raw_value(&self, member: &Member) -> &str {
        let (start, end) = member.value;
        &self.text[start as usize..end as usize]
    }

    /// The raw value of the last member named `column`.
    fn find(&self, column: &str) -> Option<&str> {
        let tag = key_tag(column);
        if self.present & tag_bit(tag) == 0 {
            return None;
        }
        let member = self
            .members
            .iter()
            .rev()
            .find(|m| m.tag == tag && same_text(self.key(m), column))?;
        Some(self.raw_value(member))
    }

    /// The keys in source order, each once.
    fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::with_capacity(self.members.len());
        for member in self.members.iter() {
            let key = self.key(member);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }
}

/// A CSV record: one field per header column.
#[derive(Clone, PartialEq)]
struct CsvFields {
    /// The source's header, shared by all its records.
    header: Arc<Header>,
    /// All fields, concatenated.
    text: Box<str>,
    /// Where each field ends in `text`; as many as the header has columns.
    /// A row is at most 64 KiB, so `u32` is plenty.
    ends: Box<[u32]>,
}

impl CsvFields {
    /// Field `i`, which exists: the reader only builds records with one field per column.
    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

impl Fields {
    /// A CSV record: `text` holds the fields back to back, `ends` where each
    /// ends; there is one end per header column.
    pub(super) fn csv(header: Arc<Header>, text: &str, ends: &[usize]) -> Fields {
        debug_assert_eq!(ends.len(), header.names.len());
        Fields {
            repr: Repr::Csv(CsvFields {
                header,
                text: Box::from(text),
                ends: ends.iter().map(|&e| e as u32).collect(),
            }),
        }
    }

    /// A JSON record: `text` is one JSON object, `members` where its members
    /// lie in it (taken, leaving the vector empty for reuse).
    pub(super) fn json(text: &str, members: &mut Vec<Member>) -> Fields {
        Fields {
            repr: Repr::Json(JsonFields {
                text: Box::from(text),
                present: members.iter().fold(0, |bits, m| bits | tag_bit(m.tag)),
                members: members.drain(..).collect(),
            }),
        }
    }

    /// A record from a JSON object, read as a JSON Lines source would read it.
    pub fn from_json_object(object: Map<String, Value>) -> Fields {
        let text = Value::Object(object).to_string();
        let mut members = Vec::new();
        // Cannot fail: serde_json has just written this text as an object.
        if index_object(&text, &mut members).is_err() {
            members.clear();
        }
        Fields::json(&text, &mut members)
    }

    /// A record of text values, for tests and for callers that build rows by
    /// hand; a repeated column keeps its last value.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Fields
    where
        K: Into<String>,
        V: Into<String>,
    {
        let object = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), Value::String(v.into())))
            .collect();
        Fields::from_json_object(object)
    }

    /// The value of `column`; `None` when the column is absent (or JSON `null`).
    ///
    /// - CSV: the cell's text, `Some("")` for an empty cell (mapping treats
    ///   empty as absent).
    /// - JSON: strings decoded, booleans and numbers as written in the source
    ///   (`true`, `12.50`), arrays of scalars joined with `;` (nulls left
    ///   out), other arrays and objects as compact JSON text. A repeated key
    ///   gives its last value.
    pub fn get(&self, column: &str) -> Option<Cow<'_, str>> {
        match &self.repr {
            Repr::Csv(csv) => {
                let i = csv.header.position(column)?;
                Some(Cow::Borrowed(csv.field(i)))
            }
            Repr::Json(json) => raw_json_text(json.find(column)?),
        }
    }

    /// The value of `column` typed as the source has it: a CSV cell is a
    /// string, a JSON member its JSON value; `None` when absent or `null`.
    pub fn value(&self, column: &str) -> Option<Value> {
        match &self.repr {
            Repr::Csv(csv) => {
                let i = csv.header.position(column)?;
                Some(Value::String(csv.field(i).to_owned()))
            }
            Repr::Json(json) => {
                let raw = json.find(column)?;
                if let Some(Cow::Borrowed(text)) = raw_str(raw) {
                    return Some(Value::String(text.to_owned()));
                }
                match serde_json::from_str::<Value>(raw) {
                    Ok(Value::Null) => None,
                    Ok(value) => Some(value),
                    // Not reached for validated text (see `raw_json_text`).
                    Err(_) => Some(Value::String(raw.to_owned())),
                }
            }
        }
    }

    /// The raw JSON text of `column` in a JSON record (`"a\"b"`, `12`,
    /// `[1,2]`), for walking into it without decoding what is passed by;
    /// `None` for a CSV record or an absent column.
    pub fn raw(&self, column: &str) -> Option<&str> {
        match &self.repr {
            Repr::Csv(_) => None,
            Repr::Json(json) => json.find(column),
        }
    }

    /// What kind of value `column` holds, without decoding it.
    pub fn kind(&self, column: &str) -> ValueKind {
        match &self.repr {
            Repr::Csv(csv) => match csv.header.position(column) {
                Some(_) => ValueKind::Text,
                None => ValueKind::Absent,
            },
            Repr::Json(json) => match json.find(column).and_then(|raw| raw.bytes().next()) {
                None | Some(b'n') => ValueKind::Absent,
                Some(b'"') => ValueKind::Text,
                Some(b't' | b'f') => ValueKind::Bool,
                Some(b'[' | b'{') => ValueKind::Structured,
                Some(_) => ValueKind::Number,
            },
        }
    }

    /// The column names: the CSV header in file order, or the JSON object's
    /// keys in source order.
    pub fn columns(&self) -> Vec<&str> {
        match &self.repr {
            Repr::Csv(csv) => csv.header.names.iter().map(String::as_str).collect(),
            Repr::Json(json) => json.keys(),
        }
    }

    /// For a CSV record: its header, which the records of one source share,
    /// so that a caller can work out once per header what it does with each
    /// position. `None` for a JSON record.
    pub fn shared_header(&self) -> Option<SharedHeader> {
        match &self.repr {
            Repr::Csv(csv) => Some(SharedHeader(csv.header.clone())),
            Repr::Json(_) => None,
        }
    }

    /// Whether this is a CSV record (its columns are its header's).
    pub fn is_csv(&self) -> bool {
        matches!(self.repr, Repr::Csv(_))
    }

    /// Whether this is a CSV record of `header` (the same header, not an
    /// equal one).
    pub fn has_header(&self, header: &SharedHeader) -> bool {
        matches!(&self.repr, Repr::Csv(csv) if Arc::ptr_eq(&csv.header, &header.0))
    }

    /// Whether the CSV field at `position` holds something other than
    /// blanks; false for a JSON record or a position out of range.
    pub fn has_value_at(&self, position: usize) -> bool {
        match &self.repr {
            Repr::Csv(csv) => position < csv.ends.len() && !csv.field(position).trim().is_empty(),
            Repr::Json(_) => false,
        }
    }

    /// Calls `f` with the name of every column that holds a value: a CSV
    /// cell other than blanks, a JSON member other than `null`, `""`, `[]`
    /// and `{}` (each name once; a repeated key by its last value, the one
    /// lookups give).
    pub fn for_each_with_value(&self, mut f: impl FnMut(&str)) {
        match &self.repr {
            Repr::Csv(csv) => {
                for (i, name) in csv.header.names.iter().enumerate() {
                    if !csv.field(i).trim().is_empty() {
                        f(name);
                    }
                }
            }
            Repr::Json(json) => {
                // The bits of the keys that share theirs with an earlier
                // one: only a key in one of those can be repeated.
                let (mut seen, mut shared) = (0u64, 0u64);
                for member in json.members.iter() {
                    let bit = tag_bit(member.tag);
                    shared |= seen & bit;
                    seen |= bit;
                }
                for (i, member) in json.members.iter().enumerate() {
                    let key = json.key(member);
                    // A repeated key is one column, whose value is its last.
                    if shared & tag_bit(member.tag) != 0
                        && json.members[i + 1..]
                            .iter()
                            .any(|m| m.tag == member.tag && same_text(json.key(m), key))
                    {
                        continue;
                    }
                    // A member's raw value has no blanks around it.
                    if !matches!(json.raw_value(member), "null" | "\"\"" | "[]" | "{}") {
                        f(key);
                    }
                }
            }
        }
    }

    /// The record as a JSON object (column → value), for the rejects file:
    /// CSV cells as strings, a JSON object as it was read (keys sorted, a
    /// repeated key once with its last value).
    pub fn to_json(&self) -> Value {
        match &self.repr {
            Repr::Csv(csv) => {
                let object = csv
                    .header
                    .names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| (name.clone(), Value::String(csv.field(i).to_owned())))
                    .collect();
                Value::Object(object)
            }
            // Cannot fail: the text was validated as an object when read.
            Repr::Json(json) => serde_json::from_str(&json.text)
                .unwrap_or_else(|_| Value::String(json.text.to_string())),
        }
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for column in self.columns() {
            map.entry(&column, &self.get(column));
        }
        map.finish()
    }
}

/// The text of a raw JSON value, as [`Fields::get`] describes.
fn raw_json_text(raw: &str) -> Option<Cow<'_, str>> {
    match raw.as_bytes().first()? {
        // Kept as written if it cannot be decoded (not reached: a lone
        // surrogate escape, the one thing a skim passes, refuses the row).
        b'"' => raw_str(raw).or(Some(Cow::Borrowed(raw))),
        b'[' | b'{' => match serde_json::from_str::<Value>(raw) {
            Ok(value) => json_text(&value).map(|text| Cow::Owned(text.into_owned())),
            // Not reached for validated text; a lone surrogate escape is the
            // one thing serde_json skims over but refuses to decode.
            Err(_) => Some(Cow::Borrowed(raw)),
        },
        b'n' => None,
        _ => Some(Cow::Borrowed(raw)),
    }
}

/// What kind of value a record holds in a column ([`Fields::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Absent, or JSON `null`.
    Absent,
    /// A CSV cell or a JSON string.
    Text,
    Number,
    Bool,
    /// A JSON array or object.
    Structured,
}

impl ValueKind {
    /// The kind's name in reasons.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Absent => "null",
            ValueKind::Text => "string",
            ValueKind::Number => "number",
            ValueKind::Bool => "boolean",
            ValueKind::Structured => "object or array",
        }
    }
}

/// The text of a JSON value, as [`Fields::get`] describes.
pub fn json_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Array(items) if items.iter().all(is_scalar) => {
            let parts: Vec<Cow<'_, str>> = items.iter().filter_map(json_text).collect();
            Some(Cow::Owned(parts.join(";")))
        }
        Value::Array(_) | Value::Object(_) => Some(Cow::Owned(value.to_string())),
    }
}

/// Whether `value` is neither an array nor an object.
fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn csv_fields(names: &[&str], values: &[&str]) -> Fields {
        let header = Arc::new(Header::new(names.iter().map(|s| s.to_string()).collect()));
        let mut text = String::new();
        let mut ends = Vec::new();
        for v in values {
            text.push_str(v);
            ends.push(text.len());
        }
        Fields::csv(header, &text, &ends)
    }

    #[test]
    fn csv_fields_are_found_by_name() {
        let f = csv_fields(&["id", "email", "name"], &["u1", "", "Zoë"]);
        assert_eq!(f.get("id").as_deref(), Some("u1"));
        assert_eq!(f.get("email").as_deref(), Some(""));
        assert_eq!(f.get("name").as_deref(), Some("Zoë"));
        assert_eq!(f.get("phone"), None);
        assert_eq!(f.columns(), vec!["id", "email", "name"]);
        assert_eq!(f.to_json(), json!({"id": "u1", "email": "", "name": "Zoë"}));
    }

    #[test]
    fn json_lookups_find_every_member_and_only_those_whatever_their_presence_bits() {
        // 200 members set every bit of the presence mask; 3 leave most bits clear.
        for n in [3usize, 200] {
            let object = (0..n)
                .map(|i| (format!("col{i}"), json!(format!("v{i}"))))
                .chain([("a\"b".to_string(), json!("escaped"))])
                .collect();
            let f = Fields::from_json_object(object);
            for i in 0..n {
                assert_eq!(
                    f.get(&format!("col{i}")).as_deref(),
                    Some(&*format!("v{i}"))
                );
            }
            assert_eq!(f.get("a\"b").as_deref(), Some("escaped"));
            for absent in ["col", "google.com/rawId", "col2000", "", "a\\b"] {
                assert_eq!(f.get(absent), None, "{absent} in {n} members");
            }
        }
    }

    #[test]
    fn a_repeated_key_gives_its_last_value_however_far_down_the_record() {
        for (first, repeat, members) in [
            (0, 1, 3),
            (10, 290, 300),
            (255, 290, 300),
            (3, 255, 256),
            (2, 254, 256),
        ] {
            let mut text = String::from("{");
            for i in 0..members {
                let key = match i == first || i == repeat {
                    true => "k".to_string(),
                    false => format!("c{i}"),
                };
                text.push_str(&format!(
                    "{}\"{key}\":\"v{i}\"",
                    if i > 0 { "," } else { "" }
                ));
            }
            text.push('}');
            let mut index = Vec::new();
            index_object(&text, &mut index).unwrap();
            let f = Fields::json(&text, &mut index);
            assert_eq!(
                f.get("k").as_deref(),
                Some(&*format!("v{repeat}")),
                "{members}"
            );
            let other = (0..members).rev().find(|&i| i != first && i != repeat);
            let other = other.unwrap_or_default();
            assert_eq!(
                f.get(&format!("c{other}")).as_deref(),
                Some(&*format!("v{other}"))
            );
        }
    }

    #[test]
    fn columns_with_a_value_name_a_repeated_key_once_by_its_last_value() {
        let cases: [(&str, &[&str]); 6] = [
            (r#"{"a":null,"a":1,"b":2,"b":null,"c":""}"#, &["a"]),
            (r#"{"axb":1,"ayb":2,"axb":null}"#, &["ayb"]),
            (r#"{"axb":null,"ayb":2,"axb":3}"#, &["ayb", "axb"]),
            (r#"{"axb":1,"ayb":[],"azb":{},"axb":[1]}"#, &["axb"]),
            (r#"{"k":1,"k":2,"k":3}"#, &["k"]),
            (r#"{"x":" ","y":0,"z":false}"#, &["x", "y", "z"]),
        ];
        for (text, expected) in cases {
            let mut members = Vec::new();
            index_object(text, &mut members).unwrap();
            let f = Fields::json(text, &mut members);
            let mut names = Vec::new();
            f.for_each_with_value(|name| names.push(name.to_string()));
            assert_eq!(names, expected, "{text}");
            for name in expected {
                assert!(f.get(name).is_some(), "{text}: {name}");
            }
        }
    }

    #[test]
    fn json_values_become_text() {
        let object = json!({
            "id": "u1",
            "phone": null,
            "email_verified": true,
            "n": 12.5,
            "groups": ["a", "b", null, 3],
            "nested": [["x"]],
            "obj": {"k": 1},
            "empty": [],
        });
        let Value::Object(object) = object else {
            unreachable!()
        };
        let f = Fields::from_json_object(object.clone());
        assert_eq!(f.get("id").as_deref(), Some("u1"));
        assert_eq!(f.get("phone"), None);
        assert_eq!(f.get("missing"), None);
        assert_eq!(f.get("email_verified").as_deref(), Some("true"));
        assert_eq!(f.get("n").as_deref(), Some("12.5"));
        assert_eq!(f.get("groups").as_deref(), Some("a;b;3"));
        assert_eq!(f.get("nested").as_deref(), Some(r#"[["x"]]"#));
        assert_eq!(f.get("obj").as_deref(), Some(r#"{"k":1}"#));
        assert_eq!(f.get("empty").as_deref(), Some(""));
        assert_eq!(f.to_json(), Value::Object(object));
    }

    #[test]
    fn from_pairs_builds_text_fields() {
        let f = Fields::from_pairs([("id", "u1"), ("email", "a@b.co"), ("id", "u2")]);
        assert_eq!(f.get("id").as_deref(), Some("u2"));
        assert_eq!(f.columns(), vec!["email", "id"]);
    }
}
