//! Access policies: `private` (default), `shared`, `read-only`, and the service role.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn users_of_a_private_collection_find_only_their_own_documents() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("notes", json!([{"text": "ada's"}]))
        .await;
    storage
        .bob()
        .insert_ok("notes", json!([{"text": "bob's"}]))
        .await;

    let found = storage.bob().find_ok("notes", &[]).await;

    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["text"], "bob's");
}

#[tokio::test]
async fn another_users_private_document_is_404_by_id() {
    let storage = spawn_storage().await;
    let ids = storage
        .ada()
        .insert_ok("notes", json!([{"text": "ada's"}]))
        .await;

    let response = storage.bob().find_one("notes", &ids[0]).await;

    assert_eq!(error(response).await, (404, "not_found".into()));
}

#[tokio::test]
async fn another_users_private_document_cannot_be_updated_or_deleted() {
    let storage = spawn_storage().await;
    let ids = storage
        .ada()
        .insert_ok("notes", json!([{"text": "ada's"}]))
        .await;
    let before = storage.stored("notes").await;

    let update = storage
        .bob()
        .update_one(
            "notes",
            &ids[0],
            json!({"document": {"$set": {"text": "bob was here"}}}),
        )
        .await;
    let delete = storage.bob().delete_one("notes", &ids[0]).await;

    assert_eq!(error(update).await.0, 404);
    assert_eq!(error(delete).await.0, 404);
    assert_eq!(storage.stored("notes").await, before);
}

#[tokio::test]
async fn writes_to_many_private_documents_reach_only_the_callers() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("notes", json!([{"text": "ada's"}]))
        .await;
    storage
        .bob()
        .insert_ok("notes", json!([{"text": "bob's"}]))
        .await;

    let updated = storage
        .bob()
        .update_many(
            "notes",
            json!({"document": {"$set": {"seen": true}}, "query": {}}),
        )
        .await;
    let deleted = storage
        .bob()
        .delete_many("notes", json!({"query": {}}))
        .await;

    assert_eq!(body(updated).await["matched"], 1);
    assert_eq!(body(deleted).await["deleted"], 1);
    let left = storage.stored("notes").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].get_str("text").unwrap(), "ada's");
    assert!(left[0].get("seen").is_none());
}

#[tokio::test]
async fn aggregations_of_a_private_collection_see_only_the_callers_documents() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("notes", json!([{"n": 1}, {"n": 2}]))
        .await;
    storage.bob().insert_ok("notes", json!([{"n": 100}])).await;

    let response = storage
        .bob()
        .aggregate(
            "notes",
            json!([{"$group": {"_id": null, "total": {"$sum": "$n"}}}]),
        )
        .await;

    assert_eq!(body(response).await, json!([{"_id": null, "total": 100}]));
}

#[tokio::test]
async fn facets_and_lookups_cannot_reach_another_users_private_documents() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("secrets", json!([{"k": "a", "secret": "ada's"}]))
        .await;
    storage
        .bob()
        .insert_ok("secrets", json!([{"k": "a", "secret": "bob's"}]))
        .await;
    storage
        .bob()
        .insert_ok("products", json!([{"k": "a"}]))
        .await;

    let pipeline = json!([
        {"$facet": {
            "joined": [{"$lookup": {"from": "secrets", "localField": "k", "foreignField": "k", "as": "found"}}],
            "unioned": [{"$unionWith": {"coll": "secrets"}}, {"$match": {"secret": {"$exists": true}}}]
        }}
    ]);
    let response = storage.bob().aggregate("products", pipeline).await;

    assert_eq!(response.status(), 200);
    let text = body(response).await.to_string();
    assert!(text.contains("bob's"), "{text}");
    assert!(!text.contains("ada's"), "{text}");
    assert!(!text.contains("_owner"), "{text}");
}

#[tokio::test]
async fn graph_lookups_cannot_reach_another_users_private_documents() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("tree", json!([{"_id": "root", "label": "ada's"}]))
        .await;
    storage
        .bob()
        .insert_ok("tree", json!([{"_id": "leaf", "parent": "root"}]))
        .await;

    let pipeline = json!([{"$graphLookup": {
        "from": "tree", "startWith": "$parent", "connectFromField": "parent",
        "connectToField": "_id", "as": "ancestors"
    }}]);
    let response = storage.bob().aggregate("tree", pipeline).await;

    let result = body(response).await;
    assert_eq!(result[0]["ancestors"], json!([]), "{result}");
}

#[tokio::test]
async fn every_user_reads_and_writes_all_documents_of_a_shared_collection() {
    let storage = spawn_storage().await;
    let ids = storage.ada().insert_ok("products", readme_products()).await;

    let found = storage.bob().find_ok("products", &[]).await;
    let update = storage
        .bob()
        .update_one(
            "products",
            &ids[0],
            json!({"document": {"$set": {"price": 1}}}),
        )
        .await;

    assert_eq!(found.len(), 2);
    assert_eq!(update.status(), 200);
}

#[tokio::test]
async fn users_read_but_cannot_write_a_read_only_collection() {
    let storage = spawn_storage().await;
    storage
        .service()
        .insert_ok("catalog", json!([{"sku": "a"}]))
        .await;
    let before = storage.stored("catalog").await;

    let found = storage.ada().find_ok("catalog", &[]).await;
    let insert = storage.ada().insert("catalog", json!([{"sku": "b"}])).await;
    let update = storage
        .ada()
        .update_many(
            "catalog",
            json!({"document": {"$set": {"sku": "z"}}, "query": {}}),
        )
        .await;
    let delete = storage
        .ada()
        .delete_many("catalog", json!({"query": {}}))
        .await;

    assert_eq!(found.len(), 1);
    for response in [insert, update, delete] {
        assert_eq!(error(response).await, (403, "forbidden".into()));
    }
    assert_eq!(storage.stored("catalog").await, before);
}

#[tokio::test]
async fn the_service_role_reaches_every_users_private_documents() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("notes", json!([{"text": "ada's"}]))
        .await;
    storage
        .bob()
        .insert_ok("notes", json!([{"text": "bob's"}]))
        .await;

    let found = storage.service().find_ok("notes", &[]).await;

    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|d| d["_owner"].is_string()), "{found:?}");
}

#[tokio::test]
async fn a_client_key_without_a_token_is_401() {
    let storage = spawn_storage().await;

    let response = storage.anonymous().find("products", &[]).await;

    assert_eq!(error(response).await, (401, "unauthorized".into()));
}

#[tokio::test]
async fn a_user_token_with_an_admin_key_still_acts_as_the_user() {
    let storage = spawn_storage().await;
    storage
        .bob()
        .insert_ok("notes", json!([{"text": "bob's"}]))
        .await;

    let response = storage
        .app
        .http
        .get(storage.app.url("/service/storage/v1/notes"))
        .header("X-API-Key", test_support::ADMIN_API_KEY)
        .bearer_auth(&storage.ada.token)
        .send()
        .await
        .unwrap();

    assert_eq!(body(response).await, json!([]));
}

#[tokio::test]
async fn users_of_a_shared_collection_never_see_who_wrote_a_document() {
    let storage = spawn_storage().await;
    storage.ada().insert_ok("products", readme_products()).await;

    let found = storage.bob().find_ok("products", &[]).await;
    let aggregated = body(storage.bob().aggregate("products", json!([])).await).await;

    assert!(found.iter().all(|d| d.get("_owner").is_none()), "{found:?}");
    assert!(!aggregated.to_string().contains("_owner"), "{aggregated}");
}

#[tokio::test]
async fn the_service_role_writes_to_a_read_only_collection() {
    let storage = spawn_storage().await;
    let ids = storage
        .service()
        .insert_ok("catalog", json!([{"sku": "a"}]))
        .await;

    let update = storage
        .service()
        .update_one(
            "catalog",
            &ids[0],
            json!({"document": {"$set": {"sku": "b"}}}),
        )
        .await;
    let delete = storage.service().delete_one("catalog", &ids[0]).await;

    assert_eq!(body(update).await, json!({"matched": 1, "modified": 1}));
    assert_eq!(body(delete).await, json!({"deleted": 1}));
}
