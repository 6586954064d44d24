//! Blobs in MongoDB GridFS (the driver's `GridFsBucket`), in `<bucket>.files` and
//! `<bucket>.chunks` as the GridFS spec lays them out. Ranges are read straight from the chunks
//! that hold them, so a request for the last bytes of a large file reads only those chunks.
//! Every call, and a download's wait for its next chunk, is bounded by
//! `ARCHIVE_DATABASE_TIMEOUT_MS`.

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{AsyncWriteExt, StreamExt, TryStreamExt};
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::error::{ErrorKind, GridFsErrorKind};
use mongodb::gridfs::{GridFsBucket, GridFsUploadStream};
use mongodb::options::GridFsBucketOptions;
use mongodb::{Collection, Database};

use coglex_common::mongo::{bounded, cursor_within, each_within};
use coglex_common::ApiError;

use super::{io_error, BlobIds, BlobStore, BlobStream, BlobWriter};

/// Chunks fetched per round trip while reading: a few MB in memory at most.
const CHUNKS_PER_BATCH: u32 = 4;

pub struct GridFs {
    bucket: GridFsBucket,
    files: Collection<Document>,
    chunks: Collection<Document>,
    timeout: Duration,
}

impl GridFs {
    pub fn new(db: &Database, bucket_name: &str, timeout: Duration) -> Self {
        let options = GridFsBucketOptions::builder()
            .bucket_name(bucket_name.to_owned())
            .build();
        Self {
            bucket: db.gridfs_bucket(options),
            files: db.collection(&format!("{bucket_name}.files")),
            chunks: db.collection(&format!("{bucket_name}.chunks")),
            timeout,
        }
    }
}

#[async_trait]
impl BlobStore for GridFs {
    async fn create(&self, id: ObjectId) -> Result<Box<dyn BlobWriter>, ApiError> {
        let open = self
            .bucket
            .open_upload_stream(id.to_hex())
            .id(Bson::ObjectId(id));
        let stream = bounded(self.timeout, open).await?;
        Ok(Box::new(GridFsWriter {
            stream,
            timeout: self.timeout,
        }))
    }

    async fn read(&self, id: ObjectId, range: Range<u64>) -> Result<BlobStream, ApiError> {
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        let file = bounded(self.timeout, self.files.find_one(doc! { "_id": id }))
            .await?
            .ok_or_else(|| super::missing(id))?;
        let chunk_size = match file.get("chunkSize") {
            Some(Bson::Int32(n)) if *n > 0 => u64::from(n.unsigned_abs()),
            Some(Bson::Int64(n)) if *n > 0 => n.unsigned_abs(),
            _ => {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "GridFS file {id} has no valid chunkSize"
                )))
            }
        };
        let first = range.start / chunk_size;
        let last = (range.end - 1) / chunk_size;
        let find = self
            .chunks
            .find(doc! {
                "files_id": id,
                "n": { "$gte": to_i64(first), "$lte": to_i64(last) },
            })
            .sort(doc! { "n": 1 })
            .batch_size(CHUNKS_PER_BATCH);
        let mut cursor = cursor_within(bounded(self.timeout, find).await?, self.timeout).boxed();
        // The first chunk is read before anything is answered: a blob deleted since its files
        // document was read is then still "missing" rather than a response cut off at once.
        let head = cursor.try_next().await?.ok_or_else(|| super::missing(id))?;
        let mut expected = first;
        let chunks = futures_util::stream::iter([Ok(head)]).chain(cursor);
        let stream = chunks.map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            let n = match chunk.get("n") {
                Some(Bson::Int32(n)) => i64::from(*n),
                Some(Bson::Int64(n)) => *n,
                _ => -1,
            };
            if u64::try_from(n).ok() != Some(expected) {
                return Err(std::io::Error::other(format!(
                    "GridFS file {id}: expected chunk {expected}, got {n}"
                )));
            }
            expected += 1;
            let data = chunk
                .get_binary_generic("data")
                .map_err(std::io::Error::other)?;
            let chunk_start = n.unsigned_abs() * chunk_size;
            let from = range.start.saturating_sub(chunk_start);
            let to = (range.end - chunk_start).min(data.len() as u64);
            let slice = usize::try_from(from)
                .ok()
                .zip(usize::try_from(to).ok())
                .and_then(|(from, to)| data.get(from..to))
                .ok_or_else(|| {
                    std::io::Error::other(format!("GridFS file {id}: short chunk {n}"))
                })?;
            Ok(Bytes::copy_from_slice(slice))
        });
        Ok(stream.boxed())
    }

    async fn delete(&self, id: ObjectId) -> Result<(), ApiError> {
        let delete = self.bucket.delete(Bson::ObjectId(id));
        match coglex_common::mongo::deadline(self.timeout, delete).await? {
            Ok(()) => Ok(()),
            // The driver deletes chunks before reporting a missing files document.
            Err(e)
                if matches!(
                    *e.kind,
                    ErrorKind::GridFs(GridFsErrorKind::FileNotFound { .. })
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn ids_in(&self, ids: Range<ObjectId>) -> BlobIds<'_> {
        let range = doc! { "$gte": ids.start, "$lt": ids.end };
        // Complete blobs have a files document; partial ones (the upload never closed) only
        // chunks, always starting with chunk 0.
        let complete = ids_of(
            self.files
                .find(doc! { "_id": range.clone() })
                .projection(doc! { "_id": 1 }),
            "_id",
        );
        let partial = ids_of(
            self.chunks
                .find(doc! { "files_id": range, "n": 0 })
                .projection(doc! { "files_id": 1 }),
            "files_id",
        );
        each_within(complete.chain(partial), self.timeout, || {
            ApiError::unavailable(anyhow::anyhow!("listing GridFS blobs ran out of time"))
        })
        .boxed()
    }
}

/// The ObjectIds in field `key` of what `find` returns.
fn ids_of<'a>(find: mongodb::action::Find<'a, Document>, key: &'static str) -> BlobIds<'a> {
    futures_util::stream::once(async move { find.await })
        .map_ok(move |cursor| {
            cursor.map(move |found| {
                found?.get_object_id(key).map_err(|e| {
                    ApiError::internal(anyhow::Error::new(e).context("a GridFS id is no ObjectId"))
                })
            })
        })
        .map_err(ApiError::from)
        .try_flatten()
        .boxed()
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The upload stream wraps database failures in `io::Error`: those answer as any database
/// error does (503 while it is unreachable), anything else as ours (500).
fn upload_error(what: &'static str, err: std::io::Error) -> ApiError {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<mongodb::error::Error>())
    {
        Some(database) => ApiError::from(database.clone()),
        None => io_error(what, err),
    }
}

/// The driver's upload stream: it buffers at most one chunk, writes full chunks as they fill,
/// and deletes its chunks when aborted or dropped before closing.
struct GridFsWriter {
    stream: GridFsUploadStream,
    timeout: Duration,
}

#[async_trait]
impl BlobWriter for GridFsWriter {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        coglex_common::mongo::deadline(self.timeout, self.stream.write_all(bytes))
            .await?
            .map_err(|e| upload_error("writing GridFS chunks", e))
    }

    async fn commit(mut self: Box<Self>) -> Result<(), ApiError> {
        coglex_common::mongo::deadline(self.timeout, self.stream.close())
            .await?
            .map_err(|e| upload_error("closing a GridFS upload", e))
    }

    async fn abort(mut self: Box<Self>) {
        match coglex_common::mongo::deadline(self.timeout, self.stream.abort()).await {
            Ok(Ok(())) => {}
            // What stays is partial chunks without a files document, which the sweep removes.
            outcome => {
                tracing::error!(?outcome, "could not remove the chunks of an aborted upload")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use coglex_common::ErrorCode;

    use super::*;

    #[test]
    fn a_database_failure_inside_an_upload_answers_as_an_outage() {
        let lost =
            mongodb::error::Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let error = upload_error("writing GridFS chunks", std::io::Error::other(lost));
        assert_eq!(error.code(), ErrorCode::ServiceUnavailable);
        let ours = upload_error("writing GridFS chunks", std::io::Error::other("disk full"));
        assert_eq!(ours.code(), ErrorCode::Internal);
    }
}
