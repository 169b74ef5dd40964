//! What a command that drives runs prints: progress while they run (NDJSON, a bar over the
//! whole batch on a terminal, or plain lines), and each run's outcome at the end.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use serde_json::json;

use crate::cli::render::printable;
use crate::cli::Error;
use crate::engine::progress::{Observer, Progress};
use crate::engine::{Outcome, RunOutcome};

/// The progress display and the function that finishes it. `steps` is the batch's size in
/// steps (each run: the overview, its weeks, the plan file) and how many are already done.
pub fn observer(
    json_output: bool,
    many_runs: bool,
    steps: (u64, u64),
) -> (Observer, Box<dyn FnOnce()>) {
    if json_output {
        let observer: Observer = Arc::new(|progress: &Progress| {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{}", progress.to_json());
            let _ = stdout.flush();
        });
        return (observer, Box::new(|| {}));
    }
    let (total, done) = steps;
    if std::io::stderr().is_terminal() && total > 0 {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_position(done);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
                .expect("the template is valid"),
        );
        let handle = bar.clone();
        let observer: Observer = Arc::new(move |progress: &Progress| {
            if matches!(
                progress,
                Progress::OverviewCreated { .. }
                    | Progress::WeekComplete { .. }
                    | Progress::PlanFinalized { .. }
            ) {
                handle.inc(1);
            }
            let message = printable(&progress.message()).into_owned();
            if many_runs {
                handle.set_message(format!("{} {message}", progress.run_id().short()));
            } else {
                handle.set_message(message);
            }
        });
        return (observer, Box::new(move || bar.finish()));
    }
    let observer: Observer = Arc::new(move |progress: &Progress| {
        let message = printable(&progress.message()).into_owned();
        if many_runs {
            eprintln!("{} {message}", progress.run_id().short());
        } else {
            eprintln!("{message}");
        }
    });
    (observer, Box::new(|| {}))
}

/// Reports every outcome; the exit code is the worst one. An engine error is returned (the
/// first; later ones are printed), so its own exit code applies.
pub fn outcomes(
    json_output: bool,
    outcomes: Vec<RunOutcome>,
    interrupted_code: u8,
) -> Result<u8, Error> {
    let mut worst = 0;
    let mut first_error = None;
    let (mut done, mut failed, mut stopped) = (0, 0, 0);
    let many = outcomes.len() > 1;
    for RunOutcome { run_id, result } in outcomes {
        match result {
            Ok(outcome) => {
                match outcome {
                    Outcome::Done { .. } => done += 1,
                    Outcome::Failed { .. } => failed += 1,
                    Outcome::Interrupted { .. } | Outcome::Handed { .. } => stopped += 1,
                }
                worst = worst.max(outcome_line(json_output, outcome, interrupted_code)?);
            }
            Err(err) => {
                failed += 1;
                if json_output {
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "{}", json!({"event": "finished", "run_id": run_id.to_string(), "state": "error", "reason": crate::store::doctor::chain(&err)}))
                        .map_err(Error::Output)?;
                }
                if first_error.is_some() {
                    eprintln!(
                        "error: run {run_id}: {}",
                        printable(&crate::store::doctor::chain(&err))
                    );
                } else {
                    first_error = Some(err);
                }
            }
        }
    }
    if many && !json_output {
        eprintln!("{done} done, {failed} failed, {stopped} stopped");
    }
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(worst),
    }
}

fn outcome_line(json_output: bool, outcome: Outcome, interrupted_code: u8) -> Result<u8, Error> {
    let mut stdout = std::io::stdout().lock();
    match outcome {
        Outcome::Done { run_id, path } => {
            if json_output {
                writeln!(stdout, "{}", json!({"event": "finished", "run_id": run_id.to_string(), "state": "done", "path": path.display().to_string()}))
            } else {
                writeln!(stdout, "{}", path.display())
            }
            .map_err(Error::Output)?;
            Ok(0)
        }
        Outcome::Failed { run_id, reason } => {
            if json_output {
                writeln!(stdout, "{}", json!({"event": "finished", "run_id": run_id.to_string(), "state": "failed", "reason": reason})).map_err(Error::Output)?;
            }
            eprintln!("error: run {run_id} failed: {}", printable(&reason));
            // A wrong address fails the same way however often it is retried.
            if !reason.contains(crate::providers::WRONG_ENDPOINT_HINT) {
                eprintln!("hint: `periodize resume {run_id} --retry` continues it with a fresh attempt budget");
            }
            Ok(1)
        }
        Outcome::Interrupted { run_id } => {
            if json_output {
                writeln!(stdout, "{}", json!({"event": "finished", "run_id": run_id.to_string(), "state": "interrupted"})).map_err(Error::Output)?;
            }
            eprintln!("run {run_id} stopped; `periodize resume {run_id}` continues it");
            Ok(interrupted_code)
        }
        Outcome::Handed { run_id } => {
            if json_output {
                writeln!(
                    stdout,
                    "{}",
                    json!({"event": "finished", "run_id": run_id.to_string(), "state": "handed"})
                )
                .map_err(Error::Output)?;
            }
            // Why was said when it happened; the run goes on under its new holder.
            Ok(0)
        }
    }
}
