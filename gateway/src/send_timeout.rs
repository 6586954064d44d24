//! A client connection that has stopped reading is closed after a while (nginx's
//! `send_timeout`). Without it, a client that asks for a large download and never reads it
//! would hold its connection, and the service connection and handler feeding it, forever.
//! Only a write that cannot proceed is timed: an event stream with nothing to send is not.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};

use crate::stall_timer::StallTimer;

pub struct SendTimeout<T> {
    io: T,
    /// Runs while a write is waiting for the client.
    stall: StallTimer,
}

impl<T> SendTimeout<T> {
    pub fn new(io: T, limit: Duration) -> Self {
        Self {
            io,
            stall: StallTimer::new(limit),
        }
    }

    /// Passes a write's outcome on; a write still waiting when the limit runs out fails.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if outcome.is_ready() {
            self.stall.moved();
            return outcome;
        }
        match self.stall.poll_stalled(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: Read + Unpin> Read for SendTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for SendTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.io).poll_shutdown(cx);
        self.watch(cx, outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio::time::Instant;

    use super::*;

    /// A socket whose writes wait until `free_at`.
    struct Congested {
        free_at: Instant,
    }

    impl Read for Congested {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl Write for Congested {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if Instant::now() >= self.free_at {
                return Poll::Ready(Ok(buf.len()));
            }
            let (waker, at) = (cx.waker().clone(), self.free_at);
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                waker.wake();
            });
            Poll::Pending
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A socket free for now, watched with `limit`.
    fn congested(limit: Duration) -> SendTimeout<Congested> {
        let free_at = Instant::now();
        SendTimeout::new(Congested { free_at }, limit)
    }

    /// Makes the next write wait `wait`, then writes.
    async fn write_after(io: &mut SendTimeout<Congested>, wait: Duration) -> io::Result<usize> {
        io.io.free_at = Instant::now() + wait;
        poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, b"data")).await
    }

    #[tokio::test]
    async fn waits_shorter_than_the_limit_never_add_up() {
        let limit = Duration::from_millis(300);
        let mut io = congested(limit);
        let started = Instant::now();
        for _ in 0..6 {
            assert_eq!(
                write_after(&mut io, Duration::from_millis(150))
                    .await
                    .unwrap(),
                4
            );
        }
        assert!(
            started.elapsed() > 2 * limit,
            "the waits together outlast the limit"
        );
    }

    #[tokio::test]
    async fn a_write_waiting_past_the_limit_fails() {
        let limit = Duration::from_millis(200);
        let mut io = congested(limit);
        assert!(write_after(&mut io, Duration::ZERO).await.is_ok());
        let started = Instant::now();
        let error = write_after(&mut io, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= limit && started.elapsed() < Duration::from_secs(4));
    }
}
