//! Model providers: the only code that talks to a model. Each turns a `ToolRequest` into a
//! `ModelReply` with one attempt; retry decisions belong to the workflow, not here.

pub mod builtin;

use crate::llm::{ModelReply, ToolRequest};

/// The configured model provider of a run.
#[derive(Debug, Clone)]
pub enum Provider {
    Builtin(builtin::BuiltinCoach),
}

impl Provider {
    /// The name recorded in the run and the plan file.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Builtin(_) => "builtin",
        }
    }

    pub fn model(&self) -> String {
        match self {
            Provider::Builtin(_) => builtin::MODEL.to_string(),
        }
    }

    /// One attempt at a request.
    pub async fn call(&self, request: &ToolRequest) -> ModelReply {
        match self {
            Provider::Builtin(coach) => coach.call(request).await,
        }
    }
}
