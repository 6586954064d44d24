//! Document ids as clients send them in paths: 24 hex digits is an ObjectId, anything else a
//! string id. An `_id` a client chooses on insert must be one such a path can reach. What else
//! a stored document may contain is `coglex_common::document`'s to say.

use coglex_common::ApiError;
use mongodb::bson::{oid::ObjectId, Bson};

/// Longest accepted string id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

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

/// Checks an `_id` a client chose for a new document: an ObjectId, or a string [`parse_id`]
/// reads back as that same string. Any other (a number, an object, a 24-hex string, which a
/// path would read as an ObjectId) would make a document `/{collection}/{id}` cannot reach.
pub fn check_new_id(id: &Bson) -> Result<(), ApiError> {
    let addressable = match id {
        Bson::ObjectId(_) => true,
        Bson::String(text) => parse_id(text).is_ok_and(|parsed| parsed == *id),
        _ => false,
    };
    if addressable {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "`_id` must be an ObjectId (`{{\"$oid\": \"<24 hex digits>\"}}`) or a string of at most \
         {MAX_ID_BYTES} bytes that is not 24 hex digits, so that `/{{collection}}/{{id}}` reaches it"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn new_ids_are_object_ids_or_strings_a_path_reads_back() {
        assert!(check_new_id(&Bson::ObjectId(ObjectId::new())).is_ok());
        assert!(check_new_id(&Bson::String("sku-42".into())).is_ok());
        for refused in [
            Bson::Int32(42),
            Bson::Double(1.5),
            Bson::Null,
            Bson::Boolean(true),
            Bson::Document(mongodb::bson::doc! {"a": 1}),
            Bson::String(String::new()),
            Bson::String("65a1b2c3d4e5f60718293a4b".into()),
            Bson::String("x".repeat(MAX_ID_BYTES + 1)),
            Bson::String("a\tb".into()),
        ] {
            assert!(check_new_id(&refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn overlong_or_control_ids_are_refused() {
        assert!(parse_id(&"x".repeat(MAX_ID_BYTES + 1)).is_err());
        assert!(parse_id("a\nb").is_err());
    }
}
