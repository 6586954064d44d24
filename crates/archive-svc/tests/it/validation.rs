//! Bad requests get a clear JSON error with a 4xx, and leave nothing stored.

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
        .app
        .post(&format!("{PREFIX}/"))
        .bearer_auth(&ada.token)
        .header("Content-Type", "application/json")
        .body(r#"{"file": "x"}"#)
        .send()
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
        .app
        .post(&format!("{PREFIX}/"))
        .bearer_auth(&ada.token)
        .header("Content-Type", Form::new().content_type())
        .body(body)
        .send()
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
