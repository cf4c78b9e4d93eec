//! The S3 Control client, and why it needs one fix behind an endpoint override.
//!
//! S3 Control's account-scoped operations (GetPublicAccessBlock, PutPublicAccessBlock, ...) carry
//! the endpoint trait `hostPrefix: "{AccountId}."` in the service model, and the SDK's endpoint
//! rules put the account ID in front of the host: `https://{AccountId}.s3-control.{region}.amazonaws.com`
//! on AWS, and `{scheme}://{AccountId}.{authority}` in front of an endpoint override too (the
//! generated endpoint tests of aws-sdk-s3control: `https://example.com` becomes
//! `https://123456789012.example.com`). With `AWS_ENDPOINT_URL=http://127.0.0.1:PORT` (an emulator
//! or the tests' recording proxy) that name, `123456789012.127.0.0.1`, resolves nowhere, so every
//! call would fail with a dispatch error.
//!
//! So when, and only when, an endpoint override is set and its host is an IP address or
//! `localhost`, `OverrideHost` sends the request to the override's own host (a DNS name keeps the
//! prefix: an S3 Control VPC endpoint expects it). The account ID still travels in the `x-amz-account-id` header, which is
//! what the service reads (GetPublicAccessBlock, S3 API reference: "x-amz-account-id: AccountId").
//! It rewrites the URI in `modify_before_signing`: the orchestrator applies the resolved endpoint
//! to the request before that hook and signs right after it, so the SigV4 signature (which covers
//! the host) is computed for the host the request really goes to. (`modify_before_transmit` runs
//! after signing: a rewrite there would leave a signature for the other host.) Without an override
//! nothing changes: the interceptor finds no `EndpointUrl` in the configuration and does nothing.

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::endpoint_config::EndpointUrl;

use super::calls::{CallLog, Recorder};

/// The S3 Control client: the run's configuration (endpoint overrides included, e.g.
/// `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3_CONTROL`), the call recorder, and `OverrideHost`.
pub(super) fn client(sdk: &SdkConfig, calls: std::sync::Arc<CallLog>) -> aws_sdk_s3control::Client {
    aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(sdk)
            .interceptor(Recorder(calls))
            .interceptor(OverrideHost)
            .build(),
    )
}

/// Behind an endpoint override, sends an account-scoped S3 Control request to the override's host
/// instead of `{AccountId}.{override host}` (see the module's documentation).
#[derive(Debug, Clone)]
pub(super) struct OverrideHost;

/// `scheme://authority` of a URL, without its path: `("http", "127.0.0.1:4566")`.
fn scheme_and_authority(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    (!authority.is_empty()).then_some((scheme, authority))
}

/// Whether the override's host is an IP address or `localhost`: a name under which
/// `{AccountId}.` can never be a real host. A DNS name keeps the SDK's prefix: an S3 Control VPC
/// endpoint (`control.vpce-....s3.REGION.vpce.amazonaws.com`) answers under
/// `{AccountId}.control.vpce-...` ("Accessing Amazon S3 Control through an interface endpoint",
/// S3 user guide), and so may a proxy of one's own.
fn is_loopback_style(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok()
}

/// The request URI sent to the override's host, when the SDK put `{account_id}.` in front of it;
/// `None` for any other URI (left as it is).
fn rewritten(uri: &str, override_url: &str, account_id: &str) -> Option<String> {
    let (scheme, authority) = scheme_and_authority(override_url)?;
    if !is_loopback_style(authority) {
        return None;
    }
    let prefixed = format!("{scheme}://{account_id}.{authority}");
    let rest = uri.strip_prefix(&prefixed)?;
    // Only a whole authority: `...:4566/path`, not `...:45661/path`.
    (rest.is_empty() || rest.starts_with(['/', '?']))
        .then(|| format!("{scheme}://{authority}{rest}"))
}

impl Intercept for OverrideHost {
    fn name(&self) -> &'static str {
        "aws-harden-s3control-override-host"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(EndpointUrl(override_url)) = cfg.load::<EndpointUrl>() else {
            return Ok(());
        };
        let request = context.request_mut();
        let Some(account_id) = request.headers().get("x-amz-account-id") else {
            return Ok(());
        };
        if let Some(uri) = rewritten(request.uri(), override_url, account_id) {
            tracing::debug!(%uri, "s3control: sending to the endpoint override's host");
            request.set_uri(uri)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_config::{BehaviorVersion, Region};
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

    use super::*;

    #[test]
    fn only_the_account_prefixed_override_host_is_rewritten() {
        let o = "http://127.0.0.1:4566";
        let path = "/v20180820/configuration/publicAccessBlock";
        assert_eq!(
            rewritten(
                &format!("http://123456789012.127.0.0.1:4566{path}"),
                o,
                "123456789012"
            ),
            Some(format!("http://127.0.0.1:4566{path}"))
        );
        // With a path in the override, and a trailing slash.
        assert_eq!(
            rewritten(
                "http://123456789012.localhost:4566/x",
                "http://localhost:4566/",
                "123456789012"
            ),
            Some("http://localhost:4566/x".into())
        );
        // Another account, another port, another host: left alone.
        for uri in [
            format!("http://999999999999.127.0.0.1:4566{path}"),
            format!("http://123456789012.127.0.0.1:45661{path}"),
            format!("https://123456789012.s3-control.us-east-1.amazonaws.com{path}"),
            format!("http://127.0.0.1:4566{path}"),
        ] {
            assert_eq!(rewritten(&uri, o, "123456789012"), None, "{uri}");
        }
        assert_eq!(scheme_and_authority("not a url"), None);
        // A DNS name (a VPC endpoint, say) keeps the SDK's account prefix.
        let vpce = "https://control.vpce-1a2b.s3.us-east-1.vpce.amazonaws.com";
        assert_eq!(
            rewritten(
                &format!(
                    "https://123456789012.control.vpce-1a2b.s3.us-east-1.vpce.amazonaws.com{path}"
                ),
                vpce,
                "123456789012"
            ),
            None
        );
        assert!(is_loopback_style("[::1]:4566"));
        assert!(is_loopback_style("127.0.0.1"));
        assert!(!is_loopback_style("moto.internal:5000"));
    }

    /// Records each request as the HTTP client receives it (after signing), answers 200 with an
    /// empty configuration.
    #[derive(Debug, Clone, Default)]
    struct Sent(Arc<Mutex<Vec<SentRequest>>>);

    /// A request's URI, its `authorization` header and its `host` header if it has one.
    type SentRequest = (String, String, Option<String>);

    impl HttpConnector for Sent {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let auth = request.headers().get("authorization").unwrap_or_default();
            let host = request.headers().get("host").map(str::to_string);
            self.0
                .lock()
                .unwrap()
                .push((request.uri().to_string(), auth.to_string(), host));
            HttpConnectorFuture::ready(Ok(aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>\
                     </PublicAccessBlockConfiguration>",
                ),
            )))
        }
    }

    async fn sent_to(endpoint: Option<&str>) -> SentRequest {
        let sent = Sent::default();
        let connector = SharedHttpConnector::new(sent.clone());
        let mut sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "AKIATEST", "secret", None, None, "test",
                    ),
                ),
            )
            .http_client(http_client_fn(move |_, _| connector.clone()));
        if let Some(e) = endpoint {
            sdk = sdk.endpoint_url(e);
        }
        let s3control = client(&sdk.build(), Arc::default());
        s3control
            .get_public_access_block()
            .account_id("123456789012")
            .send()
            .await
            .expect("answered by the recording connector");
        let sent = sent.0.lock().unwrap();
        assert_eq!(sent.len(), 1);
        sent[0].clone()
    }

    #[tokio::test]
    async fn an_override_gets_the_request_and_without_one_nothing_changes() {
        let (uri, auth, host) = sent_to(Some("http://127.0.0.1:4566")).await;
        assert_eq!(
            uri,
            "http://127.0.0.1:4566/v20180820/configuration/publicAccessBlock"
        );
        // Signed after the rewrite, with the host among the signed headers; no Host header naming
        // the prefixed name is left for the HTTP client to send.
        assert!(auth.contains("SignedHeaders=host;"), "{auth}");
        assert!(
            host.as_deref().is_none_or(|h| h == "127.0.0.1:4566"),
            "{host:?}"
        );
        assert!(auth.contains("/us-east-1/s3/aws4_request"), "{auth}");

        let (uri, _, _) = sent_to(None).await;
        assert_eq!(
            uri,
            "https://123456789012.s3-control.us-east-1.amazonaws.com/v20180820/configuration/publicAccessBlock"
        );
    }
}
