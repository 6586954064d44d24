//! One task per client connection drives both that connection and the service connections it
//! opens, and wakes itself as rarely as it can.
//!
//! A proxied request crosses between the two sides twice: the client side hands the request
//! to a service connection, and the service connection hands the response back. Each hand-off
//! wakes the other side. With plain task wake-ups each would cost one more run of the whole
//! task (tokio scheduling, then every future in it polled again). Instead each side gets its
//! own waker: a wake-up that happens while the driver is running only marks that side, and the
//! driver polls it again before it returns. Only wake-ups from outside (socket readiness,
//! timers) schedule the task, and then only the side they are for is polled.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::AtomicWaker;

/// A service connection's future, run by the driver of the client connection that opened it.
pub type ConnectionTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Service connections opened while the client side was polled, for the driver to pick up.
#[derive(Default)]
pub struct Opened(Mutex<Vec<ConnectionTask>>);

impl Opened {
    pub fn push(&self, task: ConnectionTask) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(task);
    }

    fn take(&self) -> Vec<ConnectionTask> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Rounds of hand-offs in one poll before the task yields to others. Also the guard against
/// a future that keeps waking itself (hyper's and `FuturesUnordered`'s own yields).
const MAX_ROUNDS: usize = 16;

/// Bits of [`Shared::state`].
const RUNNING: u8 = 1;
const CLIENT: u8 = 2;
const SERVICES: u8 = 4;

struct Shared {
    /// `RUNNING` while the driver polls; `CLIENT`/`SERVICES` when that side was woken since
    /// it was last polled.
    state: AtomicU8,
    task: AtomicWaker,
}

impl Shared {
    fn wake(&self, side: u8) {
        // AcqRel: the driver must see what the waker's caller did before it polls that side.
        if self.state.fetch_or(side, Ordering::AcqRel) & RUNNING == 0 {
            self.task.wake();
        }
    }

    /// Marks the driver running and returns the sides woken since it last looked.
    fn begin(&self) -> u8 {
        self.state.swap(RUNNING, Ordering::AcqRel) & (CLIENT | SERVICES)
    }

    /// Marks the driver stopped, keeping `woken` for its next poll.
    fn pause(&self, woken: u8) {
        self.state.fetch_or(woken, Ordering::AcqRel);
        self.state.fetch_and(!RUNNING, Ordering::AcqRel);
    }

    /// Marks the driver stopped, unless a side was woken meanwhile: then returns those sides
    /// and stays running.
    fn finish(&self) -> Option<u8> {
        match self
            .state
            .compare_exchange(RUNNING, 0, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => None,
            Err(_) => Some(self.begin()),
        }
    }
}

struct SideWaker {
    shared: Arc<Shared>,
    side: u8,
}

impl Wake for SideWaker {
    fn wake(self: Arc<Self>) {
        self.shared.wake(self.side);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.wake(self.side);
    }
}

/// Runs `client` (the client connection) to its end while driving the service connections it
/// opens through `opened`; those close with it.
pub async fn run<F: Future>(opened: Arc<Opened>, client: F) -> F::Output {
    let shared = Arc::new(Shared {
        state: AtomicU8::new(CLIENT | SERVICES),
        task: AtomicWaker::new(),
    });
    let waker = |side| {
        Waker::from(Arc::new(SideWaker {
            shared: Arc::clone(&shared),
            side,
        }))
    };
    let (client_waker, services_waker) = (waker(CLIENT), waker(SERVICES));
    let mut client = pin!(client);
    let mut services = FuturesUnordered::<ConnectionTask>::new();
    std::future::poll_fn(move |cx| {
        shared.task.register(cx.waker());
        let mut woken = shared.begin();
        for _ in 0..MAX_ROUNDS {
            if woken & CLIENT != 0 {
                if let Poll::Ready(output) = client
                    .as_mut()
                    .poll(&mut Context::from_waker(&client_waker))
                {
                    return Poll::Ready(output);
                }
                let new = opened.take();
                if !new.is_empty() {
                    services.extend(new);
                    woken |= SERVICES;
                }
            }
            if woken & SERVICES != 0 {
                let mut cx = Context::from_waker(&services_waker);
                while let Poll::Ready(Some(())) = services.poll_next_unpin(&mut cx) {}
            }
            match shared.finish() {
                None => return Poll::Pending,
                Some(again) => woken = again,
            }
        }
        shared.pause(woken);
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn a_hand_off_between_the_sides_does_not_reschedule_the_task() {
        // The client side opens a "service connection" that answers through a oneshot, like
        // hyper's client does; the whole exchange must finish in one poll of the task.
        let polls = Arc::new(AtomicUsize::new(0));
        let opened = Arc::new(Opened::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let client = {
            let opened = Arc::clone(&opened);
            async move {
                opened.push(Box::pin(async move {
                    let _ = go_rx.await;
                    let _ = tx.send(42);
                }));
                // Give the service side its start signal, then wait for its answer.
                let _ = go_tx.send(());
                rx.await.unwrap()
            }
        };
        let counted = {
            let polls = Arc::clone(&polls);
            let mut run = Box::pin(run(opened, client));
            std::future::poll_fn(move |cx| {
                polls.fetch_add(1, Ordering::Relaxed);
                run.as_mut().poll(cx)
            })
        };
        assert_eq!(counted.await, 42);
        assert_eq!(polls.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_side_that_keeps_waking_itself_yields_the_task() {
        let mut left = 100;
        let client = std::future::poll_fn(move |cx| {
            if left == 0 {
                return Poll::Ready(());
            }
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        });
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = {
            let polls = Arc::clone(&polls);
            let mut run = Box::pin(run(Arc::new(Opened::default()), client));
            std::future::poll_fn(move |cx| {
                polls.fetch_add(1, Ordering::Relaxed);
                run.as_mut().poll(cx)
            })
        };
        counted.await;
        assert_eq!(polls.load(Ordering::Relaxed), 100 / MAX_ROUNDS + 1);
    }

    #[tokio::test]
    async fn a_wake_from_outside_reaches_the_side_it_is_for() {
        let opened = Arc::new(Opened::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let client = {
            let opened = Arc::clone(&opened);
            async move {
                let (inner_tx, inner_rx) = tokio::sync::oneshot::channel();
                opened.push(Box::pin(async move {
                    let value = rx.await.unwrap();
                    let _ = inner_tx.send(value + 1);
                }));
                inner_rx.await.unwrap()
            }
        };
        let driven = tokio::spawn(run(opened, client));
        tokio::task::yield_now().await;
        tx.send(1).unwrap();
        assert_eq!(driven.await.unwrap(), 2);
    }
}
