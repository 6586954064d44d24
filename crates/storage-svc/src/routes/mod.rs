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
mod batch_insert;
mod documents;
mod indexes;

use std::future::IntoFuture;
use std::time::Duration;

use coglex_common::web::Routes;
use coglex_common::ApiError;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::collection_name::CollectionName;
use crate::StorageState;

pub(crate) fn configure(routes: &mut Routes) {
    // Index routes come first: `_indexes` is a reserved collection name, so they shadow no
    // collection route.
    routes
        .add(indexes::__path_list_indexes, indexes::list_indexes)
        .add(indexes::__path_create_index, indexes::create_index)
        .add(documents::__path_find_documents, documents::find_documents)
        .add(
            documents::__path_insert_documents,
            documents::insert_documents,
        )
        .add(
            documents::__path_update_documents,
            documents::update_documents,
        )
        .add(
            documents::__path_delete_documents,
            documents::delete_documents,
        )
        .add(documents::__path_find_document, documents::find_document)
        .add(
            documents::__path_update_document,
            documents::update_document,
        )
        .add(
            documents::__path_delete_document,
            documents::delete_document,
        )
        // `POST /{collection}/aggregate` shares this path shape; a document whose id is
        // `aggregate` stays reachable with the other methods.
        .add(aggregate::__path_aggregate, aggregate::aggregate);
}

/// `/{collection}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct CollectionPath {
    /// The collection: letters, digits, `_`, `-` and `.`, starting with a letter or digit, at
    /// most 64 bytes. Names starting with `_` or `system.` are reserved (403).
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    collection: String,
}

/// `/{collection}/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct DocumentPath {
    /// The collection: letters, digits, `_`, `-` and `.`, starting with a letter or digit, at
    /// most 64 bytes. Names starting with `_` or `system.` are reserved (403).
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    collection: String,
    /// The document's `_id`: 24 hex digits name an ObjectId, anything else a string id (at
    /// most 256 bytes, no control characters).
    id: String,
}

/// Any stored document (or aggregation output): a JSON object whose fields are the client's.
/// BSON types JSON lacks are rendered plainly: ObjectIds as 24 hex digits, dates as RFC 3339
/// strings, decimals as strings, binary as base64. Users never see `_owner`.
#[derive(Debug)]
pub(crate) struct StoredDocument;

impl utoipa::PartialSchema for StoredDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Object)
            .description(Some(
                "A document: the client's own fields as plain JSON (ObjectIds as 24 hex \
                 digits, dates as RFC 3339 strings, decimals as strings, binary as base64).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for StoredDocument {
    fn name() -> std::borrow::Cow<'static, str> {
        "StoredDocument".into()
    }
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
    coglex_common::mongo::deadline(deadline(state), call)
        .await?
        .map_err(database_error)
}

/// A driver error as the API reports it. A failure to encode a command comes from the
/// client's input (what BSON cannot encode), so it is 400 rather than 500. Handlers refuse
/// such input up front with `domain::check_encodable` (the driver reports some of it as a
/// malformed server reply instead); this is the backstop.
fn database_error(err: mongodb::error::Error) -> ApiError {
    if matches!(
        err.kind.as_ref(),
        mongodb::error::ErrorKind::BsonSerialization(_)
    ) {
        return ApiError::bad_request(
            "the request holds a value the database cannot encode (e.g. a NUL character in a field name)",
        )
        .with_source(err);
    }
    ApiError::from(err)
}

/// How long a request waits for a database call.
fn deadline(state: &StorageState) -> Duration {
    state.settings.max_time() + DEADLINE_SLACK
}

/// The collection named in the path.
fn collection_name(path: &str) -> Result<CollectionName, ApiError> {
    CollectionName::parse(path)
}

impl CollectionPath {
    fn collection(&self) -> Result<CollectionName, ApiError> {
        collection_name(&self.collection)
    }
}

impl DocumentPath {
    fn collection(&self) -> Result<CollectionName, ApiError> {
        collection_name(&self.collection)
    }

    fn id(&self) -> &str {
        &self.id
    }
}
