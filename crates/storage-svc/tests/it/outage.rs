//! A database that answers late: an insert the request gave up on still leaves nothing.

use std::time::{Duration, Instant};

use mongodb::bson::Bson;
use serde_json::json;
use test_support::tcp_proxy::FreezableProxy;

use crate::helpers::*;

fn ids(stored: &[mongodb::bson::Document]) -> Vec<Bson> {
    stored
        .iter()
        .map(|d| d.get("_id").unwrap().clone())
        .collect()
}

#[tokio::test]
async fn an_insert_that_runs_out_of_time_is_undone_when_it_ends() {
    let proxy = FreezableProxy::start(test_support::shared_uri()).await;
    let storage = spawn_storage_with(&[
        ("MONGODB_URI", proxy.uri.as_str()),
        ("STORAGE_MAX_TIME_MS", "200"),
        // The session stays cached, so only the insert meets the late replies.
        ("SESSION_CACHE_TTL_MS", "60000"),
    ])
    .await;
    storage
        .ada()
        .insert_ok("notes", json!([{"_id": "before", "text": "kept"}]))
        .await;
    let batch = json!([{"_id": "chosen", "text": "a"}, {"text": "b"}, {"_id": "also-chosen"}]);

    proxy.hold_replies();
    let response = storage.ada().insert("notes", batch.clone()).await;
    assert_eq!(error(response).await, (503, "service_unavailable".into()));
    // The server did write the batch: only its reply is late.
    assert_eq!(storage.stored("notes").await.len(), 4);

    proxy.open();
    let started = Instant::now();
    let mut stored = storage.stored("notes").await;
    while stored.len() != 1 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stored = storage.stored("notes").await;
    }
    assert_eq!(ids(&stored), [Bson::String("before".into())]);

    // Nothing is left to collide with: the same batch goes in whole when sent again.
    let again = storage.ada().insert_ok("notes", batch).await;
    assert_eq!(again.len(), 3);
    assert_eq!(storage.stored("notes").await.len(), 4);
}
