//! `STORAGE_MAX_COLLECTIONS`: how many collections there may be before users can no longer
//! bring new ones into being by writing to a new name. Each collection costs the database
//! files, memory and a handle, so without a cap one user could make one per request. The
//! service role is trusted and may go past it.
//!
//! Names known to exist are remembered per process, so a write to an existing collection
//! costs no extra round trip; only a name not seen yet lists the database's collections. New
//! names are admitted one at a time, and an admitted name counts until its insert ends (which
//! may be after its request gave up: the insert can still create the collection then), so
//! concurrent first writes cannot overshoot the cap together within a process. Replicas do
//! not see each other's admissions: with N of them, up to N - 1 more can be made at once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use coglex_common::ApiError;

use crate::domain::collection_name::CollectionName;

#[derive(Debug)]
pub(crate) struct CollectionCap {
    max: usize,
    names: Mutex<Names>,
    /// Held while a new name is counted and admitted.
    admitting: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Names {
    known: HashSet<String>,
    /// Admitted new names whose inserts are still running, with how many of them.
    pending: HashMap<String, usize>,
}

/// A name admitted for one insert. A new name counts against the cap until this is dropped;
/// [`Admission::created`] then remembers it as existing. It is owned, so the insert's task
/// can keep it for as long as the insert may still run.
#[must_use]
pub(crate) struct Admission {
    cap: Arc<CollectionCap>,
    pending: Option<String>,
}

impl CollectionCap {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            names: Mutex::default(),
            admitting: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether a user may write to `name`: it exists, or there is room for one more.
    /// `list` lists the collections when the name has not been seen yet.
    pub(crate) async fn admit<F>(
        self: &Arc<Self>,
        name: &CollectionName,
        list: F,
    ) -> Result<Admission, ApiError>
    where
        F: std::future::Future<Output = Result<Vec<String>, ApiError>>,
    {
        if self.knows(name.as_str()) {
            return Ok(self.admission(None));
        }
        let _one_at_a_time = self.admitting.lock().await;
        // Only collections a client can name count: the services' own (`_USERS`, ...) do not.
        let existing: Vec<String> = list
            .await?
            .into_iter()
            .filter(|n| CollectionName::parse(n).is_ok())
            .collect();
        let mut names = self.lock();
        names.known.extend(existing);
        if names.known.contains(name.as_str()) {
            return Ok(self.admission(None));
        }
        let counted = names.known.len()
            + names
                .pending
                .keys()
                .filter(|n| !names.known.contains(*n))
                .count();
        let already_pending = names.pending.contains_key(name.as_str());
        if !already_pending && counted >= self.max {
            return Err(ApiError::forbidden(format!(
                "no new collection can be created: there are already {} (STORAGE_MAX_COLLECTIONS)",
                self.max
            )));
        }
        *names.pending.entry(name.as_str().to_owned()).or_default() += 1;
        drop(names);
        Ok(self.admission(Some(name.as_str().to_owned())))
    }

    fn admission(self: &Arc<Self>, pending: Option<String>) -> Admission {
        Admission {
            cap: Arc::clone(self),
            pending,
        }
    }

    fn knows(&self, name: &str) -> bool {
        self.lock().known.contains(name)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Names> {
        // The sets stay consistent even if a holder panicked: every update is one call.
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Admission {
    /// The insert succeeded, so the collection exists now.
    pub(crate) fn created(mut self) {
        if let Some(name) = self.pending.take() {
            let mut names = self.cap.lock();
            release(&mut names.pending, &name);
            names.known.insert(name);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(name) = self.pending.take() {
            release(&mut self.cap.lock().pending, &name);
        }
    }
}

fn release(pending: &mut HashMap<String, usize>, name: &str) {
    if let Some(count) = pending.get_mut(name) {
        *count -= 1;
        if *count == 0 {
            pending.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> CollectionName {
        CollectionName::parse(text).unwrap()
    }

    async fn listing(names: &[&str]) -> Result<Vec<String>, ApiError> {
        Ok(names.iter().map(|n| (*n).to_owned()).collect())
    }

    #[tokio::test]
    async fn a_new_name_is_admitted_while_there_is_room() {
        let cap = Arc::new(CollectionCap::new(2));
        assert!(cap.admit(&name("b"), listing(&["a"])).await.is_ok());
    }

    #[tokio::test]
    async fn a_name_being_created_counts_until_its_insert_ends() {
        let cap = Arc::new(CollectionCap::new(2));
        let creating = cap.admit(&name("b"), listing(&["a"])).await.unwrap();

        let refused = cap.admit(&name("c"), listing(&["a"])).await;
        assert_eq!(
            refused.err().map(|e| e.code()),
            Some(coglex_common::ErrorCode::Forbidden)
        );
        // A second insert into the same new name is not a new collection.
        assert!(cap.admit(&name("b"), listing(&["a"])).await.is_ok());

        drop(creating);
        assert!(cap.admit(&name("c"), listing(&["a"])).await.is_ok());
    }

    #[tokio::test]
    async fn a_created_name_is_known_without_listing() {
        let cap = Arc::new(CollectionCap::new(2));
        cap.admit(&name("b"), listing(&[])).await.unwrap().created();

        let never = async { panic!("listed the collections again") };
        assert!(cap.admit(&name("b"), never).await.is_ok());
    }

    #[tokio::test]
    async fn a_new_name_past_the_cap_is_refused_but_existing_ones_are_not() {
        let cap = Arc::new(CollectionCap::new(2));
        let refused = cap.admit(&name("c"), listing(&["a", "b"])).await;
        assert_eq!(
            refused.err().map(|e| e.code()),
            Some(coglex_common::ErrorCode::Forbidden)
        );
        assert!(cap.admit(&name("b"), listing(&["a", "b"])).await.is_ok());
    }

    #[tokio::test]
    async fn service_collections_do_not_count() {
        let cap = Arc::new(CollectionCap::new(1));
        let names = ["_USERS", "_SESSIONS", "system.views"];
        assert!(cap.admit(&name("a"), listing(&names)).await.is_ok());
    }

    #[tokio::test]
    async fn a_known_name_needs_no_listing() {
        let cap = Arc::new(CollectionCap::new(1));
        drop(cap.admit(&name("a"), listing(&["a"])).await.unwrap());
        let never = async { panic!("listed the collections again") };
        assert!(cap.admit(&name("a"), never).await.is_ok());
    }
}
