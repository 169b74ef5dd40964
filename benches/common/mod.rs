//! What the benchmarks share: a bench profile and run spec, a provider that replays the
//! built-in coach's answers computed once (so a step costs the engine, validation and store,
//! not the coach), an engine, and the process's CPU time.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use periodize::coach;
use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::engine::batch::{Drive, DriveKind};
use periodize::engine::clock::Clock;
use periodize::engine::progress::Observer;
use periodize::engine::{Engine, Outcome, Shutdown};
use periodize::llm::{ModelOutcome, ModelReply, StepId, ToolCall, Usage};
use periodize::prompts::PromptSet;
use periodize::providers::scripted::Scripted;
use periodize::providers::Provider;
use periodize::store::Store;
use periodize::tools;
use periodize::workflow::{Batch, Event, Machine, RetryPolicy, RunId, RunSpec};

pub const PROFILE: &str = r#"{"name":"Bench","ftp_w":260,"weekly_hours":9,"available_days":["Tuesday","Wednesday","Thursday","Saturday","Sunday"]}"#;

pub fn spec(total_weeks: u32, run_id: u128, output_dir: &str) -> RunSpec {
    RunSpec {
        run_id: RunId(run_id),
        batch: None,
        profile: parse_profile(PROFILE).expect("valid profile"),
        total_weeks,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date"),
        provider: "scripted".into(),
        model: "script".into(),
        base_url: String::new(),
        prompt_hash: PromptSet::embedded().hash(),
        rules: Rules::default(),
        retry: RetryPolicy::default(),
        output_dir: output_dir.into(),
        keep_checkpoints: false,
        created_at_ms: 0,
        budget: Default::default(),
        exports: Vec::new(),
    }
}

/// A provider answering `runs` runs of `total_weeks` weeks with the coach's answers, computed
/// once here.
pub fn replay(runs: usize, total_weeks: u32) -> Scripted {
    let profile = parse_profile(PROFILE).expect("valid profile");
    let rules = Rules::default();
    let overview = coach::create_plan_overview(&profile, total_weeks, None, &rules);
    let call = |name: &str, arguments: String| {
        ModelOutcome::Call(ToolCall {
            id: "replay".into(),
            name: name.into(),
            arguments,
            signature: None,
        })
    };
    let script = Scripted::default();
    let overview_call = call(
        tools::CREATE_PLAN_OVERVIEW,
        serde_json::to_string(&overview).expect("json"),
    );
    script.script_step(StepId::Overview, vec![overview_call; runs]);
    for week in 1..=total_weeks {
        let details = coach::add_week_details(&profile, &overview, week, None, &rules);
        let week_call = call(
            tools::ADD_WEEK_DETAILS,
            serde_json::to_string(&details).expect("json"),
        );
        script.script_step(StepId::Week(week), vec![week_call; runs]);
    }
    script
}

pub fn engine(store: Store) -> Engine {
    let observer: Observer = Arc::new(|_| {});
    Engine {
        store,
        prompts: Arc::new(PromptSet::embedded()),
        observer,
        crash: None,
        shutdown: Shutdown::never(),
        clock: Clock::system(),
    }
}

/// Stores `specs` (in `batch`, if any), then drives every run to Done on `script`.
pub async fn submit_and_finish(
    engine: &Engine,
    batch: Option<&Batch>,
    specs: &[RunSpec],
    script: &Scripted,
    run_concurrency: u32,
) {
    engine.submit(batch, specs).await.expect("submit");
    let drives = specs
        .iter()
        .map(|spec| Drive {
            run_id: spec.run_id,
            provider: Provider::Scripted(script.clone()),
            kind: DriveKind::Continue,
        })
        .collect();
    for outcome in engine
        .run_all(drives, run_concurrency, WEEK_CONCURRENCY)
        .await
    {
        assert!(
            matches!(outcome.result, Ok(Outcome::Done { .. })),
            "{outcome:?}"
        );
    }
}

/// Week requests in flight per run in the benchmarks that drive whole plans.
pub const WEEK_CONCURRENCY: u32 = 4;

/// User and system CPU time of this process so far (every thread).
pub fn cpu_time() -> Duration {
    let (user, system) = cpu_split();
    user + system
}

/// User and system CPU time of this process so far, apart.
pub fn cpu_split() -> (Duration, Duration) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (time(usage.ru_utime), time(usage.ru_stime))
}

/// Bytes of every file under a directory: as listed, and as allocated on disk.
pub fn dir_bytes(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut listed = 0;
    let mut allocated = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let entry = entry.expect("an entry");
            let metadata = entry.metadata().expect("metadata");
            if metadata.is_dir() {
                stack.push(entry.path());
            } else {
                listed += metadata.len();
                allocated += metadata.blocks() * 512;
            }
        }
    }
    (listed, allocated)
}

fn call(step: StepId, name: &str, arguments: String) -> Event {
    Event::Replied {
        step,
        attempt: 1,
        reply: ModelReply {
            outcome: ModelOutcome::Call(ToolCall {
                id: "b".into(),
                name: name.into(),
                arguments,
                signature: None,
            }),
            usage: Usage::default(),
        },
        cost_micro_usd: None,
        at_ms: 1,
    }
}

/// A machine of `spec` with every week accepted (the built-in coach's answers), in Finalizing.
pub fn finished_machine(spec: RunSpec) -> Machine {
    let total_weeks = spec.total_weeks;
    let mut machine = Machine::new(spec.clone());
    machine.handle(&Event::Start {
        at_ms: 0,
        week_concurrency: total_weeks,
    });
    let overview = coach::create_plan_overview(&spec.profile, total_weeks, None, &spec.rules);
    machine.handle(&call(
        StepId::Overview,
        tools::CREATE_PLAN_OVERVIEW,
        serde_json::to_string(&overview).expect("json"),
    ));
    for week in 1..=total_weeks {
        let details = coach::add_week_details(&spec.profile, &overview, week, None, &spec.rules);
        machine.handle(&call(
            StepId::Week(week),
            tools::ADD_WEEK_DETAILS,
            serde_json::to_string(&details).expect("json"),
        ));
    }
    assert_eq!(machine.run().weeks_accepted(), total_weeks);
    machine
}
