//! What one client connection may hold: not a response it stopped reading, forever, and not
//! more than its share of the connections the gateway keeps open.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const HUNDRED_MIB: usize = 100 * 1024 * 1024;

#[tokio::test]
async fn a_client_that_stops_reading_a_download_is_cut_off() {
    let (gateway, _upstream) = gateway_with(&[("CLIENT_SEND_TIMEOUT_MS", "300")]).await;
    let mut stream = TcpStream::connect(gateway.host_port()).await.unwrap();
    let request = format!("GET /service/archive/v1/bytes/{HUNDRED_MIB} HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // Not reading: the socket buffers fill and the gateway's writes wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut received = 0usize;
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received += n,
            Err(_) => panic!("the connection stayed open after {received} bytes"),
        }
    }
    assert!(
        received < HUNDRED_MIB,
        "the whole download arrived ({received} bytes): the stalled connection was kept"
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

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let (gateway, _upstream) = gateway_with(&[("MAX_CONNECTIONS", "2")]).await;
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
    // The kernel completes the handshake, but the gateway does not take the connection.
    let mut third = TcpStream::connect(gateway.host_port()).await.unwrap();
    third.write_all(request.as_bytes()).await.unwrap();
    let mut answer = [0u8; 12];
    let early =
        tokio::time::timeout(Duration::from_millis(500), third.read_exact(&mut answer)).await;
    assert!(
        early.is_err(),
        "a third connection was served at a cap of two"
    );
    drop(open.pop());
    tokio::time::timeout(Duration::from_secs(5), third.read_exact(&mut answer))
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
}
