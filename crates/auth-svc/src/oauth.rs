//! OAuth 2.0 sign-in with Google and Facebook: the authorization code flow (RFC 6749 §4.1),
//! with PKCE (RFC 7636, S256) where the provider supports it (Google). Every endpoint is
//! configurable, so tests run against a local provider.
//!
//! `state` is a signed `oauth_state` token bound to the provider and the redirect URI. Its id
//! names a server-side record (`_OAUTH_STATES`) that is consumed on use, so a state works once
//! and for ten minutes.
//!
//! The callback URL (code and state) passes through the browser's history, logs and referrers,
//! so it alone must not sign anyone in. The client that starts a sign-in also gets a
//! `verifier`, which it keeps and never puts in a URL; the record holds only its S256 hash, and
//! the sign-in finishes only with it. That stops a stolen callback URL from being redeemed,
//! and a planted one (login CSRF) from landing the victim in the attacker's account, since the
//! victim's client holds a different verifier. With Google the verifier is also the PKCE
//! verifier, so the provider checks the same binding.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use coglex_common::mongo::bounded;
use coglex_common::token::{Purpose, TokenError};
use coglex_common::web::Core;
use coglex_common::{ApiError, ErrorCode};
use mongodb::bson::{doc, DateTime, Document};
use mongodb::Collection;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::settings::Settings;

pub const STATES: &str = "_OAUTH_STATES";
/// How long an authorization request may take, as the issue sets it.
const STATE_LIFETIME: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Google,
    Facebook,
}

impl Provider {
    pub fn parse(value: &Value) -> Result<Self, ApiError> {
        match value.as_str() {
            Some("google") => Ok(Self::Google),
            Some("facebook") => Ok(Self::Facebook),
            _ => Err(ApiError::bad_request(
                "`provider` must be `google` or `facebook`",
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Facebook => "facebook",
        }
    }

    fn scope(self) -> &'static str {
        match self {
            Self::Google => "openid email profile",
            Self::Facebook => "email public_profile",
        }
    }

    fn uses_pkce(self) -> bool {
        self == Self::Google
    }
}

struct Endpoints {
    client_id: String,
    client_secret: String,
    auth_url: String,
    token_url: String,
    userinfo_url: String,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    pub email: String,
    pub identifier: String,
    pub provider: &'static str,
}

/// A started authorization request.
pub struct Authorization {
    /// The provider's authorization URL.
    pub url: String,
    /// Comes back with the code.
    pub state: String,
    /// Kept by the starting client, never in a URL; finishes the sign-in.
    pub verifier: String,
}

#[derive(Serialize, Deserialize)]
struct StateClaims {
    redirect: String,
}

pub struct OAuth {
    http: reqwest::Client,
    google: Option<Endpoints>,
    facebook: Option<Endpoints>,
    redirects: Vec<String>,
    facebook_email_verified: bool,
    states: Collection<Document>,
    /// How long one database call may take (`AUTH_DATABASE_TIMEOUT_MS`).
    db_limit: Duration,
    core: Core,
}

impl OAuth {
    pub fn new(core: &Core, settings: &Settings) -> anyhow::Result<Self> {
        let endpoints = |id: &Option<String>,
                         secret: &coglex_common::secret::Secret,
                         auth: &str,
                         token: &str,
                         info: &str| {
            id.as_ref().filter(|id| !id.is_empty()).map(|id| Endpoints {
                client_id: id.clone(),
                client_secret: secret.expose().to_owned(),
                auth_url: auth.to_owned(),
                token_url: token.to_owned(),
                userinfo_url: info.to_owned(),
            })
        };
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(settings.oauth_timeout_ms))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            google: endpoints(
                &settings.google_client_id,
                &settings.google_client_secret,
                &settings.google_auth_url,
                &settings.google_token_url,
                &settings.google_userinfo_url,
            ),
            facebook: endpoints(
                &settings.facebook_client_id,
                &settings.facebook_client_secret,
                &settings.facebook_auth_url,
                &settings.facebook_token_url,
                &settings.facebook_userinfo_url,
            ),
            redirects: settings.oauth_redirect_allowlist.clone(),
            facebook_email_verified: settings.facebook_email_verified,
            states: core.db.collection(STATES),
            db_limit: settings.database_timeout(),
            core: core.clone(),
        })
    }

    /// Authorization requests disappear ten minutes after they start.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        coglex_common::mongo::expire_records(&self.states).await
    }

    /// Whether the provider's word proves that the email it shares is its user's: Google's
    /// (only verified addresses are taken), Facebook's only as configured
    /// (`FACEBOOK_EMAIL_VERIFIED`), since it does not document that it verified them.
    pub fn vouches(&self, provider: Provider) -> bool {
        match provider {
            Provider::Google => true,
            Provider::Facebook => self.facebook_email_verified,
        }
    }

    fn endpoints(&self, provider: Provider) -> Result<&Endpoints, ApiError> {
        match provider {
            Provider::Google => self.google.as_ref(),
            Provider::Facebook => self.facebook.as_ref(),
        }
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "sign-in with {} is not configured",
                provider.name()
            ))
        })
    }

    fn check_redirect(&self, redirect: &str) -> Result<(), ApiError> {
        if self.redirects.iter().any(|allowed| allowed == redirect) {
            Ok(())
        } else {
            Err(ApiError::bad_request(
                "`redirect` is not an allowed redirect URI",
            ))
        }
    }

    /// Starts an authorization request: where to send the browser, the `state` to expect back
    /// and the verifier only the starting client holds.
    pub async fn authorize(
        &self,
        provider: Provider,
        redirect: &str,
    ) -> Result<Authorization, ApiError> {
        let endpoints = self.endpoints(provider)?;
        self.check_redirect(redirect)?;
        let state = self.core.tokens.issue(
            Purpose::OauthState,
            provider.name(),
            STATE_LIFETIME,
            StateClaims {
                redirect: redirect.to_owned(),
            },
        )?;
        let verifier = random_verifier();
        let challenge = challenge(&verifier);
        let expires_at = DateTime::from_millis(
            DateTime::now().timestamp_millis() + STATE_LIFETIME.as_millis() as i64,
        );
        let record = self.states.insert_one(
            doc! { "_id": &state.jti, "challenge": &challenge, "used": false, "expires_at": expires_at },
        );
        bounded(self.db_limit, record).await?;

        let mut url = url::Url::parse(&endpoints.auth_url).map_err(ApiError::internal)?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &endpoints.client_id)
                .append_pair("redirect_uri", redirect)
                .append_pair("response_type", "code")
                .append_pair("scope", provider.scope())
                .append_pair("state", &state.token);
            if provider.uses_pkce() {
                query
                    .append_pair("code_challenge", &challenge)
                    .append_pair("code_challenge_method", "S256");
            }
        }
        Ok(Authorization {
            url: url.into(),
            state: state.token,
            verifier,
        })
    }

    /// Checks `state` and the starting client's `verifier`, exchanges the code and reads the
    /// user's profile.
    pub async fn callback(
        &self,
        provider: Provider,
        redirect: &str,
        state: &str,
        verifier: &str,
        code: &str,
    ) -> Result<Profile, ApiError> {
        let endpoints = self.endpoints(provider)?;
        let claims = self
            .core
            .tokens
            .verify::<StateClaims>(state, Purpose::OauthState)
            .map_err(|e: TokenError| ApiError::bad_request(format!("`state` is not valid: {e}")))?;
        if claims.sub != provider.name() || claims.extra.redirect != redirect {
            return Err(ApiError::bad_request(
                "`state` was issued for another provider or redirect",
            ));
        }
        // A wrong verifier leaves the record unused: whoever holds only the callback URL must
        // not be able to spoil the sign-in of the client that started it.
        let take = self.states.find_one_and_update(
            doc! {
                "_id": &claims.jti,
                "challenge": challenge(verifier),
                "used": false,
                "expires_at": { "$gt": DateTime::now() },
            },
            doc! { "$set": { "used": true } },
        );
        bounded(self.db_limit, take).await?.ok_or_else(|| {
            ApiError::bad_request(
                "`state` was already used, has expired, or was not started with this `verifier`",
            )
        })?;

        let pkce_verifier = provider.uses_pkce().then_some(verifier);
        let access_token = self
            .exchange(endpoints, redirect, code, pkce_verifier)
            .await?;
        let profile = self.profile(endpoints, &access_token).await?;
        let refused =
            || ApiError::bad_request("the provider did not share a verified email address");
        let email = profile
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
            .ok_or_else(refused)?;
        // An address Google did not verify may be another account's here. Facebook tells
        // nothing either way (see [`Self::vouches`]).
        if provider == Provider::Google
            && profile.get("email_verified").and_then(Value::as_bool) != Some(true)
        {
            return Err(refused());
        }
        let identifier = match provider {
            Provider::Google => profile.get("sub"),
            Provider::Facebook => profile.get("id"),
        }
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
        .ok_or_else(|| {
            ApiError::new(ErrorCode::BadGateway, "")
                .with_source(anyhow::anyhow!("profile without an id"))
        })?;
        Ok(Profile {
            name: profile
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            email: email.to_owned(),
            identifier,
            provider: provider.name(),
        })
    }

    async fn exchange(
        &self,
        endpoints: &Endpoints,
        redirect: &str,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<String, ApiError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", endpoints.client_id.as_str()),
            ("client_secret", endpoints.client_secret.as_str()),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        let response = self
            .http
            .post(&endpoints.token_url)
            .form(&form)
            .send()
            .await
            .map_err(provider_unreachable)?;
        let status = response.status();
        if status.is_client_error() {
            return Err(ApiError::bad_request(
                "the provider refused the authorization code",
            ));
        }
        if !status.is_success() {
            return Err(provider_unreachable(anyhow::anyhow!(
                "token endpoint answered {status}"
            )));
        }
        let body: Value = response.json().await.map_err(provider_unreachable)?;
        body.get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                provider_unreachable(anyhow::anyhow!("token response without access_token"))
            })
    }

    async fn profile(&self, endpoints: &Endpoints, access_token: &str) -> Result<Value, ApiError> {
        let response = self
            .http
            .get(&endpoints.userinfo_url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(provider_unreachable)?;
        if !response.status().is_success() {
            return Err(provider_unreachable(anyhow::anyhow!(
                "userinfo answered {}",
                response.status()
            )));
        }
        response.json().await.map_err(provider_unreachable)
    }
}

fn provider_unreachable(cause: impl Into<anyhow::Error>) -> ApiError {
    ApiError::new(ErrorCode::BadGateway, "").with_source(cause)
}

/// A PKCE code verifier: 32 random bytes, base64url (43 characters).
fn random_verifier() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_long_enough_and_url_safe() {
        let verifier = random_verifier();
        assert_eq!(verifier.len(), 43);
        assert!(verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
