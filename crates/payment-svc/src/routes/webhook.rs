//! `POST /webhook`: Stripe's event deliveries. No API key: the `Stripe-Signature` over the
//! raw body is the proof (Stripe: "Receive Stripe events in your webhook endpoint"). Any
//! 2xx tells Stripe to stop; errors make it retry for up to three days, which is what we
//! want while the database or the signing secret is missing.

use actix_web::{web, HttpRequest, HttpResponse};
use anyhow::anyhow;
use coglex_common::ApiError;
use serde_json::json;

use crate::events::Event;
use crate::store::Recorded;
use crate::PaymentState;

const STRIPE_SIGNATURE: &str = "stripe-signature";

pub(crate) async fn receive_event(
    state: web::Data<PaymentState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !state.webhooks.is_configured() {
        return Err(ApiError::unavailable(anyhow!(
            "STRIPE_WEBHOOK_SECRET is not set"
        )));
    }
    // The raw bytes are what Stripe signed: verify before parsing anything.
    let signature = req.headers().get(STRIPE_SIGNATURE).map(|v| v.as_bytes());
    state.webhooks.verify(signature, &body)?;
    let event = Event::parse(&body)?;
    let recorded = state.store.record_event(&event).await?;
    tracing::info!(event_id = %event.id, event_type = %event.kind, ?recorded, "Stripe event");
    Ok(HttpResponse::Ok().json(json!({
        "received": true,
        "duplicate": recorded == Recorded::Duplicate,
        "recorded": recorded == Recorded::Applied,
    })))
}
