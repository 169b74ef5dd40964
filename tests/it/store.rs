//! Store tests: round trips, versioned records refused when unknown, corrupt records named.
//! Reopening a store here is a clean restart (sled flushes on drop); crashes are in tests/crash.rs.

use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::store::{self, records, Store};
use periodize::workflow::{Event, Machine, RetryPolicy, RunId, RunSpec};

fn spec(run_id: u128) -> RunSpec {
    RunSpec {
        run_id: RunId(run_id),
        profile: parse_profile(r#"{"ftp_w":250,"weekly_hours":6,"available_days":["Monday","Saturday"],"daily_caps_min":{"Monday":120}}"#).unwrap(),
        total_weeks: 3,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        provider: "builtin".into(),
        model: "m".into(),
        base_url: String::new(),
        prompt_hash: "h".into(),
        rules: Rules::default(),
        retry: RetryPolicy::default(),
        output_dir: "output".into(),
        keep_checkpoints: false,
        created_at_ms: 5,
        budget: Default::default(),
    }
}

/// The records of a committed transition rebuild the same machine. (Restarts across processes
/// are proven by the CLI tests and the crash harness: reopening a sled store inside one process
/// races sled's background threads for the directory lock.)
#[test]
fn a_committed_transition_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut machine = Machine::new(spec(1));
    let ctx = machine.handle(&Event::Start {
        at_ms: 10,
        week_concurrency: 2,
    });
    let store = Store::open(dir.path()).unwrap();
    store.commit(&machine, &ctx.dirty, 1, 10).unwrap();
    store.flush_blocking().unwrap();
    let (loaded, seq) = store.load(RunId(1)).unwrap().expect("the run is stored");
    assert_eq!(seq, 1);
    assert_eq!(loaded.state(), machine.state());
    assert_eq!(loaded.run(), machine.run());
    assert_eq!(store.run_ids().unwrap(), vec![RunId(1)]);
}

#[test]
fn unknown_versions_and_corrupt_records_are_refused_by_name() {
    let record = records::encode(&7u32);
    assert_eq!(records::decode::<u32>(&record).unwrap(), 7);
    let mut future = record.clone();
    future[0] = 99;
    let err = records::decode::<u32>(&future).unwrap_err();
    assert_eq!(
        err.to_string(),
        "record has format version 99, this build reads version 1"
    );
    assert!(records::decode::<u32>(&[1])
        .unwrap_err()
        .to_string()
        .contains("too short"));
    let mut trailing = record;
    trailing.push(0);
    assert!(records::decode::<u32>(&trailing)
        .unwrap_err()
        .to_string()
        .contains("trailing"));

    // A step record overwritten with garbage is reported with its run and key.
    let dir = tempfile::tempdir().unwrap();
    let mut machine = Machine::new(spec(2));
    let ctx = machine.handle(&Event::Start {
        at_ms: 10,
        week_concurrency: 1,
    });
    let store = Store::open(dir.path()).unwrap();
    store.commit(&machine, &ctx.dirty, 1, 10).unwrap();
    let mut key = 2u128.to_be_bytes().to_vec();
    key.push(0);
    store
        .put_raw_for_tests("steps", &key, &[1, 0, 0xff, 0xff, 0xff])
        .unwrap();
    let err = store
        .load(RunId(2))
        .err()
        .expect("a corrupt record is an error, never skipped");
    assert!(matches!(err, store::Error::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&RunId(2).to_string()) && message.contains("steps/overview"),
        "{message}"
    );
}

/// After Done the per-step checkpoints are dropped (attempt statistics stay), unless
/// `--keep-checkpoints` asks to keep them.
#[test]
fn done_runs_compact_their_checkpoints_unless_asked_to_keep_them() {
    use crate::support::{fixture, stdout, Sandbox};
    let profile = fixture("profiles/athlete.json").display().to_string();
    for (flags, kept) in [(&[][..], false), (&["--keep-checkpoints"][..], true)] {
        let sandbox = Sandbox::new();
        let mut args = vec![
            "generate",
            "--profile",
            profile.as_str(),
            "--weeks",
            "3",
            "--json",
        ];
        args.extend_from_slice(flags);
        let output = sandbox.run(&args);
        assert!(output.status.success());
        let last: serde_json::Value =
            serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
        let shown = sandbox.run(&["show", last["run_id"].as_str().unwrap(), "--json"]);
        let shown: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
        for step in shown["steps"].as_array().unwrap() {
            assert_eq!(step["checkpoint_kept"], kept, "{flags:?}: {step}");
            assert_eq!(step["compacted"], !kept, "{flags:?}: {step}");
            assert_eq!(
                step["attempts"].as_array().unwrap().len(),
                1,
                "statistics survive compaction"
            );
        }
    }
}
