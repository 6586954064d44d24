//! The actix-web glue every service mounts the same way (feature `actix`).
//!
//! [`server::Application`] assembles a service: request context (id, span, JSON for bare
//! errors) outermost, then extractor error mapping, health probes, and the service's routes
//! behind the API key check. Services only provide their routes and state.

mod api_key;
mod auth;
mod background;
mod context;
mod extract;
mod health;
mod routes;
mod server;
mod stream;

pub use crate::process::launch;
pub use api_key::Caller;
pub use auth::{AuthUser, MaybeAuthUser};
pub use background::{Background, Tracked};
pub use context::current_request_id;
pub use routes::{ErrorBody, Routes, API_KEY_SCHEME, BEARER_SCHEME};
pub use server::{Application, Core, ServiceDef};
pub use stream::json_array;

use actix_web::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::{ApiError, ErrorCode};

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        self.log(&request_id);
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        if let Some(secs) = self.retry_after_secs() {
            response.insert_header((RETRY_AFTER, secs));
        }
        response.body(self.to_body(&request_id))
    }
}

/// The client for per-client limits: [`client_ip`] as a [`crate::client::network_of`].
pub fn client_network(req: &actix_web::HttpRequest) -> std::net::IpAddr {
    crate::client::network_of(client_ip(req))
}

/// The client's address: `X-Real-IP` as the gateway set it (it overwrites any client value),
/// else the connection's peer. Services are reachable only through the gateway (the network
/// policies in `k8s/` enforce it), so the header can be believed.
pub fn client_ip(req: &actix_web::HttpRequest) -> std::net::IpAddr {
    req.headers()
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// The error code a bare status (from actix itself, with no body) stands for.
fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        429 => ErrorCode::RateLimited,
        400..=499 => ErrorCode::BadRequest,
        503 => ErrorCode::ServiceUnavailable,
        _ => ErrorCode::Internal,
    }
}
