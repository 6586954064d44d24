//! `POST /signup` and `POST /signin`.

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::password::{self, Verification};
use coglex_common::web::client_ip;
use coglex_common::{query, ApiError};
use mongodb::bson::Document;
use serde_json::Value;

use super::State;
use crate::domain::{check_user_fields, Password, UserKey};
use crate::users::{self, public_view, PASSWORD};

/// `{_key, _password, document}` → 201 with the user.
pub async fn sign_up(state: State, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let key = UserKey::from_json(body.get("_key"))?;
    let password = Password::new_from_json(body.get("_password"))?;
    let fields = match body.get("document") {
        None | Some(Value::Null) => Document::new(),
        Some(document) => check_user_fields(document, &state.settings.auth_protected_fields)?,
    };
    let hash = password::hash_async(password.into_secret()).await?;
    let user = state.users.create(&key, hash, fields).await?;
    Ok(HttpResponse::Created().json(public_view(user)))
}

/// The one answer for every failed sign-in, so it says nothing about which part was wrong.
fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid credentials")
}

/// `{_key, _password, query}` → `{token, token_type, expires_in, refresh_token, user}`.
pub async fn sign_in(
    req: HttpRequest,
    state: State,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = UserKey::from_json(body.get("_key"))?;
    let password = Password::from_json(body.get("_password"))?.into_secret();
    let extra = match body.get("query") {
        None | Some(Value::Null) => Document::new(),
        Some(filter) => query::parse_equality_filter(filter)?,
    };
    let settings = &state.settings;
    state
        .limits
        .hit(
            &format!("signin:client:{}", client_ip(&req)),
            settings.signin_max_per_client,
        )
        .await?;
    let account_bucket = format!("signin:key:{}", key.as_str());
    state
        .limits
        .hit(&account_bucket, settings.signin_max_per_account)
        .await?;

    let user = state.users.find_matching(&key, extra).await?;
    let stored = user
        .as_ref()
        .and_then(|u| u.get_str(PASSWORD).ok())
        .map(str::to_owned);
    // Always one hash verification (a dummy one without a user): equal timing either way.
    let verdict = password::verify_async(password.clone(), stored).await?;
    let (Some(user), Verification::Match { needs_rehash }) = (user, verdict) else {
        return Err(invalid_credentials());
    };
    let user_id = users::user_id(&user)?;
    if needs_rehash {
        let hash = password::hash_async(password).await?;
        state
            .users
            .replace_hash(
                &user.get_object_id("_id").map_err(ApiError::internal)?,
                hash,
            )
            .await?;
    }
    state.limits.clear(&account_bucket).await?;
    let tokens = state.sessions.start(&user_id, key.as_str()).await?;
    Ok(HttpResponse::Ok().json(tokens.body(public_view(user))))
}
