//! Store scale: stores of 10, 1,000 and 10,000 finished 12-week runs (one batch each, made by
//! the real engine with replayed coach answers, closed, hence compacted), then
//! - the store's bytes per finished run (plan files excluded), printed for each size;
//! - `periodize list`, `status RUN` and `resume` with nothing to do, as whole processes, at 10
//!   and at 10,000 runs (criterion medians), and the in-process summary read.
//!
//! `PERIODIZE_BENCH_RUNS=N` changes the largest size (default 10,000). With `PERIODIZE_TEST_PG`
//! (`eval "$(scripts/pg/start)"`), the same stores of 10 and of the largest size are also made
//! in PostgreSQL databases and the same commands timed against them (`postgres_cli_list/N`, …).

mod common;
#[path = "../tests/support/pg.rs"]
mod pg;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use criterion::{criterion_group, Criterion};

use periodize::store::{Durability, Location, OpenOptions, Store};
use periodize::workflow::{Batch, BatchItem, BatchRef, RunId};

const BIN: &str = env!("CARGO_BIN_EXE_periodize");
const WEEKS: u32 = 12;

/// A store of `runs` finished runs at `location` (`dir/state`, or a database); returns one of
/// its run ids.
fn build(dir: &Path, location: &Location, runs: usize) -> RunId {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let output = dir.join("output").display().to_string();
    std::fs::create_dir_all(&output).expect("output dir");
    let (store, _) =
        Store::open_at(location, OpenOptions::creating(Durability::Process)).expect("store");
    let engine = common::engine(store);
    let batch_id = 0xbe_u128;
    let specs: Vec<_> = (0..runs)
        .map(|index| {
            let mut spec = common::spec(WEEKS, periodize::engine::new_id(), &output);
            spec.batch = Some(BatchRef {
                batch_id,
                item: index as u32,
            });
            spec
        })
        .collect();
    let batch = Batch {
        id: batch_id,
        name: format!("bench-{runs}"),
        digest: format!("bench-{runs}"),
        created_at_ms: 0,
        items: specs
            .iter()
            .map(|spec| BatchItem {
                run_id: spec.run_id,
                source: "bench".into(),
                content_hash: "bench".into(),
            })
            .collect(),
    };
    let script = common::replay(runs, WEEKS);
    runtime.block_on(async {
        common::submit_and_finish(&engine, Some(&batch), &specs, &script, 64).await;
    });
    let periodize::engine::Engine { store, .. } = engine;
    store.close().expect("close");
    specs[runs / 2].run_id
}

fn periodize(args: &[&str], location: &Location) {
    let mut command = Command::new(BIN);
    match location {
        Location::Dir(state) => command.arg("--state-dir").arg(state),
        Location::Database(url) => command.args(["--store", url]),
    };
    let status = command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run periodize");
    assert!(status.success(), "{args:?}");
}

struct Sized {
    runs: usize,
    location: Location,
    run_id: RunId,
    _dir: tempfile::TempDir,
}

fn sized(runs: usize) -> Sized {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = std::time::Instant::now();
    let state: PathBuf = dir.path().join("state");
    let location = Location::Dir(state.clone());
    let run_id = build(dir.path(), &location, runs);
    let (listed, allocated) = common::dir_bytes(&state);
    println!(
        "store/{runs} runs: built in {:.1} s; {} bytes ({} allocated): {:.0} bytes per finished {WEEKS}-week run ({:.0} allocated)",
        started.elapsed().as_secs_f64(),
        listed,
        allocated,
        listed as f64 / runs as f64,
        allocated as f64 / runs as f64
    );
    Sized {
        runs,
        location,
        run_id,
        _dir: dir,
    }
}

/// The same store in a fresh PostgreSQL database, when a test server is configured.
fn sized_in_database(runs: usize) -> Option<Sized> {
    pg::pg_admin_url()?;
    let url = pg::pg_database(&format!("bench_store_{runs}"))?;
    let dir = tempfile::tempdir().expect("temp dir");
    let started = std::time::Instant::now();
    let location = Location::Database(url);
    let run_id = build(dir.path(), &location, runs);
    println!(
        "store/{runs} runs in PostgreSQL: built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Some(Sized {
        runs,
        location,
        run_id,
        _dir: dir,
    })
}

fn store_scale(c: &mut Criterion) {
    let largest = std::env::var("PERIODIZE_BENCH_RUNS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10_000);
    let small = sized(10);
    let _medium = sized(largest / 10);
    let large = sized(largest);
    let in_database: Vec<Sized> = [10, largest]
        .into_iter()
        .filter_map(sized_in_database)
        .collect();
    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    let stores = [&small, &large]
        .into_iter()
        .map(|store| ("", store))
        .chain(in_database.iter().map(|store| ("postgres_", store)));
    for (prefix, store) in stores {
        let runs = store.runs;
        let id = store.run_id.to_string();
        group.bench_function(format!("{prefix}cli_list/{runs}"), |b| {
            b.iter(|| periodize(&["list"], &store.location))
        });
        group.bench_function(format!("{prefix}cli_status_run/{runs}"), |b| {
            b.iter(|| periodize(&["status", &id], &store.location))
        });
        group.bench_function(format!("{prefix}cli_resume_nothing_to_do/{runs}"), |b| {
            b.iter(|| periodize(&["resume"], &store.location))
        });
        group.bench_function(format!("{prefix}summaries_in_process/{runs}"), |b| {
            b.iter(|| {
                let (opened, _) =
                    Store::open_at(&store.location, OpenOptions::read_only()).expect("open");
                assert_eq!(opened.summaries().expect("summaries").len(), runs);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, store_scale);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
