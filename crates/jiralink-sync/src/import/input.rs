//! Reading an import's input one record at a time: NDJSON, a JSON array or CSV with a header
//! row, from any [`BufRead`], in constant memory.
//!
//! A record that cannot be read (malformed JSON, not an object, a CSV row with the wrong number
//! of cells) becomes an [`InputRecord`] whose `fields` is the reason, with its line number; the
//! reader goes on with the next one. Only input that cannot be split into records at all (a
//! JSON array that never closes, a record over [`MAX_RECORD_BYTES`]) ends the reading.

use std::io::BufRead;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The largest single record read; a bigger one ends the input with an error rather than
/// holding an unbounded amount of memory.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// How the input is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// One JSON object per line; blank lines are skipped.
    Ndjson,
    /// One JSON array of objects.
    Json,
    /// CSV with a header row; every value is text.
    Csv,
}

impl InputFormat {
    /// The format a file name suggests (`.ndjson`/`.jsonl`, `.json`, `.csv`).
    #[must_use]
    pub fn from_file_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
            Some(Self::Ndjson)
        } else if lower.ends_with(".json") {
            Some(Self::Json)
        } else if lower.ends_with(".csv") {
            Some(Self::Csv)
        } else {
            None
        }
    }

    /// The name used in options and messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }
}

/// One input record.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRecord {
    /// Position among the input's records, from 0 (blank NDJSON lines do not count).
    pub ordinal: u64,
    /// The line the record starts on, from 1 (the header row of a CSV file is line 1).
    pub line: u64,
    /// The record, or why it could not be read.
    pub fields: Result<Map<String, Value>, String>,
}

/// Input that cannot be split into records any more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct InputError {
    /// Where reading stopped.
    pub line: u64,
    /// Why.
    pub message: String,
}

/// A stream of records.
pub trait RecordSource: Send + Sync {
    /// The next record, `Ok(None)` at the end.
    ///
    /// # Errors
    /// [`InputError`] when the rest of the input cannot be read.
    fn next_record(&mut self) -> Result<Option<InputRecord>, InputError>;
}

/// Opens a reader of `format` over `input`.
pub fn reader<R: BufRead + Send + Sync + 'static>(
    format: InputFormat,
    input: R,
) -> Box<dyn RecordSource> {
    match format {
        InputFormat::Ndjson => Box::new(NdjsonReader::new(input)),
        InputFormat::Json => Box::new(JsonArrayReader::new(input)),
        InputFormat::Csv => Box::new(CsvReader::new(input)),
    }
}

fn object(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!(
            "expected a JSON object, found {}",
            json_kind(&other)
        )),
    }
}

/// The JSON type's name as messages use it.
#[must_use]
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => object(v),
        Err(e) => Err(format!("malformed JSON: {e}")),
    }
}

/// NDJSON: one object per line.
struct NdjsonReader<R> {
    input: R,
    line: u64,
    ordinal: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> NdjsonReader<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            ordinal: 0,
            buf: Vec::new(),
        }
    }
}

impl<R: BufRead + Send + Sync> RecordSource for NdjsonReader<R> {
    fn next_record(&mut self) -> Result<Option<InputRecord>, InputError> {
        loop {
            self.buf.clear();
            let n = read_line_bounded(&mut self.input, &mut self.buf).map_err(|message| {
                InputError {
                    line: self.line + 1,
                    message,
                }
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let record = InputRecord {
                ordinal: self.ordinal,
                line: self.line,
                fields: parse_object(text),
            };
            self.ordinal += 1;
            return Ok(Some(record));
        }
    }
}

/// Reads one line (with its newline) into `buf`, refusing lines over [`MAX_RECORD_BYTES`].
fn read_line_bounded<R: BufRead>(input: &mut R, buf: &mut Vec<u8>) -> Result<usize, String> {
    let mut total = 0;
    loop {
        let available = input.fill_buf().map_err(|e| e.to_string())?;
        if available.is_empty() {
            return Ok(total);
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > MAX_RECORD_BYTES {
            return Err(format!(
                "a record is longer than {} MiB",
                MAX_RECORD_BYTES / (1024 * 1024)
            ));
        }
        buf.extend_from_slice(&available[..take]);
        input.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}

/// A JSON array, read element by element: the bytes of one element are collected (tracking
/// strings and nesting) and parsed alone, so the array is never held whole.
struct JsonArrayReader<R> {
    input: R,
    line: u64,
    ordinal: u64,
    state: ArrayState,
    buf: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// Before the opening `[`.
    Start,
    /// Inside the array, before an element or the closing `]`.
    Inside,
    /// After the closing `]`.
    Done,
}

impl<R: BufRead> JsonArrayReader<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            line: 1,
            ordinal: 0,
            state: ArrayState::Start,
            buf: Vec::new(),
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, InputError> {
        let line = self.line;
        let available = self.input.fill_buf().map_err(|e| InputError {
            line,
            message: e.to_string(),
        })?;
        Ok(available.first().copied())
    }

    fn bump(&mut self) {
        self.input.consume(1);
    }

    /// Skips whitespace; the next byte, not consumed.
    fn skip_space(&mut self) -> Result<Option<u8>, InputError> {
        while let Some(b) = self.peek()? {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return Ok(Some(b)),
            }
            self.bump();
        }
        Ok(None)
    }

    fn fail<T>(&mut self, message: impl Into<String>) -> Result<T, InputError> {
        self.state = ArrayState::Done;
        Err(InputError {
            line: self.line,
            message: message.into(),
        })
    }

    /// Collects one element's bytes into `buf`; stops before the `,` or `]` that ends it.
    fn collect_element(&mut self) -> Result<(), InputError> {
        self.buf.clear();
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek()? else {
                return self.fail("the JSON array is not closed with ]");
            };
            if !in_string && depth == 0 && matches!(b, b',' | b']') {
                return Ok(());
            }
            if self.buf.len() >= MAX_RECORD_BYTES {
                return self.fail(format!(
                    "a record is longer than {} MiB",
                    MAX_RECORD_BYTES / (1024 * 1024)
                ));
            }
            self.buf.push(b);
            self.bump();
            if b == b'\n' {
                self.line += 1;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
}

impl<R: BufRead + Send + Sync> RecordSource for JsonArrayReader<R> {
    fn next_record(&mut self) -> Result<Option<InputRecord>, InputError> {
        loop {
            match self.state {
                ArrayState::Done => return Ok(None),
                ArrayState::Start => match self.skip_space()? {
                    Some(b'[') => {
                        self.bump();
                        self.state = ArrayState::Inside;
                    }
                    Some(_) => return self.fail("a JSON input must be one array of objects"),
                    None => {
                        self.state = ArrayState::Done;
                        return Ok(None);
                    }
                },
                ArrayState::Inside => {
                    match self.skip_space()? {
                        Some(b']') => {
                            self.bump();
                            self.state = ArrayState::Done;
                            if let Some(b) = self.skip_space()? {
                                return self.fail(format!(
                                    "unexpected {:?} after the array",
                                    char::from(b)
                                ));
                            }
                            return Ok(None);
                        }
                        Some(b',') if self.ordinal > 0 => {
                            self.bump();
                            if matches!(self.skip_space()?, Some(b']')) {
                                return self.fail("a trailing comma before ]");
                            }
                        }
                        Some(_) => {}
                        None => return self.fail("the JSON array is not closed with ]"),
                    }
                    let line = self.line;
                    self.collect_element()?;
                    if self.buf.trim_ascii().is_empty() {
                        return self.fail("an empty element in the array");
                    }
                    let record = InputRecord {
                        ordinal: self.ordinal,
                        line,
                        fields: parse_object(&self.buf),
                    };
                    self.ordinal += 1;
                    return Ok(Some(record));
                }
            }
        }
    }
}

/// CSV with a header row; cells are strings, empty cells are left out. Parsed with
/// `csv-core` over the input's own buffer so each record's first line is known exactly (blank
/// lines and line breaks inside quoted cells counted).
struct CsvReader<R> {
    input: R,
    parser: csv_core::Reader,
    headers: Option<Vec<String>>,
    /// The current line (1-based) of the next byte to read.
    line: u64,
    ordinal: u64,
    output: Vec<u8>,
    ends: Vec<usize>,
    done: bool,
}

impl<R: BufRead> CsvReader<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            parser: csv_core::Reader::new(),
            headers: None,
            line: 1,
            ordinal: 0,
            output: vec![0; 4096],
            ends: vec![0; 64],
            done: false,
        }
    }

    /// The next record's cells (as `output[..]` split at `ends`) and its first line.
    fn read_raw(&mut self) -> Result<Option<(u64, usize)>, InputError> {
        use csv_core::ReadRecordResult as R;
        if self.done {
            return Ok(None);
        }
        let mut start_line: Option<u64> = None;
        let (mut out_len, mut ends_len) = (0, 0);
        loop {
            let line = self.line;
            let input = self.input.fill_buf().map_err(|e| InputError {
                line,
                message: e.to_string(),
            })?;
            let (result, nin, nout, nend) = self.parser.read_record(
                input,
                &mut self.output[out_len..],
                &mut self.ends[ends_len..],
            );
            for &b in &input[..nin] {
                if start_line.is_none() && b != b'\n' && b != b'\r' {
                    start_line = Some(self.line);
                }
                if b == b'\n' {
                    self.line += 1;
                }
            }
            self.input.consume(nin);
            // csv-core keeps a record's field ends counted from the record's start across
            // calls, so they index `output` directly.
            out_len += nout;
            ends_len += nend;
            match result {
                R::InputEmpty => {}
                R::OutputFull => {
                    if self.output.len() >= MAX_RECORD_BYTES {
                        self.done = true;
                        return Err(InputError {
                            line: start_line.unwrap_or(self.line),
                            message: format!(
                                "a record is longer than {} MiB",
                                MAX_RECORD_BYTES / (1024 * 1024)
                            ),
                        });
                    }
                    let n = self.output.len() * 2;
                    self.output.resize(n, 0);
                }
                R::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                R::Record => return Ok(Some((start_line.unwrap_or(self.line), ends_len))),
                R::End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }
}

impl<R: BufRead + Send + Sync> RecordSource for CsvReader<R> {
    fn next_record(&mut self) -> Result<Option<InputRecord>, InputError> {
        loop {
            let Some((line, n_ends)) = self.read_raw()? else {
                return Ok(None);
            };
            let cells: Vec<&[u8]> = {
                let mut start = 0;
                self.ends[..n_ends]
                    .iter()
                    .map(|&end| {
                        let cell = &self.output[start..end];
                        start = end;
                        cell
                    })
                    .collect()
            };
            let Some(headers) = &self.headers else {
                let mut names = Vec::with_capacity(cells.len());
                for (i, cell) in cells.iter().enumerate() {
                    let Ok(name) = std::str::from_utf8(cell) else {
                        return Err(InputError {
                            line,
                            message: format!("header {} is not UTF-8", i + 1),
                        });
                    };
                    let name = name.trim_start_matches('\u{feff}').trim().to_owned();
                    if name.is_empty() {
                        return Err(InputError {
                            line,
                            message: format!("header {} is empty", i + 1),
                        });
                    }
                    if names.contains(&name) {
                        return Err(InputError {
                            line,
                            message: format!("header {name:?} appears twice"),
                        });
                    }
                    names.push(name);
                }
                self.headers = Some(names);
                continue;
            };
            let fields = if cells.len() == headers.len() {
                let mut map = Map::new();
                let mut bad = None;
                for (name, cell) in headers.iter().zip(&cells) {
                    match std::str::from_utf8(cell) {
                        Ok("") => {}
                        Ok(text) => {
                            map.insert(name.clone(), Value::String(text.to_owned()));
                        }
                        Err(_) => {
                            bad = Some(format!("column {name:?} is not UTF-8"));
                            break;
                        }
                    }
                }
                bad.map_or(Ok(map), Err)
            } else {
                Err(format!(
                    "{} cells, but the header row has {}",
                    cells.len(),
                    headers.len()
                ))
            };
            let record = InputRecord {
                ordinal: self.ordinal,
                line,
                fields,
            };
            self.ordinal += 1;
            return Ok(Some(record));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn read_all(format: InputFormat, text: &str) -> (Vec<InputRecord>, Option<InputError>) {
        let mut r = reader(format, std::io::Cursor::new(text.as_bytes().to_vec()));
        let mut out = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some(rec)) => out.push(rec),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn ndjson_fails_bad_lines_alone() {
        let (recs, err) = read_all(InputFormat::Ndjson, "{\"a\":1}\n\n{bad\n[1]\n{\"b\":\"x\"}");
        assert_eq!(err, None);
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[0].fields, Ok(obj(json!({"a":1}))));
        assert_eq!((recs[1].line, recs[1].ordinal), (3, 1));
        assert!(
            recs[1]
                .fields
                .as_ref()
                .is_err_and(|e| e.contains("malformed JSON"))
        );
        assert_eq!(
            recs[2].fields,
            Err("expected a JSON object, found an array".into())
        );
        assert_eq!((recs[3].line, recs[3].ordinal), (5, 3));
    }

    #[test]
    fn json_array_is_read_element_by_element_with_lines() {
        let (recs, err) = read_all(
            InputFormat::Json,
            "[\n {\"a\": \"x,]}\\\"\"},\n {\"b\": [1, {\"c\": 2}]},\n 3\n]\n",
        );
        assert_eq!(err, None);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].fields, Ok(obj(json!({"a":"x,]}\""}))));
        assert_eq!(recs[1].fields, Ok(obj(json!({"b":[1,{"c":2}]}))));
        assert_eq!(recs[1].line, 3);
        assert_eq!(
            recs[2].fields,
            Err("expected a JSON object, found a number".into())
        );
        assert_eq!(recs[2].line, 4);
    }

    #[test]
    fn json_array_errors_end_the_input() {
        let (_, err) = read_all(InputFormat::Json, "{\"a\":1}");
        assert!(err.is_some_and(|e| e.message.contains("one array")));
        let (recs, err) = read_all(InputFormat::Json, "[{\"a\":1},\n{\"b\":2}");
        assert_eq!(recs.len(), 1);
        assert_eq!(
            err,
            Some(InputError {
                line: 2,
                message: "the JSON array is not closed with ]".into()
            })
        );
        let (recs, err) = read_all(InputFormat::Json, "[{\"a\":1},]");
        assert_eq!(recs.len(), 1);
        assert!(err.is_some_and(|e| e.message.contains("trailing comma")));
        let (recs, err) = read_all(InputFormat::Json, " [ ] ");
        assert_eq!((recs.len(), err), (0, None));
    }

    #[test]
    fn csv_lines_count_blank_lines_and_quoted_breaks() {
        let text = "id,t\r\n1,a\r\n\r\n\n2,\"x\ny\"\n3,b";
        let (recs, err) = read_all(InputFormat::Csv, text);
        assert_eq!(err, None);
        let lines: Vec<u64> = recs.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 5, 7]);
        assert_eq!(recs[1].fields, Ok(obj(json!({"id":"2","t":"x\ny"}))));
        assert_eq!(recs[2].fields, Ok(obj(json!({"id":"3","t":"b"}))));
        // A record split across the reader's buffer.
        let long = format!("id,t\n1,{}\n", "z".repeat(20_000));
        let mut r = reader(
            InputFormat::Csv,
            std::io::BufReader::with_capacity(7, std::io::Cursor::new(long.into_bytes())),
        );
        let rec = r.next_record().ok().flatten().map(|r| r.fields);
        assert_eq!(rec, Some(Ok(obj(json!({"id":"1","t":"z".repeat(20_000)})))));
    }

    #[test]
    fn csv_rows_become_objects_of_text() {
        let (recs, err) = read_all(
            InputFormat::Csv,
            "\u{feff}id,title,points\n1,\"First, one\",3\n2,Second\n\n3,,5\n",
        );
        assert_eq!(err, None);
        assert_eq!(recs.len(), 3);
        assert_eq!(
            recs[0].fields,
            Ok(obj(json!({"id":"1","title":"First, one","points":"3"})))
        );
        assert_eq!(recs[0].line, 2);
        assert_eq!(
            recs[1].fields,
            Err("2 cells, but the header row has 3".into())
        );
        assert_eq!(recs[2].fields, Ok(obj(json!({"id":"3","points":"5"}))));
        assert_eq!((recs[2].line, recs[2].ordinal), (5, 2));
    }

    #[test]
    fn csv_header_problems_end_the_input() {
        let (_, err) = read_all(InputFormat::Csv, "id,id\n1,2\n");
        assert!(err.is_some_and(|e| e.message.contains("appears twice")));
    }

    #[test]
    fn a_record_over_the_limit_ends_the_input() {
        let long = format!("{{\"a\":\"{}\"}}\n", "x".repeat(MAX_RECORD_BYTES));
        for format in [InputFormat::Ndjson, InputFormat::Json, InputFormat::Csv] {
            let text = match format {
                InputFormat::Json => format!("[{long}]"),
                InputFormat::Csv => format!("a\n{}\n", "x".repeat(MAX_RECORD_BYTES + 1)),
                InputFormat::Ndjson => format!("{{\"ok\":1}}\n{long}"),
            };
            let (_, err) = read_all(format, &text);
            assert!(
                err.as_ref()
                    .is_some_and(|e| e.message.contains("longer than 8 MiB")),
                "{format:?}: {err:?}"
            );
        }
    }

    #[test]
    fn formats_from_file_names() {
        assert_eq!(
            InputFormat::from_file_name("a.JSONL"),
            Some(InputFormat::Ndjson)
        );
        assert_eq!(
            InputFormat::from_file_name("a.json"),
            Some(InputFormat::Json)
        );
        assert_eq!(InputFormat::from_file_name("a.csv"), Some(InputFormat::Csv));
        assert_eq!(InputFormat::from_file_name("a.txt"), None);
    }

    proptest::proptest! {
        #[test]
        fn json_array_and_ndjson_agree(values in proptest::collection::vec(
            proptest::collection::btree_map("[a-z\"\\\\,\\]\\[{} ]{0,6}", "[a-z0-9\"\\\\,\\]\\[{} \n]{0,12}", 0..4), 0..6)) {
            let objects: Vec<Value> = values.iter().map(|m| json!(m)).collect();
            let ndjson: String = objects.iter().map(|o| format!("{o}\n")).collect();
            let array = serde_json::to_string_pretty(&objects).unwrap_or_default();
            let (a, ea) = read_all(InputFormat::Ndjson, &ndjson);
            let (b, eb) = read_all(InputFormat::Json, &array);
            proptest::prop_assert_eq!(ea, None);
            proptest::prop_assert_eq!(eb, None);
            let fa: Vec<_> = a.into_iter().map(|r| r.fields).collect();
            let fb: Vec<_> = b.into_iter().map(|r| r.fields).collect();
            proptest::prop_assert_eq!(fa, fb);
        }

        #[test]
        fn readers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            for format in [InputFormat::Ndjson, InputFormat::Json, InputFormat::Csv] {
                let mut r = reader(format, std::io::Cursor::new(bytes.clone()));
                let mut n = 0;
                while let Ok(Some(_)) = r.next_record() {
                    n += 1;
                    proptest::prop_assert!(n <= 201);
                }
            }
        }
    }
}
