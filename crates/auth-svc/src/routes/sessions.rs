//! `POST /refresh` and `POST /signout`.

use actix_web::{web, HttpResponse};
use coglex_common::web::{AuthUser, ErrorBody};
use coglex_common::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{string_field, State};
use crate::sessions::Tokens;

/// A refresh (documents the hand-parsed body of `POST /refresh`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RefreshRequest {
    /// The `refresh_token` of the last sign-in or refresh.
    #[schema(min_length = 1)]
    refresh_token: String,
}

/// Refresh a session
///
/// Exchanges a refresh token for a new token pair. Refresh tokens are single use: the old one
/// stops working, and presenting an already rotated one again (a sign it was stolen) ends the
/// whole session. No session token is needed, only the refresh token.
#[utoipa::path(
    post,
    path = "/refresh",
    request_body(content = RefreshRequest, description = "The refresh token to exchange"),
    responses(
        (status = 200, description = "A new token pair for the same session", body = Tokens),
        (status = 400, description = "`refresh_token` is missing or not a string, or the body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "The refresh token is not valid, expired, already used, or its session ended (`invalid_token`); or `X-API-Key` is missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
)]
pub async fn refresh_session(
    state: State,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let refresh_token = string_field(&body, "refresh_token")?;
    let tokens: Tokens = state.sessions.refresh(refresh_token).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// What to sign out of: the optional body of `POST /signout`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct SignOutRequest {
    /// End every session of the user, not only this one.
    #[serde(default)]
    all: bool,
}

/// How many sessions a sign-out ended.
#[derive(Serialize, ToSchema)]
pub(crate) struct SignOutResponse {
    /// Sessions ended: 0 or 1 for this session, every live session with `all`.
    signed_out: u64,
}

/// Sign out
///
/// Ends the caller's session (or every session of the user with `{"all": true}`): its session
/// and refresh tokens stop working at once (other replicas within `SESSION_CACHE_TTL_MS`). The
/// body is optional, but one that is sent must be right: a malformed `all` is refused rather
/// than quietly ending only one session.
#[utoipa::path(
    post,
    path = "/signout",
    security(("bearer" = [])),
    request_body(content = Option<SignOutRequest>, description = "Optional; none (or `null`) ends only this session"),
    responses(
        (status = 200, description = "Signed out", body = SignOutResponse),
        (status = 400, description = "The body is neither empty nor `{\"all\": true|false}`", body = ErrorBody),
        (status = 401, description = "No Bearer session token (`unauthorized`), a token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
    ),
)]
pub async fn sign_out(
    state: State,
    user: AuthUser,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(unreadable_body)?;
    // No body, whitespace or `null`: this session only.
    let request: SignOutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SignOutRequest::default()
    } else {
        serde_json::from_slice::<Option<SignOutRequest>>(&body)
            .map_err(|_| {
                ApiError::bad_request("the body must be empty or `{\"all\": true|false}`")
            })?
            .unwrap_or_default()
    };
    let ended = state.sessions.end(&user, request.all).await?;
    Ok(HttpResponse::Ok().json(SignOutResponse { signed_out: ended }))
}

/// actix answers a body it could not read (over `MAX_JSON_BYTES`, cut short) in plain text;
/// this keeps the API's error shape.
fn unreadable_body(err: actix_web::Error) -> ApiError {
    let status = err.as_response_error().status_code();
    if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body is larger than `MAX_JSON_BYTES`",
        )
    } else {
        ApiError::bad_request("the body could not be read").with_source(anyhow::anyhow!("{err}"))
    }
}
