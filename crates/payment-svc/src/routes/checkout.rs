//! `POST /checkout` creates a Stripe Checkout Session from the original API's body and
//! answers as the original did (`id`, `url`, `payment_status`, `customer_email`, `mode`,
//! `metadata`); `GET /checkout/{id}` answers the session's recorded status to its owner or
//! an admin key.

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::web::{Caller, MaybeAuthUser};
use coglex_common::ApiError;
use serde_json::{json, Value};

use crate::domain::checkout::{CheckoutRequest, Limits};
use crate::domain::idempotency::IdempotencyKey;
use crate::store::session_view;
use crate::PaymentState;

const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub(crate) async fn create_checkout_session(
    state: web::Data<PaymentState>,
    user: MaybeAuthUser,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let user_id = user.0.as_ref().map(|u| u.user_id.as_str());
    let limits = Limits {
        allowed_hosts: &state.settings.checkout_allowed_redirect_hosts,
        max_quantity: state.settings.checkout_max_quantity,
    };
    let request = CheckoutRequest::parse(&body, user_id, limits)?;
    let key = match req.headers().get(IDEMPOTENCY_KEY) {
        Some(raw) => IdempotencyKey::from_client(raw.as_bytes(), user_id)?,
        None => IdempotencyKey::generate(),
    };
    let session = state.stripe.create_checkout_session(&request, &key).await?;
    state.store.record_created(&session, user_id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": session.id,
        "url": session.url,
        "payment_status": session.payment_status,
        "customer_email": session.customer_email,
        "mode": session.mode,
        "metadata": session.metadata,
    })))
}

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
    let record = state.store.find_session(&id).await?.ok_or_else(not_found)?;
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
