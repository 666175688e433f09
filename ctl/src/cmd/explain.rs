//! `miniktl explain`: what a kind and its fields mean — kubectl explain.
//!
//! kubectl reads field documentation from the server's OpenAPI schemas;
//! minik's API server publishes no schemas, and k8s-openapi's doc comments
//! do not exist at run time, so miniktl carries a compiled-in summary of
//! the fields students meet in the tutorials (pods, containers, probes,
//! deployments, services, config, ingress, autoscaling). Other kinds get
//! their description and top-level fields.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::resources;

/// Get documentation for a resource and its fields.
#[derive(clap::Args, Debug)]
pub struct Explain {
    /// KIND or KIND.FIELD.PATH (e.g. deployment.spec.strategy).
    pub target: String,
    /// Show every field below, not just one level.
    #[arg(long = "recursive")]
    pub recursive: bool,
}

/// One documented field: name, type shown, documentation, nested type.
type Field = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// A documented type: description and fields.
struct Type {
    name: &'static str,
    doc: &'static str,
    fields: &'static [Field],
}

const META: Field = (
    "metadata",
    "ObjectMeta",
    "Standard object's metadata: name, namespace, labels, annotations, ownerReferences, ...",
    Some("ObjectMeta"),
);
const API_VERSION: Field = (
    "apiVersion",
    "string",
    "The versioned schema of this object (e.g. v1, apps/v1).",
    None,
);
const KIND: Field = (
    "kind",
    "string",
    "The REST resource this object represents (e.g. Pod, Deployment).",
    None,
);

static TYPES: &[Type] = &[
    Type { name: "ObjectMeta", doc: "Metadata every persisted object has.", fields: &[
        ("name", "string", "Unique name within a namespace; required when creating.", None),
        ("generateName", "string", "Prefix the server completes with a random suffix when name is empty.", None),
        ("namespace", "string", "The namespace the object lives in (namespaced kinds only).", None),
        ("labels", "map[string]string", "Key/value pairs used to organize and select objects (selectors match on them).", None),
        ("annotations", "map[string]string", "Unstructured key/value data tools keep on the object.", None),
        ("ownerReferences", "[]OwnerReference", "Objects this one depends on; the garbage collector deletes it with its owner.", None),
        ("finalizers", "[]string", "Must be empty before the object is removed from storage.", None),
        ("uid", "string", "Unique id set by the server.", None),
        ("resourceVersion", "string", "Opaque version for optimistic concurrency and watches.", None),
        ("generation", "integer", "Sequence number of the desired state (spec) changes.", None),
        ("creationTimestamp", "string", "When the object was created (RFC 3339).", None),
        ("deletionTimestamp", "string", "When graceful deletion was requested.", None),
    ]},
    Type { name: "Pod", doc: "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.", fields: &[
        API_VERSION, KIND, META,
        ("spec", "PodSpec", "Specification of the desired behavior of the pod.", Some("PodSpec")),
        ("status", "PodStatus", "Most recently observed status of the pod (phase, conditions, IPs, container states).", None),
    ]},
    Type { name: "PodSpec", doc: "PodSpec is a description of a pod.", fields: &[
        ("containers", "[]Container", "List of containers belonging to the pod; at least one.", Some("Container")),
        ("initContainers", "[]Container", "Containers run to completion, in order, before the app containers start.", Some("Container")),
        ("restartPolicy", "string", "Always (default), OnFailure or Never: what the kubelet does when a container exits.", None),
        ("nodeName", "string", "The node the pod is bound to; set by the scheduler.", None),
        ("nodeSelector", "map[string]string", "Labels a node must have for the pod to be scheduled there.", None),
        ("volumes", "[]Volume", "Volumes the pod's containers can mount (emptyDir, configMap, secret, hostPath, ...).", None),
        ("serviceAccountName", "string", "The ServiceAccount the pod runs as.", None),
        ("terminationGracePeriodSeconds", "integer", "Seconds to let containers stop after SIGTERM before SIGKILL (default 30).", None),
        ("tolerations", "[]Toleration", "Taints the pod tolerates.", None),
        ("dnsPolicy", "string", "ClusterFirst (default) resolves cluster names through the cluster DNS.", None),
        ("hostname", "string", "The pod's hostname (default: its name).", None),
    ]},
    Type { name: "Container", doc: "A single application container that you want to run within a pod.", fields: &[
        ("name", "string", "Name of the container, unique within the pod (DNS label).", None),
        ("image", "string", "Container image name, e.g. minik/web:v1.", None),
        ("imagePullPolicy", "string", "Always, Never or IfNotPresent (default unless the tag is :latest).", None),
        ("command", "[]string", "Entrypoint array (replaces the image's ENTRYPOINT).", None),
        ("args", "[]string", "Arguments to the entrypoint (replace the image's CMD).", None),
        ("ports", "[]ContainerPort", "Ports the container listens on (informational; used by named targetPorts).", Some("ContainerPort")),
        ("env", "[]EnvVar", "Environment variables: value, or valueFrom a ConfigMap key, Secret key or field.", Some("EnvVar")),
        ("envFrom", "[]EnvFromSource", "Import every key of a ConfigMap or Secret as environment variables.", None),
        ("resources", "ResourceRequirements", "CPU and memory requests (for scheduling) and limits (enforced).", Some("ResourceRequirements")),
        ("livenessProbe", "Probe", "Restart the container when this check fails.", Some("Probe")),
        ("readinessProbe", "Probe", "Remove the pod from Service endpoints while this check fails.", Some("Probe")),
        ("startupProbe", "Probe", "Hold the other probes until the container has started.", Some("Probe")),
        ("volumeMounts", "[]VolumeMount", "Pod volumes to mount into the container's filesystem.", None),
        ("workingDir", "string", "The container's working directory.", None),
    ]},
    Type { name: "ContainerPort", doc: "A network port in a single container.", fields: &[
        ("containerPort", "integer", "Port number on the pod's IP.", None),
        ("name", "string", "Name a Service's targetPort can refer to.", None),
        ("protocol", "string", "TCP (default), UDP or SCTP.", None),
    ]},
    Type { name: "EnvVar", doc: "An environment variable present in a container.", fields: &[
        ("name", "string", "Name of the variable.", None),
        ("value", "string", "Literal value ($(VAR) references are expanded).", None),
        ("valueFrom", "EnvVarSource", "Source for the value: configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef.", None),
    ]},
    Type { name: "ResourceRequirements", doc: "Compute resource requirements.", fields: &[
        ("requests", "map[string]Quantity", "Minimum resources (cpu: 250m, memory: 64Mi); the scheduler places pods by these.", None),
        ("limits", "map[string]Quantity", "Maximum resources the container may use.", None),
    ]},
    Type { name: "Probe", doc: "A health check the kubelet runs against a container.", fields: &[
        ("httpGet", "HTTPGetAction", "GET path on port succeeds with a 2xx/3xx status.", None),
        ("tcpSocket", "TCPSocketAction", "A TCP connection to port succeeds.", None),
        ("exec", "ExecAction", "command run in the container exits 0.", None),
        ("initialDelaySeconds", "integer", "Seconds after start before the first check.", None),
        ("periodSeconds", "integer", "Seconds between checks (default 10).", None),
        ("timeoutSeconds", "integer", "Seconds before a check times out (default 1).", None),
        ("successThreshold", "integer", "Consecutive successes to count as healthy (default 1).", None),
        ("failureThreshold", "integer", "Consecutive failures to count as unhealthy (default 3).", None),
    ]},
    Type { name: "Deployment", doc: "Deployment enables declarative updates for Pods and ReplicaSets.", fields: &[
        API_VERSION, KIND, META,
        ("spec", "DeploymentSpec", "Specification of the desired behavior of the Deployment.", Some("DeploymentSpec")),
        ("status", "DeploymentStatus", "Most recently observed status: replicas, updated, ready, available, conditions.", None),
    ]},
    Type { name: "DeploymentSpec", doc: "The specification of the desired behavior of the Deployment.", fields: &[
        ("replicas", "integer", "Number of desired pods (default 1).", None),
        ("selector", "LabelSelector", "Label selector for pods; must match the template's labels.", Some("LabelSelector")),
        ("template", "PodTemplateSpec", "The pods to create.", Some("PodTemplateSpec")),
        ("strategy", "DeploymentStrategy", "How to replace old pods by new ones.", Some("DeploymentStrategy")),
        ("minReadySeconds", "integer", "Seconds a new pod must be ready to count as available.", None),
        ("revisionHistoryLimit", "integer", "Old ReplicaSets kept for rollback (default 10).", None),
        ("paused", "boolean", "A paused deployment makes no rollout progress.", None),
        ("progressDeadlineSeconds", "integer", "Seconds before a stuck rollout is reported as failed (default 600).", None),
    ]},
    Type { name: "DeploymentStrategy", doc: "How to replace existing pods with new ones.", fields: &[
        ("type", "string", "RollingUpdate (default) or Recreate.", None),
        ("rollingUpdate", "RollingUpdateDeployment", "maxUnavailable and maxSurge (numbers or percentages, default 25%).", None),
    ]},
    Type { name: "PodTemplateSpec", doc: "Describes the pods that will be created from a template.", fields: &[
        META,
        ("spec", "PodSpec", "Specification of the desired behavior of the pod.", Some("PodSpec")),
    ]},
    Type { name: "LabelSelector", doc: "A label query over a set of resources; the requirements are ANDed.", fields: &[
        ("matchLabels", "map[string]string", "Labels that must match exactly.", None),
        ("matchExpressions", "[]LabelSelectorRequirement", "key, operator (In, NotIn, Exists, DoesNotExist), values.", None),
    ]},
    Type { name: "ReplicaSet", doc: "ReplicaSet ensures that a specified number of pod replicas are running at any given time.", fields: &[
        API_VERSION, KIND, META,
        ("spec", "ReplicaSetSpec", "replicas, selector, template, minReadySeconds.", Some("DeploymentSpec")),
        ("status", "ReplicaSetStatus", "Most recently observed number of replicas.", None),
    ]},
    Type { name: "Service", doc: "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.", fields: &[
        API_VERSION, KIND, META,
        ("spec", "ServiceSpec", "The behavior of the service.", Some("ServiceSpec")),
        ("status", "ServiceStatus", "Most recently observed status (load balancer ingress).", None),
    ]},
    Type { name: "ServiceSpec", doc: "The attributes a user creates on a service.", fields: &[
        ("type", "string", "ClusterIP (default), NodePort, LoadBalancer or ExternalName.", None),
        ("selector", "map[string]string", "Pods with these labels receive the traffic.", None),
        ("ports", "[]ServicePort", "The ports the service exposes.", Some("ServicePort")),
        ("clusterIP", "string", "The virtual IP; allocated by the API server from the service range.", None),
        ("sessionAffinity", "string", "None (default) or ClientIP.", None),
    ]},
    Type { name: "ServicePort", doc: "A port the service exposes.", fields: &[
        ("port", "integer", "The port on the service's IP.", None),
        ("targetPort", "IntOrString", "Port number or name on the pods (default: port).", None),
        ("nodePort", "integer", "With NodePort/LoadBalancer: the port on every node (30000-32767).", None),
        ("name", "string", "Required when there are several ports.", None),
        ("protocol", "string", "TCP (default), UDP or SCTP.", None),
    ]},
    Type { name: "ConfigMap", doc: "ConfigMap holds configuration data for pods to consume.", fields: &[
        API_VERSION, KIND, META,
        ("data", "map[string]string", "Configuration data (keys: [-._a-zA-Z0-9]+).", None),
        ("binaryData", "map[string][]byte", "Binary data, base64-encoded.", None),
        ("immutable", "boolean", "If true, data cannot be changed.", None),
    ]},
    Type { name: "Secret", doc: "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.", fields: &[
        API_VERSION, KIND, META,
        ("data", "map[string][]byte", "Secret values, base64-encoded.", None),
        ("stringData", "map[string]string", "Write-only convenience: plain values merged into data.", None),
        ("type", "string", "Opaque (default), kubernetes.io/tls, kubernetes.io/dockerconfigjson, ...", None),
    ]},
    Type { name: "Ingress", doc: "Ingress is a collection of rules that allow inbound connections to reach the endpoints defined by a backend.", fields: &[
        API_VERSION, KIND, META,
        ("spec", "IngressSpec", "rules (host, http.paths with path, pathType, backend.service name/port), defaultBackend, ingressClassName, tls.", None),
        ("status", "IngressStatus", "Load balancer addresses.", None),
    ]},
    Type { name: "HorizontalPodAutoscaler", doc: "HorizontalPodAutoscaler is the configuration for a horizontal pod autoscaler, which automatically manages the replica count of any resource implementing the scale subresource based on the metrics specified.", fields: &[
        API_VERSION, KIND, META,
        ("spec", "HorizontalPodAutoscalerSpec", "scaleTargetRef, minReplicas, maxReplicas, metrics (e.g. cpu averageUtilization).", None),
        ("status", "HorizontalPodAutoscalerStatus", "Current and desired replicas, current metrics.", None),
    ]},
    Type { name: "Namespace", doc: "Namespace provides a scope for Names. Use of multiple namespaces is optional.", fields: &[
        API_VERSION, KIND, META,
        ("spec", "NamespaceSpec", "finalizers.", None),
        ("status", "NamespaceStatus", "phase: Active or Terminating.", None),
    ]},
    Type { name: "Node", doc: "Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).", fields: &[
        API_VERSION, KIND, META,
        ("spec", "NodeSpec", "podCIDR, taints, unschedulable.", None),
        ("status", "NodeStatus", "capacity, allocatable, conditions (Ready), addresses, nodeInfo.", None),
    ]},
];

fn find_type(name: &str) -> Option<&'static Type> {
    TYPES.iter().find(|t| t.name == name)
}

impl Explain {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let mut parts = self.target.split('.');
        let kind_name = parts.next().unwrap_or("");
        let info = resources::resolve(kind_name)?;
        let path: Vec<&str> = parts.collect();
        let mut out = String::new();
        if !info.group.is_empty() {
            out.push_str(&format!("GROUP:      {}\n", info.group));
        }
        out.push_str(&format!(
            "KIND:       {}\nVERSION:    {}\n\n",
            info.kind, info.version
        ));
        let mut ty = find_type(info.kind);
        let Some(root) = ty else {
            out.push_str(&format!(
                "DESCRIPTION:\n    {} ({}). miniktl has no field documentation compiled in for this kind.\n\nFIELDS:\n  apiVersion\t<string>\n  kind\t<string>\n  metadata\t<ObjectMeta>\n  spec\t<Object>\n  status\t<Object>\n",
                info.kind,
                info.api_version()
            ));
            if !path.is_empty() {
                return Err(Error::Usage(format!(
                    "field \"{}\" is not documented in miniktl for {}",
                    path.join("."),
                    info.kind
                )));
            }
            ctx.print(&out);
            return Ok(());
        };
        let mut field: Option<&Field> = None;
        ty = Some(root);
        for (i, p) in path.iter().enumerate() {
            let Some(t) = ty else {
                return Err(Error::Usage(format!(
                    "field \"{}\" has no documented subfields",
                    path[..i].join(".")
                )));
            };
            let f = t.fields.iter().find(|f| f.0 == *p).ok_or_else(|| {
                Error::Usage(format!(
                    "field \"{p}\" does not exist (known: {})",
                    t.fields.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                ))
            })?;
            field = Some(f);
            ty = f.3.and_then(find_type);
        }
        match field {
            Some(f) => {
                out.push_str(&format!(
                    "FIELD: {} <{}>\n\nDESCRIPTION:\n    {}\n",
                    f.0, f.1, f.2
                ));
                if let Some(t) = ty {
                    out.push_str(&format!("    {}\n", t.doc));
                }
            }
            None => out.push_str(&format!("DESCRIPTION:\n    {}\n", root.doc)),
        }
        if let Some(t) = ty {
            out.push_str("\nFIELDS:\n");
            write_fields(&mut out, t, 1, self.recursive, 0);
        }
        ctx.print(&out);
        Ok(())
    }
}

fn write_fields(out: &mut String, t: &Type, level: usize, recursive: bool, depth: usize) {
    let indent = "  ".repeat(level);
    for f in t.fields {
        if recursive {
            out.push_str(&format!("{indent}{}\t<{}>\n", f.0, f.1));
            if let Some(sub) = f.3.and_then(find_type).filter(|_| depth < 6) {
                write_fields(out, sub, level + 1, recursive, depth + 1);
            }
        } else {
            out.push_str(&format!(
                "{indent}{}\t<{}>\n{indent}  {}\n\n",
                f.0, f.1, f.2
            ));
        }
    }
}
