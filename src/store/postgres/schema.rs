//! The database schema and its versioned migrations. periodize creates and migrates its own
//! tables: each migration is applied once, in order, in its own transaction that first claims
//! its row of `periodize_schema` (so workers starting at once apply it exactly once: the second
//! waits on the first's row and then finds it applied). A database migrated by a newer
//! periodize, with versions this build does not know, is refused by name before anything runs.
//!
//! The SQL is kept to what PostgreSQL, CockroachDB and YugabyteDB all accept: plain tables,
//! `INT8`/`TEXT`/`BYTEA`/`BOOL`, primary keys, secondary indexes, `ON CONFLICT`, `FOR UPDATE
//! SKIP LOCKED`; no sequences, triggers, advisory locks, `LOCK TABLE` or stored procedures.

/// One schema change: its version (the row it writes in `periodize_schema`), its name (what a
/// refusal or `doctor` prints), and its statements.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
}

/// The table that records which migrations a database holds. Created before any migration.
pub const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS periodize_schema (
    version INT8 PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at_ms INT8 NOT NULL
)";

/// Every migration this build knows, oldest first. Never edit a released one: add the next.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "runs, steps, batches and leases",
        statements: &[
            // Records are the store's versioned records (a format version, then the body), the
            // same bytes sled keeps: the database never interprets them, so the record
            // boundary is one for both backends.
            "CREATE TABLE batches (
                batch_id TEXT PRIMARY KEY,
                digest TEXT NOT NULL UNIQUE,
                created_at_ms INT8 NOT NULL,
                record BYTEA NOT NULL
            )",
            // `seq` is the run's commit sequence, compared and set by every commit; `state` is
            // the head's state name, for `open_runs` without decoding heads.
            "CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                seq INT8 NOT NULL,
                state TEXT NOT NULL,
                created_at_ms INT8 NOT NULL,
                spec BYTEA NOT NULL,
                head BYTEA NOT NULL
            )",
            "CREATE INDEX runs_by_state ON runs (state)",
            // `step_no` 0 is the overview, N week N.
            "CREATE TABLE steps (
                run_id TEXT NOT NULL REFERENCES runs (run_id),
                step_no INT8 NOT NULL,
                record BYTEA NOT NULL,
                PRIMARY KEY (run_id, step_no)
            )",
            // One row per run. `claimable` is false once the run is done or failed; `token` is
            // the fencing token, raised by every claim and checked by every commit; a lease is
            // free when `expires_at_ms` has passed (0 when released).
            "CREATE TABLE leases (
                run_id TEXT PRIMARY KEY REFERENCES runs (run_id),
                claimable BOOL NOT NULL,
                owner TEXT,
                token INT8 NOT NULL,
                expires_at_ms INT8 NOT NULL,
                created_at_ms INT8 NOT NULL
            )",
            "CREATE INDEX leases_free ON leases (claimable, expires_at_ms)",
        ],
    },
    Migration {
        version: 2,
        name: "plan files and fleet rate slots",
        statements: &[
            // The plan file of a finished run, so any worker, `show` and `export` can serve it.
            "CREATE TABLE plan_files (
                run_id TEXT PRIMARY KEY REFERENCES runs (run_id),
                name TEXT NOT NULL,
                bytes BYTEA NOT NULL
            )",
            // The fleet's request pacing per provider endpoint: the time the next request may
            // go, in the database's clock (see `reserve_slot`).
            "CREATE TABLE rate_slots (
                endpoint TEXT PRIMARY KEY,
                next_at_ms INT8 NOT NULL
            )",
        ],
    },
];

/// The newest schema version this build knows.
pub fn latest() -> &'static Migration {
    MIGRATIONS.last().expect("at least one migration")
}
