//! The provider layer against hostile servers: a redirect is never followed (it would carry
//! the key elsewhere) and fails the run naming where it pointed; a reply body that never ends
//! stops at the cap with a fatal error; impossible token counts are replaced by estimates, so
//! `--max-tokens` still stops a run; an overlong text field is refused and repaired; a server
//! that never answers times out on silence, naming the option to raise.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use periodize::domain::validate::MAX_TEXT_CHARS;
use periodize::llm::{ModelFailure, ModelOutcome};
use periodize::mock_llm::{MockConfig, MockServer};
use periodize::providers::http::{self, MAX_REPLY_BODY_BYTES};
use periodize::providers::{HttpProvider, Protocol, MAX_TOKENS_PER_REQUEST};
use serde_json::{json, Value};

use crate::hostile::{Hostile, Reply};
use crate::http_providers::PROTOCOLS;
use crate::secrets::{forward, generate, overview_request, provider, text_reply, CANARY};
use crate::support::{stderr, stdout, Sandbox};

/// A server that answers 302 or 307 to another server on another port: the second server
/// never receives a request (so never the key), the first gets exactly one (a redirect is
/// fatal, not retried), and the run fails naming the location and the flag to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_fails_naming_its_location() {
    for protocol in PROTOCOLS {
        for status in [302, 307] {
            let target = Hostile::start(move |_| async move {
                Reply::json(200, &text_reply(protocol, "followed"))
            })
            .await;
            let front = Hostile::start({
                let target_url = target.url();
                move |request| {
                    let location = format!("{target_url}{}", request.path);
                    async move { Reply::json(status, &json!({})).header("location", &location) }
                }
            })
            .await;
            let sandbox = Sandbox::new();
            let output = generate(&sandbox, protocol, &front.url(), &[]).await;
            assert_eq!(
                output.status.code(),
                Some(1),
                "{protocol:?} {status}: {}",
                stderr(&output)
            );
            assert!(
                target.requests().is_empty(),
                "{protocol:?} {status}: the redirect was followed"
            );
            assert_eq!(front.requests().len(), 1, "{protocol:?} {status}");
            let reason = stdout(&output);
            for needed in [
                format!("answered {status} with a redirect to"),
                target.url(),
                "fix --base-url".to_string(),
            ] {
                assert!(
                    reason.contains(&needed),
                    "{protocol:?} {status}: {needed} missing in {reason}"
                );
            }
            assert!(!reason.contains(CANARY));
        }
    }
}

/// A server that streams a chunked body forever: the call ends by itself once the body passes
/// `MAX_REPLY_BODY_BYTES` (the request timeout is far away), with a fatal failure saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_reply_body_stops_at_the_cap() {
    for protocol in PROTOCOLS {
        let server = Hostile::start(|_| async { Reply::Endless { status: 200 } }).await;
        let reply = provider(protocol, &server.url(), None)
            .call(&overview_request())
            .await;
        assert_eq!(
            reply.outcome,
            ModelOutcome::Failed(ModelFailure::Fatal {
                message: format!(
                    "{}: the 200 reply body exceeds {MAX_REPLY_BODY_BYTES} bytes, more than any model reply; reading stopped there",
                    protocol.name()
                )
            }),
            "{protocol:?}"
        );
    }
}

/// A server that takes the request and never answers: the call ends after the silence limit
/// (`--read-timeout-ms`) with no whole-request limit set, as a transient failure naming the
/// option to raise; with only a whole-request limit, it names that one. Real sockets cannot
/// run on paused time, so the limits are 200 ms and the test's own bound is far above them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_naming_the_option_to_raise() {
    let server = Hostile::start(|_| std::future::pending::<Reply>()).await;
    for (timeouts, option) in [
        (
            http::Timeouts {
                request_ms: 0,
                read_ms: 200,
                ..http::Timeouts::default()
            },
            "nothing from the server for --read-timeout-ms 200",
        ),
        (
            http::Timeouts {
                request_ms: 200,
                read_ms: 0,
                ..http::Timeouts::default()
            },
            "no complete reply within --request-timeout-ms 200",
        ),
    ] {
        let provider = HttpProvider {
            client: http::client(timeouts).unwrap(),
            ..provider(Protocol::OpenAi, &server.url(), None)
        };
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            provider.call(&overview_request()),
        )
        .await
        .expect("the call ends by its own timeout");
        let ModelOutcome::Failed(ModelFailure::Transient { message, .. }) = reply.outcome else {
            panic!("{option}: {reply:?}")
        };
        assert!(message.contains(option), "{message}");
    }
}

/// The command line's defaults time out on silence, not on the whole request: a CPU server's
/// long but finished answer is not cut at a fixed total. `--read-timeout-ms` reaches the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_timeout_flag_reaches_the_client() {
    assert_eq!(
        http::Timeouts::default().request_ms,
        0,
        "no total limit by default"
    );
    let server = Hostile::start(|_| std::future::pending::<Reply>()).await;
    let sandbox = Sandbox::new();
    let output = generate(
        &sandbox,
        Protocol::OpenAi,
        &server.url(),
        &["--read-timeout-ms", "200", "--max-transient-retries", "0"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("nothing from the server for --read-timeout-ms 200"),
        "{}",
        stdout(&output)
    );
}

/// The usage fields of each protocol's answer, input then output.
fn usage_fields(protocol: Protocol) -> [&'static str; 2] {
    match protocol {
        Protocol::Anthropic => ["input_tokens", "output_tokens"],
        Protocol::OpenAi => ["prompt_tokens", "completion_tokens"],
        Protocol::Gemini => ["promptTokenCount", "candidatesTokenCount"],
        Protocol::Ollama => ["prompt_eval_count", "eval_count"],
    }
}

fn set_counts(value: &mut Value, fields: [&str; 2], count: &Value) {
    match value {
        Value::Object(map) => {
            for (name, child) in map.iter_mut() {
                if fields.contains(&name.as_str()) {
                    *child = count.clone();
                } else {
                    set_counts(child, fields, count);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| set_counts(item, fields, count)),
        _ => {}
    }
}

/// A server whose usage says u64::MAX, a negative, a fractional, a non-numeric or an absurd
/// count: each is replaced by an estimate of the request (never 0, never wrapped), so a small
/// `--max-tokens` stops the run after the overview, saying how many tokens it used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_token_counts_are_estimated_and_the_budget_still_holds() {
    let mock = MockServer::start(MockConfig::default(), 0).await.unwrap();
    for protocol in PROTOCOLS {
        for count in [
            json!(u64::MAX),
            json!(-5),
            json!(1.5),
            json!("lots"),
            json!(MAX_TOKENS_PER_REQUEST + 1),
        ] {
            let server = Hostile::start({
                let (mock_url, count) = (mock.url(), count.clone());
                move |request| {
                    let (mock_url, count) = (mock_url.clone(), count.clone());
                    async move {
                        forward(mock_url, protocol, request, |body| {
                            set_counts(body, usage_fields(protocol), &count)
                        })
                        .await
                    }
                }
            })
            .await;
            let sandbox = Sandbox::new();
            let output =
                generate(&sandbox, protocol, &server.url(), &["--max-tokens", "100"]).await;
            let last: Value =
                serde_json::from_str(stdout(&output).lines().last().unwrap_or("null")).unwrap();
            let reason = last["reason"].as_str().unwrap_or_default();
            assert!(
                last["state"] == "failed" && reason.contains("token budget reached"),
                "{protocol:?} {count}: the budget stops the run: {}{}",
                stdout(&output),
                stderr(&output)
            );
            let used: u64 = reason
                .split("token budget reached: ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|number| number.parse().ok())
                .unwrap();
            let sent = server.requests();
            assert_eq!(sent.len(), 1, "{protocol:?} {count}: only the overview");
            let request_tokens = u64::try_from(sent[0].body.len() / 4).unwrap();
            assert!(
                (request_tokens..MAX_TOKENS_PER_REQUEST).contains(&used),
                "{protocol:?} {count}: {used} tokens, estimated from a {}-byte request",
                sent[0].body.len()
            );
            assert!(
                stderr(&output).contains("impossible token count"),
                "{protocol:?} {count}: the count is reported"
            );
        }
    }
    mock.shutdown().await;
}

/// Sets every string named `field` in an answer (inside arguments sent as JSON text too).
fn set_text(value: &mut Value, field: &str, text: &str) {
    match value {
        Value::Object(map) => {
            for (name, child) in map.iter_mut() {
                match child {
                    Value::String(current) if name == field => *current = text.to_string(),
                    Value::String(current) if current.trim_start().starts_with('{') => {
                        if let Ok(mut inner) = serde_json::from_str::<Value>(current) {
                            set_text(&mut inner, field, text);
                            *current = inner.to_string();
                        }
                    }
                    _ => set_text(child, field, text),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| set_text(item, field, text)),
        _ => {}
    }
}

/// A first overview whose weekly focus is 12,000 characters: refused with the field's path
/// and the limit (a repairable violation, not a fatal error), repaired in the same
/// conversation, and the plan completes without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_text_field_is_refused_and_repaired() {
    let mock = MockServer::start(MockConfig::default(), 0).await.unwrap();
    for protocol in PROTOCOLS {
        let answered = Arc::new(AtomicUsize::new(0));
        let server = Hostile::start({
            let mock_url = mock.url();
            move |request| {
                let first = answered.fetch_add(1, Ordering::SeqCst) == 0;
                let mock_url = mock_url.clone();
                async move {
                    forward(mock_url, protocol, request, |body| {
                        if first {
                            set_text(body, "weekly_focus", &"x".repeat(12_000));
                        }
                    })
                    .await
                }
            }
        })
        .await;
        let sandbox = Sandbox::new();
        let output = generate(&sandbox, protocol, &server.url(), &[]).await;
        assert!(output.status.success(), "{protocol:?}: {}", stderr(&output));
        let run_id = serde_json::from_str::<Value>(stdout(&output).lines().last().unwrap())
            .unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let show = stdout(&sandbox.run(&["show", "--json", &run_id]));
        let refusal = format!(
            "weekly_overview[0].weekly_focus: is 12000 characters; at most {MAX_TEXT_CHARS}"
        );
        assert!(show.contains(&refusal), "{protocol:?}: {show}");
        assert_eq!(
            server.requests().len(),
            4,
            "{protocol:?}: the overview twice, then two weeks"
        );
        let plans: Vec<_> = std::fs::read_dir(sandbox.path("output"))
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        assert!(!plans[0].contains(&"x".repeat(100)), "{protocol:?}");
    }
    mock.shutdown().await;
}
