//! The service's routes below `/service/generation/v1`, all behind `X-API-Key`. Each path is a
//! `web::resource`, so another method answers 405.

mod converse;
mod file;
mod json_body;
mod tokens;

use actix_web::web;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/converse").post(converse::generate_content))
        .service(web::resource("/converse/stream").post(converse::stream_content))
        .service(web::resource("/file").post(file::upload_file))
        .service(web::resource("/tokens").post(tokens::count_tokens));
}
