//! The variables of the 3a and 3b templates, computed in Rust from a step brief: every block of
//! text that depends on the athlete or the overview (zones table, caps listing, neighbour weeks,
//! targets, windows), so a template can be reworded but its arithmetic cannot break. Pure.

use crate::domain::event::{place_event, EventPlacement};
use chrono::NaiveDate;

use super::*;

pub(super) fn brief_error(step: StepId, reason: impl Into<String>) -> Error {
    Error::Brief {
        step: step.to_string(),
        reason: reason.into(),
    }
}

/// A number as a person writes it: at most two decimals, no trailing zeros ("7", "6.5", "7.25").
/// Whole minutes of a window as f64: a week's minutes are far below 2^53, so exact.
fn whole_f64(minutes: i64) -> f64 {
    minutes as f64
}

pub(super) fn num(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

pub(super) fn pct(fraction: f64) -> String {
    num(fraction * 100.0)
}

pub(super) fn day_list(days: &[Weekday]) -> String {
    days.iter()
        .map(|day| day.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Days sorted Monday first without duplicates, for display.
pub(super) fn sorted_days(days: &[Weekday]) -> Vec<Weekday> {
    let mut days = days.to_vec();
    days.sort();
    days.dedup();
    days
}

pub(super) fn athlete_summary(profile: &AthleteProfile) -> String {
    let mut lines = vec![format!("- Name: {}", profile.name)];
    lines.push(match profile.age {
        Some(age) => format!("- Age: {age} years"),
        None => "- Age: not given".to_string(),
    });
    lines.push(match profile.weight_kg {
        Some(weight) => format!(
            "- Weight: {} kg ({:.2} W/kg at FTP)",
            num(weight),
            profile.ftp_w / weight
        ),
        None => "- Weight: not given".to_string(),
    });
    lines.push(format!("- FTP: {} W", num(profile.ftp_w)));
    lines.push(match profile.max_hr {
        Some(bpm) => format!("- Max heart rate: {bpm} bpm"),
        None => "- Max heart rate: not given".to_string(),
    });
    lines.push(format!(
        "- Weekly hours budget: {} h",
        num(profile.weekly_hours)
    ));
    lines.push(format!(
        "- Available days: {}",
        day_list(&profile.available_days)
    ));
    lines.push(match (profile.event_date, profile.event) {
        (Some(date), Some(details)) => format!(
            "- Event: {} on {}, priority {}, lasting {}",
            details.kind.name(),
            date.format("%Y-%m-%d"),
            details.priority.name(),
            match details.duration_h {
                Some(hours) => format!("about {} h", num(hours)),
                None => "a duration not given".to_string(),
            }
        ),
        (Some(date), None) => format!("- Event date: {}", date.format("%Y-%m-%d")),
        (None, _) => "- Event date: none".to_string(),
    });
    if let Some(experience) = profile.experience {
        lines.push(format!("- Training experience: {}", experience.name()));
    }
    if let Some(hours) = profile.recent_weekly_hours {
        lines.push(format!(
            "- Recent training: about {} h a week; start week 1 near it",
            num(hours)
        ));
    }
    if let Some(ctl) = profile.current_ctl {
        lines.push(format!(
            "- Current chronic training load (CTL): {} TSS a day",
            num(ctl)
        ));
    }
    lines.join("\n")
}

pub(super) fn goals(profile: &AthleteProfile) -> String {
    if profile.goals.trim().is_empty() {
        "none stated (general fitness and a higher FTP)".to_string()
    } else {
        profile.goals.trim().to_string()
    }
}

pub(super) fn caps_listing(profile: &AthleteProfile, days: &[Weekday]) -> String {
    days.iter()
        .map(|day| format!("- {day}: up to {} min", profile.cap_min(*day)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Indents every line of a block by two spaces, to nest it under a list item.
pub(super) fn indent(block: &str) -> String {
    block
        .lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn calendar(
    profile: &AthleteProfile,
    total_weeks: u32,
    start_date: Option<NaiveDate>,
) -> String {
    let mut lines = vec![format!(
        "- Plan length: {total_weeks} weeks, each running Monday to Sunday."
    )];
    if let Some(start) = start_date {
        lines.push(format!(
            "- Start date: {} (Monday of week 1).",
            start.format("%Y-%m-%d")
        ));
    }
    let event = match (profile.event_date, start_date) {
        (None, _) => "- Event: none. Build toward the goals and end the plan with a recovery or FTP-test week, not a taper.".to_string(),
        (Some(event), None) => format!(
            "- Event: {}, the plan's last day. Schedule nothing on it or after it; taper into it.",
            event.format("%Y-%m-%d")
        ),
        (Some(event), Some(start)) => {
            let shown = event.format("%Y-%m-%d");
            match place_event(start, total_weeks, event) {
                EventPlacement::InLastWeek(day) => format!(
                    "- Event: {shown} ({}, week {}), the plan's last day: no workout on it or after it; openers 1-2 days before.",
                    day.weekday, day.week
                ),
                EventPlacement::Early { .. } => format!("- Event: {shown}, before the plan's last week; treat the plan as preparation for what comes next."),
                EventPlacement::After { days_after_end } => format!(
                    "- Event: {shown}, {days_after_end} day(s) after the plan's last day. Do not taper: end the plan with a recovery or FTP-test week, ready for the next block."
                ),
            }
        }
    };
    lines.push(event);
    lines.join("\n")
}

/// The variables of the 3a templates (`OVERVIEW_VARIABLES`), computed from the brief. Pure.
pub fn overview_variables(brief: &StepBrief, start_date: Option<NaiveDate>) -> Result<Vars, Error> {
    let step = brief.step;
    if step != StepId::Overview {
        return Err(brief_error(
            step,
            "the overview prompts need an overview step",
        ));
    }
    let profile = &brief.profile;
    let available = sorted_days(&profile.available_days);
    let unavailable: Vec<Weekday> = Weekday::ALL
        .into_iter()
        .filter(|day| !available.contains(day))
        .collect();
    let capacity_min: u32 = available.iter().map(|day| profile.cap_min(*day)).sum();
    let mut vars = Vars::new();
    vars.insert("athlete_summary", athlete_summary(profile));
    vars.insert("budget_margin_pct", pct(BUDGET_TOLERANCE - 1.0));
    vars.insert("calendar", calendar(profile, brief.total_weeks, start_date));
    vars.insert(
        "day_caps",
        indent(&format!(
            "{}\n- Together: at most {capacity_min} min ({} h) a week.",
            caps_listing(profile, &available),
            num(minutes_to_hours(f64::from(capacity_min)))
        )),
    );
    vars.insert("ftp_w", num(profile.ftp_w));
    vars.insert("goals", goals(profile));
    vars.insert("max_hard_days", MAX_HARD_DAYS.to_string());
    vars.insert(
        "max_training_days",
        brief.rules.max_training_days.to_string(),
    );
    vars.insert("power_zones", zones::zones_table(profile.ftp_w));
    // Round the FTP bounds inward so a model that copies them stays inside the rule.
    vars.insert(
        "target_ftp_max",
        format!("{:.0}", (profile.ftp_w * TARGET_FTP_RANGE.end()).floor()),
    );
    vars.insert(
        "target_ftp_max_ratio",
        format!("{:.2}", TARGET_FTP_RANGE.end()),
    );
    vars.insert(
        "target_ftp_min",
        format!("{:.0}", (profile.ftp_w * TARGET_FTP_RANGE.start()).ceil()),
    );
    vars.insert(
        "target_ftp_min_ratio",
        format!("{:.2}", TARGET_FTP_RANGE.start()),
    );
    vars.insert("total_weeks", brief.total_weeks.to_string());
    vars.insert(
        "unavailable_days",
        if unavailable.is_empty() {
            "none".to_string()
        } else {
            day_list(&unavailable)
        },
    );
    vars.insert("weekly_hours", num(profile.weekly_hours));
    // Floor to 0.01 h so the stated maximum itself passes the budget rule.
    vars.insert(
        "weekly_hours_max",
        num((profile.weekly_hours * BUDGET_TOLERANCE * 100.0 + 1e-9).floor() / 100.0),
    );
    Ok(vars)
}

/// One overview entry as a short block, for this week and its neighbours.
pub(super) fn entry_block(entry: &WeekOverview, detailed: bool) -> String {
    let days = sorted_days(&entry.training_days);
    let mut lines = vec![format!("- Week {}: {}", entry.week_number, entry.phase)];
    if detailed {
        lines.push(format!(
            "- Why this phase: {}",
            entry.phase_rationale.trim()
        ));
    }
    lines.push(format!("- Focus: {}", entry.weekly_focus.trim()));
    if detailed {
        lines.push(format!(
            "- Watch points: {}",
            entry.weekly_watch_points.trim()
        ));
    }
    lines.push(format!(
        "- Training days: {} ({} hard, {} easy, {} rest days)",
        day_list(&days),
        entry.hard_days,
        entry.easy_days,
        entry.rest_days
    ));
    lines.push(format!(
        "- Target: {} h, {} TSS",
        num(entry.total_hours),
        num(entry.target_tss)
    ));
    lines.join("\n")
}

pub(super) fn plan_summary(overview: &PlanOverview, profile: &AthleteProfile) -> String {
    let mut entries: Vec<&WeekOverview> = overview.weekly_overview.iter().collect();
    entries.sort_by_key(|entry| entry.week_number);
    let phases = entries
        .iter()
        .map(|entry| format!("{} {}", entry.week_number, entry.phase))
        .collect::<Vec<_>>()
        .join(", ");
    let gain = (overview.target_ftp / profile.ftp_w - 1.0) * 100.0;
    [
        format!(
            "- Target FTP at the end of the plan: {} W (now {} W, {}{:.1}%)",
            num(overview.target_ftp),
            num(profile.ftp_w),
            if gain >= 0.0 { "+" } else { "" },
            gain
        ),
        format!("- Phases by week: {phases}"),
        format!("- Coaching notes: {}", overview.coaching_notes.trim()),
    ]
    .join("\n")
}

/// The riding-time window in whole minutes that stays within `tolerance` of `total_hours`, as
/// the validator measures it (minutes converted to hours rounded to 0.01 h).
pub(super) fn minutes_window(total_hours: f64, tolerance: f64) -> (i64, i64) {
    let target = total_hours * 60.0;
    let off =
        |minutes: i64| (minutes_to_hours(whole_f64(minutes)) - total_hours).abs() / total_hours;
    // `total_hours` is checked finite and above 0 by the caller (and bounded by the budget rule),
    // so the casts below are exact small integers.
    // The epsilon keeps an exact edge (7.5 h + 10% = 495 min) from being lost to float noise;
    // the loops then hold both ends to the validator's own comparison.
    let mut low = (target * (1.0 - tolerance) - 1e-9).ceil() as i64;
    let mut high = (target * (1.0 + tolerance) + 1e-9).floor() as i64;
    low = low.max(1);
    high = high.max(low);
    while low < high && off(low) > tolerance + 1e-9 {
        low += 1;
    }
    while high > low && off(high) > tolerance + 1e-9 {
        high -= 1;
    }
    (low, high)
}

/// The variables of the 3b templates (`WEEK_VARIABLES`), computed from the brief. Pure.
pub fn week_variables(brief: &StepBrief) -> Result<Vars, Error> {
    week_variables_with(brief, None)
}

pub(super) fn week_variables_with(
    brief: &StepBrief,
    parts: Option<&OverviewParts>,
) -> Result<Vars, Error> {
    let step = brief.step;
    let StepId::Week(week) = step else {
        return Err(brief_error(step, "the week prompts need a week step"));
    };
    if week < 1 || week > brief.total_weeks {
        return Err(brief_error(
            step,
            format!(
                "week {week} is outside the plan's 1..={} weeks",
                brief.total_weeks
            ),
        ));
    }
    let overview = brief
        .overview
        .as_ref()
        .ok_or_else(|| brief_error(step, "the accepted overview is missing"))?;
    let entry = overview
        .week(week)
        .ok_or_else(|| brief_error(step, format!("the overview has no entry for week {week}")))?;
    // A week with no training day (the event falls before any of them) plans 0 h.
    let rests = entry.training_days.is_empty() && entry.total_hours == 0.0;
    if !(entry.total_hours.is_finite() && (entry.total_hours > 0.0 || rests)) {
        return Err(brief_error(
            step,
            format!(
                "week {week} plans {} h, expected hours above 0",
                entry.total_hours
            ),
        ));
    }
    let profile = &brief.profile;
    let days = sorted_days(&entry.training_days);
    let rest: Vec<Weekday> = Weekday::ALL
        .into_iter()
        .filter(|day| !days.contains(day))
        .collect();
    let unloading = entry.phase.is_unloading();
    let (hours_tol, tss_tol) = if unloading {
        (HOURS_TOLERANCE_UNLOADING, TSS_TOLERANCE_UNLOADING)
    } else {
        (HOURS_TOLERANCE, TSS_TOLERANCE)
    };
    let (low_min, high_min) = minutes_window(entry.total_hours, hours_tol);
    let neighbour = |number: u32, none: &str| match overview.week(number) {
        Some(other) if number >= 1 && number <= brief.total_weeks => entry_block(other, false),
        _ => none.to_string(),
    };
    let tss_window = {
        // Whole TSS inside the band; the epsilon keeps an exact edge (440 + 15% = 506).
        let low = (entry.target_tss * (1.0 - tss_tol) - 1e-9).ceil().max(0.0);
        let high = (entry.target_tss * (1.0 + tss_tol) + 1e-9).floor();
        let note = match brief.rules.tss_check {
            TssCheck::Error => "",
            TssCheck::Warn => " (a miss is reported as a warning in this run)",
            TssCheck::Off => " (this run does not check TSS, but aim for it anyway)",
        };
        format!("{} and {} TSS{note}", num(low), num(high))
    };
    let computed;
    let parts = match parts.filter(|parts| parts.is_for(overview)) {
        Some(parts) => parts,
        None => {
            computed = OverviewParts::new(overview.clone(), profile)?;
            &computed
        }
    };
    let mut vars = Vars::new();
    vars.insert("athlete_summary", athlete_summary(profile));
    vars.insert("day_caps", caps_listing(profile, &days));
    vars.insert("easy_days", entry.easy_days.to_string());
    vars.insert("ftp_w", num(profile.ftp_w));
    vars.insert("goals", goals(profile));
    vars.insert("hard_days", entry.hard_days.to_string());
    vars.insert("hours_tolerance_pct", pct(HOURS_TOLERANCE));
    vars.insert(
        "hours_tolerance_unloading_pct",
        pct(HOURS_TOLERANCE_UNLOADING),
    );
    vars.insert("max_power_pct", num(MAX_POWER_PCT));
    vars.insert("max_sets", MAX_SETS.to_string());
    vars.insert("sprint_max_pct", num(SPRINT_MAX_PCT));
    vars.insert("sprint_max_s", brief.rules.sprint_max_s.to_string());
    vars.insert(
        "minutes_window",
        format!(
            "{low_min} and {high_min} min ({} to {} h)",
            num(minutes_to_hours(whole_f64(low_min))),
            num(minutes_to_hours(whole_f64(high_min)))
        ),
    );
    vars.insert(
        "next_week",
        if week < brief.total_weeks {
            neighbour(week + 1, "none (the overview has no entry for it)")
        } else {
            "none: this is the last week of the plan.".to_string()
        },
    );
    vars.insert("phase", entry.phase.to_string());
    vars.insert("plan_summary", parts.plan_summary.clone());
    vars.insert("power_zones", zones::zones_table(profile.ftp_w));
    vars.insert(
        "previous_week",
        if week > 1 {
            neighbour(week - 1, "none (the overview has no entry for it)")
        } else {
            "none: this is the first week of the plan.".to_string()
        },
    );
    vars.insert(
        "rest_days",
        if rest.is_empty() {
            "none".to_string()
        } else {
            day_list(&rest)
        },
    );
    vars.insert("target_hours", num(entry.total_hours));
    vars.insert("target_minutes", format!("{:.0}", entry.total_hours * 60.0));
    vars.insert("target_tss", num(entry.target_tss));
    vars.insert("total_weeks", brief.total_weeks.to_string());
    vars.insert("training_days", day_list(&days));
    vars.insert("tss_tolerance_pct", pct(TSS_TOLERANCE));
    vars.insert("tss_tolerance_unloading_pct", pct(TSS_TOLERANCE_UNLOADING));
    vars.insert("tss_window", tss_window);
    vars.insert("week_entry", entry_block(entry, true));
    vars.insert("week_number", week.to_string());
    Ok(vars)
}
