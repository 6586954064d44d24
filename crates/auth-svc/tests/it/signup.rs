use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_new_user_is_created_with_201_and_no_secrets() {
    let app = spawn().await;
    let response = sign_up(
        &app,
        "ada@example.com",
        json!({ "name": "Ada", "active": true }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let user = json(response).await;
    assert_eq!(user["_key"], "ada@example.com");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["active"], true);
    assert_eq!(user["_id"].as_str().unwrap().len(), 24);
    assert!(user.get("_password").is_none(), "{user}");
    assert!(!user.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn the_password_is_stored_as_an_argon2id_hash_never_in_clear() {
    let app = spawn().await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let stored = stored_user(&app, "ada@example.com").await.unwrap();
    let hash = stored.get_str("_password").unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!format!("{stored:?}").contains(PASSWORD));
}

#[tokio::test]
async fn keys_are_trimmed_and_lower_cased_so_case_variants_are_one_user() {
    let app = spawn().await;
    let created = json(sign_up(&app, "  Ada@Example.COM ", json!({})).await).await;
    assert_eq!(created["_key"], "ada@example.com");
    let again = sign_up(&app, "ada@example.com", json!({})).await;
    assert_eq!(again.status(), 409);
    assert_eq!(
        sign_in(&app, "ADA@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn an_existing_key_is_409_with_the_error_shape() {
    let app = spawn().await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let response = sign_up(&app, "ada@example.com", json!({ "name": "Impostor" })).await;
    assert_eq!(response.status(), 409);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        json(response).await,
        json!({
            "error": { "code": "conflict", "message": "a user with this `_key` already exists" },
            "request_id": request_id,
        })
    );
    let stored = stored_user(&app, "ada@example.com").await.unwrap();
    assert!(
        stored.get("name").is_none(),
        "the first user was changed: {stored}"
    );
}

#[tokio::test]
async fn a_key_that_is_not_an_email_is_400() {
    let app = spawn().await;
    for key in [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada example@x.io",
        "",
    ] {
        let response = sign_up(&app, key, json!({})).await;
        assert_eq!(response.status(), 400, "{key:?}");
        assert_eq!(error_code(response).await, "bad_request");
    }
}

#[tokio::test]
async fn a_password_shorter_than_8_characters_is_400() {
    let app = spawn().await;
    let response = post(
        &app,
        "/signup",
        json!({ "_key": "ada@example.com", "_password": "1234567" }),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(stored_user(&app, "ada@example.com").await.is_none());
}

#[tokio::test]
async fn a_password_over_1024_bytes_is_400_rather_than_truncated() {
    let app = spawn().await;
    let long = "x".repeat(1025);
    let response = post(
        &app,
        "/signup",
        json!({ "_key": "ada@example.com", "_password": long }),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(stored_user(&app, "ada@example.com").await.is_none());
}

#[tokio::test]
async fn every_byte_of_a_long_password_counts() {
    // bcrypt would ignore everything past 72 bytes; argon2id must not.
    let app = spawn().await;
    let password = format!("{}{}", "p".repeat(72), "-the-end");
    let response = post(
        &app,
        "/signup",
        json!({ "_key": "ada@example.com", "_password": password }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let truncated = "p".repeat(72);
    assert_eq!(
        sign_in(&app, "ada@example.com", &truncated).await.status(),
        401
    );
    assert_eq!(
        sign_in(&app, "ada@example.com", &password).await.status(),
        200
    );
}

#[tokio::test]
async fn reserved_fields_in_the_document_are_refused_and_nothing_is_stored() {
    let app = spawn().await;
    for document in [
        json!({ "_key": "other@example.com" }),
        json!({ "_password": "plain" }),
        json!({ "_id": "x" }),
        json!({ "_providers": [] }),
    ] {
        let response = sign_up(&app, "ada@example.com", document.clone()).await;
        assert_eq!(response.status(), 400, "{document}");
    }
    assert!(stored_user(&app, "ada@example.com").await.is_none());
    assert!(stored_user(&app, "other@example.com").await.is_none());
}

#[tokio::test]
async fn the_role_cannot_be_set_at_sign_up() {
    let app = spawn().await;
    let response = sign_up(&app, "ada@example.com", json!({ "role": "admin" })).await;
    assert_eq!(response.status(), 400);
    assert!(stored_user(&app, "ada@example.com").await.is_none());
}

#[tokio::test]
async fn an_admin_key_may_create_a_user_with_a_role() {
    let app = spawn().await;
    let response = app
        .http
        .post(app.url(&format!("{BASE}/signup")))
        .header("X-API-Key", test_support::ADMIN_API_KEY)
        .json(&json!({"_key": "ada@example.com", "_password": PASSWORD, "document": {"role": "editor"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let stored = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(stored.get_str("role").unwrap(), "editor");
}

#[tokio::test]
async fn configured_protected_fields_cannot_be_set_at_sign_up() {
    let app = spawn_with(&[("AUTH_PROTECTED_FIELDS", "role,plan")]).await;
    let response = sign_up(&app, "ada@example.com", json!({ "plan": "enterprise" })).await;
    assert_eq!(response.status(), 400);
    assert!(stored_user(&app, "ada@example.com").await.is_none());
}

#[tokio::test]
async fn operator_keys_inside_stored_values_are_refused() {
    let app = spawn().await;
    let response = sign_up(
        &app,
        "ada@example.com",
        json!({ "prefs": { "$where": "sleep(1000)" } }),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(stored_user(&app, "ada@example.com").await.is_none());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    let app = spawn().await;
    let response = app
        .post(&format!("{BASE}/signup"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_json");
}

#[tokio::test]
async fn sign_up_needs_the_api_key() {
    let app = spawn().await;
    let response = app
        .http
        .post(app.url(&format!("{BASE}/signup")))
        .json(&json!({ "_key": "ada@example.com", "_password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "invalid_api_key");
    assert!(stored_user(&app, "ada@example.com").await.is_none());
}

#[tokio::test]
async fn sign_ups_are_limited_per_client_address() {
    let app = spawn_with(&[("SIGNUP_MAX_PER_CLIENT", "2")]).await;
    for key in ["a@example.com", "b@example.com"] {
        assert_eq!(sign_up(&app, key, json!({})).await.status(), 201);
    }
    let refused = sign_up(&app, "c@example.com", json!({})).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(stored_user(&app, "c@example.com").await.is_none());
}

#[tokio::test]
async fn an_ipv6_client_is_limited_by_its_64_not_by_each_address() {
    let app = spawn_with(&[("SIGNUP_MAX_PER_CLIENT", "2")]).await;
    let from = |key: &str, address: &str| {
        app.http
            .post(app.url(&format!("{BASE}/signup")))
            .header("X-API-Key", test_support::API_KEY)
            .header("X-Real-IP", address)
            .json(&json!({"_key": key, "_password": PASSWORD}))
            .send()
    };
    let first = from("a@example.com", "2001:db8:5:6::1").await.unwrap();
    assert_eq!(first.status(), 201);
    let second = from("b@example.com", "2001:db8:5:6::2").await.unwrap();
    assert_eq!(second.status(), 201);
    let third = from("c@example.com", "2001:db8:5:6:ffff::3").await.unwrap();
    assert_eq!(third.status(), 429, "a new address in the same /64");
    let elsewhere = from("d@example.com", "2001:db8:5:7::1").await.unwrap();
    assert_eq!(elsewhere.status(), 201, "another /64 is another client");
}

#[tokio::test]
async fn the_service_role_is_not_limited_in_sign_ups() {
    let app = spawn_with(&[("SIGNUP_MAX_PER_CLIENT", "1")]).await;
    for key in ["a@example.com", "b@example.com", "c@example.com"] {
        let response = app
            .http
            .post(app.url(&format!("{BASE}/signup")))
            .header("X-API-Key", test_support::ADMIN_API_KEY)
            .json(&json!({"_key": key, "_password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{key}");
    }
}

#[tokio::test]
async fn no_account_is_created_while_the_unique_key_index_cannot_be_built() {
    use mongodb::bson::{doc, oid::ObjectId, Document};
    let client = mongodb::Client::with_uri_str(test_support::shared_uri())
        .await
        .unwrap();
    let name = format!("auth_dup_{}", ObjectId::new());
    let db = client.database(&name);
    // Data carried over with one address twice: the unique index cannot be built on it.
    let twice = doc! { "_key": "twice@example.com" };
    db.collection::<Document>("_USERS")
        .insert_many([twice.clone(), twice])
        .await
        .unwrap();
    let app = spawn_with(&[("MONGODB_DATABASE", name.as_str())]).await;

    let response = sign_up(&app, "ada@example.com", json!({})).await;

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let users = db.collection::<Document>("_USERS");
    let ada = users.find_one(doc! { "_key": "ada@example.com" }).await;
    assert!(ada.unwrap().is_none());
    // The other indexes do not wait for it: sessions still expire.
    let sessions = db.collection::<Document>("_SESSIONS");
    let indexes = sessions.list_index_names().await.unwrap();
    assert!(indexes.len() >= 3, "{indexes:?}");
    db.drop().await.unwrap();
}
