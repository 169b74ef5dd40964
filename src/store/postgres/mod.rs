//! The PostgreSQL backend: the store shared by a fleet of workers (the only code that imports
//! the database client). Runs, steps, batches and leases are tables; every record column holds
//! the same versioned record bytes as sled. One transition is one transaction: it locks the
//! run's lease row and checks this worker still holds the lease with its fencing token, then
//! compares and sets the run's commit sequence in the same `UPDATE` that writes the head, then
//! writes the changed steps. Its commit is the durability point, so `flush` has nothing to do.
//!
//! Leases: a run is claimed by raising its fencing token and setting an expiry; the holder
//! renews the expiry while it works and releases it when it stops. A lease whose expiry passed
//! can be claimed by any worker, which raises the token again, so a worker that was paused or
//! cut off past its lease has every later commit refused (see ARCHITECTURE.md).

pub mod conn;
pub mod schema;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use postgres::Client;

use crate::store::backend::{Commit, FlushFuture, NewRun, RecordStore, RunRecords};
use crate::store::records::{
    self, BatchRecord, HeadRecord, Id, SpecRecord, StateRecord, StepRecordId,
};
use crate::store::Error;
use crate::workflow::RunId;

use conn::{in_transaction, Connection};

/// Whether a store location names a database rather than a directory.
pub fn is_database_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// A run's lease row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub run_id: RunId,
    /// The worker holding it; `None` once released.
    pub owner: Option<String>,
    /// The fencing token: raised by every claim.
    pub token: u64,
    /// 0 once released.
    pub expires_at_ms: u64,
}

/// A new run's row, encoded.
struct NewRunRow {
    run_id: String,
    seq: i64,
    state: &'static str,
    claimable: bool,
    created_at_ms: i64,
    spec: Vec<u8>,
    head: Vec<u8>,
}

pub struct PgStore {
    conn: Connection,
    /// The URL without its password, for messages.
    location: String,
    /// This process's name in the `owner` column of the leases it holds.
    worker: String,
    /// The fencing token of every lease this process holds.
    held: Mutex<HashMap<RunId, i64>>,
    read_only: bool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

fn id_text(run_id: RunId) -> String {
    run_id.to_string()
}

fn batch_text(batch_id: u128) -> String {
    format!("{batch_id:032x}")
}

fn parse_run_id(text: &str) -> Result<RunId, Error> {
    RunId::parse(text).ok_or_else(|| Error::BadKey {
        tree: "runs",
        key: text.to_string(),
        reason: "a run id is 32 hex digits".into(),
    })
}

fn step_no(step: &StepRecordId) -> i64 {
    match step {
        StepRecordId::Overview => 0,
        StepRecordId::Week { week } => i64::from(*week),
    }
}

/// The `state` column: the head's state, by name.
fn state_column(state: &StateRecord) -> &'static str {
    match state {
        StateRecord::Created => "created",
        StateRecord::DraftingOverview => "drafting_overview",
        StateRecord::DetailingWeeks => "detailing_weeks",
        StateRecord::Finalizing { .. } => "finalizing",
        StateRecord::Done => "done",
        StateRecord::Failed { .. } => "failed",
    }
}

/// Workers claim runs that are neither done nor failed (`resume --retry` names failed ones).
fn claimable(state: &StateRecord) -> bool {
    !matches!(state, StateRecord::Done | StateRecord::Failed { .. })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl PgStore {
    /// Connects, creates or migrates the schema, and refuses a database a newer periodize
    /// migrated.
    pub fn open(url: &str, read_only: bool) -> Result<PgStore, Error> {
        let location = conn::redacted(url);
        let conn = Connection::open(url).map_err(|source| Error::Unreachable {
            location: location.clone(),
            reason: crate::store::doctor::chain(&source),
        })?;
        let store = PgStore {
            conn,
            location: location.clone(),
            worker: format!(
                "{}/{}/{:08x}",
                host_name(),
                std::process::id(),
                crate::store::unique_suffix() as u32
            ),
            held: Mutex::new(HashMap::new()),
            read_only,
        };
        let applied = store
            .conn
            .call(move |client| migrate(client, read_only))
            .map_err(store.database("the schema migration"))?;
        if let Err((version, name)) = applied {
            return Err(Error::SchemaTooNew {
                location,
                version,
                name,
                known: schema::latest().version,
            });
        }
        Ok(store)
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    fn database(&self, what: &str) -> impl FnOnce(postgres::Error) -> Error {
        let what = format!("{what} on {}", self.location);
        move |source| Error::Database { what, source }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, i64>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn writable(&self) -> Result<(), Error> {
        if self.read_only {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    /// Whether periodize created its tables here (a reader does not create them).
    pub fn has_schema(&self) -> Result<bool, Error> {
        self.conn
            .call(|client| {
                let row = client.query_one(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'",
                    &[],
                )?;
                Ok(row.get::<_, i64>(0) > 0)
            })
            .map_err(self.database("the schema"))
    }

    /// The applied migrations, oldest first, for `doctor`.
    pub fn migrations(&self) -> Result<Vec<(i64, String)>, Error> {
        self.conn
            .call(|client| {
                let rows = client.query(
                    "SELECT version, name FROM periodize_schema ORDER BY version",
                    &[],
                )?;
                Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
            })
            .map_err(self.database("the schema versions"))
    }

    /// Every lease as stored, for `doctor` and the tests.
    pub fn leases(&self) -> Result<Vec<Lease>, Error> {
        let rows = self
            .conn
            .call(|client| {
                let rows = client.query(
                    "SELECT run_id, owner, token, expires_at_ms FROM leases ORDER BY run_id",
                    &[],
                )?;
                Ok(rows
                    .iter()
                    .map(|row| {
                        (
                            row.get::<_, String>(0),
                            row.get::<_, Option<String>>(1),
                            row.get::<_, i64>(2),
                            row.get::<_, i64>(3),
                        )
                    })
                    .collect::<Vec<_>>())
            })
            .map_err(self.database("the leases"))?;
        rows.into_iter()
            .map(|(run_id, owner, token, expires)| {
                Ok(Lease {
                    run_id: parse_run_id(&run_id)?,
                    owner,
                    token: to_u64(token),
                    expires_at_ms: to_u64(expires),
                })
            })
            .collect()
    }

    /// A refused write: the lease is forgotten here, and the error says who holds it now.
    fn fenced(&self, run_id: RunId, token: i64, found: FoundLease) -> Error {
        self.held().remove(&run_id);
        Error::Fenced {
            run_id,
            token: to_u64(token),
            now: found
                .map(|(owner, token)| (owner.unwrap_or_else(|| "nobody".into()), to_u64(token))),
        }
    }

    /// Takes the leases the query returns (run id, token) as this process's.
    fn take_leases(&self, rows: Vec<(String, i64)>) -> Result<Vec<RunId>, Error> {
        let mut taken = Vec::with_capacity(rows.len());
        let mut held = self.held();
        for (run_id, token) in rows {
            let run_id = parse_run_id(&run_id)?;
            held.insert(run_id, token);
            taken.push(run_id);
        }
        Ok(taken)
    }
}

/// Creates the schema table, then applies every migration this build knows that the database
/// lacks. `Err((version, name))`: the database holds a migration newer than this build knows.
fn migrate(
    client: &mut Client,
    read_only: bool,
) -> Result<Result<(), (i64, String)>, postgres::Error> {
    if !read_only {
        create_schema_table(client)?;
    }
    let newest = client.query_opt(
        "SELECT version, name FROM periodize_schema ORDER BY version DESC LIMIT 1",
        &[],
    );
    let newest: Option<(i64, String)> = match newest {
        Ok(row) => row.map(|row| (row.get(0), row.get(1))),
        // A reader of a database nobody migrated yet sees no table: nothing is stored.
        Err(err)
            if read_only && err.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) =>
        {
            None
        }
        Err(err) => return Err(err),
    };
    if let Some((version, name)) = newest.clone() {
        if version > schema::latest().version {
            return Ok(Err((version, name)));
        }
    }
    if read_only {
        return Ok(Ok(()));
    }
    for migration in schema::MIGRATIONS {
        if newest
            .as_ref()
            .is_some_and(|(version, _)| *version >= migration.version)
        {
            continue;
        }
        in_transaction(client, |transaction| {
            // Claiming the version's row first makes a second worker wait here, then find it
            // applied and do nothing.
            let inserted = transaction.execute(
                "INSERT INTO periodize_schema (version, name, applied_at_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (version) DO NOTHING",
                &[
                    &migration.version,
                    &migration.name,
                    &to_i64(crate::store::wall_ms()),
                ],
            )?;
            if inserted == 1 {
                for statement in migration.statements {
                    transaction.batch_execute(statement)?;
                }
            }
            Ok(())
        })?;
    }
    Ok(Ok(()))
}

/// `CREATE TABLE IF NOT EXISTS` is not atomic in PostgreSQL: two workers starting on a new
/// database at once can both pass the check, and the second fails on the catalog's unique
/// index. The table exists then; the statement is run again to see it.
fn create_schema_table(client: &mut Client) -> Result<(), postgres::Error> {
    use postgres::error::SqlState;
    let mut attempt = 1;
    loop {
        match client.batch_execute(schema::SCHEMA_TABLE) {
            Err(err)
                if attempt < conn::MAX_TRANSACTION_ATTEMPTS
                    && matches!(
                        err.code(),
                        Some(&SqlState::UNIQUE_VIOLATION)
                            | Some(&SqlState::DUPLICATE_TABLE)
                            | Some(&SqlState::DUPLICATE_OBJECT)
                    ) =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".to_string())
}

/// The lease row as found: its owner and token.
type FoundLease = Option<(Option<String>, i64)>;

/// The fencing check of every write a lease holder makes: locks the run's lease row to the end
/// of the transaction (a claim that would take the lease waits for it; a claim that came first
/// is seen) and passes only if `worker` still holds it with `token`; else returns what holds it.
fn fence(
    transaction: &mut postgres::Transaction<'_>,
    id: &str,
    worker: &str,
    token: i64,
) -> Result<Result<(), FoundLease>, postgres::Error> {
    let found: FoundLease = transaction
        .query_opt(
            "SELECT owner, token FROM leases WHERE run_id = $1 FOR UPDATE",
            &[&id],
        )?
        .map(|row| (row.get(0), row.get(1)));
    match &found {
        Some((Some(owner), current)) if owner == worker && *current == token => Ok(Ok(())),
        _ => Ok(Err(found)),
    }
}

/// Why a commit did not happen, found inside its transaction.
enum Refusal {
    Fenced { held: i64, found: FoundLease },
    Conflict { found: Option<u64> },
}

impl RecordStore for PgStore {
    fn create(&self, batch: Option<&BatchRecord>, runs: &[NewRun]) -> Result<(), Error> {
        self.writable()?;
        let batch = batch.map(|batch| {
            (
                batch_text(batch.batch_id.0),
                batch.digest.clone(),
                to_i64(batch.created_at_ms),
                records::encode(batch),
            )
        });
        let rows: Vec<NewRunRow> = runs
            .iter()
            .map(|run| NewRunRow {
                run_id: id_text(RunId(run.spec.run_id.0)),
                seq: to_i64(run.head.seq),
                state: state_column(&run.head.state),
                claimable: claimable(&run.head.state),
                created_at_ms: to_i64(run.spec.created_at_ms),
                spec: records::encode(&run.spec),
                head: records::encode(&run.head),
            })
            .collect();
        let exists = self
            .conn
            .call(move |client| {
                in_transaction(client, |transaction| {
                    // Checked before anything is written, so a refusal writes nothing.
                    let ids: Vec<&String> = rows.iter().map(|row| &row.run_id).collect();
                    if let Some(row) = transaction.query_opt(
                        "SELECT run_id FROM runs WHERE run_id = ANY($1) LIMIT 1",
                        &[&ids],
                    )? {
                        return Ok(Some(row.get::<_, String>(0)));
                    }
                    if let Some((id, digest, created, record)) = &batch {
                        transaction.execute(
                            "INSERT INTO batches (batch_id, digest, created_at_ms, record)
                             VALUES ($1, $2, $3, $4)",
                            &[id, digest, created, record],
                        )?;
                    }
                    for row in &rows {
                        transaction.execute(
                            "INSERT INTO runs (run_id, seq, state, created_at_ms, spec, head)
                             VALUES ($1, $2, $3, $4, $5, $6)",
                            &[&row.run_id, &row.seq, &row.state, &row.created_at_ms, &row.spec, &row.head],
                        )?;
                        transaction.execute(
                            "INSERT INTO leases (run_id, claimable, owner, token, expires_at_ms, created_at_ms)
                             VALUES ($1, $2, NULL, 0, 0, $3)",
                            &[&row.run_id, &row.claimable, &row.created_at_ms],
                        )?;
                    }
                    Ok(None)
                })
            })
            .map_err(self.database("storing new runs"))?;
        match exists {
            Some(run_id) => Err(Error::Exists {
                run_id: parse_run_id(&run_id)?,
            }),
            None => Ok(()),
        }
    }

    fn commit(&self, commit: Commit<'_>) -> Result<(), Error> {
        self.writable()?;
        let Commit {
            run_id,
            expected_seq,
            head,
            steps,
            upgrade,
        } = commit;
        let Some(token) = self.held().get(&run_id).copied() else {
            return Err(Error::NotLeased { run_id });
        };
        let id = id_text(run_id);
        let worker = self.worker.clone();
        let seq = to_i64(head.seq);
        let expected = to_i64(expected_seq);
        let state = state_column(&head.state);
        let open = claimable(&head.state);
        let head_bytes = records::encode(head);
        let spec_bytes = upgrade.map(records::encode);
        let step_rows: Vec<(i64, Vec<u8>)> = steps
            .iter()
            .map(|step| (step_no(&step.step), records::encode(step)))
            .collect();
        let refused = self
            .conn
            .call(move |client| {
                in_transaction(client, |transaction| {
                    if let Err(found) = fence(transaction, &id, &worker, token)? {
                        return Ok(Some(Refusal::Fenced { held: token, found }));
                    }
                    let updated = match &spec_bytes {
                        Some(spec) => transaction.execute(
                            "UPDATE runs SET seq = $2, state = $3, head = $4, spec = $6
                             WHERE run_id = $1 AND seq = $5",
                            &[&id, &seq, &state, &head_bytes, &expected, spec],
                        )?,
                        None => transaction.execute(
                            "UPDATE runs SET seq = $2, state = $3, head = $4
                             WHERE run_id = $1 AND seq = $5",
                            &[&id, &seq, &state, &head_bytes, &expected],
                        )?,
                    };
                    if updated == 0 {
                        let found = transaction
                            .query_opt("SELECT seq FROM runs WHERE run_id = $1", &[&id])?
                            .map(|row| to_u64(row.get(0)));
                        return Ok(Some(Refusal::Conflict { found }));
                    }
                    for (step, record) in &step_rows {
                        transaction.execute(
                            "INSERT INTO steps (run_id, step_no, record) VALUES ($1, $2, $3)
                             ON CONFLICT (run_id, step_no) DO UPDATE SET record = excluded.record",
                            &[&id, step, record],
                        )?;
                    }
                    transaction.execute(
                        "UPDATE leases SET claimable = $2 WHERE run_id = $1",
                        &[&id, &open],
                    )?;
                    Ok(None)
                })
            })
            .map_err(self.database(&format!("the commit of run {run_id}")))?;
        match refused {
            None => Ok(()),
            Some(Refusal::Conflict { found }) => Err(Error::Conflict {
                run_id,
                expected: expected_seq,
                found,
            }),
            Some(Refusal::Fenced { held, found }) => Err(self.fenced(run_id, held, found)),
        }
    }

    fn flush(&self) -> FlushFuture<'_> {
        // Every commit returned after its transaction committed.
        Box::pin(async { Ok(()) })
    }

    fn run(&self, run_id: RunId) -> Result<Option<RunRecords>, Error> {
        let id = id_text(run_id);
        let found = self
            .conn
            .call(move |client| {
                // One snapshot for the head and the steps.
                let mut transaction = client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                let Some(row) = transaction
                    .query_opt("SELECT spec, head FROM runs WHERE run_id = $1", &[&id])?
                else {
                    return Ok(None);
                };
                let steps: Vec<(i64, Vec<u8>)> = transaction
                    .query(
                        "SELECT step_no, record FROM steps WHERE run_id = $1 ORDER BY step_no",
                        &[&id],
                    )?
                    .iter()
                    .map(|row| (row.get(0), row.get(1)))
                    .collect();
                transaction.commit()?;
                Ok(Some((
                    row.get::<_, Vec<u8>>(0),
                    row.get::<_, Vec<u8>>(1),
                    steps,
                )))
            })
            .map_err(self.database(&format!("the read of run {run_id}")))?;
        let Some((spec_bytes, head_bytes, step_rows)) = found else {
            return Ok(None);
        };
        let corrupt = |key: &str| {
            let key = key.to_string();
            move |source| Error::Corrupt {
                run_id: run_id.to_string(),
                key,
                source,
            }
        };
        let spec: SpecRecord = records::decode(&spec_bytes).map_err(corrupt("spec"))?;
        if spec.run_id != Id(run_id.0) {
            return Err(Error::Foreign {
                run_id,
                key: "spec".into(),
                holds: RunId(spec.run_id.0),
            });
        }
        let version = records::version_of(&head_bytes).map_err(corrupt("head"))?;
        let head: HeadRecord = records::decode(&head_bytes).map_err(corrupt("head"))?;
        let mut steps = Vec::with_capacity(step_rows.len());
        for (number, bytes) in step_rows {
            let key = format!("steps/{number}");
            let record = records::decode_step(&bytes).map_err(corrupt(&key))?;
            if step_no(&record.step) != number {
                return Err(Error::Misplaced {
                    run_id,
                    key,
                    holds: record.step.into(),
                });
            }
            steps.push(record);
        }
        Ok(Some(RunRecords {
            spec,
            head,
            steps,
            version,
        }))
    }

    fn head(&self, run_id: RunId) -> Result<Option<HeadRecord>, Error> {
        let id = id_text(run_id);
        let bytes = self
            .conn
            .call(move |client| {
                Ok(client
                    .query_opt("SELECT head FROM runs WHERE run_id = $1", &[&id])?
                    .map(|row| row.get::<_, Vec<u8>>(0)))
            })
            .map_err(self.database(&format!("the read of run {run_id}")))?;
        bytes
            .map(|bytes| decode_head(&run_id.to_string(), &bytes))
            .transpose()
    }

    fn heads(&self) -> Result<Vec<(RunId, HeadRecord)>, Error> {
        self.ids_and_records(
            "SELECT run_id, head FROM runs ORDER BY run_id",
            "the list of runs",
        )?
        .into_iter()
        .map(|(id, bytes)| Ok((parse_run_id(&id)?, decode_head(&id, &bytes)?)))
        .collect()
    }

    fn open_runs(&self) -> Result<Vec<(RunId, bool)>, Error> {
        let rows = self
            .conn
            .call(|client| {
                Ok(client
                    .query(
                        "SELECT run_id, state FROM runs WHERE state <> 'done' ORDER BY run_id",
                        &[],
                    )?
                    .iter()
                    .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
                    .collect::<Vec<_>>())
            })
            .map_err(self.database("the open runs"))?;
        rows.into_iter()
            .map(|(id, state)| Ok((parse_run_id(&id)?, state == "failed")))
            .collect()
    }

    fn batch(&self, batch_id: u128) -> Result<Option<BatchRecord>, Error> {
        let id = batch_text(batch_id);
        self.batch_where("batch_id", id)
    }

    fn batches(&self) -> Result<Vec<BatchRecord>, Error> {
        self.ids_and_records(
            "SELECT batch_id, record FROM batches ORDER BY batch_id",
            "the list of batches",
        )?
        .into_iter()
        .map(|(id, bytes)| decode_batch(&id, &bytes))
        .collect()
    }

    fn batch_by_digest(&self, digest: &str) -> Result<Option<BatchRecord>, Error> {
        self.batch_where("digest", digest.to_string())
    }

    fn acquire(&self, run_ids: &[RunId], lease_ms: u64, now_ms: u64) -> Result<Vec<RunId>, Error> {
        let ids: Vec<String> = run_ids.iter().map(|run_id| id_text(*run_id)).collect();
        self.take(
            "run_id = ANY($3) AND expires_at_ms <= $4",
            Box::new(ids),
            lease_ms,
            now_ms,
            "a lease",
        )
    }

    fn claim(&self, max: usize, lease_ms: u64, now_ms: u64) -> Result<Vec<RunId>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // Oldest first, so a fleet works through a batch in the order it was submitted.
        self.take(
            "claimable AND expires_at_ms <= $4 ORDER BY created_at_ms, run_id LIMIT $3",
            Box::new(to_i64(max as u64)),
            lease_ms,
            now_ms,
            "claiming runs",
        )
    }

    fn renew(&self, lease_ms: u64, now_ms: u64) -> Result<Vec<RunId>, Error> {
        let held: Vec<(RunId, i64)> = self
            .held()
            .iter()
            .map(|(id, token)| (*id, *token))
            .collect();
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, i64)> = held
            .iter()
            .map(|(id, token)| (id_text(*id), *token))
            .collect();
        let worker = self.worker.clone();
        let until = to_i64(now_ms.saturating_add(lease_ms));
        let kept = self
            .conn
            .call(move |client| {
                let mut kept = Vec::with_capacity(rows.len());
                for (id, token) in &rows {
                    // Renewing an expired lease nobody took is safe: its token is unchanged, so
                    // nobody else can have committed since.
                    kept.push(
                        client.execute(
                            "UPDATE leases SET expires_at_ms = $1
                             WHERE run_id = $2 AND owner = $3 AND token = $4",
                            &[&until, id, &worker, token],
                        )? == 1,
                    );
                }
                Ok(kept)
            })
            .map_err(self.database("renewing leases"))?;
        // A lost lease keeps its token here: the run's next commit goes to the database and
        // is refused there, which stops its driver with the reason.
        Ok(held
            .into_iter()
            .zip(kept)
            .filter(|(_, kept)| !kept)
            .map(|((run_id, _), _)| run_id)
            .collect())
    }

    fn release(&self, run_id: RunId) -> Result<(), Error> {
        let Some(token) = self.held().remove(&run_id) else {
            return Ok(());
        };
        let id = id_text(run_id);
        let worker = self.worker.clone();
        self.conn
            .call(move |client| {
                client.execute(
                    "UPDATE leases SET owner = NULL, expires_at_ms = 0
                     WHERE run_id = $1 AND owner = $2 AND token = $3",
                    &[&id, &worker, &token],
                )
            })
            .map_err(self.database(&format!("releasing run {run_id}")))?;
        Ok(())
    }

    fn put_plan_file(&self, run_id: RunId, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.writable()?;
        let Some(token) = self.held().get(&run_id).copied() else {
            return Err(Error::NotLeased { run_id });
        };
        let (id, name, bytes) = (id_text(run_id), name.to_string(), bytes.to_vec());
        let worker = self.worker.clone();
        let stored = self
            .conn
            .call(move |client| {
                in_transaction(client, |transaction| {
                    if let Err(found) = fence(transaction, &id, &worker, token)? {
                        return Ok(Err(found));
                    }
                    transaction.execute(
                        "INSERT INTO plan_files (run_id, name, bytes) VALUES ($1, $2, $3)
                         ON CONFLICT (run_id) DO UPDATE SET name = excluded.name, bytes = excluded.bytes",
                        &[&id, &name, &bytes],
                    )?;
                    Ok(Ok(()))
                })
            })
            .map_err(self.database(&format!("storing the plan of run {run_id}")))?;
        stored.map_err(|found| self.fenced(run_id, token, found))
    }

    fn plan_file(&self, run_id: RunId) -> Result<Option<(String, Vec<u8>)>, Error> {
        let id = id_text(run_id);
        self.conn
            .call(move |client| {
                Ok(client
                    .query_opt(
                        "SELECT name, bytes FROM plan_files WHERE run_id = $1",
                        &[&id],
                    )?
                    .map(|row| (row.get(0), row.get(1))))
            })
            .map_err(self.database(&format!("the plan of run {run_id}")))
    }

    fn reserve_slot(&self, endpoint: &str, interval_ms: u64) -> Result<Option<u64>, Error> {
        let endpoint = endpoint.to_string();
        let interval = to_i64(interval_ms);
        let wait = self
            .conn
            .call(move |client| {
                // One statement, in the database's clock: the slot is the later of now and the
                // endpoint's next free time; the next free time moves one interval past it.
                let row = client.query_one(
                    "INSERT INTO rate_slots (endpoint, next_at_ms)
                     VALUES ($1, CAST(EXTRACT(EPOCH FROM now()) * 1000 AS INT8) + $2)
                     ON CONFLICT (endpoint) DO UPDATE SET next_at_ms =
                         GREATEST(rate_slots.next_at_ms, CAST(EXTRACT(EPOCH FROM now()) * 1000 AS INT8)) + $2
                     RETURNING next_at_ms - $2 - CAST(EXTRACT(EPOCH FROM now()) * 1000 AS INT8)",
                    &[&endpoint, &interval],
                )?;
                Ok(row.get::<_, i64>(0))
            })
            .map_err(self.database("the fleet's rate slot"))?;
        Ok(Some(to_u64(wait)))
    }
}

impl PgStore {
    /// Leases to this worker the free lease rows `filter` selects (`$3` is `parameter`, `$4`
    /// now), skipping rows another claim is locking: the token is raised and the expiry set.
    fn take(
        &self,
        filter: &'static str,
        parameter: Box<dyn postgres::types::ToSql + Send + Sync>,
        lease_ms: u64,
        now_ms: u64,
        what: &str,
    ) -> Result<Vec<RunId>, Error> {
        self.writable()?;
        let worker = self.worker.clone();
        let (now, until) = (to_i64(now_ms), to_i64(now_ms.saturating_add(lease_ms)));
        let query = format!(
            "UPDATE leases SET owner = $1, token = token + 1, expires_at_ms = $2
             WHERE run_id IN (SELECT run_id FROM leases WHERE {filter} FOR UPDATE SKIP LOCKED)
             RETURNING run_id, token"
        );
        let rows = self
            .conn
            .call(move |client| {
                let rows = client.query(query.as_str(), &[&worker, &until, &*parameter, &now])?;
                Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
            })
            .map_err(self.database(what))?;
        self.take_leases(rows)
    }

    /// The (id, record) rows of a listing query.
    fn ids_and_records(
        &self,
        query: &'static str,
        what: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.conn
            .call(move |client| {
                Ok(client
                    .query(query, &[])?
                    .iter()
                    .map(|row| (row.get(0), row.get(1)))
                    .collect())
            })
            .map_err(self.database(what))
    }

    fn batch_where(
        &self,
        column: &'static str,
        value: String,
    ) -> Result<Option<BatchRecord>, Error> {
        let query = format!("SELECT batch_id, record FROM batches WHERE {column} = $1");
        let row = self
            .conn
            .call(move |client| {
                Ok(client
                    .query_opt(query.as_str(), &[&value])?
                    .map(|row| (row.get::<_, String>(0), row.get::<_, Vec<u8>>(1))))
            })
            .map_err(self.database("a batch"))?;
        row.map(|(id, bytes)| decode_batch(&id, &bytes)).transpose()
    }
}

fn decode_head(run_id: &str, bytes: &[u8]) -> Result<HeadRecord, Error> {
    records::decode(bytes).map_err(|source| Error::Corrupt {
        run_id: run_id.to_string(),
        key: "head".into(),
        source,
    })
}

fn decode_batch(id: &str, bytes: &[u8]) -> Result<BatchRecord, Error> {
    records::decode(bytes).map_err(|source| Error::Corrupt {
        run_id: format!("(batch {id})"),
        key: "batch".into(),
        source,
    })
}
