//! A rate limit in front of the mock, as a vendor or a proxy enforces one: at most N model
//! requests in any sliding window; a request over it gets a 429 with `retry-after` (whole
//! seconds, rounded up) and `retry-after-ms`, and every admitted answer says what is left in
//! both vendors' header forms, so a client can slow down before the limit.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// `--rate-limit N/WINDOW_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub max_requests: u32,
    pub window_ms: u64,
}

impl RateLimitConfig {
    /// `120/60000`: 120 requests in any 60 s.
    pub fn parse(text: &str) -> Option<RateLimitConfig> {
        let (requests, window) = text.split_once('/')?;
        let config = RateLimitConfig {
            max_requests: requests.trim().parse().ok()?,
            window_ms: window.trim().parse().ok()?,
        };
        (config.max_requests > 0 && config.window_ms > 0).then_some(config)
    }
}

/// What the limit says about a request arriving now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted { remaining: u32, reset_ms: u64 },
    Refused { retry_after_ms: u64 },
}

#[derive(Debug)]
pub struct RateLimit {
    config: RateLimitConfig,
    admitted: Mutex<VecDeque<Instant>>,
}

impl RateLimit {
    pub fn new(config: RateLimitConfig) -> RateLimit {
        RateLimit {
            config,
            admitted: Mutex::new(VecDeque::new()),
        }
    }

    pub fn admit(&self) -> Admission {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Admission {
        let window = Duration::from_millis(self.config.window_ms);
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        while admitted
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= window)
        {
            admitted.pop_front();
        }
        let until_oldest_leaves = |admitted: &VecDeque<Instant>| {
            admitted.front().map_or(self.config.window_ms, |oldest| {
                (*oldest + window)
                    .saturating_duration_since(now)
                    .as_millis() as u64
            })
        };
        if admitted.len() >= self.config.max_requests as usize {
            return Admission::Refused {
                retry_after_ms: until_oldest_leaves(&admitted).max(1),
            };
        }
        admitted.push_back(now);
        Admission::Admitted {
            remaining: self.config.max_requests - admitted.len() as u32,
            reset_ms: until_oldest_leaves(&admitted),
        }
    }

    /// The headers of an admitted answer: OpenAI's and Anthropic's forms.
    pub fn headers(&self, remaining: u32, reset_ms: u64) -> Vec<(&'static str, String)> {
        let reset_at = chrono::Utc::now()
            + chrono::Duration::milliseconds(i64::try_from(reset_ms).unwrap_or(i64::MAX / 2));
        vec![
            (
                "x-ratelimit-limit-requests",
                self.config.max_requests.to_string(),
            ),
            ("x-ratelimit-remaining-requests", remaining.to_string()),
            ("x-ratelimit-reset-requests", format!("{reset_ms}ms")),
            (
                "anthropic-ratelimit-requests-limit",
                self.config.max_requests.to_string(),
            ),
            (
                "anthropic-ratelimit-requests-remaining",
                remaining.to_string(),
            ),
            (
                "anthropic-ratelimit-requests-reset",
                reset_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliding_window_admits_n_and_says_when_the_next_fits() {
        let limit = RateLimit::new(RateLimitConfig::parse("2/1000").unwrap());
        let start = Instant::now();
        assert_eq!(
            limit.admit_at(start),
            Admission::Admitted {
                remaining: 1,
                reset_ms: 1000
            }
        );
        let later = start + Duration::from_millis(300);
        assert!(matches!(
            limit.admit_at(later),
            Admission::Admitted { remaining: 0, .. }
        ));
        assert_eq!(
            limit.admit_at(later),
            Admission::Refused {
                retry_after_ms: 700
            }
        );
        // The first request leaves the window; one more fits.
        assert!(matches!(
            limit.admit_at(start + Duration::from_millis(1000)),
            Admission::Admitted { remaining: 0, .. }
        ));
        assert_eq!(RateLimitConfig::parse("0/10"), None);
        assert_eq!(RateLimitConfig::parse("10"), None);
    }
}
