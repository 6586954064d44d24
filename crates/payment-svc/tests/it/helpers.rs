//! payment-svc on a free port with its own database and a fake Stripe, plus the request
//! bodies of the original README and signed webhook deliveries.

use std::ops::Deref;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Mac, SimpleHmac};
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use sha2::Sha256;
use test_support::fake_stripe::FakeStripe;
use test_support::TestApp;

pub use test_support::fake_stripe::{Failure, ONE_TIME_PRICE, RECURRING_PRICE};
pub use test_support::{sign_in, ADMIN_API_KEY};

/// The webhook signing secret of every spawned app (a test value, not a real secret).
pub const WEBHOOK_SECRET: &str = "whsec_coglex_test_secret_not_real";

/// A running payment-svc and the fake Stripe it talks to.
pub struct PaymentApp {
    pub app: TestApp,
    pub stripe: FakeStripe,
}

impl Deref for PaymentApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

pub async fn spawn_app() -> PaymentApp {
    spawn_app_with(&[]).await
}

/// [`spawn_app`] with extra settings (they win over the defaults here).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> PaymentApp {
    let stripe = FakeStripe::start().await;
    let fake = stripe.settings();
    let mut settings: Vec<(&str, &str)> =
        fake.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    settings.extend([
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_TIMEOUT_MS", "2000"),
    ]);
    settings.extend_from_slice(overrides);
    let app = test_support::spawn_app_with(payment_svc::build, &settings).await;
    PaymentApp { app, stripe }
}

impl PaymentApp {
    /// `POST /checkout` with the API key.
    pub fn checkout(&self, body: &Value) -> reqwest::RequestBuilder {
        self.post("/service/payment/v1/checkout").json(body)
    }

    /// `POST /checkout` as a signed-in user.
    pub fn checkout_as(&self, token: &str, body: &Value) -> reqwest::RequestBuilder {
        self.checkout(body).bearer_auth(token)
    }

    /// `POST /checkout`, expecting success; the session's id.
    pub async fn create_session(&self, token: Option<&str>, body: &Value) -> String {
        let request = match token {
            Some(token) => self.checkout_as(token, body),
            None => self.checkout(body),
        };
        let response = request.send().await.expect("request sent");
        assert_eq!(response.status(), 200, "checkout failed");
        let body: Value = response.json().await.expect("JSON");
        body["id"].as_str().expect("an id").to_owned()
    }

    pub fn checkout_status(&self, id: &str) -> reqwest::RequestBuilder {
        self.get(&format!("/service/payment/v1/checkout/{id}"))
    }

    pub fn payments(&self, token: &str) -> reqwest::RequestBuilder {
        self.get("/service/payment/v1/payments").bearer_auth(token)
    }

    /// The body of `GET /payments` for the user of `token`.
    pub async fn payments_of(&self, token: &str) -> Value {
        let response = self
            .payments(token)
            .send()
            .await
            .expect("payment-svc answers");
        response.json().await.expect("a JSON body")
    }

    /// `POST /webhook` without the API key, as Stripe calls it, with `signature` (if any).
    pub async fn deliver(&self, payload: &str, signature: Option<String>) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url("/service/payment/v1/webhook"))
            .header("Content-Type", "application/json")
            .body(payload.to_owned());
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        request.send().await.expect("request sent")
    }

    /// Delivers `payload` signed now with the app's secret, expecting a 200.
    pub async fn deliver_signed(&self, payload: &str) -> Value {
        let response = self
            .deliver(payload, Some(signature(WEBHOOK_SECRET, now(), payload)))
            .await;
        assert_eq!(response.status(), 200, "webhook refused");
        response.json().await.expect("JSON")
    }

    /// A stored payment record, read beside the API.
    pub async fn record(&self, id: &str) -> Option<Document> {
        self.database
            .collection::<Document>("_PAYMENTS")
            .find_one(doc! { "_id": id })
            .await
            .expect("query")
    }

    pub async fn count(&self, collection: &str) -> u64 {
        self.database
            .collection::<Document>(collection)
            .count_documents(doc! {})
            .await
            .expect("count")
    }
}

/// The original README's payment-mode example: an inline price and a price id.
pub fn payment_example() -> Value {
    json!({
        "mode": "payment",
        "success_url": "https://example.com/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://example.com/cancel",
        "email": "customer@example.com",
        "linedata": [
            {
                "price_data": {
                    "currency": "usd",
                    "product_data": {
                        "name": "Premium Subscription",
                        "description": "Monthly premium access",
                        "images": ["https://example.com/product-image.jpg"]
                    },
                    "unit_amount": 2999
                },
                "quantity": 1
            },
            {"price": ONE_TIME_PRICE, "quantity": 2}
        ],
        "metadata": {"user_id": "user_123", "order_id": "order_456", "source": "web_app"}
    })
}

/// The original README's subscription-mode example.
pub fn subscription_example() -> Value {
    json!({
        "mode": "subscription",
        "success_url": "https://example.com/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://example.com/cancel",
        "email": "customer@example.com",
        "linedata": [{"price": RECURRING_PRICE, "quantity": 1}],
        "metadata": {"user_id": "user_123", "plan": "premium_monthly"}
    })
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// `Stripe-Signature` as Stripe computes it: HMAC-SHA256 of `"{t}.{payload}"`.
pub fn signature(secret: &str, timestamp: u64, payload: &str) -> String {
    let mut mac = SimpleHmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

/// An event as Stripe delivers it.
pub fn event(id: &str, kind: &str, created: u64, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
    })
    .to_string()
}

/// A completed Checkout Session as `checkout.session.completed` carries it.
pub fn completed_session(id: &str, user_id: Option<&str>, subscription: Option<&str>) -> Value {
    let metadata = match user_id {
        Some(user_id) => json!({"user_id": user_id, "order_id": "order_456"}),
        None => json!({"order_id": "order_456"}),
    };
    json!({
        "id": id,
        "object": "checkout.session",
        "amount_total": 5999,
        "currency": "usd",
        "customer": "cus_test_1",
        "customer_details": {"email": "customer@example.com"},
        "customer_email": "customer@example.com",
        "metadata": metadata,
        "mode": if subscription.is_some() { "subscription" } else { "payment" },
        "payment_status": "paid",
        "status": "complete",
        "subscription": subscription,
    })
}

/// A subscription as `customer.subscription.*` carries it.
pub fn subscription(id: &str, status: &str, user_id: &str) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "status": status,
        "customer": "cus_test_1",
        "cancel_at_period_end": false,
        "metadata": {"user_id": user_id},
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": RECURRING_PRICE}}]},
    })
}

/// An error body's `error.code` and `error.message`.
pub async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}
