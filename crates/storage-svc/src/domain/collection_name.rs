//! The name of a collection a client may reach.
//!
//! Names come from the URL path and from pipelines (`$lookup.from`, `$unionWith`), so they are
//! checked against an allow-list of characters: letters, digits, `_`, `-` and `.`, starting
//! with a letter or digit, at most [`MAX_LEN`] bytes. That keeps out `_`-prefixed service
//! collections (`_USERS`, `_SESSIONS`, `_ARCHIVE`), `system.*`, names with `$` or NUL, and
//! anything that could name another database.

use std::fmt;

use coglex_common::ApiError;

/// Longest accepted name, in bytes (well under MongoDB's namespace limit).
pub const MAX_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CollectionName(String);

impl CollectionName {
    /// Accepts a name a client may use: a reserved name is 403, any other bad name 404 (no
    /// such collection can exist).
    pub fn parse(name: &str) -> Result<Self, ApiError> {
        if name.starts_with('_') || name.starts_with("system.") {
            return Err(ApiError::forbidden(format!(
                "the collection `{}` is reserved",
                printable(name)
            )));
        }
        let well_formed = !name.is_empty()
            && name.len() <= MAX_LEN
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && !name.contains("..")
            && !name.ends_with('.');
        if !well_formed {
            return Err(ApiError::not_found(format!(
                "there is no collection named `{}`",
                printable(name)
            )));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keeps echoed names short and printable.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use coglex_common::ErrorCode;

    fn code(name: &str) -> ErrorCode {
        CollectionName::parse(name).unwrap_err().code()
    }

    #[test]
    fn ordinary_names_are_accepted() {
        for name in [
            "products",
            "Products2",
            "orders.archive",
            "user-notes",
            "a_b",
        ] {
            assert_eq!(CollectionName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn reserved_names_are_forbidden() {
        for name in [
            "_USERS",
            "_SESSIONS",
            "_ARCHIVE",
            "system.users",
            "system.js",
        ] {
            assert_eq!(code(name), ErrorCode::Forbidden, "{name}");
        }
    }

    #[test]
    fn names_no_collection_can_have_are_not_found() {
        let long = "a".repeat(MAX_LEN + 1);
        for name in [
            "",
            "a$b",
            "a\0b",
            "$cmd",
            ".x",
            "a..b",
            "a.",
            "x y",
            "é",
            long.as_str(),
        ] {
            assert_eq!(code(name), ErrorCode::NotFound, "{name:?}");
        }
    }
}
