//! `POST /{collection}/aggregate`: runs a checked, confined pipeline and streams its output.

use actix_web::{web, HttpResponse};
use coglex_common::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::Value;

use super::{bounded, collection_name};
use crate::domain::pipeline::{parse_pipeline, PipelineRules};
use crate::domain::policy::Actor;
use crate::stream::json_array;
use crate::StorageState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AggregateBody {
    pipeline: Value,
}

pub(crate) async fn aggregate(
    state: web::Data<StorageState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<AggregateBody>,
) -> Result<HttpResponse, ApiError> {
    let (collection, action) = path.into_inner();
    if action != "aggregate" {
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

    let collection = state.collection(&name);
    let aggregate = collection
        .aggregate(pipeline)
        .max_time(state.settings.max_time());
    let cursor = bounded(&state, aggregate).await?;
    Ok(json_array(cursor, access.hides_owner()))
}
