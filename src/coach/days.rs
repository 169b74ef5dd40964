//! The coach's volume and days: the weekly minutes of each phase, which available days carry
//! them, how the minutes spread over the days, and which days are hard.

use super::*;

pub(super) fn max_training_days(rules: &Rules) -> usize {
    // At least one day (a plan needs one) and at most the week; both fit usize.
    rules.max_training_days.clamp(1, 7) as usize
}

/// The weekly budget in whole minutes, never above `weekly_hours`.
pub(super) fn budget_minutes(profile: &AthleteProfile) -> i64 {
    // weekly_hours is validated to (0, 40], so the minutes are small and exact.
    (profile.weekly_hours * 60.0 + 1e-9).floor() as i64
}

/// How many days a budget is best spread over: sessions of roughly 45–120 minutes.
pub(super) fn desired_days(weekly_hours: f64) -> usize {
    match weekly_hours {
        hours if hours < 2.5 => 2,
        hours if hours < 4.5 => 3,
        hours if hours < 7.5 => 4,
        hours if hours < 12.0 => 5,
        hours if hours < 16.0 => 6,
        _ => 7,
    }
}

pub(super) fn cap_of(profile: &AthleteProfile, day: Weekday) -> i64 {
    i64::from(profile.cap_min(day))
}

pub(super) fn capacity_min(profile: &AthleteProfile, days: &[Weekday]) -> i64 {
    days.iter().map(|&day| cap_of(profile, day)).sum()
}

/// Chooses the training days among `candidates`: the set that holds the most of `need_min`,
/// then the fewest too-short sessions, then the size closest to `desired`, then the fewest
/// back-to-back days, then Monday and Friday left free, then the most room. Ties go to the
/// earliest days, so the choice is deterministic.
pub(super) fn select_days(
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

/// The days a race week can train: the available days before the event.
pub(super) fn race_days(profile: &AthleteProfile, event: Weekday) -> Vec<Weekday> {
    profile
        .available_days
        .iter()
        .copied()
        .filter(|day| *day < event && cap_of(profile, *day) > 0)
        .collect()
}

/// Days before the event on which openers belong: one or two days out.
pub(super) const OPENER_DAYS_BEFORE: std::ops::RangeInclusive<usize> = 1..=2;

/// Where a race week's openers go: the latest of `days` before the event, which is one or two
/// days out whenever the athlete can ride then (`with_opener_day` sees to it).
pub(super) fn opener_day(days: &[Weekday], event: Option<EventDay>) -> Option<Weekday> {
    let event = event?;
    days.iter()
        .copied()
        .filter(|day| *day < event.weekday)
        .max()
}

/// Whether `day` is one or two days before the event.
fn is_opener_distance(day: Weekday, event: EventDay) -> bool {
    day < event.weekday && OPENER_DAYS_BEFORE.contains(&(event.weekday.index() - day.index()))
}

/// A race week's days with an opener day among them when any candidate allows one: the
/// latest candidate within two days of the event replaces the earliest chosen day if the week
/// is full.
pub(super) fn with_opener_day(
    candidates: &[Weekday],
    mut days: Vec<Weekday>,
    event: Option<EventDay>,
    max_days: usize,
) -> Vec<Weekday> {
    let Some(event_day) = event else {
        return days;
    };
    if days.iter().any(|day| is_opener_distance(*day, event_day)) {
        return days;
    }
    let near = candidates
        .iter()
        .copied()
        .filter(|day| is_opener_distance(*day, event_day))
        .max();
    if let Some(day) = near {
        if days.len() >= max_days && !days.is_empty() {
            days.remove(0);
        }
        days.push(day);
        days.sort();
    }
    days
}

/// Pairs of consecutive calendar days in a set (Sunday → Monday counts).
pub(super) fn adjacent_pairs(days: &[Weekday]) -> usize {
    days.iter()
        .filter(|day| {
            days.iter()
                .any(|other| other.index() == (day.index() + 1) % 7)
        })
        .count()
}

/// Smallest number of days between two of the set's days, around the week.
pub(super) fn min_gap_days(days: &[Weekday]) -> usize {
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
pub(super) fn planned_minutes(fraction: f64, reference_min: i64) -> i64 {
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
pub(super) fn max_rise_minutes(previous_min: i64) -> i64 {
    let limit = minutes_to_hours(small_f64(previous_min)) * HOURS_RISE_WARN + 1e-9;
    // A week is at most 10 080 minutes, so the cast is exact.
    let mut minutes = (limit * 60.0).ceil() as i64 + 1;
    while minutes > 1 && minutes_to_hours(small_f64(minutes)) > limit {
        minutes -= 1;
    }
    minutes
}

/// Trims a week so that its rounded hours stay within the budget and within the caps of its
/// days (the validator compares rounded hours, which can sit 0.3 min above the minutes).
pub(super) fn within_rounding(total_min: i64, weekly_hours: f64, capacity_min: i64) -> i64 {
    let mut minutes = total_min;
    while minutes > 1
        && (minutes_to_hours(small_f64(minutes)) > weekly_hours + 1e-9
            || minutes_to_hours(small_f64(minutes)) * 60.0 > small_f64(capacity_min) + 1e-6)
    {
        minutes -= 1;
    }
    minutes.max(1)
}

/// Quality sessions a week of a phase wants for its number of training days.
pub(super) fn hard_day_target(phase: Phase, days: usize, is_final_week: bool) -> usize {
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
pub(super) fn quality_day_limit(
    profile: &AthleteProfile,
    days: &[Weekday],
    total_min: i64,
    long: Option<LongRide>,
) -> usize {
    let layout = DayLayout::new(profile, days, total_min, long);
    // A long ride grown for an endurance event stays an endurance ride.
    let long_day = long
        .and(days.get(layout.long_index).copied())
        .filter(|_| days.len() > 1);
    let roomy: Vec<Weekday> = days
        .iter()
        .zip(&layout.minutes)
        .filter(|(day, &minutes)| minutes >= MIN_QUALITY_MIN && Some(**day) != long_day)
        .map(|(day, _)| *day)
        .collect();
    (0u32..(1 << roomy.len()))
        .map(|mask| subset(&roomy, mask))
        .filter(|set| adjacent_pairs(set) == 0)
        .map(|set| set.len())
        .max()
        .unwrap_or(0)
}

pub(super) fn subset<T: Copy>(items: &[T], mask: u32) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, item)| *item)
        .collect()
}

/// A week's minutes per training day, and which day carries the long ride.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DayLayout {
    pub(super) minutes: Vec<i64>,
    pub(super) long_index: usize,
}

/// How long the week's long ride should be: an endurance event's long ride grows toward the
/// event's duration over the plan's load weeks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LongRide {
    pub(super) target_min: i64,
}

/// The long ride a week of `total_min` wants, if its goal asks for one longer than the share
/// the week's days would give it.
pub(super) fn long_ride(context: &WeekContext, total_min: i64) -> Option<LongRide> {
    let event_min = context.goal.event_min?;
    if !matches!(
        context.phase,
        Phase::Foundation | Phase::Build | Phase::Peak
    ) {
        return None;
    }
    let final_min = small_f64(event_min) * LONG_RIDE_EVENT_FRACTION;
    // Peak weeks keep the longest ride; load weeks grow toward it, from 60 % of it.
    let progress = if context.phase == Phase::Peak || context.load_weeks <= 1 {
        1.0
    } else {
        small_f64(count_i64(context.load_index)) / small_f64(count_i64(context.load_weeks - 1))
    };
    let target =
        final_min * (LONG_RIDE_START_SHARE + (1.0 - LONG_RIDE_START_SHARE) * progress.min(1.0));
    let share_cap = small_f64(total_min) * LONG_RIDE_WEEK_SHARE;
    // Minutes of a week: small and exact.
    let target_min = target.min(share_cap).floor() as i64;
    Some(LongRide {
        target_min: target_min - target_min % STEP_MIN,
    })
}

impl DayLayout {
    pub(super) fn new(
        profile: &AthleteProfile,
        days: &[Weekday],
        total_min: i64,
        long: Option<LongRide>,
    ) -> DayLayout {
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
        let mut minutes = allocate_minutes(total_min, &caps, &weights);
        if let Some(long) = long.filter(|_| days.len() > 1) {
            // The other days keep at least a short session each.
            let others = count_i64(days.len() - 1);
            let long_min = long
                .target_min
                .min(caps[long_index])
                .min(total_min - others * MIN_SESSION_MIN);
            if long_min > minutes[long_index] {
                let others: Vec<usize> = (0..days.len()).filter(|&i| i != long_index).collect();
                let other_caps: Vec<i64> = others.iter().map(|&i| caps[i]).collect();
                let other_weights: Vec<i64> = others.iter().map(|&i| weights[i]).collect();
                let rest = allocate_minutes(total_min - long_min, &other_caps, &other_weights);
                if rest.iter().sum::<i64>() == total_min - long_min {
                    minutes[long_index] = long_min;
                    for (slot, share) in others.into_iter().zip(rest) {
                        minutes[slot] = share;
                    }
                }
            }
        }
        DayLayout {
            minutes,
            long_index,
        }
    }
}

/// Shares `total_min` across days in proportion to `weights`, never above a day's cap, in
/// 5-minute steps where possible, at least one minute a day. The sum is exactly `total_min`
/// whenever `days ≤ total_min ≤ Σ caps`.
pub(super) fn allocate_minutes(total_min: i64, caps: &[i64], weights: &[i64]) -> Vec<i64> {
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
pub(super) fn pick_hard_days(days: &[Weekday], layout: &DayLayout, count: usize) -> Vec<bool> {
    let mut best: Option<([i64; 7], u32)> = None;
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
        // A hard day right after the long ride meets tired legs; the day before is fine.
        let after_long = days.get(layout.long_index).map_or(0, |long| {
            chosen_days
                .iter()
                .filter(|day| day.index() == (long.index() + 1) % 7)
                .count()
        });
        let key = [
            count_i64(cramped),
            count_i64(adjacent_pairs(&chosen_days)),
            count_i64(after_long),
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
