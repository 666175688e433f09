"""The security model through the Python Kubernetes client over HTTPS.

Run by tests/tests/security_python_client.rs with KUBECONFIG (the admin's,
a client certificate) and NAMESPACE; prints one JSON object of what it saw.
"""
import json
import os

from kubernetes import client, config
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=os.environ["KUBECONFIG"])
admin = client.ApiClient()
ns = os.environ["NAMESPACE"]
core = client.CoreV1Api(admin)
rbac = client.RbacAuthorizationV1Api(admin)


def connect(token):
    """A client with the cluster's CA and a bearer token (None: anonymous)."""
    cfg = client.Configuration()
    cfg.host = admin.configuration.host
    cfg.ssl_ca_cert = admin.configuration.ssl_ca_cert
    if token is not None:
        cfg.api_key = {"authorization": "Bearer " + token}
    return client.ApiClient(cfg)


def status(call):
    """The HTTP status a call ends with (200 when it succeeds)."""
    try:
        call()
        return 200
    except ApiException as e:
        return e.status


seen = {}
core.create_namespace({"metadata": {"name": ns}})
core.create_namespaced_service_account(ns, {"metadata": {"name": "reader"}})
# The TokenRequest API: a signed, expiring token for the account.
request = core.create_namespaced_service_account_token(
    "reader", ns, {"spec": {"audiences": [], "expirationSeconds": 3600}})
token = request.status.token
seen["token_parts"] = len(token.split("."))

seen["anonymous"] = status(lambda: client.CoreV1Api(connect(None)).list_namespaced_pod(ns))
seen["wrong_token"] = status(
    lambda: client.CoreV1Api(connect("not-a-token")).list_namespaced_pod(ns))
reader = client.CoreV1Api(connect(token))
seen["before_binding"] = status(lambda: reader.list_namespaced_pod(ns))
try:
    reader.list_namespaced_pod(ns)
except ApiException as e:
    seen["forbidden_message"] = json.loads(e.body)["message"]

rbac.create_namespaced_role_binding(ns, {
    "metadata": {"name": "reader-view"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
})
seen["after_binding"] = status(lambda: reader.list_namespaced_pod(ns))
seen["delete_account"] = status(lambda: reader.delete_namespaced_service_account("reader", ns))
review = client.AuthorizationV1Api(connect(token)).create_self_subject_access_review({
    "spec": {"resourceAttributes": {"namespace": ns, "verb": "list", "resource": "pods"}}})
seen["review_allowed"] = review.status.allowed

# Escalation: an account that may manage RoleBindings but holds no more
# than `view` cannot bind `admin`.
rbac.create_namespaced_role(ns, {
    "metadata": {"name": "binder"},
    "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"],
               "verbs": ["create"]}],
})
rbac.create_namespaced_role_binding(ns, {
    "metadata": {"name": "reader-binder"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "binder"},
    "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
})
escalate = {
    "metadata": {"name": "self-admin"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
    "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
}
rbac_as_reader = client.RbacAuthorizationV1Api(connect(token))
seen["escalation"] = status(
    lambda: rbac_as_reader.create_namespaced_role_binding(ns, escalate))

# The account deleted: its token is refused.
core.delete_namespaced_service_account("reader", ns)
seen["after_account_deleted"] = status(lambda: reader.list_namespaced_pod(ns))
print(json.dumps(seen))
