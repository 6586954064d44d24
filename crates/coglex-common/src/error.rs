//! The one error vocabulary of the API.
//!
//! Every failure a client sees is `{"error": {"code", "message"}, "request_id"}` with the status
//! of its [`ErrorCode`]. 5xx responses carry a generic message; the cause goes to the log only,
//! so driver text, paths and secrets never reach a client.

use std::borrow::Cow;

use serde::Serialize;

/// Every error code the API can answer with: its HTTP status and snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    Unauthorized,
    InvalidApiKey,
    InvalidToken,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    RateLimited,
    Internal,
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 18] = [
        Self::BadRequest,
        Self::InvalidJson,
        Self::Unauthorized,
        Self::InvalidApiKey,
        Self::InvalidToken,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::RequestTimeout,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RangeNotSatisfiable,
        Self::RateLimited,
        Self::Internal,
        Self::BadGateway,
        Self::ServiceUnavailable,
        Self::GatewayTimeout,
    ];

    pub const fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::InvalidJson => 400,
            Self::Unauthorized | Self::InvalidApiKey | Self::InvalidToken => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RangeNotSatisfiable => 416,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::BadGateway => 502,
            Self::ServiceUnavailable => 503,
            Self::GatewayTimeout => 504,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidJson => "invalid_json",
            Self::Unauthorized => "unauthorized",
            Self::InvalidApiKey => "invalid_api_key",
            Self::InvalidToken => "invalid_token",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal_error",
            Self::BadGateway => "bad_gateway",
            Self::ServiceUnavailable => "service_unavailable",
            Self::GatewayTimeout => "gateway_timeout",
        }
    }

    /// The message 5xx responses always carry, whatever the cause.
    const fn generic_message(self) -> &'static str {
        match self {
            Self::BadGateway => "an upstream service failed",
            Self::ServiceUnavailable => "a dependency is unavailable; retry later",
            Self::GatewayTimeout => "an upstream service timed out",
            _ => "internal error",
        }
    }

    pub const fn is_server_error(self) -> bool {
        self.status() >= 500
    }
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: Cow<'static, str>,
    retry_after_secs: Option<u64>,
    /// The cause, for the log only.
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        let message = if code.is_server_error() {
            Cow::Borrowed(code.generic_message())
        } else {
            message.into()
        };
        Self {
            code,
            message,
            retry_after_secs: None,
            source: None,
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// A bug or unexpected failure: 500 with a generic body, the cause in the log.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorCode::Internal, "").with_source(cause)
    }

    /// A dependency that is down: 503 with `Retry-After`.
    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorCode::ServiceUnavailable, "")
            .with_source(cause)
            .retry_after(2)
    }

    pub fn with_source(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.source = Some(cause.into());
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    pub fn source_chain(&self) -> Option<&anyhow::Error> {
        self.source.as_ref()
    }

    /// The response body, as bytes.
    pub fn to_body(&self, request_id: &str) -> Vec<u8> {
        error_body(self.code, &self.message, request_id)
    }

    /// Logs server errors with their whole cause chain (client errors at debug).
    pub fn log(&self, request_id: &str) {
        let code = self.code.as_str();
        match (&self.source, self.code.is_server_error()) {
            (Some(cause), true) => tracing::error!(
                request_id,
                code,
                error = format!("{cause:#}"),
                "request failed"
            ),
            (None, true) => tracing::error!(request_id, code, "request failed"),
            (Some(cause), false) => tracing::debug!(
                request_id,
                code,
                error = format!("{cause:#}"),
                "request refused"
            ),
            (None, false) => {
                tracing::debug!(request_id, code, message = %self.message, "request refused")
            }
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorDetail<'a>,
    request_id: &'a str,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// The JSON error body shared by the services and the gateway.
pub fn error_body(code: ErrorCode, message: &str, request_id: &str) -> Vec<u8> {
    let envelope = ErrorEnvelope {
        error: ErrorDetail {
            code: code.as_str(),
            message,
        },
        request_id,
    };
    serde_json::to_vec(&envelope).expect("string fields always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_documented_shape() {
        let err = ApiError::bad_request("limit must be at most 1000");
        let body: serde_json::Value = serde_json::from_slice(&err.to_body("req-1")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "error": {"code": "bad_request", "message": "limit must be at most 1000"},
                "request_id": "req-1"
            })
        );
    }

    #[test]
    fn server_errors_never_carry_their_cause_to_the_client() {
        let err = ApiError::internal(anyhow::anyhow!("connection string mongodb://user:pw@db"));
        let body = String::from_utf8(err.to_body("r")).unwrap();
        assert!(!body.contains("mongodb://"), "{body}");
        assert!(body.contains("internal_error"));
        let err = ApiError::new(ErrorCode::BadGateway, "stripe said sk_live_123");
        assert_eq!(err.message(), "an upstream service failed");
    }

    #[test]
    fn unavailable_is_503_and_asks_to_retry() {
        let err = ApiError::unavailable(anyhow::anyhow!("down"));
        assert_eq!(err.code().status(), 503);
        assert_eq!(err.retry_after_secs(), Some(2));
    }
}
