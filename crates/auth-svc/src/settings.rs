//! auth-svc's own settings. Names keep the original's where it had them
//! (`SERVER_SESSION_LIFETIME`, `VERIFICATION_LENGTH`, `VERIFICATION_EXPIRY`, `SMTP_*`,
//! `GOOGLE_*`, `FACEBOOK_*`).

use coglex_common::config::{comma_list, ConfigError};
use coglex_common::secret::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Seconds a sign-in lasts before the user must sign in again (`SERVER_SESSION_LIFETIME`,
    /// the original's 8 days). Refresh tokens live this long; access tokens far less.
    #[serde(default = "defaults::session_lifetime")]
    pub server_session_lifetime: u64,
    /// Seconds an access (session) token is valid (`ACCESS_TOKEN_TTL_SECS`).
    #[serde(default = "defaults::access_token_ttl")]
    pub access_token_ttl_secs: u64,
    /// User fields that only admins may set: authorization data (`AUTH_PROTECTED_FIELDS`).
    #[serde(
        default = "defaults::protected_fields",
        deserialize_with = "comma_list"
    )]
    pub auth_protected_fields: Vec<String>,

    /// Digits in an emailed one-time code (`VERIFICATION_LENGTH`).
    #[serde(default = "defaults::verification_length")]
    pub verification_length: u32,
    /// Seconds a one-time code is valid (`VERIFICATION_EXPIRY`).
    #[serde(default = "defaults::verification_expiry")]
    pub verification_expiry: u64,
    /// Wrong guesses after which a one-time code dies (`OTP_MAX_ATTEMPTS`).
    #[serde(default = "defaults::otp_max_attempts")]
    pub otp_max_attempts: i32,

    /// Length of the window for sign-in and code-request limits, in seconds (`AUTH_LIMIT_WINDOW_SECS`).
    #[serde(default = "defaults::limit_window")]
    pub auth_limit_window_secs: u64,
    /// Sign-in attempts per account per window, from all clients (`SIGNIN_MAX_PER_ACCOUNT`).
    #[serde(default = "defaults::signin_per_account")]
    pub signin_max_per_account: i64,
    /// Sign-in attempts per account per window from one client address
    /// (`SIGNIN_MAX_PER_ACCOUNT_CLIENT`).
    #[serde(default = "defaults::signin_per_account_client")]
    pub signin_max_per_account_client: i64,
    /// Sign-in attempts per client address per window (`SIGNIN_MAX_PER_CLIENT`).
    #[serde(default = "defaults::signin_per_client")]
    pub signin_max_per_client: i64,
    /// Sign-ups per client address per window (`SIGNUP_MAX_PER_CLIENT`).
    #[serde(default = "defaults::signup_per_client")]
    pub signup_max_per_client: i64,
    /// OAuth sign-ins started per client address per window (`OAUTH_MAX_PER_CLIENT`).
    #[serde(default = "defaults::oauth_per_client")]
    pub oauth_max_per_client: i64,
    /// Code requests per account per window, from all clients (`PASSGEN_MAX_PER_ACCOUNT`).
    #[serde(default = "defaults::passgen_per_account")]
    pub passgen_max_per_account: i64,
    /// Code requests per account per window from one client address
    /// (`PASSGEN_MAX_PER_ACCOUNT_CLIENT`).
    #[serde(default = "defaults::passgen_per_account_client")]
    pub passgen_max_per_account_client: i64,
    /// Code requests per client address per window (`PASSGEN_MAX_PER_CLIENT`).
    #[serde(default = "defaults::passgen_per_client")]
    pub passgen_max_per_client: i64,
    /// Code checks per account per window over all its codes, from all clients
    /// (`PASSVER_MAX_PER_ACCOUNT`).
    #[serde(default = "defaults::passver_per_account")]
    pub passver_max_per_account: i64,
    /// Code checks per account per window from one client address
    /// (`PASSVER_MAX_PER_ACCOUNT_CLIENT`).
    #[serde(default = "defaults::passver_per_account_client")]
    pub passver_max_per_account_client: i64,

    /// SMTP server for one-time codes (`SMTP_HOST`).
    #[serde(default = "defaults::smtp_host")]
    pub smtp_host: String,
    /// SMTP port (`SMTP_PORT`).
    #[serde(default = "defaults::smtp_port")]
    pub smtp_port: u16,
    /// SMTP user, if the server wants authentication (`SMTP_USERNAME`).
    #[serde(default)]
    pub smtp_username: Option<String>,
    /// SMTP password (`SMTP_PASSWORD`).
    #[serde(default)]
    pub smtp_password: Secret,
    /// Sender of one-time code mail (`SMTP_FROM`).
    #[serde(default = "defaults::smtp_from")]
    pub smtp_from: String,
    /// `starttls` (default), `tls` (implicit TLS, port 465) or `none` (local mail catchers only) (`SMTP_TLS`).
    #[serde(default)]
    pub smtp_tls: SmtpTls,
    /// Milliseconds to talk to the SMTP server (`SMTP_TIMEOUT_MS`).
    #[serde(default = "defaults::timeout_ms")]
    pub smtp_timeout_ms: u64,

    /// Milliseconds one database call may take before it is given up with 503
    /// (`AUTH_DATABASE_TIMEOUT_MS`): the driver has no socket timeout, so a silent connection
    /// would otherwise hold a sign-in forever.
    #[serde(default = "defaults::timeout_ms")]
    pub auth_database_timeout_ms: u64,

    /// Redirect URIs accepted in OAuth flows, exact matches (`OAUTH_REDIRECT_ALLOWLIST`).
    #[serde(default, deserialize_with = "comma_list")]
    pub oauth_redirect_allowlist: Vec<String>,
    /// Milliseconds to talk to an OAuth provider (`OAUTH_TIMEOUT_MS`).
    #[serde(default = "defaults::timeout_ms")]
    pub oauth_timeout_ms: u64,
    #[serde(default)]
    pub google_client_id: Option<String>,
    #[serde(default)]
    pub google_client_secret: Secret,
    #[serde(default = "defaults::google_auth_url")]
    pub google_auth_url: String,
    #[serde(default = "defaults::google_token_url")]
    pub google_token_url: String,
    #[serde(default = "defaults::google_userinfo_url")]
    pub google_userinfo_url: String,
    #[serde(default)]
    pub facebook_client_id: Option<String>,
    #[serde(default)]
    pub facebook_client_secret: Secret,
    #[serde(default = "defaults::facebook_auth_url")]
    pub facebook_auth_url: String,
    #[serde(default = "defaults::facebook_token_url")]
    pub facebook_token_url: String,
    #[serde(default = "defaults::facebook_userinfo_url")]
    pub facebook_userinfo_url: String,
    /// Whether the email Facebook shares proves its owner (`FACEBOOK_EMAIL_VERIFIED`). Facebook
    /// does not document that it verified the address, so by default its sign-in reaches only
    /// the accounts it made or was linked to from a session.
    #[serde(default)]
    pub facebook_email_verified: bool,
}

/// How auth-svc talks TLS to the SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

mod defaults {
    pub fn session_lifetime() -> u64 {
        8 * 24 * 3600
    }
    pub fn access_token_ttl() -> u64 {
        900
    }
    pub fn protected_fields() -> Vec<String> {
        vec!["role".into()]
    }
    pub fn verification_length() -> u32 {
        6
    }
    pub fn verification_expiry() -> u64 {
        600
    }
    pub fn otp_max_attempts() -> i32 {
        5
    }
    pub fn limit_window() -> u64 {
        900
    }
    pub fn signin_per_account() -> i64 {
        100
    }
    pub fn signin_per_account_client() -> i64 {
        10
    }
    pub fn signin_per_client() -> i64 {
        100
    }
    pub fn signup_per_client() -> i64 {
        30
    }
    pub fn oauth_per_client() -> i64 {
        60
    }
    pub fn passgen_per_account() -> i64 {
        15
    }
    pub fn passgen_per_account_client() -> i64 {
        5
    }
    pub fn passgen_per_client() -> i64 {
        30
    }
    pub fn passver_per_account() -> i64 {
        50
    }
    pub fn passver_per_account_client() -> i64 {
        10
    }
    pub fn smtp_host() -> String {
        "localhost".into()
    }
    pub fn smtp_port() -> u16 {
        587
    }
    pub fn smtp_from() -> String {
        "Coglex <no-reply@localhost>".into()
    }
    pub fn timeout_ms() -> u64 {
        10_000
    }
    pub fn google_auth_url() -> String {
        "https://accounts.google.com/o/oauth2/v2/auth".into()
    }
    pub fn google_token_url() -> String {
        "https://oauth2.googleapis.com/token".into()
    }
    pub fn google_userinfo_url() -> String {
        "https://openidconnect.googleapis.com/v1/userinfo".into()
    }
    pub fn facebook_auth_url() -> String {
        "https://www.facebook.com/v19.0/dialog/oauth".into()
    }
    pub fn facebook_token_url() -> String {
        "https://graph.facebook.com/v19.0/oauth/access_token".into()
    }
    pub fn facebook_userinfo_url() -> String {
        "https://graph.facebook.com/me?fields=id,name,email".into()
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(4..=10).contains(&self.verification_length) {
            return Err(ConfigError(
                "VERIFICATION_LENGTH must be between 4 and 10 digits".into(),
            ));
        }
        if self.access_token_ttl_secs == 0
            || self.access_token_ttl_secs > self.server_session_lifetime
        {
            return Err(ConfigError(
                "ACCESS_TOKEN_TTL_SECS must be positive and at most SERVER_SESSION_LIFETIME".into(),
            ));
        }
        if self.auth_database_timeout_ms == 0 {
            return Err(ConfigError(
                "AUTH_DATABASE_TIMEOUT_MS must be a positive number of milliseconds".into(),
            ));
        }
        if self.otp_max_attempts < 1 {
            return Err(ConfigError("OTP_MAX_ATTEMPTS must be at least 1".into()));
        }
        for url in [
            &self.google_auth_url,
            &self.google_token_url,
            &self.google_userinfo_url,
            &self.facebook_auth_url,
            &self.facebook_token_url,
            &self.facebook_userinfo_url,
        ] {
            url::Url::parse(url)
                .map_err(|_| ConfigError(format!("`{url}` is not a valid OAuth endpoint URL")))?;
        }
        Ok(())
    }

    /// How long one database call may take (`AUTH_DATABASE_TIMEOUT_MS`).
    pub fn database_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.auth_database_timeout_ms)
    }
}
