//! RBAC as kube-apiserver enforces it, through the real kubectl over HTTPS:
//! the seeds' Role and RoleBinding for a ServiceAccount (checked by
//! impersonation, `kubectl --as`), `kubectl auth can-i [--list]` and
//! `kubectl auth whoami`, 403 messages in kube-apiserver's words, the
//! bootstrap roles (`view`/`edit`/`admin` aggregated), a token user who
//! cannot impersonate, and escalation prevention: a user cannot grant what
//! they do not hold, unless they may `bind` or `escalate`.

use crate::support;

use std::sync::Arc;

use minik_apiserver::authentication::Authenticator;
use support::TestCluster;

/// The seed's Role and RoleBinding (a microservices tutorial), as
/// `examples/security/` ships them.
const SEED: &str = include_str!("../../examples/security/rbac.yaml");

const SA: &str = "system:serviceaccount:microservices:microservice-sa";

/// Whether kubectl succeeded, and its stdout and stderr.
fn outcome(out: std::process::Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn run(c: &TestCluster, args: &[&str]) -> (bool, String, String) {
    outcome(c.kubectl(args))
}

fn as_token(c: &TestCluster, token: &str, args: &[&str]) -> (bool, String, String) {
    outcome(c.kubectl_as_token(token, args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_bindings_reviews_impersonation_and_escalation() {
    let tokens =
        Authenticator::parse_tokens("alice-token,alice,1001\nbob-token,bob,1002\n").unwrap();
    let c = TestCluster::start_with(|cfg| cfg.authenticator = Arc::new(tokens)).await;

    // The bootstrap policy is there, printed as kubectl prints it.
    let (_, roles, _) = run(&c, &["get", "clusterroles"]);
    for name in ["cluster-admin", "admin", "edit", "view", "system:discovery"] {
        assert!(
            roles.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{roles}"
        );
    }
    assert!(roles.starts_with("NAME"), "{roles}");

    // The seed's Role and RoleBinding apply; the ServiceAccount may read pods there only.
    c.kubectl_ok(&["create", "namespace", "microservices"]);
    let applied = tokio::task::block_in_place(|| {
        support::kubectl_with(
            &c.kubeconfig,
            &c.dir.path().join("kubectl-cache"),
            &["apply", "-f", "-"],
            Some(SEED),
        )
    });
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let wide = c.kubectl_ok(&["get", "rolebinding", "-n", "microservices", "-o", "wide"]);
    assert!(wide.contains("Role/microservice-role"), "{wide}");
    assert!(wide.contains("microservices/microservice-sa"), "{wide}");
    let can = |args: &[&str]| {
        run(&c, &[&["auth", "can-i"], args].concat())
            .1
            .trim()
            .to_string()
    };
    assert_eq!(
        can(&["list", "pods", "-n", "microservices", "--as", SA]),
        "yes"
    );
    assert_eq!(
        can(&["watch", "pods", "-n", "microservices", "--as", SA]),
        "yes"
    );
    assert_eq!(
        can(&["delete", "pods", "-n", "microservices", "--as", SA]),
        "no"
    );
    assert_eq!(can(&["list", "pods", "-n", "default", "--as", SA]), "no");
    let (ok, _, err) = run(
        &c,
        &["get", "deployments", "-n", "microservices", "--as", SA],
    );
    assert!(!ok);
    assert!(
        err.contains("Error from server (Forbidden): deployments.apps is forbidden: User \"system:serviceaccount:microservices:microservice-sa\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"microservices\""),
        "{err}"
    );
    let (ok, out, err) = run(&c, &["get", "pods", "-n", "microservices", "--as", SA]);
    assert!(ok, "{err}");
    assert!(err.contains("No resources found"), "{out}{err}");
    let list = c.kubectl_ok(&["auth", "can-i", "--list", "-n", "microservices", "--as", SA]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("pods ") && l.ends_with("[get list watch]")),
        "{list}"
    );
    let whoami = c.kubectl_ok(&["auth", "whoami", "--as", SA]);
    assert!(whoami.contains(SA), "{whoami}");
    assert!(
        whoami.contains("system:serviceaccounts:microservices"),
        "{whoami}"
    );
    assert!(c.kubectl_ok(&["auth", "whoami"]).contains("system:masters"));

    // A token user: discovery and self-questions only, until granted more.
    let (ok, out, _) = as_token(&c, "alice-token", &["auth", "whoami"]);
    assert!(ok && out.contains("alice"), "{out}");
    let (ok, _, err) = as_token(&c, "alice-token", &["get", "pods", "-n", "team"]);
    assert!(
        !ok && err.contains("User \"alice\" cannot list resource \"pods\""),
        "{err}"
    );
    let (ok, _, err) = as_token(&c, "alice-token", &["get", "pods", "--as", "bob"]);
    assert!(
        !ok && err.contains("users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{err}"
    );
    // `edit` in one namespace (aggregated from system:aggregate-to-edit and -view).
    c.kubectl_ok(&["create", "namespace", "team"]);
    c.kubectl_ok(&[
        "create",
        "rolebinding",
        "alice-edit",
        "--clusterrole=edit",
        "--user=alice",
        "-n",
        "team",
    ]);
    let (ok, _, err) = as_token(
        &c,
        "alice-token",
        &[
            "create",
            "deployment",
            "web",
            "--image=minik/web:v1",
            "-n",
            "team",
        ],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = as_token(
        &c,
        "alice-token",
        &["auth", "can-i", "get", "deployments", "-n", "team"],
    );
    assert!(ok && out.trim() == "yes");
    let (_, out, _) = as_token(
        &c,
        "alice-token",
        &["auth", "can-i", "create", "rolebindings", "-n", "team"],
    );
    assert_eq!(out.trim(), "no");

    // Escalation: alice cannot write a Role with more than she holds…
    let (ok, _, err) = as_token(
        &c,
        "alice-token",
        &[
            "create",
            "role",
            "nodes-too",
            "--verb=get",
            "--resource=pods,nodes",
            "-n",
            "team",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("is forbidden: User \"alice\" cannot create resource \"roles\"")
            || err.contains("attempting to grant RBAC permissions not currently held"),
        "{err}"
    );
    // …so with rights to manage Roles (but not escalate), the check is the escalation one.
    c.kubectl_ok(&[
        "create",
        "role",
        "role-manager",
        "--verb=create,get,list",
        "--resource=roles,rolebindings",
        "-n",
        "team",
    ]);
    c.kubectl_ok(&[
        "create",
        "rolebinding",
        "alice-roles",
        "--role=role-manager",
        "--user=alice",
        "-n",
        "team",
    ]);
    let (ok, _, err) = as_token(
        &c,
        "alice-token",
        &[
            "create",
            "role",
            "secret-deleter",
            "--verb=delete",
            "--resource=secrets,nodes",
            "-n",
            "team",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("roles.rbac.authorization.k8s.io \"secret-deleter\" is forbidden: user \"alice\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"delete\"]}"),
        "{err}"
    );
    let (ok, _, err) = as_token(
        &c,
        "alice-token",
        &[
            "create",
            "role",
            "pod-reader",
            "--verb=get",
            "--resource=pods",
            "-n",
            "team",
        ],
    );
    assert!(ok, "a Role within what she holds: {err}");
    // A binding to a role she does not hold is refused; to one she holds, allowed.
    let (ok, _, err) = as_token(
        &c,
        "alice-token",
        &[
            "create",
            "rolebinding",
            "bob-admin",
            "--clusterrole=admin",
            "--user=bob",
            "-n",
            "team",
        ],
    );
    assert!(
        !ok && err.contains("attempting to grant RBAC permissions not currently held"),
        "{err}"
    );
    let (ok, _, err) = as_token(
        &c,
        "alice-token",
        &[
            "create",
            "rolebinding",
            "bob-reader",
            "--role=pod-reader",
            "--user=bob",
            "-n",
            "team",
        ],
    );
    assert!(ok, "{err}");
    let (_, out, _) = as_token(
        &c,
        "bob-token",
        &["auth", "can-i", "get", "pods", "-n", "team"],
    );
    assert_eq!(out.trim(), "yes");
    // `bind` on a ClusterRole lets her bind it without holding it.
    c.kubectl_ok(&[
        "create",
        "role",
        "admin-binder",
        "--verb=bind",
        "--resource=clusterroles",
        "--resource-name=admin",
        "-n",
        "team",
    ]);
    c.kubectl_ok(&[
        "create",
        "rolebinding",
        "alice-binder",
        "--role=admin-binder",
        "--user=alice",
        "-n",
        "team",
    ]);
    let (ok, _, err) = as_token(
        &c,
        "alice-token",
        &[
            "create",
            "rolebinding",
            "bob-admin",
            "--clusterrole=admin",
            "--user=bob",
            "-n",
            "team",
        ],
    );
    assert!(ok, "{err}");

    // Validation as kube-apiserver words it.
    let bad = r#"{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "bad"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"},
        "subjects": [{"kind": "User", "name": "u"}]}"#;
    let out = c.kubectl_stdin(&["create", "-f", "-"], bad);
    let (ok, err) = (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(
        !ok && err.contains(
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\""
        ),
        "{err}"
    );
    let (ok, _, err) = run(
        &c,
        &[
            "patch",
            "rolebinding",
            "alice-edit",
            "-n",
            "team",
            "-p",
            r#"{"roleRef":{"name":"view"}}"#,
        ],
    );
    assert!(!ok && err.contains("cannot change roleRef"), "{err}");
}

/// The aggregation controller writes an aggregated ClusterRole's rules, so
/// `kubectl get clusterrole view -o yaml` shows them, and a new role
/// labelled `aggregate-to-view` reaches `view`, then `edit` and `admin`.
#[tokio::test(flavor = "multi_thread")]
async fn aggregated_cluster_roles_get_their_rules_written() {
    use support::workloads::{wait_for, Tasks};
    let c = TestCluster::start().await;
    let ctx = Arc::new(minik_controller::Context::new(
        c.client.clone(),
        minik_controller::Settings::default(),
    ));
    let _controller = Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(ctx, &[minik_controller::cluster_role_aggregation::build])
            .await
            .unwrap();
    })]);
    let t = std::time::Duration::from_secs(20);
    let rules_of = |role: &str| {
        c.kubectl_ok(&[
            "get",
            "clusterrole",
            role,
            "-o",
            "jsonpath={.rules[*].resources}",
        ])
    };
    wait_for("view's rules written", t, || async {
        let rules = rules_of("view");
        rules.contains("\"pods\"").then_some(())
    })
    .await;
    c.apply(
        r#"{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "widget-viewer", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["minik.example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}]}"#,
    );
    for role in ["view", "edit", "admin"] {
        wait_for(&format!("widgets in {role}"), t, || async {
            rules_of(role).contains("\"widgets\"").then_some(())
        })
        .await;
    }
}

/// Each component's identity holds its own bootstrap role, not
/// `cluster-admin`: what it does is allowed, what it has no business
/// doing is not (asked as the real kubectl asks, by impersonation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_hold_least_privilege_roles() {
    let c = TestCluster::start().await;
    let node = ["--as", "system:node:node-1", "--as-group", "system:nodes"];
    let sched = ["--as", "system:kube-scheduler"];
    let proxy = ["--as", "system:kube-proxy"];
    let kcm = ["--as", "system:kube-controller-manager"];
    let dns = ["--as", "system:serviceaccount:kube-system:coredns"];
    let cases: &[(&[&str], &str, &str, bool)] = &[
        (&sched, "create", "pods --subresource=binding", true),
        (&sched, "patch", "persistentvolumeclaims", true),
        (&sched, "create", "pods", false),
        (&sched, "get", "secrets", false),
        (&proxy, "watch", "networkpolicies.networking.k8s.io", true),
        (
            &proxy,
            "patch",
            "ingresses.networking.k8s.io --subresource=status",
            true,
        ),
        (&proxy, "delete", "pods", false),
        // Ingress TLS Secrets, as ingress-nginx reads them.
        (&proxy, "watch", "secrets", true),
        (&proxy, "create", "secrets", false),
        (&dns, "watch", "endpoints", true),
        (&dns, "list", "secrets", false),
        (&node, "patch", "nodes --subresource=status", true),
        // Secrets and tokens only for its own pods (the Node authorizer;
        // `security_node_authorizer`), so never for all of them.
        (
            &node,
            "create",
            "serviceaccounts --subresource=token",
            false,
        ),
        (&node, "list", "secrets", false),
        (&node, "delete", "nodes", false),
        (&node, "create", "deployments.apps", false),
        (&kcm, "create", "replicasets.apps", true),
        (&kcm, "deletecollection", "widgets.minik.example.com", true),
        (&kcm, "update", "deployments.apps --subresource=scale", true),
        (
            &kcm,
            "escalate",
            "clusterroles.rbac.authorization.k8s.io",
            true,
        ),
        (&kcm, "create", "secrets", false),
        (
            &kcm,
            "create",
            "clusterrolebindings.rbac.authorization.k8s.io",
            false,
        ),
        (&kcm, "impersonate", "users", false),
        (
            &kcm,
            "approve",
            "certificatesigningrequests.certificates.k8s.io",
            false,
        ),
    ];
    for (who, verb, resource, expected) in cases {
        // `TYPE --subresource=S`: kubectl reads `TYPE/NAME` as a name.
        let mut args = vec!["auth", "can-i", *verb, "-A"];
        args.extend(resource.split(' '));
        args.extend_from_slice(who);
        let (_, out, _) = run(&c, &args);
        assert_eq!(
            out.trim(),
            if *expected { "yes" } else { "no" },
            "{who:?} {verb} {resource}"
        );
    }
    let (ok, _, err) = run(&c, &["get", "clusterrolebinding", "minik:components"]);
    assert!(!ok && err.contains("NotFound"), "{err}");
}
