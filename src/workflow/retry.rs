//! Backoff arithmetic for transient failures: exponential, capped, with jitter that is
//! deterministic per run, step and failure count, so a replayed transition decides the same wait.

use crate::llm::StepId;
use crate::workflow::{RetryPolicy, RunId};

/// The longest `retry-after` we honour; a provider asking for more is treated as this.
pub const RETRY_AFTER_MAX_MS: u64 = 10 * 60 * 1_000;

/// Delay before retry number `failures` (1-based) of a step.
pub fn backoff_ms(
    policy: &RetryPolicy,
    run_id: RunId,
    step: StepId,
    failures: u32,
    retry_after_ms: Option<u64>,
) -> u64 {
    if let Some(retry_after_ms) = retry_after_ms {
        return retry_after_ms.min(RETRY_AFTER_MAX_MS);
    }
    let exponent = failures.saturating_sub(1).min(20);
    let ceiling = policy
        .base_delay_ms
        .saturating_mul(1 << exponent)
        .min(policy.max_delay_ms);
    // "Equal jitter": half fixed, half spread, so retries of many runs do not synchronise.
    let half = ceiling / 2;
    let step_code = match step {
        StepId::Overview => 0,
        StepId::Week(week) => u64::from(week),
    };
    let seed = (run_id.0 as u64)
        ^ ((run_id.0 >> 64) as u64)
        ^ step_code.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(failures);
    half + if half == 0 {
        0
    } else {
        splitmix64(seed) % (half + 1)
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_is_capped_and_honours_retry_after() {
        let policy = RetryPolicy::default();
        let run = RunId(42);
        let delays: Vec<u64> = (1..=8)
            .map(|n| backoff_ms(&policy, run, StepId::Week(3), n, None))
            .collect();
        for (n, delay) in delays.iter().enumerate() {
            let ceiling = (1_000u64 << n).min(60_000);
            assert!(
                *delay >= ceiling / 2 && *delay <= ceiling,
                "retry {}: {delay} ms outside [{}, {ceiling}]",
                n + 1,
                ceiling / 2
            );
        }
        assert_eq!(
            backoff_ms(&policy, run, StepId::Week(3), 1, Some(7_000)),
            7_000
        );
        assert_eq!(
            backoff_ms(&policy, run, StepId::Week(3), 1, Some(u64::MAX)),
            RETRY_AFTER_MAX_MS
        );
        assert_eq!(
            backoff_ms(&policy, run, StepId::Week(3), 2, None),
            backoff_ms(&policy, run, StepId::Week(3), 2, None)
        );
    }
}
