//! storage-svc: a safe REST API over MongoDB collections, under `/service/storage/v1`.
//!
//! Clients find, insert, update, delete and aggregate documents in collections they name in
//! the path. Every piece of client input is checked by [`domain`] before it reaches the
//! database, and every read and write is confined by the collection's access policy
//! ([`domain::policy`]). [`build`] assembles the service from configuration; the binary, the
//! tests and the local stack all run this same function.

mod actor;
mod collection_cap;
pub mod domain;
mod owner_index;
mod routes;
mod settings;
mod stream;

use std::sync::Arc;

use coglex_common::config::{ConfigSource, CoreSettings};
use coglex_common::web::{Application, Background, Core, ServiceDef};
use mongodb::bson::Document;
use mongodb::{Collection, Database};

pub use settings::Settings;

use collection_cap::CollectionCap;
use domain::collection_name::CollectionName;
use domain::policy::{Policies, Policy};
use owner_index::OwnerIndexes;

/// Routing name: the service answers under `/service/storage/v1`.
pub const NAME: &str = "storage";
/// Port used when `SERVER_PORT` is not set (the local stack's layout).
pub const DEFAULT_PORT: u16 = 8082;

/// What the handlers share, built once at start-up and registered as `web::Data<StorageState>`.
pub struct StorageState {
    settings: Settings,
    policies: Policies,
    db: Database,
    owner_indexes: OwnerIndexes,
    collection_cap: Arc<CollectionCap>,
    /// Where rollbacks that outlive a request run.
    background: Background,
}

impl StorageState {
    fn collection(&self, name: &CollectionName) -> Collection<Document> {
        self.db.collection(name.as_str())
    }

    fn policy(&self, name: &CollectionName) -> Policy {
        self.policies.of(name)
    }
}

/// Builds the service from configuration; call `run_until_stopped` on the result.
pub async fn build(source: ConfigSource) -> anyhow::Result<Application> {
    let core_settings = CoreSettings::from_source(&source)?;
    let settings: Settings = source.get()?;
    let policies = settings.validate()?;
    let core = Core::connect(core_settings, "storage-svc").await?;
    let state = StorageState {
        db: core.db.clone(),
        collection_cap: Arc::new(CollectionCap::new(settings.storage_max_collections)),
        settings,
        policies,
        owner_indexes: OwnerIndexes::default(),
        background: core.background.clone(),
    };
    Ok(Application::bind(
        core,
        ServiceDef::new(NAME, state, routes::configure),
        DEFAULT_PORT,
    )?)
}
