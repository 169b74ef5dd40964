//! The coach's workouts: a week's sessions from its entry, the interval sets of each quality
//! session, and the endurance riding around them, trimmed to the day's minutes.

use super::*;

/// Designs a week's workouts from its overview entry: one per training day, summing to the
/// entry's hours (within the caps of its days). The coach's own entries carry the TSS of these
/// very workouts; an entry written elsewhere may expect more or less intensity, and then the
/// endurance riding moves within zone 2 towards its `target_tss`.
pub(super) fn design_week(
    profile: &AthleteProfile,
    context: &WeekContext,
    entry: &WeekOverview,
) -> Vec<Workout> {
    let mut days = entry.training_days.clone();
    days.sort();
    days.dedup();
    if days.is_empty() {
        return Vec::new();
    }
    let wanted_min = if entry.total_hours.is_finite() && entry.total_hours > 0.0 {
        // Rounding undoes the 0.01 h rounding of `minutes_to_hours` (at most 0.3 min). The cast
        // saturates for absurd hours from elsewhere, which the caps clamp right below.
        (entry.total_hours * 60.0).round() as i64
    } else {
        0
    };
    let total_min = wanted_min
        .min(capacity_min(profile, &days))
        .max(count_i64(days.len()));
    let layout = DayLayout::new(profile, &days, total_min, long_ride(context, total_min));
    let hard_count = usize::try_from(entry.hard_days)
        .unwrap_or(0)
        .min(days.len());
    let hard = if context.is_race_week() {
        // Race week: the one quality session is the openers, a day or two before the event.
        let opener = opener_day(&days, context.event).filter(|_| hard_count > 0);
        days.iter().map(|day| Some(*day) == opener).collect()
    } else if context.is_test_week {
        // The test goes where there is the most time for it, the latest such day on a tie.
        let roomiest = (0..days.len()).max_by_key(|&index| (layout.minutes[index], index));
        days.iter()
            .enumerate()
            .map(|(index, _)| hard_count > 0 && Some(index) == roomiest)
            .collect()
    } else {
        pick_hard_days(&days, &layout, hard_count)
    };
    let design = |offset_pct: f64| {
        design_days(
            profile,
            context,
            &days,
            &layout,
            &hard,
            Bands::shifted(offset_pct),
        )
    };
    let target_tss = entry.target_tss;
    let miss = |workouts: &[Workout]| {
        let week_tss = tss::round_tenth(workouts.iter().map(Workout::tss).sum());
        (week_tss - target_tss).abs() / target_tss
    };
    let workouts = design(0.0);
    if !(target_tss.is_finite() && target_tss > 0.0) || miss(&workouts) <= STEER_TOLERANCE {
        return workouts;
    }
    // The first offset with the smallest miss wins, so the choice is deterministic.
    let mut best = (miss(&workouts), workouts);
    for offset_pct in STEER_OFFSETS_PCT.into_iter().skip(1) {
        let candidate = design(offset_pct);
        let candidate_miss = miss(&candidate);
        if candidate_miss < best.0 - 1e-12 {
            best = (candidate_miss, candidate);
        }
    }
    best.1
}

pub(super) fn design_days(
    profile: &AthleteProfile,
    context: &WeekContext,
    days: &[Weekday],
    layout: &DayLayout,
    hard: &[bool],
    bands: Bands,
) -> Vec<Workout> {
    let quality = quality_sessions(context);
    let week_has_hard = hard.iter().any(|is_hard| *is_hard);
    // A recovery week keeps a few short efforts in one ride, so the legs stay used to intensity.
    let efforts_day = (context.phase == Phase::Recovery && !context.is_test_week)
        .then(|| {
            (0..days.len()).find(|&index| {
                !hard[index]
                    && index != layout.long_index
                    && layout.minutes[index] >= EFFORTS_MIN_RIDE_MIN
            })
        })
        .flatten();
    // The week's key session (the first of its list) goes to the hard day with the most time,
    // the next to the next: a short day gets the session that fits a short day.
    let mut by_room: Vec<usize> = (0..days.len()).filter(|&index| hard[index]).collect();
    by_room.sort_by_key(|&index| (std::cmp::Reverse(layout.minutes[index]), index));
    days.iter()
        .enumerate()
        .map(|(index, &day)| {
            let minutes = layout.minutes[index];
            if hard[index] {
                let rank = by_room
                    .iter()
                    .position(|&other| other == index)
                    .unwrap_or(0);
                // Later macrocycles rotate the sessions, so no week repeats the last cycle's.
                let session = quality[(rank + context.cycle) % quality.len()];
                quality_workout(profile, day, minutes, session, context.phase_index, bands)
            } else {
                let day_before = days
                    .iter()
                    .position(|other| other.index() == (day.index() + 6) % 7);
                let after_hard = day_before.is_some_and(|before| hard[before]);
                let session = if efforts_day == Some(index) {
                    EasyRide::EnduranceWithEfforts
                } else {
                    easy_session(
                        context.phase,
                        index == layout.long_index,
                        after_hard,
                        minutes,
                    )
                };
                easy_workout(profile, day, minutes, session, bands, week_has_hard)
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quality {
    FoundationSweetSpot,
    FoundationTempo,
    LongTempo,
    Threshold,
    SustainedThreshold,
    ClimbingThreshold,
    Vo2max,
    BuildSweetSpot,
    PeakVo2max,
    OverUnders,
    RaceThreshold,
    AnaerobicIntro,
    Anaerobic,
    TaperThreshold,
    Openers,
    /// Openers above threshold for races decided by surges (criteriums).
    RaceOpeners,
    FtpTest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EasyRide {
    LongEndurance,
    Endurance,
    EasyEndurance,
    RecoverySpin,
    /// An endurance ride of a recovery week with a few short efforts in it.
    EnduranceWithEfforts,
}

/// The name the coach gives its FTP test session (the notes look for it).
pub(super) const FTP_TEST_NAME: &str = "FTP test (20 min)";
/// A session that holds the whole FTP test with its warm-up and cool-down.
pub(super) const FTP_TEST_SESSION_MIN: i64 = 50;
/// A test week needs this much riding in all, so that easy riding around the test keeps it a
/// recovery week: its 25 minutes at threshold or above stay under a fifth of the week, and its
/// TSS per hour and load below the block's.
pub(super) const FTP_TEST_WEEK_MIN: i64 = 3 * FTP_TEST_SESSION_MIN;

/// A recovery week's ride with short efforts needs at least this long.
pub(super) const EFFORTS_MIN_RIDE_MIN: i64 = 35;
/// Recovery-week rides shorter than this are recovery spins; longer ones easy endurance.
pub(super) const RECOVERY_SPIN_MAX_MIN: i64 = 30;
/// The short efforts of a recovery week: reps, minutes each, easy minutes after each.
pub(super) const RECOVERY_EFFORTS: (i64, i64, i64) = (3, 1, 2);
pub(super) const RECOVERY_EFFORT_PCT: (f64, f64) = (100.0, 110.0);

/// Quality sessions of the week in the order hard days receive them: the phase's sessions for
/// the plan's focus.
pub(super) fn quality_sessions(context: &WeekContext) -> &'static [Quality] {
    use Quality::*;
    if context.is_race_week() {
        return match context.goal.focus {
            Focus::Criterium => &[RaceOpeners],
            _ => &[Openers],
        };
    }
    if context.is_test_week {
        return &[FtpTest];
    }
    match (context.phase, context.goal.focus) {
        (Phase::Foundation, Focus::Criterium) => &[AnaerobicIntro, FoundationSweetSpot],
        (Phase::Foundation, Focus::Endurance) => &[LongTempo, FoundationSweetSpot],
        // A time trial is ridden just under threshold: its base is sweet spot on every hard
        // day, so a long base (a plan of many blocks) keeps more of it than a fondo's.
        (Phase::Foundation, Focus::TimeTrial) => &[FoundationSweetSpot, FoundationSweetSpot],
        (Phase::Foundation, _) => &[FoundationSweetSpot, FoundationTempo],
        (Phase::Build, Focus::Criterium) => &[Anaerobic, Vo2max, Anaerobic],
        (Phase::Build, Focus::Endurance) => &[LongTempo, FoundationSweetSpot, Vo2max],
        (Phase::Build, Focus::TimeTrial) => &[SustainedThreshold, Threshold, Vo2max],
        (Phase::Build, Focus::Climbing) => &[ClimbingThreshold, Vo2max, BuildSweetSpot],
        (Phase::Build, Focus::Racing) => &[Threshold, Vo2max, Anaerobic],
        (Phase::Build, Focus::General) => &[Threshold, Vo2max, BuildSweetSpot],
        (Phase::Peak, Focus::Criterium) => &[Anaerobic, Anaerobic, PeakVo2max],
        (Phase::Peak, Focus::Endurance) => &[LongTempo, OverUnders, RaceThreshold],
        (Phase::Peak, Focus::TimeTrial) => &[SustainedThreshold, OverUnders, RaceThreshold],
        (Phase::Peak, Focus::Climbing) => &[ClimbingThreshold, PeakVo2max, OverUnders],
        (Phase::Peak, Focus::Racing) => &[PeakVo2max, OverUnders, Anaerobic],
        (Phase::Peak, Focus::General) => &[PeakVo2max, OverUnders, RaceThreshold],
        (Phase::Taper, Focus::Criterium) => &[Anaerobic, RaceOpeners],
        (Phase::Taper, _) if context.is_final_week => &[Openers],
        (Phase::Taper, _) => &[TaperThreshold, Openers],
        // Only an overview written elsewhere puts a hard day in a recovery week.
        (Phase::Recovery, _) => &[FoundationTempo],
    }
}

pub(super) fn easy_session(
    phase: Phase,
    is_long: bool,
    after_hard: bool,
    minutes: i64,
) -> EasyRide {
    match phase {
        // A recovery week cuts volume, not the nature of the riding: easy endurance keeps its
        // load from collapsing (the chronic load the next block builds on); only short rides
        // are recovery spins.
        Phase::Recovery if is_long => EasyRide::Endurance,
        Phase::Recovery if minutes >= RECOVERY_SPIN_MAX_MIN => EasyRide::EasyEndurance,
        Phase::Recovery => EasyRide::RecoverySpin,
        // A taper cuts volume, not the nature of the riding.
        Phase::Taper => EasyRide::Endurance,
        _ if is_long => EasyRide::LongEndurance,
        _ if after_hard => EasyRide::EasyEndurance,
        _ => EasyRide::Endurance,
    }
}

/// One effort of an interval block, in % of FTP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Effort {
    pub(super) kind: SegmentKind,
    pub(super) minutes: i64,
    pub(super) low_pct: f64,
    pub(super) high_pct: f64,
}

/// A main set: `reps` × `block`, with `rest_min` of easy spinning between reps.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MainSet {
    pub(super) label: &'static str,
    pub(super) reps: i64,
    pub(super) block: Vec<Effort>,
    pub(super) rest_min: i64,
}

impl MainSet {
    pub(super) fn block_minutes(&self) -> i64 {
        self.block.iter().map(|effort| effort.minutes).sum()
    }

    pub(super) fn minutes(&self) -> i64 {
        self.reps * self.block_minutes() + (self.reps - 1).max(0) * self.rest_min
    }

    /// The set trimmed to `available_min`: fewer reps first, then one shorter rep of the
    /// first effort. `None` when not even 3 minutes of work fit.
    pub(super) fn fit(&self, available_min: i64) -> Option<MainSet> {
        for reps in (1..=self.reps).rev() {
            let trimmed = MainSet {
                reps,
                ..self.clone()
            };
            if trimmed.minutes() <= available_min {
                return Some(trimmed);
            }
        }
        let first = *self.block.first()?;
        (available_min >= 3).then(|| MainSet {
            reps: 1,
            block: vec![Effort {
                minutes: available_min,
                ..first
            }],
            ..self.clone()
        })
    }

    pub(super) fn title(&self) -> String {
        format!("{} {}×{} min", self.label, self.reps, self.block_minutes())
    }
}

pub(super) fn single(
    label: &'static str,
    kind: SegmentKind,
    (reps, work_min, rest_min): (i64, i64, i64),
    low_pct: f64,
    high_pct: f64,
) -> MainSet {
    MainSet {
        label,
        reps,
        block: vec![Effort {
            kind,
            minutes: work_min,
            low_pct,
            high_pct,
        }],
        rest_min,
    }
}

/// The main set of a quality session at step `progress` of its phase: sets lengthen week by
/// week (the last step repeats).
pub(super) fn main_set(session: Quality, progress: usize) -> MainSet {
    /// Past the end of its table a session alternates among its last three steps (as later
    /// macrocycles do), so long plans vary the same session instead of repeating its top step.
    fn step(table: &[(i64, i64, i64)], progress: usize) -> (i64, i64, i64) {
        let top = table.len() - 1;
        if progress <= top {
            return table[progress];
        }
        let span = table.len().min(3);
        table[top + 1 - span + (progress - top) % span]
    }
    use SegmentKind::{Interval, Tempo, Work};
    match session {
        Quality::FoundationSweetSpot => single(
            "Sweet spot",
            Work,
            step(
                &[(3, 10, 5), (3, 12, 5), (3, 15, 5), (2, 20, 5), (3, 20, 5)],
                progress,
            ),
            88.0,
            93.0,
        ),
        Quality::FoundationTempo => single(
            "Tempo",
            Tempo,
            step(
                &[(2, 15, 5), (2, 20, 5), (3, 15, 5), (2, 25, 5), (3, 20, 5)],
                progress,
            ),
            78.0,
            85.0,
        ),
        Quality::Threshold => single(
            "Threshold",
            Work,
            step(
                &[(3, 10, 5), (2, 15, 5), (3, 12, 5), (2, 20, 5), (3, 15, 5)],
                progress,
            ),
            95.0,
            100.0,
        ),
        Quality::Vo2max => single(
            "VO2max",
            Interval,
            step(
                &[(5, 3, 3), (4, 4, 4), (5, 4, 4), (6, 4, 4), (5, 5, 5)],
                progress,
            ),
            106.0,
            115.0,
        ),
        Quality::BuildSweetSpot => single(
            "Sweet spot",
            Work,
            step(&[(2, 20, 5), (3, 15, 5), (3, 20, 5), (2, 30, 5)], progress),
            88.0,
            94.0,
        ),
        Quality::PeakVo2max => single(
            "VO2max",
            Interval,
            step(&[(6, 3, 3), (5, 3, 3)], progress),
            110.0,
            120.0,
        ),
        Quality::OverUnders => {
            let under = Effort {
                kind: Work,
                minutes: 2,
                low_pct: 92.0,
                high_pct: 95.0,
            };
            let over = Effort {
                kind: Interval,
                minutes: 1,
                low_pct: 105.0,
                high_pct: 110.0,
            };
            let (sets, _, rest_min) = step(&[(3, 9, 5), (2, 9, 5)], progress);
            MainSet {
                label: "Over-unders",
                reps: sets,
                block: [under, over].repeat(3),
                rest_min,
            }
        }
        Quality::RaceThreshold => single(
            "Race-pace threshold",
            Work,
            step(&[(2, 12, 5), (2, 10, 5)], progress),
            98.0,
            103.0,
        ),
        Quality::TaperThreshold => single("Short threshold", Work, (2, 8, 4), 95.0, 100.0),
        Quality::Openers => single("Openers", Interval, (3, 1, 3), 115.0, 120.0),
        Quality::RaceOpeners => single("Race openers", Interval, (4, 1, 3), 121.0, 130.0),
        Quality::LongTempo => single(
            "Long tempo",
            Tempo,
            step(
                &[(2, 20, 5), (2, 25, 5), (2, 30, 5), (3, 25, 5), (2, 40, 5)],
                progress,
            ),
            76.0,
            85.0,
        ),
        Quality::SustainedThreshold => single(
            "Time-trial threshold",
            Work,
            step(
                &[(2, 15, 5), (2, 20, 5), (3, 15, 5), (2, 25, 5), (3, 20, 5)],
                progress,
            ),
            96.0,
            102.0,
        ),
        Quality::ClimbingThreshold => single(
            "Climbing threshold",
            Work,
            step(
                &[(4, 8, 4), (5, 8, 4), (4, 10, 5), (3, 12, 5), (4, 12, 5)],
                progress,
            ),
            95.0,
            102.0,
        ),
        Quality::AnaerobicIntro => single(
            "Anaerobic",
            Interval,
            step(&[(5, 1, 3), (6, 1, 3), (8, 1, 3)], progress),
            121.0,
            130.0,
        ),
        Quality::Anaerobic => single(
            "Anaerobic",
            Interval,
            step(
                &[(6, 1, 3), (8, 1, 3), (10, 1, 3), (8, 1, 2), (10, 1, 2)],
                progress,
            ),
            125.0,
            140.0,
        ),
        Quality::FtpTest => MainSet {
            label: "FTP test",
            reps: 1,
            block: vec![
                Effort {
                    kind: Interval,
                    minutes: 5,
                    low_pct: 105.0,
                    high_pct: 110.0,
                },
                Effort {
                    kind: SegmentKind::Recovery,
                    minutes: 10,
                    low_pct: REST_PCT.0,
                    high_pct: REST_PCT.1,
                },
                Effort {
                    kind: Work,
                    minutes: 20,
                    low_pct: 100.0,
                    high_pct: 106.0,
                },
            ],
            rest_min: 0,
        },
    }
}

/// Fits a main set into a session of `minutes`, returning warm-up, cool-down and the set. A
/// coach keeps the whole set when a shorter cool-down or a minute less rest makes it fit, and
/// only then drops reps.
pub(super) fn fit_session(template: &MainSet, minutes: i64) -> Option<(i64, i64, MainSet)> {
    let (warmup_min, cooldown_min) = bookends(minutes);
    let mut options = vec![(warmup_min, cooldown_min, template.clone())];
    if minutes >= 40 {
        options.push((10, 5, template.clone()));
        if template.rest_min > 2 {
            options.push((
                10,
                5,
                MainSet {
                    rest_min: template.rest_min - 1,
                    ..template.clone()
                },
            ));
        }
    }
    let whole = options.into_iter().find(|(warmup_min, cooldown_min, set)| {
        set.minutes() <= minutes - warmup_min - cooldown_min
    });
    whole.or_else(|| {
        let set = template.fit(minutes - warmup_min - cooldown_min)?;
        Some((warmup_min, cooldown_min, set))
    })
}

/// Warm-up and cool-down minutes for a session of `minutes`.
pub(super) fn bookends(minutes: i64) -> (i64, i64) {
    match minutes {
        90.. => (15, 10),
        60..=89 => (10, 10),
        40..=59 => (10, 5),
        20..=39 => (5, 5),
        6..=19 => ((minutes / 4).max(1), (minutes / 5).max(1)),
        _ => (0, 0),
    }
}

pub(super) const WARMUP_PCT: (f64, f64) = (50.0, 70.0);
pub(super) const EASY_WARMUP_PCT: (f64, f64) = (45.0, 60.0);
pub(super) const COOLDOWN_PCT: (f64, f64) = (40.0, 55.0);
pub(super) const REST_PCT: (f64, f64) = (45.0, 55.0);
pub(super) const ENDURANCE_PCT: (f64, f64) = (60.0, 70.0);
pub(super) const LONG_FIRST_PCT: (f64, f64) = (60.0, 68.0);
pub(super) const LONG_SECOND_PCT: (f64, f64) = (65.0, 72.0);
pub(super) const EASY_ENDURANCE_PCT: (f64, f64) = (56.0, 65.0);
pub(super) const RECOVERY_PCT: (f64, f64) = (45.0, 55.0);
/// Coggan zone 2 (endurance), the room the endurance bands may move in.
pub(super) const ZONE2_PCT: (f64, f64) = (56.0, 75.0);
/// A week whose TSS misses a target set elsewhere by more than this gets its endurance
/// riding shifted (the validator warns above 15 % and fails above 25 %).
pub(super) const STEER_TOLERANCE: f64 = 0.10;
/// Shifts tried, in % of FTP, smallest first so ties keep the coach's own intensity.
pub(super) const STEER_OFFSETS_PCT: [f64; 17] = [
    0.0, -1.0, 1.0, -2.0, 2.0, -3.0, 3.0, -4.0, 4.0, -5.0, 5.0, -6.0, 6.0, -7.0, 7.0, -8.0, 8.0,
];

/// The endurance bands of a week: the coach's own, or shifted within zone 2 to meet a TSS
/// target from an overview written elsewhere. Every text is written from these bands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bands {
    pub(super) endurance: (f64, f64),
    pub(super) long_first: (f64, f64),
    pub(super) long_second: (f64, f64),
}

impl Bands {
    pub(super) fn shifted(offset_pct: f64) -> Bands {
        let shift = |(low, high): (f64, f64)| {
            (
                (low + offset_pct).clamp(ZONE2_PCT.0, ZONE2_PCT.1),
                (high + offset_pct).clamp(ZONE2_PCT.0, ZONE2_PCT.1),
            )
        };
        Bands {
            endurance: shift(ENDURANCE_PCT),
            long_first: shift(LONG_FIRST_PCT),
            long_second: shift(LONG_SECOND_PCT),
        }
    }
}

pub(super) fn segment(
    kind: SegmentKind,
    minutes: i64,
    (low_pct, high_pct): (f64, f64),
    description: String,
) -> Segment {
    Segment {
        kind,
        duration_min: small_f64(minutes),
        power_low_pct: low_pct,
        power_high_pct: Some(high_pct),
        description,
        repeat: None,
    }
}

pub(super) fn quality_workout(
    profile: &AthleteProfile,
    day: Weekday,
    minutes: i64,
    session: Quality,
    progress: usize,
    bands: Bands,
) -> Workout {
    let fitted = if minutes >= 10 {
        fit_session(&main_set(session, progress), minutes)
    } else {
        None
    };
    let Some((warmup_min, cooldown_min, set)) = fitted else {
        // Too short for any effort worth the name: an easy spin keeps the day honest.
        return easy_workout(profile, day, minutes, EasyRide::Endurance, bands, true);
    };
    let main_min = minutes - warmup_min - cooldown_min;
    let leftover_min = main_min - set.minutes();
    let before_min = if leftover_min >= 30 {
        leftover_min / 2 - leftover_min / 2 % STEP_MIN
    } else {
        0
    };
    let after_min = leftover_min - before_min;

    let mut segments = vec![segment(
        SegmentKind::Warmup,
        warmup_min,
        WARMUP_PCT,
        format!(
            "Build from {} to {} with two or three 20 s spin-ups in the last minutes",
            watts(profile, WARMUP_PCT.0),
            watts(profile, WARMUP_PCT.1)
        ),
    )];
    if before_min > 0 {
        segments.push(segment(
            SegmentKind::Steady,
            before_min,
            bands.endurance,
            format!(
                "Endurance riding at {} before the main set",
                zone_text(profile, bands.endurance)
            ),
        ));
    }
    // A rep of several efforts is a set.
    let unit = if set.block.len() > 1 { "set" } else { "rep" };
    for rep in 1..=set.reps {
        for effort in &set.block {
            segments.push(segment(
                effort.kind,
                effort.minutes,
                (effort.low_pct, effort.high_pct),
                format!(
                    "{} {unit} {rep}/{}: {} min at {}",
                    set.label,
                    set.reps,
                    effort.minutes,
                    zone_text(profile, (effort.low_pct, effort.high_pct))
                ),
            ));
        }
        if rep < set.reps {
            segments.push(segment(
                SegmentKind::Recovery,
                set.rest_min,
                REST_PCT,
                format!(
                    "Easy spin at {} between {unit}s",
                    zone_text(profile, REST_PCT)
                ),
            ));
        }
    }
    if after_min > 0 {
        segments.push(segment(
            SegmentKind::Steady,
            after_min,
            bands.endurance,
            format!(
                "Settle back into endurance at {}",
                zone_text(profile, bands.endurance)
            ),
        ));
    }
    if cooldown_min > 0 {
        segments.push(segment(
            SegmentKind::Cooldown,
            cooldown_min,
            COOLDOWN_PCT,
            format!("Spin down at {}", zone_text(profile, COOLDOWN_PCT)),
        ));
    }

    // Every main set has at least one effort (templates and `fit` never empty a block).
    let effort = set.block[0];
    let work_zone = zone_text(profile, (effort.low_pct, effort.high_pct));
    let mut description = match session {
        Quality::OverUnders => format!(
            "{}×{} min over-unders: alternate 2 min at {} with 1 min at {}, {} min easy between sets.",
            set.reps,
            set.block_minutes(),
            zone_text(profile, (92.0, 95.0)),
            zone_text(profile, (105.0, 110.0)),
            set.rest_min
        ),
        Quality::FtpTest => format!(
            "FTP test: {} min opener at {work_zone}, {} min easy, then {} min as hard as you can hold evenly \
             (expect about {}); your new FTP is 95% of the 20-min average power.",
            set.block[0].minutes,
            set.block.get(1).map_or(0, |easy| easy.minutes),
            set.block.get(2).map_or(0, |test| test.minutes),
            zone_text(profile, (100.0, 106.0)),
        ),
        _ if set.reps == 1 => format!("{} min at {work_zone}.", effort.minutes),
        _ => format!(
            "{}×{} min at {work_zone} with {} min easy spinning between reps.",
            set.reps, effort.minutes, set.rest_min
        ),
    };
    if leftover_min > 0 {
        let _ = write!(
            description,
            " Endurance riding at {} fills the rest of the {} session.",
            zone_text(profile, bands.endurance),
            duration_text(minutes)
        );
    } else {
        let _ = write!(description, " {} in total.", duration_text(minutes));
    }
    Workout {
        weekday: day,
        name: match session {
            Quality::FtpTest => FTP_TEST_NAME.to_string(),
            _ => set.title(),
        },
        description,
        detailed_description: Some(quality_cues(profile, session, &set)),
        segments,
    }
}

pub(super) fn quality_cues(profile: &AthleteProfile, session: Quality, set: &MainSet) -> String {
    // Every main set has at least one effort (templates and `fit` never empty a block).
    let effort = set.block[0];
    let low = watts(profile, effort.low_pct);
    let high = watts(profile, effort.high_pct);
    let range = watts_range(profile, effort.low_pct, effort.high_pct);
    match session {
        Quality::FoundationSweetSpot | Quality::BuildSweetSpot => format!(
            "Sweet spot is 'comfortably hard' (RPE 6-7/10): you can speak in short phrases. Ride each rep at {range}, \
             seated, 85-95 rpm, keeping the power steady rather than surging. If you cannot hold {low} for a full rep, \
             end the set and ride the remaining time at endurance pace. Drink every 10-15 minutes."
        ),
        Quality::FoundationTempo | Quality::LongTempo => format!(
            "Tempo is steady, rhythmic pressure (RPE 5-6/10) at {range}: breathing deeper but controlled. \
             Stay seated, relax your shoulders and hold 80-95 rpm. This builds muscular endurance for long efforts \
             without the cost of threshold work, so do not let it creep up."
        ),
        Quality::Threshold
        | Quality::RaceThreshold
        | Quality::TaperThreshold
        | Quality::SustainedThreshold => format!(
            "Threshold reps at {range} (RPE 7-8/10): hard but sustainable, breathing deep and rhythmic. \
             Start each rep at the low end and settle in; never open above {high}. Cadence 85-95 rpm. If power falls \
             below {low} before the end of a rep, stop the set: a missed rep means fatigue, not weakness. \
             Take the full easy spin between reps."
        ),
        Quality::Vo2max | Quality::PeakVo2max => format!(
            "VO2max efforts at {range} (RPE 9/10): reach the target within the first 20-30 s, then hold it; \
             breathing will be maximal by the end of each rep. Cadence 95-105 rpm helps. Recover fully at \
             45-55% FTP between reps. Stop the session when a rep cannot reach {low}: quality over quantity. \
             Arrive rested and fuelled."
        ),
        Quality::OverUnders => format!(
            "Alternate 2 min just under threshold ({}) with 1 min over ({}) without a break; the 'unders' are where \
             you learn to clear lactate while still riding hard, as after a surge in a race. Shift gear before each \
             'over' and keep the cadence up. Stop if the unders drift below {}.",
            watts_range(profile, 92.0, 95.0),
            watts_range(profile, 105.0, 110.0),
            watts(profile, 92.0)
        ),
        Quality::ClimbingThreshold => format!(
            "Climbing-style threshold reps at {range} (RPE 7-8/10), ideally on a long climb or with the trainer's \
             front raised: hold 70-80 rpm for most of each rep to build climbing torque, and the last minute at 90 \
             rpm. Stay seated, relax the upper body, and stop the set if power falls below {low}."
        ),
        Quality::AnaerobicIntro | Quality::Anaerobic => format!(
            "Anaerobic efforts at {range} (RPE 9-10/10), the surges a race is decided on: start each from a rolling \
             pace, jump hard for the first 10 s, then hold the power to the end of the minute. Spin very easily \
             between them and stop when a rep falls below {low}: the quality of each effort is the point."
        ),
        Quality::FtpTest => format!(
            "Arrive rested: this week is easy so the test shows your real fitness. After the warm-up and the \
             opener, pace the 20 minutes evenly: start near {low} and build only in the last 5 minutes. Your new \
             FTP is 95% of the 20-min average; update your zones with it before the next block."
        ),
        Quality::Openers | Quality::RaceOpeners => format!(
            "Openers wake the legs up without adding fatigue: after a thorough warm-up ride each 1-min effort at \
             {range}, seated then out of the saddle for the last 15 s, and spin very easily between them. \
             You should finish feeling sharp, not tired. Keep the rest of the ride easy."
        ),
    }
}

pub(super) fn easy_workout(
    profile: &AthleteProfile,
    day: Weekday,
    minutes: i64,
    session: EasyRide,
    bands: Bands,
    week_has_hard: bool,
) -> Workout {
    let (name, main_pct, cues) = match session {
        EasyRide::EnduranceWithEfforts => (
            "Endurance with short efforts",
            bands.endurance,
            format!(
                "Steady aerobic riding at {} with {} × {} min at {} in the middle, {} min easy after each: enough to \
                 keep the legs used to intensity without adding fatigue. Keep everything else easy.",
                watts_range(profile, bands.endurance.0, bands.endurance.1),
                RECOVERY_EFFORTS.0,
                RECOVERY_EFFORTS.1,
                watts_range(profile, RECOVERY_EFFORT_PCT.0, RECOVERY_EFFORT_PCT.1),
                RECOVERY_EFFORTS.2
            ),
        ),
        EasyRide::LongEndurance => (
            "Long endurance ride",
            bands.endurance,
            format!(
                "Conversational pace the whole way: {} for most of the ride, {} in the second half if you feel good. \
                 Avoid surging on climbs (stay under {}, the top of endurance). Eat 40-60 g of carbohydrate per hour \
                 from the first hour and drink 500-750 ml per hour. Cadence 85-95 rpm. A steady long ride builds the \
                 aerobic engine that everything else sits on.",
                watts_range(profile, bands.long_first.0, bands.long_first.1),
                watts_range(profile, bands.long_second.0, bands.long_second.1),
                watts(profile, 75.0)
            ),
        ),
        EasyRide::Endurance => (
            "Endurance ride",
            bands.endurance,
            format!(
                "Steady aerobic riding at {} where you can hold a conversation. Include 4-6 × 1 min of high \
                 cadence (100-110 rpm) at the same power to practise smooth pedalling. Drink regularly.",
                watts_range(profile, bands.endurance.0, bands.endurance.1)
            ),
        ),
        EasyRide::EasyEndurance => (
            "Easy endurance",
            EASY_ENDURANCE_PCT,
            format!(
                "Keep it easy at {}: the aim is aerobic volume and blood flow without adding fatigue. Flat roads or \
                 an easy trainer ride; no efforts even if you feel fresh.",
                watts_range(profile, EASY_ENDURANCE_PCT.0, EASY_ENDURANCE_PCT.1)
            ),
        ),
        EasyRide::RecoverySpin => (
            "Recovery spin",
            RECOVERY_PCT,
            format!(
                "Very easy spinning at {} (RPE 2/10), light gear, 85-95 rpm. If your legs feel heavy, shorten it or \
                 take the day off: recovery is the point of the day.",
                watts_range(profile, RECOVERY_PCT.0, RECOVERY_PCT.1)
            ),
        ),
    };
    let warmup_pct = if session == EasyRide::RecoverySpin {
        COOLDOWN_PCT
    } else {
        EASY_WARMUP_PCT
    };
    let (warmup_min, cooldown_min) = bookends(minutes);
    let main_min = minutes - warmup_min - cooldown_min;
    let mut segments = Vec::new();
    if warmup_min > 0 {
        segments.push(segment(
            SegmentKind::Warmup,
            warmup_min,
            warmup_pct,
            format!("Ease in at {}", zone_text(profile, warmup_pct)),
        ));
    }
    if session == EasyRide::LongEndurance && main_min >= 90 {
        let first_min = main_min / 2 - main_min / 2 % STEP_MIN;
        segments.push(segment(
            SegmentKind::Steady,
            first_min,
            bands.long_first,
            format!(
                "Settle into endurance at {}",
                zone_text(profile, bands.long_first)
            ),
        ));
        segments.push(segment(
            SegmentKind::Steady,
            main_min - first_min,
            bands.long_second,
            format!(
                "Upper endurance at {}, keep eating and drinking",
                zone_text(profile, bands.long_second)
            ),
        ));
    } else if session == EasyRide::EnduranceWithEfforts
        && main_min >= RECOVERY_EFFORTS.0 * (RECOVERY_EFFORTS.1 + RECOVERY_EFFORTS.2) + 2 * STEP_MIN
    {
        let (reps, effort_min, easy_min) = RECOVERY_EFFORTS;
        let block_min = reps * (effort_min + easy_min);
        let before_min = (main_min - block_min) / 2;
        segments.push(segment(
            SegmentKind::Steady,
            before_min,
            main_pct,
            format!("Steady riding at {}", zone_text(profile, main_pct)),
        ));
        for rep in 1..=reps {
            segments.push(segment(
                SegmentKind::Interval,
                effort_min,
                RECOVERY_EFFORT_PCT,
                format!(
                    "Short effort {rep}/{reps} at {}",
                    zone_text(profile, RECOVERY_EFFORT_PCT)
                ),
            ));
            segments.push(segment(
                SegmentKind::Recovery,
                easy_min,
                REST_PCT,
                format!("Easy spin at {}", zone_text(profile, REST_PCT)),
            ));
        }
        segments.push(segment(
            SegmentKind::Steady,
            main_min - before_min - block_min,
            main_pct,
            format!("Steady riding at {}", zone_text(profile, main_pct)),
        ));
    } else {
        segments.push(segment(
            SegmentKind::Steady,
            main_min,
            main_pct,
            format!("Steady riding at {}", zone_text(profile, main_pct)),
        ));
    }
    if cooldown_min > 0 {
        segments.push(segment(
            SegmentKind::Cooldown,
            cooldown_min,
            COOLDOWN_PCT,
            format!("Spin down at {}", zone_text(profile, COOLDOWN_PCT)),
        ));
    }
    let described_pct = if session == EasyRide::LongEndurance && main_min >= 90 {
        (bands.long_first.0, bands.long_second.1)
    } else {
        main_pct
    };
    let description = format!(
        "{} at {}{}.",
        duration_text(minutes),
        zone_text(profile, described_pct),
        match session {
            EasyRide::LongEndurance => ", the week's long ride: steady, fuelled, no surges",
            EasyRide::Endurance => ", steady aerobic riding with a few high-cadence minutes",
            EasyRide::EasyEndurance if week_has_hard =>
                ", easy aerobic riding to absorb the harder days",
            EasyRide::EasyEndurance =>
                ", easy aerobic riding that keeps the legs turning without adding fatigue",
            EasyRide::RecoverySpin => ", a very easy spin to aid recovery",
            EasyRide::EnduranceWithEfforts => ", easy aerobic riding with a few short efforts",
        }
    );
    Workout {
        weekday: day,
        name: name.to_string(),
        description,
        detailed_description: Some(cues),
        segments,
    }
}
