//! A container's security context as kubelet applies it to the runtime:
//! the pod's `securityContext` under the container's own (`runAsUser`,
//! `runAsGroup`, `runAsNonRoot`, `seccompProfile`; the container's wins,
//! `DetermineEffectiveSecurityContext`), the pod's groups (`fsGroup`,
//! `supplementalGroups`), and the container's `capabilities`,
//! `allowPrivilegeEscalation`, `privileged` and `readOnlyRootFilesystem`;
//! and the `runAsNonRoot` check against the image's user
//! (`verifyRunAsNonRoot`), which keeps a container that would run as root
//! from being created.
//!
//! Seccomp follows kubelet's default: a container without a profile runs
//! `Unconfined` (kubelet's `--seccomp-default` is off), `RuntimeDefault` is
//! Docker's default profile, `Localhost` loads the JSON profile from
//! `<root>/seccomp/<localhostProfile>` (kubelet's `/var/lib/kubelet/seccomp`).
//! Sysctls: the safe ones are set on the pod's sandbox, whose network and
//! IPC namespaces the containers share; a pod asking for any other is
//! rejected as kubelet's sysctl admission rejects it (`SysctlForbidden`).
//!
//! Where minik simplifies: SELinux options, AppArmor profiles, `procMount`,
//! `supplementalGroupsPolicy: Strict` and user namespaces (`hostUsers:
//! false`) are left to Docker's defaults (a `NotSupported` Event says so
//! when set); capabilities are passed as written (Docker takes `NET_ADMIN`
//! and `CAP_NET_ADMIN` alike, where containerd prefixes `CAP_` itself).

use std::path::Path;

use k8s_openapi::api::core::v1::{
    Container, PodSecurityContext, PodSpec, SeccompProfile, SecurityContext,
};

/// What the runtime is told about one container's security.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Docker's `User`: `uid`, or `uid:gid` (`user:gid` keeps the image's
    /// user when only `runAsGroup` is set).
    pub user: Option<String>,
    /// Supplementary groups: `fsGroup` and `supplementalGroups`.
    pub group_add: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `no-new-privileges`, `seccomp=…`.
    pub security_opt: Vec<String>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
}

/// The container's settings over the pod's, as kubelet merges them.
struct Effective {
    run_as_user: Option<i64>,
    run_as_group: Option<i64>,
    run_as_non_root: Option<bool>,
    seccomp: Option<SeccompProfile>,
}

fn effective(pod: Option<&PodSecurityContext>, c: Option<&SecurityContext>) -> Effective {
    Effective {
        run_as_user: c
            .and_then(|c| c.run_as_user)
            .or_else(|| pod.and_then(|p| p.run_as_user)),
        run_as_group: c
            .and_then(|c| c.run_as_group)
            .or_else(|| pod.and_then(|p| p.run_as_group)),
        run_as_non_root: c
            .and_then(|c| c.run_as_non_root)
            .or_else(|| pod.and_then(|p| p.run_as_non_root)),
        seccomp: c
            .and_then(|c| c.seccomp_profile.clone())
            .or_else(|| pod.and_then(|p| p.seccomp_profile.clone())),
    }
}

/// The runtime settings for container `c` of a pod with `pod_sc`; `image_user`
/// is the image's configured user (`USER`), `root` the kubelet's root
/// directory (for Localhost seccomp profiles). Err: a message for
/// `CreateContainerConfigError`.
pub fn apply(
    pod_sc: Option<&PodSecurityContext>,
    c: &Container,
    image_user: Option<&str>,
    root: &Path,
) -> Result<Applied, String> {
    let sc = c.security_context.as_ref();
    let eff = effective(pod_sc, sc);
    let user = match (eff.run_as_user, eff.run_as_group) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.to_string()),
        (None, Some(g)) => {
            let image = image_user.unwrap_or("").split(':').next().unwrap_or("");
            let image = if image.is_empty() { "0" } else { image };
            Some(format!("{image}:{g}"))
        }
        (None, None) => None,
    };
    // The primary group too, as containerd adds it: the docs' `id` shows
    // `groups=2000,3000,4000` for fsGroup 2000, runAsGroup 3000 and
    // supplementalGroups [4000].
    let mut groups: Vec<i64> = eff.run_as_group.into_iter().collect();
    if let Some(p) = pod_sc {
        groups.extend(p.fs_group);
        groups.extend(p.supplemental_groups.iter().flatten());
    }
    groups.sort_unstable();
    groups.dedup();
    let group_add = groups.iter().map(i64::to_string).collect();
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let cap_add = caps.and_then(|c| c.add.clone()).unwrap_or_default();
    let cap_drop = caps.and_then(|c| c.drop.clone()).unwrap_or_default();
    let mut security_opt = Vec::new();
    if sc.and_then(|s| s.allow_privilege_escalation) == Some(false) {
        security_opt.push("no-new-privileges".to_string());
    }
    let privileged = sc.and_then(|s| s.privileged) == Some(true);
    // A privileged container runs unconfined whatever its profile says.
    if !privileged {
        match eff.seccomp.as_ref().map(|p| p.type_.as_str()) {
            Some("RuntimeDefault") => {}
            Some("Localhost") => {
                let name = eff
                    .seccomp
                    .as_ref()
                    .and_then(|p| p.localhost_profile.clone())
                    .unwrap_or_default();
                let path = root.join("seccomp").join(&name);
                let profile = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "failed to load seccomp profile {:?}: {e}",
                        path.display().to_string()
                    )
                })?;
                security_opt.push(format!("seccomp={profile}"));
            }
            _ => security_opt.push("seccomp=unconfined".to_string()),
        }
    }
    Ok(Applied {
        user,
        group_add,
        cap_add,
        cap_drop,
        security_opt,
        privileged,
        readonly_rootfs: sc.and_then(|s| s.read_only_root_filesystem) == Some(true),
    })
}

/// Whether [`apply`] or [`verify_run_as_non_root`] need the image's user:
/// only a group without a user, or runAsNonRoot without a user, does.
pub fn needs_image_user(pod_sc: Option<&PodSecurityContext>, c: &Container) -> bool {
    let eff = effective(pod_sc, c.security_context.as_ref());
    eff.run_as_user.is_none() && (eff.run_as_group.is_some() || eff.run_as_non_root == Some(true))
}

/// kubelet's `verifyRunAsNonRoot`: with `runAsNonRoot`, the container must
/// not run as uid 0 — by its `runAsUser`, or else by the image's user (none
/// means root; a name cannot be checked). `image_user` None: the runtime
/// cannot tell (the simulated one), so nothing is checked. `pod` is
/// kubelet's `format.Pod`: `name_namespace(uid)`.
pub fn verify_run_as_non_root(
    pod_sc: Option<&PodSecurityContext>,
    c: &Container,
    image_user: Option<&str>,
    pod: &str,
) -> Result<(), String> {
    let eff = effective(pod_sc, c.security_context.as_ref());
    if eff.run_as_non_root != Some(true) {
        return Ok(());
    }
    let name = &c.name;
    if let Some(uid) = eff.run_as_user {
        return match uid {
            0 => Err(format!(
                "container's runAsUser breaks non-root policy (pod: {pod:?}, container: {name})"
            )),
            _ => Ok(()),
        };
    }
    let Some(image_user) = image_user else {
        return Ok(());
    };
    let user = image_user.split(':').next().unwrap_or("");
    match user.parse::<i64>() {
        // No user is root.
        Ok(0) | Err(_) if user.is_empty() || user == "0" => Err(format!(
            "container has runAsNonRoot and image will run as root (pod: {pod:?}, container: {name})"
        )),
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root (pod: {pod:?}, container: {name})"
        )),
    }
}

/// The pod's sysctls, for its sandbox (their namespaces are the pod's).
pub fn sysctls(spec: &PodSpec) -> Vec<(String, String)> {
    spec.security_context
        .iter()
        .flat_map(|s| s.sysctls.iter().flatten())
        .map(|s| {
            (
                minik_api::pod_security::sysctl_with_dots(&s.name),
                s.value.clone(),
            )
        })
        .collect()
}

/// kubelet's sysctl admission (`patternAllowlist.Admit`, with the safe
/// list and no `--allowed-unsafe-sysctls`): the message a pod is rejected
/// with, if one of its sysctls is not allowed.
pub fn forbidden_sysctl(spec: &PodSpec) -> Option<String> {
    use minik_api::pod_security::{sysctl_namespace, SysctlNamespace, SAFE_SYSCTLS};
    for (name, _) in sysctls(spec) {
        let namespace = sysctl_namespace(&name);
        let error = if !SAFE_SYSCTLS.contains(&name.as_str()) {
            format!("{name:?} not allowlisted")
        } else if namespace == Some(SysctlNamespace::Net) && spec.host_network == Some(true) {
            format!("{name:?} not allowed with host net enabled")
        } else if namespace == Some(SysctlNamespace::Ipc) && spec.host_ipc == Some(true) {
            format!("{name:?} not allowed with host ipc enabled")
        } else {
            continue;
        };
        return Some(format!("forbidden sysctl: {error}"));
    }
    None
}

/// What the container's or pod's security context asks that minik leaves
/// to Docker's defaults, for a `NotSupported` Event.
pub fn unsupported(pod_sc: Option<&PodSecurityContext>, c: &Container) -> Vec<String> {
    let mut notes = Vec::new();
    let sc = c.security_context.as_ref();
    if sc.and_then(|s| s.se_linux_options.as_ref()).is_some()
        || pod_sc.and_then(|s| s.se_linux_options.as_ref()).is_some()
    {
        notes.push(format!(
            "container {}: seLinuxOptions are not applied by minik",
            c.name
        ));
    }
    if sc.and_then(|s| s.app_armor_profile.as_ref()).is_some()
        || pod_sc.and_then(|s| s.app_armor_profile.as_ref()).is_some()
    {
        notes.push(format!(
            "container {}: appArmorProfile is not applied by minik (Docker's default profile applies)",
            c.name
        ));
    }
    if pod_sc.and_then(|s| s.supplemental_groups_policy.as_deref()) == Some("Strict") {
        notes.push(format!(
            "container {}: supplementalGroupsPolicy Strict is not supported by minik: the groups of the image's /etc/group are added too",
            c.name
        ));
    }
    if sc
        .and_then(|s| s.proc_mount.as_deref())
        .is_some_and(|m| m != "Default")
    {
        notes.push(format!(
            "container {}: procMount Unmasked is not supported by minik",
            c.name
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(sc: serde_json::Value) -> Container {
        serde_json::from_value(json!({"name": "app", "securityContext": sc})).unwrap()
    }

    fn pod_sc(sc: serde_json::Value) -> PodSecurityContext {
        serde_json::from_value(sc).unwrap()
    }

    #[test]
    fn the_container_overrides_the_pod_and_groups_come_from_the_pod() {
        let pod = pod_sc(
            json!({"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
            "supplementalGroups": [4000, 2000], "seccompProfile": {"type": "RuntimeDefault"}}),
        );
        let c = container(json!({"runAsUser": 1001, "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            "readOnlyRootFilesystem": true}));
        let applied = apply(Some(&pod), &c, Some(""), Path::new("/x")).unwrap();
        assert_eq!(applied.user.as_deref(), Some("1001:3000"));
        assert_eq!(applied.group_add, ["2000", "3000", "4000"]);
        assert_eq!(applied.cap_drop, ["ALL"]);
        assert_eq!(applied.cap_add, ["NET_BIND_SERVICE"]);
        assert_eq!(applied.security_opt, ["no-new-privileges"]);
        assert!(applied.readonly_rootfs);
    }

    #[test]
    fn without_a_profile_seccomp_is_unconfined_and_a_group_alone_keeps_the_image_user() {
        let c = container(json!({"runAsGroup": 5}));
        let applied = apply(None, &c, Some("nobody"), Path::new("/x")).unwrap();
        assert_eq!(applied.user.as_deref(), Some("nobody:5"));
        assert_eq!(applied.security_opt, ["seccomp=unconfined"]);
        let missing = container(
            json!({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}),
        );
        let err = apply(None, &missing, None, Path::new("/nonexistent")).unwrap_err();
        assert!(
            err.starts_with("failed to load seccomp profile \"/nonexistent/seccomp/p.json\""),
            "{err}"
        );
    }

    #[test]
    fn only_safe_sysctls_are_admitted_in_kubelets_words() {
        let spec = |sysctls: serde_json::Value, host_network: bool| -> PodSpec {
            serde_json::from_value(json!({"containers": [], "hostNetwork": host_network,
                "securityContext": {"sysctls": sysctls}}))
            .unwrap()
        };
        let safe = spec(
            json!([{"name": "net/ipv4/tcp_syncookies", "value": "0"}, {"name": "kernel.shm_rmid_forced", "value": "1"}]),
            false,
        );
        assert_eq!(forbidden_sysctl(&safe), None);
        assert_eq!(
            sysctls(&safe),
            [
                ("net.ipv4.tcp_syncookies".to_string(), "0".to_string()),
                ("kernel.shm_rmid_forced".to_string(), "1".to_string())
            ]
        );
        let unsafe_one = spec(
            json!([{"name": "net.core.somaxconn", "value": "1024"}]),
            false,
        );
        assert_eq!(
            forbidden_sysctl(&unsafe_one).unwrap(),
            "forbidden sysctl: \"net.core.somaxconn\" not allowlisted"
        );
        let on_host = spec(
            json!([{"name": "net.ipv4.tcp_syncookies", "value": "0"}]),
            true,
        );
        assert_eq!(
            forbidden_sysctl(&on_host).unwrap(),
            "forbidden sysctl: \"net.ipv4.tcp_syncookies\" not allowed with host net enabled"
        );
    }

    #[test]
    fn run_as_non_root_is_checked_in_kubelets_words() {
        let pod = "web_default(u1)";
        let non_root = pod_sc(json!({"runAsNonRoot": true}));
        let plain = container(json!({}));
        assert_eq!(
            verify_run_as_non_root(Some(&non_root), &plain, Some(""), pod).unwrap_err(),
            "container has runAsNonRoot and image will run as root (pod: \"web_default(u1)\", container: app)"
        );
        assert!(verify_run_as_non_root(Some(&non_root), &plain, Some("0:0"), pod).is_err());
        assert!(verify_run_as_non_root(Some(&non_root), &plain, Some("1000"), pod).is_ok());
        assert_eq!(
            verify_run_as_non_root(Some(&non_root), &plain, Some("nobody"), pod).unwrap_err(),
            "container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root (pod: \"web_default(u1)\", container: app)"
        );
        let root = container(json!({"runAsUser": 0}));
        assert_eq!(
            verify_run_as_non_root(Some(&non_root), &root, Some("1000"), pod).unwrap_err(),
            "container's runAsUser breaks non-root policy (pod: \"web_default(u1)\", container: app)"
        );
        let user = container(json!({"runAsUser": 1000}));
        assert!(verify_run_as_non_root(Some(&non_root), &user, Some(""), pod).is_ok());
        // The container may allow root where the pod does not.
        let allowed = container(json!({"runAsNonRoot": false}));
        assert!(verify_run_as_non_root(Some(&non_root), &allowed, Some(""), pod).is_ok());
        // A runtime that cannot tell checks nothing.
        assert!(verify_run_as_non_root(Some(&non_root), &plain, None, pod).is_ok());
    }
}
