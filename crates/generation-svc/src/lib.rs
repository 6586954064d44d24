//! generation-svc: Google Gemini conversations, file uploads and token counting, under `/service/generation/v1`.
//!
//! [`build`] assembles the service from configuration; the binary, the tests and the local
//! stack all run this same function.

mod domain;
mod files;
mod gemini;
mod relay;
mod routes;
mod settings;
mod sse;
mod state;
mod usage;

use coglex_common::config::{ConfigSource, CoreSettings};
use coglex_common::web::{Application, Core, ServiceDef};

pub use settings::Settings;

/// Routing name: the service answers under `/service/generation/v1`.
pub const NAME: &str = "generation";
/// Port used when `SERVER_PORT` is not set (the local stack's layout).
pub const DEFAULT_PORT: u16 = 8085;

/// Builds the service from configuration; call `run_until_stopped` on the result.
pub async fn build(source: ConfigSource) -> anyhow::Result<Application> {
    let settings: Settings = source.get()?;
    settings.validate()?;
    let core = Core::connect(CoreSettings::from_source(&source)?, "generation-svc").await?;
    let state = state::State::new(&settings, &core)?;
    // In the background: the service starts (and answers /health) before the database is up;
    // reads check each record's expiry themselves.
    let files = state.files.clone();
    tokio::spawn(async move {
        if let Err(error) = files.ensure_indexes().await {
            tracing::warn!(%error, "could not create the file records' expiry index");
        }
    });
    Ok(Application::bind(
        core,
        ServiceDef::new(NAME, state, routes::configure),
        DEFAULT_PORT,
    )?)
}
