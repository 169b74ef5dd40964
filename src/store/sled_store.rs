//! The embedded backend: the only code that imports sled. Every record lives in one tree, so a
//! transition is one atomic `apply_batch` (one write to sled's log); the run's commit sequence
//! is compared and set under one lock, which is a true compare-and-set because sled lets one
//! process at a time open a store. Flushes are grouped: one flush covers every transition that
//! was committed when it started, across runs.
//!
//! Durability: sled's `flush` writes its buffers with `pwrite` and waits on `sync_file_range`,
//! which survives a killed process but does not flush the device cache or the file's metadata,
//! so it does not survive a power loss. `Durability::Power` adds an `fdatasync` of the log
//! after every flush.
//!
//! Key layout (one tree, `v2`; see `state/README.md`): `M` the meta record, `H`+run the head,
//! `P`+run the spec, `S`+run+step a step, `B`+batch a batch, `D`+digest a batch's id. Stores
//! written by format version 1 keep their runs in the trees `runs` and `steps` until each run's
//! next commit rewrites it here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::llm::StepId;
use crate::store::backend::{Commit, FlushFuture, LocalLeases, NewRun, RecordStore, RunRecords};
use crate::store::files::{self, DirState, View};
use crate::store::records::{
    self, BatchRecord, HeadRecord, Id, MetaRecord, OpenRecord, SpecRecord, StateRecord, StepRecord,
};
use crate::store::{Access, Durability, Error};
use crate::workflow::RunId;

/// Named for format 2, the first JSON format; it holds format 2 and 3 records alike.
const TREE: &str = "v2";
const LEGACY_RUNS: &str = "runs";
const LEGACY_STEPS: &str = "steps";
/// How long the catch-up reopen at close waits for sled's own threads to let go of the lock.
const REOPEN_WAIT_MS: u64 = 5_000;
const REOPEN_POLL_MS: u64 = 5;
/// Closing looks at compacting only after this many record bytes were written.
const COMPACT_AFTER_WRITTEN_BYTES: u64 = 1 << 20;
/// A log larger than this many times the records it holds (and than the slack) is compacted.
const COMPACT_RATIO: u64 = 2;
const COMPACT_SLACK_BYTES: u64 = 4 << 20;
/// Records per write while copying a store.
const COMPACT_BATCH_RECORDS: usize = 1_024;

/// Key layout of the `v2` tree.
pub mod keys {
    use crate::llm::StepId;
    use crate::workflow::RunId;

    pub const META: &[u8] = b"M";
    pub const HEAD: u8 = b'H';
    pub const SPEC: u8 = b'P';
    pub const STEP: u8 = b'S';
    pub const BATCH: u8 = b'B';
    pub const DIGEST: u8 = b'D';
    pub const OPEN: u8 = b'U';

    fn with_id(prefix: u8, id: u128) -> Vec<u8> {
        let mut key = Vec::with_capacity(22);
        key.push(prefix);
        key.extend_from_slice(&id.to_be_bytes());
        key
    }

    pub fn head(run_id: RunId) -> Vec<u8> {
        with_id(HEAD, run_id.0)
    }

    pub fn spec(run_id: RunId) -> Vec<u8> {
        with_id(SPEC, run_id.0)
    }

    pub fn open(run_id: RunId) -> Vec<u8> {
        with_id(OPEN, run_id.0)
    }

    pub fn steps_of(run_id: RunId) -> Vec<u8> {
        with_id(STEP, run_id.0)
    }

    pub fn step(run_id: RunId, step: StepId) -> Vec<u8> {
        let mut key = steps_of(run_id);
        key.extend_from_slice(&step_suffix(step));
        key
    }

    pub fn step_suffix(step: StepId) -> Vec<u8> {
        match step {
            StepId::Overview => vec![0],
            StepId::Week(week) => {
                let mut suffix = vec![1];
                suffix.extend_from_slice(&week.to_be_bytes());
                suffix
            }
        }
    }

    pub fn parse_step_suffix(suffix: &[u8]) -> Option<StepId> {
        match suffix {
            [0] => Some(StepId::Overview),
            [1, a, b, c, d] => Some(StepId::Week(u32::from_be_bytes([*a, *b, *c, *d]))),
            _ => None,
        }
    }

    pub fn step_name(step: StepId) -> String {
        match step {
            StepId::Overview => "steps/overview".to_string(),
            StepId::Week(week) => format!("steps/week-{week}"),
        }
    }

    pub fn batch(batch_id: u128) -> Vec<u8> {
        with_id(BATCH, batch_id)
    }

    pub fn digest(digest: &str) -> Vec<u8> {
        let mut key = vec![DIGEST];
        key.extend_from_slice(digest.as_bytes());
        key
    }

    /// The run id of a key that starts with a prefix and a run id.
    pub fn id_of(key: &[u8]) -> Option<u128> {
        key.get(1..17)
            .map(|bytes| u128::from_be_bytes(bytes.try_into().expect("16 bytes were taken")))
    }

    /// The v1 layout: runs by bare id, steps by id and step suffix.
    pub fn legacy_step(run_id: RunId, step: StepId) -> Vec<u8> {
        let mut key = run_id.0.to_be_bytes().to_vec();
        key.extend_from_slice(&step_suffix(step));
        key
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(sled::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// A key and its value, as stored.
pub type RawEntry = (Vec<u8>, Vec<u8>);

/// What commits and the meta record share, behind one lock.
struct Guarded {
    /// The last committed sequence of every run this process has seen.
    seqs: HashMap<RunId, u64>,
    /// What the open index says of a run, as last written here: not listed (done), open, or
    /// failed. Written again only when it changes.
    listed: HashMap<RunId, Option<OpenRecord>>,
    meta: MetaRecord,
}

pub struct SledStore {
    /// `None` only for a read-only store that has no v2 tree yet (a v1 store).
    tree: Option<sled::Tree>,
    legacy: Option<(sled::Tree, sled::Tree)>,
    access: Access,
    guarded: Mutex<Guarded>,
    flusher: Flusher,
    /// The directory the user named (not a private view's).
    dir: PathBuf,
    /// The data directory's name under `dir` (`.` for a format 1 store).
    data: String,
    /// Record bytes this process wrote: whether closing should look at compacting.
    written_bytes: AtomicU64,
    leases: LocalLeases,
    /// The private copy a read-only open reads. Declared last, so it is removed only after
    /// every sled handle above has been dropped.
    _view: Option<View>,
}

impl SledStore {
    /// Opens a store that `files::inspect` found acceptable. A writer removes unfinished
    /// snapshots first; a reader that cannot be sure sled would write nothing reads a copy.
    pub fn open(
        state: &DirState,
        access: Access,
        durability: Durability,
    ) -> Result<(SledStore, Vec<String>), Error> {
        let mut notices = Vec::new();
        let (sled_dir, view) = match access {
            Access::ReadWrite => {
                if !files::is_writable(&state.dir) {
                    return Err(Error::ReadOnlyDir {
                        dir: state.dir.clone(),
                    });
                }
                notices.extend(files::remove_stale_snapshots(state)?);
                notices.extend(files::remove_leftovers(state)?);
                std::fs::create_dir_all(&state.data_dir).map_err(|source| Error::Files {
                    dir: state.dir.clone(),
                    what: state.data.clone(),
                    source,
                })?;
                (state.data_dir.clone(), None)
            }
            Access::ReadOnly => {
                let clean = state.manifest.as_ref().is_some_and(|m| m.clean);
                if clean && state.stale_snapshots.is_empty() && files::is_writable(&state.data_dir)
                {
                    (state.data_dir.clone(), None)
                } else {
                    if files::is_locked(&state.data_dir) {
                        return Err(Error::Locked {
                            dir: state.dir.clone(),
                        });
                    }
                    let view = View::copy_of(state)?;
                    (view.dir.clone(), Some(view))
                }
            }
        };
        let db = open_db(&sled_dir, &state.dir)?;
        let names: Vec<Vec<u8>> = db.tree_names().iter().map(|name| name.to_vec()).collect();
        let has = |name: &str| names.iter().any(|known| known == name.as_bytes());
        let legacy = if has(LEGACY_RUNS) {
            let runs = db.open_tree(LEGACY_RUNS).map_err(io("tree runs"))?;
            let steps = db.open_tree(LEGACY_STEPS).map_err(io("tree steps"))?;
            Some((runs, steps))
        } else {
            None
        };
        let tree = if has(TREE) || access == Access::ReadWrite {
            Some(db.open_tree(TREE).map_err(io("tree v2"))?)
        } else {
            None
        };
        let meta = match tree.as_ref().map(|tree| tree.get(keys::META)).transpose() {
            Err(source) => return Err(io("meta record")(source)),
            Ok(Some(Some(bytes))) => {
                let meta =
                    records::decode::<MetaRecord>(&bytes).map_err(|source| Error::Corrupt {
                        run_id: "(store)".into(),
                        key: "meta".into(),
                        source,
                    })?;
                // This build writes its own version from now on; the records of an older JSON
                // version in the tree read as they are.
                MetaRecord {
                    format: records::FORMAT_VERSION,
                    ..meta
                }
            }
            Ok(_) => initial_meta(legacy.as_ref())?,
        };
        let file = match durability {
            Durability::Power => Some(std::fs::File::open(sled_dir.join("db")).map_err(
                |source| Error::Files {
                    dir: state.dir.clone(),
                    what: "db".into(),
                    source,
                },
            )?),
            Durability::Process => None,
        };
        let store = SledStore {
            flusher: Flusher::start(db, tree.clone(), file),
            tree,
            legacy,
            access,
            guarded: Mutex::new(Guarded {
                seqs: HashMap::new(),
                listed: HashMap::new(),
                meta,
            }),
            dir: state.dir.clone(),
            data: state.data.clone(),
            written_bytes: AtomicU64::new(0),
            leases: LocalLeases::default(),
            _view: view,
        };
        store.check_against_manifest(state)?;
        if access == Access::ReadWrite {
            store.write_meta_if_new()?;
            store.flush_blocking()?;
            let meta = store.meta();
            files::write_manifest(
                &state.dir,
                &files::Manifest {
                    manifest_version: files::MANIFEST_VERSION,
                    runs: meta.runs,
                    commits: meta.commits,
                    snapshot: files::newest_snapshot(&state.data_dir),
                    clean: false,
                    updated_at_ms: crate::store::wall_ms(),
                    data: state.data.clone(),
                },
            )?;
        }
        Ok((store, notices))
    }

    fn meta(&self) -> MetaRecord {
        self.lock().meta.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Guarded> {
        self.guarded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A store holding fewer runs or transitions than its manifest says it durably had has
    /// lost data (a replaced or truncated log): refuse it rather than read a past state.
    fn check_against_manifest(&self, state: &DirState) -> Result<(), Error> {
        let Some(manifest) = &state.manifest else {
            return Ok(());
        };
        let meta = self.meta();
        if meta.runs < manifest.runs || meta.commits < manifest.commits {
            return Err(Error::Lost {
                dir: state.dir.clone(),
                file: "db".into(),
                why: format!(
                    "the store holds {} run(s) and {} transition(s), but its manifest recorded {} and {}; the log was replaced or truncated; restore db and its snap.* file from a backup",
                    meta.runs, meta.commits, manifest.runs, manifest.commits
                ),
            });
        }
        Ok(())
    }

    /// A store seen for the first time by this format gets its meta record, and its format 1
    /// runs that are not done get their entries in the open index.
    fn write_meta_if_new(&self) -> Result<(), Error> {
        let tree = self.tree()?;
        if tree.get(keys::META).map_err(io("meta record"))?.is_some() {
            return Ok(());
        }
        let mut writes = sled::Batch::default();
        for run_id in self.legacy_ids()? {
            let Some((runs, _)) = &self.legacy else { break };
            let Some(bytes) = runs
                .get(run_id.0.to_be_bytes())
                .map_err(io("scan of runs"))?
            else {
                continue;
            };
            // A record that does not decode is reported when it is read, by its key.
            if let Ok((_, head)) = records::decode_v1_run(&bytes, &[]) {
                if let Some(open) = open_record(&head.state) {
                    writes.insert(keys::open(run_id), records::encode(&open));
                }
            }
        }
        writes.insert(keys::META, records::encode(&self.meta()));
        tree.apply_batch(writes).map_err(io("meta record"))
    }

    fn tree(&self) -> Result<&sled::Tree, Error> {
        self.tree.as_ref().ok_or(Error::ReadOnly)
    }

    fn writable(&self) -> Result<&sled::Tree, Error> {
        match self.access {
            Access::ReadWrite => self.tree(),
            Access::ReadOnly => Err(Error::ReadOnly),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Applies the queued transitions to sled (not yet durable), so that a read sees them.
    fn settle(&self) -> Result<(), Error> {
        self.flusher
            .shared
            .apply_pending()
            .map(|_| ())
            .map_err(|source| io("commit of queued transitions")(source))
    }

    /// Flushes at once, outside the group (tests, benchmarks, shutdown).
    pub fn flush_blocking(&self) -> Result<(), Error> {
        self.flusher.flush_now()
    }

    /// sled flushes made so far.
    pub fn flush_count(&self) -> u64 {
        self.flusher.shared.flushes.load(Ordering::SeqCst)
    }

    /// Every key and value of the v2 tree, then of the legacy trees (for `doctor`).
    pub fn raw_entries(&self) -> Vec<(&'static str, Result<RawEntry, Error>)> {
        let mut entries = Vec::new();
        if let Err(err) = self.settle() {
            entries.push((TREE, Err(err)));
        }
        let trees = self.tree.iter().map(|tree| (TREE, tree)).chain(
            self.legacy
                .iter()
                .flat_map(|(runs, steps)| [(LEGACY_RUNS, runs), (LEGACY_STEPS, steps)]),
        );
        for (name, tree) in trees {
            for item in tree.iter() {
                let failed = item.is_err();
                entries.push((
                    name,
                    item.map(|(key, value)| (key.to_vec(), value.to_vec()))
                        .map_err(io(format!("scan of tree {name}"))),
                ));
                if failed {
                    break;
                }
            }
        }
        entries
    }

    /// Writes raw bytes under a key of a tree (`v2`, `runs` or `steps`), bypassing the record
    /// format: only for tests that prove bad records are reported, never skipped.
    pub fn put_raw(&self, tree: &str, key: &[u8], bytes: &[u8]) -> Result<(), Error> {
        self.settle()?;
        self.raw_tree(tree)?
            .insert(key, bytes)
            .map(|_| ())
            .map_err(io("raw test write"))
    }

    pub fn get_raw(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.settle()?;
        self.raw_tree(tree)?
            .get(key)
            .map(|value| value.map(|bytes| bytes.to_vec()))
            .map_err(io("raw test read"))
    }

    pub fn delete_raw(&self, tree: &str, key: &[u8]) -> Result<(), Error> {
        self.settle()?;
        self.raw_tree(tree)?
            .remove(key)
            .map(|_| ())
            .map_err(io("raw test delete"))
    }

    fn raw_tree(&self, name: &str) -> Result<&sled::Tree, Error> {
        match (name, &self.legacy) {
            (LEGACY_RUNS, Some((runs, _))) => Ok(runs),
            (LEGACY_STEPS, Some((_, steps))) => Ok(steps),
            _ => self.tree(),
        }
    }

    fn legacy_run(&self, run_id: RunId) -> Result<Option<RunRecords>, Error> {
        let Some((runs, steps)) = &self.legacy else {
            return Ok(None);
        };
        let Some(bytes) = runs
            .get(run_id.0.to_be_bytes())
            .map_err(io(format!("read of run {run_id}")))?
        else {
            return Ok(None);
        };
        let mut step_records = Vec::new();
        for item in steps.scan_prefix(run_id.0.to_be_bytes()) {
            let (key, bytes) = item.map_err(io(format!("scan of run {run_id}")))?;
            step_records.push(decode_step_at(run_id, &key[16..], &bytes)?);
        }
        let (spec, head) =
            records::decode_v1_run(&bytes, &step_records).map_err(|source| Error::Corrupt {
                run_id: run_id.to_string(),
                key: "runs".into(),
                source,
            })?;
        let mut run = RunRecords {
            spec,
            head,
            steps: step_records,
            version: 1,
        };
        run.head.summary = crate::store::derive_summary(&run)?;
        Ok(Some(run))
    }

    fn legacy_ids(&self) -> Result<Vec<RunId>, Error> {
        let Some((runs, _)) = &self.legacy else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        for key in runs.iter().keys() {
            let key = key.map_err(io("scan of runs"))?;
            let bytes: [u8; 16] = key.as_ref().try_into().map_err(|_| Error::BadKey {
                tree: "runs",
                key: format!("{:02x?}", key.as_ref()),
                reason: format!("a run key is 16 bytes, this one is {}", key.len()),
            })?;
            ids.push(RunId(u128::from_be_bytes(bytes)));
        }
        Ok(ids)
    }

    fn stored_seq(&self, run_id: RunId) -> Result<Option<u64>, Error> {
        if let Some(head) = self.head_v2(run_id)? {
            return Ok(Some(head.seq));
        }
        Ok(self.legacy_run(run_id)?.map(|run| run.head.seq))
    }

    fn head_v2(&self, run_id: RunId) -> Result<Option<HeadRecord>, Error> {
        let Some(tree) = &self.tree else {
            return Ok(None);
        };
        tree.get(keys::head(run_id))
            .map_err(io(format!("read of run {run_id}")))?
            .map(|bytes| {
                records::decode::<HeadRecord>(&bytes).map_err(|source| Error::Corrupt {
                    run_id: run_id.to_string(),
                    key: "head".into(),
                    source,
                })
            })
            .transpose()
    }

    /// Bytes of every key and value in the store: what a compacted copy holds.
    fn live_bytes(&self) -> u64 {
        self.raw_entries()
            .into_iter()
            .filter_map(|(_, entry)| entry.ok())
            .map(|(key, value)| (key.len() + value.len()) as u64)
            .sum()
    }

    /// Whether the log holds so much more than the records that a compacted copy is worth
    /// writing. sled reuses the space of old versions only slowly and never shrinks its file, so
    /// a store that saw many transitions is much larger than what it holds.
    fn should_compact(&self) -> bool {
        if self.written_bytes.load(Ordering::Relaxed) < COMPACT_AFTER_WRITTEN_BYTES {
            return false;
        }
        let log = files::log_bytes(&self.data_dir());
        log > COMPACT_SLACK_BYTES && log > COMPACT_RATIO * self.live_bytes()
    }

    fn data_dir(&self) -> PathBuf {
        if self.data == "." {
            self.dir.clone()
        } else {
            self.dir.join(&self.data)
        }
    }

    /// Writes every record into a new data directory, `data-N+1.tmp`, flushed; returns its
    /// final name. The manifest still names the old one until the caller switches it.
    fn write_compacted_copy(&self) -> Result<String, Error> {
        let generation = self
            .data
            .strip_prefix("data-")
            .and_then(|number| number.parse::<u64>().ok())
            .unwrap_or(0);
        let name = format!("data-{}", generation + 1);
        let unfinished = self.dir.join(format!("{name}{}", files::UNFINISHED_SUFFIX));
        let files_error = |source: std::io::Error| Error::Files {
            dir: self.dir.clone(),
            what: unfinished.display().to_string(),
            source,
        };
        if unfinished.exists() {
            std::fs::remove_dir_all(&unfinished).map_err(files_error)?;
        }
        let copy = open_db(&unfinished, &self.dir)?;
        let trees = self.tree.iter().map(|tree| (TREE, tree)).chain(
            self.legacy
                .iter()
                .flat_map(|(runs, steps)| [(LEGACY_RUNS, runs), (LEGACY_STEPS, steps)]),
        );
        for (name, tree) in trees {
            let target = copy
                .open_tree(name)
                .map_err(io(format!("tree {name} of the copy")))?;
            let mut batch = sled::Batch::default();
            let mut in_batch = 0;
            for item in tree.iter() {
                let (key, value) = item.map_err(io(format!("scan of tree {name}")))?;
                batch.insert(key, value);
                in_batch += 1;
                if in_batch == COMPACT_BATCH_RECORDS {
                    target
                        .apply_batch(std::mem::take(&mut batch))
                        .map_err(io("write of the compacted copy"))?;
                    in_batch = 0;
                }
            }
            target
                .apply_batch(batch)
                .map_err(io("write of the compacted copy"))?;
        }
        copy.flush().map_err(io("flush of the compacted copy"))?;
        drop(copy);
        let target = self.dir.join(&name);
        std::fs::rename(&unfinished, &target).map_err(files_error)?;
        files::sync_dir(&self.dir).map_err(files_error)?;
        Ok(name)
    }

    /// Ends a writer's use of the store. Compacts it when the log is mostly old versions
    /// (into a new data directory, switched to by the manifest, so a crash at any point leaves
    /// one whole copy), and leaves sled's snapshot caught up so that the next read-only
    /// command can read it in place; the manifest then says so.
    pub fn close(self) -> Result<(), Error> {
        if self.access == Access::ReadOnly {
            return Ok(());
        }
        self.flush_blocking()?;
        let meta = self.meta();
        let dir = self.dir.clone();
        let old_data = self.data.clone();
        let old_data_dir = self.data_dir();
        let compacted = if self.should_compact() {
            match self.write_compacted_copy() {
                Ok(name) => Some(name),
                Err(err) => {
                    tracing::warn!(error = %err, "the store could not be compacted; it stays as it is");
                    None
                }
            }
        } else {
            None
        };
        drop(self);
        let manifest = |data: &str, clean: bool, data_dir: &Path| files::Manifest {
            manifest_version: files::MANIFEST_VERSION,
            runs: meta.runs,
            commits: meta.commits,
            snapshot: files::newest_snapshot(data_dir),
            clean,
            updated_at_ms: crate::store::wall_ms(),
            data: data.to_string(),
        };
        let (data, data_dir) = match compacted {
            Some(name) => {
                let new_dir = dir.join(&name);
                // The switch: from here on the store is the compacted copy.
                files::write_manifest(&dir, &manifest(&name, false, &new_dir))?;
                if let Err(err) = files::remove_sled_files(&old_data_dir, old_data != ".") {
                    tracing::warn!(error = %err, "the copy compaction replaced could not be removed");
                }
                (name, new_dir)
            }
            None => (old_data, old_data_dir),
        };
        // Reopening makes sled write the snapshot it would otherwise write on the next open.
        // sled's own threads release the directory lock a moment after the last handle drops.
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(REOPEN_WAIT_MS);
        loop {
            match open_db(&data_dir, &dir) {
                Ok(db) => {
                    drop(db);
                    break;
                }
                Err(Error::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(REOPEN_POLL_MS));
                }
                // Not clean, then: the next reader copies the store instead.
                Err(_) => return Ok(()),
            }
        }
        files::write_manifest(&dir, &manifest(&data, true, &data_dir))
    }
}

fn background_ms() -> u64 {
    std::env::var("PERIODIZE_SLED_BG_MS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(500)
}

fn open_db(sled_dir: &Path, named: &Path) -> Result<sled::Db, Error> {
    sled::Config::new()
        .path(sled_dir)
        .mode(sled::Mode::LowSpace)
        // sled's background thread: durability never waits for it (the engine flushes), but it
        // is what cleans the log's segments, without which the store only grows.
        .flush_every_ms(Some(background_ms()))
        .open()
        .map_err(|source| match &source {
            sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                Error::Locked {
                    dir: named.to_path_buf(),
                }
            }
            _ => Error::Open {
                dir: named.to_path_buf(),
                source,
            },
        })
}

/// The meta record of a store that has none: a new store, or a v1 store seen for the first
/// time (its counts are its runs and their sequences).
fn initial_meta(legacy: Option<&(sled::Tree, sled::Tree)>) -> Result<MetaRecord, Error> {
    let mut meta = MetaRecord {
        format: records::FORMAT_VERSION,
        created_at_ms: crate::store::wall_ms(),
        runs: 0,
        batches: 0,
        commits: 0,
    };
    if let Some((runs, _)) = legacy {
        for item in runs.iter() {
            let (key, bytes) = item.map_err(io("scan of runs"))?;
            meta.runs += 1;
            // A record that does not decode is reported when it is read, by its key.
            if let Ok((_, head)) = records::decode_v1_run(&bytes, &[]) {
                meta.commits += head.seq;
            } else {
                tracing::warn!(key = ?key, "unreadable v1 run record while counting the store");
            }
        }
    }
    Ok(meta)
}

/// One transition's writes, in order, before they join the queued batch.
#[derive(Default)]
struct WriteSet(Vec<(Vec<u8>, Option<Vec<u8>>)>);

impl WriteSet {
    fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.0.push((key.into(), Some(value.into())));
    }

    fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.0.push((key.into(), None));
    }
}

/// What the open index holds for a run in this state: nothing once it is done.
fn open_record(state: &StateRecord) -> Option<OpenRecord> {
    match state {
        StateRecord::Done => None,
        StateRecord::Failed { .. } => Some(OpenRecord { failed: true }),
        _ => Some(OpenRecord { failed: false }),
    }
}

fn decode_step_at(run_id: RunId, suffix: &[u8], bytes: &[u8]) -> Result<StepRecord, Error> {
    let Some(step) = keys::parse_step_suffix(suffix) else {
        return Err(Error::BadKey {
            tree: "steps",
            key: format!("{run_id}/{suffix:02x?}"),
            reason: "a step key ends in 0 (overview) or 1 and a big-endian u32 week".into(),
        });
    };
    let record = records::decode_step(bytes).map_err(|source| Error::Corrupt {
        run_id: run_id.to_string(),
        key: keys::step_name(step),
        source,
    })?;
    let holds = StepId::from(record.step);
    if holds != step {
        return Err(Error::Misplaced {
            run_id,
            key: keys::step_name(step),
            holds,
        });
    }
    Ok(record)
}

impl RecordStore for SledStore {
    fn create(&self, batch: Option<&BatchRecord>, runs: &[NewRun]) -> Result<(), Error> {
        self.writable()?;
        let mut guarded = self.lock();
        for run in runs {
            let run_id = RunId(run.spec.run_id.0);
            if guarded.seqs.contains_key(&run_id) || self.stored_seq(run_id)?.is_some() {
                return Err(Error::Exists { run_id });
            }
        }
        let mut meta = guarded.meta.clone();
        let mut writes = WriteSet::default();
        if let Some(batch) = batch {
            writes.insert(keys::batch(batch.batch_id.0), records::encode(batch));
            writes.insert(
                keys::digest(&batch.digest),
                records::encode(&batch.batch_id),
            );
            meta.batches += 1;
        }
        for run in runs {
            let run_id = RunId(run.spec.run_id.0);
            writes.insert(keys::spec(run_id), records::encode(&run.spec));
            writes.insert(keys::head(run_id), records::encode(&run.head));
            if let Some(open) = open_record(&run.head.state) {
                writes.insert(keys::open(run_id), records::encode(&open));
            }
        }
        meta.runs += runs.len() as u64;
        self.flusher.shared.enqueue(writes, records::encode(&meta));
        self.written_bytes.fetch_add(
            runs.iter()
                .map(|run| 1_024 + run.spec.profile.goals.len() as u64)
                .sum(),
            Ordering::Relaxed,
        );
        guarded.meta = meta;
        for run in runs {
            let run_id = RunId(run.spec.run_id.0);
            guarded.seqs.insert(run_id, run.head.seq);
            guarded.listed.insert(run_id, open_record(&run.head.state));
        }
        Ok(())
    }

    fn commit(&self, commit: Commit<'_>) -> Result<(), Error> {
        let tree = self.writable()?;
        let Commit {
            run_id,
            expected_seq,
            head,
            steps,
            upgrade,
        } = commit;
        let mut guarded = self.lock();
        let found = match guarded.seqs.get(&run_id) {
            Some(seq) => Some(*seq),
            None => self.stored_seq(run_id)?,
        };
        if found != Some(expected_seq) {
            return Err(Error::Conflict {
                run_id,
                expected: expected_seq,
                found,
            });
        }
        let mut meta = guarded.meta.clone();
        meta.commits += 1;
        let open = open_record(&head.state);
        // The open index changes with the state's kind only; unknown (a first commit in this
        // process) is written.
        let index_write = match guarded.listed.get(&run_id) {
            Some(listed) if *listed == open => None,
            _ => Some(open),
        };
        let head_bytes = records::encode(head);
        let step_bytes: Vec<(Vec<u8>, Vec<u8>)> = steps
            .iter()
            .map(|step| (keys::step(run_id, step.step.into()), records::encode(step)))
            .collect();
        let meta_bytes = records::encode(&meta);
        let written = head_bytes.len()
            + step_bytes
                .iter()
                .map(|(key, bytes)| key.len() + bytes.len())
                .sum::<usize>();
        self.written_bytes
            .fetch_add(written as u64, Ordering::Relaxed);
        match (upgrade, &self.legacy) {
            (Some(spec), Some((legacy_runs, legacy_steps))) => {
                // Rare (once per format 1 run): its own transaction across the trees, after
                // everything queued before it.
                self.settle()?;
                let spec_bytes = records::encode(spec);
                let old_steps: Vec<sled::IVec> = legacy_steps
                    .scan_prefix(run_id.0.to_be_bytes())
                    .keys()
                    .collect::<Result<_, _>>()
                    .map_err(io(format!("scan of run {run_id}")))?;
                (tree, legacy_runs, legacy_steps)
                    .transaction(|(tree, runs, old)| {
                        tree.insert(keys::spec(run_id), spec_bytes.as_slice())?;
                        tree.insert(keys::head(run_id), head_bytes.as_slice())?;
                        for (key, bytes) in &step_bytes {
                            tree.insert(key.as_slice(), bytes.as_slice())?;
                        }
                        tree.insert(keys::META, meta_bytes.as_slice())?;
                        match open {
                            Some(open) => {
                                tree.insert(keys::open(run_id), records::encode(&open))?;
                            }
                            None => {
                                tree.remove(keys::open(run_id))?;
                            }
                        }
                        runs.remove(&run_id.0.to_be_bytes())?;
                        for key in &old_steps {
                            old.remove(key)?;
                        }
                        Ok::<(), ConflictableTransactionError<()>>(())
                    })
                    .map_err(|err| match err {
                        TransactionError::Storage(source) => {
                            io(format!("upgrade of run {run_id}"))(source)
                        }
                        TransactionError::Abort(()) => {
                            unreachable!("the upgrade closure never aborts")
                        }
                    })?;
                self.flusher.shared.count_direct_commit();
            }
            (upgrade, _) => {
                let mut writes = WriteSet::default();
                if let Some(spec) = upgrade {
                    writes.insert(keys::spec(run_id), records::encode(spec));
                }
                writes.insert(keys::head(run_id), head_bytes);
                for (key, bytes) in step_bytes {
                    writes.insert(key, bytes);
                }
                match index_write {
                    Some(Some(open)) => writes.insert(keys::open(run_id), records::encode(&open)),
                    Some(None) => writes.remove(keys::open(run_id)),
                    None => {}
                }
                self.flusher.shared.enqueue(writes, meta_bytes);
            }
        }
        guarded.meta = meta;
        guarded.seqs.insert(run_id, head.seq);
        guarded.listed.insert(run_id, open);
        Ok(())
    }

    fn open_runs(&self) -> Result<Vec<(RunId, bool)>, Error> {
        self.settle()?;
        let indexed = match &self.tree {
            Some(tree) => tree.contains_key(keys::META).map_err(io("meta record"))?,
            None => false,
        };
        if !indexed {
            // A format 1 store not yet opened by a writer of this format has no index.
            return Ok(self
                .heads()?
                .into_iter()
                .filter_map(|(run_id, head)| {
                    open_record(&head.state).map(|open| (run_id, open.failed))
                })
                .collect());
        }
        let tree = self.tree()?;
        let mut open = Vec::new();
        for item in tree.scan_prefix([keys::OPEN]) {
            let (key, bytes) = item.map_err(io("scan of open runs"))?;
            let Some(id) = keys::id_of(&key).filter(|_| key.len() == 17) else {
                return Err(Error::BadKey {
                    tree: TREE,
                    key: format!("{:02x?}", key.as_ref()),
                    reason: "an open-index key is `U` and a 16-byte run id".into(),
                });
            };
            let record: OpenRecord = records::decode(&bytes).map_err(|source| Error::Corrupt {
                run_id: RunId(id).to_string(),
                key: "open".into(),
                source,
            })?;
            open.push((RunId(id), record.failed));
        }
        Ok(open)
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(self.flusher.flush())
    }

    fn run(&self, run_id: RunId) -> Result<Option<RunRecords>, Error> {
        self.settle()?;
        let Some(head) = self.head_v2(run_id)? else {
            return self.legacy_run(run_id);
        };
        let tree = self.tree()?;
        let spec_bytes = tree
            .get(keys::spec(run_id))
            .map_err(io(format!("read of run {run_id}")))?
            .ok_or_else(|| Error::Missing {
                run_id,
                key: "spec".into(),
            })?;
        let spec: SpecRecord = records::decode(&spec_bytes).map_err(|source| Error::Corrupt {
            run_id: run_id.to_string(),
            key: "spec".into(),
            source,
        })?;
        if spec.run_id != Id(run_id.0) {
            return Err(Error::Foreign {
                run_id,
                key: "spec".into(),
                holds: RunId(spec.run_id.0),
            });
        }
        let prefix = keys::steps_of(run_id);
        let mut steps = Vec::new();
        for item in tree.scan_prefix(&prefix) {
            let (key, bytes) = item.map_err(io(format!("scan of run {run_id}")))?;
            steps.push(decode_step_at(run_id, &key[prefix.len()..], &bytes)?);
        }
        Ok(Some(RunRecords {
            spec,
            head,
            steps,
            version: records::FORMAT_VERSION,
        }))
    }

    fn head(&self, run_id: RunId) -> Result<Option<HeadRecord>, Error> {
        self.settle()?;
        match self.head_v2(run_id)? {
            Some(head) => Ok(Some(head)),
            None => Ok(self.legacy_run(run_id)?.map(|run| run.head)),
        }
    }

    fn heads(&self) -> Result<Vec<(RunId, HeadRecord)>, Error> {
        self.settle()?;
        let mut heads = Vec::new();
        if let Some(tree) = &self.tree {
            for item in tree.scan_prefix([keys::HEAD]) {
                let (key, bytes) = item.map_err(io("scan of runs"))?;
                let Some(id) = keys::id_of(&key).filter(|_| key.len() == 17) else {
                    return Err(Error::BadKey {
                        tree: TREE,
                        key: format!("{:02x?}", key.as_ref()),
                        reason: format!(
                            "a head key is `H` and a 16-byte run id, this one is {} bytes",
                            key.len()
                        ),
                    });
                };
                let run_id = RunId(id);
                let head =
                    records::decode::<HeadRecord>(&bytes).map_err(|source| Error::Corrupt {
                        run_id: run_id.to_string(),
                        key: "head".into(),
                        source,
                    })?;
                heads.push((run_id, head));
            }
        }
        for run_id in self.legacy_ids()? {
            if let Some(run) = self.legacy_run(run_id)? {
                heads.push((run_id, run.head));
            }
        }
        Ok(heads)
    }

    fn batch(&self, batch_id: u128) -> Result<Option<BatchRecord>, Error> {
        self.settle()?;
        let Some(tree) = &self.tree else {
            return Ok(None);
        };
        tree.get(keys::batch(batch_id))
            .map_err(io("read of a batch"))?
            .map(|bytes| {
                records::decode::<BatchRecord>(&bytes).map_err(|source| Error::Corrupt {
                    run_id: format!("(batch {})", Id(batch_id).0),
                    key: "batch".into(),
                    source,
                })
            })
            .transpose()
    }

    fn batches(&self) -> Result<Vec<BatchRecord>, Error> {
        self.settle()?;
        let Some(tree) = &self.tree else {
            return Ok(Vec::new());
        };
        let mut batches = Vec::new();
        for item in tree.scan_prefix([keys::BATCH]) {
            let (key, bytes) = item.map_err(io("scan of batches"))?;
            batches.push(records::decode::<BatchRecord>(&bytes).map_err(|source| {
                Error::Corrupt {
                    run_id: format!("(batch {:02x?})", key.as_ref()),
                    key: "batch".into(),
                    source,
                }
            })?);
        }
        Ok(batches)
    }

    fn batch_by_digest(&self, digest: &str) -> Result<Option<BatchRecord>, Error> {
        self.settle()?;
        let Some(tree) = &self.tree else {
            return Ok(None);
        };
        let Some(bytes) = tree
            .get(keys::digest(digest))
            .map_err(io("read of a batch"))?
        else {
            return Ok(None);
        };
        let id: Id = records::decode(&bytes).map_err(|source| Error::Corrupt {
            run_id: "(batch)".into(),
            key: format!("digest/{digest}"),
            source,
        })?;
        self.batch(id.0)
    }

    fn acquire(&self, run_ids: &[RunId], _: u64, _: u64) -> Result<Vec<RunId>, Error> {
        self.writable()?;
        Ok(self.leases.acquire(run_ids))
    }

    fn claim(&self, max: usize, _: u64, _: u64) -> Result<Vec<RunId>, Error> {
        self.writable()?;
        Ok(self.leases.claim(self.open_runs()?, max))
    }

    fn renew(&self, _: u64, _: u64) -> Result<Vec<RunId>, Error> {
        // Nobody else can open the directory while this process holds its lock.
        Ok(Vec::new())
    }

    fn release(&self, run_id: RunId) -> Result<(), Error> {
        self.leases.release(run_id);
        Ok(())
    }

    fn put_plan_file(&self, _: RunId, _: &str, _: &[u8]) -> Result<(), Error> {
        Ok(())
    }

    fn plan_file(&self, _: RunId) -> Result<Option<(String, Vec<u8>)>, Error> {
        Ok(None)
    }

    fn reserve_slot(&self, _: &str, _: u64) -> Result<Option<u64>, Error> {
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// Group commit

/// The flusher thread and what it shares with committers. A commit only queues its writes;
/// the flusher applies every queued transition (of every run) as one sled batch, then flushes
/// once. sled writes and syncs its log twice for every atomic batch, so one batch per group,
/// not per transition, is what makes a step cheap.
struct Flusher {
    shared: Arc<FlushShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct FlushShared {
    db: sled::Db,
    tree: Option<sled::Tree>,
    /// With `Durability::Power`, the log file to `fdatasync` after each flush.
    file: Option<std::fs::File>,
    pending: Mutex<Pending>,
    /// Held while a queued batch is taken and applied, so batches reach sled in queue order.
    applying: Mutex<()>,
    flushes: AtomicU64,
    requests: Mutex<FlushRequests>,
    wake: Condvar,
    status: tokio::sync::watch::Sender<FlushStatus>,
}

/// Transitions committed but not yet applied to sled.
#[derive(Default)]
struct Pending {
    batch: sled::Batch,
    /// Whether `batch` holds anything.
    dirty: bool,
    /// The newest meta record, written with the batch.
    meta: Option<Vec<u8>>,
    /// Transitions queued so far (including those applied directly).
    queued: u64,
}

#[derive(Default)]
struct FlushRequests {
    /// The highest commit count someone waits to see durable.
    wanted: u64,
    stop: bool,
}

#[derive(Debug, Clone, Default)]
struct FlushStatus {
    /// Every commit up to this count is durable.
    covered: u64,
    /// The last flush that failed: the commit count it tried to cover, and why.
    failed: Option<(u64, Arc<str>)>,
}

impl Flusher {
    fn start(db: sled::Db, tree: Option<sled::Tree>, file: Option<std::fs::File>) -> Flusher {
        let (status, _) = tokio::sync::watch::channel(FlushStatus::default());
        let shared = Arc::new(FlushShared {
            db,
            tree,
            file,
            pending: Mutex::new(Pending::default()),
            applying: Mutex::new(()),
            flushes: AtomicU64::new(0),
            requests: Mutex::new(FlushRequests::default()),
            wake: Condvar::new(),
            status,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("periodize-flush".into())
            .spawn(move || worker.run())
            .expect("the flusher thread starts");
        Flusher {
            shared,
            thread: Some(thread),
        }
    }

    fn flush(&self) -> impl std::future::Future<Output = Result<(), Error>> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let target = shared.queued();
            let mut status = shared.status.subscribe();
            if status.borrow().covered >= target {
                return Ok(());
            }
            {
                let mut requests = shared.lock();
                requests.wanted = requests.wanted.max(target);
            }
            shared.wake.notify_one();
            loop {
                {
                    let now = status.borrow_and_update();
                    if now.covered >= target {
                        return Ok(());
                    }
                    if let Some((goal, reason)) = &now.failed {
                        if *goal >= target {
                            return Err(Error::Flush {
                                reason: reason.to_string(),
                            });
                        }
                    }
                }
                if status.changed().await.is_err() {
                    return Err(Error::Flush {
                        reason: "the store was closed".into(),
                    });
                }
            }
        }
    }

    fn flush_now(&self) -> Result<(), Error> {
        self.shared
            .flush_once()
            .map_err(|reason| Error::Flush { reason })
    }
}

impl FlushShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, FlushRequests> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn queued(&self) -> u64 {
        self.pending().queued
    }

    /// Queues one transition's writes, with the meta record as it is after it.
    fn enqueue(&self, writes: WriteSet, meta: Vec<u8>) {
        let mut pending = self.pending();
        for (key, value) in writes.0 {
            match value {
                Some(value) => pending.batch.insert(key, value),
                None => pending.batch.remove(key),
            }
        }
        pending.dirty = true;
        pending.meta = Some(meta);
        pending.queued += 1;
    }

    /// Counts a transition written to sled directly (its own transaction).
    fn count_direct_commit(&self) {
        self.pending().queued += 1;
    }

    /// Applies every queued transition as one batch; returns how many are applied so far.
    fn apply_pending(&self) -> Result<u64, sled::Error> {
        let _applying = self
            .applying
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mut batch, dirty, meta, queued) = {
            let mut pending = self.pending();
            let dirty = std::mem::take(&mut pending.dirty);
            (
                std::mem::take(&mut pending.batch),
                dirty,
                pending.meta.take(),
                pending.queued,
            )
        };
        if let (true, Some(tree)) = (dirty, &self.tree) {
            if let Some(meta) = meta {
                batch.insert(keys::META, meta);
            }
            tree.apply_batch(batch)?;
        }
        Ok(queued)
    }

    fn run(&self) {
        loop {
            let goal = {
                let mut requests = self.lock();
                loop {
                    if requests.stop {
                        return;
                    }
                    if requests.wanted > self.status.borrow().covered {
                        break;
                    }
                    requests = self
                        .wake
                        .wait(requests)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                self.queued()
            };
            if self.flush_once().is_err() {
                // Waiters up to `goal` were told; do not spin on a store that keeps failing
                // unless someone asked for more since.
                let mut requests = self.lock();
                if requests.wanted <= goal {
                    requests.wanted = self.status.borrow().covered;
                }
            }
        }
    }

    /// Applies what is queued, then flushes: every transition queued before is durable after.
    fn flush_once(&self) -> Result<(), String> {
        let mut goal = self.queued();
        self.flushes.fetch_add(1, Ordering::SeqCst);
        let result = self
            .apply_pending()
            .map(|applied| goal = applied)
            .and_then(|()| self.db.flush().map(|_| ()))
            .map_err(|err| err.to_string())
            .and_then(|()| match &self.file {
                Some(file) => file
                    .sync_data()
                    .map_err(|err| format!("fdatasync of db: {err}")),
                None => Ok(()),
            });
        self.status.send_modify(|status| match &result {
            Ok(()) => status.covered = status.covered.max(goal),
            Err(reason) => status.failed = Some((goal, Arc::from(reason.as_str()))),
        });
        result
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
