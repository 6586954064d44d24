//! `X-API-Key` check, also done by the gateway: services never trust that a request came
//! through it. Admin keys (`ADMIN_API_KEYS`) mark the caller as the service role.

use std::future::{ready, Ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest, ResponseError};

use super::server::Core;
use crate::error::{ApiError, ErrorCode};

pub(crate) const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Who is calling, as far as the API key tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The request carried an admin key.
    pub admin: bool,
}

pub(crate) async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let core = req
        .app_data::<web::Data<Core>>()
        .expect("Core is registered by Application");
    let key = req.headers().get(X_API_KEY).map(|v| v.as_bytes());
    let caller = match key {
        Some(key) if core.keys.contains(key) => Caller {
            admin: core.admin_keys.contains(key),
        },
        Some(_) => return Ok(refuse(req, "the API key is not valid")),
        None => return Ok(refuse(req, "the X-API-Key header is required")),
    };
    req.extensions_mut().insert(caller);
    Ok(next.call(req).await?.map_into_left_body())
}

fn refuse<B>(req: ServiceRequest, message: &'static str) -> ServiceResponse<EitherBody<B>> {
    let error = ApiError::new(ErrorCode::InvalidApiKey, message);
    req.into_response(error.error_response())
        .map_into_right_body()
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = req.extensions().get::<Caller>().copied();
        ready(caller.ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidApiKey, "the X-API-Key header is required")
        }))
    }
}
