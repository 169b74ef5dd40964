//! The prompt templates of 3a and 3b: loading (the only filesystem access), syntax checking,
//! content hashing, pure `{{variable}}` rendering, and the variables computed from a step brief.
//!
//! Templates have no logic of their own: every block of text that depends on the athlete or the
//! overview (zones table, caps listing, neighbour weeks, targets) is computed here in Rust and
//! passed as a variable, so a prompt author can reword a template but not break its arithmetic.
//! Both templates of a step (system and user) see the same variables; `prompts/README.md` lists
//! them. A placeholder without a value is an error, never an empty string, because a silently
//! blank constraint in a prompt is a bug the validator would only catch after paying for tokens.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::domain::plan::{minutes_to_hours, PlanOverview, WeekOverview, MAX_SETS};
use crate::domain::profile::AthleteProfile;
use crate::domain::validate::{
    TssCheck, BUDGET_TOLERANCE, MAX_HARD_DAYS, MAX_POWER_PCT, SPRINT_MAX_PCT, TARGET_FTP_RANGE,
};
use crate::domain::{zones, Weekday};
use crate::files::{self, ReadError};
use crate::llm::{StepBrief, StepId};

mod variables;

use variables::*;
pub use variables::{overview_variables, week_variables};

/// The four template files, in the order the hash covers them.
pub const TEMPLATE_NAMES: [&str; 4] = [
    "training_planning_overview.txt",
    "training_planning_overview_user.txt",
    "training_planning_weeks.txt",
    "training_planning_weeks_user.txt",
];

pub const OVERVIEW_SYSTEM: &str = TEMPLATE_NAMES[0];
pub const OVERVIEW_USER: &str = TEMPLATE_NAMES[1];
pub const WEEKS_SYSTEM: &str = TEMPLATE_NAMES[2];
pub const WEEKS_USER: &str = TEMPLATE_NAMES[3];

/// Every variable the 3a templates (system and user) may use.
pub const OVERVIEW_VARIABLES: &[&str] = &[
    "athlete_summary",
    "budget_margin_pct",
    "calendar",
    "day_caps",
    "ftp_w",
    "goals",
    "max_hard_days",
    "max_training_days",
    "power_zones",
    "target_ftp_max",
    "target_ftp_max_ratio",
    "target_ftp_min",
    "target_ftp_min_ratio",
    "total_weeks",
    "unavailable_days",
    "weekly_hours",
    "weekly_hours_max",
];

/// Every variable the 3b templates (system and user) may use.
pub const WEEK_VARIABLES: &[&str] = &[
    "athlete_summary",
    "day_caps",
    "easy_days",
    "ftp_w",
    "goals",
    "hard_days",
    "hours_tolerance_pct",
    "hours_tolerance_unloading_pct",
    "max_power_pct",
    "max_sets",
    "minutes_window",
    "next_week",
    "phase",
    "plan_summary",
    "power_zones",
    "previous_week",
    "rest_days",
    "sprint_max_pct",
    "sprint_max_s",
    "target_hours",
    "target_minutes",
    "target_tss",
    "total_weeks",
    "training_days",
    "tss_tolerance_pct",
    "tss_tolerance_unloading_pct",
    "tss_window",
    "week_entry",
    "week_number",
];

// The week tolerances the prompt asks for are the validator's warning thresholds (SPEC §6):
// aiming inside them leaves the model a margin before the failure thresholds. They are private
// in `domain::validate`, so they are restated here; tests/it/prompts.rs checks that weeks at
// both ends of the stated riding-time window pass `check_week`'s hours rule without a warning.
const HOURS_TOLERANCE: f64 = 0.10;
const HOURS_TOLERANCE_UNLOADING: f64 = 0.08;
const TSS_TOLERANCE: f64 = 0.15;
const TSS_TOLERANCE_UNLOADING: f64 = 0.12;

/// Explicit template variables: name to value. Ordered, so building them is deterministic.
pub type Vars = BTreeMap<&'static str, String>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("prompts directory {dir} does not exist or is not a directory")]
    MissingDir { dir: String },
    #[error("prompt template \"{file}\" is missing from {dir} (a prompts directory needs all of: {expected})")]
    MissingFile {
        file: &'static str,
        dir: String,
        expected: String,
    },
    #[error("cannot read prompt template \"{file}\" in {dir}: {reason}")]
    Read {
        file: &'static str,
        dir: String,
        reason: String,
    },
    #[error("prompt template \"{file}\" in {dir} is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        file: &'static str,
        dir: String,
        offset: usize,
    },
    #[error("template \"{template}\" has a syntax error at byte {offset}: {reason}")]
    Syntax {
        template: String,
        offset: usize,
        reason: String,
    },
    #[error("template \"{template}\" uses variable {{{{{variable}}}}}, which periodize does not provide (known: {known})")]
    UnknownVariable {
        template: String,
        variable: String,
        known: String,
    },
    #[error("template \"{template}\" uses variable {{{{{variable}}}}} that was not provided")]
    MissingVariable { template: String, variable: String },
    #[error("unknown prompt template \"{name}\", expected one of {expected}")]
    UnknownTemplate { name: String, expected: String },
    #[error("cannot build the prompts for {step}: {reason}")]
    Brief { step: String, reason: String },
}

/// The four templates, by name. Construct with `embedded` or `load_dir`, which guarantee that
/// all four are present and syntactically valid.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSet {
    templates: BTreeMap<&'static str, String>,
}

impl PromptSet {
    /// The copies of `prompts/` built into the binary.
    pub fn embedded() -> PromptSet {
        let texts = [
            include_str!("../../prompts/training_planning_overview.txt"),
            include_str!("../../prompts/training_planning_overview_user.txt"),
            include_str!("../../prompts/training_planning_weeks.txt"),
            include_str!("../../prompts/training_planning_weeks_user.txt"),
        ];
        let templates = TEMPLATE_NAMES
            .into_iter()
            .zip(texts.map(str::to_string))
            .collect();
        PromptSet { templates }
    }

    /// Reads the four templates from `dir`. Fails, naming the file, if one is missing, not a
    /// regular file, larger than `files::MAX_TEMPLATE_BYTES`, not UTF-8, malformed, or uses a
    /// variable its step does not provide, so that a bad prompts directory is refused before a
    /// run is created rather than in the middle of one.
    pub fn load_dir(dir: &Path) -> Result<PromptSet, Error> {
        let shown = dir.display().to_string();
        if !dir.is_dir() {
            return Err(Error::MissingDir { dir: shown });
        }
        let mut templates = BTreeMap::new();
        for file in TEMPLATE_NAMES {
            // Bounded and regular files only: a FIFO or /dev/zero named as a template must not
            // hang the run or fill memory.
            let text = files::read_text(&dir.join(file), files::MAX_TEMPLATE_BYTES)
                .map_err(|err| read_error(file, &shown, err))?;
            check_template(file, &text)?;
            templates.insert(file, text);
        }
        Ok(PromptSet { templates })
    }

    /// The text of one template.
    pub fn template(&self, name: &str) -> Option<&str> {
        self.templates.get(name).map(String::as_str)
    }

    /// Lowercase hex SHA-256 over the names and contents in `TEMPLATE_NAMES` order. Each part is
    /// length-prefixed so that moving bytes from one template to the next changes the hash.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        for name in TEMPLATE_NAMES {
            // Both constructors insert all four names, so the fallback is never taken.
            let text = self.template(name).unwrap_or("");
            for part in [name.as_bytes(), text.as_bytes()] {
                hasher.update((part.len() as u64).to_le_bytes());
                hasher.update(part);
            }
        }
        let mut hex = String::with_capacity(64);
        for byte in hasher.finalize() {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }

    /// Renders template `name` with `vars`. Pure and single-pass: substituted values are not
    /// scanned again, so a `{{` inside an athlete's goals stays literal text.
    pub fn render(&self, name: &str, vars: &Vars) -> Result<String, Error> {
        let text = self.template(name).ok_or_else(|| Error::UnknownTemplate {
            name: name.to_string(),
            expected: TEMPLATE_NAMES.join(", "),
        })?;
        let mut out =
            String::with_capacity(text.len() + vars.values().map(String::len).sum::<usize>());
        scan(name, text, |piece| {
            match piece {
                Piece::Text(literal) => out.push_str(literal),
                Piece::Var(variable) => match vars.get(variable) {
                    Some(value) => out.push_str(value),
                    None => {
                        return Err(Error::MissingVariable {
                            template: name.to_string(),
                            variable: variable.to_string(),
                        })
                    }
                },
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// (system, user) prompts for 3a. The start date is not part of a brief; see
    /// `overview_messages_with_start` to state it in the prompt.
    pub fn overview_messages(&self, brief: &StepBrief) -> Result<(String, String), Error> {
        self.overview_messages_with_start(brief, None)
    }

    /// (system, user) prompts for 3a, stating the plan's start date when it is known, so the
    /// model can place the taper against the event date.
    pub fn overview_messages_with_start(
        &self,
        brief: &StepBrief,
        start_date: Option<NaiveDate>,
    ) -> Result<(String, String), Error> {
        let vars = overview_variables(brief, start_date)?;
        Ok((
            self.render(OVERVIEW_SYSTEM, &vars)?,
            self.render(OVERVIEW_USER, &vars)?,
        ))
    }

    /// (system, user) prompts for 3b; `brief.step` must be `StepId::Week(k)` with the accepted
    /// overview in `brief.overview`.
    pub fn week_messages(&self, brief: &StepBrief) -> Result<(String, String), Error> {
        self.week_messages_with(brief, None)
    }

    /// As `week_messages`, reusing the overview's parts computed once for the run.
    pub fn week_messages_with(
        &self,
        brief: &StepBrief,
        parts: Option<&OverviewParts>,
    ) -> Result<(String, String), Error> {
        let vars = week_variables_with(brief, parts)?;
        Ok((
            self.render(WEEKS_SYSTEM, &vars)?,
            self.render(WEEKS_USER, &vars)?,
        ))
    }

    /// How many leading bytes of a week's user prompt are the same for every week of the run,
    /// ending at a line break: the part a provider's prompt cache can serve (0 when the
    /// template starts with per-week text). Found by rendering two weeks, once per run.
    pub fn week_shared_prefix_bytes(
        &self,
        brief: &StepBrief,
        parts: &mut OverviewParts,
    ) -> Result<usize, Error> {
        if let Some(bytes) = parts.shared_prefix_bytes {
            return Ok(bytes);
        }
        let bytes = if brief.total_weeks < 2 {
            0
        } else {
            let user_of = |week: u32| -> Result<String, Error> {
                let brief = StepBrief {
                    step: StepId::Week(week),
                    ..brief.clone()
                };
                Ok(self.week_messages_with(&brief, Some(parts))?.1)
            };
            let (first, second) = (user_of(1)?, user_of(2)?);
            let common = first
                .bytes()
                .zip(second.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            // Back to the last line break inside the common part (always a char boundary).
            first[..common].rfind('\n').map_or(0, |at| at + 1)
        };
        parts.shared_prefix_bytes = Some(bytes);
        Ok(bytes)
    }
}

/// The parts of every week's prompts that depend only on the run's accepted overview, computed
/// once per run rather than once per week: a 52-week overview is tens of kilobytes of JSON.
#[derive(Debug, Clone)]
pub struct OverviewParts {
    overview: std::sync::Arc<PlanOverview>,
    plan_summary: String,
    /// `PromptSet::week_shared_prefix_bytes`, once found.
    shared_prefix_bytes: Option<usize>,
}

impl OverviewParts {
    pub fn new(
        overview: std::sync::Arc<PlanOverview>,
        profile: &AthleteProfile,
    ) -> Result<OverviewParts, Error> {
        let plan_summary = plan_summary(&overview, profile);
        Ok(OverviewParts {
            overview,
            plan_summary,
            shared_prefix_bytes: None,
        })
    }

    /// Whether these parts were made from this very overview.
    pub fn is_for(&self, overview: &std::sync::Arc<PlanOverview>) -> bool {
        std::sync::Arc::ptr_eq(&self.overview, overview)
    }
}

/// The variables a template may use: those its step provides.
pub fn known_variables(template: &str) -> Option<&'static [&'static str]> {
    match template {
        OVERVIEW_SYSTEM | OVERVIEW_USER => Some(OVERVIEW_VARIABLES),
        WEEKS_SYSTEM | WEEKS_USER => Some(WEEK_VARIABLES),
        _ => None,
    }
}

/// A template that cannot be read, named by its file and directory. `Error` is `Clone`, so an
/// IO error travels as its text.
fn read_error(file: &'static str, dir: &str, err: ReadError) -> Error {
    match err {
        ReadError::NotFound { .. } => Error::MissingFile {
            file,
            dir: dir.to_string(),
            expected: TEMPLATE_NAMES.join(", "),
        },
        ReadError::NotUtf8 { offset, .. } => Error::NotUtf8 {
            file,
            dir: dir.to_string(),
            offset,
        },
        other => Error::Read {
            file,
            dir: dir.to_string(),
            reason: other.reason(),
        },
    }
}

/// Checks a template's syntax and that it only uses variables its step provides.
pub fn check_template(name: &str, text: &str) -> Result<(), Error> {
    let known = known_variables(name).ok_or_else(|| Error::UnknownTemplate {
        name: name.to_string(),
        expected: TEMPLATE_NAMES.join(", "),
    })?;
    scan(name, text, |piece| match piece {
        Piece::Var(variable) if !known.contains(&variable) => Err(Error::UnknownVariable {
            template: name.to_string(),
            variable: variable.to_string(),
            known: known.join(", "),
        }),
        _ => Ok(()),
    })
}

/// The variable names a template uses, in order of first use (for tooling and tests).
pub fn variables_used(name: &str, text: &str) -> Result<Vec<String>, Error> {
    let mut used: Vec<String> = Vec::new();
    scan(name, text, |piece| {
        if let Piece::Var(variable) = piece {
            if !used.iter().any(|seen| seen == variable) {
                used.push(variable.to_string());
            }
        }
        Ok(())
    })?;
    Ok(used)
}

enum Piece<'t> {
    Text(&'t str),
    Var(&'t str),
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'
}

/// Walks a template once, handing literal text and placeholders to `on`. A `{{` must be followed
/// by a lowercase snake_case name (starting with a letter) and `}}`; anything else is a syntax
/// error at the byte offset of that `{{`. A lone `{`, `}` or `}}` is literal text.
fn scan<'t>(
    name: &str,
    text: &'t str,
    mut on: impl FnMut(Piece<'t>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut pos = 0;
    while let Some(found) = text[pos..].find("{{") {
        let open = pos + found;
        if open > pos {
            on(Piece::Text(&text[pos..open]))?;
        }
        // `{{` and name bytes are ASCII, so every index below is a char boundary.
        let name_start = open + 2;
        let name_len = text.as_bytes()[name_start..]
            .iter()
            .take_while(|byte| is_name_byte(**byte))
            .count();
        let name_end = name_start + name_len;
        let variable = &text[name_start..name_end];
        let closed = text[name_end..].starts_with("}}");
        if closed
            && variable
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_lowercase)
        {
            on(Piece::Var(variable))?;
            pos = name_end + 2;
            continue;
        }
        let reason = if !text[name_start..].contains("}}") {
            "`{{` is never closed by `}}`".to_string()
        } else if closed {
            format!("variable name {variable:?} must start with a lowercase letter")
        } else {
            let found: String = text[name_start..].chars().take(24).collect();
            format!("`{{{{` must be followed by a lowercase snake_case name and `}}}}`, found {found:?}")
        };
        return Err(Error::Syntax {
            template: name.to_string(),
            offset: open,
            reason,
        });
    }
    if pos < text.len() {
        on(Piece::Text(&text[pos..]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::PlanOverview;
    use crate::domain::profile::parse_profile;
    use crate::domain::validate::Rules;
    use serde_json::json;

    fn set_with(name: &'static str, text: &str) -> PromptSet {
        let mut set = PromptSet::embedded();
        set.templates.insert(name, text.to_string());
        set
    }

    fn vars(pairs: &[(&'static str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(name, value)| (*name, value.to_string()))
            .collect()
    }

    fn profile() -> AthleteProfile {
        parse_profile(
            r#"{"name":"Ana","ftp_w":250,"weekly_hours":6,"available_days":["Tuesday","Saturday","Sunday"],"goals":"Gran fondo"}"#,
        )
        .unwrap()
    }

    fn overview() -> PlanOverview {
        let entry = |week: i64, phase: &str, hours: f64| {
            serde_json::from_value(json!({
                "week_number": week, "phase": phase, "phase_rationale": "r", "weekly_focus": "f",
                "weekly_watch_points": "w", "training_days": ["Sunday", "Tuesday"], "target_tss": 300.0,
                "hard_days": 1, "easy_days": 1, "rest_days": 5, "total_hours": hours
            }))
            .unwrap()
        };
        PlanOverview {
            total_weeks: 2,
            target_ftp: 260.0,
            coaching_notes: "notes".into(),
            monitoring_guidance: "guide".into(),
            weekly_overview: vec![entry(1, "Build", 5.5), entry(2, "Recovery", 4.0)],
        }
    }

    fn brief(step: StepId) -> StepBrief {
        StepBrief {
            step,
            profile: profile(),
            total_weeks: 2,
            event: None,
            rules: Rules::default(),
            overview: Some(std::sync::Arc::new(overview())),
        }
    }

    #[test]
    fn renders_placeholders_and_keeps_other_braces() {
        let set = set_with(
            WEEKS_USER,
            "week {{week_number}} of {{total_weeks}}: {\"a\":{\"b\":1}} {x} }}",
        );
        let text = set
            .render(
                WEEKS_USER,
                &vars(&[
                    ("week_number", "3"),
                    ("total_weeks", "8"),
                    ("phase", "Build"),
                ]),
            )
            .unwrap();
        assert_eq!(text, "week 3 of 8: {\"a\":{\"b\":1}} {x} }}");
    }

    #[test]
    fn values_are_not_rescanned() {
        let set = set_with(WEEKS_USER, "goals: {{goals}}");
        let text = set
            .render(WEEKS_USER, &vars(&[("goals", "{{week_number}} {{")]))
            .unwrap();
        assert_eq!(text, "goals: {{week_number}} {{");
    }

    #[test]
    fn missing_variable_is_an_error_naming_template_and_variable() {
        let set = set_with(WEEKS_USER, "week {{week_number}}");
        let err = set.render(WEEKS_USER, &Vars::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template \"training_planning_weeks_user.txt\" uses variable {{week_number}} that was not provided"
        );
    }

    #[test]
    fn unknown_template_is_an_error() {
        let err = PromptSet::embedded()
            .render("nope.txt", &Vars::new())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown prompt template \"nope.txt\""),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_name_template_and_offset() {
        let cases = [
            ("abc {{week_number", 4, "never closed"),
            ("ab {{Week}}", 3, "lowercase snake_case"),
            ("{{ week_number }}", 0, "lowercase snake_case"),
            ("x {{1st}}", 2, "must start with a lowercase letter"),
            ("x {{}}", 2, "must start with a lowercase letter"),
            ("é {{week-number}}", 3, "found \"week-number}}\""),
        ];
        for (text, offset, reason) in cases {
            let err = check_template(WEEKS_USER, text).unwrap_err();
            match &err {
                Error::Syntax {
                    template,
                    offset: at,
                    reason: why,
                } => {
                    assert_eq!(template, WEEKS_USER);
                    assert_eq!(*at, offset, "{text}: {err}");
                    assert!(why.contains(reason), "{text}: {err}");
                }
                other => panic!("{text}: expected a syntax error, got {other}"),
            }
            assert!(
                err.to_string().contains(&format!("at byte {offset}")),
                "{err}"
            );
            // Rendering reports the same error.
            let set = set_with(WEEKS_USER, text);
            assert_eq!(
                set.render(WEEKS_USER, &vars(&[("week_number", "1")]))
                    .unwrap_err(),
                err
            );
        }
    }

    #[test]
    fn unknown_variable_is_refused_at_check_time() {
        let err = check_template(OVERVIEW_USER, "{{week_number}}").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "template \"training_planning_overview_user.txt\" uses variable {{week_number}}, which periodize does not provide"
            ),
            "{err}"
        );
    }

    #[test]
    fn embedded_templates_are_valid() {
        let set = PromptSet::embedded();
        for name in TEMPLATE_NAMES {
            let text = set.template(name).unwrap();
            check_template(name, text).unwrap();
        }
    }

    #[test]
    fn step_variables_match_the_declared_lists() {
        let overview = overview_variables(&brief(StepId::Overview), None).unwrap();
        assert_eq!(
            overview.keys().copied().collect::<Vec<_>>(),
            OVERVIEW_VARIABLES
        );
        let week = week_variables(&brief(StepId::Week(1))).unwrap();
        assert_eq!(week.keys().copied().collect::<Vec<_>>(), WEEK_VARIABLES);
    }

    #[test]
    fn messages_render_for_both_steps() {
        let set = PromptSet::embedded();
        let (system, user) = set.overview_messages(&brief(StepId::Overview)).unwrap();
        assert!(system.contains("create_plan_overview") && !system.contains("{{"));
        assert!(
            user.contains("2-week") || user.contains("2 weeks"),
            "{user}"
        );
        let (system, user) = set.week_messages(&brief(StepId::Week(2))).unwrap();
        assert!(system.contains("add_week_details"));
        assert!(user.contains("week 2 of 2"), "{user}");
        assert!(user.contains("none: this is the last week of the plan."));
    }

    #[test]
    fn week_messages_need_a_week_and_the_overview() {
        let set = PromptSet::embedded();
        let err = set.week_messages(&brief(StepId::Overview)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot build the prompts for overview: the week prompts need a week step"
        );
        let mut no_overview = brief(StepId::Week(1));
        no_overview.overview = None;
        let err = set.week_messages(&no_overview).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot build the prompts for week 1: the accepted overview is missing"
        );
        let err = set.week_messages(&brief(StepId::Week(3))).unwrap_err();
        assert!(err.to_string().contains("week 3 is outside"), "{err}");
        let err = set.overview_messages(&brief(StepId::Week(1))).unwrap_err();
        assert!(err.to_string().contains("need an overview step"), "{err}");
    }

    #[test]
    fn hash_changes_with_any_template_and_with_framing() {
        let base = PromptSet::embedded();
        assert_eq!(base.hash(), PromptSet::embedded().hash());
        assert_eq!(base.hash().len(), 64);
        assert!(base
            .hash()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let mut seen = vec![base.hash()];
        for name in TEMPLATE_NAMES {
            let mut text = base.template(name).unwrap().to_string();
            text.push(' ');
            let changed = set_with(name, &text).hash();
            assert!(!seen.contains(&changed), "{name}");
            seen.push(changed);
        }
        // Moving a byte from the end of one template to the start of the next changes the hash.
        let a = set_with(OVERVIEW_SYSTEM, "ab");
        let a = PromptSet {
            templates: {
                let mut t = a.templates;
                t.insert(OVERVIEW_USER, "c".into());
                t
            },
        };
        let b = set_with(OVERVIEW_SYSTEM, "a");
        let b = PromptSet {
            templates: {
                let mut t = b.templates;
                t.insert(OVERVIEW_USER, "bc".into());
                t
            },
        };
        assert_ne!(a.hash(), b.hash());
    }

    fn write_embedded(dir: &Path) {
        let set = PromptSet::embedded();
        for name in TEMPLATE_NAMES {
            std::fs::write(dir.join(name), set.template(name).unwrap()).unwrap();
        }
    }

    #[test]
    fn load_dir_round_trips_the_embedded_files() {
        let dir = tempfile::tempdir().unwrap();
        write_embedded(dir.path());
        let loaded = PromptSet::load_dir(dir.path()).unwrap();
        assert_eq!(loaded, PromptSet::embedded());
        assert_eq!(loaded.hash(), PromptSet::embedded().hash());
    }

    #[test]
    fn load_dir_of_the_repository_prompts_equals_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        assert_eq!(PromptSet::load_dir(&dir).unwrap(), PromptSet::embedded());
    }

    #[test]
    fn load_dir_names_a_missing_file_and_the_dir() {
        let dir = tempfile::tempdir().unwrap();
        write_embedded(dir.path());
        std::fs::remove_file(dir.path().join(WEEKS_SYSTEM)).unwrap();
        let err = PromptSet::load_dir(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(
                err,
                Error::MissingFile {
                    file: WEEKS_SYSTEM,
                    ..
                }
            ),
            "{message}"
        );
        assert!(
            message.contains("\"training_planning_weeks.txt\""),
            "{message}"
        );
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );

        let err = PromptSet::load_dir(&dir.path().join("absent")).unwrap_err();
        assert!(matches!(err, Error::MissingDir { .. }), "{err}");
    }

    #[test]
    fn load_dir_refuses_non_utf8_and_bad_syntax() {
        let dir = tempfile::tempdir().unwrap();
        write_embedded(dir.path());
        std::fs::write(dir.path().join(OVERVIEW_USER), b"ok \xff\xfe").unwrap();
        let err = PromptSet::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotUtf8 {
                    file: OVERVIEW_USER,
                    offset: 3,
                    ..
                }
            ),
            "{err}"
        );

        std::fs::write(dir.path().join(OVERVIEW_USER), "total {{total_weeks").unwrap();
        let err = PromptSet::load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Syntax { offset: 6, .. }), "{err}");
        assert!(
            err.to_string()
                .contains("training_planning_overview_user.txt"),
            "{err}"
        );

        std::fs::write(dir.path().join(OVERVIEW_USER), "total {{total_weks}}").unwrap();
        let err = PromptSet::load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::UnknownVariable { .. }), "{err}");
    }

    #[test]
    fn load_dir_refuses_a_fifo_an_oversized_file_and_utf16_and_accepts_a_bom() {
        let dir = tempfile::tempdir().unwrap();
        write_embedded(dir.path());
        let fifo = dir.path().join(WEEKS_USER);
        std::fs::remove_file(&fifo).unwrap();
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = PromptSet::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Read {
                    file: WEEKS_USER,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read prompt template \"{WEEKS_USER}\" in {}: it is a FIFO, not a regular file",
                dir.path().display()
            )
        );
        std::fs::remove_file(&fifo).unwrap();
        write_embedded(dir.path());

        let big = "x".repeat(usize::try_from(files::MAX_TEMPLATE_BYTES).unwrap() + 1);
        std::fs::write(dir.path().join(OVERVIEW_SYSTEM), big).unwrap();
        let err = PromptSet::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Read {
                    file: OVERVIEW_SYSTEM,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("above the limit"), "{err}");

        std::fs::write(dir.path().join(OVERVIEW_SYSTEM), b"\xFF\xFEa\x00").unwrap();
        let err = PromptSet::load_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("UTF-16"), "{err}");

        let embedded = PromptSet::embedded();
        let text = embedded.template(OVERVIEW_SYSTEM).unwrap();
        std::fs::write(dir.path().join(OVERVIEW_SYSTEM), format!("\u{feff}{text}")).unwrap();
        assert_eq!(PromptSet::load_dir(dir.path()).unwrap(), embedded);
    }

    #[test]
    fn minutes_window_stays_inside_the_tolerance() {
        assert_eq!(minutes_window(7.5, HOURS_TOLERANCE), (405, 495));
        assert_eq!(minutes_window(4.5, HOURS_TOLERANCE_UNLOADING), (249, 291));
        for hours in [0.5, 1.0, 3.33, 5.55, 6.0, 7.25, 10.0, 13.37] {
            for tolerance in [HOURS_TOLERANCE, HOURS_TOLERANCE_UNLOADING] {
                let (low, high) = minutes_window(hours, tolerance);
                assert!(low <= high, "{hours} {tolerance}");
                for minutes in [low, high] {
                    let off = (minutes_to_hours(minutes as f64) - hours).abs() / hours;
                    assert!(
                        off <= tolerance + 1e-9,
                        "{hours} h, {minutes} min is off by {off}"
                    );
                }
                // The window is as wide as the rule allows: one minute more is outside it.
                for minutes in [low - 1, high + 1] {
                    let off = (minutes_to_hours(minutes as f64) - hours).abs() / hours;
                    assert!(
                        off > tolerance - 0.01,
                        "{hours} h, {minutes} min is off by {off}"
                    );
                }
            }
        }
    }

    #[test]
    fn numbers_print_like_a_person_writes_them() {
        assert_eq!(num(7.0), "7");
        assert_eq!(num(6.5), "6.5");
        assert_eq!(num(7.254), "7.25");
        assert_eq!(num(-0.001), "0");
        assert_eq!(pct(0.1), "10");
        assert_eq!(pct(BUDGET_TOLERANCE - 1.0), "10");
    }

    proptest::proptest! {
        #[test]
        fn scanning_never_panics_and_plain_text_renders_as_is(text in "\\PC{0,40}") {
            let _ = check_template(WEEKS_USER, &text);
            let set = set_with(WEEKS_USER, &text);
            if !text.contains("{{") {
                proptest::prop_assert_eq!(set.render(WEEKS_USER, &Vars::new()).unwrap(), text);
            }
        }

        #[test]
        fn scanning_arbitrary_brace_soup_never_panics(text in "[{}a-z_ é1]{0,30}") {
            let _ = check_template(WEEKS_USER, &text);
            let _ = set_with(WEEKS_USER, &text).render(WEEKS_USER, &Vars::new());
        }
    }
}
