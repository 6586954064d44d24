//! Extractor failures (bad JSON, wrong content type, bad query string or path) mapped once,
//! here, into the API's error shape.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web;

use crate::error::{ApiError, ErrorCode};

pub(crate) fn configure(cfg: &mut web::ServiceConfig, max_json_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_json_bytes)
            .error_handler(|err, _| json_error(err).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _| query_error(err).into()))
    .app_data(web::PathConfig::default().error_handler(|err, _| path_error(err).into()))
    .app_data(web::PayloadConfig::new(max_json_bytes));
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the JSON body is larger than {limit} bytes"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) => {
            ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {e}"))
        }
        other => ApiError::new(ErrorCode::InvalidJson, "the JSON body could not be read")
            .with_source(anyhow::anyhow!("{other}")),
    }
}

fn query_error(err: QueryPayloadError) -> ApiError {
    ApiError::bad_request(format!("invalid query string: {err}"))
}

fn path_error(err: PathError) -> ApiError {
    ApiError::bad_request(format!("invalid path: {err}"))
}
