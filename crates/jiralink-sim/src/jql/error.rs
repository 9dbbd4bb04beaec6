//! JQL errors, worded as Jira Cloud words them.
//!
//! Unlike the rest of the crate, the `Display` text here is not a lower-case fragment: it is the
//! exact sentence Jira puts in `errorMessages` of a 400 answer, so clients that match on it (or
//! show it to people) see what they would see against a real site.

use std::fmt;

/// The formats Jira lists when a date value cannot be read.
const DATE_FORMATS: &str = "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', \
     'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.";

/// The operators Jira lists when it expected one.
pub(crate) const VALID_OPERATORS: &str = "The valid operators are '=', '!=', '<', '>', '<=', \
     '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'.";

/// One problem with a JQL query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JqlError {
    /// The text is not JQL. `line` and `character` are 1-based and count characters.
    #[error("Error in the JQL Query: {message} (line {line}, character {character})")]
    Syntax {
        /// What the parser expected, without the position.
        message: String,
        /// 1-based line of the offending token.
        line: u32,
        /// 1-based character within that line.
        character: u32,
    },
    /// The field is neither a system field this simulator knows nor a custom field of the site.
    #[error("Field '{field}' does not exist or you do not have permission to view it.")]
    UnknownField {
        /// The field as written in the query.
        field: String,
    },
    /// A Jira Cloud system field the simulator's engine cannot search yet (see
    /// [`crate::jql::UNSUPPORTED_JIRA_FIELDS`]); distinct from [`JqlError::UnknownField`] so a
    /// client author knows the query would work on Jira Cloud.
    #[error(
        "Field '{field}' exists in Jira Cloud but the jiralink simulator does not support it in \
         JQL yet. Search on project, issuekey, status, statusCategory, issuetype, priority, \
         resolution, assignee, reporter, creator, labels, component, fixVersion, \
         affectedVersion, parent, created, updated, resolved, duedate, summary, description, \
         environment, comment, text, watcher, watchers, voter, votes, sprint, issueLinkType or \
         a custom field instead."
    )]
    UnsupportedField {
        /// The field as written in the query.
        field: String,
    },
    /// The value names no project, status, issue type or user of the site.
    #[error("The value '{value}' does not exist for the field '{field}'.")]
    UnknownValue {
        /// The field as written in the query.
        field: String,
        /// The value as written in the query.
        value: String,
    },
    /// The value is not an issue key or id.
    #[error("The issue key '{value}' for field '{field}' is invalid.")]
    InvalidIssueKey {
        /// The field as written in the query.
        field: String,
        /// The value as written in the query.
        value: String,
    },
    /// The value looks like an issue key or id but no such issue exists.
    #[error("An issue with key '{value}' does not exist for field '{field}'.")]
    UnknownIssue {
        /// The field as written in the query.
        field: String,
        /// The value as written in the query.
        value: String,
    },
    /// The value is neither a date, a date-time, epoch milliseconds nor a period.
    #[error("Date value '{value}' for field '{field}' is invalid. {DATE_FORMATS}")]
    InvalidDate {
        /// The field as written in the query.
        field: String,
        /// The value as written in the query.
        value: String,
    },
    /// The field cannot be searched with this operator.
    #[error("The operator '{operator}' is not supported by the '{field}' field.")]
    UnsupportedOperator {
        /// The operator as Jira spells it in messages (lower case).
        operator: String,
        /// The field as written in the query.
        field: String,
    },
    /// `IN` and `NOT IN` were given a single value.
    #[error(
        "The operator '{operator}' only supports lists of values or functions for the field \
         '{field}'."
    )]
    ListRequired {
        /// The operator as Jira spells it in messages (lower case).
        operator: String,
        /// The field as written in the query.
        field: String,
    },
    /// A single-value operator was given a list.
    #[error("The operator '{operator}' does not support lists of values for the field '{field}'.")]
    ListNotSupported {
        /// The operator as Jira spells it in messages (lower case).
        operator: String,
        /// The field as written in the query.
        field: String,
    },
    /// `IS` and `IS NOT` were given something other than `EMPTY`/`NULL`.
    #[error(
        "The operator '{operator}' only supports the 'EMPTY' and 'NULL' values for the field \
         '{field}'."
    )]
    EmptyRequired {
        /// The operator as Jira spells it in messages (lower case).
        operator: String,
        /// The field as written in the query.
        field: String,
    },
    /// `EMPTY` was used with an operator that cannot compare against it.
    #[error(
        "The operator '{operator}' does not support the value 'EMPTY' for the field '{field}'."
    )]
    EmptyNotSupported {
        /// The operator as Jira spells it in messages (lower case).
        operator: String,
        /// The field as written in the query.
        field: String,
    },
    /// `~` was given nothing to search for.
    #[error("The field '{field}' does not support searching for an empty string.")]
    EmptyTextSearch {
        /// The field as written in the query.
        field: String,
    },
    /// No JQL function has this name.
    #[error("Unable to find JQL function '{function}()'.")]
    UnknownFunction {
        /// The function name as written in the query.
        function: String,
    },
    /// The function exists but yields nothing this field can hold.
    #[error("The function '{function}' is not supported by the field '{field}'.")]
    FunctionNotSupported {
        /// The function name as written in the query.
        function: String,
        /// The field as written in the query.
        field: String,
    },
    /// The function was called with too many (or too few) arguments.
    #[error("Function '{function}' expected {expected} arguments but received '{received}'.")]
    FunctionArity {
        /// The function name as written in the query.
        function: String,
        /// Jira's phrasing of the accepted count: `'0'` or `between '0' and '1'`.
        expected: String,
        /// How many arguments were given.
        received: usize,
    },
    /// `membersOf()` names a group that does not exist.
    #[error(
        "Function '{function}' can not generate a list of usernames for group '{group}'; the \
         group does not exist."
    )]
    UnknownGroup {
        /// The function name as written in the query.
        function: String,
        /// The group as written in the query.
        group: String,
    },
    /// `linkedIssues()` names an issue that does not exist.
    #[error("Issue '{issue}' could not be found in function '{function}'.")]
    FunctionIssueNotFound {
        /// The function name as written in the query.
        function: String,
        /// The issue as written in the query.
        issue: String,
    },
    /// `linkedIssues()` names a link description no link type has.
    #[error("Issue link type '{link}' could not be found in function '{function}'.")]
    FunctionLinkTypeNotFound {
        /// The function name as written in the query.
        function: String,
        /// The link description as written in the query.
        link: String,
    },
    /// A date function's offset is not of the form `(+/-)n(yMwdhm)`.
    #[error(
        "Duration for function '{function}' should have the format (+/-)n(yMwdm), e.g -1M for \
         one month earlier."
    )]
    FunctionDuration {
        /// The function name as written in the query.
        function: String,
    },
    /// The searching account's time zone is not an IANA name the bundled database knows.
    #[error(
        "The time zone '{zone}' of the searching user is not a known time zone. Set an IANA time \
         zone such as 'Europe/Berlin' on the account."
    )]
    UnknownTimeZone {
        /// The zone name the context supplied.
        zone: String,
    },
    /// `ORDER BY` names a field Jira cannot sort on (the text fields but `summary`).
    #[error("Field '{field}' does not support sorting.")]
    NotSortable {
        /// The field as written in the query.
        field: String,
    },
    /// The query sorts on more fields than `/search/jql` accepts.
    #[error(
        "The ORDER BY clause can contain at most {max} fields, but {count} were given. Remove \
         some sort fields."
    )]
    TooManySortFields {
        /// The most fields allowed.
        max: usize,
        /// How many the query named.
        count: usize,
    },
    /// The query has no restriction, which `/search/jql` and `approximate-count` refuse.
    #[error(
        "Unbounded JQL queries are not allowed here. Please add a search restriction to your \
         query."
    )]
    Unbounded,
}

/// All the problems found in one query, in the order they appear in it.
///
/// Jira answers 400 with every value error of a query at once; the HTTP layer puts
/// [`JqlErrors::messages`] in `errorMessages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JqlErrors {
    errors: Vec<JqlError>,
}

impl JqlErrors {
    /// Wraps one error.
    pub fn single(error: JqlError) -> Self {
        Self {
            errors: vec![error],
        }
    }

    /// The error `/search/jql` gives for a query with no restriction.
    pub fn unbounded() -> Self {
        Self::single(JqlError::Unbounded)
    }

    /// The errors, first found first. Never empty.
    pub fn errors(&self) -> &[JqlError] {
        &self.errors
    }

    /// The messages as they go into `errorMessages`.
    pub fn messages(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }

    /// Builds the result of a pass that collected errors: `Ok` only when there were none.
    pub(crate) fn check(errors: Vec<JqlError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self { errors })
        }
    }
}

impl From<JqlError> for JqlErrors {
    fn from(error: JqlError) -> Self {
        Self::single(error)
    }
}

impl fmt::Display for JqlErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for JqlErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_jira_wording() {
        let errors = JqlErrors {
            errors: vec![
                JqlError::UnknownValue {
                    field: "project".into(),
                    value: "XYZ".into(),
                },
                JqlError::InvalidDate {
                    field: "created".into(),
                    value: "2020-13-01".into(),
                },
            ],
        };
        assert_eq!(
            errors.messages(),
            vec![
                "The value 'XYZ' does not exist for the field 'project'.".to_owned(),
                "Date value '2020-13-01' for field 'created' is invalid. Valid formats include: \
                 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period \
                 format e.g. '-5d', '4w 2d'."
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn check_is_ok_only_without_errors() {
        assert!(JqlErrors::check(Vec::new()).is_ok());
        let err = JqlErrors::check(vec![JqlError::Unbounded]).unwrap_err();
        assert_eq!(err, JqlErrors::unbounded());
        assert_eq!(
            err.to_string(),
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your \
             query."
        );
    }

    #[test]
    fn syntax_error_carries_position() {
        let e = JqlError::Syntax {
            message: "Expecting operator but got 'x'.".into(),
            line: 2,
            character: 7,
        };
        assert_eq!(
            e.to_string(),
            "Error in the JQL Query: Expecting operator but got 'x'. (line 2, character 7)"
        );
    }
}
