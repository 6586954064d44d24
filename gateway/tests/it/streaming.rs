//! Bodies flow through as they are produced: large transfers with the gateway's memory flat,
//! server-sent events one by one.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use test_support::upstream::{Upstream, SSE_INTERVAL};

use crate::helpers::*;

const LARGE: usize = 128 * 1024 * 1024;

/// The real gateway binary, so its memory can be read from /proc apart from the test's.
struct GatewayProcess {
    child: Child,
    address: String,
}

impl GatewayProcess {
    async fn start(upstream: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
        for (key, value) in settings_for(upstream) {
            command.env(key, value);
        }
        let child = command
            .env("SERVER_PORT", port.to_string())
            .env("ARCHIVE_BODY_LIMIT_BYTES", (LARGE * 2).to_string())
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let address = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{address}/health")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, address }
    }

    /// Peak resident memory so far, in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn large_uploads_and_downloads_stream_with_flat_gateway_memory() {
    let upstream = Upstream::start().await;
    let gateway = GatewayProcess::start(&upstream.address).await;
    let client = reqwest::Client::new();
    // Warm up, then take the baseline.
    client
        .get(format!("{}/service/archive/v1/bytes/1024", gateway.address))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let baseline = gateway.peak_rss();

    let chunks = futures_util::stream::iter(
        (0..LARGE / (256 * 1024)).map(|_| Ok::<_, std::io::Error>(vec![7u8; 256 * 1024])),
    );
    let upload = client
        .post(format!("{}/service/archive/v1/count-me", gateway.address))
        .header("X-API-Key", API_KEY)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200);
    assert_eq!(
        upload.json::<serde_json::Value>().await.unwrap()["body_length"],
        LARGE
    );

    let mut download = client
        .get(format!(
            "{}/service/archive/v1/bytes/{LARGE}",
            gateway.address
        ))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let mut received = 0;
    while let Some(chunk) = download.next().await {
        received += chunk.unwrap().len();
    }
    assert_eq!(received, LARGE);

    let growth = gateway.peak_rss().saturating_sub(baseline);
    assert!(
        growth < 32 * 1024 * 1024,
        "gateway memory grew by {} MiB moving 2 x 128 MiB",
        growth / (1024 * 1024)
    );
}

#[tokio::test]
async fn server_sent_events_arrive_one_by_one() {
    let (gateway, _upstream) = gateway_with(&[]).await;
    let response = gateway
        .post("/service/generation/v1/sse")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let started = Instant::now();
    let mut stream = response.bytes_stream();
    let mut arrivals = Vec::new();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(end) = text.find("\n\n") {
            arrivals.push((text[..end].to_owned(), started.elapsed()));
            text.drain(..end + 2);
        }
    }
    let events: Vec<&str> = arrivals.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        events,
        [
            "data: {\"event\":1}",
            "data: {\"event\":2}",
            "data: {\"event\":3}"
        ]
    );
    // Each event arrives when it is sent, not all at the end.
    let gap = |a: usize, b: usize| arrivals[b].1 - arrivals[a].1;
    assert!(
        gap(0, 1) >= SSE_INTERVAL / 2,
        "events 1 and 2 arrived together: {arrivals:?}"
    );
    assert!(
        gap(1, 2) >= SSE_INTERVAL / 2,
        "events 2 and 3 arrived together: {arrivals:?}"
    );
}

#[tokio::test]
async fn a_response_body_that_stops_moving_is_cut() {
    // The events come every SSE_INTERVAL; a body idle limit below it cuts the stream after
    // the first.
    let (gateway, _upstream) = gateway_with(&[("UPSTREAM_BODY_IDLE_TIMEOUT_MS", "100")]).await;
    let response = gateway
        .post("/service/generation/v1/sse")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    let mut stream = response.bytes_stream();
    let mut received = String::new();
    let mut cut = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => received.push_str(std::str::from_utf8(&bytes).unwrap()),
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    assert!(cut, "the stream ended cleanly: {received:?}");
    assert_eq!(received, "data: {\"event\":1}\n\n");
    assert!(started.elapsed() < SSE_INTERVAL, "{:?}", started.elapsed());
}
