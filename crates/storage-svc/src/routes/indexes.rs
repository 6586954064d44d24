//! `GET|POST /_indexes/{collection}`: the service role lists and creates indexes, so the
//! queries users make can be fast. Only ascending/descending keys (SecantusDB has no text
//! indexes). In a `private` collection every user query filters by owner, so the owner is
//! put first in every index created there.

use actix_web::{web, HttpResponse};
use coglex_common::web::Caller;
use coglex_common::{render, ApiError};
use futures_util::TryStreamExt;
use mongodb::bson::Document;
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{bounded, collection_name};
use crate::domain::policy::{Policy, OWNER};
use crate::owner_index::PLAIN_OWNER_INDEX;
use crate::StorageState;
use coglex_common::sort::parse_sort;

/// The server's code for "no such collection": a collection without indexes yet.
const NAMESPACE_NOT_FOUND: i32 = 26;
/// Longest accepted index name, in bytes.
const MAX_NAME_BYTES: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateIndexBody {
    /// Fields with 1 (ascending) or -1 (descending), as in `sort`.
    keys: Value,
    #[serde(default)]
    unique: bool,
    name: Option<String>,
}

pub(crate) async fn list_indexes(
    state: web::Data<StorageState>,
    caller: Caller,
    collection: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller)?;
    let name = collection_name(&collection)?;
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
    let rendered: Vec<Value> = indexes.into_iter().map(render_index).collect();
    Ok(HttpResponse::Ok().json(rendered))
}

pub(crate) async fn create_index(
    state: web::Data<StorageState>,
    caller: Caller,
    collection: web::Path<String>,
    body: web::Json<CreateIndexBody>,
) -> Result<HttpResponse, ApiError> {
    require_admin(caller)?;
    let name = collection_name(&collection)?;
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
    Ok(HttpResponse::Created().json(json!({ "name": created.index_name })))
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

fn render_index(index: IndexModel) -> Value {
    let options = index.options.unwrap_or_default();
    json!({
        "name": options.name,
        "keys": render::document(index.keys),
        "unique": options.unique.unwrap_or(false),
    })
}
