//! The batch crash test: one submission of 50 profiles (more than its run concurrency, 4), on
//! the built-in coach with 20 ms per answer, SIGKILLed 30 times at random moments and started
//! again each time, the way a user would: `resume`, or the same submission command again (which
//! must be recognised and continued, not duplicated). Some kills are aborts at the named points
//! of the creation itself (`after-commit:create`, `after-flush:create`).
//!
//! After every process the store holds no run or all 50 (creation is one atomic write, durable
//! before any run is driven), and no profile has two runs. At the end every profile has exactly
//! one run, Done once, its plan file valid, and `batch-report` lists all 50.
//!
//! Kills are explicit: SIGKILL right after the child's j-th NDJSON line (j = 0: at once, which
//! lands in start-up or creation), j drawn from a seeded xorshift generator. The seed is printed;
//! `PERIODIZE_BATCH_SEED=S cargo test --test batch_crash` replays the same choices, and
//! `PERIODIZE_BATCH_KILLS=N` / `PERIODIZE_BATCH_PROFILES=N` change the size.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "harness/mod.rs"]
mod harness;

use harness::{command, START};

const DEFAULT_KILLS: u64 = 30;
const DEFAULT_PROFILES: u64 = 50;
const RUN_CONCURRENCY: &str = "4";
/// A process that prints nothing for this long is hung.
const STALL: Duration = Duration::from_secs(60);

fn fail(seed: u64, message: String) -> ! {
    eprintln!("batch crash test FAILED (seed {seed}): {message}");
    eprintln!("replay: PERIODIZE_BATCH_SEED={seed} cargo test --test batch_crash");
    std::process::exit(1);
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|text| text.parse().ok())
}

/// Profiles that differ in every field the coach reads; each athlete's name is unique.
fn write_profiles(dir: &Path, count: u64, rng: &mut Rng) -> Vec<PathBuf> {
    let day_sets: [&[&str]; 4] = [
        &["Tuesday", "Thursday", "Saturday", "Sunday"],
        &["Monday", "Wednesday", "Friday", "Saturday"],
        &["Tuesday", "Wednesday", "Thursday", "Saturday", "Sunday"],
        &["Saturday", "Sunday", "Wednesday"],
    ];
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    (0..count)
        .map(|index| {
            let days = day_sets[(index % 4) as usize];
            let profile = serde_json::json!({
                "name": format!("Rider {index:03}"),
                "ftp_w": 180 + rng.below(160),
                "weekly_hours": 4 + rng.below(5),
                "available_days": days,
                "plan_weeks": 2 + rng.below(5),
            });
            let path = profiles.join(format!("rider_{index:03}.json"));
            std::fs::write(&path, profile.to_string()).unwrap();
            path
        })
        .collect()
}

/// Every run in the store (`list --json`), or none when there is no store yet.
fn runs(dir: &Path, seed: u64) -> Vec<Value> {
    let output = command(dir).args(["list", "--json"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(2) && text.contains("no store at") {
        return Vec::new();
    }
    if !output.status.success() {
        fail(seed, format!("list failed: {text}"));
    }
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| fail(seed, format!("list --json: {err}")))
}

/// Runs a command; with `kill_after = Some(j)`, SIGKILLs it right after its j-th stdout line.
/// Returns whether it was killed.
fn run(
    dir: &Path,
    args: &[String],
    crash_point: Option<&str>,
    kill_after: Option<u64>,
    seed: u64,
) -> bool {
    let mut command = command(dir);
    let log = dir.join("last-stderr.log");
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    if let Some(point) = crash_point {
        command.env("PERIODIZE_CRASH_POINT", point);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, receiver) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if line.is_err() || lines.send(()).is_err() {
                break;
            }
        }
    });
    let mut seen = 0;
    let mut killed = false;
    loop {
        if kill_after == Some(seen) {
            let _ = child.kill();
            killed = true;
            break;
        }
        match receiver.recv_timeout(STALL) {
            Ok(()) => seen += 1,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                fail(seed, format!("{args:?} printed nothing for {STALL:?}"));
            }
        }
    }
    let status = child.wait().unwrap();
    let _ = reader.join();
    if !killed && crash_point.is_none() && !status.success() {
        let stderr = std::fs::read_to_string(&log).unwrap_or_default();
        fail(
            seed,
            format!("`{}` exited with {status}: {stderr}", args[..2].join(" ")),
        );
    }
    killed || crash_point.is_some()
}

fn main() {
    let started = Instant::now();
    let seed = env_u64("PERIODIZE_BATCH_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        (nanos as u64 | 1) ^ u64::from(std::process::id()).rotate_left(32)
    });
    let wanted_kills = env_u64("PERIODIZE_BATCH_KILLS").unwrap_or(DEFAULT_KILLS);
    let count = env_u64("PERIODIZE_BATCH_PROFILES").unwrap_or(DEFAULT_PROFILES);
    let mut rng = Rng(seed | 1);
    println!(
        "batch crash seed {seed} ({count} profiles, {wanted_kills} kills): replay with PERIODIZE_BATCH_SEED={seed} cargo test --test batch_crash"
    );
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let profiles = write_profiles(dir, count, &mut rng);
    let names: BTreeSet<String> = (0..count)
        .map(|index| format!("Rider {index:03}"))
        .collect();

    // The same submission, as `batch DIR` or as repeated `--profile` (the seed chooses).
    let as_batch_command = seed % 2 == 0;
    let options = [
        "--run-concurrency",
        RUN_CONCURRENCY,
        "--latency-ms",
        "20",
        "--start-date",
        START,
        "--json",
    ];
    let mut submission: Vec<String> = if as_batch_command {
        vec!["batch".into(), "profiles".into()]
    } else {
        let mut args = vec!["generate".to_string()];
        for path in &profiles {
            args.push("--profile".into());
            args.push(path.display().to_string());
        }
        args
    };
    submission.extend(options.iter().map(|text| text.to_string()));

    let mut kills = 0;
    let mut processes = 0;
    let mut resubmissions = 0;
    let mut creation_crashes = 0usize;
    let mut kill_lines = Vec::new();
    loop {
        let stored = runs(dir, seed);
        // Creation is atomic and durable before any run is driven: all or nothing.
        if !(stored.is_empty() || stored.len() as u64 == count) {
            fail(
                seed,
                format!(
                    "{} runs stored after process {processes}; expected 0 or {count}",
                    stored.len()
                ),
            );
        }
        let mut per_name: BTreeMap<String, u32> = BTreeMap::new();
        for run in &stored {
            *per_name
                .entry(run["athlete"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        if let Some((name, runs)) = per_name.iter().find(|(_, runs)| **runs > 1) {
            fail(
                seed,
                format!("{name} has {runs} runs after process {processes}"),
            );
        }
        let unfinished = stored.iter().filter(|run| run["state"] != "done").count();
        if processes > 0 && !stored.is_empty() && unfinished == 0 {
            break;
        }
        let week_concurrency = (1 + rng.below(4)).to_string();
        let mut args = if stored.is_empty() || rng.below(4) == 0 {
            if !stored.is_empty() {
                resubmissions += 1;
            }
            submission.clone()
        } else {
            vec![
                "resume".to_string(),
                "--run-concurrency".into(),
                RUN_CONCURRENCY.into(),
                "--latency-ms".into(),
                "20".into(),
                "--json".into(),
            ]
        };
        args.extend(["--week-concurrency".to_string(), week_concurrency]);
        let (crash_point, kill_after) = if kills >= wanted_kills {
            (None, None)
        } else if stored.is_empty() && creation_crashes < 2 {
            // The first submissions abort inside the creation itself: committed, then flushed.
            let point = ["after-commit:create", "after-flush:create"][creation_crashes];
            creation_crashes += 1;
            (Some(point), None)
        } else {
            // NDJSON lines still to come: one per week, and about four more per run (started,
            // overview, plan file, finished). Spread the kills left over them, so that every
            // process makes some progress and all the kills happen before the end.
            let remaining: u64 = if stored.is_empty() {
                count * 10
            } else {
                stored
                    .iter()
                    .filter(|run| run["state"] != "done")
                    .map(|run| {
                        run["total_weeks"].as_u64().unwrap() - run["weeks_done"].as_u64().unwrap()
                            + 4
                    })
                    .sum()
            };
            let kills_left = wanted_kills - kills;
            let j = rng.below(2 * remaining / (kills_left + 1) + 1);
            kill_lines.push(j);
            (None, Some(j))
        };
        if run(dir, &args, crash_point, kill_after, seed) {
            kills += 1;
        }
        processes += 1;
        if processes > wanted_kills * 4 + 20 {
            fail(seed, format!("no end after {processes} processes"));
        }
    }

    // Every profile: exactly one run, Done once, a valid plan; the report lists them all.
    let stored = runs(dir, seed);
    let listed: BTreeSet<String> = stored
        .iter()
        .map(|run| run["athlete"].as_str().unwrap().to_string())
        .collect();
    if stored.len() as u64 != count || listed != names {
        fail(
            seed,
            format!("{} runs for {} profiles", stored.len(), names.len()),
        );
    }
    let batches: BTreeSet<&str> = stored
        .iter()
        .map(|run| run["batch_id"].as_str().unwrap_or("(none)"))
        .collect();
    if batches.len() != 1 {
        fail(
            seed,
            format!("the runs belong to batches {batches:?}, expected one"),
        );
    }
    for run in &stored {
        let run_id = run["run_id"].as_str().unwrap();
        let shown = command(dir)
            .args(["show", run_id, "--json"])
            .output()
            .unwrap();
        let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
        if shown["state"] != "done" || shown["done_count"] != 1 {
            fail(
                seed,
                format!(
                    "run {run_id}: {} done_count {}",
                    shown["state"], shown["done_count"]
                ),
            );
        }
        let path = shown["output_file"].as_str().unwrap();
        let validated = command(dir).args(["validate", path]).output().unwrap();
        if !validated.status.success() {
            fail(
                seed,
                format!(
                    "run {run_id}: plan {path} is invalid: {}",
                    String::from_utf8_lossy(&validated.stdout)
                ),
            );
        }
    }
    let batch_id = batches.iter().next().unwrap().to_string();
    let report = command(dir)
        .args(["batch-report", &batch_id, "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&report.stdout)
        .unwrap_or_else(|err| fail(seed, format!("batch-report --json: {err}")));
    let rows = report["rows"].as_array().unwrap();
    let all_done = rows.iter().all(|row| {
        row["state"] == "done"
            && row["plan_file"]
                .as_str()
                .is_some_and(|path| Path::new(path).is_file())
    });
    if rows.len() as u64 != count || report["done"] != count || !all_done {
        fail(seed, format!("batch-report: {report}"));
    }
    println!(
        "batch crash: {processes} processes, {kills} kills ({creation_crashes} during creation, after lines {kill_lines:?}), {resubmissions} resubmissions recognised, {count} runs done once in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("1 passed, 0 failed");
}
