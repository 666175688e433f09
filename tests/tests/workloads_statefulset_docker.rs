//! A StatefulSet on real Docker with the whole control plane in-process
//! (API server, every controller, the scheduler, a Docker kubelet and
//! minik-dns): three pods behind a headless Service become Ready strictly
//! in order, from another pod `web-0.web` (`ping`, through the search list)
//! and `web-0.web.default.svc.cluster.local` (`nslookup`) are web-0's IP, and
//! scaling to 1 removes web-2, then web-1.
//!
//! The DNS server listens on the test network's gateway (this host), which
//! the kubelet gives pods as their nameserver, so no Service route is needed.

use crate::kubelet_support;
use crate::support;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::ResourceExt;
use kubelet_support::{docker_available, run_id, DockerGuard, KubeletCluster};
use support::workloads::{is_ready, start_all_controllers, wait_for, PodLog};
use support::TestCluster;

const WAIT: Duration = Duration::from_secs(90);

const MANIFESTS: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 80
    name: web
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: minik/web:v1
        ports:
        - containerPort: 80
          name: web
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox:1.35
    command: ["sh", "-c", "sleep 3600"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_pods_start_in_order_resolve_by_name_and_scale_down_in_reverse() {
    if !docker_available() {
        return;
    }
    let id = run_id();
    let x = 1 + (u32::from_str_radix(&id[id.len() - 4..], 16).unwrap_or(7) % 250) as u8;
    let c = TestCluster::start().await;
    let client = c.client.clone();
    // A network of this run's own with a known gateway (made here, as
    // `miniktl cluster up` makes its network; the kubelet finds it).
    let mut kcfg = KubeletCluster::config(&c, &id);
    let gateway: IpAddr = format!("10.124.{x}.1").parse().unwrap();
    kcfg.cluster_dns = gateway.to_string();
    let _guard = DockerGuard {
        cluster: kcfg.cluster_name.clone(),
        network: kcfg.network.clone(),
    };
    let created = Command::new("docker")
        .args(["network", "create", "--subnet", &format!("10.124.{x}.0/24")])
        .args(["--gateway", &gateway.to_string()])
        .args(["--label", &format!("minik.cluster={}", kcfg.cluster_name)])
        .arg(&kcfg.network)
        .output()
        .expect("docker network create");
    assert!(created.status.success(), "{created:?}");
    let kubelet = minik_kubelet::start(kcfg.clone(), client.clone())
        .await
        .expect("kubelet starts");
    let inspected = Command::new("docker")
        .args([
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            &kcfg.network,
        ])
        .output()
        .expect("docker network inspect");
    assert_eq!(
        String::from_utf8_lossy(&inspected.stdout).trim(),
        gateway.to_string()
    );
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut dns_config = minik_dns::Config::new(client.clone());
    dns_config.listen = vec![SocketAddr::from((gateway, 53))];
    dns_config.upstreams = vec![silent.local_addr().unwrap()];
    let dns = minik_dns::start(dns_config).await.expect("dns starts");
    let _scheduler = support::scheduler::start_scheduler(&client);
    let _controllers = start_all_controllers(&client);
    let log = PodLog::start(&client, "app=web");

    c.kubectl_ok(&["apply", "-f", &c.file("web.yaml", MANIFESTS)]);
    let out = c.kubectl_ok(&["rollout", "status", "sts/web", "--timeout=90s"]);
    assert!(out.contains("3 new pods have been updated"), "{out}");
    assert!(
        log.position("ready web-0") < log.position("added web-1"),
        "{:?}",
        log.entries()
    );
    assert!(
        log.position("ready web-1") < log.position("added web-2"),
        "{:?}",
        log.entries()
    );

    // From another pod, web-0.web is web-0's IP. busybox's nslookup does
    // not apply the search list to a name with a dot, so it is asked for
    // the full name; `ping` resolves the short one through the search list.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let client_pod = wait_for("the client pod", WAIT, || async {
        pods.get_opt("client").await.unwrap().filter(is_ready)
    })
    .await;
    let web0_ip = pods
        .get("web-0")
        .await
        .unwrap()
        .status
        .and_then(|s| s.pod_ip)
        .expect("web-0 has an IP");
    let container = kubelet_support::docker_id(&serde_json::to_value(&client_pod).unwrap(), "sh");
    let answer = format!("Name:\tweb-0.web.default.svc.cluster.local\nAddress: {web0_ip}");
    let mut out = String::new();
    for _ in 0..40 {
        let run = Command::new("docker")
            .args([
                "exec",
                &container,
                "nslookup",
                "web-0.web.default.svc.cluster.local",
            ])
            .output()
            .expect("docker exec");
        out = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        if out.contains(&answer) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        out.contains(&answer),
        "nslookup web-0.web.default.svc.cluster.local:\n{out}"
    );
    let ping = Command::new("docker")
        .args([
            "exec",
            &container,
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "web-0.web",
        ])
        .output()
        .expect("docker exec");
    let ping =
        String::from_utf8_lossy(&ping.stdout).to_string() + &String::from_utf8_lossy(&ping.stderr);
    assert!(
        ping.contains(&format!("PING web-0.web ({web0_ip})")),
        "ping web-0.web:\n{ping}"
    );
    // The pod knows itself by that name too.
    let web1 = pods.get("web-1").await.unwrap();
    let web1_container = kubelet_support::docker_id(&serde_json::to_value(&web1).unwrap(), "web");
    let hostname = kubelet_support::docker_exec(&web1_container, &["hostname"]);
    assert_eq!(hostname.trim(), "web-1");

    // Scale to 1: web-2 is gone before web-1 starts terminating.
    c.kubectl_ok(&["scale", "sts", "web", "--replicas=1"]);
    wait_for("only web-0 left", WAIT, || async {
        let names: Vec<String> = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .iter()
            .map(|p| p.name_any())
            .collect();
        (names == ["web-0"]).then_some(())
    })
    .await;
    assert!(
        log.position("deleted web-2") < log.position("deleting web-1"),
        "{:?}",
        log.entries()
    );
    let table = c.kubectl_ok(&["get", "sts", "web", "--no-headers"]);
    assert_eq!(table.split_whitespace().nth(1), Some("1/1"), "{table}");

    c.kubectl_ok(&[
        "delete",
        "-f",
        &c.file("web.yaml", MANIFESTS),
        "--wait=true",
    ]);
    dns.shutdown().await;
    drop(kubelet);
}
