//! Probes: `/health` answers while the process serves requests; `/ready` also needs the
//! database, so a load balancer stops sending traffic to a replica that cannot reach it.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::server::{Core, ServiceName};
use crate::error::ApiError;
use crate::mongo;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready));
}

async fn health(name: web::Data<ServiceName>) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "status": "ok", "service": name.0, "version": env!("CARGO_PKG_VERSION") }))
}

async fn ready(
    core: web::Data<Core>,
    name: web::Data<ServiceName>,
) -> Result<HttpResponse, ApiError> {
    mongo::ping(&core.db).await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "service": name.0 })))
}
