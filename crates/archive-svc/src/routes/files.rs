//! Files: list (`GET /?query=`), upload (`POST /`), download (`GET /{file_reference}`) and
//! delete (`DELETE /{file_reference}`), as the original README's Archive Service. A user
//! reaches only their own files (another user's id is 404); admin API keys reach all.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, oid::ObjectId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use coglex_common::web::{json_array, AuthUser, Caller, ErrorBody};
use coglex_common::{ApiError, ErrorCode};

use crate::disposition::attachment;
use crate::form::Form;
use crate::quota;
use crate::range::{self, Requested};
use crate::record::{self, FileRecord, FileView};
use crate::upload;
use crate::ArchiveState;

/// Default and largest number of records one list answer carries.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
/// `maxTimeMS` of a list: a filter that makes the database work too long ends with 503.
const LIST_MAX_TIME: Duration = Duration::from_secs(5);
/// Room allowed for multipart framing and the `metadata` field when checking a declared
/// `Content-Length` against `MAX_CONTENT_LENGTH` before reading anything.
const FORM_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Downloads never run or render in the browser's origin, whatever the type: detection cannot
/// see every markup (text that starts as plain prose may hold a script further on).
const SANDBOX: &str = "default-src 'none'; sandbox";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Filter, as JSON text, checked by the same rules as the storage service's finds: on
    /// `filename`, `mimetype`, `declared_mimetype`, `size`, `uploaded_at`, `sha256` or
    /// `metadata.<field>`, e.g. `{"mimetype":"image/png","size":{"$lt":1048576}}`. Empty or
    /// absent: every file the caller may see.
    #[param(example = json!(r#"{"mimetype":"image/png"}"#))]
    query: Option<String>,
    /// Most files to return, from 1 to 1000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Files to skip first (in newest-first order).
    #[param(maximum = 9_223_372_036_854_775_807_i64)]
    skip: Option<u64>,
}

/// `/{file_reference}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FileReferencePath {
    /// The file's `_id` as upload and list return it (24 hex digits); anything else names no
    /// file (404).
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    file_reference: String,
}

// Documents the form `upload::receive` reads by hand, field by field.
/// The upload form (`multipart/form-data`, RFC 7578): a `file` and optional `metadata`, each
/// at most once; no other field is accepted.
#[derive(ToSchema)]
#[allow(dead_code)] // Only describes the hand-read form.
pub struct UploadForm {
    /// The file, with its name in the part's `filename` (or `filename*`); at most
    /// `MAX_CONTENT_LENGTH` bytes (16 MiB by default) and within the user's quota. Its type is
    /// detected from its first bytes (the part's `Content-Type` only tells JSON from other
    /// text) and must be on `ARCHIVE_ALLOWED_TYPES` (by default JPEG, PNG, GIF, WebP, PDF,
    /// plain text, JSON, MP3, WAV, MP4 and WebM).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// Metadata kept with the file: a JSON object whose keys never start with `$`, at most
    /// `MAX_JSON_BYTES`.
    #[schema(value_type = Object, required = false)]
    metadata: Option<String>,
}

/// The bytes of a file, or of the requested range, as uploaded; served with the detected type.
#[derive(Debug)]
pub struct FileContent;

impl utoipa::PartialSchema for FileContent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType};
        // No `type`: the content is whatever was uploaded (a JSON file is served as JSON).
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("The file's bytes, as uploaded"))
            .into()
    }
}

impl ToSchema for FileContent {
    fn name() -> std::borrow::Cow<'static, str> {
        "FileContent".into()
    }
}

/// A deleted file.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedFile {
    /// Always true.
    deleted: bool,
    /// The deleted file's reference.
    file_id: String,
    message: String,
}

/// List files
///
/// Lists the caller's files, newest first, narrowed by `query` and paged with `limit` and
/// `skip`. An admin API key lists every user's files. The filter follows the storage service's
/// rules: code-running operators (`$where`, ...) and reserved fields (`_owner`) are refused.
#[utoipa::path(
    get,
    path = "/",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The files (possibly none)", body = [FileView]),
        (status = 400, description = "`query` is not valid JSON, is refused or is refused by the database, or `limit`/`skip` is out of range", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key or session token", body = ErrorBody),
        (status = 503, description = "The database is unreachable", body = ErrorBody),
    ),
)]

pub async fn list_files(
    state: web::Data<ArchiveState>,
    user: AuthUser,
    caller: Caller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    // The database counts in signed 64-bit integers.
    let skip = params.skip.unwrap_or(0);
    if i64::try_from(skip).is_err() {
        return Err(ApiError::bad_request(format!(
            "skip must be between 0 and {}",
            i64::MAX
        )));
    }
    let filter = coglex_common::query::parse_filter(params.query.as_deref().unwrap_or_default())?;
    coglex_common::query::check_encodable(&filter)?;
    let find = state
        .records
        .find(record::within_scope(filter, &user, caller))
        .sort(doc! { "_id": -1 })
        .skip(skip)
        .limit(limit)
        .max_time(LIST_MAX_TIME);
    let cursor = state.bounded(find).await?;
    // Streamed record by record: a page of records with large metadata never sits whole in
    // memory.
    Ok(json_array(
        cursor,
        state.settings.database_timeout(),
        |record: FileRecord| record.to_json(),
    ))
}

/// Upload a file
///
/// Stores the `file` part of a `multipart/form-data` body, with optional `metadata`, for the
/// signed-in user, and answers its record. The body is streamed: the type is detected from the
/// first bytes before anything is stored, the size limit (`MAX_CONTENT_LENGTH`, or what is
/// left of the user's `ARCHIVE_QUOTA_BYTES`) is enforced as bytes arrive, and a refused or
/// failed upload leaves nothing behind. The filename is sanitised and only ever a label.
#[utoipa::path(
    post,
    path = "/",
    request_body(
        content = UploadForm,
        content_type = "multipart/form-data",
        description = "The file and its metadata",
        encoding(("metadata" = (content_type = "application/json"))),
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = FileView),
        (status = 400, description = "A malformed or truncated form, no `file`, a repeated or unknown field, or `metadata` that is not a JSON object or has `$` keys", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key or session token", body = ErrorBody),
        (status = 408, description = "The upload took longer than half of `ARCHIVE_SWEEP_AFTER_SECS`; nothing was stored", body = ErrorBody),
        (status = 413, description = "The file is larger than `MAX_CONTENT_LENGTH` or the user's quota allows, or `metadata` larger than `MAX_JSON_BYTES` (or 8 MiB as stored)", body = ErrorBody),
        (status = 415, description = "The body is not `multipart/form-data`, or the detected file type is not accepted", body = ErrorBody),
        (status = 503, description = "The database is unreachable", body = ErrorBody),
    ),
)]
pub async fn upload_file(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ArchiveState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| crate::detect::normalise(v) == "multipart/form-data");
    if !is_form {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be multipart/form-data with a `file` field",
        ));
    }
    let max = state.settings.max_content_length;
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let form_limit = max
        .saturating_add(state.max_json_bytes as u64)
        .saturating_add(FORM_OVERHEAD_BYTES);
    if declared_length.is_some_and(|length| length > form_limit) {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the file is larger than {max} bytes"),
        ));
    }
    let allowance = quota::allowance(&state, &user.user_id).await?;
    let form = Form::new(req.headers(), payload);
    let record = upload::receive(&state, form, &user.user_id, allowance).await?;
    Ok(HttpResponse::Created().json(record.to_json()))
}

/// Download a file
///
/// Streams a file's bytes with its detected type (`Content-Type`), as an attachment named
/// after its filename (`Content-Disposition`), never sniffed (`nosniff`) and under a
/// sandboxing `Content-Security-Policy` whatever the type. A user reaches only their own
/// files (another user's is 404); an admin API key reaches all.
///
/// Supports one byte range (`Range: bytes=0-99`, `bytes=100-`, `bytes=-100`; RFC 7233) as 206;
/// several ranges, or a range under an `If-Range` that no longer matches, get the whole file;
/// a malformed or unsatisfiable range is 416. The `ETag` never changes for a reference, so
/// `If-None-Match` with it answers 304.
#[utoipa::path(
    get,
    path = "/{file_reference}",
    params(
        FileReferencePath,
        ("Range" = Option<String>, Header, nullable = false, description = "One byte range, e.g. `bytes=0-1023`"),
        ("If-Range" = Option<String>, Header, nullable = false, description = "An `ETag`: honour `Range` only while it matches"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`ETag`s (or `*`): 304 when one matches"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The whole file", content_type = "*/*", body = FileContent,
            headers(
                ("ETag" = String, description = "The content's SHA-256, quoted"),
                ("Content-Disposition" = String, description = "`attachment` with the filename"),
                ("Accept-Ranges" = String, description = "`bytes`"),
            )),
        (status = 206, description = "The requested range", content_type = "*/*", body = FileContent,
            headers(
                ("Content-Range" = String, description = "`bytes <first>-<last>/<size>`"),
                ("ETag" = String, description = "The content's SHA-256, quoted"),
            )),
        (status = 304, description = "`If-None-Match` matched: the client's copy is current",
            headers(("ETag" = String, description = "The content's SHA-256, quoted"))),
        (status = 401, description = "Missing or invalid API key or session token", body = ErrorBody),
        (status = 404, description = "No such file, or not the caller's", body = ErrorBody),
        (status = 416, description = "The range is malformed or outside the file", body = ErrorBody,
            headers(("Content-Range" = String, description = "`bytes */<size>`"))),
        (status = 503, description = "The database is unreachable", body = ErrorBody),
    ),
)]
pub async fn download_file(
    req: HttpRequest,
    path: web::Path<FileReferencePath>,
    state: web::Data<ArchiveState>,
    user: AuthUser,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let record = find(&state, &path.file_reference, &user, caller).await?;
    let etag = record.etag();
    let size = record.size();
    let headers = req.headers();
    // `If-None-Match` compares weakly (RFC 9110 §13.1.2), `If-Range` strongly (§13.1.5).
    let matches_etag = |name, weak: bool| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(|v| {
                v.split(',').map(str::trim).any(|tag| {
                    let tag = if weak {
                        tag.trim_start_matches("W/")
                    } else {
                        tag
                    };
                    tag == etag || tag == "*"
                })
            })
    };
    if matches_etag(header::IF_NONE_MATCH, true) == Some(true) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    // RFC 7233 §3.2: a Range under an `If-Range` that no longer matches gets the whole file.
    let range_header = match matches_etag(header::IF_RANGE, false) {
        Some(false) => None,
        _ => headers
            .get(header::RANGE)
            .map(|v| v.to_str().unwrap_or("malformed")),
    };
    let (status, bytes) = match range::parse(range_header, size) {
        Requested::Full => (StatusCode::OK, 0..size),
        Requested::Partial(bytes) => (StatusCode::PARTIAL_CONTENT, bytes),
        Requested::Unsatisfiable => {
            let mut response = ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                format!(
                    "the file has {size} bytes; the requested range is outside it or malformed"
                ),
            )
            .error_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let id = record.id;
    let body = match state.blobs.read(id, bytes.clone()).await {
        Ok(body) => body,
        // A delete since the record was read: it removes the record, then the blob.
        Err(e) if e.code() == ErrorCode::NotFound => {
            return Err(
                match state
                    .bounded(state.records.find_one(doc! { "_id": id }))
                    .await?
                {
                    Some(_) => ApiError::internal(anyhow::anyhow!("file {id} has no blob")),
                    None => not_found(),
                },
            );
        }
        Err(e) => return Err(e),
    }
    .inspect_err(move |e| {
        tracing::error!(error = %e, blob = %id, "a download failed midway");
    });
    let mut response = HttpResponse::build(status);
    if status == StatusCode::PARTIAL_CONTENT {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", bytes.start, bytes.end - 1),
        ));
    }
    let content_type = if record.mimetype.starts_with("text/") {
        format!("{}; charset=utf-8", record.mimetype)
    } else {
        record.mimetype.clone()
    };
    Ok(response
        .insert_header((header::CONTENT_SECURITY_POLICY, SANDBOX))
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, attachment(&record.filename)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .no_chunking(bytes.end - bytes.start)
        .streaming(body.boxed_local()))
}

/// Delete a file
///
/// Deletes a file and its record. A user deletes only their own files (another user's is
/// 404); an admin API key deletes any.
#[utoipa::path(
    delete,
    path = "/{file_reference}",
    params(FileReferencePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = DeletedFile),
        (status = 401, description = "Missing or invalid API key or session token", body = ErrorBody),
        (status = 404, description = "No such file, or not the caller's", body = ErrorBody),
        (status = 503, description = "The database is unreachable", body = ErrorBody),
    ),
)]
pub async fn delete_file(
    path: web::Path<FileReferencePath>,
    state: web::Data<ArchiveState>,
    user: AuthUser,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let id = parse_reference(&path.file_reference)?;
    let filter = record::within_scope(doc! { "_id": id }, &user, caller);
    if state
        .bounded(state.records.find_one_and_delete(filter))
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    // The record went first: a blob left behind by a failure here is invisible to clients,
    // whereas a record without its blob would be a broken download.
    if let Err(e) = state.blobs.delete(id).await {
        tracing::error!(error = %e, blob = %id, "a deleted file's blob could not be removed");
    }
    Ok(HttpResponse::Ok().json(DeletedFile {
        deleted: true,
        file_id: id.to_hex(),
        message: "File deleted successfully".to_owned(),
    }))
}

async fn find(
    state: &ArchiveState,
    reference: &str,
    user: &AuthUser,
    caller: Caller,
) -> Result<FileRecord, ApiError> {
    let id = parse_reference(reference)?;
    let filter = record::within_scope(doc! { "_id": id }, user, caller);
    state
        .bounded(state.records.find_one(filter))
        .await?
        .ok_or_else(not_found)
}

/// References are the hex ids the API hands out; anything else names no file.
fn parse_reference(reference: &str) -> Result<ObjectId, ApiError> {
    ObjectId::parse_str(reference).map_err(|_| not_found())
}

fn not_found() -> ApiError {
    ApiError::not_found("no such file")
}
