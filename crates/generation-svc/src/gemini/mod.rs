//! A typed client for the Gemini REST API, v1beta (<https://ai.google.dev/api>):
//! `models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens`, and the
//! Files API's resumable upload and `files.delete` ([`upload`]).
//!
//! The key travels in `x-goog-api-key` only (never in a URL, so it cannot end up in a log line
//! or an error that quotes a URL), redirects are not followed (the header would go along), and
//! a call that could not connect is retried with backoff, since nothing was sent.

mod error;
mod upload;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use serde::Deserialize;

pub use error::GeminiError;
pub use upload::UploadSession;

use crate::domain::{GeminiKey, ModelName};
use crate::settings::Settings;

/// Largest answer, or single streamed event, held from Gemini, in bytes (answers carrying
/// generated images are large); past it the call fails rather than take the memory.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Largest error body read from Gemini, in bytes.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

const API_KEY_HEADER: &str = "x-goog-api-key";

pub struct GeminiClient {
    http: reqwest::Client,
    /// `GENERATION_API_BASE` without a trailing slash.
    base: String,
    origin: url::Origin,
    timeout: Duration,
    stream_idle_timeout: Duration,
    connect_retries: u32,
    retry_backoff: Duration,
}

impl GeminiClient {
    /// Built from validated settings.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let base = settings
            .generation_api_base
            .trim_end_matches('/')
            .to_owned();
        let origin = url::Url::parse(&base)?.origin();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(
                settings.generation_connect_timeout_ms,
            ))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("coglex-generation-svc/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base,
            origin,
            timeout: Duration::from_millis(settings.generation_timeout_ms),
            stream_idle_timeout: Duration::from_millis(settings.generation_stream_idle_timeout_ms),
            connect_retries: settings.generation_connect_retries,
            retry_backoff: Duration::from_millis(settings.generation_retry_backoff_ms),
        })
    }

    /// Longest wait for a whole call (`GENERATION_TIMEOUT_MS`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Longest wait between two streamed events.
    pub fn stream_idle_timeout(&self) -> Duration {
        self.stream_idle_timeout
    }

    /// `generateContent`: Gemini's whole `GenerateContentResponse`, as bytes.
    pub async fn generate_content(
        &self,
        model: &ModelName,
        key: &GeminiKey,
        body: Bytes,
    ) -> Result<Bytes, GeminiError> {
        let url = format!("{}/v1beta/{model}:generateContent", self.base);
        self.within_timeout(async {
            let response = self.post_json(&url, key, body).await?;
            read_whole(response, MAX_ANSWER_BYTES).await
        })
        .await
    }

    /// `streamGenerateContent?alt=sse`: the response once its head has arrived; its body is
    /// the event stream.
    pub async fn stream_generate_content(
        &self,
        model: &ModelName,
        key: &GeminiKey,
        body: Bytes,
    ) -> Result<reqwest::Response, GeminiError> {
        let url = format!("{}/v1beta/{model}:streamGenerateContent?alt=sse", self.base);
        self.within_timeout(self.post_json(&url, key, body)).await
    }

    /// `countTokens`: the request's `totalTokens`.
    pub async fn count_tokens(
        &self,
        model: &ModelName,
        key: &GeminiKey,
        body: Bytes,
    ) -> Result<u64, GeminiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Counted {
            #[serde(default)]
            total_tokens: u64,
        }
        let url = format!("{}/v1beta/{model}:countTokens", self.base);
        let bytes = self
            .within_timeout(async {
                let response = self.post_json(&url, key, body).await?;
                read_whole(response, MAX_ANSWER_BYTES).await
            })
            .await?;
        let counted: Counted = serde_json::from_slice(&bytes)
            .map_err(|_| GeminiError::BadResponse("countTokens did not answer JSON".into()))?;
        Ok(counted.total_tokens)
    }

    async fn post_json(
        &self,
        url: &str,
        key: &GeminiKey,
        body: Bytes,
    ) -> Result<reqwest::Response, GeminiError> {
        let key_header = key_header(key)?;
        let response = self
            .send(|| {
                self.http
                    .post(url)
                    .header(API_KEY_HEADER, key_header.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        check_status(response, Some(key)).await
    }

    /// Sends, trying again with doubling backoff while the connection cannot be opened.
    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, GeminiError> {
        let mut attempt = 0;
        loop {
            match request().send().await {
                Ok(response) => return Ok(response),
                Err(err) if err.is_connect() && attempt < self.connect_retries => {
                    let wait = self.retry_backoff * 2u32.saturating_pow(attempt);
                    tracing::debug!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "Gemini unreachable; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(err) => return Err(GeminiError::from_transport(err)),
            }
        }
    }

    async fn within_timeout<T>(
        &self,
        call: impl Future<Output = Result<T, GeminiError>>,
    ) -> Result<T, GeminiError> {
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(GeminiError::Timeout))
    }
}

fn key_header(key: &GeminiKey) -> Result<HeaderValue, GeminiError> {
    let mut value = HeaderValue::from_str(key.expose())
        .map_err(|_| GeminiError::BadResponse("the key is not a valid header value".into()))?;
    // Keeps the value out of hyper's debug output.
    value.set_sensitive(true);
    Ok(value)
}

/// Passes a successful response on; turns an error status into [`GeminiError::Status`].
/// `key` is the one the request carried, if any (an upload URL is its own credential).
async fn check_status(
    response: reqwest::Response,
    key: Option<&GeminiKey>,
) -> Result<reqwest::Response, GeminiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_prefix(response, MAX_ERROR_BODY_BYTES).await;
    Err(GeminiError::from_body(
        status.as_u16(),
        &body,
        retry_after.as_deref(),
        key,
    ))
}

/// At most `limit` bytes of a body; what cannot be read is left out.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

/// The whole body of `response`, or an error once it passes `limit` bytes.
pub(crate) async fn read_whole(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, GeminiError> {
    let too_large = || GeminiError::BadResponse(format!("Gemini answered more than {limit} bytes"));
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(GeminiError::from_transport)?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &'static str) -> reqwest::Response {
        reqwest::Response::from(http::Response::new(body))
    }

    #[tokio::test]
    async fn an_answer_within_the_cap_is_read_whole() {
        let read = read_whole(answer("0123456789"), 10).await.unwrap();
        assert_eq!(&read[..], b"0123456789");
    }

    #[tokio::test]
    async fn an_answer_past_the_cap_is_refused() {
        let error = read_whole(answer("0123456789x"), 10).await.unwrap_err();
        assert!(matches!(error, GeminiError::BadResponse(_)), "{error:?}");
    }
}
