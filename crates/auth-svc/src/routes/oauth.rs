//! `POST /oauth` (start) and `POST /ocall` (finish) of an OAuth sign-in.

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::web::{AuthUser, Caller, ErrorBody, MaybeAuthUser};
use coglex_common::{ApiError, ErrorCode};
use mongodb::bson::oid::ObjectId;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{string_field, State};
use crate::domain::UserKey;
use crate::oauth::Provider;
use crate::sessions::Tokens;
use crate::users::{self, Reach};

/// An OAuth provider this service can sign in with (if configured).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // Documents `Provider::parse`.
pub(crate) enum OAuthProvider {
    Google,
    Facebook,
}

/// The start of an OAuth sign-in (documents the hand-parsed body of `POST /oauth`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct OAuthStartRequest {
    provider: OAuthProvider,
    /// Where the provider sends the browser back; must be one of `OAUTH_REDIRECT_ALLOWLIST`.
    #[schema(min_length = 1)]
    redirect: String,
}

/// Where to send the browser, the `state` to expect back, and the `verifier` to keep.
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthStartResponse {
    /// The provider's authorization URL, with client id, redirect, scope, `state` and (Google)
    /// a PKCE challenge.
    authorization_url: String,
    /// A signed, single-use value bound to the provider and redirect, valid for ten minutes.
    state: String,
    /// A secret of the client that started the sign-in: keep it (e.g. in session storage),
    /// never put it in a URL, and send it to `POST /ocall`. The callback URL alone signs no
    /// one in.
    verifier: String,
}

/// Start an OAuth sign-in
///
/// Starts the authorization code flow with Google (with PKCE) or Facebook: answers the URL to
/// send the browser to and the `state` the provider will hand back with the code. Refused when
/// the provider is not configured on this deployment or the redirect is not allowed.
#[utoipa::path(
    post,
    path = "/oauth",
    request_body(content = OAuthStartRequest, description = "The provider and the redirect URI"),
    responses(
        (status = 200, description = "The authorization URL and state", body = OAuthStartResponse),
        (status = 400, description = "Unknown or unconfigured `provider`, a `redirect` that is missing or not allowed, or a body that is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "`X-API-Key` is missing or not valid", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 429, description = "Too many sign-ins started from this client address (`OAUTH_MAX_PER_CLIENT` per `AUTH_LIMIT_WINDOW_SECS`); retry after `Retry-After` seconds", body = ErrorBody),
    ),
)]
pub async fn start_oauth(
    req: HttpRequest,
    state: State,
    caller: Caller,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    // Each start stores a state record for ten minutes: one client may not store them
    // without bound.
    if !caller.admin {
        let max = state.settings.oauth_max_per_client;
        state.limits.hit_client("oauth", &req, max).await?;
    }
    let provider = Provider::parse(body.get("provider").unwrap_or(&Value::Null))?;
    let redirect = string_field(&body, "redirect")?;
    let started = state.oauth.authorize(provider, redirect).await?;
    Ok(HttpResponse::Ok().json(OAuthStartResponse {
        authorization_url: started.url,
        state: started.state,
        verifier: started.verifier,
    }))
}

/// The end of an OAuth sign-in (documents the hand-parsed body of `POST /ocall`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct OAuthFinishRequest {
    provider: OAuthProvider,
    /// The same redirect URI as at the start.
    #[schema(min_length = 1)]
    redirect: String,
    /// The `state` from `POST /oauth`, as the provider handed it back.
    #[schema(min_length = 1)]
    state: String,
    /// The `verifier` `POST /oauth` answered to the client that started the sign-in.
    #[schema(min_length = 1)]
    verifier: String,
    /// The authorization code the provider handed back.
    #[schema(min_length = 1)]
    code: String,
}

/// Who signed in through the provider, and their new session.
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthSignIn {
    /// The name the provider gave (empty if none).
    name: String,
    /// The user's `_key`: the provider's email address, lower-cased.
    email: String,
    /// The user's id at the provider.
    identifier: String,
    /// `google` or `facebook`.
    provider: &'static str,
    #[serde(flatten)]
    tokens: Tokens,
}

/// Finish an OAuth sign-in
///
/// Checks `state` and the starting client's `verifier`, exchanges the code with the provider,
/// reads the user's email address and signs that user in, creating them on first use and
/// linking the provider identity. A `state` works once and for ten minutes; a wrong
/// `verifier` does not use it up.
///
/// Google vouches for the address, so its sign-in reaches the address's account. Facebook
/// does not say whether it verified the address: unless `FACEBOOK_EMAIL_VERIFIED` is set, its
/// sign-in reaches only the account already linked to that Facebook identity, or makes a new
/// one that a later proof of the address (a mailed code) takes over. An account the address
/// already has is linked only when the request carries that account's session token
/// (`Authorization: Bearer`); otherwise it is 409.
#[utoipa::path(
    post,
    path = "/ocall",
    security(("bearer" = []), ()),
    request_body(content = OAuthFinishRequest, description = "What the provider handed back"),
    responses(
        (status = 200, description = "Signed in: the provider's profile and the session's tokens", body = OAuthSignIn),
        (status = 400, description = "A missing field, an unknown or unconfigured provider, a `state` that is not valid, expired, already used, issued for another provider or redirect, or started with another `verifier`, a code the provider refused, no email address, or one Google did not verify", body = ErrorBody),
        (status = 401, description = "`X-API-Key` is missing or not valid, or, with a provider that does not vouch for addresses, a Bearer token was sent that is not valid or whose session ended (the `state` is not used up: retry with a fresh token)", body = ErrorBody),
        (status = 409, description = "The address has an account that this identity of a provider that does not vouch for addresses is not linked to (or no longer is: its owner proved the address meanwhile); finish the sign-in with that account's session token to link it", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 502, description = "The provider could not be reached or answered something unexpected", body = ErrorBody),
        (status = 503, description = "The database is unreachable, or the unique `_key` index is not built yet; retry after `Retry-After` seconds", body = ErrorBody),
    ),
)]
pub async fn finish_oauth(
    state: State,
    signed_in: Result<MaybeAuthUser, ApiError>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let provider = Provider::parse(body.get("provider").unwrap_or(&Value::Null))?;
    let vouched = state.oauth.vouches(provider);
    // Only linking uses a session. A stale token sent along stops no sign-in a provider
    // vouches for; otherwise it is refused before the state is used, so that the client can
    // retry with a fresh one.
    let linking = match signed_in {
        Ok(MaybeAuthUser(Some(user))) if !vouched => Some(linking_reach(&state, user).await?),
        Ok(_) => None,
        Err(error) if vouched && error.code() == ErrorCode::InvalidToken => None,
        Err(error) => return Err(error),
    };
    let redirect = string_field(&body, "redirect")?;
    let oauth_state = string_field(&body, "state")?;
    let verifier = string_field(&body, "verifier")?;
    let code = string_field(&body, "code")?;
    let profile = state
        .oauth
        .callback(provider, redirect, oauth_state, verifier, code)
        .await?;
    let key = UserKey::parse(&profile.email).map_err(|_| {
        ApiError::bad_request("the provider's email address cannot be used as a key")
    })?;
    let reach = match linking {
        _ if vouched => {
            // What anyone else set on an unproven account for the address goes first, the
            // new link after.
            super::confirm_owner(&state, &key, false).await?;
            Reach::Vouched
        }
        Some((user_key, reach)) if user_key == key.as_str() => reach,
        _ => Reach::Linked,
    };
    let identity = (profile.provider, profile.identifier.as_str());
    let user = state
        .users
        .upsert_linked(&key, identity, &profile.name, reach)
        .await?;
    let id = user.get_object_id("_id").map_err(ApiError::internal)?;
    let tokens = state.sessions.start(&id.to_hex(), key.as_str()).await?;
    // A claim of the address since the link was matched removed it and ended the account's
    // sessions: one started after that must not live.
    if !vouched && !state.users.still_linked(&id, identity).await? {
        state.sessions.end_session(tokens.session_id()).await?;
        return Err(users::not_linked(profile.provider));
    }
    Ok(HttpResponse::Ok().json(OAuthSignIn {
        name: profile.name,
        email: key.as_str().to_owned(),
        identifier: profile.identifier,
        provider: profile.provider,
        tokens,
    }))
}

/// The account a sign-in sent with `user`'s session may link to, by its `_key`. The account
/// is read before the session is checked in the database (not the cache): a claim of the
/// address ends its sessions before it proves the account, so the link, written only while
/// the account is as read, cannot land after a claim.
async fn linking_reach(state: &State, user: AuthUser) -> Result<(String, Reach), ApiError> {
    let id = ObjectId::parse_str(&user.user_id).map_err(ApiError::internal)?;
    let unproven = state.users.is_unproven(&id).await?;
    if !state.sessions.is_live(&user).await? {
        return Err(ApiError::new(
            ErrorCode::InvalidToken,
            "the session has ended; sign in again to link",
        ));
    }
    Ok((user.user_key, Reach::Linking { id, unproven }))
}
