//! `periodize doctor`: reads every record of the store and reports every problem it finds, with
//! the run and key it belongs to. It never stops at the first problem and never repairs anything.
//! The only check outside the store (does a finished run's plan file exist?) goes through a
//! closure; the store directory's own files are checked by `check_files`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::llm::StepId;
use crate::store::files::DirState;
use crate::store::records::{self, BatchRecord, HeadRecord, Id, MetaRecord, SpecRecord};
use crate::store::sled_store::keys;
use crate::store::{Error, Store};
use crate::workflow::{Accepted, RunId, RunSpec, State, StepState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The store is inconsistent: a command reading this run fails or misreads it.
    Error,
    /// Suspicious but readable: the run can still be shown and resumed.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, named by run (when the key holds one) and key (`head`, `steps/week-2`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub run_id: Option<String>,
    pub key: String,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.run_id {
            Some(run_id) => write!(f, "run {run_id} key {}: {}", self.key, self.message),
            None => write!(f, "key {}: {}", self.key, self.message),
        }
    }
}

/// Free space below which `doctor` warns: a batch's next transitions may not fit.
pub const LOW_SPACE_BYTES: u64 = 16 * 1024 * 1024;

/// Problems of the store directory itself, found before sled opens it.
pub fn check_files(state: &DirState) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (name, len) in &state.stale_snapshots {
        problems.push(Problem {
            run_id: None,
            key: name.clone(),
            severity: Severity::Error,
            message: format!(
                "unfinished snapshot ({len} bytes; a full disk leaves one): sled cannot open the \
                 store while it is there; `periodize resume` removes it, or delete {}",
                state.data_dir.join(name).display()
            ),
        });
    }
    for name in &state.leftovers {
        problems.push(Problem {
            run_id: None,
            key: name.clone(),
            severity: Severity::Warning,
            message: format!(
                "a data directory the store no longer uses (left by an interrupted compaction); \
                 the next `periodize resume` removes {}",
                state.dir.join(name).display()
            ),
        });
    }
    if let Some(free) = crate::store::files::free_bytes(&state.dir) {
        if free < LOW_SPACE_BYTES {
            problems.push(Problem {
                run_id: None,
                key: "(file system)".into(),
                severity: Severity::Warning,
                message: format!(
                    "only {free} bytes free on the file system of {}; a batch stops when it is full",
                    state.dir.display()
                ),
            });
        }
    }
    problems
}

/// A problem that keeps the store from being opened at all, as a report line.
pub fn unopenable(err: &Error) -> Problem {
    let key = match err {
        Error::Lost { file, .. } => file.clone(),
        Error::BadManifest { .. } => crate::store::files::MANIFEST.to_string(),
        _ => "(store)".to_string(),
    };
    Problem {
        run_id: None,
        key,
        severity: Severity::Error,
        message: chain(err),
    }
}

/// Checks every record of the store. `file_exists` answers whether a finished run's plan file
/// is still on disk. A clean store gives no problems.
pub fn check(store: &Store, file_exists: impl Fn(&Path) -> bool) -> Vec<Problem> {
    let mut doctor = Doctor::default();
    if let Some(sled) = store.sled() {
        for (tree, entry) in sled.raw_entries() {
            match entry {
                Ok((key, value)) => doctor.scan(tree, &key, &value),
                Err(err) => doctor.error(
                    None,
                    tree,
                    format!("the tree cannot be read further: {}", chain(&err)),
                ),
            }
        }
    }
    doctor.decode_legacy_runs();
    doctor.check_runs(&file_exists);
    doctor.check_batches();
    // Group by run (store-level problems first); within a run, problems keep scan order.
    doctor.problems.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    doctor.problems
}

/// Every problem of the store at `location`, with the name to report them under. A directory
/// that holds no store (missing, or a file) is an error, not a problem.
pub fn check_location(
    location: &crate::store::Location,
    now_ms: u64,
) -> Result<(String, Vec<Problem>), crate::store::Error> {
    use crate::store::{files, Error, Location, OpenOptions};
    match location {
        Location::Dir(dir) => {
            let mut problems = Vec::new();
            match files::inspect(dir) {
                Err(err @ (Error::NoStore { .. } | Error::NotADirectory { .. })) => {
                    return Err(err)
                }
                Err(err) => problems.push(unopenable(&err)),
                Ok(found) => {
                    problems.extend(check_files(&found));
                    match Store::open(dir, OpenOptions::read_only()) {
                        Ok((store, _)) => problems.extend(check(&store, |path| path.is_file())),
                        Err(err) => problems.push(unopenable(&err)),
                    }
                }
            }
            Ok((dir.display().to_string(), problems))
        }
        Location::Database(_) => {
            let (store, _) = Store::open_at(location, OpenOptions::read_only())?;
            let problems = check_database(&store, now_ms);
            Ok((store.dir().display().to_string(), problems))
        }
    }
}

/// Every problem of a shared store: each run read whole (a record that does not decode, a
/// step under the wrong number), a finished run without its stored plan, a run without its
/// lease row, and leases a dead worker left (they expire on their own; reported so an
/// operator sees which runs wait for a takeover).
pub fn check_database(store: &Store, now_ms: u64) -> Vec<Problem> {
    let mut doctor = Doctor::default();
    let Some(database) = store.database() else {
        return doctor.problems;
    };
    let leases: BTreeMap<RunId, (Option<String>, u64, u64)> = match database.leases() {
        Ok(leases) => leases
            .into_iter()
            .map(|lease| {
                (
                    lease.run_id,
                    (lease.owner, lease.token, lease.expires_at_ms),
                )
            })
            .collect(),
        Err(err) => {
            doctor.error(None, "leases", format!("cannot be read: {}", chain(&err)));
            BTreeMap::new()
        }
    };
    let heads = match store.summaries() {
        Ok(summaries) => summaries,
        Err(err) => {
            doctor.error(None, "runs", format!("cannot be read: {}", chain(&err)));
            Vec::new()
        }
    };
    for summary in heads {
        let run_id = summary.run_id;
        if let Err(err) = store.load_view(run_id) {
            doctor.error(Some(run_id), "run", chain(&err));
        }
        if matches!(summary.state, crate::workflow::State::Done {}) {
            match store.plan_file(run_id) {
                Ok(Some(_)) => {}
                Ok(None) => doctor.warning(
                    Some(run_id),
                    "plan_files",
                    "done, but the store keeps no copy of its plan (only the finalizing machine has it)",
                ),
                Err(err) => doctor.error(Some(run_id), "plan_files", chain(&err)),
            }
        }
        match leases.get(&run_id) {
            None => doctor.error(
                Some(run_id),
                "leases",
                "has no lease row: no worker can claim it",
            ),
            Some((Some(owner), token, expires)) if *expires <= now_ms => doctor.warning(
                Some(run_id),
                "leases",
                format!(
                    "lease of {owner} (token {token}) expired {} ms ago; the next worker to claim takes it over",
                    now_ms - expires
                ),
            ),
            Some(_) => {}
        }
    }
    doctor.problems
}

/// A run's records as found, in either format.
#[derive(Default)]
struct Found {
    spec: Option<SpecRecord>,
    head: Option<HeadRecord>,
    /// Whether the run's records are in the format 1 trees.
    legacy: bool,
    /// Every decodable step under a well-formed key, by the step its key names.
    steps: BTreeMap<StepId, StepState>,
    /// Every well-formed step key, decodable or not.
    step_keys: Vec<StepId>,
    /// A record of the run did not decode (already reported).
    unreadable: bool,
}

#[derive(Default)]
struct Doctor {
    problems: Vec<Problem>,
    runs: BTreeMap<RunId, Found>,
    batches: BTreeMap<u128, BatchRecord>,
    digests: Vec<(String, u128)>,
    meta: Option<MetaRecord>,
    /// Format 1 run records, decoded after the steps.
    legacy_runs: Vec<(RunId, Vec<u8>)>,
    /// The open index: runs not done, and whether each failed.
    open: BTreeMap<RunId, bool>,
}

impl Doctor {
    fn report(
        &mut self,
        run_id: Option<RunId>,
        key: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            run_id: run_id.map(|id| id.to_string()),
            key: key.into(),
            severity,
            message: message.into(),
        });
    }

    fn error(&mut self, run_id: Option<RunId>, key: impl Into<String>, message: impl Into<String>) {
        self.report(run_id, key, Severity::Error, message);
    }

    fn warning(
        &mut self,
        run_id: Option<RunId>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.report(run_id, key, Severity::Warning, message);
    }

    fn scan(&mut self, tree: &str, key: &[u8], value: &[u8]) {
        match tree {
            "runs" => self.scan_legacy_run(key, value),
            "steps" => self.scan_step(key, 0, value, true),
            _ => match key.first() {
                _ if key == keys::META => match records::decode::<MetaRecord>(value) {
                    Ok(meta) => self.meta = Some(meta),
                    Err(err) => self.error(None, "meta", chain(&err)),
                },
                Some(&keys::HEAD) => self.scan_head(key, value),
                Some(&keys::SPEC) => self.scan_spec(key, value),
                Some(&keys::STEP) => self.scan_step(key, 1, value, false),
                Some(&keys::BATCH) => self.scan_batch(key, value),
                Some(&keys::OPEN) => {
                    if let Some(run_id) = self.id_key("open", key, true) {
                        match records::decode::<records::OpenRecord>(value) {
                            Ok(open) => {
                                self.open.insert(run_id, open.failed);
                            }
                            Err(err) => self.error(Some(run_id), "open", chain(&err)),
                        }
                    }
                }
                Some(&keys::DIGEST) => match records::decode::<Id>(value) {
                    Ok(id) => self
                        .digests
                        .push((String::from_utf8_lossy(&key[1..]).into_owned(), id.0)),
                    Err(err) => self.error(None, format!("digest/{}", hex(&key[1..])), chain(&err)),
                },
                _ => self.error(
                    None,
                    format!("v2/{}", hex(key)),
                    "key does not match the layout: M, or H, P, S, U, B or D and a 16-byte id",
                ),
            },
        }
    }

    /// The run id of a key made of one prefix byte and a 16-byte id, reporting a bad length.
    fn id_key(&mut self, name: &str, key: &[u8], exact: bool) -> Option<RunId> {
        let long_enough = key.len() >= 17 && (!exact || key.len() == 17);
        if !long_enough {
            self.error(
                None,
                format!("{name}/{}", hex(key)),
                format!(
                    "key is {} bytes; a {name} key is one prefix byte and a 16-byte id",
                    key.len()
                ),
            );
            return None;
        }
        keys::id_of(key).map(RunId)
    }

    fn scan_head(&mut self, key: &[u8], value: &[u8]) {
        let Some(run_id) = self.id_key("head", key, true) else {
            return;
        };
        match records::decode::<HeadRecord>(value) {
            Ok(head) => self.runs.entry(run_id).or_default().head = Some(head),
            Err(err) => {
                self.error(Some(run_id), "head", chain(&err));
                self.runs.entry(run_id).or_default().unreadable = true;
            }
        }
    }

    fn scan_spec(&mut self, key: &[u8], value: &[u8]) {
        let Some(run_id) = self.id_key("spec", key, true) else {
            return;
        };
        match records::decode::<SpecRecord>(value) {
            Ok(spec) => {
                if spec.run_id != Id(run_id.0) {
                    self.error(
                        Some(run_id),
                        "spec",
                        format!(
                            "the record is stored under this run's key but belongs to run {}",
                            RunId(spec.run_id.0)
                        ),
                    );
                }
                self.runs.entry(run_id).or_default().spec = Some(spec);
            }
            Err(err) => {
                self.error(Some(run_id), "spec", chain(&err));
                self.runs.entry(run_id).or_default().unreadable = true;
            }
        }
    }

    fn scan_legacy_run(&mut self, key: &[u8], value: &[u8]) {
        let Ok(id_bytes) = <[u8; 16]>::try_from(key) else {
            self.error(
                None,
                format!("runs/{}", hex(key)),
                format!(
                    "run key is {} bytes; a run key is a 16-byte big-endian run id",
                    key.len()
                ),
            );
            return;
        };
        let run_id = RunId(u128::from_be_bytes(id_bytes));
        self.runs.entry(run_id).or_default().legacy = true;
        // Decoded once the run's steps are read: they tell its state apart.
        self.legacy_runs.push((run_id, value.to_vec()));
    }

    fn decode_legacy_runs(&mut self) {
        for (run_id, value) in std::mem::take(&mut self.legacy_runs) {
            let steps: Vec<records::StepRecord> = self
                .runs
                .get(&run_id)
                .map(|found| {
                    found
                        .steps
                        .values()
                        .map(records::StepRecord::from)
                        .collect()
                })
                .unwrap_or_default();
            match records::decode_v1_run(&value, &steps) {
                Ok((spec, head)) => {
                    if spec.run_id != Id(run_id.0) {
                        self.error(
                            Some(run_id),
                            "runs",
                            format!(
                                "the record is stored under this run's key but belongs to run {}",
                                RunId(spec.run_id.0)
                            ),
                        );
                    }
                    let found = self.runs.entry(run_id).or_default();
                    found.spec = Some(spec);
                    found.head = Some(head);
                }
                Err(err) => {
                    self.error(Some(run_id), "runs", chain(&err));
                    self.runs.entry(run_id).or_default().unreadable = true;
                }
            }
        }
    }

    /// A step key: `prefix` bytes (0 in the legacy tree, `S` here), the run id, the step.
    fn scan_step(&mut self, key: &[u8], prefix: usize, value: &[u8], legacy: bool) {
        let tree = if legacy { "steps" } else { "v2" };
        let Some(id_bytes) = key.get(prefix..prefix + 16) else {
            self.error(
                None,
                format!("{tree}/{}", hex(key)),
                format!(
                    "step key is {} bytes, shorter than the run id it holds",
                    key.len()
                ),
            );
            return;
        };
        let run_id = RunId(u128::from_be_bytes(
            id_bytes.try_into().expect("16 bytes were taken"),
        ));
        let suffix = &key[prefix + 16..];
        let step = keys::parse_step_suffix(suffix);
        let name = match step {
            Some(step) => keys::step_name(step),
            None => format!("steps/{}", hex(suffix)),
        };
        match step {
            None => self.error(
                Some(run_id),
                name.clone(),
                "step key does not match the layout: run id, then 0 (overview) or 1 and a big-endian u32 week",
            ),
            Some(StepId::Week(0)) => {
                self.error(Some(run_id), name.clone(), "week 0 does not exist; weeks count from 1")
            }
            Some(step) => self.runs.entry(run_id).or_default().step_keys.push(step),
        }
        match records::decode_step(value) {
            Ok(record) => {
                let Some(step) = step else { return };
                let holds = StepId::from(record.step);
                if holds != step {
                    self.error(
                        Some(run_id),
                        name,
                        format!("the record holds {holds} but is stored under the key of {step}"),
                    );
                    return;
                }
                self.runs
                    .entry(run_id)
                    .or_default()
                    .steps
                    .insert(step, StepState::from(record));
            }
            Err(err) => {
                self.error(Some(run_id), name, chain(&err));
                self.runs.entry(run_id).or_default().unreadable = true;
            }
        }
    }

    fn scan_batch(&mut self, key: &[u8], value: &[u8]) {
        let Some(id) = self.id_key("batch", key, true) else {
            return;
        };
        match records::decode::<BatchRecord>(value) {
            Ok(batch) if batch.batch_id.0 != id.0 => self.error(
                None,
                format!("batch/{:032x}", id.0),
                format!("holds batch {:032x}", batch.batch_id.0),
            ),
            Ok(batch) => {
                self.batches.insert(id.0, batch);
            }
            Err(err) => self.error(None, format!("batch/{:032x}", id.0), chain(&err)),
        }
    }

    fn check_runs(&mut self, file_exists: &dyn Fn(&Path) -> bool) {
        let runs = std::mem::take(&mut self.runs);
        let mut stored_runs = 0u64;
        for (run_id, found) in &runs {
            let head_key = if found.legacy { "runs" } else { "head" };
            match (&found.spec, &found.head) {
                (Some(spec), Some(head)) => {
                    stored_runs += 1;
                    match RunSpec::try_from(spec.clone()) {
                        Ok(spec) => self.check_run(*run_id, found, &spec, head, file_exists),
                        Err(err) => self.error(Some(*run_id), "spec", err.to_string()),
                    }
                }
                _ if found.unreadable => stored_runs += 1,
                (None, Some(_)) => {
                    stored_runs += 1;
                    self.error(Some(*run_id), "spec", "is missing; every run has one")
                }
                (Some(_), None) => {
                    stored_runs += 1;
                    self.error(Some(*run_id), head_key, "is missing; every run has one")
                }
                (None, None) => {
                    for step in &found.step_keys {
                        self.error(
                            Some(*run_id),
                            keys::step_name(*step),
                            "orphan step record: its run has no record",
                        );
                    }
                }
            }
        }
        let indexed = self.meta.is_some();
        for (run_id, found) in &runs {
            let Some(head) = &found.head else {
                if self.open.contains_key(run_id) && !found.unreadable {
                    self.error(Some(*run_id), "open", "lists a run the store does not hold");
                }
                continue;
            };
            let should = match head.state {
                records::StateRecord::Done => None,
                records::StateRecord::Failed { .. } => Some(true),
                _ => Some(false),
            };
            let listed = self.open.get(run_id).copied();
            if indexed && listed != should {
                match should {
                    None => self.warning(
                        Some(*run_id),
                        "open",
                        "lists the run as unfinished, but it is done; `resume` reads it for nothing",
                    ),
                    Some(_) => self.error(
                        Some(*run_id),
                        "open",
                        "the run is not done but the open index does not list it as it is; `resume` would not continue it",
                    ),
                }
            }
        }
        let orphans: Vec<RunId> = self
            .open
            .keys()
            .filter(|run_id| !runs.contains_key(run_id))
            .copied()
            .collect();
        for run_id in orphans {
            self.error(Some(run_id), "open", "lists a run the store does not hold");
        }
        if let Some(meta) = &self.meta {
            if meta.runs < stored_runs {
                self.warning(
                    None,
                    "meta",
                    format!(
                        "counts {} run(s) created but the store holds {stored_runs}",
                        meta.runs
                    ),
                );
            }
        }
        self.runs = runs;
    }

    fn check_run(
        &mut self,
        run_id: RunId,
        found: &Found,
        spec: &RunSpec,
        head: &HeadRecord,
        file_exists: &dyn Fn(&Path) -> bool,
    ) {
        let id = Some(run_id);
        let head_key = if found.legacy { "runs" } else { "head" };
        let total = spec.total_weeks;
        // Start dates are bounded at input now; a store from before that can hold a run whose
        // plan file could never be written, which `resume` would stop on every time.
        if crate::planfile::plan_end_date(spec.start_date, total).is_none() {
            self.error(
                id,
                if found.legacy { "runs" } else { "spec" },
                format!(
                    "start_date {} with {total} weeks ends past the last representable date; the plan file can never be written",
                    spec.start_date
                ),
            );
        }
        let state: State = head.state.clone().into();
        let finished = matches!(state, State::Done {} | State::Finalizing { .. });
        let keys_stored = &found.step_keys;
        let stored = |step: StepId| keys_stored.contains(&step);

        // Steps that must have a record. The first transition requests the overview; weeks are
        // requested lowest first, so the stored weeks are 1..=k; a finished run has them all.
        if !matches!(state, State::Created {}) && !stored(StepId::Overview) {
            self.error(
                id,
                keys::step_name(StepId::Overview),
                "step record is missing; every run past `created` has one",
            );
        }
        let highest = keys_stored
            .iter()
            .filter_map(|step| match step {
                StepId::Week(week) => Some(*week),
                StepId::Overview => None,
            })
            .max()
            .unwrap_or(0);
        let required = if finished { total } else { highest.min(total) };
        for week in 1..=required {
            if !stored(StepId::Week(week)) {
                let why = if finished {
                    format!(
                        "step record is missing; a {} run has all {total} weeks",
                        crate::workflow::state_name(&state)
                    )
                } else {
                    format!(
                        "step record is missing, though week {highest} has one (weeks are requested lowest first)"
                    )
                };
                self.error(id, keys::step_name(StepId::Week(week)), why);
            }
        }
        for step in keys_stored {
            if let StepId::Week(week) = step {
                if *week > total {
                    self.error(
                        id,
                        keys::step_name(*step),
                        format!("the plan has {total} weeks; this step is beyond it"),
                    );
                }
            }
        }

        // Each decodable step on its own.
        let mut weeks_accepted = 0u32;
        for (step, state_of_step) in &found.steps {
            let key = keys::step_name(*step);
            let accepted = state_of_step.accepted_at_ms.is_some()
                && (state_of_step.accepted.is_some() || state_of_step.compacted);
            if matches!(step, StepId::Week(_)) && accepted {
                weeks_accepted += 1;
            }
            self.check_step(run_id, spec, &state, &key, state_of_step);
            if finished && !accepted {
                self.error(
                    id,
                    key,
                    format!(
                        "the run is {} but this step is not accepted",
                        crate::workflow::state_name(&state)
                    ),
                );
            }
        }
        if weeks_accepted > total {
            self.error(
                id,
                head_key,
                format!("{weeks_accepted} weeks are accepted; the plan has only {total}"),
            );
        }

        // Counters of the head record.
        let done = matches!(state, State::Done {});
        if head.done_count > 1 {
            self.error(
                id,
                head_key,
                format!("done_count is {}; a run reaches done once", head.done_count),
            );
        } else if done && head.done_count != 1 {
            self.error(id, head_key, "the run is done but its done_count is 0");
        } else if !done && head.done_count == 1 {
            self.error(
                id,
                head_key,
                format!(
                    "done_count is 1 but the run is {}",
                    crate::workflow::state_name(&state)
                ),
            );
        }
        if !found.legacy && !found.unreadable {
            let mut derived = 0u32;
            for step in found.steps.values() {
                if matches!(step.step, StepId::Week(week) if week <= total) && step.is_accepted() {
                    derived += 1;
                }
            }
            if head.summary.weeks_done != derived {
                self.warning(
                    id,
                    head_key,
                    format!(
                        "the summary says {} weeks done, the steps {derived}; `list` shows the summary",
                        head.summary.weeks_done
                    ),
                );
            }
        }
        if let Some(batch) = &spec.batch {
            let listed = self
                .batches
                .get(&batch.batch_id)
                .and_then(|record| record.items.get(batch.item as usize))
                .is_some_and(|item| item.run_id == Id(run_id.0));
            if !self.batches.contains_key(&batch.batch_id) {
                self.error(
                    id,
                    "spec",
                    format!(
                        "belongs to batch {:032x}, which has no record",
                        batch.batch_id
                    ),
                );
            } else if !listed {
                self.error(
                    id,
                    "spec",
                    format!(
                        "says it is item {} of batch {:032x}, which lists another run there",
                        batch.item, batch.batch_id
                    ),
                );
            }
        }
        if done {
            match &head.output_file {
                None => self.error(id, head_key, "the run is done but names no plan file"),
                Some(name) => {
                    let path = Path::new(&spec.output_dir).join(name);
                    if !file_exists(&path) {
                        self.warning(
                            id,
                            head_key,
                            format!("plan file {} is missing", path.display()),
                        );
                    }
                }
            }
        }
    }

    fn check_batches(&mut self) {
        let batches = std::mem::take(&mut self.batches);
        for (id, batch) in &batches {
            let key = format!("batch/{id:032x}");
            for (index, item) in batch.items.iter().enumerate() {
                let run_id = RunId(item.run_id.0);
                let present = self
                    .runs
                    .get(&run_id)
                    .is_some_and(|found| found.head.is_some() || found.unreadable);
                if !present {
                    self.error(
                        None,
                        key.clone(),
                        format!("item {index} names run {run_id}, which the store does not hold"),
                    );
                }
            }
            if !self
                .digests
                .iter()
                .any(|(digest, batch_id)| batch_id == id && *digest == batch.digest)
            {
                self.warning(
                    None,
                    key.clone(),
                    "has no digest key: submitting it again would not be recognised",
                );
            }
        }
        self.batches = batches;
    }

    fn check_step(
        &mut self,
        run_id: RunId,
        spec: &RunSpec,
        state: &State,
        key: &str,
        step: &StepState,
    ) {
        let id = Some(run_id);
        let policy = &spec.retry;
        let done = matches!(state, State::Done {});
        match (&step.accepted, step.accepted_at_ms, step.compacted) {
            (Some(_), None, _) => {
                self.error(id, key, "holds accepted arguments but no acceptance time")
            }
            (None, Some(_), false) => self.error(
                id,
                key,
                "is accepted but holds no accepted arguments and is not compacted",
            ),
            _ => {}
        }
        let wrong_kind = matches!(
            (&step.accepted, step.step),
            (Some(Accepted::Overview(_)), StepId::Week(_))
                | (Some(Accepted::Week(_)), StepId::Overview)
        );
        if wrong_kind {
            self.error(
                id,
                key,
                "holds the accepted arguments of another kind of step",
            );
        }
        if step.compacted && !done {
            self.error(
                id,
                key,
                format!(
                    "is compacted but the run is {}; only a done run drops its checkpoints",
                    crate::workflow::state_name(state)
                ),
            );
        }
        if step.refused > policy.max_attempts {
            self.warning(
                id,
                key,
                format!(
                    "{} refused answers since the last retry; the run allows {}",
                    step.refused, policy.max_attempts
                ),
            );
        }
        if step.transient_failures > policy.max_transient_retries + 1 {
            self.warning(
                id,
                key,
                format!(
                    "{} transient failures since the last retry; the run allows {} retries",
                    step.transient_failures, policy.max_transient_retries
                ),
            );
        }
        let numbered = step
            .attempts
            .iter()
            .enumerate()
            .all(|(index, attempt)| attempt.attempt as usize == index + 1);
        if !numbered {
            self.warning(id, key, "attempts are not numbered 1, 2, 3, … in order");
        }
        if let Some(flight) = &step.in_flight {
            if flight.attempt as usize != step.attempts.len() + 1 {
                self.warning(
                    id,
                    key,
                    format!(
                        "attempt {} is in flight after {} recorded attempts",
                        flight.attempt,
                        step.attempts.len()
                    ),
                );
            }
        }
        if (step.requests as usize) < step.attempts.len() {
            self.warning(
                id,
                key,
                format!(
                    "{} requests but {} recorded attempts",
                    step.requests,
                    step.attempts.len()
                ),
            );
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(empty)".to_string();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An error and its sources, as one line.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
