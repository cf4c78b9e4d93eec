//! AWS's centralized root access for member accounts, emulated in proxy hooks: moto serves none of
//! it (no `sts:AssumeRoot`, no `iam:ListOrganizationsFeatures` or its enable calls, and its
//! `EnableAWSServiceAccess` refuses `iam.amazonaws.com` as an unknown service principal), and moto
//! cannot be root. Only these operations are answered here; everything else goes to moto.
//!
//! Shapes and errors, from the API references (botocore's models of them, in `.venv`):
//! - Organizations `EnableAWSServiceAccess` (JSON 1.1, no output) for `iam.amazonaws.com`: turns on
//!   IAM's trusted access.
//! - IAM `ListOrganizationsFeatures`, `EnableOrganizationsRootCredentialsManagement`,
//!   `EnableOrganizationsRootSessions` (query protocol, no input; result `OrganizationId`,
//!   `EnabledFeatures`). `ServiceAccessNotEnabledException` until trusted access is on; the enable
//!   calls answer `CallerIsNotManagementAccountException` to any other account.
//! - STS `AssumeRoot` (`TargetPrincipal`, `TaskPolicyArn.arn`, `DurationSeconds` at most 900; result
//!   `AssumeRootResult` with `Credentials`). Without the `RootSessions` feature it is denied
//!   (AccessDenied, 403), as is any task policy outside `root-task/`.
//! - Inside a root session, signed with its key (IAM API reference: "When you make this request with
//!   root user credentials, you must use an AssumeRoot session to omit the user name"):
//!   `GetLoginProfile` (`NoSuchEntity`, 404, when root has no password), `ListAccessKeys`,
//!   `ListSigningCertificates`, `ListMFADevices`, and `DeleteLoginProfile`, `DeleteAccessKey`,
//!   `DeleteSigningCertificate`, `DeactivateMFADevice`. The session may do what its task policy
//!   allows: `IAMAuditRootUserCredentials` only the reads, `IAMDeleteRootUserCredentials` the reads
//!   and the deletions (IAM user guide, "AWS managed policies for privileged tasks"). Anything else
//!   is AccessDenied ("no session policy allows").

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::proxy::{Proxy, Request, Response, query_error};

/// One member's root user: what it still has.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RootUser {
    pub password: bool,
    pub access_keys: Vec<String>,
    pub certificates: Vec<String>,
    pub mfa_devices: Vec<String>,
    /// Virtual MFA devices deactivated but not deleted: IAM keeps them, unassigned, until
    /// `DeleteVirtualMFADevice` (IAM API reference, DeactivateMFADevice and DeleteVirtualMFADevice).
    pub unassigned_virtual_mfa: Vec<String>,
}

/// One `AssumeRoot` as it arrived: the member, the task, the region it was signed for, the
/// duration asked.
#[derive(Clone, Debug, PartialEq)]
pub struct AssumedRoot {
    pub member: String,
    pub task: String,
    pub region: String,
    pub duration: Option<String>,
}

#[derive(Default)]
struct State {
    trusted_access: bool,
    features: BTreeSet<String>,
    roots: BTreeMap<String, RootUser>,
    /// Root session access key -> (member, task).
    sessions: BTreeMap<String, (String, String)>,
    assumed: Vec<AssumedRoot>,
    /// AssumeRoot calls still denied after `RootSessions` is turned on (IAM user guide, "Changes
    /// that I make are not always immediately visible": IAM is eventually consistent).
    denied_after_enabling: usize,
    /// Answer the caller as an account that is neither the management account nor IAM's
    /// delegated administrator.
    caller_is_member: bool,
    /// The write order of everything answered here: "EnableAWSServiceAccess", "AssumeRoot", ...
    order: Vec<String>,
}

#[derive(Clone)]
pub struct CentralRoot {
    state: Arc<Mutex<State>>,
    /// The management account (the test's own account, whose keys moto made outside the proxy).
    management: String,
    organization_id: String,
}

const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const FEATURES: [&str; 2] = ["RootCredentialsManagement", "RootSessions"];
const READS: [&str; 4] = [
    "GetLoginProfile",
    "ListAccessKeys",
    "ListSigningCertificates",
    "ListMFADevices",
];
/// What the delete task allows besides the reads (IAM user guide, "Perform a privileged task on an
/// AWS Organizations member account": IAMDeleteRootUserCredentials).
const DELETES: [&str; 5] = [
    "DeleteLoginProfile",
    "DeleteAccessKey",
    "DeleteSigningCertificate",
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
];

fn xml(operation: &str, result: &str) -> Response {
    let result = if result.is_empty() {
        String::new()
    } else {
        format!("<{operation}Result>{result}</{operation}Result>")
    };
    Response {
        status: 200,
        content_type: "text/xml".into(),
        body: format!(
            "<{operation}Response xmlns=\"{IAM_NS}\">{result}<ResponseMetadata><RequestId>central-root</RequestId>\
             </ResponseMetadata></{operation}Response>"
        ),
    }
}

fn members(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("<member>{i}</member>"))
        .collect()
}

impl CentralRoot {
    /// Answer on `proxy` for the Organization `organization_id` managed by `management`, with
    /// trusted access and both features `on` or off.
    pub fn install(
        proxy: &Proxy,
        management: &str,
        organization_id: &str,
        on: bool,
    ) -> CentralRoot {
        let stub = CentralRoot {
            state: Arc::default(),
            management: management.to_string(),
            organization_id: organization_id.to_string(),
        };
        if on {
            let mut s = stub.state.lock().unwrap();
            s.trusted_access = true;
            s.features = FEATURES.iter().map(|f| f.to_string()).collect();
        }
        let s = stub.clone();
        proxy.hook(Box::new(move |req| s.answer(req)));
        stub
    }

    /// Give `member`'s root user these credentials.
    pub fn set_root(&self, member: &str, root: RootUser) {
        self.state
            .lock()
            .unwrap()
            .roots
            .insert(member.to_string(), root);
    }

    pub fn root(&self, member: &str) -> RootUser {
        self.state
            .lock()
            .unwrap()
            .roots
            .get(member)
            .cloned()
            .unwrap_or_default()
    }

    /// From now on the caller is neither the management account nor IAM's delegated
    /// administrator (as a member account running `--org` would be).
    pub fn treat_caller_as_member(&self) {
        self.state.lock().unwrap().caller_is_member = true;
    }

    /// The next `n` AssumeRoot calls after `RootSessions` is turned on are denied, as while the
    /// change has not reached every IAM endpoint yet.
    pub fn lag_after_enabling(&self, n: usize) {
        self.state.lock().unwrap().denied_after_enabling = n;
    }

    pub fn features(&self) -> (bool, BTreeSet<String>) {
        let s = self.state.lock().unwrap();
        (s.trusted_access, s.features.clone())
    }

    pub fn assumed(&self) -> Vec<AssumedRoot> {
        self.state.lock().unwrap().assumed.clone()
    }

    /// The operations answered here that change something, and each AssumeRoot, in arrival order.
    pub fn order(&self) -> Vec<String> {
        self.state.lock().unwrap().order.clone()
    }

    fn answer(&self, req: &Request) -> Option<Response> {
        let session = self
            .state
            .lock()
            .unwrap()
            .sessions
            .get(&req.access_key)
            .cloned();
        if let Some((member, task)) = session {
            return Some(self.as_root(req, &member, &task));
        }
        match (req.service.as_str(), req.operation.as_str()) {
            ("organizations", "EnableAWSServiceAccess")
                if req.body_text().contains("\"iam.amazonaws.com\"") =>
            {
                let mut s = self.state.lock().unwrap();
                s.trusted_access = true;
                s.order.push(req.operation.clone());
                Some(Response {
                    status: 200,
                    content_type: "application/x-amz-json-1.1".into(),
                    body: "{}".into(),
                })
            }
            ("iam", "ListOrganizationsFeatures") => Some(self.features_answer(req, None)),
            ("iam", "EnableOrganizationsRootCredentialsManagement") => {
                Some(self.features_answer(req, Some("RootCredentialsManagement")))
            }
            ("iam", "EnableOrganizationsRootSessions") => {
                Some(self.features_answer(req, Some("RootSessions")))
            }
            ("sts", "AssumeRoot") => Some(self.assume_root(req)),
            _ => None,
        }
    }

    fn features_answer(&self, req: &Request, enable: Option<&str>) -> Response {
        let mut s = self.state.lock().unwrap();
        let caller = match &req.account {
            _ if s.caller_is_member => "member".to_string(),
            Some(account) => account.clone(),
            None => self.management.clone(),
        };
        if !s.trusted_access {
            return query_error(
                400,
                "ServiceAccessNotEnabledException",
                "Trusted access is not enabled for IAM in AWS Organizations.",
            );
        }
        if let Some(feature) = enable {
            if caller != self.management {
                return query_error(
                    400,
                    "CallerIsNotManagementAccountException",
                    "The request was rejected because the account making the request is not the management account for the organization.",
                );
            }
            s.features.insert(feature.to_string());
            s.order.push(req.operation.clone());
        } else if caller != self.management {
            return query_error(
                400,
                "AccountNotManagementOrDelegatedAdministratorException",
                "The request was rejected because the account making the request is not the management account or delegated administrator account for centralized root access.",
            );
        }
        let on: Vec<String> = s.features.iter().cloned().collect();
        xml(
            &req.operation,
            &format!(
                "<OrganizationId>{}</OrganizationId><EnabledFeatures>{}</EnabledFeatures>",
                self.organization_id,
                members(&on)
            ),
        )
    }

    fn assume_root(&self, req: &Request) -> Response {
        let mut s = self.state.lock().unwrap();
        let target = req.param("TargetPrincipal").unwrap_or_default();
        let task_arn = req.param("TaskPolicyArn.arn").unwrap_or_default();
        let duration = req.param("DurationSeconds");
        s.order.push(format!("AssumeRoot {target}"));
        s.assumed.push(AssumedRoot {
            member: target.clone(),
            task: task_arn.rsplit('/').next().unwrap_or_default().to_string(),
            region: req.region.clone(),
            duration: duration.clone(),
        });
        if duration
            .as_deref()
            .and_then(|d| d.parse::<u32>().ok())
            .is_some_and(|d| d > 900)
        {
            return query_error(
                400,
                "ValidationError",
                "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 900",
            );
        }
        let Some(task) = task_arn.strip_prefix("arn:aws:iam::aws:policy/root-task/") else {
            return query_error(
                400,
                "ValidationError",
                "TaskPolicyArn is not a root task policy.",
            );
        };
        let lagging = s
            .order
            .iter()
            .any(|o| o == "EnableOrganizationsRootSessions")
            && s.denied_after_enabling > 0;
        if lagging {
            s.denied_after_enabling -= 1;
        }
        if lagging || !s.features.contains("RootSessions") || req.account.is_some() {
            return query_error(
                403,
                "AccessDenied",
                "Centralized root access (RootSessions) is not enabled for this organization.",
            );
        }
        let key = format!("ASIAROOT{:08}", s.sessions.len());
        s.sessions.insert(key.clone(), (target, task.to_string()));
        Response {
            status: 200,
            content_type: "text/xml".into(),
            body: format!(
                "<AssumeRootResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRootResult>\
                 <Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>root-secret</SecretAccessKey>\
                 <SessionToken>root-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
                 <SourceIdentity>aws-harden</SourceIdentity></AssumeRootResult>\
                 <ResponseMetadata><RequestId>central-root</RequestId></ResponseMetadata></AssumeRootResponse>"
            ),
        }
    }

    /// The member whose root session signs with `access_key`, if it is one of this stub's.
    pub fn member_of_key(&self, access_key: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .sessions
            .get(access_key)
            .map(|(member, _)| member.clone())
    }

    /// A request signed with a root session's key.
    fn as_root(&self, req: &Request, member: &str, task: &str) -> Response {
        let op = req.operation.as_str();
        let allowed = READS.contains(&op)
            || (task == "IAMDeleteRootUserCredentials" && DELETES.contains(&op));
        if req.service != "iam" || !allowed || req.param("UserName").is_some() {
            return query_error(
                403,
                "AccessDenied",
                &format!(
                    "User: arn:aws:iam::{member}:root is not authorized to perform: {}:{op} because no session \
                     policy allows the {}:{op} action",
                    req.service, req.service
                ),
            );
        }
        let mut s = self.state.lock().unwrap();
        if DELETES.contains(&op) {
            s.order.push(format!("{op} {member}"));
        }
        let root = s.roots.entry(member.to_string()).or_default();
        let date = "2024-01-02T10:00:00Z";
        let gone =
            |what: &str| query_error(404, "NoSuchEntity", &format!("{what} cannot be found."));
        let remove = |list: &mut Vec<String>, id: Option<String>, what: &str| match id {
            Some(id) if list.contains(&id) => {
                list.retain(|x| *x != id);
                xml(op, "")
            }
            id => gone(&format!("{what} {}", id.unwrap_or_default())),
        };
        match op {
            "GetLoginProfile" if root.password => xml(
                op,
                &format!(
                    "<LoginProfile><UserName>{member}</UserName><CreateDate>{date}</CreateDate></LoginProfile>"
                ),
            ),
            "GetLoginProfile" => gone("Login Profile for User root"),
            "ListAccessKeys" => xml(
                op,
                &format!(
                    "<AccessKeyMetadata>{}</AccessKeyMetadata><IsTruncated>false</IsTruncated>",
                    root.access_keys
                        .iter()
                        .map(|k| format!(
                            "<member><AccessKeyId>{k}</AccessKeyId><Status>Active</Status><CreateDate>{date}</CreateDate></member>"
                        ))
                        .collect::<String>()
                ),
            ),
            "ListSigningCertificates" => xml(
                op,
                &format!(
                    "<Certificates>{}</Certificates><IsTruncated>false</IsTruncated>",
                    root.certificates
                        .iter()
                        .map(|c| format!(
                            "<member><UserName>{member}</UserName><CertificateId>{c}</CertificateId>\
                             <CertificateBody>-----BEGIN CERTIFICATE-----</CertificateBody><Status>Active</Status>\
                             <UploadDate>{date}</UploadDate></member>"
                        ))
                        .collect::<String>()
                ),
            ),
            "ListMFADevices" => xml(
                op,
                &format!(
                    "<MFADevices>{}</MFADevices><IsTruncated>false</IsTruncated>",
                    root.mfa_devices
                        .iter()
                        .map(|d| format!(
                            "<member><UserName>{member}</UserName><SerialNumber>{d}</SerialNumber>\
                             <EnableDate>{date}</EnableDate></member>"
                        ))
                        .collect::<String>()
                ),
            ),
            "DeleteLoginProfile" if root.password => {
                root.password = false;
                xml(op, "")
            }
            "DeleteLoginProfile" => gone("Login Profile for User root"),
            "DeleteAccessKey" => remove(&mut root.access_keys, req.param("AccessKeyId"), "The Access Key with id"),
            "DeleteSigningCertificate" => remove(
                &mut root.certificates,
                req.param("CertificateId"),
                "The Certificate with id",
            ),
            "DeactivateMFADevice" => {
                let serial = req.param("SerialNumber").unwrap_or_default();
                let answer = remove(&mut root.mfa_devices, Some(serial.clone()), "MFA Device with serial number");
                // A virtual device stays, unassigned, until deleted.
                if answer.status == 200 && serial.contains(":mfa/") {
                    root.unassigned_virtual_mfa.push(serial);
                }
                answer
            }
            "DeleteVirtualMFADevice" => {
                let serial = req.param("SerialNumber").unwrap_or_default();
                if root.mfa_devices.contains(&serial) {
                    // IAM API reference, DeleteVirtualMFADevice: DeleteConflict (409) while in use.
                    query_error(409, "DeleteConflict", "MFA Device is still in use.")
                } else {
                    remove(&mut root.unassigned_virtual_mfa, Some(serial), "VirtualMFADevice with serial number")
                }
            }
            _ => query_error(500, "ServiceFailure", "not emulated"),
        }
    }
}
