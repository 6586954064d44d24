//! The served OpenAPI document: every route, each described, with the schemes it needs.

use serde_json::{json, Value};

use crate::helpers::*;

async fn document(storage: &Storage) -> Value {
    let response = storage
        .app
        .http
        .get(storage.app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "served without a key");
    body(response).await
}

fn operation<'d>(doc: &'d Value, method: &str, path: &str) -> &'d Value {
    let op = &doc["paths"][format!("/service/storage/v1{path}")][method];
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

fn response_schema<'d>(doc: &'d Value, method: &str, path: &str, status: &str) -> &'d Value {
    let schema =
        &operation(doc, method, path)["responses"][status]["content"]["application/json"]["schema"];
    resolve(doc, schema)
}

fn required(schema: &Value) -> Vec<&str> {
    let mut fields: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().map(|f| f.as_str().unwrap()).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    fields
}

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary() {
    let storage = spawn_storage().await;
    let doc = document(&storage).await;

    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_uppercase()));
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(!summary.trim().is_empty(), "{method} {path} has no summary");
            assert!(op["responses"]["default"].is_object(), "{method} {path}");
        }
    }
    listed.sort();
    assert_eq!(
        listed,
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
    let doc = document(&storage).await;
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
            operation(&doc, method, path)["security"],
            session_or_service,
            "{method} {path}"
        );
    }
    for method in ["get", "post"] {
        assert_eq!(
            operation(&doc, method, "/_indexes/{collection}")["security"],
            json!([{"api_key": []}]),
            "{method}"
        );
    }
}

#[tokio::test]
async fn documented_response_schemas_have_the_fields_real_responses_have() {
    let storage = spawn_storage().await;
    let doc = document(&storage).await;

    let inserted = storage.ada().insert("products", readme_products()).await;
    assert_eq!(inserted.status(), 201);
    let inserted = body(inserted).await;
    let schema = response_schema(&doc, "post", "/{collection}", "201");
    assert_eq!(required(schema), ["inserted_ids"]);
    assert_eq!(schema["properties"]["inserted_ids"]["type"], "array");
    assert!(inserted["inserted_ids"].is_array());

    let id = inserted["inserted_ids"][0].as_str().unwrap();
    let updated = storage
        .ada()
        .update_one("products", id, json!({"document": {"$set": {"a": 1}}}))
        .await;
    let updated = body(updated).await;
    let schema = response_schema(&doc, "patch", "/{collection}/{id}", "200");
    assert_eq!(required(schema), ["matched", "modified"]);
    for field in ["matched", "modified"] {
        assert_eq!(schema["properties"][field]["type"], "integer");
        assert!(updated[field].is_u64(), "{updated}");
    }

    let deleted = body(storage.ada().delete_one("products", id).await).await;
    let schema = response_schema(&doc, "delete", "/{collection}/{id}", "200");
    assert_eq!(required(schema), ["deleted"]);
    assert_eq!(deleted, json!({"deleted": 1}));

    // Finds and aggregations answer arrays of objects.
    for (method, path) in [("get", "/{collection}"), ("post", "/{collection}/{id}")] {
        let schema = response_schema(&doc, method, path, "200");
        assert_eq!(schema["type"], "array", "{method} {path}");
        assert_eq!(resolve(&doc, &schema["items"])["type"], "object");
    }

    let created = storage
        .service()
        .create_index("products", json!({"keys": {"sku": 1}}))
        .await;
    assert_eq!(created.status(), 201);
    let schema = response_schema(&doc, "post", "/_indexes/{collection}", "201");
    assert_eq!(required(schema), ["name"]);
    let listed = body(storage.service().list_indexes("products").await).await;
    let schema = response_schema(&doc, "get", "/_indexes/{collection}", "200");
    let item = resolve(&doc, &schema["items"]);
    assert_eq!(required(item), ["keys", "name", "unique"]);
    for index in listed.as_array().unwrap() {
        let mut fields: Vec<&str> = index
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        fields.sort_unstable();
        assert_eq!(fields, ["keys", "name", "unique"], "{index}");
        assert!(index["name"].is_string(), "{index}");
    }
}

#[tokio::test]
async fn request_bodies_say_what_the_handlers_require() {
    let storage = spawn_storage().await;
    let doc = document(&storage).await;
    let body_schema = |method: &str, path: &str| {
        let schema =
            &operation(&doc, method, path)["requestBody"]["content"]["application/json"]["schema"];
        resolve(&doc, schema).clone()
    };
    assert_eq!(
        required(&body_schema("post", "/{collection}")),
        ["documents"]
    );
    assert_eq!(
        required(&body_schema("patch", "/{collection}")),
        ["document", "query"]
    );
    assert_eq!(required(&body_schema("delete", "/{collection}")), ["query"]);
    assert_eq!(
        required(&body_schema("patch", "/{collection}/{id}")),
        ["document"]
    );
    assert_eq!(
        required(&body_schema("post", "/{collection}/{id}")),
        ["pipeline"]
    );
    // Unknown fields are refused, and the document says so.
    assert_eq!(
        body_schema("post", "/{collection}")["additionalProperties"],
        false
    );
    // The aggregation route only takes `aggregate` as its last segment.
    let id = operation(&doc, "post", "/{collection}/{id}")["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "id")
        .cloned()
        .unwrap();
    assert_eq!(id["schema"]["pattern"], "^aggregate$");
}
