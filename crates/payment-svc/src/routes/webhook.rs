//! `POST /webhook`: Stripe's event deliveries. No API key: the `Stripe-Signature` over the
//! raw body is the proof (Stripe: "Receive Stripe events in your webhook endpoint"). Any
//! 2xx tells Stripe to stop; errors make it retry for up to three days, which is what we
//! want while the database or the signing secret is missing.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use anyhow::anyhow;
use coglex_common::mongo::deadline;
use coglex_common::web::ErrorBody;
use coglex_common::{ApiError, ErrorCode};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::events::Event;
use crate::store::{Recorded, DEADLINE};
use crate::PaymentState;

const STRIPE_SIGNATURE: &str = "stripe-signature";

/// A Stripe event as Stripe delivers it (documents what `Event::parse` reads; other fields are
/// ignored).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct StripeEvent {
    /// The event id (`evt_...`), at most 255 characters.
    #[schema(pattern = "^evt_", max_length = 255)]
    id: String,
    /// The event type, such as `checkout.session.completed`, `customer.subscription.updated`
    /// or `invoice.paid`; other types are acknowledged and ignored.
    #[schema(rename = "type")]
    kind: String,
    /// Unix seconds.
    created: i64,
    livemode: Option<bool>,
    data: StripeEventData,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct StripeEventData {
    /// The Checkout Session, subscription or invoice the event is about.
    #[schema(value_type = Object)]
    object: Value,
}

/// The acknowledgement Stripe receives.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookReceipt {
    /// Always `true`.
    received: bool,
    /// The event was delivered before; nothing changed.
    duplicate: bool,
    /// The event changed a payment record (`false` for duplicates, ignored types, and events
    /// older than what their record already reflects).
    recorded: bool,
}

/// Receive a Stripe event
///
/// Stripe's webhook endpoint. It needs no `X-API-Key`: the `Stripe-Signature` header (an
/// HMAC-SHA256 of the raw body with `STRIPE_WEBHOOK_SECRET`, within
/// `STRIPE_WEBHOOK_TOLERANCE_SECS` of its timestamp) is the proof, checked before anything
/// is parsed. Each event is applied once, however often Stripe delivers it, and only if it is
/// newer than what the record already reflects.
#[utoipa::path(
    post,
    path = "/webhook",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">`, as Stripe signs its deliveries")),
    request_body(content = StripeEvent, description = "The event, signed as sent"),
    responses(
        (status = 200, description = "The event was received", body = WebhookReceipt),
        (status = 400, description = "The `Stripe-Signature` header is missing, malformed, does not match the body or is too old; or the event is not an event", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 503, description = "`STRIPE_WEBHOOK_SECRET` is not set, or the database is unavailable: Stripe retries later", body = ErrorBody),
    ),
)]
pub(crate) async fn receive_event(
    state: web::Data<PaymentState>,
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    if !state.webhooks.is_configured() {
        return Err(ApiError::unavailable(anyhow!(
            "STRIPE_WEBHOOK_SECRET is not set"
        )));
    }
    let body = body.map_err(unreadable_body)?;
    // The raw bytes are what Stripe signed: verify before parsing anything.
    let signature = req.headers().get(STRIPE_SIGNATURE).map(|v| v.as_bytes());
    state.webhooks.verify(signature, &body)?;
    let event = Event::parse(&body)?;
    let recorded = deadline(DEADLINE, state.store.record_event(&event)).await??;
    tracing::info!(event_id = %event.id, event_type = %event.kind, ?recorded, "Stripe event");
    Ok(HttpResponse::Ok().json(WebhookReceipt {
        received: true,
        duplicate: recorded == Recorded::Duplicate,
        recorded: recorded == Recorded::Applied,
    }))
}

/// actix answers a body it could not read (over `MAX_JSON_BYTES`, cut short) in plain text;
/// this keeps the API's error shape.
fn unreadable_body(err: actix_web::Error) -> ApiError {
    if err.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body is larger than `MAX_JSON_BYTES`",
        )
    } else {
        ApiError::bad_request("the body could not be read").with_source(anyhow!("{err}"))
    }
}
