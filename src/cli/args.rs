//! The command line as clap sees it: flags close to what the user typed, nothing resolved.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::validate::SPRINT_MAX_S;

#[derive(Debug, Parser)]
#[command(
    name = "periodize",
    version,
    about = "Durable, three-phase generation of periodized cycling training plans"
)]
pub struct Cli {
    /// Directory of the durable store.
    #[arg(long, global = true, default_value = "state", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// A database shared by a fleet of workers instead of --state-dir: postgres://USER@HOST/DB
    /// (also PERIODIZE_STORE).
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// Print machine-readable output: NDJSON events, JSON documents.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a new plan from an athlete profile (repeat --profile for a batch).
    Generate(GenerateArgs),
    /// Generate a plan for every profile of a directory or a JSONL manifest, as one durable batch.
    Batch(BatchArgs),
    /// One summary row per athlete of a batch.
    BatchReport(BatchReportArgs),
    /// Continue one unfinished run, or all of them.
    Resume(ResumeArgs),
    /// Work on the runs of a shared store (--store): claim unfinished ones, drive them, and
    /// pick up those whose worker died.
    Worker(WorkerArgs),
    /// Show the state of one run, of a batch, or of every run.
    Status(StatusArgs),
    /// List every run in the store (or of one batch).
    List(ListArgs),
    /// Show a run week by week (with --json: per-step attempts, timings and tokens).
    Show(ShowArgs),
    /// Validate a plan file (ours or the seed's format) against every rule.
    Validate(ValidateArgs),
    /// Export a plan (file or finished run) for Zwift, Garmin, calendars, intervals.icu, ERG
    /// trainers, and as a report.
    Export(ExportArgs),
    /// Serve a local mock LLM speaking the Anthropic, OpenAI, Gemini and Ollama protocols
    /// (in builds with the `mock-llm` feature only).
    #[cfg(feature = "mock-llm")]
    MockLlm(MockLlmArgs),
    /// Check a state directory and report every problem.
    Doctor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderName {
    Builtin,
    Anthropic,
    Openai,
    Gemini,
    Ollama,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FallbackArg {
    Builtin,
}

/// Per-run limits: the run stops cleanly before the request that would cross one.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// Model tokens (input + output) a run may spend.
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u64>,
    /// Model requests a run may make.
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Estimated spend in US dollars a run may reach, from the model's price (see --prices).
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
}

/// What a flush must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    /// A killed process: the default.
    Process,
    /// A power loss: also `fdatasync` the store after every flush (slower).
    Power,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TssCheckArg {
    Error,
    Warn,
    Off,
}

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model provider (generate: builtin; resume: the run's own).
    #[arg(long, value_enum)]
    pub provider: Option<ProviderName>,
    /// Model name (default: the provider's default; resume: the run's own).
    #[arg(long)]
    pub model: Option<String>,
    /// Provider base URL, e.g. an OpenAI-compatible server or `periodize mock-llm`.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Timeout to connect to the provider.
    #[arg(long, default_value_t = crate::providers::http::DEFAULT_CONNECT_TIMEOUT_MS, value_name = "MS")]
    pub connect_timeout_ms: u64,
    /// Silence timeout: a request fails when the server sends nothing for this long (0: no
    /// limit). A reply that is not streamed says nothing until the whole answer is generated,
    /// so this also bounds one answer's generation: raise it for a slow (CPU) server.
    #[arg(long, default_value_t = crate::providers::http::DEFAULT_READ_TIMEOUT_MS, value_name = "MS")]
    pub read_timeout_ms: u64,
    /// Timeout of one whole model request, however steadily the reply arrives (0: no limit).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub request_timeout_ms: u64,
    /// Simulated latency of the built-in coach per request, to rehearse crashes offline.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Requests per minute to the provider, shared by every run of this process (default: the
    /// vendor's lowest paid tier on its own API, none for other base URLs; 0: no limit).
    #[arg(long, value_name = "N")]
    pub max_rpm: Option<u32>,
    /// Input tokens per minute to the provider, shared like --max-rpm (0: no limit).
    #[arg(long, value_name = "N")]
    pub max_tpm: Option<u64>,
    /// Model prices, JSON: {"as_of": DATE, "prices": [{"provider", "model" (a trailing `*`
    /// matches a prefix), "input_usd_per_mtok", "cache_read_usd_per_mtok",
    /// "cache_write_usd_per_mtok", "output_usd_per_mtok"}]}; its entries come before the
    /// built-in list prices (dated in `periodize --version`'s notes and README).
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// The server's context window in tokens (0 or absent: unknown). A request estimated
    /// above it (input at 4 bytes a token, plus the output cap) leaves out its oldest repair
    /// turns; one that does not fit without them fails its step unsent.
    #[arg(long, value_name = "N")]
    pub context_tokens: Option<u64>,
    /// Prompt templates directory (default: the built-in copies of prompts/).
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    /// Weeks requested at the same time in phase 3b.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub week_concurrency: u32,
    /// On SIGINT or SIGTERM: how long requests in flight may finish before the process exits.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub shutdown_grace_ms: u64,
    /// Runs driven at the same time.
    #[arg(long, visible_alias = "runs", default_value_t = 4, value_name = "N")]
    pub run_concurrency: u32,
    /// How long this process's lease on a run lasts without renewal (renewed three times per
    /// lease); another worker may take a run whose lease expired.
    #[arg(long, default_value_t = crate::store::DEFAULT_LEASE_MS, value_name = "MS")]
    pub lease_ms: u64,
    /// What each committed step must survive before its effects run.
    #[arg(long, value_enum, default_value = "process")]
    pub durability: DurabilityArg,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Athlete profile JSON (canonical or seed form); repeat for a batch of plans.
    #[arg(long, value_name = "FILE", required = true)]
    pub profile: Vec<PathBuf>,
    /// A name for the batch (several --profile).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// A directory of profile files (`*.json`), or a JSONL manifest: one profile per line, or
    /// `{"profile": PATH, "weeks": N, "start_date": "YYYY-MM-DD"}` (PATH relative to the manifest).
    pub source: PathBuf,
    /// A name for the batch (default: the file or directory name).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// How new plans are made: shared by `generate` and `batch`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan length in weeks (overrides the profile).
    #[arg(long, value_name = "N")]
    pub weeks: Option<String>,
    /// First day of the plan, a Monday (default: next Monday).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub start_date: Option<String>,
    /// Directory of plan files.
    #[arg(long, default_value = "output", value_name = "DIR")]
    pub output_dir: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Answers per step that may be refused (invalid or malformed) before the step gives up.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub step_attempts: u32,
    #[command(flatten)]
    pub budget: BudgetArgs,
    /// What to do with a week whose attempts ran out: fail the run (default), or have the
    /// built-in coach detail it (marked in the plan file and in `show`).
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub fallback: Option<FallbackArg>,
    /// Transient provider failures per step before the run fails.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub max_transient_retries: u32,
    /// First retry delay after a transient failure; it doubles per retry, with jitter.
    #[arg(long, default_value_t = 1_000, value_name = "MS")]
    pub retry_base_ms: u64,
    /// Longest retry delay.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub retry_max_ms: u64,
    /// Most training days a week may have.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub max_training_days: u32,
    /// Severity of the weekly TSS check.
    #[arg(long, value_enum, default_value = "error")]
    pub tss_check: TssCheckArg,
    /// Severity of a plausibility rule, NAME=error|warning|off; repeatable (names: tss_per_hour,
    /// recovery_week, recovery_intensity, taper_volume, taper_intensity, ctl_ramp, acwr,
    /// hard_days_back_to_back, cooldown_above_previous, warmup_cooldown).
    #[arg(long = "rule", value_name = "NAME=SEVERITY")]
    pub rules: Vec<String>,
    /// Longest step, in seconds, that may go above 200 % FTP (up to 300 %); 0 allows none.
    #[arg(long, default_value_t = SPRINT_MAX_S, value_name = "SECONDS")]
    pub sprint_max_s: u32,
    /// Keep per-week checkpoints after the plan is done.
    #[arg(long)]
    pub keep_checkpoints: bool,
    /// Also write these exports when the plan is finalized, comma-separated (zwo, fit, ics,
    /// intervals, mrc, html, report-data, or all), in a folder beside the plan file.
    #[arg(long, value_name = "FORMATS")]
    pub export: Option<String>,
    /// Only store the runs, for workers of the shared store to generate (`periodize worker`);
    /// prints their ids.
    #[arg(long)]
    pub enqueue: bool,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Exit once every run of the store is done or failed (default: work until SIGINT/SIGTERM).
    #[arg(long)]
    pub until_idle: bool,
    /// Provider overrides for every claimed run (default: each run's own provider and model).
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Run to resume (default: every unfinished run).
    pub run_id: Option<String>,
    /// Resume every unfinished run.
    #[arg(long, conflicts_with = "run_id")]
    pub all: bool,
    /// Give failed runs a fresh attempt budget and continue them.
    #[arg(long)]
    pub retry: bool,
    /// New run limits for --retry (default: keep the run's own).
    #[command(flatten)]
    pub budget: BudgetArgs,
    /// Continue even if the prompts, provider or model changed since the run started.
    #[arg(long)]
    pub accept_changes: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Run id (default: every run).
    pub run_id: Option<String>,
    /// Only the runs of this batch, with a summary of it (id or unique prefix).
    #[arg(long, value_name = "BATCH", conflicts_with = "run_id")]
    pub batch: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the runs of this batch (id or unique prefix).
    #[arg(long, value_name = "BATCH")]
    pub batch: Option<String>,
}

#[derive(Debug, Args)]
pub struct BatchReportArgs {
    /// Batch id (a unique prefix is enough).
    pub batch: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Run id (a unique prefix is enough).
    pub run_id: String,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Plan file to check.
    pub file: PathBuf,
    /// Severity of the weekly TSS check.
    #[arg(long, value_enum, default_value = "error")]
    pub tss_check: TssCheckArg,
    /// Most training days a week may have.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub max_training_days: u32,
    /// Severity of a plausibility rule, NAME=error|warning|off; repeatable (names: tss_per_hour,
    /// recovery_week, recovery_intensity, taper_volume, taper_intensity, ctl_ramp, acwr,
    /// hard_days_back_to_back, cooldown_above_previous, warmup_cooldown).
    #[arg(long = "rule", value_name = "NAME=SEVERITY")]
    pub rules: Vec<String>,
    /// Longest step, in seconds, that may go above 200 % FTP (up to 300 %); 0 allows none.
    #[arg(long, default_value_t = SPRINT_MAX_S, value_name = "SECONDS")]
    pub sprint_max_s: u32,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Plan file to export (ours, the seed's, or a Phase 4 report_data.json: its first
    /// athlete), or the id (or a prefix) of a finished run in the state directory.
    #[arg(value_name = "PLAN|RUN")]
    pub plan: PathBuf,
    /// zwo, fit, ics, intervals, mrc, html, report-data, or all (each in its own folder).
    #[arg(long, value_name = "FORMAT")]
    pub format: String,
    /// Directory of the exported files (created when missing).
    #[arg(long, default_value = "export", value_name = "DIR")]
    pub out: PathBuf,
    /// First day to export, included.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<String>,
    /// Last day to export, included.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct MockLlmArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Latency added to every answer.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Extra random latency, 0 to this many ms (deterministic from the seed).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_jitter_ms: u64,
    /// Share of requests that get a fault, 0.0 to 1.0.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fault_rate: f64,
    /// Seed of the fault choice; the same seed gives the same faults per step.
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Fault kinds to inject, comma-separated (default: all): rate-limit, server-error,
    /// overloaded, timeout, drop, no-tool-call, wrong-tool, parallel-calls, invalid-json,
    /// truncated, invalid-args.
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub faults: Vec<String>,
    /// `retry-after` seconds sent with 429 and 529 answers.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub retry_after_s: u64,
    /// How long a `timeout` fault holds a request.
    #[arg(long, default_value_t = 120_000, value_name = "MS")]
    pub timeout_hold_ms: u64,
    /// At most N model requests in any window of WINDOW_MS (e.g. `120/60000`), answering the
    /// rest 429 with `retry-after`, like a vendor's or a proxy's rate limit.
    #[arg(long, value_name = "N/WINDOW_MS")]
    pub rate_limit: Option<String>,
    /// Only the first N requests of each step may fault (0: any).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub fault_only_first_n: u64,
    /// Behave like a local OpenAI-compatible server on every request, comma-separated:
    /// max-tokens-only (ignore max_completion_tokens), string-tool-choice (an object
    /// tool_choice leaves the tool optional), tools-dropped (no tool support in the chat
    /// template), tool-call-in-content (the call written as <tool_call> in the text),
    /// openai-paths-only (every other protocol's path is a 404).
    #[arg(long, value_delimiter = ',', value_name = "QUIRKS")]
    pub quirks: Vec<String>,
    /// The model's context window in tokens (4 characters each; 0: none): a longer request is
    /// answered with the vendor's context-length error.
    #[arg(long, default_value_t = 0, value_name = "TOKENS")]
    pub context_window: u64,
}
