//! `GET /metrics`: the API server's open watches, in Prometheus' text
//! format under kube-apiserver's metric name, so a reader can *see* that
//! each component watches each kind once (client-go's shared informers;
//! minik's `minik_client::informer`):
//!
//! ```text
//! $ kubectl get --raw /metrics | grep 'resource="pods"'
//! apiserver_longrunning_requests{client="minik-controller",group="",resource="pods",scope="cluster",verb="WATCH",version="v1"} 1
//! ```
//!
//! and every request for a resource answered, under kube-apiserver's
//! counter (discovery, OpenAPI and a node's proxy are not counted), so a reader
//! can see who writes what (a benchmark reads it for the writes each pod
//! costs):
//!
//! ```text
//! apiserver_request_total{client="minik-scheduler",code="201",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 3000
//! ```
//!
//! kube-apiserver's metrics have no `client` label; minik adds one, taken
//! from the `User-Agent` (`minik-controller/0.1.0 (linux/amd64)` → its
//! product name), because seeing who watches and writes what is the point
//! here. Latencies are left out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

use crate::request::Target;
use crate::AppState;

/// The labels of one open-watch gauge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct WatchKey {
    client: String,
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    /// `cluster` for a watch across namespaces, `namespace` for one namespace.
    scope: &'static str,
}

/// Open watches by client and resource.
#[derive(Debug, Default)]
pub struct Watches {
    open: Mutex<BTreeMap<WatchKey, u64>>,
}

impl Watches {
    /// Counts a watch until the returned guard is dropped (the stream ends).
    pub fn open(self: &Arc<Self>, target: &Target, user_agent: Option<&str>) -> WatchGuard {
        let key = WatchKey {
            client: client_name(user_agent),
            group: target.served.group,
            version: target.served.version,
            resource: target.served.plural,
            scope: if target.namespace.is_some() {
                "namespace"
            } else {
                "cluster"
            },
        };
        *self
            .open
            .lock()
            .expect("watches lock")
            .entry(key.clone())
            .or_default() += 1;
        WatchGuard {
            watches: self.clone(),
            key,
        }
    }

    /// How many watches `client` (a `User-Agent` product name) holds open.
    pub fn watching(&self, client: &str) -> u64 {
        self.open
            .lock()
            .expect("watches lock")
            .iter()
            .filter(|(k, _)| k.client == client)
            .map(|(_, n)| n)
            .sum()
    }

    fn close(&self, key: &WatchKey) {
        let mut open = self.open.lock().expect("watches lock");
        if let Some(n) = open.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                open.remove(key);
            }
        }
    }

    /// The exposition text.
    fn render(&self) -> String {
        let mut out = String::from(
            "# HELP apiserver_longrunning_requests Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and client.\n\
             # TYPE apiserver_longrunning_requests gauge\n",
        );
        for (k, n) in self.open.lock().expect("watches lock").iter() {
            out.push_str(&format!(
                "apiserver_longrunning_requests{{client=\"{}\",group=\"{}\",resource=\"{}\",scope=\"{}\",verb=\"WATCH\",version=\"{}\"}} {n}\n",
                k.client, k.group, k.resource, k.scope, k.version
            ));
        }
        out
    }
}

/// The labels of one request counter: kube-apiserver's
/// `apiserver_request_total`, with `client`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestKey {
    client: String,
    verb: &'static str,
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    subresource: &'static str,
    /// kube-apiserver's `CleanScope`: `resource` for one named object or a
    /// create, else `namespace` or `cluster`.
    scope: &'static str,
}

/// The subresources minik serves; the streams among them count as `CONNECT`.
const SUBRESOURCES: [(&str, bool); 13] = [
    ("status", false),
    ("scale", false),
    ("binding", false),
    ("eviction", false),
    ("token", false),
    ("finalize", false),
    ("approval", false),
    ("ephemeralcontainers", false),
    ("log", true),
    ("exec", true),
    ("attach", true),
    ("portforward", true),
    ("proxy", true),
];

impl RequestKey {
    /// The labels of a request for `target`, its verb cleaned as
    /// kube-apiserver's `CleanVerb` does: a collection's GET is `LIST`, a
    /// watch `WATCH`, a server-side apply `APPLY`, a collection's DELETE
    /// `DELETECOLLECTION`, a stream (log, exec, attach, port-forward, proxy)
    /// `CONNECT`, HEAD as GET.
    pub fn new(
        target: &Target,
        method: &http::Method,
        is_watch: bool,
        apply: bool,
        user_agent: Option<&str>,
    ) -> Self {
        let named = target.name.is_some();
        let sub = target.subresource.as_deref().unwrap_or("");
        let (subresource, connect) = SUBRESOURCES
            .iter()
            .find(|(name, _)| *name == sub)
            .copied()
            .unwrap_or(("", false));
        let verb = match *method {
            _ if is_watch => "WATCH",
            _ if connect => "CONNECT",
            http::Method::GET | http::Method::HEAD if !named => "LIST",
            http::Method::GET | http::Method::HEAD => "GET",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::PATCH if apply => "APPLY",
            http::Method::PATCH => "PATCH",
            http::Method::DELETE if !named => "DELETECOLLECTION",
            http::Method::DELETE => "DELETE",
            _ => "other",
        };
        let create = *method == http::Method::POST && !named;
        Self {
            client: client_name(user_agent),
            verb,
            group: target.served.group,
            version: target.served.version,
            resource: target.served.plural,
            subresource,
            scope: match (named || create, target.namespace.is_some()) {
                (true, _) => "resource",
                (false, true) => "namespace",
                (false, false) => "cluster",
            },
        }
    }
}

/// Distinct `client` labels kept; later ones are counted as `other`, so a
/// caller who varies its `User-Agent` cannot grow the counters without
/// bound (the reason kube-apiserver dropped the label).
const MAX_CLIENTS: usize = 64;

/// Requests answered, by labels and status code.
#[derive(Debug, Default)]
pub struct Requests {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    by_key: HashMap<(RequestKey, u16), u64>,
    clients: HashSet<String>,
}

impl Requests {
    /// Counts one request answered with `code`.
    pub fn record(&self, mut key: RequestKey, code: u16) {
        let mut counts = self.counts.lock().expect("requests lock");
        if !counts.clients.contains(&key.client) {
            if counts.clients.len() < MAX_CLIENTS {
                counts.clients.insert(key.client.clone());
            } else {
                key.client = "other".into();
            }
        }
        *counts.by_key.entry((key, code)).or_default() += 1;
    }

    /// The exposition text, sorted by labels.
    fn render(&self) -> String {
        let mut rows: Vec<_> = self
            .counts
            .lock()
            .expect("requests lock")
            .by_key
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        rows.sort();
        let mut out = String::from(
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, group, version, resource, scope, subresource, HTTP response code and client.\n\
             # TYPE apiserver_request_total counter\n",
        );
        for ((k, code), n) in rows {
            out.push_str(&format!(
                "apiserver_request_total{{client=\"{}\",code=\"{code}\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"}} {n}\n",
                k.client, k.group, k.resource, k.scope, k.subresource, k.verb, k.version
            ));
        }
        out
    }
}

/// The product name of a `User-Agent` (`kubectl/v1.33.0 (linux/amd64) …` → `kubectl`).
fn client_name(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("").trim();
    let product = ua.split([' ', '/']).next().unwrap_or("");
    let clean: String = product
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if clean.is_empty() {
        "unknown".into()
    } else {
        clean
    }
}

/// Holds one watch's count while its response streams.
pub struct WatchGuard {
    watches: Arc<Watches>,
    key: WatchKey,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.watches.close(&self.key);
    }
}

/// A response body that keeps its watch counted until it is dropped.
struct CountedBody {
    inner: Body,
    _guard: WatchGuard,
}

impl http_body::Body for CountedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Ties `guard` to `response`'s body.
pub fn counted(response: Response, guard: WatchGuard) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(
        parts,
        Body::new(CountedBody {
            inner: body,
            _guard: guard,
        }),
    )
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.watches.render() + &state.requests.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(method: http::Method, name: Option<&str>, sub: Option<&str>) -> RequestKey {
        let pods = minik_api::catalogue::lookup("", "v1", "pods").unwrap();
        let mut target = Target::new(pods, Some("default".into()), name.map(Into::into));
        target.subresource = sub.map(Into::into);
        RequestKey::new(&target, &method, false, false, Some("kubectl/v1.33.0"))
    }

    #[test]
    fn verbs_and_scopes_are_cleaned_as_kube_apiserver_does() {
        use http::Method;
        let l = labels(Method::POST, None, None);
        assert_eq!((l.verb, l.scope), ("POST", "resource"), "a create");
        let l = labels(Method::GET, None, None);
        assert_eq!((l.verb, l.scope), ("LIST", "namespace"));
        let l = labels(Method::HEAD, Some("p"), None);
        assert_eq!((l.verb, l.scope), ("GET", "resource"));
        let l = labels(Method::GET, Some("p"), Some("log"));
        assert_eq!((l.verb, l.subresource), ("CONNECT", "log"));
        let l = labels(Method::POST, Some("p"), Some("binding"));
        assert_eq!((l.verb, l.subresource), ("POST", "binding"));
        let l = labels(Method::GET, Some("p"), Some("nonsense"));
        assert_eq!(l.subresource, "", "only served subresources are labels");
        let l = labels(Method::OPTIONS, Some("p"), None);
        assert_eq!(l.verb, "other");
    }

    #[test]
    fn clients_past_the_cap_are_counted_as_other() {
        let requests = Requests::default();
        for i in 0..MAX_CLIENTS + 5 {
            let mut key = labels(http::Method::GET, Some("p"), None);
            key.client = format!("client-{i}");
            requests.record(key, 200);
        }
        let text = requests.render();
        assert!(text.contains("client=\"client-0\""), "{text}");
        assert!(
            !text.contains(&format!("client=\"client-{MAX_CLIENTS}\"")),
            "{text}"
        );
        assert!(
            text.contains("apiserver_request_total{client=\"other\"") && text.contains("} 5\n"),
            "{text}"
        );
    }

    #[test]
    fn clients_are_named_by_product() {
        assert_eq!(
            client_name(Some("minik-controller/0.1.0 (linux/amd64)")),
            "minik-controller"
        );
        assert_eq!(
            client_name(Some("kubectl/v1.33.0 (linux/amd64) kubernetes/abc")),
            "kubectl"
        );
        assert_eq!(client_name(None), "unknown");
    }
}
