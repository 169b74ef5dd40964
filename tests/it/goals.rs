//! Plans for the event and the goal, end to end through `generate` with the built-in coach:
//! the plan ends on the event day, the taper is sized against it, the long ride grows toward
//! the event, and each kind of event gets the intensity it needs.

use serde_json::{json, Value};

use crate::support::{stderr, Sandbox};

/// Monday of week 1 in every plan here.
const START: &str = "2027-01-04";

/// Generates a plan with the built-in coach and returns the plan file.
fn plan(profile: Value, extra: &[&str]) -> Value {
    plan_and_notices(profile, extra).0
}

/// The plan file and what `generate` told the user on stderr.
fn plan_and_notices(profile: Value, extra: &[&str]) -> (Value, String) {
    let sandbox = Sandbox::new();
    let path = sandbox.write("profile.json", &profile.to_string());
    let path = path.display().to_string();
    let mut args = vec![
        "generate",
        "--profile",
        path.as_str(),
        "--start-date",
        START,
    ];
    args.extend_from_slice(extra);
    let output = sandbox.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = sandbox.path("output");
    let file = std::fs::read_dir(&out)
        .expect("an output directory")
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "json"))
        .expect("a plan file");
    (
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap(),
        stderr(&output),
    )
}

/// Every step of every workout as (minutes, midpoint % FTP), repeats expanded.
fn steps(plan: &Value) -> Vec<(f64, f64)> {
    fn segment_steps(segment: &Value, out: &mut Vec<(f64, f64)>) {
        if let (Some(sets), Some(work)) = (segment["sets"].as_u64(), segment.get("work")) {
            for _ in 0..sets {
                segment_steps(work, out);
                if let Some(recovery) = segment.get("recovery").filter(|value| !value.is_null()) {
                    segment_steps(recovery, out);
                }
            }
            return;
        }
        let low = segment["power_low_pct"].as_f64().unwrap();
        let high = segment["power_high_pct"].as_f64().unwrap_or(low);
        out.push((
            segment["duration_min"].as_f64().unwrap(),
            (low + high) / 2.0,
        ));
    }
    let mut out = Vec::new();
    for week in plan["weekly_plan"].as_array().unwrap() {
        for workout in week["workouts"].as_array().unwrap() {
            for segment in workout["segments"].as_array().unwrap() {
                segment_steps(segment, &mut out);
            }
        }
    }
    out
}

/// The share of the plan's riding time whose power is in `range` (% FTP, by midpoint).
fn share(plan: &Value, range: std::ops::RangeInclusive<f64>) -> f64 {
    let steps = steps(plan);
    let total: f64 = steps.iter().map(|(minutes, _)| minutes).sum();
    let inside: f64 = steps
        .iter()
        .filter(|(_, pct)| range.contains(pct))
        .map(|(minutes, _)| minutes)
        .sum();
    inside / total
}

fn week_hours(plan: &Value) -> Vec<f64> {
    plan["weekly_plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|week| week["week_hours"].as_f64().unwrap())
        .collect()
}

fn athlete(goals: &str, event: Value) -> Value {
    json!({
        "name": "Rider", "age": 36, "ftp_w": 250, "weekly_hours": 10,
        "available_days": ["Tuesday", "Wednesday", "Thursday", "Saturday", "Sunday"],
        "daily_caps_min": {"Tuesday": 90, "Wednesday": 90, "Thursday": 90, "Saturday": 330, "Sunday": 180},
        "goals": goals,
        "event": event,
    })
}

#[test]
fn a_saturday_gran_fondo_gets_exactly_16_weeks_ending_on_the_event_with_a_sized_taper() {
    // 2027-04-24 is the Saturday of week 16 of a plan starting Monday 2027-01-04.
    let plan = plan(
        athlete(
            "Ride a 200 km gran fondo",
            json!({"date": "2027-04-24", "kind": "gran_fondo", "duration_h": 7, "priority": "A"}),
        ),
        &["--weeks", "16"],
    );
    let weeks = plan["weekly_plan"].as_array().unwrap();
    assert_eq!(weeks.len(), 16);
    assert_eq!(plan["plan_metadata"]["end_date"], "2027-04-24");
    let last = &weeks[15];
    assert_eq!(
        last["event"],
        json!({"date": "2027-04-24", "weekday": "Saturday", "kind": "gran_fondo", "priority": "A", "duration_h": 7.0})
    );
    // Nothing on the event day or after it.
    for workout in last["workouts"].as_array().unwrap() {
        assert!(
            workout["date"].as_str().unwrap() < "2027-04-24",
            "{}",
            workout["date"]
        );
    }
    // Openers one or two days out.
    let openers = last["workouts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|workout| workout["name"].as_str().unwrap().contains("Openers"))
        .expect("race week has openers");
    assert!(["2027-04-22", "2027-04-23"].contains(&openers["date"].as_str().unwrap()));
    // The taper (the last two weeks, 12 days up to the event) holds 40-60 % less riding a day
    // than the biggest week.
    let hours = week_hours(&plan);
    let biggest = hours.iter().copied().fold(0.0, f64::max);
    assert_eq!(weeks[14]["phase"], "Taper");
    let taper_days = 7.0 + 5.0;
    let taper_per_day = (hours[14] + hours[15]) / taper_days;
    let cut = 1.0 - taper_per_day / (biggest / 7.0);
    assert!((0.40..=0.60).contains(&cut), "taper cut {cut:.2}");
    // Intensity stays in the taper.
    assert!(weeks[14..]
        .iter()
        .flat_map(|week| week["workouts"].as_array().unwrap())
        .flat_map(|workout| workout["segments"].as_array().unwrap())
        .any(|segment| segment["power_low_pct"].as_f64().unwrap() >= 95.0));
    // The long ride grows to at least 0.7 x the 7-hour event, within the Saturday cap.
    let longest = weeks
        .iter()
        .flat_map(|week| week["workouts"].as_array().unwrap())
        .map(|workout| workout["duration_min"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        longest >= (0.7 * 7.0 * 60.0_f64).min(330.0) - 1e-9,
        "{longest}"
    );
    assert!(longest <= 330.0);
}

#[test]
fn an_event_after_the_plan_is_a_warning_and_no_taper() {
    let (plan, message) = plan_and_notices(
        athlete(
            "gran fondo",
            json!({"date": "2027-06-26", "kind": "gran_fondo"}),
        ),
        &["--weeks", "12"],
    );
    assert!(
        message.contains("event_date 2027-06-26 is 90 day(s) after the plan ends (2027-03-28)")
            && message.contains("does not taper"),
        "{message}"
    );
    let weeks = plan["weekly_plan"].as_array().unwrap();
    assert!(weeks.iter().all(|week| week["phase"] != "Taper"));
    assert!(weeks.iter().all(|week| week.get("event").is_none()));
    let last = &weeks[11];
    assert_eq!(last["phase"], "Recovery");
    assert!(last["workouts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|workout| workout["name"].as_str().unwrap().starts_with("FTP test")));
    assert!(plan["coaching_notes"]
        .as_str()
        .unwrap()
        .contains("is after this plan"));
}

#[test]
fn plans_differ_by_event_kind_in_the_expected_direction() {
    // Each on the Sunday of week 12.
    let plan_for = |goals: &str, kind: &str, hours: f64| {
        plan(
            athlete(
                goals,
                json!({"date": "2027-03-28", "kind": kind, "duration_h": hours}),
            ),
            &["--weeks", "12"],
        )
    };
    let crit = plan_for("criterium", "criterium", 1.0);
    let tt = plan_for("40 km TT", "time_trial", 1.0);
    let fondo = plan_for("gran fondo", "gran_fondo", 6.0);
    let above_120 = share(&crit, 120.0001..=1000.0);
    assert!(
        above_120 >= 0.02,
        "criterium time above 120 %: {above_120:.3}"
    );
    assert!(share(&fondo, 120.0001..=1000.0) < above_120);
    // Threshold (Coggan zone 4): the time trial more than the fondo.
    let threshold = |plan: &Value| share(plan, 90.0001..=105.0);
    assert!(
        threshold(&tt) > threshold(&fondo),
        "TT {:.3} fondo {:.3}",
        threshold(&tt),
        threshold(&fondo)
    );
    // The fondo's long ride is longer than the criterium's.
    let longest = |plan: &Value| {
        plan["weekly_plan"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|week| week["workouts"].as_array().unwrap())
            .map(|workout| workout["duration_min"].as_f64().unwrap())
            .fold(0.0, f64::max)
    };
    assert!(longest(&fondo) > longest(&crit));
}

#[test]
fn an_event_before_any_training_day_of_its_week_leaves_that_week_empty() {
    // Monday 2027-03-22 is the first day of week 12: nothing can train before it that week.
    let plan = plan(
        athlete(
            "gravel",
            json!({"date": "2027-03-22", "kind": "gravel", "priority": "A"}),
        ),
        &["--weeks", "12"],
    );
    let weeks = plan["weekly_plan"].as_array().unwrap();
    let last = &weeks[11];
    assert_eq!(last["training_days"], json!([]));
    assert_eq!(last["workouts"], json!([]));
    assert_eq!(last["event"]["weekday"], "Monday");
    assert_eq!(plan["plan_metadata"]["end_date"], "2027-03-22");
    // The week before carries the taper's intensity.
    assert_eq!(weeks[10]["phase"], "Taper");
    assert!(weeks[10]["hard_days"].as_i64().unwrap() >= 1);
    assert_eq!(plan["validation"]["errors"], 0);
}
