//! Bad input: a clear error naming the file, key or value, exit 1, nothing changed, no panic.

mod common;

use common::Account;

fn assert_clean_failure(run: &common::Run, needles: &[&str]) {
    assert_eq!(run.code, 1, "{}", run.all());
    for n in needles {
        assert!(run.stderr.contains(n), "missing {n:?}\n{}", run.all());
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.all());
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_toml_names_file_line_and_column() {
    let acct = Account::new().await;
    let plan = acct.write_plan("broken.toml", "version = 1\nhome_region = \"us-east-1\n");
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_clean_failure(&run, &["broken.toml", "line 2", "column"]);
    assert!(
        acct.proxy.calls().is_empty(),
        "no AWS call before validation passes: {:?}",
        acct.proxy.calls()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_key_is_rejected_by_name() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "typo.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\nenabeld = false\n",
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_clean_failure(&run, &["typo.toml", "enabeld"]);
    assert!(acct.proxy.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_names_are_rejected_before_any_call() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "names.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\nname = \"no spaces allowed\"\n",
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_clean_failure(
        &run,
        &["names.toml", "admin_group.name", "no spaces allowed"],
    );
    assert!(acct.proxy.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn names_too_long_after_expansion_fail_before_any_write() {
    let acct = Account::new().await;
    let name = format!("{}{{account_id}}", "u".repeat(55));
    let plan = acct.write_plan(
        "long.toml",
        &format!("version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nname = \"{name}\"\n"),
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_clean_failure(&run, &["long.toml", "admin_user.name"]);
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_file() {
    let acct = Account::new().await;
    let run = acct
        .run(&["--plan", "-f", "plans/does-not-exist.toml"])
        .await;
    assert_clean_failure(&run, &["plans/does-not-exist.toml"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_credentials_explains_how_to_configure() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n",
    );
    let mut bare = tokio::process::Command::new(env!("CARGO_BIN_EXE_aws-harden"));
    bare.args(["--plan", "-f", &plan])
        .env_clear()
        .env("HOME", acct.dir.path())
        .env("AWS_CONFIG_FILE", acct.path("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", acct.path("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &acct.proxy.url);
    let out = bare.output().await.unwrap();
    let run = common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    assert_clean_failure(
        &run,
        &["no usable AWS credentials", "aws configure", "--profile"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_terminal_without_yes_refuses_and_changes_nothing() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n",
    );
    let run = acct.run(&["-f", &plan]).await;
    assert_clean_failure(&run, &["--yes", "--plan"]);
    assert!(acct.proxy.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_plan_and_no_terminal_says_what_to_do() {
    let acct = Account::new().await;
    let run = acct.run(&[]).await;
    assert_clean_failure(&run, &["-f plans/"]);
}
