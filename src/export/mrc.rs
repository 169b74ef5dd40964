//! ERG-mode course files (`.mrc`, CompuTrainer and TrainerRoad heritage), pure: one workout
//! as a header, a power profile in percent of FTP over cumulative minutes (repeats unrolled:
//! the format has none) and the steps' words as timed text cues, CRLF line endings.

use crate::domain::SegmentKind;
use crate::export::file_stem;
use crate::export::intervals::percent;
use crate::export::model::{Block, DatedWorkout, ExportWeek, Step};

/// The file extension ERG-mode apps look for, lowercase as TrainerRoad requires.
pub const EXTENSION: &str = "mrc";

/// The line ending of the format's Windows-born readers; the others read it too.
const LINE_END: &str = "\r\n";

/// Decimal places of a time in minutes at most: a time rounded to them is within 0.00005 min
/// (3 ms) of its whole second, so a reader that multiplies by 60 and rounds to seconds
/// reads every point, and every step's duration, as the plan's seconds exactly.
const MAX_MINUTE_DECIMALS: u32 = 4;

/// Decimal places a time keeps even when they are zeros, the `10.00` of the format's own
/// files.
const MIN_MINUTE_DECIMALS: usize = 2;

/// How long a cue stays on screen, in seconds (never past its step's end).
const CUE_S: u32 = 10;

/// Longest cue, or workout name in the description, in characters: one line of a trainer
/// app's screen.
const MAX_TEXT_CHARS: usize = 80;

/// The `.mrc` text of one workout. Each step is two points, its start and its end: a steady
/// step is flat at the midpoint of its band, a warm-up ramps from its low to its high
/// target, a cool-down from its high to its low; the next step starts at the same minute,
/// so a change of power is a vertical edge. Deterministic: the same workout gives the same
/// bytes.
pub fn workout_file(week: &ExportWeek, workout: &DatedWorkout) -> String {
    let mut out = String::with_capacity(2048);
    // The name, then where the session sits: a list of courses often shows only this line.
    let description = format!(
        "{} (W{} {} {})",
        header_value(&workout.name),
        week.week_number,
        &workout.weekday.name()[..3],
        workout.date
    );
    for line in [
        "[COURSE HEADER]".to_string(),
        "VERSION = 2".to_string(),
        "UNITS = ENGLISH".to_string(),
        format!("DESCRIPTION = {description}"),
        format!("FILE NAME = {}.{EXTENSION}", file_stem(week, workout)),
        "MINUTES PERCENT".to_string(),
        "[END COURSE HEADER]".to_string(),
        "[COURSE DATA]".to_string(),
    ] {
        push_line(&mut out, &line);
    }
    let mut elapsed_s: u64 = 0;
    let mut cues = Vec::new();
    for (step, cue) in unrolled(workout) {
        let cue = text_value(&cue);
        if !cue.is_empty() {
            cues.push(format!(
                "{elapsed_s}\t{cue}\t{}",
                CUE_S.min(step.duration_s)
            ));
        }
        let (start_pct, end_pct) = targets(step);
        push_line(
            &mut out,
            &format!("{}\t{}", minutes(elapsed_s), percent(start_pct)),
        );
        elapsed_s += u64::from(step.duration_s);
        push_line(
            &mut out,
            &format!("{}\t{}", minutes(elapsed_s), percent(end_pct)),
        );
    }
    push_line(&mut out, "[END COURSE DATA]");
    if !cues.is_empty() {
        push_line(&mut out, "[COURSE TEXT]");
        for cue in &cues {
            push_line(&mut out, cue);
        }
        push_line(&mut out, "[END COURSE TEXT]");
    }
    out
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push_str(LINE_END);
}

/// Every step as ridden, each with the cue at its start. A repeat's first set says what the
/// repeat is; every set repeats the work's and the recovery's own words, the work's only
/// when they differ from the repeat's (a regrouped repeat keeps the first set's words,
/// "rep 1/3", which would be wrong on every later set).
fn unrolled(workout: &DatedWorkout) -> Vec<(&Step, String)> {
    let mut steps = Vec::new();
    for block in &workout.blocks {
        match block {
            Block::Step(step) => steps.push((step, step.description.clone())),
            Block::Repeat(repeat) => {
                let block_words = repeat.description.trim();
                let work_words = repeat.work.description.trim();
                let own_words = if work_words == block_words {
                    ""
                } else {
                    work_words
                };
                for set in 1..=repeat.sets {
                    let cue = match (set, block_words.is_empty(), own_words.is_empty()) {
                        (1, false, false) => format!("{block_words}: {own_words}"),
                        (1, false, true) => block_words.to_string(),
                        _ => own_words.to_string(),
                    };
                    steps.push((&repeat.work, cue));
                    if let Some(recovery) = &repeat.recovery {
                        steps.push((recovery, recovery.description.clone()));
                    }
                }
            }
        }
    }
    steps
}

/// Power at a step's start and at its end, in percent of FTP.
fn targets(step: &Step) -> (f64, f64) {
    match step.kind {
        SegmentKind::Warmup => (step.low_pct, step.high_pct),
        SegmentKind::Cooldown => (step.high_pct, step.low_pct),
        _ => {
            let midpoint = (step.low_pct + step.high_pct) / 2.0;
            (midpoint, midpoint)
        }
    }
}

/// Whole seconds as decimal minutes, to the nearest `MAX_MINUTE_DECIMALS` place: `600` →
/// `10.00`, `10` → `0.1667`, `20` → `0.3333`, `630` → `10.50`. Integer arithmetic, so no
/// binary fraction rounds a time the wrong way.
fn minutes(seconds: u64) -> String {
    let scale = 10_u64.pow(MAX_MINUTE_DECIMALS);
    let scaled = (seconds * scale + 30) / 60;
    let mut text = format!(
        "{}.{:0width$}",
        scaled / scale,
        scaled % scale,
        width = MAX_MINUTE_DECIMALS as usize
    );
    let point = text.len() - MAX_MINUTE_DECIMALS as usize;
    let decimals = text[point..].trim_end_matches('0').len();
    text.truncate(point + decimals.max(MIN_MINUTE_DECIMALS));
    text
}

/// A cue's text on one line: tabs (the column separator) and line breaks become spaces,
/// other control characters and the brackets that mark sections are left out, runs of
/// spaces are one, at most `MAX_TEXT_CHARS`.
fn text_value(text: &str) -> String {
    let spaced: String = text
        .chars()
        .filter(|c| !matches!(c, '[' | ']'))
        .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_TEXT_CHARS)
        .collect()
}

/// A header value: a cue's text without `=`, which readers take as the end of the value.
fn header_value(text: &str) -> String {
    text_value(&text.replace('=', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_read_back_to_the_whole_second() {
        assert_eq!(minutes(0), "0.00");
        assert_eq!(minutes(600), "10.00");
        assert_eq!(minutes(630), "10.50");
        assert_eq!(minutes(10), "0.1667");
        assert_eq!(minutes(20), "0.3333");
        assert_eq!(minutes(45), "0.75");
        for seconds in 0..40_000_u64 {
            let read: f64 = minutes(seconds).parse().unwrap();
            let read_s = read * 60.0;
            assert!((read_s - seconds as f64).abs() <= 0.003 + 1e-9, "{seconds}");
            assert_eq!(read_s.round() as u64, seconds);
        }
    }

    #[test]
    fn text_stays_on_its_line_and_out_of_the_sections() {
        assert_eq!(
            text_value("Go [END COURSE DATA]\tnow\r\n\u{1}again  "),
            "Go END COURSE DATA now again"
        );
        assert_eq!(header_value("a = b"), "a b");
        assert_eq!(text_value(&"é".repeat(100)).chars().count(), MAX_TEXT_CHARS);
    }
}
