//! A Gemini API key, from the request's `key` or `GENERATION_KEY`. It only ever travels in the
//! `x-goog-api-key` header (Gemini's docs), so it must be a valid header value; it never prints.

use coglex_common::secret::Secret;

use super::Invalid;

/// Longest key accepted, in bytes (Google's keys are 39).
const MAX_LEN: usize = 256;

#[derive(Clone, PartialEq, Eq)]
pub struct GeminiKey {
    secret: Secret,
    /// `GENERATION_KEY`, not the caller's: Gemini refusing it is this server's failure.
    servers: bool,
}

impl GeminiKey {
    /// Accepts 1 to 256 visible ASCII characters; the message never repeats the value.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok =
            !raw.is_empty() && raw.len() <= MAX_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(Invalid::new(
                "key must be 1 to 256 visible ASCII characters (a Gemini API key)",
            ));
        }
        Ok(Self {
            secret: Secret::new(raw),
            servers: false,
        })
    }

    /// The same key, as this server's own (`GENERATION_KEY`).
    pub fn into_servers(self) -> Self {
        Self {
            servers: true,
            ..self
        }
    }

    /// Whether this is the server's own key rather than the caller's.
    pub fn is_servers(&self) -> bool {
        self.servers
    }

    /// The key's value, for the `x-goog-api-key` header and for redaction only.
    pub fn expose(&self) -> &str {
        self.secret.expose()
    }
}

impl std::fmt::Debug for GeminiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeminiKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_google_style_key_is_accepted() {
        assert!(GeminiKey::parse("AIzaSyTEST-only_0123456789abcdefghijklm").is_ok());
    }

    #[test]
    fn keys_that_cannot_be_a_header_value_are_refused() {
        for raw in [
            "",
            "with space",
            "new\nline",
            "ünïcode",
            &"k".repeat(MAX_LEN + 1),
        ] {
            assert!(GeminiKey::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = GeminiKey::parse("do-not-print").unwrap();
        assert!(!format!("{key:?}").contains("do-not-print"));
    }

    #[test]
    fn the_refusal_never_repeats_the_key() {
        let err = GeminiKey::parse("secret value").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
