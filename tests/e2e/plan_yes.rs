//! `--plan --yes`: a dry run that never prompts and shows the changes exactly as an unattended
//! apply would make them. Run at a pseudo-terminal, where a plain `--plan` would ask.

use crate::common;

use common::Account;

/// An IAM user of the account with an access key and an enabled MFA device: at a terminal, a run
/// as this user asks for an MFA code.
async fn user_with_mfa(acct: &Account, name: &str) -> Account {
    let (key_id, secret) = acct.user_with_key(name).await;
    acct.enable_virtual_mfa(name).await;
    acct.as_user(&key_id, &secret)
}

const PLAN: &str = "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nconsole_access = false\n";

#[tokio::test(flavor = "multi_thread")]
async fn plan_yes_never_prompts_and_shows_the_unattended_changes() {
    let acct = Account::new().await;
    let user = user_with_mfa(&acct, "operator").await;
    let plan = user.write_plan("p.toml", PLAN);

    let (code, out) =
        tokio::task::block_in_place(|| user.run_pty(&["--plan", "--yes", "-f", &plan], &[]).wait());
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains("MFA code for"), "no MFA-code question: {out}");
    assert!(
        !out.contains('?') || !out.contains('›'),
        "no prompt at all: {out}"
    );
    // As under --yes: the admin's MFA is a manual action, not an enrolment at this terminal.
    assert!(out.contains("! mfa device for iam user \"admin\""), "{out}");
    assert!(!out.contains("enrolled here"), "{out}");
    assert!(user.proxy.writes().is_empty(), "{:?}", user.proxy.writes());

    // Without --yes the same dry run at a terminal asks for the code (so the above can fail).
    let mut pty = tokio::task::block_in_place(|| user.run_pty(&["--plan", "-f", &plan], &[]));
    tokio::task::block_in_place(|| pty.expect("MFA code for operator"));
}

#[tokio::test(flavor = "multi_thread")]
async fn help_defines_plan_with_yes() {
    let acct = Account::new().await;
    let run = acct.run(&["--help"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("aws-harden --plan --yes -f"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("With --yes: never prompt"),
        "{}",
        run.all()
    );
}
