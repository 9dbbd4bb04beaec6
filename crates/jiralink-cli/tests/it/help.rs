use crate::common::Env;

#[test]
fn help_has_examples_and_exit_codes() {
    let env = Env::new();
    let out = env.run(&["--help"], None).ok();
    assert!(out.stdout.contains("Examples:"));
    assert!(out.stdout.contains("Exit codes"));
    let out = env.run(&["connection", "create", "--help"], None).ok();
    assert!(out.stdout.contains("--api-token-stdin"));
    assert!(out.stdout.contains("--subdomain"));
    // Secrets are never taken from an argument value, so no such flag is advertised.
    assert!(!out.stdout.contains("--api-token <"));
}

#[test]
fn completions_are_generated() {
    let env = Env::new();
    let out = env.run(&["completions", "bash"], None).ok();
    assert!(out.stdout.contains("jiralink"));
    assert!(out.stdout.contains("oauth-client"));
    // Completions need no data directory.
    assert!(!env.data_dir().exists());
}

#[test]
fn unknown_command_is_a_usage_error() {
    let env = Env::new();
    env.run(&["connectoin", "list"], None).fails_with(2);
}
