//! iCalendar (RFC 5545), pure: a plan as one calendar, one all-day event per workout and one
//! for the event day, written by hand (CRLF lines folded at 75 octets, TEXT escaped), with
//! UIDs that are the same every time the athlete's plan is exported, so a calendar that
//! imports or subscribes to it again updates its events instead of doubling them. Also the
//! calendar identity the intervals.icu events share.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::domain::event::EventKind;
use crate::export::intervals;
use crate::export::model::{DatedWorkout, ExportPlan, ExportWeek};
use crate::export::{workouts, DateRange};

/// The calendar's file name.
pub const FILE_NAME: &str = "plan.ics";

/// Who wrote the calendar, in the `-//owner//product//language` form RFC 5545 shows.
const PRODID: &str = "-//periodize//training plan//EN";

/// The right side of every UID: RFC 5545 asks for a domain-like part that keeps one writer's
/// UIDs apart from another's.
const UID_DOMAIN: &str = "periodize";

/// Longest content line, in octets and without its CRLF (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// Hex digits of the athlete key: 64 bits keep the athletes of one calendar apart.
const KEY_HEX_CHARS: usize = 16;

/// Longest workout name in a summary, in characters: the summary is one line in a calendar.
const MAX_SUMMARY_NAME_CHARS: usize = 80;

/// One workout with its week and its place among the workouts of its day, 1 for the first.
pub struct DaySlot<'a> {
    pub week: &'a ExportWeek,
    pub workout: &'a DatedWorkout,
    pub ordinal: usize,
}

/// The workouts within `range` in date order, each numbered within its day over the whole
/// plan (a date range does not renumber them).
pub fn day_slots(plan: &ExportPlan, range: DateRange) -> impl Iterator<Item = DaySlot<'_>> + '_ {
    let mut seen: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    workouts(plan, DateRange::default())
        .map(move |(week, workout)| {
            let ordinal = seen.entry(workout.date).or_insert(0);
            *ordinal += 1;
            DaySlot {
                week,
                workout,
                ordinal: *ordinal,
            }
        })
        .filter(move |slot| range.contains(slot.workout.date))
}

/// The athlete's key in UIDs and external ids: the first hex digits of the SHA-256 of the
/// profile's name. With the date and the place on the day it names a calendar slot, not a
/// plan: re-exporting the plan, or regenerating it (a new run), gives the same identifiers
/// for the same days, so the calendar replaces those days' sessions; another athlete's plan
/// gets other identifiers. Nothing else of the plan goes in, so a changed workout name,
/// FTP or run id still updates the same event.
pub fn calendar_key(plan: &ExportPlan) -> String {
    let digest = Sha256::digest(plan.profile.name.as_bytes());
    let mut key = String::with_capacity(KEY_HEX_CHARS);
    for byte in digest.iter().take(KEY_HEX_CHARS / 2) {
        write!(key, "{byte:02x}").expect("writing to a String cannot fail");
    }
    key
}

/// The title of the event day: `Event day: gran fondo`, or `Event day` with no kind.
pub fn event_title(kind: EventKind) -> String {
    match kind {
        EventKind::None => "Event day".to_string(),
        kind => format!("Event day: {}", kind.name().replace('_', " ")),
    }
}

/// What the event day's entry says.
pub fn event_description(plan: &ExportPlan) -> String {
    format!(
        "The event this {}-week plan builds to; the plan starts on {}.",
        plan.weeks.len(),
        plan.start_date
    )
}

/// The calendar of the workouts within `range`, and of the event day when it is within it,
/// in date order. Every event is all-day (`DTSTART;VALUE=DATE`, `DTEND` the next day,
/// exclusive): a plan gives the day of a session, not its hour. `DTSTAMP`, which RFC 5545
/// requires, is the plan's first day at 00:00:00 UTC, not the time of export: the bytes stay
/// the same for the same plan, and the stamp still dates the plan.
pub fn calendar(plan: &ExportPlan, range: DateRange) -> String {
    let key = calendar_key(plan);
    let stamp = format!("{}T000000Z", plan.start_date.format("%Y%m%d"));
    let mut out = String::with_capacity(4096);
    content_line(&mut out, "BEGIN:VCALENDAR");
    content_line(&mut out, "VERSION:2.0");
    content_line(&mut out, &format!("PRODID:{PRODID}"));
    content_line(&mut out, "CALSCALE:GREGORIAN");
    content_line(&mut out, "METHOD:PUBLISH");
    content_line(
        &mut out,
        &format!(
            "X-WR-CALNAME:{}",
            escape_text(&format!("Training plan: {}", plan.profile.name.trim()))
        ),
    );
    let mut event_day = plan.event.filter(|event| range.contains(event.date));
    for slot in day_slots(plan, range) {
        if let Some(event) = event_day.filter(|event| event.date < slot.workout.date) {
            write_event_day(&mut out, plan, &key, &stamp, event.date, event.kind);
            event_day = None;
        }
        let workout = slot.workout;
        write_event(
            &mut out,
            &Entry {
                uid: format!("{}-{}.{key}@{UID_DOMAIN}", workout.date, slot.ordinal),
                stamp: &stamp,
                date: workout.date,
                summary: summary(slot.week, workout),
                description: description(slot.week, workout),
            },
        );
    }
    if let Some(event) = event_day {
        write_event_day(&mut out, plan, &key, &stamp, event.date, event.kind);
    }
    content_line(&mut out, "END:VCALENDAR");
    out
}

/// One all-day event, its TEXT values still unescaped.
struct Entry<'a> {
    uid: String,
    stamp: &'a str,
    date: NaiveDate,
    summary: String,
    description: String,
}

fn write_event_day(
    out: &mut String,
    plan: &ExportPlan,
    key: &str,
    stamp: &str,
    date: NaiveDate,
    kind: EventKind,
) {
    write_event(
        out,
        &Entry {
            uid: format!("{date}-event.{key}@{UID_DOMAIN}"),
            stamp,
            date,
            summary: event_title(kind),
            description: event_description(plan),
        },
    );
}

/// A `VEVENT`, transparent (a session does not make the rider busy for others all day).
/// `DTEND` is left out on the calendar's very last day, where RFC 5545 reads an all-day
/// event of no end as that one day.
fn write_event(out: &mut String, entry: &Entry<'_>) {
    content_line(out, "BEGIN:VEVENT");
    content_line(out, &format!("UID:{}", entry.uid));
    content_line(out, &format!("DTSTAMP:{}", entry.stamp));
    content_line(
        out,
        &format!("DTSTART;VALUE=DATE:{}", entry.date.format("%Y%m%d")),
    );
    if let Some(end) = entry.date.succ_opt() {
        content_line(out, &format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")));
    }
    content_line(out, &format!("SUMMARY:{}", escape_text(&entry.summary)));
    content_line(
        out,
        &format!("DESCRIPTION:{}", escape_text(&entry.description)),
    );
    content_line(out, "TRANSP:TRANSPARENT");
    content_line(out, "END:VEVENT");
}

/// `W3 Tue · Sweet spot 2×20 · 70 min · 76 TSS`: what a calendar's day cell shows.
fn summary(week: &ExportWeek, workout: &DatedWorkout) -> String {
    let name: String = workout
        .name
        .trim()
        .chars()
        .take(MAX_SUMMARY_NAME_CHARS)
        .collect();
    format!(
        "W{} {} · {} · {} · {:.0} TSS",
        week.week_number,
        &workout.weekday.name()[..3],
        name,
        minutes(workout.duration_s()),
        workout.tss().round()
    )
}

/// Riding time in whole minutes, rounded.
fn minutes(duration_s: u64) -> String {
    format!("{} min", (duration_s + 30) / 60)
}

/// Where the session sits, the plan's words, then its structure as intervals.icu text, which
/// reads as plain steps and can be pasted into its workout builder.
fn description(week: &ExportWeek, workout: &DatedWorkout) -> String {
    let mut text = format!(
        "Week {} ({} phase), {} {}: {}, {:.0} TSS.",
        week.week_number,
        week.phase,
        workout.weekday,
        workout.date,
        minutes(workout.duration_s()),
        workout.tss().round()
    );
    for part in intervals::plan_words(workout) {
        text.push_str("\n\n");
        text.push_str(part);
    }
    text.push_str("\n\nStructure:\n");
    text.push_str(intervals::workout_text(workout).trim_end());
    text
}

/// RFC 5545 TEXT: backslash, semicolon, comma and line break escaped (`\\`, `\;`, `\,`,
/// `\n`), a tab made a space, every other control character left out (a CR of a CRLF
/// included, so a Windows line break is one `\n`).
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded so no physical line passes `MAX_LINE_OCTETS` octets: a
/// fold is CRLF and a space (which counts towards the next line's octets), never inside a
/// UTF-8 character nor between a backslash and the character it escapes, so even a reader
/// that unescapes before it unfolds reads the same text.
fn content_line(out: &mut String, line: &str) {
    let mut used = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        let mut unit = [c, '\0'];
        let mut unit_len = 1;
        if c == '\\' {
            if let Some(escaped) = chars.next() {
                unit[1] = escaped;
                unit_len = 2;
            }
        }
        let unit = &unit[..unit_len];
        let octets: usize = unit.iter().map(|c| c.len_utf8()).sum();
        if used + octets > MAX_LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.extend(unit);
        used += octets;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(line: &str) -> String {
        let mut out = String::new();
        content_line(&mut out, line);
        out
    }

    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "")
            .trim_end_matches("\r\n")
            .to_string()
    }

    /// Every physical line is at most 75 octets, a multi-byte character or an escape that
    /// would cross the limit moves whole to the next line, and unfolding gives the line back.
    #[test]
    fn folding_keeps_lines_short_and_characters_whole() {
        for (line, first) in [
            // 74 octets, then a two-octet character that would end at octet 76.
            (format!("{}é tail", "a".repeat(74)), "a".repeat(74)),
            // 73 octets, then a four-octet emoji.
            (format!("{}🚴 tail", "b".repeat(73)), "b".repeat(73)),
            // 74 octets, then an escaped comma.
            (format!("{}\\, tail", "c".repeat(74)), "c".repeat(74)),
            (
                format!("{}é", "d".repeat(73)),
                format!("{}é", "d".repeat(73)),
            ),
        ] {
            let out = folded(&line);
            assert!(out.ends_with("\r\n"));
            let physical: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
            assert_eq!(physical[0], first, "{line}");
            for part in &physical {
                assert!(part.len() <= MAX_LINE_OCTETS, "{part:?}");
            }
            for part in &physical[1..] {
                assert!(part.starts_with(' '));
            }
            assert_eq!(unfold(&out), line);
        }
        let long = "é".repeat(200);
        let out = folded(&long);
        assert!(out.split("\r\n").all(|part| part.len() <= MAX_LINE_OCTETS));
        assert_eq!(unfold(&out), long);
    }

    #[test]
    fn text_escapes_the_four_specials_and_drops_control_characters() {
        assert_eq!(
            escape_text("a\\b;c,d\r\ne\tf\u{7}g\u{7f}"),
            "a\\\\b\\;c\\,d\\ne fg"
        );
        assert_eq!(escape_text("Ötzi: 2×20 “quoted”"), "Ötzi: 2×20 “quoted”");
    }

    #[test]
    fn the_calendar_key_is_the_athletes_and_short() {
        let plan = |name: &str| {
            ExportPlan::for_tests(
                name,
                250.0,
                NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(),
                Vec::new(),
            )
        };
        let key = calendar_key(&plan("Marta Ruiz"));
        assert_eq!(key.len(), KEY_HEX_CHARS);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key, calendar_key(&plan("Marta Ruiz")));
        assert_ne!(key, calendar_key(&plan("Tom")));
    }
}
