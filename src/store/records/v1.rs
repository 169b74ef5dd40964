//! Format version 1, frozen: the bincode records of every release up to commit 0e76373, kept
//! only to read old stores and upgrade them to version 2 in memory.
//!
//! bincode writes by position: struct fields in declaration order, enum variants as their
//! index. So the declarations below must never be reordered or edited; weekdays, phases,
//! segment kinds and dates were written as strings (their serde form) and are read as such.
//! `tests/fixtures/store_v1/` holds a store written by that release, which every build reads.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::store::records::v2::{self, Id, Invalid};

/// A run record: the spec, the machine state, and the counters after it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub spec: RunSpec,
    pub state: RawState,
    pub tail: RunTail,
}

/// The machine state as version 1 wrote it. statig generated the state enum from a hash map,
/// so its variant order, and with it the index bincode wrote, differed from build to build:
/// the index alone does not say which state it was. What the record holds does: a state with a
/// string is `finalizing` (the string is the plan file's name, which the run also records) or
/// `failed` (the string is the reason); a state without one is `done` (the run reached done),
/// `detailing_weeks` (the overview is accepted) or `drafting_overview`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawState {
    pub index: u32,
    pub payload: Option<String>,
}

/// Everything after the state, in the order version 1 wrote it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunTail {
    pub week_concurrency: u32,
    pub plan_warnings: Vec<Violation>,
    pub finalizing_at_ms: Option<u64>,
    pub output_file: Option<String>,
    pub finished_at_ms: Option<u64>,
    pub done_count: u32,
    pub budget: Budget,
    pub budget_stop: Option<String>,
    pub seq: u64,
    pub updated_at_ms: u64,
}

/// Why a version 1 run record does not decode.
#[derive(Debug, thiserror::Error)]
pub enum RunDecodeError {
    #[error("the spec does not decode")]
    Spec(#[source] bincode::error::DecodeError),
    #[error("the state does not decode")]
    State(#[source] bincode::error::DecodeError),
    #[error("the counters after the state decode neither with nor without a state string")]
    Tail(#[source] bincode::error::DecodeError),
    #[error("the record has {extra} trailing bytes")]
    Trailing { extra: usize },
}

fn decode_part<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
}

/// Decodes a version 1 run record body (after the format version).
pub fn decode_run(body: &[u8]) -> Result<RunRecord, RunDecodeError> {
    let (spec, read) = decode_part::<RunSpec>(body).map_err(RunDecodeError::Spec)?;
    let rest = &body[read..];
    let (index, read) = decode_part::<u32>(rest).map_err(RunDecodeError::State)?;
    let rest = &rest[read..];
    // A tail that decodes and uses every byte; with the string first, or without it.
    let whole = |bytes: &[u8]| -> Result<RunTail, RunDecodeError> {
        let (tail, read) = decode_part::<RunTail>(bytes).map_err(RunDecodeError::Tail)?;
        match bytes.len() - read {
            0 => Ok(tail),
            extra => Err(RunDecodeError::Trailing { extra }),
        }
    };
    let with_string = decode_part::<String>(rest)
        .ok()
        .and_then(|(payload, read)| whole(&rest[read..]).ok().map(|tail| (payload, tail)));
    let (payload, tail) = match (with_string, whole(rest)) {
        (Some((payload, tail)), Err(_)) => (Some(payload), tail),
        (None, Ok(tail)) => (None, tail),
        // Both read to the end: the string reading is the one whose string the record
        // confirms (the plan file's name), or, failing that, the fieldless one.
        (Some((payload, tail)), Ok(bare)) => {
            if tail.output_file.as_deref() == Some(payload.as_str()) {
                (Some(payload), tail)
            } else {
                (None, bare)
            }
        }
        (None, Err(err)) => return Err(err),
    };
    Ok(RunRecord {
        spec,
        state: RawState { index, payload },
        tail,
    })
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StepRecord {
    pub step: StepState,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunSpec {
    pub run_id: u128,
    pub profile: AthleteProfile,
    pub total_weeks: u32,
    pub start_date: String,
    pub provider: String,
    pub model: String,
    pub base_url: String,
    pub prompt_hash: String,
    pub rules: Rules,
    pub retry: RetryPolicy,
    pub output_dir: String,
    pub keep_checkpoints: bool,
    pub created_at_ms: u64,
    pub budget: Budget,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AthleteProfile {
    pub name: String,
    pub age: Option<u32>,
    pub weight_kg: Option<f64>,
    pub ftp_w: f64,
    pub max_hr: Option<u32>,
    pub weekly_hours: f64,
    pub available_days: Vec<String>,
    pub daily_caps_min: BTreeMap<String, u32>,
    pub goals: String,
    pub plan_weeks: Option<u32>,
    pub event_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rules {
    pub max_training_days: u32,
    pub tss_check: TssCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum TssCheck {
    Error,
    Warn,
    Off,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub max_transient_retries: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub fallback_builtin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Budget {
    pub max_tokens: Option<u64>,
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Violation {
    pub severity: Severity,
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum StepId {
    Overview,
    Week(u32),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StepState {
    pub step: StepId,
    pub requests: u32,
    pub attempts: Vec<AttemptRecord>,
    pub in_flight: Option<InFlight>,
    pub waiting_until_ms: Option<u64>,
    pub refused: u32,
    pub transient_failures: u32,
    pub repair_turns: Vec<RepairTurn>,
    pub accepted: Option<Accepted>,
    pub accepted_at_ms: Option<u64>,
    pub warnings: Vec<Violation>,
    pub exhausted: Option<String>,
    pub compacted: bool,
    pub fallback: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InFlight {
    pub attempt: u32,
    pub requested_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum AttemptOutcome {
    Accepted {
        warnings: u32,
    },
    Rejected {
        errors: u32,
        warnings: u32,
        first_error: String,
    },
    Malformed {
        message: String,
    },
    Transient {
        message: String,
    },
    Fatal {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    pub usage: Usage,
    pub requested_at_ms: u64,
    pub finished_at_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RepairTurn {
    pub reply: PriorReply,
    pub feedback: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum PriorReply {
    Call(ToolCall),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
    pub signature: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum Accepted {
    Overview(PlanOverview),
    Week(WeekDetails),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlanOverview {
    pub total_weeks: i64,
    pub target_ftp: f64,
    pub coaching_notes: String,
    pub monitoring_guidance: String,
    pub weekly_overview: Vec<WeekOverview>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WeekOverview {
    pub week_number: i64,
    pub phase: String,
    pub phase_rationale: String,
    pub weekly_focus: String,
    pub weekly_watch_points: String,
    pub training_days: Vec<String>,
    pub target_tss: f64,
    pub hard_days: i64,
    pub easy_days: i64,
    pub rest_days: i64,
    pub total_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WeekDetails {
    pub week_number: i64,
    pub workouts: Vec<Workout>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Workout {
    pub weekday: String,
    pub name: String,
    pub description: String,
    pub detailed_description: Option<String>,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Segment {
    pub kind: String,
    pub duration_min: i64,
    pub power_low_pct: f64,
    pub power_high_pct: Option<f64>,
    pub description: String,
}

// ---------------------------------------------------------------------------------------------
// Upgrade to version 2

fn weekday(field: &'static str, text: &str) -> Result<v2::WeekdayRecord, Invalid> {
    use v2::WeekdayRecord as W;
    Ok(match text {
        "Monday" => W::Monday,
        "Tuesday" => W::Tuesday,
        "Wednesday" => W::Wednesday,
        "Thursday" => W::Thursday,
        "Friday" => W::Friday,
        "Saturday" => W::Saturday,
        "Sunday" => W::Sunday,
        _ => {
            return Err(Invalid {
                field,
                value: text.to_string(),
            })
        }
    })
}

fn phase(text: &str) -> Result<v2::PhaseRecord, Invalid> {
    use v2::PhaseRecord as P;
    Ok(match text {
        "Foundation" => P::Foundation,
        "Build" => P::Build,
        "Recovery" => P::Recovery,
        "Peak" => P::Peak,
        "Taper" => P::Taper,
        _ => {
            return Err(Invalid {
                field: "weekly_overview.phase",
                value: text.to_string(),
            })
        }
    })
}

fn segment_kind(text: &str) -> Result<v2::SegmentKindRecord, Invalid> {
    use v2::SegmentKindRecord as K;
    // v1 wrote the serde names of the segment kinds, which are lowercase.
    Ok(match text {
        "warmup" => K::Warmup,
        "steady" => K::Steady,
        "tempo" => K::Tempo,
        "interval" => K::Interval,
        "work" => K::Work,
        "recovery" => K::Recovery,
        "cooldown" => K::Cooldown,
        _ => {
            return Err(Invalid {
                field: "segments.type",
                value: text.to_string(),
            })
        }
    })
}

/// Version 1 held whole minutes as i64; a plan's durations are far below 2^53, so the f64 of
/// today's records holds them exactly (and writes them back as the same integers).
fn whole_minutes(minutes: i64) -> f64 {
    minutes as f64
}

fn violation(record: Violation) -> v2::ViolationRecord {
    let Violation {
        severity,
        path,
        message,
    } = record;
    v2::ViolationRecord {
        severity: match severity {
            Severity::Error => v2::SeverityRecord::Error,
            Severity::Warning => v2::SeverityRecord::Warning,
        },
        path,
        message,
    }
}

fn budget(record: Budget) -> v2::BudgetRecord {
    let Budget {
        max_tokens,
        max_attempts,
    } = record;
    v2::BudgetRecord {
        max_tokens,
        max_attempts,
        // Version 1 had no prices: its runs have no money budget and unpriced attempts.
        max_cost_micro_usd: None,
    }
}

fn usage(record: Usage) -> v2::UsageRecord {
    let Usage {
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
    } = record;
    v2::UsageRecord {
        input: input_tokens,
        output: output_tokens,
        cache_read: cache_read_tokens,
        cache_write: cache_write_tokens,
    }
}

/// The v2 records a v1 run record holds: its spec, and its head without the summary (which is
/// derived from the whole run by the caller). `overview_accepted` (from the run's steps) tells
/// the two fieldless states of a running run apart. A v1 output directory is kept as written:
/// it was relative to whoever ran the command, and the caller resolves it.
pub fn upgrade_run(
    record: RunRecord,
    overview_accepted: bool,
) -> Result<(v2::SpecRecord, v2::HeadRecord), Invalid> {
    let RunRecord { spec, state, tail } = record;
    let RunTail {
        week_concurrency,
        plan_warnings,
        finalizing_at_ms,
        output_file,
        finished_at_ms,
        done_count,
        budget: current_budget,
        budget_stop,
        seq,
        updated_at_ms,
    } = tail;
    let RawState { index: _, payload } = state;
    let state = match payload {
        Some(name) if output_file.as_deref() == Some(name.as_str()) && done_count == 0 => {
            v2::StateRecord::Finalizing { file_name: name }
        }
        Some(reason) => v2::StateRecord::Failed { reason },
        None if done_count > 0 => v2::StateRecord::Done,
        None if seq == 0 => v2::StateRecord::Created,
        None if overview_accepted => v2::StateRecord::DetailingWeeks,
        None => v2::StateRecord::DraftingOverview,
    };
    let RunSpec {
        run_id,
        profile,
        total_weeks,
        start_date,
        provider,
        model,
        base_url,
        prompt_hash,
        rules,
        retry,
        output_dir,
        keep_checkpoints,
        created_at_ms,
        budget: initial_budget,
    } = spec;
    let AthleteProfile {
        name,
        age,
        weight_kg,
        ftp_w,
        max_hr,
        weekly_hours,
        available_days,
        daily_caps_min,
        goals,
        plan_weeks,
        event_date,
    } = profile;
    let Rules {
        max_training_days,
        tss_check,
    } = rules;
    let RetryPolicy {
        max_attempts,
        max_transient_retries,
        base_delay_ms,
        max_delay_ms,
        fallback_builtin,
    } = retry;
    let spec = v2::SpecRecord {
        run_id: Id(run_id),
        batch: None,
        profile: v2::ProfileRecord {
            name: name.clone(),
            age,
            weight_kg,
            ftp_w,
            max_hr,
            weekly_hours,
            available_days: available_days
                .iter()
                .map(|day| weekday("profile.available_days", day))
                .collect::<Result<_, _>>()?,
            daily_caps_min: daily_caps_min
                .iter()
                .map(|(day, cap)| Ok((weekday("profile.daily_caps_min", day)?, *cap)))
                .collect::<Result<_, Invalid>>()?,
            goals,
            plan_weeks,
            event_date,
            event: None,
            recent_weekly_hours: None,
            current_ctl: None,
            experience: None,
        },
        total_weeks,
        start_date,
        provider: provider.clone(),
        model: model.clone(),
        base_url,
        prompt_hash,
        rules: v2::RulesRecord {
            max_training_days,
            tss_check: match tss_check {
                TssCheck::Error => v2::TssCheckRecord::Error,
                TssCheck::Warn => v2::TssCheckRecord::Warn,
                TssCheck::Off => v2::TssCheckRecord::Off,
            },
            max_ctl_ramp: None,
            rule_severities: BTreeMap::new(),
            // The version 1 release allowed no step above 200 % FTP.
            sprint_max_s: 0,
        },
        retry: v2::RetryRecord {
            max_attempts,
            max_transient_retries,
            base_delay_ms,
            max_delay_ms,
            fallback_builtin,
        },
        output_dir: output_dir.clone(),
        keep_checkpoints,
        created_at_ms,
        budget: budget(initial_budget),
        exports: Vec::new(),
    };
    let head = v2::HeadRecord {
        state,
        seq,
        updated_at_ms,
        week_concurrency,
        plan_warnings: plan_warnings.into_iter().map(violation).collect(),
        finalizing_at_ms,
        output_file,
        finished_at_ms,
        done_count,
        budget: budget(current_budget),
        budget_stop,
        // Derived from the whole run by the caller.
        summary: v2::SummaryRecord {
            athlete: name,
            total_weeks,
            weeks_done: 0,
            attempts: 0,
            requests: 0,
            tokens: v2::UsageRecord::default(),
            cost_micro_usd: 0,
            unpriced_requests: 0,
            provider,
            model,
            created_at_ms,
            output_dir,
            batch: None,
        },
    };
    Ok((spec, head))
}

pub fn upgrade_step(record: StepRecord) -> Result<v2::StepRecord, Invalid> {
    let StepState {
        step,
        requests,
        attempts,
        in_flight,
        waiting_until_ms,
        refused,
        transient_failures,
        repair_turns,
        accepted,
        accepted_at_ms,
        warnings,
        exhausted,
        compacted,
        fallback,
    } = record.step;
    Ok(v2::StepRecord {
        step: match step {
            StepId::Overview => v2::StepRecordId::Overview,
            StepId::Week(week) => v2::StepRecordId::Week { week },
        },
        requests,
        attempts: attempts
            .into_iter()
            .map(|attempt| {
                let AttemptRecord {
                    attempt,
                    outcome,
                    usage: used,
                    requested_at_ms,
                    finished_at_ms,
                } = attempt;
                v2::AttemptRecordV2 {
                    attempt,
                    outcome: match outcome {
                        AttemptOutcome::Accepted { warnings } => {
                            v2::OutcomeRecord::Accepted { warnings }
                        }
                        AttemptOutcome::Rejected {
                            errors,
                            warnings,
                            first_error,
                        } => v2::OutcomeRecord::Rejected {
                            errors,
                            warnings,
                            first_error,
                        },
                        AttemptOutcome::Malformed { message } => {
                            v2::OutcomeRecord::Malformed { message }
                        }
                        AttemptOutcome::Transient { message } => {
                            v2::OutcomeRecord::Transient { message }
                        }
                        AttemptOutcome::Fatal { message } => v2::OutcomeRecord::Fatal { message },
                    },
                    usage: usage(used),
                    cost_micro_usd: None,
                    requested_at_ms,
                    finished_at_ms,
                }
            })
            .collect(),
        in_flight: in_flight.map(|flight| {
            let InFlight {
                attempt,
                requested_at_ms,
            } = flight;
            v2::InFlightRecord {
                attempt,
                requested_at_ms,
            }
        }),
        waiting_until_ms,
        refused,
        transient_failures,
        repair_turns: repair_turns
            .into_iter()
            .map(|turn| {
                let RepairTurn { reply, feedback } = turn;
                v2::RepairTurnRecord {
                    reply: match reply {
                        PriorReply::Call(ToolCall {
                            id,
                            name,
                            arguments,
                            signature,
                        }) => v2::PriorReplyRecord::Call {
                            id,
                            name,
                            arguments,
                            signature,
                        },
                        PriorReply::Text(text) => v2::PriorReplyRecord::Text { text },
                    },
                    feedback,
                }
            })
            .collect(),
        accepted: accepted.map(upgrade_accepted).transpose()?,
        accepted_at_ms,
        warnings: warnings.into_iter().map(violation).collect(),
        exhausted,
        compacted,
        fallback,
    })
}

fn upgrade_accepted(accepted: Accepted) -> Result<v2::AcceptedRecord, Invalid> {
    Ok(match accepted {
        Accepted::Overview(PlanOverview {
            total_weeks,
            target_ftp,
            coaching_notes,
            monitoring_guidance,
            weekly_overview,
        }) => v2::AcceptedRecord::Overview {
            overview: v2::OverviewRecord {
                total_weeks,
                target_ftp,
                coaching_notes,
                monitoring_guidance,
                weekly_overview: weekly_overview
                    .into_iter()
                    .map(|entry| {
                        let WeekOverview {
                            week_number,
                            phase: phase_name,
                            phase_rationale,
                            weekly_focus,
                            weekly_watch_points,
                            training_days,
                            target_tss,
                            hard_days,
                            easy_days,
                            rest_days,
                            total_hours,
                        } = entry;
                        Ok(v2::WeekOverviewRecord {
                            week_number,
                            phase: phase(&phase_name)?,
                            phase_rationale,
                            weekly_focus,
                            weekly_watch_points,
                            training_days: training_days
                                .iter()
                                .map(|day| weekday("weekly_overview.training_days", day))
                                .collect::<Result<_, _>>()?,
                            target_tss,
                            hard_days,
                            easy_days,
                            rest_days,
                            total_hours,
                        })
                    })
                    .collect::<Result<_, Invalid>>()?,
            },
        },
        Accepted::Week(WeekDetails {
            week_number,
            workouts,
        }) => v2::AcceptedRecord::Week {
            details: v2::WeekDetailsRecord {
                week_number,
                workouts: workouts
                    .into_iter()
                    .map(|workout| {
                        let Workout {
                            weekday: day,
                            name,
                            description,
                            detailed_description,
                            segments,
                        } = workout;
                        Ok(v2::WorkoutRecord {
                            weekday: weekday("workouts.weekday", &day)?,
                            name,
                            description,
                            detailed_description,
                            segments: segments
                                .into_iter()
                                .map(|segment| {
                                    let Segment {
                                        kind,
                                        duration_min,
                                        power_low_pct,
                                        power_high_pct,
                                        description,
                                    } = segment;
                                    Ok(v2::SegmentRecord {
                                        kind: segment_kind(&kind)?,
                                        duration_min: whole_minutes(duration_min),
                                        power_low_pct,
                                        power_high_pct,
                                        description,
                                        repeat: None,
                                    })
                                })
                                .collect::<Result<_, Invalid>>()?,
                        })
                    })
                    .collect::<Result<_, Invalid>>()?,
            },
        },
    })
}
