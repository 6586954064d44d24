//! `POST /refresh` and `POST /signout`.

use actix_web::{web, HttpResponse};
use coglex_common::web::AuthUser;
use coglex_common::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{string_field, State};

/// `{refresh_token}` → a new token pair; the old refresh token stops working.
pub async fn refresh_session(
    state: State,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let refresh_token = string_field(&body, "refresh_token")?;
    let tokens = state.sessions.refresh(refresh_token).await?;
    Ok(HttpResponse::Ok().json(tokens.fields()))
}

#[derive(Debug, Default, Deserialize)]
pub struct SignOut {
    /// End every session of the user, not only this one.
    #[serde(default)]
    all: bool,
}

/// Ends the caller's session (or all of them with `{"all": true}`). The body is optional, but
/// one that is sent must be right: a malformed `all` must not quietly end only one session.
pub async fn sign_out(
    state: State,
    user: AuthUser,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: SignOut = if body.iter().all(u8::is_ascii_whitespace) {
        SignOut::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::bad_request("the body must be empty or `{\"all\": true|false}`")
        })?
    };
    let ended = state.sessions.end(&user, request.all).await?;
    Ok(HttpResponse::Ok().json(json!({ "signed_out": ended })))
}
