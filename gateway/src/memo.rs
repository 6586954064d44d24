//! Answers that cost the services work and need no key (the readiness probes, the merged API
//! document): worked out by one request at a time and reused for a while, so a flood of them
//! costs the services no more than one.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

pub struct Memo<T> {
    /// The answer and until when it may be reused.
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }
}

impl<T: Clone> Memo<T> {
    /// The kept answer while it is fresh, or a new one from `work_out`, which also says how
    /// long its answer may be reused. Callers arriving meanwhile wait for that answer.
    pub async fn get(&self, work_out: impl Future<Output = (T, Duration)>) -> T {
        let mut slot = self.slot.lock().await;
        if let Some((until, answer)) = &*slot {
            if Instant::now() < *until {
                return answer.clone();
            }
        }
        let (answer, lifetime) = work_out.await;
        *slot = Some((Instant::now() + lifetime, answer.clone()));
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn callers_at_once_share_one_answer_until_it_expires() {
        let memo = Arc::new(Memo::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let ask = || {
            let (memo, runs) = (Arc::clone(&memo), Arc::clone(&runs));
            async move {
                memo.get(async {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    (run, Duration::from_secs(2))
                })
                .await
            }
        };
        let answers = futures_util::future::join_all((0..10).map(|_| tokio::spawn(ask()))).await;
        assert!(answers.into_iter().all(|answer| answer.unwrap() == 1));
        assert_eq!(ask().await, 1, "still fresh");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(ask().await, 2, "worked out again once expired");
    }
}
