//! Everything that knows about terminals: rendering changes (human and JSON), progress (indicatif),
//! prompts (dialoguer), colour. Core code reaches it only through `interact`'s traits.

pub mod json;
pub mod junit;
pub mod markdown;
pub mod org;
pub mod progress;
pub mod prompt;
pub mod render;
pub mod sarif;
pub mod terminal;
pub mod view;
pub mod wizard;

use std::io::IsTerminal;

/// What the terminal allows, decided once at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TermCaps {
    /// stdin and stderr are terminals: a person can answer prompts.
    pub interactive: bool,
    /// stdout is a terminal (secrets may be shown there).
    pub stdout_tty: bool,
    /// stderr is a terminal (progress bars and spinners may be drawn there).
    pub stderr_tty: bool,
    /// Colour on stdout: a terminal and NO_COLOR unset.
    pub color: bool,
}

impl TermCaps {
    pub fn detect() -> TermCaps {
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        let interactive = std::io::stdin().is_terminal() && stderr_tty;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = stdout_tty && !no_color;
        console::set_colors_enabled(color);
        console::set_colors_enabled_stderr(stderr_tty && !no_color);
        TermCaps {
            interactive,
            stdout_tty,
            stderr_tty,
            color,
        }
    }
}
