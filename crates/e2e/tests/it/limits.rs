//! The gateway's default body limits against the services' own file limits: a file each
//! service accepts must not be refused by the gateway in front of it first.

use test_support::multipart::Form;

use crate::helpers::*;

/// generation-svc's default `GENERATION_FILE_MAX_BYTES`.
const GENERATION_FILE_MAX_BYTES: usize = 32 * 1024 * 1024;

/// A PDF (typed by its first bytes) of exactly `size` bytes.
fn pdf_of(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.resize(size, b' ');
    bytes
}

async fn upload_to_generation(stack: &Stack, file: &[u8]) -> reqwest::Response {
    let form = Form::new().file("report.pdf", "application/pdf", file);
    client()
        .post(stack.url("/service/generation/v1/file"))
        .header("X-API-Key", API_KEY)
        .header("Content-Type", form.content_type())
        .body(form.into_body())
        .send()
        .await
        .expect("the gateway answers")
}

#[tokio::test]
async fn a_file_at_generations_own_limit_passes_the_gateways_defaults() {
    let stack = Stack::start().await;

    let at_limit = upload_to_generation(&stack, &pdf_of(GENERATION_FILE_MAX_BYTES)).await;
    let status = at_limit.status();
    let body = json(at_limit).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["fileData"]["sizeBytes"],
        GENERATION_FILE_MAX_BYTES.to_string(),
        "Gemini got the whole file: {body}"
    );

    // One byte more is the service's refusal (it names its own limit), not the gateway's.
    let over = upload_to_generation(&stack, &pdf_of(GENERATION_FILE_MAX_BYTES + 1)).await;
    assert_eq!(over.status(), 413);
    let body = json(over).await;
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(message, "the file is larger than 33554432 bytes");
}
