//! Command-line definitions only. Each flag is documented where it is defined.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::org::Shard;

const AFTER_HELP: &str = "\
Four ways to use it:
  1. First-time setup, at a terminal. The wizard looks at the account, asks a few questions (with
     defaults that fit what it found), saves plans/<account-id>.toml, shows the changes and asks
     before applying anything:
       aws-harden
  2. Dry run: show what differs from a plan, change nothing (exit 0 = matches, 2 = changes pending):
       aws-harden --plan -f plans/baseline.toml
       aws-harden --plan --yes -f plans/baseline.toml # as --yes would apply it; never prompts
  3. Re-run later to confirm the account still matches, and repair any drift:
       aws-harden -f plans/123456789012.toml
       aws-harden -f plans/123456789012.toml --yes    # from CI or cron: never prompts
  4. Save the changes a dry run shows, then apply exactly those (refused if the account, the
     caller or the changes differ by then, or the file is over --max-age old):
       aws-harden --plan -f plans/baseline.toml --out changes.json
       aws-harden apply changes.json

Shell completions:
  aws-harden completions bash > ~/.local/share/bash-completion/completions/aws-harden

Ctrl-C in the wizard changes nothing; during apply it stops after the call in flight.
Exit codes: 0 success / account matches; 1 error, failed change or usage error (a mistyped
flag); 2 changes or manual actions pending (--plan); 130 interrupted.";

#[derive(Debug, Parser)]
#[command(
    name = "aws-harden",
    version,
    about = "Take a new AWS account from root-user-only to hardened, and keep it that way",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Plan file (TOML) to check or apply. Without it, at a terminal, the wizard writes one.
    #[arg(short = 'f', long = "file", value_name = "PLAN")]
    pub file: Option<PathBuf>,

    /// Dry run: show the changes and write nothing. Exit 0 if the account matches, 2 if not.
    /// With --yes: never prompt (not even for an MFA code) and show the changes exactly as an
    /// unattended apply would make them (steps that need a person as manual actions).
    #[arg(long)]
    pub plan: bool,

    /// With --plan -f PLAN: also save the changes shown to this file (JSON, mode 0600), for
    /// `aws-harden apply FILE`.
    #[arg(long, value_name = "FILE", requires_all = ["plan", "file"])]
    pub out: Option<PathBuf>,

    /// Apply without asking and never prompt; steps that need a person become manual actions.
    /// With --plan: a dry run of exactly that.
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Output format for the changes and the result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human, global = true)]
    pub output: OutputFormat,

    /// Do not append the Markdown report to the file GITHUB_STEP_SUMMARY names (GitHub Actions'
    /// job summary), which is done whatever --output is when that variable is set.
    #[arg(long)]
    pub no_step_summary: bool,

    /// Also report calls made, writes made and time spent.
    #[arg(long, global = true)]
    pub stats: bool,

    /// AWS profile to use: its credentials only, even with keys in the environment (as in the AWS
    /// CLI). A profile that does not exist or has no credentials is an error. Default:
    /// AWS_PROFILE (after environment keys), then "default".
    #[arg(long, value_name = "NAME", global = true)]
    pub profile: Option<String>,

    /// AWS region for the API calls (default: AWS_REGION or the profile's). Resources still go in
    /// the plan's home_region.
    #[arg(long, value_name = "REGION", global = true)]
    pub region: Option<String>,

    /// A current 6-digit code from your MFA device, to run with an MFA session (needed once the
    /// admin group enforces MFA and you use an IAM user's access keys; not used by root, roles or
    /// sessions, which says so).
    #[arg(long, value_name = "CODE", global = true)]
    pub mfa_code: Option<String>,

    /// Serial number (ARN) of the MFA device for --mfa-code; found automatically when omitted.
    #[arg(long, value_name = "ARN", requires = "mfa_code", global = true)]
    pub mfa_serial: Option<String>,

    /// Log what happens on stderr (-v: info, -vv: debug, including every AWS call).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(flatten)]
    pub org: OrgArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--org`: every account of an AWS Organization, run from its management account.
#[derive(Debug, Args, Default)]
pub struct OrgArgs {
    /// Run the plan in every ACTIVE member account of the Organization, through a role in each
    /// (--role-name), from the management account. One confirmation for all; exit 1 if any
    /// account failed, else 2 if any has changes pending (--plan), else 0.
    #[arg(long, requires = "file")]
    pub org: bool,

    /// Only the accounts in this OU and every OU below it.
    #[arg(long, value_name = "OU_ID", requires = "org")]
    pub ou: Option<String>,

    /// The role to assume in each member account. These roles trust only the management
    /// account; a delegated administrator needs a role of its own. [default:
    /// OrganizationAccountAccessRole; AWSControlTowerExecution is common]
    #[arg(long, value_name = "NAME", requires = "org")]
    pub role_name: Option<String>,

    /// The external ID the roles' trust policies require, if any.
    #[arg(long, value_name = "ID", requires = "org")]
    pub external_id: Option<String>,

    /// Only these accounts (comma-separated IDs).
    #[arg(long, value_name = "ID,ID", value_delimiter = ',', requires = "org")]
    pub accounts: Vec<String>,

    /// Not these accounts (comma-separated IDs).
    #[arg(long, value_name = "ID,ID", value_delimiter = ',', requires = "org")]
    pub exclude: Vec<String>,

    /// Also run the management account itself (with your own credentials). Off: it is usually
    /// run on its own, with its own plan.
    #[arg(long, requires = "org")]
    pub include_management: bool,

    /// Accounts run at once (each account's reads still go out together). [default: 8]
    #[arg(long, value_name = "N", requires = "org", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: Option<u32>,

    /// Only the accounts whose hash of the account ID, mod N, is K-1: spread a large
    /// Organization over N CI jobs (shards stay stable as accounts are added).
    #[arg(long, value_name = "K/N", requires = "org", value_parser = Shard::parse)]
    pub shard: Option<Shard>,

    /// With --output sarif: write the SARIF into this directory instead of stdout, one file per
    /// category: aws-harden.sarif, or past the 5,000 results GitHub keeps in a run, one
    /// aws-harden-accounts-D.sarif per first digit of the account ID (upload-sarif takes the
    /// directory).
    #[arg(long, value_name = "DIR", requires = "org")]
    pub sarif_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the least-privilege IAM policy a role needs to run aws-harden.
    Policy {
        /// The read-only policy for `--plan` (a scheduled drift check). Required: applying needs
        /// write access to everything the plan manages.
        #[arg(long, required = true)]
        plan_only: bool,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Apply exactly the changes saved by `--plan -f PLAN --out FILE`. Refused, with nothing
    /// written, when the file was edited, is too old, or the account, the caller or the changes
    /// differ now. Asks first unless --yes.
    Apply {
        /// The saved-changes file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Refuse a file saved longer ago than this: a number and a unit, s, m, h or d (90s,
        /// 30m, 1h, 2d).
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
        max_age: Duration,
    },
}

/// A duration as `--max-age` takes it: digits, then one unit (`s`, `m`, `h`, `d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let usage = "expected a number and a unit, s, m, h or d (90s, 30m, 1h, 2d)";
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let scale: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(usage.into()),
    };
    let n: u64 = digits.parse().map_err(|_| usage.to_string())?;
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| "too long".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people: terraform-style changes.
    Human,
    /// For programs: one JSON document on stdout (fields documented in the README).
    Json,
    /// For job summaries and pull requests: a table of the changes and the summary line.
    Markdown,
    /// For test dashboards: JUnit XML, one test suite per control, one test case per check.
    Junit,
    /// For code scanning: SARIF 2.1.0, one result per failed check, at the plan's table.
    Sarif,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn plan_flag_and_file() {
        let cli = Cli::try_parse_from(["aws-harden", "--plan", "-f", "plans/x.toml"]).unwrap();
        assert!(cli.plan);
        assert_eq!(cli.file.unwrap(), PathBuf::from("plans/x.toml"));
    }

    #[test]
    fn org_flags_need_org_and_a_plan() {
        assert!(Cli::try_parse_from(["aws-harden", "--org"]).is_err());
        assert!(Cli::try_parse_from(["aws-harden", "-f", "p", "--jobs", "4"]).is_err());
        assert!(Cli::try_parse_from(["aws-harden", "-f", "p", "--org", "--shard", "4/3"]).is_err());
        assert!(Cli::try_parse_from(["aws-harden", "-f", "p", "--org", "--jobs", "0"]).is_err());
        let cli = Cli::try_parse_from([
            "aws-harden",
            "-f",
            "p",
            "--org",
            "--accounts",
            "111111111111,222222222222",
            "--shard",
            "2/3",
        ])
        .unwrap();
        assert_eq!(cli.org.accounts.len(), 2);
        assert_eq!(cli.org.shard, Some(Shard { index: 2, count: 3 }));
    }

    #[test]
    fn mfa_serial_needs_a_code() {
        assert!(
            Cli::try_parse_from(["aws-harden", "--mfa-serial", "arn:aws:iam::1:mfa/x"]).is_err()
        );
    }

    #[test]
    fn out_needs_plan_and_file() {
        assert!(Cli::try_parse_from(["aws-harden", "-f", "p.toml", "--out", "c.json"]).is_err());
        assert!(Cli::try_parse_from(["aws-harden", "--plan", "--out", "c.json"]).is_err());
        let cli =
            Cli::try_parse_from(["aws-harden", "--plan", "-f", "p", "--out", "c.json"]).unwrap();
        assert_eq!(cli.out, Some(PathBuf::from("c.json")));
    }

    #[test]
    fn apply_takes_a_file_and_the_connection_flags_after_it() {
        let cli = Cli::try_parse_from([
            "aws-harden",
            "apply",
            "c.json",
            "--yes",
            "--profile",
            "p",
            "--max-age",
            "30m",
        ])
        .unwrap();
        assert!(cli.yes);
        assert_eq!(cli.profile.as_deref(), Some("p"));
        match cli.command {
            Some(Command::Apply { file, max_age }) => {
                assert_eq!(file, PathBuf::from("c.json"));
                assert_eq!(max_age, Duration::from_secs(1800));
            }
            other => panic!("{other:?}"),
        }
        let default = Cli::try_parse_from(["aws-harden", "apply", "c.json"]).unwrap();
        assert!(matches!(
            default.command,
            Some(Command::Apply { max_age, .. }) if max_age == Duration::from_secs(3600)
        ));
        // A dry run has no place here: the plan comes from the file.
        assert!(Cli::try_parse_from(["aws-harden", "apply", "c.json", "--plan"]).is_err());
    }

    #[test]
    fn durations() {
        for (text, secs) in [
            ("90s", 90),
            ("30m", 1800),
            ("1h", 3600),
            ("2d", 172_800),
            ("0s", 0),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in [
            "",
            "1",
            "h",
            "1x",
            "-1h",
            "1.5h",
            "1h30m",
            " 1h",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_duration("99999999999999999d"), Err("too long".into()));
        let e = Cli::try_parse_from(["aws-harden", "apply", "c.json", "--max-age", "5x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'5x'") && e.contains("--max-age"), "{e}");
    }

    #[test]
    fn output_json() {
        let cli = Cli::try_parse_from(["aws-harden", "--output", "json", "-f", "p.toml"]).unwrap();
        assert_eq!(cli.output, OutputFormat::Json);
    }

    /// The aws-harden command lines of a workflow's `run:` blocks, as argument lists (read line
    /// by line, like tests/e2e/release.rs: no YAML parser for one file; shell redirections cut off).
    fn commands_in(workflow: &str) -> Vec<Vec<String>> {
        workflow
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("aws-harden ") || l.starts_with("./aws-harden "))
            .map(|l| {
                l.split_whitespace()
                    .take_while(|w| !matches!(*w, ">" | ">>" | "|" | "&&" | ";" | "||"))
                    .map(|w| w.trim_start_matches("./").to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_drift_check_example_runs_valid_commands() {
        let workflow = include_str!("../examples/github-actions/drift-check.yml");
        let commands = commands_in(workflow);
        assert_eq!(commands.len(), 1, "{commands:?}");
        for args in &commands {
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(cli.plan, "a drift check never writes: {args:?}");
            assert_eq!(cli.output, OutputFormat::Sarif, "{args:?}");
        }
        // What the issue and GitHub require of the job around it.
        for line in [
            "id-token: write",
            "contents: read",
            "security-events: write",
            "uses: github/codeql-action/upload-sarif@v3",
            "if: always()",
            "if: steps.check.outputs.exit != '0'",
        ] {
            assert!(
                workflow
                    .lines()
                    .any(|l| l.trim().trim_start_matches("- ").starts_with(line)),
                "missing {line:?}"
            );
        }
        // The check can fail: a mistyped flag is refused.
        assert!(Cli::try_parse_from(["aws-harden", "--plna"]).is_err());
        assert_eq!(
            commands_in("  run: |\n    aws-harden --plan -f p.toml > out\n"),
            [["aws-harden", "--plan", "-f", "p.toml"]]
        );
    }
}
