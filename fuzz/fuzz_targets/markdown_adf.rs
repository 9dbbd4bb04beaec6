//! Rich text written to Jira: Markdown and plain text turned into ADF; and ADF read back as
//! Markdown or text, as exports write it.
//!
//! Invariants: nothing panics; every document written obeys the ADF rules jiralink promises
//! (`jiralink_sync::fuzzing::check_adf`, the check the unit tests use) and is JSON that reads
//! back unchanged; the Markdown an export writes of such a document is itself written as a
//! valid document; any JSON (as Jira may send it) is read as text or Markdown without a panic.
#![no_main]

use jiralink_sync::{
    adf::{self, AdfTarget},
    adf_write::{markdown_to_adf, plain_to_adf},
    fuzzing::check_adf,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|text: &str| {
    for (how, doc) in [
        ("markdown", markdown_to_adf(text)),
        ("plain", plain_to_adf(text)),
    ] {
        if let Err(e) = check_adf(&doc) {
            panic!("{how} {text:?} broke an ADF rule: {e}");
        }
        let json = serde_json::to_string(&doc).expect("ADF serialises");
        let back: Value = serde_json::from_str(&json).expect("ADF is JSON");
        assert_eq!(back, doc, "JSON round trip");
    }
    let exported = adf::to_markdown(&markdown_to_adf(text));
    if let Err(e) = check_adf(&markdown_to_adf(&exported)) {
        panic!("the exported Markdown {exported:?} of {text:?} broke an ADF rule: {e}");
    }
    if let Ok(mut value) = serde_json::from_str::<Value>(text) {
        let mut copy = value.clone();
        adf::convert_record(&mut value, AdfTarget::Text);
        adf::convert_record(&mut copy, AdfTarget::Markdown);
    }
});
