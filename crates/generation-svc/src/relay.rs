//! Relays Gemini's `streamGenerateContent?alt=sse` answer to the client one event at a time,
//! each as soon as its last byte arrives (never buffered to the end), and keeps the last
//! `usageMetadata` seen so the call's usage can be recorded.
//!
//! The status line has already gone out when a stream fails, so a failure mid-stream (Gemini
//! silent for longer than `GENERATION_STREAM_IDLE_TIMEOUT_MS`, the connection lost, an event
//! too large, an error Gemini reports as an event) ends the stream with one `event: error`
//! carrying the API's error body. When the client goes away, actix drops this stream, which
//! drops Gemini's response and so closes that connection: the upstream call is cancelled.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coglex_common::error::error_body;
use coglex_common::ErrorCode;
use futures_util::{Stream, StreamExt};

use crate::sse::{Event, EventSplitter};
use crate::usage::{Hold, UsageMetadata, UsageProbe};

/// Largest single event accepted from Gemini.
const MAX_EVENT_BYTES: usize = crate::gemini::MAX_ANSWER_BYTES;

/// Settles a metered stream's hold with its usage when it ends, however it ends.
pub struct UsageOnEnd {
    hold: Option<Hold>,
    last: Option<UsageMetadata>,
}

impl UsageOnEnd {
    pub fn new(hold: Option<Hold>) -> Self {
        Self { hold, last: None }
    }

    /// Each chunk carries the usage so far (in its `data`); the last one seen is the call's.
    fn observe(&mut self, data: &str) {
        if self.hold.is_none() {
            return;
        }
        if let Ok(UsageProbe {
            usage_metadata: Some(usage),
        }) = serde_json::from_str(data)
        {
            self.last = Some(usage);
        }
    }
}

impl Drop for UsageOnEnd {
    fn drop(&mut self) {
        // Dropped when the body ends or the client leaves; the write goes on without them.
        if let Some(hold) = self.hold.take() {
            hold.settle_later(self.last.take());
        }
    }
}

struct Relay {
    upstream: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    splitter: EventSplitter,
    idle_timeout: Duration,
    request_id: Arc<str>,
    usage: UsageOnEnd,
    ended: bool,
}

/// The client-facing event stream for Gemini's streaming `response`.
pub fn relay(
    response: reqwest::Response,
    idle_timeout: Duration,
    request_id: Arc<str>,
    usage: UsageOnEnd,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let relay = Relay {
        upstream: Box::pin(response.bytes_stream()),
        splitter: EventSplitter::new(MAX_EVENT_BYTES),
        idle_timeout,
        request_id,
        usage,
        ended: false,
    };
    futures_util::stream::unfold(relay, |mut relay| async move {
        relay.next_event().await.map(|bytes| (Ok(bytes), relay))
    })
}

impl Relay {
    async fn next_event(&mut self) -> Option<Bytes> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(event) = self.splitter.next_event() {
                return Some(self.pass_on(event));
            }
            match tokio::time::timeout(self.idle_timeout, self.upstream.next()).await {
                Ok(Some(Ok(chunk))) => {
                    if self.splitter.push(&chunk).is_err() {
                        tracing::warn!("a Gemini event exceeded {MAX_EVENT_BYTES} bytes");
                        return Some(self.fail(ErrorCode::BadGateway));
                    }
                }
                Ok(Some(Err(err))) => {
                    tracing::warn!(error = %err.without_url(), "the Gemini stream broke off");
                    return Some(self.fail(ErrorCode::BadGateway));
                }
                Ok(None) => {
                    self.ended = true;
                    let rest = self.splitter.finish()?;
                    return Some(self.pass_on(rest));
                }
                Err(_) => {
                    tracing::warn!(
                        idle_ms = self.idle_timeout.as_millis() as u64,
                        "the Gemini stream went silent"
                    );
                    return Some(self.fail(ErrorCode::GatewayTimeout));
                }
            }
        }
    }

    /// An event as the client gets it: Gemini's own, or our `error` event for an error Gemini
    /// reported inside the stream (its wording may name the project: it goes to the log).
    fn pass_on(&mut self, event: Event) -> Bytes {
        let data = event.data();
        if let Some(error) = upstream_error(&data) {
            tracing::warn!(
                code = error.code,
                status = error.status.as_deref().unwrap_or(""),
                "Gemini reported an error inside the stream"
            );
            let code = match error.code {
                Some(429) => ErrorCode::RateLimited,
                _ => ErrorCode::BadGateway,
            };
            return self.fail(code);
        }
        self.usage.observe(&data);
        event.0
    }

    /// Ends the stream with an `error` event in the API's error shape.
    fn fail(&mut self, code: ErrorCode) -> Bytes {
        self.ended = true;
        let message = coglex_common::ApiError::new(code, "");
        let body = error_body(code, message.message(), &self.request_id);
        let mut event = b"event: error\ndata: ".to_vec();
        event.extend_from_slice(&body);
        event.extend_from_slice(b"\n\n");
        Bytes::from(event)
    }
}

/// The `error` of an event whose `data` is Gemini's error body (`{"error": {"code", ...}}`).
fn upstream_error(data: &str) -> Option<UpstreamError> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: UpstreamError,
    }
    // Only an error body has the key at its top level; other events are not parsed twice.
    if !data.trim_start().starts_with('{') || !data.contains("\"error\"") {
        return None;
    }
    serde_json::from_str::<Body>(data)
        .ok()
        .map(|body| body.error)
}

#[derive(serde::Deserialize)]
struct UpstreamError {
    code: Option<u16>,
    status: Option<String>,
}
