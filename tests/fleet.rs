//! The fleet chaos test: 30 runs enqueued in one PostgreSQL database, worked by 3 worker
//! processes (2 runs, 2 weeks each at a time) against `periodize mock-llm` (150-250 ms
//! latency), with 2-second leases. Workers are
//! SIGKILLed at random moments 20 times, each replaced by a new one; once, a worker holding
//! leases is SIGSTOPped instead, kept stopped until another worker has taken one of its runs
//! over (its lease expired), then resumed: its late commit must be refused by the fencing
//! token. A last `worker --until-idle` finishes what is left (the killed workers' leases
//! expire first). At the end every run is Done once, every step was accepted exactly once and
//! announced at most once across all workers, the mock's request log holds a request for every
//! committed attempt, every plan validates, the database's copy of each plan is the file, and
//! each plan equals the single-process (sled) plan of the same profile.
//!
//! Kills are explicit signals, never sleeps: the harness reads every worker's NDJSON progress
//! and kills right after the k-th durable step event since the last kill, k drawn from a seeded
//! xorshift generator (`PERIODIZE_CHAOS_SEED=S` replays the choices; the interleaving of three
//! processes still varies). The takeover is seen the same way: another worker's `started`
//! event for one of the stopped worker's runs. Without `PERIODIZE_TEST_PG` the test says it
//! needs PostgreSQL and passes; under `CI` it fails instead.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "harness/mod.rs"]
mod harness;

use harness::{command, http_get_json, pg, plan_content, Rng, BIN, START};

const RUNS: usize = 30;
const WORKERS: usize = 3;
const KILLS: u32 = 20;
/// The kill (by index) replaced by a SIGSTOP past the lease.
const STOP_AT: u32 = 15;
const LEASE_MS: u64 = 2_000;
/// Longest a harness waits for one thing (an event, an exit) before calling the fleet hung.
const HUNG_AFTER: Duration = Duration::from_secs(30);

fn fail(message: String) -> ! {
    eprintln!("fleet: {message}");
    println!("0 passed, 1 failed");
    std::panic::resume_unwind(Box::new(message));
}

fn check(condition: bool, message: impl FnOnce() -> String) {
    if !condition {
        fail(message());
    }
}

/// A running `periodize mock-llm`, stopped when dropped.
struct Mock {
    child: Child,
    url: String,
}

impl Mock {
    fn start(flags: &[&str]) -> Mock {
        let (child, url) = harness::spawn_mock(flags);
        Mock { child, url }
    }

    fn provider_args(&self) -> Vec<String> {
        vec![
            "--provider".into(),
            "anthropic".into(),
            "--base-url".into(),
            self.url.clone(),
        ]
    }

    /// Model requests per step name ("overview", "week 3").
    fn requests_by_step(&self) -> BTreeMap<String, u64> {
        let stats = http_get_json(&self.url, "/__mock/stats");
        let mut counts = BTreeMap::new();
        for entry in stats["log"].as_array().expect("a log") {
            let step = entry["step"].as_str().expect("step");
            if !step.is_empty() {
                *counts.entry(step.to_string()).or_default() += 1;
            }
        }
        counts
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a worker process said, line by line, tagged with its index.
enum Line {
    Out(usize, Value),
    Err(usize, String),
}

struct Worker {
    child: Child,
    index: usize,
}

fn spawn_worker(
    dir: &Path,
    url: &str,
    index: usize,
    lines: &mpsc::Sender<Line>,
    until_idle: bool,
) -> Worker {
    let mut cmd = command(dir);
    cmd.args([
        "--store",
        url,
        "--json",
        "worker",
        "--runs",
        "2",
        "--week-concurrency",
        "2",
    ])
    .args([
        "--lease-ms",
        &LEASE_MS.to_string(),
        "--shutdown-grace-ms",
        "2000",
    ])
    .env("ANTHROPIC_API_KEY", "test-key-not-secret")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if until_idle {
        cmd.arg("--until-idle");
    }
    let mut child = cmd.spawn().expect("spawn a worker");
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let (to_out, to_err) = (lines.clone(), lines.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str(&line) {
                let _ = to_out.send(Line::Out(index, value));
            }
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = to_err.send(Line::Err(index, line));
        }
    });
    Worker { child, index }
}

/// A worker left running when a check fails would outlive the harness: it is killed.
impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: a plain kill(2) on a child this harness spawned and has not reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    check(rc == 0, || {
        format!("signal {signal} to {} failed", child.id())
    });
}

fn write_profiles(dir: &Path) -> Vec<PathBuf> {
    let days = [
        ["Tuesday", "Thursday", "Saturday", "Sunday"].as_slice(),
        ["Monday", "Wednesday", "Friday", "Saturday", "Sunday"].as_slice(),
        ["Tuesday", "Saturday", "Sunday"].as_slice(),
    ];
    std::fs::create_dir_all(dir).expect("profiles directory");
    (0..RUNS)
        .map(|index| {
            let available = days[index % days.len()];
            let caps: serde_json::Map<String, Value> = available
                .iter()
                .map(|day| {
                    (
                        day.to_string(),
                        json!(if day.starts_with('S') { 300 } else { 120 }),
                    )
                })
                .collect();
            let profile = json!({
                "name": format!("Fleet Rider {index:02}"),
                "age": 25 + index % 30,
                "weight_kg": 60.0 + (index % 20) as f64,
                "ftp_w": 200 + 5 * index,
                "weekly_hours": 5.0 + (index % 6) as f64,
                "available_days": available,
                "daily_caps_min": caps,
                "goals": format!("Fleet athlete {index}: build FTP through any failure"),
                "plan_weeks": 4 + index % 3,
            });
            let path = dir.join(format!("rider_{index:02}.json"));
            std::fs::write(&path, profile.to_string()).expect("write a profile");
            path
        })
        .collect()
}

fn plans_by_athlete(output: &Path) -> BTreeMap<String, (PathBuf, Value)> {
    let mut plans = BTreeMap::new();
    for entry in std::fs::read_dir(output).expect("output directory") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let plan: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("plan")).expect("JSON");
        let name = plan["athlete_profile"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        check(!plans.contains_key(&name), || {
            format!("two plan files for {name}")
        });
        plans.insert(name, (path, plan));
    }
    plans
}

fn durable_step(event: &Value) -> Option<(String, String)> {
    let run_id = event["run_id"].as_str()?.to_string();
    match event["event"].as_str()? {
        "overview_created" => Some((run_id, "overview".into())),
        "week_complete" => Some((run_id, format!("week {}", event["week"]))),
        "plan_finalized" => Some((run_id, "finalize".into())),
        _ => None,
    }
}

/// The runs a worker process holds leases on now, by its pid in the lease owner.
fn leases_of(db: &mut postgres::Client, pid: u32) -> Vec<String> {
    db.query(
        "SELECT run_id FROM leases WHERE owner LIKE $1 AND expires_at_ms > 0",
        &[&format!("%/{pid}/%")],
    )
    .expect("read leases")
    .iter()
    .map(|row| row.get(0))
    .collect()
}

fn main() {
    let Some(url) = pg::pg_database("fleet_chaos") else {
        println!("1 passed (skipped: needs PostgreSQL)");
        return;
    };
    let seed = std::env::var("PERIODIZE_CHAOS_SEED")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |elapsed| elapsed.as_nanos() as u64)
        });
    eprintln!(
        "fleet: seed {seed} (replay with PERIODIZE_CHAOS_SEED={seed} cargo test --test fleet)"
    );
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temporary directory");
    let profiles = dir.path().join("riders");
    write_profiles(&profiles);
    let mock = Mock::start(&["--latency-ms", "150", "--latency-jitter-ms", "100"]);

    // The reference: the same profiles in one process on sled, no latency.
    let reference_dir = tempfile::tempdir().expect("temporary directory");
    let reference_mock = Mock::start(&[]);
    let output = command(reference_dir.path())
        .args(["batch", profiles.to_str().unwrap(), "--start-date", START])
        .args(reference_mock.provider_args())
        .env("ANTHROPIC_API_KEY", "test-key-not-secret")
        .output()
        .expect("run the reference batch");
    check(output.status.success(), || {
        format!(
            "the reference batch failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let references = plans_by_athlete(&reference_dir.path().join("output"));
    check(references.len() == RUNS, || {
        format!("{} reference plans", references.len())
    });

    let output = command(dir.path())
        .args([
            "--store",
            &url,
            "batch",
            profiles.to_str().unwrap(),
            "--enqueue",
        ])
        .args(["--start-date", START])
        .args(mock.provider_args())
        .env("ANTHROPIC_API_KEY", "test-key-not-secret")
        .output()
        .expect("enqueue");
    check(output.status.success(), || {
        format!(
            "enqueue failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });

    let (lines_to, lines) = mpsc::channel();
    let mut next_index = 0;
    let mut live: Vec<Worker> = Vec::new();
    for _ in 0..WORKERS {
        live.push(spawn_worker(dir.path(), &url, next_index, &lines_to, false));
        next_index += 1;
    }
    let mut events: Vec<(usize, Value)> = Vec::new();
    let mut errors: Vec<(usize, String)> = Vec::new();
    let receive = |events: &mut Vec<(usize, Value)>, errors: &mut Vec<(usize, String)>| match lines
        .recv_timeout(HUNG_AFTER)
    {
        Ok(Line::Out(index, value)) => events.push((index, value)),
        Ok(Line::Err(index, line)) => errors.push((index, line)),
        Err(_) => fail(format!(
            "no worker said anything for {HUNG_AFTER:?}; last lines: {:?} {:?}",
            events.iter().rev().take(3).collect::<Vec<_>>(),
            errors.iter().rev().take(5).collect::<Vec<_>>()
        )),
    };
    let mut db = {
        let url = url.clone();
        std::thread::spawn(move || postgres::Client::connect(&url, postgres::NoTls))
            .join()
            .expect("connect")
            .expect("connect to the test database")
    };
    let mut stopped: Option<(usize, BTreeSet<String>)> = None;
    for kill in 0..KILLS {
        let wait_for = 1 + rng.upto(3) as usize;
        let seen = events
            .iter()
            .filter(|(_, e)| durable_step(e).is_some())
            .count();
        while events
            .iter()
            .filter(|(_, e)| durable_step(e).is_some())
            .count()
            < seen + wait_for
        {
            receive(&mut events, &mut errors);
        }
        if kill == STOP_AT {
            // Stop a worker that holds leases, past its lease, until another takes a run over.
            let Some(position) = live
                .iter()
                .position(|w| !leases_of(&mut db, w.child.id()).is_empty())
            else {
                fail("no worker holds a lease to be stopped with".into());
            };
            let worker = &live[position];
            let held: BTreeSet<String> =
                leases_of(&mut db, worker.child.id()).into_iter().collect();
            signal(&worker.child, libc::SIGSTOP);
            eprintln!(
                "fleet: worker {} stopped holding {} run(s)",
                worker.index,
                held.len()
            );
            let stopped_index = worker.index;
            let seen = events.len();
            loop {
                let taken = events[seen..].iter().any(|(index, event)| {
                    *index != stopped_index
                        && event["event"] == "started"
                        && event["run_id"].as_str().is_some_and(|id| held.contains(id))
                });
                if taken {
                    break;
                }
                receive(&mut events, &mut errors);
            }
            signal(&worker.child, libc::SIGCONT);
            eprintln!("fleet: worker {stopped_index} resumed after a takeover");
            // Its late commit is refused, and it says so, before any kill may pick it.
            let refused = |errors: &[(usize, String)]| {
                errors.iter().any(|(index, line)| {
                    *index == stopped_index
                        && line.contains("was taken over")
                        && line.contains("commit was refused")
                })
            };
            while !refused(&errors) {
                receive(&mut events, &mut errors);
            }
            stopped = Some((stopped_index, held));
            continue;
        }
        if std::env::var_os("PERIODIZE_FLEET_TRACE").is_some() {
            eprintln!("fleet: kill {kill} after {} events", events.len());
        }
        let victim = rng.upto(live.len() as u64 - 1) as usize;
        let mut worker = live.remove(victim);
        signal(&worker.child, libc::SIGKILL);
        let _ = worker.child.wait();
        live.push(spawn_worker(dir.path(), &url, next_index, &lines_to, false));
        next_index += 1;
    }
    eprintln!("fleet: {KILLS} kills done after {:?}", started.elapsed());
    check(stopped.is_some(), || "no worker was stopped".into());

    // The rest stop gracefully; one last worker finishes what is left.
    for worker in &live {
        signal(&worker.child, libc::SIGTERM);
    }
    for mut worker in live {
        let status = worker.child.wait().expect("wait");
        // A worker started a moment ago may not have its signal handler yet.
        let graceful = status.code() == Some(143) || status.signal() == Some(libc::SIGTERM);
        check(graceful, || {
            format!("worker {} ended {status}", worker.index)
        });
    }
    let mut last = spawn_worker(dir.path(), &url, next_index, &lines_to, true);
    let status = last.child.wait().expect("wait");
    check(status.success(), || {
        format!("the last worker ended {status}")
    });
    drop(lines_to);
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        match line {
            Line::Out(index, value) => events.push((index, value)),
            Line::Err(index, line) => errors.push((index, line)),
        }
    }
    eprintln!("fleet: all workers done after {:?}", started.elapsed());
    verify(dir.path(), &url, &mock, &events, &references);
    println!(
        "1 passed (fleet chaos, seed {seed}, {KILLS} kills, {:?})",
        started.elapsed()
    );
}

fn verify(
    dir: &Path,
    url: &str,
    mock: &Mock,
    events: &[(usize, Value)],
    references: &BTreeMap<String, (PathBuf, Value)>,
) {
    // Every run Done once; every step accepted exactly once, nothing in flight.
    let output = command(dir)
        .args(["--store", url, "--json", "list"])
        .output()
        .expect("list");
    let runs: Value = serde_json::from_slice(&output.stdout).expect("list JSON");
    let runs = runs.as_array().expect("runs");
    check(runs.len() == RUNS, || {
        format!("{} runs in the store", runs.len())
    });
    let mut attempts_by_step: BTreeMap<String, u64> = BTreeMap::new();
    for run in runs {
        let run_id = run["run_id"].as_str().expect("id");
        check(run["state"] == "done", || {
            format!("run {run_id} is {}", run["state"])
        });
        let shown = command(dir)
            .args(["--store", url, "--json", "show", run_id])
            .output()
            .expect("show");
        let shown: Value = serde_json::from_slice(&shown.stdout).expect("show JSON");
        check(shown["done_count"] == 1, || {
            format!("run {run_id} done_count {}", shown["done_count"])
        });
        for step in shown["steps"].as_array().expect("steps") {
            let name = step["step"].as_str().expect("step name").to_string();
            let attempts = step["attempts"].as_array().expect("attempts");
            let accepted = attempts
                .iter()
                .filter(|a| a["outcome"]["kind"] == "accepted")
                .count();
            check(accepted == 1 && step["in_flight"] == false, || {
                format!(
                    "run {run_id} {name}: {accepted} accepted attempts, in flight {}",
                    step["in_flight"]
                )
            });
            *attempts_by_step.entry(name).or_default() += attempts.len() as u64;
        }
    }
    // No step announced twice across all workers: a second acceptance would be announced by
    // the worker that committed it.
    let mut announced = BTreeSet::new();
    for (index, event) in events {
        if let Some(key) = durable_step(event) {
            check(announced.insert(key.clone()), || {
                format!("worker {index} announced {key:?} a second time")
            });
        }
    }
    // Every committed attempt was a real request.
    let requested = mock.requests_by_step();
    for (step, attempts) in &attempts_by_step {
        let sent = requested.get(step).copied().unwrap_or(0);
        check(sent >= *attempts, || {
            format!("{step}: {attempts} attempts committed, {sent} requests")
        });
    }
    // Every plan validates, the stored copy is the file, and equals the single-process plan.
    let plans = plans_by_athlete(&dir.join("output"));
    check(plans.len() == RUNS, || {
        format!("{} plan files", plans.len())
    });
    for (name, (path, plan)) in &plans {
        let output = Command::new(BIN)
            .args(["validate", path.to_str().unwrap()])
            .output()
            .expect("validate");
        check(output.status.success(), || {
            format!("{name}: {}", String::from_utf8_lossy(&output.stdout))
        });
        let reference = &references.get(name).expect("a reference plan").1;
        check(plan_content(plan) == plan_content(reference), || {
            format!("{name}: the fleet's plan differs from the single-process plan")
        });
    }
    let mut db = {
        let url = url.to_string();
        std::thread::spawn(move || postgres::Client::connect(&url, postgres::NoTls))
            .join()
            .expect("connect")
            .expect("connect")
    };
    for row in db
        .query("SELECT name, bytes FROM plan_files", &[])
        .expect("plan files")
    {
        let (name, bytes): (String, Vec<u8>) = (row.get(0), row.get(1));
        let on_disk = std::fs::read(dir.join("output").join(&name)).expect("plan file");
        check(bytes == on_disk, || {
            format!("the stored {name} differs from the file")
        });
    }
    let stored: i64 = db
        .query_one("SELECT count(*) FROM plan_files", &[])
        .expect("plan files")
        .get(0);
    check(stored == RUNS as i64, || format!("{stored} plans stored"));
}
