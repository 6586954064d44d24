//! Attempt limits that hold across replicas: counters in MongoDB (`_AUTH_LIMITS`) per fixed
//! window, e.g. sign-ins per account and per client address. A TTL index removes old windows.

use std::time::Duration;

use actix_web::HttpRequest;
use coglex_common::mongo::{bounded, deadline};
use coglex_common::token::now_secs;
use coglex_common::web::{client_network, Core};
use coglex_common::{ApiError, ErrorCode};
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::Collection;

pub const COLLECTION: &str = "_AUTH_LIMITS";

#[derive(Clone)]
pub struct Limits {
    counters: Collection<Document>,
    window_secs: u64,
    /// How long one database call may take (`AUTH_DATABASE_TIMEOUT_MS`).
    limit: Duration,
}

impl Limits {
    pub fn new(core: &Core, window_secs: u64, limit: Duration) -> Self {
        Self {
            counters: core.db.collection(COLLECTION),
            window_secs: window_secs.max(1),
            limit,
        }
    }

    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        coglex_common::mongo::expire_records(&self.counters).await
    }

    /// Counts one attempt in `bucket`; past `max` in the current window, 429 with `Retry-After`.
    pub async fn hit(&self, bucket: &str, max: i64) -> Result<(), ApiError> {
        let now = now_secs();
        let window = now / self.window_secs;
        let window_end = (window + 1) * self.window_secs;
        let id = format!("{bucket}:{window}");
        let update = doc! {
            "$inc": { "count": 1_i64 },
            "$setOnInsert": { "expires_at": DateTime::from_millis((window_end * 1000) as i64) },
        };
        let counter = match deadline(self.limit, self.increment(&id, update.clone())).await? {
            // Two first attempts can race to insert the window's counter; the loser retries.
            Err(e) if coglex_common::mongo::is_duplicate_key(&e) => {
                bounded(self.limit, self.increment(&id, update)).await?
            }
            other => other?,
        };
        let count = counter.and_then(|c| c.get_i64("count").ok()).unwrap_or(1);
        if count > max {
            return Err(
                ApiError::new(ErrorCode::RateLimited, "too many attempts; retry later")
                    .retry_after(window_end.saturating_sub(now).max(1)),
            );
        }
        Ok(())
    }

    /// Counts one `action` from the client of `req` (its network, as the gateway saw it).
    pub async fn hit_client(
        &self,
        action: &str,
        req: &HttpRequest,
        max: i64,
    ) -> Result<(), ApiError> {
        self.hit(&format!("{action}:client:{}", client_network(req)), max)
            .await
    }

    async fn increment(
        &self,
        id: &str,
        update: Document,
    ) -> mongodb::error::Result<Option<Document>> {
        self.counters
            .find_one_and_update(doc! { "_id": id }, update)
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
    }

    /// Counts one attempt of `action` on `account` from `client`: at most `per_client` from one
    /// client address and `per_account` from all of them. One client failing repeatedly locks
    /// only itself out of the account; the account-wide cap still bounds guesses spread over
    /// many clients. Attempts refused for the client do not count account-wide.
    pub async fn hit_account(
        &self,
        attempt: &AccountAttempt,
        caps: AccountCaps,
    ) -> Result<(), ApiError> {
        self.hit(&attempt.from_client, caps.per_client).await?;
        self.hit(&attempt.account, caps.per_account).await
    }

    /// Forgets the attempts the succeeding client made on an account in the current window,
    /// in its own counter and in the account-wide total. Only its own: clearing the whole
    /// total would hand guesses spread over other clients a fresh budget at each success.
    pub async fn clear_account(&self, attempt: &AccountAttempt) -> Result<(), ApiError> {
        let window = now_secs() / self.window_secs;
        let own = self
            .counters
            .find_one_and_delete(doc! { "_id": format!("{}:{window}", attempt.from_client) });
        let made = bounded(self.limit, own)
            .await?
            .and_then(|counter| counter.get_i64("count").ok())
            .unwrap_or(0);
        if made > 0 {
            let total = self.counters.update_one(
                doc! { "_id": format!("{}:{window}", attempt.account) },
                doc! { "$inc": { "count": -made } },
            );
            bounded(self.limit, total).await?;
        }
        Ok(())
    }
}

/// The counters one attempt on an account touches.
pub struct AccountAttempt {
    from_client: String,
    account: String,
}

impl AccountAttempt {
    pub fn new(action: &str, account: &str, client: std::net::IpAddr) -> Self {
        Self {
            from_client: format!("{action}:key:{account}:client:{client}"),
            account: format!("{action}:key:{account}"),
        }
    }
}

/// How many attempts on one account a window allows.
#[derive(Clone, Copy)]
pub struct AccountCaps {
    pub per_client: i64,
    pub per_account: i64,
}
