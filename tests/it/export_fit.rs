//! `periodize export --format fit` end to end: a 12-week plan of the built-in coach and the
//! seed's 12-week report exported, every file read back by two decoders that are not ours (the
//! `fitparser` crate and Garmin's own FIT SDK through `scripts/checkers/check_fit.py`), both
//! checking the CRCs, agreeing with each other, and their steps, repeats expanded, giving the
//! plan's time and power step by step; byte-identical on a second export.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use fitparser::profile::MesgNum;
use serde_json::Value;

use crate::export::{files, plan, plan_workouts, same_steps, Ridden};
use crate::support::{checker_python, fixture, run_checker, stderr, Sandbox};

/// A workout file as a decoder read it: what identifies it, the workout message, the steps.
#[derive(Debug, Clone, PartialEq)]
struct FitWorkout {
    file_type: String,
    manufacturer: String,
    product: u64,
    serial_number: u64,
    /// RFC 3339, in UTC.
    time_created: String,
    name: String,
    sport: String,
    num_valid_steps: u64,
    steps: Vec<FitStep>,
}

/// One `workout_step` message as a decoder read it.
#[derive(Debug, Clone, PartialEq)]
struct FitStep {
    message_index: u64,
    duration_type: String,
    /// A time step's duration.
    duration_ms: Option<u64>,
    target_type: Option<String>,
    target_value: Option<u64>,
    /// A power step's custom range, percent of FTP (above 1000 it would be watts).
    target_pct: Option<(u64, u64)>,
    intensity: Option<String>,
    /// A repeat step's loop: the message index it goes back to, and how often the loop runs.
    repeat: Option<(u64, u64)>,
}

fn export(sandbox: &Sandbox, plan: &Path, out: &str) -> BTreeMap<String, Vec<u8>> {
    let plan = plan.display().to_string();
    let output = sandbox.run(&["export", &plan, "--format", "fit", "--out", out]);
    assert!(output.status.success(), "{}", stderr(&output));
    files(&sandbox.path(out))
}

fn fitparser_number(file: &str, value: &fitparser::Value) -> u64 {
    use fitparser::Value::*;
    match value {
        UInt8(n) | Enum(n) | UInt8z(n) => u64::from(*n),
        UInt16(n) | UInt16z(n) => u64::from(*n),
        UInt32(n) | UInt32z(n) => u64::from(*n),
        SInt64(n) => u64::try_from(*n).unwrap(),
        UInt64(n) => *n,
        other => panic!("{file}: {other:?} is not a whole number"),
    }
}

fn fitparser_text(file: &str, value: &fitparser::Value) -> String {
    match value {
        fitparser::Value::String(text) => text.clone(),
        other => panic!("{file}: {other:?} is not text"),
    }
}

/// Decodes one file with `fitparser`, which checks the header's and the file's CRC.
fn read_with_fitparser(file: &str, bytes: &[u8]) -> FitWorkout {
    let records = fitparser::from_bytes(bytes).unwrap_or_else(|err| panic!("{file}: {err}"));
    let mut workout = FitWorkout {
        file_type: String::new(),
        manufacturer: String::new(),
        product: 0,
        serial_number: 0,
        time_created: String::new(),
        name: String::new(),
        sport: String::new(),
        num_valid_steps: 0,
        steps: Vec::new(),
    };
    let (mut file_ids, mut workouts) = (0, 0);
    for record in &records {
        let fields: BTreeMap<&str, &fitparser::Value> = record
            .fields()
            .iter()
            .map(|field| (field.name(), field.value()))
            .collect();
        let number = |name: &str| fields.get(name).map(|value| fitparser_number(file, value));
        let text = |name: &str| fields.get(name).map(|value| fitparser_text(file, value));
        match record.kind() {
            MesgNum::FileId => {
                file_ids += 1;
                workout.file_type = text("type").unwrap();
                workout.manufacturer = text("manufacturer").unwrap();
                workout.product = number("product").unwrap();
                workout.serial_number = number("serial_number").unwrap();
                let fitparser::Value::Timestamp(created) = fields["time_created"] else {
                    panic!("{file}: time_created is not a time");
                };
                workout.time_created = created.with_timezone(&chrono::Utc).to_rfc3339();
            }
            MesgNum::Workout => {
                workouts += 1;
                workout.name = text("wkt_name").unwrap();
                workout.sport = text("sport").unwrap();
                workout.num_valid_steps = number("num_valid_steps").unwrap();
            }
            MesgNum::WorkoutStep => workout.steps.push(FitStep {
                message_index: number("message_index").unwrap(),
                duration_type: text("duration_type").unwrap(),
                duration_ms: fields.get("duration_time").map(|value| match value {
                    // fitparser applies the field's scale: seconds.
                    fitparser::Value::Float64(seconds) => (seconds * 1000.0).round() as u64,
                    other => panic!("{file}: duration_time {other:?}"),
                }),
                target_type: text("target_type"),
                target_value: number("target_power_zone"),
                target_pct: number("custom_target_power_low")
                    .zip(number("custom_target_power_high")),
                intensity: text("intensity"),
                repeat: number("duration_step").zip(number("repeat_steps")),
            }),
            _ => {}
        }
    }
    assert_eq!(
        (file_ids, workouts),
        (1, 1),
        "{file}: one file_id, one workout"
    );
    workout
}

/// One line of `check_fit.py`: the file as Garmin's FIT SDK decoded it.
fn read_sdk_line(line: &str) -> (String, FitWorkout) {
    let decoded: Value = serde_json::from_str(line).unwrap();
    let text = |value: &Value| value.as_str().map(str::to_string);
    let file_id = &decoded["file_id"];
    let workout = &decoded["workout"];
    let steps = decoded["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| FitStep {
            message_index: step["message_index"].as_u64().unwrap(),
            duration_type: text(&step["duration_type"]).unwrap(),
            duration_ms: step["duration_ms"].as_u64(),
            target_type: text(&step["target_type"]),
            target_value: step["target_value"]
                .as_u64()
                .filter(|_| step["target_type"] == "power"),
            target_pct: step["target_low"]
                .as_u64()
                .zip(step["target_high"].as_u64()),
            intensity: text(&step["intensity"]),
            repeat: step["duration_step"]
                .as_u64()
                .zip(step["repeat_steps"].as_u64()),
        })
        .collect();
    let path = text(&decoded["file"]).unwrap();
    (
        Path::new(&path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        FitWorkout {
            file_type: text(&file_id["type"]).unwrap(),
            manufacturer: text(&file_id["manufacturer"]).unwrap(),
            product: file_id["product"].as_u64().unwrap(),
            serial_number: file_id["serial_number"].as_u64().unwrap(),
            time_created: chrono::DateTime::parse_from_rfc3339(
                file_id["time_created"].as_str().unwrap(),
            )
            .unwrap()
            .with_timezone(&chrono::Utc)
            .to_rfc3339(),
            name: text(&workout["name"]).unwrap(),
            sport: text(&workout["sport"]).unwrap(),
            num_valid_steps: workout["num_valid_steps"].as_u64().unwrap(),
            steps,
        },
    )
}

/// The workout as ridden, repeat steps expanded: a time step is its seconds and power; a
/// repeat step rides again, `times − 1` more times, everything from the step it points back
/// to. The % FTP range maps back to the plan's fractions of FTP as the plan rides them: a
/// warm-up's range is its ramp from low to high, a cool-down's from high to low, any other
/// step holds the midpoint of its band.
fn ridden(file: &str, workout: &FitWorkout) -> Vec<Ridden> {
    let mut ridden: Vec<Ridden> = Vec::new();
    // Where in `ridden` each message index's step began.
    let mut starts = Vec::with_capacity(workout.steps.len());
    for (index, step) in workout.steps.iter().enumerate() {
        assert_eq!(step.message_index, index as u64, "{file}: message_index");
        starts.push(ridden.len());
        match step.duration_type.as_str() {
            "time" => {
                let ms = step.duration_ms.expect("a time step has a duration");
                assert_eq!(ms % 1000, 0, "{file}: step {index} is whole seconds");
                assert_eq!(step.target_type.as_deref(), Some("power"), "{file}");
                assert_eq!(step.target_value, Some(0), "{file}: a custom range");
                let (low, high) = step.target_pct.expect("a power step has a range");
                assert!(
                    low <= high && high < 1000,
                    "{file}: step {index} {low}..{high} is % FTP, not watts"
                );
                let (low, high) = (low as f64 / 100.0, high as f64 / 100.0);
                let mid = (low + high) / 2.0;
                ridden.push(match step.intensity.as_deref() {
                    Some("warmup") => (ms / 1000, low, high),
                    Some("cooldown") => (ms / 1000, high, low),
                    _ => (ms / 1000, mid, mid),
                });
            }
            "repeat_until_steps_cmplt" => {
                let (first, times) = step.repeat.expect("a repeat step has its loop");
                assert!(first < index as u64, "{file}: a repeat goes back");
                assert!(times >= 1, "{file}: a repeat runs at least once");
                let body = ridden[starts[first as usize]..].to_vec();
                for _ in 1..times {
                    ridden.extend_from_slice(&body);
                }
            }
            other => panic!("{file}: unexpected duration type {other}"),
        }
    }
    ridden
}

/// What the checks found in an export.
struct Found {
    files: BTreeMap<String, Vec<u8>>,
    repeats: usize,
    shortest_step_ms: u64,
}

/// Exports `plan_path` into `out` and checks every file with both decoders against `plan`
/// (the plan itself, not a report): one file per workout of the plan, every one of them,
/// each a cycling workout named as the plan names it, created on its date, with a `file_id`
/// of its own, its `num_valid_steps` its step count, and the plan's time and power.
fn export_and_check(sandbox: &Sandbox, plan_path: &Path, plan: &Value, out: &str) -> Found {
    let planned = plan_workouts(plan);
    let exported = export(sandbox, plan_path, out);
    assert_eq!(exported.len(), planned.len(), "one file per workout");
    let paths: Vec<PathBuf> = exported
        .keys()
        .map(|file| sandbox.path(out).join(file))
        .collect();
    let path_refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let sdk: Option<BTreeMap<String, FitWorkout>> = run_checker("check_fit.py", &path_refs)
        .map(|stdout| stdout.lines().map(read_sdk_line).collect());
    let mut matched = BTreeSet::new();
    let mut file_ids = BTreeSet::new();
    let (mut repeats, mut shortest_step_ms) = (0, u64::MAX);
    for (file, bytes) in &exported {
        assert!(file.ends_with(".fit"), "{file}");
        let workout = read_with_fitparser(file, bytes);
        if let Some(sdk) = &sdk {
            assert_eq!(sdk.get(file), Some(&workout), "{file}: the decoders differ");
        }
        let date = &file[..10];
        let key = (date.to_string(), workout.name.clone());
        let planned_steps = planned
            .get(&key)
            .unwrap_or_else(|| panic!("{file}: no workout {:?} on {date}", workout.name));
        assert!(matched.insert(key), "{file}: a workout exported twice");
        assert_eq!(
            (
                workout.file_type.as_str(),
                workout.manufacturer.as_str(),
                workout.sport.as_str()
            ),
            ("workout", "development", "cycling"),
            "{file}"
        );
        assert_eq!(
            workout.time_created,
            format!("{date}T00:00:00+00:00"),
            "{file}"
        );
        assert!(
            file_ids.insert((workout.product, workout.serial_number)),
            "{file}: a file_id another file has"
        );
        assert_eq!(
            workout.num_valid_steps,
            workout.steps.len() as u64,
            "{file}: num_valid_steps"
        );
        same_steps(file, &ridden(file, &workout), planned_steps);
        repeats += workout
            .steps
            .iter()
            .filter(|step| step.repeat.is_some())
            .count();
        shortest_step_ms = workout
            .steps
            .iter()
            .filter_map(|step| step.duration_ms)
            .fold(shortest_step_ms, u64::min);
    }
    assert_eq!(matched.len(), planned.len(), "every workout exported");
    Found {
        files: exported,
        repeats,
        shortest_step_ms,
    }
}

/// The acceptance of the FIT slice on a real 12-week plan: every workout a FIT file both
/// decoders read with valid CRCs, the plan's time and power step by step, the coach's flat
/// intervals as repeat steps, identical bytes on a second export.
#[test]
fn a_12_week_plan_exports_one_fit_workout_per_session_that_garmins_sdk_reads_back() {
    let sandbox = Sandbox::new();
    let plan_path = plan(&sandbox);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let found = export_and_check(&sandbox, &plan_path, &plan, "garmin");
    assert!(
        found.repeats > 0,
        "the coach's intervals become repeat steps"
    );

    // A second export rewrites every file with the same bytes.
    assert_eq!(export(&sandbox, &plan_path, "garmin"), found.files);
}

/// The seed's 12-week Phase 4 report (its first athlete's plan, given a start date) exports
/// its `sets` repeats as repeat steps and its 10 s sprints as 10 000 ms steps.
#[test]
fn the_seeds_report_with_a_start_date_exports_its_sets_as_repeat_steps() {
    let sandbox = Sandbox::new();
    let mut report: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("seed/report_data_12wk_llm.json")).unwrap(),
    )
    .unwrap();
    report["athletes"][0]["training_plan"]["plan_metadata"]["start_date"] =
        Value::from("2027-01-04");
    let path = sandbox.write("report_data.json", &report.to_string());
    let plan = &report["athletes"][0]["training_plan"];
    let found = export_and_check(&sandbox, &path, plan, "seed");
    assert!(found.repeats > 0, "the seed's sets become repeat steps");
    assert_eq!(found.shortest_step_ms, 10_000, "the 10 s sprints");
}

/// The readers do check the CRC: one changed byte in a file's records and both refuse it.
#[test]
fn a_file_with_a_changed_byte_is_refused_by_both_decoders() {
    let sandbox = Sandbox::new();
    let plan_path = plan(&sandbox);
    let exported = export(&sandbox, &plan_path, "garmin");
    let (file, bytes) = exported.iter().next().unwrap();
    assert!(fitparser::from_bytes(bytes).is_ok(), "{file}");
    let mut changed = bytes.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    assert!(
        fitparser::from_bytes(&changed).is_err(),
        "{file}: fitparser read a file whose CRC is wrong"
    );
    let Some(python) = checker_python() else {
        return;
    };
    let path = sandbox.path("changed.fit");
    std::fs::write(&path, &changed).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/checkers/check_fit.py");
    let output = Command::new(python)
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !output.status.success() && stderr(&output).contains("changed.fit"),
        "the SDK check passed a file whose CRC is wrong: {}",
        stderr(&output)
    );
}
