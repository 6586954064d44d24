//! The service's routes below `/service/storage/v1`, all behind `X-API-Key`.

use actix_web::web;

pub(crate) fn configure(_cfg: &mut web::ServiceConfig) {}
