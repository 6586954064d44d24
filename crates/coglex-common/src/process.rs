//! The body of every binary's `main`: settings, telemetry, build, serve until SIGTERM.

use std::future::Future;
use std::process::ExitCode;

use crate::config::{ConfigError, ConfigSource};
use crate::telemetry;

/// A bound server that can be run to completion.
pub trait Serve {
    fn port(&self) -> u16;
    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    fn run_until_stopped(self) -> impl Future<Output = std::io::Result<()>>;
}

/// Loads settings, starts telemetry, builds the server and runs it. A configuration problem
/// prints one line naming the setting and exits with status 78 (EX_CONFIG).
pub async fn launch<S, Fut>(binary: &str, build: impl FnOnce(ConfigSource) -> Fut) -> ExitCode
where
    S: Serve,
    Fut: Future<Output = anyhow::Result<S>>,
{
    let source = match ConfigSource::load() {
        Ok(source) => source,
        Err(err) => return config_failure(binary, &err),
    };
    telemetry::init(&source.get().unwrap_or_default());
    let server = match build(source).await {
        Ok(server) => server,
        Err(err) => {
            if let Some(config_err) = err.downcast_ref::<ConfigError>() {
                return config_failure(binary, config_err);
            }
            tracing::error!(error = format!("{err:#}"), "{binary} failed to start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(port = server.port(), "{binary} listening");
    match server.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("{binary} stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %err, "{binary} stopped with an error");
            ExitCode::FAILURE
        }
    }
}

fn config_failure(binary: &str, err: &ConfigError) -> ExitCode {
    eprintln!("{binary}: {err}");
    ExitCode::from(78)
}
