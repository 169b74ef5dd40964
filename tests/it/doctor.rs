//! `periodize doctor` and store faults: every planted problem is reported with its run and key,
//! and commands that read a corrupt run fail naming it, never panic and never skip it.
//!
//! sled releases its directory lock from background threads after a `Store` is dropped, so a
//! store is never handed from this process to a child. A store the binary checks afterwards is
//! written by child processes only: the binary itself, or this test binary re-run on one test.
//! A process's exit releases the lock at once, so no test waits.

use std::path::{Path, PathBuf};
use std::process::Command;

use periodize::llm::StepId;
use periodize::store::doctor::{self, Problem, Severity};
use periodize::store::records::{self, HeadRecord};
use periodize::store::sled_store::keys;
use periodize::store::{self, Store};
use periodize::workflow::RunId;
use serde_json::Value;

use crate::support::{fixture, stderr, stdout, Sandbox};

/// Set in a child test process: the store directory it corrupts.
const PLANT_DIR: &str = "PERIODIZE_TEST_PLANT_DIR";

/// Generates a finished 2-week plan in the sandbox; returns its run id and plan file path.
fn generate(sandbox: &Sandbox) -> (RunId, PathBuf) {
    let profile = fixture("profiles/athlete.json").display().to_string();
    let output = sandbox.run(&["generate", "--profile", &profile, "--weeks", "2", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let last: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    assert_eq!(last["state"], "done", "{last}");
    let run_id = RunId::parse(last["run_id"].as_str().unwrap()).unwrap();
    let path = sandbox.dir.path().join(last["path"].as_str().unwrap());
    assert!(path.is_file(), "{}", path.display());
    (run_id, path)
}

fn step_key(run_id: RunId, step: StepId) -> Vec<u8> {
    keys::step(run_id, step)
}

fn step_bytes(store: &Store, run_id: RunId, step: StepId) -> Vec<u8> {
    store
        .get_raw_for_tests("v2", &step_key(run_id, step))
        .unwrap()
        .expect("the step is stored")
}

/// A key under the head prefix that is too short to hold a run id.
const SHORT_HEAD_KEY: &[u8] = &[b'H', 1, 2, 3, 4, 5];

/// The faults of the issue: a truncated record, an unknown format version, garbage under a
/// malformed runs key, and a deleted week.
fn plant_basic_faults(store: &Store, run_id: RunId) {
    let mut future = step_bytes(store, run_id, StepId::Overview);
    future[..2].copy_from_slice(&99u16.to_le_bytes());
    store
        .put_raw_for_tests("v2", &step_key(run_id, StepId::Overview), &future)
        .unwrap();
    store
        .put_raw_for_tests("v2", &step_key(run_id, StepId::Week(1)), &[1])
        .unwrap();
    store
        .put_raw_for_tests("v2", SHORT_HEAD_KEY, b"garbage")
        .unwrap();
    store
        .delete_raw_for_tests("v2", &step_key(run_id, StepId::Week(2)))
        .unwrap();
}

fn assert_reported(problems: &[Problem], run_id: Option<RunId>, key: &str, needle: &str) {
    let run_id = run_id.map(|id| id.to_string());
    assert!(
        problems
            .iter()
            .any(|p| p.run_id == run_id && p.key == key && p.message.contains(needle)),
        "no problem for run {run_id:?} key {key} containing {needle:?} in:\n{}",
        problems
            .iter()
            .map(|p| format!("{}: {p}\n", p.severity))
            .collect::<String>()
    );
}

#[test]
fn a_clean_store_has_no_problems() {
    let sandbox = Sandbox::new();
    generate(&sandbox);
    let output = sandbox.run(&["doctor"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "0 error(s), 0 warning(s) in state\n");

    let output = sandbox.run(&["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        report,
        serde_json::json!({"dir": "state", "errors": 0, "warnings": 0, "problems": []})
    );

    // No store to check: an error naming the directory, and nothing is created.
    let output = sandbox.run(&["doctor", "--state-dir", "nowhere"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("nowhere"), "{}", stderr(&output));
    assert!(!sandbox.path("nowhere").exists());
}

#[test]
fn a_state_dir_that_is_a_file_is_refused_by_name() {
    let sandbox = Sandbox::new();
    sandbox.write("plain-file", "not a store");
    for args in [
        &["doctor"][..],
        &["list"][..],
        &["status"][..],
        &["resume"][..],
    ] {
        let output = sandbox
            .command()
            .args(args)
            .args(["--state-dir", "plain-file"])
            .output()
            .unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(
            message.contains("--state-dir plain-file is not a directory")
                && !message.contains("panicked"),
            "{args:?}: {message}"
        );
    }
}

/// Every planted problem is reported, each once, with its run and key, and nothing else is.
#[test]
fn every_planted_problem_is_reported_by_run_and_key() {
    let sandbox = Sandbox::new();
    let (a, a_plan) = generate(&sandbox);
    let (b, _) = generate(&sandbox);
    std::fs::remove_file(&a_plan).unwrap();
    // Every child has exited: this process is the store's only user from here on.
    let store = Store::open_simple(&sandbox.path("state")).unwrap();
    assert_eq!(doctor::check(&store, |_| true), vec![]);

    let overview_b = step_bytes(&store, b, StepId::Overview);
    let week_1_b = step_bytes(&store, b, StepId::Week(1));
    let overview_a = step_bytes(&store, a, StepId::Overview);
    plant_basic_faults(&store, a);
    // A valid record under the key of another step, beyond the plan's two weeks.
    store
        .put_raw_for_tests("v2", &step_key(a, StepId::Week(3)), &overview_a)
        .unwrap();
    // A step key that is neither the overview (0) nor a week (1 ++ u32).
    let mut odd_key = keys::steps_of(a);
    odd_key.push(7);
    store
        .put_raw_for_tests("v2", &odd_key, &overview_b)
        .unwrap();
    // A step record whose run has no record.
    let orphan = RunId(0xdead_beef);
    store
        .put_raw_for_tests("v2", &step_key(orphan, StepId::Week(1)), &week_1_b)
        .unwrap();
    // Run B: reached Done twice, and a step over its retry policy.
    let head_bytes = store
        .get_raw_for_tests("v2", &keys::head(b))
        .unwrap()
        .unwrap();
    let mut head_b: HeadRecord = records::decode(&head_bytes).unwrap();
    head_b.done_count = 2;
    store
        .put_raw_for_tests("v2", &keys::head(b), &records::encode(&head_b))
        .unwrap();
    let mut week_1 = records::decode_step(&week_1_b).unwrap();
    week_1.refused = 99;
    store
        .put_raw_for_tests(
            "v2",
            &step_key(b, StepId::Week(1)),
            &records::encode(&week_1),
        )
        .unwrap();

    let root = sandbox.dir.path().to_path_buf();
    let problems = doctor::check(&store, |path| root.join(path).is_file());
    let expected = [
        (None, "head/480102030405", "key is 6 bytes"),
        (Some(a), "steps/overview", "format version 99"),
        (Some(a), "steps/week-1", "1 bytes, too short"),
        (Some(a), "steps/week-2", "step record is missing"),
        (
            Some(a),
            "steps/week-3",
            "holds overview but is stored under",
        ),
        (Some(a), "steps/week-3", "beyond"),
        (Some(a), "steps/07", "does not match the layout"),
        (Some(a), "head", "is missing"),
        (Some(b), "head", "done_count is 2"),
        (Some(b), "steps/week-1", "99 refused answers"),
        (Some(orphan), "steps/week-1", "orphan"),
    ];
    for (run_id, key, needle) in expected {
        assert_reported(&problems, run_id, key, needle);
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    let warnings: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.severity == Severity::Warning)
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings
        .iter()
        .all(|p| p.key == "head" || p.message.contains("refused")));
    let shown = problems
        .iter()
        .find(|p| p.key == "steps/week-2")
        .unwrap()
        .to_string();
    assert!(
        shown.starts_with(&format!("run {a} key steps/week-2: ")),
        "{shown}"
    );

    // Loading the corrupt run is an error naming the run and the key, never a skip.
    let err = store.load(a).err().expect("a corrupt run does not load");
    assert!(matches!(err, store::Error::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&a.to_string()) && message.contains("steps/overview"),
        "{message}"
    );
}

/// Through the binary: `doctor` exits 1 and lists the planted faults; `show`, `status` and
/// `resume` on the corrupt run fail with a message naming the run and the key.
///
/// The faults are planted by this same test re-run in a child process (with `PLANT_DIR` set),
/// so the store is closed when that process exits and the binary can open it at once.
#[test]
fn doctor_and_show_name_a_corrupt_run() {
    if let Ok(dir) = std::env::var(PLANT_DIR) {
        let store = Store::open_simple(Path::new(&dir)).unwrap();
        let run_id = store.run_ids().unwrap()[0];
        plant_basic_faults(&store, run_id);
        store.flush_blocking().unwrap();
        println!("planted in run {run_id}");
        return;
    }
    let sandbox = Sandbox::new();
    let (run_id, _) = generate(&sandbox);
    let planted = Command::new(std::env::current_exe().unwrap())
        .args([
            "doctor::doctor_and_show_name_a_corrupt_run",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(PLANT_DIR, sandbox.path("state"))
        .output()
        .unwrap();
    assert!(
        planted.status.success() && stdout(&planted).contains(&format!("planted in run {run_id}")),
        "{}{}",
        stdout(&planted),
        stderr(&planted)
    );

    let output = sandbox.run(&["doctor"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    assert!(
        text.contains(&format!(
            "error: run {run_id} key steps/week-1: record is 1 bytes, too short"
        )),
        "{text}"
    );
    assert!(
        text.ends_with("4 error(s), 0 warning(s) in state\n"),
        "{text}"
    );

    let output = sandbox.run(&["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        (report["errors"].as_u64(), report["warnings"].as_u64()),
        (Some(4), Some(0))
    );
    let problems = report["problems"].as_array().unwrap();
    let id = run_id.to_string();
    for (run, key, needle) in [
        (Value::Null, "head/480102030405", "6 bytes"),
        (
            Value::from(id.as_str()),
            "steps/overview",
            "format version 99",
        ),
        (Value::from(id.as_str()), "steps/week-1", "too short"),
        (Value::from(id.as_str()), "steps/week-2", "missing"),
    ] {
        assert!(
            problems.iter().any(|p| p["run_id"] == run
                && p["key"] == key
                && p["severity"] == "error"
                && p["message"].as_str().unwrap().contains(needle)),
            "{key}: {report:#}"
        );
    }

    for args in [
        vec!["show", id.as_str()],
        vec!["status", id.as_str()],
        vec!["resume", id.as_str()],
    ] {
        let output = sandbox.run(&args);
        let message = stderr(&output);
        assert!(
            matches!(output.status.code(), Some(1 | 2)),
            "{args:?}: {message}"
        );
        assert!(
            message.contains(&id)
                && message.contains("steps/overview")
                && message.contains("format version 99")
                && !message.contains("panicked"),
            "{args:?}: {message}"
        );
    }
}
