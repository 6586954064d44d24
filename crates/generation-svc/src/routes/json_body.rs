//! JSON bodies read up to `GENERATION_MAX_REQUEST_BYTES` (larger than the common
//! `MAX_JSON_BYTES`, since Gemini requests may carry inline images), with the same errors as
//! the common JSON extractor: 415 without a JSON content type, 413 over the limit, 400 when the
//! bytes are not JSON.
//!
//! A parsed value takes far more memory than its text (`[0,0,...]` spends two bytes of body per
//! value of about 80 bytes), so the number of values is bounded too, before anything is parsed.

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpMessage, HttpRequest};
use coglex_common::{ApiError, ErrorCode};
use futures_util::StreamExt;
use serde_json::Value;

/// Most JSON values a body may hold: generous for any real request (1,000 contents of many
/// parts, tool schemas), while bounding what parsing one body can take to tens of megabytes.
const MAX_JSON_VALUES: usize = 200_000;

pub(crate) async fn read_json(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
    let content_type = req.content_type();
    if content_type != "application/json" && !content_type.ends_with("+json") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the JSON body is larger than {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(ErrorCode::InvalidJson, "the JSON body could not be read")
                .with_source(anyhow::anyhow!("{e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if values_at_most(&body) > MAX_JSON_VALUES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the JSON body holds more than {MAX_JSON_VALUES} values"),
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {e}")))
}

/// An upper bound of the values in `json`, valid or not: every value but the first follows a
/// `,`, a `:` or an opening bracket outside strings.
fn values_at_most(json: &[u8]) -> usize {
    let mut count = 1;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b',' | b':' | b'[' | b'{' => count += 1,
                _ => {}
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_outside_strings_only() {
        assert_eq!(values_at_most(b"1"), 1);
        assert_eq!(values_at_most(b"[0,0,0]"), 4);
        assert_eq!(values_at_most(br#"{"a":[1,2],"b":{}}"#), 8);
        assert_eq!(values_at_most(br#""a,b:[{""#), 1);
        assert_eq!(values_at_most(br#"["a\",[", 1]"#), 3);
        let parts = vec![serde_json::json!({"text": "x"}); 50];
        let big = serde_json::json!({"contents": vec![serde_json::json!({"parts": parts}); 20]});
        let text = serde_json::to_vec(&big).unwrap();
        assert!(values_at_most(&text) >= 1 + 1 + 20 * (2 + 50 * 2));
    }
}
