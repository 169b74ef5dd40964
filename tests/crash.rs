//! The crash harness: runs the real binary, kills it at named points (an `abort` inside the
//! engine, or SIGKILL from outside), resumes, and checks the durability contract of SPEC §4.
//! Dropping and reopening a store is only a restart (sled flushes on drop); these are crashes.
//!
//! For every point: completed steps (announced durable before the crash) are never requested
//! again, the step in flight is requested at most once more, the run reaches Done exactly once,
//! and the plan equals an uncrashed run with the same inputs, up to run identity and wall times.
//!
//! The sweep over HTTP crosses every named point with every kind of step: 3a, the first, a
//! middle and the last week, a retry wait (the mock answers the first request of every step
//! with a 429), a repair attempt (the mock refuses the first answer of every step), and 3c, at
//! week concurrency 4, and a representative subset at week concurrency 1. Each case gets a fresh
//! `periodize mock-llm`, and the mock's own request log (`GET /__mock/stats`) is the witness of
//! what was requested before and after the crash. The mock faults the first request of a step
//! whoever sends it, so when a faulted reply is lost to the crash the request sent again is
//! answered at once: that step has one attempt fewer than in the uncrashed run, and the plan
//! then equals it up to its request accounting (checked against the run's own instead).
//!
//! `cargo test --test crash -- FILTER` runs the cases whose name contains FILTER.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::Value;

#[path = "harness/mod.rs"]
mod harness;

use harness::{command, http_get_json, START};

const WEEKS: &str = "12";

fn profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profiles/athlete.json")
}

/// A running `periodize mock-llm`, stopped when dropped.
struct Mock {
    child: std::process::Child,
    url: String,
}

impl Mock {
    fn start(latency_ms: u64) -> Mock {
        Mock::start_with(&["--latency-ms", &latency_ms.to_string()])
    }

    /// Starts `periodize mock-llm --port 0` with extra flags (latency, faults).
    fn start_with(flags: &[&str]) -> Mock {
        let (child, url) = harness::spawn_mock(flags);
        Mock { child, url }
    }

    /// The mock's request log (`GET /__mock/stats`), in `seq` order. With `settled`, no request
    /// is in progress, so the log must hold every request the counters saw; otherwise a request
    /// may be counted on arrival and logged a moment later.
    fn log(&self, settled: bool) -> Vec<LogEntry> {
        let stats = http_get_json(&self.url, "/__mock/stats");
        let log = stats["log"].as_array().expect("the stats have a log");
        let mut entries: Vec<LogEntry> = log
            .iter()
            .map(|entry| LogEntry {
                seq: entry["seq"].as_u64().expect("seq"),
                step: entry["step"].as_str().expect("step").to_string(),
                repair_turns: entry["repair_turns"].as_u64().expect("repair_turns"),
                fault: entry["fault"].as_str().map(str::to_string),
                status: entry["status"].as_u64().expect("status"),
            })
            .collect();
        entries.sort_by_key(|entry| entry.seq);
        // The log only drops entries past 50 000; a case makes a few dozen requests.
        let by_step: u64 = stats["requests_by_step"]
            .as_object()
            .expect("requests_by_step")
            .values()
            .map(|count| count.as_u64().expect("a count"))
            .sum();
        let logged = entries
            .iter()
            .filter(|entry| !entry.step.is_empty())
            .count() as u64;
        assert!(
            by_step == logged || (!settled && by_step > logged),
            "the request log has {logged} model requests, the counters {by_step}"
        );
        entries
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

/// One request as the mock logged it.
#[derive(Debug, Clone)]
struct LogEntry {
    seq: u64,
    /// "overview", "week 3"; empty for requests refused before their brief was read.
    step: String,
    repair_turns: u64,
    fault: Option<String>,
    /// 0 when the mock dropped the connection.
    status: u64,
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
    // Which prompt tokens a provider's cache served depends on what it saw before, and a
    // request re-issued after a crash finds its own prefix there: the split is not the plan's,
    // and neither is the cost, which prices cached tokens apart.
    run.remove("cost");
    let uncached = |tokens: Option<&mut Value>| {
        if let Some(tokens) = tokens.and_then(Value::as_object_mut) {
            tokens.remove("cache_read_tokens");
            tokens.remove("cache_write_tokens");
        }
    };
    uncached(run.get_mut("tokens"));
    for phase in ["overview", "weeks", "finalize"] {
        if let Some(phase) = run
            .get_mut("phases")
            .and_then(|phases| phases.get_mut(phase))
            .and_then(Value::as_object_mut)
        {
            phase.remove("wall_ms");
            phase.remove("cost");
            uncached(phase.get_mut("tokens"));
        }
    }
    plan["plan_metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("generated_at");
    plan
}

/// The files of the output directory (a plan's export folder is not one of them).
fn plan_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("output"))
        .map(|entries| {
            entries
                .map(|entry| entry.expect("dir entry").path())
                .filter(|path| !path.is_dir())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The export folders of the output directory, each with every file under it by relative
/// path; the run's id (and its short form) and the plan's time of making
/// (`plan_metadata.generated_at`, which the reports show) replaced, since two runs of the same
/// inputs differ in those alone.
fn export_files(dir: &Path, run_id: Option<&str>) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, at: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(at).expect("read an export folder") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("under the root");
                out.push((
                    relative.display().to_string(),
                    std::fs::read(&path).expect("export bytes"),
                ));
            }
        }
    }
    let output = dir.join("output");
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&output) {
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&output, &path, &mut files);
            }
        }
    }
    let generated_at = plan_files(dir).first().and_then(|plan| {
        let plan: Value = serde_json::from_slice(&std::fs::read(plan).ok()?).ok()?;
        plan["plan_metadata"]["generated_at"]
            .as_str()
            .map(str::to_string)
    });
    let anonymous = |mut text: String| {
        if let Some(at) = &generated_at {
            text = text.replace(at.as_str(), "GENERATED");
        }
        match run_id {
            Some(id) => text.replace(id, "RUN").replace(&id[..8], "RUN"),
            None => text,
        }
    };
    files
        .into_iter()
        .map(|(name, bytes)| {
            let bytes = match String::from_utf8(bytes) {
                Ok(text) => anonymous(text).into_bytes(),
                Err(binary) => binary.into_bytes(),
            };
            // The folder carries the plan file's time of finalizing: the name under it is the
            // export's own.
            let inner = name
                .split_once('/')
                .map_or(name.clone(), |(_, inner)| inner.to_string());
            (anonymous(inner), bytes)
        })
        .collect()
}

/// What `generate --export` writes in these cases: every format.
const EXPORTS: &str = "all";

/// `generate --export`, killed between its export writes in 3c, after them and before `Done`,
/// and after `Done` is committed but not flushed, then resumed: the exports are complete and
/// byte-identical to an uncrashed run's (up to the run id), the files written before the crash
/// are rewritten with the same bytes, no temporary file is left, and Done is committed once.
fn exports_killed_in_finalize(selected: &dyn Fn(&str) -> bool) -> usize {
    let export_args = || {
        let mut args = generate_args("4");
        args.extend(["--export".to_string(), EXPORTS.to_string()]);
        args
    };
    let reference_dir = tempfile::tempdir().expect("temporary directory");
    let reference = command(reference_dir.path())
        .args(export_args())
        .output()
        .expect("run generate");
    assert!(
        reference.status.success(),
        "reference run failed: {}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let reference_plan = comparable(&plan_files(reference_dir.path())[0]);
    let reference_id = only_run_id(reference_dir.path());
    let reference_exports = export_files(reference_dir.path(), Some(&reference_id));
    assert!(
        reference_exports.len() > 2,
        "the reference run exported its workouts"
    );
    let mut ran = 0;
    for point in [
        "after-write:export",
        "after-write:finalize",
        "after-commit:finalize",
    ] {
        let case = format!("{point} with --export {EXPORTS}");
        if !selected(&case) {
            continue;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let crashed = crash_at(&case, dir.path(), export_args(), point);
        let run_id = only_run_id(dir.path());
        let before = export_files(dir.path(), Some(&run_id));
        let expected_before = match point {
            "after-write:export" => 1..=reference_exports.len() - 1,
            _ => reference_exports.len()..=reference_exports.len(),
        };
        check(&case, expected_before.contains(&before.len()), || {
            format!(
                "{} export files before the resume, expected {expected_before:?}",
                before.len()
            )
        });
        verify_resumed(&case, dir.path(), &crashed, &reference_plan, 0);
        let after = export_files(dir.path(), Some(&run_id));
        check(&case, after.keys().eq(reference_exports.keys()), || {
            let missing: Vec<_> = reference_exports
                .keys()
                .filter(|name| !after.contains_key(*name))
                .collect();
            let extra: Vec<_> = after
                .keys()
                .filter(|name| !reference_exports.contains_key(*name))
                .collect();
            format!("exports differ from the uncrashed run's: missing {missing:?}, extra {extra:?}")
        });
        for (name, bytes) in &after {
            check(&case, reference_exports.get(name) == Some(bytes), || {
                format!("{name} differs from the uncrashed run's")
            });
            if let Some(first) = before.get(name) {
                check(&case, first == bytes, || {
                    format!("{name} was rewritten with other bytes")
                });
            }
        }
        ran += 1;
        println!("crash case {case}: ok");
    }
    ran
}

/// Runs `args` in `dir` with the crash point set; checks the process died there, and returns
/// what it printed before.
fn crash_at<I, S>(case: &str, dir: &Path, args: I, point: &str) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let crashed = command(dir)
        .args(args)
        .env("PERIODIZE_CRASH_POINT", point)
        .output()
        .expect("run generate");
    check(case, crashed.status.code().is_none(), || {
        format!(
            "expected the process to die at the crash point, exit {:?}: {}",
            crashed.status.code(),
            String::from_utf8_lossy(&crashed.stderr)
        )
    });
    crashed
}

fn fail(case: &str, message: String) -> ! {
    eprintln!("crash case {case}: {message}");
    // Unwind rather than exit, so that a running mock-llm is stopped and temporary directories
    // are removed.
    std::panic::resume_unwind(Box::new(message));
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
    let selected = |case: &str| {
        filter
            .as_ref()
            .is_none_or(|filter| case.contains(filter.as_str()))
    };
    let reference_plan = uncrashed_plan(&[]);

    let mut cases = Vec::new();
    for target in ["overview", "week-1", "week-6", "week-12"] {
        for at in ["after-commit", "after-flush", "after-effect"] {
            cases.push(format!("{at}:{target}"));
        }
    }
    cases.push("after-commit:finalize".to_string());
    cases.push("after-write:finalize".to_string());

    let mut ran = basic_cases(&cases, &selected, &reference_plan, "");

    // The sweep over HTTP: a fresh mock-llm per case, its request log as the witness. The
    // uncrashed reference of each (protocol, faults) pair is made when first needed.
    let mut references: BTreeMap<(&str, Faults), Reference> = BTreeMap::new();
    for case in http_cases() {
        let name = case.name();
        if !selected(&name) {
            continue;
        }
        let reference = references
            .entry((case.protocol, case.faults))
            .or_insert_with(|| http_reference(case.protocol, case.faults));
        run_http_case(&case, reference);
        ran += 1;
        println!("crash case {name}: ok");
    }

    ran += exports_killed_in_finalize(&selected);

    if selected("sigkill") {
        sigkill_during_weeks(&reference_plan, &[]);
        ran += 1;
        let slow_mock = Mock::start(40);
        let openai = slow_mock.provider_args("openai");
        sigkill_during_weeks(&uncrashed_plan(&openai), &openai);
        ran += 1;
    }
    // The same crash points, and the kills in finalize and during 3b, against PostgreSQL: the
    // same engine and machine on the shared store, each case on a fresh database.
    if selected("postgres") && harness::use_postgres("crash (postgres)") {
        let every = |_: &str| true;
        ran += basic_cases(&cases, &every, &reference_plan, " (postgres)");
        // Every named point of the HTTP sweep without faults, each protocol in turn.
        for case in http_cases()
            .into_iter()
            .filter(|case| case.faults == Faults::None && case.concurrency == 4)
        {
            let reference = references
                .entry((case.protocol, case.faults))
                .or_insert_with(|| http_reference(case.protocol, case.faults));
            run_http_case(&case, reference);
            ran += 1;
            println!("crash case {} (postgres): ok", case.name());
        }
        ran += exports_killed_in_finalize(&every);
        sigkill_during_weeks(&reference_plan, &[]);
        ran += 1;
    }
    println!("{ran} passed, 0 failed");
}

/// The crash points of the built-in coach, at week concurrency 1 and 4: crash at the point,
/// resume, check the contract. `store` labels the case (the PostgreSQL pass).
fn basic_cases(
    cases: &[String],
    selected: &dyn Fn(&str) -> bool,
    reference_plan: &Value,
    store: &str,
) -> usize {
    let mut ran = 0;
    for concurrency in ["1", "4"] {
        for point in cases {
            let case = format!("{point} (week concurrency {concurrency}){store}");
            if !selected(&case) {
                continue;
            }
            let dir = tempfile::tempdir().expect("temporary directory");
            let crashed = crash_at(&case, dir.path(), generate_args(concurrency), point);
            let before = plan_files(dir.path());
            let written_bytes = before
                .first()
                .map(|path| std::fs::read(path).expect("plan bytes"));
            verify_resumed(
                &case,
                dir.path(),
                &crashed,
                reference_plan,
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
    ran
}

/// What the mock does to the first request of every step of a case (`--fault-only-first-n 1`
/// with rate 1: exactly once per step, on a fresh mock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Faults {
    /// Every request is answered.
    None,
    /// A 429 with `retry-after: 0`: every step commits a retry wait, so a crash point on a step
    /// hits the transition that committed the wait (or, `after-effect`, the 429 in hand).
    RetryWait,
    /// An answer that breaks the rules: every step commits a refused attempt and a repair
    /// request that carries the tool-result error.
    Repair,
}

impl Faults {
    fn mock_flags(self) -> &'static [&'static str] {
        match self {
            Faults::None => &[],
            Faults::RetryWait => &[
                "--faults",
                "rate-limit",
                "--fault-rate",
                "1",
                "--fault-only-first-n",
                "1",
                "--retry-after-s",
                "0",
            ],
            Faults::Repair => &[
                "--faults",
                "invalid-args",
                "--fault-rate",
                "1",
                "--fault-only-first-n",
                "1",
            ],
        }
    }

    fn label(self) -> &'static str {
        match self {
            Faults::None => "",
            Faults::RetryWait => "retry wait, ",
            Faults::Repair => "repair, ",
        }
    }
}

/// One case of the HTTP sweep.
struct HttpCase {
    point: String,
    protocol: &'static str,
    faults: Faults,
    concurrency: u32,
}

impl HttpCase {
    fn name(&self) -> String {
        format!(
            "{} (http {}, {}week concurrency {})",
            self.point,
            self.protocol,
            self.faults.label(),
            self.concurrency
        )
    }

    /// `after-commit`, `after-flush`, `after-effect` or `after-write`.
    fn at(&self) -> &str {
        self.point.split_once(':').expect("at:target").0
    }

    /// The model step the point aims at, as `show` and the mock name it; `None` for 3c.
    fn target_step(&self) -> Option<String> {
        match self.point.split_once(':').expect("at:target").1 {
            "finalize" => None,
            "overview" => Some("overview".to_string()),
            week => Some(week.replace('-', " ")),
        }
    }
}

/// The sweep. Week concurrency 4: every named point × every kind of step (3a; the first, a
/// middle and the last week; a retry wait and a repair attempt, on each of those four steps;
/// 3c). Week concurrency 1: a representative subset. The protocol rotates case by case, so
/// every protocol meets every kind of fault; the first 14 cases are the earlier HTTP cases.
fn http_cases() -> Vec<HttpCase> {
    let protocols = ["anthropic", "openai", "gemini", "ollama"];
    let model_points = |targets: &[&str]| -> Vec<String> {
        let mut points = Vec::new();
        for target in targets {
            for at in ["after-commit", "after-flush", "after-effect"] {
                points.push(format!("{at}:{target}"));
            }
        }
        points
    };
    let all_model_steps = ["overview", "week-1", "week-6", "week-12"];
    let mut plan: Vec<(Faults, String, u32)> = Vec::new();
    for point in model_points(&all_model_steps) {
        plan.push((Faults::None, point, 4));
    }
    for point in [
        "after-commit:finalize",
        "after-write:finalize",
        "after-flush:finalize",
        "after-effect:finalize",
    ] {
        plan.push((Faults::None, point.to_string(), 4));
    }
    for faults in [Faults::RetryWait, Faults::Repair] {
        for point in model_points(&all_model_steps) {
            plan.push((faults, point, 4));
        }
    }
    for faults in [Faults::RetryWait, Faults::Repair] {
        for point in model_points(&["overview", "week-6"]) {
            plan.push((faults, point, 1));
        }
    }
    for point in [
        "after-effect:week-1",
        "after-flush:week-12",
        "after-flush:finalize",
    ] {
        plan.push((Faults::None, point.to_string(), 1));
    }
    plan.into_iter()
        .enumerate()
        .map(|(index, (faults, point, concurrency))| HttpCase {
            point,
            protocol: protocols[index % protocols.len()],
            faults,
            concurrency,
        })
        .collect()
}

/// The uncrashed run of one (protocol, faults) pair: its plan, and each step's attempt outcomes.
struct Reference {
    plan: Value,
    outcomes: BTreeMap<String, Vec<String>>,
}

fn http_generate_args(concurrency: u32, mock: &Mock, protocol: &str) -> Vec<String> {
    let mut args = generate_args(&concurrency.to_string());
    args.extend(mock.provider_args(protocol));
    // The 429s carry `retry-after: 0`; any other wait is short too.
    args.extend(["--retry-base-ms", "5", "--retry-max-ms", "20"].map(String::from));
    args
}

fn http_reference(protocol: &'static str, faults: Faults) -> Reference {
    let mock = Mock::start_with(faults.mock_flags());
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = command(dir.path())
        .args(http_generate_args(4, &mock, protocol))
        .output()
        .expect("run generate");
    assert!(
        output.status.success(),
        "reference run ({protocol}, {faults:?}) failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown = show(dir.path(), &only_run_id(dir.path()));
    let outcomes = outcomes(&shown);
    if faults != Faults::None {
        for (step, kinds) in &outcomes {
            assert_eq!(
                kinds.len(),
                2,
                "reference ({protocol}, {faults:?}): {step} should fail once, then pass: {kinds:?}"
            );
        }
    }
    Reference {
        plan: comparable(&plan_files(dir.path())[0]),
        outcomes,
    }
}

/// Each step's attempt outcomes ("accepted", "transient", "rejected", …), from `show --json`.
fn outcomes(shown: &Value) -> BTreeMap<String, Vec<String>> {
    shown["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            let kinds = step["attempts"]
                .as_array()
                .expect("attempts")
                .iter()
                .map(|attempt| {
                    attempt["outcome"]["kind"]
                        .as_str()
                        .expect("an outcome kind")
                        .to_string()
                })
                .collect();
            (step["step"].as_str().expect("step name").to_string(), kinds)
        })
        .collect()
}

/// The plan without its request accounting (attempts and tokens, overall and per phase).
fn without_accounting(plan: &Value) -> Value {
    let mut plan = plan.clone();
    if let Some(run) = plan.get_mut("run").and_then(Value::as_object_mut) {
        run.remove("attempts");
        run.remove("tokens");
        if let Some(phases) = run.get_mut("phases").and_then(Value::as_object_mut) {
            for phase in phases.values_mut().filter_map(Value::as_object_mut) {
                phase.remove("attempts");
                phase.remove("tokens");
            }
        }
    }
    plan
}

fn run_http_case(case: &HttpCase, reference: &Reference) {
    let name = case.name();
    let mock = Mock::start_with(case.faults.mock_flags());
    let dir = tempfile::tempdir().expect("temporary directory");
    let crashed = crash_at(
        &name,
        dir.path(),
        http_generate_args(case.concurrency, &mock, case.protocol),
        &case.point,
    );
    verify_http(case, dir.path(), &crashed, &mock, reference);
}

/// After a crash over HTTP and `resume`: the contract of SPEC §4, with the mock's request log
/// as the witness of what was requested before and after the crash.
fn verify_http(case: &HttpCase, dir: &Path, crashed: &Output, mock: &Mock, reference: &Reference) {
    let name = case.name();
    let name = name.as_str();
    let target = case.target_step();
    // The crashed process is reaped, so everything it sent has reached the mock: the log up to
    // here is "before the crash" (a request still being parsed would only count as after it,
    // and only for a step that was in flight, never for a durable one).
    let at_crash = mock.log(false);
    let crash_seq = at_crash.last().map_or(0, |entry| entry.seq);
    let file_at_crash = plan_files(dir)
        .first()
        .map(|path| std::fs::read(path).expect("plan bytes"));

    // Durable before the crash: what the crashed process announced; an `after-flush` point on an
    // answered step also made that acceptance durable (the crash came before the announcement);
    // and 3c starts only once every step is accepted and flushed.
    let mut durable: BTreeSet<String> = durable_steps(&events(&crashed.stdout))
        .into_iter()
        .collect();
    if case.at() == "after-flush" && case.faults == Faults::None {
        durable.extend(target.clone());
    }
    if target.is_none() {
        durable.extend(reference.outcomes.keys().cloned());
    }

    let resumed = command(dir)
        .args(["resume", "--json"])
        .output()
        .expect("run resume");
    check(name, resumed.status.success(), || {
        format!(
            "resume failed: {}",
            String::from_utf8_lossy(&resumed.stderr)
        )
    });
    let run_id = only_run_id(dir);
    let shown = show(dir, &run_id);
    check(name, shown["state"] == "done", || {
        format!("state after resume: {}", shown["state"])
    });
    check(name, shown["done_count"] == 1, || {
        format!("done_count {}", shown["done_count"])
    });

    let log = mock.log(true);
    let sent = |step: &str| -> Vec<&LogEntry> { log.iter().filter(|e| e.step == step).collect() };
    let now = outcomes(&shown);
    let mut lost = 0;
    let mut counted_extra = 0;
    for step in shown["steps"].as_array().expect("steps") {
        let step_name = step["step"].as_str().expect("step name");
        let kinds = &now[step_name];
        let attempts = kinds.len();
        let requests = step["requests"].as_u64().expect("requests") as usize;
        let requested = sent(step_name);
        let after_crash = requested.iter().filter(|e| e.seq > crash_seq).count();
        check(
            name,
            kinds.iter().filter(|kind| *kind == "accepted").count() == 1
                && kinds.last().map(String::as_str) == Some("accepted"),
            || format!("{step_name}: attempts {kinds:?}, expected exactly one accepted, the last"),
        );
        if durable.contains(step_name) {
            check(name, after_crash == 0, || {
                format!(
                    "{step_name} was durable before the crash but the mock saw {after_crash} request(s) for it after the crash"
                )
            });
            check(name, requested.len() == attempts, || {
                format!(
                    "{step_name}: the mock saw {} requests for {attempts} committed attempts",
                    requested.len()
                )
            });
        } else {
            check(
                name,
                (attempts..=attempts + 1).contains(&requested.len()),
                || {
                    format!(
                        "{step_name}: the mock saw {} requests for {attempts} committed attempts; a crash may cost at most one",
                        requested.len()
                    )
                },
            );
        }
        // The engine counts a request in the transition that issues it; a crash between the
        // flush and the send leaves one counted that the mock never saw.
        check(
            name,
            (requested.len()..=requested.len() + 1).contains(&requests),
            || {
                format!(
                    "{step_name}: the run counts {requests} requests, the mock saw {}",
                    requested.len()
                )
            },
        );
        lost += requested.len() - attempts;
        counted_extra += requests - attempts;
        // The accepted answer is the step's last request, and it carried the repair
        // conversation as committed: one turn per refused answer (the newest two at most).
        let last = requested.last().expect("every step was requested");
        let refused = kinds
            .iter()
            .filter(|kind| *kind == "rejected" || *kind == "malformed")
            .count()
            .min(2);
        check(
            name,
            last.status == 200 && last.fault.is_none() && last.repair_turns == refused as u64,
            || {
                format!(
                    "{step_name}: last request {last:?}, expected the accepted answer carrying {refused} repair turn(s)"
                )
            },
        );
    }
    let in_flight_bound = match target.as_deref() {
        None => 0,
        Some("overview") => 1,
        Some(_) => case.concurrency as usize,
    };
    check(name, lost <= in_flight_bound, || {
        format!("{lost} requests were lost to the crash, at most {in_flight_bound} were in flight")
    });
    check(name, counted_extra <= case.concurrency as usize, || {
        format!(
            "{counted_extra} requests re-issued, expected at most {}",
            case.concurrency
        )
    });

    // The point hit the step's faulted reply: after the flush, the wait or the refusal is kept
    // and its retry or repair is sent after the crash; in hand but uncommitted, it is lost and
    // the request goes out once more.
    if let (Some(step), true) = (&target, case.faults != Faults::None) {
        let kinds = &now[step];
        let requested = sent(step);
        let split = requested
            .iter()
            .map(|entry| entry.seq > crash_seq)
            .collect::<Vec<_>>();
        match case.at() {
            "after-flush" => check(
                name,
                kinds == &reference.outcomes[step]
                    && requested.len() == 2
                    && requested[0].fault.is_some()
                    && split == [false, true],
                || {
                    format!("{step}: attempts {kinds:?}, requests {requested:?}; expected the committed fault kept and one request after the crash")
                },
            ),
            "after-effect" => check(
                name,
                kinds == &["accepted".to_string()]
                    && requested.len() == 2
                    && requested[0].fault.is_some()
                    && split == [false, true],
                || {
                    format!("{step}: attempts {kinds:?}, requests {requested:?}; expected the faulted reply lost and the request sent once more")
                },
            ),
            _ => {}
        }
    }

    let files = plan_files(dir);
    check(name, files.len() == 1, || {
        format!("expected one plan file and no temporary file, found {files:?}")
    });
    let bytes = std::fs::read(&files[0]).expect("plan bytes");
    if let Some(written) = file_at_crash {
        check(name, written == bytes, || {
            "the plan file written before the crash changed".to_string()
        });
    }
    let plan = comparable(&files[0]);
    if now == reference.outcomes {
        check(name, plan == reference.plan, || {
            "the plan differs from the uncrashed run".to_string()
        });
    } else {
        // The mock faults the first request of each step, whoever sends it. When a faulted
        // reply is lost to the crash, the request sent again is answered at once: that step has
        // one attempt fewer than in the uncrashed run, so the plan's request accounting differs,
        // and nothing else may.
        for (step, kinds) in &now {
            let expected = &reference.outcomes[step];
            if kinds != expected {
                check(
                    name,
                    !durable.contains(step)
                        && expected.len() == 2
                        && kinds == &["accepted".to_string()]
                        && sent(step).len() == 2,
                    || {
                        format!("{step}: attempts {kinds:?}, uncrashed {expected:?}; only a faulted reply lost to the crash may differ")
                    },
                );
            }
        }
        check(
            name,
            without_accounting(&plan) == without_accounting(&reference.plan),
            || "the plan differs from the uncrashed run beyond its request accounting".to_string(),
        );
        let raw: Value = serde_json::from_slice(&bytes).expect("plan JSON");
        check(
            name,
            raw["run"]["attempts"] == shown["attempts"] && raw["run"]["tokens"] == shown["tokens"],
            || "the plan's request accounting differs from the run's".to_string(),
        );
    }
    let validated = command(dir)
        .arg("validate")
        .arg(&files[0])
        .output()
        .expect("run validate");
    check(name, validated.status.success(), || {
        format!("validate: {}", String::from_utf8_lossy(&validated.stdout))
    });
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
