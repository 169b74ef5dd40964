//! Shared helpers of the integration tests: run the real binary in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_periodize");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A temporary working directory with its own state and output directories.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a fixture file");
        path
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .current_dir(self.dir.path())
            .env_remove("PERIODIZE_CRASH_POINT")
            .env_remove("PERIODIZE_LOG")
            // Requests to the test's mock-llm carry their brief; the built-in coach ignores it.
            .env(periodize::providers::MOCK_BRIEF_ENV, "1");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run periodize")
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The Python interpreter holding the export tests' independent readers (the Garmin FIT SDK,
/// icalendar), from `PERIODIZE_CHECKER_PYTHON` (`.ci/run` sets it with
/// `scripts/checkers/install`). Without it a test says it skipped that check, and under `CI`
/// it fails instead: a check CI skipped would prove nothing.
pub fn checker_python() -> Option<PathBuf> {
    match std::env::var_os("PERIODIZE_CHECKER_PYTHON") {
        Some(python) => Some(PathBuf::from(python)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "PERIODIZE_CHECKER_PYTHON is unset under CI: run scripts/checkers/install"
            );
            eprintln!(
                "skipped: the Python readers (set PERIODIZE_CHECKER_PYTHON=\"$(scripts/checkers/install)\")"
            );
            None
        }
    }
}

/// Runs `script` (a file of scripts/checkers) with the checker interpreter and `args`; its
/// stdout, or a panic with its stderr when it fails. `None` when the readers are not set up.
#[allow(dead_code)] // until the export checks of the Python readers call it
pub fn run_checker(script: &str, args: &[&Path]) -> Option<String> {
    let python = checker_python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/checkers")
        .join(script);
    let output = Command::new(&python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("run {} {}: {err}", python.display(), script.display()));
    assert!(
        output.status.success(),
        "{} failed:\n{}{}",
        script.display(),
        stdout(&output),
        stderr(&output)
    );
    Some(stdout(&output))
}

// A fresh PostgreSQL database per test (skipped without a server, failing under CI): shared
// with the harness binaries, which include the same file.
#[path = "../support/pg.rs"]
mod pg;
#[allow(unused_imports)] // until the PostgreSQL tests call them
pub use pg::{pg_admin_url, pg_database};
