use mongodb::bson::oid::ObjectId;
use serde_json::json;

use crate::helpers::*;

fn readme_update() -> serde_json::Value {
    json!({
        "document": {
            "$set": {"name": "Updated Product Name", "last_modified": "2024-01-15T10:30:00Z"},
            "$inc": {"view_count": 1}
        }
    })
}

#[tokio::test]
async fn the_readme_set_and_inc_example_updates_one_document() {
    let storage = spawn_storage().await;
    let ids = storage.ada().insert_ok("products", readme_products()).await;

    let response = storage
        .ada()
        .update_one("products", &ids[0], readme_update())
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await, json!({"matched": 1, "modified": 1}));
    let updated = body(storage.ada().find_one("products", &ids[0]).await).await;
    assert_eq!(updated["name"], "Updated Product Name");
    assert_eq!(updated["last_modified"], "2024-01-15T10:30:00Z");
    assert_eq!(updated["view_count"], 1);
    let other = body(storage.ada().find_one("products", &ids[1]).await).await;
    assert_eq!(other["name"], "Product 2");
}

#[tokio::test]
async fn a_single_extended_json_value_is_pushed_as_that_type() {
    let storage = spawn_storage().await;
    let ids = storage
        .ada()
        .insert_ok("events", json!([{"name": "launch"}]))
        .await;

    let push = json!({"document": {"$push": {"dates": {"$date": "2024-01-01T00:00:00Z"}}}});
    let response = storage.ada().update_one("events", &ids[0], push).await;

    assert_eq!(response.status(), 200);
    let stored = storage.stored("events").await;
    let dates = stored[0].get_array("dates").unwrap();
    assert_eq!(
        dates[0],
        mongodb::bson::Bson::DateTime(mongodb::bson::DateTime::from_millis(1_704_067_200_000))
    );
}

#[tokio::test]
async fn updating_a_missing_document_is_404() {
    let storage = spawn_storage().await;

    let response = storage
        .ada()
        .update_one("products", &ObjectId::new().to_hex(), readme_update())
        .await;

    assert_eq!(error(response).await, (404, "not_found".into()));
}

#[tokio::test]
async fn the_readme_update_many_example_archives_old_documents() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok(
            "products",
            json!([
                {"name": "old", "created_date": "2022-06-01T00:00:00Z"},
                {"name": "older", "created_date": "2021-06-01T00:00:00Z"},
                {"name": "new", "created_date": "2024-06-01T00:00:00Z"}
            ]),
        )
        .await;

    let response = storage
        .ada()
        .update_many(
            "products",
            json!({
                "document": {"$set": {"status": "archived"}},
                "query": {"created_date": {"$lt": "2023-01-01T00:00:00Z"}}
            }),
        )
        .await;

    assert_eq!(body(response).await, json!({"matched": 2, "modified": 2}));
    let archived = storage
        .ada()
        .find_ok("products", &[("query", r#"{"status":"archived"}"#)])
        .await;
    assert_eq!(archived.len(), 2);
}

#[tokio::test]
async fn update_many_without_a_query_is_refused_and_nothing_changes() {
    let storage = spawn_storage().await;
    storage.ada().insert_ok("products", readme_products()).await;
    let before = storage.stored("products").await;

    let response = storage
        .ada()
        .update_many(
            "products",
            json!({"document": {"$set": {"status": "archived"}}}),
        )
        .await;

    assert_eq!(error(response).await.0, 400);
    assert_eq!(storage.stored("products").await, before);
}

#[tokio::test]
async fn refused_updates_leave_the_document_unchanged() {
    let storage = spawn_storage().await;
    let ids = storage
        .ada()
        .insert_ok("notes", json!([{"text": "keep"}]))
        .await;
    let before = storage.stored("notes").await;
    let refused = [
        json!({"document": {"text": "replacement"}}),
        json!({"document": [{"$set": {"text": "pipeline"}}]}),
        json!({"document": {"$set": {"_owner": storage.bob.user_id}}}),
        json!({"document": {"$unset": {"_owner": ""}}}),
        json!({"document": {"$rename": {"text": "_owner"}}}),
        json!({"document": {"$setOnInsert": {"text": "x"}}}),
        json!({"document": {"$set": {"profile": {"$where": "1"}}}}),
        json!({"document": {"$set": {"p": {"__proto__": {"admin": true}}}}}),
        json!({"document": {"$set": {"constructor": {"prototype": {"admin": true}}}}}),
        json!({"document": {"$set": {"p.__proto__": {"admin": true}}}}),
        json!({"document": {"$rename": {"text": "p.__proto__"}}}),
        json!({"document": {}}),
        json!({"query": {}}),
    ];
    for body in refused {
        let response = storage
            .ada()
            .update_one("notes", &ids[0], body.clone())
            .await;
        assert_eq!(error(response).await.0, 400, "{body}");
    }
    assert_eq!(storage.stored("notes").await, before);
}

#[tokio::test]
async fn a_refused_filter_in_update_many_changes_nothing() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("notes", json!([{"text": "keep"}]))
        .await;
    let before = storage.stored("notes").await;

    let response = storage
        .ada()
        .update_many(
            "notes",
            json!({"document": {"$set": {"text": "gone"}}, "query": {"$where": "true"}}),
        )
        .await;

    assert_eq!(error(response).await.0, 400);
    assert_eq!(storage.stored("notes").await, before);
}

#[tokio::test]
async fn an_update_the_database_refuses_is_a_clean_400() {
    let storage = spawn_storage().await;
    let ids = storage
        .ada()
        .insert_ok("notes", json!([{"text": "keep"}]))
        .await;

    let response = storage
        .ada()
        .update_one("notes", &ids[0], json!({"document": {"$inc": {"text": 1}}}))
        .await;

    let status = response.status();
    let body = body(response).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["message"],
        "the database refused this request"
    );
}
