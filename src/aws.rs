//! One AWS context for a run: the SDK configuration (credential chain, profile, region, endpoint
//! overrides), the caller's identity, one client per service, and the record of every call made.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::anyhow;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// The tag on everything aws-harden creates that can carry tags (IAM users, KMS keys, S3 buckets,
/// trails, report definitions; IAM groups cannot be tagged), so a person can tell what it owns.
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "aws-harden");

/// Operations that only read. Everything else counts as a write: for `--plan`, for the read-only
/// guard and for `--stats`. `SimulatePrincipalPolicy` only evaluates policies (IAM API reference: "The
/// simulation does not perform the API operations").
pub fn is_read_operation(operation: &str) -> bool {
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|p| operation.starts_with(p))
        || operation == "GenerateCredentialReport"
        || operation == "SimulatePrincipalPolicy"
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CallRecord {
    pub service: String,
    pub operation: String,
    pub write: bool,
}

/// Every operation this run started, in order; and a switch that refuses writes while reading.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<CallRecord>>,
    /// HTTP attempts, retries included (`len()` counts each operation once).
    attempts: AtomicUsize,
    read_only: AtomicBool,
}

impl CallLog {
    pub fn records(&self) -> Vec<CallRecord> {
        self.calls.lock().unwrap().clone()
    }
    pub fn writes(&self) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.write)
            .count()
    }
    pub fn len(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Requests sent, retries included.
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
    /// While set, any write operation fails before it is sent.
    pub fn set_read_only(&self, on: bool) {
        self.read_only.store(on, Ordering::SeqCst);
    }
}

/// The interceptor every client carries: records each call and enforces the read-only switch.
#[derive(Debug, Clone)]
struct Recorder(Arc<CallLog>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "aws-harden-call-recorder"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let write = !is_read_operation(&operation);
        if write && self.0.read_only.load(Ordering::SeqCst) {
            return Err(format!(
                "refused {service}:{operation}: this phase only reads (a bug in aws-harden)"
            )
            .into());
        }
        tracing::debug!(%service, %operation, write, "call");
        self.0.calls.lock().unwrap().push(CallRecord {
            service,
            operation,
            write,
        });
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallerKind {
    Root,
    User { name: String },
    AssumedRole { role: String, session: String },
    Other,
}

/// Who is calling, from `GetCallerIdentity` and the credentials in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub account_id: String,
    pub arn: String,
    pub kind: CallerKind,
    pub partition: String,
    /// The access key ID this run signs with (not secret; used to delete root's own key last).
    pub access_key_id: Option<String>,
    /// Temporary credentials (a session token is present).
    pub temporary: bool,
    /// This run signs with an MFA session it obtained itself (`GetSessionToken` with a code).
    pub mfa_session: bool,
    /// Where the credentials came from: "environment (...)", "profile NAME", "container
    /// endpoint", "instance role".
    pub credential_source: String,
}

impl Caller {
    /// The account's console sign-in page for IAM users, in the caller's partition: by the account
    /// alias when it has one (IAM user guide, "Your AWS account ID and its alias"), else by its ID.
    pub fn signin_url(&self, alias: Option<&str>) -> String {
        let domain = match self.partition.as_str() {
            "aws-cn" => "signin.amazonaws.cn",
            "aws-us-gov" => "signin.amazonaws-us-gov.com",
            _ => "signin.aws.amazon.com",
        };
        format!(
            "https://{}.{domain}/console",
            alias.unwrap_or(&self.account_id)
        )
    }

    pub fn from_arn(
        account_id: &str,
        arn: &str,
        access_key_id: Option<String>,
        temporary: bool,
    ) -> Caller {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let partition = parts.get(1).copied().unwrap_or("aws").to_string();
        let resource = parts.get(5).copied().unwrap_or("");
        let kind = if resource == "root" {
            CallerKind::Root
        } else if let Some(path) = resource.strip_prefix("user/") {
            CallerKind::User {
                name: path.rsplit('/').next().unwrap_or(path).to_string(),
            }
        } else if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let mut it = rest.splitn(2, '/');
            CallerKind::AssumedRole {
                role: it.next().unwrap_or("").to_string(),
                session: it.next().unwrap_or("").to_string(),
            }
        } else {
            CallerKind::Other
        };
        Caller {
            account_id: account_id.to_string(),
            arn: arn.to_string(),
            kind,
            partition,
            access_key_id,
            temporary,
            mfa_session: false,
            credential_source: String::new(),
        }
    }

    pub fn is_root(&self) -> bool {
        self.kind == CallerKind::Root
    }

    pub fn user_name(&self) -> Option<&str> {
        match &self.kind {
            CallerKind::User { name } => Some(name),
            _ => None,
        }
    }

    /// A short description for people: "root user", "IAM user alice", ...
    pub fn describe(&self) -> String {
        let who = match &self.kind {
            CallerKind::Root => "the root user".into(),
            CallerKind::User { name } => format!("IAM user {name}"),
            CallerKind::AssumedRole { role, session } => format!("role {role} (session {session})"),
            CallerKind::Other => self.arn.clone(),
        };
        if self.mfa_session {
            format!("{who} (MFA session)")
        } else {
            who
        }
    }
}

/// What the command line says about where and as whom to connect.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
}

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
    /// Always us-east-1: the Cost and Usage Report API exists nowhere else.
    pub cur: aws_sdk_costandusagereport::Client,
    pub calls: Arc<CallLog>,
    /// The signing identity's MFA device serials, asked together with `GetCallerIdentity` when the
    /// run signs with long-term keys (the only credentials an MFA session can be made from); `None`
    /// when not asked or not answered.
    pub own_mfa_devices: Option<Vec<String>>,
    /// The sign-in URL once read: the next steps reuse it, so no call follows the deletion of the
    /// key this run signs with.
    signin: Arc<Mutex<Option<String>>>,
}

const NO_CREDENTIALS_HELP: &str = "configure credentials with `aws configure` or `aws sso login --profile NAME` and pass --profile NAME, \
or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

/// Attempts per call when the person configured none: the SDK's standard mode retries throttling,
/// 5xx and dropped connections with exponential backoff and jitter; five attempts ride out a burst
/// of IAM throttling (the SDK's default of three gives up after about two seconds of backoff).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// One attempt that has not answered by then is abandoned and retried; a whole call (all attempts
/// and backoff) gives up after `OPERATION_TIMEOUT`. The SDK sets neither by default, so a silent
/// connection would hang the run for ever.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(90);

/// The shared config and credentials files the SDK reads, as the AWS CLI finds them: for error
/// messages that name both files searched.
pub fn profile_file_paths() -> (String, String) {
    let home = std::env::var("HOME").unwrap_or_else(|_| "~".into());
    let file = |var: &str, default: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("{home}/.aws/{default}"))
    };
    (
        file("AWS_CONFIG_FILE", "config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    )
}

/// Profile settings that give credentials (aws-config `ProfileFileCredentialsProvider`:
/// https://docs.rs/aws-config/latest/aws_config/profile/struct.ProfileFileCredentialsProvider.html
/// and the CLI's "Configuration and credential file settings" page).
const CREDENTIAL_KEYS: [&str; 9] = [
    "aws_access_key_id",
    "role_arn",
    "credential_source",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "web_identity_token_file",
    "login_session",
];

/// `--profile NAME` must exist and name a credential source. The SDK silently skips a missing
/// profile and falls through to the container endpoint or instance metadata (in CloudShell: root),
/// so this is checked before any call. Stricter than the CLI for a profile without credentials.
async fn check_profile(name: &str) -> anyhow::Result<()> {
    let (config, credentials) = profile_file_paths();
    let set = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &Default::default(),
        Some(std::borrow::Cow::Owned(name.to_string())),
    )
    .await
    .map_err(|e| {
        anyhow!(
            "--profile {name}: cannot read the AWS profile files ({config}, {credentials}): {}",
            error_chain(&e)
        )
    })?;
    let Some(profile) = set.get_profile(name) else {
        anyhow::bail!(
            "--profile {name}: no such profile in {config} or {credentials} (AWS_CONFIG_FILE and \
             AWS_SHARED_CREDENTIALS_FILE choose other files); nothing was called. Create it with \
             `aws configure --profile {name}` or `aws configure sso --profile {name}`"
        );
    };
    if !CREDENTIAL_KEYS.iter().any(|k| profile.get(k).is_some()) {
        anyhow::bail!(
            "--profile {name}: the profile has no credentials in {config} or {credentials} (no \
             aws_access_key_id, role_arn, credential_process, SSO or login_session setting); \
             aws-harden does not fall back to other credentials when a profile is named; nothing was called"
        );
    }
    Ok(())
}

/// Did the person choose a retry setting (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`, or `max_attempts`
/// / `retry_mode` in the selected profile)? Then it is theirs and stays as they set it.
async fn retry_configured_by_user(profile: Option<&str>) -> bool {
    if ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    {
        return true;
    }
    let profiles = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &Default::default(),
        profile.map(|p| std::borrow::Cow::Owned(p.to_string())),
    )
    .await;
    // An unreadable profile is reported by the credential chain, not here.
    profiles.is_ok_and(|set| {
        ["max_attempts", "retry_mode"]
            .iter()
            .any(|k| set.get(k).is_some())
    })
}

/// Load the SDK configuration the way the AWS CLI does (env, profiles, SSO, ...). With
/// `--profile NAME` the credentials come only from that profile, as in the CLI (the SDK's default
/// chain would read environment keys first); `AWS_PROFILE` alone keeps the SDK's (and CLI's) order.
pub async fn load_config(opts: &ConnectOptions) -> anyhow::Result<SdkConfig> {
    if let Some(p) = &opts.profile {
        check_profile(p).await?;
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build(),
    );
    if !retry_configured_by_user(opts.profile.as_deref()).await {
        loader =
            loader.retry_config(RetryConfig::standard().with_max_attempts(DEFAULT_MAX_ATTEMPTS));
    }
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let mut sdk = loader.load().await;
    // IAM and STS requests cannot be signed without a region; fall back like the console does.
    if sdk.region().is_none() {
        sdk = sdk
            .into_builder()
            .region(Region::from_static("us-east-1"))
            .build();
    }
    if let Some(p) = &opts.profile {
        // Static keys, SSO, credential_process, source_profile / role chaining, and
        // credential_source = Environment (which reads the environment's keys, as in the CLI).
        let mut conf = aws_config::provider_config::ProviderConfig::default()
            .with_region(sdk.region().cloned())
            .with_behavior_version(Some(BehaviorVersion::latest()));
        if let Some(r) = sdk.retry_config() {
            conf = conf.with_retry_config(r.clone());
        }
        if let Some(t) = sdk.timeout_config() {
            conf = conf.with_timeout_config(t.clone());
        }
        let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .configure(&conf)
            .profile_name(p)
            .build();
        sdk = sdk
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
    }
    Ok(sdk)
}

/// Where the credentials came from, in words for the header: from the features the SDK's
/// providers record on the credentials (`AwsCredentialFeature`).
fn credential_source(creds: &aws_credential_types::Credentials, profile: Option<&str>) -> String {
    use aws_credential_types::credential_feature::AwsCredentialFeature as F;
    let features = creds.get_property::<Vec<F>>().cloned().unwrap_or_default();
    let has = |f: F| features.contains(&f);
    let env_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    let env_profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    if has(F::CredentialsProfile) {
        return match profile {
            Some(p) if env_keys => {
                format!("profile {p} (--profile; AWS_ACCESS_KEY_ID in the environment not used)")
            }
            Some(p) => format!("profile {p} (--profile)"),
            None => match env_profile {
                Some(p) => format!("profile {p} (AWS_PROFILE)"),
                None => "profile default".into(),
            },
        };
    }
    if has(F::CredentialsEnvVars) {
        return match env_profile {
            Some(p) => format!(
                "environment (AWS_ACCESS_KEY_ID; AWS_PROFILE={p} not used: environment keys come first, \
                 as in the AWS CLI; pass --profile {p} to use the profile)"
            ),
            None => "environment (AWS_ACCESS_KEY_ID)".into(),
        };
    }
    if has(F::CredentialsHttp) {
        return "container endpoint".into();
    }
    if has(F::CredentialsImds) {
        return "instance role (instance metadata)".into();
    }
    if has(F::CredentialsProfileStsWebIdToken) || has(F::CredentialsStsAssumeRoleWebId) {
        return "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)".into();
    }
    "the AWS SDK credential chain".into()
}

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
        let cur = aws_sdk_costandusagereport::Client::from_conf(
            aws_sdk_costandusagereport::config::Builder::from(&sdk)
                .region(Region::from_static("us-east-1"))
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
            cur,
            calls,
            own_mfa_devices: None,
            signin: Arc::default(),
        }
    }

    /// The same context with regional clients in the plan's home region.
    pub fn in_home_region(&self, home_region: &str) -> Aws {
        Aws {
            signin: self.signin.clone(),
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
}

/// The partition a region belongs to, from its name (AWS General Reference, "AWS partitions").
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// home_region must be in the caller's partition: an `aws` account has no `cn-north-1`. Needs
/// only the caller's ARN, so it runs right after GetCallerIdentity.
pub fn check_partition(caller: &Caller, home_region: &str) -> anyhow::Result<()> {
    let partition = partition_of(home_region);
    if partition != caller.partition {
        anyhow::bail!(
            "home_region = {home_region:?} is in partition {partition}, but account {} is in partition {}: \
             choose a home_region of the account's partition; nothing was changed",
            caller.account_id,
            caller.partition
        );
    }
    Ok(())
}

/// Can the account use home_region? EC2 `DescribeRegions` with `AllRegions` lists every region of
/// the endpoint's partition with its `OptInStatus` (`opt-in-not-required`, `opted-in`,
/// `not-opted-in`): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRegions.html
/// Asked in the SDK's region (home_region may be the one not enabled). Regions of other
/// partitions are dropped (emulators list China regions too).
pub async fn check_home_region(aws: &Aws, home_region: &str) -> anyhow::Result<()> {
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&aws.sdk)
            .interceptor(Recorder(aws.calls.clone()))
            .build(),
    );
    let out = ec2
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .describe(format!(
            "checking that the account can use home_region {home_region} (EC2 DescribeRegions)"
        ))?;
    let partition = &aws.caller.partition;
    let region = out
        .regions()
        .iter()
        .find(|r| r.region_name() == Some(home_region) && partition_of(home_region) == partition);
    let Some(region) = region else {
        anyhow::bail!(
            "home_region = {home_region:?} is not a region of partition {partition} (EC2 DescribeRegions \
             does not list it); nothing was changed"
        );
    };
    match region.opt_in_status() {
        Some("opt-in-not-required" | "opted-in") => Ok(()),
        status => anyhow::bail!(
            "home_region = {home_region:?} is not enabled for account {} (opt-in status {}): enable it in the \
             console (Account > AWS Regions) or choose another home_region; nothing was changed",
            aws.caller.account_id,
            status.unwrap_or("unknown")
        ),
    }
}

/// An error and its causes on one line ("dispatch failure" alone tells nobody anything). Service
/// errors show AWS's code and message.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Turn an SDK error into a message with its cause chain and AWS's error code.
pub fn sdk_error<E>(what: impl std::fmt::Display, e: E) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    anyhow!("{what}: {}", error_chain(&e))
}

/// The AWS error code of an SDK error, if the service sent one.
pub fn error_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// A failure worth trying again: no answer (connection dropped or lost, timeout), a 5xx, or throttling.
/// For the calls aws-harden must not let the SDK retry blindly (KMS `CreateKey`).
pub fn is_transient<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => {
            se.raw().status().is_server_error()
                || se.err().code().is_some_and(|c| {
                    [
                        "Throttling",
                        "ThrottlingException",
                        "TooManyRequestsException",
                        "RequestLimitExceeded",
                    ]
                    .contains(&c)
                })
        }
        _ => false,
    }
}

/// `Ok(None)` when the call failed with one of `codes` (e.g. `NoSuchEntity`): absence is a state.
pub fn absent_on<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    codes: &[&str],
    what: impl std::fmt::Display,
) -> anyhow::Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if error_code(&e).is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(sdk_error(what, e)),
    }
}

/// A create whose answer was lost (the connection dropped after AWS acted) is retried by the SDK
/// and then fails with the service's "already exists" code (`EntityAlreadyExists` in IAM,
/// `AlreadyExistsException` in KMS, ...): the thing exists, as asked. `Ok(false)` then; the
/// engine's verification checks the resource afterwards like any other, so one that exists but
/// differs is still caught.
pub fn created_or_exists<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    already_exists: &[&str],
    what: impl std::fmt::Display,
) -> anyhow::Result<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match absent_on(result, already_exists, &what)? {
        Some(_) => Ok(true),
        None => {
            tracing::info!("{what}: it already exists (a retried request's first attempt made it)");
            Ok(false)
        }
    }
}

/// How long a write waits for something it depends on that was just created (IAM is eventually
/// consistent: a new user or group can be "not found" for a few seconds).
pub const CONSISTENCY_WAIT: Duration = Duration::from_secs(10);

/// Run `call`, and while it fails with one of `codes` (e.g. `NoSuchEntity` for a user created a
/// moment ago), try again with exponential backoff for at most `CONSISTENCY_WAIT`. Transient
/// network and service errors are the SDK's retry's business, not this.
pub async fn when_visible<T, E, R, F, Fut>(
    codes: &[&str],
    what: impl std::fmt::Display,
    mut call: F,
) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
{
    let deadline = tokio::time::Instant::now() + CONSISTENCY_WAIT;
    let mut delay = Duration::from_millis(250);
    loop {
        match call().await {
            Err(e)
                if error_code(&e).is_some_and(|c| codes.contains(&c))
                    && tokio::time::Instant::now() + delay < deadline =>
            {
                tracing::info!(
                    code = error_code(&e),
                    "{what}: not visible yet, waiting {delay:?}"
                );
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
}

/// Attach a description to an SDK result.
pub trait SdkResultExt<T> {
    fn describe(self, what: impl std::fmt::Display) -> anyhow::Result<T>;
}

impl<T, E> SdkResultExt<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn describe(self, what: impl std::fmt::Display) -> anyhow::Result<T> {
        self.map_err(|e| sdk_error(what, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replayed HTTP client: every request sent gets the same canned answer, and is counted.
    #[derive(Debug, Clone, Default)]
    struct Replay(Arc<AtomicUsize>);

    impl aws_smithy_runtime_api::client::http::HttpConnector for Replay {
        fn call(
            &self,
            _request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            self.0.fetch_add(1, Ordering::SeqCst);
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Ok(
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
                    aws_smithy_types::body::SdkBody::from(
                        "<GetAccountPasswordPolicyResponse><GetAccountPasswordPolicyResult><PasswordPolicy>\
                         <MinimumPasswordLength>14</MinimumPasswordLength></PasswordPolicy></GetAccountPasswordPolicyResult>\
                         </GetAccountPasswordPolicyResponse>",
                    ),
                ),
            ))
        }
    }

    /// While observing, the interceptor every client carries refuses a write before anything is
    /// sent: no input makes observe write, so only this test can show the guard works.
    #[tokio::test]
    async fn read_only_mode_refuses_a_write_before_sending_it() {
        use aws_smithy_runtime_api::client::http::{SharedHttpConnector, http_client_fn};
        let replay = Replay::default();
        let connector = SharedHttpConnector::new(replay.clone());
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "AKIATEST", "secret", None, None, "test",
                    ),
                ),
            )
            .http_client(http_client_fn(move |_, _| connector.clone()))
            .build();
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
        assert_eq!(replay.0.load(Ordering::SeqCst), 1);
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
        assert_eq!(replay.0.load(Ordering::SeqCst), 1, "the write was sent");
        assert_eq!(calls.writes(), 0);

        // Off again (apply): the same write is sent.
        calls.set_read_only(false);
        let _ = aws
            .iam
            .create_group()
            .group_name("Administrators")
            .send()
            .await;
        assert_eq!(replay.0.load(Ordering::SeqCst), 2);
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
}
