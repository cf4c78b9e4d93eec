//! Who is calling, and the partition a region belongs to.

use serde::Serialize;

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
