//! The writes: one `Op` at a time, in us-east-1.

use aws_sdk_costandusagereport::types::{
    AdditionalArtifact, AwsRegion, CompressionFormat, ReportDefinition, ReportFormat,
    ReportVersioning, SchemaElement, TimeUnit,
};

use super::types::{Definition, Op};
use crate::aws::{Aws, SdkResultExt, created_or_exists};

impl Definition {
    pub(super) fn to_sdk(&self) -> anyhow::Result<ReportDefinition> {
        ReportDefinition::builder()
            .report_name(&self.name)
            .time_unit(TimeUnit::from(self.time_unit.as_str()))
            .format(ReportFormat::from(self.format.as_str()))
            .compression(CompressionFormat::from(self.compression.as_str()))
            .set_additional_schema_elements(Some(
                self.schema_elements
                    .iter()
                    .map(|s| SchemaElement::from(s.as_str()))
                    .collect(),
            ))
            .s3_bucket(&self.bucket)
            .s3_prefix(&self.prefix)
            .s3_region(AwsRegion::from(self.region.as_str()))
            .set_additional_artifacts(Some(
                self.artifacts
                    .iter()
                    .map(|s| AdditionalArtifact::from(s.as_str()))
                    .collect(),
            ))
            .set_refresh_closed_reports(self.refresh_closed_reports)
            .set_report_versioning(self.versioning.as_deref().map(ReportVersioning::from))
            .build()
            .map_err(|e| anyhow::anyhow!("building report definition {}: {e}", self.name))
    }
}

pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::Bucket(op) => crate::bucket::apply(aws, op).await?,
        Op::PutReport(def) => {
            let created = aws
                .cur
                .put_report_definition()
                .report_definition(def.to_sdk()?)
                .tags(
                    aws_sdk_costandusagereport::types::Tag::builder()
                        .key(crate::aws::MANAGED_BY_TAG.0)
                        .value(crate::aws::MANAGED_BY_TAG.1)
                        .build()?,
                )
                .send()
                .await;
            // A retried create whose first answer was lost finds the report made; the
            // verification checks its settings like any other.
            created_or_exists(
                created,
                &["DuplicateReportNameException"],
                format!("creating Cost and Usage Report {}", def.name),
            )?;
        }
        Op::ModifyReport(def) => {
            aws.cur
                .modify_report_definition()
                .report_name(&def.name)
                .report_definition(def.to_sdk()?)
                .send()
                .await
                .describe(format!("modifying Cost and Usage Report {}", def.name))?;
        }
        Op::DeleteReport { name } => {
            aws.cur
                .delete_report_definition()
                .report_name(name)
                .send()
                .await
                .describe(format!("deleting Cost and Usage Report {name}"))?;
        }
    }
    Ok(())
}
