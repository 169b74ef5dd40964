//! The four wire protocols, server side: reading a request (model, the one forced tool, the
//! first user prompt, the repair turns) with the checks a real API would make, and writing
//! responses, tool calls and errors in each vendor's shape (see guides/llm_protocols.md and the
//! recorded fixtures in specs/). Pure: no IO; the server adds the clock-free plumbing.
//!
//! The checks are deliberately strict where the real APIs are strict (forced tool, call/result
//! pairing, Gemini's thought signatures and schema subset, Ollama's streaming default), because
//! the point of the mock is to catch client bugs before they cost tokens.

use serde_json::{json, Map, Value};

use super::faults::{id_chars, IdAlphabet};

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

/// Reads and checks a model request.
pub(crate) fn parse(
    protocol: Protocol,
    body: &Value,
    meta: &RequestMeta,
) -> Result<Incoming, Rejection> {
    let object = body
        .as_object()
        .ok_or_else(|| bad("the request body must be a JSON object"))?;
    match protocol {
        Protocol::Anthropic => parse_anthropic(object, meta),
        Protocol::OpenAi => parse_openai(object),
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
// Anthropic Messages

fn parse_anthropic(object: &Map<String, Value>, meta: &RequestMeta) -> Result<Incoming, Rejection> {
    if meta.anthropic_version.as_deref().is_none_or(str::is_empty) {
        return Err(bad("anthropic-version: header is required"));
    }
    let model = required_str(object, "model", "model: Field required")?;
    let max_output_tokens = object.get("max_tokens").and_then(Value::as_u64);
    if max_output_tokens.is_none() {
        return Err(bad("max_tokens: Field required"));
    }
    if object.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(bad(
            "stream: the mock answers only non-streaming requests (\"stream\": false or absent)",
        ));
    }
    let tool = exactly_one_tool(object, "tools")?;
    let name = required_str(tool, "name", "tools.0.name: Field required")?;
    let schema_is_object = tool
        .get("input_schema")
        .and_then(|schema| schema.get("type"))
        .and_then(Value::as_str)
        == Some("object");
    if !schema_is_object {
        return Err(bad(
            "tools.0.input_schema: Field required (a JSON Schema with \"type\": \"object\")",
        ));
    }
    let choice = object.get("tool_choice");
    let forced = choice.and_then(|c| c.get("type")).and_then(Value::as_str) == Some("tool")
        && choice.and_then(|c| c.get("name")).and_then(Value::as_str) == Some(name);
    if !forced {
        return Err(bad(format!(
            "tool_choice must force the offered tool: {{\"type\": \"tool\", \"name\": \"{name}\"}}, found {}",
            found(choice)
        )));
    }
    if let Some(thinking) = object.get("thinking") {
        if thinking.get("type").and_then(Value::as_str) != Some("disabled") {
            return Err(bad(
                "Thinking may not be enabled when tool_choice forces tool use.",
            ));
        }
    }
    let messages = non_empty_array(object, "messages", "messages: Field required")?;
    let repair_turns = check_anthropic_turns(messages)?;
    Ok(Incoming {
        model: model.to_string(),
        tool_name: name.to_string(),
        user_text: first_user_text(messages, "messages")?,
        repair_turns,
        max_output_tokens,
    })
}

fn blocks(message: &Value) -> &[Value] {
    message
        .get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn block_type(block: &Value) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

/// Every `tool_use` is answered by a `tool_result` in the very next (user) message, results
/// first, and every result answers a `tool_use` of the message before it: the API's 400s.
fn check_anthropic_turns(messages: &[Value]) -> Result<usize, Rejection> {
    let missing = |index: usize, ids: &[String]| {
        bad(format!(
            "messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
            ids.join(", ")
        ))
    };
    let mut pending: Vec<String> = Vec::new();
    let mut repair_turns = 0;
    for (index, message) in messages.iter().enumerate() {
        match role(message) {
            Some("user") => {
                let mut answered = Vec::new();
                let mut other_content = false;
                for (position, block) in blocks(message).iter().enumerate() {
                    if block_type(block) != Some("tool_result") {
                        other_content = true;
                        continue;
                    }
                    let id = block
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !pending.iter().any(|open| open == id) {
                        return Err(bad(format!(
                            "messages.{index}.content.{position}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        )));
                    }
                    if other_content {
                        return Err(bad(format!(
                            "messages.{index}.content.{position}: `tool_result` blocks must come before any other content in a user message"
                        )));
                    }
                    answered.push(id.to_string());
                }
                let unanswered: Vec<String> = pending
                    .iter()
                    .filter(|id| !answered.contains(id))
                    .cloned()
                    .collect();
                if !unanswered.is_empty() {
                    return Err(missing(index.saturating_sub(1), &unanswered));
                }
                pending.clear();
            }
            Some("assistant") => {
                if !pending.is_empty() {
                    return Err(missing(index.saturating_sub(1), &pending));
                }
                if index > 0 {
                    repair_turns += 1;
                }
                pending = blocks(message)
                    .iter()
                    .filter(|block| block_type(block) == Some("tool_use"))
                    .map(|block| {
                        block
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect();
            }
            other => {
                return Err(bad(format!(
                    "messages.{index}.role: Input should be 'user' or 'assistant', found {}",
                    found(other.map(Value::from).as_ref())
                )))
            }
        }
    }
    if !pending.is_empty() {
        return Err(missing(messages.len() - 1, &pending));
    }
    Ok(repair_turns)
}

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions

fn parse_openai(object: &Map<String, Value>) -> Result<Incoming, Rejection> {
    let model = required_str(object, "model", "you must provide a model parameter")?;
    let messages = non_empty_array(object, "messages", "[] is too short - 'messages'")?;
    if object.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(bad(
            "stream: the mock answers only non-streaming requests (\"stream\": false or absent)",
        ));
    }
    let tool = exactly_one_tool(object, "tools")?;
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return Err(bad(format!(
            "tools[0].type: expected 'function', found {}",
            found(tool.get("type"))
        )));
    }
    let name = tool
        .get("function")
        .and_then(|function| function.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| bad("Missing required parameter: 'tools[0].function.name'."))?;
    let choice = object.get("tool_choice");
    let forced = choice.and_then(|c| c.get("type")).and_then(Value::as_str) == Some("function")
        && choice
            .and_then(|c| c.get("function"))
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            == Some(name);
    if !forced {
        return Err(bad(format!(
            "tool_choice must force the offered tool: {{\"type\": \"function\", \"function\": {{\"name\": \"{name}\"}}}}, found {}",
            found(choice)
        )));
    }
    let repair_turns = check_openai_turns(messages)?;
    Ok(Incoming {
        model: model.to_string(),
        tool_name: name.to_string(),
        user_text: first_user_text(messages, "messages")?,
        repair_turns,
        max_output_tokens: max_tokens(object, &["max_completion_tokens", "max_tokens"]),
    })
}

/// An assistant message with `tool_calls` is followed by one `tool` message per call id, and
/// a `tool` message answers a call of the assistant message before it: the API's 400s.
fn check_openai_turns(messages: &[Value]) -> Result<usize, Rejection> {
    let unanswered = |ids: &[String]| {
        bad(format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            ids.join(", ")
        ))
    };
    // Some(ids) right after an assistant message with calls, until a non-tool message.
    let mut open: Option<Vec<String>> = None;
    let mut seen_user = false;
    let mut repair_turns = 0;
    for (index, message) in messages.iter().enumerate() {
        let role = role(message);
        if role == Some("tool") {
            let id = message
                .get("tool_call_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match open.as_mut() {
                Some(ids) if ids.iter().any(|open_id| open_id == id) => {
                    ids.retain(|open_id| open_id != id);
                }
                _ => {
                    return Err(bad(format!(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (messages.[{index}].tool_call_id {id:?})"
                    )))
                }
            }
            continue;
        }
        if let Some(ids) = open.take() {
            if !ids.is_empty() {
                return Err(unanswered(&ids));
            }
        }
        match role {
            Some("system" | "developer") => {}
            Some("user") => seen_user = true,
            Some("assistant") => {
                if seen_user {
                    repair_turns += 1;
                }
                let ids: Vec<String> = message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .map(|calls| {
                        calls
                            .iter()
                            .map(|call| {
                                call.get("id")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !ids.is_empty() {
                    open = Some(ids);
                }
            }
            other => {
                return Err(bad(format!(
                    "Invalid value: {} for messages[{index}].role. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.",
                    found(other.map(Value::from).as_ref())
                )))
            }
        }
    }
    match open {
        Some(ids) if !ids.is_empty() => Err(unanswered(&ids)),
        _ => Ok(repair_turns),
    }
}

// ---------------------------------------------------------------------------------------------
// Gemini generateContent

/// A field by its JSON name, or by its proto name: the REST API accepts both spellings.
fn field<'a>(object: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    object.get(camel).or_else(|| object.get(snake))
}

/// Keywords of the OpenAPI-3.0 `Schema` subset that `parameters` accepts (proto `Schema`);
/// anything else is a hard 400 on the real API.
const GEMINI_SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "properties",
    "required",
    "minItems",
    "maxItems",
    "min_items",
    "max_items",
    "minProperties",
    "maxProperties",
    "min_properties",
    "max_properties",
    "minLength",
    "maxLength",
    "min_length",
    "max_length",
    "pattern",
    "minimum",
    "maximum",
    "example",
    "anyOf",
    "any_of",
    "propertyOrdering",
    "property_ordering",
    "default",
];

const GEMINI_TYPES: &[&str] = &[
    "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL",
];

/// Schema nesting deeper than this is refused: the walk is recursive and bodies are untrusted.
const MAX_SCHEMA_DEPTH: usize = 32;

fn check_gemini_schema(schema: &Value, path: &str, depth: usize) -> Result<(), Rejection> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(bad(format!("{path}: schema nested too deeply")));
    }
    let Some(object) = schema.as_object() else {
        return Err(bad(format!(
            "Invalid value at '{path}': expected a Schema object"
        )));
    };
    for (key, value) in object {
        if !GEMINI_SCHEMA_KEYS.contains(&key.as_str()) {
            return Err(bad(format!(
                "Invalid JSON payload received. Unknown name \"{key}\" at '{path}': Cannot find field."
            )));
        }
        match key.as_str() {
            "type" => {
                let known = value
                    .as_str()
                    .is_some_and(|name| GEMINI_TYPES.contains(&name.to_ascii_uppercase().as_str()));
                if value.is_array() {
                    return Err(bad(format!(
                        "Invalid JSON payload received. Proto field is not repeating, cannot start list. (at '{path}.type')"
                    )));
                }
                if !known {
                    return Err(bad(format!(
                        "Invalid value at '{path}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), {}",
                        compact(value)
                    )));
                }
            }
            "properties" => {
                let properties = value.as_object().ok_or_else(|| {
                    bad(format!(
                        "Invalid value at '{path}.properties': expected an object"
                    ))
                })?;
                for (name, property) in properties {
                    check_gemini_schema(
                        property,
                        &format!("{path}.properties[{name}]"),
                        depth + 1,
                    )?;
                }
            }
            "items" => check_gemini_schema(value, &format!("{path}.items"), depth + 1)?,
            "anyOf" | "any_of" => {
                let options = value.as_array().ok_or_else(|| {
                    bad(format!("Invalid value at '{path}.any_of': expected a list"))
                })?;
                for (index, option) in options.iter().enumerate() {
                    check_gemini_schema(option, &format!("{path}.any_of[{index}]"), depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_gemini(object: &Map<String, Value>, meta: &RequestMeta) -> Result<Incoming, Rejection> {
    let model = meta
        .path_model
        .clone()
        .ok_or_else(|| bad("the model is missing from the path"))?;
    let contents = non_empty_array(
        object,
        "contents",
        "* GenerateContentRequest.contents: contents is not specified",
    )?;
    let body = Value::Object(object.clone());
    let mut declarations: Vec<&Value> = Vec::new();
    let mut other_tools = 0;
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        for tool in tools {
            match field(tool, "functionDeclarations", "function_declarations")
                .and_then(Value::as_array)
            {
                Some(list) => declarations.extend(list),
                None => other_tools += 1,
            }
        }
    }
    if declarations.len() != 1 || other_tools > 0 {
        return Err(bad(format!(
            "tools: the request must offer exactly one function declaration (periodize forces one tool per request), found {} declaration(s) and {other_tools} other tool(s)",
            declarations.len()
        )));
    }
    let declaration = declarations[0];
    let name = declaration
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            bad("* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty.")
        })?;
    let parameters = declaration.get("parameters");
    let json_schema = field(
        declaration,
        "parametersJsonSchema",
        "parameters_json_schema",
    );
    if parameters.is_some() && json_schema.is_some() {
        return Err(bad(
            "* GenerateContentRequest.tools[0].function_declarations[0]: parameters and parameters_json_schema are mutually exclusive",
        ));
    }
    if let Some(schema) = parameters {
        check_gemini_schema(schema, "tools[0].function_declarations[0].parameters", 0)?;
    }
    let config = field(&body, "toolConfig", "tool_config")
        .and_then(|config| field(config, "functionCallingConfig", "function_calling_config"));
    let mode = config.and_then(|c| c.get("mode")).and_then(Value::as_str);
    let allowed = config
        .and_then(|c| field(c, "allowedFunctionNames", "allowed_function_names"))
        .and_then(Value::as_array);
    let forced = mode == Some("ANY")
        && allowed.is_some_and(|names| names.len() == 1 && names[0].as_str() == Some(name));
    if !forced {
        return Err(bad(format!(
            "toolConfig.functionCallingConfig must force the offered function: {{\"mode\": \"ANY\", \"allowedFunctionNames\": [\"{name}\"]}}, found {}",
            found(config)
        )));
    }
    let repair_turns = check_gemini_turns(contents)?;
    let (index, first) = contents
        .iter()
        .enumerate()
        .find(|(_, content)| matches!(role(content), None | Some("user")))
        .ok_or_else(|| bad("contents: there is no user content"))?;
    let texts: Vec<&str> = first
        .get("parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if texts.is_empty() {
        return Err(bad(format!(
            "contents[{index}].parts: the first user content has no text"
        )));
    }
    let max_output_tokens = field(&body, "generationConfig", "generation_config")
        .and_then(|config| field(config, "maxOutputTokens", "max_output_tokens"))
        .and_then(Value::as_u64);
    Ok(Incoming {
        model,
        tool_name: name.to_string(),
        user_text: texts.join("\n"),
        repair_turns,
        max_output_tokens,
    })
}

fn parts(content: &Value) -> &[Value] {
    content
        .get("parts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn count_parts(content: &Value, camel: &str, snake: &str) -> usize {
    parts(content)
        .iter()
        .filter(|part| field(part, camel, snake).is_some())
        .count()
}

/// Roles are `user` and `model`; a model turn's first `functionCall` part carries the
/// `thoughtSignature` it came with; the next user turn answers every call in one content.
fn check_gemini_turns(contents: &[Value]) -> Result<usize, Rejection> {
    const COUNT: &str = "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.";
    let mut repair_turns = 0;
    let mut previous_calls = 0;
    for (index, content) in contents.iter().enumerate() {
        let responses = count_parts(content, "functionResponse", "function_response");
        match role(content) {
            None | Some("user") => {
                if responses != previous_calls {
                    return Err(bad(COUNT));
                }
                previous_calls = 0;
            }
            Some("model") => {
                if previous_calls > 0 || responses > 0 {
                    return Err(bad(COUNT));
                }
                repair_turns += 1;
                let calls: Vec<&Value> = parts(content)
                    .iter()
                    .filter(|part| field(part, "functionCall", "function_call").is_some())
                    .collect();
                if let Some(first) = calls.first() {
                    let signed = field(first, "thoughtSignature", "thought_signature")
                        .and_then(Value::as_str)
                        .is_some_and(|signature| !signature.is_empty());
                    if !signed {
                        let name = field(first, "functionCall", "function_call")
                            .and_then(|call| call.get("name"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        return Err(bad(format!(
                            "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:{name}` , position {}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                            index + 1
                        )));
                    }
                }
                previous_calls = calls.len();
            }
            Some(_) => return Err(bad("Please use a valid role: user, model.")),
        }
    }
    if previous_calls > 0 {
        return Err(bad(COUNT));
    }
    Ok(repair_turns)
}

// ---------------------------------------------------------------------------------------------
// Ollama /api/chat

fn parse_ollama(object: &Map<String, Value>) -> Result<Incoming, Rejection> {
    let model = required_str(object, "model", "model is required")?;
    if object.get("stream").and_then(Value::as_bool) != Some(false) {
        return Err(bad(
            "the mock answers only non-streaming requests: send \"stream\": false (Ollama streams by default)",
        ));
    }
    let messages = non_empty_array(object, "messages", "messages are required")?;
    let tool = exactly_one_tool(object, "tools")?;
    let name = tool
        .get("function")
        .and_then(|function| function.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| bad("tools[0].function.name is required"))?;
    if object.get("format").is_some_and(|format| !format.is_null()) {
        return Err(bad(
            "\"format\" and \"tools\" were both sent: Ollama constrains the output to the format and never calls the tool",
        ));
    }
    let mut seen_user = false;
    let mut repair_turns = 0;
    for message in messages {
        match role(message) {
            Some("user") => seen_user = true,
            Some("assistant") if seen_user => repair_turns += 1,
            _ => {}
        }
    }
    let max_output_tokens = object
        .get("options")
        .and_then(|options| options.get("num_predict"))
        .and_then(Value::as_u64);
    Ok(Incoming {
        model: model.to_string(),
        tool_name: name.to_string(),
        user_text: first_user_text(messages, "messages")?,
        repair_turns,
        max_output_tokens,
    })
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
    pub input_tokens: u64,
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

fn anthropic_request_id(envelope: &Envelope) -> String {
    format!("req_011C{}", envelope.id("req", IdAlphabet::Base62, 20))
}

fn anthropic_success(envelope: &Envelope, answer: &Answer) -> Reply {
    let (content, stop_reason) = match answer {
        Answer::Text(text) => (vec![json!({"type": "text", "text": text})], "end_turn"),
        Answer::Calls { calls, truncated } => (
            calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    json!({
                        "type": "tool_use",
                        "id": format!("toolu_01{}", envelope.id(&format!("toolu{index}"), IdAlphabet::Base62, 22)),
                        "name": call.name,
                        "input": call.args.as_object_value(),
                    })
                })
                .collect(),
            if *truncated { "max_tokens" } else { "tool_use" },
        ),
    };
    Reply {
        status: 200,
        headers: vec![("request-id", anthropic_request_id(envelope))],
        body: json!({
            "id": format!("msg_01{}", envelope.id("msg", IdAlphabet::Base62, 22)),
            "type": "message",
            "role": "assistant",
            "model": envelope.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {
                "input_tokens": envelope.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": envelope.output_tokens,
                "service_tier": "standard",
            },
        }),
    }
}

fn openai_success(envelope: &Envelope, answer: &Answer) -> Reply {
    let (message, finish_reason) = match answer {
        Answer::Text(text) => (
            json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
            "stop",
        ),
        Answer::Calls { calls, truncated } => {
            let tool_calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    json!({
                        "id": format!("call_{}", envelope.id(&format!("call{index}"), IdAlphabet::Base62, 24)),
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.args.text()},
                    })
                })
                .collect();
            (
                json!({"role": "assistant", "content": null, "refusal": null, "annotations": [], "tool_calls": tool_calls}),
                // Forced by name, OpenAI reports "stop", not "tool_calls" (guide §3.5).
                if *truncated { "length" } else { "stop" },
            )
        }
    };
    Reply {
        status: 200,
        headers: vec![
            (
                "x-request-id",
                format!("req_{}", envelope.id("req", IdAlphabet::LowerHex, 32)),
            ),
            ("openai-processing-ms", "1".to_string()),
        ],
        body: json!({
            "id": format!("chatcmpl-{}", envelope.id("chatcmpl", IdAlphabet::Base62, 29)),
            "object": "chat.completion",
            "created": envelope.unix_time,
            "model": envelope.model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
            "usage": {
                "prompt_tokens": envelope.input_tokens,
                "completion_tokens": envelope.output_tokens,
                "total_tokens": envelope.input_tokens + envelope.output_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_periodize_mock",
        }),
    }
}

fn gemini_success(envelope: &Envelope, answer: &Answer) -> Reply {
    let signature = format!("Cq4B{}", envelope.id("sig", IdAlphabet::Base64, 92));
    let (parts, finish_reason) = match answer {
        // Without a call, the signature sits on the last part (thought-signature docs).
        Answer::Text(text) => (
            vec![json!({"text": text, "thoughtSignature": signature})],
            "STOP",
        ),
        Answer::Calls { calls, truncated } => (
            calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    let mut part = json!({
                        "functionCall": {"name": call.name, "args": call.args.as_object_value()},
                    });
                    // In a parallel batch only the first call carries the signature.
                    if index == 0 {
                        part["thoughtSignature"] = Value::from(signature.as_str());
                    }
                    part
                })
                .collect(),
            if *truncated { "MAX_TOKENS" } else { "STOP" },
        ),
    };
    Reply {
        status: 200,
        headers: Vec::new(),
        body: json!({
            "candidates": [{
                "content": {"role": "model", "parts": parts},
                "finishReason": finish_reason,
                "index": 0,
            }],
            "usageMetadata": {
                "promptTokenCount": envelope.input_tokens,
                "candidatesTokenCount": envelope.output_tokens,
                "totalTokenCount": envelope.input_tokens + envelope.output_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": envelope.input_tokens}],
            },
            "modelVersion": envelope.model,
            "responseId": envelope.id("response", IdAlphabet::Base62, 22),
        }),
    }
}

fn ollama_success(envelope: &Envelope, answer: &Answer) -> Reply {
    let (message, done_reason) = match answer {
        Answer::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
        Answer::Calls { calls, truncated } => {
            let tool_calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    json!({
                        "id": format!("call_{}", envelope.id(&format!("call{index}"), IdAlphabet::LowerHex, 8)),
                        "function": {"index": index, "name": call.name, "arguments": call.args.as_object_value()},
                    })
                })
                .collect();
            (
                json!({"role": "assistant", "content": "", "tool_calls": tool_calls}),
                if *truncated { "length" } else { "stop" },
            )
        }
    };
    // Durations are nanoseconds; plausible rates for a small local model.
    let prompt_ns = envelope.input_tokens.saturating_mul(200_000);
    let eval_ns = envelope.output_tokens.saturating_mul(20_000_000);
    Reply {
        status: 200,
        headers: Vec::new(),
        body: json!({
            "model": envelope.model,
            "created_at": envelope.rfc3339,
            "message": message,
            "done": true,
            "done_reason": done_reason,
            "total_duration": prompt_ns.saturating_add(eval_ns).saturating_add(1_000_000),
            "load_duration": 1_000_000,
            "prompt_eval_count": envelope.input_tokens,
            "prompt_eval_duration": prompt_ns,
            "eval_count": envelope.output_tokens,
            "eval_duration": eval_ns,
        }),
    }
}

/// Facts an error response needs.
#[derive(Debug, Clone)]
pub(crate) struct ErrorContext {
    pub seed: u64,
    pub seq: u64,
    pub retry_after_s: u64,
    /// RFC 3339 time at which a rate limit resets (Anthropic's headers).
    pub reset_rfc3339: String,
}

/// An error response in the protocol's shape.
pub(crate) fn error(
    protocol: Protocol,
    kind: ErrorKind,
    message: &str,
    context: &ErrorContext,
) -> Reply {
    let retry_after = context.retry_after_s.to_string();
    let waits = matches!(kind, ErrorKind::RateLimit | ErrorKind::Overloaded);
    let mut headers: Vec<(&'static str, String)> = Vec::new();
    if waits {
        headers.push(("retry-after", retry_after.clone()));
    }
    if kind == ErrorKind::TooLarge {
        // The rest of an oversized body is not worth reading on this connection.
        headers.push(("connection", "close".to_string()));
    }
    let ids = Envelope {
        model: String::new(),
        seed: context.seed,
        seq: context.seq,
        input_tokens: 0,
        output_tokens: 0,
        unix_time: 0,
        rfc3339: String::new(),
    };
    match protocol {
        Protocol::Anthropic => {
            let (status, kind_name) = match kind {
                ErrorKind::InvalidRequest => (400, "invalid_request_error"),
                ErrorKind::MethodNotAllowed => (405, "invalid_request_error"),
                ErrorKind::NotFound => (404, "not_found_error"),
                ErrorKind::TooLarge => (413, "request_too_large"),
                ErrorKind::RequestTimeout => (408, "timeout_error"),
                ErrorKind::RateLimit => (429, "rate_limit_error"),
                ErrorKind::ServerError => (500, "api_error"),
                ErrorKind::Overloaded => (529, "overloaded_error"),
            };
            let request_id = anthropic_request_id(&ids);
            headers.push(("request-id", request_id.clone()));
            let retry = matches!(status, 408 | 429 | 500 | 529);
            headers.push(("x-should-retry", retry.to_string()));
            if kind == ErrorKind::RateLimit {
                for (limit, remaining, reset) in [
                    (
                        "anthropic-ratelimit-requests-limit",
                        "anthropic-ratelimit-requests-remaining",
                        "anthropic-ratelimit-requests-reset",
                    ),
                    (
                        "anthropic-ratelimit-tokens-limit",
                        "anthropic-ratelimit-tokens-remaining",
                        "anthropic-ratelimit-tokens-reset",
                    ),
                ] {
                    headers.push((limit, "50".to_string()));
                    headers.push((remaining, "0".to_string()));
                    headers.push((reset, context.reset_rfc3339.clone()));
                }
            }
            Reply {
                status,
                headers,
                body: json!({
                    "type": "error",
                    "error": {"type": kind_name, "message": message},
                    "request_id": request_id,
                }),
            }
        }
        Protocol::OpenAi => {
            let (status, type_name, code): (u16, &str, Value) = match kind {
                ErrorKind::InvalidRequest => (400, "invalid_request_error", Value::Null),
                ErrorKind::MethodNotAllowed => (405, "invalid_request_error", Value::Null),
                ErrorKind::NotFound => (404, "invalid_request_error", json!("unknown_url")),
                ErrorKind::TooLarge => (413, "invalid_request_error", json!("request_too_large")),
                ErrorKind::RequestTimeout => (408, "invalid_request_error", json!("timeout")),
                ErrorKind::RateLimit => (429, "rate_limit_exceeded", json!("rate_limit_exceeded")),
                ErrorKind::ServerError => (500, "server_error", Value::Null),
                ErrorKind::Overloaded => (503, "server_error", json!("overloaded")),
            };
            headers.push((
                "x-request-id",
                format!("req_{}", ids.id("req", IdAlphabet::LowerHex, 32)),
            ));
            if kind == ErrorKind::RateLimit {
                headers.push(("x-ratelimit-limit-requests", "500".to_string()));
                headers.push(("x-ratelimit-remaining-requests", "0".to_string()));
                headers.push(("x-ratelimit-reset-requests", format!("{retry_after}s")));
            }
            Reply {
                status,
                headers,
                body: json!({"error": {"message": message, "type": type_name, "param": null, "code": code}}),
            }
        }
        Protocol::Gemini => {
            let (status, status_name) = match kind {
                ErrorKind::InvalidRequest => (400, "INVALID_ARGUMENT"),
                // Google answers a wrong method with 404 as well.
                ErrorKind::NotFound | ErrorKind::MethodNotAllowed => (404, "NOT_FOUND"),
                ErrorKind::TooLarge => (413, "INVALID_ARGUMENT"),
                ErrorKind::RequestTimeout => (408, "DEADLINE_EXCEEDED"),
                ErrorKind::RateLimit => (429, "RESOURCE_EXHAUSTED"),
                ErrorKind::ServerError => (500, "INTERNAL"),
                ErrorKind::Overloaded => (503, "UNAVAILABLE"),
            };
            let mut error = json!({"code": status, "message": message, "status": status_name});
            if kind == ErrorKind::RateLimit {
                error["details"] = json!([
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "RATE_LIMIT_EXCEEDED",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com", "quota_limit": "GenerateContentRequestsPerMinutePerProjectPerModel"},
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{retry_after}s")},
                ]);
            }
            Reply {
                status,
                headers,
                body: json!({"error": error}),
            }
        }
        Protocol::Ollama => {
            let status = match kind {
                ErrorKind::InvalidRequest => 400,
                ErrorKind::NotFound => 404,
                ErrorKind::MethodNotAllowed => 405,
                ErrorKind::TooLarge => 413,
                ErrorKind::RequestTimeout => 408,
                ErrorKind::RateLimit => 429,
                ErrorKind::ServerError => 500,
                ErrorKind::Overloaded => 503,
            };
            Reply {
                status,
                headers,
                body: json!({"error": message}),
            }
        }
    }
}

/// The message each fault-driven error carries.
pub(crate) fn fault_message(protocol: Protocol, kind: ErrorKind) -> &'static str {
    match (protocol, kind) {
        (Protocol::Anthropic, ErrorKind::RateLimit) => "This request would exceed your organization's rate limit (mock fault). Please try again later.",
        (Protocol::OpenAi, ErrorKind::RateLimit) => "Rate limit reached for requests (mock fault). Please try again later.",
        (Protocol::Gemini, ErrorKind::RateLimit) => "Resource has been exhausted (e.g. check quota). (mock fault)",
        (Protocol::Ollama, ErrorKind::RateLimit) => "too many requests (mock fault)",
        (Protocol::Anthropic, ErrorKind::Overloaded) => "Overloaded (mock fault)",
        (Protocol::OpenAi, ErrorKind::Overloaded) => "The engine is currently overloaded, please try again later. (mock fault)",
        (Protocol::Gemini, ErrorKind::Overloaded) => "The model is overloaded. Please try again later. (mock fault)",
        (Protocol::Ollama, ErrorKind::Overloaded) => "server busy, please try again. maximum pending requests exceeded (mock fault)",
        (Protocol::Gemini, _) => "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting (mock fault)",
        (Protocol::Ollama, _) => "the model failed to generate a response (mock fault)",
        _ => "Internal server error (mock fault)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
