//! Exports of a finished plan, pure: the plan model (`model.rs`) and one module per format
//! (`zwo.rs`, …), each turning the model into files (relative names and bytes) with no clock
//! and no randomness, so the same plan exports byte-identical files. The callers write them.

pub mod fit;
pub mod html;
pub mod ics;
pub mod intervals;
pub mod model;
pub mod mrc;
pub mod report_data;
pub mod svg;
pub mod zwo;

use chrono::NaiveDate;

use crate::export::model::{DatedWorkout, ExportPlan, ExportWeek};

/// The export formats, in the order `all` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zwo,
    Fit,
    Ics,
    Intervals,
    Mrc,
    Html,
    ReportData,
    All,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Zwo,
        Format::Fit,
        Format::Ics,
        Format::Intervals,
        Format::Mrc,
        Format::Html,
        Format::ReportData,
        Format::All,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Zwo => "zwo",
            Format::Fit => "fit",
            Format::Ics => "ics",
            Format::Intervals => "intervals",
            Format::Mrc => "mrc",
            Format::Html => "html",
            Format::ReportData => "report-data",
            Format::All => "all",
        }
    }

    pub fn parse(text: &str) -> Option<Format> {
        let wanted = text.trim();
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(wanted))
    }

    /// Parses a comma-separated list (`zwo,ics,html`, or `all`) into distinct concrete
    /// formats in issue order; the error is the first name that is not a format.
    pub fn parse_list(text: &str) -> Result<Vec<Format>, String> {
        let mut formats = Vec::new();
        for part in text.split(',') {
            let format = Format::parse(part).ok_or_else(|| part.trim().to_string())?;
            let expanded: &[Format] = match format {
                Format::All => &Format::CONCRETE,
                _ => std::slice::from_ref(&format),
            };
            for format in expanded {
                if !formats.contains(format) {
                    formats.push(*format);
                }
            }
        }
        formats.sort_by_key(|format| Format::ALL.iter().position(|f| f == format));
        Ok(formats)
    }
}

impl Format {
    /// Every format but `All`.
    pub const CONCRETE: [Format; 7] = [
        Format::Zwo,
        Format::Fit,
        Format::Ics,
        Format::Intervals,
        Format::Mrc,
        Format::Html,
        Format::ReportData,
    ];
}

/// The days whose workouts are exported, both ends included; `None` is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl DateRange {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| from <= date) && self.to.is_none_or(|to| date <= to)
    }
}

/// One file to write: a relative path (a file name, or `folder/file` for `All`) safe on every
/// file system, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The files of `format` for `plan`, in a fixed order. A single format's files are named
/// plainly; `All` puts each format's files in a folder named after the format (`zwo/…`,
/// `fit/…`), so several formats sharing one name scheme never collide. Per-workout and
/// calendar formats hold the workouts within `range`; the reports describe the whole plan.
pub fn files(plan: &ExportPlan, format: Format, range: DateRange) -> Vec<ExportFile> {
    match format {
        Format::All => files_of(plan, &Format::CONCRETE, range),
        Format::Zwo => per_workout(plan, range, zwo::EXTENSION, |week, workout| {
            zwo::workout_file(plan, week, workout).into_bytes()
        }),
        Format::Fit => per_workout(plan, range, fit::EXTENSION, |week, workout| {
            fit::workout_file(plan, week, workout)
        }),
        Format::Ics => vec![ExportFile {
            name: ics::FILE_NAME.to_string(),
            bytes: ics::calendar(plan, range).into_bytes(),
        }],
        Format::Intervals => {
            let mut files = per_workout(plan, range, intervals::EXTENSION, |_, workout| {
                intervals::workout_text(workout).into_bytes()
            });
            files.push(ExportFile {
                name: intervals::EVENTS_FILE_NAME.to_string(),
                bytes: intervals::events_json(plan, range).into_bytes(),
            });
            files
        }
        Format::Mrc => per_workout(plan, range, mrc::EXTENSION, |week, workout| {
            mrc::workout_file(week, workout).into_bytes()
        }),
        // The reports describe the whole plan: the range does not apply to them.
        Format::Html => vec![ExportFile {
            name: html::FILE_NAME.into(),
            bytes: html::report(plan).into_bytes(),
        }],
        Format::ReportData => vec![ExportFile {
            name: report_data::FILE_NAME.into(),
            bytes: report_data::report_data(plan).into_bytes(),
        }],
    }
}

/// The files of several formats: one format's named as `files` names them, several each in a
/// folder named after its format (as `All` does). `formats` are concrete.
pub fn files_of(plan: &ExportPlan, formats: &[Format], range: DateRange) -> Vec<ExportFile> {
    if let [format] = formats {
        return files(plan, *format, range);
    }
    formats
        .iter()
        .flat_map(|format| {
            files(plan, *format, range)
                .into_iter()
                .map(move |file| ExportFile {
                    name: format!("{}/{}", format.name(), file.name),
                    bytes: file.bytes,
                })
        })
        .collect()
}

/// One file per workout within `range`, named by `file_stem` (made unique) and `extension`.
fn per_workout(
    plan: &ExportPlan,
    range: DateRange,
    extension: &str,
    mut write: impl FnMut(&ExportWeek, &DatedWorkout) -> Vec<u8>,
) -> Vec<ExportFile> {
    let mut names = Vec::new();
    workouts(plan, range)
        .map(|(week, workout)| ExportFile {
            name: format!(
                "{}.{extension}",
                unique(file_stem(week, workout), &mut names)
            ),
            bytes: write(week, workout),
        })
        .collect()
}

/// What an app shows under a workout's name: where the session sits in the plan ("Week 3
/// (build), Tuesday 2027-01-19."), then the plan's own words, each part after `separator`. The
/// seed's files often repeat the description as the detailed one: it is said once.
pub fn workout_summary(week: &ExportWeek, workout: &DatedWorkout, separator: &str) -> String {
    let mut text = format!(
        "Week {} ({}), {} {}.",
        week.week_number, week.phase, workout.weekday, workout.date
    );
    let detailed = workout
        .detailed_description
        .as_ref()
        .filter(|detailed| detailed.trim() != workout.description.trim());
    for part in [Some(&workout.description), detailed]
        .into_iter()
        .flatten()
        .filter(|part| !part.trim().is_empty())
    {
        text.push_str(separator);
        text.push_str(part.trim());
    }
    text
}

/// Escapes text for XML and HTML alike (`.zwo`, SVG, the report), in an element or (with
/// `attribute`) a quoted attribute: the five markup characters become references (`&#39;`,
/// which HTML and XML both read). In an attribute, line breaks and tabs become character
/// references, since a parser folds literal ones into spaces; an element keeps them. The
/// characters neither allows (other control characters, DEL, U+FFFE, U+FFFF) are left out.
pub fn escape_markup(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' | '\r' if !attribute => out.push(c),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Every workout within `range`, with its week, in date order.
pub fn workouts(
    plan: &ExportPlan,
    range: DateRange,
) -> impl Iterator<Item = (&ExportWeek, &DatedWorkout)> + '_ {
    plan.weeks.iter().flat_map(move |week| {
        week.workouts
            .iter()
            .filter(move |workout| range.contains(workout.date))
            .map(move |workout| (week, workout))
    })
}

/// Longest slug of a workout name in a file name: with the date, week and day the name stays
/// far below every file system's 255-byte limit, and readable in a file list.
const MAX_SLUG_CHARS: usize = 40;

/// `2027-01-05_w01_tue_threshold-2x10`: date first so files sort by date, then the week and
/// day a rider looks for, then the workout's name as lowercase ASCII letters, digits and
/// hyphens. No character any file system reserves, no reserved name (it starts with a digit),
/// no trailing dot or space, no case-only differences.
pub fn file_stem(week: &ExportWeek, workout: &DatedWorkout) -> String {
    let day = workout.weekday.name()[..3].to_ascii_lowercase();
    format!(
        "{}_w{:02}_{day}_{}",
        workout.date,
        week.week_number,
        slug(&workout.name)
    )
}

/// `Sweet spot 2×10 min` → `sweet-spot-2x10-min`; an empty or non-Latin name → `workout`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c == '×' { 'x' } else { c };
        if c.is_ascii_alphanumeric() {
            if out.len() == MAX_SLUG_CHARS {
                break;
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') && out.len() < MAX_SLUG_CHARS {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "workout".to_string()
    } else {
        trimmed.to_string()
    }
}

/// A second workout of the same name on the same day gets `_2`, a third `_3`, in plan order.
fn unique(stem: String, taken: &mut Vec<String>) -> String {
    let mut candidate = stem.clone();
    let mut number = 2;
    while taken.contains(&candidate) {
        candidate = format!("{stem}_{number}");
        number += 1;
    }
    taken.push(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_escaping_leaves_nothing_a_parser_would_misread() {
        assert_eq!(
            escape_markup("a<b>&\"c\"'\n\u{1}\u{7f}d", true),
            "a&lt;b&gt;&amp;&quot;c&quot;&#39;&#10;d"
        );
        assert_eq!(escape_markup("a\n\u{1}b", false), "a\nb");
    }

    #[test]
    fn format_lists_expand_all_and_name_the_bad_part() {
        assert_eq!(
            Format::parse_list("html, zwo,zwo").unwrap(),
            vec![Format::Zwo, Format::Html]
        );
        assert_eq!(
            Format::parse_list("all").unwrap(),
            Format::CONCRETE.to_vec()
        );
        assert_eq!(Format::parse_list("zwo,pdf").unwrap_err(), "pdf");
    }

    #[test]
    fn slugs_are_short_lowercase_ascii() {
        assert_eq!(slug("Sweet spot 2×10 min"), "sweet-spot-2x10-min");
        assert_eq!(slug("  CON: <a/b>?  "), "con-a-b");
        assert_eq!(slug("Ötztaler ✓"), "tztaler");
        assert_eq!(slug("✓✓"), "workout");
        assert_eq!(slug(&"a".repeat(100)).len(), MAX_SLUG_CHARS);
    }
}
