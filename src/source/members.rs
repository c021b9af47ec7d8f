//! The member index of a JSON object: where each key and raw value lies in
//! its text, found by one validating pass of `serde_json` that decodes
//! nothing. [`super::fields`] looks values up through it, and the JSON Lines
//! reader builds it for every line.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Where one member of a JSON object lies in its text.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Member {
    /// The key.
    pub(super) key: Key,
    /// [`key_tag`] of the key: lookups compare it before the key itself.
    pub(super) tag: u32,
    /// Start and end of the raw value (`"a\"b"`, `12`, `[1,2]`, ...).
    pub(super) value: (u32, u32),
}

/// A member's key.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Key {
    /// Start and end of the key's text (without quotes), which has no escapes.
    Span(u32, u32),
    /// A key written with escapes, decoded.
    Decoded(Box<str>),
}

/// A cheap fingerprint of a key (its length and first and last bytes) that
/// tells most column names apart without comparing them.
pub(super) fn key_tag(key: &str) -> u32 {
    let bytes = key.as_bytes();
    let first = bytes.first().copied().unwrap_or(0) as u32;
    let last = bytes.last().copied().unwrap_or(0) as u32;
    ((bytes.len() as u32) << 16) ^ (first << 8) ^ last
}

/// Checks that `text` is one JSON object and records where each member's key
/// and value lie in it (into `members`, cleared first).
pub(super) fn index_object(text: &str, members: &mut Vec<Member>) -> serde_json::Result<()> {
    members.clear();
    let mut de = serde_json::Deserializer::from_str(text);
    MembersSeed {
        base: text,
        members,
    }
    .deserialize(&mut de)?;
    de.end()?;
    if has_surrogate_escape(text) {
        // Skimming checks `\uXXXX` for hex digits but not surrogate pairing:
        // decode everything once so a lone surrogate is an invalid row here,
        // not a surprise when a value is read.
        serde_json::from_str::<Value>(text)?;
    }
    Ok(())
}

/// Whether `text` may hold a `\uD800`-`\uDFFF` escape (a UTF-16 surrogate).
fn has_surrogate_escape(text: &str) -> bool {
    memchr::memmem::find_iter(text.as_bytes(), b"\\u").any(|at| {
        let hex = text.as_bytes().get(at + 2..at + 4);
        matches!(
            hex,
            Some([b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F'])
        )
    })
}

/// Fills `members` with the members of the JSON object being deserialised
/// from `base`, validating it but decoding nothing.
struct MembersSeed<'b> {
    /// The whole text, to turn borrowed slices into offsets.
    base: &'b str,
    /// Where the members go.
    members: &'b mut Vec<Member>,
}

impl<'de> DeserializeSeed<'de> for MembersSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MembersSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyText<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            let (key, tag) = match key {
                KeyText::Borrowed(k) => (
                    span_of(self.base, k)
                        .map_or_else(|| Key::Decoded(k.into()), |(s, e)| Key::Span(s, e)),
                    key_tag(k),
                ),
                KeyText::Decoded(k) => (Key::Decoded(k.as_str().into()), key_tag(&k)),
            };
            let value = span_of(self.base, value.get())
                .ok_or_else(|| de::Error::custom("a value outside its line"))?;
            self.members.push(Member { key, tag, value });
        }
        Ok(())
    }
}

/// A key as the deserialiser gives it: a slice of the text when it has no
/// escapes, else decoded.
enum KeyText<'a> {
    Borrowed(&'a str),
    Decoded(String),
}

impl<'de> Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyText::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyText::Decoded(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(KeyText::Decoded(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Start and end of `part` within `base`, if `part` is a slice of it.
fn span_of(base: &str, part: &str) -> Option<(u32, u32)> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    if end > base.len() {
        return None;
    }
    Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
}

/// The raw value of the last member named `name` of the JSON object `text`
/// (as [`super::Fields`] finds a column); `None` when `text` is not an object
/// or has no such member.
///
/// `text` is a value of a record validated when it was read, so that this
/// only skims its structure (see [`value_end`]): on text that is not JSON
/// it finds something or nothing, and never fails.
pub fn raw_member<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let mut found = None;
    let mut at = skip_blanks(bytes, 1);
    while bytes.get(at) == Some(&b'"') {
        let key_end = string_end(bytes, at);
        let key = text.get(at..key_end)?;
        let start = skip_blanks(bytes, skip_blanks(bytes, key_end) + 1);
        let end = value_end(bytes, start);
        if raw_str(key).is_some_and(|k| k == name) {
            found = text.get(start..end);
        }
        at = skip_blanks(bytes, end);
        if bytes.get(at) != Some(&b',') {
            break;
        }
        at = skip_blanks(bytes, at + 1);
    }
    found
}

/// The raw elements of the JSON array `text`; `None` when it is not an
/// array. A skim of validated text, as [`raw_member`].
pub fn raw_elements(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'[') {
        return None;
    }
    let mut elements = Vec::new();
    let mut at = skip_blanks(bytes, 1);
    while !matches!(bytes.get(at), None | Some(b']')) {
        let end = value_end(bytes, at);
        elements.push(text.get(at..end)?);
        at = skip_blanks(bytes, end);
        if bytes.get(at) != Some(&b',') {
            break;
        }
        at = skip_blanks(bytes, at + 1);
    }
    Some(elements)
}

/// Where the JSON value starting at `at` ends, in text known to be valid
/// JSON: strings are passed over to their closing quote, arrays and objects
/// to the bracket that closes them, anything else to the next delimiter.
fn value_end(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at) {
        Some(b'"') => string_end(bytes, at),
        Some(b'[' | b'{') => {
            let (mut depth, mut i) = (0usize, at);
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = string_end(bytes, i);
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            bytes.len()
        }
        _ => bytes
            .iter()
            .skip(at)
            .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
            .map_or(bytes.len(), |n| at + n),
    }
}

/// Just after the closing quote of the string whose opening quote is at `at`.
fn string_end(bytes: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The first position from `at` that is not JSON whitespace.
fn skip_blanks(bytes: &[u8], at: usize) -> usize {
    let blanks = bytes.iter().skip(at);
    at + blanks
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .count()
}

/// The text of the raw JSON string `raw`: a slice of it when it has no
/// escapes, else decoded; `None` when `raw` is not a string.
pub fn raw_str(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.starts_with('"') {
        return None;
    }
    if !raw.contains('\\') {
        return raw.get(1..raw.len() - 1).map(Cow::Borrowed);
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_elements_are_skimmed_as_serde_json_reads_them() {
        let text = r#"{ "a" : [1, {"b": "x\"]}"}, null] , "k\u0065y": {"n": -1.5e3}, "s": "v", "a": "last" }"#;
        let object: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
        for (name, value) in &object {
            let raw = raw_member(text, name).unwrap();
            assert_eq!(
                &serde_json::from_str::<Value>(raw).unwrap(),
                value,
                "{name}"
            );
        }
        assert_eq!(raw_member(text, "missing"), None);
        assert_eq!(raw_member("[1]", "a"), None);
        assert_eq!(raw_member("{}", "a"), None);
        let array = r#"[ 1 ,"a,]" , [ [] , {} ], {"x": [1]}, true ]"#;
        let elements: Vec<Value> = serde_json::from_str(array).unwrap();
        let raw = raw_elements(array).unwrap();
        let decoded: Vec<Value> = raw
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect();
        assert_eq!(decoded, elements);
        assert_eq!(raw_elements("[ ]"), Some(vec![]));
        assert_eq!(raw_elements("{}"), None);
    }

    #[test]
    fn skimming_text_that_is_not_json_finds_something_or_nothing() {
        for text in [
            "{", "{\"a", "{\"a\":", "[", "[1,", "[\"\\", "{\"a\":[", "{,}",
        ] {
            let _ = raw_member(text, "a");
            let _ = raw_elements(text);
        }
    }
}
