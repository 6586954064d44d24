//! Whether a signed-in session is still live.
//!
//! auth-svc writes one document per session (one refresh-token family) in
//! `MONGODB_SESSION_COLLECTION`; every service checks it before honouring a session token, so
//! sign-out takes effect everywhere. Answers are cached for `SESSION_CACHE_TTL_MS` (2 s by
//! default), which bounds how long a revoked token still works on another replica.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mongodb::bson::{doc, DateTime, Document};
use mongodb::{Collection, Database};
use serde::Deserialize;

use crate::error::ApiError;

/// Entries kept before the cache is cleared, bounding its memory.
const CACHE_CAPACITY: usize = 100_000;
/// Longest a session lookup may take before the request answers 503.
const CHECK_DEADLINE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    /// Sessions (`MONGODB_SESSION_COLLECTION`).
    #[serde(default = "default_collection")]
    pub mongodb_session_collection: String,
    /// How long, in milliseconds, a service may reuse a session check (`SESSION_CACHE_TTL_MS`).
    #[serde(default = "default_cache_ttl_ms")]
    pub session_cache_ttl_ms: u64,
}

fn default_collection() -> String {
    "_SESSIONS".into()
}

fn default_cache_ttl_ms() -> u64 {
    2_000
}

/// The claims a session token carries beside the standard ones (`sub` is the user's id).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct SessionClaims {
    /// The session document's id.
    pub sid: String,
    /// The user's `_key` (their normalised email).
    pub key: String,
}

/// Field names of a session document that every service reads.
pub mod fields {
    pub const USER_ID: &str = "user_id";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const REVOKED_AT: &str = "revoked_at";
}

pub struct SessionStore {
    sessions: Collection<Document>,
    cache: Mutex<HashMap<String, Checked>>,
    ttl: Duration,
}

/// A cached answer for one session id.
struct Checked {
    at: Instant,
    /// The user it was read for, whose tokens alone reuse it; `None` for a session this
    /// process ended, which stays ended whoever a token names.
    user_id: Option<String>,
    active: bool,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SessionStore {
    pub fn new(db: &Database, settings: &SessionSettings) -> Self {
        Self {
            sessions: db.collection(&settings.mongodb_session_collection),
            cache: Mutex::new(HashMap::new()),
            ttl: Duration::from_millis(settings.session_cache_ttl_ms),
        }
    }

    pub fn collection(&self) -> &Collection<Document> {
        &self.sessions
    }

    /// True while the session exists, belongs to `user_id`, has not expired and was not
    /// revoked. The owner is checked too, so a session id is never honoured for another user.
    pub async fn is_active(&self, session_id: &str, user_id: &str) -> Result<bool, ApiError> {
        if let Some(active) = self.cached(session_id, user_id) {
            return Ok(active);
        }
        self.is_active_now(session_id, user_id).await
    }

    /// [`Self::is_active`] as the database has it now, never from the cache: for a check that
    /// must see a revocation made a moment ago.
    pub async fn is_active_now(&self, session_id: &str, user_id: &str) -> Result<bool, ApiError> {
        // An answer read before a revocation must not be cached after it (see `remember`).
        let asked_at = Instant::now();
        let filter = doc! {
            "_id": session_id,
            fields::USER_ID: user_id,
            fields::REVOKED_AT: null,
            fields::EXPIRES_AT: { "$gt": DateTime::now() },
        };
        let lookup = self.sessions.find_one(filter).projection(doc! { "_id": 1 });
        let active = crate::mongo::deadline(CHECK_DEADLINE, lookup)
            .await??
            .is_some();
        self.remember(session_id, user_id, active, asked_at);
        Ok(active)
    }

    /// Marks a session ended in this process's cache, e.g. right after this process revoked
    /// it: a lookup still in flight, which may have read it as live, cannot cache it again.
    pub fn forget(&self, session_id: &str) {
        let ended = Checked {
            at: Instant::now(),
            user_id: None,
            active: false,
        };
        self.insert(session_id, ended);
    }

    fn cached(&self, session_id: &str, user_id: &str) -> Option<bool> {
        let cache = self.lock();
        let checked = cache.get(session_id)?;
        let applies = match &checked.user_id {
            Some(reader) => reader == user_id,
            None => true,
        };
        (applies && checked.at.elapsed() < self.ttl).then_some(checked.active)
    }

    /// Caches an answer read from the database as of `asked_at`.
    fn remember(&self, session_id: &str, user_id: &str, active: bool, asked_at: Instant) {
        let checked = Checked {
            at: asked_at,
            user_id: Some(user_id.to_owned()),
            active,
        };
        self.insert(session_id, checked);
    }

    /// Keeps `checked` unless the cache holds a newer answer for the session (a `forget`
    /// made while `checked` was being read, say).
    fn insert(&self, session_id: &str, checked: Checked) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.lock();
        if cache
            .get(session_id)
            .is_some_and(|held| held.at >= checked.at)
        {
            return;
        }
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(session_id.to_owned(), checked);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Checked>> {
        // A panic while holding the lock leaves a valid map; keep using it.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> SessionStore {
        // The driver connects lazily; these tests never reach a server.
        let client = mongodb::Client::with_uri_str("mongodb://127.0.0.1:9")
            .await
            .unwrap();
        let settings = SessionSettings {
            mongodb_session_collection: default_collection(),
            session_cache_ttl_ms: 60_000,
        };
        SessionStore::new(&client.database("unused"), &settings)
    }

    #[tokio::test]
    async fn a_cached_answer_serves_only_the_user_it_was_read_for() {
        let store = store().await;
        store.remember("s1", "ada", true, Instant::now());
        assert_eq!(store.cached("s1", "ada"), Some(true));
        assert_eq!(
            store.cached("s1", "bob"),
            None,
            "asked again of the database"
        );
        store.remember("s1", "bob", false, Instant::now());
        assert_eq!(
            store.cached("s1", "ada"),
            None,
            "Bob's refusal is not Ada's"
        );
    }

    #[tokio::test]
    async fn a_lookup_read_before_a_forget_does_not_revive_the_session() {
        let store = store().await;
        let asked_at = Instant::now();
        // The session is revoked and forgotten while the lookup is still reading it as live.
        store.forget("s1");
        store.remember("s1", "ada", true, asked_at);
        assert_eq!(store.cached("s1", "ada"), Some(false));
        assert_eq!(store.cached("s1", "bob"), Some(false));
        // A lookup asked after the forget is believed.
        store.remember("s1", "ada", false, Instant::now());
        assert_eq!(store.cached("s1", "ada"), Some(false));
    }
}
