//! URLs of the Kubernetes REST API: a resource's path
//! (`/apis/apps/v1/namespaces/default/deployments/web/scale`), query
//! strings, and the Accept header kubectl sends for server-side Tables.
//! Pure string building, so `get`, `scale`, `cluster up` and the watches
//! all spell paths the same way.

use minik_api::ResourceInfo;

/// kubectl's Accept header for `get`: a Table, falling back to plain JSON.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// The URL path of a resource collection or object (and subresource).
pub fn resource_path(
    info: &ResourceInfo,
    ns: Option<&str>,
    name: Option<&str>,
    sub: Option<&str>,
) -> String {
    let mut p = info.gv_path();
    if info.namespaced {
        if let Some(ns) = ns {
            p.push_str("/namespaces/");
            p.push_str(ns);
        }
    }
    p.push('/');
    p.push_str(info.plural);
    if let Some(n) = name {
        p.push('/');
        p.push_str(n);
    }
    if let Some(s) = sub {
        p.push('/');
        p.push_str(s);
    }
    p
}

/// `?k=v&...`, percent-encoded; empty without parameters.
pub fn encode_query(params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// Percent-encodes a query parameter value.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
