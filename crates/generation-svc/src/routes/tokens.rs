//! `POST /tokens`: the original's `tokenize` utility as an endpoint, counting the tokens of
//! `contents` with Gemini's `models/{model}:countTokens`.

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::ApiError;
use serde_json::json;

use super::json_body::read_json;
use crate::domain::CountTokensRequest;
use crate::state::State;

/// Answers `{"totalTokens": n}`.
pub(crate) async fn count_tokens(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let request =
        CountTokensRequest::parse(read_json(&req, payload, state.max_request_bytes).await?)?;
    let model = state.model(request.model)?;
    let key = state.key(request.key)?;
    let body = serde_json::to_vec(&request.body).map_err(ApiError::internal)?;
    let total = state.gemini.count_tokens(&model, &key, body.into()).await?;
    Ok(HttpResponse::Ok().json(json!({ "totalTokens": total })))
}
