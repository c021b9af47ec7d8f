//! Behaviour of [`SourceReader`] on real files: edge cases of both formats,
//! fatal source errors, and the resume property (reading from any row's
//! position gives exactly the rest of a full read).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::json;
use tempfile::TempDir;

use super::*;
use crate::contract::rules::MAX_ROW_BYTES;

/// Writes `bytes` to `name` in `dir`.
fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn open(path: &Path, resume: Option<Position>) -> Result<SourceReader, SourceError> {
    let input = Input::File(path.to_path_buf());
    let format = Format::resolve(&input, None)?;
    SourceReader::open(&input, format, resume)
}

/// All rows of the file, from `resume` if given.
fn read(path: &Path, resume: Option<Position>) -> Vec<Row> {
    open(path, resume)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Writes `bytes` as `name` and reads all its rows.
fn rows_of(name: &str, bytes: &[u8]) -> Vec<Row> {
    let dir = TempDir::new().unwrap();
    read(&write(&dir, name, bytes), None)
}

/// Writes `bytes` as `name` and returns the error opening it gives.
fn open_error(name: &str, bytes: &[u8]) -> SourceError {
    let dir = TempDir::new().unwrap();
    match open(&write(&dir, name, bytes), None) {
        Ok(reader) => panic!("{name} opened: {reader:?}"),
        Err(e) => e,
    }
}

fn fields(row: &Row) -> &Fields {
    match &row.body {
        RowBody::Fields(f) => f,
        RowBody::Invalid(bad) => panic!("row {} is invalid: {bad:?}", row.row),
    }
}

fn invalid(row: &Row) -> &InvalidRow {
    match &row.body {
        RowBody::Invalid(bad) => bad,
        RowBody::Fields(f) => panic!("row {} is valid: {f:?}", row.row),
    }
}

fn get(row: &Row, column: &str) -> Option<String> {
    fields(row).get(column).map(|v| v.into_owned())
}

/// Row numbers, offsets and the bytes each row spans.
fn spans<'a>(bytes: &'a [u8], rows: &[Row]) -> Vec<(u64, &'a [u8])> {
    rows.iter()
        .map(|r| (r.row, &bytes[r.offset as usize..r.end as usize]))
        .collect()
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_rows_carry_numbers_offsets_and_fields() {
    let data = b"id,email\nu1,a@x.io\nu2,b@x.io\n";
    let rows = rows_of("u.csv", data);
    assert_eq!(
        spans(data, &rows),
        vec![(1, &b"u1,a@x.io\n"[..]), (2, &b"u2,b@x.io\n"[..])]
    );
    assert_eq!(get(&rows[1], "email").as_deref(), Some("b@x.io"));
    assert_eq!(get(&rows[1], "phone"), None);
}

#[test]
fn csv_bom_is_skipped_but_counted_in_offsets() {
    let plain = b"id,name\nu1,Zo\xC3\xAB\n".to_vec();
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&plain);
    let dir = TempDir::new().unwrap();
    let reader = open(&write(&dir, "b.csv", &with_bom), None).unwrap();
    assert_eq!(reader.headers().unwrap(), ["id", "name"]);
    let a = rows_of("a.csv", &plain);
    let b: Vec<Row> = reader.map(Result::unwrap).collect();
    assert_eq!(get(&b[0], "id").as_deref(), Some("u1"));
    assert_eq!(get(&b[0], "name").as_deref(), Some("Zoë"));
    assert_eq!(b[0].offset, a[0].offset + 3);
    assert_eq!(b[0].end, a[0].end + 3);
}

#[test]
fn csv_crlf_and_lf_read_the_same() {
    let lf = rows_of("lf.csv", b"id,n\nu1,a\nu2,b\n");
    let crlf_data = b"id,n\r\nu1,a\r\nu2,b\r\n";
    let crlf = rows_of("crlf.csv", crlf_data);
    assert_eq!(
        spans(crlf_data, &crlf),
        vec![(1, &b"u1,a\r\n"[..]), (2, &b"u2,b\r\n"[..])]
    );
    for (a, b) in lf.iter().zip(&crlf) {
        assert_eq!(fields(a), fields(b));
    }
    let cr = rows_of("cr.csv", b"id,n\ru1,a\ru2,b");
    assert_eq!(get(&cr[1], "n").as_deref(), Some("b"));
}

#[test]
fn csv_quoted_fields_hold_commas_quotes_and_line_breaks() {
    let data =
        b"id,name,note\n\"u,1\",\"say \"\"hi\"\"\",\"two\nlines\"\nu2,plain,\"crlf\r\ninside\"\r\n";
    let rows = rows_of("q.csv", data);
    assert_eq!(rows.len(), 2);
    assert_eq!(get(&rows[0], "id").as_deref(), Some("u,1"));
    assert_eq!(get(&rows[0], "name").as_deref(), Some("say \"hi\""));
    assert_eq!(get(&rows[0], "note").as_deref(), Some("two\nlines"));
    assert_eq!(get(&rows[1], "note").as_deref(), Some("crlf\r\ninside"));
    assert_eq!(rows[1].end as usize, data.len());
}

#[test]
fn csv_invalid_utf8_names_the_column_and_reading_goes_on() {
    let rows = rows_of("bad.csv", b"id,name\nu1,Zo\xFF\nu2,ok\n");
    let bad = invalid(&rows[0]);
    assert_eq!(
        bad.reason,
        "column \"name\" (field 2) is not valid UTF-8 at byte 3 of the field"
    );
    assert_eq!(bad.raw, "u1,Zo\u{FFFD}");
    assert_eq!(get(&rows[1], "name").as_deref(), Some("ok"));
}

#[test]
fn csv_wrong_field_counts_are_rejected_with_both_counts() {
    let rows = rows_of("n.csv", b"id,a,b\nu1,1,2,3\nu2\nu3,1\r\nu4,1,2\n");
    assert_eq!(invalid(&rows[0]).reason, "has 4 fields, the header has 3");
    assert_eq!(invalid(&rows[0]).raw, "u1,1,2,3");
    assert_eq!(invalid(&rows[1]).reason, "has 1 field, the header has 3");
    assert_eq!(invalid(&rows[2]).reason, "has 2 fields, the header has 3");
    assert_eq!(invalid(&rows[2]).raw, "u3,1");
    assert_eq!(get(&rows[3], "b").as_deref(), Some("2"));
}

#[test]
fn csv_row_over_the_limit_is_rejected_and_reading_goes_on() {
    let mut data = b"id,note\n".to_vec();
    data.extend_from_slice(b"u1,");
    data.extend(std::iter::repeat_n(b'x', MAX_ROW_BYTES));
    data.extend_from_slice(b"\nu2,ok\n");
    let rows = rows_of("long.csv", &data);
    let bad = invalid(&rows[0]);
    let len = MAX_ROW_BYTES + 3;
    assert_eq!(
        bad.reason,
        format!("is {len} bytes long, over the 65536-byte limit for a row")
    );
    assert_eq!(bad.raw.len(), RAW_PREFIX_BYTES);
    assert!(bad.raw.starts_with("u1,xxx"));
    assert_eq!(
        (rows[1].row, get(&rows[1], "note").as_deref()),
        (2, Some("ok"))
    );
}

#[test]
fn csv_row_exactly_at_the_limit_is_accepted() {
    let mut data = b"id,note\nu1,".to_vec();
    data.extend(std::iter::repeat_n(b'x', MAX_ROW_BYTES - 3));
    data.extend_from_slice(b"\r\n");
    let rows = rows_of("edge.csv", &data);
    assert_eq!(
        get(&rows[0], "note").map(|v| v.len()),
        Some(MAX_ROW_BYTES - 3)
    );
}

#[test]
fn csv_stray_quote_costs_one_row_and_the_rest_is_read() {
    let mut data = b"id,note\nu0,fine\nu1,\"never closed\r\n".to_vec();
    for i in 2..20_000 {
        data.extend_from_slice(format!("u{i},fine\n").as_bytes());
    }
    let rows = rows_of("quote.csv", &data);
    assert_eq!(rows.len(), 20_000);
    let bad = invalid(&rows[1]);
    assert_eq!(bad.reason, "unterminated quote");
    assert_eq!(bad.raw, "u1,\"never closed");
    assert_eq!(
        spans(&data, &rows[1..3]),
        vec![(2, &b"u1,\"never closed\r\n"[..]), (3, &b"u2,fine\n"[..])]
    );
    for row in rows.iter().filter(|r| r.row != 2) {
        assert_eq!(get(row, "note").as_deref(), Some("fine"), "row {}", row.row);
    }
    assert_eq!(rows.last().unwrap().end as usize, data.len());
}

#[test]
fn csv_multi_line_row_with_the_wrong_field_count_is_its_first_line() {
    // u1's quote closes on the next line, but the record then has 3 fields.
    let data = b"id,note\nu1,\"open\nu2,x\",y\nu3,ok\n";
    let rows = rows_of("count.csv", data);
    assert_eq!(invalid(&rows[0]).reason, "unterminated quote");
    assert_eq!(invalid(&rows[0]).raw, "u1,\"open");
    assert_eq!(spans(data, &rows)[0], (1, &b"u1,\"open\n"[..]));
    // The next line is read on its own: `u2,x"` and `y` are 3 fields.
    assert_eq!(invalid(&rows[1]).reason, "has 3 fields, the header has 2");
    assert_eq!(get(&rows[2], "note").as_deref(), Some("ok"));
}

#[test]
fn csv_quote_open_at_the_end_of_the_file_is_an_unterminated_quote() {
    // The swallowed record would have the right field count: still rejected.
    let data = b"id,note\nu1,ok\nu2,\"never\nu3,x\nu4,y";
    let rows = rows_of("eof.csv", data);
    assert_eq!(rows.len(), 4);
    assert_eq!(invalid(&rows[1]).reason, "unterminated quote");
    assert_eq!(invalid(&rows[1]).raw, "u2,\"never");
    assert_eq!(get(&rows[2], "note").as_deref(), Some("x"));
    assert_eq!(get(&rows[3], "note").as_deref(), Some("y"));
    // On the last line, with nothing after it.
    let rows = rows_of("last.csv", b"id,note\nu1,ok\nu2,\"open");
    assert_eq!(invalid(&rows[1]).reason, "unterminated quote");
    assert_eq!(invalid(&rows[1]).raw, "u2,\"open");
    // A quoted last field closed just before the end is fine.
    let rows = rows_of("closed.csv", b"id,note\nu1,\"a\nb\"");
    assert_eq!(get(&rows[0], "note").as_deref(), Some("a\nb"));
}

#[test]
fn csv_stray_quote_on_a_line_over_the_limit_costs_that_line() {
    let mut data = b"id,note\nu1,\"".to_vec();
    data.extend(std::iter::repeat_n(b'x', MAX_ROW_BYTES + 10));
    data.extend_from_slice(b"\nu2,ok\n");
    let rows = rows_of("long-quote.csv", &data);
    assert_eq!(rows.len(), 2);
    let bad = invalid(&rows[0]);
    assert_eq!(bad.reason, "unterminated quote");
    assert_eq!(bad.raw.len(), RAW_PREFIX_BYTES);
    assert_eq!(get(&rows[1], "note").as_deref(), Some("ok"));
    assert_eq!(rows[1].offset, rows[0].end);
}

#[test]
fn csv_header_with_an_unterminated_quote_is_an_error() {
    let e = open_error("h.csv", b"id,\"email\nu1,a\n");
    assert!(matches!(e, SourceError::BadHeader { .. }), "{e:?}");
    assert!(e.to_string().contains("unterminated quote"), "{e}");
}

#[test]
fn csv_blank_lines_are_skipped_and_not_counted() {
    let data = b"id\n\nu1\n\r\n\nu2\n\n";
    let rows = rows_of("blank.csv", data);
    assert_eq!(
        spans(data, &rows),
        vec![(1, &b"u1\n"[..]), (2, &b"u2\n"[..])]
    );
}

#[test]
fn csv_last_row_may_lack_a_newline() {
    let data = b"id,n\nu1,a\nu2,b";
    let rows = rows_of("end.csv", data);
    assert_eq!(spans(data, &rows)[1], (2, &b"u2,b"[..]));
    assert_eq!(get(&rows[1], "n").as_deref(), Some("b"));
}

#[test]
fn csv_empty_cells_are_empty_strings() {
    let rows = rows_of("e.csv", b"id,email,phone\nu1,,\"\"\n");
    assert_eq!(get(&rows[0], "email").as_deref(), Some(""));
    assert_eq!(get(&rows[0], "phone").as_deref(), Some(""));
    assert_eq!(
        fields(&rows[0]).to_json(),
        json!({"id": "u1", "email": "", "phone": ""})
    );
}

#[test]
fn csv_header_only_is_an_empty_source() {
    assert!(rows_of("h.csv", b"id,email\n").is_empty());
    assert!(rows_of("h.csv", b"id,email").is_empty());
    assert!(rows_of("h.csv", b"\xEF\xBB\xBFid,email\r\n\r\n").is_empty());
}

#[test]
fn csv_without_header_is_an_error() {
    for data in [&b""[..], b"\xEF\xBB\xBF", b"\n\r\n\n"] {
        let e = open_error("empty.csv", data);
        assert!(matches!(e, SourceError::NoHeader { .. }), "{e:?}");
        assert!(e.to_string().contains("has no header row"), "{e}");
    }
}

#[test]
fn csv_header_names_are_trimmed_and_must_be_unique_and_non_empty() {
    let dir = TempDir::new().unwrap();
    let reader = open(&write(&dir, "t.csv", b" id , email\n"), None).unwrap();
    assert_eq!(reader.headers().unwrap(), ["id", "email"]);

    let e = open_error("dup.csv", b"id,email,name, email\nu1,a,b,c\n");
    match &e {
        SourceError::DuplicateColumn {
            name,
            first,
            second,
            ..
        } => assert_eq!((name.as_str(), *first, *second), ("email", 2, 4)),
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string().contains("names column \"email\" twice"),
        "{e}"
    );

    let e = open_error("empty-name.csv", b"id,,name\n");
    assert!(
        matches!(e, SourceError::EmptyColumnName { column: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn csv_header_must_be_utf8_and_within_the_limit() {
    let e = open_error("h.csv", b"id,n\xE9\n");
    assert!(matches!(e, SourceError::BadHeader { .. }), "{e:?}");
    assert!(e.to_string().contains("not valid UTF-8 in column 2"), "{e}");

    let mut long = vec![b'a'; MAX_ROW_BYTES + 10];
    long.push(b'\n');
    let e = open_error("h.csv", &long);
    assert!(e.to_string().contains("is longer than 65536 bytes"), "{e}");
}

#[test]
fn utf16_and_utf32_are_rejected_for_both_formats() {
    let cases: [(&[u8], &str); 3] = [
        (b"\xFF\xFEi\x00d\x00\n\x00", "UTF-16LE"),
        (b"\xFE\xFF\x00i\x00d\x00\n", "UTF-16BE"),
        (b"\xFF\xFE\x00\x00i\x00\x00\x00", "UTF-32LE"),
    ];
    for (data, expected) in cases {
        for name in ["u.csv", "u.jsonl"] {
            match open_error(name, data) {
                SourceError::UnsupportedEncoding { encoding, .. } => {
                    assert_eq!(encoding, expected)
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------- JSON Lines

#[test]
fn jsonl_rows_are_objects_and_blank_lines_do_not_count() {
    let data = b"\xEF\xBB\xBF{\"id\":\"u1\",\"email_verified\":true}\r\n\n   \t\r\n{\"id\":\"u2\",\"groups\":[\"a\",\"b\"]}";
    let rows = rows_of("u.jsonl", data);
    assert_eq!(
        spans(data, &rows),
        vec![
            (1, &b"{\"id\":\"u1\",\"email_verified\":true}\r\n"[..]),
            (2, &b"{\"id\":\"u2\",\"groups\":[\"a\",\"b\"]}"[..]),
        ]
    );
    assert_eq!(rows[0].offset, 3);
    assert_eq!(get(&rows[0], "email_verified").as_deref(), Some("true"));
    assert_eq!(get(&rows[1], "groups").as_deref(), Some("a;b"));
}

#[test]
fn jsonl_bad_lines_are_invalid_rows_with_reasons() {
    let data = b"{\"id\":1,}\n[1,2]\n\"text\"\n{\"id\":\"\xFF\"}\n{\"id\":\"u5\"}\n";
    let rows = rows_of("bad.ndjson", data);
    let reasons: Vec<&str> = rows[..4]
        .iter()
        .map(|r| invalid(r).reason.as_str())
        .collect();
    assert!(
        reasons[0].starts_with("is not valid JSON: trailing comma at line 1 column 9"),
        "{}",
        reasons[0]
    );
    assert_eq!(reasons[1], "is a JSON array, not an object");
    assert_eq!(reasons[2], "is a JSON string, not an object");
    assert_eq!(reasons[3], "is not valid UTF-8 at byte 8");
    assert_eq!(invalid(&rows[0]).raw, "{\"id\":1,}");
    assert_eq!(invalid(&rows[3]).raw, "{\"id\":\"\u{FFFD}\"}");
    assert_eq!(
        (rows[4].row, get(&rows[4], "id").as_deref()),
        (5, Some("u5"))
    );
}

#[test]
fn jsonl_values_are_decoded_lazily_and_exactly() {
    let line = concat!(
        r#"{ "id" : "u1" , "na\u006de": "Zo\u00eb \"Z\"", "n": 12.50, "ok": false,"#,
        r#" "phone": null, "groups": ["a", 2, null], "obj": {"k": [1, {}]}, "id": "u2"}"#
    );
    let rows = rows_of("esc.jsonl", line.as_bytes());
    let f = fields(&rows[0]);
    assert_eq!(
        f.get("id").as_deref(),
        Some("u2"),
        "a repeated key gives its last value"
    );
    assert_eq!(f.get("name").as_deref(), Some("Zoë \"Z\""));
    assert_eq!(f.get("n").as_deref(), Some("12.50"));
    assert_eq!(f.get("ok").as_deref(), Some("false"));
    assert_eq!(f.get("phone"), None);
    assert_eq!(f.get("groups").as_deref(), Some("a;2"));
    assert_eq!(f.get("obj").as_deref(), Some(r#"{"k":[1,{}]}"#));
    assert_eq!(
        f.columns(),
        ["id", "name", "n", "ok", "phone", "groups", "obj"]
    );
    assert_eq!(
        f.to_json(),
        json!({"id": "u2", "name": "Zoë \"Z\"", "n": 12.5, "ok": false, "phone": null,
               "groups": ["a", 2, null], "obj": {"k": [1, {}]}})
    );
}

#[test]
fn jsonl_surrogate_escapes_must_pair() {
    let data = concat!(
        r#"{"id":"u1","name":"\ud83d\ude00 \u00e9"}"#,
        "\n",
        r#"{"id":"u2","name":"\uD800x"}"#,
        "\n",
        r#"{"id":"u3","tags":["\udc00"]}"#,
    );
    let rows = rows_of("s.jsonl", data.as_bytes());
    assert_eq!(get(&rows[0], "name").as_deref(), Some("😀 é"));
    for bad in &rows[1..] {
        let reason = &invalid(bad).reason;
        assert!(reason.starts_with("is not valid JSON: "), "{reason}");
    }
}

#[test]
fn jsonl_oversized_lines_are_skipped_and_the_next_line_is_read() {
    // One line that fits the read buffer, one that spans several reads.
    for size in [100_000usize, 3_000_000] {
        let mut data = b"{\"id\":\"u1\"}\n{\"id\":\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', size));
        data.extend_from_slice(b"\"}\r\n{\"id\":\"u3\"}\n");
        let rows = rows_of("big.jsonl", &data);
        assert_eq!(rows.len(), 3);
        let bad = invalid(&rows[1]);
        let len = size + 9;
        assert_eq!(
            bad.reason,
            format!("is {len} bytes long, over the 65536-byte limit for a row")
        );
        assert_eq!(bad.raw.len(), RAW_PREFIX_BYTES);
        assert!(bad.raw.starts_with("{\"id\":\"xxx"));
        assert_eq!(rows[2].offset, rows[1].end);
        assert_eq!(get(&rows[2], "id").as_deref(), Some("u3"));
    }
}

#[test]
fn jsonl_empty_file_is_an_empty_source() {
    assert!(rows_of("e.jsonl", b"").is_empty());
    assert!(rows_of("e.jsonl", b"\xEF\xBB\xBF\n \n").is_empty());
}

// ---------------------------------------------------------------- opening

#[test]
fn format_comes_from_the_extension_or_the_flag() {
    assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::CSV));
    assert_eq!(
        Format::from_path(Path::new("b.NdJson")),
        Some(Format::JSON_LINES)
    );
    assert_eq!(
        Format::from_path(Path::new("b.jsonl")),
        Some(Format::JSON_LINES)
    );
    assert_eq!(Format::from_path(Path::new("b.json")), None);
    assert_eq!(Format::from_path(Path::new("csv")), None);
    assert_eq!("JSONL".parse::<Format>(), Ok(Format::JSON_LINES));
    assert!("xml".parse::<Format>().is_err());

    let txt = Input::File(PathBuf::from("users.txt"));
    let e = Format::resolve(&txt, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot tell the format of users.txt"),
        "{e}"
    );
    assert_eq!(
        Format::resolve(&txt, Some(Format::CSV)).unwrap(),
        Format::CSV
    );
    assert!(Format::resolve(&Input::Stdin, None).is_err());
    assert_eq!(Input::from_arg("-"), Input::Stdin);
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("nope.csv");
    let e = open(&path, None).unwrap_err();
    assert!(matches!(e, SourceError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("nope.csv"), "{e}");
}

#[test]
fn stdin_cannot_be_resumed() {
    let resume = Some(Position { offset: 10, row: 2 });
    for format in [Format::CSV, Format::JSON_LINES] {
        let e = SourceReader::open(&Input::Stdin, format, resume).unwrap_err();
        assert!(matches!(e, SourceError::ResumeOnStdin), "{e:?}");
    }
}

#[test]
fn reader_reports_sizes_and_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<SourceReader>();
    assert_send::<Row>();

    let dir = TempDir::new().unwrap();
    let data = b"id\nu1\nu2\n";
    let mut reader = open(&write(&dir, "s.csv", data), None).unwrap();
    assert_eq!(reader.total_size(), Some(data.len() as u64));
    assert_eq!(reader.format(), Format::CSV);
    assert_eq!(reader.bytes_read(), 3);
    let first = reader.next().unwrap().unwrap();
    assert_eq!(reader.bytes_read(), first.end);
    assert_eq!(reader.by_ref().count(), 1);
    assert_eq!(reader.bytes_read(), data.len() as u64);
}

#[test]
fn resume_before_the_first_row_starts_at_the_first_row() {
    let dir = TempDir::new().unwrap();
    let csv = write(&dir, "r.csv", b"\xEF\xBB\xBFid\nu1\nu2\n");
    let jsonl = write(&dir, "r.jsonl", b"\xEF\xBB\xBF{\"id\":\"u1\"}\n");
    for path in [csv, jsonl] {
        let all = read(&path, None);
        let from_zero = read(&path, Some(Position { offset: 0, row: 1 }));
        assert_eq!(all, from_zero);
    }
}

#[test]
fn resume_past_the_end_reads_nothing() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "r.csv", b"id\nu1\n");
    let resume = Some(Position {
        offset: 100,
        row: 9,
    });
    assert!(read(&path, resume).is_empty());
}

#[test]
fn from_reader_reads_like_a_file() {
    let data = b"\xEF\xBB\xBFid,n\r\nu1,\"a\nb\"\r\nu2,c\r\n".to_vec();
    let from_file = rows_of("f.csv", &data);
    let reader = SourceReader::from_reader("memory", Chunked::new(data, vec![1]), Format::CSV);
    let reader = reader.unwrap();
    assert_eq!((reader.total_size(), reader.name()), (None, "memory"));
    let rows: Vec<Row> = reader.map(Result::unwrap).collect();
    assert_eq!(rows, from_file);
}

#[test]
fn read_failure_is_an_error_that_ends_the_stream() {
    /// Hands out `data`, then fails.
    struct Failing(&'static [u8]);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let reader = SourceReader::from_reader("flaky", Failing(b"id\nu1\nu2"), Format::CSV).unwrap();
    let items: Vec<_> = reader.collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().row, 1);
    let e = items[1].as_ref().unwrap_err();
    assert!(matches!(e, SourceError::Io { .. }));
    assert_eq!(e.to_string(), "cannot read flaky: disk on fire");
}

/// A reader that hands out its bytes in chunks of the given sizes (cycled),
/// like a pipe, so that rows straddle reads at every possible place.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl Chunked {
    fn new(data: Vec<u8>, sizes: Vec<usize>) -> Chunked {
        Chunked {
            data,
            pos: 0,
            sizes,
            turn: 0,
        }
    }
}

impl std::io::Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Checks that reading `bytes` through chunked reads gives the rows of `path`.
fn check_chunked(
    path: &Path,
    bytes: &[u8],
    format: Format,
    sizes: Vec<usize>,
) -> Result<(), TestCaseError> {
    let chunked = Chunked::new(bytes.to_vec(), sizes);
    let rows: Vec<Row> = SourceReader::from_reader("chunks", chunked, format)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    prop_assert_eq!(rows, read(path, None));
    Ok(())
}

// ---------------------------------------------------------------- properties

/// Checks that resuming at any row, or just after it, reads exactly the rest
/// of the full read.
fn check_resume(path: &Path) -> Result<(), TestCaseError> {
    let all = read(path, None);
    for (i, row) in all.iter().enumerate() {
        prop_assert_eq!(&read(path, Some(Position::at(row)))[..], &all[i..]);
        prop_assert_eq!(&read(path, Some(Position::after(row)))[..], &all[i + 1..]);
    }
    Ok(())
}

/// A CSV cell: text with the characters that need quoting, or broken UTF-8.
fn cell() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => "[a-cé ,\"\r\n]{0,6}".prop_map(String::into_bytes),
        1 => Just(b"x\xFFy".to_vec()),
    ]
}

/// A generated CSV file and the records it holds (each with its expected
/// fields when it has the header's field count and is UTF-8). `modelled`
/// records come first: after them, a record spans lines with the wrong field
/// count or starts with a stray quote, and what follows is only checked for
/// the resume and chunking properties.
#[derive(Debug)]
struct CsvCase {
    bytes: Vec<u8>,
    records: Vec<Vec<Vec<u8>>>,
    columns: usize,
    modelled: usize,
}

fn csv_case() -> impl Strategy<Value = CsvCase> {
    let columns = 1..4usize;
    columns
        .prop_flat_map(|columns| {
            let record = prop::collection::vec(cell(), 1..=columns + 1);
            // Per record: fields, terminator, blank lines after, quote
            // everything, start with a stray quote.
            let line = (
                record,
                prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
                0..2usize,
                any::<bool>(),
                prop::bool::weighted(0.1),
            );
            (
                Just(columns),
                any::<bool>(),
                prop::collection::vec(line, 0..12),
                any::<bool>(),
            )
        })
        .prop_map(|(columns, bom, lines, final_newline)| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            let header: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
            bytes.extend_from_slice(header.join(",").as_bytes());
            bytes.extend_from_slice(b"\n");
            let count = lines.len();
            let mut records = Vec::new();
            let mut modelled = None;
            for (i, (record, term, blanks, quote_all, stray)) in lines.into_iter().enumerate() {
                let multi_line = record.iter().flatten().any(|b| matches!(b, b'\r' | b'\n'));
                if stray || (multi_line && record.len() != columns) {
                    modelled.get_or_insert(i);
                }
                if stray {
                    bytes.push(b'"');
                }
                write_record(&mut bytes, &record, quote_all);
                if i + 1 < count || final_newline {
                    bytes.extend_from_slice(term.as_bytes());
                    for _ in 0..blanks {
                        bytes.extend_from_slice(term.as_bytes());
                    }
                }
                records.push(record);
            }
            CsvCase {
                bytes,
                modelled: modelled.unwrap_or(records.len()),
                records,
                columns,
            }
        })
}

/// Writes one CSV record, quoting where needed (and everywhere if `quote_all`).
fn write_record(out: &mut Vec<u8>, record: &[Vec<u8>], quote_all: bool) {
    for (i, field) in record.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // A lone empty field must be quoted, or the row is a blank line.
        let lone_empty = record.len() == 1 && field.is_empty();
        let special = field
            .iter()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
        if quote_all || special || lone_empty {
            out.push(b'"');
            for &b in field {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(field);
        }
    }
}

/// A JSON Lines line: an object, a blank line, or a broken line.
fn jsonl_line() -> impl Strategy<Value = Vec<u8>> {
    let object = (
        "[a-cé\"\\\\]{0,5}",
        any::<bool>(),
        prop::option::of(0..1000i64),
    )
        .prop_map(|(s, b, n)| {
            serde_json::to_vec(&json!({"id": s, "flag": b, "n": n, "groups": [s, "g"]})).unwrap()
        });
    prop_oneof![
        6 => object,
        1 => "[ \t]{0,3}".prop_map(String::into_bytes),
        1 => Just(b"{\"id\":".to_vec()),
        1 => Just(b"[1,2]".to_vec()),
        1 => Just(b"{\"id\":\"\xFF\"}".to_vec()),
        1 => Just(br#" {"i\u0064" : "\u00e9\n", "id": [1, "x"] } "#.to_vec()),
        1 => Just(b"{\"id\":\"tab\there\"}".to_vec()),
        1 => Just(br#"{"id":"\udbff\udfff","x":["\udfff"]}"#.to_vec()),
    ]
}

/// An element of a users array: an object (with nested values and
/// brackets inside strings), or another JSON value, or a broken object.
fn json_element() -> impl Strategy<Value = String> {
    let object = (
        "[a-c\\[\\]{}\"\\\\,é]{0,5}",
        any::<bool>(),
        prop::option::of(0..1000i64),
    )
        .prop_map(|(s, b, n)| {
            json!({"id": s, "flag": b, "n": n, "nested": {"a": [s, {"b": []}]}}).to_string()
        });
    prop_oneof![
        6 => object,
        1 => Just("12".to_owned()),
        1 => Just("null".to_owned()),
        1 => Just("\"a]\\\"b\"".to_owned()),
        1 => Just("[1, [2, {}]]".to_owned()),
        1 => Just("{\"id\":1,}".to_owned()),
        1 => Just("{ \"i\\u0064\" : \"\\u00e9\", \"id\": [1, \"x\"] }".to_owned()),
    ]
}

fn jsonl_file() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::collection::vec((jsonl_line(), any::<bool>()), 0..12),
        any::<bool>(),
    )
        .prop_map(|(bom, lines, final_newline)| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            let count = lines.len();
            for (i, (line, crlf)) in lines.into_iter().enumerate() {
                bytes.extend_from_slice(&line);
                if i + 1 < count || final_newline {
                    bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn csv_reads_back_what_was_written_and_resumes_exactly(
        case in csv_case(),
        sizes in prop::collection::vec(1..8usize, 1..4),
    ) {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "p.csv", &case.bytes);
        let rows = read(&path, None);
        if case.modelled == case.records.len() {
            prop_assert_eq!(rows.len(), case.records.len());
        }
        let modelled = rows.iter().zip(&case.records).take(case.modelled);
        for (i, (row, record)) in modelled.enumerate() {
            prop_assert_eq!(row.row, i as u64 + 1);
            let utf8 = record.iter().all(|f| std::str::from_utf8(f).is_ok());
            match &row.body {
                RowBody::Fields(f) => {
                    prop_assert!(utf8 && record.len() == case.columns);
                    for (c, expected) in record.iter().enumerate() {
                        let got = f.get(&format!("c{c}"));
                        prop_assert_eq!(got.as_deref().map(str::as_bytes), Some(&expected[..]));
                    }
                }
                RowBody::Invalid(bad) => {
                    prop_assert!(!utf8 || record.len() != case.columns, "{:?}", bad);
                }
            }
        }
        check_resume(&path)?;
        check_chunked(&path, &case.bytes, Format::CSV, sizes)?;
    }

    #[test]
    fn jsonl_counts_non_blank_lines_and_resumes_exactly(
        bytes in jsonl_file(),
        sizes in prop::collection::vec(1..8usize, 1..4),
    ) {
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "p.jsonl", &bytes);
        let rows = read(&path, None);
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let non_blank = text
            .split(|&b| b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .count();
        prop_assert_eq!(rows.len(), non_blank);
        for row in &rows {
            let line = &bytes[row.offset as usize..row.end as usize];
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let parsed: Option<serde_json::Value> = serde_json::from_slice(line).ok();
            match (&row.body, parsed) {
                (RowBody::Fields(f), Some(value)) => {
                    for (key, v) in value.as_object().unwrap() {
                        prop_assert_eq!(f.get(key), fields::json_text(v));
                    }
                    prop_assert_eq!(f.to_json(), value);
                }
                (RowBody::Invalid(_), parsed) => {
                    prop_assert!(!parsed.is_some_and(|v| v.is_object()))
                }
                (RowBody::Fields(_), None) => prop_assert!(false, "{:?} parsed", row),
            }
        }
        check_resume(&path)?;
        check_chunked(&path, &bytes, Format::JSON_LINES, sizes)?;
    }

    #[test]
    fn documents_read_as_json_lines_of_their_elements_and_resume_exactly(
        elements in prop::collection::vec(json_element(), 0..10),
        shape in 0..3usize,
        gap in "[ \t\r\n]{0,2}",
        sizes in prop::collection::vec(1..8usize, 1..4),
        gzipped in any::<bool>(),
    ) {
        let list = elements.join(&format!(",{gap}"));
        let doc = match shape {
            0 => format!("[{gap}{list}{gap}]"),
            1 => format!("{{\"before\":[{{\"users\":[1]}}],{gap}\"users\":{gap}[{list}],\"after\":\"]\"}}"),
            _ => format!("{{{gap}\"Users\" : [{gap}{list}{gap}]{gap}}}{gap}"),
        };
        let bytes = if gzipped { gzip(doc.as_bytes(), 2) } else { doc.clone().into_bytes() };
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "p.json", &bytes);
        let rows = read(&path, None);
        let lines = rows_of("p.jsonl", elements.join("\n").as_bytes());
        prop_assert_eq!(rows.len(), elements.len());
        for ((row, line), element) in rows.iter().zip(&lines).zip(&elements) {
            prop_assert_eq!(&row.body, &line.body);
            prop_assert_eq!(&doc.as_bytes()[row.offset as usize..row.end as usize], element.as_bytes());
        }
        check_resume(&path)?;
        check_chunked(&path, &bytes, Format::JSON_DOCUMENT, sizes)?;
    }
}

// ---------------------------------------------------------------- gzip

/// `bytes` gzipped; several members when `members` > 1 (as `cat a.gz b.gz`).
fn gzip(bytes: &[u8], members: usize) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    let chunk = bytes.len().div_ceil(members.max(1)).max(1);
    for part in bytes.chunks(chunk) {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(part).unwrap();
        out.extend(encoder.finish().unwrap());
    }
    out
}

#[test]
fn gzip_reads_like_the_plain_file_with_the_same_positions() {
    let csv = b"\xEF\xBB\xBFid,note\nu1,\"a\nb\"\nu2,x\nu3,\"stray\nu4,y\n".to_vec();
    let jsonl = b"{\"id\":\"u1\"}\n\n{\"id\":\"u2\"}\n".to_vec();
    let dir = TempDir::new().unwrap();
    for (name, plain) in [("u.csv", &csv), ("u.jsonl", &jsonl)] {
        let expected = read(&write(&dir, name, plain), None);
        for members in [1, 3] {
            let gz = write(&dir, &format!("{name}.gz"), &gzip(plain, members));
            assert_eq!(read(&gz, None), expected, "{name} in {members} members");
            check_resume(&gz).unwrap();
            // By content, whatever the name.
            let unnamed = write(&dir, &format!("plain-{name}"), &gzip(plain, members));
            assert_eq!(read(&unnamed, None), expected);
        }
    }
    let reader = open(&dir.path().join("u.csv.gz"), None).unwrap();
    assert_eq!(
        reader.total_size(),
        None,
        "the decompressed size is unknown"
    );
    assert_eq!(Input::File(dir.path().join("u.csv.gz")).size(), None);
    assert_eq!(
        Input::File(dir.path().join("u.csv")).size(),
        Some(csv.len() as u64)
    );
}

#[test]
fn gzip_from_a_stream_is_read_without_a_name() {
    let data = gzip(b"id\nu1\nu2\n", 1);
    let reader = SourceReader::from_reader("pipe", Chunked::new(data, vec![3]), Format::CSV);
    let rows: Vec<Row> = reader.unwrap().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(get(&rows[1], "id").as_deref(), Some("u2"));
}

#[test]
fn truncated_gzip_is_an_error_after_the_rows_before_it() {
    let mut plain = Vec::new();
    for i in 0..50_000 {
        plain
            .extend_from_slice(format!("{{\"id\":\"u{i}\",\"email\":\"u{i}@x.io\"}}\n").as_bytes());
    }
    let gz = gzip(&plain, 1);
    let dir = TempDir::new().unwrap();
    for cut in [gz.len() - 4, gz.len() / 2] {
        let path = write(&dir, "t.jsonl.gz", &gz[..cut]);
        let items: Vec<_> = open(&path, None).unwrap().collect();
        let (last, rows) = items.split_last().unwrap();
        let e = last.as_ref().unwrap_err();
        assert!(matches!(e, SourceError::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("the gzip data is truncated"), "{e}");
        assert!(rows.len() <= 50_000);
        assert!(rows.iter().all(|r| r.is_ok()));
    }
    // A file cut inside the gzip header cannot be opened at all.
    let e = open_error("h.jsonl.gz", &gz[..5]);
    assert!(e.to_string().contains("gzip"), "{e}");
}

// ---------------------------------------------------------------- JSON documents

/// The elements of a users array, as JSON Lines: what a document must read as.
const USERS: [&str; 3] = [
    r#"{"localId":"u1","email":"a@x.io","providerUserInfo":[{"providerId":"google.com"}]}"#,
    r#"{"localId":"u2","disabled":true,"customAttributes":"{\"tier\":\"]gold[\"}"}"#,
    r#"{ "localId" : "u3", "n": [1, {"k": "}"}], "e": null }"#,
];

/// Checks that `rows` hold the fields a JSON Lines file of `USERS` gives.
fn assert_users(rows: &[Row]) {
    let jsonl = rows_of("u.jsonl", USERS.join("\n").as_bytes());
    assert_eq!(rows.len(), jsonl.len());
    for (doc, line) in rows.iter().zip(&jsonl) {
        assert_eq!(doc.body, line.body);
        assert_eq!(doc.row, line.row);
    }
}

#[test]
fn documents_in_every_vendor_shape_read_as_their_users() {
    let list = USERS.join(",\n  ");
    let shapes = [
        // firebase auth:export
        format!("{{\"users\": [\n{list}\n]}}\n"),
        // kc.sh export, pretty-printed, users among other members
        format!(
            "{{\n  \"realm\" : \"acme\",\n  \"roles\" : {{ \"realm\" : [ {{\"name\":\"users\"}} ] }},\n  \
             \"clients\" : [ {{\"users\": [\"not these\"]}} ],\n  \"users\" : [ {list} ],\n  \
             \"groups\" : [ ]\n}}"
        ),
        // cognito list-users
        format!("{{\"Users\":[{list}],\"NextToken\":\"x\\\"]}}\"}}"),
        // a bare array, with a BOM and CRLF
        format!("\u{feff}[\r\n{}\r\n]\r\n", USERS.join(",\r\n")),
        // on one line
        format!("{{\"users\":[{}]}}", USERS.join(",")),
    ];
    for shape in &shapes {
        let rows = rows_of("users.json", shape.as_bytes());
        assert_users(&rows);
        for row in &rows {
            let text = &shape.as_bytes()[row.offset as usize..row.end as usize];
            assert!(text.starts_with(b"{") && text.ends_with(b"}"), "{row:?}");
        }
        let dir = TempDir::new().unwrap();
        let path = write(&dir, "users.json", shape.as_bytes());
        check_resume(&path).unwrap();
        let gz = write(&dir, "users.json.gz", &gzip(shape.as_bytes(), 2));
        assert_eq!(read(&gz, None), read(&path, None));
        check_resume(&gz).unwrap();
    }
}

#[test]
fn json_extension_is_a_document_or_json_lines_by_content() {
    let dir = TempDir::new().unwrap();
    let cases: [(&[u8], Format); 5] = [
        (b"{\"users\": [\n{\"id\":1}\n]}", Format::JSON_DOCUMENT),
        (b"[{\"id\":1}]", Format::JSON_DOCUMENT),
        (b"{\n\"users\":[]}", Format::JSON_DOCUMENT),
        // Auth0's export job: NDJSON named .json.
        (
            b"{\"user_id\":\"auth0|1\"}\n{\"user_id\":\"auth0|2\"}\n",
            Format::JSON_LINES,
        ),
        (b"", Format::JSON_LINES),
    ];
    for (i, (bytes, expected)) in cases.into_iter().enumerate() {
        let plain = write(&dir, &format!("{i}.json"), bytes);
        let gz = write(&dir, &format!("{i}.json.gz"), &gzip(bytes, 1));
        for path in [plain, gz] {
            let input = Input::File(path.clone());
            assert_eq!(Format::resolve(&input, None).unwrap(), expected, "{path:?}");
        }
    }
    assert_eq!("json".parse::<Format>(), Ok(Format::JSON_DOCUMENT));
    // --format decides over the content.
    let lines = Input::File(dir.path().join("3.json"));
    let forced = Format::resolve(&lines, Some(Format::JSON_DOCUMENT)).unwrap();
    let e = SourceReader::open(&lines, forced, None)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err();
    assert!(e.to_string().contains("give --format jsonl"), "{e}");
}

#[test]
fn bad_elements_are_invalid_rows_and_reading_goes_on() {
    let mut big = String::from("{\"id\":\"");
    big.extend(std::iter::repeat_n('x', MAX_ROW_BYTES));
    big.push_str("\"}");
    let doc = format!(
        "{{\"users\":[5, \"text\", {{\"id\":1,}}, [1], {big}, {{\"id\":\"\\ud800\"}}, {{\"id\":\"ok\"}}]}}"
    );
    let rows = rows_of("bad.json", doc.as_bytes());
    let reasons: Vec<String> = rows[..6]
        .iter()
        .map(|r| invalid(r).reason.clone())
        .collect();
    assert_eq!(reasons[0], "is a JSON number, not an object");
    assert_eq!(reasons[1], "is a JSON string, not an object");
    assert!(
        reasons[2].starts_with("is not valid JSON: trailing comma"),
        "{}",
        reasons[2]
    );
    assert_eq!(reasons[3], "is a JSON array, not an object");
    assert_eq!(
        reasons[4],
        format!(
            "is {} bytes long, over the 65536-byte limit for a row",
            big.len()
        )
    );
    assert_eq!(invalid(&rows[4]).raw.len(), RAW_PREFIX_BYTES);
    assert!(
        reasons[5].starts_with("is not valid JSON"),
        "{}",
        reasons[5]
    );
    assert_eq!(
        (rows[6].row, get(&rows[6], "id").as_deref()),
        (7, Some("ok"))
    );
}

/// The error that ends reading `bytes` as a `.json` document, after its rows.
fn document_error(bytes: &[u8]) -> (usize, String) {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "d.json", bytes);
    let input = Input::File(path);
    let items: Vec<_> = SourceReader::open(&input, Format::JSON_DOCUMENT, None)
        .unwrap()
        .collect();
    let (last, rows) = items.split_last().expect("an error");
    let e = last.as_ref().expect_err("the last item is an error");
    assert!(matches!(e, SourceError::Io { .. }), "{e:?}");
    (rows.len(), e.to_string())
}

#[test]
fn broken_documents_are_read_errors_at_the_byte_they_break() {
    let cases: [(&[u8], usize, &str); 7] = [
        (b"{\"users\":[{\"id\":1},{\"id\":2}", 2, "ends early"),
        (b"{\"users\":[{\"id\":1},{\"id\":", 1, "ends inside a value"),
        (
            b"[{\"id\":1} {\"id\":2}]",
            1,
            "has `{` where `,` or `]` should be",
        ),
        (b"[{\"id\":1},]", 1, "has `]` where an element should be"),
        (
            b"{\"users\":5}",
            0,
            "has a users member that is not an array",
        ),
        (b"{\"users\":[]} []", 0, "has `[` after its end"),
        (b"{\"realm\" 1}", 0, "without `:`"),
    ];
    for (bytes, rows, message) in cases {
        let (n, e) = document_error(bytes);
        assert_eq!(n, rows, "{e}");
        assert!(e.contains(message), "{e}");
        assert!(e.contains("at byte "), "{e}");
    }
}

#[test]
fn documents_without_users_have_no_rows() {
    for doc in [
        &b"{\"realm\":\"acme\",\"clients\":[{\"id\":1}]}"[..],
        b"{}",
        b"[]",
        b"{\"users\":null}",
        b"  ",
    ] {
        let dir = TempDir::new().unwrap();
        let input = Input::File(write(&dir, "realm.json", doc));
        let rows: Vec<Row> = SourceReader::open(&input, Format::JSON_DOCUMENT, None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(rows.is_empty(), "{}", String::from_utf8_lossy(doc));
    }
}

#[test]
fn what_does_not_start_like_a_document_cannot_be_opened_as_one() {
    let dir = TempDir::new().unwrap();
    let input = Input::File(write(&dir, "u.csv", b"id,email\nu1,a\n"));
    let e = SourceReader::open(&input, Format::JSON_DOCUMENT, None).unwrap_err();
    assert!(matches!(e, SourceError::NotADocument { .. }), "{e:?}");
    assert!(e.to_string().contains("starts with `i`"), "{e}");
}

// ---------------------------------------------------------------- directories

/// A Keycloak-style export directory: a realm file without users, then
/// `acme-users-<n>.json` for n in 0..12 (two users each; 7 gzipped).
fn keycloak_dir() -> TempDir {
    let dir = TempDir::new().unwrap();
    write(
        &dir,
        "acme-realm.json",
        b"{\n  \"realm\" : \"acme\",\n  \"roles\" : [ ]\n}\n",
    );
    for n in 0..12 {
        let doc = format!(
            "{{\n  \"realm\" : \"acme\",\n  \"users\" : [ {{\"id\":\"u{n}a\"}}, {{\"id\":\"u{n}b\"}} ]\n}}\n"
        );
        if n == 7 {
            write(
                &dir,
                &format!("acme-users-{n}.json.gz"),
                &gzip(doc.as_bytes(), 1),
            );
        } else {
            write(&dir, &format!("acme-users-{n}.json"), doc.as_bytes());
        }
    }
    // Not sources: left out.
    write(&dir, "README.txt", b"not users");
    write(&dir, ".hidden.json", b"[{\"id\":\"hidden\"}]");
    std::fs::create_dir(dir.path().join("sub.json")).unwrap();
    write(&dir, "sub.json/inner.json", b"[{\"id\":\"inner\"}]");
    dir
}

#[test]
fn a_directory_is_its_files_in_numeric_name_order() {
    let dir = keycloak_dir();
    let input = Input::File(dir.path().to_path_buf());
    assert_eq!(
        Format::resolve(&input, None).unwrap(),
        Format::JSON_DOCUMENT
    );
    let rows = read(dir.path(), None);
    let ids: Vec<String> = rows.iter().map(|r| get(r, "id").unwrap()).collect();
    let expected: Vec<String> = (0..12)
        .flat_map(|n| [format!("u{n}a"), format!("u{n}b")])
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(
        rows.iter().map(|r| r.row).collect::<Vec<_>>(),
        (1..=24).collect::<Vec<_>>()
    );
    assert!(rows.windows(2).all(|w| w[0].end <= w[1].offset));
    check_resume(dir.path()).unwrap();
    let reader = open(dir.path(), None).unwrap();
    assert_eq!(reader.total_size(), None, "one member is gzipped");
}

#[test]
fn a_directory_of_csv_files_resumes_across_files() {
    let dir = TempDir::new().unwrap();
    write(
        &dir,
        "part-2.csv",
        b"id,email\nu3,c@x.io\r\nu4,\"d\n@x.io\"\n",
    );
    write(
        &dir,
        "part-1.csv",
        b"\xEF\xBB\xBFid,email\nu1,a@x.io\nu2,\"stray\nu2b,b@x.io\n\n",
    );
    write(&dir, "part-10.csv", b"id,email\nu5,e@x.io");
    let rows = read(dir.path(), None);
    let ids: Vec<Option<String>> = rows
        .iter()
        .map(|r| match &r.body {
            RowBody::Fields(f) => f.get("id").map(|v| v.into_owned()),
            RowBody::Invalid(_) => None,
        })
        .collect();
    let expected = [
        Some("u1"),
        None,
        Some("u2b"),
        Some("u3"),
        Some("u4"),
        Some("u5"),
    ];
    assert_eq!(ids, expected.map(|s| s.map(str::to_owned)));
    check_resume(dir.path()).unwrap();
    let reader = open(dir.path(), None).unwrap();
    assert_eq!(reader.headers().unwrap(), ["id", "email"]);
    let sizes: u64 = ["part-1.csv", "part-2.csv", "part-10.csv"]
        .iter()
        .map(|n| std::fs::metadata(dir.path().join(n)).unwrap().len())
        .sum();
    assert_eq!(reader.total_size(), Some(sizes));
    assert_eq!(rows.last().unwrap().end, sizes);
}

#[test]
fn directories_that_cannot_be_a_source_are_errors() {
    let empty = TempDir::new().unwrap();
    std::fs::create_dir(empty.path().join("nested")).unwrap();
    write(&empty, "nested/users.csv", b"id\nu1\n");
    write(&empty, "notes.txt", b"x");
    let e = open(empty.path(), None).unwrap_err();
    assert!(matches!(e, SourceError::EmptyDirectory { .. }), "{e:?}");
    assert!(e.to_string().contains("holds no source file"), "{e}");

    let mixed = TempDir::new().unwrap();
    write(&mixed, "a.csv", b"id\nu1\n");
    write(&mixed, "b.jsonl", b"{\"id\":\"u2\"}\n");
    let e = open(mixed.path(), None).unwrap_err();
    assert!(matches!(e, SourceError::MixedDirectory { .. }), "{e:?}");

    let columns = TempDir::new().unwrap();
    write(&columns, "a.csv", b"id,email\nu1,a\n");
    write(&columns, "b.csv", b"id,mail\nu2,b\n");
    let e = open(columns.path(), None).unwrap_err();
    assert!(e.to_string().contains("has other columns than"), "{e}");
}

#[test]
fn a_broken_member_is_an_error_naming_it() {
    let dir = TempDir::new().unwrap();
    write(&dir, "a.jsonl", b"{\"id\":\"u1\"}\n");
    let gz = gzip(b"{\"id\":\"u2\"}\n{\"id\":\"u3\"}\n", 1);
    write(&dir, "b.jsonl.gz", &gz[..gz.len() - 6]);
    let items: Vec<_> = open(dir.path(), None).unwrap().collect();
    let e = items.last().unwrap().as_ref().unwrap_err();
    assert!(e.to_string().contains("b.jsonl.gz"), "{e}");
    assert!(e.to_string().contains("gzip data is truncated"), "{e}");
}
