//! Command-line definitions only. Each flag is documented where it is defined.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Three ways to use it:
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

    /// Apply without asking and never prompt; steps that need a person become manual actions.
    /// With --plan: a dry run of exactly that.
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Output format for the changes and the result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// Do not append the Markdown report to the file GITHUB_STEP_SUMMARY names (GitHub Actions'
    /// job summary), which is done whatever --output is when that variable is set.
    #[arg(long)]
    pub no_step_summary: bool,

    /// Also report calls made, writes made and time spent.
    #[arg(long)]
    pub stats: bool,

    /// AWS profile to use: its credentials only, even with keys in the environment (as in the AWS
    /// CLI). A profile that does not exist or has no credentials is an error. Default:
    /// AWS_PROFILE (after environment keys), then "default".
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region for the API calls (default: AWS_REGION or the profile's). Resources still go in
    /// the plan's home_region.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// A current 6-digit code from your MFA device, to run with an MFA session (needed once the
    /// admin group enforces MFA and you use an IAM user's access keys; not used by root, roles or
    /// sessions, which says so).
    #[arg(long, value_name = "CODE")]
    pub mfa_code: Option<String>,

    /// Serial number (ARN) of the MFA device for --mfa-code; found automatically when omitted.
    #[arg(long, value_name = "ARN", requires = "mfa_code")]
    pub mfa_serial: Option<String>,

    /// Log what happens on stderr (-v: info, -vv: debug, including every AWS call).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Option<Command>,
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
    fn mfa_serial_needs_a_code() {
        assert!(
            Cli::try_parse_from(["aws-harden", "--mfa-serial", "arn:aws:iam::1:mfa/x"]).is_err()
        );
    }

    #[test]
    fn output_json() {
        let cli = Cli::try_parse_from(["aws-harden", "--output", "json", "-f", "p.toml"]).unwrap();
        assert_eq!(cli.output, OutputFormat::Json);
    }

    /// The aws-harden command lines of a workflow's `run:` blocks, as argument lists (read line
    /// by line, like tests/release.rs: no YAML parser for one file; shell redirections cut off).
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
