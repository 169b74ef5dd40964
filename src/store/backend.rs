//! The store boundary a backend implements: records in, records out, a compare-and-set on each
//! run's commit sequence, and leases on runs. sled (`sled_store.rs`) is the embedded backend of
//! one process; PostgreSQL (`postgres/`) is shared by a fleet, where the commit is a
//! transaction that also checks the committer's lease. Backends see only the versioned records
//! of `records`, never live workflow types.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use crate::store::records::{BatchRecord, HeadRecord, SpecRecord, StepRecord};
use crate::store::Error;
use crate::workflow::RunId;

/// A run as created: its spec and its first head (state `created`, sequence 0).
#[derive(Debug, Clone)]
pub struct NewRun {
    pub spec: SpecRecord,
    pub head: HeadRecord,
}

/// One transition of one run.
#[derive(Debug)]
pub struct Commit<'a> {
    pub run_id: RunId,
    /// The sequence the caller last read or committed; the commit is refused unless the stored
    /// head still has it, so a writer that lost the run cannot overwrite a newer state.
    pub expected_seq: u64,
    /// Its `seq` is `expected_seq + 1`.
    pub head: &'a HeadRecord,
    pub steps: &'a [StepRecord],
    /// Present when the run was read from an older format: the commit then rewrites the run
    /// whole (spec, head and every step) in the current one and drops the old records.
    pub upgrade: Option<&'a SpecRecord>,
}

/// Everything stored about one run, upgraded to the current format.
#[derive(Debug, Clone)]
pub struct RunRecords {
    pub spec: SpecRecord,
    pub head: HeadRecord,
    pub steps: Vec<StepRecord>,
    /// The format version the run's records were written with.
    pub version: u16,
}

pub type FlushFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

pub trait RecordStore: Send + Sync {
    /// Stores new runs (and the batch they belong to) in one atomic write. Refuses, writing
    /// nothing, if any of the runs already exists.
    fn create(&self, batch: Option<&BatchRecord>, runs: &[NewRun]) -> Result<(), Error>;

    /// Stores one transition atomically, if the run's stored sequence is `expected_seq`.
    fn commit(&self, commit: Commit<'_>) -> Result<(), Error>;

    /// Resolves once every commit that returned before the call is durable. Concurrent callers
    /// share one flush (group commit). A backend whose commit is already durable resolves at once.
    fn flush(&self) -> FlushFuture<'_>;

    /// The whole run.
    fn run(&self, run_id: RunId) -> Result<Option<RunRecords>, Error>;

    /// Whether a run exists, reading only its head.
    fn head(&self, run_id: RunId) -> Result<Option<HeadRecord>, Error>;

    /// Every run's head (with its summary), in key order.
    fn heads(&self) -> Result<Vec<(RunId, HeadRecord)>, Error>;

    /// The runs that are not done, each with whether it failed; read without touching the
    /// runs that are done, however many there are.
    fn open_runs(&self) -> Result<Vec<(RunId, bool)>, Error>;

    fn batch(&self, batch_id: u128) -> Result<Option<BatchRecord>, Error>;

    fn batches(&self) -> Result<Vec<BatchRecord>, Error>;

    /// The batch submitted with this digest, if any.
    fn batch_by_digest(&self, digest: &str) -> Result<Option<BatchRecord>, Error>;

    /// Leases to this process those of `run_ids` (in any state) whose lease is free, for
    /// `lease_ms` from `now_ms`; returns the ones it now holds.
    fn acquire(&self, run_ids: &[RunId], lease_ms: u64, now_ms: u64) -> Result<Vec<RunId>, Error>;

    /// Leases up to `max` runs that are neither done nor failed and whose lease is free, oldest
    /// first (a worker's claim).
    fn claim(&self, max: usize, lease_ms: u64, now_ms: u64) -> Result<Vec<RunId>, Error>;

    /// Extends every lease this process holds; returns the runs whose lease another process
    /// took (their next commit is refused).
    fn renew(&self, lease_ms: u64, now_ms: u64) -> Result<Vec<RunId>, Error>;

    /// Gives up this process's lease on a run, if it holds one.
    fn release(&self, run_id: RunId) -> Result<(), Error>;

    /// Keeps a finished run's plan file in the store, when the store is shared (so any machine
    /// can serve it); a store of one machine has it in its output directory already.
    fn put_plan_file(&self, run_id: RunId, name: &str, bytes: &[u8]) -> Result<(), Error>;

    /// The plan file kept by `put_plan_file`.
    fn plan_file(&self, run_id: RunId) -> Result<Option<(String, Vec<u8>)>, Error>;

    /// Reserves the next send slot of a provider endpoint for the whole fleet, `interval_ms`
    /// after the one before; returns how long to wait for it. `None`: the store is not shared,
    /// the process's own limiter is the whole limit.
    fn reserve_slot(&self, endpoint: &str, interval_ms: u64) -> Result<Option<u64>, Error>;
}

/// The leases of a store only one process opens (sled's directory lock): every run is this
/// process's, so a lease only keeps two drivers of this process off the same run.
#[derive(Debug, Default)]
pub struct LocalLeases {
    held: Mutex<BTreeSet<RunId>>,
}

impl LocalLeases {
    fn held(&self) -> std::sync::MutexGuard<'_, BTreeSet<RunId>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn acquire(&self, run_ids: &[RunId]) -> Vec<RunId> {
        let mut held = self.held();
        run_ids
            .iter()
            .copied()
            .filter(|run_id| held.insert(*run_id))
            .collect()
    }

    /// Takes up to `max` of `open` (runs with whether they failed) that are not held.
    pub fn claim(&self, open: Vec<(RunId, bool)>, max: usize) -> Vec<RunId> {
        let mut held = self.held();
        let mut taken = Vec::new();
        for (run_id, failed) in open {
            if taken.len() == max {
                break;
            }
            if !failed && held.insert(run_id) {
                taken.push(run_id);
            }
        }
        taken
    }

    pub fn release(&self, run_id: RunId) {
        self.held().remove(&run_id);
    }
}
