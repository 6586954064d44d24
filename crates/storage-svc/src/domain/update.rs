//! `document` of an update: update operators only, from an allow-list, on fields a client may
//! write.
//!
//! A replacement document (no operators) and an update pipeline (an array) are refused: both
//! could drop the server's fields. Paths may use the positional `$` and `$[]` segments; values
//! follow the same rules as inserted documents; `$pull` conditions are checked as filters.

use coglex_common::query::{check_field_path, parse_filter_value, to_document};
use coglex_common::ApiError;
use mongodb::bson::Document;
use serde_json::{Map, Value};

use super::document::check_stored_value;

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

/// Checks an update document and converts it to BSON.
pub fn parse_update(value: &Value) -> Result<Document, ApiError> {
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
            check_update_path(path)?;
            check_argument(operator, path, argument)?;
        }
    }
    to_document(value)
}

/// A field path, where `$` and `$[]` may stand for array positions after the first segment.
fn check_update_path(path: &str) -> Result<(), ApiError> {
    let normalised: Vec<&str> = path
        .split('.')
        .enumerate()
        .map(|(i, segment)| match segment {
            "$" | "$[]" if i > 0 => "0",
            other => other,
        })
        .collect();
    check_field_path(&normalised.join("."))
}

fn check_argument(operator: &str, path: &str, argument: &Value) -> Result<(), ApiError> {
    let invalid = |what: &str| Err(ApiError::bad_request(format!("`{operator}` takes {what}")));
    match operator {
        "$unset" => Ok(()),
        "$inc" | "$mul" => match argument {
            Value::Number(_) => Ok(()),
            Value::Object(o) if coglex_common::query::is_extended_json(o) => Ok(()),
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
            Some(target) => check_field_path(target),
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
            Some(modifiers) if modifiers.keys().any(|k| k.starts_with('$')) => {
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
                Value::Object(_) => super::sort::parse_sort(value).is_ok(),
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
        assert!(parse_update(&value).is_err(), "{value} was accepted");
    }

    #[test]
    fn the_readme_example_is_accepted() {
        let update = parse_update(&json!({
            "$set": {"name": "Updated Product Name", "last_modified": "2024-01-15T10:30:00Z"},
            "$inc": {"view_count": 1}
        }))
        .unwrap();
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
            json!({"$pull": {"scores": {"$lt": 5}}}),
            json!({"$set": {"items.$[].done": true, "when": {"$date": "2024-01-01T00:00:00Z"}}}),
            json!({"$currentDate": {"seen": true}, "$unset": {"old": ""}}),
            json!({"$rename": {"nick": "alias"}, "$pop": {"queue": -1}}),
        ] {
            assert!(parse_update(&ok).is_ok(), "{ok}");
        }
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
