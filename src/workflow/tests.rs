//! Transcript tests of the run state machine: each event, the state it leads to, the effects
//! it emits and the steps it dirties, one line per transition.

use expect_test::{expect, Expect};

use crate::coach;
use crate::domain::profile::parse_profile;
use crate::domain::validate::Rules;
use crate::llm::{ModelFailure, ModelOutcome, ModelReply, PriorReply, StepId, ToolCall, Usage};
use crate::tools;
use crate::workflow::{state_name, Effect, Event, Machine, RetryPolicy, RunId, RunSpec};

fn spec(total_weeks: u32) -> RunSpec {
    let profile = parse_profile(
        r#"{"name":"Ana","ftp_w":250,"weekly_hours":8,"available_days":["Tuesday","Thursday","Saturday","Sunday"]}"#,
    )
    .expect("the fixture profile is valid");
    RunSpec {
        run_id: RunId(0xfeed),
        batch: None,
        profile,
        total_weeks,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("a real date"),
        provider: "builtin".into(),
        model: "test".into(),
        base_url: String::new(),
        prompt_hash: "hash".into(),
        rules: Rules::default(),
        retry: RetryPolicy {
            max_attempts: 2,
            max_transient_retries: 1,
            base_delay_ms: 1_000,
            max_delay_ms: 8_000,
            fallback_builtin: false,
        },
        output_dir: "output".into(),
        keep_checkpoints: false,
        created_at_ms: 0,
        budget: Default::default(),
        exports: Vec::new(),
    }
}

/// What the helper's replies cost: a tenth of a cent.
const REPLY_COST_MICRO_USD: u64 = 1_000;

fn reply(step: StepId, attempt: u32, name: &str, arguments: String, at_ms: u64) -> Event {
    let call = ToolCall {
        id: format!("call-{attempt}"),
        name: name.into(),
        arguments,
        signature: None,
    };
    Event::Replied {
        step,
        attempt,
        reply: ModelReply {
            outcome: ModelOutcome::Call(call),
            usage: Usage {
                input_tokens: 100,
                output_tokens: 50,
                ..Usage::default()
            },
        },
        cost_micro_usd: Some(REPLY_COST_MICRO_USD),
        at_ms,
    }
}

fn good_overview(attempt: u32, at_ms: u64) -> Event {
    let spec = spec(2);
    let overview = coach::create_plan_overview(&spec.profile, 2, None, &spec.rules);
    reply(
        StepId::Overview,
        attempt,
        tools::CREATE_PLAN_OVERVIEW,
        serde_json::to_string(&overview).expect("serializes"),
        at_ms,
    )
}

fn good_week(week: u32, attempt: u32, at_ms: u64) -> Event {
    let spec = spec(2);
    let overview = coach::create_plan_overview(&spec.profile, 2, None, &spec.rules);
    let details = coach::add_week_details(&spec.profile, &overview, week, None, &spec.rules);
    reply(
        StepId::Week(week),
        attempt,
        tools::ADD_WEEK_DETAILS,
        serde_json::to_string(&details).expect("serializes"),
        at_ms,
    )
}

fn failure(step: StepId, attempt: u32, failure: ModelFailure, at_ms: u64) -> Event {
    Event::Replied {
        step,
        attempt,
        reply: ModelReply {
            outcome: ModelOutcome::Failed(failure),
            usage: Usage::default(),
        },
        cost_micro_usd: None,
        at_ms,
    }
}

fn label(event: &Event) -> String {
    match event {
        Event::Start {
            week_concurrency, ..
        } => format!("Start(c={week_concurrency})"),
        Event::Resume {
            week_concurrency, ..
        } => format!("Resume(c={week_concurrency})"),
        Event::Retry { .. } => "Retry".into(),
        Event::Replied {
            step,
            attempt,
            reply,
            ..
        } => {
            let what = match &reply.outcome {
                ModelOutcome::Call(call) if call.arguments.len() > 40 => {
                    format!("call {}", call.name)
                }
                ModelOutcome::Call(call) => format!("call {} {}", call.name, call.arguments),
                ModelOutcome::Failed(ModelFailure::Transient { .. }) => "transient".into(),
                ModelOutcome::Failed(ModelFailure::Fatal { .. }) => "fatal".into(),
                ModelOutcome::Failed(ModelFailure::ContextLength { .. }) => "context".into(),
                ModelOutcome::Failed(ModelFailure::Malformed { .. }) => "malformed".into(),
            };
            format!("Replied({step}#{attempt}: {what})")
        }
        Event::RetryDue { step, .. } => format!("RetryDue({step})"),
        Event::PlanWritten { .. } => "PlanWritten".into(),
    }
}

fn effect_label(effect: &Effect) -> String {
    match effect {
        Effect::CallModel {
            step,
            attempt,
            fallback,
        } => format!(
            "Call {step}#{attempt}{}",
            if *fallback { " (fallback)" } else { "" }
        ),
        Effect::Wait { step, until_ms } => format!("Wait {step} until {until_ms}"),
        Effect::WritePlan { file_name } => format!("Write {file_name}"),
    }
}

/// Runs events through a machine (restarting it from a clone of its parts on `Resume`, as the
/// engine does after loading the store) and renders the transcript.
fn transcript(machine: &mut Machine, events: &[Event]) -> String {
    let mut lines = Vec::new();
    for event in events {
        if matches!(event, Event::Resume { .. }) {
            let run = machine.run().clone();
            *machine = Machine::restore(run, machine.state().clone());
        }
        let ctx = machine.handle(event);
        let effects: Vec<String> = ctx.effects.iter().map(effect_label).collect();
        let dirty: Vec<String> = ctx.dirty.iter().map(|step| step.to_string()).collect();
        lines.push(format!(
            "{:<48} -> {:<10} [{}] dirty[{}]",
            label(event),
            state_name(machine.state()),
            effects.join(", "),
            dirty.join(", ")
        ));
    }
    lines.join("\n") + "\n"
}

#[track_caller]
fn check(total_weeks: u32, events: &[Event], expect: Expect) {
    let mut machine = Machine::new(spec(total_weeks));
    expect.assert_eq(&transcript(&mut machine, events));
}

#[test]
fn happy_path_with_concurrent_weeks() {
    check(
        2,
        &[
            Event::Start {
                at_ms: 1_000,
                week_concurrency: 4,
            },
            good_overview(1, 2_000),
            good_week(2, 1, 3_000),
            good_week(1, 1, 4_000),
            Event::PlanWritten { at_ms: 5_000 },
            Event::PlanWritten { at_ms: 6_000 },
        ],
        expect![[r#"
            Start(c=4)                                       -> overview   [Call overview#1] dirty[overview]
            Replied(overview#1: call create_plan_overview)   -> weeks      [Call week 1#1, Call week 2#1] dirty[overview, week 1, week 2]
            Replied(week 2#1: call add_week_details)         -> weeks      [] dirty[week 2]
            Replied(week 1#1: call add_week_details)         -> finalizing [Write training_plan_19700101_000004_00000000.json] dirty[week 1]
            PlanWritten                                      -> done       [] dirty[overview, week 1, week 2]
            PlanWritten                                      -> done       [] dirty[]
        "#]],
    );
}

#[test]
fn weeks_are_scheduled_lowest_first_within_the_bound() {
    check(
        2,
        &[
            Event::Start {
                at_ms: 0,
                week_concurrency: 1,
            },
            good_overview(1, 1),
            good_week(1, 1, 2),
            good_week(2, 1, 3),
        ],
        expect![[r#"
            Start(c=1)                                       -> overview   [Call overview#1] dirty[overview]
            Replied(overview#1: call create_plan_overview)   -> weeks      [Call week 1#1] dirty[overview, week 1]
            Replied(week 1#1: call add_week_details)         -> weeks      [Call week 2#1] dirty[week 1, week 2]
            Replied(week 2#1: call add_week_details)         -> finalizing [Write training_plan_19700101_000000_00000000.json] dirty[week 2]
        "#]],
    );
}

#[test]
fn invalid_answer_is_repaired_in_the_same_conversation() {
    let mut machine = Machine::new(spec(2));
    let text = transcript(
        &mut machine,
        &[
            Event::Start {
                at_ms: 0,
                week_concurrency: 2,
            },
            reply(
                StepId::Overview,
                1,
                tools::CREATE_PLAN_OVERVIEW,
                r#"{"total_weeks": 3}"#.into(),
                10,
            ),
            good_overview(2, 20),
        ],
    );
    expect![[r#"
        Start(c=2)                                       -> overview   [Call overview#1] dirty[overview]
        Replied(overview#1: call create_plan_overview {"total_weeks": 3}) -> overview   [Call overview#2] dirty[overview]
        Replied(overview#2: call create_plan_overview)   -> weeks      [Call week 1#1, Call week 2#1] dirty[overview, week 1, week 2]
    "#]]
    .assert_eq(&text);
    let step = machine.run().step(StepId::Overview);
    assert_eq!(step.attempts.len(), 2);
    assert!(
        step.repair_turns.is_empty(),
        "an accepted step drops its conversation"
    );
}

#[test]
fn repair_feedback_lists_every_violation() {
    let mut machine = Machine::new(spec(2));
    machine.handle(&Event::Start {
        at_ms: 0,
        week_concurrency: 1,
    });
    machine.handle(&reply(StepId::Overview, 1, tools::CREATE_PLAN_OVERVIEW, r#"{"total_weeks": 3, "target_ftp": 900, "coaching_notes": "", "monitoring_guidance": "", "weekly_overview": []}"#.into(), 1));
    let turns = &machine.run().step(StepId::Overview).repair_turns;
    assert_eq!(turns.len(), 1);
    assert!(matches!(turns[0].reply, PriorReply::Call(_)));
    expect![[r#"
        create_plan_overview was rejected: 3 error(s) must be fixed. Call create_plan_overview again with the complete corrected arguments for overview.
        - error: total_weeks: is 3, the plan must have exactly 2 weeks
        - error: target_ftp: is 900 W, must be between 225 and 312 W (0.90 to 1.25 x current FTP 250 W)
        - error: weekly_overview: has 0 entries, expected exactly 2 (one per week)
    "#]]
    .assert_eq(&turns[0].feedback);
}

#[test]
fn attempts_run_out_then_retry_continues() {
    let bad = || {
        reply(
            StepId::Overview,
            0,
            "create_plan_overview",
            "not json".into(),
            0,
        )
    };
    let with_attempt = |attempt: u32, at_ms: u64| match bad() {
        Event::Replied {
            step,
            reply,
            cost_micro_usd,
            ..
        } => Event::Replied {
            step,
            attempt,
            reply,
            cost_micro_usd,
            at_ms,
        },
        other => other,
    };
    check(
        2,
        &[
            Event::Start {
                at_ms: 0,
                week_concurrency: 2,
            },
            with_attempt(1, 1),
            with_attempt(2, 2),
            Event::Resume {
                at_ms: 3,
                week_concurrency: 2,
            },
            Event::Retry {
                budget: None,
                at_ms: 4,
                week_concurrency: 2,
            },
            good_overview(3, 5),
        ],
        expect![[r#"
            Start(c=2)                                       -> overview   [Call overview#1] dirty[overview]
            Replied(overview#1: call create_plan_overview not json) -> overview   [Call overview#2] dirty[overview]
            Replied(overview#2: call create_plan_overview not json) -> failed     [] dirty[overview]
            Resume(c=2)                                      -> failed     [] dirty[]
            Retry                                            -> overview   [Call overview#3] dirty[overview]
            Replied(overview#3: call create_plan_overview)   -> weeks      [Call week 1#1, Call week 2#1] dirty[overview, week 1, week 2]
        "#]],
    );
}

#[test]
fn transient_failure_waits_and_a_restart_rearms_the_wait() {
    let transient = |attempt, at_ms| {
        failure(
            StepId::Overview,
            attempt,
            ModelFailure::Transient {
                message: "429".into(),
                retry_after_ms: Some(7_000),
            },
            at_ms,
        )
    };
    check(
        1,
        &[
            Event::Start {
                at_ms: 0,
                week_concurrency: 1,
            },
            transient(1, 100),
            Event::Resume {
                at_ms: 200,
                week_concurrency: 1,
            },
            Event::RetryDue {
                step: StepId::Overview,
                at_ms: 7_100,
            },
            transient(2, 7_200),
        ],
        expect![[r#"
            Start(c=1)                                       -> overview   [Call overview#1] dirty[overview]
            Replied(overview#1: transient)                   -> overview   [Wait overview until 7100] dirty[overview]
            Resume(c=1)                                      -> overview   [Wait overview until 7100] dirty[]
            RetryDue(overview)                               -> overview   [Call overview#2] dirty[overview]
            Replied(overview#2: transient)                   -> failed     [] dirty[overview]
        "#]],
    );
}

#[test]
fn restart_reissues_in_flight_weeks_once_and_ignores_stale_replies() {
    check(
        2,
        &[
            Event::Start {
                at_ms: 0,
                week_concurrency: 2,
            },
            good_overview(1, 1),
            good_week(1, 1, 2),
            Event::Resume {
                at_ms: 3,
                week_concurrency: 2,
            },
            good_week(1, 1, 4),
            good_week(2, 1, 5),
        ],
        expect![[r#"
            Start(c=2)                                       -> overview   [Call overview#1] dirty[overview]
            Replied(overview#1: call create_plan_overview)   -> weeks      [Call week 1#1, Call week 2#1] dirty[overview, week 1, week 2]
            Replied(week 1#1: call add_week_details)         -> weeks      [] dirty[week 1]
            Resume(c=2)                                      -> weeks      [Call week 2#1] dirty[week 2]
            Replied(week 1#1: call add_week_details)         -> weeks      [] dirty[]
            Replied(week 2#1: call add_week_details)         -> finalizing [Write training_plan_19700101_000000_00000000.json] dirty[week 2]
        "#]],
    );
}

#[test]
fn a_failing_week_lets_in_flight_weeks_finish_then_fails() {
    let fatal = failure(
        StepId::Week(1),
        1,
        ModelFailure::Fatal {
            message: "401 unauthorized".into(),
        },
        3,
    );
    check(
        2,
        &[
            Event::Start {
                at_ms: 0,
                week_concurrency: 2,
            },
            good_overview(1, 1),
            fatal,
            good_week(2, 1, 4),
        ],
        expect![[r#"
            Start(c=2)                                       -> overview   [Call overview#1] dirty[overview]
            Replied(overview#1: call create_plan_overview)   -> weeks      [Call week 1#1, Call week 2#1] dirty[overview, week 1, week 2]
            Replied(week 1#1: fatal)                         -> weeks      [] dirty[week 1]
            Replied(week 2#1: call add_week_details)         -> failed     [] dirty[week 2]
        "#]],
    );
}

#[test]
fn retry_after_a_failed_week_goes_back_to_the_weeks() {
    let fatal = failure(
        StepId::Week(2),
        1,
        ModelFailure::Fatal {
            message: "403 forbidden".into(),
        },
        3,
    );
    check(
        2,
        &[
            Event::Start {
                at_ms: 0,
                week_concurrency: 2,
            },
            good_overview(1, 1),
            good_week(1, 1, 2),
            fatal,
            Event::Retry {
                budget: None,
                at_ms: 4,
                week_concurrency: 2,
            },
            good_week(2, 2, 5),
        ],
        expect![[r#"
            Start(c=2)                                       -> overview   [Call overview#1] dirty[overview]
            Replied(overview#1: call create_plan_overview)   -> weeks      [Call week 1#1, Call week 2#1] dirty[overview, week 1, week 2]
            Replied(week 1#1: call add_week_details)         -> weeks      [] dirty[week 1]
            Replied(week 2#1: fatal)                         -> failed     [] dirty[week 2]
            Retry                                            -> weeks      [Call week 2#2] dirty[week 2]
            Replied(week 2#2: call add_week_details)         -> finalizing [Write training_plan_19700101_000000_00000000.json] dirty[week 2]
        "#]],
    );
}

#[test]
fn wrong_tool_is_malformed_and_never_executed() {
    let mut machine = Machine::new(spec(1));
    machine.handle(&Event::Start {
        at_ms: 0,
        week_concurrency: 1,
    });
    let ctx = machine.handle(&reply(
        StepId::Overview,
        1,
        "add_week_details",
        "{}".into(),
        1,
    ));
    assert_eq!(
        ctx.effects,
        vec![Effect::CallModel {
            step: StepId::Overview,
            attempt: 2,
            fallback: false
        }]
    );
    assert!(machine.run().overview().is_none());
    let feedback = &machine.run().step(StepId::Overview).repair_turns[0].feedback;
    assert!(
        feedback.contains("only create_plan_overview is offered"),
        "{feedback}"
    );
}

/// An answer without a call says the server may not pass tools only while no answer of the run
/// has called one; the model's feedback never says it.
#[test]
fn prose_before_any_call_says_the_server_may_not_pass_tools() {
    let prose = |step, attempt| {
        failure(
            step,
            attempt,
            ModelFailure::Malformed {
                message: "the reply has no tool call".into(),
                reply: PriorReply::Text("Ride on Tuesday.".into()),
            },
            attempt.into(),
        )
    };
    let last_message = |machine: &Machine, step| match &machine.run().step(step).attempts.last() {
        Some(crate::workflow::AttemptRecord {
            outcome: crate::workflow::AttemptOutcome::Malformed { message },
            ..
        }) => message.clone(),
        other => panic!("{other:?}"),
    };
    let mut machine = Machine::new(spec(1));
    machine.handle(&Event::Start {
        at_ms: 0,
        week_concurrency: 1,
    });
    machine.handle(&prose(StepId::Overview, 1));
    let first = last_message(&machine, StepId::Overview);
    assert!(first.ends_with(super::TOOLS_NOT_PASSED_HINT), "{first}");
    let feedback = &machine.run().step(StepId::Overview).repair_turns[0].feedback;
    assert!(!feedback.contains("--jinja"), "{feedback}");
    machine.handle(&prose(StepId::Overview, 2));
    let failed = format!("{:?}", machine.state());
    assert!(failed.contains("--enable-auto-tool-choice"), "{failed}");

    // Once the overview was called and accepted, prose in a week is the model's own doing.
    let mut machine = Machine::new(spec(2));
    machine.handle(&Event::Start {
        at_ms: 0,
        week_concurrency: 1,
    });
    machine.handle(&good_overview(1, 1));
    machine.handle(&prose(StepId::Week(1), 1));
    assert_eq!(
        last_message(&machine, StepId::Week(1)),
        "the reply has no tool call"
    );
}

/// A request over the context window with repair turns is asked again at once without them, at
/// no cost to the attempt budget; one without repair turns is a failed attempt, so the step
/// fails by the budget (not as fatal), saying the server needs a larger window.
#[test]
fn a_context_error_drops_the_repair_turns_once_then_counts_as_an_attempt() {
    let over = |attempt| {
        failure(
            StepId::Overview,
            attempt,
            ModelFailure::ContextLength {
                message: "openai 400 context_length_exceeded: too long".into(),
            },
            attempt.into(),
        )
    };
    let mut machine = Machine::new(spec(2));
    machine.handle(&Event::Start {
        at_ms: 0,
        week_concurrency: 1,
    });
    machine.handle(&reply(
        StepId::Overview,
        1,
        tools::CREATE_PLAN_OVERVIEW,
        "{}".into(),
        1,
    ));
    assert_eq!(machine.run().step(StepId::Overview).repair_turns.len(), 1);
    let ctx = machine.handle(&over(2));
    let state = machine.run().step(StepId::Overview);
    assert_eq!(
        ctx.effects,
        vec![Effect::CallModel {
            step: StepId::Overview,
            attempt: 3,
            fallback: false
        }],
        "asked again at once"
    );
    assert!(state.repair_turns.is_empty());
    assert_eq!(state.refused, 1, "the fresh request costs no attempt");
    machine.handle(&over(3));
    assert_eq!(state_name(machine.state()), "failed");
    let state = machine.run().step(StepId::Overview);
    assert_eq!(state.refused, 2);
    assert!(state.repair_turns.is_empty(), "no feedback lengthens it");
    let reason = format!("{:?}", machine.state());
    assert!(
        reason.contains("2 requests did not fit the model's context window")
            && reason.contains(super::machine::CONTEXT_TOO_SMALL_HINT),
        "{reason}"
    );
    assert!(matches!(
        state.attempts[2].outcome,
        crate::workflow::AttemptOutcome::ContextLength { .. }
    ));
}

#[test]
fn a_long_answer_without_a_call_is_replayed_as_an_excerpt() {
    let mut machine = Machine::new(spec(1));
    machine.handle(&Event::Start {
        at_ms: 0,
        week_concurrency: 1,
    });
    let essay = "I would start with base miles. ".repeat(400);
    machine.handle(&failure(
        StepId::Overview,
        1,
        ModelFailure::Malformed {
            message: "the reply has no tool call".into(),
            reply: PriorReply::Text(essay.clone()),
        },
        1,
    ));
    let turns = &machine.run().step(StepId::Overview).repair_turns;
    let PriorReply::Text(replayed) = &turns[0].reply else {
        panic!("{turns:?}")
    };
    assert!(essay.starts_with(replayed.split('…').next().unwrap()));
    assert!(
        replayed.chars().count() < super::machine::MAX_REPLAYED_TEXT_CHARS + 60,
        "{replayed}"
    );
    assert!(
        replayed.ends_with("more characters not repeated]"),
        "{replayed}"
    );
}

#[test]
fn a_budget_the_overview_used_up_fails_the_run_before_any_week() {
    let mut spec = spec(2);
    spec.budget = crate::workflow::Budget {
        max_tokens: Some(200),
        max_attempts: None,
        max_cost_micro_usd: None,
    };
    let mut machine = Machine::new(spec);
    let events = [
        Event::Start {
            at_ms: 1_000,
            week_concurrency: 4,
        },
        good_overview(1, 2_000),
    ];
    expect![[r#"
        Start(c=4)                                       -> overview   [Call overview#1] dirty[overview]
        Replied(overview#1: call create_plan_overview)   -> failed     [] dirty[overview]
    "#]]
    .assert_eq(&transcript(&mut machine, &events));
}

#[test]
fn a_money_budget_stops_before_the_request_that_would_cross_it() {
    let mut spec = spec(2);
    // Room for two replies and a half: the third request would cross it.
    spec.budget = crate::workflow::Budget {
        max_cost_micro_usd: Some(REPLY_COST_MICRO_USD * 5 / 2),
        ..crate::workflow::Budget::default()
    };
    let mut machine = Machine::new(spec);
    let events = [
        Event::Start {
            at_ms: 1_000,
            week_concurrency: 1,
        },
        good_overview(1, 2_000),
        good_week(1, 1, 3_000),
    ];
    expect![[r#"
        Start(c=1)                                       -> overview   [Call overview#1] dirty[overview]
        Replied(overview#1: call create_plan_overview)   -> weeks      [Call week 1#1] dirty[overview, week 1]
        Replied(week 1#1: call add_week_details)         -> failed     [] dirty[week 1]
    "#]]
    .assert_eq(&transcript(&mut machine, &events));
    let run = machine.run();
    assert_eq!(run.total_cost().micro_usd, 2 * REPLY_COST_MICRO_USD);
    let crate::workflow::State::Failed { reason } = machine.state() else {
        panic!("the run stops on its budget");
    };
    assert!(
        reason.contains("cost budget reached: about $0.0020 spent, the next request costs about $0.0010, --max-cost $0.0025"),
        "{reason}"
    );
}

#[test]
fn oversized_arguments_are_refused_and_kept_cut_for_the_repair() {
    let spec = spec(2);
    let mut overview = coach::create_plan_overview(&spec.profile, 2, None, &spec.rules);
    overview.coaching_notes = "é".repeat(tools::MAX_ARGUMENTS_BYTES);
    let arguments = serde_json::to_string(&overview).expect("serializes");
    let mut machine = Machine::new(spec);
    let events = [
        Event::Start {
            at_ms: 1_000,
            week_concurrency: 4,
        },
        reply(
            StepId::Overview,
            1,
            tools::CREATE_PLAN_OVERVIEW,
            arguments.clone(),
            2_000,
        ),
    ];
    expect![[r#"
        Start(c=4)                                       -> overview   [Call overview#1] dirty[overview]
        Replied(overview#1: call create_plan_overview)   -> overview   [Call overview#2] dirty[overview]
    "#]]
    .assert_eq(&transcript(&mut machine, &events));
    let turns = &machine.run().steps[&StepId::Overview].repair_turns;
    let PriorReply::Call(kept) = &turns[0].reply else {
        panic!("the refused call is kept");
    };
    assert!(arguments.starts_with(&kept.arguments));
    assert!(kept.arguments.len() <= tools::MAX_ARGUMENTS_BYTES);
    assert!(
        turns[0].feedback.contains(&format!(
            "arguments: are {} bytes; at most {}",
            arguments.len(),
            tools::MAX_ARGUMENTS_BYTES
        )),
        "{}",
        turns[0].feedback
    );
}

/// A week the model answers with repeats: each run of identical (work, recovery) pairs in the
/// coach's week folded into one repeat segment, so the week rides the same minutes and TSS.
fn folded_week(week: u32) -> crate::domain::plan::WeekDetails {
    use crate::domain::plan::{Repeat, Segment, Step};
    use crate::domain::SegmentKind;
    let spec = spec(2);
    let overview = coach::create_plan_overview(&spec.profile, 2, None, &spec.rules);
    let mut details = coach::add_week_details(&spec.profile, &overview, week, None, &spec.rules);
    let step = |segment: &Segment| Step {
        duration_min: segment.duration_min,
        power_low_pct: segment.power_low_pct,
        power_high_pct: segment.power_high_pct,
        description: segment.description.clone(),
    };
    let same = |a: &Segment, b: &Segment| {
        (a.kind, a.duration_min, a.power_low_pct, a.power_high_pct)
            == (b.kind, b.duration_min, b.power_low_pct, b.power_high_pct)
    };
    for workout in &mut details.workouts {
        let old = std::mem::take(&mut workout.segments);
        let mut index = 0;
        while index < old.len() {
            let pair = |at: usize| {
                old.get(at)
                    .is_some_and(|s| matches!(s.kind, SegmentKind::Work | SegmentKind::Interval))
                    && old
                        .get(at + 1)
                        .is_some_and(|s| s.kind == SegmentKind::Recovery)
            };
            let mut sets = 0;
            while pair(index + 2 * sets)
                && (sets == 0
                    || (same(&old[index], &old[index + 2 * sets])
                        && same(&old[index + 1], &old[index + 2 * sets + 1])))
            {
                sets += 1;
            }
            if sets < 2 {
                workout.segments.push(old[index].clone());
                index += 1;
                continue;
            }
            let (work, recovery) = (&old[index], &old[index + 1]);
            workout.segments.push(Segment {
                kind: SegmentKind::Interval,
                duration_min: (work.duration_min + recovery.duration_min) * sets as f64,
                power_low_pct: work.power_low_pct,
                power_high_pct: work.power_high_pct,
                description: "the set".into(),
                repeat: Some(Repeat {
                    sets: sets as i64,
                    work: step(work),
                    recovery: Some(step(recovery)),
                }),
            });
            index += 2 * sets;
        }
    }
    details
}

/// A model may answer with repeats: the week is accepted as it came (the repeat kept, no
/// warning), counted as its expansion, and the plan file writes it back flat for `validate`,
/// which reads it with no finding.
#[test]
fn a_week_written_with_repeats_is_accepted_and_written_back() {
    let spec = spec(2);
    let overview = coach::create_plan_overview(&spec.profile, 2, None, &spec.rules);
    let plain = coach::add_week_details(&spec.profile, &overview, 1, None, &spec.rules);
    let folded = folded_week(1);
    assert!(
        folded
            .workouts
            .iter()
            .flat_map(|w| &w.segments)
            .any(|s| s.repeat.is_some()),
        "the coach's week 1 has an interval set to fold"
    );
    assert!(
        folded
            .workouts
            .iter()
            .map(|w| w.segments.len())
            .sum::<usize>()
            < plain
                .workouts
                .iter()
                .map(|w| w.segments.len())
                .sum::<usize>()
    );
    assert_eq!(
        (folded.minutes(), folded.tss()),
        (plain.minutes(), plain.tss())
    );
    let mut machine = Machine::new(spec);
    let arguments = serde_json::to_string(&folded).expect("serializes");
    for event in [
        Event::Start {
            at_ms: 1_000,
            week_concurrency: 4,
        },
        good_overview(1, 2_000),
        reply(
            StepId::Week(1),
            1,
            tools::ADD_WEEK_DETAILS,
            arguments,
            3_000,
        ),
        good_week(2, 1, 4_000),
    ] {
        machine.handle(&event);
    }
    assert_eq!(state_name(machine.state()), "finalizing");
    let run = machine.run();
    assert_eq!(run.week(1), Some(&folded));
    assert!(run.steps[&StepId::Week(1)].warnings.is_empty());
    let file = crate::planfile::render(run).expect("renders");
    let text = String::from_utf8(file).expect("UTF-8");
    assert!(text.contains("\"sets\": "), "the file keeps the repeat");
    assert_eq!(
        crate::planfile::validate_plan_text(&text, &Rules::default()),
        []
    );
}
