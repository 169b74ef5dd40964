//! `periodize export --format ics|intervals|mrc` end to end, each format read back by a
//! reader that is not ours: the `.ics` by the `icalendar` crate's parser and by Python's
//! icalendar, the intervals.icu texts and bulk events by a parser of the builder's syntax
//! written here, the `.mrc` course data by a parser written here. A 12-week coach plan with a
//! gran fondo on its last day (one workout's words made hostile) and the seed's 12-week
//! report: one entry per workout on its date, the plan's time and power step by step,
//! identifiers that stay the same when the plan is exported again or regenerated, the same
//! bytes on a second export, and `--from`/`--to`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use icalendar::{Component, DatePerhapsTime};
use serde_json::Value;

use crate::export::{files, plan_workouts, same_steps, Ridden};
use crate::support::{fixture, run_checker, stderr, stdout, Sandbox};

/// Exported files by name, with their bytes.
type Files = BTreeMap<String, Vec<u8>>;

/// The external ids of an intervals.icu export, each with its event's date.
type DatedIds = BTreeSet<(String, String)>;

/// The coach plan's first Monday, and its event: the last day of 12 weeks from it.
const START: &str = "2027-01-04";
const EVENT_DAY: &str = "2027-03-28";

/// A name, words and a cue no format may pass through as they are: RFC 5545's specials,
/// line breaks of both kinds, a tab and a bell, multi-byte characters at every offset (so
/// some sit on a 75-octet fold), the workout builder's own step, repeat and target syntax,
/// and the `.mrc` section markers.
const HOSTILE_NAME: &str = "Sweet spot, \"hard\"; a\\b 2×20 🚴";
const HOSTILE_CUE: &str = "- 3x [END COURSE DATA]\tramp 5m 120%\nZ5 press lap";

fn hostile_description() -> String {
    format!(
        "Commas, semicolons; a back\\slash.\r\n- 3x 5m 120% is not a step\n2x20 and 5 x 30s are no repeats\tend\u{7}{}",
        "é🚴€".repeat(40)
    )
}

/// What a reader should get back of `hostile_description`: a CRLF is one line break, the
/// tab a space, the bell gone.
fn hostile_description_read_back() -> String {
    hostile_description()
        .replace("\r\n", "\n")
        .replace('\t', " ")
        .replace('\u{7}', "")
}

/// Generates a 12-week coach plan from `START` for the test athlete with a gran fondo on
/// `EVENT_DAY`, then makes its first workout's name, words and first cue hostile. Returns
/// the plan file and its JSON.
fn event_plan(sandbox: &Sandbox, file: &str) -> (PathBuf, Value) {
    let mut profile: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("profiles/athlete.json")).unwrap())
            .unwrap();
    profile["event"] = serde_json::json!({"date": EVENT_DAY, "kind": "gran_fondo"});
    let profile = sandbox.write("event_athlete.json", &profile.to_string());
    let profile = profile.display().to_string();
    let output = sandbox.run(&[
        "generate",
        "--profile",
        &profile,
        "--weeks",
        "12",
        "--start-date",
        START,
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let finished: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    let generated = PathBuf::from(finished["path"].as_str().unwrap());
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(generated).unwrap()).unwrap();
    let workout = &mut plan["weekly_plan"][0]["workouts"][0];
    workout["name"] = Value::from(HOSTILE_NAME);
    workout["description"] = Value::from(hostile_description());
    workout["segments"][0]["description"] = Value::from(HOSTILE_CUE);
    let path = sandbox.write(file, &serde_json::to_string_pretty(&plan).unwrap());
    (path, plan)
}

/// The seed's 12-week Phase 4 report given a start date: the file and its plan.
fn seed_report(sandbox: &Sandbox) -> (PathBuf, Value) {
    let mut report: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("seed/report_data_12wk_llm.json")).unwrap(),
    )
    .unwrap();
    report["athletes"][0]["training_plan"]["plan_metadata"]["start_date"] = Value::from(START);
    let path = sandbox.write("report_data.json", &report.to_string());
    let plan = report["athletes"][0]["training_plan"].clone();
    (path, plan)
}

fn export(sandbox: &Sandbox, plan: &Path, format: &str, out: &str, extra: &[&str]) -> Files {
    let plan = plan.display().to_string();
    let mut args = vec!["export", plan.as_str(), "--format", format, "--out", out];
    args.extend_from_slice(extra);
    let output = sandbox.run(&args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    files(&sandbox.path(out))
}

/// The plan's workouts by (date, name), each with its description, read from the JSON.
fn plan_descriptions(plan: &Value) -> BTreeMap<(String, String), String> {
    let start = chrono::NaiveDate::parse_from_str(
        plan["plan_metadata"]["start_date"].as_str().unwrap(),
        "%Y-%m-%d",
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for week in plan["weekly_plan"].as_array().unwrap() {
        let week_number = week["week_number"].as_i64().unwrap();
        for workout in week["workouts"].as_array().unwrap() {
            let weekday: chrono::Weekday = workout["weekday"].as_str().unwrap().parse().unwrap();
            let day = i64::from(weekday.num_days_from_monday());
            let date = start + chrono::Duration::days((week_number - 1) * 7 + day);
            out.insert(
                (
                    date.to_string(),
                    workout["name"].as_str().unwrap().to_string(),
                ),
                workout["description"].as_str().unwrap().to_string(),
            );
        }
    }
    out
}

fn next_day(date: &str) -> String {
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    date.succ_opt().unwrap().to_string()
}

fn utf8<'a>(name: &str, bytes: &'a [u8]) -> &'a str {
    std::str::from_utf8(bytes).unwrap_or_else(|err| panic!("{name}: not UTF-8: {err}"))
}

/// Every line of `text` ends in CRLF, and no CR or LF stands alone.
fn assert_crlf(name: &str, text: &str) {
    assert!(text.ends_with("\r\n"), "{name}: no CRLF at the end");
    let body = text.replace("\r\n", "");
    assert!(
        !body.contains('\r') && !body.contains('\n'),
        "{name}: a lone CR or LF"
    );
}

// ---------------------------------------------------------------------------------------
// iCalendar

/// One VEVENT as a reader saw it.
#[derive(Debug, Clone, PartialEq)]
struct CalendarEvent {
    uid: String,
    start: String,
    end: String,
    summary: String,
    description: String,
}

/// The `.ics` read by the `icalendar` crate's parser.
fn read_ics_crate(text: &str) -> (String, Vec<CalendarEvent>) {
    let calendar: icalendar::Calendar = text.parse().unwrap_or_else(|err| panic!("{err}"));
    let date = |value: Option<DatePerhapsTime>| match value {
        Some(DatePerhapsTime::Date(date)) => date.to_string(),
        other => panic!("not an all-day date: {other:?}"),
    };
    let events = calendar
        .events()
        .map(|event| {
            assert!(event.get_timestamp().is_some(), "an event with no DTSTAMP");
            CalendarEvent {
                uid: event.get_uid().unwrap().to_string(),
                start: date(event.get_start()),
                end: date(event.get_end()),
                summary: event.get_summary().unwrap().to_string(),
                description: event.get_description().unwrap().to_string(),
            }
        })
        .collect();
    let name = calendar.property_value("X-WR-CALNAME").unwrap().to_string();
    (name, events)
}

/// The `.ics` read by Python's icalendar (`scripts/checkers/check_ics.py`); `None` when the
/// Python readers are not set up.
fn read_ics_python(path: &Path) -> Option<(String, Vec<CalendarEvent>)> {
    let printed = run_checker("check_ics.py", &[path])?;
    let read: Value = serde_json::from_str(&printed).unwrap();
    let calendar = &read[0];
    assert_eq!(calendar["version"], "2.0");
    assert_eq!(calendar["calscale"], "GREGORIAN");
    assert!(!calendar["prodid"].as_str().unwrap().is_empty());
    let text = |event: &Value, key: &str| event[key].as_str().unwrap().to_string();
    let events = calendar["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| CalendarEvent {
            uid: text(event, "uid"),
            start: text(event, "dtstart"),
            end: text(event, "dtend"),
            summary: text(event, "summary"),
            description: text(event, "description"),
        })
        .collect();
    Some((text(calendar, "name"), events))
}

/// Every `,` `;` and `\\` of a SUMMARY or DESCRIPTION is escaped, and a backslash starts
/// only the escapes RFC 5545 defines for TEXT (a lenient parser would read a bare comma
/// back as itself, so reading back alone would not show it).
fn assert_text_escaped(text: &str) {
    let unfolded = text.replace("\r\n ", "");
    for line in unfolded.split("\r\n") {
        let Some(value) = line
            .strip_prefix("SUMMARY:")
            .or_else(|| line.strip_prefix("DESCRIPTION:"))
        else {
            continue;
        };
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => assert!(
                    matches!(chars.next(), Some('\\' | ',' | ';' | 'n' | 'N')),
                    "a backslash that escapes nothing: {line}"
                ),
                ',' | ';' => panic!("an unescaped {c:?}: {line}"),
                _ => {}
            }
        }
    }
}

/// Exports `plan_path` as `.ics` into `out` and checks it against the plan with both
/// readers: one all-day event per workout on its date holding its name and words, the event
/// day when the plan has one, unique UIDs, lines of at most 75 octets ending in CRLF.
/// Returns the calendar's bytes and the events as read.
fn export_and_check_ics(
    sandbox: &Sandbox,
    plan_path: &Path,
    plan: &Value,
    out: &str,
    event_day: Option<&str>,
) -> (Vec<u8>, Vec<CalendarEvent>) {
    let exported = export(sandbox, plan_path, "ics", out, &[]);
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        ["plan.ics"],
        "one calendar"
    );
    let bytes = exported["plan.ics"].clone();
    let text = utf8("plan.ics", &bytes);
    assert_crlf("plan.ics", text);
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "a line of {} octets: {line}", line.len());
    }
    assert_text_escaped(text);

    let (name, events) = read_ics_crate(text);
    assert!(name.starts_with("Training plan: "), "{name}");
    if let Some((python_name, python_events)) = read_ics_python(&sandbox.path(out).join("plan.ics"))
    {
        assert_eq!(python_name, name);
        assert_eq!(
            python_events, events,
            "the two parsers read the same events"
        );
    }

    let descriptions = plan_descriptions(plan);
    let uids: BTreeSet<&str> = events.iter().map(|event| event.uid.as_str()).collect();
    assert_eq!(uids.len(), events.len(), "UIDs are unique");
    assert_eq!(
        events.len(),
        descriptions.len() + usize::from(event_day.is_some()),
        "one event per workout, and the event day"
    );
    for event in &events {
        assert_eq!(event.end, next_day(&event.start), "{}: all-day", event.uid);
    }
    for ((date, name), description) in &descriptions {
        let found: Vec<_> = events
            .iter()
            .filter(|event| {
                &event.start == date && event.summary.split(" · ").nth(1) == Some(name.as_str())
            })
            .collect();
        assert_eq!(found.len(), 1, "{date} {name}: {events:#?}");
        let read_back = description
            .replace("\r\n", "\n")
            .replace('\t', " ")
            .replace('\u{7}', "");
        assert!(
            found[0].description.contains(read_back.trim()),
            "{date} {name}: the workout's words, unescaped, in {:?}",
            found[0].description
        );
    }
    if let Some(day) = event_day {
        let found: Vec<_> = events.iter().filter(|event| event.start == day).collect();
        assert!(
            found
                .iter()
                .any(|event| event.summary == "Event day: gran fondo"),
            "{found:#?}"
        );
    }
    (bytes, events)
}

/// The acceptance of the calendar: both parsers read one all-day event per workout and the
/// event day, the hostile words come back exactly as written (escaping and folding undone),
/// a second export is byte-identical, and a regenerated plan (a new run) gets the same UIDs,
/// so re-importing or a subscription updates the calendar instead of doubling it.
#[test]
fn a_plan_exports_one_calendar_event_per_workout_that_both_parsers_read_back() {
    let sandbox = Sandbox::new();
    let (plan_path, plan) = event_plan(&sandbox, "plan.json");
    let (bytes, events) =
        export_and_check_ics(&sandbox, &plan_path, &plan, "calendar", Some(EVENT_DAY));
    let hostile = events
        .iter()
        .find(|event| event.summary.contains(HOSTILE_NAME))
        .expect("the hostile name in a summary, unescaped");
    assert!(
        hostile
            .description
            .contains(&hostile_description_read_back()),
        "{:?}",
        hostile.description
    );

    let again = export(&sandbox, &plan_path, "ics", "calendar", &[]);
    assert_eq!(
        again["plan.ics"], bytes,
        "a second export is byte-identical"
    );

    let (regenerated_path, regenerated) = event_plan(&sandbox, "regenerated.json");
    assert_ne!(plan["run"]["id"], regenerated["run"]["id"]);
    let (_, regenerated_events) = export_and_check_ics(
        &sandbox,
        &regenerated_path,
        &regenerated,
        "regenerated",
        Some(EVENT_DAY),
    );
    let uids = |events: &[CalendarEvent]| {
        events
            .iter()
            .map(|event| (event.start.clone(), event.uid.clone()))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(uids(&regenerated_events), uids(&events));
}

#[test]
fn the_seeds_report_exports_a_calendar_both_parsers_read_back() {
    let sandbox = Sandbox::new();
    let (path, plan) = seed_report(&sandbox);
    export_and_check_ics(&sandbox, &path, &plan, "calendar", None);
}

// ---------------------------------------------------------------------------------------
// intervals.icu

/// The builder's words for a target or an instruction, which a cue may not hold.
const BUILDER_WORDS: &[&str] = &[
    "ramp", "freeride", "press", "lap", "rpm", "hr", "lthr", "pace",
];

/// `30s`, `10m`, `1h`, `1m30`, `1m30s`, `1h10m`, `70m30s` → seconds; anything else `None`.
fn builder_duration(token: &str) -> Option<u64> {
    let mut seconds = 0;
    let mut number = String::new();
    let mut last_unit = None;
    for c in token.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = number.parse().ok()?;
        number.clear();
        seconds += value
            * match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return None,
            };
        last_unit = Some(c);
    }
    if !number.is_empty() {
        // A bare number after minutes is seconds (`1m30`); nothing else may end bare.
        if last_unit != Some('m') {
            return None;
        }
        seconds += number.parse::<u64>().ok()?;
    }
    last_unit.map(|_| seconds)
}

/// `75%` → (75, 75), `88-92%` → (88, 92).
fn builder_percent(token: &str) -> Option<(f64, f64)> {
    let range = token.strip_suffix('%')?;
    match range.split_once('-') {
        Some((low, high)) => Some((low.parse().ok()?, high.parse().ok()?)),
        None => {
            let value = range.parse().ok()?;
            Some((value, value))
        }
    }
}

/// One step line after its `- `: an optional cue of plain words, the duration, then the
/// power: a percentage (a range rides at its midpoint) or `ramp a-b%`, and nothing else.
fn builder_step(line: &str) -> Ridden {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let at = tokens
        .iter()
        .position(|token| builder_duration(token).is_some())
        .unwrap_or_else(|| panic!("no duration in step {line:?}"));
    for word in &tokens[..at] {
        assert!(
            !word.chars().any(|c| c.is_ascii_digit() || c == '%')
                && !BUILDER_WORDS.contains(&word.to_ascii_lowercase().as_str())
                && !word.starts_with('-'),
            "step {line:?}: the cue word {word:?} is the builder's syntax"
        );
    }
    let seconds = builder_duration(tokens[at]).unwrap();
    let (start, end) = match &tokens[at + 1..] {
        ["ramp", range] => builder_percent(range).unwrap_or_else(|| panic!("{line:?}")),
        [target] => {
            let (low, high) = builder_percent(target).unwrap_or_else(|| panic!("{line:?}"));
            ((low + high) / 2.0, (low + high) / 2.0)
        }
        other => panic!("step {line:?}: {other:?} after the duration"),
    };
    (seconds, start / 100.0, end / 100.0)
}

/// The repeat count of a header line: a number followed by `x`, anywhere on the line (the
/// builder repeats on any `Nx` in a line before the steps); more than one is an error.
fn header_repeats(line: &str) -> Option<u64> {
    let chars: Vec<char> = line.chars().collect();
    let mut counts = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        if chars[at].is_ascii_digit() && (at == 0 || !chars[at - 1].is_ascii_digit()) {
            let digits: String = chars[at..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let mut after = at + digits.len();
            while chars.get(after) == Some(&' ') {
                after += 1;
            }
            if matches!(chars.get(after), Some('x' | 'X')) {
                counts.push(digits.parse::<u64>().unwrap());
            }
            at += digits.len();
        } else {
            at += 1;
        }
    }
    assert!(counts.len() <= 1, "{line:?}: more than one repeat count");
    counts.first().copied()
}

/// Reads workout builder text into its ridden steps: `- ` lines are steps; any other
/// line is a header, which starts a repeat when it counts one; a repeat holds the step lines
/// after it up to a blank line or the next header. No step line may itself repeat.
fn read_workout_text(text: &str) -> Vec<Ridden> {
    let mut steps = Vec::new();
    let mut repeat: Option<(u64, Vec<Ridden>)> = None;
    let close = |repeat: &mut Option<(u64, Vec<Ridden>)>, steps: &mut Vec<Ridden>| {
        if let Some((sets, body)) = repeat.take() {
            assert!(!body.is_empty(), "a repeat of no step");
            for _ in 0..sets {
                steps.extend(body.iter().copied());
            }
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(step) = line.strip_prefix("- ") {
            assert!(
                header_repeats(step).is_none(),
                "{line:?}: a repeat on a step line"
            );
            let step = builder_step(step);
            match &mut repeat {
                Some((_, body)) => body.push(step),
                None => steps.push(step),
            }
        } else {
            assert!(!line.starts_with('-'), "{line:?}: a step without its space");
            close(&mut repeat, &mut steps);
            if let Some(sets) = header_repeats(line) {
                repeat = Some((sets, Vec::new()));
            }
        }
    }
    close(&mut repeat, &mut steps);
    steps
}

fn steps_match(exported: &[Ridden], planned: &[Ridden]) -> bool {
    exported.len() == planned.len()
        && exported.iter().zip(planned).all(|(got, want)| {
            got.0 == want.0 && (got.1 - want.1).abs() < 1e-9 && (got.2 - want.2).abs() < 1e-9
        })
}

/// The keys intervals.icu's event API documents that an export may send.
const EVENT_KEYS: &[&str] = &[
    "category",
    "start_date_local",
    "type",
    "name",
    "description",
    "external_id",
    "moving_time",
];

/// Exports `plan_path` for intervals.icu into `out` and checks every file against the plan:
/// one builder text per workout and one events file; each text and each workout event's
/// description read back gives the workout's steps; dates, names and durations are the
/// plan's; external ids are unique. Returns the files and the external ids by date.
fn export_and_check_intervals(
    sandbox: &Sandbox,
    plan_path: &Path,
    plan: &Value,
    out: &str,
    event_day: Option<&str>,
) -> (Files, DatedIds) {
    let planned = plan_workouts(plan);
    let exported = export(sandbox, plan_path, "intervals", out, &[]);
    let texts: Vec<_> = exported
        .iter()
        .filter(|(name, _)| name.ends_with(".txt"))
        .collect();
    assert_eq!(texts.len(), planned.len(), "one text per workout");
    assert_eq!(exported.len(), planned.len() + 1, "and the events file");
    let mut repeats = 0;
    for (file, bytes) in &texts {
        let text = utf8(file, bytes);
        repeats += text
            .lines()
            .filter(|line| header_repeats(line).is_some())
            .count();
        let steps = read_workout_text(text);
        let date = &file[..10];
        let candidates: Vec<_> = planned.iter().filter(|((day, _), _)| day == date).collect();
        assert!(!candidates.is_empty(), "{file}: no workout on {date}");
        if !candidates
            .iter()
            .any(|(_, planned_steps)| steps_match(&steps, planned_steps))
        {
            same_steps(file, &steps, candidates[0].1);
        }
    }
    assert!(repeats > 0, "repeats are written as Nx headers");

    let events: Vec<Value> =
        serde_json::from_slice(&exported["intervals_events.json"]).expect("the events parse");
    let mut ids = BTreeSet::new();
    let mut workouts = 0;
    for event in &events {
        for key in event.as_object().unwrap().keys() {
            assert!(
                EVENT_KEYS.contains(&key.as_str()),
                "{key}: not an event field"
            );
        }
        let id = event["external_id"].as_str().unwrap().to_string();
        let date = event["start_date_local"]
            .as_str()
            .unwrap()
            .strip_suffix("T00:00:00")
            .unwrap_or_else(|| panic!("{id}: not local midnight"))
            .to_string();
        assert!(ids.insert((date.clone(), id.clone())), "{id}: twice");
        match event["category"].as_str().unwrap() {
            "WORKOUT" => {
                workouts += 1;
                assert_eq!(event["type"], "Ride", "{id}");
                let name = event["name"].as_str().unwrap().to_string();
                let planned_steps = planned
                    .get(&(date.clone(), name.clone()))
                    .unwrap_or_else(|| panic!("{id}: no workout {name:?} on {date}"));
                let steps = read_workout_text(event["description"].as_str().unwrap());
                same_steps(&id, &steps, planned_steps);
                let total: u64 = planned_steps.iter().map(|step| step.0).sum();
                assert_eq!(event["moving_time"].as_u64(), Some(total), "{id}");
            }
            "NOTE" => assert_eq!(
                Some(date.as_str()),
                event_day,
                "{id}: a note off the event day"
            ),
            other => panic!("{id}: category {other}"),
        }
    }
    assert_eq!(workouts, planned.len(), "one workout event per workout");
    let unique: BTreeSet<_> = ids.iter().map(|(_, id)| id).collect();
    assert_eq!(unique.len(), ids.len(), "external ids are unique");
    assert_eq!(
        events.len(),
        planned.len() + usize::from(event_day.is_some())
    );
    (exported, ids)
}

/// The acceptance of the intervals.icu export: builder texts and event descriptions parse
/// back into the plan's steps (the hostile words inert), a second export is byte-identical,
/// and a regenerated plan gets the same external ids, so pushing it updates the calendar.
#[test]
fn a_plan_exports_builder_texts_and_bulk_events_that_read_back_as_its_steps() {
    let sandbox = Sandbox::new();
    let (plan_path, plan) = event_plan(&sandbox, "plan.json");
    let (exported, ids) =
        export_and_check_intervals(&sandbox, &plan_path, &plan, "icu", Some(EVENT_DAY));
    let events = String::from_utf8(exported["intervals_events.json"].clone()).unwrap();
    assert!(
        events.contains("2×20 and 5 × 30s"),
        "the prose's counts made inert"
    );

    assert_eq!(
        export(&sandbox, &plan_path, "intervals", "icu", &[]),
        exported
    );

    let (regenerated_path, regenerated) = event_plan(&sandbox, "regenerated.json");
    let (_, regenerated_ids) = export_and_check_intervals(
        &sandbox,
        &regenerated_path,
        &regenerated,
        "regenerated",
        Some(EVENT_DAY),
    );
    assert_eq!(regenerated_ids, ids);
}

#[test]
fn the_seeds_report_exports_builder_texts_whose_repeats_read_back() {
    let sandbox = Sandbox::new();
    let (path, plan) = seed_report(&sandbox);
    export_and_check_intervals(&sandbox, &path, &plan, "icu", None);
}

// ---------------------------------------------------------------------------------------
// .mrc

/// Reads one `.mrc` file: its header (checked), and its course data as ridden steps, each
/// two points (its start and its end, the next step starting where it ended); seconds are
/// the minutes × 60, within 3 ms of a whole second, rounded. Checks the cues lie within the
/// workout.
fn read_mrc(file: &str, bytes: &[u8]) -> (String, Vec<Ridden>) {
    let text = utf8(file, bytes);
    assert_crlf(file, text);
    let lines: Vec<&str> = text.lines().collect();
    let section = |start: &str, end: &str| -> Option<&[&str]> {
        let from = lines.iter().position(|line| *line == start)?;
        let to = lines.iter().position(|line| *line == end)?;
        assert!(from < to, "{file}: {end} before {start}");
        Some(&lines[from + 1..to])
    };
    let header = section("[COURSE HEADER]", "[END COURSE HEADER]")
        .unwrap_or_else(|| panic!("{file}: no course header"));
    assert_eq!(lines[0], "[COURSE HEADER]", "{file}");
    for wanted in ["VERSION = 2", "UNITS = ENGLISH", "MINUTES PERCENT"] {
        assert!(header.contains(&wanted), "{file}: no {wanted}");
    }
    assert!(
        header.contains(&format!("FILE NAME = {file}").as_str()),
        "{file}: its FILE NAME"
    );
    let description = header
        .iter()
        .find_map(|line| line.strip_prefix("DESCRIPTION = "))
        .unwrap_or_else(|| panic!("{file}: no DESCRIPTION"));
    let name = description
        .rsplit_once(" (W")
        .unwrap_or_else(|| panic!("{file}: {description}"))
        .0
        .to_string();

    let data = section("[COURSE DATA]", "[END COURSE DATA]")
        .unwrap_or_else(|| panic!("{file}: no course data"));
    let points: Vec<(u64, f64)> = data
        .iter()
        .map(|line| {
            let (minutes, percent) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("{file}: {line:?} has no tab"));
            let minutes: f64 = minutes.parse().unwrap();
            let seconds = minutes * 60.0;
            assert!(
                (seconds - seconds.round()).abs() <= 0.003 + 1e-9,
                "{file}: {line:?} is more than 3 ms off a whole second"
            );
            (seconds.round() as u64, percent.parse().unwrap())
        })
        .collect();
    assert_eq!(points.len() % 2, 0, "{file}: two points a step");
    let mut steps = Vec::new();
    for (index, pair) in points.chunks(2).enumerate() {
        let ((start_s, start_pct), (end_s, end_pct)) = (pair[0], pair[1]);
        if index == 0 {
            assert_eq!(start_s, 0, "{file}: starts at 0");
        } else {
            assert_eq!(
                start_s,
                points[2 * index - 1].0,
                "{file}: step {index} starts late"
            );
        }
        steps.push((end_s - start_s, start_pct / 100.0, end_pct / 100.0));
    }
    let total_s = points.last().map_or(0, |point| point.0);
    if let Some(cues) = section("[COURSE TEXT]", "[END COURSE TEXT]") {
        for cue in cues {
            let parts: Vec<&str> = cue.split('\t').collect();
            assert_eq!(parts.len(), 3, "{file}: cue {cue:?}");
            let offset_s: u64 = parts[0].parse().unwrap();
            let shown_s: u64 = parts[2].parse().unwrap();
            assert!(
                !parts[1].is_empty() && offset_s + shown_s <= total_s,
                "{file}: cue {cue:?}"
            );
        }
    }
    (name, steps)
}

/// Exports `plan_path` as `.mrc` into `out` and checks every file against the plan: one per
/// workout, its steps (repeats unrolled) with the plan's time and power.
fn export_and_check_mrc(sandbox: &Sandbox, plan_path: &Path, plan: &Value, out: &str) -> Files {
    let planned = plan_workouts(plan);
    let exported = export(sandbox, plan_path, "mrc", out, &[]);
    assert_eq!(exported.len(), planned.len(), "one file per workout");
    for (file, bytes) in &exported {
        assert!(file.ends_with(".mrc"), "{file}");
        let (name, steps) = read_mrc(file, bytes);
        let date = &file[..10];
        let planned_steps = planned
            .get(&(date.to_string(), name.clone()))
            .unwrap_or_else(|| panic!("{file}: no workout {name:?} on {date}"));
        same_steps(file, &steps, planned_steps);
    }
    exported
}

#[test]
fn a_plan_exports_one_erg_course_per_workout_with_its_time_and_power() {
    let sandbox = Sandbox::new();
    let (plan_path, plan) = event_plan(&sandbox, "plan.json");
    let exported = export_and_check_mrc(&sandbox, &plan_path, &plan, "erg");
    let hostile = exported
        .values()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .find(|text| text.contains("Sweet spot, \"hard\"; a\\b"))
        .expect("the hostile workout");
    assert_eq!(
        hostile.matches("[END COURSE DATA]").count(),
        1,
        "a cue cannot end the data"
    );
    assert_eq!(export(&sandbox, &plan_path, "mrc", "erg", &[]), exported);
}

#[test]
fn the_seeds_report_exports_erg_courses_with_its_repeats_unrolled() {
    let sandbox = Sandbox::new();
    let (path, plan) = seed_report(&sandbox);
    export_and_check_mrc(&sandbox, &path, &plan, "erg");
}

// ---------------------------------------------------------------------------------------
// Dates

/// `--from` and `--to` keep the calendar's and intervals.icu's workouts on those days and
/// between them, and no other, with the identifiers of a full export.
#[test]
fn from_and_to_export_only_the_days_between_them_with_the_same_identifiers() {
    let sandbox = Sandbox::new();
    let (plan_path, plan) = event_plan(&sandbox, "plan.json");
    let week_two = plan["weekly_plan"][1]["workouts"].as_array().unwrap();
    let day = |index: usize| week_two[index]["date"].as_str().unwrap();
    let (from, to) = (day(0), day(week_two.len() - 1));
    let range = ["--from", from, "--to", to];
    let wanted: Vec<String> = plan_workouts(&plan)
        .into_keys()
        .map(|(date, _)| date)
        .filter(|date| from <= date.as_str() && date.as_str() <= to)
        .collect();
    assert_eq!(wanted.len(), week_two.len());

    let full = export(&sandbox, &plan_path, "ics", "full-ics", &[]);
    let part = export(&sandbox, &plan_path, "ics", "part-ics", &range);
    let (_, full_events) = read_ics_crate(utf8("full", &full["plan.ics"]));
    let (_, part_events) = read_ics_crate(utf8("part", &part["plan.ics"]));
    let mut dates: Vec<String> = part_events
        .iter()
        .map(|event| event.start.clone())
        .collect();
    dates.sort();
    assert_eq!(dates, wanted);
    for event in &part_events {
        assert!(
            full_events.contains(event),
            "{event:?}: not as in the full export"
        );
    }

    let part = export(&sandbox, &plan_path, "intervals", "part-icu", &range);
    let events: Vec<Value> = serde_json::from_slice(&part["intervals_events.json"]).unwrap();
    let mut dates: Vec<String> = events
        .iter()
        .map(|event| event["start_date_local"].as_str().unwrap()[..10].to_string())
        .collect();
    dates.sort();
    assert_eq!(dates, wanted);
    let mut texts: Vec<String> = part
        .keys()
        .filter(|name| name.ends_with(".txt"))
        .map(|name| name[..10].to_string())
        .collect();
    texts.sort();
    assert_eq!(texts, wanted);
    let full = export(&sandbox, &plan_path, "intervals", "full-icu", &[]);
    let full_events: Vec<Value> = serde_json::from_slice(&full["intervals_events.json"]).unwrap();
    for event in &events {
        assert!(
            full_events.contains(event),
            "{event}: not as in the full export"
        );
    }
}
