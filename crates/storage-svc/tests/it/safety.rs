//! Refused input: reserved collections and fields, operators outside the allow-lists,
//! malformed values, limits, and database failures, always as clean 4xx/503 JSON errors.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn reserved_collections_are_forbidden_for_every_operation() {
    let storage = spawn_storage().await;
    let before = storage.stored("_USERS").await;
    for collection in ["_USERS", "_SESSIONS", "_ARCHIVE", "system.users"] {
        let responses = [
            storage.ada().find(collection, &[]).await,
            storage
                .ada()
                .find_one(collection, &storage.ada.user_id)
                .await,
            storage
                .ada()
                .insert(collection, json!([{"_key": "x"}]))
                .await,
            storage
                .ada()
                .update_many(
                    collection,
                    json!({"document": {"$set": {"a": 1}}, "query": {}}),
                )
                .await,
            storage
                .ada()
                .delete_many(collection, json!({"query": {}}))
                .await,
            storage.ada().aggregate(collection, json!([])).await,
        ];
        for response in responses {
            assert_eq!(
                error(response).await,
                (403, "forbidden".into()),
                "{collection}"
            );
        }
    }
    assert_eq!(storage.stored("_USERS").await, before);
}

#[tokio::test]
async fn reserved_collections_are_forbidden_to_the_service_role_too() {
    let storage = spawn_storage().await;

    let response = storage.service().find("_USERS", &[]).await;

    assert_eq!(error(response).await, (403, "forbidden".into()));
}

#[tokio::test]
async fn names_no_collection_can_have_are_404() {
    let storage = spawn_storage().await;
    for collection in ["a$b", "$cmd", "a%00b", "x%20y"] {
        let response = storage.ada().find(collection, &[]).await;
        assert_eq!(
            error(response).await,
            (404, "not_found".into()),
            "{collection}"
        );
    }
}

#[tokio::test]
async fn code_running_query_operators_are_refused() {
    let storage = spawn_storage().await;
    for query in [
        json!({"$where": "sleep(1000) || true"}),
        json!({"$expr": {"$function": {"body": "function() {return true}", "args": [], "lang": "js"}}}),
        json!({"a": {"$accumulator": {}}}),
        json!({"$text": {"$search": "x"}}),
        json!({"$expr": {"$regexMatch": {"input": "$name", "regex": "a".repeat(1_000)}}}),
    ] {
        let response = storage
            .ada()
            .find("notes", &[("query", &query.to_string())])
            .await;
        assert_eq!(
            error(response).await,
            (400, "bad_request".into()),
            "{query}"
        );
    }
}

/// MongoDB answers operators it does not document: `$_internalJsEmit` runs JavaScript, and
/// `$_internalFindAllValuesAtPath` reads a field named by a plain string. Expressions take
/// only documented operators, so these are refused here, before any database sees them.
#[tokio::test]
async fn undocumented_expression_operators_are_refused_by_name() {
    let storage = spawn_storage().await;
    let js = json!({"$_internalJsEmit": {"eval": "function() {for(;;){}}", "this": {}}});
    let by_name = json!({"$_internalFindAllValuesAtPath": "_owner"});
    let found = |expression: &Value| json!({"$expr": {"$in": ["x", expression]}}).to_string();
    let responses = [
        storage.ada().find("notes", &[("query", &found(&js))]).await,
        storage
            .ada()
            .find("notes", &[("query", &found(&by_name))])
            .await,
        storage
            .ada()
            .aggregate("notes", json!([{"$project": {"v": by_name}}]))
            .await,
    ];
    for (response, operator) in responses.into_iter().zip([
        "$_internalJsEmit",
        "$_internalFindAllValuesAtPath",
        "$_internalFindAllValuesAtPath",
    ]) {
        assert_eq!(response.status(), 400);
        let message = body(response).await["error"]["message"].to_string();
        assert!(
            message.contains(&format!("`{operator}` is not allowed")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn the_owner_cannot_be_filtered_sorted_or_projected() {
    let storage = spawn_storage().await;
    let id = &storage.bob.user_id;
    let owner_filter = json!({"_owner": id}).to_string();
    let nested_filter = json!({"$or": [{"_owner": id}]}).to_string();
    let expr_filter = json!({"$expr": {"$eq": ["$_owner", id]}}).to_string();
    let get_field_filter = json!({"$expr": {"$eq": [{"$getField": "_owner"}, id]}}).to_string();
    let root_filter =
        json!({"$expr": {"$in": [id, {"$map": {"input": {"$objectToArray": "$$ROOT"}, "in": "$$this.v"}}]}})
            .to_string();
    let cases = [
        ("query", owner_filter.as_str()),
        ("query", nested_filter.as_str()),
        ("query", expr_filter.as_str()),
        ("query", get_field_filter.as_str()),
        ("query", root_filter.as_str()),
        ("sort", r#"{"_owner":1}"#),
        ("keys", r#"{"_owner":1}"#),
    ];
    for (param, value) in cases {
        let response = storage.ada().find("notes", &[(param, value)]).await;
        assert_eq!(error(response).await.0, 400, "{param}={value}");
    }
}

#[tokio::test]
async fn keys_accept_only_zero_one_or_projection_operators() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("notes", json!([{"tags": [1, 2, 3], "text": "t"}]))
        .await;
    for keys in [
        r#"{"text":2}"#,
        r#"{"text":"$tags"}"#,
        r#"{"text":{"$literal":1}}"#,
        r#"{"a":1,"b":0}"#,
    ] {
        let response = storage.ada().find("notes", &[("keys", keys)]).await;
        assert_eq!(error(response).await.0, 400, "{keys}");
    }

    let sliced = storage
        .ada()
        .find_ok("notes", &[("keys", r#"{"tags":{"$slice":1}}"#)])
        .await;

    assert_eq!(sliced[0]["tags"], json!([1]));
}

#[tokio::test]
async fn sort_accepts_only_one_or_minus_one() {
    let storage = spawn_storage().await;
    for sort in [
        r#"{"n":2}"#,
        r#"{"n":"asc"}"#,
        r#"{"n":{"$meta":"textScore"}}"#,
        "[1]",
    ] {
        let response = storage.ada().find("notes", &[("sort", sort)]).await;
        assert_eq!(error(response).await.0, 400, "{sort}");
    }
}

#[tokio::test]
async fn deeply_nested_json_is_refused() {
    let storage = spawn_storage().await;
    let mut nested = json!(1);
    for _ in 0..40 {
        nested = json!({ "a": nested });
    }

    let find = storage
        .ada()
        .find("notes", &[("query", &nested.to_string())])
        .await;
    let insert = storage.ada().insert("notes", json!([nested])).await;

    assert_eq!(error(find).await.0, 400);
    assert_eq!(error(insert).await.0, 400);
    assert!(storage.stored("notes").await.is_empty());
}

#[tokio::test]
async fn an_oversized_body_is_413_and_nothing_is_written() {
    let storage = spawn_storage_with(&[("MAX_JSON_BYTES", "1024")]).await;

    let response = storage
        .ada()
        .insert("notes", json!([{"text": "x".repeat(2048)}]))
        .await;

    assert_eq!(error(response).await, (413, "payload_too_large".into()));
    assert!(storage.stored("notes").await.is_empty());
}

#[tokio::test]
async fn wrong_types_in_a_body_are_400() {
    let storage = spawn_storage().await;
    let response = storage
        .ada()
        .request(Method::POST, "/notes")
        .json(&json!({"documents": "not a list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error(response).await.0, 400);
    let response = storage.ada().insert("notes", json!([1, 2])).await;
    assert_eq!(error(response).await.0, 400);
}

#[tokio::test]
async fn an_overlong_id_is_400() {
    let storage = spawn_storage().await;

    let response = storage.ada().find_one("notes", &"x".repeat(300)).await;

    assert_eq!(error(response).await, (400, "bad_request".into()));
}

#[tokio::test]
async fn an_unreachable_database_is_503_with_retry_after() {
    let storage = spawn_storage_with(&[
        (
            "MONGODB_URI",
            "mongodb://127.0.0.1:9/?directConnection=true",
        ),
        ("MONGODB_SERVER_SELECTION_TIMEOUT_MS", "300"),
        ("MONGODB_CONNECT_TIMEOUT_MS", "300"),
    ])
    .await;

    let response = storage.service().find("notes", &[]).await;

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let text = response.text().await.unwrap();
    assert!(!text.contains("127.0.0.1"), "{text}");
}

#[tokio::test]
async fn errors_have_the_common_shape() {
    let storage = spawn_storage().await;

    let response = storage.ada().find("notes", &[("limit", "5000")]).await;

    let body = body(response).await;
    assert_eq!(body["error"]["code"], "bad_request");
    assert_eq!(
        body["error"]["message"],
        "`limit` must be a whole number from 1 to 1000"
    );
    assert!(body["request_id"].is_string());
}

#[tokio::test]
async fn nul_characters_in_nested_field_names_are_400_not_500() {
    // BSON cannot encode them; the driver used to fail building the command (500).
    let storage = spawn_storage().await;
    let ids = storage
        .ada()
        .insert_ok("notes", json!([{"a": 1, "tags": [1]}]))
        .await;
    for (param, value) in [
        ("query", json!({"a": {"b\u{0}": 1}})),
        ("query", json!({"a": {"$in": [{"b\u{0}": 1}]}})),
        (
            "query",
            json!({"$expr": {"$eq": ["$a", {"$literal": {"b\u{0}": 1}}]}}),
        ),
        (
            "keys",
            json!({"tags": {"$elemMatch": {"b": {"c\u{0}": 1}}}}),
        ),
    ] {
        let response = storage
            .ada()
            .find("notes", &[(param, &value.to_string())])
            .await;
        assert_eq!(
            error(response).await,
            (400, "bad_request".into()),
            "{value}"
        );
    }
    for pipeline in [
        json!([{"$project": {"x": {"$literal": {"b\u{0}": 1}}}}]),
        json!([{"$replaceWith": {"x\u{0}": 1}}]),
    ] {
        let response = storage.ada().aggregate("notes", pipeline.clone()).await;
        assert_eq!(
            error(response).await,
            (400, "bad_request".into()),
            "{pipeline}"
        );
    }
    let response = storage
        .ada()
        .update_one(
            "notes",
            &ids[0],
            json!({"document": {"$pull": {"tags": {"b\u{0}": 1}}}}),
        )
        .await;
    assert_eq!(error(response).await, (400, "bad_request".into()));
    let response = storage
        .ada()
        .delete_many("notes", json!({"query": {"a": {"b\u{0}": 1}}}))
        .await;
    assert_eq!(error(response).await, (400, "bad_request".into()));
}

/// A filter whose every evaluation builds a large array: slow on any collection of size.
fn slow_filter() -> Value {
    json!({"$expr": {"$gt": [{"$size": {"$range": [0, 300000]}}, 0]}})
}

async fn slow_collection() -> Storage {
    let storage = spawn_storage_with(&[("STORAGE_MAX_TIME_MS", "100")]).await;
    let documents: Vec<Value> = (0..200).map(|n| json!({"n": n})).collect();
    storage
        .ada()
        .insert_ok("notes", Value::Array(documents))
        .await;
    storage
}

#[tokio::test]
async fn a_find_slower_than_the_time_limit_is_503() {
    let storage = slow_collection().await;
    let query = slow_filter().to_string();
    let started = std::time::Instant::now();
    let response = storage.ada().find("notes", &[("query", &query)]).await;
    assert_eq!(response.status(), 503, "after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_bulk_write_whose_filter_is_too_slow_is_503_and_writes_nothing() {
    let storage = slow_collection().await;
    let response = storage
        .ada()
        .update_many(
            "notes",
            json!({"query": slow_filter(), "document": {"$set": {"touched": true}}}),
        )
        .await;
    assert_eq!(response.status(), 503);
    let response = storage
        .ada()
        .delete_many("notes", json!({"query": slow_filter()}))
        .await;
    assert_eq!(response.status(), 503);
    // Long enough for a write the server kept running to have finished.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let stored = storage.stored("notes").await;
    assert_eq!(stored.len(), 200);
    assert!(stored.iter().all(|d| !d.contains_key("touched")));
}
