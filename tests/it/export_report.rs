//! `periodize export --format html` and `--format report-data` end to end, on the built-in
//! coach's 12-week plan and on the seed's 12-week report: the HTML report read back as markup
//! (every week and workout present with its name escaped, every chart well-formed XML, one
//! power profile per workout whose steps are the plan's, nothing fetched from anywhere), the
//! report data read back as JSON (every path the seed's viewer reads, with its type; the
//! plan's weeks, workouts and steps) and by our own reader (the same plan again), and both
//! byte-identical on a second export.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::export::{plan, plan_workouts, same_steps, Ridden};
use crate::support::{fixture, stderr, stdout, Sandbox};

/// Every path the seed's viewer (`training_plan_viewer.html`) reads from a report, with the
/// JSON types its script handles there: `[]` is every item of an array. From its `loadAthlete`
/// (profile, metadata, notes: `.toFixed` needs a number, `||` tolerates `null`),
/// `renderCalendar` (`week.phase.toLowerCase()` needs a string) and `openWorkoutModal` and the
/// SVG writers (segment sums and power labels need numbers).
const VIEWER_PATHS: &[(&str, &[Kind])] = &[
    ("athletes", &[Kind::Array]),
    ("athletes[].training_plan", &[Kind::Object]),
    ("athletes[].training_plan.athlete_profile", &[Kind::Object]),
    (
        "athletes[].training_plan.athlete_profile.name",
        &[Kind::String],
    ),
    (
        "athletes[].training_plan.athlete_profile.age",
        &[Kind::Number, Kind::Null],
    ),
    (
        "athletes[].training_plan.athlete_profile.ftp",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.athlete_profile.weight_kg",
        &[Kind::Number, Kind::Null],
    ),
    (
        "athletes[].training_plan.athlete_profile.power_to_weight",
        &[Kind::Number, Kind::Null],
    ),
    (
        "athletes[].training_plan.plan_metadata.current_ftp",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.plan_metadata.target_ftp",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.plan_metadata.ftp_gain_watts",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.plan_metadata.ftp_gain_percent",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.plan_metadata.total_weeks",
        &[Kind::Number],
    ),
    ("athletes[].training_plan.coaching_notes", &[Kind::String]),
    (
        "athletes[].training_plan.monitoring_guidance",
        &[Kind::String],
    ),
    ("athletes[].training_plan.weekly_plan", &[Kind::Array]),
    (
        "athletes[].training_plan.weekly_plan[].week_number",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.weekly_plan[].phase",
        &[Kind::String],
    ),
    (
        "athletes[].training_plan.weekly_plan[].week_tss",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts",
        &[Kind::Array],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].weekday",
        &[Kind::String],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].name",
        &[Kind::String],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].description",
        &[Kind::String],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].detailed_description",
        &[Kind::String, Kind::Null],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].tss",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].intensity_zone",
        &[Kind::String],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].segments",
        &[Kind::Array],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].segments[].type",
        &[Kind::String],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].segments[].duration_min",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].segments[].power_low_pct",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].segments[].power_high_pct",
        &[Kind::Number],
    ),
    (
        "athletes[].training_plan.weekly_plan[].workouts[].segments[].description",
        &[Kind::String],
    ),
];

/// The viewer's weekday names: a workout on any other day is not drawn.
const VIEWER_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Array,
    Object,
    String,
    Number,
    Null,
}

fn kind(value: &Value) -> Option<Kind> {
    match value {
        Value::Array(_) => Some(Kind::Array),
        Value::Object(_) => Some(Kind::Object),
        Value::String(_) => Some(Kind::String),
        Value::Number(_) => Some(Kind::Number),
        Value::Null => Some(Kind::Null),
        Value::Bool(_) => None,
    }
}

/// Every value at `path` (`a.b[].c`, `[]` for each item of an array); a missing key fails.
fn values_at<'a>(root: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut found = vec![root];
    for part in path.split('.') {
        let (key, each) = match part.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (part, false),
        };
        found = found
            .into_iter()
            .map(|value| {
                value
                    .get(key)
                    .unwrap_or_else(|| panic!("{path}: no `{key}` in {value:.80}"))
            })
            .flat_map(|value| match (each, value) {
                (true, Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                (true, other) => panic!("{path}: `{key}` is not an array: {other:.80}"),
                (false, value) => vec![value],
            })
            .collect();
    }
    found
}

/// HTML-escapes text as any correct writer must for an element or a quoted attribute (the
/// test's own, not periodize's).
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Every `<svg>…</svg>` of a page (they do not nest), in order.
fn svg_fragments(html: &str) -> Vec<&str> {
    let mut fragments = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..]
            .find("</svg>")
            .unwrap_or_else(|| panic!("an <svg> is not closed"))
            + start
            + "</svg>".len();
        fragments.push(&rest[start..end]);
        rest = &rest[end..];
    }
    fragments
}

fn export(sandbox: &Sandbox, plan: &Path, format: &str, out: &str) -> PathBuf {
    let plan = plan.display().to_string();
    let output = sandbox.run(&["export", &plan, "--format", format, "--out", out]);
    assert!(output.status.success(), "{}", stderr(&output));
    sandbox.path(out)
}

/// The seed's 12-week Phase 4 report with a start date, as a file in the sandbox, and its plan.
fn seed_report(sandbox: &Sandbox) -> (PathBuf, Value) {
    let mut report: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("seed/report_data_12wk_llm.json")).unwrap(),
    )
    .unwrap();
    report["athletes"][0]["training_plan"]["plan_metadata"]["start_date"] =
        Value::from("2027-01-04");
    let path = sandbox.write("seed_report.json", &report.to_string());
    (path, report["athletes"][0]["training_plan"].clone())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The steps one profile chart draws, from its `data-` attributes, as fractions of FTP.
fn drawn_steps(svg: &roxmltree::Document<'_>) -> Vec<Ridden> {
    svg.descendants()
        .filter(|node| node.has_tag_name("g") && node.attribute("class") == Some("step"))
        .map(|group| {
            let number = |name: &str| -> f64 {
                group
                    .attribute(name)
                    .unwrap_or_else(|| panic!("a step has no {name}"))
                    .parse()
                    .unwrap()
            };
            (
                number("data-seconds") as u64,
                number("data-start-pct") / 100.0,
                number("data-end-pct") / 100.0,
            )
        })
        .collect()
}

/// Checks one exported HTML report against its plan: the page's frame (viewport, print
/// style, no script, nothing from the network), every week and workout present and escaped,
/// every chart well-formed, one power profile per workout drawing the plan's steps. Returns
/// the page.
fn check_report(html_path: &Path, plan: &Value) -> String {
    let html = std::fs::read_to_string(html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width"));
    assert!(html.contains("@media print"));
    // Self-contained: no script, no stylesheet, font or image from anywhere, no link out.
    let lower = html.to_ascii_lowercase();
    for forbidden in [
        "<script", "<link", "<iframe", "<img", "@import", "url(", "://",
    ] {
        assert!(!lower.contains(forbidden), "the report holds {forbidden:?}");
    }
    for attribute in [" src=", " href="] {
        for (at, _) in lower.match_indices(attribute) {
            let value = &lower[at + attribute.len()..];
            assert!(
                value.starts_with("\"#"),
                "{attribute} leaves the page: {:.60}",
                value
            );
        }
    }

    let weeks = plan["weekly_plan"].as_array().unwrap();
    for week in weeks {
        let number = week["week_number"].as_i64().unwrap();
        assert!(
            html.contains(&format!("id=\"week-{number}\""))
                && html.contains(&format!(" Week {number}</h2>")),
            "week {number} is missing"
        );
    }

    let fragments = svg_fragments(&html);
    let documents: Vec<roxmltree::Document<'_>> = fragments
        .iter()
        .map(|fragment| {
            roxmltree::Document::parse(fragment)
                .unwrap_or_else(|err| panic!("an SVG is not well-formed: {err}\n{fragment:.300}"))
        })
        .collect();
    let class_of = |document: &roxmltree::Document<'_>| {
        document
            .root_element()
            .attribute("class")
            .unwrap_or("")
            .to_string()
    };
    for chart in ["timeline", "bars", "load", "zone-share"] {
        assert!(
            documents
                .iter()
                .any(|document| class_of(document).split(' ').any(|class| class == chart)),
            "no {chart} chart"
        );
    }
    let profiles: Vec<&roxmltree::Document<'_>> = documents
        .iter()
        .filter(|document| {
            class_of(document)
                .split(' ')
                .any(|class| class == "profile")
        })
        .collect();

    // The page's order: by date, a day's workouts in the file's order.
    let steps_of = plan_workouts(plan);
    let mut planned: Vec<((String, String), &Vec<Ridden>)> = Vec::new();
    let mut by_week: Vec<&Value> = weeks.iter().collect();
    by_week.sort_by_key(|week| week["week_number"].as_i64());
    for week in by_week {
        let mut keys: Vec<(String, String)> = steps_of
            .keys()
            .filter(|(_, name)| {
                week["workouts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|workout| workout["name"] == name.as_str())
            })
            .cloned()
            .collect();
        keys.retain(|(date, _)| in_week(plan, week, date));
        keys.sort_by_key(|(date, name)| {
            let order = week["workouts"]
                .as_array()
                .unwrap()
                .iter()
                .position(|workout| workout["name"] == name.as_str());
            (date.clone(), order)
        });
        planned.extend(keys.into_iter().map(|key| {
            let steps = &steps_of[&key];
            (key, steps)
        }));
    }
    assert_eq!(planned.len(), steps_of.len(), "every workout has its week");
    assert_eq!(
        profiles.len(),
        planned.len(),
        "one power profile per workout"
    );
    for (((date, name), steps), profile) in planned.iter().zip(&profiles) {
        assert!(html.contains(&escaped(name)), "{date} {name:?} is missing");
        let label = profile.root_element().attribute("aria-label").unwrap();
        assert_eq!(label, format!("Power profile of {name}"), "{date}");
        same_steps(&format!("{date} {name}"), &drawn_steps(profile), steps);
        let zones = profile
            .descendants()
            .filter(|node| node.has_tag_name("polygon"))
            .count();
        assert!(zones >= steps.len(), "{date} {name}: every step is drawn");
    }
    html
}

/// Whether `date` falls in `week` of the plan (its Monday to its Sunday).
fn in_week(plan: &Value, week: &Value, date: &str) -> bool {
    let start = plan["plan_metadata"]["start_date"].as_str().unwrap();
    let start = chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap();
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    let week_number = week["week_number"].as_i64().unwrap();
    (date - start).num_days().div_euclid(7) + 1 == week_number
}

/// The HTML report of the built-in coach's 12-week plan: every week and workout, a power
/// profile per workout with the plan's steps, well-formed charts, nothing fetched, the plan
/// checks' verdict, byte-identical on a second export.
#[test]
fn the_html_report_of_a_12_week_plan_shows_every_week_and_workout_offline() {
    let sandbox = Sandbox::new();
    let plan_path = plan(&sandbox);
    let plan = read_json(&plan_path);
    let out = export(&sandbox, &plan_path, "html", "report");
    assert_eq!(
        crate::export::files(&out).into_keys().collect::<Vec<_>>(),
        vec!["report.html"]
    );
    let html = check_report(&out.join("report.html"), &plan);
    for text in [
        plan["coaching_notes"].as_str().unwrap(),
        plan["monitoring_guidance"].as_str().unwrap(),
        plan["athlete_profile"]["goals"].as_str().unwrap(),
    ] {
        assert!(html.contains(&escaped(text.trim())), "{text:.60}");
    }
    assert!(
        html.contains("find nothing to report"),
        "a clean plan says so"
    );
    let first = std::fs::read(out.join("report.html")).unwrap();
    export(&sandbox, &plan_path, "html", "report");
    assert_eq!(std::fs::read(out.join("report.html")).unwrap(), first);
    // The report describes the whole plan whatever the dates asked.
    let output = sandbox.run(&[
        "export",
        &plan_path.display().to_string(),
        "--format",
        "html",
        "--out",
        "part",
        "--from",
        plan["weekly_plan"][1]["start_date"].as_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        std::fs::read(sandbox.path("part/report.html")).unwrap(),
        first
    );
}

/// The seed's 12-week report (repeats, 10 s sprints, 30 warnings from the plan checks): every
/// week and workout, and every finding of `periodize validate` listed with its message.
#[test]
fn the_html_report_of_the_seeds_plan_lists_what_validate_finds() {
    let sandbox = Sandbox::new();
    let (path, plan) = seed_report(&sandbox);
    let out = export(&sandbox, &path, "html", "report");
    let html = check_report(&out.join("report.html"), &plan);
    let output = sandbox.run(&["validate", &path.display().to_string(), "--json"]);
    let checked: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let violations = checked["violations"].as_array().unwrap();
    assert!(violations.len() > 10, "the seed's plan has warnings");
    for violation in violations {
        let message = violation["message"].as_str().unwrap();
        // A rule's name leads its message; the report shows it apart.
        let words = match message.split_once(": ") {
            Some((rule, rest)) if !rule.contains(' ') => rest,
            _ => message,
        };
        assert!(html.contains(&escaped(words)), "{message}");
    }
    // Listed once in the plan checks, and again in its week when it is about one.
    let about_a_week = violations
        .iter()
        .filter(|violation| {
            violation["path"]
                .as_str()
                .unwrap()
                .contains(".weekly_plan[")
        })
        .count();
    assert_eq!(
        html.matches("<li class=\"warning\">").count(),
        violations.len() + about_a_week,
        "every warning is listed in the plan checks and in its week"
    );
}

/// Names and notes are text, not markup: a hostile workout name and coaching notes come out
/// escaped, and every chart still parses.
#[test]
fn plan_text_is_escaped_everywhere_in_the_html_report() {
    let sandbox = Sandbox::new();
    let plan_path = plan(&sandbox);
    let mut plan = read_json(&plan_path);
    let hostile = "<script>alert('x')</script> & \"<svg onload=1>\"";
    plan["weekly_plan"][0]["workouts"][0]["name"] = Value::from(hostile);
    plan["weekly_plan"][0]["workouts"][0]["segments"][0]["description"] = Value::from(hostile);
    plan["coaching_notes"] = Value::from(format!("{hostile}\n\n</style><b>bold</b>"));
    plan["athlete_profile"]["name"] = Value::from("Ana </title><i>");
    let path = sandbox.write("hostile.json", &plan.to_string());
    let out = export(&sandbox, &path, "html", "report");
    let html = check_report(&out.join("report.html"), &plan);
    for raw in ["<script", "<svg onload", "<b>bold", "</title><i>"] {
        assert!(!html.contains(raw), "{raw} is written as markup");
    }
    assert!(html.contains(&escaped(hostile)));
}

/// The report data of the 12-week plan: every path the seed's viewer reads, with its type;
/// the plan's weeks, workouts and steps; read back by our reader as the same plan (its `.zwo`
/// files are the plan's own, byte for byte, and it validates as cleanly); byte-identical on a
/// second export.
#[test]
fn the_report_data_has_what_the_seeds_viewer_reads_and_reads_back_as_the_plan() {
    let sandbox = Sandbox::new();
    let plan_path = plan(&sandbox);
    let plan = read_json(&plan_path);
    let out = export(&sandbox, &plan_path, "report-data", "report");
    let report_path = out.join("report_data.json");
    let report = read_json(&report_path);
    check_viewer_paths(&report);
    let written_plan = &report["athletes"][0]["training_plan"];
    assert_eq!(
        written_plan["plan_metadata"]["start_date"],
        plan["plan_metadata"]["start_date"]
    );
    let (want, got) = (plan_workouts(&plan), plan_workouts(written_plan));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (key, steps) in &want {
        same_steps(&format!("{key:?}"), &got[key], steps);
    }
    assert_eq!(
        written_plan["weekly_plan"].as_array().unwrap().len(),
        plan["weekly_plan"].as_array().unwrap().len()
    );

    // Our reader takes it back as the same plan, field for field.
    let model = |path: &Path| {
        periodize::export::model::from_plan_text(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    assert_eq!(model(&report_path), model(&plan_path));
    let zwo_of_plan = crate::export::files(&export(&sandbox, &plan_path, "zwo", "zwo-plan"));
    let zwo_of_report = crate::export::files(&export(&sandbox, &report_path, "zwo", "zwo-report"));
    assert!(!zwo_of_plan.is_empty());
    assert_eq!(zwo_of_report, zwo_of_plan);
    let output = sandbox.run(&["validate", &report_path.display().to_string()]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("0 error(s), 0 warning(s)"),
        "{}",
        stdout(&output)
    );

    let first = std::fs::read(&report_path).unwrap();
    export(&sandbox, &plan_path, "report-data", "report");
    assert_eq!(std::fs::read(&report_path).unwrap(), first);
}

/// The seed's own report, read and written again: the viewer's paths, the plan's steps (its
/// `sets` repeats and 10 s sprints), and the same `.zwo` files from the written report as from
/// the seed's.
#[test]
fn the_seeds_report_written_again_keeps_its_plan() {
    let sandbox = Sandbox::new();
    let (path, plan) = seed_report(&sandbox);
    let out = export(&sandbox, &path, "report-data", "report");
    let report_path = out.join("report_data.json");
    let report = read_json(&report_path);
    check_viewer_paths(&report);
    let (want, got) = (
        plan_workouts(&plan),
        plan_workouts(&report["athletes"][0]["training_plan"]),
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (key, steps) in &want {
        same_steps(&format!("{key:?}"), &got[key], steps);
    }
    assert_eq!(
        crate::export::files(&export(&sandbox, &report_path, "zwo", "zwo-report")),
        crate::export::files(&export(&sandbox, &path, "zwo", "zwo-seed"))
    );
}

fn check_viewer_paths(report: &Value) {
    assert!(!report["athletes"].as_array().unwrap().is_empty());
    for (path, kinds) in VIEWER_PATHS {
        let found = values_at(report, path);
        assert!(!found.is_empty(), "{path}: nothing there");
        for value in found {
            assert!(
                kind(value).is_some_and(|kind| kinds.contains(&kind)),
                "{path} is {value:.80}, expected one of {kinds:?}"
            );
        }
    }
    for day in values_at(
        report,
        "athletes[].training_plan.weekly_plan[].workouts[].weekday",
    ) {
        assert!(VIEWER_DAYS.contains(&day.as_str().unwrap()), "{day}");
    }
    // The viewer sums a workout's segments for its duration: they are its riding time.
    for workout in values_at(report, "athletes[].training_plan.weekly_plan[].workouts[]") {
        let summed: f64 = workout["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|segment| segment["duration_min"].as_f64().unwrap())
            .sum();
        let total = workout["duration_min"].as_f64().unwrap();
        assert!((summed - total).abs() < 0.011, "{summed} vs {total}");
    }
}
