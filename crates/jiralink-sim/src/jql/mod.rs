//! The simulator's JQL engine: the subset of Jira Cloud's query language that integrations use.
//!
//! Parse once, check against the site once, then match and sort many issues:
//!
//! ```text
//! let query = jql::parse(text)?;              // syntax only; Jira's syntax errors
//! if !query.is_bounded() { /* 400 */ }        // /search/jql refuses unrestricted queries
//! let compiled = query.compile(&site)?;       // unknown fields/values, bad dates, all at once
//! issues.retain(|i| compiled.matches(i));
//! issues.sort_by(|a, b| compiled.compare(a, b));
//! ```
//!
//! Errors carry Jira's wording so that the HTTP layer can return
//! [`JqlErrors::messages`] as `errorMessages` with status 400.
//!
//! Supported: the fields `project`, `key`/`issuekey`/`issue`/`id`, `status`,
//! `issuetype`/`type`, `assignee`, `reporter`, `labels`, `created`/`createdDate`,
//! `updated`/`updatedDate`, `summary` and custom fields (`cf[10010]` or by name, as text);
//! the operators `= != > >= < <= ~ !~ IN, NOT IN, IS, IS NOT`; `AND`/`&&`/`&`, `OR`/`||`/`|`,
//! `NOT`/`!` and parentheses; `EMPTY`/`NULL`; the functions `currentUser()`, `now()` and
//! `startOf…`/`endOf…` for days, weeks, months and years. Not supported: history operators
//! (`WAS`, `CHANGED`), other fields and functions, and Jira's text-search refinements (see the
//! `text` module). Jira system fields the engine cannot search yet (`priority`, `resolution`,
//! `statusCategory`, `component`, `fixVersion`, `parent`… see [`UNSUPPORTED_JIRA_FIELDS`])
//! answer a message saying so, distinct from Jira's "does not exist" for unknown fields. Matching rules are documented on [`Query::compile`] and sorting rules on
//! [`Compiled::order`] and [`Compiled::compare`]. Keywords and function names ignore case.

mod ast;
mod compile;
mod date;
mod error;
mod lexer;
mod parser;
mod render;
mod text;

pub use ast::{
    Clause, Direction, Field, FunctionCall, Operand, Operator, OrderBy, Query, Term, Value,
};
pub use compile::{
    Compiled, CustomFieldType, IdField, IssueRef, JqlContext, JqlIssue, JqlVersion, ListField,
    MAX_ORDER_BY_FIELDS, SortField, SortKey, TextField, UNSUPPORTED_JIRA_FIELDS,
};
pub use date::day_number;
pub use error::{JqlError, JqlErrors};
pub use parser::parse;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn parser_never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn parser_never_panics_on_jql_like_text(
            text in "[a-zA-Z0-9 =!<>()~,\"'\\\\&|%\\[\\]._:-]{0,48}"
        ) {
            if let Err(errors) = parse(&text) {
                prop_assert_eq!(errors.errors().len(), 1);
                let message = errors.to_string();
                prop_assert!(message.starts_with("Error in the JQL Query: "), "{}", message);
                prop_assert!(message.contains("(line 1, character "), "{}", message);
            }
        }
    }
}
