//! Integration tests of jiralink-domain's public API.

mod validation;
