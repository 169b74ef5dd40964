//! A scripted provider for tests of the engine: answers like the built-in coach unless a test
//! queued a failure for the next call, and counts every call per step. Never used by the CLI.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::llm::{ModelFailure, ModelOutcome, ModelReply, StepId, ToolRequest, Usage};
use crate::providers::builtin;

#[derive(Debug, Clone, Default)]
pub struct Scripted {
    state: Arc<Mutex<ScriptState>>,
}

#[derive(Debug, Default)]
struct ScriptState {
    next_failures: VecDeque<ModelFailure>,
    /// Outcomes queued for one step, used before the coach's answer.
    per_step: BTreeMap<StepId, VecDeque<ModelOutcome>>,
    calls: BTreeMap<StepId, u32>,
    most_repair_turns: usize,
    /// Steps whose next call panics (an internal error in a request's task).
    panics: Vec<StepId>,
}

impl Scripted {
    /// The next call (whichever step it is for) fails this way.
    pub fn fail_next(&self, failure: ModelFailure) {
        self.state
            .lock()
            .expect("the script lock is never poisoned")
            .next_failures
            .push_back(failure);
    }

    /// The next calls for `step` get these outcomes, in order (then the coach answers).
    pub fn script_step(&self, step: StepId, outcomes: Vec<ModelOutcome>) {
        self.state
            .lock()
            .expect("the script lock is never poisoned")
            .per_step
            .entry(step)
            .or_default()
            .extend(outcomes);
    }

    /// The next call for `step` panics instead of answering.
    pub fn panic_next(&self, step: StepId) {
        self.state
            .lock()
            .expect("the script lock is never poisoned")
            .panics
            .push(step);
    }

    /// The most repair turns any request carried.
    pub fn most_repair_turns(&self) -> usize {
        self.state
            .lock()
            .expect("the script lock is never poisoned")
            .most_repair_turns
    }

    /// Calls made so far, per step.
    pub fn calls(&self) -> BTreeMap<StepId, u32> {
        self.state
            .lock()
            .expect("the script lock is never poisoned")
            .calls
            .clone()
    }

    pub async fn call(&self, request: &ToolRequest) -> ModelReply {
        let failure = {
            let mut state = self
                .state
                .lock()
                .expect("the script lock is never poisoned");
            *state.calls.entry(request.brief.step).or_default() += 1;
            state.most_repair_turns = state.most_repair_turns.max(request.repair_turns.len());
            if let Some(index) = state
                .panics
                .iter()
                .position(|step| *step == request.brief.step)
            {
                state.panics.remove(index);
                drop(state);
                panic!("scripted panic for {}", request.brief.step);
            }
            match state.next_failures.pop_front() {
                Some(failure) => Some(ModelOutcome::Failed(failure)),
                None => state
                    .per_step
                    .get_mut(&request.brief.step)
                    .and_then(VecDeque::pop_front),
            }
        };
        let outcome = failure.unwrap_or_else(|| ModelOutcome::Call(builtin::answer(request)));
        ModelReply {
            outcome,
            usage: Usage {
                input_tokens: 100,
                output_tokens: 50,
                ..Usage::default()
            },
        }
    }
}
