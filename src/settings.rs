//! The parsed command line turned into what a run needs: its mode, its view, its connection. Every
//! check that needs no account is made here, before the first AWS call.

use std::path::PathBuf;

use anyhow::bail;

use clap::ValueEnum as _;

use crate::cli::{Cli, Command};
use crate::plan::{self, LoadedPlan};
use crate::saved::SavedChanges;
use crate::ui::TermCaps;
use crate::ui::view::{View, view_for};

/// What a run may do to the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `--plan`: show the changes, write nothing.
    DryRun,
    /// Show the changes and ask before applying them.
    ApplyAsking,
    /// `--yes`: apply without asking.
    ApplyWithYes,
}

/// How to reach AWS (the credential chain's own choices, plus an MFA code for a session).
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub mfa_code: Option<String>,
    pub mfa_serial: Option<String>,
}

pub struct Settings {
    pub mode: Mode,
    /// `--yes`: never prompt, not even under `--plan` (whose changes then show exactly what an
    /// unattended apply would do).
    pub never_prompt: bool,
    /// The plan file, read and checked; `None` runs the wizard.
    pub loaded: Option<LoadedPlan>,
    pub connection: Connection,
    /// Chosen once from `--output`.
    pub view: Box<dyn View>,
    /// `--stats`.
    pub stats: bool,
    pub caps: TermCaps,
    /// `--out FILE` (with `--plan -f PLAN`): save the changes shown to this file.
    pub out: Option<PathBuf>,
    /// `apply FILE`: the saved changes, read and checked as far as they can be without AWS (the
    /// caller and the account's state are checked once connected). `loaded` is their plan.
    pub saved: Option<Saved>,
    /// `--org`: every account of the Organization.
    pub org: Option<OrgSettings>,
}

/// `--org`: which accounts, through which role, how many at once, shown how.
pub struct OrgSettings {
    pub selection: crate::org::Selection,
    pub role_name: String,
    pub external_id: Option<String>,
    pub jobs: usize,
    /// Chosen once from `--output` (human or JSON).
    pub view: crate::ui::org::OrgView,
}

/// The role `--org` assumes when `--role-name` is not given.
pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";
/// Accounts at once when `--jobs` is not given.
pub const DEFAULT_JOBS: usize = 8;

/// Saved changes to apply, and the file they came from.
pub struct Saved {
    pub path: PathBuf,
    pub changes: SavedChanges,
}

impl Settings {
    pub fn new(cli: Cli, caps: TermCaps) -> anyhow::Result<Settings> {
        if let Some(code) = &cli.mfa_code {
            crate::controls::admin_mfa::check_code(code).map_err(|e| {
                anyhow::anyhow!("--mfa-code {}: not a code: {e}", crate::plan::show(code))
            })?;
        }
        let mode = match (cli.plan, cli.yes) {
            (true, _) => Mode::DryRun,
            (false, true) => Mode::ApplyWithYes,
            (false, false) => Mode::ApplyAsking,
        };
        // GitHub Actions names its job summary file here; a run appends its Markdown report.
        let step_summary = std::env::var_os("GITHUB_STEP_SUMMARY")
            .filter(|p| !p.is_empty() && !cli.no_step_summary)
            .map(PathBuf::from);
        let view = view_for(cli.output, caps.color, step_summary.clone());

        let saved = match &cli.command {
            Some(Command::Apply { file, max_age }) => {
                if cli.plan || cli.file.is_some() {
                    bail!(
                        "apply {} takes its plan from that file: -f and --plan do not go with it (to save changes: aws-harden --plan -f PLAN --out FILE)",
                        file.display()
                    );
                }
                Some(Saved {
                    changes: SavedChanges::load(file, *max_age, std::time::SystemTime::now())?,
                    path: file.clone(),
                })
            }
            _ => None,
        };
        let loaded = match (&saved, &cli.file) {
            (Some(s), _) => Some(saved_plan(s)?),
            (None, Some(path)) => Some(plan::load(path)?),
            (None, None) if !caps.interactive => bail!(
                "no plan file: use -f plans/x.toml (plans/baseline.toml is the recommended one), or run at a terminal for the setup wizard"
            ),
            (None, None) if cli.yes => bail!(
                "no plan file: --yes never asks questions, so it needs one: use -f plans/x.toml (without --yes at a terminal, the setup wizard writes one)"
            ),
            (None, None) => None,
        };
        let org = match cli.org.org {
            true => Some(org_settings(
                &cli,
                loaded.as_ref(),
                caps.color,
                step_summary.clone(),
            )?),
            false => None,
        };
        if let Some(l) = &loaded
            && org.is_none()
            && l.plan.root().is_some_and(|r| r.centralized)
        {
            bail!(
                "{}: [root] centralized = true works only with --org: it removes member accounts' root credentials from the management account (sts:AssumeRoot). Run it with --org, or set centralized = false",
                l.path.display()
            );
        }
        if mode == Mode::ApplyAsking && !view.shows_changes_first() {
            // JSON shows no changes on the screen, so nobody can have read what a question is about.
            bail!(
                "--output {} shows no changes to confirm, so applying with it needs --yes (or use --plan for a dry run)",
                cli.output
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            );
        }
        if mode == Mode::ApplyAsking && !caps.interactive {
            bail!(
                "not a terminal, so nobody can confirm the changes: pass --yes to apply without asking, or --plan for a dry run"
            );
        }
        Ok(Settings {
            mode,
            never_prompt: cli.yes,
            loaded,
            connection: Connection {
                profile: cli.profile,
                region: cli.region,
                mfa_code: cli.mfa_code,
                mfa_serial: cli.mfa_serial,
            },
            view,
            stats: cli.stats,
            caps,
            out: cli.out,
            saved,
            org,
        })
    }
}

/// `--org`'s settings, checked before any call: account IDs, the output, the command it goes
/// with, and a plan that makes no per-person secrets in every account.
fn org_settings(
    cli: &Cli,
    loaded: Option<&LoadedPlan>,
    color: bool,
    step_summary: Option<PathBuf>,
) -> anyhow::Result<OrgSettings> {
    use crate::org::targets::check_account_id;
    let a = &cli.org;
    if cli.command.is_some() || cli.out.is_some() {
        bail!(
            "--org runs a plan file in each account: it does not go with `apply FILE` or --out (saved changes are for one account)"
        );
    }
    for (flag, ids) in [("--accounts", &a.accounts), ("--exclude", &a.exclude)] {
        for id in ids {
            check_account_id(flag, id).map_err(anyhow::Error::msg)?;
        }
    }
    if let Some(dir) = &a.sarif_dir {
        if cli.output != crate::cli::OutputFormat::Sarif {
            bail!(
                "--sarif-dir {} goes with --output sarif: it is where the SARIF files are written",
                dir.display()
            );
        }
        if dir.exists() && !dir.is_dir() {
            bail!("--sarif-dir {}: is not a directory", dir.display());
        }
    }
    let view =
        crate::ui::org::OrgView::for_format(cli.output, color, step_summary, a.sarif_dir.clone());
    if let Some(l) = loaded {
        let p = &l.plan;
        // Admin MFA is part of [admin_user] (its `mfa` key).
        let person = p
            .admin_user()
            .map(|_| "[admin_user] (a console password, and MFA enrolment)");
        if let Some(table) = person {
            bail!(
                "{}: {table} cannot be used with --org: it would print a password or an MFA QR code for every account. Members get access through the management account's role or IAM Identity Center: use a member plan such as plans/member.toml",
                l.path.display()
            );
        }
    }
    Ok(OrgSettings {
        selection: crate::org::Selection {
            ou: a.ou.clone(),
            accounts: a.accounts.clone(),
            exclude: a.exclude.clone(),
            include_management: a.include_management,
            shard: a.shard,
        },
        role_name: a
            .role_name
            .clone()
            .unwrap_or_else(|| DEFAULT_ROLE_NAME.to_string()),
        external_id: a.external_id.clone(),
        jobs: a.jobs.map(|j| j as usize).unwrap_or(DEFAULT_JOBS),
        view,
    })
}

/// The plan embedded in saved changes, parsed and checked like a plan file (the hash says it is
/// the text that was saved, but this aws-harden may check plans more strictly than the one that
/// saved it).
fn saved_plan(saved: &Saved) -> anyhow::Result<LoadedPlan> {
    let c = &saved.changes;
    let plan = plan::parse(&c.plan_text).map_err(|e| {
        anyhow::anyhow!(
            "{}: the plan saved in it (from {}): {e}",
            saved.path.display(),
            c.plan_file
        )
    })?;
    Ok(LoadedPlan {
        path: PathBuf::from(&c.plan_file),
        plan,
        text: c.plan_text.clone(),
    })
}
