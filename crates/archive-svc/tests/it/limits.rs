//! `MAX_CONTENT_LENGTH` and the per-user quota are enforced while the upload streams: past
//! them the upload is cut with 413, and nothing of it remains. An upload the client abandons
//! midway leaves nothing either.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::both_backends;
use crate::helpers::*;

const ONE_MIB: u64 = 1024 * 1024;

both_backends! {
    async fn an_upload_past_the_limit_is_cut_with_413_and_leaves_nothing(backend) {
        let archive = spawn_with(backend, &[("MAX_CONTENT_LENGTH", "1048576")]).await;
        let ada = archive.user("ada@example.com").await;
        // Chunked, so the service only learns the size by reading past the limit.
        let response = archive
            .upload_stream(&ada, "big.mp4", generated(MP4_HEAD, 8 * ONE_MIB, 64 * 1024))
            .await
            .expect("the service answers before the body is over");
        assert_eq!(error_code(response, 413).await, "payload_too_large");
        archive.assert_empty_soon().await;
    }

    async fn an_upload_of_exactly_the_limit_is_stored(backend) {
        let archive = spawn_with(backend, &[("MAX_CONTENT_LENGTH", "1048576")]).await;
        let ada = archive.user("ada@example.com").await;
        let response = archive
            .upload_stream(&ada, "fits.mp4", generated(MP4_HEAD, ONE_MIB, 64 * 1024))
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(json(response).await["size"], ONE_MIB);
    }

    async fn an_upload_abandoned_midway_leaves_nothing(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let broken = generated(MP4_HEAD, 2 * ONE_MIB, 64 * 1024).chain(futures_util::stream::once(
            async { Err::<Bytes, _>(std::io::Error::other("the client went away")) },
        ));
        let outcome = archive.upload_stream(&ada, "cut.mp4", broken).await;
        assert!(outcome.is_err(), "the client could not finish its upload");
        archive.assert_empty_soon().await;
    }

    async fn an_upload_past_the_quota_is_413_and_leaves_nothing_new(backend) {
        let archive = spawn_with(backend, &[("ARCHIVE_QUOTA_BYTES", "1000")]).await;
        let ada = archive.user("ada@example.com").await;
        let first = vec![b'a'; 600];
        archive.upload_ok(&ada, file("a.txt", "text/plain", &first)).await;
        let before = archive.stored().await;
        let response = archive.upload(&ada, file("b.txt", "text/plain", &first)).await;
        assert_eq!(error_code(response, 413).await, "payload_too_large");
        assert_eq!(archive.stored().await, before);
    }
}

#[tokio::test]
async fn a_declared_length_past_the_limit_is_413_before_reading() {
    let archive = spawn_with(Backend::GridFs, &[("MAX_CONTENT_LENGTH", "1024")]).await;
    let ada = archive.user("ada@example.com").await;
    let response = archive
        .app
        .post(&format!("{PREFIX}/"))
        .bearer_auth(&ada.token)
        .header("Content-Type", Form::new().content_type())
        .body(vec![0u8; 4 * ONE_MIB as usize])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response, 413).await, "payload_too_large");
}

#[tokio::test]
async fn the_quota_counts_only_the_users_own_files() {
    let archive = spawn_with(Backend::GridFs, &[("ARCHIVE_QUOTA_BYTES", "1000")]).await;
    let ada = archive.user("ada@example.com").await;
    let eve = archive.user("eve@example.com").await;
    let content = vec![b'a'; 600];
    archive
        .upload_ok(&ada, file("a.txt", "text/plain", &content))
        .await;
    archive
        .upload_ok(&eve, file("e.txt", "text/plain", &content))
        .await;
}

#[tokio::test]
async fn the_quota_cuts_an_upload_before_bytes_its_record_leaves_no_room_for() {
    let archive = spawn_with(Backend::GridFs, &[("ARCHIVE_QUOTA_BYTES", "100000")]).await;
    let ada = archive.user("ada@example.com").await;
    // Bytes that fit the quota alone, not with the record every file also counts; then the
    // client stalls, so only a cut made as the bytes arrive can answer.
    let stalled =
        generated(MP4_HEAD, 100_000 - 100, 16 * 1024).chain(futures_util::stream::pending());
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        archive.upload_stream(&ada, "almost.mp4", stalled),
    )
    .await
    .expect("the quota cut the upload as its bytes arrived")
    .expect("the service answers before the body is over");

    assert_eq!(error_code(answer, 413).await, "payload_too_large");
    archive.assert_empty_soon().await;
}

#[tokio::test]
async fn metadata_and_each_record_count_against_the_quota() {
    // Empty files store no bytes; their metadata (about 1.5 kB each) and records do.
    let archive = spawn_with(Backend::GridFs, &[("ARCHIVE_QUOTA_BYTES", "4096")]).await;
    let ada = archive.user("ada@example.com").await;
    let metadata = format!(r#"{{"note": "{}"}}"#, "x".repeat(1500));
    let empty = || file("empty.txt", "text/plain", b"").metadata(&metadata);
    for _ in 0..2 {
        archive.upload_ok(&ada, empty()).await;
    }
    let before = archive.stored().await;
    let response = archive.upload(&ada, empty()).await;
    assert_eq!(error_code(response, 413).await, "payload_too_large");
    assert_eq!(archive.stored().await, before);
}

#[tokio::test]
async fn deleting_a_file_frees_its_quota() {
    let archive = spawn_with(Backend::GridFs, &[("ARCHIVE_QUOTA_BYTES", "1000")]).await;
    let ada = archive.user("ada@example.com").await;
    let content = vec![b'a'; 600];
    let first = archive
        .upload_ok(&ada, file("a.txt", "text/plain", &content))
        .await;
    assert_eq!(
        archive
            .delete(&ada, first["_id"].as_str().unwrap())
            .await
            .status(),
        200
    );
    archive
        .upload_ok(&ada, file("b.txt", "text/plain", &content))
        .await;
}

/// `len` bytes of text, then a pause of a second before the last byte.
fn slow_text(len: usize) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::iter([false, true]).then(move |late| async move {
        if late {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            return Ok(Bytes::from_static(b"b"));
        }
        Ok(Bytes::from(vec![b'a'; len]))
    })
}

#[tokio::test]
async fn uploads_racing_for_the_last_room_are_never_both_kept() {
    let archive = spawn_with(Backend::GridFs, &[("ARCHIVE_QUOTA_BYTES", "100000")]).await;
    let ada = archive.user("ada@example.com").await;
    // Both start while nothing is stored, so each may stream almost 100,000 bytes; together they
    // need 120,002.
    let (a, b) = tokio::join!(
        archive.upload_stream(&ada, "a.txt", slow_text(60_000)),
        archive.upload_stream(&ada, "b.txt", slow_text(60_000)),
    );
    // A refusal may come while the body is still being sent: count it as 413.
    let status =
        |sent: reqwest::Result<reqwest::Response>| sent.map_or(413, |r| r.status().as_u16());
    let statuses = [status(a), status(b)];
    assert!(statuses.contains(&413), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [201, 413].contains(s)),
        "{statuses:?}"
    );
    let kept = statuses.iter().filter(|s| **s == 201).count() as u64;
    let stored = archive.stored().await;
    assert_eq!(stored.records, kept);
    // One GridFS files document and one chunk (60,001 bytes < 255 KiB) per kept file.
    assert_eq!(stored.blobs, 2 * kept);

    // What was refused no longer counts: a file that fits the room left is taken.
    let room = if kept == 1 { 39_000 } else { 60_000 };
    archive
        .upload_ok(&ada, file("c.txt", "text/plain", &vec![b'c'; room]))
        .await;
}
