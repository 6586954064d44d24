//! Dev-only helpers that keep Coglex tests short and real.
//!
//! - [`mongo`]: a real SecantusDB (`secantusd-rs`) per test binary, or `MONGODB_URI`.
//! - [`app`]: a service from its real `build` function on a free port, with its own database.
//! - [`openapi`]: a service's served OpenAPI document and the questions tests ask of it.
//! - [`session`]: a signed-in user (session document + token) for services' tests.
//! - [`upstream`]: a small streaming HTTP server to stand behind the gateway.
//! - [`multipart`]: hand-built `multipart/form-data` bodies.

pub mod app;
pub mod fake_gemini;
pub mod fake_oauth;
pub mod fake_stripe;
pub mod memory;
pub mod mongo;
pub mod multipart;
pub mod openapi;
pub mod serve;
pub mod session;
pub mod smtp;
pub mod tcp_proxy;
pub mod upstream;

pub use app::{
    gateway_settings, owned_pairs, spawn_app, spawn_app_with, TestApp, ADMIN_API_KEY, API_KEY,
    SERVER_SECRET,
};
pub use mongo::{shared_uri, MongoServer, TestDb};
pub use session::{sign_in, SignedIn};
