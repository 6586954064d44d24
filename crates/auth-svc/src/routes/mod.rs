//! The routes below `/service/auth/v1`, with the original's paths and request fields.

mod accounts;
mod codes;
mod oauth;
mod profile;
mod sessions;

use std::sync::Arc;

use actix_web::web;
use coglex_common::ApiError;
use serde_json::Value;

use crate::AuthState;

type State = web::Data<Arc<AuthState>>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/signup").post(accounts::sign_up))
        .service(web::resource("/signin").post(accounts::sign_in))
        .service(web::resource("/refresh").post(sessions::refresh_session))
        .service(web::resource("/signout").post(sessions::sign_out))
        .service(web::resource("/oauth").post(oauth::start_oauth))
        .service(web::resource("/ocall").post(oauth::finish_oauth))
        .service(web::resource("/passgen").post(codes::send_code))
        .service(web::resource("/passver").post(codes::verify_code))
        // Last: it matches any single segment.
        .service(
            web::resource("/{user_key}")
                .get(profile::get_profile)
                .patch(profile::update_profile),
        );
}

/// A required string field of a JSON body.
fn string_field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None => {
            Err(ApiError::bad_request(format!("`{name}` is required")))
        }
        Some(_) => Err(ApiError::bad_request(format!("`{name}` must be a string"))),
    }
}
