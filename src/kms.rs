//! Customer-managed KMS keys that aws-harden creates, made safe against what the KMS API does on AWS:
//! - `CreateKey` has no idempotency token (KMS API reference, CreateKey). A retried request whose first
//!   answer was lost makes a second key, billed every month. So the SDK never retries it here: every key
//!   is tagged `aws-harden:alias=<alias>` at creation, and before creating, an enabled key with that tag
//!   and no alias (one a lost answer left behind) is adopted instead.
//! - KMS is eventually consistent (KMS developer guide, "Eventual consistency"): right after
//!   `CreateKey` or `CreateAlias`, calls on the key may answer `NotFoundException` or
//!   `KMSInvalidStateException`. Those are waited out, bounded, like IAM's delays (`when_visible`).
//!
//! Apply path only: the search for a tagged key costs calls per key in the account, and `--plan` never
//! makes it.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::types::{KeyManagerType, KeyState, Tag};
use futures_util::future::try_join_all;

use crate::aws::{
    Aws, MANAGED_BY_TAG, SdkResultExt, absent_on, is_transient, sdk_error, when_visible,
};

/// The tag every key aws-harden creates carries; its value is the alias the key is for.
pub const ALIAS_TAG: &str = "aws-harden:alias";
/// What a key that was just created (or aliased) may answer for a while.
pub const NOT_YET_VISIBLE: &[&str] = &["NotFoundException", "KMSInvalidStateException"];
/// Tries of `CreateKey` after transient failures, each preceded by a search for the key a lost answer
/// may have made.
const CREATE_ATTEMPTS: usize = 3;

/// A new customer-managed key for `alias` with `policy`, tagged so a lost answer can be found again;
/// or the tagged, unaliased key an earlier attempt left. Returns the key ID.
pub async fn create_tagged_key(
    aws: &Aws,
    alias: &str,
    description: &str,
    policy: &str,
) -> anyhow::Result<String> {
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=CREATE_ATTEMPTS {
        if let Some(orphan) = find_orphan(aws, alias).await? {
            tracing::info!(key = %orphan, %alias, "adopting the key an earlier CreateKey left without its alias");
            return Ok(orphan);
        }
        let sent = aws
            .kms
            .create_key()
            .description(description)
            .policy(policy)
            .tags(Tag::builder().tag_key(ALIAS_TAG).tag_value(alias).build()?)
            .tags(
                Tag::builder()
                    .tag_key(MANAGED_BY_TAG.0)
                    .tag_value(MANAGED_BY_TAG.1)
                    .build()?,
            )
            .customize()
            // No blind retry: a retry after a lost answer would make a second key.
            .config_override(
                aws_sdk_kms::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await;
        match sent {
            Ok(out) => {
                return out
                    .key_metadata
                    .map(|m| m.key_id)
                    .ok_or_else(|| anyhow!("CreateKey returned no key for {alias}"));
            }
            Err(e) if attempt < CREATE_ATTEMPTS && is_transient(&e) => {
                tracing::info!(
                    attempt,
                    "CreateKey for {alias} failed transiently; looking for its key before trying again"
                );
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(sdk_error(format!("creating the KMS key for {alias}"), e)),
        }
    }
    unreachable!("the last attempt returns")
}

/// An enabled customer-managed key tagged for `alias` that no alias names yet.
pub async fn find_orphan(aws: &Aws, alias: &str) -> anyhow::Result<Option<String>> {
    let (keys, aliases) = tokio::try_join!(
        async {
            aws.kms
                .list_keys()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .describe("listing KMS keys (looking for one a lost CreateKey answer left)")
        },
        async {
            aws.kms
                .list_aliases()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .describe("listing KMS aliases")
        }
    )?;
    let aliased: Vec<String> = aliases
        .into_iter()
        .filter_map(|a| a.target_key_id)
        .collect();
    let candidates: Vec<String> = keys
        .into_iter()
        .filter_map(|k| k.key_id)
        .filter(|id| !aliased.contains(id))
        .collect();
    let checks = candidates.iter().map(|id| async move {
        // A key this caller may not read the tags of is not one it created.
        let tags = absent_on(
            aws.kms.list_resource_tags().key_id(id).send().await,
            &["AccessDeniedException", "NotFoundException"],
            format!("reading the tags of KMS key {id}"),
        )?;
        let tagged = tags.is_some_and(|t| {
            t.tags()
                .iter()
                .any(|t| t.tag_key == ALIAS_TAG && t.tag_value == alias)
        });
        if !tagged {
            return Ok::<_, anyhow::Error>(None);
        }
        // Listed already, but a key a lost answer made a moment ago may not be readable yet.
        let what = format!("reading KMS key {id}");
        let described = when_key_visible(&what, || aws.kms.describe_key().key_id(id).send())
            .await
            .describe(what)?;
        Ok(described.key_metadata.and_then(|m| {
            let usable = m.key_state == Some(KeyState::Enabled)
                && m.key_manager == Some(KeyManagerType::Customer);
            usable.then(|| (m.creation_date.map(|d| d.secs()).unwrap_or(0), m.key_id))
        }))
    });
    let mut found: Vec<(i64, String)> = try_join_all(checks).await?.into_iter().flatten().collect();
    // The oldest: the one the first lost answer made.
    found.sort();
    Ok(found.into_iter().next().map(|(_, id)| id))
}

/// Run a call on a key that may have been created a moment ago, waiting while KMS has not caught up.
pub async fn when_key_visible<T, E, R, F, Fut>(what: &str, call: F) -> Result<T, SdkError<E, R>>
where
    E: aws_sdk_kms::error::ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
{
    when_visible(NOT_YET_VISIBLE, what, call).await
}
