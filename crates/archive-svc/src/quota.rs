//! The per-user quota (`ARCHIVE_QUOTA_BYTES`), checked twice. When an upload starts, the room
//! left becomes its allowance, so the stream is cut where the quota ends. Once its record is
//! written, the total is counted again: two uploads that each fit when they started may not
//! fit together, and whichever counts second sees the other's record, so they are never both
//! kept over the quota.
//!
//! A file counts its content, its metadata and a fixed share for its records: otherwise empty
//! files with large metadata would store without limit.

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};

use coglex_common::mongo::as_u64;
use coglex_common::{ApiError, ErrorCode};

use crate::record::OWNER;
use crate::upload::Allowance;
use crate::ArchiveState;

/// What one file's record and blob bookkeeping count against the quota beside its bytes.
pub const RECORD_BYTES: u64 = 256;

/// What a file of `size` bytes with `metadata` counts against its owner's quota.
pub fn charge(size: u64, metadata: Option<&Document>) -> i64 {
    let metadata = metadata
        .and_then(|m| mongodb::bson::to_vec(m).ok())
        .map_or(0, |bytes| bytes.len() as u64);
    i64::try_from(size.saturating_add(metadata).saturating_add(RECORD_BYTES)).unwrap_or(i64::MAX)
}

/// `MAX_CONTENT_LENGTH`, or less when the user's quota has less room left.
pub async fn allowance(state: &ArchiveState, owner: &str) -> Result<Allowance, ApiError> {
    let max = state.settings.max_content_length;
    let quota = state.settings.archive_quota_bytes;
    if quota == 0 {
        return Ok(Allowance {
            bytes: max,
            by_quota: false,
        });
    }
    // The new file's record counts too: bytes past what leaves room for it would only be
    // withdrawn once stored.
    let left = quota
        .saturating_sub(used(state, owner).await?)
        .saturating_sub(RECORD_BYTES);
    Ok(Allowance {
        bytes: left.min(max),
        by_quota: left < max,
    })
}

/// After an upload's record is written: 413 when the owner's files now exceed the quota.
pub async fn confirm(state: &ArchiveState, owner: &str) -> Result<(), ApiError> {
    let quota = state.settings.archive_quota_bytes;
    if quota > 0 && used(state, owner).await? > quota {
        return Err(exceeded());
    }
    Ok(())
}

pub fn exceeded() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        "this upload would exceed your storage quota",
    )
}

/// What the owner's recorded files count against the quota.
async fn used(state: &ArchiveState, owner: &str) -> Result<u64, ApiError> {
    let aggregate = state.records.aggregate([
        doc! { "$match": { OWNER: owner } },
        doc! { "$group": {
            "_id": Bson::Null,
            "total": { "$sum": { "$ifNull": ["$_quota_bytes", "$size"] } },
        } },
    ]);
    let mut totals = state.bounded(aggregate).await?;
    let total = state.bounded(totals.try_next()).await?;
    Ok(total
        .as_ref()
        .and_then(|total| total.get("total"))
        .and_then(as_u64)
        .unwrap_or(0))
}
