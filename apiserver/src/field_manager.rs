//! The API server's side of field ownership (`metadata.managedFields`):
//! who a request writes as, each served kind's field shape (cached for the
//! built-in kinds, read from the CRD for custom ones), and the 409 an apply
//! conflict answers. The rules themselves are `minik_api::managed_fields`.
//!
//! The manager is the request's `fieldManager`, or else the first part of
//! its `User-Agent` (`kubectl/v1.33.0 …` → `kubectl`), as kube-apiserver
//! names it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use minik_api::field_shape::KindSchema;
use minik_api::managed_fields::{self, ApplyError, Writer};
use minik_api::ResourceInfo;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::rest::Ctx;

/// Records field ownership for one request's writes.
#[derive(Clone)]
pub struct Recorder {
    schema: Arc<KindSchema>,
    writer: Writer,
}

impl Recorder {
    pub fn new(ctx: &Ctx) -> Recorder {
        let manager = match ctx.params.get("fieldManager") {
            Some(m) => m.to_string(),
            None => ctx
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.split('/').next().unwrap_or("").to_string())
                .unwrap_or_default(),
        };
        let target = &ctx.target;
        Recorder {
            schema: schema(target.served),
            writer: Writer {
                manager,
                api_version: target.served.api_version(),
                subresource: target.subresource.clone(),
                status_is_subresource: target.info.has_subresource("status"),
            },
        }
    }

    /// Accounts an update (or a create, from `{}`) in `new`'s managedFields.
    pub fn record(&self, old: &Value, new: &mut Value) {
        managed_fields::record_update(old, new, &self.schema.root(), &self.writer);
    }

    /// A create: `applied` is the entry list of an apply that creates the
    /// object; any other create is an update from nothing.
    pub fn record_create(&self, obj: &mut Value, applied: Option<&Value>) {
        match applied {
            Some(entries) => obj["metadata"]["managedFields"] = entries.clone(),
            None => self.record(&json!({}), obj),
        }
    }

    /// Server-side apply of `config` to `live` (`{}` for a new object).
    pub fn apply(&self, live: &Value, config: &Value, force: bool) -> Result<Value, ApiError> {
        if config.pointer("/metadata/managedFields").is_some() {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        managed_fields::apply(live, config, &self.schema.root(), &self.writer, force).map_err(|e| {
            match e {
                ApplyError::Conflicts(c) => {
                    let mut err = ApiError::new(409, "Conflict", c.message());
                    err.details = Some(json!({"causes": c.causes()}));
                    err
                }
                ApplyError::Invalid(why) => ApiError::new(
                    422,
                    "Invalid",
                    format!("failed to create typed patch object: {why}"),
                ),
            }
        })
    }
}

/// (group, version, plural).
type GroupVersionResource = (&'static str, &'static str, &'static str);

/// The field shape of a served kind. Built-in kinds' shapes never change
/// while the server runs and are built once; custom kinds' follow their CRD.
fn schema(served: &'static ResourceInfo) -> Arc<KindSchema> {
    static BUILTIN: OnceLock<Mutex<HashMap<GroupVersionResource, Arc<KindSchema>>>> =
        OnceLock::new();
    if minik_api::catalogue::lookup(served.group, served.version, served.plural).is_none() {
        return Arc::new(KindSchema::of(served));
    }
    let cache = BUILTIN.get_or_init(Default::default);
    let key = (served.group, served.version, served.plural);
    if let Some(s) = cache.lock().expect("schema cache").get(&key) {
        return s.clone();
    }
    let built = Arc::new(KindSchema::of(served));
    cache
        .lock()
        .expect("schema cache")
        .insert(key, built.clone());
    built
}
