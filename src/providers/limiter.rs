//! One rate limiter per provider endpoint, shared by every run of the process: requests are
//! paced to `--max-rpm` (evenly spaced, so no burst trips a per-second limit either) and to
//! `--max-tpm` (input tokens in the last minute, estimated from the request and corrected by
//! the reply's usage); a 429 pauses the whole endpoint, not only its step; the vendors'
//! rate-limit headers pause it before the limit is hit. A request takes its turn just before it
//! is sent, after it was committed as in flight, so pacing never touches durability.
//!
//! An endpoint with no configured limit starts with one request: until its first reply tells
//! what the server allows (or that it says nothing), a batch does not fire every request at a
//! limit it knows nothing about; the same after a header budget's reset time passes.
//!
//! Time is tokio's, so a test with paused time sees minutes of pacing pass at once.
//!
//! With a shared store, `--max-rpm` is the whole fleet's: after its local turn, a request takes
//! the fleet's next send slot from the store (`FleetPacer`), one sequence of evenly spaced slots
//! per endpoint kept in the database's clock, and waits for it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::providers::http::HttpReply;

/// The window `--max-rpm` and `--max-tpm` count over.
const WINDOW: Duration = Duration::from_secs(60);
/// The longest a 429 or a header pauses an endpoint, whatever the server says.
pub const MAX_PAUSE_MS: u64 = 60_000;
/// A 429 without a wait hint pauses the endpoint this long, doubled for each 429 in a row.
const FIRST_BACKOFF_MS: u64 = 1_000;

/// What one endpoint may take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute.
    pub max_rpm: Option<u32>,
    /// Input tokens per minute.
    pub max_tpm: Option<u64>,
}

impl Limits {
    pub fn is_unlimited(&self) -> bool {
        self.max_rpm.is_none() && self.max_tpm.is_none()
    }
}

/// A request's place in the token window, to correct once its usage is known. The first
/// request to an endpoint that has not answered yet holds the probe until it is dropped.
#[derive(Debug)]
pub struct Turn {
    id: u64,
    probe: Option<Arc<Shared>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(shared) = self.probe.take() {
            shared.lock().probe_in_flight = false;
            shared.changed.notify_waiters();
        }
    }
}

/// The fleet's send slots of every endpoint, kept by a shared store.
pub trait FleetPacer: Send + Sync + std::fmt::Debug {
    /// Reserves the endpoint's next slot, `interval_ms` after the one before it (or now, if that
    /// has passed); returns how long to wait for it.
    fn reserve(&self, endpoint: &str, interval_ms: u64) -> Result<u64, String>;
}

/// Where a registry's limiters find the fleet's pacer, once the store is open.
type PacerSlot = Arc<OnceLock<Arc<dyn FleetPacer>>>;

#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    shared: Arc<Shared>,
    /// The endpoint's key in the fleet's slots: a digest of its name, so no URL is stored.
    fleet_key: String,
    pacer: PacerSlot,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the requests waiting for the endpoint's first reply.
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state usable: at worst one turn is off.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct State {
    /// The earliest moment the next request may go (even spacing for `max_rpm`).
    next_send: Option<Instant>,
    /// Requests sent in the last minute: when, their input tokens, their turn id.
    sent: VecDeque<(Instant, u64, u64)>,
    paused_until: Option<Instant>,
    /// 429s in a row, for the backoff without a wait hint.
    refusals: u32,
    /// What the server's headers last said is left before their reset, less the requests
    /// sent since: at zero, requests wait for the reset instead of hitting the limit.
    budget: Option<(u64, Instant)>,
    next_id: u64,
    /// The endpoint has answered once: its headers (or their absence) are known.
    answered: bool,
    /// A request to an endpoint that has not answered yet is out.
    probe_in_flight: bool,
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter::in_fleet(limits, "", PacerSlot::default())
    }

    fn in_fleet(limits: Limits, endpoint: &str, pacer: PacerSlot) -> Limiter {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(endpoint.as_bytes());
        Limiter {
            limits,
            shared: Arc::new(Shared::default()),
            fleet_key: digest.iter().map(|byte| format!("{byte:02x}")).collect(),
            pacer,
        }
    }

    /// Waits for the fleet's next send slot of this endpoint, when the store is shared and the
    /// endpoint has a request limit. A store that cannot answer leaves the local pacing alone
    /// in charge (with a warning): the request is not failed for it.
    async fn fleet_turn(&self) {
        let (Some(pacer), Some(max_rpm)) = (self.pacer.get(), self.limits.max_rpm) else {
            return;
        };
        let interval_ms = WINDOW.as_millis() as u64 / u64::from(max_rpm.max(1));
        match pacer.reserve(&self.fleet_key, interval_ms) {
            Ok(0) => {}
            Ok(wait_ms) => {
                tokio::time::sleep(Duration::from_millis(wait_ms.min(MAX_PAUSE_MS))).await
            }
            Err(reason) => {
                tracing::warn!(%reason, "the fleet's rate slot is unavailable; pacing this worker alone")
            }
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Waits until a request of about `estimated_tokens` input tokens may be sent, and takes
    /// its place.
    pub async fn acquire(&self, estimated_tokens: u64) -> Turn {
        let turn = loop {
            // Registered before the state is read, so a reply arriving in between still wakes it.
            let answered = self.shared.changed.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let wake = {
                let mut state = self.lock();
                // A header budget that reset says nothing any more about what is free now: a
                // sliding window frees one slot at a time, so the next reply tells again.
                if state
                    .budget
                    .is_some_and(|(_, reset)| reset <= Instant::now())
                {
                    state.budget = None;
                    state.answered = false;
                }
                let probing = self.limits.is_unlimited() && !state.answered;
                if probing && state.probe_in_flight {
                    None
                } else {
                    let now = Instant::now();
                    let wake = self.earliest_send(&mut state, now, estimated_tokens);
                    if wake <= now {
                        if let Some(max_rpm) = self.limits.max_rpm.filter(|rpm| *rpm > 0) {
                            state.next_send = Some(now + WINDOW / max_rpm);
                        }
                        if let Some((left, _)) = state.budget.as_mut() {
                            *left -= 1;
                        }
                        let id = state.next_id;
                        state.next_id += 1;
                        state.sent.push_back((now, estimated_tokens, id));
                        state.probe_in_flight |= probing;
                        break Turn {
                            id,
                            probe: probing.then(|| self.shared.clone()),
                        };
                    }
                    Some(wake)
                }
            };
            match wake {
                Some(wake) => tokio::time::sleep_until(wake).await,
                None => answered.await,
            }
        };
        self.fleet_turn().await;
        turn
    }

    /// The earliest moment a request of `estimated_tokens` may go: after any pause, the rpm
    /// spacing, the reset of an exhausted header budget, and room in the token window.
    fn earliest_send(&self, state: &mut State, now: Instant, estimated_tokens: u64) -> Instant {
        while state
            .sent
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) >= WINDOW)
        {
            state.sent.pop_front();
        }
        let mut wake = now;
        if let Some(until) = state.paused_until {
            wake = wake.max(until);
        }
        if let Some(next) = state.next_send {
            wake = wake.max(next);
        }
        match state.budget {
            Some((_, reset)) if reset <= now => state.budget = None,
            Some((0, reset)) => wake = wake.max(reset),
            _ => {}
        }
        if let Some(max_tpm) = self.limits.max_tpm {
            let in_window: u64 = state.sent.iter().map(|(_, tokens, _)| tokens).sum();
            // A request larger than the whole budget goes alone, once the window is empty:
            // waiting longer could not make it fit.
            if in_window > 0 && in_window.saturating_add(estimated_tokens) > max_tpm {
                let mut freed = 0;
                for (at, tokens, _) in &state.sent {
                    freed += tokens;
                    if in_window - freed + estimated_tokens <= max_tpm {
                        wake = wake.max(*at + WINDOW);
                        break;
                    }
                }
                if in_window - freed + estimated_tokens > max_tpm {
                    wake = wake.max(state.sent.back().map_or(now, |(at, _, _)| *at + WINDOW));
                }
            }
        }
        wake
    }

    /// Corrects a request's estimate with the input tokens its reply reports.
    pub fn settle(&self, turn: Turn, input_tokens: u64) {
        let mut state = self.lock();
        if let Some(entry) = state.sent.iter_mut().find(|(_, _, id)| *id == turn.id) {
            entry.1 = input_tokens;
        }
    }

    /// The endpoint answered: requests waiting for its first reply may go, paced by what the
    /// reply said.
    fn learned_from_a_reply(&self) {
        let first = !std::mem::replace(&mut self.lock().answered, true);
        if first {
            self.shared.changed.notify_waiters();
        }
    }

    /// Pauses the endpoint for `wait_ms` (at most `MAX_PAUSE_MS`) from now.
    pub fn pause_ms(&self, wait_ms: u64) {
        let until = Instant::now() + Duration::from_millis(wait_ms.min(MAX_PAUSE_MS));
        let mut state = self.lock();
        state.paused_until = Some(
            state
                .paused_until
                .map_or(until, |current| current.max(until)),
        );
    }

    /// Learns from a reply: a 429 pauses the endpoint (for its `retry-after`, or a backoff
    /// doubling with each 429 in a row); rate-limit headers saying nothing is left pause it
    /// until their reset. `now_wall_ms` reads the headers' absolute reset times.
    pub fn observe(&self, reply: &HttpReply, now_wall_ms: u64) {
        self.learned_from_a_reply();
        if reply.status == 429 {
            let refusals = {
                let mut state = self.lock();
                state.refusals = state.refusals.saturating_add(1);
                state.refusals
            };
            let backoff = FIRST_BACKOFF_MS.saturating_mul(1 << (refusals - 1).min(6));
            self.pause_ms(reply.retry_after_ms().unwrap_or(backoff));
            return;
        }
        if (200..300).contains(&reply.status) {
            self.lock().refusals = 0;
        }
        if let Some((left, reset_ms)) = requests_left(reply, now_wall_ms) {
            let reset = Instant::now() + Duration::from_millis(reset_ms.min(MAX_PAUSE_MS));
            self.lock().budget = Some((left, reset));
        }
        if let Some(wait_ms) = exhausted_for_ms(reply, now_wall_ms) {
            self.pause_ms(wait_ms);
        }
    }
}

/// How long the reply's rate-limit headers say nothing is left, if they say so: Anthropic's
/// `anthropic-ratelimit-{requests,tokens,input-tokens}-{remaining,reset}` (reset an RFC 3339
/// time) and OpenAI's `x-ratelimit-{remaining,reset}-{requests,tokens}` (reset a duration such
/// as `1s`, `6m0s` or `20ms`).
pub fn exhausted_for_ms(reply: &HttpReply, now_wall_ms: u64) -> Option<u64> {
    let remaining = |name: &str| {
        reply
            .header(name)
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    let mut wait: Option<u64> = None;
    let mut longer = |ms: u64| wait = Some(wait.map_or(ms, |current| current.max(ms)));
    for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        if remaining(&format!("anthropic-ratelimit-{kind}-remaining")) == Some(0) {
            if let Some(reset) = reply
                .header(&format!("anthropic-ratelimit-{kind}-reset"))
                .and_then(|value| chrono::DateTime::parse_from_rfc3339(value.trim()).ok())
            {
                let reset_ms = u64::try_from(reset.timestamp_millis()).unwrap_or(0);
                longer(reset_ms.saturating_sub(now_wall_ms));
            }
        }
    }
    for kind in ["requests", "tokens"] {
        if remaining(&format!("x-ratelimit-remaining-{kind}")) == Some(0) {
            if let Some(ms) = reply
                .header(&format!("x-ratelimit-reset-{kind}"))
                .and_then(duration_ms)
            {
                longer(ms);
            }
        }
    }
    wait.map(|ms| ms.min(MAX_PAUSE_MS))
}

/// The requests the reply's headers say are left, and in how many milliseconds the count
/// resets (Anthropic's or OpenAI's request headers).
pub fn requests_left(reply: &HttpReply, now_wall_ms: u64) -> Option<(u64, u64)> {
    let number = |name: &str| {
        reply
            .header(name)
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    if let Some(left) = number("anthropic-ratelimit-requests-remaining") {
        let reset = reply
            .header("anthropic-ratelimit-requests-reset")
            .and_then(|value| chrono::DateTime::parse_from_rfc3339(value.trim()).ok())?;
        let reset_ms = u64::try_from(reset.timestamp_millis()).unwrap_or(0);
        return Some((left, reset_ms.saturating_sub(now_wall_ms)));
    }
    let left = number("x-ratelimit-remaining-requests")?;
    let reset_ms = reply
        .header("x-ratelimit-reset-requests")
        .and_then(duration_ms)?;
    Some((left, reset_ms))
}

/// A duration as OpenAI writes it: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(character) = chars.next() {
        if character.is_ascii_digit() || character == '.' {
            number.push(character);
            continue;
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        let unit_ms = match character {
            'h' => 3_600_000.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1.0
            }
            'm' => 60_000.0,
            's' => 1_000.0,
            _ => return None,
        };
        total += value * unit_ms;
        any = true;
    }
    if !number.is_empty() || !any || !total.is_finite() {
        return None;
    }
    Some(total.round() as u64)
}

/// The process's limiters, one per endpoint (protocol, base URL, model), so every run of a
/// batch, and every run `resume` continues, shares the same pacing.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    limiters: Arc<Mutex<BTreeMap<String, Arc<Limiter>>>>,
    pacer: PacerSlot,
}

impl Registry {
    /// The endpoint's limiter; the first caller's limits are the endpoint's.
    pub fn limiter(&self, endpoint: &str, limits: Limits) -> Arc<Limiter> {
        let mut limiters = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        limiters
            .entry(endpoint.to_string())
            .or_insert_with(|| Arc::new(Limiter::in_fleet(limits, endpoint, self.pacer.clone())))
            .clone()
    }

    /// Makes every limiter of this registry (made before or after) also take the fleet's
    /// slots. The first pacer set stays.
    pub fn share_with_fleet(&self, pacer: Arc<dyn FleetPacer>) {
        let _ = self.pacer.set(pacer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, headers: &[(&str, &str)]) -> HttpReply {
        HttpReply {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: Vec::new(),
            request_bytes: 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_evenly_to_the_rpm() {
        let limiter = Limiter::new(Limits {
            max_rpm: Some(120),
            max_tpm: None,
        });
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire(1).await;
        }
        // Four gaps of 0.5 s.
        assert_eq!(start.elapsed(), Duration::from_millis(2_000));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_wait_for_the_window_and_estimates_are_corrected() {
        let limiter = Limiter::new(Limits {
            max_rpm: None,
            max_tpm: Some(1_000),
        });
        let start = Instant::now();
        let first = limiter.acquire(600).await;
        limiter.acquire(400).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        // The first reply says it cost 100 tokens, not 600: room for 500 more now.
        limiter.settle(first, 100);
        limiter.acquire(500).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        // 1,000 are in the window: the next waits for the first to leave it.
        limiter.acquire(100).await;
        assert_eq!(start.elapsed(), WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn an_endpoint_with_no_known_limit_gets_one_request_until_it_answers() {
        let limiter = Arc::new(Limiter::new(Limits::default()));
        let probe = limiter.acquire(1).await;
        let second = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire(1).await }
        });
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        assert!(!second.is_finished(), "waits for the first reply");
        // A probe that ends with no reply (a connection error) lets the next one probe.
        drop(probe);
        let probe = second.await.unwrap();
        let third = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire(1).await }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        limiter.observe(&reply(200, &[]), 0);
        third.await.unwrap();
        drop(probe);
        // Answered once: requests go at once, together.
        let (_a, _b) = tokio::join!(limiter.acquire(1), limiter.acquire(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_the_endpoint_for_its_retry_after_or_a_growing_backoff() {
        let limiter = Limiter::new(Limits::default());
        let start = Instant::now();
        limiter.observe(&reply(429, &[("retry-after", "7")]), 0);
        limiter.acquire(1).await;
        assert_eq!(start.elapsed(), Duration::from_secs(7));
        let start = Instant::now();
        limiter.observe(&reply(429, &[]), 0);
        limiter.acquire(1).await;
        // The second 429 in a row: twice the first backoff.
        assert_eq!(start.elapsed(), Duration::from_millis(2 * FIRST_BACKOFF_MS));
        limiter.observe(&reply(200, &[]), 0);
        let start = Instant::now();
        limiter.observe(&reply(429, &[("retry-after", "3600")]), 0);
        limiter.acquire(1).await;
        assert_eq!(start.elapsed(), Duration::from_millis(MAX_PAUSE_MS));
    }

    #[test]
    fn headers_that_say_nothing_is_left_give_the_wait_until_the_reset() {
        let now_ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let anthropic = reply(
            200,
            &[
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:03Z"),
                ("anthropic-ratelimit-input-tokens-remaining", "5000"),
            ],
        );
        assert_eq!(exhausted_for_ms(&anthropic, now_ms), Some(3_000));
        let openai = reply(
            200,
            &[
                ("x-ratelimit-remaining-requests", "3"),
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "1m0.5s"),
                ("x-ratelimit-reset-requests", "20ms"),
            ],
        );
        // 60.5 s, capped at the longest pause.
        assert_eq!(exhausted_for_ms(&openai, now_ms), Some(MAX_PAUSE_MS));
        assert_eq!(duration_ms("1m0.5s"), Some(60_500));
        assert_eq!(exhausted_for_ms(&reply(200, &[]), now_ms), None);
        assert_eq!(duration_ms("20ms"), Some(20));
        assert_eq!(duration_ms("6m0s"), Some(360_000));
        assert_eq!(duration_ms("soon"), None);
    }

    #[test]
    fn one_limiter_per_endpoint() {
        let registry = Registry::default();
        let limits = Limits {
            max_rpm: Some(10),
            max_tpm: None,
        };
        let a = registry.limiter("openai https://api.openai.com/v1 gpt-4.1", limits);
        let b = registry.limiter(
            "openai https://api.openai.com/v1 gpt-4.1",
            Limits::default(),
        );
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(b.limits(), limits);
        let c = registry.limiter("openai http://127.0.0.1:8000/v1 local", limits);
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
