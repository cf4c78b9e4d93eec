//! Questions and secrets at a terminal (dialoguer). Prompts draw on stderr with progress hidden.

use std::sync::Arc;

use dialoguer::{Confirm, Input};

use crate::interact::{Interaction, write_secret_file};
use crate::ui::TermCaps;
use crate::ui::progress::Progress;
use crate::ui::prompt;

pub struct Terminal {
    pub caps: TermCaps,
    /// `--yes`: never ask anything.
    pub assume_yes: bool,
    pub progress: Arc<Progress>,
    /// Where secret files go when stdout is not a terminal.
    pub secret_dir: std::path::PathBuf,
}

impl Interaction for Terminal {
    fn is_interactive(&self) -> bool {
        self.caps.interactive && !self.assume_yes
    }

    fn confirm(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        if !self.is_interactive() {
            return Ok(default);
        }
        self.progress.suspend(|| {
            Confirm::with_theme(&prompt::theme())
                .with_prompt(question)
                .default(default)
                .interact()
                .map_err(prompt::error)
        })
    }

    fn input(
        &self,
        prompt: &str,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        anyhow::ensure!(
            self.is_interactive(),
            "cannot ask \"{prompt}\": not running interactively"
        );
        self.progress.suspend(|| {
            Input::<String>::with_theme(&prompt::theme())
                .with_prompt(prompt)
                .validate_with(|s: &String| validate(s.trim()))
                .interact_text()
                .map(|s| s.trim().to_string())
                .map_err(prompt::error)
        })
    }

    fn message(&self, text: &str) {
        self.progress.suspend(|| eprintln!("{text}"));
    }

    fn deliver_secret(
        &self,
        title: &str,
        file_stem: &str,
        secret: &str,
    ) -> anyhow::Result<Option<String>> {
        if self.caps.stdout_tty {
            self.progress.suspend(|| {
                println!("\n{title}:\n\n    {secret}\n\nThis is shown once and stored nowhere. Keep it now.\n");
                // What follows (an MFA QR code, say) would push it off a small screen.
                if self.is_interactive() {
                    // Ctrl-C here has already set the run's interrupt flag (apply stops after
                    // this change); the password is set and shown, so this change still succeeded.
                    let _ = Input::<String>::with_theme(&prompt::theme())
                        .with_prompt("Saved it? Press Enter to go on")
                        .allow_empty(true)
                        .interact_text();
                }
            });
            Ok(None)
        } else {
            let path = write_secret_file(&self.secret_dir, file_stem, secret)?;
            Ok(Some(format!(
                "{title}: written to {} (mode 0600; delete it once stored safely)",
                path.display()
            )))
        }
    }

    fn show_mfa_secret(&self, title: &str, uri: &str, secret: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.caps.interactive,
            "cannot show an MFA secret: not a terminal"
        );
        let qr = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot draw the QR code: {e}"))?
            .render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build();
        // On stderr, where the prompts are: the seed must never reach a file or a pipe.
        self.progress.suspend(|| {
            eprintln!(
                "\n{title}\nScan this QR code with an authenticator app:\n\n{qr}\n\nOr type this secret key into the app: {secret}\n"
            )
        });
        Ok(())
    }

    fn status(&self, text: Option<&str>) {
        let term = console::Term::stderr();
        let _ = term.clear_line();
        if let Some(t) = text {
            let _ = term.write_str(t);
        }
    }
}
