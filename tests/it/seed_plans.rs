//! `periodize validate` on plan files in the seed's output format (the `finalize_training_plan`
//! shape: derived `athlete_profile`, `plan_metadata`, `weekly_plan` of merged overview entries
//! and workouts without names), in each variant the seed wrote over its history.

use expect_test::expect;
use serde_json::{json, Value};

use crate::support::{fixture, stderr, stdout, Sandbox};

fn seed_plan() -> Value {
    let text = std::fs::read_to_string(fixture("plans/seed_plan.json")).expect("seed fixture");
    serde_json::from_str(&text).expect("seed fixture is JSON")
}

/// Writes `plan` into a sandbox and validates it with `--json`: (exit code, report).
#[track_caller]
fn validate_json(plan: &Value) -> (Option<i32>, Value) {
    let sandbox = Sandbox::new();
    let path = sandbox.write("plan.json", &plan.to_string());
    let output = sandbox.run(&["validate", path.to_str().unwrap(), "--json"]);
    let report = serde_json::from_str(&stdout(&output)).unwrap_or_else(|err| {
        panic!(
            "--json report ({err}): {}{}",
            stdout(&output),
            stderr(&output)
        )
    });
    (output.status.code(), report)
}

/// The violations of a report as (severity, path, message).
fn violations(report: &Value) -> Vec<(String, String, String)> {
    report["violations"]
        .as_array()
        .expect("violations array")
        .iter()
        .map(|v| {
            (
                v["severity"].as_str().unwrap().to_string(),
                v["path"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[track_caller]
fn assert_clean(plan: &Value, what: &str) {
    let (code, report) = validate_json(plan);
    assert_eq!(
        (code, &report["errors"], &report["warnings"]),
        (Some(0), &json!(0), &json!(0)),
        "{what}: {:#?}",
        violations(&report)
    );
}

#[test]
fn the_seed_plan_fixture_is_valid() {
    let sandbox = Sandbox::new();
    let path = fixture("plans/seed_plan.json").display().to_string();
    let output = sandbox.run(&["validate", &path]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).ends_with("seed_plan.json: 0 error(s), 0 warning(s)\n"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn each_problem_of_the_broken_seed_plan_is_reported_inside_weekly_plan() {
    let sandbox = Sandbox::new();
    let path = fixture("plans/seed_plan_broken.json").display().to_string();
    let output = sandbox.run(&["validate", &path, "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"], 3, "{:#?}", violations(&report));
    assert_eq!(report["warnings"], 0, "{:#?}", violations(&report));
    let found = violations(&report);
    let find = |path: &str| {
        found
            .iter()
            .find(|(severity, p, _)| severity == "error" && p == path)
            .map(|(_, _, message)| message.as_str())
            .unwrap_or_else(|| panic!("no error at {path}: {found:#?}"))
    };

    let off_day = find("weekly_plan[0].workouts[0].weekday");
    assert!(
        off_day.contains("week 1") && off_day.contains("Monday"),
        "{off_day}"
    );
    assert!(
        off_day.contains("Tuesday, Thursday, Saturday, Sunday"),
        "{off_day}"
    );

    let power = find("weekly_plan[1].workouts[0].segments[1].power_high_pct");
    assert!(
        power.contains("power_high_pct 95") && power.contains("power_low_pct 105"),
        "{power}"
    );

    let hours = find("weekly_plan[2].workouts");
    for number in ["5.60 h", "4 h", "40.0%", "20.0%"] {
        assert!(hours.contains(number), "{number} in {hours}");
    }
}

#[test]
fn human_report_of_the_broken_seed_plan() {
    let sandbox = Sandbox::new();
    let text = std::fs::read_to_string(fixture("plans/seed_plan_broken.json")).unwrap();
    sandbox.write("seed_plan_broken.json", &text);
    let output = sandbox.run(&["validate", "seed_plan_broken.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    expect![[r#"
        error: weekly_plan[0].workouts[0].weekday: week 1: Monday is not a training day of this week (training days: Tuesday, Thursday, Saturday, Sunday)
        error: weekly_plan[1].workouts[0].segments[1].power_high_pct: week 2 Tuesday: power_high_pct 95 is below power_low_pct 105
        error: weekly_plan[2].workouts: week 3 (Build): workouts total 5.60 h, the overview planned 4 h (off by 40.0%; warn above 10.0%, fail above 20.0%)
        seed_plan_broken.json: 3 error(s), 0 warning(s)
    "#]]
    .assert_eq(&stdout(&output));
}

#[test]
fn the_seed_input_profile_form_is_read_too() {
    let mut plan = seed_plan();
    plan["athlete_profile"] = json!({
        "name": "Marta Kowal",
        "age": 38,
        "weight": "62kg",
        "FTP": "240w",
        "critical_HR": 181,
        "gender": "female",
        "training_availability": {"hours_per_week": 6, "week_days": "Sunday, Saturday, Thursday, Tuesday"},
        "goals": "Raise FTP to 250 W",
        "training_plan_weeks": 4
    });
    assert_clean(&plan, "seed input profile");
}

#[test]
fn a_bad_derived_profile_field_is_named_as_written() {
    let mut plan = seed_plan();
    plan["athlete_profile"]["ftp"] = json!(20);
    let (code, report) = validate_json(&plan);
    assert_eq!(code, Some(1));
    let found = violations(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].1, "athlete_profile");
    assert!(found[0].2.contains("`ftp` = 20"), "{}", found[0].2);
}

/// The first three-phase seed overviews had day counts but no `training_days`: the days with a
/// workout are the training days.
#[test]
fn weeks_without_training_days_take_the_days_of_their_workouts() {
    let mut plan = seed_plan();
    for week in plan["weekly_plan"].as_array_mut().unwrap() {
        week.as_object_mut().unwrap().remove("training_days");
    }
    assert_clean(&plan, "no training_days");

    // The counts still have to agree with the days found.
    plan["weekly_plan"][3]["easy_days"] = json!(4);
    let (code, report) = validate_json(&plan);
    assert_eq!(code, Some(1));
    let paths: Vec<String> = violations(&report).into_iter().map(|v| v.1).collect();
    assert!(
        paths.contains(&"weekly_plan[3].hard_days".to_string()),
        "{paths:?}"
    );
}

/// Later seed overviews list all seven days as objects, `workout_type` (one) or
/// `workout_types` (a list), and drop the day counts.
#[test]
fn training_days_as_day_objects_with_or_without_counts() {
    for plural in [false, true] {
        let mut plan = seed_plan();
        for week in plan["weekly_plan"].as_array_mut().unwrap() {
            let days: Vec<String> = week["training_days"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
                .collect();
            let mut hard_left = week["hard_days"].as_i64().unwrap();
            let objects: Vec<Value> = [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ]
            .iter()
            .map(|day| {
                let kind = if !days.iter().any(|d| d == day) {
                    "rest"
                } else if hard_left > 0 {
                    hard_left -= 1;
                    "threshold"
                } else {
                    "endurance"
                };
                if plural {
                    json!({"weekday": day, "workout_types": [kind.to_uppercase()]})
                } else {
                    json!({"weekday": day, "workout_type": kind})
                }
            })
            .collect();
            let object = week.as_object_mut().unwrap();
            object.insert("training_days".into(), Value::Array(objects));
            if plural {
                for key in ["hard_days", "easy_days", "rest_days"] {
                    object.remove(key);
                }
            }
        }
        assert_clean(
            &plan,
            if plural {
                "workout_types"
            } else {
                "workout_type"
            },
        );

        // A workout on a day the overview marks as rest is on a non-training day.
        plan["weekly_plan"][3]["workouts"][0]["weekday"] = json!("Wednesday");
        let (code, report) = validate_json(&plan);
        assert_eq!(code, Some(1));
        let found = violations(&report);
        assert!(
            found.iter().any(
                |(_, path, message)| path == "weekly_plan[3].workouts[0].weekday"
                    && message.contains("Wednesday is not a training day")
            ),
            "{found:#?}"
        );
    }
}

/// Gemini sends every number as a float and the seed stored them as received; phases may come
/// in any case.
#[test]
fn whole_floats_and_phase_casing_are_accepted() {
    let mut plan = seed_plan();
    plan["plan_metadata"]["total_weeks"] = json!(4.0);
    for (index, week) in plan["weekly_plan"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        week["week_number"] = json!((index + 1) as f64);
        for key in ["hard_days", "easy_days", "rest_days"] {
            week[key] = json!(week[key].as_i64().unwrap() as f64);
        }
        let phase = week["phase"].as_str().unwrap().to_string();
        week["phase"] = json!(if index % 2 == 0 {
            phase.to_lowercase()
        } else {
            phase.to_uppercase()
        });
        for workout in week["workouts"].as_array_mut().unwrap() {
            for segment in workout["segments"].as_array_mut().unwrap() {
                segment["duration_min"] = json!(segment["duration_min"].as_i64().unwrap() as f64);
            }
        }
    }
    assert_clean(&plan, "floats and casing");
}

/// The seed's Phase 4 `report_data.json` holds its plans at `athletes[].training_plan`:
/// `validate` checks each, says whose it checked, and puts the report's path on every finding.
#[test]
fn a_phase_4_report_is_checked_plan_by_plan() {
    let text = std::fs::read_to_string(fixture("seed/report_data_4wk_llm.json")).unwrap();
    let mut report: Value = serde_json::from_str(&text).unwrap();
    let (code, checked) = validate_json(&report);
    assert_eq!(code, Some(0), "{checked}");
    assert_eq!(
        checked["checked"],
        json!(["athletes[0].training_plan (Athlete_Name)"])
    );
    let found = violations(&checked);
    // The real plan's week 3 rides 6.93 h of its planned 8 h, and its recovery week 4 is only
    // 14-22 % lighter than the load weeks before it: two true warnings, with their paths.
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "warning");
    assert_eq!(
        found[0].1,
        "athletes[0].training_plan.weekly_plan[2].workouts"
    );
    assert!(found[0].2.contains("6.93 h"), "{}", found[0].2);
    assert_eq!(found[1].0, "warning");
    assert_eq!(found[1].1, "athletes[0].training_plan.weekly_plan[3]");
    for part in [
        "recovery_week: week 4 (Recovery)",
        "5.53 h",
        "231.5 TSS",
        "30.0%",
    ] {
        assert!(found[1].2.contains(part), "{part} in {}", found[1].2);
    }

    let sandbox = Sandbox::new();
    let path = sandbox.write("report_data.json", &text);
    let output = sandbox.run(&["validate", path.to_str().unwrap()]);
    assert!(
        stdout(&output).starts_with("checked athletes[0].training_plan (Athlete_Name)\n"),
        "{}",
        stdout(&output)
    );

    // A second athlete without a plan is an error naming where.
    let athletes = report["athletes"].as_array_mut().unwrap();
    athletes.push(json!({"name": "Nobody"}));
    let (code, checked) = validate_json(&report);
    assert_eq!(code, Some(1));
    assert!(violations(&checked)
        .iter()
        .any(|(severity, path, _)| severity == "error" && path == "athletes[1].training_plan"));
    let (code, checked) = validate_json(&json!({"athletes": []}));
    assert_eq!(code, Some(1));
    assert_eq!(violations(&checked)[0].1, "athletes");
}
