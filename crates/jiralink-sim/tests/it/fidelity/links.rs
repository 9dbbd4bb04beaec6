//! Issue links, link types, remote links and attachments, successful and failing.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Area, Fidelity, error_sweep};

const V3: &str = "/rest/api/3";
const BOUNDARY: &str = "fidelity-boundary-7MA4YWxk";

/// A `multipart/form-data` body with one `file` part per (name, type, bytes).
pub(crate) fn multipart(files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, mime, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// A stored (uncompressed) ZIP archive of `files`.
pub(crate) fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let short = |n: usize| u16::try_from(n).expect("small").to_le_bytes();
    let long = |n: usize| u32::try_from(n).expect("small").to_le_bytes();
    for (name, data) in files {
        let offset = out.len();
        out.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&long(data.len()));
        out.extend_from_slice(&long(data.len()));
        out.extend_from_slice(&short(name.len()));
        out.extend_from_slice(&[0; 2]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&long(data.len()));
        central.extend_from_slice(&long(data.len()));
        central.extend_from_slice(&short(name.len()));
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&long(offset));
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len();
    out.extend_from_slice(&central);
    out.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
    out.extend_from_slice(&short(files.len()));
    out.extend_from_slice(&short(files.len()));
    out.extend_from_slice(&long(central.len()));
    out.extend_from_slice(&long(cd_offset));
    out.extend_from_slice(&[0; 2]);
    out
}

fn doc(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

/// Calls every operation of the area at least once successfully and once failing.
pub(super) async fn exercise(fid: &Fidelity) {
    let get = |path: &str| fid.site(Method::GET, &format!("{V3}{path}"));
    let post = |path: &str| fid.site(Method::POST, &format!("{V3}{path}"));
    let put = |path: &str| fid.site(Method::PUT, &format!("{V3}{path}"));
    let delete = |path: &str| fid.site(Method::DELETE, &format!("{V3}{path}"));

    // Link types.
    let types = get("/issueLinkType").send().await;
    assert_eq!(types.expect(200)["issueLinkTypes"][0]["name"], "Blocks");
    get("/issueLinkType/10000").send().await.expect(200);
    get("/issueLinkType/99999").send().await.expect(404);
    let created = post("/issueLinkType")
        .json(json!({"name": "Causes", "inward": "is caused by", "outward": "causes"}))
        .send()
        .await;
    let type_id = created.str("/id");
    created.expect(201);
    post("/issueLinkType")
        .json(json!({"name": "causes", "inward": "x", "outward": "y"}))
        .send()
        .await
        .expect(400);
    post("/issueLinkType")
        .json(json!({"inward": "x"}))
        .send()
        .await
        .expect(400);
    put(&format!("/issueLinkType/{type_id}"))
        .json(json!({"outward": "leads to"}))
        .send()
        .await
        .expect(200);
    put("/issueLinkType/99999")
        .json(json!({"name": "Nope"}))
        .send()
        .await
        .expect(404);

    // Issue links.
    post("/issueLink")
        .json(json!({
            "type": {"name": "Causes"},
            "inwardIssue": {"key": "DEMO-2"},
            "outwardIssue": {"key": "DEMO-3"},
            "comment": {"body": doc("Linked")}
        }))
        .send()
        .await
        .expect(201);
    post("/issueLink")
        .json(json!({"type": {"name": "Nope"}, "inwardIssue": {"key": "DEMO-2"}, "outwardIssue": {"key": "DEMO-3"}}))
        .send()
        .await
        .expect(404);
    post("/issueLink")
        .json(json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "DEMO-2"}, "outwardIssue": {"key": "NOPE-9"}}))
        .send()
        .await
        .expect(404);
    post("/issueLink")
        .invalid_json(json!({"type": {"name": "Blocks"}}))
        .send()
        .await
        .expect(400);
    let issue = get("/issue/DEMO-2")
        .query(&[("fields", "issuelinks,attachment")])
        .send()
        .await;
    let links = issue.expect(200)["fields"]["issuelinks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let link_id = links
        .iter()
        .find(|l| l["type"]["name"] == "Causes")
        .and_then(|l| l["id"].as_str())
        .expect("the new link on DEMO-2")
        .to_owned();
    get(&format!("/issueLink/{link_id}"))
        .send()
        .await
        .expect(200);
    get("/issueLink/abc").send().await.expect(400);
    get("/issueLink/999999999").send().await.expect(404);
    delete(&format!("/issueLink/{link_id}"))
        .send()
        .await
        .expect(204);
    delete(&format!("/issueLink/{link_id}"))
        .send()
        .await
        .expect(404);
    delete(&format!("/issueLinkType/{type_id}"))
        .send()
        .await
        .expect(204);
    delete(&format!("/issueLinkType/{type_id}"))
        .send()
        .await
        .expect(404);

    // Each issue takes 20 writes per 2 s.
    fid.sim.control().advance(std::time::Duration::from_secs(3));

    // Remote links.
    let remote = json!({
        "globalId": "system=https://tracker.example.com&id=7",
        "application": {"name": "Tracker", "type": "com.example.tracker"},
        "relationship": "mentioned in",
        "object": {"url": "https://tracker.example.com/7", "title": "TRK-7", "summary": "Crash",
                   "icon": {"url16x16": "https://tracker.example.com/i.png", "title": "Ticket"},
                   "status": {"resolved": false}}
    });
    let made = post("/issue/DEMO-4/remotelink")
        .json(remote.clone())
        .send()
        .await;
    made.expect(201);
    let remote_id = made.body["id"].as_u64().expect("id");
    post("/issue/DEMO-4/remotelink")
        .json(remote.clone())
        .send()
        .await
        .expect(200);
    post("/issue/DEMO-4/remotelink")
        .invalid_json(json!({"object": {"url": "https://x.example"}}))
        .send()
        .await
        .expect(400);
    post("/issue/NOPE-1/remotelink")
        .json(remote.clone())
        .send()
        .await
        .expect(404);
    get("/issue/DEMO-4/remotelink").send().await.expect(200);
    get("/issue/DEMO-4/remotelink")
        .query(&[("globalId", "system=https://tracker.example.com&id=7")])
        .send()
        .await
        .expect(200);
    get("/issue/DEMO-4/remotelink")
        .query(&[("globalId", "unknown")])
        .send()
        .await
        .expect(404);
    get(&format!("/issue/DEMO-4/remotelink/{remote_id}"))
        .send()
        .await
        .expect(200);
    get("/issue/DEMO-4/remotelink/424242")
        .send()
        .await
        .expect(404);
    put(&format!("/issue/DEMO-4/remotelink/{remote_id}"))
        .json(json!({"object": {"url": "https://tracker.example.com/8", "title": "TRK-8"}}))
        .send()
        .await
        .expect(204);
    put("/issue/DEMO-4/remotelink/424242")
        .json(json!({"object": {"url": "https://tracker.example.com/8", "title": "TRK-8"}}))
        .send()
        .await
        .expect(404);
    delete(&format!("/issue/DEMO-4/remotelink/{remote_id}"))
        .send()
        .await
        .expect(204);
    delete(&format!("/issue/DEMO-4/remotelink/{remote_id}"))
        .send()
        .await
        .expect(404);
    post("/issue/DEMO-4/remotelink")
        .json(remote.clone())
        .send()
        .await
        .expect(201);
    delete("/issue/DEMO-4/remotelink")
        .query(&[("globalId", "system=https://tracker.example.com&id=7")])
        .send()
        .await
        .expect(204);
    delete("/issue/DEMO-4/remotelink")
        .query(&[("globalId", "system=https://tracker.example.com&id=7")])
        .send()
        .await
        .expect(404);
    delete("/issue/DEMO-4/remotelink").send().await.expect(400);

    fid.sim.control().advance(std::time::Duration::from_secs(3));

    // Attachments.
    get("/attachment/meta").send().await.expect(200);
    let (content_type, body) = multipart(&[
        ("notes.txt", "text/plain", b"first file"),
        ("data.bin", "application/octet-stream", &[0, 1, 2, 3]),
    ]);
    let uploaded = post("/issue/DEMO-5/attachments")
        .header("x-atlassian-token", "no-check")
        .raw_body(&content_type, body.clone())
        .send()
        .await;
    let attachment = uploaded.str("/0/id");
    assert_eq!(uploaded.expect(200).as_array().map(Vec::len), Some(2));
    post("/issue/DEMO-5/attachments")
        .raw_body(&content_type, body.clone())
        .send()
        .await
        .expect(403);
    post("/issue/NOPE-1/attachments")
        .header("x-atlassian-token", "no-check")
        .raw_body(&content_type, body)
        .send()
        .await
        .expect(404);
    get(&format!("/attachment/{attachment}"))
        .send()
        .await
        .expect(200);
    get("/attachment/424242").send().await.expect(404);
    let redirect = get(&format!("/attachment/content/{attachment}"))
        .send()
        .await;
    assert_eq!(redirect.status.as_u16(), 303);
    let content = get(&format!("/attachment/content/{attachment}"))
        .query(&[("redirect", "false")])
        .send()
        .await;
    assert_eq!(content.expect(200), "first file");
    get(&format!("/attachment/content/{attachment}"))
        .query(&[("redirect", "false")])
        .header("range", "bytes=0-4")
        .send()
        .await
        .expect(206);
    get(&format!("/attachment/content/{attachment}"))
        .query(&[("redirect", "false")])
        .header("range", "bytes=500-")
        .send()
        .await
        .expect(416);
    get("/attachment/content/424242").send().await.expect(404);
    let (content_type, body) = multipart(&[
        (
            "bundle.zip",
            "application/zip",
            &zip(&[("a.txt", b"alpha"), ("docs/b.csv", b"x,y")]),
        ),
        ("bundle.tar", "application/x-tar", b"not expandable"),
    ]);
    let archives = post("/issue/DEMO-5/attachments")
        .header("x-atlassian-token", "no-check")
        .raw_body(&content_type, body)
        .send()
        .await;
    let (zip_id, tar_id) = (archives.str("/0/id"), archives.str("/1/id"));
    let human = get(&format!("/attachment/{zip_id}/expand/human"))
        .send()
        .await;
    assert_eq!(human.expect(200)["entries"][1]["path"], "docs/b.csv");
    let raw = get(&format!("/attachment/{zip_id}/expand/raw"))
        .send()
        .await;
    assert_eq!(raw.expect(200)["totalEntryCount"], 2);
    get(&format!("/attachment/{tar_id}/expand/human"))
        .send()
        .await
        .expect(409);
    get(&format!("/attachment/{tar_id}/expand/raw"))
        .send()
        .await
        .expect(409);
    get("/attachment/424242/expand/human")
        .send()
        .await
        .expect(404);
    get("/attachment/424242/expand/raw")
        .send()
        .await
        .expect(404);
    delete(&format!("/attachment/{attachment}"))
        .send()
        .await
        .expect(204);
    delete(&format!("/attachment/{attachment}"))
        .send()
        .await
        .expect(404);

    let calls: Vec<(Method, String)> = [
        (Method::GET, "/issueLinkType"),
        (Method::POST, "/issueLinkType"),
        (Method::GET, "/issueLinkType/10000"),
        (Method::PUT, "/issueLinkType/10000"),
        (Method::DELETE, "/issueLinkType/10000"),
        (Method::POST, "/issueLink"),
        (Method::GET, "/issueLink/10000"),
        (Method::DELETE, "/issueLink/10000"),
        (Method::GET, "/issue/DEMO-1/remotelink"),
        (Method::POST, "/issue/DEMO-1/remotelink"),
        (Method::DELETE, "/issue/DEMO-1/remotelink"),
        (Method::GET, "/issue/DEMO-1/remotelink/10000"),
        (Method::PUT, "/issue/DEMO-1/remotelink/10000"),
        (Method::DELETE, "/issue/DEMO-1/remotelink/10000"),
        (Method::POST, "/issue/DEMO-1/attachments"),
        (Method::GET, "/attachment/meta"),
        (Method::GET, "/attachment/10000"),
        (Method::DELETE, "/attachment/10000"),
        (Method::GET, "/attachment/content/10000"),
        (Method::GET, "/attachment/10000/expand/human"),
        (Method::GET, "/attachment/10000/expand/raw"),
    ]
    .into_iter()
    .map(|(m, p)| (m, format!("{V3}{p}")))
    .collect();
    error_sweep(fid, Area::Platform, &calls).await;
}
