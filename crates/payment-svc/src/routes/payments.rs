//! `GET /payments`: the signed-in user's checkout sessions and subscriptions, newest first.

use actix_web::{web, HttpResponse};
use coglex_common::mongo::deadline;
use coglex_common::web::{AuthUser, ErrorBody};
use coglex_common::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{session_view, subscription_view, SessionView, SubscriptionView, DEADLINE};
use crate::PaymentState;

/// The signed-in user's payment records, newest first (at most 100 in all).
#[derive(Serialize, ToSchema)]
pub(crate) struct PaymentList {
    /// Checkout Sessions the user created.
    payments: Vec<SessionView>,
    /// Subscriptions those sessions started.
    subscriptions: Vec<SubscriptionView>,
}

/// List your payments
///
/// Answers the signed-in user's Checkout Sessions and subscriptions, newest first, as the
/// service recorded them from its own calls and Stripe's webhook events.
#[utoipa::path(
    get,
    path = "/payments",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's sessions and subscriptions", body = PaymentList),
        (status = 401, description = "No Bearer session token (`unauthorized`), a token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)", body = ErrorBody),
    ),
)]
pub(crate) async fn list_payments(
    state: web::Data<PaymentState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let (sessions, subscriptions) =
        deadline(DEADLINE, state.store.list_for_user(&user.user_id)).await??;
    Ok(HttpResponse::Ok().json(PaymentList {
        payments: sessions.iter().map(session_view).collect(),
        subscriptions: subscriptions.iter().map(subscription_view).collect(),
    }))
}
