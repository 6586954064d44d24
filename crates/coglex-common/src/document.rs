//! Documents as clients write them (storage inserts, auth sign-up fields, update values).
//!
//! Keys may not start with `$` (except Extended JSON values such as `{"$date": ...}`), contain
//! `.` or NUL, or be `__proto__`/`constructor` (they poison JavaScript clients that merge
//! documents into objects); top-level reserved fields (`_owner` and every other `_` name
//! except `_id`) are the server's.

use mongodb::bson::Document;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::query::{is_extended_json, is_reserved, to_document, MAX_DEPTH};

/// Keys refused at any depth of a written document.
const POISONED_KEYS: &[&str] = &["__proto__", "constructor"];

/// Whether `key` is one that poisons JavaScript clients, refused wherever a client names a
/// field to write.
pub(crate) fn is_poisoned(key: &str) -> bool {
    POISONED_KEYS.contains(&key)
}

/// Checks one document to insert and converts it to BSON.
pub fn parse_new_document(value: &Value) -> Result<Document, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("each document must be a JSON object"))?;
    for key in object.keys() {
        if is_reserved(key) {
            return Err(ApiError::bad_request(format!(
                "`{}` is a reserved field",
                printable(key)
            )));
        }
    }
    check_object(object, 1)?;
    to_document(value)
}

/// A value to store: the same key rules as a whole document, at any depth.
pub fn check_stored_value(value: &Value, depth: usize) -> Result<(), ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::bad_request(format!(
            "documents may be nested at most {MAX_DEPTH} levels deep"
        )));
    }
    match value {
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_stored_value(v, depth + 1)),
        Value::Object(object) if is_extended_json(object) => Ok(()),
        Value::Object(object) => check_object(object, depth),
        _ => Ok(()),
    }
}

fn check_object(object: &Map<String, Value>, depth: usize) -> Result<(), ApiError> {
    for (key, inner) in object {
        if key.is_empty()
            || key.starts_with('$')
            || key.contains('.')
            || key.contains('\0')
            || is_poisoned(key)
        {
            return Err(ApiError::bad_request(format!(
                "`{}` is not an accepted field name",
                printable(key)
            )));
        }
        check_stored_value(inner, depth + 1)?;
    }
    Ok(())
}

fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::Bson;
    use serde_json::json;

    #[test]
    fn plain_documents_with_extended_json_values_are_accepted() {
        let document = parse_new_document(&json!({
            "name": "Product 1",
            "price": 29.99,
            "at": {"$date": "2024-01-15T10:30:00Z"},
            "tags": [{"k": "v"}],
            "_id": "sku-1"
        }))
        .unwrap();
        assert!(matches!(document.get("at"), Some(Bson::DateTime(_))));
    }

    #[test]
    fn operator_keys_anywhere_are_refused() {
        for bad in [
            json!({"$set": {"a": 1}}),
            json!({"a": {"$where": "1"}}),
            json!({"a": [{"b": {"$gt": 1}}]}),
        ] {
            assert!(parse_new_document(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prototype_pollution_keys_are_refused() {
        assert!(parse_new_document(&json!({"__proto__": {"admin": true}})).is_err());
        assert!(parse_new_document(&json!({"a": {"constructor": {}}})).is_err());
    }

    #[test]
    fn reserved_dotted_and_non_object_documents_are_refused() {
        for bad in [
            json!({"_owner": "someone"}),
            json!({"_secret": 1}),
            json!({"a.b": 1}),
            json!({"": 1}),
            json!([1]),
            json!("text"),
        ] {
            assert!(parse_new_document(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_documents_are_refused() {
        let mut value = json!(1);
        for _ in 0..(MAX_DEPTH + 1) {
            value = json!({ "a": value });
        }
        assert!(parse_new_document(&value).is_err());
    }
}
