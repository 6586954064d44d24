//! Receiving an upload: a `multipart/form-data` body (RFC 7578) with a `file` field and an
//! optional `metadata` JSON field, read as a stream. The type is decided from the first bytes,
//! before anything is stored; the size limit is enforced as bytes arrive; whatever fails
//! after the blob was started removes it again, so no chunk, file or record is left behind.
//! An upload must finish within half of `ARCHIVE_SWEEP_AFTER_SECS` ([`sweep::check_age`]).

use std::time::Duration;

use actix_multipart::Field;
use actix_web::http::header::Charset;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use serde_json::Value;
use sha2::{Digest, Sha256};

use coglex_common::{ApiError, ErrorCode};

use crate::blob::BlobWriter;
use crate::detect::{self, SNIFF_BYTES};
use crate::disposition::sanitise_filename;
use crate::form::Form;
use crate::quota;
use crate::record::FileRecord;
use crate::sweep;
use crate::ArchiveState;

/// How many bytes this upload may have, and why.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    pub bytes: u64,
    /// The limit comes from the user's quota rather than `MAX_CONTENT_LENGTH`.
    pub by_quota: bool,
}

impl Allowance {
    fn exceeded(&self, max_content_length: u64) -> ApiError {
        if self.by_quota {
            return quota::exceeded();
        }
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the file is larger than {max_content_length} bytes"),
        )
    }
}

/// A committed blob, not yet recorded.
struct Stored {
    id: ObjectId,
    filename: String,
    mimetype: &'static str,
    declared: Option<String>,
    size: u64,
    sha256: String,
}

/// Reads the form, stores the file and records it; on any failure nothing remains.
pub async fn receive(
    state: &ArchiveState,
    mut form: Form,
    owner: &str,
    allowance: Allowance,
) -> Result<FileRecord, ApiError> {
    let mut stored = None;
    let outcome = read_form(state, &mut form, allowance, &mut stored).await;
    let record = outcome.and_then(|metadata| {
        let stored = stored
            .as_ref()
            .ok_or_else(|| ApiError::bad_request("the form has no `file` field"))?;
        Ok(FileRecord {
            id: stored.id,
            owner: owner.to_owned(),
            filename: stored.filename.clone(),
            mimetype: stored.mimetype.to_owned(),
            declared_mimetype: stored.declared.clone(),
            size: i64::try_from(stored.size).unwrap_or(i64::MAX),
            uploaded_at: DateTime::now(),
            sha256: stored.sha256.clone(),
            quota_bytes: Some(quota::charge(stored.size, metadata.as_ref())),
            metadata: metadata.unwrap_or_default(),
        })
    });
    let record = record.and_then(|record| {
        sweep::check_age(record.id, state.settings.sweep_after())?;
        Ok(record)
    });
    match record {
        Ok(record) => record_within_quota(state, record).await,
        Err(e) => {
            if let Some(stored) = stored {
                remove_blob(state, stored.id).await;
            }
            Err(e)
        }
    }
}

/// Writes the record, then confirms the quota, which uploads running beside this one may
/// have used up meanwhile; a record over it is withdrawn with its blob.
///
/// When the insert fails, whether the record was written is unknown: removing the blob then
/// could leave a record without it, a broken file. The blob stays, and the sweeper removes it
/// if no record appears. The insert is bounded, so that a record lands, if at all, long
/// before the sweeper would look at its blob.
async fn record_within_quota(
    state: &ArchiveState,
    record: FileRecord,
) -> Result<FileRecord, ApiError> {
    let limit = match state.settings.sweep_after() {
        Some(after) => (after / 4).min(state.settings.database_timeout()),
        None => state.settings.database_timeout(),
    };
    let inserted = coglex_common::mongo::bounded(limit, state.records.insert_one(&record)).await;
    if let Err(e) = inserted {
        tracing::warn!(error = %e, file = %record.id, "an upload's record may not be written; its blob is left to the sweeper");
        return Err(e);
    }
    let Err(refusal) = quota::confirm(state, &record.owner).await else {
        return Ok(record);
    };
    match state
        .bounded(state.records.delete_one(doc! { "_id": record.id }))
        .await
    {
        Ok(_) => {
            remove_blob(state, record.id).await;
            Err(refusal)
        }
        Err(e) => {
            // A record without its blob would be a broken file: keep both, over the quota.
            tracing::error!(error = %e, file = %record.id, "could not withdraw an upload over the quota");
            Ok(record)
        }
    }
}

async fn remove_blob(state: &ArchiveState, id: ObjectId) {
    if let Err(e) = state.blobs.delete(id).await {
        tracing::error!(error = %e, blob = %id, "could not remove the blob of a failed upload");
    }
}

/// Reads every field; `stored` is set as soon as a blob is committed, so the caller can remove
/// it whatever happens next.
async fn read_form(
    state: &ArchiveState,
    form: &mut Form,
    allowance: Allowance,
    stored: &mut Option<Stored>,
) -> Result<Option<Document>, ApiError> {
    let mut metadata = None;
    while let Some(field) = form.next_field().await? {
        match field.name() {
            Some("file") if stored.is_none() => {
                *stored = Some(store_file(state, form, field, allowance).await?);
            }
            Some("metadata") if metadata.is_none() => {
                let limit = state.max_json_bytes;
                metadata = Some(parse_metadata(&read_small(form, field, limit).await?)?);
            }
            Some(name @ ("file" | "metadata")) => {
                return Err(ApiError::bad_request(format!(
                    "the form has more than one `{name}` field"
                )))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "the form may only have a `file` and a `metadata` field",
                ))
            }
        }
    }
    Ok(metadata)
}

async fn store_file(
    state: &ArchiveState,
    form: &Form,
    mut field: Field,
    allowance: Allowance,
) -> Result<Stored, ApiError> {
    let filename = sanitise_filename(&client_filename(&field).unwrap_or_default());
    let declared = field.content_type().map(|m| detect::normalise(m.as_ref()));

    // The first bytes decide the type before anything is stored.
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut past_head = None;
    let mut ended = false;
    while head.len() < SNIFF_BYTES {
        match form.next_chunk(&mut field).await? {
            Some(chunk) => {
                let take = (SNIFF_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
                if take < chunk.len() {
                    past_head = Some(chunk.slice(take..));
                }
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    let mimetype = detect::detect(&head, ended, declared.as_deref());
    if !state.settings.allows(mimetype) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("files of type {mimetype} are not accepted"),
        ));
    }
    if declared.as_deref().is_some_and(|d| d != mimetype) {
        tracing::debug!(declared = ?declared, detected = mimetype, "declared type differs");
    }

    let id = ObjectId::new();
    let mut sink = Sink {
        writer: state.blobs.create(id).await?,
        hasher: Sha256::new(),
        size: 0,
        allowance,
        max_content_length: state.settings.max_content_length,
        id,
        sweep_after: state.settings.sweep_after(),
    };
    let sweep_after = sink.sweep_after;
    let copy = async {
        sink.write(&head).await?;
        if let Some(chunk) = past_head {
            sink.write(&chunk).await?;
        }
        // A field that has ended must not be polled again.
        if !ended {
            while let Some(chunk) = form.next_chunk(&mut field).await? {
                sink.write(&chunk).await?;
            }
        }
        Ok(())
    };
    // Each chunk checks the age, but a client that stops sending brings no chunk: the wait
    // for one ends at the same age.
    let copied = match sweep_after {
        Some(after) => tokio::time::timeout(sweep::time_left(id, after), copy)
            .await
            .unwrap_or_else(|_| Err(sweep::too_slow(after))),
        None => copy.await,
    };
    let Sink {
        writer,
        hasher,
        size,
        ..
    } = sink;
    match copied {
        Ok(()) => writer.commit().await?,
        Err(e) => {
            writer.abort().await;
            return Err(e);
        }
    }
    Ok(Stored {
        id,
        filename,
        mimetype,
        declared,
        size,
        sha256: hex(&hasher.finalize()),
    })
}

/// The name the client gave: RFC 5987's `filename*` (how non-ASCII names travel) before the
/// plain `filename`.
fn client_filename(field: &Field) -> Option<String> {
    let disposition = field.content_disposition()?;
    if let Some(extended) = disposition.get_filename_ext() {
        let value = &extended.value;
        return Some(match extended.charset {
            Charset::Iso_8859_1 => value.iter().map(|&b| char::from(b)).collect(),
            _ => String::from_utf8_lossy(value).into_owned(),
        });
    }
    disposition.get_filename().map(str::to_owned)
}

/// Where the file's bytes go: counted against the allowance, hashed, written.
struct Sink {
    writer: Box<dyn BlobWriter>,
    hasher: Sha256,
    size: u64,
    allowance: Allowance,
    max_content_length: u64,
    id: ObjectId,
    sweep_after: Option<Duration>,
}

impl Sink {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        // Stopped early: past half the sweep age the sweeper may take the blob for a leftover.
        sweep::check_age(self.id, self.sweep_after)?;
        self.size += chunk.len() as u64;
        if self.size > self.allowance.bytes {
            return Err(self.allowance.exceeded(self.max_content_length));
        }
        self.hasher.update(chunk);
        self.writer.write(chunk).await
    }
}

/// A small field, whole, refused past `limit` bytes.
async fn read_small(form: &Form, mut field: Field, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = form.next_chunk(&mut field).await? {
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("`metadata` is larger than {limit} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// `metadata`: a JSON object whose keys never start with `$` (they would read as operators).
pub fn parse_metadata(bytes: &[u8]) -> Result<Document, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("`metadata` is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("`metadata` must be a JSON object"));
    }
    check_keys(&value, 0)?;
    let document = match mongodb::bson::to_bson(&value) {
        Ok(mongodb::bson::Bson::Document(document)) => document,
        _ => return Err(ApiError::bad_request("`metadata` cannot be stored")),
    };
    // JSON grows in BSON (`[0,0,...]` about sixfold): past MongoDB's 16 MiB a record could
    // never be written, and each such upload would leave its blob to the sweeper.
    let stored = mongodb::bson::to_vec(&document).map_or(usize::MAX, |bytes| bytes.len());
    if stored > MAX_METADATA_BSON_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("`metadata` takes more than {MAX_METADATA_BSON_BYTES} bytes as stored"),
        ));
    }
    Ok(document)
}

/// Largest `metadata` as stored (BSON), leaving the rest of a 16 MiB record for its fields.
const MAX_METADATA_BSON_BYTES: usize = 8 * 1024 * 1024;

fn check_keys(value: &Value, depth: usize) -> Result<(), ApiError> {
    if depth > coglex_common::query::MAX_DEPTH {
        return Err(ApiError::bad_request("`metadata` is nested too deeply"));
    }
    match value {
        Value::Object(object) => object.iter().try_for_each(|(key, inner)| {
            if key.starts_with('$') || key.contains('\0') {
                return Err(ApiError::bad_request(
                    "`metadata` keys may not start with `$` or contain a NUL character",
                ));
            }
            check_keys(inner, depth + 1)
        }),
        Value::Array(items) => items.iter().try_for_each(|v| check_keys(v, depth + 1)),
        _ => Ok(()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_must_be_an_object_without_operator_keys() {
        assert!(parse_metadata(br#"{"category": "docs", "tags": ["a"]}"#).is_ok());
        for bad in [
            &br#"["a"]"#[..],
            br#"{"a": "#,
            br#"{"$set": 1}"#,
            br#"{"a": {"$where": "1"}}"#,
            br#"{"a": [{"$gt": 1}]}"#,
        ] {
            assert!(
                parse_metadata(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn metadata_too_large_to_store_is_413() {
        // 2 MiB of JSON, about 12 MiB as BSON.
        let zeros = vec!["0"; 1024 * 1024].join(",");
        let error = parse_metadata(format!(r#"{{"a": [{zeros}]}}"#).as_bytes()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::PayloadTooLarge);
    }
}
