//! Import mapping files (TOML), and their rules applied to records.
//!
//! Invariants: reading any text never panics and a refusal always says why; an accepted
//! mapping survives a JSON round trip of its parsed form, its problems are listed without a
//! panic, and each of its rules evaluates any record without a panic.
#![no_main]

use arbitrary::Arbitrary;
use jiralink_fuzz::{Seed, seed};
use jiralink_sync::import::Mapping;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

#[derive(Debug, Arbitrary)]
struct Input {
    toml: String,
    /// The record the rules are applied to, as JSON.
    record: String,
}

fuzz_target!(|data: &[u8]| {
    let input = match seed::<Input>(data) {
        Some(Seed::Raw { bytes, .. }) => Input {
            toml: String::from_utf8_lossy(bytes).into_owned(),
            record: r#"{"summary":"Printer on fire","labels":"a, b","n":3}"#.into(),
        },
        Some(Seed::Structured(input)) => input,
        None => return,
    };
    let mapping = match Mapping::from_toml(&input.toml) {
        Ok(mapping) => mapping,
        Err(problems) => {
            assert!(!problems.is_empty(), "a refusal without a reason");
            assert!(problems.iter().all(|p| !p.is_empty()), "an empty reason");
            return;
        }
    };
    let json = serde_json::to_value(&mapping).expect("a mapping serialises");
    let back: Mapping =
        serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{json} reads back: {e}"));
    assert_eq!(back, mapping, "JSON round trip");
    let _ = mapping.problems();

    let record: Map<String, Value> = match serde_json::from_str(&input.record) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for rule in mapping
        .fields
        .values()
        .chain(&mapping.project)
        .chain(&mapping.issue_type)
    {
        let _ = rule.evaluate(&record);
    }
});
