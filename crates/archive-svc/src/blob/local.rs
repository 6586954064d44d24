//! Blobs as files in one directory (`ARCHIVE_LOCAL_DIR`), named by their hex id. A blob is
//! written to `<id>.part` and renamed to `<id>` when complete, so a reader never sees half a
//! file and a failed upload leaves only a `.part` that is removed at once (or, after a crash,
//! by [`crate::sweep`]).

use std::ffi::OsStr;
use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use mongodb::bson::oid::ObjectId;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use coglex_common::ApiError;

use super::{io_error, BlobIds, BlobStore, BlobStream, BlobWriter};

/// Bytes read from disk per chunk of a download.
const READ_CHUNK_BYTES: usize = 64 * 1024;

pub struct LocalDir {
    dir: PathBuf,
}

impl LocalDir {
    /// Uses `dir`, creating it when missing.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, id: ObjectId) -> PathBuf {
        self.dir.join(id.to_hex())
    }
}

/// The id a file of the directory is named by: `<hex id>` or `<hex id>.part`.
fn blob_id(name: &OsStr) -> Option<ObjectId> {
    let name = name.to_str()?;
    ObjectId::parse_str(name.strip_suffix(".part").unwrap_or(name)).ok()
}

/// Where a listing of the directory is.
enum Listing {
    Start(PathBuf),
    Reading(tokio::fs::ReadDir),
    Done,
}

#[async_trait]
impl BlobStore for LocalDir {
    async fn create(&self, id: ObjectId) -> Result<Box<dyn BlobWriter>, ApiError> {
        let done = self.path(id);
        let partial = done.with_extension("part");
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await
            .map_err(|e| io_error("creating an upload file", e))?;
        Ok(Box::new(LocalWriter {
            file: Some(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)),
            partial,
            done,
        }))
    }

    async fn read(&self, id: ObjectId, range: Range<u64>) -> Result<BlobStream, ApiError> {
        let mut file = File::open(self.path(id))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => super::missing(id),
                _ => io_error("opening a stored file", e),
            })?;
        file.seek(SeekFrom::Start(range.start))
            .await
            .map_err(|e| io_error("seeking in a stored file", e))?;
        let remaining = range.end - range.start;
        let stream = futures_util::stream::try_unfold(
            (file, remaining),
            |(mut file, remaining)| async move {
                if remaining == 0 {
                    return Ok(None);
                }
                let want = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(READ_CHUNK_BYTES);
                let mut buffer = BytesMut::zeroed(want);
                let read = file.read(&mut buffer).await?;
                if read == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "stored file is shorter than its record",
                    ));
                }
                buffer.truncate(read);
                Ok(Some((Bytes::from(buffer), (file, remaining - read as u64))))
            },
        );
        Ok(stream.boxed())
    }

    async fn delete(&self, id: ObjectId) -> Result<(), ApiError> {
        let done = self.path(id);
        for path in [done.with_extension("part"), done] {
            match tokio::fs::remove_file(path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_error("deleting a stored file", e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn ids_in(&self, ids: Range<ObjectId>) -> BlobIds<'_> {
        let names =
            futures_util::stream::unfold(Listing::Start(self.dir.clone()), |listing| async move {
                let mut entries = match listing {
                    Listing::Start(dir) => match tokio::fs::read_dir(dir).await {
                        Ok(entries) => entries,
                        Err(e) => return Some((Err(e), Listing::Done)),
                    },
                    Listing::Reading(entries) => entries,
                    Listing::Done => return None,
                };
                match entries.next_entry().await {
                    Ok(Some(entry)) => Some((Ok(entry.file_name()), Listing::Reading(entries))),
                    Ok(None) => None,
                    Err(e) => Some((Err(e), Listing::Done)),
                }
            });
        names
            .filter_map(move |name| {
                let id = match name {
                    Ok(name) => blob_id(&name).filter(|id| ids.contains(id)).map(Ok),
                    Err(e) => Some(Err(io_error("listing stored files", e))),
                };
                std::future::ready(id)
            })
            .boxed()
    }
}

/// Uploads are written in pieces of this size: a form can arrive in many tiny chunks, and each
/// write to a `tokio::fs::File` is a trip to the blocking pool.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

struct LocalWriter {
    /// `None` once committed or aborted.
    file: Option<BufWriter<File>>,
    partial: PathBuf,
    done: PathBuf,
}

#[async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("write after commit or abort")))?;
        file.write_all(bytes)
            .await
            .map_err(|e| io_error("writing an upload file", e))
    }

    async fn commit(mut self: Box<Self>) -> Result<(), ApiError> {
        let Some(mut file) = self.file.take() else {
            return Err(ApiError::internal(anyhow::anyhow!("commit after abort")));
        };
        let finished = async {
            file.flush().await?;
            file.get_ref().sync_all().await?;
            drop(file);
            tokio::fs::rename(&self.partial, &self.done).await?;
            // The new name is on disk only once its directory is: otherwise a crash could
            // keep the record, written next, and lose the name it points to.
            match self.done.parent() {
                Some(dir) => tokio::fs::File::open(dir).await?.sync_all().await,
                None => Ok(()),
            }
        }
        .await;
        if let Err(e) = finished {
            let _ = tokio::fs::remove_file(&self.partial).await;
            let _ = tokio::fs::remove_file(&self.done).await;
            return Err(io_error("completing an upload file", e));
        }
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        drop(self.file.take());
        match tokio::fs::remove_file(&self.partial).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::error!(error = %e, "could not remove the file of an aborted upload");
            }
            _ => {}
        }
    }
}

impl Drop for LocalWriter {
    /// A writer dropped midway (the request was cancelled) removes its partial file.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
