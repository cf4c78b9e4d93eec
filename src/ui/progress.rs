//! Progress: spinners and one line per change on a terminal (indicatif), plain lines otherwise.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::change::Change;
use crate::interact::Reporter;

/// Reports progress on stderr: animated on a terminal, plain lines when piped, nothing when quiet.
pub struct Progress {
    animated: bool,
    quiet: bool,
    current: Mutex<Option<(ProgressBar, Instant)>>,
}

impl Progress {
    pub fn new(stderr_tty: bool, quiet: bool) -> Progress {
        Progress {
            animated: stderr_tty && !quiet,
            quiet,
            current: Mutex::new(None),
        }
    }

    fn spinner(&self, msg: String, announce: bool) {
        if self.quiet {
            return;
        }
        if !self.animated {
            // Plain output: one line when a phase starts; changes get one line when they end.
            if announce {
                eprintln!("{msg}");
            }
            *self.current.lock().unwrap() = Some((ProgressBar::hidden(), Instant::now()));
            return;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}").expect("template"),
        );
        bar.set_message(msg);
        bar.enable_steady_tick(Duration::from_millis(100));
        *self.current.lock().unwrap() = Some((bar, Instant::now()));
    }

    fn finish(&self, line: Option<String>) {
        let current = self.current.lock().unwrap().take();
        match (current, line) {
            (Some((bar, started)), Some(line)) => {
                bar.finish_and_clear();
                if !self.quiet {
                    eprintln!("{line} ({:.1}s)", started.elapsed().as_secs_f64());
                }
            }
            (Some((bar, _)), None) => bar.finish_and_clear(),
            (None, Some(line)) if !self.quiet => eprintln!("{line}"),
            _ => {}
        }
    }

    /// Run `f` with the spinner hidden (prompts and messages).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.current.lock().unwrap().as_ref() {
            Some((bar, _)) => bar.suspend(f),
            None => f(),
        }
    }
}

fn describe(c: &Change) -> String {
    format!("{} {}", c.action.marker(), c.resource)
}

impl Reporter for Progress {
    fn phase(&self, text: &str) {
        self.spinner(format!("{text}..."), true);
    }
    fn phase_done(&self) {
        self.finish(None);
    }
    fn change_started(&self, change: &Change) {
        self.spinner(describe(change), false);
    }
    fn change_finished(&self, change: &Change, result: Result<(), &str>) {
        let line = match result {
            Ok(()) => format!("done   {}", describe(change)),
            Err(_) => format!("FAILED {}", describe(change)),
        };
        self.finish(Some(line));
    }
}
