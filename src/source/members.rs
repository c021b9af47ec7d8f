//! The member index of a JSON object: where each key and raw value lies in
//! its text, found by one validating pass that decodes nothing.
//! [`super::fields`] looks values up through it, and the JSON Lines and
//! document readers build it for every record.
//!
//! The pass is a scan of ferry's own ([`scan_object`]) for the records
//! exports are made of, and `serde_json` for anything the scan does not
//! vouch for: an invalid record (whose error `serde_json` words), a key
//! written with escapes, deep nesting. The scan took the place of
//! `serde_json` for speed (a JSON Lines export mapped at 0.64 of the speed
//! of the same users in a CSV; BENCHMARKS.md, "Presets against the CSV
//! path"), and a test holds it to accepting nothing `serde_json` refuses.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::words::{below, equal, ONES};

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

/// Whether `a` and `b` are the same text: for the short names that keys
/// and columns are, compared a word at a time in place, not by a call to
/// `memcmp` (most lookups compare one key, which already has the right tag).
pub fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    match n {
        0..=7 => a.iter().zip(b).all(|(x, y)| x == y),
        // Two words that overlap in the middle cover every byte.
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
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
    if scan_object(text, members).is_some() {
        return Ok(());
    }
    members.clear();
    serde_index(text, members)?;
    if has_surrogate_escape(text) {
        // Skimming checks `\uXXXX` for hex digits but not surrogate pairing:
        // decode everything once so a lone surrogate is an invalid row here,
        // not a surprise when a value is read.
        serde_json::from_str::<Value>(text)?;
    }
    Ok(())
}

/// [`index_object`] by `serde_json`, for what [`scan_object`] leaves to it.
fn serde_index(text: &str, members: &mut Vec<Member>) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_str(text);
    MembersSeed {
        base: text,
        members,
    }
    .deserialize(&mut de)?;
    de.end()
}

/// How deep [`scan_object`] follows nested arrays and objects; deeper
/// records are left to `serde_json`.
const SCAN_DEPTH: usize = 64;

/// The fast path of [`index_object`]: one validating pass over `text` that
/// records its members where `serde_json` would find them. `None` when
/// `text` is not valid JSON, or is beyond what the scan takes on (a key
/// written with escapes, nesting past [`SCAN_DEPTH`]): `serde_json` then
/// decides, and words the error. The scan never accepts what `serde_json`
/// refuses (a test checks it on mutated records). A surrogate escape
/// (`\uD800` to `\uDFFF`, half of a pair) is left to `serde_json` too,
/// which checks the pairing.
fn scan_object(text: &str, members: &mut Vec<Member>) -> Option<()> {
    let bytes = text.as_bytes();
    // A key with escapes is left to serde_json, which decodes it.
    let end = scan_members(bytes, skip_blanks(bytes, 0), 0, false, |key, value| {
        members.push(Member {
            key: Key::Span(u32::try_from(key.0).ok()?, u32::try_from(key.1).ok()?),
            tag: key_tag(text.get(key.0..key.1)?),
            value: (u32::try_from(value.0).ok()?, u32::try_from(value.1).ok()?),
        });
        Some(())
    })?;
    (skip_blanks(bytes, end) == bytes.len()).then_some(())
}

/// Just after the valid JSON object starting at `at`, whose values are at
/// `depth + 1`; `None` when there is none. `member` is given each member's
/// key (inside its quotes) and value as start and end, and refuses the
/// object with `None`; keys with escapes are refused unless `escaped_keys`.
fn scan_members(
    bytes: &[u8],
    at: usize,
    depth: usize,
    escaped_keys: bool,
    mut member: impl FnMut((usize, usize), (usize, usize)) -> Option<()>,
) -> Option<usize> {
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    let mut at = skip_blanks(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(at + 1);
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = scan_string(bytes, at, escaped_keys)?;
        let key = (at + 1, key_end - 1);
        at = skip_blanks(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_blanks(bytes, at + 1);
        let end = scan_value(bytes, start, depth + 1)?;
        member(key, (start, end))?;
        at = skip_blanks(bytes, end);
        match bytes.get(at)? {
            b',' => at = skip_blanks(bytes, at + 1),
            b'}' => return Some(at + 1),
            _ => return None,
        }
    }
}

/// Just after the valid JSON value starting at `at`; `None` when there is none.
fn scan_value(bytes: &[u8], at: usize, depth: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => scan_string(bytes, at, true),
        b'{' | b'[' if depth >= SCAN_DEPTH => None,
        b'{' => scan_members(bytes, at, depth, true, |_, _| Some(())),
        b'[' => {
            let mut at = skip_blanks(bytes, at + 1);
            if bytes.get(at) == Some(&b']') {
                return Some(at + 1);
            }
            loop {
                at = skip_blanks(bytes, scan_value(bytes, at, depth + 1)?);
                match bytes.get(at)? {
                    b',' => at = skip_blanks(bytes, at + 1),
                    b']' => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        b't' => scan_literal(bytes, at, b"true"),
        b'f' => scan_literal(bytes, at, b"false"),
        b'n' => scan_literal(bytes, at, b"null"),
        b'-' | b'0'..=b'9' => scan_number(bytes, at),
        _ => None,
    }
}

/// Just after the JSON string whose opening quote is at `at`: escapes
/// checked (refused unless `escapes`), control characters refused.
fn scan_string(bytes: &[u8], at: usize, escapes: bool) -> Option<usize> {
    let mut i = at + 1;
    loop {
        // Plain text is passed over in one run, up to the next byte that
        // needs a look.
        i += string_stop(bytes.get(i..)?)?;
        match *bytes.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' if !escapes => return None,
            b'\\' => match *bytes.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = bytes.get(i + 2..i + 6)?;
                    let surrogate = matches!(hex[0], b'd' | b'D')
                        && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F');
                    if surrogate || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    i += 6
                }
                _ => return None,
            },
            // A control character.
            _ => return None,
        }
    }
}

/// The position of the first byte of `bytes` that ends a run of plain text
/// ([`STRING_STOP`]).
fn string_stop(bytes: &[u8]) -> Option<usize> {
    first_of(
        bytes,
        |word| equal(word, b'"') | equal(word, b'\\') | below(word, 0x20),
        |b| STRING_STOP[usize::from(b)],
    )
}

/// The position of the first byte of `bytes` for which `byte` holds, looked
/// for eight bytes at a time with `word`, which gives the high bit of each
/// byte of a little-endian word for which `byte` holds (exact up to the
/// first such byte; see [`below`]). A word's test has no branch per byte and
/// no table to load, which is what a byte at a time cost; and, unlike
/// `memchr`, nothing to set up, which is what the short keys and values of
/// a record cost.
fn first_of(bytes: &[u8], word: impl Fn(u64) -> u64, byte: impl Fn(u8) -> bool) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(chunk);
        let hits = word(u64::from_le_bytes(eight));
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    rest.iter().position(|&b| byte(b)).map(|n| at + n)
}

/// The position of the first `"` or `\\` of `bytes`.
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    first_of(
        bytes,
        |word| equal(word, b'"') | equal(word, b'\\'),
        |b| b == b'"' || b == b'\\',
    )
}

/// The position of the first `"`, bracket or brace of `bytes`.
fn quote_or_bracket(bytes: &[u8]) -> Option<usize> {
    // `[` and `]` are `{` and `}` without bit 5; nothing else is.
    let folded = |word: u64| word | (ONES * 0x20);
    first_of(
        bytes,
        |word| equal(word, b'"') | equal(folded(word), b'{') | equal(folded(word), b'}'),
        |b| matches!(b, b'"' | b'[' | b']' | b'{' | b'}'),
    )
}

/// Whether `bytes` holds a `\\`.
fn has_backslash(bytes: &[u8]) -> bool {
    first_of(bytes, |word| equal(word, b'\\'), |b| b == b'\\').is_some()
}

/// The bytes that end a run of plain text in a JSON string: the quote, the
/// backslash and the control characters (below 0x20).
const STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

/// Just after `literal`, when the text at `at` is it.
fn scan_literal(bytes: &[u8], at: usize, literal: &[u8]) -> Option<usize> {
    let end = at + literal.len();
    (bytes.get(at..end)? == literal).then_some(end)
}

/// Just after the JSON number at `at`: `-`, an integer without leading
/// zeros, then optionally a fraction and an exponent, each with digits.
fn scan_number(bytes: &[u8], at: usize) -> Option<usize> {
    let digits = |from: usize| {
        let rest = bytes.get(from..).unwrap_or_default();
        from + rest.iter().take_while(|b| b.is_ascii_digit()).count()
    };
    let mut i = at + usize::from(bytes.get(at) == Some(&b'-'));
    match bytes.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(i),
        _ => return None,
    }
    if bytes.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1 + usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

/// Whether `text` may hold a `\uD800`-`\uDFFF` escape (a UTF-16 surrogate).
fn has_surrogate_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'\\', bytes).any(|at| {
        matches!(
            bytes.get(at + 1..at + 4),
            Some([b'u', b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F'])
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
        if key_is(key, name) {
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

/// Whether the raw JSON string `key` (quotes included) is `name`: compared
/// as written unless it has escapes, which only make the raw text longer.
fn key_is(key: &str, name: &str) -> bool {
    let inner = key.get(1..key.len().saturating_sub(1)).unwrap_or_default();
    match inner.len().cmp(&name.len()) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => same_text(inner, name) && !has_backslash(inner.as_bytes()),
        std::cmp::Ordering::Greater => {
            has_backslash(inner.as_bytes()) && raw_str(key).is_some_and(|k| k == name)
        }
    }
}

/// The raw elements of the JSON array `text`, in order; `None` when it is
/// not an array. A skim of validated text, as [`raw_member`].
pub fn raw_elements(text: &str) -> Option<RawElements<'_>> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'[') {
        return None;
    }
    Some(RawElements {
        text,
        at: Some(skip_blanks(bytes, 1)),
    })
}

/// The elements [`raw_elements`] finds, skimmed one at a time.
pub struct RawElements<'a> {
    text: &'a str,
    /// Where the next element starts; `None` once the array is done.
    at: Option<usize>,
}

impl<'a> Iterator for RawElements<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let at = self.at.take()?;
        if matches!(bytes.get(at), None | Some(b']')) {
            return None;
        }
        let end = value_end(bytes, at);
        let element = self.text.get(at..end)?;
        let next = skip_blanks(bytes, end);
        if bytes.get(next) == Some(&b',') {
            self.at = Some(skip_blanks(bytes, next + 1));
        }
        Some(element)
    }
}

/// Where the JSON value starting at `at` ends, in text known to be valid
/// JSON: strings are passed over to their closing quote, arrays and objects
/// to the bracket that closes them, anything else to the next delimiter.
fn value_end(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at) {
        Some(b'"') => string_end(bytes, at),
        Some(b'[' | b'{') => {
            let (mut depth, mut i) = (0usize, at);
            while let Some(n) = bytes.get(i..).and_then(quote_or_bracket) {
                i += n;
                match bytes[i] {
                    b'"' => {
                        i = string_end(bytes, i);
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    _ => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
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
    while let Some(n) = bytes.get(i..).and_then(quote_or_backslash) {
        match bytes[i + n] {
            b'"' => return i + n + 1,
            _ => i += n + 2,
        }
    }
    bytes.len()
}

/// The first position from `at` that is not JSON whitespace.
fn skip_blanks(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// The text of the raw JSON string `raw`: a slice of it when it has no
/// escapes, else decoded; `None` when `raw` is not a string.
pub fn raw_str(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.starts_with('"') {
        return None;
    }
    if !has_backslash(raw.as_bytes()) {
        return raw.get(1..raw.len() - 1).map(Cow::Borrowed);
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, Rng, SeedableRng};

    #[test]
    fn texts_are_the_same_exactly_when_equal() {
        let names: Vec<String> = (0..=20)
            .flat_map(|n| {
                let base = "abcdefghijklmnopqrstu"[..n].to_string();
                // The same length, one byte different at each position.
                let changed = (0..n).map(move |i| {
                    let mut bytes = base.clone().into_bytes();
                    bytes[i] ^= 1;
                    String::from_utf8(bytes).unwrap()
                });
                std::iter::once("abcdefghijklmnopqrstu"[..n].to_string()).chain(changed)
            })
            .collect();
        for a in &names {
            for b in &names {
                assert_eq!(same_text(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn word_searches_find_the_first_byte_a_byte_wise_search_finds() {
        type Search = fn(&[u8]) -> Option<usize>;
        type Stops = fn(u8) -> bool;
        let searches: [(Search, Stops); 4] = [
            (string_stop, |b| STRING_STOP[usize::from(b)]),
            (quote_or_backslash, |b| matches!(b, b'"' | b'\\')),
            (quote_or_bracket, |b| {
                matches!(b, b'"' | b'[' | b']' | b'{' | b'}')
            }),
            (|bytes| has_backslash(bytes).then_some(0), |b| b == b'\\'),
        ];
        for (i, (search, stops)) in searches.into_iter().enumerate() {
            // Every byte value at every position of words and of the tail,
            // behind plain ASCII, bytes of multi-byte characters, blanks and
            // bytes one bit away from a stop.
            for filler in [
                b'a',
                0xC3,
                0x80,
                0x7F,
                b' ',
                b'z',
                b'|',
                b'#',
                b'?',
                b'\x5c' ^ 2,
            ] {
                for len in [1, 7, 8, 9, 16, 23] {
                    for at in 0..len {
                        for b in 0..=255u8 {
                            let mut bytes = vec![filler; len];
                            bytes[at] = b;
                            let mut expected = bytes.iter().position(|&b| stops(b));
                            if i == 3 {
                                expected = expected.map(|_| 0);
                            }
                            assert_eq!(
                                search(&bytes),
                                expected,
                                "search {i}: {filler:#x} {len} {at} {b:#x}"
                            );
                        }
                    }
                }
            }
            assert_eq!(search(b""), None);
        }
        assert_eq!(string_stop(b"ab\x1f\"\\"), Some(2));
        assert_eq!(quote_or_bracket(b"abcdefgh]ij{"), Some(8));
    }

    /// Records in every shape the scan meets: nesting, numbers of each
    /// form, escapes, blanks, empty containers, non-ASCII text.
    const SEEDS: &[&str] = &[
        r#"{"user_id":"auth0|u1","email":"a@b.co","email_verified":true,"logins_count":3,"identities":[{"provider":"auth0","user_id":"u1","isSocial":false}],"app_metadata":{"roles":["admin","x"]},"n":null}"#,
        r#" { "a" : -0 , "b":1.5e-3,"c" :0.25, "d":1E+2, "e": -12e9 ,"f":[ ], "g":{ } }	"#,
        r#"{"s":"tab\tquote\"slash\/back\\u\u00e9\uD83D\uDE00","k y":"Zoë José","deep":[[[{"x":[1,[2,{"y":null}]]}]]]}"#,
        "{\n\"a\"\r\n:\n[true,false,null]\n}",
        r#"{}"#,
        r#"{"a":"","b":[{}],"c":[[]],"d":"\u0000"}"#,
    ];

    /// What a mutation puts in: JSON's structural and escape characters,
    /// number parts, a control character, letters, non-ASCII.
    const PIECES: &[&str] = &[
        "\"", "\\", ",", ":", "{", "}", "[", "]", "0", "1", "-", ".", "e", "+", " ", "\u{1}", "\n",
        "t", "n", "\\u", "\\u12", "x", "é", "truex", "01", "1.", ".5", "1e", "\\q",
    ];

    #[test]
    fn the_scan_accepts_only_what_serde_json_accepts_with_the_same_members() {
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for seed in SEEDS {
            // A surrogate escape is left to serde_json.
            let scanned = scan_object(seed, &mut fast).is_some();
            assert_eq!(scanned, !has_surrogate_escape(seed), "{seed}");
            index_object(seed, &mut fast).unwrap();
            serde_index(seed, &mut slow).unwrap();
            assert_eq!(fast, slow, "{seed}");
            fast.clear();
            slow.clear();
        }
        let mut rng = SmallRng::seed_from_u64(7);
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..40_000 {
            let mut text: Vec<char> = SEEDS[rng.random_range(0..SEEDS.len())].chars().collect();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..=text.len());
                match rng.random_range(0..3) {
                    0 if at < text.len() => {
                        let end = (at + rng.random_range(1..4)).min(text.len());
                        text.drain(at..end);
                    }
                    1 if at < text.len() => {
                        let piece = PIECES[rng.random_range(0..PIECES.len())];
                        text.splice(at..at + 1, piece.chars());
                    }
                    _ => {
                        let piece = PIECES[rng.random_range(0..PIECES.len())];
                        text.splice(at..at, piece.chars());
                    }
                }
            }
            let text: String = text.into_iter().collect();
            fast.clear();
            slow.clear();
            let scanned = scan_object(&text, &mut fast).is_some();
            let parsed = serde_index(&text, &mut slow).is_ok();
            if scanned {
                assert!(
                    parsed,
                    "the scan accepted what serde_json refuses: {text:?}"
                );
                assert_eq!(fast, slow, "{text:?}");
                accepted += 1;
            } else if !parsed {
                refused += 1;
            }
        }
        // Both outcomes are exercised, not just one.
        assert!(accepted > 2_000 && refused > 10_000, "{accepted} {refused}");
    }

    #[test]
    fn a_record_the_scan_leaves_to_serde_json_is_indexed_or_refused_by_it() {
        let mut members = Vec::new();
        let escaped_key = r#"{"k\u0065y":1,"b":"2"}"#;
        index_object(escaped_key, &mut members).unwrap();
        assert_eq!(members.len(), 2);
        assert!(matches!(&members[0].key, Key::Decoded(k) if &**k == "key"));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(scan_object(&deep, &mut Vec::new()).is_none());
        index_object(&deep, &mut members).unwrap();
        assert_eq!(members.len(), 1);
        let error = index_object(r#"{"a":01}"#, &mut members).unwrap_err();
        assert!(error.to_string().contains("invalid number"), "{error}");
    }

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
        let raw: Vec<&str> = raw_elements(array).unwrap().collect();
        let decoded: Vec<Value> = raw
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect();
        assert_eq!(decoded, elements);
        assert_eq!(raw_elements("[ ]").map(Iterator::count), Some(0));
        assert!(raw_elements("{}").is_none());
    }

    #[test]
    fn skimming_text_that_is_not_json_finds_something_or_nothing() {
        for text in [
            "{", "{\"a", "{\"a\":", "[", "[1,", "[\"\\", "{\"a\":[", "{,}",
        ] {
            let _ = raw_member(text, "a");
            let _ = raw_elements(text).map(Iterator::count);
        }
    }
}
