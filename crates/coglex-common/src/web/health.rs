//! Probes: `/health` answers while the process serves requests; `/ready` also needs the
//! database, so a load balancer stops sending traffic to a replica that cannot reach it.
//!
//! Orchestrators call them at the root without a key; under `/service/<name>/v1` they are
//! part of the API (and its document) and need the key like every other route.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::routes::Routes;
use super::server::{Core, ServiceName};
use crate::error::ApiError;
use crate::mongo;

/// The unauthenticated probes at the root of every service.
pub(crate) fn probes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready));
}

/// The same probes as documented API routes.
pub(crate) fn routes(routes: &mut Routes) {
    routes.add(__path_health, health).add(__path_ready, ready);
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: String,
    /// The answering service.
    service: String,
    version: String,
}

#[derive(Serialize, ToSchema)]
struct Ready {
    /// Always `ready`.
    status: String,
    service: String,
}

/// Liveness
///
/// Answers while the service process serves requests.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "The service is up", body = Health)))]
async fn health(name: web::Data<ServiceName>) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "status": "ok", "service": name.0, "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness
///
/// Answers 200 when the service can reach its database, 503 when it cannot.
#[utoipa::path(get, path = "/ready", responses(
    (status = 200, description = "The database answers", body = Ready),
    (status = 503, description = "The database is unreachable", body = crate::web::ErrorBody),
))]
async fn ready(
    core: web::Data<Core>,
    name: web::Data<ServiceName>,
) -> Result<HttpResponse, ApiError> {
    // As long as finding a server may take: a connection gone silent is not ready either.
    let limit = Duration::from_millis(core.settings.mongo.mongodb_server_selection_timeout_ms);
    mongo::deadline(limit, mongo::ping(&core.db)).await??;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "service": name.0 })))
}
