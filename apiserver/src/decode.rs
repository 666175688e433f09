//! The typed boundary of a write: every object a client sends (create,
//! update, the result of a patch) is decoded into its kind's type as
//! kube-apiserver decodes into its Go struct (see `minik_api::kinds`), and
//! the request's `fieldValidation` decides what happens to fields the type
//! does not declare:
//! - `Ignore`: dropped silently;
//! - `Warn` (the default, as in Kubernetes 1.27+): dropped, one `Warning`
//!   header per field (`kubectl` prints them);
//! - `Strict`: the request fails with 400 `strict decoding error`.
//!
//! A field of the wrong type (`"replicas": "three"`) always fails: 400 for a
//! body, 422 for the result of a patch, in kube-apiserver's words.

use std::sync::{Arc, Mutex};

use minik_api::catalogue::ResourceInfo;
use minik_api::kinds::DecodeError;
use serde_json::Value;

use crate::error::ApiError;
use crate::request::Params;

/// What to do with unknown fields (the `fieldValidation` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    /// Parses `fieldValidation`; an unknown value is refused as kube-apiserver does.
    pub fn from_params(params: &Params) -> Result<Self, ApiError> {
        match params.get("fieldValidation") {
            None | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

/// Where a body came from: its type errors are reported differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The request body of a create or update.
    Body,
    /// The object a patch produced.
    Patch,
}

/// One request's decoder: the mode, and the warnings collected for the
/// response (shared with the store mutation closures, which run elsewhere).
#[derive(Debug, Clone)]
pub struct Decoder {
    pub mode: FieldValidation,
    warnings: Arc<Mutex<Vec<String>>>,
}

impl Decoder {
    pub fn new(mode: FieldValidation) -> Self {
        Decoder {
            mode,
            warnings: Arc::default(),
        }
    }

    /// Checks `obj` (in storage form) against `info`'s type and drops the
    /// fields the type does not declare, as `fieldValidation` says.
    /// `served` is the resource the client addressed (named in messages).
    pub fn decode(
        &self,
        info: &ResourceInfo,
        served: &ResourceInfo,
        obj: &mut Value,
        source: Source,
    ) -> Result<(), ApiError> {
        let Some(result) = info.strategy.decode(info, obj) else {
            return Ok(());
        };
        let prefix = format!(
            "{} in version \"{}\" cannot be handled as a {}",
            served.kind, served.version, served.kind
        );
        let decoded = match result {
            Ok(d) => d,
            Err(DecodeError::Type(msg)) => {
                return Err(match source {
                    Source::Body => ApiError::bad_request(format!("{prefix}: {msg}")),
                    Source::Patch => ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "{} \"{}\" is invalid: patch: Invalid value: \"...\": {msg}",
                            served.qualified_kind(),
                            minik_api::meta::name(obj)
                        ),
                    ),
                })
            }
        };
        if decoded.unknown_fields.is_empty() {
            return Ok(());
        }
        match self.mode {
            FieldValidation::Strict => {
                let fields: Vec<String> = decoded
                    .unknown_fields
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "{prefix}: strict decoding error: {}",
                    fields.join(", ")
                )));
            }
            FieldValidation::Warn => {
                let mut warnings = self.warnings.lock().expect("warnings lock");
                for f in &decoded.unknown_fields {
                    warnings.push(format!("unknown field \"{f}\""));
                }
            }
            FieldValidation::Ignore => {}
        }
        if let Some(object) = decoded.object {
            *obj = object;
        }
        Ok(())
    }

    /// Adds a warning for the client (admission's, beside unknown fields).
    pub fn warn(&self, text: String) {
        self.warnings.lock().expect("warnings lock").push(text);
    }

    /// The `Warning` header values for the response (RFC 7234 form, code 299).
    pub fn warning_headers(&self) -> Vec<String> {
        let warnings = self.warnings.lock().expect("warnings lock");
        warnings.iter().map(|w| warning_header(w)).collect()
    }
}

/// One `Warning` header value, as kube-apiserver writes it: code 299, no
/// agent, the text quoted.
pub fn warning_header(text: &str) -> String {
    format!("299 - {}", serde_json::to_string(text).expect("a string"))
}
