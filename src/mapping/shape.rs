//! Record shaping: what a mapping does to a source row before its rules
//! read it, for exports whose file layout says more than CSV or JSON does.
//!
//! - **Named layouts for CSV without a header** (`[source] csv_columns`):
//!   the row's width picks the names (Firebase's `auth:export` CSV has 28 or
//!   52 columns and a trailing comma); a width no layout has is an invalid
//!   row.
//! - **Typed, nested CSV cells** (`[source] csv_values = "auth0"`): Auth0's
//!   export job writes every string cell with a `'` before it (against CSV
//!   injection) and booleans and numbers bare, and names nested fields by
//!   their path (`user_metadata.plan`, `identities[0].provider`). Such a row
//!   becomes the object the JSON export would have held: `'` removed,
//!   `true`/`false` and numbers typed, paths nested.
//! - **A joined record** (`[join]`, `--join FILE`): see [`super::join`].
//!
//! A shaped row is a JSON record; its source text in the rejects file is
//! the shaped object.

use serde_json::{Map, Number, Value};

use super::config::SourceConfig;
use super::path::SourcePath;
use crate::source::{Fields, InvalidRow, Row, RowBody};

/// How a CSV cell's text is typed (`[source] csv_values`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsvValues {
    /// Auth0's export job: see the module documentation.
    Auth0,
}

impl CsvValues {
    /// Parses the name a mapping gives.
    pub fn parse(name: &str) -> Result<CsvValues, String> {
        match name {
            "auth0" => Ok(CsvValues::Auth0),
            other => Err(format!(
                "[source] csv_values '{other}' is not known (known: auth0)"
            )),
        }
    }
}

/// The shaping a mapping asks for, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Row width → column names.
    layouts: Vec<(usize, Vec<String>)>,
    /// How CSV cells are typed and nested.
    csv_values: Option<CsvValues>,
    /// A JSON member holding name/value pairs whose members become the
    /// record's own: (member, name key, value key).
    pairs: Option<(String, String, String)>,
    /// Column renames: old name → new name.
    rename: Vec<(String, String)>,
    /// The text of a null CSV cell.
    null_text: Option<String>,
}

impl Shape {
    /// Resolves the `[source]` section.
    pub fn resolve(config: &SourceConfig) -> Result<Shape, String> {
        let mut layouts: Vec<(usize, Vec<String>)> = Vec::new();
        for names in &config.csv_columns {
            if layouts.iter().any(|(w, _)| *w == names.len()) {
                return Err(format!(
                    "[source] csv_columns has two layouts of {} columns",
                    names.len()
                ));
            }
            layouts.push((names.len(), names.clone()));
        }
        let csv_values = config
            .csv_values
            .as_deref()
            .map(CsvValues::parse)
            .transpose()?;
        let pairs = config
            .pairs
            .as_ref()
            .map(|p| (p.path.clone(), p.name.clone(), p.value.clone()));
        let rename = config
            .rename
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect();
        Ok(Shape {
            layouts,
            csv_values,
            pairs,
            rename,
            null_text: config.null_text.clone(),
        })
    }

    /// Whether shaping does anything.
    pub fn is_empty(&self) -> bool {
        self.layouts.is_empty()
            && self.csv_values.is_none()
            && self.pairs.is_none()
            && self.rename.is_empty()
            && self.null_text.is_none()
    }

    /// Shapes one row.
    pub fn apply(&self, row: Row) -> Row {
        if self.is_empty() {
            return row;
        }
        let RowBody::Fields(fields) = &row.body else {
            return row;
        };
        let shaped = if fields.is_csv() {
            self.shape_fields(fields)
        } else if self.pairs.is_some() || !self.rename.is_empty() {
            match fields.to_json() {
                Value::Object(object) => Ok(object),
                _ => return row,
            }
        } else {
            return row;
        };
        let body = match shaped.and_then(|object| self.flatten_and_rename(object)) {
            Ok(object) => RowBody::Fields(Fields::from_json_object(object)),
            Err(reason) => RowBody::Invalid(InvalidRow {
                reason,
                raw: fields.to_json().to_string(),
            }),
        };
        Row { body, ..row }
    }

    /// Lifts the members of the pairs member into the record, then renames.
    fn flatten_and_rename(
        &self,
        mut object: Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        if let Some((member, name, value)) = &self.pairs {
            if let Some(Value::Array(items)) = object.remove(member) {
                for item in items {
                    let Some(key) = item.get(name).and_then(super::transform::scalar_text) else {
                        return Err(format!("'{member}' holds an element without '{name}'"));
                    };
                    let key = key.into_owned();
                    if object.contains_key(&key) {
                        return Err(format!(
                            "'{member}' names '{key}', which the record already has"
                        ));
                    }
                    object.insert(key, item.get(value).cloned().unwrap_or(Value::Null));
                }
            }
        }
        for (old, new) in &self.rename {
            if let Some(value) = object.remove(old) {
                if object.contains_key(new) {
                    return Err(format!("both '{old}' and '{new}' are present"));
                }
                object.insert(new.clone(), value);
            }
        }
        Ok(object)
    }

    fn shape_fields(&self, fields: &Fields) -> Result<Map<String, Value>, String> {
        let columns = fields.columns();
        let names: Vec<String> = if self.layouts.is_empty() {
            columns.iter().map(|c| c.to_string()).collect()
        } else {
            let width = columns.len();
            match self.layouts.iter().find(|(w, _)| *w == width) {
                Some((_, names)) => names.clone(),
                None => {
                    let widths: Vec<String> =
                        self.layouts.iter().map(|(w, _)| w.to_string()).collect();
                    return Err(format!(
                        "has {width} fields; the mapping's layouts have {}",
                        widths.join(" or ")
                    ));
                }
            }
        };
        let mut object = Map::new();
        for (name, column) in names.iter().zip(&columns) {
            let text = fields.get(column).unwrap_or_default();
            if self.null_text.as_deref() == Some(text.as_ref()) {
                continue;
            }
            match self.csv_values {
                None => {
                    object.insert(name.clone(), Value::String(text.into_owned()));
                }
                Some(CsvValues::Auth0) => {
                    let Some(value) = auth0_cell(&text) else {
                        continue;
                    };
                    let placed = SourcePath::parse(name)
                        .map(|path| path.insert(&mut object, value.clone()))
                        .unwrap_or(false);
                    if !placed {
                        object.insert(name.clone(), value);
                    }
                }
            }
        }
        Ok(object)
    }
}

/// An Auth0 export cell as the JSON export would hold it: `None` when empty.
fn auth0_cell(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    if let Some(string) = text.strip_prefix('\'') {
        return Some(Value::String(string.to_string()));
    }
    match text {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'e' | b'E' | b'+'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if numeric {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Value::Number(i.into()));
        }
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Some(Value::Number(n));
        }
    }
    // Auth0's own ISO dates are written bare.
    Some(Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn csv_row(pairs: &[(&str, &str)]) -> Row {
        // A CSV record built through the CSV reader, as the source would.
        let header: Vec<&str> = pairs.iter().map(|p| p.0).collect();
        let values: Vec<String> = pairs
            .iter()
            .map(|p| format!("\"{}\"", p.1.replace('"', "\"\"")))
            .collect();
        let text = format!("{}\n{}\n", header.join(","), values.join(","));
        let mut reader = crate::source::SourceReader::from_reader(
            "test",
            std::io::Cursor::new(text.into_bytes()),
            crate::source::Format::CSV,
        )
        .unwrap();
        reader.next().unwrap().unwrap()
    }

    #[test]
    fn auth0_cells_are_typed_and_nested_as_the_json_export_has_them() {
        let config = SourceConfig {
            csv_values: Some("auth0".into()),
            ..SourceConfig::default()
        };
        let shape = Shape::resolve(&config).unwrap();
        let row = shape.apply(csv_row(&[
            ("user_id", "'auth0|abc"),
            ("email_verified", "true"),
            ("logins_count", "212"),
            ("created_at", "2021-03-05T16:35:16.775Z"),
            ("user_metadata.plan", "'pro"),
            ("user_metadata.age", "34"),
            ("identities[1].user_id", "'g9"),
            ("blocked", ""),
        ]));
        let RowBody::Fields(fields) = row.body else {
            panic!("shaped into a record")
        };
        assert_eq!(
            fields.to_json(),
            json!({
                "user_id": "auth0|abc",
                "email_verified": true,
                "logins_count": 212,
                "created_at": "2021-03-05T16:35:16.775Z",
                "user_metadata": {"plan": "pro", "age": 34},
                "identities": [null, {"user_id": "g9"}],
            })
        );
    }

    #[test]
    fn a_headerless_row_takes_the_layout_of_its_width() {
        let config = SourceConfig {
            csv_columns: vec![
                vec!["a".into(), "b".into()],
                vec!["a".into(), "b".into(), "c".into()],
            ],
            ..SourceConfig::default()
        };
        let shape = Shape::resolve(&config).unwrap();
        let text = "1,2\n1,2,3\n1,2,3,4\n";
        let reader = crate::source::SourceReader::from_reader(
            "test",
            std::io::Cursor::new(text.as_bytes().to_vec()),
            crate::source::Format::CSV_NO_HEADER,
        )
        .unwrap();
        let rows: Vec<Row> = reader.map(|r| shape.apply(r.unwrap())).collect();
        let RowBody::Fields(first) = &rows[0].body else {
            panic!()
        };
        assert_eq!(first.to_json(), json!({"a": "1", "b": "2"}));
        let RowBody::Fields(second) = &rows[1].body else {
            panic!()
        };
        assert_eq!(second.to_json(), json!({"a": "1", "b": "2", "c": "3"}));
        let RowBody::Invalid(third) = &rows[2].body else {
            panic!()
        };
        assert!(third.reason.contains("has 4 fields"), "{}", third.reason);
        assert!(Shape::resolve(&SourceConfig {
            csv_columns: vec![vec!["a".into()], vec!["b".into()]],
            ..SourceConfig::default()
        })
        .is_err());
    }
}
