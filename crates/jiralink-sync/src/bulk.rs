//! Accounting for `POST /issue/bulkfetch`: every id asked for is either returned, or known to
//! be absent, or fails the run — none is dropped without being counted.
//!
//! Jira leaves out issues that do not exist or that the account may not see, without an entry
//! in `issueErrors`; that list holds issues Jira could not send although they may exist (a
//! retriable error, a payload limit). Some sites do list absent issues there too, with a
//! message such as "Issue does not exist or you do not have permission to see it."; such an
//! entry is read as the issue being left out.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::SyncError;

/// One bulk-fetch answer sorted against the ids asked for.
#[derive(Debug)]
pub(crate) struct Accounted<T> {
    /// The issues returned, by id.
    pub(crate) found: HashMap<u64, T>,
    /// The ids asked for that are neither returned nor failed: left out, or listed in
    /// `issueErrors` as not existing or not visible. In the order asked.
    pub(crate) absent: Vec<u64>,
}

/// Sorts `issues` (each with its id) and `issue_errors` of one answer against `ids`.
///
/// # Errors
/// [`SyncError::IssueNotSent`] for an `issueErrors` entry that does not say the issue is
/// absent (Jira's message is kept).
pub(crate) fn account<T>(
    ids: &[u64],
    issues: impl IntoIterator<Item = (u64, T)>,
    issue_errors: &[Value],
) -> Result<Accounted<T>, SyncError> {
    for entry in issue_errors {
        let id = match entry.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let message = entry
            .get("errorMessage")
            .and_then(Value::as_str)
            .map_or_else(|| entry.to_string(), str::to_owned);
        if !means_absent(&message) {
            return Err(SyncError::IssueNotSent { id, message });
        }
    }
    let found: HashMap<u64, T> = issues.into_iter().collect();
    let absent = ids
        .iter()
        .copied()
        .filter(|id| !found.contains_key(id))
        .collect();
    Ok(Accounted { found, absent })
}

/// Whether Jira's message says the issue does not exist or may not be seen (Jira does not
/// tell the two apart).
fn means_absent(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("does not exist")
        || m.contains("not found")
        || m.contains("permission")
        || m.contains("not permitted")
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    fn raw(id: u64) -> (u64, String) {
        (id, format!(r#"{{"id":"{id}","fields":{{}}}}"#))
    }

    #[test]
    fn ids_left_out_are_absent_in_the_order_asked() {
        let a = account(&[5, 3, 9, 1], vec![raw(1), raw(9)], &[]).unwrap();
        assert_eq!(a.absent, vec![5, 3]);
        let mut found: Vec<u64> = a.found.keys().copied().collect();
        found.sort_unstable();
        assert_eq!(found, vec![1, 9]);
    }

    #[test]
    fn an_absent_style_issue_error_counts_as_absent() {
        let errors = [
            json!({"id": "3", "errorMessage": "Issue does not exist or you do not have permission to see it."}),
        ];
        let a = account(&[3, 4], vec![raw(4)], &errors).unwrap();
        assert_eq!(a.absent, vec![3]);
    }

    #[test]
    fn any_other_issue_error_fails_with_jiras_message() {
        let errors =
            [json!({"id": "4", "errorMessage": "Retry later: the response was too large."})];
        match account(&[3, 4], vec![raw(3)], &errors) {
            Err(SyncError::IssueNotSent { id, message }) => {
                assert_eq!(id, "4");
                assert_eq!(message, "Retry later: the response was too large.");
            }
            other => panic!("{other:?}"),
        }
        let shapeless = [json!({"x": 1})];
        assert!(matches!(
            account(&[3], vec![raw(3)], &shapeless),
            Err(SyncError::IssueNotSent { .. })
        ));
    }
}
