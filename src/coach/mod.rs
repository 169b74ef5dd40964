//! The built-in coach (SPEC §9): a deterministic, rule-based answer to both tools. Pure: no IO,
//! no clock, no randomness, no environment.
//!
//! How it plans:
//! - Phases: Foundation → Build → Peak, loading runs of at most 3 weeks (2 from age 55) each
//!   followed by a Recovery week, then a Taper (1 week; 2 weeks for plans of 12 weeks or more).
//! - Days: a subset of the available days, at most `rules.max_training_days`, that holds as
//!   much of the weekly budget as the caps allow, spread out, Monday and Friday rested first.
//! - Volume: load weeks ramp 5 % a week from 80 % of the budget (each block starting higher),
//!   Peak trims to 85 %, Recovery is 55 % of the block's biggest week, the taper 60 % then 45 %
//!   (50 % for a one-week taper). Hours never exceed the budget nor rise more than 10 % a week
//!   outside a recovery week, so the validator's cross-week warnings never fire.
//! - Workouts: minutes spread over the days by weight within each cap (the day with the largest
//!   cap carries the long ride), quality sessions on well-spaced days with room for them,
//!   interval sets trimmed to fit, the rest of a session filled with endurance riding.
//!
//! `add_week_details` re-derives a week from its overview entry alone (days, hard days, hours)
//! and the phases of the overview, with the same function the overview used to compute that
//! week's hours and TSS, so both match exactly. Given an overview written elsewhere (the coach
//! as a fallback), it honours the entry's days, hard days and hours, and moves its endurance
//! riding within zone 2 towards the entry's TSS target.

// `write!` into a String cannot fail, so its Result is dropped with `let _`.
use std::fmt::Write as _;

use crate::domain::event::{EventDay, EventKind, Experience, Priority};
use crate::domain::load::WeekLoad;
use crate::domain::plan::{
    minutes_to_hours, PlanOverview, Segment, WeekDetails, WeekOverview, Workout,
};
use crate::domain::profile::AthleteProfile;
use crate::domain::validate::{
    Rule, Rules, Severity, Violation, HOURS_RISE_WARN, MAX_HARD_DAYS, PRE_TAPER_WEEKS,
};
use crate::domain::{tss, Phase, SegmentKind, Weekday};

mod days;
mod goal;
mod load_guard;
mod phases;
#[cfg(test)]
mod tests;
mod text;
mod workouts;

use days::*;
use goal::*;
use load_guard::*;
use phases::*;
use text::*;
use workouts::*;

/// The plausibility rules whose warnings the coach cannot always avoid, where the profile makes
/// them unavoidable (a sweep of 1,500 random profiles of every budget, day set, length and event
/// found warnings in 20 plans and errors in none): `acwr` above 1.3 only at a CTL below 10 (budgets of 1-3 h, where
/// one minimum-length session is a large share of the week's load); `ctl_ramp` for a new rider
/// (3 points a week) on budgets above 25 h; `taper_intensity` in tapers of 1-2 h budgets, too
/// short to hold a threshold set; `taper_volume` where rounded hours land on the 40 % edge; and
/// `hard_days_back_to_back` across a week's seam (a hard Sunday, then a hard Monday: each week
/// picks its hard days alone). The load guard (`load_guard.rs`) keeps every other case inside
/// the limits, and none of them is ever an error on its plans.
pub const TOLERATED_WARNINGS: [Rule; 5] = [
    Rule::CtlRamp,
    Rule::Acwr,
    Rule::TaperVolume,
    Rule::TaperIntensity,
    Rule::HardDaysBackToBack,
];

/// The violations of a coach plan that the coach must never produce: every error, and every
/// warning but those of `TOLERATED_WARNINGS`.
pub fn untolerated(violations: &[Violation]) -> Vec<Violation> {
    violations
        .iter()
        .filter(|violation| {
            violation.severity == Severity::Error
                || !violation
                    .rule()
                    .is_some_and(|rule| TOLERATED_WARNINGS.contains(&rule))
        })
        .cloned()
        .collect()
}

/// The smallest weekly budget the built-in coach plans; the profile parser refuses less. Plans
/// pass every rule from 0.02 h up (the coach works in whole minutes and the validator reads
/// hours rounded to 0.01, in which one minute is 0.02 h; a scan of budgets, day sets, caps,
/// ages and plan lengths found no failure above it), but such a week is a minute of riding. The
/// floor is the budget whose leanest week (a taper at `TAPER_FLOOR_FRACTION` of it) still holds
/// one session of `MIN_SESSION_MIN`: 50 minutes, rounded up to the hour a rider would state.
pub const MIN_WEEKLY_HOURS: f64 = 1.0;

/// A session shorter than this is not worth a training day of its own.
const MIN_SESSION_MIN: i64 = 20;
/// A day needs at least this long to carry a quality session.
const MIN_QUALITY_MIN: i64 = 30;
/// Days whose cap is below this are used only when the budget needs them.
const SHORT_CAP_MIN: i64 = 30;
/// Planned minutes move in steps of this size where the caps allow, so sessions read well.
const STEP_MIN: i64 = 5;
/// From this age the coach loads 2:1 instead of 3:1 (masters recover more slowly).
const MASTERS_AGE: u32 = 55;
/// A day's weight when sharing a week's minutes saturates here, so that one huge cap does not
/// swallow the week.
const WEIGHT_CAP_MIN: i64 = 150;

/// A later macrocycle starts this far from the first cycle's start toward the full ceiling.
const CYCLE_START_GAIN: f64 = 0.5;
/// The lowest start, as a fraction of the budget, whatever the athlete rode lately: a plan
/// that starts lower spends its first weeks catching up to its own budget.
const START_FRACTION_FLOOR: f64 = 0.4;
/// TSS per hour of mixed endurance and interval riding, to turn a training load into hours.
const MIXED_RIDING_TSS_PER_H: f64 = 50.0;
/// Week-over-week rise inside a loading block (below the validator's 10 %).
const WEEK_STEP_FRACTION: f64 = 0.05;
const PEAK_FRACTION: f64 = 0.95;
const PEAK_FLOOR_FRACTION: f64 = 0.80;
/// A recovery week is this fraction of its block's lightest load week (a 33 % cut: the
/// validator asks for 30 % against every load week).
const RECOVERY_FRACTION: f64 = 0.67;
/// Taper weeks against the mean of the load weeks before them: 55 % for a one-week taper,
/// 60 % then 52 % for two (a cut of about 45 % in all, inside the literature's 40-60 % and far
/// enough from its 40 % edge that rounded hours never cross it).
const SINGLE_TAPER_FRACTION: f64 = 0.55;
const FIRST_TAPER_FRACTION: f64 = 0.60;
const TAPER_STEP_FRACTION: f64 = 0.08;
const TAPER_FLOOR_FRACTION: f64 = 0.40;

/// FTP gain the plan aims for per week, and its ceiling.
const FTP_GAIN_PER_WEEK: f64 = 0.005;
const FTP_GAIN_MAX: f64 = 0.08;
const MASTERS_GAIN_FACTOR: f64 = 0.75;

/// Builds the `create_plan_overview` arguments for a plan of `total_weeks` weeks that ends on
/// `event` when it has one.
pub fn create_plan_overview(
    profile: &AthleteProfile,
    total_weeks: u32,
    event: Option<EventDay>,
    rules: &Rules,
) -> PlanOverview {
    let goal = Goal::of(profile);
    let ending = ending_of(profile, total_weeks, event);
    let loading_weeks = loading_weeks(profile);
    let phases = phase_layout(total_weeks, loading_weeks, ending);
    let timeline = timeline_of(&phases);
    let levels = load_levels(&phases, start_fraction(profile));
    let max_days = max_training_days(rules);
    let budget_min = budget_minutes(profile);
    let desired = desired_days(profile.weekly_hours).min(max_days);
    let base_days = select_days(
        profile,
        &profile.available_days,
        desired,
        budget_min,
        max_days,
    );
    let ceiling_min = budget_min.min(capacity_min(profile, &base_days)).max(1);
    let slots = load_slots(&phases);

    let mut entries = Vec::with_capacity(phases.len());
    let mut guard = LoadGuard::new(profile, rules);
    let mut test_weeks = Vec::new();
    let mut longest_ride_min = 0;
    let mut previous: Option<(Phase, i64)> = None;
    let mut block_max_min = 0;
    let mut block_min_min = 0;
    let mut load_weeks_min: Vec<i64> = Vec::new();
    let mut load_max_min = 0;
    let mut peak_weeks_seen: i64 = 0;
    let mut taper_weeks_seen: i64 = 0;
    let taper_weeks = phases
        .iter()
        .filter(|phase| **phase == Phase::Taper)
        .count();
    for (index, &phase) in phases.iter().enumerate() {
        let week_number = count_i64(index + 1);
        let context = WeekContext::new(&timeline, week_number, phase, goal, event);
        let biggest = |max_min: i64| if max_min > 0 { max_min } else { ceiling_min };
        let (fraction, reference_min) = match phase {
            Phase::Foundation | Phase::Build => (levels[index], ceiling_min),
            Phase::Peak => {
                let fraction = (PEAK_FRACTION - WEEK_STEP_FRACTION * small_f64(peak_weeks_seen))
                    .max(PEAK_FLOOR_FRACTION);
                peak_weeks_seen += 1;
                (fraction, biggest(load_max_min))
            }
            // A cut against the block's lightest week: every load week of the block stays at
            // least 30 % above it, and the chronic load the next block builds on holds up.
            Phase::Recovery => (RECOVERY_FRACTION, biggest(block_min_min)),
            Phase::Taper => {
                let fraction = if taper_weeks == 1 {
                    SINGLE_TAPER_FRACTION
                } else {
                    (FIRST_TAPER_FRACTION - TAPER_STEP_FRACTION * small_f64(taper_weeks_seen))
                        .max(TAPER_FLOOR_FRACTION)
                };
                taper_weeks_seen += 1;
                // Against the load weeks just before the taper, as the validator measures it.
                let recent =
                    &load_weeks_min[load_weeks_min.len().saturating_sub(PRE_TAPER_WEEKS)..];
                let mean = recent.iter().sum::<i64>() / count_i64(recent.len().max(1));
                (fraction, if mean > 0 { mean } else { ceiling_min })
            }
        };
        let mut planned_min = planned_minutes(fraction, reference_min);
        let mut candidates = base_days.clone();
        if let Some(event) = context.event {
            // Race week: only the available days before the event train, each at the volume a
            // day of the week would have (the validator weighs the taper the same way).
            candidates = race_days(profile, event.weekday);
            planned_min = planned_min * count_i64(candidates.len())
                / count_i64(profile.available_days.len().max(1));
        }
        let week_desired = if phase == Phase::Recovery && candidates.len() >= 3 {
            candidates.len() - 1
        } else {
            candidates.len()
        };
        let mut days = select_days(profile, &candidates, week_desired, planned_min, max_days);
        if context.is_race_week() {
            days = with_opener_day(&candidates, days, context.event, max_days);
        }
        let mut total_min = planned_min.min(capacity_min(profile, &days));
        if let Some((previous_phase, previous_min)) = previous {
            if previous_phase != Phase::Recovery && phase != Phase::Recovery {
                total_min = total_min.min(max_rise_minutes(previous_min));
            }
        }
        total_min = within_rounding(
            total_min,
            profile.weekly_hours,
            capacity_min(profile, &days),
        );
        if total_min < count_i64(days.len()) && !days.is_empty() {
            // Fewer minutes than days (only with budgets of a few minutes): ride fewer days.
            days = select_days(profile, &days, 1, total_min, 1);
            total_min = total_min.min(capacity_min(profile, &days)).max(1);
        }
        if days.is_empty() {
            total_min = 0;
        }
        let hard_days = if context.is_race_week() {
            usize::from(opener_day(&days, context.event).is_some())
        } else if context.is_test_week {
            let layout = DayLayout::new(profile, &days, total_min, None);
            usize::from(
                total_min >= FTP_TEST_WEEK_MIN
                    && layout
                        .minutes
                        .iter()
                        .any(|&minutes| minutes >= FTP_TEST_SESSION_MIN),
            )
        } else {
            hard_day_target(phase, days.len(), context.is_final_week).min(quality_day_limit(
                profile,
                &days,
                total_min,
                long_ride(&context, total_min),
            ))
        };
        let day_count = count_i64(days.len());
        let mut entry = WeekOverview {
            week_number,
            phase,
            phase_rationale: String::new(),
            weekly_focus: String::new(),
            weekly_watch_points: String::new(),
            training_days: days,
            target_tss: 0.0,
            hard_days: count_i64(hard_days),
            easy_days: day_count - count_i64(hard_days),
            rest_days: 7 - day_count,
            total_hours: minutes_to_hours(small_f64(total_min)),
        };
        let mut details = WeekDetails {
            week_number,
            workouts: design_week(profile, &context, &entry),
        };
        // Keep the week within the load limits: a test week first drops its test, then any week
        // sheds minutes until it fits (or reaches the guard's floor, where the validator says so).
        let mut tried_min = total_min;
        while !guard.fits(WeekLoad::detailed(&entry, &details)) {
            if context.is_test_week && entry.hard_days > 0 {
                entry.hard_days = 0;
                entry.easy_days = day_count;
            } else if let Some(next) = shrunk(tried_min, total_min) {
                tried_min = next;
                entry.total_hours = minutes_to_hours(small_f64(tried_min));
            } else {
                break;
            }
            details.workouts = design_week(profile, &context, &entry);
        }
        guard.push(WeekLoad::detailed(&entry, &details));
        let actual_min = whole_minutes(details.minutes());
        if details
            .workouts
            .iter()
            .any(|workout| workout.name == FTP_TEST_NAME)
        {
            test_weeks.push(week_number);
        }
        longest_ride_min = details
            .workouts
            .iter()
            .map(|workout| whole_minutes(workout.minutes()))
            .fold(longest_ride_min, i64::max);
        entry.total_hours = details.hours();
        entry.target_tss = details.tss();
        let volume = Volume {
            minutes: actual_min,
            reference_min: match phase {
                Phase::Recovery => biggest(block_max_min),
                Phase::Peak | Phase::Taper => biggest(load_max_min),
                Phase::Foundation | Phase::Build => previous.map_or(0, |(_, minutes)| minutes),
            },
        };
        entry.phase_rationale =
            phase_rationale(profile, &context, loading_weeks, &slots[index], volume);
        entry.weekly_focus = weekly_focus(profile, &context, &details);
        entry.weekly_watch_points = watch_points(profile, &context, &details);
        entries.push(entry);

        match phase {
            Phase::Foundation | Phase::Build | Phase::Peak => {
                load_weeks_min.push(actual_min);
                block_min_min = if block_min_min == 0 {
                    actual_min
                } else {
                    block_min_min.min(actual_min)
                };
                block_max_min = block_max_min.max(actual_min);
                load_max_min = load_max_min.max(actual_min);
            }
            Phase::Recovery => {
                block_max_min = 0;
                block_min_min = 0;
            }
            Phase::Taper => {}
        }
        previous = Some((phase, actual_min));
    }

    let target_ftp = target_ftp(profile, total_weeks);
    let plan = PlanFacts {
        entries: &entries,
        loading_weeks,
        target_ftp,
        event,
        goal,
        test_weeks,
        longest_ride_min,
    };
    PlanOverview {
        total_weeks: i64::from(total_weeks),
        target_ftp,
        coaching_notes: coaching_notes(profile, &plan),
        monitoring_guidance: monitoring_guidance(profile, &plan),
        weekly_overview: entries,
    }
}

/// Builds the `add_week_details` arguments for one week of `overview`: the same workouts the
/// coach used to size that week, derived from the entry's days, hard days and hours. A week
/// missing from the overview gets the week the coach itself would plan.
pub fn add_week_details(
    profile: &AthleteProfile,
    overview: &PlanOverview,
    week_number: u32,
    event: Option<EventDay>,
    rules: &Rules,
) -> WeekDetails {
    let requested = i64::from(week_number);
    if let Some(entry) = overview.week(week_number) {
        let timeline: Vec<(i64, Phase)> = overview
            .weekly_overview
            .iter()
            .map(|entry| (entry.week_number, entry.phase))
            .collect();
        let context = WeekContext::new(&timeline, requested, entry.phase, Goal::of(profile), event);
        return WeekDetails {
            week_number: requested,
            workouts: design_week(profile, &context, entry),
        };
    }
    // The overview lacks the week (an overview written elsewhere): answer with the week the
    // coach itself would plan, which exists for every week number from 1 on.
    let total_weeks = u32::try_from(overview.total_weeks)
        .unwrap_or(0)
        .max(week_number);
    let own = create_plan_overview(profile, total_weeks, event, rules);
    if own.week(week_number).is_some() {
        return add_week_details(profile, &own, week_number, event, rules);
    }
    // Week 0 is no week of any plan; the empty answer lets validation say so.
    WeekDetails {
        week_number: requested,
        workouts: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Small conversions

fn count_i64(count: usize) -> i64 {
    // Counts here are days, weeks or segments: far below i64::MAX.
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn small_f64(value: i64) -> f64 {
    // Minutes, weeks and counts: far below 2^53, so exact in f64.
    value as f64
}

/// The coach's own sums of minutes as an integer: it writes whole-minute segments and no
/// repeats, so every sum of its minutes is a small whole number.
fn whole_minutes(minutes: f64) -> i64 {
    minutes.round() as i64
}
