use mongodb::bson::oid::ObjectId;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_document_is_deleted_by_id() {
    let storage = spawn_storage().await;
    let ids = storage.ada().insert_ok("products", readme_products()).await;

    let response = storage.ada().delete_one("products", &ids[0]).await;

    assert_eq!(body(response).await, json!({"deleted": 1}));
    let stored = storage.stored("products").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get_str("name").unwrap(), "Product 2");
}

#[tokio::test]
async fn deleting_a_missing_document_is_404() {
    let storage = spawn_storage().await;

    let response = storage
        .ada()
        .delete_one("products", &ObjectId::new().to_hex())
        .await;

    assert_eq!(error(response).await, (404, "not_found".into()));
}

#[tokio::test]
async fn the_readme_delete_many_example_deletes_matching_documents() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok(
            "products",
            json!([
                {"status": "inactive", "last_login": "2022-01-01T00:00:00Z"},
                {"status": "inactive", "last_login": "2024-01-01T00:00:00Z"},
                {"status": "active", "last_login": "2022-01-01T00:00:00Z"}
            ]),
        )
        .await;

    let response = storage
        .ada()
        .delete_many(
            "products",
            json!({"query": {"status": "inactive", "last_login": {"$lt": "2023-01-01T00:00:00Z"}}}),
        )
        .await;

    assert_eq!(body(response).await, json!({"deleted": 1}));
    assert_eq!(storage.stored("products").await.len(), 2);
}

#[tokio::test]
async fn delete_many_without_a_query_is_refused_and_nothing_is_deleted() {
    let storage = spawn_storage().await;
    storage.ada().insert_ok("products", readme_products()).await;

    let response = storage.ada().delete_many("products", json!({})).await;

    assert_eq!(error(response).await.0, 400);
    assert_eq!(storage.stored("products").await.len(), 2);
}

#[tokio::test]
async fn delete_many_with_an_explicit_empty_query_deletes_everything_reachable() {
    let storage = spawn_storage().await;
    storage.ada().insert_ok("products", readme_products()).await;

    let response = storage
        .ada()
        .delete_many("products", json!({"query": {}}))
        .await;

    assert_eq!(body(response).await, json!({"deleted": 2}));
    assert!(storage.stored("products").await.is_empty());
}

#[tokio::test]
async fn delete_many_with_a_refused_operator_deletes_nothing() {
    let storage = spawn_storage().await;
    storage.ada().insert_ok("products", readme_products()).await;

    let response = storage
        .ada()
        .delete_many("products", json!({"query": {"$where": "true"}}))
        .await;

    assert_eq!(error(response).await.0, 400);
    assert_eq!(storage.stored("products").await.len(), 2);
}
