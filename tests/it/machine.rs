//! Property test of the run state machine: random sequences of accepted, refused, transient
//! and fatal replies, waits, restarts and retries keep the workflow invariants, and every run
//! can still be driven to Done exactly once.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use periodize::coach;
use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::llm::{ModelFailure, ModelOutcome, ModelReply, StepId, ToolCall, Usage};
use periodize::tools;
use periodize::workflow::{state_name, Effect, Event, Machine, RetryPolicy, RunId, RunSpec, State};

#[derive(Debug, Clone, Copy)]
enum Op {
    Accept(usize),
    Reject(usize),
    Transient(usize),
    Fatal(usize),
    Restart(u32),
    Retry,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<usize>().prop_map(Op::Accept),
        2 => any::<usize>().prop_map(Op::Reject),
        2 => any::<usize>().prop_map(Op::Transient),
        1 => any::<usize>().prop_map(Op::Fatal),
        1 => (1u32..5).prop_map(Op::Restart),
        1 => Just(Op::Retry),
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(64)
}

struct Harness {
    machine: Machine,
    /// Effects emitted and not yet answered (lost on restart, as in a crashed process).
    outstanding: Vec<Effect>,
    now_ms: u64,
    accepted: BTreeSet<StepId>,
    max_refused: u32,
    concurrency: u32,
    spec: RunSpec,
}

impl Harness {
    fn new(total_weeks: u32, concurrency: u32) -> Harness {
        let profile = parse_profile(r#"{"name":"P","ftp_w":240,"weekly_hours":7,"available_days":["Tuesday","Thursday","Saturday","Sunday"]}"#).unwrap();
        let spec = RunSpec {
            run_id: RunId(7),
            batch: None,
            profile,
            total_weeks,
            start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            provider: "builtin".into(),
            model: "m".into(),
            base_url: String::new(),
            prompt_hash: "h".into(),
            rules: Rules::default(),
            retry: RetryPolicy {
                max_attempts: 2,
                max_transient_retries: 2,
                base_delay_ms: 10,
                max_delay_ms: 100,
                fallback_builtin: false,
            },
            output_dir: "output".into(),
            keep_checkpoints: true,
            created_at_ms: 0,
            budget: Default::default(),
            exports: Vec::new(),
        };
        let mut harness = Harness {
            machine: Machine::new(spec.clone()),
            outstanding: Vec::new(),
            now_ms: 0,
            accepted: BTreeSet::new(),
            max_refused: 2,
            concurrency,
            spec,
        };
        harness.feed(Event::Start {
            at_ms: 0,
            week_concurrency: concurrency,
        });
        harness
    }

    fn valid_arguments(&self, step: StepId) -> (String, String) {
        match step {
            StepId::Overview => {
                let overview = coach::create_plan_overview(
                    &self.spec.profile,
                    self.spec.total_weeks,
                    self.spec.event_day(),
                    &self.spec.rules,
                );
                (
                    tools::CREATE_PLAN_OVERVIEW.into(),
                    serde_json::to_string(&overview).unwrap(),
                )
            }
            StepId::Week(week) => {
                let overview = self
                    .machine
                    .run()
                    .overview()
                    .expect("weeks follow the overview")
                    .clone();
                let details = coach::add_week_details(
                    &self.spec.profile,
                    &overview,
                    week,
                    self.spec.event_day(),
                    &self.spec.rules,
                );
                (
                    tools::ADD_WEEK_DETAILS.into(),
                    serde_json::to_string(&details).unwrap(),
                )
            }
        }
    }

    fn feed(&mut self, event: Event) {
        self.now_ms += 10;
        let before_state = self.machine.state().clone();
        let before: BTreeMap<StepId, bool> = self
            .machine
            .run()
            .steps
            .iter()
            .map(|(step, state)| (*step, state.is_accepted()))
            .collect();
        let busy_before: BTreeSet<StepId> = self
            .machine
            .run()
            .steps
            .values()
            .filter(|state| state.in_flight.is_some() || state.waiting_until_ms.is_some())
            .map(|state| state.step)
            .collect();
        let done_before = self.machine.run().done_count;
        let ctx = self.machine.handle(&event);
        let run = self.machine.run();
        // No step is ever accepted twice, and an accepted step stays accepted.
        for (step, state) in &run.steps {
            if state.is_accepted() && !before[step] {
                assert!(self.accepted.insert(*step), "{step} accepted twice");
            }
            assert!(
                !before[step] || state.is_accepted(),
                "{step} lost its acceptance"
            );
            assert!(
                state.refused <= self.max_refused,
                "{step}: refused {} > bound",
                state.refused
            );
            assert!(
                state.transient_failures <= 3,
                "{step}: transient failures beyond the bound"
            );
        }
        // Effects never target accepted steps, and newly scheduled weeks come lowest first
        // (a request re-issued after a restart, or a repair, continues work already begun).
        for effect in &ctx.effects {
            if let Effect::CallModel { step, .. } = effect {
                assert!(
                    !run.step(*step).is_accepted(),
                    "{step} requested after acceptance"
                );
                if let (StepId::Week(week), false) = (step, busy_before.contains(step)) {
                    for lower in 1..*week {
                        let lower_state = run.step(StepId::Week(lower));
                        assert!(
                            lower_state.is_accepted()
                                || lower_state.in_flight.is_some()
                                || lower_state.waiting_until_ms.is_some()
                                || lower_state.exhausted.is_some(),
                            "week {week} scheduled while week {lower} is idle"
                        );
                    }
                }
            }
        }
        let busy_weeks = run
            .steps
            .values()
            .filter(|s| {
                matches!(s.step, StepId::Week(_))
                    && (s.in_flight.is_some() || s.waiting_until_ms.is_some())
            })
            .count();
        assert!(
            busy_weeks <= self.concurrency as usize,
            "{busy_weeks} weeks busy with concurrency {}",
            self.concurrency
        );
        // Finalizing only with every week accepted; Done once.
        if let State::Finalizing { .. } = self.machine.state() {
            assert_eq!(run.weeks_accepted(), run.spec.total_weeks);
        }
        assert!(run.done_count <= 1);
        if matches!(before_state, State::Done {}) {
            assert!(
                matches!(self.machine.state(), State::Done {}),
                "Done is final"
            );
            assert_eq!(run.done_count, done_before);
        }
        self.outstanding.extend(ctx.effects);
    }

    fn reply(&mut self, index: usize, make: impl FnOnce(&Harness, StepId) -> ModelOutcome) {
        if self.outstanding.is_empty() {
            return;
        }
        let effect = self.outstanding.remove(index % self.outstanding.len());
        let at_ms = self.now_ms;
        match effect {
            Effect::CallModel { step, attempt, .. } => {
                let outcome = make(self, step);
                self.feed(Event::Replied {
                    step,
                    attempt,
                    reply: ModelReply {
                        outcome,
                        usage: Usage {
                            input_tokens: 10,
                            output_tokens: 5,
                            ..Usage::default()
                        },
                    },
                    cost_micro_usd: Some(1),
                    at_ms,
                });
            }
            Effect::Wait { step, .. } => self.feed(Event::RetryDue { step, at_ms }),
            Effect::WritePlan { .. } => self.feed(Event::PlanWritten { at_ms }),
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Accept(index) => self.reply(index, |harness, step| {
                let (name, arguments) = harness.valid_arguments(step);
                ModelOutcome::Call(ToolCall {
                    id: "c".into(),
                    name,
                    arguments,
                    signature: None,
                })
            }),
            Op::Reject(index) => self.reply(index, |_, step| {
                let name = match step {
                    StepId::Overview => tools::CREATE_PLAN_OVERVIEW,
                    StepId::Week(_) => tools::ADD_WEEK_DETAILS,
                };
                ModelOutcome::Call(ToolCall {
                    id: "c".into(),
                    name: name.into(),
                    arguments: r#"{"week_number": 99}"#.into(),
                    signature: None,
                })
            }),
            Op::Transient(index) => self.reply(index, |_, _| {
                ModelOutcome::Failed(ModelFailure::Transient {
                    message: "503".into(),
                    retry_after_ms: None,
                })
            }),
            Op::Fatal(index) => self.reply(index, |_, _| {
                ModelOutcome::Failed(ModelFailure::Fatal {
                    message: "401".into(),
                })
            }),
            Op::Restart(concurrency) => {
                // A crash: in-flight work is lost; the machine is rebuilt from its parts.
                self.outstanding.clear();
                self.concurrency = concurrency.max(self.concurrency);
                let run = self.machine.run().clone();
                let state = self.machine.state().clone();
                self.machine = Machine::restore(run, state);
                let concurrency = self.concurrency;
                self.feed(Event::Resume {
                    at_ms: self.now_ms,
                    week_concurrency: concurrency,
                });
            }
            Op::Retry => {
                if matches!(self.machine.state(), State::Failed { .. }) {
                    let concurrency = self.concurrency;
                    self.feed(Event::Retry {
                        budget: None,
                        at_ms: self.now_ms,
                        week_concurrency: concurrency,
                    });
                }
            }
        }
    }

    /// Liveness: from any reachable state, accepting everything reaches Done exactly once.
    fn drain(&mut self) {
        for _ in 0..500 {
            match self.machine.state() {
                State::Done {} => break,
                State::Failed { .. } => self.apply(Op::Retry),
                _ if self.outstanding.is_empty() => self.apply(Op::Restart(self.concurrency)),
                _ => self.apply(Op::Accept(0)),
            }
        }
        assert!(
            matches!(self.machine.state(), State::Done {}),
            "stuck in {}: {:?}",
            state_name(self.machine.state()),
            self.machine.state()
        );
        assert_eq!(self.machine.run().done_count, 1);
        assert_eq!(self.accepted.len(), self.spec.total_weeks as usize + 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_histories_keep_the_invariants(total_weeks in 1u32..8, concurrency in 1u32..5, ops in prop::collection::vec(op(), 0..80)) {
        let mut harness = Harness::new(total_weeks, concurrency);
        for op in ops {
            harness.apply(op);
        }
        harness.drain();
    }
}
