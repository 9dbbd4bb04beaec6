//! The receiving end: verify, store, acknowledge.
//!
//! The route is public, so nothing is believed before the delivery is verified, and an
//! unverified caller learns nothing from the answer: an unknown listener and a bad signature
//! get the same one ([`AppError::DeliveryRefused`]). The work before it differs (a known
//! listener's secret is read and unsealed), so its timing could tell a known token from an
//! unknown one; a token is 128 random bits, which no caller can guess either way. A verified
//! delivery is stored before it is acknowledged; the worker processes it afterwards.

use jiralink_atlassian::{WebhookEvent, verify_hub_signature, verify_jwt};
use jiralink_domain::ConnectionAuth;
use jiralink_store::{EventStored, ListenerEvent, ListenerRecord, SecretField, SecretOwner};
use jiralink_vault::ClientSecret;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{MAX_DELIVERY_BYTES, process_job};
use crate::{App, AppError, AppResult};

/// How long processed deliveries and replay keys are kept.
pub(crate) const RETENTION: time::Duration = time::Duration::days(3);

/// How old a signed body may be: older ones could repeat a delivery whose replay key was
/// forgotten. (A JWT's own expiry is much shorter.)
const FRESH_FOR: time::Duration = time::Duration::days(2);

/// How far a token's times may be off the server's clock.
const LEEWAY: std::time::Duration = std::time::Duration::from_secs(60);

/// One delivery as the route received it. Its `Debug` leaves out the bearer token and the
/// signature.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    /// The last segment of the URL.
    pub token: &'a str,
    /// `Authorization` (dynamic webhooks: `Bearer <JWT>`).
    pub authorization: Option<&'a str>,
    /// `X-Hub-Signature` (admin webhooks: `sha256=<hex>`).
    pub hub_signature: Option<&'a str>,
    /// `X-Atlassian-Webhook-Identifier`: the same on each retry of one delivery.
    pub identifier: Option<&'a str>,
    pub body: &'a [u8],
}

impl std::fmt::Debug for Delivery<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: Option<&str>| v.map(|_| "[redacted]");
        f.debug_struct("Delivery")
            .field("token", &self.token)
            .field("authorization", &redacted(self.authorization))
            .field("hub_signature", &redacted(self.hub_signature))
            .field("identifier", &self.identifier)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// What became of an accepted delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Stored now; it will be processed.
    Stored,
    /// Stored before (Jira sent it again): nothing more to do.
    Duplicate,
}

/// What a verified delivery's signature covered, so the same request is not taken twice.
struct Verified {
    replay_key: String,
    event: WebhookEvent,
}

impl App {
    /// Verifies a delivery and stores it durably; only then may the caller acknowledge it.
    ///
    /// # Errors
    /// `delivery_refused` (unknown listener, missing or bad signature, stale token — never
    /// said which), `delivery_replayed`, `delivery_too_large`, `validation_failed` (a
    /// verified body that is not a Jira event), store errors (answered 5xx, so Jira retries).
    pub async fn receive_delivery(&self, delivery: Delivery<'_>) -> AppResult<DeliveryOutcome> {
        if delivery.body.len() > MAX_DELIVERY_BYTES {
            return Err(AppError::DeliveryTooLarge {
                limit: MAX_DELIVERY_BYTES,
            });
        }
        let token = delivery.token.trim();
        let listener = if token.is_empty() || token.len() > 128 {
            None
        } else {
            self.store().find_listener_by_token(token).await?
        };
        let Some(listener) = listener else {
            // The same work as for a real listener, so the answer's timing says nothing.
            verify_hub_signature(delivery.body, delivery.hub_signature, b"no listener").ok();
            return Err(AppError::DeliveryRefused);
        };
        let verified = match self.verify(&listener, &delivery).await {
            Ok(v) => v,
            Err(AppError::DeliveryRefused) => {
                metrics::counter!("jiralink_listener_deliveries_total", "outcome" => "refused")
                    .increment(1);
                return Err(AppError::DeliveryRefused);
            }
            Err(e) => return Err(e),
        };
        let now = self.now();
        let delivery_id = delivery
            .identifier
            .map(str::trim)
            .filter(|i| !i.is_empty() && i.len() <= 200)
            .map_or_else(|| verified.replay_key.clone(), str::to_owned);
        let event = ListenerEvent {
            listener_id: listener.id,
            delivery_id,
            kind: verified.event.kind.name().to_owned(),
            issue_ids: verified.event.issue_ids.clone(),
            event_ms: verified.event.timestamp_ms,
            body: String::from_utf8_lossy(delivery.body).into_owned(),
            received_at: now,
            state: "pending".to_owned(),
            flow_run_id: None,
            processed_at: None,
        };
        let outcome = match self
            .store()
            .store_listener_event(&event, &verified.replay_key, &process_job(listener.id, now))
            .await?
        {
            EventStored::New => DeliveryOutcome::Stored,
            EventStored::Duplicate => DeliveryOutcome::Duplicate,
            EventStored::Replayed => {
                metrics::counter!("jiralink_listener_deliveries_total", "outcome" => "replayed")
                    .increment(1);
                return Err(AppError::DeliveryReplayed);
            }
        };
        metrics::counter!(
            "jiralink_listener_deliveries_total",
            "outcome" => match outcome {
                DeliveryOutcome::Stored => "stored",
                DeliveryOutcome::Duplicate => "duplicate",
            }
        )
        .increment(1);
        if outcome == DeliveryOutcome::Stored {
            // The store made the processing job due with the event; this process's worker
            // need not wait for its next look at the jobs.
            self.wake_worker();
        }
        Ok(outcome)
    }

    async fn verify(
        &self,
        listener: &ListenerRecord,
        delivery: &Delivery<'_>,
    ) -> AppResult<Verified> {
        let now = self.now();
        let replay_key = if listener.mode == "dynamic" {
            let token = delivery
                .authorization
                .and_then(|a| a.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or(AppError::DeliveryRefused)?;
            let connection = self.store().get_connection(listener.connection_id).await?;
            let ConnectionAuth::OAuth2 { client, .. } = &connection.settings.auth else {
                return Err(AppError::DeliveryRefused);
            };
            let Some(cloud_id) = connection.cloud_id.as_deref() else {
                return Err(AppError::DeliveryRefused);
            };
            let oauth_client = self.store().get_oauth_client(*client).await?;
            let secret = self
                .stored_secret(SecretOwner::OAuthClient(*client), SecretField::ClientSecret)
                .await?
                .ok_or(AppError::DeliveryRefused)?;
            let secret = ClientSecret::from(secret);
            let claims = verify_jwt(
                token,
                &secret,
                cloud_id,
                &oauth_client.settings.client_id,
                now,
                LEEWAY,
            )
            .map_err(|e| {
                tracing::debug!(listener = %listener.id, reason = %e, "a delivery's token was refused");
                AppError::DeliveryRefused
            })?;
            format!("jti:{}", claims.jti)
        } else {
            let secret = self
                .stored_secret(
                    SecretOwner::Listener(listener.id),
                    SecretField::WebhookSecret,
                )
                .await?
                .ok_or(AppError::DeliveryRefused)?;
            verify_hub_signature(delivery.body, delivery.hub_signature, secret.as_bytes())
                .map_err(|e| {
                    tracing::debug!(listener = %listener.id, reason = %e, "a delivery's signature was refused");
                    AppError::DeliveryRefused
                })?;
            format!("sha256:{}", hex::encode(Sha256::digest(delivery.body)))
        };
        let event = WebhookEvent::decode(delivery.body, MAX_DELIVERY_BYTES).map_err(|e| {
            AppError::InvalidInput(format!("the delivery is not a Jira event: {e}"))
        })?;
        if listener.mode != "dynamic" {
            let at = OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(event.timestamp_ms) * 1_000_000,
            )
            .map_err(|_| AppError::DeliveryReplayed)?;
            if now - at > FRESH_FOR {
                return Err(AppError::DeliveryReplayed);
            }
        }
        Ok(Verified { replay_key, event })
    }
}

#[cfg(test)]
mod tests {
    use super::Delivery;

    #[test]
    fn a_deliverys_debug_leaves_out_its_credentials() {
        let d = Delivery {
            token: "t0k3n",
            authorization: Some("Bearer eyJhbGciOiJIUzI1NiJ9.secret-claims.signature"),
            hub_signature: Some("sha256=abcdef0123"),
            identifier: Some("delivery-1"),
            body: b"{}",
        };
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("eyJ") && !shown.contains("abcdef0123"),
            "{shown}"
        );
        assert!(
            shown.contains("[redacted]") && shown.contains("delivery-1"),
            "{shown}"
        );
    }
}
