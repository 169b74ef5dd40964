//! What the athlete trains for, as the coach reads it: the event kind (or the goals text when
//! no kind is given), how long the event takes, and how the plan ends.

use super::*;

/// The demands a plan trains for: they pick the quality sessions and the long ride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Focus {
    /// Long steady events (gran fondo, gravel, brevet, sportive): volume and a long ride.
    Endurance,
    /// Criteriums: repeated short efforts above threshold.
    Criterium,
    /// Time trials: sustained power at threshold.
    TimeTrial,
    /// Hill climbs: long efforts around threshold and VO2max.
    Climbing,
    /// Road, stage and off-road races: a mix of threshold, VO2max and anaerobic efforts.
    Racing,
    /// No event or no particular demands: a higher FTP.
    General,
}

/// Average speed used to turn a distance in the goals into the event's duration.
const EVENT_SPEED_KMH: f64 = 25.0;
const KM_PER_MILE: f64 = 1.609;
/// The long ride of an endurance plan grows to this fraction of the event's duration (the
/// literature's range is 0.7 to 1.0), within the day's cap.
pub(super) const LONG_RIDE_EVENT_FRACTION: f64 = 0.9;
/// The long ride of an endurance plan's first load week, as a share of its final length.
pub(super) const LONG_RIDE_START_SHARE: f64 = 0.6;
/// The long ride never takes more than this share of a week's minutes.
pub(super) const LONG_RIDE_WEEK_SHARE: f64 = 0.55;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Goal {
    pub(super) focus: Focus,
    /// Minutes the event takes, for endurance events (the long ride grows toward it).
    pub(super) event_min: Option<i64>,
}

impl Goal {
    pub(super) fn of(profile: &AthleteProfile) -> Goal {
        let goals = profile.goals.to_lowercase();
        let kind = profile.event_kind();
        let focus = match kind {
            EventKind::GranFondo | EventKind::Gravel => Focus::Endurance,
            EventKind::Criterium => Focus::Criterium,
            EventKind::TimeTrial => Focus::TimeTrial,
            EventKind::HillClimb => Focus::Climbing,
            EventKind::RoadRace | EventKind::StageRace | EventKind::Mtb => Focus::Racing,
            EventKind::None => focus_from_text(&goals),
        };
        let stated_h = profile.event.and_then(|details| details.duration_h);
        let event_h = stated_h.or_else(|| match focus {
            Focus::Endurance => distance_km(&goals)
                .map(|km| km / EVENT_SPEED_KMH)
                .or(Some(kind_hours(kind, focus))),
            _ => None,
        });
        Goal {
            focus,
            // Hours are validated to at most a day, so the minutes are small.
            event_min: event_h
                .filter(|_| focus == Focus::Endurance)
                .map(|hours| (hours * 60.0).round() as i64),
        }
    }
}

fn kind_hours(kind: EventKind, focus: Focus) -> f64 {
    match (kind, focus) {
        (EventKind::None, Focus::Endurance) => EventKind::GranFondo.typical_duration_h(),
        _ => kind.typical_duration_h(),
    }
}

/// The focus a goals text implies, from the words riders use for their events.
fn focus_from_text(goals: &str) -> Focus {
    let has = |words: &[&str]| words.iter().any(|word| goals.contains(word));
    let words: Vec<&str> = goals
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let crit = words
        .iter()
        .any(|word| word.starts_with("crit") && !word.starts_with("critical"));
    if crit || has(&["kermesse", "sprint"]) {
        Focus::Criterium
    } else if has(&["time trial", "time-trial", "chrono"]) || words.contains(&"tt") {
        Focus::TimeTrial
    } else if has(&[
        "hill climb",
        "hillclimb",
        "climb",
        "mountain",
        "alpe",
        "col ",
    ]) {
        Focus::Climbing
    } else if has(&[
        "fondo",
        "brevet",
        "sportive",
        "century",
        "audax",
        "randonn",
        "ultra",
        "gravel",
        "etape",
        "tour ",
        "long ride",
        "endurance event",
    ]) || distance_km(goals).is_some_and(|km| km >= 100.0)
    {
        Focus::Endurance
    } else if has(&[
        "race",
        "racing",
        "stage",
        "mtb",
        "cross-country",
        "xc",
        "cyclocross",
    ]) {
        Focus::Racing
    } else {
        Focus::General
    }
}

/// The first distance in a text ("200 km", "600km", "100 miles"), in kilometres.
fn distance_km(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index].is_ascii_digit() {
            let start = index;
            while index < bytes.len() && (bytes[index].is_ascii_digit() || bytes[index] == b'.') {
                index += 1;
            }
            let number: f64 = text[start..index].parse().ok()?;
            let rest = text[index..].trim_start();
            if rest.starts_with("km") || rest.starts_with("kilomet") {
                return Some(number);
            }
            if rest.starts_with("mi") {
                return Some(number * KM_PER_MILE);
            }
        } else {
            index += 1;
        }
    }
    None
}

/// How the plan ends: into its event, or with a recovery week that tests FTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// A taper of this many weeks, the last one ending on the event day.
    Taper(usize),
    /// The event is in the last week but trained through (a C race): no taper.
    TrainThrough,
    /// No event in the plan: a recovery week with an FTP test.
    Test,
}

pub(super) fn ending_of(
    profile: &AthleteProfile,
    total_weeks: u32,
    event: Option<EventDay>,
) -> Ending {
    let Some(_) = event else {
        return Ending::Test;
    };
    match profile
        .event
        .map_or(Priority::A, |details| details.priority)
    {
        // Two weeks, the second ending on the event: 7 to 13 days of taper, the range the
        // literature finds best, whatever the event's weekday.
        Priority::A if total_weeks >= 8 => Ending::Taper(2),
        Priority::A | Priority::B => Ending::Taper(1),
        Priority::C => Ending::TrainThrough,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_goals_text_names_the_focus_and_the_distance_the_duration() {
        for (goals, focus) in [
            ("Finish a 200 km gran fondo", Focus::Endurance),
            ("criterium sprints", Focus::Criterium),
            ("600 km brevet", Focus::Endurance),
            ("40 km TT", Focus::TimeTrial),
            ("win the local hill climb", Focus::Climbing),
            ("first road race", Focus::Racing),
            ("raise my FTP", Focus::General),
        ] {
            assert_eq!(focus_from_text(&goals.to_lowercase()), focus, "{goals}");
        }
        assert_eq!(distance_km("a 200 km fondo"), Some(200.0));
        assert_eq!(distance_km("100 miles"), Some(160.9));
        assert_eq!(distance_km("3 weeks"), None);
    }
}
