//! auth-svc: sign-up, sign-in, sessions, profiles, OAuth (Google, Facebook) and email
//! one-time codes, under `/service/auth/v1`.
//!
//! [`build`] assembles the service from configuration; the binary, the tests and the local
//! stack all run this same function.

mod domain;
mod indexes;
mod limits;
mod mailer;
mod oauth;
mod otp;
mod routes;
mod sessions;
pub mod settings;
mod users;

use std::time::Duration;

use coglex_common::config::{ConfigSource, CoreSettings};
use coglex_common::web::{Application, Core, ServiceDef};

pub use settings::Settings;

/// Routing name: the service answers under `/service/auth/v1`.
pub const NAME: &str = "auth";
/// Port used when `SERVER_PORT` is not set (the local stack's layout).
pub const DEFAULT_PORT: u16 = 8081;

/// How long start-up waits for indexes before leaving them to a background retry.
const INDEX_WAIT: Duration = Duration::from_secs(5);

/// Everything the handlers share.
pub struct AuthState {
    settings: Settings,
    users: users::Users,
    sessions: sessions::Sessions,
    limits: limits::Limits,
    otps: otp::Otps,
    mailer: mailer::Mailer,
    oauth: oauth::OAuth,
    tokens: std::sync::Arc<coglex_common::token::TokenKeys>,
}

impl AuthState {
    fn new(core: &Core, settings: Settings) -> anyhow::Result<Self> {
        let limit = settings.database_timeout();
        Ok(Self {
            users: users::Users::new(core, limit),
            sessions: sessions::Sessions::new(
                core,
                settings.server_session_lifetime,
                settings.access_token_ttl_secs,
                limit,
            ),
            limits: limits::Limits::new(core, settings.auth_limit_window_secs, limit),
            otps: otp::Otps::new(
                core,
                settings.verification_length,
                settings.verification_expiry,
                settings.otp_max_attempts,
                limit,
            ),
            mailer: mailer::Mailer::new(&settings)?,
            oauth: oauth::OAuth::new(core, &settings)?,
            tokens: std::sync::Arc::clone(&core.tokens),
            settings,
        })
    }

    async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        self.users.ensure_indexes().await?;
        self.sessions.ensure_indexes().await?;
        self.limits.ensure_indexes().await?;
        self.otps.ensure_indexes().await?;
        self.oauth.ensure_indexes().await
    }
}

/// Builds the service from configuration; call `run_until_stopped` on the result.
pub async fn build(source: ConfigSource) -> anyhow::Result<Application> {
    let core = Core::connect(CoreSettings::from_source(&source)?, "auth-svc").await?;
    let settings: Settings = source.get()?;
    settings.validate()?;
    let state = std::sync::Arc::new(AuthState::new(&core, settings)?);
    // The unique `_key` index must exist before sign-ups race; if the database is not up yet,
    // the service still starts (answering 503) and keeps trying in the background.
    let first = match tokio::time::timeout(INDEX_WAIT, state.ensure_indexes()).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some("not done in time".to_owned()),
    };
    if let Some(error) = first {
        tracing::warn!(%error, "indexes not ready; retrying in the background");
        let state = std::sync::Arc::clone(&state);
        tokio::spawn(async move {
            // Logged each time: a failure that is not an outage (duplicate keys in data
            // carried over, say) needs an operator, and the log must say why.
            while let Err(error) = state.ensure_indexes().await {
                tracing::warn!(%error, "indexes not ready; retrying");
                tokio::time::sleep(INDEX_WAIT).await;
            }
            tracing::info!("indexes ready");
        });
    }
    Ok(Application::bind(
        core,
        ServiceDef::new(NAME, state, routes::configure),
        DEFAULT_PORT,
    )?)
}
