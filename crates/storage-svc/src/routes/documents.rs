//! Finding, inserting, updating and deleting documents, many at a time or one by id.

use actix_web::{web, HttpResponse};
use coglex_common::query::{parse_filter, parse_filter_value};
use coglex_common::web::{json_array, ErrorBody};
use coglex_common::{render, ApiError};
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::batch_insert::{insert_all_or_nothing, Batch};
use super::{bounded, deadline, CollectionPath, DocumentPath, StoredDocument};
use crate::domain::document::{check_new_id, parse_id};
use crate::domain::policy::{Access, Actor};
use crate::domain::projection::parse_projection;
use crate::domain::{check_encodable, parse_json_param};
use crate::settings::Settings;
use crate::stream::render_document;
use crate::StorageState;
use coglex_common::document::parse_new_document;
use coglex_common::sort::parse_sort;
use coglex_common::update::parse_update;

/// `GET /{collection}`: each parameter is JSON text, as in the original API.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FindParams {
    /// Filter, as JSON text: field conditions with MongoDB's query operators (code-running
    /// ones such as `$where` are refused), e.g. `{"category":"books","price":{"$lt":30}}`.
    /// Empty or absent: every document the caller may read.
    #[param(example = json!(r#"{"category":"books"}"#))]
    query: Option<String>,
    /// Projection, as JSON text: fields with `1` (include) or `0` (exclude), or `$slice` /
    /// `$elemMatch`, e.g. `{"name":1}`.
    #[param(example = json!(r#"{"name":1}"#))]
    keys: Option<String>,
    /// Sort, as JSON text: fields with `1` (ascending) or `-1` (descending), e.g. `{"price":-1}`.
    #[param(example = json!(r#"{"price":-1}"#))]
    sort: Option<String>,
    /// Most documents to return: a whole number from 1 to `STORAGE_MAX_LIMIT` (1000 by
    /// default); absent means `STORAGE_DEFAULT_LIMIT` (100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Documents to skip first: a whole number of at least 0.
    #[param(value_type = Option<i64>, minimum = 0)]
    skip: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct KeysParam {
    /// Projection, as JSON text: fields with `1` (include) or `0` (exclude), or `$slice` /
    /// `$elemMatch`, e.g. `{"name":1}`.
    #[param(example = json!(r#"{"name":1}"#))]
    keys: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InsertBody {
    /// The documents to insert, from 1 to `STORAGE_MAX_INSERT_DOCUMENTS` (1000 by default), in
    /// order; all or none are written. Field names may not start with `$` or `_` (except
    /// `_id`), contain `.` or be `__proto__`/`constructor`; values may use Extended JSON
    /// (`{"$date": "..."}`). A document without `_id` gets a new ObjectId.
    #[schema(value_type = Vec<Object>, min_items = 1,
        example = json!([{"name": "Product 1", "price": 29.99, "category": "electronics"}]))]
    documents: Vec<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateOneBody {
    /// Update operators (`$set`, `$unset`, `$inc`, `$push`, ...) and their fields; a
    /// replacement document or an update pipeline is refused, and so are `_id` and reserved
    /// fields.
    #[schema(value_type = Object, example = json!({"$set": {"name": "Updated"}, "$inc": {"view_count": 1}}))]
    document: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateManyBody {
    /// Update operators (`$set`, `$unset`, `$inc`, `$push`, ...) and their fields, as for one
    /// document.
    #[schema(value_type = Object, example = json!({"$set": {"status": "archived"}}))]
    document: Value,
    /// Which documents to update, with the find rules; required (send `{}` for all of them),
    /// so a forgotten field never touches a whole collection.
    #[schema(value_type = Object, required = true, example = json!({"status": "draft"}))]
    query: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteManyBody {
    /// Which documents to delete, with the find rules; required (send `{}` for all of them).
    #[schema(value_type = Object, required = true, example = json!({"status": "archived"}))]
    query: Option<Value>,
}

/// `POST /{collection}`: the ids of the inserted documents.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InsertResponse {
    /// One per document, in order: the generated ObjectIds as 24 hex digits, client ids as
    /// sent.
    #[schema(value_type = Vec<Value>)]
    inserted_ids: Vec<Value>,
}

/// `PATCH`: how many documents matched and how many changed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UpdateResponse {
    matched: u64,
    /// Less than `matched` when an update changed nothing in some documents.
    modified: u64,
}

/// `DELETE`: how many documents were deleted.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeleteResponse {
    deleted: u64,
}

/// Find documents
///
/// Returns the documents of `collection` that match `query`, at most `limit` of them (after
/// `skip`), projected by `keys` and ordered by `sort`. Every parameter is checked before it
/// reaches the database: unknown parameters, code-running operators, reserved fields (`_owner`
/// and other `_` names except `_id`) and malformed JSON are refused with 400.
///
/// Access follows the collection's policy: in a `private` collection (the default) a user
/// finds only their own documents; `shared` and `read-only` collections are readable by every
/// signed-in user. An admin API key without a session token acts as the service role and
/// reads everything. Users never see the `_owner` field. Names starting with `_` or `system.`
/// are reserved (403); names no collection can have are 404. A collection that does not exist
/// yet is simply empty.
#[utoipa::path(
    get,
    path = "/{collection}",
    params(CollectionPath, FindParams),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "The matching documents (possibly none)", body = [StoredDocument]),
        (status = 400, description = "A parameter is malformed, unknown or refused", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key, invalid session token, or no session token with a non-admin key", body = ErrorBody),
        (status = 403, description = "The collection is reserved", body = ErrorBody),
        (status = 404, description = "No collection can have this name", body = ErrorBody),
        (status = 503, description = "The database is unreachable or the query ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn find_documents(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<CollectionPath>,
    params: web::Query<FindParams>,
) -> Result<HttpResponse, ApiError> {
    let name = path.collection()?;
    let access = state.policy(&name).read(&actor);
    let mut filter = parse_filter(params.query.as_deref().unwrap_or_default())?;
    check_encodable(&filter)?;
    access.confine(&mut filter);
    let limit = parse_limit(params.limit.as_deref(), &state.settings)?;
    let skip = parse_skip(params.skip.as_deref())?;
    let projection = optional_param("keys", params.keys.as_deref(), parse_projection)?;
    projection.as_ref().map(check_encodable).transpose()?;
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
    let hide_owner = access.hides_owner();
    Ok(json_array(cursor, deadline(&state), move |document| {
        render_document(document, hide_owner)
    }))
}

/// Find one document
///
/// Returns the document of `collection` whose `_id` is `id`, projected by `keys`. A document
/// the caller may not read (another user's, in a `private` collection) is 404, exactly like
/// one that does not exist.
#[utoipa::path(
    get,
    path = "/{collection}/{id}",
    params(DocumentPath, KeysParam),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "The document", body = StoredDocument),
        (status = 400, description = "The id or `keys` is malformed or refused, or a parameter is unknown", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key, invalid session token, or no session token with a non-admin key", body = ErrorBody),
        (status = 403, description = "The collection is reserved", body = ErrorBody),
        (status = 404, description = "No such document (or not the caller's), or no collection can have this name", body = ErrorBody),
        (status = 503, description = "The database is unreachable or the query ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn find_document(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<DocumentPath>,
    params: web::Query<KeysParam>,
) -> Result<HttpResponse, ApiError> {
    let name = path.collection()?;
    let access = state.policy(&name).read(&actor);
    let filter = by_id(path.id(), &access)?;
    let projection = optional_param("keys", params.keys.as_deref(), parse_projection)?;
    projection.as_ref().map(check_encodable).transpose()?;

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

/// Insert documents
///
/// Inserts `documents` into `collection` (created on first use), in order, all or nothing: if
/// one is refused by the database (a duplicate `_id` or unique key is 409), those written
/// before it are removed again. Running out of time (503) leaves nothing either: what the
/// insert wrote is removed once it ends. In a `private` collection each document is stamped with its
/// creator, who alone can reach it; a `read-only` collection takes writes from the service
/// role (admin API key, no session token) only. Users create a collection by writing to a
/// new name only while there are fewer than `STORAGE_MAX_COLLECTIONS`.
#[utoipa::path(
    post,
    path = "/{collection}",
    params(CollectionPath),
    request_body(content = InsertBody, description = "The documents to insert"),
    security(("bearer" = []), ()),
    responses(
        (status = 201, description = "Inserted; the new ids in order", body = InsertResponse),
        (status = 400, description = "Malformed body, empty or oversized batch, refused field name or value", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key, invalid session token, or no session token with a non-admin key", body = ErrorBody),
        (status = 403, description = "The collection is reserved, read-only for users, or new while users may create no more (`STORAGE_MAX_COLLECTIONS`)", body = ErrorBody),
        (status = 404, description = "No collection can have this name", body = ErrorBody),
        (status = 409, description = "A document with the same `_id` or unique key exists; nothing was written", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 503, description = "The database is unreachable or the write ran out of time; nothing of the batch stays", body = ErrorBody),
    ),
)]
pub(crate) async fn insert_documents(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<CollectionPath>,
    body: web::Json<InsertBody>,
) -> Result<HttpResponse, ApiError> {
    let name = path.collection()?;
    let access = state.policy(&name).write(&actor)?;
    let max = state.settings.storage_max_insert_documents;
    if body.documents.is_empty() || body.documents.len() > max {
        return Err(ApiError::bad_request(format!(
            "`documents` must hold from 1 to {max} documents"
        )));
    }
    let mut documents = Vec::with_capacity(body.documents.len());
    let mut generated = Vec::new();
    for value in &body.documents {
        let mut document = parse_new_document(value)?;
        if let Some(id) = document.get("_id") {
            check_new_id(id)?;
        } else {
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

    let admission = match &actor {
        Actor::User(_) => {
            let list = bounded(&state, state.db.list_collection_names());
            Some(state.collection_cap.admit(&name, list).await?)
        }
        Actor::Service => None,
    };
    let collection = state.collection(&name);
    let batch = Batch {
        documents,
        ids: ids.clone(),
        generated,
        admission,
    };
    insert_all_or_nothing(
        collection.clone(),
        batch,
        deadline(&state),
        &state.background,
    )
    .await?;
    // Only once the insert worked: building the index would create the collection too.
    if access.owner().is_some() {
        state.owner_indexes.ensure(&collection);
    }
    let inserted_ids: Vec<Value> = ids.into_iter().map(render::bson).collect();
    Ok(HttpResponse::Created().json(InsertResponse { inserted_ids }))
}

/// Update one document
///
/// Applies the update operators of `document` to the document of `collection` whose `_id` is
/// `id`. Only allow-listed operators are accepted; a replacement document, an update
/// pipeline, and changes to `_id` or reserved fields are refused. A document the caller may
/// not write (another user's, in a `private` collection) is 404, like a missing one.
#[utoipa::path(
    patch,
    path = "/{collection}/{id}",
    params(DocumentPath),
    request_body(content = UpdateOneBody, description = "The update"),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "Updated (`modified` is 0 when nothing changed)", body = UpdateResponse),
        (status = 400, description = "Malformed body or id, refused operator or field, or an update the database refuses", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key, invalid session token, or no session token with a non-admin key", body = ErrorBody),
        (status = 403, description = "The collection is reserved, or read-only for users", body = ErrorBody),
        (status = 404, description = "No such document (or not the caller's), or no collection can have this name", body = ErrorBody),
        (status = 409, description = "The update would duplicate a unique key", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 503, description = "The database is unreachable or the write ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn update_document(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<DocumentPath>,
    body: web::Json<UpdateOneBody>,
) -> Result<HttpResponse, ApiError> {
    let name = path.collection()?;
    let access = state.policy(&name).write(&actor)?;
    let filter = by_id(path.id(), &access)?;
    let update = parse_update(&body.document, &[])?;
    check_encodable(&update)?;

    let collection = state.collection(&name);
    let result = bounded(&state, collection.update_one(filter, update)).await?;
    if result.matched_count == 0 {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(UpdateResponse {
        matched: result.matched_count,
        modified: result.modified_count,
    }))
}

/// Update documents
///
/// Applies the update operators of `document` to every document of `collection` that
/// matches `query` and that the caller may write. `query` is required (`{}` for every
/// document). Operators, fields and filters follow the same rules as for one document and for
/// finds.
#[utoipa::path(
    patch,
    path = "/{collection}",
    params(CollectionPath),
    request_body(content = UpdateManyBody, description = "The update and which documents it applies to"),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "Updated (both counts may be 0)", body = UpdateResponse),
        (status = 400, description = "Malformed body, missing `query`, refused operator, field or filter, or an update the database refuses", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key, invalid session token, or no session token with a non-admin key", body = ErrorBody),
        (status = 403, description = "The collection is reserved, or read-only for users", body = ErrorBody),
        (status = 404, description = "No collection can have this name", body = ErrorBody),
        (status = 409, description = "The update would duplicate a unique key", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 503, description = "The database is unreachable or the write ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn update_documents(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<CollectionPath>,
    body: web::Json<UpdateManyBody>,
) -> Result<HttpResponse, ApiError> {
    let name = path.collection()?;
    let access = state.policy(&name).write(&actor)?;
    let filter = required_query(body.query.as_ref(), "update", &access)?;
    let update = parse_update(&body.document, &[])?;
    check_encodable(&update)?;

    let collection = state.collection(&name);
    check_filter_in_time(&state, &collection, &filter).await?;
    let result = bounded(&state, collection.update_many(filter, update)).await?;
    Ok(HttpResponse::Ok().json(UpdateResponse {
        matched: result.matched_count,
        modified: result.modified_count,
    }))
}

/// Delete one document
///
/// Deletes the document of `collection` whose `_id` is `id`. A document the caller may not
/// write (another user's, in a `private` collection) is 404, like a missing one.
#[utoipa::path(
    delete,
    path = "/{collection}/{id}",
    params(DocumentPath),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "Deleted (`deleted` is 1)", body = DeleteResponse),
        (status = 400, description = "The id is malformed", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key, invalid session token, or no session token with a non-admin key", body = ErrorBody),
        (status = 403, description = "The collection is reserved, or read-only for users", body = ErrorBody),
        (status = 404, description = "No such document (or not the caller's), or no collection can have this name", body = ErrorBody),
        (status = 503, description = "The database is unreachable or the write ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn delete_document(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<DocumentPath>,
) -> Result<HttpResponse, ApiError> {
    let name = path.collection()?;
    let access = state.policy(&name).write(&actor)?;
    let filter = by_id(path.id(), &access)?;

    let collection = state.collection(&name);
    let result = bounded(&state, collection.delete_one(filter)).await?;
    if result.deleted_count == 0 {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(DeleteResponse {
        deleted: result.deleted_count,
    }))
}

/// Delete documents
///
/// Deletes every document of `collection` that matches `query` and that the caller may
/// write. `query` is required (`{}` for every document) and follows the find rules.
#[utoipa::path(
    delete,
    path = "/{collection}",
    params(CollectionPath),
    request_body(content = DeleteManyBody, description = "Which documents to delete"),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "Deleted (possibly none)", body = DeleteResponse),
        (status = 400, description = "Malformed body, missing `query`, or a refused filter", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key, invalid session token, or no session token with a non-admin key", body = ErrorBody),
        (status = 403, description = "The collection is reserved, or read-only for users", body = ErrorBody),
        (status = 404, description = "No collection can have this name", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 503, description = "The database is unreachable or the write ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn delete_documents(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<CollectionPath>,
    body: web::Json<DeleteManyBody>,
) -> Result<HttpResponse, ApiError> {
    let name = path.collection()?;
    let access = state.policy(&name).write(&actor)?;
    let filter = required_query(body.query.as_ref(), "delete", &access)?;

    let collection = state.collection(&name);
    check_filter_in_time(&state, &collection, &filter).await?;
    let result = bounded(&state, collection.delete_many(filter)).await?;
    Ok(HttpResponse::Ok().json(DeleteResponse {
        deleted: result.deleted_count,
    }))
}

/// Bulk writes take no `maxTimeMS`, and the server goes on with one the request stopped
/// waiting for. So the filter is first evaluated by a count, which does: a filter too slow
/// to finish within `STORAGE_MAX_TIME_MS` is 503 before anything is written, and one that
/// passes costs the write about as much again.
async fn check_filter_in_time(
    state: &StorageState,
    collection: &Collection<Document>,
    filter: &Document,
) -> Result<(), ApiError> {
    let count = collection
        .count_documents(filter.clone())
        .max_time(state.settings.max_time());
    bounded(state, count).await.map(drop)
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
    check_encodable(&filter)?;
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
