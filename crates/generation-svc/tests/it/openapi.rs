//! The served OpenAPI document: exactly the routes the service answers, each with a summary
//! and its security, request schemas that admit the original README's bodies, and response
//! schemas that match real answers.

use serde_json::json;
use test_support::openapi::{answer, properties, ServedDocument};

use crate::helpers::*;

const BASE: &str = "/service/generation/v1";

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary_and_its_security() {
    let app = spawn_app().await;
    let api = ServedDocument::fetch(&app, BASE).await;
    assert_eq!(
        api.operations(),
        [
            "GET /service/generation/v1/health",
            "GET /service/generation/v1/ready",
            "POST /service/generation/v1/converse",
            "POST /service/generation/v1/converse/stream",
            "POST /service/generation/v1/file",
            "POST /service/generation/v1/tokens",
        ]
    );
    // A session is optional everywhere: with one, usage counts against the user and
    // uploaded files are theirs.
    for path in ["/converse", "/converse/stream", "/file", "/tokens"] {
        assert_eq!(
            api.operation("post", path)["security"],
            json!([{"api_key": [], "bearer": []}, {"api_key": []}]),
            "{path}"
        );
    }
}

#[tokio::test]
async fn request_bodies_are_documented_with_their_media_types_and_fields() {
    let app = spawn_app().await;
    let api = ServedDocument::fetch(&app, BASE).await;
    let stream = &api.operation("post", "/converse/stream")["responses"]["200"]["content"];
    assert!(stream["text/event-stream"].is_object(), "{stream}");
    let upload = &api.operation("post", "/file")["requestBody"]["content"]["multipart/form-data"];
    let form = api.resolve(&upload["schema"]);
    assert_eq!(form["required"], json!(["file"]));
    assert_eq!(form["properties"]["file"]["format"], "binary");

    // The README's fullest example uses only documented fields, and no others are accepted.
    let converse = api.request_schema("post", "/converse");
    assert_eq!(converse["additionalProperties"], false);
    assert_eq!(converse["required"], json!(["contents"]));
    let documented = properties(converse);
    for field in multimodal_example().as_object().unwrap().keys() {
        assert!(documented.contains(field), "{field} is not documented");
    }
    let tokens = api.request_schema("post", "/tokens");
    assert_eq!(properties(tokens), ["contents", "key", "model"]);
}

#[tokio::test]
async fn documented_response_schemas_match_real_answers() {
    let app = spawn_app().await;
    let api = ServedDocument::fetch(&app, BASE).await;
    let schema_of = |path: &str| api.response_schema("post", path, "200");

    let answered = answer(app.converse(&simple_text_example())).await;
    let described = properties(schema_of("/converse"));
    for field in answered.as_object().unwrap().keys() {
        assert!(
            described.contains(field),
            "{field} of a real answer is not described"
        );
    }
    assert!(answered["candidates"].is_array() && answered["usageMetadata"].is_object());

    let counted = answer(app.tokens(&json!({"contents": ["Hello world"]}))).await;
    assert_eq!(schema_of("/tokens")["required"], json!(["totalTokens"]));
    assert!(counted["totalTokens"].is_u64(), "{counted}");

    let uploaded = answer(app.upload(PNG, "pixel.png", None)).await;
    let file = schema_of("/file");
    assert_eq!(file["required"], json!(["fileData"]));
    let described = properties(api.resolve(&file["properties"]["fileData"]));
    for field in ["name", "mimeType", "uri", "fileUri", "state"] {
        assert!(
            uploaded["fileData"][field].is_string(),
            "{field} in {uploaded}"
        );
        assert!(
            described.iter().any(|name| name == field),
            "{field} is not described"
        );
    }
}
