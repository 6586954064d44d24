//! Finding, inserting, updating and deleting documents, many at a time or one by id.

use actix_web::{web, HttpResponse};
use coglex_common::query::{parse_filter, parse_filter_value};
use coglex_common::{render, ApiError};
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::error::ErrorKind;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{bounded, collection_name, within};
use crate::domain::document::parse_id;
use crate::domain::parse_json_param;
use crate::domain::policy::{Access, Actor};
use crate::domain::projection::parse_projection;
use crate::settings::Settings;
use crate::stream::{json_array, render_document};
use crate::StorageState;
use coglex_common::document::parse_new_document;
use coglex_common::sort::parse_sort;
use coglex_common::update::parse_update;

/// `GET /{collection}`: each parameter is JSON text, as in the original API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindParams {
    query: Option<String>,
    keys: Option<String>,
    sort: Option<String>,
    limit: Option<String>,
    skip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeysParam {
    keys: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InsertBody {
    documents: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateOneBody {
    document: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateManyBody {
    document: Value,
    query: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteManyBody {
    query: Option<Value>,
}

pub(crate) async fn find_documents(
    state: web::Data<StorageState>,
    actor: Actor,
    collection: web::Path<String>,
    params: web::Query<FindParams>,
) -> Result<HttpResponse, ApiError> {
    let name = collection_name(&collection)?;
    let access = state.policy(&name).read(&actor);
    let mut filter = parse_filter(params.query.as_deref().unwrap_or_default())?;
    access.confine(&mut filter);
    let limit = parse_limit(params.limit.as_deref(), &state.settings)?;
    let skip = parse_skip(params.skip.as_deref())?;
    let projection = optional_param("keys", params.keys.as_deref(), parse_projection)?;
    let sort = optional_param("sort", params.sort.as_deref(), parse_sort)?;

    let collection = state.collection(&name);
    let mut find = collection
        .find(filter)
        .limit(limit)
        .skip(skip)
        // The whole result in the first reply: limits are small enough to fit.
        .batch_size(limit as u32)
        .max_time(state.settings.max_time());
    if let Some(projection) = projection {
        find = find.projection(projection);
    }
    if let Some(sort) = sort {
        find = find.sort(sort);
    }
    let cursor = bounded(&state, find).await?;
    Ok(json_array(cursor, access.hides_owner()))
}

pub(crate) async fn find_document(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    params: web::Query<KeysParam>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id) = path.into_inner();
    let name = collection_name(&collection)?;
    let access = state.policy(&name).read(&actor);
    let filter = by_id(&id, &access)?;
    let projection = optional_param("keys", params.keys.as_deref(), parse_projection)?;

    let collection = state.collection(&name);
    let mut find = collection
        .find_one(filter)
        .max_time(state.settings.max_time());
    if let Some(projection) = projection {
        find = find.projection(projection);
    }
    match bounded(&state, find).await? {
        Some(document) => {
            Ok(HttpResponse::Ok().json(render_document(document, access.hides_owner())))
        }
        None => Err(not_found()),
    }
}

pub(crate) async fn insert_documents(
    state: web::Data<StorageState>,
    actor: Actor,
    collection: web::Path<String>,
    body: web::Json<InsertBody>,
) -> Result<HttpResponse, ApiError> {
    let name = collection_name(&collection)?;
    let access = state.policy(&name).write(&actor)?;
    let max = state.settings.storage_max_insert_documents;
    if body.documents.is_empty() || body.documents.len() > max {
        return Err(ApiError::bad_request(format!(
            "`documents` must hold from 1 to {max} documents"
        )));
    }
    let mut documents = Vec::with_capacity(body.documents.len());
    // Ids we made up: no document can have them yet, so they are always safe to roll back.
    let mut generated = Vec::new();
    for value in &body.documents {
        let mut document = parse_new_document(value)?;
        if !document.contains_key("_id") {
            let id = ObjectId::new();
            generated.push(Bson::ObjectId(id));
            let mut with_id = doc! { "_id": id };
            with_id.extend(document);
            document = with_id;
        }
        access.stamp(&mut document);
        documents.push(document);
    }
    let ids: Vec<Bson> = documents
        .iter()
        .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
        .collect();

    let collection = state.collection(&name);
    if access.owner().is_some() {
        state.owner_indexes.ensure(&collection);
    }
    let insert = collection.insert_many(&documents).ordered(true);
    let failure = match within(&state, insert).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some((written_before(&e), ApiError::from(e))),
        Err(timed_out) => Some((None, timed_out)),
    };
    if let Some((written, err)) = failure {
        let to_remove = match written {
            Some(count) => ids[..count.min(ids.len())].to_vec(),
            None => generated,
        };
        roll_back_insert(&state, &collection, to_remove).await;
        return Err(err);
    }
    let inserted: Vec<Value> = ids.into_iter().map(render::bson).collect();
    Ok(HttpResponse::Created().json(json!({ "inserted_ids": inserted })))
}

/// How many documents an ordered insert wrote before it failed, when the failure says: an
/// ordered insert stops at its first failing document.
fn written_before(err: &mongodb::error::Error) -> Option<usize> {
    match err.kind.as_ref() {
        ErrorKind::InsertMany(failure) => failure
            .write_errors
            .as_ref()
            .and_then(|errors| errors.iter().map(|w| w.index).min()),
        _ => None,
    }
}

/// Removes what a failed insert wrote, so a refused batch leaves nothing behind. When the
/// failure does not say where the insert stopped, only the documents whose ids we generated
/// are certainly ours to remove.
async fn roll_back_insert(
    state: &StorageState,
    collection: &mongodb::Collection<Document>,
    ids: Vec<Bson>,
) {
    if ids.is_empty() {
        return;
    }
    let removal = collection.delete_many(doc! { "_id": { "$in": ids } });
    if let Err(e) = bounded(state, removal).await {
        tracing::error!(error = ?e, "could not roll back a failed insert");
    }
}

pub(crate) async fn update_document(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateOneBody>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id) = path.into_inner();
    let name = collection_name(&collection)?;
    let access = state.policy(&name).write(&actor)?;
    let filter = by_id(&id, &access)?;
    let update = parse_update(&body.document, &[])?;

    let collection = state.collection(&name);
    let result = bounded(&state, collection.update_one(filter, update)).await?;
    if result.matched_count == 0 {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(json!({
        "matched": result.matched_count,
        "modified": result.modified_count,
    })))
}

pub(crate) async fn update_documents(
    state: web::Data<StorageState>,
    actor: Actor,
    collection: web::Path<String>,
    body: web::Json<UpdateManyBody>,
) -> Result<HttpResponse, ApiError> {
    let name = collection_name(&collection)?;
    let access = state.policy(&name).write(&actor)?;
    let filter = required_query(body.query.as_ref(), "update", &access)?;
    let update = parse_update(&body.document, &[])?;

    let collection = state.collection(&name);
    let result = bounded(&state, collection.update_many(filter, update)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "matched": result.matched_count,
        "modified": result.modified_count,
    })))
}

pub(crate) async fn delete_document(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id) = path.into_inner();
    let name = collection_name(&collection)?;
    let access = state.policy(&name).write(&actor)?;
    let filter = by_id(&id, &access)?;

    let collection = state.collection(&name);
    let result = bounded(&state, collection.delete_one(filter)).await?;
    if result.deleted_count == 0 {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(json!({ "deleted": result.deleted_count })))
}

pub(crate) async fn delete_documents(
    state: web::Data<StorageState>,
    actor: Actor,
    collection: web::Path<String>,
    body: web::Json<DeleteManyBody>,
) -> Result<HttpResponse, ApiError> {
    let name = collection_name(&collection)?;
    let access = state.policy(&name).write(&actor)?;
    let filter = required_query(body.query.as_ref(), "delete", &access)?;

    let collection = state.collection(&name);
    let result = bounded(&state, collection.delete_many(filter)).await?;
    Ok(HttpResponse::Ok().json(json!({ "deleted": result.deleted_count })))
}

/// The filter for one document by its path id, within what the caller may reach.
fn by_id(id: &str, access: &Access) -> Result<Document, ApiError> {
    let mut filter = doc! { "_id": parse_id(id)? };
    access.confine(&mut filter);
    Ok(filter)
}

/// Writes to many documents need an explicit `query` (`{}` for all of them), so a forgotten
/// field never touches a whole collection.
fn required_query(
    query: Option<&Value>,
    action: &str,
    access: &Access,
) -> Result<Document, ApiError> {
    let query = query.ok_or_else(|| {
        ApiError::bad_request(format!(
            "`query` is required; send {{}} to {action} every document"
        ))
    })?;
    let mut filter = parse_filter_value(query)?;
    access.confine(&mut filter);
    Ok(filter)
}

/// Same answer whether the document does not exist or belongs to someone else.
fn not_found() -> ApiError {
    ApiError::not_found("no document with this id")
}

fn parse_limit(text: Option<&str>, settings: &Settings) -> Result<i64, ApiError> {
    let max = i64::from(settings.storage_max_limit);
    match text.map(str::trim) {
        None | Some("") => Ok(i64::from(settings.storage_default_limit)),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("`limit` must be a whole number from 1 to {max}"))
            }),
    }
}

fn parse_skip(text: Option<&str>) -> Result<u64, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(0),
        // Within i64: the database counts in signed 64-bit integers.
        Some(text) => text
            .parse::<i64>()
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| ApiError::bad_request("`skip` must be a whole number of at least 0")),
    }
}

/// A JSON parameter parsed and checked when present and not empty.
fn optional_param<T>(
    name: &str,
    text: Option<&str>,
    parse: fn(&Value) -> Result<T, ApiError>,
) -> Result<Option<T>, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse(&parse_json_param(name, text)?).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coglex_common::config::ConfigSource;

    fn settings() -> Settings {
        ConfigSource::from_pairs([("STORAGE_MAX_LIMIT", "1000")])
            .get()
            .unwrap()
    }

    #[test]
    fn limit_defaults_to_100_and_accepts_up_to_the_maximum() {
        assert_eq!(parse_limit(None, &settings()).unwrap(), 100);
        assert_eq!(parse_limit(Some("1000"), &settings()).unwrap(), 1000);
    }

    #[test]
    fn limits_out_of_range_or_not_numbers_are_refused() {
        for bad in ["1001", "-1", "0", "ten", "1.5"] {
            assert!(parse_limit(Some(bad), &settings()).is_err(), "{bad}");
        }
    }

    #[test]
    fn skip_must_be_a_whole_number() {
        assert_eq!(parse_skip(Some("20")).unwrap(), 20);
        assert!(parse_skip(Some("-1")).is_err());
        assert!(parse_skip(Some(&u64::MAX.to_string())).is_err());
    }
}
