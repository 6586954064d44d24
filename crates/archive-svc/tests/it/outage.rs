//! A database that stops answering without closing its connections: every call is given up
//! after `ARCHIVE_DATABASE_TIMEOUT_MS` with a 503 to retry, never a request held forever.

use std::time::{Duration, Instant};

use test_support::tcp_proxy::FreezableProxy;

use crate::helpers::*;

#[tokio::test]
async fn a_database_that_goes_silent_is_503_within_the_timeout() {
    let proxy = FreezableProxy::start(test_support::shared_uri()).await;
    let archive = spawn_with(
        Backend::GridFs,
        &[
            ("MONGODB_URI", proxy.uri.as_str()),
            ("ARCHIVE_DATABASE_TIMEOUT_MS", "500"),
            // The session stays cached, so only the archive's own calls meet the outage.
            ("SESSION_CACHE_TTL_MS", "60000"),
        ],
    )
    .await;
    let ada = archive.user("ada@example.com").await;
    let uploaded = archive
        .upload_ok(&ada, file("notes.txt", "text/plain", b"some notes"))
        .await;
    let id = uploaded["_id"].as_str().unwrap().to_owned();
    assert_eq!(archive.download_bytes(&ada, &id).await, b"some notes");

    proxy.freeze();

    let started = Instant::now();
    let answers = tokio::time::timeout(Duration::from_secs(20), async {
        vec![
            archive.download(&ada, &id).send().await.unwrap(),
            archive.list(&ada).send().await.unwrap(),
            archive.delete(&ada, &id).await,
            archive
                .upload(&ada, file("more.txt", "text/plain", b"more"))
                .await,
        ]
    })
    .await
    .expect("every request answered");

    for answer in answers {
        assert!(answer.headers().contains_key("retry-after"), "{answer:?}");
        assert_eq!(error_code(answer, 503).await, "service_unavailable");
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}
