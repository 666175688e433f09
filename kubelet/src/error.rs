//! The kubelet's one error type. Each variant says whether retrying can
//! help: API and runtime errors usually pass (the pod worker syncs again),
//! configuration errors do not.

/// Everything that can go wrong inside the kubelet library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or could not be reached (retryable).
    #[error("API server: {0}")]
    Kube(#[from] kube::Error),
    /// The container runtime failed an operation (retryable).
    #[error("container runtime: {0}")]
    Runtime(String),
    /// A container, pod or exec session the request named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be served as asked (for example logs of a
    /// container that never started).
    #[error("{0}")]
    BadRequest(String),
    /// Local file system work (pod directories, volumes) failed (retryable).
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The kubelet was started with settings that cannot work (not retryable).
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether a later attempt of the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Kube(_) | Error::Runtime(_) | Error::Io { .. })
    }
}

impl From<bollard::errors::Error> for Error {
    fn from(e: bollard::errors::Error) -> Self {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message,
            } => Error::NotFound(message),
            other => Error::Runtime(other.to_string()),
        }
    }
}
