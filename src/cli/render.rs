//! Human and JSON rendering of store contents and validation reports.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use crate::cli::{state_label, Error};
use crate::domain::plan::{PlanOverview, WeekDetails};
use crate::domain::validate::{Severity, Violation};
use crate::llm::{StepId, Usage};
use crate::store::Store;
use crate::workflow::{AttemptOutcome, Run, RunId, State};

fn out(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).map_err(Error::Output)
}

/// Token counts in the same shape as the plan file's.
fn usage_json(usage: &Usage) -> Value {
    serde_json::to_value(crate::planfile::tokens(usage)).expect("token reports serialize")
}

fn elapsed_ms(run: &Run, updated_at_ms: u64) -> u64 {
    run.finished_at_ms
        .unwrap_or(updated_at_ms)
        .saturating_sub(run.spec.created_at_ms)
}

fn summary_json(run: &Run, state: &State, updated_at_ms: u64) -> Value {
    json!({
        "run_id": run.spec.run_id.to_string(),
        "athlete": run.spec.profile.name,
        "state": state_label(state),
        "reason": match state { State::Failed { reason } => Some(reason.clone()), _ => None },
        "weeks_done": run.weeks_accepted(),
        "total_weeks": run.spec.total_weeks,
        "attempts": run.total_attempts(),
        "tokens": usage_json(&run.total_usage()),
        "provider": run.spec.provider,
        "model": run.spec.model,
        "created_at_ms": run.spec.created_at_ms,
        "elapsed_ms": elapsed_ms(run, updated_at_ms),
        "output_file": run.output_file.as_ref().map(|name| Path::new(&run.spec.output_dir).join(name).display().to_string()),
    })
}

/// `status` and `list`: one line (or JSON object) per run.
pub fn status(store: &Store, ids: &[RunId], json_output: bool) -> Result<(), Error> {
    let mut text = String::new();
    let mut values = Vec::new();
    if !json_output {
        text.push_str(&format!(
            "{:<8}  {:<10}  {:>7}  {:>8}  {:>8}  {:>9}  {}\n",
            "RUN", "STATE", "WEEKS", "ATTEMPTS", "TOKENS", "ELAPSED", "ATHLETE"
        ));
    }
    for run_id in ids {
        let Some((run, state, record)) = store.load_view(*run_id)? else {
            continue;
        };
        if json_output {
            values.push(summary_json(&run, &state, record.updated_at_ms));
        } else {
            text.push_str(&format!(
                "{:<8}  {:<10}  {:>7}  {:>8}  {:>8}  {:>8.1}s  {}\n",
                run_id.short(),
                state_label(&state),
                format!("{}/{}", run.weeks_accepted(), run.spec.total_weeks),
                run.total_attempts(),
                run.total_usage().total(),
                elapsed_ms(&run, record.updated_at_ms) as f64 / 1000.0,
                run.spec.profile.name
            ));
            if let State::Failed { reason } = &state {
                text.push_str(&format!("          failed: {reason}\n"));
            }
        }
    }
    if json_output {
        text = format!(
            "{}\n",
            serde_json::to_string_pretty(&Value::Array(values)).expect("JSON values serialize")
        );
    }
    out(&text)
}

/// `show`: a readable summary week by week, or with `--json` every step's attempts.
pub fn show(store: &Store, run_id: RunId, json_output: bool) -> Result<(), Error> {
    let Some((run, state, record)) = store.load_view(run_id)? else {
        return Err(Error::UnknownRun {
            prefix: run_id.to_string(),
            dir: store.dir().to_path_buf(),
        });
    };
    if json_output {
        let steps: Vec<Value> = run
            .steps
            .values()
            .map(|step| {
                json!({
                    "step": step.step.to_string(),
                    "requests": step.requests,
                    "accepted": step.is_accepted(),
                    "accepted_at_ms": step.accepted_at_ms,
                    "in_flight": step.in_flight.is_some(),
                    "waiting_until_ms": step.waiting_until_ms,
                    "exhausted": step.exhausted,
                    "checkpoint_kept": step.accepted.is_some(),
                    "compacted": step.compacted,
                    "fallback": step.fallback,
                    "tokens": usage_json(&step.usage()),
                    "warnings": step.warnings.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                    "attempts": step.attempts.iter().map(|attempt| json!({
                        "attempt": attempt.attempt,
                        "outcome": outcome_json(&attempt.outcome),
                        "tokens": usage_json(&attempt.usage),
                        "requested_at_ms": attempt.requested_at_ms,
                        "finished_at_ms": attempt.finished_at_ms,
                        "duration_ms": attempt.finished_at_ms.saturating_sub(attempt.requested_at_ms),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut value = summary_json(&run, &state, record.updated_at_ms);
        let object = value.as_object_mut().expect("summary is an object");
        object.insert("prompt_hash".into(), json!(run.spec.prompt_hash));
        object.insert("start_date".into(), json!(run.spec.start_date.to_string()));
        object.insert("week_concurrency".into(), json!(run.week_concurrency));
        object.insert("done_count".into(), json!(run.done_count));
        object.insert("transitions".into(), json!(record.seq));
        object.insert("phases".into(), phases_json(&run));
        object.insert("steps".into(), Value::Array(steps));
        return out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("JSON values serialize")
        ));
    }

    let spec = &run.spec;
    let mut text = format!(
        "Run {} — {} ({:.0} W FTP, {} h/week), {} weeks from {}\nState: {}, {}/{} weeks, {} attempts, {} tokens, provider {} ({})\n",
        spec.run_id,
        spec.profile.name,
        spec.profile.ftp_w,
        spec.profile.weekly_hours,
        spec.total_weeks,
        spec.start_date,
        state_label(&state),
        run.weeks_accepted(),
        spec.total_weeks,
        run.total_attempts(),
        run.total_usage().total(),
        spec.provider,
        spec.model
    );
    if let State::Failed { reason } = &state {
        text.push_str(&format!("Failed: {reason}\n"));
    }
    if let Some(name) = &run.output_file {
        text.push_str(&format!(
            "Plan file: {}\n",
            Path::new(&spec.output_dir).join(name).display()
        ));
    }
    // A compacted run keeps its plan only in the plan file.
    let (overview, weeks) =
        match run.overview() {
            Some(overview) => (
                Some(overview.clone()),
                (1..=spec.total_weeks)
                    .filter_map(|week| run.week(week).cloned())
                    .collect(),
            ),
            None => match run.output_file.as_ref().and_then(|name| {
                std::fs::read_to_string(Path::new(&spec.output_dir).join(name)).ok()
            }) {
                Some(plan_text) => match crate::planfile::parse_plan(&plan_text) {
                    Ok(plan) => (Some(plan.overview), plan.weeks),
                    Err(_) => (None, Vec::new()),
                },
                None => (None, Vec::new()),
            },
        };
    match overview {
        Some(overview) => {
            let fallback: Vec<i64> = (1..=spec.total_weeks)
                .filter(|week| run.step(StepId::Week(*week)).fallback)
                .map(i64::from)
                .collect();
            text.push_str(&weeks_text(&overview, &weeks, &fallback))
        }
        None if matches!(state, State::Done {}) => {
            text.push_str("(the plan file is gone; weeks cannot be shown)\n")
        }
        None => text.push_str("(no overview yet)\n"),
    }
    out(&text)
}

fn weeks_text(overview: &PlanOverview, weeks: &[WeekDetails], fallback: &[i64]) -> String {
    let mut text = format!("Target FTP {:.0} W\n", overview.target_ftp);
    for entry in &overview.weekly_overview {
        let details = weeks
            .iter()
            .find(|week| week.week_number == entry.week_number);
        match details {
            Some(details) => text.push_str(&format!(
                "\nWeek {:>2}  {:<10} {:>5.1} h  {:>5.0} TSS  {}{}\n",
                entry.week_number,
                entry.phase.name(),
                details.hours(),
                details.tss(),
                entry.weekly_focus,
                if fallback.contains(&entry.week_number) {
                    " [detailed by the built-in coach: the model's attempts ran out]"
                } else {
                    ""
                }
            )),
            None => text.push_str(&format!(
                "\nWeek {:>2}  {:<10} {:>5.1} h  {:>5.0} TSS  {} (planned, not detailed yet)\n",
                entry.week_number,
                entry.phase.name(),
                entry.total_hours,
                entry.target_tss,
                entry.weekly_focus
            )),
        }
        if let Some(details) = details {
            let mut workouts = details.workouts.clone();
            workouts.sort_by_key(|workout| workout.weekday);
            for workout in &workouts {
                text.push_str(&format!(
                    "  {:<3} {:>4} min {:>6.1} TSS  {}\n",
                    &workout.weekday.name()[..3],
                    workout.total_minutes(),
                    workout.tss(),
                    workout.name
                ));
            }
        }
    }
    text
}

fn phases_json(run: &Run) -> Value {
    let overview = run.step(StepId::Overview);
    let (weeks_usage, weeks_attempts) = run.weeks_usage();
    json!({
        "overview": {"attempts": overview.attempts.len(), "requests": overview.requests, "tokens": usage_json(&overview.usage())},
        "weeks": {"attempts": weeks_attempts, "tokens": usage_json(&weeks_usage)},
        "finalize": {"attempts": 0, "tokens": usage_json(&Usage::default())},
    })
}

fn outcome_json(outcome: &AttemptOutcome) -> Value {
    match outcome {
        AttemptOutcome::Accepted { warnings } => json!({"kind": "accepted", "warnings": warnings}),
        AttemptOutcome::Rejected {
            errors,
            warnings,
            first_error,
        } => {
            json!({"kind": "rejected", "errors": errors, "warnings": warnings, "first_error": first_error})
        }
        AttemptOutcome::Malformed { message } => json!({"kind": "malformed", "message": message}),
        AttemptOutcome::Transient { message } => json!({"kind": "transient", "message": message}),
        AttemptOutcome::Fatal { message } => json!({"kind": "fatal", "message": message}),
    }
}

/// `validate`: every violation, then a one-line verdict.
pub fn violations(file: &Path, violations: &[Violation], json_output: bool) -> Result<(), Error> {
    let errors = violations
        .iter()
        .filter(|v| v.severity == Severity::Error)
        .count();
    let warnings = violations.len() - errors;
    if json_output {
        let value = json!({
            "file": file.display().to_string(),
            "valid": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "violations": violations,
        });
        return out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("JSON values serialize")
        ));
    }
    let mut text = String::new();
    for violation in violations {
        text.push_str(&format!("{violation}\n"));
    }
    text.push_str(&format!(
        "{}: {errors} error(s), {warnings} warning(s)\n",
        file.display()
    ));
    out(&text)
}
