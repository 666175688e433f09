//! CRUD against the API server, as methods on [`Ctx`]: get, list, create,
//! replace, patch, delete, and raw GETs/PATCHes of any path.
//!
//! Objects go through `kube::Api<DynamicObject>` with an `ApiResource`
//! built from minik's compiled-in catalogue (the same one the API server
//! serves, so no discovery round trip is needed) and come back as plain
//! JSON, which is what the printers and describers read. Server-side
//! Tables and subresources the catalogue has no type for are raw requests
//! (`raw_get`, `raw_merge_patch`), because `Api` always asks for objects.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use minik_api::ResourceInfo;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};

impl Ctx {
    /// An `Api<DynamicObject>` for a resource in a namespace (ignored for
    /// cluster-scoped kinds; `None` means all namespaces).
    pub async fn api(&self, info: &ResourceInfo, ns: Option<&str>) -> Result<Api<DynamicObject>> {
        let client = self.client().await?;
        let ar = api_resource(info);
        Ok(match (info.namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(client, ns, &ar),
            _ => Api::all_with(client, &ar),
        })
    }

    /// GET one object.
    pub async fn get(&self, info: &ResourceInfo, ns: &str, name: &str) -> Result<Value> {
        let api = self.api(info, Some(ns)).await?;
        self.object(api.get(name).await).await
    }

    /// GET one object, `None` when it does not exist.
    pub async fn get_opt(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
    ) -> Result<Option<Value>> {
        match self.get(info, ns, name).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// LIST objects (`ns` `None`: all namespaces) with optional selectors.
    pub async fn list(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<Vec<Value>> {
        let api = self.api(info, ns).await?;
        let mut lp = ListParams::default();
        if let Some(l) = labels.filter(|l| !l.is_empty()) {
            lp = lp.labels(l);
        }
        if let Some(f) = fields.filter(|f| !f.is_empty()) {
            lp = lp.fields(f);
        }
        match api.list(&lp).await {
            Ok(list) => Ok(list
                .items
                .into_iter()
                .map(|o| with_type(to_value(o), info))
                .collect()),
            Err(e) => Err(self.kube_err(e).await),
        }
    }

    /// POST a new object.
    pub async fn create(
        &self,
        info: &ResourceInfo,
        ns: &str,
        obj: &Value,
        dry_run: bool,
    ) -> Result<Value> {
        let api = self.api(info, Some(ns)).await?;
        let data = to_dynamic(obj)?;
        let pp = PostParams {
            dry_run,
            field_manager: Some("kubectl-client-side-apply".into()),
        };
        self.object(api.create(&pp, &data).await).await
    }

    /// PUT a whole object (optimistic concurrency on its resourceVersion).
    pub async fn replace(&self, info: &ResourceInfo, ns: &str, obj: &Value) -> Result<Value> {
        let api = self.api(info, Some(ns)).await?;
        let name = minik_api::meta::name(obj).to_string();
        let data = to_dynamic(obj)?;
        self.object(api.replace(&name, &PostParams::default(), &data).await)
            .await
    }

    /// PATCH with a strategic merge patch (what kubectl sends for built-in kinds).
    pub async fn patch(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        patch: &Value,
        dry_run: bool,
    ) -> Result<Value> {
        self.send_patch(info, ns, name, &Patch::Strategic(patch), dry_run)
            .await
    }

    /// Server-side apply of `obj` as `manager` (`force`: take the fields
    /// other managers own).
    pub async fn server_side_apply(
        &self,
        info: &ResourceInfo,
        ns: &str,
        obj: &Value,
        manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<Value> {
        let api = self.api(info, Some(ns)).await?;
        let name = minik_api::meta::name(obj).to_string();
        let pp = PatchParams {
            field_manager: Some(manager.to_string()),
            force,
            dry_run,
            ..Default::default()
        };
        self.object(api.patch(&name, &pp, &Patch::Apply(obj)).await)
            .await
    }

    /// PATCH with a JSON merge patch.
    pub async fn merge_patch(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value> {
        self.send_patch(info, ns, name, &Patch::Merge(patch), false)
            .await
    }

    async fn send_patch(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        patch: &Patch<&Value>,
        dry_run: bool,
    ) -> Result<Value> {
        let api = self.api(info, Some(ns)).await?;
        let pp = PatchParams {
            field_manager: Some("kubectl".into()),
            dry_run,
            ..Default::default()
        };
        self.object(api.patch(name, &pp, patch).await).await
    }

    /// DELETE one object (background propagation, kubectl's default).
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        grace: Option<u32>,
        dry_run: bool,
    ) -> Result<()> {
        let api = self.api(info, Some(ns)).await?;
        let mut dp = DeleteParams::background();
        dp.grace_period_seconds = grace;
        dp.dry_run = dry_run;
        match api.delete(name, &dp).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.kube_err(e).await),
        }
    }

    /// The server's answer as JSON, or its error as miniktl's.
    async fn object(
        &self,
        answer: std::result::Result<DynamicObject, kube::Error>,
    ) -> Result<Value> {
        match answer {
            Ok(o) => Ok(to_value(o)),
            Err(e) => Err(self.kube_err(e).await),
        }
    }

    /// A GET of any path, as JSON (`Accept` chosen by the caller).
    pub async fn raw_get(&self, path: &str, accept: &str) -> Result<Value> {
        let client = self.client().await?;
        let req = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(Vec::new())
            .map_err(|e| Error::Client(e.to_string()))?;
        match client.request::<Value>(req).await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.kube_err(e).await),
        }
    }

    /// A GET of any path as text (a container's log).
    pub async fn raw_text(&self, path: &str) -> Result<String> {
        let client = self.client().await?;
        let req = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| Error::Client(e.to_string()))?;
        match client.request_text(req).await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.kube_err(e).await),
        }
    }

    /// A POST of a JSON body to any path (a pod's `eviction` subresource).
    pub async fn raw_post(&self, path: &str, body: &Value) -> Result<Value> {
        self.raw_send(http::Method::POST, path, "application/json", body)
            .await
    }

    /// A strategic merge patch of any path (a pod's `ephemeralcontainers`).
    pub async fn raw_strategic_patch(&self, path: &str, patch: &Value) -> Result<Value> {
        self.raw_send(
            http::Method::PATCH,
            path,
            "application/strategic-merge-patch+json",
            patch,
        )
        .await
    }

    /// A JSON merge patch of any path (a `scale` subresource, whose
    /// `autoscaling/v1` Scale kind is not in the catalogue).
    pub async fn raw_merge_patch(&self, path: &str, patch: &Value) -> Result<Value> {
        self.raw_send(
            http::Method::PATCH,
            path,
            "application/merge-patch+json",
            patch,
        )
        .await
    }

    /// Sends `body` as `content_type` to any path; the answer as JSON.
    async fn raw_send(
        &self,
        method: http::Method,
        path: &str,
        content_type: &str,
        body: &Value,
    ) -> Result<Value> {
        let client = self.client().await?;
        let body = serde_json::to_vec(body).expect("json");
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body)
            .map_err(|e| Error::Client(e.to_string()))?;
        match client.request::<Value>(req).await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.kube_err(e).await),
        }
    }
}

/// The `ApiResource` for a catalogue entry.
pub fn api_resource(info: &ResourceInfo) -> ApiResource {
    ApiResource {
        group: info.group.to_string(),
        version: info.version.to_string(),
        api_version: info.api_version(),
        kind: info.kind.to_string(),
        plural: info.plural.to_string(),
    }
}

/// Sets `apiVersion` and `kind` (list items come without them).
pub fn with_type(mut obj: Value, info: &ResourceInfo) -> Value {
    if let Some(m) = obj.as_object_mut() {
        if !m.contains_key("apiVersion") {
            m.insert("apiVersion".into(), Value::String(info.api_version()));
        }
        if !m.contains_key("kind") {
            m.insert("kind".into(), Value::String(info.kind.to_string()));
        }
    }
    obj
}

/// Plain JSON as the `DynamicObject` kube sends.
fn to_dynamic(obj: &Value) -> Result<DynamicObject> {
    serde_json::from_value(obj.clone()).map_err(|e| Error::Usage(format!("invalid object: {e}")))
}

/// A `DynamicObject` as plain JSON.
pub fn to_value(o: DynamicObject) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}
