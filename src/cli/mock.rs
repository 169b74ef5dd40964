//! `periodize mock-llm`: serves until Ctrl-C or SIGTERM; prints its address first, so scripts
//! and tests can start it with `--port 0` and read where it listens.

use std::io::Write;

use serde_json::json;

use crate::cli::args::MockLlmArgs;
use crate::cli::Error;
use crate::mock_llm::{FaultKind, MockConfig, MockServer, Quirk, RateLimitConfig};

pub async fn run(args: MockLlmArgs, json_output: bool) -> Result<u8, Error> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(Error::Arg {
            flag: "--fault-rate",
            value: args.fault_rate.to_string(),
            reason: "expected 0.0 to 1.0".into(),
        });
    }
    let faults = named(
        "--faults",
        &args.faults,
        FaultKind::parse,
        &FaultKind::ALL,
        FaultKind::name,
    )?;
    let quirks = named(
        "--quirks",
        &args.quirks,
        Quirk::parse,
        &Quirk::ALL,
        Quirk::name,
    )?;
    let rate_limit = match &args.rate_limit {
        None => None,
        Some(text) => Some(RateLimitConfig::parse(text).ok_or_else(|| Error::Arg {
            flag: "--rate-limit",
            value: text.clone(),
            reason: "expected N/WINDOW_MS with both above 0, e.g. 120/60000".into(),
        })?),
    };
    let config = MockConfig {
        latency_ms: args.latency_ms,
        latency_jitter_ms: args.latency_jitter_ms,
        fault_rate: args.fault_rate,
        fault_seed: args.fault_seed,
        faults,
        retry_after_s: args.retry_after_s,
        timeout_hold_ms: args.timeout_hold_ms,
        fault_only_first_n: args.fault_only_first_n,
        rate_limit,
        quirks,
        context_window_tokens: args.context_window,
    };
    let server = MockServer::start(config, args.port)
        .await
        .map_err(|source| Error::Arg {
            flag: "--port",
            value: args.port.to_string(),
            reason: format!("cannot listen on 127.0.0.1: {source}"),
        })?;
    {
        let mut stdout = std::io::stdout().lock();
        if json_output {
            writeln!(
                stdout,
                "{}",
                json!({"event": "listening", "url": server.url()})
            )
        } else {
            writeln!(stdout, "mock-llm listening on {}", server.url())
        }
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)?;
    }
    crate::engine::shutdown::wait_for_signal().await;
    let stats = server.stats();
    eprintln!(
        "mock-llm: {} requests, faults {:?}",
        stats.requests_by_path.values().sum::<u64>(),
        stats.faults_by_kind
    );
    server.shutdown().await;
    Ok(0)
}

/// What `names` name (each read by `parse`), or an error naming `flag`, the name `parse` does
/// not know, and the choices (`all`, printed by `name`).
fn named<T: Copy>(
    flag: &'static str,
    names: &[String],
    parse: fn(&str) -> Option<T>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>, Error> {
    names
        .iter()
        .map(|text| {
            parse(text).ok_or_else(|| Error::Arg {
                flag,
                value: text.clone(),
                reason: format!(
                    "expected one of {}",
                    all.iter()
                        .map(|item| name(*item))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        })
        .collect()
}
