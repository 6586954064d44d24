//! `GET /?query=`: the caller's files, newest first, narrowed by a filter that goes through
//! the same safety rules as the storage service's (`coglex_common::query`).

use crate::helpers::*;

async fn names(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 200);
    json(response)
        .await
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_owned())
        .collect()
}

/// Ada's files: a PNG tagged `pictures`, then a text file tagged `docs`.
async fn with_two_files() -> (Archive, test_support::SignedIn) {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    archive
        .upload_ok(
            &ada,
            file("pixel.png", "image/png", PNG).metadata(r#"{"category": "pictures"}"#),
        )
        .await;
    archive
        .upload_ok(
            &ada,
            file("notes.txt", "text/plain", b"some notes").metadata(r#"{"category": "docs"}"#),
        )
        .await;
    (archive, ada)
}

#[tokio::test]
async fn the_list_has_every_file_newest_first() {
    let (archive, ada) = with_two_files().await;
    let listed = archive.list(&ada).send().await.unwrap();
    assert_eq!(names(listed).await, ["notes.txt", "pixel.png"]);
}

#[tokio::test]
async fn list_entries_have_the_upload_shape() {
    let (archive, ada) = with_two_files().await;
    let listed = json(archive.list(&ada).send().await.unwrap()).await;
    let png = &listed[1];
    assert_eq!(png["mimetype"], "image/png");
    assert_eq!(png["size"], PNG.len());
    assert_eq!(png["metadata"], serde_json::json!({"category": "pictures"}));
    assert_eq!(png["_id"].as_str().unwrap().len(), 24);
    assert!(png.get("_owner").is_none());
}

#[tokio::test]
async fn a_query_filters_by_type_and_size() {
    let (archive, ada) = with_two_files().await;
    let listed = archive
        .list_query(
            &ada,
            r#"{"mimetype": "image/png", "size": {"$lt": 1048576}}"#,
        )
        .await;
    assert_eq!(names(listed).await, ["pixel.png"]);
}

#[tokio::test]
async fn a_query_filters_by_metadata() {
    let (archive, ada) = with_two_files().await;
    let listed = archive
        .list_query(&ada, r#"{"metadata.category": "docs"}"#)
        .await;
    assert_eq!(names(listed).await, ["notes.txt"]);
}

#[tokio::test]
async fn limit_and_skip_page_through_the_list() {
    let (archive, ada) = with_two_files().await;
    let page = archive
        .list(&ada)
        .query(&[("limit", "1"), ("skip", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(names(page).await, ["pixel.png"]);
}

#[tokio::test]
async fn a_query_that_is_not_json_is_400() {
    let (archive, ada) = with_two_files().await;
    let response = archive.list_query(&ada, "{mimetype: png").await;
    assert_eq!(error_code(response, 400).await, "bad_request");
}

#[tokio::test]
async fn a_query_running_code_is_refused() {
    let (archive, ada) = with_two_files().await;
    let response = archive
        .list_query(&ada, r#"{"$where": "sleep(1000)"}"#)
        .await;
    assert_eq!(error_code(response, 400).await, "bad_request");
}

#[tokio::test]
async fn a_limit_out_of_range_is_400() {
    let (archive, ada) = with_two_files().await;
    let response = archive
        .list(&ada)
        .query(&[("limit", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response, 400).await, "bad_request");
}

#[tokio::test]
async fn nul_characters_in_nested_field_names_are_400_not_500() {
    // BSON cannot encode them; the driver used to fail building the query (500).
    let (archive, ada) = with_two_files().await;
    for query in [
        r#"{"metadata": {"b\u0000": 1}}"#,
        r#"{"metadata.category": {"$in": [{"b\u0000": 1}]}}"#,
        r#"{"$expr": {"$eq": ["$size", {"$literal": {"b\u0000": 1}}]}}"#,
    ] {
        let response = archive.list_query(&ada, query).await;
        assert_eq!(error_code(response, 400).await, "bad_request", "{query}");
    }
}

#[tokio::test]
async fn a_skip_beyond_what_the_database_counts_is_400_not_500() {
    let (archive, ada) = with_two_files().await;
    let response = archive
        .list(&ada)
        .query(&[("skip", u64::MAX.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response, 400).await, "bad_request");
    let largest = archive
        .list(&ada)
        .query(&[("skip", i64::MAX.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(names(largest).await, Vec::<String>::new());
}
