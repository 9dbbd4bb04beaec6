//! The two channels: e-mail through SMTP (lettre, over rustls) and the installation's
//! webhook, a JSON POST signed with HMAC-SHA256.

use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use jiralink_store::NotificationRecord;

use crate::config::{SmtpConfig, SmtpTls};
use crate::{App, AppError, AppResult};

/// The header carrying the body's signature: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Jiralink-Signature";

/// The webhook's signing secret: shown once when generated, then kept sealed.
pub struct SigningSecret(Zeroizing<String>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

impl SigningSecret {
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(Zeroizing::new(format!("whsec_{}", hex::encode(bytes))))
    }

    /// The secret.
    ///
    /// # Security
    /// Show it to the administrator once (to configure the receiver); never log or store it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The value of [`SIGNATURE_HEADER`] for `body` signed with `secret`.
#[must_use]
#[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts every key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a webhook URL: http(s), with a host, without credentials.
pub(crate) fn parse_webhook_url(url: &str) -> AppResult<url::Url> {
    let parsed = url::Url::parse(url.trim()).map_err(|_| {
        AppError::InvalidInput("url: an http(s) URL, e.g. https://chat.example.com/hooks/…".into())
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(AppError::InvalidInput(
            "url: an http(s) URL with a host".to_owned(),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(AppError::InvalidInput(
            "url: no user or password in the URL; receivers check the signature instead".into(),
        ));
    }
    Ok(parsed)
}

/// `https://chat.example.com/…`: a webhook URL with its path, query and fragment hidden.
pub(crate) fn origin_only(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.host_str().is_some() => format!("{}/…", u.origin().ascii_serialization()),
        _ => "…".to_owned(),
    }
}

impl App {
    /// Sends one message through its channel; the error says why it could not (never a
    /// secret).
    pub(crate) async fn send_message(&self, n: &NotificationRecord) -> Result<(), String> {
        match n.channel.as_str() {
            "email" => self.send_email(n).await,
            "webhook" => self.send_webhook(n).await,
            other => Err(format!("unknown channel {other:?}")),
        }
    }

    async fn send_email(&self, n: &NotificationRecord) -> Result<(), String> {
        let smtp = &self.config().notifications.smtp;
        let Some(host) = smtp.host.as_deref() else {
            return Err("e-mail is not configured (notifications.smtp.host)".to_owned());
        };
        let from = smtp.from.as_deref().unwrap_or_default();
        let message = Message::builder()
            .from(
                from.parse()
                    .map_err(|e| format!("notifications.smtp.from: {e}"))?,
            )
            .to(n
                .address
                .parse()
                .map_err(|e| format!("the address {:?}: {e}", n.address))?)
            .subject(n.title.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(n.body.clone())
            .map_err(|e| format!("the message could not be built: {e}"))?;
        let transport = smtp_transport(smtp, host)?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP {host}:{}: {e}", smtp.port()))
    }

    async fn send_webhook(&self, n: &NotificationRecord) -> Result<(), String> {
        let hook = self
            .store()
            .get_webhook()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no webhook is set".to_owned())?;
        let secret = self
            .stored_secret(
                jiralink_store::SecretOwner::NotificationWebhook,
                jiralink_store::SecretField::SigningSecret,
            )
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the webhook has no signing secret; set it again".to_owned())?;
        let body = serde_json::to_vec(&webhook_body(n)).map_err(|e| e.to_string())?;
        let timeout = Duration::from_secs(self.config().notifications.webhook_timeout_secs);
        let answer = self
            .http_client()
            .post(&hook.url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(secret.as_str(), &body))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the webhook could not be reached: {}", e.without_url()))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(format!(
                "the webhook answered HTTP {} (a redirect, not followed): set the URL it points to",
                status.as_u16()
            ))
        } else {
            Err(format!("the webhook answered HTTP {}", status.as_u16()))
        }
    }
}

/// What the webhook receives: `text` for chat tools (Slack, Mattermost, Teams' incoming
/// webhooks show it), and the same as fields for programs.
fn webhook_body(n: &NotificationRecord) -> serde_json::Value {
    serde_json::json!({
        "text": format!("{}\n{}", n.title, n.body),
        "title": n.title,
        "notificationId": n.id,
        "digest": n.events.as_array().is_some_and(|e| e.len() > 1),
        "events": n.events,
    })
}

fn smtp_transport(
    smtp: &SmtpConfig,
    host: &str,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match smtp.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls | SmtpTls::Tls => {
            let params =
                TlsParameters::new(host.to_owned()).map_err(|e| format!("TLS for {host}: {e}"))?;
            if smtp.tls == SmtpTls::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(smtp.port())
        .tls(tls)
        .timeout(Some(Duration::from_secs(30)));
    if let Some(user) = &smtp.username {
        let password = match &smtp.password_file {
            Some(path) => Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|e| {
                        format!("notifications.smtp.password_file {}: {e}", path.display())
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            None => Zeroizing::new(String::new()),
        };
        builder = builder.credentials(Credentials::new(user.clone(), String::clone(&password)));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_origin_of_a_webhook_url_is_shown() {
        assert_eq!(
            super::origin_only("https://hooks.example.com/services/T0/B0/XyZsecret?x=1#f"),
            "https://hooks.example.com/…"
        );
        assert_eq!(
            super::origin_only("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(super::origin_only("not a url"), "…");
    }
}
