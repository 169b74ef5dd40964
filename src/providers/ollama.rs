//! The Ollama `/api/chat` protocol, as a pure pair: `encode` offers the one tool (Ollama cannot
//! force it, so the system prompt demands it) with a context window sized to the request, and
//! `decode` turns the reply into one call, a classified failure or malformed output. No IO.

use serde_json::{json, Value};

use crate::llm::{
    ModelFailure, ModelOutcome, ModelReply, PriorReply, ToolCall, ToolRequest, Usage,
};
use crate::providers::http::{HeaderValue, HttpReply};
use crate::providers::secret::Secret;
use crate::providers::{
    cut_off_message, excerpt, failed, is_context_length, malformed, text_call, token_count,
    transient, usage_estimates,
};

pub const DEFAULT_BASE_URL: &str = "http://localhost:11434";
pub const DEFAULT_MODEL: &str = "llama3.1:8b";

/// Ollama's port when `OLLAMA_HOST` names none.
const DEFAULT_PORT: u16 = 11434;
/// Below this, Ollama's own default (2–4 k tokens) could still cut the prompt.
const MIN_CONTEXT_TOKENS: u64 = 8192;
/// Llama 3.1's trained window (128 k). Our requests stay far below it; the cap only bounds the
/// memory a runaway estimate would ask Ollama to allocate.
const MAX_CONTEXT_TOKENS: u64 = 131_072;

/// `{base}/api/chat`. The base may be a raw `OLLAMA_HOST` value.
pub fn endpoint(base_url: &str, _model: &str) -> String {
    format!("{}/api/chat", base(base_url))
}

/// A base URL from an `OLLAMA_HOST`-style value, read as the ollama client reads it: without a
/// scheme it is `http://` with port 11434 unless one is given, and bare `ollama.com` is the
/// cloud over https. With a scheme it is used as given. The listen-anywhere addresses
/// (`0.0.0.0`, `::`) are where a server binds, not where a client connects (Windows refuses
/// them), so they mean this machine.
fn base(base_url: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    if base.contains("://") {
        return base.to_string();
    }
    if base.is_empty() {
        return DEFAULT_BASE_URL.to_string();
    }
    if base == "ollama.com" {
        return "https://ollama.com".to_string();
    }
    let (authority, path) = base.split_at(base.find('/').unwrap_or(base.len()));
    let (host, port) = split_host_port(authority);
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        host if host.contains(':') && !host.starts_with('[') => format!("[{host}]"),
        host => host.to_string(),
    };
    match port {
        Some(port) => format!("http://{host}:{port}{path}"),
        None => format!("http://{host}:{DEFAULT_PORT}{path}"),
    }
}

/// Host and port of `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address (which gets
/// brackets). An empty port counts as none.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (authority, None),
        }
    } else if authority.matches(':').count() == 1 {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    } else {
        (authority, None)
    };
    (host, port.filter(|port| !port.is_empty()))
}

/// None for a local server; `Authorization: Bearer` for ollama.com's cloud when a key is set.
pub fn headers(key: Option<&Secret>) -> Vec<(&'static str, HeaderValue)> {
    key.map(|key| {
        let bearer = Secret::new(format!("Bearer {}", key.expose()));
        ("authorization", HeaderValue::Secret(bearer))
    })
    .into_iter()
    .collect()
}

/// The `/api/chat` body: non-streaming, the one tool, and options sized to the request.
pub fn encode(request: &ToolRequest, model: &str) -> Value {
    let tool = &request.tool;
    let system = system_prompt(request);
    let mut messages = vec![
        json!({"role": "system", "content": system}),
        json!({"role": "user", "content": request.user}),
    ];
    for turn in &request.repair_turns {
        match &turn.reply {
            PriorReply::Call(call) => {
                messages.push(json!({
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {
                        "name": call.name,
                        "arguments": arguments_object(&call.arguments),
                    }}],
                }));
                messages.push(
                    json!({"role": "tool", "tool_name": call.name, "content": turn.feedback}),
                );
            }
            PriorReply::Text(text) => {
                messages.push(json!({"role": "assistant", "content": text}));
                messages.push(json!({"role": "user", "content": turn.feedback}));
            }
        }
    }
    json!({
        "model": model,
        // Ollama streams unless told otherwise; decode reads one JSON object.
        "stream": false,
        "messages": messages,
        "tools": [{"type": "function", "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        }}],
        "options": {
            "num_predict": request.max_output_tokens,
            "num_ctx": context_tokens(request, &system),
        },
    })
}

/// `/api/chat` has no `tool_choice`: the only way to ask for the call is to say so.
fn system_prompt(request: &ToolRequest) -> String {
    let name = request.tool.name;
    let demand = format!(
        "Answer only by calling the tool {name} exactly once, with all of its arguments as one JSON object. \
         Do not answer in plain text: an answer without exactly one call of {name} is discarded."
    );
    if request.system.trim().is_empty() {
        demand
    } else {
        format!("{}\n\n{demand}", request.system)
    }
}

/// `num_ctx` for a request: Ollama silently drops the front of a prompt that overflows its
/// window (system prompt and tool first) and still answers 200, so the window is sized to the
/// prompt, the tool schema and the answer. Tokens ≈ bytes / 3 (bytes, not chars: text beyond
/// ASCII costs more tokens per char), rounded up to a power of two so that nearby requests share
/// one loaded window, within [8192, 131072].
fn context_tokens(request: &ToolRequest, system: &str) -> u32 {
    let tool = &request.tool;
    let mut bytes = system.len()
        + request.user.len()
        + tool.name.len()
        + tool.description.len()
        + tool.parameters.to_string().len();
    for turn in &request.repair_turns {
        bytes += turn.feedback.len()
            + match &turn.reply {
                PriorReply::Call(call) => call.name.len() + call.arguments.len(),
                PriorReply::Text(text) => text.len(),
            };
    }
    let estimate = (bytes as u64).div_ceil(3) + u64::from(request.max_output_tokens);
    let window = estimate
        .checked_next_power_of_two()
        .unwrap_or(MAX_CONTEXT_TOKENS)
        .clamp(MIN_CONTEXT_TOKENS, MAX_CONTEXT_TOKENS);
    // The clamp bounds the window by 131072, far below u32::MAX.
    u32::try_from(window).unwrap_or(u32::MAX)
}

/// Replayed arguments must be an object (Ollama parses them into a map); text that is not a
/// JSON object (a refused, broken call) is replayed as `{}`, the feedback says what was wrong.
fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => json!({}),
    }
}

/// One reply: status, headers and body to a call, a classified failure or malformed output.
pub fn decode(reply: &HttpReply, tool_name: &str) -> ModelReply {
    let body = serde_json::from_slice::<Value>(&reply.body).ok();
    if !(200..300).contains(&reply.status) {
        return failed(
            error_failure(reply.status, body.as_ref(), reply),
            Usage::default(),
        );
    }
    let status = reply.status;
    let Some(body) = body else {
        return failed(
            transient(
                format!(
                    "ollama {status} reply is not JSON: {}",
                    excerpt(&reply.body)
                ),
                None,
            ),
            Usage::default(),
        );
    };
    // The shape of an error met while generating: the runner failed, not the request.
    if let Some(error) = body.get("error").and_then(Value::as_str) {
        return failed(
            transient(format!("ollama {status}: {}", error.trim()), None),
            Usage::default(),
        );
    }
    let Some(message) = body.get("message").filter(|message| message.is_object()) else {
        return failed(
            transient(
                format!(
                    "ollama {status} reply is not a chat response: no message in {}",
                    excerpt(&reply.body)
                ),
                None,
            ),
            Usage::default(),
        );
    };
    let usage = usage(&body, usage_estimates(reply));
    let content = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut calls: Vec<ToolCall> = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| calls.iter().map(tool_call).collect())
        .unwrap_or_default();
    if calls.is_empty() {
        // A template whose calls Ollama's parser does not know leaves them in the text.
        calls = text_call::calls(content, tool_name);
    }
    let prior = match calls.first() {
        Some(call) => PriorReply::Call(call.clone()),
        None => PriorReply::Text(content.to_string()),
    };
    if body.get("done_reason").and_then(Value::as_str) == Some("length") {
        return malformed(
            cut_off_message(tool_name, "done_reason length", !calls.is_empty()),
            prior,
            usage,
        );
    }
    match calls.as_slice() {
        [] => malformed(
            format!("the model answered without calling the tool {tool_name}"),
            prior,
            usage,
        ),
        [call] if call.name != tool_name => malformed(
            format!(
                "the model called tool {:?}, but only {tool_name} is offered",
                call.name
            ),
            prior,
            usage,
        ),
        [call] if !is_json_object(&call.arguments) => malformed(
            format!("the arguments of {tool_name} are not a JSON object"),
            prior,
            usage,
        ),
        [call] => ModelReply {
            outcome: ModelOutcome::Call(call.clone()),
            usage,
        },
        several => malformed(
            format!(
                "the model made {} tool calls in one answer, but exactly one call of {tool_name} is allowed",
                several.len()
            ),
            prior,
            usage,
        ),
    }
}

/// A `tool_calls[]` entry. Arguments are an object on the native API; a string (as some
/// templates and proxies send) is kept as the JSON text it claims to be, and checked later.
fn tool_call(call: &Value) -> ToolCall {
    let function = call.get("function");
    let arguments = match function.and_then(|function| function.get("arguments")) {
        None | Some(Value::Null) => "{}".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(arguments) => arguments.to_string(),
    };
    ToolCall {
        id: call
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        name: function
            .and_then(|function| function.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        arguments,
        signature: None,
    }
}

fn is_json_object(text: &str) -> bool {
    matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)))
}

/// `prompt_eval_count` and `eval_count` are omitted when zero or when the prompt was cached.
fn usage(body: &Value, (input, output): (u64, u64)) -> Usage {
    let count = |name: &str, estimate: u64| token_count(body.get(name), name, estimate);
    Usage {
        input_tokens: count("prompt_eval_count", input),
        output_tokens: count("eval_count", output),
        cache_read_tokens: 0,
        cache_write_tokens: 0,
    }
}

/// An error status to transient or fatal, with Ollama's `{"error": "…"}` text and a hint for
/// the two errors a user fixes locally. Never a header value.
fn error_failure(status: u16, body: Option<&Value>, reply: &HttpReply) -> ModelFailure {
    let text = body
        .and_then(|body| body.get("error"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty());
    let mut message = match text {
        Some(text) => format!("ollama {status}: {text}"),
        // Ollama's router answers an unknown path in plain text ("404 page not found").
        None => format!("ollama {status}: {}", excerpt(&reply.body)),
    };
    let text = text.unwrap_or_default();
    if status == 404 && text.contains("model") {
        // Ollama says `model "<name>" not found, try pulling it first` (older servers quote
        // with ').
        let model = quoted(text).unwrap_or("<model>");
        message.push_str(&format!("; pull it with `ollama pull {model}`"));
    } else if status == 400 && text.contains("does not support tools") {
        message.push_str(
            "; choose a model with tool support (`ollama show <model>` lists its capabilities)",
        );
    }
    if is_context_length(status, &[], text) {
        return ModelFailure::ContextLength { message };
    }
    match status {
        408 | 429 | 500..=599 => transient(message, reply.retry_after_ms()),
        _ => ModelFailure::Fatal { message },
    }
}

/// The first non-empty text between a pair of `"` or `'`.
fn quoted(text: &str) -> Option<&str> {
    let start = text.find(['"', '\''])?;
    // The quote is ASCII, so the next byte starts a char.
    let quote = &text[start..=start];
    let rest = &text[start + 1..];
    rest.find(quote)
        .map(|end| &rest[..end])
        .filter(|inner| !inner.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::parse_profile;
    use crate::domain::validate::Rules;
    use crate::llm::{RepairTurn, StepBrief, StepId};
    use crate::tools;

    fn reply(status: u16, body: Value) -> HttpReply {
        HttpReply {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
            request_bytes: 0,
        }
    }

    fn class(reply: &HttpReply) -> (&'static str, String, Option<u64>) {
        match decode(reply, "add_week_details").outcome {
            ModelOutcome::Call(call) => ("call", call.arguments, None),
            ModelOutcome::Failed(ModelFailure::Transient {
                message,
                retry_after_ms,
            }) => ("transient", message, retry_after_ms),
            ModelOutcome::Failed(ModelFailure::Fatal { message }) => ("fatal", message, None),
            ModelOutcome::Failed(ModelFailure::ContextLength { message }) => {
                ("context", message, None)
            }
            ModelOutcome::Failed(ModelFailure::Malformed { message, .. }) => {
                ("malformed", message, None)
            }
        }
    }

    fn request(user: &str, max_output_tokens: u32) -> ToolRequest {
        let profile = parse_profile(
            r#"{"name": "Rider", "age": 40, "weight_kg": 70, "ftp_w": 250, "weekly_hours": 5,
                "available_days": ["Tuesday", "Saturday"], "goals": "fondo", "plan_weeks": 4}"#,
        )
        .expect("the test profile is valid");
        ToolRequest {
            system: "You are a cycling coach.".into(),
            user: user.into(),
            tool: tools::week_tool(),
            repair_turns: Vec::new(),
            max_output_tokens,
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

    fn num_ctx(request: &ToolRequest) -> u64 {
        encode(request, DEFAULT_MODEL)["options"]["num_ctx"]
            .as_u64()
            .expect("num_ctx is a number")
    }

    #[test]
    fn ollama_host_values_become_base_urls() {
        for (host, expected) in [
            ("http://localhost:11434", "http://localhost:11434/api/chat"),
            ("http://localhost:11434/", "http://localhost:11434/api/chat"),
            ("127.0.0.1:11434", "http://127.0.0.1:11434/api/chat"),
            ("127.0.0.1", "http://127.0.0.1:11434/api/chat"),
            ("0.0.0.0", "http://127.0.0.1:11434/api/chat"),
            ("0.0.0.0:9999", "http://127.0.0.1:9999/api/chat"),
            (":8080", "http://127.0.0.1:8080/api/chat"),
            ("gpu-box", "http://gpu-box:11434/api/chat"),
            ("gpu-box:", "http://gpu-box:11434/api/chat"),
            ("gpu-box/ollama/", "http://gpu-box:11434/ollama/api/chat"),
            ("[::1]:8080", "http://[::1]:8080/api/chat"),
            ("[::]", "http://[::1]:11434/api/chat"),
            ("::1", "http://[::1]:11434/api/chat"),
            ("ollama.com", "https://ollama.com/api/chat"),
            ("https://ollama.com", "https://ollama.com/api/chat"),
            ("http://example.com", "http://example.com/api/chat"),
            ("  ", "http://localhost:11434/api/chat"),
        ] {
            assert_eq!(
                endpoint(host, DEFAULT_MODEL),
                expected,
                "OLLAMA_HOST={host:?}"
            );
        }
    }

    #[test]
    fn bare_ipv6_gets_brackets() {
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(base("fe80::1"), "http://[fe80::1]:11434");
        assert_eq!(base("::"), "http://[::1]:11434");
    }

    #[test]
    fn a_key_is_sent_as_a_secret_bearer() {
        assert!(headers(None).is_empty());
        let headers = headers(Some(&Secret::new("ollama-canary")));
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "authorization");
        assert!(
            matches!(&headers[0].1, HeaderValue::Secret(secret) if secret.expose() == "Bearer ollama-canary")
        );
    }

    #[test]
    fn num_ctx_is_a_bounded_power_of_two_that_covers_the_prompt_and_grows_with_it() {
        let mut previous = 0;
        for size in [
            0usize, 1_000, 10_000, 30_000, 60_000, 100_000, 200_000, 400_000, 1_000_000,
        ] {
            let request = request(&"x".repeat(size), 6_000);
            let body = encode(&request, DEFAULT_MODEL);
            let window = num_ctx(&request);
            assert!(window.is_power_of_two(), "{window}");
            assert!((8192..=131_072).contains(&window), "{window}");
            assert!(
                window >= previous,
                "num_ctx shrank from {previous} to {window} at {size} bytes"
            );
            let sent = body["messages"].to_string().len() + body["tools"].to_string().len();
            let estimate = (sent as u64).div_ceil(3) + 6_000;
            assert!(
                window >= estimate.min(131_072),
                "{window} < estimate {estimate} at {size} bytes"
            );
            previous = window;
        }
        assert_eq!(num_ctx(&request("", 100)), 8192);
        assert_eq!(num_ctx(&request(&"x".repeat(1_000_000), 100)), 131_072);
    }

    #[test]
    fn num_ctx_counts_repair_turns() {
        let mut request = request(&"x".repeat(20_000), 6_000);
        let before = num_ctx(&request);
        request.repair_turns.push(RepairTurn {
            reply: PriorReply::Text("y".repeat(30_000)),
            feedback: "z".repeat(10_000),
        });
        assert!(num_ctx(&request) > before);
    }

    #[test]
    fn the_system_prompt_demands_the_one_call() {
        let mut request = request("plan week 1", 6_000);
        let body = encode(&request, DEFAULT_MODEL);
        let system = body["messages"][0]["content"].as_str().unwrap_or_default();
        assert!(
            system.starts_with("You are a cycling coach.\n\n"),
            "{system}"
        );
        assert!(
            system.contains("calling the tool add_week_details exactly once"),
            "{system}"
        );
        request.system.clear();
        let body = encode(&request, DEFAULT_MODEL);
        assert!(body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Answer only by calling"));
    }

    #[test]
    fn status_classification_table() {
        for (status, expected) in [
            (400, "fatal"),
            (401, "fatal"),
            (403, "fatal"),
            (404, "fatal"),
            (408, "transient"),
            (429, "transient"),
            (500, "transient"),
            (502, "transient"),
            (503, "transient"),
            (504, "transient"),
        ] {
            let (kind, message, _) = class(&reply(status, json!({"error": "boom"})));
            assert_eq!(kind, expected, "status {status}");
            assert_eq!(message, format!("ollama {status}: boom"));
        }
        let mut limited = reply(429, json!({"error": "too many requests"}));
        limited.headers.push(("retry-after".into(), "2".into()));
        assert_eq!(class(&limited).2, Some(2_000));
    }

    #[test]
    fn local_errors_say_how_to_fix_them() {
        let missing = reply(
            404,
            json!({"error": "model \"llama3.1:8b\" not found, try pulling it first"}),
        );
        assert_eq!(
            class(&missing).1,
            "ollama 404: model \"llama3.1:8b\" not found, try pulling it first; pull it with `ollama pull llama3.1:8b`"
        );
        let single = reply(404, json!({"error": "model 'qwen2.5-coder' not found"}));
        assert!(class(&single)
            .1
            .ends_with("pull it with `ollama pull qwen2.5-coder`"));
        let wrong_path = HttpReply {
            status: 404,
            headers: Vec::new(),
            body: b"404 page not found".to_vec(),
            request_bytes: 0,
        };
        assert_eq!(
            class(&wrong_path),
            ("fatal", "ollama 404: 404 page not found".into(), None)
        );
        let unnamed = reply(404, json!({"error": "model not found"}));
        assert!(class(&unnamed)
            .1
            .ends_with("pull it with `ollama pull <model>`"));
        let no_tools = reply(
            400,
            json!({"error": "registry.ollama.ai/library/gemma:2b does not support tools"}),
        );
        let (kind, message, _) = class(&no_tools);
        assert_eq!(kind, "fatal");
        assert!(
            message.contains("choose a model with tool support"),
            "{message}"
        );
    }

    #[test]
    fn bodies_that_are_not_ollama_are_transient_and_never_echoed() {
        let html = HttpReply {
            status: 502,
            headers: vec![("authorization".into(), "Bearer canary".into())],
            body: b"<html>bad gateway</html>".to_vec(),
            request_bytes: 0,
        };
        assert_eq!(
            class(&html),
            (
                "transient",
                "ollama 502: <html>bad gateway</html>".into(),
                None
            )
        );
        let garbage = HttpReply {
            status: 200,
            headers: Vec::new(),
            body: b"{\"message\":".to_vec(),
            request_bytes: 0,
        };
        assert_eq!(
            class(&garbage),
            (
                "transient",
                "ollama 200 reply is not JSON: {\"message\":".into(),
                None
            )
        );
        assert_eq!(
            class(&reply(200, json!({"model": "x"}))).1,
            "ollama 200 reply is not a chat response: no message in {\"model\":\"x\"}"
        );
        assert_eq!(
            class(&reply(
                200,
                json!({"error": "an error was encountered while running the model"})
            )),
            (
                "transient",
                "ollama 200: an error was encountered while running the model".into(),
                None
            )
        );
    }

    #[test]
    fn string_arguments_must_be_a_json_object() {
        let call = |arguments: Value| {
            reply(
                200,
                json!({"message": {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "add_week_details", "arguments": arguments}}]}, "done": true, "done_reason": "stop"}),
            )
        };
        assert_eq!(
            class(&call(json!("{\"week_number\": 1}"))),
            ("call", "{\"week_number\": 1}".into(), None)
        );
        assert_eq!(
            class(&call(json!("{\"week_number\": "))).1,
            "the arguments of add_week_details are not a JSON object"
        );
        assert_eq!(
            class(&call(json!("[1]"))).1,
            "the arguments of add_week_details are not a JSON object"
        );
        assert_eq!(
            class(&call(json!([1]))).1,
            "the arguments of add_week_details are not a JSON object"
        );
        assert_eq!(class(&call(Value::Null)), ("call", "{}".into(), None));
    }

    #[test]
    fn a_prompt_over_the_window_is_a_context_failure() {
        let over = json!({"error": "the input length exceeds the context length"});
        assert_eq!(
            class(&reply(400, over)),
            (
                "context",
                "ollama 400: the input length exceeds the context length".into(),
                None
            )
        );
    }

    #[test]
    fn a_call_written_in_the_text_is_the_call() {
        let text = "Week 1 follows.\n<tool_call>{\"name\": \"add_week_details\", \"arguments\": {\"week_number\": 1}}</tool_call>";
        let body = json!({"message": {"role": "assistant", "content": text}, "done": true, "done_reason": "stop"});
        assert_eq!(
            class(&reply(200, body)),
            ("call", r#"{"week_number":1}"#.into(), None)
        );
    }

    #[test]
    fn a_cut_answer_is_never_executed() {
        let body = json!({"message": {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "add_week_details", "arguments": {"week_number": 1}}}]},
            "done": true, "done_reason": "length", "prompt_eval_count": 900, "eval_count": 6000});
        let decoded = decode(&reply(200, body), "add_week_details");
        assert_eq!(
            decoded.usage,
            Usage {
                input_tokens: 900,
                output_tokens: 6000,
                cache_read_tokens: 0,
                cache_write_tokens: 0
            }
        );
        assert!(
            matches!(decoded.outcome, ModelOutcome::Failed(ModelFailure::Malformed { ref message, reply: PriorReply::Call(_) })
            if message.contains("(done_reason length) before the call of add_week_details was complete"))
        );
    }
}
