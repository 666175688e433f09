//! Turning what the user typed (`po`, `deploy,svc`, `pod/web`, `all`) into
//! served resources — kubectl's RESTMapper plus `resource.Builder`'s
//! argument rules.
//!
//! minik serves the kinds in `minik_api::catalogue` plus those its
//! CustomResourceDefinitions add: the compiled-in catalogue is the mapping
//! for the first, and the cluster's CRDs (read once per command by
//! [`load_custom`], turned into resources as the API server turns them)
//! for the second; `miniktl api-resources` asks the server's discovery
//! instead, to show what is really served.

use minik_api::catalogue;
use minik_api::ResourceInfo;

use crate::error::{Error, Result};

/// One resource type with the object names asked for (empty: all of them).
#[derive(Debug, Clone)]
pub struct Selection {
    pub info: &'static ResourceInfo,
    pub names: Vec<String>,
    /// The namespace the names live in, when it is not `-n`'s (`get -f`
    /// with manifests that name their namespace).
    pub namespace: Option<String>,
}

/// The parsed resource arguments of `get`, `describe`, `delete`, ...
#[derive(Debug, Clone)]
pub struct Selections {
    pub items: Vec<Selection>,
    /// kubectl's `MultipleTypesRequested`: `all`, `a,b`, or `a/x b/y` with
    /// different types. Tables then prefix names with `kind.group/`.
    pub multiple_types: bool,
    /// The args named objects (`pod/x` or `pod x`), rather than whole collections.
    pub named: bool,
}

/// The resources the cluster's CRDs add, as far as this process has read
/// them (added to, never dropped: tests run several clusters in one process).
static CUSTOM: std::sync::RwLock<Vec<&'static ResourceInfo>> = std::sync::RwLock::new(Vec::new());

/// Reads the cluster's CustomResourceDefinitions so that their kinds
/// resolve like built-in ones; best effort (a command that needs the
/// server reports it when it cannot reach it).
pub async fn load_custom(ctx: &crate::Ctx) {
    let Some(info) = catalogue::lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return;
    };
    let Ok(crds) = ctx.list(info, None, None, None).await else {
        return;
    };
    let mut custom = CUSTOM.write().expect("custom resources lock");
    for crd in &crds {
        for r in minik_api::custom_resource::resources_of(crd) {
            if !custom.iter().any(|c| std::ptr::eq(*c, r)) {
                custom.push(r);
            }
        }
    }
}

fn custom() -> Vec<&'static ResourceInfo> {
    CUSTOM.read().expect("custom resources lock").clone()
}

/// Resolves one type name (`po`, `pods`, `Pod`, `deployments.apps`,
/// `websites`, `websites.example.com`).
pub fn resolve(name: &str) -> Result<&'static ResourceInfo> {
    catalogue::resolve(name)
        .or_else(|| catalogue::resolve_among(custom(), name))
        .ok_or_else(|| unknown_type(name))
}

/// The resource of an object's `apiVersion` and `kind`, built-in or custom.
pub fn by_api_version_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    catalogue::by_api_version_kind(api_version, kind).or_else(|| {
        custom()
            .into_iter()
            .find(|r| r.api_version() == api_version && r.kind == kind)
    })
}

/// The error for a resource type the server does not have.
pub fn unknown_type(name: &str) -> Error {
    Error::UnknownKind {
        what: format!("the server doesn't have a resource type \"{name}\""),
        served: served_types(),
    }
}

/// The error for a manifest whose kind is not served.
pub fn unknown_kind(kind: &str, api_version: &str, origin: &str) -> Error {
    Error::UnknownKind {
        what: format!(
            "resource mapping not found for {origin}: no matches for kind \"{kind}\" in version \"{api_version}\""
        ),
        served: catalogue::served_kinds().join(", "),
    }
}

/// `pods (po), services (svc), ...`, one entry per plural.
pub fn served_types() -> String {
    let mut seen: Vec<String> = Vec::new();
    for r in catalogue::all() {
        let entry = match r.short_names.first() {
            Some(s) => format!("{} ({s})", r.qualified_plural()),
            None => r.qualified_plural(),
        };
        if !seen.contains(&entry) {
            seen.push(entry);
        }
    }
    seen.join(", ")
}

/// The resources in the `all` category, in discovery order (one version each).
pub fn category_all() -> Vec<&'static ResourceInfo> {
    let mut out: Vec<&'static ResourceInfo> = Vec::new();
    for r in catalogue::all() {
        if r.categories.contains(&"all")
            && !out.iter().any(|o| o.kind == r.kind && o.group == r.group)
        {
            out.push(r);
        }
    }
    out
}

/// Parses `get`-style arguments: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.
pub fn parse_args(args: &[String]) -> Result<Selections> {
    let Some(first) = args.first() else {
        return Err(Error::Usage(
            "You must specify the type of resource to get. Use \"miniktl api-resources\" for a complete list of supported resources."
                .into(),
        ));
    };
    if args.iter().all(|a| a.contains('/')) {
        let mut items: Vec<Selection> = Vec::new();
        for a in args {
            let (t, n) = a.split_once('/').expect("checked");
            if n.is_empty() {
                return Err(Error::Usage(format!(
                    "arguments in resource/name form must have a single resource and name: {a}"
                )));
            }
            let info = resolve(t)?;
            match items.iter_mut().find(|s| std::ptr::eq(s.info, info)) {
                Some(s) => s.names.push(n.to_string()),
                None => items.push(Selection {
                    info,
                    names: vec![n.to_string()],
                    namespace: None,
                }),
            }
        }
        let multiple_types = items.len() > 1;
        return Ok(Selections {
            items,
            multiple_types,
            named: true,
        });
    }
    if args.iter().skip(1).any(|a| a.contains('/')) || first.contains('/') {
        return Err(Error::Usage(
            "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'miniktl get resource/<resource_name>' instead of 'miniktl get resource resource/<resource_name>'"
                .into(),
        ));
    }
    let names: Vec<String> = args[1..].to_vec();
    let mut items: Vec<Selection> = Vec::new();
    let mut multiple_types = false;
    let types: Vec<&str> = first.split(',').filter(|t| !t.is_empty()).collect();
    if types.len() > 1 {
        multiple_types = true;
    }
    for t in types {
        if t == "all" {
            multiple_types = true;
            for info in category_all() {
                if !items.iter().any(|s| std::ptr::eq(s.info, info)) {
                    items.push(Selection {
                        info,
                        names: names.clone(),
                        namespace: None,
                    });
                }
            }
            continue;
        }
        let info = resolve(t)?;
        if !items.iter().any(|s| std::ptr::eq(s.info, info)) {
            items.push(Selection {
                info,
                names: names.clone(),
                namespace: None,
            });
        }
    }
    Ok(Selections {
        items,
        multiple_types,
        named: !names.is_empty(),
    })
}

/// `deployment.apps`, `pod`: how kubectl names a kind in `kind/name` output.
pub fn kind_prefix(info: &ResourceInfo) -> String {
    let kind = info.kind.to_ascii_lowercase();
    if info.group.is_empty() {
        kind
    } else {
        format!("{kind}.{}", info.group)
    }
}

/// The one object a command like `edit` or `expose` acts on, given as
/// `TYPE NAME` or `TYPE/NAME`.
pub fn one_target(args: &[String], command: &str) -> Result<(&'static ResourceInfo, String)> {
    match args {
        [one] => type_and_name(one, None),
        [t, n] => Ok((resolve(t)?, n.clone())),
        _ => Err(Error::Usage(format!(
            "{command} takes TYPE NAME or TYPE/NAME (e.g. deployment/web)"
        ))),
    }
}

/// Splits `TYPE/NAME` (or a bare `NAME` with a default type).
pub fn type_and_name(
    arg: &str,
    default_type: Option<&str>,
) -> Result<(&'static ResourceInfo, String)> {
    match arg.split_once('/') {
        Some((t, n)) => Ok((resolve(t)?, n.to_string())),
        None => match default_type {
            Some(t) => Ok((resolve(t)?, arg.to_string())),
            None => Err(Error::Usage(format!(
                "arguments must be in resource/name form or a type and a name: {arg}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_kubectl_argument_forms() {
        let s = parse_args(&args(&["po"])).unwrap();
        assert_eq!(s.items.len(), 1);
        assert!(!s.multiple_types && !s.named);

        let s = parse_args(&args(&["deploy,svc"])).unwrap();
        assert_eq!(s.items[0].info.kind, "Deployment");
        assert_eq!(s.items[1].info.kind, "Service");
        assert!(s.multiple_types);

        let s = parse_args(&args(&["pod/a", "svc/b", "pod/c"])).unwrap();
        assert_eq!(s.items[0].names, vec!["a", "c"]);
        assert!(s.multiple_types && s.named);

        let s = parse_args(&args(&["all"])).unwrap();
        let kinds: Vec<&str> = s.items.iter().map(|s| s.info.kind).collect();
        assert_eq!(&kinds[..2], &["Pod", "Service"]);
        assert!(kinds.contains(&"Deployment"));
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == "HorizontalPodAutoscaler")
                .count(),
            1
        );

        let e = parse_args(&args(&["frobs"])).unwrap_err();
        assert!(e
            .to_string()
            .contains("doesn't have a resource type \"frobs\""));
        assert!(e.to_string().contains("deployments.apps (deploy)"));
    }

    #[test]
    fn kind_prefixes_carry_the_group() {
        assert_eq!(kind_prefix(resolve("deploy").unwrap()), "deployment.apps");
        assert_eq!(kind_prefix(resolve("svc").unwrap()), "service");
    }
}
