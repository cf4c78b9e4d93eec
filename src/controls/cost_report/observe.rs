//! Reads only: the bucket and every report definition (us-east-1).

use aws_sdk_costandusagereport::types::ReportDefinition;

use super::documents::bucket_spec;
use super::types::{Definition, Observed, Reports, sorted};
use crate::aws::{Aws, error_code, sdk_error};
use crate::bucket;
use crate::plan::Plan;

/// Error codes meaning "this identity may not read billing data".
const ACCESS_DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
];

impl From<&ReportDefinition> for Definition {
    fn from(d: &ReportDefinition) -> Self {
        Definition {
            name: d.report_name().into(),
            time_unit: d.time_unit().as_str().into(),
            format: d.format().as_str().into(),
            compression: d.compression().as_str().into(),
            schema_elements: sorted(
                d.additional_schema_elements()
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
            ),
            bucket: d.s3_bucket().into(),
            prefix: d.s3_prefix().into(),
            region: d.s3_region().as_str().into(),
            artifacts: sorted(
                d.additional_artifacts()
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
            ),
            refresh_closed_reports: d.refresh_closed_reports(),
            versioning: d.report_versioning().map(|v| v.as_str().to_string()),
        }
    }
}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(r) = plan.cost_report() else {
        return Ok(Observed::default());
    };
    aws.require_global_api("The Cost and Usage Report API", "cost_report")?;
    let spec = bucket_spec(r, &plan.home_region, &aws.caller);
    let (bucket, pages) = tokio::join!(
        bucket::observe(aws, &spec),
        aws.cur
            .describe_report_definitions()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
    );
    let bucket = bucket?;
    let mut last_status = std::collections::BTreeMap::new();
    let reports = match pages {
        Ok(pages) => {
            for r in pages.iter().flat_map(|p| p.report_definitions()) {
                if let Some(status) = r.report_status().and_then(|s| s.last_status()) {
                    last_status.insert(r.report_name.clone(), status.as_str().to_string());
                }
            }
            let mut defs: Vec<Definition> = pages
                .iter()
                .flat_map(|p| p.report_definitions())
                .map(Definition::from)
                .collect();
            defs.sort_by(|a, b| a.name.cmp(&b.name));
            Reports::Readable(defs)
        }
        Err(e) => match error_code(&e) {
            Some(code) if ACCESS_DENIED.contains(&code) => Reports::Denied { code: code.into() },
            _ => {
                return Err(sdk_error(
                    "listing Cost and Usage Report definitions (us-east-1)",
                    e,
                ));
            }
        },
    };
    Ok(Observed {
        bucket,
        reports,
        last_status,
    })
}
