//! A role session in a member account: `sts:AssumeRole` into `--role-name` with the management
//! account's credentials, refreshed before it expires, shared by every client of that account.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future,
};

use crate::aws::{Aws, CallLog, Caller, error_chain, error_code, session_credentials};

/// Refresh a session this long before it expires: no call starts on credentials about to lapse.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// The role's ARN in `account`.
pub fn role_arn(partition: &str, account: &str, role_name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{role_name}")
}

/// The session name CloudTrail shows in the member account: aws-harden and who ran it (the
/// caller's name), within STS's 2-64 characters of `[\w+=,.@-]` (AssumeRole, STS API reference).
/// `SourceIdentity` is not set: it needs `sts:SetSourceIdentity` in the role's trust policy, which
/// OrganizationAccountAccessRole and AWSControlTowerExecution do not grant.
pub fn session_name(caller: &Caller) -> String {
    let who = caller.arn.rsplit(['/', ':']).next().unwrap_or("caller");
    let clean: String = who
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) => c,
            _ => '-',
        })
        .collect();
    let mut name = format!("aws-harden@{clean}");
    name.truncate(64);
    name
}

/// Credentials for one member account: the role session, assumed again before it expires. Every
/// client of the account shares it, so the account costs one AssumeRole per hour, not one per
/// client.
#[derive(Debug)]
struct RoleSession {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    external_id: Option<String>,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

impl RoleSession {
    async fn assume(&self) -> Result<(Credentials, Option<String>), anyhow::Error> {
        // AssumeRole (STS API reference): no DurationSeconds, so the default of one hour, which
        // is also the most a role-chained session may last.
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(|e| {
                let code = error_code(&e).unwrap_or_default().to_string();
                anyhow::anyhow!("{code}: {}", error_chain(&e))
            })?;
        let creds = session_credentials(out.credentials, "AssumeRole", "aws-harden --org")?;
        Ok((creds, out.assumed_role_user.map(|u| u.arn)))
    }

    async fn current(&self) -> Result<Credentials, CredentialsError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref()
            && c.expiry()
                .is_none_or(|e| e > SystemTime::now() + REFRESH_BEFORE)
        {
            return Ok(c.clone());
        }
        let (fresh, _) = self
            .assume()
            .await
            .map_err(|e| CredentialsError::provider_error(e.to_string()))?;
        *current = Some(fresh.clone());
        Ok(fresh)
    }
}

impl ProvideCredentials for RoleSession {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.current())
    }
}

/// Assume `role_name` in `account` and return the member's AWS context, with a call log of its
/// own. A denial or a missing role is an error for this account alone, naming the role, the
/// account and what to check.
pub async fn member(
    management: &Aws,
    account: &str,
    role_name: &str,
    external_id: Option<&str>,
    management_account: &str,
) -> anyhow::Result<Aws> {
    let arn = role_arn(&management.caller.partition, account, role_name);
    let mut session = RoleSession {
        sts: management.sts.clone(),
        role_arn: arn.clone(),
        session_name: session_name(&management.caller),
        external_id: external_id.map(str::to_string),
        current: tokio::sync::Mutex::new(None),
    };
    let (creds, assumed_arn) = session.assume().await.map_err(|e| {
        let delegated = if management.account_id() != management_account {
            format!(
                " This run is from account {}, not the management account {management_account}: \
                 {role_name} usually trusts only the management account, so a delegated \
                 administrator needs a role of its own in each member (--role-name).",
                management.account_id()
            )
        } else {
            String::new()
        };
        anyhow::anyhow!(
            "could not assume {arn} (sts:AssumeRole): {e}. Check that the role exists in account \
             {account}, that its trust policy allows {}{}, and that your policy allows \
             sts:AssumeRole on it.{delegated}",
            management.caller.arn,
            external_id
                .map(|_| " with this --external-id")
                .unwrap_or_default()
        )
    })?;
    let access_key = creds.access_key_id().to_string();
    *session.current.get_mut() = Some(creds);
    let mut caller = Caller::from_arn(
        account,
        assumed_arn.as_deref().unwrap_or(&arn),
        Some(access_key),
        true,
    );
    caller.credential_source = format!("role {role_name}, assumed by {}", management.caller.arn);
    let sdk = management
        .sdk
        .clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(session))
        .build();
    Ok(Aws::for_caller(sdk, caller, Arc::new(CallLog::default())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::replay::Replay;

    /// STS answering every AssumeRole with a session that lasts until 2099, counting the calls.
    fn sts() -> Replay {
        Replay::new(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <AssumeRoleResult><Credentials><AccessKeyId>ASIAFRESH</AccessKeyId>\
             <SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>\
             <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
             <AssumedRoleUser><Arn>arn:aws:sts::111111111111:assumed-role/R/s</Arn>\
             <AssumedRoleId>AROAX:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>",
        )
    }

    fn session(sts: &Replay, expiring_in: Duration) -> RoleSession {
        let sdk = sts.sdk("AKIAMGMT");
        RoleSession {
            sts: aws_sdk_sts::Client::new(&sdk),
            role_arn: "arn:aws:iam::111111111111:role/R".into(),
            session_name: "aws-harden@test".into(),
            external_id: None,
            current: tokio::sync::Mutex::new(Some(Credentials::new(
                "ASIAOLD",
                "s",
                Some("t".into()),
                Some(SystemTime::now() + expiring_in),
                "test",
            ))),
        }
    }

    #[tokio::test]
    async fn a_session_is_assumed_again_only_when_it_is_about_to_expire() {
        let sts = sts();
        let fresh = session(&sts, Duration::from_secs(3600));
        assert_eq!(fresh.current().await.unwrap().access_key_id(), "ASIAOLD");
        assert_eq!(sts.sent(), 0, "an hour left: kept");

        let lapsing = session(&sts, Duration::from_secs(60));
        assert_eq!(
            lapsing.current().await.unwrap().access_key_id(),
            "ASIAFRESH"
        );
        assert_eq!(sts.sent(), 1, "a minute left: assumed again");
        assert_eq!(
            lapsing.current().await.unwrap().access_key_id(),
            "ASIAFRESH"
        );
        assert_eq!(sts.sent(), 1, "and then kept");
    }

    #[test]
    fn the_session_name_names_aws_harden_and_the_caller_within_stss_rules() {
        let caller = Caller::from_arn(
            "1",
            "arn:aws:sts::123456789012:assumed-role/Admin/jane.doe@example.com",
            None,
            true,
        );
        assert_eq!(session_name(&caller), "aws-harden@jane.doe@example.com");
        let long = Caller::from_arn(
            "1",
            &format!("arn:aws:iam::123456789012:user/{}", "x".repeat(80)),
            None,
            false,
        );
        assert_eq!(session_name(&long).len(), 64);
        let odd = Caller::from_arn("1", "arn:aws:iam::123456789012:user/a b", None, false);
        assert_eq!(session_name(&odd), "aws-harden@a-b");
    }
}
