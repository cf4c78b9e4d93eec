//! Bad input: a clear error naming the file, key or value, exit 1, nothing changed, no panic.

use crate::common;

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
    // An account ID is always 12 digits: known too long before any call.
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_file() {
    let acct = Account::new().await;
    let run = acct
        .run(&["--plan", "-f", "plans/does-not-exist.toml"])
        .await;
    assert_clean_failure(&run, &["plans/does-not-exist.toml"]);
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
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
        bench: String::new(),
    };
    assert_clean_failure(
        &run,
        &["no usable AWS credentials", "aws configure", "--profile"],
    );
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
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
    // Known from the flags alone: not even a read.
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_plan_and_no_terminal_says_what_to_do() {
    let acct = Account::new().await;
    let run = acct.run(&[]).await;
    assert_clean_failure(&run, &["-f plans/"]);
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn placeholder_names_are_checked_before_any_call() {
    let acct = Account::new().await;
    for (table, key, value) in [
        ("cloudtrail", "bucket", "Bad_Bucket-{account_id}"),
        ("cloudtrail", "kms_key_alias", "alias/aws/{home_region}"),
        ("cloudtrail", "trail_name", "-{account_id}"),
    ] {
        let plan = acct.write_plan(
            "ph.toml",
            &format!("version = 1\nhome_region = \"us-east-1\"\n[{table}]\n{key} = {value:?}\n"),
        );
        let run = acct.run(&["--plan", "-f", &plan]).await;
        assert_clean_failure(&run, &["ph.toml", &format!("{table}.{key} = {value:?}")]);
        assert!(!run.stderr.contains("000000000000"), "{}", run.all());
    }
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_bucket_cannot_have_two_owners() {
    let acct = Account::new().await;
    let same = acct.write_plan(
        "same.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[cloudtrail]\nbucket = \"logs-{account_id}\"\n\
         [cost_report]\nbucket = \"logs-{account_id}\"\n",
    );
    let run = acct.run(&["--plan", "-f", &same]).await;
    assert_clean_failure(
        &run,
        &["cost_report.bucket", "same bucket as cloudtrail.bucket"],
    );
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());

    // Equal only in this account: an error right after GetCallerIdentity, before any other call.
    let expanded = acct.write_plan(
        "expanded.toml",
        &format!(
            "version = 1\nhome_region = \"us-east-1\"\n[cloudtrail]\nbucket = \"logs-{{account_id}}\"\n\
             [cost_report]\nbucket = \"logs-{}\"\n",
            acct.id
        ),
    );
    let run = acct.run(&["-f", &expanded, "--yes"]).await;
    assert_clean_failure(
        &run,
        &["cost_report.bucket", "once placeholders are expanded"],
    );
    assert_eq!(
        acct.proxy.operations(),
        ["GetCallerIdentity"],
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_code_is_checked_before_any_call_and_never_silently_unused() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[password_policy]\n",
    );
    for bad in ["12345", "1234567", "12345a", "１２３４５６"] {
        let run = acct.run(&["--plan", "-f", &plan, "--mfa-code", bad]).await;
        assert_clean_failure(&run, &["--mfa-code", "6 digits"]);
    }
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
    // The test account signs with a role session: a good code cannot be used, and it says so.
    let run = acct
        .run(&["--plan", "-f", &plan, "--mfa-code", "123456"])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("--mfa-code ignored") && run.stderr.contains("role"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn home_region_is_checked_strictly_offline_then_against_the_account() {
    let acct = Account::new().await;
    let plan = |region: &str| {
        acct.write_plan(
            "r.toml",
            &format!("version = 1\nhome_region = \"{region}\"\n[password_policy]\n"),
        )
    };
    let run = acct.run(&["--plan", "-f", &plan("us-east-+1")]).await;
    assert_clean_failure(&run, &["home_region", "us-east-+1"]);
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());

    // Another partition's region: known from the caller's ARN, before any other call.
    let run = acct.run(&["-f", &plan("cn-north-1"), "--yes"]).await;
    assert_clean_failure(&run, &["cn-north-1", "partition aws-cn", "partition aws"]);
    assert_eq!(
        acct.proxy.operations(),
        ["GetCallerIdentity"],
        "{}",
        run.all()
    );

    // A region the account has not enabled: DescribeRegions says so, before the first write.
    acct.proxy.clear();
    acct.proxy.hook(Box::new(|req| {
        (req.operation == "DescribeRegions").then(|| common::proxy::Response {
            status: 200,
            content_type: "text/xml".into(),
            body: "<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
                   <requestId>hook</requestId><regionInfo>\
                   <item><regionName>us-east-1</regionName><regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>\
                   <item><regionName>af-south-1</regionName><regionEndpoint>ec2.af-south-1.amazonaws.com</regionEndpoint><optInStatus>not-opted-in</optInStatus></item>\
                   </regionInfo></DescribeRegionsResponse>"
                .into(),
        })
    }));
    let run = acct.run(&["-f", &plan("af-south-1"), "--yes"]).await;
    assert_clean_failure(&run, &["af-south-1", "not enabled", "not-opted-in"]);
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
    assert!(
        acct.proxy
            .calls()
            .iter()
            .any(|c| c.operation == "DescribeRegions")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_regions_goes_out_with_the_first_reads() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[password_policy]\n",
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let calls = acct.proxy.calls();
    let regions = calls.iter().position(|c| c.operation == "DescribeRegions");
    let first_write = calls.iter().position(|c| c.write);
    assert!(
        matches!((regions, first_write), (Some(r), Some(w)) if r < w),
        "DescribeRegions before the first write: {calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_files_are_capped_and_pipes_still_work() {
    let acct = Account::new().await;
    let run = acct.run(&["--plan", "-f", "/dev/zero"]).await;
    assert_clean_failure(&run, &["/dev/zero", "larger than 1 MiB"]);
    let big = acct.write_plan("big.toml", &format!("# {}\n", "x".repeat(2 << 20)));
    let run = acct.run(&["--plan", "-f", &big]).await;
    assert_clean_failure(&run, &["big.toml", "larger than 1 MiB"]);
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());

    // A pipe (as with -f <(command)): its metadata says 0 bytes, the plan is read all the same.
    let mut cmd = tokio::process::Command::from(acct.command(&["--plan", "-f", "/dev/stdin"], &[]));
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stdin,
        b"version = 1\nhome_region = \"us-east-1\"\n[password_policy]\n",
    )
    .await
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_bounded_and_free_of_control_bytes() {
    let acct = Account::new().await;
    let esc = acct.write_plan(
        "esc.toml",
        "version = 1\nhome_region = \"us-east-1\"\n# \u{1b}]0;pwned\u{7}\n",
    );
    let run = acct.run(&["--plan", "-f", &esc]).await;
    assert_clean_failure(
        &run,
        &["esc.toml", "control character U+001B at line 3, column 3"],
    );
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
    assert!(
        !run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'),
        "{:?}",
        run.stderr
    );

    // One 900 KB line and 200,000 nested '[': a few hundred bytes of error, the problem first.
    let line = acct.write_plan(
        "line.toml",
        &format!("version = 1\nhome_region = \"{}\"\n", "a".repeat(900_000)),
    );
    let nested = acct.write_plan("nested.toml", &"[".repeat(200_000));
    for (plan, needle) in [(line, "home_region"), (nested, "line 1")] {
        let run = acct.run(&["--plan", "-f", &plan]).await;
        assert_clean_failure(&run, &[needle]);
        assert!(
            run.stderr.len() < 2000,
            "{} bytes of error",
            run.stderr.len()
        );
        assert!(run.stderr.starts_with("error: "), "{}", &run.stderr[..200]);
        assert!(
            !run.stderr.starts_with("error: [[[") && !run.stderr.contains(": [[[[[[[["),
            "{}",
            &run.stderr[..300]
        );
    }

    // Integers bare, OS errors once.
    let int = acct.write_plan(
        "int.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[password_policy]\nminimum_length = 129\n",
    );
    let run = acct.run(&["--plan", "-f", &int]).await;
    assert_clean_failure(&run, &["minimum_length = 129:"]);
    let run = acct
        .run(&["--plan", "-f", "plans/does-not-exist.toml"])
        .await;
    assert_eq!(
        run.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        run.all()
    );

    // A look-alike character is named with its position.
    let glyph = acct.write_plan(
        "glyph.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\nname = \"Admins\u{0430}\"\n",
    );
    let run = acct.run(&["--plan", "-f", &glyph]).await;
    assert_clean_failure(&run, &["admin_group.name", "U+0430", "position 7"]);

    let aot = acct.write_plan(
        "aot.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[[admin_group]]\n",
    );
    let run = acct.run(&["--plan", "-f", &aot]).await;
    assert_clean_failure(&run, &["admin_group must be a table", "[admin_group]"]);
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}
