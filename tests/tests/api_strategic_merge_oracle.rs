//! Differential test of minik's strategic merge patch against the real
//! kubectl: for every (object, patch) case of the corpus below, the result of
//! `kubectl patch --local --type strategic` (apimachinery's own
//! implementation, run offline) must equal `minik_api::strategic_merge::apply`,
//! and a patch kubectl rejects must be rejected. The corpus covers every list
//! with a merge key in the kinds minik serves, lists without one, and every
//! directive. kubectl is the oracle at test time: no expected output is
//! written down here. Also: the Service apply that used to fail, end to end
//! through the API server with the real `kubectl apply`.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};
use support::{present_or_skip, TestCluster};

/// One differential case: a named object and a strategic merge patch for it.
struct Case {
    name: &'static str,
    object: Value,
    patch: Value,
}

fn case(name: &'static str, object: Value, patch: Value) -> Case {
    Case {
        name,
        object,
        patch,
    }
}

fn kubectl_present() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// What kube-apiserver's decoding into typed objects makes of a patched
/// object, applied to kubectl's output before comparing. kubectl (like the
/// server) keeps a value the patch introduces as it is, with any `null`
/// fields and directive keys (`$setElementOrder/...`, `$retainKeys`) inside
/// it; typed decoding drops both, and minik stores the decoded form, so it
/// drops them itself (minik's own output is checked to hold neither).
/// Numbers are compared by value: kubectl re-encodes every number from a Go
/// float64.
fn normalise(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, inner)| !key.starts_with('$') && !inner.is_null())
                .map(|(key, inner)| (key.clone(), normalise(inner)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        Value::Number(number) => number
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| value.clone(), Value::Number),
        other => other.clone(),
    }
}

/// Where minik's result still holds a directive key or a `null` field.
fn leftovers(value: &Value, at: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key.starts_with('$') || inner.is_null() {
                    found.push(format!("{at}.{key}"));
                }
                leftovers(inner, &format!("{at}.{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                leftovers(inner, &format!("{at}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// The places where kubectl's result and minik's differ, one line each.
fn differ(expected: &Value, got: &Value, at: String, out: &mut Vec<String>) {
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys().filter(|key| !a.contains_key(*key))) {
                let at = format!("{at}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differ(x, y, at, out),
                    (x, y) => out.push(format!("  {at}: kubectl {x:?}, minik {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differ(x, y, format!("{at}[{i}]"), out);
            }
        }
        (x, y) if x != y => out.push(format!("  {at}:\n    kubectl {x}\n    minik   {y}")),
        _ => {}
    }
}

/// kubectl's result for one case: the patched object, or its error message.
fn kubectl_patch(dir: &Path, index: usize, case: &Case) -> Result<Value, String> {
    let file = dir.join(format!("case-{index}.json"));
    std::fs::write(&file, serde_json::to_vec(&case.object).unwrap()).unwrap();
    let out = Command::new("kubectl")
        // --local never contacts a server; an empty config keeps the
        // developer's own kubeconfig out of it.
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .args([
            "patch",
            "--local",
            "--type",
            "strategic",
            "-o",
            "json",
            "-f",
        ])
        .arg(&file)
        .arg("-p")
        .arg(case.patch.to_string())
        .output()
        .expect("kubectl runs");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("kubectl prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Compares minik with kubectl on one case; `None` when they agree.
fn compare(case: &Case, oracle: Result<Value, String>) -> Option<String> {
    let kind = case.object["kind"].as_str().expect("every case has a kind");
    let minik = minik_api::strategic_merge::apply(&case.object, &case.patch, kind);
    let object = case.object.to_string();
    let header = format!(
        "case {:?}\n  object: {}\n  patch:  {}",
        case.name,
        // The corpus's objects are long; the start says which one it is.
        object
            .get(..160)
            .map_or(object.clone(), |start| format!("{start}...")),
        case.patch
    );
    match (oracle, minik) {
        (Ok(expected), Ok(got)) => {
            let mut found = Vec::new();
            leftovers(&got, "", &mut found);
            if !found.is_empty() {
                return Some(format!(
                    "{header}\n  minik left directives or nulls at {found:?}: {got}"
                ));
            }
            let (expected, got) = (normalise(&expected), normalise(&got));
            let mut differences = Vec::new();
            differ(&expected, &got, String::new(), &mut differences);
            (!differences.is_empty()).then(|| format!("{header}\n{}", differences.join("\n")))
        }
        (Err(_), Err(_)) => None,
        (Ok(expected), Err(err)) => Some(format!(
            "{header}\n  kubectl: {}\n  minik rejected it: {err}",
            normalise(&expected)
        )),
        (Err(err), Ok(got)) => Some(format!(
            "{header}\n  kubectl rejected it: {err}\n  minik: {got}"
        )),
    }
}

#[test]
fn strategic_merge_patch_matches_kubectl() {
    if !present_or_skip(kubectl_present(), "kubectl (the oracle)") {
        return;
    }
    let cases = corpus();
    assert!(cases.len() >= 60, "the corpus has {} cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    // A few kubectl processes at a time: each case is one ~40 ms run.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(index) else { break };
                let oracle = kubectl_patch(dir.path(), index, case);
                if let Some(failure) = compare(case, oracle) {
                    failures.lock().unwrap().push((index, failure));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from kubectl:\n\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .map(|(_, failure)| failure.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// The Service apply that used to fail: the port gains a `name` and loses
/// `protocol`, so kubectl apply sends
/// `{"$setElementOrder/ports":[{"port":3001}],"ports":[{"port":3001,"protocol":null}]}`
/// and the port, merged by number, must stay one port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_renaming_a_service_port_keeps_one_port() {
    if !present_or_skip(kubectl_present(), "kubectl") {
        return;
    }
    let c = TestCluster::start().await;
    let first = c.file(
        "svc1.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector:\n    app: api\n  ports:\n  - port: 3001\n    protocol: TCP\n    targetPort: 3001\n",
    );
    let second = c.file(
        "svc2.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector:\n    app: api\n  ports:\n  - name: http\n    port: 3001\n    targetPort: 3001\n",
    );
    c.kubectl_ok(&["apply", "-f", &first]);
    let out = c.kubectl_ok(&["apply", "-f", &second]);
    assert!(out.contains("service/api configured"), "{out}");
    let svc: Value =
        serde_json::from_str(&c.kubectl_ok(&["get", "svc", "api", "-o", "json"])).expect("JSON");
    let ports = svc["spec"]["ports"].as_array().expect("ports");
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!(ports[0]["name"], "http");
    assert_eq!(ports[0]["port"], 3001);
    assert_eq!(ports[0]["targetPort"], 3001);
}

// ---------------------------------------------------------------------------
// The corpus. Objects are written as stored (no server defaults needed: the
// merge does not look at them); each patch is what a client sends.

fn container(name: &str) -> Value {
    json!({
        "name": name,
        "image": format!("{name}:1"),
        "args": ["--a", "--b"],
        "ports": [
            {"containerPort": 80, "protocol": "TCP", "name": "http"},
            {"containerPort": 53, "protocol": "UDP", "name": "dns"}
        ],
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}],
        "envFrom": [{"configMapRef": {"name": "cm"}}],
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "cache", "mountPath": "/cache", "readOnly": true}
        ],
        "volumeDevices": [{"name": "raw", "devicePath": "/dev/xvda"}],
        "resources": {"limits": {"cpu": "1"}}
    })
}

fn pod_spec() -> Value {
    json!({
        "containers": [container("web"), container("sidecar")],
        "initContainers": [container("init")],
        "volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}},
            {"name": "cfg", "configMap": {"name": "cfg"}}
        ],
        "imagePullSecrets": [{"name": "reg1"}, {"name": "reg2"}],
        "hostAliases": [
            {"ip": "10.0.0.1", "hostnames": ["a.local"]},
            {"ip": "10.0.0.2", "hostnames": ["b.local"]}
        ],
        "tolerations": [
            {"key": "k1", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "k2", "operator": "Equal", "value": "v", "effect": "NoExecute"}
        ],
        "topologySpreadConstraints": [
            {"topologyKey": "zone", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}},
            {"topologyKey": "kubernetes.io/hostname", "maxSkew": 2, "whenUnsatisfiable": "ScheduleAnyway"}
        ],
        "readinessGates": [{"conditionType": "example.com/ready"}],
        "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu-claim"}],
        "schedulingGates": [{"name": "example.com/wait"}, {"name": "example.com/quota"}],
        "securityContext": {"runAsUser": 1000, "fsGroup": 2000},
        "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]},
        "nodeSelector": {"disk": "ssd"},
        "restartPolicy": "Always"
    })
}

fn metadata(name: &str) -> Value {
    json!({
        "name": name,
        "namespace": "default",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": "x"},
        "finalizers": ["example.com/a", "example.com/b", "example.com/c"],
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "uid-1"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs2", "uid": "uid-2"}
        ]
    })
}

fn conditions() -> Value {
    json!([
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    ])
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": metadata("web"),
        "spec": pod_spec(),
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}
            ],
            "podIPs": [{"ip": "10.1.0.5"}],
            "hostIPs": [{"ip": "192.168.0.2"}],
            "containerStatuses": [{"name": "web", "ready": false, "restartCount": 0, "image": "web:1", "imageID": "", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]
        }
    })
}

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec()})
}

fn workload(kind: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": metadata("web"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template()
        },
        "status": {"replicas": 3, "conditions": conditions()}
    })
}

fn deployment() -> Value {
    let mut d = workload("Deployment");
    d["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    d
}

fn statefulset() -> Value {
    let mut s = workload("StatefulSet");
    s["spec"]["serviceName"] = json!("web");
    s["spec"]["updateStrategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}});
    s["spec"]["volumeClaimTemplates"] = json!([
        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        {"metadata": {"name": "logs"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}
    ]);
    s
}

fn job() -> Value {
    let mut t = template();
    t["spec"]["restartPolicy"] = json!("Never");
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": metadata("job"),
        "spec": {"backoffLimit": 4, "template": t},
        "status": {"conditions": [
            {"type": "Suspended", "status": "False"},
            {"type": "Complete", "status": "False"}
        ]}
    })
}

fn cronjob() -> Value {
    let mut t = template();
    t["spec"]["restartPolicy"] = json!("OnFailure");
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": metadata("cron"),
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"metadata": {"labels": {"job": "cron"}}, "spec": {"template": t}}}
    })
}

fn service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.10",
            "selector": {"app": "web", "tier": "front"},
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}
            ]
        },
        "status": {"loadBalancer": {}, "conditions": [
            {"type": "Ready", "status": "True", "reason": "Ok", "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}
        ]}
    })
}

fn node() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
        "spec": {
            "podCIDR": "10.1.0.0/24",
            "podCIDRs": ["10.1.0.0/24"],
            "taints": [
                {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
            ]
        },
        "status": {
            "addresses": [{"type": "InternalIP", "address": "192.168.0.2"}, {"type": "Hostname", "address": "n1"}],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}]
        }
    })
}

fn ingress() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "ingressClassName": "minik",
            "tls": [{"hosts": ["a.example.com"], "secretName": "a-tls"}],
            "rules": [
                {"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "a", "port": {"number": 80}}}}]}},
                {"host": "b.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "b", "port": {"number": 80}}}}]}}
            ]
        }
    })
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let containers = |patch: Value| json!({"spec": {"containers": patch}});
    let tpl = |spec: Value| json!({"spec": {"template": {"spec": spec}}});

    // --- Pod: containers (merge key name) ---
    cases.push(case(
        "set image on one container",
        pod(),
        containers(json!([{"name": "web", "image": "web:2"}])),
    ));
    cases.push(case(
        "a new container goes first",
        pod(),
        containers(json!([{"name": "extra", "image": "extra:1"}])),
    ));
    cases.push(case(
        "patch names containers in reverse order",
        pod(),
        containers(json!([
            {"name": "sidecar", "image": "sidecar:2"}, {"name": "web", "image": "web:2"}
        ])),
    ));
    cases.push(case(
        "new and existing containers interleaved",
        pod(),
        containers(json!([
            {"name": "sidecar", "image": "sidecar:2"}, {"name": "new", "image": "new:1"}
        ])),
    ));
    cases.push(case(
        "$patch delete a container",
        pod(),
        containers(json!([{"name": "sidecar", "$patch": "delete"}])),
    ));
    cases.push(case(
        "$patch replace the container list",
        pod(),
        containers(json!([
            {"name": "only", "image": "only:1"}, {"$patch": "replace"}
        ])),
    ));
    cases.push(case(
        "$patch merge as a list element is refused",
        pod(),
        containers(json!([{"name": "web", "$patch": "merge"}])),
    ));
    cases.push(case(
        "unknown $patch value in a list is refused",
        pod(),
        containers(json!([{"name": "web", "$patch": "explode"}])),
    ));
    cases.push(case(
        "a container without its merge key is refused",
        pod(),
        containers(json!([{"image": "x"}])),
    ));
    cases.push(case(
        "a scalar among containers is refused",
        pod(),
        containers(json!(["web"])),
    ));
    cases.push(case(
        "the same container twice in one patch",
        pod(),
        containers(json!([
            {"name": "twice", "image": "t:1"}, {"name": "twice", "args": ["x"]}
        ])),
    ));
    cases.push(case(
        "null field inside a merged container",
        pod(),
        containers(json!([
            {"name": "web", "resources": null, "args": null}
        ])),
    ));
    cases.push(case(
        "a new container with null fields inside",
        pod(),
        containers(json!([{
            "name": "fresh", "image": "f:1", "securityContext": null,
            "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": null}]
        }])),
    ));
    // Upstream appends a new element as it is: its directives are not
    // applied, and typed decoding drops their keys (an env var "A" stays).
    cases.push(case(
        "a new container carrying directives",
        pod(),
        containers(json!([{
            "name": "fresh", "image": "f:1",
            "$setElementOrder/env": [{"name": "B"}, {"name": "X"}],
            "env": [{"name": "X", "value": "1"}, {"name": "A", "$patch": "delete"}]
        }])),
    ));

    // --- Pod: per-container lists ---
    cases.push(case("env: add, change, delete", pod(), containers(json!([{"name": "web", "env": [
        {"name": "D", "value": "4"}, {"name": "A", "$patch": "delete"}, {"name": "B", "value": "two"}
    ]}]))));
    cases.push(case("env: kubectl set env with element orders", pod(), json!({"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
        "containers": [{"name": "web", "$setElementOrder/env": [{"name": "A"}, {"name": "B"}, {"name": "C"}, {"name": "D"}],
                        "env": [{"name": "D", "value": "4"}]}]
    }})));
    cases.push(case(
        "env: value replaced by valueFrom",
        pod(),
        containers(json!([{"name": "web", "env": [
            {"name": "A", "value": null, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        ]}])),
    ));
    cases.push(case(
        "envFrom has no merge key: replaced",
        pod(),
        containers(json!([{"name": "web", "envFrom": [
            {"secretRef": {"name": "s"}}
        ]}])),
    ));
    cases.push(case(
        "args are replaced",
        pod(),
        containers(json!([{"name": "web", "args": ["--z"]}])),
    ));
    cases.push(case(
        "$deleteFromPrimitiveList on args (no merge strategy)",
        pod(),
        containers(json!([{
            "name": "web", "$deleteFromPrimitiveList/args": ["--a"]
        }])),
    ));
    cases.push(case(
        "container ports: change one, add one",
        pod(),
        containers(json!([{"name": "web", "ports": [
            {"containerPort": 8080, "name": "alt"}, {"containerPort": 80, "name": "web"}
        ]}])),
    ));
    cases.push(case(
        "container ports: same number, other protocol merges",
        pod(),
        containers(json!([{"name": "web", "ports": [
            {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}
        ]}])),
    ));
    cases.push(case(
        "container ports: delete by number",
        pod(),
        containers(json!([{"name": "web", "ports": [
            {"containerPort": 53, "$patch": "delete"}
        ]}])),
    ));
    cases.push(case(
        "volumeMounts merge by mountPath",
        pod(),
        containers(json!([{"name": "web", "volumeMounts": [
            {"mountPath": "/cache", "readOnly": false}, {"mountPath": "/cfg", "name": "cfg"},
            {"mountPath": "/data", "$patch": "delete"}
        ]}])),
    ));
    cases.push(case(
        "volumeDevices merge by devicePath",
        pod(),
        containers(json!([{"name": "web", "volumeDevices": [
            {"devicePath": "/dev/xvdb", "name": "raw2"}
        ]}])),
    ));
    cases.push(case(
        "initContainers merge by name",
        pod(),
        json!({"spec": {"initContainers": [
            {"name": "init", "image": "init:2", "env": [{"name": "C", "$patch": "delete"}]},
            {"name": "init2", "image": "init2:1"}
        ]}}),
    ));
    cases.push(case("ephemeralContainers added (kubectl debug)", pod(), json!({"spec": {"ephemeralContainers": [
        {"name": "debugger", "image": "busybox", "targetContainerName": "web", "stdin": true, "tty": true}
    ]}})));

    // --- Pod: pod-level lists ---
    cases.push(case("volumes: add, delete, change source with $retainKeys", pod(), json!({"spec": {"volumes": [
        {"name": "cache", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/srv/cache"}},
        {"name": "cfg", "$patch": "delete"},
        {"name": "secret", "secret": {"secretName": "s"}}
    ]}})));
    cases.push(case(
        "imagePullSecrets merge by name",
        pod(),
        json!({"spec": {"imagePullSecrets": [{"name": "reg3"}, {"name": "reg1"}]}}),
    ));
    cases.push(case("hostAliases merge by ip", pod(), json!({"spec": {"hostAliases": [
        {"ip": "10.0.0.2", "hostnames": ["b2.local"]}, {"ip": "10.0.0.3", "hostnames": ["c.local"]}
    ]}})));
    cases.push(case(
        "tolerations have no merge key: replaced",
        pod(),
        json!({"spec": {"tolerations": [
            {"key": "k3", "operator": "Exists"}
        ]}}),
    ));
    cases.push(case("topologySpreadConstraints merge by topologyKey", pod(), json!({"spec": {"topologySpreadConstraints": [
        {"topologyKey": "zone", "maxSkew": 3}, {"topologyKey": "kubernetes.io/hostname", "$patch": "delete"}
    ]}})));
    cases.push(case(
        "readinessGates have no merge key: replaced",
        pod(),
        json!({"spec": {"readinessGates": [
            {"conditionType": "example.com/other"}
        ]}}),
    ));
    cases.push(case("resourceClaims merge by name", pod(), json!({"spec": {"resourceClaims": [
        {"name": "gpu", "resourceClaimName": null, "resourceClaimTemplateName": "gpu-tpl"}, {"name": "fpga", "resourceClaimName": "f"}
    ]}})));
    cases.push(case(
        "schedulingGates: remove one",
        pod(),
        json!({"spec": {"schedulingGates": [
            {"name": "example.com/wait", "$patch": "delete"}
        ]}}),
    ));
    cases.push(case(
        "$setElementOrder alone reorders containers",
        pod(),
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]
        }}),
    ));
    cases.push(case(
        "$setElementOrder with a new element in the middle",
        pod(),
        json!({"spec": {
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "new"}, {"name": "cfg"}],
            "volumes": [{"name": "new", "emptyDir": {}}]
        }}),
    ));
    cases.push(case(
        "$setElementOrder naming only some elements",
        pod(),
        json!({"spec": {
            "$setElementOrder/volumes": [{"name": "cfg"}, {"name": "data"}]
        }}),
    ));
    cases.push(case(
        "$setElementOrder that contradicts the patch list is refused",
        pod(),
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"name": "zzz", "image": "z"}]
        }}),
    ));
    cases.push(case("$setElementOrder for a list only the patch has", pod(), json!({"spec": {
        "$setElementOrder/ephemeralContainers": [{"name": "b"}, {"name": "a"}],
        "ephemeralContainers": [{"name": "b", "image": "b"}, {"name": "a", "image": "a", "env": [{"name": "X", "value": null}]}]
    }})));

    // --- Pod: maps and map directives ---
    cases.push(case(
        "labels: null deletes, unmatched null vanishes",
        pod(),
        json!({"metadata": {
            "labels": {"tier": null, "missing": null, "env": "prod"}, "annotations": null
        }}),
    ));
    cases.push(case(
        "$patch delete on a map leaves it empty",
        pod(),
        json!({"spec": {"securityContext": {"$patch": "delete"}}}),
    ));
    cases.push(case(
        "$patch delete on a missing map",
        pod(),
        json!({"spec": {"affinity": {"$patch": "delete"}}}),
    ));
    cases.push(case(
        "$patch replace on a map",
        pod(),
        json!({"spec": {"dnsConfig": {"$patch": "replace", "searches": ["svc.local"]}}}),
    ));
    cases.push(case("$patch replace on a missing map drops it", pod(), json!({"spec": {"affinity": {
        "$patch": "replace", "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
        ]}}
    }}})));
    cases.push(case(
        "$patch merge on a map is refused",
        pod(),
        json!({"spec": {"securityContext": {"$patch": "merge", "runAsUser": 1}}}),
    ));
    cases.push(case(
        "a map replaced by a scalar and a list by a map",
        pod(),
        json!({"spec": {
            "nodeSelector": "ssd", "tolerations": {"key": "k"}
        }}),
    ));
    cases.push(case(
        "a new map with nulls and directive objects inside",
        pod(),
        json!({"spec": {"affinity": {
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "podAffinityTerm": {"topologyKey": "zone", "labelSelector": null}},
                {"$patch": "delete", "weight": 2}
            ]}, "nodeAffinity": null
        }}}),
    ));

    // --- metadata lists ---
    cases.push(case(
        "finalizers: union",
        pod(),
        json!({"metadata": {"finalizers": ["example.com/d", "example.com/a"]}}),
    ));
    cases.push(case(
        "finalizers: patch order moves existing ones",
        pod(),
        json!({"metadata": {"finalizers": ["example.com/c", "example.com/a"]}}),
    ));
    cases.push(case(
        "finalizers: $deleteFromPrimitiveList",
        pod(),
        json!({"metadata": {
            "$deleteFromPrimitiveList/finalizers": ["example.com/b", "example.com/zzz"]
        }}),
    ));
    cases.push(case(
        "finalizers: add, delete and order together",
        pod(),
        json!({"metadata": {
            "$setElementOrder/finalizers": ["example.com/d", "example.com/c", "example.com/a"],
            "$deleteFromPrimitiveList/finalizers": ["example.com/b"],
            "finalizers": ["example.com/d"]
        }}),
    ));
    cases.push(case(
        "finalizers: delete from a list the object lacks",
        pod(),
        json!({"metadata": {
            "$deleteFromPrimitiveList/gone": ["x"]
        }}),
    ));
    cases.push(case("ownerReferences merge by uid", pod(), json!({"metadata": {"ownerReferences": [
        {"uid": "uid-2", "controller": true}, {"uid": "uid-3", "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs3"},
        {"uid": "uid-1", "$patch": "delete"}
    ]}})));

    // --- Pod status ---
    cases.push(case("pod status conditions merge by type", pod(), json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "reason": null}, {"type": "Initialized", "status": "True"}
    ]}})));
    cases.push(case(
        "podIPs and hostIPs merge by ip",
        pod(),
        json!({"status": {
            "podIPs": [{"ip": "fd00::5"}], "hostIPs": [{"ip": "192.168.0.2"}, {"ip": "fd00::2"}]
        }}),
    ));
    cases.push(case(
        "containerStatuses have no merge key: replaced",
        pod(),
        json!({"status": {"containerStatuses": [
            {"name": "web", "ready": true, "restartCount": 1, "image": "web:1", "imageID": "x"}
        ]}}),
    ));

    // --- Deployment ---
    cases.push(case(
        "deployment: set image",
        deployment(),
        tpl(json!({"containers": [{"name": "web", "image": "web:2"}]})),
    ));
    cases.push(case(
        "deployment: rollout restart",
        deployment(),
        json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2024-05-01T12:00:00Z"
        }}}}}),
    ));
    cases.push(case(
        "deployment: scale and pause",
        deployment(),
        json!({"spec": {"replicas": 5, "paused": true}}),
    ));
    cases.push(case(
        "deployment: strategy to Recreate with $retainKeys",
        deployment(),
        json!({"spec": {"strategy": {
            "$retainKeys": ["type"], "type": "Recreate"
        }}}),
    ));
    cases.push(case(
        "deployment: $retainKeys not covering the patch is refused",
        deployment(),
        json!({"spec": {"strategy": {
            "$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}
        }}}),
    ));
    cases.push(case("deployment: kubectl apply three-way patch", deployment(), json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}, "labels": {"tier": null}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [
                {"$setElementOrder/env": [{"name": "A"}, {"name": "C"}], "name": "web", "image": "web:3",
                 "env": [{"$patch": "delete", "name": "B"}]},
                {"$patch": "delete", "name": "sidecar"}
            ]
        }}}
    })));
    cases.push(case("deployment: template volumes and mounts", deployment(), tpl(json!({
        "volumes": [{"name": "logs", "emptyDir": {}}],
        "containers": [{"name": "sidecar", "volumeMounts": [{"mountPath": "/logs", "name": "logs"}]}]
    }))));
    cases.push(case(
        "deployment: status conditions merge by type",
        deployment(),
        json!({"status": {"conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
            {"type": "ReplicaFailure", "status": "True"}
        ]}}),
    ));
    cases.push(case(
        "deployment: template labels and selector",
        deployment(),
        json!({"spec": {
            "selector": {"matchLabels": {"track": "stable"}},
            "template": {"metadata": {"labels": {"track": "stable"}}}
        }}),
    ));

    // --- ReplicaSet, StatefulSet, DaemonSet ---
    cases.push(case("replicaset: ownerReferences and template env", workload("ReplicaSet"), json!({
        "metadata": {"ownerReferences": [{"uid": "uid-9", "apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "controller": true}]},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "A", "value": "one"}]}]}}}
    })));
    cases.push(case(
        "statefulset: volumeClaimTemplates are replaced",
        statefulset(),
        json!({"spec": {"volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "5Gi"}}}}
        ]}}),
    ));
    cases.push(case("statefulset: updateStrategy and template ports", statefulset(), json!({"spec": {
        "updateStrategy": {"rollingUpdate": {"partition": 0, "maxUnavailable": 2}},
        "template": {"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 9090, "name": "metrics"}]}]}}
    }})));
    cases.push(case("daemonset: tolerations replaced, env merged", workload("DaemonSet"), tpl(json!({
        "tolerations": [{"operator": "Exists"}],
        "containers": [{"name": "web", "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}]
    }))));
    cases.push(case(
        "daemonset: hostAliases and imagePullSecrets in the template",
        workload("DaemonSet"),
        tpl(json!({
            "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a2.local"]}],
            "imagePullSecrets": [{"name": "reg2", "$patch": "delete"}]
        })),
    ));

    // --- Job, CronJob ---
    cases.push(case("job: template containers and status conditions", job(), json!({
        "spec": {"template": {"spec": {"containers": [{"name": "web", "args": ["run"]}]}}},
        "status": {"conditions": [{"type": "Complete", "status": "True"}, {"type": "SuccessCriteriaMet", "status": "True"}]}
    })));
    cases.push(case(
        "job: init container volumeMounts",
        job(),
        tpl(json!({"initContainers": [{"name": "init", "volumeMounts": [
            {"mountPath": "/data", "readOnly": true}, {"mountPath": "/cache", "$patch": "delete"}
        ]}]})),
    ));
    cases.push(case("cronjob: jobTemplate containers env", cronjob(), json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "sidecar", "env": [{"name": "Z", "value": "26"}, {"name": "A", "$patch": "delete"}]}]
    }}}}}})));
    cases.push(case(
        "cronjob: suspend and jobTemplate volumes",
        cronjob(),
        json!({"spec": {"suspend": true, "jobTemplate": {"spec": {"template": {"spec": {
            "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}],
            "$setElementOrder/volumes": [{"name": "cfg"}, {"name": "data"}, {"name": "cache"}]
        }}}}}}),
    ));

    // --- Service ---
    cases.push(case(
        "service: kubectl apply names a port and drops its protocol",
        service(),
        json!({"spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}, {"port": 53}],
            "ports": [{"port": 80, "protocol": null, "name": "web"}]
        }}),
    ));
    cases.push(case("service: the reported single-port case", json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
        "spec": {"ports": [{"port": 3001, "protocol": "TCP", "targetPort": 3001}], "selector": {"app": "api"}}
    }), json!({"spec": {"$setElementOrder/ports": [{"port": 3001}], "ports": [{"port": 3001, "protocol": null, "name": "http"}]}})));
    cases.push(case(
        "service: add and change ports",
        service(),
        json!({"spec": {"ports": [
            {"port": 8080, "name": "alt", "targetPort": 80}, {"port": 443, "targetPort": 9443}
        ]}}),
    ));
    cases.push(case(
        "service: delete a port",
        service(),
        json!({"spec": {"ports": [{"port": 443, "$patch": "delete"}]}}),
    ));
    cases.push(case(
        "service: 53/TCP merges into 53/UDP (port is the key)",
        service(),
        json!({"spec": {"ports": [
            {"port": 53, "protocol": "TCP", "name": "dns-tcp"}
        ]}}),
    ));
    cases.push(case(
        "service: selector key deleted, type changed",
        service(),
        json!({"spec": {
            "selector": {"tier": null}, "type": "NodePort"
        }}),
    ));
    cases.push(case(
        "service: ports reordered by $setElementOrder",
        service(),
        json!({"spec": {
            "$setElementOrder/ports": [{"port": 53}, {"port": 80}, {"port": 443}]
        }}),
    ));
    cases.push(case("service: status conditions merge by type", service(), json!({"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "Down", "message": "x", "lastTransitionTime": "2024-01-02T00:00:00Z"}
    ]}})));

    // --- Node ---
    cases.push(case(
        "node: taints have no merge key: replaced",
        node(),
        json!({"spec": {"taints": [
            {"key": "dedicated", "value": "web", "effect": "NoSchedule"}
        ]}}),
    ));
    cases.push(case(
        "node: podCIDRs union",
        node(),
        json!({"spec": {"podCIDRs": ["fd00:1::/64"]}}),
    ));
    cases.push(case("node: addresses and conditions merge by type", node(), json!({"status": {
        "addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}, {"type": "Hostname", "address": "n1.example"}],
        "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletDown"}]
    }})));
    cases.push(case(
        "node: cordon",
        node(),
        json!({"spec": {"unschedulable": true}}),
    ));

    // --- Ingress, ServiceAccount, Namespace, PVC, ConfigMap, HPA ---
    cases.push(case("ingress: rules have no merge key: replaced", ingress(), json!({"spec": {"rules": [
        {"host": "c.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "c", "port": {"number": 80}}}}]}}
    ]}})));
    cases.push(case(
        "ingress: tls replaced, class removed",
        ingress(),
        json!({"spec": {
            "tls": [{"hosts": ["b.example.com"], "secretName": "b-tls"}], "ingressClassName": null
        }}),
    ));
    cases.push(case(
        "serviceaccount: secrets merge by name, imagePullSecrets replaced",
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"},
            "secrets": [{"name": "tok-1"}], "imagePullSecrets": [{"name": "reg1"}, {"name": "reg2"}]
        }),
        json!({"secrets": [{"name": "tok-2"}], "imagePullSecrets": [{"name": "reg3"}]}),
    ));
    cases.push(case("namespace: spec.finalizers replaced, metadata.finalizers merged", json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "ns", "finalizers": ["example.com/x"]},
        "spec": {"finalizers": ["kubernetes", "example.com/y"]},
        "status": {"phase": "Active", "conditions": [{"type": "NamespaceDeletionDiscoveryFailure", "status": "False"}]}
    }), json!({
        "metadata": {"finalizers": ["example.com/z"]},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"conditions": [{"type": "NamespaceContentRemaining", "status": "True"}]}
    })));
    cases.push(case("pvc: status conditions merge by type", json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound", "conditions": [{"type": "Resizing", "status": "True"}]}
    }), json!({
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "2Gi"}}},
        "status": {"conditions": [{"type": "FileSystemResizePending", "status": "True"}, {"type": "Resizing", "$patch": "delete"}]}
    })));
    cases.push(case(
        "configmap: data keys set and deleted",
        json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
            "data": {"a": "1", "b": "2"}
        }),
        json!({"data": {"a": null, "c": "3"}, "metadata": {"labels": {"x": "y"}}}),
    ));
    cases.push(case("hpa v2: metrics replaced, status conditions merged", json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
        "status": {"currentReplicas": 1, "desiredReplicas": 1, "conditions": [{"type": "AbleToScale", "status": "True"}]}
    }), json!({
        "spec": {"maxReplicas": 10, "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": {"conditions": [{"type": "ScalingActive", "status": "True"}, {"type": "AbleToScale", "status": "False"}]}
    })));
    cases
}
