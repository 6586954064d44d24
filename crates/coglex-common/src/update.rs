//! `document` of an update: update operators only, from an allow-list, on fields a client may
//! write.
//!
//! A replacement document (no operators) and an update pipeline (an array) are refused: both
//! could drop the server's fields. Paths may use the positional `$` and `$[]` segments; values
//! follow the same rules as inserted documents; `$pull` conditions are checked as filters.

use mongodb::bson::Document;
use serde_json::{Map, Value};

use crate::document::{check_stored_value, is_poisoned};
use crate::error::ApiError;
use crate::query::{check_field_path, is_extended_json, parse_filter_value, to_document};

/// Update operators a client may use.
pub const UPDATE_OPERATORS: &[&str] = &[
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$currentDate",
    "$rename",
    "$push",
    "$addToSet",
    "$pop",
    "$pull",
    "$pullAll",
];

/// Checks an update document and converts it to BSON. `protected` names top-level fields no
/// operator may touch beyond the reserved ones (auth's `AUTH_PROTECTED_FIELDS`).
pub fn parse_update(value: &Value, protected: &[String]) -> Result<Document, ApiError> {
    let object = value.as_object().ok_or_else(|| {
        ApiError::bad_request("`document` must be an object of update operators such as `$set`")
    })?;
    if object.is_empty() {
        return Err(ApiError::bad_request(
            "`document` needs at least one update operator",
        ));
    }
    for (operator, fields) in object {
        if !operator.starts_with('$') {
            return Err(ApiError::bad_request(
                "`document` must use update operators such as `$set`; replacing whole documents is not supported",
            ));
        }
        if !UPDATE_OPERATORS.contains(&operator.as_str()) {
            return Err(ApiError::bad_request(format!(
                "the update operator `{}` is not allowed",
                printable(operator)
            )));
        }
        let fields = fields
            .as_object()
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(format!("`{operator}` takes a non-empty object of fields"))
            })?;
        for (path, argument) in fields {
            check_update_path(path, protected)?;
            check_argument(operator, path, argument, protected)?;
        }
    }
    to_document(value)
}

/// A field path, where `$` and `$[]` may stand for array positions after the first segment.
/// `_id` is immutable and protected fields are refused up front, with a clear message.
fn check_update_path(path: &str, protected: &[String]) -> Result<(), ApiError> {
    let first = path.split('.').next().unwrap_or_default();
    if first == "_id" {
        return Err(ApiError::bad_request("`_id` cannot be changed"));
    }
    if protected.iter().any(|p| p == first) {
        return Err(ApiError::bad_request(format!(
            "`{}` can only be set by an administrator",
            printable(first)
        )));
    }
    let normalised: Vec<&str> = path
        .split('.')
        .enumerate()
        .map(|(i, segment)| match segment {
            "$" | "$[]" if i > 0 => "0",
            other => other,
        })
        .collect();
    // The same names an inserted document may not hold, at any segment (`$set` of
    // `a.__proto__` writes what `{"a": {"__proto__": ...}}` would).
    if let Some(segment) = normalised.iter().find(|s| is_poisoned(s)) {
        return Err(ApiError::bad_request(format!(
            "`{segment}` is not an accepted field name"
        )));
    }
    check_field_path(&normalised.join("."))
}

fn check_argument(
    operator: &str,
    path: &str,
    argument: &Value,
    protected: &[String],
) -> Result<(), ApiError> {
    let invalid = |what: &str| Err(ApiError::bad_request(format!("`{operator}` takes {what}")));
    match operator {
        "$unset" => Ok(()),
        "$inc" | "$mul" => match argument {
            Value::Number(_) => Ok(()),
            Value::Object(o) if is_extended_json(o) => Ok(()),
            _ => invalid("numbers"),
        },
        "$currentDate" => match argument {
            Value::Bool(true) => Ok(()),
            Value::Object(o)
                if o.len() == 1
                    && matches!(
                        o.get("$type").and_then(Value::as_str),
                        Some("date" | "timestamp")
                    ) =>
            {
                Ok(())
            }
            _ => invalid("`true` or `{\"$type\": \"date\"}`"),
        },
        "$rename" => match argument.as_str() {
            Some(target) => check_update_path(target, protected),
            None => invalid("new field names (strings)"),
        },
        "$pop" => match argument.as_i64() {
            Some(1 | -1) => Ok(()),
            _ => invalid("1 or -1"),
        },
        "$pull" => {
            let mut condition = Map::new();
            condition.insert(path.replace(".$[]", "").replace(".$", ""), argument.clone());
            parse_filter_value(&Value::Object(condition)).map(|_| ())
        }
        "$pullAll" => match argument {
            Value::Array(items) => items.iter().try_for_each(|v| check_stored_value(v, 2)),
            _ => invalid("arrays"),
        },
        "$push" | "$addToSet" => match argument.as_object() {
            // `{"$date": ...}` and the like are one value to push, not modifiers.
            Some(modifiers)
                if !is_extended_json(modifiers) && modifiers.keys().any(|k| k.starts_with('$')) =>
            {
                check_modifiers(operator, modifiers)
            }
            _ => check_stored_value(argument, 2),
        },
        // $set, $min, $max: values stored as they are.
        _ => check_stored_value(argument, 2),
    }
}

/// `$push`/`$addToSet` with `$each` and, for `$push`, `$position`, `$slice` and `$sort`.
fn check_modifiers(operator: &str, modifiers: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(Value::Array(items)) = modifiers.get("$each") else {
        return Err(ApiError::bad_request(format!(
            "`{operator}` modifiers need `$each` with an array"
        )));
    };
    items.iter().try_for_each(|v| check_stored_value(v, 3))?;
    for (name, value) in modifiers {
        let valid = match name.as_str() {
            "$each" => true,
            "$position" | "$slice" if operator == "$push" => value.as_i64().is_some(),
            "$sort" if operator == "$push" => match value {
                Value::Object(_) => crate::sort::parse_sort(value).is_ok(),
                other => matches!(other.as_i64(), Some(1 | -1)),
            },
            _ => false,
        };
        if !valid {
            return Err(ApiError::bad_request(format!(
                "`{}` is not an accepted `{operator}` modifier here",
                printable(name)
            )));
        }
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

    fn refused(value: Value) {
        assert!(parse_update(&value, &[]).is_err(), "{value} was accepted");
    }

    #[test]
    fn the_readme_example_is_accepted() {
        let readme = json!({
            "$set": {"name": "Updated Product Name", "last_modified": "2024-01-15T10:30:00Z"},
            "$inc": {"view_count": 1}
        });
        let update = parse_update(&readme, &[]).unwrap();
        assert!(update
            .get_document("$inc")
            .unwrap()
            .contains_key("view_count"));
    }

    #[test]
    fn array_operators_and_positional_paths_are_accepted() {
        for ok in [
            json!({"$push": {"tags": {"$each": ["a", "b"], "$slice": -5, "$sort": 1}}}),
            json!({"$addToSet": {"tags": "c"}}),
            json!({"$push": {"dates": {"$date": "2024-01-01T00:00:00Z"}}}),
            json!({"$addToSet": {"ids": {"$oid": "65a1b2c3d4e5f6a7b8c9d0e1"}}}),
            json!({"$pull": {"scores": {"$lt": 5}}}),
            json!({"$set": {"items.$[].done": true, "when": {"$date": "2024-01-01T00:00:00Z"}}}),
            json!({"$currentDate": {"seen": true}, "$unset": {"old": ""}}),
            json!({"$rename": {"nick": "alias"}, "$pop": {"queue": -1}}),
        ] {
            assert!(parse_update(&ok, &[]).is_ok(), "{ok}");
        }
    }

    #[test]
    fn paths_naming_a_poisoned_key_are_refused_as_inserts_refuse_them() {
        for update in [
            json!({"$set": {"constructor": {"prototype": {"isAdmin": true}}}}),
            json!({"$set": {"a.__proto__": {"isAdmin": true}}}),
            json!({"$inc": {"a.constructor.n": 1}}),
            json!({"$rename": {"x": "a.__proto__"}}),
            json!({"$unset": {"__proto__": ""}}),
        ] {
            refused(update);
        }
        assert!(parse_update(&json!({"$set": {"a.constructors": 1}}), &[]).is_ok());
    }

    #[test]
    fn replacements_pipelines_and_empty_updates_are_refused() {
        refused(json!({"name": "replacement"}));
        refused(json!([{"$set": {"a": 1}}]));
        refused(json!({}));
        refused(json!({"$set": {}}));
    }

    #[test]
    fn operators_outside_the_allow_list_are_refused() {
        refused(json!({"$setOnInsert": {"a": 1}}));
        refused(json!({"$bit": {"a": {"and": 1}}}));
        refused(json!({"$where": "1"}));
    }

    #[test]
    fn protected_fields_and_the_id_cannot_be_written_by_any_operator() {
        let protected = ["role".to_owned()];
        for bad in [
            json!({"$set": {"role": "admin"}}),
            json!({"$set": {"role.level": 9}}),
            json!({"$unset": {"role": ""}}),
            json!({"$rename": {"role": "was"}}),
            json!({"$rename": {"nick": "role"}}),
            json!({"$push": {"role": "admin"}}),
            json!({"$set": {"_id": "other"}}),
        ] {
            assert!(parse_update(&bad, &protected).is_err(), "{bad}");
        }
        assert!(parse_update(&json!({"$set": {"nick": "ada"}}), &protected).is_ok());
    }

    #[test]
    fn reserved_fields_cannot_be_written() {
        refused(json!({"$set": {"_owner": "me"}}));
        refused(json!({"$unset": {"_owner": ""}}));
        refused(json!({"$rename": {"name": "_owner"}}));
        refused(json!({"$set": {"_owner.x": 1}}));
    }

    #[test]
    fn operator_and_poisoned_keys_in_values_are_refused() {
        refused(json!({"$set": {"profile": {"$where": "1"}}}));
        refused(json!({"$set": {"profile": {"__proto__": {"admin": true}}}}));
        refused(json!({"$push": {"tags": {"$each": [{"$gt": 1}]}}}));
        refused(json!({"$pull": {"scores": {"$where": "1"}}}));
        refused(json!({"$inc": {"n": "1"}}));
    }
}
