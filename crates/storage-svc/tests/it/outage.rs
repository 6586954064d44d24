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

/// A storage service whose database connection runs through a proxy the test controls, with
/// short database deadlines. The session stays cached, so only the calls under test meet the
/// proxy's held bytes.
async fn behind_a_proxy(settings: &[(&str, &str)]) -> (FreezableProxy, Storage) {
    let proxy = FreezableProxy::start(test_support::shared_uri()).await;
    let mut all = vec![
        ("MONGODB_URI", proxy.uri.as_str()),
        ("STORAGE_MAX_TIME_MS", "200"),
        ("SESSION_CACHE_TTL_MS", "60000"),
    ];
    all.extend_from_slice(settings);
    let storage = spawn_storage_with(&all).await;
    (proxy, storage)
}

/// Waits for the owner index the first write to a private collection starts building in the
/// background: held replies would otherwise hold that build, and with it a pooled connection.
async fn owner_index_built(storage: &Storage, collection: &str) {
    let collection = storage
        .app
        .database
        .collection::<mongodb::bson::Document>(collection);
    let started = Instant::now();
    while !collection
        .list_index_names()
        .await
        .unwrap_or_default()
        .contains(&"_owner_1".to_owned())
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no owner index"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The build's reply is still on its way back to the service.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn an_insert_that_runs_out_of_time_is_undone_when_it_ends() {
    let (proxy, storage) = behind_a_proxy(&[]).await;
    storage
        .ada()
        .insert_ok("notes", json!([{"_id": "before", "text": "kept"}]))
        .await;
    owner_index_built(&storage, "notes").await;
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

#[tokio::test]
async fn a_new_collection_keeps_its_place_under_the_cap_until_its_late_insert_ends() {
    let (proxy, storage) = behind_a_proxy(&[("STORAGE_MAX_COLLECTIONS", "2")]).await;
    storage.ada().insert_ok("notes", json!([{"n": 1}])).await;

    // The insert that would create `held-back` has not reached the database when its
    // request gives up; it still can.
    proxy.hold_commands_with(b"held-back");
    let late = storage.ada().insert("held-back", json!([{"n": 2}])).await;
    assert_eq!(error(late).await, (503, "service_unavailable".into()));

    let meanwhile = storage.ada().insert("other", json!([{"n": 3}])).await;
    assert_eq!(error(meanwhile).await, (403, "forbidden".into()));

    proxy.open();
    let started = Instant::now();
    while !storage
        .collection_names()
        .await
        .contains(&"held-back".into())
        || !storage.stored("held-back").await.is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(10), "never undone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let names = storage.collection_names().await;
    assert!(!names.contains(&"other".into()), "{names:?}");
    let after = storage.ada().insert("other", json!([{"n": 4}])).await;
    assert_eq!(error(after).await, (403, "forbidden".into()));
}

#[tokio::test]
async fn a_result_whose_next_batch_never_comes_is_cut_off_in_time() {
    let (proxy, storage) = behind_a_proxy(&[]).await;
    let many: Vec<_> = (0..300).map(|n| json!({ "n": n })).collect();
    storage.ada().insert_ok("notes", json!(many)).await;

    // The first batch arrives; the next one is asked for and never answered.
    proxy.hold_commands_with(b"getMore");
    let response = storage.ada().aggregate("notes", json!([])).await;
    assert_eq!(response.status(), 200);
    let read = tokio::time::timeout(Duration::from_secs(10), response.bytes()).await;

    proxy.open();
    let read = read.expect("the response never ended");
    assert!(read.is_err(), "a cut-off result must not look whole");
}
