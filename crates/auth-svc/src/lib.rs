//! auth-svc: sign-up, sign-in, sessions, profiles, OAuth and email one-time codes, under `/service/auth/v1`.
//!
//! [`build`] assembles the service from configuration; the binary, the tests and the local
//! stack all run this same function.

mod routes;

use coglex_common::config::{ConfigSource, CoreSettings};
use coglex_common::web::{Application, Core, ServiceDef};

/// Routing name: the service answers under `/service/auth/v1`.
pub const NAME: &str = "auth";
/// Port used when `SERVER_PORT` is not set (the local stack's layout).
pub const DEFAULT_PORT: u16 = 8081;

/// Builds the service from configuration; call `run_until_stopped` on the result.
pub async fn build(source: ConfigSource) -> anyhow::Result<Application> {
    let core = Core::connect(CoreSettings::from_source(&source)?, "auth-svc").await?;
    Ok(Application::bind(
        core,
        ServiceDef::new(NAME, (), routes::configure),
        DEFAULT_PORT,
    )?)
}
