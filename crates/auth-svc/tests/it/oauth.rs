//! `POST /oauth` and `POST /ocall` against a local provider that checks what we send.

use std::collections::HashMap;

use coglex_common::config::ConfigSource;
use coglex_common::token::{Purpose, TokenKeys};
use mongodb::bson::{doc, DateTime, Document};
use serde_json::{json, Value};
use test_support::TestApp;

use crate::helpers::*;

fn ada() -> ProviderUser {
    ProviderUser::new("google-uid-1", "Ada Lovelace", "Ada@Example.com")
}

async fn app_for(fakes: &[&FakeOAuth], allowlist: &str) -> TestApp {
    let pairs = fakes.iter().flat_map(|f| f.settings()).collect();
    spawn_with_pairs(pairs, &[("OAUTH_REDIRECT_ALLOWLIST", allowlist)]).await
}

/// A local Facebook with `user` signed in, and auth-svc configured for it.
async fn facebook_app(user: ProviderUser) -> (FakeOAuth, TestApp) {
    facebook_app_with(user, &[]).await
}

/// [`facebook_app`] with settings on top.
async fn facebook_app_with(user: ProviderUser, overrides: &[(&str, &str)]) -> (FakeOAuth, TestApp) {
    let facebook = FakeOAuth::start(Flavor::Facebook, user).await;
    let mut all = vec![("OAUTH_REDIRECT_ALLOWLIST", REDIRECT)];
    all.extend_from_slice(overrides);
    let app = spawn_with_pairs(facebook.settings(), &all).await;
    (facebook, app)
}

async fn start(app: &TestApp, provider: &str, redirect: &str) -> reqwest::Response {
    post(
        app,
        "/oauth",
        json!({ "provider": provider, "redirect": redirect }),
    )
    .await
}

/// What the client finishing a sign-in holds: the callback's `state` and `code`, and the
/// `verifier` it kept from the start.
#[derive(Clone)]
struct Callback {
    state: String,
    code: String,
    verifier: String,
}

async fn finish(
    app: &TestApp,
    provider: &str,
    redirect: &str,
    back: &Callback,
) -> reqwest::Response {
    post(app, "/ocall", finishing(provider, redirect, back)).await
}

fn finishing(provider: &str, redirect: &str, back: &Callback) -> Value {
    json!({
        "provider": provider,
        "redirect": redirect,
        "state": back.state,
        "verifier": back.verifier,
        "code": back.code,
    })
}

fn query(url: &reqwest::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Starts a sign-in and consents at the provider: what the browser comes back with, and the
/// verifier the starting client kept.
async fn consent(app: &TestApp, fake: &FakeOAuth, provider: &str, redirect: &str) -> Callback {
    let started = json(start(app, provider, redirect).await).await;
    let landing = fake
        .consent(started["authorization_url"].as_str().unwrap())
        .await;
    assert!(landing.as_str().starts_with(redirect), "{landing}");
    let params = query(&landing);
    assert_eq!(params["state"], started["state"].as_str().unwrap());
    Callback {
        state: params["state"].clone(),
        code: params["code"].clone(),
        verifier: started["verifier"].as_str().unwrap().to_owned(),
    }
}

async fn google_sign_in(app: &TestApp, fake: &FakeOAuth) -> reqwest::Response {
    let back = consent(app, fake, "google", REDIRECT).await;
    finish(app, "google", REDIRECT, &back).await
}

#[tokio::test]
async fn starting_a_google_sign_in_gives_the_providers_url_with_state_and_pkce() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let response = start(&app, "google", REDIRECT).await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    let url = reqwest::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/authorize?", google.address)),
        "{url}"
    );
    let params = query(&url);
    assert_eq!(params["client_id"], test_support::fake_oauth::CLIENT_ID);
    assert_eq!(params["redirect_uri"], REDIRECT);
    assert_eq!(params["response_type"], "code");
    assert!(params["scope"].contains("email"));
    assert_eq!(params["state"], body["state"].as_str().unwrap());
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(!body
        .to_string()
        .contains(test_support::fake_oauth::CLIENT_SECRET));
}

#[tokio::test]
async fn a_redirect_outside_the_allowlist_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    for redirect in [
        "https://evil.example.com/oauth/callback".to_owned(),
        format!("{REDIRECT}/../evil"),
        format!("{REDIRECT}?next=https://evil.example.com"),
        "https://app.example.com/oauth/callbac".to_owned(),
        String::new(),
    ] {
        let response = start(&app, "google", &redirect).await;
        assert_eq!(response.status(), 400, "{redirect}");
        assert_eq!(error_code(response).await, "bad_request");
    }
}

#[tokio::test]
async fn an_unknown_provider_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    for provider in [json!("github"), json!({ "$ne": null }), json!(null)] {
        let response = post(
            &app,
            "/oauth",
            json!({ "provider": provider, "redirect": REDIRECT }),
        )
        .await;
        assert_eq!(response.status(), 400, "{provider}");
    }
}

#[tokio::test]
async fn a_provider_without_credentials_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let response = start(&app, "facebook", REDIRECT).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_google_sign_in_returns_the_profile_and_a_working_session() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let response = google_sign_in(&app, &google).await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["identifier"], "google-uid-1");
    assert_eq!(body["provider"], "google");
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&body)).await,
        200
    );
}

#[tokio::test]
async fn the_code_exchange_proves_the_pkce_verifier_and_client_secret() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let back = consent(&app, &google, "google", REDIRECT).await;
    assert_eq!(finish(&app, "google", REDIRECT, &back).await.status(), 200);
    let requests = google.token_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["grant_type"], "authorization_code");
    assert_eq!(requests[0]["redirect_uri"], REDIRECT);
    assert_eq!(
        requests[0]["client_secret"],
        test_support::fake_oauth::CLIENT_SECRET
    );
    assert_eq!(requests[0]["code_verifier"], back.verifier);
}

#[tokio::test]
async fn the_first_sign_in_creates_a_user_linked_to_the_provider() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    google_sign_in(&app, &google).await;
    let user = stored_user(&app, "ada@example.com").await.expect("a user");
    let providers = user.get_array("_providers").unwrap();
    assert_eq!(providers.len(), 1);
    let link = providers[0].as_document().unwrap();
    assert_eq!(link.get_str("provider").unwrap(), "google");
    assert_eq!(link.get_str("identifier").unwrap(), "google-uid-1");
    assert!(user.get("_password").is_none());
}

#[tokio::test]
async fn signing_in_again_reuses_the_same_user() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    assert_eq!(google_sign_in(&app, &google).await.status(), 200);
    assert_eq!(google_sign_in(&app, &google).await.status(), 200);
    let users = app.database.collection::<Document>("_USERS");
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 1);
    let user = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(user.get_array("_providers").unwrap().len(), 1);
}

#[tokio::test]
async fn an_account_made_by_sign_up_is_claimed_by_the_provider_verified_owner() {
    // Anyone may sign up with any address: a password set there must not outlive the
    // owner's first proof of the address, nor may the sessions started with it.
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let squatter = new_session(&app, "ada@example.com").await;
    let created = &squatter["user"];
    let response = google_sign_in(&app, &google).await;
    assert_eq!(response.status(), 200);
    let owner = json(response).await;
    let user = stored_user(&app, "ada@example.com").await.unwrap();
    assert_eq!(
        user.get_object_id("_id").unwrap().to_hex(),
        created["_id"].as_str().unwrap()
    );
    assert!(!user.contains_key("_password"));
    assert_eq!(
        sign_in(&app, "ada@example.com", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&squatter)).await,
        401
    );
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&owner)).await,
        200
    );
}

#[tokio::test]
async fn a_proven_account_keeps_its_sessions_at_the_next_provider_sign_in() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let first = json(google_sign_in(&app, &google).await).await;
    assert_eq!(google_sign_in(&app, &google).await.status(), 200);
    assert_eq!(
        profile_status(&app, "ada@example.com", token(&first)).await,
        200
    );
}

#[tokio::test]
async fn a_facebook_sign_in_works_without_pkce() {
    let (facebook, app) = facebook_app(ProviderUser::new(
        "10158",
        "Grace Hopper",
        "grace@example.com",
    ))
    .await;
    let started = json(start(&app, "facebook", REDIRECT).await).await;
    let url = reqwest::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
    assert!(!query(&url).contains_key("code_challenge"));
    let back = consent(&app, &facebook, "facebook", REDIRECT).await;
    let response = finish(&app, "facebook", REDIRECT, &back).await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(
        (
            body["name"].clone(),
            body["email"].clone(),
            body["identifier"].clone(),
            body["provider"].clone()
        ),
        (
            json!("Grace Hopper"),
            json!("grace@example.com"),
            json!("10158"),
            json!("facebook")
        )
    );
    assert!(body["token"].is_string());
}

#[tokio::test]
async fn a_state_signed_with_another_secret_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let back = consent(&app, &google, "google", REDIRECT).await;
    let other = TokenKeys::new(
        &ConfigSource::from_pairs([("SERVER_SECRET", "another-secret-00000000000000000000000000")])
            .get()
            .unwrap(),
    );
    let forged = other
        .issue(
            Purpose::OauthState,
            "google",
            std::time::Duration::from_secs(600),
            json!({ "redirect": REDIRECT }),
        )
        .unwrap()
        .token;
    for state in [forged.as_str(), "made-up-state"] {
        let forged = Callback {
            state: state.to_owned(),
            ..back.clone()
        };
        let response = finish(&app, "google", REDIRECT, &forged).await;
        assert_eq!(response.status(), 400, "{state}");
    }
    assert!(
        google.token_requests().is_empty(),
        "a forged state reached the provider"
    );
}

#[tokio::test]
async fn a_state_of_another_purpose_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let back = consent(&app, &google, "google", REDIRECT).await;
    let session = new_session(&app, "mallory@example.com").await;
    let other = Callback {
        state: token(&session).to_owned(),
        ..back
    };
    let response = finish(&app, "google", REDIRECT, &other).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_replayed_state_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let started = json(start(&app, "google", REDIRECT).await).await;
    let url = started["authorization_url"].as_str().unwrap();
    let back = |landing: reqwest::Url| {
        let params = query(&landing);
        Callback {
            state: params["state"].clone(),
            code: params["code"].clone(),
            verifier: started["verifier"].as_str().unwrap().to_owned(),
        }
    };
    let first = back(google.consent(url).await);
    let second = back(google.consent(url).await);
    assert_eq!(finish(&app, "google", REDIRECT, &first).await.status(), 200);
    let replay = finish(&app, "google", REDIRECT, &second).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(
        google.token_requests().len(),
        1,
        "a replayed state reached the provider"
    );
}

#[tokio::test]
async fn a_state_issued_for_another_redirect_is_400() {
    let other = "https://app.example.com/other/callback";
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], &format!("{REDIRECT},{other}")).await;
    let back = consent(&app, &google, "google", REDIRECT).await;
    let response = finish(&app, "google", other, &back).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_state_issued_for_another_provider_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let facebook = FakeOAuth::start(Flavor::Facebook, ada()).await;
    let app = app_for(&[&google, &facebook], REDIRECT).await;
    let back = consent(&app, &google, "google", REDIRECT).await;
    let response = finish(&app, "facebook", REDIRECT, &back).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_expired_state_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let back = consent(&app, &google, "google", REDIRECT).await;
    // Ten minutes later, as far as the server-side record is concerned.
    app.database
        .collection::<Document>("_OAUTH_STATES")
        .update_many(
            doc! {},
            doc! { "$set": { "expires_at": DateTime::from_millis(0) } },
        )
        .await
        .unwrap();
    let response = finish(&app, "google", REDIRECT, &back).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_google_account_with_an_unverified_email_is_refused() {
    let mut user = ada();
    user.email_verified = false;
    let google = FakeOAuth::start(Flavor::Google, user).await;
    let app = app_for(&[&google], REDIRECT).await;
    let response = google_sign_in(&app, &google).await;
    assert_eq!(response.status(), 400);
    assert!(stored_user(&app, "ada@example.com").await.is_none());
}

#[tokio::test]
async fn a_provider_account_without_an_email_is_refused() {
    let mut user = ProviderUser::new("10158", "Grace Hopper", "unused@example.com");
    user.email = None;
    let (facebook, app) = facebook_app(user).await;
    let back = consent(&app, &facebook, "facebook", REDIRECT).await;
    let response = finish(&app, "facebook", REDIRECT, &back).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_code_the_provider_refuses_is_400() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let back = Callback {
        code: "not-a-code-it-issued".to_owned(),
        ..consent(&app, &google, "google", REDIRECT).await
    };
    let response = finish(&app, "google", REDIRECT, &back).await;
    assert_eq!(response.status(), 400);
    let body: Value = json(response).await;
    assert!(
        !body.to_string().contains("invalid_grant"),
        "provider text leaked: {body}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_502_without_details() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let back = consent(&app, &google, "google", REDIRECT).await;
    google.stop().await;
    let response = finish(&app, "google", REDIRECT, &back).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "bad_gateway");
}

#[tokio::test]
async fn the_callback_url_alone_signs_no_one_in() {
    // Code and state pass through browser history, logs and referrers; the verifier does not.
    let (facebook, app) = facebook_app(ProviderUser::new(
        "10158",
        "Grace Hopper",
        "grace@example.com",
    ))
    .await;
    let back = consent(&app, &facebook, "facebook", REDIRECT).await;
    let without = post(
        &app,
        "/ocall",
        json!({ "provider": "facebook", "redirect": REDIRECT, "state": back.state, "code": back.code }),
    )
    .await;
    assert_eq!(without.status(), 400);
    for guess in [back.state.clone(), "a".repeat(43)] {
        let stolen = Callback {
            verifier: guess,
            ..back.clone()
        };
        let response = finish(&app, "facebook", REDIRECT, &stolen).await;
        assert_eq!(response.status(), 400);
    }
    assert!(
        facebook.token_requests().is_empty(),
        "a callback without its verifier reached the provider"
    );
    assert!(stored_user(&app, "grace@example.com").await.is_none());
    // Failed attempts leave the sign-in to the client that started it.
    assert_eq!(
        finish(&app, "facebook", REDIRECT, &back).await.status(),
        200
    );
}

#[tokio::test]
async fn a_planted_callback_does_not_sign_the_victim_into_the_attackers_account() {
    // Login CSRF: the attacker consents with their own account and sends the victim's browser
    // to the callback while the victim's client has a sign-in of its own under way.
    let (facebook, app) =
        facebook_app(ProviderUser::new("666", "Mallory", "mallory@example.com")).await;
    let attackers = consent(&app, &facebook, "facebook", REDIRECT).await;
    let victims = json(start(&app, "facebook", REDIRECT).await).await;
    let planted = Callback {
        verifier: victims["verifier"].as_str().unwrap().to_owned(),
        ..attackers
    };
    let response = finish(&app, "facebook", REDIRECT, &planted).await;
    assert_eq!(response.status(), 400);
    assert!(facebook.token_requests().is_empty());
}

#[tokio::test]
async fn the_server_keeps_only_a_hash_of_the_verifier() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let started = json(start(&app, "google", REDIRECT).await).await;
    let verifier = started["verifier"].as_str().unwrap();
    assert_eq!(verifier.len(), 43);
    let url = reqwest::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
    assert!(
        !url.as_str().contains(verifier),
        "the verifier is in the URL"
    );
    let states = app.database.collection::<Document>("_OAUTH_STATES");
    assert_eq!(states.count_documents(doc! {}).await.unwrap(), 1);
    let record = states.find_one(doc! {}).await.unwrap().unwrap();
    assert!(!format!("{record:?}").contains(verifier), "{record:?}");
    assert_eq!(
        record.get_str("challenge").unwrap(),
        query(&url)["code_challenge"]
    );
}

#[tokio::test]
async fn starts_are_limited_per_client() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let pairs = google.settings();
    let app = spawn_with_pairs(
        pairs,
        &[
            ("OAUTH_REDIRECT_ALLOWLIST", REDIRECT),
            ("OAUTH_MAX_PER_CLIENT", "2"),
        ],
    )
    .await;
    for _ in 0..2 {
        assert_eq!(start(&app, "google", REDIRECT).await.status(), 200);
    }

    let refused = start(&app, "google", REDIRECT).await;

    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
}

fn grace() -> ProviderUser {
    ProviderUser::new("10158", "Grace Hopper", "grace@example.com")
}

async fn facebook_sign_in(app: &TestApp, facebook: &FakeOAuth) -> reqwest::Response {
    let back = consent(app, facebook, "facebook", REDIRECT).await;
    finish(app, "facebook", REDIRECT, &back).await
}

/// [`facebook_sign_in`] from a client signed in with `session`.
async fn facebook_sign_in_as(
    app: &TestApp,
    facebook: &FakeOAuth,
    session: &str,
) -> reqwest::Response {
    sign_in_with_session(app, facebook, "facebook", session).await
}

/// A sign-in with `provider` that sends `session` as its Bearer token.
async fn sign_in_with_session(
    app: &TestApp,
    fake: &FakeOAuth,
    provider: &str,
    session: &str,
) -> reqwest::Response {
    let back = consent(app, fake, provider, REDIRECT).await;
    app.post(&format!("{BASE}/ocall"))
        .bearer_auth(session)
        .json(&finishing(provider, REDIRECT, &back))
        .send()
        .await
        .expect("auth-svc answers")
}

fn linked_identities(user: &Document) -> Vec<(String, String)> {
    let Ok(links) = user.get_array("_providers") else {
        return Vec::new();
    };
    links
        .iter()
        .map(|link| {
            let link = link.as_document().unwrap();
            let field = |name| link.get_str(name).unwrap().to_owned();
            (field("provider"), field("identifier"))
        })
        .collect()
}

// Facebook does not say whether it verified the address it shares: anyone may have put
// someone else's there.

#[tokio::test]
async fn a_facebook_sign_in_does_not_reach_an_account_it_is_not_linked_to() {
    let (facebook, app) = facebook_app(grace()).await;
    new_session(&app, "grace@example.com").await;
    let mallory = new_session(&app, "mallory@example.com").await;

    let plain = facebook_sign_in(&app, &facebook).await;
    let from_another_account = facebook_sign_in_as(&app, &facebook, token(&mallory)).await;

    for response in [plain, from_another_account] {
        assert_eq!(response.status(), 409);
        assert_eq!(error_code(response).await, "conflict");
    }
    let user = stored_user(&app, "grace@example.com").await.unwrap();
    assert!(linked_identities(&user).is_empty());
    assert_eq!(
        sign_in(&app, "grace@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn an_account_links_facebook_from_its_own_session() {
    let (facebook, app) = facebook_app(grace()).await;
    let session = new_session(&app, "grace@example.com").await;

    let linked = facebook_sign_in_as(&app, &facebook, token(&session)).await;
    assert_eq!(linked.status(), 200);
    let again = facebook_sign_in(&app, &facebook).await;

    assert_eq!(again.status(), 200);
    let user = stored_user(&app, "grace@example.com").await.unwrap();
    assert_eq!(
        linked_identities(&user),
        [("facebook".to_owned(), "10158".to_owned())]
    );
    let signed_in = json(again).await;
    assert_eq!(
        profile_status(&app, "grace@example.com", token(&signed_in)).await,
        200
    );
    // Linking is no proof of the address: nothing the account had is taken from it.
    assert_eq!(
        profile_status(&app, "grace@example.com", token(&session)).await,
        200
    );
    assert_eq!(
        sign_in(&app, "grace@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn an_account_facebook_made_goes_to_whoever_proves_the_address() {
    let facebook = FakeOAuth::start(Flavor::Facebook, grace()).await;
    let smtp = SmtpServer::start().await;
    let mut pairs = facebook.settings();
    pairs.extend(smtp.settings());
    let app = spawn_with_pairs(pairs, &[("OAUTH_REDIRECT_ALLOWLIST", REDIRECT)]).await;
    let made = facebook_sign_in(&app, &facebook).await;
    assert_eq!(made.status(), 200);
    let maker = json(made).await;

    let (otp_token, code) = requested_code(&app, &smtp, "grace@example.com").await;
    let proven = passver(&app, "grace@example.com", &code, &otp_token).await;

    assert_eq!(proven.status(), 200);
    let user = stored_user(&app, "grace@example.com").await.unwrap();
    assert!(linked_identities(&user).is_empty());
    assert_eq!(user.get_bool("_verified"), Ok(true));
    assert_eq!(
        profile_status(&app, "grace@example.com", token(&maker)).await,
        401
    );
    assert_eq!(facebook_sign_in(&app, &facebook).await.status(), 409);
}

#[tokio::test]
async fn facebook_can_be_trusted_to_vouch_for_addresses() {
    let (facebook, app) = facebook_app_with(grace(), &[("FACEBOOK_EMAIL_VERIFIED", "true")]).await;
    let squatter = new_session(&app, "grace@example.com").await;

    let response = facebook_sign_in(&app, &facebook).await;

    assert_eq!(response.status(), 200);
    let user = stored_user(&app, "grace@example.com").await.unwrap();
    assert_eq!(
        user.get_object_id("_id").unwrap().to_hex(),
        squatter["user"]["_id"].as_str().unwrap()
    );
    assert_eq!(
        linked_identities(&user),
        [("facebook".to_owned(), "10158".to_owned())]
    );
    assert!(!user.contains_key("_password"));
    assert_eq!(
        profile_status(&app, "grace@example.com", token(&squatter)).await,
        401
    );
}

#[tokio::test]
async fn a_link_asked_for_with_a_session_that_ended_is_refused_before_the_state_is_used() {
    let (facebook, app) = facebook_app_with(grace(), &[("SESSION_CACHE_TTL_MS", "60000")]).await;
    let session = new_session(&app, "grace@example.com").await;
    // The service checked the session a moment ago, and trusts that check for a while.
    assert_eq!(
        profile_status(&app, "grace@example.com", token(&session)).await,
        200
    );
    // Then the address's owner proved it elsewhere, which ended the account's sessions.
    app.database
        .collection::<Document>("_SESSIONS")
        .update_many(doc! {}, doc! { "$set": { "revoked_at": DateTime::now() } })
        .await
        .unwrap();
    let back = consent(&app, &facebook, "facebook", REDIRECT).await;

    for stale in [token(&session), "not-a-token"] {
        let response = app
            .post(&format!("{BASE}/ocall"))
            .bearer_auth(stale)
            .json(&finishing("facebook", REDIRECT, &back))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{stale}");
        assert_eq!(error_code(response).await, "invalid_token");
    }

    let user = stored_user(&app, "grace@example.com").await.unwrap();
    assert!(linked_identities(&user).is_empty());
    // The state was not used up: finished without a token, it meets the unlinked account.
    assert_eq!(
        finish(&app, "facebook", REDIRECT, &back).await.status(),
        409
    );
}

#[tokio::test]
async fn a_stale_session_token_sent_along_stops_no_sign_in() {
    let google = FakeOAuth::start(Flavor::Google, ada()).await;
    let app = app_for(&[&google], REDIRECT).await;
    let session = new_session(&app, "someone@example.com").await;
    assert_eq!(sign_out(&app, token(&session), None).await.status(), 200);

    for stale in [token(&session), "not-a-token"] {
        let response = sign_in_with_session(&app, &google, "google", stale).await;
        assert_eq!(response.status(), 200, "{stale}");
    }
}
