//! For unit tests: an SDK configuration whose HTTP client answers every request with the same
//! canned 200 response, and counts the requests sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};

#[derive(Debug, Clone)]
pub struct Replay {
    sent: Arc<AtomicUsize>,
    /// The URI of each request sent, in order.
    uris: Arc<std::sync::Mutex<Vec<String>>>,
    body: &'static str,
}

impl Replay {
    pub fn new(body: &'static str) -> Replay {
        Replay {
            sent: Arc::default(),
            uris: Arc::default(),
            body,
        }
    }

    /// Requests sent so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// The URIs of the requests sent so far (where the SDK sent them).
    pub fn uris(&self) -> Vec<String> {
        self.uris.lock().unwrap().clone()
    }

    /// An SDK configuration in us-east-1 signing with `access_key_id`, answered by this replay.
    pub fn sdk(&self, access_key_id: &str) -> SdkConfig {
        let connector = SharedHttpConnector::new(self.clone());
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        access_key_id,
                        "secret",
                        None,
                        None,
                        "test",
                    ),
                ),
            )
            .http_client(http_client_fn(move |_, _| connector.clone()))
            .build()
    }
}

impl HttpConnector for Replay {
    fn call(
        &self,
        request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
    ) -> HttpConnectorFuture {
        self.uris.lock().unwrap().push(request.uri().to_string());
        self.sent.fetch_add(1, Ordering::SeqCst);
        HttpConnectorFuture::ready(Ok(aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
            aws_smithy_types::body::SdkBody::from(self.body),
        )))
    }
}
