//! Which accounts an `--org` run covers: the Organization's ACTIVE member accounts (or those under
//! one OU), narrowed by `--accounts`, `--exclude`, `--include-management` and `--shard`. Listing
//! talks to Organizations; choosing is pure.

use sha2::{Digest, Sha256};

use crate::aws::{Aws, SdkResultExt, error_code};

/// One account of the Organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAccount {
    pub id: String,
    pub name: String,
}

/// `--shard K/N`: the accounts whose hash of the account ID, mod N, is K-1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// K, 1-based.
    pub index: u32,
    /// N.
    pub count: u32,
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?} is not K/N with 1 <= K <= N (e.g. 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The account is in this shard. The hash is SHA-256 of the account ID (its first 8 bytes, big
    /// endian): the same on every machine and every version, so shards stay stable when accounts
    /// are added (an account's shard depends on nothing but its own ID).
    pub fn contains(&self, account_id: &str) -> bool {
        let digest = Sha256::digest(account_id.as_bytes());
        let head = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        head % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// What the command line selects.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `--ou ID`: that OU and every OU below it.
    pub ou: Option<String>,
    /// `--accounts`: only these.
    pub accounts: Vec<String>,
    /// `--exclude`: never these.
    pub exclude: Vec<String>,
    /// `--include-management`: the management account too (it is run with the caller's own
    /// credentials, not a role).
    pub include_management: bool,
    pub shard: Option<Shard>,
}

/// An account ID as the command line takes it: 12 digits.
pub fn check_account_id(flag: &str, id: &str) -> Result<(), String> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "{flag}: {id:?} is not an AWS account ID (12 digits)"
        ))
    }
}

/// The accounts the run covers, in account-ID order: pure. An ID given to `--accounts` that is not
/// an ACTIVE account of the selection is an error (a typo must not shrink a run silently).
pub fn choose(
    listed: Vec<MemberAccount>,
    management: &str,
    sel: &Selection,
) -> Result<Vec<MemberAccount>, String> {
    for id in &sel.accounts {
        if !listed.iter().any(|a| &a.id == id) {
            return Err(format!(
                "--accounts: {id} is not an ACTIVE account of the Organization{} (as Organizations \
                 lists them)",
                sel.ou
                    .as_ref()
                    .map(|ou| format!(" under {ou}"))
                    .unwrap_or_default()
            ));
        }
    }
    let mut chosen: Vec<MemberAccount> = listed
        .into_iter()
        .filter(|a| sel.include_management || a.id != management)
        .filter(|a| sel.accounts.is_empty() || sel.accounts.contains(&a.id))
        .filter(|a| !sel.exclude.contains(&a.id))
        .filter(|a| sel.shard.is_none_or(|s| s.contains(&a.id)))
        .collect();
    chosen.sort_by(|a, b| a.id.cmp(&b.id));
    chosen.dedup_by(|a, b| a.id == b.id);
    Ok(chosen)
}

/// The Organization's management account ID and its ACTIVE accounts (all, or under `ou`).
/// Organizations API reference: `DescribeOrganization` (`MasterAccountId`), `ListAccounts`, and for
/// an OU `ListOrganizationalUnitsForParent` (recursively) and `ListAccountsForParent`. Accounts are
/// filtered on `State` = ACTIVE: the `Status` field is being retired (Account data type).
pub async fn list(aws: &Aws, ou: Option<&str>) -> anyhow::Result<(String, Vec<MemberAccount>)> {
    let org = aws.organizations();
    let described = org.describe_organization().send().await;
    if let Err(e) = &described {
        match error_code(e) {
            Some("AWSOrganizationsNotInUseException") => anyhow::bail!(
                "--org: account {} is not in an AWS Organization (DescribeOrganization: \
                 AWSOrganizationsNotInUseException); run without --org for one account",
                aws.account_id()
            ),
            Some("AccessDeniedException") => anyhow::bail!(
                "--org: {} may not read the Organization (DescribeOrganization denied): run from the \
                 management account, or a delegated administrator, with organizations:Describe* and \
                 organizations:List* allowed",
                aws.caller.arn
            ),
            _ => {}
        }
    }
    let management = described
        .describe("reading the Organization (Organizations DescribeOrganization)")?
        .organization
        .and_then(|o| o.master_account_id)
        .ok_or_else(|| {
            anyhow::anyhow!("DescribeOrganization answered without the management account's ID")
        })?;
    let mut raw = Vec::new();
    match ou {
        None => {
            let mut pages = org.list_accounts().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.describe("listing the Organization's accounts (ListAccounts)")?;
                raw.extend(page.accounts.unwrap_or_default());
            }
        }
        Some(ou) => {
            // The OU and every OU below it, breadth first.
            let mut parents = vec![ou.to_string()];
            let mut i = 0;
            while i < parents.len() {
                let parent = parents[i].clone();
                i += 1;
                let mut pages = org
                    .list_organizational_units_for_parent()
                    .parent_id(&parent)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.describe(format!(
                        "listing the OUs under {parent} (ListOrganizationalUnitsForParent)"
                    ))?;
                    parents.extend(
                        page.organizational_units
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|u| u.id),
                    );
                }
            }
            let pages = parents.iter().map(|parent| {
                let org = org.clone();
                async move {
                    let mut out = Vec::new();
                    let mut pages = org
                        .list_accounts_for_parent()
                        .parent_id(parent)
                        .into_paginator()
                        .send();
                    while let Some(page) = pages.next().await {
                        let page = page.describe(format!(
                            "listing the accounts in {parent} (ListAccountsForParent)"
                        ))?;
                        out.extend(page.accounts.unwrap_or_default());
                    }
                    anyhow::Ok(out)
                }
            });
            for accounts in futures_util::future::join_all(pages).await {
                raw.extend(accounts?);
            }
        }
    }
    let accounts = raw
        .into_iter()
        .filter(|a| a.state() == Some(&aws_sdk_organizations::types::AccountState::Active))
        .filter_map(|a| {
            Some(MemberAccount {
                id: a.id?,
                name: a.name.unwrap_or_default(),
            })
        })
        .collect();
    Ok((management, accounts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(ids: &[&str]) -> Vec<MemberAccount> {
        ids.iter()
            .map(|id| MemberAccount {
                id: id.to_string(),
                name: format!("n{id}"),
            })
            .collect()
    }

    #[test]
    fn shards_split_every_account_exactly_once_and_do_not_move_when_accounts_are_added() {
        let ids: Vec<String> = (0..500)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i * 7919))
            .collect();
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        let mut sizes = [0usize; 3];
        for id in &ids {
            let owners: Vec<usize> = (0..3).filter(|&k| shards[k].contains(id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0]] += 1;
        }
        // Roughly even (a hash, not a round robin).
        assert!(sizes.iter().all(|&n| n > 120), "{sizes:?}");
        // The shard of an account depends only on its ID: the same whatever else exists.
        assert!(Shard { index: 1, count: 1 }.contains(&ids[0]));
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "1", "a/b", "1/3/4", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn choosing_drops_management_excluded_and_unlisted_and_refuses_unknown_ids() {
        let all = accounts(&[
            "111111111111",
            "222222222222",
            "333333333333",
            "999999999999",
        ]);
        let ids = |v: Vec<MemberAccount>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        let sel = Selection::default();
        assert_eq!(
            ids(choose(all.clone(), "999999999999", &sel).unwrap()),
            ["111111111111", "222222222222", "333333333333"]
        );
        let sel = Selection {
            include_management: true,
            exclude: vec!["222222222222".into()],
            ..Selection::default()
        };
        assert_eq!(
            ids(choose(all.clone(), "999999999999", &sel).unwrap()),
            ["111111111111", "333333333333", "999999999999"]
        );
        let sel = Selection {
            accounts: vec!["333333333333".into()],
            ..Selection::default()
        };
        assert_eq!(
            ids(choose(all.clone(), "999999999999", &sel).unwrap()),
            ["333333333333"]
        );
        let sel = Selection {
            accounts: vec!["444444444444".into()],
            ..Selection::default()
        };
        assert!(
            choose(all, "999999999999", &sel)
                .unwrap_err()
                .contains("444444444444")
        );
        assert!(check_account_id("--accounts", "12345").is_err());
        assert!(check_account_id("--accounts", "123456789012").is_ok());
    }
}
