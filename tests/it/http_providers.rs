//! The real HTTP clients against `mock-llm`, in process: each protocol gives a valid plan whose
//! token counts equal what the mock reported; every fault kind ends as the retry policy says;
//! refused answers are repaired; a canary key never reaches the store, logs or output.

use std::sync::Arc;

use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::engine::{progress::Observer, Engine, Outcome};
use periodize::mock_llm::{FaultKind, MockConfig, MockServer};
use periodize::prompts::PromptSet;
use periodize::providers::{http, HttpProvider, Protocol, Provider};
use periodize::store::Store;
use periodize::workflow::{RetryPolicy, RunId, RunSpec};

pub const PROTOCOLS: [Protocol; 4] = [
    Protocol::Anthropic,
    Protocol::OpenAi,
    Protocol::Gemini,
    Protocol::Ollama,
];

/// The base URL a client uses to reach the mock for a protocol.
pub fn base_url(mock_url: &str, protocol: Protocol) -> String {
    match protocol {
        Protocol::Anthropic | Protocol::Ollama => mock_url.to_string(),
        Protocol::OpenAi => format!("{mock_url}/v1"),
        Protocol::Gemini => format!("{mock_url}/v1beta"),
    }
}

pub fn quiet_config() -> MockConfig {
    MockConfig {
        retry_after_s: 0,
        timeout_hold_ms: 2_000,
        ..MockConfig::default()
    }
}

pub struct Setup {
    pub engine: Engine,
    pub provider: Provider,
    pub dir: tempfile::TempDir,
}

pub fn engine_for(protocol: Protocol, mock_url: &str, request_timeout_ms: u64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_simple(&dir.path().join("state")).unwrap();
    let client = http::client(http::Timeouts {
        connect_ms: 2_000,
        request_ms: request_timeout_ms,
        read_ms: 0,
    })
    .unwrap();
    let provider = Provider::Http(HttpProvider {
        protocol,
        client,
        base_url: base_url(mock_url, protocol),
        model: "mock-model".into(),
        key: None,
        mock_brief: true,
        limiter: std::sync::Arc::new(periodize::providers::limiter::Limiter::new(
            Default::default(),
        )),
        price: None,
        context_tokens: None,
    });
    let observer: Observer = Arc::new(|_| {});
    Setup {
        engine: Engine {
            store,
            prompts: Arc::new(PromptSet::embedded()),
            observer,
            crash: None,
            shutdown: periodize::engine::Shutdown::never(),
            clock: periodize::engine::clock::Clock::system(),
        },
        provider,
        dir,
    }
}

pub fn spec(setup: &Setup, run_id: u128, total_weeks: u32, retry: RetryPolicy) -> RunSpec {
    RunSpec {
        run_id: RunId(run_id),
        batch: None,
        profile: parse_profile(r#"{"name":"Mock Rider","ftp_w":245,"weekly_hours":7,"available_days":["Tuesday","Thursday","Saturday","Sunday"]}"#).unwrap(),
        total_weeks,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        provider: setup.provider.name().into(),
        model: setup.provider.model(),
        base_url: String::new(),
        prompt_hash: setup.engine.prompts.hash(),
        rules: Rules::default(),
        retry,
        output_dir: setup.dir.path().join("output").display().to_string(),
        keep_checkpoints: false,
        created_at_ms: 0,
        budget: Default::default(),
        exports: Vec::new(),
    }
}

/// Plans run `run_id`, of `total_weeks` weeks at week concurrency `concurrency`, over
/// `protocol` against a mock started with `config`: how it ended, the setup (its store holds
/// the run) and the mock.
pub async fn plan_against(
    protocol: Protocol,
    config: MockConfig,
    run_id: u128,
    total_weeks: u32,
    concurrency: u32,
) -> (Outcome, Setup, MockServer) {
    let mock = MockServer::start(config, 0).await.unwrap();
    let setup = engine_for(protocol, &mock.url(), 10_000);
    let outcome = setup
        .engine
        .start(
            spec(&setup, run_id, total_weeks, fast_retries(3, 3)),
            setup.provider.clone(),
            concurrency,
        )
        .await
        .unwrap();
    (outcome, setup, mock)
}

pub fn fast_retries(max_attempts: u32, max_transient_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        max_transient_retries,
        base_delay_ms: 1,
        max_delay_ms: 5,
        fallback_builtin: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_protocol_gives_a_valid_plan_and_reports_the_mock_usage() {
    for protocol in PROTOCOLS {
        let mock = MockServer::start(quiet_config(), 0).await.unwrap();
        let setup = engine_for(protocol, &mock.url(), 10_000);
        let spec = spec(&setup, 1, 4, fast_retries(3, 3));
        let outcome = setup
            .engine
            .start(spec, setup.provider.clone(), 4)
            .await
            .unwrap();
        let Outcome::Done { path, .. } = outcome else {
            panic!("{protocol:?}: {outcome:?}")
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let violations = periodize::planfile::validate_plan_text(&text, &Rules::default());
        assert!(
            !periodize::domain::validate::has_errors(&violations),
            "{protocol:?}: {violations:?}"
        );
        let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
        let stats = mock.stats();
        let input: u64 = stats.log.iter().map(|entry| entry.input_tokens).sum();
        let output: u64 = stats.log.iter().map(|entry| entry.output_tokens).sum();
        assert!(
            input > 0 && output > 0,
            "{protocol:?}: the mock reports usage"
        );
        assert_eq!(plan["run"]["tokens"]["input_tokens"], input, "{protocol:?}");
        assert_eq!(
            plan["run"]["tokens"]["output_tokens"], output,
            "{protocol:?}"
        );
        assert_eq!(plan["run"]["provider"], protocol.name());
        assert_eq!(stats.log.len(), 5, "{protocol:?}: one request per step");
        mock.shutdown().await;
    }
}

/// Every fault kind, on every protocol: recovered when it is rare enough for the budget,
/// and a failed run with a clear message when it never stops; never a lost or duplicate step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_per_protocol() {
    let mut run_id = 100;
    for protocol in PROTOCOLS {
        for kind in FaultKind::ALL {
            // Recovered: the first request of every step faults; the budget absorbs it.
            let config = MockConfig {
                fault_rate: 1.0,
                fault_seed: 7,
                faults: vec![kind],
                timeout_hold_ms: 1_000,
                fault_only_first_n: 1,
                ..quiet_config()
            };
            let mock = MockServer::start(config, 0).await.unwrap();
            let setup = engine_for(protocol, &mock.url(), 300);
            run_id += 1;
            let outcome = setup
                .engine
                .start(
                    spec(&setup, run_id, 3, fast_retries(6, 6)),
                    setup.provider.clone(),
                    3,
                )
                .await
                .unwrap();
            assert!(
                matches!(outcome, Outcome::Done { .. }),
                "{protocol:?} {kind:?} at 35%: {outcome:?}"
            );
            let run = setup
                .engine
                .store
                .load_view(RunId(run_id))
                .unwrap()
                .unwrap()
                .run;
            let stats = mock.stats();
            for (step, state) in &run.steps {
                let requested = stats
                    .requests_by_step
                    .get(&step.to_string())
                    .copied()
                    .unwrap_or(0);
                assert_eq!(
                    u64::from(state.requests),
                    requested,
                    "{protocol:?} {kind:?} {step}: requests counted by the run and the mock agree"
                );
                assert!(
                    state.is_accepted(),
                    "{protocol:?} {kind:?} {step} accepted once"
                );
                assert_eq!(
                    requested, 2,
                    "{protocol:?} {kind:?} {step}: the faulted request, then one more"
                );
                assert_eq!(
                    state.attempts.len(),
                    2,
                    "{protocol:?} {kind:?} {step}: both attempts recorded"
                );
            }
            assert_eq!(
                stats.faults_by_kind.get(kind.name()).copied(),
                Some(4),
                "{protocol:?} {kind:?}: one fault per step"
            );
            mock.shutdown().await;

            // Failed: every request faults; the run stops within its budget with a clear message.
            let config = MockConfig {
                fault_rate: 1.0,
                fault_seed: 7,
                faults: vec![kind],
                timeout_hold_ms: 1_000,
                ..quiet_config()
            };
            let mock = MockServer::start(config, 0).await.unwrap();
            let setup = engine_for(protocol, &mock.url(), 300);
            run_id += 1;
            let outcome = setup
                .engine
                .start(
                    spec(&setup, run_id, 2, fast_retries(2, 2)),
                    setup.provider.clone(),
                    2,
                )
                .await
                .unwrap();
            let Outcome::Failed { reason, .. } = outcome else {
                panic!("{protocol:?} {kind:?} at 100%: {outcome:?}")
            };
            assert!(
                reason.starts_with("overview: "),
                "{protocol:?} {kind:?}: {reason}"
            );
            let requests = mock
                .stats()
                .requests_by_step
                .get("overview")
                .copied()
                .unwrap_or(0);
            assert!(
                (2..=3).contains(&requests),
                "{protocol:?} {kind:?}: {requests} requests within the budget"
            );
            mock.shutdown().await;
        }
    }
}

/// The first answer of every step fails validation; the second request carries the refused
/// call and the tool-result error in the provider's own format (the mock checks the pairing as
/// the real APIs do), and the plan completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_arguments_are_repaired_in_the_providers_own_format() {
    for protocol in PROTOCOLS {
        let config = MockConfig {
            fault_rate: 1.0,
            faults: vec![FaultKind::InvalidArgs],
            fault_only_first_n: 1,
            ..quiet_config()
        };
        let (outcome, setup, mock) = plan_against(protocol, config, 900, 2, 2).await;
        assert!(
            matches!(outcome, Outcome::Done { .. }),
            "{protocol:?}: {outcome:?}"
        );
        let stats = mock.stats();
        for step in ["overview", "week 1", "week 2"] {
            let entries: Vec<_> = stats
                .log
                .iter()
                .filter(|entry| entry.step == step)
                .collect();
            assert_eq!(
                entries.len(),
                2,
                "{protocol:?} {step}: refused once, then accepted"
            );
            assert_eq!(
                (entries[0].repair_turns, entries[1].repair_turns),
                (0, 1),
                "{protocol:?} {step}"
            );
            assert_eq!(entries[1].status, 200);
        }
        let run = setup
            .engine
            .store
            .load_view(RunId(900))
            .unwrap()
            .unwrap()
            .run;
        for state in run.steps.values() {
            assert_eq!(state.attempts.len(), 2, "{protocol:?} {}", state.step);
            assert!(matches!(
                state.attempts[0].outcome,
                periodize::workflow::AttemptOutcome::Rejected { .. }
            ));
        }
        mock.shutdown().await;
    }
}

/// What a whole plan costs, by the mock's count of the request bytes (4 characters a token):
/// the fixture athlete's 12-week plan stays under 37 K input tokens at first-attempt success,
/// and a 52-week plan under 4.6 times that, so cost grows with the weeks, not their square.
///
/// The bound was 36 K (measured 32.6 K) until the repeat construct: its schema (912
/// characters) and its paragraph in the 3b prompt (393) add about 330 tokens to each week
/// request, 36.5 K measured for the 12 weeks. A model that writes its interval sets as repeats
/// answers with far fewer output tokens than that (a 5 x 3 min set was ten segments).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_costs_tokens_in_proportion_to_its_weeks() {
    let athlete =
        std::fs::read_to_string(crate::support::fixture("profiles/athlete.json")).unwrap();
    let mut input_by_weeks = Vec::new();
    for total_weeks in [12, 52] {
        let mock = MockServer::start(quiet_config(), 0).await.unwrap();
        let setup = engine_for(Protocol::OpenAi, &mock.url(), 10_000);
        let spec = RunSpec {
            profile: parse_profile(&athlete).unwrap(),
            ..spec(&setup, 3, total_weeks, fast_retries(3, 3))
        };
        let outcome = setup
            .engine
            .start(spec, setup.provider.clone(), 4)
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
        let stats = mock.stats();
        assert_eq!(
            stats.log.len() as u32,
            total_weeks + 1,
            "first-attempt success"
        );
        input_by_weeks.push(
            stats
                .log
                .iter()
                .map(|entry| entry.input_tokens)
                .sum::<u64>(),
        );
    }
    let (twelve, fifty_two) = (input_by_weeks[0], input_by_weeks[1]);
    assert!(
        twelve <= 37_000,
        "a 12-week plan sends {twelve} input tokens"
    );
    assert!(
        fifty_two * 10 <= twelve * 46,
        "a 52-week plan sends {fifty_two} input tokens, {:.2} times the 12-week plan",
        fifty_two as f64 / twelve as f64
    );
}

/// Prompt caching: every week request of a run starts with the same tools, system prompt and
/// athlete part, so the mock (modelled on each vendor's prefix cache) serves at least 40 % of a
/// 12-week plan's input tokens from its cache; on Anthropic that takes the `cache_control` marks,
/// and the first request pays the cache write. Ollama reports no cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_of_a_plans_input_is_served_from_the_prompt_cache() {
    let athlete =
        std::fs::read_to_string(crate::support::fixture("profiles/athlete.json")).unwrap();
    for protocol in [Protocol::Anthropic, Protocol::OpenAi, Protocol::Gemini] {
        let mock = MockServer::start(quiet_config(), 0).await.unwrap();
        let setup = engine_for(protocol, &mock.url(), 10_000);
        let spec = RunSpec {
            profile: parse_profile(&athlete).unwrap(),
            ..spec(&setup, 4, 12, fast_retries(3, 3))
        };
        let outcome = setup
            .engine
            .start(spec, setup.provider.clone(), 1)
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
        let run = setup.engine.store.load_view(RunId(4)).unwrap().unwrap().run;
        let usage = run.total_usage();
        let stats = mock.stats();
        let read: u64 = stats.log.iter().map(|entry| entry.cache_read_tokens).sum();
        let written: u64 = stats.log.iter().map(|entry| entry.cache_write_tokens).sum();
        assert_eq!(
            usage.cache_read_tokens, read,
            "{protocol:?}: the run records the reads"
        );
        assert_eq!(usage.cache_write_tokens, written, "{protocol:?}");
        assert!(
            read * 10 >= usage.input_tokens * 4,
            "{protocol:?}: {read} of {} input tokens read from the cache",
            usage.input_tokens
        );
        if protocol == Protocol::Anthropic {
            assert!(written > 0, "the first week writes the cache");
        }
    }
}
