//! End-to-end tests of the `jiralink` binary on temporary data directories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod authorize;
mod canary;
mod canary_serve;
mod common;
mod connection;
mod connection_test;
mod crash;
mod db;
mod exports;
mod flows;
mod help;
mod imports;
mod instances;
mod key;
mod key_kill;
mod listeners;
mod notifications;
mod oauth_client;
mod refresh_kill;
mod serve;
mod user;
