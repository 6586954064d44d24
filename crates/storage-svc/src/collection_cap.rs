//! `STORAGE_MAX_COLLECTIONS`: how many collections there may be before users can no longer
//! bring new ones into being by writing to a new name. Each collection costs the database
//! files, memory and a handle, so without a cap one user could make one per request. The
//! service role is trusted and may go past it.
//!
//! Names known to exist are remembered per process, so a write to an existing collection
//! costs no extra round trip; only a name not seen yet lists the database's collections.
//! Concurrent first writes to different new names may each pass the check, so the cap can be
//! overshot by as many such writes as run at once.

use std::collections::HashSet;
use std::sync::Mutex;

use coglex_common::ApiError;

use crate::domain::collection_name::CollectionName;

#[derive(Debug)]
pub(crate) struct CollectionCap {
    max: usize,
    known: Mutex<HashSet<String>>,
}

impl CollectionCap {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            known: Mutex::default(),
        }
    }

    /// Whether a user may write to `name`: it exists, or there is room for one more.
    /// `list` lists the collections when the name has not been seen yet.
    pub(crate) async fn admit<F>(&self, name: &CollectionName, list: F) -> Result<(), ApiError>
    where
        F: std::future::Future<Output = Result<Vec<String>, ApiError>>,
    {
        if self.knows(name.as_str()) {
            return Ok(());
        }
        // Only collections a client can name count: the services' own (`_USERS`, ...) do not.
        let existing: Vec<String> = list
            .await?
            .into_iter()
            .filter(|n| CollectionName::parse(n).is_ok())
            .collect();
        let exists = existing.iter().any(|n| n == name.as_str());
        let count = existing.len();
        if let Ok(mut known) = self.known.lock() {
            known.extend(existing);
        }
        if exists || count < self.max {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "no new collection can be created: there are already {} (STORAGE_MAX_COLLECTIONS)",
            self.max
        )))
    }

    fn knows(&self, name: &str) -> bool {
        self.known.lock().is_ok_and(|known| known.contains(name))
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
        let cap = CollectionCap::new(2);
        assert!(cap.admit(&name("b"), listing(&["a"])).await.is_ok());
    }

    #[tokio::test]
    async fn a_new_name_past_the_cap_is_refused_but_existing_ones_are_not() {
        let cap = CollectionCap::new(2);
        let refused = cap.admit(&name("c"), listing(&["a", "b"])).await;
        assert_eq!(
            refused.unwrap_err().code(),
            coglex_common::ErrorCode::Forbidden
        );
        assert!(cap.admit(&name("b"), listing(&["a", "b"])).await.is_ok());
    }

    #[tokio::test]
    async fn service_collections_do_not_count() {
        let cap = CollectionCap::new(1);
        let names = ["_USERS", "_SESSIONS", "system.views"];
        assert!(cap.admit(&name("a"), listing(&names)).await.is_ok());
    }

    #[tokio::test]
    async fn a_known_name_needs_no_listing() {
        let cap = CollectionCap::new(1);
        cap.admit(&name("a"), listing(&["a"])).await.unwrap();
        let never = async { panic!("listed the collections again") };
        assert!(cap.admit(&name("a"), never).await.is_ok());
    }
}
