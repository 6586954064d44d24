//! Secrets that cannot leak through `Debug` or logs, and API key sets checked in constant time.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// A string that is never printed: `Debug` shows `[redacted]`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's value; call it only where the value is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// A set of accepted keys. Keys are kept as SHA-256 digests and every candidate is compared
/// against every key, so neither the match position nor the key length shows in the timing.
#[derive(Clone, Default)]
pub struct KeySet {
    digests: Vec<[u8; 32]>,
}

impl KeySet {
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a Secret>) -> Self {
        let digests = keys
            .into_iter()
            .map(|k| digest(k.expose().as_bytes()))
            .collect();
        Self { digests }
    }

    pub fn contains(&self, candidate: &[u8]) -> bool {
        self.position(candidate).is_some()
    }

    /// Which key `candidate` is (in the order given to [`KeySet::new`]), if any; a stable id
    /// for a caller that must not keep the key itself.
    pub fn position(&self, candidate: &[u8]) -> Option<usize> {
        let candidate = digest(candidate);
        let mut found = subtle::Choice::from(0);
        let mut position = 0u64;
        for (i, key) in self.digests.iter().enumerate() {
            let equal = key.ct_eq(&candidate);
            position.conditional_assign(&(i as u64), equal);
            found |= equal;
        }
        bool::from(found).then_some(position as usize)
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySet({} keys)", self.digests.len())
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let secret = Secret::new("do-not-print-me");
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }

    #[test]
    fn key_set_accepts_any_configured_key_and_nothing_else() {
        let keys = [Secret::new("first-key"), Secret::new("second-key")];
        let set = KeySet::new(&keys);
        assert!(set.contains(b"first-key"));
        assert!(set.contains(b"second-key"));
        assert!(!set.contains(b"first-ke"));
        assert!(!set.contains(b""));
        assert!(!KeySet::default().contains(b""));
        assert_eq!(set.position(b"first-key"), Some(0));
        assert_eq!(set.position(b"second-key"), Some(1));
        assert_eq!(set.position(b"third-key"), None);
    }
}
