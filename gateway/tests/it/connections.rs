//! With `UPSTREAM_HTTP2=false`, connections to the services belong to the client connection
//! that opened them: reused for its next requests, never shared with another client, and
//! replaced when a service closes one. (This service speaks only HTTP/1.1.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::*;

/// A bare HTTP/1.1 server that counts connections and requests; with `close_after_each` it
/// closes every connection after answering, as a service whose keep-alive timed out does.
struct CountingService {
    address: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl CountingService {
    async fn start(close_after_each: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (connections, requests) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let r = Arc::clone(&r);
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        // Requests here have no body: each head ends one request.
                        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            buffer.drain(..end + 4);
                            r.fetch_add(1, Ordering::SeqCst);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                            if stream.write_all(answer).await.is_err() || close_after_each {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Self {
            address,
            connections,
            requests,
        }
    }

    fn counts(&self) -> (usize, usize) {
        (
            self.connections.load(Ordering::SeqCst),
            self.requests.load(Ordering::SeqCst),
        )
    }
}

fn http1_settings_for(address: &str) -> Vec<(String, String)> {
    let mut pairs = settings_for(address);
    pairs.push(("UPSTREAM_HTTP2".to_owned(), "false".to_owned()));
    pairs
}

async fn get_through(gateway: &TestGateway, client: &reqwest::Client) -> u16 {
    client
        .get(gateway.url("/service/storage/v1/items"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_client_connection_reuses_its_service_connection() {
    let service = CountingService::start(false).await;
    let gateway = spawn_gateway(http1_settings_for(&service.address)).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(get_through(&gateway, &client).await, 200);
    }
    assert_eq!(
        service.counts(),
        (1, 3),
        "three requests, one service connection"
    );

    // Another client gets a service connection of its own.
    assert_eq!(get_through(&gateway, &reqwest::Client::new()).await, 200);
    assert_eq!(service.counts(), (2, 4));
}

#[tokio::test]
async fn a_service_connection_closed_between_requests_is_replaced() {
    let service = CountingService::start(true).await;
    let gateway = spawn_gateway(http1_settings_for(&service.address)).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(get_through(&gateway, &client).await, 200);
        // Let the gateway see the close before the next request, as after an idle period.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(service.counts(), (3, 3));
}
