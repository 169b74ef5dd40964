//! Athlete profile parsing (SPEC §2.1): the canonical form and the older seed form, with one
//! clear error per bad field that names the key as written in the file and the value.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::coach::MIN_WEEKLY_HOURS;
use crate::domain::event::{
    EventDetails, EventKind, Experience, Priority, CURRENT_CTL_MAX, EVENT_DURATION_MAX_H,
};
use crate::domain::Weekday;

pub const FTP_RANGE_W: std::ops::RangeInclusive<f64> = 50.0..=600.0;
pub const WEEKLY_HOURS_MAX: f64 = 40.0;
pub const PLAN_WEEKS_RANGE: std::ops::RangeInclusive<i64> = 1..=52;
pub const DEFAULT_WEEKDAY_CAP_MIN: u32 = 90;
pub const DEFAULT_WEEKEND_CAP_MIN: u32 = 240;
/// The longest `name` accepted, in characters: a name, not a document.
pub const NAME_MAX_CHARS: usize = 200;
/// The longest `goals` accepted, in characters. Goals go into the prompt of every step, so a
/// whole training diary pasted by mistake would be paid for in tokens dozens of times.
pub const GOALS_MAX_CHARS: usize = 4000;

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
    /// The event's date; `event` holds the rest of it when the profile gave more than a date.
    pub event_date: Option<NaiveDate>,
    // The fields below are left out of the serialized profile when absent, so a profile
    // without them hashes (and so resumes) exactly as it did before they existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventDetails>,
    /// Hours a week the athlete has ridden lately: where week 1 starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_weekly_hours: Option<f64>,
    /// The athlete's chronic training load today, as a training log shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_ctl: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience: Option<Experience>,
}

impl AthleteProfile {
    pub fn cap_min(&self, day: Weekday) -> u32 {
        self.daily_caps_min
            .get(&day)
            .copied()
            .unwrap_or(default_cap_min(day))
    }

    /// The kind of the target event; `None` without one or when only its date is known.
    pub fn event_kind(&self) -> EventKind {
        match (self.event_date, self.event) {
            (Some(_), Some(details)) => details.kind,
            _ => EventKind::None,
        }
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
    shorten(&value.to_string())
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 80 {
        let head: String = text.chars().take(77).collect();
        format!("{head}...")
    } else {
        text.to_string()
    }
}

/// An error for a text field longer than `max_chars`: shows its length, not the text.
fn too_long(field: &str, chars: usize, max_chars: usize) -> ProfileError {
    ProfileError::Invalid {
        field: field.to_string(),
        value: format!("a text of {chars} characters"),
        reason: format!("expected at most {max_chars} characters"),
    }
}

pub fn parse_profile(text: &str) -> Result<AthleteProfile, ProfileError> {
    // Windows editors start UTF-8 files with a byte-order mark; it is not part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(|err| {
        out_of_range_number(text, &err).unwrap_or_else(|| ProfileError::NotJson {
            reason: err.to_string(),
        })
    })?;
    profile_from_value(&value)
}

/// serde_json refuses a number beyond f64 (`1e400`) with only a line and column; this names the
/// field that holds it, like every other bad value. `None` when the error is about something
/// else or its field cannot be told, and the caller keeps serde_json's message.
fn out_of_range_number(text: &str, err: &serde_json::Error) -> Option<ProfileError> {
    if !err.is_syntax() {
        return None;
    }
    let offset = byte_offset(text, err.line(), err.column())?;
    let (field, number) = number_near(text, offset)?;
    // Only a number that really overflows: any other syntax error keeps serde_json's message.
    if number.parse::<f64>().map_or(true, f64::is_finite) {
        return None;
    }
    Some(ProfileError::Invalid {
        field,
        value: shorten(number),
        reason: format!(
            "out of range for a number (the largest is about {:.1e})",
            f64::MAX
        ),
    })
}

/// The byte offset of serde_json's 1-based line and 0-based byte column.
fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        // serde_json counts lines by '\n' alone.
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let offset = line_start.checked_add(column)?;
    (offset <= text.len()).then_some(offset)
}

/// Where the scan of `number_near` is: inside an object (with the key of the value being read)
/// or inside an array.
enum Frame {
    Object {
        key: Option<String>,
        expecting_key: bool,
    },
    Array,
}

/// The number token of `text` that ends at or spans `offset` (serde_json reports an overflow
/// at the last digit it read, or one past it), with the dotted path of object keys that owns
/// it as written in the file: `ftp_w`, `daily_caps_min.Tuesday`. An array element belongs to
/// the key of its array. `None` if the text before `offset` does not scan as JSON or the number
/// has no key (a bare top-level number).
fn number_near(text: &str, offset: usize) -> Option<(String, &str)> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut index = 0;
    while index < bytes.len() && index <= offset {
        match bytes[index] {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => index += 1,
            b',' => {
                if let Some(Frame::Object { expecting_key, .. }) = stack.last_mut() {
                    *expecting_key = true;
                }
                index += 1;
            }
            b'{' => {
                stack.push(Frame::Object {
                    key: None,
                    expecting_key: true,
                });
                index += 1;
            }
            b'[' => {
                stack.push(Frame::Array);
                index += 1;
            }
            b'}' | b']' => {
                stack.pop()?;
                index += 1;
            }
            b'"' => {
                let end = string_end(bytes, index)?;
                if let Some(Frame::Object { key, expecting_key }) = stack.last_mut() {
                    if *expecting_key {
                        // serde_json decodes the escapes (`\"`, `\u00e9`) exactly as it did.
                        *key = Some(serde_json::from_str(&text[index..end]).ok()?);
                        *expecting_key = false;
                    }
                }
                index = end;
            }
            b'-' | b'0'..=b'9' => {
                let end = index
                    + bytes[index..]
                        .iter()
                        .take_while(|byte| {
                            matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                        })
                        .count();
                if offset <= end + 1 {
                    let mut keys = Vec::new();
                    for frame in &stack {
                        if let Frame::Object { key, .. } = frame {
                            keys.push(key.as_deref()?);
                        }
                    }
                    if keys.is_empty() {
                        return None;
                    }
                    return Some((keys.join("."), &text[index..end]));
                }
                index = end;
            }
            b'a'..=b'z' => {
                // true, false, null: serde_json already checked them if they come before the error.
                index += bytes[index..]
                    .iter()
                    .take_while(|byte| byte.is_ascii_lowercase())
                    .count();
            }
            _ => return None,
        }
    }
    None
}

/// The index just past the closing quote of the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut index = start + 1;
    while index < bytes.len() {
        match bytes[index] {
            // An escape is a backslash and the byte after it (`\uXXXX` continues as plain hex).
            b'\\' => index += 2,
            b'"' => return Some(index + 1),
            _ => index += 1,
        }
    }
    None
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
        Some((key, Value::String(name))) if !name.trim().is_empty() => {
            let name = name.trim();
            let chars = name.chars().count();
            if chars > NAME_MAX_CHARS {
                return Err(too_long(key, chars, NAME_MAX_CHARS));
            }
            name.to_string()
        }
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
            // Below this the built-in coach (the fallback of every step) cannot plan a week
            // that passes the rules, so the run would fail in phase 3a; refuse it up front.
            if hours < MIN_WEEKLY_HOURS {
                return Err(invalid(
                    key,
                    value,
                    format!(
                        "expected at least {MIN_WEEKLY_HOURS} h, the smallest weekly budget periodize plans"
                    ),
                ));
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
    // Both forms spell it `goals`; the seed form may give a list, joined here.
    let (goals_key, goals) = match lookup("goals", None, None) {
        None => ("goals", String::new()),
        Some((key, Value::String(goals))) => (key, goals.trim().to_string()),
        Some((key, Value::Array(items))) => {
            let mut parts = Vec::new();
            for item in items {
                match item {
                    Value::String(text) => parts.push(text.trim().to_string()),
                    other => return Err(invalid(key, other, "expected goals as text")),
                }
            }
            (key, parts.join("; "))
        }
        Some((key, other)) => return Err(invalid(key, other, "expected goals as text")),
    };
    let goals_chars = goals.chars().count();
    if goals_chars > GOALS_MAX_CHARS {
        return Err(too_long(goals_key, goals_chars, GOALS_MAX_CHARS));
    }
    let plan_weeks = match lookup("plan_weeks", Some("training_plan_weeks"), None) {
        None => None,
        Some((key, value)) => Some(parse_plan_weeks(key, value)?),
    };
    let shorthand_date = match lookup("event_date", None, None) {
        None => None,
        Some((key, value)) => Some(parse_date(key, value)?),
    };
    let (event_date, event) = match object.get("event") {
        None | Some(Value::Null) => (shorthand_date, None),
        Some(value) => {
            let (date, details) = parse_event(value)?;
            if let Some(shorthand) = shorthand_date.filter(|shorthand| *shorthand != date) {
                return Err(invalid(
                    "event_date",
                    &Value::String(shorthand.to_string()),
                    format!("differs from event.date {date}; give the date once"),
                ));
            }
            (Some(date), Some(details))
        }
    };
    let recent_weekly_hours = match lookup("recent_weekly_hours", None, None) {
        None => None,
        Some((key, value)) => {
            let hours = number_with_unit(key, value, &["h", "hours"])?;
            if !(0.0..=WEEKLY_HOURS_MAX).contains(&hours) {
                return Err(invalid(
                    key,
                    value,
                    format!("expected hours between 0 and {WEEKLY_HOURS_MAX}"),
                ));
            }
            Some(hours)
        }
    };
    let current_ctl = match lookup("current_ctl", None, None) {
        None => None,
        Some((key, value)) => {
            let ctl = number_with_unit(key, value, &["tss/d"])?;
            if !(0.0..=CURRENT_CTL_MAX).contains(&ctl) {
                return Err(invalid(
                    key,
                    value,
                    format!("expected a training load between 0 and {CURRENT_CTL_MAX} TSS a day"),
                ));
            }
            Some(ctl)
        }
    };
    let experience = match lookup("experience", None, None) {
        None => None,
        Some((key, Value::String(text))) => Some(Experience::parse(text).ok_or_else(|| {
            invalid(
                key,
                &Value::String(text.clone()),
                "expected new, intermediate or experienced",
            )
        })?),
        Some((key, other)) => {
            return Err(invalid(
                key,
                other,
                "expected new, intermediate or experienced",
            ))
        }
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
        event,
        recent_weekly_hours,
        current_ctl,
        experience,
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

fn parse_date(key: &str, value: &Value) -> Result<NaiveDate, ProfileError> {
    match value {
        Value::String(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| invalid(key, value, "expected a date as YYYY-MM-DD")),
        other => Err(invalid(key, other, "expected a date as YYYY-MM-DD")),
    }
}

/// The profile's `event` object: `date` (required), `kind`, `duration_h`, `priority`.
fn parse_event(value: &Value) -> Result<(NaiveDate, EventDetails), ProfileError> {
    let Value::Object(map) = value else {
        return Err(invalid(
            "event",
            value,
            "expected an object with date, kind, duration_h and priority",
        ));
    };
    for (key, item) in map {
        if !matches!(key.as_str(), "date" | "kind" | "duration_h" | "priority") {
            return Err(invalid(
                &format!("event.{key}"),
                item,
                "unknown key; an event has date, kind, duration_h and priority",
            ));
        }
    }
    let present = |key: &str| map.get(key).filter(|value| !value.is_null());
    let date = match present("date") {
        None => {
            return Err(ProfileError::Missing {
                field: "event.date",
                hint: " (an event needs its date, YYYY-MM-DD)",
            })
        }
        Some(value) => parse_date("event.date", value)?,
    };
    let kinds = || {
        EventKind::ALL
            .iter()
            .map(|kind| kind.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind = match present("kind") {
        None => EventKind::None,
        Some(Value::String(text)) => EventKind::parse(text).ok_or_else(|| {
            invalid(
                "event.kind",
                &Value::String(text.clone()),
                format!("expected one of {}", kinds()),
            )
        })?,
        Some(other) => {
            return Err(invalid(
                "event.kind",
                other,
                format!("expected one of {}", kinds()),
            ))
        }
    };
    let duration_h = match present("duration_h") {
        None => None,
        Some(value) => {
            let hours = number_with_unit("event.duration_h", value, &["h", "hours"])?;
            if !(hours > 0.0 && hours <= EVENT_DURATION_MAX_H) {
                return Err(invalid(
                    "event.duration_h",
                    value,
                    format!("expected hours above 0 and at most {EVENT_DURATION_MAX_H}"),
                ));
            }
            Some(hours)
        }
    };
    let priority = match present("priority") {
        None => Priority::A,
        Some(Value::String(text)) => Priority::parse(text).ok_or_else(|| {
            invalid(
                "event.priority",
                &Value::String(text.clone()),
                "expected A, B or C",
            )
        })?,
        Some(other) => return Err(invalid("event.priority", other, "expected A, B or C")),
    };
    Ok((
        date,
        EventDetails {
            kind,
            duration_h,
            priority,
        },
    ))
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
    let mut value = serde_json::json!({
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
    });
    // Written only when present, so plan files of profiles without them read as before.
    let extra = value.as_object_mut().expect("built as an object");
    if let (Some(date), Some(details)) = (profile.event_date, profile.event) {
        let mut event = serde_json::json!({
            "date": date.format("%Y-%m-%d").to_string(),
            "kind": details.kind.name(),
            "priority": details.priority.name(),
        });
        if let Some(hours) = details.duration_h {
            event["duration_h"] = Value::from(hours);
        }
        extra.insert("event".into(), event);
    }
    if let Some(hours) = profile.recent_weekly_hours {
        extra.insert("recent_weekly_hours".into(), Value::from(hours));
    }
    if let Some(ctl) = profile.current_ctl {
        extra.insert("current_ctl".into(), Value::from(ctl));
    }
    if let Some(experience) = profile.experience {
        extra.insert("experience".into(), Value::from(experience.name()));
    }
    value
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

    const BASE: &str =
        r#""ftp_w": 250, "weekly_hours": 6, "available_days": ["Tuesday", "Saturday", "Sunday"]"#;

    fn invalid_parts(err: &ProfileError) -> (&str, &str, &str) {
        match err {
            ProfileError::Invalid {
                field,
                value,
                reason,
            } => (field, value, reason),
            other => panic!("expected an invalid field, got {other}"),
        }
    }

    #[test]
    fn a_utf8_byte_order_mark_is_ignored() {
        let profile = parse_profile(&format!("\u{feff}{{{BASE}}}")).unwrap();
        assert_eq!(profile.ftp_w, 250.0);
        // Only at the start: anywhere else it is a JSON syntax error as before.
        let err = parse_profile(&format!("{{\u{feff}{BASE}}}")).unwrap_err();
        assert!(matches!(err, ProfileError::NotJson { .. }), "{err}");
    }

    #[test]
    fn an_out_of_range_number_names_its_field() {
        let err =
            parse_profile(r#"{"ftp_w": 1e400, "weekly_hours": 6, "available_days": ["Sunday"]}"#)
                .unwrap_err();
        let (field, value, reason) = invalid_parts(&err);
        assert_eq!((field, value), ("ftp_w", "1e400"));
        assert!(reason.contains("out of range"), "{err}");
        assert_eq!(
            err.to_string(),
            "athlete profile field `ftp_w` = 1e400 is invalid: out of range for a number (the largest is about 1.8e308)"
        );

        let err = parse_profile(&format!("{{{BASE},\n  \"age\": -1e400}}")).unwrap_err();
        assert_eq!(invalid_parts(&err).0, "age");
        assert_eq!(invalid_parts(&err).1, "-1e400");

        // Integers too long for f64 overflow the same way.
        let huge = format!("1{}", "0".repeat(400));
        let err = parse_profile(&format!("{{{BASE}, \"plan_weeks\": {huge}}}")).unwrap_err();
        let (field, value, _) = invalid_parts(&err);
        assert_eq!(field, "plan_weeks");
        assert!(
            value.starts_with("1000") && value.ends_with("...") && value.chars().count() == 80,
            "{value}"
        );
    }

    #[test]
    fn an_out_of_range_number_in_a_nested_key_names_the_dotted_path() {
        let text = r#"{
  "ftp_w": 250, "weekly_hours": 6, "available_days": ["Tuesday", "Sunday"],
  "daily_caps_min": {"Monday": 60, "Tuesday": 1E+400}
}"#;
        let err = parse_profile(text).unwrap_err();
        assert_eq!(invalid_parts(&err).0, "daily_caps_min.Tuesday");
        assert_eq!(invalid_parts(&err).1, "1E+400");

        // The seed form's nested key, a value inside an array, and keys with escapes and
        // strings holding brackets, commas and quotes before the number.
        let text = r#"{"FTP": "260W", "goals": ["a \"[b]\", {c}", "d"], "week_days": "Sunday",
            "training_availability": {"week_days": ["Sunday"], "hours_per_week": -2e999}}"#;
        let err = parse_profile(text).unwrap_err();
        assert_eq!(
            invalid_parts(&err).0,
            "training_availability.hours_per_week"
        );
        assert_eq!(invalid_parts(&err).1, "-2e999");
        let err = parse_profile(r#"{"goals": ["x", 1e400]}"#).unwrap_err();
        assert_eq!(invalid_parts(&err).0, "goals");
        let err = parse_profile(r#"{"na\u006de\\\"": {"x\\": [[1], {"y": 9e9999}]}}"#).unwrap_err();
        assert_eq!(invalid_parts(&err).0, "name\\\".x\\.y");
    }

    #[test]
    fn other_json_errors_keep_the_parser_message() {
        for text in [
            "1e400",
            "[1e400]",
            r#"{"ftp_w": 1.2.3}"#,
            r#"{"ftp_w": 250,}"#,
            "{\"ftp_w\": 2",
            "",
        ] {
            let err = parse_profile(text).unwrap_err();
            assert!(matches!(err, ProfileError::NotJson { .. }), "{text}: {err}");
        }
        let err = parse_profile("[1e400]").unwrap_err();
        assert!(
            err.to_string()
                .contains("number out of range at line 1 column"),
            "{err}"
        );
        // A tiny number is no error: it rounds to 0 and the range check speaks.
        let err =
            parse_profile(r#"{"ftp_w": 1e-400, "weekly_hours": 6, "available_days": ["Sunday"]}"#)
                .unwrap_err();
        assert_eq!(invalid_parts(&err).0, "ftp_w");
    }

    #[test]
    fn scanning_arbitrary_text_never_panics() {
        for text in [
            "{\"a",
            "{\"a\\",
            "{\"a\": [",
            "}}}",
            "{\"é\": -",
            "{\"a\": 1e400",
        ] {
            for offset in 0..=text.len() + 2 {
                let _ = number_near(text, offset);
            }
            let _ = parse_profile(text);
        }
        assert_eq!(byte_offset("ab\ncd", 2, 1), Some(4));
        assert_eq!(byte_offset("ab", 3, 0), None);
    }

    #[test]
    fn long_names_and_goals_are_refused_by_length() {
        let long = "x".repeat(GOALS_MAX_CHARS + 1);
        let err = parse_profile(&format!("{{{BASE}, \"goals\": \"{long}\"}}")).unwrap_err();
        let (field, value, reason) = invalid_parts(&err);
        assert_eq!(field, "goals");
        assert_eq!(
            value,
            format!("a text of {} characters", GOALS_MAX_CHARS + 1)
        );
        assert!(reason.contains(&GOALS_MAX_CHARS.to_string()), "{reason}");
        assert!(!err.to_string().contains("xxxxxxxxxx"), "{err}");
        // The seed form's list is measured as joined, the limit counts characters, not bytes.
        let part = "é".repeat(GOALS_MAX_CHARS / 2);
        let err =
            parse_profile(&format!("{{{BASE}, \"goals\": [\"{part}\", \"{part}\"]}}")).unwrap_err();
        assert_eq!(invalid_parts(&err).0, "goals");
        let exact = "é".repeat(GOALS_MAX_CHARS);
        let profile = parse_profile(&format!("{{{BASE}, \"goals\": \"  {exact}  \"}}")).unwrap();
        assert_eq!(profile.goals.chars().count(), GOALS_MAX_CHARS);

        let name = "n".repeat(NAME_MAX_CHARS + 1);
        let err = parse_profile(&format!("{{{BASE}, \"name\": \"{name}\"}}")).unwrap_err();
        assert_eq!(invalid_parts(&err).0, "name");
        assert_eq!(
            invalid_parts(&err).1,
            format!("a text of {} characters", NAME_MAX_CHARS + 1)
        );
        let name = "n".repeat(NAME_MAX_CHARS);
        assert!(parse_profile(&format!("{{{BASE}, \"name\": \"{name}\"}}")).is_ok());
    }

    #[test]
    fn weekly_hours_below_the_coach_minimum_are_refused() {
        let at = |hours: f64| {
            parse_profile(&format!(
                r#"{{"ftp_w": 250, "weekly_hours": {hours}, "available_days": ["Sunday"]}}"#
            ))
        };
        assert_eq!(at(MIN_WEEKLY_HOURS).unwrap().weekly_hours, MIN_WEEKLY_HOURS);
        let below = MIN_WEEKLY_HOURS - 0.001;
        let err = at(below).unwrap_err();
        let (field, value, reason) = invalid_parts(&err);
        assert_eq!((field, value), ("weekly_hours", below.to_string().as_str()));
        assert!(
            reason.contains(&format!("{MIN_WEEKLY_HOURS} h")),
            "{reason}"
        );
        // The seed form names its own key.
        let err = parse_profile(
            r#"{"FTP": 250, "training_availability": {"hours_per_week": "0.001 h", "week_days": "Sunday"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            invalid_parts(&err).0,
            "training_availability.hours_per_week"
        );
        assert_eq!(invalid_parts(&err).1, "\"0.001 h\"");
    }

    /// Every leaf of `value` with the dotted object-key path that owns it (arrays add nothing).
    fn leaves(
        value: &Value,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, Vec<usize>)>,
        at: &mut Vec<usize>,
    ) {
        match value {
            Value::Object(map) => {
                for (index, (key, child)) in map.iter().enumerate() {
                    path.push(key.clone());
                    at.push(index);
                    leaves(child, path, out, at);
                    at.pop();
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    at.push(index);
                    leaves(child, path, out, at);
                    at.pop();
                }
            }
            _ => out.push((path.clone(), at.clone())),
        }
    }

    fn leaf_mut<'v>(value: &'v mut Value, at: &[usize]) -> &'v mut Value {
        match at.split_first() {
            None => value,
            Some((&index, rest)) => match value {
                Value::Object(map) => leaf_mut(map.values_mut().nth(index).unwrap(), rest),
                Value::Array(items) => leaf_mut(&mut items[index], rest),
                _ => unreachable!("a leaf has no children"),
            },
        }
    }

    fn json_strategy() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let text = "[a-z\"\\\\ é{}\\[\\],:0-9]{0,6}";
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            text.prop_map(Value::from),
        ];
        let tree = leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text, inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        });
        prop::collection::btree_map(text, tree, 1..4)
            .prop_map(|map| Value::Object(map.into_iter().collect()))
    }

    proptest::proptest! {
        #[test]
        fn an_out_of_range_number_anywhere_names_its_key_path(
            value in json_strategy(),
            pick in proptest::prelude::any::<proptest::sample::Index>(),
            pretty in proptest::prelude::any::<bool>(),
            negative in proptest::prelude::any::<bool>(),
        ) {
            let mut all = Vec::new();
            leaves(&value, &mut Vec::new(), &mut all, &mut Vec::new());
            proptest::prop_assume!(!all.is_empty());
            let (path, at) = pick.get(&all).clone();
            let mut value = value;
            // A string no generated text contains, swapped for the number in the JSON text.
            *leaf_mut(&mut value, &at) = Value::from("\u{1}");
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let number = if negative { "-1.5e400" } else { "1e400" };
            let text = text.replacen("\"\\u0001\"", number, 1);
            let err = parse_profile(&text).unwrap_err();
            match &err {
                ProfileError::Invalid { field, value, .. } => {
                    proptest::prop_assert_eq!(field, &path.join("."), "{}", text);
                    proptest::prop_assert_eq!(value.as_str(), number);
                }
                other => proptest::prop_assert!(false, "{}: {}", text, other),
            }
        }
    }
}
