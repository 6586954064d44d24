//! Who may read and write which documents.
//!
//! Every collection has a [`Policy`] from `STORAGE_COLLECTION_POLICIES` (default
//! `STORAGE_DEFAULT_POLICY`, `private`):
//! - `private`: documents carry their creator in [`OWNER`], written by the server only, and
//!   users reach only their own documents.
//! - `shared`: every signed-in user reads and writes every document.
//! - `read-only`: every signed-in user reads; only the service role writes.
//!
//! The service role (an admin API key and no user token) reaches every document of every
//! policy. An [`Access`] is the outcome for one request: the filter and pipeline stages that
//! confine it, applied at each place documents are read from.

use std::collections::HashMap;

use coglex_common::ApiError;
use mongodb::bson::{doc, Document};

use super::collection_name::CollectionName;

/// The field holding a document's owner (the user id) in every collection.
pub const OWNER: &str = "_owner";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Private,
    Shared,
    ReadOnly,
}

impl Policy {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "private" => Some(Self::Private),
            "shared" => Some(Self::Shared),
            "read-only" => Some(Self::ReadOnly),
            _ => None,
        }
    }

    /// What `actor` may read.
    pub fn read(self, actor: &Actor) -> Access {
        match actor {
            Actor::Service => Access::service(),
            Actor::User(id) => Access {
                user: Some(id.clone()),
                confined: self == Self::Private,
            },
        }
    }

    /// What `actor` may write, or 403.
    pub fn write(self, actor: &Actor) -> Result<Access, ApiError> {
        if self == Self::ReadOnly && matches!(actor, Actor::User(_)) {
            return Err(ApiError::forbidden(
                "this collection is read-only; only the service role writes to it",
            ));
        }
        Ok(self.read(actor))
    }
}

/// The policy of every collection, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct Policies {
    default: Policy,
    named: HashMap<String, Policy>,
}

impl Policies {
    /// Parses `name=policy` pairs; `default` applies to every other collection.
    pub fn parse(default: Policy, pairs: &[String]) -> Result<Self, String> {
        let mut named = HashMap::new();
        for pair in pairs {
            let (name, policy) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not `collection=policy`"))?;
            let name = CollectionName::parse(name.trim())
                .map_err(|_| format!("`{}` cannot be a collection name", name.trim()))?;
            let policy = Policy::parse(policy).ok_or_else(|| {
                format!(
                    "`{}` is not a policy (private, shared or read-only)",
                    policy.trim()
                )
            })?;
            named.insert(name.as_str().to_owned(), policy);
        }
        Ok(Self { default, named })
    }

    pub fn default(&self) -> Policy {
        self.default
    }

    pub fn of(&self, collection: &CollectionName) -> Policy {
        self.named
            .get(collection.as_str())
            .copied()
            .unwrap_or(self.default)
    }
}

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user, by id.
    User(String),
    /// An admin API key with no user token: every document of every collection.
    Service,
}

/// What one request may reach in one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The signed-in user, `None` for the service role.
    user: Option<String>,
    /// Whether the request is limited to the user's own documents.
    confined: bool,
}

impl Access {
    fn service() -> Self {
        Self {
            user: None,
            confined: false,
        }
    }

    /// The owner every matched document must have, if any.
    pub fn owner(&self) -> Option<&str> {
        self.user.as_deref().filter(|_| self.confined)
    }

    /// Narrows a client's filter to what the request may reach. Client filters never name
    /// [`OWNER`] (it is a reserved field), so adding it cannot clash with theirs.
    pub fn confine(&self, filter: &mut Document) {
        if let Some(owner) = self.owner() {
            filter.insert(OWNER, owner);
        }
    }

    /// Stamps a new document with the user who writes it.
    pub fn stamp(&self, document: &mut Document) {
        if let Some(user) = &self.user {
            document.insert(OWNER, user.as_str());
        }
    }

    /// Users never see owners (in a shared collection they would reveal other users' ids).
    pub fn hides_owner(&self) -> bool {
        self.user.is_some()
    }

    /// Stages that go first in every pipeline reading this collection: keep the reachable
    /// documents, then drop their owner so no later stage can read or show it.
    pub fn source_stages(&self) -> Vec<Document> {
        let mut stages = Vec::with_capacity(2);
        if let Some(owner) = self.owner() {
            stages.push(doc! { "$match": { OWNER: owner } });
        }
        if self.hides_owner() {
            stages.push(doc! { "$project": { OWNER: 0 } });
        }
        stages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> Actor {
        Actor::User("ada".into())
    }

    #[test]
    fn private_reads_are_confined_to_the_owner() {
        let mut filter = doc! { "category": "books" };
        Policy::Private.read(&ada()).confine(&mut filter);
        assert_eq!(filter, doc! { "category": "books", OWNER: "ada" });
    }

    #[test]
    fn shared_and_service_reads_are_not_confined() {
        let mut filter = doc! {};
        Policy::Shared.read(&ada()).confine(&mut filter);
        Policy::Private.read(&Actor::Service).confine(&mut filter);
        assert_eq!(filter, doc! {});
    }

    #[test]
    fn read_only_collections_refuse_user_writes_but_not_the_service_role() {
        assert!(Policy::ReadOnly.write(&ada()).is_err());
        assert!(Policy::ReadOnly.write(&Actor::Service).is_ok());
        assert!(Policy::Shared.write(&ada()).is_ok());
    }

    #[test]
    fn pipelines_of_users_start_by_confining_and_hiding_the_owner() {
        assert_eq!(
            Policy::Private.read(&ada()).source_stages(),
            vec![
                doc! { "$match": { OWNER: "ada" } },
                doc! { "$project": { OWNER: 0 } }
            ]
        );
        assert_eq!(
            Policy::Shared.read(&ada()).source_stages(),
            vec![doc! { "$project": { OWNER: 0 } }]
        );
        assert!(Policy::Private
            .read(&Actor::Service)
            .source_stages()
            .is_empty());
    }

    #[test]
    fn policies_are_read_from_pairs_with_a_default() {
        let policies = Policies::parse(
            Policy::Private,
            &["products=shared".into(), " catalog = read-only ".into()],
        )
        .unwrap();
        let name = |n: &str| CollectionName::parse(n).unwrap();
        assert_eq!(policies.of(&name("products")), Policy::Shared);
        assert_eq!(policies.of(&name("catalog")), Policy::ReadOnly);
        assert_eq!(policies.of(&name("notes")), Policy::Private);
    }

    #[test]
    fn policies_for_reserved_or_malformed_entries_are_refused() {
        for bad in ["_USERS=shared", "products", "products=public"] {
            assert!(
                Policies::parse(Policy::Private, &[bad.into()]).is_err(),
                "{bad}"
            );
        }
    }
}
