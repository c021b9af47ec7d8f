//! Value transforms: what a mapping does to a value between reading it and
//! using it (`as = ["json", "first"]`, applied in order).
//!
//! | name | from | to |
//! |---|---|---|
//! | `json` | a string holding JSON (Firebase's `customAttributes`) | the JSON value |
//! | `time` | RFC 3339, `YYYY-MM-DD[ T]HH:MM:SS[.f][ ±HH:MM]`, a date, `{"$date": …}`, or Unix time as a number or digits (milliseconds when above 10¹¹, else seconds, fractions kept) | RFC 3339 text, UTC |
//! | `epoch_ms`, `epoch_s` | Unix time in milliseconds / seconds, number or digits | RFC 3339 text, UTC |
//! | `future` | a time (as `time` reads it) | `true` when after the import time |
//! | `not` | a boolean (as `bool` reads it) | its inverse |
//! | `bool` | `true`/`false`, `yes`/`no`, `1`/`0`, `t`/`f`, `y`/`n` (any case), or a JSON boolean | a JSON boolean |
//! | `number` | digits, a decimal, or a JSON number | a JSON number |
//! | `string` | any scalar | its text |
//! | `lower`, `trim` | a string | lower-cased / without surrounding blanks |
//! | `split:SEPS` | a string | an array of its non-empty, trimmed parts, split at any of the characters of `SEPS` (`split:,\|`) |
//! | `present` | anything | `true` when it holds something (a time a user was confirmed at, say) |
//! | `e164` | a phone number | with the `+` that sources storing digits alone leave out |
//! | `first` | an array | its first element (none when empty) |
//! | `pairs:NAME:VALUE` | an array of objects (Cognito's `Attributes`) | an object: each element's `NAME` → its `VALUE` |
//!
//! A value a transform cannot read (`json` of text that is not JSON, `time`
//! of text that is not a time) is an error: the row is rejected with the
//! reason, never carried as something else.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One transform, parsed from its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transform {
    Json,
    Time,
    EpochMs,
    EpochS,
    Future,
    Not,
    Bool,
    Number,
    String,
    Lower,
    Trim,
    Split(String),
    Present,
    E164,
    First,
    Pairs(String, String),
}

/// The names, for errors.
const NAMES: &str =
    "json, time, epoch_ms, epoch_s, future, not, bool, number, string, lower, trim, split:SEPS, present, e164, first, pairs:NAME:VALUE";

impl Transform {
    /// Parses a transform name.
    pub fn parse(name: &str) -> Result<Transform, String> {
        let simple = match name {
            "json" => Some(Transform::Json),
            "time" => Some(Transform::Time),
            "epoch_ms" => Some(Transform::EpochMs),
            "epoch_s" => Some(Transform::EpochS),
            "future" => Some(Transform::Future),
            "not" => Some(Transform::Not),
            "bool" => Some(Transform::Bool),
            "number" => Some(Transform::Number),
            "string" => Some(Transform::String),
            "lower" => Some(Transform::Lower),
            "trim" => Some(Transform::Trim),
            "first" => Some(Transform::First),
            "present" => Some(Transform::Present),
            "e164" => Some(Transform::E164),
            _ => None,
        };
        if let Some(t) = simple {
            return Ok(t);
        }
        if let Some(sep) = name.strip_prefix("split:") {
            if !sep.is_empty() {
                return Ok(Transform::Split(sep.to_string()));
            }
        }
        if let Some((n, v)) = name.strip_prefix("pairs:").and_then(|r| r.split_once(':')) {
            if !n.is_empty() && !v.is_empty() {
                return Ok(Transform::Pairs(n.to_string(), v.to_string()));
            }
        }
        Err(format!("unknown transform '{name}' (known: {NAMES})"))
    }

    /// Applies the transform; `now` is the import time (for `future`).
    /// `Ok(None)` when nothing remains (`first` of an empty array).
    pub fn apply(&self, value: Value, now: OffsetDateTime) -> Result<Option<Value>, String> {
        let out = match self {
            Transform::Json => match value {
                Value::String(text) if text.trim().is_empty() => return Ok(None),
                Value::String(text) => serde_json::from_str(&text)
                    .map_err(|_| "is text that is not JSON".to_string())?,
                other => other,
            },
            Transform::Time => Value::String(rfc3339(read_time(&value)?)?),
            Transform::EpochMs => Value::String(rfc3339(epoch(&value, 1000)?)?),
            Transform::EpochS => Value::String(rfc3339(epoch(&value, 1)?)?),
            Transform::Future => Value::Bool(read_time(&value)? > now),
            Transform::Not => Value::Bool(!read_bool(&value)?),
            Transform::Bool => Value::Bool(read_bool(&value)?),
            Transform::Number => match &value {
                Value::Number(_) => value,
                other => {
                    let text = scalar_text(other).ok_or("is not a number")?;
                    let text = text.trim();
                    if let Ok(i) = text.parse::<i64>() {
                        Value::Number(i.into())
                    } else {
                        text.parse::<f64>()
                            .ok()
                            .and_then(Number::from_f64)
                            .map(Value::Number)
                            .ok_or_else(|| format!("'{text}' is not a number"))?
                    }
                }
            },
            Transform::String => match &value {
                Value::String(_) => value,
                other => Value::String(scalar_text(other).ok_or("is not a scalar")?.into_owned()),
            },
            Transform::Lower => map_text(value, &|t| t.to_lowercase())?,
            Transform::Trim => map_text(value, &|t| t.trim().to_string())?,
            Transform::Split(sep) => match value {
                Value::String(text) => Value::Array(
                    text.split(|c| sep.contains(c))
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.to_string()))
                        .collect(),
                ),
                Value::Array(items) => Value::Array(items),
                _ => return Err("is not text to split".to_string()),
            },
            Transform::Present => Value::Bool(truthy(&value)),
            Transform::E164 => match value {
                Value::String(text) => {
                    let t = text.trim();
                    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                        Value::String(format!("+{t}"))
                    } else {
                        Value::String(text)
                    }
                }
                Value::Number(n) => Value::String(format!("+{n}")),
                other => other,
            },
            Transform::First => match value {
                Value::Array(items) => return Ok(items.into_iter().find(|v| !v.is_null())),
                other => other,
            },
            Transform::Pairs(name, val) => pairs(value, name, val)?,
        };
        Ok(Some(out))
    }
}

/// Applies `transforms` in order; `Ok(None)` when nothing remains.
pub fn apply_all(
    transforms: &[Transform],
    value: Value,
    now: OffsetDateTime,
) -> Result<Option<Value>, String> {
    let mut value = value;
    for transform in transforms {
        match transform.apply(value, now)? {
            Some(next) => value = next,
            None => return Ok(None),
        }
    }
    Ok((!value.is_null()).then_some(value))
}

/// The text of a scalar: a string as it is, a boolean or number as written;
/// `None` for null, arrays and objects.
pub fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// Whether a condition's value holds: present and not false, `0`, empty
/// text, an empty array or an empty object.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => {
            let s = s.trim();
            !(s.is_empty() || matches!(read_bool_text(s), Some(false)))
        }
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
    }
}

fn map_text(value: Value, f: &dyn Fn(&str) -> String) -> Result<Value, String> {
    match value {
        Value::String(text) => Ok(Value::String(f(&text))),
        Value::Array(items) => items
            .into_iter()
            .map(|v| map_text(v, f))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

fn read_bool_text(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn read_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::String(s) => read_bool_text(s.trim())
            .ok_or_else(|| format!("'{s}' is not a boolean (true/false, yes/no, 1/0)")),
        _ => Err("is not a boolean".to_string()),
    }
}

/// Unix time in units of 1/`per_second` s, as a number or digits.
fn epoch(value: &Value, per_second: i64) -> Result<OffsetDateTime, String> {
    let text = scalar_text(value).ok_or("is not a number of seconds")?;
    let text = text.trim();
    // Whole numbers exactly: milliseconds through f64 would gain nanoseconds.
    if let Ok(units) = text.parse::<i64>() {
        let nanos = i128::from(units) * (1_000_000_000 / i128::from(per_second));
        return OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|_| format!("'{text}' is out of range"));
    }
    let number: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a Unix time"))?;
    from_unix(number / per_second as f64).ok_or_else(|| format!("'{text}' is out of range"))
}

fn from_unix(seconds: f64) -> Option<OffsetDateTime> {
    if !seconds.is_finite() {
        return None;
    }
    // To the microsecond: sources write fractions of a second in decimal
    // (1614961716.775), which binary floating point holds only nearly.
    let micros = (seconds * 1e6).round();
    if micros.abs() > 1e17 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000).ok()
}

/// A time in any of the forms `time` reads.
pub fn read_time(value: &Value) -> Result<OffsetDateTime, String> {
    match value {
        Value::Object(members) => match members.get("$date") {
            Some(inner) => read_time(inner),
            None => Err("is an object, not a time".to_string()),
        },
        Value::Number(n) if n.as_i64().is_some() => {
            let whole = n.as_i64().unwrap_or_default();
            // Seconds since 1970 pass 10^11 in the year 5138; milliseconds did in 1973.
            let per_second = if whole.abs() >= 100_000_000_000 {
                1000
            } else {
                1
            };
            epoch(value, per_second)
        }
        Value::Number(n) => {
            let n = n.as_f64().ok_or("is not a time")?;
            // Seconds since 1970 pass 10^11 in the year 5138; milliseconds did in 1973.
            let seconds = if n.abs() >= 1e11 { n / 1000.0 } else { n };
            from_unix(seconds).ok_or_else(|| format!("{n} is out of range"))
        }
        Value::String(text) => read_time_text(text),
        _ => Err("is not a time".to_string()),
    }
}

/// A time written as text, in any of the forms `time` reads: digits are
/// Unix seconds or milliseconds, anything else [`parse_time_text`].
pub fn read_time_text(text: &str) -> Result<OffsetDateTime, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let n: f64 = t.parse().map_err(|_| format!("'{t}' is not a time"))?;
        return read_time(&serde_json::json!(n));
    }
    parse_time_text(t).ok_or_else(|| format!("'{t}' is not a time"))
}

/// Text forms of a time: RFC 3339; `YYYY-MM-DD HH:MM:SS[.fraction]` or with
/// `T`, optionally followed by `Z` or an offset (`+00:00`, ` +00:00`, as SQL
/// Server writes `datetimeoffset`), UTC when none; a date alone is midnight UTC.
pub fn parse_time_text(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let (date, rest) = text.split_at_checked(10)?;
    let date = time::Date::parse(
        date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    let rest = rest.trim_start_matches(['T', 't', ' ']);
    if rest.is_empty() {
        return Some(date.midnight().assume_utc());
    }
    // hh:mm:ss, then a fraction, then the offset.
    let (clock, mut tail) = rest.split_at_checked(8)?;
    let clock = time::Time::parse(
        clock,
        time::macros::format_description!("[hour]:[minute]:[second]"),
    )
    .ok()?;
    let mut nanos: u32 = 0;
    if let Some(fraction) = tail.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &fraction[..digits.min(9)];
        nanos = kept.parse::<u32>().ok()? * 10u32.pow(9 - kept.len() as u32);
        tail = &fraction[digits..];
    }
    let offset = match tail.trim() {
        "" | "Z" | "z" | "UTC" => time::UtcOffset::UTC,
        sign_hm => {
            let sign = match sign_hm.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = sign_hm[1..].split_once(':').unwrap_or((&sign_hm[1..], "0"));
            let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
            time::UtcOffset::from_hms(sign * h, sign * m, 0).ok()?
        }
    };
    let clock = clock.replace_nanosecond(nanos).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_offset(offset)
            .to_offset(time::UtcOffset::UTC),
    )
}

/// `t` as RFC 3339 text, which has four digits for the year: a time before
/// the year 0 cannot be written, and is refused rather than left out.
fn rfc3339(t: OffsetDateTime) -> Result<String, String> {
    t.format(&Rfc3339)
        .map_err(|_| format!("is in the year {}, which RFC 3339 cannot write", t.year()))
}

/// `[{NAME: k, VALUE: v}, …]` → `{k: v, …}`; a later pair with the same name wins.
fn pairs(value: Value, name: &str, val: &str) -> Result<Value, String> {
    let Value::Array(items) = value else {
        return Err("is not an array of name/value pairs".to_string());
    };
    let mut out = Map::new();
    for item in items {
        let key = item
            .get(name)
            .and_then(scalar_text)
            .ok_or_else(|| format!("holds an element without '{name}'"))?
            .into_owned();
        let value = item.get(val).cloned().unwrap_or(Value::Null);
        out.insert(key, value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);

    fn run(names: &[&str], value: Value) -> Result<Option<Value>, String> {
        let ts: Vec<Transform> = names.iter().map(|n| Transform::parse(n).unwrap()).collect();
        apply_all(&ts, value, NOW)
    }

    #[test]
    fn times_in_vendor_shapes_become_rfc3339() {
        let cases = [
            (json!("1614556800000"), "2021-03-01T00:00:00Z"),
            (json!(1614556800000u64), "2021-03-01T00:00:00Z"),
            (json!(1614556800), "2021-03-01T00:00:00Z"),
            (json!(1614556800.5), "2021-03-01T00:00:00.5Z"),
            (json!(1614961716.775), "2021-03-05T16:28:36.775Z"),
            (
                json!({"$date": "2021-03-05T16:31:00.658Z"}),
                "2021-03-05T16:31:00.658Z",
            ),
            (
                json!("2021-03-01 02:00:00.1234567 +02:00"),
                "2021-03-01T00:00:00.1234567Z",
            ),
            (json!("2021-03-01T00:00:00"), "2021-03-01T00:00:00Z"),
            (json!("2021-03-01"), "2021-03-01T00:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(
                run(&["time"], input.clone()),
                Ok(Some(json!(want))),
                "{input}"
            );
        }
        assert_eq!(
            run(&["epoch_ms"], json!("1614556800000")),
            Ok(Some(json!("2021-03-01T00:00:00Z")))
        );
        assert_eq!(
            run(&["epoch_s"], json!(1614556800)),
            Ok(Some(json!("2021-03-01T00:00:00Z")))
        );
        assert!(run(&["time"], json!("yesterday")).is_err());
        assert!(run(&["time"], json!({"a": 1})).is_err());
        // Before the year 0 (-70,000,000,000 s is in the year -249): refused,
        // not an empty text that reads as no time at all.
        let refused = run(&["epoch_s"], json!(-70_000_000_000i64));
        assert!(
            refused
                .as_ref()
                .is_err_and(|why| why.contains("RFC 3339 cannot write")),
            "{refused:?}"
        );
    }

    #[test]
    fn booleans_invert_and_futures_compare_with_the_import_time() {
        assert_eq!(run(&["not"], json!(false)), Ok(Some(json!(true))));
        assert_eq!(run(&["not"], json!("True")), Ok(Some(json!(false))));
        assert!(run(&["not"], json!("maybe")).is_err());
        assert_eq!(
            run(&["future"], json!("9999-12-31 23:59:59.9999999 +00:00")),
            Ok(Some(json!(true)))
        );
        assert_eq!(
            run(&["future"], json!("2020-01-01T00:00:00Z")),
            Ok(Some(json!(false)))
        );
    }

    #[test]
    fn json_split_first_and_pairs() {
        assert_eq!(
            run(&["json"], json!("{\"a\":1}")),
            Ok(Some(json!({"a": 1})))
        );
        assert!(run(&["json"], json!("{nope")).is_err());
        assert_eq!(run(&["json"], json!("")), Ok(None));
        assert_eq!(
            run(&["split:,"], json!("a, b,,c")),
            Ok(Some(json!(["a", "b", "c"])))
        );
        assert_eq!(
            run(&["split:,", "first"], json!("x,y")),
            Ok(Some(json!("x")))
        );
        assert_eq!(run(&["first"], json!([])), Ok(None));
        assert_eq!(
            run(
                &["pairs:Name:Value"],
                json!([{"Name": "email", "Value": "a@b.co"}, {"Name": "custom:n", "Value": "1"}])
            ),
            Ok(Some(json!({"email": "a@b.co", "custom:n": "1"})))
        );
        assert_eq!(run(&["number"], json!("12")), Ok(Some(json!(12))));
        assert_eq!(run(&["number"], json!("1.5")), Ok(Some(json!(1.5))));
        assert!(run(&["number"], json!("x")).is_err());
        assert_eq!(run(&["string"], json!(7)), Ok(Some(json!("7"))));
        assert!(Transform::parse("nope").is_err());
        assert!(Transform::parse("split:").is_err());
    }

    #[test]
    fn truthiness() {
        for yes in [
            json!(true),
            json!("x"),
            json!(1),
            json!(["a"]),
            json!("True"),
        ] {
            assert!(truthy(&yes), "{yes}");
        }
        for no in [
            json!(false),
            json!(null),
            json!(""),
            json!(0),
            json!([]),
            json!({}),
            json!("false"),
            json!("0"),
        ] {
            assert!(!truthy(&no), "{no}");
        }
    }
}
