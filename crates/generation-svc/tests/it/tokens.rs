//! `POST /tokens`: the original's `tokenize` as an endpoint, answered from Gemini's
//! `countTokens`.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn tokens_are_counted_by_gemini_for_the_default_model() {
    let app = spawn_app().await;

    let response = app
        .tokens(&text("one two three four"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"totalTokens": 4}));
    let sent = app.only_request();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:countTokens");
    assert_eq!(
        sent.json(),
        json!({"contents": [{"role": "user", "parts": [{"text": "one two three four"}]}]})
    );
}

#[tokio::test]
async fn a_list_of_strings_is_counted_like_the_originals_tokenize() {
    let app = spawn_app().await;
    let body =
        json!({"contents": ["Hello world", "How are you today?", "This is a test message."]});

    let response = app.tokens(&body).send().await.unwrap();

    let body: Value = response.json().await.unwrap();
    assert_eq!(body["totalTokens"], 2 + 4 + 5);
}

#[tokio::test]
async fn a_custom_model_and_key_are_used_for_counting() {
    let app = spawn_app().await;
    let body = json!({
        "contents": ["Custom content to analyze"],
        "model": "models/gemini-1.5-pro",
        "key": CLIENT_KEY,
    });

    let response = app.tokens(&body).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let sent = app.only_request();
    assert_eq!(sent.path, "/v1beta/models/gemini-1.5-pro:countTokens");
    assert_eq!(sent.header("x-goog-api-key"), Some(CLIENT_KEY));
}

#[tokio::test]
async fn counting_without_contents_is_refused() {
    let app = spawn_app().await;

    let response = app
        .tokens(&json!({"model": "gemini-2.5-flash"}))
        .send()
        .await
        .unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "contents is required");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn counting_refuses_generation_fields() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["generationConfig"] = json!({"temperature": 1});

    let response = app.tokens(&body).send().await.unwrap();

    assert_eq!(response.status(), 400);
    assert_eq!(app.gemini.hits(), 0);
}
