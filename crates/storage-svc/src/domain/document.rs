//! Documents and ids as clients send them.
//!
//! - [`parse_id`]: a path id; 24 hex digits is an ObjectId, anything else a string id.
//! - [`parse_new_document`]: a document to insert. Keys may not start with `$` (except Extended
//!   JSON values such as `{"$date": ...}`), contain `.` or NUL, or be `__proto__`/`constructor`
//!   (they poison JavaScript clients that merge documents into objects); top-level reserved
//!   fields (`_owner` and every other `_` name except `_id`) are the server's.

use coglex_common::query::{is_extended_json, is_reserved, to_document, MAX_DEPTH};
use coglex_common::ApiError;
use mongodb::bson::{oid::ObjectId, Bson, Document};
use serde_json::{Map, Value};

/// Longest accepted string id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// Keys refused at any depth of an inserted document.
const POISONED_KEYS: &[&str] = &["__proto__", "constructor"];

/// A document id from the URL path.
pub fn parse_id(text: &str) -> Result<Bson, ApiError> {
    if text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        if let Ok(id) = ObjectId::parse_str(text) {
            return Ok(Bson::ObjectId(id));
        }
    }
    if text.is_empty() || text.len() > MAX_ID_BYTES || text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "a document id is 24 hex digits or a string of at most {MAX_ID_BYTES} bytes"
        )));
    }
    Ok(Bson::String(text.to_owned()))
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
            || POISONED_KEYS.contains(&key.as_str())
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
    use serde_json::json;

    #[test]
    fn hex_ids_are_object_ids_and_others_strings() {
        assert!(matches!(
            parse_id("65a1b2c3d4e5f60718293a4b").unwrap(),
            Bson::ObjectId(_)
        ));
        assert_eq!(parse_id("sku-42").unwrap(), Bson::String("sku-42".into()));
        assert_eq!(
            parse_id("65a1b2c3d4e5f60718293a4").unwrap(),
            Bson::String("65a1b2c3d4e5f60718293a4".into())
        );
    }

    #[test]
    fn overlong_or_control_ids_are_refused() {
        assert!(parse_id(&"x".repeat(MAX_ID_BYTES + 1)).is_err());
        assert!(parse_id("a\nb").is_err());
    }

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
