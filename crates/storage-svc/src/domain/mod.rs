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

/// Refuses what BSON cannot encode (a NUL in a field name at any depth, e.g. in an object
/// compared for equality, a `$literal` or a `$pull` condition); shared with the other services.
pub use coglex_common::query::check_encodable;

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn nul_characters_in_nested_field_names_are_refused() {
        for document in [
            doc! { "a\0": 1 },
            doc! { "a": { "b\0": 1 } },
            doc! { "a": { "$in": [{ "b\0": 1 }] } },
            doc! { "a": [[{ "$literal": { "x\0": 1 } }]] },
        ] {
            assert!(check_encodable(&document).is_err(), "{document:?}");
        }
    }

    #[test]
    fn nul_characters_in_values_are_fine() {
        assert!(check_encodable(&doc! { "a": "b\0c", "d": { "e": ["\0"] } }).is_ok());
    }
}
