//! Accepting connections: HTTP/1.1 per connection (no h2c, no upgrades), a header read timeout
//! against slowloris, and graceful shutdown that stops accepting and drains open connections.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use coglex_common::config::{ApiKeySettings, ConfigSource, ServerSettings};
use coglex_common::process::{self, Serve};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::config::GatewaySettings;
use crate::driver;
use crate::proxy::{ClientConn, Proxy};
use crate::upstream;

/// The port the gateway listens on unless `SERVER_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// How often idle clients' rate-limit state is dropped.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// A bound gateway, ready to serve.
pub struct Gateway {
    listener: TcpListener,
    proxy: Arc<Proxy>,
    header_read_timeout: Duration,
    shutdown_timeout: Duration,
}

impl Gateway {
    /// Reads settings, validates them and binds the listener.
    pub async fn build(source: ConfigSource) -> anyhow::Result<Self> {
        let server: ServerSettings = source.get()?;
        let keys: ApiKeySettings = source.get()?;
        let settings: GatewaySettings = source.get()?;
        let proxy = Proxy::new(&settings, &keys)?;
        let listener = TcpListener::bind((
            server.server_host.as_str(),
            server.server_port.unwrap_or(DEFAULT_PORT),
        ))
        .await?;
        Ok(Self {
            listener,
            proxy: Arc::new(proxy),
            header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms),
            shutdown_timeout: Duration::from_secs(server.shutdown_timeout_secs),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves in the background of the current runtime until the returned handle is dropped
    /// (tests, embedding).
    pub fn spawn(self) -> Running {
        let address = format!("http://{}", self.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(self.run_until(async move {
            let _ = stopped.await;
        }));
        Running {
            address,
            _stop: stop,
        }
    }

    /// Serves until `stop` completes, then drains open connections for the shutdown timeout.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .keep_alive(true);
        let graceful = GracefulShutdown::new();
        let forget = tokio::spawn(forget_idle_clients(Arc::clone(&self.proxy)));
        tokio::pin!(stop);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut stop => break,
            };
            let _ = stream.set_nodelay(true);
            let proxy = Arc::clone(&self.proxy);
            let (upstreams, opened) = upstream::for_connection();
            let client = Arc::new(ClientConn::new(peer.ip(), upstreams));
            let service = service_fn(move |request| {
                let (proxy, client) = (Arc::clone(&proxy), Arc::clone(&client));
                async move { Ok::<_, std::convert::Infallible>(proxy.handle(request, &client).await) }
            });
            let connection =
                graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
            // The connection and the service connections it opens share this one task.
            tokio::spawn(async move {
                if let Err(error) = driver::run(opened, connection).await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        forget.abort();
        if tokio::time::timeout(self.shutdown_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the shutdown timeout; closing them");
        }
        Ok(())
    }
}

/// A gateway serving in the background; dropping it stops the gateway gracefully.
pub struct Running {
    /// `http://<ip>:<port>`.
    pub address: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Serve for Gateway {
    fn port(&self) -> u16 {
        self.local_addr().port()
    }

    async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

async fn forget_idle_clients(proxy: Arc<Proxy>) {
    let mut every = tokio::time::interval(FORGET_IDLE_EVERY);
    loop {
        every.tick().await;
        proxy.forget_idle_clients();
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The gateway binary's `main`.
pub async fn launch() -> ExitCode {
    process::launch("gateway", Gateway::build).await
}
