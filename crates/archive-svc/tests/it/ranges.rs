//! HTTP Range requests (RFC 9110 §14): one range is 206 with `Content-Range`, a range outside
//! the file or a malformed one is 416 with `Content-Range: bytes */<size>`.

use crate::both_backends;
use crate::helpers::*;

/// A file of 600 KiB + 7 bytes (three GridFS chunks) and its id.
async fn uploaded(archive: &Archive, ada: &test_support::SignedIn) -> (Vec<u8>, String) {
    let content = collect(generated(MP4_HEAD, 600 * 1024 + 7, 64 * 1024)).await;
    let created = archive
        .upload_ok(ada, file("clip.mp4", "video/mp4", &content))
        .await;
    (content, created["_id"].as_str().unwrap().to_owned())
}

both_backends! {
    async fn a_range_across_chunks_is_206_with_exactly_those_bytes(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let (content, id) = uploaded(&archive, &ada).await;
        let (start, end) = (250_000usize, 530_000usize);
        let response = archive
            .download(&ada, &id)
            .header("Range", format!("bytes={start}-{end}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 206);
        assert_eq!(
            header(&response, "content-range"),
            format!("bytes {start}-{end}/{}", content.len())
        );
        assert_eq!(header(&response, "content-length"), (end - start + 1).to_string());
        assert_eq!(response.bytes().await.unwrap(), &content[start..=end]);
    }

    async fn a_suffix_range_returns_the_last_bytes(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let (content, id) = uploaded(&archive, &ada).await;
        let response = archive.download(&ada, &id).header("Range", "bytes=-100").send().await.unwrap();
        assert_eq!(response.status(), 206);
        assert_eq!(response.bytes().await.unwrap(), &content[content.len() - 100..]);
    }

    async fn an_open_range_returns_the_rest_of_the_file(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let (content, id) = uploaded(&archive, &ada).await;
        let response = archive.download(&ada, &id).header("Range", "bytes=614390-").send().await.unwrap();
        assert_eq!(response.status(), 206);
        assert_eq!(response.bytes().await.unwrap(), &content[614_390..]);
    }

    async fn a_range_past_the_end_is_416(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let (content, id) = uploaded(&archive, &ada).await;
        let response = archive
            .download(&ada, &id)
            .header("Range", format!("bytes={}-", content.len()))
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, "content-range"), format!("bytes */{}", content.len()));
        assert_eq!(error_code(response, 416).await, "range_not_satisfiable");
    }
}

#[tokio::test]
async fn a_malformed_range_is_416() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let (_, id) = uploaded(&archive, &ada).await;
    // The last: several ranges, none inside the file.
    for bad in [
        "bytes=9-3",
        "bytes=x-1",
        "bytes",
        "bytes=700000-700001, 800000-",
    ] {
        let response = archive
            .download(&ada, &id)
            .header("Range", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(response, 416).await,
            "range_not_satisfiable",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn downloads_advertise_byte_ranges() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let (_, id) = uploaded(&archive, &ada).await;
    let response = archive.download(&ada, &id).send().await.unwrap();
    assert_eq!(header(&response, "accept-ranges"), "bytes");
}

#[tokio::test]
async fn a_range_with_a_stale_if_range_gets_the_whole_file() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let (content, id) = uploaded(&archive, &ada).await;
    let response = archive
        .download(&ada, &id)
        .header("Range", "bytes=0-9")
        .header("If-Range", "\"some-older-version\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), content.len());
}
