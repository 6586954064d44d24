//! A local OAuth 2.0 provider standing in for Google or Facebook in tests. It runs the
//! authorization code flow (RFC 6749 §4.1) and checks what a client sends the way the real
//! providers do: the client id and secret, a code that is known, unused and issued for the same
//! `redirect_uri`, and, when the authorization request carried a PKCE challenge, a
//! `code_verifier` that hashes to it (RFC 7636 §4.6, S256 only).
//!
//! - `GET /authorize`: the consent screen; it approves at once and redirects (302) to
//!   `redirect_uri?code=...&state=...`, as the provider does after the user agrees.
//! - `POST /token`: form-encoded code exchange, answering `{access_token, token_type, expires_in}`.
//! - `GET /userinfo`: the profile for a Bearer access token, in the provider's shape
//!   (Google: `sub`, `email`, `email_verified`, `name`; Facebook: `id`, `name`, `email`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The client id the fake expects (test value).
pub const CLIENT_ID: &str = "test-client-id";
/// The client secret the fake expects (test value, not a real secret).
pub const CLIENT_SECRET: &str = "test-client-secret";

/// Which provider's shapes the fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Google,
    Facebook,
}

impl Flavor {
    fn prefix(self) -> &'static str {
        match self {
            Self::Google => "GOOGLE",
            Self::Facebook => "FACEBOOK",
        }
    }
}

/// The account that "signs in" at the provider.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    /// Google's `sub`, Facebook's `id`.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// Google's `email_verified` (Facebook has no such field).
    pub email_verified: bool,
}

impl ProviderUser {
    pub fn new(id: &str, name: &str, email: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            email: Some(email.to_owned()),
            email_verified: true,
        }
    }
}

/// A code the consent screen handed out, and what it was issued for.
struct Grant {
    redirect_uri: String,
    challenge: Option<String>,
    user: ProviderUser,
}

#[derive(Default)]
struct Inner {
    user: Option<ProviderUser>,
    grants: HashMap<String, Grant>,
    access_tokens: HashMap<String, ProviderUser>,
    token_requests: Vec<HashMap<String, String>>,
}

struct Shared {
    flavor: Flavor,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fake provider.
pub struct FakeOAuth {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub flavor: Flavor,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeOAuth {
    /// Starts a provider whose consent screen signs `user` in.
    pub async fn start(flavor: Flavor, user: ProviderUser) -> Self {
        let shared = Arc::new(Shared {
            flavor,
            inner: Mutex::new(Inner {
                user: Some(user),
                ..Inner::default()
            }),
        });
        let data = web::Data::from(Arc::clone(&shared));
        let (listener, address) = crate::serve::free_listener();
        let handle = crate::serve::serve(listener, move |cfg| {
            cfg.app_data(data.clone())
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo));
        });
        Self {
            address,
            flavor,
            shared,
            handle,
        }
    }

    /// The settings that point auth-svc at this provider, e.g. `GOOGLE_TOKEN_URL`.
    pub fn settings(&self) -> Vec<(String, String)> {
        let prefix = self.flavor.prefix();
        [
            ("CLIENT_ID", CLIENT_ID.to_owned()),
            ("CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("AUTH_URL", format!("{}/authorize", self.address)),
            ("TOKEN_URL", format!("{}/token", self.address)),
            ("USERINFO_URL", format!("{}/userinfo", self.address)),
        ]
        .into_iter()
        .map(|(name, value)| (format!("{prefix}_{name}"), value))
        .collect()
    }

    /// Changes who signs in at the consent screen from now on.
    pub fn set_user(&self, user: ProviderUser) {
        self.shared.lock().user = Some(user);
    }

    /// The form of every token request received, in order.
    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.shared.lock().token_requests.clone()
    }

    /// Plays the browser: opens `authorization_url` and returns the redirect the provider
    /// answered with (the URL the user would land on, carrying `code` and `state`).
    pub async fn consent(&self, authorization_url: &str) -> reqwest::Url {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client builds");
        let response = client
            .get(authorization_url)
            .send()
            .await
            .expect("the provider answers");
        assert_eq!(
            response.status(),
            302,
            "consent refused: {}",
            response.text().await.unwrap_or_default()
        );
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a Location header");
        reqwest::Url::parse(location).expect("an absolute redirect")
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// An OAuth error response (RFC 6749 §5.2).
fn oauth_error(status: u16, error: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a valid status"))
        .json(json!({ "error": error }))
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn authorize(
    shared: web::Data<Shared>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let param = |name: &str| query.get(name).map(String::as_str);
    if param("client_id") != Some(CLIENT_ID) {
        return oauth_error(400, "invalid_client");
    }
    if param("response_type") != Some("code") {
        return oauth_error(400, "unsupported_response_type");
    }
    let (Some(redirect_uri), Some(state)) = (param("redirect_uri"), param("state")) else {
        return oauth_error(400, "invalid_request");
    };
    let challenge = param("code_challenge").map(str::to_owned);
    if challenge.is_some() && param("code_challenge_method") != Some("S256") {
        return oauth_error(400, "invalid_request");
    }
    let Ok(mut target) = reqwest::Url::parse(redirect_uri) else {
        return oauth_error(400, "invalid_request");
    };
    let mut inner = shared.lock();
    let Some(user) = inner.user.clone() else {
        return oauth_error(400, "access_denied");
    };
    let code = random();
    inner.grants.insert(
        code.clone(),
        Grant {
            redirect_uri: redirect_uri.to_owned(),
            challenge,
            user,
        },
    );
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state);
    HttpResponse::Found()
        .insert_header(("Location", target.as_str()))
        .finish()
}

async fn token(
    shared: web::Data<Shared>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let form = form.into_inner();
    let mut inner = shared.lock();
    inner.token_requests.push(form.clone());
    let param = |name: &str| form.get(name).map(String::as_str);
    if param("grant_type") != Some("authorization_code") {
        return oauth_error(400, "unsupported_grant_type");
    }
    if param("client_id") != Some(CLIENT_ID) || param("client_secret") != Some(CLIENT_SECRET) {
        return oauth_error(401, "invalid_client");
    }
    // A code works once, whatever happens next (RFC 6749 §4.1.2).
    let Some(grant) = param("code").and_then(|code| inner.grants.remove(code)) else {
        return oauth_error(400, "invalid_grant");
    };
    if param("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return oauth_error(400, "invalid_grant");
    }
    if let Some(challenge) = &grant.challenge {
        let matches = param("code_verifier")
            .is_some_and(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == *challenge);
        if !matches {
            return oauth_error(400, "invalid_grant");
        }
    }
    let access_token = random();
    inner.access_tokens.insert(access_token.clone(), grant.user);
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3599,
    }))
}

async fn userinfo(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let inner = shared.lock();
    let Some(user) = token.and_then(|t| inner.access_tokens.get(t)) else {
        return oauth_error(401, "invalid_token");
    };
    let body = match shared.flavor {
        Flavor::Google => json!({
            "sub": user.id,
            "name": user.name,
            "email": user.email,
            "email_verified": user.email_verified,
        }),
        Flavor::Facebook => json!({ "id": user.id, "name": user.name, "email": user.email }),
    };
    HttpResponse::Ok().json(body)
}
