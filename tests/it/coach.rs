//! The built-in coach against the real validator: for arbitrary valid profiles (parsed by the
//! real profile parser) and rules, its overview and every week pass every rule of SPEC §6,
//! stay within the weekly budget and the daily caps, and the weeks match the overview exactly.

use chrono::NaiveDate;
use periodize::coach::{add_week_details, create_plan_overview, untolerated, MIN_WEEKLY_HOURS};
use periodize::domain::event::{self, EventDay, EventKind, Priority};
use periodize::domain::load;
use periodize::domain::plan::{PlanOverview, WeekDetails};
use periodize::domain::profile::{profile_from_value, AthleteProfile};
use periodize::domain::validate::{
    check_overview, check_plan, check_week, Rules, TssCheck, Violation,
};
use periodize::domain::Weekday;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Cases per property: `PROPTEST_CASES` when set (e.g. 1000 locally), 64 by default so CI stays
/// fast.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(64)
}

const MINUTES_PER_DAY: u32 = 24 * 60;

/// The inputs of one case, before the repairs that make the profile valid.
#[derive(Debug, Clone)]
struct Case {
    weeks: u32,
    /// Bit i set: weekday i (Monday = 0) is available.
    day_mask: u8,
    caps_min: [u32; 7],
    /// Weekly budget in hundredths of an hour.
    hundredth_hours: u32,
    ftp_w: u32,
    age: u32,
    include_caps: bool,
    /// The event's kind (an index into `EventKind::ALL`, past its end: the `event_date`
    /// shorthand), weekday (Monday = 0) in the last week, and priority (0 = A, 1 = B, 2 = C).
    event: Option<(usize, usize, usize)>,
    /// Recent weekly hours, in tenths of an hour.
    recent_tenth_hours: Option<u32>,
    rules: Rules,
}

/// Monday of week 1 in every case.
fn plan_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, 4).expect("a date")
}

fn rules_strategy() -> impl Strategy<Value = Rules> {
    let max_training_days = prop_oneof![3 => Just(5u32), 2 => Just(3u32), 2 => 1u32..=7];
    let tss_check = prop_oneof![4 => Just(TssCheck::Error), 1 => Just(TssCheck::Warn), 1 => Just(TssCheck::Off)];
    (max_training_days, tss_check).prop_map(|(max_training_days, tss_check)| Rules {
        max_training_days,
        tss_check,
        ..Rules::default()
    })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    cases_with(
        prop::array::uniform7(20u32..=600).boxed(),
        (200u32..=2500).boxed(),
    )
}

/// The smallest budget the parser accepts, in hundredths of an hour.
fn min_hundredth_hours() -> u32 {
    // MIN_WEEKLY_HOURS is a small positive number of hours, so the cast is exact.
    (MIN_WEEKLY_HOURS * 100.0 - 1e-9).ceil() as u32
}

/// Edge profiles: caps from 1 minute to a full day, and budgets from the smallest the parser
/// accepts (`MIN_WEEKLY_HOURS`) to the 40 h maximum.
fn extreme_case_strategy() -> impl Strategy<Value = Case> {
    // An available day with a 0-minute cap is refused by the parser, so the smallest cap is 1.
    let cap = prop_oneof![Just(1u32), 1u32..=30, 1u32..=MINUTES_PER_DAY];
    let min = min_hundredth_hours();
    cases_with(
        prop::array::uniform7(cap).boxed(),
        prop_oneof![Just(min), min..=min + 40, min..=200, min..=4000].boxed(),
    )
}

fn cases_with(
    caps: BoxedStrategy<[u32; 7]>,
    hundredth_hours: BoxedStrategy<u32>,
) -> impl Strategy<Value = Case> {
    (
        1u32..=52,
        1u8..=127,
        caps,
        hundredth_hours,
        50u32..=600,
        18u32..=80,
        any::<bool>(),
        prop::option::of((0usize..=EventKind::ALL.len(), 0usize..7, 0usize..3)),
        prop::option::of(0u32..=250),
        rules_strategy(),
    )
        .prop_map(
            |(
                weeks,
                day_mask,
                caps_min,
                hundredth_hours,
                ftp_w,
                age,
                include_caps,
                event,
                recent_tenth_hours,
                rules,
            )| Case {
                weeks,
                day_mask,
                caps_min,
                hundredth_hours,
                ftp_w,
                age,
                include_caps,
                event,
                recent_tenth_hours,
                rules,
            },
        )
}

/// The canonical JSON profile of a case, repaired so that the caps of the available days hold
/// the weekly budget (the one cross-field rule of the parser).
fn profile_json(case: &Case) -> Value {
    let available: Vec<Weekday> = Weekday::ALL
        .into_iter()
        .filter(|day| case.day_mask & (1 << day.index()) != 0)
        .collect();
    let day_count = u32::try_from(available.len()).expect("at most 7 days");
    // A single day cannot hold more than 24 h: clamp the budget to what the days can hold.
    let hundredth_hours = case.hundredth_hours.min(day_count * 2400);
    let hours = f64::from(hundredth_hours) / 100.0;
    // The parser compares whole minutes; the ceiling is always enough. At most 40 h × 60, so
    // the cast is exact.
    let need_min = (hours * 60.0).ceil() as u32;
    let mut caps = case.caps_min;
    let mut total: u32 = available.iter().map(|day| caps[day.index()]).sum();
    // Spread the deficit over the available days, then top up greedily.
    if total < need_min {
        let share = (need_min - total).div_ceil(day_count);
        for day in &available {
            let cap = &mut caps[day.index()];
            let raised = (*cap + share).min(MINUTES_PER_DAY);
            total += raised - *cap;
            *cap = raised;
        }
        for day in &available {
            let cap = &mut caps[day.index()];
            let raised = (*cap + need_min.saturating_sub(total)).min(MINUTES_PER_DAY);
            total += raised - *cap;
            *cap = raised;
        }
    }
    let mut profile = Map::new();
    profile.insert("name".into(), json!("Prop Athlete"));
    profile.insert("age".into(), json!(case.age));
    profile.insert("weight_kg".into(), json!(72.5));
    profile.insert("ftp_w".into(), json!(case.ftp_w));
    profile.insert("max_hr".into(), json!(185));
    profile.insert("weekly_hours".into(), json!(hours));
    profile.insert(
        "available_days".into(),
        json!(available.iter().map(|day| day.name()).collect::<Vec<_>>()),
    );
    // Default caps (90 weekdays, 240 weekend) are used when they hold the budget and the case
    // asks for them, so the parser's defaults are exercised too.
    let default_min: u32 = available
        .iter()
        .map(|day| if day.is_weekend() { 240 } else { 90 })
        .sum();
    if case.include_caps || default_min < need_min {
        let caps_json: Map<String, Value> = available
            .iter()
            .map(|day| (day.name().to_string(), json!(caps[day.index()])))
            .collect();
        profile.insert("daily_caps_min".into(), Value::Object(caps_json));
    }
    profile.insert(
        "goals".into(),
        json!("Raise FTP and ride a hilly 150 km sportive"),
    );
    profile.insert("plan_weeks".into(), json!(case.weeks));
    if let Some((kind, weekday, priority)) = case.event {
        let date = event_date(case.weeks, weekday).to_string();
        match EventKind::ALL.get(kind) {
            Some(kind) => {
                profile.insert(
                    "event".into(),
                    json!({"date": date, "kind": kind.name(), "priority": PRIORITIES[priority]}),
                );
            }
            None => {
                profile.insert("event_date".into(), json!(date));
            }
        }
    }
    if let Some(tenths) = case.recent_tenth_hours {
        profile.insert(
            "recent_weekly_hours".into(),
            json!(f64::from(tenths) / 10.0),
        );
    }
    Value::Object(profile)
}

const PRIORITIES: [&str; 3] = ["A", "B", "C"];

/// The event's date: weekday `weekday` of the plan's last week.
fn event_date(weeks: u32, weekday: usize) -> NaiveDate {
    event::date_of(plan_start(), weeks, Weekday::ALL[weekday])
}

fn event_of(profile: &AthleteProfile, weeks: u32) -> Option<EventDay> {
    event::event_day(plan_start(), weeks, profile.event_date)
}

fn all_weeks(
    profile: &AthleteProfile,
    overview: &PlanOverview,
    weeks: u32,
    rules: &Rules,
) -> Vec<WeekDetails> {
    let event = event_of(profile, weeks);
    (1..=weeks)
        .map(|week| add_week_details(profile, overview, week, event, rules))
        .collect()
}

fn show(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every check the coach must pass for one profile; the plan must be free of errors and of
/// warnings alike, but for the plausibility warnings it is known to give
/// (`coach::TOLERATED_WARNINGS`).
fn check_coach(profile: &AthleteProfile, weeks: u32, rules: &Rules) -> Result<(), TestCaseError> {
    let event = event_of(profile, weeks);
    let overview = create_plan_overview(profile, weeks, event, rules);
    prop_assert_eq!(
        &overview,
        &create_plan_overview(profile, weeks, event, rules),
        "the coach is deterministic"
    );
    let overview_violations = check_overview(&overview, profile, weeks, event, rules);
    let overview_violations = untolerated(&overview_violations);
    prop_assert!(
        overview_violations.is_empty(),
        "overview: {}",
        show(&overview_violations)
    );

    let details = all_weeks(profile, &overview, weeks, rules);
    for (entry, week) in overview.weekly_overview.iter().zip(&details) {
        let number = u32::try_from(entry.week_number).expect("weeks are numbered 1..=52");
        let violations = untolerated(&check_week(week, number, entry, profile, event, rules));
        prop_assert!(
            violations.is_empty(),
            "week {}: {}",
            number,
            show(&violations)
        );
        // u32 → usize is lossless on every target this crate supports.
        prop_assert!(entry.training_days.len() <= rules.max_training_days.max(1) as usize);
        // The overview was sized from these very workouts.
        prop_assert_eq!(week.tss(), entry.target_tss);
        prop_assert_eq!(week.hours(), entry.total_hours);
        // Never above the budget, in minutes and in the rounded hours the validator reads.
        prop_assert!(
            week.minutes() <= profile.weekly_hours * 60.0 + 1e-9,
            "week {} has {} min, budget {} h",
            number,
            week.minutes(),
            profile.weekly_hours
        );
        prop_assert!(week.hours() <= profile.weekly_hours + 1e-9);
        for workout in &week.workouts {
            let cap = f64::from(profile.cap_min(workout.weekday));
            prop_assert!(
                workout.minutes() <= cap,
                "week {} {}: {} min > cap {}",
                number,
                workout.weekday,
                workout.minutes(),
                cap
            );
            prop_assert!(!workout.segments.is_empty());
            for segment in &workout.segments {
                // Whole minutes, no repeats: the coach writes plain whole-minute segments.
                prop_assert!(segment.duration_min >= 1.0 && segment.duration_min.fract() == 0.0);
                prop_assert!(segment.repeat.is_none());
                prop_assert!(segment.power_high() >= segment.power_low_pct);
                prop_assert!(
                    (0.0..=200.0).contains(&segment.power_low_pct) && segment.power_high() <= 200.0
                );
            }
        }
    }
    let violations = check_plan(&overview, &details, profile, weeks, event, rules);
    let violations = untolerated(&violations);
    prop_assert!(violations.is_empty(), "plan: {}", show(&violations));
    if let Some(event) = event {
        // Nothing on the event day or after it.
        let last = details.last().expect("a plan has weeks");
        prop_assert!(last
            .workouts
            .iter()
            .all(|workout| workout.weekday < event.weekday));
    }
    Ok(())
}

/// A plan that ends on its event builds fitness: CTL at the end, after the taper, is above
/// CTL at the start. Asserted where the profile leaves room to build: 12 weeks or more, at
/// least 3 training days and 4-16 h, not already riding 80 % of the budget (the coach cannot
/// raise the load of an athlete who rides the whole budget today, and short or masters plans
/// spend too much of their length unloading to show the gain after a taper).
fn check_fitness_builds(
    profile: &AthleteProfile,
    weeks: u32,
    rules: &Rules,
) -> Result<(), TestCaseError> {
    let Some(event) = event_of(profile, weeks) else {
        return Ok(());
    };
    let room = weeks >= 12
        && profile.available_days.len() >= 3
        && (4.0..=16.0).contains(&profile.weekly_hours)
        && profile.age.is_none_or(|age| age < 55)
        && profile
            .recent_weekly_hours
            .is_none_or(|hours| hours < 0.8 * profile.weekly_hours)
        && profile
            .event
            .is_none_or(|details| details.priority != Priority::C);
    if !room || rules.max_training_days < 3 {
        return Ok(());
    }
    let overview = create_plan_overview(profile, weeks, Some(event), rules);
    let details = all_weeks(profile, &overview, weeks, rules);
    let start = profile
        .current_ctl
        .unwrap_or_else(|| load::implied_start_ctl(details[0].tss()));
    let summary = load::summarize(&overview.weekly_overview, &details, start, Some(event));
    prop_assert!(
        summary.ctl_end > summary.ctl_start,
        "CTL {:.1} -> peak {:.1} -> end {:.1}",
        summary.ctl_start,
        summary.ctl_peak,
        summary.ctl_end
    );
    Ok(())
}

/// The share of a plan's riding time whose power (by midpoint) is inside `range`.
fn time_share(details: &[WeekDetails], range: std::ops::RangeInclusive<f64>) -> f64 {
    let steps: Vec<_> = details
        .iter()
        .flat_map(|week| &week.workouts)
        .flat_map(|workout| workout.steps())
        .collect();
    let total: f64 = steps.iter().map(|step| step.minutes).sum();
    let inside: f64 = steps
        .iter()
        .filter(|step| range.contains(&((step.low_pct + step.high_pct) / 2.0)))
        .map(|step| step.minutes)
        .sum();
    inside / total
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn plans_that_end_on_their_event_build_fitness(case in case_strategy()) {
        let value = profile_json(&case);
        let profile = profile_from_value(&value)
            .map_err(|err| TestCaseError::fail(format!("the repaired profile must be valid: {err}\n{value}")))?;
        check_fitness_builds(&profile, case.weeks, &case.rules)?;
    }

    /// The same athlete training for a criterium, a time trial and a gran fondo: the criterium
    /// plan has the most time above 120 % FTP, and the time trial more threshold (zone 4) than
    /// the fondo.
    #[test]
    fn plans_for_different_events_differ_in_the_expected_direction(
        case in case_strategy(),
        weekday in 0usize..7,
    ) {
        let mut value = profile_json(&case);
        let hours = value["weekly_hours"].as_f64().unwrap();
        let days = value["available_days"].as_array().unwrap().len();
        // Room for quality sessions of each kind: 3+ days with an hour or more,
        // 4+ hours, a plan with a build.
        let base = profile_from_value(&value).map_err(|err| TestCaseError::fail(err.to_string()))?;
        let roomy_days = base.available_days.iter().filter(|day| base.cap_min(**day) >= 60).count();
        prop_assume!(
            days >= 3 && roomy_days >= 3 && hours >= 4.0 && case.weeks >= 8 && case.rules.max_training_days >= 3
        );
        let date = event_date(case.weeks, weekday).to_string();
        if let Some(object) = value.as_object_mut() {
            object.remove("event_date");
        }
        let mut plan_for = |kind: &str, duration_h: f64| -> Result<Vec<WeekDetails>, TestCaseError> {
            value["event"] = json!({"date": date, "kind": kind, "duration_h": duration_h});
            value["goals"] = json!("");
            let profile = profile_from_value(&value).map_err(|err| TestCaseError::fail(err.to_string()))?;
            let event = event_of(&profile, case.weeks);
            let overview = create_plan_overview(&profile, case.weeks, event, &case.rules);
            Ok(all_weeks(&profile, &overview, case.weeks, &case.rules))
        };
        let crit = plan_for("criterium", 1.0)?;
        let tt = plan_for("time_trial", 1.0)?;
        let fondo = plan_for("gran_fondo", 6.0)?;
        let above = 120.0001..=1000.0;
        prop_assert!(time_share(&crit, above.clone()) > time_share(&fondo, above.clone()));
        prop_assert!(time_share(&crit, above.clone()) > time_share(&tt, above));
        let threshold = 90.0001..=105.0;
        prop_assert!(
            time_share(&tt, threshold.clone()) > time_share(&fondo, threshold.clone()),
            "TT {:.3} fondo {:.3}",
            time_share(&tt, threshold.clone()),
            time_share(&fondo, threshold)
        );
    }

    #[test]
    fn builtin_plans_pass_every_rule(case in case_strategy()) {
        let value = profile_json(&case);
        let profile = profile_from_value(&value)
            .map_err(|err| TestCaseError::fail(format!("the repaired profile must be valid: {err}\n{value}")))?;
        check_coach(&profile, case.weeks, &case.rules)?;
    }

    #[test]
    fn builtin_plans_pass_every_rule_for_edge_profiles(case in extreme_case_strategy()) {
        let value = profile_json(&case);
        let profile = profile_from_value(&value)
            .map_err(|err| TestCaseError::fail(format!("the repaired profile must be valid: {err}\n{value}")))?;
        check_coach(&profile, case.weeks, &case.rules)?;
    }
}

/// The smallest budget the parser accepts is one the coach can plan for every plan length: a
/// week of one minute, on any set of days, for any loading pattern and training-day limit.
#[test]
fn a_profile_at_the_minimum_weekly_hours_passes_every_rule() {
    let day_sets: [&[&str]; 4] = [
        &["Sunday"],
        &["Monday", "Tuesday"],
        &["Tuesday", "Thursday", "Saturday", "Sunday"],
        &[
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ],
    ];
    let rules = [
        Rules::default(),
        Rules {
            max_training_days: 1,
            tss_check: TssCheck::Error,
            ..Rules::default()
        },
        Rules {
            max_training_days: 7,
            tss_check: TssCheck::Warn,
            ..Rules::default()
        },
    ];
    for days in day_sets {
        // Default caps, and caps just holding the hour on either day.
        for (age, caps) in [(30, json!(null)), (61, json!({"Sunday": 60, "Monday": 65}))] {
            let profile = parse(json!({
                "name": "Minimal", "age": age, "ftp_w": 250, "weekly_hours": MIN_WEEKLY_HOURS,
                "available_days": days, "daily_caps_min": caps
            }));
            assert_eq!(profile.weekly_hours, MIN_WEEKLY_HOURS);
            for rules in &rules {
                for weeks in [1, 2, 3, 4, 5, 8, 11, 12, 13, 16, 26, 52] {
                    check_coach(&profile, weeks, rules)
                        .unwrap_or_else(|err| panic!("{days:?}, age {age}, {weeks} weeks: {err}"));
                }
            }
        }
    }
}

fn parse(value: Value) -> AthleteProfile {
    profile_from_value(&value).expect("the fixture profile is valid")
}

#[test]
fn three_training_days_at_most_when_the_rules_say_so() {
    let profile = parse(json!({
        "name": "Lena", "age": 34, "ftp_w": 285, "weekly_hours": 11,
        "available_days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        "daily_caps_min": {"Monday": 120, "Tuesday": 120, "Wednesday": 120, "Thursday": 120, "Friday": 120, "Saturday": 300, "Sunday": 300}
    }));
    let rules = Rules {
        max_training_days: 3,
        tss_check: TssCheck::Error,
        ..Rules::default()
    };
    for weeks in [1, 4, 12, 20] {
        check_coach(&profile, weeks, &rules).expect("a valid plan");
        let overview = create_plan_overview(&profile, weeks, None, &rules);
        assert!(overview
            .weekly_overview
            .iter()
            .all(|entry| entry.training_days.len() <= 3));
        // Only the weekend plus one weekday (300 + 300 + 120 min) hold the 11 h budget: the coach
        // finds them, and its first week rides 60 % of the budget (no recent training given).
        let first = &overview.weekly_overview[0];
        assert_eq!(first.training_days.len(), 3);
        assert!(
            first.training_days.contains(&Weekday::Saturday)
                && first.training_days.contains(&Weekday::Sunday)
        );
        assert!(
            first.total_hours >= 6.5,
            "{weeks} weeks: {} h",
            first.total_hours
        );
    }
}

#[test]
fn masters_athlete_gets_two_to_one_loading() {
    let profile = parse(json!({
        "name": "Walter", "age": 61, "ftp_w": 210, "weekly_hours": 8,
        "available_days": ["Tuesday", "Thursday", "Saturday", "Sunday"]
    }));
    let rules = Rules::default();
    check_coach(&profile, 12, &rules).expect("a valid plan");
    let overview = create_plan_overview(&profile, 12, None, &rules);
    let phases: Vec<&str> = overview
        .weekly_overview
        .iter()
        .map(|entry| &entry.phase.name()[..1])
        .collect();
    assert_eq!(phases.join(" "), "F F R F F R B B R P P R");
    assert!(
        overview.coaching_notes.contains("2:1"),
        "{}",
        overview.coaching_notes
    );
}

#[test]
fn recovery_and_taper_weeks_are_clearly_lighter() {
    let profile = parse(json!({
        "name": "Ana", "ftp_w": 250, "weekly_hours": 9,
        "available_days": ["Tuesday", "Wednesday", "Thursday", "Saturday", "Sunday"]
    }));
    let overview = create_plan_overview(&profile, 16, None, &Rules::default());
    let hours: Vec<f64> = overview
        .weekly_overview
        .iter()
        .map(|entry| entry.total_hours)
        .collect();
    let biggest = hours.iter().copied().fold(0.0, f64::max);
    assert!(biggest <= 9.0);
    for (index, entry) in overview.weekly_overview.iter().enumerate() {
        if entry.phase.is_unloading() {
            let before = hours[..index].iter().copied().fold(0.0, f64::max);
            let cut = 1.0 - entry.total_hours / before;
            assert!(
                (0.38..=0.62).contains(&cut),
                "week {}: {:.0}% cut",
                entry.week_number,
                cut * 100.0
            );
        }
    }
}
