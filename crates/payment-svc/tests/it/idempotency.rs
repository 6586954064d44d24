//! Every creation carries an `Idempotency-Key`; a client's own key makes a retry return the
//! session it already created instead of a second one.

use serde_json::{json, Value};

use crate::helpers::*;

async fn create(
    app: &PaymentApp,
    key: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = app.checkout(body).header("Idempotency-Key", key);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn id_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_creation_sends_an_idempotency_key() {
    let app = spawn_app().await;

    app.checkout(&payment_example()).send().await.unwrap();

    let sent = app.stripe.last_request().unwrap();
    assert!(sent
        .header("idempotency-key")
        .is_some_and(|k| !k.is_empty()));
}

#[tokio::test]
async fn requests_without_a_client_key_get_different_keys() {
    let app = spawn_app().await;

    app.checkout(&payment_example()).send().await.unwrap();
    app.checkout(&payment_example()).send().await.unwrap();

    let keys: Vec<_> = app
        .stripe
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_ne!(keys[0], keys[1]);
    assert_eq!(app.stripe.sessions().len(), 2);
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_same_session() {
    let app = spawn_app().await;

    let first = id_of(create(&app, "order-456", None, &payment_example()).await).await;
    let retry = id_of(create(&app, "order-456", None, &payment_example()).await).await;

    assert_eq!(first, retry);
    assert_eq!(app.stripe.sessions().len(), 1);
    assert_eq!(app.count("_PAYMENTS").await, 1);
}

#[tokio::test]
async fn the_same_key_from_two_users_creates_two_sessions() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    let bob = sign_in(&app, "bob@example.com").await;

    let first = id_of(create(&app, "order-1", Some(&ada.token), &payment_example()).await).await;
    let second = id_of(create(&app, "order-1", Some(&bob.token), &payment_example()).await).await;

    assert_ne!(first, second);
}

#[tokio::test]
async fn reusing_a_key_for_a_different_request_is_a_409() {
    let app = spawn_app().await;
    create(&app, "order-456", None, &payment_example()).await;
    let mut other = payment_example();
    other["linedata"][1]["quantity"] = json!(5);

    let response = create(&app, "order-456", None, &other).await;

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (409, "conflict"));
    assert_eq!(app.stripe.sessions().len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_longer_than_stripe_allows_is_refused() {
    let app = spawn_app().await;

    let response = create(&app, &"k".repeat(256), None, &payment_example()).await;

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("Idempotency-Key"), "{message}");
    assert!(app.stripe.requests().is_empty());
}

#[tokio::test]
async fn a_key_still_in_use_at_stripe_is_409_with_retry_after() {
    let app = spawn_app().await;
    let example = payment_example();
    app.stripe
        .fail_next(Failure::Delay(std::time::Duration::from_millis(800)));

    let (first, second) = tokio::join!(create(&app, "order-456", None, &example), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        create(&app, "order-456", None, &example).await
    });

    assert_eq!(second.status(), 409);
    assert_eq!(second.headers()["retry-after"], "1");
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("still in progress"));
    id_of(first).await;
}

#[tokio::test]
async fn apps_with_different_api_keys_never_share_an_idempotency_key() {
    const OTHER_APP_KEY: &str = "other-app-key-000000000000000000000000000000";
    let keys = format!("{},{OTHER_APP_KEY}", test_support::API_KEY);
    let app = spawn_app_with(&[("API_KEYS", keys.as_str())]).await;
    let first = id_of(create(&app, "order-1", None, &payment_example()).await).await;

    let other = app
        .http
        .post(app.url("/service/payment/v1/checkout"))
        .json(&payment_example())
        .header("X-API-Key", OTHER_APP_KEY)
        .header("Idempotency-Key", "order-1")
        .send()
        .await
        .unwrap();

    assert_ne!(id_of(other).await, first);
    assert_eq!(app.stripe.sessions().len(), 2);
}
