//! Many runs at once: the batch runner. New runs are stored (state `created`) and flushed before
//! any of them is driven, so a killed batch loses no profile; then at most `run_concurrency`
//! runs are driven at a time, each by its own task in one `JoinSet` that this runner drains.
//! A run whose task panics fails on its own; the others go on. A store failure (a full disk)
//! stops new runs from starting; the ones in flight stop at their next commit.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::engine::crash::{CrashAt, CrashTarget};
use crate::engine::{Engine, Error, Outcome};
use crate::providers::Provider;
use crate::workflow::{Batch, Budget, RunId, RunSpec, State};

/// The most runs driven at once, whatever the flags say.
pub const MAX_RUN_CONCURRENCY: u32 = 256;
/// The most weeks of one run requested at once.
pub const MAX_WEEK_CONCURRENCY: u32 = 64;

/// One run to drive, with the provider it is driven with.
#[derive(Clone)]
pub struct Drive {
    pub run_id: RunId,
    pub provider: Provider,
    pub kind: DriveKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DriveKind {
    /// Start a created run, or continue an interrupted one; a done or failed run is reported.
    Continue,
    /// `resume --retry`: a failed run gets a fresh attempt budget (and new limits, if given).
    Retry { budget: Option<Budget> },
}

/// How a run of the batch ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub run_id: RunId,
    pub result: Result<Outcome, Error>,
}

impl Engine {
    /// Stores new runs, and their batch, in state `created` and makes them durable. Nothing is
    /// driven before this returns.
    pub async fn submit(&self, batch: Option<&Batch>, specs: &[RunSpec]) -> Result<(), Error> {
        self.store.create_runs(batch, specs, self.clock.now_ms())?;
        self.crash_if(CrashAt::AfterCommit, CrashTarget::Create);
        self.store.flush().await?;
        self.crash_if(CrashAt::AfterFlush, CrashTarget::Create);
        Ok(())
    }

    /// Drives runs, at most `run_concurrency` at once, in the order given; returns one outcome
    /// per run. Each run is leased first: one whose lease another worker of a shared store
    /// holds waits for it (or for the run to end there). Runs not started because of a
    /// shutdown are `Interrupted`.
    pub async fn run_all(
        &self,
        drives: Vec<Drive>,
        run_concurrency: u32,
        week_concurrency: u32,
    ) -> Vec<RunOutcome> {
        self.pool(
            Source::Listed(drives.into()),
            run_concurrency,
            week_concurrency,
        )
        .await
    }

    /// A worker: claims runs that no worker holds (a killed worker's once its leases expire),
    /// at most `run_concurrency` at a time, and drives each with the provider it was made
    /// with; until a shutdown, or with `until_idle` until every run is done or failed.
    pub async fn work(
        &self,
        claiming: Claiming,
        run_concurrency: u32,
        week_concurrency: u32,
    ) -> Vec<RunOutcome> {
        self.pool(Source::Claimed(claiming), run_concurrency, week_concurrency)
            .await
    }

    /// The one loop behind `run_all` and `work`: leases, drives, renews and releases.
    async fn pool(
        &self,
        mut source: Source,
        run_concurrency: u32,
        week_concurrency: u32,
    ) -> Vec<RunOutcome> {
        let limit = run_concurrency.clamp(1, MAX_RUN_CONCURRENCY) as usize;
        let week_concurrency = week_concurrency.clamp(1, MAX_WEEK_CONCURRENCY);
        let mut tasks = JoinSet::new();
        let mut owners: HashMap<tokio::task::Id, RunId> = HashMap::new();
        let mut outcomes = Vec::new();
        let mut store_failed = false;
        let keeps_working = matches!(source, Source::Claimed(_));
        let mut claims_failing = false;
        let mut shutdown = self.shutdown.clone();
        let renew_every = Duration::from_millis(self.store.renew_every_ms().max(1));
        let mut next_renewal = tokio::time::Instant::now() + renew_every;
        let poll = Duration::from_millis(IDLE_POLL_MS.min(self.store.lease_ms() / 2).max(1));
        loop {
            if !store_failed && !self.shutdown.is_requested() && tasks.len() < limit {
                match self.next_drives(&mut source, limit - tasks.len(), &mut outcomes) {
                    Ok(drives) => {
                        if std::mem::take(&mut claims_failing) {
                            eprintln!("periodize: claiming runs again");
                        }
                        for drive in drives {
                            let engine = self.clone();
                            let run_id = drive.run_id;
                            let handle = tasks.spawn(async move {
                                let result = engine.drive_run(drive, week_concurrency).await;
                                if let Err(err) = engine.store.release(run_id) {
                                    tracing::warn!(run_id = %run_id, error = %err, "the lease could not be released; it expires");
                                }
                                result
                            });
                            owners.insert(handle.id(), run_id);
                        }
                    }
                    // A worker outlives a database that went away for a while (a restart, a
                    // failover): it says so once and claims again at the next poll.
                    Err(err) if keeps_working => {
                        if !claims_failing {
                            eprintln!(
                                "periodize: cannot claim runs, trying again every {} ms: {}",
                                poll.as_millis(),
                                crate::store::doctor::chain(&err)
                            );
                        }
                        claims_failing = true;
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "the store cannot lease runs; no new run starts");
                        eprintln!(
                            "periodize: no new run starts: {}",
                            crate::store::doctor::chain(&err)
                        );
                        store_failed = true;
                    }
                }
            }
            if tasks.is_empty()
                && (store_failed || self.shutdown.is_requested() || source.finished(&self.store))
            {
                break;
            }
            let waiting = source.waits();
            tokio::select! {
                joined = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    let joined = joined.expect("the set is not empty");
                    let (task, result) = match joined {
                        Ok((task, result)) => (task, result),
                        Err(failure) => {
                            let task = failure.id();
                            let message = panic_message(failure);
                            let run_id = owners.get(&task).copied().unwrap_or(RunId(0));
                            tracing::error!(run_id = %run_id, %message, "a run's task panicked");
                            if let Err(err) = self.store.release(run_id) {
                                tracing::warn!(run_id = %run_id, error = %err, "the lease could not be released; it expires");
                            }
                            (task, Err(Error::Panicked { run_id, message }))
                        }
                    };
                    let run_id = owners.remove(&task).expect("every task has an owner");
                    let result = match result {
                        // Another worker holds the run now: its outcome is theirs to report.
                        Err(Error::Store(err)) if err.is_lost_lease() => {
                            eprintln!("periodize: {err}");
                            Ok(Outcome::Handed { run_id })
                        }
                        // A worker's run that the store failed stays stored: any worker
                        // continues it once its lease is free; this one goes on with others.
                        Err(Error::Store(err)) if keeps_working => {
                            eprintln!(
                                "periodize: run {run_id} stopped: {}; it continues once its lease is free",
                                crate::store::doctor::chain(&err)
                            );
                            Ok(Outcome::Handed { run_id })
                        }
                        Err(Error::Store(err)) => {
                            store_failed = true;
                            Err(Error::Store(err))
                        }
                        other => other,
                    };
                    outcomes.push(RunOutcome { run_id, result });
                }
                () = tokio::time::sleep_until(next_renewal) => {
                    next_renewal = tokio::time::Instant::now() + renew_every;
                    match self.store.renew(self.clock.now_ms()) {
                        Ok(lost) => {
                            for run_id in lost {
                                tracing::warn!(run_id = %run_id, "lease taken over by another worker; its next commit will be refused");
                            }
                        }
                        Err(err) => tracing::warn!(error = %err, "leases could not be renewed; retrying"),
                    }
                }
                () = tokio::time::sleep(poll), if waiting => {}
                () = shutdown.wait(), if !self.shutdown.is_requested() => {}
            }
        }
        for drive in source.unstarted() {
            outcomes.push(RunOutcome {
                run_id: drive.run_id,
                result: Ok(Outcome::Interrupted {
                    run_id: drive.run_id,
                }),
            });
        }
        outcomes
    }

    /// The next runs to drive, leased, at most `room` of them. A listed run that ended under
    /// another worker gets its outcome here instead.
    fn next_drives(
        &self,
        source: &mut Source,
        room: usize,
        outcomes: &mut Vec<RunOutcome>,
    ) -> Result<Vec<Drive>, crate::store::Error> {
        let now_ms = self.clock.now_ms();
        match source {
            Source::Listed(waiting) => {
                let mut candidates: Vec<Drive> = Vec::new();
                while candidates.len() < room {
                    let Some(drive) = waiting.pop_front() else {
                        break;
                    };
                    candidates.push(drive);
                }
                if candidates.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<RunId> = candidates.iter().map(|drive| drive.run_id).collect();
                let leased = self.store.acquire(&ids, now_ms)?;
                let mut drives = Vec::with_capacity(leased.len());
                let mut held_elsewhere = Vec::new();
                for drive in candidates {
                    if leased.contains(&drive.run_id) {
                        drives.push(drive);
                    } else if let Some(outcome) = self.ended_elsewhere(drive.run_id)? {
                        outcomes.push(RunOutcome {
                            run_id: drive.run_id,
                            result: Ok(outcome),
                        });
                    } else {
                        held_elsewhere.push(drive);
                    }
                }
                // Tried again after the next poll, behind the runs not tried yet.
                waiting.extend(held_elsewhere);
                Ok(drives)
            }
            Source::Claimed(claiming) => {
                let claimed = self.store.claim(room, now_ms)?;
                let mut drives = Vec::with_capacity(claimed.len());
                for run_id in claimed {
                    let provider = self
                        .store
                        .load_view(run_id)
                        .map_err(|err| err.to_string())
                        .and_then(|view| match view {
                            Some(view) => (claiming.provider_for)(&view.run.spec),
                            None => Err("the run is not in the store".into()),
                        });
                    match provider {
                        Ok(provider) => drives.push(Drive {
                            run_id,
                            provider,
                            kind: DriveKind::Continue,
                        }),
                        Err(reason) => {
                            eprintln!("periodize: run {run_id} cannot be driven here: {reason}; left for another worker");
                            claiming.skipped.insert(run_id);
                            self.store.release(run_id)?;
                        }
                    }
                }
                Ok(drives)
            }
        }
    }

    /// The outcome of a run another worker finished (done or failed), if it did.
    fn ended_elsewhere(&self, run_id: RunId) -> Result<Option<Outcome>, crate::store::Error> {
        Ok(match self.store.summary(run_id)? {
            Some(summary) => match summary.state {
                State::Done {} => Some(Outcome::Done {
                    run_id,
                    path: summary
                        .plan_path()
                        .unwrap_or_else(|| std::path::PathBuf::from(&summary.output_dir)),
                }),
                State::Failed { reason } => Some(Outcome::Failed { run_id, reason }),
                _ => None,
            },
            None => None,
        })
    }
}

/// How often a pool looks again for runs to claim, or for a listed run's lease to be free.
pub const IDLE_POLL_MS: u64 = 500;

/// The provider a claimed run is driven with, from its spec (an error: it cannot be here).
pub type ProviderFor = Arc<dyn Fn(&RunSpec) -> Result<Provider, String> + Send + Sync>;

/// What a worker claims with.
pub struct Claiming {
    pub provider_for: ProviderFor,
    /// Stop once every run of the store is done or failed (otherwise: at a shutdown).
    pub until_idle: bool,
    /// Runs this worker cannot drive (their provider does not resolve here): not claimed again.
    pub skipped: std::collections::BTreeSet<RunId>,
}

/// Where a pool's runs come from.
enum Source {
    /// The runs given, in order; those whose lease is held elsewhere go to the back.
    Listed(VecDeque<Drive>),
    Claimed(Claiming),
}

impl Source {
    /// Whether nothing is left to start: every listed run started, or (a worker with
    /// `until_idle`) no run of the store is open.
    fn finished(&self, store: &crate::store::Store) -> bool {
        match self {
            Source::Listed(waiting) => waiting.is_empty(),
            Source::Claimed(claiming) => {
                claiming.until_idle
                    && store.open_run_ids(false).is_ok_and(|open| {
                        open.iter().all(|run_id| claiming.skipped.contains(run_id))
                    })
            }
        }
    }

    /// Whether the pool should look again after a poll interval.
    fn waits(&self) -> bool {
        match self {
            Source::Listed(waiting) => !waiting.is_empty(),
            Source::Claimed(_) => true,
        }
    }

    fn unstarted(self) -> Vec<Drive> {
        match self {
            Source::Listed(waiting) => waiting.into(),
            Source::Claimed(_) => Vec::new(),
        }
    }
}

fn panic_message(failure: tokio::task::JoinError) -> String {
    if !failure.is_panic() {
        return "the run's task was cancelled".to_string();
    }
    let payload = failure.into_panic();
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}
