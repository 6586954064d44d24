//! The Files API resumable upload (`media.upload`, <https://ai.google.dev/api/files>), the way
//! Google's SDKs do it: `start` declares the size and type and gets an upload URL back in
//! `X-Goog-Upload-URL`; the bytes then go in chunks, each with its `X-Goog-Upload-Offset`, the
//! last with `upload, finalize`, which answers `{"file": {...}}`.
//!
//! The upload URL is itself a credential: it is never logged nor returned, and it must be on
//! the same origin as `GENERATION_API_BASE` or no byte is sent to it. The API key is only sent
//! with `start`, as in Gemini's documented `curl` example.

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{check_status, key_header, GeminiClient, GeminiError, API_KEY_HEADER};
use crate::domain::{DisplayName, GeminiKey};

/// An upload Gemini has agreed to receive.
pub struct UploadSession {
    url: String,
}

impl std::fmt::Debug for UploadSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadSession([redacted url])")
    }
}

impl GeminiClient {
    /// `start`: declares `size` bytes of `mime_type`, for a file called `name` (`files/<id>`)
    /// if given, else one Gemini names.
    pub async fn start_upload(
        &self,
        key: &GeminiKey,
        mime_type: &str,
        size: u64,
        display_name: Option<&DisplayName>,
        name: Option<&str>,
    ) -> Result<UploadSession, GeminiError> {
        let url = format!("{}/upload/v1beta/files", self.base);
        let mut file = serde_json::Map::new();
        if let Some(display_name) = display_name {
            file.insert("displayName".into(), json!(display_name.as_str()));
        }
        if let Some(name) = name {
            file.insert("name".into(), json!(name));
        }
        let metadata = json!({ "file": file });
        let body = Bytes::from(metadata.to_string());
        let key_value = key_header(key)?;
        let response = self
            .within_timeout(async {
                let response = self
                    .send(|| {
                        self.http
                            .post(&url)
                            .header(API_KEY_HEADER, key_value.clone())
                            .header("X-Goog-Upload-Protocol", "resumable")
                            .header("X-Goog-Upload-Command", "start")
                            .header("X-Goog-Upload-Header-Content-Length", size)
                            .header("X-Goog-Upload-Header-Content-Type", mime_type)
                            .header(CONTENT_TYPE, "application/json")
                            .body(body.clone())
                    })
                    .await?;
                check_status(response, Some(key)).await
            })
            .await?;
        let upload_url = response
            .headers()
            .get("x-goog-upload-url")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                GeminiError::BadResponse("no X-Goog-Upload-URL in the start answer".into())
            })?;
        let same_origin = url::Url::parse(upload_url).is_ok_and(|u| u.origin() == self.origin);
        if !same_origin {
            return Err(GeminiError::BadResponse(
                "the upload URL is not on GENERATION_API_BASE's origin".into(),
            ));
        }
        Ok(UploadSession {
            url: upload_url.to_owned(),
        })
    }

    /// `files.delete` of `name` (`files/<id>`, as [`crate::domain::FileUri::name`] gives it).
    pub async fn delete_file(&self, key: &GeminiKey, name: &str) -> Result<(), GeminiError> {
        let url = format!("{}/v1beta/{name}", self.base);
        let key_value = key_header(key)?;
        self.within_timeout(async {
            let response = self
                .send(|| {
                    self.http
                        .delete(&url)
                        .header(API_KEY_HEADER, key_value.clone())
                })
                .await?;
            check_status(response, Some(key)).await.map(drop)
        })
        .await
    }

    /// Sends `chunk` at `offset`; with `finalize`, returns Gemini's File resource.
    pub async fn upload_chunk(
        &self,
        session: &UploadSession,
        offset: u64,
        chunk: Bytes,
        finalize: bool,
    ) -> Result<Option<Value>, GeminiError> {
        #[derive(Deserialize)]
        struct Finalized {
            file: Value,
        }
        let command = if finalize {
            "upload, finalize"
        } else {
            "upload"
        };
        let bytes = self
            .within_timeout(async {
                let response = self
                    .send(|| {
                        self.http
                            .post(&session.url)
                            .header("X-Goog-Upload-Command", command)
                            .header("X-Goog-Upload-Offset", offset)
                            .body(chunk.clone())
                    })
                    .await?;
                let response = check_status(response, None).await?;
                super::read_whole(response, super::MAX_ANSWER_BYTES).await
            })
            .await?;
        if !finalize {
            return Ok(None);
        }
        let finalized: Finalized = serde_json::from_slice(&bytes)
            .map_err(|_| GeminiError::BadResponse("the finalized upload has no `file`".into()))?;
        if !finalized.file.is_object() {
            return Err(GeminiError::BadResponse(
                "the uploaded `file` is not an object".into(),
            ));
        }
        Ok(Some(finalized.file))
    }
}
