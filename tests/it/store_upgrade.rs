//! The upgrade path: a store written by the last format 1 release (`tests/fixtures/store_v1`,
//! 14 runs in every state and every attempt outcome, with its plan files and what that release
//! printed for `list` and `show`) reads the same with this build, read-only commands leave it
//! untouched, and `resume` finishes every unfinished run, rewriting each in format 2.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use periodize::store::records;

use crate::support::{fixture, stderr, stdout, Sandbox};

/// The fixture copied into a sandbox (a store is never opened in place: opening may write).
fn sandbox_with_v1_store() -> Sandbox {
    let sandbox = Sandbox::new();
    copy_dir(&fixture("store_v1/state"), &sandbox.path("state"));
    copy_dir(&fixture("store_v1/output"), &sandbox.path("output"));
    sandbox
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("store_v1/expected/{name}"))).unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

/// Every file of a directory with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            files.insert(
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            );
        }
    }
    files
}

/// What `show --json` prints now and the v1 release did not: each step's repair turns, and
/// the estimated costs (of the run, its phases, steps and attempts).
/// Keys plan files gained after the format 1 release, so that the seed's Phase 4 reads them.
const SEED_KEYS_ADDED: [(&str, &str); 4] = [
    ("athlete_profile", "ftp"),
    ("athlete_profile", "power_to_weight"),
    ("athlete_profile", "training_availability"),
    ("plan_metadata", "plan_type"),
];

fn without_later_fields(value: &Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(object) => {
                for later in ["repair_turns", "cost", "cost_usd"] {
                    object.remove(later);
                }
                object.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = value.clone();
    strip(&mut value);
    value
}

/// The output file path of a v1 listing (relative to the directory it ran in) is absolute
/// now; fields added since are left out; everything else must be what the v1 release printed.
fn same_apart_from_paths(sandbox: &Sandbox, ours: &Value, theirs: &Value, context: &str) {
    let ours = &without_later_fields(ours);
    let (Value::Object(ours), Value::Object(theirs)) = (ours, theirs) else {
        panic!("{context}: not objects");
    };
    for (key, value) in theirs {
        let mine = ours
            .get(key)
            .unwrap_or_else(|| panic!("{context}: no {key}"));
        if key == "output_file" && !value.is_null() {
            let relative = value.as_str().unwrap();
            let root = std::fs::canonicalize(sandbox.dir.path()).unwrap();
            assert_eq!(
                Path::new(mine.as_str().unwrap()),
                root.join(relative),
                "{context}: {key}"
            );
        } else {
            assert_eq!(mine, value, "{context}: {key}");
        }
    }
}

#[test]
fn a_format_1_store_lists_shows_and_checks_as_its_release_did_without_being_written() {
    let sandbox = sandbox_with_v1_store();
    let before = snapshot(&sandbox.path("state"));

    let listed = sandbox.run(&["list", "--json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let ours: Vec<Value> = serde_json::from_str(&stdout(&listed)).unwrap();
    let theirs: Vec<Value> = serde_json::from_str(&expected("list.json")).unwrap();
    assert_eq!(ours.len(), 14);
    let by_id = |runs: &[Value]| -> BTreeMap<String, Value> {
        runs.iter()
            .map(|run| (run["run_id"].as_str().unwrap().to_string(), run.clone()))
            .collect()
    };
    let (ours, theirs) = (by_id(&ours), by_id(&theirs));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let states: Vec<&str> = theirs
        .values()
        .map(|run| run["state"].as_str().unwrap())
        .collect();
    for state in ["overview", "weeks", "finalizing", "done", "failed"] {
        assert!(states.contains(&state), "the fixture has a run in {state}");
    }
    let mut repair_kinds = std::collections::BTreeSet::new();
    for (run_id, run) in &theirs {
        same_apart_from_paths(&sandbox, &ours[run_id], run, &format!("list {run_id}"));
        let short = &run_id[..8];
        let shown = sandbox.run(&["show", short, "--json"]);
        assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
        let shown = json(&stdout(&shown));
        assert_eq!(
            shown["format_version"], 1,
            "{run_id} is read through the upgrade"
        );
        same_apart_from_paths(
            &sandbox,
            &shown,
            &json(&expected(&format!("show_{short}.json"))),
            &format!("show --json {run_id}"),
        );
        for step in shown["steps"].as_array().unwrap() {
            for turn in step["repair_turns"].as_array().unwrap() {
                assert!(turn["feedback"].is_string(), "{turn}");
                let kind = if turn["reply"]["call"].is_object() {
                    "call"
                } else {
                    "text"
                };
                repair_kinds.insert(kind);
            }
        }
        let text = sandbox.run(&["show", short]);
        assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
        let root = std::fs::canonicalize(sandbox.dir.path()).unwrap();
        let want = expected(&format!("show_{short}.txt")).replace(
            "Plan file: output/",
            &format!("Plan file: {}/output/", root.display()),
        );
        assert_eq!(stdout(&text), want, "show {run_id}");
    }
    // The repair conversations the model saw are shown, both kinds.
    assert_eq!(
        repair_kinds.into_iter().collect::<Vec<_>>(),
        ["call", "text"],
        "show --json lists the repair turns"
    );
    let outcomes: Vec<String> = theirs
        .values()
        .flat_map(|run| {
            let shown = json(&expected(&format!(
                "show_{}.json",
                &run["run_id"].as_str().unwrap()[..8]
            )));
            shown["steps"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|step| step["attempts"].as_array().unwrap().clone())
                .map(|attempt| attempt["outcome"]["kind"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for kind in ["accepted", "rejected", "malformed", "transient", "fatal"] {
        assert!(
            outcomes.iter().any(|outcome| outcome == kind),
            "the fixture has a {kind} attempt"
        );
    }

    let checked = sandbox.run(&["doctor"]);
    assert_eq!(
        stdout(&checked),
        "0 error(s), 0 warning(s) in state\n",
        "{}",
        stderr(&checked)
    );
    assert_eq!(
        snapshot(&sandbox.path("state")),
        before,
        "read-only commands never write to the store"
    );
}

#[test]
fn a_format_1_store_resumes_to_the_end_and_is_rewritten_in_the_current_format() {
    let sandbox = sandbox_with_v1_store();
    let theirs: Vec<Value> = serde_json::from_str(&expected("list.json")).unwrap();
    let unfinished: Vec<&Value> = theirs
        .iter()
        .filter(|run| !matches!(run["state"].as_str(), Some("done" | "failed")))
        .collect();
    assert_eq!(unfinished.len(), 4, "overview ×2, weeks, finalizing");
    let finalizing = theirs
        .iter()
        .find(|run| run["state"] == "finalizing")
        .unwrap();
    let written_before = std::fs::read(
        sandbox.path(
            json(&expected(&format!(
                "show_{}.json",
                &finalizing["run_id"].as_str().unwrap()[..8]
            )))["output_file"]
                .as_str()
                .unwrap(),
        ),
    )
    .unwrap();

    // Their mock servers are gone: finish them on the built-in coach.
    let resumed = sandbox.run(&[
        "resume",
        "--provider",
        "builtin",
        "--accept-changes",
        "--json",
    ]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let finished: Vec<Value> = stdout(&resumed)
        .lines()
        .map(json)
        .filter(|event| event["event"] == "finished")
        .collect();
    assert_eq!(finished.len(), 4);
    for event in &finished {
        assert_eq!(event["state"], "done", "{event}");
        let path = event["path"].as_str().unwrap();
        let validated = sandbox.run(&["validate", path]);
        assert_eq!(validated.status.code(), Some(0), "{}", stdout(&validated));
    }
    for run in &unfinished {
        let run_id = run["run_id"].as_str().unwrap();
        let before = json(&expected(&format!("show_{}.json", &run_id[..8])));
        let after = without_later_fields(&json(&stdout(&sandbox.run(&["show", run_id, "--json"]))));
        assert_eq!(after["state"], "done");
        assert_eq!(after["done_count"], 1);
        assert_eq!(
            after["format_version"],
            records::FORMAT_VERSION,
            "{run_id} was rewritten in the current format"
        );
        // A step accepted before the upgrade is never requested again.
        for (old, new) in before["steps"]
            .as_array()
            .unwrap()
            .iter()
            .zip(after["steps"].as_array().unwrap())
        {
            if old["accepted"] == true {
                assert_eq!(old["requests"], new["requests"], "{run_id} {}", old["step"]);
                assert_eq!(old["attempts"], new["attempts"], "{run_id} {}", old["step"]);
            }
        }
    }
    // The plan the v1 release wrote before its crash is written again, the same plan: every
    // value as that release wrote it, plus only the keys plan files gained since for the
    // seed's Phase 4 (`SEED_KEYS_ADDED`). Within one build a re-write is byte for byte the
    // same (tests/crash.rs).
    let path = json(&stdout(&sandbox.run(&[
        "show",
        finalizing["run_id"].as_str().unwrap(),
        "--json",
    ])))["output_file"]
        .as_str()
        .unwrap()
        .to_string();
    let mut rewritten: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for (object, key) in SEED_KEYS_ADDED {
        assert!(
            rewritten[object]
                .as_object_mut()
                .unwrap()
                .remove(key)
                .is_some(),
            "{object}.{key} is written"
        );
    }
    assert_eq!(
        rewritten,
        serde_json::from_slice::<Value>(&written_before).unwrap()
    );

    let checked = sandbox.run(&["doctor"]);
    assert_eq!(stdout(&checked), "0 error(s), 0 warning(s) in state\n");
    let again = sandbox.run(&["resume"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stderr(&again).contains("nothing to resume"),
        "{}",
        stderr(&again)
    );
}

/// Inside the format 1 records: what `show` does not print is read too (repair turns of both
/// kinds, the budget stop, a fallback week, checkpoints kept and dropped, an in-flight request
/// and a retry wait), and every run rebuilds a machine.
#[test]
fn every_part_of_the_format_1_records_is_read() {
    use periodize::llm::PriorReply;
    use periodize::store::{OpenOptions, Store};
    let sandbox = sandbox_with_v1_store();
    let (store, _) = Store::open(&sandbox.path("state"), OpenOptions::read_only()).unwrap();
    let mut seen = BTreeMap::<&str, usize>::new();
    for run_id in store.run_ids().unwrap() {
        let view = store.load_view(run_id).unwrap().unwrap();
        assert_eq!(view.version, 1);
        if view.run.budget_stop.is_some() {
            *seen.entry("budget stop").or_default() += 1;
        }
        for step in view.run.steps.values() {
            for turn in &step.repair_turns {
                match turn.reply {
                    PriorReply::Call(_) => *seen.entry("repair call").or_default() += 1,
                    PriorReply::Text(_) => *seen.entry("repair text").or_default() += 1,
                }
            }
            if step.fallback {
                *seen.entry("fallback").or_default() += 1;
            }
            if step.accepted.is_some() {
                *seen.entry("checkpoint").or_default() += 1;
            }
            if step.compacted {
                *seen.entry("compacted").or_default() += 1;
            }
            if step.in_flight.is_some() {
                *seen.entry("in flight").or_default() += 1;
            }
            if step.waiting_until_ms.is_some() {
                *seen.entry("waiting").or_default() += 1;
            }
        }
        assert!(
            store.load(run_id).unwrap().is_some(),
            "{run_id} rebuilds a machine"
        );
    }
    for part in [
        "budget stop",
        "repair call",
        "repair text",
        "fallback",
        "checkpoint",
        "compacted",
        "in flight",
        "waiting",
    ] {
        assert!(
            seen.contains_key(part),
            "no {part} in the fixture: {seen:?}"
        );
    }
}
