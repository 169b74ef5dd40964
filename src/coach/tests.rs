//! The built-in coach's unit tests.

#[test]
fn the_minimum_budget_holds_one_session_in_the_leanest_week() {
    let leanest_min = super::MIN_WEEKLY_HOURS * 60.0 * super::TAPER_FLOOR_FRACTION;
    assert!(
        leanest_min >= super::MIN_SESSION_MIN as f64,
        "{leanest_min}"
    );
}

use expect_test::{expect, Expect};

use super::*;
use crate::domain::profile::parse_profile;
use crate::domain::validate::{check_plan, check_week, has_errors};

fn letters(phases: &[Phase]) -> String {
    phases
        .iter()
        .map(|phase| &phase.name()[..1])
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_layout(total_weeks: u32, loading_weeks: usize, expected: Expect) {
    check_ending(total_weeks, loading_weeks, Ending::Test, expected);
}

fn check_ending(total_weeks: u32, loading_weeks: usize, ending: Ending, expected: Expect) {
    expected.assert_eq(&letters(&phase_layout(total_weeks, loading_weeks, ending)));
}

#[test]
fn phase_layouts() {
    check_layout(1, 3, expect!["F"]);
    check_layout(2, 3, expect!["B R"]);
    check_layout(3, 3, expect!["F B R"]);
    check_layout(4, 3, expect!["F B P R"]);
    check_layout(5, 3, expect!["F F B P R"]);
    check_layout(8, 3, expect!["F F F R B B P R"]);
    check_layout(12, 3, expect!["F F F R B B B R B P P R"]);
    check_layout(
        52,
        3,
        expect!["F F F R F F R B B R P P R F F F R F F R B B R P P R F F F R F F R B B R P P R F F F R B B B R B B P P R"],
    );
}

#[test]
fn masters_load_two_to_one() {
    check_layout(8, 2, expect!["F F R B R P P R"]);
    check_layout(12, 2, expect!["F F R F F R B B R P P R"]);
}

#[test]
fn loading_runs_never_empty_nor_too_long() {
    for loading_weeks in [2, 3] {
        for body in 1..=60 {
            let runs = loading_runs(body, loading_weeks);
            assert!(
                runs.iter().all(|&run| (1..=loading_weeks).contains(&run)),
                "{body}: {runs:?}"
            );
            assert_eq!(runs.iter().sum::<usize>() + runs.len() - 1, body);
        }
    }
}

#[test]
fn allocation_is_exact_and_within_caps() {
    let caps = [90, 90, 240, 240];
    let weights = [90, 90, 150, 200];
    for total in 4..=660 {
        let minutes = allocate_minutes(total, &caps, &weights);
        assert_eq!(minutes.iter().sum::<i64>(), total);
        assert!(
            minutes
                .iter()
                .zip(caps)
                .all(|(&got, cap)| (1..=cap).contains(&got)),
            "{total}: {minutes:?}"
        );
    }
    assert_eq!(
        allocate_minutes(335, &caps, &weights),
        vec![55, 55, 95, 130]
    );
}

fn seed_athlete() -> AthleteProfile {
    parse_profile(
        r#"{"name":"Eduardo","age":52,"weight":"84kg","FTP":"260W","critical_HR":172,
            "training_availability":{"hours_per_week":7,"week_days":"Tuesday, Thursday, Saturday, Sunday"},
            "goals":"Improve FTP and finish a 120 km gran fondo strong","training_plan_weeks":12}"#,
    )
    .expect("the seed athlete is a valid profile")
}

fn weeks_of(profile: &AthleteProfile, overview: &PlanOverview, rules: &Rules) -> Vec<WeekDetails> {
    (1..=overview.weekly_overview.len())
        .map(|week| {
            let week = u32::try_from(week).expect("at most 52 weeks");
            add_week_details(profile, overview, week, None, rules)
        })
        .collect()
}

#[test]
fn seed_athlete_plan_has_no_violation_at_all() {
    let profile = seed_athlete();
    let rules = Rules::default();
    let overview = create_plan_overview(&profile, 12, None, &rules);
    let weeks = weeks_of(&profile, &overview, &rules);
    let violations = untolerated(&check_plan(&overview, &weeks, &profile, 12, None, &rules));
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(overview.target_ftp, 276.0);
}

#[test]
fn week_details_reproduce_the_overview_numbers() {
    let profile = seed_athlete();
    let rules = Rules::default();
    let overview = create_plan_overview(&profile, 12, None, &rules);
    for (entry, week) in overview
        .weekly_overview
        .iter()
        .zip(weeks_of(&profile, &overview, &rules))
    {
        assert_eq!(week.week_number, entry.week_number);
        assert_eq!(week.tss(), entry.target_tss);
        assert_eq!(week.hours(), entry.total_hours);
        let number = u32::try_from(entry.week_number).expect("1..=12");
        assert!(check_week(&week, number, entry, &profile, None, &rules).is_empty());
        // The focus text was written from the very workouts add_week_details returns.
        for workout in &week.workouts {
            assert!(
                entry.weekly_focus.contains(&workout.name),
                "{}",
                entry.weekly_focus
            );
        }
    }
}

/// The seed plan at a glance: a change here is a change in coaching, to be reviewed.
#[test]
fn seed_athlete_plan_summary() {
    let profile = seed_athlete();
    let rules = Rules::default();
    let overview = create_plan_overview(&profile, 12, None, &rules);
    let mut table = String::new();
    for (entry, week) in overview
        .weekly_overview
        .iter()
        .zip(weeks_of(&profile, &overview, &rules))
    {
        let sessions: Vec<String> = week
            .workouts
            .iter()
            .map(|workout| {
                format!(
                    "{} {} {}'",
                    &workout.weekday.name()[..3],
                    workout.name,
                    workout.minutes()
                )
            })
            .collect();
        let _ = writeln!(
            table,
            "{:>2} {:<10} {:>5.2} h {:>5.1} TSS hard {} | {}",
            entry.week_number,
            entry.phase.name(),
            entry.total_hours,
            entry.target_tss,
            entry.hard_days,
            sessions.join(", ")
        );
    }
    expect![[r#"
         1 Foundation  4.17 h 178.7 TSS hard 2 | Tue Sweet spot 1×10 min 30', Thu Endurance ride 30', Sat Long tempo 1×20 min 55', Sun Long endurance ride 135'
         2 Foundation  4.58 h 198.4 TSS hard 2 | Tue Sweet spot 1×12 min 35', Thu Endurance ride 30', Sat Long tempo 1×25 min 60', Sun Long endurance ride 150'
         3 Foundation  5.03 h 221.5 TSS hard 2 | Tue Sweet spot 1×15 min 37', Thu Endurance ride 35', Sat Long tempo 1×30 min 65', Sun Long endurance ride 165'
         4 Recovery    2.75 h 101.6 TSS hard 0 | Tue Endurance with short efforts 40', Thu Easy endurance 35', Sat Endurance ride 90'
         5 Build       5.08 h 227.3 TSS hard 2 | Tue Sweet spot 2×10 min 40', Thu Endurance ride 35', Sat Long tempo 2×20 min 65', Sun Long endurance ride 165'
         6 Build       5.58 h 247.7 TSS hard 2 | Tue Sweet spot 1×12 min 40', Thu Endurance ride 40', Sat Long tempo 2×25 min 75', Sun Long endurance ride 180'
         7 Build       6.13 h 267.5 TSS hard 2 | Tue Sweet spot 1×15 min 45', Thu Endurance ride 45', Sat Long tempo 1×30 min 78', Sun Long endurance ride 200'
         8 Recovery    3.33 h 124.6 TSS hard 0 | Tue Endurance with short efforts 45', Thu Easy endurance 45', Sat Endurance ride 110'
         9 Build       6.00 h 270.8 TSS hard 2 | Tue Sweet spot 1×20 min 45', Thu Endurance ride 45', Sat Long tempo 2×25 min 75', Sun Long endurance ride 195'
        10 Peak        5.75 h 257.9 TSS hard 2 | Tue Over-unders 2×9 min 45', Thu Endurance ride 40', Sat Long tempo 2×20 min 75', Sun Long endurance ride 185'
        11 Peak        5.50 h 252.9 TSS hard 2 | Tue Over-unders 2×9 min 40', Thu Endurance ride 40', Sat Long tempo 2×25 min 70', Sun Long endurance ride 180'
        12 Recovery    3.67 h 159.8 TSS hard 1 | Tue Easy endurance 50', Thu Easy endurance 50', Sat FTP test (20 min) 120'
    "#]].assert_eq(&table);
}

#[test]
fn one_short_day_and_a_tiny_budget() {
    let profile = parse_profile(
        r#"{"ftp_w":180,"weekly_hours":2,"available_days":["Wednesday"],"daily_caps_min":{"Wednesday":240}}"#,
    )
    .expect("valid profile");
    let rules = Rules::default();
    for total_weeks in [1, 2, 3, 6] {
        let overview = create_plan_overview(&profile, total_weeks, None, &rules);
        let weeks = weeks_of(&profile, &overview, &rules);
        let violations = untolerated(&check_plan(
            &overview,
            &weeks,
            &profile,
            total_weeks,
            None,
            &rules,
        ));
        assert!(
            violations.is_empty(),
            "{total_weeks} weeks: {violations:#?}"
        );
    }
}

#[test]
fn budget_larger_than_five_days_can_hold() {
    // Seven 20-minute days hold 140 min, but only 5 may be used: plan 100 min, never more.
    let profile = parse_profile(
        r#"{"ftp_w":300,"weekly_hours":2,"available_days":["Monday","Tuesday","Wednesday","Thursday","Friday","Saturday","Sunday"],
            "daily_caps_min":{"Monday":20,"Tuesday":20,"Wednesday":20,"Thursday":20,"Friday":20,"Saturday":20,"Sunday":20}}"#,
    )
    .expect("valid profile");
    let rules = Rules::default();
    let overview = create_plan_overview(&profile, 8, None, &rules);
    let weeks = weeks_of(&profile, &overview, &rules);
    let violations = untolerated(&check_plan(&overview, &weeks, &profile, 8, None, &rules));
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(weeks.iter().all(|week| week.minutes() <= 100.0));
    // Week 1 (60 % of the budget: 60 min) rides 3 × 20 min rather than 5 × 12 min.
    assert_eq!(overview.weekly_overview[0].training_days.len(), 3);
    assert!(overview
        .weekly_overview
        .iter()
        .all(|entry| entry.training_days.len() <= 5));
}

/// Every steady segment states the band it prescribes, so the text never contradicts the
/// numbers.
fn assert_steady_text_matches(week: &WeekDetails) {
    for workout in &week.workouts {
        for segment in &workout.segments {
            if segment.kind == SegmentKind::Steady {
                let band = format!(
                    "{:.0}–{:.0}% FTP",
                    segment.power_low_pct,
                    segment.power_high()
                );
                assert!(
                    segment.description.contains(&band),
                    "{band}: {}",
                    segment.description
                );
            }
        }
    }
}

#[test]
fn targets_set_elsewhere_move_endurance_within_zone_two() {
    let profile = seed_athlete();
    let rules = Rules::default();
    let overview = create_plan_overview(&profile, 12, None, &rules);
    let own = add_week_details(&profile, &overview, 5, None, &rules);
    for factor in [0.8, 1.25] {
        let mut foreign = overview.clone();
        let entry = &mut foreign.weekly_overview[4];
        entry.target_tss = (entry.target_tss * factor).round();
        let target = entry.target_tss;
        let week = add_week_details(&profile, &foreign, 5, None, &rules);
        let violations = check_week(
            &week,
            5,
            &foreign.weekly_overview[4],
            &profile,
            None,
            &rules,
        );
        assert!(!has_errors(&violations), "{violations:#?}");
        let miss = (week.tss() - target).abs() / target;
        assert!(
            miss <= 0.15,
            "x{factor}: {} TSS for a target of {target}",
            week.tss()
        );
        assert!(
            (week.tss() - target).abs() < (own.tss() - target).abs(),
            "steering must move towards the target"
        );
        assert_eq!(week.minutes(), own.minutes());
        for segment in week.workouts.iter().flat_map(|workout| &workout.segments) {
            if segment.kind == SegmentKind::Steady && segment.power_low_pct >= ZONE2_PCT.0 {
                assert!(segment.power_high() <= ZONE2_PCT.1, "{segment:?}");
            }
        }
        assert_steady_text_matches(&week);
    }
    assert_steady_text_matches(&own);
}

#[test]
fn a_missing_week_is_planned_by_the_coach() {
    let profile = seed_athlete();
    let rules = Rules::default();
    let mut overview = create_plan_overview(&profile, 4, None, &rules);
    let expected = add_week_details(&profile, &overview, 3, None, &rules);
    overview
        .weekly_overview
        .retain(|entry| entry.week_number != 3);
    assert_eq!(
        add_week_details(&profile, &overview, 3, None, &rules),
        expected
    );
    assert!(add_week_details(&profile, &overview, 0, None, &rules)
        .workouts
        .is_empty());
}
