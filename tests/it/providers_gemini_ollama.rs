//! The Gemini and Ollama protocols against vendor bodies, no network: every recorded or
//! documented response decoded and classified, snapshots of the encoded requests (first and
//! with repair turns), the thought signature round trip, and the Ollama request checked against
//! the chat request schema of Ollama's openapi.yaml.

use std::path::Path;

use expect_test::{expect, Expect};
use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::llm::{
    ModelFailure, ModelOutcome, ModelReply, PriorReply, RepairTurn, StepBrief, StepId, ToolCall,
    ToolRequest,
};
use periodize::providers::http::HttpReply;
use periodize::providers::{gemini, ollama};
use periodize::tools::{overview_tool, week_tool};
use serde_json::{json, Value};

const PROFILE: &str = r#"{
    "name": "Test Rider", "age": 41, "weight_kg": 72.5, "ftp_w": 250, "max_hr": 182,
    "weekly_hours": 8, "available_days": ["Tuesday", "Thursday", "Saturday", "Sunday"],
    "daily_caps_min": {"Tuesday": 75, "Thursday": 90, "Saturday": 240, "Sunday": 180},
    "goals": "Finish a 120 km gran fondo strongly and raise FTP", "plan_weeks": 4,
    "event_date": "2025-06-01"
}"#;

fn fixture_bytes(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture_bytes(path)).expect("fixtures are JSON")
}

/// A fixture served as a mock server would: a Gemini error body with its `error.code` as the
/// status, anything else with 200.
fn gemini_reply(path: &str) -> HttpReply {
    let body = fixture_bytes(&format!("gemini/{path}"));
    let status = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| value["error"]["code"].as_u64())
        .map_or(200, |code| code as u16);
    HttpReply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
        request_bytes: 0,
    }
}

fn ollama_reply(path: &str, status: u16) -> HttpReply {
    HttpReply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: fixture_bytes(&format!("ollama/{path}")),
        request_bytes: 0,
    }
}

fn shorten(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 90 {
        format!("{}…", flat.chars().take(90).collect::<String>())
    } else {
        flat
    }
}

fn describe_call(call: &ToolCall) -> String {
    let signature = match &call.signature {
        Some(signature) => format!(
            " signature={}…({} chars)",
            &signature[..12.min(signature.len())],
            signature.len()
        ),
        None => String::new(),
    };
    format!(
        "id={:?} name={} args={}{signature}",
        call.id, call.name, call.arguments
    )
}

/// One line per decoded reply: its class, message, replayed answer and usage.
fn describe(reply: &ModelReply) -> String {
    let outcome = match &reply.outcome {
        ModelOutcome::Call(call) => format!("call {}", describe_call(call)),
        ModelOutcome::Failed(ModelFailure::Transient {
            message,
            retry_after_ms,
        }) => format!("transient {message:?} retry_after_ms={retry_after_ms:?}"),
        ModelOutcome::Failed(ModelFailure::Fatal { message }) => format!("fatal {message:?}"),
        ModelOutcome::Failed(ModelFailure::ContextLength { message }) => {
            format!("context length {message:?}")
        }
        ModelOutcome::Failed(ModelFailure::Malformed { message, reply }) => {
            let replay = match reply {
                PriorReply::Call(call) => format!("call {}", describe_call(call)),
                PriorReply::Text(text) => format!("text {:?}", shorten(text)),
            };
            format!("malformed {message:?}\n      replay {replay}")
        }
    };
    let usage = &reply.usage;
    format!(
        "{outcome}\n      usage in={} out={} cache_read={}",
        usage.input_tokens, usage.output_tokens, usage.cache_read_tokens
    )
}

fn table(cases: &[(&str, &str, ModelReply)], expected: Expect) {
    let text: Vec<String> = cases
        .iter()
        .map(|(path, tool, reply)| format!("{path} [{tool}]\n    {}", describe(reply)))
        .collect();
    expected.assert_eq(&text.join("\n"));
}

#[test]
fn gemini_decodes_every_recorded_reply() {
    let cases: Vec<(&str, &str, ModelReply)> = [
        (
            "googleai/unary-success-thinking-function-call-thought-summary-signature.json",
            "now",
        ),
        (
            "vertexai/unary-success-function-call-with-arguments.json",
            "sum",
        ),
        (
            "vertexai/unary-success-function-call-with-arguments.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-success-function-call-no-arguments.json",
            "current_time",
        ),
        (
            "vertexai/unary-success-function-call-empty-arguments.json",
            "current_time",
        ),
        (
            "vertexai/unary-success-function-call-null.json",
            "functionName",
        ),
        (
            "vertexai/unary-success-function-call-json-literal.json",
            "functionName",
        ),
        (
            "vertexai/unary-success-function-call-complex-json-literal.json",
            "functionName",
        ),
        (
            "vertexai/unary-success-function-call-parallel-calls.json",
            "sum",
        ),
        (
            "vertexai/unary-success-function-call-different-parallel-calls.json",
            "sum",
        ),
        (
            "vertexai/unary-success-function-call-mixed-content.json",
            "sum",
        ),
        (
            "googleai/unary-success-basic-reply-short.json",
            "add_week_details",
        ),
        (
            "googleai/unary-success-thinking-reply-thought-summary.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-success-implicit-caching.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-success-usage-metadata.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-success-partial-usage-metadata.json",
            "add_week_details",
        ),
        ("vertexai/unary-success-empty-part.json", "add_week_details"),
        (
            "googleai/unary-failure-finish-reason-safety.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-failure-finish-reason-safety.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-failure-unknown-enum-finish-reason.json",
            "add_week_details",
        ),
        (
            "googleai/unary-failure-with-message-no-content.json",
            "add_week_details",
        ),
        (
            "googleai/unary-failure-only-prompt-feedback.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-failure-prompt-blocked-safety.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-failure-invalid-response.json",
            "add_week_details",
        ),
        ("googleai/unary-failure-api-key.json", "add_week_details"),
        ("vertexai/unary-failure-api-key.json", "add_week_details"),
        (
            "googleai/unary-failure-unknown-model.json",
            "add_week_details",
        ),
        (
            "vertexai/unary-failure-unknown-model.json",
            "add_week_details",
        ),
        (
            "googleai/unary-failure-generativelanguage-api-not-enabled.json",
            "add_week_details",
        ),
        ("vertexai/unary-failure-http-error.json", "add_week_details"),
        (
            "vertexai/unary-failure-quota-exceeded.json",
            "add_week_details",
        ),
        ("synthetic/429-daily-quota.json", "add_week_details"),
        ("synthetic/429-per-minute-quota.json", "add_week_details"),
        (
            "synthetic/400-missing-thought-signature.json",
            "add_week_details",
        ),
        ("synthetic/max-tokens-with-call.json", "add_week_details"),
        ("synthetic/malformed-function-call.json", "add_week_details"),
    ]
    .into_iter()
    .map(|(path, tool)| (path, tool, gemini::decode(&gemini_reply(path), tool)))
    .collect();
    table(
        &cases,
        expect![[r#"
            googleai/unary-success-thinking-function-call-thought-summary-signature.json [now]
                call id="" name=now args={} signature=CtQOAVSoXO74…(2508 chars)
                  usage in=38 out=509 cache_read=0
            vertexai/unary-success-function-call-with-arguments.json [sum]
                call id="" name=sum args={"x":4,"y":5}
                  usage in=0 out=0 cache_read=0
            vertexai/unary-success-function-call-with-arguments.json [add_week_details]
                malformed "the model called tool \"sum\", but only add_week_details is offered"
                  replay call id="" name=sum args={"x":4,"y":5}
                  usage in=0 out=0 cache_read=0
            vertexai/unary-success-function-call-no-arguments.json [current_time]
                call id="" name=current_time args={}
                  usage in=0 out=0 cache_read=0
            vertexai/unary-success-function-call-empty-arguments.json [current_time]
                call id="" name=current_time args={}
                  usage in=0 out=0 cache_read=0
            vertexai/unary-success-function-call-null.json [functionName]
                call id="" name=functionName args={"original_title":"String","season":null}
                  usage in=774 out=4176 cache_read=0
            vertexai/unary-success-function-call-json-literal.json [functionName]
                call id="" name=functionName args={"current":true,"original_title":"String"}
                  usage in=774 out=4176 cache_read=0
            vertexai/unary-success-function-call-complex-json-literal.json [functionName]
                call id="" name=functionName args={"current":true,"original_title":"Longer String","testObject":{"testProperty":"string property"}}
                  usage in=774 out=4176 cache_read=0
            vertexai/unary-success-function-call-parallel-calls.json [sum]
                malformed "the model made 3 function calls in one answer, but exactly one call of sum is allowed"
                  replay call id="" name=sum args={"x":2,"y":1}
                  usage in=0 out=0 cache_read=0
            vertexai/unary-success-function-call-different-parallel-calls.json [sum]
                malformed "the model made 3 function calls in one answer, but exactly one call of sum is allowed"
                  replay call id="" name=sum args={"x":2,"y":1}
                  usage in=0 out=0 cache_read=0
            vertexai/unary-success-function-call-mixed-content.json [sum]
                malformed "the model made 2 function calls in one answer, but exactly one call of sum is allowed"
                  replay call id="" name=sum args={"x":2,"y":1}
                  usage in=0 out=0 cache_read=0
            googleai/unary-success-basic-reply-short.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text "Google's headquarters, also known as the Googleplex, is located in **Mountain View, Califo…"
                  usage in=7 out=22 cache_read=0
            googleai/unary-success-thinking-reply-thought-summary.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text "Mountain View"
                  usage in=14 out=26 cache_read=0
            vertexai/unary-success-implicit-caching.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text "Red Riding Hood is looking for **directions** in the forest."
                  usage in=12013 out=88 cache_read=11243
            vertexai/unary-success-usage-metadata.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text "Mountain View, California, United States"
                  usage in=6 out=357 cache_read=0
            vertexai/unary-success-partial-usage-metadata.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text "Mountain View, California, United States"
                  usage in=6 out=0 cache_read=0
            vertexai/unary-success-empty-part.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text "I can certainly help you with that! Here's your 3D rendered image of a pig with wings and …"
                  usage in=33 out=299 cache_read=0
            googleai/unary-failure-finish-reason-safety.json [add_week_details]
                malformed "gemini stopped the answer for safety reasons (finishReason SAFETY)"
                  replay text "Safety error incoming in 5, 4, 3, 2..."
                  usage in=7 out=20 cache_read=0
            vertexai/unary-failure-finish-reason-safety.json [add_week_details]
                malformed "gemini stopped the answer for safety reasons (finishReason SAFETY)"
                  replay text "<redacted>"
                  usage in=8 out=0 cache_read=0
            vertexai/unary-failure-unknown-enum-finish-reason.json [add_week_details]
                malformed "gemini ended the answer early (finishReason FAKE_NEW_FINISH_REASON)"
                  replay text "Some text"
                  usage in=0 out=0 cache_read=0
            googleai/unary-failure-with-message-no-content.json [add_week_details]
                malformed "gemini ended the answer early (finishReason OTHER: Model failed to generate content due to internal error.)"
                  replay text ""
                  usage in=0 out=0 cache_read=0
            googleai/unary-failure-only-prompt-feedback.json [add_week_details]
                malformed "gemini returned no candidates (Message)"
                  replay text ""
                  usage in=0 out=0 cache_read=0
            vertexai/unary-failure-prompt-blocked-safety.json [add_week_details]
                malformed "gemini blocked the prompt (blockReason SAFETY)"
                  replay text ""
                  usage in=0 out=0 cache_read=0
            vertexai/unary-failure-invalid-response.json [add_week_details]
                transient "gemini 200 reply is not a generateContent response: no candidates, promptFeedback or usageMetadata in { \"this\": [ { \"is\": { \"not\": [ { \"a\": \"valid\" } ] }, \"response\": {} } ] }" retry_after_ms=None
                  usage in=0 out=0 cache_read=0
            googleai/unary-failure-api-key.json [add_week_details]
                fatal "gemini 400 INVALID_ARGUMENT: API key not valid. Please pass a valid API key."
                  usage in=0 out=0 cache_read=0
            vertexai/unary-failure-api-key.json [add_week_details]
                fatal "gemini 400 INVALID_ARGUMENT: API key not valid. Please pass a valid API key."
                  usage in=0 out=0 cache_read=0
            googleai/unary-failure-unknown-model.json [add_week_details]
                fatal "gemini 404 NOT_FOUND: models/gemini-5.0-flash is not found for API version v1, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
                  usage in=0 out=0 cache_read=0
            vertexai/unary-failure-unknown-model.json [add_week_details]
                fatal "gemini 404 NOT_FOUND: models/unknown is not found for API version v1, or is not supported for GenerateContent. Call ListModels to see the list of available models and their supported methods."
                  usage in=0 out=0 cache_read=0
            googleai/unary-failure-generativelanguage-api-not-enabled.json [add_week_details]
                fatal "gemini 403 PERMISSION_DENIED: Generative Language API has not been used in project 12345678 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=12345678 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
                  usage in=0 out=0 cache_read=0
            vertexai/unary-failure-http-error.json [add_week_details]
                fatal "gemini 400 FAILED_PRECONDITION: $grpcMessage"
                  usage in=0 out=0 cache_read=0
            vertexai/unary-failure-quota-exceeded.json [add_week_details]
                fatal "gemini 429 RESOURCE_EXHAUSTED: Quota exceeded for quota metric 'Generate Content API requests per minute' and limit 'GenerateContent request limit per minute for a region' of service 'generativelanguage.googleapis.com' for consumer 'project_number:348715329010'. (the quota GenerateContentRequestsPerMinutePerProjectPerRegion has a limit of 0 for this project and model)"
                  usage in=0 out=0 cache_read=0
            synthetic/429-daily-quota.json [add_week_details]
                fatal "gemini 429 RESOURCE_EXHAUSTED: You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. (the daily quota GenerateRequestsPerDayPerProjectPerModel-FreeTier is used up until it resets at midnight Pacific time)"
                  usage in=0 out=0 cache_read=0
            synthetic/429-per-minute-quota.json [add_week_details]
                transient "gemini 429 RESOURCE_EXHAUSTED: You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits." retry_after_ms=Some(36000)
                  usage in=0 out=0 cache_read=0
            synthetic/400-missing-thought-signature.json [add_week_details]
                fatal "gemini 400 INVALID_ARGUMENT: Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:add_week_details` , position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                  usage in=0 out=0 cache_read=0
            synthetic/max-tokens-with-call.json [add_week_details]
                malformed "the answer was cut off at the output token limit (finishReason MAX_TOKENS)"
                  replay call id="" name=add_week_details args={"week_number":1,"week_summary":"Base"} signature=Q2lnbmF0dXJl…(32 chars)
                  usage in=2100 out=6000 cache_read=0
            synthetic/malformed-function-call.json [add_week_details]
                malformed "the model produced a function call gemini could not parse (finishReason MALFORMED_FUNCTION_CALL)"
                  replay text ""
                  usage in=2100 out=0 cache_read=0"#]],
    );
}

#[test]
fn gemini_keeps_the_signature_and_arguments_exactly() {
    let path = "googleai/unary-success-thinking-function-call-thought-summary-signature.json";
    let body = fixture_json(&format!("gemini/{path}"));
    let part = &body["candidates"][0]["content"]["parts"][1];
    let ModelOutcome::Call(call) = gemini::decode(&gemini_reply(path), "now").outcome else {
        panic!("the recorded call decodes to a call");
    };
    assert_eq!(call.signature.as_deref(), part["thoughtSignature"].as_str());
    for path in [
        "vertexai/unary-success-function-call-null.json",
        "vertexai/unary-success-function-call-json-literal.json",
        "vertexai/unary-success-function-call-complex-json-literal.json",
    ] {
        let body = fixture_json(&format!("gemini/{path}"));
        let ModelOutcome::Call(call) = gemini::decode(&gemini_reply(path), "functionName").outcome
        else {
            panic!("{path} decodes to a call");
        };
        let arguments: Value = serde_json::from_str(&call.arguments).expect("arguments are JSON");
        assert_eq!(
            arguments, body["candidates"][0]["content"]["parts"][0]["functionCall"]["args"],
            "{path}"
        );
        assert_eq!(call.signature, None);
    }
}

#[test]
fn gemini_rate_limit_waits_for_retry_info_over_retry_after() {
    let mut reply = gemini_reply("synthetic/429-per-minute-quota.json");
    reply.headers.push(("retry-after".into(), "5".into()));
    assert!(matches!(
        gemini::decode(&reply, "add_week_details").outcome,
        ModelOutcome::Failed(ModelFailure::Transient {
            retry_after_ms: Some(36_000),
            ..
        })
    ));
}

#[test]
fn gemini_messages_never_quote_details_or_headers() {
    // DebugInfo of the recorded key failure quotes the key; headers would carry it too.
    let mut reply = gemini_reply("googleai/unary-failure-api-key.json");
    reply
        .headers
        .push(("x-goog-api-key".into(), "AIza-canary".into()));
    let ModelOutcome::Failed(ModelFailure::Fatal { message }) =
        gemini::decode(&reply, "add_week_details").outcome
    else {
        panic!("a bad key is fatal");
    };
    assert_eq!(
        message,
        "gemini 400 INVALID_ARGUMENT: API key not valid. Please pass a valid API key."
    );
    assert!(!message.contains("key1234") && !message.contains("canary"));
}

#[test]
fn ollama_decodes_every_documented_reply() {
    let cases: Vec<(&str, &str, ModelReply)> = [
        (
            "api-md.chat-no-streaming-with-tools.response.json",
            "get_weather",
            200,
        ),
        (
            "api-md.chat-with-tools.response.json",
            "get_current_weather",
            200,
        ),
        (
            "api-md.chat-with-tools.response.json",
            "add_week_details",
            200,
        ),
        (
            "api-md.chat-with-history-with-tools.response.json",
            "get_weather",
            200,
        ),
        (
            "api-md.chat-no-streaming.response.json",
            "add_week_details",
            200,
        ),
        ("api-md.chat-load.response.json", "add_week_details", 200),
        ("api-md.chat-unload.response.json", "add_week_details", 200),
        ("openapi.chat.response.json", "add_week_details", 200),
        ("errors-mdx.error.json", "add_week_details", 500),
        ("errors-mdx.error.json", "add_week_details", 502),
        (
            "synthetic/404-model-not-found.json",
            "add_week_details",
            404,
        ),
        (
            "synthetic/400-does-not-support-tools.json",
            "add_week_details",
            400,
        ),
        (
            "synthetic/parallel-tool-calls.response.json",
            "get_temperature",
            200,
        ),
        (
            "synthetic/length-with-call.response.json",
            "add_week_details",
            200,
        ),
        (
            "synthetic/string-arguments.response.json",
            "get_weather",
            200,
        ),
    ]
    .into_iter()
    .map(|(path, tool, status)| {
        (
            path,
            tool,
            ollama::decode(&ollama_reply(path, status), tool),
        )
    })
    .collect();
    table(
        &cases,
        expect![[r#"
            api-md.chat-no-streaming-with-tools.response.json [get_weather]
                call id="" name=get_weather args={"city":"Tokyo"}
                  usage in=169 out=18 cache_read=0
            api-md.chat-with-tools.response.json [get_current_weather]
                call id="" name=get_current_weather args={"format":"celsius","location":"Paris, FR"}
                  usage in=122 out=33 cache_read=0
            api-md.chat-with-tools.response.json [add_week_details]
                malformed "the model called tool \"get_current_weather\", but only add_week_details is offered"
                  replay call id="" name=get_current_weather args={"format":"celsius","location":"Paris, FR"}
                  usage in=122 out=33 cache_read=0
            api-md.chat-with-history-with-tools.response.json [get_weather]
                malformed "the model answered without calling the tool get_weather"
                  replay text "The current temperature in Toronto is 11°C."
                  usage in=94 out=11 cache_read=0
            api-md.chat-no-streaming.response.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text "Hello! How are you today?"
                  usage in=26 out=298 cache_read=0
            api-md.chat-load.response.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text ""
                  usage in=0 out=0 cache_read=0
            api-md.chat-unload.response.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text ""
                  usage in=0 out=0 cache_read=0
            openapi.chat.response.json [add_week_details]
                malformed "the model answered without calling the tool add_week_details"
                  replay text "Hello! How can I help you today?"
                  usage in=11 out=18 cache_read=0
            errors-mdx.error.json [add_week_details]
                transient "ollama 500: the model failed to generate a response" retry_after_ms=None
                  usage in=0 out=0 cache_read=0
            errors-mdx.error.json [add_week_details]
                transient "ollama 502: the model failed to generate a response" retry_after_ms=None
                  usage in=0 out=0 cache_read=0
            synthetic/404-model-not-found.json [add_week_details]
                fatal "ollama 404: model \"llama3.1:8b\" not found, try pulling it first; pull it with `ollama pull llama3.1:8b`"
                  usage in=0 out=0 cache_read=0
            synthetic/400-does-not-support-tools.json [add_week_details]
                fatal "ollama 400: registry.ollama.ai/library/Qwen3.5:0.8b does not support tools; choose a model with tool support (`ollama show <model>` lists its capabilities)"
                  usage in=0 out=0 cache_read=0
            synthetic/parallel-tool-calls.response.json [get_temperature]
                malformed "the model made 2 tool calls in one answer, but exactly one call of get_temperature is allowed"
                  replay call id="" name=get_temperature args={"city":"New York"}
                  usage in=169 out=18 cache_read=0
            synthetic/length-with-call.response.json [add_week_details]
                malformed "the reply was cut off by the token limit (done_reason length) before the call of add_week_details was complete; give shorter text fields"
                  replay call id="call_7" name=add_week_details args={"week_number":1}
                  usage in=3000 out=6000 cache_read=0
            synthetic/string-arguments.response.json [get_weather]
                call id="call_1" name=get_weather args={"city": "Tokyo"}
                  usage in=0 out=0 cache_read=0"#]],
    );
}

fn brief(step: StepId) -> StepBrief {
    StepBrief {
        step,
        profile: parse_profile(PROFILE).expect("the test profile is valid"),
        total_weeks: 4,
        event: None,
        rules: Rules::default(),
        overview: None,
    }
}

/// Short prompts: the rendered templates have their own snapshots (tests/it/prompts.rs); these
/// snapshots are about the wire shape.
fn overview_request() -> ToolRequest {
    ToolRequest {
        system: "You are an expert cycling coach.".into(),
        user: "Plan the 4-week overview for Test Rider.".into(),
        tool: overview_tool(4),
        repair_turns: Vec::new(),
        max_output_tokens: 3_600,
        brief: brief(StepId::Overview),
        shared_prefix_bytes: 0,
    }
}

/// A week request after two refused answers: a call carrying a thought signature, then text.
fn week_request_with_repairs(signature: &str) -> ToolRequest {
    ToolRequest {
        system: "You are an expert cycling coach.".into(),
        user: "Detail week 1 of the plan.".into(),
        tool: week_tool(),
        repair_turns: vec![
            RepairTurn {
                reply: PriorReply::Call(ToolCall {
                    id: String::new(),
                    name: "add_week_details".into(),
                    arguments: r#"{"week_number": 1, "workouts": []}"#.into(),
                    signature: Some(signature.into()),
                }),
                feedback: "week 1: workouts is empty; add one workout per training day (Tuesday, Thursday, Saturday, Sunday)".into(),
            },
            RepairTurn {
                reply: PriorReply::Text("I will plan week 1 now.".into()),
                feedback: "the model answered without calling the tool add_week_details. Call the tool add_week_details exactly once, with complete JSON arguments for week 1.".into(),
            },
        ],
        max_output_tokens: 6_000,
        brief: brief(StepId::Week(1)),
        shared_prefix_bytes: 0,
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value serializes")
}

#[test]
fn gemini_first_request() {
    let body = gemini::encode(&overview_request(), gemini::DEFAULT_MODEL);
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"],
        *overview_tool(4).parameters
    );
    expect![[r#"
        {
          "contents": [
            {
              "parts": [
                {
                  "text": "Plan the 4-week overview for Test Rider."
                }
              ],
              "role": "user"
            }
          ],
          "generationConfig": {
            "maxOutputTokens": 3600
          },
          "systemInstruction": {
            "parts": [
              {
                "text": "You are an expert cycling coach."
              }
            ]
          },
          "toolConfig": {
            "functionCallingConfig": {
              "allowedFunctionNames": [
                "create_plan_overview"
              ],
              "mode": "ANY"
            }
          },
          "tools": [
            {
              "functionDeclarations": [
                {
                  "description": "Record the week-by-week overview of the training plan: one entry per week with its phase, focus, training days, target TSS and hours.",
                  "name": "create_plan_overview",
                  "parametersJsonSchema": {
                    "additionalProperties": false,
                    "properties": {
                      "coaching_notes": {
                        "description": "the coach's explanation of the plan",
                        "type": "string"
                      },
                      "monitoring_guidance": {
                        "description": "how the athlete should monitor fatigue and progress",
                        "type": "string"
                      },
                      "target_ftp": {
                        "description": "FTP in watts the plan aims for at its end",
                        "type": "number"
                      },
                      "total_weeks": {
                        "description": "number of weeks in the plan; must equal the requested length",
                        "type": "integer"
                      },
                      "weekly_overview": {
                        "items": {
                          "additionalProperties": false,
                          "properties": {
                            "easy_days": {
                              "minimum": 0,
                              "type": "integer"
                            },
                            "hard_days": {
                              "maximum": 3,
                              "minimum": 0,
                              "type": "integer"
                            },
                            "phase": {
                              "enum": [
                                "Foundation",
                                "Build",
                                "Recovery",
                                "Peak",
                                "Taper"
                              ],
                              "type": "string"
                            },
                            "phase_rationale": {
                              "description": "why this week sits in this phase",
                              "type": "string"
                            },
                            "rest_days": {
                              "minimum": 0,
                              "type": "integer"
                            },
                            "target_tss": {
                              "description": "planned Training Stress Score of the week",
                              "minimum": 0,
                              "type": "number"
                            },
                            "total_hours": {
                              "description": "planned riding hours of the week",
                              "exclusiveMinimum": 0,
                              "type": "number"
                            },
                            "training_days": {
                              "description": "the weekdays with a workout, each once, all available to the athlete",
                              "items": {
                                "enum": [
                                  "Monday",
                                  "Tuesday",
                                  "Wednesday",
                                  "Thursday",
                                  "Friday",
                                  "Saturday",
                                  "Sunday"
                                ],
                                "type": "string"
                              },
                              "type": "array"
                            },
                            "week_number": {
                              "description": "1-based week number",
                              "maximum": 4,
                              "minimum": 1,
                              "type": "integer"
                            },
                            "weekly_focus": {
                              "description": "the main training aim of the week",
                              "type": "string"
                            },
                            "weekly_watch_points": {
                              "description": "what the athlete should watch for",
                              "type": "string"
                            }
                          },
                          "required": [
                            "week_number",
                            "phase",
                            "phase_rationale",
                            "weekly_focus",
                            "weekly_watch_points",
                            "training_days",
                            "target_tss",
                            "hard_days",
                            "easy_days",
                            "rest_days",
                            "total_hours"
                          ],
                          "type": "object"
                        },
                        "maxItems": 4,
                        "minItems": 4,
                        "type": "array"
                      }
                    },
                    "required": [
                      "total_weeks",
                      "target_ftp",
                      "coaching_notes",
                      "monitoring_guidance",
                      "weekly_overview"
                    ],
                    "type": "object"
                  }
                }
              ]
            }
          ]
        }"#]].assert_eq(&pretty(&body));
}

#[test]
fn gemini_request_with_repair_turns() {
    let mut body = gemini::encode(&week_request_with_repairs("c2lnbmF0dXJl"), "gemini-2.5-pro");
    let schema = &mut body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"];
    assert_eq!(*schema, *week_tool().parameters);
    *schema = json!("(week_tool().parameters, as sent in full in the first request)");
    expect![[r#"
        {
          "contents": [
            {
              "parts": [
                {
                  "text": "Detail week 1 of the plan."
                }
              ],
              "role": "user"
            },
            {
              "parts": [
                {
                  "functionCall": {
                    "args": {
                      "week_number": 1,
                      "workouts": []
                    },
                    "name": "add_week_details"
                  },
                  "thoughtSignature": "c2lnbmF0dXJl"
                }
              ],
              "role": "model"
            },
            {
              "parts": [
                {
                  "functionResponse": {
                    "name": "add_week_details",
                    "response": {
                      "error": "week 1: workouts is empty; add one workout per training day (Tuesday, Thursday, Saturday, Sunday)"
                    }
                  }
                }
              ],
              "role": "user"
            },
            {
              "parts": [
                {
                  "text": "I will plan week 1 now."
                }
              ],
              "role": "model"
            },
            {
              "parts": [
                {
                  "text": "the model answered without calling the tool add_week_details. Call the tool add_week_details exactly once, with complete JSON arguments for week 1."
                }
              ],
              "role": "user"
            }
          ],
          "generationConfig": {
            "maxOutputTokens": 6000
          },
          "systemInstruction": {
            "parts": [
              {
                "text": "You are an expert cycling coach."
              }
            ]
          },
          "toolConfig": {
            "functionCallingConfig": {
              "allowedFunctionNames": [
                "add_week_details"
              ],
              "mode": "ANY"
            }
          },
          "tools": [
            {
              "functionDeclarations": [
                {
                  "description": "Record the workouts of one week: exactly one workout on each training day of that week, built from segments in % of FTP.",
                  "name": "add_week_details",
                  "parametersJsonSchema": "(week_tool().parameters, as sent in full in the first request)"
                }
              ]
            }
          ]
        }"#]].assert_eq(&pretty(&body));
}

#[test]
fn gemini_replays_a_recorded_call_with_its_signature_and_id() {
    // Decode the recorded call, refuse it, and replay it: the signature must come back on the
    // functionCall part byte for byte, and an id (when the API gave one) on both parts.
    let path = "googleai/unary-success-thinking-function-call-thought-summary-signature.json";
    let ModelOutcome::Call(mut call) = gemini::decode(&gemini_reply(path), "now").outcome else {
        panic!("the recorded call decodes to a call");
    };
    call.id = "call-7".into();
    let mut request = overview_request();
    request.repair_turns = vec![RepairTurn {
        reply: PriorReply::Call(call.clone()),
        feedback: "not now".into(),
    }];
    let body = gemini::encode(&request, gemini::DEFAULT_MODEL);
    let recorded = fixture_json(&format!("gemini/{path}"));
    let model_part = &body["contents"][1]["parts"][0];
    assert_eq!(body["contents"][1]["role"], "model");
    assert_eq!(
        model_part["thoughtSignature"],
        recorded["candidates"][0]["content"]["parts"][1]["thoughtSignature"]
    );
    assert_eq!(
        model_part["functionCall"],
        json!({"name": "now", "args": {}, "id": "call-7"})
    );
    assert_eq!(
        body["contents"][2],
        json!({"role": "user", "parts": [{"functionResponse": {
            "name": "now", "id": "call-7", "response": {"error": "not now"}}}]})
    );
}

#[test]
fn ollama_first_request() {
    let body = ollama::encode(&overview_request(), ollama::DEFAULT_MODEL);
    assert_eq!(
        body["tools"][0]["function"]["parameters"],
        *overview_tool(4).parameters
    );
    expect![[r#"
        {
          "messages": [
            {
              "content": "You are an expert cycling coach.\n\nAnswer only by calling the tool create_plan_overview exactly once, with all of its arguments as one JSON object. Do not answer in plain text: an answer without exactly one call of create_plan_overview is discarded.",
              "role": "system"
            },
            {
              "content": "Plan the 4-week overview for Test Rider.",
              "role": "user"
            }
          ],
          "model": "llama3.1:8b",
          "options": {
            "num_ctx": 8192,
            "num_predict": 3600
          },
          "stream": false,
          "tools": [
            {
              "function": {
                "description": "Record the week-by-week overview of the training plan: one entry per week with its phase, focus, training days, target TSS and hours.",
                "name": "create_plan_overview",
                "parameters": {
                  "additionalProperties": false,
                  "properties": {
                    "coaching_notes": {
                      "description": "the coach's explanation of the plan",
                      "type": "string"
                    },
                    "monitoring_guidance": {
                      "description": "how the athlete should monitor fatigue and progress",
                      "type": "string"
                    },
                    "target_ftp": {
                      "description": "FTP in watts the plan aims for at its end",
                      "type": "number"
                    },
                    "total_weeks": {
                      "description": "number of weeks in the plan; must equal the requested length",
                      "type": "integer"
                    },
                    "weekly_overview": {
                      "items": {
                        "additionalProperties": false,
                        "properties": {
                          "easy_days": {
                            "minimum": 0,
                            "type": "integer"
                          },
                          "hard_days": {
                            "maximum": 3,
                            "minimum": 0,
                            "type": "integer"
                          },
                          "phase": {
                            "enum": [
                              "Foundation",
                              "Build",
                              "Recovery",
                              "Peak",
                              "Taper"
                            ],
                            "type": "string"
                          },
                          "phase_rationale": {
                            "description": "why this week sits in this phase",
                            "type": "string"
                          },
                          "rest_days": {
                            "minimum": 0,
                            "type": "integer"
                          },
                          "target_tss": {
                            "description": "planned Training Stress Score of the week",
                            "minimum": 0,
                            "type": "number"
                          },
                          "total_hours": {
                            "description": "planned riding hours of the week",
                            "exclusiveMinimum": 0,
                            "type": "number"
                          },
                          "training_days": {
                            "description": "the weekdays with a workout, each once, all available to the athlete",
                            "items": {
                              "enum": [
                                "Monday",
                                "Tuesday",
                                "Wednesday",
                                "Thursday",
                                "Friday",
                                "Saturday",
                                "Sunday"
                              ],
                              "type": "string"
                            },
                            "type": "array"
                          },
                          "week_number": {
                            "description": "1-based week number",
                            "maximum": 4,
                            "minimum": 1,
                            "type": "integer"
                          },
                          "weekly_focus": {
                            "description": "the main training aim of the week",
                            "type": "string"
                          },
                          "weekly_watch_points": {
                            "description": "what the athlete should watch for",
                            "type": "string"
                          }
                        },
                        "required": [
                          "week_number",
                          "phase",
                          "phase_rationale",
                          "weekly_focus",
                          "weekly_watch_points",
                          "training_days",
                          "target_tss",
                          "hard_days",
                          "easy_days",
                          "rest_days",
                          "total_hours"
                        ],
                        "type": "object"
                      },
                      "maxItems": 4,
                      "minItems": 4,
                      "type": "array"
                    }
                  },
                  "required": [
                    "total_weeks",
                    "target_ftp",
                    "coaching_notes",
                    "monitoring_guidance",
                    "weekly_overview"
                  ],
                  "type": "object"
                }
              },
              "type": "function"
            }
          ]
        }"#]].assert_eq(&pretty(&body));
}

#[test]
fn ollama_request_with_repair_turns() {
    let mut body = ollama::encode(&week_request_with_repairs("c2lnbmF0dXJl"), "qwen3:8b");
    let schema = &mut body["tools"][0]["function"]["parameters"];
    assert_eq!(*schema, *week_tool().parameters);
    *schema = json!("(week_tool().parameters, as sent in full in the first request)");
    expect![[r#"
        {
          "messages": [
            {
              "content": "You are an expert cycling coach.\n\nAnswer only by calling the tool add_week_details exactly once, with all of its arguments as one JSON object. Do not answer in plain text: an answer without exactly one call of add_week_details is discarded.",
              "role": "system"
            },
            {
              "content": "Detail week 1 of the plan.",
              "role": "user"
            },
            {
              "content": "",
              "role": "assistant",
              "tool_calls": [
                {
                  "function": {
                    "arguments": {
                      "week_number": 1,
                      "workouts": []
                    },
                    "name": "add_week_details"
                  }
                }
              ]
            },
            {
              "content": "week 1: workouts is empty; add one workout per training day (Tuesday, Thursday, Saturday, Sunday)",
              "role": "tool",
              "tool_name": "add_week_details"
            },
            {
              "content": "I will plan week 1 now.",
              "role": "assistant"
            },
            {
              "content": "the model answered without calling the tool add_week_details. Call the tool add_week_details exactly once, with complete JSON arguments for week 1.",
              "role": "user"
            }
          ],
          "model": "qwen3:8b",
          "options": {
            "num_ctx": 8192,
            "num_predict": 6000
          },
          "stream": false,
          "tools": [
            {
              "function": {
                "description": "Record the workouts of one week: exactly one workout on each training day of that week, built from segments in % of FTP.",
                "name": "add_week_details",
                "parameters": "(week_tool().parameters, as sent in full in the first request)"
              },
              "type": "function"
            }
          ]
        }"#]].assert_eq(&pretty(&body));
}

/// A focused check of a JSON value against the subset of JSON Schema that Ollama's openapi
/// chat schemas use (`$ref`, `type`, `enum`, `required`, `properties`, `items`, `oneOf`). It is
/// stricter than JSON Schema in one way: an object schema that lists `properties` must list
/// every property we send, even where `additionalProperties` allows more, because Ollama drops
/// unknown fields silently, so a misspelt field would pass unnoticed.
struct SchemaCheck<'a> {
    root: &'a Value,
    /// Properties documented outside openapi.yaml: (schema name, property, where documented).
    documented_elsewhere: &'a [(&'a str, &'a str, &'a str)],
}

impl SchemaCheck<'_> {
    fn errors(&self, schema_name: &str, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let schema = self.schema(schema_name);
        self.check(schema_name, schema, value, "$", &mut errors);
        errors
    }

    fn schema(&self, name: &str) -> &Value {
        let schema = &self.root["components"]["schemas"][name];
        assert!(schema.is_object(), "the schema subset has {name}");
        schema
    }

    fn check(
        &self,
        name: &str,
        schema: &Value,
        value: &Value,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        if let Some(reference) = schema["$ref"].as_str() {
            let target = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unsupported $ref {reference}"));
            return self.check(target, self.schema(target), value, path, errors);
        }
        if let Some(branches) = schema["oneOf"].as_array() {
            let matching = branches
                .iter()
                .filter(|branch| {
                    let mut branch_errors = Vec::new();
                    self.check(name, branch, value, path, &mut branch_errors);
                    branch_errors.is_empty()
                })
                .count();
            if matching != 1 {
                errors.push(format!(
                    "{path}: matches {matching} oneOf branches of {name}"
                ));
            }
            return;
        }
        if let Some(kind) = schema["type"].as_str() {
            let fits = match kind {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "null" => value.is_null(),
                other => panic!("unsupported type {other} in {name}"),
            };
            if !fits {
                errors.push(format!("{path}: {value} is not of type {kind} ({name})"));
                return;
            }
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                let allowed: Vec<String> = allowed.iter().map(Value::to_string).collect();
                errors.push(format!(
                    "{path}: {value} is not one of {} ({name})",
                    allowed.join(", ")
                ));
            }
        }
        if let (Some(object), Some(required)) = (value.as_object(), schema["required"].as_array()) {
            for field in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(field) {
                    errors.push(format!("{path}: {name} requires {field}"));
                }
            }
        }
        if let (Some(object), Some(properties)) =
            (value.as_object(), schema["properties"].as_object())
        {
            for (key, item) in object {
                let at = format!("{path}.{key}");
                match properties.get(key) {
                    Some(property) => self.check(name, property, item, &at, errors),
                    None if self
                        .documented_elsewhere
                        .iter()
                        .any(|(schema, property, _)| *schema == name && property == key) => {}
                    None => errors.push(format!("{at}: {name} has no property {key}")),
                }
            }
        }
        if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
            for (index, item) in items.iter().enumerate() {
                self.check(name, schema, item, &format!("{path}[{index}]"), errors);
            }
        }
    }
}

const DOCUMENTED_ELSEWHERE: &[(&str, &str, &str)] = &[(
    "ChatMessage",
    "tool_name",
    "api.md: `tool_name` (optional): add the name of the tool that was executed",
)];

fn chat_schema(root: &Value) -> SchemaCheck<'_> {
    SchemaCheck {
        root,
        documented_elsewhere: DOCUMENTED_ELSEWHERE,
    }
}

#[test]
fn ollama_requests_fit_the_chat_request_schema() {
    let root = fixture_json("ollama/openapi.chat-request-schemas.json");
    let check = chat_schema(&root);
    for (name, request) in [
        ("first request", overview_request()),
        ("repair turns", week_request_with_repairs("c2lnbmF0dXJl")),
    ] {
        let body = ollama::encode(&request, ollama::DEFAULT_MODEL);
        assert_eq!(
            check.errors("ChatRequest", &body),
            Vec::<String>::new(),
            "{name}"
        );
    }
}

#[test]
fn the_schema_check_accepts_the_vendor_examples_and_catches_mistakes() {
    let root = fixture_json("ollama/openapi.chat-request-schemas.json");
    let check = chat_schema(&root);
    for path in [
        "ollama/api-md.chat-no-streaming-with-tools.request.json",
        "ollama/api-md.chat-with-tools.request.json",
        "ollama/api-md.chat-with-history-with-tools.request.json",
    ] {
        assert_eq!(
            check.errors("ChatRequest", &fixture_json(path)),
            Vec::<String>::new(),
            "{path}"
        );
    }
    let mut body = ollama::encode(&overview_request(), ollama::DEFAULT_MODEL);
    body["options"]["num_ctxx"] = json!(8192);
    body["tool_choice"] = json!("required");
    body["stream"] = json!("false");
    body["messages"][0]["role"] = json!("developer");
    body["tools"][0]["function"]
        .as_object_mut()
        .expect("the tool has a function")
        .remove("parameters");
    expect![[r#"
        [
            "$.messages[0].role: \"developer\" is not one of \"system\", \"user\", \"assistant\", \"tool\" (ChatMessage)",
            "$.options.num_ctxx: ModelOptions has no property num_ctxx",
            "$.stream: \"false\" is not of type boolean (ChatRequest)",
            "$.tool_choice: ChatRequest has no property tool_choice",
            "$.tools[0].function: ToolDefinition requires parameters",
        ]
    "#]].assert_debug_eq(&check.errors("ChatRequest", &body));
}
