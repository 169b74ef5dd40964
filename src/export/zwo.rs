//! Zwift's `.zwo` workout file, pure: one workout of the export model as the XML Zwift (and
//! MyWhoosh, Rouvy, TrainingPeaks Virtual, intervals.icu, Golden Cheetah) imports. Only
//! elements and attributes Zwift's own workouts use (the domain guide §2.1, from the h4l
//! inventory of the built-in files); power is a fraction of FTP, durations whole seconds.

use std::fmt::Write;

use crate::domain::SegmentKind;
use crate::export::escape_markup;
use crate::export::model::{Block, DatedWorkout, ExportPlan, ExportWeek, Step};

/// The file extension Zwift looks for in its workouts folder.
pub const EXTENSION: &str = "zwo";

/// One indentation level: four spaces, as Zwift's own editor writes.
const INDENT: &str = "    ";

/// Decimal places of a power fraction: a percentage with two decimals (90.25 %) is exact.
const POWER_DECIMALS: usize = 4;

/// The `.zwo` text of one workout. Deterministic: no clock, no randomness, so the same plan
/// gives the same bytes.
pub fn workout_file(plan: &ExportPlan, week: &ExportWeek, workout: &DatedWorkout) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<workout_file>\n");
    element(&mut out, "author", &author(plan));
    element(&mut out, "name", &workout.name);
    element(
        &mut out,
        "description",
        &crate::export::workout_summary(week, workout, "\n\n"),
    );
    element(&mut out, "sportType", "bike");
    writeln!(out, "{INDENT}<workout>").expect("writing to a String cannot fail");
    for block in &workout.blocks {
        write_block(&mut out, block);
    }
    writeln!(out, "{INDENT}</workout>\n</workout_file>").expect("writing to a String cannot fail");
    out
}

fn author(plan: &ExportPlan) -> String {
    match &plan.provenance {
        Some(made) => format!("periodize ({} {})", made.provider, made.model),
        None => "periodize".to_string(),
    }
}

fn element(out: &mut String, name: &str, text: &str) {
    writeln!(
        out,
        "{INDENT}<{name}>{}</{name}>",
        escape_markup(text, false)
    )
    .expect("writing to a String cannot fail");
}

/// The block of one step or repeat, with its description as a cue at its start. Zwift leaves
/// open whether a cue's offset inside `IntervalsT` counts per set or over the block, so a
/// repeat's cue is at 0 only.
fn write_block(out: &mut String, block: &Block) {
    let (tag, attributes, cue) = match block {
        Block::Step(step) => {
            let (tag, attributes) = step_element(step);
            (tag, attributes, step.description.as_str())
        }
        Block::Repeat(repeat) => match &repeat.recovery {
            Some(recovery) => (
                "IntervalsT",
                vec![
                    ("Repeat", repeat.sets.to_string()),
                    ("OnDuration", repeat.work.duration_s.to_string()),
                    ("OffDuration", recovery.duration_s.to_string()),
                    ("OnPower", power(midpoint(&repeat.work))),
                    ("OffPower", power(midpoint(recovery))),
                ],
                repeat.description.as_str(),
            ),
            // `IntervalsT` always rides an off part: sets with no recovery are unrolled.
            None => {
                for _ in 0..repeat.sets {
                    write_block(out, &Block::Step(repeat.work.clone()));
                }
                return;
            }
        },
    };
    let mut line = format!("{INDENT}{INDENT}<{tag}");
    for (name, value) in &attributes {
        write!(line, " {name}=\"{}\"", escape_markup(value, true))
            .expect("writing to a String cannot fail");
    }
    if cue.trim().is_empty() {
        writeln!(out, "{line}/>").expect("writing to a String cannot fail");
    } else {
        writeln!(
            out,
            "{line}>\n{INDENT}{INDENT}{INDENT}<textevent timeoffset=\"0\" message=\"{}\"/>\n{INDENT}{INDENT}</{tag}>",
            escape_markup(cue.trim(), true)
        )
        .expect("writing to a String cannot fail");
    }
}

/// A warm-up ramps up from its low to its high target. A cool-down ramps down; Zwift reads a
/// `Cooldown`'s `PowerLow` as its start and `PowerHigh` as its end, so the high target comes
/// first. Any other step's range is a band to hold, not a ramp: a `SteadyState` at its
/// midpoint, written as `Power` (given `PowerLow`/`PowerHigh`, Zwift would take the midpoint
/// too, but other readers would not).
fn step_element(step: &Step) -> (&'static str, Vec<(&'static str, String)>) {
    let ramp = |tag, start, end| {
        (
            tag,
            vec![
                ("Duration", step.duration_s.to_string()),
                ("PowerLow", power(start)),
                ("PowerHigh", power(end)),
            ],
        )
    };
    match step.kind {
        SegmentKind::Warmup => ramp("Warmup", step.low_pct, step.high_pct),
        SegmentKind::Cooldown => ramp("Cooldown", step.high_pct, step.low_pct),
        _ => (
            "SteadyState",
            vec![
                ("Duration", step.duration_s.to_string()),
                ("Power", power(midpoint(step))),
            ],
        ),
    }
}

fn midpoint(step: &Step) -> f64 {
    (step.low_pct + step.high_pct) / 2.0
}

/// A percentage of FTP as Zwift's fraction: `90.5` → `0.905`, `100` → `1.0`.
fn power(pct: f64) -> String {
    let mut text = format!("{:.POWER_DECIMALS$}", pct / 100.0);
    while text.ends_with('0') && !text.ends_with(".0") {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_is_a_short_exact_fraction() {
        assert_eq!(power(90.5), "0.905");
        assert_eq!(power(100.0), "1.0");
        assert_eq!(power(55.0), "0.55");
        assert_eq!(power(90.25), "0.9025");
    }
}
