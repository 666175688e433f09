//! The warnings kube-apiserver gives for a pod that is valid but probably
//! not what its writer meant (`GetWarningsForPod`, pkg/api/pod/warnings.go):
//! deprecated node labels and annotations, a null label selector that
//! matches nothing, duplicate host aliases and pull secrets, fractional
//! byte quantities, an environment variable that hides an earlier one,
//! clashing container ports, a negative grace period. kubectl prints each
//! as `Warning: …`. Given when a pod is created, judged on the pod about
//! to be stored (defaulted, admitted, valid), as kube-apiserver gives them
//! (`WarningsOnCreate`; a pod's update earns none), and for a workload's
//! pod template when the workload is created (`GetWarningsForPodTemplate`,
//! with the template's AppArmor annotation). Where minik simplifies: a
//! template's update earns none (kube-apiserver warns when the template
//! changes); and there are none for the paths a projected volume
//! shares with its service-account token, an ephemeral volume's claim
//! template, or a pod name that is not a DNS label.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1::{Container, ContainerPort, NodeSelectorTerm, PodSpec};
use serde_json::Value;

use crate::quantity::Quantity;

/// Node labels Kubernetes deprecated, and what to use instead
/// (`deprecatedNodeLabels`, pkg/api/node/util.go).
const DEPRECATED_NODE_LABELS: &[(&str, &str)] = &[
    (
        "beta.kubernetes.io/arch",
        r#"deprecated since v1.14; use "kubernetes.io/arch" instead"#,
    ),
    (
        "beta.kubernetes.io/os",
        r#"deprecated since v1.14; use "kubernetes.io/os" instead"#,
    ),
    (
        "failure-domain.beta.kubernetes.io/region",
        r#"deprecated since v1.17; use "topology.kubernetes.io/region" instead"#,
    ),
    (
        "failure-domain.beta.kubernetes.io/zone",
        r#"deprecated since v1.17; use "topology.kubernetes.io/zone" instead"#,
    ),
    (
        "beta.kubernetes.io/instance-type",
        r#"deprecated since v1.17; use "node.kubernetes.io/instance-type" instead"#,
    ),
    ("app.kubernetes.io/created-by", "deprecated since v1.9"),
    (
        "scheduler.alpha.kubernetes.io/preferAvoidPods",
        "deprecated since v1.22; use Taints and Tolerations instead",
    ),
    (
        "node-role.kubernetes.io/master",
        r#"use "node-role.kubernetes.io/control-plane" instead"#,
    ),
];

/// Pod annotations that no longer do anything.
const DEPRECATED_ANNOTATIONS: &[(&str, &str)] = &[
    (
        "scheduler.alpha.kubernetes.io/critical-pod",
        r#"non-functional in v1.16+; use the "priorityClassName" field instead"#,
    ),
    (
        "security.alpha.kubernetes.io/sysctls",
        r#"non-functional in v1.11+; use the "sysctls" field instead"#,
    ),
    (
        "security.alpha.kubernetes.io/unsafe-sysctls",
        r#"non-functional in v1.11+; use the "sysctls" field instead"#,
    ),
];

/// Volume plugins, in the order kube-apiserver checks them: the JSON
/// field, the name the warning prints (Go's field name), the message.
const DEPRECATED_VOLUMES: &[(&str, &str, &str)] = &[
    (
        "photonPersistentDisk",
        "photonPersistentDisk",
        "deprecated in v1.11, non-functional in v1.16+",
    ),
    ("gitRepo", "gitRepo", "deprecated in v1.11"),
    (
        "scaleIO",
        "scaleIO",
        "deprecated in v1.16, non-functional in v1.22+",
    ),
    (
        "flocker",
        "flocker",
        "deprecated in v1.22, non-functional in v1.25+",
    ),
    (
        "storageos",
        "storageOS",
        "deprecated in v1.22, non-functional in v1.25+",
    ),
    (
        "quobyte",
        "quobyte",
        "deprecated in v1.22, non-functional in v1.25+",
    ),
    (
        "glusterfs",
        "glusterfs",
        "deprecated in v1.25, non-functional in v1.26+",
    ),
    (
        "cephfs",
        "cephfs",
        "deprecated in v1.28, non-functional in v1.31+",
    ),
    (
        "rbd",
        "rbd",
        "deprecated in v1.28, non-functional in v1.31+",
    ),
];

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION: &str = "container.seccomp.security.alpha.kubernetes.io/";
const SECCOMP_NON_FUNCTIONAL: &str =
    r#"non-functional in v1.27+; use the "seccompProfile" field instead"#;

fn deprecated_node_label(key: &str) -> Option<&'static str> {
    DEPRECATED_NODE_LABELS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, msg)| *msg)
}

fn node_selector_term(term: &NodeSelectorTerm, path: &str, out: &mut Vec<String>) {
    for (i, e) in term.match_expressions.iter().flatten().enumerate() {
        if let Some(msg) = deprecated_node_label(&e.key) {
            out.push(format!(
                "{path}.matchExpressions[{i}].key: {} is {msg}",
                e.key
            ));
        }
    }
}

/// The pod's warnings, in kube-apiserver's order and words.
pub fn warnings(pod: &Value) -> Vec<String> {
    warnings_at(pod, "")
}

/// A workload's pod template's warnings (`GetWarningsForPodTemplate`),
/// `template` found at `path` (`spec.template`).
pub fn template_warnings(template: &Value, path: &str) -> Vec<String> {
    if template.is_null() {
        return Vec::new();
    }
    warnings_at(template, &format!("{path}."))
}

/// The warnings of a pod, or of a template at `at` (`spec.template.`).
fn warnings_at(pod: &Value, at: &str) -> Vec<String> {
    let Ok(spec) = serde_json::from_value::<PodSpec>(pod["spec"].clone()) else {
        return Vec::new(); // validation will say what is wrong
    };
    let annotations: BTreeMap<String, String> =
        serde_json::from_value(pod["metadata"]["annotations"].clone()).unwrap_or_default();
    let mut out = Vec::new();

    for k in spec.node_selector.iter().flat_map(BTreeMap::keys) {
        if let Some(msg) = deprecated_node_label(k) {
            out.push(format!("{at}spec.nodeSelector[{k}]: {msg}"));
        }
    }
    if let Some(node) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
    {
        let required = node
            .required_during_scheduling_ignored_during_execution
            .as_ref();
        for (i, term) in required
            .into_iter()
            .flat_map(|r| &r.node_selector_terms)
            .enumerate()
        {
            let path = format!("{at}spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]");
            node_selector_term(term, &path, &mut out);
        }
        let preferred = node
            .preferred_during_scheduling_ignored_during_execution
            .iter();
        for (i, term) in preferred.flatten().enumerate() {
            let path = format!(
                "{at}spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{i}].preference"
            );
            node_selector_term(&term.preference, &path, &mut out);
        }
    }
    for (i, t) in spec
        .topology_spread_constraints
        .iter()
        .flatten()
        .enumerate()
    {
        let path = format!("{at}spec.topologySpreadConstraints[{i}]");
        if let Some(msg) = deprecated_node_label(&t.topology_key) {
            out.push(format!("{path}.topologyKey: {} is {msg}", t.topology_key));
        }
        if t.label_selector.is_none() {
            out.push(format!(
                "{path}.labelSelector: a null labelSelector results in matching no pod"
            ));
        }
    }

    for (key, msg) in DEPRECATED_ANNOTATIONS {
        if annotations.contains_key(*key) {
            out.push(format!("{at}metadata.annotations[{key}]: {msg}"));
        }
    }

    // Volume plugins deprecated or removed (their fields still decode).
    let volumes = pod["spec"]["volumes"].as_array().into_iter().flatten();
    for (i, v) in volumes.enumerate() {
        for (plugin, printed, msg) in DEPRECATED_VOLUMES {
            if v.get(*plugin).is_some_and(|p| !p.is_null()) {
                out.push(format!("{at}spec.volumes[{i}].{printed}: {msg}"));
            }
        }
    }

    let mut hosts = HashSet::new();
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        if !hosts.insert(alias.ip.as_str()) {
            out.push(format!(
                "{at}spec.hostAliases[{i}].ip: duplicate ip {:?}",
                alias.ip
            ));
        }
    }
    let secrets = spec.image_pull_secrets.as_deref().unwrap_or_default();
    let mut names = HashSet::new();
    for (i, s) in secrets.iter().enumerate() {
        if !names.insert(s.name.as_str()) {
            out.push(format!(
                "{at}spec.imagePullSecrets[{i}].name: duplicate name {:?}",
                s.name
            ));
        }
    }
    for (i, s) in secrets.iter().enumerate() {
        if s.name.is_empty() {
            out.push(format!(
                "{at}spec.imagePullSecrets[{i}].name: invalid empty name \"\""
            ));
        }
    }
    for resource in ["memory", "ephemeral-storage"] {
        if let Some(text) = fractional(
            spec.overhead
                .as_ref()
                .and_then(|o| o.get(resource))
                .map(|q| &q.0),
        ) {
            out.push(format!(
                "{at}spec.overhead[{resource}]: fractional byte value {text:?} is invalid, must be an integer"
            ));
        }
    }

    let pod_seccomp = spec
        .security_context
        .as_ref()
        .is_some_and(|s| s.seccomp_profile.is_some());
    if !pod_seccomp && annotations.contains_key(SECCOMP_POD_ANNOTATION) {
        out.push(format!(
            "{at}metadata.annotations[{SECCOMP_POD_ANNOTATION}]: {SECCOMP_NON_FUNCTIONAL}"
        ));
    }
    let pod_apparmor = spec
        .security_context
        .as_ref()
        .is_some_and(|s| s.app_armor_profile.is_some());
    for (path, c) in containers(&spec, at) {
        let container_seccomp = c
            .security_context
            .as_ref()
            .is_some_and(|s| s.seccomp_profile.is_some());
        let key = format!("{SECCOMP_CONTAINER_ANNOTATION}{}", c.name);
        if !container_seccomp && annotations.contains_key(&key) {
            out.push(format!(
                "{at}metadata.annotations[{key}]: {SECCOMP_NON_FUNCTIONAL}"
            ));
        }
        // A template keeps its AppArmor annotation (a pod's is copied into
        // the field on create, and warned about then).
        let own_apparmor = c
            .security_context
            .as_ref()
            .is_some_and(|s| s.app_armor_profile.is_some());
        let key = format!("{}{}", super::pod_apparmor::ANNOTATION_PREFIX, c.name);
        if !at.is_empty() && !pod_apparmor && !own_apparmor && annotations.contains_key(&key) {
            out.push(super::pod_apparmor::deprecated(at, &key));
        }
        let resources = c.resources.as_ref();
        for resource in ["memory", "ephemeral-storage"] {
            for (kind, list) in [
                ("limits", resources.and_then(|r| r.limits.as_ref())),
                ("requests", resources.and_then(|r| r.requests.as_ref())),
            ] {
                if let Some(text) = fractional(list.and_then(|l| l.get(resource)).map(|q| &q.0)) {
                    out.push(format!(
                        "{path}.resources.{kind}[{resource}]: fractional byte value {text:?} is invalid, must be an integer"
                    ));
                }
            }
        }
        env_warnings(c, &path, &mut out);
    }
    port_warnings(&spec, at, &mut out);

    if spec.termination_grace_period_seconds.is_some_and(|s| s < 0) {
        out.push(format!(
            "{at}spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1"
        ));
    }
    if let Some(affinity) = &spec.affinity {
        for (name, terms) in [
            (
                "podAffinity",
                affinity.pod_affinity.as_ref().map(|a| {
                    (
                        &a.required_during_scheduling_ignored_during_execution,
                        &a.preferred_during_scheduling_ignored_during_execution,
                    )
                }),
            ),
            (
                "podAntiAffinity",
                affinity.pod_anti_affinity.as_ref().map(|a| {
                    (
                        &a.required_during_scheduling_ignored_during_execution,
                        &a.preferred_during_scheduling_ignored_during_execution,
                    )
                }),
            ),
        ] {
            let Some((required, preferred)) = terms else {
                continue;
            };
            for (i, t) in required.iter().flatten().enumerate() {
                if t.label_selector.is_none() {
                    out.push(format!("{at}spec.affinity.{name}.requiredDuringSchedulingIgnoredDuringExecution[{i}].labelSelector: a null labelSelector results in matching no pod"));
                }
            }
            for (i, t) in preferred.iter().flatten().enumerate() {
                if t.pod_affinity_term.label_selector.is_none() {
                    out.push(format!("{at}spec.affinity.{name}.preferredDuringSchedulingIgnoredDuringExecution[{i}].podAffinityTerm.labelSelector: a null labelSelector results in matching no pod"));
                }
            }
        }
    }
    out
}

/// Every container with its path, in `VisitContainersWithPath`'s order
/// (ephemeral containers, added later through their own subresource, are
/// left out).
fn containers<'a>(spec: &'a PodSpec, at: &str) -> Vec<(String, &'a Container)> {
    let init = spec.init_containers.iter().flatten();
    let init = init
        .enumerate()
        .map(|(i, c)| (format!("{at}spec.initContainers[{i}]"), c));
    let app = spec.containers.iter().enumerate();
    let app = app.map(|(i, c)| (format!("{at}spec.containers[{i}]"), c));
    init.chain(app).collect()
}

/// A byte quantity with a fraction of a byte, canonically written.
fn fractional(text: Option<&String>) -> Option<String> {
    let q = Quantity::parse(text?).ok()?;
    (q.millis() % 1000 != 0).then(|| q.to_string())
}

/// `containers[*].env`: a name given again, unless the later value builds
/// on the earlier (`X=$(X)suffix`), hides the first — and apply may drop it.
fn env_warnings(c: &Container, path: &str, out: &mut Vec<String>) {
    let env = c.env.as_deref().unwrap_or_default();
    if env.len() < 2 {
        return;
    }
    let mut seen = HashSet::new();
    for (i, e) in env.iter().enumerate() {
        if seen.insert(e.name.as_str()) {
            continue;
        }
        let reference = format!("$({})", e.name);
        let value = e.value.as_deref().unwrap_or("");
        if e.value_from.is_some() || value == reference || !value.contains(&reference) {
            out.push(format!(
                "{path}.env[{i}]: hides previous definition of {:?}, which may be dropped when using apply",
                e.name
            ));
        }
    }
}

/// Ports across containers: a hostIP without a hostPort, and the same
/// container port and protocol given twice in ways that clash.
fn port_warnings(spec: &PodSpec, at: &str, out: &mut Vec<String>) {
    let mut all: HashMap<String, Vec<(String, &ContainerPort)>> = HashMap::new();
    for (path, c) in containers(spec, at) {
        for (i, port) in c.ports.iter().flatten().enumerate() {
            let here = format!("{path}.ports[{i}]");
            let host_ip = port.host_ip.as_deref().unwrap_or("");
            let host_port = port.host_port.unwrap_or(0);
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            if !host_ip.is_empty() && host_port == 0 {
                out.push(format!(
                    "{here}: hostIP set without hostPort: {{Name:{} HostPort:0 ContainerPort:{} Protocol:{protocol} HostIP:{host_ip}}}",
                    port.name.as_deref().unwrap_or(""),
                    port.container_port,
                ));
            }
            let key = format!("{}/{protocol}", port.container_port);
            let others = all.entry(key).or_default();
            for (other_path, other) in others.iter() {
                let other_ip = other.host_ip.as_deref().unwrap_or("");
                let other_port = other.host_port.unwrap_or(0);
                if host_ip == other_ip && host_port == other_port {
                    out.push(format!(
                        "{here}: duplicate port definition with {other_path}"
                    ));
                } else if host_port == 0 || other_port == 0 {
                    out.push(format!(
                        "{here}: overlapping port definition with {other_path}"
                    ));
                } else if host_port == other_port && (host_ip.is_empty() != other_ip.is_empty()) {
                    out.push(format!(
                        "{here}: dangerously ambiguous port definition with {other_path}"
                    ));
                }
            }
            others.push((here, port));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_warning_in_kube_apiservers_words() {
        let pod = json!({
            "metadata": {"name": "p", "annotations": {
                "scheduler.alpha.kubernetes.io/critical-pod": "",
                "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
                "container.seccomp.security.alpha.kubernetes.io/app": "runtime/default",
            }},
            "spec": {
                "nodeSelector": {"beta.kubernetes.io/os": "linux"},
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "failure-domain.beta.kubernetes.io/zone", "operator": "Exists"}]}]}},
                    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}
                },
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "beta.kubernetes.io/arch", "whenUnsatisfiable": "DoNotSchedule"}],
                "hostAliases": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}],
                "imagePullSecrets": [{"name": "reg"}, {"name": "reg"}, {"name": ""}],
                "terminationGracePeriodSeconds": -5,
                "volumes": [{"name": "src", "gitRepo": {"repository": "https://example.invalid/r.git"}}],
                "containers": [
                    {"name": "app", "image": "x",
                     "resources": {"requests": {"memory": "1500m"}},
                     "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "$(A)2"}, {"name": "A", "value": "3"}],
                     "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81, "hostIP": "10.0.0.2", "protocol": "TCP"}]},
                    {"name": "side", "image": "x",
                     "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]}
                ]
            }
        });
        assert_eq!(
            warnings(&pod),
            [
                r#"spec.nodeSelector[beta.kubernetes.io/os]: deprecated since v1.14; use "kubernetes.io/os" instead"#,
                r#"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key: failure-domain.beta.kubernetes.io/zone is deprecated since v1.17; use "topology.kubernetes.io/zone" instead"#,
                r#"spec.topologySpreadConstraints[0].topologyKey: beta.kubernetes.io/arch is deprecated since v1.14; use "kubernetes.io/arch" instead"#,
                "spec.topologySpreadConstraints[0].labelSelector: a null labelSelector results in matching no pod",
                r#"metadata.annotations[scheduler.alpha.kubernetes.io/critical-pod]: non-functional in v1.16+; use the "priorityClassName" field instead"#,
                "spec.volumes[0].gitRepo: deprecated in v1.11",
                r#"spec.hostAliases[1].ip: duplicate ip "10.0.0.1""#,
                r#"spec.imagePullSecrets[1].name: duplicate name "reg""#,
                r#"spec.imagePullSecrets[2].name: invalid empty name """#,
                r#"metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: non-functional in v1.27+; use the "seccompProfile" field instead"#,
                r#"metadata.annotations[container.seccomp.security.alpha.kubernetes.io/app]: non-functional in v1.27+; use the "seccompProfile" field instead"#,
                r#"spec.containers[0].resources.requests[memory]: fractional byte value "1500m" is invalid, must be an integer"#,
                r#"spec.containers[0].env[2]: hides previous definition of "A", which may be dropped when using apply"#,
                "spec.containers[0].ports[1]: hostIP set without hostPort: {Name: HostPort:0 ContainerPort:81 Protocol:TCP HostIP:10.0.0.2}",
                "spec.containers[1].ports[0]: duplicate port definition with spec.containers[0].ports[0]",
                "spec.containers[1].ports[1]: overlapping port definition with spec.containers[0].ports[0]",
                "spec.containers[1].ports[1]: overlapping port definition with spec.containers[1].ports[0]",
                "spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1",
                "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector: a null labelSelector results in matching no pod",
            ]
        );
    }

    #[test]
    fn the_pod_is_judged_defaulted_and_only_on_create() {
        use crate::kinds::Strategy;
        // A host-network pod's ports get hostPort = containerPort by
        // default: no "hostIP set without hostPort". A memory limit is the
        // request too: both are fractional.
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true, "containers": [
            {"name": "c", "image": "x",
             "ports": [{"containerPort": 8080, "hostIP": "127.0.0.1"}],
             "resources": {"limits": {"memory": "1500m"}}}]}});
        // What the API server's create does before it asks.
        crate::defaults::apply(&crate::kinds::core::pod::RESOURCE, &mut pod);
        let pod_kind = crate::kinds::core::pod::Pod;
        assert_eq!(
            pod_kind.warnings_on_create(&pod),
            [
                r#"spec.containers[0].resources.limits[memory]: fractional byte value "1500m" is invalid, must be an integer"#,
                r#"spec.containers[0].resources.requests[memory]: fractional byte value "1500m" is invalid, must be an integer"#,
            ]
        );
        assert!(pod_kind.warnings(&pod).is_empty());
    }

    #[test]
    fn a_template_is_warned_at_its_path_and_keeps_its_apparmor_annotation() {
        use crate::kinds::Strategy;
        let deployment = json!({"metadata": {"name": "d"}, "spec": {"template": {
            "metadata": {"annotations": {
                "container.apparmor.security.beta.kubernetes.io/a": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/b": "runtime/default"}},
            "spec": {"nodeSelector": {"beta.kubernetes.io/os": "linux"}, "containers": [
                {"name": "a", "image": "x", "resources": {"limits": {"memory": "1500m"}}},
                {"name": "b", "image": "x", "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}]}}}});
        assert_eq!(
            crate::kinds::apps::deployment::Deployment.warnings_on_create(&deployment),
            [
                r#"spec.template.spec.nodeSelector[beta.kubernetes.io/os]: deprecated since v1.14; use "kubernetes.io/os" instead"#,
                r#"spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/a]: deprecated since v1.30; use the "appArmorProfile" field instead"#,
                r#"spec.template.spec.containers[0].resources.limits[memory]: fractional byte value "1500m" is invalid, must be an integer"#,
            ]
        );
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "nodeSelector": {"beta.kubernetes.io/arch": "amd64"}, "containers": [{"name": "c", "image": "x"}]}}}}}});
        assert_eq!(
            crate::kinds::batch::cron_job::CronJob.warnings_on_create(&cron),
            [
                r#"spec.jobTemplate.spec.template.spec.nodeSelector[beta.kubernetes.io/arch]: deprecated since v1.14; use "kubernetes.io/arch" instead"#
            ]
        );
    }

    #[test]
    fn a_plain_pod_has_none() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c", "image": "x", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80, "protocol": "UDP"}],
             "resources": {"requests": {"memory": "64Mi"}}}]}});
        assert!(warnings(&pod).is_empty(), "{:?}", warnings(&pod));
    }
}
