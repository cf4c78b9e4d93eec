//! How core code talks to the person running it, without knowing about terminals: an
//! `Interaction` for questions and secrets, and an `Interrupt` flag for Ctrl-C. Only `ui` (and
//! `ctrl_c`, for the flag) implements them. Progress goes through the engine's `Reporter`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Questions, messages and secrets during apply. Implementations hide progress while prompting.
pub trait Interaction: Send + Sync {
    /// A person can answer questions now (a terminal, and not `--yes`).
    fn is_interactive(&self) -> bool;
    /// Ask a yes/no question. Never called when not interactive.
    fn confirm(&self, question: &str, default: bool) -> anyhow::Result<bool>;
    /// Ask for a line of text; `validate` returns an error message to re-ask with.
    fn input(
        &self,
        prompt: &str,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String>;
    /// Tell the person something now (on the terminal, above any progress).
    fn message(&self, text: &str);
    /// Hand over a secret exactly once: on the terminal when stdout is one, else into a new file
    /// with mode 0600. Returns where it went when that still needs saying (a file), `None` when it
    /// was just shown with its title. Never logged.
    fn deliver_secret(
        &self,
        title: &str,
        file_stem: &str,
        secret: &str,
    ) -> anyhow::Result<Option<String>>;
    /// Show an MFA enrollment secret on the screen only (never a file, never a log): `uri` (an
    /// `otpauth://` URI) as a QR code and `secret` (Base32) as text to type in instead.
    fn show_mfa_secret(&self, title: &str, uri: &str, secret: &str) -> anyhow::Result<()> {
        let _ = (title, uri, secret);
        anyhow::bail!("cannot show an MFA secret: no terminal")
    }
    /// A one-line status that replaces the previous one (a countdown); `None` clears it.
    fn status(&self, text: Option<&str>) {
        if let Some(t) = text {
            self.message(t);
        }
    }
}

/// Set by the Ctrl-C handler: stop after the call in flight.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Create a new file readable only by its owner and write the secret into it. Never overwrites:
/// if the name is taken, a numbered name is used.
pub fn write_secret_file(
    dir: &std::path::Path,
    stem: &str,
    secret: &str,
) -> anyhow::Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    for n in 0..100 {
        let name = if n == 0 {
            format!("{stem}.txt")
        } else {
            format!("{stem}.{n}.txt")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(secret.as_bytes())?;
                f.write_all(b"\n")?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => anyhow::bail!("cannot create {}: {e}", path.display()),
        }
    }
    anyhow::bail!("cannot create a new file for {stem} in {}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secret_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_secret_file(dir.path(), "pw", "one").unwrap();
        let b = write_secret_file(dir.path(), "pw", "two").unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "one\n");
        assert_eq!(
            std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
