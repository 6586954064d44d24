//! The served OpenAPI document: every route, each described, with the schemes it needs.

use serde_json::json;
use test_support::openapi::{required, sorted_keys, ServedDocument};

use crate::helpers::*;

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary() {
    let storage = spawn_storage().await;
    let api = ServedDocument::fetch(&storage.app, BASE).await;
    assert_eq!(
        api.operations(),
        [
            "DELETE /service/storage/v1/{collection}",
            "DELETE /service/storage/v1/{collection}/{id}",
            "GET /service/storage/v1/_indexes/{collection}",
            "GET /service/storage/v1/health",
            "GET /service/storage/v1/ready",
            "GET /service/storage/v1/{collection}",
            "GET /service/storage/v1/{collection}/{id}",
            "PATCH /service/storage/v1/{collection}",
            "PATCH /service/storage/v1/{collection}/{id}",
            "POST /service/storage/v1/_indexes/{collection}",
            "POST /service/storage/v1/{collection}",
            "POST /service/storage/v1/{collection}/{id}",
        ]
    );
}

#[tokio::test]
async fn document_routes_take_a_session_or_an_admin_key_and_index_routes_the_key_alone() {
    let storage = spawn_storage().await;
    let api = ServedDocument::fetch(&storage.app, BASE).await;
    let session_or_service = json!([{"api_key": [], "bearer": []}, {"api_key": []}]);
    for (method, path) in [
        ("get", "/{collection}"),
        ("post", "/{collection}"),
        ("patch", "/{collection}"),
        ("delete", "/{collection}"),
        ("get", "/{collection}/{id}"),
        ("patch", "/{collection}/{id}"),
        ("delete", "/{collection}/{id}"),
        ("post", "/{collection}/{id}"),
    ] {
        assert_eq!(
            api.operation(method, path)["security"],
            session_or_service,
            "{method} {path}"
        );
    }
    for method in ["get", "post"] {
        assert_eq!(
            api.operation(method, "/_indexes/{collection}")["security"],
            json!([{"api_key": []}]),
            "{method}"
        );
    }
}

#[tokio::test]
async fn documented_response_schemas_have_the_fields_real_responses_have() {
    let storage = spawn_storage().await;
    let api = ServedDocument::fetch(&storage.app, BASE).await;

    let inserted = storage.ada().insert("products", readme_products()).await;
    assert_eq!(inserted.status(), 201);
    let inserted = body(inserted).await;
    let schema = api.response_schema("post", "/{collection}", "201");
    assert_eq!(required(schema), ["inserted_ids"]);
    assert_eq!(schema["properties"]["inserted_ids"]["type"], "array");
    assert!(inserted["inserted_ids"].is_array());

    let id = inserted["inserted_ids"][0].as_str().unwrap();
    let updated = storage
        .ada()
        .update_one("products", id, json!({"document": {"$set": {"a": 1}}}))
        .await;
    let updated = body(updated).await;
    let schema = api.response_schema("patch", "/{collection}/{id}", "200");
    assert_eq!(required(schema), ["matched", "modified"]);
    for field in ["matched", "modified"] {
        assert_eq!(schema["properties"][field]["type"], "integer");
        assert!(updated[field].is_u64(), "{updated}");
    }

    let deleted = body(storage.ada().delete_one("products", id).await).await;
    let schema = api.response_schema("delete", "/{collection}/{id}", "200");
    assert_eq!(required(schema), ["deleted"]);
    assert_eq!(deleted, json!({"deleted": 1}));

    // Finds and aggregations answer arrays of objects.
    for (method, path) in [("get", "/{collection}"), ("post", "/{collection}/{id}")] {
        let schema = api.response_schema(method, path, "200");
        assert_eq!(schema["type"], "array", "{method} {path}");
        assert_eq!(api.resolve(&schema["items"])["type"], "object");
    }

    let created = storage
        .service()
        .create_index("products", json!({"keys": {"sku": 1}}))
        .await;
    assert_eq!(created.status(), 201);
    let schema = api.response_schema("post", "/_indexes/{collection}", "201");
    assert_eq!(required(schema), ["name"]);
    let listed = body(storage.service().list_indexes("products").await).await;
    let schema = api.response_schema("get", "/_indexes/{collection}", "200");
    let item = api.resolve(&schema["items"]);
    assert_eq!(required(item), ["keys", "name", "unique"]);
    for index in listed.as_array().unwrap() {
        assert_eq!(sorted_keys(index), ["keys", "name", "unique"], "{index}");
        assert!(index["name"].is_string(), "{index}");
    }
}

#[tokio::test]
async fn request_bodies_say_what_the_handlers_require() {
    let storage = spawn_storage().await;
    let api = ServedDocument::fetch(&storage.app, BASE).await;
    for (method, path, fields) in [
        ("post", "/{collection}", &["documents"][..]),
        ("patch", "/{collection}", &["document", "query"]),
        ("delete", "/{collection}", &["query"]),
        ("patch", "/{collection}/{id}", &["document"]),
        ("post", "/{collection}/{id}", &["pipeline"]),
    ] {
        assert_eq!(
            required(api.request_schema(method, path)),
            fields,
            "{method} {path}"
        );
    }
    // Unknown fields are refused, and the document says so.
    assert_eq!(
        api.request_schema("post", "/{collection}")["additionalProperties"],
        false
    );
    // The aggregation route only takes `aggregate` as its last segment.
    let id = api.operation("post", "/{collection}/{id}")["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "id")
        .cloned()
        .unwrap();
    assert_eq!(id["schema"]["pattern"], "^aggregate$");
}
