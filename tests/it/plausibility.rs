//! The plausibility rules through `periodize validate`: the two nonsense plans of issue 9 are
//! rejected with messages naming week, rule and numbers, sound plans (the seed's, the built-in
//! coach's) have no error, and `--rule NAME=SEVERITY` changes the verdict.

use serde_json::Value;

use crate::support::{fixture, stderr, stdout, Sandbox};

/// `validate --json` on a fixture plan with extra flags: (exit code, (severity, path, message)).
#[track_caller]
fn validate(name: &str, flags: &[&str]) -> (Option<i32>, Vec<(String, String, String)>) {
    let path = fixture(&format!("plans/{name}")).display().to_string();
    let mut args = vec!["validate", path.as_str(), "--json"];
    args.extend_from_slice(flags);
    let output = Sandbox::new().run(&args);
    let report: Value = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|err| panic!("--json report ({err}): {}", stderr(&output)));
    let found = report["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| {
            let text = |key: &str| v[key].as_str().expect("a string").to_string();
            (text("severity"), text("path"), text("message"))
        })
        .collect();
    (output.status.code(), found)
}

/// The message of the one violation of `severity` at `path` that starts with `rule`.
#[track_caller]
fn find<'a>(
    found: &'a [(String, String, String)],
    severity: &str,
    path: &str,
    rule: &str,
) -> &'a str {
    let matching: Vec<&str> = found
        .iter()
        .filter(|(s, p, m)| s == severity && p == path && m.starts_with(&format!("{rule}: ")))
        .map(|(.., message)| message.as_str())
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one {severity} {rule} at {path}: {found:#?}"
    );
    matching[0]
}

#[track_caller]
fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} in {message}");
    }
}

const WEEK_AT_27_PCT: &str = "nonsense_27pct_ftp.json";
const RECOVERY_OF_VO2MAX: &str = "nonsense_recovery_vo2max.json";

#[test]
fn a_week_ridden_at_27_percent_of_ftp_is_rejected_naming_week_rule_and_numbers() {
    let (code, found) = validate(WEEK_AT_27_PCT, &[]);
    assert_eq!(code, Some(1), "{found:#?}");
    let errors: Vec<_> = found.iter().filter(|(s, ..)| s == "error").collect();
    assert_eq!(errors.len(), 2, "{found:#?}");
    // The overview's target is implausible for its hours, and so are the workouts.
    let target = find(&found, "error", "weekly_plan[0].target_tss", "tss_per_hour");
    assert_names(
        target,
        &["week 1 (Foundation)", "46.0 TSS", "6.30 h", "7.3 TSS/h"],
    );
    let workouts = find(&found, "error", "weekly_plan[0].workouts", "tss_per_hour");
    assert_names(
        workouts,
        &[
            "week 1 (Foundation)",
            "45.9 TSS",
            "6.30 h",
            "7.3 TSS/h",
            "30.3-72.2 TSS/h",
            "IF of 0.27",
        ],
    );
}

#[test]
fn a_recovery_week_of_vo2max_intervals_above_the_build_week_is_rejected() {
    let (code, found) = validate(RECOVERY_OF_VO2MAX, &[]);
    assert_eq!(code, Some(1), "{found:#?}");
    let recovery = find(&found, "error", "weekly_plan[3]", "recovery_week");
    assert_names(
        recovery,
        &[
            "week 4 (Recovery)",
            "6.00 h",
            "414.8 TSS",
            "week 3 has 5.60 h and 288.4 TSS",
            "at most 3.50 h and 152.7 TSS",
            "30.0%",
        ],
    );
    let intensity = find(
        &found,
        "error",
        "weekly_plan[3].workouts",
        "recovery_intensity",
    );
    assert_names(
        intensity,
        &[
            "week 4 (Recovery)",
            "125 of its 360 min",
            "34.7%",
            "91% FTP",
            "20.0%",
        ],
    );
    let rate = find(&found, "error", "weekly_plan[3].workouts", "tss_per_hour");
    assert_names(
        rate,
        &["week 4 (Recovery)", "69.1 TSS/h", "20.2-56.2 TSS/h"],
    );
    // The human report prints them like every other violation.
    let path = fixture(&format!("plans/{RECOVERY_OF_VO2MAX}"))
        .display()
        .to_string();
    let output = Sandbox::new().run(&["validate", &path]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains(
            "error: weekly_plan[3]: recovery_week: week 4 (Recovery) has 6.00 h and 414.8 TSS"
        ),
        "{}",
        stdout(&output)
    );
}

#[test]
fn sound_plans_have_no_plausibility_error() {
    let (code, found) = validate("seed_plan.json", &[]);
    assert_eq!((code, found.len()), (Some(0), 0), "{found:#?}");

    // The built-in coach's plan, through generate and validate.
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let made = sandbox.run(&["generate", "--profile", &profile]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let plan = std::fs::read_dir(sandbox.path("output"))
        .expect("an output directory")
        .map(|entry| entry.expect("an entry").path())
        .find(|path| path.extension().is_some_and(|ext| ext == "json"))
        .expect("a plan file");
    let output = sandbox.run(&["validate", plan.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(!stdout(&output).contains("error:"), "{}", stdout(&output));
}

#[test]
fn a_rules_severity_set_to_warning_or_off_changes_the_verdict() {
    let (code, found) = validate(WEEK_AT_27_PCT, &["--rule", "tss_per_hour=warning"]);
    assert_eq!(code, Some(0), "{found:#?}");
    find(&found, "warning", "weekly_plan[0].workouts", "tss_per_hour");

    let (code, found) = validate(WEEK_AT_27_PCT, &["--rule", "tss_per_hour=off"]);
    assert_eq!(code, Some(0), "{found:#?}");
    assert!(
        !found.iter().any(|(.., m)| m.starts_with("tss_per_hour: ")),
        "{found:#?}"
    );

    // Every rule the recovery week breaks, each turned down; a later flag for a rule wins.
    let (code, found) = validate(
        RECOVERY_OF_VO2MAX,
        &[
            "--rule",
            "recovery_week=error",
            "--rule",
            "recovery_week=off",
            "--rule",
            "recovery_intensity=warning",
            "--rule",
            "tss_per_hour=off",
        ],
    );
    assert_eq!(code, Some(0), "{found:#?}");
    find(
        &found,
        "warning",
        "weekly_plan[3].workouts",
        "recovery_intensity",
    );

    // A rule whose default is a warning becomes an error when asked: the VO2max week's hard
    // Saturday and Sunday.
    let (code, found) = validate(RECOVERY_OF_VO2MAX, &[]);
    let back_to_back = find(
        &found,
        "warning",
        "weekly_plan[3].workouts",
        "hard_days_back_to_back",
    );
    assert_names(
        back_to_back,
        &["week 4 Saturday and Sunday", "40 and 15 min", "91% FTP"],
    );
    assert_eq!(code, Some(1));
    let (code, found) = validate(
        RECOVERY_OF_VO2MAX,
        &[
            "--rule",
            "recovery_week=off",
            "--rule",
            "recovery_intensity=off",
            "--rule",
            "tss_per_hour=off",
            "--rule",
            "hard_days_back_to_back=error",
        ],
    );
    assert_eq!(code, Some(1), "{found:#?}");
    find(
        &found,
        "error",
        "weekly_plan[3].workouts",
        "hard_days_back_to_back",
    );
}

#[test]
fn a_bad_rule_flag_exits_2_naming_the_flag_the_value_and_the_valid_names() {
    let path = fixture("plans/seed_plan.json").display().to_string();
    for (value, wanted) in [
        ("no_such_rule=error", "unknown rule \"no_such_rule\""),
        ("acwr=fatal", "unknown severity \"fatal\""),
        ("acwr", "expected NAME=error|warning|off"),
    ] {
        let output = Sandbox::new().run(&["validate", &path, "--rule", value]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{value}: {message}");
        assert_names(&message, &["--rule", value, wanted]);
        if !value.contains("fatal") {
            assert_names(&message, &["tss_per_hour", "warmup_cooldown"]);
        }
    }
}

/// The help of `--rule` lists its names by hand: every rule must be there.
#[test]
fn the_rule_flag_help_names_every_rule() {
    for command in ["generate", "batch", "validate"] {
        let output = Sandbox::new().run(&[command, "--help"]);
        let help = stdout(&output);
        for rule in periodize::domain::validate::Rule::ALL {
            assert!(
                help.contains(rule.name()),
                "{command} --help lacks {rule}: {help}"
            );
        }
    }
}
