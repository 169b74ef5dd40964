//! Model providers: the only code that talks to a model, and the only users of reqwest (in
//! `http.rs`). Each call is one attempt; retry decisions belong to the workflow. A protocol
//! module is a pure pair, `encode` (our request to the provider's JSON) and `decode` (status,
//! headers and body to one tool call, a classified failure, or malformed output).

pub mod anthropic;
pub mod builtin;
pub mod gemini;
pub mod http;
pub mod limiter;
pub mod ollama;
pub mod openai;
pub mod redact;
pub mod resolve;
pub mod scripted;
pub mod secret;
mod text_call;

use crate::llm::{
    ModelFailure, ModelOutcome, ModelReply, PriorReply, StepBrief, StepId, ToolRequest, Usage,
};
use crate::providers::http::{HeaderValue, HttpReply};
use crate::providers::secret::Secret;

/// The environment variable that makes HTTP providers send each request's brief in
/// `MOCK_BRIEF_HEADER`, for `periodize mock-llm`. The test harnesses set it; nothing else does,
/// so a real vendor never sees (or bills) the brief.
pub const MOCK_BRIEF_ENV: &str = "PERIODIZE_MOCK_BRIEF";
/// The request header carrying the brief: one line of ASCII JSON (`mock_brief`).
pub const MOCK_BRIEF_HEADER: &str = "x-periodize-brief";

/// What the mock model needs to answer a step, as one line of JSON with every non-ASCII
/// character escaped (a header value must be visible ASCII): the step, the plan length, the
/// canonical profile and the rules. The mock recomputes the overview from these with the
/// built-in coach, so the brief stays small at any plan length.
pub fn mock_brief(brief: &StepBrief) -> String {
    let mut object = serde_json::json!({
        "step": match brief.step {
            StepId::Overview => "overview",
            StepId::Week(_) => "week",
        },
        "total_weeks": brief.total_weeks,
        "profile": crate::domain::profile::canonical_json(&brief.profile),
        "rules": serde_json::to_value(&brief.rules).unwrap_or(serde_json::Value::Null),
    });
    if let StepId::Week(week) = brief.step {
        object["week_number"] = serde_json::Value::from(week);
    }
    if let Some(event) = brief.event {
        object["event_day"] = serde_json::json!({
            "date": event.date.to_string(),
            "week": event.week,
            "weekday": event.weekday.name(),
        });
    }
    ascii_json(&object.to_string())
}

/// JSON text with every non-ASCII character written as `\uXXXX` escapes (UTF-16, as JSON
/// spells characters outside the basic plane); non-ASCII only occurs inside strings.
fn ascii_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_ascii() {
            out.push(character);
        } else {
            let mut units = [0u16; 2];
            for unit in character.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

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

/// Why a reply cut by the output token limit is refused, in words the model can act on: a cut
/// call needs shorter text; a reply with no call at all spent the budget on prose.
pub(crate) fn cut_off_message(tool_name: &str, detail: &str, had_call: bool) -> String {
    if had_call {
        format!(
            "the reply was cut off by the token limit ({detail}) before the call of {tool_name} was complete; give shorter text fields"
        )
    } else {
        format!(
            "the reply was cut off by the token limit ({detail}) and no call of {tool_name} was made; call {tool_name} at once, with no text before the call"
        )
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

/// Error codes and types that say a request is over the context window: OpenAI's code, and
/// llama.cpp's type.
const CONTEXT_LENGTH_LABELS: &[&str] = &["context_length_exceeded", "exceed_context_size_error"];
/// What a 400 or 413 says when the request is over the context window, in lowercase: OpenAI
/// and vLLM ("maximum context length"), llama.cpp ("the available context size"), Anthropic
/// ("prompt is too long"), Gemini ("exceeds the maximum number of tokens allowed"), and other
/// compatible servers.
const CONTEXT_LENGTH_PHRASES: &[&str] = &[
    "context length",
    "context window",
    "context size",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "exceeds the maximum number of tokens",
];

/// Whether an error reply says the request does not fit the model's context window: one of
/// `labels` (the body's error code and type) is a context code, or a 400 or 413 `message`
/// names the context. Used by every decoder, so every server's wording counts everywhere.
pub(crate) fn is_context_length(status: u16, labels: &[&str], message: &str) -> bool {
    if labels
        .iter()
        .any(|label| CONTEXT_LENGTH_LABELS.contains(label))
    {
        return true;
    }
    let message = message.to_ascii_lowercase();
    matches!(status, 400 | 413)
        && CONTEXT_LENGTH_PHRASES
            .iter()
            .any(|phrase| message.contains(phrase))
}

/// What a 404 that is not about the model says to check: the URL was wrong for the server,
/// or the server speaks another protocol (`--provider ollama` against llama-server).
pub const WRONG_ENDPOINT_HINT: &str =
    "check --base-url and --provider (the protocol the server speaks)";

/// A fatal 404 whose message does not name `model` (so the server has no such path, rather than
/// no such model) says which URL was asked and what to check.
fn endpoint_not_found(mut reply: ModelReply, status: u16, url: &str, model: &str) -> ModelReply {
    if let ModelOutcome::Failed(ModelFailure::Fatal { message }) = &mut reply.outcome {
        if status == 404 && !names(message, model) {
            message.push_str(&format!(
                "; POST {url} was not found: {WRONG_ENDPOINT_HINT}"
            ));
        }
    }
    reply
}

/// Whether `text` holds `name` as a word of its own (not inside a longer name): a model
/// named in `model "x" not found`, ``The model `x` does not exist``, `models/x is not found`.
fn names(text: &str, name: &str) -> bool {
    let part_of_a_name = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
    !name.is_empty()
        && text.match_indices(name).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            !before.is_some_and(part_of_a_name) && !after.is_some_and(part_of_a_name)
        })
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

    /// The rate limits of the vendor's lowest paid tier for its default model, as published
    /// in 2026-11 (Anthropic tier 1: 50 requests and 30,000 input tokens a minute; OpenAI tier
    /// 1: 500 and 30,000; Gemini tier 1: 1,000 and 1,000,000); Ollama has none.
    pub fn default_limits(self) -> limiter::Limits {
        let (max_rpm, max_tpm) = match self {
            Protocol::Anthropic => (50, 30_000),
            Protocol::OpenAi => (500, 30_000),
            Protocol::Gemini => (1_000, 1_000_000),
            Protocol::Ollama => return limiter::Limits::default(),
        };
        limiter::Limits {
            max_rpm: Some(max_rpm),
            max_tpm: Some(max_tpm),
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

    /// The body of `request` for `model` at `base_url` (which tells OpenAI's own API from a
    /// compatible server).
    pub fn encode(self, request: &ToolRequest, model: &str, base_url: &str) -> serde_json::Value {
        match self {
            Protocol::Anthropic => anthropic::encode(request, model),
            Protocol::OpenAi => openai::encode(request, model, base_url),
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
    pub client: http::Client,
    pub base_url: String,
    pub model: String,
    pub key: Option<Secret>,
    /// Send each request's brief in `MOCK_BRIEF_HEADER` (only with `MOCK_BRIEF_ENV=1`).
    pub mock_brief: bool,
    /// The endpoint's limiter, shared with every other run of the process that uses it.
    pub limiter: std::sync::Arc<limiter::Limiter>,
    /// The model's price, when the price table names it.
    pub price: Option<crate::pricing::Price>,
    /// The server's context window in tokens, as the user stated it (`--context-tokens`);
    /// `None`: unknown, requests go as they are.
    pub context_tokens: Option<u64>,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("protocol", &self.protocol)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("key", &self.key)
            .field("mock_brief", &self.mock_brief)
            .field("limits", &self.limiter.limits())
            .field("context_tokens", &self.context_tokens)
            .finish()
    }
}

impl HttpProvider {
    /// One attempt: encode, one POST, decode. Transport failures are transient, except a
    /// redirect, which is fatal. Every reply
    /// is redacted here, the one exit of the HTTP providers, before anything keeps or shows it.
    pub async fn call(&self, request: &ToolRequest) -> ModelReply {
        let url = self.protocol.endpoint(&self.base_url, &self.model);
        let mut headers = self.protocol.headers(self.key.as_ref());
        if self.mock_brief {
            headers.push((
                MOCK_BRIEF_HEADER,
                HeaderValue::Plain(mock_brief(&request.brief)),
            ));
        }
        let encode = |request: &ToolRequest| {
            let body = self.protocol.encode(request, &self.model, &self.base_url);
            serde_json::to_vec(&body).expect("a JSON value always serializes")
        };
        let bytes = match fit_to_window(request, self.context_tokens, encode) {
            Ok(bytes) => bytes,
            Err(message) => {
                return failed(ModelFailure::Fatal { message }, Usage::default());
            }
        };
        // Its turn comes after the request is committed as in flight, so a wait here is a
        // wait of the request, never of the store.
        let turn = self.limiter.acquire(estimated_tokens(bytes.len())).await;
        let reply = match http::post_json(&self.client, &url, &headers, bytes).await {
            Ok(reply) => {
                let now_wall_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
                self.limiter.observe(&reply, now_wall_ms);
                let decoded = endpoint_not_found(
                    self.protocol.decode(&reply, request.tool.name),
                    reply.status,
                    &url,
                    &self.model,
                );
                if decoded.usage.input_tokens > 0 {
                    self.limiter.settle(turn, decoded.usage.input_tokens);
                }
                decoded
            }
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

/// The body of `request` (as `encode` writes it) that fits a context window of `window`
/// tokens: the input estimated from the body's bytes (`estimated_tokens`) plus the output cap.
/// A request that does not fit drops its oldest repair turns first (the step keeps them; only
/// this request goes without); one that does not fit without any is refused unsent, with a
/// message naming `--context-tokens` and the estimate. No window: the body as it is.
pub(crate) fn fit_to_window(
    request: &ToolRequest,
    window: Option<u64>,
    encode: impl Fn(&ToolRequest) -> Vec<u8>,
) -> Result<Vec<u8>, String> {
    let bytes = encode(request);
    let Some(window) = window else {
        return Ok(bytes);
    };
    let output = u64::from(request.max_output_tokens);
    let needed = |bytes: &[u8]| estimated_tokens(bytes.len()).saturating_add(output);
    if needed(&bytes) <= window {
        return Ok(bytes);
    }
    let mut shorter = request.clone();
    while !shorter.repair_turns.is_empty() {
        shorter.repair_turns.remove(0);
        let bytes = encode(&shorter);
        if needed(&bytes) <= window {
            tracing::info!(
                dropped = request.repair_turns.len() - shorter.repair_turns.len(),
                window,
                "the oldest repair turns were left out to fit --context-tokens"
            );
            return Ok(bytes);
        }
    }
    let input = estimated_tokens(encode(&shorter).len());
    Err(format!(
        "the request needs about {} tokens ({input} of input, estimated at {BYTES_PER_TOKEN_ESTIMATE} bytes a token, and {output} of output) even without repair turns, more than --context-tokens {window}; it was not sent: give the server a larger context window and raise --context-tokens to it",
        input.saturating_add(output)
    ))
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

    /// What the model's tokens cost: free for the built-in coach, `None` when unknown.
    pub fn price(&self) -> Option<crate::pricing::Price> {
        match self {
            Provider::Builtin(_) => Some(crate::pricing::Price::FREE),
            Provider::Http(http) => http.price,
            Provider::Scripted(_) => None,
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
    fn a_404_about_the_path_names_the_url_and_one_about_the_model_does_not() {
        let fatal = |message: &str| {
            failed(
                ModelFailure::Fatal {
                    message: message.into(),
                },
                Usage::default(),
            )
        };
        let shown = |reply: ModelReply| match reply.outcome {
            ModelOutcome::Failed(ModelFailure::Fatal { message }) => message,
            other => panic!("{other:?}"),
        };
        let url = "http://127.0.0.1:8080/api/chat";
        assert_eq!(
            shown(endpoint_not_found(
                fatal("ollama 404: 404 page not found"),
                404,
                url,
                "qwen2.5:7b"
            )),
            format!(
                "ollama 404: 404 page not found; POST {url} was not found: {WRONG_ENDPOINT_HINT}"
            )
        );
        for about_the_model in [
            "ollama 404: model \"qwen2.5:7b\" not found, try pulling it first",
            "openai 404 model_not_found: The model `qwen2.5:7b` does not exist",
            "gemini 404 NOT_FOUND: models/qwen2.5:7b is not found for API version v1beta",
        ] {
            assert_eq!(
                shown(endpoint_not_found(
                    fatal(about_the_model),
                    404,
                    url,
                    "qwen2.5:7b"
                )),
                about_the_model
            );
        }
        assert_eq!(
            shown(endpoint_not_found(fatal("openai 400: bad"), 400, url, "m")),
            "openai 400: bad",
            "only a 404"
        );
        assert!(
            !names("no mock endpoint", "m"),
            "a name inside a word is not the name"
        );
    }

    #[test]
    fn context_errors_are_known_by_code_type_or_wording() {
        assert!(is_context_length(
            400,
            &["context_length_exceeded", "invalid_request_error"],
            "x"
        ));
        assert!(is_context_length(
            400,
            &["", "exceed_context_size_error"],
            "x"
        ));
        for message in [
            "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.",
            "prompt is too long: 210000 tokens > 200000 maximum",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            "the request exceeds the available context size, try increasing it",
            "Trying to keep the first 9000 tokens when context window is 8192",
        ] {
            assert!(is_context_length(400, &[], message), "{message}");
            assert!(is_context_length(413, &[], message), "{message}");
            assert!(!is_context_length(500, &[], message), "{message}");
        }
        assert!(!is_context_length(
            400,
            &["invalid_request_error"],
            "messages: bad role"
        ));
        assert!(!is_context_length(
            413,
            &["request_too_large"],
            "Request exceeds the maximum allowed number of bytes"
        ));
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
