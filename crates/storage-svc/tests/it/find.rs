use mongodb::bson::{doc, oid::ObjectId, DateTime};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_readme_find_example_filters_projects_sorts_and_limits() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok(
            "products",
            json!([
                {"name": "Phone", "price": 500, "category": "electronics", "stock": 3},
                {"name": "Laptop", "price": 1200, "category": "electronics", "stock": 1},
                {"name": "Novel", "price": 15, "category": "books", "stock": 9}
            ]),
        )
        .await;

    let found = storage
        .ada()
        .find_ok(
            "products",
            &[
                ("query", r#"{"category":"electronics"}"#),
                ("keys", r#"{"name":1,"price":1}"#),
                ("sort", r#"{"price":-1}"#),
                ("limit", "5"),
            ],
        )
        .await;

    let names: Vec<_> = found.iter().map(|d| d["name"].clone()).collect();
    assert_eq!(names, [json!("Laptop"), json!("Phone")]);
    let keys: Vec<_> = found[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 3, "only _id, name and price: {keys:?}");
}

#[tokio::test]
async fn ids_and_dates_are_rendered_as_plain_strings() {
    let storage = spawn_storage().await;
    let id = ObjectId::new();
    storage
        .seed(
            "products",
            vec![doc! {"_id": id, "at": DateTime::from_millis(1_705_314_600_000)}],
        )
        .await;

    let found = storage.ada().find_ok("products", &[]).await;

    assert_eq!(
        found,
        [json!({"_id": id.to_hex(), "at": "2024-01-15T10:30:00Z"})]
    );
}

#[tokio::test]
async fn extended_json_in_a_filter_matches_object_ids_and_dates() {
    let storage = spawn_storage().await;
    let id = ObjectId::new();
    storage
        .seed(
            "products",
            vec![
                doc! {"_id": id, "at": DateTime::from_millis(1_705_314_600_000)},
                doc! {"_id": ObjectId::new(), "at": DateTime::from_millis(0)},
            ],
        )
        .await;
    let query =
        json!({"_id": {"$oid": id.to_hex()}, "at": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}});

    let found = storage
        .ada()
        .find_ok("products", &[("query", &query.to_string())])
        .await;

    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["_id"], id.to_hex());
}

#[tokio::test]
async fn limit_defaults_to_100() {
    let storage = spawn_storage().await;
    let many = (0..150).map(|i| doc! {"n": i}).collect();
    storage.seed("products", many).await;

    let found = storage.ada().find_ok("products", &[]).await;

    assert_eq!(found.len(), 100);
}

#[tokio::test]
async fn skip_and_limit_page_through_sorted_results() {
    let storage = spawn_storage().await;
    storage
        .seed("products", (0..10).map(|i| doc! {"n": i}).collect())
        .await;

    let page = storage
        .ada()
        .find_ok(
            "products",
            &[("sort", r#"{"n":1}"#), ("skip", "4"), ("limit", "3")],
        )
        .await;

    let ns: Vec<_> = page.iter().map(|d| d["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, [4, 5, 6]);
}

#[tokio::test]
async fn a_limit_above_the_maximum_or_negative_is_400() {
    let storage = spawn_storage().await;
    for limit in ["1001", "-1", "0", "many"] {
        let response = storage.ada().find("products", &[("limit", limit)]).await;
        assert_eq!(
            error(response).await,
            (400, "bad_request".into()),
            "{limit}"
        );
    }
}

#[tokio::test]
async fn the_maximum_limit_is_configurable() {
    let storage =
        spawn_storage_with(&[("STORAGE_MAX_LIMIT", "10"), ("STORAGE_DEFAULT_LIMIT", "5")]).await;

    let response = storage.ada().find("products", &[("limit", "11")]).await;

    assert_eq!(error(response).await.0, 400);
}

#[tokio::test]
async fn malformed_json_in_any_parameter_is_400() {
    let storage = spawn_storage().await;
    for param in ["query", "keys", "sort"] {
        let response = storage
            .ada()
            .find("products", &[(param, "{not json")])
            .await;
        assert_eq!(
            error(response).await,
            (400, "bad_request".into()),
            "{param}"
        );
    }
}

#[tokio::test]
async fn an_unknown_parameter_is_400() {
    let storage = spawn_storage().await;

    let response = storage.ada().find("products", &[("filter", "{}")]).await;

    assert_eq!(error(response).await.0, 400);
}

#[tokio::test]
async fn a_document_is_found_by_its_object_id() {
    let storage = spawn_storage().await;
    let ids = storage
        .ada()
        .insert_ok("notes", json!([{"text": "hello"}]))
        .await;

    let response = storage.ada().find_one("notes", &ids[0]).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        body(response).await,
        json!({"_id": ids[0], "text": "hello"})
    );
}

#[tokio::test]
async fn a_document_is_found_by_its_string_id_with_keys() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok(
            "notes",
            json!([{"_id": "note-1", "text": "hello", "tags": ["a"]}]),
        )
        .await;

    let response = storage
        .ada()
        .request(reqwest::Method::GET, "/notes/note-1")
        .query(&[("keys", r#"{"text":1}"#)])
        .send()
        .await
        .unwrap();

    assert_eq!(
        body(response).await,
        json!({"_id": "note-1", "text": "hello"})
    );
}

#[tokio::test]
async fn a_missing_document_is_404() {
    let storage = spawn_storage().await;

    let response = storage
        .ada()
        .find_one("notes", &ObjectId::new().to_hex())
        .await;

    assert_eq!(error(response).await, (404, "not_found".into()));
}

#[tokio::test]
async fn a_negative_or_huge_skip_is_400() {
    let storage = spawn_storage().await;
    for skip in ["-1", "18446744073709551615", "x"] {
        let response = storage.ada().find("products", &[("skip", skip)]).await;
        assert_eq!(error(response).await.0, 400, "{skip}");
    }
}
