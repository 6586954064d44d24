//! The bodies of `/converse` and `/tokens`, split into what Gemini receives and what stays
//! here (`model`, `key`). Field names are Gemini's `GenerateContentRequest`
//! (<https://ai.google.dev/api/generate-content>), as the original README sends them.

use serde_json::{Map, Value};

use super::contents::{content, Roles};
use super::{Contents, GeminiKey, Invalid, ModelName};

/// Fields forwarded to Gemini as they are, beside `contents`.
const FORWARDED: &[&str] = &[
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
];

/// A checked `/converse` body.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// The `GenerateContentRequest` sent to Gemini: no `model`, no `key`.
    pub body: Value,
    pub model: Option<ModelName>,
    pub key: Option<GeminiKey>,
}

impl GenerateRequest {
    pub fn parse(value: Value) -> Result<Self, Invalid> {
        let mut object = into_object(value)?;
        let (model, key) = take_model_and_key(&mut object)?;
        if let Some(unknown) = object
            .keys()
            .find(|k| *k != "contents" && !FORWARDED.contains(&k.as_str()))
        {
            return Err(Invalid::new(format!(
                "unknown field `{unknown}`; expected contents, {}, model or key",
                FORWARDED.join(", ")
            )));
        }
        // A null optional field means "not given", as it did in the original.
        object.retain(|_, v| !v.is_null());
        let contents = object
            .remove("contents")
            .ok_or_else(|| Invalid::new("contents is required"))?;
        let mut body = Map::new();
        body.insert("contents".into(), Contents::parse(contents)?.into_value());
        for (name, value) in object {
            let value = check_forwarded(&name, value).map_err(|e| e.at(&name))?;
            body.insert(name, value);
        }
        Ok(Self {
            body: Value::Object(body),
            model,
            key,
        })
    }
}

/// A checked `/tokens` body: `contents`, and optionally `model` and `key`.
#[derive(Debug, Clone)]
pub struct CountTokensRequest {
    /// The `CountTokensRequest` sent to Gemini.
    pub body: Value,
    pub model: Option<ModelName>,
    pub key: Option<GeminiKey>,
}

impl CountTokensRequest {
    pub fn parse(value: Value) -> Result<Self, Invalid> {
        let mut object = into_object(value)?;
        let (model, key) = take_model_and_key(&mut object)?;
        if let Some(unknown) = object.keys().find(|k| *k != "contents") {
            return Err(Invalid::new(format!(
                "unknown field `{unknown}`; expected contents, model or key"
            )));
        }
        let contents = object
            .remove("contents")
            .filter(|v| !v.is_null())
            .ok_or_else(|| Invalid::new("contents is required"))?;
        let mut body = Map::new();
        body.insert("contents".into(), Contents::parse(contents)?.into_value());
        Ok(Self {
            body: Value::Object(body),
            model,
            key,
        })
    }
}

fn into_object(value: Value) -> Result<Map<String, Value>, Invalid> {
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(Invalid::new("the body must be a JSON object")),
    }
}

fn take_model_and_key(
    object: &mut Map<String, Value>,
) -> Result<(Option<ModelName>, Option<GeminiKey>), Invalid> {
    let model = match object.remove("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(ModelName::parse(&raw).map_err(|e| e.at("model"))?),
        Some(_) => return Err(Invalid::new("model must be a string")),
    };
    let key = match object.remove("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(GeminiKey::parse(&raw)?),
        Some(_) => return Err(Invalid::new("key must be a string")),
    };
    Ok((model, key))
}

fn check_forwarded(name: &str, value: Value) -> Result<Value, Invalid> {
    match name {
        "systemInstruction" => content(value, Roles::System),
        "tools" | "safetySettings" => match &value {
            Value::Array(items) if items.iter().all(Value::is_object) => Ok(value),
            _ => Err(Invalid::new("must be a list of objects")),
        },
        "toolConfig" | "generationConfig" => match value {
            Value::Object(_) => Ok(value),
            _ => Err(Invalid::new("must be an object")),
        },
        "cachedContent" => match value.as_str() {
            Some(name) if is_cached_content_name(name) => Ok(value),
            _ => Err(Invalid::new("must be a name such as cachedContents/<id>")),
        },
        _ => Err(Invalid::new("is not forwarded")),
    }
}

/// `cachedContents/<id>`, as Gemini names cached contents.
pub fn is_cached_content_name(name: &str) -> bool {
    name.strip_prefix("cachedContents/").is_some_and(|id| {
        !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn model_and_key_are_taken_out_of_what_gemini_receives() {
        let request = GenerateRequest::parse(json!({
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"temperature": 0.7},
            "model": "models/gemini-2.0-flash-exp",
            "key": "optional-google-ai-api-key",
        }))
        .unwrap();
        assert_eq!(
            request.model.unwrap().as_str(),
            "models/gemini-2.0-flash-exp"
        );
        assert_eq!(request.key.unwrap().expose(), "optional-google-ai-api-key");
        assert_eq!(
            request.body,
            json!({
                "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                "generationConfig": {"temperature": 0.7},
            })
        );
    }

    #[test]
    fn contents_are_required() {
        let err = GenerateRequest::parse(json!({"generationConfig": {}})).unwrap_err();
        assert_eq!(err.0, "contents is required");
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let err = GenerateRequest::parse(json!({"contents": ["x"], "prompt": "x"})).unwrap_err();
        assert!(err.0.starts_with("unknown field `prompt`"), "{err}");
    }

    #[test]
    fn a_bad_model_is_refused_before_anything_else() {
        let err =
            GenerateRequest::parse(json!({"contents": ["x"], "model": "../files"})).unwrap_err();
        assert!(err.0.starts_with("model:"), "{err}");
    }

    #[test]
    fn null_optional_fields_are_dropped() {
        let request =
            GenerateRequest::parse(json!({"contents": ["x"], "key": null, "tools": null})).unwrap();
        assert!(request.key.is_none());
        assert!(request.body.get("tools").is_none());
    }

    #[test]
    fn forwarded_fields_have_their_shapes() {
        for bad in [
            json!({"contents": ["x"], "tools": {"functionDeclarations": []}}),
            json!({"contents": ["x"], "generationConfig": []}),
            json!({"contents": ["x"], "cachedContent": "../x"}),
            json!({"contents": ["x"], "systemInstruction": {"parts": []}}),
        ] {
            assert!(GenerateRequest::parse(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cached_content_name_is_forwarded() {
        let request = GenerateRequest::parse(
            json!({"contents": ["x"], "cachedContent": "cachedContents/abc-1"}),
        )
        .unwrap();
        assert_eq!(request.body["cachedContent"], "cachedContents/abc-1");
    }

    #[test]
    fn token_counting_takes_only_contents_model_and_key() {
        let request = CountTokensRequest::parse(json!({
            "contents": ["Hello world", "How are you today?"],
            "model": "models/gemini-1.5-pro",
        }))
        .unwrap();
        assert_eq!(request.body["contents"].as_array().unwrap().len(), 2);
        assert!(CountTokensRequest::parse(json!({"contents": ["x"], "tools": []})).is_err());
        assert!(CountTokensRequest::parse(json!({})).is_err());
    }
}
