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
    calls: BTreeMap<StepId, u32>,
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
            state.next_failures.pop_front()
        };
        let outcome = match failure {
            Some(failure) => ModelOutcome::Failed(failure),
            None => ModelOutcome::Call(builtin::answer(request)),
        };
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
