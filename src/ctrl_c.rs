//! Ctrl-C for a whole run. It is caught once at start-up so that it never kills the process half-way
//! (through a write, or through saving a plan file); each phase decides what it means there: the
//! wizard and the observing phases stop with nothing changed, apply stops after the call in flight.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

use crate::interact::Interrupt;

/// The run was interrupted before anything was written.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Whether Ctrl-C was pressed, as a flag (for apply) and as something to wait for.
#[derive(Clone, Debug)]
pub struct CtrlC {
    interrupt: Interrupt,
    pressed: watch::Receiver<bool>,
    /// While a `Skip` is held, presses go to it (a count) and do not interrupt the run.
    diverted: Arc<AtomicBool>,
    skips: watch::Receiver<u64>,
}

/// Ctrl-C means "skip this" while held (waiting for something the person may give up on), not
/// "stop the run": the press is decided in the handler itself, so it never reaches the flag.
pub struct Skip {
    diverted: Arc<AtomicBool>,
    skips: watch::Receiver<u64>,
}

impl Skip {
    /// Resolves at the next Ctrl-C after the `Skip` was taken.
    pub async fn pressed(&mut self) {
        let _ = self.skips.changed().await;
    }
}

impl Drop for Skip {
    fn drop(&mut self) {
        self.diverted.store(false, Ordering::SeqCst);
    }
}

impl CtrlC {
    /// Catch Ctrl-C (SIGINT) from now on. Registered before returning, so no Ctrl-C is missed.
    pub fn install() -> anyhow::Result<CtrlC> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut sigint = signal(SignalKind::interrupt())?;
        let interrupt = Interrupt::new();
        let (tx, pressed) = watch::channel(false);
        let (skip_tx, skips) = watch::channel(0u64);
        let diverted = Arc::new(AtomicBool::new(false));
        let flag = interrupt.clone();
        let divert = diverted.clone();
        tokio::spawn(async move {
            while sigint.recv().await.is_some() {
                if divert.load(Ordering::SeqCst) {
                    skip_tx.send_modify(|n| *n += 1);
                } else {
                    flag.trigger();
                    let _ = tx.send(true);
                }
            }
        });
        Ok(CtrlC {
            interrupt,
            pressed,
            diverted,
            skips,
        })
    }

    /// From now until the `Skip` is dropped, Ctrl-C skips instead of interrupting.
    pub fn skip(&self) -> Skip {
        self.diverted.store(true, Ordering::SeqCst);
        let mut skips = self.skips.clone();
        skips.mark_unchanged();
        Skip {
            diverted: self.diverted.clone(),
            skips,
        }
    }

    /// The flag `engine::apply` checks before each change.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    pub fn is_pressed(&self) -> bool {
        self.interrupt.is_set()
    }

    /// Resolves once Ctrl-C has been pressed.
    pub async fn pressed(&self) {
        let mut rx = self.pressed.clone();
        let _ = rx.wait_for(|&p| p).await;
    }

    /// Run `work` unless Ctrl-C comes first; then drop it and fail with `Interrupted`. Only for
    /// work that reads: dropping a write half-way is what this module exists to prevent.
    pub async fn or_interrupted<T>(
        &self,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        if self.is_pressed() {
            return Err(Interrupted.into());
        }
        tokio::select! {
            r = work => r,
            () = self.pressed() => Err(Interrupted.into()),
        }
    }
}

/// Whether an error means the person pressed Ctrl-C.
pub fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Interrupted>())
}
