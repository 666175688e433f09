//! Shared helpers for the cross-component tests: an in-process API server
//! on 127.0.0.1:0 with its own temporary store, serving HTTPS with its own
//! CA as `minik-apiserver` does; a `kube::Client` for it (the cluster
//! admin's client certificate), and a way to run the real `kubectl`
//! against it. Tests that speak raw HTTP set `config.tls = None`.
//!
//! With `MINIK_TEST_STORE=etcd` every test cluster keeps its data in one
//! etcd started for the test process, each under a key prefix of its own
//! (`scripts/test.sh` runs the API suites a second time that way).

#![allow(dead_code)]

pub mod autoscaling;
pub mod batch;
pub mod cli;
pub mod faults;
pub mod golden;
pub mod ha;
pub mod lifecycle;
pub mod miniktl;
pub mod scheduler;
pub mod workloads;

use std::path::{Path, PathBuf};
use std::process::Output;

use minik_apiserver::{Config, Server};

/// `MINIK_TEST_STORE=etcd`: a store of this test cluster's own in the test
/// process's etcd (started on first use, ended with the process).
pub fn etcd_for_tests() -> Option<minik_apiserver::etcd_store::EtcdConfig> {
    if std::env::var("MINIK_TEST_STORE").ok()? != "etcd" {
        return None;
    }
    static ETCD: std::sync::OnceLock<minik_tests::etcd::Etcd> = std::sync::OnceLock::new();
    let etcd = ETCD.get_or_init(|| {
        minik_tests::etcd::Etcd::start().expect("MINIK_TEST_STORE=etcd needs etcd installed")
    });
    let prefix = format!(
        "/test-{}",
        std::process::id() as u64 * 1_000_000 + next_id()
    );
    Some(
        minik_apiserver::etcd_store::EtcdConfig::parse(&etcd.store_url(), &prefix)
            .expect("valid etcd store"),
    )
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// An API server running inside the test process.
pub struct TestCluster {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub client: kube::Client,
    /// The serving certificate and client CA, kept for restarts.
    pub tls: Option<minik_apiserver::transport::TlsFiles>,
}

/// What a raw request got back.
pub struct RawResponse {
    pub code: u16,
    /// The `Warning` headers, in order.
    pub warnings: Vec<String>,
    /// The body as JSON, or `{"raw": text}` when it is not JSON.
    pub body: serde_json::Value,
}

impl TestCluster {
    /// A GET with an `Accept` header: (content type, body).
    pub async fn raw_with_accept(&self, path: &str, accept: &str) -> (String, serde_json::Value) {
        use http_body_util::BodyExt;
        let req = http::Request::builder()
            .uri(format!("{}{path}", self.url()))
            .header("accept", accept)
            .body(Vec::new())
            .unwrap();
        let resp = self
            .client
            .send(req.map(kube::client::Body::from))
            .await
            .unwrap();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            content_type,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    /// Sends a request as-is (any method, path, content type and bytes),
    /// for answers a typed client would not let through.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> RawResponse {
        use http_body_util::BodyExt;
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url()))
            .header("content-type", content_type)
            .body(body)
            .unwrap();
        let resp = self
            .client
            .send(req.map(kube::client::Body::from))
            .await
            .unwrap();
        let code = resp.status().as_u16();
        let warnings = resp
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({"raw": String::from_utf8_lossy(&bytes)}));
        RawResponse {
            code,
            warnings,
            body,
        }
    }

    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path().join("data"), "127.0.0.1:0".parse().unwrap());
        config.etcd = etcd_for_tests();
        let issue = |config: &Config| {
            minik_apiserver::certificates::ensure(
                &dir.path().join("pki"),
                config.listen,
                config.service_cidr.nth(1).into(),
                &[],
            )
            .expect("certificates")
        };
        let pki = issue(&config);
        config.tls = Some(pki.tls_files());
        let default_cidr = config.service_cidr;
        tweak(&mut config);
        // A service range of the test's own: the serving certificate names
        // its first address (the `kubernetes` Service in-cluster clients dial).
        let pki = if config.tls.is_some() && config.service_cidr != default_cidr {
            let pki = issue(&config);
            config.tls = Some(pki.tls_files());
            pki
        } else {
            pki
        };
        let tls = config.tls.clone();
        let server = minik_apiserver::start(config)
            .await
            .expect("API server starts");
        let kubeconfig = dir.path().join("kubeconfig");
        let url = server.url();
        minik_client::kubeconfig::Kubeconfig {
            server: &url,
            ca_pem: tls.as_ref().map(|_| pki.ca.pem().cert_pem.as_str()),
            client: tls.as_ref().map(|_| &pki.admin),
            user: "kubernetes-admin",
        }
        .write(&kubeconfig)
        .unwrap();
        let client = kube::Client::try_from(config_from(&kubeconfig).await).expect("client");
        Self {
            server: Some(server),
            dir,
            kubeconfig,
            client,
            tls,
        }
    }

    /// A client configuration for this cluster (the admin's), for tests
    /// that build their own client (extra headers, layers).
    pub async fn client_config(&self) -> kube::Config {
        config_from(&self.kubeconfig).await
    }

    /// A client with the admin's credentials that names itself
    /// `user_agent`, as minik's components do (`minik-controller/0.1.0
    /// (linux/amd64)`): what `/metrics` counts per client.
    pub async fn client_named(&self, user_agent: &'static str) -> kube::Client {
        let mut config = self.client_config().await;
        config.headers.push((
            http::header::USER_AGENT,
            http::HeaderValue::from_static(user_agent),
        ));
        kube::Client::try_from(config).unwrap()
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> String {
        let r = self.raw("GET", "/metrics", "text/plain", Vec::new()).await;
        r.body["raw"].as_str().unwrap_or_default().to_string()
    }

    pub fn url(&self) -> String {
        self.server.as_ref().expect("running").url()
    }

    /// Stops the server and starts it again on the same port and store.
    pub async fn restart(&mut self) {
        let server = self.server.take().expect("running");
        let addr = server.addr;
        let etcd = server.etcd.clone();
        server.stop().await.expect("clean stop");
        let mut config = Config::new(self.dir.path().join("data"), addr);
        config.tls = self.tls.clone();
        config.etcd = etcd;
        self.server = Some(
            minik_apiserver::start(config)
                .await
                .expect("API server restarts"),
        );
    }

    /// An in-process simulated kubelet's configuration for node `name` of
    /// this cluster: quick starts (50 ms), a Lease renewed every second,
    /// pods resynced every 500 ms, any free port.
    pub fn sim_node(&self, name: &str) -> minik_kubelet::Config {
        let mut node = minik_kubelet::Config::new(name);
        node.runtime = minik_kubelet::RuntimeKind::Sim;
        node.root_dir = self.dir.path().join(name);
        node.listen = "127.0.0.1:0".parse().unwrap();
        node.sim_delay = std::time::Duration::from_millis(50);
        node.lease_renew_interval = std::time::Duration::from_secs(1);
        node.resync_period = std::time::Duration::from_millis(500);
        node
    }

    /// Runs the real `kubectl` with this cluster's kubeconfig. The test's
    /// runtime must be multi-threaded: the server keeps serving meanwhile.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        tokio::task::block_in_place(|| {
            kubectl_with(
                &self.kubeconfig,
                &self.dir.path().join("kubectl-cache"),
                args,
                None,
            )
        })
    }

    /// Runs kubectl and returns stdout, failing the test (with stderr) if it fails.
    /// The real kubectl as the bearer of `token` (no client certificate).
    pub fn kubectl_as_token(&self, token: &str, args: &[&str]) -> Output {
        let ca = self.file("ca.crt", &self.tls.as_ref().expect("HTTPS").ca_pem);
        let server = self.url();
        let mut all = vec![
            "--kubeconfig=/dev/null",
            "--server",
            server.as_str(),
            "--certificate-authority",
            ca.as_str(),
            "--token",
            token,
        ];
        all.extend_from_slice(args);
        tokio::task::block_in_place(|| {
            std::process::Command::new("kubectl")
                .args(&all)
                .output()
                .expect("kubectl")
        })
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}\nstdout: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `kubectl apply -f` of `manifest` (YAML or JSON), failing the test if it fails.
    pub fn apply(&self, manifest: &str) -> String {
        let file = self.file("manifest.yaml", manifest);
        self.kubectl_ok(&["apply", "-f", &file])
    }

    /// Runs kubectl with `stdin` as its standard input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        tokio::task::block_in_place(|| {
            kubectl_with(
                &self.kubeconfig,
                &self.dir.path().join("kubectl-cache"),
                args,
                Some(stdin),
            )
        })
    }

    /// Starts kubectl in the background (for `-w`), stdout piped.
    pub fn kubectl_spawn(&self, args: &[&str]) -> std::process::Child {
        use std::process::{Command, Stdio};
        let cache = self.dir.path().join("kubectl-cache");
        Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(&cache)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl is installed")
    }

    /// Writes a file into the test's temp dir and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).unwrap();
        p.to_string_lossy().into_owned()
    }
}

/// The client configuration a kubeconfig file describes.
pub async fn config_from(kubeconfig: &Path) -> kube::Config {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("readable kubeconfig");
    kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("valid kubeconfig")
}

pub fn client_for(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().expect("valid URL"));
    kube::Client::try_from(config).expect("client")
}

pub fn kubectl_with(kubeconfig: &Path, cache: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new("kubectl");
    cmd.env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", cache)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd
        .spawn()
        .expect("kubectl is installed (v1.32 on every minik machine)");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// A random id for this run's names (containers, networks, chains).
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}{:05x}", std::process::id() & 0xffff, nanos & 0xfffff)
}

/// Whether a test's host requirement (`what`: Docker, iptables) is met:
/// under CI=true a missing one fails the test; elsewhere it is skipped.
pub fn present_or_skip(present: bool, what: &str) -> bool {
    if !present && std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is required under CI=true, and it is not available");
    }
    if !present {
        eprintln!("skipping: {what} is not available (this test fails instead under CI=true)");
    }
    present
}

/// Path of a binary built from this workspace (`cargo build --bins` puts
/// them next to the test executables' parent directory).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: build the workspace binaries first (cargo build --workspace --bins)",
        bin.display()
    );
    bin
}

/// The value of the `/metrics` series `series` (its name and every label,
/// exactly as printed), 0 when it is absent.
pub fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |n| n.parse().unwrap())
}
