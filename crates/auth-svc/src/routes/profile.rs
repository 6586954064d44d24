//! `GET /{user_key}` and `PATCH /{user_key}`: a user reads and changes only their own profile;
//! anyone else's is 404, exactly like a key that does not exist.

use actix_web::{web, HttpResponse};
use coglex_common::web::AuthUser;
use coglex_common::ApiError;
use serde_json::Value;

use super::State;
use crate::domain::{check_profile_update, UserKey};
use crate::users::public_view;

fn own_key(path: &str, user: &AuthUser) -> Result<UserKey, ApiError> {
    match UserKey::parse(path) {
        Ok(key) if key.as_str() == user.user_key => Ok(key),
        _ => Err(ApiError::not_found("no such user")),
    }
}

pub async fn get_profile(
    state: State,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = own_key(&path, &user)?;
    let found = state
        .users
        .find(key.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok(HttpResponse::Ok().json(public_view(found)))
}

/// `{document: {"$set": {...}, ...}}` → the updated user.
pub async fn update_profile(
    state: State,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = own_key(&path, &user)?;
    let update = body
        .get("document")
        .ok_or_else(|| ApiError::bad_request("`document` is required"))?;
    let update = check_profile_update(update, &state.settings.auth_protected_fields)?;
    let updated = state
        .users
        .update(key.as_str(), update)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok(HttpResponse::Ok().json(public_view(updated)))
}
