//! miniktl's one error type, and how each error is shown to the user.
//!
//! Mirrors kubectl's conventions: an error the API server returned prints as
//! `Error from server (NotFound): deployments.apps "x" not found`; anything
//! found on the client side prints as `error: ...`. Every error makes the
//! process exit non-zero (exec's remote exit code is passed through as is).

use std::path::PathBuf;

/// Everything that can make a miniktl command fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server answered with a `Status` failure.
    #[error("Error from server ({reason}): {message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    /// Nothing listens at the kubeconfig's server address.
    #[error(
        "the connection to the server {server} was refused: the minik cluster is not running.\n\
         Start it with `miniktl cluster up` (or point --kubeconfig/KUBECONFIG at a running cluster)"
    )]
    ConnectionRefused { server: String },
    /// No kubeconfig could be found or read.
    #[error("{0}")]
    Kubeconfig(String),
    /// A manifest could not be parsed: file, document index (0-based as kubectl
    /// counts them in messages: the first document is 1 here), line and column.
    #[error("error parsing {file}: document {doc}, line {line}, column {column}: {message}")]
    Yaml {
        file: String,
        doc: usize,
        line: u64,
        column: u64,
        message: String,
    },
    /// A kind or resource type the server does not serve.
    #[error("{what}\nThe server serves: {served}")]
    UnknownKind { what: String, served: String },
    /// Bad flags or arguments (kubectl's `error: ...` usage errors).
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Any other I/O failure (terminal, sockets, processes).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A failure of the kube client that is not an API `Status`.
    #[error("{0}")]
    Client(String),
    /// A remote command (`exec`) ended with a non-zero exit code.
    #[error("command terminated with exit code {0}")]
    ExitCode(i32),
    /// Several independent operations failed (`delete a b`, `apply -f dir`):
    /// each one was already reported as it happened.
    #[error("{0} operation(s) failed")]
    Reported(usize),
    /// A negative answer already printed: `auth can-i` says "no", `diff`
    /// printed differences; exit 1 with nothing more on stderr.
    #[error("no")]
    No,
    /// `cluster up/down/status` problems.
    #[error("{0}")]
    Cluster(String),
    /// A wait (`rollout status`, `delete --wait`, `wait`) ran out of time.
    #[error("{0}")]
    Timeout(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the API server said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { code: 404, .. })
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::ExitCode(code) => *code,
            _ => 1,
        }
    }

    /// The text printed on stderr: kubectl prefixes client-side errors with
    /// `error: ` and prints server errors as they are.
    pub fn render(&self) -> String {
        match self {
            // kubectl words validation failures its own way.
            Error::Api {
                reason, message, ..
            } if reason == "Invalid" && message.contains(" is invalid") => {
                format!("The {message}")
            }
            Error::Api { .. } | Error::ExitCode(_) => self.to_string(),
            Error::Reported(_) | Error::No => String::new(),
            _ => format!("error: {self}"),
        }
    }

    /// Converts a kube client error, recognising "connection refused" and
    /// API `Status` failures anywhere in its chain of sources.
    pub fn from_kube(err: kube::Error, server: &str) -> Error {
        if let kube::Error::Api(status) = &err {
            return Error::Api {
                code: status.code,
                reason: if status.reason.is_empty() {
                    reason_for(status.code).to_string()
                } else {
                    status.reason.clone()
                },
                message: status.message.clone(),
            };
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return Error::ConnectionRefused {
                        server: host_port(server),
                    };
                }
            }
            if e.to_string().contains("Connection refused") {
                return Error::ConnectionRefused {
                    server: host_port(server),
                };
            }
            source = e.source();
        }
        Error::Client(err.to_string())
    }
}

/// `http://127.0.0.1:6443` → `127.0.0.1:6443`, as kubectl names servers.
fn host_port(server: &str) -> String {
    server
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

/// The `reason` kube-apiserver uses for a status code, when a `Status` has none.
fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_print_like_kubectl() {
        let e = Error::Api {
            code: 404,
            reason: "NotFound".into(),
            message: "deployments.apps \"x\" not found".into(),
        };
        assert_eq!(
            e.render(),
            "Error from server (NotFound): deployments.apps \"x\" not found"
        );
        assert!(Error::Usage("bad".into()).render().starts_with("error: "));
        assert_eq!(Error::ExitCode(3).exit_code(), 3);
        let invalid = Error::Api {
            code: 422,
            reason: "Invalid".into(),
            message: "ConfigMap \"Bad\" is invalid: metadata.name: Invalid value".into(),
        };
        assert_eq!(
            invalid.render(),
            "The ConfigMap \"Bad\" is invalid: metadata.name: Invalid value"
        );
    }
}
