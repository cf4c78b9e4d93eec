//! The finishing touches: completions, help, version, and what happens without a plan or terminal.

use crate::common;

use common::Account;

#[tokio::test(flavor = "multi_thread")]
async fn completions_for_each_shell() {
    let acct = Account::new().await;
    for (shell, marker, plan_flag) in [
        ("bash", "complete -F _aws__harden", "--plan"),
        ("zsh", "#compdef aws-harden", "--plan"),
        ("fish", "complete -c aws-harden", "-l plan"),
        // Every shell the README lists.
        (
            "elvish",
            "edit:completion:arg-completer[aws-harden]",
            "--plan",
        ),
        ("powershell", "Register-ArgumentCompleter", "--plan"),
    ] {
        let run = acct.run(&["completions", shell]).await;
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(run.stdout.contains(marker), "{shell}: {}", run.all());
        assert!(run.stdout.contains(plan_flag), "{shell}: {}", run.all());
    }
    // A usage error is 1: exit 2 means "changes pending".
    let bad = acct.run(&["completions", "cmd.exe"]).await;
    assert_eq!(bad.code, 1, "{}", bad.all());
    assert!(bad.stderr.contains("possible values"), "{}", bad.all());
    assert!(acct.proxy.calls().is_empty(), "no AWS call for completions");
}

#[tokio::test(flavor = "multi_thread")]
async fn help_explains_the_three_uses_with_examples() {
    let acct = Account::new().await;
    let run = acct.run(&["--help"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    for expected in [
        "First-time setup",
        "    aws-harden\n",
        "Dry run",
        "aws-harden --plan -f plans/",
        "Re-run",
        "--yes",
        "completions",
        "Exit codes",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected:?}\n{}",
            run.all()
        );
    }
    assert!(acct.proxy.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn version() {
    let acct = Account::new().await;
    let run = acct.run(&["--version"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.stdout.trim(),
        format!("aws-harden {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_plan_without_a_terminal_says_what_to_do_and_calls_nothing() {
    let acct = Account::new().await;
    for args in [&[][..], &["--yes"][..], &["--plan"][..]] {
        let run = acct.run(args).await;
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(
            run.stderr.contains("use -f plans/x.toml") && run.stderr.contains("run at a terminal"),
            "{args:?}: {}",
            run.all()
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.all());
    }
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn yes_without_a_plan_at_a_terminal_refuses_to_guess() {
    let acct = Account::new().await;
    let (code, out) = tokio::task::block_in_place(|| acct.run_pty(&["--yes"], &[]).wait());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--yes never asks questions"), "{out}");
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_typo_in_a_flag_is_a_usage_error_not_drift() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", common::IAM_ONLY);
    let run = acct.run(&["--plna", "-f", &plan]).await;
    // Exit 2 would read as "changes pending" in CI.
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("unexpected argument '--plna'"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("a similar argument exists: '--plan'"),
        "clap's tip is kept\n{}",
        run.all()
    );
    assert!(run.stdout.is_empty(), "{}", run.all());
    let bad_value = acct.run(&["--output", "yaml", "-f", &plan]).await;
    assert_eq!(bad_value.code, 1, "{}", bad_value.all());
    assert!(
        bad_value.stderr.contains("possible values"),
        "{}",
        bad_value.all()
    );
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn json_at_a_terminal_never_asks_about_changes_it_did_not_show() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", common::IAM_ONLY);
    let (code, out) = tokio::task::block_in_place(|| {
        acct.run_pty(&["--output", "json", "-f", &plan], &[]).wait()
    });
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("applying with it needs --yes"),
        "says what to do\n{out}"
    );
    assert!(!out.contains("Apply these changes?"), "{out}");
    // Decided before any AWS call: nothing read, nothing written.
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());

    // With --yes it applies and prints the document; with --plan it only reads.
    let dry = acct.run(&["--output", "json", "--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
    let applied = acct.run(&["--output", "json", "--yes", "-f", &plan]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let doc: serde_json::Value = serde_json::from_str(&applied.stdout).unwrap();
    assert_eq!(doc["mode"], "apply", "{}", applied.all());
}

/// The Ctrl-C tests expect 130 chosen by aws-harden: the terminal harness reports a program a signal
/// killed as minus the signal (SIGINT: -2), never as 130, so a test cannot mistake one for the other.
#[test]
fn the_terminal_harness_tells_a_death_by_sigint_from_exit_130() {
    let mut killed = std::process::Command::new("bash");
    killed.args(["-c", "kill -INT $$"]);
    assert_eq!(common::pty::Pty::spawn(killed).wait().0, -2);
    let mut exited = std::process::Command::new("bash");
    exited.args(["-c", "exit 130"]);
    assert_eq!(common::pty::Pty::spawn(exited).wait().0, 130);
}
