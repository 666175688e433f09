//! miniktl against the real kubectl: for the same objects on one in-process
//! API server, `get` tables (every variant the tutorials use), `-o
//! yaml|json|name|jsonpath`, `describe` sections, apply messages and the
//! last-applied annotation, generators' `--dry-run=client -o yaml`, and the
//! messages of label/annotate/scale/set/patch/rollout/delete must be
//! byte-identical to kubectl's (ages may tick between the two runs: a
//! comparison is retried until both land in the same second).

use crate::support;
use crate::support::miniktl as mk;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use serde_json::{json, Value};
use support::TestCluster;

/// Runs the same command through kubectl and miniktl; both must print the
/// same stdout and exit the same way. Returns miniktl's stdout. A mismatch
/// is retried a few times: ages tick between the two runs, and a loaded
/// machine can make one kubectl run fail spuriously.
async fn same(tc: &TestCluster, args: &[&str]) -> String {
    let mut last = String::new();
    for _ in 0..4 {
        let k = tc.kubectl(args);
        let m = mk::miniktl(&tc.kubeconfig, args).await;
        let kout = String::from_utf8_lossy(&k.stdout).into_owned();
        if k.status.success() == (m.code == 0) && kout == m.out {
            return m.out;
        }
        last = format!(
            "exit: kubectl {:?}, miniktl {}\nkubectl stderr: {}\nminiktl stderr: {}\n{}\n--- kubectl:\n{kout}\n--- miniktl:\n{}",
            k.status.code(),
            m.code,
            String::from_utf8_lossy(&k.stderr),
            m.err,
            mk::diff(&kout, &m.out),
            m.out
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("kubectl and miniktl differ for {args:?}:\n{last}");
}

/// Like [`same`] for output whose line order kubectl leaves to Go's map
/// iteration (ConfigMap and Secret data in `describe`): sorted lines match.
async fn same_lines(tc: &TestCluster, args: &[&str]) {
    let k = tc.kubectl(args);
    let m = mk::miniktl(&tc.kubeconfig, args).await;
    let sorted = |s: &str| {
        let mut l: Vec<String> = s.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(
        sorted(&String::from_utf8_lossy(&k.stdout)),
        sorted(&m.out),
        "{args:?}"
    );
}

/// Like [`same`] for commands expected to fail: stderr must match too.
async fn same_error(tc: &TestCluster, args: &[&str]) {
    let k = tc.kubectl(args);
    let m = mk::miniktl(&tc.kubeconfig, args).await;
    assert!(
        !k.status.success() && m.code != 0,
        "{args:?} should fail in both"
    );
    assert_eq!(
        String::from_utf8_lossy(&k.stderr),
        m.err,
        "stderr differs for {args:?}"
    );
}

async fn patch_status(
    tc: &TestCluster,
    ar: &ApiResource,
    ns: Option<&str>,
    name: &str,
    status: Value,
) {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(tc.client.clone(), ns, ar),
        None => Api::all_with(tc.client.clone(), ar),
    };
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .expect("status patch");
}

fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.into(),
        plural: plural.into(),
    }
}

const APP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  LOG_LEVEL: debug
  greeting: "hello <world> & more"
---
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
data:
  username: c2hvcA==
  password: czNjcmV0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: minik/web:v1
        ports:
        - containerPort: 80
        env:
        - name: A
          value: "1"
        - name: B
          value: "2"
        resources:
          requests: {cpu: 100m, memory: 32Mi}
          limits: {cpu: 200m, memory: 64Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: gateway
spec:
  rules:
  - host: shop.local
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"#;

const POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: p1
  labels: {app: web, tier: fe}
  annotations: {note: "hi there"}
spec:
  initContainers:
  - name: init
    image: busybox:1.35
    command: ["sh", "-c", "echo init"]
  containers:
  - name: web
    image: minik/web:v1
    ports: [{containerPort: 80, name: http}, {containerPort: 443}]
    env:
    - {name: X, value: "1"}
    - name: FROM_CM
      valueFrom: {configMapKeyRef: {name: app-config, key: LOG_LEVEL}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: db-credentials, key: password}}
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    envFrom:
    - configMapRef: {name: app-config}
    livenessProbe:
      exec: {command: [cat, /tmp/ok]}
      initialDelaySeconds: 3
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg, readOnly: true}
    - {name: scratch, mountPath: /tmp/x}
  - name: side
    image: busybox:1.35
    args: ["sleep", "3600"]
    resources:
      limits: {cpu: "1", memory: 128Mi}
  volumes:
  - name: cfg
    configMap: {name: app-config}
  - name: scratch
    emptyDir: {}
  - name: creds
    secret: {secretName: db-credentials}
"#;

/// Objects for every comparison: the app, a pod with a full status, a node
/// with its lease, ReplicaSets owned by the deployment, and events.
async fn seed(tc: &TestCluster) {
    let app = tc.file("app.yaml", APP);
    let out = mk::miniktl(&tc.kubeconfig, &["apply", "-f", &app])
        .await
        .ok();
    assert_eq!(
        out,
        "configmap/app-config created\nsecret/db-credentials created\ndeployment.apps/web created\nservice/web created\ningress.networking.k8s.io/gateway created\nhorizontalpodautoscaler.autoscaling/web created\n"
    );
    let pod = tc.file("pod.yaml", POD);
    mk::miniktl(&tc.kubeconfig, &["apply", "-f", &pod])
        .await
        .ok();
    let now = minik_api::meta::now_rfc3339();
    patch_status(
        tc,
        &ar("", "v1", "Pod", "pods"),
        Some("default"),
        "p1",
        json!({
            "phase": "Running", "hostIP": "172.18.0.1", "podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.7"}],
            "startTime": now, "qosClass": "Burstable",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}, {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}],
            "initContainerStatuses": [{"name": "init", "ready": true, "restartCount": 0, "image": "busybox:1.35", "imageID": "docker://sha256:abc", "containerID": "docker://111",
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}}],
            "containerStatuses": [
                {"name": "web", "ready": true, "restartCount": 2, "image": "minik/web:v1", "imageID": "docker://sha256:def", "containerID": "docker://222", "started": true,
                 "state": {"running": {"startedAt": now}}, "lastState": {"terminated": {"exitCode": 137, "reason": "Error", "startedAt": now, "finishedAt": now}}},
                {"name": "side", "ready": false, "restartCount": 0, "image": "busybox:1.35", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}}
            ]
        }),
    )
    .await;
    let uid = |v: &Value| v["metadata"]["uid"].as_str().unwrap().to_string();
    let pod_obj: Value = serde_json::from_str(
        &mk::miniktl(&tc.kubeconfig, &["get", "pod", "p1", "-o", "json"])
            .await
            .ok(),
    )
    .unwrap();
    let deploy: Value = serde_json::from_str(
        &mk::miniktl(&tc.kubeconfig, &["get", "deploy", "web", "-o", "json"])
            .await
            .ok(),
    )
    .unwrap();
    let mut extra = format!(
        r#"apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {{kubernetes.io/hostname: node-1, node-role.kubernetes.io/worker: ""}}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: node-1, namespace: kube-node-lease}}
spec: {{holderIdentity: node-1, leaseDurationSeconds: 40, renewTime: "2024-01-01T10:00:00.000000Z"}}
---
apiVersion: v1
kind: Event
metadata: {{name: p1.a, namespace: default}}
involvedObject: {{kind: Pod, name: p1, namespace: default, apiVersion: v1, uid: {pod_uid}}}
reason: Scheduled
message: Successfully assigned default/p1 to node-1
type: Normal
source: {{component: default-scheduler}}
firstTimestamp: "{now}"
lastTimestamp: "{now}"
count: 1
---
apiVersion: v1
kind: Event
metadata: {{name: p1.b, namespace: default}}
involvedObject: {{kind: Pod, name: p1, namespace: default, apiVersion: v1, uid: {pod_uid}}}
reason: BackOff
message: Back-off restarting failed container side in pod p1
type: Warning
source: {{component: kubelet, host: node-1}}
firstTimestamp: "2024-01-01T10:00:00Z"
lastTimestamp: "{now}"
count: 5
"#,
        pod_uid = uid(&pod_obj)
    );
    for rev in [1, 2] {
        extra.push_str(&format!(
            r#"---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-hash{rev}
  labels: {{app: web, pod-template-hash: hash{rev}}}
  annotations: {{deployment.kubernetes.io/revision: "{rev}"}}
  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: {duid}, controller: true, blockOwnerDeletion: true}}]
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web, pod-template-hash: hash{rev}}}}}
  template:
    metadata: {{labels: {{app: web, pod-template-hash: hash{rev}}}}}
    spec:
      containers:
      - name: web
        image: minik/web:v{rev}
"#,
            duid = uid(&deploy),
            replicas = if rev == 2 { 3 } else { 0 }
        ));
    }
    let extra_path = tc.file("extra.yaml", &extra);
    mk::miniktl(&tc.kubeconfig, &["apply", "-f", &extra_path])
        .await
        .ok();
    patch_status(
        tc,
        &ar("", "v1", "Node", "nodes"),
        None,
        "node-1",
        json!({
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": "172.18.0.1"}, {"type": "Hostname", "address": "node-1"}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.1", "osImage": "Debian", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "docker://20.10", "kubeletVersion": "v1.33.0-minik", "kubeProxyVersion": ""}
        }),
    )
    .await;
    patch_status(
        tc,
        &ar("apps", "v1", "ReplicaSet", "replicasets"),
        Some("default"),
        "web-hash2",
        json!({"replicas": 3, "readyReplicas": 2, "availableReplicas": 2, "observedGeneration": 1}),
    )
    .await;
    patch_status(
        tc,
        &ar("apps", "v1", "Deployment", "deployments"),
        Some("default"),
        "web",
        json!({"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1, "observedGeneration": 1,
               "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
                              {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": "ReplicaSet \"web-hash2\" is progressing.", "lastUpdateTime": now, "lastTransitionTime": now}]}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_tables_and_formats_match_kubectl() {
    let tc = TestCluster::start().await;
    seed(&tc).await;
    for args in [
        &["get", "all"][..],
        &["get", "all", "-A"],
        &["get", "deploy,svc"],
        &["get", "deploy,svc,cm", "-o", "wide"],
        &["get", "pods"],
        &["get", "pods", "-o", "wide"],
        &["get", "po", "--show-labels"],
        &["get", "deploy", "-L", "app"],
        &["get", "pods", "--no-headers"],
        &["get", "nodes", "-o", "wide"],
        &["get", "ns"],
        &["get", "cm", "-A"],
        &["get", "secrets"],
        &["get", "svc", "-o", "wide"],
        &["get", "rs", "-o", "wide"],
        &["get", "ing"],
        &["get", "hpa"],
        &["get", "events"],
        &["get", "lease", "-A"],
        &["get", "pod/p1", "svc/web"],
        &["get", "deploy", "web", "-o", "name"],
        &["get", "cm,deploy", "-o", "name"],
        &["get", "deploy", "web", "-o", "yaml"],
        &["get", "deploy", "web", "-o", "json"],
        &["get", "pod", "p1", "-o", "yaml"],
        &["get", "svc", "-o", "json"],
        &["get", "cm", "app-config", "-o", "yaml"],
        &[
            "get",
            "secret",
            "db-credentials",
            "-o",
            "jsonpath={.data.password}",
        ],
        &[
            "get",
            "pods",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.status.podIP}{\"\\n\"}{end}",
        ],
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
        ],
        &[
            "get",
            "deploy",
            "-o",
            "jsonpath={.items[0].spec.template.spec.containers[0]}",
        ],
        &["get", "pods", "--sort-by=.metadata.name"],
        &["get", "pods", "-l", "tier=fe"],
        &["get", "pods", "--field-selector", "status.phase=Running"],
    ] {
        same(&tc, args).await;
    }
    // Nothing there: the message goes to stderr, as kubectl's.
    for args in [
        &["get", "pods", "-n", "kube-public"][..],
        &["get", "all", "-n", "kube-public"],
    ] {
        let k = tc.kubectl(args);
        let m = mk::miniktl(&tc.kubeconfig, args).await;
        assert_eq!(String::from_utf8_lossy(&k.stderr), m.err);
        assert_eq!(m.out, "");
    }
    same_error(&tc, &["get", "deploy", "nope"]).await;
    same_error(&tc, &["get", "pods", "p1", "nope"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_matches_kubectl() {
    let tc = TestCluster::start().await;
    seed(&tc).await;
    for args in [
        &["describe", "pod", "p1"][..],
        &["describe", "pods"],
        &["describe", "deploy", "web"],
        &["describe", "deployment/web"],
        &["describe", "rs", "web-hash2"],
        &["describe", "svc", "web"],
        &["describe", "node", "node-1"],
        &["describe", "ns", "default"],
        &["describe", "pod", "-l", "tier=fe"],
    ] {
        same(&tc, args).await;
    }
    same_lines(&tc, &["describe", "cm", "app-config"]).await;
    same_lines(&tc, &["describe", "secret", "db-credentials"]).await;
    // The Events section, from core/v1 events about the pod.
    let out = mk::miniktl(&tc.kubeconfig, &["describe", "pod", "p1"])
        .await
        .ok();
    assert!(out.contains("Warning  BackOff"), "{out}");
    assert!(out.contains("(x5 over"), "{out}");
    same_error(&tc, &["describe", "deploy", "nope"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_messages_and_last_applied_match_kubectl() {
    let tc = TestCluster::start().await;
    let v1 = tc.file("v1.yaml", APP);
    mk::miniktl(&tc.kubeconfig, &["apply", "-f", &v1])
        .await
        .ok();
    // kubectl finds miniktl's last-applied annotation identical to its own: unchanged.
    let k = tc.kubectl_ok(&["apply", "-f", &v1]);
    assert_eq!(
        k,
        "configmap/app-config unchanged\nsecret/db-credentials unchanged\ndeployment.apps/web unchanged\nservice/web unchanged\ningress.networking.k8s.io/gateway unchanged\nhorizontalpodautoscaler.autoscaling/web unchanged\n"
    );
    assert_eq!(
        mk::miniktl(&tc.kubeconfig, &["apply", "-f", &v1])
            .await
            .ok(),
        k
    );
    // Remove env B and the service label, change the image: configured, and the
    // removed fields are gone from the live objects.
    let v2_text = APP
        .replace("        - name: B\n          value: \"2\"\n", "")
        .replace("image: minik/web:v1", "image: minik/web:v2")
        .replace(
            "  name: web\n  labels:\n    app: web\nspec:\n  type: NodePort",
            "  name: web\nspec:\n  type: NodePort",
        );
    let v2 = tc.file("v2.yaml", &v2_text);
    let out = mk::miniktl(&tc.kubeconfig, &["apply", "-f", &v2])
        .await
        .ok();
    assert_eq!(
        out,
        "configmap/app-config unchanged\nsecret/db-credentials unchanged\ndeployment.apps/web configured\nservice/web configured\ningress.networking.k8s.io/gateway unchanged\nhorizontalpodautoscaler.autoscaling/web unchanged\n"
    );
    let env = mk::miniktl(
        &tc.kubeconfig,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].env}",
        ],
    )
    .await
    .ok();
    assert_eq!(env, r#"[{"name":"A","value":"1"}]"#);
    let labels = mk::miniktl(
        &tc.kubeconfig,
        &["get", "svc", "web", "-o", "jsonpath={.metadata.labels}"],
    )
    .await
    .ok();
    assert_eq!(labels, "");
    assert_eq!(
        tc.kubectl_ok(&["apply", "-f", &v2]),
        out.replace("configured", "unchanged")
    );
    // And back with kubectl: both tools agree on what changed.
    assert_eq!(tc.kubectl_ok(&["apply", "-f", &v1]), out);
    assert_eq!(
        mk::miniktl(&tc.kubeconfig, &["apply", "-f", &v1])
            .await
            .ok(),
        out.replace("configured", "unchanged")
    );
    same(&tc, &["get", "deploy", "web", "-o", "yaml"]).await;
    same(&tc, &["apply", "-f", &v1, "--dry-run=client"]).await;
    same(&tc, &["apply", "-f", &v2, "--dry-run=server", "-o", "name"]).await;
    // stdin, and a directory.
    let m = mk::miniktl_with_stdin(&tc.kubeconfig, &["apply", "-f", "-"], APP).await;
    assert_eq!(
        m.out,
        tc.kubectl_stdin(&["apply", "-f", "-"], APP)
            .stdout
            .iter()
            .map(|b| *b as char)
            .collect::<String>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generators_rollout_and_api_resources_match_kubectl() {
    let tc = TestCluster::start().await;
    seed(&tc).await;
    let envfile = tc.file("app.env", "A=1\n# comment\nB=two\n");
    let datafile = tc.file("welcome.txt", "hello\n");
    let from_file = format!("--from-file={datafile}");
    let from_env = format!("--from-env-file={envfile}");
    for args in [
        &[
            "create",
            "deployment",
            "x",
            "--image=minik/web:v1",
            "--replicas=3",
            "--port=80",
            "--dry-run=client",
            "-o",
            "yaml",
        ][..],
        &[
            "create",
            "deployment",
            "x",
            "--image=a",
            "--image=b:1",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[
            "create",
            "deployment",
            "x",
            "--image=busybox",
            "--dry-run=client",
            "-o",
            "yaml",
            "--",
            "sleep",
            "10",
        ],
        &[
            "create",
            "configmap",
            "c1",
            "--from-literal=a=1",
            &from_file,
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[
            "create",
            "configmap",
            "c1",
            &from_env,
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[
            "create",
            "secret",
            "generic",
            "s1",
            "--from-literal=password=pw",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[
            "create",
            "namespace",
            "dev",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &["create", "deployment", "x", "--image=a", "--dry-run=client"],
        &[
            "expose",
            "deployment",
            "web",
            "--port=8080",
            "--target-port=80",
            "--type=NodePort",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[
            "expose",
            "deployment",
            "web",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[
            "autoscale",
            "deployment",
            "web",
            "--min=2",
            "--max=5",
            "--cpu-percent=70",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[
            "run",
            "t",
            "--image=busybox",
            "--restart=Never",
            "--dry-run=client",
            "-o",
            "yaml",
            "--",
            "sh",
            "-c",
            "echo hi",
        ],
        &[
            "run",
            "t",
            "--image=busybox",
            "--port=80",
            "--env=A=1",
            "--labels=x=y",
            "--dry-run=client",
            "-o",
            "yaml",
            "--command",
            "--",
            "sleep",
            "10",
        ],
        &["rollout", "history", "deployment/web"],
        &["rollout", "history", "deployment", "web", "--revision=1"],
        &["api-resources"],
        &["api-resources", "--namespaced=false"],
        &["api-resources", "-o", "name"],
        &["api-resources", "--api-group=apps"],
    ] {
        same(&tc, args).await;
    }
    same_error(
        &tc,
        &["create", "configmap", "c1", &from_env, "--from-literal=a=b"],
    )
    .await;
}

/// Runs `args` with `@` replaced by a kubectl twin (`tw-k`) and a miniktl
/// twin (`tw-m`) of the same object: the messages must be the same.
async fn twins(tc: &TestCluster, args: &[&str]) {
    let k_args: Vec<String> = args.iter().map(|a| a.replace('@', "tw-k")).collect();
    let m_args: Vec<String> = args.iter().map(|a| a.replace('@', "tw-m")).collect();
    let k = tc.kubectl(&k_args.iter().map(String::as_str).collect::<Vec<_>>());
    let m = mk::miniktl(
        &tc.kubeconfig,
        &m_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(
        k.status.success(),
        m.code == 0,
        "{args:?}: kubectl {:?} / miniktl {}: {}",
        k.status,
        m.code,
        m.err
    );
    assert_eq!(
        String::from_utf8_lossy(&k.stdout),
        m.out.replace("tw-m", "tw-k"),
        "{args:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&k.stderr),
        m.err.replace("tw-m", "tw-k"),
        "{args:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imperative_messages_match_kubectl() {
    let tc = TestCluster::start().await;
    for t in ["tw-k", "tw-m"] {
        let y = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {t}, labels: {{app: {t}}}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: {t}}}}}\n  template:\n    metadata: {{labels: {{app: {t}}}}}\n    spec: {{containers: [{{name: web, image: minik/web:v1}}]}}\n"
        );
        let f = tc.file(&format!("{t}.yaml"), &y);
        mk::miniktl(&tc.kubeconfig, &["apply", "-f", &f]).await.ok();
    }
    for args in [
        &["label", "deploy", "@", "tier=fe"][..],
        &["label", "deploy", "@", "tier=be"],
        &["label", "deploy", "@", "tier=be", "--overwrite"],
        &["label", "deploy/@", "tier-"],
        &["annotate", "deploy", "@", "note=hi"],
        &["annotate", "deploy", "@", "note=hi"],
        &["scale", "deploy", "@", "--replicas=4"],
        &["scale", "deploy/@", "--replicas=1"],
        &["set", "image", "deploy/@", "web=minik/web:v2"],
        &["set", "image", "deploy/@", "nope=x"],
        &["set", "env", "deploy/@", "A=1", "B=2"],
        &["set", "env", "deploy/@", "A-"],
        &[
            "set",
            "resources",
            "deploy/@",
            "--limits=cpu=200m,memory=64Mi",
        ],
        &["rollout", "pause", "deploy/@"],
        &["rollout", "pause", "deploy/@"],
        &["rollout", "resume", "deploy/@"],
        &["patch", "deploy", "@", "-p", "{\"spec\":{\"replicas\":3}}"],
        &[
            "patch",
            "deploy",
            "@",
            "--type=merge",
            "-p",
            "{\"spec\":{\"replicas\":3}}",
        ],
        &[
            "patch",
            "deploy",
            "@",
            "--type=json",
            "-p",
            "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]",
        ],
        &["delete", "deploy", "@"],
        &["delete", "deploy", "@"],
        &["delete", "deploy", "@", "--ignore-not-found"],
    ] {
        twins(&tc, args).await;
    }
}
