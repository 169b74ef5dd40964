//! The crash harness: runs the real binary, kills it at named points (an `abort` inside the
//! engine, or SIGKILL from outside), resumes, and checks the durability contract of SPEC §4.
//! Dropping and reopening a store is only a restart (sled flushes on drop); these are crashes.
//!
//! For every point: completed steps (announced durable before the crash) are never requested
//! again, the step in flight is requested at most once more, the run reaches Done exactly once,
//! and the plan equals an uncrashed run with the same inputs, up to run identity and wall times.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_periodize");
const WEEKS: &str = "12";
const START: &str = "2026-11-30";

fn profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profiles/athlete.json")
}

fn command(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_remove("PERIODIZE_CRASH_POINT")
        .env_remove("PERIODIZE_LOG");
    command
}

/// A running `periodize mock-llm`, stopped when dropped.
struct Mock {
    child: std::process::Child,
    url: String,
}

impl Mock {
    fn start(latency_ms: u64) -> Mock {
        let mut child = Command::new(BIN)
            .args([
                "mock-llm",
                "--port",
                "0",
                "--latency-ms",
                &latency_ms.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mock-llm");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the address");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .expect("mock-llm prints its address")
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Mock { child, url }
    }

    /// The flags that point `generate` at this mock with one protocol.
    fn provider_args(&self, protocol: &str) -> Vec<String> {
        let base = match protocol {
            "openai" => format!("{}/v1", self.url),
            "gemini" => format!("{}/v1beta", self.url),
            _ => self.url.clone(),
        };
        vec![
            "--provider".into(),
            protocol.into(),
            "--base-url".into(),
            base,
        ]
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The plan of an uncrashed run with the same inputs (and provider flags).
fn uncrashed_plan(provider_args: &[String]) -> Value {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reference = command(dir.path())
        .args(generate_args("4"))
        .args(provider_args)
        .output()
        .expect("run generate");
    assert!(
        reference.status.success(),
        "reference run failed: {}",
        String::from_utf8_lossy(&reference.stderr)
    );
    comparable(&plan_files(dir.path())[0])
}

fn generate_args(concurrency: &str) -> Vec<String> {
    let profile = profile().display().to_string();
    [
        "generate",
        "--profile",
        &profile,
        "--weeks",
        WEEKS,
        "--start-date",
        START,
        "--week-concurrency",
        concurrency,
        "--json",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect()
}

fn events(output: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(output)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Steps announced durable by a (possibly crashed) process.
fn durable_steps(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event["event"].as_str() {
            Some("overview_created") => Some("overview".to_string()),
            Some("week_complete") => Some(format!("week {}", event["week"])),
            _ => None,
        })
        .collect()
}

fn show(dir: &Path, run_id: &str) -> Value {
    let output = command(dir)
        .args(["show", run_id, "--json"])
        .output()
        .expect("run show");
    assert!(
        output.status.success(),
        "show failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("show --json prints JSON")
}

fn only_run_id(dir: &Path) -> String {
    let output = command(dir)
        .args(["list", "--json"])
        .output()
        .expect("run list");
    let listed: Value = serde_json::from_slice(&output.stdout).expect("list --json prints JSON");
    let runs = listed.as_array().expect("a list");
    assert_eq!(runs.len(), 1, "exactly one run in the store");
    runs[0]["run_id"].as_str().expect("a run id").to_string()
}

/// The plan without what legitimately differs between two runs of the same inputs.
fn comparable(plan_path: &Path) -> Value {
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(plan_path).expect("plan file"))
            .expect("plan JSON");
    let run = plan["run"].as_object_mut().expect("run section");
    run.remove("id");
    for phase in ["overview", "weeks", "finalize"] {
        if let Some(phase) = run
            .get_mut("phases")
            .and_then(|phases| phases.get_mut(phase))
            .and_then(Value::as_object_mut)
        {
            phase.remove("wall_ms");
        }
    }
    plan["plan_metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("generated_at");
    plan
}

fn plan_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("output"))
        .map(|entries| {
            entries
                .map(|entry| entry.expect("dir entry").path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn fail(case: &str, message: String) -> ! {
    eprintln!("crash case {case}: {message}");
    std::process::exit(1);
}

fn check(case: &str, condition: bool, message: impl FnOnce() -> String) {
    if !condition {
        fail(case, message());
    }
}

/// After a crash and `resume`: the contract of SPEC §4.
fn verify_resumed(
    case: &str,
    dir: &Path,
    crashed: &Output,
    reference: &Value,
    expected_requests_extra: u32,
) {
    let durable = durable_steps(&events(&crashed.stdout));
    let resumed = command(dir)
        .args(["resume", "--json"])
        .output()
        .expect("run resume");
    check(case, resumed.status.success(), || {
        format!(
            "resume failed: {}",
            String::from_utf8_lossy(&resumed.stderr)
        )
    });
    let run_id = only_run_id(dir);
    let shown = show(dir, &run_id);
    check(case, shown["state"] == "done", || {
        format!("state after resume: {}", shown["state"])
    });
    check(case, shown["done_count"] == 1, || {
        format!("done_count {}", shown["done_count"])
    });
    let mut in_flight_extra = 0;
    for step in shown["steps"].as_array().expect("steps") {
        let name = step["step"].as_str().expect("step name");
        let requests = step["requests"].as_u64().expect("requests") as u32;
        let attempts = step["attempts"].as_array().expect("attempts").len();
        check(case, attempts == 1, || {
            format!("{name}: {attempts} attempts, expected 1")
        });
        if durable.iter().any(|done| done == name) {
            check(case, requests == 1, || {
                format!("{name} was durable before the crash but was requested {requests} times")
            });
        } else {
            check(case, requests <= 2, || {
                format!(
                    "{name} requested {requests} times, at most once more than the crashed request"
                )
            });
            in_flight_extra += requests - 1;
        }
    }
    check(case, in_flight_extra <= expected_requests_extra, || {
        format!("{in_flight_extra} re-requests, expected at most {expected_requests_extra}")
    });
    let files = plan_files(dir);
    check(case, files.len() == 1, || {
        format!("expected one plan file and no temporary file, found {files:?}")
    });
    check(case, &comparable(&files[0]) == reference, || {
        "the plan differs from the uncrashed run".to_string()
    });
    let validated = command(dir)
        .arg("validate")
        .arg(&files[0])
        .output()
        .expect("run validate");
    check(case, validated.status.success(), || {
        format!("validate: {}", String::from_utf8_lossy(&validated.stdout))
    });
}

fn main() {
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let reference_plan = uncrashed_plan(&[]);

    let mut cases = Vec::new();
    for target in ["overview", "week-1", "week-6", "week-12"] {
        for at in ["after-commit", "after-flush", "after-effect"] {
            cases.push(format!("{at}:{target}"));
        }
    }
    cases.push("after-commit:finalize".to_string());
    cases.push("after-write:finalize".to_string());

    let mut ran = 0;
    for concurrency in ["1", "4"] {
        for point in &cases {
            let case = format!("{point} (week concurrency {concurrency})");
            if filter
                .as_ref()
                .is_some_and(|filter| !case.contains(filter.as_str()))
            {
                continue;
            }
            let dir = tempfile::tempdir().expect("temporary directory");
            let crashed = command(dir.path())
                .args(generate_args(concurrency))
                .env("PERIODIZE_CRASH_POINT", point)
                .output()
                .expect("run generate");
            check(&case, crashed.status.code().is_none(), || {
                format!(
                    "expected the process to die at the crash point, exit {:?}: {}",
                    crashed.status.code(),
                    String::from_utf8_lossy(&crashed.stderr)
                )
            });
            let before = plan_files(dir.path());
            let written_bytes = before
                .first()
                .map(|path| std::fs::read(path).expect("plan bytes"));
            verify_resumed(
                &case,
                dir.path(),
                &crashed,
                &reference_plan,
                concurrency.parse().expect("a number"),
            );
            if point == "after-write:finalize" {
                // Same run, written again: byte-identical (SPEC §4.3).
                let after = std::fs::read(&plan_files(dir.path())[0]).expect("plan bytes");
                check(
                    &case,
                    written_bytes.as_deref() == Some(after.as_slice()),
                    || "re-written plan file differs from the first write".to_string(),
                );
            }
            ran += 1;
            println!("crash case {case}: ok");
        }
    }

    // The same points over HTTP against mock-llm, week concurrency 4, rotating the protocol.
    let mock = Mock::start(0);
    let protocols = ["anthropic", "openai", "gemini", "ollama"];
    let references: Vec<Value> = protocols
        .iter()
        .map(|protocol| uncrashed_plan(&mock.provider_args(protocol)))
        .collect();
    for (index, point) in cases.iter().enumerate() {
        let protocol = protocols[index % protocols.len()];
        let case = format!("{point} (http {protocol}, week concurrency 4)");
        if filter
            .as_ref()
            .is_some_and(|filter| !case.contains(filter.as_str()))
        {
            continue;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let crashed = command(dir.path())
            .args(generate_args("4"))
            .args(mock.provider_args(protocol))
            .env("PERIODIZE_CRASH_POINT", point)
            .output()
            .expect("run generate");
        check(&case, crashed.status.code().is_none(), || {
            format!(
                "expected the process to die at the crash point, exit {:?}: {}",
                crashed.status.code(),
                String::from_utf8_lossy(&crashed.stderr)
            )
        });
        verify_resumed(
            &case,
            dir.path(),
            &crashed,
            &references[index % protocols.len()],
            4,
        );
        ran += 1;
        println!("crash case {case}: ok");
    }

    if filter
        .as_ref()
        .is_none_or(|filter| "sigkill".contains(filter.as_str()))
    {
        sigkill_during_weeks(&reference_plan, &[]);
        ran += 1;
        let slow_mock = Mock::start(40);
        let openai = slow_mock.provider_args("openai");
        sigkill_during_weeks(&uncrashed_plan(&openai), &openai);
        ran += 1;
    }
    println!("{ran} passed, 0 failed");
}

/// SIGKILL from outside during 3b, with simulated latency, after 3 weeks are announced.
fn sigkill_during_weeks(reference: &Value, provider_args: &[String]) {
    let case = if provider_args.is_empty() {
        "sigkill during 3b"
    } else {
        "sigkill during 3b over http"
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut args = generate_args("2");
    if provider_args.is_empty() {
        args.extend(["--latency-ms".to_string(), "40".to_string()]);
    }
    args.extend(provider_args.iter().cloned());
    let mut child = command(dir.path())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn generate");
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut seen = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).expect("read a line") > 0 {
        let event: Value = serde_json::from_str(&line).expect("NDJSON");
        line.clear();
        let done = event["event"] == "week_complete" && event["done"] == 3;
        seen.push(event);
        if done {
            break;
        }
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    check(case, status.code().is_none(), || {
        format!("the child finished before the kill: {status:?}")
    });
    let crashed = Output {
        status,
        stdout: seen
            .iter()
            .map(|event| format!("{event}\n"))
            .collect::<String>()
            .into_bytes(),
        stderr: Vec::new(),
    };
    verify_resumed(case, dir.path(), &crashed, reference, 2);
    println!("crash case {case}: ok");
}
