//! The Coglex gateway: the one public entry point.
//!
//! A request flows through [`proxy::Proxy::handle`]: request id → gateway-local routes
//! (`/health`, `/ready`, `/metrics`, `/openapi.json`, `/docs`) → CORS preflight → method and
//! framing checks → route (`/service/<name>/v1/...`) → `X-API-Key` → rate limit → body limit
//! → forwarded to the service over a keep-alive connection owned by the client's connection,
//! bodies streamed both ways. Every failure is turned into a response in one place,
//! [`respond`]. Connections over `MAX_CONNECTIONS` get one answer (`server`), and a client
//! that stops reading is cut off (`send_timeout`).

mod coalesce;
pub mod config;
mod cors;
mod docs;
mod driver;
mod forwarding;
mod h2c;
mod head_scan;
mod idle_body;
mod limits;
mod memo;
mod metrics;
pub mod proxy;
pub mod respond;
pub mod routes;
mod send_timeout;
mod server;
mod stall_timer;
mod upstream;

pub use server::{launch, Gateway, Running};
