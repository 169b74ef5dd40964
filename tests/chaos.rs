//! The chaos test: ten runs at once (one `generate` with ten profiles) against
//! `periodize mock-llm` with 10 % injected faults of every kind and 20-60 ms of latency; the
//! process is SIGKILLed at random moments 20 times (`generate` first, then `resume`), and a
//! final `resume` runs to completion. At the end every run is Done once, no step was accepted
//! twice, no plan file is torn, and the mock's request log shows no completed step requested
//! again (the argument is at the check, in `verify`).
//!
//! Kills are explicit signals, never sleeps: the harness reads the child's NDJSON progress and
//! sends SIGKILL right after its k-th durable step event (or, for k = 0, its j-th line), k and j
//! drawn from a seeded xorshift generator, as is each `resume`'s week concurrency. The seed also
//! seeds the mock's faults and picks the protocol. It is printed first, and
//! `PERIODIZE_CHAOS_SEED=S cargo test --test chaos` replays the same choices (the interleaving
//! of ten concurrent runs still varies). `PERIODIZE_CHAOS_KILLS=N` asks for a larger run.
//!
//! After every process the harness records the mock's log position and the store as the next
//! process finds it (`list`/`show --json`); the checks compare those snapshots, the NDJSON of
//! every process, the final plan files, and an uncrashed, fault-free run of the same profiles.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "harness/mod.rs"]
mod harness;

use harness::{command, http_get_json, plan_content, Rng, START};

const DEFAULT_KILLS: u32 = 20;
/// How a run may fail under injected faults (`--step-attempts`, `--max-transient-retries`, a
/// refused answer repeated word for word); `resume --retry` continues it.
const POLICY: [&str; 4] = [
    "repeated an answer",
    "answers failed validation",
    "answers were malformed",
    "transient failures",
];
/// Durable step events kept in reserve until the last kill (see the kill schedule).
const RESERVE: u64 = 10;
const PROTOCOLS: [&str; 4] = ["anthropic", "openai", "gemini", "ollama"];

/// The seed, kept for every failure message.
static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

fn fail(message: String) -> ! {
    let seed = SEED.get().copied().unwrap_or_default();
    eprintln!("chaos: {message}");
    eprintln!("chaos: replay with PERIODIZE_CHAOS_SEED={seed} cargo test --test chaos");
    println!("0 passed, 1 failed");
    // Unwind rather than exit, so that the mock and any child still running are stopped.
    std::panic::resume_unwind(Box::new(message));
}

fn check(condition: bool, message: impl FnOnce() -> String) {
    if !condition {
        fail(message());
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(value) => Some(value),
        Err(_) => fail(format!("{name}={text:?} is not a whole number")),
    }
}

/// A running `periodize mock-llm`, stopped when dropped.
struct Mock {
    child: std::process::Child,
    url: String,
}

impl Mock {
    fn start(flags: &[String]) -> Mock {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let (child, url) = harness::spawn_mock(&flags);
        Mock { child, url }
    }

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

    /// The model requests of the request log, as (seq, step), in `seq` order. With `settled`,
    /// nothing is in progress, so the log must hold every request the counters saw; otherwise a
    /// request may be counted on arrival and logged a moment later.
    fn log(&self, settled: bool) -> Vec<(u64, String)> {
        let stats = http_get_json(&self.url, "/__mock/stats");
        let mut log: Vec<(u64, String)> = stats["log"]
            .as_array()
            .expect("the stats have a log")
            .iter()
            .map(|entry| {
                (
                    entry["seq"].as_u64().expect("seq"),
                    entry["step"].as_str().expect("step").to_string(),
                )
            })
            .filter(|(_, step)| !step.is_empty())
            .collect();
        log.sort();
        let counted: u64 = stats["requests_by_step"]
            .as_object()
            .expect("requests_by_step")
            .values()
            .map(|count| count.as_u64().expect("a count"))
            .sum();
        // The log keeps the newest 50 000 entries; this test makes a few hundred requests.
        let logged = log.len() as u64;
        check(counted == logged || (!settled && counted > logged), || {
            format!("the mock's log has {logged} model requests, its counters {counted}")
        });
        log
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_output(dir: &Path, args: &[&str]) -> Value {
    let output = output_within(command(dir).args(args), &format!("periodize {}", args[0]));
    check(output.status.success(), || {
        format!(
            "periodize {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

/// Ten varied athletes, 2 to 8 weeks each (51 weeks in all). Caps of 120 min on weekdays and
/// 300 min on weekend days hold every weekly budget.
fn write_profiles(dir: &Path) -> Vec<PathBuf> {
    // name, age, weight kg, FTP W, hours a week, available days, weeks
    let athletes = [
        ("Ada Brisk", 29, 58.0, 210, 6.0, "Tue Thu Sat Sun", 2),
        ("Bo Climber", 35, 70.0, 250, 8.0, "Mon Wed Fri Sat Sun", 3),
        ("Cleo Diesel", 42, 75.5, 280, 10.0, "Tue Wed Thu Sat Sun", 4),
        ("Dev Tempo", 51, 68.0, 230, 7.0, "Mon Tue Thu Sat", 5),
        (
            "Eun Sprint",
            24,
            64.0,
            300,
            12.0,
            "Mon Tue Wed Thu Sat Sun",
            6,
        ),
        ("Femi Gravel", 38, 80.0, 265, 9.0, "Wed Fri Sat Sun", 7),
        ("Gus Masters", 47, 72.0, 240, 5.0, "Tue Sat Sun", 8),
        ("Hana Commute", 33, 61.0, 195, 4.0, "Mon Wed Sat", 3),
        ("Ivo Veteran", 59, 77.0, 220, 8.0, "Tue Thu Fri Sat Sun", 5),
        (
            "Juno Engine",
            27,
            66.0,
            320,
            14.0,
            "Mon Tue Wed Thu Fri Sat Sun",
            8,
        ),
    ];
    let day_name = |short: &str| -> &'static str {
        match short {
            "Mon" => "Monday",
            "Tue" => "Tuesday",
            "Wed" => "Wednesday",
            "Thu" => "Thursday",
            "Fri" => "Friday",
            "Sat" => "Saturday",
            _ => "Sunday",
        }
    };
    athletes
        .iter()
        .enumerate()
        .map(|(index, (name, age, weight, ftp, hours, days, weeks))| {
            let days: Vec<&str> = days.split(' ').map(day_name).collect();
            let caps: serde_json::Map<String, Value> = days
                .iter()
                .map(|day| {
                    let cap = if day.starts_with('S') { 300 } else { 120 };
                    (day.to_string(), json!(cap))
                })
                .collect();
            let profile = json!({
                "name": name,
                "age": age,
                "weight_kg": weight,
                "ftp_w": ftp,
                "max_hr": 220 - age,
                "weekly_hours": hours,
                "available_days": days,
                "daily_caps_min": caps,
                "goals": format!("Chaos athlete {index}: raise FTP and finish the plan whatever happens"),
                "plan_weeks": weeks,
            });
            let path = dir.join(format!("athlete_{index}.json"));
            std::fs::write(&path, serde_json::to_string_pretty(&profile).expect("JSON"))
                .expect("write a profile");
            path
        })
        .collect()
}

fn generate_args(profiles: &[PathBuf], provider: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "generate",
        "--json",
        "--start-date",
        START,
        "--run-concurrency",
        "10",
        "--week-concurrency",
        "3",
        // Ten percent faults of every kind: a step must not run out of answers or retries by
        // bad luck (a refusal ends a step after 6 here; 3 in a row would be ~1e-4 per step).
        "--step-attempts",
        "6",
        "--max-transient-retries",
        "10",
        "--retry-base-ms",
        "10",
        "--retry-max-ms",
        "80",
        // A `timeout` fault holds its request 1.5 s: the client gives up first.
        "--request-timeout-ms",
        "1000",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    for profile in profiles {
        args.push("--profile".into());
        args.push(profile.display().to_string());
    }
    args.extend(provider.iter().cloned());
    args
}

/// One step of one run, as the store holds it after a process ended.
#[derive(Debug, Clone, PartialEq, Default)]
struct StepView {
    accepted: bool,
    accepted_at_ms: Option<u64>,
    attempts: usize,
    accepted_attempts: usize,
    requests: u64,
    in_flight: bool,
}

/// The durable state of every run: (run id, step name) → step, and run id → `show --json`.
#[derive(Default)]
struct Snapshot {
    steps: BTreeMap<(String, String), StepView>,
    runs: BTreeMap<String, Value>,
}

fn snapshot(dir: &Path) -> Snapshot {
    let mut snapshot = Snapshot::default();
    if !dir.join("state").exists() {
        return snapshot;
    }
    let listed = json_output(dir, &["list", "--json"]);
    for run in listed.as_array().expect("a list") {
        let run_id = run["run_id"].as_str().expect("a run id").to_string();
        let shown = json_output(dir, &["show", &run_id, "--json"]);
        for step in shown["steps"].as_array().expect("steps") {
            let attempts = step["attempts"].as_array().expect("attempts");
            let view = StepView {
                accepted: step["accepted"] == true,
                accepted_at_ms: step["accepted_at_ms"].as_u64(),
                attempts: attempts.len(),
                accepted_attempts: attempts
                    .iter()
                    .filter(|attempt| attempt["outcome"]["kind"] == "accepted")
                    .count(),
                requests: step["requests"].as_u64().expect("requests"),
                in_flight: step["in_flight"] == true,
            };
            let name = step["step"].as_str().expect("step name").to_string();
            snapshot.steps.insert((run_id.clone(), name), view);
        }
        snapshot.runs.insert(run_id, shown);
    }
    snapshot
}

/// How one process ended.
struct Ended {
    events: Vec<Value>,
    killed: bool,
    /// The exit code, when it exited by itself.
    code: Option<i32>,
}

/// A process that prints nothing for this long is hung: every line is a step's progress, and
/// the longest quiet stretch here (a `timeout` fault) is 1.5 s.
const STALL: Duration = Duration::from_secs(30);

/// A child that is SIGKILLed when dropped (a failing check unwinds through it).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hung(what: &str) -> ! {
    fail(format!(
        "{what} made no progress for {} s and was killed: a hang (this test first found one in \
         sled 0.34's `flush_async` under concurrent runs, spacejam/sled#1308)",
        STALL.as_secs()
    ))
}

/// Runs a command to completion, killed and reported as hung after `STALL`.
fn output_within(command: &mut Command, what: &str) -> std::process::Output {
    let mut child = Child(
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn periodize"),
    );
    let mut stdout = child.0.stdout.take().expect("piped stdout");
    let mut stderr = child.0.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + STALL;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("poll the child") {
            break status;
        }
        if Instant::now() > deadline {
            hung(what);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    std::process::Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// When to SIGKILL a process: right after its `step_events`-th durable step event
/// (overview_created, week_complete, plan_finalized) and its `lines`-th line of any kind.
#[derive(Debug, Clone, Copy)]
struct Kill {
    step_events: u64,
    lines: u64,
}

/// Runs one `generate` or `resume`, and SIGKILLs it at `kill` (`None`: let it finish).
/// `generate` is only killed once every run of the batch is durable: before its first commit,
/// a new run exists only in memory.
fn run_process(
    dir: &Path,
    args: &[String],
    kill: Option<Kill>,
    batch: usize,
    stderr_log: &Path,
) -> Ended {
    let mut child = Child(
        command(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_log).expect("a stderr file"))
            .spawn()
            .expect("spawn periodize"),
    );
    // Lines arrive through a thread, so that a hung child is noticed.
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (sender, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let what = format!("periodize {}", args[0]);
    let mut events = Vec::new();
    let mut durable_runs = BTreeSet::new();
    let mut step_events = 0;
    let mut killed = false;
    loop {
        let line = match lines.recv_timeout(STALL) {
            Ok(line) => line,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => hung(&what),
        };
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            fail(format!(
                "{what} printed a line that is not NDJSON: {line:?}"
            ));
        });
        let kind = event["event"].as_str().unwrap_or_default().to_string();
        // Every event but these is announced after a flush, so its run is in the store.
        if !matches!(kind.as_str(), "started" | "finished" | "nothing_to_resume") {
            if let Some(run_id) = event["run_id"].as_str() {
                durable_runs.insert(run_id.to_string());
            }
        }
        if matches!(
            kind.as_str(),
            "overview_created" | "week_complete" | "plan_finalized"
        ) {
            step_events += 1;
        }
        events.push(event);
        if let Some(kill) = kill {
            if !killed
                && step_events >= kill.step_events
                && events.len() as u64 >= kill.lines
                && durable_runs.len() >= batch
            {
                // SIGKILL: no flush, no destructors, no grace. What it printed before it died
                // is still read below.
                child.0.kill().expect("SIGKILL the child");
                killed = true;
            }
        }
    }
    reader.join().expect("the line reader");
    let status = child.0.wait().expect("reap the child");
    // A child that exited between its last line and the signal was not killed.
    Ended {
        events,
        killed: killed && status.code().is_none(),
        code: status.code(),
    }
}

/// Steps that `events` announced as accepted: (run id, step name).
fn announced(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|event| {
            let run_id = event["run_id"].as_str()?.to_string();
            match event["event"].as_str()? {
                "overview_created" => Some((run_id, "overview".to_string())),
                "week_complete" => Some((run_id, format!("week {}", event["week"]))),
                "plan_finalized" => Some((run_id, "finalize".to_string())),
                _ => None,
            }
        })
        .collect()
}

/// The plans of the same ten profiles without faults, crashes or latency, by athlete name.
fn reference_plans(profiles: &[PathBuf], protocol: &str) -> BTreeMap<String, Value> {
    let mock = Mock::start(&[]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = output_within(
        command(dir.path()).args(generate_args(profiles, &mock.provider_args(protocol))),
        "the uncrashed reference batch",
    );
    check(output.status.success(), || {
        format!(
            "the uncrashed reference batch failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let mut plans = BTreeMap::new();
    for entry in std::fs::read_dir(dir.path().join("output")).expect("output directory") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("plan file");
        let plan: Value = serde_json::from_str(&text).expect("plan JSON");
        let name = plan["athlete_profile"]["name"]
            .as_str()
            .expect("athlete name")
            .to_string();
        plans.insert(name, plan_content(&plan));
    }
    check(plans.len() == profiles.len(), || {
        format!("the reference batch wrote {} plans", plans.len())
    });
    plans
}

fn main() {
    let started = Instant::now();
    let seed = env_u64("PERIODIZE_CHAOS_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
    });
    SEED.set(seed).expect("set once");
    let wanted_kills = env_u64("PERIODIZE_CHAOS_KILLS").unwrap_or(u64::from(DEFAULT_KILLS));
    let mut rng = Rng::new(seed);
    let protocol = PROTOCOLS[(seed % PROTOCOLS.len() as u64) as usize];
    println!(
        "chaos seed {seed} ({protocol}, {wanted_kills} kills): replay with PERIODIZE_CHAOS_SEED={seed} cargo test --test chaos"
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let dir = dir.path();
    let profiles = write_profiles(dir);
    let references = reference_plans(&profiles, protocol);

    let mock = Mock::start(
        &[
            "--fault-rate",
            "0.1",
            "--fault-seed",
            &seed.to_string(),
            "--latency-ms",
            "20",
            "--latency-jitter-ms",
            "40",
            "--retry-after-s",
            "0",
            "--timeout-hold-ms",
            "1500",
        ]
        .map(String::from),
    );
    let provider = mock.provider_args(protocol);

    // Process 0 is `generate`, every later one `resume`. After each process: the mock's log
    // position, and the store as the next process finds it.
    let mut processes: Vec<Ended> = Vec::new();
    let mut window_ends: Vec<u64> = Vec::new();
    let mut snapshots: Vec<Snapshot> = vec![Snapshot::default()];
    let mut kills = 0;
    let mut kill_points = Vec::new();
    loop {
        let last = snapshots.last().expect("a snapshot");
        let unfinished: Vec<&Value> = last
            .runs
            .values()
            .filter(|run| run["state"] != "done")
            .collect();
        if !processes.is_empty() && unfinished.is_empty() {
            break;
        }
        let kill_after = if kills < wanted_kills {
            // The durable step events still to come: the overview if not accepted, the weeks
            // not accepted, and the plan file, of every unfinished run.
            let remaining: u64 = if processes.is_empty() {
                10 + 51 + 10
            } else {
                unfinished
                    .iter()
                    .map(|run| {
                        let run_id = run["run_id"].as_str().expect("run id").to_string();
                        let overview = last
                            .steps
                            .get(&(run_id, "overview".to_string()))
                            .is_some_and(|view| view.accepted);
                        run["total_weeks"].as_u64().expect("total_weeks")
                            - run["weeks_done"].as_u64().expect("weeks_done")
                            + u64::from(!overview)
                            + 1
                    })
                    .sum()
            };
            // Spread the work over the kills still to come, keeping a reserve so that every
            // kill lands while there is work in flight: k in 0..=(remaining - reserve) /
            // kills left, at most 6. With nothing to spare, k is 0: the kill comes among the
            // process's first lines, before a model reply (20 ms at least) can arrive.
            let spare = remaining.saturating_sub(RESERVE);
            let step_events = rng.upto((spare / (wanted_kills - kills)).min(6));
            // k = 0: after the j-th line, while the runs resume one after the other (each
            // prints `started`, re-issues its requests and re-arms its waits).
            let lines = if step_events == 0 {
                1 + rng.upto(unfinished.len().max(1) as u64 - 1)
            } else {
                1
            };
            Some(Kill { step_events, lines })
        } else {
            // The final process runs to completion.
            None
        };
        // A run the faults failed by policy (a step out of answers or retries, which the flags
        // make rare) gets the documented remedy, `resume --retry`; any other failure is a bug.
        let failed: Vec<String> = unfinished
            .iter()
            .filter(|run| run["state"] == "failed")
            .map(|run| format!("{}: {}", run["run_id"], run["reason"]))
            .collect();
        for reason in &failed {
            check(POLICY.iter().any(|policy| reason.contains(policy)), || {
                format!("a run failed: {reason}")
            });
            println!("chaos: run failed by the failure policy, resumed with --retry: {reason}");
        }
        let args = if processes.is_empty() {
            generate_args(&profiles, &provider)
        } else {
            // The week concurrency changes from process to process.
            let concurrency = 1 + rng.upto(3);
            let mut args: Vec<String> = [
                "resume",
                "--json",
                "--run-concurrency",
                "10",
                "--week-concurrency",
                &concurrency.to_string(),
                "--request-timeout-ms",
                "1000",
            ]
            .map(String::from)
            .to_vec();
            if !failed.is_empty() {
                args.push("--retry".into());
            }
            args
        };
        let batch = if processes.is_empty() {
            profiles.len()
        } else {
            0
        };
        let stderr_log = dir.join(format!("process_{}.stderr", processes.len()));
        let ended = run_process(dir, &args, kill_after, batch, &stderr_log);
        if ended.killed {
            kills += 1;
            let kill = kill_after.expect("a kill was planned");
            kill_points.push(if kill.step_events == 0 {
                format!("line {}", kill.lines)
            } else {
                kill.step_events.to_string()
            });
        } else {
            // 1: a run failed (checked against the failure policy before the next process).
            check(matches!(ended.code, Some(0 | 1)), || {
                format!(
                    "process {} ({}) failed: {}",
                    processes.len(),
                    args[0],
                    std::fs::read_to_string(&stderr_log).unwrap_or_default()
                )
            });
        }
        window_ends.push(
            mock.log(false)
                .last()
                .map_or(0, |(seq, _)| *seq)
                .max(window_ends.last().copied().unwrap_or(0)),
        );
        snapshots.push(snapshot(dir));
        processes.push(ended);
        check(processes.len() < 10 * wanted_kills as usize + 10, || {
            "the runs make no progress".to_string()
        });
    }
    check(kills == wanted_kills, || {
        format!("only {kills} of {wanted_kills} kills landed before the runs finished")
    });

    verify(
        dir,
        &mock,
        &processes,
        &window_ends,
        &snapshots,
        &references,
    );
    let attempts: usize = snapshots
        .last()
        .expect("a snapshot")
        .steps
        .values()
        .map(|view| view.attempts)
        .sum();
    let requests = mock.log(true).len();
    println!(
        "chaos: {} processes, {kills} SIGKILLs (after k durable step events, or after line j: {}), {requests} model requests for {attempts} committed attempts ({} lost to kills), all 10 runs done in {:.1} s",
        processes.len(),
        kill_points.join(" "),
        requests - attempts,
        started.elapsed().as_secs_f64()
    );
    println!("1 passed, 0 failed");
}

fn verify(
    dir: &Path,
    mock: &Mock,
    processes: &[Ended],
    window_ends: &[u64],
    snapshots: &[Snapshot],
    references: &BTreeMap<String, Value>,
) {
    let last = snapshots.last().expect("a snapshot");

    // Every run is Done, once, with every step accepted exactly once and nothing in flight.
    check(last.runs.len() == 10, || {
        format!("{} runs in the store, expected 10", last.runs.len())
    });
    for (run_id, run) in &last.runs {
        check(run["state"] == "done" && run["done_count"] == 1, || {
            format!(
                "run {run_id}: state {}, done_count {}",
                run["state"], run["done_count"]
            )
        });
        check(run["weeks_done"] == run["total_weeks"], || {
            format!(
                "run {run_id}: {} of {} weeks",
                run["weeks_done"], run["total_weeks"]
            )
        });
    }
    for ((run_id, step), view) in &last.steps {
        check(
            view.accepted && view.accepted_attempts == 1 && !view.in_flight,
            || format!("run {run_id} {step}: {view:?}, expected accepted once, nothing in flight"),
        );
    }

    // Durable means durable: what a process announced is accepted in the store it left behind,
    // and an accepted step never changes again (same acceptance time, no new attempt, no new
    // request counted) in any later store.
    for (index, process) in processes.iter().enumerate() {
        for (run_id, step) in announced(&process.events) {
            let after = &snapshots[index + 1];
            let durable = if step == "finalize" {
                after
                    .runs
                    .get(&run_id)
                    .is_some_and(|run| run["state"] == "done")
            } else {
                after
                    .steps
                    .get(&(run_id.clone(), step.clone()))
                    .is_some_and(|view| view.accepted)
            };
            check(durable, || {
                format!("process {index} announced {step} of run {run_id}, but the store it left does not have it")
            });
        }
    }
    for window in snapshots.windows(2) {
        for (key, before) in &window[0].steps {
            if !before.accepted {
                continue;
            }
            let after = window[1].steps.get(key);
            check(after == Some(before), || {
                format!("{key:?} was accepted as {before:?}, later {after:?}")
            });
        }
    }

    // No step announced twice across all processes, and each run's count of accepted weeks
    // only grows.
    let mut seen = BTreeSet::new();
    let mut done_so_far: BTreeMap<String, u64> = BTreeMap::new();
    for (index, process) in processes.iter().enumerate() {
        for key in announced(&process.events) {
            check(seen.insert(key.clone()), || {
                format!("process {index} announced {key:?} a second time")
            });
        }
        for event in &process.events {
            if event["event"] == "week_complete" {
                let run_id = event["run_id"].as_str().expect("run id").to_string();
                let done = event["done"].as_u64().expect("done");
                let before = done_so_far.insert(run_id.clone(), done).unwrap_or(0);
                check(done > before, || {
                    format!("run {run_id}: week_complete with done {done} after {before}")
                });
            }
        }
    }

    // The mock's request log, per process. Ten runs share the mock, so its log names a step
    // ("week 3") but not the run: the check is per step name and per process window. Process i's
    // requests are the log entries after the position read when process i-1 was reaped, up to
    // the position read when process i was reaped (every process is reaped before the log is
    // read, and the next one starts after). In its window, a process may have sent for step s:
    //   one request per attempt it committed for s (any run), plus
    //   one request per run whose s it left in flight (sent, reply never committed): a process
    //   has at most one request of a step in flight, and the next request of that step is sent
    //   only after the reply is committed and flushed;
    // and nothing else: a request for a step accepted in an earlier process (its attempts are
    // fixed, it is never in flight again) has no room. A request the dead process wrote just
    // before the kill may be read by the mock only after the position was taken; it is then
    // counted in the next window against its own process's unused in-flight allowance.
    // The engine's own per-run, per-step counters are checked exactly afterwards.
    let log = mock.log(true);
    let mut carry: BTreeMap<String, i64> = BTreeMap::new();
    let mut start = 0;
    for (index, end) in window_ends.iter().enumerate() {
        let (before, after) = (&snapshots[index], &snapshots[index + 1]);
        let mut requested: BTreeMap<String, i64> = BTreeMap::new();
        for (_, step) in log.iter().filter(|(seq, _)| *seq > start && seq <= end) {
            *requested.entry(step.clone()).or_default() += 1;
        }
        let mut committed: BTreeMap<String, i64> = BTreeMap::new();
        let mut in_flight: BTreeMap<String, i64> = BTreeMap::new();
        for ((run_id, step), view) in &after.steps {
            let earlier = before
                .steps
                .get(&(run_id.clone(), step.clone()))
                .map_or(0, |view| view.attempts);
            *committed.entry(step.clone()).or_default() += (view.attempts - earlier) as i64;
            *in_flight.entry(step.clone()).or_default() += i64::from(view.in_flight);
        }
        let steps: BTreeSet<&String> = requested
            .keys()
            .chain(committed.keys())
            .chain(in_flight.keys())
            .collect();
        let mut next_carry = BTreeMap::new();
        for step in steps {
            let requested = requested.get(step).copied().unwrap_or(0);
            let committed = committed.get(step).copied().unwrap_or(0);
            let in_flight = in_flight.get(step).copied().unwrap_or(0);
            let carried = carry.get(step).copied().unwrap_or(0);
            check(requested >= committed, || {
                format!("process {index}: {step}: {committed} attempts committed, the mock saw {requested} requests")
            });
            check(requested <= committed + in_flight + carried, || {
                format!(
                    "process {index}: the mock saw {requested} requests for {step}, but the process committed {committed} attempts and left {in_flight} in flight (+{carried} late from the process before): a completed step was requested again, or an unanswered one more than once more"
                )
            });
            // Of this process's own in-flight allowance, what it did not use yet.
            let own_used = (requested - committed - carried).max(0);
            next_carry.insert(step.clone(), (in_flight - own_used).max(0));
        }
        carry = next_carry;
        start = *end;
    }
    check(log.iter().all(|(seq, _)| seq <= &start), || {
        "requests arrived after the last process ended".to_string()
    });

    // The engine's own counters, per run and step: every attempt was one request, and every
    // other request is one that a killed process left in flight.
    for (key, view) in &last.steps {
        let left_in_flight = snapshots[1..]
            .iter()
            .filter(|snapshot| snapshot.steps.get(key).is_some_and(|view| view.in_flight))
            .count() as u64;
        check(
            view.requests >= view.attempts as u64
                && view.requests <= view.attempts as u64 + left_in_flight,
            || {
                format!(
                    "{key:?}: {} requests for {} attempts, {left_in_flight} left in flight by killed processes",
                    view.requests, view.attempts
                )
            },
        );
    }

    // Plan files: exactly one per run and nothing else (no temporary file), whole JSON that
    // `validate` accepts, the run's own, and the same plan as an uncrashed run of the profile.
    let output = dir.join("output");
    let mut names: Vec<String> = std::fs::read_dir(&output)
        .expect("output directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    names.sort();
    let mut expected: Vec<String> = last
        .runs
        .values()
        .map(|run| {
            Path::new(run["output_file"].as_str().expect("an output file"))
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .to_string()
        })
        .collect();
    expected.sort();
    check(names == expected, || {
        format!("output holds {names:?}, expected exactly {expected:?}")
    });
    for (run_id, run) in &last.runs {
        let path = dir.join(run["output_file"].as_str().expect("an output file"));
        let text = std::fs::read_to_string(&path).expect("plan file");
        let plan: Value = serde_json::from_str(&text).unwrap_or_else(|err| {
            fail(format!("{} is not whole JSON: {err}", path.display()));
        });
        check(plan["run"]["id"] == run["run_id"], || {
            format!(
                "{} belongs to run {}, not {run_id}",
                path.display(),
                plan["run"]["id"]
            )
        });
        check(
            plan["run"]["attempts"] == run["attempts"]
                && plan["run"]["tokens"] == run["tokens"]
                && plan["run"]["cost"] == run["cost"],
            || {
                format!(
                    "{}: the request accounting differs from the run's",
                    path.display()
                )
            },
        );
        let name = plan["athlete_profile"]["name"].as_str().expect("athlete");
        check(references.get(name) == Some(&plan_content(&plan)), || {
            format!(
                "{}: the plan of {name} differs from the uncrashed run",
                path.display()
            )
        });
        let validated = output_within(
            command(dir).arg("validate").arg(&path),
            "periodize validate",
        );
        check(validated.status.success(), || {
            format!(
                "validate {}: {}",
                path.display(),
                String::from_utf8_lossy(&validated.stdout)
            )
        });
    }
    let again = output_within(command(dir).args(["resume", "--json"]), "periodize resume");
    check(
        again.status.success()
            && String::from_utf8_lossy(&again.stdout).contains("nothing_to_resume"),
        || {
            format!(
                "a last resume found work: {}",
                String::from_utf8_lossy(&again.stdout)
            )
        },
    );
}
