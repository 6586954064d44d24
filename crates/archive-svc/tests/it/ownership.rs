//! A user reaches only their own files: another user's id is 404 (the same answer as an id
//! that does not exist); admin API keys reach every file.

use crate::both_backends;
use crate::helpers::*;

both_backends! {
    async fn another_users_file_cannot_be_downloaded(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let eve = archive.user("eve@example.com").await;
        let created = archive.upload_ok(&ada, file("pixel.png", "image/png", PNG)).await;
        let id = created["_id"].as_str().unwrap();
        let response = archive.download(&eve, id).send().await.unwrap();
        assert_eq!(error_code(response, 404).await, "not_found");
    }

    async fn another_users_file_cannot_be_deleted(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let eve = archive.user("eve@example.com").await;
        let created = archive.upload_ok(&ada, file("pixel.png", "image/png", PNG)).await;
        let id = created["_id"].as_str().unwrap();
        assert_eq!(error_code(archive.delete(&eve, id).await, 404).await, "not_found");
        assert_eq!(archive.download_bytes(&ada, id).await, PNG);
    }
}

#[tokio::test]
async fn the_list_holds_only_the_callers_files() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let eve = archive.user("eve@example.com").await;
    archive
        .upload_ok(&ada, file("ada.png", "image/png", PNG))
        .await;
    archive
        .upload_ok(&eve, file("eve.png", "image/png", PNG))
        .await;
    let listed = json(archive.list(&eve).send().await.unwrap()).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eve.png"]);
}

#[tokio::test]
async fn the_owner_field_cannot_be_queried_to_reach_other_files() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let eve = archive.user("eve@example.com").await;
    archive
        .upload_ok(&ada, file("ada.png", "image/png", PNG))
        .await;
    let query = format!(r#"{{"$or": [{{"_owner": "{}"}}, {{}}]}}"#, ada.user_id);
    let response = archive.list_query(&eve, &query).await;
    assert_eq!(error_code(response, 400).await, "bad_request");
}

#[tokio::test]
async fn an_admin_key_lists_every_users_files() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let eve = archive.user("eve@example.com").await;
    archive
        .upload_ok(&ada, file("ada.png", "image/png", PNG))
        .await;
    archive
        .upload_ok(&eve, file("eve.png", "image/png", PNG))
        .await;
    let listed = json(
        archive
            .as_admin(reqwest::Method::GET, "/", &eve)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_admin_key_downloads_another_users_file() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let eve = archive.user("eve@example.com").await;
    let created = archive
        .upload_ok(&ada, file("ada.png", "image/png", PNG))
        .await;
    let id = created["_id"].as_str().unwrap();
    let response = archive
        .as_admin(reqwest::Method::GET, &format!("/{id}"), &eve)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), PNG);
}
