//! The seed's Phase 4 `report_data.json`, pure: the whole plan in the shape the seed's viewer
//! (`training_plan_viewer.html`) reads, one athlete whose `training_plan` is a plan file our
//! own reader takes back (`model::from_plan_text` gives the same plan). The range of an export
//! does not apply: a report describes the whole plan.
//!
//! What the viewer dereferences, and so what is always written with its type: `athletes[]`
//! with `name`; `training_plan.athlete_profile.{name, age, ftp, weight_kg, power_to_weight}`
//! (numbers or `null`); `plan_metadata.{total_weeks, current_ftp, target_ftp, ftp_gain_watts,
//! ftp_gain_percent}` (numbers); `coaching_notes`, `monitoring_guidance` (strings); and each
//! `weekly_plan[]` item's `week_number`, `phase` (a string), `week_tss`, and `workouts[]` with
//! `weekday`, `name`, `description`, `detailed_description`, `tss`, `intensity_zone` and
//! `segments[].{type, duration_min, power_low_pct, power_high_pct, description}`.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::event;
use crate::domain::plan::{minutes_to_hours, round_minutes, serialize_minutes, WeekOverview};
use crate::domain::profile;
use crate::domain::validate::Severity;
use crate::domain::{tss, SegmentKind, Weekday};
use crate::export::model::{Block, DatedWorkout, ExportPlan, ExportWeek, Finding, Step};

/// The file's name: the viewer fetches `report_data.json` from its own folder.
pub const FILE_NAME: &str = "report_data.json";

/// The version of the report shape, the seed's own.
const REPORT_VERSION: &str = "1.0";

/// The seed writes the outer segment of a repeat as an `interval` whose power is the work's.
const REPEAT_SEGMENT_TYPE: &str = "interval";

/// The report of the whole plan: pretty JSON and a final newline. Deterministic: no clock (the
/// timestamp is the plan's own `generated_at`, left out when the plan has none), no randomness.
pub fn report_data(plan: &ExportPlan) -> String {
    let mut text = serde_json::to_string_pretty(&document(plan))
        .expect("a report of plain values always serializes");
    text.push('\n');
    text
}

#[derive(Serialize)]
struct Report<'a> {
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_timestamp: Option<&'a str>,
    generator: Generator,
    athletes: [Athlete<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Generator {
    tool: &'static str,
    version: &'static str,
    command: &'static str,
}

#[derive(Serialize)]
struct Athlete<'a> {
    id: String,
    name: &'a str,
    profile: Value,
    training_plan: TrainingPlan<'a>,
}

/// A plan file of our own format (which `validate` and `export` read) in the seed's key order.
#[derive(Serialize)]
struct TrainingPlan<'a> {
    athlete_profile: Value,
    plan_metadata: Metadata<'a>,
    coaching_notes: &'a str,
    monitoring_guidance: &'a str,
    weekly_plan: Vec<Week<'a>>,
    /// What the plan checks found, for a reader of the file; our reader runs them again.
    findings: Vec<FindingEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<Run<'a>>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    total_weeks: u32,
    current_ftp: f64,
    target_ftp: f64,
    ftp_gain_watts: f64,
    ftp_gain_percent: f64,
    plan_type: &'a str,
    start_date: String,
    end_date: String,
    event_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_at: Option<&'a str>,
}

#[derive(Serialize)]
struct Week<'a> {
    week_number: u32,
    start_date: String,
    phase: &'static str,
    phase_rationale: &'a str,
    weekly_focus: &'a str,
    weekly_watch_points: &'a str,
    training_days: Vec<&'static str>,
    target_tss: f64,
    hard_days: i64,
    easy_days: i64,
    rest_days: i64,
    total_hours: f64,
    week_tss: f64,
    week_hours: f64,
    workouts: Vec<Workout<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<Value>,
}

#[derive(Serialize)]
struct Workout<'a> {
    weekday: &'static str,
    date: String,
    name: &'a str,
    description: &'a str,
    detailed_description: Option<&'a str>,
    #[serde(serialize_with = "serialize_minutes")]
    duration_min: f64,
    tss: f64,
    /// The viewer's "Intensity" card: the highest Coggan zone a step rides in.
    intensity_zone: String,
    segments: Vec<Segment<'a>>,
}

#[derive(Serialize)]
struct Segment<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(serialize_with = "serialize_minutes")]
    duration_min: f64,
    power_low_pct: f64,
    power_high_pct: f64,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sets: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    work: Option<Part<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery: Option<Part<'a>>,
}

/// One step of a repeat, as the plan file writes it.
#[derive(Serialize)]
struct Part<'a> {
    #[serde(serialize_with = "serialize_minutes")]
    duration_min: f64,
    power_low_pct: f64,
    power_high_pct: f64,
    description: &'a str,
}

#[derive(Serialize)]
struct FindingEntry<'a> {
    severity: &'static str,
    rule: Option<&'static str>,
    week: Option<u32>,
    message: &'a str,
}

#[derive(Serialize)]
struct Run<'a> {
    id: &'a str,
    provider: &'a str,
    model: &'a str,
}

fn document(plan: &ExportPlan) -> Report<'_> {
    let athlete = &plan.athlete;
    let current_ftp = athlete.ftp_w;
    let target_ftp = plan.overview.target_ftp;
    let gain_w = target_ftp - current_ftp;
    Report {
        version: REPORT_VERSION,
        generated_timestamp: plan.generated_at.as_deref(),
        generator: Generator {
            tool: "periodize",
            version: env!("CARGO_PKG_VERSION"),
            command: "export --format report-data",
        },
        athletes: [Athlete {
            id: athlete_id(&athlete.name),
            name: &athlete.name,
            profile: outer_profile(plan),
            training_plan: TrainingPlan {
                athlete_profile: plan_profile(plan),
                plan_metadata: Metadata {
                    total_weeks: plan.total_weeks(),
                    current_ftp,
                    target_ftp,
                    ftp_gain_watts: tss::round_tenth(gain_w),
                    ftp_gain_percent: tss::round_tenth(gain_w / current_ftp * 100.0),
                    plan_type: &plan.plan_type,
                    start_date: plan.start_date.to_string(),
                    end_date: plan.end_date().to_string(),
                    event_date: athlete.event_date.map(|date| date.to_string()),
                    generated_at: plan.generated_at.as_deref(),
                },
                coaching_notes: &plan.overview.coaching_notes,
                monitoring_guidance: &plan.overview.monitoring_guidance,
                weekly_plan: plan
                    .weeks
                    .iter()
                    .map(|week| week_entry(plan, week))
                    .collect(),
                findings: plan.findings.iter().map(finding_entry).collect(),
                run: plan.provenance.as_ref().map(|made| Run {
                    id: &made.run_id,
                    provider: &made.provider,
                    model: &made.model,
                }),
            },
        }],
        session_id: plan.provenance.as_ref().map(|made| made.run_id.as_str()),
    }
}

/// The seed's athlete id: the name in lowercase ASCII letters and digits joined by `_`
/// (`Athlete_Name` → `athlete_name`); `athlete` when nothing of it is left.
fn athlete_id(name: &str) -> String {
    let mut id = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('_') {
            id.push('_');
        }
    }
    let id = id.trim_end_matches('_');
    if id.is_empty() {
        "athlete".to_string()
    } else {
        id.to_string()
    }
}

fn round_hundredth(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn power_to_weight(plan: &ExportPlan) -> Option<f64> {
    plan.athlete
        .weight_kg
        .map(|weight| round_hundredth(plan.athlete.ftp_w / weight))
}

fn week_days(days: &[Weekday]) -> String {
    days.iter()
        .map(|day| day.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan's `athlete_profile`: our canonical keys, which our reader takes back whole, and
/// the seed's keys its viewer reads (`ftp`, `power_to_weight`, `training_availability`), as
/// our plan files write them.
fn plan_profile(plan: &ExportPlan) -> Value {
    let athlete = &plan.athlete;
    let mut value = profile::canonical_json(athlete);
    if let Some(object) = value.as_object_mut() {
        object.insert("ftp".into(), json!(athlete.ftp_w));
        object.insert("power_to_weight".into(), json!(power_to_weight(plan)));
        object.insert(
            "training_availability".into(),
            json!({
                "hours_per_week": athlete.weekly_hours,
                "week_days": week_days(&athlete.available_days),
            }),
        );
        if let Some(gender) = &plan.gender {
            object.insert("gender".into(), json!(gender));
        }
    }
    value
}

/// The athlete's `profile` beside the plan, in the seed's input form.
fn outer_profile(plan: &ExportPlan) -> Value {
    let athlete = &plan.athlete;
    json!({
        "age": athlete.age,
        "gender": plan.gender,
        "ftp": athlete.ftp_w,
        "weight_kg": athlete.weight_kg,
        "max_hr": athlete.max_hr,
        "training_availability": {
            "hours_per_week": athlete.weekly_hours,
            "week_days": week_days(&athlete.available_days),
            "available_training_days": athlete.available_days,
            "weekly_training_hours": athlete.weekly_hours,
        },
        "goals": athlete.goals,
        "current_training_status": athlete.experience.map(|experience| experience.name()),
        "power_to_weight": power_to_weight(plan),
    })
}

fn week_entry<'a>(plan: &'a ExportPlan, week: &'a ExportWeek) -> Week<'a> {
    let targets = plan.week_targets(week.week_number);
    let text = |pick: fn(&WeekOverview) -> &str| targets.map_or("", pick);
    let number = |pick: fn(&WeekOverview) -> i64| targets.map_or(0, pick);
    let workouts: Vec<Workout<'a>> = week.workouts.iter().map(workout_entry).collect();
    let minutes: f64 = week
        .workouts
        .iter()
        .map(|workout| workout.duration_s() as f64 / 60.0)
        .sum();
    Week {
        week_number: week.week_number,
        start_date: event::date_of(plan.start_date, week.week_number, Weekday::Monday).to_string(),
        phase: week.phase.name(),
        phase_rationale: text(|entry| &entry.phase_rationale),
        weekly_focus: text(|entry| &entry.weekly_focus),
        weekly_watch_points: text(|entry| &entry.weekly_watch_points),
        training_days: targets
            .map(|entry| entry.training_days.iter().map(|day| day.name()).collect())
            .unwrap_or_default(),
        target_tss: targets.map_or(0.0, |entry| entry.target_tss),
        hard_days: number(|entry| entry.hard_days),
        easy_days: number(|entry| entry.easy_days),
        rest_days: number(|entry| entry.rest_days),
        total_hours: targets.map_or(0.0, |entry| entry.total_hours),
        // As a plan file sums it: the rounded workout TSS, rounded again.
        week_tss: tss::round_tenth(workouts.iter().map(|workout| workout.tss).sum()),
        week_hours: minutes_to_hours(minutes),
        workouts,
        event: plan
            .event
            .filter(|event| day_of_plan(plan, event.date) / 7 + 1 == i64::from(week.week_number))
            .map(|event| {
                let details = plan.athlete.event;
                let mut entry = json!({
                    "date": event.date.to_string(),
                    "weekday": weekday_of(plan, event.date),
                    "kind": event.kind.name(),
                    "priority": details.map_or("A", |details| details.priority.name()),
                });
                if let Some(hours) = details.and_then(|details| details.duration_h) {
                    entry["duration_h"] = json!(hours);
                }
                entry
            }),
    }
}

/// Days from the plan's first Monday to `date`.
fn day_of_plan(plan: &ExportPlan, date: NaiveDate) -> i64 {
    (date - plan.start_date).num_days()
}

fn weekday_of(plan: &ExportPlan, date: NaiveDate) -> Weekday {
    let index = day_of_plan(plan, date).rem_euclid(7);
    Weekday::ALL[usize::try_from(index).unwrap_or(0)]
}

/// Seconds as the plan file's minutes: to 0.01 min, which reads back as the same whole second.
fn minutes(duration_s: u32) -> f64 {
    round_minutes(f64::from(duration_s) / 60.0)
}

fn workout_entry(workout: &DatedWorkout) -> Workout<'_> {
    let segments: Vec<Segment<'_>> = workout.blocks.iter().flat_map(segments).collect();
    Workout {
        weekday: workout.weekday.name(),
        date: workout.date.to_string(),
        name: &workout.name,
        description: &workout.description,
        detailed_description: workout.detailed_description.as_deref(),
        duration_min: round_minutes(segments.iter().map(|segment| segment.duration_min).sum()),
        tss: tss::round_tenth(workout.tss()),
        intensity_zone: format!("Z{}", workout.top_zone()),
        segments,
    }
}

fn part(step: &Step) -> Part<'_> {
    Part {
        duration_min: minutes(step.duration_s),
        power_low_pct: step.low_pct,
        power_high_pct: step.high_pct,
        description: &step.description,
    }
}

fn plain(step: &Step) -> Segment<'_> {
    let written = part(step);
    Segment {
        kind: step.kind.name(),
        duration_min: written.duration_min,
        power_low_pct: written.power_low_pct,
        power_high_pct: written.power_high_pct,
        description: written.description,
        sets: None,
        work: None,
        recovery: None,
    }
}

/// The segments of a block, written so that our reader gives the same block back. A step is a
/// plain segment. A repeat whose work is a `work` step is written as the seed writes a
/// repeat: `sets`, `work`, `recovery`, its outer duration the expansion of the parts as
/// written (the reader rides the expansion and warns when the two differ) and its outer power
/// the work's. Any other repeat was regrouped from flat segments (the reader gives a repeat's
/// work the `work` kind, so only flat segments keep an `interval` or a `tempo`), so it is
/// written flat again, set by set, and regroups into the same repeat; the seed's viewer
/// groups such runs into a repeat of its own.
fn segments(block: &Block) -> Vec<Segment<'_>> {
    let repeat = match block {
        Block::Step(step) => return vec![plain(step)],
        Block::Repeat(repeat) if repeat.work.kind != SegmentKind::Work => {
            return block.steps().map(plain).collect()
        }
        Block::Repeat(repeat) => repeat,
    };
    let work = part(&repeat.work);
    let recovery = repeat.recovery.as_ref().map(part);
    let set_min = work.duration_min + recovery.as_ref().map_or(0.0, |part| part.duration_min);
    vec![Segment {
        kind: REPEAT_SEGMENT_TYPE,
        duration_min: round_minutes(f64::from(repeat.sets) * set_min),
        power_low_pct: work.power_low_pct,
        power_high_pct: work.power_high_pct,
        description: &repeat.description,
        sets: Some(repeat.sets),
        work: Some(work),
        recovery,
    }]
}

fn finding_entry(finding: &Finding) -> FindingEntry<'_> {
    FindingEntry {
        severity: match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        rule: finding.rule.map(|rule| rule.name()),
        week: finding.week,
        message: &finding.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn athlete_ids_are_the_seeds_lowercase_words() {
        assert_eq!(athlete_id("Athlete_Name"), "athlete_name");
        assert_eq!(athlete_id("Marta Ruiz"), "marta_ruiz");
        assert_eq!(athlete_id("  Ötzi <b>  "), "tzi_b");
        assert_eq!(athlete_id("✓"), "athlete");
    }

    /// The seed's 12-week report (given a start date) read, written and read again is the
    /// same plan: profile, overview, weeks, workouts, repeats (its `sets` ones and none
    /// regrouped differently). Only the findings may lose some: the written file's repeats say
    /// their true length, so a warning that the source's repeat summary disagreed with its
    /// expansion does not come back, and no other finding changes.
    #[test]
    fn a_report_reads_back_as_the_same_plan() {
        let text = include_str!("../../tests/fixtures/seed/report_data_12wk_llm.json");
        let mut report: Value = serde_json::from_str(text).unwrap();
        report["athletes"][0]["training_plan"]["plan_metadata"]["start_date"] = json!("2027-01-04");
        let first = crate::export::model::from_plan_text(&report.to_string()).unwrap();
        let written = report_data(&first);
        let mut second = crate::export::model::from_plan_text(&written).unwrap();
        let summary = "the repeat is what counts";
        let kept: Vec<&Finding> = first
            .findings
            .iter()
            .filter(|finding| !finding.message.contains(summary))
            .collect();
        assert!(
            kept.len() < first.findings.len(),
            "the seed has repeat summaries that disagree"
        );
        assert_eq!(second.findings.iter().collect::<Vec<_>>(), kept);
        second.findings = first.findings.clone();
        assert_eq!(second, first);
        assert_eq!(
            report_data(&second),
            written,
            "the same plan writes the same bytes"
        );
    }

    #[test]
    fn minutes_to_a_hundredth_read_back_as_the_same_second() {
        for duration_s in 0..=7200 {
            let back = (minutes(duration_s) * 60.0).round() as u32;
            assert_eq!(back, duration_s);
        }
        assert_eq!(minutes(10), 0.17);
        assert_eq!(minutes(1200), 20.0);
    }
}
