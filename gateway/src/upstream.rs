//! Connections to the services, owned by the client connection that uses them.
//!
//! Requests on an HTTP/1.1 client connection arrive one after another, so each client
//! connection keeps at most one keep-alive connection per service and drives it inside its own
//! task ([`crate::driver::run`]). A proxied request then never leaves that task: no pool lookup, and
//! none of the cross-task wake-ups a shared pool costs per request and per body chunk.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body_util::{Either, Empty, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::coalesce::Coalesce;
use crate::driver::{ConnectionTask, Opened};

use crate::routes::ServiceId;

/// What the gateway sends to a service: the client's body, capped, or nothing (probes).
pub type UpstreamBody = Either<Capped, Empty<Bytes>>;

/// The client's body, cut at the service's limit, its ready small frames merged
/// ([`Coalesce`]), with what the request's handling needs to learn from it ([`BodyProgress`]).
pub struct Capped {
    body: Coalesce<Limited<Incoming>>,
    progress: Arc<BodyProgress>,
}

/// What passing a client's body on tells the rest of its request: whether it was cut at the
/// limit (over HTTP/2 the exchange then fails with a reset stream that no longer carries the
/// cause), whether the client's side of it broke, whether the service is waiting on the
/// client for more of it, and when the last of it went (the response timeout counts from then).
pub struct BodyProgress {
    start: Instant,
    cut: AtomicBool,
    /// Reading it from the client failed: malformed chunks, or fewer bytes than announced.
    broken: AtomicBool,
    /// The body has ended (or never had any).
    complete: AtomicBool,
    /// The last ask for more of it found nothing yet from the client: when it stays so, the
    /// client has stalled, not the service (a service that stops reading stops asking).
    awaiting_client: AtomicBool,
    /// Nanoseconds after `start` when a frame, or the end, last went.
    moved: AtomicU64,
}

impl BodyProgress {
    /// When the request started.
    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn was_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }

    pub fn was_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    pub fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Relaxed)
    }

    pub fn is_awaiting_client(&self) -> bool {
        self.awaiting_client.load(Ordering::Relaxed)
    }

    /// When the body last moved; its start when it has not yet.
    pub fn last_moved(&self) -> Instant {
        self.start + Duration::from_nanos(self.moved.load(Ordering::Relaxed))
    }

    fn record_move(&self) {
        let since = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.moved.store(since, Ordering::Relaxed);
    }
}

impl Capped {
    /// `body` cut after `limit` bytes, and what passing it on will tell.
    pub fn new(body: Incoming, limit: usize) -> (Self, Arc<BodyProgress>) {
        let progress = Arc::new(BodyProgress {
            start: Instant::now(),
            cut: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            complete: AtomicBool::new(body.is_end_stream()),
            awaiting_client: AtomicBool::new(false),
            moved: AtomicU64::new(0),
        });
        let capped = Self {
            body: Coalesce::new(Limited::new(body, limit)),
            progress: Arc::clone(&progress),
        };
        (capped, progress)
    }
}

impl Body for Capped {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = Pin::new(&mut self.body).poll_frame(cx);
        self.progress
            .awaiting_client
            .store(frame.is_pending(), Ordering::Relaxed);
        match &frame {
            Poll::Ready(Some(Ok(_))) => {
                self.progress.record_move();
                // A body of known length is done after its last frame: hyper may never ask
                // for the end, so this is where it is known to have arrived in full.
                if self.body.is_end_stream() {
                    self.progress.complete.store(true, Ordering::Relaxed);
                }
            }
            Poll::Ready(None) => {
                self.progress.record_move();
                self.progress.complete.store(true, Ordering::Relaxed);
            }
            Poll::Ready(Some(Err(error))) if error.is::<LengthLimitError>() => {
                self.progress.cut.store(true, Ordering::Relaxed);
            }
            Poll::Ready(Some(Err(_))) => self.progress.broken.store(true, Ordering::Relaxed),
            Poll::Pending => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Why a request did not get a response head from its service.
#[derive(Debug)]
pub enum UpstreamError {
    /// The service could not be reached (refused, unresolvable, or the connect timed out).
    Connect(std::io::Error),
    /// The exchange failed after connecting.
    Http(hyper::Error),
}

impl UpstreamError {
    /// A request the service refused twice, on a connection it closed and on a new one.
    pub fn closed_twice() -> Self {
        Self::Connect(std::io::Error::other(
            "the service closed two connections in a row",
        ))
    }
}

/// The service connections of one client connection.
pub struct ConnUpstreams {
    senders: Mutex<[Option<SendRequest<UpstreamBody>>; ServiceId::ALL.len()]>,
    opened: Arc<Opened>,
}

/// A fresh set for a new client connection, and where it leaves the connections it opens for
/// [`crate::driver::run`] to drive.
pub fn for_connection() -> (ConnUpstreams, Arc<Opened>) {
    let opened = Arc::new(Opened::default());
    let upstreams = ConnUpstreams {
        senders: Mutex::new(Default::default()),
        opened: Arc::clone(&opened),
    };
    (upstreams, opened)
}

impl ConnUpstreams {
    /// Sends `request` (origin-form URI, `Host` set) to `service` at `authority`, on this
    /// connection's keep-alive connection to it or a new one. A request the service's side
    /// closed before it was written is sent again, once, on a new connection.
    pub async fn send(
        &self,
        service: ServiceId,
        authority: &Authority,
        connect_timeout: Duration,
        mut request: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        for attempt in 0..2 {
            let mut sender = match self.take(service) {
                Some(sender) if !sender.is_closed() => sender,
                _ => self.connect(authority, connect_timeout).await?,
            };
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    // Back before the body streams: the client's next request cannot come
                    // before this response is complete, and `ready` waits for it anyway.
                    self.put(service, sender);
                    return Ok(response);
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if attempt == 0 => request = unsent,
                    _ => return Err(UpstreamError::Http(error.into_error())),
                },
            }
        }
        Err(UpstreamError::closed_twice())
    }

    fn take(&self, service: ServiceId) -> Option<SendRequest<UpstreamBody>> {
        self.senders.lock().unwrap_or_else(|e| e.into_inner())[service.index()].take()
    }

    fn put(&self, service: ServiceId, sender: SendRequest<UpstreamBody>) {
        self.senders.lock().unwrap_or_else(|e| e.into_inner())[service.index()] = Some(sender);
    }

    async fn connect(
        &self,
        authority: &Authority,
        timeout: Duration,
    ) -> Result<SendRequest<UpstreamBody>, UpstreamError> {
        let stream = connect_tcp(authority, timeout).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(UpstreamError::Http)?;
        let task: ConnectionTask = Box::pin(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "service connection ended with an error");
            }
        });
        self.opened.push(task);
        Ok(sender)
    }
}

/// A TCP connection to `authority` within `timeout`, without Nagle's delay.
pub async fn connect_tcp(
    authority: &Authority,
    timeout: Duration,
) -> Result<TcpStream, UpstreamError> {
    // An IPv6 literal keeps its brackets in the authority; the resolver wants it without.
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let address = (host, authority.port_u16().unwrap_or(80));
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(UpstreamError::Connect(error)),
        Err(_) => {
            return Err(UpstreamError::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            )))
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
