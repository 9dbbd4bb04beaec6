use std::os::unix::fs::PermissionsExt;

use crate::common::Env;

#[test]
fn first_run_creates_a_private_key_and_says_so_once() {
    let env = Env::new();
    let first = env.run(&["connection", "list"], None).ok();
    assert!(
        first.stderr.contains("Created a new master key"),
        "{}",
        first.stderr
    );
    assert!(first.stderr.contains("back it up"), "{}", first.stderr);
    let key = env.data_dir().join("master.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let second = env.run(&["connection", "list"], None).ok();
    assert!(!second.stderr.contains("master key"), "{}", second.stderr);
}

#[test]
fn wrong_key_is_refused_and_changes_nothing() {
    let env = Env::new();
    env.create_basic("Jira", "tok");
    let before = env
        .run(&["connection", "audit", "Jira", "-o", "json"], None)
        .ok()
        .stdout;
    let mut cmd = env.cmd();
    // 32 bytes that are certainly not the generated key.
    cmd.env(
        "JIRALINK_MASTER_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )
    .args(["connection", "delete", "Jira", "--yes"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("master key"), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    let after = env
        .run(&["connection", "audit", "Jira", "-o", "json"], None)
        .ok()
        .stdout;
    assert_eq!(before, after);
}

#[test]
fn missing_key_is_refused_and_no_new_key_is_made() {
    let env = Env::new();
    env.create_basic("Jira", "tok");
    let key = env.data_dir().join("master.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let out = env.run(&["connection", "list"], None).fails_with(6);
    assert!(out.stderr.contains("no master key"), "{}", out.stderr);
    assert!(!key.exists(), "a new key must not replace the lost one");
    std::fs::write(&key, saved).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.run(&["connection", "list"], None).ok();
}

#[test]
fn rotate_reseals_every_secret() {
    let env = Env::new();
    env.create_basic("One", "tok-1");
    env.create_client("App", "sec-1");
    let before = env.run(&["key", "status", "-o", "json"], None).ok().json();
    let old_id = before["activeKeyId"].as_str().unwrap().to_owned();
    let old_key = std::fs::read(env.data_dir().join("master.key")).unwrap();

    let report = env.run(&["key", "rotate", "-o", "json"], None).ok().json();
    assert_eq!(report["resealed"], 2);
    let new_id = report["toKeyId"].as_str().unwrap().to_owned();
    assert_ne!(new_id, old_id);
    assert!(!env.data_dir().join("master.key.next").exists());
    assert_ne!(
        std::fs::read(env.data_dir().join("master.key")).unwrap(),
        old_key
    );

    let after = env.run(&["key", "status", "-o", "json"], None).ok().json();
    assert_eq!(after["activeKeyId"], new_id.as_str());
    assert_eq!(
        after["secretsByKey"],
        serde_json::json!([{"keyId": new_id, "secrets": 2}])
    );
    // Everything still works under the new key; a second rotation is fine too.
    env.run(&["connection", "show", "One"], None).ok();
    env.run(&["key", "rotate"], None).ok();
}

#[test]
fn rotate_with_an_environment_key_needs_a_file() {
    let env = Env::new();
    let mut env = env;
    env.extra_env.push((
        "JIRALINK_MASTER_KEY".to_owned(),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned(),
    ));
    env.create_basic("One", "tok-1");
    let out = env.run(&["key", "rotate"], None).fails_with(7);
    assert!(out.stderr.contains("--new-key-file"), "{}", out.stderr);
    let new_file = env.path().join("new.key");
    let out = env
        .run(
            &[
                "key",
                "rotate",
                "--new-key-file",
                new_file.to_str().unwrap(),
            ],
            None,
        )
        .ok();
    assert!(
        out.stderr.contains("JIRALINK_MASTER_KEY_FILE"),
        "{}",
        out.stderr
    );
    let mode = std::fs::metadata(&new_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The old key no longer opens the secrets; the new file does.
    env.run(&["connection", "list"], None).fails_with(6);
    env.extra_env.clear();
    env.extra_env.push((
        "JIRALINK_MASTER_KEY_FILE".to_owned(),
        new_file.to_str().unwrap().to_owned(),
    ));
    env.run(&["connection", "list"], None).ok();
}

/// With secrets stored, a wrong key and a missing key are refused naming the id of the key
/// that sealed them (what `key status` reports), and no key is created.
#[test]
fn a_missing_or_wrong_key_names_the_key_that_sealed_the_secrets() {
    let env = Env::new();
    env.create_basic("Jira", "tok");
    let status = env.run(&["key", "status", "-o", "json"], None).ok().json();
    let sealing = status["activeKeyId"].as_str().unwrap().to_owned();
    assert!(!sealing.is_empty());

    let mut cmd = env.cmd();
    cmd.env(
        "JIRALINK_MASTER_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )
    .args(["connection", "list"]);
    let wrong = crate::common::Output::of(&mut cmd).fails_with(6);
    assert!(wrong.stderr.contains(&sealing), "{}", wrong.stderr);

    let key = env.data_dir().join("master.key");
    std::fs::remove_file(&key).unwrap();
    let missing = env.run(&["connection", "list"], None).fails_with(6);
    assert!(missing.stderr.contains(&sealing), "{}", missing.stderr);
    assert!(!key.exists());
}
