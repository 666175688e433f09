//! The scheduler's one error type.
//!
//! Almost nothing the scheduler does can fail in a way its caller could act
//! on: API errors while binding or reporting are retried through the
//! scheduling queue or logged, and watches retry by themselves. What is
//! left is the loop losing its inputs.

/// Why [`crate::run`] returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An informer's task ended, so the cache can no longer be trusted.
    /// Not retryable in-process: restart the scheduler.
    #[error("an informer stopped; the scheduler cache is no longer kept up to date")]
    InformerStopped,
}
