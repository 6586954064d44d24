//! Request input parsed once into types that can only hold valid values. The rules come from
//! Gemini's REST reference (<https://ai.google.dev/api>): model and file resource names,
//! `Content`/`Part` shapes, and the file types of the original README.

mod api_key;
mod contents;
mod file_type;
mod file_uri;
mod model_name;
mod request;

pub use api_key::GeminiKey;
pub use contents::Contents;
pub use file_type::{detect_file_type, DisplayName, SNIFF_BYTES};
pub use file_uri::{referenced_files, FileUri};
pub use model_name::{ModelAllowList, ModelName};
pub use request::{is_cached_content_name, CountTokensRequest, GenerateRequest};

use coglex_common::ApiError;

/// Why a piece of input was refused; becomes a 400 naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The same problem, located under `field` (`contents[0].parts[1]`).
    pub fn at(self, field: &str) -> Self {
        Self(format!("{field}: {}", self.0))
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::bad_request(invalid.0)
    }
}
