//! Plan types: the overview of 3a, the week details of 3b, and the helpers that sum them.
//! Integers the model writes are `i64` so that a bad value (0, -1) reaches validation as a
//! number to report, not as a parse failure. These types are strict serde shapes; leniency for
//! plans made elsewhere lives in `tools::normalize`.

use serde::{Deserialize, Serialize};

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
    pub fn total_minutes(&self) -> i64 {
        self.workouts.iter().map(Workout::total_minutes).sum()
    }

    pub fn hours(&self) -> f64 {
        minutes_to_hours(self.total_minutes())
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
    pub fn total_minutes(&self) -> i64 {
        self.segments
            .iter()
            .map(|segment| segment.duration_min)
            .sum()
    }

    /// Workout TSS rounded to 0.1 (SPEC §6).
    pub fn tss(&self) -> f64 {
        tss::round_tenth(self.segments.iter().map(Segment::tss).sum())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    #[serde(rename = "type")]
    pub kind: SegmentKind,
    pub duration_min: i64,
    pub power_low_pct: f64,
    #[serde(default)]
    pub power_high_pct: Option<f64>,
    pub description: String,
}

impl Segment {
    /// The upper power target, which is the lower one for a steady segment.
    pub fn power_high(&self) -> f64 {
        self.power_high_pct.unwrap_or(self.power_low_pct)
    }

    pub fn tss(&self) -> f64 {
        tss::segment_tss(self.duration_min, self.power_low_pct, self.power_high())
    }
}

/// Minutes to hours, rounded to 0.01 h so that sums print stably.
pub fn minutes_to_hours(minutes: i64) -> f64 {
    // Plan sizes are bounded (≤ 52 weeks × 7 days × 24 h), so the value is exact in f64.
    (minutes as f64 / 60.0 * 100.0).round() / 100.0
}
