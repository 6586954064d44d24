//! Files: list (`GET /?query=`), upload (`POST /`), download (`GET /{file_reference}`) and
//! delete (`DELETE /{file_reference}`), as the original README's Archive Service. A user
//! reaches only their own files (another user's id is 404); admin API keys reach all.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, oid::ObjectId, Bson};
use serde::Deserialize;
use serde_json::json;

use coglex_common::web::{AuthUser, Caller};
use coglex_common::{ApiError, ErrorCode};

use crate::detect::is_active;
use crate::disposition::attachment;
use crate::form::Form;
use crate::range::{self, Requested};
use crate::record::{self, FileRecord, OWNER};
use crate::upload::{self, Allowance};
use crate::ArchiveState;

/// Default and largest number of records one list answer carries.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
/// Room allowed for multipart framing and the `metadata` field when checking a declared
/// `Content-Length` against `MAX_CONTENT_LENGTH` before reading anything.
const FORM_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Downloads never run or render in the browser's origin, whatever the type.
const SANDBOX: &str = "default-src 'none'; sandbox";

#[derive(Debug, Deserialize)]
pub struct ListParams {
    /// JSON filter, checked by the same rules as the storage service.
    query: Option<String>,
    limit: Option<i64>,
    skip: Option<u64>,
}

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
    let filter = coglex_common::query::parse_filter(params.query.as_deref().unwrap_or_default())?;
    let records: Vec<FileRecord> = state
        .records
        .find(record::within_scope(filter, &user, caller))
        .sort(doc! { "_id": -1 })
        .skip(params.skip.unwrap_or(0))
        .limit(limit)
        .await?
        .try_collect()
        .await?;
    let body: Vec<_> = records.iter().map(FileRecord::to_json).collect();
    Ok(HttpResponse::Ok().json(body))
}

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
    let allowance = allowance(&state, &user.user_id).await?;
    let form = Form::new(req.headers(), payload);
    let record = upload::receive(&state, form, &user.user_id, allowance).await?;
    Ok(HttpResponse::Created().json(record.to_json()))
}

/// `MAX_CONTENT_LENGTH`, or less when the user's quota has less room left.
async fn allowance(state: &ArchiveState, owner: &str) -> Result<Allowance, ApiError> {
    let max = state.settings.max_content_length;
    let quota = state.settings.archive_quota_bytes;
    if quota == 0 {
        return Ok(Allowance {
            bytes: max,
            by_quota: false,
        });
    }
    let mut totals = state
        .records
        .aggregate([
            doc! { "$match": { OWNER: owner } },
            doc! { "$group": { "_id": Bson::Null, "total": { "$sum": "$size" } } },
        ])
        .await?;
    let used = match totals.try_next().await? {
        Some(total) => match total.get("total") {
            Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
            Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
            Some(Bson::Double(n)) => *n as u64,
            _ => 0,
        },
        None => 0,
    };
    let left = quota.saturating_sub(used);
    Ok(Allowance {
        bytes: left.min(max),
        by_quota: left < max,
    })
}

pub async fn download_file(
    req: HttpRequest,
    reference: web::Path<String>,
    state: web::Data<ArchiveState>,
    user: AuthUser,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let record = find(&state, &reference, &user, caller).await?;
    let etag = record.etag();
    let size = record.size();
    let headers = req.headers();
    let matches_etag = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    };
    if matches_etag(header::IF_NONE_MATCH) == Some(true) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    // RFC 7233 §3.2: a Range under an `If-Range` that no longer matches gets the whole file.
    let range_header = match matches_etag(header::IF_RANGE) {
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
    let body = state
        .blobs
        .read(id, bytes.clone())
        .await?
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
    if is_active(&record.mimetype) {
        response.insert_header((header::CONTENT_SECURITY_POLICY, SANDBOX));
    }
    Ok(response
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, attachment(&record.filename)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .no_chunking(bytes.end - bytes.start)
        .streaming(body.boxed_local()))
}

pub async fn delete_file(
    reference: web::Path<String>,
    state: web::Data<ArchiveState>,
    user: AuthUser,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let id = parse_reference(&reference)?;
    let filter = record::within_scope(doc! { "_id": id }, &user, caller);
    if state.records.find_one_and_delete(filter).await?.is_none() {
        return Err(not_found());
    }
    // The record went first: a blob left behind by a failure here is invisible to clients,
    // whereas a record without its blob would be a broken download.
    if let Err(e) = state.blobs.delete(id).await {
        tracing::error!(error = %e, blob = %id, "a deleted file's blob could not be removed");
    }
    Ok(HttpResponse::Ok().json(json!({
        "deleted": true,
        "file_id": id.to_hex(),
        "message": "File deleted successfully",
    })))
}

async fn find(
    state: &ArchiveState,
    reference: &str,
    user: &AuthUser,
    caller: Caller,
) -> Result<FileRecord, ApiError> {
    let id = parse_reference(reference)?;
    state
        .records
        .find_one(record::within_scope(doc! { "_id": id }, user, caller))
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
