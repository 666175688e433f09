//! Services end to end with real Docker: an in-process API server,
//! controllers, scheduler, Docker kubelet, minik-proxy and minik-dns.
//!
//! The seeds' microservices layout (Deployments + Services, a ConfigMap and
//! a Secret) is applied with the real kubectl; then, from inside a pod,
//! `wget http://user-service:5000/` reaches every replica and `nslookup`
//! resolves the ClusterIP and a headless service's pod IPs; from the host,
//! NodePort, LoadBalancer and an Ingress (two hosts, two paths) answer; a
//! rolling update with readiness probes runs under a bounded client loop
//! with zero failed requests; and scaling to 0 refuses connections at once.
//!
//! The proxy runs in its default iptables mode: the test checks that DNAT
//! rules to the pods exist, that a pod calling its own service reaches
//! itself as well as the other replica (hairpin), and that the rules are
//! gone once the proxy stops.
//!
//! Network hygiene: the run gets its own service CIDR (`10.123.<x>.0/24`)
//! and iptables chains (`mk<run id>-…`), made local by the proxy's `ip route add local … dev lo table local`
//! before anything is sent to it and removed when the proxy stops; all
//! other traffic goes to loopback or to this run's containers. The DNS
//! upstream is a silent loopback socket: nothing is ever forwarded to the
//! host's resolver. Containers and the network are removed by a guard.

use crate::kubelet_support;
use crate::services_support;
use crate::support;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams};
use kubelet_support::{docker_available, run_id, DockerGuard};
use services_support::{http_get, nat_rules, wait_for};
use support::TestCluster;

const MANIFESTS: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  GREETING: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
stringData:
  DB_PASSWORD: s3cret
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: user-service
spec:
  replicas: 2
  selector:
    matchLabels:
      app: user-service
  template:
    metadata:
      labels:
        app: user-service
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: minik/web:v1
        ports:
        - containerPort: 80
          name: http
        envFrom:
        - configMapRef:
            name: app-config
        env:
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: app-secret
              key: DB_PASSWORD
        readinessProbe:
          httpGet:
            path: /healthz
            port: 80
          periodSeconds: 1
        lifecycle:
          preStop:
            exec:
              command: ["sleep", "2"]
---
apiVersion: v1
kind: Service
metadata:
  name: user-service
spec:
  selector:
    app: user-service
  ports:
  - port: 5000
    targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: user-db
spec:
  clusterIP: None
  selector:
    app: user-service
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: product-service
spec:
  replicas: 2
  selector:
    matchLabels:
      app: product-service
  template:
    metadata:
      labels:
        app: product-service
    spec:
      containers:
      - name: web
        image: minik/web:v2
        ports:
        - containerPort: 80
        readinessProbe:
          httpGet:
            path: /healthz
            port: 80
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: product-service
spec:
  type: NodePort
  selector:
    app: product-service
  ports:
  - port: 5001
    targetPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: shop-lb
spec:
  type: LoadBalancer
  selector:
    app: user-service
  ports:
  - port: LB_PORT
    targetPort: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: client
spec:
  replicas: 1
  selector:
    matchLabels:
      app: client
  template:
    metadata:
      labels:
        app: client
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sh
        image: busybox:1.35
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /
spec:
  rules:
  - host: users.shop.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: user-service
            port:
              number: 5000
  - host: api.shop.test
    http:
      paths:
      - path: /products
        pathType: Prefix
        backend:
          service:
            name: product-service
            port:
              number: 5001
      - path: /users
        pathType: Prefix
        backend:
          service:
            name: user-service
            port:
              number: 5000
"#;

/// Runs `sh -c script` in the pod's first container; (success, output, time taken).
fn pod_sh(container: &str, script: &str) -> (bool, String, Duration) {
    let t = Instant::now();
    let out = Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .output()
        .expect("docker exec");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, t.elapsed())
}

/// Runs `n` wgets of `http://user-service:5000/` in `container`; the
/// replicas that answered (and the output) if none failed.
fn wget_replicas(container: &str, n: usize) -> Option<(BTreeSet<String>, String)> {
    let times = vec!["x"; n].join(" ");
    let (ok, out, _) = pod_sh(
        container,
        &format!("for i in {times}; do timeout 5 wget -qO- http://user-service:5000/ || echo FAILED; done"),
    );
    let hosts = out
        .lines()
        .filter_map(|l| l.strip_prefix("minik-web v1 on "))
        .map(str::to_string)
        .collect();
    (ok && !out.contains("FAILED")).then_some((hosts, out))
}

fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn ready_pods(pods: &Api<Pod>, app: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|l| l.items.into_iter().filter(ready).collect())
        .unwrap_or_default()
}

fn container_id(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.container_id.as_deref())
        .and_then(|id| id.strip_prefix("docker://"))
        .expect("a running container")
        .to_string()
}

/// Removes a test's image however the test ends.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// An image holding the host's (static) kubectl, as tutorials use
/// `bitnami/kubectl`: built locally, no registry.
fn kubectl_image(tag: &str) -> ImageGuard {
    let dir = tempfile::tempdir().unwrap();
    let kubectl = String::from_utf8(
        Command::new("sh")
            .args(["-c", "readlink -f \"$(command -v kubectl)\""])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::copy(kubectl.trim(), dir.path().join("kubectl")).expect("copy kubectl");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM minik/busybox:1.35\nCOPY kubectl /bin/kubectl\n",
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("docker build");
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ImageGuard(tag.to_string())
}

/// The real kubectl inside a pod, configured by nothing but what every pod
/// gets: `KUBERNETES_SERVICE_HOST`/`PORT` and the mounted token, CA and
/// namespace. It is the namespace's `default` ServiceAccount, which may
/// list nothing until a RoleBinding grants `view`; its token is refused
/// once the pod it is bound to is gone.
async fn in_cluster_client(c: &TestCluster, id: &str) {
    let image = format!("mk{id}/kubectl:test");
    let _image = kubectl_image(&image);
    c.kubectl_ok(&[
        "run",
        "kubectl-client",
        &format!("--image={image}"),
        "--image-pull-policy=Never",
        "--command",
        "--",
        "sleep",
        "3600",
    ]);
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod = wait_for("the kubectl pod", Duration::from_secs(30), || async {
        pods.get("kubectl-client").await.ok().filter(ready)
    })
    .await;
    let sh = container_id(&pod);
    let (_, env, _) = pod_sh(&sh, "env | grep ^KUBERNETES_SERVICE");
    assert!(env.contains("KUBERNETES_SERVICE_PORT_HTTPS=443"), "{env}");
    let (ok, out, _) = pod_sh(&sh, "kubectl get pods");
    assert!(!ok, "{out}");
    assert!(
        out.contains("pods is forbidden: User \"system:serviceaccount:default:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{out}"
    );
    c.kubectl_ok(&[
        "create",
        "rolebinding",
        "default-view",
        "--clusterrole=view",
        "--serviceaccount=default:default",
    ]);
    let listed = wait_for("the granted list", Duration::from_secs(10), || async {
        let (ok, out, _) = pod_sh(&sh, "kubectl get pods -o name");
        ok.then_some(out)
    })
    .await;
    assert!(listed.contains("pod/kubectl-client"), "{listed}");
    let (_, whoami, _) = pod_sh(
        &sh,
        "kubectl auth whoami -o jsonpath='{.status.userInfo.username}'",
    );
    assert_eq!(whoami.trim(), "system:serviceaccount:default:default");
    let (ok, out, _) = pod_sh(&sh, "kubectl delete pod kubectl-client");
    assert!(!ok && out.contains("cannot delete resource"), "{out}");

    // The mounted token works from outside too, until its pod is gone.
    let (_, token, _) = pod_sh(
        &sh,
        "cat /var/run/secrets/kubernetes.io/serviceaccount/token",
    );
    let with_token = |args: &[&str]| c.kubectl_as_token(token.trim(), args);
    let out = with_token(&["get", "pods", "-o", "name"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.kubectl_ok(&[
        "delete",
        "pod",
        "kubectl-client",
        "--wait=true",
        "--timeout=60s",
    ]);
    let out = with_token(&["get", "pods", "-o", "name"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("Unauthorized"),
        "a token bound to a deleted pod: {err}"
    );
    eprintln!(
        "services_docker: in-cluster kubectl: forbidden, granted, whoami, token dies with its pod"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microservices_reach_each_other_and_the_host_reaches_them() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    let id = run_id();
    // This run's service CIDR and DNS IP.
    let x = 1 + (u32::from_str_radix(&id[id.len() - 4..], 16).unwrap_or(7) % 250) as u8;
    let cidr = format!("10.123.{x}.0/24");
    let dns_ip = Ipv4Addr::new(10, 123, x, 10);
    let c = TestCluster::start_with(|cfg| cfg.service_cidr = cidr.parse().unwrap()).await;
    let client = c.client.clone();

    // Proxy first: it adds the route that makes the service CIDR local.
    let mut proxy_config = minik_proxy::Config::new(client.clone());
    proxy_config.service_cidr = Some(cidr.parse().unwrap());
    // The default iptables mode, with chains of this run's own.
    let chain_prefix = format!("mk{id}");
    proxy_config.mode = minik_proxy::ProxyMode::Iptables {
        chain_prefix: chain_prefix.clone(),
    };
    proxy_config.ingress_listen = Some("127.0.0.1:0".parse().unwrap());
    proxy_config.ingress_tls_listen = Some("127.0.0.1:0".parse().unwrap());
    // Kubelet: a network and cluster name of our own, the DNS IP above.
    let mut kcfg = kubelet_support::KubeletCluster::config(&c, &id);
    kcfg.cluster_dns = dns_ip.to_string();
    let guard = DockerGuard {
        cluster: kcfg.cluster_name.clone(),
        network: kcfg.network.clone(),
    };
    let kubelet = minik_kubelet::start(kcfg.clone(), client.clone())
        .await
        .expect("kubelet starts");
    let gateway: IpAddr = {
        let out = Command::new("docker")
            .args([
                "network",
                "inspect",
                "-f",
                "{{(index .IPAM.Config 0).Gateway}}",
                &kcfg.network,
            ])
            .output()
            .expect("docker network inspect");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("gateway IP")
    };
    proxy_config.node_ip = Some(gateway);
    proxy_config.node_addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST), gateway];
    let proxy = minik_proxy::start(proxy_config)
        .await
        .expect("proxy starts");
    let ingress = proxy.ingress_addr.unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut dns_config = minik_dns::Config::new(client.clone());
    dns_config.listen = vec![SocketAddr::from((dns_ip, 53))];
    dns_config.upstreams = vec![silent.local_addr().unwrap()];
    dns_config.service_cidr = Some(cidr.parse().unwrap());
    let dns = minik_dns::start(dns_config).await.expect("dns starts");
    let scheduler = tokio::spawn(minik_scheduler::run(minik_scheduler::Config::new(
        client.clone(),
    )));
    // The CA pods verify the API server with (`kube-root-ca.crt`).
    let settings = minik_controller::Settings {
        root_ca: c.tls.as_ref().map(|t| t.ca_pem.clone()),
        ..Default::default()
    };
    let controllers = tokio::spawn(minik_controller::run(client.clone(), settings));

    // The cluster DNS Service (as `cluster up` creates it), then the app.
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "kube-dns.yaml",
            &format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: kube-dns\n  namespace: kube-system\nspec:\n  clusterIP: {dns_ip}\n  ports:\n  - name: dns\n    port: 53\n    protocol: UDP\n  - name: dns-tcp\n    port: 53\n"),
        ),
    ]);
    let lb_port = 18000 + (x as u16) * 10;
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "shop.yaml",
            &MANIFESTS.replace("LB_PORT", &lb_port.to_string()),
        ),
    ]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let users = wait_for(
        "2 ready user-service pods",
        Duration::from_secs(60),
        || async {
            let p = ready_pods(&pods, "user-service").await;
            (p.len() == 2).then_some(p)
        },
    )
    .await;
    wait_for(
        "2 ready product-service pods",
        Duration::from_secs(30),
        || async { (ready_pods(&pods, "product-service").await.len() == 2).then_some(()) },
    )
    .await;
    let client_pod = wait_for("the client pod", Duration::from_secs(30), || async {
        ready_pods(&pods, "client").await.pop()
    })
    .await;
    let sh = container_id(&client_pod);
    let user_names: BTreeSet<String> = users
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let user_ips: BTreeSet<String> = users
        .iter()
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    eprintln!("services_docker: pods ready after {:?}", started.elapsed());

    // Inside a pod: the service name resolves and every replica answers.
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let user_ip = svcs
        .get("user-service")
        .await
        .unwrap()
        .spec
        .unwrap()
        .cluster_ip
        .unwrap();
    // busybox's nslookup asks every search domain at once and exits 1
    // because the other two are NXDOMAIN (as with CoreDNS): judge the answer.
    let (_, out, _) = pod_sh(&sh, "nslookup user-service");
    let answer = format!("Name:\tuser-service.default.svc.cluster.local\nAddress: {user_ip}");
    assert!(out.contains(&answer), "nslookup user-service:\n{out}");
    let seen = wait_for(
        "wget to reach both replicas",
        Duration::from_secs(10),
        || async {
            wget_replicas(&sh, 6)
                .map(|(hosts, _)| hosts)
                .filter(|hosts| *hosts == user_names)
        },
    )
    .await;
    assert_eq!(seen, user_names);
    let (ok, out, _) = pod_sh(&sh, &format!("timeout 5 wget -qO- http://{user_ip}:5000/"));
    assert!(ok && out.starts_with("minik-web v1"), "by ClusterIP: {out}");

    // The kernel carries it: DNAT rules to both pods. A pod calling its own
    // service reaches itself too (hairpin: the masquerade rule, and the
    // kubelet's hairpin mode on the bridge ports), not only the other pod.
    let rules = nat_rules(&chain_prefix).join("\n");
    for ip in &user_ips {
        assert!(
            rules.contains(&format!("--to-destination {ip}:80")),
            "no DNAT rule to {ip}:\n{rules}"
        );
    }
    assert!(
        rules.contains(&format!("-d {user_ip}/32 -p tcp -m tcp --dport 5000")),
        "{rules}"
    );
    let own = container_id(&users[0]);
    let hairpin = wait_for(
        "a pod to reach its own service",
        Duration::from_secs(10),
        || async {
            wget_replicas(&own, 4)
                .filter(|(hosts, _)| *hosts == user_names)
                .map(|(_, out)| out)
        },
    )
    .await;
    assert_eq!(hairpin.matches("minik-web v1 on ").count(), 4, "{hairpin}");

    // Headless: the name resolves to the pods' IPs.
    let (_, out, _) = pod_sh(&sh, "nslookup user-db");
    assert!(
        out.contains("Name:\tuser-db.default.svc.cluster.local"),
        "nslookup user-db:\n{out}"
    );
    for ip in &user_ips {
        assert!(
            out.contains(ip.as_str()),
            "headless answer lacks {ip}:\n{out}"
        );
    }

    // From the host: NodePort (127.0.0.1 and the node IP) and LoadBalancer.
    let product = svcs.get("product-service").await.unwrap();
    let node_port = product.spec.unwrap().ports.unwrap()[0].node_port.unwrap() as u16;
    for host in [IpAddr::V4(Ipv4Addr::LOCALHOST), gateway] {
        let r = wait_for("the NodePort", Duration::from_secs(10), || async {
            http_get(SocketAddr::new(host, node_port), "x", "/")
                .await
                .ok()
        })
        .await;
        assert!(r.body.starts_with("minik-web v2"), "{}", r.body);
    }
    let r = wait_for("the LoadBalancer port", Duration::from_secs(10), || async {
        http_get(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), lb_port),
            "x",
            "/",
        )
        .await
        .ok()
    })
    .await;
    assert!(r.body.starts_with("minik-web v1"), "{}", r.body);
    let table = c.kubectl_ok(&["get", "svc", "shop-lb"]);
    assert!(
        table.contains(&gateway.to_string()),
        "EXTERNAL-IP:\n{table}"
    );

    // Ingress from the host: two hosts, two paths.
    let r = wait_for("the ingress", Duration::from_secs(10), || async {
        let r = http_get(ingress, "users.shop.test", "/").await.ok()?;
        (r.status == 200).then_some(r)
    })
    .await;
    assert!(r.body.starts_with("minik-web v1"), "{}", r.body);
    let r = http_get(ingress, "api.shop.test", "/products")
        .await
        .unwrap();
    assert!(r.body.starts_with("minik-web v2"), "{r:?}");
    let r = http_get(ingress, "api.shop.test", "/users/").await.unwrap();
    assert!(r.body.starts_with("minik-web v1"), "{r:?}");
    let r = http_get(ingress, "api.shop.test", "/").await.unwrap();
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "default backend - 404\n")
    );
    // The Ingress's ADDRESS is the node IP, and answers there, pods included.
    let table = c.kubectl_ok(&["get", "ingress"]);
    assert!(table.contains(&gateway.to_string()), "ADDRESS:\n{table}");
    let (ok, out, _) = pod_sh(
        &sh,
        &format!(
            "timeout 5 wget -qO- --header 'Host: users.shop.test' http://{gateway}:{}/",
            ingress.port()
        ),
    );
    assert!(
        ok && out.starts_with("minik-web v1"),
        "a pod to the Ingress at the node IP: {out}"
    );

    // Rolling update behind the Service, under a bounded client loop: no failures.
    let vip: SocketAddr = format!("{user_ip}:5000").parse().unwrap();
    let loop_task = tokio::spawn(async move {
        let (mut ok, mut failed, mut v2) = (0u32, Vec::new(), 0u32);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) && ok + (failed.len() as u32) < 3000 {
            match http_get(vip, "user-service", "/").await {
                Ok(r) if r.status == 200 => {
                    ok += 1;
                    if r.body.starts_with("minik-web v2") {
                        v2 += 1;
                        if v2 >= 20 {
                            break;
                        }
                    }
                }
                other => failed.push(format!("{other:?}")),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (ok, failed, v2)
    });
    c.kubectl_ok(&[
        "set",
        "image",
        "deployment/user-service",
        "web=minik/web:v2",
    ]);
    wait_for("the rollout to finish", Duration::from_secs(60), || async {
        let all = pods
            .list(&ListParams::default().labels("app=user-service"))
            .await
            .ok()?
            .items;
        let done = all.len() == 2
            && all.iter().all(|p| {
                ready(p)
                    && p.spec.as_ref().unwrap().containers[0].image.as_deref()
                        == Some("minik/web:v2")
            });
        done.then_some(())
    })
    .await;
    let (ok, failed, v2) = loop_task.await.unwrap();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        ok as usize + failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(ok > 20 && v2 > 0, "ok={ok} v2={v2}");
    eprintln!(
        "services_docker: rollout with {ok} requests, 0 failed, after {:?}",
        started.elapsed()
    );

    // Scale to 0: the service refuses at once instead of hanging.
    c.kubectl_ok(&["scale", "deployment/user-service", "--replicas=0"]);
    wait_for(
        "no user-service endpoints",
        Duration::from_secs(30),
        || async {
            let ep: Api<k8s_openapi::api::core::v1::Endpoints> =
                Api::namespaced(client.clone(), "default");
            let e = ep.get("user-service").await.ok()?;
            e.subsets
                .iter()
                .flatten()
                .all(|s| s.addresses.as_ref().is_none_or(|a| a.is_empty()))
                .then_some(())
        },
    )
    .await;
    // Empty in the API is not yet applied by the proxy: wait for its sync
    // (backends first, then the rules, so the rule's removal means both),
    // as a client of a real cluster would meet kube-proxy's lag too.
    let frontend = format!("-d {user_ip}/32 -p tcp -m tcp --dport 5000");
    wait_for(
        "the proxy to drop user-service's DNAT rule",
        Duration::from_secs(10),
        || {
            let gone = !nat_rules(&chain_prefix).join("\n").contains(&frontend);
            async move { gone.then_some(()) }
        },
    )
    .await;
    let (ok, out, took) = pod_sh(&sh, "timeout 10 wget -qO- http://user-service:5000/");
    assert!(!ok, "expected a refusal, got {out}");
    assert!(
        took < Duration::from_secs(3),
        "refusal took {took:?}: {out}"
    );
    eprintln!(
        "services_docker: scaled to 0, refused in {took:?} ({})",
        out.trim()
    );

    in_cluster_client(&c, &id).await;

    // Tear down in order: pods (guard), then proxy (removes the route), DNS, the rest.
    controllers.abort();
    scheduler.abort();
    drop(kubelet);
    drop(guard);
    drop(proxy);
    let left = nat_rules(&chain_prefix).join("\n");
    assert!(
        left.is_empty(),
        "rules left after the proxy stopped:\n{left}"
    );
    dns.shutdown().await;
    eprintln!("services_docker: total {:?}", started.elapsed());
}
