//! `GET /checkout/{id}` answers a session's recorded status to its owner or an admin key;
//! `GET /payments` lists the signed-in user's own sessions and subscriptions.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn the_owner_reads_their_sessions_status() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;
    let id = app
        .create_session(Some(&user.token), &payment_example())
        .await;

    let response = app
        .checkout_status(&id)
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["status"], "open");
    assert_eq!(body["payment_status"], "unpaid");
    assert_eq!(body["mode"], "payment");
}

#[tokio::test]
async fn another_users_session_is_not_found() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    let bob = sign_in(&app, "bob@example.com").await;
    let id = app
        .create_session(Some(&ada.token), &payment_example())
        .await;

    let response = app
        .checkout_status(&id)
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
}

#[tokio::test]
async fn an_admin_key_reads_any_session() {
    let app = spawn_app().await;
    let id = app.create_session(None, &payment_example()).await;

    let response = app
        .http
        .get(app.url(&format!("/service/payment/v1/checkout/{id}")))
        .header("X-API-Key", ADMIN_API_KEY)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn reading_a_session_needs_a_session_token_or_an_admin_key() {
    let app = spawn_app().await;
    let id = app.create_session(None, &payment_example()).await;

    let response = app.checkout_status(&id).send().await.unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
}

#[tokio::test]
async fn an_unknown_session_is_not_found() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;

    let response = app
        .checkout_status("cs_test_nothing")
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn payments_lists_only_the_callers_own_sessions() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    let bob = sign_in(&app, "bob@example.com").await;
    let mine = app
        .create_session(Some(&ada.token), &payment_example())
        .await;
    app.create_session(Some(&bob.token), &payment_example())
        .await;
    app.create_session(None, &payment_example()).await;

    let body = app.payments_of(&ada.token).await;

    let ids: Vec<_> = body["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, [Value::from(mine)]);
    assert_eq!(body["subscriptions"], serde_json::json!([]));
}

#[tokio::test]
async fn payments_needs_a_session_token() {
    let app = spawn_app().await;

    let response = app
        .get("/service/payment/v1/payments")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn checkouts_started_since_never_push_a_subscription_out_of_the_list() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    let subscribed = event(
        "evt_sub",
        "customer.subscription.created",
        now(),
        subscription("sub_ada", "active", &ada.user_id),
    );
    app.deliver_signed(&subscribed).await;
    // A list's worth of checkouts after it, abandoned carts and retries among them.
    for _ in 0..101 {
        app.create_session(Some(&ada.token), &payment_example())
            .await;
    }

    let body = app.payments_of(&ada.token).await;

    assert_eq!(body["payments"].as_array().unwrap().len(), 100);
    let subscriptions = body["subscriptions"].as_array().unwrap();
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    assert_eq!(subscriptions[0]["id"], "sub_ada");
}
