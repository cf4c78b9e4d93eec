//! The SDK configuration, loaded the way the AWS CLI does: profiles, retries, timeouts, and where
//! the credentials came from.

use std::time::Duration;

use anyhow::anyhow;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::errors::error_chain;

/// What the command line says about where and as whom to connect.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
}

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

/// One HTTPS client for every SDK client of the run, so the per-region clients share one
/// connection pool instead of each building its own (without one in the config, every client
/// builds the SDK's default). The same client the SDK builds by default
/// (aws-smithy-runtime `default_https_client`: hyper 1.x, rustls with aws-lc, the proxy
/// settings from the environment), and the connector per timeout setting is cached by it.
fn shared_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// Load the SDK configuration the way the AWS CLI does (env, profiles, SSO, ...). With
/// `--profile NAME` the credentials come only from that profile, as in the CLI (the SDK's default
/// chain would read environment keys first); `AWS_PROFILE` alone keeps the SDK's (and CLI's) order.
pub async fn load_config(opts: &ConnectOptions) -> anyhow::Result<SdkConfig> {
    if let Some(p) = &opts.profile {
        check_profile(p).await?;
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(shared_https_client())
        .timeout_config(
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
pub(super) fn credential_source(
    creds: &aws_credential_types::Credentials,
    profile: Option<&str>,
) -> String {
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
