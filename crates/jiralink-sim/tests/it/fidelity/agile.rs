//! Every Jira Software (`/rest/agile/1.0`) operation, successful and failing, validated against
//! the hand-written schemas in `schemas/agile.json`; the saved-filter operations boards use
//! against the platform document.

use reqwest::Method;
use serde_json::json;

use super::{Area, Fidelity, error_sweep};

const A: &str = "/rest/agile/1.0";

/// Lets the burst limiter's bucket refill (the clock is manual).
fn pause(fid: &Fidelity) {
    fid.sim.control().advance(std::time::Duration::from_secs(2));
}

pub(super) async fn exercise(fid: &Fidelity) {
    let get = |path: &str| fid.site(Method::GET, &format!("{A}{path}"));
    let post = |path: &str| fid.site(Method::POST, &format!("{A}{path}"));
    let put = |path: &str| fid.site(Method::PUT, &format!("{A}{path}"));
    let delete = |path: &str| fid.site(Method::DELETE, &format!("{A}{path}"));

    // Saved filters.
    let filter = fid
        .site(Method::POST, "/rest/api/3/filter")
        .json(json!({"name": "Mobile bugs", "jql": "project = MOB AND issuetype = Bug", "description": "Bugs"}))
        .send()
        .await;
    filter.expect(200);
    let filter_id: u64 = filter.str("/id").parse().expect("numeric id");
    fid.site(Method::POST, "/rest/api/3/filter")
        .invalid_json(json!({"jql": "project = MOB"}))
        .send()
        .await
        .expect(400);
    fid.site(Method::GET, "/rest/api/3/filter/10000")
        .send()
        .await
        .expect(200);
    fid.site(Method::GET, "/rest/api/3/filter/99")
        .send()
        .await
        .expect(400);

    pause(fid);
    // Boards.
    get("/board")
        .query(&[("maxResults", "2")])
        .send()
        .await
        .expect(200);
    get("/board")
        .query(&[("maxResults", "x")])
        .send()
        .await
        .expect(400);
    let board = post("/board")
        .json(
            json!({"name": "Bug board", "type": "kanban", "filterId": filter_id,
                     "location": {"type": "project", "projectKeyOrId": "MOB"}}),
        )
        .send()
        .await;
    board.expect(201);
    let board_id = board.body["id"].as_u64().expect("board id");
    post("/board")
        .json(json!({"name": "Nope", "type": "scrum", "filterId": 1}))
        .send()
        .await
        .expect(400);
    get("/board/1").send().await.expect(200);
    get("/board/999").send().await.expect(404);
    get("/board/1/configuration").send().await.expect(200);
    get("/board/3/configuration").send().await.expect(200);
    get("/board/999/configuration").send().await.expect(404);
    get("/board/1/issue")
        .query(&[("maxResults", "3"), ("expand", "names")])
        .send()
        .await
        .expect(200);
    get("/board/1/issue")
        .query(&[("jql", "status = Nope")])
        .send()
        .await
        .expect(400);
    pause(fid);
    get("/board/1/backlog")
        .query(&[
            ("maxResults", "3"),
            ("fields", "summary,sprint,closedSprints,epic"),
        ])
        .send()
        .await
        .expect(200);
    get("/board/3/backlog")
        .query(&[("maxResults", "2")])
        .send()
        .await
        .expect(200);
    get("/board/999/backlog").send().await.expect(404);
    get("/board/1/epic").send().await.expect(200);
    get("/board/999/epic").send().await.expect(404);
    get("/board/1/epic/none/issue")
        .query(&[("maxResults", "2")])
        .send()
        .await
        .expect(200);
    get("/board/999/epic/none/issue").send().await.expect(404);
    get("/board/1/epic/DEMO-1/issue")
        .query(&[("maxResults", "2")])
        .send()
        .await
        .expect(200);
    get("/board/1/epic/DEMO-2/issue").send().await.expect(404);
    get("/board/1/sprint")
        .query(&[("state", "active,future")])
        .send()
        .await
        .expect(200);
    get("/board/3/sprint").send().await.expect(400);
    get("/board/1/sprint/5/issue")
        .query(&[("maxResults", "2")])
        .send()
        .await
        .expect(200);
    get("/board/1/sprint/999/issue").send().await.expect(404);
    get("/board/1/project").send().await.expect(200);
    get("/board/999/project").send().await.expect(404);

    pause(fid);
    // Sprints.
    let sprint = post("/sprint")
        .json(json!({"name": "DEMO Hardening", "originBoardId": 1, "goal": "Harden"}))
        .send()
        .await;
    sprint.expect(201);
    let sprint_id = sprint.body["id"].as_u64().expect("sprint id");
    let s = format!("/sprint/{sprint_id}");
    post("/sprint")
        .json(json!({"name": "Kanban sprint", "originBoardId": 3}))
        .send()
        .await
        .expect(400);
    pause(fid);
    get(&s).send().await.expect(200);
    get("/sprint/999").send().await.expect(404);
    put(&s)
        .json(json!({"name": "DEMO Hardening 2", "goal": "Harden more",
                     "startDate": "2026-01-19T09:00:00.000Z", "endDate": "2026-02-02T09:00:00.000Z"}))
        .send()
        .await
        .expect(200);
    put("/sprint/999")
        .json(json!({"name": "x"}))
        .send()
        .await
        .expect(404);
    post(&s)
        .json(json!({"goal": "Ship"}))
        .send()
        .await
        .expect(200);
    post(&s)
        .json(json!({"state": "closed"}))
        .send()
        .await
        .expect(400);
    post(&format!("{s}/issue"))
        .json(json!({"issues": ["DEMO-4"]}))
        .send()
        .await
        .expect(204);
    post("/sprint/1/issue")
        .json(json!({"issues": ["DEMO-4"]}))
        .send()
        .await
        .expect(400);
    get(&format!("{s}/issue")).send().await.expect(200);
    get("/sprint/999/issue").send().await.expect(404);
    post("/backlog/issue")
        .json(json!({"issues": ["DEMO-4"]}))
        .send()
        .await
        .expect(204);
    post("/backlog/issue")
        .json(json!({"issues": ["NOPE-1"]}))
        .send()
        .await
        .expect(400);
    delete(&s).send().await.expect(204);
    delete(&s).send().await.expect(404);

    pause(fid);
    // Epics and issues.
    get("/epic/DEMO-1").send().await.expect(200);
    get("/epic/DEMO-2").send().await.expect(400);
    get("/epic/DEMO-1/issue").send().await.expect(200);
    get("/epic/NOPE-1/issue").send().await.expect(404);
    post("/epic/DEMO-1/issue")
        .json(json!({"issues": ["DEMO-3"]}))
        .send()
        .await
        .expect(204);
    post("/epic/DEMO-2/issue")
        .json(json!({"issues": ["DEMO-3"]}))
        .send()
        .await
        .expect(400);
    pause(fid);
    get("/epic/none/issue")
        .query(&[("maxResults", "2")])
        .send()
        .await
        .expect(200);
    get("/epic/none/issue")
        .query(&[("jql", "project = NOPE")])
        .send()
        .await
        .expect(400);
    post("/epic/none/issue")
        .json(json!({"issues": ["DEMO-3"]}))
        .send()
        .await
        .expect(204);
    post("/epic/none/issue")
        .json(json!({"issues": []}))
        .send()
        .await
        .expect(400);
    put("/issue/rank")
        .json(json!({"issues": ["DEMO-5"], "rankBeforeIssue": "DEMO-2"}))
        .send()
        .await
        .expect(204);
    put("/issue/rank")
        .json(
            json!({"issues": ["DEMO-5"], "rankBeforeIssue": "DEMO-2", "rankAfterIssue": "DEMO-3"}),
        )
        .send()
        .await
        .expect(400);
    get("/issue/DEMO-2").send().await.expect(200);
    get("/issue/NOPE-1").send().await.expect(404);
    get("/issue/DEMO-2/estimation")
        .query(&[("boardId", "1")])
        .send()
        .await
        .expect(200);
    get("/issue/DEMO-2/estimation").send().await.expect(400);

    pause(fid);
    delete(&format!("/board/{board_id}"))
        .send()
        .await
        .expect(204);
    delete("/board/999").send().await.expect(404);

    pause(fid);
    let calls: Vec<(Method, String)> = [
        (Method::GET, "/board"),
        (Method::POST, "/board"),
        (Method::GET, "/board/1"),
        (Method::DELETE, "/board/1"),
        (Method::GET, "/board/1/configuration"),
        (Method::GET, "/board/1/issue"),
        (Method::GET, "/board/1/backlog"),
        (Method::GET, "/board/1/epic"),
        (Method::GET, "/board/1/epic/none/issue"),
        (Method::GET, "/board/1/epic/DEMO-1/issue"),
        (Method::GET, "/board/1/sprint"),
        (Method::GET, "/board/1/sprint/5/issue"),
        (Method::GET, "/board/1/project"),
        (Method::POST, "/backlog/issue"),
        (Method::GET, "/epic/none/issue"),
        (Method::POST, "/epic/none/issue"),
        (Method::GET, "/epic/DEMO-1"),
        (Method::GET, "/epic/DEMO-1/issue"),
        (Method::POST, "/epic/DEMO-1/issue"),
        (Method::PUT, "/issue/rank"),
        (Method::GET, "/issue/DEMO-1"),
        (Method::GET, "/issue/DEMO-1/estimation"),
        (Method::POST, "/sprint"),
        (Method::GET, "/sprint/5"),
        (Method::PUT, "/sprint/5"),
        (Method::POST, "/sprint/5"),
        (Method::DELETE, "/sprint/5"),
        (Method::GET, "/sprint/5/issue"),
        (Method::POST, "/sprint/5/issue"),
    ]
    .into_iter()
    .map(|(m, p)| (m, format!("{A}{p}")))
    .chain([
        (Method::GET, "/rest/api/3/filter/10000".to_owned()),
        (Method::POST, "/rest/api/3/filter".to_owned()),
    ])
    .collect();
    for chunk in calls.chunks(10) {
        pause(fid);
        error_sweep(fid, Area::Agile, chunk).await;
    }

    let (ops, validated) = fid.finish(Area::Agile);
    eprintln!("agile: {ops} operations, {validated} responses validated");
}
