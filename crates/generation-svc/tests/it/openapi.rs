//! The served OpenAPI document: exactly the routes the service answers, each with a summary
//! and its security, request schemas that admit the original README's bodies, and response
//! schemas that match real answers.

use serde_json::{json, Value};
use test_support::TestApp;

use crate::helpers::*;

const BASE: &str = "/service/generation/v1";

async fn document(app: &TestApp) -> Value {
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200, "served without a key");
    response.json().await.unwrap()
}

fn operation<'a>(doc: &'a Value, path: &str) -> &'a Value {
    let op = &doc["paths"][format!("{BASE}{path}")]["post"];
    assert!(op.is_object(), "POST {path} is not documented");
    op
}

/// Follows a `$ref` into `components.schemas`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
        None => schema,
    }
}

fn properties(schema: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary_and_its_security() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_uppercase()));
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(!summary.trim().is_empty(), "{method} {path} has no summary");
        }
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "GET /service/generation/v1/health",
            "GET /service/generation/v1/ready",
            "POST /service/generation/v1/converse",
            "POST /service/generation/v1/converse/stream",
            "POST /service/generation/v1/file",
            "POST /service/generation/v1/tokens",
        ]
    );
    // A session is optional on conversations: with one, usage counts against the user.
    for path in ["/converse", "/converse/stream"] {
        assert_eq!(
            operation(&doc, path)["security"],
            json!([{"api_key": [], "bearer": []}, {"api_key": []}]),
            "{path}"
        );
    }
    for path in ["/file", "/tokens"] {
        assert_eq!(
            operation(&doc, path)["security"],
            json!([{"api_key": []}]),
            "{path}"
        );
    }
}

#[tokio::test]
async fn request_bodies_are_documented_with_their_media_types_and_fields() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let stream = &operation(&doc, "/converse/stream")["responses"]["200"]["content"];
    assert!(stream["text/event-stream"].is_object(), "{stream}");
    let upload = &operation(&doc, "/file")["requestBody"]["content"]["multipart/form-data"];
    let form = resolve(&doc, &upload["schema"]);
    assert_eq!(form["required"], json!(["file"]));
    assert_eq!(form["properties"]["file"]["format"], "binary");

    // The README's fullest example uses only documented fields, and no others are accepted.
    let converse = resolve(
        &doc,
        &operation(&doc, "/converse")["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(converse["additionalProperties"], false);
    assert_eq!(converse["required"], json!(["contents"]));
    let documented = properties(converse);
    for field in multimodal_example().as_object().unwrap().keys() {
        assert!(
            documented.contains(&field.as_str()),
            "{field} is not documented"
        );
    }
    let tokens = resolve(
        &doc,
        &operation(&doc, "/tokens")["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(properties(tokens), ["contents", "key", "model"]);
}

#[tokio::test]
async fn documented_response_schemas_match_real_answers() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schema_of = |path: &str| {
        resolve(
            &doc,
            &operation(&doc, path)["responses"]["200"]["content"]["application/json"]["schema"],
        )
        .clone()
    };

    let answer: Value = app
        .converse(&simple_text_example())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let converse = schema_of("/converse");
    for field in answer.as_object().unwrap().keys() {
        assert!(
            properties(&converse).contains(&field.as_str()),
            "{field} of a real answer is not described"
        );
    }
    assert!(answer["candidates"].is_array() && answer["usageMetadata"].is_object());

    let counted: Value = app
        .tokens(&json!({"contents": ["Hello world"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens = schema_of("/tokens");
    assert_eq!(tokens["required"], json!(["totalTokens"]));
    assert!(counted["totalTokens"].is_u64(), "{counted}");

    let uploaded: Value = app
        .upload(PNG, "pixel.png", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file = schema_of("/file");
    assert_eq!(file["required"], json!(["fileData"]));
    let described = resolve(&doc, &file["properties"]["fileData"]);
    for field in ["name", "mimeType", "uri", "fileUri", "state"] {
        assert!(
            uploaded["fileData"][field].is_string(),
            "{field} in {uploaded}"
        );
        assert!(
            properties(described).contains(&field),
            "{field} is not described"
        );
    }
}
