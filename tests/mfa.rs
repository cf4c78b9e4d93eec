//! MFA end to end: enrollment of the admin user's virtual MFA device at a real pseudo-terminal,
//! MFA sessions for re-runs as an IAM user, and the admin's optional access key profile.
//!
//! moto accepts any pair of codes in `EnableMFADevice`, so the pseudo-terminal test proves the flow
//! (QR code and secret on the screen, codes typed, device enabled); a proxy hook answers one
//! `InvalidAuthenticationCode` (which moto never sends) to prove a wrong code is retried.

mod common;

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
    let iam = acct.iam();
    iam.create_user().user_name(name).send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(name)
        .send()
        .await
        .unwrap()
        .virtual_mfa_device
        .unwrap();
    iam.enable_mfa_device()
        .user_name(name)
        .serial_number(&device.serial_number)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    (
        acct.as_user(&key.access_key_id, &key.secret_access_key),
        key.access_key_id,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_as_an_iam_user_with_mfa_uses_an_mfa_session() {
    let acct = Account::new().await;
    let (user, key_id) = user_with_mfa(&acct, "ops").await;
    let plan = user.write_plan("p.toml", PLAN);

    let run = user
        .run(&["--plan", "-f", &plan, "--mfa-code", "123456"])
        .await;
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
