//! A service's response body that stops moving is cut. Without it, a service that sent its
//! head and then stalled (a deadlock, a stuck stream) would hold the client connection, the
//! service connection and a connection slot forever, and make every shutdown wait out its
//! drain. Only a body with nothing to give is timed, and the timer is made on its first
//! wait: a response whose body is at hand, as most are, costs nothing more.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Why a body was cut: what the client's connection is aborted with.
#[derive(Debug)]
pub struct Stalled(Duration);

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the service's response body did not move for {:?}",
            self.0
        )
    }
}

impl std::error::Error for Stalled {}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `body`, cut when no frame comes for `limit`.
pub struct IdleLimited<B> {
    body: B,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the timer runs for the current wait.
    waiting: bool,
}

impl<B> IdleLimited<B> {
    pub fn new(body: B, limit: Duration) -> Self {
        Self {
            body,
            limit,
            timer: None,
            waiting: false,
        }
    }
}

impl<B> Body for IdleLimited<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.waiting = false;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = Instant::now() + this.limit;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !this.waiting {
            timer.as_mut().reset(deadline);
            this.waiting = true;
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::warn!(
                    idle_ms = this.limit.as_millis() as u64,
                    "a service's response body stalled; cut"
                );
                Poll::Ready(Some(Err(Stalled(this.limit).into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
