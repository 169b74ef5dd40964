//! The store boundary a backend implements: records in, records out, and a compare-and-set on
//! each run's commit sequence. sled (`sled_store.rs`) is the embedded backend; a shared database
//! implements the same trait, where the commit is a transaction that also checks the sequence.
//! Backends see only the versioned records of `records`, never live workflow types.

use std::future::Future;
use std::pin::Pin;

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
}
