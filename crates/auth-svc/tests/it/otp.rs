//! `POST /passgen` and `POST /passver`, with the code read from mail a real SMTP server received.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use test_support::tcp_proxy::FreezableProxy;
use test_support::TestApp;

use crate::helpers::*;

async fn app_with_mail(overrides: &[(&str, &str)]) -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let app = spawn_with_pairs(smtp.settings(), overrides).await;
    (app, smtp)
}

/// [`passver`] with a session token.
async fn passver_signed_in(
    app: &TestApp,
    session: &str,
    key: &str,
    code: &str,
    otp_token: &str,
) -> reqwest::Response {
    app.post("/service/auth/v1/passver")
        .bearer_auth(session)
        .json(&json!({ "_key": key, "_password": code, "token": otp_token }))
        .send()
        .await
        .expect("auth-svc answers")
}

fn other_code(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect()
}

#[tokio::test]
async fn a_mailed_code_verifies_and_signs_the_user_in() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let response = passgen(&app, "ada@example.com").await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["expires_in"], 600);
    let code = code_mailed_to(&smtp, "ada@example.com", 6).await;
    let response = passver(
        &app,
        "ada@example.com",
        &code,
        body["otp_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let verified = json(response).await;
    assert_eq!(verified["valid"], true);
    assert_eq!(verified["message"], "OTP verified successfully");
    assert_eq!(verified["user"]["_key"], "ada@example.com");
    assert!(verified["user"].get("_password").is_none(), "{verified}");
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&verified)).await,
        200
    );
}

#[tokio::test]
async fn the_mail_goes_to_the_user_from_the_configured_sender() {
    let (app, smtp) = app_with_mail(&[("SMTP_FROM", "Coglex <codes@coglex.test>")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    passgen(&app, "ada@example.com").await;
    let mail = smtp.wait_for("ada@example.com", MAIL_WAIT).await.unwrap();
    assert_eq!(mail.from, "codes@coglex.test");
    assert_eq!(mail.to, vec!["ada@example.com".to_owned()]);
    assert_eq!(mail.header("To").as_deref(), Some("ada@example.com"));
    assert!(mail.header("Subject").unwrap().contains("code"));
}

#[tokio::test]
async fn the_code_has_the_configured_number_of_digits() {
    let (app, smtp) = app_with_mail(&[("VERIFICATION_LENGTH", "8")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    passgen(&app, "ada@example.com").await;
    let code = code_mailed_to(&smtp, "ada@example.com", 8).await;
    assert_eq!(code.len(), 8);
}

#[tokio::test]
async fn the_otp_token_reveals_neither_the_code_nor_a_hash_of_it() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    let payload = otp_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let names: Vec<&String> = claims.as_object().unwrap().keys().collect();
    for name in &names {
        assert!(
            ["sub", "purpose", "iss", "aud", "exp", "iat", "jti", "oid"].contains(&name.as_str()),
            "unexpected claim {name} in {claims}"
        );
    }
    assert!(!claims.to_string().contains(&code), "{claims}");
}

#[tokio::test]
async fn only_a_keyed_hash_of_the_code_is_stored() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (_, code) = requested_code(&app, &smtp, "ada@example.com").await;
    let otps = app.database.collection::<mongodb::bson::Document>("_OTPS");
    assert_eq!(
        otps.count_documents(mongodb::bson::doc! {}).await.unwrap(),
        1
    );
    let record = otps
        .find_one(mongodb::bson::doc! {})
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{record:?}").contains(&code), "{record}");
}

#[tokio::test]
async fn a_code_works_only_once() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    assert_eq!(
        passver(&app, "ada@example.com", &code, &otp_token)
            .await
            .status(),
        200
    );
    let again = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(again.status(), 400);
    assert_eq!(json(again).await["valid"], false);
}

#[tokio::test]
async fn a_wrong_code_is_400_with_valid_false() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    let response = passver(&app, "ada@example.com", &other_code(&code), &otp_token).await;
    assert_eq!(response.status(), 400);
    let body = json(response).await;
    assert_eq!(body["valid"], false);
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(body.get("token").is_none());
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            passver(&app, "ada@example.com", &other_code(&code), &otp_token)
                .await
                .status(),
            400
        );
    }
    let response = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 429);
    assert_eq!(json(response).await["valid"], false);
}

/// The code in the `n`th mail to `to` (from 1), waiting for it to arrive.
async fn nth_code_mailed_to(smtp: &SmtpServer, to: &str, n: usize) -> String {
    let mail = tokio::time::timeout(MAIL_WAIT, async {
        loop {
            let mut mails = smtp
                .messages()
                .into_iter()
                .filter(|m| m.to.iter().any(|t| t == to));
            if let Some(mail) = mails.nth(n - 1) {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the code was mailed");
    code_in(&mail, 6)
}

#[tokio::test]
async fn a_code_someone_else_asks_for_leaves_the_owners_code_valid() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (owners_token, owners_code) = requested_code(&app, &smtp, "ada@example.com").await;
    let stranger = post_from(
        &app,
        "203.0.113.7",
        "/passgen",
        json!({ "_key": "ada@example.com" }),
    )
    .await;
    assert_eq!(stranger.status(), 200);
    nth_code_mailed_to(&smtp, "ada@example.com", 2).await;
    let response = passver(&app, "ada@example.com", &owners_code, &owners_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["valid"], true);
}

#[tokio::test]
async fn a_valid_code_retires_the_addresss_other_codes() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (first_token, first_code) = requested_code(&app, &smtp, "ada@example.com").await;
    let second_token = json(passgen(&app, "ada@example.com").await).await["otp_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_code = nth_code_mailed_to(&smtp, "ada@example.com", 2).await;
    let response = passver(&app, "ada@example.com", &second_code, &second_token).await;
    assert_eq!(response.status(), 200);
    let response = passver(&app, "ada@example.com", &first_code, &first_token).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["valid"], false);
}

#[tokio::test]
async fn code_checks_are_limited_per_account_across_its_codes() {
    let (app, smtp) = app_with_mail(&[("PASSVER_MAX_PER_ACCOUNT", "3")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    sign_up(&app, "grace@example.com", json!({})).await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    for _ in 0..3 {
        let response = passver(&app, "ada@example.com", &other_code(&code), &otp_token).await;
        assert_eq!(response.status(), 400);
    }
    // The code itself has tries left (five), but the address has none in this window.
    let response = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body = json(response).await;
    assert_eq!(body["valid"], false);
    assert!(body.get("token").is_none());
    // Another address is not affected.
    let (otp_token, code) = requested_code(&app, &smtp, "grace@example.com").await;
    assert_eq!(
        passver(&app, "grace@example.com", &code, &otp_token)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_valid_code_clears_the_count_for_its_address() {
    let (app, smtp) = app_with_mail(&[("PASSVER_MAX_PER_ACCOUNT", "3")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    for n in 1..=2 {
        let otp_token = json(passgen(&app, "ada@example.com").await).await["otp_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let code = nth_code_mailed_to(&smtp, "ada@example.com", n).await;
        for _ in 0..2 {
            let response = passver(&app, "ada@example.com", &other_code(&code), &otp_token).await;
            assert_eq!(response.status(), 400);
        }
        let response = passver(&app, "ada@example.com", &code, &otp_token).await;
        assert_eq!(response.status(), 200, "code {n}");
    }
}

#[tokio::test]
async fn a_valid_code_claims_an_account_made_by_sign_up() {
    let (app, smtp) = app_with_mail(&[]).await;
    let squatter = new_session(&app, "ada@example.com").await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    let response = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 200);
    let owner = json(response).await;
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&squatter)).await,
        401
    );
    assert_eq!(
        sign_in(&app, "ada@example.com", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&owner)).await,
        200
    );
    let stored = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(stored.get_bool("_verified").ok(), Some(true));
}

#[tokio::test]
async fn a_claim_cut_off_before_the_sessions_ended_is_finished_by_the_next_code() {
    let proxy = FreezableProxy::start(test_support::shared_uri()).await;
    let (app, smtp) = app_with_mail(&[
        ("MONGODB_URI", proxy.uri.as_str()),
        ("AUTH_DATABASE_TIMEOUT_MS", "2000"),
    ])
    .await;
    let squatter = new_session(&app, "ada@example.com").await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;

    // The network fails just as the squatter's sessions are being ended (a revocation is
    // the only command that writes a date into `revoked_at`).
    proxy.cut_commands_with(b"\x09revoked_at\x00");
    let response = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 503);
    proxy.open();
    assert_eq!(
        sign_in(&app, "ada@example.com", PASSWORD).await.status(),
        401
    );

    let retry = json(passgen(&app, "ada@example.com").await).await;
    let code = nth_code_mailed_to(&smtp, "ada@example.com", 2).await;
    let response = passver(
        &app,
        "ada@example.com",
        &code,
        retry["otp_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&squatter)).await,
        401
    );
    let stored = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(stored.get_bool("_verified").ok(), Some(true));
}

#[tokio::test]
async fn a_code_whose_sign_in_failed_on_our_side_works_again() {
    let proxy = FreezableProxy::start(test_support::shared_uri()).await;
    let (app, smtp) = app_with_mail(&[
        ("MONGODB_URI", proxy.uri.as_str()),
        ("AUTH_DATABASE_TIMEOUT_MS", "2000"),
    ])
    .await;
    new_session(&app, "ada@example.com").await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;

    // Every command on the sessions collection fails: the code is consumed, then the claim
    // (which ends the sessions) and the new session cannot be written.
    proxy.cut_commands_with(b"_SESSIONS");
    let response = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 503);
    proxy.open();

    let retry = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(retry.status(), 200);
    let owner = json(retry).await;
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&owner)).await,
        200
    );
    let again = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(again.status(), 400, "a code that worked is spent");
}

#[tokio::test]
async fn a_code_sent_with_the_accounts_own_session_keeps_its_password() {
    // Signed up, signed in with the password, then confirming the address by code.
    let (app, smtp) = app_with_mail(&[]).await;
    let session = new_session(&app, "ada@example.com").await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    let response =
        passver_signed_in(&app, token(&session), "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        sign_in(&app, "ada@example.com", PASSWORD).await.status(),
        200
    );
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&session)).await,
        200
    );
    let stored = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(stored.get_bool("_verified").ok(), Some(true));
}

#[tokio::test]
async fn another_accounts_session_does_not_keep_the_password() {
    let (app, smtp) = app_with_mail(&[]).await;
    new_session(&app, "ada@example.com").await;
    let eve = new_session(&app, "eve@example.com").await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    let response = passver_signed_in(&app, token(&eve), "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        sign_in(&app, "ada@example.com", PASSWORD).await.status(),
        401
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let (app, smtp) = app_with_mail(&[("VERIFICATION_EXPIRY", "1")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (otp_token, code) = requested_code(&app, &smtp, "ada@example.com").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let response = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["valid"], false);
}

#[tokio::test]
async fn a_code_is_bound_to_its_key() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    sign_up(&app, "mallory@example.com", json!({})).await;
    let (otp_token, code) = requested_code(&app, &smtp, "mallory@example.com").await;
    let response = passver(&app, "ada@example.com", &code, &otp_token).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_code_is_bound_to_its_token() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let (_, first_code) = requested_code(&app, &smtp, "ada@example.com").await;
    let second = json(passgen(&app, "ada@example.com").await).await;
    let response = passver(
        &app,
        "ada@example.com",
        &first_code,
        second["otp_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_forged_otp_token_is_400() {
    let (app, _smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let session = new_session(&app, "grace@example.com").await;
    for otp_token in ["not-a-token", token(&session)] {
        let response = passver(&app, "grace@example.com", "123456", otp_token).await;
        assert_eq!(response.status(), 400, "{otp_token}");
    }
}

#[tokio::test]
async fn an_unknown_key_gets_the_same_answer_and_no_mail() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let known = passgen(&app, "ada@example.com").await;
    let unknown = passgen(&app, "nobody@example.com").await;
    assert_eq!(known.status(), unknown.status());
    let (known, unknown) = (json(known).await, json(unknown).await);
    let shape = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(shape(&known), shape(&unknown));
    assert_eq!(known["expires_in"], unknown["expires_in"]);
    smtp.wait_for("ada@example.com", MAIL_WAIT)
        .await
        .expect("the known user got mail");
    assert!(smtp
        .wait_for("nobody@example.com", Duration::from_millis(500))
        .await
        .is_none());
}

#[tokio::test]
async fn a_key_with_a_line_break_is_refused_and_sends_nothing() {
    let (app, smtp) = app_with_mail(&[]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    for key in [
        "ada@example.com\r\nBcc: victim@example.com",
        "ada@example.com\nBcc: victim@example.com",
    ] {
        let response = passgen(&app, key).await;
        assert_eq!(response.status(), 400, "{key:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn code_requests_are_limited_per_key() {
    let (app, _smtp) = app_with_mail(&[("PASSGEN_MAX_PER_ACCOUNT", "2")]).await;
    for _ in 0..2 {
        assert_eq!(passgen(&app, "ada@example.com").await.status(), 200);
    }
    let response = passgen(&app, "ada@example.com").await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(passgen(&app, "grace@example.com").await.status(), 200);
}

#[tokio::test]
async fn a_client_flooding_an_address_with_codes_blocks_only_itself() {
    let (app, smtp) = app_with_mail(&[("PASSGEN_MAX_PER_ACCOUNT_CLIENT", "2")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let ask = |address: &'static str| {
        post_from(
            &app,
            address,
            "/passgen",
            json!({ "_key": "ada@example.com" }),
        )
    };
    // Mail goes out after the answer, so wait for each code to keep them in order.
    for n in 1..=2 {
        assert_eq!(ask("203.0.113.7").await.status(), 200);
        nth_code_mailed_to(&smtp, "ada@example.com", n).await;
    }
    assert_eq!(ask("203.0.113.7").await.status(), 429);
    let owner = ask("198.51.100.2").await;
    assert_eq!(owner.status(), 200);
    let otp_token = json(owner).await["otp_token"].as_str().unwrap().to_owned();
    let code = nth_code_mailed_to(&smtp, "ada@example.com", 3).await;
    assert_eq!(
        passver(&app, "ada@example.com", &code, &otp_token)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn wrong_codes_from_one_client_do_not_lock_the_owner_out() {
    let (app, smtp) = app_with_mail(&[("PASSVER_MAX_PER_ACCOUNT_CLIENT", "3")]).await;
    sign_up(&app, "ada@example.com", json!({})).await;
    // The attacker asks for a code of their own for the address, then guesses.
    let attackers = json(passgen(&app, "ada@example.com").await).await["otp_token"]
        .as_str()
        .unwrap()
        .to_owned();
    nth_code_mailed_to(&smtp, "ada@example.com", 1).await;
    let check = |address: &'static str, code: String, token: String| {
        post_from(
            &app,
            address,
            "/passver",
            json!({ "_key": "ada@example.com", "_password": code, "token": token }),
        )
    };
    for guess in ["000000", "111111", "222222"] {
        let response = check("203.0.113.7", guess.into(), attackers.clone()).await;
        assert_eq!(response.status(), 400);
    }
    let response = check("203.0.113.7", "333333".into(), attackers.clone()).await;
    assert_eq!(response.status(), 429);
    let owner = json(passgen(&app, "ada@example.com").await).await;
    let otp_token = owner["otp_token"].as_str().unwrap().to_owned();
    let code = nth_code_mailed_to(&smtp, "ada@example.com", 2).await;
    assert_eq!(check("198.51.100.2", code, otp_token).await.status(), 200);
}

#[tokio::test]
async fn code_requests_are_limited_per_client() {
    let (app, _smtp) = app_with_mail(&[("PASSGEN_MAX_PER_CLIENT", "2")]).await;
    assert_eq!(passgen(&app, "a@example.com").await.status(), 200);
    assert_eq!(passgen(&app, "b@example.com").await.status(), 200);
    assert_eq!(passgen(&app, "c@example.com").await.status(), 429);
}

#[tokio::test]
async fn guessing_a_code_for_an_unknown_key_creates_no_user() {
    // The code is never mailed, but the record exists; it can only be had by guessing.
    let (app, _smtp) = app_with_mail(&[]).await;
    let body = json(passgen(&app, "nobody@example.com").await).await;
    let response = passver(
        &app,
        "nobody@example.com",
        "000000",
        body["otp_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(stored_user(&app, "nobody@example.com").await.is_none());
}

#[tokio::test]
async fn a_mail_server_that_is_down_does_not_fail_the_request() {
    // Nothing listens on port 9 of localhost: the mail fails after the answer was sent.
    let app = spawn_with(&[
        ("SMTP_HOST", "127.0.0.1"),
        ("SMTP_PORT", "9"),
        ("SMTP_TLS", "none"),
    ])
    .await;
    sign_up(&app, "ada@example.com", json!({})).await;
    let response = passgen(&app, "ada@example.com").await;
    assert_eq!(response.status(), 200);
}
