//! Named crash points for the crash harness: the engine aborts the process (no flush, no
//! destructors) when it reaches the configured point. Off unless configured.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashAt {
    /// A transition for the target is committed but not flushed.
    AfterCommit,
    /// The transition is flushed; its effects have not started.
    AfterFlush,
    /// The target's model reply is in hand; its transition is not committed.
    AfterEffect,
    /// 3c wrote the plan file (and its exports); `Done` is not committed.
    AfterWrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashTarget {
    /// The creation of a submission's runs (and batch), before any run is driven.
    Create,
    Overview,
    Week(u32),
    Finalize,
    /// 3c's export writes: `after-write:export` is after the first export file and before the
    /// others (the plan file is written, `Done` is not committed).
    Export,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashPoint {
    pub at: CrashAt,
    pub target: CrashTarget,
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.at {
            CrashAt::AfterCommit => "after-commit",
            CrashAt::AfterFlush => "after-flush",
            CrashAt::AfterEffect => "after-effect",
            CrashAt::AfterWrite => "after-write",
        };
        match self.target {
            CrashTarget::Create => write!(f, "{at}:create"),
            CrashTarget::Overview => write!(f, "{at}:overview"),
            CrashTarget::Week(week) => write!(f, "{at}:week-{week}"),
            CrashTarget::Finalize => write!(f, "{at}:finalize"),
            CrashTarget::Export => write!(f, "{at}:export"),
        }
    }
}

impl FromStr for CrashPoint {
    type Err = String;

    /// `after-commit|after-flush|after-effect|after-write` `:`
    /// `create|overview|week-K|finalize|export`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!("crash point {text:?} is not <after-commit|after-flush|after-effect|after-write>:<create|overview|week-K|finalize|export>")
        };
        let (at, target) = text.split_once(':').ok_or_else(bad)?;
        let at = match at {
            "after-commit" => CrashAt::AfterCommit,
            "after-flush" => CrashAt::AfterFlush,
            "after-effect" => CrashAt::AfterEffect,
            "after-write" => CrashAt::AfterWrite,
            _ => return Err(bad()),
        };
        let target = match target {
            "create" => CrashTarget::Create,
            "overview" => CrashTarget::Overview,
            "finalize" => CrashTarget::Finalize,
            "export" => CrashTarget::Export,
            week => CrashTarget::Week(
                week.strip_prefix("week-")
                    .and_then(|k| k.parse().ok())
                    .ok_or_else(bad)?,
            ),
        };
        Ok(CrashPoint { at, target })
    }
}
