//! Gemini's failures become clear answers: its refusals a 4xx with its message (never a key),
//! its rate limiting a 429 with `Retry-After`, its outages a 502, its slowness a 504; a
//! connection that cannot be opened is tried again before giving up.

use std::time::Duration;

use serde_json::json;
use test_support::fake_gemini::{FakeGemini, FAKE_GEMINI_KEY};

use crate::helpers::*;

#[tokio::test]
async fn geminis_400_is_a_400_with_geminis_message() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Status(400));

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert_eq!(message, "Gemini: Request contains an invalid argument.");
}

#[tokio::test]
async fn geminis_403_is_a_403_with_geminis_message() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Status(403));

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert_eq!(message, "Gemini: The caller does not have permission");
}

#[tokio::test]
async fn a_model_gemini_does_not_know_is_a_404() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["model"] = json!("models/gemini-9-ultra");

    let response = app.converse(&body).send().await.unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    assert!(
        message.contains("models/gemini-9-ultra is not found"),
        "{message}"
    );
}

#[tokio::test]
async fn a_file_gemini_does_not_hold_is_a_403() {
    let app = spawn_app().await;
    let body = json!({"contents": [{"role": "user", "parts": [
        {"fileData": {"mimeType": "image/png", "fileUri": "files/missing1"}}
    ]}], "key": CLIENT_KEY});

    let response = app.converse(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 403);
    assert!(message.contains("File missing1"), "{message}");
}

#[tokio::test]
async fn geminis_429_is_a_429_with_its_retry_delay() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Status(429));

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    assert_eq!(response.headers()["retry-after"], "37");
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
}

#[tokio::test]
async fn a_429_on_the_servers_key_does_not_describe_its_project() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Message(
        429,
        "Quota exceeded for metric 'generate_content_free_tier_requests', limit: 15, project_number:123456789".into(),
    ));

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    assert!(response.headers().contains_key("retry-after"));
    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!(
        !message.contains("123456789") && !message.contains("free_tier"),
        "{message}"
    );
}

#[tokio::test]
async fn geminis_500_is_a_502_without_geminis_message() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Status(500));

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (502, "bad_gateway"));
    assert_eq!(message, "an upstream service failed");
}

#[tokio::test]
async fn geminis_503_is_a_502() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Status(503));

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn a_gemini_slower_than_the_timeout_is_a_504() {
    let app = spawn_app_with(&[("GENERATION_TIMEOUT_MS", "300")]).await;
    app.gemini.fail_next(Failure::Delay(Duration::from_secs(2)));

    let started = std::time::Instant::now();
    let response = app.converse(&simple_text_example()).send().await.unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (504, "gateway_timeout"));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_gemini_is_a_502() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = free.local_addr().unwrap();
    drop(free);
    let base = format!("http://{address}");
    let app = spawn_app_with(&[
        ("GENERATION_API_BASE", base.as_str()),
        ("GENERATION_CONNECT_RETRIES", "1"),
    ])
    .await;

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (502, "bad_gateway"));
}

#[tokio::test]
async fn a_gemini_that_comes_up_during_the_retries_answers() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = free.local_addr().unwrap();
    drop(free);
    let base = format!("http://{address}");
    let app = spawn_app_with(&[
        ("GENERATION_API_BASE", base.as_str()),
        ("GENERATION_CONNECT_RETRIES", "5"),
        ("GENERATION_RETRY_BACKOFF_MS", "100"),
    ])
    .await;

    let request = tokio::spawn(app.converse(&simple_text_example()).send());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let late = FakeGemini::start_at(address).await;
    let response = request.await.unwrap().unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(late.hits(), 1);
}

#[tokio::test]
async fn a_gemini_message_quoting_the_server_key_does_not_leak_it() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Message(
        400,
        format!("API key {FAKE_GEMINI_KEY} is not valid for https://x.example/?key={FAKE_GEMINI_KEY}&alt=sse"),
    ));

    let response = app.converse(&simple_text_example()).send().await.unwrap();

    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(!text.contains(FAKE_GEMINI_KEY), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}

#[tokio::test]
async fn a_gemini_message_quoting_the_clients_key_does_not_leak_it() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["key"] = json!(CLIENT_KEY);
    app.gemini.fail_next(Failure::Message(
        403,
        format!("Key {CLIENT_KEY} was revoked"),
    ));

    let response = app.converse(&body).send().await.unwrap();

    assert_eq!(response.status(), 403);
    let text = response.text().await.unwrap();
    assert!(!text.contains(CLIENT_KEY), "{text}");
}

#[tokio::test]
async fn a_key_gemini_rejects_is_a_400_that_does_not_repeat_it() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["key"] = json!("AIzaNotAValidKeyForTheFake0123456789");

    let response = app.converse(&body).send().await.unwrap();

    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("API key not valid"), "{text}");
    assert!(!text.contains("AIzaNotAValidKey"), "{text}");
}

#[tokio::test]
async fn counting_tokens_maps_geminis_failures_too() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Status(429));

    let response = app.tokens(&simple_text_example()).send().await.unwrap();

    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

/// Gemini refusing the server's own key is the server's failure: a 502 that says nothing of
/// the key or the server's Google project, while a caller's own bad key stays a 400 (above).
#[tokio::test]
async fn gemini_refusing_the_servers_key_is_a_502_without_geminis_message() {
    let app = spawn_app_with(&[("GENERATION_KEY", "AIzaRevokedServerKey0123456789abcdef")]).await;

    for response in [
        app.converse(&simple_text_example()).send().await.unwrap(),
        app.post("/service/generation/v1/tokens")
            .json(&simple_text_example())
            .send()
            .await
            .unwrap(),
    ] {
        let (status, code, message) = error_of(response).await;
        assert_eq!((status, code.as_str()), (502, "bad_gateway"));
        assert!(!message.contains("API key"), "{message}");
    }
}
