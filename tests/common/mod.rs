//! Shared test harness: every test gets its own emulated AWS account in moto (through
//! `sts:AssumeRole` into a fresh account ID, which moto keeps separate), a recording proxy in
//! front of moto, and a scratch directory used as HOME and working directory.
#![allow(dead_code, unused_imports)]

pub mod analyzer_stub;
pub mod central_root;
pub mod container_creds;
pub mod cur_stub;
pub mod ec2_stub;
pub mod proxy;
pub mod pty;

use std::path::PathBuf;
use std::process::Stdio;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

pub use analyzer_stub::AnalyzerStub;
pub use cur_stub::CurStub;
pub use ec2_stub::Ec2Stub;
pub use proxy::{Call, Proxy, iam_eval};

/// The moto this test process uses, from scripts/test's `AWS_HARDEN_TEST_MOTO` (a comma-separated
/// list: scripts/test starts two, since one moto is one Python process): one of them, chosen by
/// the process ID, so every account of one test (nextest runs each in its own process) lives in
/// the same moto. Missing moto is a failure, never a skip.
fn chosen_moto() -> &'static (usize, String) {
    static CHOSEN: std::sync::OnceLock<(usize, String)> = std::sync::OnceLock::new();
    CHOSEN.get_or_init(|| {
        let list = std::env::var("AWS_HARDEN_TEST_MOTO").unwrap_or_else(|_| {
            panic!("AWS_HARDEN_TEST_MOTO is not set: run the tests with scripts/test, which installs and starts moto")
        });
        let all: Vec<&str> = list.split(',').filter(|e| !e.is_empty()).collect();
        assert!(!all.is_empty(), "AWS_HARDEN_TEST_MOTO names no endpoint");
        let i = std::process::id() as usize % all.len();
        (i, all[i].to_string())
    })
}

/// moto's endpoint (see `chosen_moto`).
pub fn moto() -> String {
    chosen_moto().1.clone()
}

/// The last `n` lines of this test's moto's log (scripts/moto writes .moto/server.log for the
/// first instance, .moto/server-N.log for the Nth), for failure messages.
pub fn moto_log_tail(n: usize) -> String {
    let log = match chosen_moto().0 {
        0 => "server.log".to_string(),
        i => format!("server-{}.log", i + 1),
    };
    let path = format!("{}/.moto/{log}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("({path}: {e})\n"));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n") + "\n"
}

pub struct Account {
    pub id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub proxy: Proxy,
    /// The EC2 settings moto does not serve (IMDS defaults, the default EBS key), answered on this
    /// account's proxies: every run sees them, as on AWS.
    pub ec2: Ec2Stub,
    /// IAM Access Analyzer, which moto does not serve, answered the same way.
    pub analyzer: AnalyzerStub,
    /// The budget subscribers moto keeps but does not return (`Proxy::emulate_budget_subscribers`).
    pub budget_book: proxy::BudgetBook,
    pub dir: tempfile::TempDir,
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The proxy's record and moto's log tail at the end of the run (empty without a proxy).
    pub bench: String,
}

impl Run {
    /// Both streams, for assertion messages; for a run through the proxy also what the proxy saw
    /// (every call, its status, fault and upstream error) and the tail of moto's log, so a failure
    /// that happens once under load names its cause.
    pub fn all(&self) -> String {
        format!(
            "--- exit {}\n--- stdout\n{}\n--- stderr\n{}{}",
            self.code, self.stdout, self.stderr, self.bench
        )
    }
}

fn sdk_config(endpoint: &str, creds: Credentials) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

impl Account {
    /// A fresh, empty account.
    pub async fn new() -> Account {
        let moto = moto();
        let id = format!(
            "{:012}",
            100_000_000_000u64 + rand::random::<u64>() % 800_000_000_000
        );
        let base = sdk_config(&moto, Credentials::for_tests());
        let sts = aws_sdk_sts::Client::new(&base);
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/aws-harden-test"))
            .role_session_name("aws-harden-test")
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto at {moto} did not answer AssumeRole: {e:?}"));
        let c = out.credentials.expect("credentials");
        let proxy = Proxy::start(&moto).await;
        let ec2 = Ec2Stub::install(&proxy, &id);
        let analyzer = AnalyzerStub::install(&proxy, &id);
        let budget_book = proxy::BudgetBook::default();
        proxy.emulate_budget_subscribers(&budget_book);
        Account {
            id,
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: Some(c.session_token),
            proxy,
            ec2,
            analyzer,
            budget_book,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The same account signed in as an IAM user (with that user's access key).
    pub fn as_user(&self, access_key_id: &str, secret: &str) -> Account {
        let proxy = futures_block(Proxy::start(&moto()));
        self.ec2.serve(&proxy);
        self.analyzer.serve(&proxy);
        proxy.emulate_budget_subscribers(&self.budget_book);
        Account {
            id: self.id.clone(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret.into(),
            session_token: None,
            proxy,
            ec2: self.ec2.clone(),
            analyzer: self.analyzer.clone(),
            budget_book: self.budget_book.clone(),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "test",
        )
    }

    /// SDK configuration straight to moto (not through the proxy): for setting up drift.
    pub fn sdk(&self) -> SdkConfig {
        sdk_config(&moto(), self.credentials())
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk())
    }

    /// A new IAM user of this account with an access key, straight in moto: (key ID, secret).
    pub async fn user_with_key(&self, user: &str) -> (String, String) {
        let iam = self.iam();
        iam.create_user().user_name(user).send().await.unwrap();
        let key = iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        (key.access_key_id, key.secret_access_key)
    }

    /// The lifecycle rule aws-harden owns on `bucket` (`aws-harden-retention`), straight from moto.
    pub async fn retention_rule(&self, bucket: &str) -> aws_sdk_s3::types::LifecycleRule {
        let rules = self
            .s3()
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .rules
            .unwrap_or_default();
        rules
            .into_iter()
            .find(|r| r.id() == Some("aws-harden-retention"))
            .unwrap_or_else(|| panic!("no aws-harden-retention rule on {bucket}"))
    }

    /// Give an existing IAM user an enabled virtual MFA device, straight in moto (which accepts any
    /// codes), as if enrolled in the console.
    pub async fn enable_virtual_mfa(&self, user: &str) {
        let iam = self.iam();
        let device = iam
            .create_virtual_mfa_device()
            .virtual_mfa_device_name(user)
            .send()
            .await
            .unwrap()
            .virtual_mfa_device
            .unwrap();
        iam.enable_mfa_device()
            .user_name(user)
            .serial_number(&device.serial_number)
            .authentication_code1("123456")
            .authentication_code2("654321")
            .send()
            .await
            .unwrap();
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk())
                .force_path_style(true)
                .build(),
        )
    }

    /// moto builds an account's emulation of each service on its first call to it (about 0.8 s of
    /// its one Python process for EC2, measured; S3, KMS and CloudTrail too): many fresh accounts at
    /// once queue for seconds, long enough for single attempts to pass their 20 s limit on a loaded
    /// 2-core machine. Built here first, one member after another, so the `--org` tests and the
    /// benchmark measure aws-harden.
    pub async fn warm_up_members(&self, members: &[String]) {
        for id in members {
            let sdk = self.member_sdk(id).await;
            aws_sdk_ec2::Client::new(&sdk)
                .describe_regions()
                .send()
                .await
                .expect("moto's DescribeRegions");
            aws_sdk_s3::Client::new(&sdk)
                .list_buckets()
                .send()
                .await
                .expect("moto's ListBuckets");
            aws_sdk_kms::Client::new(&sdk)
                .list_aliases()
                .send()
                .await
                .expect("moto's ListAliases");
            aws_sdk_cloudtrail::Client::new(&sdk)
                .describe_trails()
                .send()
                .await
                .expect("moto's DescribeTrails");
        }
    }

    /// The regions moto lets the account use in its own partition, asked straight from moto
    /// (independently of aws-harden), sorted.
    pub async fn usable_regions(&self) -> Vec<String> {
        let out = self
            .ec2("us-east-1")
            .describe_regions()
            .all_regions(true)
            .send()
            .await
            .expect("moto's DescribeRegions");
        let mut names: Vec<String> = out
            .regions()
            .iter()
            .filter(|r| matches!(r.opt_in_status(), Some("opt-in-not-required" | "opted-in")))
            .filter_map(|r| r.region_name().map(str::to_string))
            .filter(|n| !n.starts_with("cn-") && !n.starts_with("us-gov-"))
            .collect();
        names.sort();
        names
    }

    /// SDK configuration straight to moto as a member account of this account's Organization,
    /// through its OrganizationAccountAccessRole (what `CreateAccount` made).
    pub async fn member_sdk(&self, member: &str) -> SdkConfig {
        let c = aws_sdk_sts::Client::new(&self.sdk())
            .assume_role()
            .role_arn(format!(
                "arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
            ))
            .role_session_name("test")
            .send()
            .await
            .expect("moto's AssumeRole")
            .credentials
            .expect("credentials");
        sdk_config(
            &moto(),
            Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                None,
                "test",
            ),
        )
    }

    /// EC2 in `region`, straight to moto (not through the proxy): for setting up drift.
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&self.sdk())
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    /// KMS in `region`, straight to moto: for making keys and reading what an alias names.
    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&self.sdk())
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    /// The key ARN `alias` names in `region`, asked straight of moto (for `alias/aws/ebs`, moto makes
    /// the AWS managed key on first use, as KMS's DescribeKey documents).
    pub async fn key_arn(&self, region: &str, alias: &str) -> String {
        self.kms(region)
            .describe_key()
            .key_id(alias)
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto's DescribeKey {alias} in {region}: {e:?}"))
            .key_metadata
            .and_then(|m| m.arn)
            .expect("a key ARN")
    }

    /// A new symmetric key in `region` with `alias`, straight in moto; its key ARN.
    pub async fn key_with_alias(&self, region: &str, alias: &str) -> String {
        let kms = self.kms(region);
        let arn = kms
            .create_key()
            .send()
            .await
            .expect("moto's CreateKey")
            .key_metadata
            .and_then(|m| m.arn)
            .expect("a key ARN");
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(&arn)
            .send()
            .await
            .expect("moto's CreateAlias");
        arn
    }

    /// GuardDuty in `region`, straight to moto: for setting up drift.
    pub fn guardduty(&self, region: &str) -> aws_sdk_guardduty::Client {
        aws_sdk_guardduty::Client::from_conf(
            aws_sdk_guardduty::config::Builder::from(&self.sdk())
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    /// Turn the region's GuardDuty detector off by hand, if it has one.
    pub async fn disable_guardduty(&self, region: &str) {
        let gd = self.guardduty(region);
        let ids = gd
            .list_detectors()
            .send()
            .await
            .expect("moto's ListDetectors");
        for id in ids.detector_ids.unwrap_or_default() {
            gd.update_detector()
                .detector_id(id)
                .enable(false)
                .send()
                .await
                .expect("moto's UpdateDetector");
        }
    }

    /// S3 Control straight to moto (not through the proxy): for setting up drift. Its
    /// account-scoped operations go to `{account}.{endpoint host}` (the SDK's endpoint rules), which
    /// resolves nowhere on loopback; this resolver sends them to moto's own host instead, the
    /// account ID still in the `x-amz-account-id` header. Written here, not taken from
    /// aws-harden's client, so that the drift does not depend on the code under test.
    pub fn s3control(&self) -> aws_sdk_s3control::Client {
        use aws_sdk_s3control::config::endpoint::{
            Endpoint, EndpointFuture, Params, ResolveEndpoint,
        };
        #[derive(Debug)]
        struct Moto(String);
        impl ResolveEndpoint for Moto {
            fn resolve_endpoint<'a>(&'a self, _: &'a Params) -> EndpointFuture<'a> {
                EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
            }
        }
        aws_sdk_s3control::Client::from_conf(
            aws_sdk_s3control::config::Builder::from(&self.sdk())
                .endpoint_resolver(Moto(moto()))
                .build(),
        )
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write a plan file into the scratch directory and return its path.
    pub fn write_plan(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// Run the binary against this account, through the proxy, with a clean environment.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[]).await
    }

    /// The environment every run gets: this account through the proxy, HOME and the AWS files in
    /// the scratch directory, no colour.
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", self.dir.path().display().to_string()),
            (
                "AWS_CONFIG_FILE",
                self.path("aws-config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path("aws-credentials").display().to_string(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_ENDPOINT_URL", self.proxy.url.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("NO_COLOR", "1".into()),
        ];
        if let Some(t) = &self.session_token {
            env.push(("AWS_SESSION_TOKEN", t.clone()));
        }
        env
    }

    /// Run the binary, then wait until the proxy has finished every request it sent (`settle`), so
    /// the record the test reads holds all of them.
    pub async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut run = Self::output(self.command(args, env)).await;
        self.proxy.settle().await;
        run.bench = format!(
            "\n--- the proxy's record\n{}--- moto's log, last lines\n{}",
            self.proxy.describe(),
            moto_log_tail(20)
        );
        run
    }

    /// Run a command made by `command` (changed as a test needs) with stdin closed.
    pub async fn output(cmd: std::process::Command) -> Run {
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = cmd.output().await.expect("run aws-harden");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            bench: String::new(),
        }
    }

    /// The binary with this account's clean environment (for running it under a pseudo-terminal).
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aws-harden"));
        cmd.args(args)
            .env_clear()
            .envs(self.env())
            .current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }
}

impl Account {
    /// Run the binary at a pseudo-terminal (stdin, stdout and stderr all on it), as a person
    /// would, with the same environment as `run` plus `env` (e.g. `("NO_COLOR", "")` for colour).
    pub fn run_pty(&self, args: &[&str], env: &[(&str, &str)]) -> pty::Pty {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aws-harden"));
        cmd.args(args)
            .env_clear()
            .envs(self.env())
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        pty::Pty::spawn(cmd)
    }
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// The three IAM controls, admin MFA off (it needs a terminal): the plan most end-to-end tests use.
pub const IAM_ONLY: &str = r#"
version = 1
home_region = "us-east-1"
[admin_group]
[admin_user]
mfa = false
[password_policy]
"#;

/// The baseline plan shipped in plans/.
/// plans/baseline.toml with every control on: GuardDuty turned on, and the two tables that need
/// a person's data (a security contact, a budget) added.
pub fn every_control_plan() -> String {
    let mut doc: toml::Table = baseline().parse().expect("the baseline parses");
    doc["guardduty"]
        .as_table_mut()
        .expect("the baseline has [guardduty]")
        .insert("enabled".into(), toml::Value::Boolean(true));
    let extra: toml::Table = r#"
[security_contact]
name = "Sec Team"
title = "Security"
email = "security@example.com"
phone = "+14155550100"
[budget]
name = "aws-harden-monthly"
amount = 20
email = "billing@example.com"
"#
    .parse()
    .expect("TOML");
    doc.extend(extra);
    doc.to_string()
}

/// plans/baseline.toml in the test regions (`test_regions`).
pub fn baseline() -> String {
    in_test_regions(&baseline_in_every_region())
}

/// plans/baseline.toml as shipped: `regions = "all"`.
pub fn baseline_in_every_region() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plans/baseline.toml")).unwrap()
}

/// The regions the tests' plans cover where regions are not what a test is about: two (the home
/// region and one more), since moto spends CPU building each region of each account and moto's
/// one process is what bounds the suite. `AWS_HARDEN_TEST_REGIONS=all` (scripts/test-deep) keeps
/// every region. The tests about regions (tests/e2e/regional.rs) always use all of them.
pub fn test_regions() -> &'static str {
    match std::env::var("AWS_HARDEN_TEST_REGIONS").as_deref() {
        Ok("all") => "\"all\"",
        _ => "[\"us-east-1\", \"eu-west-1\"]",
    }
}

/// A plan text with its `regions = "all"` replaced by `test_regions`.
pub fn in_test_regions(plan: &str) -> String {
    let narrowed = plan.replacen(
        "regions = \"all\"",
        &format!("regions = {}", test_regions()),
        1,
    );
    assert_ne!(plan, narrowed, "the plan has regions = \"all\"");
    narrowed
}

/// Assert that the run made no write, by the proxy's independent count.
pub fn assert_no_writes(account: &Account, run: &Run) {
    let writes = account.proxy.writes();
    assert!(
        writes.is_empty(),
        "expected no writes, the proxy saw {writes:?}\n{}",
        run.all()
    );
}
