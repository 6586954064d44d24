//! `pipeline` of an aggregation: stages from an allow-list, each checked, and every place
//! documents are read from confined by its collection's policy.
//!
//! - Stages outside [`STAGES`] are refused: `$out` and `$merge` (they write), `$currentOp`,
//!   `$collStats`, `$indexStats`, `$listSessions`, `$changeStream`, `$documents` and the rest.
//! - Filters go through `coglex_common::query`; expressions may not run code or name reserved
//!   fields; `$sort` and output field names follow the find rules.
//! - The pipeline starts with the caller's [`Access::source_stages`] (own documents only in a
//!   `private` collection, owner field dropped). `$lookup`, `$graphLookup` and `$unionWith` may
//!   only name collections a client may reach, and the documents they pull in are confined by
//!   *that* collection's policy in the same way. `$facet` sub-pipelines read the already
//!   confined input, and their own lookups are rewritten too.
//! - At most `max_stages` stages in all (nested ones count), and the output is capped at
//!   `max_limit` documents.

use coglex_common::query::{
    check_expression, check_field_path, parse_filter_value, to_bson, MAX_DEPTH,
};
use coglex_common::ApiError;
use mongodb::bson::{doc, Bson, Document};
use serde_json::{Map, Value};

use super::collection_name::CollectionName;
use super::policy::{Access, Actor, Policies, OWNER};
use coglex_common::sort::parse_sort;

/// Stages a pipeline may use.
pub const STAGES: &[&str] = &[
    "$match",
    "$project",
    "$addFields",
    "$set",
    "$unset",
    "$group",
    "$sort",
    "$limit",
    "$skip",
    "$count",
    "$unwind",
    "$sortByCount",
    "$bucket",
    "$bucketAuto",
    "$replaceRoot",
    "$replaceWith",
    "$sample",
    "$facet",
    "$lookup",
    "$graphLookup",
    "$unionWith",
];

/// What a pipeline is checked against.
pub struct PipelineRules<'a> {
    pub policies: &'a Policies,
    pub actor: &'a Actor,
    /// Most stages, nested ones included.
    pub max_stages: usize,
    /// Most documents the pipeline returns (and largest `$sample`).
    pub max_limit: u32,
}

/// Checks a client's pipeline over a collection reached with `source` and returns the one to
/// run: confinement first, the checked stages, then the output cap.
pub fn parse_pipeline(
    value: &Value,
    source: &Access,
    rules: &PipelineRules<'_>,
) -> Result<Vec<Document>, ApiError> {
    let mut checker = Checker {
        rules,
        stages_seen: 0,
    };
    let mut pipeline = source.source_stages();
    pipeline.extend(checker.pipeline(value, 1)?);
    pipeline.push(doc! { "$limit": i64::from(rules.max_limit) });
    Ok(pipeline)
}

struct Checker<'r, 'a> {
    rules: &'r PipelineRules<'a>,
    stages_seen: usize,
}

impl Checker<'_, '_> {
    fn pipeline(&mut self, value: &Value, depth: usize) -> Result<Vec<Document>, ApiError> {
        check_depth(depth)?;
        let stages = value
            .as_array()
            .ok_or_else(|| ApiError::bad_request("`pipeline` must be an array of stages"))?;
        let mut checked = Vec::with_capacity(stages.len());
        for stage in stages {
            self.stages_seen += 1;
            if self.stages_seen > self.rules.max_stages {
                return Err(ApiError::bad_request(format!(
                    "a pipeline may have at most {} stages",
                    self.rules.max_stages
                )));
            }
            checked.extend(self.stage(stage, depth + 1)?);
        }
        Ok(checked)
    }

    /// One stage, which may become more than one (a `$graphLookup` and the owner removal).
    fn stage(&mut self, stage: &Value, depth: usize) -> Result<Vec<Document>, ApiError> {
        let (name, argument) = single_entry(stage)
            .ok_or_else(|| ApiError::bad_request("each stage is an object with one key"))?;
        let checked: Bson = match name.as_str() {
            "$match" => parse_filter_value(argument)?.into(),
            "$project" | "$addFields" | "$set" => {
                fields_of_expressions(name, argument, depth)?;
                to_bson(argument)?
            }
            "$unset" => {
                let fields: Vec<&Value> = match argument {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                for field in fields {
                    let field = field.as_str().ok_or_else(|| {
                        ApiError::bad_request("`$unset` takes field names (strings)")
                    })?;
                    check_field_path(field)?;
                }
                to_bson(argument)?
            }
            "$group" => {
                let object = argument
                    .as_object()
                    .filter(|o| o.contains_key("_id"))
                    .ok_or_else(|| ApiError::bad_request("`$group` takes an object with `_id`"))?;
                for (field, expression) in object {
                    check_output_name(field)?;
                    check_expression(expression, depth + 1)?;
                }
                to_bson(argument)?
            }
            "$sort" => parse_sort(argument)?.into(),
            "$limit" => count(name, argument, 1)?.into(),
            "$skip" => count(name, argument, 0)?.into(),
            "$count" => {
                let field = argument
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request("`$count` takes a field name"))?;
                check_output_name(field)?;
                to_bson(argument)?
            }
            "$unwind" => {
                unwind(argument)?;
                to_bson(argument)?
            }
            "$sortByCount" | "$bucket" | "$bucketAuto" | "$replaceWith" => {
                check_expression(argument, depth)?;
                to_bson(argument)?
            }
            "$replaceRoot" => {
                let object = argument
                    .as_object()
                    .filter(|o| o.len() == 1 && o.contains_key("newRoot"))
                    .ok_or_else(|| ApiError::bad_request("`$replaceRoot` takes `{newRoot}`"))?;
                check_expression(&object["newRoot"], depth)?;
                to_bson(argument)?
            }
            "$sample" => {
                let size = argument.get("size").unwrap_or(&Value::Null);
                let size = count("$sample.size", size, 1)?;
                if size > i64::from(self.rules.max_limit) {
                    return Err(ApiError::bad_request(format!(
                        "`$sample.size` may be at most {}",
                        self.rules.max_limit
                    )));
                }
                doc! { "size": size }.into()
            }
            "$facet" => self.facet(argument, depth)?.into(),
            "$lookup" => self.lookup(argument, depth)?.into(),
            "$unionWith" => self.union_with(argument, depth)?.into(),
            "$graphLookup" => return self.graph_lookup(argument, depth),
            other => {
                return Err(ApiError::bad_request(format!(
                    "the stage `{}` is not allowed",
                    printable(other)
                )))
            }
        };
        let mut stage = Document::new();
        stage.insert(name.as_str(), checked);
        Ok(vec![stage])
    }

    fn facet(&mut self, argument: &Value, depth: usize) -> Result<Document, ApiError> {
        let facets = argument
            .as_object()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| ApiError::bad_request("`$facet` takes an object of pipelines"))?;
        let mut checked = Document::new();
        for (name, pipeline) in facets {
            check_output_name(name)?;
            checked.insert(name.as_str(), self.pipeline(pipeline, depth + 1)?);
        }
        Ok(checked)
    }

    /// The collection a stage reads from, and what the caller may reach in it.
    fn foreign(
        &self,
        name: Option<&Value>,
        stage: &str,
    ) -> Result<(CollectionName, Access), ApiError> {
        let name = name
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("`{stage}` needs a collection name")))?;
        let collection = CollectionName::parse(name)?;
        let access = self.rules.policies.of(&collection).read(self.rules.actor);
        Ok((collection, access))
    }

    fn lookup(&mut self, argument: &Value, depth: usize) -> Result<Document, ApiError> {
        let object = object_with_keys(
            argument,
            "$lookup",
            &[
                "from",
                "localField",
                "foreignField",
                "let",
                "pipeline",
                "as",
            ],
        )?;
        let (from, access) = self.foreign(object.get("from"), "$lookup")?;
        let mut checked = doc! { "from": from.as_str() };
        match (object.get("localField"), object.get("foreignField")) {
            (Some(local), Some(foreign)) => {
                checked.insert("localField", field_name(local, "localField")?);
                checked.insert("foreignField", field_name(foreign, "foreignField")?);
            }
            (None, None) => {}
            _ => {
                return Err(ApiError::bad_request(
                    "`$lookup` takes both `localField` and `foreignField`, or neither",
                ))
            }
        }
        if let Some(variables) = object.get("let") {
            let variables = variables
                .as_object()
                .ok_or_else(|| ApiError::bad_request("`$lookup.let` takes an object"))?;
            for expression in variables.values() {
                check_expression(expression, depth + 1)?;
            }
            checked.insert("let", to_bson(&Value::Object(variables.clone()))?);
        }
        let mut pipeline = access.source_stages();
        if let Some(inner) = object.get("pipeline") {
            pipeline.extend(self.pipeline(inner, depth + 1)?);
        } else if !checked.contains_key("localField") {
            return Err(ApiError::bad_request(
                "`$lookup` needs `localField`/`foreignField` or a `pipeline`",
            ));
        }
        if !pipeline.is_empty() || object.contains_key("pipeline") {
            checked.insert("pipeline", pipeline);
        }
        checked.insert(
            "as",
            field_name(object.get("as").unwrap_or(&Value::Null), "as")?,
        );
        Ok(checked)
    }

    fn union_with(&mut self, argument: &Value, depth: usize) -> Result<Document, ApiError> {
        let (coll, inner) = match argument {
            Value::String(_) => (Some(argument), None),
            _ => {
                let object = object_with_keys(argument, "$unionWith", &["coll", "pipeline"])?;
                (object.get("coll"), object.get("pipeline"))
            }
        };
        let (coll, access) = self.foreign(coll, "$unionWith")?;
        let mut pipeline = access.source_stages();
        if let Some(inner) = inner {
            pipeline.extend(self.pipeline(inner, depth + 1)?);
        }
        Ok(doc! { "coll": coll.as_str(), "pipeline": pipeline })
    }

    /// `$graphLookup` has no sub-pipeline: confinement goes into `restrictSearchWithMatch`,
    /// and the owner is removed from the found documents by a stage right after it.
    fn graph_lookup(&mut self, argument: &Value, depth: usize) -> Result<Vec<Document>, ApiError> {
        let object = object_with_keys(
            argument,
            "$graphLookup",
            &[
                "from",
                "startWith",
                "connectFromField",
                "connectToField",
                "as",
                "maxDepth",
                "depthField",
                "restrictSearchWithMatch",
            ],
        )?;
        let (from, access) = self.foreign(object.get("from"), "$graphLookup")?;
        let start_with = object
            .get("startWith")
            .ok_or_else(|| ApiError::bad_request("`$graphLookup` needs `startWith`"))?;
        check_expression(start_with, depth + 1)?;
        let output = field_name(object.get("as").unwrap_or(&Value::Null), "as")?;
        let mut checked = doc! {
            "from": from.as_str(),
            "startWith": to_bson(start_with)?,
            "connectFromField": field_name(object.get("connectFromField").unwrap_or(&Value::Null), "connectFromField")?,
            "connectToField": field_name(object.get("connectToField").unwrap_or(&Value::Null), "connectToField")?,
            "as": output.as_str(),
        };
        if let Some(max_depth) = object.get("maxDepth") {
            checked.insert("maxDepth", count("maxDepth", max_depth, 0)?);
        }
        if let Some(field) = object.get("depthField") {
            checked.insert("depthField", field_name(field, "depthField")?);
        }
        let mut restrict = match object.get("restrictSearchWithMatch") {
            Some(filter) => parse_filter_value(filter)?,
            None => Document::new(),
        };
        access.confine(&mut restrict);
        if !restrict.is_empty() {
            checked.insert("restrictSearchWithMatch", restrict);
        }
        let mut stages = vec![doc! { "$graphLookup": checked }];
        if access.hides_owner() {
            stages.push(doc! { "$project": { format!("{output}.{OWNER}"): 0 } });
        }
        Ok(stages)
    }
}

/// `$project`/`$addFields`/`$set`: output fields a client may name, each an expression.
fn fields_of_expressions(stage: &str, argument: &Value, depth: usize) -> Result<(), ApiError> {
    let object = argument
        .as_object()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("`{stage}` takes a non-empty object")))?;
    for (field, expression) in object {
        check_field_path(field)?;
        check_expression(expression, depth + 1)?;
    }
    Ok(())
}

fn unwind(argument: &Value) -> Result<(), ApiError> {
    let path = match argument {
        Value::String(path) => path,
        Value::Object(_) => {
            let object = object_with_keys(
                argument,
                "$unwind",
                &["path", "includeArrayIndex", "preserveNullAndEmptyArrays"],
            )?;
            if let Some(index) = object.get("includeArrayIndex") {
                field_name(index, "includeArrayIndex")?;
            }
            if object
                .get("preserveNullAndEmptyArrays")
                .is_some_and(|v| !v.is_boolean())
            {
                return Err(ApiError::bad_request(
                    "`preserveNullAndEmptyArrays` takes true or false",
                ));
            }
            object
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default()
        }
        _ => "",
    };
    match path.strip_prefix('$') {
        Some(field) => check_field_path(field),
        None => Err(ApiError::bad_request(
            "`$unwind` takes a field path such as \"$items\"",
        )),
    }
}

/// A field name a stage writes to, as a string.
fn field_name(value: &Value, what: &str) -> Result<String, ApiError> {
    let name = value
        .as_str()
        .ok_or_else(|| ApiError::bad_request(format!("`{what}` takes a field name")))?;
    check_field_path(name)?;
    Ok(name.to_owned())
}

/// A top-level output name without dots (`$group` fields, `$count`, `$facet` names).
fn check_output_name(name: &str) -> Result<(), ApiError> {
    check_field_path(name)?;
    if name.contains('.') {
        return Err(ApiError::bad_request(format!(
            "`{}` cannot contain a dot here",
            printable(name)
        )));
    }
    Ok(())
}

/// A whole number of at least `min`.
fn count(what: &str, value: &Value, min: i64) -> Result<i64, ApiError> {
    value.as_i64().filter(|n| *n >= min).ok_or_else(|| {
        ApiError::bad_request(format!("`{what}` takes a whole number of at least {min}"))
    })
}

fn single_entry(value: &Value) -> Option<(&String, &Value)> {
    let object = value.as_object()?;
    let mut entries = object.iter();
    match (entries.next(), entries.next()) {
        (Some(entry), None) => Some(entry),
        _ => None,
    }
}

/// An object whose keys are all among `allowed`.
fn object_with_keys<'v>(
    value: &'v Value,
    stage: &str,
    allowed: &[&str],
) -> Result<&'v Map<String, Value>, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("`{stage}` takes an object")))?;
    if let Some(key) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "`{stage}` does not accept `{}`",
            printable(key)
        )));
    }
    Ok(object)
}

fn check_depth(depth: usize) -> Result<(), ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::bad_request(format!(
            "nesting deeper than {MAX_DEPTH} levels is not accepted"
        )));
    }
    Ok(())
}

fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::Policy;
    use serde_json::json;

    fn policies() -> Policies {
        Policies::parse(Policy::Private, &["products=shared".into()]).unwrap()
    }

    fn run(actor: &Actor, collection: &str, pipeline: Value) -> Result<Vec<Document>, ApiError> {
        let policies = policies();
        let source = policies
            .of(&CollectionName::parse(collection).unwrap())
            .read(actor);
        let rules = PipelineRules {
            policies: &policies,
            actor,
            max_stages: 10,
            max_limit: 1000,
        };
        parse_pipeline(&pipeline, &source, &rules)
    }

    fn ada() -> Actor {
        Actor::User("ada".into())
    }

    fn refused(pipeline: Value) -> String {
        run(&ada(), "notes", pipeline.clone())
            .expect_err(&format!("{pipeline} was accepted"))
            .message()
            .to_owned()
    }

    #[test]
    fn the_readme_example_is_confined_and_capped() {
        let pipeline = run(
            &ada(),
            "notes",
            json!([
                {"$match": {"status": "active", "created_date": {"$gte": "2024-01-01T00:00:00Z"}}},
                {"$group": {"_id": "$category", "count": {"$sum": 1}, "total_value": {"$sum": "$price"}, "avg_price": {"$avg": "$price"}}},
                {"$sort": {"count": -1}},
                {"$limit": 10}
            ]),
        )
        .unwrap();
        assert_eq!(pipeline[0], doc! {"$match": {OWNER: "ada"}});
        assert_eq!(pipeline[1], doc! {"$project": {OWNER: 0}});
        assert_eq!(pipeline.len(), 7);
        assert_eq!(pipeline[6], doc! {"$limit": 1000_i64});
    }

    #[test]
    fn the_service_role_reads_everything() {
        let pipeline = run(&Actor::Service, "notes", json!([{"$count": "n"}])).unwrap();
        assert_eq!(
            pipeline,
            vec![doc! {"$count": "n"}, doc! {"$limit": 1000_i64}]
        );
    }

    #[test]
    fn writing_and_introspection_stages_are_refused() {
        for stage in [
            "$out",
            "$merge",
            "$currentOp",
            "$collStats",
            "$indexStats",
            "$listSessions",
            "$changeStream",
            "$documents",
        ] {
            let message = refused(json!([{ stage: {} }]));
            assert!(message.contains(stage), "{message}");
        }
    }

    #[test]
    fn code_running_expressions_are_refused_anywhere() {
        refused(json!([{"$match": {"$where": "1"}}]));
        refused(
            json!([{"$project": {"x": {"$function": {"body": "", "args": [], "lang": "js"}}}}]),
        );
        refused(json!([{"$group": {"_id": null, "x": {"$accumulator": {}}}}]));
        refused(json!([{"$facet": {"a": [{"$match": {"$expr": {"$function": {}}}}]}}]));
    }

    #[test]
    fn reserved_fields_cannot_be_named() {
        refused(json!([{"$match": {"_owner": "bob"}}]));
        refused(json!([{"$group": {"_id": "$_owner"}}]));
        refused(json!([{"$sort": {"_owner": 1}}]));
        refused(json!([{"$unwind": "$_owner"}]));
        refused(json!([{"$project": {"_owner": 1}}]));
    }

    #[test]
    fn lookups_are_confined_by_the_foreign_policy() {
        let pipeline = run(
            &ada(),
            "notes",
            json!([{"$lookup": {"from": "tasks", "localField": "task", "foreignField": "_id", "as": "t"}}]),
        )
        .unwrap();
        let lookup = pipeline[2].get_document("$lookup").unwrap();
        let inner = lookup.get_array("pipeline").unwrap();
        assert_eq!(inner[0], Bson::Document(doc! {"$match": {OWNER: "ada"}}));
    }

    #[test]
    fn lookups_in_facets_and_union_pipelines_are_confined_too() {
        let pipeline = run(
            &ada(),
            "products",
            json!([{"$facet": {"mine": [{"$unionWith": {"coll": "tasks", "pipeline": [{"$lookup": {"from": "notes", "pipeline": [], "as": "n"}}]}}]}}]),
        )
        .unwrap();
        let text = format!("{pipeline:?}");
        assert_eq!(
            text.matches("\"_owner\": String(\"ada\")").count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn graph_lookups_are_restricted_to_the_owner() {
        let pipeline = run(
            &ada(),
            "notes",
            json!([{"$graphLookup": {"from": "notes", "startWith": "$parent", "connectFromField": "parent", "connectToField": "_id", "as": "ancestors"}}]),
        )
        .unwrap();
        let graph = pipeline[2].get_document("$graphLookup").unwrap();
        assert_eq!(
            graph.get_document("restrictSearchWithMatch").unwrap(),
            &doc! {OWNER: "ada"}
        );
        assert_eq!(pipeline[3], doc! {"$project": {"ancestors._owner": 0}});
    }

    #[test]
    fn reserved_collections_cannot_be_joined() {
        for from in ["_USERS", "system.users", "a$b"] {
            refused(
                json!([{"$lookup": {"from": from, "localField": "a", "foreignField": "b", "as": "x"}}]),
            );
            refused(json!([{"$unionWith": from}]));
        }
    }

    #[test]
    fn too_many_stages_are_refused_counting_nested_ones() {
        let many: Vec<Value> = (0..11).map(|_| json!({"$skip": 0})).collect();
        assert!(refused(Value::Array(many)).contains("at most 10 stages"));
        let nested: Vec<Value> = (0..10).map(|_| json!({"$skip": 0})).collect();
        refused(json!([{"$facet": {"a": nested}}]));
    }

    #[test]
    fn malformed_stages_are_refused() {
        refused(json!({"$match": {}}));
        refused(json!([{"$match": {}, "$limit": 1}]));
        refused(json!([{"$limit": -1}]));
        refused(json!([{"$limit": "10"}]));
        refused(json!([{"$sample": {"size": 5000}}]));
        refused(json!([{"$lookup": {"from": "x", "as": "y"}}]));
        refused(json!([{"$unwind": "items"}]));
    }
}
