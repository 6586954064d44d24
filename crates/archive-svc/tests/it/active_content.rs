//! Types a browser would render or run (HTML, SVG, XML) are only ever downloaded: attachment,
//! `nosniff`, and a CSP that blocks everything should a browser render them anyway.

use crate::both_backends;
use crate::helpers::*;

const ACTIVE_TYPES: (&str, &str) = ("ARCHIVE_ALLOWED_TYPES", "text/html,image/svg+xml,image/png");
const HTML: &[u8] =
    b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";

async fn served(archive: &Archive, name: &str, declared: &str, bytes: &[u8]) -> reqwest::Response {
    let ada = archive.user("ada@example.com").await;
    let created = archive.upload_ok(&ada, file(name, declared, bytes)).await;
    let id = created["_id"].as_str().unwrap();
    let response = archive.download(&ada, id).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response
}

both_backends! {
    async fn html_is_served_as_a_sandboxed_attachment(backend) {
        let archive = spawn_with(backend, &[ACTIVE_TYPES]).await;
        let response = served(&archive, "page.html", "text/html", HTML).await;
        assert_eq!(header(&response, "content-type"), "text/html; charset=utf-8");
        assert!(header(&response, "content-disposition").starts_with("attachment;"));
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "content-security-policy"), "default-src 'none'; sandbox");
    }

    async fn svg_is_served_as_a_sandboxed_attachment(backend) {
        let archive = spawn_with(backend, &[ACTIVE_TYPES]).await;
        // Declared as a PNG: detection still finds the SVG.
        let response = served(&archive, "logo.png", "image/png", SVG).await;
        assert_eq!(header(&response, "content-type"), "image/svg+xml");
        assert!(header(&response, "content-disposition").starts_with("attachment;"));
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "content-security-policy"), "default-src 'none'; sandbox");
    }
}

#[tokio::test]
async fn inert_types_are_sandboxed_attachments_with_nosniff_too() {
    let inert = ("ARCHIVE_ALLOWED_TYPES", "image/png,text/plain");
    let archive = spawn_with(Backend::GridFs, &[inert]).await;
    // Plain prose first, markup later: detected as text, which may still hold a script.
    let prose = b"Meeting notes, nothing to see here.\n<script>alert(1)</script>";
    for (name, declared, bytes) in [
        ("pixel.png", "image/png", PNG),
        ("notes.txt", "text/plain", &prose[..]),
    ] {
        let response = served(&archive, name, declared, bytes).await;
        assert!(header(&response, "content-disposition").starts_with("attachment;"));
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(
            header(&response, "content-security-policy"),
            "default-src 'none'; sandbox"
        );
    }
}
