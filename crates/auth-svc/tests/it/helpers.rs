//! auth-svc on a free port with its own database, and one method per endpoint.

use reqwest::{Method, Response};
use serde_json::{json, Value};
use test_support::TestApp;

pub use test_support::fake_oauth::{FakeOAuth, Flavor, ProviderUser};
pub use test_support::smtp::SmtpServer;

/// Where every route lives.
pub const BASE: &str = "/service/auth/v1";
/// A password that passes the length rules (test value).
pub const PASSWORD: &str = "correct horse battery";

/// Redirect URI the OAuth tests allow.
pub const REDIRECT: &str = "https://app.example.com/oauth/callback";

/// auth-svc with the given settings on top of the test defaults.
pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
    test_support::spawn_app_with(auth_svc::build, overrides).await
}

pub async fn spawn() -> TestApp {
    spawn_with(&[]).await
}

/// auth-svc with owned settings pairs (e.g. a fake's `settings()`) plus `overrides`.
pub async fn spawn_with_pairs(pairs: Vec<(String, String)>, overrides: &[(&str, &str)]) -> TestApp {
    let mut all: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(overrides);
    spawn_with(&all).await
}

pub async fn json(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// The error code of an error response.
pub async fn error_code(response: Response) -> String {
    let body = json(response).await;
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
        .to_owned()
}

pub async fn post(app: &TestApp, path: &str, body: Value) -> Response {
    app.post(&format!("{BASE}{path}"))
        .json(&body)
        .send()
        .await
        .expect("auth-svc answers")
}

/// [`post`] from the client address the gateway saw (`X-Real-IP`).
pub async fn post_from(app: &TestApp, address: &str, path: &str, body: Value) -> Response {
    app.post(&format!("{BASE}{path}"))
        .header("X-Real-IP", address)
        .json(&body)
        .send()
        .await
        .expect("auth-svc answers")
}

pub async fn sign_up(app: &TestApp, key: &str, document: Value) -> Response {
    post(
        app,
        "/signup",
        json!({ "_key": key, "_password": PASSWORD, "document": document }),
    )
    .await
}

pub async fn sign_in(app: &TestApp, key: &str, password: &str) -> Response {
    post(
        app,
        "/signin",
        json!({ "_key": key, "_password": password }),
    )
    .await
}

/// Signs a new user up and in; returns the sign-in body (`token`, `refresh_token`, `user`).
pub async fn new_session(app: &TestApp, key: &str) -> Value {
    let created = sign_up(app, key, json!({ "name": "Test User" })).await;
    assert_eq!(created.status(), 201, "sign-up failed");
    let response = sign_in(app, key, PASSWORD).await;
    assert_eq!(response.status(), 200, "sign-in failed");
    json(response).await
}

/// Another sign-in of an existing user.
pub async fn another_session(app: &TestApp, key: &str) -> Value {
    let response = sign_in(app, key, PASSWORD).await;
    assert_eq!(response.status(), 200, "sign-in failed");
    json(response).await
}

pub fn token(session: &Value) -> &str {
    session["token"].as_str().expect("a session token")
}

pub async fn get_profile(app: &TestApp, key: &str, token: &str) -> Response {
    app.request(Method::GET, &format!("{BASE}/{key}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("auth-svc answers")
}

/// The status of a profile read with `token`: whether that session still works.
pub async fn profile_status(app: &TestApp, key: &str, token: &str) -> reqwest::StatusCode {
    get_profile(app, key, token).await.status()
}

pub async fn patch_profile(app: &TestApp, key: &str, token: &str, update: Value) -> Response {
    app.request(Method::PATCH, &format!("{BASE}/{key}"))
        .bearer_auth(token)
        .json(&json!({ "document": update }))
        .send()
        .await
        .expect("auth-svc answers")
}

pub async fn sign_out(app: &TestApp, token: &str, body: Option<Value>) -> Response {
    let request = app.post(&format!("{BASE}/signout")).bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.expect("auth-svc answers")
}

pub async fn refresh(app: &TestApp, refresh_token: &str) -> Response {
    post(app, "/refresh", json!({ "refresh_token": refresh_token })).await
}

/// The stored user document, read beside the API.
pub async fn stored_user(app: &TestApp, key: &str) -> Option<mongodb::bson::Document> {
    app.database
        .collection::<mongodb::bson::Document>("_USERS")
        .find_one(mongodb::bson::doc! { "_key": key })
        .await
        .expect("the database answers")
}

/// The code in `mail`: its only run of `digits` digits.
pub fn code_in(mail: &test_support::smtp::Mail, digits: usize) -> String {
    let body = mail.body();
    body.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == digits)
        .unwrap_or_else(|| panic!("no {digits}-digit code in {body:?}"))
        .to_owned()
}

/// How long a test waits for a mail to arrive.
pub const MAIL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn passgen(app: &TestApp, key: &str) -> reqwest::Response {
    post(app, "/passgen", json!({ "_key": key })).await
}

pub async fn passver(app: &TestApp, key: &str, code: &str, otp_token: &str) -> reqwest::Response {
    post(
        app,
        "/passver",
        json!({ "_key": key, "_password": code, "token": otp_token }),
    )
    .await
}

/// The code in the mail to `to`: the only run of digits of the configured length.
pub async fn code_mailed_to(smtp: &SmtpServer, to: &str, digits: usize) -> String {
    let mail = smtp
        .wait_for(to, MAIL_WAIT)
        .await
        .expect("the code was mailed");
    code_in(&mail, digits)
}

/// Asks for a code for an existing user; returns the `otp_token` and the mailed code.
pub async fn requested_code(app: &TestApp, smtp: &SmtpServer, key: &str) -> (String, String) {
    let body = json(passgen(app, key).await).await;
    let otp_token = body["otp_token"].as_str().expect("an otp_token").to_owned();
    (otp_token, code_mailed_to(smtp, key, 6).await)
}
