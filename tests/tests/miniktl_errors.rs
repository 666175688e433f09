//! miniktl's failures: YAML errors name the file, the document and the
//! line:column; unknown kinds and resource types name themselves and list
//! what is served; a stopped cluster says how to start one; server errors
//! print like kubectl's; and every failure exits non-zero.

use crate::support;
use crate::support::miniktl as mk;

use support::TestCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_errors_name_file_document_and_position() {
    let tc = TestCluster::start().await;
    let f = tc.file(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n   bad: 1\n",
    );
    let r = mk::miniktl(&tc.kubeconfig, &["apply", "-f", &f]).await;
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        format!("error: error parsing {f}: document 2, line 10, column 7: mapping values are not allowed in this context\n")
    );
    // Nothing was applied: the whole input is parsed before anything is sent.
    let get = mk::miniktl(&tc.kubeconfig, &["get", "cm", "first"]).await;
    assert_eq!(get.code, 1);
    assert_eq!(
        get.err,
        "Error from server (NotFound): configmaps \"first\" not found\n"
    );

    let f = tc.file("nokind.yaml", "apiVersion: v1\nmetadata:\n  name: x\n");
    let r = mk::miniktl(&tc.kubeconfig, &["create", "-f", &f]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.err.contains("nokind.yaml: document 1, line 1") && r.err.contains("'kind' is not set"),
        "{}",
        r.err
    );

    let r = mk::miniktl(&tc.kubeconfig, &["apply", "-f", "/nonexistent/x.yaml"]).await;
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "error: the path \"/nonexistent/x.yaml\" does not exist\n"
        )
    );

    let r = mk::miniktl_with_stdin(
        &tc.kubeconfig,
        &["apply", "-f", "-"],
        "kind: Pod\napiVersion: v1\nmetadata: [oops\n",
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .starts_with("error: error parsing STDIN: document 1, line "),
        "{}",
        r.err
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_and_types_list_what_is_served() {
    let tc = TestCluster::start().await;
    let f = tc.file(
        "frob.yaml",
        "apiVersion: example.com/v1\nkind: Frob\nmetadata:\n  name: a\n",
    );
    let r = mk::miniktl(&tc.kubeconfig, &["apply", "-f", &f]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .contains("no matches for kind \"Frob\" in version \"example.com/v1\""),
        "{}",
        r.err
    );
    assert!(
        r.err
            .contains("The server serves: Namespace (v1), Node (v1), Pod (v1)"),
        "{}",
        r.err
    );
    assert!(r.err.contains("Deployment (apps/v1)"), "{}", r.err);

    let r = mk::miniktl(&tc.kubeconfig, &["get", "frobs"]).await;
    assert_eq!(r.code, 1);
    let mut lines = r.err.lines();
    assert_eq!(
        lines.next(),
        Some("error: the server doesn't have a resource type \"frobs\"")
    );
    let served = lines.next().unwrap();
    assert!(
        served.starts_with("The server serves: namespaces (ns), nodes (no), pods (po)"),
        "{served}"
    );
    assert!(served.contains("deployments.apps (deploy)"), "{served}");
    // The first line is kubectl's, word for word.
    let k = tc.kubectl(&["get", "frobs"]);
    assert_eq!(
        String::from_utf8_lossy(&k.stderr).lines().last(),
        Some("error: the server doesn't have a resource type \"frobs\"")
    );

    let r = mk::miniktl(&tc.kubeconfig, &["explain", "frobs"]).await;
    assert_eq!(r.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cluster_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let port = minik_tests::free_port();
    let kubeconfig = dir.path().join("kubeconfig");
    minik_client::kubeconfig::write(&kubeconfig, &format!("http://127.0.0.1:{port}")).unwrap();
    for args in [
        &["get", "pods"][..],
        &["apply", "-f", "-"],
        &["describe", "node", "x"],
        &["cluster-info"],
        &["version"],
    ] {
        let r = mk::miniktl_with_stdin(
            &kubeconfig,
            args,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .await;
        assert_eq!(r.code, 1, "{args:?}");
        assert_eq!(
            r.err,
            format!(
                "error: the connection to the server 127.0.0.1:{port} was refused: the minik cluster is not running.\n\
                 Start it with `miniktl cluster up` (or point --kubeconfig/KUBECONFIG at a running cluster)\n"
            ),
            "{args:?}"
        );
    }
    // `version --client` needs no cluster.
    let r = mk::miniktl(&kubeconfig, &["version", "--client"]).await;
    assert_eq!(r.code, 0);
    assert!(r.out.starts_with("Client Version: v"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_print_like_kubectl_and_fail() {
    let tc = TestCluster::start().await;
    let f = tc.file(
        "inv.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n",
    );
    for args in [&["apply", "-f", &f][..], &["create", "-f", &f]] {
        let k = tc.kubectl(args);
        let m = mk::miniktl(&tc.kubeconfig, args).await;
        assert_eq!(m.code, 1);
        assert_eq!(String::from_utf8_lossy(&k.stderr), m.err, "{args:?}");
    }
    let ok = tc.file(
        "ok.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twice\n",
    );
    mk::miniktl(&tc.kubeconfig, &["create", "-f", &ok])
        .await
        .ok();
    let r = mk::miniktl(&tc.kubeconfig, &["create", "-f", &ok]).await;
    assert_eq!(r.code, 1);
    assert_eq!(r.err, format!("Error from server (AlreadyExists): error when creating \"{ok}\": configmaps \"twice\" already exists\n"));
    for (args, err) in [
        (
            &["delete", "cm", "nope"][..],
            "Error from server (NotFound): configmaps \"nope\" not found\n",
        ),
        (
            &["scale", "deploy", "nope", "--replicas=2"],
            "Error from server (NotFound): deployments.apps \"nope\" not found\n",
        ),
        (
            &["label", "cm", "nope", "a=b"],
            "Error from server (NotFound): configmaps \"nope\" not found\n",
        ),
        (
            &["rollout", "status", "deploy/nope"],
            "Error from server (NotFound): deployments.apps \"nope\" not found\n",
        ),
        (
            &["set", "image", "deploy/nope", "a=b"],
            "Error from server (NotFound): deployments.apps \"nope\" not found\n",
        ),
    ] {
        let r = mk::miniktl(&tc.kubeconfig, args).await;
        assert_eq!((r.code, r.err.as_str()), (1, err), "{args:?}");
    }
    // Usage errors are client-side `error:` lines with a non-zero exit too.
    for args in [
        &["get"][..],
        &["delete", "pods"],
        &["scale", "deploy/x"],
        &["logs"],
        &["get", "pods", "-o", "xml"],
    ] {
        let r = mk::miniktl(&tc.kubeconfig, args).await;
        assert_ne!(r.code, 0, "{args:?}");
        assert!(r.err.starts_with("error:"), "{args:?}: {}", r.err);
    }
}
