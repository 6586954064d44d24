//! Graceful shutdown with several event loops: every loop stops accepting, and every request
//! already in flight, whichever loop holds it, still gets its answer.

use std::time::{Duration, Instant};

use test_support::upstream::Upstream;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_drains_requests_in_flight_on_every_loop() {
    let upstream = Upstream::start().await;
    let mut pairs = settings_for(&upstream.address);
    pairs.extend([
        ("SERVER_WORKERS".to_owned(), "4".to_owned()),
        ("SHUTDOWN_TIMEOUT_SECS".to_owned(), "10".to_owned()),
    ]);
    let gateway = spawn_gateway(pairs).await;
    // Each on its own connection, so the kernel spreads them over the four loops' listeners
    // (with 32, a loop is left without one in about one run of 2,500).
    let in_flight: Vec<_> = (0..32)
        .map(|_| {
            let request = reqwest::Client::new()
                .get(gateway.url("/service/storage/v1/slow"))
                .header("X-API-Key", API_KEY);
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.hits() < 32 {
        assert!(
            Instant::now() < deadline,
            "requests did not reach the service"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let address = gateway.stop();
    let refused = async {
        while tokio::net::TcpStream::connect(address.trim_start_matches("http://"))
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(1), refused)
        .await
        .expect("the gateway still accepts connections after shutdown began");

    for request in in_flight {
        assert_eq!(request.await.unwrap().expect("an answer, not a cut"), 200);
    }
    assert_eq!(upstream.hits(), 32);
}
