//! The two tools: their JSON Schemas, and the parsing of untrusted tool arguments into plan
//! types. Parsing reports every bad element by path, so a model can repair all of them at once.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::domain::plan::{
    partial_repeat, PlanOverview, Repeat, Segment, Step, WeekDetails, WeekOverview, Workout,
    MAX_SETS,
};
use crate::domain::validate::{Severity, Violation, MAX_POWER_PCT};
use crate::domain::{Phase, SegmentKind, Weekday};
use crate::llm::ToolSpec;

pub const CREATE_PLAN_OVERVIEW: &str = "create_plan_overview";
pub const ADD_WEEK_DETAILS: &str = "add_week_details";
/// The longest arguments parsed. A 52-week overview written generously is about 60 KB; past
/// this, the answer is refused unread (a repairable violation), before any parse.
pub const MAX_ARGUMENTS_BYTES: usize = 256 * 1024;

/// Output tokens a `create_plan_overview` answer may take: a fixed part for the notes and
/// guidance, and a part per week. The built-in coach's answer is about 1,600 bytes plus 1,040
/// a week as compact JSON, which is 530 + 350 tokens a week even at a dense 3 bytes a token;
/// the cap leaves room for a model's wordier text. Every provider sends it as its own output
/// cap, so a model that rambles stops here instead of at the server's context end.
pub const OVERVIEW_OUTPUT_TOKENS_BASE: u32 = 2_000;
pub const OVERVIEW_OUTPUT_TOKENS_PER_WEEK: u32 = 400;
/// Output tokens an `add_week_details` answer may take: the coach's largest week is about
/// 9,800 bytes (3,300 tokens at 3 bytes a token), nearly twice that fits.
pub const WEEK_OUTPUT_TOKENS: u32 = 6_000;

/// The output cap of the overview request of a plan of `total_weeks` weeks.
pub fn overview_output_tokens(total_weeks: u32) -> u32 {
    OVERVIEW_OUTPUT_TOKENS_BASE
        .saturating_add(OVERVIEW_OUTPUT_TOKENS_PER_WEEK.saturating_mul(total_weeks))
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|item| name(*item)).collect()
}

/// The `create_plan_overview` tool for a plan of `total_weeks` weeks.
pub fn overview_tool(total_weeks: u32) -> ToolSpec {
    let weekdays = names(&Weekday::ALL, Weekday::name);
    let phases = names(&Phase::ALL, Phase::name);
    let entry = json!({
        "type": "object",
        "properties": {
            "week_number": {"type": "integer", "minimum": 1, "maximum": total_weeks, "description": "1-based week number"},
            "phase": {"type": "string", "enum": phases},
            "phase_rationale": {"type": "string", "description": "why this week sits in this phase"},
            "weekly_focus": {"type": "string", "description": "the main training aim of the week"},
            "weekly_watch_points": {"type": "string", "description": "what the athlete should watch for"},
            "training_days": {"type": "array", "items": {"type": "string", "enum": weekdays}, "description": "the weekdays with a workout, each once, all available to the athlete"},
            "target_tss": {"type": "number", "minimum": 0, "description": "planned Training Stress Score of the week"},
            "hard_days": {"type": "integer", "minimum": 0, "maximum": 3},
            "easy_days": {"type": "integer", "minimum": 0},
            "rest_days": {"type": "integer", "minimum": 0},
            "total_hours": {"type": "number", "exclusiveMinimum": 0, "description": "planned riding hours of the week"}
        },
        "required": ["week_number", "phase", "phase_rationale", "weekly_focus", "weekly_watch_points", "training_days", "target_tss", "hard_days", "easy_days", "rest_days", "total_hours"],
        "additionalProperties": false
    });
    ToolSpec {
        name: CREATE_PLAN_OVERVIEW,
        description: "Record the week-by-week overview of the training plan: one entry per week with its phase, focus, training days, target TSS and hours.",
        parameters: std::sync::Arc::new(json!({
            "type": "object",
            "properties": {
                "total_weeks": {"type": "integer", "description": "number of weeks in the plan; must equal the requested length"},
                "target_ftp": {"type": "number", "description": "FTP in watts the plan aims for at its end"},
                "coaching_notes": {"type": "string", "description": "the coach's explanation of the plan"},
                "monitoring_guidance": {"type": "string", "description": "how the athlete should monitor fatigue and progress"},
                "weekly_overview": {"type": "array", "items": entry, "minItems": total_weeks, "maxItems": total_weeks}
            },
            "required": ["total_weeks", "target_ftp", "coaching_notes", "monitoring_guidance", "weekly_overview"],
            "additionalProperties": false
        })),
    }
}

/// The `add_week_details` tool.
/// The `add_week_details` tool. Built once: every week request of every run offers it.
pub fn week_tool() -> ToolSpec {
    static TOOL: std::sync::OnceLock<ToolSpec> = std::sync::OnceLock::new();
    TOOL.get_or_init(build_week_tool).clone()
}

fn build_week_tool() -> ToolSpec {
    let weekdays = names(&Weekday::ALL, Weekday::name);
    let kinds = names(&SegmentKind::ALL, SegmentKind::name);
    // A repeat's steps may be seconds long (0.25 = 15 s). Their power has no bounds here: a
    // short sprint may go above MAX_POWER_PCT, and the validator names any value out of range.
    // Kept small: every week request carries this schema.
    let step = json!({
        "type": ["object", "null"],
        "properties": {
            "duration_min": {"type": "number", "exclusiveMinimum": 0, "description": "minutes, fractions allowed (0.25 = 15 s)"},
            "power_low_pct": {"type": "number"},
            "power_high_pct": {"type": ["number", "null"]},
            "description": {"type": "string"}
        },
        "required": ["duration_min", "power_low_pct", "power_high_pct", "description"],
        "additionalProperties": false
    });
    let segment = json!({
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": kinds},
            "duration_min": {"type": "integer", "minimum": 1},
            "power_low_pct": {"type": "number", "minimum": 0, "maximum": MAX_POWER_PCT, "description": "lower power target in % of FTP"},
            "power_high_pct": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_POWER_PCT, "description": "upper power target in % of FTP, at least power_low_pct; null for a steady target"},
            "description": {"type": "string"},
            "sets": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_SETS, "description": "a repeat: sets x (work, recovery); null on a plain segment"},
            "work": step,
            "recovery": step
        },
        "required": ["type", "duration_min", "power_low_pct", "power_high_pct", "description", "sets", "work", "recovery"],
        "additionalProperties": false
    });
    let workout = json!({
        "type": "object",
        "properties": {
            "weekday": {"type": "string", "enum": weekdays},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "detailed_description": {"type": ["string", "null"]},
            "segments": {"type": "array", "items": segment, "minItems": 1}
        },
        "required": ["weekday", "name", "description", "detailed_description", "segments"],
        "additionalProperties": false
    });
    ToolSpec {
        name: ADD_WEEK_DETAILS,
        description: "Record the workouts of one week: exactly one workout on each training day of that week, built from segments in % of FTP.",
        parameters: std::sync::Arc::new(json!({
            "type": "object",
            "properties": {
                "week_number": {"type": "integer", "minimum": 1, "description": "the week being detailed; must equal the requested week"},
                "workouts": {"type": "array", "items": workout}
            },
            "required": ["week_number", "workouts"],
            "additionalProperties": false
        })),
    }
}

fn structural(path: &str, message: impl Into<String>) -> Violation {
    Violation {
        severity: Severity::Error,
        path: path.to_string(),
        message: message.into(),
    }
}

/// Arguments longer than `MAX_ARGUMENTS_BYTES` as the one violation to repair.
fn check_size(arguments: &str) -> Result<(), Vec<Violation>> {
    if arguments.len() > MAX_ARGUMENTS_BYTES {
        return Err(vec![structural(
            "arguments",
            format!(
                "are {} bytes; at most {MAX_ARGUMENTS_BYTES}: write shorter text fields",
                arguments.len()
            ),
        )]);
    }
    Ok(())
}

fn parse_json(arguments: &str) -> Result<Value, Vec<Violation>> {
    check_size(arguments)?;
    serde_json::from_str(arguments).map_err(|err| {
        vec![structural(
            "arguments",
            format!("are not valid JSON: {err}"),
        )]
    })
}

fn take_array(
    object: &mut serde_json::Map<String, Value>,
    key: &str,
    path: &str,
    problems: &mut Vec<Violation>,
) -> Vec<Value> {
    match object.remove(key) {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            problems.push(structural(path, "is missing, expected an array"));
            Vec::new()
        }
        Some(other) => {
            problems.push(structural(
                path,
                format!("expected an array, found {other}"),
            ));
            Vec::new()
        }
    }
}

fn typed<T: DeserializeOwned>(
    value: Value,
    path: &str,
    problems: &mut Vec<Violation>,
) -> Option<T> {
    let located = match &value {
        Value::Object(object) => Some(object.clone()),
        _ => None,
    };
    match serde_json::from_value::<T>(value) {
        Ok(typed) => Some(typed),
        Err(err) => {
            let at = located
                .and_then(|object| culprit::<T>(&object))
                .map_or_else(|| path.to_string(), |key| field_path(path, &key));
            problems.push(structural(&at, err.to_string()));
            None
        }
    }
}

/// The one key of `object` that makes it fail to parse as `T`, if there is exactly such a key:
/// the object parses without it, or fails only because it is then missing. serde's messages
/// ("invalid type: floating point `6.34`, expected i64") name the value but not the field; this
/// finds the field, so every type error is reported at its path. It runs only on a failure.
fn culprit<T: DeserializeOwned>(object: &serde_json::Map<String, Value>) -> Option<String> {
    object.keys().find_map(|key| {
        let mut without = object.clone();
        without.remove(key);
        let missing = format!("missing field `{key}`");
        match serde_json::from_value::<T>(Value::Object(without)) {
            Ok(_) => Some(key.clone()),
            Err(err) if err.to_string() == missing => Some(key.clone()),
            Err(_) => None,
        }
    })
}

/// The path of `key` inside the object at `path`: tool arguments' own keys have no prefix
/// (`week_number`, `weekly_plan[3].week_number`), every other object's are dotted.
fn field_path(path: &str, key: &str) -> String {
    match path.strip_suffix("arguments") {
        Some(prefix) => format!("{prefix}{key}"),
        None => format!("{path}.{key}"),
    }
}

/// Parses `create_plan_overview` arguments. Structural problems come back as violations.
pub fn parse_overview(arguments: &str) -> Result<PlanOverview, Vec<Violation>> {
    let mut value = parse_json(arguments)?;
    normalize_overview(&mut value);
    overview_from_value(value)
}

pub fn overview_from_value(value: Value) -> Result<PlanOverview, Vec<Violation>> {
    let Value::Object(mut object) = value else {
        return Err(vec![structural("arguments", "expected a JSON object")]);
    };
    let mut problems = Vec::new();
    let items = take_array(
        &mut object,
        "weekly_overview",
        "weekly_overview",
        &mut problems,
    );
    let mut entries = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        if let Some(entry) =
            typed::<WeekOverview>(item, &format!("weekly_overview[{index}]"), &mut problems)
        {
            entries.push(entry);
        }
    }
    object.insert("weekly_overview".to_string(), Value::Array(Vec::new()));
    let head = typed::<PlanOverview>(Value::Object(object), "arguments", &mut problems);
    match head {
        Some(mut overview) if problems.is_empty() => {
            overview.weekly_overview = entries;
            Ok(overview)
        }
        _ => Err(problems),
    }
}

/// Parses `add_week_details` arguments. Arguments already in the exact shape parse straight
/// into the types: normalising could change nothing in them (it only rewrites numbers given as
/// strings or as whole floats, which that parse refuses). Anything else takes the lenient
/// path, which names every problem by its path. Structural problems come back as violations.
pub fn parse_week(arguments: &str) -> Result<WeekDetails, Vec<Violation>> {
    check_size(arguments)?;
    if let Ok(week) = serde_json::from_str::<WeekDetails>(arguments) {
        return Ok(week);
    }
    parse_week_leniently(arguments)
}

/// The lenient path of `parse_week` alone (tests compare both on exact arguments).
pub fn parse_week_leniently(arguments: &str) -> Result<WeekDetails, Vec<Violation>> {
    let mut value = parse_json(arguments)?;
    normalize_week(&mut value);
    week_from_value(value, "")
}

/// `prefix` is prepended to paths, e.g. `weekly_plan[3].` when reading a plan file.
pub fn week_from_value(value: Value, prefix: &str) -> Result<WeekDetails, Vec<Violation>> {
    let Value::Object(mut object) = value else {
        return Err(vec![structural(
            &format!("{prefix}arguments"),
            "expected a JSON object",
        )]);
    };
    let mut problems = Vec::new();
    let items = take_array(
        &mut object,
        "workouts",
        &format!("{prefix}workouts"),
        &mut problems,
    );
    let mut workouts = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let path = format!("{prefix}workouts[{index}]");
        let Value::Object(mut workout_object) = item else {
            problems.push(structural(&path, "expected an object"));
            continue;
        };
        let segment_items = take_array(
            &mut workout_object,
            "segments",
            &format!("{path}.segments"),
            &mut problems,
        );
        let mut segments = Vec::with_capacity(segment_items.len());
        for (segment_index, segment_item) in segment_items.into_iter().enumerate() {
            let segment_path = format!("{path}.segments[{segment_index}]");
            if let Some(segment) = segment_from_value(segment_item, &segment_path, &mut problems) {
                segments.push(segment);
            }
        }
        workout_object.insert("segments".to_string(), Value::Array(Vec::new()));
        if let Some(mut workout) =
            typed::<Workout>(Value::Object(workout_object), &path, &mut problems)
        {
            workout.segments = segments;
            workouts.push(workout);
        }
    }
    object.insert("workouts".to_string(), Value::Array(Vec::new()));
    let head = typed::<WeekDetails>(
        Value::Object(object),
        &format!("{prefix}arguments"),
        &mut problems,
    );
    match head {
        Some(mut week) if problems.is_empty() => {
            week.workouts = workouts;
            Ok(week)
        }
        _ => Err(problems),
    }
}

/// One segment, the parts of its repeat parsed under their own paths (`….sets`, `….work`,
/// `….recovery`), and half a repeat (`sets` without `work`, or steps without `sets`) reported
/// at the missing key.
fn segment_from_value(value: Value, path: &str, problems: &mut Vec<Violation>) -> Option<Segment> {
    let Value::Object(mut object) = value else {
        problems.push(structural(path, "expected an object"));
        return None;
    };
    let before = problems.len();
    let mut part = |key: &str| object.remove(key).filter(|value| !value.is_null());
    let (sets, work, recovery) = (part("sets"), part("work"), part("recovery"));
    let sets = sets.and_then(|value| typed::<i64>(value, &format!("{path}.sets"), problems));
    let work = work.and_then(|value| typed::<Step>(value, &format!("{path}.work"), problems));
    let recovery =
        recovery.and_then(|value| typed::<Step>(value, &format!("{path}.recovery"), problems));
    let segment = typed::<Segment>(Value::Object(object), path, problems);
    if problems.len() > before {
        return None;
    }
    if let Some(partial) = partial_repeat(sets.is_some(), work.is_some(), recovery.is_some()) {
        problems.push(structural(
            &format!("{path}.{}", partial.missing),
            partial.to_string(),
        ));
        return None;
    }
    segment.map(|mut segment| {
        if let (Some(sets), Some(work)) = (sets, work) {
            segment.repeat = Some(Repeat {
                sets,
                work,
                recovery,
            });
        }
        segment
    })
}

/// Accepts harmless variations seen in plans made elsewhere and in model output: day counts
/// given as lists of days, training days given as the seed's per-day objects, watch points
/// given as a list, numbers given as numeric strings or as whole floats.
pub fn normalize_overview(value: &mut Value) {
    if let Some(entries) = value
        .get_mut("weekly_overview")
        .and_then(Value::as_array_mut)
    {
        for entry in entries {
            normalize_overview_entry(entry);
        }
    }
    if let Some(object) = value.as_object_mut() {
        for key in ["total_weeks", "target_ftp"] {
            numeric_string(object.get_mut(key));
        }
        whole_number(object.get_mut("total_weeks"));
        for key in ["coaching_notes", "monitoring_guidance"] {
            join_text_list(object.get_mut(key));
        }
    }
}

pub fn normalize_overview_entry(entry: &mut Value) {
    let Some(object) = entry.as_object_mut() else {
        return;
    };
    for key in ["hard_days", "easy_days", "rest_days"] {
        if let Some(slot) = object.get_mut(key) {
            if let Value::Array(days) = slot {
                *slot = Value::from(days.len());
            }
        }
    }
    if let Some(Value::String(days)) = object.get("training_days").cloned() {
        let list: Vec<Value> = days
            .split([',', ';'])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| Value::String(part.to_string()))
            .collect();
        object.insert("training_days".to_string(), Value::Array(list));
    }
    day_objects_to_names(object);
    for key in [
        "week_number",
        "target_tss",
        "total_hours",
        "hard_days",
        "easy_days",
        "rest_days",
    ] {
        numeric_string(object.get_mut(key));
    }
    for key in ["week_number", "hard_days", "easy_days", "rest_days"] {
        whole_number(object.get_mut(key));
    }
    for key in ["phase_rationale", "weekly_focus", "weekly_watch_points"] {
        join_text_list(object.get_mut(key));
    }
}

/// Workout types the seed counts as a hard day when a day is given as an object.
const HARD_WORKOUT_TYPES: [&str; 3] = ["threshold", "vo2max", "sweetspot"];

/// Later seed overviews list `training_days` as one object per weekday,
/// `{"weekday": "Tuesday", "workout_type": "rest"}` or `{"weekday": …, "workout_types": [...]}`,
/// and may then leave out the day counts. A day whose types are all `rest` is a rest day; every
/// other listed day is a training day, hard when one of its types is threshold, vo2max or
/// sweetspot (the seed's own rule). Counts the entry does give are kept, so the rules still
/// compare them with the days.
fn day_objects_to_names(object: &mut serde_json::Map<String, Value>) {
    let Some(Value::Array(days)) = object.get("training_days") else {
        return;
    };
    if !days.iter().any(Value::is_object) {
        return;
    }
    let mut names = Vec::with_capacity(days.len());
    let mut hard = 0_usize;
    for day in days {
        let Value::Object(day) = day else {
            names.push(day.clone());
            continue;
        };
        let types: Vec<String> = match day.get("workout_types").or_else(|| day.get("workout_type"))
        {
            Some(Value::String(kind)) => vec![kind.trim().to_ascii_lowercase()],
            Some(Value::Array(kinds)) => kinds
                .iter()
                .filter_map(Value::as_str)
                .map(|kind| kind.trim().to_ascii_lowercase())
                .collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && types.iter().all(|kind| kind == "rest") {
            continue;
        }
        if types
            .iter()
            .any(|kind| HARD_WORKOUT_TYPES.contains(&kind.as_str()))
        {
            hard += 1;
        }
        names.push(day.get("weekday").cloned().unwrap_or(Value::Null));
    }
    let training = names.len();
    object.insert("training_days".to_string(), Value::Array(names));
    for (key, count) in [
        ("hard_days", hard),
        ("easy_days", training.saturating_sub(hard)),
        ("rest_days", 7_usize.saturating_sub(training)),
    ] {
        if object.get(key).is_none_or(Value::is_null) {
            object.insert(key.to_string(), Value::from(count));
        }
    }
}

/// The numbers of a segment and of a repeat's steps.
const STEP_NUMBERS: [&str; 3] = ["duration_min", "power_low_pct", "power_high_pct"];

pub fn normalize_week(value: &mut Value) {
    if let Some(object) = value.as_object_mut() {
        numeric_string(object.get_mut("week_number"));
        whole_number(object.get_mut("week_number"));
    }
    let Some(workouts) = value.get_mut("workouts").and_then(Value::as_array_mut) else {
        return;
    };
    for workout in workouts {
        let Some(segments) = workout.get_mut("segments").and_then(Value::as_array_mut) else {
            continue;
        };
        for segment in segments {
            let Some(object) = segment.as_object_mut() else {
                continue;
            };
            for key in STEP_NUMBERS.into_iter().chain(["sets"]) {
                numeric_string(object.get_mut(key));
            }
            whole_number(object.get_mut("sets"));
            for key in ["work", "recovery"] {
                if let Some(step) = object.get_mut(key).and_then(Value::as_object_mut) {
                    for key in STEP_NUMBERS {
                        numeric_string(step.get_mut(key));
                    }
                }
            }
        }
    }
}

/// A whole number written as 20.0 (Gemini sends every number as a float, and the seed stored
/// them as received) is still a whole number of minutes, days or weeks.
fn whole_number(slot: Option<&mut Value>) {
    let Some(slot) = slot else { return };
    if slot.is_i64() || slot.is_u64() {
        return;
    }
    if let Some(number) = slot
        .as_f64()
        .filter(|number| number.fract() == 0.0 && number.abs() < 1e15)
    {
        *slot = Value::from(number as i64);
    }
}

fn numeric_string(slot: Option<&mut Value>) {
    let Some(slot) = slot else { return };
    if let Value::String(text) = slot {
        if let Ok(number) = text.trim().parse::<i64>() {
            *slot = Value::from(number);
        } else if let Ok(number) = text.trim().parse::<f64>() {
            if number.is_finite() {
                *slot = Value::from(number);
            }
        }
    }
}

fn join_text_list(slot: Option<&mut Value>) {
    let Some(slot) = slot else { return };
    if let Value::Array(items) = slot {
        if items.iter().all(Value::is_string) {
            let joined = items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ");
            *slot = Value::String(joined);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact-shape fast path gives what the lenient path gives, on every week the coach
    /// writes and on arguments with unusual but exact spellings.
    #[test]
    fn the_fast_path_agrees_with_the_lenient_one() {
        let profile = crate::domain::profile::parse_profile(
            r#"{"ftp_w":240,"weekly_hours":9,"available_days":["Monday","Wednesday","Saturday","Sunday"]}"#,
        )
        .unwrap();
        let rules = crate::domain::validate::Rules::default();
        for weeks in [1, 5, 12, 52] {
            let overview = crate::coach::create_plan_overview(&profile, weeks, None, &rules);
            for week in 1..=weeks {
                let details =
                    crate::coach::add_week_details(&profile, &overview, week, None, &rules);
                let arguments = serde_json::to_string(&details).unwrap();
                assert_eq!(parse_week(&arguments), parse_week_leniently(&arguments));
                assert_eq!(parse_week(&arguments).unwrap(), details);
            }
        }
        for arguments in [
            r#"{"week_number": 1, "workouts": [{"weekday": "monday", "name": "a", "description": "b", "segments": [{"type": "STEADY", "duration_min": 5, "power_low_pct": 50, "description": "", "extra": 1}]}], "note": "x"}"#,
            r#"{"week_number": 1, "workouts": []}"#,
        ] {
            assert_eq!(
                parse_week(arguments),
                parse_week_leniently(arguments),
                "{arguments}"
            );
        }
    }

    /// Every bad element is reported, each at the field that is wrong: serde's own messages
    /// name the value but not the field.
    #[test]
    fn every_bad_element_is_reported_with_its_path() {
        let problems = parse_week(
            r#"{"week_number": 2, "workouts": [
                {"weekday": "Funday", "name": "a", "description": "b", "segments": []},
                {"weekday": "Monday", "name": "a", "description": "b", "segments": [{"type": "sprint", "duration_min": 5, "power_low_pct": 50, "description": ""}]}
            ]}"#,
        )
        .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["workouts[0].weekday", "workouts[1].segments[0].type"]
        );
        assert!(
            problems[0].message.contains("Funday"),
            "{}",
            problems[0].message
        );
        assert!(
            problems[1].message.contains("sprint"),
            "{}",
            problems[1].message
        );
    }

    /// The seed's repeat blocks read as `Repeat`s; half a repeat, and a bad value inside one,
    /// are reported at the key to fix.
    #[test]
    fn repeats_read_flat_and_their_problems_name_the_key() {
        let week = parse_week(
            r#"{"week_number": 1, "workouts": [{"weekday": "Monday", "name": "a", "description": "b", "detailed_description": null, "segments": [
                {"type": "steady", "duration_min": 10, "power_low_pct": 60, "power_high_pct": null, "description": "", "sets": null, "work": null, "recovery": null},
                {"type": "interval", "duration_min": 6.34, "power_low_pct": 250, "power_high_pct": 300, "description": "",
                 "sets": 2.0, "work": {"duration_min": 0.17, "power_low_pct": 250, "power_high_pct": 300, "description": "Hard"},
                 "recovery": {"duration_min": "3", "power_low_pct": 50, "description": "Easy"}}
            ]}]}"#,
        )
        .unwrap();
        let segments = &week.workouts[0].segments;
        assert_eq!(segments[0].repeat, None);
        let repeat = segments[1].repeat.as_ref().expect("a repeat");
        assert_eq!(repeat.sets, 2);
        assert_eq!(repeat.work.duration_min, 0.17);
        assert_eq!(
            repeat.recovery.as_ref().map(|step| step.duration_min),
            Some(3.0)
        );
        // Written back flat, as read; a plain segment gains no keys.
        let written = serde_json::to_value(&week).unwrap();
        assert_eq!(written["workouts"][0]["segments"][1]["sets"], 2);
        assert!(written["workouts"][0]["segments"][0].get("sets").is_none());

        let problems = parse_week(
            r#"{"week_number": 1, "workouts": [{"weekday": "Monday", "name": "a", "description": "b", "segments": [
                {"type": "interval", "duration_min": 10, "power_low_pct": 60, "description": "", "sets": 3},
                {"type": "interval", "duration_min": 10, "power_low_pct": 60, "description": "", "recovery": {"duration_min": 1, "power_low_pct": 50, "description": ""}},
                {"type": "interval", "duration_min": 10, "power_low_pct": 60, "description": "", "sets": 2.5, "work": {"duration_min": true, "power_low_pct": 50, "description": ""}}
            ]}]}"#,
        )
        .unwrap_err();
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "workouts[0].segments[0].work",
                    "work is missing: a repeat needs `sets` and `work` (and may have `recovery`)"
                ),
                (
                    "workouts[0].segments[1].sets",
                    "sets is missing: a repeat needs `sets` and `work` (and may have `recovery`)"
                ),
                (
                    "workouts[0].segments[2].sets",
                    "invalid type: floating point `2.5`, expected i64"
                ),
                (
                    "workouts[0].segments[2].work.duration_min",
                    "invalid type: boolean `true`, expected f64"
                ),
            ]
        );
    }

    /// The week tool offers the repeat construct the way strict-mode providers need it: every
    /// key required (optional ones nullable), no other keys, and step minutes that may be
    /// fractions. (`providers::openai` checks the whole schema against strict mode's rules.)
    #[test]
    fn the_week_tool_offers_repeats_with_nullable_parts_and_fractional_steps() {
        let tool = week_tool();
        let segment =
            &tool.parameters["properties"]["workouts"]["items"]["properties"]["segments"]["items"];
        let required: Vec<&str> = segment["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for key in ["sets", "work", "recovery"] {
            assert!(required.contains(&key), "{key} is required");
        }
        assert_eq!(
            segment["properties"]["sets"]["type"],
            json!(["integer", "null"])
        );
        assert_eq!(segment["properties"]["sets"]["maximum"], json!(MAX_SETS));
        for key in ["work", "recovery"] {
            let step = &segment["properties"][key];
            assert_eq!(step["type"], json!(["object", "null"]), "{key}");
            assert_eq!(step["additionalProperties"], json!(false), "{key}");
            assert_eq!(
                step["properties"]["duration_min"]["type"], "number",
                "{key}"
            );
        }
        // Plain segments stay whole minutes.
        assert_eq!(segment["properties"]["duration_min"]["type"], "integer");
    }

    #[test]
    fn seed_day_objects_become_training_days_and_counts() {
        let mut entry = json!({"week_number": 2.0, "training_days": [
            {"weekday": "Monday", "workout_types": ["rest"]},
            {"weekday": "Tuesday", "workout_types": ["VO2max"]},
            {"weekday": "Wednesday", "workout_type": "rest"},
            {"weekday": "Thursday", "workout_type": "endurance"},
            {"weekday": "Saturday", "workout_types": ["endurance", "strength"], "optional": true}
        ]});
        normalize_overview_entry(&mut entry);
        assert_eq!(
            entry["training_days"],
            json!(["Tuesday", "Thursday", "Saturday"])
        );
        assert_eq!(
            (
                &entry["week_number"],
                &entry["hard_days"],
                &entry["easy_days"],
                &entry["rest_days"]
            ),
            (&json!(2), &json!(1), &json!(2), &json!(4))
        );

        // Counts the entry gives are kept for the rules to check.
        let mut given = json!({"training_days": [{"weekday": "Friday", "workout_type": "tempo"}], "hard_days": 2});
        normalize_overview_entry(&mut given);
        assert_eq!(
            (
                &given["training_days"],
                &given["hard_days"],
                &given["easy_days"]
            ),
            (&json!(["Friday"]), &json!(2), &json!(1))
        );
    }

    #[test]
    fn oversized_arguments_are_one_violation_before_any_parse() {
        let arguments = format!(
            r#"{{"total_weeks": 4, "coaching_notes": "{}"}}"#,
            "x".repeat(MAX_ARGUMENTS_BYTES)
        );
        for problems in [
            parse_overview(&arguments).unwrap_err(),
            parse_week(&arguments).unwrap_err(),
        ] {
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].path, "arguments");
            assert_eq!(
                problems[0].message,
                format!(
                    "are {} bytes; at most 262144: write shorter text fields",
                    arguments.len()
                )
            );
        }
    }

    #[test]
    fn not_json_is_one_clear_violation() {
        let problems = parse_overview("{\"total_weeks\": 4,").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("are not valid JSON"));
    }
}
