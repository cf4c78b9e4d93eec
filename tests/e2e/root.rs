//! The root control, end to end: the real binary against moto, through the recording proxy.
//!
//! moto can never be the root user: it always reports `AccountAccessKeysPresent` and
//! `AccountMFAEnabled` as 0 and its credential report has no root row. So these tests answer in a
//! proxy hook exactly what moto cannot serve, and nothing else:
//! - `sts:GetCallerIdentity` as root (only for "caller is root" tests),
//! - root's three fields of `iam:GetAccountSummary` (keys / MFA / password; the rest is moto's),
//! - `iam:ListAccessKeys` and `iam:DeleteAccessKey` signed by root without a user name (root's own
//!   keys); a deleted signing key is refused from then on (`Proxy::revoked_keys`),
//! - `iam:GetCredentialReport` with a `<root_account>` row in the real CSV format.
//!
//! Everything else (the admin group, user, password policy) is served by moto for real.

use crate::common;

use std::sync::{Arc, Mutex};

use common::proxy::{Request, Response, RootSummary};
use common::{Account, assert_no_writes};

const PLAN: &str = r#"
version = 1
home_region = "us-east-1"
[admin_group]
[admin_user]
mfa = false
[password_policy]
[root]
"#;

const ROOT_ONLY: &str = "version = 1\nhome_region = \"us-east-1\"\n[root]\n";

/// What the hooks say about root; changed by `DeleteAccessKey` like the real account would be.
#[derive(Debug, Default)]
struct RootState {
    caller_is_root: bool,
    /// The key the binary signs with: only it is root (a new admin key is not).
    signer: String,
    keys: Vec<String>,
    mfa: bool,
    password: bool,
    /// Root keys deleted, in order.
    deleted: Vec<String>,
    /// `GetAccountSummary` calls answered; MFA turns on after `mfa_on_after` of them (a person
    /// enabling it in the console while aws-harden waits).
    summaries: usize,
    mfa_on_after: Option<usize>,
    /// What `AccountAccessKeysPresent` says whatever the keys (a summary that has not caught up).
    summary_keys: Option<bool>,
    /// Every deletion of a root key fails (IAM API reference, "Common errors": ServiceFailure, 500).
    refuse_deletes: bool,
}

fn xml(status: u16, body: String) -> Option<Response> {
    Some(Response {
        status,
        content_type: "text/xml".into(),
        body,
    })
}

fn ok(action: &str, result: &str) -> Option<Response> {
    xml(
        200,
        format!(
            "<{action}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>hook</RequestId></ResponseMetadata></{action}Response>"
        ),
    )
}

fn error(status: u16, code: &str, message: &str) -> Option<Response> {
    Some(common::proxy::query_error(status, code, message))
}

/// The credential report as IAM delivers it: the real header, a root row, a user row.
const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::ACCOUNT:root,2024-01-02T10:00:00+00:00,not_supported,2026-11-20T08:15:00+00:00,not_supported,not_supported,false,true,2024-01-02T10:05:00+00:00,2026-11-28T22:01:00+00:00,us-east-1,iam,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
admin,arn:aws:iam::ACCOUNT:user/admin,2026-11-28T22:00:00+00:00,true,no_information,2026-11-28T22:00:00+00:00,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

fn install_root_hooks(acct: &Account, state: Arc<Mutex<RootState>>) {
    let account = acct.id.clone();
    // Root's fields in GetAccountSummary; the rest of moto's summary (Users, Groups...) stays.
    let summary_state = state.clone();
    acct.proxy.root_summary_from(Box::new(move || {
        let mut s = summary_state.lock().unwrap();
        s.summaries += 1;
        if s.mfa_on_after.is_some_and(|n| s.summaries > n) {
            s.mfa = true;
        }
        RootSummary {
            password_present: Some(s.password),
            mfa_enabled: Some(s.mfa),
            // A summary that still counts a key AWS has deleted (issue 22's check must catch it).
            access_keys_present: s.summary_keys.unwrap_or(!s.keys.is_empty()),
        }
    }));
    let revoked = acct.proxy.revoked_keys();
    acct.proxy.hook(Box::new(move |req: &Request| {
        let mut s = state.lock().unwrap();
        let signed_by_root = s.caller_is_root && req.access_key == s.signer;
        match (req.service.as_str(), req.operation.as_str()) {
            ("sts", "GetCallerIdentity") if signed_by_root => {
                Some(common::proxy::root_caller_identity(&account))
            }
            ("iam", "ListAccessKeys") if req.param("UserName").is_none() => {
                assert!(signed_by_root, "only root can list root's keys");
                let members: String = s
                    .keys
                    .iter()
                    .map(|k| {
                        format!(
                            "<member><UserName>{account}</UserName><AccessKeyId>{k}</AccessKeyId><Status>Active</Status>\
                             <CreateDate>2024-01-02T10:05:00Z</CreateDate></member>"
                        )
                    })
                    .collect();
                ok(
                    "ListAccessKeys",
                    &format!("<AccessKeyMetadata>{members}</AccessKeyMetadata><IsTruncated>false</IsTruncated>"),
                )
            }
            // Without a user name, DeleteAccessKey acts on the caller's own keys (IAM API reference,
            // DeleteAccessKey: "If you do not specify a user name, IAM determines the user name
            // implicitly based on the Amazon Web Services access key ID signing the request"). Only a
            // root-signed request reaches root's keys; others go to moto, as the IAM user they are.
            ("iam", "DeleteAccessKey") if req.param("UserName").is_none() && signed_by_root => {
                let id = req.param("AccessKeyId").unwrap_or_default();
                if s.refuse_deletes {
                    return error(
                        500,
                        "ServiceFailure",
                        "The request processing has failed because of an unknown error.",
                    );
                }
                if !s.keys.contains(&id) {
                    return error(
                        404,
                        "NoSuchEntity",
                        &format!("The Access Key with id {id} cannot be found."),
                    );
                }
                s.keys.retain(|k| *k != id);
                if id == s.signer {
                    // The key is gone: AWS refuses everything signed with it from now on.
                    revoked.lock().unwrap().insert(id.clone());
                }
                s.deleted.push(id);
                xml(
                    200,
                    "<DeleteAccessKeyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata>\
                     <RequestId>hook</RequestId></ResponseMetadata></DeleteAccessKeyResponse>"
                        .into(),
                )
            }
            ("iam", "GetCredentialReport") => ok(
                "GetCredentialReport",
                &format!(
                    "<Content>{}</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2026-11-29T01:00:00Z</GeneratedTime>",
                    aws_smithy_types::base64::encode(REPORT.replace("ACCOUNT", &account))
                ),
            ),
            _ => None,
        }
    }));
}

const OTHER_KEY: &str = "AKIAOTHERROOTKEY0001";

/// An account whose caller is root, signing with `acct.access_key_id`, and a second root key.
async fn as_root() -> (Account, Arc<Mutex<RootState>>) {
    let acct = Account::new().await;
    let state = Arc::new(Mutex::new(RootState {
        caller_is_root: true,
        signer: acct.access_key_id.clone(),
        keys: vec![acct.access_key_id.clone(), OTHER_KEY.to_string()],
        mfa: true,
        password: true,
        deleted: vec![],
        ..RootState::default()
    }));
    install_root_hooks(&acct, state.clone());
    (acct, state)
}

fn assert_contains(run: &common::Run, text: &str) {
    assert!(
        run.stdout.contains(text) || run.stderr.contains(text),
        "missing {text:?}\n{}",
        run.all()
    );
}

fn write_ops(acct: &Account) -> Vec<String> {
    acct.proxy
        .writes()
        .into_iter()
        .map(|c| c.operation)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn root_caller_deletes_root_keys_last_and_its_own_key_last_of_all() {
    let (acct, state) = as_root().await;
    let own = acct.access_key_id.clone();
    let plan = acct.write_plan("p.toml", PLAN);

    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_contains(&dry, "as the root user");
    assert_contains(&dry, &format!("- root access key \"{OTHER_KEY}\" (last)"));
    assert_contains(&dry, &format!("- root access key \"{own}\" (last)"));
    // History from the credential report, shown as information only.
    assert_contains(&dry, "Root last used: console 2026-11-20T08:15:00+00:00");
    assert_no_writes(&acct, &dry);

    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let writes = write_ops(&acct);
    let n = writes.len();
    assert!(n > 2, "{writes:?}");
    // The admin path is built first; root's keys go last, its own key last of all.
    assert_eq!(
        writes[n - 2..],
        ["DeleteAccessKey", "DeleteAccessKey"],
        "{writes:?}"
    );
    assert!(writes[..n - 2].iter().all(|w| w != "DeleteAccessKey"));
    assert_eq!(
        state.lock().unwrap().deleted,
        vec![OTHER_KEY.to_string(), own.clone()]
    );
    assert_contains(&applied, "no longer work");
    // Nothing at all, not even a read, follows the self-delete (in the order the calls were sent):
    // the key it signed with no longer exists.
    let calls = acct.proxy.calls();
    let last = calls.last().unwrap();
    assert_eq!(last.operation, "DeleteAccessKey", "{calls:?}");
    assert_eq!(last.status, 200, "{calls:?}");
    assert!(
        last.params
            .contains(&("AccessKeyId".to_string(), own.clone())),
        "{calls:?}"
    );

    // A re-run signed with the deleted key is refused by AWS (the proxy answers as AWS does) and
    // writes nothing: the admin carries on from here.
    acct.proxy.clear();
    let again = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(again.code, 1, "{}", again.all());
    assert!(
        again.stderr.contains("InvalidClientTokenId"),
        "{}",
        again.all()
    );
    assert_no_writes(&acct, &again);
    assert!(
        acct.proxy.calls().iter().all(|c| c.status == 403),
        "{:?}",
        acct.proxy.calls()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_earlier_failed_write_means_no_root_key_is_deleted() {
    let (acct, state) = as_root().await;
    // A refusal AWS could send (an SCP, say); moto would accept the write.
    acct.proxy.hook(Box::new(|req: &Request| {
        (req.operation == "UpdateAccountPasswordPolicy")
            .then(|| error(403, "AccessDenied", "denied by a test hook"))
            .flatten()
    }));
    let plan = acct.write_plan("p.toml", PLAN);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 1, "{}", applied.all());
    let writes = write_ops(&acct);
    assert!(
        writes.contains(&"UpdateAccountPasswordPolicy".to_string()),
        "{writes:?}"
    );
    assert!(
        !writes.contains(&"DeleteAccessKey".to_string()),
        "{writes:?}"
    );
    assert!(state.lock().unwrap().deleted.is_empty());
    assert_eq!(state.lock().unwrap().keys.len(), 2);
}

/// The plan with EBS encryption in us-east-1 and eu-west-1, where EC2 keeps failing (EC2 API
/// reference, "Error codes": InternalError, HTTP 500).
fn with_ebs_failing_in_eu_west_1(acct: &Account) -> String {
    acct.proxy.hook(Box::new(|req: &Request| {
        (req.operation == "EnableEbsEncryptionByDefault" && req.region == "eu-west-1").then(|| {
            common::proxy::ec2_error(500, "InternalError", "An internal error has occurred.")
        })
    }));
    acct.write_plan(
        "p.toml",
        &PLAN
            .replace(
                "home_region = \"us-east-1\"\n",
                "home_region = \"us-east-1\"\nregions = [\"us-east-1\", \"eu-west-1\"]\n",
            )
            .replace("[root]", "[ebs_encryption]\n[root]"),
    )
}

/// A guardrail that keeps failing in one region is not what root's keys wait for (issue 29): the
/// admin path (group with its MFA guard, password policy, user) is applied and verified, root's
/// keys are deleted anyway, and the run exits 1 naming the failure.
#[tokio::test(flavor = "multi_thread")]
async fn a_guardrail_failing_in_one_region_does_not_keep_roots_keys() {
    let (acct, state) = as_root().await;
    let plan = with_ebs_failing_in_eu_west_1(&acct);
    let applied = acct
        .run_with(&["-f", &plan, "--yes"], &[("AWS_MAX_ATTEMPTS", "1")])
        .await;
    assert_eq!(applied.code, 1, "{}", applied.all());
    assert_contains(&applied, "EnableEbsEncryptionByDefault");
    assert_contains(&applied, "eu-west-1");
    let writes = write_ops(&acct);
    // The MFA guard attached, the admin path made...
    for op in [
        "CreateGroup",
        "PutGroupPolicy",
        "UpdateAccountPasswordPolicy",
        "CreateUser",
    ] {
        assert!(writes.contains(&op.to_string()), "{op}: {writes:?}");
    }
    // ...and root's keys deleted, last, after the failure.
    let failed = writes
        .iter()
        .position(|w| w == "EnableEbsEncryptionByDefault")
        .expect("the failing write was sent");
    assert_eq!(
        writes[writes.len() - 2..],
        ["DeleteAccessKey", "DeleteAccessKey"]
    );
    assert!(failed < writes.len() - 2, "{writes:?}");
    assert_eq!(state.lock().unwrap().deleted.len(), 2);
    assert!(state.lock().unwrap().keys.is_empty());
}

/// Two failures in one apply: a guardrail in one region, then the deletion of a root key. Both are
/// reported, in order (`result.failures` in the JSON, a "Failed:" block each for people), with the
/// first still in `result.failed`; the deletion after the failed one is not attempted. (The human
/// view's block per failure: `render::tests`.)
#[tokio::test(flavor = "multi_thread")]
async fn every_failure_of_an_apply_is_reported_in_order() {
    let (acct, state) = as_root().await;
    let plan = with_ebs_failing_in_eu_west_1(&acct);
    // Root's key deletions fail too.
    state.lock().unwrap().refuse_deletes = true;
    let applied = acct
        .run_with(
            &["-f", &plan, "--yes", "--output", "json"],
            &[("AWS_MAX_ATTEMPTS", "1")],
        )
        .await;
    assert_eq!(applied.code, 1, "{}", applied.all());
    let doc: serde_json::Value = serde_json::from_str(&applied.stdout).unwrap();
    let failures = doc["result"]["failures"].as_array().unwrap();
    let controls: Vec<&str> = failures
        .iter()
        .map(|f| f["change"]["control"].as_str().unwrap())
        .collect();
    assert_eq!(controls, ["ebs_encryption", "root"], "{}", applied.stdout);
    assert_eq!(doc["result"]["failed"], failures[0]);
    assert!(
        failures[1]["error"]
            .as_str()
            .unwrap()
            .contains("ServiceFailure"),
        "{}",
        applied.stdout
    );
    assert!(state.lock().unwrap().deleted.is_empty());
    assert_eq!(
        write_ops(&acct)
            .iter()
            .filter(|w| *w == "DeleteAccessKey")
            .count(),
        1,
        "the second key is not attempted after the first failed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_that_does_not_verify_means_no_root_key_is_deleted() {
    let (acct, state) = as_root().await;
    // moto makes the write; IAM's reads then never show it within the wait (eventual consistency
    // that does not settle: reads may lag writes, IAM user guide "Changes that I make are not always
    // immediately visible"). Only verification can catch it.
    let written = Arc::new(std::sync::atomic::AtomicBool::new(false));
    acct.proxy.hook(Box::new(move |req: &Request| {
        use std::sync::atomic::Ordering::SeqCst;
        match req.operation.as_str() {
            "PutGroupPolicy" => {
                written.store(true, SeqCst);
                None
            }
            "GetGroupPolicy" if written.load(SeqCst) => error(
                404,
                "NoSuchEntity",
                "The group policy with name aws-harden-require-mfa cannot be found.",
            ),
            _ => None,
        }
    }));
    let plan = acct.write_plan("p.toml", PLAN);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 1, "{}", applied.all());
    assert_contains(&applied, "were not verified");
    assert!(!write_ops(&acct).contains(&"DeleteAccessKey".to_string()));
    assert!(state.lock().unwrap().deleted.is_empty());
    // The write itself reached moto: it was the read that did not show it.
    acct.iam()
        .get_group_policy()
        .group_name("Administrators")
        .policy_name("aws-harden-require-mfa")
        .send()
        .await
        .expect("moto holds the policy written");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_admin_key_that_never_works_means_no_root_key_is_deleted() {
    let (acct, state) = as_root().await;
    // IAM propagation that never completes: STS rejects the new key (moto accepts it at once).
    let own = acct.access_key_id.clone();
    acct.proxy.hook(Box::new(move |req: &Request| {
        (req.operation == "GetCallerIdentity" && req.access_key != own)
            .then(|| {
                error(
                    403,
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                )
            })
            .flatten()
    }));
    let plan = acct.write_plan(
        "p.toml",
        &PLAN.replace("mfa = false", "mfa = false\naccess_key = true"),
    );
    // The admin's key comes only once the admin has an MFA device (issue 10).
    acct.iam()
        .create_user()
        .user_name("admin")
        .send()
        .await
        .unwrap();
    acct.enable_virtual_mfa("admin").await;
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 1, "{}", applied.all());
    assert_contains(&applied, "did not work within");
    assert_contains(&applied, "Nothing that takes access away was attempted");
    assert!(!write_ops(&acct).contains(&"DeleteAccessKey".to_string()));
    assert!(state.lock().unwrap().deleted.is_empty());
    // The secret was not lost: it is in the profile, and nowhere in the output.
    let creds = std::fs::read_to_string(acct.path("aws-credentials")).unwrap();
    assert!(creds.contains("[aws-harden-admin]"), "{creds}");
    let secret = creds
        .lines()
        .find_map(|l| l.strip_prefix("aws_secret_access_key = "))
        .unwrap();
    assert!(!applied.all().contains(secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn non_root_callers_get_manual_steps_for_root_keys_and_mfa() {
    // The default caller is an assumed role; then an IAM user with its own access key.
    let acct = Account::new().await;
    let state = Arc::new(Mutex::new(RootState {
        caller_is_root: false,
        signer: String::new(),
        keys: vec!["AKIAROOTKEY".into()],
        mfa: false,
        password: true,
        deleted: vec![],
        ..RootState::default()
    }));
    install_root_hooks(&acct, state.clone());
    let plan = acct.write_plan("p.toml", ROOT_ONLY);
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_contains(&dry, "! root access keys");
    assert_contains(&dry, "! mfa for the root user");
    assert_contains(&dry, "Only the root user can delete root's access keys");
    assert_contains(&dry, "Security credentials");
    assert_no_writes(&acct, &dry);
    // Nothing to apply: an apply also writes nothing and leaves the actions pending.
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_no_writes(&acct, &applied);

    let iam = acct.iam();
    iam.create_user().user_name("ops").send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name("ops")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let user = acct.as_user(&key.access_key_id, &key.secret_access_key);
    install_root_hooks(&user, state.clone());
    let plan = user.write_plan("p.toml", ROOT_ONLY);
    let dry = user.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_contains(&dry, "as IAM user ops");
    assert_contains(&dry, "You run this as IAM user ops");
    assert_no_writes(&user, &dry);
    // No call about access keys of any kind (root's or anyone's) from a non-root caller.
    for proxy in [&acct.proxy, &user.proxy] {
        let key_calls: Vec<_> = proxy
            .calls()
            .into_iter()
            .filter(|c| c.operation.contains("AccessKey"))
            .collect();
        assert!(key_calls.is_empty(), "{key_calls:?}");
    }

    // Done by hand in the console: keys deleted, MFA on. Then nothing is pending.
    {
        let mut s = state.lock().unwrap();
        s.keys.clear();
        s.mfa = true;
    }
    let done = user.run(&["--plan", "-f", &plan]).await;
    assert_eq!(done.code, 0, "{}", done.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn root_without_a_password_needs_no_mfa_and_keys_absent_need_nothing() {
    let acct = Account::new().await;
    let state = Arc::new(Mutex::new(RootState {
        caller_is_root: false,
        signer: String::new(),
        keys: vec![],
        mfa: false,
        password: false,
        deleted: vec![],
        ..RootState::default()
    }));
    install_root_hooks(&acct, state.clone());
    let plan = acct.write_plan("p.toml", ROOT_ONLY);
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_contains(&dry, "no password");
    assert_no_writes(&acct, &dry);
    // With a password and no MFA it is pending again.
    state.lock().unwrap().password = true;
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_contains(&dry, "! mfa for the root user");
}

/// A summary that does not say whether root has a password is not "no password": root MFA stays
/// pending (unknown is never compliant). moto never sends `AccountPasswordPresent`; the proxy's
/// account-summary emulation adds root's fields as a finished account reports them, or leaves them out.
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_silent_about_roots_password_keeps_root_mfa_pending() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", ROOT_ONLY);
    // A finished account: password and MFA reported.
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());

    acct.proxy.root_summary(RootSummary {
        password_present: None,
        mfa_enabled: Some(false),
        access_keys_present: false,
    });
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_contains(&dry, "! mfa for the root user");
    assert_contains(&dry, "did not report AccountPasswordPresent");
    assert!(!dry.stdout.contains("no password"), "{}", dry.all());

    acct.proxy.root_summary(RootSummary {
        password_present: Some(true),
        mfa_enabled: None,
        access_keys_present: false,
    });
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_contains(&dry, "did not report AccountMFAEnabled");
    assert_no_writes(&acct, &dry);
}

/// At a terminal, `f` drives the session; returns everything seen plus the exit status line.
async fn at_terminal(
    acct: &Account,
    args: &[&str],
    f: impl FnOnce(&mut rexpect::session::PtySession) -> Result<String, rexpect::error::Error>
    + Send
    + 'static,
) -> String {
    let cmd = acct.command(args, &[("COLUMNS", "200")]);
    tokio::task::spawn_blocking(move || -> Result<String, rexpect::error::Error> {
        let mut p = rexpect::session::spawn_command(cmd, Some(60_000))?;
        let mut seen = f(&mut p)?;
        seen += &p.exp_eof()?;
        seen += &format!("\nexit: {:?}", p.process_mut().wait()?);
        Ok(seen)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("terminal session failed: {e}"))
}

fn exit_code_of(screen: &str) -> Option<i32> {
    let line = screen.lines().find(|l| l.starts_with("exit: Exited("))?;
    line.trim_end_matches(')').rsplit(", ").next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn at_a_terminal_each_root_key_is_confirmed_by_id() {
    let (acct, state) = as_root().await;
    let own = acct.access_key_id.clone();
    let plan = acct.write_plan("p.toml", ROOT_ONLY);
    let own_q = format!("Delete root access key {own}?");
    let screen = at_terminal(&acct, &["-f", &plan], move |p| {
        let mut seen = p.exp_string("Apply these changes?")?;
        seen += &p.exp_string("(y/n)")?;
        p.send("y")?;
        p.flush()?;
        seen += &p.exp_string(&format!("Delete root access key {OTHER_KEY}?"))?;
        seen += &p.exp_string("(y/n)")?;
        p.send("y")?;
        p.flush()?;
        seen += &p.exp_string(&own_q)?;
        seen += &p.exp_string("these credentials no longer work")?;
        seen += &p.exp_string("(y/n)")?;
        // Declined: the key this run signs with stays.
        p.send("n")?;
        p.flush()?;
        Ok(seen)
    })
    .await;
    assert_eq!(exit_code_of(&screen), Some(1), "{screen}");
    assert!(screen.contains("declined"), "{screen}");
    let s = state.lock().unwrap();
    assert_eq!(s.deleted, vec![OTHER_KEY.to_string()]);
    assert_eq!(s.keys, vec![own]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interactive_run_waits_for_root_mfa_and_can_skip() {
    let acct = Account::new().await;
    let state = Arc::new(Mutex::new(RootState {
        caller_is_root: false,
        signer: String::new(),
        keys: vec![],
        mfa: false,
        password: true,
        deleted: vec![],
        ..RootState::default()
    }));
    install_root_hooks(&acct, state.clone());
    let plan = acct.write_plan("p.toml", ROOT_ONLY);

    // Skipped with Ctrl-C: the action stays listed.
    let screen = at_terminal(&acct, &["-f", &plan], |p| {
        let mut seen = p.exp_string("! mfa for the root user")?;
        seen += &p.exp_string("Wait here")?;
        seen += &p.exp_string("(y/n)")?;
        p.send("y")?;
        p.flush()?;
        seen += &p.exp_string("left. Ctrl-C skips")?;
        p.send_control('c')?;
        seen += &p.exp_string("Skipped")?;
        Ok(seen)
    })
    .await;
    assert_eq!(exit_code_of(&screen), Some(0), "{screen}");

    // The person turns MFA on while it waits: the observation and the first poll see it off,
    // the next poll (5 s later) sees it on.
    {
        let mut s = state.lock().unwrap();
        s.summaries = 0;
        s.mfa_on_after = Some(2);
    }
    acct.proxy.clear();
    let screen = at_terminal(&acct, &["-f", &plan], |p| {
        let mut seen = p.exp_string("Wait here")?;
        seen += &p.exp_string("(y/n)")?;
        p.send("y")?;
        p.flush()?;
        seen += &p.exp_string("Waiting for root MFA")?;
        seen += &p.exp_string("Root MFA is on")?;
        Ok(seen)
    })
    .await;
    assert_eq!(exit_code_of(&screen), Some(0), "{screen}");
    assert!(state.lock().unwrap().summaries >= 3);
    assert_no_writes(
        &acct,
        &common::Run {
            code: 0,
            stdout: screen.clone(),
            stderr: String::new(),
            bench: String::new(),
        },
    );
}

/// No root keys, root MFA off: with `PLAN` the IAM controls are pending besides the manual MFA step.
fn mfa_off_not_root(acct: &Account) {
    let state = Arc::new(Mutex::new(RootState {
        caller_is_root: false,
        signer: String::new(),
        keys: vec![],
        mfa: false,
        password: true,
        deleted: vec![],
        ..RootState::default()
    }));
    install_root_hooks(acct, state);
}

/// At a terminal: say yes to waiting for root MFA, then skip the wait with Ctrl-C.
fn skip_the_wait(pty: &mut common::pty::Pty) {
    pty.expect("! mfa for the root user");
    pty.expect("Wait here");
    pty.expect("›");
    pty.send("y");
    pty.expect("Ctrl-C skips");
    pty.send("\u{3}");
    pty.expect("Skipped: root MFA stays a manual action.");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_that_skips_the_root_mfa_wait_does_not_stop_the_apply() {
    let acct = Account::new().await;
    mfa_off_not_root(&acct);
    let plan = acct.write_plan("p.toml", PLAN);
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["-f", &plan], &[]);
        skip_the_wait(&mut pty);
        // "Apply these changes?", then Enter once the password is saved.
        pty.answer(&[("Apply these changes?", "y")], "Apply complete:");
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("Interrupted"), "{out}");
    assert!(
        out.contains("Apply complete: 5 created, 2 changed, 0 deleted"),
        "{out}"
    );
    assert!(write_ops(&acct).contains(&"CreateUser".to_string()));

    // A second Ctrl-C, during the apply, still stops it after the call in flight.
    let acct = Account::new().await;
    mfa_off_not_root(&acct);
    let plan = acct.write_plan("p.toml", PLAN);
    // CreateUser is held at the proxy until Ctrl-C has been seen: certainly in flight, no window.
    let gate = acct.proxy.hold(common::proxy::Which::Nth("CreateUser", 1));
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["-f", &plan], &[]);
        skip_the_wait(&mut pty);
        pty.expect("Apply these changes?");
        pty.expect("›");
        pty.send("y");
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
        out.contains("Apply interrupted: 4 created, 1 changed, 0 deleted before stopping."),
        "{out}"
    );
    // The password policy comes before the admin user (a generated password must meet it).
    assert_eq!(
        write_ops(&acct),
        [
            "CreateGroup",
            "AttachGroupPolicy",
            "PutGroupPolicy",
            "UpdateAccountPasswordPolicy",
            "CreateUser"
        ],
        "nothing after the call in flight"
    );
}

/// Root's virtual MFA device is found on any page of `ListVirtualMFADevices` (IAM API reference:
/// paginated with IsTruncated and Marker, and IAM may return fewer items than asked even when more
/// exist). moto neither pages this list nor can have a root device, so the proxy answers both pages.
#[tokio::test(flavor = "multi_thread")]
async fn roots_virtual_mfa_on_a_later_page_is_found() {
    let acct = Account::new().await;
    let account = acct.id.clone();
    acct.proxy.hook(Box::new(move |req: &Request| {
        if req.operation != "ListVirtualMFADevices" {
            return None;
        }
        let (devices, truncated) = match req.param("Marker") {
            None => (String::new(), "<IsTruncated>true</IsTruncated><Marker>page-2</Marker>"),
            Some(_) => (
                format!(
                    "<member><SerialNumber>arn:aws:iam::{account}:mfa/root-account-mfa-device</SerialNumber>\
                     <User><Arn>arn:aws:iam::{account}:root</Arn><UserName>{account}</UserName><UserId>{account}</UserId>\
                     <Path>/</Path><CreateDate>2024-01-02T10:00:00Z</CreateDate></User>\
                     <EnableDate>2024-01-02T10:00:00Z</EnableDate></member>"
                ),
                "<IsTruncated>false</IsTruncated>",
            ),
        };
        ok(
            "ListVirtualMFADevices",
            &format!("<VirtualMFADevices>{devices}</VirtualMFADevices>{truncated}"),
        )
    }));
    let plan = acct.write_plan("p.toml", ROOT_ONLY);
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_contains(&dry, "CIS 1.5 (Level 2) asks for a hardware device");
    let pages = acct
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "ListVirtualMFADevices")
        .count();
    assert_eq!(pages, 2);
}

/// CloudShell opened by root: the console hands the shell root's temporary credentials through a
/// container credentials endpoint; there are no environment keys and no profiles. moto serves the
/// account (routing by the temporary key), the hooks make that key root.
struct CloudShell {
    acct: Account,
    state: Arc<Mutex<RootState>>,
    endpoint: common::container_creds::ContainerCredentials,
}

const ROOT_KEY_1: &str = "AKIAROOTKEYFORTEST01";
const ROOT_KEY_2: &str = "AKIAROOTKEYFORTEST02";

async fn cloudshell() -> CloudShell {
    let acct = Account::new().await;
    let state = Arc::new(Mutex::new(RootState {
        caller_is_root: true,
        signer: acct.access_key_id.clone(),
        // Root has two access keys; the run signs with neither.
        keys: vec![ROOT_KEY_1.into(), ROOT_KEY_2.into()],
        mfa: true,
        password: true,
        ..RootState::default()
    }));
    install_root_hooks(&acct, state.clone());
    let endpoint = common::container_creds::ContainerCredentials::start(
        &acct.access_key_id,
        &acct.secret_access_key,
        acct.session_token.as_deref().unwrap(),
    )
    .await;
    // Empty config and credentials files, as in a fresh CloudShell home directory.
    std::fs::write(acct.path("aws-config"), "").unwrap();
    std::fs::write(acct.path("aws-credentials"), "").unwrap();
    CloudShell {
        acct,
        state,
        endpoint,
    }
}

impl CloudShell {
    async fn run(&self, args: &[&str], token: &str) -> common::Run {
        let mut cmd = self.acct.command(
            args,
            &[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &self.endpoint.url),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token),
            ],
        );
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN");
        Account::output(cmd).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudshell_root_deletes_every_root_key_last_and_checks_none_remain() {
    let cs = cloudshell().await;
    let (acct, token) = (&cs.acct, cs.endpoint.token.clone());
    let plan = acct.write_plan("p.toml", PLAN);

    let dry = cs.run(&["--plan", "-f", &plan], &token).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    // The chain found the container endpoint's credentials, with the token, and signed with them.
    assert!(cs.endpoint.served() >= 1 && cs.endpoint.refused() == 0);
    assert_contains(&dry, "Credentials from container endpoint");
    assert_contains(&dry, "as the root user");
    let calls = acct.proxy.calls();
    assert!(
        calls.iter().all(|c| c.access_key == acct.access_key_id),
        "{calls:?}"
    );
    assert_contains(&dry, "the safest way to do step 1");
    for key in [ROOT_KEY_1, ROOT_KEY_2] {
        assert_contains(&dry, &format!("- root access key \"{key}\" (last)"));
    }
    assert_no_writes(acct, &dry);

    acct.proxy.clear();
    let applied = cs.run(&["-f", &plan, "--yes"], &token).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let writes = write_ops(acct);
    let n = writes.len();
    assert!(n > 2, "{writes:?}");
    // The admin path first; root's keys are the last writes.
    assert_eq!(
        writes[n - 2..],
        ["DeleteAccessKey", "DeleteAccessKey"],
        "{writes:?}"
    );
    assert!(writes[..n - 2].iter().all(|w| w != "DeleteAccessKey"));
    assert_eq!(
        cs.state.lock().unwrap().deleted,
        vec![ROOT_KEY_1.to_string(), ROOT_KEY_2.to_string()]
    );
    // The credentials still work, so the run looked again after the last write: both the list
    // and the account summary.
    let calls = acct.proxy.calls();
    let last_write = calls
        .iter()
        .rposition(|c| c.operation == "DeleteAccessKey")
        .unwrap();
    let after: Vec<&str> = calls[last_write + 1..]
        .iter()
        .map(|c| c.operation.as_str())
        .collect();
    assert!(
        after.contains(&"GetAccountSummary") && after.contains(&"ListAccessKeys"),
        "{after:?}"
    );
    assert_contains(&applied, "Verified: root has no access keys");
    assert!(
        !applied.all().contains("no longer work"),
        "{}",
        applied.all()
    );

    acct.proxy.clear();
    let check = cs.run(&["--plan", "-f", &plan], &token).await;
    assert_eq!(check.code, 0, "{}", check.all());
    assert_no_writes(acct, &check);
}

/// The endpoint insists on its token: without the right one there are no credentials at all, and
/// no AWS call is made.
#[tokio::test(flavor = "multi_thread")]
async fn cloudshell_endpoint_without_its_token_gives_no_credentials() {
    let cs = cloudshell().await;
    let plan = cs.acct.write_plan("p.toml", PLAN);
    let run = cs.run(&["--plan", "-f", &plan], "wrong-token").await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert_contains(&run, "no usable AWS credentials");
    assert!(cs.endpoint.refused() >= 1 && cs.endpoint.served() == 0);
    assert!(
        cs.acct.proxy.calls().is_empty(),
        "{:?}",
        cs.acct.proxy.calls()
    );
}

/// Root's keys are deleted but the account summary keeps counting one: the check after apply
/// fails the run instead of reporting success on ListAccessKeys alone.
#[tokio::test(flavor = "multi_thread")]
async fn cloudshell_root_fails_when_the_summary_still_counts_a_key() {
    let cs = cloudshell().await;
    cs.state.lock().unwrap().summary_keys = Some(true);
    let plan = cs.acct.write_plan("p.toml", PLAN);
    let applied = cs.run(&["-f", &plan, "--yes"], &cs.endpoint.token).await;
    assert_eq!(applied.code, 1, "{}", applied.all());
    assert_eq!(cs.state.lock().unwrap().deleted.len(), 2);
    assert_contains(&applied, "AccountAccessKeysPresent says 1");
    assert!(
        !applied.all().contains("Verified: root has no access keys"),
        "{}",
        applied.all()
    );
}
