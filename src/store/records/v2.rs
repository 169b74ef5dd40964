//! Format versions 2, 3 and 4: the record types the store writes today (version 4), which read
//! version 2 and 3 bodies unchanged, and their conversions to and from the live workflow and
//! domain types.
//!
//! Versions 3 and 4 are version 2 plus optional fields, so one set of types reads all three:
//! every field a later body may hold is optional with a default, and an earlier body is a valid
//! later body with none of them. Version 4 adds the exports written at finalize
//! (`SpecRecord::exports`). Version 3 holds: attempt costs
//! (`AttemptRecordV2::cost_micro_usd`), the money budget (`BudgetRecord::max_cost_micro_usd`)
//! and the summary's cost (`SummaryRecord::{cost_micro_usd, unpriced_requests}`), which a
//! build still writing version 2 already added without a bump (records with them are marked
//! version 2; they read the same either way); the rules `RulesRecord::{sprint_max_s,
//! max_ctl_ramp, rule_severities}`; the profile's event and training background
//! (`ProfileRecord::{event, recent_weekly_hours, current_ctl, experience}`); and fractional
//! segment minutes and the repeat construct (`SegmentRecord::repeat`). A build that
//! knows only version 2 (or 3) refuses later records by their number.
//!
//! These types are a boundary, not a copy of the domain: they change only together with a new
//! format version. A change that is not "optional fields added" goes into a `v4.rs` beside this
//! file, with an upgrade from these. The body is JSON, so every field is named and every enum
//! variant is tagged by name; a reordered field or variant cannot change what a stored record
//! means. Conversions destructure every struct and match every variant without a wildcard, so
//! a field added to a live type fails to compile here until someone decides how it is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::event::{EventDetails, EventKind, Experience, Priority};
use crate::domain::plan::{
    serialize_minutes, PlanOverview, Repeat, Segment, Step, WeekDetails, WeekOverview, Workout,
};
use crate::domain::profile::AthleteProfile;
use crate::domain::validate::{
    Rule, RuleSeverity, Rules, Severity, TssCheck, Violation, RECREATIONAL_CTL_RAMP,
};
use crate::domain::{Phase, SegmentKind, Weekday};
use crate::llm::{PriorReply, RepairTurn, StepId, ToolCall, Usage};
use crate::workflow::{
    Accepted, AttemptOutcome, AttemptRecord, BatchRef, Budget, InFlight, RetryPolicy, RunId,
    RunSpec, State, StepState,
};

/// A record that names something this build cannot represent (an unknown weekday, a bad date).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field} holds {value:?}, which is not a valid value")]
pub struct Invalid {
    pub field: &'static str,
    pub value: String,
}

fn invalid(field: &'static str, value: impl Into<String>) -> Invalid {
    Invalid {
        field,
        value: value.into(),
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// A 128-bit id as 32 lowercase hex digits: JSON numbers cannot hold it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub u128);

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{:032x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RunId::parse(&text)
            .map(|id| Id(id.0))
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a 32-digit hex id")))
    }
}

// ---------------------------------------------------------------------------------------------
// Record types

/// The store's own record (key `meta`): which format the tree holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaRecord {
    /// The newest format version written to the tree. Records of an older JSON version (2) in
    /// it read as they are, and each run is rewritten in the newer one by its next commit.
    pub format: u16,
    pub created_at_ms: u64,
    /// Runs and batches created, and transitions committed, over the store's life. Compared
    /// with the manifest outside sled, they tell a store that lost data from a new one.
    pub runs: u64,
    pub batches: u64,
    pub commits: u64,
}

/// Everything fixed when a run is created, written once (key `spec/<run>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecRecord {
    pub run_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchRefRecord>,
    pub profile: ProfileRecord,
    pub total_weeks: u32,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    pub provider: String,
    pub model: String,
    pub base_url: String,
    pub prompt_hash: String,
    pub rules: RulesRecord,
    pub retry: RetryRecord,
    /// Absolute: fixed when the run was created, whoever resumes it.
    pub output_dir: String,
    pub keep_checkpoints: bool,
    pub created_at_ms: u64,
    pub budget: BudgetRecord,
    /// Version 4: the export formats 3c writes beside the plan file, by name (`zwo`, `ics`,
    /// …); absent (none) before, and omitted when none so such specs encode as in version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRefRecord {
    pub batch_id: Id,
    /// The run's position in its batch, from 0.
    pub item: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRecord {
    pub name: String,
    pub age: Option<u32>,
    pub weight_kg: Option<f64>,
    pub ftp_w: f64,
    pub max_hr: Option<u32>,
    pub weekly_hours: f64,
    pub available_days: Vec<WeekdayRecord>,
    pub daily_caps_min: BTreeMap<WeekdayRecord, u32>,
    pub goals: String,
    pub plan_weeks: Option<u32>,
    /// `YYYY-MM-DD`.
    pub event_date: Option<String>,
    // Optional fields added after the first v2 records: absent in those, and omitted when
    // empty so records of profiles without them encode as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_weekly_hours: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_ctl: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience: Option<ExperienceRecord>,
}

/// The event's details beyond its date.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    pub kind: EventKindRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_h: Option<f64>,
    pub priority: PriorityRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKindRecord {
    RoadRace,
    Criterium,
    GranFondo,
    TimeTrial,
    StageRace,
    Gravel,
    Mtb,
    HillClimb,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PriorityRecord {
    A,
    B,
    C,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperienceRecord {
    New,
    Intermediate,
    Experienced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WeekdayRecord {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesRecord {
    pub max_training_days: u32,
    pub tss_check: TssCheckRecord,
    /// Version 3. Absent in version 2 records, written by builds that allowed no step above
    /// 200 % FTP: 0 keeps those runs under the rules they were created with.
    #[serde(default)]
    pub sprint_max_s: u32,
    /// Added with the plausibility rules, absent at its default (`RECREATIONAL_CTL_RAMP`), so
    /// records written before them and runs on the defaults read and write as they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ctl_ramp: Option<f64>,
    /// The severities set for plausibility rules (`--rule`); absent when none was set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rule_severities: BTreeMap<RuleRecord, RuleSeverityRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleRecord {
    TssPerHour,
    RecoveryWeek,
    RecoveryIntensity,
    TaperVolume,
    TaperIntensity,
    CtlRamp,
    Acwr,
    HardDaysBackToBack,
    CooldownAbovePrevious,
    WarmupCooldown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSeverityRecord {
    Error,
    Warning,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TssCheckRecord {
    Error,
    Warn,
    Off,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRecord {
    pub max_attempts: u32,
    pub max_transient_retries: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub fallback_builtin: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_micro_usd: Option<u64>,
}

/// What changes with every transition (key `head/<run>`), with the summary that `list`,
/// `status` and `resume` read instead of decoding steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadRecord {
    pub state: StateRecord,
    /// Transitions committed so far; dense and increasing. 0 for a run that was only created.
    pub seq: u64,
    pub updated_at_ms: u64,
    pub week_concurrency: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan_warnings: Vec<ViolationRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizing_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
    pub done_count: u32,
    pub budget: BudgetRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_stop: Option<String>,
    pub summary: SummaryRecord,
}

/// A run at a glance, derived from the run at every commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryRecord {
    pub athlete: String,
    pub total_weeks: u32,
    pub weeks_done: u32,
    pub attempts: u32,
    pub requests: u32,
    pub tokens: UsageRecord,
    /// Added after the first v2 release, like the attempts' costs it sums.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub cost_micro_usd: u64,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub unpriced_requests: u32,
    pub provider: String,
    pub model: String,
    pub created_at_ms: u64,
    pub output_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchRefRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum StateRecord {
    Created,
    DraftingOverview,
    DetailingWeeks,
    Finalizing { file_name: String },
    Done,
    Failed { reason: String },
}

/// One step (key `step/<run>/<step>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    pub step: StepRecordId,
    pub requests: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptRecordV2>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<InFlightRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_until_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub transient_failures: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repair_turns: Vec<RepairTurnRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<AcceptedRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<ViolationRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhausted: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub compacted: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub fallback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepRecordId {
    Overview,
    Week { week: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptRecordV2 {
    pub attempt: u32,
    pub outcome: OutcomeRecord,
    pub usage: UsageRecord,
    /// Added after the first v2 release; absent means the request had no price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_micro_usd: Option<u64>,
    pub requested_at_ms: u64,
    pub finished_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutcomeRecord {
    Accepted {
        warnings: u32,
    },
    Rejected {
        errors: u32,
        warnings: u32,
        first_error: String,
    },
    Malformed {
        message: String,
    },
    Transient {
        message: String,
    },
    Fatal {
        message: String,
    },
    /// Added after the first format 2 release; older records never hold it.
    ContextLength {
        message: String,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageRecord {
    pub input: u64,
    pub output: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub cache_read: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub cache_write: u64,
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InFlightRecord {
    pub attempt: u32,
    pub requested_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairTurnRecord {
    pub reply: PriorReplyRecord,
    pub feedback: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PriorReplyRecord {
    Call {
        id: String,
        name: String,
        arguments: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    Text {
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViolationRecord {
    pub severity: SeverityRecord,
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityRecord {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AcceptedRecord {
    Overview { overview: OverviewRecord },
    Week { details: WeekDetailsRecord },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewRecord {
    pub total_weeks: i64,
    pub target_ftp: f64,
    pub coaching_notes: String,
    pub monitoring_guidance: String,
    pub weekly_overview: Vec<WeekOverviewRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeekOverviewRecord {
    pub week_number: i64,
    pub phase: PhaseRecord,
    pub phase_rationale: String,
    pub weekly_focus: String,
    pub weekly_watch_points: String,
    pub training_days: Vec<WeekdayRecord>,
    pub target_tss: f64,
    pub hard_days: i64,
    pub easy_days: i64,
    pub rest_days: i64,
    pub total_hours: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhaseRecord {
    Foundation,
    Build,
    Recovery,
    Peak,
    Taper,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeekDetailsRecord {
    pub week_number: i64,
    pub workouts: Vec<WorkoutRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkoutRecord {
    pub weekday: WeekdayRecord,
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_description: Option<String>,
    pub segments: Vec<SegmentRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRecord {
    pub kind: SegmentKindRecord,
    /// Minutes. Written as an integer when whole (so version 2 records, which hold only whole
    /// minutes, keep their bytes), with its fraction from version 3 on.
    #[serde(serialize_with = "serialize_minutes")]
    pub duration_min: f64,
    pub power_low_pct: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_high_pct: Option<f64>,
    pub description: String,
    /// Version 3: `sets` × (work, recovery). One optional object rather than three optional
    /// keys, so a record cannot hold half a repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<RepeatRecord>,
}

/// Version 3: the repeat of a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatRecord {
    pub sets: i64,
    pub work: RepeatStepRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RepeatStepRecord>,
}

/// Version 3: one step of a repeat; minutes may be fractions (0.25 is 15 s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatStepRecord {
    #[serde(serialize_with = "serialize_minutes")]
    pub duration_min: f64,
    pub power_low_pct: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_high_pct: Option<f64>,
    pub description: String,
}

impl From<&Step> for RepeatStepRecord {
    fn from(step: &Step) -> Self {
        let Step {
            duration_min,
            power_low_pct,
            power_high_pct,
            description,
        } = step;
        RepeatStepRecord {
            duration_min: *duration_min,
            power_low_pct: *power_low_pct,
            power_high_pct: *power_high_pct,
            description: description.clone(),
        }
    }
}

impl From<RepeatStepRecord> for Step {
    fn from(record: RepeatStepRecord) -> Self {
        let RepeatStepRecord {
            duration_min,
            power_low_pct,
            power_high_pct,
            description,
        } = record;
        Step {
            duration_min,
            power_low_pct,
            power_high_pct,
            description,
        }
    }
}

impl From<&Repeat> for RepeatRecord {
    fn from(repeat: &Repeat) -> Self {
        let Repeat {
            sets,
            work,
            recovery,
        } = repeat;
        RepeatRecord {
            sets: *sets,
            work: work.into(),
            recovery: recovery.as_ref().map(RepeatStepRecord::from),
        }
    }
}

impl From<RepeatRecord> for Repeat {
    fn from(record: RepeatRecord) -> Self {
        let RepeatRecord {
            sets,
            work,
            recovery,
        } = record;
        Repeat {
            sets,
            work: work.into(),
            recovery: recovery.map(Step::from),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKindRecord {
    Warmup,
    Steady,
    Tempo,
    Interval,
    Work,
    Recovery,
    Cooldown,
}

/// Marks a run that is not done (key `open/<run>`), so that `resume` finds the runs it has to
/// continue without reading every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenRecord {
    /// Failed runs are continued only by `resume --retry`.
    pub failed: bool,
}

/// A durable batch (key `batch/<id>`): what was submitted, item by item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRecord {
    pub batch_id: Id,
    pub name: String,
    /// SHA-256 over the items' content hashes and the options: the same submission twice has
    /// the same digest.
    pub digest: String,
    pub created_at_ms: u64,
    pub items: Vec<BatchItemRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchItemRecord {
    pub run_id: Id,
    /// Where the profile came from (a file, or a manifest line).
    pub source: String,
    /// SHA-256 of the profile as checked, with its plan length and start date.
    pub content_hash: String,
}

// ---------------------------------------------------------------------------------------------
// Conversions: live → record

impl From<Weekday> for WeekdayRecord {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Monday => WeekdayRecord::Monday,
            Weekday::Tuesday => WeekdayRecord::Tuesday,
            Weekday::Wednesday => WeekdayRecord::Wednesday,
            Weekday::Thursday => WeekdayRecord::Thursday,
            Weekday::Friday => WeekdayRecord::Friday,
            Weekday::Saturday => WeekdayRecord::Saturday,
            Weekday::Sunday => WeekdayRecord::Sunday,
        }
    }
}

impl From<WeekdayRecord> for Weekday {
    fn from(day: WeekdayRecord) -> Self {
        match day {
            WeekdayRecord::Monday => Weekday::Monday,
            WeekdayRecord::Tuesday => Weekday::Tuesday,
            WeekdayRecord::Wednesday => Weekday::Wednesday,
            WeekdayRecord::Thursday => Weekday::Thursday,
            WeekdayRecord::Friday => Weekday::Friday,
            WeekdayRecord::Saturday => Weekday::Saturday,
            WeekdayRecord::Sunday => Weekday::Sunday,
        }
    }
}

impl From<Phase> for PhaseRecord {
    fn from(phase: Phase) -> Self {
        match phase {
            Phase::Foundation => PhaseRecord::Foundation,
            Phase::Build => PhaseRecord::Build,
            Phase::Recovery => PhaseRecord::Recovery,
            Phase::Peak => PhaseRecord::Peak,
            Phase::Taper => PhaseRecord::Taper,
        }
    }
}

impl From<PhaseRecord> for Phase {
    fn from(phase: PhaseRecord) -> Self {
        match phase {
            PhaseRecord::Foundation => Phase::Foundation,
            PhaseRecord::Build => Phase::Build,
            PhaseRecord::Recovery => Phase::Recovery,
            PhaseRecord::Peak => Phase::Peak,
            PhaseRecord::Taper => Phase::Taper,
        }
    }
}

impl From<SegmentKind> for SegmentKindRecord {
    fn from(kind: SegmentKind) -> Self {
        match kind {
            SegmentKind::Warmup => SegmentKindRecord::Warmup,
            SegmentKind::Steady => SegmentKindRecord::Steady,
            SegmentKind::Tempo => SegmentKindRecord::Tempo,
            SegmentKind::Interval => SegmentKindRecord::Interval,
            SegmentKind::Work => SegmentKindRecord::Work,
            SegmentKind::Recovery => SegmentKindRecord::Recovery,
            SegmentKind::Cooldown => SegmentKindRecord::Cooldown,
        }
    }
}

impl From<SegmentKindRecord> for SegmentKind {
    fn from(kind: SegmentKindRecord) -> Self {
        match kind {
            SegmentKindRecord::Warmup => SegmentKind::Warmup,
            SegmentKindRecord::Steady => SegmentKind::Steady,
            SegmentKindRecord::Tempo => SegmentKind::Tempo,
            SegmentKindRecord::Interval => SegmentKind::Interval,
            SegmentKindRecord::Work => SegmentKind::Work,
            SegmentKindRecord::Recovery => SegmentKind::Recovery,
            SegmentKindRecord::Cooldown => SegmentKind::Cooldown,
        }
    }
}

impl From<Rule> for RuleRecord {
    fn from(rule: Rule) -> Self {
        match rule {
            Rule::TssPerHour => RuleRecord::TssPerHour,
            Rule::RecoveryWeek => RuleRecord::RecoveryWeek,
            Rule::RecoveryIntensity => RuleRecord::RecoveryIntensity,
            Rule::TaperVolume => RuleRecord::TaperVolume,
            Rule::TaperIntensity => RuleRecord::TaperIntensity,
            Rule::CtlRamp => RuleRecord::CtlRamp,
            Rule::Acwr => RuleRecord::Acwr,
            Rule::HardDaysBackToBack => RuleRecord::HardDaysBackToBack,
            Rule::CooldownAbovePrevious => RuleRecord::CooldownAbovePrevious,
            Rule::WarmupCooldown => RuleRecord::WarmupCooldown,
        }
    }
}

impl From<RuleRecord> for Rule {
    fn from(rule: RuleRecord) -> Self {
        match rule {
            RuleRecord::TssPerHour => Rule::TssPerHour,
            RuleRecord::RecoveryWeek => Rule::RecoveryWeek,
            RuleRecord::RecoveryIntensity => Rule::RecoveryIntensity,
            RuleRecord::TaperVolume => Rule::TaperVolume,
            RuleRecord::TaperIntensity => Rule::TaperIntensity,
            RuleRecord::CtlRamp => Rule::CtlRamp,
            RuleRecord::Acwr => Rule::Acwr,
            RuleRecord::HardDaysBackToBack => Rule::HardDaysBackToBack,
            RuleRecord::CooldownAbovePrevious => Rule::CooldownAbovePrevious,
            RuleRecord::WarmupCooldown => Rule::WarmupCooldown,
        }
    }
}

impl From<RuleSeverity> for RuleSeverityRecord {
    fn from(severity: RuleSeverity) -> Self {
        match severity {
            RuleSeverity::Error => RuleSeverityRecord::Error,
            RuleSeverity::Warning => RuleSeverityRecord::Warning,
            RuleSeverity::Off => RuleSeverityRecord::Off,
        }
    }
}

impl From<RuleSeverityRecord> for RuleSeverity {
    fn from(severity: RuleSeverityRecord) -> Self {
        match severity {
            RuleSeverityRecord::Error => RuleSeverity::Error,
            RuleSeverityRecord::Warning => RuleSeverity::Warning,
            RuleSeverityRecord::Off => RuleSeverity::Off,
        }
    }
}

impl From<&Rules> for RulesRecord {
    fn from(rules: &Rules) -> Self {
        let Rules {
            max_training_days,
            tss_check,
            max_ctl_ramp,
            severities,
            sprint_max_s,
        } = rules;
        RulesRecord {
            max_training_days: *max_training_days,
            tss_check: (*tss_check).into(),
            sprint_max_s: *sprint_max_s,
            max_ctl_ramp: (*max_ctl_ramp != RECREATIONAL_CTL_RAMP).then_some(*max_ctl_ramp),
            rule_severities: severities
                .iter()
                .map(|(rule, severity)| ((*rule).into(), (*severity).into()))
                .collect(),
        }
    }
}

impl From<RulesRecord> for Rules {
    fn from(record: RulesRecord) -> Self {
        let RulesRecord {
            max_training_days,
            tss_check,
            max_ctl_ramp,
            rule_severities,
            sprint_max_s,
        } = record;
        Rules {
            max_training_days,
            tss_check: tss_check.into(),
            sprint_max_s,
            max_ctl_ramp: max_ctl_ramp.unwrap_or(RECREATIONAL_CTL_RAMP),
            severities: rule_severities
                .into_iter()
                .map(|(rule, severity)| (rule.into(), severity.into()))
                .collect(),
        }
    }
}

impl From<TssCheck> for TssCheckRecord {
    fn from(check: TssCheck) -> Self {
        match check {
            TssCheck::Error => TssCheckRecord::Error,
            TssCheck::Warn => TssCheckRecord::Warn,
            TssCheck::Off => TssCheckRecord::Off,
        }
    }
}

impl From<TssCheckRecord> for TssCheck {
    fn from(check: TssCheckRecord) -> Self {
        match check {
            TssCheckRecord::Error => TssCheck::Error,
            TssCheckRecord::Warn => TssCheck::Warn,
            TssCheckRecord::Off => TssCheck::Off,
        }
    }
}

impl From<Severity> for SeverityRecord {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Error => SeverityRecord::Error,
            Severity::Warning => SeverityRecord::Warning,
        }
    }
}

impl From<SeverityRecord> for Severity {
    fn from(severity: SeverityRecord) -> Self {
        match severity {
            SeverityRecord::Error => Severity::Error,
            SeverityRecord::Warning => Severity::Warning,
        }
    }
}

impl From<&Violation> for ViolationRecord {
    fn from(violation: &Violation) -> Self {
        let Violation {
            severity,
            path,
            message,
        } = violation;
        ViolationRecord {
            severity: (*severity).into(),
            path: path.clone(),
            message: message.clone(),
        }
    }
}

impl From<ViolationRecord> for Violation {
    fn from(record: ViolationRecord) -> Self {
        let ViolationRecord {
            severity,
            path,
            message,
        } = record;
        Violation {
            severity: severity.into(),
            path,
            message,
        }
    }
}

impl From<&Usage> for UsageRecord {
    fn from(usage: &Usage) -> Self {
        let Usage {
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
        } = *usage;
        UsageRecord {
            input: input_tokens,
            output: output_tokens,
            cache_read: cache_read_tokens,
            cache_write: cache_write_tokens,
        }
    }
}

impl From<UsageRecord> for Usage {
    fn from(record: UsageRecord) -> Self {
        let UsageRecord {
            input,
            output,
            cache_read,
            cache_write,
        } = record;
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
        }
    }
}

impl From<&Budget> for BudgetRecord {
    fn from(budget: &Budget) -> Self {
        let Budget {
            max_tokens,
            max_attempts,
            max_cost_micro_usd,
        } = *budget;
        BudgetRecord {
            max_tokens,
            max_attempts,
            max_cost_micro_usd,
        }
    }
}

impl From<BudgetRecord> for Budget {
    fn from(record: BudgetRecord) -> Self {
        let BudgetRecord {
            max_tokens,
            max_attempts,
            max_cost_micro_usd,
        } = record;
        Budget {
            max_tokens,
            max_attempts,
            max_cost_micro_usd,
        }
    }
}

impl From<&BatchRef> for BatchRefRecord {
    fn from(batch: &BatchRef) -> Self {
        let BatchRef { batch_id, item } = *batch;
        BatchRefRecord {
            batch_id: Id(batch_id),
            item,
        }
    }
}

impl From<&BatchRefRecord> for BatchRef {
    fn from(record: &BatchRefRecord) -> Self {
        let BatchRefRecord { batch_id, item } = *record;
        BatchRef {
            batch_id: batch_id.0,
            item,
        }
    }
}

impl From<&AthleteProfile> for ProfileRecord {
    fn from(profile: &AthleteProfile) -> Self {
        let AthleteProfile {
            name,
            age,
            weight_kg,
            ftp_w,
            max_hr,
            weekly_hours,
            available_days,
            daily_caps_min,
            goals,
            plan_weeks,
            event_date,
            event,
            recent_weekly_hours,
            current_ctl,
            experience,
        } = profile;
        ProfileRecord {
            name: name.clone(),
            age: *age,
            weight_kg: *weight_kg,
            ftp_w: *ftp_w,
            max_hr: *max_hr,
            weekly_hours: *weekly_hours,
            available_days: available_days.iter().map(|day| (*day).into()).collect(),
            daily_caps_min: daily_caps_min
                .iter()
                .map(|(day, cap)| ((*day).into(), *cap))
                .collect(),
            goals: goals.clone(),
            plan_weeks: *plan_weeks,
            event_date: event_date.map(|date| date.to_string()),
            event: event.map(|details| EventRecord {
                kind: details.kind.into(),
                duration_h: details.duration_h,
                priority: details.priority.into(),
            }),
            recent_weekly_hours: *recent_weekly_hours,
            current_ctl: *current_ctl,
            experience: experience.map(Into::into),
        }
    }
}

macro_rules! mirror_enum {
    ($live:ty, $record:ident, [$($variant:ident),+]) => {
        impl From<$live> for $record {
            fn from(value: $live) -> Self {
                match value {
                    $(<$live>::$variant => $record::$variant,)+
                }
            }
        }
        impl From<$record> for $live {
            fn from(value: $record) -> Self {
                match value {
                    $($record::$variant => <$live>::$variant,)+
                }
            }
        }
    };
}

mirror_enum!(
    EventKind,
    EventKindRecord,
    [RoadRace, Criterium, GranFondo, TimeTrial, StageRace, Gravel, Mtb, HillClimb, None]
);
mirror_enum!(Priority, PriorityRecord, [A, B, C]);
mirror_enum!(
    Experience,
    ExperienceRecord,
    [New, Intermediate, Experienced]
);

fn parse_date(field: &'static str, text: &str) -> Result<chrono::NaiveDate, Invalid> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid(field, text))
}

impl TryFrom<ProfileRecord> for AthleteProfile {
    type Error = Invalid;

    fn try_from(record: ProfileRecord) -> Result<Self, Invalid> {
        let ProfileRecord {
            name,
            age,
            weight_kg,
            ftp_w,
            max_hr,
            weekly_hours,
            available_days,
            daily_caps_min,
            goals,
            plan_weeks,
            event_date,
            event,
            recent_weekly_hours,
            current_ctl,
            experience,
        } = record;
        Ok(AthleteProfile {
            name,
            age,
            weight_kg,
            ftp_w,
            max_hr,
            weekly_hours,
            available_days: available_days.into_iter().map(Weekday::from).collect(),
            daily_caps_min: daily_caps_min
                .into_iter()
                .map(|(day, cap)| (day.into(), cap))
                .collect(),
            goals,
            plan_weeks,
            event_date: event_date
                .map(|text| parse_date("profile.event_date", &text))
                .transpose()?,
            event: event.map(|record| EventDetails {
                kind: record.kind.into(),
                duration_h: record.duration_h,
                priority: record.priority.into(),
            }),
            recent_weekly_hours,
            current_ctl,
            experience: experience.map(Into::into),
        })
    }
}

impl From<&RunSpec> for SpecRecord {
    fn from(spec: &RunSpec) -> Self {
        let RunSpec {
            run_id,
            batch,
            profile,
            total_weeks,
            start_date,
            provider,
            model,
            base_url,
            prompt_hash,
            rules,
            retry,
            output_dir,
            keep_checkpoints,
            created_at_ms,
            budget,
            exports,
        } = spec;
        let RetryPolicy {
            max_attempts,
            max_transient_retries,
            base_delay_ms,
            max_delay_ms,
            fallback_builtin,
        } = retry;
        SpecRecord {
            run_id: Id(run_id.0),
            batch: batch.as_ref().map(BatchRefRecord::from),
            profile: profile.into(),
            total_weeks: *total_weeks,
            start_date: start_date.to_string(),
            provider: provider.clone(),
            model: model.clone(),
            base_url: base_url.clone(),
            prompt_hash: prompt_hash.clone(),
            rules: rules.into(),
            retry: RetryRecord {
                max_attempts: *max_attempts,
                max_transient_retries: *max_transient_retries,
                base_delay_ms: *base_delay_ms,
                max_delay_ms: *max_delay_ms,
                fallback_builtin: *fallback_builtin,
            },
            output_dir: output_dir.clone(),
            keep_checkpoints: *keep_checkpoints,
            created_at_ms: *created_at_ms,
            budget: budget.into(),
            exports: exports
                .iter()
                .map(|format| format.name().to_string())
                .collect(),
        }
    }
}

impl TryFrom<SpecRecord> for RunSpec {
    type Error = Invalid;

    fn try_from(record: SpecRecord) -> Result<Self, Invalid> {
        let SpecRecord {
            run_id,
            batch,
            profile,
            total_weeks,
            start_date,
            provider,
            model,
            base_url,
            prompt_hash,
            rules,
            retry,
            output_dir,
            keep_checkpoints,
            created_at_ms,
            budget,
            exports,
        } = record;
        let RetryRecord {
            max_attempts,
            max_transient_retries,
            base_delay_ms,
            max_delay_ms,
            fallback_builtin,
        } = retry;
        Ok(RunSpec {
            run_id: RunId(run_id.0),
            batch: batch.as_ref().map(BatchRef::from),
            profile: profile.try_into()?,
            total_weeks,
            start_date: parse_date("start_date", &start_date)?,
            provider,
            model,
            base_url,
            prompt_hash,
            rules: rules.into(),
            retry: RetryPolicy {
                max_attempts,
                max_transient_retries,
                base_delay_ms,
                max_delay_ms,
                fallback_builtin,
            },
            output_dir,
            keep_checkpoints,
            created_at_ms,
            budget: budget.into(),
            exports: exports
                .iter()
                .map(|name| {
                    crate::export::Format::parse(name)
                        .filter(|format| *format != crate::export::Format::All)
                        .ok_or_else(|| invalid("exports", name.as_str()))
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

impl From<&State> for StateRecord {
    fn from(state: &State) -> Self {
        match state {
            State::Created {} => StateRecord::Created,
            State::DraftingOverview {} => StateRecord::DraftingOverview,
            State::DetailingWeeks {} => StateRecord::DetailingWeeks,
            State::Finalizing { file_name } => StateRecord::Finalizing {
                file_name: file_name.clone(),
            },
            State::Done {} => StateRecord::Done,
            State::Failed { reason } => StateRecord::Failed {
                reason: reason.clone(),
            },
        }
    }
}

impl From<StateRecord> for State {
    fn from(record: StateRecord) -> Self {
        match record {
            StateRecord::Created => State::Created {},
            StateRecord::DraftingOverview => State::DraftingOverview {},
            StateRecord::DetailingWeeks => State::DetailingWeeks {},
            StateRecord::Finalizing { file_name } => State::Finalizing { file_name },
            StateRecord::Done => State::Done {},
            StateRecord::Failed { reason } => State::Failed { reason },
        }
    }
}

impl From<StepId> for StepRecordId {
    fn from(step: StepId) -> Self {
        match step {
            StepId::Overview => StepRecordId::Overview,
            StepId::Week(week) => StepRecordId::Week { week },
        }
    }
}

impl From<StepRecordId> for StepId {
    fn from(record: StepRecordId) -> Self {
        match record {
            StepRecordId::Overview => StepId::Overview,
            StepRecordId::Week { week } => StepId::Week(week),
        }
    }
}

impl From<&AttemptOutcome> for OutcomeRecord {
    fn from(outcome: &AttemptOutcome) -> Self {
        match outcome {
            AttemptOutcome::Accepted { warnings } => OutcomeRecord::Accepted {
                warnings: *warnings,
            },
            AttemptOutcome::Rejected {
                errors,
                warnings,
                first_error,
            } => OutcomeRecord::Rejected {
                errors: *errors,
                warnings: *warnings,
                first_error: first_error.clone(),
            },
            AttemptOutcome::Malformed { message } => OutcomeRecord::Malformed {
                message: message.clone(),
            },
            AttemptOutcome::Transient { message } => OutcomeRecord::Transient {
                message: message.clone(),
            },
            AttemptOutcome::ContextLength { message } => OutcomeRecord::ContextLength {
                message: message.clone(),
            },
            AttemptOutcome::Fatal { message } => OutcomeRecord::Fatal {
                message: message.clone(),
            },
        }
    }
}

impl From<OutcomeRecord> for AttemptOutcome {
    fn from(record: OutcomeRecord) -> Self {
        match record {
            OutcomeRecord::Accepted { warnings } => AttemptOutcome::Accepted { warnings },
            OutcomeRecord::Rejected {
                errors,
                warnings,
                first_error,
            } => AttemptOutcome::Rejected {
                errors,
                warnings,
                first_error,
            },
            OutcomeRecord::Malformed { message } => AttemptOutcome::Malformed { message },
            OutcomeRecord::Transient { message } => AttemptOutcome::Transient { message },
            OutcomeRecord::Fatal { message } => AttemptOutcome::Fatal { message },
            OutcomeRecord::ContextLength { message } => AttemptOutcome::ContextLength { message },
        }
    }
}

impl From<&AttemptRecord> for AttemptRecordV2 {
    fn from(attempt: &AttemptRecord) -> Self {
        let AttemptRecord {
            attempt,
            outcome,
            usage,
            cost_micro_usd,
            requested_at_ms,
            finished_at_ms,
        } = attempt;
        AttemptRecordV2 {
            attempt: *attempt,
            outcome: outcome.into(),
            usage: usage.into(),
            cost_micro_usd: *cost_micro_usd,
            requested_at_ms: *requested_at_ms,
            finished_at_ms: *finished_at_ms,
        }
    }
}

impl From<AttemptRecordV2> for AttemptRecord {
    fn from(record: AttemptRecordV2) -> Self {
        let AttemptRecordV2 {
            attempt,
            outcome,
            usage,
            cost_micro_usd,
            requested_at_ms,
            finished_at_ms,
        } = record;
        AttemptRecord {
            attempt,
            outcome: outcome.into(),
            usage: usage.into(),
            cost_micro_usd,
            requested_at_ms,
            finished_at_ms,
        }
    }
}

impl From<&RepairTurn> for RepairTurnRecord {
    fn from(turn: &RepairTurn) -> Self {
        let RepairTurn { reply, feedback } = turn;
        RepairTurnRecord {
            reply: match reply {
                PriorReply::Call(ToolCall {
                    id,
                    name,
                    arguments,
                    signature,
                }) => PriorReplyRecord::Call {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                    signature: signature.clone(),
                },
                PriorReply::Text(text) => PriorReplyRecord::Text { text: text.clone() },
            },
            feedback: feedback.clone(),
        }
    }
}

impl From<RepairTurnRecord> for RepairTurn {
    fn from(record: RepairTurnRecord) -> Self {
        let RepairTurnRecord { reply, feedback } = record;
        RepairTurn {
            reply: match reply {
                PriorReplyRecord::Call {
                    id,
                    name,
                    arguments,
                    signature,
                } => PriorReply::Call(ToolCall {
                    id,
                    name,
                    arguments,
                    signature,
                }),
                PriorReplyRecord::Text { text } => PriorReply::Text(text),
            },
            feedback,
        }
    }
}

impl From<&PlanOverview> for OverviewRecord {
    fn from(overview: &PlanOverview) -> Self {
        let PlanOverview {
            total_weeks,
            target_ftp,
            coaching_notes,
            monitoring_guidance,
            weekly_overview,
        } = overview;
        OverviewRecord {
            total_weeks: *total_weeks,
            target_ftp: *target_ftp,
            coaching_notes: coaching_notes.clone(),
            monitoring_guidance: monitoring_guidance.clone(),
            weekly_overview: weekly_overview
                .iter()
                .map(WeekOverviewRecord::from)
                .collect(),
        }
    }
}

impl From<OverviewRecord> for PlanOverview {
    fn from(record: OverviewRecord) -> Self {
        let OverviewRecord {
            total_weeks,
            target_ftp,
            coaching_notes,
            monitoring_guidance,
            weekly_overview,
        } = record;
        PlanOverview {
            total_weeks,
            target_ftp,
            coaching_notes,
            monitoring_guidance,
            weekly_overview: weekly_overview
                .into_iter()
                .map(WeekOverview::from)
                .collect(),
        }
    }
}

impl From<&WeekOverview> for WeekOverviewRecord {
    fn from(entry: &WeekOverview) -> Self {
        let WeekOverview {
            week_number,
            phase,
            phase_rationale,
            weekly_focus,
            weekly_watch_points,
            training_days,
            target_tss,
            hard_days,
            easy_days,
            rest_days,
            total_hours,
        } = entry;
        WeekOverviewRecord {
            week_number: *week_number,
            phase: (*phase).into(),
            phase_rationale: phase_rationale.clone(),
            weekly_focus: weekly_focus.clone(),
            weekly_watch_points: weekly_watch_points.clone(),
            training_days: training_days.iter().map(|day| (*day).into()).collect(),
            target_tss: *target_tss,
            hard_days: *hard_days,
            easy_days: *easy_days,
            rest_days: *rest_days,
            total_hours: *total_hours,
        }
    }
}

impl From<WeekOverviewRecord> for WeekOverview {
    fn from(record: WeekOverviewRecord) -> Self {
        let WeekOverviewRecord {
            week_number,
            phase,
            phase_rationale,
            weekly_focus,
            weekly_watch_points,
            training_days,
            target_tss,
            hard_days,
            easy_days,
            rest_days,
            total_hours,
        } = record;
        WeekOverview {
            week_number,
            phase: phase.into(),
            phase_rationale,
            weekly_focus,
            weekly_watch_points,
            training_days: training_days.into_iter().map(Weekday::from).collect(),
            target_tss,
            hard_days,
            easy_days,
            rest_days,
            total_hours,
        }
    }
}

impl From<&WeekDetails> for WeekDetailsRecord {
    fn from(details: &WeekDetails) -> Self {
        let WeekDetails {
            week_number,
            workouts,
        } = details;
        WeekDetailsRecord {
            week_number: *week_number,
            workouts: workouts
                .iter()
                .map(|workout| {
                    let Workout {
                        weekday,
                        name,
                        description,
                        detailed_description,
                        segments,
                    } = workout;
                    WorkoutRecord {
                        weekday: (*weekday).into(),
                        name: name.clone(),
                        description: description.clone(),
                        detailed_description: detailed_description.clone(),
                        segments: segments
                            .iter()
                            .map(|segment| {
                                let Segment {
                                    kind,
                                    duration_min,
                                    power_low_pct,
                                    power_high_pct,
                                    description,
                                    repeat,
                                } = segment;
                                SegmentRecord {
                                    kind: (*kind).into(),
                                    duration_min: *duration_min,
                                    power_low_pct: *power_low_pct,
                                    power_high_pct: *power_high_pct,
                                    description: description.clone(),
                                    repeat: repeat.as_ref().map(RepeatRecord::from),
                                }
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}

impl From<WeekDetailsRecord> for WeekDetails {
    fn from(record: WeekDetailsRecord) -> Self {
        let WeekDetailsRecord {
            week_number,
            workouts,
        } = record;
        WeekDetails {
            week_number,
            workouts: workouts
                .into_iter()
                .map(|workout| {
                    let WorkoutRecord {
                        weekday,
                        name,
                        description,
                        detailed_description,
                        segments,
                    } = workout;
                    Workout {
                        weekday: weekday.into(),
                        name,
                        description,
                        detailed_description,
                        segments: segments
                            .into_iter()
                            .map(|segment| {
                                let SegmentRecord {
                                    kind,
                                    duration_min,
                                    power_low_pct,
                                    power_high_pct,
                                    description,
                                    repeat,
                                } = segment;
                                Segment {
                                    kind: kind.into(),
                                    duration_min,
                                    power_low_pct,
                                    power_high_pct,
                                    description,
                                    repeat: repeat.map(Repeat::from),
                                }
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}

impl From<&StepState> for StepRecord {
    fn from(step: &StepState) -> Self {
        let StepState {
            step,
            requests,
            attempts,
            in_flight,
            waiting_until_ms,
            refused,
            transient_failures,
            repair_turns,
            accepted,
            accepted_at_ms,
            warnings,
            exhausted,
            compacted,
            fallback,
        } = step;
        StepRecord {
            step: (*step).into(),
            requests: *requests,
            attempts: attempts.iter().map(AttemptRecordV2::from).collect(),
            in_flight: in_flight.as_ref().map(|flight| {
                let InFlight {
                    attempt,
                    requested_at_ms,
                } = *flight;
                InFlightRecord {
                    attempt,
                    requested_at_ms,
                }
            }),
            waiting_until_ms: *waiting_until_ms,
            refused: *refused,
            transient_failures: *transient_failures,
            repair_turns: repair_turns.iter().map(RepairTurnRecord::from).collect(),
            accepted: accepted.as_ref().map(|accepted| match accepted {
                Accepted::Overview(overview) => AcceptedRecord::Overview {
                    overview: overview.as_ref().into(),
                },
                Accepted::Week(details) => AcceptedRecord::Week {
                    details: details.into(),
                },
            }),
            accepted_at_ms: *accepted_at_ms,
            warnings: warnings.iter().map(ViolationRecord::from).collect(),
            exhausted: exhausted.clone(),
            compacted: *compacted,
            fallback: *fallback,
        }
    }
}

impl From<StepRecord> for StepState {
    fn from(record: StepRecord) -> Self {
        let StepRecord {
            step,
            requests,
            attempts,
            in_flight,
            waiting_until_ms,
            refused,
            transient_failures,
            repair_turns,
            accepted,
            accepted_at_ms,
            warnings,
            exhausted,
            compacted,
            fallback,
        } = record;
        StepState {
            step: step.into(),
            requests,
            attempts: attempts.into_iter().map(AttemptRecord::from).collect(),
            in_flight: in_flight.map(|flight| {
                let InFlightRecord {
                    attempt,
                    requested_at_ms,
                } = flight;
                InFlight {
                    attempt,
                    requested_at_ms,
                }
            }),
            waiting_until_ms,
            refused,
            transient_failures,
            repair_turns: repair_turns.into_iter().map(RepairTurn::from).collect(),
            accepted: accepted.map(|accepted| match accepted {
                AcceptedRecord::Overview { overview } => {
                    Accepted::Overview(std::sync::Arc::new(overview.into()))
                }
                AcceptedRecord::Week { details } => Accepted::Week(details.into()),
            }),
            accepted_at_ms,
            warnings: warnings.into_iter().map(Violation::from).collect(),
            exhausted,
            compacted,
            fallback,
        }
    }
}
