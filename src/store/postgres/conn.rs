//! The one owner of a PostgreSQL connection: a thread that holds the client and runs the
//! store's database work in the order it was asked for. The store boundary is synchronous
//! (sled's writes are in memory until the flush); a commit here is a round trip on loopback or
//! a LAN, well under the model latency it sits beside, so callers wait for it rather than
//! making every caller of the store asynchronous. The sync client keeps its own runtime on this
//! thread, so it never blocks or nests inside the engine's.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls};

/// How long opening a connection may take before the store reports the database unreachable.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// A session that stays idle inside a transaction this long is ended by the server. Our
/// transactions take milliseconds; a client paused in the middle of one (SIGSTOP, a frozen VM)
/// would otherwise keep its lease row locked, and no other worker could take its run over.
/// As long as the default lease: a client paused for less is taken over by the lease and
/// refused by its fencing token as usual.
pub const IDLE_IN_TRANSACTION_TIMEOUT_MS: u64 = 30_000;
/// Attempts of one transaction that the database aborted for a conflict it asks the client to
/// retry (a serialization failure or a deadlock; CockroachDB reports every contention so).
pub const MAX_TRANSACTION_ATTEMPTS: u32 = 8;

type Job = Box<dyn FnOnce(&mut Option<Client>) + Send>;

pub struct Connection {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    url: String,
}

impl Connection {
    /// Connects (and fails now, with the server's reason, if it cannot).
    pub fn open(url: &str) -> Result<Connection, postgres::Error> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, first) = mpsc::sync_channel(1);
        let target = url.to_string();
        // Even the first connect runs on the thread: the client must never block a thread of
        // the engine's runtime.
        let thread = std::thread::Builder::new()
            .name("periodize-postgres".into())
            .spawn(move || {
                let mut client = match connect(&target) {
                    Ok(client) => {
                        let _ = opened.send(Ok(()));
                        Some(client)
                    }
                    Err(err) => {
                        let _ = opened.send(Err(err));
                        return;
                    }
                };
                while let Ok(job) = queue.recv() {
                    job(&mut client);
                }
            })
            .expect("a thread can be started");
        first
            .recv()
            .expect("the connection thread reports its first connect")?;
        Ok(Connection {
            jobs: Some(jobs),
            thread: Some(thread),
            url: url.to_string(),
        })
    }

    /// Runs `work` on the connection thread and waits for its result. A connection the server
    /// closed (a restart, a failover) is opened again before the work runs.
    pub fn call<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, postgres::Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        let url = self.url.clone();
        let job: Job = Box::new(move |slot: &mut Option<Client>| {
            let result = (|| {
                if slot.as_ref().is_none_or(Client::is_closed) {
                    *slot = None;
                    *slot = Some(connect(&url)?);
                }
                work(slot.as_mut().expect("connected above"))
            })();
            let _ = reply.send(result);
        });
        self.jobs
            .as_ref()
            .expect("jobs are open until drop")
            .send(job)
            .expect("the connection thread runs until the store is dropped");
        answer
            .recv()
            .expect("the connection thread answers every job it takes")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the jobs already sent.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn connect(url: &str) -> Result<Client, postgres::Error> {
    let mut config: postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS));
    }
    config.application_name("periodize");
    let timeout =
        format!("-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}");
    let options = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {timeout}"),
        _ => timeout,
    };
    config.options(&options);
    config.connect(NoTls)
}

/// Whether the database aborted a transaction and asks for it to be run again.
pub fn is_retryable(err: &postgres::Error) -> bool {
    matches!(
        err.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    )
}

/// Runs `body` in a transaction, again while the database asks for a retry.
pub fn in_transaction<R>(
    client: &mut Client,
    mut body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<R, postgres::Error>,
) -> Result<R, postgres::Error> {
    let mut attempt = 1;
    loop {
        let mut transaction = client.transaction()?;
        let result = body(&mut transaction).and_then(|value| {
            transaction.commit()?;
            Ok(value)
        });
        match result {
            Err(err) if is_retryable(&err) && attempt < MAX_TRANSACTION_ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

/// `url` with its password (if any) replaced, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a database URL)".to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    // A query string may carry `password=`: it is dropped whole.
    let tail = tail.split('?').next().unwrap_or("");
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_password_never_reaches_a_message() {
        assert_eq!(
            redacted("postgres://fleet:s3cret@db.example:5432/plans?sslmode=disable&password=x"),
            "postgres://fleet:***@db.example:5432/plans"
        );
        assert_eq!(
            redacted("postgresql://fleet@127.0.0.1/plans"),
            "postgresql://fleet@127.0.0.1/plans"
        );
        assert_eq!(redacted("host=db password=x"), "(a database URL)");
    }
}
