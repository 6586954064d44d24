//! archive-svc's own settings (the shared ones are in `coglex_common::config`), read from the
//! same sources and validated once at start-up.

use std::path::PathBuf;
use std::time::Duration;

use coglex_common::config::{comma_list, ConfigError};
use coglex_common::mongo::check_private_collection;
use serde::Deserialize;

/// The file types of the original README's upload allow-list: images, documents, audio, video.
const DEFAULT_ALLOWED_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "application/json",
    "audio/mpeg",
    "audio/wav",
    "video/mp4",
    "video/webm",
];

/// Where file contents live; metadata is always in `MONGODB_ARCHIVE_COLLECTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// MongoDB GridFS: shared by every replica, nothing else to run.
    Gridfs,
    /// A local directory: the original's behaviour, for single-node setups.
    Local,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// File metadata (`MONGODB_ARCHIVE_COLLECTION`).
    #[serde(default = "default_collection")]
    pub mongodb_archive_collection: String,
    /// Largest file accepted, in bytes (`MAX_CONTENT_LENGTH`); enforced while the upload streams.
    #[serde(default = "default_max_content_length")]
    pub max_content_length: u64,
    /// `gridfs` or `local` (`ARCHIVE_BACKEND`).
    #[serde(default = "default_backend")]
    pub archive_backend: Backend,
    /// GridFS bucket name: collections `<name>.files` and `<name>.chunks`
    /// (`ARCHIVE_GRIDFS_BUCKET`).
    #[serde(default = "default_collection")]
    pub archive_gridfs_bucket: String,
    /// Directory of the `local` backend, created when missing (`ARCHIVE_LOCAL_DIR`).
    #[serde(default = "default_local_dir")]
    pub archive_local_dir: PathBuf,
    /// Detected types that may be stored, comma-separated (`ARCHIVE_ALLOWED_TYPES`).
    #[serde(default = "default_allowed_types", deserialize_with = "comma_list")]
    pub archive_allowed_types: Vec<String>,
    /// Bytes each user may store in total; 0 turns the quota off (`ARCHIVE_QUOTA_BYTES`).
    #[serde(default)]
    pub archive_quota_bytes: u64,
    /// Age in seconds after which a blob without a record counts as left behind by a crash
    /// and is removed (`ARCHIVE_SWEEP_AFTER_SECS`); 0 turns the sweep off. An upload must
    /// finish within half of it.
    #[serde(default = "default_sweep_after_secs")]
    pub archive_sweep_after_secs: u64,
    /// Seconds between two looks for such blobs (`ARCHIVE_SWEEP_EVERY_SECS`).
    #[serde(default = "default_sweep_every_secs")]
    pub archive_sweep_every_secs: u64,
    /// Milliseconds one database call may take, and a download may wait for its next chunk,
    /// before it is given up with 503 (`ARCHIVE_DATABASE_TIMEOUT_MS`): the driver has no
    /// socket timeout, so a silent connection would otherwise hold a request forever.
    #[serde(default = "default_database_timeout_ms")]
    pub archive_database_timeout_ms: u64,
}

/// Below this, an upload would have less than 5 s (ObjectId ages are whole seconds).
const MIN_SWEEP_AFTER_SECS: u64 = 10;
/// Ten years: past this, "older than" reaches back before ObjectIds began.
const MAX_SWEEP_AFTER_SECS: u64 = 10 * 365 * 24 * 60 * 60;

fn default_sweep_after_secs() -> u64 {
    24 * 60 * 60
}

fn default_sweep_every_secs() -> u64 {
    10 * 60
}

fn default_database_timeout_ms() -> u64 {
    10_000
}

fn default_collection() -> String {
    "_ARCHIVE".into()
}

fn default_max_content_length() -> u64 {
    16 * 1024 * 1024
}

fn default_backend() -> Backend {
    Backend::Gridfs
}

fn default_local_dir() -> PathBuf {
    ".coglex/archive".into()
}

fn default_allowed_types() -> Vec<String> {
    DEFAULT_ALLOWED_TYPES
        .iter()
        .map(|t| (*t).to_owned())
        .collect()
}

impl Settings {
    /// Refuses values the service cannot work with, naming the setting.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        check_private_collection(
            "MONGODB_ARCHIVE_COLLECTION",
            &self.mongodb_archive_collection,
        )?;
        if self.max_content_length == 0 {
            return Err(ConfigError(
                "MAX_CONTENT_LENGTH must be a positive number of bytes".into(),
            ));
        }
        if self.archive_backend == Backend::Gridfs {
            check_private_collection("ARCHIVE_GRIDFS_BUCKET", &self.archive_gridfs_bucket)?;
        }
        if !(self.archive_sweep_after_secs == 0
            || (MIN_SWEEP_AFTER_SECS..=MAX_SWEEP_AFTER_SECS)
                .contains(&self.archive_sweep_after_secs))
        {
            return Err(ConfigError(format!(
                "ARCHIVE_SWEEP_AFTER_SECS must be 0 (off) or from {MIN_SWEEP_AFTER_SECS} to {MAX_SWEEP_AFTER_SECS}"
            )));
        }
        if self.archive_sweep_every_secs == 0 {
            return Err(ConfigError(
                "ARCHIVE_SWEEP_EVERY_SECS must be a positive number of seconds".into(),
            ));
        }
        if self.archive_database_timeout_ms == 0 {
            return Err(ConfigError(
                "ARCHIVE_DATABASE_TIMEOUT_MS must be a positive number of milliseconds".into(),
            ));
        }
        if self.archive_allowed_types.is_empty() {
            return Err(ConfigError(
                "ARCHIVE_ALLOWED_TYPES must list at least one type".into(),
            ));
        }
        for allowed in &mut self.archive_allowed_types {
            *allowed = allowed.to_ascii_lowercase();
            let valid = allowed
                .split_once('/')
                .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty());
            if !valid {
                return Err(ConfigError(format!(
                    "ARCHIVE_ALLOWED_TYPES has `{allowed}`, which is not a type/subtype"
                )));
            }
        }
        Ok(())
    }

    /// Age after which a blob without a record is a crash's leftover; `None` when the sweep
    /// is off.
    pub fn sweep_after(&self) -> Option<Duration> {
        (self.archive_sweep_after_secs > 0)
            .then(|| Duration::from_secs(self.archive_sweep_after_secs))
    }

    /// How long one database call may take (`ARCHIVE_DATABASE_TIMEOUT_MS`).
    pub fn database_timeout(&self) -> Duration {
        Duration::from_millis(self.archive_database_timeout_ms)
    }

    /// Whether a detected type may be stored.
    pub fn allows(&self, mimetype: &str) -> bool {
        self.archive_allowed_types.iter().any(|t| t == mimetype)
    }
}

#[cfg(test)]
mod tests {
    use coglex_common::config::ConfigSource;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut settings: Settings = ConfigSource::from_pairs(pairs.iter().copied()).get()?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn defaults_follow_the_original() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.mongodb_archive_collection, "_ARCHIVE");
        assert_eq!(settings.max_content_length, 16 * 1024 * 1024);
        assert_eq!(settings.archive_backend, Backend::Gridfs);
        assert!(settings.allows("image/png") && !settings.allows("text/html"));
        assert_eq!(settings.archive_quota_bytes, 0);
        assert_eq!(settings.archive_sweep_after_secs, 86_400);
    }

    #[test]
    fn allowed_types_are_a_comma_list() {
        let settings = settings(&[("ARCHIVE_ALLOWED_TYPES", "Text/HTML, image/svg+xml")]).unwrap();
        assert!(settings.allows("text/html") && settings.allows("image/svg+xml"));
        assert!(!settings.allows("image/png"));
    }

    #[test]
    fn collections_storage_could_reach_are_refused() {
        for (setting, name) in [
            ("MONGODB_ARCHIVE_COLLECTION", "files"),
            ("ARCHIVE_GRIDFS_BUCKET", "fs"),
        ] {
            let error = settings(&[(setting, name)]).unwrap_err();
            assert!(error.to_string().contains(setting), "{error}");
        }
    }

    #[test]
    fn bad_values_name_their_setting() {
        let zero = settings(&[("MAX_CONTENT_LENGTH", "0")]).unwrap_err();
        assert!(zero.to_string().contains("MAX_CONTENT_LENGTH"), "{zero}");
        let backend = settings(&[("ARCHIVE_BACKEND", "s3")]).unwrap_err();
        assert!(backend.to_string().contains("ARCHIVE_BACKEND"), "{backend}");
        let kind = settings(&[("ARCHIVE_ALLOWED_TYPES", "png")]).unwrap_err();
        assert!(kind.to_string().contains("ARCHIVE_ALLOWED_TYPES"), "{kind}");
        let sweep = settings(&[("ARCHIVE_SWEEP_AFTER_SECS", "1")]).unwrap_err();
        assert!(
            sweep.to_string().contains("ARCHIVE_SWEEP_AFTER_SECS"),
            "{sweep}"
        );
    }
}
