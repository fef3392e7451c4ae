//! Discord's own OpenAPI description of its REST API (`spec/openapi.json`, MIT, from
//! discord/discord-api-spec), used by the local Discord to check every request the bot sends
//! and every answer it gives: a request the description rejects is a violation, and so is an
//! answer of the local Discord that real Discord would not give in that shape.
//!
//! Why a schema check and not hand-written rules: the hand-written checks of the local Discord
//! only know what its authors thought of; the description knows every field, type and limit
//! Discord publishes. Two things it does not encode are handled here, as Discord documents them
//! (see `spec/README.md`): bitsets (`permissions`, `allow`, `deny`) travel as strings of digits
//! though the schema says integer, and a 204 answer has no body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// The description, as published.
const SPEC: &str = include_str!("../spec/openapi.json");

/// One operation of the description: its method and path template (`/channels/{channel_id}`).
#[derive(Debug)]
struct Operation {
    method: String,
    segments: Vec<String>,
    /// JSON pointer to the operation in the document.
    pointer: String,
}

/// The description with its operations indexed and its validators compiled on first use.
#[derive(Debug)]
pub struct Spec {
    document: Value,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// The one description, parsed once per process.
pub fn spec() -> &'static Spec {
    static SPEC_ONCE: OnceLock<Spec> = OnceLock::new();
    SPEC_ONCE.get_or_init(Spec::load)
}

fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Bitsets go as strings of digits (Discord's documentation), where the request schemas say
/// integer: the copy of a request that is checked has them as numbers.
fn numbers_for_bitsets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if matches!(key.as_str(), "permissions" | "allow" | "deny" | "default_member_permissions")
                    && let Some(n) = v.as_str().and_then(|s| s.parse::<u64>().ok())
                {
                    *v = Value::from(n);
                } else {
                    numbers_for_bitsets(v);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(numbers_for_bitsets),
        _ => {}
    }
}

impl Spec {
    fn load() -> Spec {
        let document: Value = serde_json::from_str(SPEC).expect("spec/openapi.json is JSON");
        let mut operations = Vec::new();
        if let Some(paths) = document["paths"].as_object() {
            for (path, item) in paths {
                let Some(item) = item.as_object() else { continue };
                for method in item.keys().filter(|m| *m != "parameters") {
                    operations.push(Operation {
                        method: method.to_uppercase(),
                        segments: path.trim_start_matches('/').split('/').map(str::to_owned).collect(),
                        pointer: format!("/paths/{}/{method}", escape_pointer(path)),
                    });
                }
            }
        }
        Spec { document, operations, validators: Mutex::new(HashMap::new()) }
    }

    /// The operation for a request to `/api/v10/` + `path` (segments), literal segments
    /// preferred over parameters (`/users/@me` over `/users/{user_id}`).
    fn operation(&self, method: &str, path: &[&str]) -> Option<&Operation> {
        self.operations
            .iter()
            .filter(|o| o.method == method && o.segments.len() == path.len())
            .filter(|o| o.segments.iter().zip(path).all(|(t, s)| t.starts_with('{') || t == s))
            .max_by_key(|o| o.segments.iter().filter(|t| !t.starts_with('{')).count())
    }

    fn validator(&self, pointer: &str) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = cache.get(pointer) {
            return Ok(Arc::clone(v));
        }
        // The whole document is the schema's resource, so its `#/components/...` references
        // resolve; the `$ref` at its root picks the schema to check against.
        let mut root = self.document.clone();
        // A fragment is a URI: the braces of path templates are percent-encoded.
        let fragment = pointer.replace('%', "%25").replace('{', "%7B").replace('}', "%7D");
        root["$ref"] = Value::String(format!("#{fragment}"));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map_err(|e| format!("the schema at {pointer} does not compile: {e}"))?;
        let validator = Arc::new(validator);
        cache.insert(pointer.to_owned(), Arc::clone(&validator));
        Ok(validator)
    }

    fn check(&self, pointer: &str, instance: &Value) -> Result<(), String> {
        let validator = self.validator(pointer)?;
        let errors: Vec<String> =
            validator.iter_errors(instance).take(5).map(|e| format!("{} at '{}'", e, e.instance_path())).collect();
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }

    /// Checks a request the bot sent: the operation exists, its required query parameters are
    /// there, and its JSON body is what the operation's request schema allows.
    ///
    /// # Errors
    /// What Discord's description says is wrong with it.
    pub fn check_request(&self, method: &str, path: &[&str], query: &str, body: &Value) -> Result<(), String> {
        let Some(op) = self.operation(method, path) else {
            return Err(format!("{method} /{} is not in Discord's API description", path.join("/")));
        };
        let operation = self.document.pointer(&op.pointer).unwrap_or(&Value::Null);
        let given: Vec<&str> = query.split('&').filter_map(|kv| kv.split('=').next()).collect();
        for p in operation["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "query" && p["required"] == true {
                let name = p["name"].as_str().unwrap_or_default();
                if !given.contains(&name) {
                    return Err(format!(
                        "{method} {}: the query parameter '{name}' is required",
                        op.segments.join("/")
                    ));
                }
            }
        }
        let request = &operation["requestBody"];
        if request.is_null() {
            return Ok(());
        }
        if body.is_null() {
            return if request["required"] == true {
                Err(format!("{method} /{}: a body is required", op.segments.join("/")))
            } else {
                Ok(())
            };
        }
        let schema = format!("{}/requestBody/content/application~1json/schema", op.pointer);
        if self.document.pointer(&schema).is_none() {
            return Err(format!("{method} /{}: Discord takes no JSON body here", op.segments.join("/")));
        }
        // Requests may carry bitsets as strings; answers always do, and their schemas say so.
        let mut body = body.clone();
        numbers_for_bitsets(&mut body);
        self.check(&schema, &body).map_err(|e| format!("{method} /{}: {e}", op.segments.join("/")))
    }

    /// Checks an answer of the local Discord against the operation's response schema for its
    /// status (exact, else `2XX`-style ranges are not used by Discord's description).
    ///
    /// # Errors
    /// How the answer differs from what Discord describes.
    pub fn check_response(&self, method: &str, path: &[&str], status: u16, body: &Value) -> Result<(), String> {
        let Some(op) = self.operation(method, path) else { return Ok(()) };
        let status = status.to_string();
        let schema = format!("{}/responses/{status}/content/application~1json/schema", op.pointer);
        if self.document.pointer(&schema).is_none() {
            return Ok(());
        }
        self.check(&schema, body).map_err(|e| format!("answer to {method} /{}: {e}", op.segments.join("/")))
    }

    /// Checks a value against a named schema of the description (`MessageResponse`).
    ///
    /// # Errors
    /// How the value differs from the schema.
    pub fn check_schema(&self, name: &str, value: &Value) -> Result<(), String> {
        self.check(&format!("/components/schemas/{name}"), value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_message_the_description_allows_passes_and_a_wrong_one_is_named() {
        let s = spec();
        assert!(s.check_request("POST", &["channels", "1", "messages"], "", &json!({"content": "hi"})).is_ok());
        let wrong = s.check_request("POST", &["channels", "1", "messages"], "", &json!({"content": 5})).unwrap_err();
        assert!(wrong.contains("content"), "{wrong}");
        let route = s.check_request("POST", &["channels", "1", "dance"], "", &Value::Null).unwrap_err();
        assert!(route.contains("not in Discord's API"), "{route}");
    }

    #[test]
    fn bitsets_as_strings_are_what_discord_documents() {
        let body = json!({"name": "x", "type": 0, "permission_overwrites": [{"id": "1", "type": 0, "allow": "1024", "deny": "0"}]});
        spec().check_request("POST", &["guilds", "1", "channels"], "", &body).unwrap();
    }

    #[test]
    fn required_query_parameters_are_checked() {
        let path = ["guilds", "1", "members", "search"];
        assert!(spec().check_request("GET", &path, "query=ana&limit=10", &Value::Null).is_ok());
        assert!(spec().check_request("GET", &path, "limit=10", &Value::Null).unwrap_err().contains("query"));
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let op = spec().operation("GET", &["users", "@me"]).unwrap();
        assert_eq!(op.segments, ["users", "@me"]);
    }
}
