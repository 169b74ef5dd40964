//! Batches through the binary: a directory or a JSONL manifest (reference lines with their own
//! plan length and start, and inline profiles) becomes one durable batch whose runs all exist
//! before any is driven; every bad item is reported at once and nothing is stored; the same
//! submission again is recognised and continued; `status --batch`, `list --batch` and
//! `batch-report` summarise it.

use serde_json::Value;

use crate::support::{fixture, stderr, stdout, Sandbox};

fn profile_text(name: &str, weeks: u32) -> String {
    std::fs::read_to_string(fixture("profiles/athlete.json"))
        .unwrap()
        .replace("Marta Ruiz", name)
        .replace("\"plan_weeks\": 12", &format!("\"plan_weeks\": {weeks}"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

#[test]
fn a_manifest_becomes_one_batch_stored_before_any_run_is_driven() {
    let sandbox = Sandbox::new();
    sandbox.write("a.json", &profile_text("Ann", 3));
    sandbox.write("b.json", &profile_text("Ben", 3));
    let inline = json(&profile_text("Cy", 2)).to_string();
    sandbox.write(
        "riders.jsonl",
        &format!(
            "{{\"profile\": \"a.json\", \"weeks\": 2}}\n\n{{\"profile\": \"b.json\", \"start_date\": \"2026-12-14\"}}\n{inline}\n"
        ),
    );
    // Stop right after the batch and its runs are durable: all three exist, none started.
    let stopped = sandbox
        .command()
        .args(["batch", "riders.jsonl", "--start-date", "2026-11-30"])
        .env("PERIODIZE_CRASH_POINT", "after-flush:create")
        .output()
        .unwrap();
    assert_eq!(stopped.status.code(), None, "aborted at the crash point");
    let runs: Vec<Value> = json(&stdout(&sandbox.run(&["list", "--json"])))
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|run| run["state"] == "created"), "{runs:?}");
    let batch_id = runs[0]["batch_id"].as_str().unwrap().to_string();
    assert!(runs.iter().all(|run| run["batch_id"] == batch_id.as_str()));

    let resumed = sandbox.run(&["resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let report = json(&stdout(&sandbox.run(&[
        "batch-report",
        &batch_id[..8],
        "--json",
    ])));
    assert_eq!(report["name"], "riders");
    assert_eq!(
        (report["items"].as_u64(), report["done"].as_u64()),
        (Some(3), Some(3))
    );
    let rows = report["rows"].as_array().unwrap();
    let athletes: Vec<&str> = rows
        .iter()
        .map(|row| row["athlete"].as_str().unwrap())
        .collect();
    assert_eq!(
        athletes,
        ["Ann", "Ben", "Cy"],
        "rows keep the manifest's order"
    );
    let weeks: Vec<u64> = rows
        .iter()
        .map(|row| row["total_weeks"].as_u64().unwrap())
        .collect();
    assert_eq!(weeks, [2, 3, 2], "a line's own plan length wins");
    for row in rows {
        assert!(std::path::Path::new(row["plan_file"].as_str().unwrap()).is_file());
    }
    let ben = rows[1]["run_id"].as_str().unwrap();
    let shown = json(&stdout(&sandbox.run(&["show", ben, "--json"])));
    assert_eq!(
        shown["start_date"], "2026-12-14",
        "a line's own start date wins"
    );

    let status = sandbox.run(&["status", "--batch", &batch_id[..8]]);
    assert!(
        stdout(&status).starts_with(&format!(
            "Batch {batch_id} (riders): 3 runs: 3 done, 0 failed, 0 waiting"
        )),
        "{}",
        stdout(&status)
    );
    let text = sandbox.run(&["batch-report", &batch_id]);
    assert_eq!(stdout(&text).lines().count(), 5, "{}", stdout(&text));
    let listed: Vec<Value> = json(&stdout(
        &sandbox.run(&["list", "--batch", &batch_id, "--json"]),
    ))
    .as_array()
    .unwrap()
    .clone();
    assert_eq!(listed.len(), 3);
    let unknown = sandbox.run(&["batch-report", "ffffffff"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("no batch matches"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn every_bad_item_is_reported_at_once_and_nothing_is_stored() {
    let sandbox = Sandbox::new();
    sandbox.write("good.json", &profile_text("Good", 2));
    sandbox.write(
        "riders.jsonl",
        "{\"profile\": \"good.json\"}\n{\"profile\": \"missing.json\"}\n{\"ftp_w\": 1, \"weekly_hours\": 5, \"available_days\": [\"Monday\"], \"plan_weeks\": 2}\n{\"profile\": \"good.json\", \"colour\": \"red\"}\nnot json\n",
    );
    let output = sandbox.run(&["batch", "riders.jsonl"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.starts_with("error: 4 of 5 profiles are invalid; nothing was stored"),
        "{message}"
    );
    for needle in [
        "riders.jsonl:2: athlete profile missing.json does not exist",
        "riders.jsonl:3: athlete profile field `ftp_w` = 1",
        "riders.jsonl:4: invalid key \"colour\"",
        "riders.jsonl:5: invalid manifest line \"not json\"",
    ] {
        assert!(message.contains(needle), "{needle:?} in {message}");
    }
    assert!(
        !sandbox.path("state").exists(),
        "nothing is stored on any error"
    );

    // A directory of profiles: one bad file among good ones refuses the whole batch too.
    let dir = sandbox.path("profiles");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.json"), profile_text("A", 2)).unwrap();
    std::fs::write(dir.join("b.json"), "{\"ftp_w\": ").unwrap();
    let output = sandbox.run(&["batch", "profiles"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("b.json"), "{}", stderr(&output));
    assert!(!sandbox.path("state").exists());
}

#[test]
fn the_same_submission_again_is_recognised_and_continued() {
    let sandbox = Sandbox::new();
    let a = sandbox
        .write("a.json", &profile_text("Ann", 2))
        .display()
        .to_string();
    let b = sandbox
        .write("b.json", &profile_text("Ben", 2))
        .display()
        .to_string();
    let args = [
        "generate",
        "--profile",
        &a,
        "--profile",
        &b,
        "--start-date",
        "2026-11-30",
        "--latency-ms",
        "1",
    ];
    let stopped = sandbox
        .command()
        .args(args)
        .env("PERIODIZE_CRASH_POINT", "after-flush:week-1")
        .output()
        .unwrap();
    assert_eq!(stopped.status.code(), None, "aborted at the crash point");
    let again = sandbox.run(&args);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("was submitted before") && stderr(&again).contains("continuing it"),
        "{}",
        stderr(&again)
    );
    let runs: Vec<Value> = json(&stdout(&sandbox.run(&["list", "--json"])))
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(runs.len(), 2, "no run was duplicated: {runs:?}");
    assert!(runs.iter().all(|run| run["state"] == "done"));
    // Once more: nothing left to do, and still no new run.
    let done = sandbox.run(&args);
    assert_eq!(done.status.code(), Some(0));
    assert_eq!(
        json(&stdout(&sandbox.run(&["list", "--json"])))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Different options are a different submission.
    let other = sandbox.run(&[
        "generate",
        "--profile",
        &a,
        "--profile",
        &b,
        "--start-date",
        "2026-11-30",
        "--step-attempts",
        "2",
    ]);
    assert_eq!(other.status.code(), Some(0), "{}", stderr(&other));
    assert_eq!(
        json(&stdout(&sandbox.run(&["list", "--json"])))
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
