//! The four wire protocols, server side: reading a request (model, the one forced tool, the
//! first user prompt, the repair turns) with the checks a real API would make, and writing
//! responses, tool calls and errors in each vendor's shape, one file per vendor. Pure: no IO; the
//! server adds the clock-free plumbing.
//!
//! The checks are deliberately strict where the real APIs are strict (forced tool, call/result
//! pairing, Gemini's thought signatures and schema subset, Ollama's streaming default), because
//! the point of the mock is to catch client bugs before they cost tokens.

use serde_json::{Map, Value};

use super::faults::{self, id_chars, IdAlphabet, Quirk};

mod anthropic;
mod errors;
mod gemini;
mod ollama;
mod openai;

use anthropic::*;
use gemini::*;
use ollama::*;
use openai::*;

pub(crate) use errors::{context_message, error, fault_message, ErrorContext};

/// Which vendor API a path speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Anthropic,
    OpenAi,
    Gemini,
    Ollama,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Anthropic => "anthropic",
            Protocol::OpenAi => "openai",
            Protocol::Gemini => "gemini",
            Protocol::Ollama => "ollama",
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Stats,
    /// A model endpoint; Gemini carries the model in the path.
    Model {
        protocol: Protocol,
        path_model: Option<String>,
    },
    /// No such endpoint; answered in the style of the protocol the path resembles.
    NotFound(Protocol),
}

pub(crate) const STATS_PATH: &str = "/__mock/stats";

/// Maps a path to a route. Paths are the vendors' real ones, with and without the version
/// prefix where OpenAI-compatible and Gemini clients commonly put it in the base URL.
pub(crate) fn route(path: &str) -> Route {
    match path {
        STATS_PATH => return Route::Stats,
        "/v1/messages" => {
            return Route::Model {
                protocol: Protocol::Anthropic,
                path_model: None,
            }
        }
        "/v1/chat/completions" | "/chat/completions" => {
            return Route::Model {
                protocol: Protocol::OpenAi,
                path_model: None,
            }
        }
        "/api/chat" => {
            return Route::Model {
                protocol: Protocol::Ollama,
                path_model: None,
            }
        }
        _ => {}
    }
    for prefix in ["/v1beta/models/", "/models/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if let Some(model) = rest.strip_suffix(":generateContent") {
                if !model.is_empty() && !model.contains('/') && !model.contains(':') {
                    return Route::Model {
                        protocol: Protocol::Gemini,
                        path_model: Some(model.to_string()),
                    };
                }
            }
            return Route::NotFound(Protocol::Gemini);
        }
    }
    if path.starts_with("/v1beta/") {
        Route::NotFound(Protocol::Gemini)
    } else if path.starts_with("/v1/messages") || path.starts_with("/v1/complete") {
        Route::NotFound(Protocol::Anthropic)
    } else if path.starts_with("/api/") {
        Route::NotFound(Protocol::Ollama)
    } else {
        Route::NotFound(Protocol::OpenAi)
    }
}

/// A request the mock will answer: everything the answer depends on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Incoming {
    pub model: String,
    pub tool_name: String,
    pub user_text: String,
    /// Assistant (model) turns after the first user message: earlier refused answers.
    pub repair_turns: usize,
    /// The request's output cap, which a truncated answer reports as spent.
    pub max_output_tokens: Option<u64>,
    /// Whether the model must call the tool; a request whose `tool_choice` the server does not
    /// read (`Quirk::StringToolChoice`) leaves it optional, and the model answers prose.
    pub tool_required: bool,
}

/// Facts from outside the body.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestMeta {
    pub anthropic_version: Option<String>,
    pub path_model: Option<String>,
}

/// The classes of error the mock answers with, mapped to each vendor's status and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    InvalidRequest,
    NotFound,
    MethodNotAllowed,
    TooLarge,
    RequestTimeout,
    RateLimit,
    ServerError,
    Overloaded,
    /// The request is over the model's context window.
    ContextLength,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rejection {
    pub kind: ErrorKind,
    pub message: String,
}

fn bad(message: impl Into<String>) -> Rejection {
    Rejection {
        kind: ErrorKind::InvalidRequest,
        message: message.into(),
    }
}

/// A response to send: status, extra headers (content-type is added by the server), body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

/// Reads and checks a model request, as a server with `quirks` reads it.
pub(crate) fn parse(
    protocol: Protocol,
    body: &Value,
    meta: &RequestMeta,
    quirks: &[Quirk],
) -> Result<Incoming, Rejection> {
    let object = body
        .as_object()
        .ok_or_else(|| bad("the request body must be a JSON object"))?;
    match protocol {
        Protocol::Anthropic => parse_anthropic(object, meta),
        Protocol::OpenAi => parse_openai(object, quirks),
        Protocol::Gemini => parse_gemini(object, meta),
        Protocol::Ollama => parse_ollama(object),
    }
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    message: &str,
) -> Result<&'a str, Rejection> {
    object
        .get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| bad(message))
}

fn non_empty_array<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    message: &str,
) -> Result<&'a Vec<Value>, Rejection> {
    object
        .get(key)
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| bad(message))
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}

fn found(value: Option<&Value>) -> String {
    value.map_or("nothing".to_string(), compact)
}

/// The tool list must hold exactly one tool: the engine offers one forced tool per request.
fn exactly_one_tool<'a>(
    object: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Map<String, Value>, Rejection> {
    let tools = object.get(key).and_then(Value::as_array);
    match tools.map(Vec::as_slice) {
        Some([tool]) => tool
            .as_object()
            .ok_or_else(|| bad(format!("{key}.0: expected an object"))),
        Some(many) => Err(bad(format!(
            "{key}: the request must offer exactly one tool (periodize forces one tool per request), found {}",
            many.len()
        ))),
        None => Err(bad(format!(
            "{key}: the request must offer exactly one tool (periodize forces one tool per request), found none"
        ))),
    }
}

/// Text of a message `content`: a string, or the concatenated `text` of its text blocks/parts.
fn content_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(text) => Some(text.clone()),
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|block| block.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

fn role(message: &Value) -> Option<&str> {
    message.get("role").and_then(Value::as_str)
}

fn first_user_text(messages: &[Value], path: &str) -> Result<String, Rejection> {
    let (index, first) = messages
        .iter()
        .enumerate()
        .find(|(_, message)| role(message) == Some("user"))
        .ok_or_else(|| bad(format!("{path}: there is no user message")))?;
    content_text(first.get("content")).ok_or_else(|| {
        bad(format!(
            "{path}.{index}.content: the first user message has no text"
        ))
    })
}

fn max_tokens(object: &Map<String, Value>, keys: &[&str]) -> Option<u64> {
    keys.iter()
        .find_map(|key| object.get(*key).and_then(Value::as_u64))
}

// ---------------------------------------------------------------------------------------------
// Responses

/// Tool-call arguments as the mock sends them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Args {
    /// A JSON object: a string on OpenAI's wire, an object on the others.
    Object(Value),
    /// Raw text: as-is on OpenAI's wire, a JSON *string* where the protocol wants an object,
    /// which decoders must treat as malformed.
    Text(String),
}

impl Args {
    fn text(&self) -> String {
        match self {
            Args::Object(value) => value.to_string(),
            Args::Text(text) => text.clone(),
        }
    }

    /// The value in protocols whose arguments are objects.
    fn as_object_value(&self) -> Value {
        match self {
            Args::Object(value) => value.clone(),
            Args::Text(text) => Value::String(text.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub name: String,
    pub args: Args,
}

/// What the model "said".
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Calls { calls: Vec<Call>, truncated: bool },
    Text(String),
}

impl Answer {
    /// The generated text the output tokens are counted from.
    pub fn output_text_chars(&self) -> usize {
        match self {
            Answer::Calls { calls, .. } => calls
                .iter()
                .map(|call| call.args.text().chars().count())
                .sum(),
            Answer::Text(text) => text.chars().count(),
        }
    }
}

/// Per-response facts the envelope needs.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub model: String,
    pub seed: u64,
    pub seq: u64,
    /// Every prompt token, cached or not, and of those the cached and newly cached ones.
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    /// Unix seconds and an RFC 3339 time, from the server's clock.
    pub unix_time: u64,
    pub rfc3339: String,
}

impl Envelope {
    fn id(&self, salt: &str, alphabet: IdAlphabet, len: usize) -> String {
        id_chars(self.seed, self.seq, salt, alphabet, len)
    }
}

/// A successful (200) response carrying `answer`.
pub(crate) fn success(protocol: Protocol, envelope: &Envelope, answer: &Answer) -> Reply {
    match protocol {
        Protocol::Anthropic => anthropic_success(envelope, answer),
        Protocol::OpenAi => openai_success(envelope, answer),
        Protocol::Gemini => gemini_success(envelope, answer),
        Protocol::Ollama => ollama_success(envelope, answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes() {
        let model = |protocol, path_model: Option<&str>| Route::Model {
            protocol,
            path_model: path_model.map(str::to_string),
        };
        assert_eq!(route("/v1/messages"), model(Protocol::Anthropic, None));
        assert_eq!(route("/v1/chat/completions"), model(Protocol::OpenAi, None));
        assert_eq!(route("/chat/completions"), model(Protocol::OpenAi, None));
        assert_eq!(route("/api/chat"), model(Protocol::Ollama, None));
        assert_eq!(
            route("/v1beta/models/gemini-2.5-flash:generateContent"),
            model(Protocol::Gemini, Some("gemini-2.5-flash"))
        );
        assert_eq!(
            route("/models/g:generateContent"),
            model(Protocol::Gemini, Some("g"))
        );
        assert_eq!(
            route("/v1beta/models/g:streamGenerateContent"),
            Route::NotFound(Protocol::Gemini)
        );
        assert_eq!(
            route("/v1beta/models/:generateContent"),
            Route::NotFound(Protocol::Gemini)
        );
        assert_eq!(route("/api/generate"), Route::NotFound(Protocol::Ollama));
        assert_eq!(
            route("/v1/messages/batches"),
            Route::NotFound(Protocol::Anthropic)
        );
        assert_eq!(route("/"), Route::NotFound(Protocol::OpenAi));
        assert_eq!(route(STATS_PATH), Route::Stats);
    }

    #[test]
    fn gemini_schema_subset() {
        let ok = json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "STRING", "enum": ["x"]}}}, "required": ["a"]});
        check_gemini_schema(&ok, "p", 0).unwrap();
        let extra = json!({"type": "object", "properties": {"a": {"type": "number", "exclusiveMinimum": 0}}});
        let err = check_gemini_schema(&extra, "p", 0).unwrap_err();
        assert!(
            err.message
                .contains("Unknown name \"exclusiveMinimum\" at 'p.properties[a]'"),
            "{}",
            err.message
        );
        let list = json!({"type": ["number", "null"]});
        assert!(check_gemini_schema(&list, "p", 0)
            .unwrap_err()
            .message
            .contains("not repeating"));
        let mut deep = json!({"type": "string"});
        for _ in 0..40 {
            deep = json!({"type": "array", "items": deep});
        }
        assert!(check_gemini_schema(&deep, "p", 0)
            .unwrap_err()
            .message
            .contains("too deeply"));
    }

    #[test]
    fn anthropic_pairing() {
        let user = json!({"role": "user", "content": "hi"});
        let call = json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}]});
        let result = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "bad", "is_error": true}, {"type": "text", "text": "again"}]});
        assert_eq!(
            check_anthropic_turns(&[user.clone(), call.clone(), result.clone()]),
            Ok(1)
        );
        let err = check_anthropic_turns(&[user.clone(), call.clone()]).unwrap_err();
        assert!(
            err.message.contains("without `tool_result`"),
            "{}",
            err.message
        );
        let err = check_anthropic_turns(&[user.clone(), result.clone()]).unwrap_err();
        assert!(
            err.message.contains("unexpected `tool_use_id`"),
            "{}",
            err.message
        );
        let late = json!({"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "tool_result", "tool_use_id": "toolu_1", "content": "bad"}]});
        assert!(check_anthropic_turns(&[user, call, late])
            .unwrap_err()
            .message
            .contains("before any other"));
    }

    #[test]
    fn openai_pairing() {
        let user = json!({"role": "user", "content": "hi"});
        let call = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "t", "arguments": "{}"}}]});
        let tool = json!({"role": "tool", "tool_call_id": "call_1", "content": "bad"});
        let text = json!({"role": "assistant", "content": "no"});
        assert_eq!(
            check_openai_turns(&[user.clone(), call.clone(), tool.clone(), text, user.clone()]),
            Ok(2)
        );
        assert!(
            check_openai_turns(&[user.clone(), call.clone(), user.clone()])
                .unwrap_err()
                .message
                .contains("call_1")
        );
        assert!(check_openai_turns(&[user.clone(), call]).is_err());
        assert!(check_openai_turns(&[user, tool])
            .unwrap_err()
            .message
            .contains("preceeding"));
    }

    #[test]
    fn gemini_pairing_and_signatures() {
        let user = json!({"role": "user", "parts": [{"text": "hi"}]});
        let signed = json!({"role": "model", "parts": [{"functionCall": {"name": "t", "args": {}}, "thoughtSignature": "sig"}, {"functionCall": {"name": "t", "args": {}}}]});
        let two = json!({"role": "user", "parts": [{"functionResponse": {"name": "t", "response": {"error": "x"}}}, {"functionResponse": {"name": "t", "response": {"error": "x"}}}]});
        let one = json!({"role": "user", "parts": [{"functionResponse": {"name": "t", "response": {"error": "x"}}}]});
        assert_eq!(
            check_gemini_turns(&[user.clone(), signed.clone(), two]),
            Ok(1)
        );
        assert!(
            check_gemini_turns(&[user.clone(), signed.clone(), one.clone()])
                .unwrap_err()
                .message
                .contains("number of function response parts")
        );
        let unsigned =
            json!({"role": "model", "parts": [{"functionCall": {"name": "t", "args": {}}}]});
        assert!(check_gemini_turns(&[user.clone(), unsigned, one])
            .unwrap_err()
            .message
            .contains("thought_signature"));
        let system = json!({"role": "system", "parts": [{"text": "x"}]});
        assert!(check_gemini_turns(&[system, user])
            .unwrap_err()
            .message
            .contains("valid role"));
    }
}
