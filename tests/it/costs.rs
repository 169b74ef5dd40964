//! Estimated costs end to end: priced per attempt from the model's list price (cached reads
//! at their own price), summed per phase, run and batch in `show`, `status`, the plan file and
//! the batch report; `--max-cost` stops a run before the request that would cross it;
//! `--prices` adds prices, and a bad price file or an unpriced money budget exits 2.

use std::path::Path;

use periodize::mock_llm::{MockConfig, MockServer};
use periodize::providers::Protocol;
use serde_json::Value;

use crate::http_providers::base_url;
use crate::support::{fixture, stderr, stdout, Sandbox};

/// Claude Sonnet's list prices in USD per million tokens: input, cache read, cache write,
/// output (restated here on purpose: the test checks the table, not itself).
const SONNET: [f64; 4] = [3.0, 0.3, 3.75, 15.0];

fn json(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_str(&stdout(output)).unwrap()
}

fn usd(value: &Value) -> f64 {
    value["estimated_usd"].as_f64().unwrap()
}

/// What an attempt's tokens cost at Sonnet's prices.
fn sonnet_cost(tokens: &Value) -> f64 {
    let count = |field: &str| tokens[field].as_u64().unwrap() as f64;
    let read = count("cache_read_tokens");
    let write = count("cache_write_tokens");
    let uncached = count("input_tokens") - read - write;
    let [input, cache_read, cache_write, output] = SONNET;
    (uncached * input + read * cache_read + write * cache_write + count("output_tokens") * output)
        / 1e6
}

fn close(a: f64, b: f64, context: &str) {
    assert!((a - b).abs() < 2e-6, "{context}: {a} vs {b}");
}

async fn run(sandbox: &Sandbox, args: Vec<String>) -> std::process::Output {
    let mut command = sandbox.command();
    command.args(args);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn generate_args(url: &str, profiles: usize, extra: &[&str]) -> Vec<String> {
    let profile = fixture("profiles/athlete.json").display().to_string();
    let mut args = vec!["generate".to_string()];
    for _ in 0..profiles {
        args.extend(["--profile".to_string(), profile.clone()]);
    }
    args.extend(
        [
            "--weeks",
            "3",
            "--provider",
            "anthropic",
            "--base-url",
            url,
            "--retry-base-ms",
            "1",
        ]
        .map(str::to_string),
    );
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costs_are_priced_per_attempt_and_summed_per_phase_run_and_batch() {
    let mock = MockServer::start(MockConfig::default(), 0).await.unwrap();
    let url = base_url(&mock.url(), Protocol::Anthropic);
    let sandbox = Sandbox::new();
    let output = run(&sandbox, generate_args(&url, 2, &["--name", "costed"])).await;
    assert!(output.status.success(), "{}", stderr(&output));

    let runs = json(&sandbox.run(&["status", "--json"]));
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let mut batch_total = 0.0;
    let mut cached_reads = 0;
    for summary in runs {
        let run_id = summary["run_id"].as_str().unwrap();
        let shown = json(&sandbox.run(&["show", run_id, "--json"]));
        let mut run_total = 0.0;
        for step in shown["steps"].as_array().unwrap() {
            let mut step_total = 0.0;
            for attempt in step["attempts"].as_array().unwrap() {
                let cost = attempt["cost_usd"].as_f64().unwrap();
                close(
                    cost,
                    sonnet_cost(&attempt["tokens"]),
                    "attempt at Sonnet prices",
                );
                cached_reads += attempt["tokens"]["cache_read_tokens"].as_u64().unwrap();
                step_total += cost;
            }
            close(usd(&step["cost"]), step_total, "step = its attempts");
            run_total += step_total;
        }
        assert!(run_total > 0.0);
        close(usd(&shown["cost"]), run_total, "show: run = its steps");
        close(usd(&summary["cost"]), run_total, "status: the run's cost");
        assert_eq!(summary["cost"]["unpriced_requests"], 0);
        let phases = &shown["phases"];
        close(
            usd(&phases["overview"]["cost"]) + usd(&phases["weeks"]["cost"]),
            run_total,
            "phases add up to the run",
        );

        // The plan file carries the same figures.
        let plan: Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(summary["output_file"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        close(usd(&plan["run"]["cost"]), run_total, "plan file: run");
        close(
            usd(&plan["run"]["phases"]["weeks"]["cost"]),
            usd(&phases["weeks"]["cost"]),
            "plan file: weeks",
        );
        batch_total += run_total;
    }
    assert!(
        cached_reads > 0,
        "cached reads are priced at their own rate"
    );

    let batch_id = runs[0]["batch_id"].as_str().unwrap();
    let report = json(&sandbox.run(&["batch-report", batch_id, "--json"]));
    close(usd(&report["cost"]), batch_total, "batch report: the batch");
    let text = stdout(&sandbox.run(&["status"]));
    assert!(text.contains("COST"), "{text}");
    assert!(text.contains(" $0."), "{text}");
    let text = stdout(&sandbox.run(&["show", runs[0]["run_id"].as_str().unwrap()]));
    assert!(text.contains(" tokens (about $"), "{text}");
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_money_budget_stops_before_the_request_that_would_cross_it() {
    let mock = MockServer::start(MockConfig::default(), 0).await.unwrap();
    let url = base_url(&mock.url(), Protocol::Anthropic);
    let sandbox = Sandbox::new();
    // Enough for the overview and about one week, not three weeks.
    let output = run(
        &sandbox,
        generate_args(&url, 1, &["--max-cost", "0.02", "--week-concurrency", "1"]),
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let status = json(&sandbox.run(&["status", "--json"]));
    let summary = &status[0];
    assert_eq!(summary["state"], "failed");
    let reason = summary["reason"].as_str().unwrap();
    assert!(reason.contains("cost budget reached"), "{reason}");
    assert!(reason.contains("--max-cost $0.0200"), "{reason}");
    let spent = usd(&summary["cost"]);
    let shown = json(&sandbox.run(&["show", summary["run_id"].as_str().unwrap(), "--json"]));
    let largest = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|step| step["attempts"].as_array().unwrap())
        .map(|attempt| attempt["cost_usd"].as_f64().unwrap())
        .fold(0.0, f64::max);
    // Each request is estimated before it is sent: the run passes the budget by less than
    // one request.
    assert!(
        spent <= 0.02 + largest,
        "{spent} spent, largest request {largest}"
    );
    let requests = mock.stats().log.len();
    assert!(
        requests < 4,
        "stopped before the last weeks: {requests} requests"
    );

    let run_id = summary["run_id"].as_str().unwrap().to_string();
    let resumed = run(
        &sandbox,
        ["resume", run_id.as_str(), "--retry", "--max-cost", "1"]
            .map(str::to_string)
            .to_vec(),
    )
    .await;
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let done = json(&sandbox.run(&["status", "--json"]));
    assert_eq!(done[0]["state"], "done");
    assert_eq!(mock.stats().log.len(), 4, "each step requested once in all");
    mock.shutdown().await;
}

#[test]
fn money_flags_are_checked_before_anything_is_stored() {
    let sandbox = Sandbox::new();
    let url = "http://127.0.0.1:9/v1";
    let refused = |args: Vec<String>, needles: &[&str]| {
        let output = sandbox.command().args(&args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        for needle in needles {
            assert!(
                stderr(&output).contains(needle),
                "{needle}: {}",
                stderr(&output)
            );
        }
        assert!(!sandbox.path("state").exists(), "{args:?}: nothing stored");
    };
    let openai = |extra: &[&str]| {
        let mut args = generate_args(url, 1, extra);
        let at = args.iter().position(|arg| arg == "anthropic").unwrap();
        args[at] = "openai".into();
        args
    };
    refused(
        openai(&["--model", "qwen2.5-7b-instruct", "--max-cost", "1"]),
        &["--max-cost", "qwen2.5-7b-instruct", "--prices"],
    );
    refused(openai(&["--max-cost=-1"]), &["--max-cost", "-1"]);
    let bad = sandbox.write(
        "bad_prices.json",
        r#"{"as_of": "2026-12-01", "prices": [{"provider": "openai", "model": "qwen*", "input_usd_per_mtok": 0.1, "output_usd_per_mtok": "cheap"}]}"#,
    );
    refused(
        openai(&["--prices", bad.to_str().unwrap()]),
        &["--prices", "bad_prices.json", "invalid type"],
    );
    let negative = sandbox.write(
        "negative_prices.json",
        r#"{"as_of": "2026-12-01", "prices": [{"provider": "openai", "model": "qwen*", "input_usd_per_mtok": 0.1, "output_usd_per_mtok": -3}]}"#,
    );
    refused(
        openai(&["--prices", negative.to_str().unwrap()]),
        &["prices[0].output_usd_per_mtok = -3"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_file_prices_a_local_model() {
    let mock = MockServer::start(MockConfig::default(), 0).await.unwrap();
    let url = base_url(&mock.url(), Protocol::OpenAi);
    let sandbox = Sandbox::new();
    let prices = sandbox.write(
        "prices.json",
        r#"{"as_of": "2026-12-01", "prices": [{"provider": "openai", "model": "qwen*", "input_usd_per_mtok": 1, "output_usd_per_mtok": 2}]}"#,
    );
    let mut args = generate_args(&url, 1, &["--model", "qwen2.5-7b", "--max-cost", "5"]);
    let at = args.iter().position(|arg| arg == "anthropic").unwrap();
    args[at] = "openai".into();
    args.extend(["--prices".to_string(), prices.display().to_string()]);
    let output = run(&sandbox, args).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let status = json(&sandbox.run(&["status", "--json"]));
    let shown = json(&sandbox.run(&["show", status[0]["run_id"].as_str().unwrap(), "--json"]));
    let mut expected = 0.0;
    for step in shown["steps"].as_array().unwrap() {
        for attempt in step["attempts"].as_array().unwrap() {
            let tokens = &attempt["tokens"];
            // No cache price given: cached tokens cost what input costs.
            expected += (tokens["input_tokens"].as_f64().unwrap()
                + 2.0 * tokens["output_tokens"].as_f64().unwrap())
                / 1e6;
        }
    }
    close(usd(&shown["cost"]), expected, "priced from the file");
    mock.shutdown().await;
}
