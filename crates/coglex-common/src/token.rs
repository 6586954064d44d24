//! JSON Web Tokens (RFC 7519), HS256 only, each with a purpose.
//!
//! A token carries `purpose`, `iss`, `aud`, `sub`, `exp`, `iat` and `jti`. Each purpose is signed
//! with its own key, derived from `SERVER_SECRET` with HMAC-SHA256, and the purpose claim is
//! checked as well: a refresh or OTP token never passes as a session token, even in theory.
//! `alg: none` and every algorithm but HS256 are refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::{ConfigError, MIN_SECRET_BYTES};
use crate::error::{ApiError, ErrorCode};
use crate::secret::Secret;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Short-lived access to the API (`Authorization: Bearer`).
    Session,
    /// Exchanged once for a new session token.
    Refresh,
    /// Ties an emailed one-time code to its request; holds no code.
    Otp,
    /// The `state` of an OAuth authorization request.
    OauthState,
}

impl Purpose {
    const ALL: [Purpose; 4] = [Self::Session, Self::Refresh, Self::Otp, Self::OauthState];

    fn label(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Refresh => "refresh",
            Self::Otp => "otp",
            Self::OauthState => "oauth_state",
        }
    }
}

/// How tokens are signed and whom they are for.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenSettings {
    /// Signs every token; at least 32 random bytes; never sent by clients (`SERVER_SECRET`).
    #[serde(default)]
    pub server_secret: Secret,
    /// `iss` of issued tokens (`TOKEN_ISSUER`).
    #[serde(default = "default_issuer")]
    pub token_issuer: String,
    /// `aud` of issued tokens (`TOKEN_AUDIENCE`).
    #[serde(default = "default_audience")]
    pub token_audience: String,
}

fn default_issuer() -> String {
    "coglex".into()
}

fn default_audience() -> String {
    "coglex-api".into()
}

impl TokenSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let len = self.server_secret.expose().len();
        if len == 0 {
            return Err(ConfigError(format!(
                "SERVER_SECRET is missing; set it to a random value of at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            )));
        }
        if len < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "SERVER_SECRET is {len} bytes; it must be at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        Ok(())
    }
}

/// The registered claims plus the purpose; `X` adds purpose-specific claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims<X = NoExtra> {
    pub sub: String,
    pub purpose: Purpose,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    #[serde(flatten)]
    pub extra: X,
}

/// For tokens with no claims beyond the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NoExtra {}

/// A freshly signed token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub jti: String,
    /// Seconds since the epoch.
    pub expires_at: u64,
}

/// Signs and verifies tokens of every purpose.
pub struct TokenKeys {
    keys: Vec<(Purpose, EncodingKey, DecodingKey)>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(settings: &TokenSettings) -> Self {
        let keys = Purpose::ALL
            .into_iter()
            .map(|purpose| {
                let key = derive_key(settings.server_secret.expose().as_bytes(), purpose);
                (
                    purpose,
                    EncodingKey::from_secret(&key),
                    DecodingKey::from_secret(&key),
                )
            })
            .collect();
        Self {
            keys,
            issuer: settings.token_issuer.clone(),
            audience: settings.token_audience.clone(),
        }
    }

    fn keys(&self, purpose: Purpose) -> (&EncodingKey, &DecodingKey) {
        let (_, enc, dec) = self
            .keys
            .iter()
            .find(|(p, _, _)| *p == purpose)
            .expect("a key exists for every purpose");
        (enc, dec)
    }

    /// Signs a token for `sub` valid for `ttl`.
    pub fn issue<X: Serialize>(
        &self,
        purpose: Purpose,
        sub: &str,
        ttl: Duration,
        extra: X,
    ) -> Result<IssuedToken, ApiError> {
        let iat = now_secs();
        let claims = Claims {
            sub: sub.to_owned(),
            purpose,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: iat + ttl.as_secs(),
            iat,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            extra,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            self.keys(purpose).0,
        )
        .map_err(ApiError::internal)?;
        Ok(IssuedToken {
            token,
            jti: claims.jti,
            expires_at: claims.exp,
        })
    }

    /// Verifies signature, algorithm, issuer, audience, expiry and purpose.
    pub fn verify<X: DeserializeOwned>(
        &self,
        token: &str,
        purpose: Purpose,
    ) -> Result<Claims<X>, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims<X>>(token, self.keys(purpose).1, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        if data.claims.purpose != purpose {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }
}

/// Why a token was refused. Clients learn only "invalid" or "expired".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is invalid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        ApiError::new(ErrorCode::InvalidToken, err.to_string())
    }
}

fn derive_key(secret: &[u8], purpose: Purpose) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"coglex/jwt/v1/");
    mac.update(purpose.label().as_bytes());
    mac.finalize().into_bytes().into()
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64_url as b64;

    fn keys() -> TokenKeys {
        TokenKeys::new(&TokenSettings {
            server_secret: Secret::new("0123456789abcdef0123456789abcdef"),
            token_issuer: default_issuer(),
            token_audience: default_audience(),
        })
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_token_verifies_for_its_own_purpose() {
        let keys = keys();
        let issued = keys
            .issue(Purpose::Session, "user-1", HOUR, NoExtra {})
            .unwrap();
        let claims = keys
            .verify::<NoExtra>(&issued.token, Purpose::Session)
            .unwrap();
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.jti, issued.jti);
        assert_eq!(claims.iss, "coglex");
        assert_eq!(claims.aud, "coglex-api");
    }

    #[test]
    fn purposes_cannot_be_mixed() {
        let keys = keys();
        for issued_as in Purpose::ALL {
            let token = keys
                .issue(issued_as, "user-1", HOUR, NoExtra {})
                .unwrap()
                .token;
            for used_as in Purpose::ALL.into_iter().filter(|p| *p != issued_as) {
                assert_eq!(
                    keys.verify::<NoExtra>(&token, used_as).unwrap_err(),
                    TokenError::Invalid,
                    "{issued_as:?} token accepted as {used_as:?}"
                );
            }
        }
    }

    #[test]
    fn a_token_signed_with_the_right_key_but_another_purpose_claim_is_refused() {
        // Even with the session key, a claim saying "refresh" does not pass as a session.
        let keys = keys();
        let (enc, _) = keys.keys(Purpose::Session);
        let claims = Claims {
            sub: "u".into(),
            purpose: Purpose::Refresh,
            iss: "coglex".into(),
            aud: "coglex-api".into(),
            exp: now_secs() + 60,
            iat: now_secs(),
            jti: "j".into(),
            extra: NoExtra {},
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, enc).unwrap();
        assert_eq!(
            keys.verify::<NoExtra>(&token, Purpose::Session)
                .unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = keys();
        let token = keys
            .issue(Purpose::Session, "user-1", HOUR, NoExtra {})
            .unwrap()
            .token;
        let payload = token.split('.').nth(1).unwrap();
        let header = b64::encode(br#"{"alg":"none","typ":"JWT"}"#);
        for forged in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            assert_eq!(
                keys.verify::<NoExtra>(&forged, Purpose::Session)
                    .unwrap_err(),
                TokenError::Invalid
            );
        }
    }

    #[test]
    fn other_algorithms_are_refused_even_with_the_right_key() {
        let keys = keys();
        let key = derive_key(b"0123456789abcdef0123456789abcdef", Purpose::Session);
        let claims = Claims {
            sub: "u".into(),
            purpose: Purpose::Session,
            iss: "coglex".into(),
            aud: "coglex-api".into(),
            exp: now_secs() + 60,
            iat: now_secs(),
            jti: "j".into(),
            extra: NoExtra {},
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&key),
        )
        .unwrap();
        assert_eq!(
            keys.verify::<NoExtra>(&token, Purpose::Session)
                .unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let keys = keys();
        let token = keys
            .issue(Purpose::Session, "user-1", HOUR, NoExtra {})
            .unwrap()
            .token;
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let payload = String::from_utf8(b64::decode(&parts[1]).unwrap()).unwrap();
        parts[1] = b64::encode(payload.replace("user-1", "admin").as_bytes());
        assert_eq!(
            keys.verify::<NoExtra>(&parts.join("."), Purpose::Session)
                .unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = keys();
        let (enc, _) = keys.keys(Purpose::Session);
        let claims = Claims {
            sub: "u".into(),
            purpose: Purpose::Session,
            iss: "coglex".into(),
            aud: "coglex-api".into(),
            exp: now_secs() - 60,
            iat: now_secs() - 120,
            jti: "j".into(),
            extra: NoExtra {},
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, enc).unwrap();
        assert_eq!(
            keys.verify::<NoExtra>(&token, Purpose::Session)
                .unwrap_err(),
            TokenError::Expired
        );
    }

    #[test]
    fn a_token_without_purpose_is_refused() {
        let keys = keys();
        let (enc, _) = keys.keys(Purpose::Session);
        let claims = serde_json::json!({
            "sub": "u", "iss": "coglex", "aud": "coglex-api",
            "exp": now_secs() + 60, "iat": now_secs(), "jti": "j"
        });
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, enc).unwrap();
        assert_eq!(
            keys.verify::<NoExtra>(&token, Purpose::Session)
                .unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn another_secret_or_audience_is_refused() {
        let token = keys()
            .issue(Purpose::Session, "u", HOUR, NoExtra {})
            .unwrap()
            .token;
        let other = TokenKeys::new(&TokenSettings {
            server_secret: Secret::new("another-secret-another-secret-xx"),
            token_issuer: default_issuer(),
            token_audience: default_audience(),
        });
        assert!(other.verify::<NoExtra>(&token, Purpose::Session).is_err());
        let other_aud = TokenKeys::new(&TokenSettings {
            server_secret: Secret::new("0123456789abcdef0123456789abcdef"),
            token_issuer: default_issuer(),
            token_audience: "someone-else".into(),
        });
        assert!(other_aud
            .verify::<NoExtra>(&token, Purpose::Session)
            .is_err());
    }

    /// Base64url without padding, as JWTs use (RFC 7515 §2).
    mod base64_url {
        pub fn encode(bytes: &[u8]) -> String {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        }
        pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text)
        }
    }
}
