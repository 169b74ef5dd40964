//! Model providers: the only code that talks to a model, and the only users of reqwest (in
//! `http.rs`). Each call is one attempt; retry decisions belong to the workflow. A protocol
//! module is a pure pair, `encode` (our request to the provider's JSON) and `decode` (status,
//! headers and body to one tool call, a classified failure, or malformed output).

pub mod anthropic;
pub mod builtin;
pub mod gemini;
pub mod http;
pub mod ollama;
pub mod openai;
pub mod redact;
pub mod resolve;
pub mod scripted;
pub mod secret;

use crate::llm::{ModelFailure, ModelOutcome, ModelReply, PriorReply, ToolRequest, Usage};
use crate::providers::http::{HeaderValue, HttpReply};
use crate::providers::secret::Secret;

/// A short, single-line quote of a body that is not the JSON a provider promised, for error
/// messages: whitespace collapsed, at most 200 characters.
pub(crate) fn excerpt(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "an empty body".to_string();
    }
    let head: String = flat.chars().take(200).collect();
    if head.len() < flat.len() {
        format!("{head}...")
    } else {
        head
    }
}

/// The most tokens one count of one request may believably say: ten times the largest
/// context window offered today. A count beyond it is a broken server, and believing it would
/// overflow a run total or spend a whole `--max-tokens` budget at once.
pub const MAX_TOKENS_PER_REQUEST: u64 = 10_000_000;
/// Bytes per token of the estimate that replaces a count that cannot be true: about four for
/// English text and JSON with every tokenizer in use.
pub const BYTES_PER_TOKEN_ESTIMATE: u64 = 4;

/// The tokens `bytes` of text are estimated to be: never 0 for a nonzero text.
pub(crate) fn estimated_tokens(bytes: usize) -> u64 {
    u64::try_from(bytes)
        .unwrap_or(u64::MAX)
        .div_ceil(BYTES_PER_TOKEN_ESTIMATE)
}

/// The estimates of the input side (the request body) and the output side (the reply body)
/// of `reply`, for the counts it reports wrongly.
pub(crate) fn usage_estimates(reply: &HttpReply) -> (u64, u64) {
    (
        estimated_tokens(reply.request_bytes),
        estimated_tokens(reply.body.len()),
    )
}

/// One token count a provider reported, checked: absent (or null) is 0, as every provider
/// omits counts that are zero; a whole number up to `MAX_TOKENS_PER_REQUEST`, written as an
/// integer, a float with no fraction or a numeric string (proto3 JSON writes int64 so), is
/// the count. Anything else (negative, fractional, not a number, absurd) is reported and
/// replaced by `estimate`, so a count never wraps a total and never makes a request free.
pub(crate) fn token_count(value: Option<&serde_json::Value>, field: &str, estimate: u64) -> u64 {
    use serde_json::Value;
    let count = match value {
        None | Some(Value::Null) => return 0,
        Some(Value::Number(number)) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|count| count.fract() == 0.0 && (0.0..=1e15).contains(count))
                // Whole and far below 2^53: exact.
                .map(|count| count as u64)
        }),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match count {
        Some(count) if count <= MAX_TOKENS_PER_REQUEST => count,
        _ => {
            tracing::warn!(
                field,
                reported = %excerpt(value.map(ToString::to_string).unwrap_or_default().as_bytes()),
                estimate,
                "the provider reported an impossible token count; using an estimate"
            );
            estimate
        }
    }
}

/// A transient failure with the server's wait hint, if any.
pub(crate) fn transient(message: String, retry_after_ms: Option<u64>) -> ModelFailure {
    ModelFailure::Transient {
        message,
        retry_after_ms,
    }
}

/// A reply that is malformed output, with the refused answer to send back in a repair turn.
pub(crate) fn malformed(message: String, reply: PriorReply, usage: Usage) -> ModelReply {
    failed(ModelFailure::Malformed { message, reply }, usage)
}

/// A reply that failed, with what it cost.
pub(crate) fn failed(failure: ModelFailure, usage: Usage) -> ModelReply {
    ModelReply {
        outcome: ModelOutcome::Failed(failure),
        usage,
    }
}

/// The wire protocols periodize speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Anthropic,
    OpenAi,
    Gemini,
    Ollama,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Anthropic => "anthropic",
            Protocol::OpenAi => "openai",
            Protocol::Gemini => "gemini",
            Protocol::Ollama => "ollama",
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            Protocol::Anthropic => anthropic::DEFAULT_BASE_URL,
            Protocol::OpenAi => openai::DEFAULT_BASE_URL,
            Protocol::Gemini => gemini::DEFAULT_BASE_URL,
            Protocol::Ollama => ollama::DEFAULT_BASE_URL,
        }
    }

    pub fn default_model(self) -> &'static str {
        match self {
            Protocol::Anthropic => anthropic::DEFAULT_MODEL,
            Protocol::OpenAi => openai::DEFAULT_MODEL,
            Protocol::Gemini => gemini::DEFAULT_MODEL,
            Protocol::Ollama => ollama::DEFAULT_MODEL,
        }
    }

    /// The environment variable holding the key; Ollama needs none.
    pub fn key_variable(self) -> Option<&'static str> {
        match self {
            Protocol::Anthropic => Some("ANTHROPIC_API_KEY"),
            Protocol::OpenAi => Some("OPENAI_API_KEY"),
            Protocol::Gemini => Some("GEMINI_API_KEY"),
            Protocol::Ollama => None,
        }
    }

    pub fn endpoint(self, base_url: &str, model: &str) -> String {
        match self {
            Protocol::Anthropic => anthropic::endpoint(base_url, model),
            Protocol::OpenAi => openai::endpoint(base_url, model),
            Protocol::Gemini => gemini::endpoint(base_url, model),
            Protocol::Ollama => ollama::endpoint(base_url, model),
        }
    }

    pub fn headers(self, key: Option<&Secret>) -> Vec<(&'static str, HeaderValue)> {
        match self {
            Protocol::Anthropic => anthropic::headers(key),
            Protocol::OpenAi => openai::headers(key),
            Protocol::Gemini => gemini::headers(key),
            Protocol::Ollama => ollama::headers(key),
        }
    }

    pub fn encode(self, request: &ToolRequest, model: &str) -> serde_json::Value {
        match self {
            Protocol::Anthropic => anthropic::encode(request, model),
            Protocol::OpenAi => openai::encode(request, model),
            Protocol::Gemini => gemini::encode(request, model),
            Protocol::Ollama => ollama::encode(request, model),
        }
    }

    pub fn decode(self, reply: &HttpReply, tool_name: &str) -> ModelReply {
        match self {
            Protocol::Anthropic => anthropic::decode(reply, tool_name),
            Protocol::OpenAi => openai::decode(reply, tool_name),
            Protocol::Gemini => gemini::decode(reply, tool_name),
            Protocol::Ollama => ollama::decode(reply, tool_name),
        }
    }
}

/// A provider reached over HTTP.
#[derive(Clone)]
pub struct HttpProvider {
    pub protocol: Protocol,
    pub client: reqwest::Client,
    pub base_url: String,
    pub model: String,
    pub key: Option<Secret>,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("protocol", &self.protocol)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("key", &self.key)
            .finish()
    }
}

impl HttpProvider {
    /// One attempt: encode, one POST, decode. Transport failures are transient, except a
    /// redirect, which is fatal. Every reply
    /// is redacted here, the one exit of the HTTP providers, before anything keeps or shows it.
    pub async fn call(&self, request: &ToolRequest) -> ModelReply {
        let url = self.protocol.endpoint(&self.base_url, &self.model);
        let headers = self.protocol.headers(self.key.as_ref());
        let body = self.protocol.encode(request, &self.model);
        let reply = match http::post_json(&self.client, &url, &headers, &body).await {
            Ok(reply) => self.protocol.decode(&reply, request.tool.name),
            Err(failure) => {
                let message = format!("{}: {failure}", self.protocol.name());
                let failure = if failure.is_fatal() {
                    ModelFailure::Fatal { message }
                } else {
                    transient(message, None)
                };
                failed(failure, Usage::default())
            }
        };
        redact::reply(reply, self.key.as_ref())
    }
}

/// The configured model provider of a run.
#[derive(Debug, Clone)]
pub enum Provider {
    Builtin(builtin::BuiltinCoach),
    Http(HttpProvider),
    /// Tests of the engine only.
    Scripted(scripted::Scripted),
}

impl Provider {
    /// The name recorded in the run and the plan file.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Builtin(_) => "builtin",
            Provider::Http(http) => http.protocol.name(),
            Provider::Scripted(_) => "scripted",
        }
    }

    pub fn model(&self) -> String {
        match self {
            Provider::Builtin(_) => builtin::MODEL.to_string(),
            Provider::Http(http) => http.model.clone(),
            Provider::Scripted(_) => "script".to_string(),
        }
    }

    /// One attempt at a request.
    pub async fn call(&self, request: &ToolRequest) -> ModelReply {
        match self {
            Provider::Builtin(coach) => coach.call(request).await,
            Provider::Http(http) => http.call(request).await,
            Provider::Scripted(script) => script.call(request).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn believable_counts_are_kept_and_absent_ones_are_zero() {
        for (value, count) in [
            (json!(120), 120),
            (json!(0), 0),
            (json!(64.0), 64),
            (json!("2048"), 2048),
            (json!(MAX_TOKENS_PER_REQUEST), MAX_TOKENS_PER_REQUEST),
            (json!(null), 0),
        ] {
            assert_eq!(token_count(Some(&value), "f", 7), count, "{value}");
        }
        assert_eq!(token_count(None, "f", 7), 0);
    }

    #[test]
    fn impossible_counts_become_the_estimate() {
        for value in [
            json!(u64::MAX),
            json!(MAX_TOKENS_PER_REQUEST + 1),
            json!(-5),
            json!(1.5),
            json!(1e300),
            json!("lots"),
            json!("-3"),
            json!(true),
            json!({"n": 1}),
        ] {
            assert_eq!(token_count(Some(&value), "f", 7), 7, "{value}");
        }
    }

    #[test]
    fn estimates_are_a_quarter_of_the_bytes_and_never_zero_for_text() {
        assert_eq!(estimated_tokens(0), 0);
        assert_eq!(estimated_tokens(1), 1);
        assert_eq!(estimated_tokens(4_000), 1_000);
        let reply = HttpReply {
            status: 200,
            headers: Vec::new(),
            body: vec![b' '; 41],
            request_bytes: 8_002,
        };
        assert_eq!(usage_estimates(&reply), (2_001, 11));
    }
}
