//! The OAuth 2.0 client dialog of the connection form: creating a client, or editing the
//! selected one, without leaving the form.
//!
//! The dialog's script posts form data and gets JSON back: the saved client's id and name (so
//! the form's select can show and select it), or the problems to show next to the dialog's
//! fields. The client secret is write-only: it is read into [`ClientSecret`] at once, never
//! answered, and must be entered again on every edit.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum_extra::extract::Form;
use jiralink_app::{AppError, OAuthClientSecrets, OAuthClientView, Saved};
use jiralink_domain::{Field, OAuthClientDraft, SecretEntry};
use jiralink_vault::ClientSecret;
use serde::{Deserialize, Serialize};

use super::{RouteTable, user_message};
use crate::AppState;
use crate::error::app_status;
use crate::session::CurrentUser;

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::POST, "/oauth-clients", post(create)),
        (Method::POST, "/oauth-clients/{id}", post(update)),
    ]
}

/// The dialog as posted. Deliberately not `Debug`: it holds the client secret until
/// [`ClientForm::into_parts`] moves it into a [`ClientSecret`].
#[derive(Deserialize, Default)]
#[serde(default)]
struct ClientForm {
    name: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Editing: the version the dialog was filled from.
    version: Option<u64>,
}

impl ClientForm {
    fn into_parts(self) -> (OAuthClientDraft, OAuthClientSecrets) {
        let client_secret = self
            .client_secret
            .filter(|s| !s.is_empty())
            .map(ClientSecret::new);
        let draft = OAuthClientDraft {
            name: self.name,
            client_id: self.client_id,
            // Set by the app from the secret itself.
            client_secret: SecretEntry::Missing,
        };
        (draft, OAuthClientSecrets { client_secret })
    }
}

/// A saved client, as the form's select needs it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SavedClient {
    id: String,
    name: String,
    client_id: String,
    version: u64,
    notices: Vec<String>,
}

impl From<Saved<OAuthClientView>> for SavedClient {
    fn from(saved: Saved<OAuthClientView>) -> Self {
        Self {
            id: saved.value.id,
            name: saved.value.name,
            client_id: saved.value.client_id,
            version: saved.value.version,
            notices: saved.notices,
        }
    }
}

#[derive(Debug, Serialize)]
struct DialogProblem {
    field: &'static str,
    message: String,
}

/// Why the dialog's values were not saved.
#[derive(Debug, Serialize)]
struct ProblemsBody {
    message: String,
    problems: Vec<DialogProblem>,
}

fn problems(error: &AppError) -> Response {
    let (status, message, problems) = match error {
        AppError::Validation(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "The OAuth 2.0 client was not saved: fix the problems shown next to the fields."
                .to_owned(),
            errors
                .iter()
                .map(|e| DialogProblem {
                    field: e.field.as_str(),
                    message: e.message.clone(),
                })
                .collect(),
        ),
        AppError::OAuthClientNameTaken { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "The OAuth 2.0 client was not saved: fix the problem shown next to the field."
                .to_owned(),
            vec![DialogProblem {
                field: Field::Name.as_str(),
                message: error.to_string(),
            }],
        ),
        other => (
            app_status(other),
            format!(
                "The OAuth 2.0 client was not saved: {}",
                user_message(other)
            ),
            Vec::new(),
        ),
    };
    (status, axum::Json(ProblemsBody { message, problems })).into_response()
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<ClientForm>,
) -> Response {
    let (draft, secrets) = form.into_parts();
    match state
        .app()
        .create_oauth_client(&draft, secrets, &user.actor())
        .await
    {
        Ok(saved) => (StatusCode::CREATED, axum::Json(SavedClient::from(saved))).into_response(),
        Err(e) => problems(&e),
    }
}

async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<ClientForm>,
) -> Response {
    let Some(version) = form.version else {
        return problems(&jiralink_app::AppError::InvalidInput(
            "the dialog does not say which version of the client it was filled from; load the \
             page again"
                .to_owned(),
        ));
    };
    let (draft, secrets) = form.into_parts();
    match state
        .app()
        .update_oauth_client(&id, version, &draft, secrets, &user.actor())
        .await
    {
        Ok(saved) => axum::Json(SavedClient::from(saved)).into_response(),
        Err(e) => problems(&e),
    }
}
