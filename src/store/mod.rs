//! The store: the only module that imports sled. A transition of a run is committed as one sled
//! transaction over the `runs` and `steps` trees; `flush` makes it durable before any effect.
//! Key layout and record format are documented in `state/README.md`.

pub mod doctor;
pub mod records;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::llm::StepId;
use crate::store::records::{CodecError, RunRecord, StepRecord};
use crate::workflow::{Machine, Run, RunId, State};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("state directory {dir} is in use by another periodize process; wait for it to finish or use another --state-dir")]
    Locked { dir: PathBuf },
    #[error("cannot open state directory {dir}")]
    Open {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("store operation failed on {what}")]
    Io {
        what: String,
        #[source]
        source: sled::Error,
    },
    #[error("run {run_id}: record {key} is unreadable")]
    Corrupt {
        run_id: String,
        key: String,
        #[source]
        source: CodecError,
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

/// The durable home of every run.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    runs: sled::Tree,
    steps: sled::Tree,
    dir: PathBuf,
}

fn run_key(run_id: RunId) -> [u8; 16] {
    run_id.0.to_be_bytes()
}

fn step_key(run_id: RunId, step: StepId) -> Vec<u8> {
    let mut key = run_key(run_id).to_vec();
    match step {
        StepId::Overview => key.push(0),
        StepId::Week(week) => {
            key.push(1);
            key.extend_from_slice(&week.to_be_bytes());
        }
    }
    key
}

fn step_key_name(key: &[u8]) -> String {
    match key.get(16..) {
        Some([0]) => "steps/overview".to_string(),
        Some([1, a, b, c, d]) => format!("steps/week-{}", u32::from_be_bytes([*a, *b, *c, *d])),
        _ => format!("steps/{key:02x?}"),
    }
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store, Error> {
        let config = sled::Config::new().path(dir).mode(sled::Mode::LowSpace);
        let db = config.open().map_err(|source| match &source {
            sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                Error::Locked {
                    dir: dir.to_path_buf(),
                }
            }
            _ => Error::Open {
                dir: dir.to_path_buf(),
                source,
            },
        })?;
        let open_tree = |name: &str| {
            db.open_tree(name).map_err(|source| Error::Io {
                what: format!("tree {name}"),
                source,
            })
        };
        let runs = open_tree("runs")?;
        let steps = open_tree("steps")?;
        Ok(Store {
            db,
            runs,
            steps,
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Commits one transition: the run record and every changed step, in one transaction.
    /// Not durable until `flush` returns.
    pub fn commit(
        &self,
        machine: &Machine,
        dirty: &BTreeSet<StepId>,
        seq: u64,
        at_ms: u64,
    ) -> Result<(), Error> {
        let run = machine.run();
        let run_id = run.spec.run_id;
        let record = RunRecord {
            spec: run.spec.clone(),
            state: machine.state().clone(),
            week_concurrency: run.week_concurrency,
            plan_warnings: run.plan_warnings.clone(),
            finalizing_at_ms: run.finalizing_at_ms,
            output_file: run.output_file.clone(),
            finished_at_ms: run.finished_at_ms,
            done_count: run.done_count,
            budget: run.budget,
            budget_stop: run.budget_stop.clone(),
            seq,
            updated_at_ms: at_ms,
        };
        let run_bytes = records::encode(&record);
        let step_bytes: Vec<(Vec<u8>, Vec<u8>)> = dirty
            .iter()
            .map(|step| {
                (
                    step_key(run_id, *step),
                    records::encode(&StepRecord {
                        step: run.step(*step).clone(),
                    }),
                )
            })
            .collect();
        let key = run_key(run_id);
        (&self.runs, &self.steps)
            .transaction(|(runs, steps)| {
                runs.insert(&key, run_bytes.as_slice())?;
                for (step_key, bytes) in &step_bytes {
                    steps.insert(step_key.as_slice(), bytes.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|err| match err {
                TransactionError::Storage(source) => Error::Io {
                    what: format!("commit of run {run_id}"),
                    source,
                },
                TransactionError::Abort(()) => unreachable!("the commit closure never aborts"),
            })
    }

    /// Makes every committed transition durable (fsync).
    pub async fn flush(&self) -> Result<(), Error> {
        // Not sled's `flush_async`: it runs on sled's own IO pool and can deadlock when several
        // runs flush at once (spacejam/sled#1308, found by tests/chaos.rs). The blocking flush
        // on tokio's blocking pool has no such cycle.
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .expect("a sled flush does not panic")
            .map(|_| ())
            .map_err(|source| Error::Io {
                what: "flush".to_string(),
                source,
            })
    }

    pub fn flush_blocking(&self) -> Result<(), Error> {
        self.db.flush().map(|_| ()).map_err(|source| Error::Io {
            what: "flush".to_string(),
            source,
        })
    }

    pub fn run_record(&self, run_id: RunId) -> Result<Option<RunRecord>, Error> {
        let bytes = self.runs.get(run_key(run_id)).map_err(|source| Error::Io {
            what: format!("read of run {run_id}"),
            source,
        })?;
        bytes
            .map(|bytes| {
                records::decode::<RunRecord>(&bytes).map_err(|source| Error::Corrupt {
                    run_id: run_id.to_string(),
                    key: "runs".to_string(),
                    source,
                })
            })
            .transpose()
    }

    /// Rebuilds a run's machine from its records, with the seq of its last transition.
    pub fn load(&self, run_id: RunId) -> Result<Option<(Machine, u64)>, Error> {
        let Some(record) = self.run_record(run_id)? else {
            return Ok(None);
        };
        let run = self.assemble(record.clone())?;
        Ok(Some((Machine::restore(run, record.state), record.seq)))
    }

    /// The run data (without a live machine), for read-only commands.
    pub fn load_view(&self, run_id: RunId) -> Result<Option<(Run, State, RunRecord)>, Error> {
        let Some(record) = self.run_record(run_id)? else {
            return Ok(None);
        };
        let run = self.assemble(record.clone())?;
        Ok(Some((run, record.state.clone(), record)))
    }

    fn assemble(&self, record: RunRecord) -> Result<Run, Error> {
        let run_id = record.spec.run_id;
        let mut run = Run::new(record.spec);
        run.week_concurrency = record.week_concurrency;
        run.plan_warnings = record.plan_warnings;
        run.finalizing_at_ms = record.finalizing_at_ms;
        run.output_file = record.output_file;
        run.finished_at_ms = record.finished_at_ms;
        run.done_count = record.done_count;
        run.budget = record.budget;
        run.budget_stop = record.budget_stop;
        for item in self.steps.scan_prefix(run_key(run_id)) {
            let (key, bytes) = item.map_err(|source| Error::Io {
                what: format!("scan of run {run_id}"),
                source,
            })?;
            let step: StepRecord = records::decode(&bytes).map_err(|source| Error::Corrupt {
                run_id: run_id.to_string(),
                key: step_key_name(&key),
                source,
            })?;
            if key.as_ref() != step_key(run_id, step.step.step).as_slice() {
                return Err(Error::Misplaced {
                    run_id,
                    key: step_key_name(&key),
                    holds: step.step.step,
                });
            }
            run.steps.insert(step.step.step, step.step);
        }
        Ok(run)
    }

    /// Every run id, oldest key first.
    pub fn run_ids(&self) -> Result<Vec<RunId>, Error> {
        let mut ids = Vec::new();
        for item in self.runs.iter().keys() {
            let key = item.map_err(|source| Error::Io {
                what: "scan of runs".to_string(),
                source,
            })?;
            let bytes: [u8; 16] = key.as_ref().try_into().map_err(|_| Error::BadKey {
                tree: "runs",
                key: format!("{:02x?}", key.as_ref()),
                reason: format!("a run key is 16 bytes, this one is {}", key.len()),
            })?;
            ids.push(RunId(u128::from_be_bytes(bytes)));
        }
        Ok(ids)
    }

    /// Writes raw bytes under a key, bypassing the record format: only for tests that prove
    /// corrupt records are reported, never skipped.
    #[doc(hidden)]
    pub fn put_raw_for_tests(&self, tree: &str, key: &[u8], bytes: &[u8]) -> Result<(), Error> {
        let tree = match tree {
            "runs" => &self.runs,
            _ => &self.steps,
        };
        tree.insert(key, bytes)
            .map(|_| ())
            .map_err(|source| Error::Io {
                what: "raw test write".to_string(),
                source,
            })
    }

    /// Removes a key, bypassing the record format: only for tests that prove missing records
    /// are reported.
    #[doc(hidden)]
    pub fn delete_raw_for_tests(&self, tree: &str, key: &[u8]) -> Result<(), Error> {
        let tree = match tree {
            "runs" => &self.runs,
            _ => &self.steps,
        };
        tree.remove(key).map(|_| ()).map_err(|source| Error::Io {
            what: "raw test delete".to_string(),
            source,
        })
    }

    pub fn run_records(&self) -> Result<Vec<RunRecord>, Error> {
        let mut records = Vec::new();
        for run_id in self.run_ids()? {
            if let Some(record) = self.run_record(run_id)? {
                records.push(record);
            }
        }
        Ok(records)
    }
}
