//! `fileUri` values, which Gemini fetches on our behalf: only files of the Gemini Files API
//! are allowed, never another host, an internal address or another scheme.
//!
//! Gemini's file ids are up to 40 lower-case letters, digits and dashes, not starting or ending
//! with a dash (Files API reference, `File.name`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::Invalid;

/// Where the Files API serves uploaded files.
pub const FILES_API_PREFIX: &str = "https://generativelanguage.googleapis.com/v1beta/files/";

const MAX_ID_LEN: usize = 40;

/// A reference to a file held by the Gemini Files API, as the client wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUri(String);

impl FileUri {
    /// Accepts `https://generativelanguage.googleapis.com/v1beta/files/<id>` or `files/<id>`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let id = raw
            .strip_prefix(FILES_API_PREFIX)
            .or_else(|| raw.strip_prefix("files/"));
        match id {
            Some(id) if is_file_id(id) => Ok(Self(raw.to_owned())),
            _ => Err(Invalid::new(format!(
                "fileUri must name a Gemini file ({FILES_API_PREFIX}<id> or files/<id>)"
            ))),
        }
    }

    /// The file's resource name, `files/<id>`, whichever way the client wrote it.
    pub fn name(&self) -> String {
        let id = self
            .0
            .strip_prefix(FILES_API_PREFIX)
            .or_else(|| self.0.strip_prefix("files/"))
            .unwrap_or(&self.0);
        format!("files/{id}")
    }
}

/// The resource names of every Gemini file a request body refers to, in either spelling
/// Gemini's JSON accepts, wherever it sits (parts nest parts). A value under such a name
/// that is not a Gemini file is refused, even where Gemini is not known to read one: what
/// cannot be checked must not pass.
pub fn referenced_files(body: &Value) -> Result<BTreeSet<String>, Invalid> {
    fn walk(value: &Value, found: &mut BTreeSet<String>) -> Result<(), Invalid> {
        match value {
            Value::Object(object) => {
                object
                    .iter()
                    .try_for_each(|(key, inner)| match (key.as_str(), inner) {
                        ("fileUri" | "file_uri", Value::String(raw)) => {
                            found.insert(FileUri::parse(raw)?.name());
                            Ok(())
                        }
                        _ => walk(inner, found),
                    })
            }
            Value::Array(items) => items.iter().try_for_each(|item| walk(item, found)),
            _ => Ok(()),
        }
    }
    let mut found = BTreeSet::new();
    walk(body, &mut found)?;
    Ok(found)
}

fn is_file_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_readme_uri_is_accepted() {
        let raw = "https://generativelanguage.googleapis.com/v1beta/files/abc123def456";
        assert_eq!(FileUri::parse(raw).unwrap().0, raw);
    }

    #[test]
    fn a_files_resource_name_is_accepted() {
        assert!(FileUri::parse("files/abc-123").is_ok());
    }

    #[test]
    fn other_places_are_refused() {
        for raw in [
            "http://generativelanguage.googleapis.com/v1beta/files/abc",
            "https://generativelanguage.googleapis.com.evil.example/v1beta/files/abc",
            "https://generativelanguage.googleapis.com/v1beta/files/abc/../../models",
            "https://generativelanguage.googleapis.com/v1beta/files/abc?key=x",
            "https://generativelanguage.googleapis.com/v1beta/files/",
            "https://evil.example/v1beta/files/abc",
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:8081/service/auth/v1/x",
            "gs://bucket/object",
            "file:///etc/passwd",
            "files/",
            "files/ABC",
            "files/-abc",
            "files/abc%2F",
            "https://www.youtube.com/watch?v=x",
        ] {
            assert!(FileUri::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn both_spellings_name_the_same_file() {
        let long = FileUri::parse(&format!("{FILES_API_PREFIX}abc-1")).unwrap();
        assert_eq!(long.name(), "files/abc-1");
        assert_eq!(FileUri::parse("files/abc-1").unwrap().name(), "files/abc-1");
    }

    #[test]
    fn every_nested_reference_is_found_once() {
        let body = serde_json::json!({
            "contents": [{"parts": [
                {"fileData": {"fileUri": format!("{FILES_API_PREFIX}one")}},
                {"functionResponse": {"name": "f", "response": {"parts": [
                    {"file_data": {"file_uri": "files/two"}},
                    {"fileData": {"fileUri": "files/one"}}
                ]}}},
                {"text": "files/three"}
            ]}],
            "systemInstruction": {"parts": [{"fileData": {"fileUri": "files/four"}}]}
        });
        let names: Vec<String> = referenced_files(&body).unwrap().into_iter().collect();
        assert_eq!(names, ["files/four", "files/one", "files/two"]);
    }

    #[test]
    fn a_reference_that_is_not_a_gemini_file_is_refused_wherever_it_sits() {
        let body = serde_json::json!({
            "contents": [{"parts": [{"text": "hi"}]}],
            "generationConfig": {"x": {"fileUri": "https://generativelanguage.googleapis.com/v1/files/a"}}
        });
        assert!(referenced_files(&body).is_err());
    }

    #[test]
    fn an_overlong_id_is_refused() {
        assert!(FileUri::parse(&format!("files/{}", "a".repeat(41))).is_err());
    }
}
