//! The service's routes below `/service/storage/v1`, all behind `X-API-Key` and a Bearer
//! session token (or an admin key alone, for the service role).
//!
//! - `GET /{collection}`: find many (`query`, `keys`, `sort`, `limit`, `skip`).
//! - `POST /{collection}`: insert many (`documents`).
//! - `PATCH /{collection}`: update many (`document`, `query`).
//! - `DELETE /{collection}`: delete many (`query`, required).
//! - `GET|PATCH|DELETE /{collection}/{id}`: find, update or delete one by id.
//! - `POST /{collection}/aggregate`: aggregate (`pipeline`).
//! - `GET|POST /_indexes/{collection}`: list or create indexes (admin key).

mod aggregate;
mod documents;
mod indexes;

use std::future::IntoFuture;
use std::time::Duration;

use actix_web::web;
use coglex_common::ApiError;

use crate::domain::collection_name::CollectionName;
use crate::StorageState;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    // Index routes come first: `_indexes` is a reserved collection name, so they shadow no
    // collection route.
    cfg.service(
        web::resource("/_indexes/{collection}")
            .get(indexes::list_indexes)
            .post(indexes::create_index),
    )
    .service(
        web::resource("/{collection}")
            .get(documents::find_documents)
            .post(documents::insert_documents)
            .patch(documents::update_documents)
            .delete(documents::delete_documents),
    )
    .service(
        web::resource("/{collection}/{id}")
            .get(documents::find_document)
            .patch(documents::update_document)
            .delete(documents::delete_document)
            // `POST /{collection}/aggregate` shares this path shape; a document whose id is
            // `aggregate` stays reachable with the other methods.
            .post(aggregate::aggregate),
    );
}

/// Extra time a database call gets beyond `STORAGE_MAX_TIME_MS` before the request gives up:
/// the server stops queries itself at `maxTimeMS`, and writes (which the driver cannot bound)
/// stop being waited for here.
const DEADLINE_SLACK: Duration = Duration::from_secs(1);

/// Runs a database call within the deadline; running out is 503, like an outage.
async fn bounded<T>(
    state: &StorageState,
    call: impl IntoFuture<Output = mongodb::error::Result<T>>,
) -> Result<T, ApiError> {
    within(state, call).await?.map_err(ApiError::from)
}

/// [`bounded`], keeping the driver's error for callers that look into it.
async fn within<T>(
    state: &StorageState,
    call: impl IntoFuture<Output = mongodb::error::Result<T>>,
) -> Result<mongodb::error::Result<T>, ApiError> {
    tokio::time::timeout(state.settings.max_time() + DEADLINE_SLACK, call)
        .await
        .map_err(|_| {
            ApiError::unavailable(anyhow::anyhow!(
                "a database call outlived STORAGE_MAX_TIME_MS"
            ))
        })
}

/// The collection named in the path.
fn collection_name(path: &str) -> Result<CollectionName, ApiError> {
    CollectionName::parse(path)
}
