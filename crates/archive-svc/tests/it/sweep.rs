//! What a crash leaves behind (a partial blob, or a complete one whose record was never
//! written) is removed once it is older than `ARCHIVE_SWEEP_AFTER_SECS`; blobs with a record,
//! and young blobs that may belong to an upload in progress, are kept. The leftovers are
//! planted beside the service as a killed process would leave them.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use mongodb::bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, DateTime, Document};

use crate::both_backends;
use crate::helpers::*;

/// A fresh ObjectId that looks `age` old.
fn id_aged(age: Duration) -> ObjectId {
    let seconds = (SystemTime::now() - age)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let mut bytes = ObjectId::new().bytes();
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    ObjectId::from_bytes(bytes)
}

/// Leaves blob `id` as a crash would: `complete` (closed, but never recorded) or partial
/// (the process died while the upload streamed).
async fn plant(archive: &Archive, id: ObjectId, complete: bool) {
    match &archive.dir {
        Some(dir) => {
            let name = if complete {
                id.to_hex()
            } else {
                format!("{}.part", id.to_hex())
            };
            std::fs::write(dir.path().join(name), PNG).unwrap();
        }
        None => {
            let db = &archive.app.database;
            let data = Binary {
                subtype: BinarySubtype::Generic,
                bytes: PNG.to_vec(),
            };
            db.collection::<Document>("_ARCHIVE.chunks")
                .insert_one(doc! { "files_id": id, "n": 0, "data": data })
                .await
                .unwrap();
            if complete {
                db.collection::<Document>("_ARCHIVE.files")
                    .insert_one(doc! {
                        "_id": id,
                        "length": PNG.len() as i64,
                        "chunkSize": 261_120,
                        "uploadDate": DateTime::now(),
                        "filename": id.to_hex(),
                    })
                    .await
                    .unwrap();
            }
        }
    }
}

/// Whether anything of blob `id` is stored.
async fn present(archive: &Archive, id: ObjectId) -> bool {
    match &archive.dir {
        Some(dir) => {
            let path = dir.path().join(id.to_hex());
            path.exists() || path.with_extension("part").exists()
        }
        None => {
            let db = &archive.app.database;
            let files = db.collection::<Document>("_ARCHIVE.files");
            let chunks = db.collection::<Document>("_ARCHIVE.chunks");
            files.count_documents(doc! { "_id": id }).await.unwrap()
                + chunks
                    .count_documents(doc! { "files_id": id })
                    .await
                    .unwrap()
                > 0
        }
    }
}

/// Waits until none of `ids` is stored, for at most `within`.
async fn wait_until_gone(archive: &Archive, ids: &[ObjectId], within: Duration) {
    let deadline = Instant::now() + within;
    for id in ids {
        while present(archive, *id).await {
            assert!(Instant::now() < deadline, "leftover {id} was not swept");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

both_backends! {
    async fn leftovers_are_swept_once_of_age_and_recorded_files_kept(backend) {
        let archive = spawn_with(
            backend,
            &[("ARCHIVE_SWEEP_AFTER_SECS", "10"), ("ARCHIVE_SWEEP_EVERY_SECS", "1")],
        )
        .await;
        let ada = archive.user("ada@example.com").await;
        let kept = archive.upload_ok(&ada, file("kept.png", "image/png", PNG)).await;
        let before = archive.stored().await;
        let (partial, unrecorded) = (ObjectId::new(), ObjectId::new());
        plant(&archive, partial, false).await;
        plant(&archive, unrecorded, true).await;

        wait_until_gone(&archive, &[partial, unrecorded], Duration::from_secs(30)).await;
        // The recorded file, older than the sweep age by now, is whole.
        assert_eq!(archive.stored().await, before);
        let id = kept["_id"].as_str().unwrap();
        assert_eq!(archive.download_bytes(&ada, id).await, PNG);
    }

    async fn a_replica_starting_sweeps_old_leftovers_and_keeps_young_blobs(backend) {
        let first = spawn(backend).await;
        let ada = first.user("ada@example.com").await;
        let kept = first.upload_ok(&ada, file("kept.png", "image/png", PNG)).await;
        let two_days = Duration::from_secs(2 * 24 * 60 * 60);
        let old = [id_aged(two_days), id_aged(two_days)];
        let young = [ObjectId::new(), ObjectId::new()];
        for (id, complete) in [(old[0], false), (old[1], true), (young[0], false), (young[1], true)] {
            plant(&first, id, complete).await;
        }
        // An old blob with its record is a stored file, not a leftover.
        let old_recorded = id_aged(two_days);
        plant(&first, old_recorded, true).await;
        first
            .app
            .database
            .collection::<Document>("_ARCHIVE")
            .insert_one(doc! { "_id": old_recorded, "owner": "someone", "size": PNG.len() as i64 })
            .await
            .unwrap();

        let database = first.app.database.name().to_owned();
        let dir = first.dir.as_ref().map(|d| d.path().to_string_lossy().into_owned());
        let mut shared = vec![("MONGODB_DATABASE", database.as_str())];
        if let Some(dir) = &dir {
            shared.push(("ARCHIVE_LOCAL_DIR", dir.as_str()));
        }
        let _second = spawn_with(backend, &shared).await;

        wait_until_gone(&first, &old, Duration::from_secs(10)).await;
        for id in young {
            assert!(present(&first, id).await, "young blob {id} was removed");
        }
        assert!(present(&first, old_recorded).await, "a recorded file was removed");
        let id = kept["_id"].as_str().unwrap();
        assert_eq!(first.download_bytes(&ada, id).await, PNG);
    }

    async fn an_upload_outliving_half_the_sweep_age_is_408_and_leaves_nothing(backend) {
        let archive = spawn_with(backend, &[("ARCHIVE_SWEEP_AFTER_SECS", "10")]).await;
        let ada = archive.user("ada@example.com").await;
        // More than the type detection reads first and than one GridFS chunk (255 KiB), so
        // the blob is started and has bytes stored before the pause.
        let mut head = PNG.to_vec();
        head.resize(300 * 1024, 0);
        let slow = futures_util::stream::iter([false, true]).then(move |late| {
            let head = head.clone();
            async move {
                if late {
                    // Stalled: the service must not wait for the client to go on.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return Ok::<_, std::io::Error>(Bytes::from_static(PNG));
                }
                Ok(Bytes::from(head))
            }
        });
        let upload = archive.upload_stream(&ada, "slow.png", slow);
        let response = tokio::time::timeout(Duration::from_secs(20), upload)
            .await
            .expect("answered at half the sweep age, not when the client went on")
            .unwrap();
        assert_eq!(response.status(), 408);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "request_timeout");
        archive.assert_empty_soon().await;
    }
}
