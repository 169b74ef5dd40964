//! The `periodize` binary: parse the command line, set up tracing, run, map to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = periodize::cli::args::Cli::parse();
    init_tracing();
    let crash = match std::env::var("PERIODIZE_CRASH_POINT") {
        Ok(text) if !text.is_empty() => match text.parse() {
            Ok(point) => Some(point),
            Err(message) => {
                eprintln!("error: PERIODIZE_CRASH_POINT: {message}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let env = periodize::cli::Env {
        crash,
        credentials: periodize::providers::resolve::Credentials {
            keys: provider_keys(),
            ollama_host: std::env::var("OLLAMA_HOST")
                .ok()
                .filter(|host| !host.trim().is_empty()),
            mock_brief: std::env::var(periodize::providers::MOCK_BRIEF_ENV)
                .is_ok_and(|value| value == "1"),
            limiters: Default::default(),
        },
        store: std::env::var("PERIODIZE_STORE")
            .ok()
            .filter(|url| !url.trim().is_empty()),
    };
    match runtime.block_on(periodize::cli::run(cli, env)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = err.exit_code();
            eprintln!("error: {:#}", anyhow::Error::from(err));
            ExitCode::from(code)
        }
    }
}

/// API keys from the environment, wrapped at once so they can never be printed.
fn provider_keys() -> std::collections::BTreeMap<&'static str, periodize::providers::secret::Secret>
{
    ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"]
        .into_iter()
        .filter_map(|variable| {
            let value = std::env::var(variable)
                .ok()
                .filter(|value| !value.trim().is_empty())?;
            Some((
                variable,
                periodize::providers::secret::Secret::new(value.trim()),
            ))
        })
        .collect()
}

/// Logs go to stderr, filtered by `PERIODIZE_LOG` (e.g. `debug`, `periodize=trace`); warnings by default.
fn init_tracing() {
    use tracing_subscriber::prelude::*;
    let filter: tracing_subscriber::filter::Targets = std::env::var("PERIODIZE_LOG")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::WARN)
        });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(filter)
        .init();
}
