//! What every command runs with: where output goes ([`Io`]), which cluster
//! and namespace it talks to ([`Ctx`]), and the few request shapes miniktl
//! needs from the API server.
//!
//! Mirrors kubectl's `genericclioptions` + `cmdutil.Factory`: the kubeconfig
//! is found from `--kubeconfig`, then `KUBECONFIG`, then (minik's addition)
//! `$MINIK_HOME/kubeconfig` written by `miniktl cluster up`, then
//! `~/.kube/config`. The client is built lazily, so `miniktl cluster up`
//! and `miniktl version --client` work without a cluster.
//!
//! CRUD goes through `kube::Api<DynamicObject>` with an `ApiResource` built
//! from minik's compiled-in catalogue (the same one the API server serves,
//! so no discovery round trip is needed). Server-side Tables and watches of
//! Tables are plain requests with kubectl's Accept header, because `Api`
//! always asks for objects.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, WatchEvent};
use minik_api::ResourceInfo;
use serde_json::Value;

use crate::error::{Error, Result};

/// kubectl's Accept header for `get`: a Table, falling back to plain JSON.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// A cloneable, thread-safe writer (stdout, stderr, or a test's buffer).
#[derive(Clone)]
pub struct Out(Arc<Mutex<Box<dyn Write + Send>>>);

impl Out {
    pub fn new(w: impl Write + Send + 'static) -> Self {
        Out(Arc::new(Mutex::new(Box::new(w))))
    }

    /// A writer that collects into a shared buffer (for tests and for
    /// capturing a sub-command's output).
    pub fn buffer() -> (Out, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        (Out::new(SharedBuf(buf.clone())), buf)
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("writer lock").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().expect("writer lock").flush()
    }
}

/// A `Write` into an `Arc<Mutex<Vec<u8>>>`.
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where standard input comes from.
#[derive(Clone)]
pub enum Input {
    /// The process's own stdin (possibly a terminal).
    Process,
    /// Fixed bytes (tests; `-f -` after reading).
    Bytes(Arc<Vec<u8>>),
}

/// A command's standard streams.
#[derive(Clone)]
pub struct Io {
    pub out: Out,
    pub err: Out,
    pub stdin: Input,
}

impl Io {
    /// The process's real stdout, stderr and stdin.
    pub fn process() -> Self {
        Io {
            out: Out::new(std::io::stdout()),
            err: Out::new(std::io::stderr()),
            stdin: Input::Process,
        }
    }

    /// Reads all of standard input.
    pub fn read_stdin(&self) -> Result<Vec<u8>> {
        match &self.stdin {
            Input::Process => {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
                Ok(buf)
            }
            Input::Bytes(b) => Ok(b.as_ref().clone()),
        }
    }

    /// Whether stdin is an interactive terminal.
    pub fn stdin_is_tty(&self) -> bool {
        // SAFETY: isatty only inspects the file descriptor.
        matches!(self.stdin, Input::Process) && unsafe { libc::isatty(0) == 1 }
    }
}

/// A connected client plus what the kubeconfig said about it.
struct Conn {
    client: kube::Client,
    server: String,
    default_namespace: String,
}

/// Everything a command needs: streams, flags shared by all commands, and
/// (once asked for) a client.
pub struct Ctx {
    pub io: Io,
    pub kubeconfig: Option<PathBuf>,
    namespace_flag: Option<String>,
    conn: tokio::sync::OnceCell<Conn>,
}

impl Ctx {
    pub fn new(io: Io, kubeconfig: Option<PathBuf>, namespace: Option<String>) -> Self {
        Ctx {
            io,
            kubeconfig,
            namespace_flag: namespace,
            conn: tokio::sync::OnceCell::new(),
        }
    }

    /// Writes to stdout (errors writing to a closed pipe are ignored, as
    /// `kubectl get | head` expects).
    pub fn print(&self, text: &str) {
        let mut out = self.io.out.clone();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Writes to stderr.
    pub fn eprint(&self, text: &str) {
        let mut err = self.io.err.clone();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    /// The kubeconfig file that will be used, if any exists.
    pub fn kubeconfig_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.kubeconfig {
            return Some(p.clone());
        }
        if let Ok(env) = std::env::var("KUBECONFIG") {
            if let Some(first) = env.split(':').find(|p| !p.is_empty()) {
                return Some(PathBuf::from(first));
            }
        }
        let minik = crate::cluster::home::default_home().join("kubeconfig");
        if minik.exists() {
            return Some(minik);
        }
        let home = std::env::var_os("HOME").map(PathBuf::from)?;
        let kube = home.join(".kube").join("config");
        kube.exists().then_some(kube)
    }

    async fn conn(&self) -> Result<&Conn> {
        self.conn
            .get_or_try_init(|| async {
                let Some(path) = self.kubeconfig_path() else {
                    return Err(Error::Kubeconfig(
                        "no kubeconfig found (tried --kubeconfig, KUBECONFIG, $MINIK_HOME/kubeconfig, ~/.kube/config).\n\
                         Start a cluster with `miniktl cluster up`"
                            .into(),
                    ));
                };
                let kc = Kubeconfig::read_from(&path).map_err(|e| {
                    Error::Kubeconfig(format!("cannot read kubeconfig {}: {e}", path.display()))
                })?;
                let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| {
                        Error::Kubeconfig(format!("invalid kubeconfig {}: {e}", path.display()))
                    })?;
                // kube retries 503s with backoff for minutes; a CLI reports them at once, as kubectl does.
                config.default_retry = false;
                let server = config.cluster_url.to_string();
                let default_namespace = config.default_namespace.clone();
                let client = kube::Client::try_from(config)
                    .map_err(|e| Error::Client(format!("cannot build a client: {e}")))?;
                Ok(Conn {
                    client,
                    server,
                    default_namespace,
                })
            })
            .await
    }

    pub async fn client(&self) -> Result<kube::Client> {
        Ok(self.conn().await?.client.clone())
    }

    /// The API server's URL from the kubeconfig.
    pub async fn server(&self) -> Result<String> {
        Ok(self.conn().await?.server.clone())
    }

    /// `-n`, else the kubeconfig context's namespace, else `default`.
    pub async fn namespace(&self) -> Result<String> {
        if let Some(ns) = &self.namespace_flag {
            return Ok(ns.clone());
        }
        Ok(self.conn().await?.default_namespace.clone())
    }

    /// Whether `-n` was given explicitly.
    pub fn namespace_flag(&self) -> Option<&str> {
        self.namespace_flag.as_deref()
    }

    /// Maps a kube error to miniktl's, with this cluster's address.
    pub async fn kube_err(&self, e: kube::Error) -> Error {
        let server = match self.conn.get() {
            Some(c) => c.server.clone(),
            None => String::new(),
        };
        Error::from_kube(e, &server)
    }

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
        match api.get(name).await {
            Ok(o) => Ok(to_value(o)),
            Err(e) => Err(self.kube_err(e).await),
        }
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
        let data: DynamicObject = serde_json::from_value(obj.clone())
            .map_err(|e| Error::Usage(format!("invalid object: {e}")))?;
        let pp = PostParams {
            dry_run,
            field_manager: Some("kubectl-client-side-apply".into()),
        };
        match api.create(&pp, &data).await {
            Ok(o) => Ok(to_value(o)),
            Err(e) => Err(self.kube_err(e).await),
        }
    }

    /// PUT a whole object (optimistic concurrency on its resourceVersion).
    pub async fn replace(&self, info: &ResourceInfo, ns: &str, obj: &Value) -> Result<Value> {
        let api = self.api(info, Some(ns)).await?;
        let name = minik_api::meta::name(obj).to_string();
        let data: DynamicObject = serde_json::from_value(obj.clone())
            .map_err(|e| Error::Usage(format!("invalid object: {e}")))?;
        match api.replace(&name, &PostParams::default(), &data).await {
            Ok(o) => Ok(to_value(o)),
            Err(e) => Err(self.kube_err(e).await),
        }
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
        let api = self.api(info, Some(ns)).await?;
        let mut pp = PatchParams {
            field_manager: Some("kubectl".into()),
            ..Default::default()
        };
        pp.dry_run = dry_run;
        match api.patch(name, &pp, &Patch::Strategic(patch)).await {
            Ok(o) => Ok(to_value(o)),
            Err(e) => Err(self.kube_err(e).await),
        }
    }

    /// PATCH with a JSON merge patch.
    pub async fn merge_patch(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value> {
        let api = self.api(info, Some(ns)).await?;
        let pp = PatchParams {
            field_manager: Some("kubectl".into()),
            ..Default::default()
        };
        match api.patch(name, &pp, &Patch::Merge(patch)).await {
            Ok(o) => Ok(to_value(o)),
            Err(e) => Err(self.kube_err(e).await),
        }
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

    /// A watch on one named object, from `resource_version` on (what
    /// `delete --wait`, `logs -f`, `rollout status` and `wait` follow).
    pub async fn watch_object(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
        resource_version: String,
    ) -> Result<impl Stream<Item = Result<(String, Value)>> + use<>> {
        let params = vec![
            ("fieldSelector", format!("metadata.name={name}")),
            ("watch", "1".to_string()),
            ("resourceVersion", resource_version),
        ];
        let path = format!(
            "{}{}",
            resource_path(info, ns, None, None),
            crate::cmd::get::encode_query(&params)
        );
        self.raw_watch(&path, "application/json").await
    }

    /// A watch on any path (which must carry `watch=1`), events as JSON.
    pub async fn raw_watch(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<impl Stream<Item = Result<(String, Value)>> + use<>> {
        let client = self.client().await?;
        let server = self.server().await?;
        let req = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(Vec::new())
            .map_err(|e| Error::Client(e.to_string()))?;
        let stream = match client.request_events::<Value>(req).await {
            Ok(s) => s,
            Err(e) => return Err(self.kube_err(e).await),
        };
        Ok(StreamExt::map(
            stream,
            move |item: std::result::Result<WatchEvent<Value>, kube::Error>| {
                item.map_err(|e| Error::from_kube(e, &server))
                    .and_then(|ev| match ev {
                        WatchEvent::Added(o) => Ok(("ADDED".to_string(), o)),
                        WatchEvent::Modified(o) => Ok(("MODIFIED".to_string(), o)),
                        WatchEvent::Deleted(o) => Ok(("DELETED".to_string(), o)),
                        WatchEvent::Bookmark(b) => Ok((
                            "BOOKMARK".to_string(),
                            serde_json::to_value(b).unwrap_or_default(),
                        )),
                        WatchEvent::Error(s) => Err(Error::Api {
                            code: s.code,
                            reason: s.reason,
                            message: s.message,
                        }),
                    })
            },
        ))
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

/// The URL path of a resource collection or object (and subresource).
pub fn resource_path(
    info: &ResourceInfo,
    ns: Option<&str>,
    name: Option<&str>,
    sub: Option<&str>,
) -> String {
    let mut p = info.gv_path();
    if info.namespaced {
        if let Some(ns) = ns {
            p.push_str("/namespaces/");
            p.push_str(ns);
        }
    }
    p.push('/');
    p.push_str(info.plural);
    if let Some(n) = name {
        p.push('/');
        p.push_str(n);
    }
    if let Some(s) = sub {
        p.push('/');
        p.push_str(s);
    }
    p
}

/// Percent-encodes a query parameter value.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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

/// A `DynamicObject` as plain JSON.
pub fn to_value(o: DynamicObject) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}
