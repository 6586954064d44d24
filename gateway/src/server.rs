//! Accepting connections: one event loop per core, each with its own listener on the shared
//! port; HTTP/1.1 per connection (no h2c, no upgrades), a header read timeout against
//! slowloris, a send timeout against clients that stop reading, a cap on open connections,
//! and graceful shutdown that stops accepting and drains open connections.

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
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::GatewaySettings;
use crate::driver;
use crate::head_scan::{FramingFlag, HeadScan};
use crate::proxy::{ClientConn, Proxy};
use crate::send_timeout::SendTimeout;
use crate::upstream;

/// The port the gateway listens on unless `SERVER_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// How often idle clients' rate-limit state is dropped.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// Connections waiting to be accepted, per event loop.
const ACCEPT_BACKLOG: u32 = 1024;

/// Connections over `MAX_CONNECTIONS` an event loop answers at once (503, or its health for
/// probes) before it leaves the next ones in the backlog.
const OVER_CAPACITY_ANSWERS: usize = 64;

/// A bound gateway, ready to serve.
pub struct Gateway {
    /// The first event loop's listener; the others bind the same address (`SO_REUSEPORT`).
    listener: std::net::TcpListener,
    proxy: Arc<Proxy>,
    event_loops: usize,
    header_read_timeout: Duration,
    send_timeout: Duration,
    max_connections: usize,
    shutdown_timeout: Duration,
}

impl Gateway {
    /// Reads settings, validates them and binds the listener.
    pub async fn build(source: ConfigSource) -> anyhow::Result<Self> {
        let server: ServerSettings = source.get()?;
        let keys: ApiKeySettings = source.get()?;
        let settings: GatewaySettings = source.get()?;
        let proxy = Proxy::new(&settings, &keys)?;
        let address = tokio::net::lookup_host((
            server.server_host.as_str(),
            server.server_port.unwrap_or(DEFAULT_PORT),
        ))
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("SERVER_HOST resolves to no address"))?;
        let event_loops = match server.server_workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        raise_open_file_limit(settings.max_connections);
        if address.port() != 0 {
            // SO_REUSEPORT would let this gateway share a port another process holds, each
            // taking part of the connections: fail as a plain bind would instead.
            drop(std::net::TcpListener::bind(address)?);
        }
        Ok(Self {
            listener: bind(address)?,
            proxy: Arc::new(proxy),
            event_loops,
            header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms),
            send_timeout: Duration::from_millis(settings.client_send_timeout_ms),
            max_connections: settings.max_connections,
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
        tokio::spawn(async move {
            let stop = async move {
                let _ = stopped.await;
            };
            if let Err(error) = self.run_until(stop).await {
                tracing::error!(%error, "gateway stopped");
            }
        });
        Running {
            address,
            _stop: stop,
        }
    }

    /// Serves until `stop` completes, then drains open connections for the shutdown timeout.
    ///
    /// Like nginx's workers, each event loop is a thread with its own runtime and listener, and
    /// a connection stays on the loop that accepted it, with the service connections it opens:
    /// no work stealing, no wake-ups across threads.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let address = self.local_addr();
        let mut listeners = vec![self.listener];
        for _ in 1..self.event_loops {
            listeners.push(bind(address)?);
        }
        // Dropped (so every loop stops) also when this future is dropped mid-way.
        let (stopping, stop_loops) = tokio::sync::watch::channel(());
        let (ended, mut loop_ended) = tokio::sync::mpsc::unbounded_channel();
        let connections = Arc::new(Semaphore::new(self.max_connections));
        for (index, listener) in listeners.into_iter().enumerate() {
            let event_loop = EventLoop {
                proxy: Arc::clone(&self.proxy),
                header_read_timeout: self.header_read_timeout,
                send_timeout: self.send_timeout,
                connections: Arc::clone(&connections),
                shutdown_timeout: self.shutdown_timeout,
            };
            let mut stop = stop_loops.clone();
            let ended = Ended(ended.clone(), index);
            std::thread::Builder::new()
                .name(format!("gateway-loop-{index}"))
                .spawn(move || {
                    let _ended = ended;
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(error) => return tracing::error!(%error, "event loop did not start"),
                    };
                    runtime.block_on(event_loop.run(listener, async move {
                        let _ = stop.changed().await;
                    }));
                    // Its connections are drained; only stray blocking work (a DNS lookup)
                    // could hold the thread longer.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                })?;
        }
        drop(ended);
        let _forget = AbortOnDrop(tokio::spawn(forget_idle_clients(Arc::clone(&self.proxy))));
        // A loop that ends by itself (its runtime failed, or it panicked) stops the gateway
        // rather than leaving it up on fewer loops, or none.
        let ended_early = tokio::select! {
            () = stop => None,
            index = loop_ended.recv() => index,
        };
        drop(stopping);
        while loop_ended.recv().await.is_some() {}
        match ended_early {
            Some(index) => Err(std::io::Error::other(format!(
                "event loop {index} stopped by itself"
            ))),
            None => Ok(()),
        }
    }
}

/// Reports its loop's end when dropped, also when the loop panicked.
struct Ended(tokio::sync::mpsc::UnboundedSender<usize>, usize);

impl Drop for Ended {
    fn drop(&mut self) {
        let _ = self.0.send(self.1);
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Raises the soft limit on open files to the hard one, as most servers do (systemd starts
/// services at 1024), and says so when even that is short of `MAX_CONNECTIONS`: each client
/// connection holds its socket and usually one to a service.
fn raise_open_file_limit(max_connections: usize) {
    let needed = 2 * max_connections as u64 + 64;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < needed => tracing::warn!(
            limit,
            needed,
            "the open-file limit is short of MAX_CONNECTIONS: lower it or raise the limit"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not read or raise the open-file limit"),
    }
}

/// A listening socket on `address` that other event loops may bind too.
fn bind(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.bind(address)?;
    socket.listen(ACCEPT_BACKLOG)?.into_std()
}

/// One event loop: accepts on its own listener and serves what it accepted.
struct EventLoop {
    proxy: Arc<Proxy>,
    header_read_timeout: Duration,
    send_timeout: Duration,
    /// A permit per open client connection, shared by every loop.
    connections: Arc<Semaphore>,
    shutdown_timeout: Duration,
}

impl EventLoop {
    /// A connection over the cap: told so at once, then closed (probes get the gateway's
    /// health). `answering` is held until then.
    fn answer_over_capacity(
        &self,
        stream: TcpStream,
        closing: &http1::Builder,
        graceful: &GracefulShutdown,
        answering: OwnedSemaphorePermit,
    ) {
        let proxy = Arc::clone(&self.proxy);
        let service = service_fn(move |request| {
            let response = proxy.handle_over_capacity(&request);
            async move { Ok::<_, std::convert::Infallible>(response) }
        });
        let io = SendTimeout::new(TokioIo::new(stream), self.send_timeout);
        let connection = graceful.watch(closing.serve_connection(io, service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(answering);
        });
    }

    async fn run(self, listener: std::net::TcpListener, stop: impl Future<Output = ()>) {
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(error) => return tracing::error!(%error, "event loop cannot listen"),
        };
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .keep_alive(true);
        // For connections over the cap: one answer, then the connection closes.
        let mut closing = builder.clone();
        closing.keep_alive(false);
        let over_capacity = Arc::new(Semaphore::new(OVER_CAPACITY_ANSWERS));
        let graceful = GracefulShutdown::new();
        let shared = self.proxy.shared_upstreams();
        tokio::pin!(stop);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
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
            // Taken after the accept, so a loop with nothing to accept never holds a permit
            // another loop's connection waits for.
            let permit = match Arc::clone(&self.connections).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => match Arc::clone(&over_capacity).try_acquire_owned() {
                    Ok(answering) => {
                        self.answer_over_capacity(stream, &closing, &graceful, answering);
                        continue;
                    }
                    // Too many of those too: this one waits for a connection to close, and
                    // the next ones in the backlog.
                    Err(_) => tokio::select! {
                        permit = Arc::clone(&self.connections).acquire_owned() => match permit {
                            Ok(permit) => permit,
                            Err(_) => break,
                        },
                        () = &mut stop => break,
                    },
                },
            };
            let _ = stream.set_nodelay(true);
            let proxy = Arc::clone(&self.proxy);
            let (upstreams, opened) = upstream::for_connection();
            let framing = FramingFlag::default();
            let client = Arc::new(ClientConn::new(
                peer.ip().to_canonical(),
                upstreams,
                shared.clone(),
                framing.clone(),
            ));
            let service = service_fn(move |request| {
                let (proxy, client) = (Arc::clone(&proxy), Arc::clone(&client));
                async move { Ok::<_, std::convert::Infallible>(proxy.handle(request, &client).await) }
            });
            let io = TokioIo::new(HeadScan::new(stream, framing));
            let io = SendTimeout::new(io, self.send_timeout);
            let connection = graceful.watch(builder.serve_connection(io, service));
            // The connection and the service connections it opens share this one task.
            tokio::spawn(async move {
                if let Err(error) = driver::run(opened, connection).await {
                    tracing::debug!(%error, "connection ended with an error");
                }
                drop(permit);
            });
        }
        drop(listener);
        if tokio::time::timeout(self.shutdown_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the shutdown timeout; closing them");
        }
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
