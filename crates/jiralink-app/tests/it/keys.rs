use jiralink_app::NEXT_KEY_FILE;
use jiralink_domain::ConnectionId;
use jiralink_store::{SecretField, SecretOwner};
use jiralink_vault::{Aad, Keyring, MasterKey, read_key_file, write_key_file};

use crate::{add_basic, add_client, open, try_open};

/// A rotation killed after re-sealing some rows leaves every secret readable, and running
/// it again finishes the job.
#[tokio::test]
async fn rotation_interrupted_half_way_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let v = add_basic(&app, &format!("Conn {i}"), &format!("token-{i}")).await;
        ids.push(v.id.parse::<ConnectionId>().unwrap());
    }
    add_client(&app, "App", "client-secret").await;
    let old = read_key_file(&dir.path().join("master.key")).unwrap();

    // What an interrupted `key rotate` leaves behind: the next key on disk and the first
    // rows re-sealed under it.
    let next = MasterKey::generate();
    write_key_file(&dir.path().join(NEXT_KEY_FILE), &next).unwrap();
    let mut ring = Keyring::new(next.duplicate());
    ring.add(old.duplicate());
    for id in &ids[..5] {
        let owner = SecretOwner::Connection(*id);
        let stored = app
            .store()
            .get_secret(owner, SecretField::ApiToken)
            .await
            .unwrap()
            .unwrap();
        let rid = id.to_string();
        let aad = Aad {
            record_kind: owner.kind(),
            record_id: &rid,
            field: SecretField::ApiToken.as_str(),
        };
        let resealed = ring.reseal(&stored.sealed, &aad).unwrap();
        assert!(
            app.store()
                .reseal_secret(owner, SecretField::ApiToken, old.id(), &resealed)
                .await
                .unwrap()
        );
    }
    drop(app);

    // A restart reads every secret, old and new.
    let app = open(dir.path()).await;
    for (i, id) in ids.iter().enumerate() {
        let token = app.connection_api_token(*id).await.unwrap().unwrap();
        assert_eq!(token.expose(), format!("token-{i}"));
    }
    let report = app
        .rotate_key(None, &crate::actor(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.resealed, 6);
    assert_eq!(report.already_done, 5);
    assert_eq!(report.to_key_id, next.id().to_string());
    assert!(!dir.path().join(NEXT_KEY_FILE).exists());
    assert_eq!(
        read_key_file(&dir.path().join("master.key")).unwrap().id(),
        next.id()
    );
    drop(app);

    // Only the new key is needed now.
    let app = open(dir.path()).await;
    for (i, id) in ids.iter().enumerate() {
        let token = app.connection_api_token(*id).await.unwrap().unwrap();
        assert_eq!(token.expose(), format!("token-{i}"));
    }
    let counts = app.store().count_secrets_by_key().await.unwrap();
    assert_eq!(counts, vec![(*next.id(), 11)]);
}

/// Killed between the last re-seal and installing the key: the next start finishes it.
#[tokio::test]
async fn rotation_interrupted_before_the_final_rename_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let v = add_basic(&app, "Jira", "token").await;
    let report_key = dir.path().join("master.key");
    app.rotate_key(None, &crate::actor(), &|_, _| {})
        .await
        .unwrap();
    drop(app);
    // Simulate the window where master.key was gone and the next key not yet moved.
    std::fs::rename(&report_key, dir.path().join(NEXT_KEY_FILE)).unwrap();
    let app = open(dir.path()).await;
    assert!(report_key.exists());
    let token = app
        .connection_api_token(v.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.expose(), "token");
}

#[tokio::test]
async fn a_key_from_the_environment_that_does_not_match_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    add_basic(&app, "Jira", "token").await;
    drop(app);
    let other = MasterKey::generate();
    let err = try_open(
        dir.path(),
        vec![("JIRALINK_MASTER_KEY", other.encode().to_string())],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "vault_locked");
    assert!(err.to_string().contains(&other.id().to_string()));
}

/// The first process to open a database records its key's id: another process with another
/// key is refused even before any secret exists, instead of sealing what the first could not
/// open (servers sharing a database set up without the shared key file).
#[tokio::test]
async fn another_key_is_refused_before_any_secret_exists() {
    let dir = tempfile::tempdir().unwrap();
    let first = MasterKey::generate();
    let app = try_open(
        dir.path(),
        vec![("JIRALINK_MASTER_KEY", first.encode().to_string())],
    )
    .await
    .unwrap();
    assert!(app.store().list_secrets().await.unwrap().is_empty());
    drop(app);
    let other = MasterKey::generate();
    let err = try_open(
        dir.path(),
        vec![("JIRALINK_MASTER_KEY", other.encode().to_string())],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "vault_locked");
    assert!(err.to_string().contains(&first.id().to_string()), "{err}");
    // The right key still opens it.
    try_open(
        dir.path(),
        vec![("JIRALINK_MASTER_KEY", first.encode().to_string())],
    )
    .await
    .unwrap();
}

/// With the key in the environment, an interrupted rotation keeps its new key in the data
/// directory, so every later start can read every secret, and running it again finishes.
#[tokio::test]
async fn rotation_with_an_environment_key_resumes_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let old = MasterKey::generate();
    let env_old = vec![("JIRALINK_MASTER_KEY", old.encode().to_string())];
    let app = try_open(dir.path(), env_old.clone()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..4 {
        let v = add_basic(&app, &format!("Conn {i}"), &format!("token-{i}")).await;
        ids.push(v.id.parse::<ConnectionId>().unwrap());
    }
    let dest = dir.path().join("new.key");
    // Start the rotation, then "kill" it after two rows: do its first steps by hand.
    let next = MasterKey::generate();
    write_key_file(&dir.path().join(NEXT_KEY_FILE), &next).unwrap();
    let mut ring = Keyring::new(next.duplicate());
    ring.add(old.duplicate());
    for id in &ids[..2] {
        let owner = SecretOwner::Connection(*id);
        let stored = app
            .store()
            .get_secret(owner, SecretField::ApiToken)
            .await
            .unwrap()
            .unwrap();
        let rid = id.to_string();
        let aad = Aad {
            record_kind: owner.kind(),
            record_id: &rid,
            field: SecretField::ApiToken.as_str(),
        };
        let resealed = ring.reseal(&stored.sealed, &aad).unwrap();
        app.store()
            .reseal_secret(owner, SecretField::ApiToken, old.id(), &resealed)
            .await
            .unwrap();
    }
    drop(app);

    let app = try_open(dir.path(), env_old.clone()).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        let token = app.connection_api_token(*id).await.unwrap().unwrap();
        assert_eq!(token.expose(), format!("token-{i}"));
    }
    let report = app
        .rotate_key(Some(&dest), &crate::actor(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.resealed, 2);
    assert_eq!(report.to_key_id, next.id().to_string());
    assert!(
        report
            .next_steps
            .unwrap()
            .contains("JIRALINK_MASTER_KEY_FILE")
    );
    assert!(!dir.path().join(NEXT_KEY_FILE).exists());
    assert_eq!(read_key_file(&dest).unwrap().id(), next.id());
    drop(app);

    // The old key alone no longer opens anything; the new file does.
    let err = try_open(dir.path(), env_old).await.unwrap_err();
    assert_eq!(err.code(), "vault_locked");
    let app = try_open(
        dir.path(),
        vec![("JIRALINK_MASTER_KEY_FILE", dest.display().to_string())],
    )
    .await
    .unwrap();
    let token = app.connection_api_token(ids[3]).await.unwrap().unwrap();
    assert_eq!(token.expose(), "token-3");
}

/// With secrets in the database, a missing key and a wrong key are both refused with the id
/// of the key that sealed the secrets, and no key is made.
#[tokio::test]
async fn a_missing_or_wrong_key_names_the_key_that_sealed_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    add_basic(&app, "Jira", "token").await;
    drop(app);
    let key_path = dir.path().join("master.key");
    let sealing = read_key_file(&key_path).unwrap();
    let sealing_id = sealing.id().to_string();

    let other = MasterKey::generate();
    let err = try_open(
        dir.path(),
        vec![("JIRALINK_MASTER_KEY", other.encode().to_string())],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "vault_locked");
    assert!(err.to_string().contains(&sealing_id), "{err}");

    let saved = std::fs::read(&key_path).unwrap();
    std::fs::remove_file(&key_path).unwrap();
    let err = try_open(dir.path(), Vec::new()).await.unwrap_err();
    assert_eq!(err.code(), "vault_locked");
    assert!(err.to_string().contains(&sealing_id), "{err}");
    assert!(
        !key_path.exists(),
        "no key is made in place of the lost one"
    );
    std::fs::write(&key_path, saved).unwrap();
    std::fs::set_permissions(
        &key_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    open(dir.path()).await;
}

/// The new key is written to `master.key.next` readable by its owner only, before any
/// secret is re-sealed with it.
#[tokio::test]
async fn the_next_key_file_is_private_while_the_rotation_runs() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    add_basic(&app, "Jira", "token").await;
    let next = dir.path().join(NEXT_KEY_FILE);
    let seen = std::sync::Mutex::new(Vec::new());
    app.rotate_key(None, &crate::actor(), &|_, _| {
        let mode = std::fs::metadata(&next).map(|m| m.permissions().mode() & 0o777);
        seen.lock().unwrap().push(mode.ok());
    })
    .await
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|m| *m == Some(0o600)), "{seen:?}");
    assert!(!next.exists());
}

/// A secret written by another process under the old key while the rotation re-seals makes
/// the rotation stop before installing the new key: the old key stays in `master.key`, both
/// keys are loaded by the next start, and running the rotation again finishes.
#[tokio::test]
async fn a_secret_written_during_the_rotation_keeps_the_old_key_installed() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    add_basic(&app, "One", "token-1").await;
    add_basic(&app, "Two", "token-2").await;
    let key_path = dir.path().join("master.key");
    let old = read_key_file(&key_path).unwrap();

    // Another process on the same data directory, opened before the rotation: it knows the
    // old key only. It writes one secret when told to.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let path = dir.path().to_path_buf();
    let other = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let other = open(&path).await;
            ready_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            add_basic(&other, "Three", "token-3").await;
            done_tx.send(()).unwrap();
        });
    });
    ready_rx.recv().unwrap();
    let written = std::sync::atomic::AtomicBool::new(false);
    let err = app
        .rotate_key(None, &crate::actor(), &|_, _| {
            if !written.swap(true, std::sync::atomic::Ordering::SeqCst) {
                go_tx.send(()).unwrap();
                done_rx.recv().unwrap();
            }
        })
        .await
        .unwrap_err();
    other.join().unwrap();
    assert!(
        err.to_string().contains("changed during the rotation"),
        "{err}"
    );
    assert_eq!(read_key_file(&key_path).unwrap().id(), old.id());
    let next = read_key_file(&dir.path().join(NEXT_KEY_FILE)).unwrap();
    assert_ne!(next.id(), old.id());
    assert_eq!(
        app.store()
            .get_setting("master_key_id")
            .await
            .unwrap()
            .as_deref(),
        Some(old.id().to_string().as_str()),
        "the database still records the old key"
    );
    drop(app);

    // A restart reads every secret; the rotation run again installs the new key.
    let app = open(dir.path()).await;
    for (name, token) in [("One", "token-1"), ("Two", "token-2"), ("Three", "token-3")] {
        let id = app.get_connection(name).await.unwrap().id.parse().unwrap();
        let stored = app.connection_api_token(id).await.unwrap().unwrap();
        assert_eq!(stored.expose(), token);
    }
    let report = app
        .rotate_key(None, &crate::actor(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.to_key_id, next.id().to_string());
    assert_eq!(read_key_file(&key_path).unwrap().id(), next.id());
    assert_eq!(
        app.store().count_secrets_by_key().await.unwrap(),
        vec![(*next.id(), 3)]
    );
}
