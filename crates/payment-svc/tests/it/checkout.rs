//! `POST /checkout`: the original README's examples reach Stripe as Stripe expects them and
//! answer in the original shape.

use serde_json::{json, Value};
use test_support::fake_stripe::FAKE_STRIPE_KEY;

use crate::helpers::*;

#[tokio::test]
async fn the_original_payment_example_answers_in_the_original_shape() {
    let app = spawn_app().await;

    let response = app.checkout(&payment_example()).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("cs_test_"), "{body}");
    assert!(body["url"]
        .as_str()
        .unwrap()
        .starts_with("https://checkout.stripe.com/"));
    assert_eq!(body["payment_status"], "unpaid");
    assert_eq!(body["customer_email"], "customer@example.com");
    assert_eq!(body["mode"], "payment");
    assert_eq!(
        body["metadata"],
        json!({"order_id": "order_456", "source": "web_app"})
    );
}

#[tokio::test]
async fn line_items_reach_stripe_as_nested_form_fields() {
    let app = spawn_app().await;

    app.checkout(&payment_example()).send().await.unwrap();

    let sent = app.stripe.last_request().unwrap();
    assert_eq!(sent.path, "/v1/checkout/sessions");
    assert!(sent
        .header("content-type")
        .unwrap()
        .starts_with("application/x-www-form-urlencoded"));
    for (key, value) in [
        ("mode", "payment"),
        (
            "success_url",
            "https://example.com/success?session_id={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "https://example.com/cancel"),
        ("customer_email", "customer@example.com"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "2999"),
        (
            "line_items[0][price_data][product_data][name]",
            "Premium Subscription",
        ),
        (
            "line_items[0][price_data][product_data][description]",
            "Monthly premium access",
        ),
        (
            "line_items[0][price_data][product_data][images][0]",
            "https://example.com/product-image.jpg",
        ),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price]", ONE_TIME_PRICE),
        ("line_items[1][quantity]", "2"),
        ("metadata[order_id]", "order_456"),
    ] {
        assert_eq!(sent.param(key), Some(value), "{key}");
    }
}

#[tokio::test]
async fn the_secret_key_is_sent_as_a_bearer_token() {
    let app = spawn_app().await;

    app.checkout(&payment_example()).send().await.unwrap();

    let sent = app.stripe.last_request().unwrap();
    let expected = format!("Bearer {FAKE_STRIPE_KEY}");
    assert_eq!(sent.header("authorization"), Some(expected.as_str()));
}

#[tokio::test]
async fn the_original_subscription_example_creates_a_subscription_session() {
    let app = spawn_app().await;

    let response = app.checkout(&subscription_example()).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mode"], "subscription");
    assert_eq!(body["metadata"], json!({"plan": "premium_monthly"}));
    let sent = app.stripe.last_request().unwrap();
    assert_eq!(sent.param("line_items[0][price]"), Some(RECURRING_PRICE));
}

#[tokio::test]
async fn an_inline_recurring_price_creates_a_subscription_session() {
    let app = spawn_app().await;
    let mut body = subscription_example();
    body["linedata"] = json!([{
        "price_data": {
            "currency": "eur",
            "unit_amount": 900,
            "product_data": {"name": "Basic"},
            "recurring": {"interval": "month", "interval_count": 3}
        },
        "quantity": 1
    }]);

    let response = app.checkout(&body).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let sent = app.stripe.last_request().unwrap();
    assert_eq!(
        sent.param("line_items[0][price_data][recurring][interval]"),
        Some("month")
    );
    assert_eq!(
        sent.param("line_items[0][price_data][recurring][interval_count]"),
        Some("3")
    );
}

#[tokio::test]
async fn a_subscription_can_add_a_one_time_setup_fee() {
    let app = spawn_app().await;
    let mut body = subscription_example();
    let fee = json!({
        "price_data": {"currency": "usd", "unit_amount": 500, "product_data": {"name": "Setup"}},
        "quantity": 1
    });
    body["linedata"].as_array_mut().unwrap().push(fee);

    let response = app.checkout(&body).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let sent = app.stripe.last_request().unwrap();
    assert_eq!(sent.param("line_items[0][price]"), Some(RECURRING_PRICE));
    assert_eq!(
        sent.param("line_items[1][price_data][unit_amount]"),
        Some("500")
    );
    assert_eq!(
        sent.param("line_items[1][price_data][recurring][interval]"),
        None
    );
}

#[tokio::test]
async fn a_signed_in_callers_session_is_linked_to_them_whatever_the_client_claims() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;

    let response = app
        .checkout_as(&user.token, &payment_example())
        .send()
        .await
        .unwrap();

    let body: Value = response.json().await.unwrap();
    assert_eq!(body["metadata"]["user_id"], user.user_id.as_str());
    let sent = app.stripe.last_request().unwrap();
    assert_eq!(sent.param("metadata[user_id]"), Some(user.user_id.as_str()));
    assert_eq!(
        sent.param("client_reference_id"),
        Some(user.user_id.as_str())
    );
}

#[tokio::test]
async fn a_subscription_carries_the_user_id_in_its_own_metadata() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;

    app.checkout_as(&user.token, &subscription_example())
        .send()
        .await
        .unwrap();

    let sent = app.stripe.last_request().unwrap();
    assert_eq!(
        sent.param("subscription_data[metadata][user_id]"),
        Some(user.user_id.as_str())
    );
}

#[tokio::test]
async fn without_a_session_a_client_supplied_user_id_is_not_sent() {
    let app = spawn_app().await;

    app.checkout(&payment_example()).send().await.unwrap();

    let sent = app.stripe.last_request().unwrap();
    assert_eq!(sent.param("metadata[user_id]"), None);
    assert_eq!(sent.param("client_reference_id"), None);
}

#[tokio::test]
async fn a_created_session_is_recorded_as_open() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;

    let id = app
        .create_session(Some(&user.token), &payment_example())
        .await;

    let record = app.record(&id).await.expect("a record");
    assert_eq!(record.get_str("status").unwrap(), "open");
    assert_eq!(record.get_str("user_id").unwrap(), user.user_id);
    assert_eq!(record.get_i64("amount_total").unwrap(), 2999 + 2 * 1500);
}

#[tokio::test]
async fn an_invalid_session_token_is_refused_before_stripe_is_called() {
    let app = spawn_app().await;

    let response = app
        .checkout_as("not-a-token", &payment_example())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    assert!(app.stripe.requests().is_empty());
}

#[tokio::test]
async fn without_a_stripe_key_checkout_answers_503() {
    let app = spawn_app_with(&[("STRIPE_SECRET_KEY", "")]).await;

    let response = app.checkout(&payment_example()).send().await.unwrap();

    assert_eq!(response.status(), 503);
    assert!(app.stripe.requests().is_empty());
}
