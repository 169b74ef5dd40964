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
        week 1: 227.3 TSS (planned 220 TSS), 5.33 h (planned 5 h)
        week 2: 267.1 TSS (planned 270 TSS), 5.50 h (planned 5.5 h)
        week 3: 288.4 TSS (planned 290 TSS), 5.60 h (planned 4 h)
        week 4: 133.3 TSS (planned 135 TSS), 3.50 h (planned 3.5 h)
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

/// The seed's real 12-week plan writes its interval sets as repeats (`sets` × `work` and
/// `recovery`, the outer `duration_min` the whole block, 10 s sprints as 0.17 min). Each week's
/// TSS is the expanded figure, within 1 % of a sum over the expanded steps done by hand
/// (python over the file: hours × IF² × 100, IF the midpoint); the flat reading counted the
/// outer block instead (week 7: 518). A TSS warning is raised exactly for the weeks whose
/// expanded figure is off its target by more than the warning threshold.
#[test]
fn the_seeds_12_week_plan_is_read_with_its_repeats_expanded() {
    const EXPECTED_TSS: [f64; 12] = [
        321.4, 335.9, 338.9, 242.9, 356.2, 347.6, 356.8, 254.0, 345.0, 315.2, 289.7, 242.5,
    ];
    let text = std::fs::read_to_string(fixture("seed/report_data_12wk_llm.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    let (code, checked) = validate_json(&file);
    assert_eq!(code, Some(0), "{checked:#}");
    assert_eq!(
        checked["checked"],
        json!(["athletes[0].training_plan (Tom)"])
    );
    let weeks = checked["weeks"]
        .as_array()
        .expect("the report has each week");
    assert_eq!(weeks.len(), 12);
    let found = violations(&checked);
    let plan = &file["athletes"][0]["training_plan"]["weekly_plan"];
    for (index, (week, expected)) in weeks.iter().zip(EXPECTED_TSS).enumerate() {
        assert_eq!(week["week_number"], index + 1);
        let tss = week["tss"].as_f64().unwrap();
        assert!(
            (tss - expected).abs() <= expected * 0.01,
            "week {}: {tss} TSS, expected {expected}",
            index + 1
        );
        let target = plan[index]["target_tss"].as_f64().unwrap();
        assert_eq!(week["target_tss"], target);
        let unloading = ["Recovery", "Taper"].contains(&plan[index]["phase"].as_str().unwrap());
        let warn_above = if unloading { 0.12 } else { 0.15 };
        let off = (tss - target).abs() / target;
        let tss_findings: Vec<_> = found
            .iter()
            .filter(|(_, path, message)| {
                path == &format!("athletes[0].training_plan.weekly_plan[{index}].workouts")
                    && message.contains(" TSS")
            })
            .collect();
        if off > warn_above {
            assert_eq!(tss_findings.len(), 1, "week {}: {found:#?}", index + 1);
            assert_eq!(tss_findings[0].0, "warning");
            assert!(
                tss_findings[0].2.contains(&format!("{tss:.1} TSS")),
                "{}",
                tss_findings[0].2
            );
        } else {
            assert!(
                tss_findings.is_empty(),
                "week {}: {tss_findings:#?}",
                index + 1
            );
        }
    }
    // Week 7 is 17 % under its target, not 20.5 % over it.
    assert!(found.iter().any(|(_, path, message)| path
        == "athletes[0].training_plan.weekly_plan[6].workouts"
        && message.contains("356.9 TSS")
        && message.contains("off by 17.0%")));
    // Fractional minutes read, with a warning naming the field; an outer block that disagrees
    // with its repeat names both figures.
    assert!(found.contains(&(
        "warning".to_string(),
        "athletes[0].training_plan.weekly_plan[0].workouts[2].segments[5].duration_min".to_string(),
        "week 1 Friday: duration_min = 6.34 is not whole minutes".to_string()
    )));
    assert!(found.contains(&(
        "warning".to_string(),
        "athletes[0].training_plan.weekly_plan[6].workouts[3].segments[1].duration_min".to_string(),
        "week 7 Saturday: duration_min is 100, but the repeat 4 x (10 + 5) lasts 60 min; the repeat is what counts".to_string()
    )));
    assert!(found.iter().all(|(severity, _, _)| severity == "warning"));

    // The text report shows each week's figures too.
    let sandbox = Sandbox::new();
    let path = sandbox.write("report_data.json", &text);
    let output = sandbox.run(&["validate", path.to_str().unwrap()]);
    assert!(
        stdout(&output).contains(
            "athletes[0].training_plan week 7: 356.9 TSS (planned 430 TSS), 6.18 h (planned 7.6 h)\n"
        ),
        "{}",
        stdout(&output)
    );
}

/// Any type error in a plan file names its field, and the rules still run on the rest.
#[test]
fn a_type_error_in_a_plan_file_names_its_field() {
    let mut plan = seed_plan();
    plan["weekly_plan"][1]["workouts"][0]["segments"][1]["power_low_pct"] = json!(true);
    plan["weekly_plan"][2]["workouts"][1]["segments"][0]["sets"] = json!(2.5);
    plan["weekly_plan"][2]["workouts"][1]["segments"][0]["work"] =
        json!({"duration_min": 1, "power_low_pct": 90, "description": ""});
    let (code, report) = validate_json(&plan);
    assert_eq!(code, Some(1));
    let paths: Vec<String> = violations(&report).into_iter().map(|v| v.1).collect();
    assert_eq!(
        paths,
        [
            "weekly_plan[1].workouts[0].segments[1].power_low_pct",
            "weekly_plan[2].workouts[1].segments[0].sets"
        ]
    );
}

/// The subset of draft-07 the seed's output schema uses: `type` (one or a list), `required`,
/// `properties`, `items`, `enum`, `minimum`, `maximum`, `minItems`. Every failure with its path.
fn schema_errors(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let type_of = |value: &Value| match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if let Some(wanted) = schema.get("type") {
        let wanted: Vec<&str> = match wanted {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            other => panic!("{path}: unexpected type keyword {other}"),
        };
        let found = type_of(value);
        // An integer is a number too.
        let fits = wanted.contains(&found) || (found == "integer" && wanted.contains(&"number"));
        if !fits {
            errors.push(format!("{path}: is {found} {value}, expected {wanted:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64) {
            if number < minimum {
                errors.push(format!("{path}: {number} is below {minimum}"));
            }
        }
        if let Some(maximum) = schema.get("maximum").and_then(Value::as_f64) {
            if number > maximum {
                errors.push(format!("{path}: {number} is above {maximum}"));
            }
        }
    }
    if let Value::Object(object) = value {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(key) {
                errors.push(format!("{path}: `{key}` is missing"));
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (key, child) in properties {
                if let Some(inner) = object.get(key) {
                    schema_errors(child, inner, &format!("{path}.{key}"), errors);
                }
            }
        }
    }
    if let Value::Array(items) = value {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                errors.push(format!("{path}: {} items, at least {min}", items.len()));
            }
        }
        if let Some(item_schema) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                schema_errors(item_schema, item, &format!("{path}[{index}]"), errors);
            }
        }
    }
}

/// The walker finds what it should: it is what the next test relies on.
#[test]
fn the_schema_walker_reports_each_failure_with_its_path() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("seed/training_plan_output_schema.json")).unwrap(),
    )
    .unwrap();
    let mut errors = Vec::new();
    schema_errors(
        &schema,
        &json!({"athlete_profile": {"name": "x", "age": 30.5}, "plan_metadata": {}, "coaching_notes": "",
                "monitoring_guidance": "", "weekly_plan": [{"week_number": 1, "phase": "Build", "phase_rationale": "",
                "weekly_focus": "", "weekly_watch_points": "", "workouts": [{"weekday": "Funday", "description": "",
                "segments": [{"type": "steady", "duration_min": 6.34, "power_low_pct": 60, "power_high_pct": null, "description": ""}]}]}]}),
        "plan",
        &mut errors,
    );
    for expected in [
        "plan.athlete_profile: `ftp` is missing",
        "plan.athlete_profile.age: is number 30.5, expected [\"integer\"]",
        "plan.plan_metadata: `plan_type` is missing",
        "plan.weekly_plan[0].workouts[0].weekday: \"Funday\" is not one of",
        "plan.weekly_plan[0].workouts[0].segments[0].duration_min: is number 6.34, expected [\"integer\"]",
        "plan.weekly_plan[0].workouts[0].segments[0].power_high_pct: is null null, expected [\"number\"]",
    ] {
        assert!(
            errors.iter().any(|error| error.starts_with(expected)),
            "{expected} in {errors:#?}"
        );
    }
}

/// A plan file we write loads in the seed's Phase 4: it satisfies the seed's output schema
/// (required keys, types, enums and bounds at every level), and `validate` still reads it.
#[test]
fn a_plan_file_we_write_satisfies_the_seeds_output_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("seed/training_plan_output_schema.json")).unwrap(),
    )
    .unwrap();
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let output = sandbox.run(&["generate", "--profile", &profile, "--weeks", "12", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let finished: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    let path = finished["path"].as_str().unwrap();
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut errors = Vec::new();
    schema_errors(&schema, &plan, "plan", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    // What the seed's viewer reads, with the athlete's own numbers.
    let athlete = &plan["athlete_profile"];
    assert_eq!(athlete["ftp"], 232.0);
    assert_eq!(athlete["power_to_weight"], 3.65);
    assert_eq!(athlete["training_availability"]["hours_per_week"], 8.0);
    assert_eq!(
        athlete["training_availability"]["week_days"],
        "Tuesday, Wednesday, Thursday, Saturday, Sunday"
    );
    // Our own keys stay, and the file still validates.
    assert_eq!(athlete["ftp_w"], 232.0);
    let validated = sandbox.run(&["validate", path]);
    assert_eq!(validated.status.code(), Some(0), "{}", stdout(&validated));
}

/// How short a sprint above 200 % FTP must be is a setting: with none allowed, the seed's
/// 10 s sprints at 250-300 % are errors naming the step; an allowance above a minute is refused.
#[test]
fn the_sprint_allowance_is_a_setting() {
    let sandbox = Sandbox::new();
    let path = fixture("seed/report_data_12wk_llm.json")
        .display()
        .to_string();
    let output = sandbox.run(&["validate", &path, "--json", "--sprint-max-s", "0"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let found = violations(&report);
    assert!(
        found.contains(&(
            "error".to_string(),
            "athletes[0].training_plan.weekly_plan[0].workouts[2].segments[5].work.power_low_pct"
                .to_string(),
            "week 1 Friday: power_low_pct is 250, must be between 0 and 200".to_string()
        )),
        "{found:#?}"
    );
    let refused = sandbox.run(&["validate", &path, "--sprint-max-s", "61"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("--sprint-max-s") && stderr(&refused).contains("61"),
        "{}",
        stderr(&refused)
    );
}
