//! How deliveries prove where they come from: a JWT signed with the OAuth app's client secret
//! (dynamic webhooks) and `X-Hub-Signature` over the body (admin webhooks with a secret).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The claims of one delivery attempt's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims<'a> {
    /// The site's cloud id.
    pub iss: &'a str,
    /// The app's client id.
    pub aud: &'a str,
    /// Issued at, seconds since the epoch (simulator clock).
    pub iat: i64,
    /// A fresh id per attempt.
    pub jti: &'a str,
}

/// Lifetime of a delivery token, in seconds.
pub const TOKEN_LIFETIME_SECS: i64 = 180;

/// `header.claims.signature` (HS256, keyed with the UTF-8 bytes of `secret`), with
/// `exp = iat + 180`.
pub fn jwt(claims: &Claims<'_>, secret: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = json!({
        "iss": claims.iss,
        "aud": claims.aud,
        "iat": claims.iat,
        "exp": claims.iat + TOKEN_LIFETIME_SECS,
        "jti": claims.jti,
    });
    let payload = b64.encode(body.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = b64.encode(hmac(secret.as_bytes(), signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// `sha256=<lowercase hex HMAC-SHA256 of body keyed with secret>`.
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hub_signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn jwt_has_three_parts_and_the_claims() {
        let token = jwt(
            &Claims {
                iss: "cloud",
                aud: "client",
                iat: 100,
                jti: "j",
            },
            "secret",
        );
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .expect("base64"),
        )
        .expect("json");
        assert_eq!(
            claims,
            json!({"iss": "cloud", "aud": "client", "iat": 100, "exp": 280, "jti": "j"})
        );
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac(
            b"secret",
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
        ));
        assert_eq!(parts[2], expected);
    }
}
