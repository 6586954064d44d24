//! Users carried over from the original, whose `_password` is a bcrypt hash.

use mongodb::bson::{doc, oid::ObjectId, Document};
use serde_json::json;
use test_support::TestApp;

use crate::helpers::*;

/// A user exactly as the original stored them: `bcrypt.hashpw(password, bcrypt.gensalt())`.
async fn legacy_user(app: &TestApp, key: &str, password: &str) {
    // Cost 4 keeps the test fast; the original used 12, which verifies the same way.
    legacy_user_of_cost(app, key, password, 4).await
}

async fn legacy_user_of_cost(app: &TestApp, key: &str, password: &str, cost: u32) {
    let hash = bcrypt::hash_with_result(password, cost)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    app.database
        .collection::<Document>("_USERS")
        .insert_one(
            doc! { "_id": ObjectId::new(), "_key": key, "_password": hash, "name": "Legacy" },
        )
        .await
        .unwrap();
}

fn stored_hash(user: &Document) -> String {
    user.get_str("_password").unwrap().to_owned()
}

#[tokio::test]
async fn a_bcrypt_user_signs_in_and_is_upgraded_to_argon2id() {
    let app = spawn().await;
    legacy_user(&app, "old@example.com", PASSWORD).await;
    let response = sign_in(&app, "old@example.com", PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["user"]["name"], "Legacy");
    let hash = stored_hash(&stored_user(&app, "old@example.com").await.unwrap());
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

/// Sign-ins at once (a double submit, a retry) all upgrade the hash; only one replacement
/// lands, and the others must still sign in rather than take it for a removed password.
#[tokio::test]
async fn sign_ins_racing_to_upgrade_the_hash_all_succeed() {
    let app = spawn().await;
    legacy_user(&app, "old@example.com", PASSWORD).await;
    let (a, b, c) = tokio::join!(
        sign_in(&app, "old@example.com", PASSWORD),
        sign_in(&app, "old@example.com", PASSWORD),
        sign_in(&app, "old@example.com", PASSWORD),
    );
    assert_eq!([a.status(), b.status(), c.status()], [200, 200, 200]);
    for response in [a, b, c] {
        let token = json(response).await["token"].as_str().unwrap().to_owned();
        assert_eq!(profile_status(&app, "old@example.com", &token).await, 200);
    }
    let hash = stored_hash(&stored_user(&app, "old@example.com").await.unwrap());
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[tokio::test]
async fn the_upgraded_hash_keeps_working() {
    let app = spawn().await;
    legacy_user(&app, "old@example.com", PASSWORD).await;
    sign_in(&app, "old@example.com", PASSWORD).await;
    assert_eq!(
        sign_in(&app, "old@example.com", PASSWORD).await.status(),
        200
    );
    assert_eq!(
        sign_in(&app, "old@example.com", "not the password")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_wrong_password_leaves_the_bcrypt_hash_alone() {
    let app = spawn().await;
    legacy_user(&app, "old@example.com", PASSWORD).await;
    let before = stored_hash(&stored_user(&app, "old@example.com").await.unwrap());
    assert_eq!(
        sign_in(&app, "old@example.com", "not the password")
            .await
            .status(),
        401
    );
    assert_eq!(
        stored_hash(&stored_user(&app, "old@example.com").await.unwrap()),
        before
    );
}

#[tokio::test]
async fn an_original_2a_hash_signs_in_too() {
    let app = spawn().await;
    let hash = bcrypt::hash_with_result(PASSWORD, 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    app.database
        .collection::<Document>("_USERS")
        .insert_one(doc! { "_key": "older@example.com", "_password": hash })
        .await
        .unwrap();
    assert_eq!(
        sign_in(&app, "older@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn a_code_leaves_a_carried_over_users_password_alone() {
    let smtp = SmtpServer::start().await;
    let app = spawn_with_pairs(smtp.settings(), &[]).await;
    legacy_user(&app, "old@example.com", PASSWORD).await;
    let issued = json(
        post(
            &app,
            "/passgen",
            serde_json::json!({ "_key": "old@example.com" }),
        )
        .await,
    )
    .await;
    let mail = smtp
        .wait_for("old@example.com", std::time::Duration::from_secs(10))
        .await
        .expect("the code is mailed");
    let code = code_in(&mail, 6);
    let verified = post(
        &app,
        "/passver",
        serde_json::json!({ "_key": "old@example.com", "_password": code, "token": issued["otp_token"] }),
    )
    .await;
    assert_eq!(verified.status(), 200);
    assert_eq!(
        sign_in(&app, "old@example.com", PASSWORD).await.status(),
        200
    );
}

/// The original's bcrypt cost (12) verifies several times slower than argon2id: were a wrong
/// password answered as soon as it was checked, the wait would tell who has an account, and
/// an old one.
#[tokio::test]
async fn a_wrong_password_takes_as_long_whatever_the_account_and_its_hash() {
    let app = spawn().await;
    legacy_user_of_cost(&app, "old@example.com", PASSWORD, 12).await;
    assert_eq!(
        sign_up(&app, "new@example.com", json!({})).await.status(),
        201
    );
    let timed = |key: &'static str| {
        let app = &app;
        async move {
            let started = std::time::Instant::now();
            let response = sign_in(app, key, "not the password").await;
            assert_eq!(response.status(), 401, "{key}");
            started.elapsed()
        }
    };

    let legacy = timed("old@example.com").await;
    let unknown = timed("nobody@example.com").await;
    let current = timed("new@example.com").await;

    // Answered at once, the other two would take a fifth of the legacy wait or less.
    assert!(unknown > legacy / 2, "{unknown:?} against {legacy:?}");
    assert!(current > legacy / 2, "{current:?} against {legacy:?}");
}
