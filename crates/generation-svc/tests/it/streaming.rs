//! `POST /converse/stream`: Gemini's server-sent events reach the client one by one as Gemini
//! produces them (directly and through the gateway), the stream ends cleanly, a stalled
//! stream ends with an error event, and a client that leaves cancels Gemini's call.

use std::time::{Duration, Instant};

use coglex_common::config::ConfigSource;
use serde_json::Value;

use crate::helpers::*;

/// Time the fake Gemini waits between two events in these tests.
const INTERVAL: Duration = Duration::from_millis(400);

/// An event as the client saw it: when its last byte arrived, and its `data` as JSON.
struct Seen {
    at: Instant,
    name: Option<String>,
    data: Value,
}

/// Reads the whole stream, noting when each event was complete.
async fn read_events(mut response: reqwest::Response) -> Vec<Seen> {
    let mut buffer = String::new();
    let mut seen = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("the stream reads") {
        buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        let normalised = buffer.replace("\r\n", "\n");
        buffer = normalised;
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                event
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|v| v.trim().to_owned())
            };
            seen.push(Seen {
                at: Instant::now(),
                name: field("event:"),
                data: serde_json::from_str(&field("data:").unwrap_or_default())
                    .unwrap_or(Value::Null),
            });
        }
    }
    assert!(buffer.trim().is_empty(), "left over: {buffer:?}");
    seen
}

fn chunk_text(event: &Seen) -> &str {
    event.data["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

/// Three events, in order, the first seen well before the last was produced.
fn assert_streamed_one_by_one(events: &[Seen]) {
    let texts: Vec<&str> = events.iter().map(chunk_text).collect();
    assert_eq!(texts, ["chunk 1 ", "chunk 2 ", "chunk 3 "]);
    let spread = events[2].at - events[0].at;
    assert!(
        spread >= INTERVAL * 3 / 2,
        "events arrived together ({spread:?} apart): they were buffered"
    );
    assert!(events[1].at - events[0].at >= INTERVAL / 2);
}

#[tokio::test]
async fn events_reach_the_client_one_by_one() {
    let app = spawn_app().await;
    app.gemini.set_stream(3, INTERVAL);

    let response = app
        .converse_stream(&simple_text_example())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_streamed_one_by_one(&read_events(response).await);
}

#[tokio::test]
async fn the_stream_calls_gemini_with_alt_sse_and_the_header_key() {
    let app = spawn_app().await;
    app.gemini.set_stream(1, Duration::ZERO);

    let response = app
        .converse_stream(&multimodal_example())
        .send()
        .await
        .unwrap();
    read_events(response).await;

    let sent = app.only_request();
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent"
    );
    assert_eq!(sent.query, "alt=sse");
    assert_eq!(sent.header("x-goog-api-key"), Some(CLIENT_KEY));
}

#[tokio::test]
async fn the_stream_ends_cleanly_after_geminis_last_event() {
    let app = spawn_app().await;
    app.gemini.set_stream(2, Duration::from_millis(50));

    let response = app
        .converse_stream(&simple_text_example())
        .send()
        .await
        .unwrap();
    let events = read_events(response).await;

    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.name.is_none()));
    assert_eq!(events[1].data["candidates"][0]["finishReason"], "STOP");
    assert_eq!(app.gemini.stream_stats().completed, 1);
}

#[tokio::test]
async fn events_reach_the_client_one_by_one_through_the_gateway() {
    let app = spawn_app().await;
    app.gemini.set_stream(3, INTERVAL);
    let gateway = spawn_gateway(&app.address).await;

    let response = gateway
        .http
        .post(format!(
            "{}/service/generation/v1/converse/stream",
            gateway.address
        ))
        .header("X-API-Key", API_KEY)
        .json(&simple_text_example())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_streamed_one_by_one(&read_events(response).await);
}

#[tokio::test]
async fn a_client_that_leaves_cancels_geminis_stream() {
    let app = spawn_app().await;
    app.gemini.set_stream(20, Duration::from_millis(100));

    let mut response = app
        .converse_stream(&simple_text_example())
        .send()
        .await
        .unwrap();
    response.chunk().await.unwrap().expect("a first event");
    drop(response);

    let deadline = Instant::now() + Duration::from_secs(5);
    while app.gemini.stream_stats().cancelled == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = app.gemini.stream_stats();
    assert_eq!((stats.cancelled, stats.completed), (1, 0));
}

/// Streams the simple example and asserts it brought its first chunk, then our `error`
/// event with a request id; answers that event's data.
async fn first_chunk_then_error(app: &GenerationApp) -> Value {
    let response = app
        .converse_stream(&simple_text_example())
        .send()
        .await
        .unwrap();
    let events = read_events(response).await;

    assert_eq!(events.len(), 2, "one event, then the error");
    assert_eq!(chunk_text(&events[0]), "chunk 1 ");
    assert_eq!(events[1].name.as_deref(), Some("error"));
    assert!(events[1].data["request_id"].is_string());
    events[1].data.clone()
}

#[tokio::test]
async fn a_stalled_stream_ends_with_an_error_event() {
    let app = spawn_app_with(&[("GENERATION_STREAM_IDLE_TIMEOUT_MS", "300")]).await;
    app.gemini.set_stream(3, Duration::from_secs(2));

    let error = first_chunk_then_error(&app).await;

    assert_eq!(error["error"]["code"], "gateway_timeout");
}

#[tokio::test]
async fn an_error_gemini_sends_inside_the_stream_ends_it_with_our_error_event() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::StreamError(
        503,
        "The model is overloaded (project 1234567)".into(),
    ));

    let error = first_chunk_then_error(&app).await;

    assert_eq!(error["error"]["code"], "bad_gateway");
    let text = error.to_string();
    assert!(
        !text.contains("overloaded") && !text.contains("1234567"),
        "{text}"
    );
}

#[tokio::test]
async fn a_refusal_before_the_stream_starts_is_a_json_error() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Status(429));

    let response = app
        .converse_stream(&simple_text_example())
        .send()
        .await
        .unwrap();

    assert_eq!(response.headers()["retry-after"], "37");
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
}

#[tokio::test]
async fn streaming_refuses_bad_input_before_calling_gemini() {
    let app = spawn_app().await;

    let response = app
        .converse_stream(
            &serde_json::json!({"contents": [{"role": "tool", "parts": [{"text": "x"}]}]}),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    assert_eq!(app.gemini.hits(), 0);
}

/// The real gateway in front of `service` (a generation-svc address), stopped when dropped.
struct TestGateway {
    address: String,
    http: reqwest::Client,
    _running: gateway::Running,
}

async fn spawn_gateway(service: &str) -> TestGateway {
    let mut settings = test_support::gateway_settings();
    settings.push(("GENERATION_SVC_URL".into(), service.into()));
    let running = gateway::Gateway::build(ConfigSource::from_pairs(settings))
        .await
        .expect("the gateway builds")
        .spawn();
    TestGateway {
        address: running.address.clone(),
        http: reqwest::Client::new(),
        _running: running,
    }
}
