//! Gateway integration tests: a real gateway in front of real upstreams (the five services, or
//! a small streaming test server), over real sockets.

mod helpers;

mod clients;
mod connections;
mod framing;
mod limits;
mod listening;
mod proxying;
mod routing;
mod services;
mod sharing;
mod shutdown;
mod streaming;
mod upstream_failures;
