//! Where the Atlassian services live.
//!
//! The defaults are Atlassian's real hosts. A local Jira simulator replaces them, for example
//! with the site template `http://127.0.0.1:PORT/site/{subdomain}` and gateway and auth server
//! `http://127.0.0.1:PORT`, so nothing here assumes https, a default port or an empty base path.
//!
//! Invariants of a [validated](AtlassianEndpoints::validate) value (deserialisation validates):
//! - The site template contains `{subdomain}` and yields an http(s) URL with a host and no user
//!   name, query or fragment.
//! - The gateway and auth server are http(s) URLs with a host and no user name, query or
//!   fragment; paths below them are appended, percent-encoding dynamic parts such as cloud ids.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{error::DomainError, subdomain::Subdomain};

/// The placeholder of [`AtlassianEndpoints::site_url_template`].
pub const SUBDOMAIN_PLACEHOLDER: &str = "{subdomain}";

const DEFAULT_SITE_TEMPLATE: &str = "https://{subdomain}.atlassian.net";
const DEFAULT_GATEWAY: &str = "https://api.atlassian.com";
const DEFAULT_AUTH_SERVER: &str = "https://auth.atlassian.com";
/// Returned by [`AtlassianEndpoints::site_url`] for an unusable template; the `.invalid` top
/// level domain never resolves (RFC 6761), so a misconfiguration cannot reach a real host.
const UNUSABLE_SITE: &str = "https://site-url-template-is-invalid.invalid/";

/// The Atlassian hosts a connection talks to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEndpoints")]
pub struct AtlassianEndpoints {
    /// The site URL with `{subdomain}` in place of the subdomain, for Basic auth requests.
    pub site_url_template: String,
    /// The API gateway that OAuth 2.0 requests and Customer Service Management go through.
    pub api_gateway: Url,
    /// The OAuth 2.0 authorization server.
    pub auth_server: Url,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoints {
    site_url_template: String,
    api_gateway: Url,
    auth_server: Url,
}

impl TryFrom<RawEndpoints> for AtlassianEndpoints {
    type Error = DomainError;

    fn try_from(raw: RawEndpoints) -> Result<Self, Self::Error> {
        let endpoints = Self {
            site_url_template: raw.site_url_template,
            api_gateway: raw.api_gateway,
            auth_server: raw.auth_server,
        };
        endpoints.validate()?;
        Ok(endpoints)
    }
}

impl Default for AtlassianEndpoints {
    #[expect(clippy::expect_used, reason = "constant URLs that always parse")]
    fn default() -> Self {
        Self {
            site_url_template: DEFAULT_SITE_TEMPLATE.to_owned(),
            api_gateway: Url::parse(DEFAULT_GATEWAY).expect("valid gateway URL"),
            auth_server: Url::parse(DEFAULT_AUTH_SERVER).expect("valid auth server URL"),
        }
    }
}

impl AtlassianEndpoints {
    /// Checks the invariants listed in the module docs.
    ///
    /// # Errors
    /// [`DomainError::InvalidEndpoints`] naming the setting and what to change.
    pub fn validate(&self) -> Result<(), DomainError> {
        let template = &self.site_url_template;
        if !template.contains(SUBDOMAIN_PLACEHOLDER) {
            return Err(invalid(
                "site_url_template",
                format!("it must contain {SUBDOMAIN_PLACEHOLDER}, as in {DEFAULT_SITE_TEMPLATE}"),
            ));
        }
        let sample = template.replace(SUBDOMAIN_PLACEHOLDER, "demo");
        let url = Url::parse(&sample).map_err(|e| {
            invalid(
                "site_url_template",
                format!("it does not make a valid URL ({e})"),
            )
        })?;
        check_base_url("site_url_template", &url)?;
        check_base_url("api_gateway", &self.api_gateway)?;
        check_base_url("auth_server", &self.auth_server)
    }

    /// The site URL of `subdomain`.
    ///
    /// # Errors
    /// [`DomainError::InvalidEndpoints`] when the template does not make a usable URL.
    pub fn try_site_url(&self, subdomain: &Subdomain) -> Result<Url, DomainError> {
        let text = self
            .site_url_template
            .replace(SUBDOMAIN_PLACEHOLDER, subdomain.as_str());
        let url = Url::parse(&text).map_err(|e| {
            invalid(
                "site_url_template",
                format!("it does not make a valid URL ({e})"),
            )
        })?;
        check_base_url("site_url_template", &url)?;
        Ok(url)
    }

    /// The site URL of `subdomain`, e.g. `https://demo.atlassian.net/`.
    ///
    /// Endpoints are validated when loaded; should an unvalidated, unusable template get here,
    /// the result is an address under `.invalid` that fails to resolve rather than a guess.
    #[must_use]
    pub fn site_url(&self, subdomain: &Subdomain) -> Url {
        self.try_site_url(subdomain)
            .unwrap_or_else(|_| unusable_site())
    }

    /// The base of the Jira platform (and Jira Service Management) REST APIs through the
    /// gateway: `{gateway}/ex/jira/{cloudId}`.
    #[must_use]
    pub fn platform_gateway_base(&self, cloud_id: &str) -> Url {
        join(&self.api_gateway, &["ex", "jira", cloud_id])
    }

    /// The base of the Customer Service Management API: `{gateway}/jsm/csm/cloudid/{cloudId}`.
    #[must_use]
    pub fn csm_gateway_base(&self, cloud_id: &str) -> Url {
        join(&self.api_gateway, &["jsm", "csm", "cloudid", cloud_id])
    }

    /// Where the browser is sent for consent: `{auth}/authorize`.
    #[must_use]
    pub fn authorize_url(&self) -> Url {
        join(&self.auth_server, &["authorize"])
    }

    /// Where codes and refresh tokens are exchanged: `{auth}/oauth/token`.
    #[must_use]
    pub fn token_url(&self) -> Url {
        join(&self.auth_server, &["oauth", "token"])
    }

    /// The sites an access token may reach: `{gateway}/oauth/token/accessible-resources`.
    #[must_use]
    pub fn accessible_resources_url(&self) -> Url {
        join(
            &self.api_gateway,
            &["oauth", "token", "accessible-resources"],
        )
    }

    /// The profile of the authorizing account: `{gateway}/me`.
    #[must_use]
    pub fn me_url(&self) -> Url {
        join(&self.api_gateway, &["me"])
    }
}

/// `base` with `segments` appended, each percent-encoded as one path segment (its query
/// and fragment dropped).
#[must_use]
pub fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

fn check_base_url(setting: &'static str, url: &Url) -> Result<(), DomainError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            setting,
            format!("use an http or https URL, not {}:", url.scheme()),
        ));
    }
    if url.host().is_none() {
        return Err(invalid(setting, "the URL needs a host".to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            setting,
            "remove the user name from the URL".to_owned(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            setting,
            "remove the query or fragment from the URL".to_owned(),
        ));
    }
    Ok(())
}

fn invalid(setting: &'static str, reason: String) -> DomainError {
    DomainError::InvalidEndpoints { setting, reason }
}

#[expect(clippy::expect_used, reason = "a constant URL that always parses")]
fn unusable_site() -> Url {
    Url::parse(UNUSABLE_SITE).expect("valid placeholder URL")
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn demo() -> Subdomain {
        Subdomain::from_label("demo").unwrap()
    }

    fn simulator(port: u16) -> AtlassianEndpoints {
        let base = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        AtlassianEndpoints {
            site_url_template: format!("http://127.0.0.1:{port}/site/{{subdomain}}"),
            api_gateway: base.clone(),
            auth_server: base,
        }
    }

    #[test]
    fn real_atlassian_urls() {
        let e = AtlassianEndpoints::default();
        e.validate().unwrap();
        assert_eq!(e.site_url(&demo()).as_str(), "https://demo.atlassian.net/");
        assert_eq!(
            e.platform_gateway_base("1324a887-45db-1bf4-1e99-ef0ff456d421")
                .as_str(),
            "https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421"
        );
        assert_eq!(
            e.csm_gateway_base("abc").as_str(),
            "https://api.atlassian.com/jsm/csm/cloudid/abc"
        );
        assert_eq!(
            e.authorize_url().as_str(),
            "https://auth.atlassian.com/authorize"
        );
        assert_eq!(
            e.token_url().as_str(),
            "https://auth.atlassian.com/oauth/token"
        );
        assert_eq!(
            e.accessible_resources_url().as_str(),
            "https://api.atlassian.com/oauth/token/accessible-resources"
        );
        assert_eq!(e.me_url().as_str(), "https://api.atlassian.com/me");
    }

    #[test]
    fn simulator_urls_keep_scheme_port_and_path() {
        let e = simulator(4321);
        e.validate().unwrap();
        assert_eq!(
            e.site_url(&demo()).as_str(),
            "http://127.0.0.1:4321/site/demo"
        );
        assert_eq!(
            e.platform_gateway_base("c1").as_str(),
            "http://127.0.0.1:4321/ex/jira/c1"
        );
        assert_eq!(
            e.csm_gateway_base("c1").as_str(),
            "http://127.0.0.1:4321/jsm/csm/cloudid/c1"
        );
        assert_eq!(
            e.authorize_url().as_str(),
            "http://127.0.0.1:4321/authorize"
        );
        assert_eq!(e.token_url().as_str(), "http://127.0.0.1:4321/oauth/token");
        assert_eq!(
            e.accessible_resources_url().as_str(),
            "http://127.0.0.1:4321/oauth/token/accessible-resources"
        );
    }

    #[test]
    fn base_paths_are_kept_with_or_without_trailing_slash() {
        for base in ["http://127.0.0.1:9/gw", "http://127.0.0.1:9/gw/"] {
            let e = AtlassianEndpoints {
                api_gateway: Url::parse(base).unwrap(),
                auth_server: Url::parse(base).unwrap(),
                ..simulator(9)
            };
            assert_eq!(
                e.platform_gateway_base("c").as_str(),
                "http://127.0.0.1:9/gw/ex/jira/c"
            );
            assert_eq!(e.token_url().as_str(), "http://127.0.0.1:9/gw/oauth/token");
        }
    }

    #[test]
    fn cloud_ids_cannot_escape_their_path_segment() {
        let e = AtlassianEndpoints::default();
        assert_eq!(
            e.platform_gateway_base("../../admin?x#y").as_str(),
            "https://api.atlassian.com/ex/jira/..%2F..%2Fadmin%3Fx%23y"
        );
    }

    #[test]
    fn validate_refuses_unusable_settings() {
        let bad_templates = [
            ("https://atlassian.net", "must contain {subdomain}"),
            ("{subdomain}", "valid URL"),
            ("ftp://{subdomain}.example.com", "http or https"),
            ("https://{subdomain}.atlassian.net/?a=b", "query"),
            ("https://user@{subdomain}.atlassian.net", "user name"),
        ];
        for (template, expected) in bad_templates {
            let e = AtlassianEndpoints {
                site_url_template: template.to_owned(),
                ..AtlassianEndpoints::default()
            };
            let err = e.validate().unwrap_err().to_string();
            assert!(
                err.contains("site_url_template") && err.contains(expected),
                "{template}: {err}"
            );
        }
        let e = AtlassianEndpoints {
            api_gateway: Url::parse("https://api.atlassian.com/?x=1").unwrap(),
            ..AtlassianEndpoints::default()
        };
        assert!(
            e.validate()
                .unwrap_err()
                .to_string()
                .contains("api_gateway")
        );
        let e = AtlassianEndpoints {
            auth_server: Url::parse("file:///tmp/x").unwrap(),
            ..AtlassianEndpoints::default()
        };
        assert!(
            e.validate()
                .unwrap_err()
                .to_string()
                .contains("auth_server")
        );
    }

    #[test]
    fn an_unusable_template_never_yields_a_real_host() {
        let e = AtlassianEndpoints {
            site_url_template: "not a url {subdomain}".to_owned(),
            ..AtlassianEndpoints::default()
        };
        assert!(e.try_site_url(&demo()).is_err());
        assert_eq!(
            e.site_url(&demo()).host_str(),
            Some("site-url-template-is-invalid.invalid")
        );
    }

    #[test]
    fn serde_validates_and_refuses_unknown_fields() {
        let e = simulator(80);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json["site_url_template"],
            "http://127.0.0.1:80/site/{subdomain}"
        );
        assert_eq!(
            serde_json::from_value::<AtlassianEndpoints>(json.clone()).unwrap(),
            e
        );
        let mut extra = json.clone();
        extra["typo"] = serde_json::json!(1);
        assert!(serde_json::from_value::<AtlassianEndpoints>(extra).is_err());
        let mut bad = json;
        bad["site_url_template"] = serde_json::json!("http://127.0.0.1/site");
        assert!(serde_json::from_value::<AtlassianEndpoints>(bad).is_err());
    }
}
