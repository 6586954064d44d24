//! With `UPSTREAM_HTTP2=true` the gateway speaks HTTP/2 to the services: an event loop's
//! clients share a few connections per service, and a connection past its maximum age is
//! replaced, so that new service replicas get their share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use test_support::upstream::Upstream;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;

/// A TCP relay in front of `target` that counts the connections it relays.
async fn counting_relay(target: &str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let target = target.trim_start_matches("http://").to_owned();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (address, connections)
}

async fn gateway_via_relay(extra: &[(&str, &str)]) -> (TestGateway, Arc<AtomicUsize>, Upstream) {
    let upstream = Upstream::start().await;
    let (relay, connections) = counting_relay(&upstream.address).await;
    let mut pairs = settings_for(&relay);
    pairs.extend(owned_pairs(&[
        ("SERVER_WORKERS", "1"),
        ("UPSTREAM_HTTP2", "true"),
    ]));
    pairs.extend(owned_pairs(extra));
    (spawn_gateway(pairs).await, connections, upstream)
}

#[tokio::test]
async fn many_clients_share_a_few_service_connections() {
    let (gateway, connections, upstream) =
        gateway_via_relay(&[("UPSTREAM_HTTP2_CONNECTIONS", "2")]).await;
    let requests = (0..8).map(|_| {
        // Its own client: its own connection to the gateway.
        let request = reqwest::Client::new()
            .get(gateway.url("/service/storage/v1/items?n=1"))
            .header("X-API-Key", API_KEY);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let id = response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let echoed = json(response).await;
            (status, id, echoed)
        }
    });
    for (status, id, echoed) in futures_util::future::join_all(requests).await {
        assert_eq!(status, 200);
        assert_eq!(echoed["path"], "/service/storage/v1/items");
        assert_eq!(echoed["query"], "n=1");
        // The service sees the request id the client is given.
        assert_eq!(echoed["headers"]["x-request-id"], id.as_str());
    }
    assert_eq!(upstream.hits(), 8);
    let opened = connections.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&opened),
        "8 clients, {opened} service connections"
    );
}

#[tokio::test]
async fn a_service_connection_past_its_age_is_replaced() {
    let (gateway, connections, _upstream) = gateway_via_relay(&[
        ("UPSTREAM_HTTP2_CONNECTIONS", "1"),
        ("UPSTREAM_HTTP2_MAX_AGE_SECS", "1"),
    ])
    .await;
    let status = || async {
        let response = gateway.get("/service/auth/v1/anything").send().await;
        response.unwrap().status()
    };
    for _ in 0..3 {
        assert_eq!(status().await, 200);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status().await, 200);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413_over_http2_too() {
    let (gateway, _connections, upstream) =
        gateway_via_relay(&[("BODY_LIMIT_BYTES", "1024")]).await;
    assert_eq!(post_streamed_8_kib(&gateway).await.status(), 413);
    // A body within the limit still goes through.
    let fine = gateway
        .post("/service/storage/v1/count-me")
        .body(vec![b'a'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
    assert_eq!(json(fine).await["body_length"], 1000);
    assert!(upstream.hits() >= 1);
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_stall_the_shared_connection() {
    let (gateway, _connections, _upstream) =
        gateway_via_relay(&[("UPSTREAM_HTTP2_CONNECTIONS", "1")]).await;
    // A download far larger than the sockets' buffers, whose client never reads a byte of it.
    let mut stalled = TcpStream::connect(gateway.host_port()).await.unwrap();
    let request = format!(
        "GET /service/storage/v1/bytes/{} HTTP/1.1\r\nHost: gateway\r\nX-API-Key: {API_KEY}\r\n\r\n",
        256 << 20
    );
    stalled.write_all(request.as_bytes()).await.unwrap();
    // Time for it to fill every buffer on its way: the client's socket, the gateway's, and the
    // service connection's windows.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Another client's request on the same service connection still completes.
    let other = answered_within(
        Duration::from_secs(5),
        gateway.get("/service/storage/v1/anything"),
        "a request stalled behind a client that stopped reading",
    )
    .await;
    assert_eq!(other["path"], "/service/storage/v1/anything");
    drop(stalled);
}

#[tokio::test]
async fn uploads_a_service_has_not_read_yet_do_not_stall_the_shared_connection() {
    let (gateway, _connections, upstream) = gateway_via_relay(&[
        ("UPSTREAM_HTTP2_CONNECTIONS", "1"),
        ("BODY_LIMIT_BYTES", "8388608"),
    ])
    .await;
    // Two uploads to a route that holds them unread for 10 s.
    let held: Vec<_> = (0..2)
        .map(|_| {
            let request = reqwest::Client::new()
                .post(gateway.url("/service/storage/v1/hold"))
                .header("X-API-Key", API_KEY)
                .body(vec![b'a'; 4 << 20]);
            tokio::spawn(async move { request.send().await })
        })
        .collect();
    while upstream.hits() < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time for their bodies to fill what the service lets them send.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Another client's upload on the same service connection is read and answered meanwhile.
    let other = answered_within(
        Duration::from_secs(3),
        gateway
            .post("/service/storage/v1/count-me")
            .body(vec![b'a'; 1000]),
        "an upload stalled behind two the service had not read",
    )
    .await;
    assert_eq!(other["body_length"], 1000);
    held.iter().for_each(|held| held.abort());
}

#[tokio::test]
async fn a_service_can_keep_http1_while_the_others_share_http2() {
    let (gateway, connections, _upstream) = gateway_via_relay(&[
        ("UPSTREAM_HTTP2_CONNECTIONS", "1"),
        ("STORAGE_UPSTREAM_HTTP2", "false"),
    ])
    .await;
    let clients: Vec<reqwest::Client> = (0..4).map(|_| reqwest::Client::new()).collect();
    let status = |client: &reqwest::Client, path: &str| {
        let request = client.get(gateway.url(path)).header("X-API-Key", API_KEY);
        async move { request.send().await.unwrap().status() }
    };
    for client in &clients {
        assert_eq!(status(client, "/service/storage/v1/anything").await, 200);
    }
    // Storage: one HTTP/1.1 connection per client connection.
    assert_eq!(connections.load(Ordering::SeqCst), 4);
    for client in &clients {
        assert_eq!(status(client, "/service/auth/v1/anything").await, 200);
    }
    // Auth: one shared HTTP/2 connection for all four.
    assert_eq!(connections.load(Ordering::SeqCst), 5);
}

/// `request`'s JSON answer, which must be a 200 within `limit`; else fails with `stalled`.
async fn answered_within(
    limit: Duration,
    request: reqwest::RequestBuilder,
    stalled: &str,
) -> serde_json::Value {
    let answer = tokio::time::timeout(limit, async {
        let response = request.send().await.unwrap();
        (response.status(), json(response).await)
    })
    .await
    .expect(stalled);
    assert_eq!(answer.0, 200);
    answer.1
}

#[tokio::test]
async fn a_body_sent_in_one_byte_pieces_arrives_whole_and_in_order() {
    let (gateway, _connections, _upstream) = gateway_via_relay(&[]).await;
    let sent: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let pieces = futures_util::stream::iter(
        sent.clone()
            .into_iter()
            .map(|byte| Ok::<_, std::io::Error>(vec![byte])),
    );
    let response = gateway
        .post("/service/storage/v1/echo-body")
        .body(reqwest::Body::wrap_stream(pieces))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), sent);
}

#[tokio::test]
async fn requests_waiting_on_a_failed_connect_all_get_a_quick_502() {
    // A listener whose accept queue is full: the kernel drops further SYNs, so a connect to
    // it hangs until the gateway's connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    let _listener = socket.listen(0).unwrap();
    let mut queued = Vec::new();
    while let Ok(Ok(stream)) =
        tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(address)).await
    {
        queued.push(stream);
    }
    let mut pairs = settings_for(&format!("http://{address}"));
    pairs.extend(owned_pairs(&[
        ("SERVER_WORKERS", "1"),
        ("UPSTREAM_HTTP2", "true"),
        ("UPSTREAM_HTTP2_CONNECTIONS", "1"),
        ("UPSTREAM_CONNECT_TIMEOUT_MS", "400"),
    ]));
    let gateway = spawn_gateway(pairs).await;
    let started = std::time::Instant::now();
    let answers =
        futures_util::future::join_all((0..5).map(|_| gateway.get("/service/storage/v1/x").send()))
            .await;
    let elapsed = started.elapsed();
    for answer in answers {
        assert_eq!(answer.unwrap().status(), 502);
    }
    // One connect timeout for all of them, not one each in turn (2 s).
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
}
