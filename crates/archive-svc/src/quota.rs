//! The per-user quota (`ARCHIVE_QUOTA_BYTES`), checked twice. When an upload starts, the room
//! left becomes its allowance, so the stream is cut where the quota ends. Once its record is
//! written, the total is counted again: two uploads that each fit when they started may not
//! fit together, and whichever counts second sees the other's record, so they are never both
//! kept over the quota.

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson};

use coglex_common::{ApiError, ErrorCode};

use crate::record::OWNER;
use crate::upload::Allowance;
use crate::ArchiveState;

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
    let left = quota.saturating_sub(used(state, owner).await?);
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

/// Bytes of the owner's recorded files.
async fn used(state: &ArchiveState, owner: &str) -> Result<u64, ApiError> {
    let mut totals = state
        .records
        .aggregate([
            doc! { "$match": { OWNER: owner } },
            doc! { "$group": { "_id": Bson::Null, "total": { "$sum": "$size" } } },
        ])
        .await?;
    Ok(match totals.try_next().await? {
        Some(total) => match total.get("total") {
            Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
            Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
            Some(Bson::Double(n)) => *n as u64,
            _ => 0,
        },
        None => 0,
    })
}
