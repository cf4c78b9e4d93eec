//! SDK errors and results in words, absence as a state, and waiting for eventual consistency.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

/// An error and its causes on one line ("dispatch failure" alone tells nobody anything). Service
/// errors show AWS's code and message.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Turn an SDK error into a message with its cause chain and AWS's error code.
pub fn sdk_error<E>(what: impl std::fmt::Display, e: E) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    anyhow!("{what}: {}", error_chain(&e))
}

/// The AWS error code of an SDK error, if the service sent one.
pub fn error_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// A failure worth trying again: no answer (connection dropped or lost, timeout), a 5xx, or throttling.
/// For the calls aws-harden must not let the SDK retry blindly (KMS `CreateKey`).
pub fn is_transient<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => {
            se.raw().status().is_server_error()
                || se.err().code().is_some_and(|c| {
                    [
                        "Throttling",
                        "ThrottlingException",
                        "TooManyRequestsException",
                        "RequestLimitExceeded",
                    ]
                    .contains(&c)
                })
        }
        _ => false,
    }
}

/// `Ok(None)` when the call failed with one of `codes` (e.g. `NoSuchEntity`): absence is a state.
pub fn absent_on<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    codes: &[&str],
    what: impl std::fmt::Display,
) -> anyhow::Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if error_code(&e).is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(sdk_error(what, e)),
    }
}

/// A create whose answer was lost (the connection dropped after AWS acted) is retried by the SDK
/// and then fails with the service's "already exists" code (`EntityAlreadyExists` in IAM,
/// `AlreadyExistsException` in KMS, ...): the thing exists, as asked. `Ok(false)` then; the
/// engine's verification checks the resource afterwards like any other, so one that exists but
/// differs is still caught.
pub fn created_or_exists<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    already_exists: &[&str],
    what: impl std::fmt::Display,
) -> anyhow::Result<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match absent_on(result, already_exists, &what)? {
        Some(_) => Ok(true),
        None => {
            tracing::info!("{what}: it already exists (a retried request's first attempt made it)");
            Ok(false)
        }
    }
}

/// How long a write waits for something it depends on that was just created (IAM is eventually
/// consistent: a new user or group can be "not found" for a few seconds).
pub const CONSISTENCY_WAIT: Duration = Duration::from_secs(10);

/// Run `call`, and while it fails with one of `codes` (e.g. `NoSuchEntity` for a user created a
/// moment ago), try again with exponential backoff for at most `CONSISTENCY_WAIT`. Transient
/// network and service errors are the SDK's retry's business, not this.
pub async fn when_visible<T, E, R, F, Fut>(
    codes: &[&str],
    what: impl std::fmt::Display,
    mut call: F,
) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
{
    let deadline = tokio::time::Instant::now() + CONSISTENCY_WAIT;
    let mut delay = Duration::from_millis(250);
    loop {
        match call().await {
            Err(e)
                if error_code(&e).is_some_and(|c| codes.contains(&c))
                    && tokio::time::Instant::now() + delay < deadline =>
            {
                tracing::info!(
                    code = error_code(&e),
                    "{what}: not visible yet, waiting {delay:?}"
                );
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
}

/// Attach a description to an SDK result.
pub trait SdkResultExt<T> {
    fn describe(self, what: impl std::fmt::Display) -> anyhow::Result<T>;
}

impl<T, E> SdkResultExt<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn describe(self, what: impl std::fmt::Display) -> anyhow::Result<T> {
        self.map_err(|e| sdk_error(what, e))
    }
}
