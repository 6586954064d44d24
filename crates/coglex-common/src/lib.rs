//! What every Coglex service shares, and nothing that belongs to one service.
//!
//! Always available (the gateway uses only these):
//! - [`client`]: who a client is, for per-client limits (IPv6 by its /64).
//! - [`config`]: settings from built-in defaults, an optional file, `.env` and the environment.
//! - [`error`]: the one error vocabulary and JSON error shape of the whole API.
//! - [`http2`]: flow-control windows of the gateway's HTTP/2 connections to the services.
//! - [`process`]: the body of every binary's `main`.
//! - [`request_id`]: which client request ids are kept.
//! - [`secret`]: strings that never print, and constant-time API key checks.
//! - [`telemetry`]: tracing-subscriber setup (JSON in production, coloured in development).
//!
//! With the `service` feature (every service):
//! - `token`: HS256 JWTs with a purpose claim, so a token of one purpose never passes as another.
//! - `query`: allow-list checks for client-supplied MongoDB filters (storage, archive).
//! - `render`: BSON as the plain JSON the API speaks (hex ids, ISO dates).
//! - `document`, `update`, `sort`: what clients may write and how they sort, checked once for
//!   every service that takes documents (storage, auth profiles).
//! - `password`: argon2id hashing, with bcrypt hashes from the original accepted and upgraded.
//! - `mongo`: the MongoDB client with short timeouts and driver errors mapped to API errors.
//! - `session`: whether a signed-in session is still live (sign-out works across services).
//! - `web`: the actix-web glue every service mounts the same way.

pub mod client;
pub mod config;
pub mod error;
pub mod http2;
pub mod process;
pub mod request_id;
pub mod secret;
pub mod telemetry;

#[cfg(feature = "service")]
pub mod document;
#[cfg(feature = "service")]
pub mod mongo;
#[cfg(feature = "service")]
pub mod password;
#[cfg(feature = "service")]
pub mod query;
#[cfg(feature = "service")]
pub mod render;
#[cfg(feature = "service")]
pub mod session;
#[cfg(feature = "service")]
pub mod sort;
#[cfg(feature = "service")]
pub mod token;
#[cfg(feature = "service")]
pub mod update;
#[cfg(feature = "service")]
pub mod web;

pub use error::{ApiError, ErrorCode};
