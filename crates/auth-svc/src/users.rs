//! The users collection (`MONGODB_AUTH_COLLECTION`): one document per user with `_key` (unique),
//! `_password` (an argon2id or legacy bcrypt hash, absent for OAuth-only users), `_providers`
//! (linked OAuth identities), `_verified` (the owner of `_key` proved it), `_created`, and the
//! user's own fields.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use coglex_common::mongo::{bounded, deadline, is_duplicate_key};
use coglex_common::web::{AuthUser, Core};
use coglex_common::{render, ApiError, ErrorCode};
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};
use serde_json::Value;

use crate::domain::UserKey;

pub const KEY: &str = "_key";
pub const PASSWORD: &str = "_password";
const PROVIDERS: &str = "_providers";
const CREATED: &str = "_created";
/// True once the owner of `_key` proved it, by a provider's verified email or a mailed code.
/// `/signup` takes any address from anyone, and Facebook does not vouch for the one it shares,
/// so their accounts start without it.
const VERIFIED: &str = "_verified";

/// How a provider's sign-in may reach the account of the email address it shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The provider vouches for the address: that account, or a new one, proven.
    Vouched,
    /// It does not: the account already linked to this identity, or a new one, unproven.
    Linked,
    /// It does not, but the request holds a session of the address's account, user `id`:
    /// that account, linked to the identity from now on, if still `unproven` as it was when
    /// the session was checked (a claim meanwhile proved it and ended that session).
    Linking { id: ObjectId, unproven: bool },
}

/// Seconds a client is told to wait while the unique index is missing.
const NOT_READY_RETRY_SECS: u64 = 5;

#[derive(Clone)]
pub struct Users {
    users: Collection<Document>,
    /// How long one call may take (`AUTH_DATABASE_TIMEOUT_MS`).
    limit: Duration,
    /// Whether the unique `_key` index exists: until it does, two sign-ups for one address
    /// could both succeed, so no account is created.
    unique_key_ready: Arc<AtomicBool>,
}

impl Users {
    pub fn new(core: &Core, limit: Duration) -> Self {
        Self {
            users: core.users(),
            limit,
            unique_key_ready: Arc::default(),
        }
    }

    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        let unique = IndexModel::builder()
            .keys(doc! { KEY: 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("unique_key".to_owned())
                    .build(),
            )
            .build();
        self.users.create_index(unique).await?;
        self.unique_key_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// 503 while accounts cannot be created safely.
    fn check_unique_key(&self) -> Result<(), ApiError> {
        if self.unique_key_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::ServiceUnavailable,
            "accounts cannot be created yet; retry shortly",
        )
        .retry_after(NOT_READY_RETRY_SECS))
    }

    /// Inserts a new user; a taken `_key` is 409 (the unique index decides, so two sign-ups
    /// racing for one address cannot both win).
    pub async fn create(
        &self,
        key: &UserKey,
        password_hash: String,
        fields: Document,
    ) -> Result<Document, ApiError> {
        self.check_unique_key()?;
        let mut user = fields;
        user.insert("_id", ObjectId::new());
        user.insert(KEY, key.as_str());
        user.insert(PASSWORD, password_hash);
        user.insert(VERIFIED, false);
        user.insert(CREATED, DateTime::now());
        match deadline(self.limit, self.users.insert_one(&user)).await? {
            Ok(_) => Ok(user),
            Err(e) if is_duplicate_key(&e) => {
                Err(ApiError::conflict("a user with this `_key` already exists"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this key who also matches `extra` (plain equalities), if any.
    pub async fn find_matching(
        &self,
        key: &UserKey,
        extra: Document,
    ) -> Result<Option<Document>, ApiError> {
        let mut filter = extra;
        filter.insert(KEY, key.as_str());
        bounded(self.limit, self.users.find_one(filter)).await
    }

    pub async fn find(&self, key: &str) -> Result<Option<Document>, ApiError> {
        bounded(self.limit, self.users.find_one(doc! { KEY: key })).await
    }

    /// Replaces the hash `old`, e.g. a bcrypt hash from the original, with argon2id; nothing
    /// when it changed or went meanwhile.
    /// Whether `old` was still the hash, and so was replaced.
    pub async fn replace_hash(
        &self,
        id: &ObjectId,
        old: &str,
        hash: String,
    ) -> Result<bool, ApiError> {
        let swap = self.users.update_one(
            doc! { "_id": id, PASSWORD: old },
            doc! { "$set": { PASSWORD: hash } },
        );
        let result = bounded(self.limit, swap).await?;
        Ok(result.matched_count == 1)
    }

    /// The user's password hash as stored now, if any.
    pub async fn current_hash(&self, id: &ObjectId) -> Result<Option<String>, ApiError> {
        let found = bounded(
            self.limit,
            self.users
                .find_one(doc! { "_id": id })
                .projection(doc! { PASSWORD: 1 }),
        )
        .await?;
        Ok(found.and_then(|user| user.get_str(PASSWORD).ok().map(str::to_owned)))
    }

    /// Applies a checked update to the user with this key; returns the user after it.
    /// The signed-in user's own document, by id and key both: a session reaches nothing once
    /// its user is gone, not even a later account for the same address.
    pub async fn find_own(&self, user: &AuthUser) -> Result<Option<Document>, ApiError> {
        let Some(filter) = own(user) else {
            return Ok(None);
        };
        bounded(self.limit, self.users.find_one(filter)).await
    }

    /// Applies `update` to the signed-in user's own document (see [`Self::find_own`]).
    pub async fn update_own(
        &self,
        user: &AuthUser,
        update: Document,
    ) -> Result<Option<Document>, ApiError> {
        let Some(filter) = own(user) else {
            return Ok(None);
        };
        let update = self
            .users
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After);
        bounded(self.limit, update).await
    }

    /// The first step of recording that the owner of `key` proved it. An account `/signup`
    /// or an unvouched provider made and nobody proved yet loses its password and its provider
    /// links, unless `keep_password` (the prover also holds one of its live sessions, so
    /// knows the password): whoever set them may not own the address. Returns that account's
    /// user id, whose sessions must end before [`Users::mark_proven`] (and again after it:
    /// a sign-in may have started one meanwhile): the account stays unproven until then, so
    /// a claim cut off in between (a timeout, a restart) is finished by the owner's next
    /// proof. Accounts carried over from the original (no `_verified`) are left as they were.
    pub async fn claim(
        &self,
        key: &UserKey,
        keep_password: bool,
    ) -> Result<Option<String>, ApiError> {
        if keep_password {
            self.mark_proven(key, false).await?;
            return Ok(None);
        }
        let claim = self
            .users
            .find_one_and_update(
                doc! { KEY: key.as_str(), VERIFIED: false },
                doc! { "$unset": { PASSWORD: "", PROVIDERS: "" } },
            )
            .projection(doc! { "_id": 1 });
        match bounded(self.limit, claim).await? {
            Some(user) => Ok(Some(user_id(&user)?)),
            None => Ok(None),
        }
    }

    /// The last step of a claim: the address's owner now holds the account. With
    /// `drop_links`, provider links made while the claim ran go too. Answers whether this
    /// call proved it (another proof may have been first).
    pub async fn mark_proven(&self, key: &UserKey, drop_links: bool) -> Result<bool, ApiError> {
        let mut proven = doc! { "$set": { VERIFIED: true } };
        if drop_links {
            proven.insert("$unset", doc! { PROVIDERS: "" });
        }
        let proven = self
            .users
            .update_one(doc! { KEY: key.as_str(), VERIFIED: false }, proven);
        Ok(bounded(self.limit, proven).await?.matched_count == 1)
    }

    /// Whether the user `id` still has the password hash `hash`: a sign-in that verified it
    /// must not outlive its removal by the address's owner meanwhile.
    pub async fn still_has_hash(&self, id: &ObjectId, hash: &str) -> Result<bool, ApiError> {
        self.exists(doc! { "_id": id, PASSWORD: hash }).await
    }

    /// Whether a user matches `filter`.
    async fn exists(&self, filter: Document) -> Result<bool, ApiError> {
        let found = self.users.find_one(filter).projection(doc! { "_id": 1 });
        Ok(bounded(self.limit, found).await?.is_some())
    }

    /// The user with this email that a sign-in with the provider identity reaches as `reach`
    /// allows, created on first use and linked to the identity. An account with the address
    /// that [`Reach::Linked`] may not reach is 409.
    pub async fn upsert_linked(
        &self,
        key: &UserKey,
        identity: (&str, &str),
        name: &str,
        reach: Reach,
    ) -> Result<Document, ApiError> {
        self.check_unique_key()?;
        let provider = identity.0;
        let identity = link(identity);
        let filter = match reach {
            Reach::Vouched => doc! { KEY: key.as_str() },
            // Another account with the address makes the upsert's insert meet the unique key.
            Reach::Linked => {
                doc! { KEY: key.as_str(), PROVIDERS: { "$elemMatch": identity.clone() } }
            }
            Reach::Linking { id, unproven } => {
                let mut filter = doc! { "_id": id, KEY: key.as_str() };
                if unproven {
                    filter.insert(VERIFIED, false);
                }
                filter
            }
        };
        let update = doc! {
            "$setOnInsert": {
                "_id": ObjectId::new(),
                CREATED: DateTime::now(),
                "name": name,
                VERIFIED: reach == Reach::Vouched,
            },
            "$addToSet": { PROVIDERS: identity },
        };
        let upsert = || {
            self.users
                .find_one_and_update(filter.clone(), update.clone())
                .upsert(!matches!(reach, Reach::Linking { .. }))
                .return_document(ReturnDocument::After)
        };
        let mut upserted = deadline(self.limit, upsert()).await?;
        if upserted.as_ref().is_err_and(is_duplicate_key) {
            // Two first sign-ins at once: the one whose insert lost finds the other's account.
            upserted = deadline(self.limit, upsert()).await?;
        }
        match upserted {
            Ok(Some(user)) => Ok(user),
            // The signed-in account was deleted, or claimed, meanwhile.
            Ok(None) if matches!(reach, Reach::Linking { .. }) => Err(not_linked(provider)),
            Ok(None) => Err(ApiError::internal(anyhow::anyhow!(
                "upsert returned no document"
            ))),
            Err(e) if reach == Reach::Linked && is_duplicate_key(&e) => Err(not_linked(provider)),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the user `id` is still linked to the provider identity.
    pub async fn still_linked(
        &self,
        id: &ObjectId,
        identity: (&str, &str),
    ) -> Result<bool, ApiError> {
        self.exists(doc! { "_id": id, PROVIDERS: { "$elemMatch": link(identity) } })
            .await
    }

    /// Whether the user `id` is an account nobody proved the address of yet.
    pub async fn is_unproven(&self, id: &ObjectId) -> Result<bool, ApiError> {
        self.exists(doc! { "_id": id, VERIFIED: false }).await
    }
}

/// A provider identity as a user's `_providers` holds it.
fn link((provider, identifier): (&str, &str)) -> Document {
    doc! { "provider": provider, "identifier": identifier }
}

/// The refusal of a sign-in with a provider identity the address's account is not linked to.
pub fn not_linked(provider: &str) -> ApiError {
    ApiError::conflict(format!(
        "an account with this email address exists, and this {provider} account is not linked \
         to it: sign in to it, then finish the {provider} sign-in with its session token to \
         link them"
    ))
}

/// The user as clients see it: `_id`, `_key` and their own fields; never hashes or other
/// server-side state (`_`-prefixed fields).
pub fn public_view(user: Document) -> Value {
    let visible: Document = user
        .into_iter()
        .filter(|(k, _)| !k.starts_with('_') || k == "_id" || k == KEY)
        .collect();
    render::document(visible)
}

fn own(user: &AuthUser) -> Option<Document> {
    let id = ObjectId::parse_str(&user.user_id).ok()?;
    Some(doc! { "_id": id, KEY: &user.user_key })
}

pub fn user_id(user: &Document) -> Result<String, ApiError> {
    user.get_object_id("_id")
        .map(|id| id.to_hex())
        .map_err(|_| ApiError::internal(anyhow::anyhow!("user without an ObjectId _id")))
}
