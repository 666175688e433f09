//! Benchmark of minik-apiserver: durable creates per second and create
//! latency with 16 concurrent clients, and watch delivery latency with 100
//! concurrent watchers. Prints its figures; see BENCHMARKS.md.
//!
//! Baselines measured in the same run: sled itself, one `insert` + `flush`
//! per write from one writer (what durability costs without group commit);
//! and the creates over plain HTTP as the cluster admin, against which the
//! same creates over HTTPS by an RBAC-authorized token user are compared.
//!
//! With etcd installed (Debian's etcd-server), the same creates against an
//! API server on `--store etcd://…` (a throwaway etcd on loopback), and as
//! its baseline bare etcd puts through etcd's own HTTP gateway
//! (`POST /v3/kv/put`) from the same 16-client load generator.
//!
//! Run: `cargo run --release -p minik-tests --bin bench-apiserver`

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use serde_json::json;

const CLIENTS: usize = 16;
const CREATE_SECS: u64 = 5;
const WATCHERS: usize = 100;
const WATCHED_WRITES: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name}, "data": {"payload": "x".repeat(256)}}),
    )
    .unwrap()
}

fn sled_baseline(dir: &std::path::Path) -> f64 {
    let db = sled::Config::new()
        .path(dir.join("baseline"))
        .flush_every_ms(None)
        .open()
        .unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    let value = vec![b'x'; 512];
    while start.elapsed() < Duration::from_secs(2) {
        db.insert(format!("/k/{n}"), value.clone()).unwrap();
        db.flush().unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The load generator every figure here shares: `CLIENTS` tasks, each
/// calling `write(client, i)` one write after another for `CREATE_SECS`;
/// the latencies (sorted) and the time taken.
async fn load<F, Fut>(write: F) -> anyhow::Result<(Vec<Duration>, Duration)>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(CREATE_SECS);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let write = write.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                write(c, i).await;
                lat.push(t.elapsed());
                i += 1;
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let elapsed = started.elapsed();
    lat.sort();
    Ok((lat, elapsed))
}

/// Latencies of the creates made by `CLIENTS` clients in `CREATE_SECS`, and the time taken.
async fn creates(client: &kube::Client, prefix: &str) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let prefix = prefix.to_string();
    load(move |c, i| {
        let (cms, name) = (cms.clone(), format!("{prefix}-{c}-{i}"));
        async move {
            cms.create(&PostParams::default(), &cm(&name))
                .await
                .expect("create");
        }
    })
    .await
}

fn report(what: &str, figures: &(Vec<Duration>, Duration)) {
    report_writes(what, "creates", figures)
}

fn report_writes(what: &str, noun: &str, (lat, elapsed): &(Vec<Duration>, Duration)) {
    println!(
        "{what}, {CLIENTS} clients: {} {noun} in {:.1} s = {:.0} {noun}/s; latency p50 {} p99 {} (targets: >= 2000/s, p99 < 20 ms)",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(lat, 0.5)),
        ms(percentile(lat, 0.99)),
    );
}

/// The same creates against an API server as `minik-apiserver` runs by
/// default — HTTPS with its own CA — by a token user who may create
/// ConfigMaps through the `edit` ClusterRole bound in `default`.
async fn secure_creates(dir: &std::path::Path) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let mut config = minik_apiserver::Config::new(dir.join("secure"), "127.0.0.1:0".parse()?);
    let pki = minik_apiserver::certificates::ensure(
        &dir.join("pki"),
        config.listen,
        config.service_cidr.nth(1).into(),
        &[],
    )?;
    config.tls = Some(pki.tls_files());
    config.authenticator = Arc::new(
        minik_apiserver::authentication::Authenticator::parse_tokens("bench-token,bench,1000\n")
            .map_err(anyhow::Error::msg)?,
    );
    let server = minik_apiserver::start(config).await?;
    let url = server.url();
    let write = |name: &str, client| -> anyhow::Result<std::path::PathBuf> {
        let path = dir.join(name);
        minik_client::kubeconfig::Kubeconfig {
            server: &url,
            ca_pem: Some(&pki.ca.pem().cert_pem),
            client,
            user: name,
        }
        .write(&path)?;
        Ok(path)
    };
    async fn client_config(path: std::path::PathBuf) -> anyhow::Result<kube::Config> {
        let kc = kube::config::Kubeconfig::read_from(&path)?;
        Ok(kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?)
    }
    let admin = kube::Client::try_from(client_config(write("admin", Some(&pki.admin))?).await?)?;
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::namespaced(admin, "default");
    bindings
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "bench-edit"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bench"}],
            }))?,
        )
        .await?;
    let mut user = client_config(write("bench", None)?).await?;
    user.auth_info.token = Some("bench-token".to_string().into());
    let result = creates(&kube::Client::try_from(user)?, "secure").await;
    server.stop().await?;
    result
}

/// Puts of 512-byte values through etcd's HTTP gateway by `CLIENTS` clients
/// for `CREATE_SECS` (the `kube` client's HTTP stack, as in `creates`).
async fn etcd_puts(addr: &str) -> anyhow::Result<(Vec<Duration>, Duration)> {
    use base64::Engine as _;
    let client = kube::Client::try_from(kube::Config::new(format!("http://{addr}").parse()?))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = b64.encode(vec![b'x'; 512]);
    load(move |c, i| {
        let body = json!({"key": b64.encode(format!("/bare/{c}/{i}")), "value": value});
        let req = http::Request::post("/v3/kv/put")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .unwrap();
        let client = client.clone();
        async move {
            let answer: serde_json::Value = client.request(req).await.expect("etcd put");
            assert!(answer.get("header").is_some(), "etcd answered {answer}");
        }
    })
    .await
}

/// Bare etcd puts, then minik's creates with the store in that etcd.
async fn etcd_figures() -> anyhow::Result<()> {
    let Some(etcd) = minik_tests::etcd::Etcd::start() else {
        println!("etcd      skipped: etcd is not installed (apt-get install etcd-server)");
        return Ok(());
    };
    report_writes(
        "baseline  bare etcd, HTTP gateway",
        "puts",
        &etcd_puts(&etcd.client_addr).await?,
    );
    let mut config =
        minik_apiserver::Config::new(etcd.dir.path().join("unused"), "127.0.0.1:0".parse()?);
    config.etcd = Some(
        minik_apiserver::etcd_store::EtcdConfig::parse(&etcd.store_url(), "/bench")
            .map_err(anyhow::Error::msg)?,
    );
    let server = minik_apiserver::start(config).await?;
    let client = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;
    report(
        "creates   plain HTTP, cluster admin, etcd store",
        &creates(&client, "etcd").await?,
    );
    server.stop().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    println!(
        "minik-apiserver benchmark (store in {})",
        dir.path().display()
    );
    let baseline = sled_baseline(dir.path());
    println!("baseline  sled insert+flush, 1 writer, no batching: {baseline:.0} writes/s");

    let server = minik_apiserver::start(minik_apiserver::Config::new(
        dir.path().join("data"),
        "127.0.0.1:0".parse()?,
    ))
    .await?;
    let client = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;

    // 1. Durable creates with 16 concurrent clients for a fixed time:
    // over plain HTTP (the baseline for the next line), then over HTTPS
    // as a user whom RBAC must authorize on every request.
    let plain = creates(&client, "plain").await?;
    report("creates   plain HTTP, cluster admin", &plain);
    etcd_figures().await?;
    let secure = secure_creates(dir.path()).await?;
    report(
        "creates   HTTPS + RBAC (edit via a RoleBinding, token)",
        &secure,
    );

    // 2. Watch delivery with 100 concurrent watchers on one namespace.
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "watched"}}))?,
        )
        .await?;
    let watched: Api<ConfigMap> = Api::namespaced(client.clone(), "watched");
    let rv = watched
        .list(&Default::default())
        .await?
        .metadata
        .resource_version
        .unwrap();
    let mut watchers = Vec::new();
    let ready = Arc::new(tokio::sync::Barrier::new(WATCHERS + 1));
    for _ in 0..WATCHERS {
        let api = watched.clone();
        let rv = rv.clone();
        let ready = ready.clone();
        watchers.push(tokio::spawn(async move {
            let mut stream = api
                .watch(&WatchParams::default().timeout(120), &rv)
                .await
                .expect("watch")
                .boxed();
            ready.wait().await;
            let mut seen = Vec::with_capacity(WATCHED_WRITES);
            while seen.len() < WATCHED_WRITES {
                match tokio::time::timeout(Duration::from_secs(60), stream.next()).await {
                    Ok(Some(Ok(WatchEvent::Added(o)))) => {
                        seen.push((o.metadata.name.unwrap(), Instant::now()))
                    }
                    Ok(Some(Ok(_))) => {}
                    other => panic!("watch ended early: {other:?}"),
                }
            }
            seen
        }));
    }
    ready.wait().await;
    let mut sent = std::collections::HashMap::new();
    for i in 0..WATCHED_WRITES {
        let name = format!("w{i}");
        let t = Instant::now();
        watched.create(&PostParams::default(), &cm(&name)).await?;
        sent.insert(name, (t, Instant::now()));
        // A steady stream of changes rather than one burst.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut from_send = Vec::new();
    let mut from_ack = Vec::new();
    for w in watchers {
        for (name, at) in w.await? {
            let (sent_at, acked_at) = sent[&name];
            from_send.push(at.duration_since(sent_at));
            from_ack.push(at.saturating_duration_since(acked_at));
        }
    }
    from_send.sort();
    from_ack.sort();
    println!(
        "watch     {WATCHERS} watchers x {WATCHED_WRITES} changes: ack -> event p50 {} p99 {} (target p99 < 5 ms); request sent -> event p50 {} p99 {}",
        ms(percentile(&from_ack, 0.5)),
        ms(percentile(&from_ack, 0.99)),
        ms(percentile(&from_send, 0.5)),
        ms(percentile(&from_send, 0.99)),
    );
    server.stop().await?;
    Ok(())
}
