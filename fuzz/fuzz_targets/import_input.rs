//! Import input: NDJSON, a JSON array or CSV with a header row, read one record at a time.
//!
//! Invariants: nothing panics and reading ends (never more records than the input has lines
//! and bytes); records are numbered 0, 1, 2, … and their lines never go back and stay within
//! the input; records written by a standard writer (serde_json, the csv crate) read back as
//! exactly what was written, each at the line it starts on.
#![no_main]

use std::io::Cursor;

use arbitrary::Arbitrary;
use jiralink_fuzz::{Seed, seed};
use jiralink_sync::import::{InputFormat, InputRecord, reader};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

#[derive(Debug, Arbitrary)]
enum Format {
    Ndjson,
    Json,
    Csv,
}

impl Format {
    fn input(&self) -> InputFormat {
        match self {
            Self::Ndjson => InputFormat::Ndjson,
            Self::Json => InputFormat::Json,
            Self::Csv => InputFormat::Csv,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Input {
    Raw(Format, Vec<u8>),
    Ndjson(Vec<Vec<(String, String)>>),
    Csv(Vec<String>, Vec<Vec<String>>),
}

fuzz_target!(|data: &[u8]| {
    match seed::<Input>(data) {
        Some(Seed::Raw { kind, bytes }) => {
            let format = match kind % 3 {
                0 => Format::Ndjson,
                1 => Format::Json,
                _ => Format::Csv,
            };
            check(Input::Raw(format, bytes.to_vec()));
        }
        Some(Seed::Structured(input)) => check(input),
        None => {}
    }
});

fn check(input: Input) {
    match input {
        Input::Raw(format, bytes) => {
            let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64 + 1;
            let records = read_all(format.input(), bytes.clone(), bytes.len() + 2);
            let mut last_line = 0;
            for (i, r) in records.iter().enumerate() {
                assert_eq!(r.ordinal, i as u64, "ordinals");
                assert!(
                    r.line >= last_line.max(1),
                    "line {} after {last_line}",
                    r.line
                );
                assert!(r.line <= lines, "line {} of {lines}", r.line);
                last_line = r.line;
            }
        }
        Input::Ndjson(rows) => {
            let maps: Vec<Map<String, Value>> = rows
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect()
                })
                .collect();
            let text: String = maps
                .iter()
                .map(|m| format!("{}\n", Value::Object(m.clone())))
                .collect();
            let records = read_all(InputFormat::Ndjson, text.into_bytes(), maps.len() + 1);
            assert_eq!(records.len(), maps.len());
            for (i, (r, m)) in records.iter().zip(&maps).enumerate() {
                assert_eq!(r.line, i as u64 + 1);
                assert_eq!(r.fields.as_ref(), Ok(m));
            }

            let array = serde_json::to_string_pretty(&maps).expect("serialises");
            let records = read_all(InputFormat::Json, array.into_bytes(), maps.len() + 1);
            assert_eq!(records.len(), maps.len());
            for (r, m) in records.iter().zip(&maps) {
                assert_eq!(r.fields.as_ref(), Ok(m));
            }
        }
        Input::Csv(header, rows) => {
            let usable = !header.is_empty()
                && header.iter().enumerate().all(|(i, h)| {
                    !h.is_empty()
                        && h.trim() == h
                        && !h.starts_with('\u{feff}')
                        && !header[..i].contains(h)
                });
            if !usable {
                return;
            }
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(&header).expect("header");
            writer.flush().expect("flush");
            let mut expected = Vec::new();
            for row in rows {
                let cells: Vec<String> = header
                    .iter()
                    .enumerate()
                    .map(|(i, _)| row.get(i).cloned().unwrap_or_default())
                    .collect();
                let at = writer.get_ref().len();
                let line = writer.get_ref()[..at]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64
                    + 1;
                writer.write_record(&cells).expect("row");
                writer.flush().expect("flush");
                let map: Map<String, Value> = header
                    .iter()
                    .zip(cells)
                    .filter(|(_, c)| !c.is_empty())
                    .map(|(h, c)| (h.clone(), Value::String(c)))
                    .collect();
                expected.push((line, map));
            }
            let bytes = writer.into_inner().expect("written");
            let records = read_all(InputFormat::Csv, bytes.clone(), expected.len() + 1);
            assert_eq!(
                records.len(),
                expected.len(),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            for (r, (line, map)) in records.iter().zip(&expected) {
                assert_eq!(r.fields.as_ref(), Ok(map));
                assert_eq!(r.line, *line, "{}", String::from_utf8_lossy(&bytes));
            }
        }
    }
}

/// Every record, at most `cap` of them (more is a reader that does not end).
fn read_all(format: InputFormat, bytes: Vec<u8>, cap: usize) -> Vec<InputRecord> {
    let mut source = reader(format, Cursor::new(bytes));
    let mut records = Vec::new();
    while let Ok(Some(r)) = source.next_record() {
        records.push(r);
        assert!(records.len() <= cap, "more records than the input holds");
    }
    records
}
