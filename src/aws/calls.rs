//! The record of every call a run makes, and the switch that refuses writes while reading.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::Serialize;

/// Operations that only read. Everything else counts as a write: for `--plan`, for the read-only
/// guard and for `--stats`. `SimulatePrincipalPolicy` only evaluates policies (IAM API reference: "The
/// simulation does not perform the API operations").
pub fn is_read_operation(operation: &str) -> bool {
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|p| operation.starts_with(p))
        || operation == "GenerateCredentialReport"
        || operation == "SimulatePrincipalPolicy"
        // A role session into a member account (`--org`) changes nothing in any account.
        || operation == "AssumeRole"
        // A root session into a member (centralized root access): what it may do is its task
        // policy's; `--plan` asks only for the audit task, whose actions are reads.
        || operation == "AssumeRoot"
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CallRecord {
    pub service: String,
    pub operation: String,
    pub write: bool,
}

/// Every operation this run started, in order; and a switch that refuses writes while reading.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<CallRecord>>,
    /// HTTP attempts, retries included (`len()` counts each operation once).
    attempts: AtomicUsize,
    read_only: AtomicBool,
}

impl CallLog {
    pub fn records(&self) -> Vec<CallRecord> {
        self.calls.lock().unwrap().clone()
    }
    pub fn writes(&self) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.write)
            .count()
    }
    pub fn len(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Requests sent, retries included.
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
    /// While set, any write operation fails before it is sent.
    pub fn set_read_only(&self, on: bool) {
        self.read_only.store(on, Ordering::SeqCst);
    }
}

/// The operation already has its record (a retry is an attempt, not another call).
#[derive(Debug)]
struct Recorded;

impl Storable for Recorded {
    type Storer = StoreReplace<Self>;
}

fn service_and_operation(cfg: &ConfigBag) -> (String, String) {
    cfg.load::<Metadata>()
        .map(|m| (m.service().to_string(), m.name().to_string()))
        .unwrap_or_else(|| ("unknown".into(), "unknown".into()))
}

/// The interceptor every client carries: records each call and enforces the read-only switch.
#[derive(Debug, Clone)]
pub(super) struct Recorder(pub(super) Arc<CallLog>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "aws-harden-call-recorder"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = service_and_operation(cfg);
        if !is_read_operation(&operation) && self.0.read_only.load(Ordering::SeqCst) {
            return Err(format!(
                "refused {service}:{operation}: this phase only reads (a bug in aws-harden)"
            )
            .into());
        }
        Ok(())
    }

    /// A call is recorded when its first request is about to be sent, not when it is built: a call
    /// cancelled before that (a sibling's error in a `try_join!`) never reached AWS, and the record
    /// must match what AWS (or the test proxy) saw.
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::SeqCst);
        if cfg.load::<Recorded>().is_some() {
            return Ok(());
        }
        cfg.interceptor_state().store_put(Recorded);
        let (service, operation) = service_and_operation(cfg);
        let write = !is_read_operation(&operation);
        tracing::debug!(%service, %operation, write, "call");
        self.0.calls.lock().unwrap().push(CallRecord {
            service,
            operation,
            write,
        });
        Ok(())
    }
}
