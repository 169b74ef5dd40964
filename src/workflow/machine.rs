//! The statig machine of a run and its transition logic. Handlers only touch the in-memory run
//! and push effects into the context; they never do IO. There are no entry actions, so
//! restoring a stored machine (which re-runs entry actions) is side-effect free.

use statig::prelude::*;

use crate::domain::validate::{self, Severity, Violation};
use crate::llm::{
    ModelFailure, ModelOutcome, ModelReply, PriorReply, RepairTurn, StepId, ToolCall,
};
use crate::pricing::format_usd;
use crate::tools;
use crate::workflow::{
    retry, Accepted, AttemptOutcome, AttemptRecord, Ctx, Effect, Event, InFlight, Run,
};

/// What became of a step after an event.
enum StepOutcome {
    /// Nothing decided yet (a retry or repair is on its way, or the event was stale).
    Pending,
    Accepted,
    /// The step gave up; the run fails once nothing else is in flight.
    Exhausted,
}

#[state_machine(initial = "State::created()", state(derive(Debug, Clone, PartialEq)))]
impl Run {
    #[state]
    fn created(&mut self, context: &mut Ctx, event: &Event) -> Outcome<State> {
        match event {
            Event::Start {
                at_ms,
                week_concurrency,
            }
            | Event::Resume {
                at_ms,
                week_concurrency,
            } => {
                self.week_concurrency = (*week_concurrency).max(1);
                if self.request(StepId::Overview, *at_ms, context) {
                    Transition(State::drafting_overview())
                } else {
                    Transition(self.failure_state())
                }
            }
            _ => Handled,
        }
    }

    #[state]
    fn drafting_overview(&mut self, context: &mut Ctx, event: &Event) -> Outcome<State> {
        match event {
            Event::Resume {
                at_ms,
                week_concurrency,
            } => {
                self.week_concurrency = (*week_concurrency).max(1);
                self.reissue(*at_ms, context);
                Handled
            }
            Event::Replied {
                step: StepId::Overview,
                attempt,
                reply,
                cost_micro_usd,
                at_ms,
            } => match self.on_reply(
                StepId::Overview,
                *attempt,
                (reply, *cost_micro_usd),
                *at_ms,
                context,
            ) {
                StepOutcome::Pending if self.budget_stop.is_some() => {
                    Transition(self.failure_state())
                }
                StepOutcome::Pending => Handled,
                StepOutcome::Accepted => {
                    self.schedule_weeks(*at_ms, context);
                    // A budget the overview alone used up stops the run here: in the weeks
                    // state with no week in flight, nothing would ever move it again.
                    if self.budget_stop.is_some() && self.in_flight_weeks() == 0 {
                        return Transition(self.failure_state());
                    }
                    Transition(State::detailing_weeks())
                }
                StepOutcome::Exhausted => Transition(self.failed_state(StepId::Overview)),
            },
            Event::RetryDue {
                step: StepId::Overview,
                at_ms,
            } => {
                self.on_retry_due(StepId::Overview, *at_ms, context);
                if self.budget_stop.is_some() {
                    Transition(self.failure_state())
                } else {
                    Handled
                }
            }
            _ => Handled,
        }
    }

    #[state]
    fn detailing_weeks(&mut self, context: &mut Ctx, event: &Event) -> Outcome<State> {
        let at_ms = match event {
            Event::Resume {
                at_ms,
                week_concurrency,
            } => {
                self.week_concurrency = (*week_concurrency).max(1);
                self.reissue(*at_ms, context);
                *at_ms
            }
            Event::Replied {
                step: step @ StepId::Week(_),
                attempt,
                reply,
                cost_micro_usd,
                at_ms,
            } => {
                self.on_reply(*step, *attempt, (reply, *cost_micro_usd), *at_ms, context);
                *at_ms
            }
            Event::RetryDue {
                step: step @ StepId::Week(_),
                at_ms,
            } => {
                if self.any_exhausted() {
                    // The run is failing: do not spend more requests, just drop the wait.
                    let state = self.step_mut(*step, context);
                    state.waiting_until_ms = None;
                } else {
                    self.on_retry_due(*step, *at_ms, context);
                }
                *at_ms
            }
            _ => return Handled,
        };
        self.after_week_event(at_ms, context)
    }

    // statig hands state-local storage to handlers as `&mut` of the field's own type.
    #[allow(clippy::ptr_arg)]
    #[state]
    fn finalizing(
        &mut self,
        file_name: &mut String,
        context: &mut Ctx,
        event: &Event,
    ) -> Outcome<State> {
        match event {
            Event::Resume { .. } => {
                // The name was fixed when Finalizing was committed; re-writing it yields the same bytes.
                context.effects.push(Effect::WritePlan {
                    file_name: file_name.clone(),
                });
                Handled
            }
            Event::PlanWritten { at_ms } => {
                assert_eq!(self.done_count, 0, "a run reaches Done once");
                self.done_count += 1;
                self.finished_at_ms = Some(*at_ms);
                if !self.spec.keep_checkpoints {
                    self.compact(context);
                }
                Transition(State::done())
            }
            _ => Handled,
        }
    }

    #[state]
    fn done(event: &Event) -> Outcome<State> {
        // Nothing moves a finished run; late or duplicate events are ignored.
        let _ = event;
        Handled
    }

    #[state]
    fn failed(&mut self, reason: &mut String, context: &mut Ctx, event: &Event) -> Outcome<State> {
        let _ = reason;
        match event {
            Event::Retry {
                at_ms,
                week_concurrency,
                budget,
            } => {
                self.week_concurrency = (*week_concurrency).max(1);
                if let Some(budget) = budget {
                    self.budget = *budget;
                }
                self.budget_stop = None;
                let failed: Vec<StepId> = self
                    .steps
                    .values()
                    .filter(|state| state.exhausted.is_some())
                    .map(|state| state.step)
                    .collect();
                for step in failed {
                    let state = self.step_mut(step, context);
                    state.exhausted = None;
                    state.refused = 0;
                    state.transient_failures = 0;
                }
                self.finished_at_ms = None;
                if self.overview().is_none() {
                    if self.request(StepId::Overview, *at_ms, context) {
                        Transition(State::drafting_overview())
                    } else {
                        Transition(self.failure_state())
                    }
                } else {
                    self.schedule_weeks(*at_ms, context);
                    match self.after_week_event(*at_ms, context) {
                        // Still working on weeks: leave Failed for the weeks state.
                        Handled => Transition(State::detailing_weeks()),
                        decided => decided,
                    }
                }
            }
            _ => Handled,
        }
    }
}

impl Run {
    fn step_mut(&mut self, step: StepId, context: &mut Ctx) -> &mut crate::workflow::StepState {
        context.dirty.insert(step);
        self.steps
            .get_mut(&step)
            .expect("every step of the plan exists from creation")
    }

    /// Issues the next request of a step, unless a run budget forbids it: then the run records
    /// why, stops scheduling, and fails once nothing is in flight. The request counter is part
    /// of the committed transition, so `show --json` can prove how often each step was
    /// requested. Returns whether the request was issued.
    fn request(&mut self, step: StepId, at_ms: u64, context: &mut Ctx) -> bool {
        let fallback = self.steps[&step].fallback;
        if !fallback {
            if let Some(reason) = self.budget_blocks() {
                self.budget_stop.get_or_insert(reason);
                return false;
            }
        }
        let state = self.step_mut(step, context);
        assert!(
            !state.is_accepted(),
            "an accepted step is never requested again"
        );
        let attempt = u32::try_from(state.attempts.len()).expect("attempts are bounded") + 1;
        state.requests += 1;
        state.waiting_until_ms = None;
        state.in_flight = Some(InFlight {
            attempt,
            requested_at_ms: at_ms,
        });
        context.effects.push(Effect::CallModel {
            step,
            attempt,
            fallback,
        });
        true
    }

    /// Why the next model request would cross a run budget, if it would. Each request is
    /// estimated at the largest one made so far, and the requests still in flight are counted
    /// with the next one: a run passes a budget by at most how much one estimate was short.
    fn budget_blocks(&self) -> Option<String> {
        let pending = 1 + self
            .steps
            .values()
            .filter(|state| state.in_flight.is_some())
            .count() as u64;
        if let Some(max) = self.budget.max_attempts {
            let issued: u32 = self
                .steps
                .values()
                .filter(|state| !state.fallback)
                .map(|state| state.requests)
                .sum();
            if issued >= max {
                return Some(format!(
                    "attempt budget reached: {issued} model requests made of --max-attempts {max}; `periodize resume <run> --retry --max-attempts N` continues with a larger budget"
                ));
            }
        }
        if let Some(max) = self.budget.max_tokens {
            let used = self.total_usage().total();
            let next = self
                .steps
                .values()
                .flat_map(|state| state.attempts.iter())
                .map(|attempt| attempt.usage.total())
                .max()
                .unwrap_or(0);
            if used.saturating_add(next.saturating_mul(pending)) > max {
                return Some(format!(
                    "token budget reached: {used} tokens used, the next request needs about {next}, --max-tokens {max}; `periodize resume <run> --retry --max-tokens N` continues with a larger budget"
                ));
            }
        }
        if let Some(max) = self.budget.max_cost_micro_usd {
            let spent = self.total_cost().micro_usd;
            let next = self
                .steps
                .values()
                .flat_map(|state| state.attempts.iter())
                .filter_map(|attempt| attempt.cost_micro_usd)
                .max()
                .unwrap_or(0);
            if spent.saturating_add(next.saturating_mul(pending)) > max {
                return Some(format!(
                    "cost budget reached: about {} spent, the next request costs about {}, --max-cost {}; `periodize resume <run> --retry --max-cost USD` continues with a larger budget",
                    format_usd(spent),
                    format_usd(next),
                    format_usd(max),
                ));
            }
        }
        None
    }

    /// The Failed state the run is in now: a budget stop, or the first step that gave up.
    fn failure_state(&self) -> State {
        if let Some(reason) = &self.budget_stop {
            return State::failed(reason.clone());
        }
        let step = self
            .steps
            .values()
            .find(|state| state.exhausted.is_some())
            .map_or(StepId::Overview, |state| state.step);
        self.failed_state(step)
    }

    /// After a restart: every request that was in flight is sent again (at most once more),
    /// every wait is re-armed, and free week slots are filled.
    fn reissue(&mut self, at_ms: u64, context: &mut Ctx) {
        let steps: Vec<StepId> = self.steps.keys().copied().collect();
        for step in steps {
            let state = &self.steps[&step];
            if state.in_flight.is_some() {
                let state = self.step_mut(step, context);
                state.requests += 1;
                let attempt = state
                    .in_flight
                    .as_ref()
                    .map(|flight| flight.attempt)
                    .expect("checked above");
                let fallback = state.fallback;
                context.effects.push(Effect::CallModel {
                    step,
                    attempt,
                    fallback,
                });
            } else if let Some(until_ms) = state.waiting_until_ms {
                context.effects.push(Effect::Wait { step, until_ms });
            }
        }
        if matches!(steps_phase(self), Some(StepId::Week(_))) {
            self.schedule_weeks(at_ms, context);
        }
    }

    fn in_flight_weeks(&self) -> usize {
        self.steps
            .values()
            .filter(|state| {
                matches!(state.step, StepId::Week(_))
                    && (state.in_flight.is_some() || state.waiting_until_ms.is_some())
            })
            .count()
    }

    fn any_exhausted(&self) -> bool {
        self.steps.values().any(|state| state.exhausted.is_some())
    }

    /// Fills free slots with the lowest weeks that are neither accepted, busy nor failed.
    fn schedule_weeks(&mut self, at_ms: u64, context: &mut Ctx) {
        if self.any_exhausted() || self.budget_stop.is_some() {
            return;
        }
        let limit = self.week_concurrency.max(1) as usize;
        while self.in_flight_weeks() < limit {
            let next = (1..=self.spec.total_weeks).map(StepId::Week).find(|step| {
                let state = &self.steps[step];
                !state.is_accepted()
                    && state.in_flight.is_none()
                    && state.waiting_until_ms.is_none()
                    && state.exhausted.is_none()
            });
            match next {
                Some(step) if self.request(step, at_ms, context) => {}
                _ => break,
            }
        }
    }

    fn after_week_event(&mut self, at_ms: u64, context: &mut Ctx) -> Outcome<State> {
        if self.weeks_accepted() == self.spec.total_weeks {
            return self.begin_finalizing(at_ms, context);
        }
        if self.any_exhausted() || self.budget_stop.is_some() {
            if self.in_flight_weeks() == 0 {
                return Transition(self.failure_state());
            }
            return Handled;
        }
        self.schedule_weeks(at_ms, context);
        // Scheduling may itself hit a budget: with nothing left in flight, the run fails now.
        if self.budget_stop.is_some() && self.in_flight_weeks() == 0 {
            return Transition(self.failure_state());
        }
        Handled
    }

    /// 3c, pure part: every rule on the whole plan; the file name is fixed here, once.
    fn begin_finalizing(&mut self, at_ms: u64, context: &mut Ctx) -> Outcome<State> {
        let overview = self
            .overview()
            .expect("weeks are only accepted after the overview")
            .clone();
        let weeks: Vec<_> = (1..=self.spec.total_weeks)
            .map(|week| self.week(week).expect("all weeks accepted").clone())
            .collect();
        let violations = validate::at_finalize(validate::check_plan(
            &overview,
            &weeks,
            &self.spec.profile,
            self.spec.total_weeks,
            self.spec.event_day(),
            &self.spec.rules,
        ));
        if validate::has_errors(&violations) {
            let listing = violations
                .iter()
                .filter(|v| v.severity == Severity::Error)
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return Transition(State::failed(format!(
                "3c: the assembled plan fails validation: {listing}"
            )));
        }
        self.plan_warnings = violations;
        self.finalizing_at_ms = Some(at_ms);
        let file_name = plan_file_name(at_ms, &self.spec.run_id.short());
        self.output_file = Some(file_name.clone());
        context.effects.push(Effect::WritePlan {
            file_name: file_name.clone(),
        });
        Transition(State::finalizing(file_name))
    }

    fn failed_state(&self, step: StepId) -> State {
        let reason = self.steps[&step]
            .exhausted
            .clone()
            .unwrap_or_else(|| "step failed".to_string());
        State::failed(format!("{step}: {reason}"))
    }

    fn on_retry_due(&mut self, step: StepId, at_ms: u64, context: &mut Ctx) {
        let state = &self.steps[&step];
        if state.waiting_until_ms.is_some() && state.in_flight.is_none() && !state.is_accepted() {
            // A budget may stop it; the run then fails once nothing else is in flight.
            let _issued = self.request(step, at_ms, context);
            if !_issued {
                self.step_mut(step, context).waiting_until_ms = None;
            }
        }
    }

    fn on_reply(
        &mut self,
        step: StepId,
        attempt: u32,
        (reply, cost_micro_usd): (&ModelReply, Option<u64>),
        at_ms: u64,
        context: &mut Ctx,
    ) -> StepOutcome {
        let current = self.steps[&step]
            .in_flight
            .as_ref()
            .map(|flight| flight.attempt);
        if current != Some(attempt) {
            // A stale or duplicate reply: the step has moved on. Ignoring it keeps every week
            // accepted at most once.
            return StepOutcome::Pending;
        }
        let judged = match &reply.outcome {
            ModelOutcome::Call(call) => self.judge_call(step, call),
            ModelOutcome::Failed(failure) => Judged::Failure(failure.clone()),
        };
        let never_called = !self.any_tool_call();
        let policy = self.spec.retry.clone();
        let run_id = self.spec.run_id;
        let state = self.step_mut(step, context);
        let flight = state.in_flight.take().expect("checked above");
        let mut record = AttemptRecord {
            attempt,
            outcome: AttemptOutcome::Accepted { warnings: 0 },
            usage: reply.usage,
            cost_micro_usd,
            requested_at_ms: flight.requested_at_ms,
            finished_at_ms: at_ms,
        };
        let outcome = match judged {
            Judged::Accepted(accepted, warnings) => {
                record.outcome = AttemptOutcome::Accepted {
                    warnings: warnings.len() as u32,
                };
                state.accepted = Some(accepted);
                state.accepted_at_ms = Some(at_ms);
                state.warnings = warnings;
                state.repair_turns.clear();
                StepOutcome::Accepted
            }
            Judged::Refused { call, violations } => {
                let call = kept_call(call);
                let errors = violations
                    .iter()
                    .filter(|v| v.severity == Severity::Error)
                    .count() as u32;
                let first_error = violations
                    .iter()
                    .find(|v| v.severity == Severity::Error)
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                record.outcome = AttemptOutcome::Rejected {
                    errors,
                    warnings: violations.len() as u32 - errors,
                    first_error: first_error.clone(),
                };
                let repeated = state.repair_turns.iter().any(|turn| {
                    matches!(&turn.reply, PriorReply::Call(earlier) if earlier.arguments == call.arguments)
                });
                if repeated {
                    // Asking again after the model repeated a refused answer word for word only
                    // spends tokens in a loop: the step gives up (or falls back).
                    state.refused += 1;
                    state.exhausted = Some(format!(
                        "the model repeated an answer it had already been told is invalid; last: {first_error}"
                    ));
                    StepOutcome::Exhausted
                } else {
                    let turn = RepairTurn {
                        reply: PriorReply::Call(call),
                        feedback: repair_feedback(step, &violations),
                    };
                    refuse(
                        state,
                        Some(turn),
                        policy.max_attempts,
                        "answers failed validation",
                        &first_error,
                    )
                }
            }
            Judged::Failure(ModelFailure::Malformed { message, reply }) => {
                // The model cannot fix a server that never shows it the tool: the hint is for
                // the user (the attempt and the step's failure), not in the feedback.
                let shown = if never_called && matches!(reply, PriorReply::Text(_)) {
                    format!("{message}; {TOOLS_NOT_PASSED_HINT}")
                } else {
                    message.clone()
                };
                record.outcome = AttemptOutcome::Malformed {
                    message: shown.clone(),
                };
                let tool = tool_name(step);
                let turn = RepairTurn {
                    // A call is kept (cut to the arguments' limit): the feedback is about it;
                    // text is replayed as an excerpt.
                    reply: match reply {
                        PriorReply::Call(call) => PriorReply::Call(kept_call(call)),
                        text => replayable(text),
                    },
                    feedback: format!("{message}. Call the tool {tool} exactly once, with complete JSON arguments for {step}."),
                };
                refuse(
                    state,
                    Some(turn),
                    policy.max_attempts,
                    "answers were malformed",
                    &shown,
                )
            }
            Judged::Failure(ModelFailure::Transient {
                message,
                retry_after_ms,
            }) => {
                record.outcome = AttemptOutcome::Transient {
                    message: message.clone(),
                };
                state.transient_failures += 1;
                if state.transient_failures > policy.max_transient_retries {
                    state.exhausted = Some(format!(
                        "gave up after {} transient failures; last: {message}",
                        state.transient_failures
                    ));
                    StepOutcome::Exhausted
                } else {
                    let delay_ms = retry::backoff_ms(
                        &policy,
                        run_id,
                        step,
                        state.transient_failures,
                        retry_after_ms,
                    );
                    state.waiting_until_ms = Some(at_ms + delay_ms);
                    context.effects.push(Effect::Wait {
                        step,
                        until_ms: at_ms + delay_ms,
                    });
                    StepOutcome::Pending
                }
            }
            Judged::Failure(ModelFailure::ContextLength { message })
                if !state.repair_turns.is_empty() =>
            {
                // The conversation outgrew the window: the step's own prompt may still fit.
                // Asked again at once without the turns; it does not count as an attempt.
                record.outcome = AttemptOutcome::ContextLength {
                    message: format!(
                        "{message}; asked again at once without the {} repair turn(s)",
                        state.repair_turns.len()
                    ),
                };
                state.repair_turns.clear();
                StepOutcome::Pending
            }
            Judged::Failure(ModelFailure::ContextLength { message }) => {
                let shown = format!("{message}; {CONTEXT_TOO_SMALL_HINT}");
                record.outcome = AttemptOutcome::ContextLength {
                    message: shown.clone(),
                };
                // Feedback would only lengthen a request that is already too long: no turn.
                refuse(
                    state,
                    None,
                    policy.max_attempts,
                    "requests did not fit the model's context window",
                    &shown,
                )
            }
            Judged::Failure(ModelFailure::Fatal { message }) => {
                record.outcome = AttemptOutcome::Fatal {
                    message: message.clone(),
                };
                state.exhausted = Some(message);
                StepOutcome::Exhausted
            }
        };
        let gave_up = matches!(outcome, StepOutcome::Exhausted)
            && !matches!(record.outcome, AttemptOutcome::Fatal { .. });
        let outcome = if gave_up && policy.fallback_builtin && !state.fallback {
            // --fallback builtin: the built-in coach answers the step instead (the overview
            // too, so a run asked to fall back never ends with nothing).
            state.exhausted = None;
            state.fallback = true;
            state.repair_turns.clear();
            StepOutcome::Pending
        } else {
            outcome
        };
        state.attempts.push(record);
        if matches!(outcome, StepOutcome::Pending)
            && self.steps[&step].waiting_until_ms.is_none()
            && self.steps[&step].exhausted.is_none()
        {
            // A refused answer: ask again at once in the same conversation (a budget may stop
            // it; the run then fails once nothing else is in flight).
            let _issued = self.request(step, at_ms, context);
        }
        outcome
    }

    /// Whether the model has called a tool in any step of the run so far: a call it answered
    /// (accepted, or refused by validation) or one kept in a repair turn. Steps the built-in
    /// coach answered do not count.
    fn any_tool_call(&self) -> bool {
        self.steps.values().any(|state| {
            (state.is_accepted() && !state.fallback)
                || state
                    .attempts
                    .iter()
                    .any(|attempt| matches!(attempt.outcome, AttemptOutcome::Rejected { .. }))
                || state
                    .repair_turns
                    .iter()
                    .any(|turn| matches!(turn.reply, PriorReply::Call(_)))
        })
    }

    /// Parses and validates a tool call against the run. Pure.
    fn judge_call(&self, step: StepId, call: &ToolCall) -> Judged {
        let expected = tool_name(step);
        if call.name != expected {
            return Judged::Failure(ModelFailure::Malformed {
                message: format!(
                    "the model called tool {:?}, but only {expected} is offered",
                    call.name
                ),
                reply: PriorReply::Call(call.clone()),
            });
        }
        let profile = &self.spec.profile;
        let rules = &self.spec.rules;
        let (accepted, violations) = match step {
            StepId::Overview => match tools::parse_overview(&call.arguments) {
                Ok(overview) => {
                    let violations = validate::check_overview(
                        &overview,
                        profile,
                        self.spec.total_weeks,
                        self.spec.event_day(),
                        rules,
                    );
                    (
                        Accepted::Overview(std::sync::Arc::new(overview)),
                        violations,
                    )
                }
                Err(violations) => {
                    return Judged::Refused {
                        call: call.clone(),
                        violations,
                    }
                }
            },
            StepId::Week(week) => {
                let overview = self
                    .overview()
                    .expect("weeks are requested after the overview");
                let entry = overview
                    .week(week)
                    .expect("the accepted overview has every week");
                match tools::parse_week(&call.arguments) {
                    Ok(details) => {
                        let violations = validate::check_week(
                            &details,
                            week,
                            entry,
                            profile,
                            self.spec.event_day(),
                            rules,
                        );
                        (Accepted::Week(details), violations)
                    }
                    Err(violations) => {
                        return Judged::Refused {
                            call: call.clone(),
                            violations,
                        }
                    }
                }
            }
        };
        if validate::has_errors(&violations) {
            Judged::Refused {
                call: call.clone(),
                violations,
            }
        } else {
            Judged::Accepted(accepted, violations)
        }
    }

    /// Done: drop the checkpoints and conversations; attempt statistics stay.
    fn compact(&mut self, context: &mut Ctx) {
        let steps: Vec<StepId> = self.steps.keys().copied().collect();
        for step in steps {
            let state = self.step_mut(step, context);
            state.accepted = None;
            state.repair_turns.clear();
            state.compacted = true;
        }
    }
}

/// A refused call as the conversation keeps it: arguments beyond `tools::MAX_ARGUMENTS_BYTES`
/// are cut there. Such arguments were refused for their size, unread; the store and every later
/// request of the step need not carry them whole (cut, they are replayed as `{}`).
fn kept_call(mut call: ToolCall) -> ToolCall {
    call.arguments = kept_text(call.arguments);
    call
}

fn kept_text(mut text: String) -> String {
    if text.len() > tools::MAX_ARGUMENTS_BYTES {
        let mut end = tools::MAX_ARGUMENTS_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Counts a failed attempt (`what` says of how many, and of what) and carries its repair turn,
/// if any, into the conversation; the step gives up once the attempt budget is spent.
fn refuse(
    state: &mut crate::workflow::StepState,
    turn: Option<RepairTurn>,
    max_attempts: u32,
    what: &str,
    last: &str,
) -> StepOutcome {
    state.refused += 1;
    state.repair_turns.extend(turn);
    // The conversation carried by each attempt stays bounded: the latest turns only.
    if state.repair_turns.len() > MAX_REPAIR_TURNS {
        let excess = state.repair_turns.len() - MAX_REPAIR_TURNS;
        state.repair_turns.drain(..excess);
    }
    if state.refused >= max_attempts {
        state.exhausted = Some(format!("{} {what}; last: {last}", state.refused));
        StepOutcome::Exhausted
    } else {
        StepOutcome::Pending
    }
}

enum Judged {
    Accepted(Accepted, Vec<Violation>),
    Refused {
        call: ToolCall,
        violations: Vec<Violation>,
    },
    Failure(ModelFailure),
}

fn steps_phase(run: &Run) -> Option<StepId> {
    if run.overview().is_some() {
        Some(StepId::Week(1))
    } else {
        Some(StepId::Overview)
    }
}

pub(crate) fn tool_name(step: StepId) -> &'static str {
    match step {
        StepId::Overview => tools::CREATE_PLAN_OVERVIEW,
        StepId::Week(_) => tools::ADD_WEEK_DETAILS,
    }
}

/// What an answer without a call adds when no answer of the run has called a tool: a server
/// whose chat template has no tool support drops `tools` without an error, and the model,
/// never shown the tool, answers prose.
pub const TOOLS_NOT_PASSED_HINT: &str = "no answer of this run has called a tool yet, so the server may not be passing tools to the model (llama.cpp: start llama-server with --jinja and a chat template with tool support; vLLM: start it with --enable-auto-tool-choice --tool-call-parser <the parser for the model>)";

/// What a request that does not fit the context window even without repair turns adds: only a
/// larger window helps.
pub const CONTEXT_TOO_SMALL_HINT: &str = "the request has no repair turns to drop, so the server needs a larger context window (llama-server -c N, vLLM --max-model-len N, LM Studio's context length, Ollama's num_ctx)";

/// Repair turns a request carries at most (the newest).
pub const MAX_REPAIR_TURNS: usize = 2;
/// Characters of a refused answer without a call that its repair turn replays: enough for the
/// model to see what it did, too few for a long essay to fill a small server's context.
pub const MAX_REPLAYED_TEXT_CHARS: usize = 500;

/// A refused answer as its repair turn replays it: a call whole (its arguments are what the
/// feedback is about), text cut to `MAX_REPLAYED_TEXT_CHARS`.
fn replayable(reply: PriorReply) -> PriorReply {
    match reply {
        PriorReply::Text(text) if text.chars().count() > MAX_REPLAYED_TEXT_CHARS => {
            let kept: String = text.chars().take(MAX_REPLAYED_TEXT_CHARS).collect();
            let left = text.chars().count() - MAX_REPLAYED_TEXT_CHARS;
            PriorReply::Text(format!("{kept}… [{left} more characters not repeated]"))
        }
        other => other,
    }
}
/// Violations listed in one repair message at most; the rest are counted.
pub const MAX_LISTED_VIOLATIONS: usize = 40;

/// The tool-result error for a refused call: every violation (up to a bound), with its numbers.
pub fn repair_feedback(step: StepId, violations: &[Violation]) -> String {
    let errors = violations
        .iter()
        .filter(|v| v.severity == Severity::Error)
        .count();
    let mut text = format!(
        "{} was rejected: {errors} error(s) must be fixed. Call {} again with the complete corrected arguments for {step}.\n",
        tool_name(step),
        tool_name(step)
    );
    for violation in violations.iter().take(MAX_LISTED_VIOLATIONS) {
        text.push_str("- ");
        text.push_str(&violation.to_string());
        text.push('\n');
    }
    if violations.len() > MAX_LISTED_VIOLATIONS {
        text.push_str(&format!(
            "- ... and {} more of the same kinds\n",
            violations.len() - MAX_LISTED_VIOLATIONS
        ));
    }
    text
}

/// `training_plan_<YYYYmmdd_HHMMSS>_<short run id>.json`, in UTC so it never depends on the
/// machine's time zone.
pub fn plan_file_name(at_ms: u64, short_id: &str) -> String {
    let at = chrono::DateTime::from_timestamp_millis(i64::try_from(at_ms).unwrap_or(i64::MAX))
        .unwrap_or_default();
    format!(
        "training_plan_{}_{short_id}.json",
        at.format("%Y%m%d_%H%M%S")
    )
}

/// The folder of a run's exports, beside its plan file and named after it
/// (`training_plan_…_<id>_export`): fixed with the plan file's name by the Finalizing
/// transition, so a resumed 3c writes the same files again.
pub fn export_dir_name(plan_file_name: &str) -> String {
    let stem = plan_file_name
        .strip_suffix(".json")
        .unwrap_or(plan_file_name);
    format!("{stem}_export")
}

/// The state of a new run.
pub(crate) fn initial_state() -> State {
    State::created()
}
