//! `periodize doctor`: reads every record of both trees and reports every problem it finds, with
//! the run and key it belongs to. It never stops at the first problem and never repairs anything.
//! The only check outside sled (does a finished run's plan file exist?) goes through a closure,
//! so this module does no file IO of its own.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::llm::StepId;
use crate::store::records::{self, RunRecord, StepRecord};
use crate::store::{step_key, step_key_name, Store};
use crate::workflow::{Accepted, RunId, State, StepState};

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

/// One problem, named by run (when the key holds one) and key (`runs`, `steps/week-2`, …).
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

/// Checks every record of the store. `file_exists` answers whether a finished run's plan file
/// is still on disk. A clean store gives no problems.
pub fn check(store: &Store, file_exists: impl Fn(&Path) -> bool) -> Vec<Problem> {
    let mut doctor = Doctor::default();
    doctor.scan_runs(store);
    doctor.scan_steps(store);
    doctor.check_runs(&file_exists);
    // Group by run (store-level problems first); within a run, problems keep scan order.
    doctor.problems.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    doctor.problems
}

#[derive(Default)]
struct Doctor {
    problems: Vec<Problem>,
    /// Every run with a record under a well-formed key; `None` when the record does not decode.
    runs: BTreeMap<RunId, Option<RunRecord>>,
    /// Every decodable step record under a well-formed key, by run and by the step of its key.
    steps: BTreeMap<RunId, BTreeMap<StepId, StepState>>,
    /// Every well-formed step key, decodable or not, by run.
    step_keys: BTreeMap<RunId, Vec<StepId>>,
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

    fn scan_runs(&mut self, store: &Store) {
        for item in store.runs.iter() {
            let (key, bytes) = match item {
                Ok(pair) => pair,
                Err(err) => {
                    self.error(
                        None,
                        "runs",
                        format!("the runs tree cannot be read further: {}", chain(&err)),
                    );
                    break;
                }
            };
            let Ok(id_bytes) = <[u8; 16]>::try_from(key.as_ref()) else {
                self.error(
                    None,
                    format!("runs/{}", hex(&key)),
                    format!(
                        "run key is {} bytes; a run key is a 16-byte big-endian run id",
                        key.len()
                    ),
                );
                continue;
            };
            let run_id = RunId(u128::from_be_bytes(id_bytes));
            match records::decode::<RunRecord>(&bytes) {
                Ok(record) => {
                    if record.spec.run_id != run_id {
                        self.error(
                            Some(run_id),
                            "runs",
                            format!(
                                "the record is stored under this run's key but belongs to run {}",
                                record.spec.run_id
                            ),
                        );
                    }
                    self.runs.insert(run_id, Some(record));
                }
                Err(err) => {
                    self.error(Some(run_id), "runs", chain(&err));
                    self.runs.insert(run_id, None);
                }
            }
        }
    }

    fn scan_steps(&mut self, store: &Store) {
        for item in store.steps.iter() {
            let (key, bytes) = match item {
                Ok(pair) => pair,
                Err(err) => {
                    self.error(
                        None,
                        "steps",
                        format!("the steps tree cannot be read further: {}", chain(&err)),
                    );
                    break;
                }
            };
            let Some(id_bytes) = key.get(..16) else {
                self.error(
                    None,
                    format!("steps/{}", hex(&key)),
                    format!(
                        "step key is {} bytes, shorter than the 16-byte run id it starts with",
                        key.len()
                    ),
                );
                continue;
            };
            let run_id = RunId(u128::from_be_bytes(
                id_bytes.try_into().expect("16 bytes were taken"),
            ));
            let step = match &key[16..] {
                [0] => Some(StepId::Overview),
                [1, a, b, c, d] => Some(StepId::Week(u32::from_be_bytes([*a, *b, *c, *d]))),
                _ => None,
            };
            let name = match step {
                Some(_) => step_key_name(&key),
                None => format!("steps/{}", hex(&key[16..])),
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
                Some(step) => self.step_keys.entry(run_id).or_default().push(step),
            }
            if !self.runs.contains_key(&run_id) {
                self.error(
                    Some(run_id),
                    name.clone(),
                    "orphan step record: its run has no record in the runs tree",
                );
            }
            match records::decode::<StepRecord>(&bytes) {
                Ok(record) => {
                    let Some(step) = step else { continue };
                    if record.step.step != step {
                        self.error(
                            Some(run_id),
                            name,
                            format!(
                                "the record holds {} but is stored under the key of {step}",
                                record.step.step
                            ),
                        );
                        continue;
                    }
                    self.steps
                        .entry(run_id)
                        .or_default()
                        .insert(step, record.step);
                }
                Err(err) => self.error(Some(run_id), name, chain(&err)),
            }
        }
    }

    fn check_runs(&mut self, file_exists: &dyn Fn(&Path) -> bool) {
        let runs = std::mem::take(&mut self.runs);
        for (run_id, record) in &runs {
            if let Some(record) = record {
                self.check_run(*run_id, record, file_exists);
            }
        }
        self.runs = runs;
    }

    fn check_run(
        &mut self,
        run_id: RunId,
        record: &RunRecord,
        file_exists: &dyn Fn(&Path) -> bool,
    ) {
        let id = Some(run_id);
        let total = record.spec.total_weeks;
        let state = &record.state;
        let finished = matches!(state, State::Done {} | State::Finalizing { .. });
        let keys = self.step_keys.remove(&run_id).unwrap_or_default();
        let steps = self.steps.remove(&run_id).unwrap_or_default();
        let stored = |step: StepId| keys.contains(&step);

        // Steps that must have a record. The first transition requests the overview; weeks are
        // requested lowest first, so the stored weeks are 1..=k; a finished run has them all.
        if !matches!(state, State::Created {}) && !stored(StepId::Overview) {
            self.error(
                id,
                step_key_name(&step_key(run_id, StepId::Overview)),
                "step record is missing; every run past `created` has one",
            );
        }
        let highest = keys
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
                        crate::workflow::state_name(state)
                    )
                } else {
                    format!(
                        "step record is missing, though week {highest} has one (weeks are requested lowest first)"
                    )
                };
                self.error(id, week_key(run_id, week), why);
            }
        }
        for step in &keys {
            if let StepId::Week(week) = step {
                if *week > total {
                    self.error(
                        id,
                        week_key(run_id, *week),
                        format!("the plan has {total} weeks; this step is beyond it"),
                    );
                }
            }
        }

        // Each decodable step on its own.
        let mut weeks_accepted = 0u32;
        for (step, state_of_step) in &steps {
            let key = step_key_name(&step_key(run_id, *step));
            let accepted = state_of_step.accepted_at_ms.is_some()
                && (state_of_step.accepted.is_some() || state_of_step.compacted);
            if matches!(step, StepId::Week(_)) && accepted {
                weeks_accepted += 1;
            }
            self.check_step(run_id, record, &key, state_of_step);
            if finished && !accepted {
                self.error(
                    id,
                    key,
                    format!(
                        "the run is {} but this step is not accepted",
                        crate::workflow::state_name(state)
                    ),
                );
            }
        }
        if weeks_accepted > total {
            self.error(
                id,
                "runs",
                format!("{weeks_accepted} weeks are accepted; the plan has only {total}"),
            );
        }

        // Counters of the run record.
        let done = matches!(state, State::Done {});
        if record.done_count > 1 {
            self.error(
                id,
                "runs",
                format!(
                    "done_count is {}; a run reaches done once",
                    record.done_count
                ),
            );
        } else if done && record.done_count != 1 {
            self.error(id, "runs", "the run is done but its done_count is 0");
        } else if !done && record.done_count == 1 {
            self.error(
                id,
                "runs",
                format!(
                    "done_count is 1 but the run is {}",
                    crate::workflow::state_name(state)
                ),
            );
        }
        if done {
            match &record.output_file {
                None => self.error(id, "runs", "the run is done but names no plan file"),
                Some(name) => {
                    let path = Path::new(&record.spec.output_dir).join(name);
                    if !file_exists(&path) {
                        self.warning(
                            id,
                            "runs",
                            format!("plan file {} is missing", path.display()),
                        );
                    }
                }
            }
        }
    }

    fn check_step(&mut self, run_id: RunId, record: &RunRecord, key: &str, step: &StepState) {
        let id = Some(run_id);
        let policy = &record.spec.retry;
        let done = matches!(record.state, State::Done {});
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
                    crate::workflow::state_name(&record.state)
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

fn week_key(run_id: RunId, week: u32) -> String {
    step_key_name(&step_key(run_id, StepId::Week(week)))
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(empty)".to_string();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An error and its sources, as one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
