//! Every route needs `X-API-Key` except Stripe's webhook, which proves itself with its
//! signature instead.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_route_but_the_webhook_needs_the_api_key() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;
    let routes = [
        app.http
            .post(app.url("/service/payment/v1/checkout"))
            .json(&payment_example()),
        app.http
            .get(app.url("/service/payment/v1/checkout/cs_test_1")),
        app.http.get(app.url("/service/payment/v1/payments")),
    ];

    for request in routes {
        let response = request.bearer_auth(&user.token).send().await.unwrap();
        let (status, code, _) = error_of(response).await;
        assert_eq!((status, code.as_str()), (401, "invalid_api_key"));
    }
    assert!(app.stripe.requests().is_empty());
}

#[tokio::test]
async fn a_wrong_api_key_is_refused() {
    let app = spawn_app().await;

    let response = app
        .http
        .post(app.url("/service/payment/v1/checkout"))
        .header("X-API-Key", "not-the-key-00000000000000000000000000000")
        .json(&payment_example())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_webhook_answers_without_the_api_key() {
    let app = spawn_app().await;
    let payload = event("evt_1", "charge.succeeded", now(), json!({"id": "ch_1"}));

    let response = app
        .deliver(&payload, Some(signature(WEBHOOK_SECRET, now(), &payload)))
        .await;

    assert_eq!(response.status(), 200);
}
