//! The resource catalogue: every kind minik serves, with its group, version,
//! plural, scope, short names, categories and subresources.
//!
//! This is minik's equivalent of the apiserver's scheme + RESTMapper. Code
//! that is the same for every kind (storage, REST handlers, discovery,
//! `miniktl get`) looks a kind up here instead of having a file per kind.

use crate::kinds::{
    apiextensions, apiregistration, apps, authentication, authorization, autoscaling, batch,
    certificates, coordination, core, discovery, metrics, networking, policy, rbac, storage,
    Strategy,
};

/// Everything the rest of minik needs to know about one served resource.
#[derive(Clone)]
pub struct ResourceInfo {
    /// API group; `""` is the core ("legacy") group served under `/api`.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Subresources served, e.g. `status`, `scale`, `binding`, `log`, `exec`.
    pub subresources: &'static [&'static str],
    /// Group whose storage this resource shares. Two versions of one kind
    /// (autoscaling/v1 and v2 HPAs) are one set of objects in Kubernetes;
    /// minik keys them by `storage_group/plural` so both see the same objects.
    pub storage_group: &'static str,
    /// The kind's rules: defaulting, validation, lifecycle, printing.
    pub strategy: &'static dyn Strategy,
}

impl std::fmt::Debug for ResourceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ResourceInfo({}/{}/{})",
            self.group, self.version, self.plural
        )
    }
}

/// Two infos are the same resource when they name the same group, version and plural.
impl PartialEq for ResourceInfo {
    fn eq(&self, other: &Self) -> bool {
        (self.group, self.version, self.plural) == (other.group, other.version, other.plural)
    }
}

impl Eq for ResourceInfo {}

impl ResourceInfo {
    /// A namespaced resource stored under its own group, with no short
    /// names, categories or subresources; the builders below add them.
    pub const fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
        singular: &'static str,
        strategy: &'static dyn Strategy,
    ) -> Self {
        ResourceInfo {
            group,
            version,
            kind,
            plural,
            singular,
            namespaced: true,
            short_names: &[],
            categories: &[],
            subresources: &[],
            storage_group: group,
            strategy,
        }
    }

    pub const fn cluster_scoped(mut self) -> Self {
        self.namespaced = false;
        self
    }

    pub const fn short_names(mut self, names: &'static [&'static str]) -> Self {
        self.short_names = names;
        self
    }

    pub const fn categories(mut self, categories: &'static [&'static str]) -> Self {
        self.categories = categories;
        self
    }

    pub const fn subresources(mut self, subresources: &'static [&'static str]) -> Self {
        self.subresources = subresources;
        self
    }

    /// The same objects served in another group-version (converted on the
    /// way in and out, see [`crate::convert`]); the storage stays this one's.
    pub const fn served_as(mut self, group: &'static str, version: &'static str) -> Self {
        self.group = group;
        self.version = version;
        self
    }

    /// Shares the storage of `group`'s resource of the same plural (see
    /// [`ResourceInfo::storage_group`]).
    pub const fn stored_with(mut self, group: &'static str) -> Self {
        self.storage_group = group;
        self
    }

    /// `v1` for the core group, else `group/version` (what `apiVersion` holds).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods`, `deployments.apps`: the name Kubernetes uses in messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Pod`, `Deployment.apps`: the name used in "is invalid" messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// URL prefix of the group-version: `/api/v1` or `/apis/apps/v1`.
    pub fn gv_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }

    /// Whether objects of this kind have a `spec` whose changes bump `metadata.generation`.
    pub fn has_spec(&self) -> bool {
        self.strategy.has_spec()
    }

    /// The storage key prefix for objects of this resource, ending in `/`:
    /// `/registry/apps/deployments/` (then `<namespace>/<name>`, or `<name>`).
    pub fn key_prefix(&self) -> String {
        let g = if self.storage_group.is_empty() {
            "core"
        } else {
            self.storage_group
        };
        format!("/registry/{g}/{}/", self.plural)
    }

    /// The full storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }
}

/// Every served resource, one line per kind file (a kind served in two
/// versions, such as the autoscaler, has one line per version), in
/// discovery order.
static CATALOGUE: &[ResourceInfo] = &[
    // core/v1
    core::namespace::RESOURCE,
    core::node::RESOURCE,
    core::pod::RESOURCE,
    core::service::RESOURCE,
    core::endpoints::RESOURCE,
    core::replication_controller::RESOURCE,
    core::config_map::RESOURCE,
    core::secret::RESOURCE,
    core::event::RESOURCE,
    core::service_account::RESOURCE,
    core::persistent_volume::RESOURCE,
    core::persistent_volume_claim::RESOURCE,
    core::resource_quota::RESOURCE,
    core::limit_range::RESOURCE,
    core::component_status::RESOURCE,
    // apps/v1
    apps::deployment::RESOURCE,
    apps::replica_set::RESOURCE,
    apps::stateful_set::RESOURCE,
    apps::daemon_set::RESOURCE,
    apps::controller_revision::RESOURCE,
    // batch/v1
    batch::job::RESOURCE,
    batch::cron_job::RESOURCE,
    // networking.k8s.io/v1
    networking::ingress::RESOURCE,
    networking::ingress_class::RESOURCE,
    networking::network_policy::RESOURCE,
    // autoscaling: v2 is the storage version, v1 is served from the same objects.
    autoscaling::horizontal_pod_autoscaler::V2,
    autoscaling::horizontal_pod_autoscaler::V1,
    // policy/v1
    policy::pod_disruption_budget::RESOURCE,
    // storage.k8s.io/v1
    storage::storage_class::RESOURCE,
    // authentication.k8s.io/v1 and authorization.k8s.io/v1: reviews, never stored.
    authentication::self_subject_review::RESOURCE,
    authorization::self_subject_access_review::RESOURCE,
    authorization::self_subject_rules_review::RESOURCE,
    authorization::subject_access_review::RESOURCE,
    authorization::local_subject_access_review::RESOURCE,
    // rbac.authorization.k8s.io/v1
    rbac::role::RESOURCE,
    rbac::cluster_role::RESOURCE,
    rbac::role_binding::RESOURCE,
    rbac::cluster_role_binding::RESOURCE,
    // certificates.k8s.io/v1
    certificates::certificate_signing_request::RESOURCE,
    // coordination.k8s.io/v1
    coordination::lease::RESOURCE,
    // discovery.k8s.io/v1
    discovery::endpoint_slice::RESOURCE,
    // apiextensions.k8s.io/v1: the kinds it defines are served from
    // `custom_resource`, not listed here.
    apiextensions::custom_resource_definition::RESOURCE,
    // apiregistration.k8s.io/v1: every served group-version, Local.
    apiregistration::api_service::RESOURCE,
    // metrics.k8s.io/v1beta1: usage scraped from the kubelets, never stored.
    metrics::node_metrics::RESOURCE,
    metrics::pod_metrics::RESOURCE,
    // events.k8s.io/v1: the same objects as core/v1 Events, in a newer shape.
    core::event::EVENTS_K8S_IO,
];

/// Every served resource, in discovery order (groups in the order above).
pub fn all() -> &'static [ResourceInfo] {
    CATALOGUE
}

/// The resource served at `group/version/plural`, if any.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    CATALOGUE
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource whose form objects are stored in: the first-listed version
/// of `storage_group/plural` (core/v1 for events.k8s.io Events, autoscaling/v2
/// for autoscaling/v1 HPAs, the resource itself for everything else).
pub fn storage_info(info: &'static ResourceInfo) -> &'static ResourceInfo {
    if let Some(storage) = info.strategy.storage_info() {
        return storage;
    }
    CATALOGUE
        .iter()
        .find(|r| r.group == info.storage_group && r.plural == info.plural)
        .unwrap_or(info)
}

/// The resource for an object's `apiVersion` and `kind`.
pub fn by_api_version_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    let (group, version) = split_api_version(api_version);
    CATALOGUE
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// The first-listed resource of `kind` in `group` (its storage version).
pub fn by_group_kind(group: &str, kind: &str) -> Option<&'static ResourceInfo> {
    CATALOGUE
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

/// Resolves what a user typed (`po`, `pods`, `pod`, `deploy`, `deployments.apps`,
/// `Deployment`) to a resource, preferring the first-listed version of a group.
pub fn resolve(name: &str) -> Option<&'static ResourceInfo> {
    resolve_among(CATALOGUE.iter(), name)
}

/// [`resolve`] among other resources (the ones CRDs add, for clients).
pub fn resolve_among<'a>(
    resources: impl IntoIterator<Item = &'a ResourceInfo>,
    name: &str,
) -> Option<&'a ResourceInfo> {
    let lower = name.to_ascii_lowercase();
    let (base, group) = match lower.split_once('.') {
        Some((b, g)) => (b.to_string(), Some(g.to_string())),
        None => (lower.clone(), None),
    };
    resources.into_iter().find(|r| {
        let name_matches = r.plural == base
            || r.singular == base
            || r.kind.eq_ignore_ascii_case(&base)
            || r.short_names.contains(&base.as_str());
        let group_matches = match &group {
            Some(g) => r.group == g || (g == "core" && r.group.is_empty()),
            // Without a group, core events win over events.k8s.io, as in kubectl.
            None => true,
        };
        name_matches && group_matches
    })
}

/// Kinds served, as `Kind (group/version)` strings for "unknown kind" messages.
pub fn served_kinds() -> Vec<String> {
    CATALOGUE
        .iter()
        .map(|r| format!("{} ({})", r.kind, r.api_version()))
        .collect()
}

/// All distinct group-versions, core first, in catalogue order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in CATALOGUE {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// Splits `apps/v1` into `("apps", "v1")` and `v1` into `("", "v1")`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_short_and_qualified_names() {
        assert_eq!(resolve("po").unwrap().kind, "Pod");
        assert_eq!(resolve("deploy").unwrap().kind, "Deployment");
        assert_eq!(resolve("deployments.apps").unwrap().group, "apps");
        assert_eq!(resolve("ev").unwrap().group, "");
        assert_eq!(
            resolve("events.events.k8s.io").unwrap().group,
            "events.k8s.io"
        );
        assert!(resolve("frobs").is_none());
    }

    #[test]
    fn keys_follow_registry_layout() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        assert_eq!(
            d.key(Some("default"), "web"),
            "/registry/apps/deployments/default/web"
        );
        let n = lookup("", "v1", "nodes").unwrap();
        assert_eq!(n.key(None, "node-1"), "/registry/core/nodes/node-1");
        let h1 = lookup("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let h2 = lookup("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        assert_eq!(h1.key_prefix(), h2.key_prefix());
        assert_eq!(storage_info(h1).version, "v2");
        let ev = lookup("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(storage_info(ev).group, "");
        assert_eq!(ev.key_prefix(), "/registry/core/events/");
    }
}
