//! Prompt rendering end to end: snapshots of the rendered user prompts for a fixed athlete and a
//! hand-written 4-week overview; prompts carry only what the model needs, a week request does
//! not grow with the plan, and every week of a run shares one cacheable prefix.

use chrono::NaiveDate;
use expect_test::expect_file;
use periodize::domain::plan::{PlanOverview, Segment, WeekDetails, Workout};
use periodize::domain::profile::{parse_profile, AthleteProfile};
use periodize::domain::validate::{check_overview, check_week, has_errors, Rules};
use periodize::domain::SegmentKind;
use periodize::llm::{StepBrief, StepId};
use periodize::prompts::{self, PromptSet};
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
        event: None,
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

#[test]
fn test_overview_is_valid() {
    let violations = check_overview(&overview(), &profile(), 4, None, &Rules::default());
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

/// A week request as a provider sees it: system prompt, user prompt and the tool's schema.
fn week_request_bytes(set: &PromptSet, brief: &StepBrief) -> usize {
    let (system, user) = set.week_messages(brief).unwrap();
    let tool = periodize::tools::week_tool();
    system.len() + user.len() + tool.parameters.to_string().len() + tool.description.len()
}

fn coach_week_brief(total_weeks: u32, week: u32) -> StepBrief {
    let profile = profile();
    let rules = Rules::default();
    let overview = periodize::coach::create_plan_overview(&profile, total_weeks, None, &rules);
    StepBrief {
        step: StepId::Week(week),
        profile,
        total_weeks,
        event: None,
        rules,
        overview: Some(std::sync::Arc::new(overview)),
    }
}

/// The prompts carry nothing for tooling: no brief, no overview as JSON.
#[test]
fn prompts_carry_only_what_the_model_needs() {
    let set = PromptSet::embedded();
    let (system, user) = set.overview_messages(&overview_brief()).unwrap();
    let (week_system, week_user) = set.week_messages(&week_brief(2)).unwrap();
    for text in [&system, &user, &week_system, &week_user] {
        assert!(!text.contains("PERIODIZE_BRIEF"), "{text}");
        assert!(!text.contains("\"weekly_overview\""), "{text}");
        assert!(!text.contains("\"phase_rationale\""), "{text}");
    }
}

/// A week request costs the same whatever the plan's length: only the one-line phase map grows
/// (a few characters a week), never the overview.
#[test]
fn a_week_request_does_not_grow_with_the_plan_length() {
    let set = PromptSet::embedded();
    let short = week_request_bytes(&set, &coach_week_brief(12, 6));
    let long = week_request_bytes(&set, &coach_week_brief(52, 6));
    // "13 Build, " per added week at most.
    let phase_map_bytes = 40 * "52 Foundation, ".len();
    assert!(
        long <= short + phase_map_bytes,
        "week 6 of 52 weeks is {long} bytes, of 12 weeks {short}"
    );
}

/// Every week of a run starts with the same bytes: the system prompt, and the user prompt up to
/// the request for this week, so a provider's prefix cache serves all but the first.
#[test]
fn every_week_of_a_run_shares_one_prefix() {
    let set = PromptSet::embedded();
    let briefs: Vec<StepBrief> = (1..=12).map(|week| coach_week_brief(12, week)).collect();
    let rendered: Vec<(String, String)> = briefs
        .iter()
        .map(|brief| set.week_messages(brief).unwrap())
        .collect();
    let marker = "# The request";
    let prefix = |user: &str| user[..user.find(marker).expect("the request section")].to_string();
    for (system, user) in &rendered[1..] {
        assert_eq!(system, &rendered[0].0);
        assert_eq!(prefix(user), prefix(&rendered[0].1));
    }
    let shared = rendered[0].0.len() + prefix(&rendered[0].1).len();
    let whole = rendered[0].0.len() + rendered[0].1.len();
    assert!(
        shared * 10 >= whole * 7,
        "only {shared} of {whole} bytes are shared between weeks"
    );
}

#[test]
fn values_are_not_rendered_again() {
    let mut brief = overview_brief();
    brief.profile.goals = "PERIODIZE {\"step\":\"week\"} and {{total_weeks}}".into();
    let (_, user) = PromptSet::embedded().overview_messages(&brief).unwrap();
    assert!(user.contains("{{total_weeks}}"), "{user}");
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
        user.contains("- Event: 2025-06-01 (Sunday, week 4), the plan's last day: no workout on it or after it"),
        "{user}"
    );
    let (_, without) = set.overview_messages(&overview_brief()).unwrap();
    assert!(
        without.contains(
            "- Event: 2025-06-01, the plan's last day. Schedule nothing on it or after it"
        ),
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
                duration_min: share as f64,
                power_low_pct: 65.0,
                power_high_pct: None,
                description: "Z2".into(),
                repeat: None,
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
                None,
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
