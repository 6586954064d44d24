//! Per-request context: the request id (from a well-formed `X-Request-Id`, or a new one), a
//! tracing span around the whole request, the id echoed in the response, and bare error
//! responses (actix's own 404/405/413, which have no body) turned into the JSON error shape.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};
use tracing::Instrument;

use crate::error::ApiError;

pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static(crate::request_id::HEADER);

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// The id of the request being served, or `-` outside of one.
pub fn current_request_id() -> Arc<str> {
    REQUEST_ID
        .try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::from("-"))
}

fn accept_request_id(value: Option<&HeaderValue>) -> Option<Arc<str>> {
    let value = value?;
    // Acceptable ids are ASCII, so `to_str` cannot fail on them.
    crate::request_id::is_acceptable(value.as_bytes())
        .then(|| Arc::from(value.to_str().unwrap_or_default()))
}

fn new_request_id() -> Arc<str> {
    Arc::from(uuid::Uuid::new_v4().simple().to_string())
}

pub(crate) async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, Error> {
    let id = accept_request_id(req.headers().get(X_REQUEST_ID)).unwrap_or_else(new_request_id);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();

    // Inner layers answer errors as responses (never `Err`), so they render inside this scope
    // and carry the request id.
    let mut response = REQUEST_ID
        .scope(id.clone(), async move {
            next.call(req)
                .await
                .map(|r| into_json_if_bare(r.map_into_boxed_body()))
        })
        .instrument(span.clone())
        .await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        );
    });
    Ok(response)
}

fn into_json_if_bare(response: ServiceResponse<BoxBody>) -> ServiceResponse<EitherBody<BoxBody>> {
    let status = response.status();
    let bare = matches!(
        response.response().body().size(),
        actix_web::body::BodySize::Sized(0) | actix_web::body::BodySize::None
    );
    if !(status.is_client_error() || status.is_server_error()) || !bare {
        return response.map_into_left_body();
    }
    let error = ApiError::new(
        super::code_for_status(status),
        status.canonical_reason().unwrap_or("error"),
    );
    let (request, _) = response.into_parts();
    ServiceResponse::new(request, error.error_response()).map_into_right_body()
}
