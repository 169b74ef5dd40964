//! Athlete profile parsing (SPEC §2.1): the canonical form and the older seed form, with one
//! clear error per bad field that names the key as written in the file and the value.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::Weekday;

pub const FTP_RANGE_W: std::ops::RangeInclusive<f64> = 50.0..=600.0;
pub const WEEKLY_HOURS_MAX: f64 = 40.0;
pub const PLAN_WEEKS_RANGE: std::ops::RangeInclusive<i64> = 1..=52;
pub const DEFAULT_WEEKDAY_CAP_MIN: u32 = 90;
pub const DEFAULT_WEEKEND_CAP_MIN: u32 = 240;

/// A validated athlete profile. Every weekday has a cap (defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AthleteProfile {
    pub name: String,
    pub age: Option<u32>,
    pub weight_kg: Option<f64>,
    pub ftp_w: f64,
    pub max_hr: Option<u32>,
    pub weekly_hours: f64,
    /// Sorted Monday first, unique, never empty.
    pub available_days: Vec<Weekday>,
    pub daily_caps_min: BTreeMap<Weekday, u32>,
    pub goals: String,
    pub plan_weeks: Option<u32>,
    pub event_date: Option<NaiveDate>,
}

impl AthleteProfile {
    pub fn cap_min(&self, day: Weekday) -> u32 {
        self.daily_caps_min
            .get(&day)
            .copied()
            .unwrap_or(default_cap_min(day))
    }

    pub fn is_available(&self, day: Weekday) -> bool {
        self.available_days.contains(&day)
    }

    /// Minutes the athlete could ride in a week: the caps of the available days.
    pub fn available_minutes(&self) -> u32 {
        self.available_days
            .iter()
            .map(|&day| self.cap_min(day))
            .sum()
    }
}

pub fn default_cap_min(day: Weekday) -> u32 {
    if day.is_weekend() {
        DEFAULT_WEEKEND_CAP_MIN
    } else {
        DEFAULT_WEEKDAY_CAP_MIN
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    #[error("athlete profile is not valid JSON: {reason}")]
    NotJson { reason: String },
    #[error("athlete profile must be a JSON object, found {found}")]
    NotObject { found: &'static str },
    #[error("athlete profile field `{field}` is missing{hint}")]
    Missing {
        field: &'static str,
        hint: &'static str,
    },
    #[error("athlete profile field `{field}` = {value} is invalid: {reason}")]
    Invalid {
        field: String,
        value: String,
        reason: String,
    },
}

impl ProfileError {
    /// The profile key the error is about, as written in the file (for tests and tooling).
    pub fn field(&self) -> Option<&str> {
        match self {
            ProfileError::Missing { field, .. } => Some(field),
            ProfileError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn invalid(field: &str, value: &Value, reason: impl Into<String>) -> ProfileError {
    ProfileError::Invalid {
        field: field.to_string(),
        value: show(value),
        reason: reason.into(),
    }
}

/// Shows a JSON value in an error, shortened so a huge value cannot flood the terminal.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let head: String = text.chars().take(77).collect();
        format!("{head}...")
    } else {
        text
    }
}

pub fn parse_profile(text: &str) -> Result<AthleteProfile, ProfileError> {
    let value: Value = serde_json::from_str(text).map_err(|err| ProfileError::NotJson {
        reason: err.to_string(),
    })?;
    profile_from_value(&value)
}

/// Reads a profile from a JSON value in either form; canonical keys win when both are present.
pub fn profile_from_value(value: &Value) -> Result<AthleteProfile, ProfileError> {
    let object = value.as_object().ok_or(ProfileError::NotObject {
        found: json_kind(value),
    })?;
    let availability = match object.get("training_availability") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map),
        Some(other) => {
            return Err(invalid(
                "training_availability",
                other,
                "expected an object",
            ))
        }
    };
    let lookup =
        |canonical: &'static str, seed: Option<&'static str>, nested: Option<&'static str>| {
            lookup(object, availability, canonical, seed, nested)
        };

    let name = match lookup("name", None, None) {
        None => "Athlete".to_string(),
        Some((_, Value::String(name))) if !name.trim().is_empty() => name.trim().to_string(),
        Some((key, other)) => return Err(invalid(key, other, "expected a non-empty string")),
    };
    let age = match lookup("age", None, None) {
        None => None,
        Some((key, value)) => {
            let age = number_with_unit(key, value, &["y", "years"])?;
            if !(age > 0.0 && age <= 120.0 && age.fract() == 0.0) {
                return Err(invalid(
                    key,
                    value,
                    "expected whole years between 1 and 120",
                ));
            }
            Some(age as u32)
        }
    };
    let weight_kg = match lookup("weight_kg", Some("weight"), None) {
        None => None,
        Some((key, value)) => {
            let weight = number_with_unit(key, value, &["kg"])?;
            if !(weight > 0.0 && weight <= 300.0) {
                return Err(invalid(
                    key,
                    value,
                    "expected kilograms above 0 and at most 300",
                ));
            }
            Some(weight)
        }
    };
    let ftp_w = match lookup("ftp_w", Some("FTP"), None) {
        None => {
            return Err(ProfileError::Missing {
                field: "ftp_w",
                hint: " (seed form: `FTP`)",
            })
        }
        Some((key, value)) => {
            let ftp = number_with_unit(key, value, &["w", "watts"])?;
            if !FTP_RANGE_W.contains(&ftp) {
                return Err(invalid(key, value, "expected watts between 50 and 600"));
            }
            ftp
        }
    };
    let max_hr = match lookup("max_hr", Some("critical_HR"), None) {
        None => None,
        Some((key, value)) => {
            let bpm = number_with_unit(key, value, &["bpm"])?;
            if !(60.0..=250.0).contains(&bpm) || bpm.fract() != 0.0 {
                return Err(invalid(
                    key,
                    value,
                    "expected whole beats per minute between 60 and 250",
                ));
            }
            Some(bpm as u32)
        }
    };
    let weekly_hours = match lookup("weekly_hours", None, Some("hours_per_week")) {
        None => {
            return Err(ProfileError::Missing {
                field: "weekly_hours",
                hint: " (seed form: `training_availability.hours_per_week`)",
            })
        }
        Some((key, value)) => {
            let hours = number_with_unit(key, value, &["h", "hours"])?;
            if !(hours > 0.0 && hours <= WEEKLY_HOURS_MAX) {
                return Err(invalid(key, value, "expected hours above 0 and at most 40"));
            }
            hours
        }
    };
    let available_days = match lookup("available_days", None, Some("week_days")) {
        None => {
            return Err(ProfileError::Missing {
                field: "available_days",
                hint: " (seed form: `training_availability.week_days`)",
            })
        }
        Some((key, value)) => parse_weekdays(key, value)?,
    };
    let daily_caps_min = match lookup("daily_caps_min", None, None) {
        None => BTreeMap::new(),
        Some((key, value)) => parse_caps(key, value)?,
    };
    let goals = match lookup("goals", None, None) {
        None => String::new(),
        Some((_, Value::String(goals))) => goals.trim().to_string(),
        Some((key, Value::Array(items))) => {
            let mut parts = Vec::new();
            for item in items {
                match item {
                    Value::String(text) => parts.push(text.trim().to_string()),
                    other => return Err(invalid(key, other, "expected goals as text")),
                }
            }
            parts.join("; ")
        }
        Some((key, other)) => return Err(invalid(key, other, "expected goals as text")),
    };
    let plan_weeks = match lookup("plan_weeks", Some("training_plan_weeks"), None) {
        None => None,
        Some((key, value)) => Some(parse_plan_weeks(key, value)?),
    };
    let event_date = match lookup("event_date", None, None) {
        None => None,
        Some((key, Value::String(text))) => Some(
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                invalid(
                    key,
                    &Value::String(text.clone()),
                    "expected a date as YYYY-MM-DD",
                )
            })?,
        ),
        Some((key, other)) => return Err(invalid(key, other, "expected a date as YYYY-MM-DD")),
    };

    let mut caps = BTreeMap::new();
    for day in Weekday::ALL {
        caps.insert(
            day,
            daily_caps_min
                .get(&day)
                .copied()
                .unwrap_or(default_cap_min(day)),
        );
    }
    let profile = AthleteProfile {
        name,
        age,
        weight_kg,
        ftp_w,
        max_hr,
        weekly_hours,
        available_days,
        daily_caps_min: caps,
        goals,
        plan_weeks,
        event_date,
    };
    for day in &profile.available_days {
        if profile.cap_min(*day) == 0 {
            return Err(ProfileError::Invalid {
                field: format!("daily_caps_min.{day}"),
                value: "0".to_string(),
                reason: format!("{day} is an available day, so it needs a cap above 0 (or remove it from the available days)"),
            });
        }
    }
    let available_min = profile.available_minutes();
    // Whole minutes on both sides: 16.6 h is 996 min, not 996.0000000000001.
    let budget_min = (weekly_hours * 60.0).round();
    if f64::from(available_min) < budget_min {
        let listing = profile
            .available_days
            .iter()
            .map(|day| format!("{day} {}", profile.cap_min(*day)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ProfileError::Invalid {
            field: "daily_caps_min".to_string(),
            value: format!("{{{listing}}}"),
            reason: format!(
                "the caps of the available days hold {available_min} min a week, less than weekly_hours {weekly_hours} ({budget_min} min)"
            ),
        });
    }
    Ok(profile)
}

/// Checks a plan length given in a profile or on the command line.
pub fn parse_plan_weeks(field: &str, value: &Value) -> Result<u32, ProfileError> {
    let weeks = number_with_unit(field, value, &["weeks", "w"])?;
    if weeks.fract() != 0.0 || !PLAN_WEEKS_RANGE.contains(&(weeks as i64)) {
        return Err(invalid(
            field,
            value,
            "expected a whole number of weeks between 1 and 52",
        ));
    }
    Ok(weeks as u32)
}

type Found<'a> = Option<(&'static str, &'a Value)>;

fn lookup<'a>(
    object: &'a Map<String, Value>,
    availability: Option<&'a Map<String, Value>>,
    canonical: &'static str,
    seed: Option<&'static str>,
    nested: Option<&'static str>,
) -> Found<'a> {
    let present = |value: &'a Value| !value.is_null();
    if let Some(value) = object.get(canonical).filter(|value| present(value)) {
        return Some((canonical, value));
    }
    if let Some(seed) = seed {
        if let Some(value) = object.get(seed).filter(|value| present(value)) {
            return Some((seed, value));
        }
    }
    if let (Some(nested), Some(availability)) = (nested, availability) {
        if let Some(value) = availability.get(nested).filter(|value| present(value)) {
            let key = match nested {
                "hours_per_week" => "training_availability.hours_per_week",
                "week_days" => "training_availability.week_days",
                other => other,
            };
            return Some((key, value));
        }
    }
    None
}

/// A number, or a string holding a number with an optional unit ("260w", "74 kg").
fn number_with_unit(field: &str, value: &Value, units: &[&str]) -> Result<f64, ProfileError> {
    let number = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => {
            let trimmed = text.trim();
            let lower = trimmed.to_ascii_lowercase();
            let digits = units
                .iter()
                .find_map(|unit| lower.strip_suffix(unit))
                .unwrap_or(&lower)
                .trim();
            digits.parse::<f64>().ok()
        }
        _ => None,
    };
    match number {
        Some(number) if number.is_finite() => Ok(number),
        _ => {
            let unit = units.first().copied().unwrap_or("");
            Err(invalid(
                field,
                value,
                format!("expected a number (optionally with unit \"{unit}\")"),
            ))
        }
    }
}

fn parse_weekdays(field: &str, value: &Value) -> Result<Vec<Weekday>, ProfileError> {
    let names: Vec<String> = match value {
        Value::String(text) => text
            .split([',', ';', '/'])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(str::to_string)
            .collect(),
        Value::Array(items) => {
            let mut names = Vec::new();
            for item in items {
                match item {
                    Value::String(text) => names.push(text.clone()),
                    other => return Err(invalid(field, other, "expected weekday names")),
                }
            }
            names
        }
        other => return Err(invalid(field, other, "expected a list of weekday names")),
    };
    if names.is_empty() {
        return Err(invalid(field, value, "expected at least one weekday"));
    }
    let mut days = Vec::new();
    for name in &names {
        let day = Weekday::parse(name).ok_or_else(|| {
            invalid(
                field,
                value,
                format!("unknown weekday {name:?}, expected Monday..Sunday"),
            )
        })?;
        if days.contains(&day) {
            return Err(invalid(
                field,
                value,
                format!("weekday {day} is listed twice"),
            ));
        }
        days.push(day);
    }
    days.sort();
    Ok(days)
}

fn parse_caps(field: &str, value: &Value) -> Result<BTreeMap<Weekday, u32>, ProfileError> {
    let Value::Object(map) = value else {
        return Err(invalid(
            field,
            value,
            "expected an object of weekday to minutes",
        ));
    };
    let mut caps = BTreeMap::new();
    for (name, minutes) in map {
        let key = format!("{field}.{name}");
        let day = Weekday::parse(name).ok_or_else(|| {
            invalid(
                &key,
                minutes,
                format!("unknown weekday {name:?}, expected Monday..Sunday"),
            )
        })?;
        if caps.contains_key(&day) {
            return Err(invalid(
                &key,
                minutes,
                format!("weekday {day} is listed twice"),
            ));
        }
        let cap = number_with_unit(&key, minutes, &["min"])?;
        if !((0.0..=1440.0).contains(&cap) && cap.fract() == 0.0) {
            return Err(invalid(
                &key,
                minutes,
                "expected whole minutes between 0 and 1440",
            ));
        }
        caps.insert(day, cap as u32);
    }
    Ok(caps)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The canonical JSON form of a profile, as written in the plan file.
pub fn canonical_json(profile: &AthleteProfile) -> Value {
    serde_json::json!({
        "name": profile.name,
        "age": profile.age,
        "weight_kg": profile.weight_kg,
        "ftp_w": profile.ftp_w,
        "max_hr": profile.max_hr,
        "weekly_hours": profile.weekly_hours,
        "available_days": profile.available_days,
        "daily_caps_min": profile.daily_caps_min.iter().map(|(day, cap)| (day.name().to_string(), Value::from(*cap))).collect::<Map<_, _>>(),
        "goals": profile.goals,
        "plan_weeks": profile.plan_weeks,
        "event_date": profile.event_date.map(|date| date.format("%Y-%m-%d").to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_form_with_units_and_day_string() {
        let profile = parse_profile(
            r#"{"name":"Eduardo","age":52,"weight":"84kg","FTP":"260W","critical_HR":172,
                "training_availability":{"hours_per_week":7,"week_days":"Sunday, saturday, Tuesday"},
                "goals":"Improve FTP","training_plan_weeks":12}"#,
        )
        .unwrap();
        assert_eq!(profile.ftp_w, 260.0);
        assert_eq!(profile.weight_kg, Some(84.0));
        assert_eq!(
            profile.available_days,
            vec![Weekday::Tuesday, Weekday::Saturday, Weekday::Sunday]
        );
        assert_eq!(profile.cap_min(Weekday::Tuesday), 90);
        assert_eq!(profile.cap_min(Weekday::Sunday), 240);
        assert_eq!(profile.plan_weeks, Some(12));
    }

    #[test]
    fn an_exact_fit_is_accepted_and_a_zero_cap_on_an_available_day_is_not() {
        let exact = parse_profile(
            r#"{"ftp_w":250,"weekly_hours":16.6,"available_days":["Saturday","Sunday","Monday"],"daily_caps_min":{"Saturday":400,"Sunday":400,"Monday":196}}"#,
        );
        assert!(exact.is_ok(), "{exact:?}");
        let zero = parse_profile(r#"{"ftp_w":250,"weekly_hours":4,"available_days":["Saturday","Sunday"],"daily_caps_min":{"Saturday":0}}"#).unwrap_err();
        assert_eq!(zero.field(), Some("daily_caps_min.Saturday"));
    }

    #[test]
    fn caps_must_hold_budget() {
        let err = parse_profile(
            r#"{"ftp_w":250,"weekly_hours":10,"available_days":["Monday","Tuesday"],"daily_caps_min":{"monday":60}}"#,
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("daily_caps_min"));
        assert!(err.to_string().contains("150 min"), "{err}");
    }
}
