//! intervals.icu, pure: a workout as the text of its workout builder (one `- ` line per step,
//! `Nx` headers for repeats), and a plan as the JSON array its bulk event endpoint
//! (`POST /api/v1/athlete/0/events/bulk?upsert=true`) takes, one `WORKOUT` event per workout
//! and a `NOTE` on the event day, each with an `external_id` that stays the same when the plan
//! is exported again, so a second push updates the calendar instead of doubling it.

use serde::Serialize;

use crate::domain::SegmentKind;
use crate::export::ics;
use crate::export::model::{Block, DatedWorkout, ExportPlan, ExportWeek, Repeat, Step};
use crate::export::DateRange;

/// The extension of the per-workout files, each the text to paste into the workout builder.
pub const EXTENSION: &str = "txt";

/// The file of the bulk events, next to the per-workout texts (it sorts after them: they
/// start with a date).
pub const EVENTS_FILE_NAME: &str = "intervals_events.json";

/// The sport of every workout event: intervals.icu's name for cycling.
const SPORT: &str = "Ride";

/// Prefix of every `external_id`: who made the event, for whoever reads the calendar's data.
const EXTERNAL_ID_PREFIX: &str = "periodize";

/// Longest cue of a step or a repeat, in characters: what a head unit shows as the step's
/// name is short, and the full words are in the event's description.
const MAX_CUE_CHARS: usize = 40;

/// Longest event name, in characters; intervals.icu's calendar shows a line of it.
const MAX_NAME_CHARS: usize = 100;

/// Decimal places of a percentage: the plan's bands are whole percents, their midpoints
/// halves, and anything finer than a hundredth of a percent is below any trainer's control.
const PERCENT_DECIMALS: usize = 2;

/// Words the builder reads as a target or an instruction wherever they stand on a step line
/// (a ramp, ERG off, a lap press, a cadence, heart rate or pace target, a repeat): a cue
/// holding one would change the step, so they are left out of cues.
const RESERVED_WORDS: &[&str] = &[
    "ramp", "freeride", "press", "lap", "rpm", "hr", "lthr", "pace", "x",
];

/// Words a cue cut at its first number should not end on ("Spin down at" → "Spin down").
const DANGLING_WORDS: &[&str] = &[
    "a", "an", "and", "at", "by", "for", "from", "of", "or", "the", "to", "with",
];

/// The workout builder's text of one workout: a line `- <cue> <duration> <power>` per step,
/// each repeat a header line `<cue> Nx` followed by its work and recovery lines, set off by
/// blank lines (the builder repeats the lines after a header up to the next blank line; it
/// nests no repeats).
///
/// Power is a percentage of FTP. A warm-up is `ramp low-high%`, a cool-down `ramp high-low%`
/// (a ramp runs from its first number to its second). Any other step holds a band, written
/// as the range `low-high%`: intervals.icu keeps it as the step's target range, which a head
/// unit shows the rider, and a trainer in ERG mode holds its middle, the midpoint the plan
/// rides (one figure would hide the band the plan allows). A step with one target is that
/// target, `75%`.
pub fn workout_text(workout: &DatedWorkout) -> String {
    let mut out = String::with_capacity(256);
    for block in &workout.blocks {
        match block {
            Block::Step(step) => {
                step_line(&mut out, &cue(&step.description), step);
            }
            Block::Repeat(repeat) => repeat_lines(&mut out, repeat),
        }
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    out.push('\n');
    out
}

/// A repeat between blank lines: the header names it and counts the sets; the work line
/// carries its own words only when they add to the header's (a regrouped repeat keeps the
/// first set's words, "rep 1", which would be wrong on every later set).
fn repeat_lines(out: &mut String, repeat: &Repeat) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    let header = cue(&repeat.description);
    if header.is_empty() {
        out.push_str(&format!("{}x\n", repeat.sets));
    } else {
        out.push_str(&format!("{header} {}x\n", repeat.sets));
    }
    let work_cue = if repeat.work.description.trim() == repeat.description.trim() {
        String::new()
    } else {
        cue(&repeat.work.description)
    };
    step_line(out, &work_cue, &repeat.work);
    if let Some(recovery) = &repeat.recovery {
        step_line(out, &cue(&recovery.description), recovery);
    }
    out.push('\n');
}

fn step_line(out: &mut String, cue: &str, step: &Step) {
    out.push_str("- ");
    if !cue.is_empty() {
        out.push_str(cue);
        out.push(' ');
    }
    out.push_str(&duration(step.duration_s));
    out.push(' ');
    out.push_str(&power(step));
    out.push('\n');
}

/// Whole seconds in the builder's units: `30s`, `10m`, `1m30s`, `1h`, `1h10m`. Hours are
/// written only with whole minutes (`1h10m`); a time over an hour with seconds counts in
/// minutes (`70m30s`), so no reader has to guess what a number after `h` means.
pub fn duration(seconds: u32) -> String {
    let (minutes, rest_s) = (seconds / 60, seconds % 60);
    match (minutes, rest_s) {
        (0, _) => format!("{rest_s}s"),
        (_, 0) if minutes >= 60 => match (minutes / 60, minutes % 60) {
            (hours, 0) => format!("{hours}h"),
            (hours, rest_min) => format!("{hours}h{rest_min}m"),
        },
        (_, 0) => format!("{minutes}m"),
        _ => format!("{minutes}m{rest_s}s"),
    }
}

/// The power of one step (see `workout_text`).
fn power(step: &Step) -> String {
    let (low, high) = (step.low_pct, step.high_pct);
    if low == high {
        return format!("{}%", percent(low));
    }
    match step.kind {
        SegmentKind::Warmup => format!("ramp {}-{}%", percent(low), percent(high)),
        SegmentKind::Cooldown => format!("ramp {}-{}%", percent(high), percent(low)),
        _ => format!("{}-{}%", percent(low.min(high)), percent(low.max(high))),
    }
}

/// `75` → `75`, `90.5` → `90.5`, `62.25` → `62.25`.
pub(crate) fn percent(pct: f64) -> String {
    let mut text = format!("{pct:.PERCENT_DECIMALS$}");
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    text
}

/// A step's words as a cue the builder cannot misread: the words before the first number
/// (what follows a number restates the target the step line already gives, "at 88–93% FTP
/// (204–216 W)"), letters, apostrophes and inner hyphens only, without the builder's reserved
/// words and a dangling last preposition, at most `MAX_CUE_CHARS`. So no cue starts a step
/// with `-`, holds a duration, a power, a zone or a repeat count, or breaks the line.
pub fn cue(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for raw in text.split_whitespace() {
        if raw.chars().any(char::is_numeric) {
            break;
        }
        let word: String = raw
            .chars()
            .filter(|c| c.is_alphabetic() || *c == '\'' || *c == '-')
            .collect();
        let word = word.trim_matches(|c: char| !c.is_alphabetic());
        if word.is_empty()
            || RESERVED_WORDS
                .iter()
                .any(|reserved| reserved.eq_ignore_ascii_case(word))
        {
            continue;
        }
        words.push(word.to_string());
    }
    while words.last().is_some_and(|last| {
        DANGLING_WORDS
            .iter()
            .any(|dangling| dangling.eq_ignore_ascii_case(last))
    }) {
        words.pop();
    }
    let mut out = String::new();
    for word in words {
        let needed = out.chars().count() + usize::from(!out.is_empty()) + word.chars().count();
        if needed > MAX_CUE_CHARS {
            if out.is_empty() {
                out = word.chars().take(MAX_CUE_CHARS).collect();
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

/// One event of the bulk endpoint, with only fields its API documents. intervals.icu reads
/// the workout's structure from `description` and works out its duration and training load
/// from it; `moving_time` is that same duration, and the load is left to it (it weighs the
/// steps by the athlete's own settings).
#[derive(Serialize)]
struct Event {
    category: &'static str,
    start_date_local: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    sport: Option<&'static str>,
    name: String,
    description: String,
    external_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    moving_time: Option<u64>,
}

/// The bulk events of the workouts within `range` (and of the event day, a `NOTE`, when it
/// is within it), in date order, as pretty-printed JSON ending in a newline. Each
/// `external_id` is `periodize-<athlete key>-<date>-<n>`, n the workout's place on its day
/// (`event` for the event day): the same athlete's calendar slot, whichever plan fills it
/// and however its workouts are named, so a plan pushed again, or regenerated and pushed,
/// updates those days instead of adding a second workout to them.
pub fn events_json(plan: &ExportPlan, range: DateRange) -> String {
    let key = ics::calendar_key(plan);
    let mut events: Vec<Event> = ics::day_slots(plan, range)
        .map(|slot| workout_event(&key, slot.week, slot.workout, slot.ordinal))
        .collect();
    if let Some(event) = plan.event.filter(|event| range.contains(event.date)) {
        let note = Event {
            category: "NOTE",
            start_date_local: local_midnight(event.date),
            sport: None,
            name: bounded(&ics::event_title(event.kind)),
            description: ics::event_description(plan),
            external_id: format!("{EXTERNAL_ID_PREFIX}-{key}-{}-event", event.date),
            moving_time: None,
        };
        let at = events
            .iter()
            .position(|other| other.start_date_local > note.start_date_local)
            .unwrap_or(events.len());
        events.insert(at, note);
    }
    let mut out = serde_json::to_string_pretty(&events).expect("events serialize to JSON");
    out.push('\n');
    out
}

fn workout_event(key: &str, week: &ExportWeek, workout: &DatedWorkout, ordinal: usize) -> Event {
    Event {
        category: "WORKOUT",
        start_date_local: local_midnight(workout.date),
        sport: Some(SPORT),
        name: bounded(&workout.name),
        description: format!("{}\n\n{}", prose(week, workout), workout_text(workout)),
        external_id: format!("{EXTERNAL_ID_PREFIX}-{key}-{}-{ordinal}", workout.date),
        moving_time: Some(workout.duration_s()),
    }
}

/// The day's start in the athlete's own time, as intervals.icu dates a planned workout.
fn local_midnight(date: chrono::NaiveDate) -> String {
    format!("{date}T00:00:00")
}

/// A name on one line, at most `MAX_NAME_CHARS`.
fn bounded(name: &str) -> String {
    let flat: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.trim().chars().take(MAX_NAME_CHARS).collect()
}

/// The plan's words above the structure, made inert for the builder, which reads every line
/// of a description: no line starts with `-` (a step), and no count stands next to an `x`
/// (`2x20`, `5 x 30 s` would start a repeat); such an `x` becomes `×`. Tabs become spaces,
/// other control characters but line breaks are left out.
fn prose(week: &ExportWeek, workout: &DatedWorkout) -> String {
    let mut text = format!("Week {}, {} phase.", week.week_number, week.phase);
    for part in plan_words(workout) {
        text.push_str("\n\n");
        text.push_str(part);
    }
    text.lines().map(inert_line).collect::<Vec<_>>().join("\n")
}

/// The workout's own words: its description and its detailed description, trimmed, the
/// empty ones left out, the detailed one when it is not the description again (the seed's
/// files often repeat it).
pub(crate) fn plan_words(workout: &DatedWorkout) -> Vec<&str> {
    let description = workout.description.trim();
    let detailed = workout
        .detailed_description
        .as_deref()
        .map(str::trim)
        .filter(|detailed| *detailed != description);
    [Some(description), detailed]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect()
}

fn inert_line(line: &str) -> String {
    let kept: Vec<char> = line
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_start_matches(|c: char| c == '-' || c.is_whitespace())
        .chars()
        .collect();
    kept.iter()
        .enumerate()
        .map(|(at, c)| {
            let detached = at == 0 || !kept[at - 1].is_alphabetic();
            let counted = first_past_spaces_is_digit(kept[..at].iter().rev())
                || first_past_spaces_is_digit(kept[at + 1..].iter());
            if matches!(c, 'x' | 'X') && detached && counted {
                '×'
            } else {
                *c
            }
        })
        .collect()
}

fn first_past_spaces_is_digit<'a>(mut chars: impl Iterator<Item = &'a char>) -> bool {
    chars.find(|c| **c != ' ').is_some_and(char::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::export::model::test_step as step;

    #[test]
    fn durations_are_exact_whole_seconds() {
        assert_eq!(duration(30), "30s");
        assert_eq!(duration(600), "10m");
        assert_eq!(duration(90), "1m30s");
        assert_eq!(duration(3600), "1h");
        assert_eq!(duration(4200), "1h10m");
        assert_eq!(duration(4230), "70m30s");
        assert_eq!(duration(10), "10s");
    }

    #[test]
    fn cues_hold_no_number_target_or_reserved_word() {
        assert_eq!(cue("Spin down at 40–55% FTP (93–128 W)"), "Spin down");
        assert_eq!(cue("Long tempo rep 1/1: 24 min"), "Long tempo rep");
        assert_eq!(cue("- Ramp up, press lap & go 5x"), "up go");
        assert_eq!(cue("Upper Z2"), "Upper");
        assert_eq!(cue("Don't surge\nstay seated"), "Don't surge stay seated");
        assert_eq!(cue("3x10"), "");
        assert!(cue(&"word ".repeat(30)).chars().count() <= MAX_CUE_CHARS);
    }

    /// A warm-up ramps up, a cool-down down, a band is its range, a repeat a header with its
    /// lines set off by blank lines.
    #[test]
    fn a_workout_is_written_in_the_builders_syntax() {
        let workout = DatedWorkout {
            date: chrono::NaiveDate::from_ymd_opt(2027, 1, 5).unwrap(),
            weekday: crate::domain::Weekday::Tuesday,
            name: "Sweet spot".to_string(),
            description: String::new(),
            detailed_description: None,
            blocks: vec![
                Block::Step(step(SegmentKind::Warmup, 600, 50.0, 75.0, "Warm up")),
                Block::Repeat(Repeat {
                    sets: 2,
                    work: step(SegmentKind::Work, 1200, 88.0, 93.0, "Sweet spot rep 1"),
                    recovery: Some(step(SegmentKind::Recovery, 300, 55.0, 55.0, "Easy")),
                    description: "Sweet spot rep 1".to_string(),
                }),
                Block::Step(step(SegmentKind::Steady, 90, 65.0, 65.0, "")),
                Block::Step(step(SegmentKind::Cooldown, 600, 45.0, 60.0, "Spin down")),
            ],
        };
        assert_eq!(
            workout_text(&workout),
            "- Warm up 10m ramp 50-75%\n\nSweet spot rep 2x\n- 20m 88-93%\n- Easy 5m 55%\n\n- 1m30s 65%\n- Spin down 10m ramp 60-45%\n"
        );
    }

    #[test]
    fn prose_starts_no_step_and_counts_no_repeat() {
        assert_eq!(
            inert_line("- 5 x (30 secs + 30 secs), then 2x20 and 3X; max 3 reps, box"),
            "5 × (30 secs + 30 secs), then 2×20 and 3×; max 3 reps, box"
        );
        assert_eq!(inert_line("x3 \u{7}ok"), "×3 ok");
    }
}
