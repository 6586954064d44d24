//! Client input parsed once into checked values (newtypes and BSON), each with its rules and
//! unit tests. Handlers only ever see input that passed through here.

pub mod collection_name;
pub mod document;
pub mod pipeline;
pub mod policy;
pub mod projection;

use coglex_common::ApiError;
use serde_json::Value;

/// Parses a JSON query-string parameter such as `keys=` or `sort=`, naming it on failure.
pub fn parse_json_param(name: &str, text: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text)
        .map_err(|_| ApiError::bad_request(format!("`{name}` is not valid JSON")))
}
