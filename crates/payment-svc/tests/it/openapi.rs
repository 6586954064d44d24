//! The served OpenAPI document: exactly the routes the service answers, each with a summary
//! and its security, and response schemas whose fields are those of real answers.

use serde_json::{json, Value};
use test_support::openapi::{answer, required, sorted_keys, ServedDocument};

use crate::helpers::*;

const BASE: &str = "/service/payment/v1";

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary_and_its_security() {
    let app = spawn_app().await;
    let api = ServedDocument::fetch(&app, BASE).await;
    assert_eq!(
        api.operations(),
        [
            "GET /service/payment/v1/checkout/{id}",
            "GET /service/payment/v1/health",
            "GET /service/payment/v1/payments",
            "GET /service/payment/v1/ready",
            "POST /service/payment/v1/checkout",
            "POST /service/payment/v1/webhook",
        ]
    );
    assert_eq!(
        api.operation("get", "/payments")["security"],
        json!([{"api_key": [], "bearer": []}])
    );
    // A session is optional: with one the checkout is the user's.
    for (method, path) in [("post", "/checkout"), ("get", "/checkout/{id}")] {
        assert_eq!(
            api.operation(method, path)["security"],
            json!([{"api_key": [], "bearer": []}, {"api_key": []}]),
            "{method} {path}"
        );
    }
    // Stripe calls the webhook without our key; its signature header is required instead.
    let webhook = api.operation("post", "/webhook");
    assert!(
        webhook.get("security").is_none_or(Value::is_null),
        "{webhook}"
    );
    let params = webhook["parameters"].as_array().unwrap();
    assert_eq!(params.len(), 1);
    assert_eq!(params[0]["name"], "Stripe-Signature");
    assert_eq!(params[0]["in"], "header");
    assert_eq!(params[0]["required"], true);
}

#[tokio::test]
async fn documented_response_schemas_have_the_fields_of_real_answers() {
    let app = spawn_app().await;
    let api = ServedDocument::fetch(&app, BASE).await;
    let user = sign_in(&app, "ada@example.com").await;

    let created = answer(app.checkout_as(&user.token, &subscription_example())).await;
    let created_schema = api.response_schema("post", "/checkout", "200");
    assert_eq!(required(created_schema), sorted_keys(&created));

    let id = created["id"].as_str().unwrap();
    let session = event(
        "evt_openapi_1",
        "checkout.session.completed",
        now(),
        completed_session(id, Some(&user.user_id), Some("sub_openapi_1")),
    );
    app.deliver_signed(&session).await;
    let invoice = event(
        "evt_openapi_2",
        "invoice.paid",
        now(),
        json!({
            "id": "in_openapi_1",
            "object": "invoice",
            "subscription": "sub_openapi_1",
            "status": "paid",
            "amount_paid": 999,
            "amount_due": 999,
            "currency": "usd",
        }),
    );
    assert_eq!(app.deliver_signed(&invoice).await["recorded"], true);

    let status = answer(app.checkout_status(id).bearer_auth(&user.token)).await;
    let session_schema = api.response_schema("get", "/checkout/{id}", "200");
    assert_eq!(required(session_schema), sorted_keys(&status));

    let list = answer(app.payments(&user.token)).await;
    let list_schema = api.response_schema("get", "/payments", "200");
    assert_eq!(required(list_schema), sorted_keys(&list));
    assert_eq!(required(session_schema), sorted_keys(&list["payments"][0]));
    let subscription = &list["subscriptions"][0];
    let schemas = &api.doc["components"]["schemas"];
    assert_eq!(
        required(&schemas["SubscriptionView"]),
        sorted_keys(subscription)
    );
    assert_eq!(
        required(&schemas["InvoiceView"]),
        sorted_keys(&subscription["latest_invoice"])
    );
}

#[tokio::test]
async fn an_oversized_webhook_body_is_413_in_the_error_shape() {
    let app = spawn_app_with(&[("MAX_JSON_BYTES", "1024")]).await;
    let payload = format!("{{\"pad\": \"{}\"}}", "x".repeat(4096));
    let response = app
        .deliver(&payload, Some(signature(WEBHOOK_SECRET, now(), &payload)))
        .await;
    assert_eq!(response.status(), 413);
    let (_, code, _) = error_of(response).await;
    assert_eq!(code, "payload_too_large");
}
