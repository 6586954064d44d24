//! Files uploaded on the server's Gemini key belong to who uploaded them: a signed-in user, or
//! every caller without a session together. Others naming them get 404 and Gemini is never
//! asked. Cached contents on the server's key are only the ones the operator shares.

use std::time::Duration;

use serde_json::{json, Value};
use test_support::ADMIN_API_KEY;

use crate::helpers::*;

/// Uploads a PNG (with the session `token`, if given) and answers its `fileUri`.
async fn upload_as(app: &GenerationApp, token: Option<&str>) -> String {
    let mut request = app.upload(PNG, "cat.png", None);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["fileData"]["fileUri"].as_str().unwrap().to_owned()
}

/// `POST /file` of a PNG with the session `token`.
async fn upload_signed_in(app: &GenerationApp, token: &str) -> reqwest::Response {
    app.upload(PNG, "cat.png", None)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn about(file_uri: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [
        {"text": "What is this?"},
        {"fileData": {"mimeType": "image/png", "fileUri": file_uri}}
    ]}]})
}

#[tokio::test]
async fn a_users_file_serves_them_and_no_one_else() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    let bob = sign_in(&app, "bob@example.com").await;
    let uri = upload_as(&app, Some(&ada.token)).await;
    let before = app.gemini.hits();

    let own = app
        .converse(&about(&uri))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(app.gemini.hits(), before + 1);

    let other = app
        .converse(&about(&uri))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(other).await;
    assert_eq!((status, code.as_str()), (404, "not_found"), "{message}");
    let anonymous = app.converse(&about(&uri)).send().await.unwrap();
    assert_eq!(anonymous.status(), 404);
    let streamed = app
        .converse_stream(&about(&uri))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 404);
    let counted = app
        .tokens(&about(&uri))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(counted.status(), 404);
    assert_eq!(
        app.gemini.hits(),
        before + 1,
        "Gemini was asked for a file not theirs"
    );
}

#[tokio::test]
async fn the_upload_names_the_file_it_records() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;

    let uri = upload_as(&app, Some(&ada.token)).await;

    let start = &app.gemini.requests()[0];
    let name = start.json()["file"]["name"].as_str().unwrap().to_owned();
    assert!(
        uri.ends_with(name.trim_start_matches("files")),
        "{uri} vs {name}"
    );
    let records = app.file_records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].get_str("_id").unwrap(), name);
    assert_eq!(records[0].get_str("owner").unwrap(), ada.user_id);
}

#[tokio::test]
async fn callers_without_a_session_share_their_files_but_not_users_files() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    let shared = upload_as(&app, None).await;

    let anonymous = app.converse(&about(&shared)).send().await.unwrap();
    assert_eq!(anonymous.status(), 200);
    let user = app
        .converse(&about(&shared))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 404);
}

#[tokio::test]
async fn a_file_nested_in_a_function_response_is_checked_too() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    let uri = upload_as(&app, Some(&ada.token)).await;
    let hits = app.gemini.hits();
    let body = json!({"contents": [{"role": "user", "parts": [
        {"functionResponse": {"name": "lookup", "response": {"parts": [
            {"file_data": {"file_uri": uri}}
        ]}}}
    ]}]});

    let response = app.converse(&body).send().await.unwrap();

    assert_eq!(response.status(), 404);
    assert_eq!(app.gemini.hits(), hits);
}

#[tokio::test]
async fn an_own_key_or_an_admin_key_may_name_any_file() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    let uri = upload_as(&app, Some(&ada.token)).await;

    let mut own_key = about(&uri);
    own_key["key"] = json!(CLIENT_KEY);
    let response = app.converse(&own_key).send().await.unwrap();
    assert_eq!(response.status(), 200);

    let admin = app
        .http
        .post(app.url("/service/generation/v1/converse"))
        .header("X-API-Key", ADMIN_API_KEY)
        .json(&about(&uri))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
}

#[tokio::test]
async fn a_failed_upload_leaves_no_record() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    app.gemini.fail_next(Failure::Status(500));

    let response = upload_signed_in(&app, &ada.token).await;

    assert_eq!(response.status(), 502);
    assert!(app.file_records().await.is_empty());
}

#[tokio::test]
async fn only_shared_cached_contents_are_named_on_the_servers_key() {
    let app =
        spawn_app_with(&[("GENERATION_SHARED_CACHED_CONTENTS", "cachedContents/faq-1")]).await;
    let with_cache = |name: &str| {
        let mut body = simple_text_example();
        body["cachedContent"] = json!(name);
        body
    };

    let private = app
        .converse(&with_cache("cachedContents/someone-else"))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(private).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert_eq!(app.gemini.hits(), 0);

    let shared = app
        .converse(&with_cache("cachedContents/faq-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200);
    assert_eq!(
        app.only_request().json()["cachedContent"],
        "cachedContents/faq-1"
    );

    let mut own_key = with_cache("cachedContents/someone-else");
    own_key["key"] = json!(CLIENT_KEY);
    let response = app.converse(&own_key).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn each_party_holds_at_most_its_file_quota_of_live_files() {
    let quota = (2 * PNG.len()).to_string();
    let app = spawn_app_with(&[
        ("GENERATION_FILE_QUOTA_BYTES", quota.as_str()),
        ("GENERATION_ANONYMOUS_FILE_QUOTA_BYTES", "1"),
    ])
    .await;
    let ada = sign_in(&app, "ada@example.com").await;
    let bob = sign_in(&app, "bob@example.com").await;
    upload_as(&app, Some(&ada.token)).await;
    upload_as(&app, Some(&ada.token)).await;
    let hits = app.gemini.hits();

    let third = upload_signed_in(&app, &ada.token).await;

    let retry_after: u64 = third.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (47 * 3600..=48 * 3600).contains(&retry_after),
        "{retry_after}"
    );
    let (status, code, _) = error_of(third).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert_eq!(app.gemini.hits(), hits, "a refused upload reached Gemini");
    assert_eq!(
        app.file_records().await.len(),
        2,
        "the refused upload kept its record"
    );
    upload_as(&app, Some(&bob.token)).await;

    let anonymous = app.upload(PNG, "cat.png", None).send().await.unwrap();
    let (status, code, _) = error_of(anonymous).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
}

#[tokio::test]
async fn tools_that_read_the_projects_stores_need_an_own_key() {
    let app = spawn_app().await;
    let mut body = simple_text_example();
    body["tools"] = json!([
        {"functionDeclarations": [{"name": "lookup", "description": "Looks up"}]},
        {"fileSearch": {"fileSearchStoreNames": ["fileSearchStores/someone-elses"]}}
    ]);

    let refused = app.converse(&body).send().await.unwrap();
    let (status, code, message) = error_of(refused).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert!(message.contains("fileSearch"), "{message}");
    assert_eq!(app.gemini.hits(), 0);

    body["key"] = json!(CLIENT_KEY);
    let own_key = app.converse(&body).send().await.unwrap();
    assert_eq!(own_key.status(), 200);
    body["tools"] = json!([{"functionDeclarations": [{"name": "lookup"}]}]);
    body.as_object_mut().unwrap().remove("key");
    let declared = app.converse(&body).send().await.unwrap();
    assert_eq!(declared.status(), 200);
}

#[tokio::test]
async fn an_upload_stored_after_we_gave_up_is_deleted_from_gemini() {
    let app = spawn_app().await;
    let ada = sign_in(&app, "ada@example.com").await;
    // The start answers at once; the last chunk is stored, but only after the 3 s the
    // service waits for it.
    app.gemini.fail_next(Failure::Delay(Duration::ZERO));
    app.gemini.fail_next(Failure::Delay(Duration::from_secs(4)));

    let response = upload_signed_in(&app, &ada.token).await;

    assert_eq!(response.status(), 504);
    assert!(app.file_records().await.is_empty());
    let name = app.gemini.requests()[0].json()["file"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = async {
        while !app.gemini.deleted().contains(&name) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), deleted)
        .await
        .expect("the late file was never deleted");
    assert!(app.gemini.file(&name).is_none());
    let delete = app
        .gemini
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(delete.path, format!("/v1beta/{name}"));
    assert!(delete.header("x-goog-api-key").is_some());
}
