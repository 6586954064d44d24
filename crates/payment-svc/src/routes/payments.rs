//! `GET /payments`: the signed-in user's checkout sessions and subscriptions, newest first.

use actix_web::{web, HttpResponse};
use coglex_common::web::AuthUser;
use coglex_common::ApiError;
use serde_json::json;

use crate::store::{session_view, subscription_view};
use crate::PaymentState;

pub(crate) async fn list_payments(
    state: web::Data<PaymentState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let (sessions, subscriptions) = state.store.list_for_user(&user.user_id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "payments": sessions.iter().map(session_view).collect::<Vec<_>>(),
        "subscriptions": subscriptions.iter().map(subscription_view).collect::<Vec<_>>(),
    })))
}
