//! The Node authorizer and NodeRestriction, through the real kubectl
//! impersonating a kubelet (`--as system:node:node-1 --as-group
//! system:nodes`): a node reads the Secrets and ConfigMaps of its own pods
//! and nothing else (a single object by name, by GET or a
//! `metadata.name` field selector; never the whole list), asks tokens only
//! for its pods' ServiceAccounts, and changes only its own Node and pods;
//! a pod bound a moment ago is related at once. Refusals are in
//! kube-apiserver's words.

use crate::support;

use support::TestCluster;

const OBJECTS: &str = r#"
apiVersion: v1
kind: Node
metadata: {name: node-1}
---
apiVersion: v1
kind: Node
metadata: {name: node-2}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: other}
---
apiVersion: v1
kind: Secret
metadata: {name: mine}
stringData: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: theirs}
stringData: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: on-1}
spec:
  nodeName: node-1
  serviceAccountName: app
  automountServiceAccountToken: false
  containers:
  - name: c
    image: busybox:1.35
    envFrom: [{configMapRef: {name: settings}}]
  volumes:
  - {name: s, secret: {secretName: mine}}
---
apiVersion: v1
kind: Pod
metadata: {name: on-2}
spec:
  nodeName: node-2
  serviceAccountName: other
  automountServiceAccountToken: false
  containers:
  - name: c
    image: busybox:1.35
  volumes:
  - {name: s, secret: {secretName: theirs}}
"#;

const NODE_1: [&str; 4] = ["--as", "system:node:node-1", "--as-group", "system:nodes"];

/// kubectl as node-1: whether it succeeded, and stdout or stderr.
fn as_node(c: &TestCluster, args: &[&str]) -> (bool, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&NODE_1);
    let out = c.kubectl(&all);
    let text = if out.status.success() {
        &out.stdout
    } else {
        &out.stderr
    };
    (
        out.status.success(),
        String::from_utf8_lossy(text).trim().to_string(),
    )
}

fn refused(c: &TestCluster, args: &[&str], message: &str) {
    let (ok, err) = as_node(c, args);
    assert!(!ok, "{args:?} should be refused");
    assert!(err.contains(message), "{args:?}: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reads_and_changes_only_what_is_its_own() {
    let c = TestCluster::start().await;
    c.kubectl_ok(&["apply", "-f", &c.file("objects.yaml", OBJECTS)]);

    // Its pods' objects, one at a time.
    let (ok, out) = as_node(&c, &["get", "secret", "mine", "-o", "name"]);
    assert!(ok && out == "secret/mine", "{out}");
    let (ok, out) = as_node(&c, &["get", "configmap", "settings", "-o", "name"]);
    assert!(ok && out == "configmap/settings", "{out}");
    let (ok, out) = as_node(
        &c,
        &[
            "get",
            "secrets",
            "--field-selector",
            "metadata.name=mine",
            "-o",
            "name",
        ],
    );
    assert!(ok && out == "secret/mine", "a list of one by name: {out}");
    // Not another node's, and never the whole list.
    refused(
        &c,
        &["get", "secret", "theirs"],
        r#"secrets "theirs" is forbidden: User "system:node:node-1" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node 'node-1' and this object"#,
    );
    refused(
        &c,
        &["get", "secrets"],
        r#"secrets is forbidden: User "system:node:node-1" cannot list resource "secrets" in API group "" in the namespace "default": can only read individual resources of this type"#,
    );
    refused(
        &c,
        &["delete", "secret", "mine"],
        "can only read individual resources of this type",
    );
    // The SubjectAccessReview path agrees (`kubectl auth can-i`).
    for (secret, answer) in [("secret/mine", "yes"), ("secret/theirs", "no")] {
        let mut args = vec!["auth", "can-i", "get", secret];
        args.extend_from_slice(&NODE_1);
        let out = c.kubectl(&args);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            answer,
            "{secret}"
        );
    }

    // Tokens only for its pods' ServiceAccounts.
    let (ok, out) = as_node(&c, &["create", "token", "app"]);
    assert!(ok && out.matches('.').count() == 2, "a JWT: {out}");
    refused(
        &c,
        &["create", "token", "other"],
        "no relationship found between node 'node-1' and this object",
    );

    // A pod bound a moment ago is related at once.
    c.kubectl_ok(&[
        "run",
        "fresh",
        "--image=busybox:1.35",
        "--overrides",
        r#"{"spec":{"nodeName":"node-1","volumes":[{"name":"s","secret":{"secretName":"theirs"}}],"containers":[{"name":"fresh","image":"busybox:1.35"}]}}"#,
    ]);
    let (ok, out) = as_node(&c, &["get", "secret", "theirs", "-o", "name"]);
    assert!(ok, "related through the new pod: {out}");

    // NodeRestriction: its own Node and pods only.
    let (ok, out) = as_node(&c, &["label", "node", "node-1", "zone=a"]);
    assert!(ok, "{out}");
    refused(
        &c,
        &["label", "node", "node-2", "zone=a"],
        r#"nodes "node-2" is forbidden: node "node-1" is not allowed to modify node "node-2""#,
    );
    refused(
        &c,
        &["delete", "pod", "on-2", "--wait=false"],
        r#"pods "on-2" is forbidden: node "node-1" can only modify pods with spec.nodeName set to itself"#,
    );
    // Once its pods are gone, so are its rights to their objects.
    let (ok, out) = as_node(&c, &["delete", "pod", "on-1", "fresh", "--wait=false"]);
    assert!(ok, "{out}");
    c.kubectl_ok(&[
        "delete",
        "pod",
        "on-1",
        "fresh",
        "--grace-period=0",
        "--force",
        "--ignore-not-found",
    ]);
    refused(
        &c,
        &["get", "secret", "mine"],
        "no relationship found between node 'node-1' and this object",
    );
}
