//! The authorization server, `accessible-resources`, `/me` and avatars, validated against the
//! hand-written schemas in `tests/fixtures/schemas/oauth.json`; a bearer token then calls the
//! platform API through the gateway.

use reqwest::Method;
use serde_json::json;

use super::{Area, Fidelity, Reply};

const CALLBACK: &str = "http://127.0.0.1:8080/connection/oauth2callback";

fn location(reply: &Reply) -> url::Url {
    let location = reply.headers["location"].to_str().expect("ascii location");
    url::Url::parse(location).expect("absolute location")
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Authorize, consent and exchange the code; returns the access token.
pub(super) async fn access_token(fid: &Fidelity, scope: &str) -> String {
    let client_id = fid.sim.samples().oauth_client_id.clone();
    let page = fid
        .root(Method::GET, "/authorize")
        .query(&[
            ("audience", "api.atlassian.com"),
            ("client_id", &client_id),
            ("scope", scope),
            ("redirect_uri", CALLBACK),
            ("state", "st-1"),
            ("response_type", "code"),
            ("prompt", "consent"),
        ])
        .send()
        .await;
    let html = page.expect(200).as_str().expect("consent page").to_owned();
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).expect("request field") + marker.len();
    let request = &html[start..start + html[start..].find('"').expect("quote")];
    let cloud_id = fid
        .sim
        .control()
        .site("demo")
        .expect("site")
        .cloud_id
        .to_string();
    let consent = fid
        .root(Method::POST, "/authorize/consent")
        .form(&[
            ("request", request),
            ("decision", "accept"),
            ("site", &cloud_id),
        ])
        .send()
        .await;
    assert_eq!(consent.status.as_u16(), 302);
    let code = param(&location(&consent), "code").expect("code");
    let token = fid
        .root(Method::POST, "/oauth/token")
        .json(json!({
            "grant_type": "authorization_code", "client_id": client_id,
            "client_secret": fid.sim.samples().oauth_client_secret, "code": code,
            "redirect_uri": CALLBACK,
        }))
        .send()
        .await;
    token.expect(200);
    token.str("/access_token")
}

#[tokio::test]
async fn oauth_operations_match_the_hand_written_schemas() {
    let fid = Fidelity::start().await;
    let client_id = fid.sim.samples().oauth_client_id.clone();

    let bearer = format!(
        "Bearer {}",
        access_token(&fid, "read:jira-user read:jira-work read:me offline_access").await
    );
    let narrow = format!("Bearer {}", access_token(&fid, "read:jira-work").await);

    // Authorization errors: an unknown client gets an HTML page, a bad parameter a redirect.
    fid.root(Method::GET, "/authorize")
        .query(&[
            ("client_id", "nope"),
            ("redirect_uri", CALLBACK),
            ("response_type", "code"),
        ])
        .send()
        .await
        .expect(400);
    let bad = fid
        .root(Method::GET, "/authorize")
        .query(&[
            ("audience", "api.atlassian.com"),
            ("client_id", &client_id),
            ("scope", "read:jira-work"),
            ("redirect_uri", CALLBACK),
            ("state", "st-2"),
            ("response_type", "token"),
        ])
        .send()
        .await;
    assert_eq!(bad.status.as_u16(), 302);
    let denied = location(&bad);
    assert_eq!(
        param(&denied, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(param(&denied, "state").as_deref(), Some("st-2"));
    fid.root(Method::POST, "/authorize/consent")
        .form(&[("request", "unknown"), ("decision", "accept")])
        .send()
        .await
        .expect(400);

    // Token endpoint errors.
    let secret = fid.sim.samples().oauth_client_secret.clone();
    let exchange = |code: &str, secret: &str| {
        json!({"grant_type": "authorization_code", "client_id": client_id, "client_secret": secret,
               "code": code, "redirect_uri": CALLBACK})
    };
    fid.root(Method::POST, "/oauth/token")
        .json(exchange("nope", "wrong"))
        .send()
        .await
        .expect(401);
    fid.root(Method::POST, "/oauth/token")
        .json(exchange("nope", &secret))
        .send()
        .await
        .expect(403);
    fid.root(Method::POST, "/oauth/token")
        .invalid_json(
            json!({"grant_type": "password", "client_id": client_id, "client_secret": secret}),
        )
        .send()
        .await
        .expect(400);

    // Gateway root.
    let resources = fid
        .root(Method::GET, "/oauth/token/accessible-resources")
        .auth(&bearer)
        .send()
        .await;
    resources.expect(200);
    fid.root(Method::GET, "/oauth/token/accessible-resources")
        .send()
        .await
        .expect(401);
    fid.root(Method::GET, "/me")
        .auth(&bearer)
        .send()
        .await
        .expect(200);
    fid.root(Method::GET, "/me")
        .auth(&narrow)
        .send()
        .await
        .expect(403);
    fid.root(Method::GET, "/me").send().await.expect(401);
    let avatar = fid.root(Method::GET, "/avatars/site-demo.svg").send().await;
    assert!(
        avatar
            .expect(200)
            .as_str()
            .is_some_and(|s| s.starts_with("<svg"))
    );

    for icon in [
        "/images/icons/priorities/high.svg",
        "/images/icons/statuses/generic.png",
        "/images/icons/issuetypes/10300.svg",
    ] {
        let reply = fid.root(Method::GET, icon).send().await;
        reply.expect(200);
        assert!(
            reply.headers["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with("image/"))
        );
    }

    // tenant_info needs no credentials, on every form of the site host.
    let cloud_id = fid
        .sim
        .control()
        .site("demo")
        .expect("site")
        .cloud_id
        .to_string();
    let tenant = fid
        .site(Method::GET, "/_edge/tenant_info")
        .anonymous()
        .send()
        .await;
    assert_eq!(tenant.expect(200)["cloudId"], cloud_id.as_str());
    let root = fid.root(Method::GET, "/_edge/tenant_info").send().await;
    assert_eq!(root.expect(200)["cloudId"], cloud_id.as_str());
    let acme = fid
        .sim
        .control()
        .site("acme")
        .expect("site")
        .cloud_id
        .to_string();
    let host = fid
        .root(Method::GET, "/_edge/tenant_info")
        .header(
            "host",
            &format!("acme.localhost:{}", fid.sim.local_addr().port()),
        )
        .send()
        .await;
    assert_eq!(host.expect(200)["cloudId"], acme.as_str());
    fid.call(
        Method::GET,
        format!("{}/_edge/tenant_info", fid.sim.site_url("nope")),
    )
    .send()
    .await
    .expect(404);

    // The bearer token on the platform API: allowed, and refused for a scope it lacks.
    fid.gateway(Method::GET, "/rest/api/3/myself")
        .auth(&bearer)
        .send()
        .await
        .expect(200);
    fid.gateway(Method::GET, "/rest/api/3/myself")
        .auth(&narrow)
        .send()
        .await
        .expect(403);

    let (ops, validated) = fid.finish(Area::OAuth);
    eprintln!("oauth: {ops} operations, {validated} responses validated");
}
