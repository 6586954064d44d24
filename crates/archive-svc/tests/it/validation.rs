//! Bad requests get a clear JSON error with a 4xx, and leave nothing stored.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::helpers::*;

#[tokio::test]
async fn metadata_that_is_not_json_is_400_and_leaves_nothing() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    // The file comes first, so its blob is already written when the metadata is refused.
    let form = file("pixel.png", "image/png", PNG).metadata("{not json");
    let response = archive.upload(&ada, form).await;
    assert_eq!(error_code(response, 400).await, "bad_request");
    assert_eq!(archive.stored().await, Stored::default());
}

#[tokio::test]
async fn metadata_with_an_operator_key_is_400() {
    let archive = spawn(Backend::Local).await;
    let ada = archive.user("ada@example.com").await;
    let form = file("pixel.png", "image/png", PNG).metadata(r#"{"a": {"$set": {"x": 1}}}"#);
    let response = archive.upload(&ada, form).await;
    assert_eq!(error_code(response, 400).await, "bad_request");
    assert_eq!(archive.stored().await, Stored::default());
}

#[tokio::test]
async fn metadata_that_is_not_an_object_is_400() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let form = Form::new()
        .metadata(r#"["a", "b"]"#)
        .file("pixel.png", "image/png", PNG);
    let response = archive.upload(&ada, form).await;
    assert_eq!(error_code(response, 400).await, "bad_request");
}

#[tokio::test]
async fn a_form_without_a_file_is_400() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let response = archive
        .upload(&ada, Form::new().metadata(r#"{"a": 1}"#))
        .await;
    assert_eq!(error_code(response, 400).await, "bad_request");
}

#[tokio::test]
async fn a_form_with_two_files_is_400_and_leaves_nothing() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let form = file("a.png", "image/png", PNG).file("b.png", "image/png", PNG);
    let response = archive.upload(&ada, form).await;
    assert_eq!(error_code(response, 400).await, "bad_request");
    assert_eq!(archive.stored().await, Stored::default());
}

#[tokio::test]
async fn a_body_that_is_not_multipart_is_415() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let response = archive
        .post_upload(&ada, "application/json", r#"{"file": "x"}"#)
        .await
        .unwrap();
    assert_eq!(error_code(response, 415).await, "unsupported_media_type");
}

#[tokio::test]
async fn a_truncated_multipart_body_is_400_and_leaves_nothing() {
    let archive = spawn(Backend::Local).await;
    let ada = archive.user("ada@example.com").await;
    let mut body = file("pixel.png", "image/png", PNG).into_body();
    body.truncate(body.len() - 30);
    let response = archive
        .post_upload(&ada, &Form::new().content_type(), body)
        .await
        .unwrap();
    assert_eq!(error_code(response, 400).await, "bad_request");
    assert_eq!(archive.stored().await, Stored::default());
}

#[tokio::test]
async fn an_upload_without_a_session_is_401() {
    let archive = spawn(Backend::GridFs).await;
    let form = file("pixel.png", "image/png", PNG);
    let response = archive
        .app
        .post(&format!("{PREFIX}/"))
        .header("Content-Type", form.content_type())
        .body(form.into_body())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response, 401).await, "unauthorized");
}

#[tokio::test]
async fn a_reference_that_is_not_an_id_is_404() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    for reference in ["nope", "..%2F..%2Fetc%2Fpasswd", "000000000000000000000000"] {
        let response = archive.download(&ada, reference).send().await.unwrap();
        assert_eq!(error_code(response, 404).await, "not_found", "{reference}");
    }
}

#[tokio::test]
async fn an_error_body_has_the_documented_shape() {
    let archive = spawn(Backend::GridFs).await;
    let ada = archive.user("ada@example.com").await;
    let response = archive
        .app
        .post(&format!("{PREFIX}/"))
        .bearer_auth(&ada.token)
        .header("X-Request-Id", "archive-test-1")
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(
        json(response).await,
        serde_json::json!({
            "error": {
                "code": "unsupported_media_type",
                "message": "the body must be multipart/form-data with a `file` field",
            },
            "request_id": "archive-test-1",
        })
    );
}

/// actix-multipart 0.7 sliced a body against a boundary shorter than four bytes out of range
/// and panicked, which aborts a release build: any signed-in user could stop the service.
#[tokio::test]
async fn a_short_or_empty_boundary_is_400_and_the_service_lives_on() {
    let archive = spawn(Backend::Local).await;
    let ada = archive.user("ada@example.com").await;
    let cases = [
        ("a", "\n"),
        ("ab", "--\n"),
        ("\"\"", "\n"),
        ("abc", "--abc"),
    ];
    for (boundary, body) in cases {
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let response = archive
            .post_upload(&ada, &content_type, body)
            .await
            .unwrap_or_else(|e| panic!("boundary {boundary:?}: the connection failed: {e}"));
        assert_eq!(response.status(), 400, "boundary {boundary:?}");
    }
    archive
        .upload_ok(&ada, file("pixel.png", "image/png", PNG))
        .await;
}

/// A read that ends right after the `\r\n--` of the delimiter behind the file must not make
/// those bytes, or the parts after them, part of the file (actix-multipart 0.7 did).
#[tokio::test]
async fn a_delimiter_split_across_reads_ends_the_file_where_it_should() {
    let archive = spawn(Backend::Local).await;
    let ada = archive.user("ada@example.com").await;
    let body = file("pixel.png", "image/png", PNG)
        .metadata(r#"{"a": 1}"#)
        .into_body();
    let delimiter = format!("\r\n--{BOUNDARY}");
    let file_start = body
        .windows(PNG.len())
        .position(|w| w == PNG)
        .expect("the file is in the body");
    let split = file_start
        + PNG.len()
        + body[file_start + PNG.len()..]
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_bytes())
            .expect("a delimiter follows the file")
        + 4;
    let (head, tail) = (
        Bytes::copy_from_slice(&body[..split]),
        Bytes::copy_from_slice(&body[split..]),
    );
    let chunks = futures_util::stream::once(async { Ok::<_, std::io::Error>(head) }).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Ok(tail)
        }),
    );
    let response = archive
        .post_upload(
            &ada,
            &Form::new().content_type(),
            reqwest::Body::wrap_stream(chunks),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created = json(response).await;
    assert_eq!(created["size"], PNG.len(), "{created}");
    assert_eq!(
        created["metadata"],
        serde_json::json!({"a": 1}),
        "{created}"
    );
    let id = created["_id"].as_str().expect("an id").to_owned();
    assert_eq!(archive.download_bytes(&ada, &id).await, PNG);
}

/// Part headers that never end are refused once they pass the parser's buffer, while the body
/// is still coming, rather than held (and searched again) until all of it has arrived.
#[tokio::test]
async fn part_headers_that_never_end_are_400_before_the_body_ends() {
    let archive = spawn(Backend::Local).await;
    let ada = archive.user("ada@example.com").await;
    let mut head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\nX-Pad: "
    )
    .into_bytes();
    head.resize(head.len() + 1024 * 1024, b'a');
    // The body then stays open: only a limit can answer before it ends.
    let body = futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::from(head)) })
        .chain(futures_util::stream::pending());
    let content_type = Form::new().content_type();
    let request = archive.post_upload(&ada, &content_type, reqwest::Body::wrap_stream(body));
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), request)
        .await
        .expect("an answer while the body is still open")
        .unwrap();
    assert_eq!(error_code(response, 400).await, "bad_request");
    assert_eq!(archive.stored().await, Stored::default());
}
