//! Store tests: round trips, the commit sequence compared and set, versioned records refused
//! when unknown, corrupt records named, the format 4 encoding pinned by golden files, and the
//! format 2 and 3 golden files still read.
//! Reopening a store here is a clean restart (sled flushes on drop); crashes are in tests/crash.rs.

use periodize::domain::profile::parse_profile;
use periodize::domain::validate::Rules;
use periodize::llm::StepId;
use periodize::store::sled_store::keys;
use periodize::store::{self, records, Store};
use periodize::workflow::{Event, Machine, RetryPolicy, RunId, RunSpec};

pub fn spec(run_id: u128) -> RunSpec {
    RunSpec {
        run_id: RunId(run_id),
        batch: None,
        profile: parse_profile(r#"{"ftp_w":250,"weekly_hours":6,"available_days":["Monday","Saturday"],"daily_caps_min":{"Monday":120}}"#).unwrap(),
        total_weeks: 3,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        provider: "builtin".into(),
        model: "m".into(),
        base_url: String::new(),
        prompt_hash: "h".into(),
        rules: Rules::default(),
        retry: RetryPolicy::default(),
        output_dir: "/tmp/output".into(),
        keep_checkpoints: false,
        created_at_ms: 5,
        budget: Default::default(),
        exports: Vec::new(),
    }
}

/// A stored run and its machine after its first transition.
fn started(store: &Store, run_id: u128) -> (Machine, u64) {
    let spec = spec(run_id);
    store
        .create_runs(None, std::slice::from_ref(&spec), 5)
        .unwrap();
    let mut machine = Machine::new(spec);
    let ctx = machine.handle(&Event::Start {
        at_ms: 10,
        week_concurrency: 2,
    });
    let seq = store.commit(&machine, &ctx.dirty, 0, 10).unwrap();
    (machine, seq)
}

/// The records of a committed transition rebuild the same machine. (Restarts across processes
/// are proven by the CLI tests and the crash harness: reopening a sled store inside one process
/// races sled's background threads for the directory lock.)
#[test]
fn a_committed_transition_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_simple(dir.path()).unwrap();
    let (machine, seq) = started(&store, 1);
    store.flush_blocking().unwrap();
    assert_eq!(seq, 1);
    let (loaded, loaded_seq) = store.load(RunId(1)).unwrap().expect("the run is stored");
    assert_eq!(loaded_seq, 1);
    assert_eq!(loaded.state(), machine.state());
    assert_eq!(loaded.run(), machine.run());
    assert_eq!(store.run_ids().unwrap(), vec![RunId(1)]);
    let summary = store.summary(RunId(1)).unwrap().unwrap();
    assert_eq!(
        (
            summary.seq,
            summary.total_weeks,
            summary.requests,
            summary.weeks_done
        ),
        (1, 3, 1, 0),
        "the summary is derived at commit: {summary:?}"
    );
}

/// A commit names the sequence it expects; a writer holding an older state (another worker
/// took the run over, or a stale copy) is refused and writes nothing.
#[test]
fn a_commit_from_a_stale_sequence_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_simple(dir.path()).unwrap();
    let (mut machine, seq) = started(&store, 3);
    let ctx = machine.handle(&Event::Resume {
        at_ms: 20,
        week_concurrency: 2,
    });
    let err = store
        .commit(&machine, &ctx.dirty, seq - 1, 20)
        .expect_err("an old sequence is refused");
    assert!(
        matches!(
            err,
            store::Error::Conflict {
                expected: 0,
                found: Some(1),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("another writer"), "{err}");
    assert_eq!(store.summary(RunId(3)).unwrap().unwrap().seq, 1);
    assert_eq!(store.commit(&machine, &ctx.dirty, seq, 20).unwrap(), 2);
    // Creating a run that exists is refused too.
    let err = store
        .create_runs(None, &[spec(3)], 30)
        .expect_err("ids are unique");
    assert!(matches!(err, store::Error::Exists { .. }), "{err}");
}

#[test]
fn unknown_versions_and_corrupt_records_are_refused_by_name() {
    let record = records::encode(&records::MetaRecord {
        format: 2,
        created_at_ms: 1,
        runs: 0,
        batches: 0,
        commits: 0,
    });
    assert_eq!(&record[..2], &4u16.to_le_bytes(), "the version comes first");
    assert!(records::decode::<records::MetaRecord>(&record).is_ok());
    let mut future = record.clone();
    future[..2].copy_from_slice(&99u16.to_le_bytes());
    let err = records::decode::<records::MetaRecord>(&future).unwrap_err();
    assert_eq!(
        err.to_string(),
        "record has format version 99, this build reads versions 1 to 4; a newer periodize wrote it"
    );
    assert!(records::decode::<records::MetaRecord>(&[2])
        .unwrap_err()
        .to_string()
        .contains("too short"));
    let mut unknown_field = record.clone();
    unknown_field.truncate(unknown_field.len() - 1);
    unknown_field.extend_from_slice(br#","colour":"red"}"#);
    assert!(
        records::decode::<records::MetaRecord>(&unknown_field).is_err(),
        "a field this version does not have is refused, not dropped"
    );

    // A step record overwritten with garbage is reported with its run and key.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_simple(dir.path()).unwrap();
    started(&store, 2);
    store
        .put_raw_for_tests(
            "v2",
            &keys::step(RunId(2), StepId::Overview),
            &[2, 0, b'{', b'x'],
        )
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

/// A week whose Tuesday holds a repeat with sub-minute work and a fractional plain segment:
/// what only format 3 records hold.
fn week_with_a_repeat() -> periodize::domain::plan::WeekDetails {
    serde_json::from_value(serde_json::json!({"week_number": 1, "workouts": [{
        "weekday": "Tuesday", "name": "Sprints", "description": "8 x 15 s", "detailed_description": null,
        "segments": [
            {"type": "warmup", "duration_min": 15, "power_low_pct": 50, "power_high_pct": 75, "description": "build"},
            {"type": "interval", "duration_min": 16, "power_low_pct": 250, "power_high_pct": 280, "description": "sprints",
             "sets": 8, "work": {"duration_min": 0.25, "power_low_pct": 250, "power_high_pct": 280, "description": "all out"},
             "recovery": {"duration_min": 1.75, "power_low_pct": 45, "power_high_pct": null, "description": "spin"}},
            {"type": "steady", "duration_min": 2, "power_low_pct": 60, "power_high_pct": null, "description": "settle",
             "sets": 3, "work": {"duration_min": 0.5, "power_low_pct": 60, "power_high_pct": null, "description": "roll"}},
            {"type": "cooldown", "duration_min": 10.5, "power_low_pct": 40, "power_high_pct": 50, "description": "easy"}
        ]}]}))
    .expect("the week is well formed")
}

/// The format 4 encoding of fully populated records is pinned: a change to a record type that
/// would change stored bytes shows here, and needs a new format version. Regenerate with
/// `PERIODIZE_UPDATE_GOLDEN=1` only together with such a version. The format 3 golden files
/// (the last build that wrote 3) still decode and write back the same bodies, marked 4.
#[test]
fn format_4_records_match_their_golden_files() {
    use periodize::domain::validate::{Severity, Violation};
    use periodize::llm::{PriorReply, RepairTurn, ToolCall, Usage};
    use periodize::workflow::{
        Accepted, AttemptOutcome, AttemptRecord, BatchRef, Budget, InFlight, StepState,
    };
    let mut spec = spec(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    spec.batch = Some(BatchRef {
        batch_id: 0xfeed,
        item: 7,
    });
    spec.budget = Budget {
        max_tokens: Some(9_000),
        max_attempts: Some(12),
        max_cost_micro_usd: Some(2_500_000),
    };
    spec.profile.event_date = chrono::NaiveDate::from_ymd_opt(2027, 5, 1);
    spec.profile.goals = "A \"quoted\" goal\nwith a newline".into();
    let overview = periodize::coach::create_plan_overview(&spec.profile, 3, None, &spec.rules);
    let week = periodize::coach::add_week_details(&spec.profile, &overview, 1, None, &spec.rules);
    let mut step = StepState::new(StepId::Week(1));
    step.requests = 4;
    step.refused = 1;
    step.transient_failures = 1;
    step.attempts = vec![
        AttemptRecord {
            attempt: 1,
            outcome: AttemptOutcome::Transient {
                message: "429".into(),
            },
            usage: Usage::default(),
            cost_micro_usd: None,
            requested_at_ms: 100,
            finished_at_ms: 150,
        },
        AttemptRecord {
            attempt: 2,
            outcome: AttemptOutcome::Rejected {
                errors: 2,
                warnings: 1,
                first_error: "error: x".into(),
            },
            usage: Usage {
                input_tokens: 1_000,
                output_tokens: 200,
                cache_read_tokens: 50,
                cache_write_tokens: 5,
            },
            cost_micro_usd: Some(4_219),
            requested_at_ms: 200,
            finished_at_ms: 260,
        },
        AttemptRecord {
            attempt: 3,
            outcome: AttemptOutcome::Malformed {
                message: "no tool call".into(),
            },
            usage: Usage::default(),
            cost_micro_usd: None,
            requested_at_ms: 300,
            finished_at_ms: 310,
        },
        AttemptRecord {
            attempt: 4,
            outcome: AttemptOutcome::Accepted { warnings: 1 },
            usage: Usage {
                input_tokens: 1_200,
                output_tokens: 300,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            },
            cost_micro_usd: Some(6_900),
            requested_at_ms: 400,
            finished_at_ms: 480,
        },
    ];
    step.repair_turns = vec![
        RepairTurn {
            reply: PriorReply::Call(ToolCall {
                id: "call_1".into(),
                name: "add_week_details".into(),
                arguments: "{\"week_number\": 1}".into(),
                signature: Some("sig==".into()),
            }),
            feedback: "fix it".into(),
        },
        RepairTurn {
            reply: PriorReply::Text("I cannot".into()),
            feedback: "call the tool".into(),
        },
    ];
    step.accepted = Some(Accepted::Week(week));
    step.accepted_at_ms = Some(480);
    step.warnings = vec![Violation {
        severity: Severity::Warning,
        path: "workouts[0]".into(),
        message: "long".into(),
    }];
    step.fallback = true;
    let mut overview_step = StepState::new(StepId::Overview);
    overview_step.requests = 1;
    overview_step.in_flight = Some(InFlight {
        attempt: 1,
        requested_at_ms: 90,
    });
    overview_step.waiting_until_ms = Some(95);
    overview_step.exhausted = Some("gave up".into());
    overview_step.accepted = Some(Accepted::Overview(std::sync::Arc::new(overview)));
    overview_step.accepted_at_ms = Some(99);
    overview_step.compacted = true;
    let mut machine = Machine::new(spec.clone());
    machine.handle(&Event::Start {
        at_ms: 1,
        week_concurrency: 2,
    });
    // The head, batch and open-index records as the store writes them: a batch of one run,
    // created at 5 ms, then its first transition committed at 7 ms.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_simple(dir.path()).unwrap();
    let batch = periodize::workflow::Batch {
        id: 0xfeed,
        name: "riders".into(),
        digest: "d1g3st".into(),
        created_at_ms: 5,
        items: vec![periodize::workflow::BatchItem {
            run_id: spec.run_id,
            source: "riders.jsonl:8".into(),
            content_hash: "c0ffee".into(),
        }],
    };
    store
        .create_runs(Some(&batch), std::slice::from_ref(&spec), 5)
        .unwrap();
    let raw = |key: Vec<u8>| store.get_raw_for_tests("v2", &key).unwrap().unwrap();
    let head_created = raw(keys::head(spec.run_id));
    let head_created_v3 = head_created.clone();
    store
        .commit(&machine, &[StepId::Overview].into_iter().collect(), 0, 7)
        .unwrap();
    let mut repeat_step = StepState::new(StepId::Week(1));
    repeat_step.requests = 1;
    repeat_step.accepted = Some(Accepted::Week(week_with_a_repeat()));
    repeat_step.accepted_at_ms = Some(42);
    let mut spec_with_exports = spec.clone();
    spec_with_exports.exports = vec![
        periodize::export::Format::Zwo,
        periodize::export::Format::Ics,
        periodize::export::Format::ReportData,
    ];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("head_created", head_created),
        ("head_drafting", raw(keys::head(spec.run_id))),
        ("batch", raw(keys::batch(0xfeed))),
        ("open", raw(keys::open(spec.run_id))),
        ("spec", records::encode(&records::SpecRecord::from(&spec))),
        (
            "spec_exports",
            records::encode(&records::SpecRecord::from(&spec_with_exports)),
        ),
        (
            "step_week",
            records::encode(&records::StepRecord::from(&step)),
        ),
        (
            "step_overview",
            records::encode(&records::StepRecord::from(&overview_step)),
        ),
        (
            "step_week_repeat",
            records::encode(&records::StepRecord::from(&repeat_step)),
        ),
    ];
    for (name, bytes) in cases {
        let path = crate::support::fixture(&format!("records/v4/{name}.json"));
        assert_eq!(&bytes[..2], &4u16.to_le_bytes());
        let body = std::str::from_utf8(&bytes[2..]).unwrap();
        let pretty = format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(body).unwrap())
                .unwrap()
        );
        if std::env::var_os("PERIODIZE_UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &pretty).unwrap();
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert_eq!(pretty, golden, "{name}: the format 4 bytes changed");
        // And the golden file still decodes to the same record.
        let mut golden_bytes = 4u16.to_le_bytes().to_vec();
        golden_bytes.extend_from_slice(golden.as_bytes());
        match name {
            "head_created" | "head_drafting" => {
                let decoded: records::HeadRecord = records::decode(&golden_bytes).unwrap();
                assert_eq!(records::encode(&decoded), bytes, "{name} decodes whole");
            }
            "batch" => {
                let decoded: records::BatchRecord = records::decode(&golden_bytes).unwrap();
                assert_eq!(records::encode(&decoded), bytes, "{name} decodes whole");
            }
            "open" => {
                let decoded: records::OpenRecord = records::decode(&golden_bytes).unwrap();
                assert_eq!(records::encode(&decoded), bytes, "{name} decodes whole");
            }
            "spec" => {
                let decoded: records::SpecRecord = records::decode(&golden_bytes).unwrap();
                assert_eq!(RunSpec::try_from(decoded).unwrap(), spec);
            }
            "spec_exports" => {
                let decoded: records::SpecRecord = records::decode(&golden_bytes).unwrap();
                assert_eq!(RunSpec::try_from(decoded).unwrap(), spec_with_exports);
            }
            "step_week" => {
                let decoded = records::decode_step(&golden_bytes).unwrap();
                assert_eq!(StepState::from(decoded), step);
            }
            "step_week_repeat" => {
                let decoded = records::decode_step(&golden_bytes).unwrap();
                assert_eq!(StepState::from(decoded), repeat_step);
            }
            _ => {
                let decoded = records::decode_step(&golden_bytes).unwrap();
                assert_eq!(StepState::from(decoded), overview_step);
            }
        }
    }
    // Format 3 records (the golden files of the last build that wrote them) still read: format
    // 4 is format 3 plus the spec's optional exports, so each decodes and writes back the very
    // same bytes but for the version.
    for name in [
        "head_created",
        "head_drafting",
        "batch",
        "open",
        "spec",
        "step_week",
        "step_overview",
        "step_week_repeat",
    ] {
        let text =
            std::fs::read_to_string(crate::support::fixture(&format!("records/v3/{name}.json")))
                .unwrap();
        let mut v3 = 3u16.to_le_bytes().to_vec();
        v3.extend_from_slice(text.as_bytes());
        let rewritten = match name {
            "head_created" | "head_drafting" => {
                records::encode(&records::decode::<records::HeadRecord>(&v3).unwrap())
            }
            "batch" => records::encode(&records::decode::<records::BatchRecord>(&v3).unwrap()),
            "open" => records::encode(&records::decode::<records::OpenRecord>(&v3).unwrap()),
            "spec" => records::encode(&records::decode::<records::SpecRecord>(&v3).unwrap()),
            _ => records::encode(&records::decode_step(&v3).unwrap()),
        };
        let golden =
            std::fs::read_to_string(crate::support::fixture(&format!("records/v4/{name}.json")))
                .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&rewritten[2..]).unwrap();
        assert_eq!(&rewritten[..2], &4u16.to_le_bytes());
        assert_eq!(
            body,
            serde_json::from_str::<serde_json::Value>(&golden).unwrap(),
            "{name}: a version 3 body reads as version 4"
        );
    }
    // Format 2 records (the golden files of the last build that wrote them) still read: format
    // 3 is format 2 plus optional fields, so each decodes, and writes back the very same body
    // now marked 3. The spec's rules gain `sprint_max_s`, 0 for a version 2 run (that build
    // allowed no step above 200 %).
    for (name, bytes) in [
        ("head_created", head_created_v3.clone()),
        ("head_drafting", raw(keys::head(spec.run_id))),
        ("batch", raw(keys::batch(0xfeed))),
        ("open", raw(keys::open(spec.run_id))),
        (
            "step_week",
            records::encode(&records::StepRecord::from(&step)),
        ),
        (
            "step_overview",
            records::encode(&records::StepRecord::from(&overview_step)),
        ),
    ] {
        let text =
            std::fs::read_to_string(crate::support::fixture(&format!("records/v2/{name}.json")))
                .unwrap();
        let mut v2 = 2u16.to_le_bytes().to_vec();
        v2.extend_from_slice(text.as_bytes());
        let rewritten = match name {
            "head_created" | "head_drafting" => {
                records::encode(&records::decode::<records::HeadRecord>(&v2).unwrap())
            }
            "batch" => records::encode(&records::decode::<records::BatchRecord>(&v2).unwrap()),
            "open" => records::encode(&records::decode::<records::OpenRecord>(&v2).unwrap()),
            _ => records::encode(&records::decode_step(&v2).unwrap()),
        };
        assert_eq!(&rewritten[..2], &4u16.to_le_bytes());
        if name.starts_with("step_") {
            // A step holds the week the coach of its day wrote: the body must come back as it
            // was, whatever today's coach writes.
            let body: serde_json::Value = serde_json::from_slice(&rewritten[2..]).unwrap();
            let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body, golden, "{name}: a version 2 body reads as version 3");
        } else {
            assert_eq!(
                rewritten, bytes,
                "{name}: a version 2 body reads as version 3"
            );
        }
    }
    let text = std::fs::read_to_string(crate::support::fixture("records/v2/spec.json")).unwrap();
    let mut v2 = 2u16.to_le_bytes().to_vec();
    v2.extend_from_slice(text.as_bytes());
    let decoded: records::SpecRecord = records::decode(&v2).unwrap();
    let mut v2_spec = spec.clone();
    v2_spec.rules.sprint_max_s = 0;
    assert_eq!(RunSpec::try_from(decoded).unwrap(), v2_spec);

    // Records written before costs were recorded still read: no cost, no money budget.
    let read = |name: &str| {
        let text =
            std::fs::read_to_string(crate::support::fixture(&format!("records/v2/{name}.json")))
                .unwrap();
        let mut bytes = 2u16.to_le_bytes().to_vec();
        bytes.extend_from_slice(text.as_bytes());
        bytes
    };
    let old_step = StepState::from(records::decode_step(&read("step_week_before_costs")).unwrap());
    let mut unpriced = step.clone();
    for attempt in &mut unpriced.attempts {
        attempt.cost_micro_usd = None;
    }
    // The record holds the week the coach of its day wrote; everything else is today's step.
    unpriced.accepted = old_step.accepted.clone();
    assert_eq!(old_step, unpriced);
    let old_head: records::HeadRecord = records::decode(&read("head_before_costs")).unwrap();
    assert_eq!(old_head.budget.max_cost_micro_usd, None);
    assert_eq!(old_head.budget.max_tokens, Some(9_000));
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

/// Rule severities and a CTL ramp limit set on a run are stored with its spec and read back;
/// on the defaults the spec carries neither field, so the pinned spec (written before them)
/// reads back as a run on the default rules.
#[test]
fn rule_severities_are_stored_with_the_run_and_absent_on_the_defaults() {
    use periodize::domain::validate::{Rule, RuleSeverity, EXPERIENCED_CTL_RAMP};
    let mut spec = spec(0x5eed);
    let plain = records::encode(&records::SpecRecord::from(&spec));
    let body = std::str::from_utf8(&plain[2..]).unwrap();
    assert!(
        !body.contains("rule_severities") && !body.contains("max_ctl_ramp"),
        "{body}"
    );
    spec.rules.severities = [
        (Rule::Acwr, RuleSeverity::Off),
        (Rule::HardDaysBackToBack, RuleSeverity::Error),
    ]
    .into_iter()
    .collect();
    spec.rules.max_ctl_ramp = EXPERIENCED_CTL_RAMP;
    let bytes = records::encode(&records::SpecRecord::from(&spec));
    let body = std::str::from_utf8(&bytes[2..]).unwrap();
    assert!(
        body.contains(r#""rule_severities":{"acwr":"off","hard_days_back_to_back":"error"}"#)
            && body.contains(r#""max_ctl_ramp":7.0"#),
        "{body}"
    );
    let record: records::SpecRecord = records::decode(&bytes).unwrap();
    assert_eq!(RunSpec::try_from(record).unwrap().rules, spec.rules);

    let pinned = std::fs::read_to_string(crate::support::fixture("records/v2/spec.json")).unwrap();
    let record: records::SpecRecord = serde_json::from_str(&pinned).unwrap();
    // A version 2 run allowed no sprint above 200 % FTP, and keeps that rule.
    assert_eq!(
        RunSpec::try_from(record).unwrap().rules,
        Rules {
            sprint_max_s: 0,
            ..Rules::default()
        }
    );
}

/// The profile's event, experience and recent training are stored with the run and read back
/// whole; a profile without them stores no such keys (so its record reads as it always did).
#[test]
fn the_profiles_event_and_training_background_are_stored_with_the_run() {
    let plain = spec(0xe7e7);
    let bytes = records::encode(&records::SpecRecord::from(&plain));
    let body = std::str::from_utf8(&bytes[2..]).unwrap();
    for key in [
        "\"event\"",
        "recent_weekly_hours",
        "current_ctl",
        "experience",
    ] {
        assert!(!body.contains(key), "{key} in {body}");
    }
    let mut rich = plain.clone();
    rich.profile = parse_profile(
        r#"{"name":"Eve","ftp_w":250,"weekly_hours":8,"available_days":["Tuesday","Saturday","Sunday"],
            "event":{"date":"2027-04-24","kind":"Gran Fondo","duration_h":6.5,"priority":"B"},
            "recent_weekly_hours":5.5,"current_ctl":42,"experience":"experienced"}"#,
    )
    .unwrap();
    let bytes = records::encode(&records::SpecRecord::from(&rich));
    let body = std::str::from_utf8(&bytes[2..]).unwrap();
    assert!(
        body.contains(r#""event_date":"2027-04-24""#)
            && body.contains(r#""event":{"kind":"gran_fondo","duration_h":6.5,"priority":"B"}"#)
            && body.contains(r#""experience":"experienced""#),
        "{body}"
    );
    let record: records::SpecRecord = records::decode(&bytes).unwrap();
    assert_eq!(RunSpec::try_from(record).unwrap(), rich);
}
