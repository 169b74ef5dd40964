//! The validation rules of SPEC §6 and the plausibility rules of issue 9, one implementation for
//! 3a, 3b, 3c and `periodize validate`. Rules never stop at the first problem: they return every
//! violation, each with the numbers a coach (or a model in the repair loop) needs to fix it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::event::{self, EventDay, Experience};
use crate::domain::load::{self, WeekLoad};
use crate::domain::plan::{PlanOverview, Segment, WeekDetails, WeekOverview, Workout, MAX_SETS};
use crate::domain::profile::AthleteProfile;
use crate::domain::{Phase, SegmentKind, Weekday};

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

impl Violation {
    /// The plausibility rule a violation breaks (its message starts with the rule's name), or
    /// `None` for the structural rules of SPEC §6.
    pub fn rule(&self) -> Option<Rule> {
        let (name, _) = self.message.split_once(": ")?;
        Rule::parse(name)
    }
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

/// A plausibility rule, by its stable name (the `--rule NAME=…` of the CLI and the name the
/// messages start with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A week's TSS per hour within the bounds of its phase (3a targets, 3b/3c workouts).
    TssPerHour,
    /// A recovery week `RECOVERY_MIN_CUT` below every load week of its block, in hours and TSS.
    RecoveryWeek,
    /// A recovery week keeps at most `RECOVERY_MAX_THRESHOLD_SHARE` of its time at threshold+.
    RecoveryIntensity,
    /// A taper cuts volume by `TAPER_CUT` against the last `PRE_TAPER_WEEKS` load weeks.
    TaperVolume,
    /// A taper keeps some time at threshold or above.
    TaperIntensity,
    /// The weekly CTL ramp.
    CtlRamp,
    /// The acute:chronic workload ratio.
    Acwr,
    /// No two consecutive days with a hard session.
    HardDaysBackToBack,
    /// A cool-down never above the segment before it.
    CooldownAbovePrevious,
    /// A structured session starts with a warm-up and ends with a cool-down.
    WarmupCooldown,
}

impl Rule {
    pub const ALL: [Rule; 10] = [
        Rule::TssPerHour,
        Rule::RecoveryWeek,
        Rule::RecoveryIntensity,
        Rule::TaperVolume,
        Rule::TaperIntensity,
        Rule::CtlRamp,
        Rule::Acwr,
        Rule::HardDaysBackToBack,
        Rule::CooldownAbovePrevious,
        Rule::WarmupCooldown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::TssPerHour => "tss_per_hour",
            Rule::RecoveryWeek => "recovery_week",
            Rule::RecoveryIntensity => "recovery_intensity",
            Rule::TaperVolume => "taper_volume",
            Rule::TaperIntensity => "taper_intensity",
            Rule::CtlRamp => "ctl_ramp",
            Rule::Acwr => "acwr",
            Rule::HardDaysBackToBack => "hard_days_back_to_back",
            Rule::CooldownAbovePrevious => "cooldown_above_previous",
            Rule::WarmupCooldown => "warmup_cooldown",
        }
    }

    pub fn parse(text: &str) -> Option<Rule> {
        Rule::ALL
            .into_iter()
            .find(|rule| rule.name() == text.trim())
    }

    /// The severity of a breach of the rule's limit when none is configured. Why each is what
    /// it is: ARCHITECTURE.md, "Plausibility rules".
    pub fn default_severity(self) -> RuleSeverity {
        match self {
            Rule::TssPerHour
            | Rule::RecoveryWeek
            | Rule::RecoveryIntensity
            | Rule::Acwr
            | Rule::CooldownAbovePrevious => RuleSeverity::Error,
            Rule::TaperVolume
            | Rule::TaperIntensity
            | Rule::CtlRamp
            | Rule::HardDaysBackToBack
            | Rule::WarmupCooldown => RuleSeverity::Warning,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a breach of a plausibility rule's limit is reported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSeverity {
    Error,
    Warning,
    Off,
}

impl RuleSeverity {
    pub const ALL: [RuleSeverity; 3] = [
        RuleSeverity::Error,
        RuleSeverity::Warning,
        RuleSeverity::Off,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RuleSeverity::Error => "error",
            RuleSeverity::Warning => "warning",
            RuleSeverity::Off => "off",
        }
    }

    pub fn parse(text: &str) -> Option<RuleSeverity> {
        RuleSeverity::ALL
            .into_iter()
            .find(|severity| severity.name() == text.trim())
    }
}

/// The configurable part of the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    pub max_training_days: u32,
    pub tss_check: TssCheck,
    /// CTL points a week above which `ctl_ramp` warns. The default is the recreational limit,
    /// safe for every athlete; an experienced one may take `EXPERIENCED_CTL_RAMP`.
    pub max_ctl_ramp: f64,
    /// Severities set for plausibility rules; a rule not listed has its default.
    pub severities: BTreeMap<Rule, RuleSeverity>,
    /// Longest step, in seconds, that may go above `MAX_POWER_PCT` (up to `SPRINT_MAX_PCT`);
    /// 0 allows no step above it.
    pub sprint_max_s: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_training_days: 5,
            tss_check: TssCheck::Error,
            max_ctl_ramp: RECREATIONAL_CTL_RAMP,
            severities: BTreeMap::new(),
            sprint_max_s: SPRINT_MAX_S,
        }
    }
}

impl Rules {
    pub fn severity(&self, rule: Rule) -> RuleSeverity {
        self.severities
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_severity())
    }
}

// The plausibility limits (domain guide §1.5–1.9 and §6). TSS per hour is IF² × 100, so each
// phase's bounds are written as the intensity factors a week of that phase averages.

/// IF of a whole Foundation week: Z2's floor (all easy riding) to mostly tempo.
pub const FOUNDATION_IF: std::ops::RangeInclusive<f64> = 0.55..=0.85;
/// IF of a whole Build, Peak or Taper week: Z2's floor to nearly all threshold (the guide's
/// "implausible above 90 TSS/h").
pub const LOAD_IF: std::ops::RangeInclusive<f64> = 0.55..=0.95;
/// IF of a whole Recovery week: recovery spins (Z1) to no harder than endurance.
pub const RECOVERY_IF: std::ops::RangeInclusive<f64> = 0.45..=0.75;
/// A recovery week is at least this much below every load week of its block, in hours and TSS.
pub const RECOVERY_MIN_CUT: f64 = 0.30;
/// A recovery week keeps "a little intensity": at most this share of its time at threshold+.
pub const RECOVERY_MAX_THRESHOLD_SHARE: f64 = 0.20;
/// A taper's volume cut against the load weeks before it (Bosquet 2007: 41–60 %).
pub const TAPER_CUT: std::ops::RangeInclusive<f64> = 0.40..=0.60;
/// How many load weeks before a taper its volume is compared with.
pub const PRE_TAPER_WEEKS: usize = 3;
/// CTL ramp limits, points a week (Golden Cheetah's presets, Friel's 5–8).
pub const RECREATIONAL_CTL_RAMP: f64 = 5.0;
pub const EXPERIENCED_CTL_RAMP: f64 = 7.0;
/// A new rider's load rises more slowly (3-8 points a week by experience, domain guide §1.5).
pub const NEW_CTL_RAMP: f64 = 3.0;
/// Above this ramp `ctl_ramp` breaches its limit (the guide's error for amateurs).
pub const CTL_RAMP_LIMIT: f64 = 8.0;
/// ACWR above this warns (the top of Gabbett's 0.8–1.3 "sweet spot").
pub const ACWR_WARN: f64 = 1.3;
/// ACWR above this breaches the rule's limit, once CTL is at least `ACWR_MIN_CTL`.
pub const ACWR_LIMIT: f64 = 1.5;
/// Below this CTL a spike in the ratio is a small load: it only warns.
pub const ACWR_MIN_CTL: f64 = 30.0;
/// A hard session has at least this many minutes at threshold power or above.
pub const HARD_SESSION_MIN: f64 = 10.0;

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

/// The rules 3c is the first to see on the weeks as written: each week passed 3b against its
/// target, but the weeks together may still cross a load limit the targets kept (a week may
/// miss its target by up to the TSS tolerance).
const PLAN_ONLY_RULES: [Rule; 6] = [
    Rule::RecoveryWeek,
    Rule::TaperVolume,
    Rule::TaperIntensity,
    Rule::CtlRamp,
    Rule::Acwr,
    Rule::HardDaysBackToBack,
];

/// The violations of the whole plan at finalize: an error of a rule that spans weeks becomes a
/// warning in the plan file, because no step is left to repair it (the overview's targets
/// passed it in 3a), and failing the run would throw away every accepted week for it. Every
/// other error stays an error.
pub fn at_finalize(violations: Vec<Violation>) -> Vec<Violation> {
    violations
        .into_iter()
        .map(|violation| match violation.rule() {
            Some(rule)
                if violation.severity == Severity::Error && PLAN_ONLY_RULES.contains(&rule) =>
            {
                Violation {
                    severity: Severity::Warning,
                    message: format!(
                        "{} (an error for the overview; at finalize no step can repair it)",
                        violation.message
                    ),
                    ..violation
                }
            }
            _ => violation,
        })
        .collect()
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

    /// A plausibility rule broken: a breach of its limit has the rule's severity, a reading in
    /// its early-warning band is a warning; nothing when the rule is off. The message starts
    /// with the rule's name.
    fn rule(
        &mut self,
        rules: &Rules,
        rule: Rule,
        breach: Breach,
        path: impl Into<String>,
        message: impl fmt::Display,
    ) {
        let severity = match (rules.severity(rule), breach) {
            (RuleSeverity::Off, _) => return,
            (RuleSeverity::Warning, _) | (RuleSeverity::Error, Breach::Band) => Severity::Warning,
            (RuleSeverity::Error, Breach::Limit) => Severity::Error,
        };
        self.push(severity, path, format!("{rule}: {message}"));
    }
}

/// How far a reading is past a plausibility rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breach {
    /// Past the early-warning band only (ctl_ramp, acwr, recovery_week).
    Band,
    /// Past the rule's limit.
    Limit,
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
/// `event` is the plan's event day when the plan ends on it: its week trains only before it.
pub fn check_overview(
    overview: &PlanOverview,
    profile: &AthleteProfile,
    total_weeks: u32,
    event: Option<EventDay>,
    rules: &Rules,
) -> Vec<Violation> {
    let mut report = Report::new();
    overview_rules(&mut report, overview, profile, total_weeks, event, rules);
    if let Some(weeks) = weeks_in_order(overview, total_weeks) {
        let loads: Vec<Placed> = weeks
            .into_iter()
            .map(|(path, entry)| Placed {
                path,
                load: WeekLoad::planned(entry),
            })
            .collect();
        load_rules(
            &mut report,
            rules,
            &LoadContext::of(profile, rules, event),
            &loads,
        );
    }
    report
        .violations
        .extend(event::check_overview_event(overview, event));
    report.violations
}

/// What the load rules need beyond the weeks: where the athlete's load starts, how fast it may
/// rise, and the event day that cuts the last week short.
struct LoadContext {
    /// The athlete's CTL when the profile gives it; else week 1's implied CTL is used.
    current_ctl: Option<f64>,
    max_ctl_ramp: f64,
    event: Option<EventDay>,
    /// The athlete's available days (all seven when unknown).
    available_days: Vec<Weekday>,
}

impl LoadContext {
    fn of(profile: &AthleteProfile, rules: &Rules, event: Option<EventDay>) -> LoadContext {
        LoadContext {
            current_ctl: profile.current_ctl,
            max_ctl_ramp: max_ctl_ramp(rules, profile.experience),
            event,
            available_days: profile.available_days.clone(),
        }
    }

    /// Available days of `week` that can train: all of them, or those before the event in its
    /// week.
    fn training_days(&self, week: i64) -> f64 {
        let before = |day: &&Weekday| match self.event {
            Some(event) if i64::from(event.week) == week => **day < event.weekday,
            _ => true,
        };
        self.available_days.iter().filter(before).count() as f64
    }

    /// Available days in a whole week.
    fn week_days(&self) -> f64 {
        self.available_days.len() as f64
    }
}

/// The CTL ramp above which `ctl_ramp` warns for an athlete of this experience: the rules'
/// limit, raised to `EXPERIENCED_CTL_RAMP` for an experienced athlete and lowered to
/// `NEW_CTL_RAMP` for a new one.
pub fn max_ctl_ramp(rules: &Rules, experience: Option<Experience>) -> f64 {
    match experience {
        Some(Experience::Experienced) => rules.max_ctl_ramp.max(EXPERIENCED_CTL_RAMP),
        Some(Experience::New) => rules.max_ctl_ramp.min(NEW_CTL_RAMP),
        Some(Experience::Intermediate) | None => rules.max_ctl_ramp,
    }
}

/// The overview's entries in week order with their paths, when they are exactly weeks
/// 1..=`total_weeks`, each once (otherwise the plan has no load series; other rules say why).
fn weeks_in_order(
    overview: &PlanOverview,
    total_weeks: u32,
) -> Option<Vec<(String, &WeekOverview)>> {
    let mut entries: Vec<(String, &WeekOverview)> = overview
        .weekly_overview
        .iter()
        .enumerate()
        .map(|(index, entry)| (format!("weekly_overview[{index}]"), entry))
        .collect();
    entries.sort_by_key(|(_, entry)| entry.week_number);
    let in_order = entries.len() == total_weeks as usize
        && entries
            .iter()
            .zip(1..)
            .all(|((_, entry), number)| entry.week_number == number);
    in_order.then_some(entries)
}

/// One week's load and where the week sits in the arguments or the file.
struct Placed {
    path: String,
    load: WeekLoad,
}

/// The rules over the load of consecutive weeks, weeks 1..N in order: recovery weeks against
/// their block, the taper, the CTL ramp and the ACWR. 3a runs them on the overview's targets,
/// 3c on the workouts; they start from the CTL week 1 implies (`load::implied_start_ctl`).
fn load_rules(report: &mut Report, rules: &Rules, context: &LoadContext, weeks: &[Placed]) {
    let Some(first) = weeks.first() else {
        return;
    };
    recovery_week_rule(report, rules, weeks);
    taper_rules(report, rules, context, weeks);
    let loads: Vec<WeekLoad> = weeks.iter().map(|week| week.load).collect();
    let start_ctl = context
        .current_ctl
        .unwrap_or_else(|| load::implied_start_ctl(first.load.tss));
    let days = load::series(&loads, start_ctl);
    let ctl = load::weekly_ctl(&days);
    for (index, ramp) in load::weekly_ramps(&days, start_ctl).into_iter().enumerate() {
        let breach = if ramp > CTL_RAMP_LIMIT + 1e-9 {
            Breach::Limit
        } else if ramp > context.max_ctl_ramp + 1e-9 {
            Breach::Band
        } else {
            continue;
        };
        let before = if index == 0 {
            start_ctl
        } else {
            ctl[index - 1]
        };
        let week = &weeks[index];
        report.rule(
            rules,
            Rule::CtlRamp,
            breach,
            week.path.clone(),
            format_args!(
                "week {} ({}): CTL rises by {ramp:.2} points ({before:.1} to {:.1}) on {:.1} TSS; at most {:.1} a week (limit {CTL_RAMP_LIMIT:.1})",
                week.load.week_number, week.load.phase, ctl[index], week.load.tss, context.max_ctl_ramp
            ),
        );
    }
    for (index, acwr) in load::weekly_acwr(&loads, start_ctl).into_iter().enumerate() {
        let breach = if acwr > ACWR_LIMIT + 1e-9 && ctl[index] >= ACWR_MIN_CTL {
            Breach::Limit
        } else if acwr > ACWR_WARN + 1e-9 {
            Breach::Band
        } else {
            continue;
        };
        let week = &weeks[index];
        report.rule(
            rules,
            Rule::Acwr,
            breach,
            week.path.clone(),
            format_args!(
                "week {} ({}): acute:chronic load is {acwr:.3} ({:.1} TSS against a 4-week mean of {:.1} TSS, CTL {:.1}); at most {ACWR_WARN:.2} (limit {ACWR_LIMIT:.2} from CTL {ACWR_MIN_CTL:.0})",
                week.load.week_number,
                week.load.phase,
                week.load.tss,
                week.load.tss / acwr,
                ctl[index]
            ),
        );
    }
}

fn week_list(weeks: &[&Placed]) -> String {
    weeks
        .iter()
        .map(|week| week.load.week_number.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A recovery week is at least `RECOVERY_MIN_CUT` below every load week of its block (the
/// weeks since the previous recovery or taper week), in hours and in TSS: a breach when it is
/// not lighter than one of them at all, a warning when it is lighter by less.
fn recovery_week_rule(report: &mut Report, rules: &Rules, weeks: &[Placed]) {
    let mut block: Vec<&Placed> = Vec::new();
    for week in weeks {
        let load = &week.load;
        if load.phase == Phase::Recovery && !block.is_empty() {
            let keep = 1.0 - RECOVERY_MIN_CUT;
            let heavier: Vec<&Placed> = block
                .iter()
                .copied()
                .filter(|other| {
                    load.hours > other.load.hours * keep + 1e-9
                        || load.tss > other.load.tss * keep + 1e-9
                })
                .collect();
            if !heavier.is_empty() {
                // Not lighter at all than a load week is no recovery week (platypus45/domestique
                // #4); lighter by less than the cut is a weak one (the 30-70 % of §1.8 is a
                // coaching guideline), a warning.
                let not_lighter = heavier.iter().any(|other| {
                    load.hours >= other.load.hours - 1e-9 || load.tss >= other.load.tss - 1e-9
                });
                let breach = if not_lighter {
                    Breach::Limit
                } else {
                    Breach::Band
                };
                let max_hours = block
                    .iter()
                    .map(|w| w.load.hours)
                    .fold(f64::INFINITY, f64::min)
                    * keep;
                let max_tss = block
                    .iter()
                    .map(|w| w.load.tss)
                    .fold(f64::INFINITY, f64::min)
                    * keep;
                let detail = heavier
                    .iter()
                    .map(|other| {
                        format!(
                            "week {} has {:.2} h and {:.1} TSS",
                            other.load.week_number, other.load.hours, other.load.tss
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                report.rule(
                    rules,
                    Rule::RecoveryWeek,
                    breach,
                    week.path.clone(),
                    format_args!(
                        "week {} (Recovery) has {:.2} h and {:.1} TSS; a recovery week is at least {} below every load week of its block (weeks {}) in hours and TSS: at most {max_hours:.2} h and {max_tss:.1} TSS ({detail})",
                        load.week_number,
                        load.hours,
                        load.tss,
                        pct(RECOVERY_MIN_CUT),
                        week_list(&block)
                    ),
                );
            }
        }
        if load.phase.is_unloading() {
            block.clear();
        } else {
            block.push(week);
        }
    }
}

/// A taper (a run of Taper weeks) cuts volume by `TAPER_CUT` against the last
/// `PRE_TAPER_WEEKS` load weeks before it, and keeps some time at threshold or above.
fn taper_rules(report: &mut Report, rules: &Rules, context: &LoadContext, weeks: &[Placed]) {
    let mut index = 0;
    while index < weeks.len() {
        if weeks[index].load.phase != Phase::Taper {
            index += 1;
            continue;
        }
        let start = index;
        while index < weeks.len() && weeks[index].load.phase == Phase::Taper {
            index += 1;
        }
        let taper: Vec<&Placed> = weeks[start..index].iter().collect();
        let before: Vec<&Placed> = weeks[..start]
            .iter()
            .rev()
            .filter(|week| !week.load.phase.is_unloading())
            .take(PRE_TAPER_WEEKS)
            .collect();
        let mean_hours = |weeks: &[&Placed]| {
            weeks.iter().map(|week| week.load.hours).sum::<f64>() / weeks.len() as f64
        };
        // The taper's volume per week of the athlete's riding days: a race week trains only on
        // the days before its event, so it is weighed by those.
        let taper_days: f64 = taper
            .iter()
            .map(|week| context.training_days(week.load.week_number))
            .sum();
        let taper_week_hours = |weeks: &[&Placed]| {
            if taper_days > 0.0 {
                weeks.iter().map(|week| week.load.hours).sum::<f64>() / taper_days
                    * context.week_days()
            } else {
                0.0
            }
        };
        let span = match (taper.first(), taper.last()) {
            (Some(first), Some(last)) if taper.len() > 1 => {
                format!("weeks {}-{}", first.load.week_number, last.load.week_number)
            }
            _ => format!("week {}", taper[0].load.week_number),
        };
        if !before.is_empty() && taper_days > 0.0 {
            let (taper_hours, load_hours) = (taper_week_hours(&taper), mean_hours(&before));
            let cut = 1.0 - taper_hours / load_hours;
            if load_hours > 0.0 && (cut < TAPER_CUT.start() - 1e-9 || cut > TAPER_CUT.end() + 1e-9)
            {
                let mut sorted = before.clone();
                sorted.reverse();
                report.rule(
                    rules,
                    Rule::TaperVolume,
                    Breach::Limit,
                    taper[0].path.clone(),
                    format_args!(
                        "{span} (Taper): {taper_hours:.2} h a week, {} below the {load_hours:.2} h a week of load weeks {}; a taper cuts volume by {}-{} ({:.2}-{:.2} h a week)",
                        pct(cut),
                        week_list(&sorted),
                        pct(*TAPER_CUT.start()),
                        pct(*TAPER_CUT.end()),
                        load_hours * (1.0 - TAPER_CUT.end()),
                        load_hours * (1.0 - TAPER_CUT.start())
                    ),
                );
            }
        }
        let threshold: Option<f64> = taper.iter().map(|week| week.load.threshold_minutes).sum();
        // A taper with no riding at all (a race week with no day before its event) has no
        // intensity to keep.
        let rides = taper.iter().any(|week| week.load.hours > 0.0);
        if rides && threshold.is_some_and(|minutes| minutes <= 0.0) {
            report.rule(
                rules,
                Rule::TaperIntensity,
                Breach::Limit,
                taper[0].path.clone(),
                format_args!(
                    "{span} (Taper): no time at or above {:.0}% FTP; a taper cuts volume, not intensity: keep short threshold or VO2max efforts",
                    load::THRESHOLD_PCT
                ),
            );
        }
    }
}

fn overview_rules(
    report: &mut Report,
    overview: &PlanOverview,
    profile: &AthleteProfile,
    total_weeks: u32,
    event: Option<EventDay>,
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
        let event_week = event.is_some_and(|day| i64::from(day.week) == entry.week_number);
        entry_rules(report, &path, entry, profile, event_week, rules);
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

/// `event_week`: the week ends on the event, so it may have no training day before it.
fn entry_rules(
    report: &mut Report,
    path: &str,
    entry: &WeekOverview,
    profile: &AthleteProfile,
    event_week: bool,
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
    // A week that ends on an event early in the week may have no day to train before it.
    let rests_for_event = event_week && days.is_empty() && entry.total_hours == 0.0;
    if days.is_empty() && !rests_for_event {
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
    if rests_for_event {
        // Nothing to ride, nothing to fit.
    } else if !entry.total_hours.is_finite() || entry.total_hours <= 0.0 {
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
    } else {
        tss_per_hour_rule(
            report,
            rules,
            format!("{path}.target_tss"),
            week,
            entry.phase,
            entry.target_tss,
            entry.total_hours,
            "target_tss",
        );
    }
}

/// The TSS per hour a week of `phase` may average: IF² × 100 over the phase's IF range.
pub fn tss_per_hour_bounds(phase: Phase) -> (f64, f64) {
    let range = match phase {
        Phase::Foundation => FOUNDATION_IF,
        Phase::Build | Phase::Peak | Phase::Taper => LOAD_IF,
        Phase::Recovery => RECOVERY_IF,
    };
    let tss_per_hour = |intensity: f64| intensity * intensity * 100.0;
    (tss_per_hour(*range.start()), tss_per_hour(*range.end()))
}

#[allow(clippy::too_many_arguments)]
fn tss_per_hour_rule(
    report: &mut Report,
    rules: &Rules,
    path: String,
    week: i64,
    phase: Phase,
    tss: f64,
    hours: f64,
    what: &str,
) {
    if !(hours.is_finite() && hours > 0.0) {
        return;
    }
    let rate = tss / hours;
    let (low, high) = tss_per_hour_bounds(phase);
    if rate < low - 1e-9 || rate > high + 1e-9 {
        report.rule(
            rules,
            Rule::TssPerHour,
            Breach::Limit,
            path,
            format_args!(
                "week {week} ({phase}): {what} {tss:.1} TSS over {hours:.2} h is {rate:.1} TSS/h, outside {low:.1}-{high:.1} TSS/h for a {phase} week (an average IF of {:.2}; {phase} weeks average {:.2}-{:.2})",
                (rate / 100.0).sqrt(),
                (low / 100.0).sqrt(),
                (high / 100.0).sqrt()
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
    event: Option<EventDay>,
    rules: &Rules,
) -> Vec<Violation> {
    let mut report = Report::new();
    week_rules(&mut report, "", week, requested_week, entry, profile, rules);
    report
        .violations
        .extend(event::check_week_event(week, requested_week, event));
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
    week_plausibility_rules(report, prefix, week, n, entry, rules);
}

/// The plausibility rules one week's workouts can be judged by alone (3b).
fn week_plausibility_rules(
    report: &mut Report,
    prefix: &str,
    week: &WeekDetails,
    n: u32,
    entry: &WeekOverview,
    rules: &Rules,
) {
    let workouts_path = format!("{prefix}workouts");
    tss_per_hour_rule(
        report,
        rules,
        workouts_path.clone(),
        i64::from(n),
        entry.phase,
        week.tss(),
        week.hours(),
        "workouts total",
    );
    let load = WeekLoad::detailed(entry, week);
    if entry.phase == Phase::Recovery {
        let minutes = week.minutes();
        let threshold = load.threshold_minutes.unwrap_or(0.0);
        if minutes > 0.0 && threshold / minutes > RECOVERY_MAX_THRESHOLD_SHARE + 1e-9 {
            report.rule(
                rules,
                Rule::RecoveryIntensity,
                Breach::Limit,
                workouts_path.clone(),
                format_args!(
                    "week {n} (Recovery): {threshold:.0} of its {minutes:.0} min ({}) are at or above {:.0}% FTP; a recovery week keeps at most {} of its time there",
                    pct(threshold / minutes),
                    load::THRESHOLD_PCT,
                    pct(RECOVERY_MAX_THRESHOLD_SHARE)
                ),
            );
        }
    }
    for (index, workout) in week.workouts.iter().enumerate() {
        session_rules(
            report,
            rules,
            &format!("{prefix}workouts[{index}].segments"),
            n,
            workout,
        );
    }
    let hard = hard_minutes_by_day(week);
    for pair in Weekday::ALL.windows(2) {
        if let (Some(first), Some(second)) = (hard[pair[0].index()], hard[pair[1].index()]) {
            hard_days_rule(
                report,
                rules,
                workouts_path.clone(),
                (i64::from(n), pair[0], first),
                (i64::from(n), pair[1], second),
            );
        }
    }
}

/// The rules of one session's shape: a structured session (any time at threshold or above)
/// is warmed up and cooled down, and a cool-down comes down from what precedes it.
fn session_rules(report: &mut Report, rules: &Rules, path: &str, n: u32, workout: &Workout) {
    let steps: Vec<load::Step> = load::steps(workout).collect();
    let day = workout.weekday;
    let threshold = load::minutes_at_threshold(workout);
    if threshold > 0.0 {
        let missing: Vec<&str> = [
            (steps.first(), SegmentKind::Warmup, "a warm-up first"),
            (steps.last(), SegmentKind::Cooldown, "a cool-down last"),
        ]
        .into_iter()
        .filter(|(step, kind, _)| step.is_none_or(|step| step.kind != *kind))
        .map(|(.., what)| what)
        .collect();
        if !missing.is_empty() {
            report.rule(
                rules,
                Rule::WarmupCooldown,
                Breach::Limit,
                path,
                format_args!(
                    "week {n} {day}: a session with {threshold:.0} min at or above {:.0}% FTP needs {}",
                    load::THRESHOLD_PCT,
                    missing.join(" and ")
                ),
            );
        }
    }
    for pair in steps.windows(2) {
        let (before, cooldown) = (pair[0], pair[1]);
        // A cool-down may span the band of the easy segment before it (50-60 % after a 50-55 %
        // recovery), but not sit wholly above it (70-75 % after the last recovery of a set).
        if cooldown.kind == SegmentKind::Cooldown && cooldown.low_pct > before.high_pct + 1e-9 {
            report.rule(
                rules,
                Rule::CooldownAbovePrevious,
                Breach::Limit,
                path,
                format_args!(
                    "week {n} {day}: the cool-down at {:.0}-{:.0}% FTP lies above the {:.0}-{:.0}% FTP of the {} segment before it; a cool-down comes down from the effort before it",
                    cooldown.low_pct, cooldown.high_pct, before.low_pct, before.high_pct, before.kind
                ),
            );
        }
    }
}

/// Minutes at threshold or above of each day (Monday first) that holds a hard session.
fn hard_minutes_by_day(week: &WeekDetails) -> [Option<f64>; 7] {
    let mut by_day = [None; 7];
    for workout in &week.workouts {
        let minutes = load::minutes_at_threshold(workout);
        if minutes >= HARD_SESSION_MIN - 1e-9 {
            let day: &mut Option<f64> = &mut by_day[workout.weekday.index()];
            *day = Some(day.unwrap_or(0.0) + minutes);
        }
    }
    by_day
}

/// Two consecutive calendar days, each (week, day, minutes at threshold+), both hard.
fn hard_days_rule(
    report: &mut Report,
    rules: &Rules,
    path: String,
    first: (i64, Weekday, f64),
    second: (i64, Weekday, f64),
) {
    let second_week = if second.0 == first.0 {
        String::new()
    } else {
        format!("week {} ", second.0)
    };
    report.rule(
        rules,
        Rule::HardDaysBackToBack,
        Breach::Limit,
        path,
        format_args!(
            "week {} {} and {second_week}{} are both hard ({:.0} and {:.0} min at or above {:.0}% FTP; a hard session has {HARD_SESSION_MIN:.0} min or more); put an easy or rest day between hard days",
            first.0,
            first.1,
            second.1,
            first.2,
            second.2,
            load::THRESHOLD_PCT
        ),
    );
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
    event: Option<EventDay>,
    rules: &Rules,
) -> Vec<Violation> {
    let mut report = Report::new();
    overview_rules(&mut report, overview, profile, total_weeks, event, rules);
    report
        .violations
        .extend(event::check_plan_event(overview, weeks, event));

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
    if let Some(entries) = weeks_in_order(overview, total_weeks) {
        let detailed = |entry: &WeekOverview| {
            weeks
                .iter()
                .find(|week| week.week_number == entry.week_number)
        };
        let loads: Vec<Placed> = entries
            .iter()
            .map(|(path, entry)| Placed {
                path: path.clone(),
                load: detailed(entry).map_or_else(
                    || WeekLoad::planned(entry),
                    |week| WeekLoad::detailed(entry, week),
                ),
            })
            .collect();
        load_rules(
            &mut report,
            rules,
            &LoadContext::of(profile, rules, event),
            &loads,
        );
        // Within a week, hard days were judged with the week; here the Sunday→Monday seams.
        for pair in entries.windows(2) {
            let (Some(sunday), Some(monday)) = (detailed(pair[0].1), detailed(pair[1].1)) else {
                continue;
            };
            let sunday_hard = hard_minutes_by_day(sunday)[Weekday::Sunday.index()];
            let monday_hard = hard_minutes_by_day(monday)[Weekday::Monday.index()];
            if let (Some(first), Some(second)) = (sunday_hard, monday_hard) {
                hard_days_rule(
                    &mut report,
                    rules,
                    pair[1].0.clone(),
                    (pair[0].1.week_number, Weekday::Sunday, first),
                    (pair[1].1.week_number, Weekday::Monday, second),
                );
            }
        }
    }
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
        let mut overview = coach::create_plan_overview(&profile, 6, None, &rules);
        assert!(errors(&check_overview(&overview, &profile, 6, None, &rules)).is_empty());
        overview.weekly_overview[3].weekly_focus = "é".repeat(12_000);
        overview.coaching_notes = "x".repeat(MAX_NOTES_CHARS + 1);
        // Characters, not bytes: exactly the limit in two-byte characters passes.
        overview.weekly_overview[0].phase_rationale = "é".repeat(MAX_TEXT_CHARS);
        assert_eq!(
            errors(&check_overview(&overview, &profile, 6, None, &rules)),
            [
                "error: coaching_notes: is 8001 characters; at most 8000",
                "error: weekly_overview[3].weekly_focus: is 12000 characters; at most 2000",
            ]
        );
    }

    #[test]
    fn overlong_workout_text_is_an_error_naming_the_field_and_the_limit() {
        let (profile, rules) = (profile(), Rules::default());
        let overview = coach::create_plan_overview(&profile, 4, None, &rules);
        let mut week = coach::add_week_details(&profile, &overview, 2, None, &rules);
        let entry = overview.week(2).expect("week 2");
        week.workouts[1].name = "n".repeat(MAX_NAME_CHARS + 5);
        week.workouts[0].detailed_description = Some("d".repeat(MAX_NOTES_CHARS + 1));
        week.workouts[0].segments[0].description = "s".repeat(MAX_SEGMENT_TEXT_CHARS + 1);
        assert_eq!(
            errors(&check_week(&week, 2, entry, &profile, None, &rules)),
            [
                "error: workouts[0].detailed_description: is 8001 characters; at most 8000",
                "error: workouts[0].segments[0].description: is 1001 characters; at most 1000",
                "error: workouts[1].name: is 205 characters; at most 200",
            ]
        );
    }

    /// One week for the load rules: `tss` spread evenly over its seven days.
    fn placed(
        week_number: i64,
        phase: Phase,
        hours: f64,
        tss: f64,
        threshold: Option<f64>,
    ) -> Placed {
        Placed {
            path: format!("weekly_overview[{}]", week_number - 1),
            load: WeekLoad {
                week_number,
                phase,
                hours,
                tss,
                daily_tss: [tss / 7.0; 7],
                threshold_minutes: threshold,
            },
        }
    }

    fn load_violations(weeks: &[Placed], rules: &Rules) -> Vec<String> {
        let mut report = Report::new();
        let context = LoadContext {
            current_ctl: None,
            max_ctl_ramp: rules.max_ctl_ramp,
            event: None,
            available_days: Weekday::ALL.to_vec(),
        };
        load_rules(&mut report, rules, &context, weeks);
        report.violations.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn ctl_ramp_warns_above_the_rules_limit_and_breaches_above_its_own() {
        // From CTL 50 (350 TSS a week), weekly TSS ≈ 7 × (CTL + 6 r) for r ≈ 6 and r ≈ 10.
        let plan = |second_week_tss| {
            vec![
                placed(1, Phase::Build, 8.0, 350.0, None),
                placed(2, Phase::Build, 8.0, second_week_tss, None),
            ]
        };
        let rules = Rules {
            severities: BTreeMap::from([
                (Rule::CtlRamp, RuleSeverity::Error),
                (Rule::Acwr, RuleSeverity::Off),
            ]),
            ..Rules::default()
        };
        let found = load_violations(&plan(602.0), &rules);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "warning: weekly_overview[1]: ctl_ramp: week 2 (Build): CTL rises by 5.59 points (50.0 to 55.6) on 602.0 TSS"
            ),
            "{found:?}"
        );
        assert!(
            found[0].contains("at most 5.0 a week (limit 8.0)"),
            "{found:?}"
        );
        // An experienced athlete's limit.
        let experienced = Rules {
            max_ctl_ramp: EXPERIENCED_CTL_RAMP,
            ..rules.clone()
        };
        assert!(load_violations(&plan(602.0), &experienced).is_empty());
        let found = load_violations(&plan(770.0), &rules);
        assert!(
            found[0].starts_with("error: weekly_overview[1]: ctl_ramp: week 2"),
            "{found:?}"
        );
        // By default a ramp past the limit is a warning: the rules cannot tell an elite yet.
        let found = load_violations(
            &plan(770.0),
            &Rules {
                severities: BTreeMap::from([(Rule::Acwr, RuleSeverity::Off)]),
                ..Rules::default()
            },
        );
        assert!(
            found[0].starts_with("warning: weekly_overview[1]: ctl_ramp"),
            "{found:?}"
        );
    }

    #[test]
    fn acwr_breaches_above_1_5_from_ctl_30_and_only_warns_below_it() {
        let plan = |scale: f64| {
            let mut weeks: Vec<Placed> = (1..=4)
                .map(|week| placed(week, Phase::Build, 8.0, 350.0 * scale, None))
                .collect();
            weeks.push(placed(5, Phase::Build, 12.0, 700.0 * scale, None));
            weeks
        };
        let rules = Rules {
            severities: BTreeMap::from([(Rule::CtlRamp, RuleSeverity::Off)]),
            ..Rules::default()
        };
        // 700 over the 4-week mean (350 × 3 + 700) / 4 = 437.5 is 1.60.
        let found = load_violations(&plan(1.0), &rules);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("error: weekly_overview[4]: acwr: week 5 (Build): acute:chronic load is 1.600 (700.0 TSS against a 4-week mean of 437.5 TSS"),
            "{found:?}"
        );
        let found = load_violations(&plan(0.2), &rules);
        assert!(
            found[0].starts_with("warning: weekly_overview[4]: acwr: week 5"),
            "{found:?}"
        );
    }

    #[test]
    fn a_taper_cuts_volume_by_40_to_60_percent_and_keeps_some_intensity() {
        let plan = |taper_hours: f64, threshold: f64| {
            vec![
                placed(1, Phase::Build, 10.0, 500.0, Some(60.0)),
                placed(2, Phase::Recovery, 5.0, 220.0, Some(0.0)),
                placed(3, Phase::Build, 10.0, 500.0, Some(60.0)),
                placed(4, Phase::Peak, 10.0, 500.0, Some(60.0)),
                placed(
                    5,
                    Phase::Taper,
                    taper_hours,
                    taper_hours * 45.0,
                    Some(threshold),
                ),
                placed(6, Phase::Taper, taper_hours, taper_hours * 45.0, Some(0.0)),
            ]
        };
        let rules = Rules {
            severities: BTreeMap::from([
                (Rule::CtlRamp, RuleSeverity::Off),
                (Rule::Acwr, RuleSeverity::Off),
            ]),
            ..Rules::default()
        };
        assert!(load_violations(&plan(5.0, 12.0), &rules).is_empty());
        assert_eq!(
            load_violations(&plan(8.0, 0.0), &rules),
            [
                "warning: weekly_overview[4]: taper_volume: weeks 5-6 (Taper): 8.00 h a week, 20.0% below the 10.00 h a week of load weeks 1, 3, 4; a taper cuts volume by 40.0%-60.0% (4.00-6.00 h a week)",
                "warning: weekly_overview[4]: taper_intensity: weeks 5-6 (Taper): no time at or above 91% FTP; a taper cuts volume, not intensity: keep short threshold or VO2max efforts",
            ]
        );
        // In 3a only the volume is known.
        let mut planned = plan(5.0, 0.0);
        planned
            .iter_mut()
            .for_each(|week| week.load.threshold_minutes = None);
        assert!(load_violations(&planned, &rules).is_empty());
    }

    #[test]
    fn a_recovery_week_target_is_judged_against_its_block_in_3a() {
        let (profile, rules) = (profile(), Rules::default());
        let mut overview = coach::create_plan_overview(&profile, 8, None, &rules);
        let recovery = overview
            .weekly_overview
            .iter()
            .position(|entry| entry.phase == Phase::Recovery)
            .expect("an 8-week plan has a recovery week");
        let lightest = overview.weekly_overview[..recovery]
            .iter()
            .map(|entry| (entry.total_hours, entry.target_tss))
            .fold((f64::INFINITY, f64::INFINITY), |a, b| {
                (a.0.min(b.0), a.1.min(b.1))
            });
        let rule_of = |violations: &[Violation]| -> Vec<(Severity, Option<Rule>)> {
            violations
                .iter()
                .filter(|v| v.rule() == Some(Rule::RecoveryWeek))
                .map(|v| (v.severity, v.rule()))
                .collect()
        };
        assert!(rule_of(&check_overview(&overview, &profile, 8, None, &rules)).is_empty());
        // 20 % lighter than the lightest load week: a weak recovery week, a warning.
        let entry = &mut overview.weekly_overview[recovery];
        (entry.total_hours, entry.target_tss) = (lightest.0 * 0.8, lightest.1 * 0.8);
        assert_eq!(
            rule_of(&check_overview(&overview, &profile, 8, None, &rules)),
            [(Severity::Warning, Some(Rule::RecoveryWeek))]
        );
        // As much TSS as a load week: no recovery week at all, an error.
        overview.weekly_overview[recovery].target_tss = lightest.1;
        assert_eq!(
            rule_of(&check_overview(&overview, &profile, 8, None, &rules)),
            [(Severity::Error, Some(Rule::RecoveryWeek))]
        );
    }

    #[test]
    fn structured_sessions_are_warmed_up_and_cooled_down_from_below() {
        let (profile, rules) = (profile(), Rules::default());
        let overview = coach::create_plan_overview(&profile, 8, None, &rules);
        let (number, entry) = overview
            .weekly_overview
            .iter()
            .find(|entry| entry.phase == Phase::Build)
            .map(|entry| (u32::try_from(entry.week_number).unwrap(), entry))
            .expect("a build week");
        let mut week = coach::add_week_details(&profile, &overview, number, None, &rules);
        let index = week
            .workouts
            .iter()
            .position(|workout| load::minutes_at_threshold(workout) > 0.0)
            .expect("a build week has a threshold session");
        let plausibility = |week: &WeekDetails| -> Vec<String> {
            check_week(week, number, entry, &profile, None, &rules)
                .into_iter()
                .filter(|v| {
                    matches!(
                        v.rule(),
                        Some(Rule::WarmupCooldown | Rule::CooldownAbovePrevious)
                    )
                })
                .map(|v| v.to_string())
                .collect()
        };
        assert!(plausibility(&week).is_empty());
        let workout = &mut week.workouts[index];
        let day = workout.weekday;
        workout.segments.remove(0);
        let last = workout.segments.len() - 1;
        let before = workout.segments[last - 1].power_high();
        workout.segments[last].power_low_pct = before + 5.0;
        workout.segments[last].power_high_pct = Some(before + 10.0);
        let found = plausibility(&week);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with(&format!("warning: workouts[{index}].segments: warmup_cooldown: week {number} {day}: a session with "))
                && found[0].ends_with("needs a warm-up first"),
            "{found:?}"
        );
        assert!(
            found[1].starts_with(&format!("error: workouts[{index}].segments: cooldown_above_previous: week {number} {day}: the cool-down at {:.0}-{:.0}% FTP lies above", before + 5.0, before + 10.0)),
            "{found:?}"
        );
    }

    #[test]
    fn hard_days_back_to_back_count_across_the_sunday_to_monday_seam() {
        let profile = parse_profile(
            r#"{"ftp_w":240,"weekly_hours":8,"available_days":["Monday","Wednesday","Friday","Sunday"]}"#,
        )
        .expect("the test profile is valid");
        let rules = Rules::default();
        let overview = coach::create_plan_overview(&profile, 3, None, &rules);
        let mut weeks: Vec<WeekDetails> = (1..=3)
            .map(|week| coach::add_week_details(&profile, &overview, week, None, &rules))
            .collect();
        let seam = |weeks: &[WeekDetails]| -> Vec<String> {
            check_plan(&overview, weeks, &profile, 3, None, &rules)
                .into_iter()
                .filter(|v| v.rule() == Some(Rule::HardDaysBackToBack))
                .map(|v| v.to_string())
                .collect()
        };
        let hard = crate::domain::plan::Segment {
            kind: SegmentKind::Work,
            duration_min: 12.0,
            power_low_pct: 95.0,
            power_high_pct: Some(100.0),
            description: String::new(),
            repeat: None,
        };
        for (week, day) in [(0, Weekday::Sunday), (1, Weekday::Monday)] {
            let workout = weeks[week]
                .workouts
                .iter_mut()
                .find(|workout| workout.weekday == day)
                .expect("a ride on the day");
            let keep_cooldown = workout.segments.len() - 1;
            workout.segments.insert(keep_cooldown, hard.clone());
        }
        let found = seam(&weeks);
        assert!(
            found.iter().any(|v| v.starts_with("warning: weekly_overview[1]: hard_days_back_to_back: week 1 Sunday and week 2 Monday are both hard")),
            "{found:?}"
        );
    }

    fn segments(value: serde_json::Value) -> Vec<Segment> {
        serde_json::from_value(value).expect("well-formed segments")
    }

    /// The violations of week 2 with `segments` as its first workout, under that workout.
    fn segment_findings(segments: Vec<Segment>, rules: &Rules) -> Vec<String> {
        let profile = profile();
        let overview = coach::create_plan_overview(&profile, 4, None, rules);
        let mut week = coach::add_week_details(&profile, &overview, 2, None, rules);
        week.workouts[0].segments = segments;
        let entry = overview.week(2).expect("week 2");
        check_week(&week, 2, entry, &profile, None, rules)
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
    fn a_rule_set_off_reports_nothing_and_a_warning_rule_never_blocks() {
        let (profile, rules) = (profile(), Rules::default());
        let mut overview = coach::create_plan_overview(&profile, 4, None, &rules);
        overview.weekly_overview[0].target_tss = overview.weekly_overview[0].total_hours * 7.0;
        let found = check_overview(&overview, &profile, 4, None, &rules);
        let tss_per_hour: Vec<&Violation> = found
            .iter()
            .filter(|v| v.rule() == Some(Rule::TssPerHour))
            .collect();
        assert_eq!(tss_per_hour.len(), 1, "{found:?}");
        assert!(has_errors(&found));
        assert!(tss_per_hour[0].message.contains("7.0 TSS/h"), "{found:?}");
        for (severity, errors) in [(RuleSeverity::Warning, false), (RuleSeverity::Off, false)] {
            let rules = Rules {
                severities: BTreeMap::from([(Rule::TssPerHour, severity)]),
                ..Rules::default()
            };
            let found = check_overview(&overview, &profile, 4, None, &rules);
            assert_eq!(
                found.iter().any(|v| v.rule() == Some(Rule::TssPerHour)),
                severity != RuleSeverity::Off
            );
            assert_eq!(
                found
                    .iter()
                    .any(|v| v.rule() == Some(Rule::TssPerHour) && v.severity == Severity::Error),
                errors
            );
        }
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

    #[test]
    fn at_finalize_keeps_a_cross_week_load_error_as_a_warning_and_every_other_error() {
        let violation = |severity, path: &str, message: &str| Violation {
            severity,
            path: path.into(),
            message: message.into(),
        };
        let found = at_finalize(vec![
            violation(
                Severity::Error,
                "weekly_overview[4]",
                "acwr: week 5 (Build): acute:chronic load is 1.600",
            ),
            violation(
                Severity::Error,
                "weekly_plan[1].workouts[0]",
                "tss_per_hour: week 2 (Build): 7.0 TSS/h",
            ),
            violation(Severity::Error, "weekly_plan", "weeks without details: 3"),
        ]);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0]
            .message
            .starts_with("acwr: week 5 (Build): acute:chronic load is 1.600 (an error"));
        assert_eq!(found[0].rule(), Some(Rule::Acwr));
        assert_eq!(found[1].severity, Severity::Error);
        assert_eq!(found[2].severity, Severity::Error);
    }
}
