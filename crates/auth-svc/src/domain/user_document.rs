//! What a user may store on their own profile: any fields except reserved ones (`_`-prefixed:
//! `_key`, `_password`, `_id`...) and the authorization fields of `AUTH_PROTECTED_FIELDS`,
//! which no operator and no dotted path may reach. The value and operator rules are the ones
//! every service shares (`coglex_common::document`, `coglex_common::update`).

use coglex_common::{document, update, ApiError};
use mongodb::bson::Document;
use serde_json::Value;

/// The fields of a sign-up `document`, checked and converted.
pub fn check_user_fields(fields: &Value, protected: &[String]) -> Result<Document, ApiError> {
    let object = fields
        .as_object()
        .ok_or_else(|| ApiError::bad_request("`document` must be a JSON object"))?;
    for key in object.keys() {
        // `_id` too: the server names its users.
        if key.starts_with('_') {
            return Err(ApiError::bad_request(format!(
                "`{}` is a reserved field",
                key.chars().take(64).collect::<String>()
            )));
        }
        if protected.iter().any(|p| p == key) {
            return Err(ApiError::bad_request(format!(
                "`{key}` can only be set by an administrator"
            )));
        }
    }
    document::parse_new_document(fields)
}

/// A profile update such as `{"$set": {"name": "..."}}`, checked and converted.
pub fn check_profile_update(changes: &Value, protected: &[String]) -> Result<Document, ApiError> {
    update::parse_update(changes, protected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn protected() -> Vec<String> {
        vec!["role".into()]
    }

    #[test]
    fn ordinary_profile_fields_are_accepted() {
        let doc = check_user_fields(
            &json!({"name": "Ada", "active": true, "prefs": {"theme": "dark"}}),
            &protected(),
        )
        .unwrap();
        assert_eq!(doc.get_str("name").unwrap(), "Ada");
        assert!(check_profile_update(
            &json!({"$set": {"name": "Ada L."}, "$inc": {"logins": 1}}),
            &protected()
        )
        .is_ok());
    }

    #[test]
    fn reserved_and_protected_fields_cannot_be_written_by_any_operator() {
        for update in [
            json!({"$set": {"_key": "evil@example.com"}}),
            json!({"$set": {"_password": "x"}}),
            json!({"$unset": {"_password": ""}}),
            json!({"$set": {"role": "admin"}}),
            json!({"$set": {"role.level": 9}}),
            json!({"$rename": {"name": "role"}}),
            json!({"$rename": {"_password": "pw"}}),
            json!({"$set": {"_id": 1}}),
            json!({"name": "replacement documents are refused"}),
            json!({"$where": {"a": 1}}),
            json!({"$set": {"nested": {"$bad": 1}}}),
            json!({}),
        ] {
            assert!(
                check_profile_update(&update, &protected()).is_err(),
                "{update}"
            );
        }
        assert!(check_user_fields(&json!({"role": "admin"}), &protected()).is_err());
        assert!(check_user_fields(&json!({"_verified": true}), &protected()).is_err());
    }
}
