//! The Gemini `generateContent` protocol (v1beta), as a pure pair: `encode` forces the one tool
//! with `mode: ANY` and replays repair turns with their thought signatures, and `decode` turns
//! Google's reply into one call, a classified failure or malformed output. No IO.

use serde_json::{json, Map, Value};

use crate::llm::{
    ModelFailure, ModelOutcome, ModelReply, PriorReply, ToolCall, ToolRequest, Usage,
};
use crate::providers::http::{HeaderValue, HttpReply};
use crate::providers::secret::Secret;
use crate::providers::{
    excerpt, failed, is_context_length, malformed, token_count, transient, usage_estimates,
};

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";
pub const DEFAULT_MODEL: &str = "gemini-2.5-flash";

/// The documented stand-in for a replayed call that has no real thought signature.
const NO_SIGNATURE: &str = "skip_thought_signature_validator";

/// `{base}/models/{model}:generateContent`. ListModels spells models `models/…`, so that prefix
/// is accepted too rather than doubled.
pub fn endpoint(base_url: &str, model: &str) -> String {
    let model = model.trim();
    let model = model.strip_prefix("models/").unwrap_or(model);
    format!(
        "{}/models/{model}:generateContent",
        base_url.trim().trim_end_matches('/')
    )
}

/// The key travels in `x-goog-api-key`, never as `?key=`: URLs end up in logs and in transport
/// error messages, headers marked sensitive do not.
pub fn headers(key: Option<&Secret>) -> Vec<(&'static str, HeaderValue)> {
    key.map(|key| ("x-goog-api-key", HeaderValue::Secret(key.clone())))
        .into_iter()
        .collect()
}

/// The `generateContent` body. The model is in the URL, not the body.
pub fn encode(request: &ToolRequest, _model: &str) -> Value {
    let tool = &request.tool;
    let mut contents = vec![json!({"role": "user", "parts": [{"text": request.user}]})];
    for turn in &request.repair_turns {
        match &turn.reply {
            // Gemini refuses a functionCall without a name; such a call is replayed as text.
            PriorReply::Call(call) if call.name.is_empty() => {
                let text = format!(
                    "(a function call without a name, arguments {})",
                    call.arguments
                );
                contents.push(json!({"role": "model", "parts": [{"text": text}]}));
                contents.push(json!({"role": "user", "parts": [{"text": turn.feedback}]}));
            }
            PriorReply::Call(call) => {
                let mut function_call = Map::new();
                function_call.insert("name".into(), json!(call.name));
                function_call.insert("args".into(), arguments_object(&call.arguments));
                let mut function_response = Map::new();
                function_response.insert("name".into(), json!(call.name));
                if !call.id.is_empty() {
                    function_call.insert("id".into(), json!(call.id));
                    function_response.insert("id".into(), json!(call.id));
                }
                function_response.insert("response".into(), json!({"error": turn.feedback}));
                let mut part = Map::new();
                part.insert("functionCall".into(), Value::Object(function_call));
                // Gemini 2.5/3 reject a replayed call that lost its signature: it goes back
                // unchanged, on the same part. A call that came without one (a model that did
                // not think, or another provider's call in a resumed run) carries the value the
                // thought-signature docs give for calls with no real signature.
                let signature = call.signature.as_deref().unwrap_or(NO_SIGNATURE);
                part.insert("thoughtSignature".into(), json!(signature));
                contents.push(json!({"role": "model", "parts": [part]}));
                // One Content holds the answers to every call of the model turn; a refused turn
                // is replayed with its one call, so this Content has exactly one part.
                contents.push(
                    json!({"role": "user", "parts": [{"functionResponse": function_response}]}),
                );
            }
            PriorReply::Text(text) => {
                contents.push(json!({"role": "model", "parts": [{"text": replayable_text(text)}]}));
                contents.push(json!({"role": "user", "parts": [{"text": turn.feedback}]}));
            }
        }
    }
    json!({
        "systemInstruction": {"parts": [{"text": request.system}]},
        "contents": contents,
        // `parametersJsonSchema` takes JSON Schema as is; the OpenAPI-subset `parameters`
        // refuses `additionalProperties` and type arrays, which our schemas use.
        "tools": [{"functionDeclarations": [{
            "name": tool.name,
            "description": tool.description,
            "parametersJsonSchema": tool.parameters,
        }]}],
        "toolConfig": {"functionCallingConfig": {
            "mode": "ANY",
            "allowedFunctionNames": [tool.name],
        }},
        "generationConfig": {"maxOutputTokens": request.max_output_tokens},
    })
}

/// Replayed arguments must be a `Struct`; text that is not a JSON object (a refused, broken
/// call) is replayed as `{}`, the feedback says what was wrong.
fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => json!({}),
    }
}

/// Gemini refuses an empty text part ("empty text parameter"), and an answer with no text and
/// no call is still a model turn that must sit between the user turns.
fn replayable_text(text: &str) -> &str {
    if text.trim().is_empty() {
        "(no text and no tool call)"
    } else {
        text
    }
}

/// One reply: status, headers and body to a call, a classified failure or malformed output.
pub fn decode(reply: &HttpReply, tool_name: &str) -> ModelReply {
    let body = match serde_json::from_slice::<Value>(&reply.body) {
        // The streaming endpoints wrap each body in an array; accept that shape as well.
        Ok(Value::Array(mut items)) if items.len() == 1 => Some(items.remove(0)),
        Ok(value) => Some(value),
        Err(_) => None,
    };
    let error = body
        .as_ref()
        .and_then(|body| body.get("error"))
        .filter(|error| error.is_object());
    if !(200..300).contains(&reply.status) || error.is_some() {
        // A 200 carrying an error object is classified by the error's own code.
        let status = error
            .and_then(|error| error.get("code"))
            .and_then(Value::as_u64)
            .and_then(|code| u16::try_from(code).ok())
            .filter(|_| (200..300).contains(&reply.status))
            .unwrap_or(reply.status);
        return failed(error_failure(status, error, reply), Usage::default());
    }
    match body {
        Some(body) => decode_response(
            &body,
            &reply.body,
            tool_name,
            reply.status,
            usage_estimates(reply),
        ),
        None => failed(
            transient(
                format!(
                    "gemini {} reply is not JSON: {}",
                    reply.status,
                    excerpt(&reply.body)
                ),
                None,
            ),
            Usage::default(),
        ),
    }
}

fn decode_response(
    body: &Value,
    raw: &[u8],
    tool_name: &str,
    status: u16,
    estimates: (u64, u64),
) -> ModelReply {
    let is_response = ["candidates", "promptFeedback", "usageMetadata"]
        .iter()
        .any(|field| body.get(field).is_some());
    if !is_response {
        return failed(
            transient(
                format!(
                    "gemini {status} reply is not a generateContent response: no candidates, promptFeedback or usageMetadata in {}",
                    excerpt(raw)
                ),
                None,
            ),
            Usage::default(),
        );
    }
    let usage = usage(body.get("usageMetadata"), estimates);
    let Some(candidate) = body
        .get("candidates")
        .and_then(Value::as_array)
        .and_then(|candidates| candidates.first())
    else {
        return malformed(
            no_candidate_message(body.get("promptFeedback")),
            PriorReply::Text(String::new()),
            usage,
        );
    };
    let parts = candidate
        .get("content")
        .and_then(|content| content.get("parts"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let calls: Vec<ToolCall> = parts.iter().filter_map(function_call).collect();
    // Thought summaries are the model's notes, not its answer: they are not replayed as text.
    let text: String = parts
        .iter()
        .filter(|part| part.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect();
    // A refused answer is replayed with its first call: in a parallel batch only the first
    // call carries the thought signature.
    let prior = match calls.first() {
        Some(call) => PriorReply::Call(call.clone()),
        None => PriorReply::Text(text.clone()),
    };
    if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
        // Only a normal stop is executed: a call from a cut, blocked or unknown ending is not
        // known to be complete.
        if !matches!(reason, "STOP" | "FINISH_REASON_UNSPECIFIED") {
            let detail = candidate.get("finishMessage").and_then(Value::as_str);
            return malformed(finish_message(reason, detail), prior, usage);
        }
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
                "the model made {} function calls in one answer, but exactly one call of {tool_name} is allowed",
                several.len()
            ),
            prior,
            usage,
        ),
    }
}

/// The call of a `functionCall` part, with the part's thought signature. `args` is optional in
/// the API (a call without arguments has none): absent means `{}`.
fn function_call(part: &Value) -> Option<ToolCall> {
    let call = part.get("functionCall").filter(|call| call.is_object())?;
    let arguments = match call.get("args") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(args) => args.to_string(),
    };
    Some(ToolCall {
        id: text_field(call, "id"),
        name: text_field(call, "name"),
        arguments,
        signature: part
            .get("thoughtSignature")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

fn text_field(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn is_json_object(text: &str) -> bool {
    matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)))
}

fn finish_message(reason: &str, detail: Option<&str>) -> String {
    let what = match reason {
        "MAX_TOKENS" => "the answer was cut off at the output token limit",
        "SAFETY" | "IMAGE_SAFETY" => "gemini stopped the answer for safety reasons",
        "RECITATION" | "IMAGE_RECITATION" => {
            "gemini stopped the answer because it recited training data"
        }
        "MALFORMED_FUNCTION_CALL" => "the model produced a function call gemini could not parse",
        "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_PROHIBITED_CONTENT" => {
            "gemini blocked the answer's content"
        }
        "UNEXPECTED_TOOL_CALL" => "the model called a tool that is not offered",
        "TOO_MANY_TOOL_CALLS" => "the model made too many tool calls",
        "LANGUAGE" => "the model answered in an unsupported language",
        _ => "gemini ended the answer early",
    };
    match detail.map(str::trim).filter(|detail| !detail.is_empty()) {
        Some(detail) => format!("{what} (finishReason {reason}: {detail})"),
        None => format!("{what} (finishReason {reason})"),
    }
}

/// Why there is no candidate: a blocked prompt names its reason in `promptFeedback`.
fn no_candidate_message(feedback: Option<&Value>) -> String {
    let field = |name: &str| {
        feedback
            .and_then(|feedback| feedback.get(name))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    match (field("blockReason"), field("blockReasonMessage")) {
        (Some(reason), Some(detail)) => {
            format!("gemini blocked the prompt (blockReason {reason}: {detail})")
        }
        (Some(reason), None) => format!("gemini blocked the prompt (blockReason {reason})"),
        (None, Some(detail)) => format!("gemini returned no candidates ({detail})"),
        (None, None) => "gemini returned no candidates".to_string(),
    }
}

/// Gemini's `promptTokenCount` already includes `cachedContentTokenCount`: input counts every
/// prompt token and cache_read says how many of them were cached. Thoughts are billed as output
/// but are not in `candidatesTokenCount`.
fn usage(meta: Option<&Value>, (input, output): (u64, u64)) -> Usage {
    let count = |name: &str, estimate: u64| {
        token_count(meta.and_then(|meta| meta.get(name)), name, estimate)
    };
    // The parts added to the main counts are estimated as 0 when impossible: the main count
    // already stands for the request.
    Usage {
        input_tokens: count("promptTokenCount", input)
            .saturating_add(count("toolUsePromptTokenCount", 0)),
        output_tokens: count("candidatesTokenCount", output)
            .saturating_add(count("thoughtsTokenCount", 0)),
        cache_read_tokens: count("cachedContentTokenCount", 0),
        cache_write_tokens: 0,
    }
}

/// An error status (or an error object in a 2xx body) to transient or fatal. The message names
/// the status and Google's own message; never `details` (DebugInfo can quote the key) nor
/// headers.
fn error_failure(status: u16, error: Option<&Value>, reply: &HttpReply) -> ModelFailure {
    let field = |name: &str| {
        error
            .and_then(|error| error.get(name))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let message = match (field("status"), field("message")) {
        (Some(code), Some(text)) => format!("gemini {status} {code}: {text}"),
        (None, Some(text)) => format!("gemini {status}: {text}"),
        (Some(code), None) => format!("gemini {status} {code}"),
        (None, None) => format!("gemini {status}: {}", excerpt(&reply.body)),
    };
    if is_context_length(
        status,
        &[field("status").unwrap_or_default()],
        field("message").unwrap_or_default(),
    ) {
        return ModelFailure::ContextLength { message };
    }
    match status {
        429 => match quota_exhausted(error, field("message")) {
            Some(why) => ModelFailure::Fatal {
                message: format!("{message} ({why})"),
            },
            None => transient(
                message,
                retry_delay_ms(error).or_else(|| reply.retry_after_ms()),
            ),
        },
        // A 2xx status here is an error object without a code inside a success body: not a
        // refusal of the request, so worth another try.
        200..=299 | 408 | 500..=599 => transient(message, reply.retry_after_ms()),
        _ => ModelFailure::Fatal { message },
    }
}

/// Why a 429 cannot clear by waiting, if it cannot: a per-day quota is used up until it resets,
/// and a quota whose limit is 0 (a model the tier does not include) never clears. Structured
/// details decide when present: the free tier's per-minute 429 also mentions "billing".
fn quota_exhausted(error: Option<&Value>, message: Option<&str>) -> Option<String> {
    let details = error
        .and_then(|error| error.get("details"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut structured = false;
    for detail in details {
        let kind = detail
            .get("@type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind.ends_with("google.rpc.QuotaFailure") {
            let violations = detail
                .get("violations")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for violation in violations {
                let id = violation
                    .get("quotaId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !id.is_empty() {
                    structured = true;
                }
                if is_daily(id) {
                    return Some(format!(
                        "the daily quota {id} is used up until it resets at midnight Pacific time"
                    ));
                }
                if violation.get("quotaValue").and_then(Value::as_str) == Some("0") {
                    return Some(format!(
                        "the quota {id} has a limit of 0 for this project and model"
                    ));
                }
            }
        } else if kind.ends_with("google.rpc.ErrorInfo") {
            let metadata = detail.get("metadata");
            let meta = |name: &str| {
                metadata
                    .and_then(|metadata| metadata.get(name))
                    .and_then(Value::as_str)
            };
            if let Some(limit) = meta("quota_limit") {
                structured = true;
                if is_daily(limit) {
                    return Some(format!(
                        "the daily quota {limit} is used up until it resets at midnight Pacific time"
                    ));
                }
                if meta("quota_limit_value") == Some("0") {
                    return Some(format!(
                        "the quota {limit} has a limit of 0 for this project and model"
                    ));
                }
            }
        }
    }
    if structured {
        return None;
    }
    let message = message.unwrap_or_default().to_ascii_lowercase();
    let daily = ["per day", "perday", "daily", "for the day"];
    if daily.iter().any(|needle| message.contains(needle)) {
        Some("a daily quota is used up until it resets at midnight Pacific time".to_string())
    } else if message.contains("billing") {
        Some("the quota is used up; check the plan and billing".to_string())
    } else {
        None
    }
}

fn is_daily(quota: &str) -> bool {
    let quota = quota.to_ascii_lowercase();
    quota.contains("perday") || quota.contains("per_day") || quota.contains("daily")
}

/// `RetryInfo.retryDelay`: a proto `Duration`, in JSON a string of seconds ("36s", "0.5s");
/// the object form `{seconds, nanos}` is accepted too.
fn retry_delay_ms(error: Option<&Value>) -> Option<u64> {
    let details = error?.get("details")?.as_array()?;
    let delay = details
        .iter()
        .filter(|detail| {
            detail
                .get("@type")
                .and_then(Value::as_str)
                .is_some_and(|kind| kind.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|detail| detail.get("retryDelay"))?;
    let seconds = match delay {
        Value::String(text) => text.trim().strip_suffix('s')?.trim().parse::<f64>().ok()?,
        Value::Object(_) => {
            let part = |name: &str| {
                delay.get(name).and_then(|value| {
                    value
                        .as_f64()
                        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
                })
            };
            part("seconds").unwrap_or(0.0) + part("nanos").unwrap_or(0.0) / 1e9
        }
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: Value) -> HttpReply {
        HttpReply {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
            request_bytes: 0,
        }
    }

    fn error_body(code: u16, status: &str, message: &str, details: Value) -> Value {
        json!({"error": {"code": code, "status": status, "message": message, "details": details}})
    }

    /// The class of a reply's failure, its message and its retry hint.
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

    #[test]
    fn an_input_over_the_window_is_a_context_failure() {
        let over = error_body(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            json!([]),
        );
        assert_eq!(class(&reply(400, over)).0, "context");
    }

    #[test]
    fn endpoint_trims_the_slash_and_a_models_prefix() {
        assert_eq!(
            endpoint(DEFAULT_BASE_URL, DEFAULT_MODEL),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8080/v1beta/", "models/gemini-2.5-pro"),
            "http://127.0.0.1:8080/v1beta/models/gemini-2.5-pro:generateContent"
        );
    }

    #[test]
    fn the_key_is_a_secret_header_not_a_query() {
        let key = Secret::new("AIza-canary");
        let headers = headers(Some(&key));
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "x-goog-api-key");
        assert!(
            matches!(&headers[0].1, HeaderValue::Secret(secret) if secret.expose() == "AIza-canary")
        );
        assert!(!endpoint(DEFAULT_BASE_URL, DEFAULT_MODEL).contains("key="));
        assert!(super::headers(None).is_empty());
    }

    #[test]
    fn status_classification_table() {
        let cases: &[(u16, &str, &str)] = &[
            (400, "INVALID_ARGUMENT", "fatal"),
            (401, "UNAUTHENTICATED", "fatal"),
            (403, "PERMISSION_DENIED", "fatal"),
            (404, "NOT_FOUND", "fatal"),
            (408, "DEADLINE_EXCEEDED", "transient"),
            (429, "RESOURCE_EXHAUSTED", "transient"),
            (500, "INTERNAL", "transient"),
            (502, "UNAVAILABLE", "transient"),
            (503, "UNAVAILABLE", "transient"),
            (504, "DEADLINE_EXCEEDED", "transient"),
        ];
        for &(code, status, expected) in cases {
            let (kind, message, _) = class(&reply(
                code,
                error_body(code, status, "Something happened.", json!([])),
            ));
            assert_eq!(kind, expected, "status {code}");
            assert_eq!(
                message,
                format!("gemini {code} {status}: Something happened.")
            );
        }
    }

    #[test]
    fn rate_limits_wait_for_retry_info_then_retry_after() {
        let retry_info =
            json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "36s"}]);
        let mut limited = reply(
            429,
            error_body(429, "RESOURCE_EXHAUSTED", "slow down", retry_info),
        );
        limited.headers.push(("retry-after".into(), "5".into()));
        assert_eq!(class(&limited).2, Some(36_000));
        let fractional =
            json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]);
        assert_eq!(
            class(&reply(
                429,
                error_body(429, "RESOURCE_EXHAUSTED", "slow down", fractional)
            ))
            .2,
            Some(1_500)
        );
        let object = json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": {"seconds": 2, "nanos": 500_000_000}}]);
        assert_eq!(
            class(&reply(
                429,
                error_body(429, "RESOURCE_EXHAUSTED", "slow down", object)
            ))
            .2,
            Some(2_500)
        );
        let mut header_only = reply(
            429,
            error_body(429, "RESOURCE_EXHAUSTED", "slow down", json!([])),
        );
        header_only.headers.push(("retry-after".into(), "7".into()));
        assert_eq!(
            class(&header_only),
            (
                "transient",
                "gemini 429 RESOURCE_EXHAUSTED: slow down".into(),
                Some(7_000)
            )
        );
        let mut unavailable = reply(
            503,
            error_body(503, "UNAVAILABLE", "The model is overloaded.", json!([])),
        );
        unavailable.headers.push(("retry-after".into(), "3".into()));
        assert_eq!(class(&unavailable).2, Some(3_000));
    }

    #[test]
    fn per_day_and_zero_quotas_are_fatal_per_minute_is_not() {
        let quota = |id: &str, value: &str| {
            json!([
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": id, "quotaValue": value}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "36s"}
            ])
        };
        let billing =
            "You exceeded your current quota, please check your plan and billing details.";
        let daily = reply(
            429,
            error_body(
                429,
                "RESOURCE_EXHAUSTED",
                billing,
                quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "250"),
            ),
        );
        let (kind, message, _) = class(&daily);
        assert_eq!(kind, "fatal");
        assert!(
            message.contains(
                "daily quota GenerateRequestsPerDayPerProjectPerModel-FreeTier is used up"
            ),
            "{message}"
        );
        let minute = reply(
            429,
            error_body(
                429,
                "RESOURCE_EXHAUSTED",
                billing,
                quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "10"),
            ),
        );
        assert_eq!(class(&minute).0, "transient");
        assert_eq!(class(&minute).2, Some(36_000));
        let zero = reply(
            429,
            error_body(
                429,
                "RESOURCE_EXHAUSTED",
                billing,
                quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "0"),
            ),
        );
        assert_eq!(class(&zero).0, "fatal");
        // Without structured details, the message decides.
        let worded = reply(
            429,
            error_body(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for the day.",
                json!([]),
            ),
        );
        assert_eq!(class(&worded).0, "fatal");
        let billing_only = reply(
            429,
            error_body(429, "RESOURCE_EXHAUSTED", billing, json!([])),
        );
        assert_eq!(class(&billing_only).0, "fatal");
    }

    #[test]
    fn bodies_that_are_not_gemini_are_transient_and_never_echoed() {
        let html = HttpReply {
            status: 502,
            headers: vec![("x-goog-api-key".into(), "AIza-canary".into())],
            body: b"<html>bad gateway</html>".to_vec(),
            request_bytes: 0,
        };
        assert_eq!(
            class(&html),
            (
                "transient",
                "gemini 502: <html>bad gateway</html>".into(),
                None
            )
        );
        let garbage = HttpReply {
            status: 200,
            headers: Vec::new(),
            body: b"{\"candidates\": [".to_vec(),
            request_bytes: 0,
        };
        assert_eq!(
            class(&garbage),
            (
                "transient",
                "gemini 200 reply is not JSON: {\"candidates\": [".into(),
                None
            )
        );
        let (kind, message, _) = class(&reply(200, json!({"hello": "world"})));
        assert_eq!(kind, "transient");
        assert_eq!(message, "gemini 200 reply is not a generateContent response: no candidates, promptFeedback or usageMetadata in {\"hello\":\"world\"}");
        let unknown_4xx = reply(418, json!("teapot"));
        assert_eq!(class(&unknown_4xx).0, "fatal");
    }

    #[test]
    fn an_error_object_in_a_200_body_is_classified_by_its_code() {
        let (kind, message, _) = class(&reply(
            200,
            error_body(503, "UNAVAILABLE", "overloaded", json!([])),
        ));
        assert_eq!(
            (kind, message.as_str()),
            ("transient", "gemini 503 UNAVAILABLE: overloaded")
        );
        let wrapped = reply(
            400,
            json!([error_body(400, "INVALID_ARGUMENT", "bad", json!([]))]),
        );
        assert_eq!(class(&wrapped).1, "gemini 400 INVALID_ARGUMENT: bad");
    }

    #[test]
    fn a_cut_answer_is_never_executed_even_with_a_call() {
        let body = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "add_week_details", "args": {"week_number": 1}}, "thoughtSignature": "c2ln"}]},
            "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 6000, "thoughtsTokenCount": 5}});
        let decoded = decode(&reply(200, body), "add_week_details");
        assert_eq!(
            decoded.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 6005,
                cache_read_tokens: 0,
                cache_write_tokens: 0
            }
        );
        match decoded.outcome {
            ModelOutcome::Failed(ModelFailure::Malformed {
                message,
                reply: PriorReply::Call(call),
            }) => {
                assert_eq!(
                    message,
                    "the answer was cut off at the output token limit (finishReason MAX_TOKENS)"
                );
                assert_eq!(call.signature.as_deref(), Some("c2ln"));
            }
            other => panic!("a cut answer must be malformed: {other:?}"),
        }
    }

    #[test]
    fn finish_reasons_other_than_stop_are_malformed() {
        for (reason, expected) in [
            ("MALFORMED_FUNCTION_CALL", "the model produced a function call gemini could not parse (finishReason MALFORMED_FUNCTION_CALL: Malformed function call: add_week_details{)"),
            ("RECITATION", "gemini stopped the answer because it recited training data (finishReason RECITATION: Malformed function call: add_week_details{)"),
            ("SOMETHING_NEW", "gemini ended the answer early (finishReason SOMETHING_NEW: Malformed function call: add_week_details{)"),
        ] {
            let body = json!({"candidates": [{"finishReason": reason, "finishMessage": "Malformed function call: add_week_details{"}]});
            assert_eq!(class(&reply(200, body)), ("malformed", expected.to_string(), None));
        }
    }

    #[test]
    fn arguments_that_are_not_an_object_are_malformed() {
        let body = json!({"candidates": [{"content": {"parts": [
            {"functionCall": {"name": "add_week_details", "args": "week 1"}}]}, "finishReason": "STOP"}]});
        assert_eq!(
            class(&reply(200, body)).1,
            "the arguments of add_week_details are not a JSON object"
        );
    }

    #[test]
    fn a_call_without_a_name_is_replayed_as_text() {
        let body = json!({"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}, "finishReason": "STOP"}]});
        let ModelOutcome::Failed(ModelFailure::Malformed { reply: prior, .. }) =
            decode(&reply(200, body), "add_week_details").outcome
        else {
            panic!("a call without a name is malformed");
        };
        let request = ToolRequest {
            repair_turns: vec![crate::llm::RepairTurn {
                reply: prior,
                feedback: "call add_week_details".into(),
            }],
            ..test_request()
        };
        let contents = &encode(&request, DEFAULT_MODEL)["contents"];
        assert_eq!(
            contents[1],
            json!({"role": "model", "parts": [{"text": "(a function call without a name, arguments {})"}]})
        );
        assert_eq!(
            contents[2],
            json!({"role": "user", "parts": [{"text": "call add_week_details"}]})
        );
    }

    fn test_request() -> ToolRequest {
        let profile = crate::domain::profile::parse_profile(
            r#"{"name": "Rider", "age": 40, "weight_kg": 70, "ftp_w": 250, "weekly_hours": 5,
                "available_days": ["Tuesday", "Saturday"], "goals": "fondo", "plan_weeks": 4}"#,
        )
        .expect("the test profile is valid");
        ToolRequest {
            system: "coach".into(),
            user: "week 1".into(),
            tool: crate::tools::week_tool(),
            repair_turns: Vec::new(),
            max_output_tokens: 6_000,
            brief: crate::llm::StepBrief {
                step: crate::llm::StepId::Week(1),
                profile,
                total_weeks: 4,
                event: None,
                rules: crate::domain::validate::Rules::default(),
                overview: None,
            },
            shared_prefix_bytes: 0,
        }
    }

    #[test]
    fn a_call_without_a_signature_is_replayed_with_the_documented_stand_in() {
        let call = ToolCall {
            id: String::new(),
            name: "add_week_details".into(),
            arguments: "{}".into(),
            signature: None,
        };
        let request = ToolRequest {
            repair_turns: vec![crate::llm::RepairTurn {
                reply: PriorReply::Call(call),
                feedback: "no".into(),
            }],
            ..test_request()
        };
        let part = &encode(&request, DEFAULT_MODEL)["contents"][1]["parts"][0];
        assert_eq!(part["thoughtSignature"], "skip_thought_signature_validator");
    }

    #[test]
    fn empty_replayed_text_is_never_an_empty_part() {
        assert_eq!(replayable_text("  "), "(no text and no tool call)");
        assert_eq!(replayable_text("ok"), "ok");
        assert_eq!(arguments_object("[1]"), json!({}));
        assert_eq!(arguments_object("{\"a\": 1}"), json!({"a": 1}));
    }
}
