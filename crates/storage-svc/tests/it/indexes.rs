use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn the_service_role_creates_and_lists_an_index() {
    let storage = spawn_storage().await;

    let created = storage
        .service()
        .create_index("products", json!({"keys": {"category": 1, "price": -1}}))
        .await;
    assert_eq!(created.status(), 201);
    let name = body(created).await["name"].as_str().unwrap().to_owned();

    let listed = body(storage.service().list_indexes("products").await).await;
    let index = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name.as_str())
        .cloned()
        .expect("the new index is listed");
    assert_eq!(index["keys"], json!({"category": 1, "price": -1}));
}

#[tokio::test]
async fn indexes_of_private_collections_start_with_the_owner() {
    let storage = spawn_storage().await;

    storage
        .service()
        .create_index(
            "notes",
            json!({"keys": {"created": -1}, "name": "by_created"}),
        )
        .await;

    let listed = body(storage.service().list_indexes("notes").await).await;
    let index = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "by_created")
        .cloned()
        .expect("listed");
    assert_eq!(index["keys"], json!({"_owner": 1, "created": -1}));
}

#[tokio::test]
async fn an_owner_prefixed_index_replaces_the_plain_owner_index() {
    let storage = spawn_storage().await;
    // A user's first write makes the service add the plain owner index in the background.
    storage
        .ada()
        .insert_ok("notes", json!([{"category": "c1"}]))
        .await;
    let names = |listed: Value| -> Vec<String> {
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut waited = 0;
    while !names(body(storage.service().list_indexes("notes").await).await)
        .contains(&"_owner_1".to_owned())
    {
        assert!(waited < 50, "the plain owner index was never created");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }

    storage
        .service()
        .create_index("notes", json!({"keys": {"category": 1}}))
        .await;

    let listed = names(body(storage.service().list_indexes("notes").await).await);
    assert!(!listed.contains(&"_owner_1".to_owned()), "{listed:?}");
    assert!(
        listed.contains(&"_owner_1_category_1".to_owned()),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_unique_index_turns_duplicates_into_409() {
    let storage = spawn_storage().await;
    storage
        .service()
        .create_index("products", json!({"keys": {"sku": 1}, "unique": true}))
        .await;
    storage
        .ada()
        .insert_ok("products", json!([{"sku": "a"}]))
        .await;

    let response = storage
        .bob()
        .insert("products", json!([{"sku": "a"}]))
        .await;

    assert_eq!(error(response).await, (409, "conflict".into()));
    assert_eq!(storage.stored("products").await.len(), 1);
}

#[tokio::test]
async fn users_cannot_manage_indexes() {
    let storage = spawn_storage().await;

    let create = storage
        .ada()
        .create_index("products", json!({"keys": {"sku": 1}}))
        .await;
    let list = storage.ada().list_indexes("products").await;

    assert_eq!(error(create).await, (403, "forbidden".into()));
    assert_eq!(error(list).await, (403, "forbidden".into()));
}

#[tokio::test]
async fn index_keys_follow_the_sort_rules() {
    let storage = spawn_storage().await;
    for keys in [json!({"sku": "text"}), json!({"_owner": 1}), json!({})] {
        let response = storage
            .service()
            .create_index("products", json!({"keys": keys.clone()}))
            .await;
        assert_eq!(error(response).await.0, 400, "{keys}");
    }
}

#[tokio::test]
async fn a_collection_without_indexes_lists_none() {
    let storage = spawn_storage().await;

    let listed = body(storage.service().list_indexes("nothing_here").await).await;

    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn the_owner_index_name_is_the_services_own() {
    let storage = spawn_storage().await;

    let response = storage
        .service()
        .create_index(
            "notes",
            json!({"keys": {"created": -1}, "name": "_owner_1"}),
        )
        .await;

    assert_eq!(error(response).await.0, 400);
    let listed = body(storage.service().list_indexes("notes").await).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["name"] != "_owner_1"),
        "{listed}"
    );
}
