//! `GET|POST /_indexes/{collection}`: the service role lists and creates indexes, so the
//! queries users make can be fast. Only ascending/descending keys (SecantusDB has no text
//! indexes). In a `private` collection every user query filters by owner, so the owner is
//! put first in every index created there.

use actix_web::{web, HttpResponse};
use coglex_common::web::{Caller, ErrorBody};
use coglex_common::{render, ApiError};
use futures_util::TryStreamExt;
use mongodb::bson::Document;
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{bounded, CollectionPath};
use crate::domain::policy::{Policy, OWNER};
use crate::owner_index::PLAIN_OWNER_INDEX;
use crate::StorageState;
use coglex_common::sort::parse_sort;

/// The server's code for "no such collection": a collection without indexes yet.
const NAMESPACE_NOT_FOUND: i32 = 26;
/// Longest accepted index name, in bytes.
const MAX_NAME_BYTES: usize = 64;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateIndexBody {
    /// Fields with 1 (ascending) or -1 (descending), in order, as in `sort`; at least one, and
    /// no reserved field. In a `private` collection `_owner` is put first.
    #[schema(value_type = Object, example = json!({"category": 1, "price": -1}))]
    keys: Value,
    /// Refuse documents that repeat the indexed values (false by default).
    #[serde(default)]
    unique: bool,
    /// The index's name: letters, digits, `_`, `-` and `.`, at most 64 bytes; the server
    /// derives one from the keys when absent.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    name: Option<String>,
}

/// An index of a collection.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IndexDescription {
    name: String,
    /// The indexed fields with 1 (ascending) or -1 (descending), in order.
    #[schema(value_type = Object)]
    keys: Value,
    unique: bool,
}

/// The name of a created index.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedIndex {
    name: String,
}

/// List indexes
///
/// Lists the indexes of `collection` (the service role only: an admin API key). A
/// collection that does not exist yet has none.
#[utoipa::path(
    get,
    path = "/_indexes/{collection}",
    params(CollectionPath),
    responses(
        (status = 200, description = "The collection's indexes (`_id_` included once it exists)", body = [IndexDescription]),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "The API key is not an admin key, or the collection is reserved", body = ErrorBody),
        (status = 404, description = "No collection can have this name", body = ErrorBody),
        (status = 503, description = "The database is unreachable or ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn list_indexes(
    state: web::Data<StorageState>,
    caller: Caller,
    path: web::Path<CollectionPath>,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller)?;
    let name = path.collection()?;
    let collection = state.collection(&name);
    let listed = bounded(&state, async {
        collection
            .list_indexes()
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await;
    let indexes = match listed {
        Ok(indexes) => indexes,
        Err(e) if is_missing_collection(&e) => Vec::new(),
        Err(e) => return Err(e),
    };
    let rendered: Vec<IndexDescription> = indexes.into_iter().map(render_index).collect();
    Ok(HttpResponse::Ok().json(rendered))
}

/// Create an index
///
/// Creates an ascending/descending index on `keys` of `collection` (the service role only:
/// an admin API key), so the queries users make can be fast. Text, geo and hashed indexes are
/// not offered. In a `private` collection every user query filters by owner, so `_owner` is
/// put first in the index (and the plain owner index the service keeps is dropped as
/// redundant).
#[utoipa::path(
    post,
    path = "/_indexes/{collection}",
    params(CollectionPath),
    request_body(content = CreateIndexBody, description = "The index"),
    responses(
        (status = 201, description = "Created", body = CreatedIndex),
        (status = 400, description = "Malformed body, refused keys or name, or an index the database refuses (e.g. a name taken by other keys)", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "The API key is not an admin key, or the collection is reserved", body = ErrorBody),
        (status = 404, description = "No collection can have this name", body = ErrorBody),
        (status = 409, description = "A unique index over values that are already repeated", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 503, description = "The database is unreachable or ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn create_index(
    state: web::Data<StorageState>,
    caller: Caller,
    path: web::Path<CollectionPath>,
    body: web::Json<CreateIndexBody>,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller)?;
    let name = path.collection()?;
    let fields = parse_sort(&body.keys)?;
    if fields.is_empty() {
        return Err(ApiError::bad_request("`keys` needs at least one field"));
    }
    let mut keys = Document::new();
    if state.policy(&name) == Policy::Private {
        keys.insert(OWNER, 1);
    }
    keys.extend(fields);
    let mut options = IndexOptions::builder().unique(body.unique).build();
    if let Some(index_name) = &body.name {
        let valid = !index_name.is_empty()
            && index_name.len() <= MAX_NAME_BYTES
            && index_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            return Err(ApiError::bad_request(format!(
                "`name` takes letters, digits, `_`, `-` and `.`, at most {MAX_NAME_BYTES} bytes"
            )));
        }
        // The service drops the index of that name once an owner-prefixed one exists.
        if index_name == PLAIN_OWNER_INDEX {
            return Err(ApiError::bad_request(format!(
                "`{PLAIN_OWNER_INDEX}` is the name of the owner index the service keeps"
            )));
        }
        options.name = Some(index_name.clone());
    }
    let model = IndexModel::builder().keys(keys).options(options).build();
    let collection = state.collection(&name);
    let created = bounded(&state, collection.create_index(model)).await?;
    if state.policy(&name) == Policy::Private {
        // The new index starts with `_owner`, so the plain owner index is now redundant.
        if let Err(e) = bounded(&state, collection.drop_index(PLAIN_OWNER_INDEX)).await {
            tracing::debug!(error = ?e, "no plain owner index to drop");
        }
    }
    Ok(HttpResponse::Created().json(CreatedIndex {
        name: created.index_name,
    }))
}

fn require_admin(caller: Caller) -> Result<(), ApiError> {
    if caller.admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "managing indexes needs an admin API key",
        ))
    }
}

fn is_missing_collection(err: &ApiError) -> bool {
    err.source_chain()
        .and_then(|cause| cause.downcast_ref::<mongodb::error::Error>())
        .and_then(coglex_common::mongo::server_code)
        == Some(NAMESPACE_NOT_FOUND)
}

fn render_index(index: IndexModel) -> IndexDescription {
    let options = index.options.unwrap_or_default();
    IndexDescription {
        // The server names every index; an unnamed one cannot be listed.
        name: options.name.unwrap_or_default(),
        keys: render::document(index.keys),
        unique: options.unique.unwrap_or(false),
    }
}
