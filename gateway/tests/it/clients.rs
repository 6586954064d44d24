//! What one client connection may hold: not a response it stopped reading, forever, and not
//! more than its share of the connections the gateway keeps open.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const HUNDRED_MIB: usize = 100 * 1024 * 1024;

/// Asks for 100 MiB, reads nothing for 2 s, then reads to the end: the bytes that came.
async fn stall_then_read(send_timeout_ms: &str) -> usize {
    let (gateway, _upstream) = gateway_with(&[("CLIENT_SEND_TIMEOUT_MS", send_timeout_ms)]).await;
    let mut stream = TcpStream::connect(gateway.host_port()).await.unwrap();
    let request = format!("GET /service/archive/v1/bytes/{HUNDRED_MIB} HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // Not reading: the socket buffers fill and the gateway's writes wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut received = 0usize;
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received += n,
            Err(_) => panic!("the connection stayed open after {received} bytes"),
        }
    }
    received
}

#[tokio::test]
async fn a_client_that_stops_reading_a_download_is_cut_off() {
    let received = stall_then_read("300").await;
    assert!(
        received < HUNDRED_MIB,
        "the whole download arrived ({received} bytes): the stalled connection was kept"
    );
    // The same pause within the limit loses nothing.
    assert!(
        stall_then_read("60000").await > HUNDRED_MIB,
        "head and body"
    );
}

#[tokio::test]
async fn a_client_that_reads_slowly_gets_its_whole_download() {
    let (gateway, _upstream) = gateway_with(&[("CLIENT_SEND_TIMEOUT_MS", "1000")]).await;
    let mut stream = TcpStream::connect(gateway.host_port()).await.unwrap();
    let size = 4 * 1024 * 1024;
    let request = format!("GET /service/archive/v1/bytes/{size} HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buffer = vec![0u8; 1024 * 1024];
    let started = std::time::Instant::now();
    loop {
        // Pauses shorter than the limit, each time the buffers are full; all of them together
        // are longer.
        tokio::time::sleep(Duration::from_millis(200)).await;
        match stream.read(&mut buffer).await.unwrap() {
            0 => break,
            n => response.extend_from_slice(&buffer[..n]),
        }
    }
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(response.starts_with(b"HTTP/1.1 200"));
    let body = &response[head_end..];
    // Chunked framing adds a little; the content must all be there.
    assert!(
        body.iter().filter(|b| **b == b'x').count() >= size,
        "{} bytes",
        body.len()
    );
}

/// One request on a new connection, and the whole answer (the gateway closes it after).
async fn once(gateway: &TestGateway, path: &str) -> String {
    let mut stream = TcpStream::connect(gateway.host_port()).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("answered at once")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_connection_over_the_cap_is_told_so_while_probes_still_see_health() {
    let (gateway, upstream) = gateway_with(&[("MAX_CONNECTIONS", "2")]).await;
    let request =
        format!("GET /service/storage/v1/x HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n\r\n");
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(gateway.host_port()).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        open.push(stream);
    }

    let refused = once(&gateway, "/service/storage/v1/x").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 1\r\n"),
        "{refused}"
    );
    let body: serde_json::Value =
        serde_json::from_str(refused.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    assert_eq!(
        body["error"]["message"],
        "the gateway has too many open connections; retry later"
    );
    assert!(body["request_id"].is_string());
    assert_eq!(
        upstream.hits(),
        2,
        "the refused request never reached a service"
    );

    let probe = once(&gateway, "/health").await;
    assert!(probe.starts_with("HTTP/1.1 200"), "{probe}");

    // A connection closing makes room again.
    drop(open.pop());
    let mut served = String::new();
    for _ in 0..50 {
        served = once(&gateway, "/service/storage/v1/x").await;
        if served.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
}
