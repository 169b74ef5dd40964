//! `periodize mock-llm`: a local LLM server on 127.0.0.1 that speaks the Anthropic, OpenAI,
//! Gemini and Ollama wire protocols at their real paths and answers every request with the
//! built-in coach's forced tool call, with optional latency and deterministic fault injection.
//! It lets tests, benchmarks and the crash harness exercise the real HTTP clients with no
//! account and no network.
//!
//! How a request is answered: the route picks the protocol (`protocols.rs`), which checks the
//! request like the real API would (one tool, forced; call/result pairing; …) and extracts the
//! first user prompt; the brief header (`brief.rs`) gives what the coach computes the arguments
//! from; `cache.rs` reports which part of the prompt a vendor's cache would serve. `faults.rs` decides, from (seed, step, n), whether this
//! request misbehaves and how. `server.rs` is the hyper plumbing, the stats and the waits.
//!
//! Counters and the request log are exposed as `MockServer::stats` and at `GET /__mock/stats`.

mod brief;
mod cache;
mod faults;
mod protocols;
mod rate_limit;
mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

pub use faults::{FaultKind, Quirk};
pub use rate_limit::RateLimitConfig;

/// How the mock behaves. `Default` answers at once and never faults.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Fixed latency per answered model request.
    pub latency_ms: u64,
    /// Extra latency, uniform in 0..=jitter, derived from the seed and the request.
    pub latency_jitter_ms: u64,
    /// Probability that a request faults, 0.0..=1.0.
    pub fault_rate: f64,
    pub fault_seed: u64,
    /// Enabled fault kinds; empty means all.
    pub faults: Vec<FaultKind>,
    /// The `retry-after` value (seconds) of 429 and overloaded responses.
    pub retry_after_s: u64,
    /// How long a `timeout` fault holds the request before answering normally.
    pub timeout_hold_ms: u64,
    /// Only the first this-many requests of each step may fault (0: any request may). With
    /// rate 1.0 and 1, every step fails once and then succeeds: the repair and retry paths,
    /// exactly once each.
    pub fault_only_first_n: u64,
    /// At most this many model requests in a sliding window, like a vendor's or a proxy's
    /// limit (`None`: no limit).
    pub rate_limit: Option<RateLimitConfig>,
    /// Ways of real servers to model on every request (see `Quirk`).
    pub quirks: Vec<Quirk>,
    /// The model's context window in the mock's tokens (0: none): a request whose input is
    /// larger is answered with the vendor's context-length error.
    pub context_window_tokens: u64,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            latency_ms: 0,
            latency_jitter_ms: 0,
            fault_rate: 0.0,
            fault_seed: 0,
            faults: Vec::new(),
            retry_after_s: 1,
            timeout_hold_ms: 120_000,
            fault_only_first_n: 0,
            rate_limit: None,
            quirks: Vec::new(),
            context_window_tokens: 0,
        }
    }
}

/// A snapshot of what the server has seen.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MockStats {
    /// Every request except the stats endpoint, by URL path (never the query, which may hold a
    /// Gemini `?key=`).
    pub requests_by_path: BTreeMap<String, u64>,
    /// Model requests with a readable brief, by step: "overview", "week 3".
    pub requests_by_step: BTreeMap<String, u64>,
    /// Injected faults by kind name.
    pub faults_by_kind: BTreeMap<String, u64>,
    /// One entry per request in `seq` order; the oldest are dropped past a bound (see server.rs).
    pub log: Vec<RequestLogEntry>,
}

/// One request as the server saw it. Logged when its answer is decided, before any latency.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RequestLogEntry {
    /// 1-based arrival order across the whole server.
    pub seq: u64,
    /// "anthropic", "openai", "gemini", "ollama", or "none" for unknown paths.
    pub protocol: String,
    pub path: String,
    /// "overview", "week 3", or "" when the request was refused before its brief was read.
    pub step: String,
    pub repair_turns: usize,
    /// The output cap the mock read from the request; `None` when it found none it reads (a
    /// real server would then generate until its context ends).
    pub max_output_tokens: Option<u64>,
    /// Whether the request carried a key header; the value is never read or kept.
    pub credentials: bool,
    pub fault: Option<String>,
    /// The HTTP status sent; 0 when the connection was dropped without a response.
    pub status: u16,
    /// Every prompt token, cached or not.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of `input_tokens`, those read from the prompt cache, and those written to it.
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

/// A running mock server. Dropping it stops the server as well; `shutdown` also waits.
pub struct MockServer {
    pub addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Binds 127.0.0.1:`port` (0 picks a free port) and spawns the accept loop on the current
    /// tokio runtime.
    pub async fn start(config: MockConfig, port: u16) -> std::io::Result<MockServer> {
        let (addr, shared, stop, task) = server::start(config, port).await?;
        Ok(MockServer {
            addr,
            shared,
            stop,
            task,
        })
    }

    /// The base URL clients use: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> MockStats {
        self.shared.snapshot()
    }

    /// Stops accepting, aborts open connections (including requests held by a `timeout`
    /// fault) and waits for the server task to end.
    pub async fn shutdown(self) {
        // The receiver is gone only if the task already ended; either way it is stopping.
        let _ = self.stop.send(());
        // A JoinError means the task panicked or was cancelled: it is over all the same.
        let _ = self.task.await;
    }
}
