//! Which credentials sign: `--profile` wins over keys in the environment (as in the AWS CLI), a
//! missing profile stops the run before any call, and the header says where the credentials came
//! from. moto routes by access key, so the proxy's record of the signing key proves who signed.

use crate::common;

use common::Account;

const PLAN: &str = "version = 1\nhome_region = \"us-east-1\"\n[password_policy]\n";

#[tokio::test(flavor = "multi_thread")]
async fn profile_wins_over_environment_keys() {
    let acct = Account::new().await;
    let (key_id, secret) = acct.user_with_key("profile-user").await;
    std::fs::write(
        acct.path("aws-credentials"),
        format!("[real]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    let plan = acct.write_plan("p.toml", PLAN);

    // The environment holds the account's role session keys; --profile real must sign.
    let run = acct
        .run(&["--plan", "-f", &plan, "--profile", "real"])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    let calls = acct.proxy.calls();
    assert!(!calls.is_empty(), "{}", run.all());
    assert!(
        calls.iter().all(|c| c.access_key == key_id),
        "every call signed with the profile's key {key_id}: {calls:?}"
    );
    assert!(run.stdout.contains("user/profile-user"), "{}", run.all());
    assert!(
        run.stdout
            .contains("Credentials from profile real (--profile;"),
        "{}",
        run.all()
    );
    assert!(!run.stdout.contains(&secret) && !run.stderr.contains(&secret));

    // Without --profile the environment's keys sign (the SDK's and the CLI's order), even with
    // AWS_PROFILE set; the header says which signed.
    acct.proxy.clear();
    let run = acct
        .run_with(&["--plan", "-f", &plan], &[("AWS_PROFILE", "real")])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    let calls = acct.proxy.calls();
    assert!(
        calls.iter().all(|c| c.access_key == acct.access_key_id),
        "{calls:?}"
    );
    assert!(
        run.stdout
            .contains("Credentials from environment (AWS_ACCESS_KEY_ID; AWS_PROFILE=real not used"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_profile_alone_uses_the_profile() {
    let acct = Account::new().await;
    let (key_id, secret) = acct.user_with_key("env-profile-user").await;
    std::fs::write(
        acct.path("aws-config"),
        format!("[profile ci]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    let plan = acct.write_plan("p.toml", PLAN);
    let mut cmd = tokio::process::Command::from(
        acct.command(&["--plan", "-f", &plan], &[("AWS_PROFILE", "ci")]),
    );
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN");
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("Credentials from profile ci (AWS_PROFILE)"),
        "{stdout}"
    );
    assert!(
        acct.proxy.calls().iter().all(|c| c.access_key == key_id),
        "{:?}",
        acct.proxy.calls()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_profile_stops_before_any_call() {
    let acct = Account::new().await;
    std::fs::write(
        acct.path("aws-config"),
        "[profile empty]\nregion = us-east-1\n",
    )
    .unwrap();
    let plan = acct.write_plan("p.toml", PLAN);
    let config = acct.path("aws-config").display().to_string();
    let credentials = acct.path("aws-credentials").display().to_string();
    for (profile, says) in [
        ("typo", "no such profile"),
        ("empty", "the profile has no credentials"),
    ] {
        let run = acct
            .run(&["--plan", "-f", &plan, "--profile", profile])
            .await;
        assert_eq!(run.code, 1, "{}", run.all());
        for needle in [&format!("--profile {profile}"), says, &config, &credentials] {
            assert!(
                run.stderr.contains(needle),
                "missing {needle:?}: {}",
                run.all()
            );
        }
        assert!(
            acct.proxy.calls().is_empty(),
            "no AWS call with a missing profile: {:?}",
            acct.proxy.calls()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_source_environment_reads_the_environment() {
    // `credential_source = Environment` with `role_arn`: the environment's keys assume the role,
    // as in the CLI.
    let acct = Account::new().await;
    std::fs::write(
        acct.path("aws-config"),
        format!(
            "[profile envrole]\nrole_arn = arn:aws:iam::{}:role/ops\ncredential_source = Environment\n",
            acct.id
        ),
    )
    .unwrap();
    let plan = acct.write_plan("p.toml", PLAN);
    let run = acct
        .run(&["--plan", "-f", &plan, "--profile", "envrole"])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    let calls = acct.proxy.calls();
    assert!(
        calls.iter().any(|c| c.operation == "AssumeRole"),
        "AssumeRole through the proxy: {calls:?}"
    );
    for c in &calls {
        // The environment's keys only assume the role; the role session signs everything else.
        assert_eq!(
            c.operation == "AssumeRole",
            c.access_key == acct.access_key_id,
            "{calls:?}"
        );
    }
    assert!(run.stdout.contains("assumed-role/ops/"), "{}", run.all());
}
