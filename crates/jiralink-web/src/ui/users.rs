//! The users and API keys page (`/settings/users`), for administrators: adding and deleting
//! users, creating and revoking API keys for `/v1`. UI routes like every other page, behind
//! the session and notice layers of [`crate::ui`]; signing in, sessions and CSRF are
//! [`crate::session`]'s.
//!
//! A new API key is shown once, in the page that answers its creation (never through a
//! redirect, which would carry it in a cookie or a URL), and zeroized when that page is gone.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use jiralink_app::{AppError, MIN_PASSWORD_CHARS, format_time};
use jiralink_vault::Password;
use serde::Deserialize;

use super::{
    Flash, Page, RouteTable, app_error_page, error_page, redirect_with_notice, render_with_status,
    user_message,
};
use crate::AppState;
use crate::error::app_status;
use crate::session::CurrentUser;

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::GET, "/settings/users", get(users_page)),
        (Method::POST, "/settings/users", post(add_user)),
        (
            Method::POST,
            "/settings/users/{id}/delete",
            post(delete_user),
        ),
        (Method::POST, "/settings/api-keys", post(create_api_key)),
        (
            Method::POST,
            "/settings/api-keys/{id}/revoke",
            post(revoke_api_key),
        ),
    ]
}

struct UserRow {
    id: String,
    username: String,
    is_admin: bool,
    created: String,
}

struct KeyRow {
    id: String,
    name: String,
    username: String,
    prefix: String,
    created: String,
    last_used: String,
}

/// A key created by this request, shown once.
struct NewKey {
    name: String,
    username: String,
    key: String,
}

impl Drop for NewKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

#[derive(Template)]
#[template(path = "auth/users.html")]
struct UsersTemplate {
    page: Page,
    self_name: String,
    users: Vec<UserRow>,
    keys: Vec<KeyRow>,
    error: Option<String>,
    new_key: Option<NewKey>,
    form_username: String,
    form_is_admin: bool,
    min_password: usize,
}

super::page_deref!(UsersTemplate);

#[derive(Default)]
struct UsersExtra {
    error: Option<String>,
    new_key: Option<NewKey>,
    form_username: String,
    form_is_admin: bool,
}

/// The users page again, saying why an action on it failed.
async fn users_error(
    state: &AppState,
    user: &CurrentUser,
    flash: Flash,
    error: &AppError,
    extra: UsersExtra,
) -> Response {
    let extra = UsersExtra {
        error: Some(user_message(error)),
        ..extra
    };
    users_response(state, user, flash, app_status(error), extra).await
}

async fn users_response(
    state: &AppState,
    user: &CurrentUser,
    flash: Flash,
    status: StatusCode,
    extra: UsersExtra,
) -> Response {
    let page = Page::new(user, flash);
    let (users, keys) = match (
        state.app().list_users().await,
        state.app().list_api_keys(None).await,
    ) {
        (Ok(u), Ok(k)) => (u, k),
        (Err(e), _) | (_, Err(e)) => return app_error_page(page, &e),
    };
    render_with_status(
        status,
        &UsersTemplate {
            self_name: user.username.clone(),
            users: users
                .into_iter()
                .map(|u| UserRow {
                    id: u.id.to_string(),
                    username: u.username,
                    is_admin: u.is_admin,
                    created: format_time(u.created_at),
                })
                .collect(),
            keys: keys
                .into_iter()
                .map(|k| KeyRow {
                    id: k.id.to_string(),
                    name: k.name,
                    username: k.username,
                    prefix: k.prefix,
                    created: format_time(k.created_at),
                    last_used: k
                        .last_used_at
                        .map_or_else(|| "Never".to_owned(), format_time),
                })
                .collect(),
            error: extra.error,
            new_key: extra.new_key,
            form_username: extra.form_username,
            form_is_admin: extra.form_is_admin,
            min_password: MIN_PASSWORD_CHARS,
            page,
        },
    )
}

/// `None` for an administrator; the 403 page for anyone else.
fn refuse_non_admin(user: &CurrentUser, flash: Flash) -> Option<Response> {
    (!user.is_admin).then(|| {
        error_page(
            StatusCode::FORBIDDEN,
            Page::new(user, flash),
            "Only administrators manage users and API keys; ask one to do it for you.",
        )
    })
}

async fn users_page(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    if let Some(res) = refuse_non_admin(&user, flash.clone()) {
        return res;
    }
    users_response(&state, &user, flash, StatusCode::OK, UsersExtra::default()).await
}

#[derive(Deserialize)]
struct AddUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    is_admin: Option<String>,
}

async fn add_user(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    axum::Form(form): axum::Form<AddUserForm>,
) -> Response {
    if let Some(res) = refuse_non_admin(&user, flash.clone()) {
        return res;
    }
    let password = Password::from(form.password);
    let is_admin = form.is_admin.is_some();
    match state
        .app()
        .create_user(&form.username, &password, is_admin, &user.actor())
        .await
    {
        Ok(created) => redirect_with_notice(
            &state,
            "/settings/users",
            &format!("Added the user {}.", created.username),
        ),
        Err(e) => {
            let extra = UsersExtra {
                form_username: form.username,
                form_is_admin: is_admin,
                ..UsersExtra::default()
            };
            users_error(&state, &user, flash, &e, extra).await
        }
    }
}

async fn delete_user(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    if let Some(res) = refuse_non_admin(&user, flash.clone()) {
        return res;
    }
    match state.app().delete_user(&id, &user.actor()).await {
        Ok(deleted) => redirect_with_notice(
            &state,
            "/settings/users",
            &format!(
                "Deleted the user {}, with their sessions and API keys.",
                deleted.username
            ),
        ),
        Err(e) => users_error(&state, &user, flash, &e, UsersExtra::default()).await,
    }
}

#[derive(Deserialize)]
struct CreateKeyForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    name: String,
}

async fn create_api_key(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    axum::Form(form): axum::Form<CreateKeyForm>,
) -> Response {
    if let Some(res) = refuse_non_admin(&user, flash.clone()) {
        return res;
    }
    match state
        .app()
        .create_api_key(&form.user, &form.name, &user.actor())
        .await
    {
        // Rendered, not redirected: the key must not travel in a cookie or a URL.
        Ok(created) => {
            let extra = UsersExtra {
                new_key: Some(NewKey {
                    name: created.view.name.clone(),
                    username: created.view.username.clone(),
                    key: created.key.expose().to_owned(),
                }),
                ..UsersExtra::default()
            };
            users_response(&state, &user, flash, StatusCode::OK, extra).await
        }
        Err(e) => users_error(&state, &user, flash, &e, UsersExtra::default()).await,
    }
}

async fn revoke_api_key(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    if let Some(res) = refuse_non_admin(&user, flash.clone()) {
        return res;
    }
    match state.app().revoke_api_key(&id, &user.actor()).await {
        Ok(k) => redirect_with_notice(
            &state,
            "/settings/users",
            &format!(
                "Revoked the API key {} of {}; scripts using it are refused from now on.",
                k.name, k.username
            ),
        ),
        Err(e) => users_error(&state, &user, flash, &e, UsersExtra::default()).await,
    }
}
