//! MFA end to end: enrollment of the admin user's virtual MFA device at a real pseudo-terminal,
//! MFA sessions for re-runs as an IAM user, and the admin's optional access key profile.
//!
//! moto accepts any pair of codes in `EnableMFADevice`, so the pseudo-terminal test proves the flow
//! (QR code and secret on the screen, codes typed, device enabled); a proxy hook answers one
//! `InvalidAuthenticationCode` (which moto never sends) to prove a wrong code is retried.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::proxy::{Request, query_error};
use common::{Account, assert_no_writes};
use totp_rs::{Algorithm, Secret, TOTP};

const PLAN: &str = r#"
version = 1
home_region = "us-east-1"
[admin_group]
[admin_user]
console_access = false
"#;

/// Two consecutive codes for a Base32 secret, as an authenticator app shows them.
fn two_codes(secret: &str) -> (String, String) {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (totp.generate(now), totp.generate(now + 30))
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_mfa_is_enrolled_at_a_terminal_and_a_wrong_code_is_retried() {
    let acct = Account::new().await;
    // An aborted earlier run left an unassigned device with the same name: it must not block us.
    acct.iam()
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("admin")
        .send()
        .await
        .unwrap();
    let rejected = Arc::new(AtomicUsize::new(0));
    let r = rejected.clone();
    acct.proxy.hook(Box::new(move |req: &Request| {
        (req.operation == "EnableMFADevice" && r.fetch_add(1, Ordering::SeqCst) == 0).then(|| {
            query_error(
                403,
                "InvalidAuthenticationCode",
                "Authentication code for device is not valid.",
            )
        })
    }));
    let plan = acct.write_plan("p.toml", PLAN);
    let cmd = acct.command(&["-f", &plan], &[("COLUMNS", "200")]);
    let screen = tokio::task::spawn_blocking(move || -> Result<String, rexpect::error::Error> {
        let mut p = rexpect::session::spawn_command(cmd, Some(60_000))?;
        let mut seen = String::new();
        seen += &p.exp_string("+ mfa device for iam user \"admin\"")?;
        seen += &p.exp_string("Apply these changes?")?;
        seen += &p.exp_string("(y/n)")?;
        p.send("y")?;
        p.flush()?;
        seen += &p.exp_string("Scan this QR code")?;
        // exp_string returns what came before the needle: here the QR code.
        seen += &format!("<qr>{}</qr>", p.exp_string("secret key into the app: ")?);
        let (before, secret) = p.exp_regex("[A-Z2-7]{16,}")?;
        seen += &before;
        let (first, next) = two_codes(&secret);
        // First try: the hook rejects it, as AWS does for codes out of step.
        seen += &p.exp_string("First code from the app")?;
        p.send_line(&first)?;
        seen += &p.exp_string("Next code")?;
        p.send_line(&next)?;
        seen += &p.exp_string("AWS did not accept those codes")?;
        seen += &p.exp_string("First code from the app")?;
        p.send_line(&first)?;
        seen += &p.exp_string("Next code")?;
        p.send_line(&next)?;
        seen += &p.exp_string("MFA is on for IAM user admin")?;
        seen += &p.exp_eof()?;
        let status = p.process_mut().wait()?;
        seen += &format!("\nexit: {status:?}\nsecret: {secret}");
        Ok(seen)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("terminal session failed: {e}"));
    let exit = screen.lines().find(|l| l.starts_with("exit: ")).unwrap();
    assert!(
        exit.contains("Exited(") && exit.ends_with(", 0)"),
        "{screen}"
    );
    // A QR code was drawn between the two (Unicode blocks; rexpect reads bytes, so count
    // non-ASCII characters rather than match the block glyphs).
    let qr = screen
        .split("<qr>")
        .nth(1)
        .and_then(|s| s.split("</qr>").next())
        .unwrap();
    assert!(
        qr.chars().filter(|c| !c.is_ascii()).count() > 200,
        "{screen}"
    );
    assert_eq!(
        rejected.load(Ordering::SeqCst),
        2,
        "two EnableMFADevice calls"
    );

    // The old unassigned device was replaced, never an EntityAlreadyExists.
    let ops: Vec<String> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    let del = ops.iter().position(|o| o == "DeleteVirtualMFADevice");
    let create = ops.iter().position(|o| o == "CreateVirtualMFADevice");
    assert!(del.is_some() && del < create, "{ops:?}");

    // Really enabled in moto, and the secret is on no file in the working directory.
    let devices = acct
        .iam()
        .list_mfa_devices()
        .user_name("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(devices.mfa_devices.len(), 1);
    let secret = screen.rsplit("secret: ").next().unwrap().to_string();
    for entry in std::fs::read_dir(acct.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                !text.contains(&secret),
                "secret found in {}",
                path.display()
            );
        }
    }

    // Enrolled: nothing more to do, and --plan stays read-only.
    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_admin_mfa_is_a_manual_action() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        applied
            .stdout
            .contains("! mfa device for iam user \"admin\""),
        "{}",
        applied.all()
    );
    assert!(
        applied.stdout.contains("at a terminal"),
        "{}",
        applied.all()
    );
    assert!(
        acct.proxy
            .writes()
            .iter()
            .all(|c| !c.operation.contains("MFADevice")),
        "{:?}",
        acct.proxy.writes()
    );
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
}

/// An IAM user of the account with an access key and an enabled MFA device.
async fn user_with_mfa(acct: &Account, name: &str) -> (Account, String) {
    let (key_id, secret) = acct.user_with_key(name).await;
    acct.enable_virtual_mfa(name).await;
    (acct.as_user(&key_id, &secret), key_id)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_as_an_iam_user_with_mfa_uses_an_mfa_session() {
    let acct = Account::new().await;
    let (user, key_id) = user_with_mfa(&acct, "ops").await;
    let plan = user.write_plan("p.toml", PLAN);

    let run = user
        .run(&["--plan", "-f", &plan, "--mfa-code", "123456"])
        .await;
    // What moto allows: the session's reads answer (moto does not tie session credentials to the
    // account, but the plan's admin group and user exist in neither account), so the dry run
    // completes with changes pending, exit 2; an error would be 1.
    assert_eq!(run.code, 2, "{}", run.all());
    assert_no_writes(&user, &run);
    assert!(run.stdout.contains("(MFA session)"), "{}", run.all());
    let calls = user.proxy.calls();
    let session = calls
        .iter()
        .position(|c| c.operation == "GetSessionToken")
        .unwrap_or_else(|| panic!("no GetSessionToken: {calls:?}\n{}", run.all()));
    assert_eq!(calls[session].status, 200);
    assert_eq!(calls[session].access_key, key_id);
    // Everything after it is signed with the session's credentials, not the long-term key.
    // (moto does not tie session credentials to the account, so what those calls observe is not
    // asserted here; the real account's behaviour is AWS's.)
    assert!(session + 1 < calls.len(), "{calls:?}");
    assert!(
        calls[session + 1..].iter().all(|c| c.access_key != key_id),
        "{calls:?}"
    );

    // Without a code and without a terminal: no session, and the person is told why.
    user.proxy.clear();
    let plain = user.run(&["--plan", "-f", &plan]).await;
    // moto evaluates no policy conditions, so the key's own reads answer (on AWS the guard would
    // deny them without MFA): changes pending, exit 2.
    assert_eq!(plain.code, 2, "{}", plain.all());
    assert!(
        user.proxy
            .calls()
            .iter()
            .all(|c| c.operation != "GetSessionToken")
    );
    assert!(plain.stderr.contains("--mfa-code"), "{}", plain.all());

    // A malformed code is refused before any session is attempted.
    user.proxy.clear();
    let bad = user
        .run(&["--plan", "-f", &plan, "--mfa-code", "12x"])
        .await;
    assert_eq!(bad.code, 1, "{}", bad.all());
    assert!(bad.stderr.contains("--mfa-code"), "{}", bad.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_access_key_is_stored_as_a_private_profile_and_works() {
    let acct = Account::new().await;
    let creds_path = acct.path("aws-credentials");
    let other = "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = keepme\n";
    std::fs::write(&creds_path, other).unwrap();
    let plan = acct.write_plan(
        "p.toml",
        &PLAN.replace("console_access = false", "console_access = false\nmfa = false\naccess_key = true\naccess_key_profile = \"admin-keys\""),
    );
    // The key comes only once the admin has an MFA device (issue 10): it has one, as if enrolled in
    // the console.
    acct.iam()
        .create_user()
        .user_name("admin")
        .send()
        .await
        .unwrap();
    acct.enable_virtual_mfa("admin").await;
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout.contains("+ iam access key for \"admin\""),
        "{}",
        dry.all()
    );
    assert_no_writes(&acct, &dry);

    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let text = std::fs::read_to_string(&creds_path).unwrap();
    assert!(text.starts_with(other), "other profiles untouched:\n{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&creds_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let section = text.split("[admin-keys]").nth(1).expect("profile written");
    let value = |k: &str| {
        section
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k} = ")))
            .unwrap()
            .to_string()
    };
    let (id, secret) = (value("aws_access_key_id"), value("aws_secret_access_key"));
    assert!(!applied.all().contains(&secret), "the secret was printed");
    assert!(applied.all().contains(&id), "the key ID is reported");
    // The binary waited until the key worked: STS was called with it.
    assert!(
        acct.proxy
            .calls()
            .iter()
            .any(|c| c.operation == "GetCallerIdentity" && c.access_key == id)
    );
    let as_admin = acct.as_user(&id, &secret);
    let who = aws_sdk_sts::Client::new(&as_admin.sdk())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert!(who.arn().unwrap().ends_with(":user/admin"), "{who:?}");

    // One key is enough: a second apply creates no other.
    acct.proxy.clear();
    let again = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
}

#[tokio::test(flavor = "multi_thread")]
async fn at_a_terminal_the_mfa_code_is_asked_for_and_a_wrong_one_retried() {
    let acct = Account::new().await;
    let (user, _) = user_with_mfa(&acct, "ops").await;
    // moto accepts any code; AWS answers a wrong one with AccessDenied. Once, here.
    let rejected = Arc::new(AtomicUsize::new(0));
    let r = rejected.clone();
    user.proxy.hook(Box::new(move |req: &Request| {
        (req.operation == "GetSessionToken" && r.fetch_add(1, Ordering::SeqCst) == 0).then(|| {
            query_error(
                403,
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            )
        })
    }));
    let plan = user.write_plan("p.toml", PLAN);
    let cmd = user.command(&["--plan", "-f", &plan], &[("COLUMNS", "200")]);
    let screen = tokio::task::spawn_blocking(move || -> Result<String, rexpect::error::Error> {
        let mut p = rexpect::session::spawn_command(cmd, Some(60_000))?;
        let mut seen = p.exp_string("MFA code for ops")?;
        p.send_line("111111")?;
        seen += &p.exp_string("did not accept that code")?;
        seen += &p.exp_string("MFA code for ops")?;
        p.send_line("222222")?;
        seen += &p.exp_string("(MFA session)")?;
        seen += &p.exp_eof()?;
        Ok(seen)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("terminal session failed: {e}"));
    assert_eq!(rejected.load(Ordering::SeqCst), 2, "{screen}");
    let sessions: Vec<u16> = user
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "GetSessionToken")
        .map(|c| c.status)
        .collect();
    assert_eq!(sessions, vec![403, 200]);
    assert!(user.proxy.writes().is_empty(), "{:?}", user.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn role_sessions_are_used_as_they_are() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    let run = acct
        .run(&["--plan", "-f", &plan, "--mfa-code", "123456"])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("--mfa-code ignored"), "{}", run.all());
    assert!(
        acct.proxy
            .calls()
            .iter()
            .all(|c| c.operation != "GetSessionToken")
    );
}

// ---- The MFA guard (issue 10): judged by what IAM decides, not by how the JSON looks. ----

use aws_harden::controls::admin_group::require_mfa_policy;
use aws_harden::controls::mfa_guard;
use common::iam_eval::{Context, Decision, administrator_access, evaluate};

const ACCOUNT: &str = "123456789012";

/// The guard aws-harden shipped before issue 10: its exemptions let a long-term key enroll a device.
fn old_guard() -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyAllExceptMfaSetupUnlessSignedInWithMfa",
            "Effect": "Deny",
            "NotAction": [
                "iam:ChangePassword", "iam:CreateVirtualMFADevice", "iam:EnableMFADevice",
                "iam:GetAccountPasswordPolicy", "iam:GetUser", "iam:ListMFADevices", "iam:ListUsers",
                "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "sts:GetSessionToken"
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
        }]
    })
}

/// The three sign-ins of the specification, for user `admin`.
fn sign_ins() -> [(&'static str, Context); 3] {
    let user = Context::default().with("aws:username", "admin");
    [
        ("key", user.clone()),
        (
            "console",
            user.clone().with("aws:MultiFactorAuthPresent", "false"),
        ),
        ("MFA", user.with("aws:MultiFactorAuthPresent", "true")),
    ]
}

/// The specification's table (issue 10), written again here on purpose: the test must not take the
/// expectation from the code under test. `true` = allowed; columns key, console, MFA.
const TABLE: [(&str, &str, [bool; 3]); 6] = [
    (
        "iam:CreateVirtualMFADevice",
        "arn:aws:iam::123456789012:mfa/any-name",
        [false, true, true],
    ),
    (
        "iam:EnableMFADevice",
        "arn:aws:iam::123456789012:user/admin",
        [false, true, true],
    ),
    (
        "iam:EnableMFADevice",
        "arn:aws:iam::123456789012:user/someone-else",
        [false, false, true],
    ),
    (
        "iam:ChangePassword",
        "arn:aws:iam::123456789012:user/admin",
        [false, true, true],
    ),
    (
        "iam:CreateUser",
        "arn:aws:iam::123456789012:user/new-user",
        [false, false, true],
    ),
    ("s3:ListAllMyBuckets", "*", [false, false, true]),
];

#[test]
fn the_mfa_guard_with_administrator_access_decides_exactly_the_specified_table() {
    let policies = [administrator_access(), require_mfa_policy("aws", ACCOUNT)];
    for (action, resource, expected) in TABLE {
        for ((sign_in, context), allowed) in sign_ins().into_iter().zip(expected) {
            let got = evaluate(&policies, action, resource, &context);
            let want = if allowed {
                Decision::Allowed
            } else {
                Decision::ExplicitDeny
            };
            assert_eq!(got, want, "{action} on {resource} with {sign_in}");
        }
    }
    // The binary checks the live account against the same specification.
    let spec: Vec<(&str, [bool; 3])> = mfa_guard::CASES
        .iter()
        .map(|c| (c.action, c.allowed))
        .collect();
    let table: Vec<(&str, [bool; 3])> = TABLE.iter().map(|(a, _, e)| (*a, *e)).collect();
    assert_eq!(spec, table);
}

#[test]
fn the_old_guard_let_a_long_term_key_enroll_its_own_first_device() {
    let policies = [administrator_access(), old_guard()];
    let [(_, key), _, _] = sign_ins();
    let own = "arn:aws:iam::123456789012:user/admin";
    let other = "arn:aws:iam::123456789012:user/someone-else";
    // The hole: create a device, enable it on yourself (or anyone), then GetSessionToken with it.
    assert_eq!(
        evaluate(
            &policies,
            "iam:CreateVirtualMFADevice",
            "arn:aws:iam::123456789012:mfa/x",
            &key
        ),
        Decision::Allowed
    );
    assert_eq!(
        evaluate(&policies, "iam:EnableMFADevice", own, &key),
        Decision::Allowed
    );
    assert_eq!(
        evaluate(&policies, "iam:EnableMFADevice", other, &key),
        Decision::Allowed
    );
}

#[test]
fn the_evaluator_follows_iams_wildcards_and_condition_rules() {
    use common::iam_eval::glob;
    assert!(glob("arn:aws:iam::*:user/*", "arn:aws:iam::1:user/a/b"));
    assert!(glob("iam:list?sers", "iam:listusers"));
    assert!(!glob("iam:Get*", "iam:ListUsers"));
    let deny_unless = |op: &str, value: &str| {
        serde_json::json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {op: {"aws:MultiFactorAuthPresent": value}}}]})
    };
    let absent = Context::default();
    let no = Context::default().with("aws:multifactorauthpresent", "FALSE");
    let d = |doc, ctx: &Context| evaluate(&[administrator_access(), doc], "s3:GetObject", "*", ctx);
    // Bool on an absent key does not match; BoolIfExists does; Null true matches only absent.
    assert_eq!(d(deny_unless("Bool", "false"), &absent), Decision::Allowed);
    assert_eq!(
        d(deny_unless("BoolIfExists", "false"), &absent),
        Decision::ExplicitDeny
    );
    assert_eq!(d(deny_unless("Bool", "false"), &no), Decision::ExplicitDeny);
    assert_eq!(
        d(deny_unless("Null", "true"), &absent),
        Decision::ExplicitDeny
    );
    assert_eq!(d(deny_unless("Null", "true"), &no), Decision::Allowed);
    // No allow at all: an implicit deny.
    assert_eq!(
        evaluate(&[], "s3:GetObject", "*", &absent),
        Decision::ImplicitDeny
    );
}

/// Admin group and user without console access or MFA enrollment, so that after one apply a dry
/// run has nothing pending and only the guard can make it exit 2.
const GUARD_PLAN: &str = r#"
version = 1
home_region = "us-east-1"
[admin_group]
[admin_user]
console_access = false
mfa = false
"#;

fn simulations(acct: &Account) -> usize {
    acct.proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "SimulatePrincipalPolicy")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_after_apply_proves_the_guard_with_iams_simulator() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", GUARD_PLAN);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    // Verification after apply simulated the new guard.
    assert!(simulations(&acct) >= 6, "{:?}", acct.proxy.counts());

    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_no_writes(&acct, &dry);
    // Three sign-ins, two calls each (IAM actions on resources; the S3 action on *).
    assert_eq!(simulations(&acct), 6, "{:?}", acct.proxy.counts());
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_names_the_failing_case_when_the_old_guard_is_put_back() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", GUARD_PLAN);
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    // Someone puts the pre-issue-10 document back by hand.
    acct.iam()
        .put_group_policy()
        .group_name("Administrators")
        .policy_name("aws-harden-require-mfa")
        .policy_document(old_guard().to_string())
        .send()
        .await
        .unwrap();
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_no_writes(&acct, &dry);
    for case in [
        "long-term access key: iam:CreateVirtualMFADevice on an MFA device",
        "long-term access key: iam:EnableMFADevice on own user",
        "long-term access key: iam:ChangePassword on own user",
        "console without MFA: iam:EnableMFADevice on another user",
    ] {
        assert!(dry.stdout.contains(case), "{case} not named\n{}", dry.all());
    }
    // And the next apply repairs it: the dry run after that is clean.
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    assert_eq!(acct.run(&["--plan", "-f", &plan]).await.code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guard_broken_outside_its_document_is_a_pending_manual_action() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", GUARD_PLAN);
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    // The group policy stays exactly as planned; a policy on the user denies what MFA must allow.
    acct.iam()
        .put_user_policy()
        .user_name("admin")
        .policy_name("no-new-users")
        .policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout.contains("! mfa guard for iam user \"admin\""),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout
            .contains("session with MFA: iam:CreateUser on another user"),
        "{}",
        dry.all()
    );
}

/// A policy of the admin's that needs a context key the check does not give (here `aws:SourceIp`)
/// leaves IAM's simulator without a decision: it lists the key in MissingContextValues (IAM API
/// reference, SimulatePrincipalPolicy), and that is "could not check", never a pass (issue 29).
/// The keys the guard itself uses (`aws:username`, the MFA key) are given, so the plain guard
/// passes (`plan_after_apply_proves_the_guard_with_iams_simulator`).
#[tokio::test(flavor = "multi_thread")]
async fn a_decision_missing_a_context_value_is_could_not_check_never_a_pass() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", GUARD_PLAN);
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    acct.iam()
        .put_user_policy()
        .user_name("admin")
        .policy_name("office-only")
        .policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*",
                 "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_no_writes(&acct, &dry);
    assert!(
        dry.stdout
            .contains("could not check: the simulator lacked context values aws:SourceIp"),
        "{}",
        dry.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_access_key_waits_until_the_admin_has_an_mfa_device() {
    let acct = Account::new().await;
    let creds_path = acct.path("aws-credentials");
    let plan = acct.write_plan(
        "p.toml",
        &PLAN.replace(
            "console_access = false",
            "console_access = false\nmfa = false\naccess_key = true",
        ),
    );
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        applied.stdout.contains("! iam access key for \"admin\""),
        "{}",
        applied.all()
    );
    assert!(
        acct.proxy
            .calls()
            .iter()
            .all(|c| c.operation != "CreateAccessKey"),
        "no key before a device"
    );
    assert!(!creds_path.exists());
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(
        dry.code,
        2,
        "pending until the device exists\n{}",
        dry.all()
    );
}

/// Run by the admin user itself with its long-term key: the guard would cut that key off, so it is
/// the very last write, after everything else was written and verified, and the person is told that
/// the key now needs an MFA session. (moto evaluates no conditions, so the key keeps working here;
/// what the guard denies on AWS is proven by the simulator tests above.)
#[tokio::test(flavor = "multi_thread")]
async fn run_by_the_admin_with_its_key_the_guard_is_the_very_last_write() {
    let acct = Account::new().await;
    let (key_id, secret) = acct.user_with_key("alice").await;
    let alice = acct.as_user(&key_id, &secret);
    let plan = alice.write_plan(
        "p.toml",
        &GUARD_PLAN.replace("[admin_user]", "[admin_user]\nname = \"alice\""),
    );
    let dry = alice.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(dry.stdout.contains("very last write"), "{}", dry.all());

    alice.proxy.clear();
    let applied = alice.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let writes: Vec<String> = alice
        .proxy
        .writes()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        writes,
        [
            "CreateGroup",
            "AttachGroupPolicy",
            "AddUserToGroup",
            "PutGroupPolicy"
        ],
        "{}",
        applied.all()
    );
    // Everything before it was verified (observed again) before the guard went on.
    let calls = alice.proxy.calls();
    let add = calls
        .iter()
        .position(|c| c.operation == "AddUserToGroup")
        .unwrap();
    let put = calls
        .iter()
        .position(|c| c.operation == "PutGroupPolicy")
        .unwrap();
    assert!(
        calls[add..put]
            .iter()
            .any(|c| c.operation == "ListGroupsForUser"),
        "no verification between the last grant and the guard: {calls:?}"
    );
    assert!(applied.all().contains("MFA session"), "{}", applied.all());
}

/// With an MFA session the run pays one wave more, no other: the device lookup goes out with
/// GetCallerIdentity, then GetSessionToken, then the reads (issue 21). Answers are held back 1 s so
/// the count is what waits for what, not how fast this machine is.
#[tokio::test(flavor = "multi_thread")]
async fn an_mfa_session_adds_one_wave_of_calls_and_no_more() {
    let acct = Account::new().await;
    let (user, _) = user_with_mfa(&acct, "ops").await;
    let plan = user.write_plan("p.toml", PLAN);
    user.proxy
        .hold_until_quiet(std::time::Duration::from_millis(1_500));
    let run = user
        .run(&["--plan", "-f", &plan, "--mfa-code", "123456"])
        .await;
    assert!(run.stdout.contains("(MFA session)"), "{}", run.all());
    let by_wave = user.proxy.calls_by_wave();
    let wave_of = |op: &str| {
        by_wave
            .iter()
            .find(|(_, o)| o.ends_with(&format!(":{op}")))
            .map(|(w, _)| *w)
            .unwrap_or_else(|| panic!("no {op}: {by_wave:?}"))
    };
    assert_eq!(wave_of("GetCallerIdentity"), 1, "{by_wave:?}");
    assert_eq!(wave_of("ListMFADevices"), 1, "{by_wave:?}");
    assert_eq!(wave_of("GetSessionToken"), 2, "{by_wave:?}");
    assert!(
        user.proxy
            .waves_sent_within(std::time::Duration::from_millis(1_500))
            <= 4,
        "{by_wave:#?}"
    );
}
