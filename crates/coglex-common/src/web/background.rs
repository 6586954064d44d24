//! Work a request starts that must outlive it: a rollback, a usage record, a cleanup.
//!
//! actix runs each worker on a runtime of its own, which stops with the worker at shutdown and
//! drops whatever it still runs. Such work goes to the process's main runtime instead, and a
//! stopping service waits for it after its last request (see [`Background::drain`]).

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

/// Longest a stopping service waits for background work after its last request; within the
/// margin its Kubernetes pods leave past `SHUTDOWN_TIMEOUT_SECS`.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Where request handlers start work that must not stop with them.
#[derive(Clone)]
pub struct Background {
    runtime: Handle,
    tasks: TaskTracker,
}

impl Background {
    /// On the runtime of the caller: the main one, when the app is being built.
    pub fn new() -> Self {
        Self {
            runtime: Handle::current(),
            tasks: TaskTracker::new(),
        }
    }

    /// Runs `work` on the main runtime, tracked until it ends.
    pub fn spawn<F>(&self, work: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn_on(work, &self.runtime)
    }

    /// Counts as running work until dropped: held by something whose `Drop` hands work over
    /// (a worker stopping drops it only after the server has stopped), so a drain waits for it.
    pub fn token(&self) -> Tracked {
        Tracked(self.tasks.token())
    }

    /// Waits up to `limit` for the work still running; false if some was left unfinished.
    /// Work started meanwhile is still run and waited for.
    pub async fn drain(&self, limit: Duration) -> bool {
        self.tasks.close();
        tokio::time::timeout(limit, self.tasks.wait()).await.is_ok()
    }
}

/// See [`Background::token`].
pub struct Tracked(#[allow(dead_code)] TaskTrackerToken);

impl Default for Background {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn draining_waits_for_running_work_and_reports_what_it_cut_off() {
        let background = Background::new();
        let (tell, done) = tokio::sync::oneshot::channel();
        background.spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tell.send(());
        });
        assert!(background.drain(Duration::from_secs(2)).await);
        assert!(done.await.is_ok(), "the work ran to its end");

        background.spawn(tokio::time::sleep(Duration::from_secs(60)));
        assert!(!background.drain(Duration::from_millis(50)).await);
    }

    #[tokio::test]
    async fn draining_waits_for_a_token_until_it_is_dropped() {
        let background = Background::new();
        let token = background.token();
        let (tell, mut told) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tell.send(());
            drop(token);
        });
        assert!(background.drain(Duration::from_secs(2)).await);
        assert!(told.try_recv().is_ok(), "drained before the token went");
    }

    #[test]
    fn work_outlives_the_runtime_that_started_it() {
        let main = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let background = main.block_on(async { Background::new() });
        let (tell, done) = std::sync::mpsc::channel();
        // A worker's runtime, stopped right after it hands the work over.
        let worker = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let handover = background.clone();
        worker.block_on(async move {
            handover.spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tell.send("finished");
            });
        });
        drop(worker);

        assert!(main.block_on(background.drain(Duration::from_secs(2))));
        assert_eq!(done.recv().unwrap(), "finished");
    }
}
