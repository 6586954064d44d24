//! `GET /{user_key}` and `PATCH /{user_key}`: a user reads and changes only their own profile;
//! anyone else's is 404, exactly like a key that does not exist.

use actix_web::{web, HttpResponse};
use coglex_common::web::{AuthUser, ErrorBody};
use coglex_common::ApiError;
use serde_json::Value;
use utoipa::ToSchema;

use super::{State, UserProfile};
use crate::domain::{check_profile_update, UserKey};
use crate::users::public_view;

fn check_own_key(path: &str, user: &AuthUser) -> Result<(), ApiError> {
    match UserKey::parse(path) {
        Ok(key) if key.as_str() == user.user_key => Ok(()),
        _ => Err(ApiError::not_found("no such user")),
    }
}

/// Read your profile
///
/// Answers the signed-in user's own profile. Any other key, existing or not, is 404: a user
/// can neither read nor detect anyone else's account.
#[utoipa::path(
    get,
    path = "/{user_key}",
    security(("bearer" = [])),
    params(("user_key" = String, Path, format = Email, description = "The signed-in user's email address (`_key`)")),
    responses(
        (status = 200, description = "The user", body = UserProfile),
        (status = 401, description = "No Bearer session token (`unauthorized`), a token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 404, description = "Not the signed-in user's key, or no such user", body = ErrorBody),
    ),
)]
pub async fn get_profile(
    state: State,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_own_key(&path, &user)?;
    let found = state
        .users
        .find_own(&user)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok(HttpResponse::Ok().json(public_view(found)))
}

/// A profile change (documents the hand-parsed body of `PATCH /{user_key}`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ProfileUpdateRequest {
    /// Update operators, such as `{"$set": {"name": "Ada"}, "$inc": {"logins": 1}}`: only
    /// operators from the allow-list (`$set`, `$unset`, `$inc`, `$push`, ...), never a
    /// replacement document, never `_`-prefixed or protected (`AUTH_PROTECTED_FIELDS`) fields.
    #[schema(value_type = Object)]
    document: Value,
}

/// Update your profile
///
/// Applies update operators to the signed-in user's own profile fields and answers the
/// updated user. The key, password and other server-side fields cannot be changed this way,
/// nor the protected authorization fields. Any other key is 404.
#[utoipa::path(
    patch,
    path = "/{user_key}",
    security(("bearer" = [])),
    params(("user_key" = String, Path, format = Email, description = "The signed-in user's email address (`_key`)")),
    request_body(content = ProfileUpdateRequest, description = "The update to apply"),
    responses(
        (status = 200, description = "The updated user", body = UserProfile),
        (status = 400, description = "`document` is missing, not an update, uses a refused operator or field, or the database refused it (for example `$inc` on text); or the body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "No Bearer session token (`unauthorized`), a token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 404, description = "Not the signed-in user's key, or no such user", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
)]
pub async fn update_profile(
    state: State,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    check_own_key(&path, &user)?;
    let update = body
        .get("document")
        .ok_or_else(|| ApiError::bad_request("`document` is required"))?;
    let update = check_profile_update(update, &state.settings.auth_protected_fields)?;
    let updated = state
        .users
        .update_own(&user, update)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok(HttpResponse::Ok().json(public_view(updated)))
}
