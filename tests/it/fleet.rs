//! The PostgreSQL store and its fleet, on a real server (`PERIODIZE_TEST_PG`; each test gets a
//! fresh database): a run made there equals the same run made on sled, enqueued runs are worked
//! by several workers with each run done once, bad URLs and newer schemas are refused by name,
//! the stored plan serves `export` on a machine without the file, the fleet's rate slots space
//! requests across workers, and the lease protocol (claim, renew, expire, steal, fenced commit)
//! against the database matches its model in a property test.

use std::collections::BTreeSet;
use std::process::{Child, Stdio};

use periodize::store::{self, Location, OpenOptions, Store};
use periodize::workflow::{AttemptOutcome, Machine, RunId};
use proptest::prelude::*;
use serde_json::Value;

use crate::support::{fixture, pg_database, stderr, stdout, Sandbox};

/// The plan without what differs between two runs of the same inputs.
fn plan_content(text: &str) -> Value {
    let mut plan: Value = serde_json::from_str(text).expect("plan JSON");
    plan["run"].as_object_mut().expect("run").remove("id");
    if let Some(phases) = plan["run"]["phases"].as_object_mut() {
        for phase in phases.values_mut().filter_map(Value::as_object_mut) {
            phase.remove("wall_ms");
        }
    }
    plan["plan_metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("generated_at");
    plan
}

fn only_plan(sandbox: &Sandbox) -> String {
    let files: Vec<_> = std::fs::read_dir(sandbox.path("output"))
        .expect("output directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(&files[0]).expect("plan file")
}

fn open(url: &str) -> Store {
    Store::open_at(
        &Location::Database(url.to_string()),
        OpenOptions::read_write(store::Durability::Process),
    )
    .expect("open the database store")
    .0
}

#[test]
fn a_run_made_on_postgres_equals_the_same_run_made_on_sled() {
    let Some(url) = pg_database("a_run_made_on_postgres_equals_the_same_run_made_on_sled") else {
        return;
    };
    let profile = fixture("profiles/athlete.json");
    let profile = profile.to_str().unwrap();
    let args = [
        "generate",
        "--profile",
        profile,
        "--weeks",
        "6",
        "--start-date",
        "2026-11-30",
    ];
    let on_sled = Sandbox::new();
    let output = on_sled.run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let on_postgres = Sandbox::new();
    let output = on_postgres
        .command()
        .args(["--store", &url])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        !on_postgres.path("state").exists(),
        "a database store writes no state directory"
    );
    assert_eq!(
        plan_content(&only_plan(&on_postgres)),
        plan_content(&only_plan(&on_sled))
    );
    // `status`, `show` and `doctor` read the database.
    let listed = on_postgres
        .command()
        .args(["--store", &url, "--json", "status"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    let run = &listed[0];
    assert_eq!(run["state"], "done", "{listed}");
    let run_id = run["run_id"].as_str().unwrap();
    let shown = on_postgres
        .command()
        .args(["--store", &url, "--json", "show", run_id])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", stderr(&shown));
    let doctor = on_postgres
        .command()
        .args(["--store", &url, "doctor"])
        .output()
        .unwrap();
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor).contains("0 error(s), 0 warning(s)"),
        "{}",
        stdout(&doctor)
    );
}

/// `periodize --store URL [--json] worker ARGS…`, its stdout and stderr piped, with a test key
/// for the mock's Anthropic protocol.
fn spawn_worker(sandbox: &Sandbox, url: &str, json: bool, args: &[&str]) -> Child {
    let mut command = sandbox.command();
    command.args(["--store", url]);
    if json {
        command.arg("--json");
    }
    command
        .arg("worker")
        .args(args)
        .env("ANTHROPIC_API_KEY", "test-key-not-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a worker")
}

#[test]
fn enqueued_runs_are_worked_by_two_workers_and_each_is_done_once() {
    let Some(url) = pg_database("enqueued_runs_are_worked_by_two_workers_and_each_is_done_once")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let ids = enqueue_riders(&sandbox, &url, 6, "4", &["--latency-ms", "20"]);
    let enqueued: BTreeSet<String> = ids.lines().map(str::to_string).collect();
    assert_eq!(enqueued.len(), 6, "{ids}");
    let written = std::fs::read_dir(sandbox.path("output")).map_or(0, |dir| dir.count());
    assert_eq!(written, 0, "--enqueue only stores the runs");
    let idle = ["--until-idle", "--runs", "2", "--lease-ms", "2000"];
    let workers = [
        spawn_worker(&sandbox, &url, false, &idle),
        spawn_worker(&sandbox, &url, false, &idle),
    ];
    let mut finished = Vec::new();
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        finished.extend(stdout(&output).lines().map(str::to_string));
    }
    // Each run's plan path was printed by exactly one worker.
    assert_eq!(finished.len(), 6, "{finished:?}");
    let unique: BTreeSet<&String> = finished.iter().collect();
    assert_eq!(unique.len(), 6, "{finished:?}");
    let store = open(&url);
    for run_id in &enqueued {
        let run_id = RunId::parse(run_id).unwrap();
        let view = store.load_view(run_id).unwrap().expect("stored");
        assert_eq!(view.run.done_count, 1, "run {run_id} finalized once");
        for step in view.run.steps.values() {
            let accepted = step
                .attempts
                .iter()
                .filter(|a| matches!(a.outcome, AttemptOutcome::Accepted { .. }))
                .count();
            assert_eq!(accepted, 1, "run {run_id} {}: accepted once", step.step);
        }
        let (name, bytes) = store
            .plan_file(run_id)
            .unwrap()
            .expect("the plan is stored");
        let on_disk = std::fs::read(sandbox.path("output").join(&name)).unwrap();
        assert_eq!(bytes, on_disk, "the stored plan is the written file");
    }
    // Every lease was released on exit.
    let leases = store.database().unwrap().leases().unwrap();
    assert!(
        leases
            .iter()
            .all(|lease| lease.owner.is_none() && lease.expires_at_ms == 0),
        "{leases:?}"
    );
}

#[test]
fn a_bad_store_url_is_refused_by_name_and_without_its_password() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["--store", "mysql://fleet:hunter2@db/plans", "list"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("--store") && text.contains("mysql://fleet:***@db/plans"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    // The environment variable is named when it is the source.
    let output = sandbox
        .command()
        .env("PERIODIZE_STORE", "/var/lib/plans")
        .args(["list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("PERIODIZE_STORE"),
        "{}",
        stderr(&output)
    );
    // A server that does not answer is exit 2 too, named, password hidden.
    let output = sandbox.run(&[
        "--store",
        "postgres://fleet:hunter2@127.0.0.1:1/plans",
        "list",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("cannot reach the database postgres://fleet:***@127.0.0.1:1/plans"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn a_database_migrated_by_a_newer_periodize_is_refused_by_name() {
    let Some(url) = pg_database("a_database_migrated_by_a_newer_periodize_is_refused_by_name")
    else {
        return;
    };
    // A reader of a database nobody wrote to sees an empty store and creates nothing.
    let reader = Sandbox::new();
    let listed = reader.run(&["--store", &url, "--json", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&listed)).unwrap(),
        Value::Array(vec![])
    );
    let (read, _) =
        Store::open_at(&Location::Database(url.clone()), OpenOptions::read_only()).unwrap();
    assert!(
        read.database().is_none(),
        "no table was created by the reader"
    );
    drop(read);
    let store = open(&url);
    let applied = store.database().unwrap().migrations().unwrap();
    let known: Vec<i64> = store::postgres::schema::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied.iter().map(|(v, _)| *v).collect::<Vec<_>>(), known);
    assert!(store.database().unwrap().has_schema().unwrap());
    drop(store);
    // A second open applies nothing again.
    drop(open(&url));
    let admin = url.clone();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client
            .execute(
                "INSERT INTO periodize_schema (version, name, applied_at_ms) VALUES (99, 'runs sharded by region', 0)",
                &[],
            )
            .unwrap();
    })
    .join()
    .unwrap();
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["--store", &url, "list"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("schema version 99")
            && text.contains("runs sharded by region")
            && text.contains("upgrade periodize"),
        "{text}"
    );
}

#[test]
fn export_serves_the_stored_plan_where_the_file_is_not() {
    let Some(url) = pg_database("export_serves_the_stored_plan_where_the_file_is_not") else {
        return;
    };
    let made_here = Sandbox::new();
    let profile = fixture("profiles/athlete.json");
    let output = made_here
        .command()
        .args([
            "--store",
            &url,
            "generate",
            "--profile",
            profile.to_str().unwrap(),
        ])
        .args(["--weeks", "4", "--start-date", "2026-11-30"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let plan_file = made_here.path("output").join(
        std::fs::read_dir(made_here.path("output"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name(),
    );
    let here = made_here.run(&[
        "export",
        plan_file.to_str().unwrap(),
        "--format",
        "ics",
        "--out",
        "here",
    ]);
    assert!(here.status.success(), "{}", stderr(&here));
    let listed = made_here
        .command()
        .args(["--store", &url, "--json", "list"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    let run_id = listed[0]["run_id"].as_str().unwrap().to_string();
    // Another machine: no output directory, only the database.
    std::fs::remove_dir_all(made_here.path("output")).unwrap();
    let elsewhere = Sandbox::new();
    let output = elsewhere
        .command()
        .args([
            "--store",
            &url,
            "export",
            &run_id[..8],
            "--format",
            "ics",
            "--out",
            "there",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let read = |dir: std::path::PathBuf| {
        let mut files: Vec<(std::ffi::OsString, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                (entry.file_name(), std::fs::read(entry.path()).unwrap())
            })
            .collect();
        files.sort();
        files
    };
    let there = read(elsewhere.path("there"));
    assert_eq!(there.len(), 1);
    assert_eq!(
        there,
        read(made_here.path("here")),
        "the stored plan is the file's"
    );
}

#[test]
fn the_fleet_rate_slots_space_requests_across_workers() {
    let Some(url) = pg_database("the_fleet_rate_slots_space_requests_across_workers") else {
        return;
    };
    let (first, second) = (open(&url), open(&url));
    let pacers = [first.fleet_pacer().unwrap(), second.fleet_pacer().unwrap()];
    let started = std::time::Instant::now();
    let interval_ms = 200;
    let mut waits = Vec::new();
    for turn in 0..10 {
        waits.push(pacers[turn % 2].reserve("endpoint", interval_ms).unwrap());
    }
    let elapsed_ms = started.elapsed().as_millis() as u64;
    // The k-th reservation, whichever worker made it, waits for the k-th slot: k intervals
    // after the first, less the time the reservations themselves took.
    for (k, wait) in waits.iter().enumerate() {
        let slot = k as u64 * interval_ms;
        assert!(
            *wait <= slot && *wait + elapsed_ms + 5 >= slot,
            "reservation {k} waits {wait} ms for slot {slot} (reserving took {elapsed_ms} ms): {waits:?}"
        );
    }
    // Another endpoint has its own slots.
    assert!(pacers[0].reserve("another", interval_ms).unwrap() <= 5);
}

/// The lease protocol as the workers use it, one operation at a time.
#[derive(Debug, Clone)]
enum Op {
    Acquire(usize),
    Claim(usize),
    Renew(usize),
    Commit(usize),
    Release(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Acquire),
        (0..3usize).prop_map(Op::Claim),
        (0..3usize).prop_map(Op::Renew),
        (0..3usize).prop_map(Op::Commit),
        (0..3usize).prop_map(Op::Commit),
        (0..3usize).prop_map(Op::Release),
        (0..1_500u64).prop_map(Op::Advance),
    ]
}

/// The model: who holds the lease with which token until when, and what each worker thinks
/// it holds.
#[derive(Debug, Default)]
struct Model {
    token: u64,
    holder: Option<(usize, u64)>,
    expires_ms: u64,
    seq: u64,
    /// Per worker: the token it holds, and the sequence it last read or committed.
    held: [Option<(u64, u64)>; 3],
}

const LEASE_MS: u64 = 1_000;

#[test]
fn the_lease_protocol_matches_its_model_against_the_database() {
    let Some(url) = pg_database("the_lease_protocol_matches_its_model_against_the_database") else {
        return;
    };
    let workers: Vec<Store> = (0..3).map(|_| open(&url).with_lease_ms(LEASE_MS)).collect();
    let next_run = std::sync::atomic::AtomicU64::new(1);
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            let run_id = RunId(u128::from(
                next_run.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ));
            lease_case(&url, &workers, run_id, &ops);
            Ok(())
        })
        .unwrap();
}

fn lease_case(url: &str, workers: &[Store], run_id: RunId, ops: &[Op]) {
    let spec = crate::store::spec(run_id.0);
    workers[0]
        .create_runs(None, std::slice::from_ref(&spec), 5)
        .unwrap();
    let mut machines: Vec<Option<Machine>> = vec![None, None, None];
    let mut model = Model::default();
    let mut now_ms = 1_000_000u64;
    for op in ops {
        match *op {
            Op::Acquire(w) | Op::Claim(w) => {
                let got = match op {
                    Op::Acquire(_) => workers[w].acquire(&[run_id], now_ms).unwrap(),
                    _ => workers[w]
                        .claim(10, now_ms)
                        .unwrap()
                        .into_iter()
                        .filter(|id| *id == run_id)
                        .collect(),
                };
                let free = model.holder.is_none() || model.expires_ms <= now_ms;
                assert_eq!(got == [run_id], free, "{op:?} at {now_ms}: {model:?}");
                if free {
                    model.token += 1;
                    model.holder = Some((w, model.token));
                    model.expires_ms = now_ms + LEASE_MS;
                    let (machine, seq) = workers[w].load(run_id).unwrap().unwrap();
                    assert_eq!(seq, model.seq, "a new holder reads the last commit");
                    machines[w] = Some(machine);
                    model.held[w] = Some((model.token, seq));
                }
            }
            Op::Renew(w) => {
                let lost = workers[w].renew(now_ms).unwrap();
                let holds =
                    model.held[w].is_some_and(|(token, _)| model.holder == Some((w, token)));
                assert_eq!(
                    lost.contains(&run_id),
                    model.held[w].is_some() && !holds,
                    "{op:?}: {model:?}"
                );
                if holds {
                    model.expires_ms = now_ms + LEASE_MS;
                }
            }
            Op::Release(w) => {
                workers[w].release(run_id).unwrap();
                if let Some((token, _)) = model.held[w].take() {
                    if model.holder == Some((w, token)) {
                        model.holder = None;
                        model.expires_ms = 0;
                    }
                }
                machines[w] = None;
            }
            Op::Commit(w) => {
                let Some(machine) = &machines[w] else {
                    continue;
                };
                let (token, seq) = model.held[w].expect("a worker with a machine holds a token");
                let result = workers[w].commit(machine, &Default::default(), seq, now_ms);
                // Only the current token commits, expired or not: nobody else can have
                // committed while it is current.
                if model.holder == Some((w, token)) {
                    assert_eq!(result.unwrap(), seq + 1, "{op:?}: {model:?}");
                    model.seq += 1;
                    model.held[w] = Some((token, seq + 1));
                } else {
                    let err = result.expect_err("a stale token is fenced");
                    assert!(matches!(err, store::Error::Fenced { .. }), "{err}");
                    assert!(err.to_string().contains("taken over"), "{err}");
                    model.held[w] = None;
                    machines[w] = None;
                }
            }
            Op::Advance(ms) => now_ms += ms,
        }
    }
    // The stored sequence is the model's: no refused commit wrote anything.
    assert_eq!(workers[0].summary(run_id).unwrap().unwrap().seq, model.seq);
    for worker in workers {
        worker.release(run_id).unwrap();
    }
    // Out of the next cases' claims.
    let (url, id) = (url.to_string(), run_id.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .execute(
                "UPDATE leases SET claimable = false WHERE run_id = $1",
                &[&id],
            )
            .unwrap();
    })
    .join()
    .unwrap();
}

/// `periodize mock-llm` as a process of its own, stopped when dropped.
struct MockProcess {
    child: Child,
    url: String,
}

impl MockProcess {
    fn start(sandbox: &Sandbox, flags: &[&str]) -> MockProcess {
        use std::io::BufRead;
        let mut child = sandbox
            .command()
            .args(["mock-llm", "--port", "0"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mock-llm");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_string();
        MockProcess { child, url }
    }

    fn stats(&self) -> Value {
        let authority = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(authority).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /__mock/stats HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let body = &raw[raw.find("\r\n\r\n").unwrap() + 4..];
        serde_json::from_str(body).expect("plain JSON stats")
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `riders/` with `riders` copies of the fixture profile, named apart.
fn write_riders(sandbox: &Sandbox, riders: usize) {
    let profile = std::fs::read_to_string(fixture("profiles/athlete.json")).unwrap();
    std::fs::create_dir_all(sandbox.path("riders")).unwrap();
    for rider in 0..riders {
        let mut value: Value = serde_json::from_str(&profile).unwrap();
        value["name"] = Value::String(format!("Rider {rider}"));
        sandbox.write(&format!("riders/{rider}.json"), &value.to_string());
    }
}

/// Stores `riders` copies of the fixture profile (named apart) for the workers; returns the
/// run ids `--enqueue` printed.
fn enqueue_riders(
    sandbox: &Sandbox,
    url: &str,
    riders: usize,
    weeks: &str,
    provider: &[&str],
) -> String {
    write_riders(sandbox, riders);
    let output = sandbox
        .command()
        .args([
            "--store",
            url,
            "batch",
            "riders",
            "--enqueue",
            "--weeks",
            weeks,
        ])
        .args(["--start-date", "2026-11-30"])
        .args(provider)
        .env("ANTHROPIC_API_KEY", "test-key-not-secret")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

/// SIGTERM: no new claims, the requests in flight finish and are committed, and every lease is
/// released, so another worker continues at once instead of waiting for the lease to expire.
#[test]
fn a_worker_stopped_by_sigterm_releases_its_leases() {
    use std::io::BufRead;
    let Some(url) = pg_database("a_worker_stopped_by_sigterm_releases_its_leases") else {
        return;
    };
    let sandbox = Sandbox::new();
    let mock = MockProcess::start(&sandbox, &["--latency-ms", "300"]);
    enqueue_riders(
        &sandbox,
        &url,
        3,
        "6",
        &["--provider", "anthropic", "--base-url", &mock.url],
    );
    let mut worker = spawn_worker(&sandbox, &url, true, &["--runs", "2"]);
    let mut lines = std::io::BufReader::new(worker.stdout.take().unwrap()).lines();
    // The first durable step: the worker holds runs and has requests in flight.
    for line in lines.by_ref() {
        if line.unwrap().contains("overview_created") {
            break;
        }
    }
    // SAFETY: kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(worker.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let status = worker.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    let store = open(&url);
    let leases = store.database().unwrap().leases().unwrap();
    assert_eq!(leases.len(), 3);
    assert!(
        leases
            .iter()
            .all(|lease| lease.owner.is_none() && lease.expires_at_ms == 0),
        "{leases:?}"
    );
    // Two runs were claimed (tokens raised), the third never was: no new claim after SIGTERM.
    let claimed = leases.iter().filter(|lease| lease.token > 0).count();
    assert_eq!(claimed, 2, "{leases:?}");
    let summaries = store.summaries().unwrap();
    assert!(summaries
        .iter()
        .all(|s| !matches!(s.state, periodize::workflow::State::Done {})));
}

/// With a shared store, `--max-rpm` is the fleet's: two workers at `--max-rpm 300` together
/// send at most 5 requests a second, which a server allowing 7 a second never refuses; two
/// workers pacing alone (10 a second) would be refused.
#[test]
fn two_workers_share_one_request_rate() {
    let Some(url) = pg_database("two_workers_share_one_request_rate") else {
        return;
    };
    let sandbox = Sandbox::new();
    let mock = MockProcess::start(
        &sandbox,
        &["--rate-limit", "7/1000", "--retry-after-s", "1"],
    );
    enqueue_riders(
        &sandbox,
        &url,
        4,
        "3",
        &["--provider", "anthropic", "--base-url", &mock.url],
    );
    let paced = ["--until-idle", "--runs", "2", "--max-rpm", "300"];
    let workers: Vec<Child> = (0..2)
        .map(|_| spawn_worker(&sandbox, &url, false, &paced))
        .collect();
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let stats = mock.stats();
    let log = stats["log"].as_array().unwrap();
    let refused = log.iter().filter(|entry| entry["status"] == 429).count();
    assert_eq!(log.len(), 16, "4 runs of 1 overview and 3 weeks: {stats}");
    assert_eq!(
        refused, 0,
        "the fleet stayed under the server's limit: {stats}"
    );
}

/// `doctor --store` names a lease a dead worker left (its run waits for a takeover) as a
/// warning, and a run without a lease row as an error.
#[test]
fn doctor_names_a_dead_workers_lease_and_a_run_no_worker_can_claim() {
    let Some(url) = pg_database("doctor_names_a_dead_workers_lease_and_a_run_no_worker_can_claim")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let ids = enqueue_riders(&sandbox, &url, 2, "3", &[]);
    let ids: Vec<RunId> = ids.lines().map(|id| RunId::parse(id).unwrap()).collect();
    {
        // A worker that took the first run a minute ago and died: its 30 s lease ran out.
        let dead = open(&url);
        let a_minute_ago = periodize::engine::now_ms() - 60_000;
        assert_eq!(dead.acquire(&ids[..1], a_minute_ago).unwrap(), ids[..1]);
    }
    let (url_for_thread, second) = (url.clone(), ids[1].to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url_for_thread, postgres::NoTls).unwrap();
        client
            .execute("DELETE FROM leases WHERE run_id = $1", &[&second])
            .unwrap();
    })
    .join()
    .unwrap();
    let output = sandbox.run(&["--store", &url, "doctor"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("warning: run {} key leases: lease of", ids[0]))
            && text.contains("expired"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "error: run {} key leases: has no lease row",
            ids[1]
        )),
        "{text}"
    );
    assert!(text.contains("1 error(s), 1 warning(s)"), "{text}");
}

/// `batch` without `--enqueue` works on its own runs beside a worker: each run is driven by
/// one of them, and the batch reports every run, the ones the worker finished too.
#[test]
fn a_batch_and_a_worker_share_the_batchs_runs() {
    use std::io::BufRead;
    let Some(url) = pg_database("a_batch_and_a_worker_share_the_batchs_runs") else {
        return;
    };
    let sandbox = Sandbox::new();
    let mock = MockProcess::start(&sandbox, &["--latency-ms", "200"]);
    write_riders(&sandbox, 6);
    let mut worker = spawn_worker(&sandbox, &url, true, &["--runs", "3"]);
    // The worker is claiming (its store is open) before the batch stores anything.
    let mut said = std::io::BufReader::new(worker.stderr.take().unwrap()).lines();
    assert!(said.next().unwrap().unwrap().contains("worker started"));
    let batch = sandbox
        .command()
        .args([
            "--store",
            &url,
            "--json",
            "batch",
            "riders",
            "--weeks",
            "3",
            "--run-concurrency",
            "1",
        ])
        .args([
            "--start-date",
            "2026-11-30",
            "--provider",
            "anthropic",
            "--base-url",
            &mock.url,
        ])
        .env("ANTHROPIC_API_KEY", "test-key-not-secret")
        .output()
        .unwrap();
    assert!(batch.status.success(), "{}", stderr(&batch));
    // SAFETY: kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(worker.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let worked: Vec<Value> = std::io::BufReader::new(worker.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect();
    worker.wait().unwrap();
    let finished_by = |events: &[Value]| -> BTreeSet<String> {
        events
            .iter()
            .filter(|event| event["event"] == "plan_finalized")
            .map(|event| event["run_id"].as_str().unwrap().to_string())
            .collect()
    };
    let batch_events: Vec<Value> = stdout(&batch)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let by_batch = finished_by(&batch_events);
    let by_worker = finished_by(&worked);
    // The batch drives one run at a time: the worker, polling, takes some of the others.
    assert!(
        !by_worker.is_empty() && !by_batch.is_empty(),
        "{by_batch:?} {by_worker:?}"
    );
    assert!(
        by_batch.is_disjoint(&by_worker),
        "{by_batch:?} {by_worker:?}"
    );
    assert_eq!(
        by_batch.len() + by_worker.len(),
        6,
        "{by_batch:?} {by_worker:?}"
    );
    // The batch's own report names all six runs done, wherever they were driven.
    let reported: BTreeSet<String> = batch_events
        .iter()
        .filter(|event| event["event"] == "finished" && event["state"] == "done")
        .map(|event| event["run_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reported.len(), 6, "{}", stdout(&batch));
}

/// Workers started at once on a new database migrate it once between them: none fails on
/// the other's half-made schema.
#[test]
fn workers_starting_at_once_on_a_new_database_migrate_it_once() {
    let Some(url) = pg_database("workers_starting_at_once_on_a_new_database_migrate_it_once")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let workers: Vec<Child> = (0..6)
        .map(|_| spawn_worker(&sandbox, &url, false, &["--until-idle"]))
        .collect();
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let store = open(&url);
    let applied = store.database().unwrap().migrations().unwrap();
    assert_eq!(
        applied.len(),
        store::postgres::schema::MIGRATIONS.len(),
        "{applied:?}"
    );
}
