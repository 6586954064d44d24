//! Uploads and downloads stream: a 200 MB file goes through the service (which runs in this
//! test process) while the process's resident memory stays within a small bound. The file is
//! generated as it is sent and hashed as it comes back, so the test holds no copy of it.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use test_support::memory::PeakSampler;

use crate::both_backends;
use crate::helpers::*;

const FILE_BYTES: u64 = 200 * 1024 * 1024;
const CHUNK_BYTES: usize = 64 * 1024;
/// How far resident memory may rise during the transfer: a few buffers, far from the file.
const BOUND_BYTES: u64 = 32 * 1024 * 1024;

/// One large transfer at a time: they would count each other's memory.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `len` bytes starting with an MP4 header, each 64 KiB chunk stamped with its number so a
/// lost or reordered chunk changes the hash; `digest` receives every byte sent.
fn numbered_chunks(
    len: u64,
    digest: Arc<Mutex<Sha256>>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    let mut block = vec![0x5a; CHUNK_BYTES];
    block[..MP4_HEAD.len()].copy_from_slice(MP4_HEAD);
    futures_util::stream::iter((0..len).step_by(CHUNK_BYTES)).map(move |start| {
        let size = (len - start).min(CHUNK_BYTES as u64) as usize;
        let mut chunk = block[..size].to_vec();
        if start > 0 {
            let stamp = start.to_le_bytes();
            let n = stamp.len().min(size);
            chunk[..n].copy_from_slice(&stamp[..n]);
        }
        digest.lock().unwrap().update(&chunk);
        Ok(Bytes::from(chunk))
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

both_backends! {
    async fn a_200_mb_upload_keeps_resident_memory_flat(backend) {
        let _alone = ONE_AT_A_TIME.lock().await;
        let archive = spawn_with(backend, &[("MAX_CONTENT_LENGTH", "268435456")]).await;
        let ada = archive.user("ada@example.com").await;
        let sent = Arc::new(Mutex::new(Sha256::new()));

        let sampler = PeakSampler::start();
        let response = archive
            .upload_stream(&ada, "film.mp4", numbered_chunks(FILE_BYTES, Arc::clone(&sent)))
            .await
            .unwrap();
        let growth = sampler.stop();

        let status = response.status();
        let created = json(response).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["size"], FILE_BYTES);
        assert!(growth < BOUND_BYTES, "resident memory rose by {} MiB", growth >> 20);
        // The service's ETag is the SHA-256 of what it stored.
        let id = created["_id"].as_str().unwrap();
        let head = archive.download(&ada, id).header("Range", "bytes=0-0").send().await.unwrap();
        let sent = hex(&sent.lock().unwrap().clone().finalize());
        assert_eq!(header(&head, "etag"), format!("\"{sent}\""));
    }

    async fn a_200_mb_download_keeps_resident_memory_flat(backend) {
        let _alone = ONE_AT_A_TIME.lock().await;
        let archive = spawn_with(backend, &[("MAX_CONTENT_LENGTH", "268435456")]).await;
        let ada = archive.user("ada@example.com").await;
        let sent = Arc::new(Mutex::new(Sha256::new()));
        let created = json(
            archive
                .upload_stream(&ada, "film.mp4", numbered_chunks(FILE_BYTES, Arc::clone(&sent)))
                .await
                .unwrap(),
        )
        .await;
        let id = created["_id"].as_str().expect("uploaded");

        let sampler = PeakSampler::start();
        let response = archive.download(&ada, id).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-length"), FILE_BYTES.to_string());
        let mut received = Sha256::new();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            received.update(chunk.unwrap());
        }
        let growth = sampler.stop();

        assert_eq!(received.finalize(), sent.lock().unwrap().clone().finalize());
        assert!(growth < BOUND_BYTES, "resident memory rose by {} MiB", growth >> 20);
    }
}
