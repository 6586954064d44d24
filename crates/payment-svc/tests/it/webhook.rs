//! `POST /webhook`: Stripe's signed deliveries are recorded once, keep sessions and
//! subscriptions current, and anything unsigned, mis-signed or old is refused.

use serde_json::json;

use crate::helpers::*;

fn completed(id: &str, user_id: Option<&str>) -> String {
    event(
        "evt_completed_1",
        "checkout.session.completed",
        now(),
        completed_session(id, user_id, None),
    )
}

#[tokio::test]
async fn a_signed_completed_session_marks_the_session_paid() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;
    let id = app
        .create_session(Some(&user.token), &payment_example())
        .await;

    let answer = app
        .deliver_signed(&completed(&id, Some(&user.user_id)))
        .await;

    assert_eq!(answer["recorded"], true);
    let record = app.record(&id).await.unwrap();
    assert_eq!(record.get_str("status").unwrap(), "complete");
    assert_eq!(record.get_str("payment_status").unwrap(), "paid");
}

#[tokio::test]
async fn an_event_delivered_twice_is_recorded_once() {
    let app = spawn_app().await;
    let payload = completed("cs_test_twice", None);
    app.deliver_signed(&payload).await;

    let again = app.deliver_signed(&payload).await;

    assert_eq!(again["duplicate"], true);
    assert_eq!(again["recorded"], false);
    assert_eq!(app.count("_PAYMENT_EVENTS").await, 1);
    assert_eq!(app.count("_PAYMENTS").await, 1);
}

#[tokio::test]
async fn a_delivery_without_a_signature_is_refused() {
    let app = spawn_app().await;

    let response = app.deliver(&completed("cs_test_1", None), None).await;

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(message, "the Stripe-Signature header is required");
    assert_eq!(app.count("_PAYMENTS").await, 0);
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_refused() {
    let app = spawn_app().await;
    let payload = completed("cs_test_1", None);

    let response = app
        .deliver(
            &payload,
            Some(signature("whsec_someone_else", now(), &payload)),
        )
        .await;

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("does not match"), "{message}");
    assert_eq!(app.count("_PAYMENTS").await, 0);
}

#[tokio::test]
async fn a_payload_changed_after_signing_is_refused() {
    let app = spawn_app().await;
    let signed = completed("cs_test_1", None);
    let header = signature(WEBHOOK_SECRET, now(), &signed);

    let response = app
        .deliver(&completed("cs_test_2", Some("someone")), Some(header))
        .await;

    assert_eq!(response.status(), 400);
    assert_eq!(app.count("_PAYMENTS").await, 0);
}

#[tokio::test]
async fn a_delivery_signed_longer_ago_than_the_tolerance_is_refused_as_a_replay() {
    let app = spawn_app().await;
    let payload = completed("cs_test_1", None);
    let old = now() - 301;

    let response = app
        .deliver(&payload, Some(signature(WEBHOOK_SECRET, old, &payload)))
        .await;

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("tolerance"), "{message}");
}

#[tokio::test]
async fn a_malformed_signature_header_is_refused() {
    let app = spawn_app().await;

    let response = app
        .deliver(
            &completed("cs_test_1", None),
            Some("v1=abc,t=yesterday".into()),
        )
        .await;

    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_event_is_a_400() {
    let app = spawn_app().await;
    let payload = json!({"hello": "world"}).to_string();

    let response = app
        .deliver(&payload, Some(signature(WEBHOOK_SECRET, now(), &payload)))
        .await;

    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_event_type_we_do_not_record_is_acknowledged() {
    let app = spawn_app().await;
    let payload = event(
        "evt_charge",
        "charge.succeeded",
        now(),
        json!({"id": "ch_1"}),
    );

    let answer = app.deliver_signed(&payload).await;

    assert_eq!(answer["received"], true);
    assert_eq!(answer["recorded"], false);
    assert_eq!(app.count("_PAYMENTS").await, 0);
}

#[tokio::test]
async fn an_expired_session_is_marked_expired() {
    let app = spawn_app().await;
    let id = app.create_session(None, &payment_example()).await;
    let mut object = completed_session(&id, None, None);
    object["status"] = json!("expired");
    object["payment_status"] = json!("unpaid");

    app.deliver_signed(&event(
        "evt_expired",
        "checkout.session.expired",
        now(),
        object,
    ))
    .await;

    let record = app.record(&id).await.unwrap();
    assert_eq!(record.get_str("status").unwrap(), "expired");
}

#[tokio::test]
async fn subscription_events_keep_the_subscription_status_current() {
    let app = spawn_app().await;
    let t = now();
    for (n, (kind, status)) in [
        ("customer.subscription.created", "incomplete"),
        ("customer.subscription.updated", "active"),
        ("customer.subscription.deleted", "canceled"),
    ]
    .into_iter()
    .enumerate()
    {
        let payload = event(
            &format!("evt_sub_{n}"),
            kind,
            t + n as u64,
            subscription("sub_1", status, "u1"),
        );
        app.deliver_signed(&payload).await;
    }

    let record = app.record("sub_1").await.unwrap();
    assert_eq!(record.get_str("status").unwrap(), "canceled");
    assert_eq!(record.get_str("user_id").unwrap(), "u1");
}

#[tokio::test]
async fn an_older_event_delivered_late_does_not_undo_a_newer_one() {
    let app = spawn_app().await;
    let t = now();
    let newer = event(
        "evt_new",
        "customer.subscription.deleted",
        t,
        subscription("sub_1", "canceled", "u1"),
    );
    let older = event(
        "evt_old",
        "customer.subscription.updated",
        t - 60,
        subscription("sub_1", "active", "u1"),
    );

    app.deliver_signed(&newer).await;
    let answer = app.deliver_signed(&older).await;

    assert_eq!(
        (answer["recorded"].clone(), answer["duplicate"].clone()),
        (false.into(), false.into())
    );
    let record = app.record("sub_1").await.unwrap();
    assert_eq!(record.get_str("status").unwrap(), "canceled");
}

#[tokio::test]
async fn within_one_second_the_later_stage_of_a_subscription_wins() {
    // Stripe's `created` counts whole seconds; `created` and `updated` often share one.
    let app = spawn_app().await;
    let t = now();
    let stage = |id: &str, kind: &str, status: &str| {
        event(id, kind, t, subscription("sub_1", status, "u1"))
    };
    app.deliver_signed(&stage("evt_upd", "customer.subscription.updated", "active"))
        .await;
    app.deliver_signed(&stage(
        "evt_new",
        "customer.subscription.created",
        "incomplete",
    ))
    .await;
    let record = app.record("sub_1").await.unwrap();
    assert_eq!(record.get_str("status").unwrap(), "active");

    app.deliver_signed(&stage(
        "evt_del",
        "customer.subscription.deleted",
        "canceled",
    ))
    .await;
    app.deliver_signed(&stage(
        "evt_upd_2",
        "customer.subscription.updated",
        "active",
    ))
    .await;
    let record = app.record("sub_1").await.unwrap();
    assert_eq!(record.get_str("status").unwrap(), "canceled");
}

#[tokio::test]
async fn events_for_one_subscription_delivered_at_once_are_all_applied() {
    // Stripe sends a subscription checkout's events within a second and may deliver them
    // side by side: the session's link to the subscription must never make the
    // subscription's own newer event look stale.
    let app = spawn_app().await;
    let t = now();
    let deliveries = (0..12).map(|n| {
        let sub = format!("sub_race_{n}");
        let session = event(
            &format!("evt_race_session_{n}"),
            "checkout.session.completed",
            t,
            completed_session(&format!("cs_race_{n}"), Some("u1"), Some(&sub)),
        );
        let updated = event(
            &format!("evt_race_sub_{n}"),
            "customer.subscription.updated",
            t + 1,
            subscription(&sub, "active", "u1"),
        );
        let app = &app;
        async move {
            tokio::join!(app.deliver_signed(&session), app.deliver_signed(&updated));
        }
    });
    futures_util::future::join_all(deliveries).await;
    for n in 0..12 {
        let record = app.record(&format!("sub_race_{n}")).await.unwrap();
        assert_eq!(
            record.get_str("status").ok(),
            Some("active"),
            "sub_race_{n}"
        );
        assert_eq!(
            record.get_str("checkout_session_id").ok(),
            Some(format!("cs_race_{n}").as_str())
        );
    }
}

#[tokio::test]
async fn metadata_is_stored_as_plain_strings_never_as_extended_json() {
    // A session made outside this service (the Dashboard, say) may carry any keys.
    let app = spawn_app().await;
    let mut object = completed_session("cs_outside", None, None);
    object["metadata"] = json!({"$date": "x", "order_id": "{\"$oid\": \"1\"}", "a.b": "c"});
    let first = event(
        "evt_meta_1",
        "checkout.session.completed",
        now(),
        object.clone(),
    );
    assert_eq!(app.deliver_signed(&first).await["recorded"], true);
    let later = event("evt_meta_2", "checkout.session.expired", now() + 1, object);
    assert_eq!(app.deliver_signed(&later).await["recorded"], true);

    let record = app.record("cs_outside").await.unwrap();
    let metadata = record.get_document("metadata").unwrap();
    assert_eq!(metadata.get_str("order_id").unwrap(), r#"{"$oid": "1"}"#);
    assert!(!metadata.contains_key("$date"));
    assert!(!metadata.contains_key("a.b"));
}

#[tokio::test]
async fn paid_and_failed_invoices_are_recorded_on_their_subscription() {
    let app = spawn_app().await;
    let t = now();
    let invoice = |id: &str| json!({"id": id, "object": "invoice", "subscription": "sub_1", "amount_paid": 2999, "amount_due": 2999, "currency": "usd"});
    app.deliver_signed(&event("evt_inv_1", "invoice.paid", t, invoice("in_1")))
        .await;

    app.deliver_signed(&event(
        "evt_inv_2",
        "invoice.payment_failed",
        t + 1,
        invoice("in_2"),
    ))
    .await;

    let record = app.record("sub_1").await.unwrap();
    let latest = record.get_document("latest_invoice").unwrap();
    assert_eq!(latest.get_str("id").unwrap(), "in_2");
    assert_eq!(latest.get_str("status").unwrap(), "payment_failed");
}

#[tokio::test]
async fn a_completed_subscription_checkout_links_the_subscription_to_its_owner() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;
    let id = app
        .create_session(Some(&user.token), &subscription_example())
        .await;
    let object = completed_session(&id, Some(&user.user_id), Some("sub_42"));

    app.deliver_signed(&event(
        "evt_sub_done",
        "checkout.session.completed",
        now(),
        object,
    ))
    .await;

    let body = app.payments_of(&user.token).await;
    assert_eq!(body["subscriptions"][0]["id"], "sub_42");
    assert_eq!(body["subscriptions"][0]["checkout_session"], id.as_str());
    assert_eq!(body["payments"][0]["subscription"], "sub_42");
}

#[tokio::test]
async fn without_a_webhook_secret_deliveries_answer_503_so_stripe_retries() {
    let app = spawn_app_with(&[("STRIPE_WEBHOOK_SECRET", "")]).await;
    let payload = completed("cs_test_1", None);

    let response = app
        .deliver(&payload, Some(signature(WEBHOOK_SECRET, now(), &payload)))
        .await;

    assert_eq!(response.status(), 503);
}
