//! generation-svc's own settings (`GENERATION_*`), read once at start-up and checked in
//! [`Settings::validate`] so a bad value stops the service with one line naming it.

use coglex_common::config::{comma_list, ConfigError};
use coglex_common::mongo::check_private_collection;
use coglex_common::secret::Secret;
use serde::Deserialize;

use crate::domain::{is_cached_content_name, ModelName};

/// Gemini's upload chunks (all but the last) must be a multiple of this, in bytes
/// (`X-Goog-Upload-Chunk-Granularity` of the Files API).
pub const UPLOAD_GRANULARITY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Gemini REST API root, without `/v1beta` (`GENERATION_API_BASE`); tests point it at a
    /// local fake.
    #[serde(default = "default_api_base")]
    pub generation_api_base: String,
    /// Model used when a request names none (`GENERATION_MODEL`), e.g. `models/gemini-2.5-flash`.
    #[serde(default = "default_model")]
    pub generation_model: String,
    /// Gemini API key used when a request sends no `key` (`GENERATION_KEY`); empty means every
    /// request must bring its own.
    #[serde(default)]
    pub generation_key: Secret,
    /// Models a request may name, comma-separated (`GENERATION_ALLOWED_MODELS`); a trailing `*`
    /// matches a prefix (`models/gemini-*`). Empty allows any well-formed name.
    #[serde(default, deserialize_with = "comma_list")]
    pub generation_allowed_models: Vec<String>,
    /// Milliseconds to open a connection to Gemini (`GENERATION_CONNECT_TIMEOUT_MS`).
    #[serde(default = "default_connect_timeout_ms")]
    pub generation_connect_timeout_ms: u64,
    /// Milliseconds Gemini has to answer a whole call, or to start a stream
    /// (`GENERATION_TIMEOUT_MS`); then 504.
    #[serde(default = "default_timeout_ms")]
    pub generation_timeout_ms: u64,
    /// Longest silence, in milliseconds, between two streamed events before the stream is
    /// ended with an error event (`GENERATION_STREAM_IDLE_TIMEOUT_MS`).
    #[serde(default = "default_stream_idle_timeout_ms")]
    pub generation_stream_idle_timeout_ms: u64,
    /// How many times a call that could not connect is tried again (`GENERATION_CONNECT_RETRIES`).
    #[serde(default = "default_connect_retries")]
    pub generation_connect_retries: u32,
    /// Milliseconds before the first retry, doubled for each next one (`GENERATION_RETRY_BACKOFF_MS`).
    #[serde(default = "default_retry_backoff_ms")]
    pub generation_retry_backoff_ms: u64,
    /// Largest JSON body of `/converse` and `/tokens`, in bytes (`GENERATION_MAX_REQUEST_BYTES`);
    /// inline data counts.
    #[serde(default = "default_max_request_bytes")]
    pub generation_max_request_bytes: usize,
    /// Largest file `/file` accepts, in bytes (`GENERATION_FILE_MAX_BYTES`); then 413.
    #[serde(default = "default_file_max_bytes")]
    pub generation_file_max_bytes: u64,
    /// Bytes sent to Gemini per upload request (`GENERATION_UPLOAD_CHUNK_BYTES`); a multiple of
    /// 256 KiB. Also the most of a file held in memory at once.
    #[serde(default = "default_upload_chunk_bytes")]
    pub generation_upload_chunk_bytes: usize,
    /// Collection of daily token usage per spender (`GENERATION_USAGE_COLLECTION`).
    #[serde(default = "default_usage_collection")]
    pub generation_usage_collection: String,
    /// Collection recording who uploaded each file on `GENERATION_KEY`
    /// (`GENERATION_FILES_COLLECTION`).
    #[serde(default = "default_files_collection")]
    pub generation_files_collection: String,
    /// Bytes of live files (uploaded on `GENERATION_KEY` in the last 48 hours) a signed-in
    /// user may hold (`GENERATION_FILE_QUOTA_BYTES`); 0 means no quota.
    #[serde(default)]
    pub generation_file_quota_bytes: u64,
    /// The same for all callers without a session together
    /// (`GENERATION_ANONYMOUS_FILE_QUOTA_BYTES`); 0 means no quota.
    #[serde(default)]
    pub generation_anonymous_file_quota_bytes: u64,
    /// Cached contents (`cachedContents/<id>`, comma-separated) any caller may name on
    /// `GENERATION_KEY` (`GENERATION_SHARED_CACHED_CONTENTS`). Caches hold their creator's
    /// prompt, and this service creates none, so by default only callers with their own key
    /// or an admin key may name one.
    #[serde(default, deserialize_with = "comma_list")]
    pub generation_shared_cached_contents: Vec<String>,
    /// Tokens (Gemini's `totalTokenCount`) a signed-in user may use per UTC day
    /// (`GENERATION_DAILY_TOKEN_QUOTA`); 0 means no quota.
    #[serde(default)]
    pub generation_daily_token_quota: u64,
    /// Tokens all calls without a session that use `GENERATION_KEY` may use together per UTC
    /// day (`GENERATION_ANONYMOUS_DAILY_TOKEN_QUOTA`); 0 means no quota.
    #[serde(default)]
    pub generation_anonymous_daily_token_quota: u64,
    /// Output tokens a metered call without `generationConfig.maxOutputTokens` holds against
    /// its quota while it runs (`GENERATION_HELD_OUTPUT_TOKENS`).
    #[serde(default = "default_held_output_tokens")]
    pub generation_held_output_tokens: u64,
}

fn default_api_base() -> String {
    "https://generativelanguage.googleapis.com".into()
}

fn default_model() -> String {
    "models/gemini-2.5-flash".into()
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}

fn default_timeout_ms() -> u64 {
    120_000
}

fn default_stream_idle_timeout_ms() -> u64 {
    60_000
}

fn default_connect_retries() -> u32 {
    2
}

fn default_retry_backoff_ms() -> u64 {
    200
}

fn default_max_request_bytes() -> usize {
    20 * 1024 * 1024
}

fn default_file_max_bytes() -> u64 {
    32 * 1024 * 1024
}

fn default_upload_chunk_bytes() -> usize {
    8 * 1024 * 1024
}

fn default_held_output_tokens() -> u64 {
    8_192
}

fn default_usage_collection() -> String {
    "_USAGE".into()
}

fn default_files_collection() -> String {
    "_GEMINI_FILES".into()
}

impl Settings {
    /// Checks every value; the error names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let base = url::Url::parse(&self.generation_api_base).map_err(|_| {
            ConfigError("GENERATION_API_BASE must be an absolute http(s) URL".into())
        })?;
        if !matches!(base.scheme(), "http" | "https")
            || base.host_str().is_none()
            || base.query().is_some()
            || base.fragment().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(ConfigError(
                "GENERATION_API_BASE must be an http(s) URL without credentials, query or fragment"
                    .into(),
            ));
        }
        ModelName::parse(&self.generation_model)
            .map_err(|e| ConfigError(format!("GENERATION_MODEL is not a model name: {e}")))?;
        for pattern in &self.generation_allowed_models {
            ModelName::parse(pattern.trim_end_matches('*').trim_end_matches('-')).map_err(|e| {
                ConfigError(format!("GENERATION_ALLOWED_MODELS has `{pattern}`: {e}"))
            })?;
        }
        for (name, value) in [
            (
                "GENERATION_CONNECT_TIMEOUT_MS",
                self.generation_connect_timeout_ms,
            ),
            ("GENERATION_TIMEOUT_MS", self.generation_timeout_ms),
            (
                "GENERATION_STREAM_IDLE_TIMEOUT_MS",
                self.generation_stream_idle_timeout_ms,
            ),
            ("GENERATION_FILE_MAX_BYTES", self.generation_file_max_bytes),
            (
                "GENERATION_MAX_REQUEST_BYTES",
                self.generation_max_request_bytes as u64,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{name} must be greater than 0")));
            }
        }
        let chunk = self.generation_upload_chunk_bytes;
        if chunk == 0 || !chunk.is_multiple_of(UPLOAD_GRANULARITY_BYTES) {
            return Err(ConfigError(format!(
                "GENERATION_UPLOAD_CHUNK_BYTES must be a positive multiple of {UPLOAD_GRANULARITY_BYTES} bytes"
            )));
        }
        if let Some(bad) = self
            .generation_shared_cached_contents
            .iter()
            .find(|name| !is_cached_content_name(name))
        {
            return Err(ConfigError(format!(
                "GENERATION_SHARED_CACHED_CONTENTS has `{bad}`, not a name such as cachedContents/<id>"
            )));
        }
        check_private_collection(
            "GENERATION_FILES_COLLECTION",
            &self.generation_files_collection,
        )?;
        check_private_collection(
            "GENERATION_USAGE_COLLECTION",
            &self.generation_usage_collection,
        )
    }
}

#[cfg(test)]
mod tests {
    use coglex_common::config::ConfigSource;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let settings: Settings = ConfigSource::from_pairs(pairs.iter().copied()).get()?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn defaults_are_the_originals_and_valid() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.generation_model, "models/gemini-2.5-flash");
        assert_eq!(
            settings.generation_api_base,
            "https://generativelanguage.googleapis.com"
        );
        assert!(settings.generation_key.is_empty());
    }

    #[test]
    fn a_chunk_size_off_the_granularity_is_refused() {
        let err = settings(&[("GENERATION_UPLOAD_CHUNK_BYTES", "1000")]).unwrap_err();
        assert!(
            err.to_string().contains("GENERATION_UPLOAD_CHUNK_BYTES"),
            "{err}"
        );
    }

    #[test]
    fn a_shared_cache_must_be_a_cache_name() {
        let err = settings(&[(
            "GENERATION_SHARED_CACHED_CONTENTS",
            "cachedContents/a,files/b",
        )])
        .unwrap_err();
        assert!(err.to_string().contains("`files/b`"), "{err}");
        let ok = settings(&[("GENERATION_SHARED_CACHED_CONTENTS", "cachedContents/a-1")]).unwrap();
        assert_eq!(ok.generation_shared_cached_contents, ["cachedContents/a-1"]);
    }

    #[test]
    fn a_base_url_with_a_query_is_refused() {
        let err = settings(&[("GENERATION_API_BASE", "https://example.com/?key=x")]).unwrap_err();
        assert!(err.to_string().contains("GENERATION_API_BASE"), "{err}");
    }

    #[test]
    fn a_bad_default_model_is_refused() {
        let err = settings(&[("GENERATION_MODEL", "../files")]).unwrap_err();
        assert!(err.to_string().contains("GENERATION_MODEL"), "{err}");
    }

    #[test]
    fn allowed_models_are_a_comma_list() {
        let settings = settings(&[(
            "GENERATION_ALLOWED_MODELS",
            "models/gemini-2.5-flash, gemini-*",
        )])
        .unwrap();
        assert_eq!(
            settings.generation_allowed_models,
            ["models/gemini-2.5-flash", "gemini-*"]
        );
    }
}
