//! Gemini's failures (its `{"error": {"code", "message", "status", "details"}}` bodies,
//! timeouts, connection failures) and the answer each one gets here.
//!
//! Gemini's own 4xx messages help the caller fix the request, so they are passed on, with any
//! API key taken out; 5xx and transport failures answer with the generic messages of the
//! common error vocabulary, the cause going to the log only. So does Gemini refusing the
//! server's own key (`GENERATION_KEY`): that is this server's failure, and its message tells
//! about the server's Google project.

use coglex_common::{ApiError, ErrorCode};
use serde::Deserialize;

use crate::domain::GeminiKey;

/// What a client is told when Gemini rate limits the service's own key.
const SERVERS_QUOTA: &str = "the service's Gemini quota is used up for now; retry later";

/// `Retry-After` for a 429 that says nothing of when to retry, in seconds.
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

/// Longest upstream message passed on, in characters.
const MAX_MESSAGE_CHARS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum GeminiError {
    /// Gemini answered with an error status. `message` has had the key removed.
    #[error("Gemini answered {status}: {message}")]
    Status {
        status: u16,
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// Gemini refused the server's own key (invalid, expired, blocked, its project suspended
    /// or without the API). `message` has had the key removed.
    #[error("Gemini refused GENERATION_KEY ({status}): {message}")]
    ServersKeyRefused { status: u16, message: String },
    /// No answer within `GENERATION_TIMEOUT_MS` (or the stream idle timeout).
    #[error("Gemini did not answer in time")]
    Timeout,
    /// Gemini could not be reached (after the connect retries).
    #[error("Gemini could not be reached")]
    Unreachable(#[source] reqwest::Error),
    /// An answer that is not what the API promises.
    #[error("unexpected answer from Gemini: {0}")]
    BadResponse(String),
}

impl GeminiError {
    /// Maps a transport error; the URL is dropped because the upload URL is a credential.
    pub(crate) fn from_transport(err: reqwest::Error) -> Self {
        // A connect timeout is both; Gemini was not reached, so it is 502, not 504.
        if err.is_timeout() && !err.is_connect() {
            Self::Timeout
        } else {
            Self::Unreachable(err.without_url())
        }
    }

    /// Reads an error body: Gemini's message, with `key` taken out wherever it appears.
    pub(crate) fn from_body(
        status: u16,
        body: &[u8],
        retry_after: Option<&str>,
        key: Option<&GeminiKey>,
    ) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: Detail,
        }
        #[derive(Deserialize)]
        struct Detail {
            #[serde(default)]
            message: String,
            #[serde(default)]
            details: Vec<serde_json::Value>,
        }
        let parsed = serde_json::from_slice::<Envelope>(body).ok();
        let message = parsed
            .as_ref()
            .map(|e| e.error.message.trim())
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("Gemini answered with status {status}"));
        let retry_after_secs = retry_after
            .and_then(|v| v.trim().parse::<u64>().ok())
            .or_else(|| parsed.as_ref().and_then(|e| retry_delay(&e.error.details)));
        let message = redact(&message, key.map_or("", GeminiKey::expose));
        let servers_key = key.is_some_and(GeminiKey::is_servers);
        // Gemini's quota wording names the project's tier, metrics and number: the service's
        // own project is nobody's business but the operator's.
        let message = if status == 429 && servers_key {
            tracing::warn!(gemini = %message, "Gemini rate limited the service's key");
            SERVERS_QUOTA.to_owned()
        } else {
            message
        };
        let details = parsed.as_ref().map_or(&[][..], |e| &e.error.details);
        if servers_key && refuses_the_key(status, details) {
            return Self::ServersKeyRefused { status, message };
        }
        Self::Status {
            status,
            message,
            retry_after_secs,
        }
    }
}

/// `google.rpc.ErrorInfo` reasons that are about the key or its project, not the request.
const KEY_REASONS: &[&str] = &[
    "API_KEY_INVALID",
    "API_KEY_EXPIRED",
    "API_KEY_SERVICE_BLOCKED",
    "API_KEY_HTTP_REFERRER_BLOCKED",
    "API_KEY_IP_ADDRESS_BLOCKED",
    "API_KEY_ANDROID_APP_BLOCKED",
    "API_KEY_IOS_APP_BLOCKED",
    "SERVICE_DISABLED",
    "CONSUMER_SUSPENDED",
    "BILLING_DISABLED",
];

/// Whether an error answer refuses the key itself: 401, or a key or project reason.
fn refuses_the_key(status: u16, details: &[serde_json::Value]) -> bool {
    status == 401
        || details.iter().any(|detail| {
            detail
                .get("reason")
                .and_then(|r| r.as_str())
                .is_some_and(|reason| KEY_REASONS.contains(&reason))
        })
}

/// Seconds of a `google.rpc.RetryInfo` detail's `retryDelay` (`"37s"`, `"1.5s"`).
fn retry_delay(details: &[serde_json::Value]) -> Option<u64> {
    details.iter().find_map(|detail| {
        let delay = detail.get("retryDelay")?.as_str()?.strip_suffix('s')?;
        let secs = delay
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)?;
        Some(secs.ceil() as u64)
    })
}

/// Removes the key, and any `key=` query value, from text that goes to a client or a log.
pub(crate) fn redact(text: &str, key: &str) -> String {
    // Too short a value would blank out ordinary letters; such a key cannot be valid anyway.
    let mut out = if key.len() < 4 {
        text.to_owned()
    } else {
        text.replace(key, "[redacted]")
    };
    let mut from = 0;
    while let Some(found) = out[from..].find("key=") {
        let start = from + found + "key=".len();
        let end = out[start..]
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
            .map_or(out.len(), |n| start + n);
        out.replace_range(start..end, "[redacted]");
        from = start + "[redacted]".len();
    }
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    out
}

impl From<GeminiError> for ApiError {
    fn from(err: GeminiError) -> Self {
        match err {
            GeminiError::Status {
                status,
                message,
                retry_after_secs,
            } => {
                let code = match status {
                    401 | 403 => ErrorCode::Forbidden,
                    404 => ErrorCode::NotFound,
                    413 => ErrorCode::PayloadTooLarge,
                    429 => ErrorCode::RateLimited,
                    400..=499 => ErrorCode::BadRequest,
                    _ => ErrorCode::BadGateway,
                };
                let error = ApiError::new(code, format!("Gemini: {message}"));
                if code == ErrorCode::RateLimited {
                    error.retry_after(retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS))
                } else if code.is_server_error() {
                    error.with_source(anyhow::anyhow!("Gemini answered {status}: {message}"))
                } else {
                    error
                }
            }
            GeminiError::Timeout => {
                ApiError::new(ErrorCode::GatewayTimeout, "").with_source(GeminiError::Timeout)
            }
            other => ApiError::new(ErrorCode::BadGateway, "").with_source(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_taken_out_of_messages() {
        let message = redact(
            "API key AIza-secret not valid (url ...?key=AIza-other&alt=sse)",
            "AIza-secret",
        );
        assert_eq!(
            message,
            "API key [redacted] not valid (url ...?key=[redacted]&alt=sse)"
        );
    }

    #[test]
    fn geminis_message_and_retry_delay_are_read() {
        let body = br#"{"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}"#;
        let GeminiError::Status {
            message,
            retry_after_secs,
            ..
        } = GeminiError::from_body(429, body, None, None)
        else {
            panic!("not a status error");
        };
        assert_eq!(message, "Resource has been exhausted");
        assert_eq!(retry_after_secs, Some(37));
    }

    #[test]
    fn a_body_that_is_not_geminis_still_gives_a_message() {
        let err = GeminiError::from_body(502, b"<html>bad gateway</html>", None, None);
        assert!(err.to_string().contains("status 502"), "{err}");
    }

    #[test]
    fn statuses_map_to_the_api_vocabulary() {
        let status = |s: u16| {
            ApiError::from(GeminiError::Status {
                status: s,
                message: "m".into(),
                retry_after_secs: None,
            })
        };
        assert_eq!(status(400).code(), ErrorCode::BadRequest);
        assert_eq!(status(403).code(), ErrorCode::Forbidden);
        assert_eq!(status(404).code(), ErrorCode::NotFound);
        assert_eq!(status(429).code(), ErrorCode::RateLimited);
        assert_eq!(
            status(429).retry_after_secs(),
            Some(DEFAULT_RETRY_AFTER_SECS)
        );
        assert_eq!(status(500).code(), ErrorCode::BadGateway);
        assert_eq!(status(503).code(), ErrorCode::BadGateway);
        assert_eq!(
            ApiError::from(GeminiError::Timeout).code(),
            ErrorCode::GatewayTimeout
        );
    }

    #[test]
    fn server_errors_do_not_pass_geminis_message_on() {
        let err = ApiError::from(GeminiError::Status {
            status: 500,
            message: "internal detail".into(),
            retry_after_secs: None,
        });
        assert!(!err.message().contains("internal detail"));
    }
}
