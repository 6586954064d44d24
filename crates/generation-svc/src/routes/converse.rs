//! `POST /converse` and `POST /converse/stream`: the original README's conversation body
//! (`contents`, `systemInstruction`, `tools`, `toolConfig`, `generationConfig`,
//! `safetySettings`, `cachedContent`, `model`, `key`) sent to Gemini's `generateContent` or
//! `streamGenerateContent`, whose answer comes back as Gemini wrote it.
//!
//! With a Bearer session token the call counts against the user's daily token quota and its
//! `usageMetadata` is recorded; without one it is anonymous (the API key still applies).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use coglex_common::web::{current_request_id, MaybeAuthUser};
use coglex_common::{ApiError, ErrorCode};

use super::json_body::read_json;
use crate::domain::{GeminiKey, GenerateRequest, ModelName};
use crate::relay::{relay, UsageOnEnd};
use crate::state::State;
use crate::usage::UsageProbe;

/// A checked request, ready to send.
struct Call {
    model: ModelName,
    key: GeminiKey,
    body: Bytes,
}

/// Everything that can refuse a request before Gemini is called: body, model, key, quota.
async fn prepare(
    req: &HttpRequest,
    payload: web::Payload,
    user: &MaybeAuthUser,
    state: &State,
) -> Result<Call, ApiError> {
    let request = GenerateRequest::parse(read_json(req, payload, state.max_request_bytes).await?)?;
    let model = state.model(request.model)?;
    let key = state.key(request.key)?;
    if let Some(user) = &user.0 {
        state.usage.check_quota(user).await?;
    }
    let body = serde_json::to_vec(&request.body).map_err(ApiError::internal)?;
    Ok(Call {
        model,
        key,
        body: body.into(),
    })
}

/// Gemini's `GenerateContentResponse`, unchanged.
pub(crate) async fn generate_content(
    req: HttpRequest,
    payload: web::Payload,
    user: MaybeAuthUser,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let call = prepare(&req, payload, &user, &state).await?;
    let answer = state
        .gemini
        .generate_content(&call.model, &call.key, call.body)
        .await?;
    let probe: UsageProbe = serde_json::from_slice(&answer).map_err(|e| {
        ApiError::new(ErrorCode::BadGateway, "")
            .with_source(anyhow::anyhow!("generateContent did not answer JSON: {e}"))
    })?;
    if let (Some(user), Some(usage)) = (&user.0, probe.usage_metadata) {
        state.usage.record_or_log(user, usage).await;
    }
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(answer))
}

/// Gemini's server-sent events, each forwarded as it arrives.
pub(crate) async fn stream_content(
    req: HttpRequest,
    payload: web::Payload,
    user: MaybeAuthUser,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let call = prepare(&req, payload, &user, &state).await?;
    let response = state
        .gemini
        .stream_generate_content(&call.model, &call.key, call.body)
        .await?;
    let events = relay(
        response,
        state.gemini.stream_idle_timeout(),
        current_request_id(),
        UsageOnEnd::new(state.usage.clone(), user.0),
    );
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Asks buffering proxies in front of the gateway (nginx) to pass events through.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}
