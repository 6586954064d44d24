//! Documentation of the bodies `/converse` and `/tokens` accept and answer. The handlers read
//! those bodies as JSON values and check them with `crate::domain` (so every refusal names the
//! field); these types describe the same rules for the OpenAPI document and are never built.
//! Field names are Gemini's (<https://ai.google.dev/api/generate-content>).

#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A `GenerateContentRequest` as the original README sends it, plus `model` and `key`, which
/// stay here. Any other field is refused; `null` optional fields count as absent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ConverseRequest {
    /// The conversation so far, oldest first (1 to 1000 turns).
    #[schema(min_items = 1, max_items = 1000)]
    contents: Vec<GeminiTurn>,
    system_instruction: Option<GeminiSystemInstruction>,
    /// Gemini `Tool` objects (function declarations, code execution, search), forwarded as
    /// they are.
    #[schema(value_type = Option<Vec<Object>>)]
    tools: Option<Vec<Value>>,
    /// Gemini's `ToolConfig`, forwarded as it is.
    #[schema(value_type = Option<Object>)]
    tool_config: Option<Value>,
    /// Gemini's `GenerationConfig` (`temperature`, `maxOutputTokens`, ...), forwarded as it is.
    #[schema(value_type = Option<Object>)]
    generation_config: Option<Value>,
    /// Gemini `SafetySetting` objects, forwarded as they are.
    #[schema(value_type = Option<Vec<Object>>)]
    safety_settings: Option<Vec<Value>>,
    /// A cached content name: `cachedContents/<id>` (lower-case letters, digits, dashes).
    #[schema(pattern = "^cachedContents/[a-z0-9-]{1,128}$")]
    cached_content: Option<String>,
    /// The model to call, `models/<id>` or `<id>` (lower-case letters, digits, dots and
    /// dashes); when `GENERATION_ALLOWED_MODELS` is set, only those. Absent: `GENERATION_MODEL`.
    #[schema(
        max_length = 71,
        pattern = "^(models/)?[a-z0-9]([a-z0-9.-]{0,62}[a-z0-9])?$"
    )]
    model: Option<String>,
    /// A Gemini API key to call with (1 to 256 visible ASCII characters); absent: the server's
    /// `GENERATION_KEY`. It only travels in a header and never appears in answers.
    #[schema(min_length = 1, max_length = 256, pattern = "^[!-~]+$")]
    key: Option<String>,
}

/// A `CountTokensRequest` of the original's `tokenize` utility: `contents`, and optionally
/// `model` and `key`. Any other field is refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CountTokensRequest {
    /// What to count (1 to 1000 turns).
    #[schema(min_items = 1, max_items = 1000)]
    contents: Vec<GeminiTurn>,
    /// The model to call, `models/<id>` or `<id>` (lower-case letters, digits, dots and
    /// dashes); when `GENERATION_ALLOWED_MODELS` is set, only those. Absent: `GENERATION_MODEL`.
    #[schema(
        max_length = 71,
        pattern = "^(models/)?[a-z0-9]([a-z0-9.-]{0,62}[a-z0-9])?$"
    )]
    model: Option<String>,
    /// A Gemini API key to call with (1 to 256 visible ASCII characters); absent: the server's
    /// `GENERATION_KEY`. It only travels in a header and never appears in answers.
    #[schema(min_length = 1, max_length = 256, pattern = "^[!-~]+$")]
    key: Option<String>,
}

/// One turn: a Gemini `Content`, or a plain string standing for one user text part.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum GeminiTurn {
    Text(String),
    Content(GeminiContent),
}

/// `user` (the caller) or `model` (an earlier answer).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum GeminiRole {
    User,
    Model,
}

/// A Gemini `Content`: who spoke and what (no other fields).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeminiContent {
    /// Optional; never `null`.
    #[schema(required = false)]
    role: GeminiRole,
    /// 1 to 1000 parts.
    #[schema(min_items = 1, max_items = 1000)]
    parts: Vec<GeminiPart>,
}

/// `systemInstruction`: a `Content` whose role Gemini ignores.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeminiSystemInstruction {
    /// Any text; never `null`.
    #[schema(required = false)]
    role: String,
    /// 1 to 1000 parts.
    #[schema(min_items = 1, max_items = 1000)]
    parts: Vec<GeminiPart>,
}

/// A Gemini `Part`: exactly one kind of data, plus optional `thought`, `thoughtSignature`,
/// `videoMetadata`, `partMetadata` or `mediaResolution` (forwarded as they are).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum GeminiPart {
    Text {
        text: String,
    },
    InlineData {
        #[serde(rename = "inlineData")]
        inline_data: GeminiBlob,
    },
    FileData {
        #[serde(rename = "fileData")]
        file_data: GeminiFileData,
    },
    FunctionCall {
        #[serde(rename = "functionCall")]
        function_call: GeminiFunction,
    },
    FunctionResponse {
        #[serde(rename = "functionResponse")]
        function_response: GeminiFunction,
    },
    ExecutableCode {
        #[serde(rename = "executableCode")]
        #[schema(value_type = Object)]
        executable_code: Value,
    },
    CodeExecutionResult {
        #[serde(rename = "codeExecutionResult")]
        #[schema(value_type = Object)]
        code_execution_result: Value,
    },
}

/// Inline bytes.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GeminiBlob {
    /// Such as `image/png`.
    mime_type: String,
    /// The bytes, base64.
    #[schema(content_encoding = "base64")]
    data: String,
}

/// A file uploaded with `POST /file`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GeminiFileData {
    /// Optional; never `null`.
    #[schema(required = false)]
    mime_type: String,
    /// Only files of the Gemini Files API:
    /// `https://generativelanguage.googleapis.com/v1beta/files/<id>` or `files/<id>` (an id of
    /// up to 40 lower-case letters, digits and dashes).
    #[schema(
        pattern = "^(https://generativelanguage\\.googleapis\\.com/v1beta/files/|files/)[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
    )]
    file_uri: String,
}

/// A function call or its response: `name`, and Gemini's other fields as they are.
#[derive(Deserialize, ToSchema)]
pub(crate) struct GeminiFunction {
    name: String,
}

/// Gemini's `GenerateContentResponse`, passed on unchanged (only the main fields are described
/// here; Gemini may add others).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateContentResponse {
    /// The generated candidates (`content`, `finishReason`, ...).
    #[schema(required = false, value_type = Vec<Object>)]
    candidates: Vec<Value>,
    /// Why the prompt was blocked, if it was.
    #[schema(required = false, value_type = Object)]
    prompt_feedback: Value,
    /// Token counts (`promptTokenCount`, `candidatesTokenCount`, `totalTokenCount`); for a
    /// signed-in caller they count against the daily quota.
    #[schema(required = false, value_type = Object)]
    usage_metadata: Value,
    #[schema(required = false)]
    model_version: String,
    #[schema(required = false)]
    response_id: String,
}
