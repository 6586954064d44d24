//! `POST /checkout` creates a Stripe Checkout Session from the original API's body and
//! answers as the original did (`id`, `url`, `payment_status`, `customer_email`, `mode`,
//! `metadata`); `GET /checkout/{id}` answers the session's recorded status to its owner or
//! an admin key.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::mongo::deadline;
use coglex_common::web::{Caller, ErrorBody, MaybeAuthUser};
use coglex_common::ApiError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::checkout::{CheckoutRequest, Limits};
use crate::domain::idempotency::{IdempotencyKey, Scope};
use crate::store::{session_view, SessionView, DEADLINE};
use crate::PaymentState;

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const X_API_KEY: &str = "x-api-key";

/// A checkout in the original API's shape (documents the body `CheckoutRequest::parse` checks).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct CheckoutSessionRequest {
    mode: CheckoutMode,
    /// Where Stripe sends the customer after paying: an absolute http(s) URL (at most 5000
    /// characters, on `CHECKOUT_ALLOWED_REDIRECT_HOSTS` if set). `{CHECKOUT_SESSION_ID}` is
    /// kept for Stripe to fill in.
    #[schema(format = "uri", max_length = 5000)]
    success_url: String,
    /// Where Stripe sends a customer who cancels; same rules as `success_url`.
    #[schema(format = "uri", max_length = 5000)]
    cancel_url: Option<String>,
    /// Prefills the customer's email address.
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    /// The line items: at most 100 in payment mode; in subscription mode at least one
    /// recurring, and at most 20 recurring and 20 one-time (billed on the first invoice).
    #[schema(min_items = 1, max_items = 100)]
    linedata: Vec<CheckoutLineItem>,
    /// At most 50 keys of up to 40 characters (no `[` or `]`), values of up to 500
    /// characters. `user_id` is set by the server from the session token; a client's is
    /// dropped.
    #[schema(value_type = Option<BTreeMap<String, CheckoutMetadataValue>>)]
    metadata: Option<Value>,
}

/// `payment` (one-time prices) or `subscription` (recurring prices, one-time ones beside).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum CheckoutMode {
    Payment,
    Subscription,
}

/// A metadata value; Stripe stores each as a string.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum CheckoutMetadataValue {
    String(String),
    Number(f64),
    Boolean(bool),
}

/// One line item: exactly one of `price` or `price_data` (neither may be `null`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct CheckoutLineItem {
    /// An existing Stripe price id such as `price_123` (letters, digits, `_` and `-`).
    #[schema(
        required = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[A-Za-z0-9_-]+$"
    )]
    price: String,
    /// A price created inline.
    #[schema(required = false)]
    price_data: CheckoutPriceData,
    /// From 1 to `CHECKOUT_MAX_QUANTITY`; leave out only for metered prices.
    #[schema(minimum = 1)]
    quantity: Option<u64>,
}

/// An inline price: exactly one of `product` or `product_data` (neither may be `null`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct CheckoutPriceData {
    /// A three-letter ISO 4217 currency code.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    currency: String,
    /// In the currency's smallest unit (cents for usd).
    #[schema(minimum = 0, maximum = 99_999_999)]
    unit_amount: u64,
    /// An existing Stripe product id.
    #[schema(
        required = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[A-Za-z0-9_-]+$"
    )]
    product: String,
    /// A product created inline.
    #[schema(required = false)]
    product_data: CheckoutProductData,
    /// Required in subscription mode, refused in payment mode.
    recurring: Option<CheckoutRecurring>,
}

/// A product created inline.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct CheckoutProductData {
    #[schema(min_length = 1, max_length = 5000)]
    name: String,
    #[schema(max_length = 5000)]
    description: Option<String>,
    /// Absolute http(s) URLs of product images.
    #[schema(max_items = 8)]
    images: Option<Vec<String>>,
}

/// How often a recurring price bills: at most every three years.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct CheckoutRecurring {
    interval: CheckoutInterval,
    /// Intervals between bills, 1 to 1095 days, 156 weeks, 36 months or 3 years.
    #[schema(minimum = 1, maximum = 1095)]
    interval_count: Option<u64>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum CheckoutInterval {
    Day,
    Week,
    Month,
    Year,
}

/// The created Checkout Session, as the original API answered it.
#[derive(Serialize, ToSchema)]
pub(crate) struct CheckoutCreated {
    /// The Checkout Session id (`cs_...`); `GET /checkout/{id}` reads its status.
    id: String,
    /// Stripe's hosted checkout page: send the customer there.
    #[schema(required = true)]
    url: Option<String>,
    /// `unpaid` until the customer pays.
    payment_status: String,
    #[schema(required = true)]
    customer_email: Option<String>,
    /// `payment` or `subscription`.
    mode: String,
    /// The session's metadata, with the server's `user_id` for a signed-in caller.
    metadata: BTreeMap<String, String>,
}

/// Create a checkout session
///
/// Creates a Stripe Checkout Session from the original API's body and answers its id and the
/// URL to send the customer to. The body is checked against Stripe's rules before Stripe is
/// called. With a Bearer session token the session is linked to the user (`user_id` in its
/// metadata, and `GET /payments` lists it); without one it is anonymous. A retried request
/// with the same `Idempotency-Key` (from the same caller) answers the same session.
#[utoipa::path(
    post,
    path = "/checkout",
    security(("bearer" = []), ()),
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters; a retry with the same key and body answers the same session")),
    request_body(content = CheckoutSessionRequest, description = "The checkout to create"),
    responses(
        (status = 200, description = "The session was created", body = CheckoutCreated),
        (status = 400, description = "A field is missing or breaks Stripe's rules, a malformed `Idempotency-Key`, a request Stripe refused, or a body that is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "A Bearer token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 409, description = "This `Idempotency-Key` was already used with a different request", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 429, description = "Stripe is rate limiting requests; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "Stripe could not be reached, refused our key, or answered something unexpected", body = ErrorBody),
        (status = 503, description = "Stripe is not configured (`STRIPE_SECRET_KEY`) or the database is unavailable", body = ErrorBody),
        (status = 504, description = "Stripe did not answer in `STRIPE_TIMEOUT_MS`", body = ErrorBody),
    ),
)]
pub(crate) async fn create_checkout_session(
    state: web::Data<PaymentState>,
    user: MaybeAuthUser,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let user_id = user.0.as_ref().map(|u| u.user_id.as_str());
    let limits = Limits {
        allowed_hosts: state.settings.redirect_hosts(),
        allowed_prices: state.settings.prices(),
        max_quantity: state.settings.checkout_max_quantity,
    };
    let request = CheckoutRequest::parse(&body, user_id, limits)?;
    let key = match req.headers().get(IDEMPOTENCY_KEY) {
        Some(raw) => {
            let api_key = req
                .headers()
                .get(X_API_KEY)
                .map_or(&[][..], |v| v.as_bytes());
            let scope = user_id.map_or(Scope::ApiKey(api_key), Scope::User);
            IdempotencyKey::from_client(raw.as_bytes(), scope)?
        }
        None => IdempotencyKey::generate(),
    };
    let session = state.stripe.create_checkout_session(&request, &key).await?;
    deadline(DEADLINE, state.store.record_created(&session, user_id)).await??;
    Ok(HttpResponse::Ok().json(CheckoutCreated {
        id: session.id,
        url: session.url,
        payment_status: session.payment_status,
        customer_email: session.customer_email,
        mode: session.mode,
        metadata: session.metadata,
    }))
}

/// Read a checkout session
///
/// Answers a Checkout Session's recorded status to the signed-in user who created it, or to
/// an admin API key (which needs no session token). Anyone else's session, and an id that is
/// not a Stripe id, is 404 like a missing one.
#[utoipa::path(
    get,
    path = "/checkout/{id}",
    security(("bearer" = []), ()),
    params(("id" = String, Path, min_length = 1, max_length = 255, pattern = "^[A-Za-z0-9_]+$", description = "The Checkout Session id (`cs_...`)")),
    responses(
        (status = 200, description = "The session as recorded", body = SessionView),
        (status = 401, description = "Neither a Bearer session token nor an admin API key (`unauthorized`), a token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 404, description = "No such session, or another user's", body = ErrorBody),
    ),
)]
pub(crate) async fn get_checkout_session(
    state: web::Data<PaymentState>,
    caller: Caller,
    user: MaybeAuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !caller.admin && user.0.is_none() {
        return Err(ApiError::unauthorized("a Bearer session token is required"));
    }
    let not_found = || ApiError::not_found("no such checkout session");
    if id.is_empty()
        || id.len() > 255
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(not_found());
    }
    let record = deadline(DEADLINE, state.store.find_session(&id))
        .await??
        .ok_or_else(not_found)?;
    let owner = record.get_str("user_id").ok();
    let allowed = caller.admin
        || user
            .0
            .as_ref()
            .is_some_and(|u| Some(u.user_id.as_str()) == owner);
    if !allowed {
        // Someone else's session looks exactly like a missing one.
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(session_view(&record)))
}
