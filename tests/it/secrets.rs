//! Secrets: a canary key in the environment is sent to the provider, yet never appears in the
//! state directory, the plan file, `show`, or the logs at trace level, not even when the
//! provider quotes it back (in an error body, in a tool call, in text); a missing key exits 2
//! naming the variable, before anything is written.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::llm::{StepBrief, StepId, ToolRequest};
use periodize::mock_llm::{MockConfig, MockServer};
use periodize::providers::secret::Secret;
use periodize::providers::{http, HttpProvider, Protocol};
use serde_json::{json, Value};

use crate::hostile::{Hostile, Reply, Request};
use crate::http_providers::{base_url, PROTOCOLS};
use crate::support::{fixture, stderr, stdout, Sandbox};

pub const CANARY: &str = "sk-canary-3f9c2a7e-never-print-me";

fn files_containing(dir: &Path, needle: &[u8], found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_containing(&path, needle, found);
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|window| window == needle)
        {
            found.push(path.display().to_string());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_key_never_reaches_the_store_logs_or_output() {
    let mock = MockServer::start(MockConfig::default(), 0).await.unwrap();
    for (protocol, variable) in [
        (
            periodize::providers::Protocol::Anthropic,
            "ANTHROPIC_API_KEY",
        ),
        (periodize::providers::Protocol::OpenAi, "OPENAI_API_KEY"),
        (periodize::providers::Protocol::Gemini, "GEMINI_API_KEY"),
    ] {
        let sandbox = Sandbox::new();
        let profile = fixture("profiles/athlete.json").display().to_string();
        let url = base_url(&mock.url(), protocol);
        let args = [
            "generate",
            "--profile",
            &profile,
            "--weeks",
            "2",
            "--provider",
            protocol.name(),
            "--base-url",
            &url,
            "--json",
        ];
        let output = tokio::task::spawn_blocking({
            let mut command = sandbox.command();
            command
                .args(args)
                .env(variable, CANARY)
                .env("PERIODIZE_LOG", "trace");
            move || command.output().unwrap()
        })
        .await
        .unwrap();
        assert!(output.status.success(), "{protocol:?}: {}", stderr(&output));
        let logs = stderr(&output);
        assert!(
            logs.contains("TRACE") || logs.contains("DEBUG"),
            "{protocol:?}: trace logging was on"
        );
        assert!(
            !logs.contains(CANARY) && !stdout(&output).contains(CANARY),
            "{protocol:?}: the key leaked into the logs or stdout"
        );
        let show = sandbox.run(&[
            "show",
            "--json",
            serde_json::from_str::<serde_json::Value>(stdout(&output).lines().last().unwrap())
                .unwrap()["run_id"]
                .as_str()
                .unwrap(),
        ]);
        assert!(!stdout(&show).contains(CANARY));
        let mut found = Vec::new();
        files_containing(sandbox.dir.path(), CANARY.as_bytes(), &mut found);
        assert!(found.is_empty(), "{protocol:?}: the key is in {found:?}");
    }
    let stats = mock.stats();
    assert_eq!(stats.log.len(), 9, "three runs of three steps");
    assert!(
        stats.log.iter().all(|entry| entry.credentials),
        "every request carried the key"
    );
    mock.shutdown().await;
}

#[test]
fn a_missing_key_exits_2_naming_the_variable() {
    for (provider, variable) in [
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("openai", "OPENAI_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
    ] {
        let sandbox = Sandbox::new();
        let profile = fixture("profiles/athlete.json").display().to_string();
        let output = sandbox
            .command()
            .args(["generate", "--profile", &profile, "--provider", provider])
            .env_remove(variable)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{provider}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(variable),
            "{provider}: {}",
            stderr(&output)
        );
        assert!(!sandbox.path("state").exists() && !sandbox.path("output").exists());
    }
}

/// How OpenAI quotes a key in its 401: the first characters, a mask, the last four.
const MASKED: &str = "sk-can...t-me";
/// A distinctive middle part of `CANARY`: present only where the key itself is.
const CANARY_MIDDLE: &str = "3f9c2a7e";
/// A bearer token a server echoes from request headers (not the key periodize holds).
const BEARER: &str = "tok4b1d9e0c7a5f3e2d1";

/// What a hostile server quotes back: the key whole and masked (for the providers that hold
/// one) and an echoed authorization header.
fn echo(with_key: bool) -> String {
    if with_key {
        format!("{CANARY} or {MASKED}; Authorization: Bearer {BEARER}")
    } else {
        format!("Authorization: Bearer {BEARER}")
    }
}

fn needles(with_key: bool) -> Vec<&'static str> {
    if with_key {
        vec![CANARY, MASKED, CANARY_MIDDLE, BEARER]
    } else {
        vec![BEARER]
    }
}

fn variable(protocol: Protocol) -> Option<&'static str> {
    protocol.key_variable()
}

/// An error body in the protocol's own shape, quoting `message`.
pub fn error_reply(protocol: Protocol, message: &str) -> Value {
    match protocol {
        Protocol::Ollama => json!({"error": message}),
        _ => json!({"type": "error", "error": {
            "type": "authentication_error", "code": "invalid_api_key",
            "status": "UNAUTHENTICATED", "message": message,
        }}),
    }
}

/// A 200 answer that is text, not a call.
pub fn text_reply(protocol: Protocol, text: &str) -> Value {
    match protocol {
        Protocol::Anthropic => json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }),
        Protocol::OpenAi => json!({
            "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }),
        Protocol::Gemini => json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5},
        }),
        Protocol::Ollama => json!({
            "model": "m", "message": {"role": "assistant", "content": text},
            "done": true, "done_reason": "stop", "prompt_eval_count": 10, "eval_count": 5,
        }),
    }
}

/// A 200 answer with one call of `tool`.
fn call_reply(protocol: Protocol, tool: &str, arguments: Value) -> Value {
    match protocol {
        Protocol::Anthropic => json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": tool, "input": arguments}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 5},
        }),
        Protocol::OpenAi => json!({
            "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": arguments.to_string()}}
            ]}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }),
        Protocol::Gemini => json!({
            "candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": tool, "args": arguments}}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5},
        }),
        Protocol::Ollama => json!({
            "model": "m", "message": {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": tool, "arguments": arguments}}
            ]},
            "done": true, "done_reason": "stop", "prompt_eval_count": 10, "eval_count": 5,
        }),
    }
}

pub fn overview_request() -> ToolRequest {
    let profile = parse_profile(
        r#"{"name": "A", "ftp_w": 250, "weekly_hours": 5, "available_days": ["Tuesday", "Saturday"]}"#,
    )
    .unwrap();
    ToolRequest {
        system: "You are a coach.".into(),
        user: "Plan the overview.".into(),
        tool: periodize::tools::overview_tool(2),
        repair_turns: Vec::new(),
        max_output_tokens: 4096,
        brief: StepBrief {
            step: StepId::Overview,
            profile,
            total_weeks: 2,
            event: None,
            rules: Rules::default(),
            overview: None,
        },
        shared_prefix_bytes: 0,
    }
}

pub fn provider(protocol: Protocol, url: &str, key: Option<&str>) -> HttpProvider {
    HttpProvider {
        protocol,
        client: http::client(http::Timeouts {
            connect_ms: 2_000,
            request_ms: 10_000,
            read_ms: 0,
        })
        .unwrap(),
        base_url: base_url(url, protocol),
        model: "m".into(),
        key: key.map(Secret::new),
        mock_brief: true,
        limiter: std::sync::Arc::new(periodize::providers::limiter::Limiter::new(
            Default::default(),
        )),
        price: None,
        context_tokens: None,
    }
}

/// Each protocol's client, holding the key (Ollama's too, as for ollama.com), against a server
/// that quotes it in a 401 body, a 400 body, a tool call and a text answer: the reply the
/// provider layer returns carries none of it, and says where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_is_redacted_from_every_reply_of_every_protocol() {
    let tool = periodize::tools::CREATE_PLAN_OVERVIEW;
    for protocol in PROTOCOLS {
        let message = format!("Incorrect API key provided: {}", echo(true));
        let answers = [
            (401, error_reply(protocol, &message)),
            (400, error_reply(protocol, &message)),
            (
                200,
                call_reply(protocol, tool, json!({"coaching_notes": echo(true)})),
            ),
            (200, text_reply(protocol, &echo(true))),
        ];
        for (status, body) in answers {
            let server = Hostile::start({
                let body = body.clone();
                move |_| {
                    let body = body.clone();
                    async move { Reply::json(status, &body) }
                }
            })
            .await;
            let reply = provider(protocol, &server.url(), Some(CANARY))
                .call(&overview_request())
                .await;
            let shown = format!("{reply:?}");
            for needle in needles(true) {
                assert!(
                    !shown.contains(needle),
                    "{protocol:?} {status}: {needle} in {shown}"
                );
            }
            assert!(
                shown.contains("[redacted]"),
                "{protocol:?} {status}: {shown}"
            );
            let header = match protocol {
                Protocol::Anthropic => "x-api-key",
                Protocol::Gemini => "x-goog-api-key",
                Protocol::OpenAi | Protocol::Ollama => "authorization",
            };
            assert!(
                server.requests()[0]
                    .header(header)
                    .is_some_and(|value| value.ends_with(CANARY)),
                "{protocol:?}: the key was sent in {header}"
            );
        }
    }
}

/// Every value in a tool call's arguments named `coaching_notes` or `description` gets the
/// echo appended; arguments sent as JSON text (OpenAI) are rewritten inside the text.
fn inject(value: &mut Value, echo: &str) {
    match value {
        Value::Object(map) => {
            for (name, child) in map.iter_mut() {
                match child {
                    Value::String(text) if name == "coaching_notes" || name == "description" => {
                        text.push(' ');
                        text.push_str(echo);
                    }
                    Value::String(text) if text.trim_start().starts_with('{') => {
                        if let Ok(mut inner) = serde_json::from_str::<Value>(text) {
                            inject(&mut inner, echo);
                            *text = inner.to_string();
                        }
                    }
                    _ => inject(child, echo),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| inject(item, echo)),
        _ => {}
    }
}

/// Forwards a request to mock-llm and hands its answer to `rewrite` before sending it back.
pub async fn forward(
    mock_url: String,
    protocol: Protocol,
    request: Request,
    rewrite: impl FnOnce(&mut Value),
) -> Reply {
    let client = http::client(http::Timeouts::default()).unwrap();
    let mut headers = protocol.headers(Some(&Secret::new(CANARY)));
    if let Some(brief) = request.header(periodize::providers::MOCK_BRIEF_HEADER) {
        headers.push((
            periodize::providers::MOCK_BRIEF_HEADER,
            http::HeaderValue::Plain(brief.to_string()),
        ));
    }
    let url = format!("{mock_url}{}", request.path);
    let reply = http::post_json(
        &client,
        &url,
        &headers,
        request.json().to_string().into_bytes(),
    )
    .await
    .unwrap();
    let mut body: Value = serde_json::from_slice(&reply.body).unwrap();
    rewrite(&mut body);
    Reply::json(reply.status, &body)
}

/// Runs `generate` against `url` off the async threads, which keep serving the servers.
pub async fn generate(sandbox: &Sandbox, protocol: Protocol, url: &str, extra: &[&str]) -> Output {
    let profile = fixture("profiles/athlete.json").display().to_string();
    let url = base_url(url, protocol);
    let mut command = sandbox.command();
    command
        .args([
            "generate",
            "--profile",
            &profile,
            "--weeks",
            "2",
            "--provider",
            protocol.name(),
            "--base-url",
            &url,
            "--retry-base-ms",
            "1",
            "--json",
        ])
        .args(extra)
        .env("PERIODIZE_LOG", "trace");
    if let Some(variable) = variable(protocol) {
        command.env(variable, CANARY);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Everything a user can see of the run: the generate output, status, list and show (both
/// forms), and every file of the sandbox (state directory and plan files), searched raw.
fn assert_nowhere(sandbox: &Sandbox, generated: &Output, protocol: Protocol, case: &str) -> String {
    let with_key = variable(protocol).is_some();
    let logs = stderr(generated);
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "{protocol:?} {case}: trace logging was on"
    );
    let run_id = serde_json::from_str::<Value>(stdout(generated).lines().last().unwrap()).unwrap()
        ["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen = format!("{}{logs}", stdout(generated));
    for args in [
        vec!["status"],
        vec!["status", &run_id],
        vec!["list"],
        vec!["show", &run_id],
        vec!["show", "--json", &run_id],
    ] {
        let output = sandbox.run(&args);
        seen.push_str(&stdout(&output));
        seen.push_str(&stderr(&output));
    }
    for needle in needles(with_key) {
        assert!(
            !seen.contains(needle),
            "{protocol:?} {case}: {needle} was printed:\n{seen}"
        );
        let mut found = Vec::new();
        files_containing(sandbox.dir.path(), needle.as_bytes(), &mut found);
        assert!(
            found.is_empty(),
            "{protocol:?} {case}: {needle} is in {found:?}"
        );
    }
    seen
}

/// The binary end to end, per protocol: a provider that quotes the key in a 401 body, in a 400
/// body, or in its answers (a text answer first, then tool calls whose text fields quote it):
/// the key is in no file of the state directory, no plan file, no output, no log line at
/// trace level, and not in `status`, `list` or `show`. Ollama holds no key; its server echoes
/// a bearer token instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_quoted_by_the_provider_appears_nowhere() {
    let mock = MockServer::start(MockConfig::default(), 0).await.unwrap();
    for protocol in PROTOCOLS {
        let with_key = variable(protocol).is_some();
        for status in [401, 400] {
            let message = format!("Incorrect API key provided: {}", echo(with_key));
            let body = error_reply(protocol, &message);
            let server = Hostile::start(move |_| {
                let body = body.clone();
                async move { Reply::json(status, &body) }
            })
            .await;
            let sandbox = Sandbox::new();
            let output = generate(&sandbox, protocol, &server.url(), &[]).await;
            assert_eq!(
                output.status.code(),
                Some(1),
                "{protocol:?} {status}: {}",
                stderr(&output)
            );
            let case = format!("error {status}");
            let seen = assert_nowhere(&sandbox, &output, protocol, &case);
            assert!(
                seen.contains("[redacted]"),
                "{protocol:?} {case}: the failure says what was redacted:\n{seen}"
            );
        }

        let answered = Arc::new(AtomicUsize::new(0));
        let server = Hostile::start({
            let mock_url = mock.url();
            move |request| {
                let first = answered.fetch_add(1, Ordering::SeqCst) == 0;
                let mock_url = mock_url.clone();
                async move {
                    if first {
                        Reply::json(200, &text_reply(protocol, &echo(with_key)))
                    } else {
                        forward(mock_url, protocol, request, |body| {
                            inject(body, &echo(with_key))
                        })
                        .await
                    }
                }
            }
        })
        .await;
        let sandbox = Sandbox::new();
        let output = generate(&sandbox, protocol, &server.url(), &[]).await;
        assert!(
            output.status.success(),
            "{protocol:?} answers: {}",
            stderr(&output)
        );
        assert_nowhere(&sandbox, &output, protocol, "answers");
        let plans: Vec<_> = std::fs::read_dir(sandbox.path("output"))
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        assert_eq!(plans.len(), 1);
        assert!(
            plans[0].contains("[redacted]"),
            "{protocol:?}: the plan kept the model's text, redacted"
        );
        assert!(
            server.requests().len() >= 4,
            "{protocol:?}: a text answer, its repair, and two weeks"
        );
    }
    mock.shutdown().await;
}

/// A base URL with credentials (`user:password@`) would be stored with the run: it is refused
/// before anything is written, exit 2, naming the flag (or `OLLAMA_HOST`) and where the key
/// goes instead, and the error never repeats the credentials.
#[test]
fn credentials_in_a_base_url_are_refused_without_echoing_them() {
    let profile = fixture("profiles/athlete.json").display().to_string();
    for protocol in PROTOCOLS {
        for url in [
            "http://rider:pw-7c1e9b2d@127.0.0.1:9/v1",
            "https://pw-7c1e9b2d@127.0.0.1:9",
        ] {
            let sandbox = Sandbox::new();
            let output = sandbox
                .command()
                .args(["generate", "--profile", &profile, "--provider"])
                .args([protocol.name(), "--base-url", url])
                .output()
                .unwrap();
            let text = stderr(&output);
            assert_eq!(output.status.code(), Some(2), "{protocol:?} {url}: {text}");
            assert!(text.contains("--base-url"), "{protocol:?}: {text}");
            if let Some(variable) = variable(protocol) {
                assert!(text.contains(variable), "{protocol:?}: {text}");
            }
            assert!(
                !text.contains("pw-7c1e9b2d") && !text.contains("rider"),
                "{protocol:?}: the credentials were echoed: {text}"
            );
            assert!(text.contains("127.0.0.1:9"), "{protocol:?}: {text}");
            assert!(!sandbox.path("state").exists());
        }
    }
    let sandbox = Sandbox::new();
    let output = sandbox
        .command()
        .args(["generate", "--profile", &profile, "--provider", "ollama"])
        .env("OLLAMA_HOST", "rider:pw-7c1e9b2d@127.0.0.1:11434")
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("OLLAMA_HOST") && !text.contains("pw-7c1e9b2d"),
        "{text}"
    );
    assert!(!sandbox.path("state").exists());
}
