//! `periodize export --format zwo` end to end: a 12-week plan of the built-in coach exported,
//! every file read back by an independent XML parser (roxmltree) against the allow-list of
//! Zwift's own tags and attributes, its time and power compared with the plan file's segments,
//! byte-identical on a second export, filtered by dates, and bad input refused with nothing
//! written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{fixture, stderr, Sandbox};

/// The elements, each with the attributes, that Zwift's own workout files use (the domain
/// guide §2.1, from h4l/zwift-workout-file-reference): the only ones an export may write.
const ZWIFT_ALLOW_LIST: &[(&str, &[&str])] = &[
    ("workout_file", &[]),
    ("author", &[]),
    ("name", &[]),
    ("description", &[]),
    ("sportType", &[]),
    ("tags", &[]),
    ("tag", &["name"]),
    ("workout", &[]),
    ("Warmup", &["Duration", "PowerLow", "PowerHigh", "Cadence"]),
    (
        "Cooldown",
        &["Duration", "PowerLow", "PowerHigh", "Cadence"],
    ),
    ("Ramp", &["Duration", "PowerLow", "PowerHigh", "Cadence"]),
    ("SteadyState", &["Duration", "Power", "Cadence", "show_avg"]),
    (
        "IntervalsT",
        &[
            "Repeat",
            "OnDuration",
            "OffDuration",
            "OnPower",
            "OffPower",
            "Cadence",
            "CadenceResting",
        ],
    ),
    ("FreeRide", &["Duration", "FlatRoad", "Cadence"]),
    ("textevent", &["timeoffset", "message", "duration"]),
];

/// One step as ridden: seconds, power at its start and at its end (fractions of FTP).
pub(crate) type Ridden = (u64, f64, f64);

/// Generates a 12-week plan with the built-in coach; returns the plan file's path.
pub(crate) fn plan(sandbox: &Sandbox) -> PathBuf {
    let profile = fixture("profiles/athlete.json").display().to_string();
    let output = sandbox.run(&["generate", "--profile", &profile, "--weeks", "12", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let finished: Value =
        serde_json::from_str(crate::support::stdout(&output).lines().last().unwrap()).unwrap();
    PathBuf::from(finished["path"].as_str().unwrap())
}

fn export(sandbox: &Sandbox, plan: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let plan = plan.display().to_string();
    let mut args = vec!["export", plan.as_str(), "--format", "zwo", "--out", out];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

/// Every file of a directory, by name, with its bytes.
pub(crate) fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().into_string().unwrap(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

/// The plan's workouts by (date, name), each as its steps, repeats expanded, read from the
/// JSON segments (not through periodize's types): a warm-up ramps low → high, a cool-down
/// high → low, any other step holds the midpoint of its range. The date is counted from
/// `plan_metadata.start_date` (a Monday), the week and the weekday.
pub(crate) fn plan_workouts(plan: &Value) -> BTreeMap<(String, String), Vec<Ridden>> {
    let start = plan["plan_metadata"]["start_date"].as_str().unwrap();
    let start = chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap();
    let mut workouts = BTreeMap::new();
    for week in plan["weekly_plan"].as_array().unwrap() {
        let week_number = week["week_number"].as_i64().unwrap();
        for workout in week["workouts"].as_array().unwrap() {
            let mut steps = Vec::new();
            for segment in workout["segments"].as_array().unwrap() {
                let kind = segment["type"].as_str().unwrap();
                match segment.get("sets").and_then(Value::as_u64) {
                    None => steps.push(ridden(kind, segment)),
                    Some(sets) => {
                        for _ in 0..sets {
                            steps.push(ridden("work", &segment["work"]));
                            if segment["recovery"].is_object() {
                                steps.push(ridden("recovery", &segment["recovery"]));
                            }
                        }
                    }
                }
            }
            let weekday: chrono::Weekday = workout["weekday"].as_str().unwrap().parse().unwrap();
            let day = i64::from(weekday.num_days_from_monday());
            let date = start + chrono::Duration::days((week_number - 1) * 7 + day);
            let key = (
                date.to_string(),
                workout["name"].as_str().unwrap().to_string(),
            );
            assert!(workouts.insert(key, steps).is_none(), "one name per day");
        }
    }
    workouts
}

fn ridden(kind: &str, step: &Value) -> Ridden {
    let seconds = (step["duration_min"].as_f64().unwrap() * 60.0).round() as u64;
    let low = step["power_low_pct"].as_f64().unwrap() / 100.0;
    let high = step["power_high_pct"].as_f64().unwrap_or(low * 100.0) / 100.0;
    match kind {
        "warmup" => (seconds, low, high),
        "cooldown" => (seconds, high, low),
        _ => (seconds, (low + high) / 2.0, (low + high) / 2.0),
    }
}

fn number(node: roxmltree::Node<'_, '_>, name: &str) -> f64 {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
        .parse()
        .unwrap()
}

/// Reads one `.zwo` file: checks every element and attribute against the allow-list and
/// returns the workout's name and its steps as Zwift rides them.
fn read_zwo(name: &str, bytes: &[u8]) -> (String, Vec<Ridden>) {
    let text = std::str::from_utf8(bytes).unwrap();
    let document =
        roxmltree::Document::parse(text).unwrap_or_else(|err| panic!("{name}: {err}\n{text}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "workout_file", "{name}");
    for node in root.descendants().filter(roxmltree::Node::is_element) {
        let tag = node.tag_name().name();
        let allowed = ZWIFT_ALLOW_LIST
            .iter()
            .find(|(element, _)| *element == tag)
            .unwrap_or_else(|| panic!("{name}: <{tag}> is not one of Zwift's elements"))
            .1;
        for attribute in node.attributes() {
            assert!(
                allowed.contains(&attribute.name()),
                "{name}: <{tag} {}> is not one of Zwift's attributes",
                attribute.name()
            );
        }
    }
    let child = |tag: &str| {
        root.children()
            .find(|node| node.has_tag_name(tag))
            .unwrap_or_else(|| panic!("{name}: no <{tag}>"))
    };
    assert_eq!(child("sportType").text(), Some("bike"), "{name}");
    assert!(!child("author").text().unwrap_or("").is_empty(), "{name}");
    let mut steps = Vec::new();
    for block in child("workout")
        .children()
        .filter(roxmltree::Node::is_element)
    {
        match block.tag_name().name() {
            "Warmup" | "Cooldown" | "Ramp" => steps.push((
                number(block, "Duration") as u64,
                number(block, "PowerLow"),
                number(block, "PowerHigh"),
            )),
            "SteadyState" => {
                let power = number(block, "Power");
                steps.push((number(block, "Duration") as u64, power, power));
            }
            "IntervalsT" => {
                let (on, off) = (number(block, "OnPower"), number(block, "OffPower"));
                for _ in 0..number(block, "Repeat") as u64 {
                    steps.push((number(block, "OnDuration") as u64, on, on));
                    steps.push((number(block, "OffDuration") as u64, off, off));
                }
            }
            other => panic!("{name}: unexpected block <{other}>"),
        }
    }
    (child("name").text().unwrap_or("").to_string(), steps)
}

pub(crate) fn same_steps(file: &str, exported: &[Ridden], planned: &[Ridden]) {
    let total = |steps: &[Ridden]| steps.iter().map(|step| step.0).sum::<u64>();
    assert_eq!(total(exported), total(planned), "{file}: total seconds");
    assert_eq!(exported.len(), planned.len(), "{file}: steps");
    for (index, (got, want)) in exported.iter().zip(planned).enumerate() {
        assert_eq!(got.0, want.0, "{file}: step {index} seconds");
        assert!(
            (got.1 - want.1).abs() < 1e-9 && (got.2 - want.2).abs() < 1e-9,
            "{file}: step {index} power {got:?}, planned {want:?}"
        );
    }
}

/// Exports `plan_path` into `out` and checks every file against the plan (`plan`, the plan
/// itself, not a report): one file per workout, a name every file system takes, Zwift's
/// vocabulary only, the plan's time and power step by step. Returns the files and how many
/// hold an `IntervalsT`.
fn export_and_check(
    sandbox: &Sandbox,
    plan_path: &Path,
    plan: &Value,
    out: &str,
) -> (BTreeMap<String, Vec<u8>>, usize) {
    let planned = plan_workouts(plan);
    let output = export(sandbox, plan_path, out, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = files(&sandbox.path(out));
    assert_eq!(exported.len(), planned.len(), "one file per workout");
    let mut intervals = 0;
    for (file, bytes) in &exported {
        assert!(
            file.len() <= 80
                && file.ends_with(".zwo")
                && file
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b)),
            "{file}: not a name every file system takes"
        );
        let (name, steps) = read_zwo(file, bytes);
        let date = &file[..10];
        let planned_steps = planned
            .get(&(date.to_string(), name.clone()))
            .unwrap_or_else(|| panic!("{file}: no workout {name:?} on {date} in the plan"));
        same_steps(file, &steps, planned_steps);
        intervals += usize::from(String::from_utf8_lossy(bytes).contains("<IntervalsT"));
    }
    (exported, intervals)
}

/// The acceptance of the zwo slice of issue 10 on a real 12-week plan: one file per workout,
/// Zwift's vocabulary only, the plan's time and power step by step, the coach's flat intervals
/// as `IntervalsT`, identical bytes on a second export.
#[test]
fn a_12_week_plan_exports_one_zwift_workout_per_session_with_the_plans_time_and_power() {
    let sandbox = Sandbox::new();
    let plan_path = plan(&sandbox);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let (exported, intervals) = export_and_check(&sandbox, &plan_path, &plan, "zwift");
    assert!(
        intervals > 0,
        "the coach's interval sessions become IntervalsT"
    );

    // A second export rewrites every file with the same bytes.
    let again = export(&sandbox, &plan_path, "zwift", &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(files(&sandbox.path("zwift")), exported);
}

/// The seed's 12-week Phase 4 report (its first athlete's plan, given a start date) exports
/// its `sets` repeats as `IntervalsT`, 10 s sprints included, with the plan's time and power.
#[test]
fn the_seeds_report_with_a_start_date_exports_its_repeats_as_intervals() {
    let sandbox = Sandbox::new();
    let mut report: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("seed/report_data_12wk_llm.json")).unwrap(),
    )
    .unwrap();
    report["athletes"][0]["training_plan"]["plan_metadata"]["start_date"] =
        Value::from("2027-01-04");
    let path = sandbox.write("report_data.json", &report.to_string());
    let plan = &report["athletes"][0]["training_plan"];
    let (_, intervals) = export_and_check(&sandbox, &path, plan, "seed");
    assert!(intervals > 0, "the seed's repeats become IntervalsT");
}

/// `--from` and `--to` keep the workouts on those days and between them, and no other.
#[test]
fn from_and_to_export_only_the_workouts_between_them() {
    let sandbox = Sandbox::new();
    let plan_path = plan(&sandbox);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let dates: Vec<String> = plan_workouts(&plan).into_keys().map(|key| key.0).collect();
    // The second week's first and last workout days.
    let week_two = plan["weekly_plan"][1]["workouts"].as_array().unwrap();
    let day = |index: usize| week_two[index]["date"].as_str().unwrap();
    let (from, to) = (day(0), day(week_two.len() - 1));
    let output = export(&sandbox, &plan_path, "part", &["--from", from, "--to", to]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut exported: Vec<String> = files(&sandbox.path("part"))
        .into_keys()
        .map(|name| name[..10].to_string())
        .collect();
    exported.sort();
    let mut wanted: Vec<String> = dates
        .iter()
        .filter(|date| from <= date.as_str() && date.as_str() <= to)
        .cloned()
        .collect();
    wanted.sort();
    assert_eq!(exported, wanted);
    assert_eq!(exported.len(), week_two.len());
}

/// Bad input exits 2 naming the flag and the value, before anything is written.
#[test]
fn bad_export_input_exits_2_naming_the_flag_and_value_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let plan_path = plan(&sandbox);
    let missing = sandbox.path("missing.json");
    let seed_report = fixture("seed/report_data_4wk_llm.json");
    let cases: Vec<(PathBuf, Vec<&str>, &str, &str)> = vec![
        (
            missing.clone(),
            vec!["--format", "zwo"],
            "plan file",
            "missing.json",
        ),
        (
            plan_path.clone(),
            vec!["--format", "gpx"],
            "--format",
            "\"gpx\"",
        ),
        (
            plan_path.clone(),
            vec!["--format", "zwo", "--from", "2027-02-30"],
            "--from",
            "\"2027-02-30\"",
        ),
        (
            plan_path.clone(),
            vec!["--format", "zwo", "--to", "soon"],
            "--to",
            "\"soon\"",
        ),
        (
            plan_path.clone(),
            vec![
                "--format",
                "zwo",
                "--from",
                "2027-03-10",
                "--to",
                "2027-03-01",
            ],
            "--to",
            "is before --from 2027-03-10",
        ),
        (
            seed_report,
            vec!["--format", "zwo"],
            "plan file",
            "plan_metadata.start_date",
        ),
    ];
    for (plan, flags, flag, value) in cases {
        let plan = plan.display().to_string();
        let mut args = vec!["export", plan.as_str(), "--out", "never"];
        args.extend(flags.iter().copied());
        let output = sandbox.run(&args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(
            message.contains(flag) && message.contains(value),
            "{args:?}: {message}"
        );
        assert!(!sandbox.path("never").exists(), "{args:?} wrote files");
    }
    // An --out that is a file, not a directory, is refused and left as it was.
    let file = sandbox.write("a-file", "keep");
    let output = export(&sandbox, &plan_path, &file.display().to_string(), &[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("--out") && message.contains("a-file"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
}
