//! The pure cycling domain: athlete profile, power zones, TSS, plan types and the validation
//! rules. Nothing here does IO, reads the clock or knows about models, stores or the CLI.

pub mod event;
pub mod load;
pub mod plan;
pub mod profile;
pub mod tss;
pub mod validate;
pub mod zones;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A day of the week, stored and printed canonically ("Tuesday"), parsed case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        }
    }

    /// Monday = 0 … Sunday = 6.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }

    /// Parses a full English weekday name, ignoring case and surrounding whitespace.
    pub fn parse(text: &str) -> Option<Weekday> {
        let wanted = text.trim();
        Weekday::ALL
            .into_iter()
            .find(|day| day.name().eq_ignore_ascii_case(wanted))
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Weekday {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Weekday {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Weekday::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown weekday {text:?}, expected one of Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday"
            ))
        })
    }
}

/// A training phase of the periodized plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Foundation,
    Build,
    Recovery,
    Peak,
    Taper,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Foundation,
        Phase::Build,
        Phase::Recovery,
        Phase::Peak,
        Phase::Taper,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Foundation => "Foundation",
            Phase::Build => "Build",
            Phase::Recovery => "Recovery",
            Phase::Peak => "Peak",
            Phase::Taper => "Taper",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        let wanted = text.trim();
        Phase::ALL
            .into_iter()
            .find(|phase| phase.name().eq_ignore_ascii_case(wanted))
    }

    /// Recovery and Taper weeks get tighter volume tolerances (SPEC §6).
    pub fn is_unloading(self) -> bool {
        matches!(self, Phase::Recovery | Phase::Taper)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Phase {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Phase::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown phase {text:?}, expected one of Foundation, Build, Recovery, Peak, Taper"
            ))
        })
    }
}

/// The kind of one workout segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentKind {
    Warmup,
    Steady,
    Tempo,
    Interval,
    Work,
    Recovery,
    Cooldown,
}

impl SegmentKind {
    pub const ALL: [SegmentKind; 7] = [
        SegmentKind::Warmup,
        SegmentKind::Steady,
        SegmentKind::Tempo,
        SegmentKind::Interval,
        SegmentKind::Work,
        SegmentKind::Recovery,
        SegmentKind::Cooldown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SegmentKind::Warmup => "warmup",
            SegmentKind::Steady => "steady",
            SegmentKind::Tempo => "tempo",
            SegmentKind::Interval => "interval",
            SegmentKind::Work => "work",
            SegmentKind::Recovery => "recovery",
            SegmentKind::Cooldown => "cooldown",
        }
    }

    pub fn parse(text: &str) -> Option<SegmentKind> {
        let wanted = text.trim();
        SegmentKind::ALL
            .into_iter()
            .find(|kind| kind.name().eq_ignore_ascii_case(wanted))
    }
}

impl fmt::Display for SegmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for SegmentKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for SegmentKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SegmentKind::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown segment type {text:?}, expected one of warmup, steady, tempo, interval, work, recovery, cooldown"
            ))
        })
    }
}
