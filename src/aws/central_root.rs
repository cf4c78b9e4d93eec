//! Centralized root access for member accounts (IAM user guide, "Centrally manage root access for
//! member accounts"): from the management account (or IAM's delegated administrator),
//! `sts:AssumeRoot` gives a short session as a member's root user, limited to one task policy.
//!
//! A run under `--org` with `root.centralized` gives each context one `CentralRoot`: the
//! management account's own (which reads and turns on the Organization's features), or a
//! member's (which reads and deletes that member's root credentials through AssumeRoot).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use super::calls::Recorder;
use super::{Aws, CallLog, error_chain, error_code, session_credentials, when_visible};

/// The task policy for `--plan`'s reads: GetLoginProfile, ListAccessKeys, ListSigningCertificates
/// and ListMFADevices of the root user (IAM user guide, "Perform a privileged task on a member
/// account": `IAMAuditRootUserCredentials`).
pub const AUDIT_TASK: &str = "IAMAuditRootUserCredentials";
/// The task policy that deletes them: the login profile, access keys, signing certificates, and
/// deactivating MFA devices (`IAMDeleteRootUserCredentials`).
pub const DELETE_TASK: &str = "IAMDeleteRootUserCredentials";
/// AssumeRoot's longest session (STS API reference, AssumeRoot, `DurationSeconds`: at most 900).
pub const SESSION_SECONDS: i32 = 900;
/// A delete session is used again only while this much of it is left; otherwise a new one.
const REUSE_WHILE_LEFT: Duration = Duration::from_secs(120);

/// The task policy's ARN in the caller's partition (`arn:aws:iam::aws:policy/root-task/TASK`).
pub fn task_policy_arn(partition: &str, task: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/root-task/{task}")
}

/// How a member's root credentials can be reached in this run, decided once from the management
/// account's features before any member is observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The Organization has both features: read exactly through an audit session.
    Ready,
    /// This run turns the features on first (the management account's changes): nothing can be
    /// read before that, so each credential is found and deleted when applying.
    AfterPrerequisites,
    /// Not from this caller: why, and where to run from instead.
    Unavailable(String),
}

/// One context's part in centralized root access.
#[derive(Debug)]
pub enum CentralRoot {
    /// The account that runs `--org`: it reads the Organization's features and turns them on.
    Management {
        /// The Organization's management account (the features can be enabled only there).
        management_id: String,
    },
    Member(Box<MemberRoot>),
}

/// A member's root user, reached through the management account.
#[derive(Debug)]
pub struct MemberRoot {
    /// Signs AssumeRoot (the management account, or the delegated administrator).
    management: Aws,
    pub account: String,
    /// Fixed for the run: whether the changes shown are each credential, or "every one".
    pub reach: Reach,
    /// Whether the features are on now (opened once the management account's changes are made).
    gate: FeaturesGate,
    /// The one delete session of this member, used at once and again only while it lasts.
    delete_session: tokio::sync::Mutex<Option<(aws_sdk_iam::Client, Option<SystemTime>)>>,
}

/// Whether the features are on, shared by the management account's context and every member's.
#[derive(Clone, Debug)]
pub struct FeaturesGate(Arc<AtomicBool>);

impl FeaturesGate {
    pub fn new(on: bool) -> Self {
        FeaturesGate(Arc::new(AtomicBool::new(on)))
    }
    pub fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn is_open(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl MemberRoot {
    pub fn new(management: &Aws, account: &str, reach: Reach, gate: &FeaturesGate) -> Self {
        MemberRoot {
            management: management.clone(),
            account: account.to_string(),
            reach,
            gate: gate.clone(),
            delete_session: tokio::sync::Mutex::new(None),
        }
    }

    /// The features are on now (so AssumeRoot can work).
    pub fn features_on(&self) -> bool {
        self.gate.is_open()
    }

    /// An IAM client signed as this member's root user, limited to `task`. `member` is the
    /// member's context: the calls are recorded in its log (so `--plan`'s read-only guard and
    /// the counts cover them).
    pub async fn iam_as_root(
        &self,
        member: &Aws,
        task: &str,
    ) -> anyhow::Result<aws_sdk_iam::Client> {
        let (iam, _) = self.assume(member, task).await?;
        Ok(iam)
    }

    /// The member's delete session: one per member, assumed when first needed and used again only
    /// while at least two minutes of its 15 are left.
    pub async fn delete_session(&self, member: &Aws) -> anyhow::Result<aws_sdk_iam::Client> {
        let mut current = self.delete_session.lock().await;
        if let Some((iam, expiry)) = current.as_ref()
            && expiry.is_some_and(|e| e > SystemTime::now() + REUSE_WHILE_LEFT)
        {
            return Ok(iam.clone());
        }
        let fresh = self.assume(member, DELETE_TASK).await?;
        *current = Some(fresh.clone());
        Ok(fresh.0)
    }

    /// `sts:AssumeRoot` (STS API reference, AssumeRoot): the member as `TargetPrincipal`, the task
    /// policy's ARN, 900 s. "The STS global endpoint is not supported for AssumeRoot": the client is
    /// built for the plan's home region, so the SDK sends it to `sts.REGION.amazonaws.com`.
    async fn assume(
        &self,
        member: &Aws,
        task: &str,
    ) -> anyhow::Result<(aws_sdk_iam::Client, Option<SystemTime>)> {
        let sts = regional_sts(
            &self.management.sdk,
            &member.home_region,
            member.calls.clone(),
        );
        let policy = aws_sdk_sts::types::PolicyDescriptorType::builder()
            .arn(task_policy_arn(&self.management.caller.partition, task))
            .build();
        let send = || {
            sts.assume_root()
                .target_principal(&self.account)
                .task_policy_arn(policy.clone())
                .duration_seconds(SESSION_SECONDS)
                .send()
        };
        // Features this run has just turned on may not show everywhere at once (IAM user guide,
        // "Changes that I make are not always immediately visible"): then a denial is waited out
        // for a few seconds. Otherwise a denial is an answer.
        let retried: &[&str] = match self.reach {
            Reach::AfterPrerequisites => &["AccessDenied"],
            _ => &[],
        };
        let out = when_visible(retried, "AssumeRoot", send)
            .await
            .map_err(|e| {
                let code = error_code(&e).unwrap_or_default().to_string();
                anyhow::anyhow!(
                    "could not act as the root user of account {} (sts:AssumeRoot, task {task}, \
                     signed by {}): {code}: {}. The caller needs sts:AssumeRoot granted explicitly, \
                     and the Organization both centralized root access features",
                    self.account,
                    self.management.caller.arn,
                    error_chain(&e)
                )
            })?;
        let creds = session_credentials(out.credentials, "AssumeRoot", "aws-harden AssumeRoot")?;
        let expiry = creds.expiry();
        let sdk = member
            .sdk
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(creds))
            .build();
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&sdk)
                .interceptor(Recorder(member.calls.clone()))
                .build(),
        );
        Ok((iam, expiry))
    }
}

/// An STS client signing with `sdk`'s credentials in `region`, recording into `calls`. A
/// regional client: the SDK's endpoint rules give `https://sts.REGION.amazonaws.com` (the global
/// endpoint only for the pseudo-region `aws-global`, which a plan's home region never is).
fn regional_sts(sdk: &SdkConfig, region: &str, calls: Arc<CallLog>) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(sdk)
            .region(Region::new(region.to_string()))
            .interceptor(Recorder(calls))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::replay::Replay;

    /// The client AssumeRoot is sent with, built for the plan's home region, sends it to that
    /// region's STS endpoint (the SDK's endpoint rules, no override), never sts.amazonaws.com.
    #[tokio::test]
    async fn assume_root_goes_to_the_regional_sts_endpoint() {
        let replay = Replay::new(
            "<AssumeRootResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <AssumeRootResult><Credentials><AccessKeyId>ASIAROOT</AccessKeyId>\
             <SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>\
             <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRootResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRootResponse>",
        );
        for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
            let sts = regional_sts(&replay.sdk("AKIAMGMT"), region, Arc::default());
            let out = sts
                .assume_root()
                .target_principal("111111111111")
                .task_policy_arn(
                    aws_sdk_sts::types::PolicyDescriptorType::builder()
                        .arn(task_policy_arn("aws", AUDIT_TASK))
                        .build(),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(out.credentials.unwrap().access_key_id, "ASIAROOT");
            let uri = replay.uris().pop().unwrap();
            assert_eq!(uri, format!("https://sts.{region}.amazonaws.com/"));
        }
        assert_eq!(
            task_policy_arn("aws", DELETE_TASK),
            "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
        );
    }
}
