#!/usr/bin/env python3
"""Generates api/src/protobuf_schema.rs, the schema table minik's protobuf
decoder (api/src/protobuf.rs) walks.

Kubernetes' protobuf is proto2, generated from the Go types. Three facts are
needed per field, and each comes from its own source:

1. Field numbers and wire types: the `k8s-pb` crate (0.9), prost code
   generated from Kubernetes' generated.proto files. prost's snake_case names
   lose acronym capitalisation (`pod_ip`), so they are not the JSON names.
2. JSON names: the `k8s-openapi` crate (0.29, `v1_33`), whose serde code
   spells every field as Kubernetes does (`podIP`). A protobuf field is
   matched to the JSON field whose name is equal ignoring case and `_`.
   A protobuf field with no JSON match whose message's fields all appear in
   the JSON object is an embedded struct that Go's JSON inlines (`Volume`'s
   `volumeSource`, `PersistentVolumeSpec`'s `persistentVolumeSource`).
3. Whether a zero scalar (`""`, `0`, `false`) is kept in the JSON. Go's
   protobuf marshaller writes every non-pointer field, zero or not, while
   Go's JSON drops zero `omitempty` fields and keeps zero pointer fields
   (`replicas: 0` is not "unset"). The decoder must do what Go's JSON does,
   so it needs each field's pointer-ness, which neither crate records. It is
   measured: the real `kubectl` (which has the Go types compiled in) decodes
   a probe object whose every scalar is zero into its Go type and prints it
   back (`kubectl set resources --local`, `kubectl set selector --local`);
   the zero fields that survive are the ones to keep. Messages no such
   command reaches use KEEP_ZERO_UNPROBED below: fields k8s-openapi marks
   required, plus the Go pointer fields listed there (from k8s.io/api
   v1.33's types.go).

Usage: scripts/gen-protobuf-schema.py
Needs kubectl (v1.32) on PATH and both crates in ~/.cargo/registry:
k8s-openapi 0.29 is a workspace dependency (`cargo fetch`); k8s-pb is not a
dependency of anything, so fetch it with `cargo info k8s-pb@0.9.0`.
Writes api/src/protobuf_schema.rs; the output is deterministic.
"""

import glob
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "api", "src", "protobuf_schema.rs")


def crate_src(name):
    """The crate's src/ in cargo's registry: unpacked, or unpacked here from
    the downloaded .crate (`cargo info k8s-pb@0.9.0` downloads one)."""
    registry = os.path.join(os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo"), "registry")
    hits = sorted(glob.glob(f"{registry}/src/*/{name}/src"))
    if hits:
        return hits[-1]
    crates = sorted(glob.glob(f"{registry}/cache/*/{name}.crate"))
    if not crates:
        sys.exit(f"gen-protobuf-schema: {name} not in {registry}; see the usage above")
    dest = os.path.join(tempfile.gettempdir(), "gen-protobuf-schema")
    with tarfile.open(crates[-1]) as tar:
        tar.extractall(dest, filter="data")
    return os.path.join(dest, name, "src")


PB_SRC = crate_src("k8s-pb-0.9.0")
OPENAPI_SRC = os.path.join(crate_src("k8s-openapi-0.29.0"), "v1_33")
# k8s-pb 0.9 follows a newer Kubernetes than 1.33: its fields that v1_33
# lacks but a later k8s-openapi version has are left out (a 1.33 server
# skips them as unknown); a field none has is an error.
OPENAPI_NEWER_SRCS = sorted(
    p for p in glob.glob(os.path.join(crate_src("k8s-openapi-0.29.0"), "v1_*")) if p > OPENAPI_SRC
)

# The kinds whose bodies the decoder accepts, by k8s-openapi definition
# (minus "io.k8s."). The apiVersion and kind come from k8s-openapi's
# `Resource` impls; DeleteOptions is sent under any group's version.
ROOTS = [
    "api.core.v1.Namespace",
    "api.core.v1.Node",
    "api.core.v1.Pod",
    "api.core.v1.Service",
    "api.core.v1.Endpoints",
    "api.core.v1.ConfigMap",
    "api.core.v1.Secret",
    "api.core.v1.Event",
    "api.core.v1.ServiceAccount",
    "api.core.v1.PersistentVolume",
    "api.core.v1.PersistentVolumeClaim",
    "api.core.v1.ResourceQuota",
    "api.core.v1.LimitRange",
    "api.core.v1.Binding",
    "api.apps.v1.Deployment",
    "api.apps.v1.ReplicaSet",
    "api.apps.v1.StatefulSet",
    "api.apps.v1.DaemonSet",
    "api.batch.v1.Job",
    "api.batch.v1.CronJob",
    "api.networking.v1.Ingress",
    "api.networking.v1.IngressClass",
    "api.networking.v1.NetworkPolicy",
    "api.autoscaling.v1.HorizontalPodAutoscaler",
    "api.autoscaling.v2.HorizontalPodAutoscaler",
    "api.autoscaling.v1.Scale",
    "api.coordination.v1.Lease",
    "api.events.v1.Event",
    "api.policy.v1.Eviction",
    "api.policy.v1.PodDisruptionBudget",
    "api.rbac.v1.Role",
    "api.rbac.v1.ClusterRole",
    "api.rbac.v1.RoleBinding",
    "api.rbac.v1.ClusterRoleBinding",
    "api.authorization.v1.SelfSubjectAccessReview",
    "api.authorization.v1.SelfSubjectRulesReview",
    "api.authorization.v1.SubjectAccessReview",
    "api.authorization.v1.LocalSubjectAccessReview",
    "api.authentication.v1.SelfSubjectReview",
    "api.authentication.v1.TokenRequest",
    "api.certificates.v1.CertificateSigningRequest",
    "apimachinery.pkg.apis.meta.v1.DeleteOptions",
]
ANY_GROUP_VERSION = {"apimachinery.pkg.apis.meta.v1.DeleteOptions"}

# apimachinery types whose JSON is not an object of their protobuf fields,
# and the decoder's Kind for each.
SPECIAL = {
    "apimachinery.pkg.apis.meta.v1.Time": "Time",
    "apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "apimachinery.pkg.api.resource.Quantity": "Quantity",
    "apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "apimachinery.pkg.apis.meta.v1.FieldsV1": "FieldsV1",
    "api.authentication.v1.ExtraValue": "StringList",
    "api.authorization.v1.ExtraValue": "StringList",
    "api.certificates.v1.ExtraValue": "StringList",
}
# Special types no root reaches today; the decoder has no Kind for them, so
# adding a root that needs one must add it there first.
UNSUPPORTED = {
    "apimachinery.pkg.apis.meta.v1.Duration",
    "apimachinery.pkg.runtime.RawExtension",
}

# kubectl computes a strategic merge patch, which needs the merge keys of
# list elements: the probe sets these fields (and learns nothing about them).
MERGE_KEYS = {"name": "probe", "containerPort": 1, "mountPath": "/probe", "devicePath": "/probe",
              "ip": "10.0.0.1", "type": "probe", "topologyKey": "probe", "whenUnsatisfiable": "probe",
              "uid": "probe"}

SCALARS = {"string": "Str", "int32": "I32", "int64": "I64", "bool": "Bool"}
ZERO = {"Str": "", "I32": 0, "I64": 0, "Bool": False}

# Workload kinds `kubectl set resources --local` decodes into Go types and
# prints back, and the Service `kubectl set selector --local` does.
PROBES = [
    ("api.apps.v1.Deployment", ["set", "resources", "--limits=cpu=1"]),
    ("api.apps.v1.ReplicaSet", ["set", "resources", "--limits=cpu=1"]),
    ("api.apps.v1.StatefulSet", ["set", "resources", "--limits=cpu=1"]),
    ("api.apps.v1.DaemonSet", ["set", "resources", "--limits=cpu=1"]),
    ("api.batch.v1.Job", ["set", "resources", "--limits=cpu=1"]),
    ("api.batch.v1.CronJob", ["set", "resources", "--limits=cpu=1"]),
    ("api.core.v1.Pod", ["set", "resources", "--limits=cpu=1"]),
    ("api.core.v1.Service", ["set", "selector", "probe=x"]),
]

# Scalars the probes cannot measure (their messages are not reachable from
# a probed kind, or the probe had to set them as merge keys) whose zero Go's
# JSON keeps although k8s-openapi calls them optional: Go pointers (`*int32`,
# `*bool`, `*string`, `*SomeStringType`) and fields without `omitempty`.
# Transcribed from k8s.io/api and k8s.io/apimachinery v1.33 types.go. Every
# message with such unmeasured optional scalars must be listed (an empty
# list: all of them are plain `omitempty` values), so a new one is reviewed.
KEEP_ZERO_UNPROBED = {
    "api.rbac.v1.Subject": [],
    "api.authorization.v1.SelfSubjectRulesReviewSpec": [],
    "api.authorization.v1.SubjectRulesReviewStatus": [],
    "api.authorization.v1.FieldSelectorAttributes": [],
    "api.authorization.v1.LabelSelectorAttributes": [],
    "api.authorization.v1.ResourceAttributes": [],
    "api.authorization.v1.NonResourceAttributes": [],
    "api.authorization.v1.SubjectAccessReviewSpec": [],
    "api.authorization.v1.SubjectAccessReviewStatus": [],
    "api.authentication.v1.UserInfo": [],
    "api.authentication.v1.TokenRequestSpec": ["expirationSeconds"],
    "api.authentication.v1.TokenRequestStatus": ["token", "expirationTimestamp"],
    "api.authentication.v1.BoundObjectReference": [],
    "api.apps.v1.DaemonSetUpdateStrategy": [],
    "api.apps.v1.DeploymentStrategy": [],
    "api.apps.v1.StatefulSetUpdateStrategy": [],
    "api.autoscaling.v1.CrossVersionObjectReference": [],
    "api.autoscaling.v1.HorizontalPodAutoscalerSpec": ["minReplicas", "targetCPUUtilizationPercentage"],
    "api.autoscaling.v1.HorizontalPodAutoscalerStatus": ["observedGeneration", "currentCPUUtilizationPercentage"],
    "api.autoscaling.v1.ScaleSpec": [],
    "api.autoscaling.v1.ScaleStatus": [],
    "api.autoscaling.v2.CrossVersionObjectReference": [],
    "api.autoscaling.v2.HPAScalingRules": ["stabilizationWindowSeconds", "selectPolicy"],
    "api.autoscaling.v2.HorizontalPodAutoscalerCondition": [],
    "api.autoscaling.v2.HorizontalPodAutoscalerSpec": ["minReplicas"],
    "api.autoscaling.v2.HorizontalPodAutoscalerStatus": ["observedGeneration"],
    "api.autoscaling.v2.MetricTarget": ["averageUtilization"],
    "api.autoscaling.v2.MetricValueStatus": ["averageUtilization"],
    "api.certificates.v1.CertificateSigningRequestCondition": [],
    "api.certificates.v1.CertificateSigningRequestSpec": ["expirationSeconds"],
    "api.certificates.v1.CertificateSigningRequestStatus": [],
    "api.coordination.v1.LeaseSpec": [
        "holderIdentity",
        "leaseDurationSeconds",
        "leaseTransitions",
        "strategy",
        "preferredHolder",
    ],
    "api.core.v1.AzureFilePersistentVolumeSource": ["secretNamespace"],
    "api.core.v1.CSIPersistentVolumeSource": [],
    "api.core.v1.CephFSPersistentVolumeSource": [],
    "api.core.v1.CinderPersistentVolumeSource": [],
    "api.core.v1.ClusterTrustBundleProjection": ["name"],
    "api.core.v1.ConfigMap": ["immutable"],
    "api.core.v1.ConfigMapNodeConfigSource": [],
    "api.core.v1.ContainerImage": [],
    "api.core.v1.ContainerPort": [],
    "api.core.v1.EndpointAddress": ["nodeName"],
    "api.core.v1.EndpointPort": ["appProtocol"],
    "api.core.v1.Event": ["reportingComponent", "reportingInstance"],
    "api.core.v1.EventSeries": [],
    "api.core.v1.EventSource": [],
    "api.core.v1.FlexPersistentVolumeSource": [],
    "api.core.v1.GlusterfsPersistentVolumeSource": ["endpointsNamespace"],
    "api.core.v1.HostPathVolumeSource": ["type"],
    "api.core.v1.ISCSIPersistentVolumeSource": ["initiatorName"],
    "api.core.v1.LoadBalancerIngress": [],
    "api.core.v1.LocalVolumeSource": ["fsType"],
    "api.core.v1.NamespaceCondition": [],
    "api.core.v1.NamespaceStatus": [],
    "api.core.v1.NodeCondition": [],
    "api.core.v1.NodeConfigStatus": [],
    "api.core.v1.NodeFeatures": ["supplementalGroupsPolicy"],
    "api.core.v1.NodeRuntimeHandler": ["name"],
    "api.core.v1.NodeRuntimeHandlerFeatures": ["recursiveReadOnlyMounts", "userNamespaces"],
    "api.core.v1.NodeSpec": [],
    "api.core.v1.NodeStatus": [],
    "api.core.v1.NodeSwapStatus": ["capacity"],
    "api.core.v1.ObjectReference": [],
    "api.core.v1.PersistentVolumeSpec": ["volumeMode", "volumeAttributesClassName"],
    "api.core.v1.PersistentVolumeStatus": [],
    "api.core.v1.PodDNSConfigOption": [],
    "api.core.v1.RBDPersistentVolumeSource": [],
    "api.core.v1.SELinuxOptions": [],
    "api.core.v1.ScaleIOPersistentVolumeSource": [],
    "api.core.v1.Secret": ["immutable"],
    "api.core.v1.SecretReference": [],
    "api.core.v1.ServiceAccount": ["automountServiceAccountToken"],
    "api.core.v1.ServicePort": [],
    "api.core.v1.ServiceSpec": [],
    "api.core.v1.StorageOSPersistentVolumeSource": [],
    "api.core.v1.Taint": [],
    "api.events.v1.Event": [],
    "api.networking.v1.HTTPIngressPath": [],
    "api.networking.v1.IngressClassParametersReference": ["apiGroup", "scope", "namespace"],
    "api.networking.v1.IngressClassSpec": [],
    "api.networking.v1.IngressLoadBalancerIngress": [],
    "api.networking.v1.IngressPortStatus": ["error"],
    "api.networking.v1.IngressRule": [],
    "api.networking.v1.IngressSpec": ["ingressClassName"],
    "api.networking.v1.IngressTLS": [],
    "api.networking.v1.NetworkPolicyPort": ["protocol", "endPort"],
    "api.networking.v1.ServiceBackendPort": [],
    "apimachinery.pkg.apis.meta.v1.DeleteOptions": [
        "gracePeriodSeconds",
        "orphanDependents",
        "propagationPolicy",
        "ignoreStoreReadErrorWithClusterBreakingPotential",
    ],
    "apimachinery.pkg.apis.meta.v1.ObjectMeta": [],
    "apimachinery.pkg.apis.meta.v1.Preconditions": ["uid", "resourceVersion"],
    "api.policy.v1.PodDisruptionBudgetSpec": ["unhealthyPodEvictionPolicy"],
    "api.policy.v1.PodDisruptionBudgetStatus": [],
}


# ---------------------------------------------------------------- k8s-pb


def norm(name):
    return name.replace("r#", "").replace("_", "").lower()


def resolve(module, path):
    parts = path.split("::")
    mod = list(module)
    while parts and parts[0] == "super":
        mod.pop()
        parts.pop(0)
    return ".".join(mod + parts[:-1] + [parts[-1]])


WRAPPERS = [
    "::core::option::Option<",
    "::prost::alloc::vec::Vec<",
    "::prost::alloc::boxed::Box<",
    "::prost::alloc::collections::BTreeMap<",
    "::prost::alloc::string::String,",
]


def parse_pb():
    """{key: {"name", "fields": [{"number", "name", "wire", "label", "type"}]}}"""
    messages = {}
    for path in glob.glob(os.path.join(PB_SRC, "**", "mod.rs"), recursive=True):
        module = os.path.relpath(os.path.dirname(path), PB_SRC).split(os.sep)
        text = "\n".join(
            line for line in open(path).read().splitlines() if not line.strip().startswith("//")
        )
        for m in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, re.S):
            name, body = m.group(1), m.group(2)
            fields = []
            for chunk in body.split("#[prost(")[1:]:
                attr, rest = chunk.split(")]", 1)
                fm = re.match(r"\s*pub (r#)?(\w+):\s*(.*?),?\s*$", rest, re.S)
                if not fm:
                    sys.exit(f"gen-protobuf-schema: cannot parse field of {name}: {rest!r}")
                fname, ty = fm.group(2), re.sub(r"\s+", "", fm.group(3))
                number = int(re.search(r'tag = "(\d+)"', attr).group(1))
                items = [a.strip() for a in attr.split(",")]
                wire = items[0]
                if wire.startswith("btree_map"):
                    key_ty, val_ty = re.search(r'btree_map = "(\w+), (\w+)"', attr).groups()
                    if key_ty != "string":
                        sys.exit(f"gen-protobuf-schema: {name}.{fname}: map key {key_ty}")
                    label, wire = "map", val_ty
                elif "repeated" in items:
                    label = "repeated"
                else:
                    label = "one"
                wire = wire.split(" ")[0]
                target = None
                if wire == "message":
                    inner = ty
                    for w in WRAPPERS:
                        inner = inner.replace(w, "")
                    inner = inner.rstrip(">,")
                    target = resolve(module, inner)
                fields.append(
                    {"number": number, "name": fname, "wire": wire, "label": label, "type": target}
                )
            messages[".".join(module + [name])] = {"name": name, "fields": fields}
    return messages


# ---------------------------------------------------------------- k8s-openapi


def parse_openapi(src):
    """{key: {"fields": {json: optional?}, "api_version", "kind"}}"""
    defs = {}
    for path in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True):
        text = open(path).read()
        head = re.match(r"// Generated from definition io\.k8s\.([\w.]+)", text)
        if not head:
            continue
        key = head.group(1)
        sm = re.search(r"pub struct \w+ \{(.*?)\n\}", text, re.S)
        rust_fields = {}
        if sm:
            for fm in re.finditer(r"^\s*pub (\w+): (.*),$", sm.group(1), re.M):
                rust_fields[fm.group(1)] = fm.group(2).startswith("Option<")
        fields = {}
        for jm in re.finditer(r'"([^"]+)" => Field::Key_(\w+),', text):
            json_name, rust = jm.groups()
            if rust in rust_fields:
                fields[json_name] = rust_fields[rust]
        av = re.search(r'const API_VERSION: &\'static str = "([^"]*)";', text)
        kind = re.search(r'const KIND: &\'static str = "([^"]*)";', text)
        defs[key] = {
            "fields": fields,
            "api_version": av.group(1) if av else None,
            "kind": kind.group(1) if kind else None,
        }
    return defs


# ---------------------------------------------------------------- the schema


def build(pb, openapi, newer):
    """The closure of ROOTS: {key: [field]}, each field
    {"number", "json", "kind", "label", "target", "required"}."""
    pb_lower = {k.lower(): k for k in pb}
    api_lower = {k.lower(): k for k in openapi}
    schema = {}
    # (message, the k8s-openapi definition naming its fields: its own, or for
    # an inlined message the one it is inlined into)
    todo = [(key, key) for key in ROOTS]
    while todo:
        key, json_def = todo.pop()
        if key in schema or key in SPECIAL:
            continue
        pkey = pb_lower.get(key.lower())
        akey = api_lower.get(json_def.lower())
        if pkey is None or akey is None:
            sys.exit(f"gen-protobuf-schema: {key}: in k8s-pb: {bool(pkey)}, in k8s-openapi: {bool(akey)}")
        jfields = openapi[akey]["fields"]
        by_norm = {norm(j): j for j in jfields}
        newer_norm = {norm(j) for defs in newer for j in defs.get(akey, {"fields": {}})["fields"]}
        fields = []
        for f in pb[pkey]["fields"]:
            target = None
            if f["wire"] == "message":
                target = api_lower.get(f["type"].lower(), f["type"])
                if target in UNSUPPORTED:
                    sys.exit(f"gen-protobuf-schema: {key}.{f['name']}: {target} needs a decoder Kind")
                kind = SPECIAL.get(target, "Msg")
            elif f["wire"] in SCALARS:
                kind = SCALARS[f["wire"]]
            elif f["wire"] == "bytes":
                kind = "Bytes"
            else:
                sys.exit(f"gen-protobuf-schema: {key}.{f['name']}: unsupported wire type {f['wire']}")
            label = f["label"]
            json_name = by_norm.get(norm(f["name"]))
            if json_name is None:
                inner = pb.get(f["type"] or "")
                if f["wire"] == "message" and label == "one" and inner and all(
                    norm(g["name"]) in by_norm or norm(g["name"]) in newer_norm
                    for g in inner["fields"]
                ):
                    label, json_name = "inline", f["name"]
                elif norm(f["name"]) in newer_norm:
                    print(f"note: {key}.{f['name']}: newer than 1.33, skipped", file=sys.stderr)
                    continue
                else:
                    sys.exit(f"gen-protobuf-schema: {key}.{f['name']}: no JSON field matches")
            if kind == "Msg":
                todo.append((target, akey if label == "inline" else target))
            fields.append(
                {
                    "number": f["number"],
                    "json": json_name,
                    "kind": kind,
                    "label": label,
                    "target": target,
                    "required": label == "one" and not jfields.get(json_name, True),
                }
            )
        schema[key] = fields
    return schema


# ---------------------------------------------------------------- the probe


def probe_object(schema, key, chain):
    """An object of message `key` whose scalars are all zero and whose
    messages, lists and maps each hold one probe."""
    obj = {}
    for f in schema[key]:
        if f["kind"] in ZERO and f["label"] == "one":
            zero = ZERO[f["kind"]]
            key_value = MERGE_KEYS.get(f["json"], zero)
            obj[f["json"]] = key_value if type(key_value) is type(zero) else zero
        elif f["kind"] == "Msg" and f["target"] not in chain:
            sub = probe_object(schema, f["target"], chain | {key})
            if f["label"] == "one":
                obj[f["json"]] = sub
            elif f["label"] == "repeated":
                obj[f["json"]] = [sub]
            elif f["label"] == "map":
                obj[f["json"]] = {"probe": sub}
            else:
                obj.update(sub)
    return obj


def compare(schema, key, out, chain, seen, where):
    """Records, per (message, field), whether kubectl kept the zero."""
    for f in schema[key]:
        if f["kind"] in ZERO and f["label"] == "one":
            kept = f["json"] in out
            if kept and out[f["json"]] != ZERO[f["kind"]]:
                continue  # the command itself set this field
            prev = seen.setdefault((key, f["json"]), kept)
            if prev != kept:
                sys.exit(f"gen-protobuf-schema: {key}.{f['json']}: probes disagree ({where})")
        elif f["kind"] == "Msg" and f["target"] not in chain:
            sub = out if f["label"] == "inline" else out.get(f["json"])
            if f["label"] == "repeated":
                sub = (sub or [None])[0]
            elif f["label"] == "map":
                sub = (sub or {}).get("probe")
            if not isinstance(sub, dict):
                sys.exit(f"gen-protobuf-schema: {where}: kubectl dropped {key}.{f['json']}")
            compare(schema, f["target"], sub, chain | {key}, seen, f"{where}.{f['json']}")


def run_probes(schema, openapi):
    seen = {}
    for key, args in PROBES:
        obj = {"apiVersion": openapi[key]["api_version"], "kind": openapi[key]["kind"]}
        obj.update(probe_object(schema, key, frozenset()))
        res = subprocess.run(
            ["kubectl", *args, "--local", "--show-managed-fields", "-f", "-", "-o", "json"],
            input=json.dumps(obj),
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            sys.exit(f"gen-protobuf-schema: kubectl {' '.join(args)} ({key}): {res.stderr}")
        out = json.loads(res.stdout)
        compare(schema, key, out, frozenset(), seen, openapi[key]["kind"])
    return seen


# ---------------------------------------------------------------- output


def ident(key):
    parts = [p for p in key.split(".") if p not in ("api", "pkg", "apis", "apimachinery")]
    return "_".join(parts).upper()


def main():
    # The zero-value rules are measured against kubectl's compiled-in Go
    # types; another minor version may measure differently.
    version = subprocess.run(["kubectl", "version", "--client", "-o", "json"],
                             capture_output=True, text=True, check=True)
    git_version = json.loads(version.stdout)["clientVersion"]["gitVersion"]
    if not git_version.startswith(("v1.32.", "v1.33.")):
        sys.exit(f"gen-protobuf-schema: needs kubectl v1.32 or v1.33, found {git_version}")
    pb = parse_pb()
    openapi = parse_openapi(OPENAPI_SRC)
    schema = build(pb, openapi, [parse_openapi(src) for src in OPENAPI_NEWER_SRCS])
    probed = run_probes(schema, openapi)

    # Whether each scalar keeps its zero: measured where probed, otherwise
    # required in k8s-openapi or listed in KEEP_ZERO_UNPROBED.
    for key, names in KEEP_ZERO_UNPROBED.items():
        if key not in schema:
            sys.exit(f"gen-protobuf-schema: KEEP_ZERO_UNPROBED names {key}, not in the schema")
        for n in names:
            if not any(f["json"] == n for f in schema[key]):
                sys.exit(f"gen-protobuf-schema: KEEP_ZERO_UNPROBED {key}.{n}: no such field")
            if (key, n) in probed:
                sys.exit(f"gen-protobuf-schema: KEEP_ZERO_UNPROBED {key}.{n} is probed; drop it")
    unprobed_drop = 0
    for key, fields in schema.items():
        for f in fields:
            if f["kind"] not in ZERO or f["label"] != "one":
                continue
            if (key, f["json"]) in probed:
                f["keep"] = probed[(key, f["json"])]
            elif f["required"]:
                f["keep"] = True
            elif key not in KEEP_ZERO_UNPROBED:
                sys.exit(
                    f"gen-protobuf-schema: {key}.{f['json']} is not probed: "
                    "review its message in KEEP_ZERO_UNPROBED"
                )
            else:
                f["keep"] = f["json"] in KEEP_ZERO_UNPROBED[key]
                unprobed_drop += not f["keep"]

    lines = [
        "//! GENERATED by scripts/gen-protobuf-schema.py — do not edit by hand.",
        "//!",
        "//! The protobuf schema of every kind minik decodes from",
        "//! `application/vnd.kubernetes.protobuf`: field numbers and wire types from",
        "//! the k8s-pb crate (Kubernetes' generated.proto), JSON names from",
        "//! k8s-openapi (v1_33), and whether a zero scalar is kept (Go's JSON",
        "//! keeps pointer and non-`omitempty` fields) measured with kubectl.",
        "//! Read by [`super`] (`protobuf.rs`), whose `mod` item tells rustfmt to",
        "//! leave this file as written.",
        "",
        "use super::{Field, Kind::*, Label::*, Message, Root};",
        "",
        "const fn f(number: u32, json: &'static str, kind: super::Kind, label: super::Label, keep_zero: bool) -> Field {",
        "    Field { number, json, kind, label, keep_zero }",
        "}",
        "",
        "/// The kinds decoded, by the apiVersion and kind of their `TypeMeta`",
        "/// (`None`: any apiVersion).",
        "pub(super) static ROOTS: &[Root] = &[",
    ]
    for key in ROOTS:
        av = None if key in ANY_GROUP_VERSION else openapi[key]["api_version"]
        kind = openapi[key]["kind"] or key.rsplit(".", 1)[1]
        av_text = "None" if av is None else f'Some("{av}")'
        lines.append(f'    Root {{ api_version: {av_text}, kind: "{kind}", message: &{ident(key)} }},')
    lines.append("];")
    label_names = {"one": "One", "repeated": "Repeated", "map": "Map", "inline": "Inline"}
    for key in sorted(schema):
        lines.append("")
        lines.append(f"static {ident(key)}: Message = Message {{")
        lines.append("    fields: &[")
        for fld in schema[key]:
            kind = fld["kind"]
            if kind == "Msg":
                kind = f"Msg(&{ident(fld['target'])})"
            keep = "true" if fld.get("keep") else "false"
            lines.append(
                f'        f({fld["number"]}, "{fld["json"]}", {kind}, {label_names[fld["label"]]}, {keep}),'
            )
        lines.append("    ],")
        lines.append("};")
    with open(OUT, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(
        f"wrote {os.path.relpath(OUT, ROOT)}: {len(schema)} messages, "
        f"{len(probed)} scalar fields probed with kubectl, "
        f"{unprobed_drop} unprobed optional scalars whose zero is dropped",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
