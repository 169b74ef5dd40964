//! The validation rules of SPEC §6, one implementation for 3a, 3b, 3c and `periodize validate`.
//! Rules never stop at the first problem: they return every violation, each with the numbers a
//! coach (or a model in the repair loop) needs to fix it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::plan::{PlanOverview, Segment, WeekDetails, WeekOverview, MAX_SETS};
use crate::domain::profile::AthleteProfile;
use crate::domain::{Phase, Weekday};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub severity: Severity,
    /// Where in the tool arguments or plan the problem is, e.g. `weekly_overview[2].total_hours`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: {}: {}", self.path, self.message)
    }
}

/// How the weekly TSS check reports a deviation beyond its fail threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TssCheck {
    Error,
    Warn,
    Off,
}

/// The configurable part of the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    pub max_training_days: u32,
    pub tss_check: TssCheck,
    /// Longest step, in seconds, that may go above `MAX_POWER_PCT` (up to `SPRINT_MAX_PCT`);
    /// 0 allows no step above it.
    pub sprint_max_s: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_training_days: 5,
            tss_check: TssCheck::Error,
            sprint_max_s: SPRINT_MAX_S,
        }
    }
}

/// Hours may exceed the weekly budget by this factor in the overview.
pub const BUDGET_TOLERANCE: f64 = 1.10;
pub const TARGET_FTP_RANGE: std::ops::RangeInclusive<f64> = 0.9..=1.25;
pub const MAX_HARD_DAYS: i64 = 3;
pub const MAX_POWER_PCT: f64 = 200.0;
/// The default of `Rules::sprint_max_s`: Coggan's level 7 (neuromuscular power) is sprints
/// under 30 s (guide §1.3), the only efforts ridden above twice FTP.
pub const SPRINT_MAX_S: u32 = 30;
/// The most a short sprint may ask for: peak sprint power of trained riders is about 2.5 to 3
/// times FTP, and the seed's real plans write 250 to 300 % for their 10 s sprints.
pub const SPRINT_MAX_PCT: f64 = 300.0;
/// The precision of a fractional step duration (0.01 min, 0.6 s): a repeat's outer duration
/// may differ from its expansion by this much per set before it earns a warning.
pub const REPEAT_STEP_ROUNDING_MIN: f64 = 0.01;
/// Float slack when fractional minutes are summed and compared with a whole cap.
const MINUTES_SLACK: f64 = 1e-6;
/// Half of 0.01 h in minutes plus float slack: the rounding allowed in `total_hours`.
pub const HOURS_ROUNDING_MIN: f64 = 0.31;
/// Week-over-week hours rise that earns a warning (outside a recovery week).
pub const HOURS_RISE_WARN: f64 = 1.10;
/// A run of this many weeks without Recovery or Taper earns a warning.
pub const WEEKS_WITHOUT_RECOVERY_WARN: usize = 5;

// Longest free text, in characters, per kind of field: far above what a coach writes (the
// longest notes seen are about 1,000 characters), low enough that an overview, which every
// week request quotes, stays a small part of each request.

/// `coaching_notes`, `monitoring_guidance`, a workout's `detailed_description`.
pub const MAX_NOTES_CHARS: usize = 8_000;
/// An overview entry's `phase_rationale`, `weekly_focus`, `weekly_watch_points`, and a
/// workout's `description`.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// A segment's `description`.
pub const MAX_SEGMENT_TEXT_CHARS: usize = 1_000;
/// A workout's `name`.
pub const MAX_NAME_CHARS: usize = 200;

/// Deviation thresholds (warn, fail) as fractions, by kind of week.
fn hours_thresholds(phase: Phase) -> (f64, f64) {
    if phase.is_unloading() {
        (0.08, 0.15)
    } else {
        (0.10, 0.20)
    }
}

fn tss_thresholds(phase: Phase) -> (f64, f64) {
    if phase.is_unloading() {
        (0.12, 0.20)
    } else {
        (0.15, 0.25)
    }
}

pub fn has_errors(violations: &[Violation]) -> bool {
    violations
        .iter()
        .any(|violation| violation.severity == Severity::Error)
}

struct Report {
    violations: Vec<Violation>,
}

impl Report {
    fn new() -> Report {
        Report {
            violations: Vec::new(),
        }
    }

    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation {
            severity: Severity::Error,
            path: path.into(),
            message: message.into(),
        });
    }

    fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation {
            severity: Severity::Warning,
            path: path.into(),
            message: message.into(),
        });
    }

    /// A free-text field longer than `max` characters is an error the model can repair.
    /// `path` is only built for a field that is too long.
    fn text(&mut self, path: impl FnOnce() -> String, text: &str, max: usize) {
        // A text of at most `max` bytes has at most `max` characters: most texts need no count.
        if text.len() <= max {
            return;
        }
        let chars = text.chars().count();
        if chars > max {
            self.error(path(), format!("is {chars} characters; at most {max}"));
        }
    }

    fn push(&mut self, severity: Severity, path: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation {
            severity,
            path: path.into(),
            message: message.into(),
        });
    }
}

fn day_list(days: &[Weekday]) -> String {
    days.iter()
        .map(|day| day.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn pct(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// Checks the arguments of `create_plan_overview` for a plan of `total_weeks` weeks.
pub fn check_overview(
    overview: &PlanOverview,
    profile: &AthleteProfile,
    total_weeks: u32,
    rules: &Rules,
) -> Vec<Violation> {
    let mut report = Report::new();
    overview_rules(&mut report, overview, profile, total_weeks, rules);
    report.violations
}

fn overview_rules(
    report: &mut Report,
    overview: &PlanOverview,
    profile: &AthleteProfile,
    total_weeks: u32,
    rules: &Rules,
) {
    if overview.total_weeks != i64::from(total_weeks) {
        report.error(
            "total_weeks",
            format!(
                "is {}, the plan must have exactly {total_weeks} weeks",
                overview.total_weeks
            ),
        );
    }
    let ftp_low = profile.ftp_w * TARGET_FTP_RANGE.start();
    let ftp_high = profile.ftp_w * TARGET_FTP_RANGE.end();
    if !overview.target_ftp.is_finite()
        || overview.target_ftp < ftp_low
        || overview.target_ftp > ftp_high
    {
        report.error(
            "target_ftp",
            format!(
                "is {} W, must be between {ftp_low:.0} and {ftp_high:.0} W (0.90 to 1.25 x current FTP {:.0} W)",
                overview.target_ftp, profile.ftp_w
            ),
        );
    }
    report.text(
        || "coaching_notes".to_string(),
        &overview.coaching_notes,
        MAX_NOTES_CHARS,
    );
    report.text(
        || "monitoring_guidance".to_string(),
        &overview.monitoring_guidance,
        MAX_NOTES_CHARS,
    );
    let entries = &overview.weekly_overview;
    if entries.len() != total_weeks as usize {
        report.error(
            "weekly_overview",
            format!(
                "has {} entries, expected exactly {total_weeks} (one per week)",
                entries.len()
            ),
        );
    }
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let path = format!("weekly_overview[{index}]");
        if entry.week_number < 1 || entry.week_number > i64::from(total_weeks) {
            report.error(
                format!("{path}.week_number"),
                format!(
                    "is {}, expected a week between 1 and {total_weeks}",
                    entry.week_number
                ),
            );
        } else if let Some(first) = seen.insert(entry.week_number, index) {
            report.error(
                format!("{path}.week_number"),
                format!(
                    "week {} appears twice (also at weekly_overview[{first}])",
                    entry.week_number
                ),
            );
        }
        entry_rules(report, &path, entry, profile, rules);
    }
    let missing: Vec<String> = (1..=i64::from(total_weeks))
        .filter(|week| !seen.contains_key(week))
        .map(|week| week.to_string())
        .collect();
    // With no entries at all, the count error above already says everything.
    if !missing.is_empty() && !entries.is_empty() {
        report.error(
            "weekly_overview",
            format!("no entry for week(s) {}", missing.join(", ")),
        );
    }
}

fn entry_rules(
    report: &mut Report,
    path: &str,
    entry: &WeekOverview,
    profile: &AthleteProfile,
    rules: &Rules,
) {
    for (name, text) in [
        ("phase_rationale", &entry.phase_rationale),
        ("weekly_focus", &entry.weekly_focus),
        ("weekly_watch_points", &entry.weekly_watch_points),
    ] {
        report.text(|| format!("{path}.{name}"), text, MAX_TEXT_CHARS);
    }
    let week = entry.week_number;
    let days = &entry.training_days;
    let unique: BTreeSet<Weekday> = days.iter().copied().collect();
    if unique.len() != days.len() {
        report.error(
            format!("{path}.training_days"),
            format!("week {week} lists a day twice: {}", day_list(days)),
        );
    }
    for day in &unique {
        if !profile.is_available(*day) {
            report.error(
                format!("{path}.training_days"),
                format!(
                    "week {week}: {day} is not an available day (available: {})",
                    day_list(&profile.available_days)
                ),
            );
        }
    }
    if days.is_empty() {
        report.error(
            format!("{path}.training_days"),
            format!("week {week} has no training day"),
        );
    }
    if unique.len() > rules.max_training_days as usize {
        report.error(
            format!("{path}.training_days"),
            format!(
                "week {week} has {} training days, at most {} allowed",
                unique.len(),
                rules.max_training_days
            ),
        );
    }
    let n_days = days.len() as i64;
    for (name, count) in [
        ("hard_days", entry.hard_days),
        ("easy_days", entry.easy_days),
        ("rest_days", entry.rest_days),
    ] {
        if count < 0 {
            report.error(
                format!("{path}.{name}"),
                format!("week {week}: {name} is {count}, must not be negative"),
            );
        }
    }
    if entry.hard_days + entry.easy_days != n_days {
        report.error(
            format!("{path}.hard_days"),
            format!(
                "week {week}: hard_days {} + easy_days {} = {}, must equal the {n_days} training days",
                entry.hard_days,
                entry.easy_days,
                entry.hard_days + entry.easy_days
            ),
        );
    }
    if entry.hard_days + entry.easy_days + entry.rest_days != 7 {
        report.error(
            format!("{path}.rest_days"),
            format!(
                "week {week}: hard_days {} + easy_days {} + rest_days {} = {}, must be 7",
                entry.hard_days,
                entry.easy_days,
                entry.rest_days,
                entry.hard_days + entry.easy_days + entry.rest_days
            ),
        );
    }
    if entry.hard_days > MAX_HARD_DAYS {
        report.error(
            format!("{path}.hard_days"),
            format!(
                "week {week} has {} hard days, at most {MAX_HARD_DAYS} allowed",
                entry.hard_days
            ),
        );
    }
    let budget_max = profile.weekly_hours * BUDGET_TOLERANCE;
    if !entry.total_hours.is_finite() || entry.total_hours <= 0.0 {
        report.error(
            format!("{path}.total_hours"),
            format!(
                "week {week}: total_hours is {}, must be above 0",
                entry.total_hours
            ),
        );
    } else {
        if entry.total_hours > budget_max + 1e-9 {
            report.error(
                format!("{path}.total_hours"),
                format!(
                    "week {week}: {} h exceeds the weekly budget of {} h by more than 10% (max {budget_max:.2} h)",
                    entry.total_hours, profile.weekly_hours
                ),
            );
        }
        let capacity_min: u32 = unique
            .iter()
            .filter(|day| profile.is_available(**day))
            .map(|day| profile.cap_min(*day))
            .sum();
        // total_hours is given to 0.01 h (0.6 min), so allow that rounding before calling it over.
        if entry.total_hours * 60.0 > f64::from(capacity_min) + HOURS_ROUNDING_MIN {
            report.error(
                format!("{path}.total_hours"),
                format!(
                    "week {week}: {} h ({:.0} min) cannot fit in the daily caps of its training days ({capacity_min} min: {})",
                    entry.total_hours,
                    entry.total_hours * 60.0,
                    unique.iter().map(|day| format!("{day} {}", profile.cap_min(*day))).collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    if !entry.target_tss.is_finite() || entry.target_tss < 0.0 {
        report.error(
            format!("{path}.target_tss"),
            format!(
                "week {week}: target_tss is {}, must be 0 or more",
                entry.target_tss
            ),
        );
    }
}

/// Checks the arguments of `add_week_details` for the requested week against its overview entry.
pub fn check_week(
    week: &WeekDetails,
    requested_week: u32,
    entry: &WeekOverview,
    profile: &AthleteProfile,
    rules: &Rules,
) -> Vec<Violation> {
    let mut report = Report::new();
    week_rules(&mut report, "", week, requested_week, entry, profile, rules);
    report.violations
}

fn week_rules(
    report: &mut Report,
    prefix: &str,
    week: &WeekDetails,
    requested_week: u32,
    entry: &WeekOverview,
    profile: &AthleteProfile,
    rules: &Rules,
) {
    let n = requested_week;
    if week.week_number != i64::from(requested_week) {
        report.error(
            format!("{prefix}week_number"),
            format!("is {}, expected week {n}", week.week_number),
        );
    }
    let training: BTreeSet<Weekday> = entry.training_days.iter().copied().collect();
    let mut per_day: BTreeMap<Weekday, Vec<usize>> = BTreeMap::new();
    for (index, workout) in week.workouts.iter().enumerate() {
        per_day.entry(workout.weekday).or_default().push(index);
        let path = format!("{prefix}workouts[{index}]");
        report.text(|| format!("{path}.name"), &workout.name, MAX_NAME_CHARS);
        report.text(
            || format!("{path}.description"),
            &workout.description,
            MAX_TEXT_CHARS,
        );
        if let Some(detailed) = &workout.detailed_description {
            report.text(
                || format!("{path}.detailed_description"),
                detailed,
                MAX_NOTES_CHARS,
            );
        }
        if !training.contains(&workout.weekday) {
            report.error(
                format!("{path}.weekday"),
                format!(
                    "week {n}: {} is not a training day of this week (training days: {})",
                    workout.weekday,
                    day_list(&entry.training_days)
                ),
            );
        }
        if workout.segments.is_empty() {
            report.error(
                format!("{path}.segments"),
                format!(
                    "week {n} {}: a workout needs at least one segment",
                    workout.weekday
                ),
            );
        }
        for (segment_index, segment) in workout.segments.iter().enumerate() {
            let segment_path = format!("{path}.segments[{segment_index}]");
            let at = format!("week {n} {}", workout.weekday);
            report.text(
                || format!("{segment_path}.description"),
                &segment.description,
                MAX_SEGMENT_TEXT_CHARS,
            );
            segment_rules(report, &segment_path, &at, segment, rules);
        }
        let minutes = workout.minutes();
        let cap = profile.cap_min(workout.weekday);
        if minutes > f64::from(cap) + MINUTES_SLACK {
            report.error(
                format!("{path}.segments"),
                format!(
                    "week {n} {}: workout lasts {} min, above the daily cap of {cap} min",
                    workout.weekday,
                    minutes_text(minutes)
                ),
            );
        }
    }
    for (day, indexes) in &per_day {
        if indexes.len() > 1 {
            report.error(
                format!("{prefix}workouts"),
                format!(
                    "week {n}: {day} has {} workouts (workouts{:?}), expected exactly one",
                    indexes.len(),
                    indexes
                ),
            );
        }
    }
    let missing: Vec<Weekday> = training
        .iter()
        .copied()
        .filter(|day| !per_day.contains_key(day))
        .collect();
    if !missing.is_empty() {
        report.error(
            format!("{prefix}workouts"),
            format!(
                "week {n}: no workout on training day(s) {}; each training day needs exactly one",
                day_list(&missing)
            ),
        );
    }

    let hours = week.hours();
    let (warn, fail) = hours_thresholds(entry.phase);
    if entry.total_hours > 0.0 {
        let deviation = (hours - entry.total_hours).abs() / entry.total_hours;
        let message = format!(
            "week {n} ({}): workouts total {hours:.2} h, the overview planned {} h (off by {}; warn above {}, fail above {})",
            entry.phase,
            entry.total_hours,
            pct(deviation),
            pct(warn),
            pct(fail)
        );
        if deviation > fail + 1e-9 {
            report.error(format!("{prefix}workouts"), message);
        } else if deviation > warn + 1e-9 {
            report.warning(format!("{prefix}workouts"), message);
        }
    }

    if rules.tss_check != TssCheck::Off && entry.target_tss > 0.0 {
        let tss = week.tss();
        let (warn, fail) = tss_thresholds(entry.phase);
        let deviation = (tss - entry.target_tss).abs() / entry.target_tss;
        let message = format!(
            "week {n} ({}): workouts total {tss:.1} TSS, the overview planned {} TSS (off by {}; warn above {}, fail above {})",
            entry.phase,
            entry.target_tss,
            pct(deviation),
            pct(warn),
            pct(fail)
        );
        let fail_severity = if rules.tss_check == TssCheck::Error {
            Severity::Error
        } else {
            Severity::Warning
        };
        if deviation > fail + 1e-9 {
            report.push(fail_severity, format!("{prefix}workouts"), message);
        } else if deviation > warn + 1e-9 {
            report.warning(format!("{prefix}workouts"), message);
        }
    }
}

/// The rules of one segment: a plain one is one step; a repeat is checked part by part (its
/// sets, its work and recovery steps) and its outer duration against its expansion. The outer
/// power of a repeat is a summary that nobody rides, so only its steps' power is checked.
fn segment_rules(report: &mut Report, path: &str, at: &str, segment: &Segment, rules: &Rules) {
    let minutes = segment.duration_min;
    if minutes.is_finite() && minutes > 0.0 && minutes.fract() != 0.0 {
        // A repeat's outer minutes are not ridden, so saying how they are read would mislead.
        let read_as = match segment.repeat {
            None => format!(" (read as {})", minutes_text(minutes)),
            Some(_) => String::new(),
        };
        report.warning(
            format!("{path}.duration_min"),
            format!("{at}: duration_min = {minutes} is not whole minutes{read_as}"),
        );
    }
    let Some(repeat) = &segment.repeat else {
        step_rules(
            report,
            path,
            at,
            (minutes, segment.power_low_pct, segment.power_high_pct),
            rules,
        );
        return;
    };
    if !(1..=MAX_SETS).contains(&repeat.sets) {
        report.error(
            format!("{path}.sets"),
            format!("{at}: sets is {}, must be 1 to {MAX_SETS}", repeat.sets),
        );
    }
    for (name, step) in [
        ("work", Some(&repeat.work)),
        ("recovery", repeat.recovery.as_ref()),
    ] {
        let Some(step) = step else { continue };
        let step_path = format!("{path}.{name}");
        report.text(
            || format!("{step_path}.description"),
            &step.description,
            MAX_SEGMENT_TEXT_CHARS,
        );
        step_rules(
            report,
            &step_path,
            at,
            (step.duration_min, step.power_low_pct, step.power_high_pct),
            rules,
        );
    }
    let expanded = segment.minutes();
    // Each step written to 0.01 min may be off by half of that; a set holds two steps. A set
    // count out of range is an error already, and its expansion means nothing.
    let tolerance = REPEAT_STEP_ROUNDING_MIN * repeat.sets.clamp(1, MAX_SETS) as f64 + 1e-9;
    if (1..=MAX_SETS).contains(&repeat.sets)
        && minutes.is_finite()
        && expanded.is_finite()
        && (minutes - expanded).abs() > tolerance
    {
        let recovery = repeat
            .recovery
            .as_ref()
            .map_or(String::new(), |step| format!(" + {}", step.duration_min));
        report.warning(
            format!("{path}.duration_min"),
            format!(
                "{at}: duration_min is {minutes}, but the repeat {} x ({}{recovery}) lasts {}; the repeat is what counts",
                repeat.sets,
                repeat.work.duration_min,
                minutes_text(expanded)
            ),
        );
    }
}

/// The rules of one ridden step (a plain segment, or a repeat's work or recovery): a duration
/// above 0, and power within 0..=`MAX_POWER_PCT`, or up to `SPRINT_MAX_PCT` in a step of at
/// most `rules.sprint_max_s` seconds.
fn step_rules(
    report: &mut Report,
    path: &str,
    at: &str,
    (minutes, low, high): (f64, f64, Option<f64>),
    rules: &Rules,
) {
    if !minutes.is_finite() || minutes <= 0.0 {
        report.error(
            format!("{path}.duration_min"),
            format!("{at}: duration_min is {minutes}, must be more than 0"),
        );
    }
    let short = minutes.is_finite() && minutes * 60.0 <= f64::from(rules.sprint_max_s) + 1e-9;
    let cap = if short { SPRINT_MAX_PCT } else { MAX_POWER_PCT };
    let allowed = |pct: f64| pct.is_finite() && (0.0..=cap).contains(&pct);
    let range = |name: &str, pct: f64| {
        let could_sprint = pct > MAX_POWER_PCT && pct <= SPRINT_MAX_PCT && rules.sprint_max_s > 0;
        let sprint = if short || !could_sprint {
            String::new()
        } else {
            format!(
                " (above {MAX_POWER_PCT} only in steps of at most {} s; this one lasts {})",
                rules.sprint_max_s,
                minutes_text(minutes)
            )
        };
        format!("{at}: {name} is {pct}, must be between 0 and {cap}{sprint}")
    };
    if !allowed(low) {
        report.error(format!("{path}.power_low_pct"), range("power_low_pct", low));
    }
    if let Some(high) = high {
        if !allowed(high) {
            report.error(
                format!("{path}.power_high_pct"),
                range("power_high_pct", high),
            );
        } else if high < low {
            report.error(
                format!("{path}.power_high_pct"),
                format!("{at}: power_high_pct {high} is below power_low_pct {low}"),
            );
        }
    }
}

/// Minutes as a reader says them: `45`, `6 min 20 s` style only when there are seconds.
fn minutes_text(minutes: f64) -> String {
    if !minutes.is_finite() {
        return minutes.to_string();
    }
    let seconds = (minutes * 60.0).round();
    let whole = (seconds / 60.0).trunc();
    let rest = seconds - whole * 60.0;
    if rest == 0.0 {
        format!("{whole} min")
    } else if whole == 0.0 {
        format!("{rest} s")
    } else {
        format!("{whole} min {rest} s")
    }
}

/// Checks a whole plan (3c and `periodize validate`): the overview, every week against its
/// entry, every week 1..N present once, and the cross-week warnings.
pub fn check_plan(
    overview: &PlanOverview,
    weeks: &[WeekDetails],
    profile: &AthleteProfile,
    total_weeks: u32,
    rules: &Rules,
) -> Vec<Violation> {
    let mut report = Report::new();
    overview_rules(&mut report, overview, profile, total_weeks, rules);

    let mut by_number: BTreeMap<i64, usize> = BTreeMap::new();
    for (index, week) in weeks.iter().enumerate() {
        let path = format!("weekly_plan[{index}]");
        if let Some(first) = by_number.insert(week.week_number, index) {
            report.error(
                format!("{path}.week_number"),
                format!(
                    "week {} appears twice (also at weekly_plan[{first}])",
                    week.week_number
                ),
            );
            continue;
        }
        let in_range = week.week_number >= 1 && week.week_number <= i64::from(total_weeks);
        match overview
            .weekly_overview
            .iter()
            .find(|entry| entry.week_number == week.week_number)
        {
            Some(entry) if in_range => {
                let number = u32::try_from(week.week_number).expect("checked to be within 1..=52");
                week_rules(
                    &mut report,
                    &format!("{path}."),
                    week,
                    number,
                    entry,
                    profile,
                    rules,
                );
            }
            _ => report.error(
                format!("{path}.week_number"),
                format!(
                    "week {} is not a week of this {total_weeks}-week plan",
                    week.week_number
                ),
            ),
        }
    }
    let missing: Vec<String> = (1..=i64::from(total_weeks))
        .filter(|week| !by_number.contains_key(week))
        .map(|week| week.to_string())
        .collect();
    if !missing.is_empty() {
        report.error(
            "weekly_plan",
            format!("weeks without details: {}", missing.join(", ")),
        );
    }

    cross_week_rules(&mut report, overview, weeks);
    report.violations
}

fn cross_week_rules(report: &mut Report, overview: &PlanOverview, weeks: &[WeekDetails]) {
    let mut entries: Vec<&WeekOverview> = overview.weekly_overview.iter().collect();
    entries.sort_by_key(|entry| entry.week_number);
    let hours_of = |entry: &WeekOverview| -> f64 {
        weeks
            .iter()
            .find(|week| week.week_number == entry.week_number)
            .map_or(entry.total_hours, WeekDetails::hours)
    };
    for pair in entries.windows(2) {
        let (previous, current) = (pair[0], pair[1]);
        if previous.week_number + 1 != current.week_number {
            continue;
        }
        let (before, after) = (hours_of(previous), hours_of(current));
        let coming_out_of_recovery = previous.phase == Phase::Recovery;
        if !coming_out_of_recovery
            && current.phase != Phase::Recovery
            && before > 0.0
            && after > before * HOURS_RISE_WARN + 1e-9
        {
            report.warning(
                format!("weekly_plan.week_{}", current.week_number),
                format!(
                    "hours rise from {before:.2} h in week {} to {after:.2} h in week {} (+{}, more than 10%)",
                    previous.week_number,
                    current.week_number,
                    pct(after / before - 1.0)
                ),
            );
        }
    }
    let mut streak: Vec<i64> = Vec::new();
    for entry in &entries {
        if entry.phase.is_unloading() {
            streak.clear();
            continue;
        }
        streak.push(entry.week_number);
        if streak.len() == WEEKS_WITHOUT_RECOVERY_WARN {
            report.warning(
                format!("weekly_plan.week_{}", entry.week_number),
                format!(
                    "weeks {} to {} have no recovery week ({WEEKS_WITHOUT_RECOVERY_WARN} or more weeks in a row)",
                    streak[0], entry.week_number
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coach;
    use crate::domain::plan::Workout;
    use crate::domain::profile::parse_profile;
    use crate::domain::SegmentKind;

    fn profile() -> AthleteProfile {
        parse_profile(
            r#"{"ftp_w":240,"weekly_hours":8,"available_days":["Tuesday","Thursday","Saturday","Sunday"]}"#,
        )
        .expect("the test profile is valid")
    }

    fn errors(violations: &[Violation]) -> Vec<String> {
        violations
            .iter()
            .filter(|violation| violation.severity == Severity::Error)
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn overlong_overview_text_is_an_error_naming_the_field_and_the_limit() {
        let (profile, rules) = (profile(), Rules::default());
        let mut overview = coach::create_plan_overview(&profile, 6, &rules);
        assert!(errors(&check_overview(&overview, &profile, 6, &rules)).is_empty());
        overview.weekly_overview[3].weekly_focus = "é".repeat(12_000);
        overview.coaching_notes = "x".repeat(MAX_NOTES_CHARS + 1);
        // Characters, not bytes: exactly the limit in two-byte characters passes.
        overview.weekly_overview[0].phase_rationale = "é".repeat(MAX_TEXT_CHARS);
        assert_eq!(
            errors(&check_overview(&overview, &profile, 6, &rules)),
            [
                "error: coaching_notes: is 8001 characters; at most 8000",
                "error: weekly_overview[3].weekly_focus: is 12000 characters; at most 2000",
            ]
        );
    }

    #[test]
    fn overlong_workout_text_is_an_error_naming_the_field_and_the_limit() {
        let (profile, rules) = (profile(), Rules::default());
        let overview = coach::create_plan_overview(&profile, 4, &rules);
        let mut week = coach::add_week_details(&profile, &overview, 2, &rules);
        let entry = overview.week(2).expect("week 2");
        week.workouts[1].name = "n".repeat(MAX_NAME_CHARS + 5);
        week.workouts[0].detailed_description = Some("d".repeat(MAX_NOTES_CHARS + 1));
        week.workouts[0].segments[0].description = "s".repeat(MAX_SEGMENT_TEXT_CHARS + 1);
        assert_eq!(
            errors(&check_week(&week, 2, entry, &profile, &rules)),
            [
                "error: workouts[0].detailed_description: is 8001 characters; at most 8000",
                "error: workouts[0].segments[0].description: is 1001 characters; at most 1000",
                "error: workouts[1].name: is 205 characters; at most 200",
            ]
        );
    }

    fn segments(value: serde_json::Value) -> Vec<Segment> {
        serde_json::from_value(value).expect("well-formed segments")
    }

    /// The violations of week 2 with `segments` as its first workout, under that workout.
    fn segment_findings(segments: Vec<Segment>, rules: &Rules) -> Vec<String> {
        let profile = profile();
        let overview = coach::create_plan_overview(&profile, 4, rules);
        let mut week = coach::add_week_details(&profile, &overview, 2, rules);
        week.workouts[0].segments = segments;
        let entry = overview.week(2).expect("week 2");
        check_week(&week, 2, entry, &profile, rules)
            .iter()
            .filter(|violation| violation.path.starts_with("workouts[0].segments["))
            .map(ToString::to_string)
            .collect()
    }

    /// The guide's vector E (§1.2): 10 min ramp 50 to 70 %, 5 x (3 min at 120 %, 3 min at
    /// 50 %), 10 min at 50 %. Written as a repeat, it counts as its 50 expanded minutes, not as
    /// the outer block, and its TSS is the sum over the ten steps.
    #[test]
    fn a_repeat_counts_as_its_expansion() {
        let workout = Workout {
            weekday: Weekday::Tuesday,
            name: "E".into(),
            description: String::new(),
            detailed_description: None,
            segments: segments(serde_json::json!([
                {"type": "warmup", "duration_min": 10, "power_low_pct": 50, "power_high_pct": 70, "description": ""},
                {"type": "interval", "duration_min": 99, "power_low_pct": 120, "power_high_pct": null, "description": "",
                 "sets": 5, "work": {"duration_min": 3, "power_low_pct": 120, "power_high_pct": null, "description": ""},
                 "recovery": {"duration_min": 3, "power_low_pct": 50, "power_high_pct": null, "description": ""}},
                {"type": "cooldown", "duration_min": 10, "power_low_pct": 50, "power_high_pct": null, "description": ""}
            ])),
        };
        assert_eq!(workout.minutes(), 50.0);
        // 6.0 + 5 x (7.2 + 1.25) + 4.17; the guide's per-step figure, with its ramp counted
        // by the mean of IF², is 52.5.
        assert_eq!(workout.tss(), 52.4);
        let kinds: Vec<SegmentKind> = workout.steps().map(|step| step.kind).collect();
        assert_eq!(kinds.len(), 12);
        assert_eq!(
            (kinds[1], kinds[2], kinds[10]),
            (
                SegmentKind::Work,
                SegmentKind::Recovery,
                SegmentKind::Recovery
            )
        );
    }

    #[test]
    fn every_rule_reads_the_steps_of_a_repeat() {
        let rules = Rules::default();
        let step = |minutes: f64, pct: f64| serde_json::json!({"duration_min": minutes, "power_low_pct": pct, "power_high_pct": null, "description": ""});
        let repeat = |outer: f64, sets: i64, work, recovery| {
            serde_json::json!({"type": "interval", "duration_min": outer, "power_low_pct": 100, "power_high_pct": null,
                               "description": "", "sets": sets, "work": work, "recovery": recovery})
        };
        // The seed's sprints: 2 x (10 s at 250-300 %, 3 min easy), outer 6.34 min. Short
        // enough to go above 200 %; the outer minutes are not whole, which is worth a warning.
        let sprints = segments(serde_json::json!([repeat(
            6.34,
            2,
            serde_json::json!({"duration_min": 0.17, "power_low_pct": 250, "power_high_pct": 300, "description": "Hard"}),
            step(3.0, 55.0)
        )]));
        assert_eq!(
            segment_findings(sprints.clone(), &rules),
            ["warning: workouts[0].segments[0].duration_min: week 2 Tuesday: duration_min = 6.34 is not whole minutes"]
        );
        // With no sprint allowance, the same steps are above the cap.
        let strict = Rules {
            sprint_max_s: 0,
            ..Rules::default()
        };
        let found = segment_findings(sprints, &strict);
        assert!(
            found.contains(&"error: workouts[0].segments[0].work.power_high_pct: week 2 Tuesday: power_high_pct is 300, must be between 0 and 200".to_string()),
            "{found:#?}"
        );

        assert_eq!(
            segment_findings(
                segments(serde_json::json!([
                    repeat(100.0, 4, step(10.0, 90.0), step(5.0, 55.0)),
                    repeat(3.0, 0, step(0.0, 90.0), serde_json::Value::Null),
                    repeat(51.0, 51, step(0.75, 250.0), step(0.25, 350.0)),
                    repeat(50.0, 50, step(0.75, 100.0), step(0.25, 50.0)),
                    {"type": "steady", "duration_min": 0.5, "power_low_pct": 230, "power_high_pct": null, "description": ""}
                ])),
                &rules
            ),
            [
                "warning: workouts[0].segments[0].duration_min: week 2 Tuesday: duration_min is 100, but the repeat 4 x (10 + 5) lasts 60 min; the repeat is what counts",
                "error: workouts[0].segments[1].sets: week 2 Tuesday: sets is 0, must be 1 to 50",
                "error: workouts[0].segments[1].work.duration_min: week 2 Tuesday: duration_min is 0, must be more than 0",
                "error: workouts[0].segments[2].sets: week 2 Tuesday: sets is 51, must be 1 to 50",
                "error: workouts[0].segments[2].work.power_low_pct: week 2 Tuesday: power_low_pct is 250, must be between 0 and 200 (above 200 only in steps of at most 30 s; this one lasts 45 s)",
                "error: workouts[0].segments[2].recovery.power_low_pct: week 2 Tuesday: power_low_pct is 350, must be between 0 and 300",
                // 30 s is short enough to sprint, as a plain segment too.
                "warning: workouts[0].segments[4].duration_min: week 2 Tuesday: duration_min = 0.5 is not whole minutes (read as 30 s)",
            ]
        );
    }
}
