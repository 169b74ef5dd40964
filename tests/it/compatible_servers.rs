//! The OpenAI client against mock-llm behaving like local OpenAI-compatible servers (llama.cpp's
//! llama-server, vLLM, LM Studio, Ollama's `/v1`), each quirk modelled on every request: the
//! output cap reaches a server that reads only `max_tokens`; a call left in the answer text is
//! read there; a server that drops `tools` gets a failure naming the fix; a server that reads
//! `tool_choice` only as a string still gets a call; another protocol's path is a 404 that
//! names the URL and the flags to check.

use periodize::engine::Outcome;
use periodize::mock_llm::{MockConfig, MockServer, Quirk};
use periodize::providers::{http, mock_brief, openai, Protocol, MOCK_BRIEF_HEADER};
use periodize::tools;
use serde_json::{json, Value};

use crate::http_providers::{plan_against, quiet_config};
use crate::secrets::generate;
use crate::support::{stderr, stdout, Sandbox};

/// The mock's configuration for tests, with `quirks`.
fn quirky(quirks: &[Quirk]) -> MockConfig {
    MockConfig {
        quirks: quirks.to_vec(),
        ..quiet_config()
    }
}

/// Plans a `total_weeks` plan over `protocol` against a mock with `quirks`, and returns how
/// it ended, with the mock.
async fn plan_with(
    protocol: Protocol,
    quirks: &[Quirk],
    total_weeks: u32,
) -> (Outcome, MockServer) {
    let (outcome, _, mock) = plan_against(protocol, quirky(quirks), 1, total_weeks, 2).await;
    (outcome, mock)
}

/// `plan_with` over the OpenAI protocol.
async fn plan(quirks: &[Quirk], total_weeks: u32) -> (Outcome, MockServer) {
    plan_with(Protocol::OpenAi, quirks, total_weeks).await
}

/// A model on a Hermes or Qwen template writes its call as `<tool_call>` JSON after a line of
/// prose, and neither the compatible server nor Ollama parses it: the decoders read it there,
/// so every step is answered at its first request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_written_in_the_answer_text_is_accepted() {
    for protocol in [Protocol::OpenAi, Protocol::Ollama] {
        let (outcome, mock) = plan_with(protocol, &[Quirk::ToolCallInContent], 2).await;
        assert!(
            matches!(outcome, Outcome::Done { .. }),
            "{protocol:?}: {outcome:?}"
        );
        let log = mock.stats().log;
        assert_eq!(log.len(), 3, "{protocol:?}: one request a step: {log:?}");
        mock.shutdown().await;
    }
}

/// A server that reads only `max_tokens` (Ollama's `/v1` ignores `max_completion_tokens`, and
/// then generates until its context ends): every request of a plan reaches it with its phase's
/// output cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_output_cap_reaches_a_server_that_reads_only_max_tokens() {
    let (outcome, mock) = plan(&[Quirk::MaxTokensOnly], 2).await;
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let mut caps: Vec<(String, Option<u64>)> = mock
        .stats()
        .log
        .iter()
        .map(|entry| (entry.step.clone(), entry.max_output_tokens))
        .collect();
    caps.sort();
    let week = Some(u64::from(tools::WEEK_OUTPUT_TOKENS));
    assert_eq!(
        caps,
        [
            (
                "overview".into(),
                Some(u64::from(tools::overview_output_tokens(2)))
            ),
            ("week 1".into(), week),
            ("week 2".into(), week),
        ]
    );
    mock.shutdown().await;
}

/// llama.cpp reads `tool_choice` only as a string: the object form falls back to "auto", and
/// the mock's model then answers prose. Our requests force the tool with "required", so every
/// step is answered by a call at the first request; the object form, sent to the same server,
/// gets prose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_reads_tool_choice_only_as_a_string_still_gets_a_call() {
    let (outcome, mock) = plan(&[Quirk::StringToolChoice], 2).await;
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let stats = mock.stats();
    assert_eq!(stats.log.len(), 3, "one request a step: {:?}", stats.log);
    assert!(stats.log.iter().all(|entry| entry.repair_turns == 0));

    let request = crate::secrets::overview_request();
    let mut body = openai::encode(&request, "m", &format!("{}/v1", mock.url()));
    body["tool_choice"] = json!({"type": "function", "function": {"name": request.tool.name}});
    let client = http::client(http::Timeouts::default()).unwrap();
    let headers = vec![(
        MOCK_BRIEF_HEADER,
        http::HeaderValue::Plain(mock_brief(&request.brief)),
    )];
    let url = format!("{}/v1/chat/completions", mock.url());
    let reply = http::post_json(&client, &url, &headers, body.to_string().into_bytes())
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&reply.body).unwrap();
    let message = &answer["choices"][0]["message"];
    assert!(
        message.get("tool_calls").is_none() && message["content"].is_string(),
        "the object form leaves the tool optional: {answer}"
    );
    mock.shutdown().await;
}

/// A chat template without tool support makes the server drop `tools` without an error, and the
/// model answers prose: the run fails, and what the user sees (the failure on stderr, and
/// `status`) says the server may not be passing tools and how to start llama.cpp and vLLM so
/// that it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prose_from_a_server_that_drops_tools_names_the_fix() {
    let mock = MockServer::start(quirky(&[Quirk::ToolsDropped]), 0)
        .await
        .unwrap();
    let sandbox = Sandbox::new();
    let output = generate(&sandbox, Protocol::OpenAi, &mock.url(), &[]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let status = stdout(&sandbox.run(&["status"]));
    for needed in [
        "the server may not be passing tools",
        "llama-server with --jinja",
        "--enable-auto-tool-choice --tool-call-parser",
    ] {
        assert!(
            stderr(&output).contains(needed),
            "{needed}: {}",
            stderr(&output)
        );
        assert!(status.contains(needed), "{needed}: {status}");
    }
    mock.shutdown().await;
}

/// `--provider ollama` (or anthropic, or gemini) against a server that speaks only the OpenAI
/// protocol, as llama-server does: its 404 fails the run at the first request with a message
/// that names the URL asked and says to check `--base-url` and `--provider`, and no hint to
/// `resume --retry`, which would ask the same wrong URL again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_from_a_wrong_endpoint_names_the_url_and_the_flags() {
    let mock = MockServer::start(quirky(&[Quirk::OpenAiPathsOnly]), 0)
        .await
        .unwrap();
    for protocol in [Protocol::Ollama, Protocol::Anthropic, Protocol::Gemini] {
        let sandbox = Sandbox::new();
        let output = generate(&sandbox, protocol, &mock.url(), &[]).await;
        assert_eq!(output.status.code(), Some(1), "{protocol:?}");
        let url = protocol.endpoint(
            &crate::http_providers::base_url(&mock.url(), protocol),
            protocol.default_model(),
        );
        let shown = stderr(&output);
        let failure = shown
            .lines()
            .find(|line| line.starts_with("error: run"))
            .unwrap_or_default();
        for needed in [
            format!("POST {url} was not found"),
            "check --base-url and --provider".to_string(),
        ] {
            assert!(
                failure.contains(&needed),
                "{protocol:?}: {needed} in {failure}"
            );
        }
        assert!(!shown.contains("--retry"), "{protocol:?}: {shown}");
    }
    assert_eq!(
        mock.stats().log.len(),
        3,
        "one request each: a 404 is fatal"
    );
    mock.shutdown().await;
}
