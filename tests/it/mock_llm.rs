//! The mock LLM server over real HTTP on 127.0.0.1: each protocol answers a rendered periodize
//! prompt with one valid forced call, requests that break the protocol are refused in its
//! error shape, faults are deterministic and each has its documented wire shape, and the stats
//! (in process and at GET /__mock/stats) count paths, steps and faults.

use std::time::{Duration, Instant};

use periodize::coach;
use periodize::domain::plan::PlanOverview;
use periodize::domain::profile::{parse_profile, AthleteProfile};
use periodize::domain::validate::{check_overview, check_week, has_errors, Rules};
use periodize::llm::{StepBrief, StepId, ToolSpec};
use periodize::mock_llm::{FaultKind, MockConfig, MockServer, MockStats};
use periodize::prompts::PromptSet;
use periodize::providers::http::{client, Timeouts};
use periodize::tools::{
    overview_tool, parse_overview, parse_week, week_tool, ADD_WEEK_DETAILS, CREATE_PLAN_OVERVIEW,
};
use serde_json::{json, Value};

const WEEKS: u32 = 6;
const MAX_OUT: u64 = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Anthropic,
    OpenAi,
    Gemini,
    Ollama,
}

const PROTOCOLS: [Proto; 4] = [
    Proto::Anthropic,
    Proto::OpenAi,
    Proto::Gemini,
    Proto::Ollama,
];

impl Proto {
    fn path(self) -> &'static str {
        match self {
            Proto::Anthropic => "/v1/messages",
            Proto::OpenAi => "/v1/chat/completions",
            Proto::Gemini => "/v1beta/models/gemini-2.5-flash:generateContent",
            Proto::Ollama => "/api/chat",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Proto::Anthropic => "anthropic",
            Proto::OpenAi => "openai",
            Proto::Gemini => "gemini",
            Proto::Ollama => "ollama",
        }
    }
}

fn profile() -> AthleteProfile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/profiles/athlete.json");
    parse_profile(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn overview_brief() -> StepBrief {
    StepBrief {
        step: StepId::Overview,
        profile: profile(),
        total_weeks: WEEKS,
        event: None,
        rules: Rules::default(),
        overview: None,
    }
}

fn coach_overview() -> PlanOverview {
    coach::create_plan_overview(&profile(), WEEKS, None, &Rules::default())
}

fn week_brief(week: u32) -> StepBrief {
    StepBrief {
        step: StepId::Week(week),
        overview: Some(std::sync::Arc::new(coach_overview())),
        ..overview_brief()
    }
}

/// A request as each vendor's client would send it: system prompt, the rendered user prompt,
/// one tool, forced.
fn request(proto: Proto, brief: &StepBrief) -> Value {
    let set = PromptSet::embedded();
    let (system, user) = match brief.step {
        StepId::Overview => set.overview_messages(brief).unwrap(),
        StepId::Week(_) => set.week_messages(brief).unwrap(),
    };
    let tool = match brief.step {
        StepId::Overview => overview_tool(brief.total_weeks),
        StepId::Week(_) => week_tool(),
    };
    with_brief(request_with(proto, &system, &user, &tool), brief)
}

/// The body's field that `send` turns into the brief header (and removes): the brief travels
/// beside the body as periodize sends it with `PERIODIZE_MOCK_BRIEF=1`.
const BRIEF_FIELD: &str = "__test_brief";

fn with_brief(mut body: Value, brief: &StepBrief) -> Value {
    body[BRIEF_FIELD] = Value::from(periodize::providers::mock_brief(brief));
    body
}

fn request_with(proto: Proto, system: &str, user: &str, tool: &ToolSpec) -> Value {
    match proto {
        Proto::Anthropic => json!({
            "model": "claude-mock", "max_tokens": MAX_OUT, "system": system,
            "messages": [{"role": "user", "content": user}],
            "tools": [{"name": tool.name, "description": tool.description, "input_schema": tool.parameters}],
            "tool_choice": {"type": "tool", "name": tool.name, "disable_parallel_tool_use": true},
        }),
        Proto::OpenAi => json!({
            "model": "gpt-mock",
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "tools": [{"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters, "strict": true}}],
            "tool_choice": {"type": "function", "function": {"name": tool.name}},
            "parallel_tool_calls": false, "max_completion_tokens": MAX_OUT,
        }),
        Proto::Gemini => json!({
            "systemInstruction": {"parts": [{"text": system}]},
            "contents": [{"role": "user", "parts": [{"text": user}]}],
            "tools": [{"functionDeclarations": [{"name": tool.name, "description": tool.description, "parametersJsonSchema": tool.parameters}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [tool.name]}},
            "generationConfig": {"maxOutputTokens": MAX_OUT, "temperature": 0},
        }),
        Proto::Ollama => json!({
            "model": "qwen3", "stream": false,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "tools": [{"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}}],
            "options": {"num_ctx": 32768, "num_predict": MAX_OUT, "temperature": 0}, "think": false,
        }),
    }
}

fn http(request_ms: u64) -> reqwest::Client {
    client(Timeouts {
        connect_ms: 5_000,
        request_ms,
        read_ms: 0,
    })
    .unwrap()
    .reqwest()
    .clone()
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

async fn send(
    http: &reqwest::Client,
    url: &str,
    proto: Proto,
    body: &[u8],
) -> Result<Reply, reqwest::Error> {
    let mut body = body.to_vec();
    let mut brief = None;
    if let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&body) {
        if let Some(Value::String(text)) = object.remove(BRIEF_FIELD) {
            brief = Some(text);
            body = Value::Object(object).to_string().into_bytes();
        }
    }
    let mut builder = http
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(brief) = brief {
        builder = builder.header(periodize::providers::MOCK_BRIEF_HEADER, brief);
    }
    builder = match proto {
        Proto::Anthropic => builder
            .header("x-api-key", "sk-test-not-a-key")
            .header("anthropic-version", "2023-06-01"),
        Proto::OpenAi => builder.header("authorization", "Bearer sk-test-not-a-key"),
        Proto::Gemini => builder.header("x-goog-api-key", "test-not-a-key"),
        Proto::Ollama => builder,
    };
    let response = builder.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|err| {
        panic!(
            "the mock answered {status} with a body that is not JSON ({err}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Ok(Reply {
        status,
        headers,
        body,
    })
}

async fn post(server: &MockServer, proto: Proto, body: &Value) -> Reply {
    post_to(server, proto, proto.path(), body).await
}

async fn post_to(server: &MockServer, proto: Proto, path: &str, body: &Value) -> Reply {
    let url = format!("{}{path}", server.url());
    send(&http(30_000), &url, proto, body.to_string().as_bytes())
        .await
        .unwrap()
}

/// The tool calls of a reply: name and the arguments as sent (a string on OpenAI's wire, an
/// object or, for a broken answer, something else on the others).
fn calls(proto: Proto, body: &Value) -> Vec<(String, Value)> {
    let pick = |items: Option<&Vec<Value>>, name: &str, args: &str| -> Vec<(String, Value)> {
        items
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let call = if name.is_empty() {
                    item
                } else {
                    item.get(name)?
                };
                Some((
                    call["name"].as_str().unwrap().to_string(),
                    call.get(args).cloned().unwrap_or(Value::Null),
                ))
            })
            .collect()
    };
    match proto {
        Proto::Anthropic => {
            let blocks: Vec<Value> = body["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|block| block["type"] == "tool_use")
                .cloned()
                .collect();
            pick(Some(&blocks), "", "input")
        }
        Proto::OpenAi => pick(
            body["choices"][0]["message"]["tool_calls"].as_array(),
            "function",
            "arguments",
        ),
        Proto::Gemini => pick(
            body["candidates"][0]["content"]["parts"].as_array(),
            "functionCall",
            "args",
        ),
        Proto::Ollama => pick(
            body["message"]["tool_calls"].as_array(),
            "function",
            "arguments",
        ),
    }
}

/// The arguments as JSON text, if the protocol's type was respected.
fn args_text(proto: Proto, args: &Value) -> Option<String> {
    match (proto, args) {
        (Proto::OpenAi, Value::String(text)) => Some(text.clone()),
        (Proto::OpenAi, _) => None,
        (_, Value::Object(_)) => Some(args.to_string()),
        _ => None,
    }
}

fn stop_reason(proto: Proto, body: &Value) -> &str {
    let value = match proto {
        Proto::Anthropic => &body["stop_reason"],
        Proto::OpenAi => &body["choices"][0]["finish_reason"],
        Proto::Gemini => &body["candidates"][0]["finishReason"],
        Proto::Ollama => &body["done_reason"],
    };
    value.as_str().unwrap()
}

fn normal_stop(proto: Proto) -> &'static str {
    match proto {
        Proto::Anthropic => "tool_use",
        Proto::OpenAi | Proto::Ollama => "stop",
        Proto::Gemini => "STOP",
    }
}

fn truncated_stop(proto: Proto) -> &'static str {
    match proto {
        Proto::Anthropic => "max_tokens",
        Proto::OpenAi | Proto::Ollama => "length",
        Proto::Gemini => "MAX_TOKENS",
    }
}

/// (input, output) tokens as the protocol reports them.
fn usage(proto: Proto, body: &Value) -> (u64, u64) {
    let (input, output) = match proto {
        Proto::Anthropic => (
            &body["usage"]["input_tokens"],
            &body["usage"]["output_tokens"],
        ),
        Proto::OpenAi => (
            &body["usage"]["prompt_tokens"],
            &body["usage"]["completion_tokens"],
        ),
        Proto::Gemini => (
            &body["usageMetadata"]["promptTokenCount"],
            &body["usageMetadata"]["candidatesTokenCount"],
        ),
        Proto::Ollama => (&body["prompt_eval_count"], &body["eval_count"]),
    };
    (input.as_u64().unwrap(), output.as_u64().unwrap())
}

/// Asserts the body is the protocol's error shape with `status`, and returns its message.
fn error_message(proto: Proto, status: u16, body: &Value) -> String {
    match proto {
        Proto::Anthropic => {
            assert_eq!(body["type"], "error", "{body}");
            assert!(
                body["request_id"].as_str().unwrap().starts_with("req_"),
                "{body}"
            );
            assert!(body["error"]["type"].is_string(), "{body}");
            body["error"]["message"].as_str().unwrap().to_string()
        }
        Proto::OpenAi => {
            let error = &body["error"];
            for key in ["message", "type", "param", "code"] {
                assert!(error.get(key).is_some(), "{key} missing: {body}");
            }
            error["message"].as_str().unwrap().to_string()
        }
        Proto::Gemini => {
            assert_eq!(body["error"]["code"], status, "{body}");
            assert!(body["error"]["status"].is_string(), "{body}");
            body["error"]["message"].as_str().unwrap().to_string()
        }
        Proto::Ollama => body["error"].as_str().unwrap().to_string(),
    }
}

fn faulty(kinds: &[FaultKind], rate: f64) -> MockConfig {
    MockConfig {
        fault_rate: rate,
        fault_seed: 11,
        faults: kinds.to_vec(),
        retry_after_s: 0,
        ..MockConfig::default()
    }
}

async fn fetch_stats(server: &MockServer) -> Value {
    let response = http(30_000)
        .get(format!("{}/__mock/stats", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_answers_the_overview_with_one_valid_forced_call() {
    let server = MockServer::start(MockConfig::default(), 0).await.unwrap();
    assert_eq!(
        server.url(),
        format!("http://127.0.0.1:{}", server.addr.port())
    );
    let brief = overview_brief();
    for proto in PROTOCOLS {
        let body = request(proto, &brief);
        let reply = post(&server, proto, &body).await;
        assert_eq!(reply.status, 200, "{proto:?}: {}", reply.body);
        let calls = calls(proto, &reply.body);
        assert_eq!(calls.len(), 1, "{proto:?}");
        assert_eq!(calls[0].0, CREATE_PLAN_OVERVIEW);
        let text = args_text(proto, &calls[0].1).unwrap();
        let overview = parse_overview(&text).unwrap();
        let violations = check_overview(&overview, &brief.profile, WEEKS, None, &brief.rules);
        assert!(!has_errors(&violations), "{proto:?}: {violations:?}");
        assert_eq!(stop_reason(proto, &reply.body), normal_stop(proto));

        let (input, output) = usage(proto, &reply.body);
        let mut sent = body.clone();
        sent.as_object_mut().unwrap().remove(BRIEF_FIELD);
        assert_eq!(
            input,
            sent.to_string().chars().count().div_ceil(4) as u64,
            "{proto:?}"
        );
        assert_eq!(output, text.chars().count().div_ceil(4) as u64, "{proto:?}");
        let body = &reply.body;
        match proto {
            Proto::Anthropic => {
                assert!(body["id"].as_str().unwrap().starts_with("msg_"));
                assert!(body["content"][0]["id"]
                    .as_str()
                    .unwrap()
                    .starts_with("toolu_"));
                assert_eq!(body["model"], "claude-mock");
                assert_eq!(body["usage"]["cache_creation_input_tokens"], 0);
                assert_eq!(body["usage"]["cache_read_input_tokens"], 0);
                assert!(reply.header("request-id").unwrap().starts_with("req_"));
            }
            Proto::OpenAi => {
                assert_eq!(body["object"], "chat.completion");
                let call = &body["choices"][0]["message"]["tool_calls"][0];
                assert!(call["id"].as_str().unwrap().starts_with("call_"));
                assert_eq!(call["type"], "function");
                assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
                assert_eq!(body["usage"]["total_tokens"], input + output);
            }
            Proto::Gemini => {
                let part = &body["candidates"][0]["content"]["parts"][0];
                assert!(!part["thoughtSignature"].as_str().unwrap().is_empty());
                assert_eq!(body["candidates"][0]["content"]["role"], "model");
                assert_eq!(body["usageMetadata"]["totalTokenCount"], input + output);
                assert_eq!(body["modelVersion"], "gemini-2.5-flash");
            }
            Proto::Ollama => {
                assert_eq!(body["done"], true);
                assert_eq!(body["model"], "qwen3");
                assert_eq!(body["message"]["tool_calls"][0]["function"]["index"], 0);
            }
        }
    }

    let stats = server.stats();
    for proto in PROTOCOLS {
        assert_eq!(
            stats.requests_by_path.get(proto.path()),
            Some(&1),
            "{stats:?}"
        );
    }
    assert_eq!(stats.requests_by_step.get("overview"), Some(&4));
    assert!(stats.faults_by_kind.is_empty());
    let protocols: Vec<&str> = stats
        .log
        .iter()
        .map(|entry| entry.protocol.as_str())
        .collect();
    assert_eq!(protocols, PROTOCOLS.map(Proto::name));
    assert_eq!(
        stats.log.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(stats.log.iter().all(|entry| entry.status == 200
        && entry.step == "overview"
        && entry.fault.is_none()
        && entry.repair_turns == 0
        && entry.input_tokens > 0
        && entry.output_tokens > 0));

    // The same snapshot over HTTP; reading it is not itself counted.
    let over_http = fetch_stats(&server).await;
    assert_eq!(over_http, serde_json::to_value(&stats).unwrap());
    assert_eq!(server.stats(), stats);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn week_requests_get_the_coach_week_on_every_path() {
    let server = MockServer::start(MockConfig::default(), 0).await.unwrap();
    let overview = coach_overview();
    let paths = [
        (Proto::Anthropic, "/v1/messages"),
        (Proto::OpenAi, "/v1/chat/completions"),
        (Proto::OpenAi, "/chat/completions"),
        (Proto::Gemini, "/v1beta/models/gemini-x:generateContent"),
        (Proto::Gemini, "/models/gemini-x:generateContent"),
        (Proto::Ollama, "/api/chat"),
    ];
    for week in 1..=WEEKS {
        let (proto, path) = paths[(week as usize - 1) % paths.len()];
        let brief = week_brief(week);
        let reply = post_to(&server, proto, path, &request(proto, &brief)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let calls = calls(proto, &reply.body);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, ADD_WEEK_DETAILS);
        let details = parse_week(&args_text(proto, &calls[0].1).unwrap()).unwrap();
        let entry = overview.week(week).unwrap();
        let violations = check_week(&details, week, entry, &brief.profile, None, &brief.rules);
        assert!(!has_errors(&violations), "week {week}: {violations:?}");
    }
    let stats = server.stats();
    for week in 1..=WEEKS {
        assert_eq!(
            stats.requests_by_step.get(&format!("week {week}")),
            Some(&1)
        );
    }
    for (_, path) in paths {
        assert_eq!(stats.requests_by_path.get(path), Some(&1), "{path}");
    }
    server.shutdown().await;
}

/// One earlier refused answer, in each protocol's own conversation shape.
fn with_repair_turn(proto: Proto, mut body: Value) -> Value {
    let bad_args = json!({"total_weeks": WEEKS + 1});
    match proto {
        Proto::Anthropic => {
            let messages = body["messages"].as_array_mut().unwrap();
            messages.push(json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01A", "name": CREATE_PLAN_OVERVIEW, "input": bad_args}]}));
            messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "error: weekly_overview is missing", "is_error": true}]}));
        }
        Proto::OpenAi => {
            let messages = body["messages"].as_array_mut().unwrap();
            messages.push(json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_A", "type": "function", "function": {"name": CREATE_PLAN_OVERVIEW, "arguments": bad_args.to_string()}}]}));
            messages.push(json!({"role": "tool", "tool_call_id": "call_A", "content": "error: weekly_overview is missing"}));
        }
        Proto::Gemini => {
            let contents = body["contents"].as_array_mut().unwrap();
            contents.push(json!({"role": "model", "parts": [{"functionCall": {"name": CREATE_PLAN_OVERVIEW, "args": bad_args}, "thoughtSignature": "c2ln"}]}));
            contents.push(json!({"role": "user", "parts": [{"functionResponse": {"name": CREATE_PLAN_OVERVIEW, "response": {"error": "weekly_overview is missing"}}}]}));
        }
        Proto::Ollama => {
            let messages = body["messages"].as_array_mut().unwrap();
            messages.push(json!({"role": "assistant", "content": "", "tool_calls": [{"function": {"name": CREATE_PLAN_OVERVIEW, "arguments": bad_args}}]}));
            messages.push(json!({"role": "tool", "tool_name": CREATE_PLAN_OVERVIEW, "content": "error: weekly_overview is missing"}));
        }
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_turns_are_answered_and_counted() {
    let server = MockServer::start(MockConfig::default(), 0).await.unwrap();
    for proto in PROTOCOLS {
        let body = with_repair_turn(proto, request(proto, &overview_brief()));
        let reply = post(&server, proto, &body).await;
        assert_eq!(reply.status, 200, "{proto:?}: {}", reply.body);
        let calls = calls(proto, &reply.body);
        parse_overview(&args_text(proto, &calls[0].1).unwrap()).unwrap();
    }
    let stats = server.stats();
    assert!(
        stats.log.iter().all(|entry| entry.repair_turns == 1),
        "{:?}",
        stats.log
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_conversations_get_the_vendors_400() {
    let server = MockServer::start(MockConfig::default(), 0).await.unwrap();
    let base = |proto| with_repair_turn(proto, request(proto, &overview_brief()));

    // Anthropic: the tool_result refers to a call that is not in the previous message.
    let mut body = base(Proto::Anthropic);
    body["messages"][2]["content"][0]["tool_use_id"] = json!("toolu_other");
    let reply = post(&server, Proto::Anthropic, &body).await;
    assert_eq!(reply.status, 400);
    let message = error_message(Proto::Anthropic, 400, &reply.body);
    assert!(message.contains("unexpected `tool_use_id`"), "{message}");

    // OpenAI: an assistant call without its tool message.
    let mut body = base(Proto::OpenAi);
    body["messages"].as_array_mut().unwrap().pop();
    let reply = post(&server, Proto::OpenAi, &body).await;
    assert_eq!(reply.status, 400);
    let message = error_message(Proto::OpenAi, 400, &reply.body);
    assert!(message.contains("call_A"), "{message}");

    // Gemini: the model turn lost its thought signature.
    let mut body = base(Proto::Gemini);
    body["contents"][1]["parts"][0]
        .as_object_mut()
        .unwrap()
        .remove("thoughtSignature");
    let reply = post(&server, Proto::Gemini, &body).await;
    assert_eq!(reply.status, 400);
    let message = error_message(Proto::Gemini, 400, &reply.body);
    assert!(message.contains("thought_signature"), "{message}");
    assert_eq!(reply.body["error"]["status"], "INVALID_ARGUMENT");

    // Gemini: two calls answered by one response.
    let mut body = base(Proto::Gemini);
    let call = body["contents"][1]["parts"][0]["functionCall"].clone();
    body["contents"][1]["parts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"functionCall": call}));
    let reply = post(&server, Proto::Gemini, &body).await;
    assert_eq!(reply.status, 400);
    assert!(error_message(Proto::Gemini, 400, &reply.body)
        .contains("number of function response parts"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_do_not_force_the_one_tool_are_refused() {
    let server = MockServer::start(MockConfig::default(), 0).await.unwrap();
    let brief = overview_brief();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Proto, Edit)> = vec![
        (
            Proto::Anthropic,
            Box::new(|b| b["tool_choice"] = json!({"type": "auto"})),
        ),
        (
            Proto::Anthropic,
            Box::new(|b| b["tool_choice"] = json!({"type": "any"})),
        ),
        (
            Proto::Anthropic,
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("tool_choice");
            }),
        ),
        (
            Proto::Anthropic,
            Box::new(|b| {
                let tool = b["tools"][0].clone();
                b["tools"].as_array_mut().unwrap().push(tool);
            }),
        ),
        (
            Proto::OpenAi,
            Box::new(|b| b["tool_choice"] = json!("auto")),
        ),
        (
            Proto::OpenAi,
            // ("required" with the one tool offered forces it, and is accepted.)
            Box::new(|b| b["tool_choice"] = json!("none")),
        ),
        (Proto::OpenAi, Box::new(|b| b["tools"] = json!([]))),
        (
            Proto::Gemini,
            Box::new(|b| b["toolConfig"]["functionCallingConfig"]["mode"] = json!("AUTO")),
        ),
        (
            Proto::Gemini,
            Box::new(|b| {
                b["toolConfig"]["functionCallingConfig"]
                    .as_object_mut()
                    .unwrap()
                    .remove("allowedFunctionNames");
            }),
        ),
        (
            Proto::Gemini,
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("tools");
            }),
        ),
        (
            Proto::Ollama,
            Box::new(|b| {
                let tool = b["tools"][0].clone();
                b["tools"].as_array_mut().unwrap().push(tool);
            }),
        ),
    ];
    for (index, (proto, edit)) in cases.iter().enumerate() {
        let mut body = request(*proto, &brief);
        edit(&mut body);
        let reply = post(&server, *proto, &body).await;
        assert_eq!(
            reply.status, 400,
            "case {index} ({proto:?}): {}",
            reply.body
        );
        let message = error_message(*proto, 400, &reply.body);
        assert!(message.contains("tool"), "case {index}: {message}");
    }
    let stats = server.stats();
    assert!(stats.requests_by_step.is_empty(), "{stats:?}");
    assert!(stats
        .log
        .iter()
        .all(|entry| entry.status == 400 && entry.step.is_empty()));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_bugs_are_refused_in_the_protocols_error_shape() {
    let server = MockServer::start(MockConfig::default(), 0).await.unwrap();
    let brief = overview_brief();
    let http = http(30_000);

    // Malformed JSON, every protocol.
    for proto in PROTOCOLS {
        let url = format!("{}{}", server.url(), proto.path());
        let reply = send(&http, &url, proto, b"{\"model\": ").await.unwrap();
        assert_eq!(reply.status, 400, "{proto:?}");
        let message = error_message(proto, 400, &reply.body);
        assert!(message.contains("not valid JSON"), "{message}");
    }

    // Anthropic without anthropic-version.
    let body = request(Proto::Anthropic, &brief).to_string();
    let response = http
        .post(format!("{}/v1/messages", server.url()))
        .header("x-api-key", "sk-test")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["error"]["type"], "invalid_request_error");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("anthropic-version"));

    // Ollama streams unless told not to.
    let mut body = request(Proto::Ollama, &brief);
    body.as_object_mut().unwrap().remove("stream");
    let reply = post(&server, Proto::Ollama, &body).await;
    assert_eq!(reply.status, 400);
    assert!(error_message(Proto::Ollama, 400, &reply.body).contains("stream"));

    // Gemini `parameters` takes only the OpenAPI subset; our schemas need parametersJsonSchema.
    let mut body = request(Proto::Gemini, &brief);
    let declaration = &mut body["tools"][0]["functionDeclarations"][0];
    let schema = declaration
        .as_object_mut()
        .unwrap()
        .remove("parametersJsonSchema")
        .unwrap();
    declaration["parameters"] = schema;
    let reply = post(&server, Proto::Gemini, &body).await;
    assert_eq!(reply.status, 400);
    let message = error_message(Proto::Gemini, 400, &reply.body);
    assert!(message.contains("Unknown name"), "{message}");

    // The wrong tool for the prompt's step.
    let set = PromptSet::embedded();
    let (system, user) = set.overview_messages(&brief).unwrap();
    let body = with_brief(
        request_with(Proto::OpenAi, &system, &user, &week_tool()),
        &brief,
    );
    let reply = post(&server, Proto::OpenAi, &body).await;
    assert_eq!(reply.status, 400);
    let message = error_message(Proto::OpenAi, 400, &reply.body);
    assert!(message.contains("overview step"), "{message}");

    // A request without the brief header: the error names the variable that sends it.
    let body = request_with(
        Proto::Anthropic,
        &system,
        "Plan my season.",
        &overview_tool(WEEKS),
    );
    let reply = post(&server, Proto::Anthropic, &body).await;
    assert_eq!(reply.status, 400);
    assert!(error_message(Proto::Anthropic, 400, &reply.body).contains("PERIODIZE_MOCK_BRIEF=1"));

    // Unknown paths: 404 in the style the path resembles.
    for (proto, path) in [
        (Proto::OpenAi, "/v1/completions"),
        (
            Proto::Gemini,
            "/v1beta/models/gemini-x:streamGenerateContent",
        ),
        (Proto::Ollama, "/api/generate"),
        (Proto::Anthropic, "/v1/messages/count_tokens"),
    ] {
        let reply = post_to(&server, proto, path, &json!({})).await;
        assert_eq!(reply.status, 404, "{path}");
        error_message(proto, 404, &reply.body);
    }

    // A body over the limit.
    let url = format!("{}{}", server.url(), Proto::OpenAi.path());
    let huge = vec![b' '; 8 * 1024 * 1024 + 1];
    let reply = send(&http, &url, Proto::OpenAi, &huge).await.unwrap();
    assert_eq!(reply.status, 413);
    error_message(Proto::OpenAi, 413, &reply.body);

    // Stats only answer GET.
    let response = http
        .post(format!("{}/__mock/stats", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);

    let stats = server.stats();
    assert!(stats.requests_by_step.is_empty(), "{stats:?}");
    assert_eq!(stats.requests_by_path.get("/api/generate"), Some(&1));
    assert!(!stats.requests_by_path.contains_key("/__mock/stats"));
    server.shutdown().await;
}

/// The fault (or none) of each logged request for `step`, in arrival order.
fn fault_sequence(stats: &MockStats, step: &str) -> Vec<Option<String>> {
    stats
        .log
        .iter()
        .filter(|entry| entry.step == step)
        .map(|entry| entry.fault.clone())
        .collect()
}

/// Sends `count` requests for each of the steps, in the given order, ignoring the outcome
/// (dropped connections included).
async fn drive(server: &MockServer, order: &[(Proto, u32)]) {
    let http = http(30_000);
    for (proto, week) in order {
        let brief = if *week == 0 {
            overview_brief()
        } else {
            week_brief(*week)
        };
        let url = format!("{}{}", server.url(), proto.path());
        let _ = send(
            &http,
            &url,
            *proto,
            request(*proto, &brief).to_string().as_bytes(),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_deterministic_per_step() {
    // Timeouts answer at once here, so every kind can be in the mix.
    let config = MockConfig {
        timeout_hold_ms: 0,
        ..faulty(&[], 0.5)
    };
    let first = MockServer::start(config.clone(), 0).await.unwrap();
    let second = MockServer::start(config.clone(), 0).await.unwrap();
    let other_seed = MockServer::start(
        MockConfig {
            fault_seed: 12,
            ..config
        },
        0,
    )
    .await
    .unwrap();

    // The same requests per step, interleaved differently and over different protocols.
    let mut grouped = Vec::new();
    for _ in 0..12 {
        grouped.push((Proto::OpenAi, 0));
    }
    for _ in 0..12 {
        grouped.push((Proto::Anthropic, 2));
    }
    let mut interleaved = Vec::new();
    for index in 0..12 {
        interleaved.push((PROTOCOLS[index % 4], 2));
        interleaved.push((PROTOCOLS[(index + 1) % 4], 0));
    }
    drive(&first, &grouped).await;
    drive(&second, &interleaved).await;
    drive(&other_seed, &grouped).await;

    let (a, b, c) = (first.stats(), second.stats(), other_seed.stats());
    for step in ["overview", "week 2"] {
        let sequence = fault_sequence(&a, step);
        assert_eq!(sequence.len(), 12);
        assert_eq!(sequence, fault_sequence(&b, step), "{step}");
        let faults = sequence.iter().flatten().count();
        assert!((1..12).contains(&faults), "{step}: {sequence:?}");
    }
    assert_ne!(
        [fault_sequence(&a, "overview"), fault_sequence(&a, "week 2")],
        [fault_sequence(&c, "overview"), fault_sequence(&c, "week 2")]
    );
    assert_eq!(a.faults_by_kind, b.faults_by_kind);
    let total: u64 = a.faults_by_kind.values().sum();
    assert_eq!(
        total as usize,
        a.log.iter().filter(|entry| entry.fault.is_some()).count()
    );
    for server in [first, second, other_seed] {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_zero_never_faults_and_rate_one_always_picks_the_enabled_kind() {
    let never = MockServer::start(faulty(&[], 0.0), 0).await.unwrap();
    let always = MockServer::start(faulty(&[FaultKind::WrongTool], 1.0), 0)
        .await
        .unwrap();
    let order: Vec<(Proto, u32)> = (0..8)
        .map(|index| (PROTOCOLS[index % 4], (index % 3) as u32))
        .collect();
    drive(&never, &order).await;
    drive(&always, &order).await;
    let stats = never.stats();
    assert_eq!(stats.log.len(), 8);
    assert!(stats
        .log
        .iter()
        .all(|entry| entry.fault.is_none() && entry.status == 200));
    assert!(stats.faults_by_kind.is_empty());
    let stats = always.stats();
    assert!(stats
        .log
        .iter()
        .all(|entry| entry.fault.as_deref() == Some("wrong-tool") && entry.status == 200));
    assert_eq!(stats.faults_by_kind.get("wrong-tool"), Some(&8));
    never.shutdown().await;
    always.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_has_its_wire_shape() {
    let brief = overview_brief();
    for kind in FaultKind::ALL {
        if kind == FaultKind::Timeout {
            continue; // its own tests below
        }
        let server = MockServer::start(faulty(&[kind], 1.0), 0).await.unwrap();
        for proto in PROTOCOLS {
            let body = request(proto, &brief);
            let url = format!("{}{}", server.url(), proto.path());
            let result = send(&http(30_000), &url, proto, body.to_string().as_bytes()).await;
            let context = format!("{kind} over {proto:?}");
            if kind == FaultKind::Drop {
                let err = result.expect_err(&context);
                assert!(!err.is_timeout(), "{context}: {err}");
                continue;
            }
            let reply = result.unwrap();
            let status = reply.status;
            match kind {
                FaultKind::RateLimit => {
                    assert_eq!(status, 429, "{context}");
                    assert_eq!(reply.header("retry-after"), Some("0"), "{context}");
                    error_message(proto, 429, &reply.body);
                    match proto {
                        Proto::Anthropic => {
                            assert_eq!(reply.body["error"]["type"], "rate_limit_error");
                            assert_eq!(
                                reply.header("anthropic-ratelimit-requests-remaining"),
                                Some("0")
                            );
                            assert!(reply.header("anthropic-ratelimit-requests-reset").is_some());
                            assert_eq!(reply.header("x-should-retry"), Some("true"));
                        }
                        Proto::OpenAi => {
                            assert_eq!(reply.body["error"]["type"], "rate_limit_exceeded");
                            assert_eq!(reply.body["error"]["code"], "rate_limit_exceeded");
                        }
                        Proto::Gemini => {
                            assert_eq!(reply.body["error"]["status"], "RESOURCE_EXHAUSTED");
                            let details = reply.body["error"]["details"].as_array().unwrap();
                            let retry = details
                                .iter()
                                .find(|detail| {
                                    detail["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
                                })
                                .unwrap();
                            assert_eq!(retry["retryDelay"], "0s");
                        }
                        Proto::Ollama => {}
                    }
                }
                FaultKind::ServerError => {
                    assert_eq!(status, 500, "{context}");
                    error_message(proto, 500, &reply.body);
                }
                FaultKind::Overloaded => {
                    let expected = if proto == Proto::Anthropic { 529 } else { 503 };
                    assert_eq!(status, expected, "{context}");
                    assert_eq!(reply.header("retry-after"), Some("0"), "{context}");
                    error_message(proto, expected, &reply.body);
                    match proto {
                        Proto::Anthropic => {
                            assert_eq!(reply.body["error"]["type"], "overloaded_error")
                        }
                        Proto::Gemini => assert_eq!(reply.body["error"]["status"], "UNAVAILABLE"),
                        _ => {}
                    }
                }
                FaultKind::NoToolCall => {
                    assert_eq!(status, 200);
                    assert!(calls(proto, &reply.body).is_empty(), "{context}");
                    let text = match proto {
                        Proto::Anthropic => &reply.body["content"][0]["text"],
                        Proto::OpenAi => &reply.body["choices"][0]["message"]["content"],
                        Proto::Gemini => {
                            &reply.body["candidates"][0]["content"]["parts"][0]["text"]
                        }
                        Proto::Ollama => &reply.body["message"]["content"],
                    };
                    assert!(!text.as_str().unwrap().is_empty(), "{context}");
                }
                FaultKind::WrongTool => {
                    let calls = calls(proto, &reply.body);
                    assert_eq!(calls.len(), 1, "{context}");
                    assert_eq!(calls[0].0, ADD_WEEK_DETAILS, "{context}");
                }
                FaultKind::ParallelCalls => {
                    let calls = calls(proto, &reply.body);
                    assert_eq!(calls.len(), 2, "{context}");
                    assert!(calls.iter().all(|(name, _)| name == CREATE_PLAN_OVERVIEW));
                    if proto == Proto::Gemini {
                        let parts = &reply.body["candidates"][0]["content"]["parts"];
                        assert!(parts[0].get("thoughtSignature").is_some());
                        assert!(parts[1].get("thoughtSignature").is_none());
                    }
                }
                FaultKind::InvalidJson => {
                    let calls = calls(proto, &reply.body);
                    assert_eq!(calls.len(), 1, "{context}");
                    // Never the protocol's well-formed type: a string that is not JSON.
                    assert_eq!(
                        args_text(proto, &calls[0].1).is_some(),
                        proto == Proto::OpenAi
                    );
                    let text = calls[0].1.as_str().unwrap();
                    assert!(
                        serde_json::from_str::<Value>(text).is_err(),
                        "{context}: {text}"
                    );
                    assert_eq!(stop_reason(proto, &reply.body), normal_stop(proto));
                }
                FaultKind::Truncated => {
                    assert_eq!(
                        stop_reason(proto, &reply.body),
                        truncated_stop(proto),
                        "{context}"
                    );
                    let calls = calls(proto, &reply.body);
                    assert_eq!(calls.len(), 1, "{context}");
                    let text = args_text(proto, &calls[0].1).unwrap();
                    assert!(parse_overview(&text).is_err(), "{context}");
                    assert_eq!(usage(proto, &reply.body).1, MAX_OUT, "{context}");
                }
                FaultKind::InvalidArgs => {
                    let calls = calls(proto, &reply.body);
                    assert_eq!(calls.len(), 1, "{context}");
                    assert_eq!(stop_reason(proto, &reply.body), normal_stop(proto));
                    let overview = parse_overview(&args_text(proto, &calls[0].1).unwrap()).unwrap();
                    let violations =
                        check_overview(&overview, &brief.profile, WEEKS, None, &brief.rules);
                    assert!(has_errors(&violations), "{context}");
                }
                FaultKind::Timeout | FaultKind::Drop => unreachable!(),
            }
        }
        let stats = server.stats();
        assert_eq!(stats.faults_by_kind.get(kind.name()), Some(&4), "{kind}");
        assert!(stats
            .log
            .iter()
            .all(|entry| entry.fault.as_deref() == Some(kind.name())));
        if kind == FaultKind::Drop {
            assert!(stats.log.iter().all(|entry| entry.status == 0));
        }
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_holds_the_request_past_the_client_and_shutdown_cuts_it() {
    let config = MockConfig {
        timeout_hold_ms: 600_000,
        ..faulty(&[FaultKind::Timeout], 1.0)
    };
    let server = MockServer::start(config, 0).await.unwrap();
    let url = format!("{}{}", server.url(), Proto::OpenAi.path());
    let body = request(Proto::OpenAi, &overview_brief()).to_string();
    let err = send(&http(300), &url, Proto::OpenAi, body.as_bytes())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(server.stats().faults_by_kind.get("timeout"), Some(&1));

    // A held request does not keep the server alive.
    let ended = tokio::time::timeout(Duration::from_secs(10), server.shutdown()).await;
    assert!(ended.is_ok(), "shutdown waited for the held request");
    let refused = send(&http(2_000), &url, Proto::OpenAi, body.as_bytes()).await;
    assert!(refused.is_err(), "the server still answers after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_timeout_hold_then_answers_normally_and_latency_delays_answers() {
    let held = MockServer::start(
        MockConfig {
            timeout_hold_ms: 150,
            ..faulty(&[FaultKind::Timeout], 1.0)
        },
        0,
    )
    .await
    .unwrap();
    let slow = MockServer::start(
        MockConfig {
            latency_ms: 150,
            latency_jitter_ms: 20,
            ..MockConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    for server in [&held, &slow] {
        let started = Instant::now();
        let reply = post(
            server,
            Proto::Gemini,
            &request(Proto::Gemini, &overview_brief()),
        )
        .await;
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(reply.status, 200);
        let calls = calls(Proto::Gemini, &reply.body);
        parse_overview(&args_text(Proto::Gemini, &calls[0].1).unwrap()).unwrap();
    }
    held.shutdown().await;
    slow.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_all_answered_and_counted() {
    let server = MockServer::start(MockConfig::default(), 0).await.unwrap();
    let url = server.url();
    let http = http(30_000);
    let mut tasks = tokio::task::JoinSet::new();
    for week in 1..=WEEKS {
        let proto = PROTOCOLS[week as usize % 4];
        let body = request(proto, &week_brief(week)).to_string();
        let url = format!("{url}{}", proto.path());
        let http = http.clone();
        tasks.spawn(async move {
            send(&http, &url, proto, body.as_bytes())
                .await
                .unwrap()
                .status
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let stats = server.stats();
    assert_eq!(stats.log.len(), WEEKS as usize);
    assert_eq!(stats.requests_by_step.len(), WEEKS as usize);
    let mut seqs: Vec<u64> = stats.log.iter().map(|entry| entry.seq).collect();
    seqs.dedup();
    assert_eq!(seqs, (1..=u64::from(WEEKS)).collect::<Vec<_>>());
    assert!(stats.log.iter().all(|entry| PROTOCOLS
        .map(Proto::name)
        .contains(&entry.protocol.as_str())));
    assert_eq!(
        stats.requests_by_path.values().sum::<u64>(),
        u64::from(WEEKS)
    );
    server.shutdown().await;
}
