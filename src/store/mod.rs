//! The store: durable runs and batches behind the `RecordStore` boundary. This module converts
//! between live runs and the versioned records of `records`, and opens the one backend there is
//! today, sled (`sled_store.rs`, the only code that imports sled). A transition is one atomic
//! write of the run's head and the steps it changed, checked against the run's commit sequence;
//! `flush` makes it durable (for every run at once) before the engine runs any effect.
//! Key layout and record format are documented in `state/README.md`.

pub mod backend;
pub mod doctor;
pub mod files;
pub mod postgres;
pub mod records;
pub mod sled_store;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::llm::{StepId, Usage};
use crate::pricing::Cost;
use crate::store::backend::{Commit, NewRun, RecordStore, RunRecords};
pub use crate::store::postgres::conn::redacted as redacted_url;
pub use crate::store::postgres::is_database_url;
use crate::store::postgres::PgStore;
use crate::store::records::{
    BatchItemRecord, BatchRecord, BatchRefRecord, CodecError, HeadRecord, Id, SpecRecord,
    StepRecord, SummaryRecord, UsageRecord,
};
use crate::store::sled_store::SledStore;
use crate::workflow::{Batch, BatchItem, BatchRef, Machine, Run, RunId, RunSpec, State, StepState};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("state directory {dir} is in use by another periodize process; wait for it to finish or use another --state-dir")]
    Locked { dir: PathBuf },
    #[error("no store at {dir}: the directory does not exist (check --state-dir)")]
    NoStore { dir: PathBuf },
    #[error("--state-dir {dir} is not a directory")]
    NotADirectory { dir: PathBuf },
    #[error("state directory {dir} is read-only (a read-only mount, or no permission to write); this command writes every step there: use a writable --state-dir (read-only commands still work on this one)")]
    ReadOnlyDir { dir: PathBuf },
    #[error("store {dir} lost {file}: {why}")]
    Lost {
        dir: PathBuf,
        file: String,
        why: String,
    },
    #[error("store manifest {path} is unreadable: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error("cannot open state directory {dir}")]
    Open {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("store directory {dir}: cannot use {what}")]
    Files {
        dir: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy store {dir} to {view} to read it")]
    View {
        dir: PathBuf,
        view: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the file system of {dir} is full; free some space, then `periodize resume` continues"
    )]
    DiskFull { dir: PathBuf },
    #[error("store operation failed on {what}")]
    Io {
        what: String,
        #[source]
        source: sled::Error,
    },
    #[error("store flush failed: {reason}")]
    Flush { reason: String },
    #[error("the store was opened read-only")]
    ReadOnly,
    #[error("run {run_id} already exists")]
    Exists { run_id: RunId },
    #[error("run {run_id} changed under this process: expected commit {expected}, the store has {}; another writer owns it now", found.map_or("no run".to_string(), |seq| seq.to_string()))]
    Conflict {
        run_id: RunId,
        expected: u64,
        found: Option<u64>,
    },
    #[error("cannot reach the database {location}: {reason} (check --store or PERIODIZE_STORE)")]
    Unreachable { location: String, reason: String },
    #[error("the database {location} was migrated by a newer periodize (schema version {version}, {name:?}; this build knows up to {known}); upgrade periodize")]
    SchemaTooNew {
        location: String,
        version: i64,
        name: String,
        known: i64,
    },
    #[error("database operation failed: {what}")]
    Database {
        what: String,
        #[source]
        source: ::postgres::Error,
    },
    #[error("run {run_id}: this worker's lease (fencing token {token}) was taken over{}; its commit was refused and the run is left to its new holder", now.as_ref().map_or(String::new(), |(owner, token)| format!(" by {owner} (token {token})")))]
    Fenced {
        run_id: RunId,
        token: u64,
        /// The lease's holder and token now, when known.
        now: Option<(String, u64)>,
    },
    #[error("run {run_id} was committed without holding its lease (an engine bug)")]
    NotLeased { run_id: RunId },
    #[error("run {run_id}: record {key} is unreadable")]
    Corrupt {
        run_id: String,
        key: String,
        #[source]
        source: CodecError,
    },
    #[error("run {run_id}: record {key} is missing; run `periodize doctor`")]
    Missing { run_id: RunId, key: String },
    #[error("run {run_id}: record {key} belongs to run {holds}; run `periodize doctor`")]
    Foreign {
        run_id: RunId,
        key: String,
        holds: RunId,
    },
    #[error("run {run_id}: record {key} holds {holds}, not the step its key names; run `periodize doctor`")]
    Misplaced {
        run_id: RunId,
        key: String,
        holds: StepId,
    },
    #[error("store tree {tree} has a malformed key {key}: {reason}; run `periodize doctor`")]
    BadKey {
        tree: &'static str,
        key: String,
        reason: String,
    },
}

impl Error {
    /// Whether the error says another writer holds the run now (its lease was taken over, or
    /// its commit sequence moved on): that run stops here, the others go on.
    pub fn is_lost_lease(&self) -> bool {
        matches!(self, Error::Fenced { .. } | Error::Conflict { .. })
    }

    /// Whether the error is the disk running out of space (sled's or a file's).
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            Error::Io {
                source: sled::Error::Io(io),
                ..
            }
            | Error::Open {
                source: sled::Error::Io(io),
                ..
            } => io,
            Error::Files { source, .. } | Error::View { source, .. } => source,
            Error::Flush { reason } => return reason.contains("No space left on device"),
            Error::DiskFull { .. } => return true,
            _ => return false,
        };
        io.raw_os_error() == Some(libc::ENOSPC) || io.kind() == std::io::ErrorKind::StorageFull
    }
}

/// Whether a command may change the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// Never writes to the store: reads it in place only when sled would write nothing, and
    /// otherwise reads a private copy.
    ReadOnly,
}

/// What a flush must survive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// A killed process (sled's flush: `pwrite` and `sync_file_range`).
    #[default]
    Process,
    /// A power loss: an `fdatasync` of the log after every flush.
    Power,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    pub access: Access,
    pub durability: Durability,
    /// Create the directory when it does not exist (only `generate` and `batch` do).
    pub create: bool,
}

impl OpenOptions {
    pub fn read_only() -> OpenOptions {
        OpenOptions {
            access: Access::ReadOnly,
            durability: Durability::Process,
            create: false,
        }
    }

    pub fn read_write(durability: Durability) -> OpenOptions {
        OpenOptions {
            access: Access::ReadWrite,
            durability,
            create: false,
        }
    }

    pub fn creating(durability: Durability) -> OpenOptions {
        OpenOptions {
            create: true,
            ..OpenOptions::read_write(durability)
        }
    }
}

/// A run at a glance, from its head record only.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub run_id: RunId,
    pub state: State,
    pub seq: u64,
    pub updated_at_ms: u64,
    pub finished_at_ms: Option<u64>,
    pub athlete: String,
    pub total_weeks: u32,
    pub weeks_done: u32,
    pub attempts: u32,
    pub requests: u32,
    pub tokens: Usage,
    pub cost: Cost,
    pub provider: String,
    pub model: String,
    pub created_at_ms: u64,
    pub output_dir: String,
    pub output_file: Option<String>,
    pub batch: Option<BatchRef>,
}

impl RunSummary {
    pub fn elapsed_ms(&self) -> u64 {
        self.finished_at_ms
            .unwrap_or(self.updated_at_ms)
            .saturating_sub(self.created_at_ms)
    }

    /// The plan file, once `Finalizing` fixed its name.
    pub fn plan_path(&self) -> Option<PathBuf> {
        self.output_file
            .as_ref()
            .map(|name| Path::new(&self.output_dir).join(name))
    }
}

/// A stored run for read-only commands: the run, its state and its last transition.
#[derive(Debug, Clone)]
pub struct RunView {
    pub run: Run,
    pub state: State,
    pub seq: u64,
    pub updated_at_ms: u64,
    /// The format version the run's records were written with.
    pub version: u16,
}

/// Where the store is: a directory of this machine (sled), or a database a fleet shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    /// A `postgres://` or `postgresql://` URL (it may hold a password: never print it).
    Database(String),
}

impl Location {
    /// The directory of this machine the store grows in; none for a database.
    pub fn local_dir(&self) -> Option<&Path> {
        match self {
            Location::Dir(dir) => Some(dir),
            Location::Database(_) => None,
        }
    }

    /// Whether a store may be there to read: a directory that exists, or any database.
    pub fn may_hold_runs(&self) -> bool {
        self.local_dir().is_none_or(Path::is_dir)
    }
}

/// How long a lease lasts unless its holder renews it, by default.
pub const DEFAULT_LEASE_MS: u64 = 30_000;
/// A holder renews its leases this many times per lease period, so one late renewal (a slow
/// database, a busy machine) does not lose them.
pub const RENEWALS_PER_LEASE: u64 = 3;
/// The shortest lease accepted: renewals must fit round trips to the database.
pub const MIN_LEASE_MS: u64 = 300;

/// The durable home of every run.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn RecordStore>,
    /// The same backend, when it is sled: for `doctor`, flush counts and raw test access.
    sled: Option<Arc<SledStore>>,
    /// The same backend, when it is PostgreSQL: for `doctor` and the lease tests.
    database: Option<Arc<PgStore>>,
    /// How long the leases this process takes last.
    lease_ms: u64,
    dir: PathBuf,
    /// Runs read from an older format, with their upgraded spec: their next commit rewrites
    /// them whole in the current one.
    upgrades: Arc<Mutex<HashMap<RunId, SpecRecord>>>,
}

/// A store that does not exist yet, read by a read-only command: it holds nothing.
struct EmptyStore;

impl RecordStore for EmptyStore {
    fn create(&self, _: Option<&BatchRecord>, _: &[NewRun]) -> Result<(), Error> {
        Err(Error::ReadOnly)
    }
    fn commit(&self, _: Commit<'_>) -> Result<(), Error> {
        Err(Error::ReadOnly)
    }
    fn flush(&self) -> backend::FlushFuture<'_> {
        Box::pin(async { Ok(()) })
    }
    fn run(&self, _: RunId) -> Result<Option<RunRecords>, Error> {
        Ok(None)
    }
    fn head(&self, _: RunId) -> Result<Option<HeadRecord>, Error> {
        Ok(None)
    }
    fn heads(&self) -> Result<Vec<(RunId, HeadRecord)>, Error> {
        Ok(Vec::new())
    }
    fn open_runs(&self) -> Result<Vec<(RunId, bool)>, Error> {
        Ok(Vec::new())
    }
    fn batch(&self, _: u128) -> Result<Option<BatchRecord>, Error> {
        Ok(None)
    }
    fn batches(&self) -> Result<Vec<BatchRecord>, Error> {
        Ok(Vec::new())
    }
    fn batch_by_digest(&self, _: &str) -> Result<Option<BatchRecord>, Error> {
        Ok(None)
    }
    fn acquire(&self, _: &[RunId], _: u64, _: u64) -> Result<Vec<RunId>, Error> {
        Err(Error::ReadOnly)
    }
    fn claim(&self, _: usize, _: u64, _: u64) -> Result<Vec<RunId>, Error> {
        Err(Error::ReadOnly)
    }
    fn renew(&self, _: u64, _: u64) -> Result<Vec<RunId>, Error> {
        Ok(Vec::new())
    }
    fn release(&self, _: RunId) -> Result<(), Error> {
        Ok(())
    }
    fn put_plan_file(&self, _: RunId, _: &str, _: &[u8]) -> Result<(), Error> {
        Err(Error::ReadOnly)
    }
    fn plan_file(&self, _: RunId) -> Result<Option<(String, Vec<u8>)>, Error> {
        Ok(None)
    }
    fn reserve_slot(&self, _: &str, _: u64) -> Result<Option<u64>, Error> {
        Ok(None)
    }
}

pub(crate) fn wall_ms() -> u64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

/// A value that differs between calls and processes, for private directory names.
pub(crate) fn unique_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

impl Store {
    /// Opens the store in `dir`; returns it with notices of what was recovered on the way (an
    /// unfinished snapshot removed, say), for the user to read.
    pub fn open(dir: &Path, options: OpenOptions) -> Result<(Store, Vec<String>), Error> {
        if options.create && options.access == Access::ReadWrite && !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Files {
                dir: dir.to_path_buf(),
                what: "the state directory".into(),
                source,
            })?;
        }
        let state = files::inspect(dir)?;
        if options.access == Access::ReadOnly && state.empty {
            return Ok((Store::empty(dir.to_path_buf()), Vec::new()));
        }
        let (sled, notices) = SledStore::open(&state, options.access, options.durability)
            .map_err(|err| disk_full_as(err, dir))?;
        let sled = Arc::new(sled);
        Ok((
            Store {
                backend: sled.clone(),
                sled: Some(sled),
                database: None,
                lease_ms: DEFAULT_LEASE_MS,
                dir: dir.to_path_buf(),
                upgrades: Arc::default(),
            },
            notices,
        ))
    }

    /// A store that holds nothing yet, read by a read-only command at `dir`.
    fn empty(dir: PathBuf) -> Store {
        Store {
            backend: Arc::new(EmptyStore),
            sled: None,
            database: None,
            lease_ms: DEFAULT_LEASE_MS,
            dir,
            upgrades: Arc::default(),
        }
    }

    /// Opens the store at `location`: a directory as `open` does, or a database (created or
    /// migrated on first use by a writer).
    pub fn open_at(
        location: &Location,
        options: OpenOptions,
    ) -> Result<(Store, Vec<String>), Error> {
        match location {
            Location::Dir(dir) => Store::open(dir, options),
            Location::Database(url) => {
                let read_only = options.access == Access::ReadOnly;
                let database = Arc::new(PgStore::open(url, read_only)?);
                if read_only && !database.has_schema()? {
                    // Nobody stored anything there yet: a reader sees an empty store, as it
                    // does of a state directory that does not exist.
                    return Ok((Store::empty(PathBuf::from(database.location())), Vec::new()));
                }
                Ok((
                    Store {
                        backend: database.clone(),
                        sled: None,
                        dir: PathBuf::from(database.location()),
                        database: Some(database),
                        lease_ms: DEFAULT_LEASE_MS,
                        upgrades: Arc::default(),
                    },
                    Vec::new(),
                ))
            }
        }
    }

    /// The same store, taking leases of `lease_ms` (at least `MIN_LEASE_MS`).
    pub fn with_lease_ms(mut self, lease_ms: u64) -> Store {
        self.lease_ms = lease_ms.max(MIN_LEASE_MS);
        self
    }

    pub fn lease_ms(&self) -> u64 {
        self.lease_ms
    }

    /// How often a holder renews its leases.
    pub fn renew_every_ms(&self) -> u64 {
        self.lease_ms / RENEWALS_PER_LEASE
    }

    /// The database backend, when the store is one (for `doctor` and the lease tests).
    pub fn database(&self) -> Option<&PgStore> {
        self.database.as_deref()
    }

    /// Leases those of `run_ids` that no other process holds; returns them.
    pub fn acquire(&self, run_ids: &[RunId], now_ms: u64) -> Result<Vec<RunId>, Error> {
        self.backend.acquire(run_ids, self.lease_ms, now_ms)
    }

    /// Leases up to `max` open runs no process holds, oldest first.
    pub fn claim(&self, max: usize, now_ms: u64) -> Result<Vec<RunId>, Error> {
        self.backend.claim(max, self.lease_ms, now_ms)
    }

    /// Renews this process's leases; returns the runs whose lease was taken over.
    pub fn renew(&self, now_ms: u64) -> Result<Vec<RunId>, Error> {
        self.backend.renew(self.lease_ms, now_ms)
    }

    pub fn release(&self, run_id: RunId) -> Result<(), Error> {
        self.backend.release(run_id)
    }

    /// Keeps a finished run's plan in a shared store (a no-op for a directory).
    pub fn put_plan_file(&self, run_id: RunId, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.backend.put_plan_file(run_id, name, bytes)
    }

    /// A finished run's plan as a shared store keeps it: its file name and bytes.
    pub fn plan_file(&self, run_id: RunId) -> Result<Option<(String, Vec<u8>)>, Error> {
        self.backend.plan_file(run_id)
    }

    /// The fleet-wide pacing of provider requests, when the store is shared.
    pub fn fleet_pacer(&self) -> Option<Arc<dyn crate::providers::limiter::FleetPacer>> {
        self.database.as_ref().map(|_| {
            Arc::new(StorePacer {
                backend: self.backend.clone(),
            }) as Arc<dyn crate::providers::limiter::FleetPacer>
        })
    }

    /// Opens a store for reading or writing, without notices (tests, benchmarks).
    pub fn open_simple(dir: &Path) -> Result<Store, Error> {
        Store::open(dir, OpenOptions::creating(Durability::Process)).map(|(store, _)| store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sled(&self) -> Option<&SledStore> {
        self.sled.as_deref()
    }

    /// Stores new runs in state `created`, with their batch, in one atomic write. Not durable
    /// until `flush` returns.
    pub fn create_runs(
        &self,
        batch: Option<&Batch>,
        specs: &[RunSpec],
        at_ms: u64,
    ) -> Result<(), Error> {
        let runs: Vec<NewRun> = specs
            .iter()
            .map(|spec| {
                let machine = Machine::new(spec.clone());
                NewRun {
                    spec: spec.into(),
                    head: head_record(&machine, 0, at_ms),
                }
            })
            .collect();
        let batch = batch.map(batch_record);
        self.backend
            .create(batch.as_ref(), &runs)
            .map_err(|err| disk_full_as(err, &self.dir))
    }

    /// Commits one transition: the head and every changed step, if the stored run is still at
    /// `expected_seq`. Returns the new sequence. Not durable until `flush` returns.
    pub fn commit(
        &self,
        machine: &Machine,
        dirty: &BTreeSet<StepId>,
        expected_seq: u64,
        at_ms: u64,
    ) -> Result<u64, Error> {
        let run = machine.run();
        let run_id = run.spec.run_id;
        let seq = expected_seq + 1;
        let head = head_record(machine, seq, at_ms);
        let upgrade = self
            .upgrades
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&run_id)
            .cloned();
        let steps: Vec<StepRecord> = match upgrade {
            // An upgraded run is rewritten whole, so no step stays in the old format.
            Some(_) => run.steps.values().map(StepRecord::from).collect(),
            None => dirty
                .iter()
                .map(|step| StepRecord::from(run.step(*step)))
                .collect(),
        };
        self.backend
            .commit(Commit {
                run_id,
                expected_seq,
                head: &head,
                steps: &steps,
                upgrade: upgrade.as_ref(),
            })
            .map_err(|err| disk_full_as(err, &self.dir))?;
        if upgrade.is_some() {
            self.upgrades
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&run_id);
        }
        Ok(seq)
    }

    /// Makes every committed transition durable. Concurrent callers share one flush.
    pub async fn flush(&self) -> Result<(), Error> {
        self.backend
            .flush()
            .await
            .map_err(|err| disk_full_as(err, &self.dir))
    }

    pub fn flush_blocking(&self) -> Result<(), Error> {
        match &self.sled {
            Some(sled) => sled.flush_blocking(),
            None => Ok(()),
        }
    }

    /// Flushes made so far (sled's), for benchmarks.
    pub fn flush_count(&self) -> u64 {
        self.sled.as_ref().map_or(0, |sled| sled.flush_count())
    }

    /// Ends a writer's use of the store: flushes, and leaves it so the next read-only command
    /// can read it in place. Without it (a crash), readers read a copy until the next writer.
    pub fn close(self) -> Result<(), Error> {
        let Store { backend, sled, .. } = self;
        drop(backend);
        match sled.map(Arc::try_unwrap) {
            Some(Ok(sled)) => sled.close(),
            // Another handle is still alive; the store stays marked as in use.
            Some(Err(_)) | None => Ok(()),
        }
    }

    /// Rebuilds a run's machine from its records, with the sequence of its last transition.
    pub fn load(&self, run_id: RunId) -> Result<Option<(Machine, u64)>, Error> {
        let Some(view) = self.load_view(run_id)? else {
            return Ok(None);
        };
        if view.version != records::FORMAT_VERSION {
            let spec = SpecRecord::from(&view.run.spec);
            self.upgrades
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(run_id, spec);
        }
        Ok(Some((Machine::restore(view.run, view.state), view.seq)))
    }

    /// The run data (without a live machine), for read-only commands.
    pub fn load_view(&self, run_id: RunId) -> Result<Option<RunView>, Error> {
        let Some(records) = self.backend.run(run_id)? else {
            return Ok(None);
        };
        assemble(records).map(Some)
    }

    pub fn summary(&self, run_id: RunId) -> Result<Option<RunSummary>, Error> {
        Ok(self
            .backend
            .head(run_id)?
            .map(|head| summary_from(run_id, head)))
    }

    /// Every run's summary, oldest first.
    pub fn summaries(&self) -> Result<Vec<RunSummary>, Error> {
        let mut summaries: Vec<RunSummary> = self
            .backend
            .heads()?
            .into_iter()
            .map(|(run_id, head)| summary_from(run_id, head))
            .collect();
        summaries.sort_by_key(|summary| (summary.created_at_ms, summary.run_id));
        Ok(summaries)
    }

    /// The runs `resume` continues: every run that is not done, failed ones only with
    /// `include_failed`. Costs the open runs only, not the store's size.
    pub fn open_run_ids(&self, include_failed: bool) -> Result<Vec<RunId>, Error> {
        Ok(self
            .backend
            .open_runs()?
            .into_iter()
            .filter(|(_, failed)| include_failed || !failed)
            .map(|(run_id, _)| run_id)
            .collect())
    }

    pub fn run_ids(&self) -> Result<Vec<RunId>, Error> {
        Ok(self.summaries()?.into_iter().map(|s| s.run_id).collect())
    }

    pub fn batch(&self, batch_id: u128) -> Result<Option<Batch>, Error> {
        Ok(self.backend.batch(batch_id)?.map(batch_from))
    }

    pub fn batches(&self) -> Result<Vec<Batch>, Error> {
        let mut batches: Vec<Batch> = self
            .backend
            .batches()?
            .into_iter()
            .map(batch_from)
            .collect();
        batches.sort_by_key(|batch| (batch.created_at_ms, batch.id));
        Ok(batches)
    }

    pub fn batch_by_digest(&self, digest: &str) -> Result<Option<Batch>, Error> {
        Ok(self.backend.batch_by_digest(digest)?.map(batch_from))
    }

    /// Writes raw bytes under a key of a sled tree, bypassing the record format: only for
    /// tests that prove bad records are reported, never skipped.
    #[doc(hidden)]
    pub fn put_raw_for_tests(&self, tree: &str, key: &[u8], bytes: &[u8]) -> Result<(), Error> {
        self.sled
            .as_ref()
            .ok_or(Error::ReadOnly)?
            .put_raw(tree, key, bytes)
    }

    #[doc(hidden)]
    pub fn get_raw_for_tests(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.sled
            .as_ref()
            .ok_or(Error::ReadOnly)?
            .get_raw(tree, key)
    }

    #[doc(hidden)]
    pub fn delete_raw_for_tests(&self, tree: &str, key: &[u8]) -> Result<(), Error> {
        self.sled
            .as_ref()
            .ok_or(Error::ReadOnly)?
            .delete_raw(tree, key)
    }
}

/// The fleet's request slots, kept by the shared store.
struct StorePacer {
    backend: Arc<dyn RecordStore>,
}

impl std::fmt::Debug for StorePacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorePacer")
    }
}

impl crate::providers::limiter::FleetPacer for StorePacer {
    fn reserve(&self, endpoint: &str, interval_ms: u64) -> Result<u64, String> {
        match self.backend.reserve_slot(endpoint, interval_ms) {
            Ok(wait_ms) => Ok(wait_ms.unwrap_or(0)),
            Err(err) => Err(doctor::chain(&err)),
        }
    }
}

/// sled reports a full disk as a plain IO error; name it.
fn disk_full_as(err: Error, dir: &Path) -> Error {
    if err.is_disk_full() && !matches!(err, Error::DiskFull { .. }) {
        Error::DiskFull {
            dir: dir.to_path_buf(),
        }
    } else {
        err
    }
}

/// The head record of a run as it is now: everything that changes, and its summary.
fn head_record(machine: &Machine, seq: u64, at_ms: u64) -> HeadRecord {
    let Run {
        spec,
        week_concurrency,
        steps,
        plan_warnings,
        finalizing_at_ms,
        output_file,
        finished_at_ms,
        done_count,
        budget,
        budget_stop,
    } = machine.run();
    HeadRecord {
        state: machine.state().into(),
        seq,
        updated_at_ms: at_ms,
        week_concurrency: *week_concurrency,
        plan_warnings: plan_warnings.iter().map(Into::into).collect(),
        finalizing_at_ms: *finalizing_at_ms,
        output_file: output_file.clone(),
        finished_at_ms: *finished_at_ms,
        done_count: *done_count,
        budget: budget.into(),
        budget_stop: budget_stop.clone(),
        summary: summary_record(spec, steps.values()),
    }
}

/// The counts a summary holds, from the run's steps. One implementation for commits and for
/// runs read from an older format.
fn summary_record<'a>(spec: &RunSpec, steps: impl Iterator<Item = &'a StepState>) -> SummaryRecord {
    let mut weeks_done = 0;
    let mut attempts = 0;
    let mut requests = 0;
    let mut tokens = Usage::default();
    let mut cost = Cost::default();
    for step in steps {
        if matches!(step.step, StepId::Week(week) if week <= spec.total_weeks) && step.is_accepted()
        {
            weeks_done += 1;
        }
        attempts += step.attempts.len() as u32;
        requests += step.requests;
        tokens.add(&step.usage());
        cost.add(&step.cost());
    }
    SummaryRecord {
        athlete: spec.profile.name.clone(),
        total_weeks: spec.total_weeks,
        weeks_done,
        attempts,
        requests,
        tokens: UsageRecord::from(&tokens),
        cost_micro_usd: cost.micro_usd,
        unpriced_requests: cost.unpriced_requests,
        provider: spec.provider.clone(),
        model: spec.model.clone(),
        created_at_ms: spec.created_at_ms,
        output_dir: spec.output_dir.clone(),
        batch: spec.batch.as_ref().map(BatchRefRecord::from),
    }
}

/// The summary of a run read from an older format, which stored none.
pub(crate) fn derive_summary(records: &RunRecords) -> Result<SummaryRecord, Error> {
    let view = assemble(records.clone())?;
    Ok(summary_record(&view.run.spec, view.run.steps.values()))
}

fn invalid(run_id: RunId, key: &str) -> impl FnOnce(records::v2::Invalid) -> Error + '_ {
    move |source| Error::Corrupt {
        run_id: run_id.to_string(),
        key: key.to_string(),
        source: CodecError::Invalid(source),
    }
}

/// A live run from its records.
fn assemble(records: RunRecords) -> Result<RunView, Error> {
    let RunRecords {
        spec,
        head,
        steps,
        version,
    } = records;
    let run_id = RunId(spec.run_id.0);
    let mut spec = RunSpec::try_from(spec).map_err(invalid(run_id, "spec"))?;
    if version == 1 {
        // Version 1 stored the output directory as typed, relative to whoever ran the command;
        // it is resolved as that release did, against the current directory, and kept that way.
        spec.output_dir = absolute(Path::new(&spec.output_dir)).display().to_string();
    }
    let HeadRecord {
        state,
        seq,
        updated_at_ms,
        week_concurrency,
        plan_warnings,
        finalizing_at_ms,
        output_file,
        finished_at_ms,
        done_count,
        budget,
        budget_stop,
        summary: _,
    } = head;
    let mut run = Run::new(spec);
    run.week_concurrency = week_concurrency;
    run.plan_warnings = plan_warnings.into_iter().map(Into::into).collect();
    run.finalizing_at_ms = finalizing_at_ms;
    run.output_file = output_file;
    run.finished_at_ms = finished_at_ms;
    run.done_count = done_count;
    run.budget = budget.into();
    run.budget_stop = budget_stop;
    for step in steps {
        let step = StepState::from(step);
        run.steps.insert(step.step, step);
    }
    Ok(RunView {
        run,
        state: state.into(),
        seq,
        updated_at_ms,
        version,
    })
}

/// `path` made absolute against the current directory, without touching the file system.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn summary_from(run_id: RunId, head: HeadRecord) -> RunSummary {
    let HeadRecord {
        state,
        seq,
        updated_at_ms,
        finished_at_ms,
        output_file,
        summary,
        ..
    } = head;
    let SummaryRecord {
        athlete,
        total_weeks,
        weeks_done,
        attempts,
        requests,
        tokens,
        cost_micro_usd,
        unpriced_requests,
        provider,
        model,
        created_at_ms,
        output_dir,
        batch,
    } = summary;
    RunSummary {
        run_id,
        state: state.into(),
        seq,
        updated_at_ms,
        finished_at_ms,
        athlete,
        total_weeks,
        weeks_done,
        attempts,
        requests,
        tokens: tokens.into(),
        cost: Cost {
            micro_usd: cost_micro_usd,
            unpriced_requests,
        },
        provider,
        model,
        created_at_ms,
        output_dir: absolute(Path::new(&output_dir)).display().to_string(),
        output_file,
        batch: batch.as_ref().map(BatchRef::from),
    }
}

fn batch_record(batch: &Batch) -> BatchRecord {
    let Batch {
        id,
        name,
        digest,
        created_at_ms,
        items,
    } = batch;
    BatchRecord {
        batch_id: Id(*id),
        name: name.clone(),
        digest: digest.clone(),
        created_at_ms: *created_at_ms,
        items: items
            .iter()
            .map(|item| {
                let BatchItem {
                    run_id,
                    source,
                    content_hash,
                } = item;
                BatchItemRecord {
                    run_id: Id(run_id.0),
                    source: source.clone(),
                    content_hash: content_hash.clone(),
                }
            })
            .collect(),
    }
}

fn batch_from(record: BatchRecord) -> Batch {
    let BatchRecord {
        batch_id,
        name,
        digest,
        created_at_ms,
        items,
    } = record;
    Batch {
        id: batch_id.0,
        name,
        digest,
        created_at_ms,
        items: items
            .into_iter()
            .map(|item| {
                let BatchItemRecord {
                    run_id,
                    source,
                    content_hash,
                } = item;
                BatchItem {
                    run_id: RunId(run_id.0),
                    source,
                    content_hash,
                }
            })
            .collect(),
    }
}
