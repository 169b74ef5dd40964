//! The coach's load guard: every week it plans keeps the limits the validator checks, measured
//! by the same load model: a recovery week well below each load week of its block, and a load
//! week within the weekly CTL ramp and the acute:chronic ratio.

use super::*;
use crate::domain::load::{self, WeekLoad};
use crate::domain::validate::{max_ctl_ramp, ACWR_WARN, RECOVERY_MIN_CUT};

/// The coach stays this far inside the validator's ACWR limit, so rounding never crosses it.
const ACWR_MARGIN: f64 = 0.02;
/// The coach stays this far inside the validator's ramp limit, in CTL points a week.
const RAMP_MARGIN: f64 = 0.2;
/// A recovery week stays this much further below its block than the validator asks.
const RECOVERY_MARGIN: f64 = 0.02;
/// Each try shrinks a week that breaks a limit by this fraction of its minutes.
const SHRINK_FRACTION: f64 = 0.05;
/// A week never shrinks below this fraction of its planned minutes.
const SHRINK_FLOOR_FRACTION: f64 = 0.5;

/// The weeks planned so far, and where the athlete's load started.
#[derive(Debug, Clone)]
pub(super) struct LoadGuard {
    weeks: Vec<WeekLoad>,
    current_ctl: Option<f64>,
    max_ramp: f64,
    /// The load weeks since the last recovery or taper week.
    block: Vec<WeekLoad>,
}

impl LoadGuard {
    pub(super) fn new(profile: &AthleteProfile, rules: &Rules) -> LoadGuard {
        LoadGuard {
            weeks: Vec::new(),
            current_ctl: profile.current_ctl,
            max_ramp: max_ctl_ramp(rules, profile.experience),
            block: Vec::new(),
        }
    }

    /// Whether `week` after the weeks so far keeps within the limits.
    pub(super) fn fits(&self, week: WeekLoad) -> bool {
        match week.phase {
            Phase::Recovery => {
                let keep = 1.0 - RECOVERY_MIN_CUT - RECOVERY_MARGIN;
                self.block.iter().all(|load_week| {
                    week.hours <= load_week.hours * keep && week.tss <= load_week.tss * keep
                })
            }
            Phase::Foundation | Phase::Build | Phase::Peak => {
                let start = self.current_ctl.unwrap_or_else(|| {
                    load::implied_start_ctl(self.weeks.first().unwrap_or(&week).tss)
                });
                let mut weeks = self.weeks.clone();
                weeks.push(week);
                let acwr = load::weekly_acwr(&weeks, start)
                    .last()
                    .copied()
                    .unwrap_or(0.0);
                let days = load::series(&weeks, start);
                let ramp = load::weekly_ramps(&days, start)
                    .last()
                    .copied()
                    .unwrap_or(0.0);
                acwr <= ACWR_WARN - ACWR_MARGIN && ramp <= self.max_ramp - RAMP_MARGIN
            }
            Phase::Taper => true,
        }
    }

    pub(super) fn push(&mut self, week: WeekLoad) {
        if week.phase.is_unloading() {
            self.block.clear();
        } else {
            self.block.push(week);
        }
        self.weeks.push(week);
    }
}

/// The minutes of the next try for a week that broke a limit, `None` at the floor.
pub(super) fn shrunk(minutes: i64, planned_min: i64) -> Option<i64> {
    // Minutes of a week: small, so the casts are exact.
    let next = (small_f64(minutes) * (1.0 - SHRINK_FRACTION)).floor() as i64;
    let floor = (small_f64(planned_min) * SHRINK_FLOOR_FRACTION).ceil() as i64;
    (next >= floor.max(count_i64(1)) && next < minutes).then_some(next)
}
