//! Human and JSON rendering of store contents and validation reports. Text from profiles and
//! from models is untrusted: on a terminal it is printed through `printable`, so an escape
//! sequence or a carriage return in a name cannot rewrite the screen.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use crate::cli::{state_label, Error};
use crate::domain::plan::{PlanOverview, WeekDetails};
use crate::domain::validate::Severity;
use crate::llm::{PriorReply, StepId, Usage};
use crate::pricing::Cost;
use crate::store::{RunSummary, RunView};
use crate::workflow::{AttemptOutcome, Batch, Run, State};

/// Text with every control character (C0, DEL, C1; newlines and tabs too) shown as an escape
/// (`\n`, `\u{1b}`), so it prints as one harmless line.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if c.is_control() => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

fn out(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).map_err(Error::Output)
}

fn pretty(value: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    )
}

/// Token counts in the same shape as the plan file's.
fn usage_json(usage: &Usage) -> Value {
    serde_json::to_value(crate::planfile::tokens(usage)).expect("token reports serialize")
}

/// The estimated cost in the same shape as the plan file's.
fn cost_json(cost: &Cost) -> Value {
    serde_json::to_value(crate::planfile::cost(cost)).expect("cost reports serialize")
}

/// A cost in a table: `$0.0123`, with `+` when some requests had no price.
fn cost_cell(cost: &Cost) -> String {
    let amount = crate::pricing::format_usd(cost.micro_usd);
    if cost.unpriced_requests > 0 {
        format!("{amount}+")
    } else {
        amount
    }
}

fn reason(state: &State) -> Option<&str> {
    match state {
        State::Failed { reason } => Some(reason),
        _ => None,
    }
}

fn summary_json(summary: &RunSummary) -> Value {
    let mut value = json!({
        "run_id": summary.run_id.to_string(),
        "athlete": summary.athlete,
        "state": state_label(&summary.state),
        "reason": reason(&summary.state),
        "weeks_done": summary.weeks_done,
        "total_weeks": summary.total_weeks,
        "attempts": summary.attempts,
        "tokens": usage_json(&summary.tokens),
        "cost": cost_json(&summary.cost),
        "provider": summary.provider,
        "model": summary.model,
        "created_at_ms": summary.created_at_ms,
        "elapsed_ms": summary.elapsed_ms(),
        "output_file": summary.plan_path().map(|path| path.display().to_string()),
    });
    if let Some(batch) = &summary.batch {
        let object = value.as_object_mut().expect("summary is an object");
        object.insert("batch_id".into(), json!(format!("{:032x}", batch.batch_id)));
        object.insert("batch_item".into(), json!(batch.item));
    }
    value
}

fn status_header() -> String {
    format!(
        "{:<8}  {:<10}  {:>7}  {:>8}  {:>8}  {:>9}  {:>9}  {}\n",
        "RUN", "STATE", "WEEKS", "ATTEMPTS", "TOKENS", "COST", "ELAPSED", "ATHLETE"
    )
}

fn status_row(summary: &RunSummary) -> String {
    let mut text = format!(
        "{:<8}  {:<10}  {:>7}  {:>8}  {:>8}  {:>9}  {:>8.1}s  {}\n",
        summary.run_id.short(),
        state_label(&summary.state),
        format!("{}/{}", summary.weeks_done, summary.total_weeks),
        summary.attempts,
        summary.tokens.total(),
        cost_cell(&summary.cost),
        summary.elapsed_ms() as f64 / 1000.0,
        printable(&summary.athlete)
    );
    if let Some(reason) = reason(&summary.state) {
        text.push_str(&format!("          failed: {}\n", printable(reason)));
    }
    text
}

/// `status` and `list`: one line (or JSON object) per run.
pub fn status(summaries: &[RunSummary], json_output: bool) -> Result<(), Error> {
    if json_output {
        return out(&pretty(&Value::Array(
            summaries.iter().map(summary_json).collect(),
        )));
    }
    let mut text = status_header();
    for summary in summaries {
        text.push_str(&status_row(summary));
    }
    out(&text)
}

/// A batch's runs counted by how they stand.
#[derive(Debug, Default)]
struct BatchCounts {
    done: usize,
    failed: usize,
    waiting: usize,
    tokens: Usage,
    cost: Cost,
    elapsed_ms: u64,
}

fn counts(batch: &Batch, summaries: &[RunSummary]) -> BatchCounts {
    let mut counts = BatchCounts::default();
    let mut last_ms = batch.created_at_ms;
    for summary in summaries {
        match summary.state {
            State::Done {} => counts.done += 1,
            State::Failed { .. } => counts.failed += 1,
            _ => counts.waiting += 1,
        }
        counts.tokens.add(&summary.tokens);
        counts.cost.add(&summary.cost);
        last_ms = last_ms.max(summary.finished_at_ms.unwrap_or(summary.updated_at_ms));
    }
    counts.elapsed_ms = last_ms.saturating_sub(batch.created_at_ms);
    counts
}

fn batch_json(batch: &Batch, summaries: &[RunSummary]) -> Value {
    let counts = counts(batch, summaries);
    json!({
        "batch_id": batch.id_text(),
        "name": batch.name,
        "items": batch.items.len(),
        "done": counts.done,
        "failed": counts.failed,
        "waiting": counts.waiting,
        "tokens": usage_json(&counts.tokens),
        "cost": cost_json(&counts.cost),
        "created_at_ms": batch.created_at_ms,
        "elapsed_ms": counts.elapsed_ms,
    })
}

fn batch_line(batch: &Batch, summaries: &[RunSummary]) -> String {
    let counts = counts(batch, summaries);
    format!(
        "Batch {} ({}): {} runs: {} done, {} failed, {} waiting; {} tokens, about {}; {:.1}s\n",
        batch.id_text(),
        printable(&batch.name),
        batch.items.len(),
        counts.done,
        counts.failed,
        counts.waiting,
        counts.tokens.total(),
        counts.cost,
        counts.elapsed_ms as f64 / 1000.0
    )
}

/// `status --batch` and `list --batch`: the batch summary, then its runs.
pub fn batch_status(
    batch: &Batch,
    summaries: &[RunSummary],
    json_output: bool,
) -> Result<(), Error> {
    if json_output {
        let mut value = batch_json(batch, summaries);
        value.as_object_mut().expect("an object").insert(
            "runs".into(),
            Value::Array(summaries.iter().map(summary_json).collect()),
        );
        return out(&pretty(&value));
    }
    let mut text = batch_line(batch, summaries);
    text.push_str(&status_header());
    for summary in summaries {
        text.push_str(&status_row(summary));
    }
    out(&text)
}

/// `batch-report`: one row per athlete, in the batch's order.
pub fn batch_report(
    batch: &Batch,
    rows: &[(usize, &str, Option<&RunSummary>)],
    json_output: bool,
) -> Result<(), Error> {
    let summaries: Vec<RunSummary> = rows.iter().filter_map(|(_, _, s)| (*s).cloned()).collect();
    if json_output {
        let mut value = batch_json(batch, &summaries);
        let rows: Vec<Value> = rows
            .iter()
            .map(|(index, source, summary)| match summary {
                Some(summary) => json!({
                    "item": index,
                    "source": source,
                    "run_id": summary.run_id.to_string(),
                    "athlete": summary.athlete,
                    "state": state_label(&summary.state),
                    "plan_file": summary.plan_path().filter(|_| matches!(summary.state, State::Done {})).map(|path| path.display().to_string()),
                    "weeks_done": summary.weeks_done,
                    "total_weeks": summary.total_weeks,
                    "attempts": summary.attempts,
                    "tokens": usage_json(&summary.tokens),
                    "cost": cost_json(&summary.cost),
                    "failure": reason(&summary.state),
                }),
                None => json!({"item": index, "source": source, "state": "missing"}),
            })
            .collect();
        value
            .as_object_mut()
            .expect("an object")
            .insert("rows".into(), Value::Array(rows));
        return out(&pretty(&value));
    }
    let mut text = batch_line(batch, &summaries);
    text.push_str(&format!(
        "{:>5}  {:<8}  {:<10}  {:>7}  {:>8}  {:>8}  {:>9}  {:<24}  {}\n",
        "ITEM",
        "RUN",
        "STATE",
        "WEEKS",
        "ATTEMPTS",
        "TOKENS",
        "COST",
        "ATHLETE",
        "PLAN FILE / FAILURE"
    ));
    for (index, source, summary) in rows {
        match summary {
            Some(summary) => {
                let detail = match &summary.state {
                    State::Done {} => summary
                        .plan_path()
                        .map(|path| path.display().to_string())
                        .unwrap_or_default(),
                    State::Failed { reason } => format!("failed: {reason}"),
                    _ => String::new(),
                };
                text.push_str(&format!(
                    "{:>5}  {:<8}  {:<10}  {:>7}  {:>8}  {:>8}  {:>9}  {:<24}  {}\n",
                    index,
                    summary.run_id.short(),
                    state_label(&summary.state),
                    format!("{}/{}", summary.weeks_done, summary.total_weeks),
                    summary.attempts,
                    summary.tokens.total(),
                    cost_cell(&summary.cost),
                    printable(&summary.athlete),
                    printable(&detail)
                ));
            }
            None => text.push_str(&format!(
                "{:>5}  {:<8}  {:<10}  {}\n",
                index,
                "-",
                "missing",
                printable(source)
            )),
        }
    }
    out(&text)
}

/// `show`: a readable summary week by week, or with `--json` every step's attempts.
pub fn show(view: &RunView, summary: &RunSummary, json_output: bool) -> Result<(), Error> {
    let run = &view.run;
    let state = &view.state;
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
                    "cost": cost_json(&step.cost()),
                    "warnings": step.warnings.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                    // What the model was told about its refused answers, in order: why a step
                    // failed is in these (kept until the run is done and compacted).
                    "repair_turns": step.repair_turns.iter().map(|turn| json!({
                        "reply": match &turn.reply {
                            PriorReply::Call(call) => json!({"call": {"name": call.name, "arguments": call.arguments}}),
                            PriorReply::Text(text) => json!({"text": text}),
                        },
                        "feedback": turn.feedback,
                    })).collect::<Vec<_>>(),
                    "attempts": step.attempts.iter().map(|attempt| json!({
                        "attempt": attempt.attempt,
                        "outcome": outcome_json(&attempt.outcome),
                        "tokens": usage_json(&attempt.usage),
                        "cost_usd": attempt.cost_micro_usd.map(crate::pricing::usd),
                        "requested_at_ms": attempt.requested_at_ms,
                        "finished_at_ms": attempt.finished_at_ms,
                        "duration_ms": attempt.finished_at_ms.saturating_sub(attempt.requested_at_ms),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut value = summary_json(summary);
        let object = value.as_object_mut().expect("summary is an object");
        object.insert("prompt_hash".into(), json!(run.spec.prompt_hash));
        object.insert("start_date".into(), json!(run.spec.start_date.to_string()));
        object.insert("week_concurrency".into(), json!(run.week_concurrency));
        object.insert("done_count".into(), json!(run.done_count));
        object.insert("transitions".into(), json!(view.seq));
        object.insert("format_version".into(), json!(view.version));
        object.insert("phases".into(), phases_json(run));
        object.insert("steps".into(), Value::Array(steps));
        return out(&pretty(&value));
    }

    let spec = &run.spec;
    let mut text = format!(
        "Run {} — {} ({:.0} W FTP, {} h/week), {} weeks from {}\nState: {}, {}/{} weeks, {} attempts, {} tokens{}, provider {} ({})\n",
        spec.run_id,
        printable(&spec.profile.name),
        spec.profile.ftp_w,
        spec.profile.weekly_hours,
        spec.total_weeks,
        spec.start_date,
        state_label(state),
        run.weeks_accepted(),
        spec.total_weeks,
        run.total_attempts(),
        run.total_usage().total(),
        if run.is_priced() {
            format!(" (about {})", run.total_cost())
        } else {
            String::new()
        },
        printable(&spec.provider),
        printable(&spec.model)
    );
    if let Some(reason) = reason(state) {
        text.push_str(&format!("Failed: {}\n", printable(reason)));
    }
    if let Some(name) = &run.output_file {
        text.push_str(&format!(
            "Plan file: {}\n",
            Path::new(&spec.output_dir).join(name).display()
        ));
    }
    // A compacted run keeps its plan only in the plan file.
    let (overview, weeks) = match run.overview() {
        Some(overview) => (
            Some(overview.clone()),
            (1..=spec.total_weeks)
                .filter_map(|week| run.week(week).cloned())
                .collect(),
        ),
        None => match run.output_file.as_ref().and_then(|name| {
            crate::files::read_text(
                &Path::new(&spec.output_dir).join(name),
                crate::planfile::MAX_PLAN_FILE_BYTES,
            )
            .ok()
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
                printable(&entry.weekly_focus),
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
                printable(&entry.weekly_focus)
            )),
        }
        if let Some(details) = details {
            let mut workouts = details.workouts.clone();
            workouts.sort_by_key(|workout| workout.weekday);
            for workout in &workouts {
                text.push_str(&format!(
                    "  {:<3} {:>4} min {:>6.1} TSS  {}\n",
                    &workout.weekday.name()[..3],
                    crate::domain::plan::round_minutes(workout.minutes()),
                    workout.tss(),
                    printable(&workout.name)
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
        "overview": {"attempts": overview.attempts.len(), "requests": overview.requests, "tokens": usage_json(&overview.usage()), "cost": cost_json(&overview.cost())},
        "weeks": {"attempts": weeks_attempts, "tokens": usage_json(&weeks_usage), "cost": cost_json(&run.weeks_cost())},
        "finalize": {"attempts": 0, "tokens": usage_json(&Usage::default()), "cost": cost_json(&Cost::default())},
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
        AttemptOutcome::ContextLength { message } => {
            json!({"kind": "context_length", "message": message})
        }
    }
}

/// `validate`: every violation, then a one-line verdict.
pub fn violations(
    file: &Path,
    checked: &crate::planfile::Checked,
    json_output: bool,
) -> Result<(), Error> {
    let violations = &checked.violations;
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
            "checked": checked.plans,
            "weeks": checked.weeks,
            "violations": violations,
        });
        return out(&pretty(&value));
    }
    let mut text = String::new();
    for plan in &checked.plans {
        text.push_str(&format!("checked {}\n", printable(plan)));
    }
    for week in &checked.weeks {
        let planned = |value: Option<f64>, unit: &str| {
            value.map_or(String::new(), |value| format!(" (planned {value} {unit})"))
        };
        let at = if week.plan.is_empty() {
            String::new()
        } else {
            format!("{} ", printable(&week.plan))
        };
        text.push_str(&format!(
            "{at}week {}: {:.1} TSS{}, {:.2} h{}\n",
            week.week_number,
            week.tss,
            planned(week.target_tss, "TSS"),
            week.hours,
            planned(week.target_hours, "h")
        ));
    }
    for violation in violations {
        text.push_str(&format!("{}\n", printable(&violation.to_string())));
    }
    text.push_str(&format!(
        "{}: {errors} error(s), {warnings} warning(s)\n",
        file.display()
    ));
    out(&text)
}
