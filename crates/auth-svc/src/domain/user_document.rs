//! What a user may store on their own profile: any fields except reserved ones (`_`-prefixed:
//! `_key`, `_password`, `_id`...) and the authorization fields of `AUTH_PROTECTED_FIELDS`,
//! which no operator and no dotted path may reach.

use coglex_common::query::{self, MAX_DEPTH};
use coglex_common::ApiError;
use mongodb::bson::Document;
use serde_json::{Map, Value};

/// Update operators a user may use on their profile.
const UPDATE_OPERATORS: &[&str] = &[
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$push",
    "$pull",
    "$addToSet",
    "$pop",
    "$rename",
    "$currentDate",
];

/// The fields of a sign-up `document`, checked and converted.
pub fn check_user_fields(document: &Value, protected: &[String]) -> Result<Document, ApiError> {
    let object = document
        .as_object()
        .ok_or_else(|| ApiError::bad_request("`document` must be a JSON object"))?;
    for (key, value) in object {
        check_writable_field(key, protected)?;
        check_value(value, 1)?;
    }
    query::to_document(document)
}

/// A profile update such as `{"$set": {"name": "..."}}`, checked and converted.
pub fn check_profile_update(update: &Value, protected: &[String]) -> Result<Document, ApiError> {
    let object = update
        .as_object()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("`document` must be an object of update operators such as `$set`")
        })?;
    for (operator, fields) in object {
        if !UPDATE_OPERATORS.contains(&operator.as_str()) {
            return Err(ApiError::bad_request(format!(
                "`{}` is not an allowed update operator",
                operator.chars().take(32).collect::<String>()
            )));
        }
        let fields = fields.as_object().ok_or_else(|| {
            ApiError::bad_request(format!("`{operator}` takes an object of fields"))
        })?;
        for (path, value) in fields {
            check_writable_field(path, protected)?;
            if operator == "$rename" {
                let target = value
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request("`$rename` takes new field names"))?;
                check_writable_field(target, protected)?;
            } else {
                check_value(value, 1)?;
            }
        }
    }
    query::to_document(update)
}

fn check_writable_field(path: &str, protected: &[String]) -> Result<(), ApiError> {
    let first = path.split('.').next().unwrap_or_default();
    if first.starts_with('_') {
        return Err(ApiError::bad_request(format!(
            "`{first}` is a reserved field"
        )));
    }
    if protected.iter().any(|p| p == first) {
        return Err(ApiError::bad_request(format!(
            "`{first}` can only be set by an administrator"
        )));
    }
    query::check_field_path(path)
}

/// Stored values: no `$` keys (they would be read as operators), bounded depth.
fn check_value(value: &Value, depth: usize) -> Result<(), ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::bad_request(format!(
            "nesting deeper than {MAX_DEPTH} levels is not accepted"
        )));
    }
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| check_value(v, depth + 1)),
        Value::Object(object) if query::is_extended_json(object) => Ok(()),
        Value::Object(object) => check_object(object, depth),
        _ => Ok(()),
    }
}

fn check_object(object: &Map<String, Value>, depth: usize) -> Result<(), ApiError> {
    for (key, value) in object {
        if key.starts_with('$') || key.contains('.') || key.contains('\0') {
            return Err(ApiError::bad_request(
                "field names may not start with `$` or contain `.`",
            ));
        }
        check_value(value, depth + 1)?;
    }
    Ok(())
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
