//! The plan file of SPEC §7, pure: assembling the document from a finished run (3c), and
//! reading any plan file (ours, or the seed's `athlete_profile` / `plan_metadata` /
//! `weekly_plan` format) back into plan types for `periodize validate`.

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Map, Value};

use crate::domain::plan::{PlanOverview, WeekDetails};
use crate::domain::profile::{self, AthleteProfile};
use crate::domain::validate::{self, Rules, Severity, Violation};
use crate::domain::Weekday;
use crate::llm::{StepId, Usage};
use crate::tools;
use crate::workflow::Run;

fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "total_tokens": usage.total(),
    })
}

fn date_of(start: NaiveDate, week_number: i64, day: Weekday) -> NaiveDate {
    // start is a Monday-based week start chosen by the engine; weeks are 7 days apart.
    let start_monday = start - Duration::days(i64::from(start.weekday().num_days_from_monday()));
    start_monday + Duration::days((week_number - 1) * 7 + day.index() as i64)
}

/// The plan document of a run whose weeks are all accepted. Deterministic: the same run
/// state gives the same bytes, which is what makes a re-write after a crash identical.
pub fn plan_document(run: &Run) -> Value {
    let spec = &run.spec;
    let overview = run.overview().expect("3c runs only with an accepted overview");
    let current_ftp = spec.profile.ftp_w;
    let gain_w = overview.target_ftp - current_ftp;
    let mut weekly_plan = Vec::new();
    for entry in &overview.weekly_overview {
        let week_number = u32::try_from(entry.week_number).expect("validated week numbers are 1..=52");
        let details = run.week(week_number).expect("3c runs only with every week accepted");
        let mut workouts = Vec::new();
        let mut ordered = details.workouts.clone();
        ordered.sort_by_key(|workout| workout.weekday);
        for workout in &ordered {
            let mut object = serde_json::to_value(workout).expect("plan types serialize");
            let object = object.as_object_mut().expect("a workout is an object");
            object.insert("date".into(), json!(date_of(spec.start_date, entry.week_number, workout.weekday).to_string()));
            object.insert("duration_min".into(), json!(workout.total_minutes()));
            object.insert("tss".into(), json!(workout.tss()));
            workouts.push(Value::Object(object.clone()));
        }
        let mut week = serde_json::to_value(entry).expect("plan types serialize");
        let week_object = week.as_object_mut().expect("an overview entry is an object");
        week_object.insert("start_date".into(), json!(date_of(spec.start_date, entry.week_number, Weekday::Monday).to_string()));
        week_object.insert("workouts".into(), Value::Array(workouts));
        week_object.insert("week_tss".into(), json!(details.tss()));
        week_object.insert("week_hours".into(), json!(details.hours()));
        weekly_plan.push(week);
    }
    let end_date = date_of(spec.start_date, i64::from(spec.total_weeks), Weekday::Sunday);

    let overview_step = run.step(StepId::Overview);
    let mut weeks_usage = Usage::default();
    let mut weeks_attempts = 0;
    for week in 1..=spec.total_weeks {
        let step = run.step(StepId::Week(week));
        weeks_usage.add(&step.usage());
        weeks_attempts += step.attempts.len();
    }
    let overview_done_ms = overview_step.accepted_at_ms.unwrap_or(spec.created_at_ms);
    let weeks_done_ms = run.finalizing_at_ms.unwrap_or(overview_done_ms);
    let generated_at = chrono::DateTime::from_timestamp_millis(i64::try_from(weeks_done_ms).unwrap_or(0)).unwrap_or_default();

    json!({
        "athlete_profile": profile::canonical_json(&spec.profile),
        "plan_metadata": {
            "total_weeks": spec.total_weeks,
            "current_ftp": current_ftp,
            "target_ftp": overview.target_ftp,
            "ftp_gain_watts": (gain_w * 10.0).round() / 10.0,
            "ftp_gain_percent": (gain_w / current_ftp * 1000.0).round() / 10.0,
            "start_date": date_of(spec.start_date, 1, Weekday::Monday).to_string(),
            "end_date": end_date.to_string(),
            "event_date": spec.profile.event_date.map(|date| date.to_string()),
            "generated_at": generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
        "coaching_notes": overview.coaching_notes,
        "monitoring_guidance": overview.monitoring_guidance,
        "weekly_plan": weekly_plan,
        "validation": {
            "errors": 0,
            "warnings": run.plan_warnings.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        },
        "run": {
            "id": spec.run_id.to_string(),
            "provider": spec.provider,
            "model": spec.model,
            "prompt_hash": spec.prompt_hash,
            "attempts": run.total_attempts(),
            "tokens": usage_json(&run.total_usage()),
            "phases": {
                "overview": {
                    "attempts": overview_step.attempts.len(),
                    "tokens": usage_json(&overview_step.usage()),
                    "wall_ms": overview_done_ms.saturating_sub(spec.created_at_ms),
                },
                "weeks": {
                    "attempts": weeks_attempts,
                    "tokens": usage_json(&weeks_usage),
                    "wall_ms": weeks_done_ms.saturating_sub(overview_done_ms),
                },
                "finalize": { "attempts": 0, "tokens": usage_json(&Usage::default()) },
            },
        },
    })
}

/// The bytes of the plan file: pretty JSON and a final newline.
pub fn render(run: &Run) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&plan_document(run)).expect("a JSON value always serializes");
    bytes.push(b'\n');
    bytes
}

/// A plan file read back for validation.
#[derive(Debug)]
pub struct ParsedPlan {
    pub profile: AthleteProfile,
    pub overview: PlanOverview,
    pub weeks: Vec<WeekDetails>,
    pub total_weeks: u32,
}

fn problem(path: &str, message: impl Into<String>) -> Violation {
    Violation { severity: Severity::Error, path: path.to_string(), message: message.into() }
}

/// Reads a plan file in our format or the seed's. Structural problems come back as
/// violations, each with its path.
pub fn parse_plan(text: &str) -> Result<ParsedPlan, Vec<Violation>> {
    let value: Value = serde_json::from_str(text).map_err(|err| vec![problem("plan", format!("is not valid JSON: {err}"))])?;
    let Value::Object(root) = value else {
        return Err(vec![problem("plan", "expected a JSON object with athlete_profile, plan_metadata and weekly_plan")]);
    };
    let mut problems = Vec::new();
    let profile = match root.get("athlete_profile") {
        Some(value) => match profile::profile_from_value(value) {
            Ok(profile) => Some(profile),
            Err(err) => {
                problems.push(problem("athlete_profile", err.to_string()));
                None
            }
        },
        None => {
            problems.push(problem("athlete_profile", "is missing"));
            None
        }
    };
    let empty = Map::new();
    let metadata = root.get("plan_metadata").and_then(Value::as_object).unwrap_or(&empty);
    let weekly_plan = match root.get("weekly_plan") {
        Some(Value::Array(items)) => items.clone(),
        _ => {
            problems.push(problem("weekly_plan", "is missing or not an array"));
            Vec::new()
        }
    };
    let total_weeks = metadata
        .get("total_weeks")
        .and_then(Value::as_u64)
        .or_else(|| root.get("total_weeks").and_then(Value::as_u64))
        .unwrap_or(weekly_plan.len() as u64);
    let total_weeks = u32::try_from(total_weeks).unwrap_or(u32::MAX);
    if !(1..=52).contains(&total_weeks) {
        problems.push(problem("plan_metadata.total_weeks", format!("is {total_weeks}, expected 1 to 52")));
    }
    let target_ftp = metadata
        .get("target_ftp")
        .cloned()
        .or_else(|| profile.as_ref().map(|p| json!(p.ftp_w)))
        .unwrap_or(Value::Null);
    let text_of = |key: &str| root.get(key).cloned().or_else(|| metadata.get(key).cloned()).unwrap_or(json!(""));

    let mut entries = Vec::new();
    let mut weeks = Vec::new();
    for (index, item) in weekly_plan.iter().enumerate() {
        let Value::Object(object) = item else {
            problems.push(problem(&format!("weekly_plan[{index}]"), "expected an object"));
            continue;
        };
        let mut entry = Value::Object(object.clone());
        if let Some(entry_object) = entry.as_object_mut() {
            entry_object.remove("workouts");
            // Plans made elsewhere may omit the free-text fields; they carry no rule.
            for key in ["phase_rationale", "weekly_focus", "weekly_watch_points"] {
                entry_object.entry(key).or_insert(json!(""));
            }
        }
        tools::normalize_overview_entry(&mut entry);
        entries.push(entry);
        let mut week = json!({
            "week_number": object.get("week_number").cloned().unwrap_or(Value::Null),
            "workouts": object.get("workouts").cloned().unwrap_or(Value::Null),
        });
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
            problems.extend(found.into_iter().map(|mut violation| {
                violation.path = violation.path.replace("weekly_overview", "weekly_plan");
                violation
            }));
            None
        }
    };
    match (profile, overview) {
        (Some(profile), Some(overview)) if problems.is_empty() => Ok(ParsedPlan { profile, overview, weeks, total_weeks }),
        _ => Err(problems),
    }
}

/// Every rule of SPEC §6 on a plan file's text.
pub fn validate_plan_text(text: &str, rules: &Rules) -> Vec<Violation> {
    match parse_plan(text) {
        Ok(plan) => validate::check_plan(&plan.overview, &plan.weeks, &plan.profile, plan.total_weeks, rules),
        Err(problems) => problems,
    }
}
