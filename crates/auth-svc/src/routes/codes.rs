//! `POST /passgen` (email a one-time code) and `POST /passver` (check it).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::token::Purpose;
use coglex_common::web::{client_ip, current_request_id};
use coglex_common::{ApiError, ErrorCode};
use serde_json::{json, Value};

use super::oauth::merge;
use super::{string_field, State};
use crate::domain::UserKey;
use crate::otp::{Check, OtpClaims};
use crate::users::{self, public_view};

/// Longest code accepted for checking.
const MAX_CODE_LEN: usize = 16;

/// `{_key}` → `{otp_token, expires_in}`, the same for known and unknown keys; mail only to
/// known ones.
pub async fn send_code(
    req: HttpRequest,
    state: State,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = UserKey::from_json(body.get("_key"))?;
    let settings = &state.settings;
    state
        .limits
        .hit(
            &format!("passgen:client:{}", client_ip(&req)),
            settings.passgen_max_per_client,
        )
        .await?;
    state
        .limits
        .hit(
            &format!("passgen:key:{}", key.as_str()),
            settings.passgen_max_per_account,
        )
        .await?;

    // A code is stored whether or not the user exists, so both paths do the same work.
    let (oid, code) = state.otps.issue(&key).await?;
    if state.users.find(key.as_str()).await?.is_some() {
        let (mailer, lifetime, to) = (state.mailer.clone(), state.otps.lifetime(), key.clone());
        // Sent after answering: the response time does not depend on the mail server.
        actix_web::rt::spawn(async move {
            if let Err(error) = mailer.send_code(&to, &code, lifetime).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "could not send a one-time code"
                );
            }
        });
    }
    let token = state.tokens.issue(
        Purpose::Otp,
        key.as_str(),
        state.otps.lifetime(),
        OtpClaims { oid },
    )?;
    Ok(HttpResponse::Ok()
        .json(json!({ "otp_token": token.token, "expires_in": state.otps.lifetime().as_secs() })))
}

/// `{_key, _password: code, token}` → `{valid: true, message}` plus a session for a known user.
pub async fn verify_code(state: State, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let key = UserKey::from_json(body.get("_key"))?;
    let code = string_field(&body, "_password")?;
    let token = string_field(&body, "token")?;
    if code.len() > MAX_CODE_LEN {
        return Ok(refusal(StatusCode::BAD_REQUEST, "the code is not valid"));
    }
    let claims = match state.tokens.verify::<OtpClaims>(token, Purpose::Otp) {
        Ok(claims) if claims.sub == key.as_str() => claims,
        _ => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                "the code is not valid or has expired",
            ))
        }
    };
    match state.otps.check(&claims.extra.oid, &key, code).await? {
        Check::Valid => {}
        Check::Wrong => return Ok(refusal(StatusCode::BAD_REQUEST, "the code is not valid")),
        Check::Unusable => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                "the code is not valid or has expired",
            ))
        }
        Check::Exhausted => {
            return Ok(refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "too many wrong codes; ask for a new one",
            ))
        }
    }
    let mut body = json!({ "valid": true, "message": "OTP verified successfully" });
    if let Some(user) = state.users.find(key.as_str()).await? {
        let tokens = state
            .sessions
            .start(&users::user_id(&user)?, key.as_str())
            .await?;
        merge(&mut body, tokens.fields());
        merge(&mut body, json!({ "user": public_view(user) }));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The original's `{"valid": false, "message"}`, inside the API's error shape.
fn refusal(status: StatusCode, message: &str) -> HttpResponse {
    let code = if status == StatusCode::TOO_MANY_REQUESTS {
        ErrorCode::RateLimited
    } else {
        ErrorCode::BadRequest
    };
    let mut response = HttpResponse::build(status);
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.insert_header(("Retry-After", Duration::from_secs(60).as_secs()));
    }
    response.json(json!({
        "valid": false,
        "message": message,
        "error": { "code": code.as_str(), "message": message },
        "request_id": &*current_request_id(),
    }))
}
