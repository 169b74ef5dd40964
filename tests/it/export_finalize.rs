//! Exports at finalize and from a run: `generate --export` writes them in 3c into the folder
//! named after the plan file, byte-identical to `periodize export` of that plan file and of the
//! run's id; a bad `--export` is refused before anything is stored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{fixture, stderr, stdout, Sandbox};

/// Every file under `dir`, by path relative to it.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, at: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn lines(output: &std::process::Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// `generate --export zwo`: the progress line names the folder, which sits beside the plan
/// file and is named after it, and holds what `export PLAN` and `export RUN` write.
#[test]
fn generate_export_writes_beside_the_plan_what_export_of_the_plan_and_the_run_write() {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let output = sandbox.run(&[
        "generate",
        "--profile",
        &profile,
        "--weeks",
        "8",
        "--export",
        "zwo",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let events = lines(&output);
    let finalized = events
        .iter()
        .find(|event| event["event"] == "plan_finalized")
        .expect("a plan_finalized line");
    let plan = PathBuf::from(finalized["path"].as_str().unwrap());
    let exports = PathBuf::from(finalized["exports"].as_str().unwrap());
    let stem = plan.file_stem().unwrap().to_str().unwrap();
    assert_eq!(exports.parent(), plan.parent(), "beside the plan file");
    assert_eq!(
        exports.file_name().unwrap().to_str().unwrap(),
        format!("{stem}_export")
    );
    let written = tree(&exports);
    let workouts: usize = {
        let plan: Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
        plan["weekly_plan"]
            .as_array()
            .unwrap()
            .iter()
            .map(|week| week["workouts"].as_array().unwrap().len())
            .sum()
    };
    assert_eq!(written.len(), workouts, "one .zwo per workout");
    assert!(written.keys().all(|name| name.ends_with(".zwo")));

    let from_plan = sandbox.run(&[
        "export",
        plan.to_str().unwrap(),
        "--format",
        "zwo",
        "--out",
        "from-plan",
    ]);
    assert!(from_plan.status.success(), "{}", stderr(&from_plan));
    assert_eq!(tree(&sandbox.path("from-plan")), written);

    let run_id = events[0]["run_id"].as_str().unwrap();
    for id in [run_id, &run_id[..8]] {
        let out = format!("from-run-{}", id.len());
        let from_run = sandbox.run(&["export", id, "--format", "zwo", "--out", &out]);
        assert!(from_run.status.success(), "{id}: {}", stderr(&from_run));
        assert_eq!(tree(&sandbox.path(&out)), written, "export {id}");
    }
}

/// A format that does not exist is refused naming the flag and the value, before a run is
/// created; `export` of a run that does not exist names it.
#[test]
fn a_bad_export_list_or_run_exits_2_and_stores_nothing() {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let output = sandbox.run(&[
        "generate",
        "--profile",
        &profile,
        "--weeks",
        "8",
        "--export",
        "zwo,pdf",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("--export") && message.contains("pdf"),
        "{message}"
    );
    let listed = sandbox.run(&["list", "--json"]);
    let runs: Value = serde_json::from_str(stdout(&listed).trim()).unwrap_or(Value::Null);
    assert!(
        runs.as_array().is_none_or(Vec::is_empty),
        "no run stored: {runs}"
    );
    assert!(!sandbox.path("output").exists(), "no output written");

    let output = sandbox.run(&["export", "abcdef12", "--format", "zwo", "--out", "x"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!sandbox.path("x").exists());
}
