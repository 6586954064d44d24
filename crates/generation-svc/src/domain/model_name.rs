//! Model names, which end up inside the request path (`/v1beta/{model}:generateContent`).
//!
//! Gemini's model ids are lower-case letters, digits, dots and dashes
//! (`gemini-2.5-flash`, `gemini-2.0-flash-exp`, `gemma-3-27b-it`). Anything else (slashes, `:`,
//! `?`, `%`, `..`) could change which endpoint is called, so it is refused before any call.

use super::Invalid;

/// Longest model id accepted (Gemini's ids are far shorter).
const MAX_ID_LEN: usize = 64;

/// A model as the REST path takes it: always `models/<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelName(String);

impl ModelName {
    /// Accepts `models/<id>` or a bare `<id>`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let id = raw.strip_prefix("models/").unwrap_or(raw);
        let well_formed = !id.is_empty()
            && id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && id.ends_with(|c: char| c.is_ascii_alphanumeric())
            && !id.contains("..");
        if !well_formed {
            return Err(Invalid::new(
                "a model is `models/<id>` with an id of lower-case letters, digits, dots and dashes",
            ));
        }
        Ok(Self(format!("models/{id}")))
    }

    /// `models/<id>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ModelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which models a request may name (`GENERATION_ALLOWED_MODELS`): exact names, or prefixes
/// ending in `*`. Empty allows every well-formed name.
#[derive(Debug, Clone, Default)]
pub struct ModelAllowList {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl ModelAllowList {
    /// Entries are normalised to `models/...` so `gemini-x` and `models/gemini-x` match alike.
    pub fn new(entries: &[String]) -> Self {
        let normalise = |s: &str| {
            if s.starts_with("models/") {
                s.to_owned()
            } else {
                format!("models/{s}")
            }
        };
        let mut list = Self::default();
        for entry in entries {
            match entry.strip_suffix('*') {
                Some(prefix) => list.prefixes.push(normalise(prefix)),
                None => list.exact.push(normalise(entry)),
            }
        }
        list
    }

    pub fn allows(&self, model: &ModelName) -> bool {
        (self.exact.is_empty() && self.prefixes.is_empty())
            || self.exact.iter().any(|m| m == model.as_str())
            || self.prefixes.iter().any(|p| model.as_str().starts_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_original_readme_parse() {
        for raw in [
            "models/gemini-2.5-flash",
            "models/gemini-2.0-flash-exp",
            "models/gemini-1.5-pro",
        ] {
            assert_eq!(ModelName::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn a_bare_id_gets_the_models_prefix() {
        assert_eq!(
            ModelName::parse("gemini-2.5-flash").unwrap().as_str(),
            "models/gemini-2.5-flash"
        );
    }

    #[test]
    fn path_tricks_are_refused() {
        for raw in [
            "../files",
            "models/../files",
            "models/gemini:streamGenerateContent?key=x",
            "models/gemini-2.5-flash?key=x",
            "models/gemini%2f..",
            "models/a/b",
            "models/",
            "",
            "models/Gemini",
            "models/gemini..flash",
            "models/-gemini",
            "models/gemini ",
            "tunedModels/x",
        ] {
            assert!(ModelName::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn an_overlong_id_is_refused() {
        assert!(ModelName::parse(&"a".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn an_empty_allow_list_allows_every_well_formed_name() {
        let list = ModelAllowList::new(&[]);
        assert!(list.allows(&ModelName::parse("anything-1").unwrap()));
    }

    #[test]
    fn the_allow_list_takes_exact_names_and_prefixes() {
        let list = ModelAllowList::new(&["gemini-2.5-flash".into(), "models/gemini-1.5-*".into()]);
        assert!(list.allows(&ModelName::parse("models/gemini-2.5-flash").unwrap()));
        assert!(list.allows(&ModelName::parse("gemini-1.5-pro").unwrap()));
        assert!(!list.allows(&ModelName::parse("gemini-2.5-pro").unwrap()));
    }
}
