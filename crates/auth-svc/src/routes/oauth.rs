//! `POST /oauth` (start) and `POST /ocall` (finish) of an OAuth sign-in.

use actix_web::{web, HttpResponse};
use coglex_common::ApiError;
use serde_json::{json, Value};

use super::{string_field, State};
use crate::domain::UserKey;
use crate::oauth::Provider;
use crate::users;

/// `{provider, redirect}` → `{authorization_url, state}`.
pub async fn start_oauth(state: State, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let provider = Provider::parse(body.get("provider").unwrap_or(&Value::Null))?;
    let redirect = string_field(&body, "redirect")?;
    let (authorization_url, oauth_state) = state.oauth.authorize(provider, redirect).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "authorization_url": authorization_url, "state": oauth_state })))
}

/// `{provider, redirect, state, code}` → `{name, email, identifier, provider}` and a session.
pub async fn finish_oauth(state: State, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let provider = Provider::parse(body.get("provider").unwrap_or(&Value::Null))?;
    let redirect = string_field(&body, "redirect")?;
    let oauth_state = string_field(&body, "state")?;
    let code = string_field(&body, "code")?;
    let profile = state
        .oauth
        .callback(provider, redirect, oauth_state, code)
        .await?;
    let key = UserKey::parse(&profile.email).map_err(|_| {
        ApiError::bad_request("the provider's email address cannot be used as a key")
    })?;
    let user = state
        .users
        .upsert_linked(&key, profile.provider, &profile.identifier, &profile.name)
        .await?;
    let tokens = state
        .sessions
        .start(&users::user_id(&user)?, key.as_str())
        .await?;
    let mut body = json!({
        "name": profile.name,
        "email": key.as_str(),
        "identifier": profile.identifier,
        "provider": profile.provider,
    });
    merge(&mut body, tokens.fields());
    Ok(HttpResponse::Ok().json(body))
}

pub(super) fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}
