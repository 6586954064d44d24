//! `POST /tokens`: the original's `tokenize` utility as an endpoint, counting the tokens of
//! `contents` with Gemini's `models/{model}:countTokens`.

use actix_web::{web, HttpRequest, HttpResponse};
use coglex_common::web::{Caller, ErrorBody, MaybeAuthUser};
use coglex_common::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use super::json_body::read_json;
use super::schemas::CountTokensRequest;
use crate::domain;
use crate::files::Owner;
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
/// against any quota. On the server's key, referenced files must be the caller's own, as for
/// `POST /converse`.
#[utoipa::path(
    post,
    path = "/tokens",
    security(("bearer" = []), ()),
    request_body(content = CountTokensRequest, description = "What to count"),
    responses(
        (status = 200, description = "The count", body = TokenCount),
        (status = 400, description = "The body breaks a rule (unknown field, bad content, model not allowed, no Gemini key), is not JSON (`invalid_json`), or Gemini refused the request", body = ErrorBody),
        (status = 401, description = "A Bearer token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 403, description = "Gemini refused the API key or a file it does not hold", body = ErrorBody),
        (status = 404, description = "On the server's key, a referenced file the caller did not upload here (or whose 48 hours are up); or Gemini does not know the model", body = ErrorBody),
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
    user: MaybeAuthUser,
    caller: Caller,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let request = domain::CountTokensRequest::parse(
        read_json(&req, payload, state.max_request_bytes).await?,
    )?;
    let model = state.model(request.model)?;
    // Counting is never metered, but it reads the files it names like a generation does.
    let owner = Owner::of(user, caller, request.key.is_some());
    let key = state.key(request.key)?;
    state
        .check_references(owner.as_ref(), &request.body)
        .await?;
    let body = serde_json::to_vec(&request.body).map_err(ApiError::internal)?;
    let total = state.gemini.count_tokens(&model, &key, body.into()).await?;
    Ok(HttpResponse::Ok().json(TokenCount {
        total_tokens: total,
    }))
}
