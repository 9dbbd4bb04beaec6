//! The dispatcher: sends deliveries in event order per webhook, retries as Jira documents and
//! applies the delivery knobs.
//!
//! One task receives every delivery in the order the writes made them and draws its fate from
//! an RNG seeded with the simulator's seed (`drop_share`, `duplicate_share`, `reorder_share`;
//! a share of 0 draws nothing, so turning one knob on leaves the others' pattern alone). It hands
//! the delivery to its webhook's worker, one task per webhook, which sends one delivery at a time:
//! a slow or failing receiver delays only its own webhook.
//!
//! A worker's attempt: `POST` with the body, `X-Atlassian-Webhook-Identifier`, and (dynamic)
//! a fresh JWT or (admin) `X-Hub-Signature`. A 2xx answer delivers it; anything else (other
//! status, connection error, no answer within `timeout_ms`) is retried up to [`RETRIES`] times
//! after `retry_backoff_ms × 2^(n-1)` with `X-Atlassian-Webhook-Retry: n`; then it failed.
//! Delays are real time (the receiver is a real server), not the simulator clock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::registry::WebhookRef;
use super::sign::{Claims, hub_signature, jwt};
use super::{AttemptOutcome, Delivery, Signing, Webhooks};
use crate::state::SimState;

/// Retries after the first attempt (Jira: 5).
pub const RETRIES: u32 = 5;

/// A delivery held by `reorder_share` is sent anyway when no other delivery for its webhook
/// arrives within this (real) time, so a held delivery never waits forever.
pub const REORDER_FLUSH: Duration = Duration::from_secs(1);

const USER_AGENT: &str = "Atlassian Webhook HTTP Client";

/// What the knobs decided for one delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fate {
    drop: bool,
    duplicate: bool,
    reorder: bool,
}

fn draw(rng: &mut ChaCha8Rng, share: f64) -> bool {
    share > 0.0 && rng.r#gen::<f64>() < share
}

/// Delay before retry `n` (1-based): `base × 2^(n-1)`.
pub fn backoff(base_ms: u64, retry: u32) -> Duration {
    let factor = 1u64 << retry.saturating_sub(1).min(20);
    Duration::from_millis(base_ms.saturating_mul(factor))
}

#[expect(
    clippy::disallowed_methods,
    reason = "the simulator's own webhook sender, towards the receivers tests and users run"
)]
fn client() -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let _ = roots.add(cert.clone());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .no_proxy()
        .user_agent(USER_AGENT);
    let builder = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(config) => builder
            .tls_backend_preconfigured(config.with_root_certificates(roots).with_no_client_auth()),
        Err(_) => builder,
    };
    builder.build().unwrap_or_default()
}

struct Worker {
    state: SimState,
    hub: Arc<Webhooks>,
    client: reqwest::Client,
}

/// Receives deliveries in order and hands each to its webhook's worker.
pub(crate) async fn dispatch(
    state: SimState,
    hub: Arc<Webhooks>,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
) {
    let client = client();
    let mut rng = ChaCha8Rng::seed_from_u64(state.config().seed ^ 0x3EB_400C);
    let mut workers: HashMap<WebhookRef, mpsc::UnboundedSender<(Delivery, Fate)>> = HashMap::new();
    let mut tasks = JoinSet::new();
    while let Some(d) = rx.recv().await {
        let knobs = state.knobs().webhooks;
        let fate = Fate {
            drop: draw(&mut rng, knobs.drop_share),
            duplicate: draw(&mut rng, knobs.duplicate_share),
            reorder: draw(&mut rng, knobs.reorder_share),
        };
        let tx = workers.entry(d.webhook.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let worker = Worker {
                state: state.clone(),
                hub: hub.clone(),
                client: client.clone(),
            };
            tasks.spawn(worker.run(rx));
            tx
        });
        if let Err(mpsc::error::SendError((d, _))) = tx.send((d, fate)) {
            hub.done();
            drop(d);
        }
    }
    // Dropping the senders lets each worker finish what it holds.
    workers.clear();
    while tasks.join_next().await.is_some() {}
}

impl Worker {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<(Delivery, Fate)>) {
        let mut held: Option<Delivery> = None;
        loop {
            let next = if held.is_some() {
                match tokio::time::timeout(REORDER_FLUSH, rx.recv()).await {
                    Ok(next) => next,
                    Err(_) => {
                        if let Some(d) = held.take() {
                            self.process(d, Fate::default()).await;
                        }
                        continue;
                    }
                }
            } else {
                rx.recv().await
            };
            let Some((d, fate)) = next else { break };
            if fate.reorder && held.is_none() {
                held = Some(d);
                continue;
            }
            self.process(d, fate).await;
            if let Some(d) = held.take() {
                self.hub.count_reordered();
                self.process(d, Fate::default()).await;
            }
        }
        if let Some(d) = held.take() {
            self.process(d, Fate::default()).await;
        }
    }

    async fn process(&self, d: Delivery, fate: Fate) {
        if fate.drop {
            self.hub.record(&d, 0, false, AttemptOutcome::Dropped);
            self.hub.fail(&d);
            self.hub.done();
            return;
        }
        let delay = self.state.knobs().webhooks.delay_ms;
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let mut delivered = false;
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                let base = self.state.knobs().webhooks.retry_backoff_ms;
                tokio::time::sleep(backoff(base, attempt)).await;
            }
            let outcome = self.send(&d, attempt).await;
            self.hub.record(&d, attempt, false, outcome);
            if outcome.is_delivered() {
                delivered = true;
                break;
            }
        }
        if !delivered {
            self.hub.fail(&d);
        } else if fate.duplicate {
            let outcome = self.send(&d, 1).await;
            self.hub.record(&d, 1, true, outcome);
        }
        self.hub.done();
    }

    async fn send(&self, d: &Delivery, attempt: u32) -> AttemptOutcome {
        let timeout = Duration::from_millis(self.state.knobs().webhooks.timeout_ms);
        let mut req = self
            .client
            .post(&d.url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Atlassian-Webhook-Identifier", &d.identifier)
            .body(d.body.clone());
        if attempt > 0 {
            req = req.header("X-Atlassian-Webhook-Retry", attempt.to_string());
        }
        match &d.signing {
            Signing::Jwt {
                client_id,
                cloud_id,
            } => {
                let secret = self
                    .state
                    .directory()
                    .apps
                    .get(client_id)
                    .map(|app| app.client_secret.clone());
                if let Some(secret) = secret {
                    let jti = uuid::Uuid::new_v4().to_string();
                    let claims = Claims {
                        iss: cloud_id,
                        aud: client_id,
                        iat: self.state.now().unix_timestamp(),
                        jti: &jti,
                    };
                    req = req.bearer_auth(jwt(&claims, &secret));
                }
            }
            Signing::Hub(Some(secret)) => {
                req = req.header(
                    "X-Hub-Signature",
                    hub_signature(secret.expose(), d.body.as_bytes()),
                );
            }
            Signing::Hub(None) => {}
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status();
                // Read the answer so the connection can be reused.
                let _ = res.bytes().await;
                if status.is_success() {
                    AttemptOutcome::Delivered {
                        status: status.as_u16(),
                    }
                } else {
                    AttemptOutcome::Rejected {
                        status: status.as_u16(),
                    }
                }
            }
            Err(e) if e.is_timeout() => AttemptOutcome::TimedOut,
            Err(_) => AttemptOutcome::ConnectionError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(1000, 1), Duration::from_secs(1));
        assert_eq!(backoff(1000, 2), Duration::from_secs(2));
        assert_eq!(backoff(1000, 5), Duration::from_secs(16));
        assert_eq!(backoff(3, 3), Duration::from_millis(12));
    }

    #[test]
    fn zero_shares_draw_nothing() {
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let mut b = ChaCha8Rng::seed_from_u64(1);
        assert!(!draw(&mut a, 0.0));
        assert_eq!(a.r#gen::<u64>(), b.r#gen::<u64>());
        assert!(draw(&mut a, 1.0));
    }
}
