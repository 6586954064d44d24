//! With a Bearer session token, each call's `usageMetadata` is added to the user's day, and
//! an optional daily token quota refuses calls once it is used up. Calls without a session on
//! the server's Gemini key share one such budget.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn a_signed_in_users_token_usage_is_recorded() {
    let app = spawn_app().await;
    let user = sign_in(&app, "ada@example.com").await;

    let response = app
        .converse(&simple_text_example())
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();

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
        let response = app
            .converse(&simple_text_example())
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
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
        .collection::<mongodb::bson::Document>("_USAGE")
        .count_documents(mongodb::bson::doc! {})
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
    let spent = first.json::<Value>().await.unwrap()["usageMetadata"]["totalTokenCount"]
        .as_i64()
        .unwrap();

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
        .collection::<mongodb::bson::Document>("_USAGE")
        .find_one(mongodb::bson::doc! {"anonymous": true})
        .await
        .unwrap()
        .expect("the anonymous day's record");
    assert_eq!(usage.get_i64("total_tokens").unwrap(), spent);
    // Signed-in users and callers with their own key keep their own budgets.
    let ada = sign_in(&app, "ada@example.com").await;
    let signed_in = app
        .converse(&simple_text_example())
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
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
    let first = app
        .converse(&simple_text_example())
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);

    let second = app
        .converse(&simple_text_example())
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();

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
    app.converse(&simple_text_example())
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();

    let response = app
        .converse(&simple_text_example())
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();

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
