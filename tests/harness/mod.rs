//! What the process-killing harnesses (`crash`, `chaos`, `batch_crash`) share: the binary
//! under test, a command for it (no inherited crash point or log filter; mock briefs on), and a minimal
//! HTTP GET for the mock server's statistics (the harnesses have no HTTP client of their own).
//! After `use_postgres()`, every working directory a harness makes gets its own fresh
//! PostgreSQL database as its store (`PERIODIZE_STORE`), so the same cases run against the
//! shared store.
#![allow(dead_code)]

#[path = "../support/pg.rs"]
pub mod pg;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static ON_POSTGRES: AtomicBool = AtomicBool::new(false);
static DATABASES: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);

/// Runs every later case on PostgreSQL, if a test server is configured (`PERIODIZE_TEST_PG`);
/// says so and returns false when it is not (and fails under `CI`).
pub fn use_postgres(harness: &str) -> bool {
    if pg::pg_admin_url().is_none() {
        // Fails under CI, says it skipped otherwise.
        let _ = pg::pg_database(harness);
        return false;
    }
    ON_POSTGRES.store(true, Ordering::SeqCst);
    true
}

/// The database of a working directory, made on first use.
fn database_of(dir: &Path) -> String {
    let mut databases = DATABASES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    databases
        .get_or_insert_with(HashMap::new)
        .entry(dir.to_path_buf())
        .or_insert_with(|| pg::pg_database("crash_case").expect("a test server is configured"))
        .clone()
}

/// A process killed at a crash point holds its leases until they expire (30 s by default);
/// the harness runs one process at a time, so it expires them at once instead of waiting, as
/// a later worker would find them after the lease length.
fn expire_leases(url: &str) {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        match client.execute(
            "UPDATE leases SET expires_at_ms = 0 WHERE owner IS NOT NULL",
            &[],
        ) {
            Ok(_) => {}
            // Nothing was stored there yet.
            Err(err) if err.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => {}
            Err(err) => panic!("expire the leases: {err}"),
        }
    })
    .join()
    .expect("the lease thread");
}

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_periodize");

/// The Monday every harness plan starts on, so plans compare across processes.
pub const START: &str = "2026-11-30";

/// How long a harness waits for the mock server's statistics before calling it hung.
const HTTP_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The binary, run in `dir`, without the crash point or log filter of the harness's own
/// environment (each case sets its own).
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_remove("PERIODIZE_CRASH_POINT")
        .env_remove("PERIODIZE_LOG")
        // Requests to the harness's mock-llm carry their brief; the built-in coach ignores it.
        .env("PERIODIZE_MOCK_BRIEF", "1")
        .env_remove("PERIODIZE_STORE");
    if ON_POSTGRES.load(Ordering::SeqCst) {
        let url = database_of(dir);
        expire_leases(&url);
        command.env("PERIODIZE_STORE", url);
    }
    command
}

/// xorshift64*: small, seeded, and good enough to pick kill moments.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's fixed point; any other state works.
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..=max.
    pub fn upto(&mut self, max: u64) -> u64 {
        self.next() % (max + 1)
    }
}

/// A plan without what differs between two runs of the same inputs (identity, wall times) and
/// without its request accounting, which faults and kills change.
pub fn plan_content(plan: &Value) -> Value {
    let mut plan = plan.clone();
    if let Some(run) = plan.get_mut("run").and_then(Value::as_object_mut) {
        for key in ["id", "attempts", "tokens", "cost"] {
            run.remove(key);
        }
        if let Some(phases) = run.get_mut("phases").and_then(Value::as_object_mut) {
            for phase in phases.values_mut().filter_map(Value::as_object_mut) {
                for key in ["attempts", "tokens", "cost", "wall_ms"] {
                    phase.remove(key);
                }
            }
        }
    }
    if let Some(metadata) = plan.get_mut("plan_metadata").and_then(Value::as_object_mut) {
        metadata.remove("generated_at");
    }
    plan
}

/// Starts `periodize mock-llm --port 0` with `flags`; returns the process (the caller stops
/// it) and the base URL it printed.
pub fn spawn_mock(flags: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(BIN)
        .args(["mock-llm", "--port", "0"])
        .args(flags)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn mock-llm");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the address");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("mock-llm prints its address")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (child, url)
}

/// One request on a fresh connection, `Connection: close`, read to the end; the body is JSON,
/// plain or chunked. Panics on anything but a 200.
pub fn http_get_json(base_url: &str, path: &str) -> Value {
    let authority = base_url
        .strip_prefix("http://")
        .expect("an http:// URL")
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).expect("connect to mock-llm");
    stream
        .set_read_timeout(Some(HTTP_READ_TIMEOUT))
        .expect("set a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    assert!(
        head.starts_with("http/1.1 200"),
        "GET {path}: {}",
        head.lines().next().unwrap_or_default()
    );
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    serde_json::from_slice(&body).expect("the stats are JSON")
}

/// Decodes a chunked body: hex size line, data, CRLF, until the zero-size chunk.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|window| window == b"\r\n")
            .expect("a chunk size line");
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hex chunk size");
        if size == 0 {
            return out;
        }
        let data = line_end + 2;
        out.extend_from_slice(&body[data..data + size]);
        body = &body[data + size + 2..];
    }
}
