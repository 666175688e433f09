//! The security model through the Python Kubernetes client (Debian's
//! `python3-kubernetes`) over HTTPS: the admin's client certificate from
//! the kubeconfig, a ServiceAccount token from the TokenRequest API,
//! anonymous (403) and wrong-token (401) requests, a ServiceAccount that
//! cannot list pods until a RoleBinding grants `view`, a
//! SelfSubjectAccessReview, escalation refused, and a deleted account's
//! token refused. The script is `python/security_client.py`.

use crate::support;

use serde_json::Value;
use support::TestCluster;

const SCRIPT: &str = include_str!("python/security_client.py");
/// Debian's interpreter, which `python3-kubernetes` installs into.
const PYTHON: &str = "/usr/bin/python3";

fn python_client_available() -> bool {
    let ok = std::process::Command::new(PYTHON)
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    support::present_or_skip(ok, "the Python Kubernetes client (python3-kubernetes)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_meets_authentication_and_rbac() {
    if !python_client_available() {
        return;
    }
    let c = TestCluster::start().await;
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(PYTHON)
            .args(["-c", SCRIPT])
            .env("KUBECONFIG", &c.kubeconfig)
            .env("NAMESPACE", "py-security")
            .output()
            .expect("python3 runs")
    });
    assert!(
        out.status.success(),
        "the script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let expect = |key: &str, value: Value| assert_eq!(seen[key], value, "{key}: {seen}");
    expect("token_parts", 3.into());
    expect("anonymous", 403.into());
    expect("wrong_token", 401.into());
    expect("before_binding", 403.into());
    expect(
        "forbidden_message",
        "pods is forbidden: User \"system:serviceaccount:py-security:reader\" cannot list resource \"pods\" in API group \"\" in the namespace \"py-security\"".into(),
    );
    expect("after_binding", 200.into());
    expect("delete_account", 403.into());
    expect("review_allowed", true.into());
    expect("escalation", 403.into());
    expect("after_account_deleted", 401.into());
}
