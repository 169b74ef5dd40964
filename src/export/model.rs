//! The export model, pure: a finished plan as the apps that ride it need it (profile summary,
//! start date, event, dated workouts whose repeats stay repeats, provenance) and as the reports
//! show it (the whole profile, the overview with each week's targets, the coaching notes, the
//! findings of the plan checks), read from a plan file's text and free of every workflow type.
//! Each format module writes from it alone.

use chrono::NaiveDate;
use serde_json::Value;

use crate::domain::event::{self, EventKind};
use crate::domain::plan::{self, PlanOverview, Segment, WeekOverview, MAX_SETS};
use crate::domain::profile::AthleteProfile;
use crate::domain::validate::{Rule, Rules, Severity, Violation};
use crate::domain::{zones, Phase, SegmentKind, Weekday};
use crate::planfile;

/// A plan ready to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPlan {
    pub profile: ProfileSummary,
    /// The plan's first Monday.
    pub start_date: NaiveDate,
    /// The event the plan ends on, when it has one in its last week.
    pub event: Option<PlanEvent>,
    pub weeks: Vec<ExportWeek>,
    /// Who made the plan: our plan files' `run` section; `None` for the seed's files.
    pub provenance: Option<Provenance>,
    /// The whole athlete profile as the plan file gives it; `profile` is its summary.
    pub athlete: AthleteProfile,
    /// `athlete_profile.gender`, which the profile itself does not hold, trimmed; `None` when
    /// absent or empty.
    pub gender: Option<String>,
    /// The plan's overview: its weeks and target FTP, the coaching notes, the monitoring
    /// guidance, and each week's phase, focus and targets (hours, TSS, days), week by week.
    pub overview: PlanOverview,
    /// What made the plan in words: the file's `plan_metadata.plan_type`, or one said from the
    /// provenance when the file has none.
    pub plan_type: String,
    /// When the plan was made, as its `plan_metadata.generated_at` says (RFC 3339, UTC), when
    /// it says so readably: the plan's own date, never the clock of an export.
    pub generated_at: Option<String>,
    /// What the plan checks of `periodize validate` (default rules) find in the plan, in their
    /// order: the reports show them beside the plan.
    pub findings: Vec<Finding>,
}

/// A step of the given shape: for the format modules' unit tests.
#[cfg(test)]
pub(crate) fn test_step(
    kind: SegmentKind,
    duration_s: u32,
    low: f64,
    high: f64,
    text: &str,
) -> Step {
    Step {
        kind,
        duration_s,
        low_pct: low,
        high_pct: high,
        description: text.to_string(),
    }
}

#[cfg(test)]
impl ExportPlan {
    /// A plan of `name` at `ftp_w` from `start_date` with the given weeks and nothing else: for
    /// the format modules' unit tests.
    pub(crate) fn for_tests(
        name: &str,
        ftp_w: f64,
        start_date: NaiveDate,
        weeks: Vec<ExportWeek>,
    ) -> ExportPlan {
        let profile = crate::domain::profile::parse_profile(&format!(
            r#"{{"name":{},"ftp_w":{ftp_w},"weekly_hours":4,"available_days":["Tuesday","Saturday"]}}"#,
            serde_json::Value::from(name)
        ))
        .expect("a valid test profile");
        ExportPlan {
            profile: ProfileSummary {
                name: name.to_string(),
                ftp_w,
            },
            start_date,
            event: None,
            provenance: None,
            athlete: profile,
            gender: None,
            overview: PlanOverview {
                total_weeks: i64::try_from(weeks.len()).unwrap_or(0),
                target_ftp: ftp_w,
                coaching_notes: String::new(),
                monitoring_guidance: String::new(),
                weekly_overview: Vec::new(),
            },
            weeks,
            plan_type: "periodize plan".to_string(),
            generated_at: None,
            findings: Vec::new(),
        }
    }
}

impl ExportPlan {
    /// The plan's length in weeks, as its overview counts them.
    pub fn total_weeks(&self) -> u32 {
        u32::try_from(self.overview.total_weeks).unwrap_or(0)
    }

    /// The plan's last day: the event day when the plan ends on its event, else the Sunday of
    /// its last week (the start when that lies past the calendar's end).
    pub fn end_date(&self) -> NaiveDate {
        self.event.map_or_else(
            || {
                planfile::plan_end_date(self.start_date, self.total_weeks())
                    .unwrap_or(self.start_date)
            },
            |event| event.date,
        )
    }

    /// The overview entry of a week: its phase, focus and targets.
    pub fn week_targets(&self, week_number: u32) -> Option<&WeekOverview> {
        self.overview.week(week_number)
    }
}

/// One finding of the plan checks: a broken rule (an error) or a warning.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    /// The plausibility rule broken, or `None` for a structural rule.
    pub rule: Option<Rule>,
    /// The week it is about, when it is about one week.
    pub week: Option<u32>,
    /// What is wrong, with its numbers (without the rule's name, which `rule` holds).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSummary {
    pub name: String,
    pub ftp_w: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanEvent {
    pub date: NaiveDate,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub run_id: String,
    pub provider: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportWeek {
    pub week_number: u32,
    pub phase: Phase,
    /// In date order.
    pub workouts: Vec<DatedWorkout>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatedWorkout {
    pub date: NaiveDate,
    pub weekday: Weekday,
    pub name: String,
    pub description: String,
    pub detailed_description: Option<String>,
    pub blocks: Vec<Block>,
}

impl DatedWorkout {
    /// Every step as ridden, repeats expanded.
    pub fn steps(&self) -> impl Iterator<Item = &Step> + '_ {
        self.blocks.iter().flat_map(Block::steps)
    }

    /// Riding time in seconds, repeats expanded.
    pub fn duration_s(&self) -> u64 {
        self.steps().map(|step| u64::from(step.duration_s)).sum()
    }

    /// Training stress of the workout as exported (whole-second steps), unrounded.
    pub fn tss(&self) -> f64 {
        self.steps().map(Step::tss).sum()
    }

    /// The highest Coggan zone a step rides in, each step at its midpoint as the load model
    /// counts time in zones; zone 1 for a workout with no step.
    pub fn top_zone(&self) -> u8 {
        self.steps()
            .map(|step| zones::zone_of(step.mid_pct()))
            .max()
            .unwrap_or(1)
    }
}

/// One part of a workout: a step, or a repeat kept as a repeat.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Step(Step),
    Repeat(Repeat),
}

impl Block {
    pub fn steps(&self) -> Box<dyn Iterator<Item = &Step> + '_> {
        match self {
            Block::Step(step) => Box::new(std::iter::once(step)),
            Block::Repeat(repeat) => Box::new(
                (0..repeat.sets)
                    .flat_map(move |_| std::iter::once(&repeat.work).chain(&repeat.recovery)),
            ),
        }
    }
}

/// `sets` × (`work`, then `recovery`), at least one set.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub sets: u32,
    pub work: Step,
    pub recovery: Option<Step>,
    /// What the block is, as its writer described it (the first set's words when regrouped).
    pub description: String,
}

/// One ridden step. Durations are whole seconds, the unit every export format counts in.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: SegmentKind,
    pub duration_s: u32,
    /// Percent of FTP; `high_pct` equals `low_pct` for a steady target.
    pub low_pct: f64,
    pub high_pct: f64,
    pub description: String,
}

impl Step {
    /// Training stress of the step, unrounded: the plan's own rule on its exported duration.
    pub fn tss(&self) -> f64 {
        crate::domain::tss::step_tss(
            f64::from(self.duration_s) / 60.0,
            self.low_pct,
            self.high_pct,
        )
    }

    /// The step's intensity in % of FTP, its band's midpoint: what TSS and zones count.
    pub fn mid_pct(&self) -> f64 {
        (self.low_pct + self.high_pct) / 2.0
    }

    /// Kind, duration and power: what two steps must share to be sets of one repeat (their
    /// words differ, "rep 1/3", "rep 2/3").
    fn same_shape(&self, other: &Step) -> bool {
        self.kind == other.kind
            && self.duration_s == other.duration_s
            && self.low_pct == other.low_pct
            && self.high_pct == other.high_pct
    }

    /// A step that can be the work of a regrouped repeat: not an easy part of the session.
    fn is_effort(&self) -> bool {
        !matches!(
            self.kind,
            SegmentKind::Warmup | SegmentKind::Cooldown | SegmentKind::Recovery
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("is not JSON: {0}")]
    NotJson(String),
    #[error("is a report with no athlete: `athletes` is empty")]
    EmptyReport,
    #[error("is not a readable plan: {0}")]
    Unreadable(String),
    #[error(
        "has no `plan_metadata.start_date`: an export needs the plan's dates; add it (YYYY-MM-DD, the first Monday)"
    )]
    NoStartDate,
    #[error("has `plan_metadata.start_date` {0:?}, expected a date YYYY-MM-DD")]
    BadStartDate(String),
    #[error("has dates past the end of the calendar (start {0})")]
    CalendarOverflow(NaiveDate),
}

/// Reads a plan file's text: ours, the seed's, or the first athlete's plan of the seed's Phase
/// 4 `report_data.json`, through `planfile::parse_plan`.
pub fn from_plan_text(text: &str) -> Result<ExportPlan, ModelError> {
    let value: Value =
        serde_json::from_str(text).map_err(|err| ModelError::NotJson(err.to_string()))?;
    let plan_value = match planfile::report_athletes(&value) {
        Some(athletes) => athletes
            .first()
            .ok_or(ModelError::EmptyReport)?
            .get("training_plan")
            .cloned()
            .unwrap_or(Value::Null),
        None => value,
    };
    let plan_text = serde_json::to_string(&plan_value).expect("a JSON value serializes");
    let mut parsed = planfile::parse_plan(&plan_text).map_err(|problems| {
        ModelError::Unreadable(
            problems
                .iter()
                .map(|problem| format!("{}: {}", problem.path, problem.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let start_date = match plan_value.pointer("/plan_metadata/start_date") {
        None | Some(Value::Null) => return Err(ModelError::NoStartDate),
        Some(written) => written
            .as_str()
            .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .ok_or_else(|| ModelError::BadStartDate(written.to_string()))?,
    };
    // The calendar starts on the Monday of the start date's week, as the plan file's dates do.
    let monday = planfile::checked_date_of(start_date, 1, Weekday::Monday)
        .ok_or(ModelError::CalendarOverflow(start_date))?;
    let mut weeks = Vec::with_capacity(parsed.weeks.len());
    for details in &parsed.weeks {
        let week_number = u32::try_from(details.week_number).unwrap_or(0);
        let phase = parsed
            .overview
            .week(week_number)
            .map_or(Phase::Foundation, |entry| entry.phase);
        let mut workouts = Vec::with_capacity(details.workouts.len());
        for workout in &details.workouts {
            let date = planfile::checked_date_of(monday, details.week_number, workout.weekday)
                .ok_or(ModelError::CalendarOverflow(start_date))?;
            workouts.push(DatedWorkout {
                date,
                weekday: workout.weekday,
                name: workout.name.clone(),
                description: workout.description.clone(),
                detailed_description: workout.detailed_description.clone(),
                blocks: regroup(workout.segments.iter().filter_map(block).collect()),
            });
        }
        workouts.sort_by_key(|workout| workout.date);
        weeks.push(ExportWeek {
            week_number,
            phase,
            workouts,
        });
    }
    weeks.sort_by_key(|week| week.week_number);
    let event =
        event::event_day(monday, parsed.total_weeks, parsed.profile.event_date).map(|day| {
            PlanEvent {
                date: day.date,
                kind: parsed.profile.event_kind(),
            }
        });
    let provenance = plan_value.get("run").and_then(|run| {
        let text = |key: &str| run.get(key).and_then(Value::as_str).map(str::to_string);
        Some(Provenance {
            run_id: text("id")?,
            provider: text("provider")?,
            model: text("model")?,
        })
    });
    let findings = planfile::validate_plan_text(&plan_text, &Rules::default())
        .into_iter()
        .map(|violation| finding(violation, &parsed.overview.weekly_overview))
        .collect();
    let metadata_text = |key: &str| {
        plan_value
            .get("plan_metadata")
            .and_then(|metadata| metadata.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let plan_type = metadata_text("plan_type").map_or_else(
        || match &provenance {
            Some(made) => format!(
                "periodize plan designed by {} ({})",
                made.provider, made.model
            ),
            None => "periodize plan".to_string(),
        },
        str::to_string,
    );
    let generated_at = metadata_text("generated_at")
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|time| {
            time.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        });
    let gender = plan_value
        .pointer("/athlete_profile/gender")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(|text| text.chars().take(GENDER_MAX_CHARS).collect());
    parsed
        .overview
        .weekly_overview
        .sort_by_key(|entry| entry.week_number);
    Ok(ExportPlan {
        profile: ProfileSummary {
            name: parsed.profile.name.clone(),
            ftp_w: parsed.profile.ftp_w,
        },
        start_date: monday,
        event,
        weeks,
        provenance,
        athlete: parsed.profile,
        gender,
        overview: parsed.overview,
        plan_type,
        generated_at,
        findings,
    })
}

/// The longest `gender` kept, in characters: a word, not a text.
const GENDER_MAX_CHARS: usize = 40;

/// A violation of the plan checks as a finding: the rule's name moved out of the message, and
/// the week read from the path (`weekly_plan[3]…` is the file's fourth week, whatever its
/// number; `entries` are the overview's, in file order).
fn finding(violation: Violation, entries: &[WeekOverview]) -> Finding {
    let rule = violation.rule();
    let message = match rule {
        Some(rule) => violation
            .message
            .strip_prefix(rule.name())
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(&violation.message)
            .to_string(),
        None => violation.message.clone(),
    };
    let week = violation
        .path
        .strip_prefix("weekly_plan[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(index, _)| index.parse::<usize>().ok())
        .and_then(|index| entries.get(index))
        .and_then(|entry| u32::try_from(entry.week_number).ok());
    Finding {
        severity: violation.severity,
        rule,
        week,
        message,
    }
}

/// Minutes to whole seconds, the unit of every export format.
fn seconds(minutes: f64) -> u32 {
    // Plan durations are bounded far below u32 seconds; the cast saturates on anything else.
    (minutes * 60.0).round().max(0.0) as u32
}

fn step(kind: SegmentKind, minutes: f64, low: f64, high: Option<f64>, text: &str) -> Step {
    Step {
        kind,
        duration_s: seconds(minutes),
        low_pct: low,
        high_pct: high.unwrap_or(low),
        description: text.to_string(),
    }
}

/// A plan segment as a block. The kinds inside a repeat are `Segment::steps`'s (`Work`,
/// `Recovery`), so the expansion of a block is the plan's own. A repeat of no set is nothing
/// ridden, so it is left out, as are steps shorter than half a second.
fn block(segment: &Segment) -> Option<Block> {
    let Some(repeat) = &segment.repeat else {
        let plain = step(
            segment.kind,
            segment.duration_min,
            segment.power_low_pct,
            segment.power_high_pct,
            &segment.description,
        );
        return (plain.duration_s > 0).then_some(Block::Step(plain));
    };
    let as_step = |kind, part: &plan::Step| {
        step(
            kind,
            part.duration_min,
            part.power_low_pct,
            part.power_high_pct,
            &part.description,
        )
    };
    let sets = u32::try_from(repeat.sets.clamp(0, MAX_SETS)).unwrap_or(0);
    let work = as_step(SegmentKind::Work, &repeat.work);
    let recovery = repeat
        .recovery
        .as_ref()
        .map(|part| as_step(SegmentKind::Recovery, part))
        .filter(|part| part.duration_s > 0);
    (sets > 0 && work.duration_s > 0).then(|| {
        Block::Repeat(Repeat {
            sets,
            description: if segment.description.is_empty() {
                work.description.clone()
            } else {
                segment.description.clone()
            },
            work,
            recovery,
        })
    })
}

/// The rule that turns flat intervals back into a repeat: a run of at least two consecutive
/// (effort, recovery) pairs of plain steps, every effort of the same shape (kind, duration,
/// power) and every recovery too, becomes one `Repeat` of that many sets; an effort is any step
/// but a warm-up, cool-down or recovery, and the words (which count reps) may differ, the first
/// set's being kept. A last effort with no recovery after it stays a step of its own, since a
/// repeat's every set ends with its recovery. Nothing else changes, so the ridden steps, and
/// the time and power of the workout, are the same before and after.
pub fn regroup(blocks: Vec<Block>) -> Vec<Block> {
    let mut out = Vec::with_capacity(blocks.len());
    let mut index = 0;
    while index < blocks.len() {
        let sets = pairs_from(&blocks, index);
        if sets >= 2 {
            let (Block::Step(work), Block::Step(recovery)) = (&blocks[index], &blocks[index + 1])
            else {
                unreachable!("pairs_from counts only plain steps");
            };
            out.push(Block::Repeat(Repeat {
                sets: u32::try_from(sets).unwrap_or(u32::MAX),
                description: work.description.clone(),
                work: work.clone(),
                recovery: Some(recovery.clone()),
            }));
            index += 2 * sets;
        } else {
            out.push(blocks[index].clone());
            index += 1;
        }
    }
    out
}

/// How many (effort, recovery) pairs of one shape start at `start`.
fn pairs_from(blocks: &[Block], start: usize) -> usize {
    let pair = |at: usize| match (blocks.get(at), blocks.get(at + 1)) {
        (Some(Block::Step(work)), Some(Block::Step(recovery)))
            if work.is_effort() && recovery.kind == SegmentKind::Recovery =>
        {
            Some((work, recovery))
        }
        _ => None,
    };
    let Some((first_work, first_recovery)) = pair(start) else {
        return 0;
    };
    let mut sets = 1;
    while let Some((work, recovery)) = pair(start + 2 * sets) {
        if !(work.same_shape(first_work) && recovery.same_shape(first_recovery)) {
            break;
        }
        sets += 1;
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(kind: SegmentKind, duration_s: u32, low: f64, high: f64, text: &str) -> Block {
        Block::Step(Step {
            kind,
            duration_s,
            low_pct: low,
            high_pct: high,
            description: text.to_string(),
        })
    }

    /// The coach writes a VO2max session flat, rep by rep: its three (effort, recovery) pairs
    /// become one repeat of three sets; the last effort, with the steady part after it and not
    /// a recovery, stays a step, and the ridden steps do not change.
    #[test]
    fn flat_alternating_intervals_of_one_shape_regroup_into_a_repeat() {
        let warmup = plain(SegmentKind::Warmup, 600, 50.0, 70.0, "warm up");
        let on = |n: u32| {
            plain(
                SegmentKind::Interval,
                180,
                106.0,
                115.0,
                &format!("rep {n}"),
            )
        };
        let off = plain(SegmentKind::Recovery, 180, 45.0, 55.0, "easy");
        let other_off = plain(SegmentKind::Recovery, 240, 45.0, 55.0, "easy");
        let steady = plain(SegmentKind::Steady, 300, 60.0, 70.0, "steady");
        let flat = vec![
            warmup.clone(),
            on(1),
            off.clone(),
            on(2),
            off.clone(),
            on(3),
            off.clone(),
            on(4),
            other_off.clone(),
            on(5),
            steady.clone(),
        ];
        let grouped = regroup(flat.clone());
        let Block::Step(work) = on(1) else { panic!() };
        let Block::Step(recovery) = off.clone() else {
            panic!()
        };
        assert_eq!(
            grouped,
            vec![
                warmup,
                Block::Repeat(Repeat {
                    sets: 3,
                    work,
                    recovery: Some(recovery),
                    description: "rep 1".to_string(),
                }),
                on(4),
                other_off,
                on(5),
                steady,
            ]
        );
        let ridden = |blocks: &[Block]| {
            blocks
                .iter()
                .flat_map(Block::steps)
                .map(|step| (step.duration_s, step.low_pct, step.high_pct))
                .collect::<Vec<_>>()
        };
        assert_eq!(ridden(&grouped), ridden(&flat));
    }

    /// One pair is not a repeat, and a recovery after a warm-up does not make one.
    #[test]
    fn a_single_pair_or_an_easy_pair_stays_flat() {
        let flat = vec![
            plain(SegmentKind::Warmup, 300, 50.0, 60.0, ""),
            plain(SegmentKind::Recovery, 60, 45.0, 50.0, ""),
            plain(SegmentKind::Warmup, 300, 50.0, 60.0, ""),
            plain(SegmentKind::Recovery, 60, 45.0, 50.0, ""),
            plain(SegmentKind::Work, 600, 90.0, 95.0, ""),
            plain(SegmentKind::Recovery, 300, 45.0, 55.0, ""),
            plain(SegmentKind::Work, 600, 90.0, 95.0, ""),
        ];
        assert_eq!(regroup(flat.clone()), flat);
    }

    /// The model's expansion is the plan's own (`Workout::steps`, the one every rule reads),
    /// step by step, on the seed's 12-week plan with its repeats and 10 s sprints.
    #[test]
    fn the_models_steps_are_the_plans_steps() {
        let text = include_str!("../../tests/fixtures/seed/report_data_12wk_llm.json");
        let mut report: Value = serde_json::from_str(text).unwrap();
        let plan_value = &mut report["athletes"][0]["training_plan"];
        plan_value["plan_metadata"]["start_date"] = Value::from("2027-01-04");
        let plan_text = plan_value.to_string();
        let parsed = planfile::parse_plan(&plan_text).unwrap();
        let model = from_plan_text(&report.to_string()).unwrap();
        let mut compared = 0;
        for (details, week) in parsed.weeks.iter().zip(&model.weeks) {
            let mut planned = details.workouts.clone();
            planned.sort_by_key(|workout| workout.weekday);
            assert_eq!(planned.len(), week.workouts.len());
            for (workout, exported) in planned.iter().zip(&week.workouts) {
                let want: Vec<_> = workout
                    .steps()
                    .map(|step| (seconds(step.minutes), step.low_pct, step.high_pct))
                    .collect();
                let got: Vec<_> = exported
                    .steps()
                    .map(|step| (step.duration_s, step.low_pct, step.high_pct))
                    .collect();
                assert_eq!(got, want, "{}", workout.name);
                compared += 1;
            }
        }
        assert!(compared > 40 && model.weeks.len() == 12);
        let repeats = model.weeks[0]
            .workouts
            .iter()
            .flat_map(|workout| &workout.blocks)
            .filter(|block| matches!(block, Block::Repeat(_)))
            .count();
        assert!(repeats > 0, "the seed's `sets` stay repeats");
    }

    /// A seed report has no start date: the export says which field it needs.
    #[test]
    fn a_plan_without_a_start_date_is_refused_naming_the_field() {
        let text = include_str!("../../tests/fixtures/seed/report_data_4wk_llm.json");
        let err = from_plan_text(text).unwrap_err();
        assert_eq!(err, ModelError::NoStartDate);
        assert!(err.to_string().contains("plan_metadata.start_date"));
    }
}
