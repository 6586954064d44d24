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
use crate::usage::{Estimate, Hold, UsageMetadata};

/// Largest single event accepted from Gemini.
const MAX_EVENT_BYTES: usize = crate::gemini::MAX_ANSWER_BYTES;

/// Settles a metered stream's hold with its usage when it ends, however it ends.
pub struct UsageOnEnd {
    hold: Option<Hold>,
    progress: Progress,
}

/// What a stream's chunks told about its cost so far.
#[derive(Debug, Default)]
struct Progress {
    last: Option<UsageMetadata>,
    /// The largest prompt count Gemini gave: a later chunk may leave it out.
    prompt_seen: u64,
    /// Bytes of answer text relayed so far.
    relayed_text: u64,
    /// The answers Gemini said are whole (`finishReason`): a bit for each index (a call
    /// asks for at most eight).
    finished: u64,
    /// The stream came to its clean end.
    ended: bool,
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
    #[serde(default)]
    index: u32,
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
            progress: Progress::default(),
        }
    }

    fn observe(&mut self, data: &str) {
        if self.hold.is_none() {
            return;
        }
        if let Ok(chunk) = serde_json::from_str::<ChunkProbe>(data) {
            self.progress.observe(chunk);
        }
    }
}

impl Drop for UsageOnEnd {
    fn drop(&mut self) {
        // Dropped when the body ends or the client leaves; the write goes on without them.
        if let Some(hold) = self.hold.take() {
            let usage = self.progress.charge(hold.estimate());
            hold.settle_later(Some(usage));
        }
    }
}

impl Progress {
    /// Chunks carry the usage so far, though the output's count may come only with the
    /// last one; the last seen is the call's.
    fn observe(&mut self, chunk: ChunkProbe) {
        if let Some(usage) = chunk.usage_metadata {
            self.prompt_seen = self.prompt_seen.max(usage.prompt_token_count);
            self.last = Some(usage);
        }
        for candidate in &chunk.candidates {
            if candidate.finish_reason.is_some() {
                self.finished |= 1u64.checked_shl(candidate.index).unwrap_or(0);
            }
            let parts = candidate.content.iter().flat_map(|content| &content.parts);
            let text: usize = parts
                .filter_map(|part| part.text.as_deref())
                .map(str::len)
                .sum();
            self.relayed_text = self.relayed_text.saturating_add(text as u64);
        }
    }

    /// Gemini has sent all it will: the stream ended, or each of the `answers` asked for
    /// finished (the client may leave between the last chunk and the end).
    fn complete(&self, answers: u64) -> bool {
        self.ended || u64::from(self.finished.count_ones()) >= answers
    }

    /// What the call is charged: Gemini's last count once the stream is whole and counted.
    /// A stream cut short (the client left, Gemini broke off) or never counted is charged at
    /// least about a token per four bytes of the text relayed, since Gemini counts the output
    /// only in its last chunk. Gemini's prompt count is kept (inline media costs far fewer
    /// tokens than its bytes): the estimate stands in for it only while Gemini gave none.
    fn charge(&self, estimate: Estimate) -> UsageMetadata {
        let so_far = self.last.unwrap_or_default();
        let counted =
            self.last.is_some() && (self.relayed_text == 0 || so_far.candidates_token_count > 0);
        if self.complete(estimate.answers) && counted {
            return so_far.at_least(self.prompt_seen, 0);
        }
        let prompt = match self.prompt_seen {
            0 => estimate.prompt,
            seen => seen,
        };
        so_far.at_least(prompt, self.relayed_text.div_ceil(4))
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
                    self.usage.progress.ended = true;
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
        // Not whole, even when Gemini's error was the stream's last event.
        self.usage.progress.ended = false;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(chunks: &[serde_json::Value]) -> Progress {
        let mut progress = Progress::default();
        for chunk in chunks {
            progress.observe(serde_json::from_str(&chunk.to_string()).unwrap());
        }
        progress
    }

    fn usage(prompt: u64, candidates: u64) -> serde_json::Value {
        serde_json::json!({
            "promptTokenCount": prompt,
            "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates,
        })
    }

    fn candidate(index: u32, text: &str, finished: bool) -> serde_json::Value {
        let mut candidate = serde_json::json!({
            "index": index,
            "content": {"parts": [{"text": text}], "role": "model"},
        });
        if finished {
            candidate["finishReason"] = "STOP".into();
        }
        candidate
    }

    /// What `progress` charges a call of `answers` answers whose prompt was estimated at
    /// `prompt`.
    fn charged(progress: &Progress, prompt: u64, answers: u64) -> (u64, u64, u64) {
        let estimate = Estimate {
            prompt,
            output: 0,
            answers,
        };
        let usage = progress.charge(estimate);
        (
            usage.prompt_token_count,
            usage.candidates_token_count,
            usage.total_token_count,
        )
    }

    #[test]
    fn a_stream_cut_short_keeps_geminis_prompt_count_over_the_estimate() {
        // A large inline image: estimated by its bytes, counted by Gemini as a few tokens.
        let cut = progress(&[
            serde_json::json!({
                "candidates": [candidate(0, "1234", false)],
                "usageMetadata": {"promptTokenCount": 266, "totalTokenCount": 266},
            }),
            // A later chunk that leaves the prompt's count out does not lose it.
            serde_json::json!({"candidates": [candidate(0, "5678", false)], "usageMetadata": {}}),
        ]);
        assert_eq!(charged(&cut, 1_000_000, 1), (266, 2, 268));
    }

    #[test]
    fn a_stream_cut_before_gemini_counted_is_charged_the_estimate() {
        let cut = progress(&[serde_json::json!({"candidates": [candidate(0, "1234", false)]})]);
        assert_eq!(charged(&cut, 50, 1), (50, 1, 51));
    }

    #[test]
    fn a_stream_is_whole_only_once_every_answer_asked_for_finished() {
        // Answer 0 finished before answer 1 appeared; Gemini has not counted the output.
        let first = serde_json::json!({
            "candidates": [candidate(0, "12345678", true)],
            "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10},
        });
        let cut = progress(std::slice::from_ref(&first));
        assert_eq!(charged(&cut, 99, 2), (10, 2, 12));

        let whole = progress(&[
            first,
            serde_json::json!({
                "candidates": [candidate(1, "y", true)],
                "usageMetadata": usage(10, 7),
            }),
        ]);
        assert_eq!(charged(&whole, 99, 2), (10, 7, 17));
    }

    #[test]
    fn a_whole_stream_gemini_never_counted_is_charged_what_it_relayed() {
        let mut ended = progress(&[serde_json::json!({
            "candidates": [candidate(0, "12345678", true)],
        })]);
        ended.ended = true;
        assert_eq!(charged(&ended, 20, 1), (20, 2, 22));
    }

    #[test]
    fn a_clean_end_trusts_geminis_count() {
        let mut ended = progress(&[serde_json::json!({
            "candidates": [candidate(0, "a long answer indeed", false)],
            "usageMetadata": usage(4, 3),
        })]);
        ended.ended = true;
        assert_eq!(charged(&ended, 99, 1), (4, 3, 7));
    }
}
