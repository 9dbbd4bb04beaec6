//! Encoders: records in, output bytes out.
//!
//! The engine hands each record over as the JSON text Jira sent ([`RawValue`]); NDJSON and
//! the JSON array copy it unchanged, so no typed value is built for a record that is only
//! passed on. Formats that must look inside a record (CSV) or change it (ADF as text) parse
//! it themselves.
//!
//! A run's output is the concatenation of what [`Encoder::begin`], every
//! [`Encoder::record`] and [`Encoder::finish`] append; the engine cuts it into one chunk per
//! checkpoint. An encoder keeps whatever it needs to continue after a resume in
//! [`Encoder::state`], which the engine stores in each checkpoint and gives back through
//! [`EncoderContext::state`].

use std::sync::Arc;

use serde_json::{Value, value::RawValue};

use crate::{
    adf::AdfEncoder,
    csv::CsvEncoder,
    error::SyncError,
    spec::{ExportSpec, Format},
};

/// Turns records into output bytes.
pub trait Encoder: Send {
    /// Bytes that open the output (`[` of a JSON array, a CSV header). Called once per output,
    /// not again when a run resumes.
    ///
    /// # Errors
    /// [`SyncError`] when the opening cannot be written.
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), SyncError>;

    /// Appends one record.
    ///
    /// # Errors
    /// [`SyncError::Decode`] when the record cannot be encoded.
    fn record(&mut self, record: &RawValue, out: &mut Vec<u8>) -> Result<(), SyncError>;

    /// Appends one record given as its JSON text (valid JSON, as Jira sent it). By default it
    /// is read into a [`RawValue`] and passed to [`record`](Self::record); encoders that copy
    /// the text anyway take it as it is.
    ///
    /// # Errors
    /// [`SyncError::Decode`] when the record cannot be encoded.
    fn record_text(&mut self, json: &str, out: &mut Vec<u8>) -> Result<(), SyncError> {
        let raw = RawValue::from_string(json.to_owned())
            .map_err(|e| SyncError::Decode(format!("a record ({e})")))?;
        self.record(&raw, out)
    }

    /// Bytes that close the output (`]` of a JSON array), written with the run's finish.
    ///
    /// # Errors
    /// [`SyncError`] when the closing cannot be written.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), SyncError>;

    /// What the encoder needs to continue after a resume (kept in every checkpoint).
    fn state(&self) -> Value {
        Value::Null
    }
}

/// What an encoder is built from.
#[derive(Debug, Clone, Default)]
pub struct EncoderContext {
    /// The encoder's [`Encoder::state`] from the checkpoint a run resumes from, `None` on a
    /// fresh output.
    pub state: Option<Value>,
    /// Records already in the output (from the checkpoint's stats).
    pub records_written: u64,
    /// Jira's field list (`GET /field`), when the run read it: names of custom fields.
    pub fields: Option<Arc<Vec<Value>>>,
}

/// The encoder for `spec`'s format (and ADF mode).
///
/// # Errors
/// [`SyncError::InvalidSpec`] when this build cannot write the format.
pub fn encoder(spec: &ExportSpec, ctx: &EncoderContext) -> Result<Box<dyn Encoder>, SyncError> {
    let encoder: Box<dyn Encoder> = match spec.format {
        Format::Ndjson => Box::new(Ndjson),
        Format::JsonArray => Box::new(JsonArray {
            written: ctx.records_written,
        }),
        Format::Csv => Box::new(CsvEncoder::for_issues(spec, ctx)?),
    };
    Ok(AdfEncoder::wrap(encoder, spec.adf))
}

/// One JSON record per line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ndjson;

impl Encoder for Ndjson {
    fn begin(&mut self, _out: &mut Vec<u8>) -> Result<(), SyncError> {
        Ok(())
    }

    fn record(&mut self, record: &RawValue, out: &mut Vec<u8>) -> Result<(), SyncError> {
        self.record_text(record.get(), out)
    }

    fn record_text(&mut self, json: &str, out: &mut Vec<u8>) -> Result<(), SyncError> {
        push_one_line(json, out);
        out.push(b'\n');
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<u8>) -> Result<(), SyncError> {
        Ok(())
    }
}

/// One JSON array: `[`, records separated by `,\n`, then `]\n`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonArray {
    written: u64,
}

impl Encoder for JsonArray {
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), SyncError> {
        out.push(b'[');
        Ok(())
    }

    fn record(&mut self, record: &RawValue, out: &mut Vec<u8>) -> Result<(), SyncError> {
        self.record_text(record.get(), out)
    }

    fn record_text(&mut self, json: &str, out: &mut Vec<u8>) -> Result<(), SyncError> {
        if self.written > 0 {
            out.extend_from_slice(b",\n");
        }
        push_one_line(json, out);
        self.written += 1;
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), SyncError> {
        out.extend_from_slice(b"]\n");
        Ok(())
    }
}

/// Appends JSON text without its raw line breaks, so one record is one line. Line breaks
/// inside JSON strings are always escaped, so every raw `\n` or `\r` is whitespace between
/// tokens and may go.
fn push_one_line(json: &str, out: &mut Vec<u8>) {
    let bytes = json.as_bytes();
    if memchr_newline(bytes) {
        out.extend(bytes.iter().filter(|b| **b != b'\n' && **b != b'\r'));
    } else {
        out.extend_from_slice(bytes);
    }
}

fn memchr_newline(bytes: &[u8]) -> bool {
    memchr::memchr2(b'\n', b'\r', bytes).is_some()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap_or_else(|_| {
            RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!())
        })
    }

    fn run(enc: &mut dyn Encoder, records: &[&str]) -> String {
        let mut out = Vec::new();
        enc.begin(&mut out).ok();
        for r in records {
            enc.record(&raw(r), &mut out).ok();
        }
        enc.finish(&mut out).ok();
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn ndjson_writes_one_record_per_line() {
        assert_eq!(
            run(&mut Ndjson, &["{\"a\":\n 1}", "{\"b\":\"x\\ny\"}"]),
            "{\"a\": 1}\n{\"b\":\"x\\ny\"}\n"
        );
    }

    #[test]
    fn json_arrays_continue_after_a_resume() {
        assert_eq!(run(&mut JsonArray::default(), &["1", "2"]), "[1,\n2]\n");
        assert_eq!(run(&mut JsonArray::default(), &[]), "[]\n");
        let mut resumed = JsonArray { written: 2 };
        let mut out = Vec::new();
        resumed.record(&raw("3"), &mut out).ok();
        assert_eq!(out, b",\n3");
    }
}
