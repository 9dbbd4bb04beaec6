//! Where states come from: connections going offline and online, runs ending, and the age
//! of secrets that will have to be given again.

use jiralink_domain::{ConnectionId, ConnectionState};
use jiralink_store::{RunState, SecretField, SecretOwner};
use uuid::Uuid;

use super::{HealthState, Subject, SubjectKind, Topic};
use crate::{App, AppResult};

/// Atlassian drops a refresh token unused for 90 days; a connection whose token has not
/// been renewed for this long is reported, so someone uses or re-authorizes it in time.
pub const REFRESH_TOKEN_WARNING_AGE: time::Duration = time::Duration::days(75);

/// An OAuth 2.0 client secret older than this is reported as due for rotation.
pub const CLIENT_SECRET_MAX_AGE: time::Duration = time::Duration::days(365);

/// How often the ages of secrets are looked at (by whichever server dispatches).
const SECRET_CHECK_EVERY: time::Duration = time::Duration::hours(1);
const SECRET_CHECK_SETTING: &str = "notifications.secret_check_at";

impl App {
    /// Reports a connection's state as it is stored now: offline is trouble, anything else
    /// is ok. Called after every write that can change it; only a change is notified.
    pub(crate) async fn connection_state_changed(&self, id: ConnectionId) {
        let Ok(connection) = self.store().get_connection(id).await else {
            return;
        };
        let state = match &connection.state {
            ConnectionState::Offline { reason } => HealthState::Trouble {
                detail: reason.clone(),
            },
            _ => HealthState::Ok,
        };
        self.report_state(
            Topic::ConnectionOffline,
            &Subject {
                kind: SubjectKind::Connection,
                id: id.0,
                name: connection.settings.name.as_str().to_owned(),
            },
            state,
            &format!("/connections/{id}/edit"),
        )
        .await;
    }

    /// Reports how a run of an export, import or flow ended: failed, or finished with
    /// `failed_records`, is trouble; a clean success is ok. A cancelled run says nothing.
    pub(crate) async fn run_ended(
        &self,
        kind: SubjectKind,
        definition: Option<Uuid>,
        run: Uuid,
        state: RunState,
        failed_records: u64,
        error: Option<&str>,
    ) {
        let Some(id) = definition else { return };
        let (name, run_path) = match kind {
            SubjectKind::Export => (
                self.store().get_export(id).await.ok().map(|e| e.name),
                format!("/runs/{run}"),
            ),
            SubjectKind::Import => (
                self.store().get_import(id).await.ok().map(|i| i.name),
                format!("/import-runs/{run}"),
            ),
            SubjectKind::Flow => (
                self.store().get_flow(id).await.ok().map(|f| f.name),
                format!("/flows/{id}"),
            ),
            _ => return,
        };
        let Some(name) = name else { return };
        let health = match state {
            RunState::Failed => HealthState::Trouble {
                detail: format!(
                    "the run failed: {}",
                    error.unwrap_or("see the run's page for why")
                ),
            },
            RunState::Succeeded if failed_records > 0 => HealthState::Trouble {
                detail: format!("the run finished with {failed_records} failed record(s)"),
            },
            RunState::Succeeded => HealthState::Ok,
            _ => return,
        };
        self.report_state(
            Topic::RunFailed,
            &Subject { kind, id, name },
            health,
            &run_path,
        )
        .await;
    }

    /// Reports refresh tokens near Atlassian's 90 days and OAuth 2.0 client secrets due for
    /// rotation, at most once an hour.
    pub(crate) async fn check_secret_ages(&self) -> AppResult<()> {
        let now = self.now();
        if let Some(last) = self.store().get_setting(SECRET_CHECK_SETTING).await?
            && let Ok(last) =
                time::OffsetDateTime::parse(&last, &time::format_description::well_known::Rfc3339)
            && now - last < SECRET_CHECK_EVERY
            && now >= last
        {
            return Ok(());
        }
        let stamp = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.store()
            .set_setting(SECRET_CHECK_SETTING, &stamp, now)
            .await?;
        for c in self.store().list_connections().await? {
            let Some(refresh) = self
                .store()
                .get_secret(SecretOwner::Connection(c.id), SecretField::RefreshToken)
                .await?
            else {
                continue;
            };
            let age = now - refresh.updated_at;
            let state = if age >= REFRESH_TOKEN_WARNING_AGE {
                HealthState::Trouble {
                    detail: format!(
                        "its refresh token was last renewed {} days ago; Atlassian drops it \
                         after 90 days unused: test the connection (a refresh renews it) or \
                         authorize it again",
                        age.whole_days()
                    ),
                }
            } else {
                HealthState::Ok
            };
            self.record_state(
                Topic::RefreshTokenExpiring,
                &Subject {
                    kind: SubjectKind::Connection,
                    id: c.id.0,
                    name: c.settings.name.as_str().to_owned(),
                },
                state,
                &format!("/connections/{}/edit", c.id),
            )
            .await?;
        }
        for client in self.store().list_oauth_clients().await? {
            let Some(secret) = self
                .store()
                .get_secret(
                    SecretOwner::OAuthClient(client.id),
                    SecretField::ClientSecret,
                )
                .await?
            else {
                continue;
            };
            let age = now - secret.updated_at;
            let state = if age >= CLIENT_SECRET_MAX_AGE {
                HealthState::Trouble {
                    detail: format!(
                        "its client secret was set {} days ago: create a new secret for the \
                         app in Atlassian's developer console and save it here",
                        age.whole_days()
                    ),
                }
            } else {
                HealthState::Ok
            };
            self.record_state(
                Topic::ClientSecretOld,
                &Subject {
                    kind: SubjectKind::OauthClient,
                    id: client.id.0,
                    name: client.settings.name.as_str().to_owned(),
                },
                state,
                // OAuth 2.0 clients are edited from the connection form.
                "/connections",
            )
            .await?;
        }
        Ok(())
    }
}
