//! A container's environment, built as kubelet's `makeEnvironmentVariables`
//! builds it: `envFrom` sources first (ConfigMaps and Secrets, with their
//! prefix), then `env` entries in order (plain values with `$(VAR)`
//! expansion, `configMapKeyRef`/`secretKeyRef` honouring `optional`,
//! `fieldRef`, `resourceFieldRef`); later definitions win.
//!
//! A missing ConfigMap, Secret or key that is not optional is the
//! CreateContainerConfigError the pod then shows, with kubelet's message.
//! The same field and resource lookups serve downwardAPI volumes.
//!
//! Service variables (`service_env.rs`) come last, for the names the
//! container did not set, and `$(VAR)` can refer to them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceFieldSelector};
use minik_api::quantity::Quantity;

use crate::cache::ObjectCache;
use crate::Error;

/// Why a container's configuration cannot be built.
#[derive(Debug)]
pub enum ConfigError {
    /// Shown as the container's CreateContainerConfigError message.
    Invalid(String),
    /// Reading the API failed; try again.
    Api(Error),
}

impl From<Error> for ConfigError {
    fn from(e: Error) -> Self {
        ConfigError::Api(e)
    }
}

/// What fieldRef and resourceFieldRef can refer to beyond the pod itself.
pub struct PodFacts<'a> {
    pub pod: &'a Pod,
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    /// Node allocatable, used for limits a container does not set.
    pub node_cpu_millis: i64,
    pub node_memory_bytes: i64,
}

/// The environment of `container`, in order, later names overriding earlier ones.
pub async fn container_env(
    cache: &ObjectCache,
    facts: &PodFacts<'_>,
    container: &Container,
) -> Result<Vec<(String, String)>, ConfigError> {
    let ns = facts.pod.metadata.namespace.as_deref().unwrap_or("default");
    let links = facts
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let services = cache.services();
    let service_env = crate::service_env::service_env(services.iter().map(|s| &**s), ns, links);
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, name: String, value: String| match env
        .iter_mut()
        .find(|(n, _)| *n == name)
    {
        Some(slot) => slot.1 = value,
        None => env.push((name, value)),
    };

    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(r) = &source.config_map_ref {
            match cache.config_map(ns, &r.name).await? {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        if valid_env_name(&format!("{prefix}{k}")) {
                            set(&mut env, format!("{prefix}{k}"), v.clone());
                        }
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(ConfigError::Invalid(format!(
                        "configmap \"{}\" not found",
                        r.name
                    )))
                }
            }
        }
        if let Some(r) = &source.secret_ref {
            match cache.secret(ns, &r.name).await? {
                Some(s) => {
                    for (k, v) in secret_data(&s) {
                        if valid_env_name(&format!("{prefix}{k}")) {
                            set(&mut env, format!("{prefix}{k}"), v);
                        }
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(ConfigError::Invalid(format!(
                        "secret \"{}\" not found",
                        r.name
                    )))
                }
            }
        }
    }

    for var in container.env.iter().flatten() {
        let value = if let Some(from) = &var.value_from {
            if let Some(r) = &from.config_map_key_ref {
                match cache.config_map(ns, &r.name).await? {
                    Some(cm) => match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
                        Some(v) => v.clone(),
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(ConfigError::Invalid(format!(
                                "couldn't find key {} in ConfigMap {ns}/{}",
                                r.key, r.name
                            )))
                        }
                    },
                    None if r.optional == Some(true) => continue,
                    None => {
                        return Err(ConfigError::Invalid(format!(
                            "configmap \"{}\" not found",
                            r.name
                        )))
                    }
                }
            } else if let Some(r) = &from.secret_key_ref {
                match cache.secret(ns, &r.name).await? {
                    Some(s) => match secret_data(&s).remove(&r.key) {
                        Some(v) => v,
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(ConfigError::Invalid(format!(
                                "couldn't find key {} in Secret {ns}/{}",
                                r.key, r.name
                            )))
                        }
                    },
                    None if r.optional == Some(true) => continue,
                    None => {
                        return Err(ConfigError::Invalid(format!(
                            "secret \"{}\" not found",
                            r.name
                        )))
                    }
                }
            } else if let Some(f) = &from.field_ref {
                field_value(facts, &f.field_path).map_err(ConfigError::Invalid)?
            } else if let Some(r) = &from.resource_field_ref {
                resource_value(facts, Some(container), r).map_err(ConfigError::Invalid)?
            } else {
                String::new()
            }
        } else {
            let defined: BTreeMap<String, String> = env.iter().cloned().collect();
            expand(var.value.as_deref().unwrap_or(""), |name: &str| {
                defined.get(name).or_else(|| service_env.get(name)).cloned()
            })
        };
        set(&mut env, var.name.clone(), value);
    }
    for (name, value) in service_env {
        if !env.iter().any(|(n, _)| *n == name) {
            env.push((name, value));
        }
    }
    Ok(env)
}

/// A Secret's data as text (values are bytes; invalid UTF-8 is replaced).
pub fn secret_data(s: &k8s_openapi::api::core::v1::Secret) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    for (k, v) in s.string_data.iter().flatten() {
        out.insert(k.clone(), v.clone());
    }
    out
}

/// C identifier-ish names are what a shell accepts; Kubernetes allows a
/// bit more (dots, dashes) but not `=` or an empty name.
fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('=')
        && !name.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Kubernetes' `$(VAR)` expansion: `$(NAME)` becomes the value if NAME is
/// defined and stays as written otherwise; `$$` is a literal `$`.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            match tail.find(')') {
                Some(end) => {
                    let name = &tail[..end];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &tail[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = tail;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A `fieldRef` value: the paths the downward API supports.
pub fn field_value(facts: &PodFacts<'_>, path: &str) -> Result<String, String> {
    let meta = &facts.pod.metadata;
    let spec = facts.pod.spec.clone().unwrap_or_default();
    let subscript = |prefix: &str| -> Option<String> {
        path.strip_prefix(prefix)?
            .strip_prefix("['")?
            .strip_suffix("']")
            .map(String::from)
    };
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec.node_name.unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.unwrap_or_default(),
        "status.podIP" | "status.podIPs" => facts.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.to_string(),
        _ => {
            if let Some(key) = subscript("metadata.labels") {
                meta.labels
                    .as_ref()
                    .and_then(|l| l.get(&key))
                    .cloned()
                    .unwrap_or_default()
            } else if let Some(key) = subscript("metadata.annotations") {
                meta.annotations
                    .as_ref()
                    .and_then(|a| a.get(&key))
                    .cloned()
                    .unwrap_or_default()
            } else {
                return Err(format!("unsupported fieldRef path {path:?}"));
            }
        }
    })
}

/// `key="value"` lines, sorted, as the downward API writes labels.
fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `resourceFieldRef` value: the container's limit or request divided by
/// the divisor and rounded up; a limit the container does not set is the
/// node's allocatable amount.
pub fn resource_value(
    facts: &PodFacts<'_>,
    container: Option<&Container>,
    selector: &ResourceFieldSelector,
) -> Result<String, String> {
    let container = match (&selector.container_name, container) {
        (Some(name), _) if !name.is_empty() => facts
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.iter().find(|c| &c.name == name))
            .ok_or_else(|| format!("container {name:?} not found in pod"))?,
        (_, Some(c)) => c,
        _ => return Err("resourceFieldRef needs a containerName".into()),
    };
    let resources = container.resources.clone().unwrap_or_default();
    let (kind, resource) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported resource {:?}", selector.resource))?;
    let amounts = match kind {
        "limits" => resources.limits,
        "requests" => resources.requests,
        _ => return Err(format!("unsupported resource {:?}", selector.resource)),
    };
    let quantity = amounts
        .as_ref()
        .and_then(|m| m.get(resource))
        .and_then(|q| Quantity::parse(&q.0).ok());
    let divisor = selector
        .divisor
        .as_ref()
        .and_then(|d| Quantity::parse(&d.0).ok())
        .filter(|d| !d.is_zero());
    match resource {
        "cpu" => {
            let millis = match (quantity, kind) {
                (Some(q), _) => q.millis(),
                (None, "limits") => facts.node_cpu_millis,
                (None, _) => 0,
            };
            let divisor = divisor.map_or(1000, |d| d.millis().max(1));
            Ok(((millis + divisor - 1) / divisor).to_string())
        }
        "memory" | "ephemeral-storage" => {
            let bytes = match (quantity, kind, resource) {
                (Some(q), _, _) => q.value(),
                (None, "limits", "memory") => facts.node_memory_bytes,
                _ => 0,
            };
            let divisor = divisor.map_or(1, |d| d.value().max(1));
            Ok(((bytes + divisor - 1) / divisor).to_string())
        }
        other => Err(format!("unsupported resource {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_like_kubernetes() {
        let lookup = |n: &str| match n {
            "A" => Some("1".to_string()),
            "B" => Some("two".to_string()),
            _ => None,
        };
        assert_eq!(expand("$(A)-$(B)", lookup), "1-two");
        assert_eq!(expand("$(MISSING) stays", lookup), "$(MISSING) stays");
        assert_eq!(expand("$$(A) escaped", lookup), "$(A) escaped");
        assert_eq!(expand("cost: $5 $(A", lookup), "cost: $5 $(A");
        assert_eq!(expand("", lookup), "");
    }

    #[test]
    fn resource_field_refs_round_up_and_fall_back_to_the_node() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web", "tier": "a"}},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}}}]}
        }))
        .unwrap();
        let facts = PodFacts {
            pod: &pod,
            pod_ip: "10.0.0.2",
            host_ip: "10.0.0.1",
            node_cpu_millis: 2000,
            node_memory_bytes: 1 << 30,
        };
        let c = &pod.spec.as_ref().unwrap().containers[0];
        let sel = |r: &str, d: Option<&str>| ResourceFieldSelector {
            container_name: None,
            resource: r.into(),
            divisor: d.map(|d| k8s_openapi::apimachinery::pkg::api::resource::Quantity(d.into())),
        };
        assert_eq!(
            resource_value(&facts, Some(c), &sel("limits.cpu", None)).unwrap(),
            "1"
        );
        assert_eq!(
            resource_value(&facts, Some(c), &sel("limits.cpu", Some("1m"))).unwrap(),
            "250"
        );
        assert_eq!(
            resource_value(&facts, Some(c), &sel("limits.memory", Some("1Mi"))).unwrap(),
            "64"
        );
        assert_eq!(
            resource_value(&facts, Some(c), &sel("requests.cpu", None)).unwrap(),
            "0"
        );
        assert_eq!(
            field_value(&facts, "metadata.labels['app']").unwrap(),
            "web"
        );
        assert_eq!(
            field_value(&facts, "metadata.labels").unwrap(),
            "app=\"web\"\ntier=\"a\""
        );
        assert_eq!(field_value(&facts, "status.podIP").unwrap(), "10.0.0.2");
    }
}
