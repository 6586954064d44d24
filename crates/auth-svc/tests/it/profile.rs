//! `GET /{user_key}` and `PATCH /{user_key}`: only one's own profile, only one's own fields.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_user_reads_their_own_profile_without_secrets() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let response = get_profile(&app, "ada@example.com", token(&session)).await;
    assert_eq!(response.status(), 200);
    let user = json(response).await;
    assert_eq!(user["_key"], "ada@example.com");
    assert_eq!(user["name"], "Test User");
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| !k.starts_with('_') || *k == "_id" || *k == "_key"),
        "{user}"
    );
}

#[tokio::test]
async fn reading_a_profile_needs_a_session_token() {
    let app = spawn().await;
    new_session(&app, "ada@example.com").await;
    let response = app
        .get(&format!("{BASE}/ada@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn another_users_profile_is_404_like_a_missing_one() {
    let app = spawn().await;
    new_session(&app, "ada@example.com").await;
    let mallory = new_session(&app, "mallory@example.com").await;
    let response = get_profile(&app, "ada@example.com", token(&mallory)).await;
    assert_eq!(response.status(), 404);
    let missing = get_profile(&app, "nobody@example.com", token(&mallory)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(error_code(response).await, error_code(missing).await);
}

#[tokio::test]
async fn a_session_of_a_removed_user_does_not_reach_a_new_account_for_the_address() {
    let app = spawn().await;
    let old = new_session(&app, "ada@example.com").await;
    let users = app.database.collection::<mongodb::bson::Document>("_USERS");
    users
        .delete_one(mongodb::bson::doc! { "_key": "ada@example.com" })
        .await
        .unwrap();
    let new = new_session(&app, "ada@example.com").await;
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&new)).await,
        200
    );
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&old)).await,
        404
    );
    let change = json!({ "$set": { "name": "changed" } });
    let response = patch_profile(&app, "ada@example.com", token(&old), change).await;
    assert_eq!(response.status(), 404);
    let ada = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(ada.get_str("name").unwrap(), "Test User");
}

#[tokio::test]
async fn updating_another_users_profile_is_404_and_changes_nothing() {
    let app = spawn().await;
    new_session(&app, "ada@example.com").await;
    let mallory = new_session(&app, "mallory@example.com").await;
    let response = patch_profile(
        &app,
        "ada@example.com",
        token(&mallory),
        json!({ "$set": { "name": "pwned" } }),
    )
    .await;
    assert_eq!(response.status(), 404);
    let ada = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(ada.get_str("name").unwrap(), "Test User");
}

#[tokio::test]
async fn set_and_unset_change_the_users_own_fields() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let response = patch_profile(
        &app,
        "ada@example.com",
        token(&session),
        json!({ "$set": { "name": "Ada L.", "prefs.theme": "dark" }, "$unset": { "nickname": "" } }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let user = json(response).await;
    assert_eq!(user["name"], "Ada L.");
    assert_eq!(user["prefs"], json!({ "theme": "dark" }));
    assert!(user.get("_password").is_none());
    let stored = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(stored.get_str("name").unwrap(), "Ada L.");
}

/// Sends each update as Ada and checks it is refused with her document left as it was.
async fn assert_refused(updates: Vec<Value>) {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    for update in updates {
        assert_refused_one(&app, token(&session), update).await;
    }
}

async fn assert_refused_one(app: &test_support::TestApp, token: &str, update: Value) {
    let before = stored_user(app, "ada@example.com").await.unwrap();
    let response = patch_profile(app, "ada@example.com", token, update.clone()).await;
    assert_eq!(response.status(), 400, "{update}");
    assert_eq!(error_code(response).await, "bad_request");
    assert_eq!(
        stored_user(app, "ada@example.com").await.unwrap(),
        before,
        "{update} changed the user"
    );
}

#[tokio::test]
async fn the_role_cannot_be_set_through_any_operator() {
    assert_refused(vec![
        json!({ "$set": { "role": "admin" } }),
        json!({ "$set": { "role.level": 9 } }),
        json!({ "$unset": { "role": "" } }),
        json!({ "$rename": { "name": "role" } }),
        json!({ "$rename": { "role": "old_role" } }),
        json!({ "$push": { "role": "admin" } }),
        json!({ "$inc": { "role": 1 } }),
    ])
    .await;
}

#[tokio::test]
async fn the_key_password_and_id_cannot_be_touched() {
    assert_refused(vec![
        json!({ "$set": { "_key": "mallory@example.com" } }),
        json!({ "$set": { "_password": "$argon2id$chosen" } }),
        json!({ "$unset": { "_password": "" } }),
        json!({ "$rename": { "_password": "leaked" } }),
        json!({ "$set": { "_id": "x" } }),
        json!({ "$set": { "_providers": [] } }),
        json!({ "$set": { "_key.x": 1 } }),
    ])
    .await;
}

#[tokio::test]
async fn replacement_documents_and_unknown_operators_are_refused() {
    assert_refused(vec![
        json!({ "name": "a replacement" }),
        json!({ "$where": "1" }),
        json!({ "$setOnInsert": { "name": "x" } }),
        json!({ "$set": { "prefs": { "$ne": 1 } } }),
        json!({}),
    ])
    .await;
}

#[tokio::test]
async fn configured_protected_fields_cannot_be_updated() {
    let app = spawn_with(&[("AUTH_PROTECTED_FIELDS", "role,plan")]).await;
    let session = new_session(&app, "ada@example.com").await;
    let response = patch_profile(
        &app,
        "ada@example.com",
        token(&session),
        json!({ "$set": { "plan": "free" } }),
    )
    .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_update_without_a_document_is_400() {
    let app = spawn().await;
    let session = new_session(&app, "ada@example.com").await;
    let response = app
        .request(reqwest::Method::PATCH, &format!("{BASE}/ada@example.com"))
        .bearer_auth(token(&session))
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
