//! The regions a regional control acts in, one client per service and region, and reading every
//! region at once. The foundation of every control that is set per region (`ebs_encryption`,
//! `imds_defaults`, `access_analyzer`, `guardduty`): they share one `DescribeRegions` answer and
//! one client per service and region.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_config::Region;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use futures_util::future::join_all;

use aws_config::SdkConfig;

use super::caller::partition_of;
use super::calls::{CallLog, Recorder};
use super::errors::{SdkResultExt, error_code, sdk_error};

/// One region as `DescribeRegions` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRegion {
    pub name: String,
    /// `opt-in-not-required`, `opted-in` or `not-opted-in`; `None` when AWS left it out.
    pub opt_in: Option<String>,
}

impl ListedRegion {
    /// The account can use it (EC2 API reference, DescribeRegions: `OptInStatus`).
    pub fn usable(&self) -> bool {
        matches!(
            self.opt_in.as_deref(),
            Some("opt-in-not-required" | "opted-in")
        )
    }
}

/// A service client built once per run and region (`RegionCache::client_in`): EC2, GuardDuty and
/// IAM Access Analyzer are set per region.
pub trait RegionalClient: Clone + Send + Sync + 'static {
    fn build(sdk: &SdkConfig, region: &str, calls: &Arc<CallLog>) -> Self;
}

macro_rules! regional_client {
    ($($krate:ident),+) => {$(
        impl RegionalClient for $krate::Client {
            fn build(sdk: &SdkConfig, region: &str, calls: &Arc<CallLog>) -> Self {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(sdk)
                        .region(Region::new(region.to_string()))
                        .interceptor(Recorder(calls.clone()))
                        .build(),
                )
            }
        }
    )+};
}
regional_client!(
    aws_sdk_ec2,
    aws_sdk_guardduty,
    aws_sdk_accessanalyzer,
    aws_sdk_kms
);

/// Clients of any regional service, by (service client type, region).
type ClientMap = BTreeMap<(TypeId, String), Box<dyn Any + Send + Sync>>;

/// The regions of the caller's partition, read once per run and shared by every control.
#[derive(Default)]
pub(super) struct RegionCache {
    listed: tokio::sync::OnceCell<Result<Arc<Vec<ListedRegion>>, String>>,
    clients: Mutex<ClientMap>,
}

impl std::fmt::Debug for RegionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionCache")
            .field("listed", &self.listed)
            .finish_non_exhaustive()
    }
}

impl RegionCache {
    /// Every region of `partition` with its opt-in status: EC2 `DescribeRegions` with `AllRegions`
    /// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRegions.html), asked
    /// once per run in the SDK's region (home_region may be the one not enabled). Regions of other
    /// partitions are dropped (emulators list China and GovCloud regions too).
    pub async fn listed(
        &self,
        sdk: &SdkConfig,
        partition: &str,
        calls: &Arc<CallLog>,
    ) -> anyhow::Result<Arc<Vec<ListedRegion>>> {
        let answer = self
            .listed
            .get_or_init(|| async {
                let ec2 = aws_sdk_ec2::Client::from_conf(
                    aws_sdk_ec2::config::Builder::from(sdk)
                        .interceptor(Recorder(calls.clone()))
                        .build(),
                );
                let out = ec2
                    .describe_regions()
                    .all_regions(true)
                    .send()
                    .await
                    .describe("listing the account's regions (EC2 DescribeRegions)")
                    .map_err(|e| format!("{e:#}"))?;
                let mut listed: Vec<ListedRegion> = out
                    .regions()
                    .iter()
                    .filter_map(|r| {
                        let name = r.region_name()?.to_string();
                        (partition_of(&name) == partition).then(|| ListedRegion {
                            name,
                            opt_in: r.opt_in_status().map(str::to_string),
                        })
                    })
                    .collect();
                listed.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(Arc::new(listed))
            })
            .await;
        answer.clone().map_err(anyhow::Error::msg)
    }

    /// The `C` client for `region`: built once per run and region, on the run's one HTTP client
    /// (the SDK configuration's, `config::shared_https_client`).
    pub fn client_in<C: RegionalClient>(
        &self,
        sdk: &SdkConfig,
        calls: &Arc<CallLog>,
        region: &str,
    ) -> C {
        let mut clients = self.clients.lock().unwrap();
        clients
            .entry((TypeId::of::<C>(), region.to_string()))
            .or_insert_with(|| Box::new(C::build(sdk, region, calls)))
            .downcast_ref::<C>()
            .expect("a client is stored under its own type")
            .clone()
    }
}

/// The regions the plan's regional controls act in: every usable region (`wanted` is `None`,
/// `regions = "all"`), or the plan's list, each of which must be a usable region of the caller's
/// partition. A name that is not is an error before any write (the plan was checked offline
/// before any call, against the regions this build knows).
pub fn choose(
    listed: &[ListedRegion],
    wanted: Option<&[String]>,
    partition: &str,
    account: &str,
) -> anyhow::Result<Vec<String>> {
    let Some(names) = wanted else {
        return Ok(listed
            .iter()
            .filter(|r| r.usable())
            .map(|r| r.name.clone())
            .collect());
    };
    for name in names {
        check_listed(listed, name, partition, account)
            .map_err(|why| anyhow::anyhow!("regions: {name:?} {why}; nothing was changed"))?;
    }
    Ok(names.to_vec())
}

/// Why `name` cannot be used by the account, if it cannot.
pub fn check_listed(
    listed: &[ListedRegion],
    name: &str,
    partition: &str,
    account: &str,
) -> Result<(), String> {
    match listed.iter().find(|r| r.name == name) {
        None => Err(format!(
            "is not a region of partition {partition} (EC2 DescribeRegions does not list it)"
        )),
        Some(r) if !r.usable() => Err(format!(
            "is not enabled for account {account} (opt-in status {}): enable it in the console \
             (Account > AWS Regions) or leave it out",
            r.opt_in.as_deref().unwrap_or("unknown")
        )),
        Some(_) => Ok(()),
    }
}

/// What one region answered to a regional control's reads.
#[derive(Clone, Debug, PartialEq)]
pub enum InRegion<T> {
    Read(T),
    /// An Organization's policy denies the reads in this region (an SCP on `aws:RequestedRegion`,
    /// say; AWS's message names it): the region is skipped and said so; the others go on. Holds
    /// AWS's message.
    Denied(String),
    /// Refused for a missing permission (no Organization policy named): nothing was read, so an
    /// error for this region, never in line; the other regions are still judged. Holds the error.
    Refused(String),
}

/// A regional control's observation: each region's answer, in region order.
pub type PerRegion<T> = Vec<(String, InRegion<T>)>;

/// A read refused by a policy: EC2 answers `UnauthorizedOperation` (EC2 API reference, "Error codes
/// for the Amazon EC2 API"), other services `AccessDenied` / `AccessDeniedException`.
pub fn is_denied<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(
        error_code(e),
        Some("UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException")
    )
}

/// Does an access-denied message say an Organization's policy denied it? The policy types AWS names
/// (IAM user guide, "Access denied error messages"), case aside.
pub fn names_an_organization_policy(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("service control policy") || m.contains("resource control policy")
}

/// A read's failure in one region: denied by an Organization's policy, refused for a missing
/// permission, or any other error (which fails the whole read).
pub enum RegionError {
    Denied(String),
    Refused(anyhow::Error),
    Failed(anyhow::Error),
}

impl RegionError {
    /// Sort an SDK error: a denial by an Organization's policy, or a failure described as `what`.
    /// Only a denial whose message names a service or resource control policy skips the region
    /// (IAM user guide, "Access denied error messages": "... with an explicit deny in a service
    /// control policy"; EC2 says the same before its encoded message). Any other refusal (no
    /// identity-based policy allows the action, a permissions boundary, a session policy, or a
    /// message that says nothing) is the caller's missing permission: an error naming the region,
    /// never a quiet skip, since nothing was read there. EC2's encoded authorization message is not
    /// decoded: `sts:DecodeAuthorizationMessage` answers the matched statements and the context,
    /// not which kind of policy they belong to (STS API reference and the AWS CLI example).
    pub fn of<E, R>(e: SdkError<E, R>, what: impl std::fmt::Display) -> RegionError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if !is_denied(&e) {
            return RegionError::Failed(sdk_error(what, e));
        }
        let message = match &e {
            SdkError::ServiceError(se) => se.err().message().unwrap_or_default().to_string(),
            _ => String::new(),
        };
        if names_an_organization_policy(&message) {
            return RegionError::Denied(message);
        }
        let code = error_code(&e).unwrap_or("AccessDenied").to_string();
        RegionError::Refused(anyhow::anyhow!(
            "{what}: access denied ({code}: {message}). No Organization policy is named, so the \
             caller lacks this permission: grant it (`aws-harden policy` lists what aws-harden \
             needs), or, if the region is closed to this account on purpose, leave it out with \
             exclude_regions in the plan"
        ))
    }
}

/// Run `read` in every region at once, each with that region's client. A region whose reads a
/// policy denies is skipped (`InRegion::Denied`). When every region is denied, the denial is not
/// about regions at all (the caller lacks the permission): an error, never a quiet skip.
pub async fn read_each_region<C: Clone, T, F, Fut>(
    clients: Vec<(String, C)>,
    what: &str,
    read: F,
) -> anyhow::Result<PerRegion<T>>
where
    F: Fn(C, String) -> Fut,
    Fut: Future<Output = Result<T, RegionError>>,
{
    let answers = join_all(
        clients
            .iter()
            .map(|(region, client)| read(client.clone(), region.clone())),
    )
    .await;
    let mut out = Vec::with_capacity(clients.len());
    for ((region, _), answer) in clients.into_iter().zip(answers) {
        match answer {
            Ok(v) => out.push((region, InRegion::Read(v))),
            Err(RegionError::Denied(m)) => out.push((region, InRegion::Denied(m))),
            Err(RegionError::Refused(e)) => out.push((region, InRegion::Refused(format!("{e:#}")))),
            Err(RegionError::Failed(e)) => return Err(e),
        }
    }
    if let Some((region, InRegion::Denied(m))) = out.first()
        && out.iter().all(|(_, a)| matches!(a, InRegion::Denied(_)))
    {
        anyhow::bail!(
            "{what}: access denied in every region (in {region}: {m}); the caller lacks the \
             permission, which no region policy explains. The permissions aws-harden needs: \
             `aws-harden policy`"
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str, opt_in: &str) -> ListedRegion {
        ListedRegion {
            name: name.into(),
            opt_in: Some(opt_in.into()),
        }
    }

    #[test]
    fn a_region_must_be_listed_and_enabled() {
        let all = [
            listed("us-east-1", "opt-in-not-required"),
            listed("af-south-1", "not-opted-in"),
            listed("ap-east-1", "opted-in"),
            ListedRegion {
                name: "eu-west-9".into(),
                opt_in: None,
            },
        ];
        let check = |n| check_listed(&all, n, "aws", "123456789012");
        assert!(check("us-east-1").is_ok());
        assert!(check("ap-east-1").is_ok());
        assert!(check("af-south-1").unwrap_err().contains("not-opted-in"));
        assert!(check("us-west-9").unwrap_err().contains("not a region"));
        // Unknown is never usable.
        assert!(check("eu-west-9").unwrap_err().contains("unknown"));
    }

    /// Only a message that names an Organization policy type skips a region (IAM user guide,
    /// "Access denied error messages"); the identity-based wording, a boundary or silence do not.
    #[test]
    fn only_an_organization_policy_closes_a_region() {
        for closed in [
            "User: arn:aws:sts::999888777666:assumed-role/ReadOnly/Tom is not authorized to perform: \
             ec2:RunInstances on resource: arn:aws:ec2:us-east-1:999888777666:instance/* with an \
             explicit deny in a service control policy. Encoded authorization failure message: XQ_j",
            "... with an explicit deny in a resource control policy",
            "... with an explicit deny in a Service Control Policy",
        ] {
            assert!(names_an_organization_policy(closed), "{closed}");
        }
        for open in [
            "User: arn:aws:iam::777788889999:user/MaryMajor is not authorized to perform: \
             codecommit:ListRepositories because no identity-based policy allows the \
             codecommit:ListRepositories action",
            "... with an explicit deny in a permissions boundary",
            "You are not authorized to perform this operation.",
            "",
        ] {
            assert!(!names_an_organization_policy(open), "{open}");
        }
    }
}
