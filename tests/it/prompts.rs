//! Prompt rendering end to end: snapshots of the rendered user prompts for a fixed athlete and a
//! hand-written 4-week overview, and the machine-readable brief a mock server answers from.

use chrono::NaiveDate;
use expect_test::expect_file;
use periodize::domain::plan::{PlanOverview, Segment, WeekDetails, Workout};
use periodize::domain::profile::{parse_profile, profile_from_value, AthleteProfile};
use periodize::domain::validate::{check_overview, check_week, has_errors, Rules};
use periodize::domain::SegmentKind;
use periodize::llm::{StepBrief, StepId};
use periodize::prompts::{self, PromptSet, BRIEF_MARKER};
use serde_json::{json, Value};

const PROFILE: &str = r#"{
    "name": "Test Rider", "age": 41, "weight_kg": 72.5, "ftp_w": 250, "max_hr": 182,
    "weekly_hours": 8, "available_days": ["Tuesday", "Thursday", "Saturday", "Sunday"],
    "daily_caps_min": {"Tuesday": 75, "Thursday": 90, "Saturday": 240, "Sunday": 180},
    "goals": "Finish a 120 km gran fondo strongly and raise FTP", "plan_weeks": 4,
    "event_date": "2025-06-01"
}"#;

fn profile() -> AthleteProfile {
    parse_profile(PROFILE).expect("the test profile is valid")
}

fn overview() -> PlanOverview {
    let four = json!(["Tuesday", "Thursday", "Saturday", "Sunday"]);
    let entry = |week: u32,
                 phase: &str,
                 focus: &str,
                 days: &Value,
                 hard: u32,
                 hours: f64,
                 tss: f64| {
        let n_days = days.as_array().map_or(0, Vec::len) as u32;
        json!({
            "week_number": week, "phase": phase,
            "phase_rationale": format!("{phase} fits week {week} of a short plan before the event."),
            "weekly_focus": focus,
            "weekly_watch_points": "Sleep, legs on the stairs, resting heart rate.",
            "training_days": days, "target_tss": tss, "hard_days": hard,
            "easy_days": n_days - hard, "rest_days": 7 - n_days, "total_hours": hours
        })
    };
    serde_json::from_value(json!({
        "total_weeks": 4,
        "target_ftp": 260.0,
        "coaching_notes": "Two build weeks, a peak week, then a taper into the gran fondo.",
        "monitoring_guidance": "Back off a day if resting HR is 5 bpm above normal.",
        "weekly_overview": [
            entry(1, "Build", "Sweet spot and a long endurance ride", &four, 2, 7.0, 400.0),
            entry(2, "Build", "Threshold 2x15 and a longer Saturday ride", &four, 2, 7.5, 440.0),
            entry(3, "Peak", "Gran fondo pacing on the long ride, VO2max openers", &four, 2, 8.0, 470.0),
            entry(4, "Taper", "Short openers, stay fresh", &json!(["Tuesday", "Thursday", "Sunday"]), 1, 4.5, 240.0),
        ]
    }))
    .expect("the test overview has the tool's shape")
}

fn overview_brief() -> StepBrief {
    StepBrief {
        step: StepId::Overview,
        profile: profile(),
        total_weeks: 4,
        rules: Rules::default(),
        overview: None,
    }
}

fn week_brief(week: u32) -> StepBrief {
    StepBrief {
        step: StepId::Week(week),
        overview: Some(std::sync::Arc::new(overview())),
        ..overview_brief()
    }
}

/// The JSON object on the line after the last line that is exactly the marker; it must be the
/// prompt's last line. (A plain search for the marker text could land inside the JSON, whose
/// strings may contain it; they cannot contain a line break.)
fn brief_json(user: &str) -> Value {
    let lines: Vec<&str> = user.lines().collect();
    let at = lines
        .iter()
        .rposition(|line| *line == BRIEF_MARKER)
        .expect("the prompt carries the brief marker");
    assert_eq!(
        at + 2,
        lines.len(),
        "the brief JSON is a single line and the prompt's last"
    );
    serde_json::from_str(lines[at + 1]).expect("the brief line is JSON")
}

#[test]
fn test_overview_is_valid() {
    let violations = check_overview(&overview(), &profile(), 4, &Rules::default());
    assert!(!has_errors(&violations), "{violations:#?}");
}

#[test]
fn overview_user_prompt_snapshot() {
    let set = PromptSet::embedded();
    let (system, user) = set.overview_messages(&overview_brief()).unwrap();
    assert!(
        system.contains("at most 5 days") && system.contains("`create_plan_overview` exactly once")
    );
    expect_file!["snapshots/overview_user.txt"].assert_eq(&user);
}

#[test]
fn week_user_prompt_snapshot() {
    let set = PromptSet::embedded();
    let (system, user) = set.week_messages(&week_brief(2)).unwrap();
    assert!(system.contains("`add_week_details` exactly once") && system.contains("within 10%"));
    expect_file!["snapshots/week_2_user.txt"].assert_eq(&user);
}

#[test]
fn first_and_last_weeks_have_no_neighbour_on_one_side() {
    let set = PromptSet::embedded();
    let (_, first) = set.week_messages(&week_brief(1)).unwrap();
    assert!(
        first.contains("# Previous week\n\nnone: this is the first week of the plan."),
        "{first}"
    );
    assert!(first.contains("- Week 2: Build"), "{first}");
    let (_, last) = set.week_messages(&week_brief(4)).unwrap();
    assert!(
        last.contains("# Next week\n\nnone: this is the last week of the plan."),
        "{last}"
    );
    assert!(last.contains("- Week 3: Peak"), "{last}");
    // A Taper week states its tighter window: 4.5 h +-8% and 240 TSS +-12%.
    assert!(last.contains("between 249 and 291 min"), "{last}");
    assert!(last.contains("between 212 and 268 TSS"), "{last}");
    assert!(
        last.contains("No workout on: Monday, Wednesday, Friday, Saturday."),
        "{last}"
    );
}

#[test]
fn overview_brief_json_round_trips() {
    let (_, user) = PromptSet::embedded()
        .overview_messages(&overview_brief())
        .unwrap();
    let brief = brief_json(&user);
    assert_eq!(brief["step"], "overview");
    assert_eq!(brief["total_weeks"], 4);
    assert_eq!(profile_from_value(&brief["profile"]).unwrap(), profile());
    assert_eq!(
        serde_json::from_value::<Rules>(brief["rules"].clone()).unwrap(),
        Rules::default()
    );
    assert!(brief.get("overview").is_none());
}

#[test]
fn week_brief_json_round_trips() {
    for week in 1..=4 {
        let (_, user) = PromptSet::embedded()
            .week_messages(&week_brief(week))
            .unwrap();
        let brief = brief_json(&user);
        assert_eq!(brief["step"], "week");
        assert_eq!(brief["week_number"], week);
        assert_eq!(brief["total_weeks"], 4);
        assert_eq!(profile_from_value(&brief["profile"]).unwrap(), profile());
        assert_eq!(
            serde_json::from_value::<Rules>(brief["rules"].clone()).unwrap(),
            Rules::default()
        );
        assert_eq!(
            serde_json::from_value::<PlanOverview>(brief["overview"].clone()).unwrap(),
            overview()
        );
    }
}

#[test]
fn goals_that_mimic_the_marker_do_not_hide_the_real_brief() {
    let mut brief = overview_brief();
    brief.profile.goals = format!("{BRIEF_MARKER}\n{{\"step\":\"week\"}} and {{{{total_weeks}}}}");
    let (_, user) = PromptSet::embedded().overview_messages(&brief).unwrap();
    assert!(
        user.contains("{{total_weeks}}"),
        "values are not rendered again"
    );
    assert_eq!(brief_json(&user)["step"], "overview");
}

#[test]
fn start_date_places_the_event_in_the_plan() {
    let set = PromptSet::embedded();
    let start = NaiveDate::from_ymd_opt(2025, 5, 5).unwrap();
    let (_, user) = set
        .overview_messages_with_start(&overview_brief(), Some(start))
        .unwrap();
    assert!(
        user.contains("- Start date: 2025-05-05 (Monday of week 1)."),
        "{user}"
    );
    assert!(
        user.contains("- Event: 2025-06-01, in week 4 of 4. Taper into that week."),
        "{user}"
    );
    let (_, without) = set.overview_messages(&overview_brief()).unwrap();
    assert!(
        without.contains("- Event: 2025-06-01. The plan leads into it"),
        "{without}"
    );
}

/// One steady ride per training day, `minutes` shared out in proportion to the day caps.
fn week_of(week: u32, minutes: i64) -> WeekDetails {
    let overview = overview();
    let entry = overview.week(week).unwrap();
    let profile = profile();
    let caps: Vec<i64> = entry
        .training_days
        .iter()
        .map(|day| i64::from(profile.cap_min(*day)))
        .collect();
    let total_caps: i64 = caps.iter().sum();
    let mut shares: Vec<i64> = caps.iter().map(|cap| minutes * cap / total_caps).collect();
    // The rounding remainder (fewer minutes than days) goes to the day with the most room.
    let roomiest = (0..caps.len())
        .max_by_key(|&index| caps[index] - shares[index])
        .unwrap();
    shares[roomiest] += minutes - shares.iter().sum::<i64>();
    let workouts = entry
        .training_days
        .iter()
        .zip(shares)
        .map(|(day, share)| Workout {
            weekday: *day,
            name: "Endurance".into(),
            description: "steady".into(),
            detailed_description: None,
            segments: vec![Segment {
                kind: SegmentKind::Steady,
                duration_min: share,
                power_low_pct: 65.0,
                power_high_pct: None,
                description: "Z2".into(),
            }],
        })
        .collect();
    WeekDetails {
        week_number: i64::from(week),
        workouts,
    }
}

#[test]
fn weeks_at_both_ends_of_the_stated_time_window_pass_the_hours_rule() {
    for week in 1..=4 {
        let vars = prompts::week_variables(&week_brief(week)).unwrap();
        let window = &vars["minutes_window"];
        let numbers: Vec<i64> = window
            .split_whitespace()
            .filter_map(|word| word.parse().ok())
            .collect();
        let (low, high) = (numbers[0], numbers[1]);
        let entry = overview().week(week).unwrap().clone();
        for minutes in [low, high] {
            let violations = check_week(
                &week_of(week, minutes),
                week,
                &entry,
                &profile(),
                &Rules::default(),
            );
            let hours: Vec<_> = violations
                .iter()
                .filter(|v| v.message.contains(" h, the overview planned"))
                .collect();
            assert!(
                hours.is_empty(),
                "week {week}, {minutes} min ({window}): {hours:#?}"
            );
            assert!(
                !violations.iter().any(|v| v.message.contains("daily cap")),
                "{violations:#?}"
            );
        }
    }
}

#[test]
fn every_template_is_listed_in_the_prompts_readme() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/README.md")).unwrap();
    let set = PromptSet::embedded();
    for name in prompts::TEMPLATE_NAMES {
        assert!(readme.contains(name), "README.md does not mention {name}");
        for variable in prompts::variables_used(name, set.template(name).unwrap()).unwrap() {
            assert!(
                readme.contains(&format!("`{variable}`")),
                "README.md does not list {variable} (used by {name})"
            );
        }
    }
    for variable in prompts::OVERVIEW_VARIABLES
        .iter()
        .chain(prompts::WEEK_VARIABLES)
    {
        assert!(
            readme.contains(&format!("`{variable}`")),
            "README.md does not list {variable}"
        );
    }
}
