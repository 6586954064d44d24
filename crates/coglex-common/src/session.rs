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
    pub const EXPIRES_AT: &str = "expires_at";
    pub const REVOKED_AT: &str = "revoked_at";
}

pub struct SessionStore {
    sessions: Collection<Document>,
    cache: Mutex<HashMap<String, (Instant, bool)>>,
    ttl: Duration,
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

    /// True while the session exists, has not expired and was not revoked.
    pub async fn is_active(&self, session_id: &str) -> Result<bool, ApiError> {
        if let Some(active) = self.cached(session_id) {
            return Ok(active);
        }
        self.is_active_now(session_id).await
    }

    /// [`Self::is_active`] as the database has it now, never from the cache: for a check that
    /// must see a revocation made a moment ago.
    pub async fn is_active_now(&self, session_id: &str) -> Result<bool, ApiError> {
        let filter = doc! {
            "_id": session_id,
            fields::REVOKED_AT: null,
            fields::EXPIRES_AT: { "$gt": DateTime::now() },
        };
        let lookup = self.sessions.find_one(filter).projection(doc! { "_id": 1 });
        let active = crate::mongo::deadline(CHECK_DEADLINE, lookup)
            .await??
            .is_some();
        self.remember(session_id, active);
        Ok(active)
    }

    /// Drops a cached answer, e.g. right after this process revoked the session.
    pub fn forget(&self, session_id: &str) {
        self.lock().remove(session_id);
    }

    fn cached(&self, session_id: &str) -> Option<bool> {
        let cache = self.lock();
        let (at, active) = cache.get(session_id)?;
        (at.elapsed() < self.ttl).then_some(*active)
    }

    fn remember(&self, session_id: &str, active: bool) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.lock();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(session_id.to_owned(), (Instant::now(), active));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, bool)>> {
        // A panic while holding the lock leaves a valid map; keep using it.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
