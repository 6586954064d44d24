//! The service's routes below `/service/archive/v1`, all behind `X-API-Key`.

use actix_web::web;

pub(crate) fn configure(_cfg: &mut web::ServiceConfig) {}
