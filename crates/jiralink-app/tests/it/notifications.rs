//! Notifications end to end: states reported by connection tests, one message per change,
//! digests, links, e-mail to an SMTP sink and a signed webhook with retries, all on
//! 127.0.0.1 with a manual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use jiralink_app::{App, Channel, ConnectionSecrets, OpenOptions, SubscriptionDraft};
use jiralink_domain::{Clock as _, ConnectionDraft, ManualClock};
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_vault::{ApiToken, Password};
use pretty_assertions::assert_eq;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::basic_draft;

const BASE: &str = "https://jiralink.example.com";

/// A tiny SMTP server: accepts every message and hands its DATA to the test.
struct SmtpSink {
    port: u16,
    messages: mpsc::UnboundedReceiver<String>,
}

async fn smtp_sink() -> SmtpSink {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            tx.send(data.take().unwrap()).unwrap();
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.ok();
                            break;
                        }
                        _ => b"250 OK\r\n",
                    };
                    write.write_all(answer).await.unwrap();
                }
            });
        }
    });
    SmtpSink { port, messages: rx }
}

/// A webhook receiver that checks each call's signature and answers `fail_first` calls
/// with 500 before answering 200.
struct Receiver {
    url: String,
    secret: Arc<std::sync::Mutex<String>>,
    calls: mpsc::UnboundedReceiver<(bool, serde_json::Value)>,
    answered: Arc<AtomicUsize>,
}

async fn receiver(fail_first: usize) -> Receiver {
    let secret = Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = mpsc::unbounded_channel();
    let answered = Arc::new(AtomicUsize::new(0));
    let (s, n) = (Arc::clone(&secret), Arc::clone(&answered));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (s, n, tx) = (Arc::clone(&s), Arc::clone(&n), tx.clone());
            async move {
                let expected = jiralink_app::signature(&s.lock().unwrap(), &body);
                let valid = headers
                    .get(jiralink_app::SIGNATURE_HEADER)
                    .is_some_and(|v| v.as_bytes() == expected.as_bytes());
                tx.send((valid, serde_json::from_slice(&body).unwrap()))
                    .unwrap();
                if n.fetch_add(1, Ordering::SeqCst) < fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        url,
        secret,
        calls: rx,
        answered,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    sim: SimHandle,
    app: App,
    clock: ManualClock,
    smtp: SmtpSink,
}

async fn fixture() -> Fixture {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let smtp = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jiralink.toml"),
        format!(
            "version = 1\n[server]\nbase_url = \"{BASE}\"\n\
             [atlassian]\nsite_url_template = \"{}\"\napi_gateway = \"{}\"\nauth_server = \"{}\"\n\
             [notifications]\ndigest_window = \"60s\"\ndigest_after = 3\nmax_attempts = 4\n\
             retry_after = \"30s\"\n\
             [notifications.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             from = \"jiralink <jiralink@example.com>\"\n",
            sim.site_url_template(),
            sim.api_gateway(),
            sim.auth_server(),
            smtp.port
        ),
    )
    .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC));
    let app = App::open(OpenOptions {
        data_dir: dir.path().to_path_buf(),
        config_file: None,
        database: None,
        clock: Arc::new(clock.clone()),
        env: Box::new(|_| None),
    })
    .await
    .unwrap()
    .value;
    app.create_user(
        "ann",
        &Password::new("a long enough password"),
        false,
        &crate::actor(),
    )
    .await
    .unwrap();
    Fixture {
        _dir: dir,
        sim,
        app,
        clock,
        smtp,
    }
}

impl Fixture {
    async fn connection(&self, name: &str) -> String {
        self.app
            .create_connection(
                &ConnectionDraft {
                    username: Some(self.sim.samples().email.clone()),
                    ..basic_draft(name)
                },
                ConnectionSecrets {
                    api_token: Some(ApiToken::new(&self.sim.samples().api_token)),
                },
                &crate::actor(),
            )
            .await
            .unwrap()
            .value
            .id
    }

    async fn subscribe(&self, topic: &str, subject: Option<&str>, channel: Channel) {
        self.app
            .subscribe(
                "ann",
                SubscriptionDraft {
                    topic: topic.to_owned(),
                    subject_kind: None,
                    subject: subject.map(str::to_owned),
                    channel: channel.as_str().to_owned(),
                    address: (channel == Channel::Email).then(|| "ann@example.com".to_owned()),
                },
            )
            .await
            .unwrap();
    }

    /// Moves the clock past the digest window and dispatches.
    async fn dispatch_after_window(&self) -> jiralink_app::DispatchReport {
        self.clock.advance(std::time::Duration::from_secs(61));
        self.app.dispatch_notifications().await.unwrap()
    }

    fn emails(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(m) = self.smtp.messages.try_recv() {
            out.push(m);
        }
        out
    }
}

/// The text of a quoted-printable e-mail body, lines joined.
fn unfold(mail: &str) -> String {
    mail.replace("=\n", "").replace("=3D", "=")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_failing_a_thousand_times_is_told_once_and_once_more_when_it_is_back() {
    let mut f = fixture().await;
    let id = f.connection("Jira prod").await;
    f.subscribe("connection.offline", Some("Jira prod"), Channel::Email)
        .await;
    f.sim.control().fail_next(1000, 401, None);
    for _ in 0..1000 {
        f.app.test_connection(&id).await.unwrap();
    }
    // Nothing goes before the window is over: other changes may join it.
    assert_eq!(f.app.dispatch_notifications().await.unwrap().composed, 0);
    let report = f.dispatch_after_window().await;
    assert_eq!((report.composed, report.sent), (1, 1), "{report:?}");
    let mails = f.emails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = unfold(&mails[0]);
    assert!(
        mail.contains("Subject: Connection Jira prod is offline"),
        "{mail}"
    );
    assert!(mail.contains("To: ann@example.com"), "{mail}");
    let link = format!("{BASE}/connections/{id}/edit");
    assert!(mail.contains(&link), "{mail}");

    // Back online: one more.
    f.app.test_connection(&id).await.unwrap();
    f.app.test_connection(&id).await.unwrap();
    let report = f.dispatch_after_window().await;
    assert_eq!((report.composed, report.sent), (1, 1), "{report:?}");
    let mails = f.emails();
    assert_eq!(mails.len(), 1);
    assert!(unfold(&mails[0]).contains("Subject: Connection Jira prod is back online"));

    let history = f
        .app
        .list_notifications(Some("ann"), None, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].title, "Connection Jira prod is back online");
    assert_eq!(history[1].events[0].link, link);
    assert_eq!(history[1].events[0].state, "trouble");
    assert!(history.iter().all(|n| n.state == "sent" && n.attempts == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_changes_at_once_go_out_as_one_digest_listing_each_with_its_link() {
    let mut f = fixture().await;
    f.subscribe("connection.offline", None, Channel::Email)
        .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(f.connection(&format!("Jira {i}")).await);
    }
    f.sim.control().fail_next(5, 401, None);
    for id in &ids {
        f.app.test_connection(id).await.unwrap();
    }
    let report = f.dispatch_after_window().await;
    assert_eq!((report.composed, report.sent), (1, 1), "{report:?}");
    let mails = f.emails();
    assert_eq!(mails.len(), 1);
    let mail = unfold(&mails[0]);
    assert!(
        mail.contains("Subject: jiralink: 5 changes (5 need attention, 0 resolved)"),
        "{mail}"
    );
    for (i, id) in ids.iter().enumerate() {
        assert!(
            mail.contains(&format!("Connection Jira {i} is offline")),
            "{mail}"
        );
        assert!(
            mail.contains(&format!("{BASE}/connections/{id}/edit")),
            "{mail}"
        );
    }
    let history = f.app.list_notifications(None, None, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].events.len(), 5);

    // Three changes (not more than digest_after) go one by one.
    for id in &ids[..3] {
        f.app.test_connection(id).await.unwrap();
    }
    let report = f.dispatch_after_window().await;
    assert_eq!((report.composed, report.sent), (3, 3), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_signed_and_retried_with_backoff_until_it_answers() {
    let f = fixture().await;
    let mut hook = receiver(2).await;
    let saved = f
        .app
        .set_notification_webhook(&hook.url, false, &crate::actor())
        .await
        .unwrap();
    let shown = format!("{saved:?}");
    let secret = saved.secret.expect("a first secret is generated");
    assert!(!shown.contains(secret.expose()), "{shown}");
    *hook.secret.lock().unwrap() = secret.expose().to_owned();
    // Setting the URL again keeps the secret.
    let again = f
        .app
        .set_notification_webhook(&hook.url, false, &crate::actor())
        .await
        .unwrap();
    assert!(again.secret.is_none() && again.webhook.secret_set);

    let id = f.connection("Jira").await;
    f.subscribe("connection.offline", None, Channel::Webhook)
        .await;
    f.sim.control().fail_next(1, 401, None);
    f.app.test_connection(&id).await.unwrap();

    let report = f.dispatch_after_window().await;
    assert_eq!((report.composed, report.sent, report.retrying), (1, 0, 1));
    let first_try = f.clock.now();
    let (valid, body) = hook.calls.recv().await.unwrap();
    assert!(valid, "the signature checks out");
    assert_eq!(body["title"], "Connection Jira is offline");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{BASE}/connections/{id}/edit"))
    );
    assert_eq!(body["events"][0]["subjectId"], id.as_str());
    assert_eq!(body["events"][0]["state"], "trouble");
    let pending = &f.app.list_notifications(None, None, 1).await.unwrap()[0];
    assert_eq!(pending.state, "pending");
    assert_eq!(
        pending.last_error.as_deref(),
        Some("the webhook answered HTTP 500")
    );
    assert_eq!(
        pending.next_attempt_at,
        Some(first_try + time::Duration::seconds(30))
    );

    // Not before its time.
    assert_eq!(f.app.dispatch_notifications().await.unwrap().retrying, 0);
    assert_eq!(hook.answered.load(Ordering::SeqCst), 1);
    f.clock.advance(std::time::Duration::from_secs(30));
    let report = f.app.dispatch_notifications().await.unwrap();
    assert_eq!(report.retrying, 1);
    assert!(hook.calls.recv().await.unwrap().0);
    let second_try = f.clock.now();
    let pending = &f.app.list_notifications(None, None, 1).await.unwrap()[0];
    // The wait doubles.
    assert_eq!(
        pending.next_attempt_at,
        Some(second_try + time::Duration::seconds(60))
    );
    assert_eq!(report.next_due, pending.next_attempt_at);
    f.clock.advance(std::time::Duration::from_secs(60));
    let report = f.app.dispatch_notifications().await.unwrap();
    assert_eq!(report.sent, 1);
    assert!(hook.calls.recv().await.unwrap().0);
    let sent = &f.app.list_notifications(None, None, 1).await.unwrap()[0];
    assert_eq!((sent.state.as_str(), sent.attempts), ("sent", 3));
    assert_eq!(sent.last_error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_keeps_failing_is_given_up_after_the_attempts_and_redirects_are_not_followed()
 {
    let f = fixture().await;
    let mut hook = receiver(usize::MAX).await;
    let saved = f
        .app
        .set_notification_webhook(&hook.url, false, &crate::actor())
        .await
        .unwrap();
    *hook.secret.lock().unwrap() = saved.secret.unwrap().expose().to_owned();
    let sent = f
        .app
        .send_test_notification("ann", Channel::Webhook, None)
        .await
        .unwrap();
    assert_eq!((sent.state.as_str(), sent.attempts), ("pending", 1));
    assert!(hook.calls.recv().await.unwrap().0);
    for _ in 0..3 {
        f.clock.advance(std::time::Duration::from_secs(3600));
        f.app.dispatch_notifications().await.unwrap();
    }
    let failed = &f
        .app
        .list_notifications(Some("ann"), None, 1)
        .await
        .unwrap()[0];
    assert_eq!((failed.state.as_str(), failed.attempts), ("failed", 4));
    assert_eq!(failed.next_attempt_at, None);
    assert_eq!(hook.answered.load(Ordering::SeqCst), 4);

    // A redirect is an answer to fix, not one to follow.
    let redirecting = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [("location", "http://127.0.0.1:9/elsewhere")],
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirecting).await.unwrap() });
    f.app
        .set_notification_webhook(&url, false, &crate::actor())
        .await
        .unwrap();
    let test = f
        .app
        .send_test_notification("ann", Channel::Webhook, None)
        .await
        .unwrap();
    assert!(
        test.last_error
            .as_deref()
            .unwrap()
            .contains("HTTP 307 (a redirect, not followed)"),
        "{test:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_checked_and_belong_to_their_user() {
    let mut f = fixture().await;
    let err = f
        .app
        .subscribe(
            "ann",
            SubscriptionDraft {
                topic: "connection.gone".to_owned(),
                channel: "email".to_owned(),
                address: Some("ann@example.com".to_owned()),
                ..SubscriptionDraft::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    let no_address = f
        .app
        .subscribe(
            "ann",
            SubscriptionDraft {
                topic: "run.failed".to_owned(),
                channel: "email".to_owned(),
                ..SubscriptionDraft::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(no_address.code(), "validation_failed");
    let kind_needed = f
        .app
        .subscribe(
            "ann",
            SubscriptionDraft {
                topic: "run.failed".to_owned(),
                subject: Some("nightly".to_owned()),
                channel: "webhook".to_owned(),
                ..SubscriptionDraft::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        kind_needed.to_string().contains("subjectKind"),
        "{kind_needed}"
    );
    let unknown = f
        .app
        .subscribe(
            "ann",
            SubscriptionDraft {
                topic: "connection.offline".to_owned(),
                subject: Some("nope".to_owned()),
                channel: "webhook".to_owned(),
                ..SubscriptionDraft::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "connection_not_found");

    f.subscribe("connection.offline", None, Channel::Email)
        .await;
    let twice = f
        .app
        .subscribe(
            "ann",
            SubscriptionDraft {
                topic: "connection.offline".to_owned(),
                channel: "email".to_owned(),
                address: Some("ann@example.com".to_owned()),
                ..SubscriptionDraft::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(twice.code(), "subscription_exists");
    let subs = f.app.list_subscriptions(Some("ann")).await.unwrap();
    assert_eq!(subs.len(), 1);
    f.app
        .create_user(
            "bob",
            &Password::new("another long password"),
            false,
            &crate::actor(),
        )
        .await
        .unwrap();
    let theirs = f
        .app
        .unsubscribe("bob", &subs[0].id.to_string())
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), "subscription_not_found");
    f.app
        .unsubscribe("ann", &subs[0].id.to_string())
        .await
        .unwrap();
    assert!(f.app.list_subscriptions(None).await.unwrap().is_empty());

    // Without a subscriber a change is recorded, but nobody is told.
    let id = f.connection("Quiet").await;
    f.sim.control().fail_next(1, 401, None);
    f.app.test_connection(&id).await.unwrap();
    assert_eq!(f.dispatch_after_window().await.composed, 0);
    assert!(f.emails().is_empty());

    // A test e-mail goes at once.
    let test = f
        .app
        .send_test_notification("ann", Channel::Email, Some("ann@example.com"))
        .await
        .unwrap();
    assert_eq!(test.state, "sent");
    assert!(f.emails()[0].contains("Subject: jiralink test notification"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatch_job_runs_in_the_worker_and_comes_back_when_a_change_waits() {
    let mut f = fixture().await;
    f.subscribe("connection.offline", None, Channel::Email)
        .await;
    let id = f.connection("Jira").await;
    let options = jiralink_app::WorkerOptions::from_config(f.app.config());
    f.app.ensure_recurring_jobs().await.unwrap();
    while f.app.run_due_job(&options).await.unwrap().is_some() {}
    f.sim.control().fail_next(1, 401, None);
    f.app.test_connection(&id).await.unwrap();
    let changed_at = f.clock.now();
    let job = f
        .app
        .list_jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind == jiralink_app::NOTIFICATION_DISPATCH_JOB)
        .unwrap();
    assert_eq!(job.next_run_at, changed_at + time::Duration::seconds(60));
    f.clock.set(job.next_run_at);
    let run = f.app.run_due_job(&options).await.unwrap().unwrap();
    assert_eq!(run.kind, jiralink_app::NOTIFICATION_DISPATCH_JOB);
    assert_eq!(
        run.detail.as_deref(),
        Some("1 notification(s) composed, 1 sent, 0 to be tried again, 0 given up")
    );
    assert_eq!(f.emails().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_client_secret_a_year_old_is_told_once() {
    let mut f = fixture().await;
    f.subscribe("oauth_client.secret_old", None, Channel::Email)
        .await;
    crate::add_client(&f.app, "Sim app", "a-client-secret-value").await;
    // Young: nothing to tell.
    let report = f.dispatch_after_window().await;
    assert_eq!(report.composed, 0, "{report:?}");
    assert!(f.emails().is_empty());

    // A year and a day on, the dispatch job's age check finds it; after the window, one mail.
    f.clock
        .advance(std::time::Duration::from_secs(366 * 86_400));
    f.app.dispatch_notifications().await.unwrap();
    let report = f.dispatch_after_window().await;
    assert_eq!((report.composed, report.sent), (1, 1), "{report:?}");
    let mails = f.emails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = unfold(&mails[0]);
    assert!(
        mail.contains("OAuth 2.0 client Sim app: rotate its secret"),
        "{mail}"
    );
    assert!(mail.contains(&format!("{BASE}/connections")), "{mail}");
    assert!(!mail.contains("a-client-secret-value"));

    // Still old at the next checks: not told again.
    for _ in 0..3 {
        f.clock.advance(std::time::Duration::from_secs(2 * 3600));
        f.app.dispatch_notifications().await.unwrap();
    }
    let report = f.dispatch_after_window().await;
    assert_eq!(report.composed, 0, "{report:?}");
    assert!(f.emails().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_is_told_once_with_its_link_and_once_more_when_runs_work_again() {
    let mut f = fixture().await;
    f.connection("Jira").await;
    f.subscribe("run.failed", None, Channel::Email).await;
    f.app
        .create_export(
            jiralink_app::ExportDraft {
                name: "Nightly".to_owned(),
                connection: "Jira".to_owned(),
                spec: crate::exports::issues("project = DEMO"),
                schedule: None,
                enabled: true,
            },
            &crate::actor(),
        )
        .await
        .unwrap();
    let run = |f: &Fixture| {
        let app = f.app.clone();
        async move {
            app.run_export(
                "Nightly",
                jiralink_store::RunTrigger::Cli,
                jiralink_app::RunOutput::Store,
                &jiralink_app::NoProgress,
            )
            .await
        }
    };
    // Jira refuses the requests of two runs (a 400 is not retried): two failed runs, one
    // message.
    for _ in 0..2 {
        f.sim.control().fail_next(4, 400, None);
        let failed = run(&f).await;
        f.sim.control().clear_faults();
        assert!(
            failed
                .as_ref()
                .map_or(true, |r| r.state == jiralink_store::RunState::Failed),
            "{failed:?}"
        );
    }
    let report = f.dispatch_after_window().await;
    assert_eq!((report.composed, report.sent), (1, 1), "{report:?}");
    let mails = f.emails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = unfold(&mails[0]);
    assert!(mail.contains("Nightly: the last run failed"), "{mail}");
    let history = f
        .app
        .list_notifications(Some("ann"), None, 10)
        .await
        .unwrap();
    let link = &history[0].events[0].link;
    assert!(link.starts_with(&format!("{BASE}/runs/")), "{link}");
    assert!(mail.contains(link.as_str()), "{mail}");

    // The next run succeeds: told once more.
    run(&f).await.unwrap();
    run(&f).await.unwrap();
    let report = f.dispatch_after_window().await;
    assert_eq!((report.composed, report.sent), (1, 1), "{report:?}");
    let mails = f.emails();
    assert_eq!(mails.len(), 1);
    assert!(unfold(&mails[0]).contains("Nightly: runs work again"));
}
