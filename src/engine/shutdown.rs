//! Stopping drivers: a shutdown request (from SIGINT or SIGTERM, or a test) means no new
//! requests; requests in flight get a grace period to finish and be committed; waits are
//! abandoned (they are persisted, and `resume` re-arms them).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Exit code after SIGINT.
pub const SIGINT_EXIT: u8 = 130;
/// Exit code after SIGTERM.
pub const SIGTERM_EXIT: u8 = 143;

#[derive(Clone)]
pub struct Shutdown {
    requested: tokio::sync::watch::Receiver<bool>,
    pub grace_ms: u64,
    /// The exit code of the signal that asked, once one did (0 before).
    signal: Arc<AtomicU8>,
}

/// What triggers a shutdown by hand.
pub struct Trigger(tokio::sync::watch::Sender<bool>);

impl Trigger {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// A shutdown that never comes (tests, benchmarks).
    pub fn never() -> Shutdown {
        let (shutdown, trigger) = Shutdown::new(0);
        // The sender must outlive every receiver, or `changed()` would resolve.
        std::mem::forget(trigger);
        shutdown
    }

    /// A shutdown and the handle that triggers it.
    pub fn new(grace_ms: u64) -> (Shutdown, Trigger) {
        let (sender, requested) = tokio::sync::watch::channel(false);
        (
            Shutdown {
                requested,
                grace_ms,
                signal: Arc::new(AtomicU8::new(0)),
            },
            Trigger(sender),
        )
    }

    /// A shutdown triggered by SIGINT or SIGTERM. The listening task ends with the process;
    /// it owns nothing but the trigger.
    pub fn on_signals(grace_ms: u64) -> Shutdown {
        let (shutdown, trigger) = Shutdown::new(grace_ms);
        let signal = shutdown.signal.clone();
        tokio::spawn(async move {
            let code = wait_for_signal().await;
            signal.store(code, Ordering::SeqCst);
            eprintln!(
                "periodize: stopping: no new requests; in-flight requests get {grace_ms} ms to finish"
            );
            trigger.stop();
        });
        shutdown
    }

    pub fn is_requested(&self) -> bool {
        *self.requested.borrow()
    }

    /// The exit code for a run stopped by this shutdown: the signal's, or SIGINT's.
    pub fn exit_code(&self) -> u8 {
        match self.signal.load(Ordering::SeqCst) {
            0 => SIGINT_EXIT,
            code => code,
        }
    }

    pub async fn wait(&mut self) {
        while !*self.requested.borrow_and_update() {
            if self.requested.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM with the exit code that signal gets.
pub async fn wait_for_signal() -> u8 {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        result = tokio::signal::ctrl_c() => match result {
            Ok(()) => SIGINT_EXIT,
            Err(_) => std::future::pending::<u8>().await,
        },
        () = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => SIGTERM_EXIT,
    }
}
