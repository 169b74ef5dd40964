//! The OpenAI Chat Completions protocol (`POST {base}/chat/completions`), also spoken by
//! OpenAI-compatible servers (vLLM, LM Studio, llama.cpp), pure: our forced single-tool request
//! to its JSON, the strict-mode decision for a tool schema, and a raw reply (status, headers,
//! body) to one tool call, a classified failure or malformed output, with its token usage.

use serde_json::{json, Map, Value};

use crate::llm::{
    ModelFailure, ModelOutcome, ModelReply, PriorReply, ToolCall, ToolRequest, Usage,
};
use crate::providers::http::{HeaderValue, HttpReply};
use crate::providers::secret::Secret;
use crate::providers::{
    cut_off_message, excerpt, is_context_length, text_call, token_count, usage_estimates,
};

/// Includes `/v1`, so a compatible server is addressed as `--base-url http://host:port/v1`.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_MODEL: &str = "gpt-4.1";

const PROVIDER: &str = "openai";

/// Error codes that mean the account cannot pay: no wait makes them go away, even as a 429.
const ACCOUNT_CODES: &[&str] = &[
    "insufficient_quota",
    "billing_not_active",
    "billing_hard_limit_reached",
    "access_terminated",
];

pub fn endpoint(base_url: &str, _model: &str) -> String {
    format!("{}/chat/completions", base_url.trim_end_matches('/'))
}

/// `authorization: Bearer <key>` as a secret; nothing without a key (local servers need none).
pub fn headers(key: Option<&Secret>) -> Vec<(&'static str, HeaderValue)> {
    match key {
        Some(key) => vec![(
            "authorization",
            HeaderValue::Secret(Secret::new(format!("Bearer {}", key.expose()))),
        )],
        None => Vec::new(),
    }
}

/// Whether `base_url` is OpenAI's own API rather than a compatible server.
pub fn is_openai_api(base_url: &str) -> bool {
    base_url.trim_end_matches('/') == DEFAULT_BASE_URL
}

/// The field that carries the output cap at `base_url`. OpenAI's own API takes
/// `max_completion_tokens` (its reasoning models reject the deprecated `max_tokens`, and both
/// together are a 400); compatible servers all read `max_tokens`, and several silently ignore
/// `max_completion_tokens` (Ollama's `/v1`, llama.cpp before 2026-02, LM Studio), which would
/// leave the answer unbounded.
pub fn output_cap_field(base_url: &str) -> &'static str {
    if is_openai_api(base_url) {
        "max_completion_tokens"
    } else {
        "max_tokens"
    }
}

/// The request body for the server at `base_url`. The tool is forced and parallel calls are
/// off, so a well-behaved reply is exactly one call.
pub fn encode(request: &ToolRequest, model: &str, base_url: &str) -> Value {
    let mut messages = Vec::with_capacity(2 + 2 * request.repair_turns.len());
    if !request.system.trim().is_empty() {
        messages.push(json!({"role": "system", "content": request.system}));
    }
    messages.push(json!({"role": "user", "content": request.user}));
    let mut used_ids: Vec<String> = Vec::new();
    for (index, turn) in request.repair_turns.iter().enumerate() {
        match &turn.reply {
            PriorReply::Call(call) => {
                let id = call_id(&call.id, index + 1, &used_ids);
                used_ids.push(id.clone());
                messages.push(json!({
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": replay_arguments(&call.arguments)},
                    }],
                }));
                // Every call id must be answered by a tool message, or the API answers 400.
                messages
                    .push(json!({"role": "tool", "tool_call_id": id, "content": turn.feedback}));
            }
            PriorReply::Text(text) => {
                let text = if text.trim().is_empty() {
                    "(no tool call)"
                } else {
                    text.as_str()
                };
                messages.push(json!({"role": "assistant", "content": text}));
                messages.push(json!({"role": "user", "content": turn.feedback}));
            }
        }
    }
    let tool = &request.tool;
    let mut body = json!({
        "model": model,
        "messages": messages,
        "tools": [{
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
                "strict": strict_compatible(&tool.parameters),
            },
        }],
        // With exactly one tool offered, "required" forces that tool on OpenAI, and it is the
        // form OpenAI-compatible servers understand: llama.cpp reads only a string here and
        // silently makes the object form optional; vLLM and LM Studio accept it too.
        "tool_choice": "required",
        "parallel_tool_calls": false,
    });
    // `body` is the object literal above, so indexing inserts the key (it cannot panic).
    body[output_cap_field(base_url)] = Value::from(request.max_output_tokens);
    body
}

/// Keywords strict mode accepts (OpenAI structured-outputs guide, "Supported schemas", after
/// its May 2025 extension to string, number and array constraints). Anything else, `default`,
/// `allOf`, `not`, `if`, `patternProperties`, `uniqueItems`…, makes the API answer 400.
const STRICT_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "anyOf",
    "$ref",
    "$defs",
    "definitions",
    "description",
    "title",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "format",
];

/// String formats strict mode knows; any other is a 400 ("'uri' is not a valid format").
const STRICT_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

const JSON_TYPES: &[&str] = &[
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// Object nesting and property counts within strict mode's first published limits (5 levels,
/// 100 properties). They were raised since, but staying under the lowest keeps every model.
const STRICT_MAX_DEPTH: usize = 5;
const STRICT_MAX_PROPERTIES: usize = 100;

/// Whether OpenAI strict mode (constrained decoding) accepts `schema` as function parameters:
/// the root is an object; every object has `additionalProperties: false` and lists every
/// property in `required` (optional values are nullable types instead); only supported keywords
/// appear. When it does, `strict: true` makes the arguments always parse and match the schema;
/// when it does not, sending `strict: true` would be a 400, so the tool goes without.
///
/// Both periodize tools pass: they were written to these rules, and their `minimum`, `maximum`,
/// `exclusiveMinimum`, `minItems` and `maxItems` are in the supported set. (Fine-tuned models
/// do not support those constraints; a 400 from one names the keyword.)
pub fn strict_compatible(schema: &Value) -> bool {
    let mut properties = 0;
    let root_is_object = schema
        .as_object()
        .is_some_and(|root| types(root).contains(&"object") && !root.contains_key("anyOf"));
    root_is_object && strict_node(schema, 0, &mut properties) && properties <= STRICT_MAX_PROPERTIES
}

fn strict_node(schema: &Value, depth: usize, properties: &mut usize) -> bool {
    let Some(node) = schema.as_object() else {
        // Boolean schemas are not in the subset.
        return false;
    };
    if node
        .keys()
        .any(|key| !STRICT_KEYWORDS.contains(&key.as_str()))
    {
        return false;
    }
    let kinds = types(node);
    if node.contains_key("type")
        && (kinds.is_empty() || kinds.iter().any(|kind| !JSON_TYPES.contains(kind)))
    {
        return false;
    }
    if let Some(format) = node.get("format") {
        if !format
            .as_str()
            .is_some_and(|format| STRICT_FORMATS.contains(&format))
        {
            return false;
        }
    }
    let mut depth = depth;
    if kinds.contains(&"object") || node.contains_key("properties") {
        depth += 1;
        if depth > STRICT_MAX_DEPTH || node.get("additionalProperties") != Some(&Value::Bool(false))
        {
            return false;
        }
        let empty = Map::new();
        let props = match node.get("properties") {
            None => &empty,
            Some(Value::Object(props)) => props,
            Some(_) => return false,
        };
        let required: Vec<&str> = match node.get("required") {
            None => Vec::new(),
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            Some(_) => return false,
        };
        let all_required = props.keys().all(|key| required.contains(&key.as_str()))
            && required.iter().all(|name| props.contains_key(*name));
        if !all_required {
            return false;
        }
        *properties += props.len();
        if !props
            .values()
            .all(|child| strict_node(child, depth, properties))
        {
            return false;
        }
    } else if node.contains_key("additionalProperties") {
        return false;
    }
    if let Some(items) = node.get("items") {
        if !strict_node(items, depth, properties) {
            return false;
        }
    }
    if let Some(branches) = node.get("anyOf") {
        let Some(branches) = branches.as_array() else {
            return false;
        };
        if !branches
            .iter()
            .all(|branch| strict_node(branch, depth, properties))
        {
            return false;
        }
    }
    for defs in ["$defs", "definitions"] {
        if let Some(defs) = node.get(defs) {
            let Some(defs) = defs.as_object() else {
                return false;
            };
            if !defs.values().all(|def| strict_node(def, depth, properties)) {
                return false;
            }
        }
    }
    true
}

/// The `type` of a schema node as a list (`"string"` or `["string", "null"]`).
fn types(node: &Map<String, Value>) -> Vec<&str> {
    match node.get("type") {
        Some(Value::String(kind)) => vec![kind.as_str()],
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Classifies one reply. Calls are found by their presence: a call forced by name comes back
/// with `finish_reason: "stop"`, not `"tool_calls"`. A reply cut by the token limit is never
/// executed, even when it holds a call.
pub fn decode(reply: &HttpReply, tool_name: &str) -> ModelReply {
    let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let usage = body
        .as_ref()
        .map(|body| usage(body, usage_estimates(reply)))
        .unwrap_or_default();
    let outcome = if (200..300).contains(&reply.status) {
        success(reply, body.as_ref(), tool_name)
    } else {
        ModelOutcome::Failed(failure(reply, body.as_ref()))
    };
    ModelReply { outcome, usage }
}

/// `prompt_tokens` already includes the cached part (`prompt_tokens_details.cached_tokens`).
fn usage(body: &Value, (input, output): (u64, u64)) -> Usage {
    let usage = &body["usage"];
    let details = &usage["prompt_tokens_details"];
    Usage {
        input_tokens: token_count(usage.get("prompt_tokens"), "prompt_tokens", input),
        output_tokens: token_count(usage.get("completion_tokens"), "completion_tokens", output),
        // An impossible cache count is estimated as 0: it is a part of prompt_tokens, which
        // already stands for the request.
        cache_read_tokens: token_count(details.get("cached_tokens"), "cached_tokens", 0),
        cache_write_tokens: token_count(details.get("cache_write_tokens"), "cache_write_tokens", 0),
    }
}

fn success(reply: &HttpReply, body: Option<&Value>, tool_name: &str) -> ModelOutcome {
    let status = reply.status;
    let Some(body) = body else {
        return transient(
            format!(
                "{PROVIDER} {status} reply is not JSON: {}",
                excerpt(&reply.body)
            ),
            None,
        );
    };
    let message = &body["choices"][0]["message"];
    if !message.is_object() {
        if body.get("error").is_some() {
            // Some compatible servers report errors with a 200.
            return ModelOutcome::Failed(failure(reply, Some(body)));
        }
        return transient(
            format!(
                "{PROVIDER} {status} reply is not a chat completion: no choices[0].message in {}",
                excerpt(&reply.body)
            ),
            None,
        );
    }
    let finish_reason = body["choices"][0]["finish_reason"]
        .as_str()
        .unwrap_or("none");
    let mut calls: Vec<ToolCall> = message["tool_calls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|call| ToolCall {
            id: call["id"].as_str().unwrap_or_default().to_string(),
            name: call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            arguments: match &call["function"]["arguments"] {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                // Some compatible servers send an object, not a string: keep it as JSON text.
                other => other.to_string(),
            },
            signature: None,
        })
        .collect();
    let text = content_text(&message["content"]);
    if calls.is_empty() {
        // A server that does not parse its chat template's tool calls leaves them in the text.
        calls = text_call::calls(&text, tool_name);
    }
    if calls.is_empty() {
        if let Some(refusal) = message["refusal"].as_str().filter(|r| !r.trim().is_empty()) {
            // The model declined on policy grounds; asking the same model again does not help.
            return ModelOutcome::Failed(ModelFailure::Fatal {
                message: format!(
                    "{PROVIDER} refused the request: {}",
                    excerpt(refusal.as_bytes())
                ),
            });
        }
    }
    let prior = || match calls.first() {
        Some(call) => PriorReply::Call(call.clone()),
        None => PriorReply::Text(text.clone()),
    };
    match finish_reason {
        "length" => {
            return malformed(
                cut_off_message(tool_name, "finish_reason length", !calls.is_empty()),
                prior(),
            )
        }
        "content_filter" => {
            return malformed(
                "the reply was stopped by the content filter (finish_reason content_filter)"
                    .to_string(),
                prior(),
            )
        }
        _ => {}
    }
    match calls.as_slice() {
        [] => malformed(
            format!("the reply has no tool call (finish_reason {finish_reason})"),
            prior(),
        ),
        [call] if call.name != tool_name => malformed(
            format!(
                "the reply called tool {:?}, but only {tool_name} is offered",
                call.name
            ),
            prior(),
        ),
        [call] => match serde_json::from_str::<Value>(&call.arguments) {
            Ok(_) => ModelOutcome::Call(call.clone()),
            Err(err) => malformed(
                format!("the arguments of the call of {tool_name} are not valid JSON: {err}"),
                prior(),
            ),
        },
        many => malformed(
            format!(
                "the reply has {} tool calls; only one call of {tool_name} is accepted",
                many.len()
            ),
            prior(),
        ),
    }
}

/// The assistant text: a string, or text parts (some compatible servers), else empty.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// An error reply. Account problems (no quota, billing) are fatal whatever the status; then the
/// server's `x-should-retry` decides (as in the official SDK); then the status. A 200 that
/// carries an error is a server fault, hence transient.
fn failure(reply: &HttpReply, body: Option<&Value>) -> ModelFailure {
    let status = reply.status;
    let error = error_detail(body, &reply.body);
    let text = error.describe(status);
    let retry_after_ms = reply.retry_after_ms();
    if error.is_account_problem() {
        return ModelFailure::Fatal { message: text };
    }
    if is_context_length(status, &[&error.code, &error.kind], &error.message) {
        return ModelFailure::ContextLength { message: text };
    }
    match reply.header("x-should-retry").map(str::trim) {
        Some("true") => {
            return ModelFailure::Transient {
                message: text,
                retry_after_ms,
            }
        }
        Some("false") => return ModelFailure::Fatal { message: text },
        _ => {}
    }
    // 408 timeout, 409 conflict, 429 rate limit, 5xx: worth a wait.
    if matches!(status, 200..=299 | 408 | 409 | 429 | 500..=599) {
        ModelFailure::Transient {
            message: text,
            retry_after_ms,
        }
    } else {
        ModelFailure::Fatal { message: text }
    }
}

struct ErrorDetail {
    kind: String,
    code: String,
    message: String,
}

impl ErrorDetail {
    fn is_account_problem(&self) -> bool {
        ACCOUNT_CODES.contains(&self.code.as_str()) || ACCOUNT_CODES.contains(&self.kind.as_str())
    }

    /// `openai 429 insufficient_quota: <message>`: the code when there is one (it is the more
    /// specific), else the type. Built from the body only: header values never reach a
    /// message, so no key can leak through one.
    fn describe(&self, status: u16) -> String {
        let label = if self.code.is_empty() {
            &self.kind
        } else {
            &self.code
        };
        let label = if label.is_empty() {
            String::new()
        } else {
            format!(" {label}")
        };
        format!("{PROVIDER} {status}{label}: {}", self.message)
    }
}

/// Reads `{"error": {"message", "type", "code"}}` (OpenAI), `{"error": "<text>"}` and
/// `{"message", "type"}` (some compatible servers), or quotes whatever else came back.
fn error_detail(body: Option<&Value>, raw: &[u8]) -> ErrorDetail {
    let body = body.unwrap_or(&Value::Null);
    let error = match &body["error"] {
        Value::Object(_) => &body["error"],
        _ => body,
    };
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let message = match (&body["error"], error["message"].as_str()) {
        (Value::String(message), _) => message.clone(),
        (_, Some(message)) => message.to_string(),
        _ => excerpt(raw),
    };
    ErrorDetail {
        kind: text(&error["type"]),
        code: text(&error["code"]),
        message,
    }
}

fn transient(message: String, retry_after_ms: Option<u64>) -> ModelOutcome {
    ModelOutcome::Failed(ModelFailure::Transient {
        message,
        retry_after_ms,
    })
}

fn malformed(message: String, reply: PriorReply) -> ModelOutcome {
    ModelOutcome::Failed(ModelFailure::Malformed { message, reply })
}

/// The arguments as sent back in history: the raw string when it is a JSON object, else `{}`.
/// A broken string replayed in history can make later requests fail (compatible servers parse
/// it into their chat template); the feedback says what was wrong with it.
fn replay_arguments(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(_)) => arguments.to_string(),
        _ => "{}".to_string(),
    }
}

/// The call's own id, unless it is empty (some compatible servers send none) or already used in
/// this conversation; then a stable stand-in for repair turn `turn`.
fn call_id(id: &str, turn: usize, used: &[String]) -> String {
    if id.trim().is_empty() || used.iter().any(|earlier| earlier == id) {
        format!("call_repair_{turn}")
    } else {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::parse_profile;
    use crate::domain::validate::Rules;
    use crate::llm::{RepairTurn, StepBrief, StepId, ToolSpec};
    use crate::tools::{overview_tool, week_tool};

    const TOOL: &str = "add_week_details";

    fn http(status: u16, headers: &[(&str, &str)], body: Value) -> HttpReply {
        HttpReply {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: body.to_string().into_bytes(),
            request_bytes: 0,
        }
    }

    fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
    }

    fn completion(message: Value, finish_reason: &str) -> Value {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                      "prompt_tokens_details": {"cached_tokens": 64}}
        })
    }

    fn calls(calls: &[(&str, &str, &str)]) -> Value {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, arguments)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}))
            .collect();
        json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": calls})
    }

    fn outcome(reply: &HttpReply) -> ModelOutcome {
        decode(reply, TOOL).outcome
    }

    fn request(repair_turns: Vec<RepairTurn>) -> ToolRequest {
        let profile = parse_profile(
            r#"{"name": "A", "age": 40, "weight_kg": 70, "ftp_w": 250, "max_hr": 180,
                "weekly_hours": 5, "available_days": ["Tuesday", "Saturday"], "goals": "fondo",
                "plan_weeks": 4}"#,
        )
        .expect("the test profile is valid");
        ToolRequest {
            system: "You are a coach.".into(),
            user: "Plan week 1.".into(),
            tool: week_tool(),
            repair_turns,
            max_output_tokens: 4096,
            brief: StepBrief {
                step: StepId::Week(1),
                profile,
                total_weeks: 4,
                event: None,
                rules: Rules::default(),
                overview: None,
            },
            shared_prefix_bytes: 0,
        }
    }

    #[test]
    fn endpoint_appends_the_path_to_a_base_with_its_version() {
        assert_eq!(
            endpoint(DEFAULT_BASE_URL, DEFAULT_MODEL),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8000/v1/", "local"),
            "http://127.0.0.1:8000/v1/chat/completions"
        );
    }

    #[test]
    fn the_key_goes_in_a_secret_bearer_header() {
        let key = Secret::new("sk-canary");
        let headers = headers(Some(&key));
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "authorization");
        assert!(
            matches!(&headers[0].1, HeaderValue::Secret(secret) if secret.expose() == "Bearer sk-canary")
        );
        assert!(!format!("{headers:?}").contains("canary"));
        assert!(super::headers(None).is_empty());
    }

    #[test]
    fn one_call_of_the_offered_tool_is_the_call() {
        let arguments = r#"{"week_number": 1, "workouts": []}"#;
        let reply = http(
            200,
            &[],
            completion(calls(&[("call_1", TOOL, arguments)]), "stop"),
        );
        let decoded = decode(&reply, TOOL);
        assert_eq!(
            decoded.outcome,
            ModelOutcome::Call(ToolCall {
                id: "call_1".into(),
                name: TOOL.into(),
                arguments: arguments.into(),
                signature: None,
            })
        );
        assert_eq!(
            decoded.usage,
            Usage {
                input_tokens: 120,
                output_tokens: 30,
                cache_read_tokens: 64,
                cache_write_tokens: 0
            }
        );
    }

    #[test]
    fn quota_exhaustion_429_is_fatal() {
        let reply = http(
            429,
            &[("retry-after", "7")],
            error_body(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                Some("insufficient_quota"),
            ),
        );
        assert_eq!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Fatal {
                message: "openai 429 insufficient_quota: You exceeded your current quota, please check your plan and billing details.".into()
            })
        );
    }

    #[test]
    fn rate_limit_429_is_transient_with_the_server_wait() {
        let reply = http(
            429,
            &[("retry-after", "7"), ("authorization", "Bearer sk-canary")],
            error_body(
                "Rate limit reached for gpt-4.1 on tokens per min (TPM)",
                "tokens",
                Some("rate_limit_exceeded"),
            ),
        );
        assert_eq!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Transient {
                message: "openai 429 rate_limit_exceeded: Rate limit reached for gpt-4.1 on tokens per min (TPM)".into(),
                retry_after_ms: Some(7000),
            })
        );
    }

    #[test]
    fn a_retry_after_date_is_the_wait_until_it() {
        let reply = http(
            429,
            &[
                ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
                ("date", "Wed, 21 Oct 2015 07:27:15 GMT"),
            ],
            error_body("Rate limit reached", "tokens", Some("rate_limit_exceeded")),
        );
        assert!(matches!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Transient {
                retry_after_ms: Some(45_000),
                ..
            })
        ));
    }

    #[test]
    fn server_errors_are_transient_and_client_errors_fatal() {
        for status in [408, 409, 500, 502, 503, 504, 529] {
            let reply = http(
                status,
                &[],
                error_body("The server had an error", "server_error", None),
            );
            assert_eq!(
                outcome(&reply),
                ModelOutcome::Failed(ModelFailure::Transient {
                    message: format!("openai {status} server_error: The server had an error"),
                    retry_after_ms: None,
                })
            );
        }
        for status in [400, 401, 403, 404, 413, 422] {
            let reply = http(
                status,
                &[],
                error_body(
                    "Incorrect API key provided",
                    "invalid_request_error",
                    Some("invalid_api_key"),
                ),
            );
            assert_eq!(
                outcome(&reply),
                ModelOutcome::Failed(ModelFailure::Fatal {
                    message: format!("openai {status} invalid_api_key: Incorrect API key provided"),
                })
            );
        }
    }

    #[test]
    fn context_errors_of_openai_llama_cpp_and_vllm_are_context_failures() {
        let openai = error_body(
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
            "invalid_request_error",
            Some("context_length_exceeded"),
        );
        let llama_cpp = json!({"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 9000, "n_ctx": 8192}});
        let vllm = json!({"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (3000 in the messages, 2000 in the completion). Please reduce the length of the messages or completion.", "type": "BadRequestError", "param": null, "code": 400});
        for body in [openai, llama_cpp, vllm] {
            assert!(
                matches!(
                    outcome(&http(400, &[], body.clone())),
                    ModelOutcome::Failed(ModelFailure::ContextLength { .. })
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn compatible_servers_error_shapes_are_read() {
        let string_error = http(500, &[], json!({"error": "model is loading"}));
        assert!(
            matches!(outcome(&string_error), ModelOutcome::Failed(ModelFailure::Transient { message, .. }) if message == "openai 500: model is loading")
        );
        let flat = http(
            400,
            &[],
            json!({"object": "error", "message": "bad tools", "type": "BadRequestError", "code": 400}),
        );
        assert!(
            matches!(outcome(&flat), ModelOutcome::Failed(ModelFailure::Fatal { message }) if message == "openai 400 BadRequestError: bad tools")
        );
        let html = HttpReply {
            status: 404,
            headers: vec![],
            body: b"<h1>Not Found</h1>".to_vec(),
            request_bytes: 0,
        };
        assert!(
            matches!(outcome(&html), ModelOutcome::Failed(ModelFailure::Fatal { message }) if message == "openai 404: <h1>Not Found</h1>")
        );
    }

    #[test]
    fn no_call_is_malformed_with_the_text() {
        let message = json!({"role": "assistant", "content": "Here is the plan.", "refusal": null});
        let reply = http(200, &[], completion(message, "stop"));
        assert_eq!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Malformed {
                message: "the reply has no tool call (finish_reason stop)".into(),
                reply: PriorReply::Text("Here is the plan.".into()),
            })
        );
    }

    #[test]
    fn a_call_written_in_the_text_is_the_call() {
        let text = "Week 1 follows.\n<tool_call>\n{\"name\": \"add_week_details\", \"arguments\": {\"week_number\": 1}}\n</tool_call>";
        let message = json!({"role": "assistant", "content": text});
        assert!(
            matches!(outcome(&http(200, &[], completion(message, "stop"))), ModelOutcome::Call(call) if call.arguments == r#"{"week_number":1}"#)
        );
        let other = json!({"role": "assistant", "content": "<tool_call>{\"name\": \"x\", \"arguments\": {}}</tool_call>"});
        assert!(matches!(
            outcome(&http(200, &[], completion(other, "stop"))),
            ModelOutcome::Failed(ModelFailure::Malformed { message, reply: PriorReply::Text(_) }) if message.starts_with("the reply has no tool call")
        ));
    }

    #[test]
    fn two_calls_are_malformed_with_the_first() {
        let reply = http(
            200,
            &[],
            completion(
                calls(&[("call_1", TOOL, "{}"), ("call_2", TOOL, "{}")]),
                "tool_calls",
            ),
        );
        let ModelOutcome::Failed(ModelFailure::Malformed {
            message,
            reply: PriorReply::Call(call),
        }) = outcome(&reply)
        else {
            panic!("two calls are malformed");
        };
        assert_eq!(
            message,
            "the reply has 2 tool calls; only one call of add_week_details is accepted"
        );
        assert_eq!(call.id, "call_1");
    }

    #[test]
    fn a_call_of_another_tool_is_malformed() {
        let reply = http(
            200,
            &[],
            completion(calls(&[("call_1", "get_weather", "{}")]), "stop"),
        );
        assert!(matches!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Malformed { message, reply: PriorReply::Call(_) })
                if message == "the reply called tool \"get_weather\", but only add_week_details is offered"
        ));
    }

    #[test]
    fn a_truncated_reply_is_malformed_even_with_a_call() {
        let reply = http(
            200,
            &[],
            completion(
                calls(&[("call_1", TOOL, r#"{"week_number": 1}"#)]),
                "length",
            ),
        );
        let decoded = decode(&reply, TOOL);
        let ModelOutcome::Failed(ModelFailure::Malformed {
            message,
            reply: PriorReply::Call(call),
        }) = decoded.outcome
        else {
            panic!("a truncated reply is malformed");
        };
        assert!(message.contains("(finish_reason length)"), "{message}");
        assert_eq!(call.id, "call_1");
        assert_eq!(
            decoded.usage.output_tokens, 30,
            "a cut reply still cost tokens"
        );
    }

    #[test]
    fn arguments_that_are_not_json_are_malformed() {
        for arguments in [r#"{"week_number": 1, "workouts": ["#, ""] {
            let reply = http(
                200,
                &[],
                completion(calls(&[("call_1", TOOL, arguments)]), "stop"),
            );
            let ModelOutcome::Failed(ModelFailure::Malformed {
                message,
                reply: PriorReply::Call(call),
            }) = outcome(&reply)
            else {
                panic!("broken arguments are malformed");
            };
            assert!(
                message.starts_with(
                    "the arguments of the call of add_week_details are not valid JSON: "
                ),
                "{message}"
            );
            assert_eq!(call.arguments, arguments, "the call is recorded as it came");
        }
    }

    #[test]
    fn object_arguments_from_a_compatible_server_are_kept_as_json_text() {
        let message = json!({"role": "assistant", "content": "", "tool_calls": [{"id": "", "type": "function", "function": {"name": TOOL, "arguments": {"week_number": 1}}}]});
        let reply = http(200, &[], completion(message, "tool_calls"));
        assert!(
            matches!(outcome(&reply), ModelOutcome::Call(call) if call.arguments == r#"{"week_number":1}"# && call.id.is_empty())
        );
    }

    #[test]
    fn a_refusal_is_fatal_and_a_filtered_reply_malformed() {
        let refused =
            json!({"role": "assistant", "content": null, "refusal": "I can't help with that."});
        assert!(matches!(
            outcome(&http(200, &[], completion(refused, "stop"))),
            ModelOutcome::Failed(ModelFailure::Fatal { message }) if message == "openai refused the request: I can't help with that."
        ));
        let filtered = json!({"role": "assistant", "content": null});
        assert!(matches!(
            outcome(&http(200, &[], completion(filtered, "content_filter"))),
            ModelOutcome::Failed(ModelFailure::Malformed {
                reply: PriorReply::Text(_),
                ..
            })
        ));
    }

    #[test]
    fn a_garbage_200_is_a_transient_server_fault() {
        let not_json = HttpReply {
            status: 200,
            headers: vec![],
            body: b"upstream hiccup".to_vec(),
            request_bytes: 0,
        };
        assert!(
            matches!(outcome(&not_json), ModelOutcome::Failed(ModelFailure::Transient { message, .. }) if message == "openai 200 reply is not JSON: upstream hiccup")
        );
        let no_choices = http(200, &[], json!({"choices": []}));
        assert!(
            matches!(outcome(&no_choices), ModelOutcome::Failed(ModelFailure::Transient { message, .. }) if message.starts_with("openai 200 reply is not a chat completion"))
        );
        let error = http(200, &[], error_body("overloaded", "server_error", None));
        assert!(
            matches!(outcome(&error), ModelOutcome::Failed(ModelFailure::Transient { message, .. }) if message == "openai 200 server_error: overloaded")
        );
    }

    #[test]
    fn both_tools_are_strict_compatible() {
        assert!(strict_compatible(&overview_tool(12).parameters));
        assert!(strict_compatible(&week_tool().parameters));
    }

    #[test]
    fn schemas_outside_the_strict_subset_are_not() {
        let base = || json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false});
        assert!(strict_compatible(&base()));
        let mut open = base();
        open.as_object_mut()
            .expect("an object")
            .remove("additionalProperties");
        assert!(
            !strict_compatible(&open),
            "objects must close additionalProperties"
        );
        let mut optional = base();
        optional["required"] = json!([]);
        assert!(
            !strict_compatible(&optional),
            "every property must be required"
        );
        let mut defaulted = base();
        defaulted["properties"]["a"]["default"] = json!("x");
        assert!(!strict_compatible(&defaulted), "default is not supported");
        let mut uri = base();
        uri["properties"]["a"]["format"] = json!("uri");
        assert!(!strict_compatible(&uri), "uri is not a strict format");
        let mut nested_open = base();
        nested_open["properties"]["a"] =
            json!({"type": "array", "items": {"type": "object", "properties": {}}});
        assert!(
            !strict_compatible(&nested_open),
            "nested objects are checked too"
        );
        let mut all_of = base();
        all_of["properties"]["a"] = json!({"allOf": [{"type": "string"}]});
        assert!(!strict_compatible(&all_of));
        assert!(
            !strict_compatible(&json!({"anyOf": [base()]})),
            "the root must be an object"
        );
        assert!(!strict_compatible(&json!(true)));
        let mut deep = base();
        for _ in 0..STRICT_MAX_DEPTH {
            deep = json!({"type": "object", "properties": {"a": deep}, "required": ["a"], "additionalProperties": false});
        }
        assert!(!strict_compatible(&deep), "nesting is bounded");
    }

    #[test]
    fn repair_turns_pair_each_call_with_a_tool_message() {
        let call = |id: &str, arguments: &str| {
            PriorReply::Call(ToolCall {
                id: id.into(),
                name: TOOL.into(),
                arguments: arguments.into(),
                signature: None,
            })
        };
        let turn = |reply, feedback: &str| RepairTurn {
            reply,
            feedback: feedback.into(),
        };
        let body = encode(
            &request(vec![
                turn(call("", r#"{"week_number": 1}"#), "missing workouts"),
                turn(call("call_x", "{\"cut"), "not JSON"),
                turn(call("call_x", "[1]"), "not an object"),
                turn(PriorReply::Text(String::new()), "call the tool"),
            ]),
            "gpt-test",
            DEFAULT_BASE_URL,
        );
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 10);
        let ids: Vec<&str> = [2, 4, 6]
            .iter()
            .map(|&i| messages[i]["tool_calls"][0]["id"].as_str().expect("an id"))
            .collect();
        assert_eq!(
            ids,
            ["call_repair_1", "call_x", "call_repair_3"],
            "empty and repeated ids are replaced"
        );
        for i in [2, 4, 6] {
            assert_eq!(messages[i]["content"], Value::Null);
            assert_eq!(messages[i + 1]["role"], "tool");
            assert_eq!(
                messages[i + 1]["tool_call_id"],
                messages[i]["tool_calls"][0]["id"]
            );
        }
        let replayed: Vec<&str> = [2, 4, 6]
            .iter()
            .map(|&i| {
                messages[i]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .expect("a string")
            })
            .collect();
        assert_eq!(replayed, [r#"{"week_number": 1}"#, "{}", "{}"]);
        assert_eq!(
            messages[8],
            json!({"role": "assistant", "content": "(no tool call)"})
        );
        assert_eq!(
            messages[9],
            json!({"role": "user", "content": "call the tool"})
        );
        assert_eq!(body["tools"][0]["function"]["strict"], true);
        assert_eq!(body["parallel_tool_calls"], false);
    }

    #[test]
    fn the_output_cap_goes_in_the_field_the_server_reads() {
        let request = request(Vec::new());
        let openai = encode(&request, "m", "https://api.openai.com/v1/");
        assert_eq!(openai["max_completion_tokens"], 4096);
        assert!(
            openai.get("max_tokens").is_none(),
            "both together are a 400"
        );
        for compatible in ["http://127.0.0.1:8080/v1", "http://localhost:11434/v1"] {
            let body = encode(&request, "m", compatible);
            assert_eq!(body["max_tokens"], 4096, "{compatible}");
            assert!(body.get("max_completion_tokens").is_none(), "{compatible}");
        }
    }

    #[test]
    fn a_schema_outside_the_subset_is_sent_without_strict() {
        let mut request = request(Vec::new());
        request.tool = ToolSpec {
            name: TOOL,
            description: "d",
            parameters: json!({"type": "object"}).into(),
        };
        assert_eq!(
            encode(&request, "m", DEFAULT_BASE_URL)["tools"][0]["function"]["strict"],
            false
        );
    }
}
