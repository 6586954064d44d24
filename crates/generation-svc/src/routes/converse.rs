//! `POST /converse` and `POST /converse/stream`: the original README's conversation body
//! (`contents`, `systemInstruction`, `tools`, `toolConfig`, `generationConfig`,
//! `safetySettings`, `cachedContent`, `model`, `key`) sent to Gemini's `generateContent` or
//! `streamGenerateContent`, whose answer comes back as Gemini wrote it.
//!
//! With a Bearer session token the call counts against the user's daily token quota and its
//! `usageMetadata` is recorded; without one, a call on the server's Gemini key counts against
//! the quota all such calls share (see `usage`).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use coglex_common::web::{current_request_id, Caller, ErrorBody, MaybeAuthUser};
use coglex_common::{ApiError, ErrorCode};

use super::json_body::read_json;
use super::schemas::{ConverseRequest, GenerateContentResponse};
use crate::domain::{GeminiKey, GenerateRequest, ModelName};
use crate::relay::{relay, UsageOnEnd};
use crate::state::State;
use crate::usage::{estimate, Hold, Spender, UsageMetadata, UsageProbe};

/// The refusals `POST /converse` and `POST /converse/stream` share, all before Gemini answers
/// (documentation of their error responses).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum ConverseRefusals {
    #[response(
        status = 400,
        description = "The body breaks a rule (unknown field, bad content, model not allowed, no Gemini key), is not JSON (`invalid_json`), or Gemini refused the request"
    )]
    BadRequest(ErrorBody),
    #[response(
        status = 401,
        description = "A Bearer token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)"
    )]
    Unauthorized(ErrorBody),
    #[response(
        status = 403,
        description = "Gemini refused the API key or a file it does not hold; or, on the server's key, `cachedContent` names a cache not shared (`GENERATION_SHARED_CACHED_CONTENTS`) or `tools` declares one that reads the project's stores (`fileSearch`)"
    )]
    Forbidden(ErrorBody),
    #[response(
        status = 404,
        description = "On the server's key, a referenced file the caller did not upload here (or whose 48 hours are up); or Gemini does not know the model"
    )]
    NotFound(ErrorBody),
    #[response(
        status = 413,
        description = "The body is larger than `GENERATION_MAX_REQUEST_BYTES`"
    )]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not JSON")]
    NotJson(ErrorBody),
    #[response(
        status = 429,
        description = "The user's daily token quota, or the one calls without a session share, is used up or held by calls still running, or Gemini is rate limiting: retry after `Retry-After` seconds"
    )]
    RateLimited(ErrorBody),
    #[response(status = 502, description = "Gemini failed or could not be reached")]
    BadGateway(ErrorBody),
    #[response(
        status = 504,
        description = "Gemini did not answer in `GENERATION_TIMEOUT_MS`"
    )]
    Timeout(ErrorBody),
}

/// A checked request, ready to send.
struct Call {
    model: ModelName,
    key: GeminiKey,
    body: Bytes,
    /// The metered call's claim on its spender's quota.
    hold: Option<Hold>,
}

/// Everything that can refuse a request before Gemini is called: body, model, key, what it
/// names (files, cache, tools), quota.
async fn prepare(
    req: &HttpRequest,
    payload: web::Payload,
    user: MaybeAuthUser,
    caller: Caller,
    state: &State,
) -> Result<Call, ApiError> {
    let request = GenerateRequest::parse(read_json(req, payload, state.max_request_bytes).await?)?;
    let model = state.model(request.model)?;
    let spender = Spender::of(user, caller, request.key.is_some());
    let key = state.key(request.key)?;
    state
        .check_references(spender.as_ref(), &request.body)
        .await?;
    let body = serde_json::to_vec(&request.body).map_err(ApiError::internal)?;
    let hold = match spender {
        Some(spender) => {
            let estimate = estimate(body.len(), &request.body, state.held_output_tokens);
            Some(state.usage.admit(spender, estimate).await?)
        }
        None => None,
    };
    Ok(Call {
        model,
        key,
        body: body.into(),
        hold,
    })
}

/// Gives a failed call's hold back before answering, so a retry finds it free.
async fn or_release<T>(
    result: Result<T, ApiError>,
    hold: &mut Option<Hold>,
) -> Result<T, ApiError> {
    if result.is_err() {
        if let Some(hold) = hold.take() {
            hold.settle(None).await;
        }
    }
    result
}

/// Gemini's answer to a `generateContent` call and the usage it reports.
async fn generate(state: &State, call: &Call) -> Result<(Bytes, Option<UsageMetadata>), ApiError> {
    let answer = state
        .gemini
        .generate_content(&call.model, &call.key, call.body.clone())
        .await?;
    let probe: UsageProbe = serde_json::from_slice(&answer).map_err(|e| {
        ApiError::new(ErrorCode::BadGateway, "")
            .with_source(anyhow::anyhow!("generateContent did not answer JSON: {e}"))
    })?;
    Ok((answer, probe.usage_metadata))
}

/// Generate a reply
///
/// Sends the conversation to Gemini's `generateContent` and answers Gemini's
/// `GenerateContentResponse` unchanged. The body is checked before Gemini is called (roles,
/// parts, file references to the Gemini Files API only, model name). With a Bearer session
/// token the call counts against the user's daily token quota (`GENERATION_DAILY_TOKEN_QUOTA`)
/// and its usage is recorded; without one, a call on the server's key counts against the quota
/// such calls share (`GENERATION_ANONYMOUS_DAILY_TOKEN_QUOTA`). Gemini's own refusals come back
/// with its status (400, 403, 404, 429) and message, any API key removed.
#[utoipa::path(
    post,
    path = "/converse",
    security(("bearer" = []), ()),
    request_body(content = ConverseRequest, description = "The conversation, as Gemini's `GenerateContentRequest`"),
    responses(
        (status = 200, description = "Gemini's answer, unchanged", body = GenerateContentResponse),
        ConverseRefusals,
    ),
)]
pub(crate) async fn generate_content(
    req: HttpRequest,
    payload: web::Payload,
    user: MaybeAuthUser,
    caller: Caller,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let mut call = prepare(&req, payload, user, caller, &state).await?;
    let (answer, usage) = or_release(generate(&state, &call).await, &mut call.hold).await?;
    if let Some(hold) = call.hold {
        hold.settle(usage).await;
    }
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(answer))
}

/// Stream a reply
///
/// The same request as `POST /converse`, sent to Gemini's `streamGenerateContent`: the answer
/// is Gemini's server-sent events (`data: <GenerateContentResponse JSON>`), each forwarded as
/// it arrives. Refusals before the stream starts are ordinary JSON errors; a failure after it
/// started (Gemini silent for `GENERATION_STREAM_IDLE_TIMEOUT_MS`, the connection lost) ends
/// the stream with one `event: error` whose data is the API's error body. A metered stream's
/// usage is recorded when it ends.
#[utoipa::path(
    post,
    path = "/converse/stream",
    security(("bearer" = []), ()),
    request_body(content = ConverseRequest, description = "The conversation, as Gemini's `GenerateContentRequest`"),
    responses(
        (status = 200, description = "Server-sent events: one `data:` line per `GenerateContentResponse` chunk, and possibly a final `event: error`", content_type = "text/event-stream", body = String),
        ConverseRefusals,
    ),
)]
pub(crate) async fn stream_content(
    req: HttpRequest,
    payload: web::Payload,
    user: MaybeAuthUser,
    caller: Caller,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let mut call = prepare(&req, payload, user, caller, &state).await?;
    let started = state
        .gemini
        .stream_generate_content(&call.model, &call.key, call.body.clone())
        .await
        .map_err(ApiError::from);
    let response = or_release(started, &mut call.hold).await?;
    let events = relay(
        response,
        state.gemini.stream_idle_timeout(),
        current_request_id(),
        UsageOnEnd::new(call.hold),
    );
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Asks buffering proxies in front of the gateway (nginx) to pass events through.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}
