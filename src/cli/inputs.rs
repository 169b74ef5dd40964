//! The profiles of a submission: read from `--profile` files, a directory or a JSONL manifest,
//! each checked on its own (its plan length and start date too), and every problem of every
//! profile collected, so a batch is refused whole with all its errors listed.

use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cli::Error;
use crate::domain::event::{place_event, EventPlacement};
use crate::domain::profile::{self, AthleteProfile, ProfileError, PLAN_WEEKS_RANGE};
use crate::files::{self, MAX_PROFILE_BYTES};

/// The most profiles one submission may hold.
pub const MAX_BATCH_ITEMS: usize = 100_000;
/// How far from today a plan may start: a date arithmetic bound, and a typo catcher.
pub const START_DATE_PAST_DAYS: i64 = 366;
pub const START_DATE_FUTURE_DAYS: i64 = 5 * 366;
/// A manifest line longer than this is refused (an inline profile is far smaller).
const MAX_MANIFEST_BYTES: u64 = 64 * MAX_PROFILE_BYTES;

/// Where one profile comes from, before it is read.
#[derive(Debug)]
pub struct ItemSource {
    /// How the item is named in messages and in the batch: a path, or `manifest:line`.
    pub name: String,
    pub body: ItemBody,
    /// The manifest's per-item plan length and start date, if it gave them.
    pub weeks: Option<Value>,
    pub start_date: Option<String>,
}

#[derive(Debug)]
pub enum ItemBody {
    File(PathBuf),
    Inline(Value),
    /// A manifest line that names no profile; reported with the other items' problems.
    Bad(Error),
}

/// One profile, checked, with what its run is made from.
#[derive(Debug, Clone)]
pub struct CheckedItem {
    pub source: String,
    pub profile: AthleteProfile,
    pub total_weeks: u32,
    pub start_date: NaiveDate,
    /// SHA-256 of the checked profile, its plan length and start date.
    pub content_hash: String,
    /// What the user should know about this item before it runs (an event the plan does not
    /// reach).
    pub notices: Vec<String>,
}

/// One item's problem, named by its source.
#[derive(Debug)]
pub struct ItemError {
    pub source: String,
    pub error: Error,
}

/// Reads a file a user named, as text: regular files only, bounded, BOM accepted.
pub fn read_input(what: &'static str, path: &Path, max_bytes: u64) -> Result<String, Error> {
    files::read_text(path, max_bytes).map_err(|error| Error::Input {
        what,
        path: path.to_path_buf(),
        error,
    })
}

/// The items of `batch SOURCE`: every `*.json` of a directory (by name), or every line of a
/// JSONL manifest.
pub fn items_of(source: &Path) -> Result<Vec<ItemSource>, Error> {
    let metadata = std::fs::metadata(source).map_err(|err| Error::Arg {
        flag: "batch source",
        value: source.display().to_string(),
        reason: format!("cannot read it: {err}"),
    })?;
    if metadata.is_dir() {
        let entries = std::fs::read_dir(source).map_err(|err| Error::Arg {
            flag: "batch source",
            value: source.display().to_string(),
            reason: format!("cannot list the directory: {err}"),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(Error::Arg {
                flag: "batch source",
                value: source.display().to_string(),
                reason: "the directory holds no *.json profile".into(),
            });
        }
        return Ok(paths
            .into_iter()
            .map(|path| ItemSource {
                name: path.display().to_string(),
                body: ItemBody::File(path),
                weeks: None,
                start_date: None,
            })
            .collect());
    }
    let text = read_input("batch manifest", source, MAX_MANIFEST_BYTES)?;
    let base = source.parent().unwrap_or(Path::new("."));
    let items: Vec<ItemSource> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let name = format!("{}:{}", source.display(), index + 1);
            manifest_item(&name, base, line).unwrap_or_else(|error| ItemSource {
                name,
                body: ItemBody::Bad(error),
                weeks: None,
                start_date: None,
            })
        })
        .collect();
    if items.is_empty() {
        return Err(Error::Arg {
            flag: "batch source",
            value: source.display().to_string(),
            reason: "the manifest holds no profile".into(),
        });
    }
    Ok(items)
}

/// A line's start, for messages about it.
fn excerpt(line: &str) -> String {
    let head: String = line.chars().take(60).collect();
    if head.len() < line.len() {
        format!("{head}...")
    } else {
        head
    }
}

fn manifest_item(name: &str, base: &Path, line: &str) -> Result<ItemSource, Error> {
    let value: Value =
        serde_json::from_str(line.trim_start_matches('\u{feff}')).map_err(|err| Error::Arg {
            flag: "manifest line",
            value: excerpt(line),
            reason: format!("not valid JSON: {err}"),
        })?;
    let Value::Object(object) = &value else {
        return Err(Error::Arg {
            flag: "manifest line",
            value: excerpt(line),
            reason: "expected a JSON object: a profile, or {\"profile\": PATH, …}".into(),
        });
    };
    let Some(Value::String(path)) = object.get("profile") else {
        // The line is the profile itself.
        return Ok(ItemSource {
            name: name.to_string(),
            body: ItemBody::Inline(value),
            weeks: None,
            start_date: None,
        });
    };
    for key in object.keys() {
        if !matches!(key.as_str(), "profile" | "weeks" | "start_date") {
            return Err(Error::Arg {
                flag: "key",
                value: key.clone(),
                reason: "a reference line has \"profile\", \"weeks\" and \"start_date\"".into(),
            });
        }
    }
    let start_date = match object.get("start_date") {
        None => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => {
            return Err(Error::Arg {
                flag: "start_date",
                value: other.to_string(),
                reason: "expected a date as \"YYYY-MM-DD\"".into(),
            })
        }
    };
    Ok(ItemSource {
        name: name.to_string(),
        body: ItemBody::File(base.join(path)),
        weeks: object.get("weeks").cloned(),
        start_date,
    })
}

/// A date given as `YYYY-MM-DD` to `flag`.
pub fn date(flag: &'static str, text: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| Error::Arg {
        flag,
        value: text.to_string(),
        reason: "expected a date as YYYY-MM-DD".into(),
    })
}

/// The plan's first day from its text: a Monday, within the window around today.
pub fn start_date(flag: &'static str, text: &str, today: NaiveDate) -> Result<NaiveDate, Error> {
    let date = date(flag, text)?;
    if date.weekday() != chrono::Weekday::Mon {
        return Err(Error::Arg {
            flag,
            value: text.to_string(),
            reason: format!(
                "plans start on a Monday, and {date} is a {}",
                date.format("%A")
            ),
        });
    }
    let earliest = today - Duration::days(START_DATE_PAST_DAYS);
    let latest = today + Duration::days(START_DATE_FUTURE_DAYS);
    if date < earliest || date > latest {
        return Err(Error::Arg {
            flag,
            value: text.to_string(),
            reason: format!(
                "a plan starts between {earliest} and {latest} (a year back, five years ahead of today)"
            ),
        });
    }
    Ok(date)
}

pub fn next_monday(today: NaiveDate) -> NaiveDate {
    let days_ahead = 7 - i64::from(today.weekday().num_days_from_monday());
    today + Duration::days(days_ahead)
}

/// Checks one item: reads and parses its profile, resolves its plan length and start date
/// (the item's own, then the flags'), and checks the plan ends by the event.
pub fn check_item(
    item: ItemSource,
    weeks_flag: Option<&str>,
    default_start: NaiveDate,
    today: NaiveDate,
) -> Result<CheckedItem, Error> {
    let profile = match item.body {
        ItemBody::File(path) => {
            let text = read_input("athlete profile", &path, MAX_PROFILE_BYTES)?;
            profile::parse_profile(&text)?
        }
        ItemBody::Inline(value) => profile::profile_from_value(&value)?,
        ItemBody::Bad(error) => return Err(error),
    };
    let total_weeks = match (&item.weeks, weeks_flag, profile.plan_weeks) {
        (Some(value), _, _) => profile::parse_plan_weeks("weeks", value)?,
        (None, Some(weeks), _) => {
            let value = serde_json::from_str::<Value>(weeks)
                .unwrap_or_else(|_| Value::String(weeks.to_string()));
            profile::parse_plan_weeks("--weeks", &value)?
        }
        (None, None, Some(weeks)) => weeks,
        (None, None, None) => {
            return Err(ProfileError::Missing {
                field: "plan_weeks",
                hint: " (seed form: `training_plan_weeks`; or pass --weeks)",
            }
            .into())
        }
    };
    let start = match &item.start_date {
        Some(text) => start_date("start_date", text, today)?,
        None => default_start,
    };
    let mut notices = Vec::new();
    if let Some(event_date) = profile.event_date {
        let end_date = start + Duration::days(i64::from(total_weeks) * 7 - 1);
        match place_event(start, total_weeks, event_date) {
            EventPlacement::InLastWeek(_) => {}
            EventPlacement::Early { weeks_that_fit } => {
                let advice = if weeks_that_fit >= 1 {
                    format!("use at most {weeks_that_fit} weeks (the last one ends on the event) or an earlier --start-date")
                } else {
                    "the event is before the plan starts; use an earlier --start-date".to_string()
                };
                return Err(Error::Arg {
                    flag: "plan length",
                    value: format!("{total_weeks} weeks"),
                    reason: format!(
                        "a plan starting {start} ends {end_date}, after event_date {event_date}; {advice}"
                    ),
                });
            }
            EventPlacement::After { days_after_end } => {
                let weeks_to_event = (event_date - start).num_days().div_euclid(7) + 1;
                let advice = if PLAN_WEEKS_RANGE.contains(&weeks_to_event) {
                    format!("; {weeks_to_event} weeks would end on it")
                } else {
                    String::new()
                };
                notices.push(format!(
                    "event_date {event_date} is {days_after_end} day(s) after the plan ends ({end_date}): the plan builds toward it but does not taper into it{advice}"
                ));
            }
        }
    }
    let content_hash = content_hash(&profile, total_weeks, start);
    Ok(CheckedItem {
        source: item.name,
        profile,
        total_weeks,
        start_date: start,
        content_hash,
        notices,
    })
}

/// Checks every item; on any error, every item's error.
pub fn check_all(
    items: Vec<ItemSource>,
    weeks_flag: Option<&str>,
    default_start: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<CheckedItem>, Error> {
    if items.len() > MAX_BATCH_ITEMS {
        return Err(Error::Arg {
            flag: "batch",
            value: format!("{} profiles", items.len()),
            reason: format!("a batch holds at most {MAX_BATCH_ITEMS} profiles"),
        });
    }
    let total = items.len();
    let mut checked = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for item in items {
        let source = item.name.clone();
        match check_item(item, weeks_flag, default_start, today) {
            Ok(item) => checked.push(item),
            Err(error) => errors.push(ItemError { source, error }),
        }
    }
    match errors.len() {
        0 => Ok(checked),
        // A single profile's error is that error, as `generate --profile` has always said.
        1 if total == 1 => Err(errors.pop().expect("one error").error),
        _ => Err(Error::Inputs { total, errors }),
    }
}

fn content_hash(profile: &AthleteProfile, total_weeks: u32, start: NaiveDate) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(profile).expect("a checked profile serializes"));
    hasher.update(format!("\nweeks={total_weeks}\nstart={start}\n").as_bytes());
    hex(&hasher.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
