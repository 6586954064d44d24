//! A small actix server on loopback: every stand-in in this crate (upstream, fake Stripe,
//! Gemini and OAuth provider) is one of these with its own routes and state.

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};
use coglex_common::http2;

/// A listener on a free loopback port, and its `http://127.0.0.1:<port>` address.
pub fn free_listener() -> (TcpListener, String) {
    listener_on("127.0.0.1")
}

/// A listener on a free port of `ip` (`"[::1]"` for IPv6 loopback), and its URL.
pub fn listener_on(ip: &str) -> (TcpListener, String) {
    let listener = TcpListener::bind(format!("{ip}:0")).expect("bind a free port");
    let address = format!("http://{}", listener.local_addr().expect("bound"));
    (listener, address)
}

/// Serves `routes` on `listener` with one worker in the background; the handle stops it.
pub fn serve<F>(listener: TcpListener, routes: F) -> ServerHandle
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        // As the services do: their flow control is part of what the gateway's tests meet.
        .h2_initial_window_size(http2::STREAM_WINDOW)
        .h2_initial_connection_window_size(http2::CONNECTION_WINDOW)
        .listen_auto_h2c(listener)
        .expect("listen")
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    handle
}
