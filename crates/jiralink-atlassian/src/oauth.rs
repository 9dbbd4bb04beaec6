//! OAuth 2.0 (3LO) with Atlassian's authorization server: the authorize URL, the code
//! exchange and refresh-token rotation.
//!
//! - The authorize URL carries `audience=api.atlassian.com`, the client id, the scopes plus
//!   `offline_access` (space separated), the registered redirect URI, `state`,
//!   `response_type=code`, `prompt=consent` and a PKCE S256 challenge. Atlassian ignores PKCE
//!   at the token endpoint, so the client secret is always sent as well.
//! - Token requests are JSON bodies to `{auth_server}/oauth/token`, sent by the one HTTP
//!   client (no redirects). Failures become [`AtlassianError::OAuth`] with the RFC 6749 code,
//!   e.g. `invalid_grant`, which callers must never retry.
//! - `state` and the PKCE verifier are 256 random bits each, URL-safe base64 without padding.

use base64::Engine as _;
use jiralink_vault::{
    AccessToken, ClientSecret, OAuthState, PkceVerifier, RefreshToken, Zeroizing,
};
use rand::RngCore as _;
use serde::Deserialize;
use sha2::Digest as _;
use time::OffsetDateTime;
use url::Url;

use crate::base::join;
use crate::error::AtlassianError;
use crate::http::{MAX_TOKEN_RESPONSE_BYTES, read_body};
use crate::observe::Masker;

/// The audience of Jira's 3LO tokens.
pub const AUDIENCE: &str = "api.atlassian.com";
/// Always requested, so the grant yields a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";
/// The longest a token request may take, whatever the client's own timeout. A refresh runs
/// while the caller holds a database write lock that other processes wait for within their
/// busy timeout, so the request must give up well before they do.
pub const TOKEN_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn random_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0_u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *bytes);
    Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*bytes))
}

/// A fresh `state`: 256 bits from the operating system's generator.
#[must_use]
pub fn new_state() -> OAuthState {
    OAuthState::from(random_token())
}

/// A fresh PKCE verifier (43 unreserved characters).
#[must_use]
pub fn new_verifier() -> PkceVerifier {
    PkceVerifier::from(random_token())
}

/// The key under which a pending authorization is found: hex SHA-256 of `state`, so the
/// store never needs the plaintext to look it up.
#[must_use]
pub fn state_lookup_key(state: &OAuthState) -> String {
    sha2::Sha256::digest(state.expose().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The S256 challenge of `verifier`.
#[must_use]
pub fn pkce_challenge(verifier: &PkceVerifier) -> String {
    let digest = sha2::Sha256::digest(verifier.expose().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// What goes into an authorize URL.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    /// The authorization server (`https://auth.atlassian.com`).
    pub auth_server: &'a Url,
    /// The OAuth 2.0 client id.
    pub client_id: &'a str,
    /// The connection's scopes; `offline_access` is added when missing.
    pub scopes: &'a [String],
    /// Exactly as registered in the developer console.
    pub redirect_uri: &'a Url,
    /// The single-use `state`.
    pub state: &'a OAuthState,
    /// The PKCE verifier whose challenge is sent.
    pub verifier: &'a PkceVerifier,
}

/// The URL to send the user's browser to.
#[must_use]
pub fn authorize_url(req: &AuthorizeRequest<'_>) -> Url {
    let mut scopes: Vec<&str> = req.scopes.iter().map(String::as_str).collect();
    if !scopes.contains(&OFFLINE_ACCESS) {
        scopes.push(OFFLINE_ACCESS);
    }
    let mut url = join(req.auth_server, &["authorize"]);
    let challenge = pkce_challenge(req.verifier);
    let scope = scopes.join(" ");
    let pairs: [(&str, &str); 9] = [
        ("audience", AUDIENCE),
        ("client_id", req.client_id),
        ("scope", &scope),
        ("redirect_uri", req.redirect_uri.as_str()),
        ("state", req.state.expose()),
        ("response_type", "code"),
        ("prompt", "consent"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    // Atlassian's documented authorize URL separates scopes with `%20`; the form encoding of
    // `query_pairs_mut` would send `+`, which only form decoders read as a space.
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", query_encode(k), query_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    url.set_query(Some(&query));
    url
}

/// Percent-encodes everything except RFC 3986 unreserved characters, so a space is `%20`.
fn query_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Tokens from a successful token response.
pub struct TokenResponse {
    /// The bearer token for API calls.
    pub access_token: AccessToken,
    /// The rotated refresh token (only with `offline_access`).
    pub refresh_token: Option<RefreshToken>,
    /// When the access token expires, by the caller's clock.
    pub expires_at: OffsetDateTime,
    /// The scopes granted.
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawTokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

/// The client and the authorization server for token requests.
#[derive(Debug, Clone, Copy)]
pub struct TokenEndpoint<'a> {
    /// The one HTTP client (no redirects).
    pub http: &'a reqwest::Client,
    /// The authorization server.
    pub auth_server: &'a Url,
    /// The OAuth 2.0 client id.
    pub client_id: &'a str,
    /// The client secret, always required by Atlassian.
    pub client_secret: &'a ClientSecret,
}

impl TokenEndpoint<'_> {
    /// Exchanges an authorization code (`grant_type=authorization_code`).
    ///
    /// # Errors
    /// [`AtlassianError::OAuth`] when the server refuses (`invalid_grant` for a used, expired
    /// or unknown code), or a transport / decode error.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &Url,
        verifier: &PkceVerifier,
        now: OffsetDateTime,
    ) -> Result<TokenResponse, AtlassianError> {
        let body = serde_json::json!({
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "client_secret": self.client_secret.expose(),
            "code": code,
            "redirect_uri": redirect_uri.as_str(),
            "code_verifier": verifier.expose(),
        });
        let masker = Masker::new([self.client_secret.expose(), code, verifier.expose()]);
        self.post(&body, &masker, now).await
    }

    /// Trades a refresh token for new tokens (`grant_type=refresh_token`).
    ///
    /// # Errors
    /// [`AtlassianError::OAuth`] with `invalid_grant` when the refresh token is unknown,
    /// expired or revoked (never retry that), or a transport / decode error.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        now: OffsetDateTime,
    ) -> Result<TokenResponse, AtlassianError> {
        let body = serde_json::json!({
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret.expose(),
            "refresh_token": refresh_token.expose(),
        });
        let masker = Masker::new([self.client_secret.expose(), refresh_token.expose()]);
        self.post(&body, &masker, now).await
    }

    async fn post(
        &self,
        body: &serde_json::Value,
        masker: &Masker,
        now: OffsetDateTime,
    ) -> Result<TokenResponse, AtlassianError> {
        let url = join(self.auth_server, &["oauth", "token"]);
        let body = Zeroizing::new(body.to_string());
        let res = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.as_str().to_owned())
            .timeout(TOKEN_REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| AtlassianError::from_reqwest(&e))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = Zeroizing::new(read_body(res, MAX_TOKEN_RESPONSE_BYTES).await?);
        read_token_answer(status, &headers, &bytes, now, masker)
    }
}

/// The token endpoint's answer: the tokens of a 2xx, else the refusal as an error. `now` is
/// when the answer came, the start of the access token's lifetime.
pub(crate) fn read_token_answer(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    bytes: &[u8],
    now: OffsetDateTime,
    masker: &Masker,
) -> Result<TokenResponse, AtlassianError> {
    if !(200..300).contains(&status) {
        return Err(AtlassianError::from_response(
            status, headers, bytes, now, masker,
        ));
    }
    let raw: RawTokenResponse =
        serde_json::from_slice(bytes).map_err(|e| AtlassianError::Decode {
            what: "the token response",
            detail: format!(
                "{} at line {} column {}",
                e.classify_kind(),
                e.line(),
                e.column()
            ),
        })?;
    let RawTokenResponse {
        access_token,
        refresh_token,
        expires_in,
        scope,
    } = raw;
    if access_token.is_empty() {
        return Err(AtlassianError::Decode {
            what: "the token response",
            detail: "the access token is empty".to_owned(),
        });
    }
    let lifetime = time::Duration::seconds(expires_in.unwrap_or(3600).clamp(0, 366 * 86_400));
    Ok(TokenResponse {
        access_token: AccessToken::new(access_token),
        refresh_token: refresh_token
            .filter(|r| !r.is_empty())
            .map(RefreshToken::new),
        expires_at: now + lifetime,
        scope,
    })
}

trait ClassifyKind {
    fn classify_kind(&self) -> &'static str;
}

impl ClassifyKind for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "not json",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Whether the authorization server said the grant is gone: re-authorization is the only fix.
#[must_use]
pub fn is_invalid_grant(error: &AtlassianError) -> bool {
    matches!(error, AtlassianError::OAuth { error, .. } if error == "invalid_grant")
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce_challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn state_and_verifier_are_long_and_fresh() {
        let a = new_state();
        let b = new_state();
        assert_eq!(a.expose().len(), 43);
        assert!(!a.ct_eq(&b));
        let v = new_verifier();
        assert!(v.expose().len() >= 43);
        assert!(
            v.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    /// 100,000 states: each is the unpadded base64url form of 32 bytes (256 bits, well over
    /// the 128 a guess must beat), and no two are alike.
    #[test]
    fn a_hundred_thousand_states_are_distinct_256_bit_values() {
        let mut seen = std::collections::HashSet::with_capacity(100_000);
        for _ in 0..100_000 {
            let state = new_state();
            let text = state.expose();
            assert_eq!(text.len(), 43, "{} characters", text.len());
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .unwrap();
            assert_eq!(bytes.len() * 8, 256);
            assert!(seen.insert(bytes), "a state came twice");
        }
        // 256 random bits cannot all be the same byte; catches a generator that fails open.
        assert!(seen.iter().all(|b| b.iter().any(|x| *x != b[0])));
    }

    #[test]
    fn authorize_url_has_every_required_parameter() {
        let server = Url::parse("https://auth.atlassian.com").unwrap();
        let redirect = Url::parse("http://127.0.0.1:8080/connection/oauth2callback").unwrap();
        let state = OAuthState::new("st");
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let url = authorize_url(&AuthorizeRequest {
            auth_server: &server,
            client_id: "cid",
            scopes: &["read:jira-work".to_owned(), "read:me".to_owned()],
            redirect_uri: &redirect,
            state: &state,
            verifier: &verifier,
        });
        assert_eq!(url.path(), "/authorize");
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("audience"), Some("api.atlassian.com"));
        assert_eq!(get("client_id"), Some("cid"));
        assert_eq!(get("scope"), Some("read:jira-work read:me offline_access"));
        assert_eq!(get("redirect_uri"), Some(redirect.as_str()));
        assert_eq!(get("state"), Some("st"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("prompt"), Some("consent"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(
            get("code_challenge"),
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        );
        assert!(
            url.as_str()
                .contains("scope=read%3Ajira-work%20read%3Ame%20offline_access"),
            "{url}"
        );
        assert!(!url.as_str().contains('+'), "{url}");
    }

    #[test]
    fn token_response_debug_hides_tokens() {
        let r = TokenResponse {
            access_token: AccessToken::new("CANARY-at"),
            refresh_token: Some(RefreshToken::new("CANARY-rt")),
            expires_at: OffsetDateTime::UNIX_EPOCH,
            scope: None,
        };
        assert!(!format!("{r:?}").contains("CANARY"));
    }
}
