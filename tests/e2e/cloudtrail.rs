//! End-to-end: the CloudTrail control against moto, through the recording proxy. moto accepts any
//! bucket or key policy, so the exact documents are proven by the unit tests in
//! src/controls/cloudtrail/tests.rs and src/bucket/tests.rs; here: the writes happen, in the right
//! order, the account ends as planned, re-runs write nothing, and drift is found and repaired.

use crate::common;

use aws_harden::controls::cloudtrail::{key_policy, trail_arn};
use std::sync::{Arc, Mutex};

use common::proxy::Response;
use common::{Account, assert_no_writes};
use serde_json::{Value, json};

const PLAN: &str = r#"
version = 1
home_region = "us-east-1"
[cloudtrail]
trail_name = "aws-harden"
bucket = "aws-harden-trail-{account_id}-{home_region}"
kms_key_alias = "alias/aws-harden-cloudtrail"
retention_days = 365
access_log_bucket = "aws-harden-access-logs-{account_id}-{home_region}"
"#;

fn bucket(acct: &Account) -> String {
    format!("aws-harden-trail-{}-us-east-1", acct.id)
}

fn log_bucket(acct: &Account) -> String {
    format!("aws-harden-access-logs-{}-us-east-1", acct.id)
}

fn kms(acct: &Account) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&acct.sdk())
}

fn cloudtrail(acct: &Account) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::new(&acct.sdk())
}

fn position(calls: &[common::Call], service: &str, operation: &str) -> usize {
    calls
        .iter()
        .position(|c| c.service == service && c.operation == operation)
        .unwrap_or_else(|| panic!("no {service}:{operation} in {calls:#?}"))
}

async fn applied(acct: &Account) -> String {
    let plan = acct.write_plan("p.toml", PLAN);
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    plan
}

#[tokio::test(flavor = "multi_thread")]
async fn fresh_account_gets_an_encrypted_multi_region_trail_with_policies_written_first() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    let b = bucket(&acct);

    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    for expected in [
        "+ kms key \"alias/aws-harden-cloudtrail\"",
        &format!("+ s3 bucket \"{b}\""),
        &format!("+ s3 bucket policy \"{b}\""),
        &format!("+ s3 bucket \"{}\"", log_bucket(&acct)),
        "+ cloudtrail trail \"aws-harden\"",
        "multi-region: (none) -> \"true\"",
        "log file validation: (none) -> \"true\"",
        "logging: (none) -> \"on\"",
        "automatic rotation: (none) -> \"on\"",
    ] {
        assert!(
            dry.stdout.contains(expected),
            "missing {expected:?}\n{}",
            dry.all()
        );
    }
    assert_no_writes(&acct, &dry);

    acct.proxy.clear();
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let calls = acct.proxy.writes();
    // Both policies exist before CreateTrail: the key is created with its policy, the bucket
    // policy is put, then the trail is created, then logging starts.
    let create_trail = position(&calls, "cloudtrail", "CreateTrail");
    assert!(position(&calls, "kms", "CreateKey") < create_trail);
    assert!(position(&calls, "kms", "EnableKeyRotation") < create_trail);
    let last_policy = calls
        .iter()
        .rposition(|c| c.service == "s3" && c.operation == "PUT ?policy")
        .unwrap();
    assert!(last_policy < create_trail, "{calls:#?}");
    assert!(create_trail < position(&calls, "cloudtrail", "StartLogging"));
    assert!(calls.iter().all(|c| c.status < 300), "{calls:#?}");

    // --plan and a second apply: nothing to do, nothing written.
    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
    acct.proxy.clear();
    let second = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(second.code, 0, "{}", second.all());
    assert_no_writes(&acct, &second);

    // The real thing, read back from moto.
    let ct = cloudtrail(&acct);
    let trail = ct
        .get_trail()
        .name("aws-harden")
        .send()
        .await
        .unwrap()
        .trail
        .unwrap();
    assert_eq!(trail.s3_bucket_name(), Some(b.as_str()));
    assert_eq!(trail.is_multi_region_trail(), Some(true));
    assert_eq!(trail.include_global_service_events(), Some(true));
    assert_eq!(trail.log_file_validation_enabled(), Some(true));
    let status = ct
        .get_trail_status()
        .name("aws-harden")
        .send()
        .await
        .unwrap();
    assert_eq!(status.is_logging(), Some(true));

    let key = kms(&acct)
        .describe_key()
        .key_id("alias/aws-harden-cloudtrail")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(trail.kms_key_id(), key.arn());
    assert!(
        kms(&acct)
            .get_key_rotation_status()
            .key_id(key.key_id())
            .send()
            .await
            .unwrap()
            .key_rotation_enabled
    );
    let live_key_policy = kms(&acct)
        .get_key_policy()
        .key_id(key.key_id())
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let arn = trail_arn("aws", "us-east-1", &acct.id, "aws-harden");
    assert!(
        aws_harden::policy::live_matches(&live_key_policy, &key_policy("aws", &acct.id, &arn)),
        "{live_key_policy}"
    );

    let s3 = acct.s3();
    let policy: Value = serde_json::from_str(
        &s3.get_bucket_policy()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap(),
    )
    .unwrap();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert_eq!(
        sids,
        [
            "DenyInsecureTransport",
            "AWSCloudTrailAclCheck20150319",
            "AWSCloudTrailWrite20150319"
        ]
    );
    let enc = s3.get_bucket_encryption().bucket(&b).send().await.unwrap();
    let by_default = enc
        .server_side_encryption_configuration
        .unwrap()
        .rules
        .remove(0)
        .apply_server_side_encryption_by_default
        .unwrap();
    assert_eq!(by_default.sse_algorithm.as_str(), "aws:kms");
    assert_eq!(by_default.kms_master_key_id.as_deref(), key.arn());
    let logging = s3.get_bucket_logging().bucket(&b).send().await.unwrap();
    assert_eq!(
        logging.logging_enabled.unwrap().target_bucket,
        log_bucket(&acct)
    );
    // moto 5.2.5 names the root element GetBucketVersioningResponse, which the SDK refuses to
    // parse: read the Status from the raw answer.
    let versioning = match s3.get_bucket_versioning().bucket(&b).send().await {
        Ok(v) => v.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        Err(e) => {
            String::from_utf8_lossy(e.raw_response().unwrap().body().bytes().unwrap()).into_owned()
        }
    };
    assert!(versioning.contains("Enabled"), "{versioning}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_drift_is_reported_precisely_and_repaired() {
    let acct = Account::new().await;
    let plan = applied(&acct).await;
    let b = bucket(&acct);

    // Drift, made by hand as if in the console.
    let ct = cloudtrail(&acct);
    ct.stop_logging().name("aws-harden").send().await.unwrap();
    ct.update_trail()
        .name("aws-harden")
        .enable_log_file_validation(false)
        .is_multi_region_trail(false)
        .s3_key_prefix("moved")
        .send()
        .await
        .unwrap();
    let s3 = acct.s3();
    s3.delete_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    s3.delete_bucket_encryption()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    // The CloudTrail statements removed; someone's own statements added (one for another account).
    let foreign = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
         "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{b}/*")}
    ]});
    s3.put_bucket_policy()
        .bucket(&b)
        .policy(foreign.to_string())
        .send()
        .await
        .unwrap();
    let key = kms(&acct)
        .describe_key()
        .key_id("alias/aws-harden-cloudtrail")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let (key_id, key_arn) = (key.key_id, key.arn.unwrap());
    kms(&acct)
        .disable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();

    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    for expected in [
        "~ cloudtrail trail \"aws-harden\"\n      multi-region: \"false\" -> \"true\"\n      log file validation: \"false\" -> \"true\"\n",
        "logging: \"off\" -> \"on\"",
        "s3 key prefix: \"moved\" -> \"(none)\"",
        "block public access: (none) -> \"all 4 on\"",
        "default encryption: (none) -> \"SSE-KMS arn:aws:kms:",
        &format!(
            "~ s3 bucket policy \"{b}\"\n      statement AWSCloudTrailAclCheck20150319: (none) -> "
        ),
        "statement AWSCloudTrailWrite20150319: (none) -> ",
        "automatic rotation: \"off\" -> \"on\"",
        "PartnerRead",
        "outside account",
    ] {
        assert!(
            dry.stdout.contains(expected),
            "missing {expected:?}\n{}",
            dry.all()
        );
    }
    assert_no_writes(&acct, &dry);

    let fix = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(fix.code, 0, "{}", fix.all());
    acct.proxy.clear();
    let after = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(after.code, 0, "{}", after.all());
    assert_no_writes(&acct, &after);

    // Repaired for real, and the statement someone else added was kept.
    let status = ct
        .get_trail_status()
        .name("aws-harden")
        .send()
        .await
        .unwrap();
    assert_eq!(status.is_logging(), Some(true));
    let trail = ct
        .get_trail()
        .name("aws-harden")
        .send()
        .await
        .unwrap()
        .trail
        .unwrap();
    assert_eq!(trail.log_file_validation_enabled(), Some(true));
    assert_eq!(trail.is_multi_region_trail(), Some(true));
    assert!(trail.s3_key_prefix().unwrap_or("").is_empty(), "{trail:?}");
    let policy = s3
        .get_bucket_policy()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    // Every statement aws-harden owns is back, once each, beside the one someone else added.
    let doc: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let sids: Vec<&str> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    for sid in [
        "PartnerRead",
        "AWSCloudTrailAclCheck20150319",
        "AWSCloudTrailWrite20150319",
        "DenyInsecureTransport",
    ] {
        assert_eq!(
            sids.iter().filter(|s| **s == sid).count(),
            1,
            "{sid} in {policy}"
        );
    }
    assert!(
        kms(&acct)
            .get_key_rotation_status()
            .key_id(&key_id)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled
    );
    let pab = s3
        .get_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    for (flag, on) in [
        ("block_public_acls", pab.block_public_acls),
        ("ignore_public_acls", pab.ignore_public_acls),
        ("block_public_policy", pab.block_public_policy),
        ("restrict_public_buckets", pab.restrict_public_buckets),
    ] {
        assert_eq!(on, Some(true), "{flag}: {pab:?}");
    }
    // SSE-KMS with the planned key (the trail's), not S3-managed keys.
    let rules = s3
        .get_bucket_encryption()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .server_side_encryption_configuration
        .unwrap()
        .rules;
    let default = rules[0]
        .apply_server_side_encryption_by_default
        .as_ref()
        .unwrap();
    assert_eq!(
        default.sse_algorithm,
        aws_sdk_s3::types::ServerSideEncryption::AwsKms,
        "{rules:?}"
    );
    assert_eq!(
        default.kms_master_key_id.as_deref(),
        Some(key_arn.as_str()),
        "{rules:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_finished_run_is_continued() {
    // An earlier run stopped right after CreateTrail: the bucket exists but is bare (as if its
    // hardening had been undone), the trail exists without KMS, validation, multi-region, event
    // selectors or logging. The next run observes it and carries on: no second trail, no error.
    let acct = Account::new().await;
    let b = bucket(&acct);
    acct.s3().create_bucket().bucket(&b).send().await.unwrap();
    let ct = cloudtrail(&acct);
    ct.create_trail()
        .name("aws-harden")
        .s3_bucket_name(&b)
        .send()
        .await
        .unwrap();
    let plan = acct.write_plan("p.toml", PLAN);
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        !dry.stdout.contains("+ cloudtrail trail"),
        "an existing trail must never be created again\n{}",
        dry.all()
    );
    assert!(
        dry.stdout.contains(
            "~ cloudtrail trail \"aws-harden\"\n      multi-region: \"false\" -> \"true\""
        ),
        "{}",
        dry.all()
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
    let trails = ct
        .describe_trails()
        .send()
        .await
        .unwrap()
        .trail_list
        .unwrap();
    assert_eq!(trails.len(), 1, "{trails:?}");
    assert!(
        trails[0].kms_key_id().is_some_and(|k| k.contains(":key/")),
        "{trails:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_trail_that_meets_the_plan_is_adopted() {
    let acct = Account::new().await;
    // Someone's trail, compliant, in its own bucket.
    let s3 = acct.s3();
    let theirs = format!("their-trail-bucket-{}", acct.id);
    s3.create_bucket().bucket(&theirs).send().await.unwrap();
    let key = kms(&acct)
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let ct = cloudtrail(&acct);
    ct.create_trail()
        .name("org-audit")
        .s3_bucket_name(&theirs)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .enable_log_file_validation(true)
        .kms_key_id(key.arn().unwrap())
        .send()
        .await
        .unwrap();
    ct.put_event_selectors()
        .trail_name("org-audit")
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::All)
                .include_management_events(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ct.start_logging().name("org-audit").send().await.unwrap();

    let plan = acct.write_plan("p.toml", PLAN);
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(dry.stdout.contains("org-audit"), "{}", dry.all());
    assert!(dry.stdout.contains("adopted"), "{}", dry.all());
    assert_no_writes(&acct, &dry);

    // Falling short (single-region): not adopted; our own trail is planned and the other named.
    ct.update_trail()
        .name("org-audit")
        .is_multi_region_trail(false)
        .send()
        .await
        .unwrap();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout.contains("+ cloudtrail trail \"aws-harden\""),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout.contains("org-audit falls short"),
        "{}",
        dry.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_cloudtrail_keys_are_refused_before_any_call() {
    let acct = Account::new().await;
    for (text, key) in [
        ("bucket = \"Has_Upper\"\n", "cloudtrail.bucket"),
        ("bucket = \"with.dots.in.it\"\n", "cloudtrail.bucket"),
        (
            "kms_key_alias = \"no-prefix\"\n",
            "cloudtrail.kms_key_alias",
        ),
        (
            "kms_key_alias = \"alias/aws/reserved\"\n",
            "cloudtrail.kms_key_alias",
        ),
        ("trail_name = \"-x\"\n", "cloudtrail.trail_name"),
        ("retention_days = 100000\n", "cloudtrail.retention_days"),
        (
            "access_log_bucket = \"ab\"\n",
            "cloudtrail.access_log_bucket",
        ),
        ("unknown_key = 1\n", "unknown_key"),
    ] {
        let plan = acct.write_plan(
            "bad.toml",
            &format!("version = 1\nhome_region = \"us-east-1\"\n[cloudtrail]\n{text}"),
        );
        acct.proxy.clear();
        let run = acct.run(&["--plan", "-f", &plan]).await;
        assert_eq!(run.code, 1, "{text}: {}", run.all());
        assert!(run.stderr.contains(key), "{text}: {}", run.all());
        assert!(
            acct.proxy.calls().is_empty(),
            "{text}: {:?}",
            acct.proxy.calls()
        );
    }
    // A name that is valid only before expansion is refused before the first write.
    let long = acct.write_plan(
        "long.toml",
        &format!(
            "version = 1\nhome_region = \"us-east-1\"\n[cloudtrail]\nbucket = \"{}-{{account_id}}\"\n",
            "b".repeat(55)
        ),
    );
    acct.proxy.clear();
    let run = acct.run(&["-f", &long, "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("cloudtrail.bucket"), "{}", run.all());
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_s3_call_names_the_expected_owner_and_a_foreign_bucket_is_refused() {
    // moto ignores ExpectedBucketOwner, so the proxy records the header on every S3 request.
    let acct = Account::new().await;
    let seen: Arc<Mutex<Vec<S3Request>>> = Arc::default();
    let record = seen.clone();
    acct.proxy.hook(Box::new(move |req| {
        if req.service == "s3" {
            record.lock().unwrap().push((
                req.method.clone(),
                req.path.clone(),
                req.header("x-amz-expected-bucket-owner")
                    .map(str::to_string),
            ));
        }
        None
    }));
    applied(&acct).await;
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() > 20, "{seen:#?}");
    for (method, path, owner) in &seen {
        // CreateBucket (PUT on the bare bucket) has no such parameter; it fails with
        // BucketAlreadyExists when the name is taken.
        if method == "PUT" && !path.contains('?') {
            continue;
        }
        assert_eq!(owner.as_deref(), Some(acct.id.as_str()), "{method} {path}");
    }

    // A bucket of the planned name owned by another account: S3 answers 403 to a request whose
    // ExpectedBucketOwner is not the owner (S3 user guide, "Verifying bucket ownership with bucket owner
    // condition"). moto cannot, so the proxy answers as S3 would, and only then: a request without the
    // header is forwarded (moto has no such bucket), so a run that stopped sending it fails this test.
    let other = Account::new().await;
    let taken = bucket(&other);
    const REAL_OWNER: &str = "999999999999";
    other.proxy.hook(Box::new(move |req| {
        let expected = req.header("x-amz-expected-bucket-owner");
        (req.service == "s3"
            && req.method == "HEAD"
            && req.path.starts_with(&format!("/{taken}"))
            && expected.is_some_and(|o| o != REAL_OWNER))
        .then(|| Response {
            status: 403,
            content_type: "application/xml".into(),
            body: String::new(),
        })
    }));
    let plan = other.write_plan("p.toml", PLAN);
    let run = other.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "s3 bucket {}: access denied (HTTP 403), or the bucket is owned by another account than {}",
            bucket(&other),
            other.id
        )),
        "{}",
        run.all()
    );
    assert_no_writes(&other, &run);
}

/// An S3 request as the proxy saw it: method, path, `x-amz-expected-bucket-owner`.
type S3Request = (String, String, Option<String>);

fn cloudtrail_error(kind: &str, message: &str) -> Response {
    Response {
        status: 400,
        content_type: "application/x-amz-json-1.1".into(),
        body: json!({"__type": kind, "message": message}).to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_policy_not_yet_honoured_is_retried() {
    // Right after a bucket policy write, CloudTrail may still answer
    // InsufficientS3BucketPolicyException. moto never does, so the proxy answers twice as AWS would.
    let acct = Account::new().await;
    let refusals = Arc::new(Mutex::new(2));
    let left = refusals.clone();
    acct.proxy.hook(Box::new(move |req| {
        let mut left = left.lock().unwrap();
        (req.operation == "CreateTrail" && *left > 0).then(|| {
            *left -= 1;
            cloudtrail_error(
                "InsufficientS3BucketPolicyException",
                "Incorrect S3 bucket policy is detected for bucket",
            )
        })
    }));
    applied(&acct).await;
    assert_eq!(*refusals.lock().unwrap(), 0);
    let creates = acct
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateTrail")
        .count();
    assert_eq!(creates, 3);
    let status = cloudtrail(&acct)
        .get_trail_status()
        .name("aws-harden")
        .send()
        .await
        .unwrap();
    assert_eq!(status.is_logging(), Some(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_is_reported_naming_the_culprit() {
    // CloudTrail keeps refusing the encryption policy (moto never does): after bounded retries the
    // run fails, says which of key and bucket is at fault, and nothing after the trail is attempted.
    let acct = Account::new().await;
    acct.proxy.hook(Box::new(|req| {
        (req.operation == "CreateTrail").then(|| {
            cloudtrail_error(
                "InsufficientEncryptionPolicyException",
                "Insufficient permissions to access S3 bucket or KMS key",
            )
        })
    }));
    let plan = acct.write_plan("p.toml", PLAN);
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.all();
    assert!(
        out.contains("InsufficientEncryptionPolicyException"),
        "{out}"
    );
    // The key policy this run wrote reads back as planned, so the bucket is named.
    assert!(
        out.contains(&format!("so the bucket {} is at fault", bucket(&acct))),
        "{out}"
    );
    let creates = acct
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateTrail")
        .count();
    assert_eq!(creates, 6, "one try and five retries");
    assert!(
        !acct
            .proxy
            .calls()
            .iter()
            .any(|c| c.operation == "StartLogging"),
        "nothing after the failed change is attempted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outside_us_east_1_the_bucket_is_created_in_the_home_region() {
    // Outside us-east-1 CreateBucket needs a LocationConstraint; the trail, key and bucket all
    // live in home_region whatever region the run's credentials default to.
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "eu.toml",
        "version = 1\nhome_region = \"eu-west-1\"\n[cloudtrail]\nretention_days = 0\n",
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);

    let b = format!("aws-harden-trail-{}-eu-west-1", acct.id);
    let head = acct.s3().head_bucket().bucket(&b).send().await.unwrap();
    assert_eq!(head.bucket_region(), Some("eu-west-1"));
    // retention_days = 0: no expiry rule at all.
    let lifecycle = acct
        .s3()
        .get_bucket_lifecycle_configuration()
        .bucket(&b)
        .send()
        .await;
    assert!(lifecycle.is_err(), "{lifecycle:?}");
    let eu = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::from_static("eu-west-1"))
        .endpoint_url(common::moto())
        .credentials_provider(acct.sdk().credentials_provider().unwrap())
        .build();
    let trail = aws_sdk_cloudtrail::Client::new(&eu)
        .get_trail()
        .name("aws-harden")
        .send()
        .await
        .unwrap()
        .trail
        .unwrap();
    // (moto's GetTrail leaves HomeRegion out; the ARN names it.)
    assert!(
        trail
            .trail_arn()
            .is_some_and(|a| a.starts_with("arn:aws:cloudtrail:eu-west-1:")),
        "{trail:?}"
    );
    assert!(
        trail
            .kms_key_id()
            .is_some_and(|k| k.starts_with("arn:aws:kms:eu-west-1:")),
        "{trail:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_of_the_planned_name_in_another_region_is_an_error() {
    let acct = Account::new().await;
    let b = bucket(&acct);
    let west = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&acct.sdk())
            .region(aws_sdk_s3::config::Region::from_static("us-west-2"))
            .force_path_style(true)
            .build(),
    );
    west.create_bucket()
        .bucket(&b)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = acct.write_plan("p.toml", PLAN);
    acct.proxy.clear();
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "s3 bucket {b} is in region us-west-2, the plan wants us-east-1"
        )),
        "{}",
        run.all()
    );
    assert_no_writes(&acct, &run);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trail_created_meanwhile_is_continued_not_an_error() {
    // Another run creates the trail between this run's observation and its CreateTrail; AWS then
    // answers TrailAlreadyExistsException. moto overwrites instead, so the proxy plays the race:
    // it creates a bare trail in moto and answers as AWS would.
    let acct = Account::new().await;
    let b = bucket(&acct);
    let sdk = acct.sdk();
    let raced = Arc::new(Mutex::new(false));
    let flag = raced.clone();
    acct.proxy.hook(Box::new(move |req| {
        if req.operation != "CreateTrail" || *flag.lock().unwrap() {
            return None;
        }
        *flag.lock().unwrap() = true;
        let (sdk, b) = (sdk.clone(), b.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    aws_sdk_cloudtrail::Client::new(&sdk)
                        .create_trail()
                        .name("aws-harden")
                        .s3_bucket_name(&b)
                        .send()
                        .await
                        .unwrap();
                })
        })
        .join()
        .unwrap();
        Some(cloudtrail_error(
            "TrailAlreadyExistsException",
            "Trail aws-harden already exists for customer",
        ))
    }));
    let plan = applied(&acct).await;
    assert!(*raced.lock().unwrap(), "the race was not played");
    let ops: Vec<String> = acct
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.service == "cloudtrail" && c.write)
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        ops,
        [
            "CreateTrail",
            "UpdateTrail",
            "PutEventSelectors",
            "StartLogging"
        ]
    );
    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
}

/// The customer-managed keys in the account, straight from moto.
async fn customer_keys(acct: &Account) -> Vec<String> {
    let kms = kms(acct);
    let mut out = Vec::new();
    for k in kms.list_keys().send().await.unwrap().keys() {
        let id = k.key_id().unwrap();
        let meta = kms.describe_key().key_id(id).send().await.unwrap();
        if meta.key_metadata().unwrap().key_manager()
            == Some(&aws_sdk_kms::types::KeyManagerType::Customer)
        {
            out.push(id.to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_key_not_yet_visible_is_waited_for_and_only_one_is_made() {
    // KMS developer guide, "Eventual consistency": for 4 s after CreateKey the proxy answers as AWS
    // may (moto is consistent at once).
    let acct = Account::new().await;
    let refused = acct
        .proxy
        .emulate_kms_lag(std::time::Duration::from_secs(4));
    applied(&acct).await;
    assert!(
        refused.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the lag was emulated"
    );
    assert_eq!(customer_keys(&acct).await.len(), 1);
    // And the run after it finds everything in place.
    let plan = acct.write_plan("p.toml", PLAN);
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
}

/// The alias reached KMS, its answer was lost: the SDK's retry meets `AlreadyExistsException`. That
/// is the state asked for when the alias names our key (a bug convergence found once).
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_alias_answer_counts_as_done() {
    let acct = Account::new().await;
    acct.proxy.fail_on(
        common::proxy::Which::Nth("CreateAlias", 1),
        common::proxy::Fault::LostResponse,
    );
    let plan = applied(&acct).await;
    let aliases: Vec<u16> = acct
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateAlias")
        .map(|c| c.status)
        .collect();
    assert_eq!(aliases, [0, 400], "lost, then already there");
    let keys = customer_keys(&acct).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let target = kms(&acct)
        .describe_key()
        .key_id("alias/aws-harden-cloudtrail")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    assert_eq!(target, keys[0]);
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_key_answer_leaves_exactly_one_key() {
    // CreateKey has no idempotency token (KMS API reference): the first answer is lost after KMS made
    // the key. A blind retry would make a second, billed key.
    let acct = Account::new().await;
    acct.proxy.fail_on(
        common::proxy::Which::Nth("CreateKey", 1),
        common::proxy::Fault::LostResponse,
    );
    // And KMS lagging meanwhile: the key found by listing may not be readable yet either.
    let refused = acct
        .proxy
        .emulate_kms_lag(std::time::Duration::from_secs(2));
    applied(&acct).await;
    assert!(
        refused.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the lag was emulated"
    );
    let keys = customer_keys(&acct).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let creates = acct
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateKey")
        .count();
    assert_eq!(creates, 1, "the lost key was adopted, not made again");
    let tags = kms(&acct)
        .list_resource_tags()
        .key_id(&keys[0])
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.tag_key() == "aws-harden:alias"
                && t.tag_value() == "alias/aws-harden-cloudtrail"),
        "{tags:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trail_that_stopped_delivering_is_pending_with_its_likely_cause() {
    // GetTrailStatus (CloudTrail API reference) reports LatestDeliveryError and when delivery was last
    // attempted and last succeeded; moto never reports a failed delivery, so the proxy adds them.
    let acct = Account::new().await;
    let plan = applied(&acct).await;
    acct.proxy.amend_json(
        "GetTrailStatus",
        Box::new(|doc| {
            doc["LatestDeliveryError"] = json!("AccessDenied");
            doc["LatestDeliveryAttemptTime"] = json!("2026-12-01T10:05:00Z");
            doc["LatestDeliveryAttemptSucceeded"] = json!("2026-12-01T09:00:00Z");
        }),
    );
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("! cloudtrail trail \"aws-harden\" log delivery"),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout.contains("AccessDenied") && dry.stdout.contains("bucket policy"),
        "{}",
        dry.all()
    );
    // A delivery that succeeded after the error: in line again.
    acct.proxy.amend_json(
        "GetTrailStatus",
        Box::new(|doc| doc["LatestDeliveryAttemptSucceeded"] = json!("2026-12-01T10:05:00Z")),
    );
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_days_is_the_whole_lifetime_of_a_log_file() {
    // S3 user guide, "Expiring objects": on a versioned bucket the current version's expiry leaves a
    // noncurrent version, which NoncurrentVersionExpiration deletes counting from then. 365 days in
    // all: 364 + 1.
    let acct = Account::new().await;
    applied(&acct).await;
    let ours = acct.retention_rule(&bucket(&acct)).await;
    let current = ours.expiration().and_then(|e| e.days()).unwrap();
    let noncurrent = ours
        .noncurrent_version_expiration()
        .and_then(|e| e.noncurrent_days())
        .unwrap();
    assert_eq!((current, noncurrent), (364, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn what_aws_harden_creates_is_tagged_as_its_own() {
    let acct = Account::new().await;
    applied(&acct).await;
    let has_tag = |pairs: Vec<(String, String)>| {
        pairs
            .iter()
            .any(|(k, v)| k == "managed-by" && v == "aws-harden")
    };
    for b in [bucket(&acct), log_bucket(&acct)] {
        let tags = acct
            .s3()
            .get_bucket_tagging()
            .bucket(&b)
            .send()
            .await
            .unwrap();
        let pairs = tags
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        assert!(has_tag(pairs), "{b}: {tags:?}");
    }
    let arn = trail_arn("aws", "us-east-1", &acct.id, "aws-harden");
    let listed = cloudtrail(&acct)
        .list_tags()
        .resource_id_list(&arn)
        .send()
        .await
        .unwrap();
    let pairs = listed
        .resource_tag_list()
        .iter()
        .flat_map(|r| r.tags_list())
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(has_tag(pairs), "{listed:?}");
    let keys = customer_keys(&acct).await;
    let tags = kms(&acct)
        .list_resource_tags()
        .key_id(&keys[0])
        .send()
        .await
        .unwrap();
    let pairs = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect();
    assert!(has_tag(pairs), "{tags:?}");
}
