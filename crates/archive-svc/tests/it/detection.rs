//! The stored type comes from the content (magic bytes, then a text check), never from the
//! client's `Content-Type`; the allow-list applies to what was detected.

use crate::both_backends;
use crate::helpers::*;

both_backends! {
    async fn the_detected_type_beats_a_lying_content_type(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let created = archive.upload_ok(&ada, file("notes.txt", "text/plain", PNG)).await;
        assert_eq!(created["mimetype"], "image/png");
        let id = created["_id"].as_str().unwrap();
        let response = archive.download(&ada, id).send().await.unwrap();
        assert_eq!(header(&response, "content-type"), "image/png");
    }

    async fn a_disallowed_type_is_415_and_leaves_nothing(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        // An ELF executable announced as a picture.
        let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0";
        let response = archive.upload(&ada, file("cat.png", "image/png", elf)).await;
        assert_eq!(error_code(response, 415).await, "unsupported_media_type");
        assert_eq!(archive.stored().await, Stored::default());
    }
}

#[tokio::test]
async fn a_mismatch_between_declared_and_detected_type_is_recorded() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let created = archive
        .upload_ok(&ada, file("report.pdf", "application/pdf", PNG))
        .await;
    assert_eq!(created["mimetype"], "image/png");
    assert_eq!(created["declared_mimetype"], "application/pdf");
    let record = archive.record(created["_id"].as_str().unwrap()).await;
    assert_eq!(
        record.get_str("declared_mimetype").unwrap(),
        "application/pdf"
    );
}

#[tokio::test]
async fn html_is_refused_by_default_even_when_declared_as_text() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
    let response = archive
        .upload(&ada, file("readme.txt", "text/plain", html))
        .await;
    assert_eq!(error_code(response, 415).await, "unsupported_media_type");
}

#[tokio::test]
async fn random_bytes_are_octet_stream_and_refused_by_default() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let response = archive
        .upload(
            &ada,
            file("a.png", "image/png", &[0, 159, 146, 150, 255, 0, 1]),
        )
        .await;
    assert_eq!(error_code(response, 415).await, "unsupported_media_type");
}

#[tokio::test]
async fn plain_utf8_is_text_whatever_was_declared() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let created = archive
        .upload_ok(
            &ada,
            file("a.pdf", "application/pdf", "héllo wörld\n".as_bytes()),
        )
        .await;
    assert_eq!(created["mimetype"], "text/plain");
    let id = created["_id"].as_str().unwrap();
    let response = archive.download(&ada, id).send().await.unwrap();
    assert_eq!(
        header(&response, "content-type"),
        "text/plain; charset=utf-8"
    );
}

#[tokio::test]
async fn the_allow_list_is_configurable() {
    let archive = spawn_with(Backend::GridFs, &[("ARCHIVE_ALLOWED_TYPES", "text/plain")]).await;
    let ada = archive.user("ada@example.com").await;
    let response = archive.upload(&ada, file("p.png", "image/png", PNG)).await;
    assert_eq!(error_code(response, 415).await, "unsupported_media_type");
    archive
        .upload_ok(&ada, file("a.txt", "text/plain", b"hello"))
        .await;
}
