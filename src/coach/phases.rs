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

/// The phase of every week, week 1 first.
pub(super) fn phase_layout(total_weeks: u32, loading_weeks: usize) -> Vec<Phase> {
    // u32 always fits usize on the 32- and 64-bit targets this crate builds for.
    let total = total_weeks as usize;
    match total {
        0 => return Vec::new(),
        // A single week is a sample of normal training: nothing to taper from.
        1 => return vec![Phase::Foundation],
        _ => {}
    }
    let taper = if total >= 12 { 2 } else { 1 };
    let runs = loading_runs(total - taper, loading_weeks);
    let mut phases = Vec::with_capacity(total);
    for (index, &length) in runs.iter().enumerate() {
        if index > 0 {
            phases.push(Phase::Recovery);
        }
        phases.extend(run_phases(index, runs.len(), length));
    }
    phases.extend(std::iter::repeat_n(Phase::Taper, taper));
    phases
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
                phases.fill(Phase::Peak);
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
    pub(super) block: usize,
    pub(super) position: usize,
    pub(super) block_length: usize,
}

impl LoadSlot {
    /// Planned volume of a Foundation or Build week as a fraction of the ceiling: each block
    /// starts higher and rises 5 % a week, topping out at the full budget.
    pub(super) fn load_fraction(&self) -> f64 {
        let top_start =
            1.0 - WEEK_STEP_FRACTION * small_f64(count_i64(self.block_length.saturating_sub(1)));
        let start = (FIRST_LOAD_FRACTION + BLOCK_STEP_FRACTION * small_f64(count_i64(self.block)))
            .min(top_start);
        (start + WEEK_STEP_FRACTION * small_f64(count_i64(self.position))).min(1.0)
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
    let mut block = 0;
    let mut members: Vec<usize> = Vec::new();
    for (index, phase) in phases.iter().enumerate() {
        match phase {
            Phase::Foundation | Phase::Build | Phase::Peak => {
                slots[index] = LoadSlot {
                    block,
                    position: members.len(),
                    block_length: 0,
                };
                members.push(index);
            }
            Phase::Recovery => {
                let block_length = close(&mut members, &mut slots);
                slots[index] = LoadSlot {
                    block,
                    position: 0,
                    block_length,
                };
                block += 1;
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
    /// How many earlier weeks share this phase: drives the progression of interval sets.
    pub(super) phase_index: usize,
    pub(super) phase_weeks: usize,
    pub(super) is_final_week: bool,
}

impl WeekContext {
    pub(super) fn new(timeline: &[(i64, Phase)], week_number: i64, phase: Phase) -> WeekContext {
        let same_phase = || timeline.iter().filter(|(_, other)| *other == phase);
        WeekContext {
            phase,
            phase_index: same_phase().filter(|(week, _)| *week < week_number).count(),
            phase_weeks: same_phase().count().max(1),
            is_final_week: timeline.iter().all(|(week, _)| *week <= week_number),
        }
    }
}
