//! Requests over the model's context window, against mock-llm with a window on every protocol:
//! a context-length error is its own failure kind, not fatal. A request that outgrew the window
//! with its repair turns is asked again at once without them and the step recovers; a request
//! that does not fit even without them costs an attempt, and the step fails by the budget.
//! `--context-tokens` fits a request to a stated window before it is sent.

use periodize::engine::Outcome;
use periodize::llm::{ModelFailure, ModelOutcome, PriorReply, RepairTurn, ToolRequest};
use periodize::mock_llm::{FaultKind, MockConfig, MockServer, RequestLogEntry};
use periodize::providers::BYTES_PER_TOKEN_ESTIMATE;
use periodize::workflow::{AttemptOutcome, RunId};

use crate::hostile::{Hostile, Reply};
use crate::http_providers::{plan_against, quiet_config, PROTOCOLS};
use crate::secrets::overview_request;

/// Every step's first answer fails validation, so its second request carries a repair turn.
fn refused_once() -> MockConfig {
    MockConfig {
        fault_rate: 1.0,
        faults: vec![FaultKind::InvalidArgs],
        fault_only_first_n: 1,
        ..quiet_config()
    }
}

/// Runs a 2-week plan over `protocol` against a mock with `config`; how it ended, the run's
/// record and the mock's request log.
async fn plan(
    protocol: periodize::providers::Protocol,
    config: MockConfig,
) -> (Outcome, periodize::workflow::Run, Vec<RequestLogEntry>) {
    let (outcome, setup, mock) = plan_against(protocol, config, 7, 2, 1).await;
    let run = setup.engine.store.load_view(RunId(7)).unwrap().unwrap().run;
    let log = mock.stats().log;
    mock.shutdown().await;
    (outcome, run, log)
}

/// The window sits just above every request without repair turns (measured by a run with no
/// window), so only requests that carry one are over it: each such step gets a 400, is asked
/// again at once without the turn, and is accepted; the attempts say what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_over_the_window_is_asked_again_without_its_repair_turns() {
    for protocol in PROTOCOLS {
        let (_, _, measured) = plan(protocol, refused_once()).await;
        let window = measured
            .iter()
            .filter(|entry| entry.repair_turns == 0)
            .map(|entry| entry.input_tokens)
            .max()
            .unwrap();
        let over: Vec<&str> = measured
            .iter()
            .filter(|entry| entry.repair_turns > 0 && entry.input_tokens > window)
            .map(|entry| entry.step.as_str())
            .collect();
        assert!(
            !over.is_empty(),
            "{protocol:?}: no repaired request is larger: {measured:?}"
        );

        let config = MockConfig {
            context_window_tokens: window,
            ..refused_once()
        };
        let (outcome, run, log) = plan(protocol, config).await;
        assert!(
            matches!(outcome, Outcome::Done { .. }),
            "{protocol:?}: {outcome:?}"
        );
        for (step, state) in &run.steps {
            let name = step.to_string();
            if !over.contains(&name.as_str()) {
                continue;
            }
            let seen: Vec<(usize, u16)> = log
                .iter()
                .filter(|entry| entry.step == name)
                .map(|entry| (entry.repair_turns, entry.status))
                .collect();
            assert_eq!(seen, [(0, 200), (1, 400), (0, 200)], "{protocol:?} {name}");
            let kinds: Vec<&str> = state
                .attempts
                .iter()
                .map(|attempt| match &attempt.outcome {
                    AttemptOutcome::Rejected { .. } => "rejected",
                    AttemptOutcome::ContextLength { message }
                        if message.contains("asked again at once without the 1 repair turn") =>
                    {
                        "context, retried fresh"
                    }
                    AttemptOutcome::Accepted { .. } => "accepted",
                    other => panic!("{protocol:?} {name}: {other:?}"),
                })
                .collect();
            assert_eq!(kinds, ["rejected", "context, retried fresh", "accepted"]);
            assert_eq!(
                state.refused, 1,
                "{protocol:?} {name}: only the refused answer counts"
            );
        }
    }
}

/// A window smaller than any request: every request of the overview is over it, each costs
/// an attempt, and the run fails once the step's attempts are spent (three requests, not one
/// as a fatal failure would end it), saying the server needs a larger window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_over_the_window_fails_by_the_attempt_budget_not_as_fatal() {
    for protocol in PROTOCOLS {
        let config = MockConfig {
            context_window_tokens: 1,
            ..quiet_config()
        };
        let (outcome, run, log) = plan(protocol, config).await;
        let Outcome::Failed { reason, .. } = outcome else {
            panic!("{protocol:?}: {outcome:?}")
        };
        assert!(
            reason.starts_with("overview: 3 requests did not fit the model's context window")
                && reason.contains("needs a larger context window"),
            "{protocol:?}: {reason}"
        );
        assert_eq!(log.len(), 3, "{protocol:?}: {log:?}");
        assert!(log.iter().all(|entry| entry.status == 400));
        let overview = &run.steps[&periodize::llm::StepId::Overview];
        assert!(
            overview
                .attempts
                .iter()
                .all(|attempt| matches!(attempt.outcome, AttemptOutcome::ContextLength { .. })),
            "{protocol:?}: {:?}",
            overview.attempts
        );
    }
}

/// `--context-tokens`: a request whose estimate (body bytes / 4, plus the output cap) is over
/// the stated window leaves out its oldest repair turns until it fits, and the server gets
/// exactly that shorter request; one that does not fit without any is never sent, and the step
/// fails naming the flag and the estimate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stated_window_drops_the_oldest_repair_turns_then_refuses_unsent() {
    let turn = |bytes: usize| RepairTurn {
        reply: PriorReply::Text("x".repeat(bytes)),
        feedback: "call the tool".into(),
    };
    for protocol in PROTOCOLS {
        let server = Hostile::start(move |_| async move {
            Reply::json(200, &crate::secrets::text_reply(protocol, "fine"))
        })
        .await;
        let mut provider = crate::secrets::provider(protocol, &server.url(), None);
        let base_url = provider.base_url.clone();
        let body = |request: &ToolRequest| {
            serde_json::to_vec(&protocol.encode(request, &provider.model, &base_url)).unwrap()
        };
        let needed = |request: &ToolRequest| {
            u64::try_from(body(request).len())
                .unwrap()
                .div_ceil(BYTES_PER_TOKEN_ESTIMATE)
                + u64::from(request.max_output_tokens)
        };
        let mut request = overview_request();
        request.repair_turns = vec![turn(40_000), turn(400)];
        let newest_only = ToolRequest {
            repair_turns: vec![turn(400)],
            ..request.clone()
        };
        let bare = ToolRequest {
            repair_turns: Vec::new(),
            ..request.clone()
        };

        provider.context_tokens = Some(needed(&newest_only) + 10);
        provider.call(&request).await;
        provider.context_tokens = Some(needed(&bare) + 10);
        provider.call(&request).await;
        let sent: Vec<Vec<u8>> = server
            .requests()
            .into_iter()
            .map(|sent| sent.body)
            .collect();
        assert_eq!(sent, [body(&newest_only), body(&bare)], "{protocol:?}");

        let window = needed(&bare) - 50;
        provider.context_tokens = Some(window);
        let reply = provider.call(&request).await;
        let ModelOutcome::Failed(ModelFailure::Fatal { message }) = reply.outcome else {
            panic!("{protocol:?}: {reply:?}")
        };
        assert!(
            message.contains(&format!("more than --context-tokens {window}"))
                && message.contains(&format!("needs about {} tokens", needed(&bare))),
            "{protocol:?}: {message}"
        );
        assert_eq!(
            server.requests().len(),
            2,
            "{protocol:?}: nothing more was sent"
        );
    }
}

/// `--context-tokens` reaches the provider from the command line: a window smaller than the
/// first request fails the run before anything is sent, and the message names the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_tokens_flag_is_applied_before_sending() {
    let mock = MockServer::start(quiet_config(), 0).await.unwrap();
    let sandbox = crate::support::Sandbox::new();
    let output = crate::secrets::generate(
        &sandbox,
        periodize::providers::Protocol::OpenAi,
        &mock.url(),
        &["--context-tokens", "1000"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let shown = crate::support::stderr(&output);
    assert!(shown.contains("more than --context-tokens 1000"), "{shown}");
    assert!(mock.stats().log.is_empty(), "nothing was sent");
    mock.shutdown().await;
}
