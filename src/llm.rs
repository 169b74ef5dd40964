//! The provider boundary, provider-neutral and pure: a request that offers exactly one forced
//! tool, and a reply that is one tool call, a classified failure or malformed output, with the
//! token usage it cost. Every provider (the built-in coach, and HTTP clients) speaks this.

use serde::{Deserialize, Serialize};

use crate::domain::plan::PlanOverview;
use crate::domain::profile::AthleteProfile;
use crate::domain::validate::Rules;

/// The one tool a request offers, with its JSON Schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Shared: the same schema goes with every request for its tool.
    pub parameters: std::sync::Arc<serde_json::Value>,
}

/// Which step of the plan a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StepId {
    Overview,
    Week(u32),
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepId::Overview => f.write_str("overview"),
            StepId::Week(week) => write!(f, "week {week}"),
        }
    }
}

/// The structured facts behind a request's prompts. HTTP providers send only the rendered text;
/// the built-in coach reads these facts instead of parsing its own prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct StepBrief {
    pub step: StepId,
    pub profile: AthleteProfile,
    pub total_weeks: u32,
    /// The event day, when the plan ends on it.
    pub event: Option<crate::domain::event::EventDay>,
    pub rules: Rules,
    /// The accepted overview, for week steps (shared with the run, not copied per request).
    pub overview: Option<std::sync::Arc<PlanOverview>>,
}

/// One request to a model: system and user prompts, one forced tool, and the repair turns of
/// earlier failed attempts in the same conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    pub system: String,
    pub user: String,
    pub tool: ToolSpec,
    pub repair_turns: Vec<RepairTurn>,
    pub max_output_tokens: u32,
    pub brief: StepBrief,
    /// How many leading bytes of `user` are the same in every request of this step kind in the
    /// run (a line-break boundary; 0 for none): where a provider that is told where its prompt
    /// cache ends (Anthropic's `cache_control`) should put the mark.
    pub shared_prefix_bytes: usize,
}

/// An earlier answer that was refused, and the error the engine answered it with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairTurn {
    pub reply: PriorReply,
    pub feedback: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PriorReply {
    /// The model called a tool; it is answered with an error tool result.
    Call(ToolCall),
    /// The model answered without a usable call; it is answered with a user message.
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's call id, echoed in the tool result ("" when the provider has none).
    pub id: String,
    pub name: String,
    /// The arguments as raw JSON text: untrusted until parsed and validated.
    pub arguments: String,
    /// Opaque provider state that must be sent back unchanged with this call (Gemini's
    /// `thoughtSignature`); `None` for providers without one.
    pub signature: Option<String>,
}

/// Token usage of one request, with one meaning across providers: `input_tokens` counts every
/// prompt token, cached or not (Anthropic's `input_tokens + cache_read + cache_creation`,
/// OpenAI's `prompt_tokens`, Gemini's `promptTokenCount`); the cache fields say how many of
/// those were read from or written to a prompt cache. `output_tokens` includes reasoning or
/// thinking tokens where the provider reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

/// Sums saturate: counts come from providers, and a total that wrapped to a small number
/// would let a run spend past `--max-tokens` (providers check each count, this is the floor).
impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
    }

    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

/// What one model request produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReply {
    pub outcome: ModelOutcome,
    pub usage: Usage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelOutcome {
    Call(ToolCall),
    Failed(ModelFailure),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelFailure {
    /// Worth retrying after a wait: 429, 5xx, 529, timeouts, connection errors.
    Transient {
        message: String,
        retry_after_ms: Option<u64>,
    },
    /// Retrying cannot help: 400, 401, 403, 404, quota exhausted.
    Fatal { message: String },
    /// The request does not fit the model's context window, by the server's own word. A
    /// shorter conversation may: the step asks again at once without its repair turns; a
    /// request without any is a failed attempt.
    ContextLength { message: String },
    /// The model answered, but not with exactly one well-formed call of the offered tool.
    /// Never executed; it costs an attempt and is answered with a corrective message.
    Malformed { message: String, reply: PriorReply },
}
