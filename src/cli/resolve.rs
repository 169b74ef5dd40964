//! High arguments: the command line as clap gave it (`args.rs`), checked and resolved into what
//! the engine runs. Every check of every command happens here, before anything is stored; what
//! leaves this module is not validated again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::cli::args::{
    BudgetArgs, DurabilityArg, ExportArgs, FallbackArg, GenerateArgs, ModelArgs, PlanArgs,
    ProviderName, ResumeArgs, TssCheckArg,
};
use crate::cli::inputs::{self, CheckedItem, ItemBody, ItemSource};
use crate::cli::{Env, Error};
use crate::domain::validate::{Rule, RuleSeverity, Rules, TssCheck};

/// The longest `--sprint-max-s`: the guide's rule set (§6) allows efforts above 150 % FTP up to
/// 60 s; anything longer above 200 % is not a sprint.
const MAX_SPRINT_S: u32 = 60;
use crate::engine::batch::{Drive, DriveKind, MAX_RUN_CONCURRENCY, MAX_WEEK_CONCURRENCY};
use crate::engine::{self};
use crate::export::model::ExportPlan;
use crate::export::{DateRange, Format};
use crate::pricing::{self, PriceTable};
use crate::prompts::PromptSet;
use crate::providers::resolve::{self as provider_resolve, Choice, ProviderKind, Recorded};
use crate::providers::{http, Protocol, Provider};
use crate::store::{self, Durability, Location, OpenOptions, RunSummary, Store};
use crate::workflow::{Batch, BatchItem, BatchRef, Budget, RetryPolicy, RunId, RunSpec, State};

/// The most refusable answers per step a run may allow.
pub const MAX_STEP_ATTEMPTS: u32 = 20;
pub const MAX_TRAINING_DAYS: u32 = 7;
/// Per finished run, the store grows by about this much before compaction, and a plan file
/// takes about this much per week: the free space a batch needs up front.
pub const STORE_BYTES_PER_RUN: u64 = 256 * 1024;
pub const PLAN_BYTES_PER_WEEK: u64 = 16 * 1024;

/// How drivers run: shared by `generate`, `batch`, `resume` and `worker`.
#[derive(Debug, Clone, Copy)]
pub struct DriveLimits {
    pub week_concurrency: u32,
    pub run_concurrency: u32,
    pub shutdown_grace_ms: u64,
    pub lease_ms: u64,
}

/// What a submission makes: new runs, or the runs of the same submission made before.
pub enum Submission {
    New {
        batch: Option<Batch>,
        specs: Vec<RunSpec>,
    },
    /// The same profiles and options were submitted before, as this batch: continue it.
    Existing { batch: Batch },
}

/// `generate` and `batch`, resolved.
pub struct GenerateJob {
    pub store: Store,
    pub notices: Vec<String>,
    pub prompts: Arc<PromptSet>,
    pub provider: Provider,
    pub submission: Submission,
    pub limits: DriveLimits,
    /// Only store the runs (`--enqueue`).
    pub enqueue: bool,
}

/// `worker`, resolved.
pub struct WorkerJob {
    pub store: Store,
    pub prompts: Arc<PromptSet>,
    pub provider_for: crate::engine::batch::ProviderFor,
    pub limits: DriveLimits,
    pub until_idle: bool,
}

/// Where the store is: `--store` (or PERIODIZE_STORE), a database URL, else `--state-dir`.
pub fn location(state_dir: &Path, store_flag: Option<&str>, env: &Env) -> Result<Location, Error> {
    let (flag, url) = match (store_flag, env.store.as_deref()) {
        (Some(url), _) => ("--store", url),
        (None, Some(url)) => ("PERIODIZE_STORE", url),
        (None, None) => return Ok(Location::Dir(state_dir.to_path_buf())),
    };
    if !store::is_database_url(url.trim()) {
        return Err(arg(
            flag,
            store::redacted_url(url),
            "expected a database URL, postgres://USER@HOST[:PORT]/DATABASE (a directory is --state-dir)",
        ));
    }
    Ok(Location::Database(url.trim().to_string()))
}

/// `resume` and `worker`: the provider flags are checked before the store is touched (a run's
/// own provider fills the gaps later), then the store is opened for writing.
fn open_for_stored_runs(
    location: &Location,
    model: &ModelArgs,
    limits: &DriveLimits,
    env: &Env,
) -> Result<(Store, Vec<String>), Error> {
    if model.provider.is_some() {
        provider(model, None, env)?;
    }
    open_store(
        location,
        OpenOptions::read_write(durability(model.durability)),
        limits,
        env,
    )
}

/// The provider a stored run continues with: its own, unless the flags say otherwise.
fn provider_of_run(model: &ModelArgs, spec: &RunSpec, env: &Env) -> Result<Provider, Error> {
    provider(
        model,
        Some(Recorded {
            provider: &spec.provider,
            model: &spec.model,
            base_url: &spec.base_url,
        }),
        env,
    )
}

/// Opens the store at `location` for a command that writes, with its lease length; a shared
/// store also paces the providers for the whole fleet.
fn open_store(
    location: &Location,
    options: OpenOptions,
    limits: &DriveLimits,
    env: &Env,
) -> Result<(Store, Vec<String>), Error> {
    let (store, notices) = Store::open_at(location, options)?;
    if let Some(pacer) = store.fleet_pacer() {
        env.credentials.limiters.share_with_fleet(pacer);
    }
    Ok((store.with_lease_ms(limits.lease_ms), notices))
}

/// `resume`, resolved.
pub struct ResumeJob {
    pub store: Store,
    pub notices: Vec<String>,
    pub prompts: Arc<PromptSet>,
    pub drives: Vec<Drive>,
    /// The summaries of the runs to drive, for the progress display.
    pub summaries: Vec<RunSummary>,
    pub limits: DriveLimits,
}

fn arg(flag: &'static str, value: impl ToString, reason: impl Into<String>) -> Error {
    Error::Arg {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Names for an error message: `a, b, c`.
fn listed<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// The rules from their flags; each `--rule` is `NAME=error|warning|off`, a later one for the
/// same rule winning.
pub fn rules(
    tss_check: TssCheckArg,
    max_training_days: u32,
    rule_flags: &[String],
    sprint_max_s: u32,
) -> Result<Rules, Error> {
    if !(1..=MAX_TRAINING_DAYS).contains(&max_training_days) {
        return Err(arg(
            "--max-training-days",
            max_training_days,
            format!("expected 1 to {MAX_TRAINING_DAYS}"),
        ));
    }
    let tss_check = match tss_check {
        TssCheckArg::Error => TssCheck::Error,
        TssCheckArg::Warn => TssCheck::Warn,
        TssCheckArg::Off => TssCheck::Off,
    };
    let mut severities = std::collections::BTreeMap::new();
    for flag in rule_flags {
        let names = || listed(Rule::ALL.iter().map(|rule| rule.name()));
        let Some((name, severity)) = flag.split_once('=') else {
            return Err(arg(
                "--rule",
                flag,
                format!("expected NAME=error|warning|off, NAME one of {}", names()),
            ));
        };
        let rule = Rule::parse(name).ok_or_else(|| {
            arg(
                "--rule",
                flag,
                format!("unknown rule {name:?}, expected one of {}", names()),
            )
        })?;
        let severity = RuleSeverity::parse(severity).ok_or_else(|| {
            arg(
                "--rule",
                flag,
                format!("unknown severity {severity:?}, expected error, warning or off"),
            )
        })?;
        severities.insert(rule, severity);
    }
    if sprint_max_s > MAX_SPRINT_S {
        return Err(arg(
            "--sprint-max-s",
            sprint_max_s,
            format!("expected 0 to {MAX_SPRINT_S} seconds"),
        ));
    }
    Ok(Rules {
        max_training_days,
        tss_check,
        severities,
        sprint_max_s,
        ..Rules::default()
    })
}

/// Run limits from the flags; `None` when no limit flag was given.
fn budget(args: &BudgetArgs) -> Result<Option<Budget>, Error> {
    if args.max_tokens == Some(0) {
        return Err(arg("--max-tokens", 0, "expected at least 1"));
    }
    if args.max_attempts == Some(0) {
        return Err(arg("--max-attempts", 0, "expected at least 1"));
    }
    let max_cost_micro_usd = match args.max_cost {
        None => None,
        Some(usd) => Some(
            pricing::micro_usd_from_usd(usd)
                .ok_or_else(|| arg("--max-cost", usd, "expected US dollars above 0"))?,
        ),
    };
    let given = args.max_tokens.is_some() || args.max_attempts.is_some() || args.max_cost.is_some();
    Ok(given.then_some(Budget {
        max_tokens: args.max_tokens,
        max_attempts: args.max_attempts,
        max_cost_micro_usd,
    }))
}

/// A money budget needs a price: refuse it for a model the price table does not name.
fn priced(provider: &Provider, budget: &Budget, args: &BudgetArgs) -> Result<(), Error> {
    match (budget.max_cost_micro_usd, provider.price()) {
        (Some(_), None) => Err(arg(
            "--max-cost",
            args.max_cost.unwrap_or_default(),
            format!(
                "no price is known for model {} of provider {}; give it in a --prices FILE",
                provider.model(),
                provider.name()
            ),
        )),
        _ => Ok(()),
    }
}

fn limits(args: &ModelArgs) -> Result<DriveLimits, Error> {
    if args.week_concurrency == 0 || args.week_concurrency > MAX_WEEK_CONCURRENCY {
        return Err(arg(
            "--week-concurrency",
            args.week_concurrency,
            format!("expected 1 to {MAX_WEEK_CONCURRENCY}"),
        ));
    }
    if args.run_concurrency == 0 || args.run_concurrency > MAX_RUN_CONCURRENCY {
        return Err(arg(
            "--run-concurrency",
            args.run_concurrency,
            format!("expected 1 to {MAX_RUN_CONCURRENCY}"),
        ));
    }
    if args.lease_ms < store::MIN_LEASE_MS {
        return Err(arg(
            "--lease-ms",
            args.lease_ms,
            format!("expected at least {}", store::MIN_LEASE_MS),
        ));
    }
    Ok(DriveLimits {
        week_concurrency: args.week_concurrency,
        run_concurrency: args.run_concurrency,
        shutdown_grace_ms: args.shutdown_grace_ms,
        lease_ms: args.lease_ms,
    })
}

fn durability(arg: DurabilityArg) -> Durability {
    match arg {
        DurabilityArg::Process => Durability::Process,
        DurabilityArg::Power => Durability::Power,
    }
}

fn prompts(args: &ModelArgs) -> Result<PromptSet, Error> {
    Ok(match &args.prompts {
        Some(dir) => PromptSet::load_dir(dir)?,
        None => PromptSet::embedded(),
    })
}

fn provider_kind(name: ProviderName) -> ProviderKind {
    match name {
        ProviderName::Builtin => ProviderKind::Builtin,
        ProviderName::Anthropic => ProviderKind::Http(Protocol::Anthropic),
        ProviderName::Openai => ProviderKind::Http(Protocol::OpenAi),
        ProviderName::Gemini => ProviderKind::Http(Protocol::Gemini),
        ProviderName::Ollama => ProviderKind::Http(Protocol::Ollama),
    }
}

fn choice(args: &ModelArgs) -> Result<Choice, Error> {
    let prices = match &args.prices {
        None => PriceTable::builtin(),
        Some(path) => crate::files::read_text(path, pricing::MAX_PRICES_FILE_BYTES)
            .map_err(|error| arg("--prices", path.display(), error.to_string()))
            .and_then(|text| {
                PriceTable::with_file(&path.display().to_string(), &text).map_err(|error| {
                    Error::Arg {
                        flag: "--prices",
                        value: error.path.clone(),
                        reason: error.detail(),
                    }
                })
            })?,
    };
    Ok(Choice {
        kind: args.provider.map(provider_kind),
        model: args.model.clone(),
        base_url: args.base_url.clone(),
        timeouts: http::Timeouts {
            connect_ms: args.connect_timeout_ms,
            request_ms: args.request_timeout_ms,
            read_ms: args.read_timeout_ms,
        },
        latency_ms: args.latency_ms,
        max_rpm: args.max_rpm,
        max_tpm: args.max_tpm,
        context_tokens: args.context_tokens.filter(|tokens| *tokens > 0),
        prices,
    })
}

fn provider(
    args: &ModelArgs,
    recorded: Option<Recorded<'_>>,
    env: &Env,
) -> Result<Provider, Error> {
    provider_resolve::resolve(&choice(args)?, recorded, &env.credentials).map_err(|err| {
        Error::Arg {
            flag: err.flag,
            value: err.value,
            reason: err.reason,
        }
    })
}

/// The plan is written at the very end; find out now, before a run exists, that it cannot be.
/// Returns the directory as an absolute path, fixed in every run made here.
fn output_dir(dir: &Path) -> Result<String, Error> {
    let unusable = |source: std::io::Error| {
        arg(
            "--output-dir",
            dir.display(),
            format!("cannot write plan files there: {source}"),
        )
    };
    std::fs::create_dir_all(dir).map_err(unusable)?;
    let probe = dir.join(format!(".periodize-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(unusable)?;
    std::fs::remove_file(&probe).map_err(unusable)?;
    let canonical = std::fs::canonicalize(dir).map_err(unusable)?;
    Ok(canonical.display().to_string())
}

/// Refuses a batch whose store growth and plan files will not fit, before it starts.
fn check_space(
    state_dir: Option<&Path>,
    output_dir: &Path,
    items: &[CheckedItem],
) -> Result<(), Error> {
    // A database's space is its server's: only the plan files are this machine's.
    let store_need = match state_dir {
        Some(_) => items.len() as u64 * STORE_BYTES_PER_RUN,
        None => 0,
    };
    let state_dir = state_dir.unwrap_or(output_dir);
    let plan_need: u64 = items
        .iter()
        .map(|item| u64::from(item.total_weeks) * PLAN_BYTES_PER_WEEK)
        .sum();
    // The state directory may not exist yet: measure the nearest directory that does.
    let existing = state_dir
        .ancestors()
        .find(|dir| dir.is_dir())
        .unwrap_or(Path::new("."));
    let same_fs = device(existing).is_some() && device(existing) == device(output_dir);
    let checks = if same_fs {
        vec![(existing, store_need + plan_need)]
    } else {
        vec![(existing, store_need), (output_dir, plan_need)]
    };
    for (dir, need) in checks {
        if let Some(free) = store::files::free_bytes(dir) {
            if free < need {
                return Err(Error::NoSpace {
                    dir: dir.to_path_buf(),
                    need,
                    free,
                    runs: items.len(),
                });
            }
        }
    }
    Ok(())
}

fn device(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|metadata| metadata.dev())
}

/// What `generate` and `batch` were given as profiles.
pub enum Profiles<'a> {
    Files(&'a [PathBuf]),
    Source(&'a Path),
}

/// `generate --profile …` and `batch SOURCE`: one path.
pub fn generate(
    location: &Location,
    profiles: Profiles<'_>,
    name: Option<&str>,
    args: &PlanArgs,
    env: &Env,
) -> Result<GenerateJob, Error> {
    let today = chrono::Local::now().date_naive();
    let default_start = match &args.start_date {
        None => inputs::next_monday(today),
        Some(text) => inputs::start_date("--start-date", text, today)?,
    };
    let (sources, batch_name) = match profiles {
        Profiles::Files(paths) => (
            paths
                .iter()
                .map(|path| ItemSource {
                    name: path.display().to_string(),
                    body: ItemBody::File(path.clone()),
                    weeks: None,
                    start_date: None,
                })
                .collect::<Vec<_>>(),
            (paths.len() > 1).then(|| name.map_or_else(|| "generate".to_string(), str::to_string)),
        ),
        Profiles::Source(source) => {
            let default_name = source.file_stem().map_or_else(
                || "batch".to_string(),
                |stem| stem.to_string_lossy().into_owned(),
            );
            (
                inputs::items_of(source)?,
                Some(name.map_or(default_name, str::to_string)),
            )
        }
    };
    // Every profile is checked before anything is stored: one bad file leaves nothing behind.
    let items = inputs::check_all(sources, args.weeks.as_deref(), default_start, today)?;
    if args.step_attempts == 0 || args.step_attempts > MAX_STEP_ATTEMPTS {
        return Err(arg(
            "--step-attempts",
            args.step_attempts,
            format!("expected 1 to {MAX_STEP_ATTEMPTS}"),
        ));
    }
    let budget = budget(&args.budget)?.unwrap_or_default();
    let rules = rules(
        args.tss_check,
        args.max_training_days,
        &args.rules,
        args.sprint_max_s,
    )?;
    let limits = limits(&args.model)?;
    let prompts = Arc::new(prompts(&args.model)?);
    let provider = provider(&args.model, None, env)?;
    priced(&provider, &budget, &args.budget)?;
    if args.retry_base_ms == 0 || args.retry_max_ms < args.retry_base_ms {
        return Err(arg(
            "--retry-base-ms",
            args.retry_base_ms,
            format!(
                "expected at least 1 and at most --retry-max-ms {}",
                args.retry_max_ms
            ),
        ));
    }
    let exports = args
        .export
        .as_deref()
        .map(|text| export_formats("--export", text))
        .transpose()?
        .unwrap_or_default();
    let output_dir = output_dir(&args.output_dir)?;
    check_space(location.local_dir(), Path::new(&output_dir), &items)?;
    let (store, mut notices) = open_store(
        location,
        OpenOptions::creating(durability(args.model.durability)),
        &limits,
        env,
    )?;
    for item in &items {
        notices.extend(
            item.notices
                .iter()
                .map(|notice| format!("{}: {notice}", item.source)),
        );
    }
    let retry = RetryPolicy {
        max_attempts: args.step_attempts,
        max_transient_retries: args.max_transient_retries,
        base_delay_ms: args.retry_base_ms,
        max_delay_ms: args.retry_max_ms,
        fallback_builtin: args.fallback == Some(FallbackArg::Builtin),
    };
    let created_at_ms = engine::now_ms();
    let template = RunSpec {
        run_id: RunId(0),
        batch: None,
        profile: items[0].profile.clone(),
        total_weeks: 0,
        start_date: default_start,
        provider: provider.name().to_string(),
        model: provider.model(),
        base_url: provider_resolve::base_url_of(&provider),
        prompt_hash: prompts.hash(),
        rules,
        retry,
        output_dir,
        keep_checkpoints: args.keep_checkpoints,
        created_at_ms,
        budget,
        exports,
    };
    let submission = match batch_name {
        None => Submission::New {
            batch: None,
            specs: items
                .into_iter()
                .map(|item| spec_for(&template, item, engine::new_run_id(), None))
                .collect(),
        },
        Some(name) => {
            let digest = submission_digest(&template, &items);
            match store.batch_by_digest(&digest)? {
                Some(batch) => Submission::Existing { batch },
                None => new_batch(&template, items, name, digest, created_at_ms),
            }
        }
    };
    Ok(GenerateJob {
        store,
        notices,
        prompts,
        provider,
        submission,
        limits,
        enqueue: args.enqueue,
    })
}

pub fn generate_args(
    location: &Location,
    args: &GenerateArgs,
    env: &Env,
) -> Result<GenerateJob, Error> {
    generate(
        location,
        Profiles::Files(&args.profile),
        args.name.as_deref(),
        &args.plan,
        env,
    )
}

fn spec_for(
    template: &RunSpec,
    item: CheckedItem,
    run_id: RunId,
    batch: Option<BatchRef>,
) -> RunSpec {
    RunSpec {
        run_id,
        batch,
        profile: item.profile,
        total_weeks: item.total_weeks,
        start_date: item.start_date,
        ..template.clone()
    }
}

fn new_batch(
    template: &RunSpec,
    items: Vec<CheckedItem>,
    name: String,
    digest: String,
    created_at_ms: u64,
) -> Submission {
    let batch_id = engine::new_id();
    let mut batch_items = Vec::with_capacity(items.len());
    let mut specs = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let run_id = engine::new_run_id();
        batch_items.push(BatchItem {
            run_id,
            source: item.source.clone(),
            content_hash: item.content_hash.clone(),
        });
        specs.push(spec_for(
            template,
            item,
            run_id,
            Some(BatchRef {
                batch_id,
                item: index as u32,
            }),
        ));
    }
    Submission::New {
        batch: Some(Batch {
            id: batch_id,
            name,
            digest,
            created_at_ms,
            items: batch_items,
        }),
        specs,
    }
}

/// Identifies a submission: every item's content, in order, and every option a run is made
/// with. The same command over the same files gives the same digest.
fn submission_digest(template: &RunSpec, items: &[CheckedItem]) -> String {
    let RunSpec {
        provider,
        model,
        base_url,
        prompt_hash,
        rules,
        retry,
        output_dir,
        keep_checkpoints,
        budget,
        exports,
        ..
    } = template;
    let mut hasher = Sha256::new();
    let options = format!(
        "provider={provider}\nmodel={model}\nbase_url={base_url}\nprompts={prompt_hash}\n\
         max_training_days={}\ntss_check={:?}\nstep_attempts={}\ntransient_retries={}\n\
         retry_ms={}..{}\nfallback={}\noutput_dir={output_dir}\nkeep_checkpoints={keep_checkpoints}\n\
         max_tokens={:?}\nmax_attempts={:?}\n",
        rules.max_training_days,
        rules.tss_check,
        retry.max_attempts,
        retry.max_transient_retries,
        retry.base_delay_ms,
        retry.max_delay_ms,
        retry.fallback_builtin,
        budget.max_tokens,
        budget.max_attempts,
    );
    hasher.update(options.as_bytes());
    // Only what differs from the default rules is hashed, so the digests of submissions on
    // the defaults are those of the builds before the plausibility rules.
    for (rule, severity) in &rules.severities {
        hasher.update(format!("rule={}={}\n", rule.name(), severity.name()).as_bytes());
    }
    if rules.max_ctl_ramp != Rules::default().max_ctl_ramp {
        hasher.update(format!("max_ctl_ramp={}\n", rules.max_ctl_ramp).as_bytes());
    }
    // Likewise exports: a submission without them keeps the digest it had before them.
    if !exports.is_empty() {
        let names: Vec<&str> = exports.iter().map(|format| format.name()).collect();
        hasher.update(format!("exports={}\n", names.join(",")).as_bytes());
    }
    for item in items {
        hasher.update(item.content_hash.as_bytes());
        hasher.update(b"\n");
    }
    inputs::hex(&hasher.finalize())
}

/// `resume`: which runs, with which providers, checked against what they were made with.
pub fn resume(location: &Location, args: &ResumeArgs, env: &Env) -> Result<ResumeJob, Error> {
    let limits = limits(&args.model)?;
    let prompts = Arc::new(prompts(&args.model)?);
    let budget = budget(&args.budget)?;
    if budget.is_some() && !args.retry {
        return Err(arg(
            "--max-tokens/--max-attempts/--max-cost",
            "",
            "new run limits apply with --retry",
        ));
    }
    let (store, notices) = open_for_stored_runs(location, &args.model, &limits, env)?;
    let summaries: Vec<RunSummary> = match &args.run_id {
        Some(prefix) => {
            let run_id = run(&store, prefix)?;
            let summary = store.summary(run_id)?.ok_or_else(|| Error::UnknownRun {
                prefix: prefix.clone(),
                dir: store.dir().to_path_buf(),
            })?;
            if args.retry && !matches!(summary.state, State::Failed { .. }) {
                return Err(Error::Engine(engine::Error::NotFailed {
                    run_id,
                    state: crate::workflow::state_name(&summary.state),
                }));
            }
            vec![summary]
        }
        None => {
            let mut summaries = Vec::new();
            for run_id in store.open_run_ids(args.retry)? {
                if let Some(summary) = store.summary(run_id)? {
                    summaries.push(summary);
                }
            }
            summaries.sort_by_key(|summary| (summary.created_at_ms, summary.run_id));
            summaries
        }
    };
    let mut drives = Vec::with_capacity(summaries.len());
    let mut changed = Vec::new();
    for summary in &summaries {
        let Some(view) = store.load_view(summary.run_id)? else {
            continue;
        };
        let spec = &view.run.spec;
        let provider = provider_of_run(&args.model, spec, env)?;
        if let Some(budget) = &budget {
            priced(&provider, budget, &args.budget)?;
        }
        if !args.accept_changes {
            let what = engine::changed_inputs(spec, &prompts, &provider);
            if !what.is_empty() {
                changed.push((summary.run_id, what.join(" and ")));
            }
        }
        drives.push(Drive {
            run_id: summary.run_id,
            provider,
            kind: if args.retry {
                DriveKind::Retry { budget }
            } else {
                DriveKind::Continue
            },
        });
    }
    if let Some((run_id, what)) = changed.into_iter().next() {
        return Err(Error::Changed { run_id, what });
    }
    Ok(ResumeJob {
        store,
        notices,
        prompts,
        drives,
        summaries,
        limits,
    })
}

/// Finds a run by full id or unique prefix.
pub fn run(store: &Store, prefix: &str) -> Result<RunId, Error> {
    if let Some(run_id) = RunId::parse(prefix) {
        // A full id must name a run that exists, or `resume`/`status` would quietly do nothing.
        return match store.summary(run_id)? {
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

/// Finds a batch by full id or unique prefix.
pub fn batch(store: &Store, prefix: &str) -> Result<Batch, Error> {
    let wanted = prefix.trim().to_ascii_lowercase();
    let batches = store.batches()?;
    let matches: Vec<&Batch> = batches
        .iter()
        .filter(|batch| !wanted.is_empty() && batch.id_text().starts_with(&wanted))
        .collect();
    match matches.as_slice() {
        [only] => Ok((*only).clone()),
        [] => Err(Error::UnknownBatch {
            prefix: prefix.to_string(),
            dir: store.dir().to_path_buf(),
        }),
        many => Err(Error::AmbiguousRun {
            prefix: prefix.to_string(),
            matches: many
                .iter()
                .map(|batch| batch.short())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// `--export zwo,ics,html` (or `all`): distinct formats in a fixed order, each one this build
/// writes.
fn export_formats(flag: &'static str, text: &str) -> Result<Vec<Format>, Error> {
    let formats = Format::parse_list(text).map_err(|bad| {
        let names = listed(Format::ALL.iter().map(|format| format.name()));
        arg(
            flag,
            text,
            format!("{bad:?} is not a format, expected a comma-separated list of {names}"),
        )
    })?;
    Ok(formats)
}

/// `export`, resolved: the plan read, the format and dates checked.
pub struct ExportJob {
    pub plan: ExportPlan,
    pub format: Format,
    pub out: PathBuf,
    pub range: DateRange,
}

/// Checks every flag of `export` and reads its plan file, so that nothing is written for a
/// command that would fail.
pub fn export(location: &Location, args: &ExportArgs) -> Result<ExportJob, Error> {
    let format = Format::parse(&args.format).ok_or_else(|| {
        let names = listed(Format::ALL.iter().map(|format| format.name()));
        arg(
            "--format",
            &args.format,
            format!("unknown format, expected one of {names}"),
        )
    })?;
    let from = args
        .from
        .as_deref()
        .map(|text| inputs::date("--from", text))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|text| inputs::date("--to", text))
        .transpose()?;
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            return Err(arg("--to", to, format!("is before --from {from}")));
        }
    }
    if args.out.exists() && !args.out.is_dir() {
        return Err(arg(
            "--out",
            args.out.display(),
            "is not a directory: name a directory (created when missing)",
        ));
    }
    let (plan_path, text) = match export_source(location, &args.plan)? {
        PlanSource::File(path) => {
            let text =
                inputs::read_input("plan file", &path, crate::planfile::MAX_PLAN_FILE_BYTES)?;
            (path, text)
        }
        PlanSource::Stored { path, text } => (path, text),
    };
    let plan = crate::export::model::from_plan_text(&text)
        .map_err(|error| arg("plan file", plan_path.display(), error.to_string()))?;
    Ok(ExportJob {
        plan,
        format,
        out: args.out.clone(),
        range: DateRange { from, to },
    })
}

/// Where `export` reads its plan from.
enum PlanSource {
    File(PathBuf),
    /// A shared store's copy of a run's plan (its file is on the machine that finalized it).
    Stored {
        path: PathBuf,
        text: String,
    },
}

/// The plan file `export` reads: `source` itself when it is a file (or looks like a path),
/// else the plan file of the finished run it names (an id or a prefix) in the store, or the
/// shared store's copy of it when the file is not on this machine.
fn export_source(location: &Location, source: &Path) -> Result<PlanSource, Error> {
    let text = source.to_string_lossy();
    let looks_like_a_run = !source.exists()
        && !text.is_empty()
        && text.len() <= 32
        && text.bytes().all(|b| b.is_ascii_hexdigit());
    if !looks_like_a_run || !location.may_hold_runs() {
        return Ok(PlanSource::File(source.to_path_buf()));
    }
    let store = read_store(location)?;
    let run_id = run(&store, &text)?;
    let summary = store.summary(run_id)?.ok_or_else(|| Error::UnknownRun {
        prefix: text.to_string(),
        dir: store.dir().to_path_buf(),
    })?;
    match summary.plan_path() {
        Some(path) if matches!(summary.state, crate::workflow::State::Done {}) => {
            if path.is_file() {
                return Ok(PlanSource::File(path));
            }
            match store.plan_file(run_id)? {
                Some((_, bytes)) => Ok(PlanSource::Stored {
                    text: String::from_utf8(bytes).map_err(|_| {
                        arg("plan file", path.display(), "the stored plan is not UTF-8")
                    })?,
                    path,
                }),
                None => Ok(PlanSource::File(path)),
            }
        }
        _ => Err(arg(
            "plan file",
            text,
            format!(
                "run {run_id} is {}, not done: it has no plan to export yet",
                crate::workflow::state_name(&summary.state)
            ),
        )),
    }
}

/// `worker`: a shared store, and how each claimed run gets its provider (its own, with the
/// flags' overrides), checked now so a typo fails before any run is claimed.
pub fn worker(
    location: &Location,
    args: &crate::cli::args::WorkerArgs,
    env: &Env,
) -> Result<WorkerJob, Error> {
    let limits = limits(&args.model)?;
    let prompts = Arc::new(prompts(&args.model)?);
    let (store, _) = open_for_stored_runs(location, &args.model, &limits, env)?;
    let model = args.model.clone();
    let env = env.clone();
    let provider_for: crate::engine::batch::ProviderFor = Arc::new(move |spec: &RunSpec| {
        provider_of_run(&model, spec, &env).map_err(|err| crate::store::doctor::chain(&err))
    });
    Ok(WorkerJob {
        store,
        prompts,
        provider_for,
        limits,
        until_idle: args.until_idle,
    })
}

/// Opens a store for a command that only reads it.
pub fn read_store(location: &Location) -> Result<Store, Error> {
    let (store, notices) = Store::open_at(location, OpenOptions::read_only())?;
    debug_assert!(notices.is_empty(), "a read-only open repairs nothing");
    Ok(store)
}

/// The runs of a submission made before that are not finished, to continue.
pub fn unfinished(store: &Store, batch: &Batch) -> Result<Vec<RunSummary>, Error> {
    let mut runs = Vec::new();
    for item in &batch.items {
        if let Some(summary) = store.summary(item.run_id)? {
            runs.push(summary);
        }
    }
    Ok(runs)
}
