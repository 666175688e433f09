//! Server-side `Table` printing: what `kubectl get` shows.
//!
//! Owns the column definitions and per-row cells for every served kind, and
//! the `meta.k8s.io/v1` `Table` document the API server returns when a client
//! asks for `application/json;as=Table;v=v1;g=meta.k8s.io`. It mirrors
//! kube-apiserver's printers (`pkg/printers/internalversion/printers.go`,
//! written from their observable behaviour, not copied), the generic
//! `rest.defaultTableConvertor` (kinds without a printer, e.g. LimitRange:
//! `NAME  CREATED AT`) and the CRD convertor's default `NAME  AGE` for kinds
//! this module does not know.
//!
//! Like kube-apiserver, the server always prints the *wide* cells; columns
//! with `priority: 1` are the ones `kubectl` hides unless `-o wide`. Integer
//! cells are JSON numbers exactly where kube puts integers (even under a
//! column typed `string`, as kube does for Deployment's UP-TO-DATE).
//!
//! Quantities (PV capacity, quota usage, HPA targets) are printed as stored;
//! kube prints them in canonical form, which is the same for the usual
//! spellings (`1Gi`, `500m`, `10`).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::meta;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// One `columnDefinitions` entry of a `meta.k8s.io/v1` Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `boolean`, `date`.
    pub type_: &'static str,
    /// `name` for the object-name column, otherwise empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 0: always shown; 1: shown by `kubectl get -o wide` only.
    pub priority: i32,
}

impl Column {
    /// The column as it appears in `columnDefinitions`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The `includeObject` query parameter of a Table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No `object` in the rows.
    None,
    /// A `PartialObjectMetadata` per row (kube's default).
    #[default]
    Metadata,
    /// The full object per row.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter's value (`None`, `Metadata`, `Object`);
    /// an empty value means the default, anything else is `None` (invalid).
    pub fn parse(value: &str) -> Option<IncludeObject> {
        match value {
            "" | "Metadata" => Some(IncludeObject::Metadata),
            "None" => Some(IncludeObject::None),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// Column definitions for a kind (by Kind name, e.g. `"Pod"`).
pub fn columns(kind: &str) -> Vec<Column> {
    match printer(kind) {
        Some(p) => p.columns.to_vec(),
        None if kind == "LimitRange" => GENERIC_COLUMNS.to_vec(),
        None => UNKNOWN_COLUMNS.to_vec(),
    }
}

/// The cells of one row: one value per column of [`columns`] (wide included).
pub fn cells(kind: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    match printer(kind) {
        Some(p) => (p.cells)(obj, now),
        None if kind == "LimitRange" => generic_cells(obj),
        None => vec![name_cell(obj), age_cell(obj, now)],
    }
}

/// A complete `meta.k8s.io/v1` Table for `objects` of one kind.
///
/// `resource_version` is the list's (or, for a single GET, the object's)
/// resourceVersion; `continue_token` the list's continue token, if any.
pub fn table(
    kind: &str,
    objects: &[Value],
    now: Timestamp,
    include_object: IncludeObject,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    let mut metadata = Map::new();
    if !resource_version.is_empty() {
        metadata.insert("resourceVersion".into(), resource_version.into());
    }
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        metadata.insert("continue".into(), token.into());
    }
    let column_definitions: Vec<Value> = columns(kind).iter().map(Column::to_json).collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| table_row(kind, obj, now, include_object))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

fn table_row(kind: &str, obj: &Value, now: Timestamp, include_object: IncludeObject) -> Value {
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(cells(kind, obj, now)));
    if let Some(conditions) = row_conditions(kind, obj) {
        row.insert("conditions".into(), conditions);
    }
    match include_object {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            let metadata = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
            row.insert(
                "object".into(),
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                }),
            );
        }
        IncludeObject::Object => {
            row.insert("object".into(), obj.clone());
        }
    }
    Value::Object(row)
}

/// kube marks finished pods' rows as `Completed` (kubectl may use it to dim them).
fn row_conditions(kind: &str, obj: &Value) -> Option<Value> {
    if kind != "Pod" {
        return None;
    }
    let (reason, message) = match text(obj, "/status/phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{ "type": "Completed", "status": "True", "reason": reason, "message": message }]))
}

// ---------------------------------------------------------------------------
// The printer table: one entry per kind
// ---------------------------------------------------------------------------

struct Printer {
    kind: &'static str,
    columns: &'static [Column],
    cells: fn(&Value, Timestamp) -> Vec<Value>,
}

impl Printer {
    const fn new(
        kind: &'static str,
        columns: &'static [Column],
        cells: fn(&Value, Timestamp) -> Vec<Value>,
    ) -> Printer {
        Printer {
            kind,
            columns,
            cells,
        }
    }
}

static PRINTERS: &[Printer] = &[
    Printer::new("Pod", POD_COLUMNS, pod_cells),
    Printer::new("Node", NODE_COLUMNS, node_cells),
    Printer::new("Namespace", NAMESPACE_COLUMNS, namespace_cells),
    Printer::new("Service", SERVICE_COLUMNS, service_cells),
    Printer::new("Endpoints", ENDPOINTS_COLUMNS, endpoints_cells),
    Printer::new("ConfigMap", CONFIGMAP_COLUMNS, configmap_cells),
    Printer::new("Secret", SECRET_COLUMNS, secret_cells),
    Printer::new("Event", EVENT_COLUMNS, event_cells),
    Printer::new("ServiceAccount", SA_COLUMNS, sa_cells),
    Printer::new("PersistentVolume", PV_COLUMNS, pv_cells),
    Printer::new("PersistentVolumeClaim", PVC_COLUMNS, pvc_cells),
    Printer::new("ResourceQuota", RESOURCEQUOTA_COLUMNS, resourcequota_cells),
    Printer::new("Deployment", DEPLOYMENT_COLUMNS, deployment_cells),
    Printer::new("ReplicaSet", REPLICASET_COLUMNS, replicaset_cells),
    Printer::new("StatefulSet", STATEFULSET_COLUMNS, statefulset_cells),
    Printer::new("DaemonSet", DAEMONSET_COLUMNS, daemonset_cells),
    Printer::new("Job", JOB_COLUMNS, job_cells),
    Printer::new("CronJob", CRONJOB_COLUMNS, cronjob_cells),
    Printer::new("Ingress", INGRESS_COLUMNS, ingress_cells),
    Printer::new("IngressClass", INGRESSCLASS_COLUMNS, ingressclass_cells),
    Printer::new("NetworkPolicy", NETWORKPOLICY_COLUMNS, networkpolicy_cells),
    Printer::new("HorizontalPodAutoscaler", HPA_COLUMNS, hpa_cells),
    Printer::new("Lease", LEASE_COLUMNS, lease_cells),
];

fn printer(kind: &str) -> Option<&'static Printer> {
    PRINTERS.iter().find(|p| p.kind == kind)
}

// ---------------------------------------------------------------------------
// Column helpers and shared descriptions (from the API's field docs)
// ---------------------------------------------------------------------------

const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

const fn wide(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_: "string",
        format: "",
        description,
        priority: 1,
    }
}

const fn string(name: &'static str, description: &'static str) -> Column {
    col(name, "string", description)
}

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const CONTAINERS_DESC: &str = "Names of each container in the template.";
const IMAGES_DESC: &str = "Images referenced by each container in the template.";

const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: NAME_DESC,
    priority: 0,
};
const AGE: Column = string("Age", CREATED_DESC);
const CONTAINERS: Column = wide("Containers", CONTAINERS_DESC);
const IMAGES: Column = wide("Images", IMAGES_DESC);

/// Kinds served without a printer (LimitRange): kube's generic convertor.
const GENERIC_COLUMNS: &[Column] = &[NAME, col("Created At", "date", CREATED_DESC)];
/// Kinds this module does not know: the CRD convertor's default columns.
const UNKNOWN_COLUMNS: &[Column] = &[NAME, col("Age", "date", CREATED_DESC)];

fn generic_cells(obj: &Value) -> Vec<Value> {
    let created = meta::meta_str(obj, "creationTimestamp")
        .and_then(meta::parse_timestamp)
        .map(meta::format_timestamp)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![name_cell(obj), created.into()]
}

// ---------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------

const POD_COLUMNS: &[Column] = &[
    NAME,
    string("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    string("Status", "The aggregate status of the containers in this pod."),
    string("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    AGE,
    wide("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
    wide("Node", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"),
    wide("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled."),
    wide("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"),
];

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let summary = PodSummary::of(pod);
    let restarts = match summary.last_restart {
        Some(at) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, duration_between(at, now))
        }
        _ => summary.restarts.to_string(),
    };
    let pod_ip = first_nonempty(&[text(pod, "/status/podIPs/0/ip"), text(pod, "/status/podIP")]);
    vec![
        name_cell(pod),
        format!("{}/{}", summary.ready, summary.total).into(),
        summary.reason.into(),
        restarts.into(),
        age_cell(pod, now),
        or_none(pod_ip).into(),
        or_none(text(pod, "/spec/nodeName")).into(),
        or_none(text(pod, "/status/nominatedNodeName")).into(),
        readiness_gates(pod).into(),
    ]
}

/// READY, STATUS and RESTARTS of a pod, computed as `kubectl get pods` does.
#[derive(Debug, PartialEq)]
struct PodSummary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

impl PodSummary {
    fn of(pod: &Value) -> PodSummary {
        let phase = text(pod, "/status/phase");
        let mut reason = first_nonempty(&[text(pod, "/status/reason"), phase]).to_string();
        let gated = items(pod, "/status/conditions")
            .iter()
            .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated");
        if gated {
            reason = "SchedulingGated".into();
        }

        let init_specs = items(pod, "/spec/initContainers");
        let is_sidecar = |name: &str| {
            init_specs
                .iter()
                .any(|c| text(c, "/name") == name && text(c, "/restartPolicy") == "Always")
        };
        let sidecars = init_specs
            .iter()
            .filter(|c| text(c, "/restartPolicy") == "Always")
            .count();
        let mut summary = PodSummary {
            ready: 0,
            total: items(pod, "/spec/containers").len() + sidecars,
            reason,
            restarts: 0,
            last_restart: None,
        };

        // Init containers, in order, up to the first one not done yet.
        let mut sidecar_restarts = 0;
        let mut sidecar_last_restart = None;
        let mut initializing = false;
        for (index, status) in items(pod, "/status/initContainerStatuses")
            .iter()
            .enumerate()
        {
            let count = int(status, "/restartCount");
            let finished = last_termination(status);
            summary.restarts += count;
            summary.last_restart = later(summary.last_restart, finished);
            let sidecar = is_sidecar(text(status, "/name"));
            if sidecar {
                sidecar_restarts += count;
                sidecar_last_restart = later(sidecar_last_restart, finished);
            }
            let terminated = present(status, "/state/terminated");
            let waiting_reason = text(status, "/state/waiting/reason");
            if terminated && int(status, "/state/terminated/exitCode") == 0 {
                continue;
            }
            if sidecar && flag(status, "/started") {
                if flag(status, "/ready") {
                    summary.ready += 1;
                }
                continue;
            }
            summary.reason = if terminated {
                match text(status, "/state/terminated/reason") {
                    "" => match int(status, "/state/terminated/signal") {
                        0 => format!(
                            "Init:ExitCode:{}",
                            int(status, "/state/terminated/exitCode")
                        ),
                        signal => format!("Init:Signal:{signal}"),
                    },
                    r => format!("Init:{r}"),
                }
            } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
                format!("Init:{waiting_reason}")
            } else {
                format!("Init:{}/{}", index, init_specs.len())
            };
            initializing = true;
            break;
        }

        // Regular containers, last first, so the first container's state wins.
        if !initializing || first_condition_true(pod, "Initialized") {
            summary.restarts = sidecar_restarts;
            summary.last_restart = sidecar_last_restart;
            let mut has_running = false;
            for status in items(pod, "/status/containerStatuses").iter().rev() {
                summary.restarts += int(status, "/restartCount");
                summary.last_restart = later(summary.last_restart, last_termination(status));
                let waiting_reason = text(status, "/state/waiting/reason");
                let terminated_reason = text(status, "/state/terminated/reason");
                if !waiting_reason.is_empty() {
                    summary.reason = waiting_reason.into();
                } else if !terminated_reason.is_empty() {
                    summary.reason = terminated_reason.into();
                } else if present(status, "/state/terminated") {
                    summary.reason = match int(status, "/state/terminated/signal") {
                        0 => format!("ExitCode:{}", int(status, "/state/terminated/exitCode")),
                        signal => format!("Signal:{signal}"),
                    };
                } else if flag(status, "/ready") && present(status, "/state/running") {
                    has_running = true;
                    summary.ready += 1;
                }
            }
            if summary.reason == "Completed" && has_running {
                summary.reason = if any_condition_true(pod, "Ready") {
                    "Running"
                } else {
                    "NotReady"
                }
                .into();
            }
        }

        if present(pod, "/metadata/deletionTimestamp") {
            if text(pod, "/status/reason") == "NodeLost" {
                summary.reason = "Unknown".into();
            } else if phase != "Succeeded" && phase != "Failed" {
                summary.reason = "Terminating".into();
            }
        }
        summary
    }
}

fn last_termination(container_status: &Value) -> Option<Timestamp> {
    timestamp(container_status, "/lastState/terminated/finishedAt")
}

fn readiness_gates(pod: &Value) -> String {
    let gates = items(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".into();
    }
    let conditions = items(pod, "/status/conditions");
    let passed = gates
        .iter()
        .filter(|gate| {
            conditions
                .iter()
                .find(|c| text(c, "/type") == text(gate, "/conditionType"))
                .is_some_and(|c| text(c, "/status") == "True")
        })
        .count();
    format!("{passed}/{}", gates.len())
}

// ---------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------

const NODE_COLUMNS: &[Column] = &[
    NAME,
    string("Status", "The status of the node"),
    string("Roles", "The roles of the node"),
    AGE,
    string("Version", "Kubelet Version reported by the node."),
    wide("Internal-IP", NODE_ADDRESSES_DESC),
    wide("External-IP", NODE_ADDRESSES_DESC),
    wide("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    wide("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    wide("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
];

const NODE_ADDRESSES_DESC: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let roles = node_roles(node);
    let info =
        |field: &str| or_unknown(text(node, &format!("/status/nodeInfo/{field}"))).to_string();
    vec![
        name_cell(node),
        node_status(node).into(),
        if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }
        .into(),
        age_cell(node, now),
        text(node, "/status/nodeInfo/kubeletVersion").into(),
        node_address(node, "InternalIP").into(),
        node_address(node, "ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

/// `Ready`, `NotReady` or `Unknown`, plus `,SchedulingDisabled` when cordoned.
fn node_status(node: &Value) -> String {
    let ready = items(node, "/status/conditions")
        .iter()
        .rev() // the last Ready condition wins, as with kube's map of conditions
        .find(|c| text(c, "/type") == "Ready");
    let mut status = match ready {
        Some(c) if text(c, "/status") == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if flag(node, "/spec/unschedulable") {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Roles from `node-role.kubernetes.io/<role>` keys and `kubernetes.io/role=<role>`, sorted.
fn node_roles(node: &Value) -> Vec<String> {
    let mut roles = BTreeSet::new();
    for (key, value) in meta::labels(node) {
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == "kubernetes.io/role" {
            if let Some(role) = value.as_str().filter(|r| !r.is_empty()) {
                roles.insert(role.to_string());
            }
        }
    }
    roles.into_iter().collect()
}

fn node_address(node: &Value, address_type: &str) -> String {
    items(node, "/status/addresses")
        .iter()
        .find(|a| text(a, "/type") == address_type)
        .map(|a| text(a, "/address").to_string())
        .unwrap_or_else(|| "<none>".into())
}

// ---------------------------------------------------------------------------
// Namespace, ConfigMap, Secret, ServiceAccount, Lease
// ---------------------------------------------------------------------------

const NAMESPACE_COLUMNS: &[Column] = &[NAME, string("Status", "The status of the namespace"), AGE];

fn namespace_cells(ns: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(ns),
        text(ns, "/status/phase").into(),
        age_cell(ns, now),
    ]
}

const CONFIGMAP_COLUMNS: &[Column] = &[
    NAME,
    string("Data", "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."),
    AGE,
];

fn configmap_cells(cm: &Value, now: Timestamp) -> Vec<Value> {
    let data = len(cm, "/data") + len(cm, "/binaryData");
    vec![name_cell(cm), json!(data), age_cell(cm, now)]
}

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    string("Type", "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
    string("Data", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
    AGE,
];

fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(secret),
        text(secret, "/type").into(),
        json!(len(secret, "/data")),
        age_cell(secret, now),
    ]
}

const SA_COLUMNS: &[Column] = &[
    NAME,
    string("Secrets", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret"),
    AGE,
];

fn sa_cells(sa: &Value, now: Timestamp) -> Vec<Value> {
    vec![name_cell(sa), json!(len(sa, "/secrets")), age_cell(sa, now)]
}

const LEASE_COLUMNS: &[Column] = &[
    NAME,
    string("Holder", "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field."),
    AGE,
];

fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(lease),
        text(lease, "/spec/holderIdentity").into(),
        age_cell(lease, now),
    ]
}

// ---------------------------------------------------------------------------
// Service and Endpoints
// ---------------------------------------------------------------------------

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    string("Type", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"),
    string("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    string("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system."),
    string("Port(s)", "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    AGE,
    wide("Selector", "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/"),
];

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    // Objects written before `clusterIPs` existed carry only `clusterIP`.
    let cluster_ip = first_nonempty(&[
        text(svc, "/spec/clusterIPs/0"),
        text(svc, "/spec/clusterIP"),
    ]);
    let ports = service_ports(svc);
    vec![
        name_cell(svc),
        text(svc, "/spec/type").into(),
        or_none(cluster_ip).into(),
        service_external_ip(svc).into(),
        or_none(&ports).into(),
        age_cell(svc, now),
        format_labels(svc.pointer("/spec/selector")).into(),
    ]
}

/// EXTERNAL-IP: external IPs, load-balancer ingress (`<pending>` until assigned), or externalName.
fn service_external_ip(svc: &Value) -> String {
    let external_ips: Vec<&str> = items(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match text(svc, "/spec/type") {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let mut all = load_balancer_ingress(svc);
            all.extend(external_ips.iter().map(|ip| ip.to_string()));
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    }
}

/// Load-balancer ingress points (IP, else hostname), sorted and de-duplicated.
fn load_balancer_ingress(obj: &Value) -> Vec<String> {
    let set: BTreeSet<String> = items(obj, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| first_nonempty(&[text(i, "/ip"), text(i, "/hostname")]).to_string())
        .filter(|s| !s.is_empty())
        .collect();
    set.into_iter().collect()
}

/// PORT(S): `80/TCP`, or `80:30080/TCP` when a node port is allocated.
fn service_ports(svc: &Value) -> String {
    items(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = first_nonempty(&[text(p, "/protocol"), "TCP"]);
            match int(p, "/nodePort") {
                n if n > 0 => format!("{}:{}/{}", int(p, "/port"), n, protocol),
                _ => format!("{}/{}", int(p, "/port"), protocol),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    string("Endpoints", "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service."),
    AGE,
];

fn endpoints_cells(ep: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(ep),
        format_endpoints(ep).into(),
        age_cell(ep, now),
    ]
}

/// Up to three `ip:port` (or bare IPs for port-less subsets), then `+ N more...`.
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = items(ep, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut shown: Vec<String> = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let addresses = items(subset, "/addresses");
        let ports = items(subset, "/ports");
        let port_numbers: Vec<Option<i64>> = if ports.is_empty() {
            vec![None]
        } else {
            ports.iter().map(|p| Some(int(p, "/port"))).collect()
        };
        for port in port_numbers {
            total += addresses.len();
            for address in addresses {
                if shown.len() == MAX {
                    break;
                }
                let ip = text(address, "/ip");
                shown.push(match port {
                    None => ip.to_string(),
                    Some(port) => join_host_port(ip, port),
                });
            }
        }
    }
    let list = shown.join(",");
    if total > MAX {
        format!("{list} + {} more...", total - MAX)
    } else {
        list
    }
}

fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

// ---------------------------------------------------------------------------
// Event (core/v1 and events.k8s.io/v1 share one printer, as in kube)
// ---------------------------------------------------------------------------

const EVENT_COLUMNS: &[Column] = &[
    string("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    string("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    string("Reason", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    string("Object", "The object that this event is about."),
    wide("Subobject", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object."),
    wide("Source", "The component reporting this event. Should be a short machine understandable string."),
    string("Message", "A human-readable description of the status of this operation."),
    wide("First Seen", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
    wide("Count", "The number of times this event has occurred."),
    Column { name: "Name", type_: "string", format: "name", description: NAME_DESC, priority: 1 },
];

/// An Event's printed fields under either API version's field names.
struct EventFields<'a> {
    first_timestamp: &'a str,
    last_timestamp: &'a str,
    count: i64,
    regarding: Option<&'a Value>,
    message: &'a str,
    component: &'a str,
    host: &'a str,
}

impl<'a> EventFields<'a> {
    fn of(event: &'a Value) -> EventFields<'a> {
        if text(event, "/apiVersion") == "events.k8s.io/v1" {
            EventFields {
                first_timestamp: text(event, "/deprecatedFirstTimestamp"),
                last_timestamp: text(event, "/deprecatedLastTimestamp"),
                count: int(event, "/deprecatedCount"),
                regarding: event.get("regarding"),
                message: text(event, "/note"),
                component: first_nonempty(&[
                    text(event, "/deprecatedSource/component"),
                    text(event, "/reportingController"),
                ]),
                host: first_nonempty(&[
                    text(event, "/deprecatedSource/host"),
                    text(event, "/reportingInstance"),
                ]),
            }
        } else {
            EventFields {
                first_timestamp: text(event, "/firstTimestamp"),
                last_timestamp: text(event, "/lastTimestamp"),
                count: int(event, "/count"),
                regarding: event.get("involvedObject"),
                message: text(event, "/message"),
                component: first_nonempty(&[
                    text(event, "/source/component"),
                    text(event, "/reportingComponent"),
                ]),
                host: first_nonempty(&[
                    text(event, "/source/host"),
                    text(event, "/reportingInstance"),
                ]),
            }
        }
    }
}

fn event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    let fields = EventFields::of(event);
    let first_seen = match fields.first_timestamp {
        "" => since(text(event, "/eventTime"), now),
        t => since(t, now),
    };
    let mut last_seen = match fields.last_timestamp {
        "" => first_seen.clone(),
        t => since(t, now),
    };
    let mut count = fields.count;
    if present(event, "/series") {
        last_seen = since(text(event, "/series/lastObservedTime"), now);
        count = int(event, "/series/count");
    } else if count == 0 {
        count = 1; // singleton events of the new API carry no count
    }
    let regarding = fields.regarding.unwrap_or(&Value::Null);
    let kind = text(regarding, "/kind").to_lowercase();
    let target = match text(regarding, "/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let source = match fields.host {
        "" => fields.component.to_string(),
        host => format!("{}, {host}", fields.component),
    };
    vec![
        last_seen.into(),
        text(event, "/type").into(),
        text(event, "/reason").into(),
        target.into(),
        text(regarding, "/fieldPath").into(),
        source.into(),
        fields.message.trim().into(),
        first_seen.into(),
        json!(count),
        name_cell(event),
    ]
}

// ---------------------------------------------------------------------------
// PersistentVolume, PersistentVolumeClaim, ResourceQuota
// ---------------------------------------------------------------------------

const PV_COLUMNS: &[Column] = &[
    NAME,
    string("Capacity", "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"),
    string("Access Modes", "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"),
    string("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"),
    string("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"),
    string("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"),
    string("StorageClass", "StorageClass of the pv"),
    string("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    string("Reason", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    AGE,
    wide("VolumeMode", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec."),
];

fn pv_cells(pv: &Value, now: Timestamp) -> Vec<Value> {
    let claim = if present(pv, "/spec/claimRef") {
        format!(
            "{}/{}",
            text(pv, "/spec/claimRef/namespace"),
            text(pv, "/spec/claimRef/name")
        )
    } else {
        String::new()
    };
    vec![
        name_cell(pv),
        quantity(pv, "/spec/capacity/storage").into(),
        access_modes(items(pv, "/spec/accessModes")).into(),
        text(pv, "/spec/persistentVolumeReclaimPolicy").into(),
        terminating_or(pv, text(pv, "/status/phase")).into(),
        claim.into(),
        storage_class(pv).into(),
        or_unset(text(pv, "/spec/volumeAttributesClassName")).into(),
        text(pv, "/status/reason").into(),
        age_cell(pv, now),
        or_unset(text(pv, "/spec/volumeMode")).into(),
    ]
}

const PVC_COLUMNS: &[Column] = &[
    NAME,
    string("Status", "phase represents the current phase of PersistentVolumeClaim."),
    string("Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."),
    string("Capacity", "capacity represents the actual resources of the underlying volume."),
    string("Access Modes", "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"),
    string("StorageClass", "StorageClass of the pvc"),
    string("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    wide("VolumeMode", "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec."),
];

fn pvc_cells(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let volume = text(pvc, "/spec/volumeName");
    // Capacity and access modes are only shown once the claim is bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(pvc, "/status/capacity/storage"),
            access_modes(items(pvc, "/status/accessModes")),
        )
    };
    vec![
        name_cell(pvc),
        terminating_or(pvc, text(pvc, "/status/phase")).into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        storage_class(pvc).into(),
        or_unset(text(pvc, "/spec/volumeAttributesClassName")).into(),
        age_cell(pvc, now),
        or_unset(text(pvc, "/spec/volumeMode")).into(),
    ]
}

/// `RWO,ROX,RWX,RWOP`, in that fixed order, each at most once.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The beta storage-class annotation wins over `spec.storageClassName`.
fn storage_class(obj: &Value) -> &str {
    obj.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .and_then(Value::as_str)
        .unwrap_or_else(|| text(obj, "/spec/storageClassName"))
}

fn terminating_or<'a>(obj: &Value, phase: &'a str) -> &'a str {
    if present(obj, "/metadata/deletionTimestamp") {
        "Terminating"
    } else {
        phase
    }
}

const RESOURCEQUOTA_COLUMNS: &[Column] = &[
    NAME,
    AGE, // kube puts AGE second here
    string("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
    string("Limit", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
];

fn resourcequota_cells(quota: &Value, now: Timestamp) -> Vec<Value> {
    let mut names: Vec<&String> = quota
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .map(|hard| hard.keys().collect())
        .unwrap_or_default();
    names.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for name in names {
        let pointer_name = name.replace('~', "~0").replace('/', "~1");
        let used = quantity(quota, &format!("/status/used/{pointer_name}"));
        let hard = quantity(quota, &format!("/status/hard/{pointer_name}"));
        let entry = format!("{name}: {used}/{hard}");
        match name.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name_cell(quota),
        age_cell(quota, now),
        requests.join(", ").into(),
        limits.join(", ").into(),
    ]
}

// ---------------------------------------------------------------------------
// Workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob
// ---------------------------------------------------------------------------

const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    string("Ready", "Number of the pod with ready state"),
    string("Up-to-date", "Total number of non-terminating pods targeted by this deployment that have the desired template spec."),
    string("Available", "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels."),
];

fn deployment_cells(deploy: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(deploy, "/spec/template/spec/containers");
    let selector =
        label_selector(deploy.pointer("/spec/selector")).unwrap_or_else(|| "<invalid>".into());
    vec![
        name_cell(deploy),
        format!(
            "{}/{}",
            int(deploy, "/status/readyReplicas"),
            desired_replicas(deploy)
        )
        .into(),
        json!(int(deploy, "/status/updatedReplicas")),
        json!(int(deploy, "/status/availableReplicas")),
        age_cell(deploy, now),
        names.into(),
        images.into(),
        selector.into(),
    ]
}

const REPLICASET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    col("Current", "integer", "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    col("Ready", "integer", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

fn replicaset_cells(rs: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(rs, "/spec/template/spec/containers");
    vec![
        name_cell(rs),
        json!(desired_replicas(rs)),
        json!(int(rs, "/status/replicas")),
        json!(int(rs, "/status/readyReplicas")),
        age_cell(rs, now),
        names.into(),
        images.into(),
        format_label_selector(rs.pointer("/spec/selector")).into(),
    ]
}

const STATEFULSET_COLUMNS: &[Column] = &[
    NAME,
    string("Ready", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

fn statefulset_cells(sts: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(sts, "/spec/template/spec/containers");
    vec![
        name_cell(sts),
        format!(
            "{}/{}",
            int(sts, "/status/readyReplicas"),
            desired_replicas(sts)
        )
        .into(),
        age_cell(sts, now),
        names.into(),
        images.into(),
    ]
}

const DAEMONSET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    col("Ready", "integer", "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
    col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    col("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    string("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

fn daemonset_cells(ds: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(ds, "/spec/template/spec/containers");
    vec![
        name_cell(ds),
        json!(int(ds, "/status/desiredNumberScheduled")),
        json!(int(ds, "/status/currentNumberScheduled")),
        json!(int(ds, "/status/numberReady")),
        json!(int(ds, "/status/updatedNumberScheduled")),
        json!(int(ds, "/status/numberAvailable")),
        format_labels(ds.pointer("/spec/template/spec/nodeSelector")).into(),
        age_cell(ds, now),
        names.into(),
        images.into(),
        format_label_selector(ds.pointer("/spec/selector")).into(),
    ]
}

const JOB_COLUMNS: &[Column] = &[
    NAME,
    string("Status", "Status of the job."),
    string("Completions", "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs."),
    string("Duration", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", JOB_SELECTOR_DESC),
];

const JOB_SELECTOR_DESC: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(job, "/status/succeeded");
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match int(job, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        timestamp(job, "/status/startTime"),
        timestamp(job, "/status/completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => duration_between(start, now),
        (Some(start), Some(end)) => duration_between(start, end),
    };
    let (names, images) = container_cells(job, "/spec/template/spec/containers");
    vec![
        name_cell(job),
        job_status(job).into(),
        completions.into(),
        duration.into(),
        age_cell(job, now),
        names.into(),
        images.into(),
        format_label_selector(job.pointer("/spec/selector")).into(),
    ]
}

fn job_status(job: &Value) -> &'static str {
    let condition = |type_: &str| {
        items(job, "/status/conditions")
            .iter()
            .find(|c| text(c, "/type") == type_)
            .is_some_and(|c| text(c, "/status") == "True")
    };
    if condition("Complete") {
        "Complete"
    } else if condition("Failed") {
        "Failed"
    } else if present(job, "/metadata/deletionTimestamp") {
        "Terminating"
    } else if condition("Suspended") {
        "Suspended"
    } else if condition("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

const CRONJOB_COLUMNS: &[Column] = &[
    NAME,
    string("Schedule", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    string("Timezone", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
    col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false."),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    string("Last Schedule", "Information when was the last time the job was successfully scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", JOB_SELECTOR_DESC),
];

fn cronjob_cells(cj: &Value, now: Timestamp) -> Vec<Value> {
    let suspend = match cj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last_schedule = match text(cj, "/status/lastScheduleTime") {
        "" => "<none>".to_string(),
        t => since(t, now),
    };
    let (names, images) = container_cells(cj, "/spec/jobTemplate/spec/template/spec/containers");
    vec![
        name_cell(cj),
        text(cj, "/spec/schedule").into(),
        or_none(text(cj, "/spec/timeZone")).into(),
        suspend.into(),
        json!(len(cj, "/status/active")),
        last_schedule.into(),
        age_cell(cj, now),
        names.into(),
        images.into(),
        format_label_selector(cj.pointer("/spec/jobTemplate/spec/selector")).into(),
    ]
}

/// `spec.replicas`, defaulting to 1 as the apps/v1 defaults do.
fn desired_replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// CONTAINERS and IMAGES: the template's containers, comma-separated.
fn container_cells(obj: &Value, pointer: &str) -> (String, String) {
    let containers = items(obj, pointer);
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    (names.join(","), images.join(","))
}

// ---------------------------------------------------------------------------
// Networking: Ingress, IngressClass, NetworkPolicy
// ---------------------------------------------------------------------------

const INGRESS_COLUMNS: &[Column] = &[
    NAME,
    string(
        "Class",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    string(
        "Hosts",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    string(
        "Address",
        "Address is a list containing ingress points for the load-balancer",
    ),
    string("Ports", "Ports of TLS configurations that open"),
    AGE,
];

fn ingress_cells(ing: &Value, now: Timestamp) -> Vec<Value> {
    let ports = if items(ing, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name_cell(ing),
        or_none(text(ing, "/spec/ingressClassName")).into(),
        ingress_hosts(items(ing, "/spec/rules")).into(),
        load_balancer_ingress(ing).join(",").into(),
        ports.into(),
        age_cell(ing, now),
    ]
}

/// The first three rule hosts, `*` when none is set; `+ N more...` (N counted
/// in rules, as kube does) once a rule comes after three hosts.
fn ingress_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
            break;
        }
        let host = text(rule, "/host");
        if !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".into();
    }
    let list = hosts.join(",");
    if more {
        format!("{list} + {} more...", rules.len() - MAX)
    } else {
        list
    }
}

const INGRESSCLASS_COLUMNS: &[Column] = &[
    NAME,
    string(
        "Controller",
        "Controller that is responsible for handling this class",
    ),
    string(
        "Parameters",
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

fn ingressclass_cells(class: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match class.pointer("/spec/parameters").filter(|p| !p.is_null()) {
        None => "<none>".to_string(),
        Some(p) => {
            let kind = match p.get("apiGroup").and_then(Value::as_str) {
                Some(group) => format!("{}.{group}", text(p, "/kind")),
                None => text(p, "/kind").to_string(),
            };
            format!("{kind}/{}", text(p, "/name"))
        }
    };
    vec![
        name_cell(class),
        text(class, "/spec/controller").into(),
        parameters.into(),
        age_cell(class, now),
    ]
}

const NETWORKPOLICY_COLUMNS: &[Column] = &[
    NAME,
    string("Pod-Selector", "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace."),
    AGE,
];

fn networkpolicy_cells(np: &Value, now: Timestamp) -> Vec<Value> {
    // The pod selector is a value, not a pointer, in kube: absent means empty.
    let selector = np
        .pointer("/spec/podSelector")
        .cloned()
        .unwrap_or_else(|| json!({}));
    vec![
        name_cell(np),
        format_label_selector(Some(&selector)).into(),
        age_cell(np, now),
    ]
}

// ---------------------------------------------------------------------------
// HorizontalPodAutoscaler
// ---------------------------------------------------------------------------

const HPA_COLUMNS: &[Column] = &[
    NAME,
    string("Reference", "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count."),
    string("Targets", "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond. If not set, the default metric will be set to 80% average CPU utilization."),
    string("MinPods", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available."),
    string("MaxPods", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas."),
    string("Replicas", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
    AGE,
];

fn hpa_cells(hpa: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        text(hpa, "/spec/scaleTargetRef/kind"),
        text(hpa, "/spec/scaleTargetRef/name")
    );
    let min_pods = match hpa.pointer("/spec/minReplicas").and_then(Value::as_i64) {
        Some(n) => n.to_string(),
        None => "<unset>".into(),
    };
    vec![
        name_cell(hpa),
        reference.into(),
        hpa_targets(hpa).into(),
        min_pods.into(),
        json!(int(hpa, "/spec/maxReplicas")),
        json!(int(hpa, "/status/currentReplicas")),
        age_cell(hpa, now),
    ]
}

/// TARGETS: `cpu: 40%/80%` per metric (current/target), at most two, then `+ N more...`.
fn hpa_targets(hpa: &Value) -> String {
    const MAX: usize = 2;
    // autoscaling/v1 objects carry a single CPU utilization target.
    if text(hpa, "/apiVersion") == "autoscaling/v1" {
        return match hpa
            .pointer("/spec/targetCPUUtilizationPercentage")
            .and_then(Value::as_i64)
        {
            None => "<none>".into(),
            Some(target) => {
                let current = match hpa
                    .pointer("/status/currentCPUUtilizationPercentage")
                    .and_then(Value::as_i64)
                {
                    Some(c) => format!("{c}%"),
                    None => "<unknown>".into(),
                };
                format!("cpu: {current}/{target}%")
            }
        };
    }
    let specs = items(hpa, "/spec/metrics");
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = items(hpa, "/status/currentMetrics");
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| hpa_metric(spec, statuses.get(i)))
        .collect();
    let shown = list
        .iter()
        .take(MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > MAX {
        format!("{shown} + {} more...", list.len() - MAX)
    } else {
        shown
    }
}

fn hpa_metric(spec: &Value, status: Option<&Value>) -> String {
    // The status entry at the same index, if it is of the same source type.
    let current = |source: &str, field: &str| -> Option<String> {
        let value = status?.get(source).filter(|v| !v.is_null())?;
        quantity_at(value, &format!("/current/{field}"))
    };
    let has_status = |source: &str| {
        status
            .and_then(|s| s.get(source))
            .is_some_and(|v| !v.is_null())
    };
    let unknown = || "<unknown>".to_string();
    let nil = || "<nil>".to_string();
    match text(spec, "/type") {
        source_type @ ("External" | "Object") => {
            let source = if source_type == "External" {
                "external"
            } else {
                "object"
            };
            let target = |field: &str| quantity_at(spec, &format!("/{source}/target/{field}"));
            if let Some(average) = target("averageValue") {
                let now = current(source, "averageValue").unwrap_or_else(unknown);
                format!("{now}/{average} (avg)")
            } else {
                let now = if has_status(source) {
                    current(source, "value").unwrap_or_else(nil)
                } else {
                    unknown()
                };
                format!("{now}/{}", target("value").unwrap_or_else(nil))
            }
        }
        "Pods" => {
            let now = if has_status("pods") {
                current("pods", "averageValue").unwrap_or_else(nil)
            } else {
                unknown()
            };
            let target = quantity_at(spec, "/pods/target/averageValue").unwrap_or_else(nil);
            format!("{now}/{target}")
        }
        source_type @ ("Resource" | "ContainerResource") => {
            let source = if source_type == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let resource = text(spec, &format!("/{source}/name"));
            if let Some(average) = quantity_at(spec, &format!("/{source}/target/averageValue")) {
                let now = if has_status(source) {
                    current(source, "averageValue").unwrap_or_else(nil)
                } else {
                    unknown()
                };
                format!("{resource}: {now}/{average}")
            } else {
                let utilization = |v: Option<&Value>, pointer: &str| {
                    v.and_then(|v| v.pointer(pointer))
                        .and_then(Value::as_i64)
                        .map(|n| format!("{n}%"))
                };
                let now = utilization(status, &format!("/{source}/current/averageUtilization"))
                    .unwrap_or_else(unknown);
                let target =
                    utilization(Some(spec), &format!("/{source}/target/averageUtilization"))
                        .unwrap_or_else(|| "<auto>".into());
                format!("{resource}: {now}/{target}")
            }
        }
        _ => "<unknown type>".into(),
    }
}

// ---------------------------------------------------------------------------
// Label formatting (apimachinery's labels.FormatLabels / FormatLabelSelector)
// ---------------------------------------------------------------------------

/// A label map as `a=1,b=2` (sorted by key), `<none>` when empty.
fn format_labels(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// A LabelSelector as a selector string, `<none>` when it selects by nothing,
/// `<error>` when malformed.
fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector(selector) {
        None => "<error>".into(),
        Some(s) if s.is_empty() => "<none>".into(),
        Some(s) => s,
    }
}

/// A LabelSelector as kube's `selector.String()`: requirements sorted by key,
/// `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. `None` when malformed.
fn label_selector(selector: Option<&Value>) -> Option<String> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Some(String::new());
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            requirements.push((
                key.clone(),
                format!("{key}={}", value.as_str().unwrap_or("")),
            ));
        }
    }
    for expression in items(selector, "/matchExpressions") {
        let key = text(expression, "/key");
        let mut values: Vec<&str> = items(expression, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort();
        let requirement = match text(expression, "/operator") {
            "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return None,
        };
        requirements.push((key.to_string(), requirement));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        requirements
            .into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    )
}

// ---------------------------------------------------------------------------
// Small accessors over JSON objects
// ---------------------------------------------------------------------------

/// The string at `pointer`, or `""`.
fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The integer at `pointer`, or 0.
fn int(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The boolean at `pointer`, or false.
fn flag(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Whether `pointer` names a non-null value (a set pointer field in Go terms).
fn present(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer).is_some_and(|v| !v.is_null())
}

/// The array at `pointer`, or an empty slice.
fn items<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The number of entries of the map or array at `pointer`.
fn len(obj: &Value, pointer: &str) -> usize {
    match obj.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// The timestamp at `pointer`, if set and well-formed.
fn timestamp(obj: &Value, pointer: &str) -> Option<Timestamp> {
    meta::parse_timestamp(text(obj, pointer))
}

/// A quantity as printed: the stored string (numbers accepted), `0` when unset.
fn quantity(obj: &Value, pointer: &str) -> String {
    quantity_at(obj, pointer).unwrap_or_else(|| "0".into())
}

fn quantity_at(obj: &Value, pointer: &str) -> Option<String> {
    match obj.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_nonempty<'a>(candidates: &[&'a str]) -> &'a str {
    candidates
        .iter()
        .copied()
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "<none>"
    } else {
        s
    }
}

fn or_unset(s: &str) -> &str {
    if s.is_empty() {
        "<unset>"
    } else {
        s
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "<unknown>"
    } else {
        s
    }
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Status of the first condition of `type_` (kube's isPodInitializedConditionTrue).
fn first_condition_true(pod: &Value, type_: &str) -> bool {
    items(pod, "/status/conditions")
        .iter()
        .find(|c| text(c, "/type") == type_)
        .is_some_and(|c| text(c, "/status") == "True")
}

/// Whether any condition of `type_` is True (kube's hasPodReadyCondition).
fn any_condition_true(pod: &Value, type_: &str) -> bool {
    items(pod, "/status/conditions")
        .iter()
        .any(|c| text(c, "/type") == type_ && text(c, "/status") == "True")
}

fn name_cell(obj: &Value) -> Value {
    meta::name(obj).into()
}

fn age_cell(obj: &Value, now: Timestamp) -> Value {
    meta::age(obj, now).into()
}

/// Human duration from `from` to `to`, as Go's `duration.HumanDuration`
/// (which rounds a second of clock skew to `0s`).
fn duration_between(from: Timestamp, to: Timestamp) -> String {
    let seconds = to.duration_since(from).as_secs();
    meta::human_duration(if seconds == -1 { 0 } else { seconds })
}

/// Human duration since an RFC 3339 time; `<unknown>` when unset.
fn since(time: &str, now: Timestamp) -> String {
    match meta::parse_timestamp(time) {
        Some(t) => duration_between(t, now),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn names(kind: &str) -> Vec<&'static str> {
        columns(kind).iter().map(|c| c.name).collect()
    }

    fn pod(status: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status,
        })
    }

    fn pod_status_of(p: &Value) -> String {
        cells("Pod", p, now())[2].as_str().unwrap().to_string()
    }

    #[test]
    fn pod_columns_match_kube() {
        assert_eq!(
            names("Pod"),
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        let cols = columns("Pod");
        assert_eq!(cols[0].format, "name");
        assert!(cols[..5].iter().all(|c| c.priority == 0));
        assert!(cols[5..].iter().all(|c| c.priority == 1));
    }

    #[test]
    fn running_pod() {
        let p = pod(json!({
            "phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}],
        }));
        let c = cells("Pod", &p, now());
        assert_eq!(
            c,
            vec![
                json!("web"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("60m"),
                json!("10.1.0.5"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
    }

    #[test]
    fn pending_pod_without_statuses() {
        let c = cells("Pod", &pod(json!({"phase": "Pending"})), now());
        assert_eq!(c[1], "0/1");
        assert_eq!(c[2], "Pending");
        assert_eq!(c[5], "<none>");
    }

    #[test]
    fn waiting_reasons_win() {
        for reason in [
            "CrashLoopBackOff",
            "ErrImagePull",
            "ContainerCreating",
            "ImagePullBackOff",
        ] {
            let p = pod(json!({
                "phase": "Pending",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                                       "state": {"waiting": {"reason": reason}}}],
            }));
            assert_eq!(pod_status_of(&p), reason);
        }
    }

    #[test]
    fn terminated_reasons() {
        let terminated = |t: Value| {
            pod(json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"terminated": t}}]}))
        };
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 0, "reason": "Completed"}))),
            "Completed"
        );
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 1, "reason": "Error"}))),
            "Error"
        );
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 137, "reason": "OOMKilled"}))),
            "OOMKilled"
        );
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 3}))),
            "ExitCode:3"
        );
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 0, "signal": 9}))),
            "Signal:9"
        );
    }

    #[test]
    fn succeeded_pod_is_completed_and_marked() {
        let p = pod(json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "app", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}));
        assert_eq!(pod_status_of(&p), "Completed");
        let t = table("Pod", &[p], now(), IncludeObject::None, "1", None);
        assert_eq!(t["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], "Succeeded");
    }

    #[test]
    fn completed_with_a_running_container_is_running_or_not_ready() {
        let status = |ready: &str| {
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": ready}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                    {"name": "b", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})
        };
        let mut p = pod(status("True"));
        p["spec"]["containers"] = json!([{"name": "a"}, {"name": "b"}]);
        assert_eq!(pod_status_of(&p), "Running");
        assert_eq!(cells("Pod", &p, now())[1], "1/2");
        p["status"] = status("False");
        assert_eq!(pod_status_of(&p), "NotReady");
    }

    fn init_pod(init_statuses: Value) -> Value {
        let mut p = pod(
            json!({"phase": "Pending", "initContainerStatuses": init_statuses,
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                                   "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        p["spec"]["initContainers"] = json!([{"name": "i1"}, {"name": "i2"}]);
        p
    }

    #[test]
    fn init_container_progress() {
        let done = json!({"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let running = json!({"name": "i2", "restartCount": 0, "state": {"running": {}}});
        assert_eq!(
            pod_status_of(&init_pod(json!([done.clone(), running]))),
            "Init:1/2"
        );
        let waiting = json!({"name": "i1", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}});
        assert_eq!(pod_status_of(&init_pod(json!([waiting]))), "Init:0/2");
    }

    #[test]
    fn init_container_failures() {
        let failed = json!({"name": "i1", "restartCount": 2,
            "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}}});
        let p = init_pod(json!([failed]));
        assert_eq!(pod_status_of(&p), "Init:Error");
        // Restarts of init containers count while initializing.
        assert_eq!(cells("Pod", &p, now())[3], "2 (2m ago)");

        let crash = json!({"name": "i1", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}});
        assert_eq!(
            pod_status_of(&init_pod(json!([crash]))),
            "Init:CrashLoopBackOff"
        );

        let exit =
            json!({"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 4}}});
        assert_eq!(pod_status_of(&init_pod(json!([exit]))), "Init:ExitCode:4");
    }

    #[test]
    fn sidecar_init_containers_count_as_containers() {
        let mut p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true, "restartCount": 1,
                                       "state": {"running": {}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        p["spec"]["initContainers"] = json!([{"name": "proxy", "restartPolicy": "Always"}]);
        let c = cells("Pod", &p, now());
        assert_eq!(c[1], "2/2");
        assert_eq!(c[2], "Running");
        assert_eq!(c[3], "1"); // no lastState: no "(ago)"
    }

    #[test]
    fn restarts_show_time_since_last_restart() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 3, "state": {"running": {}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}}}]}));
        assert_eq!(cells("Pod", &p, now())[3], "3 (2m ago)");
    }

    #[test]
    fn terminating_pods() {
        let mut p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        p["metadata"]["deletionTimestamp"] = json!("2024-05-01T12:00:30Z");
        assert_eq!(pod_status_of(&p), "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_status_of(&p), "Unknown");
        // A finished pod being deleted keeps its final status.
        let mut done = pod(json!({"phase": "Failed", "reason": "Evicted"}));
        done["metadata"]["deletionTimestamp"] = json!("2024-05-01T12:00:30Z");
        assert_eq!(pod_status_of(&done), "Evicted");
    }

    #[test]
    fn scheduling_gated_and_wide_cells() {
        let mut p = pod(json!({"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                           {"type": "example.com/gate", "status": "True"}],
            "nominatedNodeName": "n2"}));
        p["spec"]["nodeName"] = json!("n1");
        p["spec"]["readinessGates"] =
            json!([{"conditionType": "example.com/gate"}, {"conditionType": "other"}]);
        let c = cells("Pod", &p, now());
        assert_eq!(c[2], "SchedulingGated");
        assert_eq!(c[6], "n1");
        assert_eq!(c[7], "n2");
        assert_eq!(c[8], "1/2");
    }

    fn service(spec: Value, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:59:00Z"},
               "spec": spec, "status": status})
    }

    #[test]
    fn service_ports_and_ips() {
        let svc = service(
            json!({"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                   "selector": {"tier": "web", "app": "shop"},
                   "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"},
                             {"port": 53, "protocol": "UDP"}]}),
            json!({}),
        );
        assert_eq!(
            names("Service"),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        assert_eq!(
            cells("Service", &svc, now()),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30001/TCP,443/TCP,53/UDP"),
                json!("60s"),
                json!("app=shop,tier=web"),
            ]
        );
    }

    #[test]
    fn service_external_ip_column() {
        let ext =
            |spec: Value, status: Value| cells("Service", &service(spec, status), now())[3].clone();
        assert_eq!(ext(json!({"type": "ClusterIP"}), json!({})), "<none>");
        assert_eq!(
            ext(
                json!({"type": "ClusterIP", "externalIPs": ["1.2.3.4", "5.6.7.8"]}),
                json!({})
            ),
            "1.2.3.4,5.6.7.8"
        );
        assert_eq!(
            ext(json!({"type": "LoadBalancer"}), json!({"loadBalancer": {}})),
            "<pending>"
        );
        assert_eq!(
            ext(
                json!({"type": "LoadBalancer"}),
                json!({"loadBalancer": {"ingress": [{"ip": "172.18.0.3"}, {"ip": "172.18.0.2"}, {"hostname": "lb.example"}]}})
            ),
            "172.18.0.2,172.18.0.3,lb.example"
        );
        assert_eq!(
            ext(
                json!({"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]}),
                json!({"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}})
            ),
            "172.18.0.2,9.9.9.9"
        );
        assert_eq!(
            ext(
                json!({"type": "ExternalName", "externalName": "db.example.com"}),
                json!({})
            ),
            "db.example.com"
        );
        let headless = service(
            json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}),
            json!({}),
        );
        let c = cells("Service", &headless, now());
        assert_eq!(c[2], "None");
        assert_eq!(c[4], "<none>");
        assert_eq!(c[6], "<none>");
    }

    #[test]
    fn endpoints_truncate_like_kube() {
        let ep = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]});
        assert_eq!(
            cells("Endpoints", &ep, now())[1],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 4 more..."
        );
        let small = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}, {"addresses": [{"ip": "10.0.0.9"}]}]});
        assert_eq!(
            cells("Endpoints", &small, now())[1],
            "[fd00::1]:80,10.0.0.9"
        );
        assert_eq!(
            cells("Endpoints", &json!({"metadata": {"name": "x"}}), now())[1],
            "<none>"
        );
    }

    fn deployment(replicas: Option<i64>, status: Value) -> Value {
        let mut spec = json!({"selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}}});
        if let Some(r) = replicas {
            spec["replicas"] = json!(r);
        }
        json!({"metadata": {"name": "web", "creationTimestamp": "2024-04-30T12:00:00Z"}, "spec": spec, "status": status})
    }

    #[test]
    fn deployment_ready_column() {
        assert_eq!(
            names("Deployment"),
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let d = deployment(
            Some(3),
            json!({"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}),
        );
        assert_eq!(
            cells("Deployment", &d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("24h"),
                json!("app,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web"),
            ]
        );
        // A new deployment has no status yet; replicas default to 1.
        let fresh = deployment(None, json!({}));
        let c = cells("Deployment", &fresh, now());
        assert_eq!(
            (c[1].clone(), c[2].clone(), c[3].clone()),
            (json!("0/1"), json!(0), json!(0))
        );
    }

    #[test]
    fn workload_columns() {
        assert_eq!(
            names("ReplicaSet"),
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            names("StatefulSet"),
            ["Name", "Ready", "Age", "Containers", "Images"]
        );
        assert_eq!(
            names("DaemonSet"),
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            names("Job"),
            [
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            names("CronJob"),
            [
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let rs = json!({"metadata": {"name": "web-abc"}, "spec": {"replicas": 2,
            "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]}, {"key": "canary", "operator": "DoesNotExist"}]}},
            "status": {"replicas": 2, "readyReplicas": 1}});
        let c = cells("ReplicaSet", &rs, now());
        assert_eq!(&c[1..4], &[json!(2), json!(2), json!(1)]);
        assert_eq!(c[7], "app=web,!canary,tier in (a,b)");
    }

    #[test]
    fn job_and_cronjob_cells() {
        let job = json!({"metadata": {"name": "pi", "creationTimestamp": "2024-05-01T11:50:00Z"},
            "spec": {"completions": 1, "parallelism": 1, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
            "status": {"succeeded": 1, "startTime": "2024-05-01T11:50:00Z", "completionTime": "2024-05-01T11:50:42Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}});
        let c = cells("Job", &job, now());
        assert_eq!(
            &c[1..5],
            &[json!("Complete"), json!("1/1"), json!("42s"), json!("10m")]
        );
        assert_eq!(c[7], "<none>");

        let cj = json!({"metadata": {"name": "tick", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"schedule": "*/5 * * * *", "suspend": false},
            "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": "2024-05-01T11:55:00Z"}});
        let c = cells("CronJob", &cj, now());
        assert_eq!(
            &c[1..7],
            &[
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("5m"),
                json!("60m")
            ]
        );
    }

    fn node(labels: Value, conditions: Value, unschedulable: bool) -> Value {
        json!({"metadata": {"name": "n1", "labels": labels, "creationTimestamp": "2024-04-01T12:00:00Z"},
               "spec": {"unschedulable": unschedulable},
               "status": {"conditions": conditions,
                          "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "n1"}],
                          "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                       "kernelVersion": "6.1.0", "containerRuntimeVersion": "docker://24.0.0"}}})
    }

    #[test]
    fn node_status_and_roles() {
        let ready = json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]);
        let n = node(
            json!({"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master",
                            "node-role.kubernetes.io/": "", "kubernetes.io/hostname": "n1"}),
            ready.clone(),
            false,
        );
        assert_eq!(
            cells("Node", &n, now()),
            vec![
                json!("n1"),
                json!("Ready"),
                json!("control-plane,master"),
                json!("30d"),
                json!("v1.32.0"),
                json!("172.18.0.2"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("6.1.0"),
                json!("docker://24.0.0"),
            ]
        );
        let cordoned = node(json!({}), ready, true);
        let c = cells("Node", &cordoned, now());
        assert_eq!(c[1], "Ready,SchedulingDisabled");
        assert_eq!(c[2], "<none>");
        let not_ready = node(
            json!({}),
            json!([{"type": "Ready", "status": "Unknown"}]),
            false,
        );
        assert_eq!(cells("Node", &not_ready, now())[1], "NotReady");
        let fresh = node(json!({}), json!([]), true);
        assert_eq!(
            cells("Node", &fresh, now())[1],
            "Unknown,SchedulingDisabled"
        );
        assert_eq!(
            names("Node"),
            [
                "Name",
                "Status",
                "Roles",
                "Age",
                "Version",
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime"
            ]
        );
    }

    #[test]
    fn events_print_like_kube() {
        assert_eq!(columns("Event")[0].name, "Last Seen");
        assert_eq!(columns("Event")[9].format, "name");
        let ev = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.17a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "reason": "Pulled", "message": "Successfully pulled image \"nginx\"\n", "type": "Normal",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-05-01T11:50:00Z", "lastTimestamp": "2024-05-01T11:59:00Z", "count": 4});
        assert_eq!(
            cells("Event", &ev, now()),
            vec![
                json!("60s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web"),
                json!("spec.containers{app}"),
                json!("kubelet, n1"),
                json!("Successfully pulled image \"nginx\""),
                json!("10m"),
                json!(4),
                json!("web.17a"),
            ]
        );
        let new_api = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "eventTime": "2024-05-01T11:59:30.123456Z", "regarding": {"kind": "Node", "name": "n1"},
            "note": "ok", "reason": "Started", "type": "Normal", "reportingController": "minik-kubelet"});
        let c = cells("Event", &new_api, now());
        assert_eq!(
            &c[..9],
            &[
                json!("29s"),
                json!("Normal"),
                json!("Started"),
                json!("node/n1"),
                json!(""),
                json!("minik-kubelet"),
                json!("ok"),
                json!("29s"),
                json!(1)
            ]
        );
    }

    #[test]
    fn storage_and_quota_cells() {
        let pv = json!({"metadata": {"name": "pv1", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                     "claimRef": {"namespace": "default", "name": "data"}},
            "status": {"phase": "Bound"}});
        assert_eq!(
            cells("PersistentVolume", &pv, now()),
            vec![
                json!("pv1"),
                json!("1Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("standard"),
                json!("<unset>"),
                json!(""),
                json!("60m"),
                json!("<unset>"),
            ]
        );
        let pending = json!({"metadata": {"name": "data"}, "spec": {"storageClassName": "standard"}, "status": {"phase": "Pending"}});
        let c = cells("PersistentVolumeClaim", &pending, now());
        assert_eq!(
            &c[1..6],
            &[
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("standard")
            ]
        );

        let quota = json!({"metadata": {"name": "q"}, "status": {
            "hard": {"pods": "10", "limits.memory": "2Gi", "requests.cpu": "1", "limits.cpu": "2"},
            "used": {"pods": "3", "requests.cpu": "500m", "limits.cpu": "1"}}});
        assert_eq!(names("ResourceQuota"), ["Name", "Age", "Request", "Limit"]);
        let c = cells("ResourceQuota", &quota, now());
        assert_eq!(c[2], "pods: 3/10, requests.cpu: 500m/1");
        assert_eq!(c[3], "limits.cpu: 1/2, limits.memory: 0/2Gi");
    }

    #[test]
    fn small_kinds() {
        let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(cells("ConfigMap", &cm, now())[1], json!(3));
        let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "dg=="}});
        assert_eq!(
            &cells("Secret", &secret, now())[1..3],
            &[json!("Opaque"), json!(1)]
        );
        let ns = json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}});
        assert_eq!(cells("Namespace", &ns, now())[1], "Active");
        let ing = json!({"metadata": {"name": "i"}, "spec": {"ingressClassName": "minik",
            "rules": [{"host": "a.example"}, {}, {"host": "c.example"}, {"host": "d.example"}, {"host": "e.example"}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}}});
        assert_eq!(
            &cells("Ingress", &ing, now())[1..5],
            &[
                json!("minik"),
                json!("a.example,c.example,d.example + 2 more..."),
                json!("172.18.0.2"),
                json!("80, 443")
            ]
        );
        let class = json!({"metadata": {"name": "minik"}, "spec": {"controller": "minik.io/ingress",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            cells("IngressClass", &class, now())[2],
            "IngressParameters.k8s.example.com/p"
        );
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!(cells("NetworkPolicy", &np, now())[1], "<none>");
        let lease = json!({"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}});
        assert_eq!(cells("Lease", &lease, now())[1], "n1");
        let sa = json!({"metadata": {"name": "default"}});
        assert_eq!(cells("ServiceAccount", &sa, now())[1], json!(0));
    }

    #[test]
    fn hpa_targets() {
        let hpa = json!({"apiVersion": "autoscaling/v2", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                     "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                        {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}]}});
        let c = cells("HorizontalPodAutoscaler", &hpa, now());
        assert_eq!(
            &c[1..6],
            &[
                json!("Deployment/web"),
                json!("cpu: 40%/80%, memory: <unknown>/100Mi + 1 more..."),
                json!("1"),
                json!(5),
                json!(2)
            ]
        );
    }

    #[test]
    fn unknown_and_generic_kinds() {
        assert_eq!(names("Widget"), ["Name", "Age"]);
        let w = json!({"metadata": {"name": "w", "creationTimestamp": "2024-05-01T11:59:50Z"}});
        assert_eq!(cells("Widget", &w, now()), vec![json!("w"), json!("10s")]);
        assert_eq!(names("LimitRange"), ["Name", "Created At"]);
        assert_eq!(
            cells("LimitRange", &w, now()),
            vec![json!("w"), json!("2024-05-01T11:59:50Z")]
        );
    }

    #[test]
    fn every_printer_has_one_cell_per_column() {
        let empty = json!({});
        for p in PRINTERS {
            assert_eq!(
                p.columns.len(),
                (p.cells)(&empty, now()).len(),
                "{}",
                p.kind
            );
            if p.kind != "Event" {
                assert_eq!(p.columns[0], NAME, "{}", p.kind);
            }
        }
    }

    #[test]
    fn table_json_shape() {
        let p = pod(json!({"phase": "Running"}));
        let t = table(
            "Pod",
            std::slice::from_ref(&p),
            now(),
            IncludeObject::default(),
            "42",
            Some("tok"),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "42", "continue": "tok"})
        );
        assert_eq!(
            t["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0})
        );
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        let row = &t["rows"][0];
        assert_eq!(row["cells"].as_array().unwrap().len(), 9);
        assert!(row.get("conditions").is_none());
        assert_eq!(
            row["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": p["metadata"]})
        );

        let full = table(
            "Pod",
            std::slice::from_ref(&p),
            now(),
            IncludeObject::Object,
            "42",
            None,
        );
        assert_eq!(full["rows"][0]["object"], p);
        assert_eq!(full["metadata"], json!({"resourceVersion": "42"}));
        let bare = table(
            "Pod",
            std::slice::from_ref(&p),
            now(),
            IncludeObject::None,
            "42",
            None,
        );
        assert!(bare["rows"][0].get("object").is_none());
        let empty = table("ConfigMap", &[], now(), IncludeObject::Metadata, "7", None);
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["columnDefinitions"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn include_object_parses_query_values() {
        assert_eq!(IncludeObject::parse(""), Some(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
        assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
        assert_eq!(IncludeObject::parse("All"), None);
    }
}
