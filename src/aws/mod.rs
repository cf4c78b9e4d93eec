//! One AWS context for a run: the SDK configuration (credential chain, profile, region, endpoint
//! overrides), the caller's identity, one client per service, and the record of every call made.
//!
//! The parts: `config` (loading the SDK configuration, as the AWS CLI does), `caller` (who is
//! calling, and the partition), `calls` (the record of every call, and the read-only guard),
//! `errors` (SDK errors and results in words, absence as a state, waiting for consistency).

mod caller;
mod calls;
pub mod central_root;
mod config;
pub mod credential_report;
mod errors;
pub mod permissions;
mod regions;
#[cfg(test)]
pub mod replay;
mod s3control;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;

use calls::Recorder;
use config::credential_source;
use regions::RegionCache;

pub use caller::{Caller, CallerKind, check_partition, partition_of};
pub use calls::{CallLog, CallRecord, is_read_operation};
pub use config::{
    ATTEMPT_TIMEOUT, ConnectOptions, DEFAULT_MAX_ATTEMPTS, OPERATION_TIMEOUT, load_config,
    profile_file_paths,
};
pub use errors::{
    CONSISTENCY_WAIT, SdkResultExt, absent_on, created_or_exists, error_chain, error_code,
    is_transient, sdk_error, when_visible,
};
pub use regions::{InRegion, ListedRegion, PerRegion, RegionError, RegionalClient};

/// The one region AWS Budgets, Account Management and the Cost and Usage Report are called and
/// signed in, per partition, as botocore's `endpoints.json` has them: `aws` us-east-1 (budgets and
/// account `aws-global`, cur `us-east-1`), `aws-cn` cn-northwest-1 (`aws-cn-global`, cur
/// `cn-northwest-1`). Other partitions (`aws-us-gov` among them) have none of the three.
pub fn global_api_region(partition: &str) -> Option<&'static str> {
    match partition {
        "aws" => Some("us-east-1"),
        "aws-cn" => Some("cn-northwest-1"),
        _ => None,
    }
}

/// The tag on everything aws-harden creates that can carry tags (IAM users, KMS keys, S3 buckets,
/// trails, report definitions; IAM groups cannot be tagged), so a person can tell what it owns.
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "aws-harden");

/// The run's AWS context.
#[derive(Clone, Debug)]
pub struct Aws {
    pub sdk: SdkConfig,
    pub caller: Caller,
    pub home_region: String,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    /// S3 Control (account-level Block Public Access); behind an endpoint override its requests
    /// go to the override's host, not `{account}.{host}` (see `s3control.rs`).
    pub s3control: aws_sdk_s3control::Client,
    /// The Cost and Usage Report API, in its partition's one region (`global_api_region`).
    pub cur: aws_sdk_costandusagereport::Client,
    /// Account Management (alternate contacts): a global API, in its partition's one region.
    pub account: aws_sdk_account::Client,
    /// AWS Budgets: a global API, in its partition's one region.
    pub budgets: aws_sdk_budgets::Client,
    pub calls: Arc<CallLog>,
    /// The signing identity's MFA device serials, asked together with `GetCallerIdentity` when the
    /// run signs with long-term keys (the only credentials an MFA session can be made from); `None`
    /// when not asked or not answered.
    pub own_mfa_devices: Option<Vec<String>>,
    /// The sign-in URL once read: the next steps reuse it, so no call follows the deletion of the
    /// key this run signs with.
    signin: Arc<Mutex<Option<String>>>,
    /// The IAM credential report, read once per run and shared (root's history, `iam_users`).
    credential_report:
        Arc<tokio::sync::OnceCell<Result<Arc<credential_report::CredentialReport>, String>>>,
    /// The account's regions, read once, and one EC2 client per region (`regions.rs`).
    regions: Arc<RegionCache>,
    /// Under `--org` with `root.centralized`: this context's part in centralized root access.
    pub central_root: Option<Arc<central_root::CentralRoot>>,
}

const NO_CREDENTIALS_HELP: &str = "configure credentials with `aws configure` or `aws sso login --profile NAME` and pass --profile NAME, \
or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

impl Aws {
    /// The sign-in URL, with the account alias from `ListAccountAliases` (an account has at most
    /// one). Apply path only; if the alias cannot be read, the account-ID URL works as well.
    pub async fn signin_url(&self) -> String {
        if let Some(url) = self.signin.lock().unwrap().clone() {
            return url;
        }
        let alias = self
            .iam
            .list_account_aliases()
            .send()
            .await
            .ok()
            .and_then(|a| a.account_aliases.into_iter().next());
        let url = self.caller.signin_url(alias.as_deref());
        *self.signin.lock().unwrap() = Some(url.clone());
        url
    }

    /// The IAM credential report (`credential_report::fetch`), read once per run: every control
    /// that needs it gets the same one. IAM reuses a report for up to four hours anyway.
    pub async fn credential_report(
        &self,
    ) -> anyhow::Result<Arc<credential_report::CredentialReport>> {
        self.credential_report
            .get_or_init(|| async {
                credential_report::fetch(self)
                    .await
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}"))
            })
            .await
            .clone()
            .map_err(|e| anyhow!(e))
    }

    /// Resolve credentials and identify the caller. Fails with advice when there are no credentials.
    pub async fn connect(
        sdk: SdkConfig,
        profile: Option<&str>,
        calls: Arc<CallLog>,
    ) -> anyhow::Result<Aws> {
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| anyhow!("no AWS credentials found: {NO_CREDENTIALS_HELP}"))?;
        let creds = provider.provide_credentials().await.map_err(|e| {
            anyhow!(
                "no usable AWS credentials: {}\n{NO_CREDENTIALS_HELP}",
                error_chain(&e)
            )
        })?;
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sdk)
                .interceptor(Recorder(calls.clone()))
                .build(),
        );
        // ListMFADevices without a user name answers for the signing IAM user (IAM API reference),
        // so it need not wait for GetCallerIdentity: one round trip, not two. Only long-term keys
        // can make an MFA session; for other callers (a role answers ValidationError) it is not sent.
        let devices = async {
            if creds.session_token().is_some() {
                return None;
            }
            let iam = aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&sdk)
                    .interceptor(Recorder(calls.clone()))
                    .build(),
            );
            let out = iam.list_mfa_devices().send().await.ok()?;
            Some(
                out.mfa_devices
                    .into_iter()
                    .map(|d| d.serial_number)
                    .collect(),
            )
        };
        let (id, devices) = tokio::join!(sts.get_caller_identity().send(), devices);
        let id = id.map_err(|e| {
            // Only an answer from AWS says something about the credentials; a network failure or
            // an outage (after the SDK's retries) does not.
            let code = error_code(&e).unwrap_or_default();
            let rejected = e.raw_response().is_some_and(|r| r.status().as_u16() == 403)
                || ["ExpiredToken", "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature"]
                    .iter()
                    .any(|c| code.starts_with(c));
            if rejected {
                anyhow!(
                    "AWS did not accept the credentials (GetCallerIdentity): {}\n{NO_CREDENTIALS_HELP}",
                    error_chain(&e)
                )
            } else {
                anyhow!("could not identify the caller (GetCallerIdentity): {}", error_chain(&e))
            }
        })?;
        let account_id = id.account().unwrap_or_default();
        let arn = id.arn().unwrap_or_default();
        let mut caller = Caller::from_arn(
            account_id,
            arn,
            Some(creds.access_key_id().to_string()),
            creds.session_token().is_some(),
        );
        caller.credential_source = credential_source(&creds, profile);
        let home_region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let mut aws = Aws::build(sdk, caller, home_region, calls);
        aws.own_mfa_devices = devices;
        Ok(aws)
    }

    /// Fails, naming the partition, when a global API the plan's `control` needs does not exist in
    /// the caller's partition (`global_api_region`): said before any call to it.
    pub fn require_global_api(&self, api: &str, control: &str) -> anyhow::Result<()> {
        match global_api_region(&self.caller.partition) {
            Some(_) => Ok(()),
            None => Err(anyhow!(
                "[{control}]: {api} does not exist in partition {} (botocore's endpoints.json \
                 lists it in aws and aws-cn only): remove [{control}] from the plan for this account",
                self.caller.partition
            )),
        }
    }

    fn build(sdk: SdkConfig, caller: Caller, home_region: String, calls: Arc<CallLog>) -> Aws {
        let rec = || Recorder(calls.clone());
        let home = Region::new(home_region.clone());
        // An endpoint override means an emulator or proxy: S3 then needs path-style addressing.
        let path_style =
            sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&sdk)
                .interceptor(rec())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sdk)
                .interceptor(rec())
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .region(home.clone())
                .force_path_style(path_style)
                .interceptor(rec())
                .build(),
        );
        let kms = aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&sdk)
                .region(home.clone())
                .interceptor(rec())
                .build(),
        );
        let cloudtrail = aws_sdk_cloudtrail::Client::from_conf(
            aws_sdk_cloudtrail::config::Builder::from(&sdk)
                .region(home)
                .interceptor(rec())
                .build(),
        );
        let s3control = s3control::client(&sdk, calls.clone());
        // Where the partition has none of these APIs, us-east-1 is never called: the controls
        // stop first (`require_global_api`).
        let global =
            Region::from_static(global_api_region(&caller.partition).unwrap_or("us-east-1"));
        let cur = aws_sdk_costandusagereport::Client::from_conf(
            aws_sdk_costandusagereport::config::Builder::from(&sdk)
                .region(global.clone())
                .interceptor(rec())
                .build(),
        );
        let account = aws_sdk_account::Client::from_conf(
            aws_sdk_account::config::Builder::from(&sdk)
                .region(global.clone())
                .interceptor(rec())
                .build(),
        );
        let budgets = aws_sdk_budgets::Client::from_conf(
            aws_sdk_budgets::config::Builder::from(&sdk)
                .region(global)
                .interceptor(rec())
                .build(),
        );
        Aws {
            sdk,
            caller,
            home_region,
            iam,
            sts,
            s3,
            kms,
            cloudtrail,
            s3control,
            cur,
            account,
            budgets,
            calls,
            own_mfa_devices: None,
            signin: Arc::default(),
            credential_report: Arc::default(),
            regions: Arc::default(),
            central_root: None,
        }
    }

    /// A context for a caller already identified (a member account's role session under `--org`:
    /// AssumeRole named it), with its own call log.
    pub fn for_caller(sdk: SdkConfig, caller: Caller, calls: Arc<CallLog>) -> Aws {
        let home_region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        Aws::build(sdk, caller, home_region, calls)
    }

    /// Organizations (a global API: the SDK sends it to the partition's one endpoint).
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::config::Builder::from(&self.sdk)
                .interceptor(Recorder(self.calls.clone()))
                .build(),
        )
    }

    /// The same context with regional clients in the plan's home region.
    pub fn in_home_region(&self, home_region: &str) -> Aws {
        Aws {
            signin: self.signin.clone(),
            regions: self.regions.clone(),
            central_root: self.central_root.clone(),
            ..Aws::build(
                self.sdk.clone(),
                self.caller.clone(),
                home_region.to_string(),
                self.calls.clone(),
            )
        }
    }

    /// The same context signing with other credentials (an MFA session, say).
    pub fn with_credentials(
        &self,
        creds: aws_credential_types::Credentials,
        caller: Caller,
    ) -> Aws {
        let sdk = self
            .sdk
            .clone()
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            )
            .build();
        Aws::build(sdk, caller, self.home_region.clone(), self.calls.clone())
    }

    pub fn account_id(&self) -> &str {
        &self.caller.account_id
    }

    /// Every region of the caller's partition with its opt-in status, read once per run and
    /// shared by every control (`regions.rs`).
    pub async fn listed_regions(&self) -> anyhow::Result<Arc<Vec<ListedRegion>>> {
        self.regions
            .listed(&self.sdk, &self.caller.partition, &self.calls)
            .await
    }

    /// The EC2 client for `region`, built once per run.
    pub fn ec2_in(&self, region: &str) -> aws_sdk_ec2::Client {
        self.client_in(region)
    }

    /// The `C` client (EC2, GuardDuty, Access Analyzer) for `region`, built once per run.
    pub fn client_in<C: RegionalClient>(&self, region: &str) -> C {
        self.regions.client_in(&self.sdk, &self.calls, region)
    }

    /// The regions the plan's regional controls act in (`regions.rs`, `choose`).
    pub async fn plan_regions(&self, plan: &crate::plan::Plan) -> anyhow::Result<Vec<String>> {
        let listed = self.listed_regions().await?;
        let chosen = regions::choose(
            &listed,
            plan.regions.list(),
            &self.caller.partition,
            &self.caller.account_id,
        )?;
        Ok(chosen
            .into_iter()
            .filter(|r| !plan.exclude_regions.contains(r))
            .collect())
    }

    /// `read` in each of `regions` at once, with that region's client; a region a policy denies
    /// is skipped (`regions.rs`, `read_each_region`).
    pub async fn read_each_region<C: RegionalClient, T, F, Fut>(
        &self,
        regions: &[String],
        what: &str,
        read: F,
    ) -> anyhow::Result<PerRegion<T>>
    where
        F: Fn(C, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, RegionError>>,
    {
        let clients = regions
            .iter()
            .map(|r| (r.clone(), self.client_in::<C>(r)))
            .collect();
        regions::read_each_region(clients, what, read).await
    }
}

/// The credentials an STS answer carries (`AssumeRole`, `AssumeRoot`, `GetSessionToken`), with
/// their expiry, for an SDK configuration; an answer without them is an error naming `operation`.
pub fn session_credentials(
    answered: Option<aws_sdk_sts::types::Credentials>,
    operation: &str,
    source: &'static str,
) -> anyhow::Result<aws_credential_types::Credentials> {
    let c = answered.ok_or_else(|| anyhow!("{operation} answered without credentials"))?;
    Ok(aws_credential_types::Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        std::time::SystemTime::try_from(c.expiration).ok(),
        source,
    ))
}

/// Can the account use home_region? It must be a usable region of the caller's partition, by the
/// run's one `DescribeRegions` answer (see `regions.rs`).
pub async fn check_home_region(aws: &Aws, home_region: &str) -> anyhow::Result<()> {
    let listed = aws.listed_regions().await.map_err(|e| {
        e.context(format!(
            "checking that the account can use home_region {home_region}"
        ))
    })?;
    regions::check_listed(
        &listed,
        home_region,
        &aws.caller.partition,
        &aws.caller.account_id,
    )
    .map_err(|why| anyhow!("home_region = {home_region:?} {why}; nothing was changed"))
}
