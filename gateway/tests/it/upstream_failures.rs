use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::helpers::*;

#[tokio::test]
async fn a_service_that_is_down_gives_a_quick_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gateway = spawn_gateway(settings_for(&address)).await;
    let started = Instant::now();
    let response = gateway.get("/service/auth/v1/signin").send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(started.elapsed() < Duration::from_secs(2));
    let body = json(response).await;
    assert_eq!(body["error"]["code"], "bad_gateway");
    assert_eq!(body["error"]["message"], "an upstream service failed");
    let ready = gateway
        .http
        .get(gateway.url("/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_service_that_is_too_slow_gives_504_at_the_configured_timeout() {
    let (gateway, _upstream) = gateway_with(&[("UPSTREAM_RESPONSE_TIMEOUT_MS", "300")]).await;
    let started = Instant::now();
    let response = gateway
        .get("/service/storage/v1/slow")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(json(response).await["error"]["code"], "gateway_timeout");
}

#[tokio::test]
async fn a_slow_upload_that_keeps_moving_is_not_cut_by_the_response_timeout() {
    // Six pieces 250 ms apart take 1.5 s, three times the timeout; the service answers once
    // it has read them all.
    let (gateway, _upstream) = gateway_with(&[("UPSTREAM_RESPONSE_TIMEOUT_MS", "500")]).await;
    let response = gateway
        .post("/service/storage/v1/upload-slowly")
        .body(reqwest::Body::wrap_stream(pieces(
            6,
            Duration::from_millis(250),
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["body_length"], 6000);
}

/// `n` pieces of 1000 bytes, `gap` apart.
fn pieces(
    n: u32,
    gap: Duration,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::iter(0..n).then(move |i| async move {
        if i > 0 {
            tokio::time::sleep(gap).await;
        }
        Ok(vec![b'a'; 1000])
    })
}

#[tokio::test]
async fn the_response_timeout_runs_from_the_end_of_the_upload() {
    // The body takes 600 ms; the service never answers in time: 504 at about 600 + 300 ms,
    // not at 300 ms.
    let (gateway, _upstream) = gateway_with(&[("UPSTREAM_RESPONSE_TIMEOUT_MS", "300")]).await;
    let started = Instant::now();
    let response = gateway
        .post("/service/storage/v1/slow")
        .body(reqwest::Body::wrap_stream(pieces(
            4,
            Duration::from_millis(200),
        )))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 504);
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_millis(1800),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_at_the_request_limit() {
    let (gateway, _upstream) = gateway_with(&[
        ("UPSTREAM_RESPONSE_TIMEOUT_MS", "500"),
        ("UPSTREAM_REQUEST_MAX_MS", "800"),
    ])
    .await;
    // Over a raw socket, so the answer is read while the body is still being sent.
    let stream = tokio::net::TcpStream::connect(gateway.host_port())
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    // Every piece comes within the response timeout, for 4 s in all.
    let sender = tokio::spawn(async move {
        let head = format!("POST /service/storage/v1/trickle HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n");
        writer.write_all(head.as_bytes()).await?;
        for _ in 0..20 {
            writer.write_all(b"1\r\na\r\n").await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let response = read_json_answer(&mut reader).await;
    let elapsed = started.elapsed();
    sender.abort();
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(
        response.contains(r#""code":"request_timeout""#),
        "{response}"
    );
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_body_that_stops_mid_way_is_the_clients_408_not_a_service_timeout() {
    let (gateway, _upstream) = gateway_with(&[("UPSTREAM_RESPONSE_TIMEOUT_MS", "300")]).await;
    let mut stream = tokio::net::TcpStream::connect(gateway.host_port())
        .await
        .unwrap();
    // 10 of the 100 bytes announced, then nothing, with the connection kept open.
    let head = format!("POST /service/storage/v1/stalled HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nContent-Length: 100\r\n\r\n0123456789");
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let response = read_json_answer(&mut stream).await;
    let elapsed = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
    let metrics = gateway.metrics().await;
    assert!(
        metrics.contains(
            "coglex_gateway_upstream_errors_total{service=\"storage\",kind=\"timeout\"} 0"
        ),
        "the service was blamed: {metrics}"
    );
}
