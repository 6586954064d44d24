//! The routes below `/service/auth/v1`, with the original's paths and request fields, each
//! registered with its OpenAPI description.
//!
//! Most bodies are read as JSON values and checked field by field (so `{"$ne": null}` in place
//! of a key is a clear 400, never a query); the `...Request` structs beside the handlers
//! document those hand-parsed bodies.

mod accounts;
mod codes;
mod oauth;
mod profile;
mod sessions;

use std::sync::Arc;

use actix_web::web;
use coglex_common::web::Routes;
use coglex_common::ApiError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::UserKey;
use crate::sessions::Tokens;
use crate::AuthState;

type State = web::Data<Arc<AuthState>>;

pub(crate) fn configure(routes: &mut Routes) {
    routes
        .add(accounts::__path_sign_up, accounts::sign_up)
        .add(accounts::__path_sign_in, accounts::sign_in)
        .add(sessions::__path_refresh_session, sessions::refresh_session)
        .add(sessions::__path_sign_out, sessions::sign_out)
        .add(oauth::__path_start_oauth, oauth::start_oauth)
        .add(oauth::__path_finish_oauth, oauth::finish_oauth)
        .add(codes::__path_send_code, codes::send_code)
        .add(codes::__path_verify_code, codes::verify_code)
        // Last: it matches any single segment.
        .add(profile::__path_get_profile, profile::get_profile)
        .add(profile::__path_update_profile, profile::update_profile);
}

/// A user as clients see it (`users::public_view`): `_id`, `_key` and the user's own fields,
/// never the password hash or other server-side (`_`-prefixed) state.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the rendered user document.
pub(crate) struct UserProfile {
    /// The user's id (24 hex characters).
    #[schema(rename = "_id")]
    id: String,
    /// The user's email address, trimmed and lower-cased.
    #[schema(rename = "_key")]
    key: String,
}

/// A new session and the user it belongs to.
#[derive(Serialize, ToSchema)]
pub(crate) struct SignInResponse {
    #[serde(flatten)]
    tokens: Tokens,
    #[schema(value_type = UserProfile)]
    user: Value,
}

impl SignInResponse {
    pub(crate) fn new(tokens: Tokens, user: Value) -> Self {
        Self { tokens, user }
    }
}

/// A required string field of a JSON body.
fn string_field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None => {
            Err(ApiError::bad_request(format!("`{name}` is required")))
        }
        Some(_) => Err(ApiError::bad_request(format!("`{name}` must be a string"))),
    }
}

/// After the owner of `key` proved it: an account someone may have made for that address
/// (with `/signup`, or a Facebook sign-in) loses the password and provider links set there and
/// every session started with them, so that whoever made it keeps no way in; unless
/// `keep_password`, when the prover is signed in to that very account (so knows its
/// password).
async fn confirm_owner(
    state: &AuthState,
    key: &UserKey,
    keep_password: bool,
) -> Result<(), ApiError> {
    if let Some(user_id) = state.users.claim(key, keep_password).await? {
        let mut ended = state.sessions.end_all(&user_id).await?;
        // A sign-in that reached the account before the claim may have started a session
        // since: it ends too. Unless another proof was first, whose session it would end.
        if state.users.mark_proven(key, true).await? {
            ended += state.sessions.end_all(&user_id).await?;
        }
        tracing::info!(
            user_id,
            ended,
            "the owner of an unverified account's address proved it; its password and sessions were removed"
        );
    }
    Ok(())
}
