//! `POST /{collection}/aggregate`: runs a checked, confined pipeline and streams its output.

use actix_web::{web, HttpResponse};
use coglex_common::web::{json_array, ErrorBody};
use coglex_common::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{bounded, collection_name, deadline, StoredDocument};
use crate::domain::check_encodable;
use crate::domain::pipeline::{parse_pipeline, PipelineRules};
use crate::domain::policy::Actor;
use crate::stream::render_document;
use crate::StorageState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AggregateBody {
    /// The stages, in order, from an allow-list: `$match`, `$project`, `$addFields`, `$set`,
    /// `$unset`, `$group`, `$sort`, `$limit`, `$skip`, `$count`, `$unwind`, `$sortByCount`,
    /// `$bucket`, `$bucketAuto`, `$replaceRoot`, `$replaceWith`, `$sample`, `$facet`,
    /// `$lookup`, `$graphLookup` and `$unionWith`; at most `STORAGE_MAX_PIPELINE_STAGES` (20 by
    /// default), nested ones included.
    #[schema(value_type = Vec<Object>, example = json!([
        {"$match": {"status": "active"}},
        {"$group": {"_id": "$category", "count": {"$sum": 1}}},
        {"$sort": {"count": -1}}
    ]))]
    pipeline: Value,
}

/// `/{collection}/{id}`, where the only `id` a `POST` takes is `aggregate`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AggregatePath {
    /// The collection: letters, digits, `_`, `-` and `.`, starting with a letter or digit, at
    /// most 64 bytes. Names starting with `_` or `system.` are reserved (403).
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    collection: String,
    /// Always `aggregate` (the path shape is shared with the routes of one document).
    #[param(pattern = "^aggregate$")]
    id: String,
}

/// Aggregate
///
/// Runs an aggregation pipeline over `collection` and returns its output documents, at most
/// `STORAGE_MAX_LIMIT` (1000 by default). Stages outside the allow-list (`$out`, `$merge`,
/// `$currentOp`, ...), code-running expressions (`$function`, `$where`, ...) and references to
/// reserved fields are refused with 400. The pipeline only ever sees what the caller may read:
/// in a `private` collection the caller's own documents, and the same policy applies to every
/// collection `$lookup`, `$graphLookup` and `$unionWith` pull in (reserved collections are
/// 403).
///
/// The path's last segment must be `aggregate`: any other value is 405 (`POST` on
/// `/{collection}` inserts).
#[utoipa::path(
    post,
    path = "/{collection}/{id}",
    params(AggregatePath),
    request_body(content = AggregateBody, description = "The pipeline"),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "The pipeline's output documents (possibly none)", body = [StoredDocument]),
        (status = 400, description = "Malformed body, or a refused stage, expression, field or limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key, invalid session token, or no session token with a non-admin key", body = ErrorBody),
        (status = 403, description = "The collection, or one the pipeline reads, is reserved", body = ErrorBody),
        (status = 404, description = "No collection can have this name", body = ErrorBody),
        (status = 405, description = "The last path segment is not `aggregate`", body = ErrorBody),
        (status = 413, description = "The body is larger than `MAX_JSON_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 503, description = "The database is unreachable or the pipeline ran out of time", body = ErrorBody),
    ),
)]
pub(crate) async fn aggregate(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<AggregatePath>,
    body: web::Json<AggregateBody>,
) -> Result<HttpResponse, ApiError> {
    let AggregatePath { collection, id } = path.into_inner();
    if id != "aggregate" {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "POST is accepted on /{collection} (insert) and /{collection}/aggregate",
        ));
    }
    let name = collection_name(&collection)?;
    let access = state.policy(&name).read(&actor);
    let rules = PipelineRules {
        policies: &state.policies,
        actor: &actor,
        max_stages: state.settings.storage_max_pipeline_stages,
        max_limit: state.settings.storage_max_limit,
    };
    let pipeline = parse_pipeline(&body.pipeline, &access, &rules)?;
    pipeline.iter().try_for_each(check_encodable)?;

    let collection = state.collection(&name);
    let aggregate = collection
        .aggregate(pipeline)
        .max_time(state.settings.max_time());
    let cursor = bounded(&state, aggregate).await?;
    let hide_owner = access.hides_owner();
    Ok(json_array(cursor, deadline(&state), move |document| {
        render_document(document, hide_owner)
    }))
}
