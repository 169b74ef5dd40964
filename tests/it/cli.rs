//! The command line end to end: the main job on the built-in coach, `validate` on its output,
//! the read commands, and bad input that must exit 2 naming the field and value, leaving no run.

use serde_json::Value;

use crate::support::{fixture, stderr, stdout, Sandbox};

const GOOD: &str = r#"{"name":"T","ftp_w":250,"weekly_hours":8,"available_days":["Tuesday","Thursday","Saturday","Sunday"],"plan_weeks":4}"#;

/// Runs `generate` on a profile text (plus extra flags) and checks the bad-input contract.
#[track_caller]
fn check_bad(profile: Option<&str>, extra: &[&str], wanted: &[&str]) {
    let sandbox = Sandbox::new();
    let profile_path = match profile {
        Some(text) => sandbox.write("profile.json", text).display().to_string(),
        None => sandbox.path("no-such-profile.json").display().to_string(),
    };
    let mut args = vec!["generate", "--profile", profile_path.as_str()];
    args.extend_from_slice(extra);
    let output = sandbox.run(&args);
    let message = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2 for {args:?}, stderr: {message}"
    );
    for needle in wanted {
        assert!(
            message.contains(needle),
            "stderr should name {needle:?}: {message}"
        );
    }
    assert!(
        message.starts_with("error: "),
        "one clear error line: {message}"
    );
    assert!(
        !sandbox.path("state").exists(),
        "bad input must not create the store"
    );
    assert!(
        !sandbox.path("output").exists(),
        "bad input must not write output"
    );
}

fn profile_with(key: &str, value: &str) -> String {
    let mut object: serde_json::Map<String, Value> = serde_json::from_str(GOOD).unwrap();
    if value == "<remove>" {
        object.remove(key);
    } else {
        object.insert(key.to_string(), serde_json::from_str(value).unwrap());
    }
    Value::Object(object).to_string()
}

#[test]
fn bad_profiles_and_arguments_exit_2_naming_field_and_value() {
    check_bad(
        Some(&profile_with("ftp_w", "<remove>")),
        &[],
        &["ftp_w", "missing"],
    );
    check_bad(
        Some(r#"{"FTP":"fast","weekly_hours":5,"available_days":["Monday"],"plan_weeks":4}"#),
        &[],
        &["FTP", "\"fast\""],
    );
    check_bad(
        Some(&profile_with("ftp_w", "0")),
        &[],
        &["ftp_w", "= 0", "between 50 and 600"],
    );
    check_bad(
        Some(&profile_with("ftp_w", "-250")),
        &[],
        &["ftp_w", "-250"],
    );
    check_bad(
        Some(&profile_with("weekly_hours", "0")),
        &[],
        &["weekly_hours", "= 0"],
    );
    check_bad(
        Some(&profile_with("weekly_hours", "-3")),
        &[],
        &["weekly_hours", "-3"],
    );
    check_bad(
        Some(&profile_with("weekly_hours", "55")),
        &[],
        &["weekly_hours", "55", "at most 40"],
    );
    check_bad(
        Some(&profile_with("available_days", "[]")),
        &[],
        &["available_days", "at least one weekday"],
    );
    check_bad(
        Some(&profile_with("available_days", "<remove>")),
        &[],
        &["available_days", "missing"],
    );
    check_bad(
        Some(&profile_with("available_days", r#"["Monday","Funday"]"#)),
        &[],
        &["available_days", "Funday"],
    );
    check_bad(
        Some(&profile_with("available_days", r#"["monday","Monday"]"#)),
        &[],
        &["available_days", "Monday is listed twice"],
    );
    check_bad(
        Some(&profile_with("available_days", "5")),
        &[],
        &["available_days", "= 5"],
    );
    check_bad(
        Some(&profile_with("plan_weeks", "0")),
        &[],
        &["plan_weeks", "= 0", "between 1 and 52"],
    );
    check_bad(
        Some(&profile_with("plan_weeks", "60")),
        &[],
        &["plan_weeks", "= 60"],
    );
    check_bad(
        Some(&profile_with("plan_weeks", "<remove>")),
        &[],
        &["plan_weeks", "--weeks"],
    );
    check_bad(Some(GOOD), &["--weeks", "abc"], &["--weeks", "\"abc\""]);
    check_bad(Some(GOOD), &["--weeks", "53"], &["--weeks", "53"]);
    check_bad(None, &[], &["athlete profile", "no-such-profile.json"]);
    check_bad(Some("{\"ftp_w\": 250,"), &[], &["not valid JSON"]);
    check_bad(
        Some("[1, 2, 3]"),
        &[],
        &["must be a JSON object", "an array"],
    );
    check_bad(
        Some(&profile_with(
            "daily_caps_min",
            r#"{"Tuesday":30,"Thursday":30,"Saturday":60,"Sunday":60}"#,
        )),
        &[],
        &["daily_caps_min", "180 min", "weekly_hours 8"],
    );
    check_bad(
        Some(&profile_with("daily_caps_min", r#"{"Tuesday":-30}"#)),
        &[],
        &["daily_caps_min.Tuesday", "-30"],
    );
    check_bad(
        Some(&profile_with("weight_kg", "\"heavy\"")),
        &[],
        &["weight_kg", "\"heavy\""],
    );
    check_bad(Some(&profile_with("age", "-3")), &[], &["age", "-3"]);
    check_bad(
        Some(&profile_with("event_date", "\"2026-13-45\"")),
        &[],
        &["event_date", "2026-13-45"],
    );
    check_bad(
        Some(&profile_with("event_date", "\"2026-11-29\"")),
        &["--start-date", "2026-11-30"],
        &["event_date 2026-11-29", "before the plan starts"],
    );
    for (key, value, expected) in [
        (
            "event",
            r#"{"date": "2027-04-24", "kind": "crit"}"#,
            &["event.kind", "\"crit\"", "criterium"][..],
        ),
        (
            "event",
            r#"{"date": "2027-04-24", "duration_h": 0}"#,
            &["event.duration_h", "= 0"][..],
        ),
        (
            "event",
            r#"{"date": "2027-04-24", "priority": "D"}"#,
            &["event.priority", "\"D\"", "A, B or C"][..],
        ),
        (
            "event",
            r#"{"date": "2027-04-24", "distance_km": 200}"#,
            &["event.distance_km", "200", "unknown key"][..],
        ),
        (
            "event",
            r#"{"kind": "gran_fondo"}"#,
            &["event.date", "missing"][..],
        ),
        (
            "event",
            r#""2027-04-24""#,
            &["`event`", "expected an object"][..],
        ),
        (
            "recent_weekly_hours",
            "-1",
            &["recent_weekly_hours", "-1"][..],
        ),
        (
            "current_ctl",
            "500",
            &["current_ctl", "500", "between 0 and 200"][..],
        ),
        (
            "experience",
            r#""pro""#,
            &["experience", "\"pro\"", "new, intermediate or experienced"][..],
        ),
    ] {
        check_bad(Some(&profile_with(key, value)), &[], expected);
    }
    check_bad(
        Some(
            r#"{"ftp_w":250,"weekly_hours":8,"available_days":["Saturday","Sunday"],"plan_weeks":4,"event":{"date":"2027-04-24","kind":"gran_fondo"},"event_date":"2027-04-25"}"#,
        ),
        &[],
        &[
            "event_date",
            "2027-04-25",
            "differs from event.date 2027-04-24",
        ],
    );
    // An event on a Saturday, 15 weeks and 5 days after a Monday start: 16 weeks end on it
    // (the last week runs Monday to the event), 17 would put it in week 16 of 17.
    check_bad(
        Some(&profile_with("event_date", "\"2027-04-24\"")),
        &["--start-date", "2027-01-04", "--weeks", "17"],
        &["ends 2027-05-02", "use at most 16 weeks"],
    );
    check_bad(
        Some(GOOD),
        &["--start-date", "2026-12-02"],
        &["--start-date", "2026-12-02", "Wednesday"],
    );
    check_bad(
        Some(GOOD),
        &["--start-date", "next week"],
        &["--start-date", "\"next week\""],
    );
    check_bad(
        Some(GOOD),
        &["--week-concurrency", "0"],
        &["--week-concurrency", "\"0\""],
    );
    check_bad(Some(GOOD), &["--prompts", "no-such-dir"], &["no-such-dir"]);
    check_bad(
        Some(&profile_with("weekly_hours", "0.01")),
        &[],
        &["weekly_hours", "0.01", "at least 1 h"],
    );
    check_bad(
        Some(
            r#"{"name":"T","ftp_w":1e400,"weekly_hours":8,"available_days":["Tuesday"],"plan_weeks":4}"#,
        ),
        &[],
        &["ftp_w", "1e400", "out of range"],
    );
    check_bad(
        Some(GOOD),
        &["--start-date", "+262142-12-31"],
        &["--start-date", "+262142-12-31"],
    );
    check_bad(
        Some(GOOD),
        &["--start-date", "2032-01-05"],
        &["--start-date", "2032-01-05", "five years ahead"],
    );
    check_bad(
        Some(GOOD),
        &["--run-concurrency", "100000"],
        &["--run-concurrency", "100000", "1 to 256"],
    );
    check_bad(
        Some(GOOD),
        &["--rule", "acwr=warning", "--rule", "ramp=off"],
        &["--rule", "\"ramp=off\"", "unknown rule", "ctl_ramp"],
    );
    check_bad(
        Some(&profile_with("goals", &format!("{:?}", "x".repeat(5000)))),
        &[],
        &["goals", "5000 characters"],
    );
    check_bad(
        Some(GOOD),
        &["--output-dir", "profile.json"],
        &[
            "--output-dir",
            "\"profile.json\"",
            "cannot write plan files",
        ],
    );
}

/// Files that are not regular files (a FIFO would block a reader forever) are refused at once,
/// naming the file, for profiles and prompt templates; `resume` bounds its concurrency too.
#[test]
fn fifos_and_unbounded_resumes_are_refused_with_exit_2() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.path("profile.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let output = sandbox.run(&["generate", "--profile", &fifo.display().to_string()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("profile.fifo") && stderr(&output).contains("FIFO"),
        "{}",
        stderr(&output)
    );
    let prompts = sandbox.path("prompts");
    std::fs::create_dir(&prompts).unwrap();
    for name in periodize::prompts::TEMPLATE_NAMES {
        let text = periodize::prompts::PromptSet::embedded()
            .template(name)
            .unwrap()
            .to_string();
        std::fs::write(prompts.join(name), text).unwrap();
    }
    let template = prompts.join(periodize::prompts::TEMPLATE_NAMES[0]);
    std::fs::remove_file(&template).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&template)
        .status()
        .unwrap();
    assert!(made.success());
    let profile = sandbox.write("profile.json", GOOD).display().to_string();
    let output = sandbox.run(&[
        "generate",
        "--profile",
        &profile,
        "--prompts",
        &prompts.display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("FIFO"), "{}", stderr(&output));
    assert!(!sandbox.path("state").exists());

    let made = sandbox.run(&["generate", "--profile", &profile]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let output = sandbox.run(&["resume", "--run-concurrency", "100000"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--run-concurrency"),
        "{}",
        stderr(&output)
    );
}

/// A profile with a byte-order mark is read; control characters in its text (and in model
/// text) never reach the terminal raw, while JSON output keeps them exactly.
#[test]
fn a_bom_is_accepted_and_control_characters_are_escaped_on_the_terminal() {
    let sandbox = Sandbox::new();
    // JSON escapes: ESC ] 0 ; … BEL (a title change), CR LF, ESC [ 2 J (clear the screen).
    let name = r"Eve\u001b]0;pwned\u0007\r\nEVIL \u001b[2J";
    let text = format!(
        "\u{feff}{{\"name\":\"{name}\",\"ftp_w\":250,\"weekly_hours\":5,\"available_days\":[\"Tuesday\",\"Saturday\"],\"plan_weeks\":2}}"
    );
    let profile = sandbox.write("profile.json", &text).display().to_string();
    let output = sandbox.run(&["generate", "--profile", &profile, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let last: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    let run_id = last["run_id"].as_str().unwrap().to_string();
    for args in [vec!["list"], vec!["status"], vec!["show", &run_id[..8]]] {
        let shown = sandbox.run(&args);
        assert_eq!(shown.status.code(), Some(0), "{args:?}: {}", stderr(&shown));
        let text = stdout(&shown);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\r'),
            "{args:?} printed control characters: {text:?}"
        );
        assert!(text.contains("Eve\\u{1b}]0;pwned"), "{args:?}: {text}");
    }
    let listed = sandbox.run(&["list", "--json"]);
    let runs: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(
        runs[0]["athlete"],
        "Eve\u{1b}]0;pwned\u{7}\r\nEVIL \u{1b}[2J"
    );
}

/// A relative `--output-dir` is fixed when the run is created: a resume from elsewhere writes
/// the plan where the run was made, once.
#[test]
fn a_relative_output_dir_is_fixed_when_the_run_is_created() {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let crashed = sandbox
        .command()
        .args([
            "generate",
            "--profile",
            &profile,
            "--weeks",
            "2",
            "--output-dir",
            "plans",
        ])
        .env("PERIODIZE_CRASH_POINT", "after-flush:week-1")
        .output()
        .unwrap();
    assert_eq!(crashed.status.code(), None, "aborted at the crash point");
    let elsewhere = sandbox.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let resumed = sandbox
        .command()
        .current_dir(&elsewhere)
        .args(["resume", "--state-dir", "../state"])
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let written = std::fs::read_dir(sandbox.path("plans")).unwrap().count();
    assert_eq!(written, 1, "the plan is written where the run was made");
    assert!(!elsewhere.join("plans").exists());
}

#[test]
fn usage_errors_exit_2() {
    let sandbox = Sandbox::new();
    assert_eq!(sandbox.run(&["generate"]).status.code(), Some(2));
    assert_eq!(sandbox.run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(sandbox.run(&["show", "deadbeef"]).status.code(), Some(2));
    // No store yet: read commands and resume say so and create none.
    for command in ["resume", "status", "show", "list"] {
        let mut args = vec![command];
        if command == "show" {
            args.push("deadbeef");
        }
        let output = sandbox.run(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("no store at state"),
            "{command}: {}",
            stderr(&output)
        );
        assert!(!sandbox.path("state").exists(), "{command} created a store");
    }
    let profile = fixture("profiles/athlete.json").display().to_string();
    let made = sandbox.run(&["generate", "--profile", &profile, "--weeks", "1"]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    // A full-length id that names no run is an error, not a silent no-op.
    for command in ["resume", "status", "show"] {
        let output = sandbox.run(&[command, "0123456789abcdef0123456789abcdef"]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("no run matches"),
            "{command}: {}",
            stderr(&output)
        );
    }
    for command in ["generate", "resume", "status", "list", "show", "validate"] {
        let help = sandbox.run(&[command, "--help"]);
        assert_eq!(help.status.code(), Some(0), "{command} --help");
        assert!(
            stdout(&help).contains("Usage: periodize"),
            "{command} --help prints usage"
        );
    }
}

#[test]
fn generate_validate_show_and_list_on_the_builtin_coach() {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let output = sandbox.run(&[
        "generate",
        "--profile",
        &profile,
        "--start-date",
        "2026-11-30",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("NDJSON"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(
        kinds
            .iter()
            .filter(|kind| **kind == "week_complete")
            .count(),
        12
    );
    assert_eq!(kinds[kinds.len() - 2..], ["plan_finalized", "finished"]);
    let messages: Vec<&str> = events
        .iter()
        .map(|event| event["message"].as_str().unwrap_or(""))
        .collect();
    assert!(messages.contains(&"Overview created"));
    // Weeks finish in any order at week concurrency 4; the last says all are done.
    assert!(
        messages.iter().any(|message| message.starts_with("Week ")
            && message.ends_with("/12 complete (12 of 12 weeks done)")),
        "{messages:?}"
    );
    // Each event names the week it finished and how many are done, apart.
    let mut weeks: Vec<u64> = events
        .iter()
        .filter(|event| event["event"] == "week_complete")
        .map(|event| {
            assert_eq!(event["total_weeks"], 12);
            assert!(event["weeks_done"].as_u64().unwrap() >= 1);
            event["week_number"].as_u64().unwrap()
        })
        .collect();
    weeks.sort_unstable();
    assert_eq!(weeks, (1..=12).collect::<Vec<u64>>());
    let finished = events.last().unwrap();
    let path = finished["path"].as_str().unwrap();
    // The output directory is fixed, absolute, when the run is created.
    let output_dir = std::fs::canonicalize(sandbox.path("output")).unwrap();
    let written = std::path::Path::new(path);
    assert!(
        written.parent() == Some(output_dir.as_path())
            && written
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("training_plan_")
            && path.ends_with(".json"),
        "{path}"
    );

    let validated = sandbox.run(&["validate", path]);
    assert_eq!(
        validated.status.code(),
        Some(0),
        "{}{}",
        stdout(&validated),
        stderr(&validated)
    );
    assert!(stdout(&validated).contains("0 error(s)"));

    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path(path)).unwrap()).unwrap();
    assert_eq!(plan["plan_metadata"]["total_weeks"], 12);
    assert_eq!(plan["plan_metadata"]["start_date"], "2026-11-30");
    assert_eq!(plan["weekly_plan"].as_array().unwrap().len(), 12);
    assert_eq!(plan["run"]["provider"], "builtin");
    assert_eq!(plan["athlete_profile"]["ftp_w"], 232.0);

    let run_id = finished["run_id"].as_str().unwrap();
    let show = sandbox.run(&["show", &run_id[..8], "--json"]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let shown: Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(shown["state"], "done");
    assert_eq!(shown["done_count"], 1);
    let steps = shown["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 13);
    assert!(steps
        .iter()
        .all(|step| step["requests"] == 1 && step["attempts"].as_array().unwrap().len() == 1));

    let human = sandbox.run(&["show", run_id]);
    let text = stdout(&human);
    assert!(
        text.contains("Week 12") && text.contains("State: done"),
        "{text}"
    );

    let list = sandbox.run(&["list", "--json"]);
    let listed: Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["weeks_done"], 12);
}

#[test]
fn seed_profile_works_and_a_second_process_on_the_store_fails_at_once() {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/seed_athlete.json").display().to_string();
    // The first process holds the store while it waits on simulated model latency.
    let mut first = sandbox
        .command()
        .args([
            "generate",
            "--profile",
            &profile,
            "--latency-ms",
            "200",
            "--week-concurrency",
            "1",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(first.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    assert!(line.contains("\"started\""), "{line}");
    let second = sandbox.run(&["list"]);
    assert_eq!(second.status.code(), Some(2));
    assert!(
        stderr(&second).contains("in use by another periodize process"),
        "{}",
        stderr(&second)
    );
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn validate_reports_every_violation_of_a_broken_plan() {
    let sandbox = Sandbox::new();
    let profile = fixture("profiles/athlete.json").display().to_string();
    let output = sandbox.run(&["generate", "--profile", &profile, "--weeks", "4", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let last: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    let mut plan: Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.path(last["path"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    plan["weekly_plan"][1]["workouts"][0]["segments"][0]["duration_min"] = Value::from(0);
    plan["weekly_plan"][2]["training_days"] = serde_json::json!(["Monday"]);
    plan["plan_metadata"]["target_ftp"] = Value::from(999);
    let broken = sandbox.write("broken.json", &plan.to_string());
    let checked = sandbox.run(&["validate", broken.to_str().unwrap(), "--json"]);
    assert_eq!(checked.status.code(), Some(1), "{}", stderr(&checked));
    let report: Value = serde_json::from_str(&stdout(&checked)).unwrap();
    let paths: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"target_ftp"), "{paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("weekly_plan[1].workouts[0].segments[0].duration_min")),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("weekly_plan[2].training_days")),
        "{paths:?}"
    );

    let not_json = sandbox.write("not.json", "plan?");
    assert_eq!(
        sandbox
            .run(&["validate", not_json.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}
