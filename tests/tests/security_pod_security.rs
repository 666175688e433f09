//! PodSecurity admission through the real kubectl: a namespace labelled
//! `pod-security.kubernetes.io/enforce=restricted` refuses the pod that
//! mounts the host's `/` privileged (the local-root path the security
//! issue reproduced) with kube-apiserver's message; `baseline` refuses it
//! too but admits a plain pod; `warn` admits with kubectl's `Warning:`
//! line; a hardened pod passes `restricted`.

use crate::support;

use support::TestCluster;

const ROOTKIT: &str = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rootkit"},
  "spec": {"containers": [{"name": "sh", "image": "busybox:1.35", "command": ["cat", "/host/etc/shadow"],
    "securityContext": {"privileged": true}, "volumeMounts": [{"name": "root", "mountPath": "/host"}]}],
    "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}}"#;

const PLAIN: &str = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
  "spec": {"containers": [{"name": "web", "image": "minik/web:v1"}]}}"#;

const HARDENED: &str = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hardened"},
  "spec": {"securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "web", "image": "minik/web:v1",
      "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}}"#;

fn create(c: &TestCluster, ns: &str, manifest: &str) -> (bool, String) {
    let out = c.kubectl_stdin(&["create", "-n", ns, "-f", "-"], manifest);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_enforce_and_warn_the_pod_security_standards() {
    let c = TestCluster::start().await;
    for (ns, label) in [
        ("locked", "pod-security.kubernetes.io/enforce=restricted"),
        ("standard", "pod-security.kubernetes.io/enforce=baseline"),
        ("watched", "pod-security.kubernetes.io/warn=restricted"),
    ] {
        c.kubectl_ok(&["create", "namespace", ns]);
        c.kubectl_ok(&["label", "namespace", ns, label]);
    }

    let (ok, err) = create(&c, "locked", ROOTKIT);
    assert!(!ok);
    assert!(
        err.contains("Error from server (Forbidden): error when creating \"STDIN\": pods \"rootkit\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"sh\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container \"sh\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"sh\" must set securityContext.capabilities.drop=[\"ALL\"]), restricted volume types (volumes [\"root\"] have restricted types), runAsNonRoot != true (pod or container \"sh\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"sh\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"),
        "{err}"
    );
    let (ok, err) = create(&c, "locked", HARDENED);
    assert!(ok, "{err}");

    let (ok, err) = create(&c, "standard", ROOTKIT);
    assert!(!ok);
    assert!(
        err.contains("violates PodSecurity \"baseline:latest\": privileged (container \"sh\" must not set securityContext.privileged=true), hostPath volumes (volume \"root\")"),
        "{err}"
    );
    let (ok, err) = create(&c, "standard", PLAIN);
    assert!(ok, "{err}");

    let (ok, err) = create(&c, "watched", PLAIN);
    assert!(ok, "{err}");
    assert!(
        err.contains("Warning: would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"),
        "{err}"
    );
    // Unlabelled namespaces are privileged: anything goes, as in Kubernetes.
    let (ok, err) = create(&c, "default", ROOTKIT);
    assert!(ok, "{err}");
}

/// Raising a namespace's enforce level leaves its pods running and warns
/// about those that break the new level, grouped by what they break.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_a_namespaces_level_warns_about_its_pods() {
    let c = TestCluster::start().await;
    c.kubectl_ok(&["create", "namespace", "legacy"]);
    for name in ["plain-1", "plain-2"] {
        let (ok, err) = create(
            &c,
            "legacy",
            &PLAIN.replace("\"plain\"", &format!("{name:?}")),
        );
        assert!(ok, "{err}");
    }
    let (ok, err) = create(&c, "legacy", HARDENED);
    assert!(ok, "{err}");
    let out = c.kubectl(&[
        "label",
        "namespace",
        "legacy",
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Warning: existing pods in namespace \"legacy\" violate the new PodSecurity enforce level \"restricted:latest\""),
        "{err}"
    );
    assert!(
        err.contains("Warning: plain-1 (and 1 other pod): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"),
        "{err}"
    );
    assert!(!err.contains("hardened"), "{err}");
    // Unchanged level, no warnings.
    let out = c.kubectl(&["label", "namespace", "legacy", "team=web"]);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}
