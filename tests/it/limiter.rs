//! The shared rate limiter under a batch, on paused time: a batch's requests against an endpoint
//! limited to 120 a minute, paced by `--max-rpm 120` or left to learn the limit from the
//! server's headers and 429s. Each simulated request takes its turn, meets a proxy that
//! enforces the limit (answering 429 with `retry-after`, and rate-limit headers otherwise),
//! and on a 429 waits the hint and tries again, as a step's persisted retry does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use periodize::providers::http::HttpReply;
use periodize::providers::limiter::{Limiter, Limits};
use tokio::time::Instant;

/// A model's answer time.
const LATENCY: Duration = Duration::from_secs(2);
const PER_MINUTE: usize = 120;

/// How the proxy counts: a sliding minute, or a strict even rate (no burst at all).
#[derive(Clone, Copy, PartialEq)]
enum Policy {
    SlidingMinute,
    EvenRate,
}

struct Proxy {
    policy: Policy,
    sent: Mutex<VecDeque<Instant>>,
    refused: Mutex<usize>,
    answered: Mutex<usize>,
}

impl Proxy {
    fn new(policy: Policy) -> Arc<Proxy> {
        Arc::new(Proxy {
            policy,
            sent: Mutex::new(VecDeque::new()),
            refused: Mutex::new(0),
            answered: Mutex::new(0),
        })
    }

    /// The reply the proxy gives a request arriving now.
    fn request(&self) -> HttpReply {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let mut sent = self.sent.lock().unwrap();
        while sent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= minute)
        {
            sent.pop_front();
        }
        let wait = match self.policy {
            Policy::SlidingMinute if sent.len() >= PER_MINUTE => {
                Some(*sent.front().unwrap() + minute - now)
            }
            Policy::EvenRate => sent
                .back()
                .map(|last| *last + minute / PER_MINUTE as u32)
                .filter(|next| *next > now)
                .map(|next| next - now),
            _ => None,
        };
        let header = |name: &str, value: String| (name.to_string(), value);
        match wait {
            Some(wait) => {
                *self.refused.lock().unwrap() += 1;
                HttpReply {
                    status: 429,
                    headers: vec![header("retry-after-ms", wait.as_millis().to_string())],
                    body: Vec::new(),
                    request_bytes: 0,
                }
            }
            None => {
                sent.push_back(now);
                *self.answered.lock().unwrap() += 1;
                let reset = sent.front().map_or(minute, |oldest| *oldest + minute - now);
                HttpReply {
                    status: 200,
                    headers: vec![
                        header(
                            "x-ratelimit-remaining-requests",
                            (PER_MINUTE - sent.len()).to_string(),
                        ),
                        header(
                            "x-ratelimit-reset-requests",
                            format!("{}ms", reset.as_millis()),
                        ),
                    ],
                    body: Vec::new(),
                    request_bytes: 0,
                }
            }
        }
    }
}

/// One request until it is answered: its turn, the proxy, and on a 429 the hinted wait.
async fn call(limiter: &Limiter, proxy: &Proxy) {
    loop {
        let turn = limiter.acquire(1_000).await;
        let reply = proxy.request();
        limiter.observe(&reply, 0);
        if reply.status == 200 {
            tokio::time::sleep(LATENCY).await;
            limiter.settle(turn, 1_000);
            return;
        }
        let wait_ms = reply.retry_after_ms().unwrap_or(1_000);
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    }
}

/// `runs` runs at once, each an overview then its weeks, all at once.
async fn batch(runs: usize, weeks: usize, limiter: Arc<Limiter>, proxy: Arc<Proxy>) -> Duration {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..runs {
        let (limiter, proxy) = (limiter.clone(), proxy.clone());
        tasks.spawn(async move {
            call(&limiter, &proxy).await;
            let mut weeks_set = tokio::task::JoinSet::new();
            for _ in 0..weeks {
                let (limiter, proxy) = (limiter.clone(), proxy.clone());
                weeks_set.spawn(async move { call(&limiter, &proxy).await });
            }
            while weeks_set.join_next().await.is_some() {}
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn max_rpm_keeps_a_batch_under_the_limit_at_the_limits_pace() {
    for policy in [Policy::SlidingMinute, Policy::EvenRate] {
        let proxy = Proxy::new(policy);
        let limiter = Arc::new(Limiter::new(Limits {
            max_rpm: Some(PER_MINUTE as u32),
            max_tpm: None,
        }));
        let elapsed = batch(10, 4, limiter, proxy.clone()).await;
        let requests = *proxy.answered.lock().unwrap();
        assert_eq!(requests, 50);
        let refused = *proxy.refused.lock().unwrap();
        eprintln!(
            "max-rpm 120, proxy {}: {refused} refused, {elapsed:?}",
            policy as u8
        );
        assert!(refused <= 2, "{refused} responses were 429");
        // The floor: 50 requests at 2 a second.
        let floor = Duration::from_secs(25);
        assert!(
            elapsed <= floor.mul_f64(1.15),
            "the batch took {elapsed:?}, the limit allows {floor:?}"
        );
    }
}

/// Without `--max-rpm`, the headers tell the limiter what is left, and a 429 pauses every
/// run's requests, not only its own: few requests are refused even by a batch that needs
/// more than the minute allows.
#[tokio::test(start_paused = true)]
async fn without_max_rpm_the_shared_backoff_keeps_429s_rare() {
    let proxy = Proxy::new(Policy::SlidingMinute);
    let limiter = Arc::new(Limiter::new(Limits::default()));
    batch(40, 4, limiter, proxy.clone()).await;
    let answered = *proxy.answered.lock().unwrap();
    let refused = *proxy.refused.lock().unwrap();
    eprintln!("no max-rpm: {refused} refused of {}", answered + refused);
    assert_eq!(answered, 200);
    assert!(
        refused * 10 <= answered + refused,
        "{refused} of {} requests were refused",
        answered + refused
    );
}

/// The same, end to end: the CLI's batch of 10 runs × 4 weeks against mock-llm behind a
/// sliding-window limit (scaled to 20 requests per 2 s, 600 a minute, so the test takes
/// seconds): with `--max-rpm` 5 % under the limit the batch is paced under it; without, the
/// headers and the shared pause keep 429s to a tenth of the requests. (Exactly at the limit,
/// a loaded machine that delays one request's bytes can land 21 in a window: the limiter spaces
/// the sends, the server counts the arrivals.) Only counts are
/// asserted; the wall time against the floor is measured at full scale in the closing notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_batch_behind_a_rate_limit_is_paced_by_the_shared_limiter() {
    use periodize::mock_llm::{MockConfig, MockServer, RateLimitConfig};

    use crate::support::{fixture, stderr, Sandbox};

    for max_rpm in [Some("570"), None] {
        let mock = MockServer::start(
            MockConfig {
                rate_limit: Some(RateLimitConfig {
                    max_requests: 20,
                    window_ms: 2_000,
                }),
                ..MockConfig::default()
            },
            0,
        )
        .await
        .unwrap();
        let sandbox = Sandbox::new();
        let profile = fixture("profiles/athlete.json").display().to_string();
        let url = format!("{}/v1", mock.url());
        let mut command = sandbox.command();
        command.arg("generate");
        for _ in 0..10 {
            command.args(["--profile", &profile]);
        }
        command.args([
            "--weeks",
            "4",
            "--provider",
            "openai",
            "--base-url",
            &url,
            "--retry-base-ms",
            "1",
            "--max-transient-retries",
            "20",
        ]);
        if let Some(rpm) = max_rpm {
            command.args(["--max-rpm", rpm]);
        }
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        assert!(output.status.success(), "{max_rpm:?}: {}", stderr(&output));
        let log = mock.stats().log;
        let refused = log.iter().filter(|entry| entry.status == 429).count();
        let answered = log.iter().filter(|entry| entry.status == 200).count();
        eprintln!("--max-rpm {max_rpm:?}: {refused} of {} refused", log.len());
        assert_eq!(answered, 50, "{max_rpm:?}: one answer per step");
        if max_rpm.is_some() {
            assert!(refused <= 2, "{refused} responses were 429 at --max-rpm");
        } else {
            assert!(
                refused * 10 <= log.len(),
                "{refused} of {} were 429",
                log.len()
            );
        }
        mock.shutdown().await;
    }
}
