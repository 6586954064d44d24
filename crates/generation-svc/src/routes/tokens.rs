//! `POST /tokens`: the original's `tokenize` utility as an endpoint, counting the tokens of
//! `contents` with Gemini's `models/{model}:countTokens`.

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::web::ErrorBody;
use coglex_common::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use super::json_body::read_json;
use super::schemas::CountTokensRequest;
use crate::domain;
use crate::state::State;

/// How many tokens the contents make for the model.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenCount {
    total_tokens: u64,
}

/// Count tokens
///
/// Counts the tokens of `contents` for a model with Gemini's `countTokens`, as the original's
/// `tokenize` utility did. Plain strings stand for user text parts. Nothing is recorded
/// against any quota.
#[utoipa::path(
    post,
    path = "/tokens",
    request_body(content = CountTokensRequest, description = "What to count"),
    responses(
        (status = 200, description = "The count", body = TokenCount),
        (status = 400, description = "The body breaks a rule (unknown field, bad content, model not allowed, no Gemini key), is not JSON (`invalid_json`), or Gemini refused the request", body = ErrorBody),
        (status = 401, description = "`X-API-Key` is missing or not valid", body = ErrorBody),
        (status = 403, description = "Gemini refused the API key", body = ErrorBody),
        (status = 404, description = "Gemini does not know the model", body = ErrorBody),
        (status = 413, description = "The body is larger than `GENERATION_MAX_REQUEST_BYTES`", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 429, description = "Gemini is rate limiting: retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "Gemini failed or could not be reached", body = ErrorBody),
        (status = 504, description = "Gemini did not answer in `GENERATION_TIMEOUT_MS`", body = ErrorBody),
    ),
)]
pub(crate) async fn count_tokens(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let request = domain::CountTokensRequest::parse(
        read_json(&req, payload, state.max_request_bytes).await?,
    )?;
    let model = state.model(request.model)?;
    let key = state.key(request.key)?;
    let body = serde_json::to_vec(&request.body).map_err(ApiError::internal)?;
    let total = state.gemini.count_tokens(&model, &key, body.into()).await?;
    Ok(HttpResponse::Ok().json(TokenCount {
        total_tokens: total,
    }))
}
