//! `[root] centralized = true` under `--org` (issue 19): members' root credentials removed through
//! `sts:AssumeRoot`. moto has no AssumeRoot and no centralized root access features, and cannot be
//! root: `tests/common/central_root.rs` emulates them in proxy hooks, shaped as the STS and IAM API
//! references show, with their documented errors. The rest (the Organization, its accounts, the
//! role sessions, the other controls) is moto.

use crate::common;
use crate::org::{
    assert_org_in_line, errors, operations_and_missing_from_the_table, organization, results,
};

use common::Account;
use common::central_root::{CentralRoot, RootUser};
use serde_json::Value;

/// A member plan with one ordinary control and centralized root, in a home region that is not
/// the SDK's default (us-east-1, as the global STS endpoint is signed): AssumeRoot signed for
/// eu-west-1 went to the regional endpoint.
const PLAN: &str =
    "version = 1\nhome_region = \"eu-west-1\"\n[password_policy]\n[root]\ncentralized = true\n";

fn full_root() -> RootUser {
    RootUser {
        password: true,
        access_keys: vec!["AKIAROOTKEY00000001".into(), "AKIAROOTKEY00000002".into()],
        certificates: vec!["CERTROOT0001".into()],
        mfa_devices: vec!["arn:aws:iam::000000000000:mfa/root-account-mfa-device".into()],
        unassigned_virtual_mfa: vec![],
    }
}

/// An Organization of three members in moto with the emulation installed (`features_on`: both
/// features and trusted access already on), the first member's root with every kind of
/// credential, the second's with one access key, the third's with none.
async fn setup(features_on: bool) -> (Account, Vec<String>, CentralRoot, String) {
    let acct = Account::new().await;
    let org = organization(&acct, 3).await;
    acct.warm_up_members(&org.members).await;
    let org_id = org
        .client
        .describe_organization()
        .send()
        .await
        .unwrap()
        .organization
        .unwrap()
        .id
        .unwrap();
    let stub = CentralRoot::install(&acct.proxy, &acct.id, &org_id, features_on);
    stub.set_root(&org.members[0], full_root());
    stub.set_root(
        &org.members[1],
        RootUser {
            access_keys: vec!["AKIAROOTKEY00000003".into()],
            ..RootUser::default()
        },
    );
    let plan = acct.write_plan("member.toml", PLAN);
    (acct, org.members, stub, plan)
}

/// The changes of one account in an `--org --output json` document: (control, resource, action,
/// fields as "field: before -> after").
fn changes(doc: &Value, account: &str) -> Vec<(String, String, String, String)> {
    let a = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == account)
        .unwrap_or_else(|| panic!("no account {account} in {doc}"));
    a["document"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let field = &c["fields"][0];
            (
                c["control"].as_str().unwrap().to_string(),
                c["resource"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
                format!(
                    "{}: {} -> {}",
                    field["field"].as_str().unwrap_or_default(),
                    field["before"].as_str().unwrap_or("-"),
                    field["after"].as_str().unwrap_or("-")
                ),
            )
        })
        .collect()
}

/// `--org --plan --output json`: changes pending (exit 2), nothing written; the run and its
/// document.
async fn dry_run(acct: &Account, plan: &str) -> (common::Run, Value) {
    let dry = acct
        .run(&[
            "--org", "-f", plan, "--plan", "--output", "json", "--jobs", "2",
        ])
        .await;
    assert_eq!(dry.code, 2, "{}", errors(&dry));
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
    let doc = serde_json::from_str(&dry.stdout).unwrap();
    (dry, doc)
}

fn root_changes(doc: &Value, account: &str) -> Vec<String> {
    changes(doc, account)
        .into_iter()
        .filter(|c| c.0 == "root_credentials")
        .map(|c| format!("{} {}: {}", c.2, c.1, c.3))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_features_on_each_members_root_credentials_are_listed_then_deleted_then_in_line() {
    let (acct, members, stub, plan) = setup(true).await;

    let (dry, doc) = dry_run(&acct, &plan).await;
    // The features are on: no management-account block, only the members.
    assert_eq!(results(&dry).keys().cloned().collect::<Vec<_>>(), {
        let mut m = members.clone();
        m.sort();
        m
    });
    assert_eq!(
        root_changes(&doc, &members[0]),
        [
            "delete root password: password: present -> -",
            "delete root access keys: access key: AKIAROOTKEY00000001 -> -",
            "delete root access keys: access key: AKIAROOTKEY00000002 -> -",
            "delete root signing certificates: signing certificate: CERTROOT0001 -> -",
            "delete root MFA devices: MFA device: arn:aws:iam::000000000000:mfa/root-account-mfa-device -> -",
        ]
    );
    assert_eq!(
        root_changes(&doc, &members[1]),
        ["delete root access keys: access key: AKIAROOTKEY00000003 -> -"]
    );
    assert!(root_changes(&doc, &members[2]).is_empty());
    // Read exactly, through one audit session per member, in the home region, for at most 900 s.
    let assumed = stub.assumed();
    assert_eq!(assumed.len(), 3, "{assumed:?}");
    assert!(
        assumed
            .iter()
            .all(|a| a.task == "IAMAuditRootUserCredentials"
                && a.region == "eu-west-1"
                && a.duration.as_deref() == Some("900")),
        "{assumed:?}"
    );
    assert_eq!(
        stub.root(&members[0]),
        full_root(),
        "nothing deleted by --plan"
    );
    // Every read has its action in the plan-only policy's table (the reads inside the root
    // session are the task policy's, and in the table too).
    let (ops, missing) = operations_and_missing_from_the_table(&dry);
    assert!(
        missing.is_empty(),
        "not in src/aws/permissions.rs: {missing:?}"
    );
    for op in [
        "STS:AssumeRoot",
        "IAM:GetLoginProfile",
        "IAM:ListSigningCertificates",
    ] {
        assert!(ops.contains(op), "{op}: {ops:?}");
    }

    acct.proxy.clear();
    let applied = acct
        .run(&["--org", "-f", &plan, "--yes", "--jobs", "2"])
        .await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    for m in &members {
        assert_eq!(stub.root(m), RootUser::default(), "{m}");
    }
    // One delete session per member that had something to delete, each before its deletions, and
    // the MFA device after the password.
    let order = stub.order();
    for m in &members[..2] {
        let mine: Vec<&String> = order.iter().filter(|o| o.ends_with(m.as_str())).collect();
        assert_eq!(mine[0], &format!("AssumeRoot {m}"), "{order:?}");
    }
    let first: Vec<&str> = order
        .iter()
        .filter(|o| o.ends_with(members[0].as_str()) && !o.starts_with("AssumeRoot"))
        .map(|o| o.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        first,
        [
            "DeleteLoginProfile",
            "DeleteAccessKey",
            "DeleteAccessKey",
            "DeleteSigningCertificate",
            "DeactivateMFADevice",
            // The virtual device deactivated is deleted too: none is left unassigned.
            "DeleteVirtualMFADevice"
        ]
    );
    for m in &members[..2] {
        assert!(stub.root(m).unassigned_virtual_mfa.is_empty(), "{m}");
        assert!(stub.root(m).mfa_devices.is_empty(), "{m}");
    }
    let deletes: Vec<_> = stub
        .assumed()
        .into_iter()
        .skip(3)
        .filter(|a| a.task == "IAMDeleteRootUserCredentials")
        .map(|a| a.member)
        .collect();
    assert_eq!(
        deletes.len(),
        2,
        "one delete session per member: {deletes:?}"
    );
    assert!(
        stub.assumed().iter().all(|a| a.region == "eu-west-1"),
        "AssumeRoot only to the home region's STS: {:?}",
        stub.assumed()
    );
    // In each member, the ordinary control went first (root credentials are taken away last): its
    // role session's write before any write of that member's root sessions.
    let writes = acct.proxy.writes();
    for m in &members[..2] {
        let policy = writes.iter().position(|c| {
            c.operation == "UpdateAccountPasswordPolicy" && c.account.as_deref() == Some(m.as_str())
        });
        let first_delete = writes
            .iter()
            .position(|c| stub.member_of_key(&c.access_key).as_deref() == Some(m.as_str()));
        assert!(
            policy.is_some() && first_delete.is_some() && policy < first_delete,
            "{m}: {writes:?}"
        );
    }

    assert_org_in_line(&acct, &plan, 3).await;
    // A second apply finds nothing to do: zero writes, and no delete session.
    let deletes_before = stub.order().len();
    let second = acct
        .run(&["--org", "-f", &plan, "--yes", "--jobs", "2"])
        .await;
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
    assert!(
        stub.order()[deletes_before..]
            .iter()
            .all(|o| o.starts_with("AssumeRoot")),
        "{:?}",
        stub.order()
    );
    assert!(
        stub.assumed()
            .iter()
            .rev()
            .take(3)
            .all(|a| a.task == "IAMAuditRootUserCredentials")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_features_off_the_management_account_turns_them_on_before_the_first_assume_root() {
    let (acct, members, stub, plan) = setup(false).await;
    // Right after they are turned on, the first AssumeRoot is still denied (eventual
    // consistency): waited out, not a failure.
    stub.lag_after_enabling(1);

    let (_, doc) = dry_run(&acct, &plan).await;
    assert!(stub.assumed().is_empty(), "nothing can be assumed yet");
    // The management account's changes, as an account of their own, first.
    assert_eq!(doc["accounts"][0]["account_id"], acct.id.as_str());
    assert_eq!(
        root_changes(&doc, &acct.id),
        [
            "update centralized root access: trusted access for iam.amazonaws.com: off -> on",
            "update centralized root access: RootCredentialsManagement: off -> on",
            "update centralized root access: RootSessions: off -> on",
        ]
    );
    // Each member: every root credential, unknown until the features are on.
    for m in &members {
        assert_eq!(
            root_changes(&doc, m),
            [
                "delete root credentials: root credentials: unknown until centralized root access is on -> none"
            ],
            "{m}"
        );
    }

    // The human view: the management account's block first, then each member's.
    let human = acct
        .run(&["--org", "-f", &plan, "--plan", "--jobs", "2"])
        .await;
    assert_eq!(human.code, 2, "{}", human.all());
    let block = human
        .stdout
        .find(&format!(
            "== Account {} (management account: centralized root access) ==",
            acct.id
        ))
        .unwrap_or_else(|| panic!("{}", human.all()));
    assert!(
        members
            .iter()
            .all(|m| human.stdout.find(&format!("== Account {m} (")) > Some(block))
    );
    assert!(
        human
            .stdout
            .contains("  ~ centralized root access\n      RootSessions: \"off\" -> \"on\""),
        "{}",
        human.all()
    );
    assert!(
        human
            .stdout
            .contains("4 accounts: 0 in line, 4 with changes, 0 failed."),
        "{}",
        human.all()
    );

    acct.proxy.clear();
    let applied = acct
        .run(&["--org", "-f", &plan, "--yes", "--jobs", "2"])
        .await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let order = stub.order();
    assert_eq!(
        order[..3],
        [
            "EnableAWSServiceAccess",
            "EnableOrganizationsRootCredentialsManagement",
            "EnableOrganizationsRootSessions"
        ],
        "{order:?}"
    );
    assert!(order[3].starts_with("AssumeRoot"), "{order:?}");
    // Per member: audit sessions for the checks before writing (every earlier change verified
    // before access is taken away, then the account still as shown), one delete session, an
    // audit session for the check after; and the one denied while the features settled, asked
    // again.
    assert_eq!(
        stub.assumed().len(),
        4 * members.len() + 1,
        "{:?}",
        stub.assumed()
    );
    assert_eq!(
        stub.features(),
        (
            true,
            ["RootCredentialsManagement", "RootSessions"]
                .map(String::from)
                .into()
        )
    );
    for m in &members {
        assert_eq!(stub.root(m), RootUser::default(), "{m}");
    }
    assert!(stub.assumed().iter().all(|a| a.region == "eu-west-1"));

    assert_org_in_line(&acct, &plan, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_session_cannot_delete_and_a_root_caller_or_a_run_without_org_stops_before_any_write()
 {
    let (acct, members, stub, plan) = setup(true).await;
    // The emulation refuses what the audit task does not allow (a test of the test bench).
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&acct.sdk())
            .endpoint_url(&acct.proxy.url)
            .region(aws_config::Region::from_static("eu-west-1"))
            .build(),
    );
    let creds = sts
        .assume_root()
        .target_principal(&members[0])
        .task_policy_arn(
            aws_sdk_sts::types::PolicyDescriptorType::builder()
                .arn("arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let audit = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&acct.sdk())
            .endpoint_url(&acct.proxy.url)
            .credentials_provider(aws_credential_types::Credentials::new(
                creds.access_key_id,
                creds.secret_access_key,
                Some(creds.session_token),
                None,
                "test",
            ))
            .build(),
    );
    let denied = audit
        .delete_login_profile()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&denied),
        Some("AccessDenied")
    );
    assert!(stub.root(&members[0]).password);

    // Without --org: refused before any call, naming the file and the key.
    acct.proxy.clear();
    let run = acct.run(&["-f", &plan, "--plan"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("member.toml") && run.stderr.contains("centralized = true"),
        "{}",
        run.all()
    );
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());

    // As the root user: AssumeRoot is not callable with root credentials. Said, and nothing but
    // the caller's identity is asked.
    let account = acct.id.clone();
    acct.proxy.hook(Box::new(move |req| {
        (req.operation == "GetCallerIdentity")
            .then(|| common::proxy::root_caller_identity(&account))
    }));
    let run = acct.run(&["--org", "-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("root user cannot call") && run.stderr.contains("Nothing was changed"),
        "{}",
        run.all()
    );
    assert_eq!(acct.proxy.operations(), ["GetCallerIdentity"]);
    assert_eq!(stub.root(&members[0]), full_root());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_that_may_not_read_the_features_gets_manual_actions_naming_the_management_account()
{
    let (acct, members, stub, plan) = setup(true).await;
    stub.treat_caller_as_member();
    let (_, doc) = dry_run(&acct, &plan).await;
    let block = changes(&doc, &acct.id);
    assert_eq!(block.len(), 1, "{block:?}");
    assert_eq!(block[0].2, "manual");
    let note = doc["accounts"][0]["document"]["changes"][0]["note"]
        .as_str()
        .unwrap();
    assert!(
        note.contains(&format!("management account {}", acct.id)),
        "{note}"
    );
    // No member's root is reachable: each is pending (unknown is not "none"), and nothing is
    // assumed or written.
    for m in &members {
        let root: Vec<_> = changes(&doc, m)
            .into_iter()
            .filter(|c| c.0 == "root_credentials")
            .collect();
        assert_eq!(root.len(), 1, "{m}: {root:?}");
        assert_eq!(root[0].2, "manual", "{m}");
    }
    assert!(stub.assumed().is_empty());
}

/// The management account's changes fail (EnableOrganizationsRootSessions keeps answering a server
/// error): no member's root is touched. No AssumeRoot at all, every root as it was, exit 1 (issue 30:
/// a claim of the README's with no test that could fail).
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_management_block_leaves_every_members_root_untouched() {
    let (acct, members, stub, plan) = setup(false).await;
    let before: Vec<RootUser> = members.iter().map(|m| stub.root(m)).collect();
    acct.proxy.fail_on(
        common::proxy::Which::Every("EnableOrganizationsRootSessions"),
        common::proxy::Fault::ServerError,
    );
    let run = acct
        .run_with(
            &["--org", "-f", &plan, "--yes", "--jobs", "2"],
            &[("AWS_MAX_ATTEMPTS", "2")],
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("EnableOrganizationsRootSessions"),
        "{}",
        run.all()
    );
    assert!(stub.assumed().is_empty(), "{:?}", stub.assumed());
    assert!(
        acct.proxy
            .calls()
            .iter()
            .all(|c| c.operation != "AssumeRoot"),
        "{:?}",
        acct.proxy.operations()
    );
    let after: Vec<RootUser> = members.iter().map(|m| stub.root(m)).collect();
    assert_eq!(before, after);
}
