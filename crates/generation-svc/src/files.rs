//! Who owns each file uploaded on the server's `GENERATION_KEY`. Every such file lives in one
//! Gemini project, where any caller who knows its name could use it; so each upload is
//! recorded against the party that made it (a signed-in user, or all callers without a session
//! together, as in `usage`) and a call on the server's key may name only that party's files.
//!
//! The name is chosen here and recorded before the upload starts (Gemini takes a client-chosen
//! `File.name`), so no file is ever usable without its owner on record; a failed upload
//! withdraws its record. Records end with the file itself, 48 hours after the upload.
//!
//! The project's file storage is shared too (Gemini caps it per project), so each party may
//! hold at most a quota of bytes in live files (`GENERATION_FILE_QUOTA_BYTES`, and
//! `GENERATION_ANONYMOUS_FILE_QUOTA_BYTES` for callers without a session together). A new
//! upload is counted once its record is in: two that each fit alone cannot both pass, since
//! whichever counts second sees the other.

use std::collections::BTreeSet;
use std::time::Duration;

use coglex_common::mongo::{as_u64, deadline, expire_records, EXPIRES_AT};
use coglex_common::{ApiError, ErrorCode};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::Collection;

use crate::usage::Spender;

/// Who owns a file: the party that pays for the calls made on the server's key.
pub type Owner = Spender;

/// How long Gemini keeps an uploaded file.
const FILE_LIFETIME: Duration = Duration::from_secs(48 * 3600);
/// Longest a record read or write may take before the call answers 503.
const DEADLINE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct FileOwners {
    collection: Collection<Document>,
    /// Bytes of live files per signed-in user; 0 means no quota.
    quota_bytes: u64,
    /// Bytes of live files for all callers without a session together; 0 means no quota.
    anonymous_quota_bytes: u64,
}

impl FileOwners {
    pub fn new(
        collection: Collection<Document>,
        quota_bytes: u64,
        anonymous_quota_bytes: u64,
    ) -> Self {
        Self {
            collection,
            quota_bytes,
            anonymous_quota_bytes,
        }
    }

    /// Records go when their file does.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        expire_records(&self.collection).await
    }

    /// A fresh file name (`files/<id>`) for `size` bytes, recorded as `owner`'s if the bytes
    /// fit their quota: 413 for a file larger than the whole quota, else 429 until their
    /// oldest file expires.
    pub async fn reserve(&self, owner: &Owner, size: u64) -> Result<String, ApiError> {
        let quota = match owner {
            Owner::User(_) => self.quota_bytes,
            Owner::Anonymous => self.anonymous_quota_bytes,
        };
        if quota > 0 && size > quota {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the file is larger than the file quota ({quota} bytes)"),
            ));
        }
        let name = format!("files/{}", uuid::Uuid::new_v4().simple());
        let expires_at = DateTime::from_millis(
            DateTime::now().timestamp_millis() + FILE_LIFETIME.as_millis() as i64,
        );
        let record = doc! {
            "_id": &name,
            "owner": owner.id(),
            "size_bytes": i64::try_from(size).unwrap_or(i64::MAX),
            EXPIRES_AT: expires_at,
        };
        deadline(DEADLINE, self.collection.insert_one(record)).await??;
        if quota > 0 {
            if let Err(refusal) = self.within(owner, quota).await {
                self.release(&name).await;
                return Err(refusal);
            }
        }
        Ok(name)
    }

    /// Refuses with 429 when `owner`'s live files, the one just recorded included, take more
    /// than `quota` bytes.
    async fn within(&self, owner: &Owner, quota: u64) -> Result<(), ApiError> {
        let now = DateTime::now();
        let totals = self.collection.aggregate([
            doc! { "$match": { "owner": owner.id(), EXPIRES_AT: { "$gt": now } } },
            doc! { "$group": {
                "_id": Bson::Null,
                "bytes": { "$sum": "$size_bytes" },
                "first_expiry": { "$min": format!("${EXPIRES_AT}") },
            } },
        ]);
        let mut totals = deadline(DEADLINE, totals).await??;
        let Some(total) = deadline(DEADLINE, totals.try_next()).await?? else {
            return Ok(());
        };
        if total.get("bytes").and_then(as_u64).unwrap_or(0) <= quota {
            return Ok(());
        }
        let retry_after_secs = match total.get("first_expiry") {
            Some(Bson::DateTime(first)) => {
                (first.timestamp_millis() - now.timestamp_millis()) / 1000
            }
            _ => 0,
        };
        Err(ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "your live files and this one would pass the file quota ({quota} bytes); \
                 room comes back as they expire, 48 hours after their upload"
            ),
        )
        .retry_after(retry_after_secs.max(1) as u64))
    }

    /// Withdraws the record of an upload that did not complete. Best effort: a record left
    /// behind names no file, and expires anyway.
    pub async fn release(&self, name: &str) {
        let removal = self.collection.delete_one(doc! { "_id": name });
        if !matches!(deadline(DEADLINE, removal).await, Ok(Ok(_))) {
            tracing::warn!(
                file = name,
                "could not withdraw the record of a failed upload"
            );
        }
    }

    /// Refuses with 404 a call naming a file `owner` did not upload (or whose time is up),
    /// the same answer as for a file that does not exist, so names of others' files cannot be
    /// probed.
    pub async fn check(&self, owner: &Owner, names: &BTreeSet<String>) -> Result<(), ApiError> {
        if names.is_empty() {
            return Ok(());
        }
        let listed: Vec<&str> = names.iter().map(String::as_str).collect();
        let filter = doc! {
            "_id": { "$in": &listed },
            "owner": owner.id(),
            EXPIRES_AT: { "$gt": DateTime::now() },
        };
        let owned = deadline(DEADLINE, self.collection.count_documents(filter)).await??;
        if owned == names.len() as u64 {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::NotFound,
            "a referenced file does not exist or was not uploaded by you",
        ))
    }
}
