//! Bad checkout input is a 400 naming the field, and Stripe is never called.

use serde_json::{json, Value};

use crate::helpers::*;

/// Sends the payment example changed by `mutate`; asserts a 400 whose message contains
/// `expected` and that Stripe saw nothing.
async fn assert_refused(mutate: impl FnOnce(&mut Value), expected: &str) {
    assert_refused_with(&[], mutate, expected).await;
}

async fn assert_refused_with(
    settings: &[(&str, &str)],
    mutate: impl FnOnce(&mut Value),
    expected: &str,
) {
    let app = spawn_app_with(settings).await;
    let mut body = payment_example();
    mutate(&mut body);

    let response = app.checkout(&body).send().await.unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"), "{message}");
    assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    assert!(app.stripe.requests().is_empty(), "Stripe was called");
    assert_eq!(app.count("_PAYMENTS").await, 0);
}

#[tokio::test]
async fn an_unknown_mode_is_refused() {
    assert_refused(|b| b["mode"] = json!("setup"), "mode must be").await;
}

#[tokio::test]
async fn a_missing_mode_is_refused() {
    assert_refused(
        |b| {
            b.as_object_mut().unwrap().remove("mode");
        },
        "mode must be",
    )
    .await;
}

#[tokio::test]
async fn a_relative_success_url_is_refused() {
    assert_refused(
        |b| b["success_url"] = json!("/success"),
        "success_url must be an absolute http(s) URL",
    )
    .await;
}

#[tokio::test]
async fn a_missing_success_url_is_refused() {
    assert_refused(
        |b| {
            b.as_object_mut().unwrap().remove("success_url");
        },
        "success_url is required",
    )
    .await;
}

#[tokio::test]
async fn a_cancel_url_with_another_scheme_is_refused() {
    assert_refused(
        |b| b["cancel_url"] = json!("javascript:alert(1)"),
        "cancel_url must be an absolute http(s) URL",
    )
    .await;
}

#[tokio::test]
async fn a_redirect_to_a_host_that_is_not_allowed_is_refused() {
    assert_refused_with(
        &[("CHECKOUT_ALLOWED_REDIRECT_HOSTS", "shop.example.org")],
        |_| {},
        "success_url must point to one of the allowed hosts",
    )
    .await;
}

#[tokio::test]
async fn a_redirect_to_an_allowed_host_is_accepted() {
    let app = spawn_app_with(&[("CHECKOUT_ALLOWED_REDIRECT_HOSTS", "example.com")]).await;

    let response = app.checkout(&payment_example()).send().await.unwrap();

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn with_prices_on_sale_configured_inline_prices_are_refused() {
    assert_refused_with(
        &[("CHECKOUT_ALLOWED_PRICES", ONE_TIME_PRICE)],
        |_| {},
        "linedata[0].price_data is not accepted",
    )
    .await;
}

#[tokio::test]
async fn with_prices_on_sale_configured_another_price_id_is_refused() {
    assert_refused_with(
        &[("CHECKOUT_ALLOWED_PRICES", "price_other")],
        |b| b["linedata"] = json!([{"price": ONE_TIME_PRICE, "quantity": 1}]),
        "linedata[0].price is not one of the prices on sale",
    )
    .await;
}

#[tokio::test]
async fn a_price_on_sale_is_accepted() {
    let app = spawn_app_with(&[(
        "CHECKOUT_ALLOWED_PRICES",
        &format!("price_other,{ONE_TIME_PRICE}"),
    )])
    .await;
    let mut body = payment_example();
    body["linedata"] = json!([{"price": ONE_TIME_PRICE, "quantity": 2}]);

    let response = app.checkout(&body).send().await.unwrap();

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn empty_linedata_is_refused() {
    assert_refused(
        |b| b["linedata"] = json!([]),
        "linedata must be a non-empty array",
    )
    .await;
}

#[tokio::test]
async fn a_line_item_without_a_price_is_refused() {
    assert_refused(
        |b| b["linedata"][1] = json!({"quantity": 1}),
        "linedata[1] must have exactly one of `price` or `price_data`",
    )
    .await;
}

#[tokio::test]
async fn a_negative_unit_amount_is_refused() {
    assert_refused(
        |b| b["linedata"][0]["price_data"]["unit_amount"] = json!(-1),
        "linedata[0].price_data.unit_amount must be an integer",
    )
    .await;
}

#[tokio::test]
async fn a_fractional_unit_amount_is_refused() {
    assert_refused(
        |b| b["linedata"][0]["price_data"]["unit_amount"] = json!(29.99),
        "linedata[0].price_data.unit_amount must be an integer",
    )
    .await;
}

#[tokio::test]
async fn a_zero_quantity_is_refused() {
    assert_refused(
        |b| b["linedata"][1]["quantity"] = json!(0),
        "linedata[1].quantity must be an integer from 1 to 1000",
    )
    .await;
}

#[tokio::test]
async fn a_quantity_above_the_configured_bound_is_refused() {
    assert_refused_with(
        &[("CHECKOUT_MAX_QUANTITY", "10")],
        |b| b["linedata"][1]["quantity"] = json!(11),
        "linedata[1].quantity must be an integer from 1 to 10",
    )
    .await;
}

#[tokio::test]
async fn a_currency_that_is_not_three_letters_is_refused() {
    assert_refused(
        |b| b["linedata"][0]["price_data"]["currency"] = json!("dollars"),
        "linedata[0].price_data.currency must be a three-letter ISO currency code",
    )
    .await;
}

#[tokio::test]
async fn a_subscription_of_one_time_inline_prices_only_is_refused() {
    assert_refused(
        |b| {
            b["mode"] = json!("subscription");
            b["linedata"] = json!([b["linedata"][0].clone()]);
        },
        "subscription mode needs at least one item with a recurring price",
    )
    .await;
}

#[tokio::test]
async fn a_recurring_inline_price_in_payment_mode_is_refused() {
    assert_refused(
        |b| b["linedata"][0]["price_data"]["recurring"] = json!({"interval": "month"}),
        "recurring is not allowed in payment mode",
    )
    .await;
}

#[tokio::test]
async fn metadata_with_more_than_fifty_keys_is_refused() {
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_refused(
        |b| b["metadata"] = Value::Object(many),
        "metadata must have at most 50 keys",
    )
    .await;
}

#[tokio::test]
async fn a_metadata_key_longer_than_forty_characters_is_refused() {
    assert_refused(
        |b| b["metadata"] = json!({"k".repeat(41): "v"}),
        "metadata keys must be 1 to 40 characters",
    )
    .await;
}

#[tokio::test]
async fn a_metadata_value_longer_than_five_hundred_characters_is_refused() {
    assert_refused(
        |b| b["metadata"]["order_id"] = json!("v".repeat(501)),
        "metadata.order_id must be at most 500 characters",
    )
    .await;
}

#[tokio::test]
async fn an_invalid_email_is_refused() {
    assert_refused(
        |b| b["email"] = json!("not-an-email"),
        "email must be a valid email address",
    )
    .await;
}

#[tokio::test]
async fn a_price_id_that_could_smuggle_form_fields_is_refused() {
    assert_refused(
        |b| b["linedata"][1]["price"] = json!("price_1&mode=setup"),
        "linedata[1].price must be a Stripe id",
    )
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused() {
    let app = spawn_app().await;

    let response = app
        .post("/service/payment/v1/checkout")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "invalid_json"));
    assert!(app.stripe.requests().is_empty());
}
