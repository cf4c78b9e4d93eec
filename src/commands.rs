//! The commands: each returns an `Outcome`; `main` turns it into an exit code.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::CommandFactory;

use crate::aws::{self, Aws, CallLog, ConnectOptions};
use crate::cli::{Cli, Command, OutputFormat};
use crate::engine::{self, Interrupt};
use crate::interact::Interaction;
use crate::plan::{self, Placeholders};
use crate::ui::progress::Progress;
use crate::ui::terminal::Terminal;
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
    let Some(path) = cli.file.clone() else {
        if caps.interactive {
            bail!(
                "the setup wizard is not part of this version yet; write a plan (see plans/baseline.toml) and pass -f plans/x.toml"
            );
        }
        bail!("no plan file: use -f plans/x.toml (or run at a terminal for the wizard)");
    };
    // Everything that does not depend on the account is checked before the first AWS call.
    let loaded = plan::load(&path)?;
    if !cli.plan && !cli.yes && !caps.interactive {
        bail!(
            "not a terminal, so nobody can confirm the changes: pass --yes to apply without asking, or --plan for a dry run"
        );
    }
    let started = Instant::now();
    let json = cli.output == OutputFormat::Json;
    let progress = Arc::new(Progress::new(caps.stderr_tty, false));
    let calls = Arc::new(CallLog::default());
    let sdk = aws::load_config(&ConnectOptions {
        profile: cli.profile.clone(),
        region: cli.region.clone(),
    })
    .await;
    let aws = Aws::connect(sdk, calls).await?;
    let placeholders = Placeholders {
        account_id: aws.account_id().to_string(),
        home_region: loaded.plan.home_region.clone(),
    };
    // Names with placeholders are checked again, expanded, before the first write.
    let resolved = plan::resolve(&loaded.plan, &placeholders).map_err(|e| e.in_file(&path))?;
    let aws = aws.in_home_region(&resolved.home_region);
    let terminal = Terminal {
        caps,
        assume_yes: cli.yes,
        progress: progress.clone(),
        secret_dir: std::env::current_dir().context("finding the current directory")?,
    };
    // IAM users with an MFA device continue with an MFA session (needed once MFA is enforced).
    let aws = crate::mfa_session::establish(
        aws,
        cli.mfa_code.as_deref(),
        cli.mfa_serial.as_deref(),
        &terminal,
    )
    .await?;
    let interactive = terminal.is_interactive();
    let assessment = engine::assess(&aws, &resolved, interactive, progress.as_ref()).await?;
    let palette = render::Palette { color: caps.color };
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
        crate::controls::root::offer_to_wait_for_mfa(&aws, assessment, &terminal).await?
    };
    let stats_line = |aws: &Aws| {
        format!(
            "Stats: {} calls, {} writes, {:.2}s.",
            aws.calls.len(),
            aws.calls.writes(),
            started.elapsed().as_secs_f64()
        )
    };
    let applicable = assessment.changes.iter().any(|c| !c.is_manual());
    if cli.plan || !applicable {
        if json {
            let stats = json::Stats::of(&aws, started.elapsed().as_secs_f64());
            println!(
                "{}",
                json::document(&aws, &plan_file, "plan", &assessment, None, stats)
            );
        } else if cli.stats {
            println!("{}", stats_line(&aws));
        }
        if cli.plan {
            return Ok(if assessment.pending() {
                Outcome::Pending
            } else {
                Outcome::Success
            });
        }
        return Ok(Outcome::Success);
    }
    if !cli.yes && !terminal.confirm("Apply these changes?", false)? {
        eprintln!("Nothing was changed.");
        return Ok(Outcome::Success);
    }
    let interrupt = Interrupt::new();
    let on_ctrl_c = {
        let interrupt = interrupt.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nInterrupted: stopping after the call in flight.");
                interrupt.trigger();
            }
        })
    };
    let report = engine::apply(&aws, &assessment, progress.as_ref(), &terminal, &interrupt).await;
    on_ctrl_c.abort();
    if json {
        let stats = json::Stats::of(&aws, started.elapsed().as_secs_f64());
        println!(
            "{}",
            json::document(&aws, &plan_file, "apply", &assessment, Some(&report), stats)
        );
    } else {
        print!(
            "{}",
            render::apply_result(palette, &report, started.elapsed().as_secs_f64())
        );
        if cli.stats {
            println!("{}", stats_line(&aws));
        }
    }
    Ok(if report.interrupted {
        Outcome::Interrupted
    } else if report.succeeded() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
