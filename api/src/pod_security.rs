//! The Pod Security Standards, as Kubernetes' built-in PodSecurity
//! admission evaluates them (`k8s.io/pod-security-admission/policy`): a
//! namespace's `pod-security.kubernetes.io/<mode>` labels pick a level —
//! `privileged` (anything), `baseline` (no known privilege escalations:
//! host namespaces, privileged containers, extra capabilities, hostPath
//! volumes, host ports) or `restricted` (hardened: no privilege
//! escalation, capabilities dropped, non-root, a seccomp profile, only
//! ephemeral and API-backed volume types) — and each check says what it
//! forbids in the upstream words (`runAsNonRoot != true (pod or container
//! "web" must set securityContext.runAsNonRoot=true)`).
//!
//! The checks run in Kubernetes' order: the baseline checks, then at
//! `baseline` the ones the restricted level replaces (capabilities,
//! hostPath volumes, seccomp), or at `restricted` the restricted checks.
//! The baseline level covers AppArmor (annotations and
//! `appArmorProfile`), `procMount`, SELinux options and sysctls too; the
//! Windows and probe/lifecycle host checks are not evaluated (minik runs
//! no Windows nodes), and every version label means "latest".
//!
//! The safe sysctls ([`SAFE_SYSCTLS`]) and sysctl names with dots
//! ([`sysctl_with_dots`]) are also the API server's validation's and the
//! kubelet's admission's.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, PodSpec};

/// A Pod Security Standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// What a namespace's labels ask for, mode by mode (`None`: unset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespacePolicy {
    pub enforce: Option<(Level, String)>,
    pub warn: Option<(Level, String)>,
    pub audit: Option<(Level, String)>,
}

/// Reads `pod-security.kubernetes.io/{enforce,warn,audit}[-version]`. A
/// level that does not parse is `restricted`, as in Kubernetes (fail closed).
pub fn namespace_policy(labels: &std::collections::BTreeMap<String, String>) -> NamespacePolicy {
    let mode = |m: &str| {
        let level = labels.get(&format!("pod-security.kubernetes.io/{m}"))?;
        let level = match level.as_str() {
            "privileged" => Level::Privileged,
            "baseline" => Level::Baseline,
            _ => Level::Restricted,
        };
        let version = labels
            .get(&format!("pod-security.kubernetes.io/{m}-version"))
            .cloned()
            .unwrap_or_else(|| "latest".into());
        Some((level, version))
    };
    NamespacePolicy {
        enforce: mode("enforce"),
        warn: mode("warn"),
        audit: mode("audit"),
    }
}

/// `"a", "b"`.
fn join_quote(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn pluralize<'a>(one: &'a str, many: &'a str, n: usize) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `pluralize("container", …) joinQuote(names)`.
fn containers(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Init containers, then containers (`visitContainers`).
fn all(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
}

/// One failed check: `(reason, detail)`.
type Failure = (String, String);

fn names(spec: &PodSpec, bad: impl Fn(&Container) -> bool) -> Vec<String> {
    all(spec)
        .filter(|c| bad(c))
        .map(|c| c.name.clone())
        .collect()
}

fn host_namespaces(spec: &PodSpec) -> Option<Failure> {
    let mut used = Vec::new();
    for (on, name) in [
        (spec.host_ipc, "hostIPC"),
        (spec.host_network, "hostNetwork"),
        (spec.host_pid, "hostPID"),
    ] {
        if on == Some(true) {
            used.push(name);
        }
    }
    (!used.is_empty()).then(|| ("host namespaces".into(), used.join(", ")))
}

fn host_ports(spec: &PodSpec) -> Option<Failure> {
    let bad = names(spec, |c| {
        c.ports
            .iter()
            .flatten()
            .any(|p| p.host_port.is_some_and(|p| p != 0))
    });
    let ports: Vec<String> = all(spec)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| p.host_port.filter(|p| *p != 0))
        .map(|p| p.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "hostPort".into(),
            format!(
                "{} {} {} {}",
                containers(&bad),
                pluralize("uses", "use", bad.len()),
                pluralize("hostPort", "hostPorts", ports.len()),
                ports.join(", ")
            ),
        )
    })
}

fn privileged(spec: &PodSpec) -> Option<Failure> {
    let bad = names(spec, |c| {
        c.security_context
            .as_ref()
            .and_then(|s| s.privileged)
            .unwrap_or(false)
    });
    (!bad.is_empty()).then(|| {
        (
            "privileged".into(),
            format!(
                "{} must not set securityContext.privileged=true",
                containers(&bad)
            ),
        )
    })
}

const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn added(c: &Container) -> Vec<String> {
    c.security_context
        .as_ref()
        .and_then(|s| s.capabilities.as_ref())
        .and_then(|c| c.add.clone())
        .unwrap_or_default()
}

fn capabilities_baseline(spec: &PodSpec) -> Option<Failure> {
    let extra = |c: &Container| -> Vec<String> {
        added(c)
            .into_iter()
            .filter(|cap| !BASELINE_CAPABILITIES.contains(&cap.as_str()))
            .collect()
    };
    let bad = names(spec, |c| !extra(c).is_empty());
    let caps: Vec<String> = all(spec)
        .flat_map(extra)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "non-default capabilities".into(),
            format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers(&bad),
                join_quote(&caps)
            ),
        )
    })
}

fn host_path_volumes(spec: &PodSpec) -> Option<Failure> {
    let volumes: Vec<String> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.host_path.is_some())
        .map(|v| v.name.clone())
        .collect();
    (!volumes.is_empty()).then(|| {
        (
            "hostPath volumes".into(),
            format!(
                "{} {}",
                pluralize("volume", "volumes", volumes.len()),
                join_quote(&volumes)
            ),
        )
    })
}

fn allow_privilege_escalation(spec: &PodSpec) -> Option<Failure> {
    let bad = names(spec, |c| {
        c.security_context
            .as_ref()
            .and_then(|s| s.allow_privilege_escalation)
            != Some(false)
    });
    (!bad.is_empty()).then(|| {
        (
            "allowPrivilegeEscalation != false".into(),
            format!(
                "{} must set securityContext.allowPrivilegeEscalation=false",
                containers(&bad)
            ),
        )
    })
}

fn capabilities_restricted(spec: &PodSpec) -> Option<Failure> {
    let caps = |c: &Container| {
        c.security_context
            .as_ref()
            .and_then(|s| s.capabilities.clone())
    };
    let missing_drop = names(spec, |c| {
        !caps(c)
            .and_then(|caps| caps.drop)
            .unwrap_or_default()
            .iter()
            .any(|d| d == "ALL")
    });
    let forbidden = |c: &Container| -> Vec<String> {
        added(c)
            .into_iter()
            .filter(|cap| cap != "NET_BIND_SERVICE")
            .collect()
    };
    let adding = names(spec, |c| !forbidden(c).is_empty());
    let added: Vec<String> = all(spec)
        .flat_map(forbidden)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers(&adding),
            join_quote(&added)
        ));
    }
    (!details.is_empty()).then(|| ("unrestricted capabilities".into(), details.join("; ")))
}

fn restricted_volumes(spec: &PodSpec) -> Option<Failure> {
    let restricted: BTreeSet<String> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| {
            v.config_map.is_none()
                && v.csi.is_none()
                && v.downward_api.is_none()
                && v.empty_dir.is_none()
                && v.ephemeral.is_none()
                && v.persistent_volume_claim.is_none()
                && v.projected.is_none()
                && v.secret.is_none()
        })
        .map(|v| v.name.clone())
        .collect();
    (!restricted.is_empty()).then(|| {
        let list: Vec<String> = restricted.iter().map(|v| format!("{v:?}")).collect();
        (
            "restricted volume types".into(),
            format!("volumes [{}] have restricted types", list.join(" ")),
        )
    })
}

/// The shape shared by runAsNonRoot and seccompProfile: the pod or each
/// container sets the field well, badly, or not at all.
fn pod_or_containers<T>(
    spec: &PodSpec,
    pod: Option<T>,
    container: impl Fn(&Container) -> Option<T>,
    good: impl Fn(&T) -> bool,
) -> (Vec<String>, Vec<String>, bool) {
    let mut bad_setters = Vec::new();
    let pod_good = match &pod {
        Some(v) if good(v) => true,
        Some(_) => {
            bad_setters.push("pod".to_string());
            false
        }
        None => false,
    };
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in all(spec) {
        match container(c) {
            Some(v) if !good(&v) => explicit.push(c.name.clone()),
            Some(_) => {}
            None if !pod_good => implicit.push(c.name.clone()),
            None => {}
        }
    }
    if !explicit.is_empty() {
        bad_setters.push(containers(&explicit));
    }
    (bad_setters, implicit, pod_good)
}

fn run_as_non_root(spec: &PodSpec) -> Option<Failure> {
    let pod = spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_non_root);
    let (bad, implicit, _) = pod_or_containers(
        spec,
        pod,
        |c| c.security_context.as_ref().and_then(|s| s.run_as_non_root),
        |v| *v,
    );
    let reason = "runAsNonRoot != true".to_string();
    if !bad.is_empty() {
        return Some((
            reason,
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                bad.join(" and ")
            ),
        ));
    }
    (!implicit.is_empty()).then(|| {
        (
            reason,
            format!(
                "pod or {} must set securityContext.runAsNonRoot=true",
                containers(&implicit)
            ),
        )
    })
}

fn run_as_user(spec: &PodSpec) -> Option<Failure> {
    let mut bad = Vec::new();
    if spec.security_context.as_ref().and_then(|s| s.run_as_user) == Some(0) {
        bad.push("pod".to_string());
    }
    let zero = names(spec, |c| {
        c.security_context.as_ref().and_then(|s| s.run_as_user) == Some(0)
    });
    if !zero.is_empty() {
        bad.push(containers(&zero));
    }
    (!bad.is_empty()).then(|| {
        (
            "runAsUser=0".into(),
            format!("{} must not set runAsUser=0", bad.join(" and ")),
        )
    })
}

fn seccomp_profile_restricted(spec: &PodSpec) -> Option<Failure> {
    let valid = |t: &String| t == "RuntimeDefault" || t == "Localhost";
    let pod = spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
        .map(|p| p.type_.clone());
    let profile = |c: &Container| {
        c.security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref())
            .map(|p| p.type_.clone())
    };
    let (bad, implicit, _) = pod_or_containers(spec, pod.clone(), profile, valid);
    if !bad.is_empty() {
        let values: Vec<String> = pod
            .into_iter()
            .chain(all(spec).filter_map(profile))
            .filter(|t| !valid(t))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        return Some((
            "seccompProfile".into(),
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                bad.join(" and "),
                join_quote(&values)
            ),
        ));
    }
    (!implicit.is_empty()).then(|| {
        (
            "seccompProfile".into(),
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers(&implicit)
            ),
        )
    })
}

/// The AppArmor annotation prefix (one per container).
use crate::kinds::core::pod_apparmor::ANNOTATION_PREFIX as APPARMOR_ANNOTATION;

/// `who` for pod-or-container checks: `pod`, `containers "a", "b"`, or both.
fn setters(pod: bool, names: &[String]) -> String {
    let mut who = Vec::new();
    if pod {
        who.push("pod".to_string());
    }
    if !names.is_empty() {
        who.push(containers(names));
    }
    who.join(" and ")
}

/// `appArmorProfile`: no unconfined profile, by annotation or field.
fn app_armor(annotations: &BTreeMap<String, String>, spec: &PodSpec) -> Option<Failure> {
    let allowed = |p: &str| p.is_empty() || p == "runtime/default" || p.starts_with("localhost/");
    let mut bad: Vec<String> = annotations
        .iter()
        .filter(|(k, v)| k.starts_with(APPARMOR_ANNOTATION) && !allowed(v))
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    bad.sort();
    let unconfined = |p: Option<&k8s_openapi::api::core::v1::AppArmorProfile>| {
        p.is_some_and(|p| p.type_ == "Unconfined")
    };
    let pod = unconfined(
        spec.security_context
            .as_ref()
            .and_then(|s| s.app_armor_profile.as_ref()),
    );
    let names = names(spec, |c| {
        unconfined(
            c.security_context
                .as_ref()
                .and_then(|s| s.app_armor_profile.as_ref()),
        )
    });
    if pod || !names.is_empty() {
        bad.push(format!(
            "{} must not set securityContext.appArmorProfile.type to \"Unconfined\"",
            setters(pod, &names)
        ));
    }
    (!bad.is_empty()).then(|| {
        (
            pluralize(
                "forbidden AppArmor profile",
                "forbidden AppArmor profiles",
                bad.len(),
            )
            .into(),
            bad.join(", "),
        )
    })
}

/// `procMount`: only the default, unless the pod has its own user namespace.
fn proc_mount(spec: &PodSpec) -> Option<Failure> {
    if spec.host_users == Some(false) {
        return None;
    }
    let bad = names(spec, |c| {
        c.security_context
            .as_ref()
            .and_then(|s| s.proc_mount.as_deref())
            .is_some_and(|m| m != "Default")
    });
    let values: BTreeSet<String> = all(spec)
        .filter_map(|c| c.security_context.as_ref()?.proc_mount.clone())
        .filter(|m| m != "Default")
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "procMount".into(),
            format!(
                "{} must not set securityContext.procMount to {}",
                containers(&bad),
                join_quote(&values.into_iter().collect::<Vec<_>>())
            ),
        )
    })
}

/// `seccompProfile_baseline`: never `Unconfined`.
fn seccomp_profile_baseline(spec: &PodSpec) -> Option<Failure> {
    let unconfined = |p: Option<&k8s_openapi::api::core::v1::SeccompProfile>| {
        p.is_some_and(|p| p.type_ != "RuntimeDefault" && p.type_ != "Localhost")
    };
    let pod_profile = spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref());
    let pod = unconfined(pod_profile);
    let bad = names(spec, |c| {
        unconfined(
            c.security_context
                .as_ref()
                .and_then(|s| s.seccomp_profile.as_ref()),
        )
    });
    let values: BTreeSet<String> = pod_profile
        .into_iter()
        .chain(all(spec).filter_map(|c| c.security_context.as_ref()?.seccomp_profile.as_ref()))
        .filter(|p| unconfined(Some(p)))
        .map(|p| p.type_.clone())
        .collect();
    (pod || !bad.is_empty()).then(|| {
        (
            "seccompProfile".into(),
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters(pod, &bad),
                join_quote(&values.into_iter().collect::<Vec<_>>())
            ),
        )
    })
}

/// `seLinuxOptions`: only the container types; no user or role.
fn se_linux_options(spec: &PodSpec) -> Option<Failure> {
    const TYPES: [&str; 5] = [
        "",
        "container_t",
        "container_init_t",
        "container_kvm_t",
        "container_engine_t",
    ];
    let mut bad_types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut valid = |o: Option<&k8s_openapi::api::core::v1::SELinuxOptions>| {
        let Some(o) = o else { return true };
        let mut ok = true;
        let ty = o.type_.clone().unwrap_or_default();
        if !TYPES.contains(&ty.as_str()) {
            bad_types.insert(ty);
            ok = false;
        }
        if o.user.as_deref().is_some_and(|u| !u.is_empty()) {
            set_user = true;
            ok = false;
        }
        if o.role.as_deref().is_some_and(|r| !r.is_empty()) {
            set_role = true;
            ok = false;
        }
        ok
    };
    let pod = !valid(
        spec.security_context
            .as_ref()
            .and_then(|s| s.se_linux_options.as_ref()),
    );
    let mut bad = Vec::new();
    for c in all(spec) {
        if !valid(
            c.security_context
                .as_ref()
                .and_then(|s| s.se_linux_options.as_ref()),
        ) {
            bad.push(c.name.clone());
        }
    }
    if !pod && bad.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        let types: Vec<String> = bad_types.into_iter().collect();
        data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if set_user {
        data.push("user may not be set".into());
    }
    if set_role {
        data.push("role may not be set".into());
    }
    Some((
        "seLinuxOptions".into(),
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters(pod, &bad),
            data.join("; ")
        ),
    ))
}

/// The sysctls Kubernetes calls safe (namespaced, isolated from other
/// pods): all the baseline level allows, and all a kubelet admits without
/// `--allowed-unsafe-sysctls`.
pub const SAFE_SYSCTLS: [&str; 12] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// A sysctl's name with dots (`ConvertSysctlVariableToDotsSeparator`): one
/// given with slashes (`net/ipv4/tcp_syncookies`) has its slashes and dots
/// swapped, a dot in a slashed name being part of a key.
pub fn sysctl_with_dots(name: &str) -> String {
    match name.find(['.', '/']) {
        Some(i) if name.as_bytes()[i] == b'/' => name
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => name.to_string(),
    }
}

/// The kernel namespace a sysctl (named with dots) belongs to, as
/// `utilsysctl.GetNamespace` says: the API server refuses a pod's IPC or
/// network sysctl beside hostIPC or hostNetwork, and the kubelet's
/// admission does the same for the safe ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysctlNamespace {
    Ipc,
    Net,
}

/// See [`SysctlNamespace`]; `None` for a sysctl in neither namespace.
pub fn sysctl_namespace(dotted: &str) -> Option<SysctlNamespace> {
    let ipc = ["kernel.shm", "kernel.msg", "fs.mqueue."]
        .iter()
        .any(|prefix| dotted.starts_with(prefix))
        || dotted == "kernel.sem";
    if ipc {
        Some(SysctlNamespace::Ipc)
    } else if dotted.starts_with("net.") {
        Some(SysctlNamespace::Net)
    } else {
        None
    }
}

/// `sysctls`: only the safe, namespaced ones.
fn sysctls(spec: &PodSpec) -> Option<Failure> {
    let bad: Vec<String> = spec
        .security_context
        .iter()
        .flat_map(|s| s.sysctls.iter().flatten())
        .filter(|s| !SAFE_SYSCTLS.contains(&s.name.as_str()))
        .map(|s| s.name.clone())
        .collect();
    (!bad.is_empty()).then(|| ("forbidden sysctls".into(), bad.join(", ")))
}

/// Every check a pod with these annotations and `spec` fails at `level`,
/// in Kubernetes' order.
pub fn evaluate(
    level: Level,
    annotations: &BTreeMap<String, String>,
    spec: &PodSpec,
) -> Vec<Failure> {
    type Check = fn(&PodSpec) -> Option<Failure>;
    let app_armor_failure = if level == Level::Privileged {
        None
    } else {
        app_armor(annotations, spec)
    };
    let baseline: [Check; 6] = [
        host_namespaces,
        host_ports,
        privileged,
        proc_mount,
        se_linux_options,
        sysctls,
    ];
    let replaced_by_restricted: [Check; 3] = [
        capabilities_baseline,
        host_path_volumes,
        seccomp_profile_baseline,
    ];
    let restricted: [Check; 6] = [
        allow_privilege_escalation,
        capabilities_restricted,
        restricted_volumes,
        run_as_non_root,
        run_as_user,
        seccomp_profile_restricted,
    ];
    let checks: Vec<Check> = match level {
        Level::Privileged => Vec::new(),
        Level::Baseline => baseline.into_iter().chain(replaced_by_restricted).collect(),
        Level::Restricted => baseline.into_iter().chain(restricted).collect(),
    };
    // appArmorProfile's ID sorts first among the baseline checks.
    app_armor_failure
        .into_iter()
        .chain(checks.into_iter().filter_map(|check| check(spec)))
        .collect()
}

/// `AggregateCheckResult.ForbiddenDetail`: `reason (detail), …`.
pub fn forbidden_detail(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(|(reason, detail)| {
            if detail.is_empty() {
                reason.clone()
            } else {
                format!("{reason} ({detail})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_plain_pod_passes_baseline_and_fails_restricted_in_kubernetes_words() {
        let plain = spec(json!({"containers": [{"name": "web", "image": "nginx"}]}));
        assert!(evaluate(Level::Baseline, &BTreeMap::new(), &plain).is_empty());
        assert_eq!(
            forbidden_detail(&evaluate(Level::Restricted, &BTreeMap::new(), &plain)),
            "allowPrivilegeEscalation != false (container \"web\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"web\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"web\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"web\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        );
        let hardened = spec(json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "web", "image": "nginx", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}],
            "volumes": [{"name": "cache", "emptyDir": {}}]
        }));
        assert!(evaluate(Level::Restricted, &BTreeMap::new(), &hardened).is_empty());
    }

    #[test]
    fn host_access_fails_baseline() {
        let root = spec(json!({
            "hostPID": true, "hostNetwork": true,
            "containers": [{"name": "sh", "image": "busybox",
                "securityContext": {"privileged": true, "capabilities": {"add": ["SYS_ADMIN", "CHOWN"]}},
                "ports": [{"containerPort": 80, "hostPort": 8080}]}],
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}]
        }));
        assert_eq!(
            forbidden_detail(&evaluate(Level::Baseline, &BTreeMap::new(), &root)),
            "host namespaces (hostNetwork, hostPID), hostPort (container \"sh\" uses hostPort 8080), privileged (container \"sh\" must not set securityContext.privileged=true), non-default capabilities (container \"sh\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add), hostPath volumes (volume \"root\")"
        );
        let restricted = forbidden_detail(&evaluate(Level::Restricted, &BTreeMap::new(), &root));
        assert!(
            restricted
                .contains("restricted volume types (volumes [\"root\"] have restricted types)"),
            "{restricted}"
        );
        assert!(!restricted.contains("hostPath volumes"), "{restricted}");
    }

    #[test]
    fn baseline_covers_apparmor_proc_mount_seccomp_selinux_and_sysctls() {
        let pod = spec(json!({
            "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_syncookies", "value": "1"}],
                                "seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "web", "image": "nginx", "securityContext": {
                "procMount": "Unmasked",
                "appArmorProfile": {"type": "Unconfined"},
                "seLinuxOptions": {"type": "spc_t", "user": "root"}}}]
        }));
        let annotations = BTreeMap::from([(
            format!("{APPARMOR_ANNOTATION}web"),
            "unconfined".to_string(),
        )]);
        assert_eq!(
            forbidden_detail(&evaluate(Level::Baseline, &annotations, &pod)),
            "forbidden AppArmor profiles (container.apparmor.security.beta.kubernetes.io/web=\"unconfined\", container \"web\" must not set securityContext.appArmorProfile.type to \"Unconfined\"), \
             procMount (container \"web\" must not set securityContext.procMount to \"Unmasked\"), \
             seLinuxOptions (container \"web\" set forbidden securityContext.seLinuxOptions: type \"spc_t\"; user may not be set), \
             forbidden sysctls (kernel.msgmax), \
             seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")"
        );
        // The user-namespace relaxation of procMount.
        let mut own_users = pod.clone();
        own_users.host_users = Some(false);
        assert!(
            !forbidden_detail(&evaluate(Level::Baseline, &BTreeMap::new(), &own_users))
                .contains("procMount")
        );
    }
}
