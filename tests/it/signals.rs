//! Graceful shutdown and batches through the real binary: SIGTERM and SIGINT stop new
//! requests, let requests in flight finish and commit, exit 143 or 130, and `resume`
//! continues; several profiles in one `generate` make one run each.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::support::{fixture, stderr, stdout, Sandbox};

/// Starts a slow 12-week run, signals it once two weeks are durable, and checks the stop.
fn stop_with(signal: &str, expected_code: i32) {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let mut child = sandbox
        .command()
        .args([
            "generate",
            "--profile",
            &profile,
            "--weeks",
            "12",
            "--latency-ms",
            "150",
            "--week-concurrency",
            "2",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut run_id = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        let event: Value = serde_json::from_str(&line).unwrap();
        line.clear();
        if event["event"] == "started" {
            run_id = event["run_id"].as_str().unwrap().to_string();
        }
        if event["event"] == "week_complete" && event["done"] == 2 {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(expected_code), "{signal}: {rest}");
    assert!(rest.contains("\"interrupted\""), "{signal}: {rest}");

    // Everything in flight at the signal finished and was committed; nothing is running.
    let shown: Value =
        serde_json::from_str(&stdout(&sandbox.run(&["show", &run_id, "--json"]))).unwrap();
    assert_eq!(shown["state"], "weeks");
    let done = shown["weeks_done"].as_u64().unwrap();
    assert!((2..12).contains(&done), "{signal}: {done} weeks done");
    for step in shown["steps"].as_array().unwrap() {
        let attempts = step["attempts"].as_array().unwrap().len();
        assert!(attempts <= 1, "{signal}: {step}");
    }

    let resumed = sandbox.run(&["resume", &run_id]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let shown: Value =
        serde_json::from_str(&stdout(&sandbox.run(&["show", &run_id, "--json"]))).unwrap();
    assert_eq!(shown["state"], "done");
    assert_eq!(shown["done_count"], 1);
}

#[test]
fn sigterm_stops_cleanly_with_143_and_resume_finishes() {
    stop_with("-TERM", 143);
}

#[test]
fn sigint_stops_cleanly_with_130_and_resume_finishes() {
    stop_with("-INT", 130);
}

#[test]
fn several_profiles_make_a_batch_and_one_bad_profile_stops_it_before_anything_is_written() {
    let sandbox = Sandbox::new();
    let canonical = fixture("profiles/athlete.json").display().to_string();
    let seed = fixture("profiles/seed_athlete.json").display().to_string();
    let output = sandbox.run(&[
        "generate",
        "--profile",
        &canonical,
        "--profile",
        &seed,
        "--weeks",
        "3",
        "--run-concurrency",
        "2",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let finished: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["event"] == "finished")
        .collect();
    assert_eq!(finished.len(), 2);
    assert!(finished.iter().all(|event| event["state"] == "done"));
    let listed: Value = serde_json::from_str(&stdout(&sandbox.run(&["list", "--json"]))).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let clean = Sandbox::new();
    let bad = clean
        .write(
            "bad.json",
            r#"{"ftp_w": "fast", "weekly_hours": 5, "available_days": ["Monday"]}"#,
        )
        .display()
        .to_string();
    let output = clean.run(&[
        "generate",
        "--profile",
        &canonical,
        "--profile",
        &bad,
        "--weeks",
        "3",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("bad.json") && message.contains("ftp_w") && message.contains("\"fast\""),
        "{message}"
    );
    assert!(!clean.path("state").exists());
}
