//! auth-svc: sign-up, sign-in, sessions, profiles, OAuth (Google, Facebook) and email
//! one-time codes, under `/service/auth/v1`.
//!
//! [`build`] assembles the service from configuration; the binary, the tests and the local
//! stack all run this same function.

mod domain;
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
    /// Where work that outlives a request runs (mail sent after answering).
    background: coglex_common::web::Background,
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
            background: core.background.clone(),
            settings,
        })
    }

    /// Every index, each tried whatever became of the others (data that breaks the unique
    /// `_key` index must not leave the sessions without their TTL index), within
    /// `INDEX_WAIT`: a connection gone silent must not stall the retries.
    async fn ensure_indexes(&self) -> Result<(), String> {
        let all = async {
            let (users, sessions, limits, otps, oauth) = tokio::join!(
                self.users.ensure_indexes(),
                self.sessions.ensure_indexes(),
                self.limits.ensure_indexes(),
                self.otps.ensure_indexes(),
                self.oauth.ensure_indexes(),
            );
            [users, sessions, limits, otps, oauth]
        };
        match tokio::time::timeout(INDEX_WAIT, all).await {
            Ok(results) => match results.into_iter().find_map(Result::err) {
                None => Ok(()),
                Some(error) => Err(error.to_string()),
            },
            Err(_) => Err("not done in time".to_owned()),
        }
    }
}

/// Builds the service from configuration; call `run_until_stopped` on the result.
pub async fn build(source: ConfigSource) -> anyhow::Result<Application> {
    let core = Core::connect(CoreSettings::from_source(&source)?, "auth-svc").await?;
    let settings: Settings = source.get()?;
    settings.validate()?;
    let state = std::sync::Arc::new(AuthState::new(&core, settings)?);
    // Before the first sign-in: a wrong password waits as long as the slowest hash verifies.
    coglex_common::password::calibrate().await;
    // The unique `_key` index must exist before sign-ups race; without it (the database not up
    // yet, or duplicate keys in data carried over) the service still starts, creates no
    // account (503) and keeps trying in the background.
    if let Err(error) = state.ensure_indexes().await {
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
