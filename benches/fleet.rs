//! Fleet throughput: commits and plans per second of 1, 2 and 4 `periodize worker` processes
//! sharing one PostgreSQL database, every model request answered by `periodize mock-llm` after
//! 200 ms. The acceptance target: 4 workers reach at least 3× the throughput of one, because
//! the model's latency is the bottleneck, not the store.
//!
//! Each iteration: a fresh database, 16 four-week runs enqueued (`batch --enqueue`, not timed),
//! then W workers (`worker --until-idle --runs 1 --week-concurrency 4`) started at once; the
//! time from their start until the last plan is done (the database polled every 10 ms) is the
//! iteration's: the fleet's throughput. The work is the same 16
//! runs for every W, so the 4-vs-1 ratio compares like with like; 16 also divides evenly among
//! 1, 2 and 4 workers. A run is two model round trips deep (the overview, then its four weeks at
//! once, so two weeks would take as long), about 0.42 s, so one worker takes about 7 s an
//! iteration and the whole bench, at criterion's minimum of 10 samples plus one warm-up
//! iteration per W, about 2.5 minutes; more runs would dilute the fixed costs below but not fit
//! in 3 minutes. Criterion warns that it cannot complete 10 samples in the measurement time:
//! one iteration a sample is the point, a longer target only makes the bench slower.
//!
//! Commits are the `seq` the workers added to the runs (each transition raises its run's `seq`
//! by one), plans the runs done; criterion's throughput is plans per second. After the
//! measurements, the medians, commits and plans per second and the 4-vs-1 ratio are printed
//! twice: until the last plan was done (criterion's time), and until the last worker exited.
//! They differ by the end of `--until-idle`: a worker that
//! finds nothing to claim while another's run is still open looks again only after
//! `IDLE_POLL_MS` (500 ms), a fixed cost of the exit, not of the fleet's throughput, and about
//! a quarter of the 4-worker iteration.
//!
//! Needs PostgreSQL: `eval "$(scripts/pg/start)"`, then
//! `cargo bench --bench fleet -- --warm-up-time 1`, then `scripts/pg/stop`. Without
//! `PERIODIZE_TEST_PG` it says so and measures nothing.

#[path = "../tests/support/pg.rs"]
mod pg;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_periodize");
const WORKERS: [usize; 3] = [1, 2, 4];
/// Runs per iteration, the same for every worker count.
const RUNS: u64 = 16;
const WEEKS: u32 = 4;
const LATENCY_MS: u64 = 200;
const START_DATE: &str = "2026-11-30";

/// A running `periodize mock-llm`, stopped when dropped.
struct Mock {
    child: Child,
    url: String,
}

impl Mock {
    fn start() -> Mock {
        let mut child = Command::new(BIN)
            .args(["mock-llm", "--port", "0", "--latency-ms"])
            .arg(LATENCY_MS.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn periodize mock-llm");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the mock's address");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "mock-llm printed {line:?}"
        );
        Mock { child, url }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `RUNS` copies of the fixture athlete, named apart: a batch refuses two identical profiles.
fn write_profiles(dir: &Path) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profiles/athlete.json");
    let text = std::fs::read_to_string(&fixture).expect("the fixture profile");
    for rider in 0..RUNS {
        let mut profile: Value = serde_json::from_str(&text).expect("profile JSON");
        profile["name"] = Value::String(format!("Fleet Rider {rider}"));
        std::fs::write(
            dir.join(format!("rider_{rider:02}.json")),
            profile.to_string(),
        )
        .expect("write a profile");
    }
}

/// `periodize` in `dir`, with the brief the mock answers from.
fn periodize(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(dir).env("PERIODIZE_MOCK_BRIEF", "1");
    command
}

/// The commits so far (the sum of the runs' `seq`) and the runs done.
fn counts(client: &mut postgres::Client) -> (u64, u64) {
    let row = client
        .query_one(
            "SELECT CAST(COALESCE(sum(seq), 0) AS INT8),
                    count(*) FILTER (WHERE state = 'done')
             FROM runs",
            &[],
        )
        .expect("count the commits");
    let commits: i64 = row.get(0);
    let done: i64 = row.get(1);
    (commits as u64, done as u64)
}

/// What one measured iteration did.
struct Iteration {
    /// From the workers' start until the last one exited.
    elapsed: Duration,
    /// From the workers' start until the last run was done.
    last_plan: Duration,
    commits: u64,
    plans: u64,
}

/// Which time of an iteration a figure is over.
type Timing = fn(&Iteration) -> Duration;

/// One iteration with `workers` workers: a fresh database, `RUNS` runs enqueued, the workers'
/// time until the last exits.
fn iteration(workers: usize, admin: &str, profiles: &Path, mock: &Mock) -> Iteration {
    let url = pg::pg_database(&format!("bench_fleet_{workers}")).expect("PERIODIZE_TEST_PG is set");
    let dir = tempfile::tempdir().expect("temp dir");
    let enqueued = periodize(dir.path())
        .args(["--store", &url, "batch"])
        .arg(profiles)
        .args([
            "--enqueue",
            "--weeks",
            &WEEKS.to_string(),
            "--start-date",
            START_DATE,
        ])
        .args(["--provider", "anthropic", "--base-url", &mock.url])
        .arg("--output-dir")
        .arg(dir.path().join("output"))
        .output()
        .expect("run periodize batch --enqueue");
    assert!(
        enqueued.status.success(),
        "batch --enqueue: {}",
        String::from_utf8_lossy(&enqueued.stderr)
    );
    let ids = String::from_utf8_lossy(&enqueued.stdout).lines().count() as u64;
    assert_eq!(ids, RUNS, "batch --enqueue printed {ids} run ids");
    // A sync client: the bench has no tokio runtime it could panic inside.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let (enqueue_commits, _) = counts(&mut client);

    let started = Instant::now();
    // A thread per worker notes when it exited, while this one watches for the last plan.
    let waiters: Vec<_> = (0..workers)
        .map(|worker| {
            let log = File::create(dir.path().join(format!("worker_{worker}.log"))).expect("log");
            let mut child = periodize(dir.path())
                .args(["--store", &url, "worker", "--until-idle"])
                .args(["--runs", "1", "--week-concurrency", "4"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn periodize worker");
            std::thread::spawn(move || {
                let status = child.wait().expect("wait for a worker");
                (status, Instant::now())
            })
        })
        .collect();
    // A worker left without a claimable run polls for the end every 500 ms (IDLE_POLL_MS)
    // before it exits: the last plan's commit is when the work ended, seen here within 10 ms.
    let mut last_plan = None;
    while last_plan.is_none() && !waiters.iter().all(|waiter| waiter.is_finished()) {
        if counts(&mut client).1 == RUNS {
            last_plan = Some(started.elapsed());
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let mut exited = started;
    for (worker, waiter) in waiters.into_iter().enumerate() {
        let (status, at) = waiter.join().expect("a waiting thread");
        exited = exited.max(at);
        let log = dir.path().join(format!("worker_{worker}.log"));
        assert!(
            status.success(),
            "worker {worker} of {workers}: {status}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
    let elapsed = exited - started;

    let (commits, plans) = counts(&mut client);
    // Failed runs would make a fleet look fast: every run must be done.
    assert_eq!(
        plans, RUNS,
        "{plans} of {RUNS} runs done with {workers} workers"
    );
    let database: String = client
        .query_one("SELECT current_database()", &[])
        .expect("the database's name")
        .get(0);
    drop(client);
    // Some 30 databases a bench: dropped, so a long-lived server does not keep them.
    let mut admin = postgres::Client::connect(admin, postgres::NoTls).expect("connect as admin");
    admin
        .batch_execute(&format!("DROP DATABASE \"{database}\" WITH (FORCE)"))
        .expect("drop the bench database");
    Iteration {
        elapsed,
        last_plan: last_plan.unwrap_or(elapsed),
        commits: commits - enqueue_commits,
        plans,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// Median seconds per iteration, commits per second and plans per second, each iteration
/// timed by `time` (until the last exit, or until the last plan).
fn summary(iterations: &[Iteration], time: Timing) -> (f64, f64, f64) {
    let over = |rate: &dyn Fn(&Iteration) -> f64| median(iterations.iter().map(rate).collect());
    (
        over(&|it| time(it).as_secs_f64()),
        over(&|it| it.commits as f64 / time(it).as_secs_f64()),
        over(&|it| it.plans as f64 / time(it).as_secs_f64()),
    )
}

fn fleet(c: &mut Criterion, admin: &str) {
    let mock = Mock::start();
    let profiles = tempfile::tempdir().expect("temp dir");
    write_profiles(profiles.path());
    let mut group = c.benchmark_group("fleet");
    // One iteration a sample: an iteration is seconds long, and each starts from scratch.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(RUNS));
    let mut measured: Vec<(usize, Vec<Iteration>)> = Vec::new();
    for workers in WORKERS {
        let mut iterations = Vec::new();
        group.bench_with_input(
            BenchmarkId::new("workers", workers),
            &workers,
            |b, &workers| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let done = iteration(workers, admin, profiles.path(), &mock);
                        total += done.last_plan;
                        iterations.push(done);
                    }
                    total
                })
            },
        );
        if !iterations.is_empty() {
            measured.push((workers, iterations));
        }
    }
    group.finish();

    // Over every iteration, the warm-up's included: each is a fresh database and the same work.
    let timings: [(&str, Timing); 2] = [
        ("until the last worker exited", |it| it.elapsed),
        ("until the last plan was done", |it| it.last_plan),
    ];
    for (workers, iterations) in &measured {
        eprintln!(
            "fleet/{workers} workers, {RUNS} plans of {WEEKS} weeks, {} iterations:",
            iterations.len()
        );
        for (what, time) in timings {
            let (seconds, commits, plans) = summary(iterations, time);
            eprintln!(
                "  {what}: median {seconds:.2} s, {commits:.1} commits/s, {plans:.2} plans/s"
            );
        }
    }
    let seconds = |wanted: usize, time: Timing| {
        measured
            .iter()
            .find(|(workers, _)| *workers == wanted)
            .map(|(_, iterations)| summary(iterations, time).0)
    };
    for (what, time) in timings {
        if let (Some(one), Some(four)) = (seconds(1, time), seconds(4, time)) {
            let ratio = one / four;
            eprintln!(
                "fleet: 4 workers / 1 worker = {ratio:.2}x the plans/s {what} (target >= 3x: {})",
                if ratio >= 3.0 { "met" } else { "NOT met" }
            );
        }
    }
}

fn main() {
    let Some(admin) = pg::pg_admin_url() else {
        eprintln!(
            "benches/fleet: needs PostgreSQL and {} is unset; start a throwaway server with \
             eval \"$(scripts/pg/start)\" (scripts/pg/stop stops it). Nothing measured.",
            pg::ADMIN_URL_ENV
        );
        return;
    };
    let mut criterion = Criterion::default().configure_from_args();
    fleet(&mut criterion, &admin);
    criterion.final_summary();
}
