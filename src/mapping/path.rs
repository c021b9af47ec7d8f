//! Source paths: where in a source record a mapping reads a value.
//!
//! ```text
//! email                      a column, or a JSON member
//! user_metadata.locale       a member of an object
//! identities[*].user_id      every element of an array
//! attributes.phone[0]        one element
//! credentials[type=password].secretData
//!                            the elements whose member `type` is `password`
//! "custom:tier"              a name with characters a path would split on
//! ```
//!
//! A path is looked up first as one column name, whole: a CSV header
//! `user_metadata.locale` (Auth0's CSV export writes nested fields so) is
//! that column. Only when the record has no such column is the path walked:
//! its first name is a column (a JSON member, or a CSV cell whose text is
//! then read as JSON), each further step goes into the value found.
//!
//! A path that finds nothing gives no value: mapping treats it as absent,
//! like an empty cell.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;
use smallvec::{smallvec, SmallVec};

use super::Lookup;

/// The values a path finds: most paths find one or none, kept inline.
pub type Founds<'a> = SmallVec<[Found<'a>; 2]>;

/// A parsed source path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourcePath {
    /// The path as written, which is also the column it is first looked up as.
    text: String,
    /// The column the walk starts at.
    top: String,
    /// The steps into its value; empty for a plain column.
    steps: Vec<Step>,
    /// Whether the path is its column's name as it is (no steps, no
    /// quotes): then looking it up whole is all there is to do.
    whole: bool,
}

/// One step into a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Step {
    /// A member of an object.
    Member(String),
    /// An element of an array.
    Index(usize),
    /// Every element of an array.
    Each,
    /// The elements of an array that are objects whose member has this text.
    Where(String, String),
}

impl SourcePath {
    /// Parses a path; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<SourcePath, String> {
        let mut names: Vec<Step> = Vec::new();
        let mut rest = text;
        let mut first = true;
        while !rest.is_empty() || first {
            if !first {
                rest = rest
                    .strip_prefix('.')
                    .ok_or_else(|| format!("path '{text}': expected '.' before '{rest}'"))?;
            }
            first = false;
            let (name, after) = name(rest).map_err(|why| format!("path '{text}': {why}"))?;
            names.push(Step::Member(name));
            rest = after;
            while let Some(inner) = rest.strip_prefix('[') {
                let end = inner
                    .find(']')
                    .ok_or_else(|| format!("path '{text}': '[' without ']'"))?;
                names.push(selector(&inner[..end]).map_err(|why| format!("path '{text}': {why}"))?);
                rest = &inner[end + 1..];
            }
        }
        let mut steps = names.into_iter();
        let Some(Step::Member(top)) = steps.next() else {
            return Err(format!("path '{text}' is empty"));
        };
        let steps: Vec<Step> = steps.collect();
        Ok(SourcePath {
            whole: steps.is_empty() && top == text,
            text: text.to_string(),
            top,
            steps,
        })
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The column (top-level member) the path reads.
    pub fn column(&self) -> &str {
        &self.top
    }

    /// Whether the path is one column, read as it is.
    pub fn is_column(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether the path can find several values (`[*]`, `[k=v]`).
    pub fn is_many(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Each | Step::Where(..)))
    }

    /// Every value the path finds in `fields`, typed as the source has them
    /// (a CSV cell is a string), nulls left out.
    pub fn values<L: Lookup + ?Sized>(&self, fields: &L) -> SmallVec<[Value; 1]> {
        let found = self.found(fields);
        match found.is_empty() {
            true => SmallVec::new(),
            false => found.into_iter().filter_map(Found::into_value).collect(),
        }
    }

    /// Every value the path finds in `fields`, nulls and blanks left out, as
    /// found: in a JSON record, the raw text of each, the members and
    /// elements on the way skimmed over, not decoded.
    pub fn found<'a, L: Lookup + ?Sized>(&self, fields: &'a L) -> Founds<'a> {
        if let Some(found) = fields.found(&self.text) {
            return found.non_null();
        }
        if self.whole {
            return Founds::new();
        }
        let Some(mut start) = fields.found(&self.top) else {
            return Founds::new();
        };
        // A CSV cell (or a JSON string) walked into holds JSON text.
        if !self.steps.is_empty() {
            if let Some(text) = start.string() {
                match serde_json::from_str::<Value>(&text) {
                    Ok(parsed) => start = Found::Value(parsed),
                    Err(_) => return Founds::new(),
                }
            }
        }
        self.walk(start)
    }

    /// The values the path finds inside an already-found value (an element
    /// of `identities[*]`, say), the first name being a member of it.
    pub fn found_in<'a>(&self, value: &Found<'a>) -> Founds<'a> {
        if let Some(found) = value.member(&self.text) {
            return found.non_null();
        }
        match value.member(&self.top) {
            Some(start) => self.walk(start),
            None => Founds::new(),
        }
    }

    /// The values the steps find from `start`, nulls and blanks left out.
    fn walk<'a>(&self, start: Found<'a>) -> Founds<'a> {
        let mut found: Founds<'a> = smallvec![start];
        for step in &self.steps {
            found = match found.len() {
                1 => found.pop().map(|v| step.apply(v)).unwrap_or_default(),
                _ => found.into_iter().flat_map(|v| step.apply(v)).collect(),
            };
            if found.is_empty() {
                break;
            }
        }
        found.retain(|f| !f.is_blank());
        found
    }
}

/// A value a path found: the raw JSON text of a JSON record, decoded only
/// when it is used (most values a rule passes by, it only compares or
/// skips), or a value already decoded (a CSV cell, a transform's output).
#[derive(Debug, Clone)]
pub enum Found<'a> {
    /// A JSON value as the record's text has it, validated when read.
    Raw(&'a str),
    /// A decoded value.
    Value(Value),
    /// A decoded value held elsewhere.
    Borrowed(&'a Value),
}

impl<'a> Found<'a> {
    /// The value decoded; `None` for null.
    pub fn into_value(self) -> Option<Value> {
        let value = match self {
            Found::Value(value) => value,
            Found::Borrowed(value) => value.clone(),
            Found::Raw("true") => Value::Bool(true),
            Found::Raw("false") => Value::Bool(false),
            Found::Raw(raw) => match crate::source::raw_str(raw) {
                Some(text) => Value::String(text.into_owned()),
                // Not an error for validated text; kept as text if it were.
                None => serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.into())),
            },
        };
        (!value.is_null()).then_some(value)
    }

    /// The text of a scalar, as [`super::transform::scalar_text`] gives it:
    /// `None` for null, arrays and objects.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        let raw = match self {
            Found::Raw(raw) => raw,
            decoded => return decoded.decoded().and_then(super::transform::scalar_text),
        };
        match raw.as_bytes().first()? {
            b'"' => crate::source::raw_str(raw),
            b't' => Some(Cow::Borrowed("true")),
            b'f' => Some(Cow::Borrowed("false")),
            b'n' | b'[' | b'{' => None,
            // A number as serde_json writes it (`1e2` is `100.0`).
            _ => serde_json::from_str::<serde_json::Number>(raw)
                .ok()
                .map(|n| Cow::Owned(n.to_string())),
        }
    }

    /// The value, when decoded.
    fn decoded(&self) -> Option<&Value> {
        match self {
            Found::Raw(_) => None,
            Found::Value(value) => Some(value),
            Found::Borrowed(value) => Some(value),
        }
    }

    /// Whether it is raw text starting with one of `starts`.
    fn raw_starts_with<const N: usize>(&self, starts: [char; N]) -> bool {
        matches!(self, Found::Raw(raw) if raw.starts_with(starts))
    }

    /// Whether it is an array or an object.
    pub fn is_structured(&self) -> bool {
        match self.decoded() {
            None => self.raw_starts_with(['[', '{']),
            Some(value) => matches!(value, Value::Array(_) | Value::Object(_)),
        }
    }

    /// The text of a string (a CSV cell, a JSON string); `None` for anything else.
    pub(super) fn string(&self) -> Option<Cow<'_, str>> {
        match self {
            Found::Raw(raw) => crate::source::raw_str(raw),
            Found::Value(Value::String(s)) | Found::Borrowed(Value::String(s)) => {
                Some(Cow::Borrowed(s))
            }
            Found::Value(_) | Found::Borrowed(_) => None,
        }
    }

    /// A value that carries nothing: null or blank text (an empty CSV cell
    /// is an absent value).
    fn is_blank(&self) -> bool {
        if let Found::Raw(raw) = self {
            // A string that starts with a visible ASCII character is not
            // blank, whatever follows: most are told by one byte.
            match raw.as_bytes() {
                [b'"', first @ b'!'..=b'~', ..] if !matches!(first, b'"' | b'\\') => return false,
                [b'"', ..] => {}
                raw => return raw == b"null",
            }
        }
        let null = match self.decoded() {
            None => matches!(self, Found::Raw("null")),
            Some(value) => value.is_null(),
        };
        null || self.string().is_some_and(|s| s.trim().is_empty())
    }

    /// Itself as a list of found values, none when it [`Found::is_blank`].
    fn non_null(self) -> Founds<'a> {
        if self.is_blank() {
            Founds::new()
        } else {
            smallvec![self]
        }
    }

    /// The member `name` of an object.
    fn member(&self, name: &str) -> Option<Found<'a>> {
        match self {
            Found::Raw(raw) => crate::source::raw_member(raw, name).map(Found::Raw),
            Found::Value(value) => value.get(name).cloned().map(Found::Value),
            Found::Borrowed(value) => value.get(name).map(Found::Borrowed),
        }
    }

    /// Whether it is an array.
    pub fn is_list(&self) -> bool {
        match self.decoded() {
            None => self.raw_starts_with(['[']),
            Some(value) => value.is_array(),
        }
    }

    /// The elements of an array; none for anything else.
    pub fn elements(self) -> Founds<'a> {
        match self {
            Found::Raw(raw) => crate::source::raw_elements(raw)
                .into_iter()
                .flatten()
                .map(Found::Raw)
                .collect(),
            Found::Value(Value::Array(items)) => items.into_iter().map(Found::Value).collect(),
            Found::Borrowed(Value::Array(items)) => items.iter().map(Found::Borrowed).collect(),
            Found::Value(_) | Found::Borrowed(_) => Founds::new(),
        }
    }
}

impl SourcePath {
    /// Puts `value` where the path points in `root`, making the objects and
    /// arrays on the way (an array grows with nulls to reach an index): the
    /// inverse of a walk, for columns that flatten nested fields
    /// (`identities[0].provider`). `false` when the path has `[*]` or a
    /// filter, or meets a value of another shape on the way.
    pub fn insert(&self, root: &mut serde_json::Map<String, Value>, value: Value) -> bool {
        let top = root.entry(self.top.clone()).or_insert(Value::Null);
        insert_at(top, &self.steps, value)
    }
}

fn insert_at(slot: &mut Value, steps: &[Step], value: Value) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        *slot = value;
        return true;
    };
    match step {
        Step::Member(name) => {
            if slot.is_null() {
                *slot = Value::Object(serde_json::Map::new());
            }
            match slot {
                Value::Object(members) => insert_at(
                    members.entry(name.clone()).or_insert(Value::Null),
                    rest,
                    value,
                ),
                _ => false,
            }
        }
        Step::Index(i) => {
            if slot.is_null() {
                *slot = Value::Array(Vec::new());
            }
            match slot {
                Value::Array(items) if *i < 10_000 => {
                    if items.len() <= *i {
                        items.resize(*i + 1, Value::Null);
                    }
                    insert_at(&mut items[*i], rest, value)
                }
                _ => false,
            }
        }
        Step::Each | Step::Where(..) => false,
    }
}

impl fmt::Display for SourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Step {
    /// The values this step finds in `value`.
    fn apply<'a>(&self, value: Found<'a>) -> Founds<'a> {
        match self {
            Step::Member(name) => match value {
                // Taken out, not copied.
                Found::Value(Value::Object(mut object)) => {
                    object.remove(name).map(Found::Value).into_iter().collect()
                }
                other => other.member(name).into_iter().collect(),
            },
            Step::Index(i) => value.elements().into_iter().nth(*i).into_iter().collect(),
            Step::Each => value.elements(),
            Step::Where(member, text) => value
                .elements()
                .into_iter()
                .filter(|item| {
                    item.member(member)
                        .is_some_and(|v| v.text().is_some_and(|t| t == *text))
                })
                .collect(),
        }
    }
}

/// The name at the start of `rest` (quoted or bare) and what follows it.
fn name(rest: &str) -> Result<(String, &str), String> {
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted
            .find('"')
            .ok_or_else(|| "a quoted name has no closing '\"'".to_string())?;
        return Ok((quoted[..end].to_string(), &quoted[end + 1..]));
    }
    let end = rest.find(['.', '[', ']']).unwrap_or(rest.len());
    if end == 0 {
        return Err(format!("expected a name at '{rest}'"));
    }
    Ok((rest[..end].to_string(), &rest[end..]))
}

/// The step a `[...]` selector says.
fn selector(inner: &str) -> Result<Step, String> {
    if inner == "*" {
        return Ok(Step::Each);
    }
    if let Ok(i) = inner.parse::<usize>() {
        return Ok(Step::Index(i));
    }
    match inner.split_once('=') {
        Some((member, text)) if !member.is_empty() => {
            Ok(Step::Where(member.to_string(), text.to_string()))
        }
        _ => Err(format!("'[{inner}]' is not [*], [N] or [member=value]")),
    }
}

/// A value template: `{provider}|{user_id}` puts the text of the paths in
/// braces (read inside one value) between the literal text around them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Template {
    /// Literal text and paths, in order.
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Part {
    Text(String),
    Path(SourcePath),
    /// `{}`: the value itself (a scalar).
    Whole,
}

impl Template {
    /// Parses a template; `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let end = text[i..]
                        .find('}')
                        .map(|e| i + e)
                        .ok_or_else(|| format!("template '{text}': '{{' without '}}'"))?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    let inner = &text[i + 1..end];
                    parts.push(match inner {
                        "" => Part::Whole,
                        path => Part::Path(SourcePath::parse(path)?),
                    });
                    while chars.peek().is_some_and(|p| p.0 <= end) {
                        chars.next();
                    }
                }
                '}' => return Err(format!("template '{text}': '}}' without '{{'")),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The template filled from `value` (its paths read inside it, `{}`
    /// is the value itself): `None` when a part finds no text.
    pub fn fill(&self, value: &Found<'_>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            let found = match part {
                Part::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Part::Whole => value.clone(),
                Part::Path(path) => path.found_in(value).into_iter().next()?,
            };
            let text = found.text()?;
            if text.trim().is_empty() {
                return None;
            }
            out.push_str(&text);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Fields;
    use serde_json::json;

    fn record(value: Value) -> Fields {
        let Value::Object(object) = value else {
            unreachable!("tests pass objects")
        };
        Fields::from_json_object(object)
    }

    fn values(path: &str, fields: &Fields) -> Vec<Value> {
        SourcePath::parse(path).unwrap().values(fields).into_vec()
    }

    #[test]
    fn raw_text_decodes_as_serde_json_decodes_it() {
        for raw in [
            "true",
            "false",
            "null",
            "0",
            "-1.5e3",
            r#""a\"b""#,
            r#""é""#,
            "[true]",
            r#"{"a":false}"#,
        ] {
            let decoded: Value = serde_json::from_str(raw).unwrap();
            assert_eq!(
                Found::Raw(raw).into_value(),
                (!decoded.is_null()).then_some(decoded),
                "{raw}"
            );
        }
    }

    #[test]
    fn raw_text_is_blank_exactly_when_its_decoded_value_is() {
        let raws = [
            r#""""#,
            r#"" ""#,
            r#""\t""#,
            r#""\u0020\n""#,
            "\"\u{a0}\"",
            r#"" a""#,
            r#""a""#,
            r#""!""#,
            r#""~ ""#,
            r#""\"""#,
            r#""\u00e9""#,
            r#""é""#,
            "null",
            "0",
            "false",
            "[]",
            "{}",
            r#"[" "]"#,
        ];
        for raw in raws {
            let decoded: Value = serde_json::from_str(raw).unwrap();
            assert_eq!(
                Found::Raw(raw).is_blank(),
                Found::Value(decoded.clone()).is_blank(),
                "{raw}"
            );
            assert_eq!(
                Found::Raw(raw).is_blank(),
                decoded.is_null() || decoded.as_str().is_some_and(|s| s.trim().is_empty()),
                "{raw}"
            );
        }
    }

    #[test]
    fn paths_walk_members_elements_and_filters() {
        let r = record(json!({
            "email": "a@b.co",
            "user_metadata": {"locale": "fr", "n": 3, "deep": {"x": [1, 2]}},
            "identities": [
                {"provider": "auth0", "user_id": "1"},
                {"provider": "google-oauth2", "user_id": "g9"}
            ],
            "custom:tier": "gold",
            "Attributes": [{"Name": "email", "Value": "c@d.co"}, {"Name": "custom:x", "Value": "1"}],
            "nothing": null
        }));
        assert_eq!(values("email", &r), [json!("a@b.co")]);
        assert_eq!(values("user_metadata.locale", &r), [json!("fr")]);
        assert_eq!(values("user_metadata.n", &r), [json!(3)]);
        assert_eq!(values("user_metadata.deep.x[1]", &r), [json!(2)]);
        assert_eq!(
            values("identities[*].user_id", &r),
            [json!("1"), json!("g9")]
        );
        assert_eq!(
            values("identities[provider=google-oauth2].user_id", &r),
            [json!("g9")]
        );
        assert_eq!(
            values("Attributes[Name=email].Value", &r),
            [json!("c@d.co")]
        );
        assert_eq!(values("\"custom:tier\"", &r), [json!("gold")]);
        assert_eq!(values("custom:tier", &r), [json!("gold")]);
        assert!(values("nothing", &r).is_empty());
        assert!(values("user_metadata.missing", &r).is_empty());
        assert!(
            values("email.inner", &r).is_empty(),
            "a string that is not JSON"
        );
    }

    #[test]
    fn a_dotted_column_is_looked_up_whole_first() {
        let r = Fields::from_pairs([("user_metadata.locale", "de"), ("blob", r#"{"a": [5]}"#)]);
        assert_eq!(values("user_metadata.locale", &r), [json!("de")]);
        assert_eq!(
            values("blob.a[0]", &r),
            [json!(5)],
            "a cell holding JSON is walked into"
        );
    }

    #[test]
    fn bad_paths_are_errors() {
        for bad in ["", "a..b", "a[", "a[x]", "a.", "\"open", ".a"] {
            assert!(SourcePath::parse(bad).is_err(), "{bad:?}");
        }
        let p = SourcePath::parse("a.\"b.c\"[*]").unwrap();
        assert_eq!(p.column(), "a");
        assert!(p.is_many());
    }

    #[test]
    fn templates_fill_from_a_value() {
        let t = Template::parse("{provider}|{user_id}").unwrap();
        assert_eq!(
            t.fill(&Found::Value(json!({"provider": "github", "user_id": 42})))
                .as_deref(),
            Some("github|42")
        );
        assert_eq!(t.fill(&Found::Value(json!({"provider": "github"}))), None);
        let t = Template::parse("auth0|{_id.$oid}").unwrap();
        assert_eq!(
            t.fill(&Found::Value(json!({"_id": {"$oid": "abc"}})))
                .as_deref(),
            Some("auth0|abc")
        );
        assert!(Template::parse("{open").is_err());
        let t = Template::parse("google.com|{}").unwrap();
        assert_eq!(
            t.fill(&Found::Value(json!("123"))).as_deref(),
            Some("google.com|123")
        );
        assert_eq!(t.fill(&Found::Value(json!(""))), None);
        assert_eq!(
            Template::parse("{{x}}")
                .unwrap()
                .fill(&Found::Value(json!({})))
                .as_deref(),
            Some("{x}")
        );
    }
}
