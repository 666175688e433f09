//! NetworkPolicy enforced on a real pod network: an in-process API server,
//! a Docker kubelet and minik-proxy in its iptables mode; policies applied
//! with the real kubectl; traffic tried with busybox's wget from inside
//! the pods (`docker exec`).
//!
//! The lesson's steps, in order: everything flows; a default-deny ingress
//! policy stops pod→pod and pod→Service traffic; an allow rule reopens one
//! named port for one label in the policy's namespace only; a
//! namespaceSelector lets another namespace in on another port; an egress
//! ipBlock with an `except` keeps a client off one address; deleting the
//! policies reopens everything; stopping the proxy removes every rule.
//! Without iptables (userspace mode) a policy gets a Warning Event saying
//! it is not enforced.
//!
//! Network hygiene: the run has its own Docker network, service CIDR
//! (`10.125.<x>.0/24`, made local by the proxy and removed when it stops)
//! and iptables chains (`mk<run id>-…`, which only ever name this run's pod
//! addresses); traffic goes only between this run's containers.

use crate::kubelet_support;
use crate::services_support;
use crate::support;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::events::v1::Event;
use kube::api::Api;
use kubelet_support::{docker_id, running_and_ready, KubeletCluster};
use serde_json::Value;
use services_support::wait_for;
use support::TestCluster;

/// How long (seconds) a request may take before it counts as blocked.
/// (busybox's own `wget -T` crashes in the Debian static build.)
const REQUEST_TIMEOUT: &str = "3";

const PODS: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: np-ops
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  nodeName: node-1
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: minik/busybox:1.35
    command: ["sh", "-c", "echo web > /tmp/index.html; httpd -p 8080 -h /tmp; exec httpd -f -p 80 -h /tmp"]
    ports:
    - {name: http, containerPort: 80}
    - {name: alt, containerPort: 8080}
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  labels: {app: client}
spec:
  nodeName: node-1
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: minik/busybox:1.35
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: probe
  namespace: np-ops
  labels: {app: client}
spec:
  nodeName: node-1
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: minik/busybox:1.35
    command: ["sh", "-c", "echo probe > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
"#;

/// The policies of `examples/security/` (applied in the default namespace here).
const DENY_INGRESS: &str = include_str!("../../examples/security/netpol-deny.yaml");
const ALLOW_CLIENT: &str = include_str!("../../examples/security/netpol-allow-client.yaml");

const ALLOW_OPS: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-ops
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: np-ops
    ports:
    - port: 8080
      protocol: TCP
"#;

/// Whether `wget` from the container reaches `url` (bounded by `timeout`).
fn reaches(container: &str, url: &str) -> bool {
    Command::new("docker")
        .args(["exec", container, "timeout", REQUEST_TIMEOUT, "wget", "-q"])
        .args(["-O", "/dev/null", url])
        .output()
        .expect("docker exec")
        .status
        .success()
}

/// Waits (bounded) until `from` reaching `url` is `expected`: rules follow
/// a policy change within a sync.
async fn expect_reach(what: &str, from: &str, url: &str, expected: bool) {
    let label = format!(
        "{what}: {url} {}",
        if expected { "reachable" } else { "blocked" }
    );
    wait_for(&label, Duration::from_secs(20), || async {
        (reaches(from, url) == expected).then_some(())
    })
    .await;
}

/// The lines of `iptables-save -t filter` that mention `prefix`'s chains.
fn filter_rules(prefix: &str) -> String {
    let out = Command::new("iptables-save")
        .args(["-t", "filter"])
        .output()
        .expect("iptables-save");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("{prefix}-")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_stop_and_reopen_pod_and_service_traffic() {
    let id = support::run_id();
    let x = 1 + (u32::from_str_radix(&id[id.len() - 4..], 16).unwrap_or(7) % 250) as u8;
    let cidr = format!("10.125.{x}.0/24");
    let Some(kc) =
        KubeletCluster::start_configured(|cfg| cfg.service_cidr = cidr.parse().unwrap(), |_| {})
            .await
    else {
        return;
    };
    let c = &kc.cluster;
    let client = c.client.clone();
    let prefix = format!("mk{id}");
    let mut proxy_config = minik_proxy::Config::new(client.clone());
    proxy_config.service_cidr = Some(cidr.parse().unwrap());
    proxy_config.mode = minik_proxy::ProxyMode::Iptables {
        chain_prefix: prefix.clone(),
    };
    proxy_config.ingress_listen = None;
    let proxy = minik_proxy::start(proxy_config)
        .await
        .expect("proxy starts");
    assert!(
        filter_rules(&prefix).contains(&format!(
            "-A FORWARD -m comment --comment \"minik network policy\" -j {prefix}-NETPOL"
        )),
        "the FORWARD jump is installed:\n{}",
        filter_rules(&prefix)
    );

    c.kubectl_ok(&["apply", "-f", &c.file("pods.yaml", PODS)]);
    let ready = |ns: &'static str, name: &'static str| {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        async move {
            wait_for(
                &format!("{ns}/{name} ready"),
                Duration::from_secs(60),
                || async {
                    let pod = serde_json::to_value(pods.get(name).await.ok()?).ok()?;
                    running_and_ready(&pod).then_some(pod)
                },
            )
            .await
        }
    };
    let web = ready("default", "web").await;
    let from_client = docker_id(&ready("default", "client").await, "c");
    let probe = ready("np-ops", "probe").await;
    let from_probe = docker_id(&probe, "c");
    let ip = |p: &Value| p["status"]["podIP"].as_str().unwrap().to_string();
    let (web_ip, probe_ip) = (ip(&web), ip(&probe));

    // A Service in front of web, its endpoint written by hand (no
    // controllers run here); the proxy DNATs its ClusterIP to the pod.
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))
    .unwrap();
    let svc = Api::<Service>::namespaced(client.clone(), "default")
        .create(&Default::default(), &svc)
        .await
        .expect("service created");
    let cluster_ip = svc.spec.unwrap().cluster_ip.unwrap();
    services_support::set_endpoints(
        &client,
        "web",
        serde_json::json!([{"addresses": [{"ip": web_ip}], "ports": [{"port": 80, "protocol": "TCP"}]}]),
    )
    .await;
    let web80 = format!("http://{web_ip}/");
    let web8080 = format!("http://{web_ip}:8080/");
    let service = format!("http://{cluster_ip}/");
    let probe80 = format!("http://{probe_ip}/");

    // 1. No policy: everything flows.
    expect_reach("no policy", &from_client, &web80, true).await;
    expect_reach("no policy", &from_client, &web8080, true).await;
    expect_reach("no policy", &from_client, &service, true).await;
    expect_reach("no policy", &from_probe, &web80, true).await;
    expect_reach("no policy", &from_client, &probe80, true).await;

    // 2. Default deny for ingress in default: pod→pod and pod→Service stop.
    c.kubectl_ok(&["apply", "-f", &c.file("deny.yaml", DENY_INGRESS)]);
    expect_reach("default deny", &from_client, &web80, false).await;
    expect_reach("default deny", &from_client, &service, false).await;
    expect_reach("default deny", &from_probe, &web80, false).await;
    // np-ops has no policy: its pod still takes traffic.
    expect_reach("default deny", &from_client, &probe80, true).await;
    let rules = filter_rules(&prefix);
    assert!(
        rules.contains("default/web: no ingress allowed by default/default-deny-ingress"),
        "the drop names the pod and its policy:\n{rules}"
    );

    // 3. Clients of default may use web's named port http (80), only.
    c.kubectl_ok(&["apply", "-f", &c.file("allow.yaml", ALLOW_CLIENT)]);
    expect_reach("allow client", &from_client, &web80, true).await;
    expect_reach("allow client", &from_client, &service, true).await;
    expect_reach("allow client", &from_client, &web8080, false).await;
    // A podSelector alone means the policy's own namespace: np-ops's
    // pod labelled app=client stays out.
    expect_reach("allow client", &from_probe, &web80, false).await;

    // 4. The np-ops namespace may use 8080, only.
    c.kubectl_ok(&["apply", "-f", &c.file("ops.yaml", ALLOW_OPS)]);
    expect_reach("allow ops", &from_probe, &web8080, true).await;
    expect_reach("allow ops", &from_probe, &web80, false).await;

    // 5. Egress: the client may reach the pod network except probe's address.
    let subnet =
        kubelet_support::docker_inspect(&kc.config.network, "{{(index .IPAM.Config 0).Subnet}}");
    let egress = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: client-egress\nspec:\n  podSelector:\n    matchLabels: {{app: client}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: {subnet}\n        except: [{probe_ip}/32]\n"
    );
    c.kubectl_ok(&["apply", "-f", &c.file("egress.yaml", &egress)]);
    expect_reach("client egress", &from_client, &probe80, false).await;
    expect_reach("client egress", &from_client, &web80, true).await;

    // 6. Without policies, everything flows again.
    c.kubectl_ok(&[
        "delete",
        "networkpolicy",
        "--all",
        "-n",
        "default",
        "--wait=false",
    ]);
    expect_reach("policies deleted", &from_client, &web8080, true).await;
    expect_reach("policies deleted", &from_client, &probe80, true).await;
    expect_reach("policies deleted", &from_probe, &web80, true).await;

    // 7. Stopping the proxy removes its chains and the FORWARD jump.
    drop(proxy);
    let left = filter_rules(&prefix);
    assert!(left.is_empty(), "rules left behind:\n{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_that_cannot_be_enforced_says_so() {
    let c = TestCluster::start().await;
    let proxy = services_support::start_proxy(
        &c.client,
        61,
        "127.0.0.1".parse().unwrap(),
        vec!["127.0.0.1".parse().unwrap()],
    )
    .await;
    c.kubectl_ok(&["apply", "-f", &c.file("deny.yaml", DENY_INGRESS)]);
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    let note = wait_for(
        "a NetworkPolicyNotEnforced event",
        Duration::from_secs(10),
        || async {
            events
                .list(&Default::default())
                .await
                .ok()?
                .items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("NetworkPolicyNotEnforced"))
                .and_then(|e| Some((e.type_?, e.note?, e.regarding?.name?)))
        },
    )
    .await;
    assert_eq!(
        note,
        (
            "Warning".to_string(),
            "This NetworkPolicy is stored but not enforced: minik-proxy runs with --proxy-mode userspace, without iptables".to_string(),
            "default-deny-ingress".to_string()
        )
    );
    drop(proxy);
}
