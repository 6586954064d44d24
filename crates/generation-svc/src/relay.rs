//! Relays Gemini's `streamGenerateContent?alt=sse` answer to the client one event at a time,
//! each as soon as its last byte arrives (never buffered to the end), and keeps the last
//! `usageMetadata` seen so the call's usage can be recorded.
//!
//! The status line has already gone out when a stream fails, so a failure mid-stream (Gemini
//! silent for longer than `GENERATION_STREAM_IDLE_TIMEOUT_MS`, the connection lost, an event
//! too large, an error Gemini reports as an event) ends the stream with one `event: error`
//! carrying the API's error body. When the client goes away, actix drops this stream, which
//! drops Gemini's response and so closes that connection: the upstream call is cancelled.

use std::borrow::Cow;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coglex_common::error::error_body;
use coglex_common::ErrorCode;
use futures_util::{Stream, StreamExt};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::sse::{Event, EventSplitter};
use crate::usage::{Hold, UsageMetadata};

/// Largest single event accepted from Gemini.
const MAX_EVENT_BYTES: usize = crate::gemini::MAX_ANSWER_BYTES;

/// Settles a metered stream's hold with its usage when it ends, however it ends.
pub struct UsageOnEnd {
    hold: Option<Hold>,
    last: Option<UsageMetadata>,
    /// Bytes of answer text relayed so far.
    relayed_text: u64,
    /// Gemini said the answer is whole: a `finishReason`, or the stream's clean end.
    complete: bool,
}

/// What a chunk's `data` tells about its cost.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChunkProbe<'a> {
    usage_metadata: Option<UsageMetadata>,
    #[serde(default, borrow)]
    candidates: Vec<CandidateProbe<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CandidateProbe<'a> {
    finish_reason: Option<IgnoredAny>,
    #[serde(default, borrow)]
    content: Option<ContentProbe<'a>>,
}

#[derive(Deserialize)]
struct ContentProbe<'a> {
    #[serde(default, borrow)]
    parts: Vec<PartProbe<'a>>,
}

#[derive(Deserialize)]
struct PartProbe<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

impl UsageOnEnd {
    pub fn new(hold: Option<Hold>) -> Self {
        Self {
            hold,
            last: None,
            relayed_text: 0,
            complete: false,
        }
    }

    /// Chunks carry the usage so far (in their `data`), though the output's count may come
    /// only with the last one; the last seen is the call's.
    fn observe(&mut self, data: &str) {
        if self.hold.is_none() {
            return;
        }
        let Ok(chunk) = serde_json::from_str::<ChunkProbe>(data) else {
            return;
        };
        if chunk.usage_metadata.is_some() {
            self.last = chunk.usage_metadata;
        }
        for candidate in &chunk.candidates {
            self.complete |= candidate.finish_reason.is_some();
            let parts = candidate.content.iter().flat_map(|content| &content.parts);
            let text: usize = parts
                .filter_map(|part| part.text.as_deref())
                .map(str::len)
                .sum();
            self.relayed_text = self.relayed_text.saturating_add(text as u64);
        }
    }

    /// What the call is charged: Gemini's last count, or, for a stream cut short (the client
    /// left, Gemini broke off), at least the prompt and about a token per four bytes of the
    /// text relayed, since Gemini counts the output only in its last chunk.
    fn usage(&self, hold: &Hold) -> Option<UsageMetadata> {
        if self.complete {
            return self.last;
        }
        let so_far = self.last.unwrap_or_default();
        Some(so_far.at_least(hold.prompt_estimate(), self.relayed_text.div_ceil(4)))
    }
}

impl Drop for UsageOnEnd {
    fn drop(&mut self) {
        // Dropped when the body ends or the client leaves; the write goes on without them.
        if let Some(hold) = self.hold.take() {
            let usage = self.usage(&hold);
            hold.settle_later(usage);
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
                    self.usage.complete = true;
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
