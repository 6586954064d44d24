//! `POST /signup` and `POST /signin`.

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::password::{self, Verification};
use coglex_common::web::ErrorBody;
use coglex_common::web::{client_network, Caller};
use coglex_common::{query, ApiError};
use mongodb::bson::Document;
use serde_json::Value;
use utoipa::ToSchema;

use super::{SignInResponse, State, UserProfile};
use crate::domain::{check_user_fields, Password, UserKey};
use crate::limits::{AccountAttempt, AccountCaps};
use crate::users::{self, public_view, PASSWORD};

/// A sign-up (documents the hand-parsed body of `POST /signup`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct SignUpRequest {
    /// The user's email address; it is trimmed and lower-cased, and is the user's key.
    #[schema(rename = "_key", format = Email, max_length = 254)]
    key: String,
    /// At least 8 characters and at most 1024 bytes; stored as an argon2id hash.
    #[schema(rename = "_password", min_length = 8, max_length = 1024)]
    password: String,
    /// The user's own fields. Names starting with `_`, names holding `.` or starting with `$`
    /// (at any depth), and the deployment's protected fields (`AUTH_PROTECTED_FIELDS`, such as
    /// `role`) are refused.
    #[schema(value_type = Option<Object>)]
    document: Option<Value>,
}

/// Sign up
///
/// Creates a user with an email address (`_key`) and a password, and optionally the user's
/// own profile fields (`document`). It does not sign in: call `POST /signin` next.
/// An address that is already taken is 409; addresses differing only in case are the same
/// user. Protected fields (`AUTH_PROTECTED_FIELDS`, such as `role`) can only be set with an
/// admin key.
#[utoipa::path(
    post,
    path = "/signup",
    request_body(content = SignUpRequest, description = "The new user's key, password and fields"),
    responses(
        (status = 201, description = "The user was created", body = UserProfile),
        (status = 400, description = "A field is missing or invalid: `_key` not an email address, `_password` too short or too long, a reserved or protected field in `document`, or a body that is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "`X-API-Key` is missing or not valid", body = ErrorBody),
        (status = 409, description = "A user with this `_key` already exists", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this client address (`SIGNUP_MAX_PER_CLIENT` per `AUTH_LIMIT_WINDOW_SECS`); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "Every password-hashing slot stayed busy for 5 s, or the database is unreachable; retry after `Retry-After` seconds", body = ErrorBody),
    ),
)]
pub async fn sign_up(
    req: HttpRequest,
    state: State,
    caller: Caller,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = UserKey::from_json(body.get("_key"))?;
    let password = Password::new_from_json(body.get("_password"))?;
    // Each sign-up costs a password hash; one client address may not spend them without
    // bound. The service role (an admin key, a trusted backend) is not limited.
    if !caller.admin {
        state
            .limits
            .hit_client("signup", &req, state.settings.signup_max_per_client)
            .await?;
    }
    // An admin key (the service role) may create users with protected fields such as `role`.
    let protected: &[String] = if caller.admin {
        &[]
    } else {
        &state.settings.auth_protected_fields
    };
    let fields = match body.get("document") {
        None | Some(Value::Null) => Document::new(),
        Some(document) => check_user_fields(document, protected)?,
    };
    let hash = password::hash_async(password.into_secret()).await?;
    let user = state.users.create(&key, hash, fields).await?;
    Ok(HttpResponse::Created().json(public_view(user)))
}

/// The one answer for every failed sign-in, so it says nothing about which part was wrong.
fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid credentials")
}

/// A sign-in (documents the hand-parsed body of `POST /signin`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct SignInRequest {
    /// The user's email address (any case).
    #[schema(rename = "_key", format = Email, max_length = 254)]
    key: String,
    /// At most 1024 bytes.
    #[schema(rename = "_password", max_length = 1024)]
    password: String,
    /// Extra plain equalities the user must also match, such as `{"active": true}`: no
    /// operators and no `_`-prefixed fields. A user who does not match signs in like a wrong
    /// password.
    #[schema(value_type = Option<Object>)]
    query: Option<Value>,
}

/// Sign in
///
/// Checks the email address and password and starts a session: a short-lived session token
/// (`token`, for `Authorization: Bearer`) and a single-use `refresh_token`. Every failed
/// sign-in answers the same 401 whatever was wrong. Attempts are limited per client address,
/// per account from one client address, and per account (`SIGNIN_MAX_PER_CLIENT`,
/// `SIGNIN_MAX_PER_ACCOUNT_CLIENT`, `SIGNIN_MAX_PER_ACCOUNT` per `AUTH_LIMIT_WINDOW_SECS`):
/// past a limit, 429 with `Retry-After`.
#[utoipa::path(
    post,
    path = "/signin",
    request_body(content = SignInRequest, description = "The user's credentials"),
    responses(
        (status = 200, description = "Signed in: the session's tokens and the user", body = SignInResponse),
        (status = 400, description = "A field is missing or of the wrong type, `_key` is not an email address, `query` holds an operator, or the body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "Invalid credentials (`unauthorized`), or `X-API-Key` is missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 429, description = "Too many sign-in attempts; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "Every password-hashing slot stayed busy for 5 s, or the database is unreachable; retry after `Retry-After` seconds", body = ErrorBody),
    ),
)]
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
        .hit_client("signin", &req, settings.signin_max_per_client)
        .await?;
    let attempt = AccountAttempt::new("signin", key.as_str(), client_network(&req));
    state
        .limits
        .hit_account(
            &attempt,
            AccountCaps {
                per_client: settings.signin_max_per_account_client,
                per_account: settings.signin_max_per_account,
            },
        )
        .await?;

    let user = state.users.find_matching(&key, extra).await?;
    let stored = user
        .as_ref()
        .and_then(|u| u.get_str(PASSWORD).ok())
        .map(str::to_owned);
    // Always one hash verification (a dummy one without a user): equal timing either way.
    let verdict = password::verify_async(password.clone(), stored.clone()).await?;
    let (Some(user), Some(mut hash), Verification::Match { needs_rehash }) =
        (user, stored, verdict)
    else {
        return Err(invalid_credentials());
    };
    let user_id = users::user_id(&user)?;
    let id = user.get_object_id("_id").map_err(ApiError::internal)?;
    if needs_rehash {
        let upgraded = password::hash_async(password.clone()).await?;
        if state
            .users
            .replace_hash(&id, &hash, upgraded.clone())
            .await?
        {
            hash = upgraded;
        } else {
            // Changed meanwhile: by a sign-in upgrading it too (then the password still
            // matches), or by the owner removing it.
            let Some(current) = state.users.current_hash(&id).await? else {
                return Err(invalid_credentials());
            };
            match password::verify_async(password, Some(current.clone())).await? {
                Verification::Match { .. } => hash = current,
                Verification::Mismatch => return Err(invalid_credentials()),
            }
        }
    }
    state.limits.clear_account(&attempt).await?;
    let tokens = state.sessions.start(&user_id, key.as_str()).await?;
    // The address's owner may have removed this password while it was being checked (a
    // sign-up they did not make): then this session must not live.
    if !state.users.still_has_hash(&id, &hash).await? {
        state.sessions.end_session(tokens.session_id()).await?;
        return Err(invalid_credentials());
    }
    Ok(HttpResponse::Ok().json(SignInResponse::new(tokens, public_view(user))))
}
