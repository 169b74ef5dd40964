//! Store scale: stores of 10, 1,000 and 10,000 finished 12-week runs (one batch each, made by
//! the real engine with replayed coach answers, closed, hence compacted), then
//! - the store's bytes per finished run (plan files excluded), printed for each size;
//! - `periodize list`, `status RUN` and `resume` with nothing to do, as whole processes, at 10
//!   and at 10,000 runs (criterion medians), and the in-process summary read.
//!
//! `PERIODIZE_BENCH_RUNS=N` changes the largest size (default 10,000).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use criterion::{criterion_group, Criterion};

use periodize::store::{OpenOptions, Store};
use periodize::workflow::{Batch, BatchItem, BatchRef, RunId};

const BIN: &str = env!("CARGO_BIN_EXE_periodize");
const WEEKS: u32 = 12;

/// A store of `runs` finished runs in `dir/state`; returns one of its run ids.
fn build(dir: &Path, runs: usize) -> RunId {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let output = dir.join("output").display().to_string();
    std::fs::create_dir_all(&output).expect("output dir");
    let store = Store::open_simple(&dir.join("state")).expect("store");
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

fn periodize(args: &[&str], state: &Path) {
    let status = Command::new(BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run periodize");
    assert!(status.success(), "{args:?}");
}

struct Sized {
    runs: usize,
    state: PathBuf,
    run_id: RunId,
    _dir: tempfile::TempDir,
}

fn sized(runs: usize) -> Sized {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = std::time::Instant::now();
    let run_id = build(dir.path(), runs);
    let state = dir.path().join("state");
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
        state,
        run_id,
        _dir: dir,
    }
}

fn store_scale(c: &mut Criterion) {
    let largest = std::env::var("PERIODIZE_BENCH_RUNS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10_000);
    let small = sized(10);
    let _medium = sized(largest / 10);
    let large = sized(largest);
    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    for store in [&small, &large] {
        let runs = store.runs;
        let id = store.run_id.to_string();
        group.bench_function(format!("cli_list/{runs}"), |b| {
            b.iter(|| periodize(&["list"], &store.state))
        });
        group.bench_function(format!("cli_status_run/{runs}"), |b| {
            b.iter(|| periodize(&["status", &id], &store.state))
        });
        group.bench_function(format!("cli_resume_nothing_to_do/{runs}"), |b| {
            b.iter(|| periodize(&["resume"], &store.state))
        });
        group.bench_function(format!("summaries_in_process/{runs}"), |b| {
            b.iter(|| {
                let (opened, _) =
                    Store::open(&store.state, OpenOptions::read_only()).expect("open");
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
