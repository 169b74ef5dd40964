//! The athlete's target event and training background (the profile's `event`, `experience`,
//! `recent_weekly_hours`, `current_ctl`), and where an event falls in a plan's calendar.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::domain::plan::{PlanOverview, WeekDetails};
use crate::domain::validate::{Severity, Violation};
use crate::domain::Weekday;

/// What kind of event the plan prepares for. `None` is an event with a date and no particular
/// demands (the `event_date` shorthand reads as this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    RoadRace,
    Criterium,
    GranFondo,
    TimeTrial,
    StageRace,
    Gravel,
    Mtb,
    HillClimb,
    None,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::RoadRace,
        EventKind::Criterium,
        EventKind::GranFondo,
        EventKind::TimeTrial,
        EventKind::StageRace,
        EventKind::Gravel,
        EventKind::Mtb,
        EventKind::HillClimb,
        EventKind::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::RoadRace => "road_race",
            EventKind::Criterium => "criterium",
            EventKind::GranFondo => "gran_fondo",
            EventKind::TimeTrial => "time_trial",
            EventKind::StageRace => "stage_race",
            EventKind::Gravel => "gravel",
            EventKind::Mtb => "mtb",
            EventKind::HillClimb => "hill_climb",
            EventKind::None => "none",
        }
    }

    /// Reads a kind as written by a person: case, spaces and hyphens do not matter
    /// ("Gran Fondo", "time-trial").
    pub fn parse(text: &str) -> Option<EventKind> {
        let wanted: String = text
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                other => other.to_ascii_lowercase(),
            })
            .collect();
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.name() == wanted)
    }

    /// A typical duration in hours, for an event whose profile gives none.
    pub fn typical_duration_h(self) -> f64 {
        match self {
            EventKind::Criterium => 1.0,
            EventKind::TimeTrial => 1.0,
            EventKind::HillClimb => 0.75,
            EventKind::Mtb => 2.0,
            EventKind::RoadRace => 3.5,
            EventKind::StageRace => 3.5,
            EventKind::Gravel => 4.5,
            EventKind::GranFondo => 5.0,
            EventKind::None => 3.0,
        }
    }
}

/// How much the event matters: A races get the full taper, C races are trained through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    A,
    B,
    C,
}

impl Priority {
    pub fn parse(text: &str) -> Option<Priority> {
        match text.trim().to_ascii_uppercase().as_str() {
            "A" => Some(Priority::A),
            "B" => Some(Priority::B),
            "C" => Some(Priority::C),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Priority::A => "A",
            Priority::B => "B",
            Priority::C => "C",
        }
    }
}

/// How long the athlete has trained in a structured way; it sets how fast load may rise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Experience {
    New,
    Intermediate,
    Experienced,
}

impl Experience {
    pub fn parse(text: &str) -> Option<Experience> {
        match text.trim().to_ascii_lowercase().as_str() {
            "new" => Some(Experience::New),
            "intermediate" => Some(Experience::Intermediate),
            "experienced" => Some(Experience::Experienced),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Experience::New => "new",
            Experience::Intermediate => "intermediate",
            Experience::Experienced => "experienced",
        }
    }
}

/// The event's details beyond its date (the profile's `event` object).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EventDetails {
    pub kind: EventKind,
    /// Hours the event takes the athlete, if the profile says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_h: Option<f64>,
    pub priority: Priority,
}

/// The longest `event.duration_h` accepted: a long day, not a multi-day total.
pub const EVENT_DURATION_MAX_H: f64 = 24.0;
/// The highest `current_ctl` accepted: above what professional riders carry.
pub const CURRENT_CTL_MAX: f64 = 200.0;

/// Where a plan's event falls: the week (1-based) and weekday of its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDay {
    pub date: NaiveDate,
    pub week: u32,
    pub weekday: Weekday,
}

/// Where an event date sits relative to a plan of `total_weeks` weeks from `start` (a Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPlacement {
    /// In the plan's last week: the plan ends on the event day.
    InLastWeek(EventDay),
    /// Before the last week (or before the start): the plan is too long for the event.
    Early { weeks_that_fit: i64 },
    /// After the plan ends, by this many days: the plan is a preparation block, not a taper.
    After { days_after_end: i64 },
}

/// Places `event` in the plan calendar. A plan of N weeks holds the event when its date is in
/// week N, on any weekday: the plan then ends on the event day, so a Saturday event 15 weeks
/// and 5 days after a Monday start gets a 16-week plan whose last week is Monday to Saturday.
pub fn place_event(start: NaiveDate, total_weeks: u32, event: NaiveDate) -> EventPlacement {
    let days = (event - start).num_days();
    let last_week_start = i64::from(total_weeks.saturating_sub(1)) * 7;
    let plan_days = i64::from(total_weeks) * 7;
    if days < last_week_start {
        // The event lies in week days / 7 + 1, which is then the longest plan that ends on it.
        EventPlacement::Early {
            weeks_that_fit: if days < 0 { 0 } else { days.div_euclid(7) + 1 },
        }
    } else if days >= plan_days {
        EventPlacement::After {
            days_after_end: days - plan_days + 1,
        }
    } else {
        EventPlacement::InLastWeek(EventDay {
            date: event,
            week: total_weeks,
            weekday: Weekday::ALL[usize::try_from(days - last_week_start).unwrap_or(0)],
        })
    }
}

/// The event day of a plan, when the plan ends on it.
pub fn event_day(start: NaiveDate, total_weeks: u32, event: Option<NaiveDate>) -> Option<EventDay> {
    match place_event(start, total_weeks, event?) {
        EventPlacement::InLastWeek(day) => Some(day),
        _ => None,
    }
}

/// The date of `weekday` in week `week` (1-based) of a plan starting on `start`.
pub fn date_of(start: NaiveDate, week: u32, weekday: Weekday) -> NaiveDate {
    let index = i64::try_from(weekday.index()).unwrap_or(0);
    start + Duration::days(i64::from(week.saturating_sub(1)) * 7 + index)
}

/// The event day is the plan's last day: the overview's event week trains only before it.
pub fn check_overview_event(overview: &PlanOverview, event: Option<EventDay>) -> Vec<Violation> {
    let Some(event) = event else {
        return Vec::new();
    };
    overview
        .weekly_overview
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.week_number == i64::from(event.week))
        .filter_map(|(index, entry)| {
            let late = on_or_after(entry.training_days.iter().copied(), event.weekday);
            (!late.is_empty()).then(|| Violation {
                severity: Severity::Error,
                path: format!("weekly_overview[{index}].training_days"),
                message: format!(
                    "week {}: the event is on {} {} (rule event_day), the plan's last day; training_days include {} on or after it",
                    event.week,
                    event.weekday,
                    event.date,
                    list(&late)
                ),
            })
        })
        .collect()
}

/// No workout on the event day or after it.
pub fn check_week_event(
    details: &WeekDetails,
    week_number: u32,
    event: Option<EventDay>,
) -> Vec<Violation> {
    let Some(event) = event.filter(|event| event.week == week_number) else {
        return Vec::new();
    };
    details
        .workouts
        .iter()
        .enumerate()
        .filter(|(_, workout)| workout.weekday >= event.weekday)
        .map(|(index, workout)| Violation {
            severity: Severity::Error,
            path: format!("workouts[{index}].weekday"),
            message: format!(
                "week {week_number} {}: \"{}\" is on or after the event ({} {}, rule event_day); the event day carries the event and nothing follows it",
                workout.weekday, workout.name, event.weekday, event.date
            ),
        })
        .collect()
}

/// Both event rules on a whole plan, week paths under `weekly_plan[i]` (3c and plan files).
pub fn check_plan_event(
    overview: &PlanOverview,
    weeks: &[WeekDetails],
    event: Option<EventDay>,
) -> Vec<Violation> {
    let mut violations = check_overview_event(overview, event);
    for (index, week) in weeks.iter().enumerate() {
        let week_number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        violations.extend(check_week_event(week, week_number, event).into_iter().map(
            |violation| Violation {
                path: format!("weekly_plan[{index}].{}", violation.path),
                ..violation
            },
        ));
    }
    violations
}

fn on_or_after(days: impl Iterator<Item = Weekday>, event: Weekday) -> Vec<Weekday> {
    days.filter(|day| *day >= event).collect()
}

fn list(days: &[Weekday]) -> String {
    days.iter()
        .map(|day| day.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn an_event_on_any_weekday_of_the_last_week_ends_the_plan_on_it() {
        let start = date("2027-01-04"); // a Monday
        for (offset, weekday) in Weekday::ALL.into_iter().enumerate() {
            let event = start + Duration::days(15 * 7 + offset as i64);
            assert_eq!(
                place_event(start, 16, event),
                EventPlacement::InLastWeek(EventDay {
                    date: event,
                    week: 16,
                    weekday
                })
            );
            assert_eq!(date_of(start, 16, weekday), event);
            // One week longer puts the event in week 16 of 17: too long.
            assert_eq!(
                place_event(start, 17, event),
                EventPlacement::Early { weeks_that_fit: 16 }
            );
        }
        // A Saturday event 15 weeks and 5 days out takes exactly 16 weeks.
        assert!(matches!(
            place_event(start, 16, date("2027-04-24")),
            EventPlacement::InLastWeek(EventDay {
                weekday: Weekday::Saturday,
                ..
            })
        ));
        assert_eq!(
            place_event(start, 6, date("2027-04-24")),
            EventPlacement::After { days_after_end: 69 }
        );
        assert_eq!(
            place_event(start, 1, date("2027-01-01")),
            EventPlacement::Early { weeks_that_fit: 0 }
        );
    }

    #[test]
    fn kinds_read_as_people_write_them() {
        assert_eq!(EventKind::parse("Gran Fondo"), Some(EventKind::GranFondo));
        assert_eq!(EventKind::parse("time-trial"), Some(EventKind::TimeTrial));
        assert_eq!(EventKind::parse("MTB"), Some(EventKind::Mtb));
        assert_eq!(EventKind::parse("crit"), None);
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.name()), Some(kind));
        }
    }
}
