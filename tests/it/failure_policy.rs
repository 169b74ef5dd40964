//! The failure policy, in process on a temporary store with a scripted provider: run budgets
//! stop cleanly before the request that would cross them and `--retry` continues with larger
//! ones; `--fallback builtin` details a week the model gave up on; a repeated refused answer
//! ends its step; the conversation carried per attempt stays bounded; a resumed run whose
//! prompts changed is refused unless `--accept-changes`.

use std::sync::Arc;

use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::engine::{progress::Observer, Engine, Outcome, Shutdown};
use periodize::llm::{ModelOutcome, StepId, ToolCall};
use periodize::prompts::PromptSet;
use periodize::providers::scripted::Scripted;
use periodize::providers::Provider;
use periodize::store::Store;
use periodize::workflow::{Budget, RetryPolicy, RunId, RunSpec};

use crate::support::{fixture, stderr, Sandbox};

struct Setup {
    engine: Engine,
    script: Scripted,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_simple(&dir.path().join("state")).unwrap();
    let script = Scripted::default();
    let observer: Observer = Arc::new(|_| {});
    let engine = Engine {
        store,
        prompts: Arc::new(PromptSet::embedded()),
        observer,
        crash: None,
        shutdown: Shutdown::never(),
        clock: periodize::engine::clock::Clock::system(),
    };
    Setup {
        engine,
        script,
        dir,
    }
}

impl Setup {
    async fn start(
        &self,
        spec: RunSpec,
        week_concurrency: u32,
    ) -> Result<Outcome, periodize::engine::Error> {
        self.engine
            .start(
                spec,
                Provider::Scripted(self.script.clone()),
                week_concurrency,
            )
            .await
    }

    async fn resume(
        &self,
        run_id: RunId,
        week_concurrency: u32,
        retry: bool,
        budget: Option<Budget>,
    ) -> Result<Outcome, periodize::engine::Error> {
        self.engine
            .resume(
                run_id,
                Provider::Scripted(self.script.clone()),
                week_concurrency,
                retry,
                budget,
            )
            .await
    }
}

fn spec(
    setup: &Setup,
    total_weeks: u32,
    step_attempts: u32,
    fallback: bool,
    budget: Budget,
) -> RunSpec {
    RunSpec {
        run_id: RunId(77),
        batch: None,
        profile: parse_profile(r#"{"name":"Policy","ftp_w":230,"weekly_hours":6,"available_days":["Tuesday","Thursday","Saturday"]}"#).unwrap(),
        total_weeks,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        provider: "scripted".into(),
        model: "script".into(),
        base_url: String::new(),
        prompt_hash: setup.engine.prompts.hash(),
        rules: Rules::default(),
        retry: RetryPolicy { max_attempts: step_attempts, max_transient_retries: 2, base_delay_ms: 1, max_delay_ms: 2, fallback_builtin: fallback },
        output_dir: setup.dir.path().join("output").display().to_string(),
        keep_checkpoints: true,
        created_at_ms: 0,
        budget,
        exports: Vec::new(),
    }
}

fn invalid_week(week: u32, tag: &str) -> ModelOutcome {
    // Well-formed, but a workout on Monday, which is no training day: refused by validation.
    let arguments = format!(
        r#"{{"week_number": {week}, "workouts": [{{"weekday": "Monday", "name": "{tag}", "description": "x", "detailed_description": null, "segments": [{{"type": "steady", "duration_min": 30, "power_low_pct": 60, "power_high_pct": null, "description": "x"}}]}}]}}"#
    );
    ModelOutcome::Call(ToolCall {
        id: String::new(),
        name: "add_week_details".into(),
        arguments,
        signature: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_stops_before_the_crossing_request_and_retry_continues() {
    let setup = setup();
    // Each scripted request costs 150 tokens: the budget holds 3 requests, not 4.
    let outcome = setup
        .start(
            spec(
                &setup,
                3,
                3,
                false,
                Budget {
                    max_tokens: Some(500),
                    max_attempts: None,
                    max_cost_micro_usd: None,
                },
            ),
            1,
        )
        .await
        .unwrap();
    let Outcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("token budget reached") && reason.contains("--max-tokens 500"),
        "{reason}"
    );
    let run = setup
        .engine
        .store
        .load_view(RunId(77))
        .unwrap()
        .unwrap()
        .run;
    assert_eq!(
        run.total_usage().total(),
        450,
        "stopped before the request that would cross 500"
    );
    assert_eq!(setup.script.calls().values().sum::<u32>(), 3);

    let outcome = setup
        .resume(
            RunId(77),
            1,
            true,
            Some(Budget {
                max_tokens: Some(5_000),
                max_attempts: None,
                max_cost_micro_usd: None,
            }),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert!(
        setup.script.calls().values().all(|calls| *calls == 1),
        "no step requested twice: {:?}",
        setup.script.calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_budget_stops_cleanly_and_retry_continues() {
    let setup = setup();
    let outcome = setup
        .start(
            spec(
                &setup,
                4,
                3,
                false,
                Budget {
                    max_tokens: None,
                    max_attempts: Some(2),
                    max_cost_micro_usd: None,
                },
            ),
            2,
        )
        .await
        .unwrap();
    let Outcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("attempt budget reached") && reason.contains("--max-attempts 2"),
        "{reason}"
    );
    assert_eq!(setup.script.calls().values().sum::<u32>(), 2);
    // Without a larger budget, --retry stops again at once.
    let outcome = setup.resume(RunId(77), 2, true, None).await.unwrap();
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert_eq!(setup.script.calls().values().sum::<u32>(), 2);
    let outcome = setup
        .resume(
            RunId(77),
            2,
            true,
            Some(Budget {
                max_tokens: None,
                max_attempts: Some(20),
                max_cost_micro_usd: None,
            }),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_builtin_details_a_week_the_model_gave_up_on() {
    let setup = setup();
    setup.script.script_step(
        StepId::Week(2),
        vec![invalid_week(2, "a"), invalid_week(2, "b")],
    );
    let outcome = setup
        .start(spec(&setup, 3, 2, true, Budget::default()), 1)
        .await
        .unwrap();
    let Outcome::Done { path, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let run = setup
        .engine
        .store
        .load_view(RunId(77))
        .unwrap()
        .unwrap()
        .run;
    let week = run.step(StepId::Week(2));
    assert!(week.fallback && week.is_accepted());
    assert_eq!(
        week.attempts.len(),
        3,
        "two refused model answers, then the built-in coach"
    );
    assert_eq!(
        setup.script.calls()[&StepId::Week(2)],
        2,
        "the fallback does not call the model"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(plan["weekly_plan"][1]["generated_by"], "builtin (fallback)");
    assert_eq!(plan["weekly_plan"][0]["generated_by"], "scripted");

    // Without --fallback the same script fails the run at week 2.
    let setup = setup_again();
    setup.script.script_step(
        StepId::Week(2),
        vec![invalid_week(2, "a"), invalid_week(2, "b")],
    );
    let outcome = setup
        .start(spec(&setup, 3, 2, false, Budget::default()), 1)
        .await
        .unwrap();
    let Outcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("week 2: 2 answers failed validation"),
        "{reason}"
    );
}

/// The overview falls back too: a model that never answers 3a validly still gives a plan when
/// `--fallback builtin` was asked for, marked as the coach's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_builtin_also_answers_an_overview_the_model_gave_up_on() {
    let setup = setup();
    let no_call = || {
        ModelOutcome::Failed(periodize::llm::ModelFailure::Malformed {
            message: "the reply has no tool call".into(),
            reply: periodize::llm::PriorReply::Text("Here is my plan in prose.".into()),
        })
    };
    setup
        .script
        .script_step(StepId::Overview, vec![no_call(), no_call()]);
    let outcome = setup
        .start(spec(&setup, 3, 2, true, Budget::default()), 1)
        .await
        .unwrap();
    let Outcome::Done { path, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        plan["run"]["phases"]["overview"]["generated_by"],
        "builtin (fallback)"
    );
    assert_eq!(setup.script.calls()[&StepId::Overview], 2);
}

fn setup_again() -> Setup {
    setup()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_refused_answer_ends_the_step_and_conversations_stay_bounded() {
    let setup = setup();
    setup.script.script_step(
        StepId::Week(1),
        vec![invalid_week(1, "same"), invalid_week(1, "same")],
    );
    let outcome = setup
        .start(spec(&setup, 2, 6, false, Budget::default()), 1)
        .await
        .unwrap();
    let Outcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("repeated an answer"), "{reason}");
    assert_eq!(
        setup.script.calls()[&StepId::Week(1)],
        2,
        "no third request after a repeat, with 6 attempts allowed"
    );

    let setup = setup_again();
    let answers = (0..5)
        .map(|n| invalid_week(1, &format!("try {n}")))
        .collect();
    setup.script.script_step(StepId::Week(1), answers);
    let outcome = setup
        .start(spec(&setup, 1, 6, false, Budget::default()), 1)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(setup.script.calls()[&StepId::Week(1)], 6);
    assert_eq!(
        setup.script.most_repair_turns(),
        periodize::workflow::MAX_REPAIR_TURNS,
        "only the newest repair turns are carried"
    );
}

/// Version pinning through the binary: a run is resumed only with the prompts it started with,
/// unless `--accept-changes`.
#[test]
fn resuming_with_changed_prompts_is_refused_unless_accepted() {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let crashed = sandbox
        .command()
        .args([
            "generate",
            "--profile",
            &profile,
            "--weeks",
            "3",
            "--week-concurrency",
            "1",
        ])
        .env("PERIODIZE_CRASH_POINT", "after-flush:week-1")
        .output()
        .unwrap();
    assert_eq!(crashed.status.code(), None, "aborted at the crash point");
    let prompts = sandbox.path("my-prompts");
    std::fs::create_dir(&prompts).unwrap();
    for name in periodize::prompts::TEMPLATE_NAMES {
        let text = PromptSet::embedded().template(name).unwrap().to_string();
        let text = if name == "training_planning_weeks.txt" {
            format!("{text}\nBe concise.\n")
        } else {
            text
        };
        std::fs::write(prompts.join(name), text).unwrap();
    }
    let prompts = prompts.display().to_string();
    let refused = sandbox.run(&["resume", "--prompts", &prompts]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("was created with prompts")
            && stderr(&refused).contains("--accept-changes"),
        "{}",
        stderr(&refused)
    );
    let accepted = sandbox.run(&["resume", "--prompts", &prompts, "--accept-changes"]);
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
}
