use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_before_it_is_read() {
    let (gateway, upstream) = gateway_with(&[("BODY_LIMIT_BYTES", "1024")]).await;
    let response = gateway
        .post("/service/storage/v1/things")
        .body(vec![b'a'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(json(response).await["error"]["code"], "payload_too_large");
    assert_eq!(upstream.hits(), 0);

    // Declared but never sent: the answer cannot have waited for the body.
    let mut stream = tokio::net::TcpStream::connect(gateway.host_port())
        .await
        .unwrap();
    let head = format!("POST /service/storage/v1/things HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nContent-Length: 1048576\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await;
    let n = read.expect("answered without the body").unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 413"),
        "{:?}",
        String::from_utf8_lossy(&answer[..n])
    );
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_cut_with_413() {
    let (gateway, _upstream) = gateway_with(&[("BODY_LIMIT_BYTES", "1024")]).await;
    assert_eq!(post_streamed_8_kib(&gateway).await.status(), 413);
}

#[tokio::test]
async fn archive_has_a_larger_limit_than_the_default() {
    let (gateway, _upstream) = gateway_with(&[
        ("BODY_LIMIT_BYTES", "1024"),
        ("ARCHIVE_BODY_LIMIT_BYTES", "65536"),
    ])
    .await;
    let response = gateway
        .post("/service/archive/v1/count-me")
        .body(vec![b'a'; 32 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["body_length"], 32 * 1024);
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let (gateway, upstream) =
        gateway_with(&[("RATE_LIMIT_RPS", "1"), ("RATE_LIMIT_BURST", "2")]).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(gateway.get("/service/storage/v1/x").send().await.unwrap());
    }
    assert_eq!(statuses[0].status(), 200);
    assert_eq!(statuses[1].status(), 200);
    let limited = statuses.pop().unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(json(limited).await["error"]["code"], "rate_limited");
    assert_eq!(upstream.hits(), 2);
    // Limits are per service: auth has its own bucket.
    assert_eq!(
        gateway
            .get("/service/auth/v1/x")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn every_key_on_the_webhook_shares_one_bucket() {
    let (gateway, upstream) =
        gateway_with(&[("RATE_LIMIT_RPS", "1"), ("RATE_LIMIT_BURST", "1")]).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    // A right key gets no bucket of its own there: its answer cannot tell it apart.
    for key in ["made-up-1", "made-up-2", "made-up-3", API_KEY] {
        let response = client
            .post(gateway.url("/service/payment/v1/webhook"))
            .header("x-api-key", key)
            .body("{}")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 429, 429, 429]);
    assert_eq!(upstream.hits(), 1);
}
