use mongodb::bson::doc;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_readme_insert_example_answers_201_with_the_new_ids() {
    let storage = spawn_storage().await;

    let response = storage.ada().insert("products", readme_products()).await;

    assert_eq!(response.status(), 201);
    let ids = body(response).await["inserted_ids"].clone();
    assert_eq!(ids.as_array().unwrap().len(), 2);
    assert!(ids
        .as_array()
        .unwrap()
        .iter()
        .all(|id| id.as_str().unwrap().len() == 24));
    let stored = storage.stored("products").await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].get_str("name").unwrap(), "Product 1");
}

#[tokio::test]
async fn inserted_documents_are_stamped_with_their_owner() {
    let storage = spawn_storage().await;

    storage
        .ada()
        .insert_ok("notes", json!([{"text": "mine"}]))
        .await;

    let stored = storage.stored("notes").await;
    assert_eq!(stored[0].get_str("_owner").unwrap(), storage.ada.user_id);
}

#[tokio::test]
async fn the_owner_is_never_shown_to_users() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("notes", json!([{"text": "mine"}]))
        .await;

    let found = storage.ada().find_ok("notes", &[]).await;

    assert!(found[0].get("_owner").is_none(), "{found:?}");
}

#[tokio::test]
async fn extended_json_values_are_stored_as_bson_types() {
    let storage = spawn_storage().await;

    storage
        .ada()
        .insert_ok("notes", json!([{"at": {"$date": "2024-01-15T10:30:00Z"}}]))
        .await;

    let stored = storage.stored("notes").await;
    assert!(stored[0].get_datetime("at").is_ok());
}

#[tokio::test]
async fn a_client_supplied_owner_is_refused_and_nothing_is_written() {
    let storage = spawn_storage().await;

    let response = storage
        .ada()
        .insert(
            "notes",
            json!([{"text": "ok"}, {"text": "x", "_owner": storage.bob.user_id}]),
        )
        .await;

    assert_eq!(error(response).await, (400, "bad_request".into()));
    assert!(storage.stored("notes").await.is_empty());
}

#[tokio::test]
async fn operator_and_prototype_keys_are_refused_and_nothing_is_written() {
    let storage = spawn_storage().await;
    for document in [
        json!({"$where": "1"}),
        json!({"a": {"$gt": 1}}),
        json!({"__proto__": {"admin": true}}),
        json!({"a": {"constructor": 1}}),
        json!({"a.b": 1}),
    ] {
        let response = storage
            .ada()
            .insert("notes", json!([document.clone()]))
            .await;
        assert_eq!(error(response).await.0, 400, "{document}");
    }
    assert!(storage.stored("notes").await.is_empty());
}

#[tokio::test]
async fn more_documents_than_allowed_are_refused() {
    let storage = spawn_storage_with(&[("STORAGE_MAX_INSERT_DOCUMENTS", "3")]).await;

    let response = storage.ada().insert("notes", json!([{}, {}, {}, {}])).await;

    assert_eq!(error(response).await.0, 400);
    assert!(storage.stored("notes").await.is_empty());
}

#[tokio::test]
async fn an_empty_or_missing_documents_list_is_400() {
    let storage = spawn_storage().await;
    let empty = storage.ada().insert("notes", json!([])).await;
    assert_eq!(error(empty).await.0, 400);
    let missing = storage
        .ada()
        .request(reqwest::Method::POST, "/notes")
        .json(&json!({"docs": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(error(missing).await.0, 400);
}

#[tokio::test]
async fn a_duplicate_id_is_409_and_the_rest_of_the_batch_is_rolled_back() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok("notes", json!([{"_id": "taken", "text": "first"}]))
        .await;

    let response = storage
        .ada()
        .insert(
            "notes",
            json!([{"text": "new one"}, {"_id": "taken", "text": "second"}, {"text": "after"}]),
        )
        .await;

    assert_eq!(error(response).await, (409, "conflict".into()));
    let stored = storage.stored("notes").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0],
        doc! {"_id": "taken", "text": "first", "_owner": &storage.ada.user_id}
    );
}

#[tokio::test]
async fn a_chosen_id_is_one_the_document_path_reaches() {
    let storage = spawn_storage().await;
    let oid = "65a1b2c3d4e5f60718293a4b";
    let ids = storage
        .ada()
        .insert_ok("notes", json!([{"_id": "sku-42"}, {"_id": {"$oid": oid}}]))
        .await;

    for id in &ids {
        assert_eq!(
            storage.ada().find_one("notes", id).await.status(),
            200,
            "{id}"
        );
    }
    assert_eq!(ids, ["sku-42", oid]);
}

#[tokio::test]
async fn an_id_no_path_can_reach_is_400_and_nothing_of_the_batch_is_written() {
    let storage = spawn_storage().await;

    for id in [
        json!(42),
        json!({"a": 1}),
        json!(null),
        json!("65a1b2c3d4e5f60718293a4b"),
    ] {
        let response = storage
            .ada()
            .insert(
                "notes",
                json!([{"text": "first"}, {"_id": id, "text": "second"}]),
            )
            .await;

        assert_eq!(error(response).await, (400, "bad_request".into()), "{id}");
    }
    assert!(storage.stored("notes").await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    let storage = spawn_storage().await;

    let response = storage
        .ada()
        .request(reqwest::Method::POST, "/notes")
        .header("Content-Type", "application/json")
        .body("{\"documents\": [")
        .send()
        .await
        .unwrap();

    assert_eq!(error(response).await, (400, "invalid_json".into()));
}

#[tokio::test]
async fn users_create_no_collections_past_the_cap_but_still_write_to_existing_ones() {
    let storage = spawn_storage_with(&[("STORAGE_MAX_COLLECTIONS", "2")]).await;
    storage.ada().insert_ok("notes", json!([{"n": 1}])).await;
    storage.bob().insert_ok("todos", json!([{"n": 2}])).await;

    let response = storage.ada().insert("spam-1", json!([{"n": 3}])).await;

    assert_eq!(error(response).await, (403, "forbidden".into()));
    assert!(!storage.collection_names().await.contains(&"spam-1".into()));
    storage.bob().insert_ok("notes", json!([{"n": 4}])).await;
    storage
        .service()
        .insert_ok("catalog", json!([{"n": 5}]))
        .await;
    assert!(storage.collection_names().await.contains(&"catalog".into()));
}

#[tokio::test]
async fn concurrent_first_writes_do_not_overshoot_the_cap_together() {
    let storage = spawn_storage_with(&[("STORAGE_MAX_COLLECTIONS", "2")]).await;
    storage.ada().insert_ok("notes", json!([{"n": 1}])).await;

    let ada = storage.ada();
    let writes = (0..6).map(|i| {
        let ada = &ada;
        async move { ada.insert(&format!("new-{i}"), json!([{"n": i}])).await }
    });
    let answers = futures_util::future::join_all(writes).await;

    let created = answers.iter().filter(|r| r.status() == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        answers.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    let names = storage.collection_names().await;
    assert_eq!(
        names.iter().filter(|n| n.starts_with("new-")).count(),
        1,
        "{names:?}"
    );
}
