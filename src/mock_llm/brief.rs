//! What the mock model "thinks": the brief read from the request's `x-periodize-brief` header
//! (sent only when periodize runs with `PERIODIZE_MOCK_BRIEF=1`, so no real vendor sees it), the
//! built-in coach's arguments for it, and the deliberately broken variants of those arguments
//! that faults send. Pure: no IO.

use serde_json::{Map, Value};

use crate::coach;
use crate::domain::event::EventDay;
use crate::domain::plan::PlanOverview;
use crate::domain::profile::{profile_from_value, AthleteProfile};
use crate::domain::validate::Rules;
use crate::domain::Weekday;
use crate::llm::StepId;
use crate::providers::{MOCK_BRIEF_ENV, MOCK_BRIEF_HEADER};
use crate::tools::{ADD_WEEK_DETAILS, CREATE_PLAN_OVERVIEW};

/// The most weeks a plan may have (SPEC §2.1); it also bounds the step keys the stats hold.
const MAX_WEEKS: u32 = 52;

/// The facts of one step, as the brief header states them; a week's overview is the coach's
/// for the same profile, plan length and rules, which is what the mock answered 3a with.
#[derive(Debug, Clone)]
pub(crate) struct Brief {
    pub step: StepId,
    pub total_weeks: u32,
    pub profile: AthleteProfile,
    pub event: Option<EventDay>,
    pub rules: Rules,
    pub overview: Option<PlanOverview>,
}

impl Brief {
    /// The tool the step must be answered with.
    pub fn tool_name(&self) -> &'static str {
        match self.step {
            StepId::Overview => CREATE_PLAN_OVERVIEW,
            StepId::Week(_) => ADD_WEEK_DETAILS,
        }
    }

    /// The other tool: what a confused model calls.
    pub fn wrong_tool_name(&self) -> &'static str {
        match self.step {
            StepId::Overview => ADD_WEEK_DETAILS,
            StepId::Week(_) => CREATE_PLAN_OVERVIEW,
        }
    }
}

/// Reads the brief from the value of the brief header, if the request has one.
pub(crate) fn from_header(value: Option<&[u8]>) -> Result<Brief, String> {
    let raw = value.ok_or_else(|| {
        format!(
            "the mock model needs each request's brief in the {MOCK_BRIEF_HEADER} header: run periodize with {MOCK_BRIEF_ENV}=1"
        )
    })?;
    let text = std::str::from_utf8(raw)
        .map_err(|_| format!("the {MOCK_BRIEF_HEADER} header is not ASCII JSON"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|err| format!("the {MOCK_BRIEF_HEADER} header is not JSON: {err}"))?;
    parse_brief(&value)
}

fn parse_brief(value: &Value) -> Result<Brief, String> {
    let object = value.as_object().ok_or("the brief must be a JSON object")?;
    let total_weeks = small_int(object, "total_weeks")?;
    if !(1..=MAX_WEEKS).contains(&total_weeks) {
        return Err(format!(
            "brief.total_weeks is {total_weeks}, expected 1..={MAX_WEEKS}"
        ));
    }
    let profile = profile_from_value(object.get("profile").unwrap_or(&Value::Null))
        .map_err(|err| format!("brief.profile: {err}"))?;
    let rules: Rules = serde_json::from_value(object.get("rules").cloned().unwrap_or(Value::Null))
        .map_err(|err| format!("brief.rules: {err}"))?;
    let step = match object.get("step").and_then(Value::as_str) {
        Some("overview") => StepId::Overview,
        Some("week") => {
            let week = small_int(object, "week_number")?;
            if !(1..=total_weeks).contains(&week) {
                return Err(format!(
                    "brief.week_number is {week}, outside the plan's 1..={total_weeks} weeks"
                ));
            }
            StepId::Week(week)
        }
        other => {
            return Err(format!(
                "brief.step is {}, expected \"overview\" or \"week\"",
                other.map_or("missing".to_string(), |text| format!("{text:?}"))
            ))
        }
    };
    let event = match object.get("event_day") {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_event_day(value, total_weeks)?),
    };
    let overview = match step {
        StepId::Overview => None,
        StepId::Week(_) => Some(coach::create_plan_overview(
            &profile,
            total_weeks,
            event,
            &rules,
        )),
    };
    Ok(Brief {
        step,
        total_weeks,
        profile,
        event,
        rules,
        overview,
    })
}

/// `{"date": "YYYY-MM-DD", "week": N, "weekday": "Saturday"}`, in the plan's last week.
fn parse_event_day(value: &Value, total_weeks: u32) -> Result<EventDay, String> {
    let object = value
        .as_object()
        .ok_or("brief.event_day must be an object")?;
    let date = object
        .get("date")
        .and_then(Value::as_str)
        .and_then(|text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .ok_or("brief.event_day.date must be a date as YYYY-MM-DD")?;
    let week = small_int(object, "week")?;
    if week != total_weeks {
        return Err(format!(
            "brief.event_day.week is {week}, expected the plan's last week {total_weeks}"
        ));
    }
    let weekday = object
        .get("weekday")
        .and_then(Value::as_str)
        .and_then(Weekday::parse)
        .ok_or("brief.event_day.weekday must be a weekday name")?;
    Ok(EventDay {
        date,
        week,
        weekday,
    })
}

fn small_int(object: &Map<String, Value>, key: &str) -> Result<u32, String> {
    object
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|number| u32::try_from(number).ok())
        .ok_or_else(|| format!("brief.{key} must be a non-negative integer"))
}

/// The built-in coach's arguments for the step, as a JSON object.
pub(crate) fn coach_arguments(brief: &Brief) -> Result<Value, String> {
    let value = match (brief.step, &brief.overview) {
        (StepId::Overview, _) => serde_json::to_value(coach::create_plan_overview(
            &brief.profile,
            brief.total_weeks,
            brief.event,
            &brief.rules,
        )),
        (StepId::Week(week), Some(overview)) => serde_json::to_value(coach::add_week_details(
            &brief.profile,
            overview,
            week,
            brief.event,
            &brief.rules,
        )),
        (StepId::Week(_), None) => return Err("a week brief needs the overview".to_string()),
    };
    value.map_err(|err| format!("cannot serialize the coach's arguments: {err}"))
}

/// Arguments that parse but break the rules: an overview whose `total_weeks` is off by one, or
/// a week with the wrong `week_number` and a workout on a day the overview rests.
pub(crate) fn invalid_arguments(brief: &Brief, valid: &Value) -> Value {
    let mut broken = valid.clone();
    match brief.step {
        StepId::Overview => {
            broken["total_weeks"] = Value::from(brief.total_weeks + 1);
        }
        StepId::Week(week) => {
            broken["week_number"] = Value::from(week + 1);
            let training: Vec<Weekday> = brief
                .overview
                .as_ref()
                .and_then(|overview| overview.week(week))
                .map(|entry| entry.training_days.clone())
                .unwrap_or_default();
            let rest_day = Weekday::ALL.into_iter().find(|day| !training.contains(day));
            if let Some(Value::Array(workouts)) = broken.get_mut("workouts") {
                if let Some(first) = workouts.first().cloned() {
                    let mut extra = first;
                    // With all seven days training there is no rest day: a second workout on
                    // a training day breaks "exactly one workout per training day" instead.
                    if let Some(day) = rest_day {
                        extra["weekday"] = Value::from(day.name());
                    }
                    workouts.push(extra);
                }
            }
        }
    }
    broken
}

/// What a response cut by the output limit holds: the first half of the object's keys (in
/// serialization order), so required fields are missing.
pub(crate) fn truncated_object(valid: &Value) -> Value {
    match valid {
        Value::Object(map) => {
            let keep = map.len() / 2;
            Value::Object(
                map.iter()
                    .take(keep.max(1))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// The first half of a JSON text, cut on a character boundary: never valid JSON for an object.
pub(crate) fn truncated_text(text: &str) -> String {
    let half = text.chars().count() / 2;
    text.chars().take(half.max(1)).collect()
}

/// Arguments text that is not JSON: an object opened and never closed.
pub(crate) fn invalid_json_text(brief: &Brief) -> String {
    match brief.step {
        StepId::Overview => format!("{{\"total_weeks\": {},", brief.total_weeks),
        StepId::Week(week) => format!("{{\"week_number\": {week},"),
    }
}

/// The text a model writes when it does not call the tool.
pub(crate) fn chatty_text(brief: &Brief) -> String {
    match brief.step {
        StepId::Overview => format!(
            "Here is a {}-week plan for {}: build a base first, then add intensity, with a recovery week every fourth week and a taper at the end.",
            brief.total_weeks, brief.profile.name
        ),
        StepId::Week(week) => format!(
            "Week {week}: ride your training days as planned, keeping the hard sessions apart."
        ),
    }
}

/// A call written into the answer text, after a line of prose, as Hermes and Qwen chat
/// templates make a model write it: `<tool_call>{"name": …, "arguments": {…}}</tool_call>`.
pub(crate) fn call_in_text(brief: &Brief, tool: &str, arguments: &Value) -> String {
    let call = serde_json::json!({"name": tool, "arguments": arguments});
    format!("{}\n<tool_call>\n{call}\n</tool_call>", chatty_text(brief))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::{canonical_json, parse_profile};
    use crate::domain::validate::{check_overview, check_week, has_errors};
    use crate::llm::StepBrief;
    use crate::tools::{parse_overview, parse_week};

    fn profile(goals: &str) -> AthleteProfile {
        let mut value: Value = serde_json::from_str(
            r#"{"name":"Ana","ftp_w":250,"weekly_hours":6,"available_days":["Tuesday","Saturday","Sunday"]}"#,
        )
        .unwrap();
        value["goals"] = Value::from(goals);
        profile_from_value(&value).unwrap()
    }

    fn step_brief(step: StepId, goals: &str) -> StepBrief {
        let profile = profile(goals);
        let overview = coach::create_plan_overview(&profile, 5, None, &Rules::default());
        StepBrief {
            step,
            profile,
            total_weeks: 5,
            event: None,
            rules: Rules::default(),
            overview: Some(std::sync::Arc::new(overview)),
        }
    }

    fn read(brief: &StepBrief) -> Brief {
        let header = crate::providers::mock_brief(brief);
        assert!(header.is_ascii() && !header.contains('\n'), "{header}");
        from_header(Some(header.as_bytes())).unwrap()
    }

    #[test]
    fn the_brief_header_carries_any_profile_text_and_the_week_gets_the_coach_overview() {
        let goals = "Climb \"well\"\nthen descend: Mont Ventoux, Ålpe d'Huez 🚴";
        let mut brief = step_brief(StepId::Overview, goals);
        brief.overview = None;
        let got = read(&brief);
        assert_eq!(got.step, StepId::Overview);
        assert_eq!(got.total_weeks, 5);
        assert_eq!(got.profile, brief.profile);
        assert!(got.overview.is_none());

        let week = step_brief(StepId::Week(3), goals);
        let got = read(&week);
        assert_eq!(got.step, StepId::Week(3));
        assert_eq!(got.overview.as_ref(), week.overview.as_deref());
    }

    #[test]
    fn canonical_profiles_round_trip() {
        let profile = parse_profile(
            r#"{"name":"B","age":50,"weight_kg":70,"ftp_w":260,"max_hr":170,"weekly_hours":9,"available_days":["Monday","Wednesday","Saturday","Sunday"],"daily_caps_min":{"Monday":60},"goals":"x","plan_weeks":8,"event_date":"2030-05-01"}"#,
        )
        .unwrap();
        assert_eq!(
            profile_from_value(&canonical_json(&profile)).unwrap(),
            profile
        );
    }

    #[test]
    fn refuses_requests_without_a_usable_brief() {
        let missing = from_header(None).unwrap_err();
        assert!(
            missing.contains(MOCK_BRIEF_HEADER) && missing.contains("PERIODIZE_MOCK_BRIEF=1"),
            "{missing}"
        );
        assert!(from_header(Some(b"{nope"))
            .unwrap_err()
            .contains("not JSON"));
        assert!(from_header(Some(&[0xff, 0xfe]))
            .unwrap_err()
            .contains("not ASCII"));
        let err = from_header(Some(br#"{"step":"overview","total_weeks":60}"#)).unwrap_err();
        assert!(err.contains("total_weeks is 60"), "{err}");
    }

    #[test]
    fn broken_arguments_parse_but_fail_validation() {
        let mut overview_brief = step_brief(StepId::Overview, "");
        overview_brief.overview = None;
        let brief = read(&overview_brief);
        let valid = coach_arguments(&brief).unwrap();
        let parsed = parse_overview(&valid.to_string()).unwrap();
        assert!(!has_errors(&check_overview(
            &parsed,
            &brief.profile,
            5,
            None,
            &brief.rules
        )));
        let broken = parse_overview(&invalid_arguments(&brief, &valid).to_string()).unwrap();
        assert!(has_errors(&check_overview(
            &broken,
            &brief.profile,
            5,
            None,
            &brief.rules
        )));
        assert!(parse_overview(&truncated_object(&valid).to_string()).is_err());
        assert!(parse_overview(&truncated_text(&valid.to_string())).is_err());
        assert!(parse_overview(&invalid_json_text(&brief)).is_err());

        let brief = read(&step_brief(StepId::Week(2), ""));
        let overview = brief.overview.clone().unwrap();
        let entry = overview.week(2).unwrap();
        let valid = coach_arguments(&brief).unwrap();
        let parsed = parse_week(&valid.to_string()).unwrap();
        assert!(!has_errors(&check_week(
            &parsed,
            2,
            entry,
            &brief.profile,
            None,
            &brief.rules
        )));
        let broken = parse_week(&invalid_arguments(&brief, &valid).to_string()).unwrap();
        let violations = check_week(&broken, 2, entry, &brief.profile, None, &brief.rules);
        assert!(has_errors(&violations));
        assert!(
            violations.iter().any(|v| v.path.contains("week_number")),
            "{violations:?}"
        );
        assert!(parse_week(&invalid_json_text(&brief)).is_err());
    }
}
