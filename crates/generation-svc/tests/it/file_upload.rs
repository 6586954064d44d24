//! `POST /file`: a multipart file goes to the Gemini Files API by its resumable upload
//! protocol, typed from its bytes, and comes back as the original's `{"fileData": {...}}`.

use futures_util::StreamExt;
use serde_json::Value;
use test_support::fake_gemini::{CHUNK_GRANULARITY, FAKE_GEMINI_KEY};
use test_support::multipart::{Form, BOUNDARY};

use crate::helpers::*;

/// `n` bytes of a PDF: its header, then filler.
fn pdf_of(n: usize) -> Vec<u8> {
    let mut bytes = PDF.to_vec();
    bytes.resize(n, b'x');
    bytes
}

#[tokio::test]
async fn an_image_is_uploaded_and_described_as_file_data() {
    let app = spawn_app().await;

    let response = app
        .upload(PNG, "uploaded_image.png", None)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let file = &body["fileData"];
    assert_eq!(file["mimeType"], "image/png");
    assert_eq!(file["displayName"], "uploaded_image.png");
    assert_eq!(file["sizeBytes"], PNG.len().to_string());
    let name = file["name"].as_str().unwrap();
    let id = name.strip_prefix("files/").unwrap();
    assert_eq!(file["fileUri"], format!("{FILES_URI_PREFIX}{id}"));
    assert_eq!(file["uri"], file["fileUri"]);
    assert!(file["sha256Hash"].is_string() && file["expirationTime"].is_string());
    assert_eq!(app.gemini.file(name).unwrap().bytes, PNG);
}

#[tokio::test]
async fn the_upload_follows_the_resumable_protocol() {
    let app = spawn_app().await;

    let response = app.upload(PNG, "cat.png", None).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let requests = app.gemini.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let start = &requests[0];
    assert_eq!(start.path, "/upload/v1beta/files");
    assert_eq!(start.header("x-goog-api-key"), Some(FAKE_GEMINI_KEY));
    assert_eq!(start.header("x-goog-upload-protocol"), Some("resumable"));
    assert_eq!(start.header("x-goog-upload-command"), Some("start"));
    assert_eq!(
        start.header("x-goog-upload-header-content-type"),
        Some("image/png")
    );
    let length = PNG.len().to_string();
    assert_eq!(
        start.header("x-goog-upload-header-content-length"),
        Some(length.as_str())
    );
    assert_eq!(start.json()["file"]["displayName"], "cat.png");
    let finish = &requests[1];
    assert_eq!(
        finish.header("x-goog-upload-command"),
        Some("upload, finalize")
    );
    assert_eq!(finish.header("x-goog-upload-offset"), Some("0"));
    assert_eq!(finish.body, PNG);
}

#[tokio::test]
async fn a_pdf_is_uploaded_as_a_pdf_whatever_its_name() {
    let app = spawn_app().await;

    let response = app.upload(PDF, "report.png", None).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["fileData"]["mimeType"], "application/pdf");
}

#[tokio::test]
async fn a_large_file_is_sent_in_chunks_at_increasing_offsets() {
    let app = spawn_app_with(&[("GENERATION_UPLOAD_CHUNK_BYTES", "262144")]).await;
    let bytes = pdf_of(2 * CHUNK_GRANULARITY + 1000);

    let response = app.upload(&bytes, "big.pdf", None).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let requests = app.gemini.requests();
    let commands: Vec<(Option<&str>, Option<&str>)> = requests[1..]
        .iter()
        .map(|r| {
            (
                r.header("x-goog-upload-command"),
                r.header("x-goog-upload-offset"),
            )
        })
        .collect();
    assert_eq!(
        commands,
        [
            (Some("upload"), Some("0")),
            (Some("upload"), Some("262144")),
            (Some("upload, finalize"), Some("524288")),
        ]
    );
    let body: Value = response.json().await.unwrap();
    let name = body["fileData"]["name"].as_str().unwrap();
    assert_eq!(app.gemini.file(name).unwrap().bytes, bytes);
}

/// The file lives in the client's own project, so no owner is recorded here.
#[tokio::test]
async fn the_clients_key_sent_after_the_file_is_used() {
    let app = spawn_app().await;

    let response = app
        .upload(PNG, "cat.png", Some(CLIENT_KEY))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(
        app.gemini.requests()[0].header("x-goog-api-key"),
        Some(CLIENT_KEY)
    );
    assert!(app.gemini.requests()[0].json()["file"]
        .get("name")
        .is_none());
    assert!(app.file_records().await.is_empty());
}

#[tokio::test]
async fn a_text_document_is_typed_by_its_extension() {
    let app = spawn_app().await;

    let response = app
        .upload(b"def main():\n    print('hi')\n", "main.py", None)
        .send()
        .await
        .unwrap();

    let body: Value = response.json().await.unwrap();
    assert_eq!(body["fileData"]["mimeType"], "text/x-python");
}

#[tokio::test]
async fn a_file_over_the_limit_is_413_and_nothing_is_uploaded() {
    let app = spawn_app_with(&[("GENERATION_FILE_MAX_BYTES", "1000")]).await;

    let response = app
        .upload(&pdf_of(5000), "big.pdf", None)
        .send()
        .await
        .unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn an_unsupported_type_is_415_and_nothing_is_uploaded() {
    let app = spawn_app().await;
    let zip = b"PK\x03\x04\x14\0\0\0\x08\0some zipped bytes";

    let response = app.upload(zip, "notes.txt", None).send().await.unwrap();

    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (415, "unsupported_media_type"));
    assert!(message.contains("application/zip"), "{message}");
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn an_unsupported_type_is_415_before_the_rest_of_the_file_arrives() {
    let app = spawn_app().await;
    let mut head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\n"
    )
    .into_bytes();
    head.extend_from_slice(b"PK\x03\x04\x14\0\0\0\x08\0");
    head.resize(head.len() + 64 * 1024, b'z');
    // The body then stays open: only the type check can answer before it ends.
    let body = futures_util::stream::once(async { Ok::<_, std::io::Error>(head) })
        .chain(futures_util::stream::pending());
    let request = app
        .post("/service/generation/v1/file")
        .header("Content-Type", Form::new().content_type())
        .body(reqwest::Body::wrap_stream(body))
        .send();

    let response = tokio::time::timeout(std::time::Duration::from_secs(10), request)
        .await
        .expect("an answer while the file is still arriving")
        .unwrap();

    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (415, "unsupported_media_type"));
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_form_without_a_file_is_refused() {
    let app = spawn_app().await;
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{CLIENT_KEY}\r\n--{boundary}--\r\n"
    );

    let response = app
        .post("/service/generation/v1/file")
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "`file` is required");
}

#[tokio::test]
async fn an_empty_file_is_refused() {
    let app = spawn_app().await;

    let response = app.upload(b"", "empty.txt", None).send().await.unwrap();

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "the file is empty");
}

#[tokio::test]
async fn a_body_that_is_not_multipart_is_415() {
    let app = spawn_app().await;

    let response = app
        .post("/service/generation/v1/file")
        .header("Content-Type", "image/png")
        .body(PNG)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 415);
    assert_eq!(app.gemini.hits(), 0);
}

#[tokio::test]
async fn a_failed_upload_start_is_mapped_like_any_gemini_error() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Status(429));

    let response = app.upload(PNG, "cat.png", None).send().await.unwrap();

    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "37");
}

#[tokio::test]
async fn a_failure_mid_upload_is_a_502_and_no_file_is_answered() {
    let app = spawn_app_with(&[("GENERATION_UPLOAD_CHUNK_BYTES", "262144")]).await;
    // The start succeeds; the first chunk fails.
    app.gemini
        .fail_next(Failure::Delay(std::time::Duration::ZERO));
    app.gemini.fail_next(Failure::Status(503));

    let response = app
        .upload(&pdf_of(CHUNK_GRANULARITY + 10), "big.pdf", None)
        .send()
        .await
        .unwrap();

    let (status, _, _) = error_of(response).await;
    assert_eq!(status, 502);
}

#[tokio::test]
async fn a_refused_upload_does_not_repeat_the_clients_key() {
    let app = spawn_app().await;
    app.gemini.fail_next(Failure::Message(
        400,
        format!("API key {CLIENT_KEY} not valid. Please pass a valid API key."),
    ));

    let response = app
        .upload(PNG, "cat.png", Some(CLIENT_KEY))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(!text.contains(CLIENT_KEY), "{text}");
}
