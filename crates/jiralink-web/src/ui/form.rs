//! The "Create connection" panel: creating and editing a connection in the browser, testing
//! unsaved settings, the HTTP view of a draft, and "Save & authorize".
//!
//! The form follows the reference product's panel: Name and API type first; for Cloud Platform
//! the subdomain and auth type, then either username and API token (Basic) or OAuth 2.0 client
//! and scopes; for Customer Service Management only the OAuth 2.0 client and scopes. Fields
//! that do not apply are hidden, and whatever a hidden field still holds is not part of the
//! submission: the server drops it, so a value the user can no longer see never takes effect
//! and never fails validation.
//!
//! Secrets: the API token is read into [`ApiToken`] at once and never rendered back, not even
//! after a failed save; on edit it must be entered again.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use jiralink_app::{AppError, ConnectionSecrets, OAuthClientView, TestOutcome, TestResult};
use jiralink_domain::{
    ApiType, AuthType, ConnectionAuth, ConnectionDraft, ConnectionId, ConnectionState, Field,
    HttpView, OAuthClientId, ScopeInfo, SecretEntry, ValidationErrors,
};
use jiralink_vault::ApiToken;
use serde::{Deserialize, Serialize};

use super::{
    Flash, Page, RouteTable, app_error_page, redirect_with_notice, render_with_status, state_badge,
    user_message,
};
use crate::AppState;
use crate::error::app_status;
use crate::session::CurrentUser;

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::GET, "/connections/new", get(new_page)),
        (Method::POST, "/connections", post(create)),
        (Method::POST, "/connections/test", post(test_new_draft)),
        (
            Method::POST,
            "/connections/http-view",
            post(draft_http_view),
        ),
        (Method::GET, "/connections/{id}/edit", get(edit_page)),
        (Method::POST, "/connections/{id}", post(update)),
        (
            Method::POST,
            "/connections/{id}/test-draft",
            post(test_edited_draft),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// What the browser posts

/// The connection form as posted. Deliberately not `Debug`: it holds the API token until
/// [`ConnectionForm::into_parts`] moves it into an [`ApiToken`].
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ConnectionForm {
    name: Option<String>,
    api_type: Option<String>,
    subdomain: Option<String>,
    auth_type: Option<String>,
    username: Option<String>,
    api_token: Option<String>,
    oauth_client: Option<String>,
    scopes: Vec<String>,
    concurrency_level: Option<String>,
    rate_limit_auto_recover: Option<String>,
    rate_limit_max_retries: Option<String>,
    action: Option<String>,
    /// Which view was showing when the form was sent: `simple` or `http`.
    view: Option<String>,
    /// Editing: the version of the connection the form was filled from.
    version: Option<u64>,
}

/// Which groups of fields the chosen API type and auth type show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    /// Subdomain and auth type (Cloud Platform).
    pub(crate) site: bool,
    /// Username and API token.
    pub(crate) basic: bool,
    /// OAuth 2.0 client and scopes.
    pub(crate) oauth: bool,
}

impl Shape {
    /// The fields shown for the raw select values, as the page's script decides them too.
    pub(crate) fn of(api_type: &str, auth_type: &str) -> Self {
        match api_type.trim().parse::<ApiType>() {
            Ok(ApiType::CloudPlatform) => {
                let auth = auth_type.trim().parse::<AuthType>().ok();
                Self {
                    site: true,
                    basic: auth == Some(AuthType::Basic),
                    oauth: auth == Some(AuthType::OAuth2),
                }
            }
            Ok(ApiType::CustomerServiceManagement) => Self {
                site: false,
                basic: false,
                oauth: true,
            },
            Err(_) => Self::default(),
        }
    }
}

/// What the form shows again after a post: every typed value except the API token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FormValues {
    pub(crate) name: String,
    pub(crate) api_type: String,
    pub(crate) subdomain: String,
    pub(crate) auth_type: String,
    pub(crate) username: String,
    pub(crate) oauth_client: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) concurrency_level: String,
    pub(crate) rate_limit_auto_recover: String,
    pub(crate) rate_limit_max_retries: String,
    /// The view that was showing when the form was sent (`http` or anything else for the
    /// simple view), so a failed save reopens it.
    pub(crate) view: String,
    /// Editing: the version the form was filled from. Kept as posted when a save fails, so a
    /// form made from a version someone else has replaced keeps being refused until it is
    /// loaded again.
    pub(crate) version: Option<u64>,
}

/// The fields only the HTTP view shows: an error in one of them opens that view.
const HTTP_VIEW_FIELDS: [Field; 3] = [
    Field::ConcurrencyLevel,
    Field::RateLimitAutoRecover,
    Field::RateLimitMaxRetries,
];

impl FormValues {
    fn of_draft(draft: &ConnectionDraft, oauth_client_id: Option<OAuthClientId>) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            name: text(&draft.name),
            api_type: text(&draft.api_type),
            subdomain: text(&draft.subdomain),
            auth_type: text(&draft.auth_type),
            username: text(&draft.username),
            // The select's options are client ids; the draft names the client.
            oauth_client: oauth_client_id
                .map(|id| id.to_string())
                .unwrap_or_else(|| text(&draft.oauth_client)),
            scopes: draft.scopes.clone(),
            concurrency_level: text(&draft.concurrency_level),
            rate_limit_auto_recover: text(&draft.rate_limit_auto_recover),
            rate_limit_max_retries: text(&draft.rate_limit_max_retries),
            view: String::new(),
            version: None,
        }
    }

    fn shape(&self) -> Shape {
        Shape::of(&self.api_type, &self.auth_type)
    }
}

/// What the post asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Save,
    SaveAndAuthorize,
    Test,
}

impl ConnectionForm {
    fn action(&self) -> Action {
        match self.action.as_deref() {
            Some("test") => Action::Test,
            Some("save_authorize") => Action::SaveAndAuthorize,
            _ => Action::Save,
        }
    }

    /// The draft to validate, the secret, and the values to show again. Values of hidden
    /// fields are dropped (see the module docs); a blank token counts as none.
    fn into_parts(self) -> (ConnectionDraft, ConnectionSecrets, FormValues) {
        let keep = |v: Option<String>| v.unwrap_or_default();
        let values = FormValues {
            name: keep(self.name),
            api_type: keep(self.api_type),
            subdomain: keep(self.subdomain),
            auth_type: keep(self.auth_type),
            username: keep(self.username),
            oauth_client: keep(self.oauth_client),
            scopes: self
                .scopes
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            concurrency_level: keep(self.concurrency_level),
            rate_limit_auto_recover: keep(self.rate_limit_auto_recover),
            rate_limit_max_retries: keep(self.rate_limit_max_retries),
            view: keep(self.view),
            version: self.version,
        };
        let shape = values.shape();
        let given = |show: bool, v: &str| (show && !v.trim().is_empty()).then(|| v.to_owned());
        let draft = ConnectionDraft {
            name: given(true, &values.name),
            // An API type that cannot be read is kept, so validation says what is wrong.
            api_type: given(true, &values.api_type),
            subdomain: given(shape.site, &values.subdomain),
            auth_type: given(shape.site, &values.auth_type),
            username: given(shape.basic, &values.username),
            api_token: SecretEntry::Missing,
            oauth_client: given(shape.oauth, &values.oauth_client),
            scopes: if shape.oauth {
                values.scopes.clone()
            } else {
                Vec::new()
            },
            concurrency_level: given(true, &values.concurrency_level),
            rate_limit_auto_recover: given(true, &values.rate_limit_auto_recover),
            rate_limit_max_retries: given(true, &values.rate_limit_max_retries),
        };
        let api_token = self
            .api_token
            .filter(|t| shape.basic && !t.is_empty())
            .map(ApiToken::new);
        (draft, ConnectionSecrets { api_token }, values)
    }
}

// ---------------------------------------------------------------------------------------------
// The page

/// A choice in a select.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub(crate) value: &'static str,
    pub(crate) label: &'static str,
}

/// An OAuth 2.0 client in the select; the dialog's edit mode reads name and client ID from it.
#[derive(Debug, Clone)]
pub(crate) struct ClientOption {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) client_id: String,
    pub(crate) version: u64,
}

impl From<OAuthClientView> for ClientOption {
    fn from(c: OAuthClientView) -> Self {
        Self {
            id: c.id,
            name: c.name,
            client_id: c.client_id,
            version: c.version,
        }
    }
}

/// The scope catalogue of one API type, rendered into the page for the picker.
#[derive(Debug, Clone)]
pub(crate) struct Catalogue {
    pub(crate) api_type: &'static str,
    pub(crate) scopes: &'static [ScopeInfo],
}

/// The saved connection being edited.
#[derive(Debug, Clone)]
pub(crate) struct Editing {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) state_label: &'static str,
    pub(crate) state_class: &'static str,
    pub(crate) state_reason: Option<String>,
}

impl Editing {
    fn of(connection: &jiralink_domain::Connection) -> Self {
        let (id, name, state) = (
            connection.id,
            connection.settings.name.as_str(),
            &connection.state,
        );
        let (state_label, state_class) = state_badge(state);
        let state_reason = match state {
            ConnectionState::Offline { reason } => Some(reason.clone()),
            _ => None,
        };
        Self {
            id: id.to_string(),
            name: name.to_owned(),
            state_label,
            state_class,
            state_reason,
        }
    }
}

/// A test report as the page shows it. Never holds a secret: it is built from
/// [`TestOutcome`], which holds none.
#[derive(Debug, Clone)]
pub(crate) struct TestView {
    pub(crate) class: &'static str,
    pub(crate) heading: String,
    pub(crate) reachable: &'static str,
    pub(crate) account: Option<String>,
    pub(crate) site: Option<String>,
    pub(crate) scopes: Option<String>,
    pub(crate) missing_scopes: Option<String>,
    pub(crate) request: Option<String>,
    pub(crate) latency: Option<String>,
    pub(crate) problem: Option<String>,
    pub(crate) fix: Option<String>,
}

impl TestView {
    fn of(outcome: &TestOutcome) -> Self {
        let list = |v: &[String]| (!v.is_empty()).then(|| v.join(", "));
        let (class, heading) = match outcome.result {
            TestResult::Passed => ("test-passed", "The connection works.".to_owned()),
            TestResult::Failed => ("test-failed", "The connection does not work.".to_owned()),
            TestResult::NeedsAuthorization => (
                "test-pending",
                "OAuth 2.0 connections are tested once they are authorized: choose Save & \
                 authorize."
                    .to_owned(),
            ),
        };
        Self {
            class,
            heading,
            reachable: if outcome.reachable { "yes" } else { "no" },
            account: outcome.account.as_ref().map(|a| {
                let name = a.display_name.as_deref().unwrap_or(&a.account_id);
                match &a.email {
                    Some(email) => format!("{name} <{email}>"),
                    None => name.to_owned(),
                }
            }),
            site: outcome.site_url.clone(),
            scopes: list(&outcome.granted_scopes),
            missing_scopes: list(&outcome.missing_scopes),
            request: outcome.probe.map(str::to_owned),
            latency: outcome.latency_ms.map(|ms| format!("{ms} ms")),
            problem: outcome.failure.as_ref().map(|f| f.message.clone()),
            fix: outcome.failure.as_ref().map(|f| f.fix.clone()),
        }
    }
}

/// One problem next to its field.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    pub(crate) field: &'static str,
    pub(crate) label: &'static str,
    /// The id of the control the summary links to.
    #[serde(skip)]
    pub(crate) anchor: &'static str,
    pub(crate) message: String,
}

/// The control a problem with `field` is fixed in.
fn anchor(field: Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::ApiType => "api-type",
        Field::Subdomain => "subdomain",
        Field::AuthType => "auth-type",
        Field::Username => "username",
        Field::ApiToken => "api-token",
        Field::OAuthClient => "oauth-client",
        Field::Scopes => "scopes-edit",
        Field::ConcurrencyLevel => "concurrency-level",
        Field::RateLimitAutoRecover => "rate-limit-auto-recover",
        Field::RateLimitMaxRetries => "rate-limit-max-retries",
        Field::ClientId => "oauth-client-id",
        Field::ClientSecret => "oauth-client-secret",
    }
}

fn problems_of(errors: &ValidationErrors) -> Vec<Problem> {
    errors
        .iter()
        .map(|e| Problem {
            field: e.field.as_str(),
            label: e.field.label(),
            anchor: anchor(e.field),
            message: e.message.clone(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "connections/form.html")]
pub(crate) struct FormPage {
    pub(crate) page: Page,
    pub(crate) title: String,
    pub(crate) form_action: String,
    pub(crate) test_url: String,
    pub(crate) editing: Option<Editing>,
    pub(crate) values: FormValues,
    pub(crate) shape: Shape,
    pub(crate) problems: Vec<Problem>,
    pub(crate) form_error: Option<String>,
    pub(crate) api_types: Vec<Choice>,
    pub(crate) auth_types: Vec<Choice>,
    pub(crate) clients: Vec<ClientOption>,
    pub(crate) catalogues: Vec<Catalogue>,
    pub(crate) callback_url: String,
    /// What the configured site URL puts around the subdomain, e.g. `https://` and
    /// `.atlassian.net`.
    pub(crate) site_affixes: Option<(String, String)>,
    pub(crate) http_view: Option<HttpView>,
    pub(crate) test: Option<TestView>,
    pub(crate) authorized: bool,
    pub(crate) authorization_failed: Option<String>,
}

super::page_deref!(FormPage);

impl FormPage {
    /// The messages for one field, joined.
    pub(crate) fn error(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .problems
            .iter()
            .filter(|p| p.field == field)
            .map(|p| p.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| sentence(&messages.join("; ")))
    }

    pub(crate) fn has_error(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }

    /// Whether the page opens on the HTTP view: it was showing when the form was sent, or
    /// one of its fields has a problem to show.
    pub(crate) fn http_view_open(&self) -> bool {
        self.values.view.trim() == "http"
            || HTTP_VIEW_FIELDS.iter().any(|f| self.has_error(f.as_str()))
    }

    pub(crate) fn is_edit(&self) -> bool {
        self.editing.is_some()
    }

    pub(crate) fn scopes_summary(&self) -> String {
        match self.values.scopes.len() {
            0 => "No scopes selected".to_owned(),
            n => format!(
                "{n} scope{} selected: {}",
                if n == 1 { "" } else { "s" },
                self.values.scopes.join(", ")
            ),
        }
    }

    pub(crate) fn auto_recover_on(&self) -> bool {
        !matches!(
            self.values
                .rate_limit_auto_recover
                .trim()
                .to_ascii_lowercase()
                .as_str(),
            "off" | "false" | "no" | "0"
        )
    }

    pub(crate) fn selected_client_known(&self) -> bool {
        self.clients
            .iter()
            .any(|c| c.id == self.values.oauth_client)
    }

    /// The Basic or OAuth 2.0 settings of the HTTP view, as rows.
    pub(crate) fn http_auth_rows(&self) -> Vec<(&'static str, String)> {
        let Some(view) = &self.http_view else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        if let Some(basic) = &view.basic {
            rows.push(("Username", basic.username.clone()));
        }
        if let Some(oauth) = &view.oauth {
            rows.push(("Grant type", oauth.grant_type.to_owned()));
            rows.push(("Authorize URL", oauth.authorize_url.clone()));
            rows.push(("Token URL", oauth.token_url.clone()));
            rows.push(("Audience", oauth.audience.to_owned()));
            if let Some(id) = &oauth.client_id {
                rows.push(("Client ID", id.clone()));
            }
            if let Some(uri) = &oauth.redirect_uri {
                rows.push(("Redirect URI", uri.clone()));
            }
            rows.push(("Scopes", oauth.scopes.join(oauth.scope_delimiter)));
            rows.push(("Prompt", oauth.prompt.to_owned()));
            rows.push(("PKCE", oauth.pkce.to_owned()));
            rows.push((
                "Client credentials",
                format!("sent in the {}", oauth.client_credentials_location),
            ));
        }
        rows
    }

    fn render_with(self, status: StatusCode) -> Response {
        render_with_status(status, &self)
    }
}

/// Messages are lower-case fragments; beside a field they read as a sentence.
pub(crate) fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn api_type_choices() -> Vec<Choice> {
    ApiType::ALL
        .iter()
        .map(|a| Choice {
            value: a.id(),
            label: a.label(),
        })
        .collect()
}

fn auth_type_choices() -> Vec<Choice> {
    AuthType::ALL
        .iter()
        .map(|a| Choice {
            value: a.id(),
            label: a.label(),
        })
        .collect()
}

fn catalogues() -> Vec<Catalogue> {
    ApiType::ALL
        .iter()
        .map(|&a| Catalogue {
            api_type: a.id(),
            scopes: jiralink_domain::catalogue(a),
        })
        .collect()
}

/// The text before and after the subdomain in the configured site URL template.
fn site_affixes(template: &str) -> Option<(String, String)> {
    let (before, after) = template.split_once("{subdomain}")?;
    Some((before.to_owned(), after.trim_end_matches('/').to_owned()))
}

/// A page for `user` with the choices filled in; the caller sets what differs.
async fn base_page(
    state: &AppState,
    page: Page,
    editing: Option<Editing>,
    values: FormValues,
) -> Result<FormPage, AppError> {
    let clients = state
        .app()
        .list_oauth_clients()
        .await?
        .into_iter()
        .map(ClientOption::from)
        .collect();
    let (title, form_action, test_url) = match &editing {
        None => (
            "Create connection".to_owned(),
            "/connections".to_owned(),
            "/connections/test".to_owned(),
        ),
        Some(e) => (
            format!("Edit connection: {}", e.name),
            format!("/connections/{}", e.id),
            format!("/connections/{}/test-draft", e.id),
        ),
    };
    Ok(FormPage {
        page,
        title,
        form_action,
        test_url,
        editing,
        shape: values.shape(),
        values,
        problems: Vec::new(),
        form_error: None,
        api_types: api_type_choices(),
        auth_types: auth_type_choices(),
        clients,
        catalogues: catalogues(),
        callback_url: state.app().oauth_callback_url().to_string(),
        site_affixes: site_affixes(&state.app().config().atlassian.site_url_template),
        http_view: None,
        test: None,
        authorized: false,
        authorization_failed: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn new_page(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    let values = FormValues {
        rate_limit_auto_recover: "on".to_owned(),
        ..FormValues::default()
    };
    let page = Page::new(&user, flash);
    match base_page(&state, page.clone(), None, values).await {
        Ok(form) => form.render_with(StatusCode::OK),
        Err(e) => app_error_page(page, &e),
    }
}

/// What the authorization callback appends to the edit page's URL.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub(crate) struct EditQuery {
    authorized: Option<String>,
    authorization_failed: Option<String>,
}

async fn edit_page(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
    Query(query): Query<EditQuery>,
) -> Response {
    let page = Page::new(&user, flash);
    match edit_page_for(&state, page.clone(), &id, query).await {
        Ok(form) => form.render_with(StatusCode::OK),
        Err(e) => app_error_page(page, &e),
    }
}

async fn edit_page_for(
    state: &AppState,
    page: Page,
    reference: &str,
    query: EditQuery,
) -> Result<FormPage, AppError> {
    let (connection, draft) = state.app().connection_draft(reference).await?;
    let values = FormValues::of_draft(&draft, connection.settings.auth.oauth_client());
    let mut values = values;
    values.version = Some(connection.version);
    let editing = Editing::of(&connection);
    let mut page = base_page(state, page, Some(editing), values).await?;
    page.http_view = Some(
        state
            .app()
            .connection_http_view(&connection.id.to_string())
            .await?,
    );
    page.authorized = query.authorized.is_some_and(|v| v == "1");
    page.authorization_failed = query
        .authorization_failed
        .as_deref()
        .map(authorization_failure_text);
    Ok(page)
}

/// What an authorization failure's error code means for the user. The code arrives in the
/// query string, so only known codes are explained and nothing else from it is shown.
pub(crate) fn authorization_failure_text(code: &str) -> String {
    match code {
        "oauth_access_denied" => {
            "The authorization was declined on Atlassian's consent page, so nothing changed. \
             Choose Save & authorize and accept on Atlassian's page."
        }
        "oauth_state_invalid" => {
            "The authorization expired or was already used. Choose Save & authorize to start \
             again."
        }
        "oauth_provider_unavailable" => {
            "Atlassian could not complete the authorization right now. Try again in a few \
             minutes."
        }
        "oauth_site_not_granted" | "oauth_site_choice_needed" => {
            "The site was not granted as expected. Choose Save & authorize again and choose the \
             connection's site on Atlassian's consent page."
        }
        "oauth_failed" | "oauth_client_rejected" => {
            "Atlassian refused the authorization. Check the OAuth 2.0 client's client ID, \
             client secret, callback URL and scopes in the Atlassian developer console, then \
             authorize again."
        }
        "invalid_config" => {
            "The authorization server in the configuration (atlassian.auth_server) does not \
             match the authorization URL; ask the administrator to check the configuration."
        }
        _ => "The authorization did not complete. Choose Save & authorize to try again.",
    }
    .to_owned()
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<ConnectionForm>,
) -> Response {
    submit(&state, &user, None, form).await
}

async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<ConnectionForm>,
) -> Response {
    match state.app().find_connection(&id).await {
        Ok(connection) => {
            let editing = Editing::of(&connection);
            submit(&state, &user, Some((connection.id, editing)), form).await
        }
        Err(e) => app_error_page(Page::new(&user, Flash::default()), &e),
    }
}

async fn submit(
    state: &AppState,
    user: &CurrentUser,
    editing: Option<(ConnectionId, Editing)>,
    form: ConnectionForm,
) -> Response {
    let action = form.action();
    let (draft, secrets, values) = form.into_parts();
    let editing_id = editing.as_ref().map(|(id, _)| *id);
    let form_version = values.version;
    let page = Page::new(user, Flash::default());
    let mut page = match base_page(state, page.clone(), editing.map(|(_, e)| e), values).await {
        Ok(form) => form,
        Err(e) => return app_error_page(page, &e),
    };

    if action == Action::Test {
        return match state.app().test_draft(&draft, &secrets, editing_id).await {
            Ok(outcome) => {
                page.test = Some(TestView::of(&outcome));
                page.render_with(StatusCode::OK)
            }
            Err(e) => page.with_error(&e, "The connection was not tested"),
        };
    }

    let actor = user.actor();
    let saved = match editing_id {
        None => state.app().create_connection(&draft, secrets, &actor).await,
        Some(id) => match form_version {
            Some(version) => {
                state
                    .app()
                    .update_connection(&id.to_string(), version, &draft, secrets, &actor)
                    .await
            }
            None => Err(jiralink_app::AppError::InvalidInput(
                "the form does not say which version of the connection it was made from; load \
                 the page again and make the change again"
                    .to_owned(),
            )),
        },
    };
    let saved = match saved {
        Ok(saved) => saved,
        Err(e) => return page.with_error(&e, "The connection was not saved"),
    };
    let name = saved.value.name.clone();
    let id = saved.value.id.clone();
    let is_oauth = matches!(
        saved.value.connection.settings.auth,
        ConnectionAuth::OAuth2 { .. }
    );

    let verb = if editing_id.is_some() {
        "saved"
    } else {
        "created"
    };
    let mut notice = format!("The connection {name} was {verb}.");
    for extra in &saved.notices {
        notice.push(' ');
        notice.push_str(extra);
    }

    if action == Action::SaveAndAuthorize && is_oauth {
        let edit = format!("/connections/{id}/edit");
        return match state.app().begin_authorization(&id).await {
            // The browser is sent there, so it must be the configured authorization server
            // and nowhere else.
            Ok(start)
                if start.url.origin() == state.app().config().atlassian.auth_server.origin() =>
            {
                Redirect::to(start.url.as_str()).into_response()
            }
            Ok(_) => {
                tracing::error!(connection = %id, "the authorize URL is not on the auth server");
                Redirect::to(&format!("{edit}?authorization_failed=invalid_config")).into_response()
            }
            Err(e) => redirect_with_notice(
                state,
                &edit,
                &format!(
                    "{notice} The authorization could not start: {}",
                    user_message(&e)
                ),
            ),
        };
    }

    redirect_with_notice(state, "/connections", &notice)
}

impl FormPage {
    /// The page again with what went wrong: problems next to their fields, anything else at
    /// the top.
    fn with_error(mut self, error: &AppError, what: &str) -> Response {
        match error {
            AppError::Validation(errors) => {
                self.problems = problems_of(errors);
                self.form_error = Some(format!(
                    "{what}: fix the {} below.",
                    if errors.len() == 1 {
                        "problem".to_owned()
                    } else {
                        format!("{} problems", errors.len())
                    }
                ));
                self.render_with(StatusCode::UNPROCESSABLE_ENTITY)
            }
            AppError::ConnectionNameTaken { .. } => {
                self.problems = vec![Problem {
                    field: Field::Name.as_str(),
                    label: Field::Name.label(),
                    anchor: anchor(Field::Name),
                    message: error.to_string(),
                }];
                self.form_error = Some(format!("{what}: fix the problem below."));
                self.render_with(StatusCode::UNPROCESSABLE_ENTITY)
            }
            other => {
                self.form_error = Some(format!("{what}: {}", user_message(other)));
                self.render_with(app_status(other))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON for the page's script

/// Validation problems as the script shows them.
#[derive(Debug, Serialize)]
struct ProblemsBody {
    message: String,
    problems: Vec<Problem>,
}

fn json_error(error: &AppError, what: &str) -> Response {
    let (status, message, problems) = match error {
        AppError::Validation(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what}: fix the problems shown next to the fields."),
            problems_of(errors),
        ),
        other => (
            app_status(other),
            format!("{what}: {}", user_message(other)),
            Vec::new(),
        ),
    };
    (status, axum::Json(ProblemsBody { message, problems })).into_response()
}

async fn test_new_draft(
    State(state): State<AppState>,
    _user: CurrentUser,
    Form(form): Form<ConnectionForm>,
) -> Response {
    test_draft_json(&state, None, form).await
}

async fn test_edited_draft(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<ConnectionForm>,
) -> Response {
    match state.app().find_connection(&id).await {
        Ok(connection) => test_draft_json(&state, Some(connection.id), form).await,
        Err(e) => json_error(&e, "The connection was not tested"),
    }
}

async fn test_draft_json(
    state: &AppState,
    editing: Option<ConnectionId>,
    form: ConnectionForm,
) -> Response {
    let (draft, secrets, _) = form.into_parts();
    match state.app().test_draft(&draft, &secrets, editing).await {
        Ok(outcome) => axum::Json(outcome).into_response(),
        Err(e) => json_error(&e, "The connection was not tested"),
    }
}

async fn draft_http_view(
    State(state): State<AppState>,
    _user: CurrentUser,
    Form(form): Form<ConnectionForm>,
) -> Response {
    let (draft, _secrets, _values) = form.into_parts();
    match state.app().draft_http_view(&draft).await {
        Ok(view) => axum::Json(view).into_response(),
        Err(e @ AppError::Validation(_)) => {
            json_error(&e, "Complete the settings to see the HTTP view")
        }
        Err(e) => json_error(&e, "The HTTP view is not available"),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    async fn form(pairs: &[(&str, &str)]) -> ConnectionForm {
        use axum::extract::FromRequest as _;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let req = axum::http::Request::builder()
            .method("POST")
            .header(
                axum::http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(axum::body::Body::from(body))
            .unwrap();
        let Form(form) = Form::<ConnectionForm>::from_request(req, &())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        form
    }

    #[test]
    fn shape_follows_api_type_and_auth_type() {
        assert_eq!(Shape::of("", ""), Shape::default());
        assert_eq!(
            Shape::of("cloud-platform", ""),
            Shape {
                site: true,
                basic: false,
                oauth: false
            }
        );
        assert_eq!(
            Shape::of("cloud-platform", "basic"),
            Shape {
                site: true,
                basic: true,
                oauth: false
            }
        );
        assert_eq!(
            Shape::of("cloud-platform", "oauth2"),
            Shape {
                site: true,
                basic: false,
                oauth: true
            }
        );
        // Customer Service Management has one auth type, whatever the hidden select says.
        assert_eq!(
            Shape::of("customer-service-management", "basic"),
            Shape {
                site: false,
                basic: false,
                oauth: true
            }
        );
    }

    #[tokio::test]
    async fn hidden_fields_are_not_submitted_and_repeated_scopes_are_read() {
        let (draft, secrets, values) = form(&[
            ("_csrf", "x"),
            ("name", "Jira CSM"),
            ("api_type", "customer-service-management"),
            ("subdomain", "left-over"),
            ("auth_type", "basic"),
            ("username", "fred@example.com"),
            ("api_token", "atl-typed"),
            ("oauth_client", "client-1"),
            ("scopes", "read:me"),
            ("scopes", "read:customer:jira-service-management"),
            ("action", "save"),
        ])
        .await
        .into_parts();
        assert_eq!(draft.subdomain, None);
        assert_eq!(draft.auth_type, None);
        assert_eq!(draft.username, None);
        assert!(secrets.api_token.is_none());
        assert_eq!(draft.oauth_client.as_deref(), Some("client-1"));
        assert_eq!(
            draft.scopes,
            ["read:me", "read:customer:jira-service-management"]
        );
        // What was typed is still shown, so switching back loses nothing.
        assert_eq!(values.username, "fred@example.com");
        assert_eq!(values.subdomain, "left-over");
    }

    #[tokio::test]
    async fn basic_keeps_the_token_and_drops_oauth_fields() {
        let f = form(&[
            ("name", "Jira"),
            ("api_type", "cloud-platform"),
            ("subdomain", "demo"),
            ("auth_type", "basic"),
            ("username", "fred@example.com"),
            ("api_token", "atl-typed"),
            ("oauth_client", "client-1"),
            ("scopes", "read:me"),
            ("action", "test"),
        ])
        .await;
        assert_eq!(f.action(), Action::Test);
        let (draft, secrets, _) = f.into_parts();
        assert_eq!(
            secrets.api_token.as_ref().map(ApiToken::expose),
            Some("atl-typed")
        );
        assert_eq!(draft.oauth_client, None);
        assert!(draft.scopes.is_empty());
        assert_eq!(draft.subdomain.as_deref(), Some("demo"));
    }

    #[tokio::test]
    async fn blank_token_counts_as_none() {
        let (_, secrets, _) = form(&[
            ("api_type", "cloud-platform"),
            ("auth_type", "basic"),
            ("api_token", ""),
        ])
        .await
        .into_parts();
        assert!(secrets.api_token.is_none());
    }

    #[test]
    fn field_messages_start_with_a_capital() {
        assert_eq!(sentence("enter a name"), "Enter a name");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn subdomain_affixes_follow_the_site_template() {
        assert_eq!(
            site_affixes("https://{subdomain}.atlassian.net/"),
            Some(("https://".to_owned(), ".atlassian.net".to_owned()))
        );
        assert_eq!(
            site_affixes("http://127.0.0.1:9/site/{subdomain}"),
            Some(("http://127.0.0.1:9/site/".to_owned(), String::new()))
        );
        assert_eq!(site_affixes("https://fixed.example"), None);
    }

    #[test]
    fn unknown_authorization_codes_get_the_generic_text() {
        let text = authorization_failure_text("<script>alert(1)</script>");
        assert!(!text.contains("script"), "{text}");
        assert!(authorization_failure_text("oauth_access_denied").contains("declined"));
    }
}
