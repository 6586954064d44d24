//! `POST /passgen` (email a one-time code) and `POST /passver` (check it).

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::token::Purpose;
use coglex_common::web::{client_network, current_request_id, ErrorBody, MaybeAuthUser};
use coglex_common::{ApiError, ErrorCode};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{string_field, State, UserProfile};
use crate::domain::UserKey;
use crate::limits::{AccountAttempt, AccountCaps};
use crate::otp::{Check, OtpClaims};
use crate::users::{self, public_view};

/// Longest code accepted for checking.
const MAX_CODE_LEN: usize = 16;

/// A request for a one-time code (documents the hand-parsed body of `POST /passgen`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct SendCodeRequest {
    /// The email address to send the code to.
    #[schema(rename = "_key", format = Email, max_length = 254)]
    key: String,
}

/// A code was issued (and mailed, if the address belongs to a user).
#[derive(Serialize, ToSchema)]
pub(crate) struct CodeIssued {
    /// Names the issued code (never contains it); send it back to `POST /passver` as `token`.
    otp_token: String,
    /// Seconds the code stays valid (`VERIFICATION_EXPIRY`).
    expires_in: u64,
}

/// Email a one-time code
///
/// Issues a one-time code for an email address and mails it if the address belongs to a user.
/// The answer is the same for known and unknown addresses, so it tells nothing about who has
/// an account. Requests are limited per client address, per address from one client address,
/// and per address (`PASSGEN_MAX_PER_CLIENT`, `PASSGEN_MAX_PER_ACCOUNT_CLIENT`,
/// `PASSGEN_MAX_PER_ACCOUNT`): past a limit, 429 with `Retry-After`.
#[utoipa::path(
    post,
    path = "/passgen",
    request_body(content = SendCodeRequest, description = "The address to send a code to"),
    responses(
        (status = 200, description = "A code was issued", body = CodeIssued),
        (status = 400, description = "`_key` is missing or not an email address, or the body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "`X-API-Key` is missing or not valid", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 429, description = "Too many codes requested; retry after `Retry-After` seconds", body = ErrorBody),
    ),
)]
pub async fn send_code(
    req: HttpRequest,
    state: State,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = UserKey::from_json(body.get("_key"))?;
    let settings = &state.settings;
    state
        .limits
        .hit_client("passgen", &req, settings.passgen_max_per_client)
        .await?;
    state
        .limits
        .hit_account(
            &AccountAttempt::new("passgen", key.as_str(), client_network(&req)),
            AccountCaps {
                per_client: settings.passgen_max_per_account_client,
                per_account: settings.passgen_max_per_account,
            },
        )
        .await?;

    // A code is stored whether or not the user exists, so both paths do the same work.
    let (oid, code) = state.otps.issue(&key).await?;
    if state.users.find(key.as_str()).await?.is_some() {
        let (mailer, lifetime, to) = (state.mailer.clone(), state.otps.lifetime(), key.clone());
        // Sent after answering: the response time does not depend on the mail server.
        // In the background, which outlives this worker: the client already holds the token.
        state.background.spawn(async move {
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
    Ok(HttpResponse::Ok().json(CodeIssued {
        otp_token: token.token,
        expires_in: state.otps.lifetime().as_secs(),
    }))
}

/// A code to check (documents the hand-parsed body of `POST /passver`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct VerifyCodeRequest {
    /// The email address the code was sent to.
    #[schema(rename = "_key", format = Email, max_length = 254)]
    key: String,
    /// The code from the mail (at most 16 characters).
    #[schema(rename = "_password", min_length = 1, max_length = 16)]
    code: String,
    /// The `otp_token` from `POST /passgen`.
    #[schema(min_length = 1)]
    token: String,
}

/// A verified code; for an address that belongs to a user, also a new session.
#[derive(Serialize, ToSchema)]
pub(crate) struct CodeVerified {
    /// Always `true` here (a refused code is a 400 or 429 with `valid: false`).
    valid: bool,
    message: &'static str,
    /// Present (with `token_type`, `expires_in` and `refresh_token`) when the address belongs
    /// to a user.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// The signed-in user, when the address belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<UserProfile>)]
    user: Option<Value>,
}

/// Check a one-time code
///
/// Checks a code against the `otp_token` it was issued with. A valid code is consumed (single
/// use); each wrong code costs one of `OTP_MAX_ATTEMPTS` tries, after which the code is dead
/// (429). When the address belongs to a user, a valid code also signs them in, and proves the
/// address: an account `/signup` or a Facebook sign-in made that nobody proved yet loses its
/// password, provider links and every session, unless the request carries a session token of
/// that account (which keeps them).
/// Refusals carry the original API's `{"valid": false, "message"}` beside the usual error
/// fields.
#[utoipa::path(
    post,
    path = "/passver",
    request_body(content = VerifyCodeRequest, description = "The address, the code and its `otp_token`"),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "The code is valid", body = CodeVerified),
        (status = 400, description = "A missing field, or a code that is wrong, expired, already used or issued for another address (then also `valid: false` and `message`)", body = ErrorBody),
        (status = 401, description = "`X-API-Key` is missing or not valid, or a Bearer token was sent that is not valid", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 429, description = "Too many wrong tries of this code (ask for a new one), or too many codes tried for this address in the window (`PASSVER_MAX_PER_ACCOUNT_CLIENT` from one client address, `PASSVER_MAX_PER_ACCOUNT` from all); `Retry-After` says when (also `valid: false`)", body = ErrorBody),
    ),
)]
pub async fn verify_code(
    req: HttpRequest,
    state: State,
    signed_in: MaybeAuthUser,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = UserKey::from_json(body.get("_key"))?;
    let code = string_field(&body, "_password")?;
    let token = string_field(&body, "token")?;
    if code.len() > MAX_CODE_LEN {
        return Ok(refusal("the code is not valid"));
    }
    let claims = match state.tokens.verify::<OtpClaims>(token, Purpose::Otp) {
        Ok(claims) if claims.sub == key.as_str() => claims,
        _ => return Ok(refusal("the code is not valid or has expired")),
    };
    // Each code dies after a few wrong tries, and new codes are limited per window; this
    // bounds the guesses over all of an account's codes too.
    let attempt = AccountAttempt::new("passver", key.as_str(), client_network(&req));
    let caps = AccountCaps {
        per_client: state.settings.passver_max_per_account_client,
        per_account: state.settings.passver_max_per_account,
    };
    if let Err(limited) = state.limits.hit_account(&attempt, caps).await {
        return match limited.retry_after_secs() {
            Some(secs) if limited.code() == ErrorCode::RateLimited => Ok(too_many(
                "too many codes tried for this address; retry later",
                secs,
            )),
            _ => Err(limited),
        };
    }
    match state.otps.check(&claims.extra.oid, &key, code).await? {
        Check::Valid => {}
        Check::Wrong => return Ok(refusal("the code is not valid")),
        Check::Unusable => return Ok(refusal("the code is not valid or has expired")),
        Check::Exhausted => return Ok(too_many("too many wrong codes; ask for a new one", 60)),
    }
    // Each step after the code is consumed can be retried (a claim cut off is finished by the
    // next proof), so the code is given back for that retry when one fails.
    match proven(&state, &key, signed_in, &attempt).await {
        Ok(body) => Ok(HttpResponse::Ok().json(body)),
        Err(error) => {
            state.otps.restore(&claims.extra.oid).await;
            Err(error)
        }
    }
}

/// What a valid code gives: the answer, and for an account, its proof and a session.
async fn proven(
    state: &State,
    key: &UserKey,
    signed_in: MaybeAuthUser,
    attempt: &AccountAttempt,
) -> Result<CodeVerified, ApiError> {
    state.limits.clear_account(attempt).await?;
    let mut body = CodeVerified {
        valid: true,
        message: "OTP verified successfully",
        token: None,
        token_type: None,
        expires_in: None,
        refresh_token: None,
        user: None,
    };
    if let Some(user) = state.users.find(key.as_str()).await? {
        let user_id = users::user_id(&user)?;
        // A mailed code proves the address. Signed in to this account, the prover also
        // knows its password, which then stays.
        let own_session = signed_in.0.is_some_and(|caller| caller.user_id == user_id);
        super::confirm_owner(state, key, own_session).await?;
        let tokens = state.sessions.start(&user_id, key.as_str()).await?;
        body.token = Some(tokens.access().to_owned());
        body.token_type = Some(tokens.token_type().to_owned());
        body.expires_in = Some(tokens.expires_in());
        body.refresh_token = Some(tokens.refresh().to_owned());
        body.user = Some(public_view(user));
    }
    Ok(body)
}

/// The original's `{"valid": false, "message"}`, inside the API's error shape: 400.
fn refusal(message: &str) -> HttpResponse {
    valid_false(HttpResponse::BadRequest(), ErrorCode::BadRequest, message)
}

/// [`refusal`] as 429, retried after `retry_after_secs`.
fn too_many(message: &str, retry_after_secs: u64) -> HttpResponse {
    let mut response = HttpResponse::TooManyRequests();
    response.insert_header(("Retry-After", retry_after_secs));
    valid_false(response, ErrorCode::RateLimited, message)
}

fn valid_false(
    mut response: actix_web::HttpResponseBuilder,
    code: ErrorCode,
    message: &str,
) -> HttpResponse {
    response.json(json!({
        "valid": false,
        "message": message,
        "error": { "code": code.as_str(), "message": message },
        "request_id": &*current_request_id(),
    }))
}
