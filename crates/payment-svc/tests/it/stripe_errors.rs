//! Stripe's failures become clear answers: its refusals a 400 with its message (never our
//! key), rate limiting a 429, outages a 502, slowness a 504; and nothing is recorded.

use serde_json::json;
use test_support::fake_stripe::FAKE_STRIPE_KEY;

use crate::helpers::*;

#[tokio::test]
async fn a_price_stripe_does_not_know_is_a_400_with_stripes_message() {
    let app = spawn_app().await;
    let mut body = payment_example();
    body["linedata"][1]["price"] = json!("price_unknown");

    let response = app.checkout(&body).send().await.unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert_eq!(message, "No such price: 'price_unknown'");
}

#[tokio::test]
async fn a_one_time_price_id_in_subscription_mode_is_refused_by_stripe_as_a_400() {
    let app = spawn_app().await;
    let mut body = subscription_example();
    body["linedata"][0]["price"] = json!(ONE_TIME_PRICE);

    let response = app.checkout(&body).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("recurring price"), "{message}");
}

#[tokio::test]
async fn a_card_error_is_a_400_with_stripes_message() {
    let app = spawn_app().await;
    app.stripe.fail_next(Failure::Status(402));

    let response = app.checkout(&payment_example()).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "Your card was declined.");
}

#[tokio::test]
async fn a_stripe_message_that_quotes_our_key_is_not_passed_on() {
    let app = spawn_app().await;
    app.stripe.fail_next(Failure::Message(
        400,
        format!("Bad key {FAKE_STRIPE_KEY} used"),
    ));

    let response = app.checkout(&payment_example()).send().await.unwrap();

    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(!text.contains(FAKE_STRIPE_KEY), "{text}");
    assert!(text.contains("Stripe refused the request"), "{text}");
}

#[tokio::test]
async fn a_secret_key_stripe_rejects_is_a_502_without_stripes_text() {
    let app = spawn_app_with(&[("STRIPE_SECRET_KEY", "sk_test_wrong_key_for_tests")]).await;

    let response = app.checkout(&payment_example()).send().await.unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (502, "bad_gateway"));
    assert!(!message.contains("API Key"), "{message}");
}

#[tokio::test]
async fn stripe_rate_limiting_is_a_429_with_retry_after() {
    let app = spawn_app().await;
    app.stripe.fail_next(Failure::Status(429));

    let response = app.checkout(&payment_example()).send().await.unwrap();

    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let (_, code, _) = error_of(response).await;
    assert_eq!(code, "rate_limited");
}

#[tokio::test]
async fn a_stripe_server_error_is_a_502() {
    let app = spawn_app().await;
    app.stripe.fail_next(Failure::Status(500));

    let response = app.checkout(&payment_example()).send().await.unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (502, "bad_gateway"));
}

#[tokio::test]
async fn an_error_page_that_is_not_json_is_a_502() {
    let app = spawn_app().await;
    app.stripe.fail_next(Failure::NotJson(503));

    let response = app.checkout(&payment_example()).send().await.unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (502, "bad_gateway"));
}

#[tokio::test]
async fn an_unreachable_stripe_is_a_502() {
    let stopped = test_support::fake_stripe::FakeStripe::start().await;
    let url = stopped.url.clone();
    stopped.stop().await;
    let app = spawn_app_with(&[("STRIPE_API_BASE", &url)]).await;

    let response = app.checkout(&payment_example()).send().await.unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (502, "bad_gateway"));
}

#[tokio::test]
async fn a_stripe_slower_than_the_timeout_is_a_504() {
    let app = spawn_app_with(&[("STRIPE_TIMEOUT_MS", "300")]).await;
    app.stripe
        .fail_next(Failure::Delay(std::time::Duration::from_secs(2)));

    let response = app.checkout(&payment_example()).send().await.unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (504, "gateway_timeout"));
}

#[tokio::test]
async fn nothing_is_recorded_when_stripe_refuses() {
    let app = spawn_app().await;
    app.stripe.fail_next(Failure::Status(500));

    app.checkout(&payment_example()).send().await.unwrap();

    assert_eq!(app.count("_PAYMENTS").await, 0);
}
