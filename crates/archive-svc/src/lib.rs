//! archive-svc: file upload, download, listing and deletion with metadata, under
//! `/service/archive/v1`.
//!
//! [`build`] assembles the service from configuration; the binary, the tests and the local
//! stack all run this same function.

mod blob;
mod detect;
mod disposition;
mod form;
mod quota;
mod range;
mod record;
mod routes;
mod settings;
mod sweep;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use coglex_common::config::{ConfigError, ConfigSource, CoreSettings};
use coglex_common::web::{Application, Core, ServiceDef};
use mongodb::bson::doc;
use mongodb::{Collection, IndexModel};

pub use settings::{Backend, Settings};

use blob::BlobStore;
use record::FileRecord;

/// Routing name: the service answers under `/service/archive/v1`.
pub const NAME: &str = "archive";
/// Port used when `SERVER_PORT` is not set (the local stack's layout).
pub const DEFAULT_PORT: u16 = 8083;

/// What the handlers share, registered as `web::Data<ArchiveState>`.
pub struct ArchiveState {
    settings: Settings,
    blobs: Arc<dyn BlobStore>,
    records: Collection<FileRecord>,
    /// `MAX_JSON_BYTES`, which also bounds the `metadata` field.
    max_json_bytes: usize,
}

impl ArchiveState {
    /// A database call within `ARCHIVE_DATABASE_TIMEOUT_MS`, else 503: the driver has no
    /// socket timeout, so a silent connection would otherwise hold the request forever.
    async fn bounded<T, E: Into<coglex_common::ApiError>>(
        &self,
        call: impl std::future::IntoFuture<Output = Result<T, E>>,
    ) -> Result<T, coglex_common::ApiError> {
        coglex_common::mongo::bounded(self.settings.database_timeout(), call).await
    }
}

/// Builds the service from configuration; call `run_until_stopped` on the result.
pub async fn build(source: ConfigSource) -> anyhow::Result<Application> {
    let core_settings = CoreSettings::from_source(&source)?;
    let mut settings: Settings = source.get()?;
    settings.validate()?;
    let core = Core::connect(core_settings, "archive-svc").await?;
    let blobs: Arc<dyn BlobStore> = match settings.archive_backend {
        Backend::Gridfs => Arc::new(blob::gridfs::GridFs::new(
            &core.db,
            &settings.archive_gridfs_bucket,
            settings.database_timeout(),
        )),
        Backend::Local => Arc::new(
            blob::local::LocalDir::open(&settings.archive_local_dir).map_err(|e| {
                ConfigError(format!(
                    "ARCHIVE_LOCAL_DIR ({}) cannot be used: {e}",
                    settings.archive_local_dir.display()
                ))
            })?,
        ),
    };
    let records = core
        .db
        .collection::<FileRecord>(&settings.mongodb_archive_collection);
    // In the background: the service starts (and answers /health) before the database is up.
    let index = records.clone();
    tokio::spawn(async move {
        let model = IndexModel::builder()
            .keys(doc! { record::OWNER: 1, "_id": -1 })
            .build();
        if let Err(e) = index.create_index(model).await {
            tracing::warn!(error = %e, "could not create the archive owner index");
        }
    });
    let sweeper = settings.sweep_after().map(|after| sweep::Sweeper {
        blobs: Arc::clone(&blobs),
        records: records.clone(),
        after,
        every: Duration::from_secs(settings.archive_sweep_every_secs),
        timeout: settings.database_timeout(),
    });
    let state = ArchiveState {
        max_json_bytes: core.settings.server.max_json_bytes,
        settings,
        blobs,
        records,
    };
    let app = Application::bind(
        core,
        ServiceDef::new(NAME, state, routes::configure),
        DEFAULT_PORT,
    )?;
    if let Some(sweeper) = sweeper {
        tokio::spawn(sweeper.run());
    }
    Ok(app)
}
