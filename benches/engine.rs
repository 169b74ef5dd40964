//! Benchmarks of the durable core: commit + flush of one transition, validation of one week,
//! 3c finalize of 12- and 52-week plans, a whole 12-week plan on the built-in coach and over
//! HTTP; and the per-step cost: CPU per step at 12 and 52 weeks (replayed coach answers, so a
//! step is the engine, validation and the store), batch throughput at run concurrency 1, 4,
//! 16 and 64 (plans and commits per second, flushes per plan: group commit), and the cost of
//! `--durability power`.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use periodize::coach;
use periodize::domain::profile::parse_profile;
use periodize::domain::validate::{self, Rules};
use periodize::engine::{self, progress::Observer, Engine};
use periodize::llm::StepId;
use periodize::prompts::PromptSet;
use periodize::providers::{builtin::BuiltinCoach, Provider};
use periodize::store::Store;
use periodize::tools;
use periodize::workflow::{Machine, RunSpec};

use common::PROFILE;

/// The shared bench spec, answered by the built-in coach and keeping its checkpoints.
fn spec(total_weeks: u32, run_id: u128, output_dir: &str) -> RunSpec {
    RunSpec {
        provider: "builtin".into(),
        model: "periodize-coach-1".into(),
        keep_checkpoints: true,
        ..common::spec(total_weeks, run_id, output_dir)
    }
}

/// A machine of the bench spec with every week accepted, in Finalizing.
fn finished_machine(total_weeks: u32, output_dir: &str) -> Machine {
    common::finished_machine(spec(total_weeks, 1, output_dir))
}

fn commit_and_flush(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_simple(dir.path()).expect("store");
    let machine = finished_machine(12, "unused");
    store
        .create_runs(None, std::slice::from_ref(&machine.run().spec), 0)
        .expect("create");
    let dirty: BTreeSet<StepId> = [StepId::Week(3)].into_iter().collect();
    let mut seq = 0;
    c.bench_function("store/commit_flush_one_transition", |b| {
        b.iter(|| {
            seq = store.commit(&machine, &dirty, seq, seq).expect("commit");
            store.flush_blocking().expect("flush");
        })
    });
    c.bench_function("store/commit_only", |b| {
        b.iter(|| {
            seq = store.commit(&machine, &dirty, seq, seq).expect("commit");
        })
    });
}

fn validate_week(c: &mut Criterion) {
    let profile = parse_profile(PROFILE).expect("profile");
    let rules = Rules::default();
    let overview = coach::create_plan_overview(&profile, 12, None, &rules);
    let details = coach::add_week_details(&profile, &overview, 5, None, &rules);
    let arguments = serde_json::to_string(&details).expect("json");
    let entry = overview.week(5).expect("week 5");
    c.bench_function("validate/one_week", |b| {
        b.iter(|| validate::check_week(&details, 5, entry, &profile, None, &rules))
    });
    c.bench_function("validate/parse_and_check_one_week", |b| {
        b.iter(|| {
            let parsed = tools::parse_week(&arguments).expect("valid");
            validate::check_week(&parsed, 5, entry, &profile, None, &rules)
        })
    });
}

fn finalize(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    for total_weeks in [12u32, 52] {
        let machine = finished_machine(total_weeks, &dir.path().display().to_string());
        let run = machine.run();
        let overview = run.overview().expect("overview").clone();
        let weeks: Vec<_> = (1..=total_weeks)
            .map(|week| run.week(week).expect("week").clone())
            .collect();
        c.bench_function(
            &format!("finalize/{total_weeks}_weeks_check_and_render"),
            |b| {
                b.iter(|| {
                    let violations = validate::check_plan(
                        &overview,
                        &weeks,
                        &run.spec.profile,
                        total_weeks,
                        None,
                        &run.spec.rules,
                    );
                    assert!(!validate::has_errors(&violations));
                    periodize::planfile::render(run).expect("the bench plan fits the calendar")
                })
            },
        );
        c.bench_function(&format!("finalize/{total_weeks}_weeks"), |b| {
            b.iter(|| {
                let violations = validate::check_plan(
                    &overview,
                    &weeks,
                    &run.spec.profile,
                    total_weeks,
                    None,
                    &run.spec.rules,
                );
                assert!(!validate::has_errors(&violations));
                let bytes =
                    periodize::planfile::render(run).expect("the bench plan fits the calendar");
                engine::output::write_atomically(dir.path(), "bench_plan.json", &bytes)
                    .expect("write")
            })
        });
    }
}

fn whole_plan(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("output").display().to_string();
    let store = Store::open_simple(&dir.path().join("state")).expect("store");
    let observer: Observer = Arc::new(|_| {});
    let provider = Provider::Builtin(BuiltinCoach { latency_ms: 0 });
    let engine = Engine {
        store,
        prompts: Arc::new(PromptSet::embedded()),
        observer,
        crash: None,
        shutdown: periodize::engine::Shutdown::never(),
        clock: periodize::engine::clock::Clock::system(),
    };
    let mut run_id = 100u128;
    c.bench_function("plan/12_weeks_builtin_in_process", |b| {
        b.iter_batched(
            || {
                run_id += 1;
                spec(12, run_id, &output)
            },
            |spec| {
                let outcome = runtime
                    .block_on(engine.start(spec, provider.clone(), 4))
                    .expect("engine");
                assert!(matches!(outcome, engine::Outcome::Done { .. }));
            },
            BatchSize::SmallInput,
        )
    });
}

/// A 12-week plan against mock-llm over HTTP with 200 ms per request and week concurrency 4.
/// The critical path is the overview plus 3 rounds of 4 weeks: 4 × 200 ms = 0.8 s.
fn plan_over_http(c: &mut Criterion) {
    use periodize::mock_llm::{MockConfig, MockServer};
    use periodize::providers::{http, HttpProvider, Protocol};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mock = runtime
        .block_on(MockServer::start(
            MockConfig {
                latency_ms: 200,
                ..MockConfig::default()
            },
            0,
        ))
        .expect("mock-llm");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("output").display().to_string();
    let store = Store::open_simple(&dir.path().join("state")).expect("store");
    let client = http::client(http::Timeouts::default()).expect("client");
    let provider = Provider::Http(HttpProvider {
        protocol: Protocol::OpenAi,
        client,
        base_url: format!("{}/v1", mock.url()),
        model: "mock".into(),
        key: None,
        mock_brief: true,
        limiter: std::sync::Arc::new(periodize::providers::limiter::Limiter::new(
            Default::default(),
        )),
        price: None,
        context_tokens: None,
    });
    let observer: Observer = Arc::new(|_| {});
    let engine = Engine {
        store,
        prompts: Arc::new(PromptSet::embedded()),
        observer,
        crash: None,
        shutdown: periodize::engine::Shutdown::never(),
        clock: periodize::engine::clock::Clock::system(),
    };
    let mut run_id = 10_000u128;
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.bench_function("12_weeks_http_mock_200ms_concurrency_4", |b| {
        b.iter_batched(
            || {
                run_id += 1;
                spec(12, run_id, &output)
            },
            |spec| {
                let outcome = runtime
                    .block_on(engine.start(spec, provider.clone(), 4))
                    .expect("engine");
                assert!(matches!(outcome, engine::Outcome::Done { .. }));
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// `plans` plans of `weeks` weeks driven at `run_concurrency` on a fresh store; returns the
/// wall time, the CPU time, the transitions committed and the flushes made.
fn batch(
    plans: usize,
    weeks: u32,
    run_concurrency: u32,
    durability: periodize::store::Durability,
) -> (Duration, Duration, u64, u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("output");
    std::fs::create_dir_all(&output).expect("output");
    let (store, _) = Store::open(
        &dir.path().join("state"),
        periodize::store::OpenOptions::creating(durability),
    )
    .expect("store");
    let engine = common::engine(store);
    let script = common::replay(plans, weeks);
    let specs: Vec<RunSpec> = (0..plans)
        .map(|_| common::spec(weeks, engine::new_id(), &output.display().to_string()))
        .collect();
    let flushes_before = engine.store.flush_count();
    let cpu_before = common::cpu_time();
    let started = Instant::now();
    runtime.block_on(async {
        common::submit_and_finish(&engine, None, &specs, &script, run_concurrency).await;
    });
    let wall = started.elapsed();
    let cpu = common::cpu_time() - cpu_before;
    let commits: u64 = specs
        .iter()
        .map(|spec| {
            engine
                .store
                .summary(spec.run_id)
                .expect("summary")
                .expect("run")
                .seq
        })
        .sum();
    (
        wall,
        cpu,
        commits,
        engine.store.flush_count() - flushes_before,
    )
}

/// CPU per committed step, for plans of 12 and 52 weeks: flat in plan length.
fn cpu_per_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("steps");
    group.sample_size(10);
    for weeks in [12u32, 52] {
        let plans = if weeks == 12 { 16 } else { 4 };
        let (user_before, system_before) = common::cpu_split();
        let (_, cpu, commits, _) = batch(plans, weeks, 4, periodize::store::Durability::Process);
        let (user_after, system_after) = common::cpu_split();
        println!(
            "steps/{weeks} weeks: {} transitions per plan, {:.3} ms CPU per transition ({:.3} user, {:.3} system)",
            commits / plans as u64,
            cpu.as_secs_f64() * 1e3 / commits as f64,
            (user_after - user_before).as_secs_f64() * 1e3 / commits as f64,
            (system_after - system_before).as_secs_f64() * 1e3 / commits as f64,
        );
        group.bench_function(format!("cpu_per_step_{weeks}_weeks"), |b| {
            b.iter_custom(|iters| {
                let (_, cpu, commits, _) =
                    batch(plans, weeks, 4, periodize::store::Durability::Process);
                // CPU per step, scaled to the iterations criterion asked for.
                cpu.mul_f64(iters as f64 / commits as f64)
            })
        });
    }
    group.finish();
}

/// Throughput of a batch at run concurrency 1, 4, 16 and 64, and with power durability.
fn batch_throughput(c: &mut Criterion) {
    use periodize::store::Durability;
    const PLANS: usize = 64;
    let mut group = c.benchmark_group("batch");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(PLANS as u64));
    let cases = [
        (1, Durability::Process, "process"),
        (4, Durability::Process, "process"),
        (16, Durability::Process, "process"),
        (64, Durability::Process, "process"),
        (16, Durability::Power, "power"),
    ];
    for (run_concurrency, durability, name) in cases {
        let (wall, _, commits, flushes) = batch(PLANS, 12, run_concurrency, durability);
        println!(
            "batch/{name} run concurrency {run_concurrency}: {:.0} plans/s, {:.0} commits/s, {:.1} flushes per plan ({:.2} commits per flush)",
            PLANS as f64 / wall.as_secs_f64(),
            commits as f64 / wall.as_secs_f64(),
            flushes as f64 / PLANS as f64,
            commits as f64 / flushes.max(1) as f64
        );
        group.bench_function(format!("{name}_run_concurrency_{run_concurrency}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| batch(PLANS, 12, run_concurrency, durability).0)
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = commit_and_flush, validate_week, finalize, whole_plan, plan_over_http, cpu_per_step, batch_throughput
}
criterion_main!(benches);
