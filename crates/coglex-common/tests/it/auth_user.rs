use std::time::Duration;

use coglex_common::session::SessionClaims;
use coglex_common::token::{NoExtra, Purpose};
use mongodb::bson::{doc, DateTime};

use crate::helpers::*;

#[tokio::test]
async fn a_live_session_token_identifies_the_user() {
    let app = spawn_app(build).await;
    let token = signed_in(&app).await;
    let response = app
        .get("/service/probe/v1/whoami")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["user_id"].as_str().unwrap().len(), 24);
    assert_eq!(body["user_key"], "ada@example.com");
}

#[tokio::test]
async fn no_token_is_401() {
    let app = spawn_app(build).await;
    let response = app.get("/service/probe/v1/whoami").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(json(response).await["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_revoked_session_stops_working() {
    // No cache, so revocation is seen at once (production: within SESSION_CACHE_TTL_MS).
    let app = spawn_app_with(build, &[("SESSION_CACHE_TTL_MS", "0")]).await;
    let user = test_support::sign_in(&app, "ada@example.com").await;
    let whoami = || {
        app.get("/service/probe/v1/whoami")
            .bearer_auth(&user.token)
            .send()
    };
    assert_eq!(whoami().await.unwrap().status(), 200);
    app.database
        .collection::<mongodb::bson::Document>("_SESSIONS")
        .update_one(
            doc! {"_id": &user.session_id},
            doc! {"$set": {"revoked_at": DateTime::now()}},
        )
        .await
        .unwrap();
    let response = whoami().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(json(response).await["error"]["code"], "invalid_token");
}

#[tokio::test]
async fn a_token_of_another_purpose_is_refused() {
    let app = spawn_app(build).await;
    let user = test_support::sign_in(&app, "ada@example.com").await;
    let claims = SessionClaims {
        sid: user.session_id,
        key: user.user_key,
    };
    let refresh = token_keys()
        .issue(
            Purpose::Refresh,
            &user.user_id,
            Duration::from_secs(60),
            claims,
        )
        .unwrap()
        .token;
    let response = app
        .get("/service/probe/v1/whoami")
        .bearer_auth(refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(json(response).await["error"]["code"], "invalid_token");
}

#[tokio::test]
async fn a_session_token_without_session_claims_is_refused() {
    let app = spawn_app(build).await;
    let bare = token_keys()
        .issue(Purpose::Session, "u1", Duration::from_secs(60), NoExtra {})
        .unwrap()
        .token;
    let response = app
        .get("/service/probe/v1/whoami")
        .bearer_auth(bare)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_malformed_authorization_header_is_refused() {
    let app = spawn_app(build).await;
    for value in ["Basic abc", "Bearer", "Bearer not.a.jwt"] {
        let response = app
            .get("/service/probe/v1/whoami")
            .header("Authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{value}");
        assert_eq!(
            json(response).await["error"]["code"],
            "invalid_token",
            "{value}"
        );
    }
}

#[tokio::test]
async fn a_live_session_is_honoured_only_for_its_own_user() {
    // A token naming Bob with Ada's session id: the session is live, but not his.
    let app = spawn_app(build).await;
    let ada = test_support::sign_in(&app, "ada@example.com").await;
    let bob = test_support::sign_in(&app, "bob@example.com").await;
    let whoami = |token: String| {
        app.get("/service/probe/v1/whoami")
            .bearer_auth(token)
            .send()
    };
    // Ada's own token first, so her session's answer is in the cache.
    assert_eq!(whoami(ada.token.clone()).await.unwrap().status(), 200);
    let claims = SessionClaims {
        sid: ada.session_id.clone(),
        key: bob.user_key.clone(),
    };
    let crossed = token_keys()
        .issue(
            Purpose::Session,
            &bob.user_id,
            Duration::from_secs(60),
            claims,
        )
        .unwrap()
        .token;
    let response = whoami(crossed).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(json(response).await["error"]["code"], "invalid_token");
    assert_eq!(whoami(ada.token).await.unwrap().status(), 200);
}
