//! Progress events of SPEC §8, derived from committed transitions and announced only after
//! the flush, so "Week k/N complete" is never said about a week that could still be lost.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use crate::llm::StepId;
use crate::workflow::{self, AttemptOutcome, Ctx, Effect, Event, Machine, Run, RunId, State};

/// What an event's notices compare against: the few facts of the run before the event, taken
/// instead of a copy of the whole run.
#[derive(Debug, Clone, Copy)]
pub struct Before {
    /// For a reply: whether its step was accepted, and how many attempts it had.
    step_accepted: bool,
    step_attempts: usize,
    done_count: u32,
    finished: bool,
}

impl Before {
    pub fn of(run: &Run, event: &Event) -> Before {
        let step = match event {
            Event::Replied { step, .. } => run.steps.get(step),
            _ => None,
        };
        Before {
            step_accepted: step.is_some_and(|step| step.is_accepted()),
            step_attempts: step.map_or(0, |step| step.attempts.len()),
            done_count: run.done_count,
            finished: run.finished_at_ms.is_some(),
        }
    }
}

pub type Observer = Arc<dyn Fn(&Progress) + Send + Sync>;

#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Started {
        run_id: RunId,
        total_weeks: u32,
        resumed: bool,
    },
    OverviewCreated {
        run_id: RunId,
    },
    WeekComplete {
        run_id: RunId,
        week: u32,
        done: u32,
        total: u32,
    },
    AttemptFailed {
        run_id: RunId,
        step: StepId,
        attempt: u32,
        reason: String,
    },
    RetryScheduled {
        run_id: RunId,
        step: StepId,
        until_ms: u64,
    },
    PlanFinalized {
        run_id: RunId,
        path: PathBuf,
        /// The folder of the exports written beside the plan, when the run asked for any.
        exports: Option<PathBuf>,
    },
    RunFailed {
        run_id: RunId,
        reason: String,
    },
}

impl Progress {
    pub fn run_id(&self) -> RunId {
        match self {
            Progress::Started { run_id, .. }
            | Progress::OverviewCreated { run_id }
            | Progress::WeekComplete { run_id, .. }
            | Progress::AttemptFailed { run_id, .. }
            | Progress::RetryScheduled { run_id, .. }
            | Progress::PlanFinalized { run_id, .. }
            | Progress::RunFailed { run_id, .. } => *run_id,
        }
    }

    /// The human line for logs and terminals.
    pub fn message(&self) -> String {
        match self {
            Progress::Started {
                run_id,
                total_weeks,
                resumed: false,
            } => format!("Run {run_id} started ({total_weeks} weeks)"),
            Progress::Started {
                run_id,
                resumed: true,
                ..
            } => format!("Run {run_id} resumed"),
            Progress::OverviewCreated { .. } => "Overview created".to_string(),
            // Weeks are detailed several at once, so the week just finished (k of N) and how
            // many are done can differ; both are said.
            Progress::WeekComplete {
                week, done, total, ..
            } => format!("Week {week}/{total} complete ({done} of {total} weeks done)"),
            Progress::AttemptFailed {
                step,
                attempt,
                reason,
                ..
            } => format!("{step}: attempt {attempt} failed: {reason}"),
            Progress::RetryScheduled { step, .. } => format!("{step}: retry scheduled"),
            Progress::PlanFinalized {
                path,
                exports: None,
                ..
            } => format!("Plan finalized: {}", path.display()),
            Progress::PlanFinalized {
                path,
                exports: Some(exports),
                ..
            } => format!(
                "Plan finalized: {} (exports in {})",
                path.display(),
                exports.display()
            ),
            Progress::RunFailed { reason, .. } => format!("Run failed: {reason}"),
        }
    }

    /// One NDJSON line.
    pub fn to_json(&self) -> serde_json::Value {
        let (kind, run_id, extra) = match self {
            Progress::Started {
                run_id,
                total_weeks,
                resumed,
            } => (
                "started",
                run_id,
                json!({"total_weeks": total_weeks, "resumed": resumed}),
            ),
            Progress::OverviewCreated { run_id } => ("overview_created", run_id, json!({})),
            Progress::WeekComplete {
                run_id,
                week,
                done,
                total,
            } => (
                "week_complete",
                run_id,
                // `week` and `done` are the names earlier releases printed; the named pair
                // says which is which.
                json!({"week_number": week, "weeks_done": done, "total_weeks": total, "week": week, "done": done, "total": total}),
            ),
            Progress::AttemptFailed {
                run_id,
                step,
                attempt,
                reason,
            } => (
                "attempt_failed",
                run_id,
                json!({"step": step.to_string(), "attempt": attempt, "reason": reason}),
            ),
            Progress::RetryScheduled {
                run_id,
                step,
                until_ms,
            } => (
                "retry_scheduled",
                run_id,
                json!({"step": step.to_string(), "until_ms": until_ms}),
            ),
            Progress::PlanFinalized {
                run_id,
                path,
                exports,
            } => (
                "plan_finalized",
                run_id,
                match exports {
                    None => json!({"path": path.display().to_string()}),
                    Some(exports) => json!({
                        "path": path.display().to_string(),
                        "exports": exports.display().to_string(),
                    }),
                },
            ),
            Progress::RunFailed { run_id, reason } => {
                ("run_failed", run_id, json!({"reason": reason}))
            }
        };
        let mut value =
            json!({"event": kind, "run_id": run_id.to_string(), "message": self.message()});
        if let (Some(object), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            object.extend(extra);
        }
        value
    }
}

/// What a committed transition announces.
pub fn notices(before: &Before, machine: &Machine, event: &Event, ctx: &Ctx) -> Vec<Progress> {
    let run = machine.run();
    let run_id = run.spec.run_id;
    let mut notices = Vec::new();
    if let Event::Start { .. } = event {
        notices.push(Progress::Started {
            run_id,
            total_weeks: run.spec.total_weeks,
            resumed: false,
        });
    }
    if let Event::Replied { step, attempt, .. } = event {
        let was_accepted = before.step_accepted;
        let now = run.step(*step);
        if now.is_accepted() && !was_accepted {
            notices.push(match step {
                StepId::Overview => Progress::OverviewCreated { run_id },
                StepId::Week(week) => Progress::WeekComplete {
                    run_id,
                    week: *week,
                    done: run.weeks_accepted(),
                    total: run.spec.total_weeks,
                },
            });
        } else if let Some(record) = now
            .attempts
            .iter()
            .rev()
            .find(|record| record.attempt == *attempt)
        {
            if now.attempts.len() > before.step_attempts {
                let reason = match &record.outcome {
                    AttemptOutcome::Accepted { .. } => None,
                    AttemptOutcome::Rejected {
                        errors,
                        first_error,
                        ..
                    } => Some(format!(
                        "{errors} validation error(s), first: {first_error}"
                    )),
                    AttemptOutcome::Malformed { message }
                    | AttemptOutcome::Transient { message }
                    | AttemptOutcome::Fatal { message }
                    | AttemptOutcome::ContextLength { message } => Some(message.clone()),
                };
                if let Some(reason) = reason {
                    notices.push(Progress::AttemptFailed {
                        run_id,
                        step: *step,
                        attempt: *attempt,
                        reason,
                    });
                }
            }
        }
    }
    for effect in &ctx.effects {
        if let Effect::Wait { step, until_ms } = effect {
            notices.push(Progress::RetryScheduled {
                run_id,
                step: *step,
                until_ms: *until_ms,
            });
        }
    }
    match machine.state() {
        State::Done {} if before.done_count == 0 => {
            notices.push(Progress::PlanFinalized {
                run_id,
                path: crate::engine::plan_path(run),
                exports: crate::engine::exports_path(run),
            });
        }
        State::Failed { reason }
            if !matches!(event, Event::Resume { .. })
                && workflow::state_name(machine.state()) == "failed"
                && !before.finished =>
        {
            notices.push(Progress::RunFailed {
                run_id,
                reason: reason.clone(),
            });
        }
        _ => {}
    }
    notices
}
