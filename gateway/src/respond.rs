//! Every failure of the gateway becomes a response here, in the API's JSON error shape.

use bytes::Bytes;
use coglex_common::error::{error_body, ErrorCode};
use http::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

use crate::idle_body::IdleLimited;

/// What the gateway sends back: a service's streamed body, or one the gateway made.
pub type ProxyBody = Either<IdleLimited<Incoming>, Full<Bytes>>;

/// Why the gateway answered instead of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    NotFound,
    MissingApiKey,
    InvalidApiKey,
    Forbidden(&'static str),
    BadFraming(&'static str),
    /// A method the services never take (CONNECT, TRACE, extensions).
    MethodNotAllowed,
    PayloadTooLarge(u64),
    /// The client's body was still arriving when the exchange ran out of time.
    RequestTimeout,
    RateLimited {
        retry_after_secs: u64,
    },
    UpstreamUnreachable,
    UpstreamTimeout,
    UpstreamFailed,
    Unready,
    /// The connection came while `MAX_CONNECTIONS` others were open.
    OverCapacity,
}

impl GatewayError {
    fn code_and_message(self) -> (ErrorCode, String) {
        match self {
            Self::NotFound => (ErrorCode::NotFound, "no route for this path".into()),
            Self::MissingApiKey => (
                ErrorCode::InvalidApiKey,
                "the X-API-Key header is required".into(),
            ),
            Self::InvalidApiKey => (ErrorCode::InvalidApiKey, "the API key is not valid".into()),
            Self::Forbidden(why) => (ErrorCode::Forbidden, why.into()),
            Self::BadFraming(why) => (ErrorCode::BadRequest, why.into()),
            Self::MethodNotAllowed => (
                ErrorCode::MethodNotAllowed,
                "the services take GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS".into(),
            ),
            Self::PayloadTooLarge(limit) => (
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {limit} bytes"),
            ),
            Self::RequestTimeout => (
                ErrorCode::RequestTimeout,
                "the request body took too long to arrive".into(),
            ),
            Self::RateLimited { .. } => (
                ErrorCode::RateLimited,
                "too many requests; retry later".into(),
            ),
            Self::UpstreamUnreachable | Self::UpstreamFailed => {
                (ErrorCode::BadGateway, String::new())
            }
            Self::UpstreamTimeout => (ErrorCode::GatewayTimeout, String::new()),
            Self::Unready => (ErrorCode::ServiceUnavailable, String::new()),
            Self::OverCapacity => (
                ErrorCode::ServiceUnavailable,
                "the gateway has too many open connections; retry later".into(),
            ),
        }
    }

    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.code_and_message().0.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The response for this error; `request_id` goes in the body (the caller sets the header).
    pub fn to_response(self, request_id: &str) -> Response<ProxyBody> {
        let (code, message) = self.code_and_message();
        // A server error without a message of its own says nothing of its cause.
        let message = if message.is_empty() {
            generic_message(code)
        } else {
            &message
        };
        let mut response = json_response(self.status(), error_body(code, message, request_id));
        let retry_after = match self {
            Self::RateLimited { retry_after_secs } => Some(retry_after_secs.max(1)),
            Self::Unready => Some(2),
            Self::OverCapacity => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Self::BadFraming(_) = self {
            // Whatever follows on the connection was framed by a message we refused.
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        if self == Self::MethodNotAllowed {
            response.headers_mut().insert(ALLOW, FORWARDED_METHODS);
        }
        response
    }
}

/// The methods the gateway forwards (an allow-list: CONNECT would turn the service connection
/// into a tunnel, TRACE would echo the client's headers back).
const FORWARDED_METHODS: HeaderValue =
    HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");

fn generic_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadGateway => "an upstream service failed",
        ErrorCode::GatewayTimeout => "an upstream service timed out",
        ErrorCode::ServiceUnavailable => "a dependency is unavailable; retry later",
        _ => "internal error",
    }
}

/// A JSON response the gateway made itself.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
