//! The engine, the imperative shell: the only place that awaits, spawns, sleeps, reads the
//! clock or writes plan files. It feeds events to a run's machine, commits each transition,
//! flushes, and only then executes the effects the transition emitted.

pub mod crash;
pub mod output;
pub mod progress;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tracing::Instrument;

use crate::engine::crash::{CrashAt, CrashPoint, CrashTarget};
use crate::engine::progress::{Observer, Progress};
use crate::llm::{ModelFailure, ModelOutcome, ModelReply, StepBrief, StepId, ToolRequest, Usage};
use crate::prompts::PromptSet;
use crate::providers::Provider;
use crate::store::Store;
use crate::tools;
use crate::workflow::{self, Effect, Event, Machine, Run, RunId, RunSpec, State};

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
    #[error("run {run_id} not found in {dir}")]
    NotFound { run_id: String, dir: PathBuf },
    #[error(
        "run {run_id} was created with {what}; resume with --accept-changes to continue anyway"
    )]
    Changed { run_id: RunId, what: String },
    #[error("run {run_id} is {state}, not failed; --retry only applies to failed runs")]
    NotFailed { run_id: RunId, state: &'static str },
    #[error("run {run_id} stalled in state {state} with no work in flight (an engine bug)")]
    Stalled { run_id: RunId, state: &'static str },
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
}

/// The shared parts every driven run uses.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub provider: Provider,
    pub prompts: Arc<PromptSet>,
    pub observer: Observer,
    pub crash: Option<CrashPoint>,
    pub shutdown: Shutdown,
}

/// Asks running drivers to stop: no new requests; requests in flight get `grace_ms` to finish
/// and be committed; waits are abandoned (they are persisted and resume re-arms them).
#[derive(Clone)]
pub struct Shutdown {
    requested: tokio::sync::watch::Receiver<bool>,
    pub grace_ms: u64,
}

impl Shutdown {
    /// A shutdown that never comes (tests, benchmarks).
    pub fn never() -> Shutdown {
        let (sender, requested) = tokio::sync::watch::channel(false);
        // Keep the channel open forever so `changed()` never resolves.
        std::mem::forget(sender);
        Shutdown {
            requested,
            grace_ms: 0,
        }
    }

    /// A shutdown and the handle that triggers it.
    pub fn new(grace_ms: u64) -> (Shutdown, tokio::sync::watch::Sender<bool>) {
        let (sender, requested) = tokio::sync::watch::channel(false);
        (
            Shutdown {
                requested,
                grace_ms,
            },
            sender,
        )
    }

    fn is_requested(&self) -> bool {
        *self.requested.borrow()
    }

    async fn wait(&mut self) {
        while !*self.requested.borrow_and_update() {
            if self.requested.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

pub fn now_ms() -> u64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

/// A fresh run id from the OS-seeded hasher keys and the clock: unique without a RNG crate.
pub fn new_run_id() -> RunId {
    use std::hash::{BuildHasher, Hasher};
    let mut high = std::collections::hash_map::RandomState::new().build_hasher();
    high.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    high.write_u32(std::process::id());
    let mut low = std::collections::hash_map::RandomState::new().build_hasher();
    low.write_u64(high.finish());
    RunId((u128::from(high.finish()) << 64) | u128::from(low.finish()))
}

impl Engine {
    /// Starts a new run and drives it to Done or Failed.
    pub async fn start(&self, spec: RunSpec, week_concurrency: u32) -> Result<Outcome, Error> {
        // `started` is announced with the first transition, after its flush: a run is never
        // announced before it is durable.
        let machine = Machine::new(spec);
        self.drive(
            machine,
            0,
            Event::Start {
                at_ms: now_ms(),
                week_concurrency,
            },
        )
        .await
    }

    /// Continues a stored run after a restart (or, with `retry`, a failed run).
    pub async fn resume(
        &self,
        run_id: RunId,
        week_concurrency: u32,
        retry: bool,
        accept_changes: bool,
        budget: Option<crate::workflow::Budget>,
    ) -> Result<Outcome, Error> {
        let Some((machine, seq)) = self.store.load(run_id)? else {
            return Err(Error::NotFound {
                run_id: run_id.to_string(),
                dir: self.store.dir().to_path_buf(),
            });
        };
        let spec = &machine.run().spec;
        if !accept_changes {
            let mut changed = Vec::new();
            if spec.prompt_hash != self.prompts.hash() {
                changed.push(format!(
                    "prompts {} (now {})",
                    short_hash(&spec.prompt_hash),
                    short_hash(&self.prompts.hash())
                ));
            }
            if spec.provider != self.provider.name() || spec.model != self.provider.model() {
                changed.push(format!(
                    "provider {} model {} (now {} {})",
                    spec.provider,
                    spec.model,
                    self.provider.name(),
                    self.provider.model()
                ));
            }
            if !changed.is_empty() {
                return Err(Error::Changed {
                    run_id,
                    what: changed.join(" and "),
                });
            }
        }
        let state = machine.state().clone();
        match (&state, retry) {
            (State::Done {}, _) => {
                let path = self.plan_path(machine.run(), &state);
                return Ok(Outcome::Done { run_id, path });
            }
            (State::Failed { reason }, false) => {
                return Ok(Outcome::Failed {
                    run_id,
                    reason: reason.clone(),
                })
            }
            (State::Failed { .. }, true) => {}
            (other, true) => {
                return Err(Error::NotFailed {
                    run_id,
                    state: workflow::state_name(other),
                })
            }
            _ => {}
        }
        (self.observer)(&Progress::Started {
            run_id,
            total_weeks: spec.total_weeks,
            resumed: true,
        });
        let event = if retry {
            Event::Retry {
                budget,
                at_ms: now_ms(),
                week_concurrency,
            }
        } else {
            Event::Resume {
                at_ms: now_ms(),
                week_concurrency,
            }
        };
        self.drive(machine, seq, event).await
    }

    fn plan_path(&self, run: &Run, _state: &State) -> PathBuf {
        plan_path(run)
    }

    /// The driver loop of one run.
    async fn drive(
        &self,
        mut machine: Machine,
        mut seq: u64,
        first: Event,
    ) -> Result<Outcome, Error> {
        let run_id = machine.run().spec.run_id;
        let span = tracing::info_span!("run", run_id = %run_id);
        async move {
            let (sender, mut receiver) = mpsc::unbounded_channel::<Result<Event, Error>>();
            let mut ready = vec![first];
            // Requests and plan writes in flight, and retry waits, counted apart: a shutdown
            // waits (within its grace) for the first, never for the second.
            let mut work: usize = 0;
            let mut waits: usize = 0;
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
                    let before = machine.run().clone();
                    let ctx = machine.handle(&event);
                    seq += 1;
                    self.store.commit(&machine, &ctx.dirty, seq, now_ms())?;
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
                    match effect {
                        Effect::Wait { .. } => waits += 1,
                        _ => work += 1,
                    }
                    self.execute(&machine, effect, sender.clone());
                }
                if stopping && work == 0 {
                    return Ok(Outcome::Interrupted { run_id });
                }
                if work + waits == 0 {
                    let run = machine.run();
                    return match machine.state() {
                        State::Done {} => Ok(Outcome::Done {
                            run_id,
                            path: self.plan_path(run, machine.state()),
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
                let event = tokio::select! {
                    event = receiver.recv() => event.expect("the driver holds a sender, so the channel stays open")?,
                    () = shutdown.wait(), if !stopping => {
                        stopping = true;
                        deadline = tokio::time::Instant::now() + Duration::from_millis(self.shutdown.grace_ms);
                        tracing::info!(in_flight = work, "shutdown requested");
                        continue;
                    }
                    () = tokio::time::sleep_until(deadline), if stopping => {
                        tracing::warn!(abandoned = work, "shutdown grace over; in-flight requests abandoned");
                        return Ok(Outcome::Interrupted { run_id });
                    }
                };
                let mut arrived = vec![event];
                while let Ok(event) = receiver.try_recv() {
                    arrived.push(event?);
                }
                for event in arrived {
                    match event {
                        Event::RetryDue { .. } => waits -= 1,
                        _ => work -= 1,
                    }
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

    fn crash_if(&self, at: CrashAt, target: CrashTarget) {
        if self.crash == Some(CrashPoint { at, target }) {
            eprintln!(
                "periodize: crash point {} reached, aborting",
                CrashPoint { at, target }
            );
            std::process::abort();
        }
    }

    /// Starts one effect; its result comes back as an event on `sender`.
    fn execute(
        &self,
        machine: &Machine,
        effect: Effect,
        sender: mpsc::UnboundedSender<Result<Event, Error>>,
    ) {
        let run = machine.run();
        let run_id = run.spec.run_id;
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
                let request = self.build_request(run, step);
                // The built-in coach answers a week the model gave up on (--fallback builtin).
                let provider = if fallback {
                    Provider::Builtin(crate::providers::builtin::BuiltinCoach { latency_ms: 0 })
                } else {
                    self.provider.clone()
                };
                tokio::spawn(
                    async move {
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
                        let _ = sender.send(Ok(Event::Replied {
                            step,
                            attempt,
                            reply,
                            at_ms: now_ms(),
                        }));
                    }
                    .instrument(span),
                );
            }
            Effect::Wait { step, until_ms } => {
                let delay = Duration::from_millis(until_ms.saturating_sub(now_ms()));
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = sender.send(Ok(Event::RetryDue {
                        step,
                        at_ms: now_ms(),
                    }));
                });
            }
            Effect::WritePlan { file_name } => {
                let bytes = crate::planfile::render(run);
                let dir = PathBuf::from(&run.spec.output_dir);
                let crash = self.crash;
                let span = tracing::info_span!("step", phase = "finalize");
                tokio::spawn(
                    async move {
                        let path = dir.join(&file_name);
                        let written = tokio::task::spawn_blocking(move || output::write_atomically(&dir, &file_name, &bytes))
                            .await
                            .expect("the plan writer does not panic");
                        let event = match written {
                            Ok(path) => {
                                tracing::info!(path = %path.display(), "plan written");
                                if crash == Some(CrashPoint { at: CrashAt::AfterWrite, target: CrashTarget::Finalize }) {
                                    eprintln!("periodize: crash point after-write:finalize reached, aborting");
                                    std::process::abort();
                                }
                                Ok(Event::PlanWritten { at_ms: now_ms() })
                            }
                            // Without the file the run cannot finish: the driver stops with this
                            // error and the committed Finalizing state waits for `resume`.
                            Err(source) => Err(Error::WritePlan { run_id, path, source }),
                        };
                        let _ = sender.send(event);
                    }
                    .instrument(span),
                );
            }
        }
    }

    /// Renders the request for a step from the run as committed.
    pub fn build_request(&self, run: &Run, step: StepId) -> Result<ToolRequest, String> {
        build_request(&self.prompts, run, step)
    }
}

/// Where a run's plan file is (or will be, once Finalizing fixed its name).
pub fn plan_path(run: &Run) -> PathBuf {
    Path::new(&run.spec.output_dir).join(run.output_file.as_deref().unwrap_or("(not finalized)"))
}

/// Renders the request for a step from the run as committed. Pure.
pub fn build_request(prompts: &PromptSet, run: &Run, step: StepId) -> Result<ToolRequest, String> {
    let spec = &run.spec;
    let brief = StepBrief {
        step,
        profile: spec.profile.clone(),
        total_weeks: spec.total_weeks,
        rules: spec.rules.clone(),
        overview: match step {
            StepId::Overview => None,
            StepId::Week(_) => run.overview().cloned(),
        },
    };
    let (messages, tool, max_output_tokens) = match step {
        StepId::Overview => (
            prompts.overview_messages_with_start(&brief, Some(spec.start_date)),
            tools::overview_tool(spec.total_weeks),
            2_000 + 400 * spec.total_weeks,
        ),
        StepId::Week(_) => (prompts.week_messages(&brief), tools::week_tool(), 6_000),
    };
    let (system, user) =
        messages.map_err(|err| format!("cannot render the prompts for {step}: {err}"))?;
    Ok(ToolRequest {
        system,
        user,
        tool,
        repair_turns: run.step(step).repair_turns.clone(),
        max_output_tokens,
        brief,
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
        ModelOutcome::Failed(ModelFailure::Malformed { .. }) => "malformed",
    }
}

fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
