//! The engine, the imperative shell: the only place that awaits, spawns, sleeps, reads the
//! clock or writes plan files. It feeds events to a run's machine, commits each transition,
//! flushes, and only then executes the effects the transition emitted. `batch.rs` drives many
//! runs at once; every task a driver spawns is owned by that driver's `JoinSet` and drained
//! before the driver returns.

pub mod batch;
pub mod clock;
pub mod crash;
pub mod output;
pub mod progress;
pub mod shutdown;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinSet;
use tracing::Instrument;

use crate::engine::batch::{Drive, DriveKind};
use crate::engine::clock::Clock;
use crate::engine::crash::{CrashAt, CrashPoint, CrashTarget};
use crate::engine::progress::{Observer, Progress};
use crate::llm::{ModelFailure, ModelOutcome, ModelReply, StepBrief, StepId, ToolRequest, Usage};
use crate::prompts::PromptSet;
use crate::providers::Provider;
use crate::store::Store;
use crate::tools;
use crate::workflow::{self, Effect, Event, Machine, Run, RunId, RunSpec, State};

pub use batch::RunOutcome;
pub use shutdown::Shutdown;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error("run {run_id}: cannot write plan file {path}")]
    WritePlan {
        run_id: RunId,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The plan file just rendered does not read back as an export model: a bug, reported
    /// rather than a half-written export.
    #[error("run {run_id}: cannot export the plan: {reason}")]
    Export { run_id: RunId, reason: String },
    /// Only a store written before start dates were bounded at input can hold such a run;
    /// `doctor` names it.
    #[error("run {run_id}: {overflow}; the run cannot be finished")]
    Calendar {
        run_id: RunId,
        overflow: crate::planfile::CalendarOverflow,
    },
    #[error("run {run_id} not found in {dir}")]
    NotFound { run_id: String, dir: PathBuf },
    #[error("run {run_id} is {state}, not failed; --retry only applies to failed runs")]
    NotFailed { run_id: RunId, state: &'static str },
    #[error("run {run_id} stalled in state {state} with no work in flight (an engine bug)")]
    Stalled { run_id: RunId, state: &'static str },
    #[error("run {run_id} stopped on an internal error (a bug; `periodize resume` retries it): {message}")]
    Panicked { run_id: RunId, message: String },
}

/// How a driven run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done {
        run_id: RunId,
        path: PathBuf,
    },
    Failed {
        run_id: RunId,
        reason: String,
    },
    /// Stopped by a shutdown request; everything committed is flushed and `resume` continues.
    Interrupted {
        run_id: RunId,
    },
    /// Left to the fleet: another worker of a shared store took the run's lease (this one was
    /// paused or cut off past it, and its commit was refused), or a worker's commit failed in
    /// the store (a restart, a failover); the run goes on under whoever claims it next.
    Handed {
        run_id: RunId,
    },
}

/// The shared parts every driven run uses.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub prompts: Arc<PromptSet>,
    pub observer: Observer,
    pub crash: Option<CrashPoint>,
    pub shutdown: Shutdown,
    pub clock: Clock,
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    clock::wall_ms()
}

/// A fresh run id from the OS-seeded hasher keys and the clock: unique without a RNG crate.
pub fn new_run_id() -> RunId {
    RunId(new_id())
}

/// A fresh 128-bit id (runs, batches).
pub fn new_id() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut high = std::collections::hash_map::RandomState::new().build_hasher();
    high.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    high.write_u32(std::process::id());
    let mut low = std::collections::hash_map::RandomState::new().build_hasher();
    low.write_u64(high.finish());
    (u128::from(high.finish()) << 64) | u128::from(low.finish())
}

/// What changed since a run was created that resuming it would silently use: its prompts, or
/// its provider and model. Empty when nothing did.
pub fn changed_inputs(spec: &RunSpec, prompts: &PromptSet, provider: &Provider) -> Vec<String> {
    let mut changed = Vec::new();
    if spec.prompt_hash != prompts.hash() {
        changed.push(format!(
            "prompts {} (now {})",
            short_hash(&spec.prompt_hash),
            short_hash(&prompts.hash())
        ));
    }
    if spec.provider != provider.name() || spec.model != provider.model() {
        changed.push(format!(
            "provider {} model {} (now {} {})",
            spec.provider,
            spec.model,
            provider.name(),
            provider.model()
        ));
    }
    changed
}

/// The future of one effect; its result is the event that reports it.
type EffectFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Event, Error>> + Send>>;

/// What a task of a driver is doing, so its end (or its panic) can be accounted for.
#[derive(Debug, Clone, Copy)]
enum Task {
    Request { step: StepId, attempt: u32 },
    Wait { step: StepId },
    WritePlan,
}

impl Engine {
    /// Starts a new run (stored here first) and drives it to Done or Failed.
    pub async fn start(
        &self,
        spec: RunSpec,
        provider: Provider,
        week_concurrency: u32,
    ) -> Result<Outcome, Error> {
        let run_id = spec.run_id;
        self.submit(None, std::slice::from_ref(&spec)).await?;
        self.drive_run(
            Drive {
                run_id,
                provider,
                kind: DriveKind::Continue,
            },
            week_concurrency,
        )
        .await
    }

    /// Continues one stored run (with `retry`, a failed run gets a fresh attempt budget and,
    /// if given, new limits).
    pub async fn resume(
        &self,
        run_id: RunId,
        provider: Provider,
        week_concurrency: u32,
        retry: bool,
        budget: Option<crate::workflow::Budget>,
    ) -> Result<Outcome, Error> {
        let kind = if retry {
            DriveKind::Retry { budget }
        } else {
            DriveKind::Continue
        };
        self.drive_run(
            Drive {
                run_id,
                provider,
                kind,
            },
            week_concurrency,
        )
        .await
    }

    /// Drives one stored run: starts it if it was only created, continues it otherwise (or,
    /// with `Retry`, gives a failed run a fresh attempt budget).
    pub async fn drive_run(&self, drive: Drive, week_concurrency: u32) -> Result<Outcome, Error> {
        let Drive {
            run_id,
            provider,
            kind,
        } = drive;
        let Some((machine, seq)) = self.store.load(run_id)? else {
            return Err(Error::NotFound {
                run_id: run_id.to_string(),
                dir: self.store.dir().to_path_buf(),
            });
        };
        let at_ms = self.clock.now_ms();
        let event = match (machine.state(), kind) {
            (State::Done {}, _) => {
                return Ok(Outcome::Done {
                    run_id,
                    path: plan_path(machine.run()),
                })
            }
            (State::Failed { reason }, DriveKind::Continue) => {
                return Ok(Outcome::Failed {
                    run_id,
                    reason: reason.clone(),
                })
            }
            (State::Failed { .. }, DriveKind::Retry { budget }) => Event::Retry {
                budget,
                at_ms,
                week_concurrency,
            },
            (other, DriveKind::Retry { .. }) => {
                return Err(Error::NotFailed {
                    run_id,
                    state: workflow::state_name(other),
                })
            }
            // `started` is announced with this first transition, after its flush.
            (State::Created {}, DriveKind::Continue) => Event::Start {
                at_ms,
                week_concurrency,
            },
            (_, DriveKind::Continue) => Event::Resume {
                at_ms,
                week_concurrency,
            },
        };
        if !matches!(event, Event::Start { .. }) {
            (self.observer)(&Progress::Started {
                run_id,
                total_weeks: machine.run().spec.total_weeks,
                resumed: true,
            });
        }
        let mut tasks = JoinSet::new();
        let result = self.drive(machine, seq, event, &provider, &mut tasks).await;
        // Whatever ended the loop, no task outlives its driver.
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        result
    }

    /// The driver loop of one run.
    async fn drive(
        &self,
        mut machine: Machine,
        mut seq: u64,
        first: Event,
        provider: &Provider,
        tasks: &mut JoinSet<Result<Event, Error>>,
    ) -> Result<Outcome, Error> {
        let run_id = machine.run().spec.run_id;
        let span = tracing::info_span!("run", run_id = %run_id);
        async move {
            let mut owned: HashMap<tokio::task::Id, Task> = HashMap::new();
            let mut parts = None;
            let mut ready = vec![first];
            let mut shutdown = self.shutdown.clone();
            let mut stopping = shutdown.is_requested();
            let mut deadline = tokio::time::Instant::now();
            loop {
                // Commit every ready transition, then flush once before any effect leaves.
                let mut effects = Vec::new();
                let mut notices = Vec::new();
                let mut targets = Vec::new();
                for event in ready.drain(..) {
                    let target = crash_target(&event);
                    if let Some(target) = target {
                        self.crash_if(CrashAt::AfterEffect, target);
                    }
                    let before = progress::Before::of(machine.run(), &event);
                    let ctx = machine.handle(&event);
                    seq = self
                        .store
                        .commit(&machine, &ctx.dirty, seq, self.clock.now_ms())?;
                    if let Some(target) = target {
                        self.crash_if(CrashAt::AfterCommit, target);
                        targets.push(target);
                    }
                    notices.extend(progress::notices(&before, &machine, &event, &ctx));
                    effects.extend(ctx.effects);
                }
                self.store.flush().await?;
                for target in targets {
                    self.crash_if(CrashAt::AfterFlush, target);
                }
                for notice in &notices {
                    (self.observer)(notice);
                }
                for effect in effects {
                    if stopping {
                        // Committed but never started: resume issues it (at most once more).
                        continue;
                    }
                    let (task, future) = self.effect(&machine, effect, provider, &mut parts);
                    let handle = tasks.spawn(future);
                    owned.insert(handle.id(), task);
                }
                let work = owned
                    .values()
                    .filter(|task| !matches!(task, Task::Wait { .. }))
                    .count();
                if stopping && work == 0 {
                    return Ok(Outcome::Interrupted { run_id });
                }
                if owned.is_empty() {
                    let run = machine.run();
                    return match machine.state() {
                        State::Done {} => Ok(Outcome::Done {
                            run_id,
                            path: plan_path(run),
                        }),
                        State::Failed { reason } => Ok(Outcome::Failed {
                            run_id,
                            reason: reason.clone(),
                        }),
                        other => Err(Error::Stalled {
                            run_id,
                            state: workflow::state_name(other),
                        }),
                    };
                }
                // An effect that cannot complete (the plan file cannot be written) stops the
                // driver; the committed state stays as it is, for `resume`.
                let joined = tokio::select! {
                    joined = tasks.join_next_with_id() => joined.expect("the driver owns a task"),
                    () = shutdown.wait(), if !stopping => {
                        stopping = true;
                        deadline = tokio::time::Instant::now()
                            + std::time::Duration::from_millis(self.shutdown.grace_ms);
                        tracing::info!(in_flight = work, "shutdown requested");
                        continue;
                    }
                    () = tokio::time::sleep_until(deadline), if stopping => {
                        tracing::warn!(abandoned = work, "shutdown grace over; in-flight requests abandoned");
                        return Ok(Outcome::Interrupted { run_id });
                    }
                };
                let mut arrived = vec![joined];
                while let Some(joined) = tasks.try_join_next_with_id() {
                    arrived.push(joined);
                }
                for joined in arrived {
                    let (id, result) = match joined {
                        Ok((id, result)) => (id, result),
                        Err(failure) => {
                            let id = failure.id();
                            let task = owned.get(&id).copied();
                            (id, panicked(run_id, task, failure, self.clock.now_ms()))
                        }
                    };
                    owned.remove(&id);
                    let event = result?;
                    // A wait that ends while stopping is not acted on; resume re-arms it.
                    if !(stopping && matches!(event, Event::RetryDue { .. })) {
                        ready.push(event);
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    pub(crate) fn crash_if(&self, at: CrashAt, target: CrashTarget) {
        if self.crash == Some(CrashPoint { at, target }) {
            eprintln!(
                "periodize: crash point {} reached, aborting",
                CrashPoint { at, target }
            );
            std::process::abort();
        }
    }

    /// One effect as a task: what it is, and the future whose result is its event.
    fn effect(
        &self,
        machine: &Machine,
        effect: Effect,
        provider: &Provider,
        parts: &mut Option<crate::prompts::OverviewParts>,
    ) -> (Task, EffectFuture) {
        let run = machine.run();
        let run_id = run.spec.run_id;
        let clock = self.clock;
        match effect {
            Effect::CallModel {
                step,
                attempt,
                fallback,
            } => {
                // Nested in the run's span, which carries the run id.
                let span = match step {
                    StepId::Overview => tracing::info_span!("step", phase = "overview", attempt),
                    StepId::Week(week) => {
                        tracing::info_span!("step", phase = "weeks", week, attempt)
                    }
                };
                let request = build_request_with(&self.prompts, run, step, parts);
                // The built-in coach answers a week the model gave up on (--fallback builtin).
                let provider = if fallback {
                    Provider::Builtin(crate::providers::builtin::BuiltinCoach { latency_ms: 0 })
                } else {
                    provider.clone()
                };
                let future = async move {
                    let reply = match request {
                        Ok(request) => {
                            tracing::debug!("request sent");
                            provider.call(&request).await
                        }
                        Err(message) => ModelReply {
                            outcome: ModelOutcome::Failed(ModelFailure::Fatal { message }),
                            usage: Usage::default(),
                        },
                    };
                    tracing::debug!(outcome = outcome_name(&reply.outcome), "reply received");
                    let cost_micro_usd = provider
                        .price()
                        .map(|price| price.cost_micro_usd(&reply.usage));
                    Ok(Event::Replied {
                        step,
                        attempt,
                        reply,
                        cost_micro_usd,
                        at_ms: clock.now_ms(),
                    })
                }
                .instrument(span);
                (Task::Request { step, attempt }, Box::pin(future))
            }
            Effect::Wait { step, until_ms } => {
                let future = async move {
                    tokio::time::sleep_until(clock.instant_at(until_ms)).await;
                    Ok(Event::RetryDue {
                        step,
                        at_ms: clock.now_ms(),
                    })
                };
                (Task::Wait { step }, Box::pin(future))
            }
            Effect::WritePlan { file_name } => {
                let bytes = match crate::planfile::render(run) {
                    Ok(bytes) => bytes,
                    Err(overflow) => {
                        let error = Error::Calendar { run_id, overflow };
                        return (Task::WritePlan, Box::pin(async move { Err(error) }));
                    }
                };
                let dir = PathBuf::from(&run.spec.output_dir);
                let exports = run.spec.exports.clone();
                let crash = self.crash;
                let store = self.store.clone();
                let span = tracing::info_span!("step", phase = "finalize");
                let future = async move {
                    let path = dir.join(&file_name);
                    let written = tokio::task::spawn_blocking(move || {
                        let path =
                            write_plan_and_exports(&dir, &file_name, &bytes, &exports, crash)?;
                        // A shared store keeps the plan too, so any machine can serve it.
                        store
                            .put_plan_file(run_id, &file_name, &bytes)
                            .map_err(FinalWriteError::Store)?;
                        Ok(path)
                    })
                    .await
                    .unwrap_or_else(|failure| {
                        Err(FinalWriteError::Io {
                            path: None,
                            source: std::io::Error::other(format!(
                                "the plan writer failed: {failure}"
                            )),
                        })
                    });
                    match written {
                        Ok(path) => {
                            tracing::info!(path = %path.display(), "plan written");
                            if crash
                                == Some(CrashPoint {
                                    at: CrashAt::AfterWrite,
                                    target: CrashTarget::Finalize,
                                })
                            {
                                eprintln!(
                                    "periodize: crash point after-write:finalize reached, aborting"
                                );
                                std::process::abort();
                            }
                            Ok(Event::PlanWritten {
                                at_ms: clock.now_ms(),
                            })
                        }
                        // Without its files the run cannot finish: the driver stops with this
                        // error and the committed Finalizing state waits for `resume`, which
                        // writes them all again.
                        Err(FinalWriteError::Io {
                            path: failed,
                            source,
                        }) => Err(Error::WritePlan {
                            run_id,
                            path: failed.unwrap_or(path),
                            source,
                        }),
                        Err(FinalWriteError::Export(reason)) => {
                            Err(Error::Export { run_id, reason })
                        }
                        Err(FinalWriteError::Store(err)) => Err(Error::Store(err)),
                    }
                }
                .instrument(span);
                (Task::WritePlan, Box::pin(future))
            }
        }
    }

    /// Renders the request for a step from the run as committed.
    pub fn build_request(&self, run: &Run, step: StepId) -> Result<ToolRequest, String> {
        build_request(&self.prompts, run, step)
    }
}

/// Why 3c could not write its files.
enum FinalWriteError {
    /// A write failed; `path` names the export file when it was one (else the plan file).
    Io {
        path: Option<PathBuf>,
        source: std::io::Error,
    },
    Export(String),
    Store(crate::store::Error),
}

/// 3c's writes, in order: the plan file, then each export under the folder named by the plan
/// file (`workflow::export_dir_name`), every file atomically. The exports are read from the
/// plan's own bytes, so they are what `periodize export` of that file writes, and a run
/// resumed in Finalizing writes the same names and bytes again. Returns the plan's path.
fn write_plan_and_exports(
    dir: &Path,
    file_name: &str,
    bytes: &[u8],
    exports: &[crate::export::Format],
    crash: Option<CrashPoint>,
) -> Result<PathBuf, FinalWriteError> {
    let io = |path: Option<PathBuf>| move |source| FinalWriteError::Io { path, source };
    let plan_path = output::write_atomically(dir, file_name, bytes).map_err(io(None))?;
    if exports.is_empty() {
        return Ok(plan_path);
    }
    let text =
        std::str::from_utf8(bytes).map_err(|err| FinalWriteError::Export(err.to_string()))?;
    let model = crate::export::model::from_plan_text(text)
        .map_err(|err| FinalWriteError::Export(err.to_string()))?;
    let export_dir = dir.join(workflow::export_dir_name(file_name));
    let files = crate::export::files_of(&model, exports, crate::export::DateRange::default());
    for (index, file) in files.iter().enumerate() {
        output::write_atomically_at(&export_dir, &file.name, &file.bytes)
            .map_err(io(Some(export_dir.join(&file.name))))?;
        let between = index == 0 && files.len() > 1;
        if between
            && crash
                == Some(CrashPoint {
                    at: CrashAt::AfterWrite,
                    target: CrashTarget::Export,
                })
        {
            eprintln!("periodize: crash point after-write:export reached, aborting");
            std::process::abort();
        }
    }
    tracing::info!(dir = %export_dir.display(), files = files.len(), "exports written");
    Ok(plan_path)
}

/// A task that panicked: a request becomes a fatal failure of its step (the run's policy then
/// decides), a wait ends at once, a plan write stops the driver.
fn panicked(
    run_id: RunId,
    task: Option<Task>,
    failure: tokio::task::JoinError,
    at_ms: u64,
) -> Result<Event, Error> {
    let message = if failure.is_panic() {
        "an internal error (a panic) ended the request".to_string()
    } else {
        "the request was cancelled".to_string()
    };
    tracing::error!(?task, %message, "an effect task failed");
    match task {
        Some(Task::Request { step, attempt }) => Ok(Event::Replied {
            step,
            attempt,
            reply: ModelReply {
                outcome: ModelOutcome::Failed(ModelFailure::Fatal { message }),
                usage: Usage::default(),
            },
            // No reply came back, so nothing is known to have been billed.
            cost_micro_usd: Some(0),
            at_ms,
        }),
        Some(Task::Wait { step }) => Ok(Event::RetryDue { step, at_ms }),
        Some(Task::WritePlan) | None => Err(Error::Panicked { run_id, message }),
    }
}

/// Where a run's plan file is (or will be, once Finalizing fixed its name).
pub fn plan_path(run: &Run) -> PathBuf {
    Path::new(&run.spec.output_dir).join(run.output_file.as_deref().unwrap_or("(not finalized)"))
}

/// Where a finalized run's exports are, when it asked for any.
pub fn exports_path(run: &Run) -> Option<PathBuf> {
    let file_name = run.output_file.as_deref()?;
    (!run.spec.exports.is_empty())
        .then(|| Path::new(&run.spec.output_dir).join(workflow::export_dir_name(file_name)))
}

/// Renders the request for a step from the run as committed. Pure.
pub fn build_request(prompts: &PromptSet, run: &Run, step: StepId) -> Result<ToolRequest, String> {
    build_request_with(prompts, run, step, &mut None)
}

/// As `build_request`, keeping the overview's prompt parts in `parts` across a run's weeks.
fn build_request_with(
    prompts: &PromptSet,
    run: &Run,
    step: StepId,
    parts: &mut Option<crate::prompts::OverviewParts>,
) -> Result<ToolRequest, String> {
    let spec = &run.spec;
    let brief = StepBrief {
        step,
        profile: spec.profile.clone(),
        total_weeks: spec.total_weeks,
        event: spec.event_day(),
        rules: spec.rules.clone(),
        overview: match step {
            StepId::Overview => None,
            StepId::Week(_) => run.overview_shared(),
        },
    };
    let (messages, tool, max_output_tokens) = match step {
        StepId::Overview => (
            prompts.overview_messages_with_start(&brief, Some(spec.start_date)),
            tools::overview_tool(spec.total_weeks),
            tools::overview_output_tokens(spec.total_weeks),
        ),
        StepId::Week(_) => {
            if let Some(overview) = &brief.overview {
                if !parts.as_ref().is_some_and(|parts| parts.is_for(overview)) {
                    *parts =
                        crate::prompts::OverviewParts::new(overview.clone(), &spec.profile).ok();
                }
            }
            (
                prompts.week_messages_with(&brief, parts.as_ref()),
                tools::week_tool(),
                tools::WEEK_OUTPUT_TOKENS,
            )
        }
    };
    let (system, user) =
        messages.map_err(|err| format!("cannot render the prompts for {step}: {err}"))?;
    // A prompt cache mark is an optimisation: a failure to find the shared part costs tokens,
    // never the request.
    let shared_prefix_bytes = match (step, parts.as_mut()) {
        (StepId::Week(_), Some(parts)) => prompts
            .week_shared_prefix_bytes(&brief, parts)
            .unwrap_or(0)
            .min(user.len()),
        _ => 0,
    };
    Ok(ToolRequest {
        system,
        user,
        tool,
        repair_turns: run.step(step).repair_turns.clone(),
        max_output_tokens,
        brief,
        shared_prefix_bytes,
    })
}

fn crash_target(event: &Event) -> Option<CrashTarget> {
    match event {
        Event::Replied {
            step: StepId::Overview,
            ..
        } => Some(CrashTarget::Overview),
        Event::Replied {
            step: StepId::Week(week),
            ..
        } => Some(CrashTarget::Week(*week)),
        Event::PlanWritten { .. } => Some(CrashTarget::Finalize),
        _ => None,
    }
}

fn outcome_name(outcome: &ModelOutcome) -> &'static str {
    match outcome {
        ModelOutcome::Call(_) => "call",
        ModelOutcome::Failed(ModelFailure::Transient { .. }) => "transient",
        ModelOutcome::Failed(ModelFailure::Fatal { .. }) => "fatal",
        ModelOutcome::Failed(ModelFailure::ContextLength { .. }) => "context_length",
        ModelOutcome::Failed(ModelFailure::Malformed { .. }) => "malformed",
    }
}

fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
