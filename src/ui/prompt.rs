//! The questions themselves (dialoguer, on stderr), one theme for all. Ctrl-C at a prompt becomes
//! `ctrl_c::Interrupted`, so the caller can stop with nothing changed.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Select};

use crate::ctrl_c::Interrupted;

pub fn theme() -> ColorfulTheme {
    ColorfulTheme::default()
}

/// A failed prompt: Ctrl-C (console raises SIGINT, which `CtrlC` catches, and the read fails with
/// `Interrupted`) or a broken terminal.
pub fn error(e: dialoguer::Error) -> anyhow::Error {
    let dialoguer::Error::IO(io) = &e;
    if io.kind() == std::io::ErrorKind::Interrupted {
        // A select prompt hides the cursor and does not show it again when interrupted.
        let _ = console::Term::stderr().show_cursor();
        return Interrupted.into();
    }
    anyhow::anyhow!("prompt failed: {e}")
}

pub fn yes_no(question: &str, default: bool) -> anyhow::Result<bool> {
    Confirm::with_theme(&theme())
        .with_prompt(question)
        .default(default)
        .interact()
        .map_err(error)
}

/// A line of text, `default` on Enter; re-asked with `validate`'s message until it passes.
pub fn text(
    question: &str,
    default: &str,
    validate: &dyn Fn(&str) -> Result<(), String>,
) -> anyhow::Result<String> {
    Input::<String>::with_theme(&theme())
        .with_prompt(question)
        .default(default.to_string())
        .validate_with(|s: &String| validate(s.trim()))
        .interact_text()
        .map(|s| s.trim().to_string())
        .map_err(error)
}

/// One of `items`; returns its index.
pub fn choose(question: &str, items: &[&str], default: usize) -> anyhow::Result<usize> {
    Select::with_theme(&theme())
        .with_prompt(question)
        .items(items)
        .default(default)
        .interact()
        .map_err(error)
}
