//! The controller crate's one error type. Every reconcile returns it; each
//! controller's `error_policy` requeues with a delay, so the variants say
//! whether waiting can help.

/// Why a reconcile did not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server failed (retryable: conflicts, the server
    /// restarting, a watch cache a step behind all clear up on a retry).
    #[error("API request failed: {0}")]
    Api(#[from] kube::Error),
    /// An object could not be read or built as its expected type (retryable
    /// only once the object changes; the controller waits for that).
    #[error("malformed object: {0}")]
    Malformed(String),
    /// Part of a multi-request step failed, e.g. deleting some of a
    /// namespace's kinds (retryable: the next pass redoes the whole step).
    #[error("{0}")]
    Incomplete(String),
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Malformed(e.to_string())
    }
}

impl Error {
    /// A 409 from the API server: the write was based on an out-of-date
    /// object, and a retry that reads the news will do.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Api(e) if minik_client::errors::is_conflict(e))
    }
}
