//! The command line: the only code that knows clap, prints to the terminal and chooses exit
//! codes (0 success, 1 the plan failed, 2 bad input or usage, 130/143 stopped by a signal).
//! `args.rs` is what clap parses; `resolve.rs` checks and resolves it (reading the inputs
//! through `inputs.rs`) before the store is written; this file dispatches the resolved command
//! to the engine; `report.rs` and `render.rs` print.

pub mod args;
mod inputs;
#[cfg(feature = "mock-llm")]
mod mock;
pub(crate) mod render;
mod report;
mod resolve;

use std::io::Write;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::cli::args::{Cli, Command};
use crate::cli::inputs::ItemError;
use crate::cli::render::printable;
use crate::cli::resolve::{Profiles, Submission};
use crate::domain::profile::ProfileError;
use crate::domain::validate::Severity;
use crate::engine::batch::{Drive, DriveKind};
use crate::engine::clock::Clock;
use crate::engine::crash::CrashPoint;
use crate::engine::{self, Engine, Shutdown};
use crate::prompts;
use crate::providers::resolve::Credentials;
use crate::store::{self, RunSummary, Store};
use crate::workflow::{self, RunId, State};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {what} {path}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {error}")]
    Input {
        what: &'static str,
        /// The file, also named in `error`.
        path: PathBuf,
        error: crate::files::ReadError,
    },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("invalid {flag} {value:?}: {reason}")]
    Arg {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("{}", inputs_message(*total, errors))]
    Inputs {
        total: usize,
        errors: Vec<ItemError>,
    },
    #[error(
        "not enough space for {runs} run(s) in {}: about {need} bytes needed, {free} free; free some space or submit fewer profiles",
        dir.display()
    )]
    NoSpace {
        dir: PathBuf,
        need: u64,
        free: u64,
        runs: usize,
    },
    #[error(transparent)]
    Prompts(#[from] prompts::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(
        "run {run_id} was created with {what}; resume with --accept-changes to continue anyway"
    )]
    Changed { run_id: RunId, what: String },
    #[error("no run matches {prefix:?} in {dir}")]
    UnknownRun { prefix: String, dir: PathBuf },
    #[error("no batch matches {prefix:?} in {dir}")]
    UnknownBatch { prefix: String, dir: PathBuf },
    #[error("prefix {prefix:?} is ambiguous: {matches}")]
    AmbiguousRun { prefix: String, matches: String },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write to the terminal")]
    Output(#[source] std::io::Error),
}

fn inputs_message(total: usize, errors: &[ItemError]) -> String {
    let mut text = format!(
        "{} of {total} profiles are invalid; nothing was stored",
        errors.len()
    );
    for item in errors {
        text.push_str(&format!(
            "\nerror: {}: {}",
            printable(&item.source),
            printable(&store::doctor::chain(&item.error))
        ));
    }
    text
}

fn store_exit_code(err: &store::Error) -> u8 {
    match err {
        store::Error::Locked { .. }
        | store::Error::NoStore { .. }
        | store::Error::NotADirectory { .. }
        | store::Error::ReadOnlyDir { .. }
        | store::Error::Unreachable { .. }
        | store::Error::SchemaTooNew { .. } => 2,
        _ => 1,
    }
}

impl Error {
    /// 2 for anything the user can fix in the command or its inputs; 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Engine(engine::Error::Store(err)) | Error::Store(err) => store_exit_code(err),
            Error::Engine(engine::Error::NotFound { .. } | engine::Error::NotFailed { .. })
            | Error::Read { .. }
            | Error::Input { .. }
            | Error::Profile(_)
            | Error::Arg { .. }
            | Error::Inputs { .. }
            | Error::Prompts(_)
            | Error::Changed { .. }
            | Error::UnknownRun { .. }
            | Error::UnknownBatch { .. }
            | Error::AmbiguousRun { .. } => 2,
            Error::NoSpace { .. } | Error::Engine(_) | Error::Write { .. } | Error::Output(_) => 1,
        }
    }
}

/// What the binary's environment contributes (read by `main`, the only reader of env vars).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub crash: Option<CrashPoint>,
    /// Provider keys (never logged) and hosts.
    pub credentials: Credentials,
    /// PERIODIZE_STORE: the shared store's URL when --store is not given (it may hold a
    /// password: never printed).
    pub store: Option<String>,
}

/// Runs a parsed command; returns the exit code of a command that ran to its end.
pub async fn run(cli: Cli, env: Env) -> Result<u8, Error> {
    let state_dir = cli.state_dir.as_path();
    let location = resolve::location(state_dir, cli.store.as_deref(), &env)?;
    let json_output = cli.json;
    match cli.command {
        #[cfg(feature = "mock-llm")]
        Command::MockLlm(args) => mock::run(args, json_output).await,
        Command::Generate(args) => {
            let job = resolve::generate_args(&location, &args, &env)?;
            generate(job, json_output, &env).await
        }
        Command::Batch(args) => {
            let job = resolve::generate(
                &location,
                Profiles::Source(&args.source),
                args.name.as_deref(),
                &args.plan,
                &env,
            )?;
            generate(job, json_output, &env).await
        }
        Command::Resume(args) => {
            let job = resolve::resume(&location, &args, &env)?;
            resume(job, json_output, &env).await
        }
        Command::Worker(args) => {
            let job = resolve::worker(&location, &args, &env)?;
            worker(job, json_output, &env).await
        }
        Command::Status(args) => {
            let store = resolve::read_store(&location)?;
            match (args.run_id, args.batch) {
                (Some(prefix), _) => {
                    let run_id = resolve::run(&store, &prefix)?;
                    // Reading the whole run finds a damaged record, which a summary would hide.
                    store.load_view(run_id)?;
                    let summary = summary(&store, run_id)?;
                    render::status(&[summary], json_output)?;
                }
                (None, Some(prefix)) => {
                    let batch = resolve::batch(&store, &prefix)?;
                    let summaries = batch_runs(&store, &batch)?;
                    render::batch_status(&batch, &summaries, json_output)?;
                }
                (None, None) => render::status(&store.summaries()?, json_output)?,
            }
            Ok(0)
        }
        Command::List(args) => {
            let store = resolve::read_store(&location)?;
            match args.batch {
                Some(prefix) => {
                    let batch = resolve::batch(&store, &prefix)?;
                    render::status(&batch_runs(&store, &batch)?, json_output)?;
                }
                None => render::status(&store.summaries()?, json_output)?,
            }
            Ok(0)
        }
        Command::BatchReport(args) => {
            let store = resolve::read_store(&location)?;
            let batch = resolve::batch(&store, &args.batch)?;
            let mut summaries = Vec::with_capacity(batch.items.len());
            for item in &batch.items {
                summaries.push(store.summary(item.run_id)?);
            }
            let rows: Vec<(usize, &str, Option<&RunSummary>)> = batch
                .items
                .iter()
                .zip(&summaries)
                .enumerate()
                .map(|(index, (item, summary))| (index, item.source.as_str(), summary.as_ref()))
                .collect();
            render::batch_report(&batch, &rows, json_output)?;
            Ok(0)
        }
        Command::Show(args) => {
            let store = resolve::read_store(&location)?;
            let run_id = resolve::run(&store, &args.run_id)?;
            let view = store.load_view(run_id)?.ok_or_else(|| Error::UnknownRun {
                prefix: run_id.to_string(),
                dir: store.dir().to_path_buf(),
            })?;
            render::show(&view, &summary(&store, run_id)?, json_output)?;
            Ok(0)
        }
        Command::Doctor => {
            let (label, problems) = store::doctor::check_location(&location, engine::now_ms())?;
            print_problems(&label, &problems, json_output)
        }
        Command::Export(args) => export(resolve::export(&location, &args)?, json_output),
        Command::Validate(args) => {
            let text = inputs::read_input(
                "plan file",
                &args.file,
                crate::planfile::MAX_PLAN_FILE_BYTES,
            )?;
            if let Err(err) = serde_json::from_str::<Value>(&text) {
                return Err(Error::Arg {
                    flag: "plan file",
                    value: args.file.display().to_string(),
                    reason: format!("not valid JSON: {err}"),
                });
            }
            let rules = resolve::rules(
                args.tss_check,
                args.max_training_days,
                &args.rules,
                args.sprint_max_s,
            )?;
            let checked = crate::planfile::validate_file_text(&text, &rules);
            render::violations(&args.file, &checked, json_output)?;
            Ok(
                if checked
                    .violations
                    .iter()
                    .any(|v| v.severity == Severity::Error)
                {
                    1
                } else {
                    0
                },
            )
        }
    }
}

fn summary(store: &Store, run_id: RunId) -> Result<RunSummary, Error> {
    store.summary(run_id)?.ok_or_else(|| Error::UnknownRun {
        prefix: run_id.to_string(),
        dir: store.dir().to_path_buf(),
    })
}

fn batch_runs(store: &Store, batch: &workflow::Batch) -> Result<Vec<RunSummary>, Error> {
    let mut runs = Vec::with_capacity(batch.items.len());
    for item in &batch.items {
        if let Some(summary) = store.summary(item.run_id)? {
            runs.push(summary);
        }
    }
    Ok(runs)
}

fn print_notices(notices: &[String]) {
    for notice in notices {
        eprintln!("periodize: {}", printable(notice));
    }
}

/// Steps of the runs to drive (overview, weeks, plan file), and how many are done.
fn steps_of(summaries: &[RunSummary]) -> (u64, u64) {
    let mut total = 0;
    let mut done = 0;
    for summary in summaries {
        total += u64::from(summary.total_weeks) + 2;
        let overview_done = summary.weeks_done > 0
            || matches!(
                summary.state,
                State::DetailingWeeks {} | State::Finalizing { .. } | State::Done {}
            );
        done += u64::from(summary.weeks_done)
            + u64::from(overview_done)
            + u64::from(matches!(summary.state, State::Done {}));
    }
    (total, done.min(total))
}

fn engine_for(
    store: Store,
    job_prompts: std::sync::Arc<prompts::PromptSet>,
    observer: engine::progress::Observer,
    env: &Env,
    grace_ms: u64,
) -> Engine {
    Engine {
        store,
        prompts: job_prompts,
        observer,
        crash: env.crash,
        shutdown: Shutdown::on_signals(grace_ms),
        clock: Clock::system(),
    }
}

/// `generate` and `batch`: store the runs (and their batch) before any is driven, then drive.
async fn generate(job: resolve::GenerateJob, json_output: bool, env: &Env) -> Result<u8, Error> {
    let resolve::GenerateJob {
        store,
        notices,
        prompts,
        provider,
        submission,
        limits,
        enqueue,
    } = job;
    print_notices(&notices);
    let (run_ids, summaries) = match &submission {
        Submission::New { specs, .. } => (
            specs.iter().map(|spec| spec.run_id).collect::<Vec<_>>(),
            Vec::new(),
        ),
        Submission::Existing { batch } => {
            let summaries = resolve::unfinished(&store, batch)?;
            let done = summaries
                .iter()
                .filter(|s| matches!(s.state, State::Done {}))
                .count();
            eprintln!(
                "periodize: batch {} ({}) was submitted before with the same profiles and options: {} of {} runs done; continuing it",
                batch.id_text(),
                printable(&batch.name),
                done,
                batch.items.len()
            );
            (
                batch.items.iter().map(|item| item.run_id).collect(),
                summaries,
            )
        }
    };
    let steps = match &submission {
        Submission::New { specs, .. } => (
            specs
                .iter()
                .map(|spec| u64::from(spec.total_weeks) + 2)
                .sum(),
            0,
        ),
        Submission::Existing { .. } => steps_of(&summaries),
    };
    if enqueue {
        return enqueue_only(store, prompts, &submission, json_output, env).await;
    }
    let (observer, finish) = report::observer(json_output, run_ids.len() > 1, steps);
    let engine = engine_for(store, prompts, observer, env, limits.shutdown_grace_ms);
    if let Submission::New { batch, specs } = &submission {
        engine.submit(batch.as_ref(), specs).await?;
        if let (Some(batch), false) = (batch, json_output) {
            eprintln!(
                "periodize: batch {} ({}) stored with {} runs",
                batch.id_text(),
                printable(&batch.name),
                specs.len()
            );
        }
    }
    let drives = run_ids
        .into_iter()
        .map(|run_id| Drive {
            run_id,
            provider: provider.clone(),
            kind: DriveKind::Continue,
        })
        .collect();
    let outcomes = engine
        .run_all(drives, limits.run_concurrency, limits.week_concurrency)
        .await;
    finish();
    let code = report::outcomes(json_output, outcomes, engine.shutdown.exit_code());
    close(engine);
    code
}

/// `--enqueue`: stores the runs for the workers and prints their ids, one a line (with
/// `--json`, one document); runs of a submission made before are only listed.
async fn enqueue_only(
    store: Store,
    job_prompts: std::sync::Arc<prompts::PromptSet>,
    submission: &Submission,
    json_output: bool,
    env: &Env,
) -> Result<u8, Error> {
    let engine = engine_for(
        store,
        job_prompts,
        std::sync::Arc::new(|_: &engine::progress::Progress| {}),
        env,
        0,
    );
    let (batch, run_ids): (Option<&workflow::Batch>, Vec<RunId>) = match submission {
        Submission::New { batch, specs } => {
            engine.submit(batch.as_ref(), specs).await?;
            (
                batch.as_ref(),
                specs.iter().map(|spec| spec.run_id).collect(),
            )
        }
        Submission::Existing { batch } => (
            Some(batch),
            batch.items.iter().map(|item| item.run_id).collect(),
        ),
    };
    let mut stdout = std::io::stdout().lock();
    if json_output {
        let document = json!({
            "event": "enqueued",
            "batch_id": batch.map(|batch| batch.id_text()),
            "run_ids": run_ids.iter().map(|run_id| run_id.to_string()).collect::<Vec<_>>(),
        });
        writeln!(stdout, "{document}").map_err(Error::Output)?;
    } else {
        for run_id in &run_ids {
            writeln!(stdout, "{run_id}").map_err(Error::Output)?;
        }
        eprintln!(
            "periodize: {} run(s) stored for the workers (`periodize worker --store …`)",
            run_ids.len()
        );
    }
    close(engine);
    Ok(0)
}

/// `worker`: claims and drives runs until a shutdown (or, `--until-idle`, until none is left).
async fn worker(job: resolve::WorkerJob, json_output: bool, env: &Env) -> Result<u8, Error> {
    let resolve::WorkerJob {
        store,
        prompts,
        provider_for,
        limits,
        until_idle,
    } = job;
    {
        eprintln!(
            "periodize: worker started on {} (up to {} runs at once, leases of {} ms)",
            store.dir().display(),
            limits.run_concurrency,
            limits.lease_ms
        );
    }
    let (observer, finish) = report::observer(json_output, true, (0, 0));
    let engine = engine_for(store, prompts, observer, env, limits.shutdown_grace_ms);
    let outcomes = engine
        .work(
            engine::batch::Claiming {
                provider_for,
                until_idle,
                skipped: Default::default(),
            },
            limits.run_concurrency,
            limits.week_concurrency,
        )
        .await;
    finish();
    let stopped_by_signal = engine.shutdown.is_requested();
    let signal_code = engine.shutdown.exit_code();
    let code = report::outcomes(json_output, outcomes, signal_code);
    close(engine);
    match code {
        // A worker's runs that failed are the store's to report (`status`); the worker itself
        // did its job. A signal still gives its exit code.
        Ok(_) if stopped_by_signal => Ok(signal_code),
        Ok(_) => Ok(0),
        Err(err) => Err(err),
    }
}

/// Ends the command's use of the store, so the next reader can read it in place.
fn close(engine: Engine) {
    let Engine { store, .. } = engine;
    if let Err(err) = store.close() {
        tracing::warn!(error = %err, "the store could not be closed cleanly");
    }
}

async fn resume(job: resolve::ResumeJob, json_output: bool, env: &Env) -> Result<u8, Error> {
    let resolve::ResumeJob {
        store,
        notices,
        prompts,
        drives,
        summaries,
        limits,
    } = job;
    print_notices(&notices);
    if drives.is_empty() {
        if json_output {
            println!("{}", json!({"event": "nothing_to_resume"}));
        } else {
            eprintln!("nothing to resume in {}", store.dir().display());
        }
        if let Err(err) = store.close() {
            tracing::warn!(error = %err, "the store could not be closed cleanly");
        }
        return Ok(0);
    }
    let (observer, finish) = report::observer(json_output, drives.len() > 1, steps_of(&summaries));
    let engine = engine_for(store, prompts, observer, env, limits.shutdown_grace_ms);
    let outcomes = engine
        .run_all(drives, limits.run_concurrency, limits.week_concurrency)
        .await;
    finish();
    let code = report::outcomes(json_output, outcomes, engine.shutdown.exit_code());
    close(engine);
    code
}

pub(crate) fn state_label(state: &State) -> &'static str {
    workflow::state_name(state)
}

/// `periodize export`: every file of the resolved export, each written atomically (a reader
/// sees the old file or the whole new one), then their paths, one a line (with `--json`, one
/// document). The bytes come from the pure `export` modules, so a second export rewrites
/// identical files.
fn export(job: resolve::ExportJob, json_output: bool) -> Result<u8, Error> {
    let files = crate::export::files(&job.plan, job.format, job.range);
    if files.is_empty() {
        eprintln!("notice: no workout of the plan falls within the dates given; nothing written");
    }
    let mut paths = Vec::with_capacity(files.len());
    for file in &files {
        let path = engine::output::write_atomically_at(&job.out, &file.name, &file.bytes).map_err(
            |source| Error::Write {
                path: job.out.join(&file.name),
                source,
            },
        )?;
        paths.push(path.display().to_string());
    }
    let mut stdout = std::io::stdout().lock();
    if json_output {
        let document = json!({"format": job.format.name(), "files": paths});
        writeln!(stdout, "{document}").map_err(Error::Output)?;
    } else {
        for path in &paths {
            writeln!(stdout, "{}", printable(path)).map_err(Error::Output)?;
        }
    }
    Ok(0)
}

/// `periodize doctor`: every problem of the store, one line each (or one JSON document with
/// `--json`); exit 1 when any of them is an error.
fn print_problems(
    label: &str,
    problems: &[store::doctor::Problem],
    json_output: bool,
) -> Result<u8, Error> {
    use crate::store::doctor::Severity;
    let count = |severity| problems.iter().filter(|p| p.severity == severity).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let mut stdout = std::io::stdout().lock();
    if json_output {
        let report = json!({
            "dir": label,
            "errors": errors,
            "warnings": warnings,
            "problems": problems,
        });
        writeln!(stdout, "{report}")
    } else {
        problems
            .iter()
            .try_for_each(|problem| {
                writeln!(
                    stdout,
                    "{}: {}",
                    problem.severity,
                    printable(&problem.to_string())
                )
            })
            .and_then(|()| {
                writeln!(
                    stdout,
                    "{errors} error(s), {warnings} warning(s) in {}",
                    printable(label)
                )
            })
    }
    .map_err(Error::Output)?;
    Ok(if errors > 0 { 1 } else { 0 })
}
