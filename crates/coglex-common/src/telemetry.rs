//! Logging with tracing-subscriber: coloured, readable lines in development, one JSON object
//! per line in production. `RUST_LOG` overrides `LOG_LEVEL`.

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Coloured, human-readable (development).
    #[default]
    Pretty,
    /// One JSON object per line (production, log collectors).
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `pretty` or `json` (`LOG_FORMAT`).
    #[serde(default)]
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `info,auth_svc=debug` (`LOG_LEVEL`).
    #[serde(default = "default_level")]
    pub log_level: String,
}

fn default_level() -> String {
    "info".into()
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            log_format: LogFormat::default(),
            log_level: default_level(),
        }
    }
}

/// Installs the global subscriber; later calls (several apps in one test binary) are no-ops.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.with_ansi(true).compact().try_init(),
    };
}
