//! Where file contents live, behind one small interface with two backends chosen by
//! `ARCHIVE_BACKEND`: [`gridfs`] (default: every replica sees every file) and [`local`] (a
//! directory, as the original stored uploads). Blobs are named by the server-generated id of
//! their metadata record, never by anything a client sent.
//!
//! A writer either commits (the blob becomes readable) or is aborted; a writer dropped midway
//! (a client that went away) removes what it wrote, so failed uploads leave nothing behind.

pub mod gridfs;
pub mod local;

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use mongodb::bson::oid::ObjectId;

use coglex_common::ApiError;

/// A blob's bytes, as they are read.
pub type BlobStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Ids of blobs, complete or partial (a blob id may come more than once).
pub type BlobIds<'a> = BoxStream<'a, Result<ObjectId, ApiError>>;

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Starts a new blob stored under `id`.
    async fn create(&self, id: ObjectId) -> Result<Box<dyn BlobWriter>, ApiError>;
    /// Streams bytes `range` (end exclusive, within the blob) of blob `id`; [`missing`] when
    /// there is no such blob.
    async fn read(&self, id: ObjectId, range: Range<u64>) -> Result<BlobStream, ApiError>;
    /// Removes blob `id`, complete or partial; a blob that is already gone is not an error.
    async fn delete(&self, id: ObjectId) -> Result<(), ApiError>;
    /// Every blob, complete or partial, whose id lies in `ids` (ids grow with time, so this
    /// is every blob started in that time).
    fn ids_in(&self, ids: Range<ObjectId>) -> BlobIds<'_>;
}

#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ApiError>;
    /// Makes the blob readable.
    async fn commit(self: Box<Self>) -> Result<(), ApiError>;
    /// Removes everything written so far.
    async fn abort(self: Box<Self>);
}

/// There is no blob `id`: 404 to the client if its record went too (a delete in between),
/// which the caller decides.
fn missing(id: ObjectId) -> ApiError {
    ApiError::not_found("no such file").with_source(anyhow::anyhow!("blob {id} is missing"))
}

/// A blob store failure is ours, not the client's: 500, cause in the log.
fn io_error(what: &'static str, err: std::io::Error) -> ApiError {
    ApiError::internal(anyhow::Error::new(err).context(what))
}
