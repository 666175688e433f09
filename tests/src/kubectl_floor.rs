//! What the real `kubectl get pods -A` takes by itself, apart from the API
//! server: the server's answers to it (discovery, and the pods as Tables,
//! page by page or whole) are fetched once, then served from memory on
//! loopback, and kubectl is timed against that. No API server can answer
//! faster, so this is the floor for any server at that size: kubectl
//! decoding and printing every row, and client-go's own rate limit
//! between pages (5 requests/s after a burst of 10, which kubectl keeps
//! for everything but discovery).
//!
//! Used by `bench-pods`; the answers are what minik sent, which are what
//! kube-apiserver sends (each row's object is its PartialObjectMetadata,
//! managedFields included: `asTable` in its response.go).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;

/// kubectl's Accept for discovery and for `get`'s Tables (from `-v=8`).
const DISCOVERY: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// An answer, by (path, `continue` token, whether `limit` was asked): all
/// `get pods -A` asks by; any other query parameter is not told apart.
type Answers = HashMap<(String, String, bool), (String, Bytes)>;

/// One kubectl run against the recorded answers.
pub struct Timed {
    pub rows: usize,
    pub took: Duration,
    /// How many requests client-go held back for over 50 ms (what its
    /// `-v=3` log reports as "client-side throttling"), when logged.
    pub throttled: usize,
}

/// Records what `kubectl get pods -A` reads from the cluster `client`
/// talks to: pages of 500 (kubectl's default `--chunk-size`) and the whole
/// list at once (`--chunk-size=0`).
pub async fn record(client: &kube::Client) -> anyhow::Result<Arc<Answers>> {
    let mut answers = Answers::new();
    let single = [
        ("/api", DISCOVERY),
        ("/apis", DISCOVERY),
        ("/version", "application/json"),
        ("/api/v1/pods", TABLE),
    ];
    for (path, accept) in single {
        let answer = fetch(client, path, accept).await?;
        answers.insert((path.into(), String::new(), false), answer);
    }
    let mut token = String::new();
    loop {
        let query = if token.is_empty() {
            "limit=500".to_string()
        } else {
            format!("continue={token}&limit=500")
        };
        let (kind, body) = fetch(client, &format!("/api/v1/pods?{query}"), TABLE).await?;
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        let next = page["metadata"]["continue"]
            .as_str()
            .unwrap_or("")
            .to_string();
        answers.insert(("/api/v1/pods".into(), token, true), (kind, body));
        if next.is_empty() {
            break;
        }
        token = next;
    }
    Ok(Arc::new(answers))
}

async fn fetch(client: &kube::Client, uri: &str, accept: &str) -> anyhow::Result<(String, Bytes)> {
    let request = http::Request::get(uri)
        .header(http::header::ACCEPT, accept)
        .body(kube::client::Body::empty())?;
    let response = client.send(request).await?;
    anyhow::ensure!(
        response.status().is_success(),
        "GET {uri}: {}",
        response.status()
    );
    let kind = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((kind, body))
}

/// Serves `answers` on 127.0.0.1 (plain HTTP) and times `kubectl get pods
/// -A` against them, with `args` added (e.g. `--chunk-size=0`).
pub async fn time_kubectl(answers: Arc<Answers>, args: &[&str]) -> anyhow::Result<Timed> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let app = axum::Router::new().fallback(move |uri: http::Uri| {
        let answers = answers.clone();
        async move {
            let query: HashMap<String, String> =
                form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            let key = (
                uri.path().to_string(),
                query.get("continue").cloned().unwrap_or_default(),
                query.contains_key("limit"),
            );
            match answers.get(&key) {
                Some((kind, body)) => (
                    http::StatusCode::OK,
                    [(http::header::CONTENT_TYPE, kind.clone())],
                    body.clone(),
                ),
                None => {
                    let missed = format!("not recorded: {uri}");
                    eprintln!("kubectl_floor: {missed}");
                    (
                        http::StatusCode::NOT_FOUND,
                        [(http::header::CONTENT_TYPE, "text/plain".to_string())],
                        Bytes::from(missed),
                    )
                }
            }
        }
    });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kubeconfig_for(port))?;
    let result = run_kubectl(&kubeconfig, Some(&dir.path().join("cache")), args).await;
    server.abort();
    result
}

fn kubeconfig_for(port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: recorded\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\n\
         users:\n- name: recorded\n  user: {{}}\ncontexts:\n- name: recorded\n  context: {{cluster: recorded, user: recorded}}\n\
         current-context: recorded\n"
    )
}

/// Runs `kubectl get pods -A --no-headers` with `args`. With a `cache` of
/// its own (so it asks for discovery as a first run does) it also logs,
/// for [`Timed::throttled`]; without, it runs as a user's would.
pub async fn run_kubectl(
    kubeconfig: &Path,
    cache: Option<&Path>,
    args: &[&str],
) -> anyhow::Result<Timed> {
    let mut kubectl = tokio::process::Command::new("kubectl");
    kubectl
        .args(["--kubeconfig", &kubeconfig.display().to_string()])
        .args([
            "get",
            "pods",
            "-A",
            "--no-headers",
            "--request-timeout=120s",
        ])
        .args(args)
        .kill_on_drop(true);
    if let Some(cache) = cache {
        kubectl
            .args(["--cache-dir", &cache.display().to_string()])
            .arg("-v=6");
    }
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(600), kubectl.output()).await??;
    let took = started.elapsed();
    anyhow::ensure!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(Timed {
        rows: String::from_utf8_lossy(&out.stdout).lines().count(),
        took,
        throttled: String::from_utf8_lossy(&out.stderr)
            .matches("client-side throttling")
            .count(),
    })
}
