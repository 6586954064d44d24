//! A service's response body that stops moving is cut. Without it, a service that sent its
//! head and then stalled (a deadlock, a stuck stream) would hold the client connection, the
//! service connection and a connection slot forever, and make every shutdown wait out its
//! drain. Only a body with nothing to give is timed (`stall_timer`): a response whose body
//! is at hand, as most are, makes no timer.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::stall_timer::StallTimer;

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
    stall: StallTimer,
}

impl<B> IdleLimited<B> {
    pub fn new(body: B, limit: Duration) -> Self {
        Self {
            body,
            stall: StallTimer::new(limit),
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
            this.stall.moved();
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let limit = this.stall.limit();
        match this.stall.poll_stalled(cx) {
            Poll::Ready(()) => {
                tracing::warn!(
                    idle_ms = limit.as_millis() as u64,
                    "a service's response body stalled; cut"
                );
                Poll::Ready(Some(Err(Stalled(limit).into())))
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
