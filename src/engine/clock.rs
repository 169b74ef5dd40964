//! The engine's clock: wall-clock milliseconds for records and events, derived from tokio's
//! monotonic clock so that a test with paused time sees waits end at once and times move
//! consistently with them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Wall time, in ms since the Unix epoch, at `base`.
    base_wall_ms: u64,
    base: Instant,
}

impl Clock {
    /// The system clock. Under a tokio runtime with paused time, it advances with that time.
    pub fn system() -> Clock {
        Clock::starting_at(wall_ms())
    }

    /// A clock that reads `wall_ms` now (tests replay times).
    pub fn starting_at(wall_ms: u64) -> Clock {
        Clock {
            base_wall_ms: wall_ms,
            base: Instant::now(),
        }
    }

    pub fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.base_wall_ms.saturating_add(elapsed)
    }

    /// The instant at which this clock will read `at_ms` (now, if that is past).
    pub fn instant_at(&self, at_ms: u64) -> Instant {
        let now_ms = self.now_ms();
        Instant::now() + Duration::from_millis(at_ms.saturating_sub(now_ms))
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn wall_ms() -> u64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}
