//! First-time setup at a terminal: the wizard, live progress and Ctrl-C, through a pseudo-terminal
//! against moto (each test its own account), with writes counted by the proxy.

use crate::common;

use std::time::Duration;

use common::proxy::Which;
use common::{Account, CurStub};

/// A fresh account; moto has no Cost and Usage Report API, so the wizard's look at the account
/// reaches the test stub for that service (see tests/common/cur_stub.rs).
async fn account() -> (Account, CurStub) {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    (acct, stub)
}

/// Answers for the main tests; questions not listed get Enter (their default). MFA is declined so
/// that apply needs no authenticator app; CloudTrail and the Cost and Usage Report (asked once those
/// controls land) are declined to keep these tests about the wizard.
const DECLINE_MFA: (&str, &str) = ("Require MFA for", "n");
const DECLINE_TRAIL: (&str, &str) = ("Turn on CloudTrail", "n");
const DECLINE_REPORT: (&str, &str) = ("Cost and Usage Report", "n");
/// The regional guardrails, declined too: each would add a change per region (tests/e2e/regional.rs).
const DECLINE_EBS: (&str, &str) = ("Encrypt new EBS volumes", "n");
const DECLINE_IMDS: (&str, &str) = ("Require IMDSv2", "n");
/// The guardrails for people and money, declined too (tests/e2e/guardrails.rs); the contact and the
/// budget would ask for a person's data.
const DECLINE_ANALYZER: (&str, &str) = ("IAM Access Analyzer", "n");
const DECLINE_SUPPORT: (&str, &str) = ("AWS Support role", "n");
const DECLINE_CONTACT: (&str, &str) = ("Set a security contact", "n");
const DECLINE_BUDGET: (&str, &str) = ("Set a monthly cost budget", "n");

fn plan_files(acct: &Account) -> Vec<String> {
    match std::fs::read_dir(acct.path("plans")) {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wizard_saves_a_plan_applies_it_and_a_second_run_offers_it_with_no_changes() {
    let (acct, _stub) = account().await;
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&[], &[]);
        let asked = pty.answer(
            &[
                DECLINE_MFA,
                DECLINE_TRAIL,
                DECLINE_REPORT,
                DECLINE_EBS,
                DECLINE_IMDS,
                DECLINE_ANALYZER,
                DECLINE_SUPPORT,
                DECLINE_CONTACT,
                DECLINE_BUDGET,
                ("Apply these changes?", "y"),
            ],
            "Apply complete:",
        );
        for q in [
            "Admin group name",
            "Admin user name",
            "Require MFA for admin",
            "S3 Block Public Access for the whole account",
            "Encrypt new EBS volumes by default in every region",
            "Require IMDSv2 for new EC2 instances",
            "Password policy",
            "Save the plan as",
            "Apply these changes?",
        ] {
            assert!(
                asked.iter().any(|a| a.contains(q)),
                "{q:?} not asked: {asked:?}"
            );
        }
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    // What it found, before asking.
    assert!(
        out.contains(&format!("Setting up account {}", acct.id)),
        "{out}"
    );
    for found in [
        "Admin group            no group named \"Administrators\"",
        "Admin user             no IAM user named \"admin\"",
        "Admin user MFA         \"admin\" has no MFA device",
        "Password policy        none set",
        "S3 Block Public Access none set: only each bucket's own settings block public access",
        // Nothing exists on a fresh account, so nothing is "set up" and nothing "differs".
        "CloudTrail             no trail\n",
        "Cost and Usage Report  no report\n",
    ] {
        assert!(out.contains(found), "missing {found:?}\n{out}");
    }
    let root = out
        .lines()
        .find(|l| l.starts_with("  Root user "))
        .unwrap_or_else(|| panic!("no root finding\n{out}"));
    // The proxy reports root's MFA on and its password present, as a finished account does (moto
    // cannot be root; tests/e2e/root.rs turns them off).
    assert!(root.contains("MFA on"), "{root}");
    assert!(!root.contains("as recommended"), "{root}");
    // The diff exactly as --plan shows it, then live progress with a mark per change.
    assert!(out.contains("+ iam group \"Administrators\""), "{out}");
    // Enter at the S3 Block Public Access question (default yes): one more create.
    assert!(out.contains("+ s3 account public access block"), "{out}");
    assert!(
        out.contains("Plan: 5 to create, 2 to change, 0 to delete,"),
        "{out}"
    );
    assert!(out.contains("✓ + iam user \"admin\""), "{out}");
    assert!(
        out.contains("Apply complete: 5 created, 2 changed, 0 deleted in "),
        "{out}"
    );
    assert_eq!(acct.proxy.writes().len(), 7, "{:?}", acct.proxy.writes());

    // The saved plan: named after the account, valid, what was answered, nothing left beside it.
    let file = format!("{}.toml", acct.id);
    assert_eq!(plan_files(&acct), vec![file.clone()]);
    let text = std::fs::read_to_string(acct.path("plans").join(&file)).unwrap();
    assert!(
        text.starts_with(&format!("# aws-harden plan for account {}", acct.id)),
        "{text}"
    );
    for line in [
        "[admin_group]\nenabled = true\nname = \"Administrators\"",
        "[admin_user]\nenabled = true\nname = \"admin\"",
        "[s3_public_access]\nenabled = true\n",
        "mfa = false",
        "minimum_length = 14",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let dry = acct.run(&["--plan", "-f", &format!("plans/{file}")]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());

    // A second run offers the saved plan, finds nothing to do and writes nothing.
    acct.proxy.clear();
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&[], &[]);
        pty.expect(&format!(
            "A plan for this account is saved in plans/{file}. Check the account against it?"
        ));
        pty.expect("›");
        pty.send("\r");
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    // Nothing to apply (manual actions, if a control has any, are listed but are not changes).
    assert!(
        out.contains("No changes. The account matches the plan.")
            || out.contains("Plan: 0 to create, 0 to change, 0 to delete,"),
        "{out}"
    );
    assert!(!out.contains("Admin group name"), "asked again:\n{out}");
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_name_is_asked_again_and_declining_changes_nothing() {
    let (acct, _stub) = account().await;
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&[], &[]);
        let asked = pty.answer(
            &[
                ("Admin group name", "no spaces\r"),
                ("Admin group name", "Admins\r"),
                ("Admin user name", &format!("{}\r", "u".repeat(65))),
                ("Admin user name", "alice\r"),
                DECLINE_MFA,
                DECLINE_TRAIL,
                DECLINE_REPORT,
                DECLINE_EBS,
                DECLINE_IMDS,
                DECLINE_ANALYZER,
                DECLINE_SUPPORT,
                DECLINE_CONTACT,
                DECLINE_BUDGET,
                // Custom password policy: a length CIS would not accept is refused, then 16.
                ("Password policy", "\u{1b}[B\r"),
                ("Minimum password length", "5\r"),
                ("Minimum password length", "16\r"),
                ("Save the plan as", "plans/mine.toml\r"),
                ("Apply these changes?", "n"),
            ],
            "Nothing was changed.",
        );
        let group_asks = asked
            .iter()
            .filter(|q| q.contains("Admin group name"))
            .count();
        assert_eq!(group_asks, 2, "{asked:?}");
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("admin_group.name = \"no spaces\": is not a valid IAM group name"),
        "{out}"
    );
    assert!(out.contains("is not a valid IAM user name"), "{out}");
    assert!(out.contains("must be 6-128"), "{out}");
    assert!(out.contains("+ iam group \"Admins\""), "{out}");
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
    let text = std::fs::read_to_string(acct.path("plans/mine.toml")).unwrap();
    assert!(text.contains("name = \"Admins\""), "{text}");
    assert!(text.contains("name = \"alice\""), "{text}");
    assert!(text.contains("minimum_length = 16"), "{text}");

    // Saving again under the same name asks before replacing; "no" keeps the file as it was.
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&[], &[]);
        pty.answer(
            &[
                ("Check the account against it?", "n"),
                DECLINE_CONTACT,
                DECLINE_BUDGET,
                ("Save the plan as", "plans/mine.toml\r"),
                ("exists. Replace it?", "\r"),
                ("Save under another name?", "n"),
            ],
            "No plan was saved.",
        );
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(acct.path("plans/mine.toml")).unwrap(),
        text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_in_the_wizard_leaves_nothing_behind() {
    let (acct, _stub) = account().await;
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&[], &[]);
        pty.answer(
            &[DECLINE_MFA, DECLINE_CONTACT, DECLINE_BUDGET],
            "? Save the plan as",
        );
        pty.send("\u{3}");
        pty.wait()
    });
    assert_eq!(code, 130, "{out}");
    assert!(
        out.contains("Interrupted. Nothing was changed in the account."),
        "{out}"
    );
    assert!(!out.contains("panicked"), "{out}");
    assert!(plan_files(&acct).is_empty(), "{:?}", plan_files(&acct));
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
    assert!(!acct.proxy.calls().is_empty(), "it did look at the account");

    // Ctrl-C while it is still looking at the account (a read held at the proxy): the same.
    acct.proxy.clear();
    let gate = acct.proxy.hold(Which::Every("GetAccountPasswordPolicy"));
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&[], &[]);
        pty.expect("Observing the account");
        gate.wait_arrived(common::pty::TIMEOUT);
        pty.send("\u{3}");
        let ended = pty.wait();
        gate.release();
        ended
    });
    assert_eq!(code, 130, "{out}");
    assert!(
        out.contains("Interrupted. Nothing was changed in the account."),
        "{out}"
    );
    assert!(!out.contains("Admin group name"), "{out}");
    assert!(plan_files(&acct).is_empty(), "{:?}", plan_files(&acct));
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}

/// Ctrl-C after the plan was saved (at "Apply these changes?"): the saved plan is whole (it was
/// written to a temporary file and renamed into place), no temporary file is left, nothing was
/// written to the account.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_after_saving_leaves_the_whole_plan_and_no_temporary_file() {
    let (acct, _stub) = account().await;
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&[], &[]);
        pty.answer(
            &[
                DECLINE_MFA,
                DECLINE_TRAIL,
                DECLINE_REPORT,
                DECLINE_EBS,
                DECLINE_IMDS,
                DECLINE_ANALYZER,
                DECLINE_SUPPORT,
                DECLINE_CONTACT,
                DECLINE_BUDGET,
            ],
            "? Apply these changes?",
        );
        pty.send("\u{3}");
        pty.wait()
    });
    assert_eq!(code, 130, "{out}");
    let name = format!("{}.toml", acct.id);
    assert_eq!(
        plan_files(&acct),
        std::slice::from_ref(&name),
        "only the plan itself"
    );
    let text = std::fs::read_to_string(acct.path("plans").join(&name)).unwrap();
    let plan = aws_harden::plan::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(plan.admin_user().is_some(), "{text}");
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_apply_stops_after_the_call_in_flight_and_a_rerun_converges() {
    let (acct, _stub) = account().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nmfa = false\n[password_policy]\n",
    );
    // CreateUser is held at the proxy until Ctrl-C has been seen: certainly in flight, no window.
    let gate = acct.proxy.hold(Which::Nth("CreateUser", 1));
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["-f", &plan], &[]);
        pty.expect("Apply these changes?");
        pty.expect("›");
        pty.send("y");
        pty.expect("· yes");
        gate.wait_arrived(common::pty::TIMEOUT);
        pty.send("\u{3}");
        pty.expect("Interrupted: stopping after the call in flight.");
        gate.release();
        pty.wait()
    });
    assert_eq!(code, 130, "{out}");
    assert!(
        out.contains("Interrupted: stopping after the call in flight."),
        "{out}"
    );
    assert!(
        out.contains("✓ + iam user \"admin\""),
        "the call in flight finished\n{out}"
    );
    assert!(
        out.contains("Apply interrupted: 4 created, 1 changed, 0 deleted before stopping."),
        "{out}"
    );
    assert!(
        out.contains("Not attempted:\n  + iam login profile \"admin\""),
        "{out}"
    );
    assert!(
        out.contains(&format!("Run `aws-harden -f {plan}` again to finish")),
        "{out}"
    );
    let writes: Vec<String> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        writes,
        // The password policy comes before the admin user (a generated password must meet it).
        [
            "CreateGroup",
            "AttachGroupPolicy",
            "PutGroupPolicy",
            "UpdateAccountPasswordPolicy",
            "CreateUser"
        ],
        "nothing after the call in flight"
    );

    // The re-run makes exactly what was not attempted: the login profile (its password set once).
    acct.proxy.clear();
    let rerun = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(rerun.code, 0, "{}", rerun.all());
    let rerun_writes: Vec<String> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        rerun_writes,
        ["CreateLoginProfile", "AddUserToGroup"],
        "{}",
        rerun.all()
    );
    acct.proxy.clear();
    let check = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(check.code, 0, "{}", check.all());
    assert!(acct.proxy.writes().is_empty());
}

/// indicatif's default spinner frames are Braille patterns (U+2800-U+28FF).
fn has_spinner(raw: &str) -> bool {
    raw.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
}

#[tokio::test(flavor = "multi_thread")]
async fn colour_and_spinners_only_at_a_terminal_and_never_with_no_color() {
    let (acct, _stub) = account().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n",
    );
    // A read slow enough for the spinner (100 ms a frame) to be drawn several times.
    acct.proxy.delay("GetGroup", Duration::from_secs(1));
    let coloured = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["--plan", "-f", &plan], &[("NO_COLOR", "")]);
        pty.expect("Plan:");
        String::from_utf8_lossy(&pty.raw()).into_owned()
    });
    assert!(coloured.contains("\u{1b}[32m+"), "{coloured:?}");
    assert!(
        has_spinner(&coloured),
        "no spinner at a terminal: {coloured:?}"
    );
    let plain = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["--plan", "-f", &plan], &[]);
        pty.expect("Plan:");
        String::from_utf8_lossy(&pty.raw()).into_owned()
    });
    assert!(!plain.contains("\u{1b}[32m"), "NO_COLOR: {plain:?}");
    assert!(!has_spinner(&plain), "a spinner with NO_COLOR: {plain:?}");
    assert!(plain.contains("Observing the account..."), "{plain:?}");
    let piped = acct.run(&["--plan", "-f", &plan]).await;
    assert!(!piped.stdout.contains('\u{1b}'), "{:?}", piped.stdout);
    assert!(!piped.stderr.contains('\u{1b}'), "{:?}", piped.stderr);
    assert!(!has_spinner(&piped.stderr), "{:?}", piped.stderr);
    assert!(
        piped.stderr.contains("Observing the account..."),
        "{}",
        piped.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_fit_what_exists_and_existing_resources_are_adopted() {
    let (acct, _stub) = account().await;
    let iam = acct.iam();
    iam.create_group()
        .group_name("Administrators")
        .send()
        .await
        .unwrap();
    // A password policy stricter than CIS: the wizard proposes keeping it, not weakening it.
    iam.update_account_password_policy()
        .minimum_password_length(20)
        .password_reuse_prevention(24)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .allow_users_to_change_password(true)
        .send()
        .await
        .unwrap();
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&[], &[]);
        pty.answer(
            &[
                DECLINE_MFA,
                DECLINE_TRAIL,
                DECLINE_REPORT,
                DECLINE_EBS,
                DECLINE_IMDS,
                DECLINE_ANALYZER,
                DECLINE_SUPPORT,
                DECLINE_CONTACT,
                DECLINE_BUDGET,
                ("Apply these changes?", "n"),
            ],
            "Nothing was changed.",
        );
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Admin group            \"Administrators\" exists; "),
        "{out}"
    );
    assert!(
        out.contains("Password policy        set up; 1 difference from the recommendation"),
        "{out}"
    );
    // The custom preset was the default, with the live values as defaults: Enter kept 20.
    assert!(out.contains("Password policy · Custom"), "{out}");
    assert!(out.contains("Minimum password length (20)"), "{out}");
    // Adopted: the existing group is not created again, only what it lacks is added.
    assert!(!out.contains("+ iam group \"Administrators\""), "{out}");
    assert!(out.contains("~ iam group \"Administrators\""), "{out}");
    assert!(
        !out.contains("account password policy"),
        "kept as it is\n{out}"
    );
    let text =
        std::fs::read_to_string(acct.path("plans").join(format!("{}.toml", acct.id))).unwrap();
    assert!(text.contains("minimum_length = 20"), "{text}");
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_waits_for_enter_and_next_steps_follow_the_apply() {
    let (acct, _stub) = account().await;
    let plan = acct.write_plan("p.toml", common::IAM_ONLY);
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["-f", &plan], &[]);
        pty.expect("Apply these changes?");
        pty.expect("›");
        pty.send("y");
        pty.expect("Keep it now.");
        pty.expect("Saved it? Press Enter to go on");
        // Waiting: nothing after the password is written (or shown) until Enter.
        let writes_then = acct.proxy.writes().len();
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(
            acct.proxy.writes().len(),
            writes_then,
            "{}",
            pty.transcript()
        );
        assert_eq!(
            acct.proxy
                .writes()
                .last()
                .map(|c| c.operation.clone())
                .as_deref(),
            Some("CreateLoginProfile")
        );
        assert!(!pty.transcript().contains("Apply complete"));
        pty.send("\r");
        pty.expect("Apply complete:");
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    // The password itself, then its note once (not the title again with "shown once above").
    let after_title = out
        .split("Console password for IAM user admin (sign in at ")
        .nth(1)
        .unwrap_or_else(|| panic!("no password title\n{out}"));
    let password = after_title.lines().nth(2).unwrap_or_default().trim();
    assert!(password.len() >= 14, "password line {password:?}\n{out}");
    assert_eq!(
        out.matches("Console password for IAM user admin").count(),
        1,
        "{out}"
    );
    assert_eq!(out.matches("This is shown once").count(), 1, "{out}");
    assert!(!out.contains("shown once above"), "{out}");
    let steps = out
        .split("\nNext steps:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no next steps\n{out}"));
    assert!(
        steps.starts_with(&format!(
            "  1. Sign in at https://{}.signin.aws.amazon.com/console as IAM user admin with the password shown above.\n  2. Change the password",
            acct.id
        )),
        "{steps}"
    );
}
