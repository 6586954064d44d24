//! An `{_owner: 1}` index on every `private` collection users write to, created once per
//! collection and process: every user query in such a collection filters by owner.
//!
//! Only while no other index starts with `_owner`: such an index (every index the admin route
//! makes on a private collection) serves owner-only queries as well, and a redundant
//! `{_owner: 1}` beside it makes planners without a plan cache (SecantusDB) weigh both on
//! every query, which cost the filtered-find benchmark 3x.

use std::collections::HashSet;
use std::sync::Mutex;

use mongodb::bson::{doc, Document};
use mongodb::{Collection, IndexModel};

use crate::domain::policy::OWNER;

#[derive(Debug, Default)]
pub(crate) struct OwnerIndexes {
    ensured: Mutex<HashSet<String>>,
}

impl OwnerIndexes {
    /// Creates the index in the background the first time `collection` is seen.
    pub(crate) fn ensure(&self, collection: &Collection<Document>) {
        let first_time = self
            .ensured
            .lock()
            .map(|mut seen| seen.insert(collection.name().to_owned()))
            .unwrap_or(false);
        if !first_time {
            return;
        }
        let collection = collection.clone();
        tokio::spawn(async move {
            if has_owner_prefixed_index(&collection).await {
                return;
            }
            let model = IndexModel::builder().keys(doc! { OWNER: 1 }).build();
            if let Err(e) = collection.create_index(model).await {
                tracing::warn!(error = %e, collection = collection.name(), "could not create the owner index");
            }
        });
    }
}

/// The plain owner index's name, as MongoDB names `{_owner: 1}`.
pub(crate) const PLAIN_OWNER_INDEX: &str = "_owner_1";

async fn has_owner_prefixed_index(collection: &Collection<Document>) -> bool {
    use futures_util::TryStreamExt;
    let Ok(cursor) = collection.list_indexes().await else {
        return false;
    };
    let indexes: Vec<IndexModel> = cursor.try_collect().await.unwrap_or_default();
    indexes
        .iter()
        .any(|index| index.keys.keys().next().map(String::as_str) == Some(OWNER))
}
