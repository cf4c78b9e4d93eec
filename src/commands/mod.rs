//! The commands: each returns an `Outcome`; `main` turns it into an exit code.
//!
//! A run is: connect -> (the wizard, when there is no plan file) -> load the plan -> assess ->
//! show -> confirm -> apply -> show the result. Each step is one function below.

mod root_mfa;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::CommandFactory;

use crate::aws::{self, Aws, CallLog, ConnectOptions};
use crate::cli::{Cli, Command, OutputFormat};
use crate::ctrl_c::{CtrlC, is_interrupted};
use crate::engine;
use crate::interact::Interaction;
use crate::plan::{self, LoadedPlan, Placeholders};
use crate::ui::progress::Progress;
use crate::ui::terminal::Terminal;
use crate::ui::wizard;
use crate::ui::{TermCaps, json, render};

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
    cli: Cli,
    caps: TermCaps,
    started: Instant,
    progress: Arc<Progress>,
    ctrl_c: CtrlC,
}

pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    if let Some(Command::Completions { shell }) = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "aws-harden",
            &mut std::io::stdout(),
        );
        return Ok(Outcome::Success);
    }
    let caps = TermCaps::detect();
    // Everything that does not depend on the account is checked before the first AWS call.
    if let Some(code) = &cli.mfa_code {
        crate::controls::admin_mfa::check_code(code).map_err(|e| {
            anyhow::anyhow!("--mfa-code {}: not a code: {e}", crate::plan::show(code))
        })?;
    }
    let loaded = match &cli.file {
        Some(path) => Some(plan::load(path)?),
        None if !caps.interactive => {
            bail!(
                "no plan file: use -f plans/x.toml (plans/baseline.toml is the recommended one), or run at a terminal for the setup wizard"
            )
        }
        None if cli.yes => {
            bail!(
                "no plan file: --yes never asks questions, so it needs one: use -f plans/x.toml (without --yes at a terminal, the setup wizard writes one)"
            )
        }
        None => None,
    };
    // JSON shows no changes on the screen, so nobody can have read what a question would be about.
    if cli.output == OutputFormat::Json && !cli.plan && !cli.yes {
        bail!(
            "--output json shows no changes to confirm, so applying with it needs --yes (or use --plan for a dry run)"
        );
    }
    if !cli.plan && !cli.yes && !caps.interactive {
        bail!(
            "not a terminal, so nobody can confirm the changes: pass --yes to apply without asking, or --plan for a dry run"
        );
    }
    let session = Session {
        progress: Arc::new(Progress::new(caps.stderr_tty, false)),
        ctrl_c: CtrlC::install()?,
        started: Instant::now(),
        caps,
        cli,
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
        let aws = self
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
        self.check_and_apply(&aws, &loaded, from_wizard).await
    }

    /// Identify the caller; check the plan's names with the real account ID right away, before
    /// any other call; then start an MFA session if one applies.
    async fn connect(&self, loaded: Option<&LoadedPlan>) -> anyhow::Result<Aws> {
        let calls = Arc::new(CallLog::default());
        let sdk = aws::load_config(&ConnectOptions {
            profile: self.cli.profile.clone(),
            region: self.cli.region.clone(),
        })
        .await?;
        let aws = Aws::connect(sdk, self.cli.profile.as_deref(), calls).await?;
        if let Some(l) = loaded {
            plan::resolve(&l.plan, &placeholders(&aws, l)).map_err(|e| e.in_file(&l.path))?;
            aws::check_partition(&aws.caller, &l.plan.home_region)?;
        }
        // IAM users with an MFA device continue with an MFA session (needed once MFA is enforced).
        crate::mfa_session::establish(
            aws,
            self.cli.mfa_code.as_deref(),
            self.cli.mfa_serial.as_deref(),
            &self.terminal()?,
        )
        .await
    }

    fn terminal(&self) -> anyhow::Result<Terminal> {
        Ok(Terminal {
            caps: self.caps,
            assume_yes: self.cli.yes,
            progress: self.progress.clone(),
            secret_dir: std::env::current_dir().context("finding the current directory")?,
        })
    }

    fn stats_line(&self, aws: &Aws) -> String {
        format!(
            "Stats: {} calls, {} writes, {:.2}s.",
            aws.calls.len(),
            aws.calls.writes(),
            self.started.elapsed().as_secs_f64()
        )
    }

    /// Observe the account, show what differs from the plan, and (unless `--plan`) apply it.
    /// `from_wizard`: the plan was just written, so say how to use it again once the account matches.
    async fn check_and_apply(
        &self,
        aws: &Aws,
        loaded: &LoadedPlan,
        from_wizard: bool,
    ) -> anyhow::Result<Outcome> {
        let cli = &self.cli;
        let path = loaded.path.as_path();
        // Names with placeholders are checked again, expanded, before the first write.
        let resolved =
            plan::resolve(&loaded.plan, &placeholders(aws, loaded)).map_err(|e| e.in_file(path))?;
        aws::check_partition(&aws.caller, &resolved.home_region)?;
        let aws = aws.in_home_region(&resolved.home_region);
        let terminal = self.terminal()?;
        let interactive = terminal.is_interactive();
        // The region check goes out with the first reads (no extra round trip), and any write
        // comes after both.
        let (assessment, region) = self
            .ctrl_c
            .or_interrupted(async {
                Ok(tokio::join!(
                    engine::assess(&aws, &resolved, interactive, self.progress.as_ref()),
                    aws::check_home_region(&aws, &resolved.home_region),
                ))
            })
            .await?;
        region?;
        let assessment = assessment?;
        let json = cli.output == OutputFormat::Json;
        let palette = render::Palette {
            color: self.caps.color,
        };
        let plan_file = path.display().to_string();
        if !json {
            print!(
                "{}",
                render::header(&aws.caller, &plan_file, &resolved.home_region)
            );
            print!("{}", render::assessment(palette, &assessment));
        }
        // Root MFA is console-only: an interactive apply may wait while the person turns it on.
        let assessment = if cli.plan {
            assessment
        } else {
            root_mfa::offer_to_wait(&aws, assessment, &terminal, &self.ctrl_c).await?
        };
        let applicable = assessment.changes.iter().any(|c| !c.is_manual());
        if cli.plan || !applicable {
            if json {
                let stats = json::Stats::of(&aws, self.started.elapsed().as_secs_f64());
                println!(
                    "{}",
                    json::document(&aws, &plan_file, "plan", &assessment, None, stats)
                );
            } else if cli.stats {
                println!("{}", self.stats_line(&aws));
            }
            if cli.plan {
                return Ok(if assessment.pending() {
                    Outcome::Pending
                } else {
                    Outcome::Success
                });
            }
            if from_wizard && !json {
                println!("{}", reuse_hint(path));
            }
            return Ok(Outcome::Success);
        }
        if !cli.yes && !terminal.confirm("Apply these changes?", false)? {
            eprintln!(
                "Nothing was changed. To apply later: {}",
                rerun_command(path)
            );
            return Ok(Outcome::Success);
        }
        let report = self.apply(&aws, &assessment, &terminal).await;
        if json {
            let stats = json::Stats::of(&aws, self.started.elapsed().as_secs_f64());
            println!(
                "{}",
                json::document(&aws, &plan_file, "apply", &assessment, Some(&report), stats)
            );
        } else {
            print!(
                "{}",
                render::apply_result(palette, &report, self.started.elapsed().as_secs_f64())
            );
            print!("{}", self.next_steps(&aws, &report).await);
            if report.interrupted || !report.succeeded() {
                println!("{}", render::rerun_hint(&rerun_command(path)));
            } else if from_wizard {
                println!("{}", reuse_hint(path));
            }
            if cli.stats {
                println!("{}", self.stats_line(&aws));
            }
        }
        // Ctrl-C at a prompt during apply (say, for an MFA code) fails that change: still an interruption.
        Ok(if report.interrupted || self.ctrl_c.is_pressed() {
            Outcome::Interrupted
        } else if report.succeeded() {
            Outcome::Success
        } else {
            Outcome::Failed
        })
    }

    /// The numbered "Next steps" after an apply: signing in with a password this run created,
    /// then each manual action.
    async fn next_steps(&self, aws: &Aws, report: &engine::ApplyReport) -> String {
        use crate::controls::{Op, admin_user};
        let user = report.applied.iter().find_map(|c| match &c.op {
            Op::AdminUser(admin_user::Op::CreateLoginProfile { user, .. }) => Some(user.as_str()),
            _ => None,
        });
        let delivered = if self.caps.stdout_tty {
            "shown above"
        } else {
            "in the file named above"
        };
        // The alias is read only when there is a sign-in step to print.
        let signin_url = match user {
            Some(_) => aws.signin_url().await,
            None => String::new(),
        };
        render::next_steps(
            &signin_url,
            user.map(|user| render::NewPassword { user, delivered }),
            &report.manual,
        )
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

fn placeholders(aws: &Aws, loaded: &LoadedPlan) -> Placeholders {
    Placeholders {
        account_id: aws.account_id().to_string(),
        home_region: loaded.plan.home_region.clone(),
    }
}

/// After the wizard: how to use the saved plan from now on.
fn reuse_hint(path: &Path) -> String {
    format!(
        "\nThe plan is saved. Run `{}` any time to confirm the account still matches and repair drift (--plan for a dry run).",
        rerun_command(path)
    )
}

/// The command that carries on where this run stopped.
fn rerun_command(path: &Path) -> String {
    format!("aws-harden -f {}", PathBuf::from(path).display())
}
