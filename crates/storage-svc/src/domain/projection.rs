//! `keys`: which fields a find returns.
//!
//! Values are `0`/`1` (or `false`/`true`), or one of the projection operators `$slice` (a
//! count, or `[skip, count]`) and `$elemMatch` (a checked filter). Inclusion and exclusion
//! cannot be mixed (except for `_id`), and reserved fields cannot be named.

use coglex_common::query::{check_field_path, parse_filter_value};
use coglex_common::ApiError;
use mongodb::bson::{Bson, Document};
use serde_json::Value;

/// Most fields one projection may name.
pub const MAX_FIELDS: usize = 100;

/// Checks a projection and converts it to BSON.
pub fn parse_projection(value: &Value) -> Result<Document, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("`keys` must be a JSON object"))?;
    if object.len() > MAX_FIELDS {
        return Err(ApiError::bad_request(format!(
            "`keys` may name at most {MAX_FIELDS} fields"
        )));
    }
    let mut projection = Document::new();
    let (mut includes, mut excludes) = (false, false);
    for (field, spec) in object {
        check_field_path(field)?;
        let bson = match spec {
            Value::Bool(flag) => Bson::Int32(i32::from(*flag)),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Bson::Int32(n.as_i64().unwrap_or_default() as i32)
            }
            Value::Object(operator) => parse_operator(operator)?,
            _ => {
                return Err(ApiError::bad_request(
                    "`keys` values must be 0, 1, `$slice` or `$elemMatch`",
                ))
            }
        };
        if field != "_id" {
            match bson {
                Bson::Int32(1) => includes = true,
                Bson::Int32(0) => excludes = true,
                _ => {}
            }
        }
        projection.insert(field, bson);
    }
    if includes && excludes {
        return Err(ApiError::bad_request(
            "`keys` cannot mix included (1) and excluded (0) fields",
        ));
    }
    Ok(projection)
}

fn parse_operator(operator: &serde_json::Map<String, Value>) -> Result<Bson, ApiError> {
    let mut entries = operator.iter();
    let (Some((name, argument)), None) = (entries.next(), entries.next()) else {
        return Err(ApiError::bad_request(
            "a `keys` operator is an object with one key",
        ));
    };
    let valid = match name.as_str() {
        "$slice" => match argument {
            Value::Number(n) => n.as_i64().is_some(),
            Value::Array(pair) => pair.len() == 2 && pair.iter().all(|n| n.as_i64().is_some()),
            _ => false,
        },
        "$elemMatch" => {
            let filter = parse_filter_value(argument)?;
            let mut projected = Document::new();
            projected.insert("$elemMatch", filter);
            return Ok(Bson::Document(projected));
        }
        _ => {
            return Err(ApiError::bad_request(
                "`keys` accepts only the operators `$slice` and `$elemMatch`",
            ))
        }
    };
    if !valid {
        return Err(ApiError::bad_request(
            "`$slice` takes a count or [skip, count]",
        ));
    }
    coglex_common::query::to_bson(&Value::Object(operator.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;
    use serde_json::json;

    #[test]
    fn inclusions_become_a_bson_projection() {
        assert_eq!(
            parse_projection(&json!({"name": 1, "price": true, "_id": 0})).unwrap(),
            doc! {"name": 1, "price": 1, "_id": 0}
        );
    }

    #[test]
    fn slice_and_elem_match_are_accepted() {
        let projection = parse_projection(&json!({
            "comments": {"$slice": [1, 5]},
            "items": {"$elemMatch": {"qty": {"$gt": 2}}}
        }))
        .unwrap();
        assert!(projection.get_document("comments").is_ok());
    }

    #[test]
    fn values_other_than_zero_and_one_are_refused() {
        for bad in [
            json!({"name": 2}),
            json!({"name": "$price"}),
            json!({"name": {"$literal": 1}}),
            json!({"name": {"$slice": "x"}}),
            json!({"name": {"$meta": "textScore"}}),
            json!([1]),
        ] {
            assert!(parse_projection(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_fields_cannot_be_projected() {
        assert!(parse_projection(&json!({"_owner": 1})).is_err());
        assert!(parse_projection(&json!({"items": {"$elemMatch": {"$where": "1"}}})).is_err());
    }

    #[test]
    fn mixing_inclusion_and_exclusion_is_refused() {
        assert!(parse_projection(&json!({"a": 1, "b": 0})).is_err());
        assert!(parse_projection(&json!({"a": 1, "_id": 0})).is_ok());
    }
}
