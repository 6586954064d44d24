//! What the handlers share: the Gemini client, the usage ledger, the file owners, and the
//! defaults and limits from [`Settings`], with the rules for which model and key a call uses
//! and what it may name.

use std::collections::BTreeSet;

use coglex_common::web::Core;
use coglex_common::{ApiError, ErrorCode};

use crate::domain::{referenced_files, GeminiKey, ModelAllowList, ModelName};
use crate::files::{FileOwners, Owner};
use crate::gemini::GeminiClient;
use crate::settings::Settings;
use crate::usage::UsageLedger;

pub struct State {
    pub gemini: GeminiClient,
    pub usage: UsageLedger,
    pub files: FileOwners,
    /// Cached contents anyone may name on the server's key.
    shared_caches: BTreeSet<String>,
    default_model: ModelName,
    default_key: Option<GeminiKey>,
    allowed_models: ModelAllowList,
    /// Largest JSON body, in bytes.
    pub max_request_bytes: usize,
    /// Largest uploaded file, in bytes.
    pub file_max_bytes: u64,
    /// Bytes per upload request to Gemini.
    pub upload_chunk_bytes: usize,
    /// Output tokens a metered call holds when it sets no limit of its own.
    pub held_output_tokens: u64,
}

/// Tools that reach nothing stored in the server's Gemini project. Others (`fileSearch` over
/// a project's stores, say) would read what other parties put there, like an unshared cache,
/// so on the server's key only these may be declared.
const SERVER_KEY_TOOLS: &[&str] = &[
    "functionDeclarations",
    "codeExecution",
    "googleSearch",
    "googleSearchRetrieval",
    "googleMaps",
    "urlContext",
    "computerUse",
];

/// The first tool of `body` that is not one of [`SERVER_KEY_TOOLS`].
fn project_tool(body: &serde_json::Value) -> Option<&str> {
    let tools = body.get("tools")?.as_array()?;
    tools
        .iter()
        .filter_map(|tool| tool.as_object())
        .flat_map(|tool| tool.keys())
        .map(String::as_str)
        .find(|kind| !SERVER_KEY_TOOLS.contains(kind))
}

impl State {
    /// From validated settings.
    pub fn new(settings: &Settings, core: &Core) -> anyhow::Result<Self> {
        let db = &core.db;
        let default_key = if settings.generation_key.is_empty() {
            None
        } else {
            Some(
                GeminiKey::parse(settings.generation_key.expose())
                    .map_err(|_| {
                        coglex_common::config::ConfigError(
                            "GENERATION_KEY must be visible ASCII characters without spaces".into(),
                        )
                    })?
                    .into_servers(),
            )
        };
        Ok(Self {
            gemini: GeminiClient::new(settings)?,
            usage: UsageLedger::new(
                db.collection(&settings.generation_usage_collection),
                settings.generation_daily_token_quota,
                settings.generation_anonymous_daily_token_quota,
                core.background.clone(),
            ),
            files: FileOwners::new(
                db.collection(&settings.generation_files_collection),
                settings.generation_file_quota_bytes,
                settings.generation_anonymous_file_quota_bytes,
            ),
            shared_caches: settings
                .generation_shared_cached_contents
                .iter()
                .cloned()
                .collect(),
            default_model: ModelName::parse(&settings.generation_model).map_err(|e| {
                coglex_common::config::ConfigError(format!("GENERATION_MODEL: {e}"))
            })?,
            default_key,
            allowed_models: ModelAllowList::new(&settings.generation_allowed_models),
            max_request_bytes: settings.generation_max_request_bytes,
            file_max_bytes: settings.generation_file_max_bytes,
            upload_chunk_bytes: settings.generation_upload_chunk_bytes,
            held_output_tokens: settings.generation_held_output_tokens,
        })
    }

    /// The requested model if the allow-list has it, else `GENERATION_MODEL`.
    pub fn model(&self, requested: Option<ModelName>) -> Result<ModelName, ApiError> {
        match requested {
            None => Ok(self.default_model.clone()),
            Some(model) if self.allowed_models.allows(&model) => Ok(model),
            Some(model) => Err(ApiError::bad_request(format!(
                "model `{model}` is not allowed here"
            ))),
        }
    }

    /// Refuses a call on the server's key that names what `owner` may not use: a file another
    /// party uploaded, a cached content that is not shared, or a tool that reads the project's
    /// stores. `None` (own key, or an admin key without a session) may name anything.
    pub async fn check_references(
        &self,
        owner: Option<&Owner>,
        body: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let Some(owner) = owner else {
            return Ok(());
        };
        if let Some(cache) = body.get("cachedContent").and_then(|v| v.as_str()) {
            if !self.shared_caches.contains(cache) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "this cachedContent is not shared on the server's Gemini key; send your own `key`",
                ));
            }
        }
        if let Some(tool) = project_tool(body) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "the `{tool}` tool is not available on the server's Gemini key; send your own `key`"
                ),
            ));
        }
        self.files.check(owner, &referenced_files(body)?).await
    }

    /// The request's own key, else `GENERATION_KEY`.
    pub fn key(&self, requested: Option<GeminiKey>) -> Result<GeminiKey, ApiError> {
        requested
            .or_else(|| self.default_key.clone())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "a Gemini API key is required: send `key` (this server has none configured)",
                )
            })
    }
}
