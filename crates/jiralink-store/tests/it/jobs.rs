//! Jobs: added once, claimed by one holder at a time, taken over after a lease runs out.

use jiralink_store::{ClaimedJob, JobFinish, JobOutcome, NewJob, Store};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

crate::on_both_backends! {
    jobs_are_added_once: super::jobs_are_added_once,
    a_due_job_is_claimed_by_one_holder: super::a_due_job_is_claimed_by_one_holder,
    a_dead_holders_job_is_taken_over: super::a_dead_holders_job_is_taken_over,
    one_off_jobs_are_deleted_when_done: super::one_off_jobs_are_deleted_when_done,
    a_run_asked_for_while_the_job_ran_is_kept: super::a_run_asked_for_while_the_job_ran_is_kept,
}

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
const KINDS: &[&str] = &["test.recurring"];

fn recurring(key: &str) -> NewJob {
    NewJob {
        kind: "test.recurring".to_owned(),
        key: key.to_owned(),
        payload: serde_json::json!({"interval_secs": 900}),
        next_run_at: T0,
    }
}

fn done(at: OffsetDateTime, next: Option<OffsetDateTime>) -> JobFinish {
    JobFinish {
        outcome: JobOutcome::Succeeded,
        detail: Some("2 connections re-tested".to_owned()),
        at,
        next_run_at: next,
        forget_runs_before: at - Duration::days(7),
    }
}

async fn claim(store: &dyn Store, holder: &str, now: OffsetDateTime) -> Option<ClaimedJob> {
    store
        .claim_job(KINDS, holder, now, now + Duration::minutes(1))
        .await
        .unwrap()
}

pub(crate) async fn jobs_are_added_once(db: &crate::TestDb) {
    let adders = (0..8).map(|_| async {
        let store = db.another().await;
        store.ensure_job(&recurring("retest"), T0).await.unwrap()
    });
    let jobs = futures::future::join_all(adders).await;
    assert!(jobs.windows(2).all(|w| w[0].id == w[1].id));
    assert_eq!(db.store().list_jobs().await.unwrap().len(), 1);
    assert_eq!(jobs[0].payload["interval_secs"], 900);
}

pub(crate) async fn a_due_job_is_claimed_by_one_holder(db: &crate::TestDb) {
    let store = db.store();
    store.ensure_job(&recurring("retest"), T0).await.unwrap();
    assert!(
        claim(store, "early", T0 - Duration::seconds(1))
            .await
            .is_none()
    );
    assert_eq!(store.next_job_due(KINDS).await.unwrap(), Some(T0));
    assert_eq!(store.next_job_due(&["other.kind"]).await.unwrap(), None);
    let claimers = (0..10).map(|i| async move {
        let store = db.another().await;
        claim(&*store, &format!("server-{i}"), T0).await
    });
    let claims: Vec<ClaimedJob> = futures::future::join_all(claimers)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(claims.len(), 1, "{claims:?}");
    let claimed = &claims[0];
    let holder = claimed.job.lease_holder.clone().unwrap();
    assert_eq!(claimed.job.attempts, 1);
    // Held: not due for anyone, even its holder, until it is finished.
    assert!(claim(store, &holder, T0).await.is_none());
    assert!(
        store
            .renew_job_lease(claimed.job.id, &holder, T0 + Duration::minutes(5))
            .await
            .unwrap()
    );
    assert!(
        !store
            .renew_job_lease(claimed.job.id, "not-the-holder", T0 + Duration::minutes(5))
            .await
            .unwrap()
    );
    let next = T0 + Duration::minutes(15);
    assert!(
        store
            .finish_job(
                claimed,
                &holder,
                &done(T0 + Duration::seconds(3), Some(next))
            )
            .await
            .unwrap()
    );
    let jobs = store.list_jobs().await.unwrap();
    assert_eq!(jobs[0].next_run_at, next);
    assert_eq!(jobs[0].attempts, 0, "a success starts the count again");
    assert_eq!(jobs[0].last_outcome, Some(JobOutcome::Succeeded));
    assert_eq!(jobs[0].lease_holder, None);
    assert!(
        claim(store, "server-x", T0 + Duration::minutes(14))
            .await
            .is_none()
    );
    assert!(claim(store, "server-x", next).await.is_some());
    let runs = store.list_job_runs(Some(claimed.job.id), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].outcome, JobOutcome::Succeeded);
    assert_eq!(runs[1].holder, holder);
    assert_eq!(runs[1].detail.as_deref(), Some("2 connections re-tested"));
    assert_eq!(runs[0].outcome, JobOutcome::Running);
}

pub(crate) async fn a_dead_holders_job_is_taken_over(db: &crate::TestDb) {
    let store = db.store();
    store.ensure_job(&recurring("retest"), T0).await.unwrap();
    let dead = claim(store, "dead", T0).await.unwrap();
    // Its lease (one minute) runs out: the job is due at that time, and another takes it.
    assert_eq!(
        store.next_job_due(KINDS).await.unwrap(),
        Some(T0 + Duration::minutes(1))
    );
    assert!(
        claim(store, "alive", T0 + Duration::seconds(59))
            .await
            .is_none()
    );
    let alive = claim(store, "alive", T0 + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(alive.job.attempts, 2);
    // The dead holder, back from a pause, finds it lost the lease and changes nothing.
    assert!(
        !store
            .renew_job_lease(dead.job.id, "dead", T0 + Duration::minutes(3))
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_job(&dead, "dead", &done(T0 + Duration::minutes(2), Some(T0)))
            .await
            .unwrap()
    );
    assert_eq!(
        store.list_jobs().await.unwrap()[0].lease_holder.as_deref(),
        Some("alive")
    );
    let runs = store.list_job_runs(None, 10).await.unwrap();
    let outcomes: Vec<(String, JobOutcome)> =
        runs.iter().map(|r| (r.holder.clone(), r.outcome)).collect();
    assert!(outcomes.contains(&("alive".to_owned(), JobOutcome::Running)));
    assert!(
        outcomes.contains(&("dead".to_owned(), JobOutcome::Abandoned)),
        "the dead holder's run stays abandoned, as its successor recorded: {outcomes:?}"
    );
    // Old runs are forgotten when a run finishes.
    assert!(
        store
            .finish_job(
                &alive,
                "alive",
                &JobFinish {
                    forget_runs_before: T0 + Duration::minutes(1),
                    ..done(T0 + Duration::minutes(2), Some(T0 + Duration::hours(1)))
                }
            )
            .await
            .unwrap()
    );
    assert_eq!(store.list_job_runs(None, 10).await.unwrap().len(), 1);
}

pub(crate) async fn one_off_jobs_are_deleted_when_done(db: &crate::TestDb) {
    let store = db.store();
    let job = NewJob {
        kind: "test.recurring".to_owned(),
        key: "once".to_owned(),
        payload: serde_json::json!({}),
        next_run_at: T0 + Duration::hours(1),
    };
    store.ensure_job(&job, T0).await.unwrap();
    assert!(store.reschedule_job("once", T0).await.unwrap());
    assert!(!store.reschedule_job("missing", T0).await.unwrap());
    let claimed = claim(store, "h", T0).await.unwrap();
    assert!(
        store
            .finish_job(&claimed, "h", &done(T0, None))
            .await
            .unwrap()
    );
    assert!(store.list_jobs().await.unwrap().is_empty());
    assert!(
        store.list_job_runs(None, 10).await.unwrap().is_empty(),
        "the history goes with the job"
    );
}

pub(crate) async fn a_run_asked_for_while_the_job_ran_is_kept(db: &crate::TestDb) {
    let store = db.store();
    store.ensure_job(&recurring("listener"), T0).await.unwrap();
    // Not asked for again: the next time is the one the run chose.
    let claimed = claim(store, "h", T0).await.unwrap();
    let later = T0 + Duration::minutes(5);
    store
        .finish_job(&claimed, "h", &done(T0, Some(later)))
        .await
        .unwrap();
    assert_eq!(store.list_jobs().await.unwrap()[0].next_run_at, later);
    // Asked for while it ran: the sooner time is kept.
    let claimed = claim(store, "h", later).await.unwrap();
    let asked = later + Duration::seconds(1);
    assert!(store.reschedule_job("listener", asked).await.unwrap());
    store
        .finish_job(
            &claimed,
            "h",
            &done(asked, Some(later + Duration::minutes(5))),
        )
        .await
        .unwrap();
    assert_eq!(store.list_jobs().await.unwrap()[0].next_run_at, asked);
    // But not a later one.
    let claimed = claim(store, "h", asked).await.unwrap();
    assert!(
        store
            .reschedule_job("listener", asked + Duration::hours(1))
            .await
            .unwrap()
    );
    let soon = asked + Duration::minutes(1);
    store
        .finish_job(&claimed, "h", &done(asked, Some(soon)))
        .await
        .unwrap();
    assert_eq!(store.list_jobs().await.unwrap()[0].next_run_at, soon);
}
