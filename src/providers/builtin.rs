//! The built-in coach as a provider: answers both tools with the rule-based coach, with no key
//! and no network. An optional latency per request lets operators rehearse crash recovery and
//! benchmarks offline.

use std::time::Duration;

use crate::coach;
use crate::llm::{ModelOutcome, ModelReply, StepId, ToolCall, ToolRequest, Usage};
use crate::tools;

pub const MODEL: &str = "periodize-coach-1";

#[derive(Debug, Clone, Default)]
pub struct BuiltinCoach {
    /// Simulated model latency per request.
    pub latency_ms: u64,
}

impl BuiltinCoach {
    pub async fn call(&self, request: &ToolRequest) -> ModelReply {
        if self.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.latency_ms)).await;
        }
        ModelReply {
            outcome: ModelOutcome::Call(answer(request)),
            usage: Usage::default(),
        }
    }
}

/// The coach's tool call for a request. Pure.
pub fn answer(request: &ToolRequest) -> ToolCall {
    let brief = &request.brief;
    let (name, arguments) = match brief.step {
        StepId::Overview => {
            let overview = coach::create_plan_overview(
                &brief.profile,
                brief.total_weeks,
                brief.event,
                &brief.rules,
            );
            (
                tools::CREATE_PLAN_OVERVIEW,
                serde_json::to_string(&overview),
            )
        }
        StepId::Week(week) => {
            let overview = brief
                .overview
                .as_ref()
                .expect("week requests carry the accepted overview");
            let details =
                coach::add_week_details(&brief.profile, overview, week, brief.event, &brief.rules);
            (tools::ADD_WEEK_DETAILS, serde_json::to_string(&details))
        }
    };
    ToolCall {
        id: format!("builtin-{}", brief.step).replace(' ', "-"),
        name: name.to_string(),
        arguments: arguments.expect("plan types always serialize to JSON"),
        signature: None,
    }
}
