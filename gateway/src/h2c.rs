//! HTTP/2 to the services: h2c with prior knowledge, which the services accept beside
//! HTTP/1.1. An event loop's client connections share a few connections per service, so the
//! requests of many clients travel together: one read or write on a service connection
//! carries many of them. That halves the gateway's system calls per request and spares the
//! services most of theirs.
//!
//! A connection takes new requests only up to a maximum age; then a new one is opened. As
//! service replicas come and go behind a Kubernetes Service, each new connection can land on
//! another, so traffic spreads over them as it would with a connection per client.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coglex_common::http2 as http2_windows;
use http::uri::Authority;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::routes::ServiceId;
use crate::upstream::{self, UpstreamBody, UpstreamError};

/// How an event loop's shared service connections are kept.
#[derive(Debug, Clone, Copy)]
pub struct Http2Settings {
    /// Connections per service, taken in turn.
    pub connections: usize,
    /// Age after which a connection takes no new requests.
    pub max_age: Duration,
}

struct Shared {
    sender: SendRequest<UpstreamBody>,
    opened: Instant,
}

/// One event loop's HTTP/2 connections to the services.
pub struct SharedUpstreams {
    settings: Http2Settings,
    /// `[service][n]`.
    slots: Mutex<Vec<Vec<Option<Shared>>>>,
    /// Held while a slot's connection is opened, so that requests arriving meanwhile wait
    /// for it instead of each opening one; it keeps when an open last failed.
    opening: Vec<Vec<tokio::sync::Mutex<Option<Instant>>>>,
    turn: AtomicUsize,
}

impl SharedUpstreams {
    pub fn new(settings: Http2Settings) -> Self {
        let connections = settings.connections.max(1);
        Self {
            settings: Http2Settings {
                connections,
                ..settings
            },
            slots: Mutex::new(
                ServiceId::ALL
                    .iter()
                    .map(|_| (0..connections).map(|_| None).collect())
                    .collect(),
            ),
            opening: ServiceId::ALL
                .iter()
                .map(|_| (0..connections).map(|_| Default::default()).collect())
                .collect(),
            turn: AtomicUsize::new(0),
        }
    }

    /// Sends `request` (absolute URI, no `Host`) to `service` at `authority` on the next
    /// shared connection, opening it when missing, closed or too old. A request the
    /// connection refused before sending it (it was closing) is sent once more on a new one.
    pub async fn send(
        &self,
        service: ServiceId,
        authority: &Authority,
        connect_timeout: Duration,
        mut request: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let slot = self.turn.fetch_add(1, Relaxed) % self.settings.connections;
        for attempt in 0..2 {
            let mut sender = match self.usable(service, slot) {
                Some(sender) => sender,
                None => {
                    let asked = Instant::now();
                    let mut failed = self.opening[service.index()][slot].lock().await;
                    match self.usable(service, slot) {
                        Some(sender) => sender,
                        // An open that failed while this request waited answers it too: each
                        // waiter trying in turn would keep the last one k connect timeouts.
                        None if failed.is_some_and(|at| at >= asked) => {
                            return Err(UpstreamError::Connect(std::io::Error::other(
                                "the service could not be reached",
                            )));
                        }
                        None => match self.open(service, slot, authority, connect_timeout).await {
                            Ok(sender) => sender,
                            Err(error) => {
                                *failed = Some(Instant::now());
                                return Err(error);
                            }
                        },
                    }
                }
            };
            if sender.ready().await.is_err() {
                self.forget(service, slot);
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(response),
                Err(mut error) => match error.take_message() {
                    Some(unsent) if attempt == 0 => {
                        self.forget(service, slot);
                        request = unsent;
                    }
                    _ => return Err(UpstreamError::Http(error.into_error())),
                },
            }
        }
        Err(UpstreamError::closed_twice())
    }

    fn usable(&self, service: ServiceId, slot: usize) -> Option<SendRequest<UpstreamBody>> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots[service.index()][slot]
            .as_ref()
            .filter(|shared| {
                !shared.sender.is_closed() && shared.opened.elapsed() < self.settings.max_age
            })
            .map(|shared| shared.sender.clone())
    }

    fn forget(&self, service: ServiceId, slot: usize) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())[service.index()][slot] = None;
    }

    async fn open(
        &self,
        service: ServiceId,
        slot: usize,
        authority: &Authority,
        connect_timeout: Duration,
    ) -> Result<SendRequest<UpstreamBody>, UpstreamError> {
        let stream = upstream::connect_tcp(authority, connect_timeout).await?;
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(http2_windows::STREAM_WINDOW)
            .initial_connection_window_size(http2_windows::CONNECTION_WINDOW)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(UpstreamError::Http)?;
        // It ends once every sender is dropped (replaced, or the loop stopped) and its
        // streams are done.
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "shared service connection ended with an error");
            }
        });
        // The one replaced, if any, finishes its streams and closes.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())[service.index()][slot] =
            Some(Shared {
                sender: sender.clone(),
                opened: Instant::now(),
            });
        Ok(sender)
    }
}
