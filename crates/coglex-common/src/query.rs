//! User-supplied MongoDB filters, checked against allow-lists before they reach the database.
//!
//! Storage and archive both take filters from clients (`query=`), so both use this module.
//! The rules:
//! - Only the query operators in [`QUERY_OPERATORS`] (MongoDB's comparison, element, array,
//!   evaluation and logical operators, minus the ones that run code: `$where`, `$function`,
//!   `$accumulator`; minus `$text`, `$near` and friends that need special indexes).
//! - `$expr` is allowed, with the expression operators of [`expressions`] only.
//! - Reserved fields (top-level names starting with `_`, except `_id`: `_owner` and the like)
//!   cannot be filtered on, in a path or in an `$expr` field reference.
//! - Values may use MongoDB Extended JSON v2 for types JSON lacks (`{"$oid": ...}`,
//!   `{"$date": ...}`, `{"$numberLong": ...}`, `{"$numberDecimal": ...}`).
//! - Nesting is bounded ([`MAX_DEPTH`]), and so is the length of a `$regex` (and of the
//!   pattern of `$regexMatch` and friends).

pub mod expressions;

use mongodb::bson::{Bson, Document};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Deepest nesting of objects and arrays accepted in a filter, projection, update or pipeline.
pub const MAX_DEPTH: usize = 32;
/// Longest accepted `$regex` pattern, in bytes (bounds the work one pattern can ask for).
pub const MAX_REGEX_BYTES: usize = 512;

/// Query operators a filter may use.
pub const QUERY_OPERATORS: &[&str] = &[
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin", // comparison
    "$exists",
    "$type", // element
    "$all",
    "$elemMatch",
    "$size", // array
    "$regex",
    "$options",
    "$mod",
    "$expr", // evaluation
    "$not",  // logical, on one field
];

/// Logical operators that combine whole filters.
const LOGICAL_OPERATORS: &[&str] = &["$and", "$or", "$nor"];

/// Extended JSON wrappers accepted as values.
const EXTENDED_JSON: &[&str] = &[
    "$oid",
    "$date",
    "$numberLong",
    "$numberDecimal",
    "$numberInt",
    "$numberDouble",
];

/// Parses a filter given as JSON text (e.g. a `query=` parameter). Empty text is `{}`.
pub fn parse_filter(text: &str) -> Result<Document, ApiError> {
    if text.trim().is_empty() {
        return Ok(Document::new());
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("query is not valid JSON: {e}")))?;
    parse_filter_value(&value)
}

/// Checks a filter given as JSON and converts it to BSON.
pub fn parse_filter_value(value: &Value) -> Result<Document, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("query must be a JSON object"))?;
    check_filter(object, 0)?;
    to_document(value)
}

/// Checks a filter of plain equalities (`{"active": true}`): field names only, no operator
/// anywhere, no reserved field. Used where a client may narrow a match but not search.
pub fn parse_equality_filter(value: &Value) -> Result<Document, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("query must be a JSON object"))?;
    for (key, inner) in object {
        if key.starts_with('$') {
            return Err(refused_operator(key));
        }
        check_field_path(key)?;
        check_literal(inner, 1)?;
    }
    to_document(value)
}

/// Converts checked JSON (Extended JSON allowed) to a BSON document.
pub fn to_document(value: &Value) -> Result<Document, ApiError> {
    match to_bson(value)? {
        Bson::Document(document) => Ok(document),
        _ => Err(ApiError::bad_request("expected a JSON object")),
    }
}

/// Converts JSON (Extended JSON allowed) to BSON that the driver can encode.
pub fn to_bson(value: &Value) -> Result<Bson, ApiError> {
    let bson = Bson::try_from(value.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid Extended JSON value: {e}")))?;
    check_encodable_value(&bson)?;
    Ok(bson)
}

/// Refuses what BSON cannot encode (NUL in a field name or a regular expression): the driver
/// would fail the whole command, sometimes reporting it as a malformed server reply.
pub fn check_encodable(document: &Document) -> Result<(), ApiError> {
    for (key, value) in document {
        if key.contains('\0') {
            return Err(ApiError::bad_request(
                "field names may not contain a NUL character",
            ));
        }
        check_encodable_value(value)?;
    }
    Ok(())
}

fn check_encodable_value(value: &Bson) -> Result<(), ApiError> {
    match value {
        Bson::Document(document) => check_encodable(document),
        Bson::Array(items) => items.iter().try_for_each(check_encodable_value),
        Bson::RegularExpression(regex)
            if regex.pattern.contains('\0') || regex.options.contains('\0') =>
        {
            Err(ApiError::bad_request(
                "regular expressions may not contain a NUL character",
            ))
        }
        Bson::JavaScriptCodeWithScope(code) => check_encodable(&code.scope),
        _ => Ok(()),
    }
}

/// A reserved field: a top-level name starting with `_`, other than `_id`.
pub fn is_reserved(field: &str) -> bool {
    field.starts_with('_') && field != "_id"
}

/// A field path a client may name: not empty, no `$` at the start of a segment, no NUL, no
/// empty segment, and not a reserved field.
pub fn check_field_path(path: &str) -> Result<(), ApiError> {
    let first = path.split('.').next().unwrap_or_default();
    if path.is_empty()
        || path.contains('\0')
        || path.split('.').any(|s| s.is_empty() || s.starts_with('$'))
    {
        return Err(ApiError::bad_request(format!(
            "`{}` is not a valid field name",
            printable(path)
        )));
    }
    if is_reserved(first) {
        return Err(ApiError::bad_request(format!(
            "`{first}` is a reserved field"
        )));
    }
    Ok(())
}

/// Whether an object is an Extended JSON value such as `{"$oid": "..."}`.
pub fn is_extended_json(object: &Map<String, Value>) -> bool {
    object.len() == 1 && object.keys().all(|k| EXTENDED_JSON.contains(&k.as_str()))
}

fn check_depth(depth: usize) -> Result<(), ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::bad_request(format!(
            "nesting deeper than {MAX_DEPTH} levels is not accepted"
        )));
    }
    Ok(())
}

/// A whole filter: field conditions and logical combinations.
fn check_filter(filter: &Map<String, Value>, depth: usize) -> Result<(), ApiError> {
    check_depth(depth)?;
    for (key, value) in filter {
        if LOGICAL_OPERATORS.contains(&key.as_str()) {
            let clauses = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                ApiError::bad_request(format!("`{key}` takes a non-empty array of filters"))
            })?;
            for clause in clauses {
                let clause = clause.as_object().ok_or_else(|| {
                    ApiError::bad_request(format!("`{key}` takes filters (objects)"))
                })?;
                check_filter(clause, depth + 1)?;
            }
        } else if key == "$expr" {
            check_whole_document_variables(value)?;
            check_expression(value, depth + 1)?;
        } else if key.starts_with('$') {
            return Err(refused_operator(key));
        } else {
            check_field_path(key)?;
            check_condition(value, depth + 1)?;
        }
    }
    Ok(())
}

/// What a field is compared with: a literal, or an object of query operators.
fn check_condition(value: &Value, depth: usize) -> Result<(), ApiError> {
    check_depth(depth)?;
    let Some(object) = value.as_object() else {
        return check_literal(value, depth);
    };
    if is_extended_json(object) || !object.keys().any(|k| k.starts_with('$')) {
        return check_literal(value, depth);
    }
    if !object.keys().all(|k| k.starts_with('$')) {
        return Err(ApiError::bad_request(
            "an object may not mix operators and field names",
        ));
    }
    for (operator, argument) in object {
        match operator.as_str() {
            "$not" => check_condition(argument, depth + 1)?,
            "$elemMatch" => {
                let inner = argument
                    .as_object()
                    .ok_or_else(|| ApiError::bad_request("`$elemMatch` takes an object"))?;
                if inner.keys().all(|k| k.starts_with('$'))
                    && !inner.contains_key("$and")
                    && !inner.contains_key("$or")
                {
                    check_condition(argument, depth + 1)?;
                } else {
                    check_filter(inner, depth + 1)?;
                }
            }
            "$regex" => {
                let pattern = argument
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request("`$regex` takes a string"))?;
                check_pattern_length(pattern)?;
            }
            "$options" => {
                let flags = argument.as_str().unwrap_or("?");
                if !flags.chars().all(|c| matches!(c, 'i' | 'm' | 's' | 'x')) {
                    return Err(ApiError::bad_request(
                        "`$options` accepts only the flags i, m, s and x",
                    ));
                }
            }
            "$expr" => {
                return Err(ApiError::bad_request(
                    "`$expr` belongs at the top level of a filter",
                ))
            }
            op if QUERY_OPERATORS.contains(&op) => check_literal(argument, depth + 1)?,
            other => return Err(refused_operator(other)),
        }
    }
    Ok(())
}

/// A value compared for equality: any JSON, but objects inside may not smuggle operators.
fn check_literal(value: &Value, depth: usize) -> Result<(), ApiError> {
    check_depth(depth)?;
    match value {
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_literal(item, depth + 1)),
        Value::Object(object) if is_extended_json(object) => Ok(()),
        Value::Object(object) => {
            if let Some(key) = object.keys().find(|k| k.starts_with('$')) {
                return Err(refused_operator(key));
            }
            object
                .values()
                .try_for_each(|v| check_literal(v, depth + 1))
        }
        _ => Ok(()),
    }
}

/// An aggregation expression (in `$expr`, `$project`, `$group`...): only the operators of
/// [`expressions::EXPRESSION_OPERATORS`], and no references to reserved fields
/// (`"$_owner"`).
pub fn check_expression(value: &Value, depth: usize) -> Result<(), ApiError> {
    check_depth(depth)?;
    match value {
        Value::String(text) => check_field_reference(text),
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_expression(item, depth + 1)),
        Value::Object(object) if is_extended_json(object) => Ok(()),
        Value::Object(object) => {
            for (key, inner) in object {
                if key.starts_with('$') && !expressions::is_allowed(key) {
                    return Err(refused_operator(key));
                }
                if expressions::REGEX_EXPRESSIONS.contains(&key.as_str()) {
                    check_pattern(key, inner.get("regex"))?;
                }
                if key == "$literal" {
                    continue;
                }
                if FIELD_BY_NAME_EXPRESSIONS.contains(&key.as_str()) {
                    check_field_by_name(key, inner)?;
                }
                check_expression(inner, depth + 1)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A regular expression's pattern is at most [`MAX_REGEX_BYTES`] long: a match is not
/// interrupted by `maxTimeMS`, so its length bounds the work it may ask for.
fn check_pattern_length(pattern: &str) -> Result<(), ApiError> {
    if pattern.len() > MAX_REGEX_BYTES {
        return Err(ApiError::bad_request(format!(
            "a regular expression may be at most {MAX_REGEX_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The `regex` of `$regexMatch` and friends: a plain string, so that its length can be
/// bounded here (a computed pattern, or one read from a field, could be any length).
fn check_pattern(operator: &str, pattern: Option<&Value>) -> Result<(), ApiError> {
    match pattern {
        Some(Value::String(text)) if !text.starts_with('$') => check_pattern_length(text),
        _ => Err(ApiError::bad_request(format!(
            "`{operator}` takes its `regex` as a plain string (not a field or an expression)"
        ))),
    }
}

/// Operators that name a field by a string instead of a `"$path"` reference.
const FIELD_BY_NAME_EXPRESSIONS: &[&str] = &["$getField", "$setField", "$unsetField"];

/// `{"$getField": "name"}` or `{"$getField": {"field": "name", ...}}`: the name must be a plain
/// string (not computed, where the reserved-field check could not see it) and not reserved.
fn check_field_by_name(operator: &str, argument: &Value) -> Result<(), ApiError> {
    let field = match argument {
        Value::Object(object) => object.get("field"),
        other => Some(other),
    };
    match field.and_then(Value::as_str) {
        Some(name) if !name.starts_with('$') && !is_reserved(name) => Ok(()),
        _ => Err(ApiError::bad_request(format!(
            "`{operator}` takes a plain field name that is not reserved"
        ))),
    }
}

/// In a filter's `$expr`, `$$ROOT` and `$$CURRENT` are the stored document itself, reserved
/// fields included (`$objectToArray: "$$ROOT"` would expose `_owner`), so they are refused.
/// Pipelines may use them: storage drops reserved fields before any client stage runs.
fn check_whole_document_variables(value: &Value) -> Result<(), ApiError> {
    match value {
        Value::String(text) => {
            let variable = text.split('.').next().unwrap_or_default();
            if variable == "$$ROOT" || variable == "$$CURRENT" {
                return Err(ApiError::bad_request(format!(
                    "`{variable}` cannot be used in a filter"
                )));
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_whole_document_variables),
        Value::Object(object) => object.values().try_for_each(check_whole_document_variables),
        _ => Ok(()),
    }
}

/// System variables an expression may use. The others tell about the server, not the data
/// (`$$USER_ROLES` lists the database account's roles). User variables (`$let`, `as`, `$$this`)
/// start with a lowercase letter, as MongoDB requires.
const SYSTEM_VARIABLES: &[&str] = &[
    "ROOT", "CURRENT", "NOW", "REMOVE", "DESCEND", "PRUNE", "KEEP",
];

/// `"$field.path"` references must not name reserved fields; of the `"$$NAME"` system variables
/// only [`SYSTEM_VARIABLES`] pass.
fn check_field_reference(text: &str) -> Result<(), ApiError> {
    match text.strip_prefix('$') {
        Some(variable) if variable.starts_with('$') => {
            let name = variable[1..].split('.').next().unwrap_or_default();
            let system = name.starts_with(|c: char| c.is_ascii_uppercase());
            if system && !SYSTEM_VARIABLES.contains(&name) {
                return Err(ApiError::bad_request(format!(
                    "the variable `$${}` is not allowed",
                    printable(name)
                )));
            }
            Ok(())
        }
        Some(path) => {
            let first = path.split('.').next().unwrap_or_default();
            if is_reserved(first) {
                return Err(ApiError::bad_request(format!(
                    "`{first}` is a reserved field"
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn refused_operator(operator: &str) -> ApiError {
    ApiError::bad_request(format!(
        "the operator `{}` is not allowed",
        printable(operator)
    ))
}

/// Keeps echoed names short and printable.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(value: Value) -> String {
        parse_filter_value(&value)
            .expect_err(&format!("{value} was accepted"))
            .message()
            .to_owned()
    }

    #[test]
    fn plain_and_operator_filters_are_accepted() {
        let ok = [
            json!({}),
            json!({"category": "electronics"}),
            json!({"price": {"$gte": 10, "$lt": 50}, "tags": {"$in": ["a", "b"]}}),
            json!({"$or": [{"a": 1}, {"b": {"$exists": true}}]}),
            json!({"name": {"$regex": "^Pro", "$options": "i"}}),
            json!({"items": {"$elemMatch": {"qty": {"$gt": 2}}}}),
            json!({"$expr": {"$gt": ["$spent", "$budget"]}}),
            json!({"meta._private": 1}),
            json!({"_id": {"$oid": "65a1b2c3d4e5f60718293a4b"}}),
        ];
        for filter in ok {
            assert!(parse_filter_value(&filter).is_ok(), "{filter}");
        }
    }

    #[test]
    fn code_running_and_unknown_operators_are_refused() {
        assert!(refused(json!({"$where": "sleep(1000)"})).contains("$where"));
        assert!(
            refused(json!({"$expr": {"$function": {"body": "x", "args": [], "lang": "js"}}}))
                .contains("$function")
        );
        assert!(refused(json!({"a": {"$accumulator": {}}})).contains("$accumulator"));
        assert!(refused(json!({"$text": {"$search": "x"}})).contains("$text"));
        assert!(refused(json!({"$or": [{"$where": "1"}]})).contains("$where"));
        assert!(refused(json!({"a": {"$not": {"$where": "1"}}})).contains("$where"));
    }

    #[test]
    fn internal_expression_operators_are_refused() {
        let js =
            json!({"$expr": {"$size": {"$_internalJsEmit": {"eval": "function(){}", "this": {}}}}});
        assert!(refused(js).contains("$_internalJsEmit"));
        let by_name = json!({"$expr": {"$in": ["x", {"$_internalFindAllValuesAtPath": "_owner"}]}});
        assert!(refused(by_name).contains("$_internalFindAllValuesAtPath"));
        refused(
            json!({"$expr": {"$regexMatch": {"input": "$a", "regex": {"$regularExpression": {"pattern": "x", "options": ""}}}}}),
        );
        let long = "x".repeat(MAX_REGEX_BYTES + 1);
        refused(json!({"$expr": {"$regexMatch": {"input": "$a", "regex": long}}}));
        refused(json!({"$expr": {"$regexMatch": {"input": "$a", "regex": "$pattern"}}}));
        refused(json!({"$expr": {"$regexMatch": {"input": "$a", "regex": {"$literal": "x"}}}}));
        assert!(parse_filter_value(
            &json!({"$expr": {"$regexMatch": {"input": "$a", "regex": "^x"}}})
        )
        .is_ok());
        assert!(parse_filter_value(&json!({"$expr": {"$gt": [{"$size": "$tags"}, 2]}})).is_ok());
    }

    #[test]
    fn reserved_fields_cannot_be_filtered() {
        assert!(refused(json!({"_owner": "someone"})).contains("_owner"));
        assert!(refused(json!({"_owner.x": 1})).contains("_owner"));
        assert!(refused(json!({"$and": [{"_owner": {"$ne": null}}]})).contains("_owner"));
        assert!(refused(json!({"$expr": {"$eq": ["$_owner", "x"]}})).contains("_owner"));
    }

    #[test]
    fn operators_hidden_in_values_are_refused() {
        refused(json!({"a": {"b": {"$where": "1"}}}));
        refused(json!({"a": {"$in": [{"$where": "1"}]}}));
        refused(json!({"a": {"$gt": 1, "b": 2}}));
    }

    #[test]
    fn malformed_filters_are_refused() {
        refused(json!([]));
        refused(json!({"$or": []}));
        refused(json!({"$or": {"a": 1}}));
        refused(json!({"": 1}));
        refused(json!({"a..b": 1}));
        refused(json!({"a": {"$regex": "x".repeat(MAX_REGEX_BYTES + 1)}}));
        refused(json!({"a": {"$options": "e"}}));
        assert!(parse_filter("{not json").is_err());
    }

    #[test]
    fn equality_filters_take_no_operators() {
        assert!(parse_equality_filter(&json!({"active": true, "plan": "pro"})).is_ok());
        for bad in [
            json!({"active": {"$ne": null}}),
            json!({"$where": "1"}),
            json!({"_password": "x"}),
            json!([1]),
        ] {
            assert!(parse_equality_filter(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_fields_cannot_be_reached_by_name_or_through_the_whole_document() {
        for bad in [
            json!({"$expr": {"$eq": [{"$getField": "_owner"}, "x"]}}),
            json!({"$expr": {"$eq": [{"$getField": {"field": "_owner", "input": "$sub"}}, "x"]}}),
            json!({"$expr": {"$eq": [{"$getField": {"field": {"$literal": "_owner"}}}, "x"]}}),
            json!({"$expr": {"$in": ["x", {"$objectToArray": "$$ROOT"}]}}),
            json!({"$expr": {"$eq": ["$$CURRENT._owner", "x"]}}),
        ] {
            assert!(parse_filter_value(&bad).is_err(), "{bad}");
        }
        assert!(
            parse_filter_value(&json!({"$expr": {"$eq": [{"$getField": "price"}, 5]}})).is_ok()
        );
    }

    #[test]
    fn only_allow_listed_system_variables_pass() {
        for bad in [
            json!({"$expr": {"$in": ["root", "$$USER_ROLES.role"]}}),
            json!({"$expr": {"$eq": ["$$CLUSTER_TIME", 1]}}),
            json!({"$expr": {"$eq": ["$$SEARCH_META", 1]}}),
        ] {
            assert!(refused(bad).contains("not allowed"));
        }
        for ok in [
            json!({"$expr": {"$lt": ["$at", "$$NOW"]}}),
            json!({"$expr": {"$gt": [{"$size": {"$filter": {"input": "$tags", "as": "t", "cond": {"$eq": ["$$t", "x"]}}}}, 0]}}),
            json!({"$expr": {"$eq": [{"$reduce": {"input": "$n", "initialValue": 0, "in": {"$add": ["$$value", "$$this"]}}}, 3]}}),
        ] {
            assert!(parse_filter_value(&ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut value = json!(1);
        for _ in 0..(MAX_DEPTH + 2) {
            value = json!({ "a": value });
        }
        assert!(refused(value).contains("nesting"));
    }

    #[test]
    fn extended_json_becomes_bson_types() {
        let filter = parse_filter(r#"{"_id": {"$oid": "65a1b2c3d4e5f60718293a4b"}, "at": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}}"#).unwrap();
        assert!(matches!(filter.get("_id"), Some(Bson::ObjectId(_))));
        let at = filter.get_document("at").unwrap();
        assert!(matches!(at.get("$gte"), Some(Bson::DateTime(_))));
        assert_eq!(parse_filter("  ").unwrap(), Document::new());
    }
}
