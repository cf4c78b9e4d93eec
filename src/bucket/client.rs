//! The S3 client a bucket's calls go to.

use crate::aws::Aws;

/// The S3 client for the bucket's region.
pub(super) fn client(aws: &Aws, region: &str) -> aws_sdk_s3::Client {
    if region == aws.home_region {
        aws.s3.clone()
    } else {
        aws.in_home_region(region).s3
    }
}
