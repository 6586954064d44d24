//! `_key` (an email address) and `_password`, as the original's sign-up and sign-in take them.

use coglex_common::ApiError;
use serde_json::Value;

/// Shortest accepted password, in characters (NIST SP 800-63B's minimum).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in bytes: long enough for passphrases, short enough that hashing
/// cannot be made expensive. Never silently truncated (bcrypt would cut at 72 bytes).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A user's key: an email address, trimmed and lower-cased, so `A@B.C` and `a@b.c` are one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserKey(String);

impl UserKey {
    /// Parses a JSON value: only a string is a key (an object such as `{"$ne": null}` is refused).
    pub fn from_json(value: Option<&Value>) -> Result<Self, ApiError> {
        match value {
            Some(Value::String(text)) => Self::parse(text),
            Some(_) => Err(ApiError::bad_request(
                "`_key` must be a string (an email address)",
            )),
            None => Err(ApiError::bad_request("`_key` is required")),
        }
    }

    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let key = text.trim().to_lowercase();
        if is_email(&key) {
            Ok(Self(key))
        } else {
            Err(ApiError::bad_request(
                "`_key` must be a valid email address",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A deliberately plain check (RFC 5321 limits, no quoted or IP-literal forms): it refuses
/// whitespace and control characters, so a key can never inject mail headers (CR/LF).
fn is_email(key: &str) -> bool {
    let Some((local, domain)) = key.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    key.len() <= 254 && local_ok && domain_ok
}

/// A password as sent, checked for length only; never logged (no `Debug` of the value).
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    /// For new passwords (sign-up): the length rules apply.
    pub fn new_from_json(value: Option<&Value>) -> Result<Self, ApiError> {
        let password = Self::from_json(value)?;
        if password.0.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ApiError::bad_request(format!(
                "`_password` must be at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        Ok(password)
    }

    /// For existing passwords (sign-in): any string within the size bound.
    pub fn from_json(value: Option<&Value>) -> Result<Self, ApiError> {
        match value {
            Some(Value::String(text)) if text.len() > MAX_PASSWORD_BYTES => {
                Err(ApiError::bad_request(format!(
                    "`_password` must be at most {MAX_PASSWORD_BYTES} bytes"
                )))
            }
            Some(Value::String(text)) => Ok(Self(text.clone())),
            Some(_) => Err(ApiError::bad_request("`_password` must be a string")),
            None => Err(ApiError::bad_request("`_password` is required")),
        }
    }

    pub fn into_secret(self) -> coglex_common::secret::Secret {
        coglex_common::secret::Secret::new(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_trimmed_and_lower_cased() {
        assert_eq!(
            UserKey::parse("  Ada.Lovelace@Example.COM ")
                .unwrap()
                .as_str(),
            "ada.lovelace@example.com"
        );
    }

    #[test]
    fn malformed_and_injecting_keys_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "ada @example.com",
            "ada@example.com\r\nBcc: victim@example.com",
            "ada@exa_mple.com",
            ".ada@example.com",
            "a..b@example.com",
        ] {
            assert!(UserKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn operators_in_place_of_a_key_are_refused() {
        assert!(UserKey::from_json(Some(&json!({"$ne": null}))).is_err());
        assert!(UserKey::from_json(Some(&json!({"$regex": ".*"}))).is_err());
        assert!(UserKey::from_json(None).is_err());
    }

    #[test]
    fn passwords_have_a_floor_and_a_ceiling_and_are_never_truncated() {
        assert!(Password::new_from_json(Some(&json!("short"))).is_err());
        assert!(Password::new_from_json(Some(&json!("long enough"))).is_ok());
        assert!(Password::new_from_json(Some(&json!("x".repeat(MAX_PASSWORD_BYTES + 1)))).is_err());
        assert!(Password::from_json(Some(&json!({"$ne": null}))).is_err());
        assert_eq!(
            format!(
                "{:?}",
                Password::from_json(Some(&json!("hunter22"))).unwrap()
            ),
            "Password([redacted])"
        );
    }
}
