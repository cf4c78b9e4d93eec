//! The commands: each returns an `Outcome`; `main` turns it into an exit code.
//!
//! A run is: connect -> (the wizard, when there is no plan file) -> load the plan -> assess ->
//! show -> confirm -> apply -> show the result. Each step is one function below. `apply FILE` is
//! the same run with the plan and the changes from a saved file (`apply_saved`).

mod apply_saved;
mod org;
mod root_mfa;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::CommandFactory;

use crate::aws::{self, Aws, CallLog, Caller, ConnectOptions};
use crate::cli::{Cli, Command};
use crate::ctrl_c::{CtrlC, is_interrupted};
use crate::engine;
use crate::interact::Interaction;
use crate::plan::{self, LoadedPlan, Placeholders};
use crate::settings::{Mode, Settings};
use crate::ui::TermCaps;
use crate::ui::progress::Progress;
use crate::ui::render::NewPassword;
use crate::ui::terminal::Terminal;
use crate::ui::view::{Closing, RunFacts};
use crate::ui::wizard;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything attempted succeeded / the account matches.
    Success,
    /// `--plan`: changes or manual actions are pending.
    Pending,
    /// An error or a failed change.
    Failed,
    /// Ctrl-C.
    Interrupted,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::Failed => 1,
            Outcome::Pending => 2,
            Outcome::Interrupted => 130,
        }
    }
}

/// What every step of a run shares.
struct Session {
    settings: Settings,
    started: Instant,
    progress: Arc<Progress>,
    ctrl_c: CtrlC,
}

pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    if let Some(Command::Policy { .. }) = cli.command {
        let policy = crate::aws::permissions::plan_only_policy();
        println!("{}", serde_json::to_string_pretty(&policy)?);
        return Ok(Outcome::Success);
    }
    if let Some(Command::Completions { shell }) = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "aws-harden",
            &mut std::io::stdout(),
        );
        return Ok(Outcome::Success);
    }
    // Everything that does not depend on the account is checked before the first AWS call.
    let mut settings = Settings::new(cli, TermCaps::detect())?;
    let loaded = settings.loaded.take();
    let session = Session {
        progress: Arc::new(Progress::new(settings.caps.stderr_tty, false)),
        ctrl_c: CtrlC::install()?,
        started: Instant::now(),
        settings,
    };
    match session.run(loaded).await {
        Err(e) if is_interrupted(&e) => {
            eprintln!("\nInterrupted. Nothing was changed in the account.");
            Ok(Outcome::Interrupted)
        }
        other => other,
    }
}

impl Session {
    async fn run(&self, loaded: Option<LoadedPlan>) -> anyhow::Result<Outcome> {
        let (aws, signed_in) = self
            .ctrl_c
            .or_interrupted(self.connect(loaded.as_ref()))
            .await?;
        let from_wizard = loaded.is_none();
        let loaded = match loaded {
            Some(l) => l,
            None => match wizard::run(&aws, &self.progress, &self.ctrl_c).await? {
                wizard::Ending::Plan(path) => plan::load(&path)?,
                wizard::Ending::NotSaved => {
                    eprintln!("No plan was saved. Nothing was changed.");
                    return Ok(Outcome::Success);
                }
            },
        };
        if self.settings.org.is_some() {
            return self.run_org(&aws, &loaded).await;
        }
        self.check_and_apply(&aws, &signed_in, &loaded, from_wizard)
            .await
    }

    /// Identify the caller; check the plan's names with the real account ID right away, before
    /// any other call; then start an MFA session if one applies. Also returns the caller as
    /// signed in, before any MFA session (saved changes record and compare that one).
    async fn connect(&self, loaded: Option<&LoadedPlan>) -> anyhow::Result<(Aws, Caller)> {
        let connection = &self.settings.connection;
        let calls = Arc::new(CallLog::default());
        let sdk = aws::load_config(&ConnectOptions {
            profile: connection.profile.clone(),
            region: connection.region.clone(),
        })
        .await?;
        let aws = Aws::connect(sdk, connection.profile.as_deref(), calls).await?;
        // Saved changes are for one account and one caller: refused before any other call.
        if let Some(saved) = &self.settings.saved {
            saved.changes.check_caller(&saved.path, &aws.caller)?;
        }
        let signed_in = aws.caller.clone();
        if let Some(l) = loaded {
            plan::resolve(&l.plan, &placeholders(&aws, l)).map_err(|e| e.in_file(&l.path))?;
            aws::check_partition(&aws.caller, &l.plan.home_region)?;
        }
        // IAM users with an MFA device continue with an MFA session (needed once MFA is enforced).
        let aws = crate::mfa_session::establish(
            aws,
            connection.mfa_code.as_deref(),
            connection.mfa_serial.as_deref(),
            &self.terminal()?,
        )
        .await?;
        Ok((aws, signed_in))
    }

    fn terminal(&self) -> anyhow::Result<Terminal> {
        Ok(Terminal {
            caps: self.settings.caps,
            assume_yes: self.settings.never_prompt,
            progress: self.progress.clone(),
            secret_dir: std::env::current_dir().context("finding the current directory")?,
        })
    }

    fn facts<'a>(&self, aws: &'a Aws, plan_file: &'a str, plan_text: &'a str) -> RunFacts<'a> {
        RunFacts {
            aws,
            plan_file,
            plan_text,
            seconds: self.started.elapsed().as_secs_f64(),
            stats: self.settings.stats,
        }
    }

    /// Observe the account, show what differs from the plan, and (unless `--plan`) apply it.
    /// `from_wizard`: the plan was just written, so say how to use it again once the account matches.
    async fn check_and_apply(
        &self,
        aws: &Aws,
        signed_in: &Caller,
        loaded: &LoadedPlan,
        from_wizard: bool,
    ) -> anyhow::Result<Outcome> {
        let settings = &self.settings;
        let view = settings.view.as_ref();
        let path = loaded.path.as_path();
        let terminal = self.terminal()?;
        let interactive = terminal.is_interactive();
        let (aws, mut assessment) = self
            .ctrl_c
            .or_interrupted(assess_account(
                aws,
                loaded,
                interactive,
                self.progress.as_ref(),
            ))
            .await?;
        if let Some(saved) = &settings.saved {
            // `apply FILE`: exactly the saved changes, or nothing.
            apply_saved::check_unchanged(saved, &assessment)?;
            assessment.changes = saved.changes.changes.clone();
        }
        let plan_file = path.display().to_string();
        view.assessment(&self.facts(&aws, &plan_file, &loaded.text), &assessment);
        if let Some(out) = &settings.out {
            apply_saved::save(out, signed_in, loaded, &assessment)?;
        }
        let dry_run = settings.mode == Mode::DryRun;
        // Root MFA is console-only: an interactive apply may wait while the person turns it on.
        let assessment = if dry_run {
            assessment
        } else {
            root_mfa::offer_to_wait(&aws, assessment, &terminal, &self.ctrl_c).await?
        };
        let mut closing = Closing {
            signin_url: String::new(),
            new_password: None,
            rerun: rerun_command(path),
            from_wizard,
        };
        let applicable = assessment.applicable();
        if dry_run || !applicable {
            // A dry run's next step is the run itself, not a hint about re-using the plan.
            closing.from_wizard &= !dry_run;
            view.unchanged(
                &self.facts(&aws, &plan_file, &loaded.text),
                &assessment,
                &closing,
            );
            return Ok(if assessment.has_errors() {
                Outcome::Failed
            } else if dry_run && assessment.pending() {
                Outcome::Pending
            } else {
                Outcome::Success
            });
        }
        if settings.mode == Mode::ApplyAsking && !terminal.confirm("Apply these changes?", false)? {
            let later = match &settings.saved {
                Some(saved) => format!("aws-harden apply {}", saved.path.display()),
                None => rerun_command(path),
            };
            eprintln!("Nothing was changed. To apply later: {later}");
            return Ok(match assessment.has_errors() {
                true => Outcome::Failed,
                false => Outcome::Success,
            });
        }
        let report = self.apply(&aws, &assessment, &terminal).await;
        let user = new_password_user(&report);
        // The alias is read only when there is a sign-in step to print.
        if let Some(user) = user {
            closing.signin_url = aws.signin_url().await;
            closing.new_password = Some(NewPassword {
                user,
                delivered: if settings.caps.stdout_tty {
                    "shown above"
                } else {
                    "in the file named above"
                },
            });
        }
        view.applied(
            &self.facts(&aws, &plan_file, &loaded.text),
            &assessment,
            &report,
            &closing,
        );
        // Ctrl-C at a prompt during apply (say, for an MFA code) fails that change: still an interruption.
        Ok(if report.interrupted || self.ctrl_c.is_pressed() {
            Outcome::Interrupted
        } else if report.succeeded() && !assessment.has_errors() {
            Outcome::Success
        } else {
            Outcome::Failed
        })
    }

    /// Apply with Ctrl-C stopping after the call in flight.
    async fn apply(
        &self,
        aws: &Aws,
        assessment: &engine::Assessment,
        terminal: &Terminal,
    ) -> engine::ApplyReport {
        let on_ctrl_c = {
            let ctrl_c = self.ctrl_c.clone();
            let progress = self.progress.clone();
            tokio::spawn(async move {
                ctrl_c.pressed().await;
                progress.suspend(|| eprintln!("\nInterrupted: stopping after the call in flight."));
            })
        };
        let report = engine::apply(
            aws,
            assessment,
            self.progress.as_ref(),
            terminal,
            self.ctrl_c.interrupt(),
        )
        .await;
        on_ctrl_c.abort();
        report
    }
}

/// One account's assessment: the plan resolved for it (names with placeholders are checked again,
/// expanded, before the first write), its partition checked, then observed and diffed in the
/// plan's home region. The region check goes out with the first reads (no extra round trip), and
/// any write comes after both. Returns the account's context in its home region.
async fn assess_account(
    aws: &Aws,
    loaded: &LoadedPlan,
    interactive: bool,
    reporter: &dyn engine::Reporter,
) -> anyhow::Result<(Aws, engine::Assessment)> {
    let resolved = plan::resolve(&loaded.plan, &placeholders(aws, loaded))
        .map_err(|e| e.in_file(&loaded.path))?;
    aws::check_partition(&aws.caller, &resolved.home_region)?;
    let aws = aws.in_home_region(&resolved.home_region);
    let (assessment, region) = tokio::join!(
        engine::assess(&aws, &resolved, interactive, reporter),
        aws::check_home_region(&aws, &resolved.home_region),
    );
    region?;
    Ok((aws, assessment?))
}

/// The admin user a console password was created for in this apply: the next steps begin with
/// signing in as it.
fn new_password_user(report: &engine::ApplyReport) -> Option<&str> {
    use crate::controls::{Op, admin_user};
    report
        .applied
        .iter()
        .flat_map(|c| &c.ops)
        .find_map(|op| match op {
            Op::AdminUser(admin_user::Op::CreateLoginProfile { user, .. }) => Some(user.as_str()),
            _ => None,
        })
}

fn placeholders(aws: &Aws, loaded: &LoadedPlan) -> Placeholders {
    Placeholders {
        account_id: aws.account_id().to_string(),
        home_region: loaded.plan.home_region.clone(),
    }
}

/// The command that carries on where this run stopped.
fn rerun_command(path: &Path) -> String {
    format!("aws-harden -f {}", PathBuf::from(path).display())
}
