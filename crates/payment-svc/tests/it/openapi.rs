//! The served OpenAPI document: exactly the routes the service answers, each with a summary
//! and its security, and response schemas whose fields are those of real answers.

use serde_json::{json, Value};
use test_support::TestApp;

use crate::helpers::*;

const BASE: &str = "/service/payment/v1";

async fn document(app: &TestApp) -> Value {
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200, "served without a key");
    response.json().await.unwrap()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][format!("{BASE}{path}")][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    op
}

/// Follows a `$ref` into `components.schemas`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
        None => schema,
    }
}

fn success_schema<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = operation(doc, method, path);
    resolve(
        doc,
        &op["responses"]["200"]["content"]["application/json"]["schema"],
    )
}

fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.collect();
    names.sort();
    names
}

fn required(schema: &Value) -> Vec<String> {
    sorted(
        schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned()),
    )
}

fn keys(value: &Value) -> Vec<String> {
    sorted(value.as_object().unwrap().keys().cloned())
}

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary_and_its_security() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_uppercase()));
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(!summary.trim().is_empty(), "{method} {path} has no summary");
        }
    }
    listed.sort();
    assert_eq!(
        listed,
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
        operation(&doc, "get", "/payments")["security"],
        json!([{"api_key": [], "bearer": []}])
    );
    // A session is optional: with one the checkout is the user's.
    for (method, path) in [("post", "/checkout"), ("get", "/checkout/{id}")] {
        assert_eq!(
            operation(&doc, method, path)["security"],
            json!([{"api_key": [], "bearer": []}, {"api_key": []}]),
            "{method} {path}"
        );
    }
    // Stripe calls the webhook without our key; its signature header is required instead.
    let webhook = operation(&doc, "post", "/webhook");
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
    let doc = document(&app).await;
    let user = sign_in(&app, "ada@example.com").await;

    let created: Value = app
        .checkout_as(&user.token, &subscription_example())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created_schema = success_schema(&doc, "post", "/checkout");
    assert_eq!(required(created_schema), keys(&created));

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

    let status: Value = app
        .checkout_status(id)
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_schema = success_schema(&doc, "get", "/checkout/{id}");
    assert_eq!(required(session_schema), keys(&status));

    let list: Value = app
        .payments(&user.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list_schema = success_schema(&doc, "get", "/payments");
    assert_eq!(required(list_schema), keys(&list));
    assert_eq!(required(session_schema), keys(&list["payments"][0]));
    let subscription = &list["subscriptions"][0];
    let subscription_schema = &doc["components"]["schemas"]["SubscriptionView"];
    assert_eq!(required(subscription_schema), keys(subscription));
    let invoice_schema = &doc["components"]["schemas"]["InvoiceView"];
    assert_eq!(
        required(invoice_schema),
        keys(&subscription["latest_invoice"])
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
