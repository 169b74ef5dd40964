//! The coach's periodization: the phase of every week, its loading runs and recovery weeks,
//! and each load week's place in its block.

use super::*;

/// Loading weeks per block: 3:1 by default, 2:1 for masters.
pub(super) fn loading_weeks(profile: &AthleteProfile) -> usize {
    match profile.age {
        Some(age) if age >= MASTERS_AGE => 2,
        _ => 3,
    }
}

/// Plans with more loading weeks than this are split into macrocycles, each a base, build and
/// peak of its own ending in a recovery week with an FTP test.
pub(super) const MACROCYCLE_MAX_WEEKS: usize = 20;
/// The most Peak weeks in a row: sharpening longer than this stops adding form.
pub(super) const MAX_PEAK_WEEKS: usize = 2;
/// The length macrocycles of a long plan aim at.
pub(super) const MACROCYCLE_WEEKS: usize = 16;

/// The phase of every week, week 1 first, for a plan that ends as `ending` says.
pub(super) fn phase_layout(total_weeks: u32, loading_weeks: usize, ending: Ending) -> Vec<Phase> {
    // u32 always fits usize on the 32- and 64-bit targets this crate builds for.
    let total = total_weeks as usize;
    match total {
        0 => return Vec::new(),
        // A single week is a sample of normal training, or the week of the event itself.
        1 => {
            return vec![match ending {
                Ending::Taper(_) => Phase::Taper,
                _ => Phase::Foundation,
            }]
        }
        _ => {}
    }
    let tail = match ending {
        Ending::Taper(weeks) => weeks,
        Ending::TrainThrough => 0,
        Ending::Test => 1,
    }
    .min(total - 1);
    let body = total - tail;
    let cycles = if body > MACROCYCLE_MAX_WEEKS {
        body.div_ceil(MACROCYCLE_WEEKS)
    } else {
        1
    };
    let mut phases = Vec::with_capacity(total);
    for cycle in 0..cycles {
        let length = body / cycles + usize::from(cycle < body % cycles);
        let last = cycle + 1 == cycles;
        // Every macrocycle but the last ends with its own recovery and test week.
        let loading = if last { length } else { length - 1 };
        // The plan's last run leads into the taper or test week, which unloads in place of a
        // recovery week: it may run one week longer, which saves a recovery week.
        let runs = if last && loading >= 2 {
            let mut runs = loading_runs(loading - 1, loading_weeks);
            if let Some(run) = runs.last_mut() {
                *run += 1;
            }
            runs
        } else {
            loading_runs(loading, loading_weeks)
        };
        for (index, &run) in runs.iter().enumerate() {
            if index > 0 {
                phases.push(Phase::Recovery);
            }
            phases.extend(run_phases(index, runs.len(), run));
        }
        if !last {
            phases.push(Phase::Recovery);
        }
    }
    match ending {
        Ending::Taper(_) => phases.extend(std::iter::repeat_n(Phase::Taper, tail)),
        Ending::Test => phases.extend(std::iter::repeat_n(Phase::Recovery, tail)),
        Ending::TrainThrough => {}
    }
    phases
}

/// A recovery week that closes a macrocycle (it follows a peak week) or the plan holds an FTP
/// test: the athlete is fresh, and the next cycle's zones start from the new figure.
pub(super) fn is_test_week(timeline: &[(i64, Phase)], week_number: i64) -> bool {
    let phase_of = |week: i64| {
        timeline
            .iter()
            .find(|(number, _)| *number == week)
            .map(|(_, phase)| *phase)
    };
    let is_last = timeline.iter().all(|(week, _)| *week <= week_number);
    phase_of(week_number) == Some(Phase::Recovery)
        && timeline.len() > 1
        && (is_last || phase_of(week_number - 1) == Some(Phase::Peak))
}

/// Splits `body` weeks into loading runs separated by one recovery week each: no run longer
/// than `loading_weeks`, as few recovery weeks as that allows, longer runs first. The last run
/// leads straight into the taper, which unloads in its place.
pub(super) fn loading_runs(body: usize, loading_weeks: usize) -> Vec<usize> {
    // With runs of at least 2 weeks every run gets a week (2r + 1 ≤ body, see the tests).
    let longest = loading_weeks.max(2);
    // r recoveries make r + 1 runs holding body - r weeks: (r + 1) × longest ≥ body - r.
    let recoveries = body.saturating_sub(longest).div_ceil(longest + 1);
    let loads = body - recoveries;
    let runs = recoveries + 1;
    (0..runs)
        .map(|index| loads / runs + usize::from(index < loads % runs))
        .collect()
}

/// Phases of the loading run `index` of `runs`: Foundation first, Build in the middle, the run
/// before the taper peaks.
pub(super) fn run_phases(index: usize, runs: usize, length: usize) -> Vec<Phase> {
    // `loading_runs` never makes an empty run, so every index below is within `length`.
    let mut phases = vec![Phase::Foundation; length];
    match runs {
        1 => match length {
            1 => phases[0] = Phase::Build,
            2 => phases[1] = Phase::Build,
            _ => {
                phases[length - 2] = Phase::Build;
                phases[length - 1] = Phase::Peak;
            }
        },
        2 if index == 1 => {
            phases.fill(Phase::Build);
            if length >= 2 {
                phases[length - 1] = Phase::Peak;
            }
        }
        2 => {}
        _ => {
            let foundation_runs = (runs - 1).div_ceil(2);
            if index + 1 == runs {
                // The last run peaks for at most its last two weeks; before them it builds.
                phases.fill(Phase::Build);
                for phase in phases.iter_mut().rev().take(MAX_PEAK_WEEKS) {
                    *phase = Phase::Peak;
                }
            } else if index >= foundation_runs {
                phases.fill(Phase::Build);
            }
        }
    }
    phases
}

/// Where a load week sits: its block (runs are counted across recovery weeks) and position.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LoadSlot {
    pub(super) position: usize,
    pub(super) block_length: usize,
}

/// The planned volume of every Foundation and Build week, as a fraction of the week's ceiling
/// (other weeks get 0): each macrocycle climbs from its start to the full ceiling in its last
/// load week, each block starting one step above the previous block's start, so load grows
/// across blocks and not only within them. Later macrocycles start higher: the athlete is
/// fitter.
pub(super) fn load_levels(phases: &[Phase], start_fraction: f64) -> Vec<f64> {
    let mut levels = vec![0.0; phases.len()];
    let timeline = timeline_of(phases);
    let mut cycle_start = 0;
    let mut cycle = 0;
    for end in 0..=phases.len() {
        let closes = end == phases.len() || is_test_week(&timeline, count_i64(end + 1));
        if !closes {
            continue;
        }
        // Steps of the cycle's load weeks: block index plus position in the block.
        let mut steps = Vec::new();
        let mut block = 0;
        let mut position = 0;
        for (index, phase) in phases.iter().enumerate().take(end).skip(cycle_start) {
            match phase {
                Phase::Foundation | Phase::Build => {
                    steps.push((index, block + position));
                    position += 1;
                }
                Phase::Recovery => {
                    if position > 0 {
                        block += 1;
                    }
                    position = 0;
                }
                Phase::Peak | Phase::Taper => {}
            }
        }
        let start = if cycle == 0 {
            start_fraction
        } else {
            start_fraction + (1.0 - start_fraction) * CYCLE_START_GAIN
        };
        let top = steps.iter().map(|(_, step)| *step).max().unwrap_or(0);
        for (index, step) in steps {
            levels[index] = if top == 0 {
                start
            } else {
                start + (1.0 - start) * small_f64(count_i64(step)) / small_f64(count_i64(top))
            };
        }
        cycle += 1;
        cycle_start = end + 1;
    }
    levels
}

/// Where week 1 starts, as a fraction of the weekly budget: the athlete's recent training when
/// the profile gives it (hours, or the load a training log shows), else a start that suits the
/// athlete's experience.
pub(super) fn start_fraction(profile: &AthleteProfile) -> f64 {
    let budget_h = profile.weekly_hours.max(MIN_WEEKLY_HOURS);
    let recent_h = profile.recent_weekly_hours.or_else(|| {
        profile
            .current_ctl
            .map(|ctl| ctl * 7.0 / MIXED_RIDING_TSS_PER_H)
    });
    match recent_h {
        Some(hours) => (hours / budget_h).clamp(START_FRACTION_FLOOR, 1.0),
        None => match profile.experience {
            Some(Experience::New) => 0.5,
            Some(Experience::Experienced) => 0.7,
            Some(Experience::Intermediate) | None => 0.6,
        },
    }
}

/// The block and position of every load week; a recovery week records the block it closes.
pub(super) fn load_slots(phases: &[Phase]) -> Vec<LoadSlot> {
    fn close(members: &mut Vec<usize>, slots: &mut [LoadSlot]) -> usize {
        let length = members.len();
        for &member in members.iter() {
            slots[member].block_length = length;
        }
        members.clear();
        length
    }
    let mut slots = vec![LoadSlot::default(); phases.len()];
    let mut members: Vec<usize> = Vec::new();
    for (index, phase) in phases.iter().enumerate() {
        match phase {
            Phase::Foundation | Phase::Build | Phase::Peak => {
                slots[index] = LoadSlot {
                    position: members.len(),
                    block_length: 0,
                };
                members.push(index);
            }
            Phase::Recovery => {
                let block_length = close(&mut members, &mut slots);
                slots[index] = LoadSlot {
                    position: 0,
                    block_length,
                };
            }
            Phase::Taper => {
                close(&mut members, &mut slots);
            }
        }
    }
    close(&mut members, &mut slots);
    slots
}

pub(super) fn timeline_of(phases: &[Phase]) -> Vec<(i64, Phase)> {
    phases
        .iter()
        .enumerate()
        .map(|(index, phase)| (count_i64(index + 1), *phase))
        .collect()
}

/// What a week's workouts depend on besides its own entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct WeekContext {
    pub(super) phase: Phase,
    /// How many earlier weeks of the same macrocycle share this phase, plus the macrocycle's
    /// index: drives the progression of interval sets, so later cycles start harder.
    pub(super) phase_index: usize,
    pub(super) phase_weeks: usize,
    pub(super) is_final_week: bool,
    /// The macrocycle the week belongs to, from 0: rotates the sessions for variety.
    pub(super) cycle: usize,
    pub(super) is_test_week: bool,
    /// Load weeks before this one, and in the whole plan: how far the long ride has grown.
    pub(super) load_index: usize,
    pub(super) load_weeks: usize,
    pub(super) goal: Goal,
    /// The event day, when this week ends on it.
    pub(super) event: Option<EventDay>,
}

impl WeekContext {
    pub(super) fn new(
        timeline: &[(i64, Phase)],
        week_number: i64,
        phase: Phase,
        goal: Goal,
        event: Option<EventDay>,
    ) -> WeekContext {
        // The test weeks, found once: each week's cycle counts those before it.
        let test_weeks: Vec<i64> = timeline
            .iter()
            .map(|(number, _)| *number)
            .filter(|number| is_test_week(timeline, *number))
            .collect();
        let cycle_of = |week: i64| test_weeks.iter().filter(|number| **number < week).count();
        let cycle = cycle_of(week_number);
        let same_phase = || {
            timeline
                .iter()
                .filter(move |(week, other)| *other == phase && cycle_of(*week) == cycle)
        };
        let is_load = |phase: &Phase| matches!(phase, Phase::Foundation | Phase::Build);
        WeekContext {
            phase,
            phase_index: same_phase().filter(|(week, _)| *week < week_number).count() + cycle,
            phase_weeks: same_phase().count().max(1),
            is_final_week: timeline.iter().all(|(week, _)| *week <= week_number),
            cycle,
            is_test_week: test_weeks.contains(&week_number),
            load_index: timeline
                .iter()
                .filter(|(week, phase)| *week < week_number && is_load(phase))
                .count(),
            load_weeks: timeline.iter().filter(|(_, phase)| is_load(phase)).count(),
            goal,
            event: event.filter(|day| i64::from(day.week) == week_number),
        }
    }

    /// The week the event ends: only the days before it train.
    pub(super) fn is_race_week(&self) -> bool {
        self.event.is_some()
    }

    /// The position of the week in its phase as the text shows it ("week 2 of 3").
    pub(super) fn phase_position(&self) -> usize {
        self.phase_index - self.cycle + 1
    }
}
