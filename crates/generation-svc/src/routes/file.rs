//! `POST /file`: a multipart `file` (and optional `key`) uploaded to the Gemini Files API,
//! answered as the original did: `{"fileData": {...Gemini's File..., "fileUri"}}`.
//!
//! The file is never held whole in memory. It is spooled to an unnamed temporary file while it
//! arrives (the original README sends `key` after `file`, and the key must be known before
//! Gemini is asked for an upload), typed from its first bytes as soon as they are in (415 for
//! unsupported types, before the rest is read), counted against `GENERATION_FILE_MAX_BYTES`
//! (413), then sent to Gemini in `GENERATION_UPLOAD_CHUNK_BYTES` pieces. On the server's key
//! the file's name is chosen and recorded as the caller's before the upload starts (`files`).

use actix_multipart::{Field, Multipart};
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use bytes::BytesMut;
use coglex_common::web::{Caller, ErrorBody, MaybeAuthUser};
use coglex_common::{ApiError, ErrorCode};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use utoipa::ToSchema;

use crate::domain::{detect_file_type, DisplayName, FileUri, GeminiKey, SNIFF_BYTES};
use crate::files::Owner;
use crate::gemini::UploadSession;
use crate::state::State;

/// Room for multipart boundaries and part headers above the file size limit, in bytes.
const MULTIPART_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Longest `key` field, in bytes.
const MAX_KEY_FIELD_BYTES: usize = 1024;

/// A received file, on disk.
struct Spooled {
    file: tokio::fs::File,
    /// Never 0: an empty file is refused.
    size: u64,
    mime_type: &'static str,
    file_name: Option<String>,
}

/// The multipart form of `POST /file` (documents the fields the handler reads as they arrive).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct UploadForm {
    /// The file, up to `GENERATION_FILE_MAX_BYTES`. Its type is read from its first bytes
    /// (images, audio, video, PDF and text types Gemini accepts); its file name, if any,
    /// becomes the display name.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// A Gemini API key to upload with (1 to 256 visible ASCII characters); absent: the
    /// server's `GENERATION_KEY`.
    #[schema(
        required = false,
        min_length = 1,
        max_length = 256,
        pattern = "^\\s*[!-~]+\\s*$"
    )]
    key: String,
}

/// The uploaded file, as the original API answered it: ready to use as a `fileData` part.
#[derive(Serialize, ToSchema)]
pub(crate) struct FileUploaded {
    #[serde(rename = "fileData")]
    #[schema(value_type = UploadedFile)]
    file_data: Value,
}

/// Gemini's `File`, with its `uri` repeated as `fileUri` (only the main fields are described
/// here; Gemini may add others).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct UploadedFile {
    /// `files/<id>`.
    #[schema(required = false)]
    name: String,
    #[schema(required = false, rename = "displayName")]
    display_name: String,
    /// The type the file was uploaded as.
    #[schema(required = false, rename = "mimeType")]
    mime_type: String,
    /// The size in bytes, as a decimal string.
    #[schema(required = false, rename = "sizeBytes")]
    size_bytes: String,
    /// Where Gemini serves the file.
    #[schema(required = false)]
    uri: String,
    /// The same as `uri`, for a `fileData` part.
    #[schema(required = false, rename = "fileUri")]
    file_uri: String,
    /// `ACTIVE`, or `PROCESSING` (videos) until Gemini can use it.
    #[schema(required = false)]
    state: String,
    /// RFC 3339; Gemini deletes the file then (48 hours).
    #[schema(required = false, rename = "expirationTime")]
    expiration_time: String,
}

/// Upload a file
///
/// Uploads a file to the Gemini Files API (for a `fileData` part of `POST /converse`) and
/// answers Gemini's `File` as `{"fileData": {..., "fileUri"}}`. The file is never held whole
/// in memory: it is spooled to disk as it arrives, typed from its first bytes (a refused type
/// is answered before the rest is read), checked against `GENERATION_FILE_MAX_BYTES`, then
/// sent to Gemini in pieces. On the server's key the file is recorded as the caller's (the
/// signed-in user's, or that of all callers without a session): only they may name it in
/// `POST /converse` and `POST /tokens`.
#[utoipa::path(
    post,
    path = "/file",
    security(("bearer" = []), ()),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "`file`, and optionally `key`, in either order"),
    responses(
        (status = 200, description = "The uploaded file", body = FileUploaded),
        (status = 400, description = "`file` missing, empty or sent twice, an unknown form field, a malformed or cut-short multipart body, a `key` that is not valid or no Gemini key at all, or Gemini refused the upload", body = ErrorBody),
        (status = 401, description = "A Bearer token that is not valid or whose session ended (`invalid_token`), or `X-API-Key` missing or not valid (`invalid_api_key`)", body = ErrorBody),
        (status = 403, description = "Gemini refused the API key", body = ErrorBody),
        (status = 404, description = "Gemini lost the upload session", body = ErrorBody),
        (status = 413, description = "The file is larger than `GENERATION_FILE_MAX_BYTES`, or than the caller's whole file quota", body = ErrorBody),
        (status = 415, description = "The body is not `multipart/form-data`, or the file's type is not one Gemini accepts", body = ErrorBody),
        (status = 429, description = "The caller's live files and this one pass their file quota (`GENERATION_FILE_QUOTA_BYTES`, or `GENERATION_ANONYMOUS_FILE_QUOTA_BYTES` without a session), or Gemini is rate limiting: retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "Gemini failed or could not be reached", body = ErrorBody),
        (status = 504, description = "Gemini did not answer in `GENERATION_TIMEOUT_MS`", body = ErrorBody),
    ),
)]
pub(crate) async fn upload_file(
    req: HttpRequest,
    payload: web::Payload,
    user: MaybeAuthUser,
    caller: Caller,
    state: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    if req.content_type() != "multipart/form-data" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be multipart/form-data with a `file` field",
        ));
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.file_max_bytes + MULTIPART_OVERHEAD_BYTES) {
        return Err(too_large(state.file_max_bytes));
    }

    let mut form = Multipart::new(req.headers(), payload);
    let mut key = None;
    let mut spooled = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(malformed)?;
        let name = field.name().map(str::to_owned);
        match name.as_deref() {
            Some("key") if key.is_none() => key = Some(read_key(&mut field).await?),
            Some("file") if spooled.is_none() => {
                spooled = Some(spool(&mut field, state.file_max_bytes).await?);
            }
            Some(name @ ("key" | "file")) => {
                return Err(ApiError::bad_request(format!("`{name}` was sent twice")))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "unknown form field; send `file` and optionally `key`",
                ))
            }
        }
    }
    let mut spooled = spooled.ok_or_else(|| ApiError::bad_request("`file` is required"))?;
    let owner = Owner::of(user, caller, key.is_some());
    let key = state.key(key)?;
    let display_name = spooled
        .file_name
        .as_deref()
        .and_then(DisplayName::from_file_name);

    let file = match owner {
        None => {
            let session = start(&state, &key, display_name.as_ref(), None, &spooled).await?;
            send_chunks(&state, session, &mut spooled).await?
        }
        Some(owner) => upload_owned(&state, &key, display_name.as_ref(), &owner, spooled).await?,
    };
    Ok(HttpResponse::Ok().json(file_data(file)))
}

/// The upload on the server's key: its name recorded as `owner`'s first, the record
/// withdrawn if the upload fails.
async fn upload_owned(
    state: &web::Data<State>,
    key: &GeminiKey,
    display_name: Option<&DisplayName>,
    owner: &Owner,
    mut spooled: Spooled,
) -> Result<Value, ApiError> {
    let name = state.files.reserve(owner, spooled.size).await?;
    let session = match start(state, key, display_name, Some(&name), &spooled).await {
        Ok(session) => session,
        Err(error) => {
            state.files.release(&name).await;
            return Err(error);
        }
    };
    let sent = send_chunks(state, session, &mut spooled).await;
    let stored_as = |file: &Value| file.get("name").and_then(Value::as_str).map(str::to_owned);
    let orphan = match &sent {
        Ok(file) if stored_as(file).as_deref() == Some(name.as_str()) => return sent,
        // Stored under a name Gemini chose instead.
        Ok(file) => stored_as(file).and_then(|n| FileUri::parse(&n).ok().map(|uri| uri.name())),
        // Perhaps stored all the same: a last chunk taken but answered too late.
        Err(_) => Some(name.clone()),
    };
    state.files.release(&name).await;
    // Without a record nobody could use the file, which would only take the project's space
    // for 48 hours. Removed in the background (the answer does not depend on it), once Gemini
    // has had as long again as the call had to finish storing a late last chunk.
    if let Some(orphan) = orphan {
        let (state, key) = (state.clone(), key.clone());
        tokio::spawn(async move {
            tokio::time::sleep(state.gemini.timeout()).await;
            if let Err(error) = state.gemini.delete_file(&key, &orphan).await {
                tracing::info!(file = %orphan, %error, "could not delete a failed upload");
            }
        });
    }
    sent?;
    Err(
        ApiError::new(ErrorCode::BadGateway, "").with_source(anyhow::anyhow!(
            "Gemini did not keep the requested file name"
        )),
    )
}

/// Starts the resumable upload of a file to be called `name`, if given.
async fn start(
    state: &State,
    key: &GeminiKey,
    display_name: Option<&DisplayName>,
    name: Option<&str>,
    spooled: &Spooled,
) -> Result<UploadSession, ApiError> {
    Ok(state
        .gemini
        .start_upload(key, spooled.mime_type, spooled.size, display_name, name)
        .await?)
}

/// Sends the spooled bytes chunk by chunk; the last answers Gemini's File.
async fn send_chunks(
    state: &State,
    session: UploadSession,
    spooled: &mut Spooled,
) -> Result<Value, ApiError> {
    spooled.file.rewind().await.map_err(|e| {
        ApiError::internal(anyhow::Error::new(e).context("rewinding the spooled upload"))
    })?;
    let mut offset = 0u64;
    loop {
        let remaining = spooled.size - offset;
        let length = remaining.min(state.upload_chunk_bytes as u64) as usize;
        let mut chunk = BytesMut::zeroed(length);
        spooled.file.read_exact(&mut chunk).await.map_err(|e| {
            ApiError::internal(anyhow::Error::new(e).context("reading the spooled upload"))
        })?;
        let finalize = offset + length as u64 == spooled.size;
        let answer = state
            .gemini
            .upload_chunk(&session, offset, chunk.freeze(), finalize)
            .await?;
        offset += length as u64;
        if let Some(file) = answer {
            return Ok(file);
        }
    }
}

/// The original's answer: Gemini's File with its `uri` repeated as `fileUri`, ready for a
/// `fileData` part.
fn file_data(mut file: Value) -> FileUploaded {
    if let Some(uri) = file.get("uri").cloned() {
        file["fileUri"] = uri;
    }
    FileUploaded { file_data: file }
}

async fn read_key(field: &mut Field) -> Result<GeminiKey, ApiError> {
    let mut raw = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(malformed)?;
        if raw.len() + chunk.len() > MAX_KEY_FIELD_BYTES {
            return Err(ApiError::bad_request("`key` is too long"));
        }
        raw.extend_from_slice(&chunk);
    }
    let raw = std::str::from_utf8(&raw).map_err(|_| ApiError::bad_request("`key` must be text"))?;
    Ok(GeminiKey::parse(raw.trim())?)
}

async fn spool(field: &mut Field, max_bytes: u64) -> Result<Spooled, ApiError> {
    let file_name = field
        .content_disposition()
        .and_then(|d| d.get_filename())
        .map(str::to_owned);
    let temp = tempfile::tempfile()
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("creating a spool file")))?;
    let mut file = tokio::fs::File::from_std(temp);
    let mut size = 0u64;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut mime_type = None;
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(malformed)?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(too_large(max_bytes));
        }
        if mime_type.is_none() {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            // A file of a refused type is refused now, not after all of it has been spooled.
            if head.len() == SNIFF_BYTES {
                mime_type = Some(file_type(&head, file_name.as_deref())?);
            }
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("spooling an upload")))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("spooling an upload")))?;
    if size == 0 {
        return Err(ApiError::bad_request("the file is empty"));
    }
    let mime_type = match mime_type {
        Some(known) => known,
        None => file_type(&head, file_name.as_deref())?,
    };
    Ok(Spooled {
        file,
        size,
        mime_type,
        file_name,
    })
}

fn file_type(head: &[u8], file_name: Option<&str>) -> Result<&'static str, ApiError> {
    detect_file_type(head, file_name)
        .map_err(|e| ApiError::new(ErrorCode::UnsupportedMediaType, e.0))
}

fn too_large(max_bytes: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the file is larger than {max_bytes} bytes"),
    )
}

fn malformed(err: actix_multipart::MultipartError) -> ApiError {
    ApiError::bad_request("the multipart body is malformed or was cut short")
        .with_source(anyhow::anyhow!("{err}"))
}
