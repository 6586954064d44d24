//! The served OpenAPI document: every route, each described, with the schemes it needs.

use serde_json::{json, Value};

use crate::helpers::*;

async fn document(archive: &Archive) -> Value {
    let response = archive
        .app
        .http
        .get(archive.app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "served without a key");
    json(response).await
}

fn operation<'d>(doc: &'d Value, method: &str, path: &str) -> &'d Value {
    let op = &doc["paths"][format!("{PREFIX}{path}")][method];
    assert!(op.is_object(), "{method} {path} is documented");
    op
}

/// The schema a `$ref` points at.
fn resolve<'d>(doc: &'d Value, schema: &'d Value) -> &'d Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn sorted_keys(object: &Value) -> Vec<String> {
    let mut keys: Vec<String> = object.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn required(schema: &Value) -> Vec<String> {
    let mut fields: Vec<String> = schema["required"]
        .as_array()
        .map(|r| r.iter().map(|f| f.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    fields.sort();
    fields
}

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary_and_a_session() {
    let archive = spawn(Backend::GridFs).await;
    let doc = document(&archive).await;

    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_uppercase()));
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(!summary.trim().is_empty(), "{method} {path} has no summary");
            assert!(op["responses"]["default"].is_object(), "{method} {path}");
            if !path.ends_with("/health") && !path.ends_with("/ready") {
                assert_eq!(
                    op["security"],
                    json!([{"api_key": [], "bearer": []}]),
                    "{method} {path}"
                );
            }
        }
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "DELETE /service/archive/v1/{file_reference}",
            "GET /service/archive/v1/",
            "GET /service/archive/v1/health",
            "GET /service/archive/v1/ready",
            "GET /service/archive/v1/{file_reference}",
            "POST /service/archive/v1/",
        ]
    );
}

#[tokio::test]
async fn the_file_schema_has_exactly_the_fields_uploads_and_lists_answer() {
    let archive = spawn(Backend::GridFs).await;
    let doc = document(&archive).await;
    let ada = archive.user("ada@example.com").await;
    let uploaded = archive
        .upload_ok(&ada, file("pixel.png", "image/png", PNG))
        .await;
    let listed = json(archive.list(&ada).send().await.unwrap()).await;

    let created =
        &operation(&doc, "post", "/")["responses"]["201"]["content"]["application/json"]["schema"];
    let schema = resolve(&doc, created);
    let every_field = sorted_keys(&schema["properties"]);
    assert_eq!(required(schema), every_field, "every field is always sent");
    assert_eq!(sorted_keys(&uploaded), every_field);
    assert_eq!(sorted_keys(&listed[0]), every_field);
    assert_eq!(schema["properties"]["size"]["type"], "integer");
    assert_eq!(
        schema["properties"]["declared_mimetype"]["type"],
        json!(["string", "null"])
    );

    let list =
        &operation(&doc, "get", "/")["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(list["type"], "array");
    assert_eq!(list["items"], *created);

    let id = uploaded["_id"].as_str().unwrap();
    let deleted = json(archive.delete(&ada, id).await).await;
    let schema = resolve(
        &doc,
        &operation(&doc, "delete", "/{file_reference}")["responses"]["200"]["content"]
            ["application/json"]["schema"],
    );
    assert_eq!(required(schema), sorted_keys(&deleted));
}

#[tokio::test]
async fn uploads_are_multipart_and_downloads_any_type_with_ranges() {
    let archive = spawn(Backend::GridFs).await;
    let doc = document(&archive).await;

    let form = &operation(&doc, "post", "/")["requestBody"]["content"]["multipart/form-data"];
    let schema = resolve(&doc, &form["schema"]);
    assert_eq!(required(schema), ["file"]);
    assert_eq!(schema["properties"]["file"]["format"], "binary");
    assert_eq!(
        form["encoding"]["metadata"]["contentType"],
        "application/json"
    );

    let download = operation(&doc, "get", "/{file_reference}");
    for status in ["200", "206"] {
        assert!(
            download["responses"][status]["content"]["*/*"].is_object(),
            "{status}"
        );
    }
    assert!(download["responses"]["304"]["content"].is_null());
    assert!(download["responses"]["416"].is_object());
    let headers: Vec<&str> = download["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(headers, ["Range", "If-Range", "If-None-Match"]);
}
