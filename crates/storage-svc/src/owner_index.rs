//! An `{_owner: 1}` index on every `private` collection users write to, created once per
//! collection and process: every user query in such a collection filters by owner.

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
            let model = IndexModel::builder().keys(doc! { OWNER: 1 }).build();
            if let Err(e) = collection.create_index(model).await {
                tracing::warn!(error = %e, collection = collection.name(), "could not create the owner index");
            }
        });
    }
}
