//! A fresh PostgreSQL database per test, on the server `PERIODIZE_TEST_PG` names (an admin URL;
//! `eval "$(scripts/pg/start)"` sets it to a throwaway cluster). Without it a test says it
//! skipped, and under `CI` it fails instead: a check CI skipped would prove nothing.
//!
//! Self-contained, for the integration tests (tests/it/support.rs includes it) and the harness
//! binaries alike: `#[path = "support/pg.rs"] mod pg;`.

use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable holding the admin URL of the test server.
#[allow(dead_code)] // until the PostgreSQL tests call it
pub const ADMIN_URL_ENV: &str = "PERIODIZE_TEST_PG";

/// The admin URL of the test server, `None` when `PERIODIZE_TEST_PG` is unset or empty.
#[allow(dead_code)] // until the PostgreSQL tests call it
pub fn pg_admin_url() -> Option<String> {
    std::env::var(ADMIN_URL_ENV)
        .ok()
        .filter(|url| !url.is_empty())
}

/// The URL of a new, empty database for the test named `test` (in the database's name and the
/// messages), on the server of `PERIODIZE_TEST_PG`. `None`, after saying so on stderr, when
/// the variable is unset; a panic instead under `CI`, and when the server cannot be reached.
/// The databases are not dropped: the cluster of scripts/pg/start is thrown away whole.
#[allow(dead_code)] // until the PostgreSQL tests call it
pub fn pg_database(test: &str) -> Option<String> {
    let Some(admin) = pg_admin_url() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test} needs PostgreSQL and {ADMIN_URL_ENV} is unset under CI: \
             start a server with eval \"$(scripts/pg/start)\""
        );
        eprintln!("skipped {test}: needs PostgreSQL (eval \"$(scripts/pg/start)\")");
        return None;
    };
    let test_name = test.to_owned();
    // The blocking client runs its own tokio runtime and panics inside another one (a
    // #[tokio::test]): a plain thread of its own keeps it out of the caller's.
    let created = std::thread::spawn(move || create_database(&admin, &test_name))
        .join()
        .unwrap_or_else(|_| panic!("{test}: the thread creating its database panicked"));
    Some(created.unwrap_or_else(|err| panic!("{test}: {err}")))
}

/// Creates the database and returns its URL; retries under the next name when a database of
/// an earlier process with the same pid is left on a long-lived server.
fn create_database(admin: &str, test: &str) -> Result<String, String> {
    let mut client = postgres::Client::connect(admin, postgres::NoTls)
        .map_err(|err| format!("connect to {ADMIN_URL_ENV}={admin}: {}", describe(&err)))?;
    for _ in 0..100 {
        let name = database_name(test);
        match client.batch_execute(&format!("CREATE DATABASE \"{name}\"")) {
            Ok(()) => return Ok(with_database(admin, &name)),
            Err(err) if err.code() == Some(&postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(err) => return Err(format!("create database {name}: {}", describe(&err))),
        }
    }
    Err(format!("no free database name for {test} on {admin}"))
}

/// The error and its cause: the error's own text is only its kind ("db error", "error
/// connecting to server"), the cause says why.
fn describe(err: &postgres::Error) -> String {
    match std::error::Error::source(err) {
        Some(cause) => format!("{err}: {cause}"),
        None => err.to_string(),
    }
}

/// `periodize_t_{test}_{pid}_{counter}`: lowercase, only `[a-z0-9_]`, at most 63 bytes (the
/// longest identifier PostgreSQL keeps), the test's part shortened to fit.
fn database_name(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let suffix = format!(
        "_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let prefix = "periodize_t_";
    let room = 63 - prefix.len() - suffix.len();
    let test: String = test
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .take(room)
        .collect();
    format!("{prefix}{test}{suffix}")
}

/// `admin` with its database replaced by `name`: the path of a URL (its query kept), or a
/// `dbname=` appended to a key=value connection string (the last one counts).
fn with_database(admin: &str, name: &str) -> String {
    let Some(scheme_end) = admin.find("://") else {
        return format!("{admin} dbname={name}");
    };
    let authority_start = scheme_end + "://".len();
    let rest = &admin[authority_start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[authority_end..]
        .find('?')
        .map_or("", |at| &rest[authority_end + at..]);
    format!(
        "{}{}/{name}{query}",
        &admin[..authority_start],
        &rest[..authority_end]
    )
}
