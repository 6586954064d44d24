//! `sort`: field paths with `1` (ascending) or `-1` (descending), nothing else.

use crate::error::ApiError;
use crate::query::check_field_path;
use mongodb::bson::Document;
use serde_json::Value;

/// Most keys in one sort (MongoDB's own limit).
pub const MAX_KEYS: usize = 32;

/// Checks a sort specification and converts it to BSON.
pub fn parse_sort(value: &Value) -> Result<Document, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("`sort` must be a JSON object"))?;
    if object.len() > MAX_KEYS {
        return Err(ApiError::bad_request(format!(
            "`sort` may name at most {MAX_KEYS} fields"
        )));
    }
    let mut sort = Document::new();
    for (field, direction) in object {
        check_field_path(field)?;
        match direction.as_i64() {
            Some(d @ (1 | -1)) => sort.insert(field, d as i32),
            _ => return Err(ApiError::bad_request("`sort` values must be 1 or -1")),
        };
    }
    Ok(sort)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;
    use serde_json::json;

    #[test]
    fn ascending_and_descending_fields_are_kept_in_order() {
        assert_eq!(
            parse_sort(&json!({"price": -1, "name": 1})).unwrap(),
            doc! {"price": -1, "name": 1}
        );
    }

    #[test]
    fn other_directions_are_refused() {
        for bad in [
            json!({"price": 2}),
            json!({"price": "asc"}),
            json!({"price": {"$meta": "textScore"}}),
            json!({"price": 1.5}),
            json!([["price", 1]]),
        ] {
            assert!(parse_sort(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_fields_cannot_be_sorted_on() {
        assert!(parse_sort(&json!({"_owner": 1})).is_err());
        assert!(parse_sort(&json!({"$natural": 1})).is_err());
    }
}
