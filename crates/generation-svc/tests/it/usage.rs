//! With a Bearer session token, each call's `usageMetadata` is added to the user's day, and
//! an optional daily token quota refuses calls once it is used up. Calls without a session on
//! the server's Gemini key share one such budget.

use std::time::{Duration, Instant};

use mongodb::bson::{doc, DateTime, Document};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn a_signed_in_users_token_usage_is_recorded() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;

    let response = app.converse_as(&user).await;

    let body: Value = response.json().await.unwrap();
    let usage = app.usage_of(&user.user_id).await.expect("a usage record");
    let reported = &body["usageMetadata"];
    assert_eq!(
        usage.get_i64("total_tokens").unwrap(),
        reported["totalTokenCount"].as_i64().unwrap()
    );
    assert_eq!(
        usage.get_i64("prompt_tokens").unwrap(),
        reported["promptTokenCount"].as_i64().unwrap()
    );
    assert_eq!(usage.get_i64("requests").unwrap(), 1);
    assert_eq!(usage.get_str("user_key").unwrap(), "ada@example.com");
}

#[tokio::test]
async fn usage_adds_up_over_calls() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;

    let mut total = 0;
    for _ in 0..2 {
        let response = app.converse_as(&user).await;
        let body: Value = response.json().await.unwrap();
        total += body["usageMetadata"]["totalTokenCount"].as_i64().unwrap();
    }

    let usage = app.usage_of(&user.user_id).await.unwrap();
    assert_eq!(usage.get_i64("total_tokens").unwrap(), total);
    assert_eq!(usage.get_i64("requests").unwrap(), 2);
}

#[tokio::test]
async fn calls_that_bring_their_own_key_or_an_admin_key_record_nothing() {
    let app = spawn_app().await;
    let own_key = app.converse(&multimodal_example()).send().await.unwrap();
    let admin = app
        .http
        .post(app.url("/service/generation/v1/converse"))
        .header("X-API-Key", test_support::ADMIN_API_KEY)
        .json(&simple_text_example())
        .send()
        .await
        .unwrap();

    assert_eq!(
        (own_key.status().as_u16(), admin.status().as_u16()),
        (200, 200)
    );
    assert_eq!(app.gemini.hits(), 2);
    let count = app
        .database
        .collection::<Document>("_USAGE")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn anonymous_calls_on_the_servers_key_share_one_daily_quota() {
    let app = spawn_app_with(&[
        ("GENERATION_ANONYMOUS_DAILY_TOKEN_QUOTA", "5"),
        ("GENERATION_DAILY_TOKEN_QUOTA", "0"),
    ])
    .await;
    let first = app.converse(&simple_text_example()).send().await.unwrap();
    let spent = spent_by(first).await;

    let second = app.converse(&text("another client")).send().await.unwrap();
    let streamed = app
        .converse_stream(&simple_text_example())
        .send()
        .await
        .unwrap();

    for refused in [second, streamed] {
        assert!(refused.headers().contains_key("retry-after"));
        let (status, code, message) = error_of(refused).await;
        assert_eq!((status, code.as_str()), (429, "rate_limited"));
        assert!(message.contains("without a session"), "{message}");
    }
    assert_eq!(app.gemini.hits(), 1);
    let usage = app
        .database
        .collection::<Document>("_USAGE")
        .find_one(doc! {"anonymous": true})
        .await
        .unwrap()
        .expect("the anonymous day's record");
    assert_eq!(usage.get_i64("total_tokens").unwrap(), spent);
    // Signed-in users and callers with their own key keep their own budgets.
    let ada = sign_in(&app, "ada@example.com").await;
    let signed_in = app.converse_as(&ada).await;
    let own_key = app.converse(&multimodal_example()).send().await.unwrap();
    assert_eq!(
        (signed_in.status().as_u16(), own_key.status().as_u16()),
        (200, 200)
    );
}

#[tokio::test]
async fn a_streamed_calls_usage_is_recorded_when_it_ends() {
    let app = spawn_app().await;
    app.gemini.set_stream(3, Duration::from_millis(20));
    let user = sign_in(&app, "ada@example.com").await;

    let response = app
        .converse_stream(&simple_text_example())
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();

    let last: Value =
        serde_json::from_str(body.trim_end().rsplit("data: ").next().unwrap()).unwrap();
    let expected = last["usageMetadata"]["totalTokenCount"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let usage = loop {
        if let Some(usage) = app.usage_of(&user.user_id).await {
            break usage;
        }
        assert!(Instant::now() < deadline, "usage was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(usage.get_i64("total_tokens").unwrap(), expected);
}

#[tokio::test]
async fn a_user_over_the_daily_quota_is_refused_with_429() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "5")]).await;
    let user = sign_in(&app, "ada@example.com").await;
    let first = app.converse_as(&user).await;
    assert_eq!(first.status(), 200);

    let second = app.converse_as(&user).await;

    assert!(second.headers().contains_key("retry-after"));
    let (status, code, message) = error_of(second).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!(message.contains("daily token quota"), "{message}");
    assert_eq!(app.gemini.hits(), 1);

    // With their own key they pay Google themselves: the quota does not apply, nor grows.
    let own_key = app
        .converse(&multimodal_example())
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(own_key.status(), 200);
    let usage = app.usage_of(&user.user_id).await.unwrap();
    assert_eq!(usage.get_i64("requests").unwrap(), 1);
}

#[tokio::test]
async fn the_quota_is_per_user() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "5")]).await;
    let ada = sign_in(&app, "ada@example.com").await;
    let bob = sign_in(&app, "bob@example.com").await;
    app.converse_as(&ada).await;

    let response = app.converse_as(&bob).await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_bad_bearer_token_is_refused_before_calling_gemini() {
    let app = spawn_app().await;

    let response = app
        .converse(&simple_text_example())
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(app.gemini.hits(), 0);
}

/// The `totalTokenCount` a `/converse` answer reports.
async fn spent_by(response: reqwest::Response) -> i64 {
    let body: Value = response.json().await.expect("a JSON answer");
    body["usageMetadata"]["totalTokenCount"]
        .as_i64()
        .expect("usage in the answer")
}

/// Tokens a day's record counts as used, as used or held, and as held.
fn ledger_of(usage: &Document) -> (i64, i64, i64) {
    let count = |field| usage.get_i64(field).expect(field);
    (count("total_tokens"), count("committed"), held_in(usage))
}

/// Tokens the holds of a day's record hold.
fn held_in(usage: &Document) -> i64 {
    let Ok(holds) = usage.get_document("holds") else {
        return 0;
    };
    holds
        .values()
        .map(|hold| hold.as_document().unwrap().get_i64("tokens").unwrap())
        .sum()
}

/// Leaves on the user's day a hold of `tokens` taken `minutes_ago`: of a call still running,
/// or of one whose replica died mid-call.
async fn leave_hold(app: &GenerationApp, user_id: &str, tokens: i64, minutes_ago: i64) {
    let at = DateTime::from_millis(DateTime::now().timestamp_millis() - minutes_ago * 60_000);
    let hold = format!("holds.left-{minutes_ago}");
    app.database
        .collection::<Document>("_USAGE")
        .update_one(
            doc! { "user_id": user_id },
            doc! {
                "$inc": { "committed": tokens },
                "$set": { hold: { "tokens": tokens, "at": at } },
            },
        )
        .await
        .unwrap();
}

/// Today's usage record of `user_id` once no call holds any of it.
async fn settled_usage_of(app: &GenerationApp, user_id: &str) -> Document {
    usage_once_held(app, user_id, 0).await
}

/// Today's usage record of `user_id` once its calls hold `tokens`.
async fn usage_once_held(app: &GenerationApp, user_id: &str, tokens: i64) -> Document {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(usage) = app.usage_of(user_id).await {
            if held_in(&usage) == tokens {
                return usage;
            }
        }
        assert!(Instant::now() < deadline, "holds were never given back");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn concurrent_calls_cannot_all_spend_what_is_left_of_the_quota() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "1000")]).await;
    let user = sign_in(&app, "ada@example.com").await;
    app.gemini
        .fail_next(Failure::Delay(Duration::from_millis(600)));
    let slow = tokio::spawn(
        app.converse(&simple_text_example())
            .bearer_auth(&user.token)
            .send(),
    );
    while app.gemini.hits() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The running call holds its estimate (its output limit alone is past the quota).
    let second = app.converse_as(&user).await;

    assert_eq!(second.headers()["retry-after"], "1");
    let (status, code, message) = error_of(second).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!(message.contains("still running"), "{message}");
    let first = slow.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
    let spent = spent_by(first).await;
    // Once it ended, only what it used counts, and the next call gets in.
    let usage = app.usage_of(&user.user_id).await.unwrap();
    assert_eq!(ledger_of(&usage), (spent, spent, 0));
    let third = app.converse_as(&user).await;
    assert_eq!(third.status(), 200);
    assert_eq!(app.gemini.hits(), 2);
}

#[tokio::test]
async fn a_failed_call_gives_its_hold_back() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "1000")]).await;
    let user = sign_in(&app, "ada@example.com").await;
    app.gemini.fail_next(Failure::Status(500));
    app.gemini.fail_next(Failure::Status(503));

    let failed = app.converse_as(&user).await;
    let failed_stream = app
        .converse_stream(&simple_text_example())
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    let retried = app.converse_as(&user).await;

    assert_eq!(
        (
            failed.status().as_u16(),
            failed_stream.status().as_u16(),
            retried.status().as_u16()
        ),
        (502, 502, 200)
    );
    let usage = app.usage_of(&user.user_id).await.unwrap();
    assert_eq!(usage.get_i64("requests").unwrap(), 1);
    assert_eq!(held_in(&usage), 0);
}

#[tokio::test]
async fn a_stream_the_client_leaves_gives_its_hold_back() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "1000")]).await;
    app.gemini.set_stream(50, Duration::from_millis(50));
    let user = sign_in(&app, "ada@example.com").await;
    leave_after_the_first_event(&app, &user, &simple_text_example()).await;

    let usage = settled_usage_of(&app, &user.user_id).await;
    // What it used up to then counts; the rest of its hold is free again.
    let spent = usage.get_i64("total_tokens").unwrap();
    assert!(spent > 0);
    assert_eq!(usage.get_i64("committed").unwrap(), spent);
    // Gemini had not counted the output yet: the text relayed ("chunk 1 ", 2 tokens each)
    // is charged.
    let output = usage.get_i64("candidates_tokens").unwrap();
    assert!(output >= 2 && output % 2 == 0, "{usage}");
    assert_eq!(spent, usage.get_i64("prompt_tokens").unwrap() + output);
}

#[tokio::test]
async fn a_stream_with_inline_media_the_client_leaves_is_charged_geminis_prompt_count() {
    // 400 KB of image is held as ~100k tokens while the call runs; Gemini counts it as a few.
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "1000000")]).await;
    app.gemini.set_stream(50, Duration::from_millis(50));
    let user = sign_in(&app, "ada@example.com").await;
    let image = "A".repeat(400_000);
    let request = serde_json::json!({"contents": [{"role": "user", "parts": [
        {"text": "Describe this image."},
        {"inlineData": {"mimeType": "image/png", "data": image}},
    ]}]});
    let first = leave_after_the_first_event(&app, &user, &request).await;
    let reported = serde_json::from_slice::<Value>(&first[b"data: ".len()..]).unwrap()
        ["usageMetadata"]["promptTokenCount"]
        .as_i64()
        .unwrap();

    let usage = settled_usage_of(&app, &user.user_id).await;
    assert_eq!(usage.get_i64("prompt_tokens").unwrap(), reported, "{usage}");
    assert!(reported < 1000, "{usage}");
}

/// Opens `body`'s stream as `user` and goes away after its first event, which it answers.
async fn leave_after_the_first_event(
    app: &GenerationApp,
    user: &test_support::SignedIn,
    body: &Value,
) -> bytes::Bytes {
    let mut response = app
        .converse_stream(body)
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().expect("a first event");
    assert!(first.starts_with(b"data: "));
    first
}

#[tokio::test]
async fn a_call_the_client_leaves_while_gemini_works_is_charged_what_gemini_reports() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "100000")]).await;
    let user = sign_in(&app, "ada@example.com").await;
    app.gemini
        .fail_next(Failure::Delay(Duration::from_millis(1500)));

    let left = app
        .converse(&simple_text_example())
        .bearer_auth(&user.token)
        .timeout(Duration::from_millis(300))
        .send()
        .await;

    assert!(left.unwrap_err().is_timeout());
    // Google bills the call it received, so it runs to its end and counts in full.
    let usage = settled_usage_of(&app, &user.user_id).await;
    assert!(usage.get_i64("candidates_tokens").unwrap() > 0, "{usage}");
    assert_eq!(usage.get_i64("committed"), usage.get_i64("total_tokens"));
}

#[tokio::test]
async fn holds_left_by_a_replica_that_died_are_given_back_after_a_while() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "1000")]).await;
    let user = sign_in(&app, "ada@example.com").await;
    let first = app.converse_as(&user).await;
    assert_eq!(first.status(), 200);
    let spent = settled_usage_of(&app, &user.user_id)
        .await
        .get_i64("total_tokens")
        .unwrap();

    // A hold taken a minute ago may be a call still running: it keeps its tokens.
    leave_hold(&app, &user.user_id, 1000, 1).await;
    let refused = app.converse_as(&user).await;
    assert_eq!(refused.status(), 429);
    reclaimable(&app, &user.user_id, "holds.left-1").await;

    // One taken an hour ago is of a call that is over.
    let admitted = app.converse_as(&user).await;
    assert_eq!(admitted.status(), 200);
    let spent = spent + spent_by(admitted).await;
    let usage = app.usage_of(&user.user_id).await.unwrap();
    assert_eq!(ledger_of(&usage), (spent, spent, 0));
}

/// Ages a hold [`leave_hold`] left by an hour.
async fn reclaimable(app: &GenerationApp, user_id: &str, hold: &str) {
    let an_hour_ago = DateTime::from_millis(DateTime::now().timestamp_millis() - 3_600_000);
    app.database
        .collection::<Document>("_USAGE")
        .update_one(
            doc! { "user_id": user_id },
            doc! { "$set": { format!("{hold}.at"): an_hour_ago } },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_day_recorded_before_holds_existed_keeps_counting() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "1000")]).await;
    let ada = sign_in(&app, "ada@example.com").await;
    let bob = sign_in(&app, "bob@example.com").await;
    let today = &DateTime::now().try_to_rfc3339_string().unwrap()[..10];
    let days = app.database.collection::<Document>("_USAGE");
    // What a replica without holds recorded: usage only.
    for (user, used) in [(&ada, 400_i64), (&bob, 1000)] {
        days.insert_one(doc! {
            "_id": format!("{}:{today}", user.user_id),
            "user_id": &user.user_id,
            "day": today,
            "requests": 1_i64,
            "total_tokens": used,
        })
        .await
        .unwrap();
    }

    let admitted = app.converse_as(&ada).await;
    let used_up = app.converse_as(&bob).await;

    assert_eq!(admitted.status(), 200);
    let spent = 400 + spent_by(admitted).await;
    let usage = app.usage_of(&ada.user_id).await.unwrap();
    assert_eq!(ledger_of(&usage), (spent, spent, 0));
    let (status, _, message) = error_of(used_up).await;
    assert_eq!(status, 429);
    assert!(message.contains("used up"), "{message}");
}

#[tokio::test]
async fn old_holds_give_way_to_the_next_call_even_under_the_quota() {
    let app = spawn_app_with(&[("GENERATION_DAILY_TOKEN_QUOTA", "100000")]).await;
    let user = sign_in(&app, "ada@example.com").await;
    let spent = spent_by(app.converse_as(&user).await).await;
    // What a replica that died mid-call an hour ago left, beside a call running now: the
    // running one keeps its hold, though it was taken after the old one.
    leave_hold(&app, &user.user_id, 50_000, 60).await;
    leave_hold(&app, &user.user_id, 500, 1).await;

    let next = app.converse_as(&user).await;

    assert_eq!(next.status(), 200);
    let spent = spent + spent_by(next).await;
    let usage = usage_once_held(&app, &user.user_id, 500).await;
    assert_eq!(ledger_of(&usage), (spent, spent + 500, 500));
}
