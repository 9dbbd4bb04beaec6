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
//! Supported fields: `project`, `key`/`issuekey`/`issue`/`id`, `status`, `statusCategory`,
//! `issuetype`/`type`, `priority`, `resolution`, `assignee`, `reporter`, `creator`, `labels`,
//! `component`, `fixVersion`, `affectedVersion`, `parent`, `watcher`, `voter`, `watchers`,
//! `votes`, `sprint`, `issueLinkType`, `created`/`createdDate`,
//! `updated`/`updatedDate`, `resolutiondate`/`resolved`, `duedate`/`due`, `lastViewed`,
//! `summary`, `description`, `environment`, `comment`, `text` and custom fields (`cf[10010]` or
//! by name; numbers compare as numbers, user pickers as users, the rest as text, multi-valued
//! fields by any value). Operators: `= != > >= < <= ~ !~ IN, NOT IN, IS, IS NOT`;
//! `AND`/`&&`/`&`, `OR`/`||`/`|`, `NOT`/`!` and parentheses; `EMPTY`/`NULL`. Functions:
//! `currentUser()` and `membersOf(group)` (every user field; the group is resolved once per
//! term), `now()`, `startOf…`/`endOf…` for days, weeks, months and years,
//! `releasedVersions()`, `unreleasedVersions()`, `earliestUnreleasedVersion()`,
//! `openSprints()`, `closedSprints()`, `futureSprints()` and `linkedIssues(issue[, link])`
//! (for `issue in`). Not supported: history operators (`WAS`, `CHANGED`), other functions,
//! Jira's text-search refinements (see the `text` module), and the system fields in
//! [`UNSUPPORTED_JIRA_FIELDS`] (`issueLink`, `timeSpent`…), which answer a message saying so,
//! distinct from Jira's
//! "does not exist" for unknown fields. Matching rules are documented on [`Query::compile`] and
//! sorting rules on [`Compiled::order`] and [`Compiled::compare`]. Keywords and function names
//! ignore case.
//!
//! # Adding a field
//!
//! The engine reads issues only through [`JqlIssue`] and the site only through [`JqlContext`],
//! both with default methods, so a field is added in three steps:
//!
//! 1. A value per issue: add an accessor to [`JqlIssue`] (or, for a list of ids, a variant of
//!    [`ListField`], which [`JqlIssue::list_any`] answers) and implement it for the lazy
//!    generated view and the stored view in `data/search.rs`. Data the site keeps beside
//!    issues (watchers, sprint membership, links) is read there from `SiteData`, by issue id.
//! 2. Value look-ups at compile time: a [`JqlContext`] method resolving names to ids (and any
//!    functions, e.g. `openSprints()`), implemented by `data::SiteContext`.
//! 3. In `compile.rs`: an alias in `FieldKind::builtin`, its operators in `FieldKind::supports`,
//!    its sort key in `FieldKind::sort_field`, and the match arm in `Compiler::term`, reusing a
//!    leaf (`Leaf::List` for id lists, `Leaf::User` for accounts, `Leaf::Date` for instants);
//!    then remove the name from [`UNSUPPORTED_JIRA_FIELDS`].

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
    Compiled, CountField, CustomFieldType, IdField, IssueRef, JqlContext, JqlIssue, JqlVersion,
    ListField, MAX_ORDER_BY_FIELDS, SortField, SortKey, SprintStateFilter, TextField,
    UNSUPPORTED_JIRA_FIELDS,
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
