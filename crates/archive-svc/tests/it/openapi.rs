//! The served OpenAPI document: every route, each described, with the schemes it needs.

use serde_json::json;
use test_support::openapi::{properties, required, sorted_keys, ServedDocument};

use crate::helpers::*;

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary_and_a_session() {
    let archive = spawn(Backend::GridFs).await;
    let api = ServedDocument::fetch(&archive.app, PREFIX).await;
    assert_eq!(
        api.operations(),
        [
            "DELETE /service/archive/v1/{file_reference}",
            "GET /service/archive/v1/",
            "GET /service/archive/v1/health",
            "GET /service/archive/v1/ready",
            "GET /service/archive/v1/{file_reference}",
            "POST /service/archive/v1/",
        ]
    );
    // Every route but health and readiness needs a session.
    for (method, path) in [
        ("delete", "/{file_reference}"),
        ("get", "/"),
        ("get", "/{file_reference}"),
        ("post", "/"),
    ] {
        assert_eq!(
            api.operation(method, path)["security"],
            json!([{"api_key": [], "bearer": []}]),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn the_file_schema_has_exactly_the_fields_uploads_and_lists_answer() {
    let archive = spawn(Backend::GridFs).await;
    let api = ServedDocument::fetch(&archive.app, PREFIX).await;
    let ada = archive.user("ada@example.com").await;
    let uploaded = archive
        .upload_ok(&ada, file("pixel.png", "image/png", PNG))
        .await;
    let listed = json(archive.list(&ada).send().await.unwrap()).await;

    let created =
        &api.operation("post", "/")["responses"]["201"]["content"]["application/json"]["schema"];
    let schema = api.resolve(created);
    let every_field = properties(schema);
    assert_eq!(required(schema), every_field, "every field is always sent");
    assert_eq!(sorted_keys(&uploaded), every_field);
    assert_eq!(sorted_keys(&listed[0]), every_field);
    assert_eq!(schema["properties"]["size"]["type"], "integer");
    assert_eq!(
        schema["properties"]["declared_mimetype"]["type"],
        json!(["string", "null"])
    );

    let list = api.response_schema("get", "/", "200");
    assert_eq!(list["type"], "array");
    assert_eq!(list["items"], *created);

    let id = uploaded["_id"].as_str().unwrap();
    let deleted = json(archive.delete(&ada, id).await).await;
    let schema = api.response_schema("delete", "/{file_reference}", "200");
    assert_eq!(required(schema), sorted_keys(&deleted));
}

#[tokio::test]
async fn uploads_are_multipart_and_downloads_any_type_with_ranges() {
    let archive = spawn(Backend::GridFs).await;
    let api = ServedDocument::fetch(&archive.app, PREFIX).await;

    let form = &api.operation("post", "/")["requestBody"]["content"]["multipart/form-data"];
    let schema = api.resolve(&form["schema"]);
    assert_eq!(required(schema), ["file"]);
    assert_eq!(schema["properties"]["file"]["format"], "binary");
    assert_eq!(
        form["encoding"]["metadata"]["contentType"],
        "application/json"
    );

    let download = api.operation("get", "/{file_reference}");
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
