//! A STUB of the EC2 account settings moto does not serve, not an emulator: the instance metadata
//! defaults (`GetInstanceMetadataDefaults`, `ModifyInstanceMetadataDefaults`) and the default EBS
//! key (`GetEbsDefaultKmsKeyId`, `ModifyEbsDefaultKmsKeyId`, `ResetEbsDefaultKmsKeyId`; the last
//! two resolve the key with moto's KMS, see `set_default_key`). moto
//! serves the rest of EC2 (DescribeRegions, EBS encryption by default), so the recording proxy
//! answers only these with this hook, and counts them like any other call.
//!
//! Shapes and errors are copied from the EC2 API reference and its model (botocore
//! `ec2/2016-11-15/service-2.json`): `accountLevel` is empty when nothing is set; a modify answers
//! `<return>true</return>`; a value outside the documented enums or the hop-limit range (1-64, or
//! -1 for no preference) is `InvalidParameterValue` (HTTP 400, EC2's `Response/Errors/Error`
//! shape); parameters not sent are left as they are, `no-preference` clears one. State is per
//! account and signing region: the account of a role session made through the proxy (an `--org`
//! run's members) is looked up by its access key, any other key is the stub's own account. What it does NOT do: check that a KMS key exists
//! (AWS checks it asynchronously, too), or evaluate declarative policies (tests set `managedBy`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::proxy::{Proxy, Request, Response, ec2_error};

/// One region's account-level IMDS defaults; `None` is "no preference" (left out of answers).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImdsDefaults {
    pub http_tokens: Option<String>,
    pub hop_limit: Option<i64>,
    pub http_endpoint: Option<String>,
    pub instance_metadata_tags: Option<String>,
    pub http_tokens_enforced: Option<String>,
    /// `declarative-policy` with a message, as AWS answers when the Organization sets these.
    pub managed_by_policy: Option<String>,
}

/// (account, region).
type Place = (String, String);

#[derive(Default)]
struct State {
    imds: BTreeMap<Place, ImdsDefaults>,
    /// The default EBS key per account and region as last set; absent: `alias/aws/ebs`.
    ebs_key: BTreeMap<Place, String>,
}

/// A handle on the stub's state, for setting up drift and checking results.
#[derive(Clone, Default)]
pub struct Ec2Stub {
    state: Arc<Mutex<State>>,
    account: String,
}

fn place(account: &str, region: &str) -> Place {
    (account.to_string(), region.to_string())
}

const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

impl Ec2Stub {
    /// A stub for `account` (its alias ARNs name it), answering on `proxy`.
    pub fn install(proxy: &Proxy, account: &str) -> Ec2Stub {
        let stub = Ec2Stub {
            state: Arc::default(),
            account: account.to_string(),
        };
        stub.serve(proxy);
        stub
    }

    /// Answer on another proxy too, with the same state (the same account seen by another caller).
    pub fn serve(&self, proxy: &Proxy) {
        let s = self.clone();
        proxy.hook(Box::new(move |req| s.answer(req)));
        let s = self.clone();
        proxy.hook_async(Box::new(move |req, upstream| {
            let setting = req.service == "ec2"
                && matches!(
                    req.operation.as_str(),
                    "ModifyEbsDefaultKmsKeyId" | "ResetEbsDefaultKmsKeyId"
                );
            if !setting {
                return None;
            }
            let (s, req, upstream) = (s.clone(), req.clone(), upstream.to_string());
            Some(Box::pin(
                async move { s.set_default_key(&req, &upstream).await },
            ))
        }));
    }

    /// `ModifyEbsDefaultKmsKeyId` and `ResetEbsDefaultKmsKeyId`. Both answer, and from then on
    /// `GetEbsDefaultKmsKeyId` answers, the KEY ARN, whatever identifier set it: AWS CLI examples
    /// `modify-ebs-default-kms-key-id.rst` (`--kms-key-id alias/my-cmk` answers
    /// `arn:aws:kms:us-west-2:123456789012:key/0ea3fef3-...`) and `reset-ebs-default-kms-key-id.rst`
    /// (answers `arn:aws:kms:us-west-2:123456789012:key/8c5b2c63-...`, the AWS managed key);
    /// Terraform AWS provider `internal/service/ec2/ebs_default_kms_key_test.go` (after a reset, the
    /// ARN of `alias/aws/ebs`'s target key). The key is resolved with moto's KMS `DescribeKey` in the
    /// same account and region (for `alias/aws/ebs`, moto makes the managed key, as AWS documents).
    /// A key KMS does not know: AWS says the call "can appear to complete, but eventually fails";
    /// what Get answers then is not documented, so the stub keeps the identifier as sent (a guess).
    async fn set_default_key(&self, req: &Request, upstream: &str) -> Response {
        let op = req.operation.as_str();
        let key = match op {
            "ResetEbsDefaultKmsKeyId" => "alias/aws/ebs".to_string(),
            _ => match req.param("KmsKeyId").filter(|k| !k.is_empty()) {
                Some(k) => k,
                None => {
                    return ec2_error(
                        400,
                        "MissingParameter",
                        "The request must contain the parameter KmsKeyId",
                    );
                }
            },
        };
        let described = super::proxy::moto_json(
            upstream,
            req,
            "kms",
            "TrentService.DescribeKey",
            &serde_json::json!({ "KeyId": key }),
        )
        .await;
        let arn = match described {
            Ok((200, doc)) => doc["KeyMetadata"]["Arn"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(key),
            _ => key,
        };
        let account = req.account.clone().unwrap_or_else(|| self.account.clone());
        self.state
            .lock()
            .unwrap()
            .ebs_key
            .insert(place(&account, &req.region), arn.clone());
        ok(op, &format!("<kmsKeyId>{arn}</kmsKeyId>"))
    }

    /// A region's defaults in the stub's own account.
    pub fn imds(&self, region: &str) -> ImdsDefaults {
        self.imds_in(&self.account, region)
    }

    pub fn imds_in(&self, account: &str, region: &str) -> ImdsDefaults {
        let st = self.state.lock().unwrap();
        st.imds
            .get(&place(account, region))
            .cloned()
            .unwrap_or_default()
    }

    /// Change a region's defaults as the console would (drift made by hand).
    pub fn set_imds(&self, region: &str, f: impl FnOnce(&mut ImdsDefaults)) {
        self.set_imds_in(&self.account.clone(), region, f)
    }

    pub fn set_imds_in(&self, account: &str, region: &str, f: impl FnOnce(&mut ImdsDefaults)) {
        let mut st = self.state.lock().unwrap();
        f(st.imds.entry(place(account, region)).or_default());
    }

    pub fn ebs_key(&self, region: &str) -> String {
        let st = self.state.lock().unwrap();
        st.ebs_key
            .get(&place(&self.account, region))
            .cloned()
            .unwrap_or_else(|| "alias/aws/ebs".into())
    }

    pub fn set_ebs_key(&self, region: &str, key: &str) {
        let mut st = self.state.lock().unwrap();
        st.ebs_key
            .insert(place(&self.account, region), key.to_string());
    }

    fn answer(&self, req: &Request) -> Option<Response> {
        if req.service != "ec2" {
            return None;
        }
        let op = req.operation.as_str();
        let account = req.account.clone().unwrap_or_else(|| self.account.clone());
        let region = place(&account, &req.region);
        let param = |n: &str| req.param(n);
        let mut st = self.state.lock().unwrap();
        Some(match op {
            "GetInstanceMetadataDefaults" => {
                let d = st.imds.get(&region).cloned().unwrap_or_default();
                let managed = match &d.managed_by_policy {
                    Some(m) => vec![
                        ("managedBy", Some("declarative-policy".to_string())),
                        ("managedExceptionMessage", Some(m.clone())),
                    ],
                    None => vec![],
                };
                let mut fields = vec![
                    ("httpTokens", d.http_tokens.clone()),
                    (
                        "httpPutResponseHopLimit",
                        d.hop_limit.map(|h| h.to_string()),
                    ),
                    ("httpEndpoint", d.http_endpoint.clone()),
                    ("instanceMetadataTags", d.instance_metadata_tags.clone()),
                    ("httpTokensEnforced", d.http_tokens_enforced.clone()),
                ];
                let any_set = fields.iter().any(|(_, v)| v.is_some());
                if managed.is_empty() && any_set {
                    fields.push(("managedBy", Some("account".into())));
                }
                fields.extend(managed);
                let inner: String = fields
                    .into_iter()
                    .filter_map(|(name, v)| v.map(|v| format!("<{name}>{v}</{name}>")))
                    .collect();
                ok(op, &format!("<accountLevel>{inner}</accountLevel>"))
            }
            "ModifyInstanceMetadataDefaults" => {
                let enum_param =
                    |name: &str, allowed: &[&str]| -> Result<Option<String>, Response> {
                        match param(name) {
                            None => Ok(None),
                            Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
                            Some(v) => Err(invalid(&format!("Invalid value '{v}' for {name}"))),
                        }
                    };
                let states = ["enabled", "disabled", "no-preference"];
                let parsed = (|| {
                    let tokens =
                        enum_param("HttpTokens", &["optional", "required", "no-preference"])?;
                    let endpoint = enum_param("HttpEndpoint", &states)?;
                    let tags = enum_param("InstanceMetadataTags", &states)?;
                    let enforced = enum_param("HttpTokensEnforced", &states)?;
                    let hops = match param("HttpPutResponseHopLimit") {
                        None => None,
                        Some(v) => match v.parse::<i64>() {
                            Ok(h) if h == -1 || (1..=64).contains(&h) => Some(h),
                            _ => {
                                return Err(invalid(&format!(
                                    "Invalid value '{v}' for HttpPutResponseHopLimit: 1-64, or -1"
                                )));
                            }
                        },
                    };
                    Ok((tokens, endpoint, tags, enforced, hops))
                })();
                let (tokens, endpoint, tags, enforced, hops) = match parsed {
                    Ok(p) => p,
                    Err(e) => return Some(e),
                };
                let d = st.imds.entry(region).or_default();
                // Not sent: unchanged; `no-preference` (or -1): cleared.
                let set = |slot: &mut Option<String>, v: Option<String>| match v.as_deref() {
                    None => {}
                    Some("no-preference") => *slot = None,
                    Some(_) => *slot = v,
                };
                set(&mut d.http_tokens, tokens);
                set(&mut d.http_endpoint, endpoint);
                set(&mut d.instance_metadata_tags, tags);
                set(&mut d.http_tokens_enforced, enforced);
                match hops {
                    None => {}
                    Some(-1) => d.hop_limit = None,
                    Some(h) => d.hop_limit = Some(h),
                }
                ok(op, "<return>true</return>")
            }
            "GetEbsDefaultKmsKeyId" => {
                let key = st
                    .ebs_key
                    .get(&region)
                    .cloned()
                    .unwrap_or_else(|| "alias/aws/ebs".into());
                ok(op, &format!("<kmsKeyId>{key}</kmsKeyId>"))
            }
            _ => return None,
        })
    }
}

fn ok(op: &str, inner: &str) -> Response {
    Response {
        status: 200,
        content_type: "text/xml;charset=UTF-8".into(),
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{op}Response xmlns=\"{XMLNS}\"><requestId>stub</requestId>{inner}</{op}Response>"
        ),
    }
}

fn invalid(message: &str) -> Response {
    ec2_error(400, "InvalidParameterValue", message)
}
