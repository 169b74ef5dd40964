//! The command line: the only code that knows clap, prints to the terminal and chooses exit
//! codes (0 success, 1 the plan failed, 2 bad input or usage). Every input is checked before
//! the store is opened, so bad input never leaves a run behind.

pub mod args;
mod render;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Value};

use crate::cli::args::{
    BudgetArgs, Cli, Command, FallbackArg, GenerateArgs, MockLlmArgs, ModelArgs, ProviderName,
    ResumeArgs, TssCheckArg,
};
use crate::domain::profile::{self, ProfileError};
use crate::domain::validate::{Rules, Severity, TssCheck};
use crate::engine::crash::CrashPoint;
use crate::engine::progress::{Observer, Progress};
use crate::engine::{self, Engine, Outcome};
use crate::mock_llm::{FaultKind, MockConfig, MockServer};
use crate::prompts::{self, PromptSet};
use crate::providers::secret::Secret;
use crate::providers::{builtin, http, HttpProvider, Protocol, Provider};
use crate::store::Store;
use crate::workflow::{self, Budget, RetryPolicy, RunId, RunSpec, State};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {what} {path}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("invalid {flag} {value:?}: {reason}")]
    Arg {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error(transparent)]
    Prompts(#[from] prompts::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error("no run matches {prefix:?} in {dir}")]
    UnknownRun { prefix: String, dir: PathBuf },
    #[error("run prefix {prefix:?} is ambiguous: {matches}")]
    AmbiguousRun { prefix: String, matches: String },
    #[error("cannot write to the terminal")]
    Output(#[source] std::io::Error),
    #[error("athlete profile {path}")]
    InProfile {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// 2 for anything the user can fix in the command or its inputs; 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Engine(engine::Error::Store(crate::store::Error::Locked { .. }))
            | Error::Store(crate::store::Error::Locked { .. })
            | Error::Engine(
                engine::Error::NotFound { .. }
                | engine::Error::Changed { .. }
                | engine::Error::NotFailed { .. },
            )
            | Error::Read { .. }
            | Error::Profile(_)
            | Error::Arg { .. }
            | Error::Prompts(_)
            | Error::UnknownRun { .. }
            | Error::AmbiguousRun { .. } => 2,
            Error::InProfile { source, .. } => source.exit_code(),
            Error::Engine(_) | Error::Store(_) | Error::Output(_) => 1,
        }
    }
}

/// What the binary's environment contributes (read by `main`, the only reader of env vars).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub crash: Option<CrashPoint>,
    /// Provider keys by environment variable name (`ANTHROPIC_API_KEY`, …), never logged.
    pub keys: std::collections::BTreeMap<&'static str, Secret>,
    /// `OLLAMA_HOST`, when set.
    pub ollama_host: Option<String>,
}

/// Runs a parsed command; returns the exit code of a command that ran to its end.
pub async fn run(cli: Cli, env: Env) -> Result<u8, Error> {
    match cli.command {
        Command::MockLlm(args) => mock_llm(args, cli.json).await,
        Command::Generate(args) => generate(&cli.state_dir, cli.json, args, env).await,
        Command::Resume(args) => resume(&cli.state_dir, cli.json, args, env).await,
        Command::Status(selector) => {
            let store = Store::open(&cli.state_dir)?;
            let ids = match selector.run_id {
                Some(prefix) => vec![resolve_run(&store, &prefix)?],
                None => store.run_ids()?,
            };
            render::status(&store, &ids, cli.json)?;
            Ok(0)
        }
        Command::List => {
            let store = Store::open(&cli.state_dir)?;
            let ids = store.run_ids()?;
            render::status(&store, &ids, cli.json)?;
            Ok(0)
        }
        Command::Show(args) => {
            let store = Store::open(&cli.state_dir)?;
            let run_id = resolve_run(&store, &args.run_id)?;
            render::show(&store, run_id, cli.json)?;
            Ok(0)
        }
        Command::Doctor => doctor(&cli.state_dir, cli.json),
        Command::Validate(args) => {
            let text = std::fs::read_to_string(&args.file).map_err(|source| Error::Read {
                what: "plan file",
                path: args.file.clone(),
                source,
            })?;
            if let Err(err) = serde_json::from_str::<Value>(&text) {
                return Err(Error::Arg {
                    flag: "plan file",
                    value: args.file.display().to_string(),
                    reason: format!("not valid JSON: {err}"),
                });
            }
            let rules = rules_from(args.tss_check, args.max_training_days)?;
            let violations = crate::planfile::validate_plan_text(&text, &rules);
            render::violations(&args.file, &violations, cli.json)?;
            Ok(
                if violations.iter().any(|v| v.severity == Severity::Error) {
                    1
                } else {
                    0
                },
            )
        }
    }
}

fn rules_from(tss_check: TssCheckArg, max_training_days: u32) -> Result<Rules, Error> {
    if !(1..=7).contains(&max_training_days) {
        return Err(Error::Arg {
            flag: "--max-training-days",
            value: max_training_days.to_string(),
            reason: "expected 1 to 7".into(),
        });
    }
    let tss_check = match tss_check {
        TssCheckArg::Error => TssCheck::Error,
        TssCheckArg::Warn => TssCheck::Warn,
        TssCheckArg::Off => TssCheck::Off,
    };
    Ok(Rules {
        max_training_days,
        tss_check,
    })
}

/// Run limits from the flags; `None` when no limit flag was given.
fn budget_from(args: &BudgetArgs) -> Result<Option<Budget>, Error> {
    if args.max_tokens == Some(0) {
        return Err(Error::Arg {
            flag: "--max-tokens",
            value: "0".into(),
            reason: "expected at least 1".into(),
        });
    }
    if args.max_attempts == Some(0) {
        return Err(Error::Arg {
            flag: "--max-attempts",
            value: "0".into(),
            reason: "expected at least 1".into(),
        });
    }
    Ok(
        (args.max_tokens.is_some() || args.max_attempts.is_some()).then_some(Budget {
            max_tokens: args.max_tokens,
            max_attempts: args.max_attempts,
        }),
    )
}

fn check_concurrency(args: &ModelArgs) -> Result<(), Error> {
    if args.week_concurrency == 0 || args.week_concurrency > 64 {
        return Err(Error::Arg {
            flag: "--week-concurrency",
            value: args.week_concurrency.to_string(),
            reason: "expected 1 to 64".into(),
        });
    }
    Ok(())
}

fn prompts_from(args: &ModelArgs) -> Result<PromptSet, Error> {
    Ok(match &args.prompts {
        Some(dir) => PromptSet::load_dir(dir)?,
        None => PromptSet::embedded(),
    })
}

fn protocol_of(name: ProviderName) -> Option<Protocol> {
    match name {
        ProviderName::Builtin => None,
        ProviderName::Anthropic => Some(Protocol::Anthropic),
        ProviderName::Openai => Some(Protocol::OpenAi),
        ProviderName::Gemini => Some(Protocol::Gemini),
        ProviderName::Ollama => Some(Protocol::Ollama),
    }
}

fn provider_named(name: &str) -> Option<ProviderName> {
    [
        ProviderName::Builtin,
        ProviderName::Anthropic,
        ProviderName::Openai,
        ProviderName::Gemini,
        ProviderName::Ollama,
    ]
    .into_iter()
    .find(|candidate| protocol_of(*candidate).map_or("builtin", Protocol::name) == name)
}

/// What a run recorded about its provider, for `resume`.
struct Recorded<'a> {
    provider: &'a str,
    model: &'a str,
    base_url: &'a str,
}

/// The provider the flags describe: flags win, then what the run recorded (resume), then the
/// defaults. A real service needs its key; a custom `--base-url` (a local or compatible
/// server) may run without one.
fn build_provider(
    args: &ModelArgs,
    recorded: Option<Recorded<'_>>,
    env: &Env,
) -> Result<Provider, Error> {
    let name = match (args.provider, &recorded) {
        (Some(name), _) => name,
        (None, Some(recorded)) => provider_named(recorded.provider).ok_or_else(|| Error::Arg {
            flag: "--provider",
            value: recorded.provider.to_string(),
            reason: "the run was made with a provider this build does not know; pass --provider"
                .into(),
        })?,
        (None, None) => ProviderName::Builtin,
    };
    let same_as_recorded = recorded
        .as_ref()
        .is_some_and(|recorded| provider_named(recorded.provider) == Some(name));
    let Some(protocol) = protocol_of(name) else {
        if let Some(model) = args
            .model
            .as_deref()
            .filter(|model| *model != builtin::MODEL)
        {
            return Err(Error::Arg {
                flag: "--model",
                value: model.to_string(),
                reason: format!("the builtin provider has one model, {}", builtin::MODEL),
            });
        }
        return Ok(Provider::Builtin(builtin::BuiltinCoach {
            latency_ms: args.latency_ms,
        }));
    };
    let model = match (&args.model, &recorded) {
        (Some(model), _) => model.clone(),
        (None, Some(recorded)) if same_as_recorded => recorded.model.to_string(),
        _ => protocol.default_model().to_string(),
    };
    if model.trim().is_empty() {
        return Err(Error::Arg {
            flag: "--model",
            value: model,
            reason: "expected a model name".into(),
        });
    }
    let base_url = match (&args.base_url, &recorded) {
        (Some(url), _) => url.clone(),
        (None, Some(recorded)) if same_as_recorded && !recorded.base_url.is_empty() => {
            recorded.base_url.to_string()
        }
        _ if protocol == Protocol::Ollama => env
            .ollama_host
            .clone()
            .unwrap_or_else(|| protocol.default_base_url().to_string()),
        _ => protocol.default_base_url().to_string(),
    };
    let url_ok = base_url.starts_with("http://")
        || base_url.starts_with("https://")
        || protocol == Protocol::Ollama;
    if !url_ok {
        return Err(Error::Arg {
            flag: "--base-url",
            value: base_url,
            reason: "expected an http:// or https:// URL".into(),
        });
    }
    let key = match protocol.key_variable() {
        Some(variable) => match env.keys.get(variable) {
            Some(key) => Some(key.clone()),
            None if base_url == protocol.default_base_url() => {
                return Err(Error::Arg {
                    flag: "environment",
                    value: variable.to_string(),
                    reason: format!(
                        "the {} provider needs its API key in {variable}",
                        protocol.name()
                    ),
                })
            }
            None => None,
        },
        None => None,
    };
    let client = http::client(http::Timeouts {
        connect_ms: args.connect_timeout_ms,
        request_ms: args.request_timeout_ms,
    })
    .map_err(|reason| Error::Arg {
        flag: "--request-timeout-ms",
        value: args.request_timeout_ms.to_string(),
        reason,
    })?;
    Ok(Provider::Http(HttpProvider {
        protocol,
        client,
        base_url,
        model,
        key,
    }))
}

fn base_url_of(provider: &Provider) -> String {
    match provider {
        Provider::Builtin(_) | Provider::Scripted(_) => String::new(),
        Provider::Http(http) => http.base_url.clone(),
    }
}

/// The plan is written at the very end; find out now, before a run exists, that it cannot be.
fn check_output_dir(dir: &Path) -> Result<(), Error> {
    let unusable = |source: std::io::Error| Error::Arg {
        flag: "--output-dir",
        value: dir.display().to_string(),
        reason: format!("cannot write plan files there: {source}"),
    };
    std::fs::create_dir_all(dir).map_err(unusable)?;
    let probe = dir.join(format!(".periodize-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(unusable)?;
    std::fs::remove_file(&probe).map_err(unusable)
}

fn next_monday(today: NaiveDate) -> NaiveDate {
    let days_ahead = 7 - i64::from(today.weekday().num_days_from_monday());
    today + Duration::days(days_ahead)
}

/// One profile's checked inputs.
struct PlanInputs {
    profile: crate::domain::profile::AthleteProfile,
    total_weeks: u32,
}

fn plan_inputs(
    path: &Path,
    weeks: Option<&String>,
    start_date: NaiveDate,
) -> Result<PlanInputs, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        what: "athlete profile",
        path: path.to_path_buf(),
        source,
    })?;
    let profile = profile::parse_profile(&text)?;
    let total_weeks = match (weeks, profile.plan_weeks) {
        (Some(weeks), _) => {
            let value = serde_json::from_str::<Value>(weeks)
                .unwrap_or_else(|_| Value::String(weeks.clone()));
            profile::parse_plan_weeks("--weeks", &value)?
        }
        (None, Some(weeks)) => weeks,
        (None, None) => {
            return Err(ProfileError::Missing {
                field: "plan_weeks",
                hint: " (seed form: `training_plan_weeks`; or pass --weeks)",
            }
            .into())
        }
    };
    if let Some(event_date) = profile.event_date {
        let end_date = start_date + Duration::days(i64::from(total_weeks) * 7 - 1);
        if end_date > event_date {
            let weeks_that_fit = (event_date - start_date).num_days().div_euclid(7) + 1;
            return Err(Error::Arg {
                flag: "plan length",
                value: format!("{total_weeks} weeks"),
                reason: format!(
                    "a plan starting {start_date} ends {end_date}, after event_date {event_date}; use at most {} weeks or an earlier --start-date",
                    weeks_that_fit.max(0)
                ),
            });
        }
    }
    Ok(PlanInputs {
        profile,
        total_weeks,
    })
}

async fn generate(
    state_dir: &Path,
    json_output: bool,
    args: GenerateArgs,
    env: Env,
) -> Result<u8, Error> {
    let today = chrono::Local::now().date_naive();
    let start_date = match &args.start_date {
        None => next_monday(today),
        Some(text) => {
            let date =
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| Error::Arg {
                    flag: "--start-date",
                    value: text.clone(),
                    reason: "expected a date as YYYY-MM-DD".into(),
                })?;
            if date.weekday() != chrono::Weekday::Mon {
                return Err(Error::Arg {
                    flag: "--start-date",
                    value: text.clone(),
                    reason: format!(
                        "plans start on a Monday, and {date} is a {}",
                        date.format("%A")
                    ),
                });
            }
            date
        }
    };
    // Every profile is checked before any run exists: one bad file leaves nothing behind.
    let mut inputs = Vec::with_capacity(args.profile.len());
    for path in &args.profile {
        match plan_inputs(path, args.weeks.as_ref(), start_date) {
            Ok(checked) => inputs.push(checked),
            Err(err) if args.profile.len() > 1 => {
                return Err(Error::InProfile {
                    path: path.clone(),
                    source: Box::new(err),
                })
            }
            Err(err) => return Err(err),
        }
    }
    if args.step_attempts == 0 || args.step_attempts > 20 {
        return Err(Error::Arg {
            flag: "--step-attempts",
            value: args.step_attempts.to_string(),
            reason: "expected 1 to 20".into(),
        });
    }
    let budget = budget_from(&args.budget)?.unwrap_or_default();
    if args.run_concurrency == 0 || args.run_concurrency > 256 {
        return Err(Error::Arg {
            flag: "--run-concurrency",
            value: args.run_concurrency.to_string(),
            reason: "expected 1 to 256".into(),
        });
    }
    let rules = rules_from(args.tss_check, args.max_training_days)?;
    check_concurrency(&args.model)?;
    let prompts = Arc::new(prompts_from(&args.model)?);
    let provider = build_provider(&args.model, None, &env)?;
    if args.retry_base_ms == 0 || args.retry_max_ms < args.retry_base_ms {
        return Err(Error::Arg {
            flag: "--retry-base-ms",
            value: args.retry_base_ms.to_string(),
            reason: format!(
                "expected at least 1 and at most --retry-max-ms {}",
                args.retry_max_ms
            ),
        });
    }
    check_output_dir(&args.output_dir)?;

    let store = Store::open(state_dir)?;
    let specs: Vec<RunSpec> = inputs
        .into_iter()
        .map(
            |PlanInputs {
                 profile,
                 total_weeks,
             }| RunSpec {
                run_id: engine::new_run_id(),
                profile,
                total_weeks,
                start_date,
                provider: provider.name().to_string(),
                model: provider.model(),
                base_url: base_url_of(&provider),
                prompt_hash: prompts.hash(),
                rules: rules.clone(),
                retry: RetryPolicy {
                    max_attempts: args.step_attempts,
                    max_transient_retries: args.max_transient_retries,
                    base_delay_ms: args.retry_base_ms,
                    max_delay_ms: args.retry_max_ms,
                    fallback_builtin: args.fallback == Some(FallbackArg::Builtin),
                },
                output_dir: args.output_dir.display().to_string(),
                keep_checkpoints: args.keep_checkpoints,
                created_at_ms: engine::now_ms(),
                budget,
            },
        )
        .collect();
    let single_weeks = match specs.as_slice() {
        [only] => only.total_weeks,
        _ => 0,
    };
    let (observer, finish) = observer(json_output || specs.len() > 1, single_weeks);
    let (shutdown, signal) = shutdown_on_signals(args.model.shutdown_grace_ms);
    let engine = Engine {
        store,
        provider,
        prompts,
        observer,
        crash: env.crash,
        shutdown,
    };
    let week_concurrency = args.model.week_concurrency;
    let drives = specs.into_iter().map(|spec| {
        let engine = engine.clone();
        async move { engine.start(spec, week_concurrency).await }
    });
    let outcomes = drive_bounded(drives, args.run_concurrency as usize).await;
    finish();
    report_outcomes(json_output, outcomes, &signal)
}

/// Runs drivers with at most `limit` at once, in order of submission.
async fn drive_bounded<F>(
    drives: impl IntoIterator<Item = F>,
    limit: usize,
) -> Vec<Result<Outcome, engine::Error>>
where
    F: std::future::Future<Output = Result<Outcome, engine::Error>> + Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for drive in drives {
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            drive.await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        outcomes.push(joined.expect("run tasks do not panic"));
    }
    outcomes
}

/// Reports every outcome; the exit code is the worst one (an infrastructure error wins).
fn report_outcomes(
    json_output: bool,
    outcomes: Vec<Result<Outcome, engine::Error>>,
    signal: &std::sync::Arc<std::sync::atomic::AtomicU8>,
) -> Result<u8, Error> {
    let mut worst = 0;
    let mut first_error = None;
    for outcome in outcomes {
        match outcome {
            Ok(outcome) => worst = worst.max(report_outcome(json_output, outcome, signal)?),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(worst),
    }
}

/// A shutdown triggered by SIGINT (exit 130) or SIGTERM (exit 143); the signal's exit code is
/// kept for the report.
fn shutdown_on_signals(
    grace_ms: u64,
) -> (
    engine::Shutdown,
    std::sync::Arc<std::sync::atomic::AtomicU8>,
) {
    let (shutdown, trigger) = engine::Shutdown::new(grace_ms);
    let code = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
    let seen = code.clone();
    tokio::spawn(async move {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let exit_code = tokio::select! {
            result = tokio::signal::ctrl_c() => if result.is_ok() { 130 } else { return },
            () = async {
                match terminate.as_mut() {
                    Some(signal) => { signal.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => 143,
        };
        seen.store(exit_code, std::sync::atomic::Ordering::SeqCst);
        eprintln!(
            "periodize: stopping: no new requests; in-flight requests get {grace_ms} ms to finish"
        );
        let _ = trigger.send(true);
    });
    (shutdown, code)
}

async fn resume(
    state_dir: &Path,
    json_output: bool,
    args: ResumeArgs,
    env: Env,
) -> Result<u8, Error> {
    check_concurrency(&args.model)?;
    let prompts = Arc::new(prompts_from(&args.model)?);
    let budget = budget_from(&args.budget)?;
    if budget.is_some() && !args.retry {
        return Err(Error::Arg {
            flag: "--max-tokens/--max-attempts",
            value: String::new(),
            reason: "new run limits apply with --retry".into(),
        });
    }
    let store = Store::open(state_dir)?;
    let ids = match &args.run_id {
        Some(prefix) => vec![resolve_run(&store, prefix)?],
        None => {
            let mut ids = Vec::new();
            for record in store.run_records()? {
                let resumable = match record.state {
                    State::Done {} => false,
                    State::Failed { .. } => args.retry,
                    _ => true,
                };
                if resumable {
                    ids.push(record.spec.run_id);
                }
            }
            ids
        }
    };
    if ids.is_empty() {
        if json_output {
            println!("{}", json!({"event": "nothing_to_resume"}));
        } else {
            eprintln!("nothing to resume in {}", state_dir.display());
        }
        return Ok(0);
    }
    let total_weeks = match ids.as_slice() {
        [only] => store
            .run_record(*only)?
            .map_or(0, |record| record.spec.total_weeks),
        _ => 0,
    };
    // Each run is continued with the provider it was made with, unless the flags say otherwise.
    let mut engines = Vec::new();
    for run_id in ids {
        let Some(record) = store.run_record(run_id)? else {
            continue;
        };
        let recorded = Recorded {
            provider: &record.spec.provider,
            model: &record.spec.model,
            base_url: &record.spec.base_url,
        };
        engines.push((run_id, build_provider(&args.model, Some(recorded), &env)?));
    }
    let (observer, finish) = observer(json_output || engines.len() > 1, total_weeks);
    let (shutdown, signal) = shutdown_on_signals(args.model.shutdown_grace_ms);
    // Runs are independent; they share the store and the flush.
    let drives = engines.into_iter().map(|(run_id, provider)| {
        let engine = Engine {
            store: store.clone(),
            provider,
            prompts: prompts.clone(),
            observer: observer.clone(),
            crash: env.crash,
            shutdown: shutdown.clone(),
        };
        let week_concurrency = args.model.week_concurrency;
        let (retry, accept_changes) = (args.retry, args.accept_changes);
        async move {
            engine
                .resume(run_id, week_concurrency, retry, accept_changes, budget)
                .await
        }
    });
    let outcomes = drive_bounded(drives, args.run_concurrency as usize).await;
    finish();
    report_outcomes(json_output, outcomes, &signal)
}

/// `periodize mock-llm`: serves until Ctrl-C or SIGTERM; prints its address first, so scripts
/// and tests can start it with `--port 0` and read where it listens.
async fn mock_llm(args: MockLlmArgs, json_output: bool) -> Result<u8, Error> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(Error::Arg {
            flag: "--fault-rate",
            value: args.fault_rate.to_string(),
            reason: "expected 0.0 to 1.0".into(),
        });
    }
    let mut faults = Vec::new();
    for name in &args.faults {
        let kind = FaultKind::parse(name.trim()).ok_or_else(|| Error::Arg {
            flag: "--faults",
            value: name.clone(),
            reason: format!(
                "expected one of {}",
                FaultKind::ALL
                    .iter()
                    .map(|kind| kind.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        faults.push(kind);
    }
    let config = MockConfig {
        latency_ms: args.latency_ms,
        latency_jitter_ms: args.latency_jitter_ms,
        fault_rate: args.fault_rate,
        fault_seed: args.fault_seed,
        faults,
        retry_after_s: args.retry_after_s,
        timeout_hold_ms: args.timeout_hold_ms,
        fault_only_first_n: args.fault_only_first_n,
    };
    let server = MockServer::start(config, args.port)
        .await
        .map_err(|source| Error::Arg {
            flag: "--port",
            value: args.port.to_string(),
            reason: format!("cannot listen on 127.0.0.1: {source}"),
        })?;
    {
        let mut stdout = std::io::stdout().lock();
        if json_output {
            writeln!(
                stdout,
                "{}",
                json!({"event": "listening", "url": server.url()})
            )
        } else {
            writeln!(stdout, "mock-llm listening on {}", server.url())
        }
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)?;
    }
    shutdown_signal().await;
    let stats = server.stats();
    eprintln!(
        "mock-llm: {} requests, faults {:?}",
        stats.requests_by_path.values().sum::<u64>(),
        stats.faults_by_kind
    );
    server.shutdown().await;
    Ok(0)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

fn report_outcome(
    json_output: bool,
    outcome: Outcome,
    signal: &std::sync::Arc<std::sync::atomic::AtomicU8>,
) -> Result<u8, Error> {
    let mut stdout = std::io::stdout().lock();
    match outcome {
        Outcome::Done { run_id, path } => {
            if json_output {
                writeln!(stdout, "{}", json!({"event": "finished", "run_id": run_id.to_string(), "state": "done", "path": path.display().to_string()}))
            } else {
                writeln!(stdout, "{}", path.display())
            }
            .map_err(Error::Output)?;
            Ok(0)
        }
        Outcome::Failed { run_id, reason } => {
            if json_output {
                writeln!(stdout, "{}", json!({"event": "finished", "run_id": run_id.to_string(), "state": "failed", "reason": reason})).map_err(Error::Output)?;
            }
            eprintln!("error: run {run_id} failed: {reason}");
            eprintln!("hint: `periodize resume {run_id} --retry` continues it with a fresh attempt budget");
            Ok(1)
        }
        Outcome::Interrupted { run_id } => {
            if json_output {
                writeln!(stdout, "{}", json!({"event": "finished", "run_id": run_id.to_string(), "state": "interrupted"})).map_err(Error::Output)?;
            }
            eprintln!("run {run_id} stopped; `periodize resume {run_id}` continues it");
            // 130 after SIGINT, 143 after SIGTERM.
            Ok(match signal.load(std::sync::atomic::Ordering::SeqCst) {
                0 => 130,
                code => code,
            })
        }
    }
}

/// The progress display: NDJSON on stdout, a bar on a terminal, or plain lines on stderr.
fn observer(json_output: bool, total_weeks: u32) -> (Observer, Box<dyn FnOnce()>) {
    if json_output {
        let observer: Observer = Arc::new(|progress: &Progress| {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{}", progress.to_json());
            let _ = stdout.flush();
        });
        return (observer, Box::new(|| {}));
    }
    if std::io::stderr().is_terminal() && total_weeks > 0 {
        let bar = indicatif::ProgressBar::new(u64::from(total_weeks) + 2);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
                .expect("the template is valid"),
        );
        let handle = bar.clone();
        let observer: Observer = Arc::new(move |progress: &Progress| {
            match progress {
                Progress::OverviewCreated { .. }
                | Progress::WeekComplete { .. }
                | Progress::PlanFinalized { .. } => handle.inc(1),
                Progress::Started { resumed: true, .. } => {}
                _ => {}
            }
            handle.set_message(progress.message());
        });
        return (observer, Box::new(move || bar.finish()));
    }
    let observer: Observer = Arc::new(|progress: &Progress| eprintln!("{}", progress.message()));
    (observer, Box::new(|| {}))
}

/// Finds a run by full id or unique prefix.
pub fn resolve_run(store: &Store, prefix: &str) -> Result<RunId, Error> {
    if let Some(run_id) = RunId::parse(prefix) {
        // A full id must name a run that exists, or `resume`/`status` would quietly do nothing.
        return match store.run_record(run_id)? {
            Some(_) => Ok(run_id),
            None => Err(Error::UnknownRun {
                prefix: prefix.to_string(),
                dir: store.dir().to_path_buf(),
            }),
        };
    }
    let wanted = prefix.trim().to_ascii_lowercase();
    let matches: Vec<RunId> = store
        .run_ids()?
        .into_iter()
        .filter(|id| !wanted.is_empty() && id.to_string().starts_with(&wanted))
        .collect();
    match matches.as_slice() {
        [only] => Ok(*only),
        [] => Err(Error::UnknownRun {
            prefix: prefix.to_string(),
            dir: store.dir().to_path_buf(),
        }),
        many => Err(Error::AmbiguousRun {
            prefix: prefix.to_string(),
            matches: many.iter().map(RunId::short).collect::<Vec<_>>().join(", "),
        }),
    }
}

pub(crate) fn state_label(state: &State) -> &'static str {
    workflow::state_name(state)
}

/// `periodize doctor`: every problem of a state directory, one line each (or one JSON document
/// with `--json`); exit 1 when any of them is an error.
fn doctor(state_dir: &Path, json_output: bool) -> Result<u8, Error> {
    use crate::store::doctor::{self, Severity};
    // Opening a missing directory would create an empty store; there is nothing to check.
    if !state_dir.exists() {
        return Err(Error::Arg {
            flag: "--state-dir",
            value: state_dir.display().to_string(),
            reason: "no such directory; there is no store to check".into(),
        });
    }
    let store = Store::open(state_dir)?;
    let problems = doctor::check(&store, |path| path.is_file());
    let count = |severity| problems.iter().filter(|p| p.severity == severity).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let mut stdout = std::io::stdout().lock();
    if json_output {
        let report = json!({
            "dir": state_dir.display().to_string(),
            "errors": errors,
            "warnings": warnings,
            "problems": problems,
        });
        writeln!(stdout, "{report}")
    } else {
        problems
            .iter()
            .try_for_each(|problem| writeln!(stdout, "{}: {problem}", problem.severity))
            .and_then(|()| {
                writeln!(
                    stdout,
                    "{errors} error(s), {warnings} warning(s) in {}",
                    state_dir.display()
                )
            })
    }
    .map_err(Error::Output)?;
    Ok(if errors > 0 { 1 } else { 0 })
}
