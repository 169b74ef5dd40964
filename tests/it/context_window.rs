//! Requests over the model's context window, against mock-llm with a window on every protocol:
//! a context-length error is its own failure kind, not fatal. A request that outgrew the window
//! with its repair turns is asked again at once without them and the step recovers; a request
//! that does not fit even without them costs an attempt, and the step fails by the budget.

use periodize::engine::Outcome;
use periodize::mock_llm::{FaultKind, MockConfig, MockServer, RequestLogEntry};
use periodize::workflow::{AttemptOutcome, RunId};

use crate::http_providers::{engine_for, fast_retries, quiet_config, spec, PROTOCOLS};

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
    let mock = MockServer::start(config, 0).await.unwrap();
    let setup = engine_for(protocol, &mock.url(), 10_000);
    let outcome = setup
        .engine
        .start(
            spec(&setup, 7, 2, fast_retries(3, 3)),
            setup.provider.clone(),
            1,
        )
        .await
        .unwrap();
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
