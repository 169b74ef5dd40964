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

use crate::domain::plan::{
    minutes_to_hours, PlanOverview, Segment, WeekDetails, WeekOverview, Workout,
};
use crate::domain::profile::AthleteProfile;
use crate::domain::validate::{Rules, HOURS_RISE_WARN, MAX_HARD_DAYS};
use crate::domain::{tss, Phase, SegmentKind, Weekday};

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

/// First load week of the plan, as a fraction of the week's ceiling.
const FIRST_LOAD_FRACTION: f64 = 0.80;
/// Each later loading block starts this much higher.
const BLOCK_STEP_FRACTION: f64 = 0.10;
/// Week-over-week rise inside a loading block (below the validator's 10 %).
const WEEK_STEP_FRACTION: f64 = 0.05;
const PEAK_FRACTION: f64 = 0.85;
const PEAK_FLOOR_FRACTION: f64 = 0.75;
/// A recovery week is this fraction of its block's biggest week (a 45 % cut).
const RECOVERY_FRACTION: f64 = 0.55;
const SINGLE_TAPER_FRACTION: f64 = 0.50;
const FIRST_TAPER_FRACTION: f64 = 0.60;
const TAPER_STEP_FRACTION: f64 = 0.15;
const TAPER_FLOOR_FRACTION: f64 = 0.40;

/// FTP gain the plan aims for per week, and its ceiling.
const FTP_GAIN_PER_WEEK: f64 = 0.005;
const FTP_GAIN_MAX: f64 = 0.08;
const MASTERS_GAIN_FACTOR: f64 = 0.75;

/// Builds the `create_plan_overview` arguments for a plan of `total_weeks` weeks.
pub fn create_plan_overview(
    profile: &AthleteProfile,
    total_weeks: u32,
    rules: &Rules,
) -> PlanOverview {
    let loading_weeks = loading_weeks(profile);
    let phases = phase_layout(total_weeks, loading_weeks);
    let timeline = timeline_of(&phases);
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
    let mut previous: Option<(Phase, i64)> = None;
    let mut block_max_min = 0;
    let mut load_max_min = 0;
    let mut peak_weeks_seen: i64 = 0;
    let mut taper_weeks_seen: i64 = 0;
    let taper_weeks = phases
        .iter()
        .filter(|phase| **phase == Phase::Taper)
        .count();
    for (index, &phase) in phases.iter().enumerate() {
        let week_number = index + 1;
        let (fraction, reference_min) = match phase {
            Phase::Foundation | Phase::Build => (slots[index].load_fraction(), ceiling_min),
            Phase::Peak => {
                let fraction = (PEAK_FRACTION - WEEK_STEP_FRACTION * small_f64(peak_weeks_seen))
                    .max(PEAK_FLOOR_FRACTION);
                peak_weeks_seen += 1;
                (fraction, ceiling_min)
            }
            // The block's biggest week; a block always precedes a recovery week.
            Phase::Recovery => (
                RECOVERY_FRACTION,
                if block_max_min > 0 {
                    block_max_min
                } else {
                    ceiling_min
                },
            ),
            Phase::Taper => {
                let fraction = if taper_weeks == 1 {
                    SINGLE_TAPER_FRACTION
                } else {
                    (FIRST_TAPER_FRACTION - TAPER_STEP_FRACTION * small_f64(taper_weeks_seen))
                        .max(TAPER_FLOOR_FRACTION)
                };
                taper_weeks_seen += 1;
                // The biggest load week; a load week always precedes the taper.
                (
                    fraction,
                    if load_max_min > 0 {
                        load_max_min
                    } else {
                        ceiling_min
                    },
                )
            }
        };
        let planned_min = planned_minutes(fraction, reference_min);
        let week_desired = if phase == Phase::Recovery && base_days.len() >= 3 {
            base_days.len() - 1
        } else {
            base_days.len()
        };
        let mut days = select_days(profile, &base_days, week_desired, planned_min, max_days);
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
        if total_min < count_i64(days.len()) {
            // Fewer minutes than days (only with budgets of a few minutes): ride fewer days.
            days = select_days(profile, &base_days, 1, total_min, 1);
            total_min = total_min.min(capacity_min(profile, &days)).max(1);
        }
        let is_final_week = index + 1 == phases.len();
        let hard_days = hard_day_target(phase, days.len(), is_final_week)
            .min(quality_day_limit(profile, &days, total_min));
        let day_count = count_i64(days.len());
        let mut entry = WeekOverview {
            week_number: count_i64(week_number),
            phase,
            phase_rationale: String::new(),
            weekly_focus: String::new(),
            weekly_watch_points: String::new(),
            training_days: days,
            target_tss: 0.0,
            hard_days: count_i64(hard_days),
            easy_days: day_count - count_i64(hard_days),
            rest_days: 7 - day_count,
            total_hours: minutes_to_hours(total_min),
        };
        let context = WeekContext::new(&timeline, entry.week_number, phase);
        let details = WeekDetails {
            week_number: entry.week_number,
            workouts: design_week(profile, &context, &entry),
        };
        let actual_min = details.total_minutes();
        entry.total_hours = details.hours();
        entry.target_tss = details.tss();
        entry.phase_rationale = phase_rationale(profile, &context, loading_weeks, &slots[index]);
        entry.weekly_focus = weekly_focus(profile, &context, &details);
        entry.weekly_watch_points = watch_points(profile, phase, &details);
        entries.push(entry);

        match phase {
            Phase::Foundation | Phase::Build | Phase::Peak => {
                block_max_min = block_max_min.max(actual_min);
                load_max_min = load_max_min.max(actual_min);
            }
            Phase::Recovery => block_max_min = 0,
            Phase::Taper => {}
        }
        previous = Some((phase, actual_min));
    }

    let target_ftp = target_ftp(profile, total_weeks);
    PlanOverview {
        total_weeks: i64::from(total_weeks),
        target_ftp,
        coaching_notes: coaching_notes(profile, &entries, loading_weeks, target_ftp),
        monitoring_guidance: monitoring_guidance(profile, &entries),
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
    rules: &Rules,
) -> WeekDetails {
    let requested = i64::from(week_number);
    if let Some(entry) = overview.week(week_number) {
        let timeline: Vec<(i64, Phase)> = overview
            .weekly_overview
            .iter()
            .map(|entry| (entry.week_number, entry.phase))
            .collect();
        let context = WeekContext::new(&timeline, requested, entry.phase);
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
    let own = create_plan_overview(profile, total_weeks, rules);
    if own.week(week_number).is_some() {
        return add_week_details(profile, &own, week_number, rules);
    }
    // Week 0 is no week of any plan; the empty answer lets validation say so.
    WeekDetails {
        week_number: requested,
        workouts: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Periodization

/// Loading weeks per block: 3:1 by default, 2:1 for masters.
fn loading_weeks(profile: &AthleteProfile) -> usize {
    match profile.age {
        Some(age) if age >= MASTERS_AGE => 2,
        _ => 3,
    }
}

/// The phase of every week, week 1 first.
fn phase_layout(total_weeks: u32, loading_weeks: usize) -> Vec<Phase> {
    // u32 always fits usize on the 32- and 64-bit targets this crate builds for.
    let total = total_weeks as usize;
    match total {
        0 => return Vec::new(),
        // A single week is a sample of normal training: nothing to taper from.
        1 => return vec![Phase::Foundation],
        _ => {}
    }
    let taper = if total >= 12 { 2 } else { 1 };
    let runs = loading_runs(total - taper, loading_weeks);
    let mut phases = Vec::with_capacity(total);
    for (index, &length) in runs.iter().enumerate() {
        if index > 0 {
            phases.push(Phase::Recovery);
        }
        phases.extend(run_phases(index, runs.len(), length));
    }
    phases.extend(std::iter::repeat_n(Phase::Taper, taper));
    phases
}

/// Splits `body` weeks into loading runs separated by one recovery week each: no run longer
/// than `loading_weeks`, as few recovery weeks as that allows, longer runs first. The last run
/// leads straight into the taper, which unloads in its place.
fn loading_runs(body: usize, loading_weeks: usize) -> Vec<usize> {
    // With runs of at least 2 weeks every run gets a week (2r + 1 ≤ body, see the tests).
    let longest = loading_weeks.max(2);
    // r recoveries make r + 1 runs holding body - r weeks: (r + 1) × longest ≥ body - r.
    let recoveries = body.saturating_sub(longest).div_ceil(longest + 1);
    let loads = body - recoveries;
    let runs = recoveries + 1;
    (0..runs)
        .map(|index| loads / runs + usize::from(index < loads % runs))
        .collect()
}

/// Phases of the loading run `index` of `runs`: Foundation first, Build in the middle, the run
/// before the taper peaks.
fn run_phases(index: usize, runs: usize, length: usize) -> Vec<Phase> {
    // `loading_runs` never makes an empty run, so every index below is within `length`.
    let mut phases = vec![Phase::Foundation; length];
    match runs {
        1 => match length {
            1 => phases[0] = Phase::Build,
            2 => phases[1] = Phase::Build,
            _ => {
                phases[length - 2] = Phase::Build;
                phases[length - 1] = Phase::Peak;
            }
        },
        2 if index == 1 => {
            phases.fill(Phase::Build);
            if length >= 2 {
                phases[length - 1] = Phase::Peak;
            }
        }
        2 => {}
        _ => {
            let foundation_runs = (runs - 1).div_ceil(2);
            if index + 1 == runs {
                phases.fill(Phase::Peak);
            } else if index >= foundation_runs {
                phases.fill(Phase::Build);
            }
        }
    }
    phases
}

/// Where a load week sits: its block (runs are counted across recovery weeks) and position.
#[derive(Debug, Clone, Copy, Default)]
struct LoadSlot {
    block: usize,
    position: usize,
    block_length: usize,
}

impl LoadSlot {
    /// Planned volume of a Foundation or Build week as a fraction of the ceiling: each block
    /// starts higher and rises 5 % a week, topping out at the full budget.
    fn load_fraction(&self) -> f64 {
        let top_start =
            1.0 - WEEK_STEP_FRACTION * small_f64(count_i64(self.block_length.saturating_sub(1)));
        let start = (FIRST_LOAD_FRACTION + BLOCK_STEP_FRACTION * small_f64(count_i64(self.block)))
            .min(top_start);
        (start + WEEK_STEP_FRACTION * small_f64(count_i64(self.position))).min(1.0)
    }
}

/// The block and position of every load week; a recovery week records the block it closes.
fn load_slots(phases: &[Phase]) -> Vec<LoadSlot> {
    fn close(members: &mut Vec<usize>, slots: &mut [LoadSlot]) -> usize {
        let length = members.len();
        for &member in members.iter() {
            slots[member].block_length = length;
        }
        members.clear();
        length
    }
    let mut slots = vec![LoadSlot::default(); phases.len()];
    let mut block = 0;
    let mut members: Vec<usize> = Vec::new();
    for (index, phase) in phases.iter().enumerate() {
        match phase {
            Phase::Foundation | Phase::Build | Phase::Peak => {
                slots[index] = LoadSlot {
                    block,
                    position: members.len(),
                    block_length: 0,
                };
                members.push(index);
            }
            Phase::Recovery => {
                let block_length = close(&mut members, &mut slots);
                slots[index] = LoadSlot {
                    block,
                    position: 0,
                    block_length,
                };
                block += 1;
            }
            Phase::Taper => {
                close(&mut members, &mut slots);
            }
        }
    }
    close(&mut members, &mut slots);
    slots
}

fn timeline_of(phases: &[Phase]) -> Vec<(i64, Phase)> {
    phases
        .iter()
        .enumerate()
        .map(|(index, phase)| (count_i64(index + 1), *phase))
        .collect()
}

/// What a week's workouts depend on besides its own entry.
#[derive(Debug, Clone, PartialEq)]
struct WeekContext {
    phase: Phase,
    /// How many earlier weeks share this phase: drives the progression of interval sets.
    phase_index: usize,
    phase_weeks: usize,
    is_final_week: bool,
}

impl WeekContext {
    fn new(timeline: &[(i64, Phase)], week_number: i64, phase: Phase) -> WeekContext {
        let same_phase = || timeline.iter().filter(|(_, other)| *other == phase);
        WeekContext {
            phase,
            phase_index: same_phase().filter(|(week, _)| *week < week_number).count(),
            phase_weeks: same_phase().count().max(1),
            is_final_week: timeline.iter().all(|(week, _)| *week <= week_number),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Volume and days

fn max_training_days(rules: &Rules) -> usize {
    // At least one day (a plan needs one) and at most the week; both fit usize.
    rules.max_training_days.clamp(1, 7) as usize
}

/// The weekly budget in whole minutes, never above `weekly_hours`.
fn budget_minutes(profile: &AthleteProfile) -> i64 {
    // weekly_hours is validated to (0, 40], so the minutes are small and exact.
    (profile.weekly_hours * 60.0 + 1e-9).floor() as i64
}

/// How many days a budget is best spread over: sessions of roughly 45–120 minutes.
fn desired_days(weekly_hours: f64) -> usize {
    match weekly_hours {
        hours if hours < 2.5 => 2,
        hours if hours < 4.5 => 3,
        hours if hours < 7.5 => 4,
        hours if hours < 12.0 => 5,
        hours if hours < 16.0 => 6,
        _ => 7,
    }
}

fn cap_of(profile: &AthleteProfile, day: Weekday) -> i64 {
    i64::from(profile.cap_min(day))
}

fn capacity_min(profile: &AthleteProfile, days: &[Weekday]) -> i64 {
    days.iter().map(|&day| cap_of(profile, day)).sum()
}

/// Chooses the training days among `candidates`: the set that holds the most of `need_min`,
/// then the fewest too-short sessions, then the size closest to `desired`, then the fewest
/// back-to-back days, then Monday and Friday left free, then the most room. Ties go to the
/// earliest days, so the choice is deterministic.
fn select_days(
    profile: &AthleteProfile,
    candidates: &[Weekday],
    desired: usize,
    need_min: i64,
    max_days: usize,
) -> Vec<Weekday> {
    let usable: Vec<Weekday> = candidates
        .iter()
        .copied()
        .filter(|&day| cap_of(profile, day) > 0)
        .collect();
    let mut best: Option<([i64; 7], Vec<Weekday>)> = None;
    for mask in 1u32..(1 << usable.len()) {
        let days: Vec<Weekday> = usable
            .iter()
            .enumerate()
            .filter(|(bit, _)| mask & (1 << bit) != 0)
            .map(|(_, day)| *day)
            .collect();
        if days.len() > max_days {
            continue;
        }
        let size = count_i64(days.len());
        let capacity = capacity_min(profile, &days);
        let short_caps = days
            .iter()
            .filter(|&&day| cap_of(profile, day) < SHORT_CAP_MIN)
            .count();
        let short_sessions = if need_min / size < MIN_SESSION_MIN {
            days.len()
        } else {
            0
        };
        let classic_rest = days
            .iter()
            .filter(|day| matches!(day, Weekday::Monday | Weekday::Friday))
            .count();
        let key = [
            -capacity.min(need_min),
            count_i64(short_caps + short_sessions),
            count_i64(days.len().abs_diff(desired)),
            count_i64(adjacent_pairs(&days)),
            count_i64(classic_rest),
            -capacity,
            i64::from(mask),
        ];
        if best.as_ref().is_none_or(|(best_key, _)| key < *best_key) {
            best = Some((key, days));
        }
    }
    best.map(|(_, days)| days).unwrap_or_default()
}

/// Pairs of consecutive calendar days in a set (Sunday → Monday counts).
fn adjacent_pairs(days: &[Weekday]) -> usize {
    days.iter()
        .filter(|day| {
            days.iter()
                .any(|other| other.index() == (day.index() + 1) % 7)
        })
        .count()
}

/// Smallest number of days between two of the set's days, around the week.
fn min_gap_days(days: &[Weekday]) -> usize {
    let mut indexes: Vec<usize> = days.iter().map(|day| day.index()).collect();
    indexes.sort_unstable();
    match (indexes.first(), indexes.last()) {
        (Some(first), Some(last)) if indexes.len() > 1 => {
            let wrap = first + 7 - last;
            indexes
                .windows(2)
                .map(|pair| pair[1] - pair[0])
                .fold(wrap, usize::min)
        }
        _ => 7,
    }
}

/// Whole minutes for `fraction` of `reference_min`, in 5-minute steps where that leaves any.
fn planned_minutes(fraction: f64, reference_min: i64) -> i64 {
    // reference_min is at most a week of caps (≤ 10 080), so the product is exact enough.
    let minutes = (fraction * small_f64(reference_min)).floor() as i64;
    let stepped = minutes - minutes % STEP_MIN;
    if stepped >= 2 * STEP_MIN {
        stepped
    } else {
        minutes.max(1)
    }
}

/// The most minutes a week may have after `previous_min` without the validator's
/// "hours rise more than 10 %" warning, compared the way the validator compares (rounded hours).
fn max_rise_minutes(previous_min: i64) -> i64 {
    let limit = minutes_to_hours(previous_min) * HOURS_RISE_WARN + 1e-9;
    // A week is at most 10 080 minutes, so the cast is exact.
    let mut minutes = (limit * 60.0).ceil() as i64 + 1;
    while minutes > 1 && minutes_to_hours(minutes) > limit {
        minutes -= 1;
    }
    minutes
}

/// Trims a week so that its rounded hours stay within the budget and within the caps of its
/// days (the validator compares rounded hours, which can sit 0.3 min above the minutes).
fn within_rounding(total_min: i64, weekly_hours: f64, capacity_min: i64) -> i64 {
    let mut minutes = total_min;
    while minutes > 1
        && (minutes_to_hours(minutes) > weekly_hours + 1e-9
            || minutes_to_hours(minutes) * 60.0 > small_f64(capacity_min) + 1e-6)
    {
        minutes -= 1;
    }
    minutes.max(1)
}

/// Quality sessions a week of a phase wants for its number of training days.
fn hard_day_target(phase: Phase, days: usize, is_final_week: bool) -> usize {
    let target = match phase {
        Phase::Foundation => match days {
            0..=3 => 1,
            _ => 2,
        },
        Phase::Build => match days {
            0..=2 => 1,
            3 | 4 => 2,
            _ => 3,
        },
        Phase::Peak => match days {
            0..=2 => 1,
            _ => 2,
        },
        // Openers keep the legs sharp; the first of two taper weeks keeps two short sessions
        // (frequency and intensity stay, volume goes).
        Phase::Taper if !is_final_week && days >= 3 => 2,
        Phase::Taper => 1,
        Phase::Recovery => 0,
    };
    // The validator allows at most 3 hard days; the constant is a small positive i64.
    target.min(days).min(MAX_HARD_DAYS as usize)
}

/// The most quality sessions the week's days can carry without two on consecutive days, each
/// on a day with room for one.
fn quality_day_limit(profile: &AthleteProfile, days: &[Weekday], total_min: i64) -> usize {
    let layout = DayLayout::new(profile, days, total_min);
    let roomy: Vec<Weekday> = days
        .iter()
        .zip(&layout.minutes)
        .filter(|(_, &minutes)| minutes >= MIN_QUALITY_MIN)
        .map(|(day, _)| *day)
        .collect();
    (0u32..(1 << roomy.len()))
        .map(|mask| subset(&roomy, mask))
        .filter(|set| adjacent_pairs(set) == 0)
        .map(|set| set.len())
        .max()
        .unwrap_or(0)
}

fn subset<T: Copy>(items: &[T], mask: u32) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, item)| *item)
        .collect()
}

/// A week's minutes per training day, and which day carries the long ride.
#[derive(Debug, Clone, PartialEq)]
struct DayLayout {
    minutes: Vec<i64>,
    long_index: usize,
}

impl DayLayout {
    fn new(profile: &AthleteProfile, days: &[Weekday], total_min: i64) -> DayLayout {
        let caps: Vec<i64> = days.iter().map(|&day| cap_of(profile, day)).collect();
        // The long ride goes where there is the most time; ties go to the later day (weekend).
        let long_index = caps
            .iter()
            .enumerate()
            .max_by_key(|(index, cap)| (**cap, *index))
            .map_or(0, |(index, _)| index);
        let weights: Vec<i64> = caps
            .iter()
            .enumerate()
            .map(|(index, cap)| {
                let weight = (*cap).clamp(1, WEIGHT_CAP_MIN);
                if index == long_index {
                    weight * 4 / 3
                } else {
                    weight
                }
            })
            .collect();
        DayLayout {
            minutes: allocate_minutes(total_min, &caps, &weights),
            long_index,
        }
    }
}

/// Shares `total_min` across days in proportion to `weights`, never above a day's cap, in
/// 5-minute steps where possible, at least one minute a day. The sum is exactly `total_min`
/// whenever `days ≤ total_min ≤ Σ caps`.
fn allocate_minutes(total_min: i64, caps: &[i64], weights: &[i64]) -> Vec<i64> {
    let count = caps.len();
    let mut minutes = vec![0; count];
    let mut at_cap = vec![false; count];
    let mut remaining = total_min;
    // Water-filling: a day whose share exceeds its cap gets its cap; the others share the
    // rest. Fixing a day only raises the others' shares, so fixing all at once is exact.
    loop {
        let weight_sum: i64 = (0..count).filter(|&i| !at_cap[i]).map(|i| weights[i]).sum();
        if weight_sum == 0 {
            break;
        }
        let over: Vec<usize> = (0..count)
            .filter(|&i| !at_cap[i] && remaining * weights[i] > caps[i] * weight_sum)
            .collect();
        if over.is_empty() {
            for i in (0..count).filter(|&i| !at_cap[i]) {
                let share = remaining * weights[i] / weight_sum;
                minutes[i] = if share >= STEP_MIN {
                    share - share % STEP_MIN
                } else {
                    share
                };
            }
            break;
        }
        for i in over {
            at_cap[i] = true;
            minutes[i] = caps[i];
            remaining -= caps[i];
        }
    }
    // Hand out what the rounding left, 5 minutes at a time, heaviest days first.
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&i| (-weights[i], i));
    let mut leftover = total_min - minutes.iter().sum::<i64>();
    while leftover > 0 {
        let mut progressed = false;
        for &i in &order {
            let add = STEP_MIN.min(leftover).min(caps[i] - minutes[i]);
            if add > 0 {
                minutes[i] += add;
                leftover -= add;
                progressed = true;
            }
            if leftover == 0 {
                break;
            }
        }
        if !progressed {
            break;
        }
    }
    // Every training day needs a workout of at least one minute.
    for i in 0..count {
        if minutes[i] == 0 {
            let donor = (0..count)
                .filter(|&j| minutes[j] > 1)
                .max_by_key(|&j| (minutes[j], j));
            if let Some(donor) = donor {
                minutes[donor] -= 1;
            }
            minutes[i] = 1;
        }
    }
    minutes
}

/// Which days carry the quality sessions: `count` of them, on days with room for one, not on
/// consecutive days, away from the long ride, as far apart as possible.
fn pick_hard_days(days: &[Weekday], layout: &DayLayout, count: usize) -> Vec<bool> {
    let mut best: Option<([i64; 6], u32)> = None;
    for mask in 0u32..(1 << days.len()) {
        // At most 7 bits are set, so the cast is exact.
        if mask.count_ones() as usize != count {
            continue;
        }
        let chosen: Vec<usize> = (0..days.len())
            .filter(|bit| mask & (1 << bit) != 0)
            .collect();
        let chosen_days: Vec<Weekday> = chosen.iter().map(|&i| days[i]).collect();
        let cramped = chosen
            .iter()
            .filter(|&&i| layout.minutes[i] < MIN_QUALITY_MIN)
            .count();
        let key = [
            count_i64(cramped),
            count_i64(adjacent_pairs(&chosen_days)),
            i64::from(chosen.contains(&layout.long_index)),
            -count_i64(min_gap_days(&chosen_days)),
            -chosen.iter().map(|&i| layout.minutes[i]).sum::<i64>(),
            i64::from(mask),
        ];
        if best.as_ref().is_none_or(|(best_key, _)| key < *best_key) {
            best = Some((key, mask));
        }
    }
    let mask = best.map_or(0, |(_, mask)| mask);
    (0..days.len()).map(|bit| mask & (1 << bit) != 0).collect()
}

// ---------------------------------------------------------------------------------------------
// Workouts

/// Designs a week's workouts from its overview entry: one per training day, summing to the
/// entry's hours (within the caps of its days). The coach's own entries carry the TSS of these
/// very workouts; an entry written elsewhere may expect more or less intensity, and then the
/// endurance riding moves within zone 2 towards its `target_tss`.
fn design_week(
    profile: &AthleteProfile,
    context: &WeekContext,
    entry: &WeekOverview,
) -> Vec<Workout> {
    let mut days = entry.training_days.clone();
    days.sort();
    days.dedup();
    if days.is_empty() {
        return Vec::new();
    }
    let wanted_min = if entry.total_hours.is_finite() && entry.total_hours > 0.0 {
        // Rounding undoes the 0.01 h rounding of `minutes_to_hours` (at most 0.3 min). The cast
        // saturates for absurd hours from elsewhere, which the caps clamp right below.
        (entry.total_hours * 60.0).round() as i64
    } else {
        0
    };
    let total_min = wanted_min
        .min(capacity_min(profile, &days))
        .max(count_i64(days.len()));
    let layout = DayLayout::new(profile, &days, total_min);
    let hard_count = usize::try_from(entry.hard_days)
        .unwrap_or(0)
        .min(days.len());
    let hard = pick_hard_days(&days, &layout, hard_count);
    let design = |offset_pct: f64| {
        design_days(
            profile,
            context,
            &days,
            &layout,
            &hard,
            Bands::shifted(offset_pct),
        )
    };
    let target_tss = entry.target_tss;
    let miss = |workouts: &[Workout]| {
        let week_tss = tss::round_tenth(workouts.iter().map(Workout::tss).sum());
        (week_tss - target_tss).abs() / target_tss
    };
    let workouts = design(0.0);
    if !(target_tss.is_finite() && target_tss > 0.0) || miss(&workouts) <= STEER_TOLERANCE {
        return workouts;
    }
    // The first offset with the smallest miss wins, so the choice is deterministic.
    let mut best = (miss(&workouts), workouts);
    for offset_pct in STEER_OFFSETS_PCT.into_iter().skip(1) {
        let candidate = design(offset_pct);
        let candidate_miss = miss(&candidate);
        if candidate_miss < best.0 - 1e-12 {
            best = (candidate_miss, candidate);
        }
    }
    best.1
}

fn design_days(
    profile: &AthleteProfile,
    context: &WeekContext,
    days: &[Weekday],
    layout: &DayLayout,
    hard: &[bool],
    bands: Bands,
) -> Vec<Workout> {
    let quality = quality_sessions(context);
    let mut quality_used = 0;
    days.iter()
        .enumerate()
        .map(|(index, &day)| {
            let minutes = layout.minutes[index];
            if hard[index] {
                let session = quality[quality_used % quality.len()];
                quality_used += 1;
                quality_workout(profile, day, minutes, session, context.phase_index, bands)
            } else {
                let day_before = days
                    .iter()
                    .position(|other| other.index() == (day.index() + 6) % 7);
                let after_hard = day_before.is_some_and(|before| hard[before]);
                let session = easy_session(
                    context.phase,
                    index == layout.long_index,
                    after_hard,
                    minutes,
                );
                easy_workout(profile, day, minutes, session, bands)
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quality {
    FoundationSweetSpot,
    FoundationTempo,
    Threshold,
    Vo2max,
    BuildSweetSpot,
    PeakVo2max,
    OverUnders,
    RaceThreshold,
    TaperThreshold,
    Openers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EasyRide {
    LongEndurance,
    Endurance,
    EasyEndurance,
    RecoverySpin,
}

/// Quality sessions of the week in the order hard days receive them.
fn quality_sessions(context: &WeekContext) -> &'static [Quality] {
    match context.phase {
        Phase::Foundation => &[Quality::FoundationSweetSpot, Quality::FoundationTempo],
        Phase::Build => &[Quality::Threshold, Quality::Vo2max, Quality::BuildSweetSpot],
        Phase::Peak => &[
            Quality::PeakVo2max,
            Quality::OverUnders,
            Quality::RaceThreshold,
        ],
        Phase::Taper if context.is_final_week => &[Quality::Openers],
        Phase::Taper => &[Quality::TaperThreshold, Quality::Openers],
        // Only an overview written elsewhere puts a hard day in a recovery week.
        Phase::Recovery => &[Quality::FoundationTempo],
    }
}

fn easy_session(phase: Phase, is_long: bool, after_hard: bool, minutes: i64) -> EasyRide {
    match phase {
        // Spinning at recovery power gets tedious and pointless beyond about 75 minutes.
        Phase::Recovery if minutes > 75 => EasyRide::EasyEndurance,
        Phase::Recovery => EasyRide::RecoverySpin,
        Phase::Taper if is_long => EasyRide::Endurance,
        Phase::Taper => EasyRide::EasyEndurance,
        _ if is_long => EasyRide::LongEndurance,
        _ if after_hard => EasyRide::EasyEndurance,
        _ => EasyRide::Endurance,
    }
}

/// One effort of an interval block, in % of FTP.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Effort {
    kind: SegmentKind,
    minutes: i64,
    low_pct: f64,
    high_pct: f64,
}

/// A main set: `reps` × `block`, with `rest_min` of easy spinning between reps.
#[derive(Debug, Clone, PartialEq)]
struct MainSet {
    label: &'static str,
    reps: i64,
    block: Vec<Effort>,
    rest_min: i64,
}

impl MainSet {
    fn block_minutes(&self) -> i64 {
        self.block.iter().map(|effort| effort.minutes).sum()
    }

    fn minutes(&self) -> i64 {
        self.reps * self.block_minutes() + (self.reps - 1).max(0) * self.rest_min
    }

    /// The set trimmed to `available_min`: fewer reps first, then one shorter rep of the
    /// first effort. `None` when not even 3 minutes of work fit.
    fn fit(&self, available_min: i64) -> Option<MainSet> {
        for reps in (1..=self.reps).rev() {
            let trimmed = MainSet {
                reps,
                ..self.clone()
            };
            if trimmed.minutes() <= available_min {
                return Some(trimmed);
            }
        }
        let first = *self.block.first()?;
        (available_min >= 3).then(|| MainSet {
            reps: 1,
            block: vec![Effort {
                minutes: available_min,
                ..first
            }],
            ..self.clone()
        })
    }

    fn title(&self) -> String {
        format!("{} {}×{} min", self.label, self.reps, self.block_minutes())
    }
}

fn single(
    label: &'static str,
    kind: SegmentKind,
    (reps, work_min, rest_min): (i64, i64, i64),
    low_pct: f64,
    high_pct: f64,
) -> MainSet {
    MainSet {
        label,
        reps,
        block: vec![Effort {
            kind,
            minutes: work_min,
            low_pct,
            high_pct,
        }],
        rest_min,
    }
}

/// The main set of a quality session at step `progress` of its phase: sets lengthen week by
/// week (the last step repeats).
fn main_set(session: Quality, progress: usize) -> MainSet {
    fn step(table: &[(i64, i64, i64)], progress: usize) -> (i64, i64, i64) {
        table[progress.min(table.len() - 1)]
    }
    use SegmentKind::{Interval, Tempo, Work};
    match session {
        Quality::FoundationSweetSpot => single(
            "Sweet spot",
            Work,
            step(
                &[(3, 10, 5), (3, 12, 5), (3, 15, 5), (2, 20, 5), (3, 20, 5)],
                progress,
            ),
            88.0,
            93.0,
        ),
        Quality::FoundationTempo => single(
            "Tempo",
            Tempo,
            step(
                &[(2, 15, 5), (2, 20, 5), (3, 15, 5), (2, 25, 5), (3, 20, 5)],
                progress,
            ),
            78.0,
            85.0,
        ),
        Quality::Threshold => single(
            "Threshold",
            Work,
            step(
                &[(3, 10, 5), (2, 15, 5), (3, 12, 5), (2, 20, 5), (3, 15, 5)],
                progress,
            ),
            95.0,
            100.0,
        ),
        Quality::Vo2max => single(
            "VO2max",
            Interval,
            step(
                &[(5, 3, 3), (4, 4, 4), (5, 4, 4), (6, 4, 4), (5, 5, 5)],
                progress,
            ),
            106.0,
            115.0,
        ),
        Quality::BuildSweetSpot => single(
            "Sweet spot",
            Work,
            step(&[(2, 20, 5), (3, 15, 5), (3, 20, 5), (2, 30, 5)], progress),
            88.0,
            94.0,
        ),
        Quality::PeakVo2max => single(
            "VO2max",
            Interval,
            step(&[(6, 3, 3), (5, 3, 3)], progress),
            110.0,
            120.0,
        ),
        Quality::OverUnders => {
            let under = Effort {
                kind: Work,
                minutes: 2,
                low_pct: 92.0,
                high_pct: 95.0,
            };
            let over = Effort {
                kind: Interval,
                minutes: 1,
                low_pct: 105.0,
                high_pct: 110.0,
            };
            let (sets, _, rest_min) = step(&[(3, 9, 5), (2, 9, 5)], progress);
            MainSet {
                label: "Over-unders",
                reps: sets,
                block: [under, over].repeat(3),
                rest_min,
            }
        }
        Quality::RaceThreshold => single(
            "Race-pace threshold",
            Work,
            step(&[(2, 12, 5), (2, 10, 5)], progress),
            98.0,
            103.0,
        ),
        Quality::TaperThreshold => single("Short threshold", Work, (2, 8, 4), 95.0, 100.0),
        Quality::Openers => single("Openers", Interval, (3, 1, 3), 115.0, 120.0),
    }
}

/// Fits a main set into a session of `minutes`, returning warm-up, cool-down and the set. A
/// coach keeps the whole set when a shorter cool-down or a minute less rest makes it fit, and
/// only then drops reps.
fn fit_session(template: &MainSet, minutes: i64) -> Option<(i64, i64, MainSet)> {
    let (warmup_min, cooldown_min) = bookends(minutes);
    let mut options = vec![(warmup_min, cooldown_min, template.clone())];
    if minutes >= 40 {
        options.push((10, 5, template.clone()));
        if template.rest_min > 2 {
            options.push((
                10,
                5,
                MainSet {
                    rest_min: template.rest_min - 1,
                    ..template.clone()
                },
            ));
        }
    }
    let whole = options.into_iter().find(|(warmup_min, cooldown_min, set)| {
        set.minutes() <= minutes - warmup_min - cooldown_min
    });
    whole.or_else(|| {
        let set = template.fit(minutes - warmup_min - cooldown_min)?;
        Some((warmup_min, cooldown_min, set))
    })
}

/// Warm-up and cool-down minutes for a session of `minutes`.
fn bookends(minutes: i64) -> (i64, i64) {
    match minutes {
        90.. => (15, 10),
        60..=89 => (10, 10),
        40..=59 => (10, 5),
        20..=39 => (5, 5),
        6..=19 => ((minutes / 4).max(1), (minutes / 5).max(1)),
        _ => (0, 0),
    }
}

const WARMUP_PCT: (f64, f64) = (50.0, 70.0);
const EASY_WARMUP_PCT: (f64, f64) = (45.0, 60.0);
const COOLDOWN_PCT: (f64, f64) = (40.0, 55.0);
const REST_PCT: (f64, f64) = (45.0, 55.0);
const ENDURANCE_PCT: (f64, f64) = (60.0, 70.0);
const LONG_FIRST_PCT: (f64, f64) = (60.0, 68.0);
const LONG_SECOND_PCT: (f64, f64) = (65.0, 72.0);
const EASY_ENDURANCE_PCT: (f64, f64) = (56.0, 65.0);
const RECOVERY_PCT: (f64, f64) = (45.0, 55.0);
/// Coggan zone 2 (endurance), the room the endurance bands may move in.
const ZONE2_PCT: (f64, f64) = (56.0, 75.0);
/// A week whose TSS misses a target set elsewhere by more than this gets its endurance
/// riding shifted (the validator warns above 15 % and fails above 25 %).
const STEER_TOLERANCE: f64 = 0.10;
/// Shifts tried, in % of FTP, smallest first so ties keep the coach's own intensity.
const STEER_OFFSETS_PCT: [f64; 17] = [
    0.0, -1.0, 1.0, -2.0, 2.0, -3.0, 3.0, -4.0, 4.0, -5.0, 5.0, -6.0, 6.0, -7.0, 7.0, -8.0, 8.0,
];

/// The endurance bands of a week: the coach's own, or shifted within zone 2 to meet a TSS
/// target from an overview written elsewhere. Every text is written from these bands.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bands {
    endurance: (f64, f64),
    long_first: (f64, f64),
    long_second: (f64, f64),
}

impl Bands {
    fn shifted(offset_pct: f64) -> Bands {
        let shift = |(low, high): (f64, f64)| {
            (
                (low + offset_pct).clamp(ZONE2_PCT.0, ZONE2_PCT.1),
                (high + offset_pct).clamp(ZONE2_PCT.0, ZONE2_PCT.1),
            )
        };
        Bands {
            endurance: shift(ENDURANCE_PCT),
            long_first: shift(LONG_FIRST_PCT),
            long_second: shift(LONG_SECOND_PCT),
        }
    }
}

fn segment(
    kind: SegmentKind,
    minutes: i64,
    (low_pct, high_pct): (f64, f64),
    description: String,
) -> Segment {
    Segment {
        kind,
        duration_min: minutes,
        power_low_pct: low_pct,
        power_high_pct: Some(high_pct),
        description,
    }
}

fn quality_workout(
    profile: &AthleteProfile,
    day: Weekday,
    minutes: i64,
    session: Quality,
    progress: usize,
    bands: Bands,
) -> Workout {
    let fitted = if minutes >= 10 {
        fit_session(&main_set(session, progress), minutes)
    } else {
        None
    };
    let Some((warmup_min, cooldown_min, set)) = fitted else {
        // Too short for any effort worth the name: an easy spin keeps the day honest.
        return easy_workout(profile, day, minutes, EasyRide::Endurance, bands);
    };
    let main_min = minutes - warmup_min - cooldown_min;
    let leftover_min = main_min - set.minutes();
    let before_min = if leftover_min >= 30 {
        leftover_min / 2 - leftover_min / 2 % STEP_MIN
    } else {
        0
    };
    let after_min = leftover_min - before_min;

    let mut segments = vec![segment(
        SegmentKind::Warmup,
        warmup_min,
        WARMUP_PCT,
        format!(
            "Build from {} to {} with two or three 20 s spin-ups in the last minutes",
            watts(profile, WARMUP_PCT.0),
            watts(profile, WARMUP_PCT.1)
        ),
    )];
    if before_min > 0 {
        segments.push(segment(
            SegmentKind::Steady,
            before_min,
            bands.endurance,
            format!(
                "Endurance riding at {} before the main set",
                zone_text(profile, bands.endurance)
            ),
        ));
    }
    // A rep of several efforts is a set.
    let unit = if set.block.len() > 1 { "set" } else { "rep" };
    for rep in 1..=set.reps {
        for effort in &set.block {
            segments.push(segment(
                effort.kind,
                effort.minutes,
                (effort.low_pct, effort.high_pct),
                format!(
                    "{} {unit} {rep}/{}: {} min at {}",
                    set.label,
                    set.reps,
                    effort.minutes,
                    zone_text(profile, (effort.low_pct, effort.high_pct))
                ),
            ));
        }
        if rep < set.reps {
            segments.push(segment(
                SegmentKind::Recovery,
                set.rest_min,
                REST_PCT,
                format!(
                    "Easy spin at {} between {unit}s",
                    zone_text(profile, REST_PCT)
                ),
            ));
        }
    }
    if after_min > 0 {
        segments.push(segment(
            SegmentKind::Steady,
            after_min,
            bands.endurance,
            format!(
                "Settle back into endurance at {}",
                zone_text(profile, bands.endurance)
            ),
        ));
    }
    if cooldown_min > 0 {
        segments.push(segment(
            SegmentKind::Cooldown,
            cooldown_min,
            COOLDOWN_PCT,
            format!("Spin down at {}", zone_text(profile, COOLDOWN_PCT)),
        ));
    }

    // Every main set has at least one effort (templates and `fit` never empty a block).
    let effort = set.block[0];
    let work_zone = zone_text(profile, (effort.low_pct, effort.high_pct));
    let mut description = match session {
        Quality::OverUnders => format!(
            "{}×{} min over-unders: alternate 2 min at {} with 1 min at {}, {} min easy between sets.",
            set.reps,
            set.block_minutes(),
            zone_text(profile, (92.0, 95.0)),
            zone_text(profile, (105.0, 110.0)),
            set.rest_min
        ),
        _ if set.reps == 1 => format!("{} min at {work_zone}.", effort.minutes),
        _ => format!(
            "{}×{} min at {work_zone} with {} min easy spinning between reps.",
            set.reps, effort.minutes, set.rest_min
        ),
    };
    if leftover_min > 0 {
        let _ = write!(
            description,
            " Endurance riding at {} fills the rest of the {} session.",
            zone_text(profile, bands.endurance),
            duration_text(minutes)
        );
    } else {
        let _ = write!(description, " {} in total.", duration_text(minutes));
    }
    Workout {
        weekday: day,
        name: set.title(),
        description,
        detailed_description: Some(quality_cues(profile, session, &set)),
        segments,
    }
}

fn quality_cues(profile: &AthleteProfile, session: Quality, set: &MainSet) -> String {
    // Every main set has at least one effort (templates and `fit` never empty a block).
    let effort = set.block[0];
    let low = watts(profile, effort.low_pct);
    let high = watts(profile, effort.high_pct);
    let range = watts_range(profile, effort.low_pct, effort.high_pct);
    match session {
        Quality::FoundationSweetSpot | Quality::BuildSweetSpot => format!(
            "Sweet spot is 'comfortably hard' (RPE 6-7/10): you can speak in short phrases. Ride each rep at {range}, \
             seated, 85-95 rpm, keeping the power steady rather than surging. If you cannot hold {low} for a full rep, \
             end the set and ride the remaining time at endurance pace. Drink every 10-15 minutes."
        ),
        Quality::FoundationTempo => format!(
            "Tempo is steady, rhythmic pressure (RPE 5-6/10) at {range}: breathing deeper but controlled. \
             Stay seated, relax your shoulders and hold 80-95 rpm. This builds muscular endurance for long efforts \
             without the cost of threshold work, so do not let it creep up."
        ),
        Quality::Threshold | Quality::RaceThreshold | Quality::TaperThreshold => format!(
            "Threshold reps at {range} (RPE 7-8/10): hard but sustainable, breathing deep and rhythmic. \
             Start each rep at the low end and settle in; never open above {high}. Cadence 85-95 rpm. If power falls \
             below {low} before the end of a rep, stop the set: a missed rep means fatigue, not weakness. \
             Take the full easy spin between reps."
        ),
        Quality::Vo2max | Quality::PeakVo2max => format!(
            "VO2max efforts at {range} (RPE 9/10): reach the target within the first 20-30 s, then hold it; \
             breathing will be maximal by the end of each rep. Cadence 95-105 rpm helps. Recover fully at \
             45-55% FTP between reps. Stop the session when a rep cannot reach {low}: quality over quantity. \
             Arrive rested and fuelled."
        ),
        Quality::OverUnders => format!(
            "Alternate 2 min just under threshold ({}) with 1 min over ({}) without a break; the 'unders' are where \
             you learn to clear lactate while still riding hard, as after a surge in a race. Shift gear before each \
             'over' and keep the cadence up. Stop if the unders drift below {}.",
            watts_range(profile, 92.0, 95.0),
            watts_range(profile, 105.0, 110.0),
            watts(profile, 92.0)
        ),
        Quality::Openers => format!(
            "Openers wake the legs up without adding fatigue: after a thorough warm-up ride each 1-min effort at \
             {range}, seated then out of the saddle for the last 15 s, and spin very easily between them. \
             You should finish feeling sharp, not tired. Keep the rest of the ride easy."
        ),
    }
}

fn easy_workout(
    profile: &AthleteProfile,
    day: Weekday,
    minutes: i64,
    session: EasyRide,
    bands: Bands,
) -> Workout {
    let (name, main_pct, cues) = match session {
        EasyRide::LongEndurance => (
            "Long endurance ride",
            bands.endurance,
            format!(
                "Conversational pace the whole way: {} for most of the ride, {} in the second half if you feel good. \
                 Avoid surging on climbs (stay under {}, the top of endurance). Eat 40-60 g of carbohydrate per hour \
                 from the first hour and drink 500-750 ml per hour. Cadence 85-95 rpm. A steady long ride builds the \
                 aerobic engine that everything else sits on.",
                watts_range(profile, bands.long_first.0, bands.long_first.1),
                watts_range(profile, bands.long_second.0, bands.long_second.1),
                watts(profile, 75.0)
            ),
        ),
        EasyRide::Endurance => (
            "Endurance ride",
            bands.endurance,
            format!(
                "Steady aerobic riding at {} where you can hold a conversation. Include 4-6 × 1 min of high \
                 cadence (100-110 rpm) at the same power to practise smooth pedalling. Drink regularly.",
                watts_range(profile, bands.endurance.0, bands.endurance.1)
            ),
        ),
        EasyRide::EasyEndurance => (
            "Easy endurance",
            EASY_ENDURANCE_PCT,
            format!(
                "Keep it easy at {}: the aim is aerobic volume and blood flow without adding fatigue. Flat roads or \
                 an easy trainer ride; no efforts even if you feel fresh.",
                watts_range(profile, EASY_ENDURANCE_PCT.0, EASY_ENDURANCE_PCT.1)
            ),
        ),
        EasyRide::RecoverySpin => (
            "Recovery spin",
            RECOVERY_PCT,
            format!(
                "Very easy spinning at {} (RPE 2/10), light gear, 85-95 rpm. If your legs feel heavy, shorten it or \
                 take the day off: recovery is the point of the day.",
                watts_range(profile, RECOVERY_PCT.0, RECOVERY_PCT.1)
            ),
        ),
    };
    let warmup_pct = if session == EasyRide::RecoverySpin {
        COOLDOWN_PCT
    } else {
        EASY_WARMUP_PCT
    };
    let (warmup_min, cooldown_min) = bookends(minutes);
    let main_min = minutes - warmup_min - cooldown_min;
    let mut segments = Vec::new();
    if warmup_min > 0 {
        segments.push(segment(
            SegmentKind::Warmup,
            warmup_min,
            warmup_pct,
            format!("Ease in at {}", zone_text(profile, warmup_pct)),
        ));
    }
    if session == EasyRide::LongEndurance && main_min >= 90 {
        let first_min = main_min / 2 - main_min / 2 % STEP_MIN;
        segments.push(segment(
            SegmentKind::Steady,
            first_min,
            bands.long_first,
            format!(
                "Settle into endurance at {}",
                zone_text(profile, bands.long_first)
            ),
        ));
        segments.push(segment(
            SegmentKind::Steady,
            main_min - first_min,
            bands.long_second,
            format!(
                "Upper endurance at {}, keep eating and drinking",
                zone_text(profile, bands.long_second)
            ),
        ));
    } else {
        segments.push(segment(
            SegmentKind::Steady,
            main_min,
            main_pct,
            format!("Steady riding at {}", zone_text(profile, main_pct)),
        ));
    }
    if cooldown_min > 0 {
        segments.push(segment(
            SegmentKind::Cooldown,
            cooldown_min,
            COOLDOWN_PCT,
            format!("Spin down at {}", zone_text(profile, COOLDOWN_PCT)),
        ));
    }
    let described_pct = if session == EasyRide::LongEndurance && main_min >= 90 {
        (bands.long_first.0, bands.long_second.1)
    } else {
        main_pct
    };
    let description = format!(
        "{} at {}{}.",
        duration_text(minutes),
        zone_text(profile, described_pct),
        match session {
            EasyRide::LongEndurance => ", the week's long ride: steady, fuelled, no surges",
            EasyRide::Endurance => ", steady aerobic riding with a few high-cadence minutes",
            EasyRide::EasyEndurance => ", easy aerobic riding to absorb the harder days",
            EasyRide::RecoverySpin => ", a very easy spin to aid recovery",
        }
    );
    Workout {
        weekday: day,
        name: name.to_string(),
        description,
        detailed_description: Some(cues),
        segments,
    }
}

// ---------------------------------------------------------------------------------------------
// Text

fn watts_of(profile: &AthleteProfile, pct: f64) -> i64 {
    // FTP ≤ 600 W and pct ≤ 200 %, so the watts are small whole numbers.
    (profile.ftp_w * pct / 100.0).round() as i64
}

fn watts(profile: &AthleteProfile, pct: f64) -> String {
    format!("{} W", watts_of(profile, pct))
}

fn watts_range(profile: &AthleteProfile, low_pct: f64, high_pct: f64) -> String {
    format!(
        "{}–{} W",
        watts_of(profile, low_pct),
        watts_of(profile, high_pct)
    )
}

/// "88–93% FTP (229–242 W)".
fn zone_text(profile: &AthleteProfile, (low_pct, high_pct): (f64, f64)) -> String {
    format!(
        "{low_pct:.0}–{high_pct:.0}% FTP ({})",
        watts_range(profile, low_pct, high_pct)
    )
}

fn duration_text(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, rest) => format!("{rest} min"),
        (hours, 0) => format!("{hours} h"),
        (hours, rest) => format!("{hours} h {rest:02} min"),
    }
}

fn day_names(days: &[Weekday]) -> String {
    join_and(
        &days
            .iter()
            .map(|day| day.name().to_string())
            .collect::<Vec<_>>(),
    )
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [head @ .., last] => format!("{} and {last}", head.join(", ")),
    }
}

fn phase_rationale(
    profile: &AthleteProfile,
    context: &WeekContext,
    loading_weeks: usize,
    slot: &LoadSlot,
) -> String {
    let position = format!(
        "Week {} of {} in {}",
        context.phase_index + 1,
        context.phase_weeks,
        context.phase
    );
    match context.phase {
        Phase::Foundation => format!(
            "{position}: aerobic base and muscular endurance come first. Mostly endurance riding plus controlled \
             tempo and sweet-spot work raise the ceiling for harder work, at a cost the body absorbs well.{}",
            if slot.block_length > 1 {
                format!(
                    " Volume climbs about 5% a week within the block (week {} of {}).",
                    slot.position + 1,
                    slot.block_length
                )
            } else {
                String::new()
            }
        ),
        Phase::Build => format!(
            "{position}: with the base in place, threshold and VO2max intervals now drive FTP up ({:.0} W today). \
             Endurance riding stays around them to keep the aerobic work going; volume sits near the {} h budget.",
            profile.ftp_w, profile.weekly_hours
        ),
        Phase::Recovery => format!(
            "{position}: after {} loading weeks ({} loading suits {}), volume drops by about 45% and the intensity \
             goes, so the body can absorb the block and adapt. Fitness is built during recovery, not only during \
             the hard weeks.",
            slot.block_length.max(1),
            if loading_weeks == 2 { "2:1" } else { "3:1" },
            if loading_weeks == 2 { "a masters athlete, who recovers more slowly" } else { "most athletes" }
        ),
        Phase::Peak => format!(
            "{position}: the last block before the taper trims volume by about 15% while keeping race-like \
             intensity (VO2max and over-unders), turning the fitness built so far into sharp form."
        ),
        Phase::Taper => format!(
            "{position}: volume is cut by 40-55% from the biggest week while short efforts keep intensity and \
             frequency, so fatigue clears and form rises for the end of the plan{}.",
            match profile.event_date {
                Some(date) => format!(" and the event on {}", date.format("%Y-%m-%d")),
                None => String::new(),
            }
        ),
    }
}

fn weekly_focus(profile: &AthleteProfile, context: &WeekContext, details: &WeekDetails) -> String {
    let emphasis = match context.phase {
        Phase::Foundation => {
            "Aerobic base: most of the week at endurance pace, quality kept controlled."
        }
        Phase::Build => {
            "Raise threshold and VO2max power with structured intervals on well-spaced days."
        }
        Phase::Recovery => "Absorb the last block: easy riding only, extra sleep, no intervals.",
        Phase::Peak => {
            "Sharpen: race-like intensity with less volume; arrive at each session fresh."
        }
        Phase::Taper => {
            "Freshen up: short, sharp efforts and plenty of easy riding; do not add volume."
        }
    };
    let sessions: Vec<String> = details
        .workouts
        .iter()
        .map(|workout| {
            format!(
                "{} {} ({})",
                workout.weekday,
                workout.name,
                duration_text(workout.total_minutes())
            )
        })
        .collect();
    format!(
        "{emphasis} Sessions: {}. Week total {} and about {:.0} TSS at FTP {:.0} W.",
        sessions.join("; "),
        duration_text(details.total_minutes()),
        details.tss(),
        profile.ftp_w
    )
}

fn watch_points(profile: &AthleteProfile, phase: Phase, details: &WeekDetails) -> String {
    let endurance = watts_range(profile, ENDURANCE_PCT.0, ENDURANCE_PCT.1);
    let hr_note = match profile.max_hr {
        // 75 % of max heart rate is a common ceiling for endurance riding.
        Some(max_hr) => format!(
            " (heart rate mostly below {} bpm)",
            u64::from(max_hr) * 3 / 4
        ),
        None => String::new(),
    };
    let longest = details
        .workouts
        .iter()
        .map(Workout::total_minutes)
        .max()
        .unwrap_or(0);
    match phase {
        Phase::Foundation => format!(
            "Keep endurance riding at {endurance}{hr_note}; it should feel easy enough to talk. Sweet-spot and tempo \
             reps should end feeling you could do one more. Fuel the {} ride with 40-60 g carbohydrate per hour.",
            duration_text(longest)
        ),
        Phase::Build => format!(
            "Hit the threshold reps at {} without fading and stop a VO2max set when a rep falls below {}. \
             Easy days stay easy at {endurance}{hr_note}. If resting heart rate is 5+ bpm above normal or sleep is \
             poor, swap the next hard day for an endurance ride.",
            watts_range(profile, 95.0, 100.0),
            watts(profile, 106.0)
        ),
        Phase::Recovery => format!(
            "Ride truly easy: recovery spins below {}, nothing above {}. Sleep 8+ hours, eat normally (do not diet \
             this week), and expect to feel flat early in the week and fresh by the end.",
            watts(profile, 56.0),
            watts(profile, 70.0)
        ),
        Phase::Peak => format!(
            "Quality over quantity: hold {} on VO2max reps and cut a session short rather than grind through it. \
             Keep easy riding at {endurance}{hr_note}; any sign of illness or unusual fatigue means rest.",
            watts_range(profile, 110.0, 120.0)
        ),
        Phase::Taper => format!(
            "Do not add extra riding: the fitness is banked. Keep openers short and sharp at {}, sleep well, eat \
             enough carbohydrate, and expect the legs to feel restless. Check equipment and logistics now.",
            watts_range(profile, 115.0, 120.0)
        ),
    }
}

fn target_ftp(profile: &AthleteProfile, total_weeks: u32) -> f64 {
    let mut gain = (FTP_GAIN_PER_WEEK * f64::from(total_weeks)).min(FTP_GAIN_MAX);
    if profile.age.is_some_and(|age| age >= MASTERS_AGE) {
        gain *= MASTERS_GAIN_FACTOR;
    }
    // A gain of at most 8 % rounded to whole watts stays well within 0.9..=1.25 × FTP.
    (profile.ftp_w * (1.0 + gain)).round()
}

fn coaching_notes(
    profile: &AthleteProfile,
    entries: &[WeekOverview],
    loading_weeks: usize,
    target_ftp: f64,
) -> String {
    let weeks = entries.len();
    let count = |phase: Phase| entries.iter().filter(|entry| entry.phase == phase).count();
    let weeks_text = |weeks: usize| {
        if weeks == 1 {
            "1 week".to_string()
        } else {
            format!("{weeks} weeks")
        }
    };
    let mut parts = Vec::new();
    for phase in [Phase::Foundation, Phase::Build, Phase::Peak] {
        if count(phase) > 0 {
            parts.push(format!("{} of {phase}", weeks_text(count(phase))));
        }
    }
    let mut unloading = Vec::new();
    match count(Phase::Recovery) {
        0 => {}
        1 => unloading.push("a recovery week between blocks".to_string()),
        weeks => unloading.push(format!("{weeks} recovery weeks between blocks")),
    }
    if count(Phase::Taper) > 0 {
        unloading.push(format!("a {}-week taper", count(Phase::Taper)));
    }
    let layout = match unloading.is_empty() {
        true => join_and(&parts),
        false => format!("{}, with {}", join_and(&parts), join_and(&unloading)),
    };
    let days = entries
        .first()
        .map(|entry| entry.training_days.clone())
        .unwrap_or_default();
    let weight = match profile.weight_kg {
        Some(kg) if kg > 0.0 => format!(" ({:.1} W/kg)", profile.ftp_w / kg),
        _ => String::new(),
    };
    let gain_w = target_ftp - profile.ftp_w;
    let mut notes = format!(
        "{}, this {weeks}-week plan is built around your {} h weekly budget and your current FTP of {:.0} W{weight}. \
         It runs {layout}. ",
        profile.name,
        profile.weekly_hours,
        profile.ftp_w,
    );
    if count(Phase::Recovery) > 0 {
        let _ = write!(
            notes,
            "Load builds in {} blocks: {} progressively bigger weeks, then an easy week to absorb them{}. ",
            if loading_weeks == 2 { "2:1" } else { "3:1" },
            if loading_weeks == 2 { "two" } else { "up to three" },
            if loading_weeks == 2 { ", the rhythm that suits athletes over 55" } else { "" }
        );
    }
    let roles: Vec<&str> = [
        (
            Phase::Foundation,
            "Foundation builds aerobic endurance with steady rides plus tempo and sweet-spot work",
        ),
        (Phase::Build, "Build adds threshold and VO2max intervals"),
        (
            Phase::Peak,
            "Peak trims volume while keeping race-like intensity",
        ),
        (Phase::Taper, "the taper cuts volume so you finish fresh"),
    ]
    .into_iter()
    .filter(|(phase, _)| count(*phase) > 0)
    .map(|(_, role)| role)
    .collect();
    if !roles.is_empty() {
        let _ = write!(notes, "{}. ", roles.join("; "));
    }
    let which_days = if days.len() == profile.available_days.len() {
        "all of your available days".to_string()
    } else {
        format!(
            "{} of your {} available days",
            days.len(),
            profile.available_days.len()
        )
    };
    match days.len() {
        0 => {}
        1 => {
            let _ = write!(
                notes,
                "You ride on {} ({which_days}): one session a week carries both the quality work and the \
                 endurance riding. ",
                day_names(&days)
            );
        }
        _ => {
            let _ = write!(
                notes,
                "You ride on {} ({which_days}), with quality sessions spaced apart and the long ride where you \
                 have the most time. ",
                day_names(&days)
            );
        }
    }
    if !profile.goals.is_empty() {
        let _ = write!(
            notes,
            "Your goal, \"{}\", sets the direction: the plan aims at FTP {:.0} W ({:+.0} W, {:+.1}%), realistic for {} \
             of consistent training. ",
            profile.goals,
            target_ftp,
            gain_w,
            gain_w / profile.ftp_w * 100.0,
            weeks_text(weeks)
        );
    } else {
        let _ = write!(
            notes,
            "The plan aims at FTP {:.0} W ({:+.0} W, {:+.1}%), realistic for {} of consistent training. ",
            target_ftp,
            gain_w,
            gain_w / profile.ftp_w * 100.0,
            weeks_text(weeks)
        );
    }
    if let Some(date) = profile.event_date {
        let _ = write!(
            notes,
            "Everything points at your event on {}: start the plan so that its last week ends just before it. ",
            date.format("%Y-%m-%d")
        );
    }
    notes.push_str("Consistency beats heroics: a missed session is skipped, not made up.");
    notes
}

fn monitoring_guidance(profile: &AthleteProfile, entries: &[WeekOverview]) -> String {
    let recovery_weeks: Vec<String> = entries
        .iter()
        .filter(|entry| entry.phase == Phase::Recovery)
        .map(|entry| entry.week_number.to_string())
        .collect();
    let retest = if recovery_weeks.is_empty() {
        "at the end of the plan".to_string()
    } else {
        format!(
            "at the end of recovery week{} {}",
            if recovery_weeks.len() == 1 { "" } else { "s" },
            join_and(&recovery_weeks)
        )
    };
    let (min_tss, max_tss) = entries
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(low, high), entry| {
            (low.min(entry.target_tss), high.max(entry.target_tss))
        });
    let mut guidance = format!(
        "{}, re-test FTP {retest} (a 20-min test × 0.95 or a ramp test) and update your zones when it moves by more \
         than 3%; all targets are set from {:.0} W. Rate every session (RPE 1-10) and compare it with the target: \
         sweet spot should feel 6-7, threshold 7-8, endurance 3-4. ",
        profile.name, profile.ftp_w
    );
    if entries.is_empty() {
        guidance.push_str("Weekly load follows the plan's TSS targets. ");
    } else if (max_tss - min_tss).abs() < 0.5 {
        let _ = write!(guidance, "Weekly load is about {max_tss:.0} TSS. ");
    } else {
        let _ = write!(
            guidance,
            "Weekly load runs from about {min_tss:.0} to {max_tss:.0} TSS. "
        );
    }
    guidance.push_str(
        "Check resting heart rate and sleep each morning: 5+ bpm above normal for two days, poor sleep, sore legs \
         that last, or power that feels much harder than usual mean the next hard day becomes an easy ride. ",
    );
    if let Some(max_hr) = profile.max_hr {
        let _ = write!(
            guidance,
            "With a maximum heart rate of {max_hr} bpm, endurance rides should stay mostly below {} bpm. ",
            u64::from(max_hr) * 3 / 4
        );
    }
    if !recovery_weeks.is_empty() {
        guidance.push_str("Keep recovery weeks easy even when you feel good. ");
    }
    guidance.push_str("Stop any session with pain, dizziness or chest discomfort.");
    guidance
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

#[cfg(test)]
mod tests {
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
        expected.assert_eq(&letters(&phase_layout(total_weeks, loading_weeks)));
    }

    #[test]
    fn phase_layouts() {
        check_layout(1, 3, expect!["F"]);
        check_layout(2, 3, expect!["B T"]);
        check_layout(3, 3, expect!["F B T"]);
        check_layout(4, 3, expect!["F B P T"]);
        check_layout(5, 3, expect!["F F R B T"]);
        check_layout(8, 3, expect!["F F F R B B P T"]);
        check_layout(12, 3, expect!["F F F R B B B R P P T T"]);
        check_layout(
            52,
            3,
            expect!["F F F R F F F R F F F R F F F R F F F R F F F R B B B R B B B R B B B R B B B R B B B R B B B R P P T T"],
        );
    }

    #[test]
    fn masters_load_two_to_one() {
        check_layout(8, 2, expect!["F F R B B R P T"]);
        check_layout(12, 2, expect!["F F R F F R B B R P T T"]);
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

    fn weeks_of(
        profile: &AthleteProfile,
        overview: &PlanOverview,
        rules: &Rules,
    ) -> Vec<WeekDetails> {
        (1..=overview.weekly_overview.len())
            .map(|week| {
                let week = u32::try_from(week).expect("at most 52 weeks");
                add_week_details(profile, overview, week, rules)
            })
            .collect()
    }

    #[test]
    fn seed_athlete_plan_has_no_violation_at_all() {
        let profile = seed_athlete();
        let rules = Rules::default();
        let overview = create_plan_overview(&profile, 12, &rules);
        let weeks = weeks_of(&profile, &overview, &rules);
        let violations = check_plan(&overview, &weeks, &profile, 12, &rules);
        assert!(violations.is_empty(), "{violations:#?}");
        assert_eq!(overview.target_ftp, 276.0);
    }

    #[test]
    fn week_details_reproduce_the_overview_numbers() {
        let profile = seed_athlete();
        let rules = Rules::default();
        let overview = create_plan_overview(&profile, 12, &rules);
        for (entry, week) in overview
            .weekly_overview
            .iter()
            .zip(weeks_of(&profile, &overview, &rules))
        {
            assert_eq!(week.week_number, entry.week_number);
            assert_eq!(week.tss(), entry.target_tss);
            assert_eq!(week.hours(), entry.total_hours);
            let number = u32::try_from(entry.week_number).expect("1..=12");
            assert!(check_week(&week, number, entry, &profile, &rules).is_empty());
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
        let overview = create_plan_overview(&profile, 12, &rules);
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
                        workout.total_minutes()
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
             1 Foundation  5.58 h 248.1 TSS hard 2 | Tue Sweet spot 3×10 min 55', Thu Endurance ride 55', Sat Tempo 2×15 min 95', Sun Long endurance ride 130'
             2 Foundation  5.92 h 269.1 TSS hard 2 | Tue Sweet spot 3×12 min 60', Thu Endurance ride 60', Sat Tempo 2×20 min 100', Sun Long endurance ride 135'
             3 Foundation  6.25 h 279.2 TSS hard 2 | Tue Sweet spot 2×15 min 60', Thu Endurance ride 60', Sat Tempo 3×15 min 110', Sun Long endurance ride 145'
             4 Recovery    3.42 h 100.8 TSS hard 0 | Tue Recovery spin 50', Thu Recovery spin 45', Sat Easy endurance 110'
             5 Build       6.25 h 285.6 TSS hard 2 | Tue Threshold 3×10 min 60', Thu Endurance ride 60', Sat VO2max 5×3 min 110', Sun Long endurance ride 145'
             6 Build       6.58 h 302.8 TSS hard 2 | Tue Threshold 2×15 min 65', Thu Endurance ride 65', Sat VO2max 4×4 min 115', Sun Long endurance ride 150'
             7 Build       7.00 h 328.9 TSS hard 2 | Tue Threshold 3×12 min 70', Thu Endurance ride 70', Sat VO2max 5×4 min 120', Sun Long endurance ride 160'
             8 Recovery    3.83 h 114.2 TSS hard 0 | Tue Recovery spin 55', Thu Recovery spin 50', Sat Easy endurance 125'
             9 Peak        5.92 h 275.5 TSS hard 2 | Tue VO2max 6×3 min 60', Thu Endurance ride 60', Sat Over-unders 3×9 min 100', Sun Long endurance ride 135'
            10 Peak        5.58 h 254.5 TSS hard 2 | Tue VO2max 5×3 min 55', Thu Endurance ride 55', Sat Over-unders 2×9 min 95', Sun Long endurance ride 130'
            11 Taper       4.17 h 171.6 TSS hard 2 | Tue Short threshold 2×8 min 40', Thu Easy endurance 40', Sat Openers 3×1 min 75', Sun Endurance ride 95'
            12 Taper       3.08 h 115.5 TSS hard 1 | Tue Easy endurance 30', Thu Easy endurance 30', Sat Openers 3×1 min 55', Sun Endurance ride 70'
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
            let overview = create_plan_overview(&profile, total_weeks, &rules);
            let weeks = weeks_of(&profile, &overview, &rules);
            let violations = check_plan(&overview, &weeks, &profile, total_weeks, &rules);
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
        let overview = create_plan_overview(&profile, 8, &rules);
        let weeks = weeks_of(&profile, &overview, &rules);
        let violations = check_plan(&overview, &weeks, &profile, 8, &rules);
        assert!(violations.is_empty(), "{violations:#?}");
        assert!(weeks.iter().all(|week| week.total_minutes() <= 100));
        // Week 1 (80 min) rides 4 × 20 min rather than 5 × 16 min.
        assert_eq!(overview.weekly_overview[0].training_days.len(), 4);
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
        let overview = create_plan_overview(&profile, 12, &rules);
        let own = add_week_details(&profile, &overview, 5, &rules);
        for factor in [0.8, 1.25] {
            let mut foreign = overview.clone();
            let entry = &mut foreign.weekly_overview[4];
            entry.target_tss = (entry.target_tss * factor).round();
            let target = entry.target_tss;
            let week = add_week_details(&profile, &foreign, 5, &rules);
            let violations = check_week(&week, 5, &foreign.weekly_overview[4], &profile, &rules);
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
            assert_eq!(week.total_minutes(), own.total_minutes());
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
        let mut overview = create_plan_overview(&profile, 4, &rules);
        let expected = add_week_details(&profile, &overview, 3, &rules);
        overview
            .weekly_overview
            .retain(|entry| entry.week_number != 3);
        assert_eq!(add_week_details(&profile, &overview, 3, &rules), expected);
        assert!(add_week_details(&profile, &overview, 0, &rules)
            .workouts
            .is_empty());
    }
}
