//! The engine's ownership of its work, in process: a request task that panics fails its step
//! (by the run's policy) and nothing else; a run whose driver panics fails alone while the
//! batch goes on; retry waits run on the engine's clock, so with paused time a five-minute
//! `retry-after` passes at once and is still recorded as five minutes.

use std::sync::Arc;

use chrono::Datelike;

use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::engine::batch::{Drive, DriveKind};
use periodize::engine::clock::Clock;
use periodize::engine::progress::{Observer, Progress};
use periodize::engine::{Engine, Error, Outcome, Shutdown};
use periodize::llm::{ModelFailure, StepId};
use periodize::prompts::PromptSet;
use periodize::providers::scripted::Scripted;
use periodize::providers::Provider;
use periodize::store::Store;
use periodize::workflow::{RetryPolicy, RunId, RunSpec};

/// Run `n` of a test: its id differs in the first digits, which name the plan file.
fn id(n: u128) -> u128 {
    n << 124
}

fn spec(n: u128, dir: &std::path::Path, prompts: &PromptSet) -> RunSpec {
    RunSpec {
        run_id: RunId(id(n)),
        batch: None,
        profile: parse_profile(r#"{"name":"Owner","ftp_w":250,"weekly_hours":6,"available_days":["Tuesday","Thursday","Saturday"]}"#).unwrap(),
        total_weeks: 3,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        provider: "scripted".into(),
        model: "script".into(),
        base_url: String::new(),
        prompt_hash: prompts.hash(),
        rules: Rules::default(),
        retry: RetryPolicy {
            max_attempts: 3,
            max_transient_retries: 3,
            base_delay_ms: 1,
            max_delay_ms: 2,
            fallback_builtin: false,
        },
        output_dir: dir.join("output").display().to_string(),
        keep_checkpoints: false,
        created_at_ms: 0,
        budget: Default::default(),
        exports: Vec::new(),
    }
}

fn engine(dir: &std::path::Path, observer: Observer) -> Engine {
    Engine {
        store: Store::open_simple(&dir.join("state")).unwrap(),
        prompts: Arc::new(PromptSet::embedded()),
        observer,
        crash: None,
        shutdown: Shutdown::never(),
        clock: Clock::system(),
    }
}

fn drive(n: u128, script: &Scripted) -> Drive {
    Drive {
        run_id: RunId(id(n)),
        provider: Provider::Scripted(script.clone()),
        kind: DriveKind::Continue,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_panics_fails_its_step_and_the_other_runs_finish() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), Arc::new(|_| {}));
    let script = Scripted::default();
    script.panic_next(StepId::Week(2));
    let specs: Vec<RunSpec> = (1..=3)
        .map(|id| spec(id, dir.path(), &engine.prompts))
        .collect();
    engine.submit(None, &specs).await.unwrap();
    let outcomes = engine
        .run_all((1..=3).map(|id| drive(id, &script)).collect(), 3, 1)
        .await;
    let failed: Vec<&str> = outcomes
        .iter()
        .filter_map(|outcome| match &outcome.result {
            Ok(Outcome::Failed { reason, .. }) => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{outcomes:?}");
    assert!(failed[0].contains("internal error"), "{}", failed[0]);
    let done = outcomes
        .iter()
        .filter(|outcome| matches!(outcome.result, Ok(Outcome::Done { .. })))
        .count();
    assert_eq!(done, 2, "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_driver_panics_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    // The observer runs inside each run's driver: make run 2's panic.
    let observer: Observer = Arc::new(|progress: &Progress| {
        if progress.run_id() == RunId(id(2)) {
            panic!("observer of run 2");
        }
    });
    let engine = engine(dir.path(), observer);
    let script = Scripted::default();
    let specs: Vec<RunSpec> = (1..=3)
        .map(|id| spec(id, dir.path(), &engine.prompts))
        .collect();
    engine.submit(None, &specs).await.unwrap();
    let outcomes = engine
        .run_all((1..=3).map(|id| drive(id, &script)).collect(), 2, 2)
        .await;
    assert_eq!(outcomes.len(), 3);
    for outcome in &outcomes {
        match (outcome.run_id, &outcome.result) {
            (run, Err(Error::Panicked { run_id, message })) if run == RunId(id(2)) => {
                assert_eq!(*run_id, RunId(id(2)));
                assert!(message.contains("observer of run 2"), "{message}");
            }
            (run, other) if run == RunId(id(2)) => panic!("run 2: {other:?}"),
            (_, Ok(Outcome::Done { .. })) => {}
            (run_id, other) => panic!("{run_id}: {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn retry_waits_run_on_the_engine_clock() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), Arc::new(|_| {}));
    let script = Scripted::default();
    // Five minutes: below the cap the policy puts on a server's retry-after.
    let wait_ms = 300_000;
    script.fail_next(ModelFailure::Transient {
        message: "429".into(),
        retry_after_ms: Some(wait_ms),
    });
    let wall = std::time::Instant::now();
    let outcome = engine
        .start(
            spec(9, dir.path(), &engine.prompts),
            Provider::Scripted(script.clone()),
            2,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert!(
        wall.elapsed() < std::time::Duration::from_secs(60),
        "five minutes of paused time passed in {:?}",
        wall.elapsed()
    );
    let run = engine.store.load_view(RunId(id(9))).unwrap().unwrap().run;
    let attempts = &run.step(StepId::Overview).attempts;
    assert_eq!(attempts.len(), 2);
    let waited = attempts[1].requested_at_ms - attempts[0].finished_at_ms;
    assert!(waited >= wait_ms, "the retry came {waited} ms later");
}

/// A run whose weeks run past the calendar's end (only a store from before start dates were
/// bounded can hold one) stops at 3c with an error naming the run, never a panic, and stays
/// Finalizing; `doctor` names its spec as the problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_the_calendar_end_stops_with_an_error_and_doctor_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), Arc::new(|_| {}));
    let mut spec = spec(5, dir.path(), &engine.prompts);
    // The last Monday chrono can represent: week 1 fits, the week 3 Sunday does not.
    let last = chrono::NaiveDate::MAX;
    spec.start_date =
        last - chrono::Duration::days(i64::from(last.weekday().num_days_from_monday()));
    let result = engine
        .start(spec, Provider::Scripted(Scripted::default()), 2)
        .await;
    match result {
        Err(Error::Calendar { run_id, overflow }) => {
            assert_eq!(run_id, RunId(id(5)));
            assert_eq!(overflow.total_weeks, 3);
        }
        other => panic!("expected a calendar error: {other:?}"),
    }
    let view = engine.store.load_view(RunId(id(5))).unwrap().unwrap();
    assert_eq!(periodize::workflow::state_name(&view.state), "finalizing");
    let problems = periodize::store::doctor::check(&engine.store, |path| path.exists());
    assert!(
        problems.iter().any(|problem| problem.run_id.as_deref()
            == Some(&RunId(id(5)).to_string()[..])
            && problem.key == "spec"
            && problem.message.contains("past the last representable date")),
        "{problems:?}"
    );
}
