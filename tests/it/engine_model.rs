//! Model-based property test of the engine: the real engine, on a temporary store, with a
//! scripted provider, against a reference model of completed steps. Each history is a series
//! of segments; a segment queues provider failures ("fail next") and stops the engine after
//! its k-th progress event (a restart: everything committed stays, in-flight work is lost).
//! After every segment the completed steps only grow, a completed step is never requested
//! again, and in the end the run is Done once with every step accepted once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::prelude::*;

use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::engine::progress::{Observer, Progress};
use periodize::engine::{Engine, Outcome, Shutdown};
use periodize::llm::{ModelFailure, PriorReply, StepId};
use periodize::prompts::PromptSet;
use periodize::providers::scripted::Scripted;
use periodize::providers::Provider;
use periodize::store::Store;
use periodize::workflow::{Budget, RetryPolicy, RunId, RunSpec, State};

#[derive(Debug, Clone)]
enum Fail {
    Transient,
    Malformed,
    Fatal,
}

#[derive(Debug, Clone)]
struct Segment {
    fail_next: Vec<Fail>,
    /// Stop after this many progress events (None: run to the end).
    stop_after: Option<usize>,
}

fn segment() -> impl Strategy<Value = Segment> {
    let fail =
        prop_oneof![3 => Just(Fail::Transient), 3 => Just(Fail::Malformed), 1 => Just(Fail::Fatal)];
    (
        prop::collection::vec(fail, 0..3),
        prop::option::weighted(0.8, 1usize..8),
    )
        .prop_map(|(fail_next, stop_after)| Segment {
            fail_next,
            stop_after,
        })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(64)
        .min(64)
}

fn completed(store: &Store) -> BTreeSet<StepId> {
    match store.load_view(RunId(5)).unwrap() {
        Some(view) => view
            .run
            .steps
            .values()
            .filter(|step| step.is_accepted() || step.compacted)
            .map(|step| step.step)
            .collect(),
        None => BTreeSet::new(),
    }
}

fn history(total_weeks: u32, concurrency: u32, segments: Vec<Segment>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_simple(&dir.path().join("state")).unwrap();
    let script = Scripted::default();
    let prompts = Arc::new(PromptSet::embedded());
    let spec = RunSpec {
        run_id: RunId(5),
        batch: None,
        profile: parse_profile(r#"{"name":"Model","ftp_w":250,"weekly_hours":6,"available_days":["Tuesday","Thursday","Saturday"]}"#).unwrap(),
        total_weeks,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        provider: "scripted".into(),
        model: "script".into(),
        base_url: String::new(),
        prompt_hash: prompts.hash(),
        rules: Rules::default(),
        retry: RetryPolicy { max_attempts: 3, max_transient_retries: 3, base_delay_ms: 1, max_delay_ms: 2, fallback_builtin: false },
        output_dir: dir.path().join("output").display().to_string(),
        keep_checkpoints: false,
        created_at_ms: 0,
        budget: Budget::default(),
        exports: Vec::new(),
    };
    // The reference model: completed steps, and the provider calls each had when it completed.
    let mut model: BTreeMap<StepId, u32> = BTreeMap::new();
    let mut started = false;
    let mut segments = segments.into_iter().chain(std::iter::repeat_n(
        Segment {
            fail_next: Vec::new(),
            stop_after: None,
        },
        4,
    ));
    let mut last = None;
    for _ in 0..12 {
        let Some(segment) = segments.next() else {
            break;
        };
        for fail in &segment.fail_next {
            script.fail_next(match fail {
                Fail::Transient => ModelFailure::Transient {
                    message: "503".into(),
                    retry_after_ms: Some(1),
                },
                Fail::Malformed => ModelFailure::Malformed {
                    message: "no tool call".into(),
                    reply: PriorReply::Text("hi".into()),
                },
                Fail::Fatal => ModelFailure::Fatal {
                    message: "401".into(),
                },
            });
        }
        let (shutdown, trigger) = Shutdown::new(0);
        let seen = Arc::new(AtomicUsize::new(0));
        let stop_after = segment.stop_after;
        let observer: Observer = Arc::new(move |_: &Progress| {
            let count = seen.fetch_add(1, Ordering::SeqCst) + 1;
            if stop_after == Some(count) {
                trigger.stop();
            }
        });
        let engine = Engine {
            store: store.clone(),
            prompts: prompts.clone(),
            observer,
            crash: None,
            shutdown,
            clock: periodize::engine::clock::Clock::system(),
        };
        let provider = Provider::Scripted(script.clone());
        let outcome = runtime.block_on(async {
            if !started {
                started = true;
                engine.start(spec.clone(), provider, concurrency).await
            } else {
                let failed = matches!(
                    store.load_view(RunId(5)).unwrap().map(|view| view.state),
                    Some(State::Failed { .. })
                );
                engine
                    .resume(RunId(5), provider, concurrency, failed, None)
                    .await
            }
        });
        let outcome = outcome.unwrap();
        // Invariants after the segment.
        let now = completed(&store);
        let calls = script.calls();
        for (step, calls_at_completion) in &model {
            assert!(now.contains(step), "{step} was completed and is no longer");
            assert_eq!(
                calls.get(step).copied().unwrap_or(0),
                *calls_at_completion,
                "{step} was requested again after it completed"
            );
        }
        for step in now {
            model
                .entry(step)
                .or_insert_with(|| calls.get(&step).copied().unwrap_or(0));
        }
        let done = matches!(outcome, Outcome::Done { .. });
        last = Some(outcome);
        if done {
            break;
        }
    }
    assert!(
        matches!(last, Some(Outcome::Done { .. })),
        "the run must finish: {last:?}"
    );
    let view = store.load_view(RunId(5)).unwrap().unwrap();
    let (run, state) = (view.run, view.state);
    assert!(matches!(state, State::Done {}));
    assert_eq!(run.done_count, 1);
    assert_eq!(
        model.len(),
        total_weeks as usize + 1,
        "every step completed exactly once"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn engine_matches_the_model_of_completed_steps(total_weeks in 1u32..6, concurrency in 1u32..4, segments in prop::collection::vec(segment(), 0..6)) {
        history(total_weeks, concurrency, segments);
    }
}
