//! The timer behind the gateway's "no progress for so long" limits (`send_timeout`,
//! `idle_body`): it runs only while the timed side waits, restarts after each bit of
//! progress, and is made on the first wait, so a side that never waits costs nothing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

pub struct StallTimer {
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the timer runs for the current wait.
    waiting: bool,
}

impl StallTimer {
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            timer: None,
            waiting: false,
        }
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The timed side made progress: its next wait starts a new count.
    pub fn moved(&mut self) {
        self.waiting = false;
    }

    /// The timed side is waiting: ready once it has waited `limit` since it last moved.
    pub fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.waiting {
            let deadline = Instant::now() + self.limit;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.waiting = true;
        }
        match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}
