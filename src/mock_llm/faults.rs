//! The mock server's misbehaviour: fault kinds, the per-step fault decision, latency jitter and
//! id generation, all derived from a seeded hash so a run can be replayed exactly; and the
//! quirks of real servers it models on every request.
//!
//! Every decision is a pure function of (seed, step key, n), where n counts the requests seen
//! so far for that step. Concurrency can reorder requests of different steps, but the engine
//! has at most one request in flight per step, so each step's sequence of faults is the same
//! on every run with the same seed.

use super::protocols::Protocol;
use super::MockConfig;

/// A way the mock can misbehave on purpose, from the transport up to the tool arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 with `retry-after`.
    RateLimit,
    /// 500.
    ServerError,
    /// 529 (Anthropic) or 503 (the others).
    Overloaded,
    /// Holds the request for `timeout_hold_ms`, then answers normally.
    Timeout,
    /// Closes the connection without a response.
    Drop,
    /// 200 with text only.
    NoToolCall,
    /// One call of a tool that was not offered.
    WrongTool,
    /// Two calls in one response.
    ParallelCalls,
    /// Arguments that are not JSON.
    InvalidJson,
    /// Cut by the output limit: `max_tokens` / `length` / `MAX_TOKENS` with a partial call.
    Truncated,
    /// A well-formed call whose arguments break the validation rules.
    InvalidArgs,
}

impl FaultKind {
    pub const ALL: [FaultKind; 11] = [
        FaultKind::RateLimit,
        FaultKind::ServerError,
        FaultKind::Overloaded,
        FaultKind::Timeout,
        FaultKind::Drop,
        FaultKind::NoToolCall,
        FaultKind::WrongTool,
        FaultKind::ParallelCalls,
        FaultKind::InvalidJson,
        FaultKind::Truncated,
        FaultKind::InvalidArgs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RateLimit => "rate-limit",
            FaultKind::ServerError => "server-error",
            FaultKind::Overloaded => "overloaded",
            FaultKind::Timeout => "timeout",
            FaultKind::Drop => "drop",
            FaultKind::NoToolCall => "no-tool-call",
            FaultKind::WrongTool => "wrong-tool",
            FaultKind::ParallelCalls => "parallel-calls",
            FaultKind::InvalidJson => "invalid-json",
            FaultKind::Truncated => "truncated",
            FaultKind::InvalidArgs => "invalid-args",
        }
    }

    /// Parses a name as `name` prints it.
    pub fn parse(text: &str) -> Option<FaultKind> {
        by_name(&FaultKind::ALL, FaultKind::name, text)
    }

    /// Faults that happen before any model would run: answered at once, without latency.
    pub(crate) fn is_transport(self) -> bool {
        matches!(
            self,
            FaultKind::RateLimit | FaultKind::ServerError | FaultKind::Overloaded | FaultKind::Drop
        )
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A way a real server differs from its vendor's API, modelled on every request (not by chance):
/// what local OpenAI-compatible servers and their chat templates do. Each applies on the
/// endpoints `applies_to` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// Reads the output cap only from `max_tokens`, ignoring `max_completion_tokens` (Ollama's
    /// `/v1`, llama.cpp before 2026-02, LM Studio).
    MaxTokensOnly,
    /// Reads `tool_choice` only as a string (llama.cpp): the object form falls back to "auto",
    /// the tool becomes optional, and the model answers prose.
    StringToolChoice,
    /// The chat template has no tool support (llama.cpp without `--jinja`): `tools` are dropped
    /// without an error and the model answers prose.
    ToolsDropped,
    /// The model writes its call as `<tool_call>{"name": …, "arguments": …}</tool_call>` in the
    /// message text after a line of prose, and the server leaves it there (Hermes and Qwen
    /// templates the server does not parse).
    ToolCallInContent,
    /// Serves only the OpenAI-compatible paths, as llama-server and vLLM do: any other model
    /// path (`/api/chat`, `/v1/messages`, Gemini's) is a 404 "File Not Found".
    OpenAiPathsOnly,
}

impl Quirk {
    pub const ALL: [Quirk; 5] = [
        Quirk::MaxTokensOnly,
        Quirk::StringToolChoice,
        Quirk::ToolsDropped,
        Quirk::ToolCallInContent,
        Quirk::OpenAiPathsOnly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Quirk::MaxTokensOnly => "max-tokens-only",
            Quirk::StringToolChoice => "string-tool-choice",
            Quirk::ToolsDropped => "tools-dropped",
            Quirk::ToolCallInContent => "tool-call-in-content",
            Quirk::OpenAiPathsOnly => "openai-paths-only",
        }
    }

    /// Parses a name as `name` prints it.
    pub fn parse(text: &str) -> Option<Quirk> {
        by_name(&Quirk::ALL, Quirk::name, text)
    }

    /// The endpoints that behave so: the OpenAI-compatible one, and for calls left in the text
    /// Ollama's too (its parsers miss some templates' calls the same way).
    pub(crate) fn applies_to(self, protocol: Protocol) -> bool {
        match self {
            Quirk::ToolCallInContent => matches!(protocol, Protocol::OpenAi | Protocol::Ollama),
            _ => protocol == Protocol::OpenAi,
        }
    }
}

/// Whether `quirks` has `quirk` on the endpoint of `protocol`.
pub(crate) fn has(quirks: &[Quirk], quirk: Quirk, protocol: Protocol) -> bool {
    quirks.contains(&quirk) && quirk.applies_to(protocol)
}

/// The item of `all` whose `name` is `text`; case and `_` for `-` are forgiven, since people
/// type these on a command line.
fn by_name<T: Copy>(all: &[T], name: fn(T) -> &'static str, text: &str) -> Option<T> {
    let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
    all.iter().copied().find(|item| name(*item) == wanted)
}

/// Separate streams of the same hash, so the fault decision, the kind and the jitter of one
/// request are independent of each other.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Fault = 1,
    Kind = 2,
    Jitter = 3,
    Ids = 4,
}

/// SplitMix64's finalizer: a full-avalanche 64-bit mix, so neighbouring inputs (n, n + 1)
/// give unrelated outputs.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of (seed, key, n, stream) that is stable across platforms, Rust versions and runs
/// (std's hashers promise none of that): FNV-1a over the key, then mixed with the numbers.
pub(crate) fn hash(seed: u64, key: &str, n: u64, stream: Stream) -> u64 {
    let mut fnv: u64 = 0xCBF2_9CE4_8422_2325;
    for byte in key.bytes() {
        fnv ^= u64::from(byte);
        fnv = fnv.wrapping_mul(0x0000_0100_0000_01B3);
    }
    let mut h = mix64(seed ^ mix64(stream as u64));
    h = mix64(h ^ fnv);
    mix64(h ^ n)
}

/// The fault, if any, for the `n`-th request (0-based) of the step `key`.
pub(crate) fn decide(config: &MockConfig, key: &str, n: u64) -> Option<FaultKind> {
    if config.fault_only_first_n > 0 && n >= config.fault_only_first_n {
        return None;
    }
    let rate = config.fault_rate;
    // NaN and rates at or below 0 never fault; at or above 1 always (u64::MAX / u64::MAX is
    // 1.0, which `< 1.0` would miss).
    if rate.is_nan() || rate <= 0.0 {
        return None;
    }
    if rate < 1.0 {
        let draw = hash(config.fault_seed, key, n, Stream::Fault) as f64 / u64::MAX as f64;
        if draw >= rate {
            return None;
        }
    }
    let kinds: &[FaultKind] = if config.faults.is_empty() {
        &FaultKind::ALL
    } else {
        &config.faults
    };
    let pick = hash(config.fault_seed, key, n, Stream::Kind) % kinds.len() as u64;
    // `pick < kinds.len()` by the modulo, and `kinds` is never empty (ALL has 11 entries).
    kinds.get(pick as usize).copied()
}

/// The extra latency, 0..=`latency_jitter_ms`, for the `n`-th request of `key`.
pub(crate) fn jitter_ms(config: &MockConfig, key: &str, n: u64) -> u64 {
    if config.latency_jitter_ms == 0 {
        return 0;
    }
    let span = config.latency_jitter_ms.saturating_add(1);
    hash(config.fault_seed, key, n, Stream::Jitter) % span
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `len` characters from `alphabet`, drawn from a hash chain seeded by `seed` and `seq`: ids
/// that look like the vendors' and never repeat within a server's life.
pub(crate) fn id_chars(
    seed: u64,
    seq: u64,
    salt: &str,
    alphabet: IdAlphabet,
    len: usize,
) -> String {
    let table: &[u8] = match alphabet {
        IdAlphabet::Base62 => BASE62,
        IdAlphabet::Base64 => BASE64,
        IdAlphabet::LowerHex => b"0123456789abcdef",
    };
    let mut state = hash(seed, salt, seq, Stream::Ids);
    (0..len)
        .map(|_| {
            state = mix64(state);
            // The index is below `table.len()` by the modulo.
            char::from(table[(state % table.len() as u64) as usize])
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum IdAlphabet {
    Base62,
    Base64,
    LowerHex,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rate: f64, faults: Vec<FaultKind>) -> MockConfig {
        MockConfig {
            fault_rate: rate,
            fault_seed: 7,
            faults,
            ..MockConfig::default()
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in FaultKind::ALL {
            assert_eq!(FaultKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(FaultKind::parse(" Rate_Limit "), Some(FaultKind::RateLimit));
        assert_eq!(FaultKind::parse("ratelimit"), None);
        for quirk in Quirk::ALL {
            assert_eq!(Quirk::parse(quirk.name()), Some(quirk));
        }
        assert_eq!(Quirk::parse("Tools_Dropped"), Some(Quirk::ToolsDropped));
    }

    #[test]
    fn the_hash_is_stable() {
        // Pinned: changing the hash would silently change every recorded fault schedule.
        assert_eq!(hash(0, "", 0, Stream::Fault), hash(0, "", 0, Stream::Fault));
        assert_ne!(
            hash(0, "week 1", 0, Stream::Fault),
            hash(0, "week 1", 1, Stream::Fault)
        );
        assert_ne!(
            hash(0, "week 1", 0, Stream::Fault),
            hash(0, "week 1", 0, Stream::Kind)
        );
        assert_ne!(
            hash(0, "week 1", 0, Stream::Fault),
            hash(1, "week 1", 0, Stream::Fault)
        );
    }

    #[test]
    fn rate_bounds() {
        for n in 0..200 {
            assert_eq!(decide(&config(0.0, vec![]), "overview", n), None);
            assert_eq!(decide(&config(f64::NAN, vec![]), "overview", n), None);
            assert_eq!(
                decide(&config(1.0, vec![FaultKind::Drop]), "overview", n),
                Some(FaultKind::Drop)
            );
        }
    }

    #[test]
    fn rate_is_roughly_honoured_and_every_kind_shows_up() {
        let cfg = config(0.3, vec![]);
        let mut faults = 0;
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..4000 {
            if let Some(kind) = decide(&cfg, "week 2", n) {
                faults += 1;
                seen.insert(kind.name());
            }
        }
        assert!((1000..1400).contains(&faults), "{faults}");
        assert_eq!(seen.len(), FaultKind::ALL.len());
    }

    #[test]
    fn jitter_stays_in_range() {
        let cfg = MockConfig {
            latency_jitter_ms: 5,
            ..MockConfig::default()
        };
        let values: std::collections::BTreeSet<u64> =
            (0..500).map(|n| jitter_ms(&cfg, "overview", n)).collect();
        assert_eq!(values, (0..=5).collect());
    }
}
