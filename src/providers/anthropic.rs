//! The Anthropic Messages protocol (`POST /v1/messages`), pure: our forced single-tool request to
//! its JSON, and a raw reply (status, headers, body) to one tool call, a classified failure or
//! malformed output, with the token usage it cost. No IO: `http.rs` sends what `encode` builds.

use serde_json::{json, Value};

use crate::llm::{
    ModelFailure, ModelOutcome, ModelReply, PriorReply, ToolCall, ToolRequest, Usage,
};
use crate::providers::http::{HeaderValue, HttpReply};
use crate::providers::secret::Secret;
use crate::providers::{cut_off_message, excerpt, is_context_length, token_count, usage_estimates};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// The API version every request must name; the only stable one.
pub const API_VERSION: &str = "2023-06-01";

const PROVIDER: &str = "anthropic";

/// `{base}/v1/messages`. A base that already ends in `/v1` is not given a second one, so
/// `--base-url https://proxy/v1` works as well as `https://proxy`.
pub fn endpoint(base_url: &str, _model: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

/// The version header always; the key only when there is one (a local proxy may need none).
pub fn headers(key: Option<&Secret>) -> Vec<(&'static str, HeaderValue)> {
    let mut headers = Vec::with_capacity(2);
    if let Some(key) = key {
        headers.push(("x-api-key", HeaderValue::Secret(key.clone())));
    }
    headers.push((
        "anthropic-version",
        HeaderValue::Plain(API_VERSION.to_string()),
    ));
    headers
}

/// The request body. The tool is forced by name with parallel calls disabled, so a well-behaved
/// reply is exactly one `tool_use` block. `thinking` is never sent: the API rejects it together
/// with a forced tool.
pub fn encode(request: &ToolRequest, model: &str) -> Value {
    let mut messages = vec![json!({"role": "user", "content": user_content(request)})];
    let mut used_ids: Vec<String> = Vec::new();
    for (index, turn) in request.repair_turns.iter().enumerate() {
        let feedback = non_empty(&turn.feedback, "(no details)");
        match &turn.reply {
            PriorReply::Call(call) => {
                let id = call_id(&call.id, index + 1, &used_ids);
                used_ids.push(id.clone());
                messages.push(json!({
                    "role": "assistant",
                    "content": [{
                        "type": "tool_use",
                        "id": id,
                        "name": call.name,
                        "input": input_object(&call.arguments),
                    }],
                }));
                // The result must sit in the very next user message, answering the same id,
                // or the API refuses the whole conversation with a 400.
                messages.push(json!({
                    "role": "user",
                    "content": [{
                        "type": "tool_result",
                        "tool_use_id": id,
                        "content": feedback,
                        "is_error": true,
                    }],
                }));
            }
            PriorReply::Text(text) => {
                // Empty text blocks are a 400, so an empty answer is shown as what it was.
                messages.push(
                    json!({"role": "assistant", "content": non_empty(text, "(no tool call)")}),
                );
                messages.push(json!({"role": "user", "content": feedback}));
            }
        }
    }
    let tool = &request.tool;
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_output_tokens,
        "messages": messages,
        "tools": [{
            "name": tool.name,
            "description": tool.description,
            "input_schema": tool.parameters,
        }],
        "tool_choice": {"type": "tool", "name": tool.name, "disable_parallel_tool_use": true},
    });
    if !request.system.trim().is_empty() {
        // `body` is the object literal above, so indexing inserts the key (it cannot panic).
        // The mark caches the tools and the system prompt: the same for every week of a run,
        // and for every run of a batch at the same step.
        body["system"] = json!([{
            "type": "text",
            "text": request.system,
            "cache_control": {"type": "ephemeral"},
        }]);
    }
    body
}

/// The first user message: with a part shared by every week of the run, that part is its own
/// block with a cache mark, so the weeks after the first read it from the cache.
fn user_content(request: &ToolRequest) -> Value {
    let user = non_empty(&request.user, "(empty prompt)");
    let shared = request.shared_prefix_bytes;
    if shared == 0 || shared >= user.len() || !user.is_char_boundary(shared) {
        return Value::String(user.to_string());
    }
    json!([
        {"type": "text", "text": &user[..shared], "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": &user[shared..]},
    ])
}

/// Classifies one reply. Calls are found by their presence, not by `stop_reason`; a reply cut by
/// the token limit is never executed, even when it holds a call.
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

/// Normalised usage: `input_tokens` counts every prompt token, cached or not (Anthropic reports
/// the uncached part alone), so that it means the same as OpenAI's `prompt_tokens` and Gemini's
/// `promptTokenCount`; the cache fields say how many of them were read from or written to the
/// cache.
fn usage(body: &Value, (input, output): (u64, u64)) -> Usage {
    let usage = &body["usage"];
    let count = |name: &str, estimate: u64| token_count(usage.get(name), name, estimate);
    // An impossible cache count is estimated as 0, not as the whole request: it is added to
    // the uncached part, which already stands for the request.
    let read = count("cache_read_input_tokens", 0);
    let write = count("cache_creation_input_tokens", 0);
    Usage {
        input_tokens: count("input_tokens", input)
            .saturating_add(read)
            .saturating_add(write),
        output_tokens: count("output_tokens", output),
        cache_read_tokens: read,
        cache_write_tokens: write,
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
    if body["type"] == "error" {
        // Only streams carry errors in a 200, but a proxy might: classify by the error type.
        let (kind, message) = error_detail(Some(body), &reply.body);
        let text = describe(status, &kind, &message, body);
        return ModelOutcome::Failed(classify_by_type(
            &kind,
            &message,
            text,
            reply.retry_after_ms(),
        ));
    }
    let Some(content) = body["content"].as_array() else {
        return transient(
            format!(
                "{PROVIDER} {status} reply is not a message: no content array in {}",
                excerpt(&reply.body)
            ),
            None,
        );
    };
    let stop_reason = body["stop_reason"].as_str().unwrap_or("none");
    let calls: Vec<ToolCall> = content
        .iter()
        .filter(|block| block["type"] == "tool_use")
        .map(|block| ToolCall {
            id: block["id"].as_str().unwrap_or_default().to_string(),
            name: block["name"].as_str().unwrap_or_default().to_string(),
            arguments: block
                .get("input")
                .cloned()
                .unwrap_or_else(|| json!({}))
                .to_string(),
            signature: None,
        })
        .collect();
    let text = content
        .iter()
        .filter(|block| block["type"] == "text")
        .filter_map(|block| block["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if stop_reason == "refusal" {
        // The model declined on policy grounds; asking the same model again does not help.
        return ModelOutcome::Failed(ModelFailure::Fatal {
            message: format!(
                "{PROVIDER} refused the request (stop_reason refusal){}",
                text_suffix(&text)
            ),
        });
    }
    let prior = || match calls.first() {
        Some(call) => PriorReply::Call(call.clone()),
        None => PriorReply::Text(text.clone()),
    };
    if matches!(stop_reason, "max_tokens" | "model_context_window_exceeded") {
        // A cut call may carry an empty or partial input that happens to parse.
        return malformed(
            cut_off_message(
                tool_name,
                &format!("stop_reason {stop_reason}"),
                !calls.is_empty(),
            ),
            prior(),
        );
    }
    match calls.as_slice() {
        [] => malformed(
            format!("the reply has no tool call (stop_reason {stop_reason})"),
            prior(),
        ),
        [call] if call.name != tool_name => malformed(
            format!(
                "the reply called tool {:?}, but only {tool_name} is offered",
                call.name
            ),
            prior(),
        ),
        [call] => ModelOutcome::Call(call.clone()),
        many => malformed(
            format!(
                "the reply has {} tool calls; only one call of {tool_name} is accepted",
                many.len()
            ),
            prior(),
        ),
    }
}

/// A non-2xx reply. Quota and billing problems are fatal whatever the status; then the server's
/// own `x-should-retry` decides (the official SDKs obey it first); then the status.
fn failure(reply: &HttpReply, body: Option<&Value>) -> ModelFailure {
    let status = reply.status;
    let (kind, message) = error_detail(body, &reply.body);
    let text = describe(status, &kind, &message, body.unwrap_or(&Value::Null));
    let retry_after_ms = reply.retry_after_ms();
    if is_billing(&kind, &message) {
        return ModelFailure::Fatal { message: text };
    }
    if is_context_length(status, &[&kind], &message) {
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
    // 408 timeout, 409 conflict, 429 rate limit, 5xx including 529 overloaded: worth a wait.
    if matches!(status, 408 | 409 | 429 | 500..=599) {
        ModelFailure::Transient {
            message: text,
            retry_after_ms,
        }
    } else {
        ModelFailure::Fatal { message: text }
    }
}

/// For an error without a usable status (an error body in a 200): by the documented error types.
fn classify_by_type(
    kind: &str,
    message: &str,
    text: String,
    retry_after_ms: Option<u64>,
) -> ModelFailure {
    let retryable = matches!(
        kind,
        "rate_limit_error" | "overloaded_error" | "api_error" | "timeout_error"
    );
    if retryable && !is_billing(kind, message) {
        ModelFailure::Transient {
            message: text,
            retry_after_ms,
        }
    } else {
        ModelFailure::Fatal { message: text }
    }
}

/// Billing problems come as a 402 `billing_error`, or as a 400 about the credit balance.
fn is_billing(kind: &str, message: &str) -> bool {
    kind == "billing_error" || message.to_ascii_lowercase().contains("credit balance")
}

/// The error type and message of an error body `{"type":"error","error":{"type","message"}}`,
/// or an excerpt of whatever else came back (a proxy's HTML page, an empty body).
fn error_detail(body: Option<&Value>, raw: &[u8]) -> (String, String) {
    let error = body.map(|body| &body["error"]).unwrap_or(&Value::Null);
    let kind = error["type"].as_str().unwrap_or_default().to_string();
    let message = match error["message"].as_str() {
        Some(message) => message.to_string(),
        None => excerpt(raw),
    };
    (kind, message)
}

/// `anthropic 429 rate_limit_error: <message> (request_id req_…)`. Built from the body only:
/// header values never reach a message, so no key can leak through one.
fn describe(status: u16, kind: &str, message: &str, body: &Value) -> String {
    let kind = if kind.is_empty() {
        String::new()
    } else {
        format!(" {kind}")
    };
    let request = match body["request_id"].as_str() {
        Some(id) => format!(" (request_id {id})"),
        None => String::new(),
    };
    format!("{PROVIDER} {status}{kind}: {message}{request}")
}

fn text_suffix(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", excerpt(text.as_bytes()))
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

fn non_empty(text: &str, fallback: &str) -> String {
    if text.trim().is_empty() {
        fallback.to_string()
    } else {
        text.to_string()
    }
}

/// The arguments as the `input` object the API requires; anything that is not a JSON object
/// (a cut or broken call) is replayed as `{}`, the feedback saying what was wrong with it.
fn input_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({}),
    }
}

/// The call's own id when the API would accept it; otherwise (empty, from another provider, or
/// already used in this conversation) a stable stand-in for repair turn `turn`.
fn call_id(id: &str, turn: usize, used: &[String]) -> String {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid && !used.iter().any(|earlier| earlier == id) {
        id.to_string()
    } else {
        format!("toolu_repair_{turn}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::parse_profile;
    use crate::domain::validate::Rules;
    use crate::llm::{RepairTurn, StepBrief, StepId, ToolSpec};

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

    fn error_body(kind: &str, message: &str) -> Value {
        json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"})
    }

    fn message(content: Value, stop_reason: &str) -> Value {
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": content, "stop_reason": stop_reason,
            "usage": {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 5}
        })
    }

    #[test]
    fn the_shared_part_of_the_prompt_and_the_system_prompt_carry_cache_marks() {
        let mut week = request(Vec::new());
        week.user = "# Athlete\nA, FTP 250 W\n# The request\nWeek 3.".into();
        week.shared_prefix_bytes = "# Athlete\nA, FTP 250 W\n".len();
        let body = encode(&week, "m");
        let mark = json!({"type": "ephemeral"});
        assert_eq!(body["system"][0]["cache_control"], mark);
        let content = &body["messages"][0]["content"];
        assert_eq!(content[0]["text"], "# Athlete\nA, FTP 250 W\n");
        assert_eq!(content[0]["cache_control"], mark);
        assert_eq!(content[1]["text"], "# The request\nWeek 3.");
        assert!(content[1].get("cache_control").is_none());
        // Nothing shared, or everything: one plain text.
        for shared in [0, week.user.len()] {
            week.shared_prefix_bytes = shared;
            assert!(encode(&week, "m")["messages"][0]["content"].is_string());
        }
    }

    fn tool_use(id: &str, name: &str) -> Value {
        json!({"type": "tool_use", "id": id, "name": name, "input": {"week_number": 1, "workouts": []}})
    }

    #[test]
    fn a_prompt_over_the_window_is_a_context_failure() {
        let reply = http(
            400,
            &[("x-should-retry", "false")],
            error_body(
                "invalid_request_error",
                "prompt is too long: 210000 tokens > 200000 maximum",
            ),
        );
        assert_eq!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::ContextLength {
                message: "anthropic 400 invalid_request_error: prompt is too long: 210000 tokens > 200000 maximum (request_id req_1)".into()
            })
        );
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
            tool: ToolSpec {
                name: TOOL,
                description: "Record a week.",
                parameters: json!({"type": "object"}).into(),
            },
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
    fn endpoint_appends_the_messages_path_once() {
        assert_eq!(
            endpoint(DEFAULT_BASE_URL, DEFAULT_MODEL),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8080/", "m"),
            "http://127.0.0.1:8080/v1/messages"
        );
        assert_eq!(
            endpoint("https://proxy.example/v1/", "m"),
            "https://proxy.example/v1/messages"
        );
    }

    #[test]
    fn headers_carry_the_version_and_the_key_as_a_secret() {
        let key = Secret::new("sk-ant-canary");
        let headers = headers(Some(&key));
        let names: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["x-api-key", "anthropic-version"]);
        assert!(
            matches!(&headers[0].1, HeaderValue::Secret(secret) if secret.expose() == "sk-ant-canary")
        );
        assert!(matches!(&headers[1].1, HeaderValue::Plain(version) if version == "2023-06-01"));
        let without: Vec<&str> = super::headers(None).iter().map(|(name, _)| *name).collect();
        assert_eq!(without, ["anthropic-version"]);
    }

    #[test]
    fn one_call_of_the_offered_tool_is_the_call() {
        let reply = http(
            200,
            &[],
            message(json!([tool_use("toolu_1", TOOL)]), "tool_use"),
        );
        let decoded = decode(&reply, TOOL);
        assert_eq!(
            decoded.outcome,
            ModelOutcome::Call(ToolCall {
                id: "toolu_1".into(),
                name: TOOL.into(),
                arguments: r#"{"week_number":1,"workouts":[]}"#.into(),
                signature: None,
            })
        );
        assert_eq!(
            decoded.usage,
            Usage {
                input_tokens: 135,
                output_tokens: 20,
                cache_read_tokens: 30,
                cache_write_tokens: 5
            }
        );
    }

    #[test]
    fn rate_limit_429_is_transient_with_the_server_wait() {
        let reply = http(
            429,
            &[("retry-after", "7")],
            error_body(
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
        );
        assert_eq!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Transient {
                message: "anthropic 429 rate_limit_error: Number of request tokens has exceeded your per-minute rate limit (request_id req_1)".into(),
                retry_after_ms: Some(7000),
            })
        );
    }

    #[test]
    fn billing_errors_are_fatal_even_as_429() {
        let reply = http(
            429,
            &[("retry-after", "7"), ("x-should-retry", "true")],
            error_body(
                "billing_error",
                "Your credit balance is too low to access the Anthropic API.",
            ),
        );
        assert!(
            matches!(outcome(&reply), ModelOutcome::Failed(ModelFailure::Fatal { message }) if message.starts_with("anthropic 429 billing_error: Your credit balance"))
        );
        let reply = http(
            400,
            &[],
            error_body(
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API.",
            ),
        );
        assert!(matches!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Fatal { .. })
        ));
    }

    #[test]
    fn overloaded_529_and_server_errors_are_transient() {
        for (status, kind) in [
            (529, "overloaded_error"),
            (500, "api_error"),
            (503, ""),
            (408, ""),
            (409, ""),
        ] {
            let reply = http(
                status,
                &[("retry-after-ms", "1500")],
                error_body(kind, "try later"),
            );
            assert_eq!(
                outcome(&reply),
                ModelOutcome::Failed(ModelFailure::Transient {
                    message: if kind.is_empty() {
                        format!("anthropic {status}: try later (request_id req_1)")
                    } else {
                        format!("anthropic {status} {kind}: try later (request_id req_1)")
                    },
                    retry_after_ms: Some(1500),
                }),
                "status {status}"
            );
        }
    }

    #[test]
    fn client_errors_are_fatal() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
        ] {
            let reply = http(status, &[], error_body(kind, "no"));
            assert_eq!(
                outcome(&reply),
                ModelOutcome::Failed(ModelFailure::Fatal {
                    message: format!("anthropic {status} {kind}: no (request_id req_1)")
                }),
            );
        }
    }

    #[test]
    fn the_should_retry_header_overrides_the_status() {
        let no = http(
            503,
            &[("x-should-retry", "false")],
            error_body("api_error", "x"),
        );
        assert!(matches!(
            outcome(&no),
            ModelOutcome::Failed(ModelFailure::Fatal { .. })
        ));
        let yes = http(
            400,
            &[("x-should-retry", "true")],
            error_body("invalid_request_error", "x"),
        );
        assert!(matches!(
            outcome(&yes),
            ModelOutcome::Failed(ModelFailure::Transient { .. })
        ));
    }

    #[test]
    fn a_non_json_error_body_is_quoted_without_headers() {
        let reply = HttpReply {
            status: 502,
            headers: vec![("x-api-key".into(), "sk-ant-canary".into())],
            body: b"<html>\n  <body>Bad gateway</body>\n</html>".to_vec(),
            request_bytes: 0,
        };
        let ModelOutcome::Failed(ModelFailure::Transient { message, .. }) = outcome(&reply) else {
            panic!("a 502 is transient");
        };
        assert_eq!(
            message,
            "anthropic 502: <html> <body>Bad gateway</body> </html>"
        );
        assert!(!message.contains("canary"));
        let empty = HttpReply {
            status: 500,
            headers: vec![],
            body: vec![],
            request_bytes: 0,
        };
        assert!(
            matches!(outcome(&empty), ModelOutcome::Failed(ModelFailure::Transient { message, .. }) if message == "anthropic 500: an empty body")
        );
    }

    #[test]
    fn no_call_is_malformed_with_the_text() {
        let reply = http(
            200,
            &[],
            message(
                json!([{"type": "text", "text": "Here is your plan."}]),
                "end_turn",
            ),
        );
        assert_eq!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Malformed {
                message: "the reply has no tool call (stop_reason end_turn)".into(),
                reply: PriorReply::Text("Here is your plan.".into()),
            })
        );
    }

    #[test]
    fn two_calls_are_malformed_with_the_first() {
        let reply = http(
            200,
            &[],
            message(
                json!([tool_use("toolu_1", TOOL), tool_use("toolu_2", TOOL)]),
                "tool_use",
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
        assert_eq!(call.id, "toolu_1");
    }

    #[test]
    fn a_call_of_another_tool_is_malformed() {
        let reply = http(
            200,
            &[],
            message(json!([tool_use("toolu_1", "get_weather")]), "tool_use"),
        );
        assert!(matches!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Malformed { message, reply: PriorReply::Call(_) })
                if message == "the reply called tool \"get_weather\", but only add_week_details is offered"
        ));
    }

    #[test]
    fn a_truncated_reply_is_malformed_even_with_a_call() {
        for stop_reason in ["max_tokens", "model_context_window_exceeded"] {
            let reply = http(
                200,
                &[],
                message(json!([tool_use("toolu_1", TOOL)]), stop_reason),
            );
            let decoded = decode(&reply, TOOL);
            let ModelOutcome::Failed(ModelFailure::Malformed {
                message,
                reply: PriorReply::Call(call),
            }) = decoded.outcome
            else {
                panic!("a truncated reply is malformed");
            };
            assert!(
                message.contains(&format!("(stop_reason {stop_reason})")),
                "{message}"
            );
            assert_eq!(call.id, "toolu_1");
            assert_eq!(
                decoded.usage.output_tokens, 20,
                "a cut reply still cost tokens"
            );
        }
    }

    #[test]
    fn a_refusal_is_fatal() {
        let reply = http(
            200,
            &[],
            message(
                json!([{"type": "text", "text": "I can't help."}]),
                "refusal",
            ),
        );
        assert!(matches!(
            outcome(&reply),
            ModelOutcome::Failed(ModelFailure::Fatal { message }) if message == "anthropic refused the request (stop_reason refusal): I can't help."
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
            matches!(outcome(&not_json), ModelOutcome::Failed(ModelFailure::Transient { message, .. }) if message == "anthropic 200 reply is not JSON: upstream hiccup")
        );
        let wrong_shape = http(200, &[], json!({"ok": true}));
        assert!(
            matches!(outcome(&wrong_shape), ModelOutcome::Failed(ModelFailure::Transient { message, .. }) if message.starts_with("anthropic 200 reply is not a message"))
        );
        let overloaded = http(200, &[], error_body("overloaded_error", "Overloaded"));
        assert!(matches!(
            outcome(&overloaded),
            ModelOutcome::Failed(ModelFailure::Transient { .. })
        ));
    }

    #[test]
    fn other_content_blocks_are_skipped() {
        let content = json!([
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            {"type": "text", "text": "Calling the tool."},
            tool_use("toolu_1", TOOL)
        ]);
        let reply = http(200, &[], message(content, "tool_use"));
        assert!(matches!(outcome(&reply), ModelOutcome::Call(call) if call.id == "toolu_1"));
    }

    #[test]
    fn repair_turns_pair_each_call_with_its_result() {
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
                turn(call("toolu_x", "{\"cut"), "not JSON"),
                turn(call("toolu_x", "[1]"), "not an object"),
                turn(PriorReply::Text(" ".into()), "call the tool"),
            ]),
            "claude-test",
        );
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 9);
        let ids: Vec<&str> = [1, 3, 5]
            .iter()
            .map(|&i| messages[i]["content"][0]["id"].as_str().expect("an id"))
            .collect();
        assert_eq!(
            ids,
            ["toolu_repair_1", "toolu_x", "toolu_repair_3"],
            "empty and repeated ids are replaced"
        );
        for i in [1, 3, 5] {
            assert_eq!(
                messages[i + 1]["content"][0]["tool_use_id"],
                messages[i]["content"][0]["id"]
            );
            assert_eq!(messages[i + 1]["content"][0]["is_error"], true);
        }
        assert_eq!(
            messages[1]["content"][0]["input"],
            json!({"week_number": 1})
        );
        assert_eq!(messages[3]["content"][0]["input"], json!({}));
        assert_eq!(messages[5]["content"][0]["input"], json!({}));
        assert_eq!(
            messages[7],
            json!({"role": "assistant", "content": "(no tool call)"})
        );
        assert_eq!(
            messages[8],
            json!({"role": "user", "content": "call the tool"})
        );
        assert!(body.get("thinking").is_none());
        assert_eq!(
            body["tool_choice"],
            json!({"type": "tool", "name": TOOL, "disable_parallel_tool_use": true})
        );
    }
}
