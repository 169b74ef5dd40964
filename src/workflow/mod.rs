//! The plan's own state machine, pure: an event goes in, the run's new state comes out with the
//! effects to execute (as data) and the steps whose records changed. No IO, no clock, no
//! randomness: time, ids and model replies arrive inside events. The engine commits and
//! flushes a transition before it executes any of its effects.

mod machine;
pub mod retry;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use statig::blocking::{InitializedStateMachine, IntoStateMachineExt};

use crate::domain::plan::{PlanOverview, WeekDetails};
use crate::domain::profile::AthleteProfile;
use crate::domain::validate::{Rules, Violation};
use crate::llm::{ModelReply, RepairTurn, StepId, Usage};

pub use machine::State;

/// The engine-generated identity of a run (plan_id). Never taken from model output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub u128);

impl RunId {
    /// The first 8 hex digits, used in file names and listings.
    pub fn short(&self) -> String {
        format!("{:032x}", self.0)[..8].to_string()
    }

    pub fn parse(text: &str) -> Option<RunId> {
        let text = text.trim();
        if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            u128::from_str_radix(text, 16).ok().map(RunId)
        } else {
            None
        }
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Bounds on retries; all attempts are persisted transitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Model answers per step that may be refused (invalid or malformed) before the step fails.
    pub max_attempts: u32,
    /// Transient provider failures per step before the step fails.
    pub max_transient_retries: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            max_transient_retries: 5,
            base_delay_ms: 1_000,
            max_delay_ms: 60_000,
        }
    }
}

/// Everything fixed when a run is created. Resuming never changes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub run_id: RunId,
    pub profile: AthleteProfile,
    pub total_weeks: u32,
    pub start_date: NaiveDate,
    pub provider: String,
    pub model: String,
    /// Where the provider was reached ("" for the built-in coach). Never holds a key.
    pub base_url: String,
    pub prompt_hash: String,
    pub rules: Rules,
    pub retry: RetryPolicy,
    pub output_dir: String,
    pub keep_checkpoints: bool,
    pub created_at_ms: u64,
}

/// A request sent and not yet answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    pub attempt: u32,
    pub requested_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    Accepted {
        warnings: u32,
    },
    Rejected {
        errors: u32,
        warnings: u32,
        first_error: String,
    },
    Malformed {
        message: String,
    },
    Transient {
        message: String,
    },
    Fatal {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    pub usage: Usage,
    pub requested_at_ms: u64,
    pub finished_at_ms: u64,
}

/// The accepted tool arguments of a step: the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Accepted {
    Overview(PlanOverview),
    Week(WeekDetails),
}

/// Everything about one step (3a, or one week of 3b).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub step: StepId,
    /// Requests issued, counting a request re-issued after a crash.
    pub requests: u32,
    pub attempts: Vec<AttemptRecord>,
    pub in_flight: Option<InFlight>,
    pub waiting_until_ms: Option<u64>,
    /// Refused answers since the last `resume --retry`.
    pub refused: u32,
    /// Transient failures since the last `resume --retry`.
    pub transient_failures: u32,
    pub repair_turns: Vec<RepairTurn>,
    pub accepted: Option<Accepted>,
    pub accepted_at_ms: Option<u64>,
    pub warnings: Vec<Violation>,
    /// Why the step gave up, when it did.
    pub exhausted: Option<String>,
    /// True once a Done run dropped the checkpoint and conversation.
    pub compacted: bool,
}

impl StepState {
    pub fn new(step: StepId) -> StepState {
        StepState {
            step,
            requests: 0,
            attempts: Vec::new(),
            in_flight: None,
            waiting_until_ms: None,
            refused: 0,
            transient_failures: 0,
            repair_turns: Vec::new(),
            accepted: None,
            accepted_at_ms: None,
            warnings: Vec::new(),
            exhausted: None,
            compacted: false,
        }
    }

    pub fn is_accepted(&self) -> bool {
        self.accepted_at_ms.is_some()
    }

    pub fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        for attempt in &self.attempts {
            usage.add(&attempt.usage);
        }
        usage
    }
}

/// The statig shared storage: the whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub spec: RunSpec,
    pub week_concurrency: u32,
    pub steps: BTreeMap<StepId, StepState>,
    /// The plan's warnings found by the 3c check.
    pub plan_warnings: Vec<Violation>,
    pub finalizing_at_ms: Option<u64>,
    /// The plan file's name, fixed once by the Finalizing transition.
    pub output_file: Option<String>,
    pub finished_at_ms: Option<u64>,
    /// Times the run reached Done: an invariant keeps it at most 1.
    pub done_count: u32,
}

/// Everything that can happen to a run. Times come from the engine's clock.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A new run starts.
    Start { at_ms: u64, week_concurrency: u32 },
    /// The process restarted: re-issue what was in flight, re-arm waits, re-write the plan.
    Resume { at_ms: u64, week_concurrency: u32 },
    /// `resume --retry`: a failed run gets a fresh attempt budget for its failed steps.
    Retry { at_ms: u64, week_concurrency: u32 },
    /// A model request finished.
    Replied {
        step: StepId,
        attempt: u32,
        reply: ModelReply,
        at_ms: u64,
    },
    /// A scheduled retry wait is over.
    RetryDue { step: StepId, at_ms: u64 },
    /// 3c wrote the plan file under the name fixed by `Finalizing`.
    PlanWritten { at_ms: u64 },
}

/// Work the engine must do after the transition that emitted it is committed and flushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send the step's request (prompts rendered by the engine, repair turns from the step).
    CallModel { step: StepId, attempt: u32 },
    /// Wait until the given time, then deliver `RetryDue`.
    Wait { step: StepId, until_ms: u64 },
    /// 3c: assemble the plan and write it atomically under this name.
    WritePlan { file_name: String },
}

/// What one event did: effects to run after the commit, and steps whose records changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ctx {
    pub effects: Vec<Effect>,
    pub dirty: BTreeSet<StepId>,
}

/// A run's state machine, ready to handle events.
pub struct Machine {
    machine: InitializedStateMachine<Run>,
}

impl Machine {
    pub fn new(spec: RunSpec) -> Machine {
        let run = Run::new(spec);
        Machine::restore(run, machine::initial_state())
    }

    /// Rebuilds a machine from persisted parts. Entry actions run again here, which is why
    /// none of them may emit effects or do IO.
    pub fn restore(run: Run, state: State) -> Machine {
        let mut uninitialized = run.uninitialized_state_machine();
        *uninitialized.state_mut() = state;
        let mut ctx = Ctx::default();
        let machine = uninitialized.init_with_context(&mut ctx);
        assert!(
            ctx.effects.is_empty() && ctx.dirty.is_empty(),
            "entry actions must be pure"
        );
        Machine { machine }
    }

    pub fn handle(&mut self, event: &Event) -> Ctx {
        let mut ctx = Ctx::default();
        self.machine.handle_with_context(event, &mut ctx);
        ctx
    }

    pub fn run(&self) -> &Run {
        self.machine.inner()
    }

    pub fn state(&self) -> &State {
        self.machine.state()
    }
}

impl Run {
    pub fn new(spec: RunSpec) -> Run {
        let mut steps = BTreeMap::new();
        steps.insert(StepId::Overview, StepState::new(StepId::Overview));
        for week in 1..=spec.total_weeks {
            steps.insert(StepId::Week(week), StepState::new(StepId::Week(week)));
        }
        Run {
            spec,
            week_concurrency: 1,
            steps,
            plan_warnings: Vec::new(),
            finalizing_at_ms: None,
            output_file: None,
            finished_at_ms: None,
            done_count: 0,
        }
    }

    pub fn step(&self, step: StepId) -> &StepState {
        self.steps
            .get(&step)
            .expect("every step of the plan exists from creation")
    }

    pub fn overview(&self) -> Option<&PlanOverview> {
        match &self.step(StepId::Overview).accepted {
            Some(Accepted::Overview(overview)) => Some(overview),
            _ => None,
        }
    }

    pub fn week(&self, week: u32) -> Option<&WeekDetails> {
        match &self.steps.get(&StepId::Week(week))?.accepted {
            Some(Accepted::Week(details)) => Some(details),
            _ => None,
        }
    }

    pub fn weeks_accepted(&self) -> u32 {
        (1..=self.spec.total_weeks)
            .filter(|week| self.step(StepId::Week(*week)).is_accepted())
            .count() as u32
    }

    pub fn total_usage(&self) -> Usage {
        let mut usage = Usage::default();
        for step in self.steps.values() {
            usage.add(&step.usage());
        }
        usage
    }

    /// Token usage and attempts of phase 3b, all weeks together.
    pub fn weeks_usage(&self) -> (Usage, usize) {
        let mut usage = Usage::default();
        let mut attempts = 0;
        for week in 1..=self.spec.total_weeks {
            let step = self.step(StepId::Week(week));
            usage.add(&step.usage());
            attempts += step.attempts.len();
        }
        (usage, attempts)
    }

    pub fn total_attempts(&self) -> usize {
        self.steps.values().map(|step| step.attempts.len()).sum()
    }
}

/// A plain name for a state, for listings and events.
pub fn state_name(state: &State) -> &'static str {
    match state {
        State::Created {} => "created",
        State::DraftingOverview {} => "overview",
        State::DetailingWeeks {} => "weeks",
        State::Finalizing { .. } => "finalizing",
        State::Done {} => "done",
        State::Failed { .. } => "failed",
    }
}

#[cfg(test)]
mod tests;
