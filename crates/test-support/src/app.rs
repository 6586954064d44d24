//! A service (or any app built by a `build(ConfigSource)` function) on a free port, with its
//! own database and test secrets, and a client that sends the API key.

use std::future::Future;

use coglex_common::config::ConfigSource;
use coglex_common::process::Serve;
use coglex_common::telemetry::{self, LogSettings};
use coglex_common::web::Application;
use mongodb::Database;

use crate::mongo::TestDb;

/// A client API key accepted by every app spawned here (test value, not a real key).
pub const API_KEY: &str = "test-api-key-000000000000000000000000000000";
/// An admin API key accepted by every app spawned here (test value, not a real key).
pub const ADMIN_API_KEY: &str = "test-admin-key-00000000000000000000000000000";
/// The token-signing secret of every app spawned here (test value, not a real secret).
pub const SERVER_SECRET: &str = "test-server-secret-0000000000000000000000000";

/// A running app and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub port: u16,
    /// The app's database, for arranging and checking data beside the API.
    pub database: Database,
    /// Plain client: no default headers, no redirects.
    pub http: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    _db: TestDb,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with the client API key set.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-API-Key", API_KEY)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, path)
    }

    /// Stops the app gracefully.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// The settings every spawned app gets, before a test's own overrides.
pub fn base_settings(db: &TestDb) -> Vec<(String, String)> {
    owned_pairs(&[
        ("SERVER_PORT", "0"),
        ("SERVER_WORKERS", "1"),
        ("SERVER_SECRET", SERVER_SECRET),
        ("API_KEYS", API_KEY),
        ("ADMIN_API_KEYS", ADMIN_API_KEY),
        ("MONGODB_URI", db.uri.as_str()),
        ("MONGODB_DATABASE", db.name.as_str()),
        ("SHUTDOWN_TIMEOUT_SECS", "1"),
    ])
}

/// `pairs` as the owned settings a `ConfigSource` takes.
pub fn owned_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The settings of a gateway in tests: a free port, the test keys, no rate limit.
pub fn gateway_settings() -> Vec<(String, String)> {
    owned_pairs(&[
        ("SERVER_PORT", "0"),
        ("API_KEYS", API_KEY),
        ("ADMIN_API_KEYS", ADMIN_API_KEY),
        ("RATE_LIMIT_RPS", "0"),
        ("SHUTDOWN_TIMEOUT_SECS", "1"),
    ])
}

/// Spawns the app that `build` makes, on its own database.
pub async fn spawn_app<F, Fut>(build: F) -> TestApp
where
    F: FnOnce(ConfigSource) -> Fut,
    Fut: Future<Output = anyhow::Result<Application>>,
{
    spawn_app_with(build, &[]).await
}

/// [`spawn_app`] with extra settings (later pairs win).
pub async fn spawn_app_with<F, Fut>(build: F, overrides: &[(&str, &str)]) -> TestApp
where
    F: FnOnce(ConfigSource) -> Fut,
    Fut: Future<Output = anyhow::Result<Application>>,
{
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(&LogSettings {
            log_level: "debug".into(),
            ..LogSettings::default()
        });
    }
    let db = TestDb::new();
    let mut settings = base_settings(&db);
    settings.extend(owned_pairs(overrides));
    let app = build(ConfigSource::from_pairs(settings))
        .await
        .expect("the app builds");
    let port = app.port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        database: db.handle().await,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client builds"),
        handle,
        _db: db,
    }
}
