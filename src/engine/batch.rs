//! Many runs at once: the batch runner. New runs are stored (state `created`) and flushed before
//! any of them is driven, so a killed batch loses no profile; then at most `run_concurrency`
//! runs are driven at a time, each by its own task in one `JoinSet` that this runner drains.
//! A run whose task panics fails on its own; the others go on. A store failure (a full disk)
//! stops new runs from starting; the ones in flight stop at their next commit.

use std::collections::HashMap;

use tokio::task::JoinSet;

use crate::engine::crash::{CrashAt, CrashTarget};
use crate::engine::{Engine, Error, Outcome};
use crate::providers::Provider;
use crate::workflow::{Batch, Budget, RunId, RunSpec};

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
    /// per run. Runs not started because of a shutdown are `Interrupted`.
    pub async fn run_all(
        &self,
        drives: Vec<Drive>,
        run_concurrency: u32,
        week_concurrency: u32,
    ) -> Vec<RunOutcome> {
        let limit = run_concurrency.clamp(1, MAX_RUN_CONCURRENCY) as usize;
        let week_concurrency = week_concurrency.clamp(1, MAX_WEEK_CONCURRENCY);
        let mut waiting = drives.into_iter();
        let mut tasks = JoinSet::new();
        let mut owners: HashMap<tokio::task::Id, RunId> = HashMap::new();
        let mut outcomes = Vec::new();
        let mut store_failed = false;
        loop {
            while !store_failed && !self.shutdown.is_requested() && tasks.len() < limit {
                let Some(drive) = waiting.next() else { break };
                let engine = self.clone();
                let run_id = drive.run_id;
                let handle =
                    tasks.spawn(async move { engine.drive_run(drive, week_concurrency).await });
                owners.insert(handle.id(), run_id);
            }
            let Some(joined) = tasks.join_next_with_id().await else {
                break;
            };
            let (task, result) = match joined {
                Ok((task, result)) => (task, result),
                Err(failure) => {
                    let task = failure.id();
                    let message = panic_message(failure);
                    let run_id = owners.get(&task).copied().unwrap_or(RunId(0));
                    tracing::error!(run_id = %run_id, %message, "a run's task panicked");
                    (task, Err(Error::Panicked { run_id, message }))
                }
            };
            let run_id = owners.remove(&task).expect("every task has an owner");
            if matches!(result, Err(Error::Store(_))) {
                store_failed = true;
            }
            outcomes.push(RunOutcome { run_id, result });
        }
        for drive in waiting {
            outcomes.push(RunOutcome {
                run_id: drive.run_id,
                result: Ok(Outcome::Interrupted {
                    run_id: drive.run_id,
                }),
            });
        }
        outcomes
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
