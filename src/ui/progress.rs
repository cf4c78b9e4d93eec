//! Progress: spinners and one line per change on a terminal (indicatif), plain lines otherwise.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::controls::Change;
use crate::engine::Reporter;

/// Reports progress on stderr: animated on a terminal, plain lines when piped, nothing when quiet.
pub struct Progress {
    /// stderr is a terminal: changes end with a mark (✓/✗) rather than a word.
    animated: bool,
    /// Spinners are drawn: a terminal, and NO_COLOR not set.
    spin: bool,
    quiet: bool,
    current: Mutex<Option<(ProgressBar, Instant)>>,
}

impl Progress {
    pub fn new(stderr_tty: bool, quiet: bool) -> Progress {
        Progress {
            animated: stderr_tty && !quiet,
            // NO_COLOR asks for plain output: marks stay, spinners (redrawn lines) go.
            spin: stderr_tty && !quiet && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            quiet,
            current: Mutex::new(None),
        }
    }

    fn spinner(&self, msg: String, announce: bool) {
        if self.quiet {
            return;
        }
        if !self.spin {
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
                    let secs = format!("({:.1}s)", started.elapsed().as_secs_f64());
                    eprintln!("{line} {}", console::style(secs).dim().for_stderr());
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
    format!("{} {}", c.action.marker(), c.located())
}

/// The line a change leaves behind: a mark on a terminal (coloured unless NO_COLOR), a word when
/// piped, so logs read plainly.
fn finished_line(animated: bool, change: &Change, ok: bool) -> String {
    let what = describe(change);
    match (animated, ok) {
        (true, true) => format!("{} {what}", console::style("✓").green().for_stderr()),
        (true, false) => format!("{} {what}", console::style("✗").red().for_stderr()),
        (false, true) => format!("done   {what}"),
        (false, false) => format!("FAILED {what}"),
    }
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
        self.finish(Some(finished_line(self.animated, change, result.is_ok())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Action, ControlId};

    #[test]
    fn finished_lines_plain_and_on_a_terminal() {
        let c = Change::with_ops(
            ControlId::AdminGroup,
            "iam group \"Administrators\"",
            Action::Create,
            Vec::new(),
        );
        assert_eq!(
            finished_line(false, &c, true),
            "done   + iam group \"Administrators\""
        );
        assert_eq!(
            finished_line(false, &c, false),
            "FAILED + iam group \"Administrators\""
        );
        console::set_colors_enabled_stderr(false);
        assert_eq!(
            finished_line(true, &c, true),
            "✓ + iam group \"Administrators\""
        );
        assert_eq!(
            finished_line(true, &c, false),
            "✗ + iam group \"Administrators\""
        );
    }
}
