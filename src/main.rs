//! aws-harden: parse, dispatch, turn the outcome into an exit code.

use aws_harden::{cli, commands};
use clap::Parser as _;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // Exit 2 means "changes pending" here, so a usage error (a typo in a flag) must not use
        // clap's 2. Help and version go to stdout and still exit 0.
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(commands::run(cli)) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

/// Logs go to stderr. By default only aws-harden's own warnings (the SDK's warnings about, say,
/// an unreachable instance metadata service while it walks the credential chain are noise to a
/// person; the error that matters is reported anyway); -v adds info, -vv debug for everything.
fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = match verbose {
        0 => Targets::new().with_target("aws_harden", LevelFilter::WARN),
        1 => Targets::new()
            .with_target("aws_harden", LevelFilter::INFO)
            .with_default(LevelFilter::WARN),
        _ => Targets::new().with_default(LevelFilter::DEBUG),
    };
    // NO_COLOR counts when set and not empty (no-color.org), as for the rest of the output.
    let ansi = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi),
        )
        .with(filter)
        .init();
}
