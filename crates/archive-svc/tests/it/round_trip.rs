//! Upload, download and delete: bytes come back exactly, the answers have the documented
//! shapes, and delete removes blob and record together.

use crate::both_backends;
use crate::helpers::*;

both_backends! {
    async fn a_binary_file_comes_back_byte_for_byte(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        // Every byte value, across several GridFS chunks (255 KiB each) and an odd tail.
        let content = collect(generated(MP4_HEAD, 700 * 1024 + 13, 64 * 1024)).await;
        let created = archive.upload_ok(&ada, file("clip.mp4", "video/mp4", &content)).await;
        let id = created["_id"].as_str().unwrap();
        assert_eq!(archive.download_bytes(&ada, id).await, content);
    }

    async fn an_upload_answers_with_the_documented_shape(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let form = file("pixel.png", "image/png", PNG)
            .metadata(r#"{"description": "a pixel", "tags": ["tiny"], "n": 1}"#);
        let created = archive.upload_ok(&ada, form).await;
        assert_eq!(created["_id"].as_str().unwrap().len(), 24);
        assert_eq!(created["filename"], "pixel.png");
        assert_eq!(created["mimetype"], "image/png");
        assert_eq!(created["size"], PNG.len());
        assert_eq!(
            created["metadata"],
            serde_json::json!({"description": "a pixel", "tags": ["tiny"], "n": 1})
        );
        let uploaded_at = created["uploaded_at"].as_str().unwrap();
        assert!(uploaded_at.starts_with("20") && uploaded_at.ends_with('Z'), "{uploaded_at}");
        for hidden in ["filepath", "_owner", "sha256"] {
            assert!(created.get(hidden).is_none(), "{hidden} leaked: {created}");
        }
    }

    async fn an_empty_file_is_stored_and_served(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let created = archive.upload_ok(&ada, file("empty.txt", "text/plain", b"")).await;
        assert_eq!(created["size"], 0);
        assert_eq!(created["mimetype"], "text/plain");
        let id = created["_id"].as_str().unwrap();
        assert!(archive.download_bytes(&ada, id).await.is_empty());
    }

    async fn delete_removes_the_blob_and_the_record(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let created = archive.upload_ok(&ada, file("pixel.png", "image/png", PNG)).await;
        let id = created["_id"].as_str().unwrap();
        let response = archive.delete(&ada, id).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            json(response).await,
            serde_json::json!({"deleted": true, "file_id": id, "message": "File deleted successfully"})
        );
        assert_eq!(archive.stored().await, Stored::default());
    }

    async fn a_deleted_file_is_gone(backend) {
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let created = archive.upload_ok(&ada, file("pixel.png", "image/png", PNG)).await;
        let id = created["_id"].as_str().unwrap();
        assert_eq!(archive.delete(&ada, id).await.status(), 200);
        let download = archive.download(&ada, id).send().await.unwrap();
        assert_eq!(error_code(download, 404).await, "not_found");
        assert_eq!(error_code(archive.delete(&ada, id).await, 404).await, "not_found");
    }
}

#[tokio::test]
async fn a_download_is_revalidated_with_its_etag() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let created = archive
        .upload_ok(&ada, file("pixel.png", "image/png", PNG))
        .await;
    let id = created["_id"].as_str().unwrap();
    let first = archive.download(&ada, id).send().await.unwrap();
    let etag = header(&first, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = archive
        .download(&ada, id)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    // A cache may send it back as a weak validator.
    let weak = archive
        .download(&ada, id)
        .header("If-None-Match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 304);
}

both_backends! {
    async fn a_download_racing_a_delete_is_whole_or_404(backend) {
        // The download may read the record just before the delete removes it, and the blob
        // just after: that is a file that is gone, not a server error.
        let archive = spawn(backend).await;
        let ada = archive.user("ada@example.com").await;
        let mut statuses = std::collections::BTreeMap::new();
        for _ in 0..40 {
            let created = archive.upload_ok(&ada, file("pixel.png", "image/png", PNG)).await;
            let id = created["_id"].as_str().unwrap();
            let (download, deleted) =
                tokio::join!(archive.download(&ada, id).send(), archive.delete(&ada, id));
            assert_eq!(deleted.status(), 200);
            let download = download.unwrap();
            let status = download.status().as_u16();
            *statuses.entry(status).or_insert(0) += 1;
            match status {
                200 => assert_eq!(download.bytes().await.unwrap(), PNG),
                _ => assert_eq!(error_code(download, 404).await, "not_found"),
            }
        }
        assert!(statuses.keys().all(|s| [200, 404].contains(s)), "{statuses:?}");
    }
}
