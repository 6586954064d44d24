//! Models and `fileUri`s that could reach anything but the intended Gemini endpoint and files
//! are refused before Gemini is called.

use serde_json::json;

use crate::helpers::*;

fn with_model(model: &str) -> serde_json::Value {
    let mut body = simple_text_example();
    body["model"] = json!(model);
    body
}

fn with_file_uri(uri: &str) -> serde_json::Value {
    json!({"contents": [{"role": "user", "parts": [
        {"text": "Describe this."},
        {"fileData": {"mimeType": "image/png", "fileUri": uri}}
    ]}]})
}

#[tokio::test]
async fn models_with_path_tricks_are_refused() {
    let app = spawn_app().await;
    for model in [
        "../files",
        "models/../files",
        "models/gemini-2.5-flash:streamGenerateContent?key=x",
        "models/gemini-2.5-flash?key=x",
        "models/gemini%2f..",
        "models/a/b",
        "tunedModels/mine",
    ] {
        let response = app.converse(&with_model(model)).send().await.unwrap();

        let (status, _, message) = error_of(response).await;
        assert_eq!(status, 400, "{model}");
        assert!(message.starts_with("model:"), "{model}: {message}");
    }
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_model_outside_the_allow_list_is_refused() {
    let app = spawn_app_with(&[("GENERATION_ALLOWED_MODELS", "models/gemini-2.5-*")]).await;

    let response = app
        .converse(&with_model("models/gemini-1.5-pro"))
        .send()
        .await
        .unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "model `models/gemini-1.5-pro` is not allowed here");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_model_matching_the_allow_list_pattern_is_used() {
    let app = spawn_app_with(&[("GENERATION_ALLOWED_MODELS", "models/gemini-2.5-*")]).await;

    let response = app
        .converse(&with_model("gemini-2.5-pro"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(
        app.only_request().path,
        "/v1beta/models/gemini-2.5-pro:generateContent"
    );
}

#[tokio::test]
async fn file_uris_outside_the_gemini_files_api_are_refused() {
    let app = spawn_app().await;
    for uri in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8081/service/auth/v1/health",
        "https://evil.example/v1beta/files/abc123",
        "https://generativelanguage.googleapis.com.evil.example/v1beta/files/abc123",
        "https://generativelanguage.googleapis.com/v1beta/files/abc/../../models",
        "https://generativelanguage.googleapis.com/v1beta/files/abc?key=x",
        "gs://bucket/object",
        "file:///etc/passwd",
    ] {
        let response = app.converse(&with_file_uri(uri)).send().await.unwrap();

        let (status, _, message) = error_of(response).await;
        assert_eq!(status, 400, "{uri}");
        assert!(
            message.contains("fileUri must name a Gemini file"),
            "{uri}: {message}"
        );
    }
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_second_spelling_beside_a_checked_file_uri_is_refused() {
    let app = spawn_app().await;
    let mut body = with_file_uri(&format!("files/{README_FILE_ID}"));
    body["contents"][0]["parts"][1]["fileData"]["file_uri"] = json!("https://evil.example/x");

    let response = app.converse(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("file_uri"), "{message}");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_file_uri_in_the_system_instruction_is_checked_too() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["systemInstruction"] = json!({"parts": [
        {"fileData": {"mimeType": "text/plain", "fileUri": "http://10.0.0.1/secrets"}}
    ]});

    let response = app.converse(&body).send().await.unwrap();

    assert_eq!(response.status(), 400);
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_file_uri_nested_in_a_function_response_is_checked_too() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["contents"] = json!([{"role": "user", "parts": [{"functionResponse": {
        "name": "lookup",
        "response": {"ok": true},
        "parts": [{"fileData": {"mimeType": "image/png", "fileUri": "http://10.0.0.1/secrets"}}]
    }}]}]);

    let response = app.converse(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("fileUri"), "{message}");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn file_uris_are_checked_when_counting_tokens() {
    let app = spawn_app().await;

    let response = app
        .tokens(&with_file_uri("http://169.254.169.254/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    assert_eq!(app.gemini.hits(), 0);
}
