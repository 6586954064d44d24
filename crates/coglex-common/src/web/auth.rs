//! The signed-in user: a Bearer session token (RFC 6750) whose signature, purpose and expiry
//! verify and whose session is still live in the sessions collection.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};

use super::server::Core;
use crate::error::{ApiError, ErrorCode};
use crate::session::SessionClaims;
use crate::token::Purpose;

/// A request made by a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The user document's `_id` (hex ObjectId).
    pub user_id: String,
    /// The user's `_key` (normalised email).
    pub user_key: String,
    pub session_id: String,
}

/// A user when a Bearer token is sent, `None` when none is; a bad token is still refused.
#[derive(Debug, Clone)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| invalid("the Authorization header is malformed"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(invalid("the Authorization header must be `Bearer <token>`")),
    }
}

fn invalid(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::InvalidToken, message)
}

async fn authenticate(core: web::Data<Core>, token: String) -> Result<AuthUser, ApiError> {
    let claims = core
        .tokens
        .verify::<SessionClaims>(&token, Purpose::Session)?;
    if !core
        .sessions
        .is_active(&claims.extra.sid, &claims.sub)
        .await?
    {
        return Err(invalid("the session has ended; sign in again"));
    }
    Ok(AuthUser {
        user_id: claims.sub,
        user_key: claims.extra.key,
        session_id: claims.extra.sid,
    })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let core = req.app_data::<web::Data<Core>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let core =
                core.ok_or_else(|| ApiError::internal(anyhow::anyhow!("Core is not registered")))?;
            match token? {
                Some(token) => authenticate(core, token).await,
                None => Err(ApiError::unauthorized("a Bearer session token is required")),
            }
        })
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let core = req.app_data::<web::Data<Core>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let core =
                core.ok_or_else(|| ApiError::internal(anyhow::anyhow!("Core is not registered")))?;
            match token? {
                Some(token) => Ok(Self(Some(authenticate(core, token).await?))),
                None => Ok(Self(None)),
            }
        })
    }
}
