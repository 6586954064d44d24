//! storage-svc's own settings (the shared ones are in `coglex_common::config`), read from the
//! same sources and validated once at start-up.

use std::time::Duration;

use coglex_common::config::{comma_list, ConfigError};
use serde::Deserialize;

use crate::domain::policy::{Policies, Policy};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Access policy per collection, comma-separated `name=policy` pairs such as
    /// `products=shared,catalog=read-only` (`STORAGE_COLLECTION_POLICIES`).
    #[serde(default, deserialize_with = "comma_list")]
    pub storage_collection_policies: Vec<String>,
    /// Policy of every collection not listed above: `private`, `shared` or `read-only`
    /// (`STORAGE_DEFAULT_POLICY`).
    #[serde(default = "default_policy")]
    pub storage_default_policy: String,
    /// Documents a find returns when the request gives no `limit` (`STORAGE_DEFAULT_LIMIT`).
    #[serde(default = "default_limit")]
    pub storage_default_limit: u32,
    /// Largest `limit` a find accepts, and most documents an aggregation returns
    /// (`STORAGE_MAX_LIMIT`).
    #[serde(default = "default_max_limit")]
    pub storage_max_limit: u32,
    /// Milliseconds the database may spend on one query before it is stopped and the request
    /// answers 503 (`STORAGE_MAX_TIME_MS`).
    #[serde(default = "default_max_time_ms")]
    pub storage_max_time_ms: u64,
    /// Most documents one insert accepts (`STORAGE_MAX_INSERT_DOCUMENTS`).
    #[serde(default = "default_max_insert_documents")]
    pub storage_max_insert_documents: usize,
    /// Most stages in a pipeline, counting those nested in `$facet`, `$lookup` and `$unionWith`
    /// (`STORAGE_MAX_PIPELINE_STAGES`).
    #[serde(default = "default_max_pipeline_stages")]
    pub storage_max_pipeline_stages: usize,
    /// Most collections clients can name before users may create no more by writing to a new
    /// name; the service role may (`STORAGE_MAX_COLLECTIONS`).
    #[serde(default = "default_max_collections")]
    pub storage_max_collections: usize,
}

fn default_policy() -> String {
    "private".into()
}

fn default_limit() -> u32 {
    100
}

fn default_max_limit() -> u32 {
    1000
}

fn default_max_time_ms() -> u64 {
    5_000
}

fn default_max_insert_documents() -> usize {
    1000
}

fn default_max_pipeline_stages() -> usize {
    20
}

fn default_max_collections() -> usize {
    1000
}

impl Settings {
    /// Checks the limits and parses the policies, naming the setting at fault.
    pub fn validate(&self) -> Result<Policies, ConfigError> {
        if self.storage_max_limit == 0 {
            return Err(ConfigError("STORAGE_MAX_LIMIT must be at least 1".into()));
        }
        if self.storage_default_limit == 0 || self.storage_default_limit > self.storage_max_limit {
            return Err(ConfigError(
                "STORAGE_DEFAULT_LIMIT must be between 1 and STORAGE_MAX_LIMIT".into(),
            ));
        }
        for (name, value) in [
            ("STORAGE_MAX_TIME_MS", self.storage_max_time_ms as usize),
            (
                "STORAGE_MAX_INSERT_DOCUMENTS",
                self.storage_max_insert_documents,
            ),
            (
                "STORAGE_MAX_PIPELINE_STAGES",
                self.storage_max_pipeline_stages,
            ),
            ("STORAGE_MAX_COLLECTIONS", self.storage_max_collections),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        let default = Policy::parse(&self.storage_default_policy).ok_or_else(|| {
            ConfigError("STORAGE_DEFAULT_POLICY must be private, shared or read-only".into())
        })?;
        Policies::parse(default, &self.storage_collection_policies)
            .map_err(|e| ConfigError(format!("STORAGE_COLLECTION_POLICIES: {e}")))
    }

    pub fn max_time(&self) -> Duration {
        Duration::from_millis(self.storage_max_time_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coglex_common::config::ConfigSource;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        ConfigSource::from_pairs(pairs.iter().copied())
            .get()
            .unwrap()
    }

    #[test]
    fn defaults_are_private_with_a_limit_of_100_up_to_1000() {
        let settings = settings(&[]);
        let policies = settings.validate().unwrap();
        assert_eq!(policies.default(), Policy::Private);
        assert_eq!(settings.storage_default_limit, 100);
        assert_eq!(settings.storage_max_limit, 1000);
    }

    #[test]
    fn a_default_limit_above_the_maximum_is_refused() {
        let err = settings(&[("STORAGE_DEFAULT_LIMIT", "50"), ("STORAGE_MAX_LIMIT", "10")])
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("STORAGE_DEFAULT_LIMIT"), "{err}");
    }

    #[test]
    fn an_unknown_policy_names_the_setting() {
        let err = settings(&[("STORAGE_COLLECTION_POLICIES", "products=public")])
            .validate()
            .unwrap_err();
        assert!(
            err.to_string().contains("STORAGE_COLLECTION_POLICIES"),
            "{err}"
        );
    }
}
