//! The training-load model of a plan: its daily TSS, CTL/ATL/TSB (TrainingPeaks' 1/τ update),
//! the weekly CTL ramp, the acute:chronic workload ratio and the time in Coggan zones.
//! The validator's plausibility rules and the built-in coach read the same numbers from here.
//!
//! A plan starts on a Monday: day `(week − 1) × 7 + weekday` of the series. Before day 0 the
//! athlete is taken to have trained steadily at the starting CTL every day, so CTL and ATL both
//! start there and the rolling windows of the ACWR reach back into that history.

use crate::domain::event::EventDay;
use crate::domain::plan::{WeekDetails, WeekOverview, Workout};
use crate::domain::{zones, Phase, SegmentKind, Weekday};

/// Time constant of CTL ("fitness"), in days.
pub const CTL_DAYS: f64 = 42.0;
/// Time constant of ATL ("fatigue"), in days.
pub const ATL_DAYS: f64 = 7.0;
/// The acute window of the ACWR, in days.
pub const ACUTE_WINDOW_DAYS: usize = 7;
/// The chronic window of the ACWR, in days (it includes the acute week: the coupled ratio).
pub const CHRONIC_WINDOW_DAYS: usize = 28;
const DAYS_PER_WEEK: usize = 7;
/// Power, in % of FTP, from which riding counts as threshold work or harder (the bottom of
/// Coggan's zone 4).
pub const THRESHOLD_PCT: f64 = 91.0;
/// The number of Coggan zones.
pub const ZONES: usize = 7;

/// One step of a workout as the load model sees it: a duration and a power range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub kind: SegmentKind,
    pub minutes: f64,
    pub low_pct: f64,
    pub high_pct: f64,
}

impl Step {
    /// The step's intensity in % of FTP: the midpoint, as TSS counts it (`tss.rs`).
    pub fn mid_pct(&self) -> f64 {
        (self.low_pct + self.high_pct) / 2.0
    }

    pub fn is_threshold_or_above(&self) -> bool {
        self.mid_pct() >= THRESHOLD_PCT
    }
}

/// The steps of a workout, in riding order. Every rule and summary that looks inside a workout
/// goes through here, so that a construct that expands into several steps (a repeat block)
/// needs teaching in this one place.
pub fn steps(workout: &Workout) -> impl Iterator<Item = Step> + '_ {
    // Repeats expand here, through the plan's one expansion (`Workout::steps`).
    workout.steps().map(|step| Step {
        kind: step.kind,
        minutes: step.minutes,
        low_pct: step.low_pct,
        high_pct: step.high_pct,
    })
}

/// Minutes of a workout at threshold power or above.
pub fn minutes_at_threshold(workout: &Workout) -> f64 {
    steps(workout)
        .filter(Step::is_threshold_or_above)
        .map(|step| step.minutes)
        .sum()
}

/// Minutes per Coggan zone (index 0 is zone 1), each step counted in the zone of its midpoint.
pub fn zone_minutes<'a>(workouts: impl IntoIterator<Item = &'a Workout>) -> [f64; ZONES] {
    let mut minutes = [0.0; ZONES];
    for step in workouts.into_iter().flat_map(steps) {
        minutes[usize::from(zones::zone_of(step.mid_pct()) - 1)] += step.minutes;
    }
    minutes
}

/// The size of one week, from its details or, before they exist, from its overview entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeekLoad {
    pub week_number: i64,
    pub phase: Phase,
    pub hours: f64,
    pub tss: f64,
    /// TSS per training day, Monday first.
    pub daily_tss: [f64; DAYS_PER_WEEK],
    /// Minutes at threshold power or above; `None` when only the overview entry is known.
    pub threshold_minutes: Option<f64>,
}

impl WeekLoad {
    /// An overview entry's targets, its TSS spread evenly over its training days.
    pub fn planned(entry: &WeekOverview) -> WeekLoad {
        let mut daily_tss = [0.0; DAYS_PER_WEEK];
        let days: Vec<Weekday> = {
            let mut days = entry.training_days.clone();
            days.sort();
            days.dedup();
            days
        };
        let tss = if entry.target_tss.is_finite() {
            entry.target_tss.max(0.0)
        } else {
            0.0
        };
        for day in &days {
            daily_tss[day.index()] = tss / days.len() as f64;
        }
        WeekLoad {
            week_number: entry.week_number,
            phase: entry.phase,
            hours: entry.total_hours,
            tss,
            daily_tss,
            threshold_minutes: None,
        }
    }

    /// A detailed week: the TSS of each workout on its day.
    pub fn detailed(entry: &WeekOverview, week: &WeekDetails) -> WeekLoad {
        let mut daily_tss = [0.0; DAYS_PER_WEEK];
        for workout in &week.workouts {
            daily_tss[workout.weekday.index()] += workout.tss();
        }
        WeekLoad {
            week_number: entry.week_number,
            phase: entry.phase,
            hours: week.hours(),
            tss: week.tss(),
            daily_tss,
            threshold_minutes: Some(week.workouts.iter().map(minutes_at_threshold).sum()),
        }
    }
}

/// The CTL a plan starts from when the athlete's own is not known: the CTL that week 1 would
/// hold steady (weekly TSS ≈ 7 × CTL), so that week 1 itself ramps by about nothing.
pub fn implied_start_ctl(first_week_tss: f64) -> f64 {
    first_week_tss / DAYS_PER_WEEK as f64
}

/// One day of the Performance Manager series, at the end of the day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day {
    pub tss: f64,
    pub ctl: f64,
    pub atl: f64,
    /// Form as TrainingPeaks shows it for this day: yesterday's CTL − yesterday's ATL.
    pub tsb: f64,
}

/// The daily load series of consecutive weeks (ordered by week number), starting from a steady
/// history at `start_ctl` TSS a day.
pub fn series(weeks: &[WeekLoad], start_ctl: f64) -> Vec<Day> {
    let (mut ctl, mut atl) = (start_ctl, start_ctl);
    weeks
        .iter()
        .flat_map(|week| week.daily_tss)
        .map(|tss| {
            let tsb = ctl - atl;
            ctl += (tss - ctl) / CTL_DAYS;
            atl += (tss - atl) / ATL_DAYS;
            Day { tss, ctl, atl, tsb }
        })
        .collect()
}

/// Each week's acute:chronic workload ratio: its mean daily TSS over the mean of the last 28
/// days (it included), read at the week's end, with the weeks before the plan at the steady
/// starting load. This is the rolling 7-day over 28-day ratio of Gabbett's 0.8–1.3 "sweet spot"
/// sampled on Sundays, where both windows hold whole weeks: a steady week pattern reads exactly
/// 1.0 however its days are spread. ATL/CTL, or the ratio on other days, swings with the days
/// of the week (one big ride a week alone reads 1.3 or more) and would flag sound plans.
pub fn weekly_acwr(weeks: &[WeekLoad], start_ctl: f64) -> Vec<f64> {
    let chronic_weeks = CHRONIC_WINDOW_DAYS / ACUTE_WINDOW_DAYS;
    let history = start_ctl.max(0.0) * DAYS_PER_WEEK as f64;
    let totals: Vec<f64> = weeks
        .iter()
        .map(|week| week.daily_tss.iter().sum())
        .collect();
    (0..totals.len())
        .map(|index| {
            let first = (index + 1).saturating_sub(chronic_weeks);
            let inside: f64 = totals[first..=index].iter().sum();
            let before = chronic_weeks.saturating_sub(index + 1) as f64 * history;
            let chronic = (inside + before) / chronic_weeks as f64;
            if chronic > 0.0 {
                totals[index] / chronic
            } else {
                0.0
            }
        })
        .collect()
}

/// CTL at the end of each week (the Sunday), week 1 first.
pub fn weekly_ctl(days: &[Day]) -> Vec<f64> {
    days.chunks(DAYS_PER_WEEK)
        .map(|week| week.last().map_or(0.0, |day| day.ctl))
        .collect()
}

/// Each week's CTL ramp: its end-of-week CTL minus the previous one (week 1: minus the start).
pub fn weekly_ramps(days: &[Day], start_ctl: f64) -> Vec<f64> {
    let mut previous = start_ctl;
    weekly_ctl(days)
        .into_iter()
        .map(|ctl| {
            let ramp = ctl - previous;
            previous = ctl;
            ramp
        })
        .collect()
}

/// What a plan does to the athlete's load, as the coach reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSummary {
    pub ctl_start: f64,
    pub ctl_peak: f64,
    pub ctl_end: f64,
    /// The largest weekly CTL ramp and its week number.
    pub max_ramp: (i64, f64),
    /// The largest weekly ACWR and its week number.
    pub max_acwr: (i64, f64),
    /// Minutes per Coggan zone over the plan (index 0 is zone 1).
    pub zone_minutes: [f64; ZONES],
}

impl LoadSummary {
    /// The share of the plan's time in each zone, 0.0 to 1.0.
    pub fn zone_shares(&self) -> [f64; ZONES] {
        let total: f64 = self.zone_minutes.iter().sum();
        self.zone_minutes
            .map(|minutes| if total > 0.0 { minutes / total } else { 0.0 })
    }
}

/// The load summary of a detailed plan: `entries` and `weeks` in week order, one each per week.
/// `start_ctl` is the athlete's CTL, or `implied_start_ctl` of week 1 when it is not known.
/// A plan that ends on its event (`event`) ends there: its CTL at the end is the event day's,
/// not that of the calendar week's Sunday after it.
pub fn summarize(
    entries: &[WeekOverview],
    weeks: &[WeekDetails],
    start_ctl: f64,
    event: Option<EventDay>,
) -> LoadSummary {
    let loads: Vec<WeekLoad> = entries
        .iter()
        .zip(weeks)
        .map(|(entry, week)| WeekLoad::detailed(entry, week))
        .collect();
    let days = series(&loads, start_ctl);
    let ramps = weekly_ramps(&days, start_ctl);
    let max_ramp = ramps
        .iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (index, &ramp)| {
            if ramp > best.1 {
                (loads[index].week_number, ramp)
            } else {
                best
            }
        });
    let max_acwr = weekly_acwr(&loads, start_ctl).into_iter().zip(&loads).fold(
        (0, 0.0),
        |best, (acwr, week)| {
            if acwr > best.1 {
                (week.week_number, acwr)
            } else {
                best
            }
        },
    );
    LoadSummary {
        ctl_start: start_ctl,
        ctl_peak: days.iter().map(|day| day.ctl).fold(start_ctl, f64::max),
        ctl_end: event
            .and_then(|event| {
                let week = usize::try_from(event.week).ok()?.checked_sub(1)?;
                days.get(week * DAYS_PER_WEEK + event.weekday.index())
            })
            .or(days.last())
            .map_or(start_ctl, |day| day.ctl),
        max_ramp: if ramps.is_empty() { (0, 0.0) } else { max_ramp },
        max_acwr,
        zone_minutes: zone_minutes(weeks.iter().flat_map(|week| &week.workouts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::Segment;

    fn constant_weeks(weeks: usize, daily: f64) -> Vec<WeekLoad> {
        (1..=weeks)
            .map(|week| WeekLoad {
                week_number: week as i64,
                phase: Phase::Build,
                hours: 0.0,
                tss: daily * 7.0,
                daily_tss: [daily; DAYS_PER_WEEK],
                threshold_minutes: None,
            })
            .collect()
    }

    #[test]
    fn forty_two_days_at_100_tss_from_zero_give_the_guides_ctl_and_atl() {
        let days = series(&constant_weeks(6, 100.0), 0.0);
        assert_eq!(days.len(), 42);
        let last = days[41];
        assert!((last.ctl - 63.7).abs() < 0.05, "CTL {}", last.ctl);
        assert!((last.atl - 99.8).abs() < 0.05, "ATL {}", last.atl);
        // Form on a day is yesterday's CTL − ATL.
        assert!((last.tsb - (days[40].ctl - days[40].atl)).abs() < 1e-12);
    }

    /// The guide's planning identity, weekly TSS ≈ 7 × (CTL + 6 r), and its four checks.
    #[test]
    fn a_steady_week_ramps_ctl_as_the_guides_identity_says() {
        for (ctl, weekly, expected) in [
            (40.0, 500.0, 4.9),
            (60.0, 600.0, 4.0),
            (80.0, 700.0, 3.1),
            (60.0, 400.0, -0.4),
        ] {
            let days = series(&constant_weeks(1, weekly / 7.0), ctl);
            let ramp = weekly_ramps(&days, ctl)[0];
            assert!(
                (ramp - expected).abs() < 0.1,
                "CTL {ctl}, {weekly} TSS: {ramp}"
            );
            // The identity is a linearisation: it holds to within 0.4 points here.
            let identity = (weekly / 7.0 - ctl) / 6.0;
            assert!((ramp - identity).abs() < 0.4, "{ramp} vs {identity}");
        }
    }

    #[test]
    fn steady_training_has_an_acwr_of_one_whatever_the_day_pattern() {
        let mut weeks = constant_weeks(8, 0.0);
        for week in &mut weeks {
            week.daily_tss = [0.0, 60.0, 0.0, 60.0, 0.0, 150.0, 130.0];
        }
        let start = implied_start_ctl(400.0);
        assert!(weekly_acwr(&weeks, start)
            .iter()
            .all(|acwr| (acwr - 1.0).abs() < 1e-9));
        // A week at twice the load reads 2 / ((1 + 1 + 1 + 2) / 4) = 1.6; the week after it,
        // back to normal, 1 / ((1 + 1 + 2 + 1) / 4) = 0.8.
        weeks[4].daily_tss = weeks[4].daily_tss.map(|tss| tss * 2.0);
        let acwr = weekly_acwr(&weeks, start);
        assert!((acwr[4] - 1.6).abs() < 1e-9, "{}", acwr[4]);
        assert!((acwr[5] - 0.8).abs() < 1e-9, "{}", acwr[5]);
    }

    #[test]
    fn zones_and_threshold_minutes_come_from_the_steps() {
        let segment = |kind, minutes: i32, low, high| Segment {
            kind,
            duration_min: f64::from(minutes),
            power_low_pct: low,
            power_high_pct: high,
            description: String::new(),
            repeat: None,
        };
        let workout = Workout {
            weekday: Weekday::Tuesday,
            name: "2x20".into(),
            description: String::new(),
            detailed_description: None,
            segments: vec![
                segment(SegmentKind::Warmup, 15, 50.0, Some(75.0)),
                segment(SegmentKind::Work, 40, 95.0, Some(100.0)),
                segment(SegmentKind::Cooldown, 10, 50.0, None),
            ],
        };
        assert_eq!(minutes_at_threshold(&workout), 40.0);
        assert_eq!(
            zone_minutes([&workout]),
            [10.0, 15.0, 0.0, 40.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn a_plans_summary_reads_its_own_series() {
        let profile = crate::domain::profile::parse_profile(
            r#"{"ftp_w":240,"weekly_hours":8,"available_days":["Tuesday","Thursday","Saturday","Sunday"]}"#,
        )
        .expect("the test profile is valid");
        let rules = crate::domain::validate::Rules::default();
        let overview = crate::coach::create_plan_overview(&profile, 12, None, &rules);
        let weeks: Vec<WeekDetails> = (1..=12)
            .map(|week| crate::coach::add_week_details(&profile, &overview, week, None, &rules))
            .collect();
        let start = implied_start_ctl(weeks[0].tss());
        let summary = summarize(&overview.weekly_overview, &weeks, start, None);
        let loads: Vec<WeekLoad> = overview
            .weekly_overview
            .iter()
            .zip(&weeks)
            .map(|(entry, week)| WeekLoad::detailed(entry, week))
            .collect();
        let days = series(&loads, start);
        let ramps = weekly_ramps(&days, start);
        assert_eq!(summary.ctl_start, start);
        assert_eq!(summary.ctl_end, days[83].ctl);
        assert!(summary.ctl_peak >= summary.ctl_start.max(summary.ctl_end));
        let (week, ramp) = summary.max_ramp;
        assert_eq!(
            ramp,
            ramps.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
        assert_eq!(ramps[usize::try_from(week - 1).unwrap()], ramp);
        let acwr = weekly_acwr(&loads, start);
        assert_eq!(summary.max_acwr.1, acwr.iter().copied().fold(0.0, f64::max));
        let minutes: f64 = weeks.iter().map(WeekDetails::minutes).sum();
        assert!((summary.zone_minutes.iter().sum::<f64>() - minutes).abs() < 1e-9);
        assert!((summary.zone_shares().iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
