//! Catalogues, project parts, users and groups, successful and failing, validated against the
//! v3 document.

use reqwest::Method;
use serde_json::json;

use super::{Area, Fidelity, error_sweep};

const V3: &str = "/rest/api/3";

/// Lets the per-second burst buckets refill between sections (the clock is manual).
fn next_second(fid: &Fidelity) {
    fid.sim.control().advance(std::time::Duration::from_secs(2));
}

pub(super) async fn exercise(fid: &Fidelity) {
    next_second(fid);
    let get = |path: &str| fid.site(Method::GET, &format!("{V3}{path}"));
    let post = |path: &str| fid.site(Method::POST, &format!("{V3}{path}"));
    let put = |path: &str| fid.site(Method::PUT, &format!("{V3}{path}"));
    let delete = |path: &str| fid.site(Method::DELETE, &format!("{V3}{path}"));

    // Catalogues.
    get("/project")
        .query(&[("expand", "description,lead,issueTypes,url,insight")])
        .send()
        .await
        .expect(200);
    get("/project")
        .query(&[("recent", "2")])
        .send()
        .await
        .expect(200);
    get("/project/type").send().await.expect(200);
    get("/project/type/software").send().await.expect(200);
    get("/project/type/nope").send().await.expect(404);
    get("/projectCategory").send().await.expect(200);
    get("/projectCategory/10000").send().await.expect(200);
    get("/projectCategory/99").send().await.expect(404);
    get("/priority").send().await.expect(200);
    get("/priority/search")
        .query(&[("maxResults", "2"), ("priorityName", "h")])
        .send()
        .await
        .expect(200);
    get("/priority/search")
        .query(&[("id", "x")])
        .send()
        .await
        .expect(400);
    get("/priority/3").send().await.expect(200);
    get("/priority/99").send().await.expect(404);
    get("/resolution").send().await.expect(200);
    get("/resolution/search")
        .query(&[("onlyDefault", "true")])
        .send()
        .await
        .expect(200);
    get("/resolution/search")
        .query(&[("startAt", "-1")])
        .send()
        .await
        .expect(400);
    get("/resolution/10000").send().await.expect(200);
    get("/resolution/1").send().await.expect(404);
    get("/statuscategory").send().await.expect(200);
    get("/statuscategory/done").send().await.expect(200);
    get("/statuscategory/nope").send().await.expect(404);
    get("/project/DEMO/statuses").send().await.expect(200);
    get("/project/NOPE/statuses").send().await.expect(404);
    get("/role").send().await.expect(200);
    get("/project/HELP/role").send().await.expect(200);
    get("/project/NOPE/role").send().await.expect(404);
    get("/project/DEMO/role/10002").send().await.expect(200);
    get("/project/DEMO/role/10003").send().await.expect(200);
    get("/project/DEMO/role/10100").send().await.expect(404);
    get("/label")
        .query(&[("maxResults", "3")])
        .send()
        .await
        .expect(200);
    get("/label")
        .query(&[("maxResults", "x")])
        .send()
        .await
        .expect(400);

    next_second(fid);
    // Versions.
    get("/project/DEMO/versions")
        .query(&[("expand", "operations")])
        .send()
        .await
        .expect(200);
    get("/project/NOPE/versions").send().await.expect(404);
    get("/project/DEMO/version")
        .query(&[("orderBy", "-releaseDate"), ("status", "released")])
        .send()
        .await
        .expect(200);
    get("/project/DEMO/version")
        .query(&[("orderBy", "colour")])
        .send()
        .await
        .expect(400);
    let created = post("/version")
        .json(
            json!({"name": "3.0.0", "description": "Next big one", "projectId": 10000,
                     "startDate": "2026-04-01", "releaseDate": "2026-06-30"}),
        )
        .send()
        .await;
    let id = created.expect(201)["id"].as_str().expect("id").to_owned();
    post("/version")
        .json(json!({"name": "3.0.0", "projectId": 10000}))
        .send()
        .await
        .expect(400);
    post("/version")
        .json(json!({"name": "x", "projectId": 99}))
        .send()
        .await
        .expect(404);
    get(&format!("/version/{id}"))
        .query(&[("expand", "issuesstatus,driver,approvers,operations")])
        .send()
        .await
        .expect(200);
    get("/version/1").send().await.expect(404);
    put(&format!("/version/{id}"))
        .json(json!({"released": true, "description": "Shipped",
                     "moveUnfixedIssuesTo": fid.sim.site_url("demo") + "/rest/api/3/version/10000"}))
        .send()
        .await
        .expect(200);
    put(&format!("/version/{id}"))
        .invalid_json(json!({"releaseDate": "30 June"}))
        .send()
        .await
        .expect(400);
    get(&format!("/version/{id}/relatedIssueCounts"))
        .send()
        .await
        .expect(200);
    get("/version/1/relatedIssueCounts")
        .send()
        .await
        .expect(404);
    get(&format!("/version/{id}/unresolvedIssueCount"))
        .send()
        .await
        .expect(200);
    get("/version/1/unresolvedIssueCount")
        .send()
        .await
        .expect(404);
    delete(&format!("/version/{id}"))
        .query(&[("moveFixIssuesTo", &id)])
        .send()
        .await
        .expect(400);
    delete(&format!("/version/{id}")).send().await.expect(204);
    delete(&format!("/version/{id}")).send().await.expect(404);
    let swapped = post("/version")
        .json(json!({"name": "3.1.0", "projectId": 10000}))
        .send()
        .await;
    let swapped = swapped.expect(201)["id"].as_str().expect("id").to_owned();
    post(&format!("/version/{swapped}/removeAndSwap"))
        .json(json!({"moveFixIssuesTo": 99}))
        .send()
        .await
        .expect(400);
    post(&format!("/version/{swapped}/removeAndSwap"))
        .json(json!({"moveFixIssuesTo": 10001}))
        .send()
        .await
        .expect(204);
    post(&format!("/version/{swapped}/removeAndSwap"))
        .json(json!({}))
        .send()
        .await
        .expect(404);

    next_second(fid);
    // Components.
    get("/project/DEMO/components").send().await.expect(200);
    get("/component")
        .query(&[("projectIdsOrKeys", "DEMO,10001"), ("orderBy", "name")])
        .send()
        .await
        .expect(200);
    get("/component")
        .query(&[("projectIdsOrKeys", "NOPE")])
        .send()
        .await
        .expect(404);
    get("/project/NOPE/components").send().await.expect(404);
    get("/project/DEMO/component")
        .query(&[("orderBy", "-issueCount"), ("maxResults", "2")])
        .send()
        .await
        .expect(200);
    get("/project/DEMO/component")
        .query(&[("componentSource", "elsewhere")])
        .send()
        .await
        .expect(400);
    let lead = fid.sim.samples().email.clone();
    let me = get("/myself").send().await;
    let account = me.str("/accountId");
    let created = post("/component")
        .json(
            json!({"name": "Billing", "project": "DEMO", "description": "Invoices",
                     "leadAccountId": account, "assigneeType": "COMPONENT_LEAD"}),
        )
        .send()
        .await;
    let cid = created.expect(201)["id"].as_str().expect("id").to_owned();
    post("/component")
        .json(json!({"name": "Billing", "project": "DEMO"}))
        .send()
        .await
        .expect(400);
    get(&format!("/component/{cid}")).send().await.expect(200);
    get("/component/1").send().await.expect(404);
    put(&format!("/component/{cid}"))
        .json(json!({"assigneeType": "PROJECT_LEAD", "description": format!("Lead {lead}")}))
        .send()
        .await
        .expect(200);
    put(&format!("/component/{cid}"))
        .invalid_json(json!({"assigneeType": "SOMEONE"}))
        .send()
        .await
        .expect(400);
    get(&format!("/component/{cid}/relatedIssueCounts"))
        .send()
        .await
        .expect(200);
    get("/component/1/relatedIssueCounts")
        .send()
        .await
        .expect(404);
    delete(&format!("/component/{cid}"))
        .query(&[("moveIssuesTo", "1")])
        .send()
        .await
        .expect(404);
    delete(&format!("/component/{cid}"))
        .send()
        .await
        .expect(204);

    next_second(fid);
    // Users and groups.
    get("/user")
        .query(&[
            ("accountId", account.as_str()),
            ("expand", "groups,applicationRoles"),
        ])
        .send()
        .await
        .expect(200);
    get("/user")
        .query(&[("accountId", "nobody")])
        .send()
        .await
        .expect(404);
    get("/user/bulk")
        .query(&[("accountId", account.as_str()), ("maxResults", "5")])
        .send()
        .await
        .expect(200);
    get("/user/bulk").send().await.expect(400);
    get("/user/groups")
        .query(&[("accountId", account.as_str())])
        .send()
        .await
        .expect(200);
    get("/user/groups")
        .query(&[("accountId", "nobody")])
        .send()
        .await
        .expect(404);
    get("/user/assignable/search")
        .query(&[("project", "DEMO"), ("maxResults", "3")])
        .send()
        .await
        .expect(200);
    get("/user/assignable/search").send().await.expect(400);
    get("/user/assignable/search")
        .query(&[("issueKey", "NOPE-1")])
        .send()
        .await
        .expect(404);
    get("/user/assignable/multiProjectSearch")
        .query(&[("projectKeys", "DEMO,MOB")])
        .send()
        .await
        .expect(200);
    get("/user/assignable/multiProjectSearch")
        .send()
        .await
        .expect(400);
    get("/user/assignable/multiProjectSearch")
        .query(&[("projectKeys", "NOPE")])
        .send()
        .await
        .expect(404);
    get("/group/member")
        .query(&[("groupname", "jira-software-users"), ("maxResults", "3")])
        .send()
        .await
        .expect(200);
    get("/group/member").send().await.expect(400);
    get("/group/member")
        .query(&[("groupname", "no-such-group")])
        .send()
        .await
        .expect(404);
    get("/group")
        .query(&[("groupname", "site-admins"), ("expand", "users")])
        .send()
        .await
        .expect(200);
    get("/group")
        .query(&[
            ("groupname", "jira-software-users"),
            ("expand", "users[2:4]"),
        ])
        .send()
        .await
        .expect(200);
    get("/group")
        .query(&[("groupname", "nobody-here")])
        .send()
        .await
        .expect(404);
    get("/group/bulk")
        .query(&[("accessType", "user"), ("applicationKey", "jira-software")])
        .send()
        .await
        .expect(200);
    get("/group/bulk")
        .query(&[("accessType", "everyone")])
        .send()
        .await
        .expect(400);
    get("/groups/picker")
        .query(&[("query", "jira"), ("exclude", "site-admins")])
        .send()
        .await
        .expect(200);

    next_second(fid);
    let calls = [
        (Method::GET, "/project"),
        (Method::GET, "/project/type"),
        (Method::GET, "/project/type/software"),
        (Method::GET, "/projectCategory"),
        (Method::GET, "/projectCategory/10000"),
        (Method::GET, "/priority"),
        (Method::GET, "/priority/search"),
        (Method::GET, "/priority/3"),
        (Method::GET, "/resolution"),
        (Method::GET, "/resolution/search"),
        (Method::GET, "/resolution/10000"),
        (Method::GET, "/statuscategory"),
        (Method::GET, "/statuscategory/done"),
        (Method::GET, "/project/DEMO/statuses"),
        (Method::GET, "/role"),
        (Method::GET, "/project/DEMO/role"),
        (Method::GET, "/project/DEMO/role/10002"),
        (Method::GET, "/label"),
        (Method::GET, "/project/DEMO/versions"),
        (Method::GET, "/project/DEMO/version"),
        (Method::POST, "/version"),
        (Method::GET, "/version/10000"),
        (Method::PUT, "/version/10000"),
        (Method::DELETE, "/version/10000"),
        (Method::POST, "/version/10000/removeAndSwap"),
        (Method::GET, "/version/10000/relatedIssueCounts"),
        (Method::GET, "/version/10000/unresolvedIssueCount"),
        (Method::GET, "/project/DEMO/components"),
        (Method::GET, "/project/DEMO/component"),
        (Method::GET, "/component"),
        (Method::POST, "/component"),
        (Method::GET, "/component/10000"),
        (Method::PUT, "/component/10000"),
        (Method::DELETE, "/component/10000"),
        (Method::GET, "/component/10000/relatedIssueCounts"),
        (Method::GET, "/user"),
        (Method::GET, "/user/bulk"),
        (Method::GET, "/user/groups"),
        (Method::GET, "/user/assignable/search"),
        (Method::GET, "/user/assignable/multiProjectSearch"),
        (Method::GET, "/group"),
        (Method::GET, "/group/bulk"),
        (Method::GET, "/group/member"),
        (Method::GET, "/groups/picker"),
    ]
    .into_iter()
    .map(|(m, p)| (m, format!("{V3}{p}")))
    .collect::<Vec<_>>();
    error_sweep(fid, Area::Platform, &calls).await;
}
