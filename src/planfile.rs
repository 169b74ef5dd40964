//! The plan file of SPEC §7, pure: assembling the document from a finished run (3c), and
//! reading any plan file (ours, or the seed's `athlete_profile` / `plan_metadata` /
//! `weekly_plan` format) back into plan types for `periodize validate`.

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::domain::event;
use crate::domain::plan::{round_minutes, PlanOverview, Segment, WeekDetails};
use crate::domain::profile::{self, AthleteProfile};
use crate::domain::validate::{self, Rules, Severity, Violation};
use crate::domain::{Phase, Weekday};
use crate::llm::{StepId, Usage};
use crate::pricing::Cost;
use crate::tools;
use crate::workflow::Run;

#[derive(Serialize)]
pub struct TokenReport {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_write_tokens: u64,
    total_tokens: u64,
}

/// The estimated cost of some requests, from list prices (or `--prices`): a floor when some
/// requests had no price.
#[derive(Serialize)]
pub struct CostReport {
    estimated_usd: f64,
    unpriced_requests: u32,
}

pub fn cost(cost: &Cost) -> CostReport {
    CostReport {
        estimated_usd: cost.usd(),
        unpriced_requests: cost.unpriced_requests,
    }
}

/// The largest plan file `validate`, `show` and `export` read (a 52-week plan is far smaller).
pub const MAX_PLAN_FILE_BYTES: u64 = 64 * 1024 * 1024;

pub fn tokens(usage: &Usage) -> TokenReport {
    TokenReport {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_read_tokens: usage.cache_read_tokens,
        cache_write_tokens: usage.cache_write_tokens,
        total_tokens: usage.total(),
    }
}

/// The plan file, in the key order of SPEC §7. Borrowed, so rendering copies no plan text.
#[derive(Serialize)]
struct PlanDocument<'a> {
    athlete_profile: Value,
    plan_metadata: PlanMetadata,
    coaching_notes: &'a str,
    monitoring_guidance: &'a str,
    weekly_plan: Vec<PlannedWeek<'a>>,
    validation: ValidationReport,
    run: RunReport<'a>,
}

#[derive(Serialize)]
struct PlanMetadata {
    total_weeks: u32,
    current_ftp: f64,
    target_ftp: f64,
    ftp_gain_watts: f64,
    ftp_gain_percent: f64,
    /// What made the plan, for the seed's Phase 4, which requires it.
    plan_type: String,
    start_date: String,
    end_date: String,
    event_date: Option<String>,
    generated_at: String,
}

#[derive(Serialize)]
struct PlannedWeek<'a> {
    week_number: i64,
    start_date: String,
    phase: Phase,
    phase_rationale: &'a str,
    weekly_focus: &'a str,
    weekly_watch_points: &'a str,
    training_days: &'a [Weekday],
    target_tss: f64,
    hard_days: i64,
    easy_days: i64,
    rest_days: i64,
    total_hours: f64,
    /// Who detailed the week: the run's provider, or the built-in coach as a fallback.
    generated_by: &'a str,
    week_tss: f64,
    week_hours: f64,
    workouts: Vec<PlannedWorkout<'a>>,
    /// The event itself, in the week that ends on it: a day with no workout.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<EventEntry>,
}

#[derive(Serialize)]
struct EventEntry {
    date: String,
    weekday: Weekday,
    kind: &'static str,
    priority: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_h: Option<f64>,
}

#[derive(Serialize)]
struct PlannedWorkout<'a> {
    weekday: Weekday,
    date: String,
    name: &'a str,
    description: &'a str,
    detailed_description: Option<&'a str>,
    #[serde(serialize_with = "crate::domain::plan::serialize_minutes")]
    duration_min: f64,
    tss: f64,
    #[serde(serialize_with = "segments_for_plan_file")]
    segments: &'a [Segment],
}

fn segments_for_plan_file<S: serde::Serializer>(
    segments: &&[Segment],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(segments.iter().map(Segment::for_plan_file))
}

#[derive(Serialize)]
struct ValidationReport {
    errors: usize,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct RunReport<'a> {
    id: String,
    provider: &'a str,
    model: &'a str,
    prompt_hash: &'a str,
    attempts: usize,
    tokens: TokenReport,
    /// Left out when no request of the run had a price (a run of an older release).
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<CostReport>,
    phases: PhaseReports,
}

#[derive(Serialize)]
struct PhaseReports {
    overview: PhaseReport,
    weeks: PhaseReport,
    finalize: PhaseReport,
}

#[derive(Serialize)]
struct PhaseReport {
    attempts: usize,
    tokens: TokenReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<CostReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wall_ms: Option<u64>,
    /// Present when the built-in coach answered the phase instead of the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_by: Option<&'static str>,
}

/// The date of `day` in week `week_number` of a plan starting the week of `start`, or `None`
/// past the calendar's end (year 262142): weeks are Monday-based.
pub(crate) fn checked_date_of(
    start: NaiveDate,
    week_number: i64,
    day: Weekday,
) -> Option<NaiveDate> {
    let start_monday = start.checked_sub_signed(Duration::days(i64::from(
        start.weekday().num_days_from_monday(),
    )))?;
    let offset_days = (week_number - 1)
        .checked_mul(7)?
        .checked_add(day.index() as i64)?;
    start_monday.checked_add_signed(Duration::try_days(offset_days)?)
}

/// The last day (a Sunday) of a plan of `total_weeks` starting the week of `start`, or `None`
/// when it lies past the end of the calendar. Every date of the plan file is on or before it.
pub fn plan_end_date(start: NaiveDate, total_weeks: u32) -> Option<NaiveDate> {
    checked_date_of(start, i64::from(total_weeks), Weekday::Sunday)
}

/// A plan whose dates cannot all be written: its start plus its weeks overflow the calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the plan starting {start_date} with {total_weeks} weeks ends past the last representable date"
)]
pub struct CalendarOverflow {
    pub start_date: NaiveDate,
    pub total_weeks: u32,
}

fn date_of(start: NaiveDate, week_number: i64, day: Weekday) -> NaiveDate {
    checked_date_of(start, week_number, day)
        .expect("`render` checked the plan's last date, and every other date is earlier")
}

fn round_tenth(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The profile as a plan file holds it: our canonical keys, which `validate` reads back, and
/// what the seed's Phase 4 and viewer read (`ftp`, `power_to_weight`, `training_availability`;
/// without `ftp` the viewer assumes 260 W). The seed's readers ignore our keys and ours theirs.
fn athlete_profile(athlete: &AthleteProfile) -> Value {
    let mut value = profile::canonical_json(athlete);
    if let Some(object) = value.as_object_mut() {
        let week_days = athlete
            .available_days
            .iter()
            .map(|day| day.name())
            .collect::<Vec<_>>()
            .join(", ");
        object.insert("ftp".to_string(), json!(athlete.ftp_w));
        object.insert(
            "power_to_weight".to_string(),
            json!(athlete
                .weight_kg
                .map(|weight| round_hundredth(athlete.ftp_w / weight))),
        );
        object.insert(
            "training_availability".to_string(),
            json!({"hours_per_week": athlete.weekly_hours, "week_days": week_days}),
        );
    }
    value
}

/// The seed's `plan_metadata.plan_type`: who designed the plan (a week the built-in coach
/// detailed as a fallback says so in its own `generated_by`).
fn plan_type(provider: &str, model: &str) -> String {
    format!("periodize plan designed by {provider} ({model})")
}

fn round_hundredth(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn document(run: &Run) -> PlanDocument<'_> {
    let spec = &run.spec;
    let overview = run
        .overview()
        .expect("3c runs only with an accepted overview");
    let current_ftp = spec.profile.ftp_w;
    let gain_w = overview.target_ftp - current_ftp;
    let event_day = event::event_day(spec.start_date, spec.total_weeks, spec.profile.event_date);
    let mut weekly_plan = Vec::with_capacity(overview.weekly_overview.len());
    for entry in &overview.weekly_overview {
        let week_number =
            u32::try_from(entry.week_number).expect("validated week numbers are 1..=52");
        let details = run
            .week(week_number)
            .expect("3c runs only with every week accepted");
        let mut workouts: Vec<PlannedWorkout<'_>> = details
            .workouts
            .iter()
            .map(|workout| PlannedWorkout {
                weekday: workout.weekday,
                date: date_of(spec.start_date, entry.week_number, workout.weekday).to_string(),
                name: &workout.name,
                description: &workout.description,
                detailed_description: workout.detailed_description.as_deref(),
                duration_min: round_minutes(workout.minutes()),
                tss: workout.tss(),
                segments: &workout.segments,
            })
            .collect();
        workouts.sort_by_key(|workout| workout.weekday);
        weekly_plan.push(PlannedWeek {
            week_number: entry.week_number,
            start_date: date_of(spec.start_date, entry.week_number, Weekday::Monday).to_string(),
            phase: entry.phase,
            phase_rationale: &entry.phase_rationale,
            weekly_focus: &entry.weekly_focus,
            weekly_watch_points: &entry.weekly_watch_points,
            training_days: &entry.training_days,
            target_tss: entry.target_tss,
            hard_days: entry.hard_days,
            easy_days: entry.easy_days,
            rest_days: entry.rest_days,
            total_hours: entry.total_hours,
            generated_by: if run.step(StepId::Week(week_number)).fallback {
                "builtin (fallback)"
            } else {
                &spec.provider
            },
            week_tss: details.tss(),
            week_hours: details.hours(),
            workouts,
            event: event_day
                .filter(|day| i64::from(day.week) == entry.week_number)
                .map(|day| EventEntry {
                    date: day.date.to_string(),
                    weekday: day.weekday,
                    kind: spec.profile.event_kind().name(),
                    priority: spec
                        .profile
                        .event
                        .map_or("A", |details| details.priority.name()),
                    duration_h: spec.profile.event.and_then(|details| details.duration_h),
                }),
        });
    }

    let overview_step = run.step(StepId::Overview);
    let priced = run.is_priced();
    let (weeks_usage, weeks_attempts) = run.weeks_usage();
    let overview_done_ms = overview_step.accepted_at_ms.unwrap_or(spec.created_at_ms);
    let weeks_done_ms = run.finalizing_at_ms.unwrap_or(overview_done_ms);
    let generated_at =
        chrono::DateTime::from_timestamp_millis(i64::try_from(weeks_done_ms).unwrap_or(0))
            .unwrap_or_default();

    PlanDocument {
        athlete_profile: athlete_profile(&spec.profile),
        plan_metadata: PlanMetadata {
            total_weeks: spec.total_weeks,
            current_ftp,
            target_ftp: overview.target_ftp,
            ftp_gain_watts: round_tenth(gain_w),
            ftp_gain_percent: round_tenth(gain_w / current_ftp * 100.0),
            plan_type: plan_type(&spec.provider, &spec.model),
            start_date: date_of(spec.start_date, 1, Weekday::Monday).to_string(),
            // A plan that leads into its event ends on the event day.
            end_date: event_day
                .map_or_else(
                    || {
                        date_of(
                            spec.start_date,
                            i64::from(spec.total_weeks),
                            Weekday::Sunday,
                        )
                    },
                    |day| day.date,
                )
                .to_string(),
            event_date: spec.profile.event_date.map(|date| date.to_string()),
            generated_at: generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
        coaching_notes: &overview.coaching_notes,
        monitoring_guidance: &overview.monitoring_guidance,
        weekly_plan,
        validation: ValidationReport {
            errors: 0,
            warnings: run.plan_warnings.iter().map(|v| v.to_string()).collect(),
        },
        run: RunReport {
            id: spec.run_id.to_string(),
            provider: &spec.provider,
            model: &spec.model,
            prompt_hash: &spec.prompt_hash,
            attempts: run.total_attempts(),
            tokens: tokens(&run.total_usage()),
            cost: priced.then(|| cost(&run.total_cost())),
            phases: PhaseReports {
                overview: PhaseReport {
                    attempts: overview_step.attempts.len(),
                    tokens: tokens(&overview_step.usage()),
                    cost: priced.then(|| cost(&overview_step.cost())),
                    wall_ms: Some(overview_done_ms.saturating_sub(spec.created_at_ms)),
                    generated_by: overview_step.fallback.then_some("builtin (fallback)"),
                },
                weeks: PhaseReport {
                    attempts: weeks_attempts,
                    tokens: tokens(&weeks_usage),
                    cost: priced.then(|| cost(&run.weeks_cost())),
                    wall_ms: Some(weeks_done_ms.saturating_sub(overview_done_ms)),
                    // Per week, in `weekly_plan[].generated_by`.
                    generated_by: None,
                },
                finalize: PhaseReport {
                    attempts: 0,
                    tokens: tokens(&Usage::default()),
                    cost: priced.then(|| cost(&Cost::default())),
                    wall_ms: None,
                    generated_by: None,
                },
            },
        },
    }
}

/// The bytes of the plan file of a run whose weeks are all accepted: pretty JSON and a final
/// newline. Deterministic: the same run state gives the same bytes, which is what makes a
/// re-write after a crash identical.
///
/// A run whose start plus weeks overflow the calendar (only a store written before start dates
/// were bounded at input can hold one) is refused rather than written with wrong dates.
pub fn render(run: &Run) -> Result<Vec<u8>, CalendarOverflow> {
    if plan_end_date(run.spec.start_date, run.spec.total_weeks).is_none() {
        return Err(CalendarOverflow {
            start_date: run.spec.start_date,
            total_weeks: run.spec.total_weeks,
        });
    }
    let mut bytes = Vec::with_capacity(64 * 1024);
    serde_json::to_writer_pretty(&mut bytes, &document(run))
        .expect("plan documents always serialize");
    bytes.push(b'\n');
    Ok(bytes)
}

/// A plan file read back for validation.
#[derive(Debug)]
pub struct ParsedPlan {
    pub profile: AthleteProfile,
    pub overview: PlanOverview,
    pub weeks: Vec<WeekDetails>,
    pub total_weeks: u32,
    /// `plan_metadata.start_date`, when the file gives a readable one (the seed's may not).
    pub start_date: Option<NaiveDate>,
}

fn problem(path: &str, message: impl Into<String>) -> Violation {
    Violation {
        severity: Severity::Error,
        path: path.to_string(),
        message: message.into(),
    }
}

/// Keys the seed writes in its final plan's `athlete_profile` (a derived form, not the form of
/// its input profile files): `ftp`, `weekly_training_hours`, `available_training_days`. Each is
/// used only where the profile gives neither our canonical key nor the seed-input one; the FTP
/// falls back on `plan_metadata.current_ftp`. Returns the profile to parse and the aliases used
/// (canonical key, key in the file), so errors name the key as written.
fn profile_with_aliases(
    value: &Value,
    metadata: &Map<String, Value>,
) -> (Value, Vec<(&'static str, &'static str)>) {
    let mut value = value.clone();
    let mut used = Vec::new();
    let Some(object) = value.as_object_mut() else {
        return (value, used);
    };
    let present = |object: &Map<String, Value>, key: &str| {
        object.get(key).filter(|value| !value.is_null()).cloned()
    };
    let nested = |object: &Map<String, Value>, key: &str| {
        object
            .get("training_availability")
            .and_then(|availability| availability.get(key))
            .is_some_and(|value| !value.is_null())
    };
    if present(object, "ftp_w").is_none() && present(object, "FTP").is_none() {
        let found = match present(object, "ftp") {
            Some(ftp) => Some((ftp, "ftp")),
            None => present(metadata, "current_ftp").map(|ftp| (ftp, "plan_metadata.current_ftp")),
        };
        if let Some((ftp, key)) = found {
            object.insert("ftp_w".to_string(), ftp);
            used.push(("ftp_w", key));
        }
    }
    for (canonical, seed_input, seed_output) in [
        ("weekly_hours", "hours_per_week", "weekly_training_hours"),
        ("available_days", "week_days", "available_training_days"),
    ] {
        if present(object, canonical).is_some() || nested(object, seed_input) {
            continue;
        }
        if let Some(found) = present(object, seed_output) {
            object.insert(canonical.to_string(), found);
            used.push((canonical, seed_output));
        }
    }
    (value, used)
}

/// The weekdays of a week's workouts, each once, in order: the training days of a seed week
/// whose overview entry has no `training_days` (the first three-phase seed overviews).
fn workout_days(workouts: Option<&Value>) -> Value {
    let mut seen = Vec::new();
    let mut days = Vec::new();
    for workout in workouts.and_then(Value::as_array).into_iter().flatten() {
        let Some(day) = workout.get("weekday").filter(|day| !day.is_null()) else {
            continue;
        };
        let key = day
            .as_str()
            .map_or_else(|| day.to_string(), |name| name.trim().to_ascii_lowercase());
        if !seen.contains(&key) {
            seen.push(key);
            days.push(day.clone());
        }
    }
    Value::Array(days)
}

/// Free text that plans made elsewhere may omit and that carries no rule: a workout's `name`
/// (the seed's workouts have none) and `description`, a segment's and a repeat step's
/// `description`.
fn default_free_text(week: &mut Value) {
    let Some(workouts) = week.get_mut("workouts").and_then(Value::as_array_mut) else {
        return;
    };
    for workout in workouts {
        let Some(object) = workout.as_object_mut() else {
            continue;
        };
        for key in ["name", "description"] {
            if object.get(key).is_none_or(Value::is_null) {
                object.insert(key.to_string(), json!(""));
            }
        }
        for segment in object
            .get_mut("segments")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(segment) = segment.as_object_mut() else {
                continue;
            };
            empty_description(segment);
            for key in ["work", "recovery"] {
                if let Some(step) = segment.get_mut(key).and_then(Value::as_object_mut) {
                    empty_description(step);
                }
            }
        }
    }
}

fn empty_description(object: &mut Map<String, Value>) {
    if object.get("description").is_none_or(Value::is_null) {
        object.insert("description".to_string(), json!(""));
    }
}

/// Points a violation of the overview rules into the plan file: the overview entries of a
/// plan file are its `weekly_plan` items, index for index.
fn in_file(mut violation: Violation) -> Violation {
    if let Some(rest) = violation.path.strip_prefix("weekly_overview") {
        violation.path = format!("weekly_plan{rest}");
    }
    violation.message = violation
        .message
        .replace("weekly_overview[", "weekly_plan[");
    violation
}

/// Reads a plan file in our format or the seed's. Structural problems come back as
/// violations, each with its path.
///
/// The seed's final plan (`finalize_training_plan`) has `athlete_profile` (its derived form),
/// `plan_metadata` (`total_weeks`, `current_ftp`, `target_ftp`, …), `coaching_notes`,
/// `monitoring_guidance` and `weekly_plan`, each item the week's overview entry merged with its
/// `workouts` (`weekday`, `description`, `segments`, `tss`) plus `week_tss`. Over the seed's
/// history an entry's `training_days` is absent, a list of weekday names, or one object per
/// weekday; all three are read (see `tools::normalize_overview_entry`).
pub fn parse_plan(text: &str) -> Result<ParsedPlan, Vec<Violation>> {
    let value: Value = serde_json::from_str(text)
        .map_err(|err| vec![problem("plan", format!("is not valid JSON: {err}"))])?;
    let Value::Object(root) = value else {
        return Err(vec![problem(
            "plan",
            "expected a JSON object with athlete_profile, plan_metadata and weekly_plan",
        )]);
    };
    let mut problems = Vec::new();
    let empty = Map::new();
    let metadata = root
        .get("plan_metadata")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let profile = match root.get("athlete_profile") {
        Some(value) => {
            let (value, aliases) = profile_with_aliases(value, metadata);
            match profile::profile_from_value(&value) {
                Ok(profile) => Some(profile),
                Err(err) => {
                    let mut message = err.to_string();
                    for (canonical, written) in aliases {
                        message =
                            message.replace(&format!("`{canonical}`"), &format!("`{written}`"));
                    }
                    problems.push(problem("athlete_profile", message));
                    None
                }
            }
        }
        None => {
            problems.push(problem("athlete_profile", "is missing"));
            None
        }
    };
    let weekly_plan = match root.get("weekly_plan") {
        Some(Value::Array(items)) => items.clone(),
        _ => {
            problems.push(problem("weekly_plan", "is missing or not an array"));
            Vec::new()
        }
    };
    let total_weeks = metadata
        .get("total_weeks")
        .and_then(|weeks| weeks.as_u64().or_else(|| whole(weeks)))
        .or_else(|| root.get("total_weeks").and_then(Value::as_u64))
        .unwrap_or(weekly_plan.len() as u64);
    let total_weeks = u32::try_from(total_weeks).unwrap_or(u32::MAX);
    if !(1..=52).contains(&total_weeks) {
        problems.push(problem(
            "plan_metadata.total_weeks",
            format!("is {total_weeks}, expected 1 to 52"),
        ));
    }
    let target_ftp = metadata
        .get("target_ftp")
        .cloned()
        .or_else(|| profile.as_ref().map(|p| json!(p.ftp_w)))
        .unwrap_or(Value::Null);
    let text_of = |key: &str| {
        root.get(key)
            .cloned()
            .or_else(|| metadata.get(key).cloned())
            .unwrap_or(json!(""))
    };

    let mut entries = Vec::new();
    let mut weeks = Vec::new();
    for (index, item) in weekly_plan.iter().enumerate() {
        let Value::Object(object) = item else {
            problems.push(problem(
                &format!("weekly_plan[{index}]"),
                "expected an object",
            ));
            continue;
        };
        let mut entry = Value::Object(object.clone());
        if let Some(entry_object) = entry.as_object_mut() {
            entry_object.remove("workouts");
            // Plans made elsewhere may omit the free-text fields; they carry no rule.
            for key in ["phase_rationale", "weekly_focus", "weekly_watch_points"] {
                entry_object.entry(key).or_insert(json!(""));
            }
            if entry_object.get("training_days").is_none_or(Value::is_null) {
                entry_object.insert(
                    "training_days".to_string(),
                    workout_days(object.get("workouts")),
                );
            }
        }
        tools::normalize_overview_entry(&mut entry);
        entries.push(entry);
        let mut week = json!({
            "week_number": object.get("week_number").cloned().unwrap_or(Value::Null),
            "workouts": object.get("workouts").cloned().unwrap_or(Value::Null),
        });
        default_free_text(&mut week);
        tools::normalize_week(&mut week);
        match tools::week_from_value(week, &format!("weekly_plan[{index}].")) {
            Ok(details) => weeks.push(details),
            Err(found) => problems.extend(found),
        }
    }
    let mut overview_value = json!({
        "total_weeks": total_weeks,
        "target_ftp": target_ftp,
        "coaching_notes": text_of("coaching_notes"),
        "monitoring_guidance": text_of("monitoring_guidance"),
        "weekly_overview": entries,
    });
    tools::normalize_overview(&mut overview_value);
    let overview = match tools::overview_from_value(overview_value) {
        Ok(overview) => Some(overview),
        Err(found) => {
            problems.extend(found.into_iter().map(in_file));
            None
        }
    };
    match (profile, overview) {
        (Some(profile), Some(overview)) if problems.is_empty() => Ok(ParsedPlan {
            profile,
            overview,
            weeks,
            total_weeks,
            start_date: metadata
                .get("start_date")
                .and_then(Value::as_str)
                .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()),
        }),
        _ => Err(problems),
    }
}

/// A whole, non-negative float such as the seed's `4.0` weeks.
fn whole(value: &Value) -> Option<u64> {
    value
        .as_f64()
        .filter(|number| number.fract() == 0.0 && (0.0..1e15).contains(number))
        .map(|number| number as u64)
}

/// What `validate` checked in a file: the plans it found (a plan file is one; the seed's Phase 4
/// `report_data.json` holds one per athlete at `athletes[].training_plan`), each week's figures
/// as the rules computed them, and every violation, with its path into the file.
#[derive(Debug, Default)]
pub struct Checked {
    /// In a report, one line per plan checked: where it sits and whose it is (empty for a
    /// plan file, which is its one plan).
    pub plans: Vec<String>,
    /// Every week that was read, in file order.
    pub weeks: Vec<WeekFigures>,
    pub violations: Vec<Violation>,
}

/// One week's riding time and TSS from its workouts (repeats expanded), beside what its
/// overview entry planned: the figures the hours and TSS rules compare.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekFigures {
    /// Where the week's plan sits in a Phase 4 report (`athletes[0].training_plan`); empty
    /// in a plan file.
    pub plan: String,
    pub week_number: i64,
    pub tss: f64,
    pub hours: f64,
    /// What the overview entry planned, when it has one.
    pub target_tss: Option<f64>,
    pub target_hours: Option<f64>,
}

/// The athletes of the seed's Phase 4 `report_data.json` (each holding its plan at
/// `training_plan`), or `None` when the document is a plan file (it has `athlete_profile`) or
/// no report at all.
pub fn report_athletes(value: &Value) -> Option<&[Value]> {
    let object = value.as_object()?;
    if object.contains_key("athlete_profile") {
        return None;
    }
    object.get("athletes")?.as_array().map(Vec::as_slice)
}

/// Every rule on a plan file's text, or on each plan of a Phase 4 report.
pub fn validate_file_text(text: &str, rules: &Rules) -> Checked {
    let report = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| report_athletes(&value).map(<[Value]>::to_vec));
    let Some(athletes) = report else {
        let (violations, weeks) = check_plan_text(text, rules, "");
        return Checked {
            plans: Vec::new(),
            weeks,
            violations,
        };
    };
    let mut checked = Checked::default();
    if athletes.is_empty() {
        checked
            .violations
            .push(problem("athletes", "is empty: the report holds no plan"));
    }
    for (index, athlete) in athletes.iter().enumerate() {
        let at = format!("athletes[{index}]");
        let name = athlete
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("(no name)");
        match athlete.get("training_plan") {
            Some(plan) if plan.is_object() => {
                checked
                    .plans
                    .push(format!("{at}.training_plan ({})", name.escape_debug()));
                let text = serde_json::to_string(plan).expect("a JSON value serializes");
                let (violations, weeks) =
                    check_plan_text(&text, rules, &format!("{at}.training_plan"));
                for mut violation in violations {
                    violation.path = format!("{at}.training_plan.{}", violation.path);
                    checked.violations.push(violation);
                }
                checked.weeks.extend(weeks);
            }
            _ => checked.violations.push(problem(
                &format!("{at}.training_plan"),
                "is missing or not an object",
            )),
        }
    }
    checked
}

/// Every rule of SPEC §6 on a plan file's text, with paths into the file.
pub fn validate_plan_text(text: &str, rules: &Rules) -> Vec<Violation> {
    check_plan_text(text, rules, "").0
}

/// The violations of a plan's text, and the figures of each week it read (`plan` says where
/// the plan sits, for the figures).
fn check_plan_text(text: &str, rules: &Rules, plan: &str) -> (Vec<Violation>, Vec<WeekFigures>) {
    match parse_plan(text) {
        Ok(parsed) => {
            let event_day = parsed.start_date.and_then(|start| {
                event::event_day(start, parsed.total_weeks, parsed.profile.event_date)
            });
            let violations = validate::check_plan(
                &parsed.overview,
                &parsed.weeks,
                &parsed.profile,
                parsed.total_weeks,
                event_day,
                rules,
            )
            .into_iter()
            .map(in_file)
            .collect();
            let weeks = parsed
                .weeks
                .iter()
                .map(|week| {
                    let entry = parsed
                        .overview
                        .weekly_overview
                        .iter()
                        .find(|entry| entry.week_number == week.week_number);
                    WeekFigures {
                        plan: plan.to_string(),
                        week_number: week.week_number,
                        tss: week.tss(),
                        hours: week.hours(),
                        target_tss: entry.map(|entry| entry.target_tss),
                        target_hours: entry.map(|entry| entry.total_hours),
                    }
                })
                .collect();
            (violations, weeks)
        }
        Err(problems) => (problems, Vec::new()),
    }
}
