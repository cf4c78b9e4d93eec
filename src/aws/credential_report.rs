//! The IAM credential report: one CSV row per user (and `<root_account>`), with when each
//! password and access key was made and last used. IAM API reference, GenerateCredentialReport and
//! GetCredentialReport; IAM user guide, "Getting credential reports for your AWS account" (the
//! columns, and that a report is reused for up to four hours).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail};

use super::{Aws, SdkResultExt, error_code};

/// A report as IAM handed it out.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CredentialReport {
    /// When IAM generated it, seconds since 1970 (`GeneratedTime`); `None` if left out.
    pub generated: Option<u64>,
    /// Each row, by column name, as the CSV has it.
    pub rows: Vec<BTreeMap<String, String>>,
}

/// The rows of a report's CSV (a header line, then one line per user), by column name.
pub fn parse(csv_bytes: &[u8]) -> anyhow::Result<Vec<BTreeMap<String, String>>> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let headers = reader
        .headers()
        .map_err(|e| anyhow!("the IAM credential report is not CSV: {e}"))?
        .clone();
    if !headers.iter().any(|h| h == "user") {
        bail!("the IAM credential report has no `user` column");
    }
    reader
        .records()
        .map(|record| {
            let record = record.map_err(|e| anyhow!("the IAM credential report: {e}"))?;
            Ok(headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect())
        })
        .collect()
}

/// How long to wait for IAM to finish a report before giving up.
const GENERATION_LIMIT: Duration = Duration::from_secs(60);

/// `GetCredentialReport`; when there is none, or it expired or is being made (`ReportNotPresent`,
/// `ReportExpired`, `ReportInProgress`), `GenerateCredentialReport` until its `State` is
/// `COMPLETE` (it answers the state of a report under way rather than start another), then
/// `GetCredentialReport` once more: never a Get while the report is in progress.
pub async fn fetch(aws: &Aws) -> anyhow::Result<CredentialReport> {
    let first = aws.iam.get_credential_report().send().await;
    let report = match first {
        Err(e)
            if matches!(
                error_code(&e),
                Some("ReportNotPresent" | "ReportExpired" | "ReportInProgress")
            ) =>
        {
            generate(aws).await?;
            aws.iam
                .get_credential_report()
                .send()
                .await
                .describe("reading the IAM credential report (GetCredentialReport)")?
        }
        other => other.describe("reading the IAM credential report (GetCredentialReport)")?,
    };
    let content = report
        .content
        .ok_or_else(|| anyhow!("GetCredentialReport answered no Content"))?
        .into_inner();
    Ok(CredentialReport {
        generated: report
            .generated_time
            .and_then(|t| u64::try_from(t.secs()).ok()),
        rows: parse(&content)?,
    })
}

/// `GenerateCredentialReport` until `COMPLETE`, pausing in between (IAM takes seconds).
async fn generate(aws: &Aws) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(500);
    loop {
        let out = aws
            .iam
            .generate_credential_report()
            .send()
            .await
            .describe("generating the IAM credential report (GenerateCredentialReport)")?;
        match out.state().map(|s| s.as_str()) {
            Some("COMPLETE") => return Ok(()),
            // STARTED, INPROGRESS, or a state this build does not know: not ready.
            _ if started.elapsed() + pause < GENERATION_LIMIT => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            state => bail!(
                "the IAM credential report was not ready after {}s (GenerateCredentialReport state {:?})",
                GENERATION_LIMIT.as_secs(),
                state.unwrap_or("not given")
            ),
        }
    }
}
