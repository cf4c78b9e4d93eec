use super::*;

/// While observing, the interceptor every client carries refuses a write before anything is
/// sent: no input makes observe write, so only this test can show the guard works.
#[tokio::test]
async fn read_only_mode_refuses_a_write_before_sending_it() {
    let replay = super::replay::Replay::new(
        "<GetAccountPasswordPolicyResponse><GetAccountPasswordPolicyResult><PasswordPolicy>\
         <MinimumPasswordLength>14</MinimumPasswordLength></PasswordPolicy></GetAccountPasswordPolicyResult>\
         </GetAccountPasswordPolicyResponse>",
    );
    let sdk = replay.sdk("AKIATEST");
    let caller = Caller::from_arn(
        "123456789012",
        "arn:aws:iam::123456789012:user/admin",
        Some("AKIATEST".into()),
        false,
    );
    let calls = Arc::new(CallLog::default());
    let aws = Aws::build(sdk, caller, "us-east-1".into(), calls.clone());
    calls.set_read_only(true);

    // A read goes out (the client does send through the replay)...
    let _ = aws.iam.get_account_password_policy().send().await;
    assert_eq!(replay.sent(), 1);
    // ...a write is refused and never sent.
    let err = aws
        .iam
        .create_group()
        .group_name("Administrators")
        .send()
        .await
        .expect_err("a write in read-only mode");
    let text = error_chain(&err);
    assert!(
        text.contains("refused") && text.contains("CreateGroup"),
        "{text}"
    );
    assert_eq!(replay.sent(), 1, "the write was sent");
    assert_eq!(calls.writes(), 0);

    // Off again (apply): the same write is sent.
    calls.set_read_only(false);
    let _ = aws
        .iam
        .create_group()
        .group_name("Administrators")
        .send()
        .await;
    assert_eq!(replay.sent(), 2);
}

#[test]
fn signin_url_per_partition() {
    let url = |arn: &str| Caller::from_arn("123456789012", arn, None, false).signin_url(None);
    assert_eq!(
        url("arn:aws:iam::123456789012:user/a"),
        "https://123456789012.signin.aws.amazon.com/console"
    );
    assert_eq!(
        url("arn:aws-us-gov:iam::123456789012:user/a"),
        "https://123456789012.signin.amazonaws-us-gov.com/console"
    );
    assert_eq!(
        url("arn:aws-cn:iam::123456789012:user/a"),
        "https://123456789012.signin.amazonaws.cn/console"
    );
    let with_alias = Caller::from_arn(
        "123456789012",
        "arn:aws:iam::123456789012:user/a",
        None,
        false,
    )
    .signin_url(Some("acme-prod"));
    assert_eq!(
        with_alias,
        "https://acme-prod.signin.aws.amazon.com/console"
    );
}

#[test]
fn read_allow_list() {
    for op in [
        "GetGroup",
        "ListUsers",
        "DescribeTrails",
        "HeadBucket",
        "GetCallerIdentity",
        "GenerateCredentialReport",
        "SimulatePrincipalPolicy",
    ] {
        assert!(is_read_operation(op), "{op}");
    }
    for op in [
        "CreateGroup",
        "PutGroupPolicy",
        "DeleteAccessKey",
        "UpdateAccountPasswordPolicy",
        "StartLogging",
        "LookupEvents",
    ] {
        assert!(!is_read_operation(op), "{op}");
    }
}

#[test]
fn caller_kinds() {
    let root = Caller::from_arn("1", "arn:aws:iam::123456789012:root", None, false);
    assert!(root.is_root());
    let user = Caller::from_arn("1", "arn:aws:iam::123456789012:user/ops/alice", None, false);
    assert_eq!(user.user_name(), Some("alice"));
    let role = Caller::from_arn(
        "1",
        "arn:aws-cn:sts::123456789012:assumed-role/Admin/bob",
        None,
        true,
    );
    assert_eq!(
        role.kind,
        CallerKind::AssumedRole {
            role: "Admin".into(),
            session: "bob".into()
        }
    );
    assert_eq!(role.partition, "aws-cn");
}

/// The global APIs go to their partition's endpoint, as the SDK's endpoint rules resolve the
/// region `global_api_region` gives (botocore's endpoints.json: budgets.amazonaws.com.cn and
/// account.cn-northwest-1.amazonaws.com.cn in aws-cn), never us-east-1's for a China caller; and a
/// GovCloud caller is stopped before any call to them.
#[tokio::test]
async fn global_apis_follow_the_callers_partition() {
    assert_eq!(global_api_region("aws"), Some("us-east-1"));
    assert_eq!(global_api_region("aws-cn"), Some("cn-northwest-1"));
    assert_eq!(global_api_region("aws-us-gov"), None);
    let replay = super::replay::Replay::new("{}");
    for (arn, budgets_host, account_host) in [
        (
            "arn:aws:iam::123456789012:user/admin",
            "https://budgets.amazonaws.com/",
            "https://account.us-east-1.amazonaws.com/",
        ),
        (
            "arn:aws-cn:iam::123456789012:user/admin",
            "https://budgets.amazonaws.com.cn/",
            "https://account.cn-northwest-1.amazonaws.com.cn/",
        ),
    ] {
        let caller = Caller::from_arn("123456789012", arn, Some("AKIATEST".into()), false);
        let aws = Aws::build(
            replay.sdk("AKIATEST"),
            caller,
            "us-east-1".into(),
            Arc::default(),
        );
        aws.require_global_api("AWS Budgets", "budget").unwrap();
        let _ = aws
            .budgets
            .describe_budget()
            .account_id("123456789012")
            .budget_name("b")
            .send()
            .await;
        assert_eq!(replay.uris().pop().unwrap(), budgets_host, "{arn}");
        let _ = aws
            .account
            .get_alternate_contact()
            .alternate_contact_type(aws_sdk_account::types::AlternateContactType::Security)
            .send()
            .await;
        assert!(
            replay.uris().pop().unwrap().starts_with(account_host),
            "{arn}: {:?}",
            replay.uris()
        );
    }
    let gov = Caller::from_arn(
        "123456789012",
        "arn:aws-us-gov:iam::123456789012:user/admin",
        None,
        false,
    );
    let aws = Aws::build(
        replay.sdk("AKIATEST"),
        gov,
        "us-gov-west-1".into(),
        Arc::default(),
    );
    let err = aws.require_global_api("AWS Budgets", "budget").unwrap_err();
    assert!(
        format!("{err}").contains("does not exist in partition aws-us-gov"),
        "{err}"
    );
}
