//! `contents` and `systemInstruction`: Gemini's `Content` (`role`, `parts`) and `Part` shapes
//! (<https://ai.google.dev/api/caching#Content>), checked before anything is sent so a bad
//! request costs no call.
//!
//! A part carries exactly one kind of data (`text`, `inlineData`, `fileData`, `functionCall`,
//! `functionResponse`, `executableCode`, `codeExecutionResult`) plus optional metadata; a
//! `fileUri` must name a Gemini file ([`FileUri`]). A plain string stands for one user text
//! part, as the original's SDK (`tokenize(["Hello world"])`) accepted.

use serde_json::{json, Map, Value};

use super::{FileUri, Invalid};

/// The data kinds of a part; exactly one is present.
const DATA_KINDS: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
];

/// Fields a part may carry beside its data.
const PART_METADATA: &[&str] = &[
    "thought",
    "thoughtSignature",
    "videoMetadata",
    "partMetadata",
    "mediaResolution",
];

/// Most contents (turns) in one request.
const MAX_CONTENTS: usize = 1_000;
/// Most parts in one content.
const MAX_PARTS: usize = 1_000;

/// Checked `contents`: a non-empty list of `Content` objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Contents(Value);

impl Contents {
    pub fn parse(value: Value) -> Result<Self, Invalid> {
        let Value::Array(items) = value else {
            return Err(
                Invalid::new("contents must be a list of {role, parts} objects").at("contents"),
            );
        };
        if items.is_empty() {
            return Err(Invalid::new("must not be empty").at("contents"));
        }
        if items.len() > MAX_CONTENTS {
            return Err(Invalid::new(format!("has more than {MAX_CONTENTS} items")).at("contents"));
        }
        let items = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(text) => Ok(json!({"role": "user", "parts": [{"text": text}]})),
                other => {
                    content(other, Roles::Conversation).map_err(|e| e.at(&format!("contents[{i}]")))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(Value::Array(items)))
    }

    pub fn into_value(self) -> Value {
        self.0
    }
}

/// Which roles a content may have.
#[derive(Clone, Copy)]
pub(crate) enum Roles {
    /// A turn of the conversation: `user` or `model`, or none.
    Conversation,
    /// `systemInstruction`: its role is ignored by Gemini, so any string is let through.
    System,
}

/// Checks one `Content`; returns it unchanged.
pub(crate) fn content(value: Value, roles: Roles) -> Result<Value, Invalid> {
    let Value::Object(object) = &value else {
        return Err(Invalid::new("must be an object with `parts`"));
    };
    for key in object.keys() {
        if key != "role" && key != "parts" {
            return Err(Invalid::new(format!("unknown field `{key}`")));
        }
    }
    match (object.get("role"), roles) {
        (None, _) => {}
        (Some(Value::String(role)), Roles::Conversation) if role == "user" || role == "model" => {}
        (Some(Value::String(_)), Roles::System) => {}
        _ => return Err(Invalid::new("role must be \"user\" or \"model\"")),
    }
    let parts = match object.get("parts") {
        Some(Value::Array(parts)) if !parts.is_empty() => parts,
        _ => return Err(Invalid::new("parts must be a non-empty list")),
    };
    if parts.len() > MAX_PARTS {
        return Err(Invalid::new(format!("has more than {MAX_PARTS} parts")));
    }
    for (i, part_value) in parts.iter().enumerate() {
        part(part_value).map_err(|e| e.at(&format!("parts[{i}]")))?;
    }
    Ok(value)
}

fn part(value: &Value) -> Result<(), Invalid> {
    let Value::Object(object) = value else {
        return Err(Invalid::new("must be an object such as {\"text\": ...}"));
    };
    let mut kinds = object.keys().filter(|k| DATA_KINDS.contains(&k.as_str()));
    let kind = match (kinds.next(), kinds.next()) {
        (Some(kind), None) => kind.as_str(),
        (None, _) => {
            return Err(Invalid::new(format!(
                "must have one of {}",
                DATA_KINDS.join(", ")
            )))
        }
        (Some(_), Some(_)) => return Err(Invalid::new("must have exactly one kind of data")),
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !DATA_KINDS.contains(&k.as_str()) && !PART_METADATA.contains(&k.as_str()))
    {
        return Err(Invalid::new(format!("unknown field `{unknown}`")));
    }
    let data = &object[kind];
    match kind {
        "text" => expect_string(data, "text").map(drop),
        "inlineData" => {
            let fields = expect_object(data, "inlineData")?;
            expect_string(
                field(fields, "mimeType", "inlineData")?,
                "inlineData.mimeType",
            )?;
            expect_string(field(fields, "data", "inlineData")?, "inlineData.data").map(drop)
        }
        "fileData" => {
            let fields = expect_object(data, "fileData")?;
            // Gemini also reads `file_uri`: a second URI beside the checked one must not
            // pass unseen, so only these two fields are taken.
            if let Some(unknown) = fields
                .keys()
                .find(|k| !["mimeType", "fileUri"].contains(&k.as_str()))
            {
                return Err(Invalid::new(format!("fileData: unknown field `{unknown}`")));
            }
            if let Some(mime) = fields.get("mimeType") {
                expect_string(mime, "fileData.mimeType")?;
            }
            let uri = expect_string(field(fields, "fileUri", "fileData")?, "fileData.fileUri")?;
            FileUri::parse(uri).map(drop)
        }
        "functionCall" | "functionResponse" => {
            let fields = expect_object(data, kind)?;
            expect_string(field(fields, "name", kind)?, &format!("{kind}.name"))?;
            nested_file_uris(data, kind)
        }
        _ => {
            expect_object(data, kind)?;
            nested_file_uris(data, kind)
        }
    }
}

/// Parts can nest parts (a function response may carry files), so every file URI inside,
/// in either of the spellings Gemini's JSON accepts, meets the same rule as `fileData`'s.
fn nested_file_uris(value: &Value, kind: &str) -> Result<(), Invalid> {
    fn walk(value: &Value) -> Result<(), Invalid> {
        match value {
            Value::Object(object) => object.iter().try_for_each(|(key, inner)| {
                if key == "fileUri" || key == "file_uri" {
                    FileUri::parse(expect_string(inner, key)?).map(drop)
                } else {
                    walk(inner)
                }
            }),
            Value::Array(items) => items.iter().try_for_each(walk),
            _ => Ok(()),
        }
    }
    walk(value).map_err(|e| e.at(kind))
}

fn field<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    within: &str,
) -> Result<&'a Value, Invalid> {
    object
        .get(name)
        .ok_or_else(|| Invalid::new(format!("{within}.{name} is required")))
}

fn expect_string<'a>(value: &'a Value, name: &str) -> Result<&'a str, Invalid> {
    value
        .as_str()
        .ok_or_else(|| Invalid::new(format!("{name} must be a string")))
}

fn expect_object<'a>(value: &'a Value, name: &str) -> Result<&'a Map<String, Value>, Invalid> {
    value
        .as_object()
        .ok_or_else(|| Invalid::new(format!("{name} must be an object")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Result<Contents, Invalid> {
        Contents::parse(value)
    }

    #[test]
    fn file_uris_nested_in_other_parts_meet_the_same_rule() {
        let with_response = |response: Value| json!([{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}, "parts": [response]}}]}]);
        for outside in [
            json!({"fileData": {"mimeType": "image/png", "fileUri": "https://evil.example/x.png"}}),
            json!({"file_data": {"file_uri": "gs://bucket/secret.pdf"}}),
            json!({"fileData": {"fileUri": 7}}),
        ] {
            assert!(parse(with_response(outside.clone())).is_err(), "{outside}");
        }
        let ours = json!({"fileData": {"fileUri": "files/abc123def456"}});
        assert!(parse(with_response(ours)).is_ok());
    }

    #[test]
    fn a_multimodal_turn_from_the_original_readme_parses() {
        let contents = json!([{
            "role": "user",
            "parts": [
                {"text": "Analyze this image and describe what you see in detail."},
                {"fileData": {
                    "mimeType": "image/png",
                    "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc123def456"
                }}
            ]
        }]);
        assert_eq!(parse(contents.clone()).unwrap().into_value(), contents);
    }

    #[test]
    fn a_plain_string_is_one_user_text_part() {
        let parsed = parse(json!(["Hello world"])).unwrap().into_value();
        assert_eq!(
            parsed,
            json!([{"role": "user", "parts": [{"text": "Hello world"}]}])
        );
    }

    #[test]
    fn function_calls_and_responses_parse() {
        let contents = json!([
            {"role": "model", "parts": [{"functionCall": {"name": "getWeatherInfo", "args": {"location": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "getWeatherInfo", "response": {"temp": 20}}}]},
        ]);
        assert!(parse(contents).is_ok());
    }

    #[test]
    fn missing_or_empty_contents_are_refused() {
        for bad in [json!(null), json!({}), json!([]), json!("text")] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unknown_role_is_refused() {
        let err = parse(json!([{"role": "system", "parts": [{"text": "x"}]}])).unwrap_err();
        assert_eq!(err.0, "contents[0]: role must be \"user\" or \"model\"");
    }

    #[test]
    fn parts_must_be_a_non_empty_list() {
        for bad in [
            json!([{"role": "user"}]),
            json!([{"parts": []}]),
            json!([{"parts": "x"}]),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_part_of_unknown_kind_is_refused() {
        let err = parse(json!([{"parts": [{"image": "x"}]}])).unwrap_err();
        assert!(
            err.0.starts_with("contents[0]: parts[0]: must have one of"),
            "{err}"
        );
    }

    #[test]
    fn a_part_with_two_kinds_is_refused() {
        let err = parse(json!([{"parts": [{"text": "x", "inlineData": {}}]}])).unwrap_err();
        assert!(err.0.ends_with("exactly one kind of data"), "{err}");
    }

    #[test]
    fn a_part_with_an_unknown_field_is_refused() {
        let err = parse(json!([{"parts": [{"text": "x", "colour": "red"}]}])).unwrap_err();
        assert!(err.0.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn text_must_be_a_string() {
        assert!(parse(json!([{"parts": [{"text": 5}]}])).is_err());
    }

    #[test]
    fn file_data_must_point_to_gemini_files() {
        let err = parse(json!([{"parts": [{"fileData": {"fileUri": "http://10.0.0.1/x"}}]}]))
            .unwrap_err();
        assert!(err.0.contains("fileUri must name a Gemini file"), "{err}");
    }

    #[test]
    fn inline_data_needs_mime_type_and_data() {
        assert!(parse(json!([{"parts": [{"inlineData": {"mimeType": "image/png"}}]}])).is_err());
        assert!(parse(
            json!([{"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}])
        )
        .is_ok());
    }
}
