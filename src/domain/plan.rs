//! Plan types: the overview of 3a, the week details of 3b, the repeat construct of a segment,
//! and the one expansion (`Segment::steps`, `Workout::steps`) that every sum and rule reads.
//! Integers the model writes are `i64` so that a bad value (0, -1) reaches validation as a
//! number to report, not as a parse failure. These types are strict serde shapes; leniency for
//! plans made elsewhere lives in `tools::normalize`.

use serde::{Deserialize, Serialize, Serializer};

use crate::domain::{tss, Phase, SegmentKind, Weekday};

/// The arguments of `create_plan_overview`: the skeleton of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOverview {
    pub total_weeks: i64,
    pub target_ftp: f64,
    pub coaching_notes: String,
    pub monitoring_guidance: String,
    pub weekly_overview: Vec<WeekOverview>,
}

impl PlanOverview {
    pub fn week(&self, week_number: u32) -> Option<&WeekOverview> {
        self.weekly_overview
            .iter()
            .find(|week| week.week_number == i64::from(week_number))
    }
}

/// One entry of the overview: what a week is for and how big it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekOverview {
    pub week_number: i64,
    pub phase: Phase,
    pub phase_rationale: String,
    pub weekly_focus: String,
    pub weekly_watch_points: String,
    pub training_days: Vec<Weekday>,
    pub target_tss: f64,
    pub hard_days: i64,
    pub easy_days: i64,
    pub rest_days: i64,
    pub total_hours: f64,
}

/// The arguments of `add_week_details`: the workouts of one week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekDetails {
    pub week_number: i64,
    pub workouts: Vec<Workout>,
}

impl WeekDetails {
    /// Riding minutes of the week, repeats expanded.
    pub fn minutes(&self) -> f64 {
        self.workouts.iter().map(Workout::minutes).sum()
    }

    pub fn hours(&self) -> f64 {
        minutes_to_hours(self.minutes())
    }

    /// Weekly TSS: the sum of the rounded workout TSS, rounded to 0.1.
    pub fn tss(&self) -> f64 {
        tss::round_tenth(self.workouts.iter().map(Workout::tss).sum())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workout {
    pub weekday: Weekday,
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub detailed_description: Option<String>,
    pub segments: Vec<Segment>,
}

impl Workout {
    /// Every step the athlete rides, in order, repeats expanded: what durations, TSS and every
    /// rule about power or time read (see `Segment::steps`).
    pub fn steps(&self) -> impl Iterator<Item = FlatStep> + '_ {
        self.segments.iter().flat_map(Segment::steps)
    }

    /// Riding minutes, repeats expanded.
    pub fn minutes(&self) -> f64 {
        self.steps().map(|step| step.minutes).sum()
    }

    /// Workout TSS rounded to 0.1 (SPEC §6), from the expanded steps.
    pub fn tss(&self) -> f64 {
        tss::round_tenth(self.steps().map(|step| step.tss()).sum())
    }
}

/// Most sets a repeat may have: far above any interval session (40 × 15 s is a long one), low
/// enough that an expansion stays small.
pub const MAX_SETS: i64 = 50;

/// One part of a workout. A plain segment is one step. A segment with a `repeat` is the block
/// `sets` × (work, then recovery); its own `duration_min` and power are the block's summary as
/// the writer gave it, and are not ridden: the expansion is (the validator warns when the
/// summary's duration disagrees with it).
///
/// On the wire (tool arguments, plan files, the seed's files) the repeat is flat on the segment,
/// `"sets"`, `"work"`, `"recovery"`, each left out (or `null`) on a plain segment, so a plan
/// without repeats reads and writes exactly as before.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "SegmentWire")]
pub struct Segment {
    pub kind: SegmentKind,
    /// Minutes; whole on the segments we write, fractions allowed in plans made elsewhere.
    pub duration_min: f64,
    pub power_low_pct: f64,
    pub power_high_pct: Option<f64>,
    pub description: String,
    pub repeat: Option<Repeat>,
}

/// `sets` × (`work`, then `recovery`).
#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub sets: i64,
    pub work: Step,
    pub recovery: Option<Step>,
}

/// One step of a repeat. Durations are minutes and may be fractions: 0.25 is a 15 s sprint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Step {
    pub duration_min: f64,
    pub power_low_pct: f64,
    #[serde(default)]
    pub power_high_pct: Option<f64>,
    pub description: String,
}

impl Step {
    fn flat(&self, kind: SegmentKind) -> FlatStep {
        FlatStep {
            minutes: self.duration_min,
            low_pct: self.power_low_pct,
            high_pct: self.power_high_pct.unwrap_or(self.power_low_pct),
            kind,
        }
    }
}

/// One step as ridden, after expansion: what every sum and rule reads. Its `high_pct` is the
/// low one for a steady target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatStep {
    pub minutes: f64,
    pub low_pct: f64,
    pub high_pct: f64,
    /// The segment's kind for a plain segment; `Work` or `Recovery` inside a repeat.
    pub kind: SegmentKind,
}

impl FlatStep {
    pub fn tss(&self) -> f64 {
        tss::step_tss(self.minutes, self.low_pct, self.high_pct)
    }
}

impl Segment {
    /// The upper power target, which is the lower one for a steady segment.
    pub fn power_high(&self) -> f64 {
        self.power_high_pct.unwrap_or(self.power_low_pct)
    }

    /// The steps of this segment as ridden: the segment itself, or `sets` × (work, recovery).
    ///
    /// This is the one expansion of the repeat construct; durations, TSS and every rule on
    /// power or time go through it (or through `Workout::steps`), never through the outer
    /// `duration_min` of a repeat. A set count outside 1..=`MAX_SETS` is an error of its own;
    /// here it is clamped, so that an absurd count cannot make an expansion endless.
    pub fn steps(&self) -> impl Iterator<Item = FlatStep> + '_ {
        let plain = FlatStep {
            minutes: self.duration_min,
            low_pct: self.power_low_pct,
            high_pct: self.power_high(),
            kind: self.kind,
        };
        let (first, sets) = match &self.repeat {
            None => (Some(plain), None),
            Some(repeat) => (None, Some(repeat)),
        };
        let expanded = sets.into_iter().flat_map(|repeat| {
            let work = repeat.work.flat(SegmentKind::Work);
            let recovery = repeat
                .recovery
                .as_ref()
                .map(|step| step.flat(SegmentKind::Recovery));
            (0..repeat.sets.clamp(0, MAX_SETS))
                .flat_map(move |_| std::iter::once(work).chain(recovery))
        });
        first.into_iter().chain(expanded)
    }

    /// Minutes as ridden (a repeat's expansion, not its outer `duration_min`).
    pub fn minutes(&self) -> f64 {
        self.steps().map(|step| step.minutes).sum()
    }
}

/// The wire form of a segment: the repeat's parts flat on it, as the seed writes them.
#[derive(Deserialize)]
struct SegmentWire {
    #[serde(rename = "type")]
    kind: SegmentKind,
    duration_min: f64,
    power_low_pct: f64,
    #[serde(default)]
    power_high_pct: Option<f64>,
    description: String,
    #[serde(default)]
    sets: Option<i64>,
    #[serde(default)]
    work: Option<Step>,
    #[serde(default)]
    recovery: Option<Step>,
}

/// A repeat given in part: `sets` without `work`, or `work` or `recovery` without `sets`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{missing} is missing: a repeat needs `sets` and `work` (and may have `recovery`)")]
pub struct PartialRepeat {
    /// The key that is missing, `sets` or `work`.
    pub missing: &'static str,
}

/// Which part of a repeat is missing, if the segment holds part of one: tools report it under
/// the missing key's path before the segment is parsed.
pub fn partial_repeat(sets: bool, work: bool, recovery: bool) -> Option<PartialRepeat> {
    match (sets, work) {
        (true, false) => Some(PartialRepeat { missing: "work" }),
        (false, true) => Some(PartialRepeat { missing: "sets" }),
        (false, false) if recovery => Some(PartialRepeat { missing: "sets" }),
        _ => None,
    }
}

impl TryFrom<SegmentWire> for Segment {
    type Error = PartialRepeat;

    fn try_from(wire: SegmentWire) -> Result<Self, PartialRepeat> {
        let SegmentWire {
            kind,
            duration_min,
            power_low_pct,
            power_high_pct,
            description,
            sets,
            work,
            recovery,
        } = wire;
        if let Some(partial) = partial_repeat(sets.is_some(), work.is_some(), recovery.is_some()) {
            return Err(partial);
        }
        let repeat = match (sets, work) {
            (Some(sets), Some(work)) => Some(Repeat {
                sets,
                work,
                recovery,
            }),
            _ => None,
        };
        Ok(Segment {
            kind,
            duration_min,
            power_low_pct,
            power_high_pct,
            description,
            repeat,
        })
    }
}

impl Serialize for Segment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire(false).serialize(serializer)
    }
}

/// A segment as a plan file writes it: every `power_high_pct` a number (the low one for a
/// steady target), because the seed's Phase 4 and viewer read it as one and fail on `null`.
pub struct ForPlanFile<'a>(&'a Segment);

impl Serialize for ForPlanFile<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.wire(true).serialize(serializer)
    }
}

/// The wire form of a segment, borrowed (writing a plan copies no text); the repeat's keys
/// appear only when it has one.
#[derive(Serialize)]
struct WireOut<'a> {
    #[serde(rename = "type")]
    kind: SegmentKind,
    #[serde(serialize_with = "serialize_minutes")]
    duration_min: &'a f64,
    power_low_pct: f64,
    power_high_pct: Option<f64>,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sets: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    work: Option<StepOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery: Option<StepOut<'a>>,
}

#[derive(Serialize)]
struct StepOut<'a> {
    #[serde(serialize_with = "serialize_minutes")]
    duration_min: &'a f64,
    power_low_pct: f64,
    power_high_pct: Option<f64>,
    description: &'a str,
}

/// `numeric_high` fills a missing upper target with the lower one.
fn high(low: f64, high: Option<f64>, numeric_high: bool) -> Option<f64> {
    if numeric_high {
        Some(high.unwrap_or(low))
    } else {
        high
    }
}

impl Step {
    fn wire(&self, numeric_high: bool) -> StepOut<'_> {
        StepOut {
            duration_min: &self.duration_min,
            power_low_pct: self.power_low_pct,
            power_high_pct: high(self.power_low_pct, self.power_high_pct, numeric_high),
            description: &self.description,
        }
    }
}

impl Segment {
    /// This segment as a plan file writes it (see `ForPlanFile`).
    pub fn for_plan_file(&self) -> ForPlanFile<'_> {
        ForPlanFile(self)
    }

    fn wire(&self, numeric_high: bool) -> WireOut<'_> {
        let repeat = self.repeat.as_ref();
        WireOut {
            kind: self.kind,
            duration_min: &self.duration_min,
            power_low_pct: self.power_low_pct,
            power_high_pct: high(self.power_low_pct, self.power_high_pct, numeric_high),
            description: &self.description,
            sets: repeat.map(|repeat| repeat.sets),
            work: repeat.map(|repeat| repeat.work.wire(numeric_high)),
            recovery: repeat
                .and_then(|repeat| repeat.recovery.as_ref())
                .map(|step| step.wire(numeric_high)),
        }
    }
}

/// Writes minutes as an integer when they are whole (`20`, never `20.0`), so that files and
/// records written before durations could hold fractions keep their bytes, and as a number
/// with its fraction otherwise. Records use it too (their golden files pin the result).
pub fn serialize_minutes<S: Serializer>(minutes: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    // Plan durations are bounded far below 2^53, where every whole f64 is an exact i64.
    if minutes.fract() == 0.0 && minutes.abs() < WHOLE_F64_LIMIT {
        serializer.serialize_i64(*minutes as i64)
    } else {
        serializer.serialize_f64(*minutes)
    }
}

/// Below this magnitude a whole f64 converts to i64 exactly.
const WHOLE_F64_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Minutes rounded to 0.01 min (0.6 s), the precision fractional step durations are written
/// with, so that a sum of fractions prints as written (6.34, not 6.340000000000001).
pub fn round_minutes(minutes: f64) -> f64 {
    (minutes * 100.0).round() / 100.0
}

/// Minutes to hours, rounded to 0.01 h so that sums print stably.
pub fn minutes_to_hours(minutes: f64) -> f64 {
    (minutes / 60.0 * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan file gives every segment and step a numeric `power_high_pct` (the seed's readers
    /// fail on `null`); tool arguments and records keep `null` for a steady target.
    #[test]
    fn a_plan_file_writes_every_upper_target_as_a_number() {
        let segment: Segment = serde_json::from_value(serde_json::json!({
            "type": "interval", "duration_min": 12, "power_low_pct": 110, "power_high_pct": null, "description": "",
            "sets": 3, "work": {"duration_min": 3, "power_low_pct": 110, "power_high_pct": null, "description": ""},
            "recovery": {"duration_min": 1, "power_low_pct": 50, "power_high_pct": 55, "description": ""}
        }))
        .unwrap();
        let file = serde_json::to_value(segment.for_plan_file()).unwrap();
        assert_eq!(
            (
                &file["power_high_pct"],
                &file["work"]["power_high_pct"],
                &file["recovery"]["power_high_pct"]
            ),
            (
                &serde_json::json!(110.0),
                &serde_json::json!(110.0),
                &serde_json::json!(55.0)
            )
        );
        assert_eq!(file["duration_min"], serde_json::json!(12));
        let held = serde_json::to_value(&segment).unwrap();
        assert!(held["power_high_pct"].is_null() && held["work"]["power_high_pct"].is_null());
    }
}
