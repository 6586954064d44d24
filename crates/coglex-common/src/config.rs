//! Settings: built-in defaults (serde defaults on each settings struct), then an optional file
//! named by `COGLEX_CONFIG_FILE`, then `.env` (when present), then the environment.
//!
//! Keys are the environment names, case-insensitive (`MONGODB_URI` in the environment,
//! `mongodb_uri` in a file). Each crate deserialises the settings structs it needs from one
//! [`ConfigSource`]; unknown keys are ignored, so every service reads the same `.env`.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;

use crate::secret::{KeySet, Secret};
#[cfg(feature = "service")]
use crate::{
    mongo::MongoSettings, session::SessionSettings, telemetry::LogSettings, token::TokenSettings,
};

/// Shortest accepted length, in bytes, of `SERVER_SECRET` and of every API key.
pub const MIN_SECRET_BYTES: usize = 32;

/// A configuration problem, phrased as one line that names the setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// All configuration sources, merged once at start-up.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    inner: config::Config,
}

impl ConfigSource {
    /// Defaults, then `COGLEX_CONFIG_FILE`, then `.env`, then the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        // `.env` only fills variables the environment does not already set.
        let _ = dotenvy::dotenv();
        let mut builder = config::Config::builder();
        if let Ok(path) = std::env::var("COGLEX_CONFIG_FILE") {
            builder = builder.add_source(config::File::with_name(&path).required(true));
        }
        let inner = builder
            .add_source(config::Environment::default().ignore_empty(true))
            .build()
            .map_err(|e| ConfigError(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Exactly the given keys (plus built-in defaults): for tests and tools.
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut builder = config::Config::builder();
        for (key, value) in pairs {
            builder = builder
                .set_override(key.as_ref().to_ascii_lowercase(), value.into())
                .expect("a plain key is always accepted");
        }
        let inner = builder.build().expect("in-memory values always build");
        Self { inner }
    }

    /// Deserialises one settings struct from the merged sources.
    pub fn get<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.inner
            .clone()
            .try_deserialize()
            .map_err(|e| ConfigError(e.to_string().to_uppercase_keys()))
    }
}

trait UppercaseKeys {
    fn to_uppercase_keys(&self) -> String;
}

impl UppercaseKeys for String {
    /// config's messages name keys in lower case (`key \`server_port\``); ours name them as the
    /// environment does.
    fn to_uppercase_keys(&self) -> String {
        match (self.find('`'), self.rfind('`')) {
            (Some(start), Some(end)) if end > start => format!(
                "{}{}{}",
                &self[..start],
                self[start..end].to_ascii_uppercase(),
                &self[end..]
            ),
            _ => self.clone(),
        }
    }
}

/// Where a process listens and how it stops.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// Interface to bind (`SERVER_HOST`); containers set `0.0.0.0`.
    #[serde(default = "default_host")]
    pub server_host: String,
    /// Port to bind (`SERVER_PORT`); each binary has its own default; 0 picks a free port.
    #[serde(default)]
    pub server_port: Option<u16>,
    /// Seconds in-flight requests get to finish after SIGTERM (`SHUTDOWN_TIMEOUT_SECS`).
    #[serde(default = "default_shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,
    /// Worker threads (`SERVER_WORKERS`); 0 means one per core.
    #[serde(default)]
    pub server_workers: usize,
    /// Largest JSON request body in bytes (`MAX_JSON_BYTES`); uploads have their own limits.
    #[serde(default = "default_max_json_bytes")]
    pub max_json_bytes: usize,
}

fn default_max_json_bytes() -> usize {
    1024 * 1024
}

fn default_host() -> String {
    "127.0.0.1".into()
}

fn default_shutdown_timeout_secs() -> u64 {
    25
}

/// The keys clients send in `X-API-Key`. They are not the token-signing secret: a leaked
/// API key cannot be used to mint tokens (the original used one secret for both).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiKeySettings {
    /// Accepted client keys, comma-separated so keys can be rotated (`API_KEYS`).
    #[serde(default, deserialize_with = "comma_list")]
    pub api_keys: Vec<Secret>,
    /// Keys that act as the service role, e.g. across all users' documents (`ADMIN_API_KEYS`).
    #[serde(default, deserialize_with = "comma_list")]
    pub admin_api_keys: Vec<Secret>,
}

impl ApiKeySettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.api_keys.is_empty() {
            return Err(ConfigError(format!(
                "API_KEYS is missing; set it to one or more comma-separated random keys of at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        for (name, keys) in [
            ("API_KEYS", &self.api_keys),
            ("ADMIN_API_KEYS", &self.admin_api_keys),
        ] {
            if keys.iter().any(|k| k.expose().len() < MIN_SECRET_BYTES) {
                return Err(ConfigError(format!(
                    "{name} has a key shorter than {MIN_SECRET_BYTES} bytes; use long random keys"
                )));
            }
        }
        // A key in both lists would make every holder of the client key an admin.
        if self
            .api_keys
            .iter()
            .any(|key| self.admin_api_keys.contains(key))
        {
            return Err(ConfigError(
                "a key is in both API_KEYS and ADMIN_API_KEYS; an admin key must not be shipped to clients".into(),
            ));
        }
        Ok(())
    }

    /// Every key that opens the API: client keys and admin keys.
    pub fn all_keys(&self) -> KeySet {
        KeySet::new(self.api_keys.iter().chain(&self.admin_api_keys))
    }

    pub fn admin_keys(&self) -> KeySet {
        KeySet::new(&self.admin_api_keys)
    }
}

/// Settings every service needs, loaded and validated together.
#[cfg(feature = "service")]
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub server: ServerSettings,
    pub keys: ApiKeySettings,
    pub tokens: TokenSettings,
    pub mongo: MongoSettings,
    pub sessions: SessionSettings,
    pub log: LogSettings,
}

#[cfg(feature = "service")]
impl CoreSettings {
    pub fn from_source(source: &ConfigSource) -> Result<Self, ConfigError> {
        let settings = Self {
            server: source.get()?,
            keys: source.get()?,
            tokens: source.get()?,
            mongo: source.get()?,
            sessions: source.get()?,
            log: source.get()?,
        };
        settings.tokens.validate()?;
        settings.keys.validate()?;
        // Clients hold the API keys, so a key that is also the signing secret lets any of
        // them mint session tokens (the original's flaw).
        let secret = &settings.tokens.server_secret;
        if settings
            .keys
            .api_keys
            .iter()
            .chain(&settings.keys.admin_api_keys)
            .any(|key| key == secret)
        {
            return Err(ConfigError(
                "SERVER_SECRET must differ from every API key: clients send the keys, and the secret signs session tokens".into(),
            ));
        }
        crate::mongo::check_private_collection(
            "MONGODB_AUTH_COLLECTION",
            &settings.mongo.mongodb_auth_collection,
        )?;
        crate::mongo::check_private_collection(
            "MONGODB_SESSION_COLLECTION",
            &settings.sessions.mongodb_session_collection,
        )?;
        Ok(settings)
    }
}

/// Reads a list given either as one comma-separated string (the environment) or as a list (a file).
pub fn comma_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => s.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(v) => v,
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(T::from)
        .collect())
}

#[cfg(all(test, feature = "service"))]
mod tests {
    use super::*;

    fn valid_pairs() -> Vec<(&'static str, String)> {
        vec![
            ("SERVER_SECRET", "s".repeat(32)),
            (
                "API_KEYS",
                format!("{}, {}", "a".repeat(32), "b".repeat(40)),
            ),
        ]
    }

    #[test]
    fn comma_separated_api_keys_are_split_and_trimmed() {
        let settings = CoreSettings::from_source(&ConfigSource::from_pairs(valid_pairs())).unwrap();
        let keys = settings.keys.all_keys();
        assert!(keys.contains("a".repeat(32).as_bytes()));
        assert!(keys.contains("b".repeat(40).as_bytes()));
    }

    #[test]
    fn defaults_keep_the_original_names_and_values() {
        let settings = CoreSettings::from_source(&ConfigSource::from_pairs(valid_pairs())).unwrap();
        assert_eq!(settings.mongo.mongodb_database, "coglex");
        assert_eq!(settings.mongo.mongodb_auth_collection, "_USERS");
    }

    #[test]
    fn a_missing_server_secret_is_named_in_one_line() {
        let mut pairs = valid_pairs();
        pairs.retain(|(k, _)| *k != "SERVER_SECRET");
        let err = CoreSettings::from_source(&ConfigSource::from_pairs(pairs))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SERVER_SECRET is missing"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn a_short_server_secret_is_refused() {
        let mut pairs = valid_pairs();
        pairs[0].1 = "too-short".into();
        let err = CoreSettings::from_source(&ConfigSource::from_pairs(pairs))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SERVER_SECRET") && err.contains("32 bytes"),
            "{err}"
        );
        assert!(
            !err.contains("too-short"),
            "the secret itself must not be echoed: {err}"
        );
    }

    #[test]
    fn missing_or_short_api_keys_are_refused() {
        let mut pairs = valid_pairs();
        pairs.retain(|(k, _)| *k != "API_KEYS");
        let err = CoreSettings::from_source(&ConfigSource::from_pairs(pairs.clone())).unwrap_err();
        assert!(err.to_string().contains("API_KEYS is missing"), "{err}");

        pairs.push(("API_KEYS", format!("{},short", "a".repeat(32))));
        let err = CoreSettings::from_source(&ConfigSource::from_pairs(pairs)).unwrap_err();
        assert!(
            err.to_string()
                .contains("API_KEYS has a key shorter than 32 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_server_secret_that_is_also_an_api_key_is_refused() {
        let secret = "s".repeat(32);
        let client_key = valid_pairs().remove(1);
        for keys in [
            [
                ("API_KEYS", secret.clone()),
                ("ADMIN_API_KEYS", "c".repeat(32)),
            ],
            [client_key.clone(), ("ADMIN_API_KEYS", secret.clone())],
        ] {
            let pairs = [("SERVER_SECRET", secret.clone())].into_iter().chain(keys);
            let err = CoreSettings::from_source(&ConfigSource::from_pairs(pairs))
                .unwrap_err()
                .to_string();
            assert!(err.contains("SERVER_SECRET must differ"), "{err}");
            assert!(
                !err.contains(&secret),
                "the secret must not be echoed: {err}"
            );
        }
    }

    #[test]
    fn a_key_in_both_key_lists_is_refused() {
        let mut pairs = valid_pairs();
        pairs.push((
            "ADMIN_API_KEYS",
            format!("{},{}", "c".repeat(32), "b".repeat(40)),
        ));
        let err = CoreSettings::from_source(&ConfigSource::from_pairs(pairs)).unwrap_err();
        assert!(
            err.to_string().contains("both API_KEYS and ADMIN_API_KEYS"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_number_names_the_setting() {
        let mut pairs = valid_pairs();
        pairs.push(("SERVER_PORT", "eighty".into()));
        let err = CoreSettings::from_source(&ConfigSource::from_pairs(pairs)).unwrap_err();
        assert!(err.to_string().contains("SERVER_PORT"), "{err}");
    }
}
