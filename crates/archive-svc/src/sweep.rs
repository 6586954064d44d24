//! Removes what a crash leaves behind. An upload stores its blob first and records it last,
//! and removes the blob itself when anything fails; only a process that dies in between (or
//! while deleting a file) leaves a blob, complete or partial, without a record.
//!
//! Blob ids are ObjectIds made when an upload starts, so a blob's id tells its age. A blob
//! older than `ARCHIVE_SWEEP_AFTER_SECS` without a record is such a leftover: uploads still
//! running are younger, because [`check_age`] refuses an upload once it is half that old.
//! Each replica looks at every blob once when it starts, then every
//! `ARCHIVE_SWEEP_EVERY_SECS` at the blobs that have come of age since. It deletes nothing
//! when the records look wrong (none at all, or none for most blobs).

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, oid::ObjectId, Document};
use mongodb::Collection;

use coglex_common::mongo::bounded;
use coglex_common::{ApiError, ErrorCode};

use crate::blob::BlobStore;
use crate::record::FileRecord;

/// Blob ids checked against the records per query.
const BATCH: usize = 256;

/// A batch at least this large in which most blobs have no record stops the sweep: that is a
/// misconfiguration (a mistyped records collection, a bucket shared with another
/// deployment), not crashes, and deleting would destroy files.
const SUSPICIOUS_BATCH: usize = 64;

/// How far each look goes back before where the previous one ended: covers replicas whose
/// clocks run behind.
const OVERLAP: Duration = Duration::from_secs(60 * 60);

pub struct Sweeper {
    pub blobs: Arc<dyn BlobStore>,
    pub records: Collection<FileRecord>,
    pub after: Duration,
    pub every: Duration,
    /// Longest one database call may take (`ARCHIVE_DATABASE_TIMEOUT_MS`).
    pub timeout: Duration,
}

impl Sweeper {
    /// Sweeps forever; a failed or refused look is retried from the same place, so blobs it
    /// did not judge are looked at again.
    pub async fn run(self) {
        let mut from = ObjectId::from_bytes([0; 12]);
        loop {
            let until = SystemTime::now()
                .checked_sub(self.after)
                .unwrap_or(UNIX_EPOCH);
            match self.sweep(from..id_at(until)).await {
                Ok(Sweep::Refused) => {}
                Ok(Sweep::Done(removed)) => {
                    if removed > 0 {
                        tracing::info!(removed, "removed blobs left behind by a crash");
                    }
                    from = id_at(until.checked_sub(OVERLAP).unwrap_or(UNIX_EPOCH));
                }
                Err(e) => tracing::warn!(error = %e, "could not look for blobs left behind"),
            }
            tokio::time::sleep(self.every).await;
        }
    }

    /// Removes the blobs in `ids` that have no record.
    pub async fn sweep(&self, ids: Range<ObjectId>) -> Result<Sweep, ApiError> {
        let records = self.records.clone_with_type::<Document>();
        if bounded(self.timeout, records.find_one(doc! {}))
            .await?
            .is_none()
        {
            // No records at all: nothing is a leftover, or the collection is the wrong one.
            return Ok(Sweep::Refused);
        }
        let mut removed = 0;
        let mut batches = self.blobs.ids_in(ids).chunks(BATCH);
        while let Some(batch) = batches.next().await {
            let batch: HashSet<ObjectId> = batch.into_iter().collect::<Result<_, _>>()?;
            let ids: Vec<ObjectId> = batch.iter().copied().collect();
            let find = records
                .find(doc! { "_id": { "$in": ids } })
                .projection(doc! { "_id": 1 });
            let recorded: HashSet<ObjectId> = bounded(self.timeout, async move {
                find.await?
                    .map_ok(|found| found.get_object_id("_id").ok())
                    .try_filter_map(|id| std::future::ready(Ok(id)))
                    .try_collect()
                    .await
            })
            .await?;
            let leftovers: Vec<ObjectId> = batch.difference(&recorded).copied().collect();
            if batch.len() >= SUSPICIOUS_BATCH && leftovers.len() * 2 > batch.len() {
                tracing::error!(
                    without_record = leftovers.len(),
                    of = batch.len(),
                    "most stored blobs have no record: not sweeping; check \
                     MONGODB_ARCHIVE_COLLECTION and the blob store settings"
                );
                return Ok(Sweep::Refused);
            }
            for id in leftovers {
                match self.blobs.delete(id).await {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!(error = %e, blob = %id, "could not remove a leftover"),
                }
            }
        }
        Ok(Sweep::Done(removed))
    }
}

/// What one look did.
#[derive(Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Looked at every blob in the range and removed this many.
    Done(usize),
    /// The records looked wrong, so nothing was judged (leftovers already removed stay so).
    Refused,
}

/// The smallest ObjectId made at `time`.
fn id_at(time: SystemTime) -> ObjectId {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut bytes = [0; 12];
    bytes[..4].copy_from_slice(&u32::try_from(seconds).unwrap_or(u32::MAX).to_be_bytes());
    ObjectId::from_bytes(bytes)
}

/// Refuses an upload (408) that has run for half of `after` or more: the sweeper may take its
/// blob for a leftover at `after`, and the other half leaves its record time to be written.
pub fn check_age(id: ObjectId, after: Option<Duration>) -> Result<(), ApiError> {
    match after {
        Some(after) if time_left(id, after).is_zero() => Err(too_slow(after)),
        _ => Ok(()),
    }
}

/// How long the upload of blob `id` may still run before [`check_age`] refuses it, with
/// blobs swept at `after`.
pub fn time_left(id: ObjectId, after: Duration) -> Duration {
    let age = SystemTime::now()
        .duration_since(id.timestamp().to_system_time())
        .unwrap_or(Duration::ZERO);
    (after / 2).saturating_sub(age)
}

/// The refusal of an upload that ran for half the sweep age `after`.
pub fn too_slow(after: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RequestTimeout,
        format!(
            "the upload took longer than {} seconds",
            (after / 2).as_secs()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_at_a_time_sort_between_the_bounds_of_that_second() {
        let now = SystemTime::now();
        let id = ObjectId::new();
        assert!(id_at(now - Duration::from_secs(1)) < id);
        assert!(id < id_at(now + Duration::from_secs(2)));
        assert_eq!(id_at(UNIX_EPOCH), ObjectId::from_bytes([0; 12]));
    }

    #[test]
    fn an_upload_is_refused_from_half_the_sweep_age() {
        let after = Some(Duration::from_secs(600));
        assert!(check_age(ObjectId::new(), after).is_ok());
        let old = id_at(SystemTime::now() - Duration::from_secs(301));
        let refused = check_age(old, after).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::RequestTimeout);
        assert!(
            check_age(old, None).is_ok(),
            "no limit when the sweep is off"
        );
    }
}
